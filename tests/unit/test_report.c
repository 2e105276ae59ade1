/* report: day ranges, CSV fields, totals, and both reports rendered byte
 * for byte from a fake store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* 2026-11-26 00:00:00 UTC */
#define DAY_2026_11_26 1795651200LL

static void day_range_cuts_at_the_offset(void **state)
{
    (void)state;
    int64_t from = 0, to = 0;
    assert_int_equal(report_day_range("2026-11-26", "2026-11-26", 420, &from, &to), ERR_OK);
    assert_int_equal(from, DAY_2026_11_26 - 7 * 3600);
    assert_int_equal(to, DAY_2026_11_26 - 7 * 3600 + 86400);
    assert_int_equal(report_day_range("2026-11-26", "2026-11-26", 0, &from, &to), ERR_OK);
    assert_int_equal(from, DAY_2026_11_26);
    assert_int_equal(to, DAY_2026_11_26 + 86400);
    assert_int_equal(report_day_range("2026-11-26", "2026-11-28", -330, &from, &to), ERR_OK);
    assert_int_equal(from, DAY_2026_11_26 + 330 * 60);
    assert_int_equal(to, DAY_2026_11_26 + 330 * 60 + 3 * 86400);
    /* across a month and a leap day */
    assert_int_equal(report_day_range("2024-02-28", "2024-03-01", 0, &from, &to), ERR_OK);
    assert_int_equal(to - from, 3 * 86400);
}

static void day_range_refuses_bad_days(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",           "2026-11-2",   "2026-11-260", "2026/11/26", "2026-13-01",
        "2026-00-10", "2026-11-31",  "2023-02-29",  "0000-01-01", "26-11-2026",
        "2026-11-2x", " 2026-11-26", "2026-11-26 ", "+026-11-26", "2026-11-26 00:00:00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t from = 7, to = 9;
        assert_int_equal(report_day_range(bad[i], "2026-11-26", 0, &from, &to), ERR_INVALID);
        assert_int_equal(report_day_range("2026-11-26", bad[i], 0, &from, &to), ERR_INVALID);
        assert_int_equal(from, 7);
        assert_int_equal(to, 9);
    }
    int64_t from = 7, to = 9;
    assert_int_equal(report_day_range("2026-11-27", "2026-11-26", 0, &from, &to), ERR_INVALID);
    assert_int_equal(report_day_range("2027-01-01", "2026-12-31", 420, &from, &to), ERR_INVALID);
    assert_int_equal(from, 7);
    assert_int_equal(report_day_range("2024-02-29", "2024-02-29", 0, &from, &to), ERR_OK);
}

static void offsets_and_ages(void **state)
{
    (void)state;
    char o[REPORT_OFFSET_LEN + 1];
    report_format_offset(420, o);
    assert_string_equal(o, "+07:00");
    report_format_offset(0, o);
    assert_string_equal(o, "+00:00");
    report_format_offset(-330, o);
    assert_string_equal(o, "-05:30");
    report_format_offset(14 * 60, o);
    assert_string_equal(o, "+14:00");

    enum report_format f = REPORT_JSON;
    assert_true(report_parse_format("csv", &f));
    assert_int_equal(f, REPORT_CSV);
    assert_true(report_parse_format("json", &f));
    assert_int_equal(f, REPORT_JSON);
    assert_false(report_parse_format("CSV", &f));
    assert_false(report_parse_format("xml", &f));
    assert_false(report_parse_format("", &f));
    assert_int_equal(f, REPORT_JSON);

    /* 23:59 local to 00:01 local the next day: one day old */
    int64_t local_midnight = DAY_2026_11_26 - 7 * 3600;
    assert_int_equal(report_age_days(local_midnight - 60, local_midnight + 60, 420), 1);
    assert_int_equal(report_age_days(local_midnight - 60, local_midnight + 60, 0), 0);
    assert_int_equal(report_age_days(local_midnight, local_midnight + 86399, 420), 0);
    assert_int_equal(report_age_days(local_midnight, local_midnight + 30 * 86400, 420), 30);
    assert_int_equal(report_age_days(-1, 0, 0), 1);
}

