/*
 * store_pg: the PostgreSQL backend of the storage interface, for several
 * vabilld servers side by side on one database.
 *
 * One connection per struct store (the http pool gives each worker its own);
 * a connection is used by one thread at a time.  Every SQL statement with
 * values is prepared once per connection (PQprepare) and run with bound
 * parameters; strings travel in binary format with their length, so no value
 * is ever formatted into SQL.  synchronous_commit is on: COMMIT returns only
 * once the WAL is flushed, so an answer never leaves before its data is
 * durable.  Only this file includes libpq-fe.h.
 *
 * Isolation: READ COMMITTED.  That is enough because no decision is taken
 * from a value read earlier in the transaction without a lock or a
 * constraint behind it:
 *   - one invoice per (community, doc_no): INSERT ... ON CONFLICT DO NOTHING
 *     on the unique key.  A concurrent uncommitted insert of the same doc_no
 *     makes the second insert wait for the first transaction; if that one
 *     commits, the second gets no row (0002), if it aborts, the second inserts.
 *   - one remembered answer per (community, rq_uuid): the unit's first
 *     statement inserts the request row (empty answer) ON CONFLICT DO NOTHING.
 *     A request racing its own retry on another server waits there, holding
 *     no other lock, until the first commits; then it reads the stored answer
 *     and replays it (or 0010).  The answer is written into the row at the end
 *     of the unit.
 *   - one VA per (bank, va_number): the primary key; serials are never handed
 *     out twice, and UNIQUE (community_id, serial) backs that.
 *   - payments: the invoice row is locked (SELECT ... FOR NO KEY UPDATE) before
 *     the payment_ref is looked up and the amount checked, so payments of one
 *     invoice are serialized and each sees the outstanding amount left by the
 *     one before; the guarded UPDATE (status = 'open' AND outstanding >= amount
 *     AND expires_at >= now) and CHECK (outstanding >= 0) back it.  The same
 *     payment_ref racing on two invoices is decided by the unique key
 *     (bank_code, payment_ref): the loser rolls back and answers 0019.
 *   - notifications: claimed with one UPDATE whose target is chosen by
 *     SELECT ... FOR UPDATE SKIP LOCKED, so two servers never lease one.
 *   - communities: `community add` runs SERIALIZABLE (its prefix check reads
 *     other communities' channels), retried on serialization failure.
 * Two transactions can still deadlock (two batches holding the same doc_nos
 * in opposite orders): PostgreSQL aborts one, and it is retried from the start
 * (so are serialization failures, for engines that run SERIALIZABLE anyway).
 *
 * Serials are reserved from community.next_serial in blocks (a short
 * transaction of its own, before the request's), so servers do not contend on
 * the community row for every invoice.  The blocks are kept per process and
 * URL, shared by every connection of the process: one server hands out dense
 * serials, several servers interleave their blocks.  A block is clipped to the
 * community's largest serial, so 0012 comes exactly when the serials run out.
 * A serial that a rolled-back transaction had used goes back to the block;
 * one whose fate is unknown (the connection died during COMMIT) is dropped:
 * gaps are allowed, reuse never.
 *
 * A lost connection (CONNECTION_BAD, SQLSTATE class 08, 57P01-57P03) fails
 * the operation with ERR_STORE (0099 / 503) and is re-established on the next
 * use.  Reads and BEGIN, which change nothing, are retried once on a fresh
 * connection, so a database restart costs only the requests that were inside
 * a transaction at the time; ping fails while the database is unreachable.
 */
#include "store.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_search.h"
#include "va.h"

/* Schema migrations: element k takes the schema from version k to k + 1,
 * numbered as in store_sqlite.c.  Plain SQL only (no triggers, functions,
 * extensions, arrays or JSON types): see docs/OPERATIONS.md. */
static const char *const migrations[] = {
    /* 1: communities, bank channels, invoices with their life, VA numbers,
     * remembered answers */
    "CREATE TABLE community ("
    " id BIGSERIAL PRIMARY KEY,"
    " code TEXT NOT NULL UNIQUE,"
    " sig_key TEXT NOT NULL,"
    " ccy TEXT NOT NULL,"
    " va_length INTEGER NOT NULL,"
    " va_ttl_min INTEGER NOT NULL,"
    " enabled BOOLEAN NOT NULL DEFAULT TRUE,"
    " next_serial BIGINT NOT NULL DEFAULT 1,"
    " created_at BIGINT NOT NULL);"
    "CREATE TABLE bank_channel ("
    " community_id BIGINT NOT NULL REFERENCES community(id),"
    " bank_code TEXT NOT NULL,"
    " prefix TEXT NOT NULL,"
    " PRIMARY KEY (community_id, bank_code));"
    "CREATE INDEX bank_channel_bank ON bank_channel(bank_code, prefix);"
    "CREATE TABLE invoice ("
    " id BIGSERIAL PRIMARY KEY,"
    " community_id BIGINT NOT NULL REFERENCES community(id),"
    " doc_no TEXT NOT NULL,"
    " member_code TEXT NOT NULL,"
    " member_name TEXT,"
    " amount BIGINT NOT NULL,"
    " total_amount BIGINT NOT NULL,"
    " number_of_installment INTEGER NOT NULL,"
    " installment_amount BIGINT NOT NULL,"
    " balance_payment_amount BIGINT,"
    " description TEXT,"
    " billing_date INTEGER NOT NULL,"
    " serial BIGINT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'closed')),"
    " outstanding BIGINT NOT NULL CHECK (outstanding >= 0),"
    " accepted_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " rq_uuid TEXT NOT NULL,"
    " UNIQUE (community_id, doc_no),"
    " UNIQUE (community_id, serial));"
    "CREATE TABLE va ("
    " bank_code TEXT NOT NULL,"
    " va_number TEXT NOT NULL,"
    " invoice_id BIGINT NOT NULL REFERENCES invoice(id),"
    " PRIMARY KEY (bank_code, va_number));"
    "CREATE INDEX va_invoice ON va(invoice_id);"
    "CREATE TABLE request ("
    " community_id BIGINT NOT NULL REFERENCES community(id),"
    " rq_uuid TEXT NOT NULL,"
    " payload_hash BYTEA NOT NULL,"
    " response BYTEA NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " PRIMARY KEY (community_id, rq_uuid));",
    /* 2: the rest of a VA's life (SPEC 5): banks, payments, the partner
     * notification outbox; community options for notifications and
     * partial payments */
    "ALTER TABLE community ADD COLUMN notify_url TEXT;"
    "ALTER TABLE community ADD COLUMN partial_payments BOOLEAN NOT NULL DEFAULT FALSE;"
    "ALTER TABLE invoice ADD COLUMN closed_at BIGINT;"
    "CREATE TABLE bank ("
    " bank_code TEXT PRIMARY KEY,"
    " sig_key TEXT NOT NULL,"
    " name TEXT,"
    " created_at BIGINT NOT NULL);"
    "CREATE TABLE payment ("
    " id BIGSERIAL PRIMARY KEY,"
    " bank_code TEXT NOT NULL,"
    " payment_ref TEXT NOT NULL,"
    " invoice_id BIGINT NOT NULL REFERENCES invoice(id),"
    " va_number TEXT NOT NULL,"
    " amount BIGINT NOT NULL CHECK (amount > 0),"
    " outstanding_after BIGINT NOT NULL CHECK (outstanding_after >= 0),"
    " paid_at BIGINT NOT NULL,"
    " rq_uuid TEXT NOT NULL,"
    " response BYTEA NOT NULL,"
    " UNIQUE (bank_code, payment_ref));"
    "CREATE INDEX payment_invoice ON payment(invoice_id, id);"
    "CREATE TABLE notification ("
    " id BIGSERIAL PRIMARY KEY,"
    " payment_id BIGINT NOT NULL UNIQUE REFERENCES payment(id),"
    " invoice_id BIGINT NOT NULL REFERENCES invoice(id),"
    " url TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'pending'"
    "  CHECK (status IN ('pending', 'delivered', 'failed')),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at BIGINT NOT NULL,"               /* milliseconds */
    " lease_until BIGINT NOT NULL DEFAULT 0," /* milliseconds */
    " last_error TEXT,"
    " created_at BIGINT NOT NULL,"
    " delivered_at BIGINT);"
    "CREATE INDEX notification_due ON notification(status, next_at);"
    "CREATE INDEX notification_invoice ON notification(invoice_id, id);",
    /* 3: key rotation with a grace period for the previous key */
    "ALTER TABLE community ADD COLUMN old_key TEXT;"
    " ALTER TABLE community"
    " ADD COLUMN old_key_until BIGINT NOT NULL DEFAULT 0;",
    /* 4: operators of the console and admin API, their sessions, the
     * delivery attempts of notifications, and the indexes of the console's
     * searches and reports (issue 9).  No index on va: a search by VA
     * number probes its primary key once per bank. */
    "CREATE TABLE operator ("
    " name TEXT PRIMARY KEY,"
    " token_hash BYTEA NOT NULL UNIQUE,"
    " created_at BIGINT NOT NULL);"
    "CREATE TABLE session ("
    " id_hash BYTEA PRIMARY KEY,"
    " operator_name TEXT NOT NULL,"
    " csrf TEXT NOT NULL,"
    " expires_at BIGINT NOT NULL);"
    "CREATE INDEX session_operator ON session(operator_name);"
    "CREATE TABLE notification_attempt ("
    " id BIGSERIAL PRIMARY KEY,"
    " notification_id BIGINT NOT NULL REFERENCES notification(id),"
    " at_ms BIGINT NOT NULL,"
    " delivered BOOLEAN NOT NULL,"
    " error TEXT);"
    "CREATE INDEX notification_attempt_ntf ON notification_attempt(notification_id);"
    "CREATE INDEX invoice_member ON invoice(member_code);"
    "CREATE INDEX invoice_accepted ON invoice(accepted_at, id);"
    /* paid and closed invoices only: a new invoice is open, so the
     * sendinvoice path never writes it */
    "CREATE INDEX invoice_settled ON invoice(status, id) WHERE status <> 'open';"
    "CREATE INDEX payment_paid ON payment(paid_at, id);",
    /* 5: nothing here.  SQLite's migration 5 rewrites its status CHECKs
     * from IN lists to comparisons, which cost it an ephemeral table per
     * row; PostgreSQL evaluates an IN list directly. */
    "SELECT 1",
    /* 6: nothing here either.  SQLite's migration 6 drops its va table and
     * derives VA numbers from channel and serial; PostgreSQL keeps its va
     * rows for now (the same lever would apply: docs/PERFORMANCE.md). */
    "SELECT 1",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* pg_advisory_xact_lock key of schema migrations: "vabill" in ASCII. */
#define MIGRATE_LOCK_KEY "127978711476588"

/* How often a transaction aborted by a deadlock or a serialization failure
 * is tried again before the request answers 0099. */
#define TXN_TRIES 5

/* A notification with what delivering it needs (columns read by read_ntf). */
#define NTF_SELECT                                                                                 \
    "SELECT n.id, n.status, n.attempts, n.next_at, coalesce(n.last_error, ''), n.url, c.code,"     \
    " c.sig_key, i.doc_no, i.id, p.bank_code, p.va_number, p.payment_ref, p.id, p.amount,"         \
    " i.amount - p.outstanding_after, p.outstanding_after FROM notification n"                     \
    " JOIN payment p ON p.id = n.payment_id JOIN invoice i ON i.id = n.invoice_id"                 \
    " JOIN community c ON c.id = i.community_id"

#define VA_SELECT                                                                                  \
    "SELECT i.id, c.id, c.code, c.ccy, c.partial_payments, i.doc_no,"                              \
    " coalesce(i.member_name, ''), coalesce(i.description, ''), i.status, i.amount,"               \
    " i.outstanding, i.expires_at FROM va v JOIN invoice i ON i.id = v.invoice_id"                 \
    " JOIN community c ON c.id = i.community_id"                                                   \
    " WHERE v.bank_code = $1 AND v.va_number = $2"

/*
 * The console's invoice search (invoice_search), as in store_sqlite.c.
 * Parameters: $1 q, $2 comm_code, $3 status, $4 now, $5 from, $6 to
 * (INT64_MAX: no bound), $7 the id every row is below, $8 limit (NULL:
 * none), $9 the lowest id that can match.  One statement per driver of
 * store_search.h; "+ 0" keeps an index from being used for the filters that
 * do not drive.  Every statement names every parameter (those
 * without q say $1 IS NULL), so all take the same list.
 */
#define INV_ROW                                                                                    \
    "SELECT i.id, c.code, i.doc_no, i.member_code, coalesce(i.member_name, ''), i.amount,"         \
    " i.outstanding, i.status, i.accepted_at, i.expires_at FROM invoice i"                         \
    " JOIN community c ON c.id = i.community_id"
#define INV_COMM_ANY                                                                               \
    " AND ($2::text IS NULL OR i.community_id + 0 = (SELECT id FROM community WHERE code = $2))"
