/* Unit tests for fields: the request field rules (SPEC 1.1, 1.4 steps 2-3) and
 * the invoice field rules (SPEC 1.3), with exact codes and names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fields.h"

static struct fv str(const char *s)
{
    return (struct fv){FV_STRING, s, strlen(s), 1, -1};
}

static struct fv num(const char *s)
{
    return (struct fv){FV_NUMBER, s, strlen(s), 1, -1};
}

static struct fv kind(enum fv_kind k, const char *s)
{
    return (struct fv){k, s, strlen(s), 1, -1};
}

static const struct fv absent = {FV_ABSENT, NULL, 0, 0, -1};

static void assert_fail(const struct fail *f, const char *code, const char *what)
{
    assert_non_null(f->code);
    assert_string_equal(f->code, code);
    assert_int_equal(f->what_len, strlen(what));
    assert_memory_equal(f->what, what, strlen(what));
}

/* ---------------------------------------------------------------- request */

static const char sig64[] = "af2b7782429988449308a401a169870dd6feb71310dd1e5ba8b386f16f79dfaf";

static void good_request(struct fv v[RQ_NFIELDS])
{
    v[RQ_UUID] = str("UUID001");
    v[RQ_DATETIME] = str("2016-07-25 11:05:49");
    v[RQ_SIGNATURE] = str(sig64);
    v[RQ_COMM_CODE] = str("SGWTES");
    v[RQ_CCY] = str("IDR");
    v[RQ_INVOICES] = kind(FV_OBJECT, "{\"INV1\":{}}");
    v[RQ_TOTAL_INVOICES] = str("2");
}

static void check_request_fails(const struct fv v[RQ_NFIELDS], const char *code, const char *what)
{
    struct rq_values out;
    struct fail f = {NULL, NULL, 0};
    memset(&out, 0x5a, sizeof out);
    assert_false(fields_check_request(v, 7 * 60, &out, &f));
    assert_fail(&f, code, what);
}

static void request_valid(void **state)
{
    (void)state;
    struct fv v[RQ_NFIELDS];
    good_request(v);
    struct rq_values out;
    struct fail f = {NULL, NULL, 0};
    assert_true(fields_check_request(v, 7 * 60, &out, &f));
    assert_null(f.code);
    assert_int_equal(out.rq_uuid_len, 7);
    assert_memory_equal(out.rq_uuid, "UUID001", 7);
    assert_memory_equal(out.rq_datetime, "2016-07-25 11:05:49", 19);
    /* 2016-07-25 11:05:49 at +07:00 is 04:05:49 UTC */
    assert_int_equal(out.rq_time, 1469419549);
    assert_memory_equal(out.signature, sig64, 64);
    assert_string_equal(out.comm_code, "SGWTES");
    assert_string_equal(out.ccy, "IDR");
    assert_int_equal(out.total_invoices, 2);

    /* the offset moves the instant */
    assert_true(fields_check_request(v, 0, &out, &f));
    assert_int_equal(out.rq_time, 1469419549 + 7 * 3600);

    /* other good shapes */
    v[RQ_TOTAL_INVOICES] = num("999"); /* over 500 is step 10, not a format error */
    v[RQ_SIGNATURE] = str("AF2B7782429988449308A401A169870DD6FEB71310DD1E5BA8B386F16F79DFAF");
    v[RQ_COMM_CODE] = str("abcdefghijklmnopqrstuvwxyz012345"); /* 32 */
    v[RQ_INVOICES] = str("not json yet");                      /* judged at step 9 */
    assert_true(fields_check_request(v, 7 * 60, &out, &f));
    assert_int_equal(out.total_invoices, 999);
    assert_string_equal(out.comm_code, "abcdefghijklmnopqrstuvwxyz012345");
    v[RQ_TOTAL_INVOICES] = str("001");
    v[RQ_INVOICES] = kind(FV_NUMBER, "5");
    assert_true(fields_check_request(v, 7 * 60, &out, &f));
    assert_int_equal(out.total_invoices, 1);
}

