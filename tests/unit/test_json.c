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
#include "limits.h"

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
    /* escapes at either end and between long runs, past the 256-byte
     * stack buffer of the canonical encoder */
    char esc[700], raw[700];
    memset(esc, 0, sizeof esc);
    memset(raw, 0, sizeof raw);
    memcpy(esc, "[\"\\u0041", 8);
    memset(esc + 8, 'x', 300);
    memcpy(esc + 308, "\\u006e", 6);
    memset(esc + 314, 'y', 300);
    memcpy(esc + 614, "\\/\"]", 4);
    memcpy(raw, "[\"A", 3);
    memset(raw + 3, 'x', 300);
    raw[303] = 'n';
    memset(raw + 304, 'y', 300);
    memcpy(raw + 604, "/\"]", 3);
    assert_true(canon_same(esc, raw, false));
    raw[303] = 'm';
    assert_false(canon_same(esc, raw, false));
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

/* A case of the single-pass parser: bytes (NULs allowed) and the result. */
struct parse_case {
    const char *s;
    size_t n;
    enum vb_err want;
};

#define CASE(lit, want)                                                                            \
    {                                                                                              \
        lit, sizeof lit - 1, want                                                                  \
    }

/* Each text is copied into a buffer of exactly its size, so a read past
 * the end shows under ASan. */
static void check_cases(const struct parse_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *copy = malloc(c[i].n ? c[i].n : 1);
        assert_non_null(copy);
        memcpy(copy, c[i].s, c[i].n);
        struct json_doc d;
        print_message("case %zu: %.*s\n", i, (int)(c[i].n < 80 ? c[i].n : 80), c[i].s);
        assert_int_equal(json_doc_parse(&d, copy, c[i].n), c[i].want);
        if (c[i].want != ERR_OK)
            assert_null(d.tok);
        json_doc_free(&d);
        free(copy);
    }
}

/* \u escapes: UTF-16 surrogates only as a high-low pair (jansson's rule);
 * \u0000 is allowed in values and keys. */
static void unicode_escapes(void **state)
{
    (void)state;
    static const struct parse_case c[] = {
        CASE("\"\\ud83d\\ude00\"", ERR_OK),
        CASE("\"\\uD83D\\uDE00\"", ERR_OK),
        CASE("\"\\ud800\\udc00\"", ERR_OK), /* U+10000 */
        CASE("\"\\udbff\\udfff\"", ERR_OK), /* U+10FFFF */
        CASE("\"\\ud7ff\\ue000\\uffff\"", ERR_OK),
        CASE("\"\\u0000\"", ERR_OK),
        CASE("{\"\\u0000\":\"\\u0000\"}", ERR_OK),
        CASE("\"\\ud800\"", ERR_INVALID),        /* lone high at the end */
        CASE("\"\\udbff x\"", ERR_INVALID),      /* high, then not an escape */
        CASE("\"\\ud800\\n\"", ERR_INVALID),     /* high, then another escape */
        CASE("\"\\ud800\\ud800\"", ERR_INVALID), /* two highs */
        CASE("\"\\ud800\\u0041\"", ERR_INVALID), /* high, then not a low */
        CASE("\"\\ud800\\ue000\"", ERR_INVALID), /* high, then above the lows */
        CASE("\"\\udc00\"", ERR_INVALID),        /* lone low */
        CASE("\"\\udfff\\ud800\"", ERR_INVALID), /* low, high: reversed */
        CASE("\"\\ude00\\ud83d\\ude00\"", ERR_INVALID),
        CASE("\"\\ud800\\udc0", ERR_INVALID), /* the low cut short */
        CASE("\"\\ud800\\u", ERR_INVALID),
        CASE("\"\\ud800\\", ERR_INVALID),
        CASE("\"\\u00g0\"", ERR_INVALID),
        CASE("\"\\u12\"", ERR_INVALID),
        CASE("\"\\u123", ERR_INVALID),
        CASE("\"\\U0041\"", ERR_INVALID),
        CASE("\"\\'\"", ERR_INVALID),
        CASE("\"\\a\"", ERR_INVALID),
        CASE("\"\\0\"", ERR_INVALID),
        CASE("\"\\", ERR_INVALID),
        CASE("\"\\\"", ERR_INVALID), /* the quote is escaped: no closing quote */
        CASE("\"\\\\\"", ERR_OK),
    };
    check_cases(c, sizeof c / sizeof c[0]);
}