#define INV_RANGE_ANY " AND i.accepted_at + 0 >= $5 AND i.accepted_at + 0 < $6"
#define INV_STATUS                                                                                 \
    " AND ($3::text IS NULL OR (i.status = CASE $3::text WHEN 'expired' THEN 'open' ELSE $3 END"   \
    " AND ($3 <> 'open' OR i.expires_at >= $4) AND ($3 <> 'expired' OR i.expires_at < $4)))"
/* along the primary key (or invoice_settled), in id order */
#define INV_WALK " AND i.id < $7 AND i.id >= $9 ORDER BY i.id DESC LIMIT $8"
/* the driving index's rows, sorted */
#define INV_SORT " AND i.id + 0 < $7 AND i.id + 0 >= $9 ORDER BY i.id + 0 DESC LIMIT $8"

/* The rows of a capped count: at most $N rows are looked at. */
#define COUNT_CAPPED(rows) "SELECT count(*) FROM (SELECT 1 FROM " rows ") x"

enum stmt_id {
    /* transaction control: simple queries, no parameters */
    S_BEGIN,
    S_BEGIN_SERIAL,
    S_COMMIT,
    S_ROLLBACK,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_NCONTROL,
    /* prepared once per connection */
    S_PING = S_NCONTROL,
    S_COMM_GET,
    S_COMM_SET_KEY,
    S_COMM_BANKS,
    S_COMM_LIST,
    S_COMM_ENABLE,
    S_COMM_INSERT,
    S_COMM_URL,
    S_BANK_INSERT,
    S_PREFIX_COLLIDE,
    S_REQ_GET,
    S_REQ_CLAIM,
    S_REQ_SET,
    S_SERIAL_LOCK,
    S_SERIAL_SET,
    S_INV_INSERT,
    S_INV_EXISTS,
    S_INV_RESERIAL,
    S_VA_INSERT,
    S_INV_GET,
    S_INV_VAS,
    S_BANKINFO_INSERT,
    S_BANKINFO_GET,
    S_VA_FIND,
    S_VA_LOCK,
    S_PAY_GET,
    S_INV_PAY,
    S_PAY_INSERT,
    S_NTF_INSERT,
    S_INV_PAYMENTS,
    S_INV_STATUS_LOCK,
    S_INV_CLOSE,
    S_NTF_CLAIM,
    S_NTF_DETAIL,
    S_NTF_DELIVERED,
    S_NTF_RETRY,
    S_NTF_FAILED,
    S_NTF_LIST,
    S_OP_INSERT,
    S_OP_LIST,
    S_OP_SESSIONS_DELETE,
    S_OP_DELETE,
    S_OP_FIND,
    S_SESS_INSERT,
    S_SESS_GET,
    S_SESS_DELETE,
    S_REPORT_PAYMENTS,
    S_SEARCH_Q,
    S_SEARCH_ID,
    S_SEARCH_ACCEPTED,
    S_SEARCH_COMM,
    S_SEARCH_SETTLED,
    S_COUNT_ACCEPTED,
    S_COUNT_COMM,
    S_COUNT_SETTLED,
    S_TTL_RANGE,
    S_INVOICE_ENDS,
    S_ACCEPTED_TOP,
    S_ACCEPTED_BOTTOM,
    S_ACCEPTED_MIN_ID,
    S_ACCEPTED_MAX_ID,
    S_OVERVIEW,
    S_NTF_OF_INVOICE,
    S_ATT_OF_INVOICE,
    S_ATT_INSERT,
    S_NTF_REQUEUE,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN",
    [S_BEGIN_SERIAL] = "BEGIN ISOLATION LEVEL SERIALIZABLE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT unit",
    [S_RELEASE] = "RELEASE SAVEPOINT unit",
    [S_ROLLBACK_TO] = "ROLLBACK TO SAVEPOINT unit",
    [S_PING] = "SELECT 1",
    [S_COMM_SET_KEY] = "UPDATE community SET old_key = sig_key, old_key_until = $3, sig_key = $2"
                       " WHERE code = $1",
    [S_COMM_GET] = "SELECT id, code, sig_key, ccy, va_length, va_ttl_min, enabled, next_serial,"
                   " coalesce(notify_url, ''), partial_payments, coalesce(old_key, ''),"
                   " old_key_until FROM community WHERE code = $1",
    [S_COMM_BANKS] = "SELECT bank_code, prefix FROM bank_channel WHERE community_id = $1"
                     " ORDER BY bank_code COLLATE \"C\"",
    [S_COMM_LIST] = "SELECT code FROM community ORDER BY code COLLATE \"C\"",
    [S_COMM_ENABLE] = "UPDATE community SET enabled = $2 WHERE code = $1",
    [S_COMM_INSERT] = "INSERT INTO community (code, sig_key, ccy, va_length, va_ttl_min, "
                      "enabled, next_serial, created_at, notify_url, partial_payments)"
                      " VALUES ($1, $2, $3, $4, $5, TRUE, 1, $6, nullif($7::text, ''), $8)"
                      " RETURNING id",
    [S_COMM_URL] = "SELECT coalesce(notify_url, '') FROM community WHERE id = $1",
    [S_BANK_INSERT] = "INSERT INTO bank_channel (community_id, bank_code, prefix)"
                      " VALUES ($1, $2, $3)",
    [S_PREFIX_COLLIDE] = "SELECT c.code, b.prefix FROM bank_channel b"
                         " JOIN community c ON c.id = b.community_id"
                         " WHERE b.bank_code = $1::text"
                         " AND (substr($2::text, 1, length(b.prefix)) = b.prefix"
                         " OR substr(b.prefix, 1, length($2::text)) = $2::text) LIMIT 1",
    [S_REQ_GET] = "SELECT payload_hash, response FROM request"
                  " WHERE community_id = $1 AND rq_uuid = $2",
    [S_REQ_CLAIM] = "INSERT INTO request (community_id, rq_uuid, payload_hash, response,"
                    " created_at) VALUES ($1, $2, $3, ''::bytea, $4)"
                    " ON CONFLICT (community_id, rq_uuid) DO NOTHING RETURNING 1",
    [S_REQ_SET] = "UPDATE request SET response = $3 WHERE community_id = $1 AND rq_uuid = $2",
    /* NO KEY: does not wait for the key-share locks that invoice inserts
     * hold on their community through the foreign key */
    [S_SERIAL_LOCK] = "SELECT next_serial FROM community WHERE id = $1 FOR NO KEY UPDATE",
    [S_SERIAL_SET] = "UPDATE community SET next_serial = $2 WHERE id = $1",
    [S_INV_INSERT] =
        "INSERT INTO invoice (community_id, doc_no, member_code, member_name, amount, "
        "total_amount, number_of_installment, installment_amount, balance_payment_amount, "
        "description, billing_date, serial, status, outstanding, accepted_at, expires_at, "
        "rq_uuid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open', $5, $13, "
        "$14, $15) ON CONFLICT (community_id, doc_no) DO NOTHING RETURNING id",
    [S_INV_EXISTS] = "SELECT 1 FROM invoice WHERE community_id = $1 AND doc_no = $2",
    [S_INV_RESERIAL] = "UPDATE invoice SET serial = $2 WHERE id = $1",
    [S_VA_INSERT] = "INSERT INTO va (bank_code, va_number, invoice_id) VALUES ($1, $2, $3)",
    [S_INV_GET] = "SELECT i.id, c.code, i.doc_no, i.member_code, i.member_name, i.amount,"
                  " i.total_amount, i.number_of_installment, i.installment_amount,"
                  " i.balance_payment_amount, i.description, i.billing_date, i.status,"
                  " i.outstanding, i.accepted_at, i.expires_at, i.rq_uuid, i.serial"
                  " FROM invoice i JOIN community c ON c.id = i.community_id"
                  " WHERE c.code = $1 AND i.doc_no = $2",
    [S_INV_VAS] = "SELECT bank_code, va_number FROM va WHERE invoice_id = $1"
                  " ORDER BY bank_code COLLATE \"C\"",
    [S_BANKINFO_INSERT] = "INSERT INTO bank (bank_code, sig_key, name, created_at)"
                          " VALUES ($1, $2, nullif($3::text, ''), $4)",
    [S_BANKINFO_GET] =
        "SELECT bank_code, sig_key, coalesce(name, '') FROM bank WHERE bank_code = $1",
    [S_VA_FIND] = VA_SELECT,
    /* payments of one invoice wait for each other here */
    [S_VA_LOCK] = VA_SELECT " FOR NO KEY UPDATE OF i",
    [S_PAY_GET] = "SELECT va_number, amount, response FROM payment"
                  " WHERE bank_code = $1 AND payment_ref = $2",
    /* the guard in WHERE is what keeps racing payments from taking more
     * than the outstanding amount; CHECK (outstanding >= 0) backs it */
    [S_INV_PAY] = "UPDATE invoice SET outstanding = outstanding - $2,"
                  " status = CASE WHEN outstanding = $2 THEN 'paid' ELSE 'open' END"
                  " WHERE id = $1 AND status = 'open' AND outstanding >= $2 AND expires_at >= $3",
    [S_PAY_INSERT] = "INSERT INTO payment (bank_code, payment_ref, invoice_id, va_number, amount,"
                     " outstanding_after, paid_at, rq_uuid, response)"
                     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                     " ON CONFLICT (bank_code, payment_ref) DO NOTHING RETURNING id",
    [S_NTF_INSERT] = "INSERT INTO notification (payment_id, invoice_id, url, next_at, created_at)"
                     " VALUES ($1, $2, $3, $4, $4)",
    [S_INV_PAYMENTS] = "SELECT payment_ref, bank_code, va_number, amount, paid_at FROM payment"
                       " WHERE invoice_id = $1 ORDER BY id",
    [S_INV_STATUS_LOCK] = "SELECT i.id, i.status FROM invoice i JOIN community c"
                          " ON c.id = i.community_id WHERE c.code = $1 AND i.doc_no = $2"
                          " FOR NO KEY UPDATE OF i",
    [S_INV_CLOSE] = "UPDATE invoice SET status = 'closed', closed_at = $2"
                    " WHERE id = $1 AND status = 'open'",
    /* one statement: choose the due notification (skipping rows another
     * server is claiming right now) and lease it */
    [S_NTF_CLAIM] = "UPDATE notification SET lease_until = $2 WHERE id = ("
                    "SELECT n.id FROM notification n"
                    " WHERE n.status = 'pending' AND n.next_at <= $1 AND n.lease_until <= $1"
                    " AND NOT EXISTS (SELECT 1 FROM notification o"
                    " WHERE o.invoice_id = n.invoice_id AND o.status = 'pending' AND o.id < n.id)"
                    " ORDER BY n.next_at, n.id LIMIT 1 FOR UPDATE SKIP LOCKED)"
                    " AND lease_until <= $1 RETURNING id",
    [S_NTF_DETAIL] = NTF_SELECT " WHERE n.id = $1",
    [S_NTF_DELIVERED] = "UPDATE notification SET status = 'delivered', attempts = attempts + 1,"
                        " delivered_at = $2, lease_until = 0, last_error = NULL WHERE id = $1",
    [S_NTF_RETRY] = "UPDATE notification SET attempts = attempts + 1, next_at = $2,"
                    " lease_until = 0, last_error = $3 WHERE id = $1",
    [S_NTF_FAILED] = "UPDATE notification SET status = 'failed', attempts = attempts + 1,"
                     " lease_until = 0, last_error = $2 WHERE id = $1",
    [S_NTF_LIST] = NTF_SELECT " WHERE $1::integer = 0 OR n.status = 'failed' ORDER BY n.id",
    [S_OP_INSERT] = "INSERT INTO operator (name, token_hash, created_at) VALUES ($1, $2, $3)",
    [S_OP_LIST] = "SELECT name, created_at FROM operator ORDER BY name COLLATE \"C\"",
    [S_OP_SESSIONS_DELETE] = "DELETE FROM session WHERE operator_name = $1",
    [S_OP_DELETE] = "DELETE FROM operator WHERE name = $1",
    [S_OP_FIND] = "SELECT name, created_at FROM operator WHERE token_hash = $1",
    [S_SESS_INSERT] = "INSERT INTO session (id_hash, operator_name, csrf, expires_at)"
                      " VALUES ($1, $2, $3, $4)",
    /* the join: a session outlives nothing of its operator's */
    [S_SESS_GET] = "SELECT s.operator_name, s.csrf, s.expires_at FROM session s"
                   " JOIN operator o ON o.name = s.operator_name"
                   " WHERE s.id_hash = $1 AND s.expires_at > $2",
    [S_SESS_DELETE] = "DELETE FROM session WHERE id_hash = $1 OR expires_at <= $2",
    [S_REPORT_PAYMENTS] =
        "SELECT p.id, p.paid_at, c.code, i.id, i.doc_no, p.bank_code, p.va_number, p.payment_ref,"
        " p.amount, p.outstanding_after FROM payment p JOIN invoice i ON i.id = p.invoice_id"
        " JOIN community c ON c.id = i.community_id"
        " WHERE p.paid_at >= $1 AND p.paid_at < $2 AND ($3::text IS NULL OR c.code = $3)"
        " AND ($4::text IS NULL OR p.bank_code = $4) ORDER BY p.paid_at, p.id",
    /* q: an exact doc_no (the unique (community_id, doc_no) index, probed
     * once per community), VA number (the va primary key, once per bank) or
     * member_code (invoice_member); those few ids drive (MATERIALIZED: the
     * planner cannot make the rest of the invoices the outer loop) */
    [S_SEARCH_Q] =
        "WITH m AS MATERIALIZED (SELECT id FROM invoice"
        " WHERE community_id IN (SELECT id FROM community) AND doc_no = $1"
        " UNION SELECT invoice_id FROM va"
        " WHERE bank_code IN (SELECT DISTINCT bank_code FROM bank_channel)"
        " AND va_number = $1 UNION SELECT id FROM invoice WHERE member_code = $1)"
        " SELECT i.id, c.code, i.doc_no, i.member_code, coalesce(i.member_name, ''),"
        " i.amount, i.outstanding, i.status, i.accepted_at, i.expires_at"
        " FROM (SELECT id FROM m WHERE id < $7 AND id >= $9 ORDER BY id DESC) o"
        " JOIN invoice i ON i.id = o.id JOIN community c ON c.id = i.community_id"
        " WHERE ($2::text IS NULL OR c.code = $2)"
        " AND i.accepted_at >= $5 AND i.accepted_at < $6" INV_STATUS " ORDER BY i.id DESC LIMIT $8",
    [S_SEARCH_ID] =
        INV_ROW " WHERE $1::text IS NULL" INV_COMM_ANY INV_RANGE_ANY INV_STATUS INV_WALK,
    [S_SEARCH_ACCEPTED] = INV_ROW " WHERE $1::text IS NULL AND i.accepted_at >= $5"
                                  " AND i.accepted_at < $6" INV_COMM_ANY INV_STATUS INV_SORT,
    [S_SEARCH_COMM] = INV_ROW
    " WHERE $1::text IS NULL"
    " AND i.community_id = (SELECT id FROM community WHERE code = $2)" INV_RANGE_ANY INV_STATUS
        INV_SORT,
    /* the paid or closed ones along invoice_settled (status, id) */
    [S_SEARCH_SETTLED] =
        INV_ROW " WHERE $1::text IS NULL AND i.status = $3"
                " AND i.status <> 'open'" INV_COMM_ANY INV_RANGE_ANY INV_STATUS INV_WALK,
    [S_COUNT_ACCEPTED] = COUNT_CAPPED("invoice WHERE accepted_at >= $1 AND accepted_at < $2"
                                      " LIMIT $3"),
    [S_COUNT_COMM] = COUNT_CAPPED("invoice WHERE community_id ="
                                  " (SELECT id FROM community WHERE code = $1) LIMIT $2"),
    [S_COUNT_SETTLED] = COUNT_CAPPED("invoice WHERE status = $1 AND status <> 'open' LIMIT $2"),
    [S_TTL_RANGE] = "SELECT min(va_ttl_min), max(va_ttl_min) FROM community",
    /* index ends, one probe each */
    [S_INVOICE_ENDS] = "SELECT min(accepted_at), max(accepted_at), max(id) FROM invoice",
    [S_ACCEPTED_TOP] = "SELECT id FROM invoice WHERE accepted_at < $1"
                       " ORDER BY accepted_at DESC, id DESC LIMIT 1",
    [S_ACCEPTED_BOTTOM] = "SELECT id FROM invoice WHERE accepted_at >= $1"
                          " ORDER BY accepted_at, id LIMIT 1",
    /* "+ 0": not min/max along the primary key, which would pass every
     * invoice outside the range; invoice_accepted holds the ids */
    [S_ACCEPTED_MIN_ID] = "SELECT min(id + 0) FROM invoice"
                          " WHERE accepted_at >= $1 AND accepted_at < $2",
    [S_ACCEPTED_MAX_ID] = "SELECT max(id + 0) FROM invoice"
                          " WHERE accepted_at >= $1 AND accepted_at < $2",
    [S_OVERVIEW] = "SELECT a.n, a.open, a.expired, a.paid, a.closed, p.n, p.amount,"
                   " (SELECT count(*) FROM notification WHERE status = 'pending'),"
                   " (SELECT count(*) FROM notification WHERE status = 'failed')"
                   " FROM (SELECT count(*) AS n,"
                   " count(*) FILTER (WHERE status = 'open' AND expires_at >= $3) AS open,"
                   " count(*) FILTER (WHERE status = 'open' AND expires_at < $3) AS expired,"
                   " count(*) FILTER (WHERE status = 'paid') AS paid,"
                   " count(*) FILTER (WHERE status = 'closed') AS closed"
                   " FROM invoice WHERE accepted_at >= $1 AND accepted_at < $2) a,"
                   " (SELECT count(*) AS n, coalesce(sum(amount), 0) AS amount FROM payment"
                   " WHERE paid_at >= $1 AND paid_at < $2) p",
    [S_NTF_OF_INVOICE] = NTF_SELECT " WHERE n.invoice_id = $1 ORDER BY n.id",
    /* $2: the last notification listed, so no attempt of a newer one shows */
    [S_ATT_OF_INVOICE] = "SELECT a.notification_id, a.at_ms, a.delivered, coalesce(a.error, '')"
                         " FROM notification n"
                         " JOIN notification_attempt a ON a.notification_id = n.id"
                         " WHERE n.invoice_id = $1 AND n.id <= $2 ORDER BY a.at_ms, a.id",
    [S_ATT_INSERT] = "INSERT INTO notification_attempt (notification_id, at_ms, delivered, error)"
                     " VALUES ($1, $2, $3, nullif($4::text, ''))",
    [S_NTF_REQUEUE] = "UPDATE notification SET status = 'pending', next_at = $2, lease_until = 0"
                      " WHERE id = $1 AND status = 'failed'",
};