static void request_presence(void **state)
{
    (void)state;
    static const char *const names[RQ_NFIELDS] = {
        "rq_uuid", "rq_datetime", "signature", "comm_code", "ccy", "invoices", "total_invoices",
    };
    struct fv empties[5];
    empties[0] = absent;
    empties[1] = (struct fv){FV_NULL, NULL, 0, 1, -1};
    empties[2] = str("");
    empties[3] = str("   ");
    empties[4] = str(" \t\r\n");
    for (int k = 0; k < RQ_NFIELDS; k++) {
        assert_string_equal(rq_field_names[k], names[k]);
        for (size_t e = 0; e < sizeof empties / sizeof empties[0]; e++) {
            struct fv v[RQ_NFIELDS];
            good_request(v);
            v[k] = empties[e];
            print_message("empty %s (%zu)\n", names[k], e);
            check_request_fails(v, "0001", names[k]);
            /* presence of every field comes before the format of any */
            for (int j = 0; j < k; j++)
                v[j] = str("\x01 bad");
            check_request_fails(v, "0001", names[k]);
            /* and the first empty field in table order is named */
            for (int j = k + 1; j < RQ_NFIELDS; j++)
                v[j] = absent;
            check_request_fails(v, "0001", names[k]);
        }
    }
    struct fv none[RQ_NFIELDS];
    for (int k = 0; k < RQ_NFIELDS; k++)
        none[k] = absent;
    check_request_fails(none, "0001", "rq_uuid");
}

struct bad_field {
    int field;
    struct fv v;
};

static void request_formats(void **state)
{
    (void)state;
    static char long_uuid[257], max_uuid[256], long_code[34];
    memset(long_uuid, 'u', 256);
    memset(max_uuid, 'u', 255);
    memset(long_code, 'C', 33);
    const struct bad_field bad[] = {
        {RQ_UUID, str(long_uuid)},
        {RQ_UUID, str("UUID\x01")},
        {RQ_UUID, str("UUID\x7f")},
        {RQ_UUID, str("UUID\xc3\xa9")},
        {RQ_UUID, str("a\tb")},
        {RQ_UUID, num("123")},
        {RQ_UUID, kind(FV_BOOL, "true")},
        {RQ_UUID, kind(FV_OBJECT, "{}")},
        {RQ_DATETIME, str("2026-02-30 00:00:00")},
        {RQ_DATETIME, str("2023-02-29 10:00:00")},
        {RQ_DATETIME, str("2016-07-25T11:05:49")},
        {RQ_DATETIME, str("2016-07-25 11:05")},
        {RQ_DATETIME, str("2016-07-25 24:00:00")},
        {RQ_DATETIME, num("20160725110549")},
        {RQ_SIGNATURE, str(sig64 + 1)},
        {RQ_SIGNATURE, str("af2b7782429988449308a401a169870dd6feb71310dd1e5ba8b386f16f79dfaf0")},
        {RQ_SIGNATURE, str("gf2b7782429988449308a401a169870dd6feb71310dd1e5ba8b386f16f79dfaf")},
        {RQ_SIGNATURE, str(" f2b7782429988449308a401a169870dd6feb71310dd1e5ba8b386f16f79dfaf")},
        {RQ_COMM_CODE, str(long_code)},
        {RQ_COMM_CODE, str("SGW-TES")},
        {RQ_COMM_CODE, str("SGW TES")},
        {RQ_COMM_CODE, str("SGW\xc3\xa9")},
        {RQ_COMM_CODE, num("12345")},
        {RQ_CCY, str("idr")},
        {RQ_CCY, str("IDRX")},
        {RQ_CCY, str("ID")},
        {RQ_CCY, str("ID1")},
        {RQ_CCY, str("I R")},
        {RQ_TOTAL_INVOICES, str("0")},
        {RQ_TOTAL_INVOICES, str("00")},
        {RQ_TOTAL_INVOICES, str("1000")},
        {RQ_TOTAL_INVOICES, str("0001")},
        {RQ_TOTAL_INVOICES, str("abc")},
        {RQ_TOTAL_INVOICES, str("-1")},
        {RQ_TOTAL_INVOICES, str("+1")},
        {RQ_TOTAL_INVOICES, str(" 2")},
        {RQ_TOTAL_INVOICES, str("2 ")},
        {RQ_TOTAL_INVOICES, num("1.0")},
        {RQ_TOTAL_INVOICES, num("0")},
        {RQ_TOTAL_INVOICES, num("1e2")},
        {RQ_TOTAL_INVOICES, kind(FV_BOOL, "true")},
        {RQ_TOTAL_INVOICES, kind(FV_ARRAY, "[2]")},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fv v[RQ_NFIELDS];
        good_request(v);
        v[bad[i].field] = bad[i].v;
        print_message("bad %s case %zu\n", rq_field_names[bad[i].field], i);
        check_request_fails(v, "0003", rq_field_names[bad[i].field]);
        /* the first malformed field in table order is named */
        for (int j = bad[i].field + 1; j < RQ_NFIELDS; j++)
            if (j != RQ_INVOICES)
                v[j] = kind(FV_BOOL, "true");
        check_request_fails(v, "0003", rq_field_names[bad[i].field]);
    }
    /* the longest rq_uuid is fine */
    struct fv v[RQ_NFIELDS];
    good_request(v);
    v[RQ_UUID] = str(max_uuid);
    struct rq_values out;
    struct fail f = {NULL, NULL, 0};
    assert_true(fields_check_request(v, 0, &out, &f));
    assert_int_equal(out.rq_uuid_len, 255);
}

