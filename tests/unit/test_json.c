/* Unit tests for json: validation, token spans, string decoding, canonical
 * encoding (SPEC 1.5 payload equality) and UTF-8 character counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "json.h"

static void parse_ok(struct json_doc *d, const char *text)
{
    print_message("parse %s\n", text);
    assert_int_equal(json_doc_parse(d, text, strlen(text)), ERR_OK);
    assert_true(d->ntok > 0);
}

static void accepts_valid(void **state)
{
    (void)state;
    static const char *const good[] = {
        "{}",
        "[]",
        "{\"a\":1}",
        "\"x\"",
        "1 ",
        " -1.5e3\n",
        "true ",
        "[false]",
        "null\t",
        " \t\r\n{ \"a\" : [ 1 , 2 , { \"b\" : null } ] , \"c\" : \"d\" } \n",
        "{\"INV1\":{\"amount\":150000.50,\"member_name\":\"Jos\xc3\xa9 \xf0\x9f\x98\x80\"}}",
        "{\"a\":\"\\u00e9\\ud83d\\ude00\\n\\\"\"}",
        "[[[[[[[[[[1]]]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct json_doc d;
        parse_ok(&d, good[i]);
        json_doc_free(&d);
    }
}

static void tok_text(const struct json_doc *d, int i, enum json_type type, const char *text)
{
    assert_int_equal(d->tok[i].type, type);
    assert_int_equal(d->tok[i].end - d->tok[i].start, strlen(text));
    assert_memory_equal(d->text + d->tok[i].start, text, strlen(text));
}

/* RFC 8259: a scalar alone is a JSON text, with or without blanks after it
 * (json.h: "ERR_INVALID when it is not one valid JSON value"). */
static void accepts_bare_scalars(void **state)
{
    (void)state;
    static const char *const good[] = {"1", "-1.5e3", "true", "false", "null", "0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct json_doc d;
        parse_ok(&d, good[i]);
        assert_int_equal(d.ntok, 1);
        assert_int_equal(d.tok[0].end - d.tok[0].start, strlen(good[i]));
        json_doc_free(&d);
    }
    /* blanks around a scalar are not part of its span */
    struct json_doc d;
    parse_ok(&d, " \n-1.5e3 \t\r\n");
    assert_int_equal(d.ntok, 1);
    tok_text(&d, 0, JSON_T_NUMBER, "-1.5e3");
    json_doc_free(&d);
    parse_ok(&d, "\tnull ");
    tok_text(&d, 0, JSON_T_NULL, "null");
    json_doc_free(&d);
    parse_ok(&d, " true");
    tok_text(&d, 0, JSON_T_TRUE, "true");
    json_doc_free(&d);
    /* a scalar followed by anything else is still refused */
    assert_int_equal(json_doc_parse(&d, "1 2", 3), ERR_INVALID);
    json_doc_free(&d);
    assert_int_equal(json_doc_parse(&d, "true,", 5), ERR_INVALID);
    json_doc_free(&d);
}

static void refuses_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        " ",
        "{\"a\":1,}",
        "[1,2,]",
        "{,\"a\":1}",
        "{\"a\" 1}",
        "{\"a\"::1}",
        "{\"a\":1 \"b\":2}",
        "{'a':1}",
        "{\"a\":'x'}",
        "{\"a\":\"\xff\"}",
        "{\"a\":\"\xc3\"}",
        "{\"a\":\"\xc0\x80\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "\"\x80\"",
        "{\"a\":\"abc",
        "{\"a\":\"abc}",
        "\"abc",
        "{\"a\":1",
        "[1,2",
        "abc",
        "True",
        "nul",
        "undefined",
        "{a:1}",
        "{\"a\":1}x",
        "{\"a\":1} {\"b\":2}",
        "01",
        "1.",
        ".5",
        "+1",
        "NaN",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"\\x41\"}",
        "{\"a\":\"\\u12\"}",
        "}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct json_doc d;
        print_message("refuse %s\n", bad[i]);
        assert_int_equal(json_doc_parse(&d, bad[i], strlen(bad[i])), ERR_INVALID);
        json_doc_free(&d);
    }
    /* the length is respected: a valid prefix is not a valid document */
    struct json_doc d;
    assert_int_equal(json_doc_parse(&d, "{\"a\":1}", 6), ERR_INVALID);
    json_doc_free(&d);
}

