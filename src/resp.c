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

static void add_invoice(struct buf *out, const struct store_unit *u, size_t i, const char *expired)
{
    const struct invoice *inv = &u->inv[i];
    const struct store_result *r = &u->res[i];
    struct fail f = inv->fail;
    if (r->outcome == OUT_LISTED)
        f = (struct fail){CODE_LISTED, NULL, 0};
    else if (r->outcome == OUT_EXHAUSTED)
        f = (struct fail){CODE_EXHAUSTED, NULL, 0};
    else if (r->outcome == OUT_ACCEPTED)
        f = (struct fail){CODE_SUCCESS, NULL, 0};

    buf_add_json_str(out, inv->doc_no, inv->doc_no_len);
    buf_adds(out, ":{\"error_code\":\"");
    buf_adds(out, f.code);
    buf_adds(out, "\",\"error_msg\":");
    char small[128];
    struct buf msg = {small, 0, sizeof small, sizeof small - 1, ERR_OK};
    /* messages name a field or a doc_no: they fit in the stack buffer */
    code_message(&msg, &f, 1);
    buf_add_json_str(out, msg.p, msg.len);
    if (r->outcome != OUT_ACCEPTED) {
        buf_adds(out, ",\"doc_ref_no\":\"\"}");
        return;
    }
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(r->id, ref);
    buf_adds(out, ",\"doc_ref_no\":\"");
    buf_adds(out, ref);
    buf_adds(out, "\",\"list_va\":{");
    const struct store_community *c = u->comm;
    for (size_t b = 0; b < c->nbanks; b++) {
        char va[VA_MAX];
        if (!va_format(c->banks[b].prefix, c->va_length, r->serial, va))
            va[0] = '\0';
        buf_adds(out, b ? ",\"" : "\"");
        buf_adds(out, c->banks[b].bank_code);
        buf_adds(out, "\":{\"bank_code\":\"");
        buf_adds(out, c->banks[b].bank_code);
        buf_adds(out, "\",\"va_number\":\"");
        buf_adds(out, va);
        buf_adds(out, "\",\"expired\":\"");
        buf_adds(out, expired);
        buf_adds(out, "\",\"description\":");
        buf_add_json_str(out, inv->description ? inv->description : "",
                         inv->description ? inv->description_len : 0);
        buf_addc(out, '}');
    }
    buf_adds(out, "}}");
}

/* Copies the members of one outcome (accepted or not) from the invoices map. */
static void add_split(struct buf *out, const struct store_unit *u, const size_t *span,
                      bool accepted)
{
    buf_addc(out, '{');
    bool first = true;
    for (size_t i = 0; i < u->n; i++) {
        if ((u->res[i].outcome == OUT_ACCEPTED) != accepted)
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

enum vb_err resp_batch(struct store_unit *u, struct buf *out)
{
    int offset = *(const int *)u->render_ctx;
    char expired[DT_LEN + 1];
    dt_format(u->now + (int64_t)u->comm->va_ttl_min * 60, offset, expired);
    struct fail ok = {CODE_SUCCESS, NULL, 0};
    resp_head(out, u->rq_uuid, u->rq_uuid_len, u->now, offset, &ok);

    size_t *span = malloc(sizeof *span * 2 * (u->n ? u->n : 1));
    if (span == NULL)
        return ERR_NOMEM;
    buf_adds(out, ",\"invoices\":{");
    for (size_t i = 0; i < u->n; i++) {
        if (i)
            buf_addc(out, ',');
        span[2 * i] = out->len;
        add_invoice(out, u, i, expired);
        span[2 * i + 1] = out->len - span[2 * i];
    }
    buf_adds(out, "},\"invoices_success\":");
    add_split(out, u, span, true);
    buf_adds(out, ",\"invoices_error\":");
    add_split(out, u, span, false);
    buf_printf(out, ",\"total_invoice\":\"%zu\"}", u->n);
    free(span);
    return out->failed;
}
