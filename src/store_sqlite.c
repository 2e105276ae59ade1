/*
 * store_sqlite: the embedded SQLite backend of the storage interface.
 *
 * One connection per struct store; a connection is used by one thread at a
 * time.  WAL with synchronous=FULL: a COMMIT returns only after the WAL is
 * fsynced, so an answer never leaves before its data is durable.  Writers
 * take the write lock up front (BEGIN IMMEDIATE) and wait at most
 * LIMIT_BUSY_MS for it; past that the request answers 0099.  Every SQL
 * statement is prepared once per connection and bound, never formatted.
 */
#include "store.h"

#include <fcntl.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_search.h"
#include "va.h"

/* Schema migrations: element k takes the schema from version k to k + 1.
 * Numbered the same way for every backend. */
static const char *const migrations[] = {
    /* 1: communities, bank channels, invoices with their life, VA numbers,
     * remembered answers */
    "CREATE TABLE community ("
    " id INTEGER PRIMARY KEY,"
    " code TEXT NOT NULL UNIQUE,"
    " sig_key TEXT NOT NULL,"
    " ccy TEXT NOT NULL,"
    " va_length INTEGER NOT NULL,"
    " va_ttl_min INTEGER NOT NULL,"
    " enabled INTEGER NOT NULL DEFAULT 1,"
    " next_serial INTEGER NOT NULL DEFAULT 1,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE bank_channel ("
    " community_id INTEGER NOT NULL REFERENCES community(id),"
    " bank_code TEXT NOT NULL,"
    " prefix TEXT NOT NULL,"
    " PRIMARY KEY (community_id, bank_code));"
    "CREATE INDEX bank_channel_bank ON bank_channel(bank_code, prefix);"
    "CREATE TABLE invoice ("
    " id INTEGER PRIMARY KEY,"
    " community_id INTEGER NOT NULL REFERENCES community(id),"
    " doc_no TEXT NOT NULL,"
    " member_code TEXT NOT NULL,"
    " member_name TEXT,"
    " amount INTEGER NOT NULL,"
    " total_amount INTEGER NOT NULL,"
    " number_of_installment INTEGER NOT NULL,"
    " installment_amount INTEGER NOT NULL,"
    " balance_payment_amount INTEGER,"
    " description TEXT,"
    " billing_date INTEGER NOT NULL,"
    " serial INTEGER NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'closed')),"
    " outstanding INTEGER NOT NULL CHECK (outstanding >= 0),"
    " accepted_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " rq_uuid TEXT NOT NULL,"
    " UNIQUE (community_id, doc_no),"
    " UNIQUE (community_id, serial));"
    "CREATE TABLE va ("
    " bank_code TEXT NOT NULL,"
    " va_number TEXT NOT NULL,"
    " invoice_id INTEGER NOT NULL REFERENCES invoice(id),"
    " PRIMARY KEY (bank_code, va_number)) WITHOUT ROWID;"
    "CREATE INDEX va_invoice ON va(invoice_id);"
    "CREATE TABLE request ("
    " community_id INTEGER NOT NULL REFERENCES community(id),"
    " rq_uuid TEXT NOT NULL,"
    " payload_hash BLOB NOT NULL,"
    " response BLOB NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY (community_id, rq_uuid));",
    /* 2: the rest of a VA's life (SPEC 5): banks, payments, the partner
     * notification outbox; community options for notifications and
     * partial payments */
    "ALTER TABLE community ADD COLUMN notify_url TEXT;"
    "ALTER TABLE community ADD COLUMN partial_payments INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE invoice ADD COLUMN closed_at INTEGER;"
    "CREATE TABLE bank ("
    " bank_code TEXT PRIMARY KEY,"
    " sig_key TEXT NOT NULL,"
    " name TEXT,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE payment ("
    " id INTEGER PRIMARY KEY,"
    " bank_code TEXT NOT NULL,"
    " payment_ref TEXT NOT NULL,"
    " invoice_id INTEGER NOT NULL REFERENCES invoice(id),"
    " va_number TEXT NOT NULL,"
    " amount INTEGER NOT NULL CHECK (amount > 0),"
    " outstanding_after INTEGER NOT NULL CHECK (outstanding_after >= 0),"
    " paid_at INTEGER NOT NULL,"
    " rq_uuid TEXT NOT NULL,"
    " response BLOB NOT NULL,"
    " UNIQUE (bank_code, payment_ref));"
    "CREATE INDEX payment_invoice ON payment(invoice_id, id);"
    "CREATE TABLE notification ("
    " id INTEGER PRIMARY KEY,"
    " payment_id INTEGER NOT NULL UNIQUE REFERENCES payment(id),"
    " invoice_id INTEGER NOT NULL REFERENCES invoice(id),"
    " url TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'pending'"
    "  CHECK (status IN ('pending', 'delivered', 'failed')),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at INTEGER NOT NULL,"               /* milliseconds */
    " lease_until INTEGER NOT NULL DEFAULT 0," /* milliseconds */
    " last_error TEXT,"
    " created_at INTEGER NOT NULL,"
    " delivered_at INTEGER);"
    "CREATE INDEX notification_due ON notification(status, next_at);"
    "CREATE INDEX notification_invoice ON notification(invoice_id, id);",
    /* 3: key rotation with a grace period for the previous key */
    "ALTER TABLE community ADD COLUMN old_key TEXT;"
    " ALTER TABLE community"
    " ADD COLUMN old_key_until INTEGER NOT NULL DEFAULT 0;",
    /* 4: operators of the console and admin API, their sessions, the
     * delivery attempts of notifications, and the indexes of the console's
     * searches and reports (issue 9). */
    "CREATE TABLE operator ("
    " name TEXT PRIMARY KEY,"
    " token_hash BLOB NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE session ("
    " id_hash BLOB PRIMARY KEY,"
    " operator_name TEXT NOT NULL,"
    " csrf TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL);"
    "CREATE INDEX session_operator ON session(operator_name);"
    "CREATE TABLE notification_attempt ("
    " id INTEGER PRIMARY KEY,"
    " notification_id INTEGER NOT NULL REFERENCES notification(id),"
    " at_ms INTEGER NOT NULL,"
    " delivered INTEGER NOT NULL,"
    " error TEXT);"
    "CREATE INDEX notification_attempt_ntf ON notification_attempt(notification_id);"
    "CREATE INDEX invoice_member ON invoice(member_code);"
    "CREATE INDEX invoice_accepted ON invoice(accepted_at);"
    /* paid and closed invoices only: a new invoice is open, so the
     * sendinvoice path never writes it */
    "CREATE INDEX invoice_settled ON invoice(status) WHERE status <> 'open';"
    "CREATE INDEX payment_paid ON payment(paid_at);",
    /* 5: the status CHECKs as comparisons: rewrite_status_checks() */
    "",
    /* 6: VA numbers are derived from channel and serial (VA_INVOICE), not
     * stored: two b-tree inserts per VA number were half of a batch's
     * storage step */
    "DROP INDEX va_invoice; DROP TABLE va;",
};
#define NMIGRATIONS             ((int)(sizeof migrations / sizeof migrations[0]))
#define MIGRATION_STATUS_CHECKS 5

/*
 * SQLite codes an IN list of three or more constants as an ephemeral table,
 * and in a CHECK it builds and clears that table for every row written: a
 * fifth of the cost of inserting a batch of invoices.  The same condition
 * written as comparisons costs a few instructions.  Only the schema's text
 * changes (every stored row satisfies both forms), so migration 5 edits it
 * in place, as SQLite's documentation describes for changing a CHECK
 * ("Making Other Kinds Of Table Schema Changes", lang_altertable.html):
 * writable_schema, the new text, the schema cookie incremented so every
 * connection reloads it.  Instant on any size of database, unlike copying
 * the table.
 */
static const struct {
    const char *table, *from, *to;
} status_checks[] = {
    {"invoice", "CHECK (status IN ('open', 'paid', 'closed'))",
     "CHECK (status = 'open' OR status = 'paid' OR status = 'closed')"},
    {"notification", "CHECK (status IN ('pending', 'delivered', 'failed'))",
     "CHECK (status = 'pending' OR status = 'delivered' OR status = 'failed')"},
};

/* A notification with what delivering it needs (columns read by read_ntf). */
#define NTF_SELECT                                                                                 \
    "SELECT n.id, n.status, n.attempts, n.next_at, coalesce(n.last_error, ''), n.url, c.code,"     \
    " c.sig_key, i.doc_no, i.id, p.bank_code, p.va_number, p.payment_ref, p.id, p.amount,"         \
    " i.amount - p.outstanding_after, p.outstanding_after FROM notification n"                     \
    " JOIN payment p ON p.id = n.payment_id JOIN invoice i ON i.id = n.invoice_id"                 \
    " JOIN community c ON c.id = i.community_id"

/*
 * The console's invoice search (invoice_search).  Parameters: ?1 q, ?2
 * comm_code, ?3 status, ?4 now, ?5 from, ?6 to (INT64_MAX: no bound), ?7 the
 * id every row is below (before_id), ?8 limit (-1: none), ?9 the lowest id
 * that can match (0: any).  One statement per driver of store_search.h;
 * the filters that do not drive are written so that no index is used for
 * them (unary +), and CROSS JOIN keeps invoice the outer loop.
 */
#define INV_ROW                                                                                    \
    "SELECT i.id, c.code, i.doc_no, i.member_code, coalesce(i.member_name, ''), i.amount,"         \
    " i.outstanding, i.status, i.accepted_at, i.expires_at FROM invoice i"
#define INV_COMMUNITY " CROSS JOIN community c ON c.id = i.community_id"
#define INV_COMM_ANY                                                                               \
    " AND (?2 IS NULL OR +i.community_id = (SELECT id FROM community WHERE code = ?2))"
#define INV_RANGE_ANY " AND +i.accepted_at >= ?5 AND +i.accepted_at < ?6"
#define INV_STATUS                                                                                 \
    " AND (?3 IS NULL OR (i.status = CASE ?3 WHEN 'expired' THEN 'open' ELSE ?3 END"               \
    " AND (?3 <> 'open' OR i.expires_at >= ?4) AND (?3 <> 'expired' OR i.expires_at < ?4)))"
#define INV_PAGE " AND i.id < ?7 AND i.id >= ?9 ORDER BY i.id DESC LIMIT ?8"

/* The rows of a capped count: at most ?N rows are looked at. */
#define COUNT_CAPPED(rows) "SELECT count(*) FROM (SELECT 1 FROM " rows ")"

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_PING,
    S_COMM_GET,
    S_COMM_BANKS,
    S_COMM_LIST,
    S_COMM_ENABLE,
    S_COMM_SET_KEY,
    S_COMM_INSERT,
    S_BANK_INSERT,
    S_PREFIX_COLLIDE,
    S_REQ_GET,
    S_REQ_INSERT,
    S_SERIAL_GET,
    S_SERIAL_SET,
    S_INV_MAX_ID,
    S_INV_GET,
    S_INV_VAS,
    S_BANKINFO_INSERT,
    S_BANKINFO_GET,
    S_VA_FIND,
    S_PAY_GET,
    S_INV_PAY,
    S_PAY_INSERT,
    S_NTF_INSERT,
    S_INV_PAYMENTS,
    S_INV_STATUS,
    S_INV_CLOSE,
    S_NTF_DUE,
    S_NTF_LEASE,
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
    S_ACCEPTED_MAX_ID,
    S_ACCEPTED_MIN_ID,
    S_OVERVIEW,
    S_NTF_OF_INVOICE,
    S_ATT_OF_INVOICE,
    S_ATT_INSERT,
    S_NTF_REQUEUE,
    S_COUNT
};

/*
 * VA numbers are not stored: a VA number is its channel's prefix, the
 * invoice's serial and a check digit (SPEC 2), channels are fixed when a
 * community is added, and on one bank no prefix starts another.  So
 * (bank_code, va_number) names one channel at most, among those whose
 * prefix is one of the VA number's first 1..LIMIT_PREFIX digits, and the
 * serial in it names one invoice of that channel's community
 * (va_serial(): NULL unless the VA number is exactly what va_format makes).
 */
#if LIMIT_PREFIX != 12
#error "VA_PREFIXES lists LIMIT_PREFIX prefixes"
#endif
#define VA_PREFIXES(p)                                                                             \
    "substr(" p ", 1, 1), substr(" p ", 1, 2), substr(" p ", 1, 3), substr(" p ", 1, 4),"          \
    " substr(" p ", 1, 5), substr(" p ", 1, 6), substr(" p ", 1, 7), substr(" p ", 1, 8),"         \
    " substr(" p ", 1, 9), substr(" p ", 1, 10), substr(" p ", 1, 11), substr(" p ", 1, 12)"
