/*
 * money: exact amounts in integer hundredths (SPEC 1.3).
 *
 * Accepted text: digits, optionally a point and one or two more digits; no
 * sign, no exponent, no third decimal; at most 999999999999999.99.  The same
 * rule serves JSON numbers (their source text) and strings.  No floating
 * point anywhere.
 */
#ifndef VABILL_MONEY_H
#define VABILL_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses s[0..n) into hundredths.  Returns false (and leaves *out alone)
 * when the text breaks the rule above. */
bool money_parse(const char *s, size_t n, int64_t *out);

/* Writes hundredths as "1234.50" into out (at least 24 bytes). */
void money_format(int64_t hundredths, char out[24]);

#endif
