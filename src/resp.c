/*
 * resp: response encoding.  See resp.h.
 */
#include "resp.h"

#include <stdlib.h>
#include <string.h>

#include "dt.h"
#include "va.h"

void resp_head(struct buf *out, const char *rq_uuid, size_t n, int64_t now, int offset,
               const struct fail *f)
{
    char rs[DT_LEN + 1];
    dt_format(now, offset, rs);
    resp_head_at(out, rq_uuid, n, rs, f);
}

void resp_head_at(struct buf *out, const char *rq_uuid, size_t n, const char *rs,
                  const struct fail *f)
{
    buf_adds(out, "{\"rq_uuid\":");
    buf_add_json_str(out, rq_uuid ? rq_uuid : "", rq_uuid ? n : 0);
    buf_adds(out, ",\"rs_datetime\":\"");
    buf_adds(out, rs);
    buf_adds(out, "\",\"error_code\":\"");
    buf_adds(out, f->code);
    buf_adds(out, "\",\"error_message\":");
    struct buf msg;
    buf_init(&msg, 4096);
    code_message(&msg, f, 0);
    buf_add_json_str(out, msg.p ? msg.p : "", msg.len);
    buf_free(&msg);
}

enum vb_err resp_short_failure(struct buf *out, const char *rq_uuid, size_t rq_uuid_len,
                               int64_t now, int utc_offset_min, const struct fail *f)
{
    resp_head(out, rq_uuid, rq_uuid_len, now, utc_offset_min, f);
    buf_addc(out, '}');
    return out->failed;
}

enum vb_err resp_failure(struct buf *out, const char *rq_uuid, size_t rq_uuid_len, int64_t now,
                         int utc_offset_min, const struct fail *f)
{
    resp_head(out, rq_uuid, rq_uuid_len, now, utc_offset_min, f);
    buf_adds(out, ",\"invoices\":{},\"invoices_success\":{},\"invoices_error\":{},"
                  "\"total_invoice\":\"0\"}");
    return out->failed;
}

/*
 * The record of a 0000 answer (see resp.h): byte 1 first (a JSON answer
 * starts with '{'), then
 *
 *   rs_datetime, expired          DT_LEN bytes each
 *   rq_uuid                       str
 *   nbanks, then per bank         bank_code str, prefix str
 *   va_length, n                  varints
 *   per invoice                   outcome byte, doc_no str, then
 *     accepted:                   id, serial varints, description str
 *     refused:                    code str, what str
 *
 * where a varint is LEB128 (7 bits a byte, low first) and a str is a
 * varint length and the bytes.
 */
#define RECORD_V1 1

static void put_varint(struct buf *out, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    buf_add(out, b, n);
}

static void put_str(struct buf *out, const char *p, size_t n)
{
    put_varint(out, n);
    buf_add(out, p, n);
}

enum vb_err resp_record(struct store_unit *u, struct buf *out)
{
    int offset = *(const int *)u->render_ctx;
    const struct store_community *c = u->comm;
    char dt[DT_LEN + 1];
    buf_addc(out, RECORD_V1);
    dt_format(u->now, offset, dt);
    buf_add(out, dt, DT_LEN);
    dt_format(u->now + (int64_t)c->va_ttl_min * 60, offset, dt);
    buf_add(out, dt, DT_LEN);
    put_str(out, u->rq_uuid ? u->rq_uuid : "", u->rq_uuid ? u->rq_uuid_len : 0);
    put_varint(out, c->nbanks);
    for (size_t b = 0; b < c->nbanks; b++) {
        put_str(out, c->banks[b].bank_code, strlen(c->banks[b].bank_code));
        put_str(out, c->banks[b].prefix, strlen(c->banks[b].prefix));
    }
    put_varint(out, (uint64_t)c->va_length);
    put_varint(out, u->n);
    for (size_t i = 0; i < u->n; i++) {
        const struct invoice *inv = &u->inv[i];
        const struct store_result *r = &u->res[i];
        buf_addc(out, (char)r->outcome);
        put_str(out, inv->doc_no, inv->doc_no_len);
        if (r->outcome == OUT_ACCEPTED) {
            put_varint(out, (uint64_t)r->id);
            put_varint(out, (uint64_t)r->serial);
            put_str(out, inv->description ? inv->description : "",
                    inv->description ? inv->description_len : 0);
        } else if (r->outcome == OUT_REFUSED) {
            put_str(out, inv->fail.code, strlen(inv->fail.code));
            put_str(out, inv->fail.what ? inv->fail.what : "", inv->fail.what_len);
        }
    }
    return out->failed;
}