static void request_duplicates(void **state)
{
    (void)state;
    for (int k = 0; k < RQ_NFIELDS; k++) {
        struct fv v[RQ_NFIELDS];
        good_request(v);
        v[k].count = 2;
        print_message("duplicate %s\n", rq_field_names[k]);
        check_request_fails(v, "0003", rq_field_names[k]);
        v[k].count = 3;
        check_request_fails(v, "0003", rq_field_names[k]);
    }
    /* a duplicate is a format error: an empty field later still comes first */
    struct fv v[RQ_NFIELDS];
    good_request(v);
    v[RQ_UUID].count = 2;
    v[RQ_TOTAL_INVOICES] = absent;
    check_request_fails(v, "0001", "total_invoices");
}

static void rq_uuid_echo(void **state)
{
    (void)state;
    static char long_uuid[257], max_uuid[256];
    memset(long_uuid, 'u', 256);
    memset(max_uuid, 'u', 255);
    struct fv v = str("UUID001");
    assert_true(fields_rq_uuid_ok(&v));
    v = str(max_uuid);
    assert_true(fields_rq_uuid_ok(&v));
    v = str("a b ~!");
    assert_true(fields_rq_uuid_ok(&v));
    v = str("UUID001");
    v.count = 2;
    assert_false(fields_rq_uuid_ok(&v));
    v = str(long_uuid);
    assert_false(fields_rq_uuid_ok(&v));
    v = str("UU\nID");
    assert_false(fields_rq_uuid_ok(&v));
    v = str("UU\xc3\xa9");
    assert_false(fields_rq_uuid_ok(&v));
    v = str("");
    assert_false(fields_rq_uuid_ok(&v));
    v = str("  ");
    assert_false(fields_rq_uuid_ok(&v));
    v = num("123");
    assert_false(fields_rq_uuid_ok(&v));
    v = (struct fv){FV_NULL, NULL, 0, 1, -1};
    assert_false(fields_rq_uuid_ok(&v));
    assert_false(fields_rq_uuid_ok(&absent));
}

/* ---------------------------------------------------------------- invoice */

static void good_invoice(struct inv_members *m)
{
    memset(m, 0, sizeof *m);
    m->v[IF_MEMBER_CODE][0] = str("M001");
    m->v[IF_MEMBER_NAME][0] = str("Budi");
    m->v[IF_AMOUNT][0] = str("150000.50");
    m->v[IF_TOTAL_AMOUNT][0] = num("200000");
    m->v[IF_N_INSTALLMENT][0] = str("3");
    m->v[IF_INSTALLMENT_AMOUNT][0] = num("50000.5");
    m->v[IF_BALANCE][0] = str("0");
    m->v[IF_DESCRIPTION][0] = str("VA Payment Test");
    m->v[IF_BILLING_DATE][0] = str("05");
}

static const char *const display[IF_NFIELDS] = {
    "Member Code",
    "Member Name",
    "Amount",
    "Total Amount",
    "Number Of Installment",
    "Installment Amount",
    "Balance Payment Amount",
    "Description",
    "Billing Date",
};

