/*
 * store contract: the operations of issue 9 (operators, sessions, the
 * console's searches, the overview, the payments report, notification
 * attempts and retries), run against one backend.
 *
 * The store is the one named by VABILL_STORE_URL, else a fresh SQLite file
 * in a temporary directory; tests/integration/test_store_contract.py runs
 * this program against both backends.  The data is made through the store's
 * own operations (community_add, commit_units, payment_apply, invoice_close,
 * notify_claim / notify_finish), once, in the group setup; the tests run in
 * the order listed in main.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

#define DAY 86400LL
/* the small data set: accepted at T0, T0 + DAY, T0 + 2 DAY; looked at NOW */
#define T0  1800000000LL
#define NOW (T0 + 2 * DAY + 10)
/* the big one: BIG_UNITS units of 500, one hour apart in a shuffled order */
#define TB        (T0 + 10 * DAY)
#define BIG_UNITS 20
#define BIG_NOW   (TB + BIG_UNITS * 3600LL)

static struct store *st;
static char tmpdir[64];

/* ids of the small data set, by doc_no: A* of CTA, B* of CTB */
static int64_t a1, a2, a3, b1, b5, a6, a7;

static enum vb_err render_unit(struct store_unit *u, struct buf *out)
{
    (void)u;
    return buf_adds(out, "{}");
}

static enum vb_err render_payment(struct store_payment *p, struct buf *out)
{
    (void)p;
    return buf_adds(out, "{}");
}

static void add_community(const char *code, const char *banks[][2], size_t nbanks, int ttl_min,
                          const char *notify_url, bool partial)
{
    struct store_community c;
    memset(&c, 0, sizeof c);
    snprintf(c.code, sizeof c.code, "%s", code);
    snprintf(c.ccy, sizeof c.ccy, "IDR");
    snprintf(c.key, sizeof c.key, "key-%s", code);
    c.va_length = 16;
    c.va_ttl_min = ttl_min;
    c.enabled = true;
    snprintf(c.notify_url, sizeof c.notify_url, "%s", notify_url);
    c.partial_payments = partial;
    c.nbanks = nbanks;
    for (size_t i = 0; i < nbanks; i++) {
        snprintf(c.banks[i].bank_code, sizeof c.banks[i].bank_code, "%s", banks[i][0]);
        snprintf(c.banks[i].prefix, sizeof c.banks[i].prefix, "%s", banks[i][1]);
    }
    assert_int_equal(st->ops->community_add(st, &c), ERR_OK);
}

struct new_invoice {
    const char *doc_no, *member_code;
    int64_t amount;
};

/* One committed unit of community code at time now; ids[i] gets the id of
 * invoice i. */
static void send_unit(const char *code, int64_t now, const char *rq_uuid,
                      const struct new_invoice *v, size_t n, int64_t *ids)
{
    struct store_community c;
    assert_int_equal(st->ops->community_get(st, code, &c), ERR_OK);
    struct invoice *inv = calloc(n, sizeof *inv);
    struct store_result *res = calloc(n, sizeof *res);
    assert_non_null(inv);
    assert_non_null(res);
    for (size_t i = 0; i < n; i++) {
        inv[i].doc_no = v[i].doc_no;
        inv[i].doc_no_len = strlen(v[i].doc_no);
        inv[i].member_code = v[i].member_code;
        inv[i].member_code_len = strlen(v[i].member_code);
        inv[i].member_name = "Budi";
        inv[i].member_name_len = 4;
        inv[i].amount = v[i].amount;
        inv[i].total_amount = v[i].amount;
        inv[i].number_of_installment = 1;
        inv[i].installment_amount = v[i].amount;
        inv[i].billing_date = 5;
    }
    struct store_unit u;
    memset(&u, 0, sizeof u);
    u.comm = &c;
    u.rq_uuid = rq_uuid;
    u.rq_uuid_len = strlen(rq_uuid);
    memset(u.payload_hash, 0x11, sizeof u.payload_hash);
    u.now = now;
    u.inv = inv;
    u.n = n;
    u.render = render_unit;
    u.res = res;
    buf_init(&u.response, 1 << 20);
    struct store_unit *units[] = {&u};
    assert_int_equal(st->ops->commit_units(st, units, 1), ERR_OK);
    assert_int_equal(u.status, UNIT_COMMITTED);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(res[i].outcome, OUT_ACCEPTED);
        ids[i] = res[i].id;
    }
    buf_free(&u.response);
    free(inv);
    free(res);
    store_community_wipe(&c);
}

/* The VA number of (community, doc_no) at bank_code. */
static void va_of(const char *code, const char *doc_no, const char *bank_code,
                  char va[LIMIT_VA_NUMBER_DIGITS + 1])
{
    struct store_invoice *inv = NULL;
    assert_int_equal(st->ops->invoice_get(st, code, doc_no, strlen(doc_no), &inv), ERR_OK);
    va[0] = '\0';
    for (size_t i = 0; i < inv->nva; i++)
        if (strcmp(inv->va[i].bank_code, bank_code) == 0)
            snprintf(va, LIMIT_VA_NUMBER_DIGITS + 1, "%s", inv->va[i].va_number);
    store_invoice_free(inv);
    assert_true(va[0] != '\0');
}

static void pay(const char *code, const char *doc_no, const char *bank_code, const char *ref,
                int64_t amount, int64_t now)
{
    char va[LIMIT_VA_NUMBER_DIGITS + 1];
    va_of(code, doc_no, bank_code, va);
    struct store_payment p;
    memset(&p, 0, sizeof p);
    p.bank_code = bank_code;
    p.va_number = va;
    p.payment_ref = ref;
    p.payment_ref_len = strlen(ref);
    p.amount = amount;
    p.rq_uuid = ref;
    p.rq_uuid_len = strlen(ref);
    p.now = now;
    p.render = render_payment;
    buf_init(&p.response, 1 << 20);
    assert_int_equal(st->ops->payment_apply(st, &p), ERR_OK);
    assert_int_equal(p.status, PAY_COMMITTED);
    buf_free(&p.response);
}

