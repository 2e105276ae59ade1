/*
 * form: bounded decoder and encoder for form-urlencoded text.  See form.h.
 */
#include "form.h"

#include <string.h>

#include "buf.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into out; returns the decoded length or -1. */
static long decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            if (n - i < 3)
                return -1;
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return (long)o;
}

enum vb_err form_decode(const char *body, size_t n, const char *const *names, size_t nnames,
                        char *arena, struct form_value *vals)
{
    for (size_t k = 0; k < nnames; k++) {
        vals[k].p = NULL;
        vals[k].n = 0;
        vals[k].count = 0;
    }
    size_t used = 0;
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(body + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - body) : n;
        const char *eq = memchr(body + i, '=', end - i);
        size_t name_end = eq ? (size_t)(eq - body) : end;
        char *name = arena + used;
        long name_len = decode(body + i, name_end - i, name);
        if (name_len < 0)
            return ERR_INVALID;
        size_t k = 0;
        while (k < nnames && !(strlen(names[k]) == (size_t)name_len &&
                               memcmp(names[k], name, (size_t)name_len) == 0))
            k++;
        const char *vs = eq ? eq + 1 : body + end;
        size_t vn = (size_t)(body + end - vs);
        if (k < nnames && vals[k].count++ == 0) {
            char *val = arena + used;
            long val_len = decode(vs, vn, val);
            if (val_len < 0)
                return ERR_INVALID;
            vals[k].p = val;
            vals[k].n = (size_t)val_len;
            used += (size_t)val_len;
        } else {
            /* still check the escapes of fields we do not keep */
            for (size_t j = 0; j < vn; j++)
                if (vs[j] == '%') {
                    if (vn - j < 3 || hexval(vs[j + 1]) < 0 || hexval(vs[j + 2]) < 0)
                        return ERR_INVALID;
                    j += 2;
                }
        }
        i = end + 1;
    }
    return ERR_OK;
}

enum vb_err form_append(struct buf *out, const char *name, const char *value, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (out->len)
        buf_addc(out, '&');
    buf_adds(out, name);
    buf_addc(out, '=');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            buf_addc(out, (char)c);
        } else if (c == ' ') {
            buf_addc(out, '+');
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_add(out, e, 3);
        }
    }
    return out->failed;
}
