/*
 * limits: every bound vabill enforces, in one place, with its unit and reason.
 * SPEC numbers and code numbers can be compared here at a glance.
 */
#ifndef VABILL_LIMITS_H
#define VABILL_LIMITS_H

/* Request body, bytes: SPEC 1.4 step 1 default; --max-body overrides. */
#define LIMIT_BODY_DEFAULT (4L * 1024 * 1024)
/* Largest --max-body accepted, bytes: keeps one request's memory bounded. */
#define LIMIT_BODY_MAX (64L * 1024 * 1024)

/* JSON nesting, values: a value inside more than LIMIT_JSON_DEPTH - 1
 * objects or arrays is refused (0003).  jansson's JSON_PARSER_MAX_DEPTH,
 * kept when json.c stopped using jansson so what counts as JSON stayed the
 * same; also bounds the work any one value can cause. */
#define LIMIT_JSON_DEPTH 2048

/* Invoices per request: SPEC 1.1 / 1.4 step 10. */
#define LIMIT_INVOICES 500

/* Request field lengths, characters (SPEC 1.1). */
#define LIMIT_RQ_UUID               255
#define LIMIT_RQ_DATETIME           19
#define LIMIT_COMM_CODE             32
#define LIMIT_CCY                   3
#define LIMIT_TOTAL_INVOICES_DIGITS 3

/* Invoice field lengths, characters (SPEC 1.3). */
#define LIMIT_DOC_NO              32
#define LIMIT_MEMBER_CODE         32
#define LIMIT_MEMBER_NAME         100
#define LIMIT_DESCRIPTION         100
#define LIMIT_INSTALLMENTS        999
#define LIMIT_INSTALLMENT_DIGITS  3
#define LIMIT_BILLING_DATE_DIGITS 2

/* Money, hundredths: 999999999999999.99 (SPEC 1.3); 15 integer digits. */
#define LIMIT_MONEY_HUNDREDTHS 99999999999999999LL
#define LIMIT_MONEY_INT_DIGITS 15

/* doc_ref_no, characters (SPEC 1.6): "VB" + 13 digits = 15 <= 50. */
#define LIMIT_DOC_REF_NO 50

/* VA numbers (SPEC 2). */
#define LIMIT_BANK_CODE         3
#define LIMIT_PREFIX            12
#define LIMIT_VA_LENGTH_MIN     10
#define LIMIT_VA_LENGTH_MAX     23
#define LIMIT_VA_LENGTH_DEFAULT 16
/* Bank channels per community: more than any real community has (Indonesia
 * has a few dozen VA banks); bounds the per-invoice VA work. */
#define LIMIT_BANKS 32
/* VA lifetime, minutes: default 30 days (SPEC 2); at most 10 years. */
#define LIMIT_VA_TTL_DEFAULT 43200
#define LIMIT_VA_TTL_MAX     (10L * 366 * 24 * 60)

/* SPEC 5: a VA number as a bank sends it (longer than any VA length, so a
 * bank's typo is 0014, not a format error); the bank's payment reference. */
#define LIMIT_VA_NUMBER_DIGITS 32
#define LIMIT_PAYMENT_REF      64
/* A bank's display name, bytes. */
#define LIMIT_BANK_NAME 100
/* A partner's notification URL, bytes. */
#define LIMIT_URL 2048

/* Signature key, bytes: printable ASCII, long enough for any real key. */
#define LIMIT_KEY 255

/* Clock skew, seconds: SPEC 1.4 step 7 default; 0 turns the check off. */
#define LIMIT_CLOCK_SKEW_DEFAULT 900
#define LIMIT_CLOCK_SKEW_MAX     (7L * 24 * 3600)

/* HTTP server. */
/* Simultaneous connections: beyond this, new ones are refused at accept. */
#define LIMIT_CONNECTIONS 1024
/* Idle seconds before a connection is closed (keep-alive or stalled client). */
#define LIMIT_CONN_IDLE_SECONDS 30
/* Seconds a connection may go without completing a request (headers and
 * body arriving), default of --request-timeout: libmicrohttpd's timeout is
 * an idle one, so a client trickling a byte at a time would otherwise hold a
 * connection slot for ever. */
#define LIMIT_REQUEST_SECONDS 60
/* Worker threads: default and maximum. */
#define LIMIT_THREADS_DEFAULT 4
#define LIMIT_THREADS_MAX     256
/* Seconds SIGTERM waits for requests in flight before closing anyway. */
#define LIMIT_DRAIN_SECONDS 30

/* Units of work (requests) committed together in one SQLite transaction
 * and fsync (group commit): enough to cover every thread's request. */
#define LIMIT_GROUP_UNITS 64

/* SQLite WAL pages after a commit that wake the background checkpointer
 * (SQLite's own default threshold), and past which the committing
 * connection checkpoints what is left itself (only when the checkpointer
 * falls behind), so that the WAL (16 MiB at most, give or take a group)
 * starts over. */
#define LIMIT_WAL_CHECKPOINT_PAGES 1000
#define LIMIT_WAL_INLINE_PAGES     4000

/* SQLite page cache of the one connection that commits every group (KiB;
 * the others keep SQLite's 2 MiB).  It keeps the upper levels of the
 * invoice indexes: on a 5-million-invoice database 16 MiB instead of 2
 * gave about 5% more accepted invoices a second, for ~15 MiB of RSS. */
#define LIMIT_WRITER_CACHE_KIB 16384

/* Storage: milliseconds a transaction waits for a busy database before the
 * request answers 0099 (SPEC 1.4: "stays busy for more than a few seconds"). */
#define LIMIT_BUSY_MS 5000

/* PostgreSQL store: serials a server reserves from a community at once, so
 * servers sharing a database touch the community row once per block, not per
 * invoice (a restart leaves at most this many unused: gaps, never reuse). */
#define LIMIT_PG_SERIAL_BLOCK 1000

/* Console and admin API (issue 9). */
/* An operator's name: 1 to 64 of [A-Za-z0-9._-]. */
#define LIMIT_OPERATOR_NAME 64
/* Random bytes in an operator token, a session cookie and an anti-CSRF
 * token (each shown as 2 hex digits per byte). */
#define LIMIT_TOKEN_BYTES 32
#define LIMIT_CSRF_TOKEN  (2 * LIMIT_TOKEN_BYTES)
/* Seconds a console session lives after login. */
#define LIMIT_SESSION_SECONDS (8 * 3600)
/* Rows in one page of the console's invoice list, default and maximum. */
#define LIMIT_PAGE_DEFAULT 50
#define LIMIT_PAGE_MAX     500
/* Bytes of an admin API request body (a login holds one token). */
#define LIMIT_ADMIN_BODY (16 * 1024)
/* Bytes of one admin API answer; a payments report download over this is
 * refused with 413 (the command line streams any size). */
#define LIMIT_ADMIN_REPLY (64L * 1024 * 1024)

#endif
