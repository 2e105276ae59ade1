/* Unit tests for money: SPEC 1.3 money text as exact hundredths, and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "money.h"

struct good_case {
    const char *text;
    int64_t hundredths;
};

static const struct good_case good[] = {
    {"20000", 2000000},
    {"150000.5", 15000050},
    {"150000.50", 15000050},
    {"0", 0},
    {"0.01", 1},
    {"0.1", 10},
    {"0.00", 0},
    {"1", 100},
    {"020000", 2000000},
    {"000000000000000000001", 100},
    {"999999999999999.99", 99999999999999999LL},
    {"999999999999999", 99999999999999900LL},
    {"0999999999999999.99", 99999999999999999LL},
    {"123456789012345.67", 12345678901234567LL},
};

static const char *const bad[] = {
    "1000000000000000",
    "9999999999999999",
    "1000000000000000.00",
    "1.230",
    "1.234",
    "1e5",
    "1E5",
    "1.5e2",
    "-5",
    "+5",
    " 5",
    "5 ",
    "1.",
    ".5",
    "1..2",
    "",
    "abc",
    "1,5",
    "1.2.3",
    "0x10",
    "5a",
    "1.a",
    "1. 5",
    ".",
    "-0",
    "Infinity",
    "NaN",
};

static void good_strings(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        print_message("good: \"%s\"\n", good[i].text);
        assert_true(money_parse(good[i].text, strlen(good[i].text), &v));
        assert_int_equal(v, good[i].hundredths);
    }
}

static void bad_strings(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 4242;
        print_message("bad: \"%s\"\n", bad[i]);
        assert_false(money_parse(bad[i], strlen(bad[i]), &v));
        /* the out-parameter is written only on success */
        assert_int_equal(v, 4242);
    }
}

static void length_is_respected(void **state)
{
    (void)state;
    int64_t v = 0;
    /* only the first n bytes count: "12" of "12.345" */
    assert_true(money_parse("12.345", 2, &v));
    assert_int_equal(v, 1200);
    assert_true(money_parse("12.345", 4, &v));
    assert_int_equal(v, 1230);
    assert_true(money_parse("12.345", 5, &v));
    assert_int_equal(v, 1234);
    assert_false(money_parse("12.345", 6, &v));
    assert_false(money_parse("12.345", 3, &v));
    assert_false(money_parse("12", 0, &v));
    /* an embedded NUL is not a digit */
    assert_false(money_parse("1\0002", 3, &v));
}

struct fmt_case {
    int64_t hundredths;
    const char *text;
};

static const struct fmt_case fmts[] = {
    {0, "0.00"},           {1, "0.01"},
    {10, "0.10"},          {99, "0.99"},
    {100, "1.00"},         {15000050, "150000.50"},
    {2000000, "20000.00"}, {99999999999999999LL, "999999999999999.99"},
    {-1, "-0.01"},         {-15000050, "-150000.50"},
};

static void format_known_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        char out[24];
        memset(out, 'x', sizeof out);
        money_format(fmts[i].hundredths, out);
        assert_string_equal(out, fmts[i].text);
    }
}

static void format_round_trips(void **state)
{
    (void)state;
    static const int64_t values[] = {0,
                                     1,
                                     9,
                                     10,
                                     11,
                                     99,
                                     100,
                                     101,
                                     12345,
                                     2000000,
                                     15000050,
                                     100000000,
                                     123456789,
                                     999999999,
                                     4294967296LL,
                                     99999999999999999LL,
                                     99999999999999998LL,
                                     10000000000000000LL};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char out[24];
        int64_t back = -1;
        money_format(values[i], out);
        assert_true(money_parse(out, strlen(out), &back));
        assert_int_equal(back, values[i]);
    }
    /* and text -> value -> text for canonical strings */
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        if (fmts[i].hundredths < 0)
            continue;
        int64_t v = -1;
        char out[24];
        assert_true(money_parse(fmts[i].text, strlen(fmts[i].text), &v));
        money_format(v, out);
        assert_string_equal(out, fmts[i].text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_strings),        cmocka_unit_test(bad_strings),
        cmocka_unit_test(length_is_respected), cmocka_unit_test(format_known_answers),
        cmocka_unit_test(format_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