static void spans_keep_text(void **state)
{
    (void)state;
    struct json_doc d;
    parse_ok(&d, "{\"amount\": 150000.50, \"s\":\"150000.50\", \"e\":1.0E+2, "
                 "\"t\":true, \"f\":false, \"n\":null, \"arr\":[], \"o\":{}}");
    assert_int_equal(d.ntok, 17);
    assert_int_equal(d.tok[0].type, JSON_T_OBJECT);
    assert_int_equal(d.tok[0].size, 8);
    tok_text(&d, 1, JSON_T_STRING, "amount");
    tok_text(&d, 2, JSON_T_NUMBER, "150000.50");
    tok_text(&d, 3, JSON_T_STRING, "s");
    tok_text(&d, 4, JSON_T_STRING, "150000.50");
    tok_text(&d, 6, JSON_T_NUMBER, "1.0E+2");
    tok_text(&d, 8, JSON_T_TRUE, "true");
    tok_text(&d, 10, JSON_T_FALSE, "false");
    tok_text(&d, 12, JSON_T_NULL, "null");
    assert_int_equal(d.tok[14].type, JSON_T_ARRAY);
    assert_int_equal(d.tok[14].size, 0);
    assert_int_equal(d.tok[16].type, JSON_T_OBJECT);
    assert_int_equal(d.tok[16].size, 0);
    /* string spans exclude the quotes and keep escapes as written */
    json_doc_free(&d);
    parse_ok(&d, "[\"a\\u0041\\n\", -0.5]");
    tok_text(&d, 1, JSON_T_STRING, "a\\u0041\\n");
    tok_text(&d, 2, JSON_T_NUMBER, "-0.5");
    json_doc_free(&d);
}

static void next_skips_values(void **state)
{
    (void)state;
    struct json_doc d;
    /* 0 { 1 "a" 2 { 3 "x" 4 [ 5 1 6 2 7 { 8 "y" 9 3 10 "z" 11 "w" 12 "b" 13 2 */
    parse_ok(&d, "{\"a\":{\"x\":[1,2,{\"y\":3}],\"z\":\"w\"},\"b\":2}");
    assert_int_equal(d.ntok, 14);
    assert_int_equal(json_next(&d, 0), 14);
    assert_int_equal(json_next(&d, 1), 12); /* a key owns its value */
    assert_int_equal(json_next(&d, 2), 12);
    assert_int_equal(json_next(&d, 3), 10);
    assert_int_equal(json_next(&d, 4), 10);
    assert_int_equal(json_next(&d, 5), 6);
    assert_int_equal(json_next(&d, 7), 10);
    assert_int_equal(json_next(&d, 10), 12);
    assert_int_equal(json_next(&d, 11), 12);
    assert_int_equal(json_next(&d, 12), 14);
    assert_int_equal(json_next(&d, 13), 14);
    /* walking the members of the top object visits exactly a and b */
    int keys = 0;
    for (int i = 1; i < d.ntok; i = json_next(&d, i + 1))
        keys++;
    assert_int_equal(keys, 2);
    json_doc_free(&d);
}

