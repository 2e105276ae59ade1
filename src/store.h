/*
 * store: the storage interface.  One table of operations, one backend per
 * file (store_sqlite.c, store_pg.c), chosen by the --db URL.  Nothing
 * above this header includes a database library's header.
 *
 * A write of sendinvoice is a unit of work (struct store_unit): the checked
 * invoices of one request.  The backend decides each invoice's outcome
 * (accepted with a serial, 0002 already listed, 0012 exhausted), calls the
 * unit's render callback to make the response bytes, and commits invoices,
 * VA numbers and response in one durable transaction.  Races are decided by
 * unique constraints: (community, doc_no), (bank, va_number),
 * (community, rq_uuid).  commit_units takes several units so a writer
 * thread can later group-commit them, each in its own savepoint.
 */
#ifndef VABILL_STORE_H
#define VABILL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "fields.h"
#include "limits.h"

#define STORE_HASH_LEN 32

struct store_bank {
    char bank_code[LIMIT_BANK_CODE + 1];
    char prefix[LIMIT_PREFIX + 1];
};

struct store_community {
    int64_t id;
    char code[LIMIT_COMM_CODE + 1];
    char ccy[LIMIT_CCY + 1];
    char key[LIMIT_KEY + 1]; /* secret: wiped by store_community_wipe */
    /* the key before the last rotation, still accepted until old_key_until
     * (UTC seconds; 0: not at all); "" when none */
    char old_key[LIMIT_KEY + 1];
    int64_t old_key_until;
    int va_length;
    int va_ttl_min;
    bool enabled;
    int64_t next_serial;
    char notify_url[LIMIT_URL + 1]; /* "" when the partner takes no notifications */
    bool partial_payments;
    size_t nbanks;
    struct store_bank banks[LIMIT_BANKS]; /* ascending bank_code */
};

/* A bank that sends inquiries and payments (SPEC 5.1, 5.2). */
struct store_bankinfo {
    char bank_code[LIMIT_BANK_CODE + 1];
    char key[LIMIT_KEY + 1]; /* secret: wipe with OPENSSL_cleanse */
    char name[LIMIT_BANK_NAME + 1];
};

/* An invoice as seen through one of its VA numbers. */
struct store_va_view {
    int64_t invoice_id;
    int64_t comm_id;
    char comm_code[LIMIT_COMM_CODE + 1];
    char ccy[LIMIT_CCY + 1];
    bool partial_payments;
    char doc_no[LIMIT_DOC_NO + 1];
    char member_name[LIMIT_MEMBER_NAME * 4 + 1]; /* UTF-8; "" when absent */
    char description[LIMIT_DESCRIPTION * 4 + 1];
    char status[8]; /* open, paid, closed (expiry is derived) */
    int64_t amount, outstanding;
    int64_t expires_at;
};

/* A payment to apply (SPEC 5.2): one transaction with the invoice update,
 * the payment row, the stored answer and the notification to send. */
enum store_pay_status {
    PAY_COMMITTED, /* applied; response holds the answer */
    PAY_REPLAY,    /* the same payment was applied before: response holds its answer */
    PAY_CONFLICT,  /* this payment_ref was used for another VA or amount (0019) */
    PAY_REFUSED,   /* refused with refused_code; nothing stored */
    PAY_FAILED,    /* nothing stored; err says why */
};

struct store_payment {
    /* in */
    const char *bank_code;
    const char *va_number;
    const char *payment_ref;
    size_t payment_ref_len;
    int64_t amount;
    const char *rq_uuid;
    size_t rq_uuid_len;
    int64_t now; /* UTC seconds */
    enum vb_err (*render)(struct store_payment *p, struct buf *out);
    void *render_ctx;
    /* out */
    enum store_pay_status status;
    const char *refused_code;
    struct store_va_view inv; /* the invoice before the payment */
    int64_t outstanding_after;
    enum vb_err err;
    struct buf response;
};

/* One payment of an invoice, for checkstatus. */
struct store_payment_row {
    char payment_ref[LIMIT_PAYMENT_REF + 1];
    char bank_code[LIMIT_BANK_CODE + 1];
    char va_number[LIMIT_VA_LENGTH_MAX + 1];
    int64_t amount;
    int64_t paid_at;
};

/* A notification to deliver, or as listed. */
struct store_notification {
    int64_t id;
    char status[12]; /* pending, delivered, failed */
    int attempts;
    int64_t next_at_ms;
    char last_error[256];
    char url[LIMIT_URL + 1];
    char comm_code[LIMIT_COMM_CODE + 1];
    char key[LIMIT_KEY + 1]; /* the community's, to sign; "" in lists */
    char doc_no[LIMIT_DOC_NO + 1];
    int64_t invoice_id;
    char bank_code[LIMIT_BANK_CODE + 1];
    char va_number[LIMIT_VA_LENGTH_MAX + 1];
    char payment_ref[LIMIT_PAYMENT_REF + 1];
    int64_t payment_id;
    int64_t amount;      /* this payment */
    int64_t paid_total;  /* the invoice's, after this payment */
    int64_t outstanding; /* after this payment */
};

