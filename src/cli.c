/*
 * cli: helpers shared by the vabill commands.  See cli.h.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool cli_name_valid(const char *s, size_t max, const char *also)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr(also, c)))
            return false;
    }
    return true;
}

int cli_check_key(const char *key)
{
    if (key == NULL || *key == '\0')
        return cli_fail(EXIT_USAGE, "--key KEY is needed");
    size_t n = strlen(key);
    if (n > LIMIT_KEY)
        return cli_fail(EXIT_FAIL, "--key must be at most %d characters", LIMIT_KEY);
    for (size_t i = 0; i < n; i++)
        if (key[i] <= 0x20 || key[i] > 0x7e)
            return cli_fail(EXIT_FAIL, "--key must be printable ASCII without blanks");
    return 0;
}

int cli_open_store(const struct global *g, struct store **out)
{
    char why[512] = "";
    enum vb_err e = store_open(store_default_url(g->db), out, why, sizeof why);
    if (e)
        return cli_fail(EXIT_FAIL, "cannot open the store: %s", why[0] ? why : err_str(e));
    return 0;
}