/* the invoice of channel b (community c) that VA number p stands for */
#define VA_INVOICE(p)                                                                              \
    " JOIN invoice i ON i.community_id = b.community_id"                                           \
    " AND i.serial = va_serial(b.prefix, c.va_length, " p ")"

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT unit",
    [S_RELEASE] = "RELEASE unit",
    [S_ROLLBACK_TO] = "ROLLBACK TO unit",
    [S_PING] = "SELECT 1",
    [S_COMM_GET] = "SELECT id, code, sig_key, ccy, va_length, va_ttl_min, enabled, next_serial,"
                   " coalesce(notify_url, ''), partial_payments, coalesce(old_key, ''),"
                   " old_key_until FROM community WHERE code = ?1",
    [S_COMM_BANKS] = "SELECT bank_code, prefix FROM bank_channel WHERE community_id = ?1"
                     " ORDER BY bank_code",
    [S_COMM_LIST] = "SELECT code FROM community ORDER BY code",
    [S_COMM_SET_KEY] = "UPDATE community SET old_key = sig_key, old_key_until = ?3, sig_key = ?2"
                       " WHERE code = ?1",
    [S_COMM_ENABLE] = "UPDATE community SET enabled = ?2 WHERE code = ?1",
    [S_COMM_INSERT] = "INSERT INTO community (code, sig_key, ccy, va_length, va_ttl_min, "
                      "enabled, next_serial, created_at, notify_url, partial_payments)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, 1, 1, ?6, nullif(?7, ''), ?8)",
    [S_BANK_INSERT] = "INSERT INTO bank_channel (community_id, bank_code, prefix)"
                      " VALUES (?1, ?2, ?3)",
    [S_PREFIX_COLLIDE] = "SELECT c.code, b.prefix FROM bank_channel b"
                         " JOIN community c ON c.id = b.community_id"
                         " WHERE b.bank_code = ?1 AND (substr(?2, 1, length(b.prefix)) = b.prefix"
                         " OR substr(b.prefix, 1, length(?2)) = ?2) LIMIT 1",
    [S_REQ_GET] = "SELECT payload_hash, response FROM request"
                  " WHERE community_id = ?1 AND rq_uuid = ?2",
    [S_REQ_INSERT] = "INSERT INTO request (community_id, rq_uuid, payload_hash, response, "
                     "created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_SERIAL_GET] = "SELECT next_serial FROM community WHERE id = ?1",
    [S_SERIAL_SET] = "UPDATE community SET next_serial = ?2 WHERE id = ?1",
    /* the ids the next invoices get: max + 1 is also what SQLite would
     * choose for them (no AUTOINCREMENT) */
    [S_INV_MAX_ID] = "SELECT coalesce(max(id), 0) FROM invoice",
    [S_INV_GET] = "SELECT i.id, c.code, i.doc_no, i.member_code, i.member_name, i.amount,"
                  " i.total_amount, i.number_of_installment, i.installment_amount,"
                  " i.balance_payment_amount, i.description, i.billing_date, i.status,"
                  " i.outstanding, i.accepted_at, i.expires_at, i.rq_uuid, i.serial"
                  " FROM invoice i JOIN community c ON c.id = i.community_id"
                  " WHERE c.code = ?1 AND i.doc_no = ?2",
    /* an invoice's VA numbers: one per bank channel of its community, all
     * with its serial (channels are fixed when the community is added) */
    [S_INV_VAS] = "SELECT b.bank_code, b.prefix, c.va_length FROM invoice i"
                  " JOIN community c ON c.id = i.community_id"
                  " JOIN bank_channel b ON b.community_id = c.id WHERE i.id = ?1"
                  " ORDER BY b.bank_code",
    [S_BANKINFO_INSERT] = "INSERT INTO bank (bank_code, sig_key, name, created_at)"
                          " VALUES (?1, ?2, nullif(?3, ''), ?4)",
    [S_BANKINFO_GET] =
        "SELECT bank_code, sig_key, coalesce(name, '') FROM bank WHERE bank_code = ?1",
    /* the channel whose prefix starts the VA number (one at most: SPEC 2),
     * then the invoice with the serial it encodes */
    /* (the macros sit in the text where they join) */
    /* clang-format off */
    [S_VA_FIND] = "SELECT i.id, c.id, c.code, c.ccy, c.partial_payments, i.doc_no,"
                  " coalesce(i.member_name, ''), coalesce(i.description, ''), i.status, i.amount,"
                  " i.outstanding, i.expires_at FROM bank_channel b"
                  " JOIN community c ON c.id = b.community_id"
                  VA_INVOICE("?2")
                  " WHERE b.bank_code = ?1 AND b.prefix IN (" VA_PREFIXES("?2") ")",
    /* clang-format on */
    [S_PAY_GET] = "SELECT va_number, amount, response FROM payment"
                  " WHERE bank_code = ?1 AND payment_ref = ?2",
    /* the guard in WHERE is what keeps racing payments from taking more
     * than the outstanding amount; CHECK (outstanding >= 0) backs it */
    [S_INV_PAY] = "UPDATE invoice SET outstanding = outstanding - ?2,"
                  " status = CASE WHEN outstanding = ?2 THEN 'paid' ELSE 'open' END"
                  " WHERE id = ?1 AND status = 'open' AND outstanding >= ?2 AND expires_at >= ?3",
    [S_PAY_INSERT] = "INSERT INTO payment (bank_code, payment_ref, invoice_id, va_number, amount,"
                     " outstanding_after, paid_at, rq_uuid, response)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_NTF_INSERT] = "INSERT INTO notification (payment_id, invoice_id, url, next_at, created_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?4)",
    [S_INV_PAYMENTS] = "SELECT payment_ref, bank_code, va_number, amount, paid_at FROM payment"
                       " WHERE invoice_id = ?1 ORDER BY id",
    [S_INV_STATUS] = "SELECT i.id, i.status FROM invoice i JOIN community c"
                     " ON c.id = i.community_id WHERE c.code = ?1 AND i.doc_no = ?2",
    [S_INV_CLOSE] = "UPDATE invoice SET status = 'closed', closed_at = ?2"
                    " WHERE id = ?1 AND status = 'open'",
    [S_NTF_DUE] = "SELECT n.id FROM notification n"
                  " WHERE n.status = 'pending' AND n.next_at <= ?1 AND n.lease_until <= ?1"
                  " AND NOT EXISTS (SELECT 1 FROM notification o WHERE o.invoice_id = n.invoice_id"
                  " AND o.status = 'pending' AND o.id < n.id)"
                  " ORDER BY n.next_at, n.id LIMIT 1",
    [S_NTF_LEASE] = "UPDATE notification SET lease_until = ?2 WHERE id = ?1",
    [S_NTF_DETAIL] = NTF_SELECT " WHERE n.id = ?1",
    [S_NTF_DELIVERED] = "UPDATE notification SET status = 'delivered', attempts = attempts + 1,"
                        " delivered_at = ?2, lease_until = 0, last_error = NULL WHERE id = ?1",
    [S_NTF_RETRY] = "UPDATE notification SET attempts = attempts + 1, next_at = ?2,"
                    " lease_until = 0, last_error = ?3 WHERE id = ?1",
    [S_NTF_FAILED] = "UPDATE notification SET status = 'failed', attempts = attempts + 1,"
                     " lease_until = 0, last_error = ?2 WHERE id = ?1",
    [S_NTF_LIST] = NTF_SELECT " WHERE ?1 = 0 OR n.status = 'failed' ORDER BY n.id",
    [S_OP_INSERT] = "INSERT INTO operator (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
    [S_OP_LIST] = "SELECT name, created_at FROM operator ORDER BY name",
    [S_OP_SESSIONS_DELETE] = "DELETE FROM session WHERE operator_name = ?1",
    [S_OP_DELETE] = "DELETE FROM operator WHERE name = ?1",
    [S_OP_FIND] = "SELECT name, created_at FROM operator WHERE token_hash = ?1",
    [S_SESS_INSERT] = "INSERT INTO session (id_hash, operator_name, csrf, expires_at)"
                      " VALUES (?1, ?2, ?3, ?4)",
    /* the join: a session outlives nothing of its operator's */
    [S_SESS_GET] = "SELECT s.operator_name, s.csrf, s.expires_at FROM session s"
                   " JOIN operator o ON o.name = s.operator_name"
                   " WHERE s.id_hash = ?1 AND s.expires_at > ?2",
    [S_SESS_DELETE] = "DELETE FROM session WHERE id_hash = ?1 OR expires_at <= ?2",
    /* payment_paid holds (paid_at, rowid): the rows come in report order */
    [S_REPORT_PAYMENTS] =
        "SELECT p.id, p.paid_at, c.code, i.id, i.doc_no, p.bank_code, p.va_number, p.payment_ref,"
        " p.amount, p.outstanding_after FROM payment p INDEXED BY payment_paid"
        " CROSS JOIN invoice i ON i.id = p.invoice_id"
        " CROSS JOIN community c ON c.id = i.community_id"
        " WHERE p.paid_at >= ?1 AND p.paid_at < ?2 AND (?3 IS NULL OR c.code = ?3)"
        " AND (?4 IS NULL OR p.bank_code = ?4) ORDER BY p.paid_at, p.id",
    /* q: an exact doc_no (the unique (community_id, doc_no) index, probed
     * once per community), VA number (the channels its prefixes name, then
     * the (community_id, serial) index) or member_code (invoice_member) */
    /* clang-format off */
    [S_SEARCH_Q] = INV_ROW INV_COMMUNITY
    " WHERE i.id IN (SELECT id FROM invoice WHERE community_id IN (SELECT id FROM community)"
    " AND doc_no = ?1"
    " UNION SELECT i.id FROM bank_channel b JOIN community c ON c.id = b.community_id"
    VA_INVOICE("?1")
    " WHERE b.bank_code IN (SELECT DISTINCT bank_code FROM bank_channel)"
    " AND b.prefix IN (" VA_PREFIXES("?1") ")"
    " UNION SELECT id FROM invoice WHERE member_code = ?1)"
    INV_COMM_ANY INV_RANGE_ANY INV_STATUS INV_PAGE,
    /* clang-format on */
    /* newest first along the primary key */
    [S_SEARCH_ID] = INV_ROW " NOT INDEXED" INV_COMMUNITY
                            " WHERE 1" INV_COMM_ANY INV_RANGE_ANY INV_STATUS INV_PAGE,
    /* the rows accepted in [from, to), few enough to sort */
    [S_SEARCH_ACCEPTED] = INV_ROW
    " INDEXED BY invoice_accepted" INV_COMMUNITY
    " WHERE i.accepted_at >= ?5 AND i.accepted_at < ?6" INV_COMM_ANY INV_STATUS INV_PAGE,
    /* the rows of one community, few enough to sort */
    [S_SEARCH_COMM] = INV_ROW INV_COMMUNITY
    " WHERE i.community_id = (SELECT id FROM community WHERE code = ?2)" INV_RANGE_ANY INV_STATUS
        INV_PAGE,
    /* the paid or closed ones along invoice_settled, which holds
     * (status, rowid): in id order */
    [S_SEARCH_SETTLED] =
        INV_ROW " INDEXED BY invoice_settled" INV_COMMUNITY
                " WHERE i.status = ?3 AND i.status <> 'open'" INV_COMM_ANY INV_RANGE_ANY INV_PAGE,
    [S_COUNT_ACCEPTED] = COUNT_CAPPED("invoice INDEXED BY invoice_accepted"
                                      " WHERE accepted_at >= ?1 AND accepted_at < ?2 LIMIT ?3"),
    [S_COUNT_COMM] = COUNT_CAPPED("invoice WHERE community_id ="
                                  " (SELECT id FROM community WHERE code = ?1) LIMIT ?2"),
    [S_COUNT_SETTLED] = COUNT_CAPPED("invoice INDEXED BY invoice_settled"
                                     " WHERE status = ?1 AND status <> 'open' LIMIT ?2"),
    [S_TTL_RANGE] = "SELECT min(va_ttl_min), max(va_ttl_min) FROM community",
    /* index endpoints, one probe each */
    [S_INVOICE_ENDS] = "SELECT (SELECT min(accepted_at) FROM invoice),"
                       " (SELECT max(accepted_at) FROM invoice), (SELECT max(id) FROM invoice)",
    [S_ACCEPTED_TOP] = "SELECT id FROM invoice INDEXED BY invoice_accepted"
                       " WHERE accepted_at < ?1 ORDER BY accepted_at DESC, id DESC LIMIT 1",
    [S_ACCEPTED_BOTTOM] = "SELECT id FROM invoice INDEXED BY invoice_accepted"
                          " WHERE accepted_at >= ?1 ORDER BY accepted_at, id LIMIT 1",
    /* these read every index entry of the range (and nothing else) */
    [S_ACCEPTED_MAX_ID] = "SELECT max(id) FROM invoice INDEXED BY invoice_accepted"
                          " WHERE accepted_at >= ?1 AND accepted_at < ?2",
    [S_ACCEPTED_MIN_ID] = "SELECT min(id) FROM invoice INDEXED BY invoice_accepted"
                          " WHERE accepted_at >= ?1 AND accepted_at < ?2",
    [S_OVERVIEW] =
        "SELECT a.n, a.open, a.expired, a.paid, a.closed, p.n, p.amount, n.pending, n.failed"
        " FROM (SELECT count(*) AS n,"
        " coalesce(sum(status = 'open' AND expires_at >= ?3), 0) AS open,"
        " coalesce(sum(status = 'open' AND expires_at < ?3), 0) AS expired,"
        " coalesce(sum(status = 'paid'), 0) AS paid,"
        " coalesce(sum(status = 'closed'), 0) AS closed"
        " FROM invoice WHERE accepted_at >= ?1 AND accepted_at < ?2) a,"
        " (SELECT count(*) AS n, coalesce(sum(amount), 0) AS amount FROM payment"
        " WHERE paid_at >= ?1 AND paid_at < ?2) p,"
        " (SELECT (SELECT count(*) FROM notification WHERE status = 'pending') AS pending,"
        " (SELECT count(*) FROM notification WHERE status = 'failed') AS failed) n",
    [S_NTF_OF_INVOICE] = NTF_SELECT " WHERE n.invoice_id = ?1 ORDER BY n.id",
    /* ?2: the last notification listed, so no attempt of a newer one shows */
    [S_ATT_OF_INVOICE] = "SELECT a.notification_id, a.at_ms, a.delivered, coalesce(a.error, '')"
                         " FROM notification n"
                         " JOIN notification_attempt a ON a.notification_id = n.id"
                         " WHERE n.invoice_id = ?1 AND n.id <= ?2 ORDER BY a.at_ms, a.id",
    [S_ATT_INSERT] = "INSERT INTO notification_attempt (notification_id, at_ms, delivered, error)"
                     " VALUES (?1, ?2, ?3, nullif(?4, ''))",
    [S_NTF_REQUEUE] = "UPDATE notification SET status = 'pending', next_at = ?2, lease_until = 0"
                      " WHERE id = ?1 AND status = 'failed'",
};