static void check_invoice_fails(const char *doc, const struct inv_members *m, const char *code,
                                const char *what)
{
    struct invoice out;
    memset(&out, 0x5a, sizeof out);
    assert_false(fields_check_invoice(doc, strlen(doc), m, &out));
    assert_fail(&out.fail, code, what);
}

static void check_invoice_ok(const char *doc, const struct inv_members *m, struct invoice *out)
{
    memset(out, 0x5a, sizeof *out);
    assert_true(fields_check_invoice(doc, strlen(doc), m, out));
    assert_null(out->fail.code);
}

static void invoice_valid(void **state)
{
    (void)state;
    struct inv_members m;
    struct invoice out;
    good_invoice(&m);
    check_invoice_ok("INVZSKSK023", &m, &out);
    assert_int_equal(out.doc_no_len, 11);
    assert_memory_equal(out.doc_no, "INVZSKSK023", 11);
    assert_int_equal(out.member_code_len, 4);
    assert_memory_equal(out.member_code, "M001", 4);
    assert_int_equal(out.member_name_len, 4);
    assert_memory_equal(out.member_name, "Budi", 4);
    assert_int_equal(out.amount, 15000050);
    assert_int_equal(out.total_amount, 20000000);
    assert_int_equal(out.number_of_installment, 3);
    assert_int_equal(out.installment_amount, 5000050);
    assert_true(out.has_balance);
    assert_int_equal(out.balance_payment_amount, 0);
    assert_int_equal(out.description_len, 15);
    assert_memory_equal(out.description, "VA Payment Test", 15);
    assert_int_equal(out.billing_date, 5);

    /* optional fields absent (or empty, or null) */
    m.v[IF_MEMBER_NAME][0] = absent;
    m.v[IF_BALANCE][0] = (struct fv){FV_NULL, NULL, 0, 1, -1};
    m.v[IF_DESCRIPTION][0] = str("  ");
    check_invoice_ok("D", &m, &out);
    assert_null(out.member_name);
    assert_false(out.has_balance);
    assert_int_equal(out.balance_payment_amount, 0);
    assert_null(out.description);

    /* limits that are still fine */
    good_invoice(&m);
    m.v[IF_AMOUNT][0] = str("200000.00"); /* amount == total_amount */
    m.v[IF_N_INSTALLMENT][0] = num("999");
    m.v[IF_BILLING_DATE][0] = num("31");
    m.v[IF_MEMBER_CODE][0] = str("abcdefghijklmnopqrstuvwxyzABCDEF"); /* 32 */
    m.v[IF_BALANCE][0] = num("999999999999999.99");
    check_invoice_ok("12345678901234567890123456789012", &m, &out); /* doc_no 32 */
    assert_int_equal(out.amount, 20000000);
    assert_int_equal(out.number_of_installment, 999);
    assert_int_equal(out.billing_date, 31);
    assert_int_equal(out.balance_payment_amount, 99999999999999999LL);
    assert_int_equal(out.doc_no_len, 32);
    m.v[IF_BILLING_DATE][0] = str("1");
    m.v[IF_N_INSTALLMENT][0] = str("001");
    check_invoice_ok("a b~", &m, &out);
    assert_int_equal(out.billing_date, 1);
    assert_int_equal(out.number_of_installment, 1);
}

static void invoice_doc_no(void **state)
{
    (void)state;
    struct inv_members m;
    good_invoice(&m);
    check_invoice_fails("", &m, "0001", "Document No");
    check_invoice_fails("   ", &m, "0001", "Document No");
    check_invoice_fails("\t\r\n", &m, "0001", "Document No");
    static const char *const bad[] = {
        "123456789012345678901234567890123", /* 33 */
        " INV1",
        "INV1 ",
        "\tINV1",
        "INV1\n",
        "INV\x01",
        "INV\x7f",
        "INV\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("doc_no case %zu\n", i);
        check_invoice_fails(bad[i], &m, "0003", "Document No");
    }
    /* doc_no comes before every member */
    memset(&m, 0, sizeof m);
    check_invoice_fails(" INV1", &m, "0003", "Document No");
    check_invoice_fails("", &m, "0001", "Document No");
    check_invoice_fails("INV1", &m, "0001", "Member Code");
}

