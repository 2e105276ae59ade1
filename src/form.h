/*
 * form: application/x-www-form-urlencoded bodies (the Espay convention).
 *
 * Untrusted bytes enter here.  `+` is a space, `%XX` a byte; a `%` without
 * two hex digits makes the whole body invalid.  Only the names the caller
 * asks for are kept; every occurrence is counted so a repeated field can be
 * refused.
 */
#ifndef VABILL_FORM_H
#define VABILL_FORM_H

#include <stddef.h>

#include "err.h"

struct form_value {
    const char *p; /* decoded bytes of the first occurrence, in the arena */
    size_t n;
    int count; /* occurrences in the body */
};

/*
 * Decodes body[0..n).  names[0..nnames) are the wanted field names; vals[k]
 * receives names[k]'s value.  Decoded bytes are written into arena, which
 * must have room for n bytes.  ERR_INVALID on a malformed escape.
 */
enum vb_err form_decode(const char *body, size_t n, const char *const *names, size_t nnames,
                        char *arena, struct form_value *vals);

/* Appends name=value, percent-encoded, to out (with a leading '&' when out
 * is not empty).  For clients. */
struct buf;
enum vb_err form_append(struct buf *out, const char *name, const char *value, size_t n);

#endif