/* Every byte alone in a string: printable ASCII and DEL pass raw; a control
 * character must be escaped; a byte >= 0x80 alone is never UTF-8. */
static void string_bytes(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        char text[3] = {'"', (char)b, '"'};
        bool ok = b >= 0x20 && b < 0x80 && b != '"' && b != '\\';
        struct json_doc d;
        print_message("byte 0x%02x\n", b);
        assert_int_equal(json_doc_parse(&d, text, 3), ok ? ERR_OK : ERR_INVALID);
        json_doc_free(&d);
    }
}

/* Raw UTF-8 inside a string is held to the rules of json_utf8_chars
 * (overlongs, surrogates, above U+10FFFF, truncation); outside a string no
 * byte >= 0x80 is valid. */
static void utf8_in_strings(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        bool ok;
    } c[] = {
        {"\xc2\x80", 2, true},
        {"\xdf\xbf", 2, true},
        {"\xe0\xa0\x80", 3, true},
        {"\xed\x9f\xbf", 3, true},
        {"\xee\x80\x80", 3, true},
        {"\xef\xbf\xbf", 3, true},
        {"\xf0\x90\x80\x80", 4, true},
        {"\xf4\x8f\xbf\xbf", 4, true},
        {"Jos\xc3\xa9", 5, true},
        {"\xc0\x80", 2, false},
        {"\xc1\xbf", 2, false},
        {"\xe0\x80\x80", 3, false},
        {"\xe0\x9f\xbf", 3, false},
        {"\xf0\x80\x80\x80", 4, false},
        {"\xf0\x8f\xbf\xbf", 4, false},
        {"\xed\xa0\x80", 3, false},
        {"\xed\xbf\xbf", 3, false},
        {"\xed\xa0\xbd\xed\xb8\x80", 6, false},
        {"\xf4\x90\x80\x80", 4, false},
        {"\xf5\x80\x80\x80", 4, false},
        {"\xf8\x88\x80\x80\x80", 5, false},
        {"\x80", 1, false},
        {"\xbf", 1, false},
        {"\xc3\xa9\xa9", 3, false},
        {"\xc3", 1, false},
        {"\xe2\x82", 2, false},
        {"\xf0\x9f\x98", 3, false},
        {"\xc3\x41", 2, false},
        {"\xe2\x28\xa1", 3, false},
        {"\xf0\x9f\x98\x41", 4, false},
        {"\xe2\x82\"", 3, false}, /* truncated by the closing quote */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char text[16];
        text[0] = '"';
        memcpy(text + 1, c[i].s, c[i].n);
        text[c[i].n + 1] = '"';
        struct json_doc d;
        print_message("utf8 in string %zu\n", i);
        assert_int_equal(json_doc_parse(&d, text, c[i].n + 2), c[i].ok ? ERR_OK : ERR_INVALID);
        json_doc_free(&d);
    }
    static const struct parse_case outside[] = {
        CASE("[\xc3\xa9]", ERR_INVALID),
        CASE("{\"a\":1}\xc2\xa0", ERR_INVALID), /* U+00A0 is not a JSON blank */
        CASE("\xef\xbb\xbf{}", ERR_INVALID),    /* nor is a byte order mark */
    };
    check_cases(outside, sizeof outside / sizeof outside[0]);
}

/* The number grammar of RFC 8259, and jansson's range: a number a double
 * cannot hold (magnitude >= 2^1024 - 2^970, which strtod rounds to
 * infinity) is refused; one that underflows to 0 is not. */
