/*
 * service: the SPEC 1.4 processing order, step by step.  See service.h.
 *
 * Untrusted bytes enter here (the body) and leave as checked values: form or
 * JSON decoding, the request field table, the invoice field table.  The
 * request's decoded strings live in arenas sized from the body, so no
 * per-field allocation happens and nothing outlives the call.
 */
#include "service.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "dt.h"
#include "fields.h"
#include "form.h"
#include "invoice_json.h"
#include "json.h"
#include "req.h"
#include "resp.h"
#include "sig.h"

void svc_reply_init(struct svc_reply *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body, SIZE_MAX / 2);
}

void svc_reply_free(struct svc_reply *r)
{
    buf_free(&r->body);
}

/* Everything one request owns while it is processed. */
struct job {
    const struct svc_config *cfg;
    struct store *st;
    struct svc_reply *reply;
    int64_t now;
    struct fv f[RQ_NFIELDS];
    struct req_body body;    /* decoded request fields */
    struct json_doc inv_doc; /* invoices given as a string of JSON */
    const struct json_doc *invd;
    int inv_tok;
    char *inv_arena; /* decoded invoice strings */
    struct store_community comm;
    bool have_comm;
    struct invoice *inv;
    struct store_result *res;
    size_t ninv;
};

static void answer_failure(struct job *j, int http, const char *code, const char *what,
                           size_t what_len)
{
    struct svc_reply *r = j->reply;
    struct fail f = {code, what, what_len};
    buf_reset(&r->body);
    r->http_status = http;
    snprintf(r->error_code, sizeof r->error_code, "%s", code);
    resp_failure(&r->body, r->rq_uuid, strlen(r->rq_uuid), j->now, j->cfg->utc_offset_min, &f);
}

static void fail_named(struct job *j, const char *code, const char *what)
{
    answer_failure(j, 200, code, what, what ? strlen(what) : 0);
}

static void fail_system(struct job *j, const char *why)
{
    snprintf(j->reply->store_error, sizeof j->reply->store_error, "%s", why);
    answer_failure(j, 503, CODE_SYSTEM, NULL, 0);
}

/* The payload of SPEC 1.5 (ccy, total_invoices, invoices) as a SHA-256. */
static bool payload_hash(struct job *j, const struct rq_values *rq, bool inv_ok,
                         unsigned char out[STORE_HASH_LEN])
{
    struct buf c;
    buf_init(&c, SIZE_MAX / 2);
    buf_printf(&c, "ccy:%s;total:%d;invoices:", rq->ccy, rq->total_invoices);
    if (inv_ok)
        json_canon(j->invd, j->inv_tok, false, &c);
    else
        buf_adds(&c, "(not an object)");
    unsigned int len = 0;
    bool ok = c.failed == ERR_OK && EVP_Digest(c.p, c.len, out, &len, EVP_sha256(), NULL) == 1 &&
              len == STORE_HASH_LEN;
    buf_free(&c);
    return ok;
}

/* Locates the invoices object (step 9's parse), in the body or in a string. */
static bool locate_invoices(struct job *j)
{
    const struct fv *v = &j->f[RQ_INVOICES];
    if (v->kind == FV_OBJECT) {
        j->invd = &j->body.doc;
        j->inv_tok = v->tok;
        return true;
    }
    if (v->kind != FV_STRING)
        return false;
    if (json_doc_parse(&j->inv_doc, v->p, v->n) != ERR_OK)
        return false;
    j->invd = &j->inv_doc;
    j->inv_tok = 0;
    return j->inv_doc.tok[0].type == JSON_T_OBJECT;
}

/* Decodes the doc_nos; returns the index of the doc_no whose repeat comes
 * first in the request, or -1 when all are distinct. */
static int find_duplicate(const struct doc_at *keys, int n)
{
    struct doc_at *sorted = malloc(sizeof *sorted * (size_t)(n ? n : 1));
    if (sorted == NULL)
        return -2;
    memcpy(sorted, keys, sizeof *sorted * (size_t)n);
    fields_sort_doc_nos(sorted, (size_t)n);
    size_t best_repeat = SIZE_MAX;
    int best_first = -1;
    for (int i = 0; i < n;) {
        int g = i + 1;
        while (g < n && fields_same_doc_no(&sorted[g], &sorted[i]))
            g++;
        /* sorted[i + 1] is the second occurrence of its doc_no */
        if (g - i >= 2 && sorted[i + 1].pos < best_repeat) {
            best_repeat = sorted[i + 1].pos;
            best_first = (int)sorted[i].pos;
        }
        i = g;
    }
    free(sorted);
    return best_first;
}

/* Steps 9 to 11 before the store: the invoices object, its doc_nos, counts,
 * and every invoice's fields.  False when the request is refused (answered). */
