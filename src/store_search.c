/*
 * store_search: the plan of an invoice search (see store_search.h).
 *
 * Each filter with an index (the community, the accepted_at range, a paid
 * or closed status) counts its rows up to STORE_SEARCH_SORT_ROWS; the one
 * with the fewest, if below that, drives and its rows are sorted.
 * Otherwise ids are walked down from before_id, along invoice_settled for
 * paid or closed, else the primary key, and the walk stops after limit
 * matches.
 *
 * A walk with a range is kept to the ids accepted in it, so that it neither
 * passes every invoice accepted after the range nor goes on below it when
 * the other filters match little.  Ids follow acceptance in practice (they
 * are handed out at commit, accepted_at is the request's time), so the
 * range's first and last index entries estimate its lowest and highest ids
 * in two probes; but nothing guarantees that order, so an estimate is only
 * ever used where what lies beyond it is read too:
 *   - above the range: either the walk starts at before_id and passes the
 *     newer ids, or the exact highest id is read from the range's index
 *     entries; both are exact, the cheaper (by the estimates) is taken;
 *   - below it: the walk stops at the estimated lowest id, and only when its
 *     page is not full then is the exact lowest id read and the ids between
 *     the two walked (store_search_next).
 */
#include "store_search.h"

#include <string.h>

/* Walking an id costs about twice as much as reading an index entry (a
 * table row against an index entry, measured on SQLite and PostgreSQL). */
#define WALK_COST 2

static bool status_is(const char *status, const char *what)
{
    return status != NULL && strcmp(status, what) == 0;
}

/*
 * Narrows [from, to) by what the status implies.  An invoice's expires_at
 * is its accepted_at plus its community's va_ttl_min (both backends'
 * insert_invoice), which never changes: an open one was accepted at or
 * after now minus the longest TTL, an expired one before now minus the
 * shortest.
 */
static enum vb_err status_range(struct store *s, const struct store_search_probes *pr,
                                const struct store_invoice_filter *f, struct store_search_plan *p)
{
    bool open = status_is(f->status, "open");
    if (!open && !status_is(f->status, "expired"))
        return ERR_OK;
    int64_t shortest = -1, longest = -1;
    enum vb_err e = pr->ttl_range(s, &shortest, &longest);
    if (e || shortest < 0)
        return e;
    if (open && f->now - longest * 60 > p->from)
        p->from = f->now - longest * 60;
    if (!open && f->now - shortest * 60 < p->to)
        p->to = f->now - shortest * 60;
    return ERR_OK;
}

/* Keeps a walk over a range of many rows to the range's ids. */
static enum vb_err bound_walk(struct store *s, const struct store_search_probes *pr,
                              struct store_search_plan *p)
{
    int64_t first = 0, last = 0, max_id = 0;
    enum vb_err e = pr->ends(s, &first, &last, &max_id);
    if (e)
        return e;
    int64_t top_est = p->below - 1, bottom_est = 0;
    if (p->to <= last && (e = pr->id_before(s, p->to, &top_est)) != ERR_OK)
        return e;
    if (p->from > first && (e = pr->id_from(s, p->from, &bottom_est)) != ERR_OK)
        return e;
    int64_t walk_from = max_id < p->below - 1 ? max_id : p->below - 1;
    if (top_est < walk_from && (walk_from - top_est) * WALK_COST > top_est - bottom_est) {
        int64_t hi = 0;
        if ((e = pr->max_id(s, p->from, p->to, &hi)) != ERR_OK)
            return e;
        if (hi < p->below - 1)
            p->below = hi + 1;
    }
    if (bottom_est > 0) {
        p->lo = bottom_est;
        p->lo_exact = false;
    }
    return ERR_OK;
}

enum vb_err store_search_plan(struct store *s, const struct store_search_probes *pr,
                              const struct store_invoice_filter *f, struct store_search_plan *p,
                              bool *none)
{
    if (f->status && !status_is(f->status, "open") && !status_is(f->status, "expired") &&
        !status_is(f->status, "paid") && !status_is(f->status, "closed"))
        return ERR_INVALID;
    memset(p, 0, sizeof *p);
    p->driver = SEARCH_BY_Q;
    p->from = f->from;
    p->to = f->to != 0 ? f->to : INT64_MAX;
    p->below = f->before_id > 0 ? f->before_id : INT64_MAX;
    p->limit = f->limit > 0 && f->limit <= (size_t)INT64_MAX ? (int64_t)f->limit : -1;
    p->lo_exact = true;
    *none = false;
    if (f->q)
        return ERR_OK;

    enum vb_err e = status_range(s, pr, f, p);
    if (e)
        return e;
    if (p->from >= p->to || p->below <= 1) {
        *none = true;
        return ERR_OK;
    }
    bool settled = status_is(f->status, "paid") || status_is(f->status, "closed");
    bool ranged = p->from > 0 || p->to != INT64_MAX;
    int64_t best = STORE_SEARCH_SORT_ROWS, n = 0;
    p->driver = settled ? SEARCH_WALK_SETTLED : SEARCH_WALK;
    if (f->comm_code) {
        if ((e = pr->count_community(s, f->comm_code, STORE_SEARCH_SORT_ROWS, &n)) != ERR_OK)
            return e;
        if (n < best) {
            best = n;
            p->driver = SEARCH_BY_COMMUNITY;
        }
    }
    if (settled) {
        if ((e = pr->count_settled(s, f->status, STORE_SEARCH_SORT_ROWS, &n)) != ERR_OK)
            return e;
        if (n < best) {
            best = n;
            p->driver = SEARCH_WALK_SETTLED; /* in id order: nothing to sort */
        }
    }
    if (!ranged)
        return ERR_OK;
    if ((e = pr->count_accepted(s, p->from, p->to, STORE_SEARCH_SORT_ROWS, &n)) != ERR_OK)
        return e;
    if (n < best) {
        p->driver = SEARCH_BY_ACCEPTED;
        return ERR_OK;
    }
    if (best < STORE_SEARCH_SORT_ROWS)
        return ERR_OK; /* the community's or the status's few rows drive */
    return bound_walk(s, pr, p);
}

enum vb_err store_search_next(struct store *s, const struct store_search_probes *pr,
                              struct store_search_plan *p, int64_t n, bool *again)
{
    *again = false;
    if (p->lo_exact || (p->limit >= 0 && n >= p->limit))
        return ERR_OK;
    int64_t lo = INT64_MAX;
    enum vb_err e = pr->min_id(s, p->from, p->to, &lo);
    if (e || lo >= p->lo)
        return e;
    if (p->lo < p->below) /* else the first walk was empty: all its ids were past before_id */
        p->below = p->lo;
    p->lo = lo;
    p->lo_exact = true;
    if (p->limit >= 0)
        p->limit -= n;
    *again = true;
    return ERR_OK;
}
