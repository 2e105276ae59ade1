/*
 * buf: growable byte buffer with a hard maximum.  See buf.h.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *err_str(enum vb_err e)
{
    switch (e) {
    case ERR_OK:
        return "ok";
    case ERR_NOMEM:
        return "out of memory";
    case ERR_INVALID:
        return "invalid value";
    case ERR_TOOBIG:
        return "too large";
    case ERR_NOTFOUND:
        return "not found";
    case ERR_EXISTS:
        return "already exists";
    case ERR_COLLIDE:
        return "VA prefix collides with another community on the same bank";
    case ERR_BUSY:
        return "store busy";
    case ERR_STORE:
        return "store failure";
    }
    return "unknown error";
}

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->failed = ERR_OK;
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = ERR_OK;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->failed = ERR_OK;
    if (b->p)
        b->p[0] = '\0';
}

static enum vb_err fail(struct buf *b, enum vb_err e)
{
    if (b->failed == ERR_OK)
        b->failed = e;
    return e;
}

enum vb_err buf_reserve(struct buf *b, size_t n)
{
    if (b->failed)
        return b->failed;
    if (n > b->max || b->len > b->max - n)
        return fail(b, ERR_TOOBIG);
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return ERR_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return fail(b, ERR_NOMEM);
    b->p = p;
    b->cap = cap;
    return ERR_OK;
}

enum vb_err buf_add(struct buf *b, const void *p, size_t n)
{
    enum vb_err rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return ERR_OK;
}

enum vb_err buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

enum vb_err buf_addc(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

enum vb_err buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, ERR_INVALID);
    enum vb_err rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ERR_OK;
}

enum vb_err buf_add_json_str(struct buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* worst case every byte becomes \u00XX */
    if (n > (b->max / 6) + 2) {
        enum vb_err rc = buf_reserve(b, n + 2);
        if (rc)
            return rc;
    } else {
        enum vb_err rc = buf_reserve(b, n * 6 + 2);
        if (rc)
            return rc;
    }
    buf_addc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_add(b, p + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        switch (c) {
        case '"':
            buf_add(b, "\\\"", 2);
            break;
        case '\\':
            buf_add(b, "\\\\", 2);
            break;
        case '\n':
            buf_add(b, "\\n", 2);
            break;
        case '\r':
            buf_add(b, "\\r", 2);
            break;
        case '\t':
            buf_add(b, "\\t", 2);
            break;
        default:
            buf_add(b, esc, 6);
        }
    }
    buf_add(b, p + run, n - run);
    return buf_addc(b, '"');
}

enum vb_err buf_add_money(struct buf *b, int64_t h)
{
    if (h < 0)
        return buf_printf(b, "-%lld.%02lld", (long long)(-h / 100), (long long)(-h % 100));
    return buf_printf(b, "%lld.%02lld", (long long)(h / 100), (long long)(h % 100));
}

char *buf_steal(struct buf *b, size_t *len)
{
    char *p = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
