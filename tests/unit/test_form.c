/* Unit tests for form: form-urlencoded decoding of wanted fields, and the encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "form.h"

static const char *const names[] = {"rq_uuid", "ccy", "invoices"};
#define NNAMES 3
enum { F_UUID, F_CCY, F_INVOICES };

/* Decodes body with the names above into a heap arena of exactly strlen(body)
 * bytes, so ASan sees any write past it.  The arena is the caller's. */
static enum vb_err decode(const char *body, struct form_value vals[NNAMES], char **arena)
{
    size_t n = strlen(body);
    *arena = malloc(n ? n : 1);
    assert_non_null(*arena);
    return form_decode(body, n, names, NNAMES, *arena, vals);
}

static void assert_value(const struct form_value *v, const char *want, size_t n, int count)
{
    assert_int_equal(v->count, count);
    assert_int_equal(v->n, n);
    if (n)
        assert_memory_equal(v->p, want, n);
}

static void plain_fields(void **state)
{
    (void)state;
    struct form_value v[NNAMES];
    char *arena;
    assert_int_equal(decode("rq_uuid=UUID001&ccy=IDR&invoices=x", v, &arena), ERR_OK);
    assert_value(&v[F_UUID], "UUID001", 7, 1);
    assert_value(&v[F_CCY], "IDR", 3, 1);
    assert_value(&v[F_INVOICES], "x", 1, 1);
    free(arena);
}

static void plus_and_escapes(void **state)
{
    (void)state;
    struct form_value v[NNAMES];
    char *arena;
    assert_int_equal(
        decode("rq_uuid=a+b++c&ccy=%41%62%2B%26%3d%25&invoices=%7b%22a%22%3A1%7D", v, &arena),
        ERR_OK);
    assert_value(&v[F_UUID], "a b  c", 6, 1);
    assert_value(&v[F_CCY], "Ab+&=%", 6, 1);
    assert_value(&v[F_INVOICES], "{\"a\":1}", 7, 1);
    free(arena);

    /* bytes of every value, %00 and high bytes included; the name may be escaped too */
    assert_int_equal(decode("rq%5Fuuid=%00%C3%A9%ff&ccy=a%2bb", v, &arena), ERR_OK);
    assert_value(&v[F_UUID], "\0\xc3\xa9\xff", 4, 1);
    assert_value(&v[F_CCY], "a+b", 3, 1);
    assert_value(&v[F_INVOICES], NULL, 0, 0);
    assert_null(v[F_INVOICES].p);
    free(arena);

    /* '=' after the first belongs to the value */
    assert_int_equal(decode("ccy=a=b=", v, &arena), ERR_OK);
    assert_value(&v[F_CCY], "a=b=", 4, 1);
    free(arena);
}

static void repeated_field_counted(void **state)
{
    (void)state;
    struct form_value v[NNAMES];
    char *arena;
    assert_int_equal(decode("ccy=IDR&rq_uuid=u&ccy=USD&ccy=&ccy", v, &arena), ERR_OK);
    /* the first occurrence is kept, every occurrence counted */
    assert_value(&v[F_CCY], "IDR", 3, 4);
    assert_value(&v[F_UUID], "u", 1, 1);
    assert_int_equal(v[F_INVOICES].count, 0);
    free(arena);
}

static void unknown_fields_ignored(void **state)
{
    (void)state;
    struct form_value v[NNAMES];
    char *arena;
    assert_int_equal(
        decode("foo=bar&ccy=IDR&rq_uuidx=1&rq_uui=2&CCY=USD&comm+code=3&=5&&ccyy&", v, &arena),
        ERR_OK);
    assert_value(&v[F_CCY], "IDR", 3, 1);
    assert_int_equal(v[F_UUID].count, 0);
    assert_null(v[F_UUID].p);
    assert_int_equal(v[F_INVOICES].count, 0);
    free(arena);
}