static void assert_field(const char *in, const char *want)
{
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(report_csv_field(&b, in, strlen(in)), ERR_OK);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.len ? b.p : "", want, b.len);
    buf_free(&b);
}

static void csv_fields_are_quoted_and_guarded(void **state)
{
    (void)state;
    assert_field("", "");
    assert_field("INV-1", "INV-1");
    assert_field("150000.00", "150000.00");
    assert_field("a,b", "\"a,b\"");
    assert_field("say \"hi\"", "\"say \"\"hi\"\"\"");
    assert_field("\"", "\"\"\"\"");
    assert_field("two\nlines", "\"two\nlines\"");
    assert_field("cr\rhere", "\"cr\rhere\"");
    assert_field(" lead", "\" lead\"");
    assert_field("trail ", "\"trail \"");
    assert_field("Budi Santoso", "Budi Santoso");
    assert_field("S\xc3\xa4ntos\xc3\xb6", "S\xc3\xa4ntos\xc3\xb6");
    /* spreadsheet formula injection */
    assert_field("=1+2", "'=1+2");
    assert_field("+62812", "'+62812");
    assert_field("-5", "'-5");
    assert_field("@SUM(A1)", "'@SUM(A1)");
    assert_field("\tx", "\"'\tx\"");
    assert_field("\rx", "\"'\rx\"");
    assert_field("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
    assert_field("a=b", "a=b");
    assert_field("x-1", "x-1");

    /* a full buffer sticks */
    struct buf b;
    buf_init(&b, 4);
    assert_int_not_equal(report_csv_field(&b, "abcdef", 6), ERR_OK);
    assert_int_not_equal(b.failed, ERR_OK);
    buf_free(&b);
}

static void totals_sorted_counted_and_checked(void **state)
{
    (void)state;
    struct report_totals t;
    memset(&t, 0, sizeof t);
    assert_int_equal(report_totals_add(&t, "014", 15000000), ERR_OK);
    assert_int_equal(report_totals_add(&t, "008", 2000000), ERR_OK);
    assert_int_equal(report_totals_add(&t, "014", 50), ERR_OK);
    assert_int_equal(report_totals_add(&t, "009", 0), ERR_OK);
    assert_int_equal(report_totals_add(&t, "008", 1), ERR_OK);
    assert_int_equal(t.n, 3);
    assert_string_equal(t.v[0].code, "008");
    assert_int_equal(t.v[0].count, 2);
    assert_int_equal(t.v[0].amount, 2000001);
    assert_string_equal(t.v[1].code, "009");
    assert_int_equal(t.v[1].count, 1);
    assert_int_equal(t.v[1].amount, 0);
    assert_string_equal(t.v[2].code, "014");
    assert_int_equal(t.v[2].count, 2);
    assert_int_equal(t.v[2].amount, 15000050);

    /* overflow: refused, the entry unchanged */
    assert_int_equal(report_totals_add(&t, "X", INT64_MAX - 1), ERR_OK);
    assert_int_equal(report_totals_add(&t, "X", 1), ERR_OK);
    assert_int_equal(report_totals_add(&t, "X", 1), ERR_INVALID);
    assert_int_equal(t.v[3].amount, INT64_MAX);
    assert_int_equal(t.v[3].count, 2);
    assert_int_equal(report_totals_add(&t, "X", 0), ERR_OK);
    /* bad input */
    assert_int_equal(report_totals_add(&t, "Y", -1), ERR_INVALID);
    char longcode[LIMIT_COMM_CODE + 2];
    memset(longcode, 'A', sizeof longcode - 1);
    longcode[sizeof longcode - 1] = '\0';
    assert_int_equal(report_totals_add(&t, longcode, 1), ERR_INVALID);
    longcode[LIMIT_COMM_CODE] = '\0';
    assert_int_equal(report_totals_add(&t, longcode, 1), ERR_OK);
    assert_int_equal(t.n, 5);
    report_totals_free(&t);
    assert_int_equal(t.n, 0);

    /* many codes stay in order */
    for (int i = 999; i >= 0; i--) {
        char code[8];
        snprintf(code, sizeof code, "C%03d", (i * 37) % 1000);
        assert_int_equal(report_totals_add(&t, code, i), ERR_OK);
    }
    assert_int_equal(t.n, 1000);
    for (size_t i = 1; i < t.n; i++)
        assert_true(strcmp(t.v[i - 1].code, t.v[i].code) < 0);
    report_totals_free(&t);
    report_totals_free(&t);
}

/* ---- the reports through a fake store ---- */

struct fake {
    struct store base;
    const struct store_report_payment *pays;
    size_t npays;
    const struct store_invoice_row *open, *expired;
    size_t nopen, nexpired;
    enum vb_err fail; /* returned instead of listing */
    struct store_payment_filter pf;
    int searches;
    char statuses[2][8];
    int64_t search_now;
};

static enum vb_err fake_payments(struct store *s, const struct store_payment_filter *f,
                                 store_payment_cb row, void *ctx)
{
    struct fake *k = (struct fake *)s;
    k->pf = *f;
    if (k->fail)
        return k->fail;
    for (size_t i = 0; i < k->npays; i++)
        if (row(ctx, &k->pays[i]))
            return ERR_INVALID;
    return ERR_OK;
}

static enum vb_err fake_search(struct store *s, const struct store_invoice_filter *f,
                               store_invoice_cb row, void *ctx)
{
    struct fake *k = (struct fake *)s;
    assert_non_null(f->status);
    assert_null(f->q);
    assert_int_equal(f->limit, 0);
    assert_int_equal(f->before_id, 0);
    assert_int_equal(f->to, 0);
    if (k->searches < 2)
        snprintf(k->statuses[k->searches], sizeof k->statuses[0], "%s", f->status);
    k->searches++;
    k->search_now = f->now;
    if (k->fail)
        return k->fail;
    bool open = strcmp(f->status, "open") == 0;
    const struct store_invoice_row *v = open ? k->open : k->expired;
    size_t n = open ? k->nopen : k->nexpired;
    for (size_t i = 0; i < n; i++)
        if (row(ctx, &v[i]))
            return ERR_INVALID;
    return ERR_OK;
}

static const struct store_ops fake_ops = {
    .name = "fake",
    .report_payments = fake_payments,
    .invoice_search = fake_search,
};

/* A sink collecting into a buf; refuses once `limit` bytes are reached. */
struct collect {
    struct buf b;
    size_t limit;
    int calls;
};

static int collect_write(void *ctx, const char *p, size_t n)
{
    struct collect *c = ctx;
    c->calls++;
    if (c->limit && c->b.len + n > c->limit)
        return 1;
    return buf_add(&c->b, p, n) != ERR_OK;
}

/* 2026-11-26 10:00:00 +07:00 */
#define T10 (DAY_2026_11_26 + 3 * 3600)

static const struct store_report_payment pays[] = {
    {1, T10, "DEMO", 7, "INV-1", "014", "8808000000000079", "P1", 15000000, 0},
    {2, T10 + 61, "ACME", 8, "=cmd|' /C calc'!A0", "008", "62806000000000011", "P,2", 1000050,
     999950},
    {3, T10 + 3600, "DEMO", 9, "INV \"3\"", "008", "62806000000000029", "-P3", 500000, 0},
};

static void payments_csv(void **state)
{
    (void)state;
    struct fake k;
    memset(&k, 0, sizeof k);
    k.base.ops = &fake_ops;
    k.pays = pays;
    k.npays = 3;
    struct collect c;
    memset(&c, 0, sizeof c);
    buf_init(&c.b, 1 << 20);
    struct report_sink sink = {collect_write, &c};
    struct report_payments_query q = {"2026-11-26", "2026-11-26", "DEMO", NULL, REPORT_CSV, 420};
    assert_int_equal(report_payments(&k.base, &q, &sink), ERR_OK);
    assert_int_equal(k.pf.from, DAY_2026_11_26 - 7 * 3600);
    assert_int_equal(k.pf.to, DAY_2026_11_26 - 7 * 3600 + 86400);
    assert_string_equal(k.pf.comm_code, "DEMO");
    assert_null(k.pf.bank_code);
    const char *want =
        "paid_at,comm_code,doc_no,doc_ref_no,bank_code,va_number,payment_ref,amount,"
        "outstanding_after,status\r\n"
        "2026-11-26 10:00:00,DEMO,INV-1,VB0000000000007,014,8808000000000079,P1,150000.00,0.00,"
        "paid\r\n"
        "2026-11-26 10:01:01,ACME,'=cmd|' /C calc'!A0,VB0000000000008,008,62806000000000011,"
        "\"P,2\",10000.50,9999.50,partial\r\n"
        "2026-11-26 11:00:00,DEMO,\"INV \"\"3\"\"\",VB0000000000009,008,62806000000000029,'-P3,"
        "5000.00,0.00,paid\r\n"
        "\r\n"
        "total,code,payments,amount\r\n"
        "bank,008,2,15000.50\r\n"
        "bank,014,1,150000.00\r\n"
        "community,ACME,1,10000.50\r\n"
        "community,DEMO,2,155000.00\r\n"
        "all,,3,165000.50\r\n";
    assert_int_equal(c.b.len, strlen(want));
    assert_string_equal(c.b.p, want);
    buf_free(&c.b);
}

static void payments_json(void **state)
{
    (void)state;
    struct fake k;
    memset(&k, 0, sizeof k);
    k.base.ops = &fake_ops;
    k.pays = pays;
    k.npays = 2;
    struct collect c;
    memset(&c, 0, sizeof c);
    buf_init(&c.b, 1 << 20);
    struct report_sink sink = {collect_write, &c};
    struct report_payments_query q = {"2026-11-25", "2026-11-26", NULL, "008", REPORT_JSON, 0};
    assert_int_equal(report_payments(&k.base, &q, &sink), ERR_OK);
    assert_int_equal(k.pf.from, DAY_2026_11_26 - 86400);
    assert_int_equal(k.pf.to, DAY_2026_11_26 + 86400);
    assert_string_equal(k.pf.bank_code, "008");
    const char *want =
        "{\"from\":\"2026-11-25\",\"to\":\"2026-11-26\",\"utc_offset\":\"+00:00\",\"payments\":[\n"
        "{\"paid_at\":\"2026-11-26 03:00:00\",\"comm_code\":\"DEMO\",\"doc_no\":\"INV-1\","
        "\"doc_ref_no\":\"VB0000000000007\",\"bank_code\":\"014\",\"va_number\":"
        "\"8808000000000079\",\"payment_ref\":\"P1\",\"amount\":\"150000.00\","
        "\"outstanding_after\":\"0.00\",\"status\":\"paid\"},\n"
        "{\"paid_at\":\"2026-11-26 03:01:01\",\"comm_code\":\"ACME\",\"doc_no\":"
        "\"=cmd|' /C calc'!A0\",\"doc_ref_no\":\"VB0000000000008\",\"bank_code\":\"008\","
        "\"va_number\":\"62806000000000011\",\"payment_ref\":\"P,2\",\"amount\":\"10000.50\","
        "\"outstanding_after\":\"9999.50\",\"status\":\"partial\"}\n"
        "],\"totals\":{\"banks\":[{\"bank_code\":\"008\",\"payments\":1,\"amount\":\"10000.50\"},"
        "{\"bank_code\":\"014\",\"payments\":1,\"amount\":\"150000.00\"}],"
        "\"communities\":[{\"comm_code\":\"ACME\",\"payments\":1,\"amount\":\"10000.50\"},"
        "{\"comm_code\":\"DEMO\",\"payments\":1,\"amount\":\"150000.00\"}],"
        "\"all\":{\"payments\":2,\"amount\":\"160000.50\"}}}\n";
    assert_string_equal(c.b.p, want);

    /* no payments at all */
    buf_reset(&c.b);
    k.npays = 0;
    assert_int_equal(report_payments(&k.base, &q, &sink), ERR_OK);
    assert_string_equal(c.b.p,
                        "{\"from\":\"2026-11-25\",\"to\":\"2026-11-26\",\"utc_offset\":"
                        "\"+00:00\",\"payments\":[],\"totals\":{\"banks\":[],"
                        "\"communities\":[],\"all\":{\"payments\":0,\"amount\":\"0.00\"}}}\n");
    buf_reset(&c.b);
    q.format = REPORT_CSV;
    assert_int_equal(report_payments(&k.base, &q, &sink), ERR_OK);
    assert_string_equal(c.b.p, "paid_at,comm_code,doc_no,doc_ref_no,bank_code,va_number,"
                               "payment_ref,amount,outstanding_after,status\r\n\r\n"
                               "total,code,payments,amount\r\nall,,0,0.00\r\n");
    buf_free(&c.b);
}

static void payments_failures(void **state)
{
    (void)state;
    struct fake k;
    memset(&k, 0, sizeof k);
    k.base.ops = &fake_ops;
    k.pays = pays;
    k.npays = 3;
    struct collect c;
    memset(&c, 0, sizeof c);
    buf_init(&c.b, 1 << 20);
    struct report_sink sink = {collect_write, &c};
    struct report_payments_query q = {"2026-11-27", "2026-11-26", NULL, NULL, REPORT_CSV, 420};
    /* bad days: nothing written, the store not asked */
    assert_int_equal(report_payments(&k.base, &q, &sink), ERR_INVALID);
    assert_int_equal(c.calls, 0);
    assert_int_equal(k.pf.to, 0);
    q.from_day = "2026-11-26";
    /* the sink refuses: ERR_TOOBIG, rows stop */
    c.limit = 200;
    assert_int_equal(report_payments(&k.base, &q, &sink), ERR_TOOBIG);
    assert_true(c.b.len <= 200);
    c.limit = 0;
    /* the store fails */
    /* the buf sink of the admin API: the same bytes, or ERR_TOOBIG when full */
    struct buf whole, small;
    buf_init(&whole, 1 << 20);
    buf_init(&small, 300);
    struct report_sink to_whole = {report_buf_write, &whole}, to_small = {report_buf_write, &small};
    assert_int_equal(report_payments(&k.base, &q, &to_whole), ERR_OK);
    buf_reset(&c.b);
    assert_int_equal(report_payments(&k.base, &q, &sink), ERR_OK);
    assert_int_equal(whole.len, c.b.len);
    assert_memory_equal(whole.p, c.b.p, c.b.len);
    assert_int_equal(report_payments(&k.base, &q, &to_small), ERR_TOOBIG);
    assert_int_equal(small.failed, ERR_TOOBIG);
    buf_free(&whole);
    buf_free(&small);

    buf_reset(&c.b);
    k.fail = ERR_STORE;
    assert_int_equal(report_payments(&k.base, &q, &sink), ERR_STORE);
    k.fail = ERR_OK;
    /* a total past int64 */
    struct store_report_payment big[3];
    for (int i = 0; i < 3; i++) {
        big[i] = pays[0];
        big[i].amount = INT64_MAX / 2;
    }
    k.pays = big;
    buf_reset(&c.b);
    assert_int_equal(report_payments(&k.base, &q, &sink), ERR_INVALID);
    buf_free(&c.b);
}

static const struct store_invoice_row open_rows[] = {
    {12, "DEMO", "INV-12", "M1", "Budi", 2000000, 2000000, "open", T10, T10 + 30 * 86400},
    {10, "ACME", "@x", "M,2", "", 1000000, 400000, "open", T10 - 3 * 86400, T10 + 86400},
};
static const struct store_invoice_row expired_rows[] = {
    {4, "DEMO", "INV-4", "M4", "Sri \"Wati\"", 500000, 500000, "open", T10 - 40 * 86400,
     T10 - 10 * 86400},
};

static void invoices_csv_and_json(void **state)
{
    (void)state;
    struct fake k;
    memset(&k, 0, sizeof k);
    k.base.ops = &fake_ops;
    k.open = open_rows;
    k.nopen = 2;
    k.expired = expired_rows;
    k.nexpired = 1;
    struct collect c;
    memset(&c, 0, sizeof c);
    buf_init(&c.b, 1 << 20);
    struct report_sink sink = {collect_write, &c};
    /* now: 2026-11-27 08:00:00 +07:00 */
    struct report_invoices_query q = {NULL, REPORT_CSV, 420, T10 + 86400 - 2 * 3600};
    assert_int_equal(report_invoices(&k.base, &q, &sink), ERR_OK);
    assert_int_equal(k.searches, 2);
    assert_string_equal(k.statuses[0], "open");
    assert_string_equal(k.statuses[1], "expired");
    assert_int_equal(k.search_now, q.now);
    const char *want =
        "accepted_at,comm_code,doc_no,doc_ref_no,member_code,member_name,amount,outstanding,"
        "expires_at,age_days,expired\r\n"
        "2026-11-26 10:00:00,DEMO,INV-12,VB0000000000012,M1,Budi,20000.00,20000.00,"
        "2026-12-26 10:00:00,1,no\r\n"
        "2026-11-23 10:00:00,ACME,'@x,VB0000000000010,\"M,2\",,10000.00,4000.00,"
        "2026-11-27 10:00:00,4,no\r\n"
        "2026-10-17 10:00:00,DEMO,INV-4,VB0000000000004,M4,\"Sri \"\"Wati\"\"\",5000.00,5000.00,"
        "2026-11-16 10:00:00,41,yes\r\n"
        "\r\n"
        "total,code,invoices,outstanding\r\n"
        "community,ACME,1,4000.00\r\n"
        "community,DEMO,2,25000.00\r\n"
        "all,,3,29000.00\r\n";
    assert_string_equal(c.b.p, want);

    buf_reset(&c.b);
    k.nopen = 1;
    k.nexpired = 0;
    q.format = REPORT_JSON;
    q.comm_code = "DEMO";
    assert_int_equal(report_invoices(&k.base, &q, &sink), ERR_OK);
    want = "{\"as_of\":\"2026-11-27 08:00:00\",\"utc_offset\":\"+07:00\",\"invoices\":[\n"
           "{\"accepted_at\":\"2026-11-26 10:00:00\",\"comm_code\":\"DEMO\",\"doc_no\":\"INV-12\","
           "\"doc_ref_no\":\"VB0000000000012\",\"member_code\":\"M1\",\"member_name\":\"Budi\","
           "\"amount\":\"20000.00\",\"outstanding\":\"20000.00\",\"expires_at\":"
           "\"2026-12-26 10:00:00\",\"age_days\":1,\"expired\":false}\n"
           "],\"totals\":{\"communities\":[{\"comm_code\":\"DEMO\",\"invoices\":1,"
           "\"outstanding\":\"20000.00\"}],\"all\":{\"invoices\":1,\"outstanding\":"
           "\"20000.00\"}}}\n";
    assert_string_equal(c.b.p, want);

    buf_reset(&c.b);
    k.fail = ERR_BUSY;
    assert_int_equal(report_invoices(&k.base, &q, &sink), ERR_BUSY);
    buf_free(&c.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(day_range_cuts_at_the_offset),
        cmocka_unit_test(day_range_refuses_bad_days),
        cmocka_unit_test(offsets_and_ages),
        cmocka_unit_test(csv_fields_are_quoted_and_guarded),
        cmocka_unit_test(totals_sorted_counted_and_checked),
        cmocka_unit_test(payments_csv),
        cmocka_unit_test(payments_json),
        cmocka_unit_test(payments_failures),
        cmocka_unit_test(invoices_csv_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
