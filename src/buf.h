/*
 * buf: a growable byte buffer with a maximum size fixed at creation.
 *
 * Appends fail with ERR_NOMEM or ERR_TOOBIG instead of growing past max, and
 * a failed append sets buf.failed so a long run of appends can be checked
 * once at the end.  The bytes are always NUL-terminated (not counted in len).
 */
#ifndef VABILL_BUF_H
#define VABILL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
    enum vb_err failed; /* first failure of an append, ERR_OK if none */
};

/* An empty buffer that will never hold more than max bytes. */
void buf_init(struct buf *b, size_t max);
/* Frees the bytes; the buffer is empty and usable again. Accepts a zeroed buf. */
void buf_free(struct buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Ensures room for n more bytes. */
enum vb_err buf_reserve(struct buf *b, size_t n);
enum vb_err buf_add(struct buf *b, const void *p, size_t n);
enum vb_err buf_adds(struct buf *b, const char *s);
enum vb_err buf_addc(struct buf *b, char c);
enum vb_err buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends n bytes as a JSON string literal, quotes included.  Bytes >= 0x80
 * are copied as they are (the input is UTF-8); controls are \u-escaped. */
enum vb_err buf_add_json_str(struct buf *b, const char *p, size_t n);
/* Appends hundredths as "123.45". */
enum vb_err buf_add_money(struct buf *b, int64_t hundredths);
/* Takes the bytes out: the caller owns *out (free()), the buffer is empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