static bool check_invoices(struct job *j, const struct rq_values *rq, bool inv_ok)
{
    if (!inv_ok) {
        fail_named(j, CODE_FORMAT, "invoices");
        return false;
    }
    const struct json_doc *d = j->invd;
    int count = d->tok[j->inv_tok].size;
    j->inv_arena = malloc((size_t)(d->tok[j->inv_tok].end - d->tok[j->inv_tok].start) +
                          (size_t)json_next(d, j->inv_tok) + 1);
    struct doc_at *keys = malloc(sizeof *keys * (size_t)(count ? count : 1));
    int *val_tok = malloc(sizeof *val_tok * (size_t)(count ? count : 1));
    if (j->inv_arena == NULL || keys == NULL || val_tok == NULL) {
        free(keys);
        free(val_tok);
        fail_system(j, "out of memory");
        return false;
    }
    char *arena = j->inv_arena;
    int i = j->inv_tok + 1;
    for (int m = 0; m < count; m++) {
        struct fv k;
        req_fv_from_json(d, i, &arena, &k);
        keys[m] = (struct doc_at){k.p, k.n, (size_t)m};
        val_tok[m] = i + 1;
        i = json_next(d, i + 1);
    }
    bool ok = false;
    int dup = find_duplicate(keys, count);
    if (dup == -2) {
        fail_system(j, "out of memory");
    } else if (dup >= 0) {
        answer_failure(j, 200, CODE_DUP_DOC, keys[dup].p, keys[dup].n);
    } else if (count == 0) {
        fail_named(j, CODE_MANDATORY, "invoices");
    } else if (count > LIMIT_INVOICES || rq->total_invoices > LIMIT_INVOICES) {
        fail_named(j, CODE_MAXIMUM, NULL);
    } else if (count != rq->total_invoices) {
        fail_named(j, CODE_TOTAL, NULL);
    } else {
        ok = true;
    }
    j->reply->invoices = count;
    if (ok) {
        j->ninv = (size_t)count;
        j->inv = calloc((size_t)count, sizeof *j->inv);
        j->res = calloc((size_t)count, sizeof *j->res);
        if (j->inv == NULL || j->res == NULL) {
            fail_system(j, "out of memory");
            ok = false;
        }
    }
    for (int m = 0; ok && m < count; m++) {
        struct inv_members mem;
        invoice_json_members(d, val_tok[m], &arena, &mem);
        fields_check_invoice(keys[m].p, keys[m].n, &mem, &j->inv[m]);
    }
    free(keys);
    free(val_tok);
    return ok;
}

static void count_outcomes(struct job *j)
{
    for (size_t i = 0; i < j->ninv; i++) {
        if (j->res[i].outcome == OUT_ACCEPTED)
            j->reply->accepted++;
        else
            j->reply->refused++;
    }
}

/* The 0000 answer of a batch from what the store remembers of it. */
static void answer_stored(struct job *j, const struct buf *stored, bool replayed)
{
    struct svc_reply *r = j->reply;
    buf_reset(&r->body);
    enum vb_err e = resp_from_stored(stored->p, stored->len, &r->body);
    if (e) {
        fail_system(j, e == ERR_STORE ? "a stored answer is unreadable" : err_str(e));
        return;
    }
    r->http_status = 200;
    r->replayed = replayed;
    snprintf(r->error_code, sizeof r->error_code, "%s", CODE_SUCCESS);
}

