/*
 * sig: SHA-256 request signatures (SPEC 1.2).  See sig.h.
 *
 * The signed string holds the community's key, so it is built in memory we
 * own and wiped with OPENSSL_cleanse before return.
 */
#include "sig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const char hexdigits[] = "0123456789abcdef";

static char upper_ascii(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

bool sig_compute(const struct sig_part *parts, size_t nparts, const char *mode,
                 char out[SIG_HEX_LEN + 1])
{
    size_t total = 2 + strlen(mode) + 2;
    for (size_t i = 0; i < nparts; i++)
        total += 2 + parts[i].n;

    char stackbuf[1024];
    char *s = total <= sizeof stackbuf ? stackbuf : malloc(total);
    if (s == NULL)
        return false;

    size_t at = 0;
    for (size_t i = 0; i < nparts; i++) {
        s[at++] = '#';
        s[at++] = '#';
        for (size_t k = 0; k < parts[i].n; k++)
            s[at++] = upper_ascii(parts[i].p[k]);
    }
    s[at++] = '#';
    s[at++] = '#';
    for (const char *m = mode; *m; m++)
        s[at++] = upper_ascii(*m);
    s[at++] = '#';
    s[at++] = '#';

    unsigned char md[32];
    unsigned int mdlen = 0;
    bool ok = EVP_Digest(s, at, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == sizeof md;
    OPENSSL_cleanse(s, at);
    if (s != stackbuf)
        free(s);
    if (!ok)
        return false;
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hexdigits[md[i] >> 4];
        out[2 * i + 1] = hexdigits[md[i] & 15];
    }
    out[SIG_HEX_LEN] = '\0';
    return true;
}

bool sig_sendinvoice(const char *rq_uuid, const char *rq_datetime, const char *comm_code,
                     const char *key, char out[SIG_HEX_LEN + 1])
{
    struct sig_part parts[] = {
        {rq_uuid, strlen(rq_uuid)},
        {rq_datetime, strlen(rq_datetime)},
        {comm_code, strlen(comm_code)},
        {key, strlen(key)},
    };
    return sig_compute(parts, 4, "SENDINVOICE", out);
}

bool sig_equal(const char *given, size_t n, const char expected[SIG_HEX_LEN + 1])
{
    if (n != SIG_HEX_LEN)
        return false;
    char lower[SIG_HEX_LEN];
    for (size_t i = 0; i < SIG_HEX_LEN; i++) {
        char c = given[i];
        lower[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    }
    return CRYPTO_memcmp(lower, expected, SIG_HEX_LEN) == 0;
}
