/*
 * codes: the SPEC section 3 error codes and their message texts.
 */
#ifndef VABILL_CODES_H
#define VABILL_CODES_H

#include <stddef.h>

#include "buf.h"

#define CODE_SUCCESS     "0000"
#define CODE_MANDATORY   "0001"
#define CODE_LISTED      "0002"
#define CODE_FORMAT      "0003"
#define CODE_SIGNATURE   "0004"
#define CODE_COMMUNITY   "0005"
#define CODE_CURRENCY    "0006"
#define CODE_TOTAL       "0007"
#define CODE_MAXIMUM     "0008"
#define CODE_EXPIRED_RQ  "0009"
#define CODE_DUP_REQUEST "0010"
#define CODE_DUP_DOC     "0011"
#define CODE_EXHAUSTED   "0012"
#define CODE_SYSTEM      "0099"
#define CODE_HTTP_404    "0404"
#define CODE_HTTP_405    "0405"
#define CODE_HTTP_413    "0413"
#define CODE_HTTP_415    "0415"

/* A failure: a code and, for 0001/0003/0011, what it names (bytes + length). */
struct fail {
    const char *code; /* NULL: no failure */
    const char *what;
    size_t what_len;
};

/* Appends the message of a failure as plain text.  invoice_level picks the
 * lower-case "success" of an accepted invoice for 0000. */
enum vb_err code_message(struct buf *out, const struct fail *f, int invoice_level);

#endif
