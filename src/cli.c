/*
 * cli: helpers shared by the vabill commands.  See cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vabill: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

bool cli_parse_long(const char *s, long lo, long hi, long *out)
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

int cli_open_store(const struct global *g, struct store **out)
{
    char why[512] = "";
    enum vb_err e = store_open(store_default_url(g->db), out, why, sizeof why);
    if (e)
        return cli_fail(EXIT_FAIL, "cannot open the store: %s", why[0] ? why : err_str(e));
    return 0;
}