static void invoice_mandatory(void **state)
{
    (void)state;
    static const int mandatory[] = {IF_MEMBER_CODE,        IF_AMOUNT,
                                    IF_TOTAL_AMOUNT,       IF_N_INSTALLMENT,
                                    IF_INSTALLMENT_AMOUNT, IF_BILLING_DATE};
    struct fv empties[4];
    empties[0] = absent;
    empties[1] = (struct fv){FV_NULL, NULL, 0, 1, -1};
    empties[2] = str("");
    empties[3] = str(" \t");
    for (size_t i = 0; i < sizeof mandatory / sizeof mandatory[0]; i++) {
        int k = mandatory[i];
        for (size_t e = 0; e < sizeof empties / sizeof empties[0]; e++) {
            struct inv_members m;
            good_invoice(&m);
            m.v[k][0] = empties[e];
            m.v[k][1] = empties[e];
            print_message("empty %s (%zu)\n", display[k], e);
            check_invoice_fails("INV1", &m, "0001", display[k]);
        }
    }
}

struct bad_member {
    int field;
    int alias;
    struct fv v;
};

static void invoice_formats(void **state)
{
    (void)state;
    static char name100[101], name101[102], e100[201], e101[203], code33[34];
    memset(name100, 'n', 100);
    memset(name101, 'n', 101);
    for (int i = 0; i < 101; i++)
        memcpy(e101 + 2 * i, "\xc3\xa9", 2);
    memcpy(e100, e101, 200);
    memset(code33, 'C', 33);
    const struct bad_member bad[] = {
        {IF_MEMBER_CODE, 0, str(code33)},
        {IF_MEMBER_CODE, 0, str("M-01")},
        {IF_MEMBER_CODE, 0, str("M 01")},
        {IF_MEMBER_CODE, 0, str("M\xc3\xa9")},
        {IF_MEMBER_CODE, 0, num("1.5")},
        {IF_MEMBER_CODE, 0, num("-5")},
        {IF_MEMBER_CODE, 0, num("1e5")},
        {IF_MEMBER_CODE, 0, num("123456789012345678901234567890123")},
        {IF_MEMBER_CODE, 0, kind(FV_BOOL, "true")},
        {IF_MEMBER_CODE, 0, kind(FV_OBJECT, "{}")},
        {IF_MEMBER_CODE, 0, kind(FV_ARRAY, "[1]")},
        {IF_MEMBER_NAME, 0, str(name101)},
        {IF_MEMBER_NAME, 0, str(e101)},
        {IF_MEMBER_NAME, 0, str("Bad \xc3")},
        {IF_MEMBER_NAME, 0, str("\xed\xa0\x80")},
        {IF_MEMBER_NAME, 0, num("12")},
        {IF_MEMBER_NAME, 0, kind(FV_BOOL, "false")},
        {IF_AMOUNT, 0, str("0")},
        {IF_AMOUNT, 0, num("0.00")},
        {IF_AMOUNT, 0, str("abc")},
        {IF_AMOUNT, 0, str("1.230")},
        {IF_AMOUNT, 0, num("1e5")},
        {IF_AMOUNT, 0, str("-5")},
        {IF_AMOUNT, 0, str("1000000000000000")},
        {IF_AMOUNT, 0, kind(FV_BOOL, "true")},
        {IF_TOTAL_AMOUNT, 0, str("0")},
        {IF_TOTAL_AMOUNT, 0, str("1,5")},
        {IF_TOTAL_AMOUNT, 0, num("200000.001")},
        {IF_N_INSTALLMENT, 0, str("0")},
        {IF_N_INSTALLMENT, 0, str("1000")},
        {IF_N_INSTALLMENT, 0, str("0999")},
        {IF_N_INSTALLMENT, 0, num("1.5")},
        {IF_N_INSTALLMENT, 0, num("-1")},
        {IF_N_INSTALLMENT, 0, str("abc")},
        {IF_N_INSTALLMENT, 0, str(" 3")},
        {IF_N_INSTALLMENT, 1, str("1000")},
        {IF_INSTALLMENT_AMOUNT, 0, str("0")},
        {IF_INSTALLMENT_AMOUNT, 0, str("5.")},
        {IF_INSTALLMENT_AMOUNT, 1, str("0.00")},
        {IF_BALANCE, 0, str("-1")},
        {IF_BALANCE, 0, str("x")},
        {IF_BALANCE, 1, num("1.001")},
        {IF_DESCRIPTION, 0, str(name101)},
        {IF_DESCRIPTION, 0, str(e101)},
        {IF_DESCRIPTION, 0, str("\x80")},
        {IF_DESCRIPTION, 0, num("5")},
        {IF_BILLING_DATE, 0, str("0")},
        {IF_BILLING_DATE, 0, str("32")},
        {IF_BILLING_DATE, 0, str("005")},
        {IF_BILLING_DATE, 0, num("99")},
        {IF_BILLING_DATE, 0, num("5.0")},
        {IF_BILLING_DATE, 0, str("5th")},
        {IF_BILLING_DATE, 1, str("00")},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct inv_members m;
        good_invoice(&m);
        int k = bad[i].field;
        if (bad[i].alias)
            m.v[k][0] = absent;
        m.v[k][bad[i].alias] = bad[i].v;
        print_message("bad %s case %zu\n", display[k], i);
        check_invoice_fails("INV1", &m, "0003", display[k]);
        /* the first failure in table order is the outcome */
        for (int j = k + 1; j < IF_NFIELDS; j++) {
            m.v[j][0] = kind(FV_OBJECT, "{}");
            m.v[j][1] = absent;
        }
        check_invoice_fails("INV1", &m, "0003", display[k]);
        for (int j = k + 1; j < IF_NFIELDS; j++)
            m.v[j][0] = absent;
        check_invoice_fails("INV1", &m, "0003", display[k]);
    }

    /* lengths count characters, not bytes */
    struct inv_members m;
    struct invoice out;
    good_invoice(&m);
    m.v[IF_MEMBER_NAME][0] = str(name100);
    m.v[IF_DESCRIPTION][0] = str(e100); /* 100 characters, 200 bytes */
    check_invoice_ok("INV1", &m, &out);
    assert_int_equal(out.description_len, 200);
    m.v[IF_MEMBER_NAME][0] = str(e100);
    m.v[IF_DESCRIPTION][0] = str("\xf0\x9f\x98\x80 emoji");
    check_invoice_ok("INV1", &m, &out);
    assert_int_equal(out.member_name_len, 200);
}