/* Statements that change nothing: retried once on a fresh connection when
 * the old one turns out to be dead (outside a transaction only). */
static bool read_only(enum stmt_id id)
{
    switch (id) {
    case S_BEGIN:
    case S_BEGIN_SERIAL:
    case S_PING:
    case S_COMM_GET:
    case S_COMM_BANKS:
    case S_COMM_LIST:
    case S_COMM_URL:
    case S_PREFIX_COLLIDE:
    case S_REQ_GET:
    case S_INV_EXISTS:
    case S_INV_GET:
    case S_INV_VAS:
    case S_BANKINFO_GET:
    case S_VA_FIND:
    case S_PAY_GET:
    case S_INV_PAYMENTS:
    case S_NTF_DETAIL:
    case S_NTF_LIST:
    case S_OP_LIST:
    case S_OP_FIND:
    case S_SESS_GET:
    case S_REPORT_PAYMENTS:
    case S_SEARCH_Q:
    case S_SEARCH_ID:
    case S_SEARCH_ACCEPTED:
    case S_SEARCH_COMM:
    case S_SEARCH_SETTLED:
    case S_COUNT_ACCEPTED:
    case S_COUNT_COMM:
    case S_COUNT_SETTLED:
    case S_TTL_RANGE:
    case S_INVOICE_ENDS:
    case S_ACCEPTED_TOP:
    case S_ACCEPTED_BOTTOM:
    case S_ACCEPTED_MIN_ID:
    case S_ACCEPTED_MAX_ID:
    case S_OVERVIEW:
    case S_NTF_OF_INVOICE:
    case S_ATT_OF_INVOICE:
        return true;
    default:
        return false;
    }
}

/* Statements whose rows come back in binary format (raw bytea). */
static bool binary_result(enum stmt_id id)
{
    return id == S_REQ_GET || id == S_PAY_GET;
}

struct pg {
    struct store base;
    PGconn *conn;
    char *url;
    bool ready;    /* session set up and statements prepared */
    bool retry;    /* the last failure was a deadlock or serialization failure */
    char state[6]; /* SQLSTATE of the last failure, "" when none */
};

/* ---- parameters ---- */

#define MAX_PARAMS 16

struct params {
    int n;
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24];
};

static void p_int(struct params *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof p->num[0], "%lld", (long long)x);
    p->v[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

/* Text (or bytea) of known length, sent in binary format: the bytes as they
 * are, no terminator needed.  NULL sends SQL NULL. */
static void p_bytes(struct params *p, const void *s, size_t n)
{
    p->v[p->n] = s == NULL ? NULL : n == 0 ? "" : s;
    p->len[p->n] = (int)n;
    p->fmt[p->n] = 1;
    p->n++;
}

static void p_str(struct params *p, const char *s)
{
    p_bytes(p, s, strlen(s));
}

/* Optional text: PostgreSQL text cannot hold NUL, so it is cut at the first
 * one, which is also what every SQLite read gives back (C strings). */
static void p_opt_text(struct params *p, const char *s, size_t n)
{
    if (s != NULL) {
        const char *nul = memchr(s, '\0', n);
        if (nul != NULL)
            n = (size_t)(nul - s);
    }
    p_bytes(p, s, n);
}

static void p_bool(struct params *p, bool b)
{
    p->v[p->n] = b ? "true" : "false";
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

/* ---- results ---- */

static int64_t v_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool v_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

static void v_copy(char *dst, size_t cap, const PGresult *r, int row, int col)
{
    snprintf(dst, cap, "%s", PQgetvalue(r, row, col));
}

static char *v_dup(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

/* A bigint column of a binary-format result. */
static int64_t v_bin_int(const PGresult *r, int row, int col)
{
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, row, col);
    if (PQgetlength(r, row, col) != 8)
        return 0;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | b[i];
    return (int64_t)x;
}

/* ---- connection and errors ---- */

static void set_msg(struct pg *s, const char *what, const char *text)
{
    size_t n = strcspn(text, "\n");
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "postgresql: %s%.*s", what, (int)n, text);
}

static bool conn_lost_state(const char *st)
{
    return st == NULL || strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
           strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0;
}

/* Classifies a failed result (r may be NULL when libpq returned none). */
static enum vb_err fail(struct pg *s, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *text = r ? PQresultErrorMessage(r) : "";
    if (text == NULL || *text == '\0')
        text = PQerrorMessage(s->conn);
    set_msg(s, "", text);
    snprintf(s->state, sizeof s->state, "%s", st ? st : "");
    s->retry = false;
    if (PQstatus(s->conn) != CONNECTION_OK || conn_lost_state(st)) {
        s->ready = false; /* reconnect on the next use */
        return ERR_STORE;
    }
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0) {
        s->retry = true;
        return ERR_BUSY;
    }
    if (strcmp(st, "55P03") == 0 || strcmp(st, "57014") == 0)
        return ERR_BUSY; /* lock_timeout, statement_timeout */
    if (strncmp(st, "53", 2) == 0)
        return ERR_BUSY; /* insufficient resources, too many connections */
    return ERR_STORE;
}

static bool result_ok(const PGresult *r)
{
    ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

/* Runs SQL text with the simple protocol (setup, migrations). */
static enum vb_err exec_text(struct pg *s, const char *text)
{
    PGresult *r = PQexec(s->conn, text);
    enum vb_err e = result_ok(r) ? ERR_OK : fail(s, r);
    PQclear(r);
    return e;
}

/* Session settings and prepared statements of a fresh connection. */
static enum vb_err setup_session(struct pg *s)
{
    /* synchronous_commit on: COMMIT waits for the WAL flush (durable before
     * the answer); lock_timeout: a lock held by a stuck peer answers 0099
     * after LIMIT_BUSY_MS instead of hanging the request */
    char set[256];
    snprintf(set, sizeof set,
             "SET synchronous_commit = on; SET lock_timeout = %d;"
             " SET default_transaction_isolation = 'read committed'",
             LIMIT_BUSY_MS);
    enum vb_err e = exec_text(s, set);
    for (int i = S_NCONTROL; !e && i < S_COUNT; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        PGresult *r = PQprepare(s->conn, name, sql[i], 0, NULL);
        if (!result_ok(r))
            e = fail(s, r);
        PQclear(r);
    }
    s->ready = e == ERR_OK;
    return e;
}

/* A usable connection: re-established (and re-prepared) after a loss. */
static enum vb_err ensure_conn(struct pg *s)
{
    if (s->ready && PQstatus(s->conn) == CONNECTION_OK)
        return ERR_OK;
    s->ready = false;
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        set_msg(s, "cannot connect: ", PQerrorMessage(s->conn));
        return ERR_STORE;
    }
    return setup_session(s);
}

/* Runs statement id with parameters p (NULL for none).  Returns the result
 * (PQclear it) or NULL with *err set and the reason in errmsg / state. */