/* A record being read: every get checks the bytes left. */
struct reader {
    const unsigned char *p, *end;
    bool bad;
};

static uint64_t get_varint(struct reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p == r->end)
            break;
        unsigned char b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static const char *get_bytes(struct reader *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return "";
    }
    const char *s = (const char *)r->p;
    r->p += n;
    return s;
}

/* A string of the record, in place (get_bytes checks its length). */
static const char *get_str(struct reader *r, size_t *n)
{
    uint64_t len = get_varint(r);
    if (len > (uint64_t)(r->end - r->p)) {
        r->bad = true;
        len = 0;
    }
    *n = (size_t)len;
    return get_bytes(r, *n);
}

/* A string of the record, NUL-terminated into out (max bytes at most). */
static void get_cstr(struct reader *r, char *out, size_t max)
{
    size_t n;
    const char *s = get_str(r, &n);
    if (n > max) {
        r->bad = true;
        n = 0;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static void get_dt(struct reader *r, char out[DT_LEN + 1])
{
    const char *s = get_bytes(r, DT_LEN);
    size_t n = r->bad ? 0 : DT_LEN;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* One invoice of a record. */
struct rec_inv {
    int outcome;
    const char *doc_no, *desc, *what;
    size_t doc_no_len, desc_len, what_len;
    int64_t id, serial;
    char code[5];
};

/* The banks and expiry shared by every accepted invoice of a record. */
struct rec_head {
    char expired[DT_LEN + 1];
    size_t nbanks;
    char bank_code[LIMIT_BANKS][LIMIT_BANK_CODE + 1];
    char prefix[LIMIT_BANKS][LIMIT_VA_LENGTH_MAX + 1];
    int va_length;
};

static void add_invoice(struct buf *out, const struct rec_head *h, const struct rec_inv *v)
{
    struct fail f = {v->code, v->what, v->what_len};
    if (v->outcome == OUT_LISTED)
        f = (struct fail){CODE_LISTED, NULL, 0};
    else if (v->outcome == OUT_EXHAUSTED)
        f = (struct fail){CODE_EXHAUSTED, NULL, 0};
    else if (v->outcome == OUT_ACCEPTED)
        f = (struct fail){CODE_SUCCESS, NULL, 0};

    buf_add_json_str(out, v->doc_no, v->doc_no_len);
    buf_adds(out, ":{\"error_code\":\"");
    buf_adds(out, f.code);
    buf_adds(out, "\",\"error_msg\":");
    char small[128];
    struct buf msg = {small, 0, sizeof small, sizeof small - 1, ERR_OK};
    /* messages name a field or a doc_no: they fit in the stack buffer */
    code_message(&msg, &f, 1);
    buf_add_json_str(out, msg.p, msg.len);
    if (v->outcome != OUT_ACCEPTED) {
        buf_adds(out, ",\"doc_ref_no\":\"\"}");
        return;
    }
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(v->id, ref);
    buf_adds(out, ",\"doc_ref_no\":\"");
    buf_adds(out, ref);
    buf_adds(out, "\",\"list_va\":{");
    for (size_t b = 0; b < h->nbanks; b++) {
        char va[VA_MAX];
        if (!va_format(h->prefix[b], h->va_length, v->serial, va))
            va[0] = '\0';
        buf_adds(out, b ? ",\"" : "\"");
        buf_adds(out, h->bank_code[b]);
        buf_adds(out, "\":{\"bank_code\":\"");
        buf_adds(out, h->bank_code[b]);
        buf_adds(out, "\",\"va_number\":\"");
        buf_adds(out, va);
        buf_adds(out, "\",\"expired\":\"");
        buf_adds(out, h->expired);
        buf_adds(out, "\",\"description\":");
        buf_add_json_str(out, v->desc, v->desc_len);
        buf_addc(out, '}');
    }
    buf_adds(out, "}}");
}

/* Copies the members of one outcome (accepted or not) from the invoices map. */
static void add_split(struct buf *out, const struct rec_inv *v, size_t n, const size_t *span,
                      bool accepted)
{
    buf_addc(out, '{');
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if ((v[i].outcome == OUT_ACCEPTED) != accepted)
            continue;
        if (!first)
            buf_addc(out, ',');
        first = false;
        /* out may move while it grows: copy through an offset */
        size_t from = span[2 * i], len = span[2 * i + 1];
        if (buf_reserve(out, len) == ERR_OK)
            buf_add(out, out->p + from, len);
    }
    buf_addc(out, '}');
}

/* Reads one invoice of a record into v. */
static void read_invoice(struct reader *r, struct rec_inv *v)
{
    memset(v, 0, sizeof *v);
    const char *o = get_bytes(r, 1);
    v->outcome = r->bad ? -1 : (unsigned char)*o;
    v->doc_no = get_str(r, &v->doc_no_len);
    v->desc = "";
    switch (v->outcome) {
    case OUT_ACCEPTED:
        v->id = (int64_t)get_varint(r);
        v->serial = (int64_t)get_varint(r);
        v->desc = get_str(r, &v->desc_len);
        break;
    case OUT_REFUSED:
        get_cstr(r, v->code, sizeof v->code - 1);
        v->what = get_str(r, &v->what_len);
        break;
    case OUT_LISTED:
    case OUT_EXHAUSTED:
        break;
    default:
        r->bad = true;
    }
}

static enum vb_err render_record(const unsigned char *p, size_t n, struct buf *out)
{
    struct reader r = {p + 1, p + n, false};
    char rs[DT_LEN + 1];
    struct rec_head h;
    get_dt(&r, rs);
    get_dt(&r, h.expired);
    size_t uuid_len;
    const char *uuid = get_str(&r, &uuid_len);
    h.nbanks = (size_t)get_varint(&r);
    if (h.nbanks > LIMIT_BANKS)
        return ERR_STORE;
    for (size_t b = 0; b < h.nbanks; b++) {
        get_cstr(&r, h.bank_code[b], LIMIT_BANK_CODE);
        get_cstr(&r, h.prefix[b], LIMIT_VA_LENGTH_MAX);
    }
    h.va_length = (int)get_varint(&r);
    uint64_t ninv = get_varint(&r);
    /* every invoice takes two bytes at least */
    if (r.bad || ninv > LIMIT_INVOICES || ninv > (uint64_t)(r.end - r.p) / 2)
        return ERR_STORE;
    struct rec_inv *v = malloc(sizeof *v * (ninv ? ninv : 1));
    size_t *span = malloc(sizeof *span * 2 * (ninv ? ninv : 1));
    enum vb_err e = v && span ? ERR_OK : ERR_NOMEM;
    for (size_t i = 0; !e && i < ninv; i++) {
        read_invoice(&r, &v[i]);
        if (r.bad)
            e = ERR_STORE;
    }
    if (!e && r.p != r.end)
        e = ERR_STORE;
    if (!e) {
        struct fail ok = {CODE_SUCCESS, NULL, 0};
        resp_head_at(out, uuid, uuid_len, rs, &ok);
        buf_adds(out, ",\"invoices\":{");
        for (size_t i = 0; i < ninv; i++) {
            if (i)
                buf_addc(out, ',');
            span[2 * i] = out->len;
            add_invoice(out, &h, &v[i]);
            span[2 * i + 1] = out->len - span[2 * i];
        }
        buf_adds(out, "},\"invoices_success\":");
        add_split(out, v, ninv, span, true);
        buf_adds(out, ",\"invoices_error\":");
        add_split(out, v, ninv, span, false);
        buf_printf(out, ",\"total_invoice\":\"%zu\"}", (size_t)ninv);
        e = out->failed;
    }
    free(v);
    free(span);
    return e;
}

enum vb_err resp_from_stored(const void *stored, size_t n, struct buf *out)
{
    const unsigned char *p = stored;
    if (n > 0 && p[0] == '{')
        return buf_add(out, p, n); /* an answer stored whole (before the record) */
    if (n == 0 || p[0] != RECORD_V1)
        return ERR_STORE;
    return render_record(p, n, out);
}

enum vb_err resp_batch(struct store_unit *u, struct buf *out)
{
    struct buf rec;
    buf_init(&rec, SIZE_MAX / 2);
    enum vb_err e = resp_record(u, &rec);
    if (!e)
        e = resp_from_stored(rec.p, rec.len, out);
    buf_free(&rec);
    return e;
}