/*
 * Checkpoints in the background.  SQLite's automatic checkpoint runs inside
 * the COMMIT that takes the WAL past 1000 pages, under the write lock: a
 * tenth of the writer's time at full load, copying pages into the database
 * file and fsyncing it while every request waits.  Instead every connection's
 * WAL hook wakes this thread, which runs PASSIVE checkpoints on a connection
 * of its own (they never block writers or readers).  The WAL starts over
 * only after a checkpoint has caught up with it, which a pass running beside
 * a stream of commits rarely does; so each pass is followed by a second one
 * with this process's writers held off (write_mu), which copies only what
 * was committed during the first (1-2 ms instead of the 20 ms a commit
 * spent checkpointing 4000 pages), and the next transaction restarts the
 * WAL.  A commit that still finds the WAL past LIMIT_WAL_INLINE_PAGES (the
 * thread could not keep up, or is not running) checkpoints itself.  The
 * thread starts with the first wake-up, so short-lived programs (the CLI)
 * never start it, and stops when the last connection closes.
 */
struct checkpointer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started, wanted, stop;
};

/*
 * What the connections of one process to one database file share.
 *
 * write_mu: held around every write transaction, so this process's writers
 * queue here instead of polling SQLite's lock through the busy handler
 * (which sleeps in steps and made the tail latency seconds long).
 *
 * Group commit: requests hand their units to a queue; whoever finds no
 * leader becomes one, takes everything queued (up to LIMIT_GROUP_UNITS
 * units) and commits it in one transaction, one fsync, each unit in its
 * own savepoint; the others wait until their own unit is done.  A unit is
 * answered only after the commit that holds it returned.
 *
 * writer: the connection every group is committed on, whichever thread
 * leads it.  In WAL mode a connection drops its whole page cache when it
 * finds that another one has written since its last transaction; with
 * leaders taking turns on their own connections, every group started cold
 * and read back the b-tree pages the group before had just written.  Opened
 * by the first leader, used only under write_mu.
 */
struct pending {
    struct store_unit **units;
    size_t n;
    bool done;
    enum vb_err err;
    char *errmsg; /* the submitter's store errmsg, filled on failure */
    struct pending *next;
};

struct shared {
    char *path;
    int refs;
    pthread_mutex_t write_mu;
    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;
    struct pending *head, *tail;
    bool leader;
    struct sq *writer;
    bool writer_tried;
    struct checkpointer ckpt;
    struct shared *next;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct shared *registry;

/*
 * The multi-row statements of the sendinvoice path.  A unit's rows go in
 * chunks: as many of the largest size as fit, then smaller ones, so 500
 * invoices take 7 + 6 + 4 statements instead of 500.  Each size is
 * prepared once per connection.
 */
enum bulk_id {
    B_LISTED,  /* which of these doc_nos the community already has */
    B_INVOICE, /* INSERT of invoices with their ids and serials */
    B_COUNT
};
static const int bulk_rows[] = {64, 8, 1}; /* descending; the last is 1 */
#define NBULK_SIZES ((int)(sizeof bulk_rows / sizeof bulk_rows[0]))
#define BULK_MAX    64
/* parameters: ?1 community_id, ?2 accepted_at, ?3 expires_at, ?4 rq_uuid,
 * then INV_ROW_PARAMS per row */
#define INV_ROW_PARAMS 12

struct sq {
    struct store base;
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    sqlite3_stmt *bulk[B_COUNT][NBULK_SIZES];
    struct shared *shared; /* NULL for an in-memory database */
};

static void *checkpointer_main(void *arg)
{
    struct shared *sh = arg;
    struct checkpointer *k = &sh->ckpt;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(sh->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        sqlite3_close(db);
        db = NULL; /* the commits' own checkpoints remain */
    } else {
        sqlite3_busy_timeout(db, LIMIT_BUSY_MS);
        /* a connection opens the WAL with its first read; until then its
         * checkpoints do nothing at all */
        sqlite3_exec(db, "PRAGMA schema_version", NULL, NULL, NULL);
    }
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        if (!k->wanted) {
            pthread_cond_wait(&k->cv, &k->mu);
            continue;
        }
        k->wanted = false;
        pthread_mutex_unlock(&k->mu);
        int log = -1;
        if (db &&
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, NULL) ==
                SQLITE_OK &&
            log > 0) {
            pthread_mutex_lock(&sh->write_mu);
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
            pthread_mutex_unlock(&sh->write_mu);
        }
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    sqlite3_close(db);
    return NULL;
}

/* Asks for a checkpoint; starts the thread the first time.  False when it
 * cannot run (the caller checkpoints itself). */
static bool checkpointer_wake(struct shared *sh)
{
    struct checkpointer *k = &sh->ckpt;
    pthread_mutex_lock(&k->mu);
    if (!k->started && !k->stop)
        k->started = pthread_create(&k->thread, NULL, checkpointer_main, sh) == 0;
    bool ok = k->started;
    k->wanted = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    return ok;
}

static void checkpointer_stop(struct checkpointer *k)
{
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    bool started = k->started;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    if (started)
        pthread_join(k->thread, NULL);
}

/* sqlite3_wal_hook: after every commit, with the WAL's size in pages (it
 * replaces SQLite's automatic checkpoint on this connection). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)name;
    if (pages < LIMIT_WAL_CHECKPOINT_PAGES)
        return SQLITE_OK;
    if (!checkpointer_wake(arg) || pages >= LIMIT_WAL_INLINE_PAGES)
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static void sq_close(struct store *base);
static enum vb_err sq_connect(const char *path, struct shared *writer_of, struct sq **out,
                              char *why, size_t whylen);

/* The shared state of the file behind db, made on first use. */
static struct shared *shared_get(sqlite3 *db)
{
    const char *path = sqlite3_db_filename(db, "main");
    if (path == NULL || *path == '\0')
        return NULL;
    pthread_mutex_lock(&registry_mu);
    struct shared *sh = registry;
    while (sh && strcmp(sh->path, path) != 0)
        sh = sh->next;
    if (sh == NULL && (sh = calloc(1, sizeof *sh)) != NULL) {
        sh->path = strdup(path);
        if (sh->path == NULL) {
            free(sh);
            sh = NULL;
        } else {
            pthread_mutex_init(&sh->write_mu, NULL);
            pthread_mutex_init(&sh->q_mu, NULL);
            pthread_cond_init(&sh->q_cv, NULL);
            pthread_mutex_init(&sh->ckpt.mu, NULL);
            pthread_cond_init(&sh->ckpt.cv, NULL);
            sh->next = registry;
            registry = sh;
        }
    }
    if (sh)
        sh->refs++;
    pthread_mutex_unlock(&registry_mu);
    return sh;
}

static void shared_put(struct shared *sh)
{
    if (sh == NULL)
        return;
    pthread_mutex_lock(&registry_mu);
    if (--sh->refs == 0) {
        struct shared **at = &registry;
        while (*at != sh)
            at = &(*at)->next;
        *at = sh->next;
        checkpointer_stop(&sh->ckpt);
        if (sh->writer)
            sq_close(&sh->writer->base);
        pthread_mutex_destroy(&sh->ckpt.mu);
        pthread_cond_destroy(&sh->ckpt.cv);
        pthread_mutex_destroy(&sh->write_mu);
        pthread_mutex_destroy(&sh->q_mu);
        pthread_cond_destroy(&sh->q_cv);
        free(sh->path);
        free(sh);
    }
    pthread_mutex_unlock(&registry_mu);
}

/* Around every write transaction of this process (see struct shared). */
static void write_lock(struct sq *s)
{
    if (s->shared)
        pthread_mutex_lock(&s->shared->write_mu);
}

static void write_unlock(struct sq *s)
{
    if (s->shared)
        pthread_mutex_unlock(&s->shared->write_mu);
}

static enum vb_err fail(struct sq *s, int rc)
{
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "sqlite: %s (%d)", sqlite3_errmsg(s->db), rc);
    int prim = rc & 0xff;
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return ERR_BUSY;
    if (prim == SQLITE_NOMEM)
        return ERR_NOMEM;
    return ERR_STORE;
}

/* Resets a statement for its next use. */
static sqlite3_stmt *stmt(struct sq *s, enum stmt_id id)
{
    sqlite3_stmt *st = s->st[id];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Runs a statement that returns no rows. */
static enum vb_err exec_stmt(struct sq *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? ERR_OK : fail(s, rc);
}

static enum vb_err exec_id(struct sq *s, enum stmt_id id)
{
    return exec_stmt(s, stmt(s, id));
}

static void rollback(struct sq *s)
{
    if (!sqlite3_get_autocommit(s->db))
        exec_id(s, S_ROLLBACK);
}

static void sq_close(struct store *base)
{
    struct sq *s = (struct sq *)base;
    if (s == NULL)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (int k = 0; k < B_COUNT; k++)
        for (int j = 0; j < NBULK_SIZES; j++)
            sqlite3_finalize(s->bulk[k][j]);
    sqlite3_close(s->db);
    shared_put(s->shared);
    free(s);
}

static enum vb_err exec_sql(struct sq *s, const char *text)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, text, NULL, NULL, &msg);
    sqlite3_free(msg);
    return rc == SQLITE_OK ? ERR_OK : fail(s, rc);
}

