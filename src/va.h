/*
 * va: virtual-account numbers (SPEC 2).
 *
 *     va_number = prefix + serial (zero-padded) + Luhn check digit
 *
 * Every VA number of a community is exactly its VA length long: a channel's
 * serial is padded to va_length - len(prefix) - 1 digits, and the community's
 * serial limit comes from its narrowest channel (va_serial_width).
 */
#ifndef VABILL_VA_H
#define VABILL_VA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define VA_MAX (LIMIT_VA_LENGTH_MAX + 1)

/* The Luhn (mod 10) check digit of digits[0..n), as a value 0..9. */
int va_luhn_digit(const char *digits, size_t n);

/* True when the last digit of s[0..n) is the Luhn check digit of the rest
 * and every byte is a digit (n >= 2). */
bool va_luhn_valid(const char *s, size_t n);

/* Serial digits of one channel: va_length - prefix_len - 1 (may be <= 0). */
int va_channel_width(int va_length, size_t prefix_len);

/* The largest serial that fits width digits (capped at 18 digits: serials
 * are 64-bit), or 0 when width < 1. */
int64_t va_max_serial(int width);

/* Builds prefix + serial padded + check digit into out (VA_MAX bytes,
 * NUL-terminated).  Returns false when the serial does not fit. */
bool va_format(const char *prefix, int va_length, int64_t serial, char out[VA_MAX]);

/* The serial of a channel's VA number: true, with *serial set, when
 * va[0..n) is exactly va_format(prefix, va_length, *serial): the length,
 * the prefix, the zero-padded digits and the check digit.  A VA number is a
 * function of its channel and serial, so this inverts it. */
bool va_parse(const char *prefix, int va_length, const char *va, size_t n, int64_t *serial);

/* Rules for the parts of a bank channel. */
bool va_bank_code_valid(const char *s);
bool va_prefix_valid(const char *s);

#endif
