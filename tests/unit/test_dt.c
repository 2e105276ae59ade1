/* Unit tests for dt: SPEC date-times at a UTC offset, and UTC offsets themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dt.h"

#define WIB (7 * 60)

struct instant {
    int64_t t;
    int offset;
    const char *text;
};

/* Hand-computed: 2000-01-01 is day 10957, 2016-01-01 day 16801, 2024-01-01
 * day 19723; a day is 86400 s. */
static const struct instant instants[] = {
    {0, WIB, "1970-01-01 07:00:00"},
    {0, 0, "1970-01-01 00:00:00"},
    {0, -5 * 60, "1969-12-31 19:00:00"},
    {0, 5 * 60 + 45, "1970-01-01 05:45:00"},
    {0, -(9 * 60 + 30), "1969-12-31 14:30:00"},
    {-1, 0, "1969-12-31 23:59:59"},
    {-86400, 0, "1969-12-31 00:00:00"},
    {-86401, 0, "1969-12-30 23:59:59"},
    {59, 0, "1970-01-01 00:00:59"},
    {3599, 0, "1970-01-01 00:59:59"},
    {86399, 0, "1970-01-01 23:59:59"},
    {31536000, 0, "1971-01-01 00:00:00"},
    {951782400, 0, "2000-02-29 00:00:00"},
    {951868800, 0, "2000-03-01 00:00:00"},
    {1000000000, 0, "2001-09-09 01:46:40"},
    {1000000000, WIB, "2001-09-09 08:46:40"},
    {1469419549, WIB, "2016-07-25 11:05:49"},
    {1469419549, 0, "2016-07-25 04:05:49"},
    {1709164800, 0, "2024-02-29 00:00:00"},
    {1709164800 - 1, WIB, "2024-02-29 06:59:59"},
    {1709164800 - 25200, WIB, "2024-02-29 00:00:00"},
    {2147483647, 0, "2038-01-19 03:14:07"},
    {2147483648LL, 0, "2038-01-19 03:14:08"},
    {1735689600, 0, "2025-01-01 00:00:00"},
    {1735689600 - 1, WIB, "2025-01-01 06:59:59"},
    {1735689600 - 25201, WIB, "2024-12-31 23:59:59"},
    {1735689600, 14 * 60, "2025-01-01 14:00:00"},
    {1735689600, -14 * 60, "2024-12-31 10:00:00"},
    {253402300799LL, 0, "9999-12-31 23:59:59"},
    {253402300799LL - 25200, WIB, "9999-12-31 23:59:59"},
    {-62135596800LL, 0, "0001-01-01 00:00:00"},
    {-62135596800LL - 25200, WIB, "0001-01-01 00:00:00"},
    {4107542400LL, 0, "2100-03-01 00:00:00"},
};

static void format_known_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        char out[DT_LEN + 1];
        memset(out, 'x', sizeof out);
        dt_format(instants[i].t, instants[i].offset, out);
        print_message("t=%lld off=%d\n", (long long)instants[i].t, instants[i].offset);
        assert_string_equal(out, instants[i].text);
    }
}

static void parse_known_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        int64_t t = 0;
        print_message("parse \"%s\" off=%d\n", instants[i].text, instants[i].offset);
        assert_true(dt_parse(instants[i].text, DT_LEN, instants[i].offset, &t));
        assert_int_equal(t, instants[i].t);
    }
}

static void parse_offset_shifts(void **state)
{
    (void)state;
    static const char *const walls[] = {"2016-07-25 11:05:49", "1970-01-01 00:00:00",
                                        "2024-02-29 23:59:59", "0001-01-01 00:00:00",
                                        "9999-12-31 23:59:59"};
    for (size_t i = 0; i < sizeof walls / sizeof walls[0]; i++) {
        int64_t utc = 0, wib = 0, minus = 0;
        assert_true(dt_parse(walls[i], DT_LEN, 0, &utc));
        assert_true(dt_parse(walls[i], DT_LEN, WIB, &wib));
        assert_true(dt_parse(walls[i], DT_LEN, -(3 * 60 + 30), &minus));
        /* the same wall time at +07:00 is 7 h earlier in UTC */
        assert_int_equal(wib, utc - 7 * 3600);
        assert_int_equal(minus, utc + 3 * 3600 + 30 * 60);
    }
}

static void parse_real_dates(void **state)
{
    (void)state;
    static const char *const good[] = {
        "2024-02-29 00:00:00", "2000-02-29 12:00:00", "1600-02-29 00:00:00",
        "2026-01-31 23:59:59", "2026-04-30 00:00:00", "2026-12-31 23:59:59",
        "0001-01-01 00:00:00", "9999-12-31 23:59:59", "2026-02-28 00:00:00",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t t = 0;
        print_message("good \"%s\"\n", good[i]);
        assert_true(dt_parse(good[i], DT_LEN, WIB, &t));
    }
}

