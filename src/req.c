/*
 * req: body decoding shared by every service.  See req.h.
 */
#include "req.h"

#include <stdlib.h>
#include <string.h>

#include "form.h"

static enum fv_kind kind_of(enum json_type t)
{
    switch (t) {
    case JSON_T_OBJECT:
        return FV_OBJECT;
    case JSON_T_ARRAY:
        return FV_ARRAY;
    case JSON_T_STRING:
        return FV_STRING;
    case JSON_T_NUMBER:
        return FV_NUMBER;
    case JSON_T_TRUE:
    case JSON_T_FALSE:
        return FV_BOOL;
    case JSON_T_NULL:
        return FV_NULL;
    }
    return FV_ABSENT;
}

void req_fv_from_json(const struct json_doc *d, int i, char **arena, struct fv *v)
{
    const struct json_tok *t = &d->tok[i];
    v->kind = kind_of(t->type);
    v->tok = i;
    if (t->type == JSON_T_STRING) {
        v->p = *arena;
        v->n = json_str_decode(d, i, *arena);
        (*arena)[v->n] = '\0';
        *arena += v->n + 1;
    } else {
        v->p = d->text + t->start;
        v->n = (size_t)(t->end - t->start);
    }
}

static enum vb_err decode_form(const char *body, size_t n, const char *const *names, size_t nnames,
                               struct req_body *rb, struct fv *out)
{
    struct form_value *vals = calloc(nnames ? nnames : 1, sizeof *vals);
    char *scratch = malloc(n + 1);
    enum vb_err e = ERR_NOMEM;
    if (vals == NULL || scratch == NULL)
        goto out;
    e = form_decode(body, n, names, nnames, scratch, vals);
    if (e)
        goto out;
    /* copy each kept value out so it is NUL-terminated */
    char *at = rb->arena;
    for (size_t k = 0; k < nnames; k++) {
        if (vals[k].count == 0)
            continue;
        memcpy(at, vals[k].p, vals[k].n);
        at[vals[k].n] = '\0';
        out[k] = (struct fv){FV_STRING, at, vals[k].n, vals[k].count, -1};
        at += vals[k].n + 1;
    }
out:
    free(vals);
    free(scratch);
    return e;
}

static enum vb_err decode_json(const char *body, size_t n, const char *const *names, size_t nnames,
                               struct req_body *rb, struct fv *out)
{
    enum vb_err e = json_doc_parse(&rb->doc, body, n);
    if (e)
        return e == ERR_NOMEM ? e : ERR_INVALID;
    const struct json_doc *d = &rb->doc;
    if (d->tok[0].type != JSON_T_OBJECT)
        return ERR_INVALID;
    char *arena = rb->arena;
    int members = d->tok[0].size;
    int i = 1;
    for (int m = 0; m < members; m++) {
        int key = i, val = i + 1;
        for (size_t k = 0; k < nnames; k++) {
            if (!json_str_eq(d, key, names[k], strlen(names[k])))
                continue;
            if (out[k].count++ == 0) {
                req_fv_from_json(d, val, &arena, &out[k]);
                out[k].count = 1;
            }
            break;
        }
        i = json_next(d, val);
    }
    return ERR_OK;
}

enum vb_err req_decode(enum req_kind kind, const char *body, size_t n, const char *const *names,
                       size_t nnames, struct req_body *rb, struct fv *out)
{
    memset(rb, 0, sizeof *rb);
    for (size_t k = 0; k < nnames; k++)
        out[k] = (struct fv){FV_ABSENT, NULL, 0, 0, -1};
    /* decoded values are never longer than the body; one NUL each */
    rb->arena = malloc(n + nnames + 1);
    if (rb->arena == NULL)
        return ERR_NOMEM;
    if (kind == REQ_FORM)
        return decode_form(body, n, names, nnames, rb, out);
    return decode_json(body, n, names, nnames, rb, out);
}

void req_body_free(struct req_body *rb)
{
    free(rb->arena);
    json_doc_free(&rb->doc);
    rb->arena = NULL;
}
