/*
 * json_ref: the json_doc_parse vabill had until the single-pass parser
 * (commit d21d886, src/json.c): jansson validates the whole text, then jsmn
 * cuts it into tokens; and the json_str_decode of then, a byte at a time.
 * Kept verbatim, for fuzz_json_diff only, as the
 * reference the new parser is held to; never linked into vabill itself.
 */
#include "json_ref.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

void json_ref_init(void)
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

enum vb_err json_ref_parse(struct json_doc *d, const char *text, size_t len)
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

size_t json_ref_str_decode(const struct json_doc *d, int i, char *out)
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