static void number_rules(void **state)
{
    (void)state;
    static const struct parse_case c[] = {
        CASE("0", ERR_OK), CASE("-0", ERR_OK), CASE("-0.0e-0", ERR_OK), CASE("10", ERR_OK),
        CASE("1E5", ERR_OK), CASE("1e+5", ERR_OK), CASE("1e-5", ERR_OK), CASE("[0,1]", ERR_OK),
        CASE("-", ERR_INVALID), CASE("[-]", ERR_INVALID), CASE("-a", ERR_INVALID),
        CASE("--1", ERR_INVALID), CASE("00", ERR_INVALID), CASE("-01", ERR_INVALID),
        CASE("[01]", ERR_INVALID), CASE("1.", ERR_INVALID), CASE("[1.]", ERR_INVALID),
        CASE("1.e5", ERR_INVALID), CASE("1e", ERR_INVALID), CASE("1e+", ERR_INVALID),
        CASE("[1E-]", ERR_INVALID), CASE("1.5.", ERR_INVALID), CASE("1e5e5", ERR_INVALID),
        CASE("0x1", ERR_INVALID), CASE("1_000", ERR_INVALID), CASE("[1 2]", ERR_INVALID),
        CASE("Infinity", ERR_INVALID), CASE("-Infinity", ERR_INVALID),
        /* range */
        CASE("1e308", ERR_OK), CASE("1e309", ERR_INVALID), CASE("-1e309", ERR_INVALID),
        CASE("1.7976931348623157e308", ERR_OK), /* DBL_MAX */
        CASE("1.7976931348623158e308", ERR_OK), /* rounds down to DBL_MAX */
        CASE("1.7976931348623159e308", ERR_INVALID),
        CASE("1797693134862315807937289714053034150799341327100378269361737789804449682927647509466"
             "4901797758720709633028641669288791094655554785194040263065748867150582068190890200070"
             "8383676273854845817711531764475730270069855571366959622842914819860834936475292719074"
             "168444365510704342711559699508093042880177904174497791",
             ERR_OK), /* 2^1024 - 2^970 - 1 */
        CASE("1797693134862315807937289714053034150799341327100378269361737789804449682927647509466"
             "4901797758720709633028641669288791094655554785194040263065748867150582068190890200070"
             "8383676273854845817711531764475730270069855571366959622842914819860834936475292719074"
             "168444365510704342711559699508093042880177904174497792",
             ERR_INVALID), /* 2^1024 - 2^970: a tie, rounds up */
        CASE("-179769313486231580793728971405303415079934132710037826936173778980444968292764750946"
             "6490179775872070963302864166928879109465555478519404026306574886715058206819089020007"
             "0838367627385484581771153176447573027006985557136695962284291481986083493647529271907"
             "4168444365510704342711559699508093042880177904174497792.0",
             ERR_INVALID),
        CASE("1797693134862315807937289714053034150799341327100378269361737789804449682927647509466"
             "4901797758720709633028641669288791094655554785194040263065748867150582068190890200070"
             "8383676273854845817711531764475730270069855571366959622842914819860834936475292719074"
             "168444365510704342711559699508093042880177904174497791.99999999999999999999",
             ERR_OK), /* just below */
        CASE("0."
             "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466"
             "4901797758720709633028641669288791094655554785194040263065748867150582068190890200070"
             "8383676273854845817711531764475730270069855571366959622842914819860834936475292719074"
             "168444365510704342711559699508093042880177904174497792e309",
             ERR_INVALID),
        CASE("0."
             "0001797693134862315807937289714053034150799341327100378269361737789804449682927647509"
             "4664901797758720709633028641669288791094655554785194040263065748867150582068190890200"
             "0708383676273854845817711531764475730270069855571366959622842914819860834936475292719"
             "074168444365510704342711559699508093042880177904174497792e312",
             ERR_INVALID),
        CASE("0."
             "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466"
             "4901797758720709633028641669288791094655554785194040263065748867150582068190890200070"
             "8383676273854845817711531764475730270069855571366959622842914819860834936475292719074"
             "1684443655107043427115596995080930428801779041744977920000e309",
             ERR_INVALID),
        CASE("0."
             "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466"
             "4901797758720709633028641669288791094655554785194040263065748867150582068190890200070"
             "8383676273854845817711531764475730270069855571366959622842914819860834936475292719074"
             "168444365510704342711559699508093042880177904174497791e309",
             ERR_OK),
        CASE("1797693134862315807937289714053034150799341327100378269361737789804449682927647509466"
             "4901797758720709633028641669288791094655554785194040263065748867150582068190890200070"
             "8383676273854845817711531764475730270069855571366959622842914819860834936475292719074"
             "168444365510704342711559699508093042880177904174497792e-1",
             ERR_OK),
        CASE("1e-400", ERR_OK),                       /* underflow is fine */
        CASE("0e99999999999999999999999999", ERR_OK), /* zero */
        CASE("0.0000e400", ERR_OK), CASE("1e99999999999999999999999999", ERR_INVALID),
        CASE("1e-99999999999999999999999999", ERR_OK),
        CASE("[99999999999999999999999]", ERR_OK), /* beyond 64 bits is JSON */
    };
    check_cases(c, sizeof c / sizeof c[0]);
    /* 10^308 (309 digits) fits; 10^309 does not */
    char big[320];
    big[0] = '1';
    memset(big + 1, '0', 309);
    struct json_doc d;
    assert_int_equal(json_doc_parse(&d, big, 309), ERR_OK);
    json_doc_free(&d);
    assert_int_equal(json_doc_parse(&d, big, 310), ERR_INVALID);
    json_doc_free(&d);
}

