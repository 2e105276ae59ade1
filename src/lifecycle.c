/*
 * lifecycle: inquiry, payment, checkstatus, closeinvoice (SPEC 5).  See
 * lifecycle.h; the check order is written down in docs/DECISIONS.md.
 *
 * Untrusted bytes enter through req_decode and fields_check_table; what
 * reaches the store is checked values only.  Money in answers is a string
 * with two decimals.
 */
#include "lifecycle.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "codes.h"
#include "dt.h"
#include "resp.h"
#include "sig.h"
#include "va.h"

/* One request of a SPEC 5 service while it is processed. */
struct call {
    const struct svc_config *cfg;
    struct store *st;
    struct svc_reply *reply;
    enum field_table table;
    int64_t now;
    struct req_body body;
    struct fv f[FIELDS_TABLE_MAX];
    struct fvalue v[FIELDS_TABLE_MAX];
};

static void answer(struct call *c, int http, const char *code, const char *what)
{
    struct svc_reply *r = c->reply;
    struct fail f = {code, what, what ? strlen(what) : 0};
    buf_reset(&r->body);
    r->http_status = http;
    snprintf(r->error_code, sizeof r->error_code, "%s", code);
    resp_short_failure(&r->body, r->rq_uuid, strlen(r->rq_uuid), c->now, c->cfg->utc_offset_min,
                       &f);
}

static void refuse(struct call *c, const char *code)
{
    answer(c, 200, code, NULL);
}

static void system_error(struct call *c, const char *why)
{
    snprintf(c->reply->store_error, sizeof c->reply->store_error, "%s", why);
    answer(c, 503, CODE_SYSTEM, NULL);
}

/* Decoding and SPEC 1.4 steps 2-3 for the call's table; false when answered. */
static bool begin(struct call *c, enum req_kind kind, const char *body, size_t n)
{
    c->now = dt_now();
    c->st->errmsg[0] = '\0';
    const char *names[FIELDS_TABLE_MAX];
    size_t nf = fields_table_size(c->table);
    for (size_t k = 0; k < nf; k++)
        names[k] = fields_table_name(c->table, k);
    enum vb_err e = req_decode(kind, body, n, names, nf, &c->body, c->f);
    if (e == ERR_INVALID) {
        answer(c, 200, CODE_FORMAT, "body");
        return false;
    }
    if (e) {
        system_error(c, err_str(e));
        return false;
    }
    if (fields_rq_uuid_ok(&c->f[0])) {
        memcpy(c->reply->rq_uuid, c->f[0].p, c->f[0].n);
        c->reply->rq_uuid[c->f[0].n] = '\0';
    }
    struct fail f;
    if (!fields_check_table(c->table, c->f, c->cfg->utc_offset_min, c->v, &f)) {
        answer(c, 200, f.code, f.what);
        return false;
    }
    return true;
}

/* Signature over the call's fields by position, with the key and a mode. */
static bool signed_ok(struct call *c, const int *fields, size_t nfields, const char *key,
                      const char *mode)
{
    struct sig_part parts[8];
    for (size_t i = 0; i < nfields; i++)
        parts[i] = (struct sig_part){c->f[fields[i]].p, c->f[fields[i]].n};
    parts[nfields] = (struct sig_part){key, strlen(key)};
    char expected[SIG_HEX_LEN + 1];
    if (!sig_compute(parts, nfields + 1, mode, expected))
        return false;
    size_t sig_at = c->table == FT_PARTNER ? FP_SIGNATURE : F5_SIGNATURE;
    return sig_equal(c->f[sig_at].p, c->f[sig_at].n, expected);
}

static bool clock_ok(struct call *c)
{
    int64_t skew = c->now - c->v[1].i; /* field 1 is rq_datetime in every table */
    return c->cfg->clock_skew <= 0 || (skew <= c->cfg->clock_skew && -skew <= c->cfg->clock_skew);
}

static void finish(struct call *c)
{
    req_body_free(&c->body);
}

static void add_str(struct buf *b, const char *name, const char *p, size_t n)
{
    buf_printf(b, ",\"%s\":", name);
    buf_add_json_str(b, p, n);
}

static void add_cstr(struct buf *b, const char *name, const char *s)
{
    add_str(b, name, s, strlen(s));
}

static void add_money(struct buf *b, const char *name, int64_t v)
{
    buf_printf(b, ",\"%s\":\"", name);
    buf_add_money(b, v);
    buf_addc(b, '"');
}

static void add_time(struct buf *b, const char *name, int64_t t, int offset)
{
    char s[DT_LEN + 1];
    dt_format(t, offset, s);
    add_cstr(b, name, s);
}

