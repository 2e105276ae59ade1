/*
 * report: the payments and invoices reports.  See report.h and
 * docs/REPORTS.md for the formats.
 *
 * Each report is written line by line: a line is built in a bounded
 * buffer, then handed to the sink, so memory stays flat however many rows
 * the store yields.  Totals grow with the number of distinct banks and
 * communities only.  The store's rows are trusted for their types (the
 * store checked them on the way in) but their text is partner input and
 * goes out only through report_csv_field or buf_add_json_str.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "dt.h"

/* One rendered line: the longest field is a member name of
 * LIMIT_MEMBER_NAME characters of up to 4 UTF-8 bytes, each at most 6
 * bytes once escaped; a line is far below this. */
#define LINE_MAX (16 * 1024)

int report_buf_write(void *ctx, const char *p, size_t n)
{
    return buf_add(ctx, p, n) != ERR_OK;
}

bool report_parse_format(const char *s, enum report_format *out)
{
    if (strcmp(s, "csv") == 0)
        *out = REPORT_CSV;
    else if (strcmp(s, "json") == 0)
        *out = REPORT_JSON;
    else
        return false;
    return true;
}

/* 00:00:00 of day ("YYYY-MM-DD") at offset_min, as UTC seconds. */
static bool day_start(const char *day, int offset_min, int64_t *out)
{
    char text[DT_LEN + 1];
    if (strlen(day) != REPORT_DAY_LEN)
        return false;
    memcpy(text, day, REPORT_DAY_LEN);
    memcpy(text + REPORT_DAY_LEN, " 00:00:00", DT_LEN - REPORT_DAY_LEN + 1);
    return dt_parse(text, DT_LEN, offset_min, out);
}

enum vb_err report_day_range(const char *from_day, const char *to_day, int offset_min,
                             int64_t *from, int64_t *to)
{
    int64_t f, t;
    if (!day_start(from_day, offset_min, &f) || !day_start(to_day, offset_min, &t) || f > t)
        return ERR_INVALID;
    *from = f;
    *to = t + 86400;
    return ERR_OK;
}

void report_format_offset(int offset_min, char out[REPORT_OFFSET_LEN + 1])
{
    int a = offset_min < 0 ? -offset_min : offset_min;
    /* dt_parse_offset keeps offsets within +-14:00: two digits each */
    out[0] = offset_min < 0 ? '-' : '+';
    out[1] = (char)('0' + a / 60 / 10 % 10);
    out[2] = (char)('0' + a / 60 % 10);
    out[3] = ':';
    out[4] = (char)('0' + a % 60 / 10);
    out[5] = (char)('0' + a % 10);
    out[6] = '\0';
}

int64_t report_age_days(int64_t from, int64_t to, int offset_min)
{
    int64_t a = from + (int64_t)offset_min * 60, b = to + (int64_t)offset_min * 60;
    /* floor division, so a day before the epoch is still a whole day */
    int64_t da = a >= 0 ? a / 86400 : -((-a + 86399) / 86400);
    int64_t db = b >= 0 ? b / 86400 : -((-b + 86399) / 86400);
    return db - da;
}

static bool csv_blank(char c)
{
    return c == ' ' || c == '\t';
}

enum vb_err report_csv_field(struct buf *b, const char *p, size_t n)
{
    /* a spreadsheet runs a cell starting with one of these as a formula */
    bool guard = n && (p[0] == '=' || p[0] == '+' || p[0] == '-' || p[0] == '@' || p[0] == '\t' ||
                       p[0] == '\r');
    bool quote = n && (csv_blank(p[0]) || csv_blank(p[n - 1]));
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
    if (quote)
        buf_addc(b, '"');
    if (guard)
        buf_addc(b, '\'');
    if (!quote) {
        buf_add(b, p, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '"')
                buf_addc(b, '"');
            buf_addc(b, p[i]);
        }
        buf_addc(b, '"');
    }
    return b->failed;
}

static bool add_overflows(int64_t a, int64_t b, int64_t *sum)
{
    return __builtin_add_overflow(a, b, sum);
}

