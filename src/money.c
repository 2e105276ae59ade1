/*
 * money: parse and format exact amounts in hundredths.  See money.h.
 */
#include "money.h"

#include <stdio.h>

#include "limits.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool money_parse(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    while (i < n && is_digit(s[i]))
        i++;
    size_t int_end = i;
    if (int_end == 0)
        return false;
    size_t frac_digits = 0;
    if (i < n) {
        if (s[i] != '.')
            return false;
        i++;
        while (i < n && is_digit(s[i]))
            i++;
        frac_digits = i - int_end - 1;
        if (i != n || frac_digits < 1 || frac_digits > 2)
            return false;
    }
    /* leading zeros do not count towards the 15 integer digits */
    size_t lead = 0;
    while (lead + 1 < int_end && s[lead] == '0')
        lead++;
    if (int_end - lead > LIMIT_MONEY_INT_DIGITS)
        return false;
    int64_t v = 0;
    for (size_t k = lead; k < int_end; k++)
        v = v * 10 + (s[k] - '0');
    v *= 100;
    if (frac_digits >= 1)
        v += (s[int_end + 1] - '0') * 10;
    if (frac_digits == 2)
        v += s[int_end + 2] - '0';
    if (v > LIMIT_MONEY_HUNDREDTHS)
        return false;
    *out = v;
    return true;
}

void money_format(int64_t h, char out[24])
{
    if (h < 0)
        snprintf(out, 24, "-%lld.%02lld", (long long)(-h / 100), (long long)(-h % 100));
    else
        snprintf(out, 24, "%lld.%02lld", (long long)(h / 100), (long long)(h % 100));
}
