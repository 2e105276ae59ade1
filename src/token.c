/*
 * token: random secrets and their hashes.  See token.h.
 */
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

bool token_new(const char *prefix, char out[TOKEN_MAX])
{
    size_t plen = strlen(prefix);
    if (plen > 7)
        return false;
    unsigned char raw[LIMIT_TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return false;
    static const char hex[] = "0123456789abcdef";
    memcpy(out, prefix, plen);
    char *d = out + plen;
    for (size_t i = 0; i < sizeof raw; i++) {
        *d++ = hex[raw[i] >> 4];
        *d++ = hex[raw[i] & 15];
    }
    *d = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return true;
}

void token_hash(const char *token, size_t n, unsigned char out[STORE_HASH_LEN])
{
    SHA256((const unsigned char *)token, n, out);
}

bool token_equal(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && CRYPTO_memcmp(a, b, an) == 0;
}