/* Migration 5 (see status_checks), inside migrate()'s transaction. */
static enum vb_err rewrite_status_checks(struct sq *s)
{
    sqlite3_stmt *st = NULL;
    int cookie = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA schema_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        cookie = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (cookie < 0)
        return fail(s, sqlite3_errcode(s->db));
    /* off unless an application turned it on; writable_schema needs it off */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 0, (int *)NULL);
    enum vb_err e = exec_sql(s, "PRAGMA writable_schema = ON");
    st = NULL;
    if (!e && sqlite3_prepare_v2(s->db,
                                 "UPDATE sqlite_schema SET sql = replace(sql, ?2, ?3)"
                                 " WHERE type = 'table' AND name = ?1 AND instr(sql, ?2) > 0",
                                 -1, &st, NULL) != SQLITE_OK)
        e = fail(s, sqlite3_errcode(s->db));
    for (size_t i = 0; !e && i < sizeof status_checks / sizeof status_checks[0]; i++) {
        sqlite3_bind_text(st, 1, status_checks[i].table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, status_checks[i].from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, status_checks[i].to, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            e = fail(s, rc);
        } else if (sqlite3_changes(s->db) != 1) {
            snprintf(s->base.errmsg, sizeof s->base.errmsg,
                     "migration 5: table %s has no CHECK of the form %s", status_checks[i].table,
                     status_checks[i].from);
            e = ERR_STORE;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (!e) {
        char set[64];
        snprintf(set, sizeof set, "PRAGMA schema_version = %d", cookie + 1);
        e = exec_sql(s, set);
    }
    enum vb_err off = exec_sql(s, "PRAGMA writable_schema = OFF");
    return e ? e : off;
}

/* SQL va_serial(prefix, va_length, va_number): the serial va_number
 * encodes on that channel, or NULL when it is not one of its VA numbers. */
static void sql_va_serial(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *prefix = sqlite3_value_text(argv[0]);
    const unsigned char *va = sqlite3_value_text(argv[2]);
    int64_t serial;
    if (prefix && va && strlen((const char *)prefix) <= LIMIT_PREFIX &&
        va_parse((const char *)prefix, sqlite3_value_int(argv[1]), (const char *)va,
                 (size_t)sqlite3_value_bytes(argv[2]), &serial))
        sqlite3_result_int64(ctx, serial);
    else
        sqlite3_result_null(ctx);
}

/* Brings the schema to the newest version inside one write transaction, so
 * two programs opening a fresh file at once cannot both migrate it. */
static enum vb_err migrate(struct sq *s)
{
    enum vb_err rc = exec_sql(s, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    rc = exec_sql(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    int version = 0;
    sqlite3_stmt *st = NULL;
    if (!rc) {
        int src = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_version",
                                     -1, &st, NULL);
        if (src != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
            rc = fail(s, sqlite3_errcode(s->db));
        else
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (!rc && version > NMIGRATIONS) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg,
                 "schema version %d is newer than this program (%d)", version, NMIGRATIONS);
        rc = ERR_STORE;
    }
    for (int v = version; !rc && v < NMIGRATIONS; v++) {
        rc = exec_sql(s, migrations[v]);
        if (!rc && v + 1 == MIGRATION_STATUS_CHECKS)
            rc = rewrite_status_checks(s);
        if (!rc) {
            char ins[80];
            snprintf(ins, sizeof ins, "INSERT INTO schema_version (version) VALUES (%d)", v + 1);
            rc = exec_sql(s, ins);
        }
    }
    if (rc) {
        exec_sql(s, "ROLLBACK");
        return rc;
    }
    return exec_sql(s, "COMMIT");
}

/* The text of a bulk statement for rows rows: only placeholders vary. */
static enum vb_err bulk_text(enum bulk_id k, int rows, struct buf *b)
{
    enum vb_err e = ERR_OK;
    switch (k) {
    case B_LISTED:
        e = buf_adds(b, "SELECT doc_no FROM invoice WHERE community_id = ?1 AND doc_no IN (");
        for (int r = 0; !e && r < rows; r++)
            e = buf_printf(b, "%s?%d", r ? ", " : "", r + 2);
        if (!e)
            e = buf_addc(b, ')');
        break;
    case B_INVOICE:
        e = buf_adds(b, "INSERT INTO invoice (id, community_id, doc_no, member_code, member_name,"
                        " amount, total_amount, number_of_installment, installment_amount,"
                        " balance_payment_amount, description, billing_date, serial, status,"
                        " outstanding, accepted_at, expires_at, rq_uuid) VALUES ");
        for (int r = 0; !e && r < rows; r++) {
            int p = 5 + r * INV_ROW_PARAMS;
            e = buf_printf(b,
                           "%s(?%d, ?1, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d,"
                           " 'open', ?%d, ?2, ?3, ?4)",
                           r ? ", " : "", p, p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8,
                           p + 9, p + 10, p + 11, p + 4);
        }
        break;
    default:
        e = ERR_INVALID;
    }
    return e;
}

static enum vb_err bulk_prepare(struct sq *s, enum bulk_id k, int j)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    enum vb_err e = bulk_text(k, bulk_rows[j], &b);
    if (!e)
        e = buf_addc(&b, '\0');
    if (!e) {
        int rc =
            sqlite3_prepare_v3(s->db, b.p, -1, SQLITE_PREPARE_PERSISTENT, &s->bulk[k][j], NULL);
        if (rc != SQLITE_OK)
            e = fail(s, rc);
    }
    buf_free(&b);
    return e;
}

/* The bulk statement for the next chunk of left (> 0) rows, and its size. */
static sqlite3_stmt *bulk_stmt(struct sq *s, enum bulk_id k, size_t left, int *rows)
{
    int j = 0;
    while ((size_t)bulk_rows[j] > left)
        j++;
    *rows = bulk_rows[j];
    return s->bulk[k][j];
}

/* A connection to path.  writer_of: NULL for an ordinary one, which joins
 * the file's shared state; else the shared state whose writer this is (it
 * does not hold a reference: the shared state owns it). */
static enum vb_err sq_connect(const char *path, struct shared *writer_of, struct sq **out,
                              char *why, size_t whylen)
{
    struct sq *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ERR_NOMEM;
    s->base.ops = &store_sqlite_ops;
    /* The file holds signature keys: create it readable by its owner only
     * (SQLite gives the -wal and -shm files the same mode).  O_EXCL matters:
     * closing a descriptor of a file drops every POSIX lock this process
     * holds on it, so an existing database (perhaps open on another of our
     * connections) must never be opened and closed behind SQLite's back. */
    bool in_memory = strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0;
    int fd = in_memory ? -1 : open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    enum vb_err err = ERR_OK;
    if (rc != SQLITE_OK) {
        err = s->db ? fail(s, rc) : ERR_NOMEM;
        goto out;
    }
    sqlite3_busy_timeout(s->db, LIMIT_BUSY_MS);
    sqlite3_extended_result_codes(s->db, 1);
    rc = sqlite3_create_function_v2(s->db, "va_serial", 3,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                    sql_va_serial, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        err = fail(s, rc);
        goto out;
    }
    err = exec_sql(s, "PRAGMA journal_mode = WAL");
    if (!err)
        err = exec_sql(s, "PRAGMA synchronous = FULL");
    if (!err)
        err = exec_sql(s, "PRAGMA foreign_keys = ON");
    /* Statement and savepoint journals in memory: in a temporary file they
     * were created, written a page at a time and unlinked in every
     * transaction (each multi-row INSERT journals the pages it changes
     * that existed before it: ~150 pages per 500-invoice batch). */
    if (!err)
        err = exec_sql(s, "PRAGMA temp_store = MEMORY");
    if (!err && writer_of) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%d", LIMIT_WRITER_CACHE_KIB);
        err = exec_sql(s, pragma);
    }
    if (!err && !in_memory && writer_of == NULL)
        s->shared = shared_get(s->db);
    if (!err && (s->shared || writer_of))
        sqlite3_wal_hook(s->db, wal_hook, s->shared ? s->shared : writer_of);
    if (!err) {
        write_lock(s);
        err = migrate(s);
        write_unlock(s);
    }
    for (int i = 0; !err && i < S_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK)
            err = fail(s, rc);
    }
    for (int k = 0; !err && k < B_COUNT; k++)
        for (int j = 0; !err && j < NBULK_SIZES; j++)
            err = bulk_prepare(s, (enum bulk_id)k, j);
out:
    if (err) {
        snprintf(why, whylen, "%s: %s", path, s->base.errmsg[0] ? s->base.errmsg : err_str(err));
        sq_close(&s->base);
        return err;
    }
    *out = s;
    return ERR_OK;
}

static enum vb_err sq_open(const char *path, struct store **out, char *why, size_t whylen)
{
    struct sq *s = NULL;
    enum vb_err e = sq_connect(path, NULL, &s, why, whylen);
    *out = s ? &s->base : NULL;
    return e;
}

static enum vb_err sq_ping(struct store *base)
{
    struct sq *s = (struct sq *)base;
    return exec_id(s, S_PING);
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static enum vb_err sq_community_get(struct store *base, const char *code,
                                    struct store_community *out)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_COMM_GET);
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return ERR_NOTFOUND;
    }
    if (rc != SQLITE_ROW) {
        enum vb_err e = fail(s, rc);
        sqlite3_reset(st);
        return e;
    }
    struct store_community c;
    memset(&c, 0, sizeof c);
    c.id = sqlite3_column_int64(st, 0);
    copy_text(c.code, sizeof c.code, st, 1);
    copy_text(c.key, sizeof c.key, st, 2);
    copy_text(c.ccy, sizeof c.ccy, st, 3);
    c.va_length = sqlite3_column_int(st, 4);
    c.va_ttl_min = sqlite3_column_int(st, 5);
    c.enabled = sqlite3_column_int(st, 6) != 0;
    c.next_serial = sqlite3_column_int64(st, 7);
    copy_text(c.notify_url, sizeof c.notify_url, st, 8);
    c.partial_payments = sqlite3_column_int(st, 9) != 0;
    copy_text(c.old_key, sizeof c.old_key, st, 10);
    c.old_key_until = sqlite3_column_int64(st, 11);
    sqlite3_reset(st);

    st = stmt(s, S_COMM_BANKS);
    sqlite3_bind_int64(st, 1, c.id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && c.nbanks < LIMIT_BANKS) {
        copy_text(c.banks[c.nbanks].bank_code, sizeof c.banks[0].bank_code, st, 0);
        copy_text(c.banks[c.nbanks].prefix, sizeof c.banks[0].prefix, st, 1);
        c.nbanks++;
    }
    enum vb_err e = rc == SQLITE_DONE || rc == SQLITE_ROW ? ERR_OK : fail(s, rc);
    sqlite3_reset(st);
    if (!e)
        *out = c;
    store_community_wipe(&c);
    return e;
}

static enum vb_err community_add_locked(struct store *base, const struct store_community *c)
{
    struct sq *s = (struct sq *)base;
    enum vb_err e = exec_id(s, S_BEGIN);
    if (e)
        return e;
    sqlite3_stmt *st = stmt(s, S_COMM_GET);
    sqlite3_bind_text(st, 1, c->code, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        e = ERR_EXISTS;
        goto out;
    }
    if (rc != SQLITE_DONE) {
        e = fail(s, rc);
        goto out;
    }
    for (size_t i = 0; i < c->nbanks; i++) {
        st = stmt(s, S_PREFIX_COLLIDE);
        sqlite3_bind_text(st, 1, c->banks[i].bank_code, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->banks[i].prefix, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            snprintf(s->base.errmsg, sizeof s->base.errmsg,
                     "prefix %s on bank %s collides with prefix %s of community %s",
                     c->banks[i].prefix, c->banks[i].bank_code,
                     (const char *)sqlite3_column_text(st, 1),
                     (const char *)sqlite3_column_text(st, 0));
            sqlite3_reset(st);
            e = ERR_COLLIDE;
            goto out;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            e = fail(s, rc);
            goto out;
        }
    }
    st = stmt(s, S_COMM_INSERT);
    sqlite3_bind_text(st, 1, c->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->ccy, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, c->va_length);
    sqlite3_bind_int(st, 5, c->va_ttl_min);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
    sqlite3_bind_text(st, 7, c->notify_url, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, c->partial_payments ? 1 : 0);
    e = exec_stmt(s, st);
    int64_t id = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; !e && i < c->nbanks; i++) {
        st = stmt(s, S_BANK_INSERT);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, c->banks[i].bank_code, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->banks[i].prefix, -1, SQLITE_STATIC);
        e = exec_stmt(s, st);
    }
    if (!e)
        e = exec_id(s, S_COMMIT);