static void str_decode_escapes(void **state)
{
    (void)state;
    struct json_doc d;
    parse_ok(&d, "[\"a\\nb\",\"q\\\"q\",\"b\\\\s\",\"s\\/l\",\"\\u00e9\",\"\\ud83d\\ude00\","
                 "\"x\\u0041y\",\"\\t\\b\\f\\r\",\"plain\",\"\",\"\\u20ac\\u0000z\","
                 "\"\xc3\xa9\\uD83D\\uDE00!\"]");
    static const struct {
        const char *want;
        size_t n;
    } want[] = {
        {"a\nb", 3},
        {"q\"q", 3},
        {"b\\s", 3},
        {"s/l", 3},
        {"\xc3\xa9", 2},
        {"\xf0\x9f\x98\x80", 4},
        {"xAy", 3},
        {"\t\b\f\r", 4},
        {"plain", 5},
        {"", 0},
        {"\xe2\x82\xac\0z", 5},
        {"\xc3\xa9\xf0\x9f\x98\x80!", 7},
    };
    assert_int_equal(d.tok[0].size, sizeof want / sizeof want[0]);
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int i = (int)k + 1;
        size_t span = (size_t)(d.tok[i].end - d.tok[i].start);
        char *out = malloc(span ? span : 1);
        assert_non_null(out);
        size_t n = json_str_decode(&d, i, out);
        print_message("string %zu\n", k);
        assert_int_equal(n, want[k].n);
        if (n)
            assert_memory_equal(out, want[k].want, n);
        free(out);
        assert_true(json_str_eq(&d, i, want[k].want, want[k].n));
    }
    assert_false(json_str_eq(&d, 7, "xA", 2));
    assert_false(json_str_eq(&d, 7, "xAyz", 4));
    assert_false(json_str_eq(&d, 9, "plai", 4));
    json_doc_free(&d);
}

/* The canonical bytes of text's top value. */
static char *canon_of(const char *text, bool sort_top, size_t *len)
{
    struct json_doc d;
    assert_int_equal(json_doc_parse(&d, text, strlen(text)), ERR_OK);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(json_canon(&d, 0, sort_top, &b), ERR_OK);
    json_doc_free(&d);
    if (b.p == NULL)
        buf_adds(&b, "");
    return buf_steal(&b, len);
}

static bool canon_same(const char *a, const char *b, bool sort_top)
{
    size_t na, nb;
    char *ca = canon_of(a, sort_top, &na);
    char *cb = canon_of(b, sort_top, &nb);
    bool same = na == nb && memcmp(ca, cb, na) == 0;
    free(ca);
    free(cb);
    return same;
}

static void canon_equal_values(void **state)
{
    (void)state;
    /* whitespace does not matter */
    assert_true(canon_same("{\"I1\":{\"amount\":20000,\"x\":\"y\"}}",
                           " {\n \"I1\" : {\t\"amount\" : 20000 , \"x\" : \"y\" } } ", false));
    /* member order inside an invoice does not matter, at any depth */
    assert_true(canon_same(
        "{\"I1\":{\"a\":1,\"b\":\"2\",\"c\":{\"y\":1,\"x\":[1,{\"q\":1,\"p\":2}]}}}",
        "{\"I1\":{\"c\":{\"x\":[1,{\"p\":2,\"q\":1}],\"y\":1},\"b\":\"2\",\"a\":1}}", false));
    /* escapes are resolved, in values and keys */
    assert_true(canon_same("{\"I1\":{\"n\":\"\\u0041\"}}", "{\"I1\":{\"n\":\"A\"}}", false));
    assert_true(
        canon_same("{\"\\u0049\\u0031\":{\"\\u006e\":\"\\/\"}}", "{\"I1\":{\"n\":\"/\"}}", false));
    assert_true(canon_same("[\"\\u00e9\\ud83d\\ude00\"]", "[\"\xc3\xa9\xf0\x9f\x98\x80\"]", false));
    /* sorting the top level too makes its order irrelevant */
    assert_true(canon_same("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", true));
    /* a value below the top can be encoded on its own */
    struct json_doc d;
    const char *t = "{\"I1\":{\"b\":1,\"a\":2},\"I2\":{\"a\":2,\"b\":1}}";
    assert_int_equal(json_doc_parse(&d, t, strlen(t)), ERR_OK);
    struct buf x, y;
    buf_init(&x, 4096);
    buf_init(&y, 4096);
    assert_int_equal(json_canon(&d, 2, true, &x), ERR_OK);
    assert_int_equal(json_canon(&d, json_next(&d, 1) + 1, true, &y), ERR_OK);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.p, y.p, x.len);
    buf_reset(&x);
    buf_reset(&y);
    /* unsorted, the order of that object's own members shows */
    assert_int_equal(json_canon(&d, 2, false, &x), ERR_OK);
    assert_int_equal(json_canon(&d, json_next(&d, 1) + 1, false, &y), ERR_OK);
    assert_false(x.len == y.len && memcmp(x.p, y.p, x.len) == 0);
    buf_reset(&x);
    buf_reset(&y);
    /* sorted, I1 encodes as I2 (already in key order) does unsorted */
    assert_int_equal(json_canon(&d, 2, true, &x), ERR_OK);
    assert_int_equal(json_canon(&d, 8, false, &y), ERR_OK);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.p, y.p, x.len);
    buf_free(&x);
    buf_free(&y);
    json_doc_free(&d);
}