enum vb_err report_totals_add(struct report_totals *t, const char *code, int64_t amount)
{
    size_t len = strlen(code);
    if (len > LIMIT_COMM_CODE || amount < 0)
        return ERR_INVALID;
    /* binary search for code: lo ends at its place */
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->v[mid].code, code);
        if (c == 0) {
            int64_t count, sum;
            if (add_overflows(t->v[mid].count, 1, &count) ||
                add_overflows(t->v[mid].amount, amount, &sum))
                return ERR_INVALID;
            t->v[mid].count = count;
            t->v[mid].amount = sum;
            return ERR_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (t->n == REPORT_MAX_GROUPS)
        return ERR_TOOBIG;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        if (cap > REPORT_MAX_GROUPS)
            cap = REPORT_MAX_GROUPS;
        struct report_total *v = realloc(t->v, cap * sizeof *v);
        if (v == NULL)
            return ERR_NOMEM;
        t->v = v;
        t->cap = cap;
    }
    memmove(&t->v[lo + 1], &t->v[lo], (t->n - lo) * sizeof *t->v);
    memcpy(t->v[lo].code, code, len + 1);
    t->v[lo].count = 1;
    t->v[lo].amount = amount;
    t->n++;
    return ERR_OK;
}

void report_totals_free(struct report_totals *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

/* ---- shared by both reports ---- */

struct out {
    const struct report_sink *sink;
    enum report_format format;
    int offset_min;
    struct buf line;
    bool first;      /* no row written yet */
    enum vb_err err; /* why a row callback stopped the listing */
};

/* Hands the line to the sink and empties it. */
static enum vb_err flush_line(struct out *o)
{
    enum vb_err e = o->line.failed;
    if (e == ERR_OK && o->line.len && o->sink->write(o->sink->ctx, o->line.p, o->line.len) != 0)
        e = ERR_TOOBIG;
    buf_reset(&o->line);
    o->line.failed = ERR_OK;
    return e;
}

static void csv_text(struct out *o, const char *s, bool last)
{
    report_csv_field(&o->line, s, strlen(s));
    buf_adds(&o->line, last ? "\r\n" : ",");
}

static void csv_money(struct out *o, int64_t v, bool last)
{
    buf_add_money(&o->line, v);
    buf_adds(&o->line, last ? "\r\n" : ",");
}

static void csv_count(struct out *o, int64_t v, bool last)
{
    buf_printf(&o->line, "%lld%s", (long long)v, last ? "\r\n" : ",");
}

/* ,"name":"text" (no comma before the first member of an object) */
static void json_text(struct out *o, const char *name, const char *s, bool first)
{
    buf_printf(&o->line, "%s\"%s\":", first ? "" : ",", name);
    buf_add_json_str(&o->line, s, strlen(s));
}

static void json_money(struct out *o, const char *name, int64_t v)
{
    buf_printf(&o->line, ",\"%s\":\"", name);
    buf_add_money(&o->line, v);
    buf_addc(&o->line, '"');
}

static void text_time(struct out *o, const char *name, int64_t t, bool first, bool last)
{
    char s[DT_LEN + 1];
    dt_format(t, o->offset_min, s);
    if (o->format == REPORT_CSV)
        csv_text(o, s, last);
    else
        json_text(o, name, s, first);
}

static void text_field(struct out *o, const char *name, const char *s)
{
    if (o->format == REPORT_CSV)
        csv_text(o, s, false);
    else
        json_text(o, name, s, false);
}

static void money_field(struct out *o, const char *name, int64_t v, bool last)
{
    if (o->format == REPORT_CSV)
        csv_money(o, v, last);
    else
        json_money(o, name, v);
}

/* The totals of one table after what the line holds: CSV rows
 * "kind,code,count,amount", or JSON {"<code_name>":"...","<count_name>":n,
 * "<amount_name>":"..."} objects separated by commas; each row is flushed. */
static enum vb_err write_totals(struct out *o, const char *kind, const struct report_totals *t,
                                const char *code_name, const char *count_name,
                                const char *amount_name)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct report_total *x = &t->v[i];
        if (o->format == REPORT_CSV) {
            csv_text(o, kind, false);
            csv_text(o, x->code, false);
            csv_count(o, x->count, false);
            csv_money(o, x->amount, true);
        } else {
            buf_adds(&o->line, i ? ",{" : "{");
            json_text(o, code_name, x->code, true);
            buf_printf(&o->line, ",\"%s\":%lld", count_name, (long long)x->count);
            json_money(o, amount_name, x->amount);
            buf_addc(&o->line, '}');
        }
        enum vb_err e = flush_line(o);
        if (e)
            return e;
    }
    return ERR_OK;
}

/* Count and sum of every row, checked like a totals entry. */
static enum vb_err count_all(struct report_total *all, int64_t amount)
{
    int64_t count, sum;
    if (add_overflows(all->count, 1, &count) || add_overflows(all->amount, amount, &sum))
        return ERR_INVALID;
    all->count = count;
    all->amount = sum;
    return ERR_OK;
}