static void missing_equals_and_empty_values(void **state)
{
    (void)state;
    struct form_value v[NNAMES];
    char *arena;
    assert_int_equal(decode("ccy&rq_uuid=&invoices=+", v, &arena), ERR_OK);
    assert_value(&v[F_CCY], "", 0, 1);
    assert_value(&v[F_UUID], "", 0, 1);
    assert_value(&v[F_INVOICES], " ", 1, 1);
    free(arena);

    assert_int_equal(decode("", v, &arena), ERR_OK);
    for (int k = 0; k < NNAMES; k++) {
        assert_int_equal(v[k].count, 0);
        assert_int_equal(v[k].n, 0);
        assert_null(v[k].p);
    }
    free(arena);
}

static void malformed_escapes(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        /* in a wanted field */
        "ccy=%",
        "ccy=%4",
        "ccy=%zz",
        "ccy=%4g",
        "ccy=%g4",
        "ccy=ab%",
        "ccy=%%41",
        "ccy=%4&rq_uuid=x",
        "ccy=%&rq_uuid=x",
        /* in an unwanted field */
        "foo=%",
        "foo=%4",
        "foo=%zz",
        "foo=%4&ccy=IDR",
        "foo=x%&ccy=IDR",
        "ccy=IDR&foo=%",
        "ccy=IDR&foo=%4",
        "ccy=IDR&foo=%zz",
        /* in a repeated wanted field (its value is not kept) */
        "ccy=IDR&ccy=%zz",
        "ccy=IDR&ccy=%4",
        "ccy=IDR&ccy=%",
        /* in a name */
        "cc%=IDR",
        "c%zzy=IDR",
        "ccy%4=IDR",
        "%",
        "%zz",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct form_value v[NNAMES];
        char *arena;
        print_message("body \"%s\"\n", bodies[i]);
        assert_int_equal(decode(bodies[i], v, &arena), ERR_INVALID);
        free(arena);
    }
}

static void append_encoding(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(form_append(&b, "rq_uuid", "a b", 3), ERR_OK);
    assert_string_equal(b.p, "rq_uuid=a+b");
    assert_int_equal(form_append(&b, "ccy", "\xc3\xa9+&=%~-_.", 10), ERR_OK);
    assert_string_equal(b.p, "rq_uuid=a+b&ccy=%C3%A9%2B%26%3D%25~-_.");
    assert_int_equal(form_append(&b, "invoices", "", 0), ERR_OK);
    assert_string_equal(b.p, "rq_uuid=a+b&ccy=%C3%A9%2B%26%3D%25~-_.&invoices=");
    buf_free(&b);
}

static void append_round_trip(void **state)
{
    (void)state;
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    static const char json[] =
        "{\"INV 1\": {\"amount\": \"150000.50\", \"member_name\": \"Budi & Sons + 100%\"}}";
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(form_append(&b, "rq_uuid", "UUID 001/+%", 11), ERR_OK);
    assert_int_equal(form_append(&b, "invoices", json, sizeof json - 1), ERR_OK);
    assert_int_equal(form_append(&b, "ccy", all, sizeof all), ERR_OK);
    assert_int_equal(form_append(&b, "unknown", all, sizeof all), ERR_OK);

    struct form_value v[NNAMES];
    char *arena = malloc(b.len);
    assert_non_null(arena);
    assert_int_equal(form_decode(b.p, b.len, names, NNAMES, arena, v), ERR_OK);
    assert_value(&v[F_UUID], "UUID 001/+%", 11, 1);
    assert_value(&v[F_INVOICES], json, sizeof json - 1, 1);
    assert_value(&v[F_CCY], all, sizeof all, 1);
    free(arena);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_fields),
        cmocka_unit_test(plus_and_escapes),
        cmocka_unit_test(repeated_field_counted),
        cmocka_unit_test(unknown_fields_ignored),
        cmocka_unit_test(missing_equals_and_empty_values),
        cmocka_unit_test(malformed_escapes),
        cmocka_unit_test(append_encoding),
        cmocka_unit_test(append_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
