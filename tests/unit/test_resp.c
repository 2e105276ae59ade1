/* Unit tests for resp and codes: the SPEC 1.6 answer byte for byte, and the
 * SPEC section 3 message texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "codes.h"
#include "json.h"
#include "resp.h"
#include "store.h"

#define WIB (7 * 60)

/* 2026-11-24 03:00:01 UTC, 10:00:01 at +07:00 (the SPEC 1.6 example) */
#define SPEC_NOW 1795489201LL

static void assert_json_text(const struct buf *b)
{
    struct json_doc d;
    assert_int_equal(json_doc_parse(&d, b->p, b->len), ERR_OK);
    assert_int_equal(d.tok[0].type, JSON_T_OBJECT);
    json_doc_free(&d);
}

static void failure_shape(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 16);
    struct fail f = {CODE_MANDATORY, "signature", 9};
    assert_int_equal(resp_failure(&b, "UUID001", 7, 0, WIB, &f), ERR_OK);
    assert_string_equal(b.p, "{\"rq_uuid\":\"UUID001\",\"rs_datetime\":\"1970-01-01 07:00:00\","
                             "\"error_code\":\"0001\","
                             "\"error_message\":\"Mandatory field left empty = signature\","
                             "\"invoices\":{},\"invoices_success\":{},\"invoices_error\":{},"
                             "\"total_invoice\":\"0\"}");
    assert_json_text(&b);
    buf_free(&b);
}

static void failure_escapes_rq_uuid(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 16);
    struct fail f = {CODE_SIGNATURE, NULL, 0};
    /* printable ASCII may hold quotes and backslashes */
    assert_int_equal(resp_failure(&b, "a\"b\\c/d", 7, SPEC_NOW, WIB, &f), ERR_OK);
    assert_string_equal(b.p,
                        "{\"rq_uuid\":\"a\\\"b\\\\c/d\",\"rs_datetime\":\"2026-11-24 10:00:01\","
                        "\"error_code\":\"0004\",\"error_message\":\"Invalid signature\","
                        "\"invoices\":{},\"invoices_success\":{},\"invoices_error\":{},"
                        "\"total_invoice\":\"0\"}");
    assert_json_text(&b);
    buf_free(&b);

    /* controls are escaped too; the length given is the length written */
    buf_init(&b, 1 << 16);
    assert_int_equal(resp_failure(&b, "x\n\x01yz", 4, 0, 0, &f), ERR_OK);
    assert_string_equal(b.p,
                        "{\"rq_uuid\":\"x\\n\\u0001y\",\"rs_datetime\":\"1970-01-01 00:00:00\","
                        "\"error_code\":\"0004\",\"error_message\":\"Invalid signature\","
                        "\"invoices\":{},\"invoices_success\":{},\"invoices_error\":{},"
                        "\"total_invoice\":\"0\"}");
    assert_json_text(&b);
    buf_free(&b);
}

static void failure_without_rq_uuid(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 16);
    struct fail f = {CODE_FORMAT, "body", 4};
    assert_int_equal(resp_failure(&b, NULL, 0, -1, 0, &f), ERR_OK);
    assert_string_equal(b.p, "{\"rq_uuid\":\"\",\"rs_datetime\":\"1969-12-31 23:59:59\","
                             "\"error_code\":\"0003\",\"error_message\":\"Invalid format = body\","
                             "\"invoices\":{},\"invoices_success\":{},\"invoices_error\":{},"
                             "\"total_invoice\":\"0\"}");
    buf_free(&b);

    buf_init(&b, 1 << 16);
    struct fail h = {CODE_HTTP_415, NULL, 0};
    assert_int_equal(resp_failure(&b, NULL, 0, 0, WIB, &h), ERR_OK);
    assert_string_equal(b.p,
                        "{\"rq_uuid\":\"\",\"rs_datetime\":\"1970-01-01 07:00:00\","
                        "\"error_code\":\"0415\",\"error_message\":\"Unsupported content type\","
                        "\"invoices\":{},\"invoices_success\":{},\"invoices_error\":{},"
                        "\"total_invoice\":\"0\"}");
    buf_free(&b);

    /* a duplicate doc_no names it, escaped */
    buf_init(&b, 1 << 16);
    struct fail dup = {CODE_DUP_DOC, "IN\"V1", 5};
    assert_int_equal(resp_failure(&b, "U", 1, 0, WIB, &dup), ERR_OK);
    assert_string_equal(b.p, "{\"rq_uuid\":\"U\",\"rs_datetime\":\"1970-01-01 07:00:00\","
                             "\"error_code\":\"0011\","
                             "\"error_message\":\"Duplicate Document No in request = IN\\\"V1\","
                             "\"invoices\":{},\"invoices_success\":{},\"invoices_error\":{},"
                             "\"total_invoice\":\"0\"}");
    buf_free(&b);
}

