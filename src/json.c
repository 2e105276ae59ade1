/*
 * json: validation by jansson, spans by jsmn.  See json.h.
 *
 * Untrusted text enters here.  jansson is the gatekeeper: nothing reaches
 * jsmn unless jansson accepted the whole text, so jsmn's leniency (it does
 * not check every comma) never decides anything.
 */
#include "json.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
/* parent links: without them jsmn walks back over every earlier token to
 * find the enclosing object at each comma, quadratic in a 500-invoice batch */
#define JSMN_PARENT_LINKS
#include <jsmn.h>

void json_global_init(void)
{
    json_object_seed(0);
}

/*
 * jansson refuses the escape \u0000 in object keys (its keys are C strings)
 * though JSON allows it.  For validation only, a copy with every \u0000
 * escape turned into \u0001 is checked instead: the grammar is the same.
 */
static char *without_nul_escapes(const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, text, len);
    for (size_t i = 0; i + 1 < len; i++) {
        if (copy[i] != '\\')
            continue;
        if (copy[i + 1] == 'u' && len - i >= 6 && memcmp(copy + i + 2, "0000", 4) == 0)
            copy[i + 5] = '1';
        i++; /* the escaped character is never the start of an escape */
    }
    return copy;
}

static enum vb_err validate(const char *text, size_t len)
{
    char *copy = NULL;
    if (memmem(text, len, "\\u0000", 6) != NULL) {
        copy = without_nul_escapes(text, len);
        if (copy == NULL)
            return ERR_NOMEM;
        text = copy;
    }
    /* integers as reals: an integer beyond 64 bits is still JSON (the field
     * rules refuse it); only numbers beyond the double range are refused */
    json_error_t jerr;
    json_t *v =
        json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    free(copy);
    if (v == NULL)
        return ERR_INVALID;
    json_decref(v);
    return ERR_OK;
}

/* A document that is one number, true, false or null: jsmn in strict mode
 * wants a delimiter after a primitive, so such a document is one token made
 * here (jansson has already checked it). */
static enum vb_err single_primitive(struct json_doc *d, const char *text, size_t len, size_t at)
{
    size_t end = len;
    while (end > at && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\n' ||
                        text[end - 1] == '\r'))
        end--;
    struct json_tok *t = malloc(sizeof *t);
    if (t == NULL)
        return ERR_NOMEM;
    char c = text[at];
    t->type = c == 't'   ? JSON_T_TRUE
              : c == 'f' ? JSON_T_FALSE
              : c == 'n' ? JSON_T_NULL
                         : JSON_T_NUMBER;
    t->start = (int)at;
    t->end = (int)end;
    t->size = 0;
    d->text = text;
    d->len = len;
    d->tok = t;
    d->ntok = 1;
    return ERR_OK;
}

