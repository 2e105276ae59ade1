/* Unit tests for sig: the SPEC 1.2 known-answer vector and hex-case handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "sig.h"

static const char spec_vector[] =
    "af2b7782429988449308a401a169870dd6feb71310dd1e5ba8b386f16f79dfaf";

static void spec_example(void **state)
{
    (void)state;
    char out[SIG_HEX_LEN + 1];
    assert_true(sig_sendinvoice("UUID001", "2016-07-25 11:05:49", "SGWTES",
                                "7bc074f97c3131d2e290a4as", out));
    assert_string_equal(out, spec_vector);
}

static void key_case_does_not_matter(void **state)
{
    (void)state;
    char out[SIG_HEX_LEN + 1];
    assert_true(sig_sendinvoice("uuid001", "2016-07-25 11:05:49", "sgwtes",
                                "7BC074F97C3131D2E290A4AS", out));
    assert_string_equal(out, spec_vector);
}

static void other_mode_differs(void **state)
{
    (void)state;
    char out[SIG_HEX_LEN + 1];
    struct sig_part parts[] = {{"UUID001", 7},
                               {"2016-07-25 11:05:49", 19},
                               {"SGWTES", 6},
                               {"7bc074f97c3131d2e290a4as", 24}};
    assert_true(sig_compute(parts, 4, "SENDINVOICE", out));
    assert_string_equal(out, spec_vector);
    assert_true(sig_compute(parts, 4, "CHECKSTATUS", out));
    assert_string_not_equal(out, spec_vector);
}

static void equal_accepts_either_case(void **state)
{
    (void)state;
    char upper[SIG_HEX_LEN + 1];
    for (size_t i = 0; i < SIG_HEX_LEN; i++)
        upper[i] = (spec_vector[i] >= 'a' && spec_vector[i] <= 'f')
                       ? (char)(spec_vector[i] - 'a' + 'A')
                       : spec_vector[i];
    assert_true(sig_equal(spec_vector, SIG_HEX_LEN, spec_vector));
    assert_true(sig_equal(upper, SIG_HEX_LEN, spec_vector));
}

static void equal_refuses_other_values(void **state)
{
    (void)state;
    char other[SIG_HEX_LEN + 1];
    memcpy(other, spec_vector, sizeof other);
    other[SIG_HEX_LEN - 1] = '0';
    assert_false(sig_equal(other, SIG_HEX_LEN, spec_vector));
    assert_false(sig_equal(spec_vector, SIG_HEX_LEN - 1, spec_vector));
    /* 'G' must not be folded into a hex digit */
    other[0] = 'G';
    assert_false(sig_equal(other, SIG_HEX_LEN, spec_vector));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_example),
        cmocka_unit_test(key_case_does_not_matter),
        cmocka_unit_test(other_mode_differs),
        cmocka_unit_test(equal_accepts_either_case),
        cmocka_unit_test(equal_refuses_other_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