static void community(struct store_community *c)
{
    memset(c, 0, sizeof *c);
    c->id = 1;
    snprintf(c->code, sizeof c->code, "%s", "SGWTES");
    snprintf(c->ccy, sizeof c->ccy, "%s", "IDR");
    c->va_length = 16;
    c->va_ttl_min = 43200;
    c->enabled = true;
    c->next_serial = 1236;
    c->nbanks = 2;
    snprintf(c->banks[0].bank_code, sizeof c->banks[0].bank_code, "%s", "008");
    snprintf(c->banks[0].prefix, sizeof c->banks[0].prefix, "%s", "62806");
    snprintf(c->banks[1].bank_code, sizeof c->banks[1].bank_code, "%s", "009");
    snprintf(c->banks[1].prefix, sizeof c->banks[1].prefix, "%s", "88712");
}

static void unit(struct store_unit *u, const struct store_community *c, const struct invoice *inv,
                 struct store_result *res, size_t n, int *offset)
{
    memset(u, 0, sizeof *u);
    u->comm = c;
    u->rq_uuid = "UUID001";
    u->rq_uuid_len = 7;
    u->now = SPEC_NOW;
    u->inv = inv;
    u->n = n;
    u->render = resp_batch;
    u->render_ctx = offset;
    u->res = res;
}

static void invoice(struct invoice *inv, const char *doc_no, const char *description)
{
    memset(inv, 0, sizeof *inv);
    inv->doc_no = doc_no;
    inv->doc_no_len = strlen(doc_no);
    inv->member_code = "M001";
    inv->member_code_len = 4;
    inv->amount = 2000000;
    inv->total_amount = 2000000;
    inv->number_of_installment = 1;
    inv->installment_amount = 2000000;
    inv->billing_date = 5;
    if (description) {
        inv->description = description;
        inv->description_len = strlen(description);
    }
}

#define INV022                                                                                     \
    "\"INVZSKSK022\":{\"error_code\":\"0002\",\"error_msg\":\"Data already listed = Document "     \
    "No\","                                                                                        \
    "\"doc_ref_no\":\"\"}"
#define INV023                                                                                     \
    "\"INVZSKSK023\":{\"error_code\":\"0000\",\"error_msg\":\"success\","                          \
    "\"doc_ref_no\":\"VB0000000000123\",\"list_va\":{"                                             \
    "\"008\":{\"bank_code\":\"008\",\"va_number\":\"6280600000012349\","                           \
    "\"expired\":\"2026-12-24 10:00:01\",\"description\":\"VA Payment Test\"},"                    \
    "\"009\":{\"bank_code\":\"009\",\"va_number\":\"8871200000012349\","                           \
    "\"expired\":\"2026-12-24 10:00:01\",\"description\":\"VA Payment Test\"}}}"
#define INVBAD                                                                                     \
    "\"INV\\\"BAD\":{\"error_code\":\"0003\",\"error_msg\":\"Invalid format = Amount\","           \
    "\"doc_ref_no\":\"\"}"

/* The SPEC's example batch: one listed, one accepted, one refused. */
struct spec_example {
    struct store_community c;
    struct invoice inv[3];
    struct store_result res[3];
    int offset;
    struct store_unit u;
};

static void spec_example(struct spec_example *x)
{
    community(&x->c);
    invoice(&x->inv[0], "INVZSKSK022", "listed already");
    invoice(&x->inv[1], "INVZSKSK023", "VA Payment Test");
    invoice(&x->inv[2], "INV\"BAD", NULL);
    x->inv[2].fail = (struct fail){CODE_FORMAT, "Amount", 6};
    x->res[0] = (struct store_result){OUT_LISTED, 0, 0};
    x->res[1] = (struct store_result){OUT_ACCEPTED, 123, 1234};
    x->res[2] = (struct store_result){OUT_REFUSED, 0, 0};
    x->offset = WIB;
    unit(&x->u, &x->c, x->inv, x->res, 3, &x->offset);
}