out:
    if (e)
        rollback(s);
    return e;
}

static enum vb_err sq_community_add(struct store *base, const struct store_community *c)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = community_add_locked(base, c);
    write_unlock(s);
    return e;
}

static enum vb_err sq_community_list(struct store *base, struct store_community **out, size_t *n)
{
    struct sq *s = (struct sq *)base;
    size_t cap = 0, count = 0;
    char **codes = NULL;
    sqlite3_stmt *st = stmt(s, S_COMM_LIST);
    int rc;
    enum vb_err e = ERR_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(codes, cap * sizeof *codes);
            if (grown == NULL) {
                e = ERR_NOMEM;
                break;
            }
            codes = grown;
        }
        codes[count] = strdup((const char *)sqlite3_column_text(st, 0));
        if (codes[count] == NULL) {
            e = ERR_NOMEM;
            break;
        }
        count++;
    }
    if (!e && rc != SQLITE_DONE)
        e = fail(s, rc);
    sqlite3_reset(st);
    struct store_community *list = NULL;
    if (!e && count) {
        list = calloc(count, sizeof *list);
        if (list == NULL)
            e = ERR_NOMEM;
    }
    for (size_t i = 0; !e && i < count; i++) {
        e = sq_community_get(base, codes[i], &list[i]);
        store_community_wipe(&list[i]);
    }
    for (size_t i = 0; i < count; i++)
        free(codes[i]);
    free(codes);
    if (e) {
        free(list);
        return e;
    }
    *out = list;
    *n = count;
    return ERR_OK;
}

static enum vb_err community_set_enabled_locked(struct store *base, const char *code, bool enabled)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_COMM_ENABLE);
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, enabled ? 1 : 0);
    enum vb_err e = exec_stmt(s, st);
    if (!e && sqlite3_changes(s->db) == 0)
        return ERR_NOTFOUND;
    return e;
}

static enum vb_err community_set_key_locked(struct store *base, const char *code, const char *key,
                                            int64_t old_key_until)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_COMM_SET_KEY);
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, old_key_until);
    enum vb_err e = exec_stmt(s, st);
    if (!e && sqlite3_changes(s->db) == 0)
        return ERR_NOTFOUND;
    return e;
}

static enum vb_err sq_community_set_key(struct store *base, const char *code, const char *key,
                                        int64_t old_key_until)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = community_set_key_locked(base, code, key, old_key_until);
    write_unlock(s);
    return e;
}

static enum vb_err sq_community_set_enabled(struct store *base, const char *code, bool enabled)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = community_set_enabled_locked(base, code, enabled);
    write_unlock(s);
    return e;
}

/* Looks up a remembered answer; ERR_NOTFOUND when there is none. */
static enum vb_err request_lookup(struct sq *s, int64_t comm_id, const char *rq_uuid, size_t n,
                                  unsigned char hash[STORE_HASH_LEN], struct buf *response)
{
    sqlite3_stmt *st = stmt(s, S_REQ_GET);
    sqlite3_bind_int64(st, 1, comm_id);
    sqlite3_bind_text(st, 2, rq_uuid, (int)n, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum vb_err e = ERR_OK;
    if (rc == SQLITE_ROW) {
        const void *h = sqlite3_column_blob(st, 0);
        int hn = sqlite3_column_bytes(st, 0);
        if (h == NULL || hn != STORE_HASH_LEN) {
            memset(hash, 0, STORE_HASH_LEN);
        } else {
            memcpy(hash, h, STORE_HASH_LEN);
        }
        buf_reset(response);
        e = buf_add(response, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    } else if (rc == SQLITE_DONE) {
        e = ERR_NOTFOUND;
    } else {
        e = fail(s, rc);
    }
    sqlite3_reset(st);
    return e;
}

static enum vb_err sq_request_get(struct store *base, int64_t comm_id, const char *rq_uuid,
                                  size_t n, unsigned char hash[STORE_HASH_LEN],
                                  struct buf *response)
{
    return request_lookup((struct sq *)base, comm_id, rq_uuid, n, hash, response);
}

static void bind_opt_text(sqlite3_stmt *st, int col, const char *p, size_t n)
{
    if (p)
        sqlite3_bind_text(st, col, p, (int)n, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

/* Marks OUT_LISTED every checked invoice of u whose doc_no the community
 * already has.  Exact: the caller holds the write transaction, and a
 * unit's doc_nos are distinct (0011). */
static enum vb_err mark_listed(struct sq *s, struct store_unit *u, size_t nvalid)
{
    size_t i = 0;
    while (nvalid > 0) {
        int rows;
        sqlite3_stmt *st = bulk_stmt(s, B_LISTED, nvalid, &rows);
        size_t idx[BULK_MAX];
        sqlite3_bind_int64(st, 1, u->comm->id);
        for (int r = 0; r < rows; i++) {
            if (u->res[i].outcome == OUT_REFUSED)
                continue;
            const struct invoice *inv = &u->inv[i];
            sqlite3_bind_text(st, r + 2, inv->doc_no, (int)inv->doc_no_len, SQLITE_STATIC);
            idx[r++] = i;
        }
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const void *d = sqlite3_column_blob(st, 0);
            size_t dn = (size_t)sqlite3_column_bytes(st, 0);
            for (int r = 0; r < rows; r++) {
                const struct invoice *inv = &u->inv[idx[r]];
                if (inv->doc_no_len == dn && memcmp(inv->doc_no, d, dn) == 0)
                    u->res[idx[r]].outcome = OUT_LISTED;
            }
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return fail(s, rc);
        nvalid -= (size_t)rows;
    }
    return ERR_OK;
}

/* INSERTs the nacc accepted invoices of u (ids and serials already in
 * u->res).  The unique constraints still stand guard: a conflict fails the
 * unit. */
static enum vb_err insert_invoices(struct sq *s, const struct store_unit *u, size_t nacc)
{
    const struct store_community *c = u->comm;
    size_t i = 0;
    while (nacc > 0) {
        int rows;
        sqlite3_stmt *st = bulk_stmt(s, B_INVOICE, nacc, &rows);
        sqlite3_bind_int64(st, 1, c->id);
        sqlite3_bind_int64(st, 2, u->now);
        sqlite3_bind_int64(st, 3, u->now + (int64_t)c->va_ttl_min * 60);
        sqlite3_bind_text(st, 4, u->rq_uuid, (int)u->rq_uuid_len, SQLITE_STATIC);
        for (int r = 0; r < rows; i++) {
            const struct store_result *res = &u->res[i];
            if (res->outcome != OUT_ACCEPTED)
                continue;
            const struct invoice *inv = &u->inv[i];
            int p = 5 + r * INV_ROW_PARAMS;
            sqlite3_bind_int64(st, p, res->id);
            sqlite3_bind_text(st, p + 1, inv->doc_no, (int)inv->doc_no_len, SQLITE_STATIC);
            sqlite3_bind_text(st, p + 2, inv->member_code, (int)inv->member_code_len,
                              SQLITE_STATIC);
            bind_opt_text(st, p + 3, inv->member_name, inv->member_name_len);
            sqlite3_bind_int64(st, p + 4, inv->amount);
            sqlite3_bind_int64(st, p + 5, inv->total_amount);
            sqlite3_bind_int(st, p + 6, inv->number_of_installment);
            sqlite3_bind_int64(st, p + 7, inv->installment_amount);
            if (inv->has_balance)
                sqlite3_bind_int64(st, p + 8, inv->balance_payment_amount);
            else
                sqlite3_bind_null(st, p + 8);
            bind_opt_text(st, p + 9, inv->description, inv->description_len);
            sqlite3_bind_int(st, p + 10, inv->billing_date);
            sqlite3_bind_int64(st, p + 11, res->serial);
            r++;
        }
        enum vb_err e = exec_stmt(s, st);
        if (e)
            return e;
        nacc -= (size_t)rows;
    }
    return ERR_OK;
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

/* One unit inside the open transaction, in its own savepoint. */
static enum vb_err apply_unit(struct sq *s, struct store_unit *u)
{
    unsigned char hash[STORE_HASH_LEN];
    enum vb_err e = request_lookup(s, u->comm->id, u->rq_uuid, u->rq_uuid_len, hash, &u->response);
    if (e == ERR_OK) {
        u->status =
            memcmp(hash, u->payload_hash, STORE_HASH_LEN) == 0 ? UNIT_REPLAY : UNIT_CONFLICT;
        return ERR_OK;
    }
    if (e != ERR_NOTFOUND)
        return e;

    sqlite3_stmt *st = stmt(s, S_SERIAL_GET);
    sqlite3_bind_int64(st, 1, u->comm->id);
    int rc = sqlite3_step(st);
    int64_t serial = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return fail(s, rc);
    int64_t limit = max_serial(u->comm);

    size_t nvalid = 0;
    for (size_t i = 0; i < u->n; i++) {
        memset(&u->res[i], 0, sizeof u->res[i]);
        /* OUT_ACCEPTED for now: a candidate until listed or exhausted */
        if (u->inv[i].fail.code) {
            u->res[i].outcome = OUT_REFUSED;
        } else {
            u->res[i].outcome = OUT_ACCEPTED;
            nvalid++;
        }
    }
    e = mark_listed(s, u, nvalid);
    if (e)
        return e;
    st = stmt(s, S_INV_MAX_ID);
    rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return fail(s, rc);
    if (id > INT64_MAX - (int64_t)u->n) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "invoice ids used up");
        return ERR_STORE;
    }
    /* outcomes in request order: a listed doc_no is 0002 even when the
     * serials are used up */
    size_t nacc = 0;
    for (size_t i = 0; i < u->n; i++) {
        struct store_result *r = &u->res[i];
        if (r->outcome != OUT_ACCEPTED)
            continue; /* refused or listed */
        if (serial > limit) {
            r->outcome = OUT_EXHAUSTED;
            continue;
        }
        r->id = ++id;
        r->serial = serial++;
        nacc++;
    }
    e = insert_invoices(s, u, nacc);
    if (e)
        return e;
    st = stmt(s, S_SERIAL_SET);
    sqlite3_bind_int64(st, 1, u->comm->id);
    sqlite3_bind_int64(st, 2, serial);
    e = exec_stmt(s, st);
    if (e)
        return e;

    buf_reset(&u->response);
    e = u->render(u, &u->response);
    if (e)
        return e;
    st = stmt(s, S_REQ_INSERT);
    sqlite3_bind_int64(st, 1, u->comm->id);
    sqlite3_bind_text(st, 2, u->rq_uuid, (int)u->rq_uuid_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, u->payload_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, u->response.p, (int)u->response.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, u->now);
    e = exec_stmt(s, st);
    if (!e)
        u->status = UNIT_COMMITTED;
    return e;
}

/* One transaction for units[0..n), each unit in its own savepoint. */
static enum vb_err commit_batch(struct sq *s, struct store_unit **units, size_t n)
{
    enum vb_err e = exec_id(s, S_BEGIN);
    for (size_t i = 0; !e && i < n; i++) {
        struct store_unit *u = units[i];
        u->status = UNIT_FAILED;
        u->err = exec_id(s, S_SAVEPOINT);
        if (!u->err)
            u->err = apply_unit(s, u);
        if (u->err) {
            u->status = UNIT_FAILED;
            exec_id(s, S_ROLLBACK_TO);
        }
        /* RELEASE of a rolled-back savepoint just closes it */
        if (exec_id(s, S_RELEASE) != ERR_OK && !u->err) {
            u->err = ERR_STORE;
            u->status = UNIT_FAILED;
        }
    }
    if (!e)
        e = exec_id(s, S_COMMIT);
    if (e) {
        rollback(s);
        for (size_t i = 0; i < n; i++) {
            units[i]->status = UNIT_FAILED;
            units[i]->err = e;
        }
    }
    return e;
}

/* The leader's part: everything queued, committed on its connection. */
static void lead_group(struct sq *s, struct shared *sh)
{
    struct store_unit *batch[LIMIT_GROUP_UNITS];
    size_t n = 0;
    struct pending *taken = sh->head, *last = NULL;
    if (taken == NULL)
        return; /* nothing queued (the caller's own unit always is) */
    for (struct pending *p = sh->head; p && (n == 0 || n + p->n <= LIMIT_GROUP_UNITS);
         p = p->next) {
        for (size_t k = 0; k < p->n && n < LIMIT_GROUP_UNITS; k++)
            batch[n++] = p->units[k];
        last = p;
    }
    if (last == NULL)
        return;
    sh->head = last->next;
    if (sh->head == NULL)
        sh->tail = NULL;
    last->next = NULL;
    pthread_mutex_unlock(&sh->q_mu);

    write_lock(s);
    if (!sh->writer_tried) {
        char why[sizeof s->base.errmsg];
        sh->writer_tried = true;
        if (sq_connect(sh->path, sh, &sh->writer, why, sizeof why) != ERR_OK)
            sh->writer = NULL; /* each leader commits on its own connection */
    }
    struct sq *w = sh->writer ? sh->writer : s;
    w->base.errmsg[0] = '\0';
    enum vb_err e = commit_batch(w, batch, n);
    write_unlock(s);

    pthread_mutex_lock(&sh->q_mu);
    for (struct pending *p = taken; p; p = p->next) {
        p->err = e;
        if (e && p->errmsg != w->base.errmsg)
            memcpy(p->errmsg, w->base.errmsg, sizeof w->base.errmsg);
        p->done = true;
    }
}

static enum vb_err sq_commit_units(struct store *base, struct store_unit **units, size_t n)
{
    struct sq *s = (struct sq *)base;
    struct shared *sh = s->shared;
    if (sh == NULL || n > LIMIT_GROUP_UNITS) {
        write_lock(s);
        enum vb_err e = commit_batch(s, units, n);
        write_unlock(s);
        return e;
    }
    struct pending me = {units, n, false, ERR_OK, s->base.errmsg, NULL};
    pthread_mutex_lock(&sh->q_mu);
    if (sh->tail)
        sh->tail->next = &me;
    else
        sh->head = &me;
    sh->tail = &me;
    while (!me.done) {
        if (sh->leader) {
            pthread_cond_wait(&sh->q_cv, &sh->q_mu);
            continue;
        }
        sh->leader = true;
        lead_group(s, sh); /* returns with q_mu held */
        sh->leader = false;
        pthread_cond_broadcast(&sh->q_cv);
    }
    pthread_mutex_unlock(&sh->q_mu);
    return me.err;
}

static char *col_strdup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

static enum vb_err sq_invoice_get(struct store *base, const char *comm_code, const char *doc_no,
                                  size_t doc_no_len, struct store_invoice **out)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_INV_GET);
    sqlite3_bind_text(st, 1, comm_code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc_no, (int)doc_no_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        enum vb_err e = rc == SQLITE_DONE ? ERR_NOTFOUND : fail(s, rc);
        sqlite3_reset(st);
        return e;
    }
    struct store_invoice *inv = calloc(1, sizeof *inv);
    if (inv == NULL) {
        sqlite3_reset(st);
        return ERR_NOMEM;
    }
    inv->id = sqlite3_column_int64(st, 0);
    copy_text(inv->comm_code, sizeof inv->comm_code, st, 1);
    inv->doc_no = col_strdup(st, 2);
    inv->member_code = col_strdup(st, 3);
    inv->member_name = col_strdup(st, 4);
    inv->amount = sqlite3_column_int64(st, 5);
    inv->total_amount = sqlite3_column_int64(st, 6);
    inv->number_of_installment = sqlite3_column_int(st, 7);
    inv->installment_amount = sqlite3_column_int64(st, 8);
    inv->has_balance = sqlite3_column_type(st, 9) != SQLITE_NULL;
    inv->balance_payment_amount = sqlite3_column_int64(st, 9);
    inv->description = col_strdup(st, 10);
    inv->billing_date = sqlite3_column_int(st, 11);
    copy_text(inv->status, sizeof inv->status, st, 12);
    inv->outstanding = sqlite3_column_int64(st, 13);
    inv->accepted_at = sqlite3_column_int64(st, 14);
    inv->expires_at = sqlite3_column_int64(st, 15);
    inv->rq_uuid = col_strdup(st, 16);
    inv->serial = sqlite3_column_int64(st, 17);
    sqlite3_reset(st);
    if (inv->doc_no == NULL || inv->member_code == NULL || inv->rq_uuid == NULL) {
        store_invoice_free(inv);
        return ERR_NOMEM;
    }
    st = stmt(s, S_INV_VAS);
    sqlite3_bind_int64(st, 1, inv->id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && inv->nva < LIMIT_BANKS) {
        struct store_va *va = &inv->va[inv->nva];
        char prefix[LIMIT_PREFIX + 1];
        copy_text(va->bank_code, sizeof va->bank_code, st, 0);
        copy_text(prefix, sizeof prefix, st, 1);
        if (va_format(prefix, sqlite3_column_int(st, 2), inv->serial, va->va_number))
            inv->nva++;
    }
    enum vb_err e = rc == SQLITE_DONE || rc == SQLITE_ROW ? ERR_OK : fail(s, rc);
    sqlite3_reset(st);
    if (e) {
        store_invoice_free(inv);
        return e;
    }
    *out = inv;
    return ERR_OK;
}

/* ---- SPEC 5: banks, payments, status, closing, notifications ---- */

static enum vb_err bank_add_locked(struct store *base, const struct store_bankinfo *b)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_BANKINFO_INSERT);
    sqlite3_bind_text(st, 1, b->bank_code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, b->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return ERR_EXISTS;
    return rc == SQLITE_DONE ? ERR_OK : fail(s, rc);
}