static PGresult *run(struct pg *s, enum stmt_id id, const struct params *p, enum vb_err *err)
{
    static const struct params none;
    if (p == NULL)
        p = &none;
    s->state[0] = '\0';
    s->retry = false;
    for (int attempt = 0;; attempt++) {
        bool idle = s->ready && PQtransactionStatus(s->conn) == PQTRANS_IDLE;
        enum vb_err e = ensure_conn(s);
        if (e) {
            *err = e;
            return NULL;
        }
        PGresult *r;
        if (id < S_NCONTROL) {
            r = PQexec(s->conn, sql[id]);
        } else {
            char name[16];
            snprintf(name, sizeof name, "s%d", (int)id);
            r = PQexecPrepared(s->conn, name, p->n, p->v, p->len, p->fmt,
                               binary_result(id) ? 1 : 0);
        }
        if (result_ok(r))
            return r;
        e = fail(s, r);
        PQclear(r);
        if (!s->ready && idle && read_only(id) && attempt == 0)
            continue; /* the connection was dead before we used it */
        *err = e;
        return NULL;
    }
}

/* Runs a statement whose rows do not matter; *rows gets the affected count. */
static enum vb_err run_cmd(struct pg *s, enum stmt_id id, const struct params *p, long *rows)
{
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, id, p, &e);
    if (r == NULL)
        return e;
    if (rows)
        *rows = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return ERR_OK;
}

static enum vb_err ctl(struct pg *s, enum stmt_id id)
{
    return run_cmd(s, id, NULL, NULL);
}

/* Ends a failed transaction; keeps the first failure's message. */
static void rollback(struct pg *s)
{
    if (!s->ready || PQstatus(s->conn) != CONNECTION_OK)
        return;
    if (PQtransactionStatus(s->conn) == PQTRANS_IDLE)
        return;
    char keep[sizeof s->base.errmsg];
    char keep_state[sizeof s->state];
    bool keep_retry = s->retry;
    memcpy(keep, s->base.errmsg, sizeof keep);
    memcpy(keep_state, s->state, sizeof keep_state);
    PGresult *r = PQexec(s->conn, "ROLLBACK");
    if (!result_ok(r))
        fail(s, r);
    PQclear(r);
    memcpy(s->base.errmsg, keep, sizeof keep);
    memcpy(s->state, keep_state, sizeof keep_state);
    s->retry = keep_retry;
}

/* True when the last failure broke the connection: the fate of a COMMIT
 * sent on it is unknown. */
static bool conn_lost(const struct pg *s)
{
    return !s->ready;
}

/* Brings the schema to the newest version.  Two programs starting at once
 * on a fresh database serialize on a transaction-level advisory lock; a
 * schema already current is only read (no lock taken). */
static enum vb_err migrate(struct pg *s)
{
    int version = -1;
    PGresult *r = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
    if (result_ok(r) && PQntuples(r) == 1)
        version = (int)v_int(r, 0, 0);
    PQclear(r);
    if (version == NMIGRATIONS)
        return ERR_OK;

    enum vb_err e = exec_text(s, "BEGIN");
    if (!e)
        e = exec_text(s, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")");
    if (!e)
        e = exec_text(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    if (!e) {
        r = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
        if (result_ok(r) && PQntuples(r) == 1)
            version = (int)v_int(r, 0, 0);
        else
            e = fail(s, r);
        PQclear(r);
    }
    if (!e && version > NMIGRATIONS) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg,
                 "schema version %d is newer than this program (%d)", version, NMIGRATIONS);
        e = ERR_STORE;
    }
    for (int v = version; !e && v < NMIGRATIONS; v++) {
        e = exec_text(s, migrations[v]);
        if (!e) {
            char ins[80];
            snprintf(ins, sizeof ins, "INSERT INTO schema_version (version) VALUES (%d)", v + 1);
            e = exec_text(s, ins);
        }
    }
    if (!e)
        return exec_text(s, "COMMIT");
    char keep[sizeof s->base.errmsg];
    memcpy(keep, s->base.errmsg, sizeof keep);
    PQclear(PQexec(s->conn, "ROLLBACK"));
    memcpy(s->base.errmsg, keep, sizeof keep);
    return e;
}

static void pg_close(struct store *base)
{
    struct pg *s = (struct pg *)base;
    if (s == NULL)
        return;
    PQfinish(s->conn);
    free(s->url);
    free(s);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static enum vb_err pg_open(const char *url, struct store **out, char *why, size_t whylen)
{
    struct pg *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ERR_NOMEM;
    s->base.ops = &store_pg_ops;
    enum vb_err e = ERR_OK;
    s->url = strdup(url);
    if (s->url == NULL) {
        e = ERR_NOMEM;
        goto out;
    }
    /* defaults first: what the URL says overrides them */
    const char *const keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
                                NULL};
    const char *const vals[] = {"5", "vabill", "UTF8", url, NULL};
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (s->conn == NULL) {
        e = ERR_NOMEM;
        goto out;
    }
    /* notices (a server shutting down, IF NOT EXISTS) are not ours to print:
     * stderr carries the request log */
    PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        set_msg(s, "cannot connect: ", PQerrorMessage(s->conn));
        e = ERR_STORE;
        goto out;
    }
    e = migrate(s);
    if (!e)
        e = setup_session(s);
out:
    if (e) {
        snprintf(why, whylen, "%s", s->base.errmsg[0] ? s->base.errmsg : err_str(e));
        pg_close(&s->base);
        return e;
    }
    *out = &s->base;
    return ERR_OK;
}

static enum vb_err pg_ping(struct store *base)
{
    return ctl((struct pg *)base, S_PING);
}

/* ---- communities ---- */

static enum vb_err pg_community_get(struct store *base, const char *code,
                                    struct store_community *out)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_str(&p, code);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_COMM_GET, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ERR_NOTFOUND;
    }
    struct store_community c;
    memset(&c, 0, sizeof c);
    c.id = v_int(r, 0, 0);
    v_copy(c.code, sizeof c.code, r, 0, 1);
    v_copy(c.key, sizeof c.key, r, 0, 2);
    c.va_length = (int)v_int(r, 0, 4);
    v_copy(c.ccy, sizeof c.ccy, r, 0, 3);
    c.va_ttl_min = (int)v_int(r, 0, 5);
    c.enabled = v_bool(r, 0, 6);
    c.next_serial = v_int(r, 0, 7);
    v_copy(c.notify_url, sizeof c.notify_url, r, 0, 8);
    c.partial_payments = v_bool(r, 0, 9);
    v_copy(c.old_key, sizeof c.old_key, r, 0, 10);
    c.old_key_until = v_int(r, 0, 11);
    /* the keys were copied out of the result: wipe libpq's copies */
    OPENSSL_cleanse(PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2));
    OPENSSL_cleanse(PQgetvalue(r, 0, 10), (size_t)PQgetlength(r, 0, 10));
    PQclear(r);

    struct params b = {0};
    p_int(&b, c.id);
    r = run(s, S_COMM_BANKS, &b, &e);
    if (r != NULL) {
        for (int i = 0; i < PQntuples(r) && c.nbanks < LIMIT_BANKS; i++) {
            v_copy(c.banks[c.nbanks].bank_code, sizeof c.banks[0].bank_code, r, i, 0);
            v_copy(c.banks[c.nbanks].prefix, sizeof c.banks[0].prefix, r, i, 1);
            c.nbanks++;
        }
        PQclear(r);
        *out = c;
    }
    store_community_wipe(&c);
    return e;
}

/* One attempt of community_add, inside a SERIALIZABLE transaction. */
static enum vb_err add_community_txn(struct pg *s, const struct store_community *c)
{
    struct params p = {0};
    p_str(&p, c->code);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_COMM_GET, &p, &e);
    if (r == NULL)
        return e;
    int found = PQntuples(r);
    PQclear(r);
    if (found)
        return ERR_EXISTS;
    for (size_t i = 0; i < c->nbanks; i++) {
        struct params q = {0};
        p_str(&q, c->banks[i].bank_code);
        p_str(&q, c->banks[i].prefix);
        r = run(s, S_PREFIX_COLLIDE, &q, &e);
        if (r == NULL)
            return e;
        if (PQntuples(r) > 0) {
            snprintf(s->base.errmsg, sizeof s->base.errmsg,
                     "prefix %s on bank %s collides with prefix %s of community %s",
                     c->banks[i].prefix, c->banks[i].bank_code, PQgetvalue(r, 0, 1),
                     PQgetvalue(r, 0, 0));
            PQclear(r);
            return ERR_COLLIDE;
        }
        PQclear(r);
    }
    struct params ins = {0};
    p_str(&ins, c->code);
    p_str(&ins, c->key);
    p_str(&ins, c->ccy);
    p_int(&ins, c->va_length);
    p_int(&ins, c->va_ttl_min);
    p_int(&ins, (int64_t)time(NULL));
    p_str(&ins, c->notify_url);
    p_bool(&ins, c->partial_payments);
    r = run(s, S_COMM_INSERT, &ins, &e);
    if (r == NULL)
        return strcmp(s->state, "23505") == 0 ? ERR_EXISTS : e;
    int64_t id = v_int(r, 0, 0);
    PQclear(r);
    for (size_t i = 0; !e && i < c->nbanks; i++) {
        struct params q = {0};
        p_int(&q, id);
        p_str(&q, c->banks[i].bank_code);
        p_str(&q, c->banks[i].prefix);
        e = run_cmd(s, S_BANK_INSERT, &q, NULL);
    }
    return e;
}

static enum vb_err pg_community_add(struct store *base, const struct store_community *c)
{
    struct pg *s = (struct pg *)base;
    enum vb_err e = ERR_OK;
    for (int attempt = 0; attempt < TXN_TRIES; attempt++) {
        e = ctl(s, S_BEGIN_SERIAL);
        if (!e)
            e = add_community_txn(s, c);
        if (!e)
            e = ctl(s, S_COMMIT);
        if (e)
            rollback(s);
        if (!s->retry)
            break;
    }
    return e;
}

static enum vb_err pg_community_list(struct store *base, struct store_community **out, size_t *n)
{
    struct pg *s = (struct pg *)base;
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_COMM_LIST, NULL, &e);
    if (r == NULL)
        return e;
    size_t count = (size_t)PQntuples(r);
    struct store_community *list = NULL;
    if (count) {
        list = calloc(count, sizeof *list);
        if (list == NULL)
            e = ERR_NOMEM;
    }
    for (size_t i = 0; !e && i < count; i++) {
        e = pg_community_get(base, PQgetvalue(r, (int)i, 0), &list[i]);
        store_community_wipe(&list[i]);
    }
    PQclear(r);
    if (e) {
        free(list);
        return e;
    }
    *out = list;
    *n = count;
    return ERR_OK;
}

static enum vb_err pg_community_set_key(struct store *base, const char *code, const char *key,
                                        int64_t old_key_until)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_str(&p, code);
    p_str(&p, key);
    p_int(&p, old_key_until);
    long rows = 0;
    enum vb_err e = run_cmd(s, S_COMM_SET_KEY, &p, &rows);
    if (!e && rows == 0)
        return ERR_NOTFOUND;
    return e;
}

static enum vb_err pg_community_set_enabled(struct store *base, const char *code, bool enabled)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_str(&p, code);
    p_bool(&p, enabled);
    long rows = 0;
    enum vb_err e = run_cmd(s, S_COMM_ENABLE, &p, &rows);
    if (!e && rows == 0)
        return ERR_NOTFOUND;
    return e;
}

/* ---- sendinvoice ---- */

static enum vb_err pg_request_get(struct store *base, int64_t comm_id, const char *rq_uuid,
                                  size_t n, unsigned char hash[STORE_HASH_LEN],
                                  struct buf *response)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_int(&p, comm_id);
    p_bytes(&p, rq_uuid, n);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_REQ_GET, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ERR_NOTFOUND;
    }
    if (PQgetlength(r, 0, 0) == STORE_HASH_LEN)
        memcpy(hash, PQgetvalue(r, 0, 0), STORE_HASH_LEN);
    else
        memset(hash, 0, STORE_HASH_LEN);
    buf_reset(response);
    e = buf_add(response, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1));
    PQclear(r);
    return e;
}

/* The largest serial every channel of c can hold. */
static int64_t max_serial(const struct store_community *c)
{
    int width = 99;
    for (size_t b = 0; b < c->nbanks; b++) {
        int w = va_channel_width(c->va_length, strlen(c->banks[b].prefix));
        if (w < width)
            width = w;
    }
    return c->nbanks ? va_max_serial(width) : 0;
}

/*
 * Serial blocks, per process: for each (URL, community), the serials this
 * process has reserved in the database and not yet used, as sorted ranges
 * [lo, hi).  Every connection of the process draws from them, lowest first.
 */
struct serial_range {
    int64_t lo, hi;
};

struct serial_pool {
    struct serial_pool *next;
    int64_t comm_id;
    struct serial_range *r;
    size_t n, cap;
    char url[];
};