static void success_head(struct call *c, struct buf *out)
{
    struct fail ok = {CODE_SUCCESS, NULL, 0};
    resp_head(out, c->reply->rq_uuid, strlen(c->reply->rq_uuid), c->now, c->cfg->utc_offset_min,
              &ok);
    snprintf(c->reply->error_code, sizeof c->reply->error_code, "%s", CODE_SUCCESS);
    c->reply->http_status = 200;
}

/* The bank's part shared by inquiry and payment: caller, signature.
 * Fills *bank; false when answered. */
static bool bank_checks(struct call *c, const int *sig_fields, size_t nsig, const char *mode)
{
    struct store_bankinfo bank;
    memcpy(c->reply->bank_code, c->f[F5_BANK_CODE].p, LIMIT_BANK_CODE);
    c->reply->bank_code[LIMIT_BANK_CODE] = '\0';
    enum vb_err e = c->st->ops->bank_get(c->st, c->reply->bank_code, &bank);
    if (e == ERR_NOTFOUND) {
        refuse(c, "0020");
        return false;
    }
    if (e) {
        system_error(c, c->st->errmsg);
        return false;
    }
    bool ok = signed_ok(c, sig_fields, nsig, bank.key, mode);
    OPENSSL_cleanse(&bank, sizeof bank);
    if (!ok) {
        refuse(c, CODE_SIGNATURE);
        return false;
    }
    return true;
}

/* The VA's invoice and its state (0014, 0015, 0016, 0017). */
static bool va_checks(struct call *c, struct store_va_view *inv)
{
    const char *va = c->f[F5_VA_NUMBER].p;
    size_t n = c->f[F5_VA_NUMBER].n;
    if (!va_luhn_valid(va, n)) {
        refuse(c, "0014");
        return false;
    }
    enum vb_err e = c->st->ops->va_find(c->st, c->reply->bank_code, va, inv);
    if (e == ERR_NOTFOUND) {
        refuse(c, "0014");
        return false;
    }
    if (e) {
        system_error(c, c->st->errmsg);
        return false;
    }
    const char *code = store_va_refusal(inv, c->now);
    if (code) {
        refuse(c, code);
        return false;
    }
    return true;
}

void svc_inquiry(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                 const char *body, size_t n, struct svc_reply *reply)
{
    struct call c = {.cfg = cfg, .st = st, .reply = reply, .table = FT_INQUIRY};
    static const int sig_fields[] = {F5_RQ_UUID, F5_RQ_DATETIME, F5_BANK_CODE, F5_VA_NUMBER};
    struct store_va_view inv;
    if (!begin(&c, kind, body, n) || !bank_checks(&c, sig_fields, 4, SIG_MODE_INQUIRY))
        goto out;
    if (!clock_ok(&c)) {
        refuse(&c, CODE_EXPIRED_RQ);
        goto out;
    }
    if (!va_checks(&c, &inv))
        goto out;
    struct buf *b = &reply->body;
    buf_reset(b);
    success_head(&c, b);
    add_cstr(b, "bank_code", reply->bank_code);
    add_str(b, "va_number", c.f[F5_VA_NUMBER].p, c.f[F5_VA_NUMBER].n);
    add_cstr(b, "comm_code", inv.comm_code);
    add_cstr(b, "doc_no", inv.doc_no);
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(inv.invoice_id, ref);
    add_cstr(b, "doc_ref_no", ref);
    add_cstr(b, "member_name", inv.member_name);
    add_cstr(b, "ccy", inv.ccy);
    add_money(b, "amount", inv.outstanding);
    add_time(b, "expired", inv.expires_at, cfg->utc_offset_min);
    add_cstr(b, "description", inv.description);
    buf_addc(b, '}');
    snprintf(reply->comm_code, sizeof reply->comm_code, "%s", inv.comm_code);
out:
    finish(&c);
}

/* The payment answer, rendered inside the payment's transaction. */
static enum vb_err render_payment(struct store_payment *p, struct buf *out)
{
    struct call *c = p->render_ctx;
    success_head(c, out);
    add_cstr(out, "doc_no", p->inv.doc_no);
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(p->inv.invoice_id, ref);
    add_cstr(out, "doc_ref_no", ref);
    add_str(out, "payment_ref", p->payment_ref, p->payment_ref_len);
    add_money(out, "paid_amount", p->amount);
    add_money(out, "outstanding_amount", p->outstanding_after);
    add_cstr(out, "status", p->outstanding_after == 0 ? "paid" : "open");
    buf_addc(out, '}');
    return out->failed;
}

