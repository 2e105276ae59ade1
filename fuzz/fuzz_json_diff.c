/*
 * fuzz_json_diff: arbitrary bytes to json_doc_parse (the single pass of
 * src/json.c) and to json_ref_parse (the jansson + jsmn pair it replaced,
 * fuzz/json_ref.c), which must agree: the same result, and on success the
 * same tokens (type, span, size), one by one.
 *
 * One disagreement is allowed, and only in this exact shape: the old pair
 * accepted a lone number, true, false or null followed by one raw NUL byte
 * (jansson drops a NUL it reads back after a scalar, and the old code took
 * the NUL into the token's span); the new parser refuses it, as RFC 8259
 * does.  Every caller refuses a top-level scalar as it refuses invalid JSON,
 * so no answer changes (docs/FUZZING.md).
 *
 * Checks on the new parser's tokens besides: every span lies inside the
 * text, json_next of the first token is the end, and every string decodes
 * (json_str_decode) to valid UTF-8 no longer than its span, and to the same
 * bytes as the old byte-at-a-time decoder (json_ref_str_decode).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const type_name[] = {"object", "array", "string", "number",
                                        "true",   "false", "null"};

static void dump_tok(const char *who, const struct json_doc *d, int i)
{
    const struct json_tok *t = &d->tok[i];
    fprintf(stderr, "  %s tok %d: %s [%d, %d) size %d\n", who, i,
            (unsigned)t->type < 7 ? type_name[t->type] : "?", t->start, t->end, t->size);
}

static void finding(const char *what, const char *text, size_t n, enum vb_err rc_new,
                    enum vb_err rc_old)
{
    fprintf(stderr, "fuzz_json_diff finding: %s (new %d, old %d), input %zu bytes: \"", what,
            (int)rc_new, (int)rc_old, n);
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\"\n", n > 200 ? "..." : "");
    abort();
}

/* The one known difference: the old pair's " 1\0 " (see the top). */
static bool old_scalar_nul(const struct json_doc *old, const char *text)
{
    if (old->ntok != 1 || old->tok[0].type == JSON_T_OBJECT || old->tok[0].type == JSON_T_ARRAY ||
        old->tok[0].type == JSON_T_STRING)
        return false;
    return old->tok[0].end > old->tok[0].start && text[old->tok[0].end - 1] == '\0';
}

static void check_new_tokens(const struct json_doc *d, const char *text, size_t n)
{
    if (json_next(d, 0) != d->ntok)
        finding("json_next(0) is not the end", text, n, ERR_OK, ERR_OK);
    char *out = malloc(n ? n : 1);
    char *ref = malloc(n ? n : 1);
    if (out == NULL || ref == NULL)
        abort();
    for (int i = 0; i < d->ntok; i++) {
        const struct json_tok *t = &d->tok[i];
        if (t->start < 0 || t->end < t->start || (size_t)t->end > n)
            finding("a span outside the text", text, n, ERR_OK, ERR_OK);
        if (t->type != JSON_T_STRING)
            continue;
        size_t m = json_str_decode(d, i, out);
        if (m > (size_t)(t->end - t->start) || json_utf8_chars(out, m) < 0)
            finding("a string decodes to invalid UTF-8", text, n, ERR_OK, ERR_OK);
        if (json_ref_str_decode(d, i, ref) != m || memcmp(out, ref, m) != 0)
            finding("a string decodes differently", text, n, ERR_OK, ERR_OK);
    }
    free(out);
    free(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        json_global_init();
        json_ref_init();
        ready = true;
    }
    const char *text = (const char *)data;
    struct json_doc got, want;
    enum vb_err rc_new = json_doc_parse(&got, text, size);
    enum vb_err rc_old = json_ref_parse(&want, text, size);
    if (rc_new == ERR_NOMEM || rc_old == ERR_NOMEM)
        abort();
    if (rc_new != rc_old) {
        if (!(rc_new == ERR_INVALID && rc_old == ERR_OK && old_scalar_nul(&want, text)))
            finding(rc_new == ERR_OK ? "accepted, the old parser refused"
                                     : "refused, the old parser accepted",
                    text, size, rc_new, rc_old);
    } else if (rc_new == ERR_OK) {
        if (got.ntok != want.ntok) {
            fprintf(stderr, "  ntok new %d, old %d\n", got.ntok, want.ntok);
            finding("token counts differ", text, size, rc_new, rc_old);
        }
        for (int i = 0; i < got.ntok; i++) {
            const struct json_tok *a = &got.tok[i], *b = &want.tok[i];
            if (a->type != b->type || a->start != b->start || a->end != b->end ||
                a->size != b->size) {
                dump_tok("new", &got, i);
                dump_tok("old", &want, i);
                finding("tokens differ", text, size, rc_new, rc_old);
            }
        }
        check_new_tokens(&got, text, size);
    }
    json_doc_free(&got);
    json_doc_free(&want);
    return 0;
}
