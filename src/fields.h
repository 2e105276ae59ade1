/*
 * fields: the request field table (SPEC 1.1) and the invoice field table
 * (SPEC 1.3), as data walked by one checker.
 *
 * Values arrive as `struct fv`: what a decoder (form, JSON, CSV) found under
 * a name, its JSON kind, and how often it occurred.  The checker knows
 * nothing about where the bytes came from, so the server and the CLI's
 * `send` apply the very same rules.
 */
#ifndef VABILL_FIELDS_H
#define VABILL_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codes.h"
#include "limits.h"

enum fv_kind { FV_ABSENT, FV_NULL, FV_STRING, FV_NUMBER, FV_BOOL, FV_OBJECT, FV_ARRAY };

/* One field as found: for strings the decoded bytes, for numbers their text. */
struct fv {
    enum fv_kind kind;
    const char *p;
    size_t n;
    int count; /* occurrences; more than one is a format error */
    int tok;   /* JSON token index of the value, when it came from JSON */
};

/* True for absent, null, and strings of blanks (space, tab, CR, LF) only. */
bool fv_is_empty(const struct fv *v);

/* ---- request fields (SPEC 1.1), in table order ---- */
enum rq_field {
    RQ_UUID,
    RQ_DATETIME,
    RQ_SIGNATURE,
    RQ_COMM_CODE,
    RQ_CCY,
    RQ_INVOICES,
    RQ_TOTAL_INVOICES,
    RQ_NFIELDS
};
extern const char *const rq_field_names[RQ_NFIELDS];

struct rq_values {
    const char *rq_uuid; /* borrowed from the fv */
    size_t rq_uuid_len;
    const char *rq_datetime;
    int64_t rq_time; /* UTC seconds */
    const char *signature;
    char comm_code[LIMIT_COMM_CODE + 1];
    char ccy[LIMIT_CCY + 1];
    int total_invoices;
};

/*
 * SPEC 1.4 steps 2 and 3: presence of every field in table order, then the
 * format of every field in table order.  `invoices` is only checked for
 * presence here (its format is step 9).  On failure returns false with *f.
 */
bool fields_check_request(const struct fv v[RQ_NFIELDS], int utc_offset_min, struct rq_values *out,
                          struct fail *f);

/* ---- the field tables of the SPEC 5 services ---- */
enum field_table {
    FT_INQUIRY, /* rq_uuid, rq_datetime, bank_code, va_number, signature */
    FT_PAYMENT, /* the inquiry fields, then payment_ref, amount */
    FT_PARTNER, /* rq_uuid, rq_datetime, comm_code, doc_no, signature */
};
/* Field positions in those tables. */
enum {
    F5_RQ_UUID,
    F5_RQ_DATETIME,
    F5_BANK_CODE,
    F5_VA_NUMBER,
    F5_SIGNATURE,
    F5_PAYMENT_REF,
    F5_AMOUNT
};
enum { FP_RQ_UUID, FP_RQ_DATETIME, FP_COMM_CODE, FP_DOC_NO, FP_SIGNATURE };
#define FIELDS_TABLE_MAX 7

/* What a rule made of a well-formed value: its bytes, and for money,
 * numbers and date-times its value (hundredths, number, UTC seconds). */
struct fvalue {
    const char *p;
    size_t n;
    int64_t i;
};

size_t fields_table_size(enum field_table t);
const char *fields_table_name(enum field_table t, size_t k);

/* Presence of every field in table order, then format in table order. */
bool fields_check_table(enum field_table t, const struct fv *v, int utc_offset_min,
                        struct fvalue *out, struct fail *f);

/* A doc_no and its position in a request or a file. */
struct doc_at {
    const char *p;
    size_t n;
    size_t pos;
};

/* Sorts by doc_no, then position: the occurrences of one doc_no end up
 * adjacent, in the order they came. */
void fields_sort_doc_nos(struct doc_at *keys, size_t n);

/* True when a and b hold the same doc_no. */
bool fields_same_doc_no(const struct doc_at *a, const struct doc_at *b);

/* rq_uuid as the answer echoes it: the request's when well formed, else "". */
bool fields_rq_uuid_ok(const struct fv *v);

/* ---- invoice fields (SPEC 1.3) ---- */
enum inv_field {
    IF_MEMBER_CODE,
    IF_MEMBER_NAME,
    IF_AMOUNT,
    IF_TOTAL_AMOUNT,
    IF_N_INSTALLMENT,
    IF_INSTALLMENT_AMOUNT,
    IF_BALANCE,
    IF_DESCRIPTION,
    IF_BILLING_DATE,
    IF_NFIELDS
};

/* The members of one invoice: [field][0] under the English name, [1] under
 * the Indonesian alias (unused where there is none). */
struct inv_members {
    struct fv v[IF_NFIELDS][2];
};

/* Which member slot a name belongs to: sets *field and *alias and returns
 * true, or false for a name the table does not know (ignored). */
bool fields_invoice_slot(const char *name, size_t n, int *field, int *alias);

/* The English member name of a field (for encoders). */
const char *fields_invoice_name(int field);

/* A checked invoice.  Text points into the request's memory. */
struct invoice {
    const char *doc_no;
    size_t doc_no_len;
    const char *member_code;
    size_t member_code_len;
    const char *member_name; /* NULL when absent */
    size_t member_name_len;
    int64_t amount; /* hundredths */
    int64_t total_amount;
    int number_of_installment;
    int64_t installment_amount;
    bool has_balance;
    int64_t balance_payment_amount;
    const char *description; /* NULL when absent */
    size_t description_len;
    int billing_date;
    struct fail fail; /* fail.code NULL: the fields are valid */
};

/*
 * SPEC 1.3: checks doc_no and the members field by field in table order; the
 * first failure goes to out->fail.  Returns true when the invoice is valid.
 */
bool fields_check_invoice(const char *doc_no, size_t doc_no_len, const struct inv_members *m,
                          struct invoice *out);

#endif