void svc_payment(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                 const char *body, size_t n, struct svc_reply *reply)
{
    struct call c = {.cfg = cfg, .st = st, .reply = reply, .table = FT_PAYMENT};
    static const int sig_fields[] = {F5_RQ_UUID,   F5_RQ_DATETIME, F5_BANK_CODE,
                                     F5_VA_NUMBER, F5_PAYMENT_REF, F5_AMOUNT};
    struct store_payment p;
    memset(&p, 0, sizeof p);
    buf_init(&p.response, SIZE_MAX / 2);
    if (!begin(&c, kind, body, n) || !bank_checks(&c, sig_fields, 6, SIG_MODE_PAYMENT))
        goto out;

    /* idempotency by (bank_code, payment_ref), before the clock */
    char va[LIMIT_VA_NUMBER_DIGITS + 1];
    int64_t amount = 0;
    const struct fv *ref = &c.f[F5_PAYMENT_REF];
    enum vb_err e =
        st->ops->payment_get(st, reply->bank_code, ref->p, ref->n, va, &amount, &reply->body);
    if (e == ERR_OK) {
        if (strcmp(va, c.f[F5_VA_NUMBER].p) == 0 && amount == c.v[F5_AMOUNT].i) {
            reply->http_status = 200;
            reply->replayed = true;
            snprintf(reply->error_code, sizeof reply->error_code, "%s", CODE_SUCCESS);
        } else {
            refuse(&c, "0019");
        }
        goto out;
    }
    if (e != ERR_NOTFOUND) {
        system_error(&c, st->errmsg);
        goto out;
    }
    if (!clock_ok(&c)) {
        refuse(&c, CODE_EXPIRED_RQ);
        goto out;
    }
    if (!va_luhn_valid(c.f[F5_VA_NUMBER].p, c.f[F5_VA_NUMBER].n)) {
        refuse(&c, "0014");
        goto out;
    }
    p.bank_code = reply->bank_code;
    p.va_number = c.f[F5_VA_NUMBER].p;
    p.payment_ref = ref->p;
    p.payment_ref_len = ref->n;
    p.amount = c.v[F5_AMOUNT].i;
    p.rq_uuid = c.f[F5_RQ_UUID].p;
    p.rq_uuid_len = c.f[F5_RQ_UUID].n;
    p.now = c.now;
    p.render = render_payment;
    p.render_ctx = &c;
    st->ops->payment_apply(st, &p);
    switch (p.status) {
    case PAY_COMMITTED:
    case PAY_REPLAY:
        buf_free(&reply->body);
        reply->body = p.response;
        buf_init(&p.response, SIZE_MAX / 2);
        reply->http_status = 200;
        reply->replayed = p.status == PAY_REPLAY;
        snprintf(reply->error_code, sizeof reply->error_code, "%s", CODE_SUCCESS);
        if (p.status == PAY_COMMITTED) {
            snprintf(reply->comm_code, sizeof reply->comm_code, "%s", p.inv.comm_code);
            if (cfg->on_payment)
                cfg->on_payment(cfg->on_payment_ctx);
        }
        break;
    case PAY_CONFLICT:
        refuse(&c, "0019");
        break;
    case PAY_REFUSED:
        refuse(&c, p.refused_code);
        break;
    case PAY_FAILED:
        system_error(&c, st->errmsg[0] ? st->errmsg : err_str(p.err));
        break;
    }
out:
    buf_free(&p.response);
    finish(&c);
}

/* The partner's part shared by checkstatus and closeinvoice: community,
 * signature, clock, and the invoice itself (0013).  *inv is the caller's. */
static bool partner_checks(struct call *c, const char *mode, struct store_invoice **inv)
{
    const struct fv *code = &c->f[FP_COMM_CODE];
    char comm_code[LIMIT_COMM_CODE + 1];
    memcpy(comm_code, code->p, code->n);
    comm_code[code->n] = '\0';
    struct store_community comm;
    enum vb_err e = c->st->ops->community_get(c->st, comm_code, &comm);
    if (e == ERR_NOTFOUND || (e == ERR_OK && !comm.enabled)) {
        if (e == ERR_OK)
            store_community_wipe(&comm);
        refuse(c, CODE_COMMUNITY);
        return false;
    }
    if (e) {
        system_error(c, c->st->errmsg);
        return false;
    }
    snprintf(c->reply->comm_code, sizeof c->reply->comm_code, "%s", comm_code);
    static const int sig_fields[] = {FP_RQ_UUID, FP_RQ_DATETIME, FP_COMM_CODE, FP_DOC_NO};
    const char *keys[2];
    int nkeys = store_community_keys(&comm, c->now, keys);
    bool ok = false;
    for (int k = 0; k < nkeys && !ok; k++)
        ok = signed_ok(c, sig_fields, 4, keys[k], mode);
    store_community_wipe(&comm);
    if (!ok) {
        refuse(c, CODE_SIGNATURE);
        return false;
    }
    if (!clock_ok(c)) {
        refuse(c, CODE_EXPIRED_RQ);
        return false;
    }
    const struct fv *doc = &c->f[FP_DOC_NO];
    e = c->st->ops->invoice_get(c->st, comm_code, doc->p, doc->n, inv);
    if (e == ERR_NOTFOUND) {
        refuse(c, "0013");
        return false;
    }
    if (e) {
        system_error(c, c->st->errmsg);
        return false;
    }
    return true;
}