static pthread_mutex_t serial_mu = PTHREAD_MUTEX_INITIALIZER;
/* held while a block is reserved in the database (taken before serial_mu) */
static pthread_mutex_t reserve_mu = PTHREAD_MUTEX_INITIALIZER;
static struct serial_pool *serial_pools;

/* The pool of (url, comm_id), created on first use; NULL when out of
 * memory.  Called with serial_mu held. */
static struct serial_pool *pool_find(const char *url, int64_t comm_id)
{
    for (struct serial_pool *p = serial_pools; p; p = p->next)
        if (p->comm_id == comm_id && strcmp(p->url, url) == 0)
            return p;
    size_t n = strlen(url);
    struct serial_pool *p = calloc(1, sizeof *p + n + 1);
    if (p == NULL)
        return NULL;
    p->comm_id = comm_id;
    memcpy(p->url, url, n + 1);
    p->next = serial_pools;
    serial_pools = p;
    return p;
}

/* Adds [lo, hi) to the pool, merging with its neighbours.  With serial_mu. */
static bool pool_put(struct serial_pool *p, int64_t lo, int64_t hi)
{
    size_t i = 0;
    while (i < p->n && p->r[i].hi < lo)
        i++;
    if (i < p->n && p->r[i].lo <= hi) {
        /* touches range i: widen it, then absorb any range it now reaches */
        if (lo < p->r[i].lo)
            p->r[i].lo = lo;
        if (hi > p->r[i].hi)
            p->r[i].hi = hi;
        while (i + 1 < p->n && p->r[i + 1].lo <= p->r[i].hi) {
            if (p->r[i + 1].hi > p->r[i].hi)
                p->r[i].hi = p->r[i + 1].hi;
            memmove(&p->r[i + 1], &p->r[i + 2], (p->n - i - 2) * sizeof p->r[0]);
            p->n--;
        }
        return true;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        struct serial_range *grown = realloc(p->r, cap * sizeof *grown);
        if (grown == NULL)
            return false; /* the serials are lost: a gap, never a reuse */
        p->r = grown;
        p->cap = cap;
    }
    memmove(&p->r[i + 1], &p->r[i], (p->n - i) * sizeof p->r[0]);
    p->r[i].lo = lo;
    p->r[i].hi = hi;
    p->n++;
    return true;
}

/* Serials taken by one unit: v[0..n) ascending; v[0..pos) are used by
 * invoices inserted in the current attempt. */
struct take {
    int64_t *v;
    size_t n, pos;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Reserves up to want serials after community.next_serial (never past
 * limit) in a transaction of its own: [*lo, *hi). */
static enum vb_err reserve_block(struct pg *s, int64_t comm_id, int64_t want, int64_t limit,
                                 int64_t *lo, int64_t *hi)
{
    enum vb_err e = ctl(s, S_BEGIN);
    if (e)
        return e;
    struct params p = {0};
    p_int(&p, comm_id);
    PGresult *r = run(s, S_SERIAL_LOCK, &p, &e);
    int64_t next = 0, end = 0;
    if (r != NULL) {
        if (PQntuples(r) == 1) {
            next = v_int(r, 0, 0);
        } else {
            snprintf(s->base.errmsg, sizeof s->base.errmsg, "community %lld vanished",
                     (long long)comm_id);
            e = ERR_STORE;
        }
        PQclear(r);
    }
    end = next;
    if (!e && next <= limit) {
        end = limit - next + 1 < want ? limit + 1 : next + want;
        struct params q = {0};
        p_int(&q, comm_id);
        p_int(&q, end);
        e = run_cmd(s, S_SERIAL_SET, &q, NULL);
    }
    if (!e)
        e = ctl(s, S_COMMIT);
    if (e) {
        rollback(s);
        return e;
    }
    *lo = next;
    *hi = end;
    return ERR_OK;
}

/* Gives serials v[from..n) of t back to the pool of community comm_id. */
static void give_back(const struct pg *s, int64_t comm_id, struct take *t, size_t from)
{
    if (from >= t->n)
        return;
    pthread_mutex_lock(&serial_mu);
    struct serial_pool *p = pool_find(s->url, comm_id);
    for (size_t i = from; p && i < t->n; i++)
        pool_put(p, t->v[i], t->v[i] + 1);
    pthread_mutex_unlock(&serial_mu);
    t->n = from;
}

/* Moves serials from the pool of (url, comm_id) into t, lowest first, until
 * t has k.  True when it has; *err is ERR_NOMEM when the pool could not be
 * made. */
static bool pop_serials(const char *url, int64_t comm_id, size_t k, struct take *t,
                        enum vb_err *err)
{
    pthread_mutex_lock(&serial_mu);
    struct serial_pool *p = pool_find(url, comm_id);
    while (p && p->n > 0 && t->n < k) {
        t->v[t->n++] = p->r[0].lo++;
        if (p->r[0].lo == p->r[0].hi) {
            memmove(&p->r[0], &p->r[1], (p->n - 1) * sizeof p->r[0]);
            p->n--;
        }
    }
    pthread_mutex_unlock(&serial_mu);
    if (p == NULL)
        *err = ERR_NOMEM;
    return t->n == k;
}

/* Takes up to k serials for a unit of community c, reserving blocks as
 * needed; fewer than k only when the community's serials are exhausted. */
static enum vb_err take_serials(struct pg *s, const struct store_community *c, size_t k,
                                struct take *t)
{
    memset(t, 0, sizeof *t);
    if (k == 0)
        return ERR_OK;
    t->v = malloc(k * sizeof *t->v);
    if (t->v == NULL)
        return ERR_NOMEM;
    int64_t limit = max_serial(c);
    enum vb_err e = ERR_OK;
    bool exhausted = false;
    while (!e && !exhausted && !pop_serials(s->url, c->id, k, t, &e)) {
        /* one reservation at a time per process, and a thread that waited
         * for it first takes what the other reserved: the serials a server
         * hands out stay dense */
        pthread_mutex_lock(&reserve_mu);
        if (!pop_serials(s->url, c->id, k, t, &e) && !e) {
            int64_t want = (int64_t)(k - t->n);
            if (want < LIMIT_PG_SERIAL_BLOCK)
                want = LIMIT_PG_SERIAL_BLOCK;
            int64_t lo = 0, hi = 0;
            e = reserve_block(s, c->id, want, limit, &lo, &hi);
            exhausted = !e && lo >= hi;
            if (!e && !exhausted) {
                pthread_mutex_lock(&serial_mu);
                struct serial_pool *p = pool_find(s->url, c->id);
                if (p == NULL || !pool_put(p, lo, hi))
                    e = ERR_NOMEM;
                pthread_mutex_unlock(&serial_mu);
            }
        }
        pthread_mutex_unlock(&reserve_mu);
    }
    if (e) {
        give_back(s, c->id, t, 0);
        return e;
    }
    qsort(t->v, t->n, sizeof *t->v, cmp_i64);
    return ERR_OK;
}

/* Inserts one invoice row with serial; OUT_LISTED when the community
 * already has its doc_no (the unique constraint decides), else
 * OUT_ACCEPTED with its id.  VA numbers come later (add_vas). */
static enum vb_err insert_invoice(struct pg *s, const struct store_unit *u,
                                  const struct invoice *inv, int64_t serial, struct store_result *r)
{
    const struct store_community *c = u->comm;
    struct params p = {0};
    p_int(&p, c->id);
    p_bytes(&p, inv->doc_no, inv->doc_no_len);
    p_bytes(&p, inv->member_code, inv->member_code_len);
    p_opt_text(&p, inv->member_name, inv->member_name_len);
    p_int(&p, inv->amount);
    p_int(&p, inv->total_amount);
    p_int(&p, inv->number_of_installment);
    p_int(&p, inv->installment_amount);
    if (inv->has_balance)
        p_int(&p, inv->balance_payment_amount);
    else
        p_bytes(&p, NULL, 0);
    p_opt_text(&p, inv->description, inv->description_len);
    p_int(&p, inv->billing_date);
    p_int(&p, serial);
    p_int(&p, u->now);
    p_int(&p, u->now + (int64_t)c->va_ttl_min * 60);
    p_bytes(&p, u->rq_uuid, u->rq_uuid_len);
    enum vb_err e = ERR_OK;
    PGresult *res = run(s, S_INV_INSERT, &p, &e);
    if (res == NULL)
        return e;
    if (PQntuples(res) == 0) {
        PQclear(res);
        r->outcome = OUT_LISTED;
        return ERR_OK;
    }
    r->outcome = OUT_ACCEPTED;
    r->id = v_int(res, 0, 0);
    r->serial = serial;
    PQclear(res);
    return ERR_OK;
}

/* The VA numbers of an accepted invoice, one per bank channel. */
static enum vb_err add_vas(struct pg *s, const struct store_community *c,
                           const struct store_result *r)
{
    for (size_t b = 0; b < c->nbanks; b++) {
        char va[VA_MAX];
        if (!va_format(c->banks[b].prefix, c->va_length, r->serial, va)) {
            snprintf(s->base.errmsg, sizeof s->base.errmsg, "serial %lld does not fit bank %s",
                     (long long)r->serial, c->banks[b].bank_code);
            return ERR_STORE;
        }
        struct params q = {0};
        p_str(&q, c->banks[b].bank_code);
        p_str(&q, va);
        p_int(&q, r->id);
        enum vb_err e = run_cmd(s, S_VA_INSERT, &q, NULL);
        if (e)
            return e;
    }
    return ERR_OK;
}

/* Invoices one at a time in request order: used when the community's
 * serials run out within this unit, where whether an invoice still gets a
 * serial depends on the outcomes before it. */
static enum vb_err insert_in_order(struct pg *s, struct store_unit *u, struct take *t)
{
    enum vb_err e = ERR_OK;
    for (size_t i = 0; i < u->n; i++) {
        const struct invoice *inv = &u->inv[i];
        struct store_result *res = &u->res[i];
        if (inv->fail.code)
            continue;
        if (t->pos >= t->n) {
            struct params q = {0};
            p_int(&q, u->comm->id);
            p_bytes(&q, inv->doc_no, inv->doc_no_len);
            PGresult *r = run(s, S_INV_EXISTS, &q, &e);
            if (r == NULL)
                return e;
            res->outcome = PQntuples(r) ? OUT_LISTED : OUT_EXHAUSTED;
            PQclear(r);
            continue;
        }
        e = insert_invoice(s, u, inv, t->v[t->pos], res);
        if (!e && res->outcome == OUT_ACCEPTED) {
            t->pos++;
            e = add_vas(s, u->comm, res);
        }
        if (e)
            return e;
    }
    return ERR_OK;
}

struct slot {
    const struct invoice *inv;
    size_t i;    /* index in the request */
    size_t rank; /* among the request's valid invoices, in request order */
};

static int cmp_doc_no(const void *a, const void *b)
{
    const struct invoice *x = ((const struct slot *)a)->inv, *y = ((const struct slot *)b)->inv;
    size_t n = x->doc_no_len < y->doc_no_len ? x->doc_no_len : y->doc_no_len;
    int c = memcmp(x->doc_no, y->doc_no, n);
    if (c)
        return c;
    return x->doc_no_len < y->doc_no_len ? -1 : x->doc_no_len > y->doc_no_len;
}

/*
 * Invoices inserted in doc_no order, whatever the request's order: a
 * transaction waits for another only on a doc_no both insert, so when every
 * transaction takes its doc_nos in one global order, two batches sharing
 * doc_nos queue behind each other instead of deadlocking.  Each invoice is
 * inserted with the serial of its rank in the request (t has one for every
 * valid invoice); once the outcomes are known, the accepted ones are given
 * t's serials again in request order, so the serials are the same as if the
 * invoices had been inserted one by one in request order (0002 consumes
 * none).  That renumbering only ever moves an invoice down to a slot that
 * is free by then, so UNIQUE (community_id, serial) holds at every row.
 */
static enum vb_err insert_sorted(struct pg *s, struct store_unit *u, struct take *t, size_t m)
{
    struct slot *sl = malloc((m ? m : 1) * sizeof *sl);
    if (sl == NULL)
        return ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < u->n; i++) {
        if (u->inv[i].fail.code == NULL) {
            sl[k].inv = &u->inv[i];
            sl[k].i = i;
            sl[k].rank = k;
            k++;
        }
    }
    qsort(sl, m, sizeof *sl, cmp_doc_no);
    enum vb_err e = ERR_OK;
    for (size_t j = 0; !e && j < m; j++)
        e = insert_invoice(s, u, sl[j].inv, t->v[sl[j].rank], &u->res[sl[j].i]);
    free(sl);
    t->pos = 0;
    for (size_t i = 0; !e && i < u->n; i++) {
        struct store_result *res = &u->res[i];
        if (u->inv[i].fail.code || res->outcome != OUT_ACCEPTED)
            continue;
        int64_t serial = t->v[t->pos++];
        if (serial != res->serial) {
            struct params q = {0};
            p_int(&q, res->id);
            p_int(&q, serial);
            e = run_cmd(s, S_INV_RESERIAL, &q, NULL);
            res->serial = serial;
        }
        if (!e)
            e = add_vas(s, u->comm, res);
    }
    return e;
}