static void canon_different_values(void **state)
{
    (void)state;
    /* top-level order matters (doc_nos in request order) */
    assert_false(canon_same("{\"I1\":{},\"I2\":{}}", "{\"I2\":{},\"I1\":{}}", false));
    /* "20000" and 20000 differ */
    assert_false(
        canon_same("{\"I1\":{\"amount\":\"20000\"}}", "{\"I1\":{\"amount\":20000}}", false));
    /* numbers by their text */
    assert_false(
        canon_same("{\"I1\":{\"amount\":20000}}", "{\"I1\":{\"amount\":20000.00}}", false));
    /* array order matters */
    assert_false(canon_same("[1,2]", "[2,1]", false));
    assert_false(canon_same("{\"I\":{\"a\":[1,2]}}", "{\"I\":{\"a\":[2,1]}}", false));
    /* different values, keys, member counts, types */
    assert_false(canon_same("{\"I1\":{\"a\":1}}", "{\"I1\":{\"a\":2}}", false));
    assert_false(canon_same("{\"I1\":{\"a\":1}}", "{\"I1\":{\"b\":1}}", false));
    assert_false(canon_same("{\"I1\":{\"a\":1}}", "{\"I1\":{\"a\":1,\"b\":1}}", false));
    assert_false(canon_same("{\"I1\":{\"a\":1}}", "{\"I2\":{\"a\":1}}", false));
    assert_false(canon_same("{\"a\":\"true\"}", "{\"a\":true}", false));
    assert_false(canon_same("{\"a\":true}", "{\"a\":false}", false));
    assert_false(canon_same("{\"a\":null}", "{\"a\":\"\"}", false));
    assert_false(canon_same("{\"a\":{}}", "{\"a\":[]}", false));
    assert_false(canon_same("{\"a\":\"A\"}", "{\"a\":\"a\"}", false));
    /* the encoding is unambiguous where keys and values meet */
    assert_false(canon_same("{\"I\":{\"a\":\"b\"}}", "{\"I\":{\"ab\":\"\"}}", false));
    assert_false(canon_same("[\"a\",\"b\"]", "[\"ab\"]", false));
    assert_false(canon_same("[[1],2]", "[[1,2]]", false));
    /* a long string (past any small buffer) is compared in full */
    char a[700], b[700];
    memset(a, 0, sizeof a);
    a[0] = '[';
    a[1] = '"';
    memset(a + 2, 'x', 600);
    memcpy(a + 602, "\"]", 2);
    memcpy(b, a, sizeof a);
    assert_true(canon_same(a, b, false));
    b[500] = 'y';
    assert_false(canon_same(a, b, false));
}

struct utf8_case {
    const char *s;
    size_t n;
    long chars;
};