static void close_invoice(const char *code, const char *doc_no, int64_t now)
{
    const char *why = "unset";
    assert_int_equal(st->ops->invoice_close(st, code, doc_no, strlen(doc_no), now, &why), ERR_OK);
    assert_null(why);
}

/*
 * CTA (banks 008 and 009, TTL 3 days, notifications, partial payments) and
 * CTB (bank 008, TTL 1 hour).  At NOW: A1 open, A2 paid, A3 closed, B1
 * expired, B5 paid, A6 open and partly paid, A7 paid.  Ids grow in that
 * order.  "INV-1" is a doc_no of both communities; B5's member_code is
 * A7's doc_no.
 */
static void make_small_data(void)
{
    const char *cta[][2] = {{"008", "71001"}, {"009", "72001"}};
    const char *ctb[][2] = {{"008", "71002"}};
    add_community("CTA", cta, 2, 3 * 24 * 60, "http://127.0.0.1:9/hook", true);
    add_community("CTB", ctb, 1, 60, "", false);
    int64_t ids[3];
    const struct new_invoice u1[] = {
        {"INV-1", "M1", 10000}, {"INV-2", "M2", 20000}, {"INV-3", "M1", 30000}};
    send_unit("CTA", T0, "RQ-1", u1, 3, ids);
    a1 = ids[0], a2 = ids[1], a3 = ids[2];
    const struct new_invoice u2[] = {{"INV-1", "M1", 40000}, {"INV-5", "INV-7", 50000}};
    send_unit("CTB", T0 + DAY, "RQ-2", u2, 2, ids);
    b1 = ids[0], b5 = ids[1];
    const struct new_invoice u3[] = {{"INV-6", "M4", 60000}, {"INV-7", "M5", 70000}};
    send_unit("CTA", T0 + 2 * DAY, "RQ-3", u3, 2, ids);
    a6 = ids[0], a7 = ids[1];

    pay("CTA", "INV-2", "008", "P-A2", 20000, T0 + 100);
    pay("CTB", "INV-5", "008", "P-B5", 50000, T0 + DAY + 50);
    /* paid in the same second: (paid_at, id) puts A7's first */
    pay("CTA", "INV-7", "008", "P-A7", 70000, T0 + 2 * DAY + 5);
    pay("CTA", "INV-6", "009", "P-A6", 25000, T0 + 2 * DAY + 5);
    close_invoice("CTA", "INV-3", T0 + 200);
}

/* 10,000 invoices of BIGA (TTL 1 hour) and BIGB (TTL 1 day), a unit of 500
 * an hour, units accepted out of id order; every 25th paid, every 31st
 * closed: enough rows for every plan of invoice_search. */
static void make_big_data(void)
{
    const char *biga[][2] = {{"008", "73001"}};
    const char *bigb[][2] = {{"009", "74001"}};
    add_community("BIGA", biga, 1, 60, "", false);
    add_community("BIGB", bigb, 1, 24 * 60, "", false);
    static char docs[500][16], members[500][8];
    struct new_invoice v[500];
    int64_t ids[500];
    for (int k = 0; k < BIG_UNITS; k++) {
        const char *code = k % 2 ? "BIGB" : "BIGA";
        int64_t now = TB + (k * 7 % BIG_UNITS) * 3600LL;
        for (int i = 0; i < 500; i++) {
            int n = k * 500 + i;
            snprintf(docs[i], sizeof docs[i], "BIG-%05d", n);
            snprintf(members[i], sizeof members[i], "MB%d", n % 7);
            v[i].doc_no = docs[i];
            v[i].member_code = members[i];
            v[i].amount = 1000 + n;
        }
        char rq[32];
        snprintf(rq, sizeof rq, "RQ-BIG-%d", k);
        send_unit(code, now, rq, v, 500, ids);
        for (int i = 0; i < 500; i++) {
            int n = k * 500 + i;
            if (n % 25 == 0) {
                char ref[32];
                snprintf(ref, sizeof ref, "P-BIG-%d", n);
                pay(code, docs[i], k % 2 ? "009" : "008", ref, 1000 + n, now + 1);
            } else if (n % 31 == 0) {
                close_invoice(code, docs[i], now + 2);
            }
        }
    }
}

static int remove_tmp(void)
{
    if (tmpdir[0] == '\0')
        return 0;
    const char *const suffix[] = {"", "-wal", "-shm"};
    char path[96];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/store.db%s", tmpdir, suffix[i]);
        unlink(path);
    }
    return rmdir(tmpdir);
}

static int setup(void **state)
{
    (void)state;
    const char *url = getenv("VABILL_STORE_URL");
    char path[96];
    if (url == NULL || *url == '\0') {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/vabill-contract-XXXXXX");
        if (mkdtemp(tmpdir) == NULL)
            return -1;
        snprintf(path, sizeof path, "%s/store.db", tmpdir);
        url = path;
    }
    char why[512];
    if (store_open(url, &st, why, sizeof why) != ERR_OK) {
        fprintf(stderr, "cannot open %s: %s\n", url, why);
        return -1;
    }
    make_small_data();
    make_big_data();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(st);
    return remove_tmp();
}

/* ---- operators and sessions ---- */

static void hash_of(unsigned char h[STORE_HASH_LEN], unsigned char seed)
{
    for (int i = 0; i < STORE_HASH_LEN; i++)
        h[i] = (unsigned char)(seed + i * 7);
}

