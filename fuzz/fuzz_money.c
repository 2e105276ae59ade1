/*
 * fuzz_money: money_parse on arbitrary text.
 *
 * Checks, besides ASan and UBSan, against an independent reading of the
 * grammar in money.h (digits, optionally a point and one or two digits, at
 * most 15 integer digits once leading zeros are dropped):
 *   - money_parse accepts exactly the texts the grammar accepts;
 *   - an accepted value equals the one computed here and lies in
 *     0..LIMIT_MONEY_HUNDREDTHS;
 *   - money_format of it parses back to the same value and is the
 *     canonical spelling of the input (no leading zeros, two decimals);
 *   - a refused text leaves the output untouched.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finding(const char *what, const char *s, size_t n)
{
    fprintf(stderr, "fuzz_money finding: %s: \"%.*s\"\n", what, (int)(n < 200 ? n : 200), s);
    abort();
}

/* The grammar, read independently: true with the value when s is money. */
static bool reference(const char *s, size_t n, int64_t *value)
{
    size_t point = n;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' && point == n)
            point = i;
        else if (s[i] < '0' || s[i] > '9')
            return false;
    }
    size_t frac = point == n ? 0 : n - point - 1;
    if (point == 0 || (point < n && (frac < 1 || frac > 2)))
        return false;
    size_t first = 0;
    while (first < point && s[first] == '0')
        first++;
    if (point - first > LIMIT_MONEY_INT_DIGITS)
        return false;
    int64_t v = 0;
    for (size_t i = first; i < point; i++)
        v = v * 10 + (s[i] - '0');
    int64_t cents = 0;
    if (frac >= 1)
        cents = (s[point + 1] - '0') * 10;
    if (frac == 2)
        cents += s[point + 2] - '0';
    *value = v * 100 + cents;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const int64_t untouched = -42;
    int64_t got = untouched, want = 0;
    bool ok = money_parse(s, size, &got);
    bool ref = reference(s, size, &want);
    if (ok != ref)
        finding(ok ? "accepted text outside the grammar" : "refused money", s, size);
    if (!ok) {
        if (got != untouched)
            finding("wrote the output on failure", s, size);
        return 0;
    }
    if (got != want)
        finding("value differs from the reference", s, size);
    if (got < 0 || got > LIMIT_MONEY_HUNDREDTHS)
        finding("value out of limits", s, size);

    char text[24];
    money_format(got, text);
    int64_t again = untouched;
    if (!money_parse(text, strlen(text), &again) || again != got)
        finding("format does not parse back", s, size);
    char canon[64];
    snprintf(canon, sizeof canon, "%lld.%02lld", (long long)(want / 100), (long long)(want % 100));
    if (strcmp(canon, text) != 0)
        finding("format is not the canonical spelling", s, size);
    return 0;
}