static void batch_spec_example(void **state)
{
    (void)state;
    struct spec_example x;
    spec_example(&x);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(resp_batch(&x.u, &b), ERR_OK);
    assert_string_equal(b.p, "{\"rq_uuid\":\"UUID001\",\"rs_datetime\":\"2026-11-24 10:00:01\","
                             "\"error_code\":\"0000\",\"error_message\":\"Success\","
                             "\"invoices\":{" INV022 "," INV023 "," INVBAD "},"
                             "\"invoices_success\":{" INV023 "},"
                             "\"invoices_error\":{" INV022 "," INVBAD "},"
                             "\"total_invoice\":\"3\"}");
    assert_json_text(&b);
    buf_free(&b);
}

#define ACC(doc, ref, va8, va9, desc)                                                              \
    "\"" doc "\":{\"error_code\":\"0000\",\"error_msg\":\"success\",\"doc_ref_no\":\"" ref         \
    "\",\"list_va\":{\"008\":{\"bank_code\":\"008\",\"va_number\":\"" va8                          \
    "\",\"expired\":\"1970-01-31 07:00:00\",\"description\":\"" desc "\"},"                        \
    "\"009\":{\"bank_code\":\"009\",\"va_number\":\"" va9                                          \
    "\",\"expired\":\"1970-01-31 07:00:00\",\"description\":\"" desc "\"}}}"

static void batch_other_outcomes(void **state)
{
    (void)state;
    struct store_community c;
    community(&c);
    struct invoice inv[4];
    invoice(&inv[0], "A1", "Line1\nTab\t\"q\"");
    invoice(&inv[1], "A2", NULL);
    invoice(&inv[2], "A3", "x");
    invoice(&inv[3], "A4", "Caf\xc3\xa9");
    inv[2].fail = (struct fail){CODE_MANDATORY, "Billing Date", 12};
    struct store_result res[4] = {
        {OUT_ACCEPTED, 1, 1},
        {OUT_ACCEPTED, 9999999999999LL, 1235},
        {OUT_EXHAUSTED, 0, 0},
        {OUT_ACCEPTED, 2, 9999999999LL},
    };
    int offset = WIB;
    struct store_unit u;
    unit(&u, &c, inv, res, 4, &offset);
    u.now = 0;
    u.rq_uuid = "q\"";
    u.rq_uuid_len = 2;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(resp_batch(&u, &b), ERR_OK);
#define A1                                                                                         \
    ACC("A1", "VB0000000000001", "6280600000000013", "8871200000000013", "Line1\\nTab\\t\\\"q\\\"")
#define A2 ACC("A2", "VB9999999999999", "6280600000012356", "8871200000012356", "")
#define A3                                                                                         \
    "\"A3\":{\"error_code\":\"0012\",\"error_msg\":\"VA numbers exhausted\",\"doc_ref_no\":\"\"}"
#define A4 ACC("A4", "VB0000000000002", "6280699999999995", "8871299999999995", "Caf\xc3\xa9")
    assert_string_equal(b.p, "{\"rq_uuid\":\"q\\\"\",\"rs_datetime\":\"1970-01-01 07:00:00\","
                             "\"error_code\":\"0000\",\"error_message\":\"Success\","
                             "\"invoices\":{" A1 "," A2 "," A3 "," A4 "},"
                             "\"invoices_success\":{" A1 "," A2 "," A4 "},"
                             "\"invoices_error\":{" A3 "},"
                             "\"total_invoice\":\"4\"}");
    assert_json_text(&b);
    buf_free(&b);
}

