/* token: fresh random tokens, their hashes, constant-time comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "token.h"

static void new_tokens_have_prefix_hex_and_differ(void **state)
{
    (void)state;
    char a[TOKEN_MAX], b[TOKEN_MAX];
    assert_true(token_new(TOKEN_OPERATOR_PREFIX, a));
    assert_true(token_new(TOKEN_OPERATOR_PREFIX, b));
    assert_int_equal(strlen(a), 4 + 2 * LIMIT_TOKEN_BYTES);
    assert_memory_equal(a, "vbo_", 4);
    assert_int_equal(strspn(a + 4, "0123456789abcdef"), 2 * LIMIT_TOKEN_BYTES);
    assert_string_not_equal(a, b);
    assert_true(token_new("", a));
    assert_int_equal(strlen(a), 2 * LIMIT_TOKEN_BYTES);
    assert_false(token_new("12345678", a));
}

static void hash_is_sha256_of_the_bytes(void **state)
{
    (void)state;
    unsigned char h[STORE_HASH_LEN];
    token_hash("abc", 3, h);
    /* FIPS 180-2 example: SHA-256("abc") */
    static const unsigned char want[STORE_HASH_LEN] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    assert_memory_equal(h, want, sizeof want);
}

static void equal_compares_length_and_bytes(void **state)
{
    (void)state;
    assert_true(token_equal("abc", 3, "abc", 3));
    assert_false(token_equal("abc", 3, "abd", 3));
    assert_false(token_equal("abc", 3, "abcd", 4));
    assert_true(token_equal("", 0, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_tokens_have_prefix_hex_and_differ),
        cmocka_unit_test(hash_is_sha256_of_the_bytes),
        cmocka_unit_test(equal_compares_length_and_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