static void utf8_counts(void **state)
{
    (void)state;
    static const struct utf8_case cases[] = {
        {"", 0, 0},
        {"abc", 3, 3},
        {"\0", 1, 1},
        {"\xc3\xa9", 2, 1},
        {"Jos\xc3\xa9", 5, 4},
        {"\xe2\x82\xac", 3, 1},
        {"\xf0\x9f\x98\x80", 4, 1},
        {"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", 11, 5},
        {"\xc2\x80", 2, 1},         /* U+0080, smallest 2-byte */
        {"\xdf\xbf", 2, 1},         /* U+07FF */
        {"\xe0\xa0\x80", 3, 1},     /* U+0800, smallest 3-byte */
        {"\xed\x9f\xbf", 3, 1},     /* U+D7FF */
        {"\xee\x80\x80", 3, 1},     /* U+E000 */
        {"\xef\xbf\xbf", 3, 1},     /* U+FFFF */
        {"\xf0\x90\x80\x80", 4, 1}, /* U+10000 */
        {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
        /* invalid */
        {"\xc0\x80", 2, -1},         /* overlong NUL */
        {"\xc1\xbf", 2, -1},         /* overlong */
        {"\xe0\x80\x80", 3, -1},     /* overlong 3-byte */
        {"\xe0\x9f\xbf", 3, -1},     /* overlong U+07FF */
        {"\xf0\x80\x80\x80", 4, -1}, /* overlong 4-byte */
        {"\xf0\x8f\xbf\xbf", 4, -1}, /* overlong U+FFFF */
        {"\x80", 1, -1},             /* lone continuation */
        {"a\x80", 2, -1},
        {"\xbf", 1, -1},
        {"\xc3\xa9\xa9", 3, -1},             /* continuation after a complete character */
        {"\xed\xa0\x80", 3, -1},             /* U+D800 surrogate */
        {"\xed\xbf\xbf", 3, -1},             /* U+DFFF surrogate */
        {"\xed\xa0\xbd\xed\xb8\x80", 6, -1}, /* CESU-8 surrogate pair */
        {"\xf4\x90\x80\x80", 4, -1},         /* over U+10FFFF */
        {"\xf5\x80\x80\x80", 4, -1},
        {"\xf8\x88\x80\x80\x80", 5, -1},
        {"\xfe", 1, -1},
        {"\xff", 1, -1},
        {"\xc3", 1, -1}, /* truncated */
        {"\xe2\x82", 2, -1},
        {"\xf0\x9f\x98", 3, -1},
        {"ab\xf0\x9f", 4, -1},
        {"\xc3\x41", 2, -1}, /* not a continuation */
        {"\xe2\x28\xa1", 3, -1},
        {"\xf0\x9f\x98\x41", 4, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("utf8 case %zu\n", i);
        assert_int_equal(json_utf8_chars(cases[i].s, cases[i].n), cases[i].chars);
    }
    /* truncation is judged by n, not by the NUL after it */
    assert_int_equal(json_utf8_chars("\xe2\x82\xac", 2), -1);
    assert_int_equal(json_utf8_chars("\xe2\x82\xac", 3), 1);
}

/* jansson's own limits must not leak into what counts as JSON: NUL escapes
 * in keys and integers beyond 64 bits are valid; only numbers beyond the
 * double range are refused (documented in docs/DECISIONS.md). */
static void parser_limits(void **state)
{
    (void)state;
    struct json_doc d;
    const char *nul_key = "{\"a\\u0000b\":\"c\\u0000\",\"\\\\u0000\":1}";
    assert_int_equal(json_doc_parse(&d, nul_key, strlen(nul_key)), ERR_OK);
    char out[8];
    assert_int_equal(json_str_decode(&d, 1, out), 3);
    assert_memory_equal(out, "a\0b", 3);
    /* the copy made for validation does not change the text read */
    assert_true(json_str_eq(&d, 3, "\\u0000", 6));
    json_doc_free(&d);

    const char *big = "[99999999999999999999999,1000000000000000000000000.00]";
    assert_int_equal(json_doc_parse(&d, big, strlen(big)), ERR_OK);
    tok_text(&d, 1, JSON_T_NUMBER, "99999999999999999999999");
    tok_text(&d, 2, JSON_T_NUMBER, "1000000000000000000000000.00");
    json_doc_free(&d);

    const char *huge = "[1e400]";
    assert_int_equal(json_doc_parse(&d, huge, strlen(huge)), ERR_INVALID);
}

static void free_accepts_failed_doc(void **state)
{
    (void)state;
    struct json_doc d;
    assert_int_equal(json_doc_parse(&d, "[", 1), ERR_INVALID);
    assert_null(d.tok);
    json_doc_free(&d);
    json_doc_free(&d);
}

int main(void)
{
    json_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_valid),      cmocka_unit_test(accepts_bare_scalars),
        cmocka_unit_test(refuses_invalid),    cmocka_unit_test(spans_keep_text),
        cmocka_unit_test(next_skips_values),  cmocka_unit_test(str_decode_escapes),
        cmocka_unit_test(canon_equal_values), cmocka_unit_test(canon_different_values),
        cmocka_unit_test(utf8_counts),        cmocka_unit_test(free_accepts_failed_doc),
        cmocka_unit_test(parser_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
