/* Unit tests for csv: RFC 4180 records, line numbers, bounds, failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "csv.h"

/* The text in a heap block of exactly its length (no NUL), so ASan sees any
 * read past the end. */
static char *copy_of(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static void assert_field(const struct csv *c, size_t i, const char *want, size_t n)
{
    assert_true(i < c->nfields);
    assert_int_equal(c->fields[i].n, n);
    if (n)
        assert_memory_equal(c->fields[i].p, want, n);
    assert_int_equal(c->fields[i].p[n], '\0');
}

/* Reads the next record, which must exist, and checks its field count and line. */
static void next_record(struct csv *c, size_t nfields, long line)
{
    bool got = false;
    assert_int_equal(csv_next(c, &got), ERR_OK);
    assert_true(got);
    assert_int_equal(c->nfields, nfields);
    assert_int_equal(c->record_line, line);
}

static void at_end(struct csv *c)
{
    bool got = true;
    assert_int_equal(csv_next(c, &got), ERR_OK);
    assert_false(got);
    assert_int_equal(csv_next(c, &got), ERR_OK);
    assert_false(got);
}

static void plain_records(void **state)
{
    (void)state;
    static const char t[] = "doc_no,amount\nINV1,20000\nINV2,150000.50";
    char *text = copy_of(t, sizeof t - 1);
    struct csv c;
    assert_int_equal(csv_init(&c, text, sizeof t - 1), ERR_OK);
    next_record(&c, 2, 1);
    assert_field(&c, 0, "doc_no", 6);
    assert_field(&c, 1, "amount", 6);
    next_record(&c, 2, 2);
    assert_field(&c, 0, "INV1", 4);
    assert_field(&c, 1, "20000", 5);
    next_record(&c, 2, 3); /* no line break at the end */
    assert_field(&c, 1, "150000.50", 9);
    at_end(&c);
    csv_free(&c);
    free(text);
}

static void line_breaks_and_blank_lines(void **state)
{
    (void)state;
    /* CRLF, LF and a lone CR all end a record; empty lines are no records */
    static const char t[] = "a,b\r\n\r\n1,2\n\n\n3,4\r5,6\r\n";
    char *text = copy_of(t, sizeof t - 1);
    struct csv c;
    assert_int_equal(csv_init(&c, text, sizeof t - 1), ERR_OK);
    next_record(&c, 2, 1);
    next_record(&c, 2, 3);
    assert_field(&c, 0, "1", 1);
    next_record(&c, 2, 6);
    assert_field(&c, 1, "4", 1);
    next_record(&c, 2, 7);
    assert_field(&c, 0, "5", 1);
    at_end(&c);
    csv_free(&c);
    free(text);
}

static void bom_skipped(void **state)
{
    (void)state;
    static const char t[] = "\xef\xbb\xbf"
                            "doc_no\n\xef\xbb\xbfX\n";
    char *text = copy_of(t, sizeof t - 1);
    struct csv c;
    assert_int_equal(csv_init(&c, text, sizeof t - 1), ERR_OK);
    next_record(&c, 1, 1);
    assert_field(&c, 0, "doc_no", 6);
    next_record(&c, 1, 2); /* only at the very start */
    assert_field(&c, 0, "\xef\xbb\xbfX", 4);
    at_end(&c);
    csv_free(&c);
    free(text);
}

static void quoted_fields(void **state)
{
    (void)state;
    static const char t[] = "\"Budi, Santoso\",\"say \"\"hi\"\"\",\"\",x\n"
                            "\"two\nlines\",\"crlf\r\nkept\",\"\"\"\"\n"
                            "after,\"é ü\"";
    char *text = copy_of(t, sizeof t - 1);
    struct csv c;
    assert_int_equal(csv_init(&c, text, sizeof t - 1), ERR_OK);
    next_record(&c, 4, 1);
    assert_field(&c, 0, "Budi, Santoso", 13);
    assert_field(&c, 1, "say \"hi\"", 8);
    assert_field(&c, 2, "", 0);
    assert_field(&c, 3, "x", 1);
    next_record(&c, 3, 2);
    assert_field(&c, 0, "two\nlines", 9);
    assert_field(&c, 1, "crlf\r\nkept", 10);
    assert_field(&c, 2, "\"", 1);
    /* the line breaks inside quotes count: this record is on line 5 */
    next_record(&c, 2, 5);
    assert_field(&c, 1, "é ü", strlen("é ü"));
    at_end(&c);
    csv_free(&c);
    free(text);
}

static void empty_fields(void **state)
{
    (void)state;
    static const char t[] = ",a,,\n,\n";
    char *text = copy_of(t, sizeof t - 1);
    struct csv c;
    assert_int_equal(csv_init(&c, text, sizeof t - 1), ERR_OK);
    next_record(&c, 4, 1);
    assert_field(&c, 0, "", 0);
    assert_field(&c, 1, "a", 1);
    assert_field(&c, 2, "", 0);
    assert_field(&c, 3, "", 0);
    next_record(&c, 2, 2);
    at_end(&c);
    csv_free(&c);
    free(text);
}

/* Reads records until a failure; checks its code and line. */
static void fails(const char *t, enum vb_err want, long line)
{
    size_t n = strlen(t);
    char *text = copy_of(t, n);
    struct csv c;
    assert_int_equal(csv_init(&c, text, n), ERR_OK);
    bool got = true;
    enum vb_err e;
    while ((e = csv_next(&c, &got)) == ERR_OK && got)
        ;
    assert_int_equal(e, want);
    assert_non_null(c.error);
    assert_int_equal(c.error_line, line);
    /* nothing more after a failure */
    assert_int_equal(csv_next(&c, &got), ERR_OK);
    assert_false(got);
    csv_free(&c);
    free(text);
}

static void malformed(void **state)
{
    (void)state;
    /* a quote never closed: the line where it opened */
    fails("a,b\n1,\"open\nstill\nopen", ERR_INVALID, 2);
    fails("\"", ERR_INVALID, 1);
    /* text after a closing quote */
    fails("a\n\"x\"y\n", ERR_INVALID, 2);
    fails("a\n\"x\" \n", ERR_INVALID, 2);
    /* a quote inside an unquoted field */
    fails("a,b\nok,ok\nx\"y,z\n", ERR_INVALID, 3);
}

static void bounds(void **state)
{
    (void)state;
    /* CSV_MAX_FIELDS fields are fine, one more is not */
    size_t n = CSV_MAX_FIELDS * 2;
    char *t = malloc(n + 2);
    assert_non_null(t);
    for (size_t i = 0; i < CSV_MAX_FIELDS; i++) {
        t[2 * i] = 'x';
        t[2 * i + 1] = ',';
    }
    t[n - 1] = '\n';
    struct csv c;
    assert_int_equal(csv_init(&c, t, n), ERR_OK);
    next_record(&c, CSV_MAX_FIELDS, 1);
    csv_free(&c);
    t[n - 1] = ',';
    t[n] = 'x';
    assert_int_equal(csv_init(&c, t, n + 1), ERR_OK);
    bool got;
    assert_int_equal(csv_next(&c, &got), ERR_TOOBIG);
    assert_int_equal(c.error_line, 1);
    csv_free(&c);
    free(t);

    /* a record of CSV_MAX_RECORD bytes is fine, one more is not, quoted or not */
    for (int quoted = 0; quoted < 2; quoted++) {
        for (size_t len = CSV_MAX_RECORD - 1; len <= CSV_MAX_RECORD + 1; len++) {
            t = malloc(len + 1);
            assert_non_null(t);
            memset(t, 'y', len);
            if (quoted) {
                t[0] = '"';
                t[len - 1] = '"';
            }
            t[len] = '\n';
            assert_int_equal(csv_init(&c, t, len + 1), ERR_OK);
            enum vb_err e = csv_next(&c, &got);
            if (len <= CSV_MAX_RECORD) {
                assert_int_equal(e, ERR_OK);
                assert_true(got);
                assert_int_equal(c.fields[0].n, quoted ? len - 2 : len);
            } else {
                assert_int_equal(e, ERR_TOOBIG);
            }
            csv_free(&c);
            free(t);
        }
    }
}

static void empty_text(void **state)
{
    (void)state;
    struct csv c;
    assert_int_equal(csv_init(&c, "", 0), ERR_OK);
    at_end(&c);
    csv_free(&c);
    assert_int_equal(csv_init(&c, "\xef\xbb\xbf\r\n\n", 5), ERR_OK);
    at_end(&c);
    csv_free(&c);
    csv_free(&c); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_records), cmocka_unit_test(line_breaks_and_blank_lines),
        cmocka_unit_test(bom_skipped),   cmocka_unit_test(quoted_fields),
        cmocka_unit_test(empty_fields),  cmocka_unit_test(malformed),
        cmocka_unit_test(bounds),        cmocka_unit_test(empty_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
