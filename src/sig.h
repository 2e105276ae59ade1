/*
 * sig: the Espay request signature (SPEC 1.2, 5).
 *
 * signature = lowercase_hex(SHA-256(UPPERCASE("##" part "##" ... "##" MODE "##")))
 *
 * The key is one of the parts; callers pass it like any other part.  The
 * string is built in a stack buffer when it fits and wiped after hashing, so
 * the key does not linger in memory.  Used by vabilld to verify and by vabill
 * (sign, send, pay) to sign.
 */
#ifndef VABILL_SIG_H
#define VABILL_SIG_H

#include <stdbool.h>
#include <stddef.h>

#define SIG_HEX_LEN 64

/* One part of the signed string: bytes and their length (need not be NUL-terminated). */
struct sig_part {
    const char *p;
    size_t n;
};

/*
 * Computes the signature of parts[0..nparts) followed by mode (e.g.
 * "SENDINVOICE") into out, 64 lowercase hex digits and a NUL.  Returns false
 * only when memory runs out.
 */
bool sig_compute(const struct sig_part *parts, size_t nparts, const char *mode,
                 char out[SIG_HEX_LEN + 1]);

/*
 * The sendinvoice signature of SPEC 1.2.
 */
bool sig_sendinvoice(const char *rq_uuid, const char *rq_datetime, const char *comm_code,
                     const char *key, char out[SIG_HEX_LEN + 1]);

/*
 * True when given (64 hex digits, either case, length n) equals expected
 * (64 lowercase hex digits).  Runs in time independent of where they differ.
 */
bool sig_equal(const char *given, size_t n, const char expected[SIG_HEX_LEN + 1]);

#endif