/* One unit inside the open transaction, in its own savepoint. */
static enum vb_err apply_unit(struct pg *s, struct store_unit *u, struct take *t)
{
    /* claim the rq_uuid first: a racing twin waits here for our commit */
    struct params p = {0};
    p_int(&p, u->comm->id);
    p_bytes(&p, u->rq_uuid, u->rq_uuid_len);
    p_bytes(&p, u->payload_hash, STORE_HASH_LEN);
    p_int(&p, u->now);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_REQ_CLAIM, &p, &e);
    if (r == NULL)
        return e;
    int claimed = PQntuples(r);
    PQclear(r);
    if (!claimed) {
        unsigned char hash[STORE_HASH_LEN];
        e = pg_request_get(&s->base, u->comm->id, u->rq_uuid, u->rq_uuid_len, hash, &u->response);
        if (e == ERR_NOTFOUND) {
            snprintf(s->base.errmsg, sizeof s->base.errmsg, "remembered answer vanished");
            return ERR_STORE;
        }
        if (e)
            return e;
        u->status =
            memcmp(hash, u->payload_hash, STORE_HASH_LEN) == 0 ? UNIT_REPLAY : UNIT_CONFLICT;
        return ERR_OK;
    }

    size_t m = 0;
    for (size_t i = 0; i < u->n; i++) {
        memset(&u->res[i], 0, sizeof u->res[i]);
        if (u->inv[i].fail.code)
            u->res[i].outcome = OUT_REFUSED;
        else
            m++;
    }
    t->pos = 0;
    e = t->n >= m ? insert_sorted(s, u, t, m) : insert_in_order(s, u, t);
    if (e)
        return e;

    buf_reset(&u->response);
    e = u->render(u, &u->response);
    if (e)
        return e;
    struct params q = {0};
    p_int(&q, u->comm->id);
    p_bytes(&q, u->rq_uuid, u->rq_uuid_len);
    p_bytes(&q, u->response.p, u->response.len);
    e = run_cmd(s, S_REQ_SET, &q, NULL);
    if (!e)
        u->status = UNIT_COMMITTED;
    return e;
}

/* One attempt at the whole batch: ERR_OK when committed. */
static enum vb_err commit_attempt(struct pg *s, struct store_unit **units, size_t n,
                                  struct take *takes)
{
    enum vb_err e = ctl(s, S_BEGIN);
    for (size_t i = 0; !e && i < n; i++) {
        struct store_unit *u = units[i];
        u->status = UNIT_FAILED;
        u->err = ctl(s, S_SAVEPOINT);
        if (!u->err)
            u->err = apply_unit(s, u, &takes[i]);
        if (u->err) {
            u->status = UNIT_FAILED;
            takes[i].pos = 0;
            if (conn_lost(s) || s->retry) {
                e = u->err; /* the whole batch goes (and may be tried again) */
                break;
            }
            if (ctl(s, S_ROLLBACK_TO) != ERR_OK) {
                e = ERR_STORE;
                break;
            }
        }
        if (ctl(s, S_RELEASE) != ERR_OK) {
            e = ERR_STORE;
            break;
        }
    }
    if (!e)
        e = ctl(s, S_COMMIT);
    return e;
}

static size_t count_valid(const struct store_unit *u)
{
    size_t k = 0;
    for (size_t i = 0; i < u->n; i++)
        if (u->inv[i].fail.code == NULL)
            k++;
    return k;
}

static enum vb_err pg_commit_units(struct store *base, struct store_unit **units, size_t n)
{
    struct pg *s = (struct pg *)base;
    struct take *takes = calloc(n ? n : 1, sizeof *takes);
    if (takes == NULL)
        return ERR_NOMEM;
    enum vb_err e = ERR_OK;
    /* serials first, in their own short transactions: no lock is held while
     * the batch runs, and a block outlives a rolled-back batch */
    for (size_t i = 0; !e && i < n; i++)
        e = take_serials(s, units[i]->comm, count_valid(units[i]), &takes[i]);
    for (int attempt = 0; !e; attempt++) {
        e = commit_attempt(s, units, n, takes);
        if (!e)
            break;
        bool again = s->retry && !conn_lost(s) && attempt + 1 < TXN_TRIES;
        rollback(s);
        if (!conn_lost(s))
            for (size_t i = 0; i < n; i++)
                takes[i].pos = 0; /* rolled back for certain: every serial is free */
        if (!again)
            break;
        /* a deadlock victim: let the winner finish, with jitter so two
         * victims do not meet again */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        struct timespec pause = {0, 1000000L * (1 + attempt * 5) + now.tv_nsec % 10000000L};
        nanosleep(&pause, NULL);
        e = ERR_OK;
    }
    for (size_t i = 0; i < n; i++) {
        give_back(s, units[i]->comm->id, &takes[i], takes[i].pos);
        free(takes[i].v);
    }
    free(takes);
    if (e) {
        for (size_t i = 0; i < n; i++) {
            units[i]->status = UNIT_FAILED;
            units[i]->err = e;
        }
    }
    return e;
}

static enum vb_err pg_invoice_get(struct store *base, const char *comm_code, const char *doc_no,
                                  size_t doc_no_len, struct store_invoice **out)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_str(&p, comm_code);
    p_bytes(&p, doc_no, doc_no_len);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_INV_GET, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ERR_NOTFOUND;
    }
    struct store_invoice *inv = calloc(1, sizeof *inv);
    if (inv == NULL) {
        PQclear(r);
        return ERR_NOMEM;
    }
    inv->id = v_int(r, 0, 0);
    v_copy(inv->comm_code, sizeof inv->comm_code, r, 0, 1);
    inv->doc_no = v_dup(r, 0, 2);
    inv->member_code = v_dup(r, 0, 3);
    inv->member_name = v_dup(r, 0, 4);
    inv->amount = v_int(r, 0, 5);
    inv->total_amount = v_int(r, 0, 6);
    inv->number_of_installment = (int)v_int(r, 0, 7);
    inv->installment_amount = v_int(r, 0, 8);
    inv->has_balance = !PQgetisnull(r, 0, 9);
    inv->balance_payment_amount = v_int(r, 0, 9);
    inv->description = v_dup(r, 0, 10);
    inv->billing_date = (int)v_int(r, 0, 11);
    v_copy(inv->status, sizeof inv->status, r, 0, 12);
    inv->outstanding = v_int(r, 0, 13);
    inv->accepted_at = v_int(r, 0, 14);
    inv->expires_at = v_int(r, 0, 15);
    inv->rq_uuid = v_dup(r, 0, 16);
    inv->serial = v_int(r, 0, 17);
    bool nomem = inv->doc_no == NULL || inv->member_code == NULL || inv->rq_uuid == NULL ||
                 (inv->member_name == NULL && !PQgetisnull(r, 0, 4)) ||
                 (inv->description == NULL && !PQgetisnull(r, 0, 10));
    PQclear(r);
    if (nomem) {
        store_invoice_free(inv);
        return ERR_NOMEM;
    }
    struct params q = {0};
    p_int(&q, inv->id);
    r = run(s, S_INV_VAS, &q, &e);
    if (r == NULL) {
        store_invoice_free(inv);
        return e;
    }
    for (int i = 0; i < PQntuples(r) && inv->nva < LIMIT_BANKS; i++) {
        v_copy(inv->va[inv->nva].bank_code, sizeof inv->va[0].bank_code, r, i, 0);
        v_copy(inv->va[inv->nva].va_number, sizeof inv->va[0].va_number, r, i, 1);
        inv->nva++;
    }
    PQclear(r);
    *out = inv;
    return ERR_OK;
}

/* ---- SPEC 5: banks, payments, status, closing, notifications ---- */

static enum vb_err pg_bank_add(struct store *base, const struct store_bankinfo *b)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_str(&p, b->bank_code);
    p_str(&p, b->key);
    p_str(&p, b->name);
    p_int(&p, (int64_t)time(NULL));
    enum vb_err e = run_cmd(s, S_BANKINFO_INSERT, &p, NULL);
    if (e && strcmp(s->state, "23505") == 0)
        return ERR_EXISTS;
    return e;
}

static enum vb_err pg_bank_get(struct store *base, const char *bank_code,
                               struct store_bankinfo *out)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_str(&p, bank_code);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_BANKINFO_GET, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ERR_NOTFOUND;
    }
    v_copy(out->bank_code, sizeof out->bank_code, r, 0, 0);
    v_copy(out->key, sizeof out->key, r, 0, 1);
    v_copy(out->name, sizeof out->name, r, 0, 2);
    OPENSSL_cleanse(PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1));
    PQclear(r);
    return ERR_OK;
}

/* The invoice behind a VA, optionally locked for the transaction. */
static enum vb_err va_read(struct pg *s, enum stmt_id id, const char *bank_code,
                           const char *va_number, struct store_va_view *out)
{
    struct params p = {0};
    p_str(&p, bank_code);
    p_str(&p, va_number);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, id, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ERR_NOTFOUND;
    }
    memset(out, 0, sizeof *out);
    out->invoice_id = v_int(r, 0, 0);
    out->comm_id = v_int(r, 0, 1);
    v_copy(out->comm_code, sizeof out->comm_code, r, 0, 2);
    v_copy(out->ccy, sizeof out->ccy, r, 0, 3);
    out->partial_payments = v_bool(r, 0, 4);
    v_copy(out->doc_no, sizeof out->doc_no, r, 0, 5);
    v_copy(out->member_name, sizeof out->member_name, r, 0, 6);
    v_copy(out->description, sizeof out->description, r, 0, 7);
    v_copy(out->status, sizeof out->status, r, 0, 8);
    out->amount = v_int(r, 0, 9);
    out->outstanding = v_int(r, 0, 10);
    out->expires_at = v_int(r, 0, 11);
    PQclear(r);
    return ERR_OK;
}

static enum vb_err pg_va_find(struct store *base, const char *bank_code, const char *va_number,
                              struct store_va_view *out)
{
    return va_read((struct pg *)base, S_VA_FIND, bank_code, va_number, out);
}

static enum vb_err pg_payment_get(struct store *base, const char *bank_code,
                                  const char *payment_ref, size_t ref_len,
                                  char va_number[LIMIT_VA_NUMBER_DIGITS + 1], int64_t *amount,
                                  struct buf *response)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_str(&p, bank_code);
    p_bytes(&p, payment_ref, ref_len);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_PAY_GET, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ERR_NOTFOUND;
    }
    /* binary result: text columns are their bytes, without a terminator */
    int vn = PQgetlength(r, 0, 0);
    if (vn > LIMIT_VA_NUMBER_DIGITS)
        vn = LIMIT_VA_NUMBER_DIGITS;
    memcpy(va_number, PQgetvalue(r, 0, 0), (size_t)vn);
    va_number[vn] = '\0';
    *amount = v_bin_int(r, 0, 1);
    buf_reset(response);
    e = buf_add(response, PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2));
    PQclear(r);
    return e;
}

/* Looks the payment_ref up: PAY_REPLAY / PAY_CONFLICT with its answer, or
 * ERR_NOTFOUND. */
static enum vb_err known_payment(struct pg *s, struct store_payment *p)
{
    char va[LIMIT_VA_NUMBER_DIGITS + 1];
    int64_t amount = 0;
    enum vb_err e = pg_payment_get(&s->base, p->bank_code, p->payment_ref, p->payment_ref_len, va,
                                   &amount, &p->response);
    if (e == ERR_OK)
        p->status =
            strcmp(va, p->va_number) == 0 && amount == p->amount ? PAY_REPLAY : PAY_CONFLICT;
    return e;
}

/* Inside the transaction: lock the invoice, then decide; the payment row,
 * its answer and its notification.  *raced when another transaction took
 * this payment_ref first (the caller rolls back and looks again). */