/* What happened to one invoice of a unit. */
enum store_outcome {
    OUT_REFUSED,   /* its fields failed (invoice.fail); the store did nothing */
    OUT_ACCEPTED,  /* stored with id and serial */
    OUT_LISTED,    /* 0002: the community already has this doc_no */
    OUT_EXHAUSTED, /* 0012: no serial left */
};

struct store_result {
    enum store_outcome outcome;
    int64_t id; /* invoice id (doc_ref_no is derived from it) */
    int64_t serial;
};

enum store_unit_status {
    UNIT_COMMITTED, /* stored; response holds the rendered answer */
    UNIT_REPLAY,    /* the rq_uuid was already processed with this payload: response holds it */
    UNIT_CONFLICT,  /* the rq_uuid was already processed with another payload (0010) */
    UNIT_FAILED,    /* nothing stored; err says why */
};

struct store_unit {
    /* in */
    const struct store_community *comm;
    const char *rq_uuid;
    size_t rq_uuid_len;
    unsigned char payload_hash[STORE_HASH_LEN];
    int64_t now; /* accepted-at, UTC seconds */
    const struct invoice *inv;
    size_t n;
    /* renders the answer once outcomes are known; ERR_OK or a failure */
    enum vb_err (*render)(struct store_unit *u, struct buf *out);
    void *render_ctx;
    /* out */
    struct store_result *res; /* n entries, caller-allocated */
    enum store_unit_status status;
    enum vb_err err;
    struct buf response;
};

/* An invoice as stored, for `invoice show` and later status services. */
struct store_invoice {
    int64_t id;
    char comm_code[LIMIT_COMM_CODE + 1];
    char *doc_no;
    char *member_code;
    char *member_name; /* NULL when absent */
    int64_t amount, total_amount, installment_amount, balance_payment_amount;
    bool has_balance;
    int number_of_installment, billing_date;
    char *description; /* NULL when absent */
    char status[8];    /* open, paid, closed */
    int64_t outstanding;
    int64_t accepted_at, expires_at; /* UTC seconds */
    char *rq_uuid;
    int64_t serial;
    size_t nva;
    struct store_va {
        char bank_code[LIMIT_BANK_CODE + 1];
        char va_number[LIMIT_VA_LENGTH_MAX + 1];
    } va[LIMIT_BANKS];
};

/* ---- operators, the console and reports (issue 9) ---- */

/* An operator of the console and admin API.  Only a hash of the token is
 * kept (STORE_HASH_LEN bytes of SHA-256). */
struct store_operator {
    char name[LIMIT_OPERATOR_NAME + 1];
    int64_t created_at; /* UTC seconds */
};

/* A console session: the store keeps a hash of the cookie's value. */
struct store_session {
    char operator_name[LIMIT_OPERATOR_NAME + 1];
    char csrf[LIMIT_CSRF_TOKEN + 1]; /* the anti-CSRF token handed out at login */
    int64_t expires_at;              /* UTC seconds */
};

/* One payment for the reconciliation report. */
struct store_report_payment {
    int64_t id;
    int64_t paid_at; /* UTC seconds */
    char comm_code[LIMIT_COMM_CODE + 1];
    int64_t invoice_id; /* doc_ref_no is derived from it */
    char doc_no[LIMIT_DOC_NO + 1];
    char bank_code[LIMIT_BANK_CODE + 1];
    char va_number[LIMIT_VA_NUMBER_DIGITS + 1];
    char payment_ref[LIMIT_PAYMENT_REF + 1];
    int64_t amount, outstanding_after;
};

/* Which payments: paid_at in [from, to) (UTC seconds); comm_code and
 * bank_code NULL for all. */
struct store_payment_filter {
    int64_t from, to;
    const char *comm_code;
    const char *bank_code;
};

/* An invoice in a list. */
struct store_invoice_row {
    int64_t id;
    char comm_code[LIMIT_COMM_CODE + 1];
    char doc_no[LIMIT_DOC_NO + 1];
    char member_code[LIMIT_MEMBER_CODE + 1];
    char member_name[LIMIT_MEMBER_NAME * 4 + 1]; /* UTF-8; "" when absent */
    int64_t amount, outstanding;
    char status[8]; /* open, paid, closed as stored (expiry: expires_at < now) */
    int64_t accepted_at, expires_at;
};