static void operators(void **state)
{
    (void)state;
    unsigned char ha[STORE_HASH_LEN], hb[STORE_HASH_LEN], hc[STORE_HASH_LEN], hx[STORE_HASH_LEN];
    hash_of(ha, 1);
    hash_of(hb, 2);
    hash_of(hc, 3);
    hash_of(hx, 4);
    struct store_operator *list = NULL;
    size_t n = 99;
    assert_int_equal(st->ops->operator_list(st, &list, &n), ERR_OK);
    assert_int_equal(n, 0);
    free(list);

    assert_int_equal(st->ops->operator_add(st, "bob", hb, 1000), ERR_OK);
    assert_int_equal(st->ops->operator_add(st, "alice", ha, 1001), ERR_OK);
    assert_int_equal(st->ops->operator_add(st, "Carl", hc, 1002), ERR_OK);
    assert_int_equal(st->ops->operator_add(st, "alice", hx, 1003), ERR_EXISTS);
    assert_int_equal(st->ops->operator_add(st, "dave", ha, 1004), ERR_EXISTS); /* same token */

    /* byte order of the names, whatever the database's collation */
    assert_int_equal(st->ops->operator_list(st, &list, &n), ERR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "Carl");
    assert_int_equal(list[0].created_at, 1002);
    assert_string_equal(list[1].name, "alice");
    assert_int_equal(list[1].created_at, 1001);
    assert_string_equal(list[2].name, "bob");
    assert_int_equal(list[2].created_at, 1000);
    free(list);

    struct store_operator op;
    assert_int_equal(st->ops->operator_find(st, ha, &op), ERR_OK);
    assert_string_equal(op.name, "alice");
    assert_int_equal(op.created_at, 1001);
    assert_int_equal(st->ops->operator_find(st, hx, &op), ERR_NOTFOUND);

    /* removing alice ends her sessions, not bob's */
    unsigned char s1[STORE_HASH_LEN], s2[STORE_HASH_LEN], s3[STORE_HASH_LEN];
    hash_of(s1, 101);
    hash_of(s2, 102);
    hash_of(s3, 103);
    struct store_session sa = {"alice", "csrf-a", 5000}, sb = {"bob", "csrf-b", 5000};
    assert_int_equal(st->ops->session_add(st, s1, &sa), ERR_OK);
    assert_int_equal(st->ops->session_add(st, s2, &sa), ERR_OK);
    assert_int_equal(st->ops->session_add(st, s3, &sb), ERR_OK);
    struct store_session got;
    assert_int_equal(st->ops->session_get(st, s1, 2000, &got), ERR_OK);
    assert_int_equal(st->ops->operator_remove(st, "alice"), ERR_OK);
    assert_int_equal(st->ops->session_get(st, s1, 2000, &got), ERR_NOTFOUND);
    assert_int_equal(st->ops->session_get(st, s2, 2000, &got), ERR_NOTFOUND);
    assert_int_equal(st->ops->session_get(st, s3, 2000, &got), ERR_OK);
    assert_string_equal(got.operator_name, "bob");
    assert_int_equal(st->ops->operator_find(st, ha, &op), ERR_NOTFOUND);
    assert_int_equal(st->ops->operator_remove(st, "alice"), ERR_NOTFOUND);
    assert_int_equal(st->ops->operator_remove(st, "nobody"), ERR_NOTFOUND);

    /* the name and the token are free again */
    assert_int_equal(st->ops->operator_add(st, "alice", ha, 1005), ERR_OK);
    assert_int_equal(st->ops->operator_list(st, &list, &n), ERR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[1].name, "alice");
    assert_int_equal(list[1].created_at, 1005);
    free(list);
    /* a session of the old alice does not come back with the new one */
    assert_int_equal(st->ops->session_get(st, s1, 2000, &got), ERR_NOTFOUND);

    assert_int_equal(st->ops->operator_remove(st, "alice"), ERR_OK);
    assert_int_equal(st->ops->operator_remove(st, "bob"), ERR_OK);
    assert_int_equal(st->ops->operator_remove(st, "Carl"), ERR_OK);
    assert_int_equal(st->ops->session_get(st, s3, 2000, &got), ERR_NOTFOUND);
    assert_int_equal(st->ops->operator_list(st, &list, &n), ERR_OK);
    assert_int_equal(n, 0);
    free(list);
}

static void sessions(void **state)
{
    (void)state;
    unsigned char h[STORE_HASH_LEN], s1[STORE_HASH_LEN], s2[STORE_HASH_LEN], s3[STORE_HASH_LEN],
        s4[STORE_HASH_LEN], ghost[STORE_HASH_LEN];
    hash_of(h, 9);
    hash_of(s1, 111);
    hash_of(s2, 112);
    hash_of(s3, 113);
    hash_of(s4, 114);
    hash_of(ghost, 115);
    assert_int_equal(st->ops->operator_add(st, "erin", h, 1), ERR_OK);
    struct store_session a = {"erin", "c1", 1000}, b = {"erin", "c2", 500},
                         c = {"erin", "c3", 5000};
    assert_int_equal(st->ops->session_add(st, s1, &a), ERR_OK);
    assert_int_equal(st->ops->session_add(st, s2, &b), ERR_OK);
    assert_int_equal(st->ops->session_add(st, s3, &c), ERR_OK);
    assert_int_equal(st->ops->session_add(st, s1, &c), ERR_EXISTS);

    struct store_session got;
    memset(&got, 0, sizeof got);
    assert_int_equal(st->ops->session_get(st, s1, 999, &got), ERR_OK);
    assert_string_equal(got.operator_name, "erin");
    assert_string_equal(got.csrf, "c1");
    assert_int_equal(got.expires_at, 1000);
    /* expired at its expires_at */
    assert_int_equal(st->ops->session_get(st, s1, 1000, &got), ERR_NOTFOUND);
    assert_int_equal(st->ops->session_get(st, s4, 1, &got), ERR_NOTFOUND);

    /* a session whose operator does not exist is not live */
    struct store_session g = {"ghost", "cg", 5000};
    assert_int_equal(st->ops->session_add(st, ghost, &g), ERR_OK);
    assert_int_equal(st->ops->session_get(st, ghost, 1, &got), ERR_NOTFOUND);

    /* removing s3 at 600 also drops s2 (expired at 500), keeps s1 */
    assert_int_equal(st->ops->session_remove(st, s3, 600), ERR_OK);
    assert_int_equal(st->ops->session_get(st, s3, 1, &got), ERR_NOTFOUND);
    assert_int_equal(st->ops->session_get(st, s2, 1, &got), ERR_NOTFOUND);
    assert_int_equal(st->ops->session_get(st, s1, 1, &got), ERR_OK);
    /* an unknown one is no error */
    assert_int_equal(st->ops->session_remove(st, s4, 600), ERR_OK);
    assert_int_equal(st->ops->session_remove(st, s1, 0), ERR_OK);
    assert_int_equal(st->ops->session_get(st, s1, 1, &got), ERR_NOTFOUND);
    assert_int_equal(st->ops->operator_remove(st, "erin"), ERR_OK);
}

