/*
 * fuzz_form: form_decode on arbitrary bodies, with the request field names.
 *
 * Checks, besides ASan and UBSan: the arena is exactly n bytes (ASan sees a
 * write past it); every kept value lies inside the arena; and the result
 * agrees with an independent, deliberately naive decoder written here from
 * form.h's contract (split on '&', then on the first '=', decode `+` and
 * `%XX`; a `%` without two hex digits anywhere makes the body invalid; the
 * first occurrence of a name is kept, every occurrence is counted).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into out (room for n); -1 on a bad escape. */
static long ref_decode(const char *s, size_t n, char *out)
{
    long o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            if (hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
                return -1;
            out[o++] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    return o;
}

struct ref_value {
    char *p;
    long n;
    int count;
};

/* The naive decoder: 0 on success, -1 when the body is invalid. */
static int ref_form(const char *body, size_t n, struct ref_value *vals)
{
    char *name = malloc(n + 1);
    if (name == NULL)
        abort();
    int rc = 0;
    size_t start = 0;
    while (start < n) {
        size_t end = start;
        while (end < n && body[end] != '&')
            end++;
        size_t eq = start;
        while (eq < end && body[eq] != '=')
            eq++;
        long nl = ref_decode(body + start, eq - start, name);
        const char *v = eq < end ? body + eq + 1 : body + end;
        size_t vn = (size_t)(body + end - v);
        long vl = ref_decode(v, vn, name + (nl < 0 ? 0 : nl));
        if (nl < 0 || vl < 0) {
            rc = -1;
            break;
        }
        for (int k = 0; k < RQ_NFIELDS; k++) {
            if ((size_t)nl != strlen(rq_field_names[k]) ||
                memcmp(name, rq_field_names[k], (size_t)nl) != 0)
                continue;
            if (vals[k].count++ == 0) {
                vals[k].p = malloc((size_t)vl + 1);
                if (vals[k].p == NULL)
                    abort();
                memcpy(vals[k].p, name + nl, (size_t)vl);
                vals[k].n = vl;
            }
        }
        start = end + 1;
    }
    free(name);
    return rc;
}

static void finding(const char *what, int k)
{
    fprintf(stderr, "fuzz_form finding: %s (field %s)\n", what, k >= 0 ? rq_field_names[k] : "-");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char *arena = malloc(size ? size : 1);
    if (arena == NULL)
        return 0;
    struct form_value vals[RQ_NFIELDS];
    enum vb_err e = form_decode(body, size, rq_field_names, RQ_NFIELDS, arena, vals);

    struct ref_value ref[RQ_NFIELDS];
    memset(ref, 0, sizeof ref);
    int rc = ref_form(body, size, ref);

    if ((e == ERR_OK) != (rc == 0))
        finding(e == ERR_OK ? "accepted a body with a bad escape" : "refused a valid body", -1);
    if (e == ERR_OK) {
        for (int k = 0; k < RQ_NFIELDS; k++) {
            const struct form_value *v = &vals[k];
            if (v->count != ref[k].count)
                finding("occurrence count differs", k);
            if (v->count == 0)
                continue;
            if (v->n > size)
                finding("value longer than the body", k);
            if (v->n > 0 && (v->p < arena || v->p + v->n > arena + size))
                finding("value outside the arena", k);
            if ((long)v->n != ref[k].n || (v->n && memcmp(v->p, ref[k].p, v->n) != 0))
                finding("decoded value differs", k);
        }
    }
    for (int k = 0; k < RQ_NFIELDS; k++)
        free(ref[k].p);
    free(arena);
    return 0;
}