/* The status a partner sees: expiry is derived from the stored instant. */
static const char *visible_status(const struct store_invoice *inv, int64_t now)
{
    if (strcmp(inv->status, "open") == 0 && now > inv->expires_at)
        return "expired";
    return inv->status;
}

void svc_checkstatus(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                     const char *body, size_t n, struct svc_reply *reply)
{
    struct call c = {.cfg = cfg, .st = st, .reply = reply, .table = FT_PARTNER};
    struct store_invoice *inv = NULL;
    struct store_payment_row *pays = NULL;
    size_t npays = 0;
    if (!begin(&c, kind, body, n) || !partner_checks(&c, SIG_MODE_CHECKSTATUS, &inv))
        goto out;
    enum vb_err e = st->ops->invoice_payments(st, inv->id, &pays, &npays);
    if (e) {
        system_error(&c, st->errmsg);
        goto out;
    }
    int offset = cfg->utc_offset_min;
    struct buf *b = &reply->body;
    buf_reset(b);
    success_head(&c, b);
    add_cstr(b, "doc_no", inv->doc_no);
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(inv->id, ref);
    add_cstr(b, "doc_ref_no", ref);
    add_cstr(b, "status", visible_status(inv, c.now));
    add_money(b, "amount", inv->amount);
    add_money(b, "paid_total", inv->amount - inv->outstanding);
    add_money(b, "outstanding_amount", inv->outstanding);
    buf_adds(b, ",\"list_va\":{");
    char expired[DT_LEN + 1];
    dt_format(inv->expires_at, offset, expired);
    const char *descr = inv->description ? inv->description : "";
    for (size_t k = 0; k < inv->nva; k++) {
        buf_printf(b, "%s\"%s\":{\"bank_code\":\"%s\",\"va_number\":\"%s\",\"expired\":\"%s\"",
                   k ? "," : "", inv->va[k].bank_code, inv->va[k].bank_code, inv->va[k].va_number,
                   expired);
        add_cstr(b, "description", descr);
        buf_addc(b, '}');
    }
    buf_adds(b, "},\"payments\":[");
    for (size_t k = 0; k < npays; k++) {
        buf_adds(b, k ? ",{\"payment_ref\":" : "{\"payment_ref\":");
        buf_add_json_str(b, pays[k].payment_ref, strlen(pays[k].payment_ref));
        add_cstr(b, "bank_code", pays[k].bank_code);
        add_cstr(b, "va_number", pays[k].va_number);
        add_money(b, "amount", pays[k].amount);
        add_time(b, "paid_at", pays[k].paid_at, offset);
        buf_addc(b, '}');
    }
    buf_adds(b, "]}");
out:
    free(pays);
    store_invoice_free(inv);
    finish(&c);
}

void svc_closeinvoice(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                      const char *body, size_t n, struct svc_reply *reply)
{
    struct call c = {.cfg = cfg, .st = st, .reply = reply, .table = FT_PARTNER};
    struct store_invoice *inv = NULL;
    if (!begin(&c, kind, body, n) || !partner_checks(&c, SIG_MODE_CLOSEINVOICE, &inv))
        goto out;
    const char *code = NULL;
    enum vb_err e = st->ops->invoice_close(st, reply->comm_code, inv->doc_no, strlen(inv->doc_no),
                                           c.now, &code);
    if (e == ERR_NOTFOUND) {
        refuse(&c, "0013");
        goto out;
    }
    if (e) {
        system_error(&c, st->errmsg);
        goto out;
    }
    if (code) {
        refuse(&c, code);
        goto out;
    }
    struct buf *b = &reply->body;
    buf_reset(b);
    success_head(&c, b);
    add_cstr(b, "doc_no", inv->doc_no);
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(inv->id, ref);
    add_cstr(b, "doc_ref_no", ref);
    add_cstr(b, "status", "closed");
    buf_addc(b, '}');
out:
    store_invoice_free(inv);
    finish(&c);
}