enum vb_err json_doc_parse(struct json_doc *d, const char *text, size_t len)
{
    memset(d, 0, sizeof *d);
    if (len > INT32_MAX)
        return ERR_TOOBIG;
    enum vb_err rc = validate(text, len);
    if (rc)
        return rc;
    size_t at = 0;
    while (at < len &&
           (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r'))
        at++;
    if (at < len && text[at] != '{' && text[at] != '[' && text[at] != '"')
        return single_primitive(d, text, len, at);
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, text, len, NULL, 0);
    if (n <= 0)
        return ERR_INVALID;
    jsmntok_t *t = malloc(sizeof *t * (size_t)n);
    struct json_tok *out = malloc(sizeof *out * (size_t)n);
    if (t == NULL || out == NULL) {
        free(t);
        free(out);
        return ERR_NOMEM;
    }
    jsmn_init(&p);
    int got = jsmn_parse(&p, text, len, t, (unsigned)n);
    if (got != n) {
        free(t);
        free(out);
        return ERR_INVALID;
    }
    for (int i = 0; i < n; i++) {
        out[i].start = t[i].start;
        out[i].end = t[i].end;
        out[i].size = t[i].size;
        switch (t[i].type) {
        case JSMN_OBJECT:
            out[i].type = JSON_T_OBJECT;
            break;
        case JSMN_ARRAY:
            out[i].type = JSON_T_ARRAY;
            break;
        case JSMN_STRING:
            out[i].type = JSON_T_STRING;
            break;
        default: {
            char c = text[t[i].start];
            out[i].type = c == 't'   ? JSON_T_TRUE
                          : c == 'f' ? JSON_T_FALSE
                          : c == 'n' ? JSON_T_NULL
                                     : JSON_T_NUMBER;
        }
        }
    }
    free(t);
    d->text = text;
    d->len = len;
    d->tok = out;
    d->ntok = n;
    return ERR_OK;
}

void json_doc_free(struct json_doc *d)
{
    free(d->tok);
    memset(d, 0, sizeof *d);
}

int json_next(const struct json_doc *d, int i)
{
    /* every token owes `size` children; keys own their value (size 1) */
    int pending = 1;
    while (pending > 0 && i < d->ntok) {
        pending += d->tok[i].size - 1;
        i++;
    }
    return i;
}

int json_member(const struct json_doc *d, int obj, const char *name)
{
    if (obj < 0 || obj >= d->ntok || d->tok[obj].type != JSON_T_OBJECT)
        return -1;
    int found = -1;
    int i = obj + 1;
    size_t n = strlen(name);
    for (int m = 0; m < d->tok[obj].size; m++) {
        if (json_str_eq(d, i, name, n))
            found = i + 1;
        i = json_next(d, i + 1);
    }
    return found;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

static unsigned read_u4(const char *s)
{
    return (unsigned)(hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]));
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t json_str_decode(const struct json_doc *d, int i, char *out)
{
    const char *s = d->text + d->tok[i].start;
    size_t n = (size_t)(d->tok[i].end - d->tok[i].start);
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] != '\\') {
            out[o++] = s[k];
            continue;
        }
        /* jansson has checked every escape, so each is complete */
        char e = s[++k];
        switch (e) {
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'u': {
            unsigned cp = read_u4(s + k + 1);
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && k + 6 < n + 1 && s[k + 1] == '\\' &&
                s[k + 2] == 'u') {
                unsigned lo = read_u4(s + k + 3);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                k += 6;
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: /* " \ / */
            out[o++] = e;
        }
    }
    return o;
}

bool json_str_eq(const struct json_doc *d, int i, const char *name, size_t n)
{
    const struct json_tok *t = &d->tok[i];
    size_t len = (size_t)(t->end - t->start);
    const char *s = d->text + t->start;
    if (memchr(s, '\\', len) == NULL)
        return len == n && memcmp(s, name, n) == 0;
    if (len > 512)
        return false; /* no name vabill looks for is that long */
    char tmp[512];
    size_t m = json_str_decode(d, i, tmp);
    return m == n && memcmp(tmp, name, n) == 0;
}

/* Appends v in decimal followed by the tag character (cheaper than printf
 * on this path: it runs for every value of every invoice). */
static enum vb_err add_count(struct buf *out, char tag, size_t v, char end)
{
    char tmp[24];
    size_t n = sizeof tmp;
    tmp[--n] = end;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tmp[--n] = tag;
    return buf_add(out, tmp + n, sizeof tmp - n);
}

static enum vb_err canon_str(const struct json_doc *d, int i, struct buf *out)
{
    size_t span = (size_t)(d->tok[i].end - d->tok[i].start);
    char stackbuf[256];
    char *tmp = span <= sizeof stackbuf ? stackbuf : malloc(span);
    if (tmp == NULL)
        return ERR_NOMEM;
    size_t n = json_str_decode(d, i, tmp);
    enum vb_err rc = add_count(out, 's', n, ':');
    if (!rc)
        rc = buf_add(out, tmp, n);
    if (tmp != stackbuf)
        free(tmp);
    return rc;
}