/* ---- payments ---- */

struct pay_report {
    struct out o;
    struct report_totals banks, comms;
    struct report_total all;
};

static int payment_row(void *ctx, const struct store_report_payment *r)
{
    struct pay_report *p = ctx;
    struct out *o = &p->o;
    enum vb_err e = report_totals_add(&p->banks, r->bank_code, r->amount);
    if (e == ERR_OK)
        e = report_totals_add(&p->comms, r->comm_code, r->amount);
    if (e == ERR_OK)
        e = count_all(&p->all, r->amount);
    if (e) {
        o->err = e;
        return 1;
    }
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(r->invoice_id, ref);
    if (o->format == REPORT_JSON)
        buf_adds(&o->line, o->first ? "\n{" : ",\n{");
    o->first = false;
    text_time(o, "paid_at", r->paid_at, true, false);
    text_field(o, "comm_code", r->comm_code);
    text_field(o, "doc_no", r->doc_no);
    text_field(o, "doc_ref_no", ref);
    text_field(o, "bank_code", r->bank_code);
    text_field(o, "va_number", r->va_number);
    text_field(o, "payment_ref", r->payment_ref);
    money_field(o, "amount", r->amount, false);
    money_field(o, "outstanding_after", r->outstanding_after, false);
    const char *status = r->outstanding_after == 0 ? "paid" : "partial";
    if (o->format == REPORT_CSV) {
        csv_text(o, status, true);
    } else {
        json_text(o, "status", status, false);
        buf_addc(&o->line, '}');
    }
    e = flush_line(o);
    if (e) {
        o->err = e;
        return 1;
    }
    return 0;
}

static const char pay_header[] = "paid_at,comm_code,doc_no,doc_ref_no,bank_code,va_number,"
                                 "payment_ref,amount,outstanding_after,status\r\n";

enum vb_err report_payments(struct store *s, const struct report_payments_query *q,
                            const struct report_sink *sink)
{
    struct store_payment_filter f = {0, 0, q->comm_code, q->bank_code};
    if (report_day_range(q->from_day, q->to_day, q->offset_min, &f.from, &f.to))
        return ERR_INVALID;
    struct pay_report p;
    memset(&p, 0, sizeof p);
    p.o.sink = sink;
    p.o.format = q->format;
    p.o.offset_min = q->offset_min;
    p.o.first = true;
    buf_init(&p.o.line, LINE_MAX);
    char off[REPORT_OFFSET_LEN + 1];
    report_format_offset(q->offset_min, off);

    if (q->format == REPORT_CSV)
        buf_adds(&p.o.line, pay_header);
    else
        buf_printf(&p.o.line, "{\"from\":\"%s\",\"to\":\"%s\",\"utc_offset\":\"%s\",\"payments\":[",
                   q->from_day, q->to_day, off);
    enum vb_err e = flush_line(&p.o);
    if (e)
        goto out;
    e = s->ops->report_payments(s, &f, payment_row, &p);
    if (p.o.err)
        e = p.o.err; /* the row callback stopped the listing: its reason */
    if (e)
        goto out;

    if (q->format == REPORT_CSV) {
        buf_adds(&p.o.line, "\r\ntotal,code,payments,amount\r\n");
        e = write_totals(&p.o, "bank", &p.banks, NULL, NULL, NULL);
        if (e == ERR_OK)
            e = write_totals(&p.o, "community", &p.comms, NULL, NULL, NULL);
        buf_printf(&p.o.line, "all,,%lld,", (long long)p.all.count);
        csv_money(&p.o, p.all.amount, true);
    } else {
        buf_adds(&p.o.line,
                 p.o.first ? "],\"totals\":{\"banks\":[" : "\n],\"totals\":{\"banks\":[");
        e = write_totals(&p.o, NULL, &p.banks, "bank_code", "payments", "amount");
        buf_adds(&p.o.line, "],\"communities\":[");
        if (e == ERR_OK)
            e = write_totals(&p.o, NULL, &p.comms, "comm_code", "payments", "amount");
        buf_printf(&p.o.line, "],\"all\":{\"payments\":%lld", (long long)p.all.count);
        json_money(&p.o, "amount", p.all.amount);
        buf_adds(&p.o.line, "}}}\n");
    }
    if (e == ERR_OK)
        e = flush_line(&p.o);
out:
    report_totals_free(&p.banks);
    report_totals_free(&p.comms);
    buf_free(&p.o.line);
    return e;
}