static void invoice_amount_vs_total(void **state)
{
    (void)state;
    struct inv_members m;
    struct invoice out;
    good_invoice(&m);
    m.v[IF_AMOUNT][0] = str("200000.01");
    check_invoice_fails("INV1", &m, "0003", "Amount");
    /* it is judged after total_amount, before the later fields */
    m.v[IF_N_INSTALLMENT][0] = absent;
    m.v[IF_BILLING_DATE][0] = str("99");
    check_invoice_fails("INV1", &m, "0003", "Amount");
    /* a malformed total_amount is its own failure */
    m.v[IF_TOTAL_AMOUNT][0] = str("x");
    check_invoice_fails("INV1", &m, "0003", "Total Amount");
    m.v[IF_TOTAL_AMOUNT][0] = absent;
    check_invoice_fails("INV1", &m, "0001", "Total Amount");
    /* an absent amount is reported first */
    m.v[IF_AMOUNT][0] = absent;
    check_invoice_fails("INV1", &m, "0001", "Amount");
    /* equal is fine, with different spellings of one value */
    good_invoice(&m);
    m.v[IF_AMOUNT][0] = str("020000.5");
    m.v[IF_TOTAL_AMOUNT][0] = num("20000.50");
    check_invoice_ok("INV1", &m, &out);
    assert_int_equal(out.amount, 2000050);
    assert_int_equal(out.total_amount, 2000050);
    m.v[IF_AMOUNT][0] = str("0.01");
    m.v[IF_TOTAL_AMOUNT][0] = num("0.01");
    check_invoice_ok("INV1", &m, &out);
    m.v[IF_AMOUNT][0] = str("0.02");
    check_invoice_fails("INV1", &m, "0003", "Amount");
}