/* A member's encoding inside the buffer, while an object is sorted. */
struct span {
    size_t off, len;
};

static int span_cmp(const void *a, const void *b, void *base)
{
    const struct span *x = a, *y = b;
    const char *p = base;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(p + x->off, p + y->off, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static enum vb_err canon(const struct json_doc *d, int *i, bool sort, struct buf *out);

/*
 * An object's members, each encoded as key then value.  Sorted, they are
 * ordered by their encodings as bytes: any fixed order of the members will
 * do, as long as it does not depend on the order they were written in.
 */
static enum vb_err canon_members(const struct json_doc *d, int *i, int n, bool sort,
                                 struct buf *out)
{
    enum vb_err rc = ERR_OK;
    if (!sort) {
        for (int k = 0; k < n && !rc; k++) {
            rc = canon_str(d, *i, out);
            (*i)++;
            if (!rc)
                rc = canon(d, i, true, out);
        }
        return rc;
    }
    struct span small[16];
    struct span *sp = n <= 16 ? small : malloc(sizeof *sp * (size_t)n);
    if (sp == NULL)
        return ERR_NOMEM;
    size_t start = out->len;
    for (int k = 0; k < n && !rc; k++) {
        sp[k].off = out->len - start;
        rc = canon_str(d, *i, out);
        (*i)++;
        if (!rc)
            rc = canon(d, i, true, out);
        sp[k].len = out->len - start - sp[k].off;
    }
    size_t total = out->len - start;
    char *sorted = rc ? NULL : malloc(total ? total : 1);
    if (!rc && sorted == NULL)
        rc = ERR_NOMEM;
    if (!rc) {
        qsort_r(sp, (size_t)n, sizeof *sp, span_cmp, out->p + start);
        size_t at = 0;
        for (int k = 0; k < n; k++) {
            memcpy(sorted + at, out->p + start + sp[k].off, sp[k].len);
            at += sp[k].len;
        }
        memcpy(out->p + start, sorted, total);
    }
    free(sorted);
    if (sp != small)
        free(sp);
    return rc;
}

static enum vb_err canon(const struct json_doc *d, int *i, bool sort, struct buf *out)
{
    const struct json_tok *t = &d->tok[*i];
    enum vb_err rc = ERR_OK;
    switch (t->type) {
    case JSON_T_STRING:
        rc = canon_str(d, *i, out);
        (*i)++;
        return rc;
    case JSON_T_NUMBER:
        rc = add_count(out, 'n', (size_t)(t->end - t->start), ':');
        if (!rc)
            rc = buf_add(out, d->text + t->start, (size_t)(t->end - t->start));
        (*i)++;
        return rc;
    case JSON_T_TRUE:
    case JSON_T_FALSE:
    case JSON_T_NULL:
        (*i)++;
        return buf_addc(out, t->type == JSON_T_TRUE ? 't' : t->type == JSON_T_FALSE ? 'f' : 'z');
    case JSON_T_ARRAY: {
        int n = t->size;
        (*i)++;
        rc = add_count(out, '[', (size_t)n, ';');
        for (int k = 0; k < n && !rc; k++)
            rc = canon(d, i, true, out);
        return rc ? rc : buf_addc(out, ']');
    }
    case JSON_T_OBJECT:
        break;
    }
    int n = t->size;
    (*i)++;
    rc = add_count(out, '{', (size_t)n, ';');
    if (!rc)
        rc = canon_members(d, i, n, sort, out);
    return rc ? rc : buf_addc(out, '}');
}

enum vb_err json_canon(const struct json_doc *d, int i, bool sort_top, struct buf *out)
{
    int at = i;
    return canon(d, &at, sort_top, out);
}

long json_utf8_chars(const char *s, size_t n)
{
    long chars = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; chars++) {
        unsigned c = u[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (i + len > n)
            return -1;
        for (size_t k = 1; k < len; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return -1;
            cp = cp << 6 | (u[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return -1;
        i += len;
    }
    return chars;
}