static enum vb_err sq_bank_add(struct store *base, const struct store_bankinfo *b)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = bank_add_locked(base, b);
    write_unlock(s);
    return e;
}

static enum vb_err sq_bank_get(struct store *base, const char *bank_code,
                               struct store_bankinfo *out)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_BANKINFO_GET);
    sqlite3_bind_text(st, 1, bank_code, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum vb_err e = ERR_OK;
    if (rc == SQLITE_ROW) {
        copy_text(out->bank_code, sizeof out->bank_code, st, 0);
        copy_text(out->key, sizeof out->key, st, 1);
        copy_text(out->name, sizeof out->name, st, 2);
    } else {
        e = rc == SQLITE_DONE ? ERR_NOTFOUND : fail(s, rc);
    }
    sqlite3_reset(st);
    return e;
}

static enum vb_err sq_va_find(struct store *base, const char *bank_code, const char *va_number,
                              struct store_va_view *out)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_VA_FIND);
    sqlite3_bind_text(st, 1, bank_code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, va_number, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum vb_err e = ERR_OK;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->invoice_id = sqlite3_column_int64(st, 0);
        out->comm_id = sqlite3_column_int64(st, 1);
        copy_text(out->comm_code, sizeof out->comm_code, st, 2);
        copy_text(out->ccy, sizeof out->ccy, st, 3);
        out->partial_payments = sqlite3_column_int(st, 4) != 0;
        copy_text(out->doc_no, sizeof out->doc_no, st, 5);
        copy_text(out->member_name, sizeof out->member_name, st, 6);
        copy_text(out->description, sizeof out->description, st, 7);
        copy_text(out->status, sizeof out->status, st, 8);
        out->amount = sqlite3_column_int64(st, 9);
        out->outstanding = sqlite3_column_int64(st, 10);
        out->expires_at = sqlite3_column_int64(st, 11);
    } else {
        e = rc == SQLITE_DONE ? ERR_NOTFOUND : fail(s, rc);
    }
    sqlite3_reset(st);
    return e;
}

static enum vb_err sq_payment_get(struct store *base, const char *bank_code,
                                  const char *payment_ref, size_t ref_len,
                                  char va_number[LIMIT_VA_NUMBER_DIGITS + 1], int64_t *amount,
                                  struct buf *response)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_PAY_GET);
    sqlite3_bind_text(st, 1, bank_code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, payment_ref, (int)ref_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum vb_err e = ERR_OK;
    if (rc == SQLITE_ROW) {
        copy_text(va_number, LIMIT_VA_NUMBER_DIGITS + 1, st, 0);
        *amount = sqlite3_column_int64(st, 1);
        buf_reset(response);
        e = buf_add(response, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2));
    } else {
        e = rc == SQLITE_DONE ? ERR_NOTFOUND : fail(s, rc);
    }
    sqlite3_reset(st);
    return e;
}

/* Inside the transaction: the payment row, its answer, its notification. */
static enum vb_err apply_payment(struct sq *s, struct store_payment *p)
{
    char va[LIMIT_VA_NUMBER_DIGITS + 1];
    int64_t amount = 0;
    enum vb_err e = sq_payment_get(&s->base, p->bank_code, p->payment_ref, p->payment_ref_len, va,
                                   &amount, &p->response);
    if (e == ERR_OK) {
        p->status =
            strcmp(va, p->va_number) == 0 && amount == p->amount ? PAY_REPLAY : PAY_CONFLICT;
        return ERR_OK;
    }
    if (e != ERR_NOTFOUND)
        return e;
    e = sq_va_find(&s->base, p->bank_code, p->va_number, &p->inv);
    if (e == ERR_NOTFOUND) {
        p->status = PAY_REFUSED;
        p->refused_code = "0014";
        return ERR_OK;
    }
    if (e)
        return e;
    p->refused_code = store_payment_refusal(p);
    if (p->refused_code) {
        p->status = PAY_REFUSED;
        return ERR_OK;
    }
    sqlite3_stmt *st = stmt(s, S_INV_PAY);
    sqlite3_bind_int64(st, 1, p->inv.invoice_id);
    sqlite3_bind_int64(st, 2, p->amount);
    sqlite3_bind_int64(st, 3, p->now);
    e = exec_stmt(s, st);
    if (e)
        return e;
    if (sqlite3_changes(s->db) != 1) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "payment guard refused invoice %lld",
                 (long long)p->inv.invoice_id);
        return ERR_STORE;
    }
    p->outstanding_after = p->inv.outstanding - p->amount;
    buf_reset(&p->response);
    e = p->render(p, &p->response);
    if (e)
        return e;
    st = stmt(s, S_PAY_INSERT);
    sqlite3_bind_text(st, 1, p->bank_code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->payment_ref, (int)p->payment_ref_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, p->inv.invoice_id);
    sqlite3_bind_text(st, 4, p->va_number, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, p->amount);
    sqlite3_bind_int64(st, 6, p->outstanding_after);
    sqlite3_bind_int64(st, 7, p->now);
    sqlite3_bind_text(st, 8, p->rq_uuid, (int)p->rq_uuid_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, p->response.p, (int)p->response.len, SQLITE_STATIC);
    e = exec_stmt(s, st);
    if (e)
        return e;
    int64_t payment_id = sqlite3_last_insert_rowid(s->db);

    /* the notification is written in the payment's own transaction */
    st = stmt(s, S_COMM_GET);
    sqlite3_bind_text(st, 1, p->inv.comm_code, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    char url[LIMIT_URL + 1] = "";
    if (rc == SQLITE_ROW)
        copy_text(url, sizeof url, st, 8);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return fail(s, rc);
    if (url[0]) {
        st = stmt(s, S_NTF_INSERT);
        sqlite3_bind_int64(st, 1, payment_id);
        sqlite3_bind_int64(st, 2, p->inv.invoice_id);
        sqlite3_bind_text(st, 3, url, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, p->now * 1000);
        e = exec_stmt(s, st);
        if (e)
            return e;
    }
    p->status = PAY_COMMITTED;
    return ERR_OK;
}

static enum vb_err payment_apply_locked(struct store *base, struct store_payment *p)
{
    struct sq *s = (struct sq *)base;
    p->status = PAY_FAILED;
    p->refused_code = NULL;
    enum vb_err e = exec_id(s, S_BEGIN);
    if (!e)
        e = apply_payment(s, p);
    if (!e && p->status == PAY_COMMITTED)
        e = exec_id(s, S_COMMIT);
    if (e || p->status != PAY_COMMITTED)
        rollback(s);
    if (e) {
        p->status = PAY_FAILED;
        p->err = e;
    }
    return e;
}

static enum vb_err sq_payment_apply(struct store *base, struct store_payment *p)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = payment_apply_locked(base, p);
    write_unlock(s);
    return e;
}