/* jansson's depth limit, kept: a value inside LIMIT_JSON_DEPTH - 1
 * containers is fine, one more level is not; an empty container counts as
 * a value at its own depth. */
static char *nest(const char *open, const char *inner, const char *close, int n, size_t *len)
{
    size_t no = strlen(open), ni = strlen(inner), nc = strlen(close);
    char *s = malloc(no * (size_t)n + ni + nc * (size_t)n);
    assert_non_null(s);
    size_t at = 0;
    for (int k = 0; k < n; k++, at += no)
        memcpy(s + at, open, no);
    memcpy(s + at, inner, ni);
    at += ni;
    for (int k = 0; k < n; k++, at += nc)
        memcpy(s + at, close, nc);
    *len = at;
    return s;
}

static void depth_limit(void **state)
{
    (void)state;
    static const struct {
        const char *open, *inner, *close;
        int n;
        enum vb_err want;
    } c[] = {
        {"[", "", "]", LIMIT_JSON_DEPTH, ERR_OK},
        {"[", "", "]", LIMIT_JSON_DEPTH + 1, ERR_INVALID},
        {"[", "1", "]", LIMIT_JSON_DEPTH - 1, ERR_OK},
        {"[", "1", "]", LIMIT_JSON_DEPTH, ERR_INVALID},
        {"[", "\"s\"", "]", LIMIT_JSON_DEPTH, ERR_INVALID},
        {"{\"a\":", "1", "}", LIMIT_JSON_DEPTH - 1, ERR_OK},
        {"{\"a\":", "1", "}", LIMIT_JSON_DEPTH, ERR_INVALID},
        {"{\"a\":", "{}", "}", LIMIT_JSON_DEPTH - 1, ERR_OK},
        {"{\"a\":", "{}", "}", LIMIT_JSON_DEPTH, ERR_INVALID},
        {"[{\"a\":", "[]", "}]", LIMIT_JSON_DEPTH / 2 - 1, ERR_OK},
        {"[{\"a\":", "1", "}]", LIMIT_JSON_DEPTH / 2, ERR_INVALID},
        {"[1,", "2", "]", LIMIT_JSON_DEPTH - 1, ERR_OK}, /* siblings do not add depth */
        {"[", "", "]", 100000, ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        size_t len;
        char *s = nest(c[i].open, c[i].inner, c[i].close, c[i].n, &len);
        struct json_doc d;
        print_message("depth case %zu\n", i);
        assert_int_equal(json_doc_parse(&d, s, len), c[i].want);
        json_doc_free(&d);
        free(s);
    }
}

/* Grammar corners, and the one input the jansson-based parser accepted and
 * this one refuses: a lone scalar followed by a raw NUL byte (jansson
 * dropped a NUL read back after a scalar; not JSON, and every caller refused
 * the scalar anyway). */
static void grammar_corners(void **state)
{
    (void)state;
    static const struct parse_case c[] = {
        CASE("1\0", ERR_INVALID),          CASE(" true\0 ", ERR_INVALID),
        CASE("[1\0]", ERR_INVALID),        CASE("{\"a\":null\0}", ERR_INVALID),
        CASE("\"a\"\0", ERR_INVALID),      CASE("{\"a\":1}\0", ERR_INVALID),
        CASE("\0", ERR_INVALID),           CASE("[\"a\0b\"]", ERR_INVALID),
        CASE("[true,false,null]", ERR_OK), CASE("[nul]", ERR_INVALID),
        CASE("[tru]", ERR_INVALID),        CASE("nulll", ERR_INVALID),
        CASE("truefalse", ERR_INVALID),    CASE("[true false]", ERR_INVALID),
        CASE("[truex]", ERR_INVALID),      CASE("[TRUE]", ERR_INVALID),
        CASE("{1:2}", ERR_INVALID),        CASE("{\"a\"}", ERR_INVALID),
        CASE("{\"a\":}", ERR_INVALID),     CASE("{\"a\",1}", ERR_INVALID),
        CASE("{,}", ERR_INVALID),          CASE("[,]", ERR_INVALID),
        CASE("[1,,2]", ERR_INVALID),       CASE("[1}", ERR_INVALID),
        CASE("{\"a\":1]", ERR_INVALID),    CASE("]", ERR_INVALID),
        CASE("[]]", ERR_INVALID),          CASE("{}}", ERR_INVALID),
        CASE("{\"a\":1,\"a\":2}", ERR_OK), /* duplicate keys are JSON; json_member takes the last */
        CASE("\f1", ERR_INVALID),          /* blanks are space, tab, CR, LF only */
        CASE("\v1", ERR_INVALID),          CASE(" \t\r\n1 \t\r\n", ERR_OK),
    };
    check_cases(c, sizeof c / sizeof c[0]);
}

/* Sizes as jsmn gave them (json_next relies on them): an object counts its
 * members, an array its elements, a key owns its value (1), other values 0. */
static void token_sizes(void **state)
{
    (void)state;
    struct json_doc d;
    parse_ok(&d, "{\"a\":[1,{\"b\":2},[]],\"c\":\"d\",\"e\":{}}");
    static const struct {
        enum json_type type;
        int size;
    } want[] = {
        {JSON_T_OBJECT, 3}, {JSON_T_STRING, 1}, {JSON_T_ARRAY, 3},  {JSON_T_NUMBER, 0},
        {JSON_T_OBJECT, 1}, {JSON_T_STRING, 1}, {JSON_T_NUMBER, 0}, {JSON_T_ARRAY, 0},
        {JSON_T_STRING, 1}, {JSON_T_STRING, 0}, {JSON_T_STRING, 1}, {JSON_T_OBJECT, 0},
    };
    assert_int_equal(d.ntok, sizeof want / sizeof want[0]);
    for (int i = 0; i < d.ntok; i++) {
        print_message("token %d\n", i);
        assert_int_equal(d.tok[i].type, want[i].type);
        assert_int_equal(d.tok[i].size, want[i].size);
    }
    /* containers span from their opening to after their closing bracket */
    assert_int_equal(d.tok[0].start, 0);
    assert_int_equal(d.tok[0].end, (int)strlen(d.text));
    tok_text(&d, 2, JSON_T_ARRAY, "[1,{\"b\":2},[]]");
    tok_text(&d, 4, JSON_T_OBJECT, "{\"b\":2}");
    json_doc_free(&d);
}

/* Only text[0..len) is read: what follows does not count, and a cut in any
 * place of a valid text is refused. */
static void length_is_respected(void **state)
{
    (void)state;
    struct json_doc d;
    assert_int_equal(json_doc_parse(&d, "[1]xyz", 3), ERR_OK);
    json_doc_free(&d);
    assert_int_equal(json_doc_parse(&d, "1234", 2), ERR_OK);
    tok_text(&d, 0, JSON_T_NUMBER, "12");
    json_doc_free(&d);
    const char *t = "{\"a\\u00e9\":[true,\"\\ud83d\\ude00\xc3\xa9\",-1.5e+3,null]}";
    for (size_t n = 0; n < strlen(t); n++) {
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, t, n);
        print_message("cut at %zu\n", n);
        assert_int_equal(json_doc_parse(&d, copy, n), ERR_INVALID);
        json_doc_free(&d);
        free(copy);
    }
    assert_int_equal(json_doc_parse(&d, t, strlen(t)), ERR_OK);
    json_doc_free(&d);
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
        cmocka_unit_test(accepts_valid),       cmocka_unit_test(accepts_bare_scalars),
        cmocka_unit_test(refuses_invalid),     cmocka_unit_test(spans_keep_text),
        cmocka_unit_test(next_skips_values),   cmocka_unit_test(str_decode_escapes),
        cmocka_unit_test(canon_equal_values),  cmocka_unit_test(canon_different_values),
        cmocka_unit_test(utf8_counts),         cmocka_unit_test(free_accepts_failed_doc),
        cmocka_unit_test(parser_limits),       cmocka_unit_test(unicode_escapes),
        cmocka_unit_test(string_bytes),        cmocka_unit_test(utf8_in_strings),
        cmocka_unit_test(number_rules),        cmocka_unit_test(depth_limit),
        cmocka_unit_test(grammar_corners),     cmocka_unit_test(token_sizes),
        cmocka_unit_test(length_is_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
