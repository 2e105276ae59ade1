/*
 * va: VA number construction and checking.  See va.h.
 */
#include "va.h"

#include <string.h>

int va_luhn_digit(const char *digits, size_t n)
{
    int sum = 0;
    bool dbl = true; /* the digit left of the check digit is doubled */
    for (size_t i = n; i-- > 0;) {
        int d = digits[i] - '0';
        if (dbl) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
        dbl = !dbl;
    }
    return (10 - sum % 10) % 10;
}

bool va_luhn_valid(const char *s, size_t n)
{
    if (n < 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return va_luhn_digit(s, n - 1) == s[n - 1] - '0';
}

int va_channel_width(int va_length, size_t prefix_len)
{
    return va_length - (int)prefix_len - 1;
}

int64_t va_max_serial(int width)
{
    if (width < 1)
        return 0;
    /* a 64-bit serial never exceeds 18 digits, however wide the field */
    if (width > 18)
        width = 18;
    int64_t m = 1;
    for (int i = 0; i < width; i++)
        m *= 10;
    return m - 1;
}

bool va_format(const char *prefix, int va_length, int64_t serial, char out[VA_MAX])
{
    size_t plen = strlen(prefix);
    int width = va_channel_width(va_length, plen);
    if (va_length > LIMIT_VA_LENGTH_MAX || serial < 1 || serial > va_max_serial(width))
        return false;
    memcpy(out, prefix, plen);
    char *d = out + plen + (size_t)width;
    for (int64_t v = serial; d > out + plen; v /= 10)
        *--d = (char)('0' + v % 10);
    size_t body = plen + (size_t)width;
    out[body] = (char)('0' + va_luhn_digit(out, body));
    out[body + 1] = '\0';
    return true;
}

bool va_parse(const char *prefix, int va_length, const char *va, size_t n, int64_t *serial)
{
    size_t plen = strlen(prefix);
    int width = va_channel_width(va_length, plen);
    if (va_length < 0 || n != (size_t)va_length || width < 1 || memcmp(va, prefix, plen) != 0)
        return false;
    int64_t v = 0, max = va_max_serial(width);
    for (size_t i = plen; i < plen + (size_t)width; i++) {
        if (va[i] < '0' || va[i] > '9')
            return false;
        int d = va[i] - '0';
        if (v > (max - d) / 10) /* v * 10 + d > max, without overflowing */
            return false;
        v = v * 10 + d;
    }
    char again[VA_MAX];
    if (!va_format(prefix, va_length, v, again) || memcmp(again, va, n) != 0)
        return false;
    *serial = v;
    return true;
}

static bool all_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool va_bank_code_valid(const char *s)
{
    return all_digits(s, LIMIT_BANK_CODE, LIMIT_BANK_CODE);
}

bool va_prefix_valid(const char *s)
{
    return all_digits(s, 1, LIMIT_PREFIX);
}