static enum vb_err sq_invoice_payments(struct store *base, int64_t invoice_id,
                                       struct store_payment_row **out, size_t *n)
{
    struct sq *s = (struct sq *)base;
    struct store_payment_row *rows = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = stmt(s, S_INV_PAYMENTS);
    sqlite3_bind_int64(st, 1, invoice_id);
    int rc;
    enum vb_err e = ERR_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            struct store_payment_row *grown = realloc(rows, cap * sizeof *rows);
            if (grown == NULL) {
                e = ERR_NOMEM;
                break;
            }
            rows = grown;
        }
        struct store_payment_row *r = &rows[count++];
        copy_text(r->payment_ref, sizeof r->payment_ref, st, 0);
        copy_text(r->bank_code, sizeof r->bank_code, st, 1);
        copy_text(r->va_number, sizeof r->va_number, st, 2);
        r->amount = sqlite3_column_int64(st, 3);
        r->paid_at = sqlite3_column_int64(st, 4);
    }
    if (!e && rc != SQLITE_DONE)
        e = fail(s, rc);
    sqlite3_reset(st);
    if (e) {
        free(rows);
        return e;
    }
    *out = rows;
    *n = count;
    return ERR_OK;
}

static enum vb_err invoice_close_locked(struct store *base, const char *comm_code,
                                        const char *doc_no, size_t doc_no_len, int64_t now,
                                        const char **code)
{
    struct sq *s = (struct sq *)base;
    enum vb_err e = exec_id(s, S_BEGIN);
    if (e)
        return e;
    sqlite3_stmt *st = stmt(s, S_INV_STATUS);
    sqlite3_bind_text(st, 1, comm_code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc_no, (int)doc_no_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = 0;
    char status[8] = "";
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        copy_text(status, sizeof status, st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        e = ERR_NOTFOUND;
    } else if (rc != SQLITE_ROW) {
        e = fail(s, rc);
    } else if (strcmp(status, "paid") == 0) {
        *code = "0015";
    } else {
        *code = NULL;
        st = stmt(s, S_INV_CLOSE);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
        e = exec_stmt(s, st);
    }
    if (!e)
        e = exec_id(s, S_COMMIT);
    if (e)
        rollback(s);
    return e;
}

static enum vb_err sq_invoice_close(struct store *base, const char *comm_code, const char *doc_no,
                                    size_t doc_no_len, int64_t now, const char **code)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = invoice_close_locked(base, comm_code, doc_no, doc_no_len, now, code);
    write_unlock(s);
    return e;
}

static void read_ntf(sqlite3_stmt *st, struct store_notification *n)
{
    memset(n, 0, sizeof *n);
    n->id = sqlite3_column_int64(st, 0);
    copy_text(n->status, sizeof n->status, st, 1);
    n->attempts = sqlite3_column_int(st, 2);
    n->next_at_ms = sqlite3_column_int64(st, 3);
    copy_text(n->last_error, sizeof n->last_error, st, 4);
    copy_text(n->url, sizeof n->url, st, 5);
    copy_text(n->comm_code, sizeof n->comm_code, st, 6);
    copy_text(n->key, sizeof n->key, st, 7);
    copy_text(n->doc_no, sizeof n->doc_no, st, 8);
    n->invoice_id = sqlite3_column_int64(st, 9);
    copy_text(n->bank_code, sizeof n->bank_code, st, 10);
    copy_text(n->va_number, sizeof n->va_number, st, 11);
    copy_text(n->payment_ref, sizeof n->payment_ref, st, 12);
    n->payment_id = sqlite3_column_int64(st, 13);
    n->amount = sqlite3_column_int64(st, 14);
    n->paid_total = sqlite3_column_int64(st, 15);
    n->outstanding = sqlite3_column_int64(st, 16);
}

static enum vb_err notify_claim_locked(struct store *base, int64_t now_ms, int64_t lease_ms,
                                       struct store_notification *out)
{
    struct sq *s = (struct sq *)base;
    enum vb_err e = exec_id(s, S_BEGIN);
    if (e)
        return e;
    sqlite3_stmt *st = stmt(s, S_NTF_DUE);
    sqlite3_bind_int64(st, 1, now_ms);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        e = ERR_NOTFOUND;
    else if (rc != SQLITE_ROW)
        e = fail(s, rc);
    if (!e) {
        st = stmt(s, S_NTF_LEASE);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now_ms + lease_ms);
        e = exec_stmt(s, st);
    }
    if (!e) {
        st = stmt(s, S_NTF_DETAIL);
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            read_ntf(st, out);
        else
            e = fail(s, rc);
        sqlite3_reset(st);
    }
    if (!e)
        e = exec_id(s, S_COMMIT);
    if (e)
        rollback(s);
    return e;
}

static enum vb_err sq_notify_claim(struct store *base, int64_t now_ms, int64_t lease_ms,
                                   struct store_notification *out)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = notify_claim_locked(base, now_ms, lease_ms, out);
    write_unlock(s);
    return e;
}

/* The notification's new state and the attempt's row, in one transaction;
 * an unknown id changes nothing. */
static enum vb_err notify_finish_locked(struct store *base, int64_t id, bool delivered,
                                        int64_t next_at_ms, const char *error, int64_t now_ms)
{
    struct sq *s = (struct sq *)base;
    enum vb_err e = exec_id(s, S_BEGIN);
    if (e)
        return e;
    sqlite3_stmt *st;
    if (delivered) {
        st = stmt(s, S_NTF_DELIVERED);
        sqlite3_bind_int64(st, 2, now_ms);
    } else if (next_at_ms >= 0) {
        st = stmt(s, S_NTF_RETRY);
        sqlite3_bind_int64(st, 2, next_at_ms);
        sqlite3_bind_text(st, 3, error ? error : "", -1, SQLITE_TRANSIENT);
    } else {
        st = stmt(s, S_NTF_FAILED);
        sqlite3_bind_text(st, 2, error ? error : "", -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(st, 1, id);
    e = exec_stmt(s, st);
    if (!e && sqlite3_changes(s->db) == 1) {
        st = stmt(s, S_ATT_INSERT);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int(st, 3, delivered ? 1 : 0);
        sqlite3_bind_text(st, 4, delivered || error == NULL ? "" : error, -1, SQLITE_TRANSIENT);
        e = exec_stmt(s, st);
    }
    if (!e)
        e = exec_id(s, S_COMMIT);
    if (e)
        rollback(s);
    return e;
}

static enum vb_err sq_notify_finish(struct store *base, int64_t id, bool delivered,
                                    int64_t next_at_ms, const char *error, int64_t now_ms)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = notify_finish_locked(base, id, delivered, next_at_ms, error, now_ms);
    write_unlock(s);
    return e;
}

static enum vb_err sq_notify_list(struct store *base, bool failed_only,
                                  struct store_notification **out, size_t *n)
{
    struct sq *s = (struct sq *)base;
    struct store_notification *list = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = stmt(s, S_NTF_LIST);
    sqlite3_bind_int(st, 1, failed_only ? 1 : 0);
    int rc;
    enum vb_err e = ERR_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            struct store_notification *grown = realloc(list, cap * sizeof *list);
            if (grown == NULL) {
                e = ERR_NOMEM;
                break;
            }
            list = grown;
        }
        read_ntf(st, &list[count]);
        OPENSSL_cleanse(list[count].key, sizeof list[count].key);
        count++;
    }
    if (!e && rc != SQLITE_DONE)
        e = fail(s, rc);
    sqlite3_reset(st);
    if (e) {
        free(list);
        return e;
    }
    *out = list;
    *n = count;
    return ERR_OK;
}

/* ---- operators, sessions, the console and reports (issue 9) ---- */

/* Unique keys (the name, the token hash, a session's id hash) taken. */
static bool constraint_unique(int rc)
{
    return rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE;
}

static enum vb_err operator_add_locked(struct sq *s, const char *name,
                                       const unsigned char token_hash[STORE_HASH_LEN], int64_t now)
{
    sqlite3_stmt *st = stmt(s, S_OP_INSERT);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, token_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int rc = sqlite3_step(st);
    enum vb_err e = rc == SQLITE_DONE ? ERR_OK : constraint_unique(rc) ? ERR_EXISTS : fail(s, rc);
    sqlite3_reset(st);
    return e;
}

static enum vb_err sq_operator_add(struct store *base, const char *name,
                                   const unsigned char token_hash[STORE_HASH_LEN], int64_t now)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = operator_add_locked(s, name, token_hash, now);
    write_unlock(s);
    return e;
}

static void read_operator(sqlite3_stmt *st, struct store_operator *op)
{
    memset(op, 0, sizeof *op);
    copy_text(op->name, sizeof op->name, st, 0);
    op->created_at = sqlite3_column_int64(st, 1);
}

static enum vb_err sq_operator_list(struct store *base, struct store_operator **out, size_t *n)
{
    struct sq *s = (struct sq *)base;
    struct store_operator *list = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = stmt(s, S_OP_LIST);
    int rc;
    enum vb_err e = ERR_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            struct store_operator *grown = realloc(list, cap * sizeof *list);
            if (grown == NULL) {
                e = ERR_NOMEM;
                break;
            }
            list = grown;
        }
        read_operator(st, &list[count++]);
    }
    if (!e && rc != SQLITE_DONE)
        e = fail(s, rc);
    sqlite3_reset(st);
    if (e) {
        free(list);
        return e;
    }
    *out = list;
    *n = count;
    return ERR_OK;
}

/* The sessions first: foreign keys do not tie them to the operator. */
static enum vb_err operator_remove_locked(struct sq *s, const char *name)
{
    enum vb_err e = exec_id(s, S_BEGIN);
    if (e)
        return e;
    sqlite3_stmt *st = stmt(s, S_OP_SESSIONS_DELETE);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    e = exec_stmt(s, st);
    if (!e) {
        st = stmt(s, S_OP_DELETE);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        e = exec_stmt(s, st);
    }
    if (!e && sqlite3_changes(s->db) == 0)
        e = ERR_NOTFOUND;
    if (!e)
        e = exec_id(s, S_COMMIT);
    if (e)
        rollback(s);
    return e;
}

static enum vb_err sq_operator_remove(struct store *base, const char *name)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = operator_remove_locked(s, name);
    write_unlock(s);
    return e;
}

static enum vb_err sq_operator_find(struct store *base,
                                    const unsigned char token_hash[STORE_HASH_LEN],
                                    struct store_operator *out)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_OP_FIND);
    sqlite3_bind_blob(st, 1, token_hash, STORE_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum vb_err e = ERR_OK;
    if (rc == SQLITE_ROW)
        read_operator(st, out);
    else
        e = rc == SQLITE_DONE ? ERR_NOTFOUND : fail(s, rc);
    sqlite3_reset(st);
    return e;
}

static enum vb_err session_add_locked(struct sq *s, const unsigned char id_hash[STORE_HASH_LEN],
                                      const struct store_session *sess)
{
    sqlite3_stmt *st = stmt(s, S_SESS_INSERT);
    sqlite3_bind_blob(st, 1, id_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sess->operator_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sess->csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, sess->expires_at);
    int rc = sqlite3_step(st);
    enum vb_err e = rc == SQLITE_DONE ? ERR_OK : constraint_unique(rc) ? ERR_EXISTS : fail(s, rc);
    sqlite3_reset(st);
    return e;
}

static enum vb_err sq_session_add(struct store *base, const unsigned char id_hash[STORE_HASH_LEN],
                                  const struct store_session *sess)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = session_add_locked(s, id_hash, sess);
    write_unlock(s);
    return e;
}

static enum vb_err sq_session_get(struct store *base, const unsigned char id_hash[STORE_HASH_LEN],
                                  int64_t now, struct store_session *out)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_SESS_GET);
    sqlite3_bind_blob(st, 1, id_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    enum vb_err e = ERR_OK;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        copy_text(out->operator_name, sizeof out->operator_name, st, 0);
        copy_text(out->csrf, sizeof out->csrf, st, 1);
        out->expires_at = sqlite3_column_int64(st, 2);
    } else {
        e = rc == SQLITE_DONE ? ERR_NOTFOUND : fail(s, rc);
    }
    sqlite3_reset(st);
    return e;
}

static enum vb_err session_remove_locked(struct sq *s, const unsigned char id_hash[STORE_HASH_LEN],
                                         int64_t now)
{
    sqlite3_stmt *st = stmt(s, S_SESS_DELETE);
    sqlite3_bind_blob(st, 1, id_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return exec_stmt(s, st);
}

static enum vb_err sq_session_remove(struct store *base,
                                     const unsigned char id_hash[STORE_HASH_LEN], int64_t now)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = session_remove_locked(s, id_hash, now);
    write_unlock(s);
    return e;
}