/* ---- invoice search ---- */

#define MAX_ROWS 16000

struct rows {
    size_t n;
    int stop_after; /* 0: never */
    struct store_invoice_row *r;
};

static int collect(void *ctx, const struct store_invoice_row *row)
{
    struct rows *c = ctx;
    if (c->n < MAX_ROWS)
        c->r[c->n] = *row;
    c->n++;
    return c->stop_after && (int)c->n >= c->stop_after;
}

static struct store_invoice_filter filter(void)
{
    struct store_invoice_filter f;
    memset(&f, 0, sizeof f);
    f.now = NOW;
    return f;
}

/* Runs f and checks the ids it gives, want[0..n), in that order. */
static void expect_ids(const struct store_invoice_filter *f, const int64_t *want, size_t n)
{
    struct rows c = {0, 0, calloc(MAX_ROWS, sizeof *c.r)};
    assert_non_null(c.r);
    assert_int_equal(st->ops->invoice_search(st, f, collect, &c), ERR_OK);
    /* the small data set only: the big one is newer and in other communities */
    size_t k = 0;
    for (size_t i = 0; i < c.n; i++)
        if (strncmp(c.r[i].comm_code, "BIG", 3) != 0)
            c.r[k++] = c.r[i];
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(c.r[i].id, want[i]);
    free(c.r);
}

#define EXPECT(f, ...)                                                                             \
    do {                                                                                           \
        const int64_t want_[] = {__VA_ARGS__};                                                     \
        expect_ids(&(f), want_, sizeof want_ / sizeof want_[0]);                                   \
    } while (0)
#define EXPECT_NONE(f) expect_ids(&(f), NULL, 0)

static void search_rows_are_the_invoices(void **state)
{
    (void)state;
    struct store_invoice_filter f = filter();
    f.comm_code = "CTA";
    f.limit = 3;
    struct rows c = {0, 0, calloc(MAX_ROWS, sizeof *c.r)};
    assert_int_equal(st->ops->invoice_search(st, &f, collect, &c), ERR_OK);
    assert_int_equal(c.n, 3);
    const struct store_invoice_row *r = &c.r[0];
    assert_int_equal(r->id, a7);
    assert_string_equal(r->comm_code, "CTA");
    assert_string_equal(r->doc_no, "INV-7");
    assert_string_equal(r->member_code, "M5");
    assert_string_equal(r->member_name, "Budi");
    assert_int_equal(r->amount, 70000);
    assert_int_equal(r->outstanding, 0);
    assert_string_equal(r->status, "paid");
    assert_int_equal(r->accepted_at, T0 + 2 * DAY);
    assert_int_equal(r->expires_at, T0 + 2 * DAY + 3 * DAY);
    r = &c.r[1];
    assert_int_equal(r->id, a6);
    assert_int_equal(r->amount, 60000);
    assert_int_equal(r->outstanding, 35000);
    assert_string_equal(r->status, "open");
    r = &c.r[2];
    assert_int_equal(r->id, a3);
    assert_string_equal(r->status, "closed");
    assert_int_equal(r->outstanding, 30000);
    free(c.r);

    /* expired is derived: B1 is stored open */
    f = filter();
    f.q = "INV-1";
    f.comm_code = "CTB";
    c.n = 0;
    c.r = calloc(MAX_ROWS, sizeof *c.r);
    assert_int_equal(st->ops->invoice_search(st, &f, collect, &c), ERR_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.r[0].id, b1);
    assert_string_equal(c.r[0].status, "open");
    assert_int_equal(c.r[0].expires_at, T0 + DAY + 3600);
    free(c.r);
}

static void search_by_q(void **state)
{
    (void)state;
    struct store_invoice_filter f = filter();
    f.q = "INV-2"; /* doc_no */
    EXPECT(f, a2);
    f.q = "INV-1"; /* doc_no of both communities */
    EXPECT(f, b1, a1);
    f.q = "INV-7"; /* A7's doc_no, B5's member_code */
    EXPECT(f, a7, b5);
    f.q = "M1"; /* member_code */
    EXPECT(f, b1, a3, a1);
    char va[LIMIT_VA_NUMBER_DIGITS + 1];
    va_of("CTA", "INV-6", "009", va);
    f.q = va; /* a VA number of the second bank */
    EXPECT(f, a6);
    va_of("CTA", "INV-6", "008", va);
    EXPECT(f, a6);
    va_of("CTB", "INV-1", "008", va);
    EXPECT(f, b1);
    f.q = "nothing";
    EXPECT_NONE(f);
    f.q = "INV";
    EXPECT_NONE(f);

    /* with the other filters */
    f.q = "M1";
    f.comm_code = "CTA";
    EXPECT(f, a3, a1);
    f.comm_code = NULL;
    f.status = "expired";
    EXPECT(f, b1);
    f.status = "open";
    EXPECT(f, a1);
    f.status = "closed";
    EXPECT(f, a3);
    f.status = NULL;
    f.from = T0 + DAY;
    EXPECT(f, b1);
    f.from = 0;
    f.to = T0 + DAY;
    EXPECT(f, a3, a1);
    f.to = 0;
    f.before_id = a3;
    EXPECT(f, a1);
    f.before_id = 0;
    f.limit = 2;
    EXPECT(f, b1, a3);
}