static enum vb_err apply_payment(struct pg *s, struct store_payment *p, bool *raced)
{
    enum vb_err found = va_read(s, S_VA_LOCK, p->bank_code, p->va_number, &p->inv);
    if (found && found != ERR_NOTFOUND)
        return found;
    /* after the lock: a twin of this payment on the same invoice has
     * committed by now, and this statement sees it */
    enum vb_err e = known_payment(s, p);
    if (e != ERR_NOTFOUND)
        return e;
    if (found == ERR_NOTFOUND) {
        p->status = PAY_REFUSED;
        p->refused_code = "0014";
        return ERR_OK;
    }
    p->refused_code = store_payment_refusal(p);
    if (p->refused_code) {
        p->status = PAY_REFUSED;
        return ERR_OK;
    }
    struct params g = {0};
    p_int(&g, p->inv.invoice_id);
    p_int(&g, p->amount);
    p_int(&g, p->now);
    long rows = 0;
    e = run_cmd(s, S_INV_PAY, &g, &rows);
    if (e)
        return e;
    if (rows != 1) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "payment guard refused invoice %lld",
                 (long long)p->inv.invoice_id);
        return ERR_STORE;
    }
    p->outstanding_after = p->inv.outstanding - p->amount;
    buf_reset(&p->response);
    e = p->render(p, &p->response);
    if (e)
        return e;
    struct params q = {0};
    p_str(&q, p->bank_code);
    p_bytes(&q, p->payment_ref, p->payment_ref_len);
    p_int(&q, p->inv.invoice_id);
    p_str(&q, p->va_number);
    p_int(&q, p->amount);
    p_int(&q, p->outstanding_after);
    p_int(&q, p->now);
    p_bytes(&q, p->rq_uuid, p->rq_uuid_len);
    p_bytes(&q, p->response.p, p->response.len);
    PGresult *r = run(s, S_PAY_INSERT, &q, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        *raced = true;
        return ERR_OK;
    }
    int64_t payment_id = v_int(r, 0, 0);
    PQclear(r);

    /* the notification is written in the payment's own transaction */
    struct params c = {0};
    p_int(&c, p->inv.comm_id);
    r = run(s, S_COMM_URL, &c, &e);
    if (r == NULL)
        return e;
    char url[LIMIT_URL + 1] = "";
    if (PQntuples(r) == 1)
        v_copy(url, sizeof url, r, 0, 0);
    PQclear(r);
    if (url[0]) {
        struct params nq = {0};
        p_int(&nq, payment_id);
        p_int(&nq, p->inv.invoice_id);
        p_str(&nq, url);
        p_int(&nq, p->now * 1000);
        e = run_cmd(s, S_NTF_INSERT, &nq, NULL);
        if (e)
            return e;
    }
    p->status = PAY_COMMITTED;
    return ERR_OK;
}

static enum vb_err pg_payment_apply(struct store *base, struct store_payment *p)
{
    struct pg *s = (struct pg *)base;
    enum vb_err e = ERR_OK;
    for (int attempt = 0; attempt < TXN_TRIES; attempt++) {
        p->status = PAY_FAILED;
        p->refused_code = NULL;
        bool raced = false;
        e = ctl(s, S_BEGIN);
        if (!e)
            e = apply_payment(s, p, &raced);
        if (!e && p->status == PAY_COMMITTED)
            e = ctl(s, S_COMMIT);
        if (e || p->status != PAY_COMMITTED)
            rollback(s);
        if (!e && raced) {
            e = known_payment(s, p);
            if (e == ERR_NOTFOUND)
                continue; /* the other transaction rolled back after all */
        }
        if (!e || !s->retry)
            break;
    }
    if (e) {
        p->status = PAY_FAILED;
        p->err = e;
    }
    return e;
}

static enum vb_err pg_invoice_payments(struct store *base, int64_t invoice_id,
                                       struct store_payment_row **out, size_t *n)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_int(&p, invoice_id);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_INV_PAYMENTS, &p, &e);
    if (r == NULL)
        return e;
    size_t count = (size_t)PQntuples(r);
    struct store_payment_row *rows = NULL;
    if (count) {
        rows = calloc(count, sizeof *rows);
        if (rows == NULL) {
            PQclear(r);
            return ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < count; i++) {
        struct store_payment_row *w = &rows[i];
        v_copy(w->payment_ref, sizeof w->payment_ref, r, (int)i, 0);
        v_copy(w->bank_code, sizeof w->bank_code, r, (int)i, 1);
        v_copy(w->va_number, sizeof w->va_number, r, (int)i, 2);
        w->amount = v_int(r, (int)i, 3);
        w->paid_at = v_int(r, (int)i, 4);
    }
    PQclear(r);
    *out = rows;
    *n = count;
    return ERR_OK;
}

static enum vb_err close_txn(struct pg *s, const char *comm_code, const char *doc_no,
                             size_t doc_no_len, int64_t now, const char **code)
{
    struct params p = {0};
    p_str(&p, comm_code);
    p_bytes(&p, doc_no, doc_no_len);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_INV_STATUS_LOCK, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ERR_NOTFOUND;
    }
    int64_t id = v_int(r, 0, 0);
    bool paid = strcmp(PQgetvalue(r, 0, 1), "paid") == 0;
    PQclear(r);
    if (paid) {
        *code = "0015";
        return ERR_OK;
    }
    *code = NULL;
    struct params q = {0};
    p_int(&q, id);
    p_int(&q, now);
    return run_cmd(s, S_INV_CLOSE, &q, NULL);
}

static enum vb_err pg_invoice_close(struct store *base, const char *comm_code, const char *doc_no,
                                    size_t doc_no_len, int64_t now, const char **code)
{
    struct pg *s = (struct pg *)base;
    enum vb_err e = ERR_OK;
    for (int attempt = 0; attempt < TXN_TRIES; attempt++) {
        e = ctl(s, S_BEGIN);
        if (!e)
            e = close_txn(s, comm_code, doc_no, doc_no_len, now, code);
        if (!e)
            e = ctl(s, S_COMMIT);
        if (e)
            rollback(s);
        if (!s->retry)
            break;
    }
    return e;
}

static void read_ntf(const PGresult *r, int row, struct store_notification *n)
{
    memset(n, 0, sizeof *n);
    n->id = v_int(r, row, 0);
    v_copy(n->status, sizeof n->status, r, row, 1);
    n->attempts = (int)v_int(r, row, 2);
    n->next_at_ms = v_int(r, row, 3);
    v_copy(n->last_error, sizeof n->last_error, r, row, 4);
    v_copy(n->url, sizeof n->url, r, row, 5);
    v_copy(n->comm_code, sizeof n->comm_code, r, row, 6);
    v_copy(n->key, sizeof n->key, r, row, 7);
    v_copy(n->doc_no, sizeof n->doc_no, r, row, 8);
    n->invoice_id = v_int(r, row, 9);
    v_copy(n->bank_code, sizeof n->bank_code, r, row, 10);
    v_copy(n->va_number, sizeof n->va_number, r, row, 11);
    v_copy(n->payment_ref, sizeof n->payment_ref, r, row, 12);
    n->payment_id = v_int(r, row, 13);
    n->amount = v_int(r, row, 14);
    n->paid_total = v_int(r, row, 15);
    n->outstanding = v_int(r, row, 16);
}

static void wipe_keys(PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++)
        OPENSSL_cleanse(PQgetvalue(r, i, 7), (size_t)PQgetlength(r, i, 7));
}

static enum vb_err pg_notify_claim(struct store *base, int64_t now_ms, int64_t lease_ms,
                                   struct store_notification *out)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_int(&p, now_ms);
    p_int(&p, now_ms + lease_ms);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_NTF_CLAIM, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ERR_NOTFOUND;
    }
    int64_t id = v_int(r, 0, 0);
    PQclear(r);
    struct params q = {0};
    p_int(&q, id);
    r = run(s, S_NTF_DETAIL, &q, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 1) {
        read_ntf(r, 0, out);
    } else {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "notification %lld vanished",
                 (long long)id);
        e = ERR_STORE;
    }
    wipe_keys(r);
    PQclear(r);
    return e;
}

/* The notification's new state and the attempt's row; an unknown id
 * changes nothing. */
static enum vb_err finish_txn(struct pg *s, int64_t id, bool delivered, int64_t next_at_ms,
                              const char *error, int64_t now_ms)
{
    struct params p = {0};
    p_int(&p, id);
    enum stmt_id st;
    if (delivered) {
        st = S_NTF_DELIVERED;
        p_int(&p, now_ms);
    } else if (next_at_ms >= 0) {
        st = S_NTF_RETRY;
        p_int(&p, next_at_ms);
        p_str(&p, error ? error : "");
    } else {
        st = S_NTF_FAILED;
        p_str(&p, error ? error : "");
    }
    long rows = 0;
    enum vb_err e = run_cmd(s, st, &p, &rows);
    if (e || rows != 1)
        return e;
    struct params a = {0};
    p_int(&a, id);
    p_int(&a, now_ms);
    p_bool(&a, delivered);
    p_str(&a, delivered || error == NULL ? "" : error);
    return run_cmd(s, S_ATT_INSERT, &a, NULL);
}

static enum vb_err pg_notify_finish(struct store *base, int64_t id, bool delivered,
                                    int64_t next_at_ms, const char *error, int64_t now_ms)
{
    struct pg *s = (struct pg *)base;
    enum vb_err e = ERR_OK;
    for (int attempt = 0; attempt < TXN_TRIES; attempt++) {
        e = ctl(s, S_BEGIN);
        if (!e)
            e = finish_txn(s, id, delivered, next_at_ms, error, now_ms);
        if (!e)
            e = ctl(s, S_COMMIT);
        if (e)
            rollback(s);
        if (!s->retry)
            break;
    }
    return e;
}

static enum vb_err pg_notify_list(struct store *base, bool failed_only,
                                  struct store_notification **out, size_t *n)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_int(&p, failed_only ? 1 : 0);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_NTF_LIST, &p, &e);
    if (r == NULL)
        return e;
    size_t count = (size_t)PQntuples(r);
    struct store_notification *list = NULL;
    if (count) {
        list = calloc(count, sizeof *list);
        if (list == NULL) {
            wipe_keys(r);
            PQclear(r);
            return ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < count; i++) {
        read_ntf(r, (int)i, &list[i]);
        OPENSSL_cleanse(list[i].key, sizeof list[i].key);
    }
    wipe_keys(r);
    PQclear(r);
    *out = list;
    *n = count;
    return ERR_OK;
}

/* ---- operators, sessions, the console and reports (issue 9) ---- */

static enum vb_err pg_operator_add(struct store *base, const char *name,
                                   const unsigned char token_hash[STORE_HASH_LEN], int64_t now)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_str(&p, name);
    p_bytes(&p, token_hash, STORE_HASH_LEN);
    p_int(&p, now);
    enum vb_err e = run_cmd(s, S_OP_INSERT, &p, NULL);
    if (e && strcmp(s->state, "23505") == 0)
        return ERR_EXISTS;
    return e;
}

static void read_operator(const PGresult *r, int row, struct store_operator *op)
{
    memset(op, 0, sizeof *op);
    v_copy(op->name, sizeof op->name, r, row, 0);
    op->created_at = v_int(r, row, 1);
}

static enum vb_err pg_operator_list(struct store *base, struct store_operator **out, size_t *n)
{
    struct pg *s = (struct pg *)base;
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_OP_LIST, NULL, &e);
    if (r == NULL)
        return e;
    size_t count = (size_t)PQntuples(r);
    struct store_operator *list = NULL;
    if (count) {
        list = calloc(count, sizeof *list);
        if (list == NULL) {
            PQclear(r);
            return ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < count; i++)
        read_operator(r, (int)i, &list[i]);
    PQclear(r);
    *out = list;
    *n = count;
    return ERR_OK;
}

static enum vb_err remove_txn(struct pg *s, const char *name)
{
    struct params p = {0};
    p_str(&p, name);
    enum vb_err e = run_cmd(s, S_OP_SESSIONS_DELETE, &p, NULL);
    long rows = 0;
    if (!e)
        e = run_cmd(s, S_OP_DELETE, &p, &rows);
    return !e && rows == 0 ? ERR_NOTFOUND : e;
}

static enum vb_err pg_operator_remove(struct store *base, const char *name)
{
    struct pg *s = (struct pg *)base;
    enum vb_err e = ERR_OK;
    for (int attempt = 0; attempt < TXN_TRIES; attempt++) {
        e = ctl(s, S_BEGIN);
        if (!e)
            e = remove_txn(s, name);
        if (!e)
            e = ctl(s, S_COMMIT);
        if (e)
            rollback(s);
        if (!s->retry)
            break;
    }
    return e;
}

static enum vb_err pg_operator_find(struct store *base,
                                    const unsigned char token_hash[STORE_HASH_LEN],
                                    struct store_operator *out)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_bytes(&p, token_hash, STORE_HASH_LEN);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_OP_FIND, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0)
        e = ERR_NOTFOUND;
    else
        read_operator(r, 0, out);
    PQclear(r);
    return e;
}

static enum vb_err pg_session_add(struct store *base, const unsigned char id_hash[STORE_HASH_LEN],
                                  const struct store_session *sess)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_bytes(&p, id_hash, STORE_HASH_LEN);
    p_str(&p, sess->operator_name);
    p_str(&p, sess->csrf);
    p_int(&p, sess->expires_at);
    enum vb_err e = run_cmd(s, S_SESS_INSERT, &p, NULL);
    if (e && strcmp(s->state, "23505") == 0)
        return ERR_EXISTS;
    return e;
}

