/*
 * store: picks the backend for a --db URL, and helpers shared by backends.
 */
#include "store.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *store_default_url(const char *given)
{
    if (given && *given)
        return given;
    const char *env = getenv("VABILL_DB");
    if (env && *env)
        return env;
    return "./vabill.db";
}

enum vb_err store_open(const char *url, struct store **out, char *why, size_t whylen)
{
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return store_pg_ops.open(url, out, why, whylen);
    const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
    if (*path == '\0') {
        snprintf(why, whylen, "empty database path");
        return ERR_INVALID;
    }
    return store_sqlite_ops.open(path, out, why, whylen);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

const char *store_va_refusal(const struct store_va_view *v, int64_t now)
{
    if (strcmp(v->status, "paid") == 0)
        return "0015";
    if (strcmp(v->status, "closed") == 0)
        return "0016";
    if (now > v->expires_at)
        return "0017";
    return NULL;
}

const char *store_payment_refusal(const struct store_payment *p)
{
    const char *code = store_va_refusal(&p->inv, p->now);
    if (code)
        return code;
    const struct store_va_view *v = &p->inv;
    bool ok = v->partial_payments ? p->amount >= 1 && p->amount <= v->outstanding
                                  : p->amount == v->outstanding;
    return ok ? NULL : "0018";
}

int store_community_keys(const struct store_community *c, int64_t now, const char *keys[2])
{
    keys[0] = c->key;
    if (c->old_key[0] != '\0' && now < c->old_key_until) {
        keys[1] = c->old_key;
        return 2;
    }
    return 1;
}

void store_community_wipe(struct store_community *c)
{
    OPENSSL_cleanse(c->key, sizeof c->key);
    OPENSSL_cleanse(c->old_key, sizeof c->old_key);
}

void store_invoice_free(struct store_invoice *inv)
{
    if (inv == NULL)
        return;
    free(inv->doc_no);
    free(inv->member_code);
    free(inv->member_name);
    free(inv->description);
    free(inv->rq_uuid);
    free(inv);
}

void store_doc_ref_no(int64_t id, char *out)
{
    snprintf(out, LIMIT_DOC_REF_NO + 1, "VB%013lld", (long long)id);
}
