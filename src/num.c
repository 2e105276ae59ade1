/*
 * num: bounded number parsing.  See num.h.
 */
#include "num.h"

#include <errno.h>
#include <stdlib.h>

bool num_parse_long(const char *s, long lo, long hi, long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}
