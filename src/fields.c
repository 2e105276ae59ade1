/*
 * fields: SPEC 1.1 and 1.3 as tables, and the one walker that applies them.
 *
 * Untrusted values enter here already decoded (escapes resolved) but not yet
 * judged.  Lengths count Unicode characters; bytes that are not UTF-8 make a
 * text field invalid.
 */
#include "fields.h"

#include <stdlib.h>
#include <string.h>

#include "dt.h"
#include "json.h"
#include "money.h"

enum rule_kind {
    RK_PRESENT,   /* any non-empty value (invoices: judged at step 9) */
    RK_PRINTABLE, /* string of printable ASCII, 1..max */
    RK_DATETIME,  /* "YYYY-MM-DD HH:MM:SS", a real date and time */
    RK_HEX64,     /* 64 hex digits */
    RK_ALNUM,     /* letters and digits, 1..max; a JSON integer allowed if number_ok */
    RK_UPPER3,    /* three upper-case letters */
    RK_TEXT,      /* string, at most max characters */
    RK_MONEY,     /* money, value >= min */
    RK_WHOLE,     /* digits (at most max), value in min..maxv */
    RK_DIGITS,    /* string of min..max digits */
    RK_DOC_NO,    /* SPEC 1.3 Document No: 1..32 printable ASCII, no outer blank */
};

struct rule {
    const char *name;
    const char *alias;
    const char *display;
    bool mandatory;
    enum rule_kind kind;
    size_t max;
    int64_t min, maxv;
    bool number_ok;
};

const char *const rq_field_names[RQ_NFIELDS] = {
    "rq_uuid", "rq_datetime", "signature", "comm_code", "ccy", "invoices", "total_invoices",
};

static const struct rule rq_rules[RQ_NFIELDS] = {
    {"rq_uuid", NULL, "rq_uuid", true, RK_PRINTABLE, LIMIT_RQ_UUID, 0, 0, false},
    {"rq_datetime", NULL, "rq_datetime", true, RK_DATETIME, LIMIT_RQ_DATETIME, 0, 0, false},
    {"signature", NULL, "signature", true, RK_HEX64, 64, 0, 0, false},
    {"comm_code", NULL, "comm_code", true, RK_ALNUM, LIMIT_COMM_CODE, 0, 0, false},
    {"ccy", NULL, "ccy", true, RK_UPPER3, LIMIT_CCY, 0, 0, false},
    {"invoices", NULL, "invoices", true, RK_PRESENT, 0, 0, 0, false},
    {"total_invoices", NULL, "total_invoices", true, RK_WHOLE, LIMIT_TOTAL_INVOICES_DIGITS, 1, 999,
     true},
};

/* SPEC 5 services (order: docs/DECISIONS.md). */
static const struct rule bank_rules[] = {
    {"rq_uuid", NULL, "rq_uuid", true, RK_PRINTABLE, LIMIT_RQ_UUID, 0, 0, false},
    {"rq_datetime", NULL, "rq_datetime", true, RK_DATETIME, LIMIT_RQ_DATETIME, 0, 0, false},
    {"bank_code", NULL, "bank_code", true, RK_DIGITS, LIMIT_BANK_CODE, LIMIT_BANK_CODE, 0, false},
    {"va_number", NULL, "va_number", true, RK_DIGITS, LIMIT_VA_NUMBER_DIGITS, 1, 0, false},
    {"signature", NULL, "signature", true, RK_HEX64, 64, 0, 0, false},
    {"payment_ref", NULL, "payment_ref", true, RK_PRINTABLE, LIMIT_PAYMENT_REF, 0, 0, false},
    {"amount", NULL, "amount", true, RK_MONEY, 0, 1, 0, true},
};

static const struct rule partner_rules[] = {
    {"rq_uuid", NULL, "rq_uuid", true, RK_PRINTABLE, LIMIT_RQ_UUID, 0, 0, false},
    {"rq_datetime", NULL, "rq_datetime", true, RK_DATETIME, LIMIT_RQ_DATETIME, 0, 0, false},
    {"comm_code", NULL, "comm_code", true, RK_ALNUM, LIMIT_COMM_CODE, 0, 0, false},
    {"doc_no", NULL, "doc_no", true, RK_DOC_NO, LIMIT_DOC_NO, 0, 0, false},
    {"signature", NULL, "signature", true, RK_HEX64, 64, 0, 0, false},
};