/* Which invoices, newest (highest id) first.  Every field is optional. */
struct store_invoice_filter {
    /* an exact doc_no, VA number (any bank) or member_code; NULL: any */
    const char *q;
    const char *comm_code;
    /* "open" (open and not expired at now), "expired" (open, expires_at <
     * now), "paid", "closed"; NULL: any */
    const char *status;
    int64_t now;
    int64_t from, to;  /* accepted_at in [from, to); to == 0: no bound */
    int64_t before_id; /* keyset paging: only ids below it; 0: from the newest */
    size_t limit;      /* 0: no limit */
};

/* Counts for the console's overview. */
struct store_overview {
    /* invoices accepted in [day_from, day_to), by their status at now */
    int64_t accepted, open, expired, paid, closed;
    /* payments made in [day_from, day_to) */
    int64_t payments, paid_amount;
    int64_t notifications_pending, notifications_failed; /* all of them */
};

/* One delivery attempt of a notification. */
struct store_ntf_attempt {
    int64_t notification_id;
    int64_t at_ms;
    bool delivered;
    char error[256]; /* "" when delivered */
};

/* Called once per row; a non-zero return stops the listing and is returned
 * by the operation as ERR_INVALID. */
typedef int (*store_payment_cb)(void *ctx, const struct store_report_payment *row);
typedef int (*store_invoice_cb)(void *ctx, const struct store_invoice_row *row);

struct store;

struct store_ops {
    const char *name;
    /* Opens (creating and migrating the schema) the store at target; on
     * failure writes a reason for the operator into why[0..whylen). */
    enum vb_err (*open)(const char *target, struct store **out, char *why, size_t whylen);
    void (*close)(struct store *s);
    /* ERR_OK while the store answers. */
    enum vb_err (*ping)(struct store *s);
    /* The community with this code (enabled or not), ERR_NOTFOUND if none. */
    enum vb_err (*community_get)(struct store *s, const char *code, struct store_community *out);
    /* Adds c (id, next_serial ignored).  ERR_EXISTS, ERR_COLLIDE. */
    enum vb_err (*community_add)(struct store *s, const struct store_community *c);
    /* All communities in code order; *out is the caller's (free()), keys wiped. */
    enum vb_err (*community_list)(struct store *s, struct store_community **out, size_t *n);
    enum vb_err (*community_set_enabled)(struct store *s, const char *code, bool enabled);
    /* Rotates the community's key: key becomes current, the current one is
     * kept as old_key, accepted until old_key_until (0: at once refused). */
    enum vb_err (*community_set_key)(struct store *s, const char *code, const char *key,
                                     int64_t old_key_until);
    /* The stored answer of (community, rq_uuid): ERR_NOTFOUND if none. */
    enum vb_err (*request_get)(struct store *s, int64_t comm_id, const char *rq_uuid, size_t n,
                               unsigned char hash[STORE_HASH_LEN], struct buf *response);
    /* Applies units; each ends with its own status. ERR_OK unless the whole
     * batch failed (then every unit is UNIT_FAILED). */
    enum vb_err (*commit_units)(struct store *s, struct store_unit **units, size_t n);
    enum vb_err (*invoice_get)(struct store *s, const char *comm_code, const char *doc_no,
                               size_t doc_no_len, struct store_invoice **out);

    /* ---- SPEC 5 ---- */
    enum vb_err (*bank_add)(struct store *s, const struct store_bankinfo *b); /* ERR_EXISTS */
    enum vb_err (*bank_get)(struct store *s, const char *bank_code, struct store_bankinfo *out);
    /* The invoice behind (bank_code, va_number); ERR_NOTFOUND. */
    enum vb_err (*va_find)(struct store *s, const char *bank_code, const char *va_number,
                           struct store_va_view *out);
    /* A remembered payment: its VA, amount and answer; ERR_NOTFOUND. */
    enum vb_err (*payment_get)(struct store *s, const char *bank_code, const char *payment_ref,
                               size_t ref_len, char va_number[LIMIT_VA_NUMBER_DIGITS + 1],
                               int64_t *amount, struct buf *response);
    /* Applies p (see struct store_payment); ERR_OK unless p->status is PAY_FAILED. */
    enum vb_err (*payment_apply)(struct store *s, struct store_payment *p);
    /* The payments of an invoice in payment order; *out is the caller's (free()). */
    enum vb_err (*invoice_payments)(struct store *s, int64_t invoice_id,
                                    struct store_payment_row **out, size_t *n);
    /* Closes an open (or expired) invoice; *code is NULL when it is now
     * closed (or already was), "0015" when it is paid.  ERR_NOTFOUND. */
    enum vb_err (*invoice_close)(struct store *s, const char *comm_code, const char *doc_no,
                                 size_t doc_no_len, int64_t now, const char **code);
    /* Claims the next due notification (leased until now_ms + lease_ms), the
     * oldest undelivered one of its invoice; ERR_NOTFOUND when none is due. */
    enum vb_err (*notify_claim)(struct store *s, int64_t now_ms, int64_t lease_ms,
                                struct store_notification *out);
    /* Records an attempt: delivered, or the next attempt at next_at_ms, or
     * failed for good when next_at_ms < 0. */
    enum vb_err (*notify_finish)(struct store *s, int64_t id, bool delivered, int64_t next_at_ms,
                                 const char *error, int64_t now_ms);
    /* Notifications in id order (failed ones only when failed_only). */
    enum vb_err (*notify_list)(struct store *s, bool failed_only, struct store_notification **out,
                               size_t *n);