static void bind_opt_str(sqlite3_stmt *st, int col, const char *p)
{
    if (p)
        sqlite3_bind_text(st, col, p, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

static enum vb_err sq_report_payments(struct store *base, const struct store_payment_filter *f,
                                      store_payment_cb row, void *ctx)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_REPORT_PAYMENTS);
    sqlite3_bind_int64(st, 1, f->from);
    sqlite3_bind_int64(st, 2, f->to);
    bind_opt_str(st, 3, f->comm_code);
    bind_opt_str(st, 4, f->bank_code);
    int rc;
    enum vb_err e = ERR_OK;
    struct store_report_payment r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&r, 0, sizeof r);
        r.id = sqlite3_column_int64(st, 0);
        r.paid_at = sqlite3_column_int64(st, 1);
        copy_text(r.comm_code, sizeof r.comm_code, st, 2);
        r.invoice_id = sqlite3_column_int64(st, 3);
        copy_text(r.doc_no, sizeof r.doc_no, st, 4);
        copy_text(r.bank_code, sizeof r.bank_code, st, 5);
        copy_text(r.va_number, sizeof r.va_number, st, 6);
        copy_text(r.payment_ref, sizeof r.payment_ref, st, 7);
        r.amount = sqlite3_column_int64(st, 8);
        r.outstanding_after = sqlite3_column_int64(st, 9);
        if (row(ctx, &r) != 0) {
            e = ERR_INVALID;
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = fail(s, rc);
    sqlite3_reset(st);
    return e;
}

/* Steps a one-row statement bound by the caller into v[0..n) (NULL and no
 * row read as dflt). */
static enum vb_err values(struct sq *s, sqlite3_stmt *st, int64_t dflt, int64_t *v, int n)
{
    int rc = sqlite3_step(st);
    for (int i = 0; i < n; i++)
        v[i] = rc == SQLITE_ROW && sqlite3_column_type(st, i) != SQLITE_NULL
                   ? sqlite3_column_int64(st, i)
                   : dflt;
    enum vb_err e = rc == SQLITE_ROW || rc == SQLITE_DONE ? ERR_OK : fail(s, rc);
    sqlite3_reset(st);
    return e;
}

/* ---- the probes of store_search ---- */

static enum vb_err probe_count_community(struct store *base, const char *code, int64_t cap,
                                         int64_t *n)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_COUNT_COMM);
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cap);
    return values(s, st, 0, n, 1);
}

static enum vb_err probe_count_settled(struct store *base, const char *status, int64_t cap,
                                       int64_t *n)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_COUNT_SETTLED);
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cap);
    return values(s, st, 0, n, 1);
}

static enum vb_err probe_count_accepted(struct store *base, int64_t from, int64_t to, int64_t cap,
                                        int64_t *n)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_COUNT_ACCEPTED);
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_int64(st, 3, cap);
    return values(s, st, 0, n, 1);
}

static enum vb_err probe_ttl_range(struct store *base, int64_t *min, int64_t *max)
{
    struct sq *s = (struct sq *)base;
    int64_t v[2];
    enum vb_err e = values(s, stmt(s, S_TTL_RANGE), -1, v, 2);
    *min = v[0];
    *max = v[1];
    return e;
}

static enum vb_err probe_ends(struct store *base, int64_t *first, int64_t *last, int64_t *max_id)
{
    struct sq *s = (struct sq *)base;
    int64_t v[3];
    enum vb_err e = values(s, stmt(s, S_INVOICE_ENDS), 0, v, 3);
    *first = v[0];
    *last = v[1];
    *max_id = v[2];
    return e;
}

static enum vb_err probe_time(struct sq *s, enum stmt_id id, int64_t t, int64_t dflt, int64_t *out)
{
    sqlite3_stmt *st = stmt(s, id);
    sqlite3_bind_int64(st, 1, t);
    return values(s, st, dflt, out, 1);
}

static enum vb_err probe_id_before(struct store *base, int64_t t, int64_t *id)
{
    return probe_time((struct sq *)base, S_ACCEPTED_TOP, t, 0, id);
}

static enum vb_err probe_id_from(struct store *base, int64_t t, int64_t *id)
{
    return probe_time((struct sq *)base, S_ACCEPTED_BOTTOM, t, INT64_MAX, id);
}

static enum vb_err probe_range(struct sq *s, enum stmt_id id, int64_t from, int64_t to,
                               int64_t dflt, int64_t *out)
{
    sqlite3_stmt *st = stmt(s, id);
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    return values(s, st, dflt, out, 1);
}

static enum vb_err probe_min_id(struct store *base, int64_t from, int64_t to, int64_t *id)
{
    return probe_range((struct sq *)base, S_ACCEPTED_MIN_ID, from, to, INT64_MAX, id);
}

static enum vb_err probe_max_id(struct store *base, int64_t from, int64_t to, int64_t *id)
{
    return probe_range((struct sq *)base, S_ACCEPTED_MAX_ID, from, to, 0, id);
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
static enum vb_err search_run(struct sq *s, const struct store_search_plan *p,
                              const struct store_invoice_filter *f, store_invoice_cb row, void *ctx,
                              int64_t *n)
{
    sqlite3_stmt *st = stmt(s, search_stmt[p->driver]);
    bind_opt_str(st, 1, f->q);
    bind_opt_str(st, 2, f->comm_code);
    bind_opt_str(st, 3, f->status);
    sqlite3_bind_int64(st, 4, f->now);
    sqlite3_bind_int64(st, 5, p->from);
    sqlite3_bind_int64(st, 6, p->to);
    sqlite3_bind_int64(st, 7, p->below);
    sqlite3_bind_int64(st, 8, p->limit);
    sqlite3_bind_int64(st, 9, p->lo);
    *n = 0;
    int rc;
    enum vb_err e = ERR_OK;
    struct store_invoice_row r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&r, 0, sizeof r);
        r.id = sqlite3_column_int64(st, 0);
        copy_text(r.comm_code, sizeof r.comm_code, st, 1);
        copy_text(r.doc_no, sizeof r.doc_no, st, 2);
        copy_text(r.member_code, sizeof r.member_code, st, 3);
        copy_text(r.member_name, sizeof r.member_name, st, 4);
        r.amount = sqlite3_column_int64(st, 5);
        r.outstanding = sqlite3_column_int64(st, 6);
        copy_text(r.status, sizeof r.status, st, 7);
        r.accepted_at = sqlite3_column_int64(st, 8);
        r.expires_at = sqlite3_column_int64(st, 9);
        (*n)++;
        if (row(ctx, &r) != 0) {
            e = ERR_INVALID;
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = fail(s, rc);
    sqlite3_reset(st);
    return e;
}

static enum vb_err sq_invoice_search(struct store *base, const struct store_invoice_filter *f,
                                     store_invoice_cb row, void *ctx)
{
    struct sq *s = (struct sq *)base;
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

static enum vb_err sq_overview(struct store *base, int64_t day_from, int64_t day_to, int64_t now,
                               struct store_overview *out)
{
    struct sq *s = (struct sq *)base;
    sqlite3_stmt *st = stmt(s, S_OVERVIEW);
    sqlite3_bind_int64(st, 1, day_from);
    sqlite3_bind_int64(st, 2, day_to);
    sqlite3_bind_int64(st, 3, now);
    int rc = sqlite3_step(st);
    enum vb_err e = ERR_OK;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->accepted = sqlite3_column_int64(st, 0);
        out->open = sqlite3_column_int64(st, 1);
        out->expired = sqlite3_column_int64(st, 2);
        out->paid = sqlite3_column_int64(st, 3);
        out->closed = sqlite3_column_int64(st, 4);
        out->payments = sqlite3_column_int64(st, 5);
        out->paid_amount = sqlite3_column_int64(st, 6);
        out->notifications_pending = sqlite3_column_int64(st, 7);
        out->notifications_failed = sqlite3_column_int64(st, 8);
    } else {
        e = fail(s, rc);
    }
    sqlite3_reset(st);
    return e;
}

static enum vb_err invoice_ntfs(struct sq *s, int64_t invoice_id, struct store_notification **out,
                                size_t *n)
{
    struct store_notification *list = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = stmt(s, S_NTF_OF_INVOICE);
    sqlite3_bind_int64(st, 1, invoice_id);
    int rc;
    enum vb_err e = ERR_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 4;
            struct store_notification *grown = realloc(list, cap * sizeof *list);
            if (grown == NULL) {
                e = ERR_NOMEM;
                break;
            }
            list = grown;
        }
        read_ntf(st, &list[count]);
        OPENSSL_cleanse(list[count].key, sizeof list[count].key);
        count++;
    }
    if (!e && rc != SQLITE_DONE)
        e = fail(s, rc);
    sqlite3_reset(st);
    if (e) {
        free(list);
        return e;
    }
    *out = list;
    *n = count;
    return ERR_OK;
}

static enum vb_err invoice_attempts(struct sq *s, int64_t invoice_id, int64_t last_ntf,
                                    struct store_ntf_attempt **out, size_t *n)
{
    struct store_ntf_attempt *list = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = stmt(s, S_ATT_OF_INVOICE);
    sqlite3_bind_int64(st, 1, invoice_id);
    sqlite3_bind_int64(st, 2, last_ntf);
    int rc;
    enum vb_err e = ERR_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            struct store_ntf_attempt *grown = realloc(list, cap * sizeof *list);
            if (grown == NULL) {
                e = ERR_NOMEM;
                break;
            }
            list = grown;
        }
        struct store_ntf_attempt *a = &list[count++];
        memset(a, 0, sizeof *a);
        a->notification_id = sqlite3_column_int64(st, 0);
        a->at_ms = sqlite3_column_int64(st, 1);
        a->delivered = sqlite3_column_int(st, 2) != 0;
        copy_text(a->error, sizeof a->error, st, 3);
    }
    if (!e && rc != SQLITE_DONE)
        e = fail(s, rc);
    sqlite3_reset(st);
    if (e) {
        free(list);
        return e;
    }
    *out = list;
    *n = count;
    return ERR_OK;
}

static enum vb_err sq_invoice_notifications(struct store *base, int64_t invoice_id,
                                            struct store_notification **ntf, size_t *nntf,
                                            struct store_ntf_attempt **att, size_t *natt)
{
    struct sq *s = (struct sq *)base;
    struct store_notification *list = NULL;
    size_t n = 0;
    enum vb_err e = invoice_ntfs(s, invoice_id, &list, &n);
    if (e)
        return e;
    struct store_ntf_attempt *attempts = NULL;
    size_t na = 0;
    if (n > 0)
        e = invoice_attempts(s, invoice_id, list[n - 1].id, &attempts, &na);
    if (e) {
        free(list);
        return e;
    }
    *ntf = list;
    *nntf = n;
    *att = attempts;
    *natt = na;
    return ERR_OK;
}

static enum vb_err notify_retry_locked(struct sq *s, int64_t id, int64_t now_ms)
{
    sqlite3_stmt *st = stmt(s, S_NTF_REQUEUE);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    enum vb_err e = exec_stmt(s, st);
    if (!e && sqlite3_changes(s->db) == 0)
        return ERR_NOTFOUND;
    return e;
}

static enum vb_err sq_notify_retry(struct store *base, int64_t id, int64_t now_ms)
{
    struct sq *s = (struct sq *)base;
    write_lock(s);
    enum vb_err e = notify_retry_locked(s, id, now_ms);
    write_unlock(s);
    return e;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .ping = sq_ping,
    .community_get = sq_community_get,
    .community_add = sq_community_add,
    .community_list = sq_community_list,
    .community_set_enabled = sq_community_set_enabled,
    .community_set_key = sq_community_set_key,
    .request_get = sq_request_get,
    .commit_units = sq_commit_units,
    .invoice_get = sq_invoice_get,
    .bank_add = sq_bank_add,
    .bank_get = sq_bank_get,
    .va_find = sq_va_find,
    .payment_get = sq_payment_get,
    .payment_apply = sq_payment_apply,
    .invoice_payments = sq_invoice_payments,
    .invoice_close = sq_invoice_close,
    .notify_claim = sq_notify_claim,
    .notify_finish = sq_notify_finish,
    .notify_list = sq_notify_list,
    .operator_add = sq_operator_add,
    .operator_list = sq_operator_list,
    .operator_remove = sq_operator_remove,
    .operator_find = sq_operator_find,
    .session_add = sq_session_add,
    .session_get = sq_session_get,
    .session_remove = sq_session_remove,
    .report_payments = sq_report_payments,
    .invoice_search = sq_invoice_search,
    .overview = sq_overview,
    .invoice_notifications = sq_invoice_notifications,
    .notify_retry = sq_notify_retry,
};