static const struct {
    const struct rule *rules;
    size_t n;
} tables[] = {
    [FT_INQUIRY] = {bank_rules, 5},
    [FT_PAYMENT] = {bank_rules, 7},
    [FT_PARTNER] = {partner_rules, 5},
};

static const struct rule inv_rules[IF_NFIELDS] = {
    {"member_code", NULL, "Member Code", true, RK_ALNUM, LIMIT_MEMBER_CODE, 0, 0, true},
    {"member_name", NULL, "Member Name", false, RK_TEXT, LIMIT_MEMBER_NAME, 0, 0, false},
    {"amount", NULL, "Amount", true, RK_MONEY, 0, 1, 0, true},
    {"total_amount", NULL, "Total Amount", true, RK_MONEY, 0, 1, 0, true},
    {"number_of_installment", "jumlah_cicilan", "Number Of Installment", true, RK_WHOLE,
     LIMIT_INSTALLMENT_DIGITS, 1, LIMIT_INSTALLMENTS, true},
    {"installment_amount", "amount_cicilan", "Installment Amount", true, RK_MONEY, 0, 1, 0, true},
    {"balance_payment_amount", "pelunasan_amount", "Balance Payment Amount", false, RK_MONEY, 0, 0,
     0, true},
    {"description", NULL, "Description", false, RK_TEXT, LIMIT_DESCRIPTION, 0, 0, false},
    {"billing_date", "tanggal_penagihan", "Billing Date", true, RK_WHOLE, LIMIT_BILLING_DATE_DIGITS,
     1, 31, true},
};

