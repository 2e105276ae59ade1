/*
 * num: whole numbers from command-line text, checked against a range.
 * Shared by vabilld's options, vabill's commands and the send client.
 */
#ifndef VABILL_NUM_H
#define VABILL_NUM_H

#include <stdbool.h>

/* Parses s as a whole decimal number in [lo, hi]; false (and *out left
 * alone) for anything else: empty, trailing text, out of range. */
bool num_parse_long(const char *s, long lo, long hi, long *out);

#endif