static void batch_all_failed_and_offset(void **state)
{
    (void)state;
    struct store_community c;
    community(&c);
    c.nbanks = 1;
    c.va_ttl_min = 1;
    struct invoice inv[2];
    invoice(&inv[0], "B1", NULL);
    invoice(&inv[1], "B2", NULL);
    inv[0].fail = (struct fail){CODE_FORMAT, "Member Code", 11};
    struct store_result res[2] = {{OUT_REFUSED, 0, 0}, {OUT_LISTED, 0, 0}};
    int offset = 0;
    struct store_unit u;
    unit(&u, &c, inv, res, 2, &offset);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(resp_batch(&u, &b), ERR_OK);
#define B1                                                                                         \
    "\"B1\":{\"error_code\":\"0003\",\"error_msg\":\"Invalid format = Member Code\","              \
    "\"doc_ref_no\":\"\"}"
#define B2                                                                                         \
    "\"B2\":{\"error_code\":\"0002\",\"error_msg\":\"Data already listed = Document No\","         \
    "\"doc_ref_no\":\"\"}"
    /* a batch is 0000 at the top even when every invoice fails */
    assert_string_equal(b.p, "{\"rq_uuid\":\"UUID001\",\"rs_datetime\":\"2026-11-24 03:00:01\","
                             "\"error_code\":\"0000\",\"error_message\":\"Success\","
                             "\"invoices\":{" B1 "," B2 "},"
                             "\"invoices_success\":{},"
                             "\"invoices_error\":{" B1 "," B2 "},"
                             "\"total_invoice\":\"2\"}");
    buf_free(&b);

    /* one accepted, on the one channel, expiring a minute later in UTC */
    res[1] = (struct store_result){OUT_ACCEPTED, 77, 5};
    buf_init(&b, 1 << 20);
    assert_int_equal(resp_batch(&u, &b), ERR_OK);
    assert_string_equal(b.p, "{\"rq_uuid\":\"UUID001\",\"rs_datetime\":\"2026-11-24 03:00:01\","
                             "\"error_code\":\"0000\",\"error_message\":\"Success\","
                             "\"invoices\":{" B1 ",\"B2\":{\"error_code\":\"0000\","
                             "\"error_msg\":\"success\",\"doc_ref_no\":\"VB0000000000077\","
                             "\"list_va\":{\"008\":{\"bank_code\":\"008\","
                             "\"va_number\":\"6280600000000054\","
                             "\"expired\":\"2026-11-24 03:01:01\",\"description\":\"\"}}}},"
                             "\"invoices_success\":{\"B2\":{\"error_code\":\"0000\","
                             "\"error_msg\":\"success\",\"doc_ref_no\":\"VB0000000000077\","
                             "\"list_va\":{\"008\":{\"bank_code\":\"008\","
                             "\"va_number\":\"6280600000000054\","
                             "\"expired\":\"2026-11-24 03:01:01\",\"description\":\"\"}}}},"
                             "\"invoices_error\":{" B1 "},"
                             "\"total_invoice\":\"2\"}");
    buf_free(&b);
}

/* The store keeps a record, not the answer: the answer rendered from it is
 * the same bytes, a small fraction of the size; an answer stored whole by an
 * older version comes back as it is; damaged bytes are refused, never
 * read past. */
static void stored_records(void **state)
{
    (void)state;
    struct spec_example x;
    spec_example(&x);
    struct buf rec, answer, again;
    buf_init(&rec, 1 << 20);
    buf_init(&answer, 1 << 20);
    buf_init(&again, 1 << 20);
    assert_int_equal(resp_record(&x.u, &rec), ERR_OK);
    assert_int_equal(resp_batch(&x.u, &answer), ERR_OK);
    assert_int_equal(resp_from_stored(rec.p, rec.len, &again), ERR_OK);
    assert_int_equal(again.len, answer.len);
    assert_memory_equal(again.p, answer.p, answer.len);
    assert_true(rec.len * 4 < answer.len);

    /* an answer stored whole */
    buf_reset(&again);
    assert_int_equal(resp_from_stored(answer.p, answer.len, &again), ERR_OK);
    assert_int_equal(again.len, answer.len);
    assert_memory_equal(again.p, answer.p, answer.len);

    /* every truncation, a byte too many, an unknown version, nothing */
    for (size_t n = 0; n < rec.len; n++) {
        buf_reset(&again);
        assert_int_equal(resp_from_stored(rec.p, n, &again), ERR_STORE);
    }
    buf_addc(&rec, 0);
    buf_reset(&again);
    assert_int_equal(resp_from_stored(rec.p, rec.len, &again), ERR_STORE);
    rec.p[0] = 2;
    assert_int_equal(resp_from_stored(rec.p, rec.len - 1, &again), ERR_STORE);
    /* an outcome that does not exist: version, the two times, rq_uuid "U",
     * no bank, va_length 16, one invoice: outcome 9, doc_no "D" */
    char bad[] = "\x01"
                 "2026-11-24 10:00:01"
                 "2026-12-24 10:00:01"
                 "\x01U\x00\x10\x01\x09\x01"
                 "D";
    size_t nbad = sizeof bad - 1;
    assert_int_equal(resp_from_stored(bad, nbad, &again), ERR_STORE);
    bad[nbad - 3] = OUT_LISTED;
    buf_reset(&again);
    assert_int_equal(resp_from_stored(bad, nbad, &again), ERR_OK);
    assert_non_null(strstr(again.p, "\"D\":{\"error_code\":\"0002\""));
    buf_free(&rec);
    buf_free(&answer);
    buf_free(&again);
}

struct msg_case {
    const char *code;
    const char *what;
    int invoice_level;
    const char *text;
};