static void invoice_aliases(void **state)
{
    (void)state;
    static const int aliased[] = {IF_N_INSTALLMENT, IF_INSTALLMENT_AMOUNT, IF_BALANCE,
                                  IF_BILLING_DATE};
    /* value under the English name, same value spelled differently, other value */
    static const char *const one[] = {"3", "50000.5", "100", "5"};
    static const char *const same[] = {"003", "50000.50", "100.00", "05"};
    static const char *const other[] = {"4", "50000.51", "100.01", "6"};
    static const int64_t want[] = {3, 5000050, 10000, 5};
    for (size_t i = 0; i < sizeof aliased / sizeof aliased[0]; i++) {
        int k = aliased[i];
        struct inv_members m;
        struct invoice out;
        print_message("alias of %s\n", display[k]);

        /* the alias alone */
        good_invoice(&m);
        m.v[k][0] = absent;
        m.v[k][1] = str(one[i]);
        check_invoice_ok("INV1", &m, &out);
        int64_t got = k == IF_N_INSTALLMENT        ? out.number_of_installment
                      : k == IF_INSTALLMENT_AMOUNT ? out.installment_amount
                      : k == IF_BALANCE            ? out.balance_payment_amount
                                                   : out.billing_date;
        assert_int_equal(got, want[i]);
        if (k == IF_BALANCE)
            assert_true(out.has_balance);

        /* the alias alone, the English name empty */
        m.v[k][0] = (struct fv){FV_NULL, NULL, 0, 1, -1};
        check_invoice_ok("INV1", &m, &out);
        m.v[k][0] = str("");
        check_invoice_ok("INV1", &m, &out);

        /* both, the same value (as text, as a number, spelled differently) */
        m.v[k][0] = str(one[i]);
        m.v[k][1] = str(one[i]);
        check_invoice_ok("INV1", &m, &out);
        m.v[k][1] = num(one[i]);
        check_invoice_ok("INV1", &m, &out);
        m.v[k][1] = str(same[i]);
        check_invoice_ok("INV1", &m, &out);

        /* both, different values */
        m.v[k][1] = str(other[i]);
        check_invoice_fails("INV1", &m, "0003", display[k]);
        m.v[k][0] = num(other[i]);
        m.v[k][1] = str(one[i]);
        check_invoice_fails("INV1", &m, "0003", display[k]);

        /* the alias malformed while the English name is fine */
        m.v[k][0] = str(one[i]);
        m.v[k][1] = str("x");
        check_invoice_fails("INV1", &m, "0003", display[k]);
    }
}

static void invoice_duplicates(void **state)
{
    (void)state;
    for (int k = 0; k < IF_NFIELDS; k++) {
        for (int a = 0; a < 2; a++) {
            if (a == 1 && k != IF_N_INSTALLMENT && k != IF_INSTALLMENT_AMOUNT && k != IF_BALANCE &&
                k != IF_BILLING_DATE)
                continue;
            struct inv_members m;
            good_invoice(&m);
            if (a == 1) {
                m.v[k][1] = m.v[k][0];
                m.v[k][0] = absent;
            }
            m.v[k][a].count = 2;
            print_message("duplicate %s alias %d\n", display[k], a);
            check_invoice_fails("INV1", &m, "0003", display[k]);
        }
    }
    /* a duplicated optional member fails even when it is otherwise fine */
    struct inv_members m;
    good_invoice(&m);
    m.v[IF_DESCRIPTION][0].count = 2;
    check_invoice_fails("INV1", &m, "0003", "Description");
}

static void invoice_member_code_number(void **state)
{
    (void)state;
    struct inv_members m;
    struct invoice out;
    good_invoice(&m);
    m.v[IF_MEMBER_CODE][0] = num("12345");
    check_invoice_ok("INV1", &m, &out);
    assert_int_equal(out.member_code_len, 5);
    assert_memory_equal(out.member_code, "12345", 5);
    m.v[IF_MEMBER_CODE][0] = num("0");
    check_invoice_ok("INV1", &m, &out);
    m.v[IF_MEMBER_CODE][0] = num("12345678901234567890123456789012"); /* 32 digits */
    check_invoice_ok("INV1", &m, &out);
    m.v[IF_MEMBER_CODE][0] = num("1.5");
    check_invoice_fails("INV1", &m, "0003", "Member Code");
}

struct slot_case {
    const char *name;
    int field;
    int alias;
};