static void search_by_filters(void **state)
{
    (void)state;
    struct store_invoice_filter f = filter();
    EXPECT(f, a7, a6, b5, b1, a3, a2, a1);
    f.comm_code = "CTB";
    EXPECT(f, b5, b1);
    f.comm_code = "CTA";
    EXPECT(f, a7, a6, a3, a2, a1);
    f.comm_code = "NONE";
    EXPECT_NONE(f);

    f = filter();
    f.status = "open";
    EXPECT(f, a6, a1);
    f.status = "expired";
    EXPECT(f, b1);
    f.status = "paid";
    EXPECT(f, a7, b5, a2);
    f.status = "closed";
    EXPECT(f, a3);
    /* the status is the one at now */
    f.now = T0 + DAY + 3600;
    f.status = "open";
    EXPECT(f, a6, b1, a1);
    f.status = "expired";
    EXPECT_NONE(f);
    f.now = T0 + DAY + 3601;
    EXPECT(f, b1);

    /* [from, to) on accepted_at; to == 0: no bound */
    f = filter();
    f.from = T0 + DAY;
    f.to = T0 + 2 * DAY;
    EXPECT(f, b5, b1);
    f.to = T0 + DAY + 1;
    EXPECT(f, b5, b1);
    f.to = T0 + DAY;
    EXPECT_NONE(f);
    f.from = T0 + DAY + 1;
    f.to = T0 + 2 * DAY;
    EXPECT_NONE(f);
    f.from = T0 + DAY;
    f.to = 0;
    EXPECT(f, a7, a6, b5, b1);
    f.from = 0;
    f.to = T0 + DAY;
    EXPECT(f, a3, a2, a1);

    /* together */
    f = filter();
    f.comm_code = "CTA";
    f.status = "paid";
    EXPECT(f, a7, a2);
    f.status = "open";
    f.from = T0 + DAY;
    EXPECT(f, a6);
    f.comm_code = "CTB";
    EXPECT_NONE(f);
    f.status = "expired";
    EXPECT(f, b1);

    f = filter();
    f.status = "unpaid";
    struct rows c = {0, 0, calloc(MAX_ROWS, sizeof *c.r)};
    assert_int_equal(st->ops->invoice_search(st, &f, collect, &c), ERR_INVALID);
    assert_int_equal(c.n, 0);
    free(c.r);
}

static void search_pages(void **state)
{
    (void)state;
    struct store_invoice_filter f = filter();
    f.comm_code = "CTA";
    f.limit = 2;
    EXPECT(f, a7, a6);
    f.before_id = a6;
    EXPECT(f, a3, a2);
    f.before_id = a2;
    EXPECT(f, a1);
    f.before_id = a1;
    EXPECT_NONE(f);

    f = filter();
    f.status = "paid";
    f.before_id = a7;
    EXPECT(f, b5, a2);
    f.limit = 1;
    EXPECT(f, b5);

    /* limit counts every row handed out */
    f = filter();
    f.before_id = b5;
    f.limit = 3;
    EXPECT(f, b1, a3, a2);

    /* a non-zero return stops the listing */
    f = filter();
    f.comm_code = "CTA";
    struct rows c = {0, 2, calloc(MAX_ROWS, sizeof *c.r)};
    assert_int_equal(st->ops->invoice_search(st, &f, collect, &c), ERR_INVALID);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.r[0].id, a7);
    assert_int_equal(c.r[1].id, a6);
    free(c.r);
}

/* The search over the big data set against a filter applied here to every
 * row, for many combinations: every plan must give the same rows. */
static bool oracle_match(const struct store_invoice_row *r, const struct store_invoice_filter *f)
{
    if (f->q && strcmp(r->doc_no, f->q) != 0 && strcmp(r->member_code, f->q) != 0)
        return false;
    if (f->comm_code && strcmp(r->comm_code, f->comm_code) != 0)
        return false;
    if (r->accepted_at < f->from || (f->to != 0 && r->accepted_at >= f->to))
        return false;
    if (f->before_id && r->id >= f->before_id)
        return false;
    if (f->status == NULL)
        return true;
    bool open = strcmp(r->status, "open") == 0;
    if (strcmp(f->status, "open") == 0)
        return open && r->expires_at >= f->now;
    if (strcmp(f->status, "expired") == 0)
        return open && r->expires_at < f->now;
    return strcmp(r->status, f->status) == 0;
}

static void search_plans_agree(void **state)
{
    (void)state;
    struct store_invoice_filter all = filter();
    all.now = BIG_NOW;
    struct rows every = {0, 0, calloc(MAX_ROWS, sizeof *every.r)};
    assert_int_equal(st->ops->invoice_search(st, &all, collect, &every), ERR_OK);
    assert_int_equal(every.n, 7 + BIG_UNITS * 500);
    for (size_t i = 1; i < every.n; i++)
        assert_true(every.r[i].id < every.r[i - 1].id);
    int64_t mid = every.r[every.n / 2].id;

    const char *qs[] = {NULL, "MB3", "BIG-00042"};
    const char *comms[] = {NULL, "BIGA", "BIGB", "CTB"};
    const char *statuses[] = {NULL, "open", "expired", "paid", "closed"};
    /* [from, to): none, one unit, an interior span of most units, from
     * only, to only, an empty one */
    const int64_t ranges[][2] = {
        {0, 0},
        {TB + 3 * 3600, TB + 4 * 3600},
        {TB + 2 * 3600, TB + 18 * 3600},
        {TB + 4 * 3600, 0},
        {0, TB + 15 * 3600},
        {TB + 3 * 3600 + 1, TB + 4 * 3600},
    };
    const int64_t befores[] = {0, mid};
    const size_t limits[] = {0, 50};
    struct rows got = {0, 0, calloc(MAX_ROWS, sizeof *got.r)};
    int64_t *want = calloc(MAX_ROWS, sizeof *want);
    size_t checked = 0;
    for (size_t qi = 0; qi < 3; qi++)
        for (size_t ci = 0; ci < 4; ci++)
            for (size_t si = 0; si < 5; si++)
                for (size_t ri = 0; ri < 6; ri++)
                    for (size_t bi = 0; bi < 2; bi++)
                        for (size_t li = 0; li < 2; li++) {
                            struct store_invoice_filter f = all;
                            f.q = qs[qi];
                            f.comm_code = comms[ci];
                            f.status = statuses[si];
                            f.from = ranges[ri][0];
                            f.to = ranges[ri][1];
                            f.before_id = befores[bi];
                            f.limit = limits[li];
                            size_t n = 0;
                            for (size_t i = 0; i < every.n && (!f.limit || n < f.limit); i++)
                                if (oracle_match(&every.r[i], &f))
                                    want[n++] = every.r[i].id;
                            got.n = 0;
                            assert_int_equal(st->ops->invoice_search(st, &f, collect, &got),
                                             ERR_OK);
                            if (got.n != n)
                                fail_msg("q %s comm %s status %s range %zu before %lld limit "
                                         "%zu: %zu rows, want %zu",
                                         f.q ? f.q : "-", f.comm_code ? f.comm_code : "-",
                                         f.status ? f.status : "-", ri, (long long)f.before_id,
                                         f.limit, got.n, n);
                            for (size_t i = 0; i < n; i++)
                                assert_int_equal(got.r[i].id, want[i]);
                            checked += n;
                        }
    assert_true(checked > 100000);
    free(want);
    free(got.r);
    free(every.r);
}