static void parse_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2023-02-29 00:00:00", /* not a leap year */
        "1900-02-29 00:00:00", /* century, not a leap year */
        "2100-02-29 00:00:00", "2026-02-30 00:00:00",  "2026-04-31 00:00:00",
        "2026-01-32 00:00:00", "2026-13-01 00:00:00",  "2026-00-10 00:00:00",
        "2026-01-00 00:00:00", "0000-01-01 00:00:00", /* years run 0001-9999 */
        "2026-01-01 24:00:00", "2026-01-01 23:60:00",  "2026-01-01 23:59:60",
        "2026/01/01 00:00:00", "2026-01-01T00:00:00",  "2026-01-01 00.00.00",
        "2026-01-01_00:00:00", "2026-01-01 00:00-00",  "2026:01:01 00-00-00",
        "+026-01-01 00:00:00", " 026-01-01 00:00:00",  "2026-0a-01 00:00:00",
        "2026-01-01 0a:00:00", "2026-01-01 00:00:0 ",  "2026-01-01 -1:00:00",
        "2026-1-01 00:00:00",  "2026-01-01 00:00:000", "2026-01-01 00:00:00Z",
        "26-01-01 00:00:00",   "2026-01-01",           "",
        "abcdefghijklmnopqrs",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 4242;
        print_message("bad \"%s\"\n", bad[i]);
        assert_false(dt_parse(bad[i], strlen(bad[i]), WIB, &t));
        assert_int_equal(t, 4242);
    }
    /* the length given is the length judged */
    int64_t t = 4242;
    assert_false(dt_parse("2026-01-01 00:00:00", 18, WIB, &t));
    assert_false(dt_parse("2026-01-01 00:00:00x", 20, WIB, &t));
    assert_true(dt_parse("2026-01-01 00:00:00x", 19, 0, &t));
    assert_int_equal(t, 1767225600);
}

static void format_parse_round_trip(void **state)
{
    (void)state;
    static const int offsets[] = {
        0, WIB, -WIB, 14 * 60, -14 * 60, 5 * 60 + 45, -(9 * 60 + 30), 8 * 60, 9 * 60};
    /* 0001-01-01 +14h .. 9999-12-31 -14h, stepping by an odd number of seconds */
    const int64_t lo = -62135596800LL + 14 * 3600;
    const int64_t hi = 253402300799LL - 14 * 3600;
    const int64_t step = 7777777 * 13 + 12345;
    int n = 0;
    for (int64_t t = lo; t <= hi; t += step) {
        for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
            char out[DT_LEN + 1];
            int64_t back = 0;
            dt_format(t, offsets[k], out);
            assert_int_equal(strlen(out), DT_LEN);
            assert_true(dt_parse(out, DT_LEN, offsets[k], &back));
            assert_int_equal(back, t);
            n++;
        }
    }
    assert_true(n > 10000);
    /* every second of a leap-day boundary and a year boundary */
    for (int64_t t = 1709164800 - 90000; t < 1709164800 + 90000; t += 61) {
        char out[DT_LEN + 1];
        int64_t back = 0;
        dt_format(t, WIB, out);
        assert_true(dt_parse(out, DT_LEN, WIB, &back));
        assert_int_equal(back, t);
    }
}

struct offset_case {
    const char *text;
    int minutes;
};

static void offsets_good(void **state)
{
    (void)state;
    static const struct offset_case good[] = {
        {"+07:00", 420},  {"-05:00", -300}, {"+00:00", 0},    {"-00:00", 0},   {"+14:00", 840},
        {"-14:00", -840}, {"+05:45", 345},  {"-09:30", -570}, {"+13:59", 839}, {"+00:01", 1},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int m = 9999;
        print_message("offset \"%s\"\n", good[i].text);
        assert_true(dt_parse_offset(good[i].text, &m));
        assert_int_equal(m, good[i].minutes);
    }
}

static void offsets_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",       "+",      "+0",    "+07",    "+07:",    "+07:0",   "+07:000", "07:00",
        "+7:00",  "+07-00", "+0700", "+0a:00", "+07:0a",  "+07:60",  "+14:01",  "+15:00",
        "-14:30", "+99:00", "Z",     "UTC",    " +07:00", "+07:00 ", "*07:00",  "++7:00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int m = 9999;
        print_message("bad offset \"%s\"\n", bad[i]);
        assert_false(dt_parse_offset(bad[i], &m));
        assert_int_equal(m, 9999);
    }
}

static void now_is_sane(void **state)
{
    (void)state;
    /* after 2024-01-01 and before 2100-01-01 */
    int64_t now = dt_now();
    assert_true(now > 1704067200);
    assert_true(now < 4102444800LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_known_answers), cmocka_unit_test(parse_known_answers),
        cmocka_unit_test(parse_offset_shifts),  cmocka_unit_test(parse_real_dates),
        cmocka_unit_test(parse_refuses),        cmocka_unit_test(format_parse_round_trip),
        cmocka_unit_test(offsets_good),         cmocka_unit_test(offsets_bad),
        cmocka_unit_test(now_is_sane),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