/* ---- outstanding invoices ---- */

struct inv_report {
    struct out o;
    int64_t now;
    struct report_totals comms;
    struct report_total all;
};

static int invoice_row(void *ctx, const struct store_invoice_row *r)
{
    struct inv_report *p = ctx;
    struct out *o = &p->o;
    enum vb_err e = report_totals_add(&p->comms, r->comm_code, r->outstanding);
    if (e == ERR_OK)
        e = count_all(&p->all, r->outstanding);
    if (e) {
        o->err = e;
        return 1;
    }
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(r->id, ref);
    bool expired = r->expires_at < p->now;
    long long age = (long long)report_age_days(r->accepted_at, p->now, o->offset_min);
    if (o->format == REPORT_JSON)
        buf_adds(&o->line, o->first ? "\n{" : ",\n{");
    o->first = false;
    text_time(o, "accepted_at", r->accepted_at, true, false);
    text_field(o, "comm_code", r->comm_code);
    text_field(o, "doc_no", r->doc_no);
    text_field(o, "doc_ref_no", ref);
    text_field(o, "member_code", r->member_code);
    text_field(o, "member_name", r->member_name);
    money_field(o, "amount", r->amount, false);
    money_field(o, "outstanding", r->outstanding, false);
    text_time(o, "expires_at", r->expires_at, false, false);
    if (o->format == REPORT_CSV)
        buf_printf(&o->line, "%lld,%s\r\n", age, expired ? "yes" : "no");
    else
        buf_printf(&o->line, ",\"age_days\":%lld,\"expired\":%s}", age, expired ? "true" : "false");
    e = flush_line(o);
    if (e) {
        o->err = e;
        return 1;
    }
    return 0;
}

static const char inv_header[] = "accepted_at,comm_code,doc_no,doc_ref_no,member_code,member_name,"
                                 "amount,outstanding,expires_at,age_days,expired\r\n";

enum vb_err report_invoices(struct store *s, const struct report_invoices_query *q,
                            const struct report_sink *sink)
{
    struct inv_report p;
    memset(&p, 0, sizeof p);
    p.o.sink = sink;
    p.o.format = q->format;
    p.o.offset_min = q->offset_min;
    p.o.first = true;
    p.now = q->now;
    buf_init(&p.o.line, LINE_MAX);
    char off[REPORT_OFFSET_LEN + 1], asof[DT_LEN + 1];
    report_format_offset(q->offset_min, off);
    dt_format(q->now, q->offset_min, asof);

    if (q->format == REPORT_CSV)
        buf_adds(&p.o.line, inv_header);
    else
        buf_printf(&p.o.line, "{\"as_of\":\"%s\",\"utc_offset\":\"%s\",\"invoices\":[", asof, off);
    enum vb_err e = flush_line(&p.o);
    /* stored status open: first those still payable, then the expired */
    static const char *const statuses[] = {"open", "expired"};
    for (size_t k = 0; e == ERR_OK && k < 2; k++) {
        struct store_invoice_filter f;
        memset(&f, 0, sizeof f);
        f.comm_code = q->comm_code;
        f.status = statuses[k];
        f.now = q->now;
        e = s->ops->invoice_search(s, &f, invoice_row, &p);
        if (p.o.err)
            e = p.o.err;
    }
    if (e)
        goto out;

    if (q->format == REPORT_CSV) {
        buf_adds(&p.o.line, "\r\ntotal,code,invoices,outstanding\r\n");
        e = write_totals(&p.o, "community", &p.comms, NULL, NULL, NULL);
        buf_printf(&p.o.line, "all,,%lld,", (long long)p.all.count);
        csv_money(&p.o, p.all.amount, true);
    } else {
        buf_adds(&p.o.line, p.o.first ? "],\"totals\":{\"communities\":["
                                      : "\n],\"totals\":{\"communities\":[");
        e = write_totals(&p.o, NULL, &p.comms, "comm_code", "invoices", "outstanding");
        buf_printf(&p.o.line, "],\"all\":{\"invoices\":%lld", (long long)p.all.count);
        json_money(&p.o, "outstanding", p.all.amount);
        buf_adds(&p.o.line, "}}}\n");
    }
    if (e == ERR_OK)
        e = flush_line(&p.o);
out:
    report_totals_free(&p.comms);
    buf_free(&p.o.line);
    return e;
}