/* ---- the payments report ---- */

struct pay_rows {
    size_t n;
    struct store_report_payment r[16];
};

static int collect_payment(void *ctx, const struct store_report_payment *row)
{
    struct pay_rows *c = ctx;
    if (c->n < 16)
        c->r[c->n] = *row;
    c->n++;
    return 0;
}

static int stop_payment(void *ctx, const struct store_report_payment *row)
{
    collect_payment(ctx, row);
    return 1;
}

static void report(const struct store_payment_filter *f, struct pay_rows *c)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(st->ops->report_payments(st, f, collect_payment, c), ERR_OK);
}

static void report_payments(void **state)
{
    (void)state;
    struct pay_rows c;
    struct store_payment_filter f = {T0, T0 + 3 * DAY, NULL, NULL};
    report(&f, &c);
    assert_int_equal(c.n, 4);
    const char *refs[] = {"P-A2", "P-B5", "P-A7", "P-A6"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(c.r[i].payment_ref, refs[i]);
    /* (paid_at, id) order */
    assert_int_equal(c.r[2].paid_at, c.r[3].paid_at);
    assert_true(c.r[2].id < c.r[3].id);
    char va[LIMIT_VA_NUMBER_DIGITS + 1];
    va_of("CTA", "INV-6", "009", va);
    const struct store_report_payment *r = &c.r[3];
    assert_int_equal(r->paid_at, T0 + 2 * DAY + 5);
    assert_string_equal(r->comm_code, "CTA");
    assert_int_equal(r->invoice_id, a6);
    assert_string_equal(r->doc_no, "INV-6");
    assert_string_equal(r->bank_code, "009");
    assert_string_equal(r->va_number, va);
    assert_int_equal(r->amount, 25000);
    assert_int_equal(r->outstanding_after, 35000);
    assert_int_equal(c.r[0].invoice_id, a2);
    assert_int_equal(c.r[0].amount, 20000);
    assert_int_equal(c.r[0].outstanding_after, 0);

    /* [from, to) */
    f.from = T0 + 100;
    f.to = T0 + DAY + 50;
    report(&f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.r[0].payment_ref, "P-A2");
    f.from = T0 + 101;
    f.to = T0 + DAY + 51;
    report(&f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.r[0].payment_ref, "P-B5");
    f.from = T0 + 2 * DAY + 5;
    f.to = T0 + 2 * DAY + 5;
    report(&f, &c);
    assert_int_equal(c.n, 0);

    /* community and bank */
    f.from = T0;
    f.to = T0 + 3 * DAY;
    f.comm_code = "CTB";
    report(&f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.r[0].payment_ref, "P-B5");
    f.comm_code = NULL;
    f.bank_code = "009";
    report(&f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.r[0].payment_ref, "P-A6");
    f.comm_code = "CTA";
    f.bank_code = "008";
    report(&f, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.r[0].payment_ref, "P-A2");
    assert_string_equal(c.r[1].payment_ref, "P-A7");
    f.comm_code = "CTB";
    f.bank_code = "009";
    report(&f, &c);
    assert_int_equal(c.n, 0);

    /* a non-zero return stops it */
    f.comm_code = NULL;
    f.bank_code = NULL;
    memset(&c, 0, sizeof c);
    assert_int_equal(st->ops->report_payments(st, &f, stop_payment, &c), ERR_INVALID);
    assert_int_equal(c.n, 1);
}

/* ---- the overview ---- */

static void overview(void **state)
{
    (void)state;
    struct store_overview o;
    assert_int_equal(st->ops->overview(st, T0, T0 + DAY, NOW, &o), ERR_OK);
    assert_int_equal(o.accepted, 3);
    assert_int_equal(o.open, 1);
    assert_int_equal(o.expired, 0);
    assert_int_equal(o.paid, 1);
    assert_int_equal(o.closed, 1);
    assert_int_equal(o.payments, 1);
    assert_int_equal(o.paid_amount, 20000);
    assert_int_equal(st->ops->overview(st, T0 + DAY, T0 + 2 * DAY, NOW, &o), ERR_OK);
    assert_int_equal(o.accepted, 2);
    assert_int_equal(o.open, 0);
    assert_int_equal(o.expired, 1);
    assert_int_equal(o.paid, 1);
    assert_int_equal(o.closed, 0);
    assert_int_equal(o.payments, 1);
    assert_int_equal(o.paid_amount, 50000);
    assert_int_equal(st->ops->overview(st, T0 + 2 * DAY, T0 + 3 * DAY, NOW, &o), ERR_OK);
    assert_int_equal(o.accepted, 2);
    assert_int_equal(o.open, 1);
    assert_int_equal(o.paid, 1);
    assert_int_equal(o.payments, 2);
    assert_int_equal(o.paid_amount, 95000);
    /* the status at now */
    assert_int_equal(st->ops->overview(st, T0 + DAY, T0 + 2 * DAY, T0 + DAY, &o), ERR_OK);
    assert_int_equal(o.open, 1);
    assert_int_equal(o.expired, 0);
    /* the bounds: [from, to) */
    assert_int_equal(st->ops->overview(st, T0 + 1, T0 + DAY + 1, NOW, &o), ERR_OK);
    assert_int_equal(o.accepted, 2);
    assert_int_equal(o.payments, 1);
    assert_int_equal(o.paid_amount, 20000);
    assert_int_equal(st->ops->overview(st, T0 - DAY, T0, NOW, &o), ERR_OK);
    assert_int_equal(o.accepted + o.open + o.expired + o.paid + o.closed, 0);
    assert_int_equal(o.payments + o.paid_amount, 0);
    /* the payments of A2, A6 and A7 wait for delivery */
    assert_int_equal(o.notifications_pending, 3);
    assert_int_equal(o.notifications_failed, 0);
}

/* ---- notification attempts and retries ---- */

static void ntf_counts(int64_t pending, int64_t failed)
{
    struct store_overview o;
    assert_int_equal(st->ops->overview(st, T0, T0 + DAY, NOW, &o), ERR_OK);
    assert_int_equal(o.notifications_pending, pending);
    assert_int_equal(o.notifications_failed, failed);
}

static void notifications(void **state)
{
    (void)state;
    const int64_t ms = NOW * 1000;
    struct store_notification n2, n7, n6, again;
    /* the oldest due first: A2's, then A7's and A6's (same next_at, id order) */
    assert_int_equal(st->ops->notify_claim(st, ms, 60000, &n2), ERR_OK);
    assert_int_equal(n2.invoice_id, a2);
    assert_int_equal(st->ops->notify_finish(st, n2.id, false, -1, "HTTP 500", ms + 1), ERR_OK);
    assert_int_equal(st->ops->notify_claim(st, ms, 60000, &n7), ERR_OK);
    assert_int_equal(n7.invoice_id, a7);
    assert_int_equal(st->ops->notify_finish(st, n7.id, false, ms + 5000, "timeout", ms + 2),
                     ERR_OK);
    assert_int_equal(st->ops->notify_claim(st, ms, 60000, &n6), ERR_OK);
    assert_int_equal(n6.invoice_id, a6);
    assert_int_equal(st->ops->notify_finish(st, n6.id, true, -1, "", ms + 3), ERR_OK);
    ntf_counts(1, 1);
    /* A7's second attempt delivers it */
    assert_int_equal(st->ops->notify_claim(st, ms + 5000, 60000, &again), ERR_OK);
    assert_int_equal(again.id, n7.id);
    assert_int_equal(st->ops->notify_finish(st, n7.id, true, -1, "ignored", ms + 5001), ERR_OK);
    ntf_counts(0, 1);
    /* an unknown id changes nothing (and records nothing) */
    assert_int_equal(st->ops->notify_finish(st, n7.id + 1000000, true, -1, "", ms), ERR_OK);

    struct store_notification *list = NULL;
    struct store_ntf_attempt *att = NULL;
    size_t nn = 99, na = 99;
    assert_int_equal(st->ops->invoice_notifications(st, a7, &list, &nn, &att, &na), ERR_OK);
    assert_int_equal(nn, 1);
    assert_int_equal(list[0].id, n7.id);
    assert_string_equal(list[0].status, "delivered");
    assert_int_equal(list[0].attempts, 2);
    assert_string_equal(list[0].key, "");
    assert_string_equal(list[0].payment_ref, "P-A7");
    assert_string_equal(list[0].comm_code, "CTA");
    assert_string_equal(list[0].doc_no, "INV-7");
    assert_int_equal(list[0].amount, 70000);
    assert_int_equal(na, 2);
    assert_int_equal(att[0].notification_id, n7.id);
    assert_int_equal(att[0].at_ms, ms + 2);
    assert_false(att[0].delivered);
    assert_string_equal(att[0].error, "timeout");
    assert_int_equal(att[1].notification_id, n7.id);
    assert_int_equal(att[1].at_ms, ms + 5001);
    assert_true(att[1].delivered);
    assert_string_equal(att[1].error, "");
    free(list);
    free(att);

    assert_int_equal(st->ops->invoice_notifications(st, a2, &list, &nn, &att, &na), ERR_OK);
    assert_int_equal(nn, 1);
    assert_string_equal(list[0].status, "failed");
    assert_int_equal(list[0].attempts, 1);
    assert_string_equal(list[0].last_error, "HTTP 500");
    assert_int_equal(na, 1);
    assert_int_equal(att[0].at_ms, ms + 1);
    assert_false(att[0].delivered);
    assert_string_equal(att[0].error, "HTTP 500");
    free(list);
    free(att);

    /* none for an invoice without notifications */
    assert_int_equal(st->ops->invoice_notifications(st, b5, &list, &nn, &att, &na), ERR_OK);
    assert_int_equal(nn, 0);
    assert_int_equal(na, 0);
    free(list);
    free(att);

    /* retry: only a failed one, back to pending at now_ms, attempts kept */
    assert_int_equal(st->ops->notify_retry(st, n6.id, ms), ERR_NOTFOUND); /* delivered */
    assert_int_equal(st->ops->notify_retry(st, n2.id + 1000000, ms), ERR_NOTFOUND);
    assert_int_equal(st->ops->notify_retry(st, n2.id, ms + 9000), ERR_OK);
    ntf_counts(1, 0);
    assert_int_equal(st->ops->notify_retry(st, n2.id, ms + 9000), ERR_NOTFOUND); /* pending */
    assert_int_equal(st->ops->invoice_notifications(st, a2, &list, &nn, &att, &na), ERR_OK);
    assert_int_equal(nn, 1);
    assert_string_equal(list[0].status, "pending");
    assert_int_equal(list[0].attempts, 1);
    assert_int_equal(list[0].next_at_ms, ms + 9000);
    assert_int_equal(na, 1);
    free(list);
    free(att);
    /* due at now_ms, not before, and not leased */
    assert_int_equal(st->ops->notify_claim(st, ms + 8999, 60000, &again), ERR_NOTFOUND);
    assert_int_equal(st->ops->notify_claim(st, ms + 9000, 60000, &again), ERR_OK);
    assert_int_equal(again.id, n2.id);
    assert_int_equal(again.attempts, 1);
    assert_int_equal(st->ops->notify_finish(st, n2.id, true, -1, "", ms + 9001), ERR_OK);
    ntf_counts(0, 0);
    assert_int_equal(st->ops->invoice_notifications(st, a2, &list, &nn, &att, &na), ERR_OK);
    assert_int_equal(list[0].attempts, 2);
    assert_int_equal(na, 2);
    assert_false(att[0].delivered);
    assert_true(att[1].delivered);
    free(list);
    free(att);
}

/* One unit of n invoices "<tag><k>" (k from keys) of community code, where
 * refused[i] marks an invoice whose fields failed; outcomes into res. */
static void send_mixed(const char *code, const char *rq_uuid, const int *keys, const bool *refused,
                       size_t n, struct store_result *res)
{
    struct store_community c;
    assert_int_equal(st->ops->community_get(st, code, &c), ERR_OK);
    struct invoice *inv = calloc(n, sizeof *inv);
    char(*doc)[16] = calloc(n, sizeof *doc);
    assert_non_null(inv);
    assert_non_null(doc);
    for (size_t i = 0; i < n; i++) {
        snprintf(doc[i], sizeof doc[i], "MX%05d", keys[i]);
        inv[i].doc_no = doc[i];
        inv[i].doc_no_len = strlen(doc[i]);
        inv[i].member_code = "M1";
        inv[i].member_code_len = 2;
        inv[i].amount = inv[i].total_amount = inv[i].installment_amount = 100;
        inv[i].number_of_installment = 1;
        inv[i].billing_date = 5;
        if (refused[i])
            inv[i].fail.code = "0003";
    }
    struct store_unit u;
    memset(&u, 0, sizeof u);
    u.comm = &c;
    u.rq_uuid = rq_uuid;
    u.rq_uuid_len = strlen(rq_uuid);
    u.now = T0;
    u.inv = inv;
    u.n = n;
    u.render = render_unit;
    u.res = res;
    buf_init(&u.response, 1 << 20);
    struct store_unit *units[] = {&u};
    assert_int_equal(st->ops->commit_units(st, units, 1), ERR_OK);
    assert_int_equal(u.status, UNIT_COMMITTED);
    buf_free(&u.response);
    free(doc);
    free(inv);
    store_community_wipe(&c);
}

/* Outcomes of big units whose invoices are a mix of new, already listed
 * and refused ones, across the backends' statement chunks: serials in
 * request order for the accepted ones only, listed before exhausted, and
 * every accepted invoice stored with its VA numbers. */
static void unit_outcomes_mixed(void **state)
{
    (void)state;
    /* 12-digit prefix, length 16: serial width 3, serials 1-999 */
    const char *banks[][2] = {{"008", "123456789012"}, {"009", "223456789012"}};
    add_community("CTMIX", banks, 2, 60, "", false);
    enum { N = LIMIT_INVOICES, NKEYS = 2600 };
    static bool stored[NKEYS];
    int keys[N];
    bool refused[N];
    struct store_result res[N];
    int64_t serial = 1, last_id = 0;
    for (int unit = 0; unit < 3; unit++) {
        /* unit 0: keys 0, 3, 6, ...; unit 1: 0, 1, 2, ... (a third already
         * listed); unit 2: listed ones and new ones taking turns, the
         * serials running out (999) inside the unit */
        for (int i = 0; i < N; i++) {
            keys[i] = unit == 0 ? 3 * i : unit == 1 || i % 2 == 0 ? i : 2000 + i;
            refused[i] = i % (7 + unit * 4) == 3 + unit;
        }
        char rq[16];
        snprintf(rq, sizeof rq, "mix-%d", unit);
        send_mixed("CTMIX", rq, keys, refused, N, res);
        for (int i = 0; i < N; i++) {
            if (refused[i]) {
                assert_int_equal(res[i].outcome, OUT_REFUSED);
            } else if (stored[keys[i]]) {
                assert_int_equal(res[i].outcome, OUT_LISTED);
            } else if (serial <= 999) {
                assert_int_equal(res[i].outcome, OUT_ACCEPTED);
                assert_int_equal(res[i].serial, serial++);
                assert_true(res[i].id > last_id);
                last_id = res[i].id;
                stored[keys[i]] = true;
                char va[LIMIT_VA_NUMBER_DIGITS + 1], doc[16], want[8];
                snprintf(doc, sizeof doc, "MX%05d", keys[i]);
                va_of("CTMIX", doc, "009", va);
                snprintf(want, sizeof want, "%03lld", (long long)res[i].serial);
                assert_memory_equal(va + 12, want, 3);
            } else {
                assert_int_equal(res[i].outcome, OUT_EXHAUSTED);
            }
        }
    }
    assert_true(serial > 999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(operators),
        cmocka_unit_test(sessions),
        cmocka_unit_test(search_rows_are_the_invoices),
        cmocka_unit_test(search_by_q),
        cmocka_unit_test(search_by_filters),
        cmocka_unit_test(search_pages),
        cmocka_unit_test(search_plans_agree),
        cmocka_unit_test(report_payments),
        cmocka_unit_test(overview),
        cmocka_unit_test(notifications),
        cmocka_unit_test(unit_outcomes_mixed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
