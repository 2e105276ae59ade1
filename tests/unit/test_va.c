/* Unit tests for va: Luhn check digits, serial widths and VA number layout (SPEC 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "va.h"

struct luhn_case {
    const char *digits;
    int check;
};

static const struct luhn_case luhn_cases[] = {
    {"7992739871", 3},  {"628060000001234", 9}, {"887120000001234", 9}, {"0", 0}, {"1", 8},
    {"12345678901", 5}, {"628060000000000", 5}, {"999999999", 9},       {"", 0},
};

static void luhn_known_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof luhn_cases / sizeof luhn_cases[0]; i++) {
        const char *s = luhn_cases[i].digits;
        print_message("luhn: \"%s\"\n", s);
        assert_int_equal(va_luhn_digit(s, strlen(s)), luhn_cases[i].check);
    }
    /* only the first n digits count */
    assert_int_equal(va_luhn_digit("79927398719", 10), 3);
}

static void luhn_valid_spec_examples(void **state)
{
    (void)state;
    assert_true(va_luhn_valid("6280600000012349", 16));
    assert_true(va_luhn_valid("8871200000012349", 16));
    assert_true(va_luhn_valid("79927398713", 11));
    assert_true(va_luhn_valid("18", 2));
    assert_true(va_luhn_valid("00", 2));
}

static void luhn_valid_refuses(void **state)
{
    (void)state;
    char s[] = "6280600000012349";
    /* every single-digit change of every position is caught */
    for (size_t pos = 0; pos < 16; pos++) {
        char orig = s[pos];
        for (char c = '0'; c <= '9'; c++) {
            if (c == orig)
                continue;
            s[pos] = c;
            assert_false(va_luhn_valid(s, 16));
        }
        s[pos] = orig;
    }
    assert_true(va_luhn_valid(s, 16));
    /* swapping two adjacent different digits is caught too */
    assert_false(va_luhn_valid("6280600000021349", 16));
    /* non-digits */
    assert_false(va_luhn_valid("628060000001234a", 16));
    assert_false(va_luhn_valid("62806000000 2349", 16));
    assert_false(va_luhn_valid("-280600000012349", 16));
    assert_false(va_luhn_valid("6280600000012349\n", 17));
    /* 'R' - '0' == 34: a letter must not pass for a check digit */
    assert_false(va_luhn_valid("7992739871R", 11));
    /* too short */
    assert_false(va_luhn_valid("0", 1));
    assert_false(va_luhn_valid("", 0));
    /* the length is respected: the first 15 digits are not a valid number */
    assert_false(va_luhn_valid("6280600000012349", 15));
}

static void channel_width(void **state)
{
    (void)state;
    assert_int_equal(va_channel_width(16, 5), 10);
    assert_int_equal(va_channel_width(16, 1), 14);
    assert_int_equal(va_channel_width(16, 12), 3);
    assert_int_equal(va_channel_width(10, 8), 1);
    assert_int_equal(va_channel_width(10, 9), 0);
    assert_int_equal(va_channel_width(10, 12), -3);
    assert_int_equal(va_channel_width(23, 1), 21);
    assert_int_equal(va_channel_width(23, 12), 10);
}

static void max_serial(void **state)
{
    (void)state;
    assert_int_equal(va_max_serial(1), 9);
    assert_int_equal(va_max_serial(2), 99);
    assert_int_equal(va_max_serial(3), 999);
    assert_int_equal(va_max_serial(10), 9999999999LL);
    assert_int_equal(va_max_serial(18), 999999999999999999LL);
    /* serials are 64-bit: wider fields are capped at 18 digits */
    assert_int_equal(va_max_serial(19), 999999999999999999LL);
    assert_int_equal(va_max_serial(21), 999999999999999999LL);
    assert_int_equal(va_max_serial(0), 0);
    assert_int_equal(va_max_serial(-3), 0);
}

static void format_spec_examples(void **state)
{
    (void)state;
    char out[VA_MAX];
    assert_true(va_format("62806", 16, 1234, out));
    assert_string_equal(out, "6280600000012349");
    assert_true(va_format("88712", 16, 1234, out));
    assert_string_equal(out, "8871200000012349");
    /* the same serial on both channels shares the digits between prefix and check */
    assert_true(va_format("62806", 16, 1, out));
    assert_string_equal(out, "6280600000000013");
}

static void format_refuses(void **state)
{
    (void)state;
    char out[VA_MAX];
    memset(out, 'x', sizeof out);
    assert_false(va_format("62806", 16, 0, out));
    assert_false(va_format("62806", 16, -1, out));
    /* width 10: 9999999999 fits, 10000000000 does not */
    assert_true(va_format("62806", 16, 9999999999LL, out));
    assert_string_equal(out, "6280699999999995");
    assert_false(va_format("62806", 16, 10000000000LL, out));
    /* no room for a serial at all */
    assert_false(va_format("123456789", 10, 1, out));
    assert_false(va_format("123456789012", 10, 1, out));
    /* width 1 */
    assert_true(va_format("12345678", 10, 9, out));
    assert_false(va_format("12345678", 10, 10, out));
    /* over the longest VA length */
    assert_false(va_format("62806", 24, 1, out));
}