/* What a rule made of a value. */
struct parsed {
    const char *p;
    size_t n;
    int64_t i;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool fv_is_empty(const struct fv *v)
{
    if (v->kind == FV_ABSENT || v->kind == FV_NULL)
        return true;
    if (v->kind != FV_STRING)
        return false;
    for (size_t i = 0; i < v->n; i++)
        if (!is_blank(v->p[i]))
            return false;
    return true;
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return n > 0;
}

/* SPEC 1.3 Document No: 1..32 printable ASCII, no leading or trailing blank. */
static bool doc_no_ok(const char *p, size_t n)
{
    if (n < 1 || n > LIMIT_DOC_NO || is_blank(p[0]) || is_blank(p[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return false;
    return true;
}

/* Judges a non-empty value; true when it follows the rule. */
static bool check_value(const struct rule *r, const struct fv *v, int utc_offset,
                        struct parsed *out)
{
    bool is_str = v->kind == FV_STRING;
    bool is_num = v->kind == FV_NUMBER;
    out->p = v->p;
    out->n = v->n;
    out->i = 0;
    switch (r->kind) {
    case RK_PRESENT:
        return true;
    case RK_PRINTABLE:
        if (!is_str || v->n > r->max)
            return false;
        for (size_t i = 0; i < v->n; i++)
            if (v->p[i] < 0x20 || v->p[i] > 0x7e)
                return false;
        return true;
    case RK_DATETIME:
        return is_str && dt_parse(v->p, v->n, utc_offset, &out->i);
    case RK_HEX64:
        if (!is_str || v->n != 64)
            return false;
        for (size_t i = 0; i < 64; i++) {
            char c = v->p[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                return false;
        }
        return true;
    case RK_ALNUM:
        if (is_num && r->number_ok)
            return v->n <= r->max && all_digits(v->p, v->n);
        if (!is_str || v->n < 1 || v->n > r->max)
            return false;
        for (size_t i = 0; i < v->n; i++)
            if (!is_alnum(v->p[i]))
                return false;
        return true;
    case RK_UPPER3:
        if (!is_str || v->n != 3)
            return false;
        for (size_t i = 0; i < 3; i++)
            if (v->p[i] < 'A' || v->p[i] > 'Z')
                return false;
        return true;
    case RK_TEXT: {
        /* a NUL is refused: it ends the text for every C reader downstream
         * (a bank's system, a mail merge), so it could never be shown */
        if (!is_str || memchr(v->p, '\0', v->n) != NULL)
            return false;
        long chars = json_utf8_chars(v->p, v->n);
        return chars >= 0 && (size_t)chars <= r->max;
    }
    case RK_MONEY:
        return (is_str || is_num) && money_parse(v->p, v->n, &out->i) && out->i >= r->min;
    case RK_DIGITS:
        return is_str && v->n >= (size_t)r->min && v->n <= r->max && all_digits(v->p, v->n);
    case RK_DOC_NO:
        return is_str && doc_no_ok(v->p, v->n);
    case RK_WHOLE:
        if (!(is_str || is_num) || v->n > r->max || !all_digits(v->p, v->n))
            return false;
        for (size_t i = 0; i < v->n; i++)
            out->i = out->i * 10 + (v->p[i] - '0');
        return out->i >= r->min && out->i <= r->maxv;
    }
    return false;
}

static void set_fail(struct fail *f, const char *code, const char *what)
{
    f->code = code;
    f->what = what;
    f->what_len = strlen(what);
}

bool fields_rq_uuid_ok(const struct fv *v)
{
    struct parsed p;
    return v->count == 1 && !fv_is_empty(v) && check_value(&rq_rules[RQ_UUID], v, 0, &p);
}

/* Steps 2 and 3 over one table: presence in table order, then format. */
static bool check_table(const struct rule *rules, size_t n, const struct fv *v, int utc_offset_min,
                        struct fvalue *out, struct fail *f)
{
    for (size_t k = 0; k < n; k++)
        if (fv_is_empty(&v[k])) {
            set_fail(f, CODE_MANDATORY, rules[k].display);
            return false;
        }
    for (size_t k = 0; k < n; k++) {
        struct parsed p;
        if (v[k].count > 1 || !check_value(&rules[k], &v[k], utc_offset_min, &p)) {
            set_fail(f, CODE_FORMAT, rules[k].display);
            return false;
        }
        out[k] = (struct fvalue){p.p, p.n, p.i};
    }
    return true;
}

bool fields_check_request(const struct fv v[RQ_NFIELDS], int utc_offset_min, struct rq_values *out,
                          struct fail *f)
{
    struct fvalue p[RQ_NFIELDS];
    if (!check_table(rq_rules, RQ_NFIELDS, v, utc_offset_min, p, f))
        return false;
    out->rq_uuid = v[RQ_UUID].p;
    out->rq_uuid_len = v[RQ_UUID].n;
    out->rq_datetime = v[RQ_DATETIME].p;
    out->rq_time = p[RQ_DATETIME].i;
    out->signature = v[RQ_SIGNATURE].p;
    memcpy(out->comm_code, v[RQ_COMM_CODE].p, v[RQ_COMM_CODE].n);
    out->comm_code[v[RQ_COMM_CODE].n] = '\0';
    memcpy(out->ccy, v[RQ_CCY].p, 3);
    out->ccy[3] = '\0';
    out->total_invoices = (int)p[RQ_TOTAL_INVOICES].i;
    return true;
}

size_t fields_table_size(enum field_table t)
{
    return tables[t].n;
}

const char *fields_table_name(enum field_table t, size_t k)
{
    return tables[t].rules[k].name;
}

bool fields_check_table(enum field_table t, const struct fv *v, int utc_offset_min,
                        struct fvalue *out, struct fail *f)
{
    return check_table(tables[t].rules, tables[t].n, v, utc_offset_min, out, f);
}

static int doc_cmp(const void *a, const void *b)
{
    const struct doc_at *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    if (c)
        return c;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

void fields_sort_doc_nos(struct doc_at *keys, size_t n)
{
    qsort(keys, n, sizeof *keys, doc_cmp);
}

bool fields_same_doc_no(const struct doc_at *a, const struct doc_at *b)
{
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

bool fields_invoice_slot(const char *name, size_t n, int *field, int *alias)
{
    for (int k = 0; k < IF_NFIELDS; k++) {
        const struct rule *r = &inv_rules[k];
        if (strlen(r->name) == n && memcmp(r->name, name, n) == 0) {
            *field = k;
            *alias = 0;
            return true;
        }
        if (r->alias && strlen(r->alias) == n && memcmp(r->alias, name, n) == 0) {
            *field = k;
            *alias = 1;
            return true;
        }
    }
    return false;
}

const char *fields_invoice_name(int field)
{
    return inv_rules[field].name;
}

/*
 * One invoice field, English and alias spelling together.  Returns the code
 * of its failure or NULL; *present tells whether it has a value.
 */
static const char *check_member(const struct rule *r, const struct fv pair[2], struct parsed *out,
                                bool *present)
{
    *present = false;
    if (pair[0].count > 1 || pair[1].count > 1)
        return CODE_FORMAT;
    bool e0 = fv_is_empty(&pair[0]), e1 = r->alias == NULL || fv_is_empty(&pair[1]);
    if (e0 && e1)
        return r->mandatory ? CODE_MANDATORY : NULL;
    struct parsed a, b;
    if (!e0 && !check_value(r, &pair[0], 0, &a))
        return CODE_FORMAT;
    if (!e1 && !check_value(r, &pair[1], 0, &b))
        return CODE_FORMAT;
    if (!e0 && !e1) {
        bool same = (r->kind == RK_MONEY || r->kind == RK_WHOLE)
                        ? a.i == b.i
                        : a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
        if (!same)
            return CODE_FORMAT;
    }
    *out = e0 ? b : a;
    *present = true;
    return NULL;
}

bool fields_check_invoice(const char *doc_no, size_t doc_no_len, const struct inv_members *m,
                          struct invoice *out)
{
    memset(out, 0, sizeof *out);
    out->doc_no = doc_no;
    out->doc_no_len = doc_no_len;

    struct fv key = {FV_STRING, doc_no, doc_no_len, 1, -1};
    if (fv_is_empty(&key)) {
        set_fail(&out->fail, CODE_MANDATORY, "Document No");
        return false;
    }
    if (!doc_no_ok(doc_no, doc_no_len)) {
        set_fail(&out->fail, CODE_FORMAT, "Document No");
        return false;
    }

    struct parsed p[IF_NFIELDS];
    bool present[IF_NFIELDS];
    for (int k = 0; k < IF_NFIELDS; k++) {
        const char *code = check_member(&inv_rules[k], m->v[k], &p[k], &present[k]);
        if (code == NULL && k == IF_TOTAL_AMOUNT && p[IF_AMOUNT].i > p[k].i) {
            set_fail(&out->fail, CODE_FORMAT, inv_rules[IF_AMOUNT].display);
            return false;
        }
        if (code) {
            set_fail(&out->fail, code, inv_rules[k].display);
            return false;
        }
    }
    out->member_code = p[IF_MEMBER_CODE].p;
    out->member_code_len = p[IF_MEMBER_CODE].n;
    if (present[IF_MEMBER_NAME]) {
        out->member_name = p[IF_MEMBER_NAME].p;
        out->member_name_len = p[IF_MEMBER_NAME].n;
    }
    out->amount = p[IF_AMOUNT].i;
    out->total_amount = p[IF_TOTAL_AMOUNT].i;
    out->number_of_installment = (int)p[IF_N_INSTALLMENT].i;
    out->installment_amount = p[IF_INSTALLMENT_AMOUNT].i;
    out->has_balance = present[IF_BALANCE];
    out->balance_payment_amount = present[IF_BALANCE] ? p[IF_BALANCE].i : 0;
    if (present[IF_DESCRIPTION]) {
        out->description = p[IF_DESCRIPTION].p;
        out->description_len = p[IF_DESCRIPTION].n;
    }
    out->billing_date = (int)p[IF_BILLING_DATE].i;
    return true;
}