/* Steps 4 to 11 once the fields are well formed. */
static void process(struct job *j, const struct rq_values *rq)
{
    struct svc_reply *r = j->reply;
    /* 4. community */
    enum vb_err e = j->st->ops->community_get(j->st, rq->comm_code, &j->comm);
    if (e == ERR_NOTFOUND || (e == ERR_OK && !j->comm.enabled)) {
        j->have_comm = e == ERR_OK;
        fail_named(j, CODE_COMMUNITY, NULL);
        return;
    }
    if (e) {
        fail_system(j, j->st->errmsg);
        return;
    }
    j->have_comm = true;
    snprintf(r->comm_code, sizeof r->comm_code, "%s", rq->comm_code);

    /* 5. signature, with the current key or the previous one in its grace */
    const char *keys[2];
    int nkeys = store_community_keys(&j->comm, j->now, keys);
    bool signed_ok = false;
    for (int k = 0; k < nkeys && !signed_ok; k++) {
        struct sig_part parts[] = {
            {rq->rq_uuid, rq->rq_uuid_len},
            {rq->rq_datetime, DT_LEN},
            {rq->comm_code, strlen(rq->comm_code)},
            {keys[k], strlen(keys[k])},
        };
        char expected[SIG_HEX_LEN + 1];
        if (!sig_compute(parts, 4, "SENDINVOICE", expected)) {
            fail_system(j, "out of memory");
            return;
        }
        signed_ok = sig_equal(rq->signature, SIG_HEX_LEN, expected);
    }
    if (!signed_ok) {
        fail_named(j, CODE_SIGNATURE, NULL);
        return;
    }

    /* 6. idempotency: the payload needs the invoices parsed */
    bool inv_ok = locate_invoices(j);
    unsigned char hash[STORE_HASH_LEN], stored[STORE_HASH_LEN];
    if (!payload_hash(j, rq, inv_ok, hash)) {
        fail_system(j, "cannot hash the payload");
        return;
    }
    struct buf rec;
    buf_init(&rec, SIZE_MAX / 2);
    e = j->st->ops->request_get(j->st, j->comm.id, rq->rq_uuid, rq->rq_uuid_len, stored, &rec);
    if (e == ERR_OK) {
        if (memcmp(hash, stored, STORE_HASH_LEN) == 0)
            answer_stored(j, &rec, true);
        else
            fail_named(j, CODE_DUP_REQUEST, NULL);
        buf_free(&rec);
        return;
    }
    buf_free(&rec);
    if (e != ERR_NOTFOUND) {
        fail_system(j, j->st->errmsg);
        return;
    }

    /* 7. clock skew */
    int64_t skew = j->now - rq->rq_time;
    if (j->cfg->clock_skew > 0 && (skew > j->cfg->clock_skew || -skew > j->cfg->clock_skew)) {
        fail_named(j, CODE_EXPIRED_RQ, NULL);
        return;
    }
    /* 8. currency */
    if (strcmp(rq->ccy, j->comm.ccy) != 0) {
        fail_named(j, CODE_CURRENCY, NULL);
        return;
    }
    /* 9-11. invoices, counts, fields */
    if (!check_invoices(j, rq, inv_ok))
        return;

    /* 11. the store decides 0002 / 0012 and allocates serials */
    int offset = j->cfg->utc_offset_min;
    struct store_unit u;
    memset(&u, 0, sizeof u);
    u.comm = &j->comm;
    u.rq_uuid = rq->rq_uuid;
    u.rq_uuid_len = rq->rq_uuid_len;
    memcpy(u.payload_hash, hash, STORE_HASH_LEN);
    u.now = j->now;
    u.inv = j->inv;
    u.n = j->ninv;
    u.res = j->res;
    u.render = resp_record;
    u.render_ctx = &offset;
    buf_init(&u.response, SIZE_MAX / 2);
    struct store_unit *units[1] = {&u};
    j->st->ops->commit_units(j->st, units, 1);
    switch (u.status) {
    case UNIT_COMMITTED:
        count_outcomes(j);
        /* fall through */
    case UNIT_REPLAY:
        answer_stored(j, &u.response, u.status == UNIT_REPLAY);
        break;
    case UNIT_CONFLICT:
        fail_named(j, CODE_DUP_REQUEST, NULL);
        break;
    case UNIT_FAILED:
        fail_system(j, j->st->errmsg[0] ? j->st->errmsg : err_str(u.err));
        break;
    }
    buf_free(&u.response);
}

void svc_sendinvoice(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                     const char *body, size_t n, struct svc_reply *reply)
{
    struct job j;
    memset(&j, 0, sizeof j);
    j.cfg = cfg;
    j.st = st;
    j.reply = reply;
    j.now = dt_now();
    st->errmsg[0] = '\0';

    enum vb_err e = req_decode(kind, body, n, rq_field_names, RQ_NFIELDS, &j.body, j.f);
    if (e == ERR_INVALID) {
        fail_named(&j, CODE_FORMAT, "body");
        goto out;
    }
    if (e) {
        fail_system(&j, err_str(e));
        goto out;
    }
    if (fields_rq_uuid_ok(&j.f[RQ_UUID])) {
        memcpy(reply->rq_uuid, j.f[RQ_UUID].p, j.f[RQ_UUID].n);
        reply->rq_uuid[j.f[RQ_UUID].n] = '\0';
    }
    struct rq_values rq;
    struct fail f;
    if (!fields_check_request(j.f, cfg->utc_offset_min, &rq, &f)) {
        answer_failure(&j, 200, f.code, f.what, f.what_len);
        goto out;
    }
    process(&j, &rq);
out:
    if (j.have_comm)
        store_community_wipe(&j.comm);
    free(j.inv);
    free(j.res);
    free(j.inv_arena);
    req_body_free(&j.body);
    json_doc_free(&j.inv_doc);
}

void svc_http_error(const struct svc_config *cfg, int http_status, const char *code,
                    struct svc_reply *reply)
{
    struct job j;
    memset(&j, 0, sizeof j);
    j.cfg = cfg;
    j.reply = reply;
    j.now = dt_now();
    answer_failure(&j, http_status, code, NULL, 0);
}
