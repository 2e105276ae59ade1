/*
 * req: a request body (form-urlencoded or JSON) turned into named fields.
 *
 * Untrusted bytes enter here.  Every service names the fields it wants;
 * each comes back as a `struct fv` (kind, decoded bytes, occurrences), ready
 * for the field tables of fields.h.  Decoded strings live in one arena sized
 * from the body, NUL-terminated, owned by the struct req_body.
 */
#ifndef VABILL_REQ_H
#define VABILL_REQ_H

#include <stddef.h>

#include "err.h"
#include "fields.h"
#include "json.h"

enum req_kind { REQ_FORM, REQ_JSON };

struct req_body {
    char *arena;
    struct json_doc doc; /* the JSON body's tokens (empty for a form) */
};

/*
 * Decodes body[0..n) and fills out[k] for names[k] (FV_ABSENT when missing).
 * ERR_INVALID when the body is malformed (a form escape, JSON that is not an
 * object), ERR_NOMEM.  Free rb with req_body_free in every case.
 */
enum vb_err req_decode(enum req_kind kind, const char *body, size_t n, const char *const *names,
                       size_t nnames, struct req_body *rb, struct fv *out);
void req_body_free(struct req_body *rb);

/*
 * Makes an fv of the JSON value at token i: strings are decoded into *arena
 * (advanced past the value and its NUL), other values point at their text.
 * The arena needs room for the token's span plus one byte.
 */
void req_fv_from_json(const struct json_doc *d, int i, char **arena, struct fv *v);

#endif