static void format_every_length(void **state)
{
    (void)state;
    static const char *const prefixes[] = {"8", "62806", "88712", "123456789012", "0", "00"};
    static const int64_t serials[] = {1, 7, 42, 1234, 99999, 123456789};
    for (int len = 10; len <= 19; len++)
        for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++)
            for (size_t s = 0; s < sizeof serials / sizeof serials[0]; s++) {
                char out[VA_MAX];
                size_t plen = strlen(prefixes[p]);
                int width = va_channel_width(len, plen);
                bool fits = width >= 1 && serials[s] <= va_max_serial(width);
                assert_int_equal(va_format(prefixes[p], len, serials[s], out), fits);
                if (!fits)
                    continue;
                assert_int_equal(strlen(out), (size_t)len);
                assert_memory_equal(out, prefixes[p], plen);
                assert_true(va_luhn_valid(out, (size_t)len));
                /* the serial, zero-padded, sits between prefix and check digit */
                int64_t back = 0;
                for (int k = 0; k < width; k++)
                    back = back * 10 + (out[plen + (size_t)k] - '0');
                assert_int_equal(back, serials[s]);
            }
}

/* SPEC 2 allows VA lengths up to 23 with prefixes from one digit: the serial
 * field is then wider than 18 digits, and serial 1 still fits it. */
static void format_longest_lengths(void **state)
{
    (void)state;
    char out[VA_MAX];
    assert_true(va_format("8", 20, 1, out)); /* width 18 */
    assert_string_equal(out, "80000000000000000011");
    for (int len = 21; len <= 23; len++) {
        print_message("va_format(\"8\", %d, 1)\n", len);
        assert_true(va_format("8", len, 1, out));
        assert_int_equal(strlen(out), (size_t)len);
        assert_true(va_luhn_valid(out, (size_t)len));
    }
    /* the widest field, 21 digits, takes the largest serial, zero-padded */
    assert_true(va_format("8", 23, 999999999999999999LL, out));
    assert_memory_equal(out, "8000999999999999999999", 22);
    assert_true(va_luhn_valid(out, 23));
    assert_true(va_format("8", 23, 1, out));
    assert_memory_equal(out, "8000000000000000000001", 22);
    assert_true(va_format("123456789012", 23, 1234, out)); /* width 10 */
    assert_int_equal(strlen(out), 23);
    assert_true(va_luhn_valid(out, 23));
}

static void bank_code_rules(void **state)
{
    (void)state;
    static const char *const good[] = {"008", "009", "014", "002", "000", "999"};
    static const char *const bad[] = {"", "8", "08", "0088", "00a", "A08", " 08", "08 ", "-08"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(va_bank_code_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(va_bank_code_valid(bad[i]));
}

static void prefix_rules(void **state)
{
    (void)state;
    static const char *const good[] = {"1", "0", "62806", "88712", "123456789012", "000000000000"};
    static const char *const bad[] = {"", "1234567890123", "62a06", " 62806", "62806 ", "+1", "-1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(va_prefix_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(va_prefix_valid(bad[i]));
}

/* va_parse inverts va_format, and refuses everything va_format cannot make. */
static void parse_inverts_format(void **state)
{
    (void)state;
    static const int64_t serials[] = {1, 9, 10, 1234, 99999, 123456789, 9999999999LL};
    char out[VA_MAX];
    int64_t serial = 0;
    for (size_t i = 0; i < sizeof serials / sizeof serials[0]; i++) {
        assert_true(va_format("62806", 16, serials[i], out));
        assert_true(va_parse("62806", 16, out, strlen(out), &serial));
        assert_int_equal(serial, serials[i]);
    }
    assert_true(va_parse("88712", 16, "8871200000012349", 16, &serial));
    assert_int_equal(serial, 1234);
    /* the longest: 21 serial digits, of which a 64-bit serial uses 18 */
    assert_true(va_format("1", 23, 999999999999999999LL, out));
    assert_true(va_parse("1", 23, out, 23, &serial));
    assert_int_equal(serial, 999999999999999999LL);

    static const char *const bad[] = {
        "6280600000012348",  /* check digit */
        "628060000001234",   /* one digit short */
        "62806000000123490", /* one too many */
        "6280700000012349",  /* another prefix */
        "62806000000a2349",  /* not a digit */
        "6280600000000000",  /* serial 0 */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(va_parse("62806", 16, bad[i], strlen(bad[i]), &serial));
    /* a length other than the community's, a channel with no serial digit */
    assert_true(va_format("62806", 17, 1234, out));
    assert_false(va_parse("62806", 16, out, strlen(out), &serial));
    assert_false(va_parse("123456789", 10, "1234567890", 10, &serial));
    /* 21 nines do not fit a serial, whatever the check digit */
    assert_false(va_parse("1", 23, "19999999999999999999990", 23, &serial));
    assert_false(va_parse("1", 23, "10010000000000000000000", 23, &serial));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(luhn_known_answers),
        cmocka_unit_test(luhn_valid_spec_examples),
        cmocka_unit_test(luhn_valid_refuses),
        cmocka_unit_test(channel_width),
        cmocka_unit_test(max_serial),
        cmocka_unit_test(format_spec_examples),
        cmocka_unit_test(format_refuses),
        cmocka_unit_test(format_every_length),
        cmocka_unit_test(format_longest_lengths),
        cmocka_unit_test(bank_code_rules),
        cmocka_unit_test(prefix_rules),
        cmocka_unit_test(parse_inverts_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