static enum vb_err pg_session_get(struct store *base, const unsigned char id_hash[STORE_HASH_LEN],
                                  int64_t now, struct store_session *out)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_bytes(&p, id_hash, STORE_HASH_LEN);
    p_int(&p, now);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_SESS_GET, &p, &e);
    if (r == NULL)
        return e;
    if (PQntuples(r) == 0) {
        e = ERR_NOTFOUND;
    } else {
        memset(out, 0, sizeof *out);
        v_copy(out->operator_name, sizeof out->operator_name, r, 0, 0);
        v_copy(out->csrf, sizeof out->csrf, r, 0, 1);
        out->expires_at = v_int(r, 0, 2);
    }
    PQclear(r);
    return e;
}

static enum vb_err pg_session_remove(struct store *base,
                                     const unsigned char id_hash[STORE_HASH_LEN], int64_t now)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_bytes(&p, id_hash, STORE_HASH_LEN);
    p_int(&p, now);
    return run_cmd(s, S_SESS_DELETE, &p, NULL);
}

/* Text, or SQL NULL for NULL. */
static void p_opt_str(struct params *p, const char *s)
{
    if (s)
        p_str(p, s);
    else
        p_bytes(p, NULL, 0);
}

static enum vb_err pg_report_payments(struct store *base, const struct store_payment_filter *f,
                                      store_payment_cb row, void *ctx)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_int(&p, f->from);
    p_int(&p, f->to);
    p_opt_str(&p, f->comm_code);
    p_opt_str(&p, f->bank_code);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_REPORT_PAYMENTS, &p, &e);
    if (r == NULL)
        return e;
    struct store_report_payment w;
    for (int i = 0; i < PQntuples(r); i++) {
        memset(&w, 0, sizeof w);
        w.id = v_int(r, i, 0);
        w.paid_at = v_int(r, i, 1);
        v_copy(w.comm_code, sizeof w.comm_code, r, i, 2);
        w.invoice_id = v_int(r, i, 3);
        v_copy(w.doc_no, sizeof w.doc_no, r, i, 4);
        v_copy(w.bank_code, sizeof w.bank_code, r, i, 5);
        v_copy(w.va_number, sizeof w.va_number, r, i, 6);
        v_copy(w.payment_ref, sizeof w.payment_ref, r, i, 7);
        w.amount = v_int(r, i, 8);
        w.outstanding_after = v_int(r, i, 9);
        if (row(ctx, &w) != 0) {
            e = ERR_INVALID;
            break;
        }
    }
    PQclear(r);
    return e;
}

/* The first row of statement id into v[0..n) (NULL and no row read as
 * dflt). */
static enum vb_err values(struct pg *s, enum stmt_id id, const struct params *p, int64_t dflt,
                          int64_t *v, int n)
{
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, id, p, &e);
    if (r == NULL)
        return e;
    for (int i = 0; i < n; i++)
        v[i] = PQntuples(r) == 0 || PQgetisnull(r, 0, i) ? dflt : v_int(r, 0, i);
    PQclear(r);
    return ERR_OK;
}

/* ---- the probes of store_search ---- */

static enum vb_err probe_count(struct store *base, enum stmt_id id, const char *what, int64_t cap,
                               int64_t *n)
{
    struct params p = {0};
    p_str(&p, what);
    p_int(&p, cap);
    return values((struct pg *)base, id, &p, 0, n, 1);
}

static enum vb_err probe_count_community(struct store *base, const char *code, int64_t cap,
                                         int64_t *n)
{
    return probe_count(base, S_COUNT_COMM, code, cap, n);
}

static enum vb_err probe_count_settled(struct store *base, const char *status, int64_t cap,
                                       int64_t *n)
{
    return probe_count(base, S_COUNT_SETTLED, status, cap, n);
}

static enum vb_err probe_count_accepted(struct store *base, int64_t from, int64_t to, int64_t cap,
                                        int64_t *n)
{
    struct params p = {0};
    p_int(&p, from);
    p_int(&p, to);
    p_int(&p, cap);
    return values((struct pg *)base, S_COUNT_ACCEPTED, &p, 0, n, 1);
}

static enum vb_err probe_ttl_range(struct store *base, int64_t *min, int64_t *max)
{
    int64_t v[2];
    enum vb_err e = values((struct pg *)base, S_TTL_RANGE, NULL, -1, v, 2);
    *min = v[0];
    *max = v[1];
    return e;
}

static enum vb_err probe_ends(struct store *base, int64_t *first, int64_t *last, int64_t *max_id)
{
    int64_t v[3];
    enum vb_err e = values((struct pg *)base, S_INVOICE_ENDS, NULL, 0, v, 3);
    *first = v[0];
    *last = v[1];
    *max_id = v[2];
    return e;
}

static enum vb_err probe_time(struct store *base, enum stmt_id id, int64_t t, int64_t dflt,
                              int64_t *out)
{
    struct params p = {0};
    p_int(&p, t);
    return values((struct pg *)base, id, &p, dflt, out, 1);
}

static enum vb_err probe_id_before(struct store *base, int64_t t, int64_t *id)
{
    return probe_time(base, S_ACCEPTED_TOP, t, 0, id);
}

static enum vb_err probe_id_from(struct store *base, int64_t t, int64_t *id)
{
    return probe_time(base, S_ACCEPTED_BOTTOM, t, INT64_MAX, id);
}

static enum vb_err probe_range(struct store *base, enum stmt_id id, int64_t from, int64_t to,
                               int64_t dflt, int64_t *out)
{
    struct params p = {0};
    p_int(&p, from);
    p_int(&p, to);
    return values((struct pg *)base, id, &p, dflt, out, 1);
}

static enum vb_err probe_min_id(struct store *base, int64_t from, int64_t to, int64_t *id)
{
    return probe_range(base, S_ACCEPTED_MIN_ID, from, to, INT64_MAX, id);
}

static enum vb_err probe_max_id(struct store *base, int64_t from, int64_t to, int64_t *id)
{
    return probe_range(base, S_ACCEPTED_MAX_ID, from, to, 0, id);
}

static const struct store_search_probes probes = {
    probe_count_community, probe_count_settled, probe_count_accepted, probe_ttl_range, probe_ends,
    probe_id_before,       probe_id_from,       probe_min_id,         probe_max_id,
};

static const enum stmt_id search_stmt[] = {
    [SEARCH_BY_Q] = S_SEARCH_Q,
    [SEARCH_WALK] = S_SEARCH_ID,
    [SEARCH_WALK_SETTLED] = S_SEARCH_SETTLED,
    [SEARCH_BY_ACCEPTED] = S_SEARCH_ACCEPTED,
    [SEARCH_BY_COMMUNITY] = S_SEARCH_COMM,
};

/* One run of a search; *n counts the rows handed to row. */
static enum vb_err search_run(struct pg *s, const struct store_search_plan *plan,
                              const struct store_invoice_filter *f, store_invoice_cb row, void *ctx,
                              int64_t *n)
{
    struct params p = {0};
    p_opt_str(&p, f->q);
    p_opt_str(&p, f->comm_code);
    p_opt_str(&p, f->status);
    p_int(&p, f->now);
    p_int(&p, plan->from);
    p_int(&p, plan->to);
    p_int(&p, plan->below);
    if (plan->limit >= 0)
        p_int(&p, plan->limit);
    else
        p_bytes(&p, NULL, 0); /* LIMIT NULL: none */
    p_int(&p, plan->lo);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, search_stmt[plan->driver], &p, &e);
    if (r == NULL)
        return e;
    *n = 0;
    struct store_invoice_row w;
    for (int i = 0; i < PQntuples(r); i++) {
        memset(&w, 0, sizeof w);
        w.id = v_int(r, i, 0);
        v_copy(w.comm_code, sizeof w.comm_code, r, i, 1);
        v_copy(w.doc_no, sizeof w.doc_no, r, i, 2);
        v_copy(w.member_code, sizeof w.member_code, r, i, 3);
        v_copy(w.member_name, sizeof w.member_name, r, i, 4);
        w.amount = v_int(r, i, 5);
        w.outstanding = v_int(r, i, 6);
        v_copy(w.status, sizeof w.status, r, i, 7);
        w.accepted_at = v_int(r, i, 8);
        w.expires_at = v_int(r, i, 9);
        (*n)++;
        if (row(ctx, &w) != 0) {
            e = ERR_INVALID;
            break;
        }
    }
    PQclear(r);
    return e;
}

static enum vb_err pg_invoice_search(struct store *base, const struct store_invoice_filter *f,
                                     store_invoice_cb row, void *ctx)
{
    struct pg *s = (struct pg *)base;
    struct store_search_plan p;
    bool none = false, again = true;
    enum vb_err e = store_search_plan(base, &probes, f, &p, &none);
    if (e || none)
        return e;
    while (!e && again) {
        int64_t n = 0;
        e = search_run(s, &p, f, row, ctx, &n);
        if (!e)
            e = store_search_next(base, &probes, &p, n, &again);
    }
    return e;
}

static enum vb_err pg_overview(struct store *base, int64_t day_from, int64_t day_to, int64_t now,
                               struct store_overview *out)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_int(&p, day_from);
    p_int(&p, day_to);
    p_int(&p, now);
    int64_t v[9];
    enum vb_err e = values(s, S_OVERVIEW, &p, 0, v, 9);
    if (e)
        return e;
    memset(out, 0, sizeof *out);
    out->accepted = v[0];
    out->open = v[1];
    out->expired = v[2];
    out->paid = v[3];
    out->closed = v[4];
    out->payments = v[5];
    out->paid_amount = v[6];
    out->notifications_pending = v[7];
    out->notifications_failed = v[8];
    return ERR_OK;
}

static enum vb_err pg_invoice_notifications(struct store *base, int64_t invoice_id,
                                            struct store_notification **ntf, size_t *nntf,
                                            struct store_ntf_attempt **att, size_t *natt)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_int(&p, invoice_id);
    enum vb_err e = ERR_OK;
    PGresult *r = run(s, S_NTF_OF_INVOICE, &p, &e);
    if (r == NULL)
        return e;
    size_t n = (size_t)PQntuples(r);
    struct store_notification *list = NULL;
    if (n && (list = calloc(n, sizeof *list)) == NULL)
        e = ERR_NOMEM;
    for (size_t i = 0; !e && i < n; i++) {
        read_ntf(r, (int)i, &list[i]);
        OPENSSL_cleanse(list[i].key, sizeof list[i].key);
    }
    wipe_keys(r);
    PQclear(r);
    if (e)
        return e;
    struct store_ntf_attempt *attempts = NULL;
    size_t na = 0;
    if (n > 0) {
        struct params q = {0};
        p_int(&q, invoice_id);
        p_int(&q, list[n - 1].id);
        r = run(s, S_ATT_OF_INVOICE, &q, &e);
        if (r == NULL) {
            free(list);
            return e;
        }
        na = (size_t)PQntuples(r);
        if (na && (attempts = calloc(na, sizeof *attempts)) == NULL) {
            PQclear(r);
            free(list);
            return ERR_NOMEM;
        }
        for (size_t i = 0; i < na; i++) {
            struct store_ntf_attempt *a = &attempts[i];
            a->notification_id = v_int(r, (int)i, 0);
            a->at_ms = v_int(r, (int)i, 1);
            a->delivered = v_bool(r, (int)i, 2);
            v_copy(a->error, sizeof a->error, r, (int)i, 3);
        }
        PQclear(r);
    }
    *ntf = list;
    *nntf = n;
    *att = attempts;
    *natt = na;
    return ERR_OK;
}

static enum vb_err pg_notify_retry(struct store *base, int64_t id, int64_t now_ms)
{
    struct pg *s = (struct pg *)base;
    struct params p = {0};
    p_int(&p, id);
    p_int(&p, now_ms);
    long rows = 0;
    enum vb_err e = run_cmd(s, S_NTF_REQUEUE, &p, &rows);
    if (!e && rows == 0)
        return ERR_NOTFOUND;
    return e;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .ping = pg_ping,
    .community_get = pg_community_get,
    .community_add = pg_community_add,
    .community_list = pg_community_list,
    .community_set_enabled = pg_community_set_enabled,
    .community_set_key = pg_community_set_key,
    .request_get = pg_request_get,
    .commit_units = pg_commit_units,
    .invoice_get = pg_invoice_get,
    .bank_add = pg_bank_add,
    .bank_get = pg_bank_get,
    .va_find = pg_va_find,
    .payment_get = pg_payment_get,
    .payment_apply = pg_payment_apply,
    .invoice_payments = pg_invoice_payments,
    .invoice_close = pg_invoice_close,
    .notify_claim = pg_notify_claim,
    .notify_finish = pg_notify_finish,
    .notify_list = pg_notify_list,
    .operator_add = pg_operator_add,
    .operator_list = pg_operator_list,
    .operator_remove = pg_operator_remove,
    .operator_find = pg_operator_find,
    .session_add = pg_session_add,
    .session_get = pg_session_get,
    .session_remove = pg_session_remove,
    .report_payments = pg_report_payments,
    .invoice_search = pg_invoice_search,
    .overview = pg_overview,
    .invoice_notifications = pg_invoice_notifications,
    .notify_retry = pg_notify_retry,
};