/* A NUL inside a text field is refused: no C reader could show it back. */
static void invoice_text_nul(void **state)
{
    (void)state;
    struct inv_members m;
    good_invoice(&m);
    m.v[IF_MEMBER_NAME][0] = (struct fv){FV_STRING, "Bu\0di", 5, 1, -1};
    check_invoice_fails("INV1", &m, "0003", "Member Name");
    good_invoice(&m);
    m.v[IF_DESCRIPTION][0] = (struct fv){FV_STRING, "VA\0", 3, 1, -1};
    check_invoice_fails("INV1", &m, "0003", "Description");
}

static void invoice_slots(void **state)
{
    (void)state;
    static const struct slot_case slots[] = {
        {"member_code", IF_MEMBER_CODE, 0},
        {"member_name", IF_MEMBER_NAME, 0},
        {"amount", IF_AMOUNT, 0},
        {"total_amount", IF_TOTAL_AMOUNT, 0},
        {"number_of_installment", IF_N_INSTALLMENT, 0},
        {"jumlah_cicilan", IF_N_INSTALLMENT, 1},
        {"installment_amount", IF_INSTALLMENT_AMOUNT, 0},
        {"amount_cicilan", IF_INSTALLMENT_AMOUNT, 1},
        {"balance_payment_amount", IF_BALANCE, 0},
        {"pelunasan_amount", IF_BALANCE, 1},
        {"description", IF_DESCRIPTION, 0},
        {"billing_date", IF_BILLING_DATE, 0},
        {"tanggal_penagihan", IF_BILLING_DATE, 1},
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        int field = -1, alias = -1;
        print_message("slot %s\n", slots[i].name);
        assert_true(fields_invoice_slot(slots[i].name, strlen(slots[i].name), &field, &alias));
        assert_int_equal(field, slots[i].field);
        assert_int_equal(alias, slots[i].alias);
        if (slots[i].alias == 0)
            assert_string_equal(fields_invoice_name(field), slots[i].name);
    }
    static const char *const unknown[] = {
        "",        "doc_no",        "Amount",       "amount ",    " amount", "amoun",
        "amountx", "AMOUNT",        "member",       "jumlah",     "cicilan", "member_cod",
        "total",   "billing_dates", "nama_anggota", "keterangan",
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        int field = -1, alias = -1;
        assert_false(fields_invoice_slot(unknown[i], strlen(unknown[i]), &field, &alias));
    }
    /* the length is what counts: a prefix of a name is not the name */
    int field = -1, alias = -1;
    assert_false(fields_invoice_slot("amount", 5, &field, &alias));
    assert_true(fields_invoice_slot("amount_cicilanXYZ", 14, &field, &alias));
    assert_int_equal(field, IF_INSTALLMENT_AMOUNT);
    assert_int_equal(alias, 1);
}

static void empty_values(void **state)
{
    (void)state;
    struct fv v = absent;
    assert_true(fv_is_empty(&v));
    v = (struct fv){FV_NULL, NULL, 0, 1, -1};
    assert_true(fv_is_empty(&v));
    v = str("");
    assert_true(fv_is_empty(&v));
    v = str(" \t\r\n ");
    assert_true(fv_is_empty(&v));
    v = str(" x ");
    assert_false(fv_is_empty(&v));
    v = str("\v");
    assert_false(fv_is_empty(&v));
    v = num("0");
    assert_false(fv_is_empty(&v));
    v = kind(FV_OBJECT, "{}");
    assert_false(fv_is_empty(&v));
    v = kind(FV_BOOL, "false");
    assert_false(fv_is_empty(&v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_valid),
        cmocka_unit_test(request_presence),
        cmocka_unit_test(request_formats),
        cmocka_unit_test(request_duplicates),
        cmocka_unit_test(rq_uuid_echo),
        cmocka_unit_test(invoice_valid),
        cmocka_unit_test(invoice_doc_no),
        cmocka_unit_test(invoice_mandatory),
        cmocka_unit_test(invoice_formats),
        cmocka_unit_test(invoice_amount_vs_total),
        cmocka_unit_test(invoice_aliases),
        cmocka_unit_test(invoice_duplicates),
        cmocka_unit_test(invoice_member_code_number),
        cmocka_unit_test(invoice_slots),
        cmocka_unit_test(invoice_text_nul),
        cmocka_unit_test(empty_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