static void messages(void **state)
{
    (void)state;
    static const struct msg_case cases[] = {
        {"0000", NULL, 0, "Success"},
        {"0000", NULL, 1, "success"},
        {"0001", "rq_uuid", 0, "Mandatory field left empty = rq_uuid"},
        {"0001", "Member Code", 1, "Mandatory field left empty = Member Code"},
        {"0002", NULL, 1, "Data already listed = Document No"},
        {"0003", "invoices", 0, "Invalid format = invoices"},
        {"0003", "Amount", 1, "Invalid format = Amount"},
        {"0004", NULL, 0, "Invalid signature"},
        {"0005", NULL, 0, "Data not listed = Community Code"},
        {"0006", NULL, 0, "Invalid currency = ccy"},
        {"0007", NULL, 0, "Total invoices mismatch"},
        {"0008", NULL, 0, "Maximum 500 invoices per request"},
        {"0009", NULL, 0, "Request expired = rq_datetime"},
        {"0010", NULL, 0, "Duplicate request = rq_uuid"},
        {"0011", "INVZSKSK022", 0, "Duplicate Document No in request = INVZSKSK022"},
        {"0012", NULL, 1, "VA numbers exhausted"},
        {"0013", NULL, 0, "Data not listed = Document No"},
        {"0014", NULL, 0, "Data not listed = VA Number"},
        {"0015", NULL, 0, "Invoice already paid"},
        {"0016", NULL, 0, "Invoice closed"},
        {"0017", NULL, 0, "VA expired"},
        {"0018", NULL, 0, "Invalid amount"},
        {"0019", NULL, 0, "Duplicate payment = payment_ref"},
        {"0020", NULL, 0, "Data not listed = Bank Code"},
        {"0099", NULL, 0, "System error, retry with the same rq_uuid"},
        {"0404", NULL, 0, "Unknown service"},
        {"0405", NULL, 0, "Method not allowed"},
        {"0413", NULL, 0, "Request too large"},
        {"0415", NULL, 0, "Unsupported content type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b;
        buf_init(&b, 4096);
        struct fail f = {cases[i].code, cases[i].what, cases[i].what ? strlen(cases[i].what) : 0};
        print_message("code %s\n", cases[i].code);
        assert_int_equal(code_message(&b, &f, cases[i].invoice_level), ERR_OK);
        assert_non_null(b.p);
        assert_string_equal(b.p, cases[i].text);
        assert_int_equal(b.len, strlen(cases[i].text));
        buf_free(&b);
    }
    /* the named part is taken by its length */
    struct buf b;
    buf_init(&b, 4096);
    struct fail f = {CODE_FORMAT, "Amount and more", 6};
    assert_int_equal(code_message(&b, &f, 1), ERR_OK);
    assert_string_equal(b.p, "Invalid format = Amount");
    buf_free(&b);
    /* fixed-text codes do not depend on the level */
    buf_init(&b, 4096);
    f = (struct fail){CODE_LISTED, NULL, 0};
    assert_int_equal(code_message(&b, &f, 0), ERR_OK);
    assert_string_equal(b.p, "Data already listed = Document No");
    buf_free(&b);
}

static void code_macros(void **state)
{
    (void)state;
    assert_string_equal(CODE_SUCCESS, "0000");
    assert_string_equal(CODE_MANDATORY, "0001");
    assert_string_equal(CODE_LISTED, "0002");
    assert_string_equal(CODE_FORMAT, "0003");
    assert_string_equal(CODE_SIGNATURE, "0004");
    assert_string_equal(CODE_COMMUNITY, "0005");
    assert_string_equal(CODE_CURRENCY, "0006");
    assert_string_equal(CODE_TOTAL, "0007");
    assert_string_equal(CODE_MAXIMUM, "0008");
    assert_string_equal(CODE_EXPIRED_RQ, "0009");
    assert_string_equal(CODE_DUP_REQUEST, "0010");
    assert_string_equal(CODE_DUP_DOC, "0011");
    assert_string_equal(CODE_EXHAUSTED, "0012");
    assert_string_equal(CODE_SYSTEM, "0099");
    assert_string_equal(CODE_HTTP_404, "0404");
    assert_string_equal(CODE_HTTP_405, "0405");
    assert_string_equal(CODE_HTTP_413, "0413");
    assert_string_equal(CODE_HTTP_415, "0415");
}

int main(void)
{
    json_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failure_shape),
        cmocka_unit_test(failure_escapes_rq_uuid),
        cmocka_unit_test(failure_without_rq_uuid),
        cmocka_unit_test(batch_spec_example),
        cmocka_unit_test(batch_other_outcomes),
        cmocka_unit_test(batch_all_failed_and_offset),
        cmocka_unit_test(stored_records),
        cmocka_unit_test(messages),
        cmocka_unit_test(code_macros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
