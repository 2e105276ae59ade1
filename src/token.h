/*
 * token: the secrets of the console and admin API (issue 9): operator
 * tokens, session cookies and anti-CSRF tokens.  Each is LIMIT_TOKEN_BYTES
 * random bytes from OpenSSL's RAND_bytes written as lowercase hex, after an
 * optional prefix ("vbo_" for operator tokens).  The store keeps only
 * token_hash() of an operator token or a session cookie.
 */
#ifndef VABILL_TOKEN_H
#define VABILL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h"
#include "store.h"

#define TOKEN_OPERATOR_PREFIX "vbo_"
/* room for a prefix of up to 7 bytes, the hex digits and a NUL */
#define TOKEN_MAX (8 + 2 * LIMIT_TOKEN_BYTES + 1)

/* prefix + 2 * LIMIT_TOKEN_BYTES random hex digits into out (TOKEN_MAX
 * bytes).  False when the random generator fails or the prefix is too long. */
bool token_new(const char *prefix, char out[TOKEN_MAX]);

/* SHA-256 of the token's n bytes, as given. */
void token_hash(const char *token, size_t n, unsigned char out[STORE_HASH_LEN]);

/* Compares two byte strings in time independent of where they differ. */
bool token_equal(const char *a, size_t an, const char *b, size_t bn);

#endif
