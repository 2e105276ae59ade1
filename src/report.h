/*
 * report: the reconciliation reports of issue 9 (docs/REPORTS.md).
 *
 * The payments report lists every payment of a range of days, one row
 * each, then totals per bank, per community and overall; the invoices
 * report lists the outstanding invoices with their age, then totals per
 * community.  Both come as CSV (RFC 4180, CRLF) or JSON and are written
 * through a sink, so `vabill report` streams them to standard output and
 * the admin API collects the very same bytes into a bounded buffer.
 *
 * Money is integer hundredths throughout; totals are int64 sums checked
 * for overflow.  Times are written at the caller's UTC offset.  Untrusted
 * text (doc_no, payment_ref, member names: partner input) is quoted for
 * CSV, guarded against spreadsheet formulas, and escaped for JSON here.
 */
#ifndef VABILL_REPORT_H
#define VABILL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "limits.h"
#include "store.h"

/* Where a report goes.  write returns 0 when it took all n bytes; any
 * other value stops the report (which then returns ERR_TOOBIG: the sink's
 * ctx knows why, e.g. a full buffer or a failed write). */
struct report_sink {
    int (*write)(void *ctx, const char *p, size_t n);
    void *ctx;
};

/* A sink write for a struct buf (ctx): appends, and refuses once the
 * buffer's maximum would be passed (b->failed says ERR_TOOBIG or ERR_NOMEM).
 * The admin API collects a download with it. */
int report_buf_write(void *ctx, const char *p, size_t n);

enum report_format { REPORT_CSV, REPORT_JSON };

/* "csv" or "json"; false for anything else. */
bool report_parse_format(const char *s, enum report_format *out);

/* "YYYY-MM-DD", the length of a day and of "+HH:MM" as written. */
#define REPORT_DAY_LEN    10
#define REPORT_OFFSET_LEN 6

/* Distinct codes one totals table holds (banks or communities seen in one
 * report): far above any real deployment, low enough to bound memory. */
#define REPORT_MAX_GROUPS 100000

/*
 * The days from_day..to_day ("YYYY-MM-DD", both inclusive) as UTC seconds
 * [*from, *to): from 00:00:00 of from_day to 24:00:00 of to_day at
 * offset_min.  ERR_INVALID (outputs untouched) for a malformed or
 * impossible date, or from_day after to_day.
 */
enum vb_err report_day_range(const char *from_day, const char *to_day, int offset_min,
                             int64_t *from, int64_t *to);

/* "+07:00" for 420 into out (REPORT_OFFSET_LEN + 1 bytes). */
void report_format_offset(int offset_min, char out[REPORT_OFFSET_LEN + 1]);

/*
 * Appends one CSV field: RFC 4180 quoting when it holds a comma, a double
 * quote, CR or LF or starts or ends with a blank; and when it starts with
 * = + - @ TAB or CR, a leading ' first, so that a spreadsheet shows it as
 * text instead of running it as a formula.  Failures stick in b->failed.
 */
enum vb_err report_csv_field(struct buf *b, const char *p, size_t n);

/* Per-code totals: count and sum in hundredths, kept in code order. */
struct report_total {
    char code[LIMIT_COMM_CODE + 1];
    int64_t count;
    int64_t amount;
};

struct report_totals {
    struct report_total *v; /* n entries, ascending strcmp order of code */
    size_t n, cap;
};

/*
 * Counts amount (hundredths, >= 0) for code (at most LIMIT_COMM_CODE
 * bytes).  ERR_INVALID when the sum or count would overflow int64 or code
 * is too long, ERR_TOOBIG past REPORT_MAX_GROUPS codes, ERR_NOMEM; the
 * totals are unchanged on failure.
 */
enum vb_err report_totals_add(struct report_totals *t, const char *code, int64_t amount);
/* Frees the table; accepts a zeroed one, which is then empty and usable. */
void report_totals_free(struct report_totals *t);

/* What the payments report covers: the days from_day..to_day (checked as
 * by report_day_range) and optionally one community and one bank. */
struct report_payments_query {
    const char *from_day, *to_day;
    const char *comm_code; /* NULL: all */
    const char *bank_code; /* NULL: all */
    enum report_format format;
    int offset_min;
};

/*
 * Writes the payments report of q to sink, reading the store's payments
 * in (paid_at, id) order.  ERR_INVALID for bad days (nothing written) or a
 * total past int64; ERR_TOOBIG when the sink refused bytes; a store
 * failure as the store returned it (s->errmsg says more).  After a failure
 * the output is incomplete.
 */
enum vb_err report_payments(struct store *s, const struct report_payments_query *q,
                            const struct report_sink *sink);

/* What the invoices report covers: outstanding invoices (stored status
 * open, expired ones included) of one community or all, as of now. */
struct report_invoices_query {
    const char *comm_code; /* NULL: all */
    enum report_format format;
    int offset_min;
    int64_t now; /* UTC seconds: expiry and age are judged at this instant */
};

/*
 * Writes the invoices report of q to sink: the open invoices not expired
 * at now, newest first, then the expired ones, newest first.  Errors as
 * report_payments.
 */
enum vb_err report_invoices(struct store *s, const struct report_invoices_query *q,
                            const struct report_sink *sink);

/* Whole calendar days at offset_min from the day of `from` to the day of
 * `to` (0 on the same day; negative when to is earlier). */
int64_t report_age_days(int64_t from, int64_t to, int offset_min);

#endif