    /* ---- operators, sessions, the console and reports (issue 9) ---- */
    /* ERR_EXISTS when the name is taken. */
    enum vb_err (*operator_add)(struct store *s, const char *name,
                                const unsigned char token_hash[STORE_HASH_LEN], int64_t now);
    /* All operators in name order; *out is the caller's (free()). */
    enum vb_err (*operator_list)(struct store *s, struct store_operator **out, size_t *n);
    /* Removes the operator and ends its sessions; ERR_NOTFOUND. */
    enum vb_err (*operator_remove)(struct store *s, const char *name);
    /* The operator whose token hashes to token_hash; ERR_NOTFOUND. */
    enum vb_err (*operator_find)(struct store *s, const unsigned char token_hash[STORE_HASH_LEN],
                                 struct store_operator *out);
    /* Keeps a session (the hash of its cookie value) for an operator. */
    enum vb_err (*session_add)(struct store *s, const unsigned char id_hash[STORE_HASH_LEN],
                               const struct store_session *sess);
    /* The live session: ERR_NOTFOUND when unknown, expired at now, or its
     * operator was removed. */
    enum vb_err (*session_get)(struct store *s, const unsigned char id_hash[STORE_HASH_LEN],
                               int64_t now, struct store_session *out);
    /* Ends a session (no error when there is none); also drops every
     * session expired at now. */
    enum vb_err (*session_remove)(struct store *s, const unsigned char id_hash[STORE_HASH_LEN],
                                  int64_t now);
    /* Payments matching f in (paid_at, id) order, one call of row each. */
    enum vb_err (*report_payments)(struct store *s, const struct store_payment_filter *f,
                                   store_payment_cb row, void *ctx);
    /* Invoices matching f, newest first, one call of row each. */
    enum vb_err (*invoice_search)(struct store *s, const struct store_invoice_filter *f,
                                  store_invoice_cb row, void *ctx);
    enum vb_err (*overview)(struct store *s, int64_t day_from, int64_t day_to, int64_t now,
                            struct store_overview *out);
    /* The notifications of an invoice in id order (key ""), and every
     * attempt of them in time order; both arrays are the caller's (free()). */
    enum vb_err (*invoice_notifications)(struct store *s, int64_t invoice_id,
                                         struct store_notification **ntf, size_t *nntf,
                                         struct store_ntf_attempt **att, size_t *natt);
    /* A failed notification goes back to pending, due at now_ms, with its
     * attempts kept; ERR_NOTFOUND when there is no failed one with this id. */
    enum vb_err (*notify_retry)(struct store *s, int64_t id, int64_t now_ms);
};

/* Every backend's handle starts with this. */
struct store {
    const struct store_ops *ops;
    char errmsg[256]; /* the backend's text for the last failure: logs only */
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* Opens the store named by a --db URL: a path, sqlite:PATH, or
 * postgresql://... (postgres://...)  ERR_INVALID for a URL no backend takes. */
enum vb_err store_open(const char *url, struct store **out, char *why, size_t whylen);
void store_close(struct store *s);

/* The URL from --db, else VABILL_DB, else ./vabill.db. */
const char *store_default_url(const char *given);

void store_community_wipe(struct store_community *c);

/* SPEC 5.1/5.2: why an invoice seen through its VA takes no payment at
 * time now ("0015" paid, "0016" closed, "0017" expired), or NULL. */
const char *store_va_refusal(const struct store_va_view *v, int64_t now);

/* The same, then the amount of p against the outstanding one ("0018"). */
const char *store_payment_refusal(const struct store_payment *p);

/* The keys a request signed by the community may use at time now: the
 * current one, and the previous one during its grace period.  Returns how
 * many (1 or 2) were put in keys[]. */
int store_community_keys(const struct store_community *c, int64_t now, const char *keys[2]);
void store_invoice_free(struct store_invoice *inv);

/* "VB" + 13 digits. out has room for LIMIT_DOC_REF_NO + 1 bytes. */
void store_doc_ref_no(int64_t id, char *out);

#endif
