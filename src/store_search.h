/*
 * store_search: how a storage backend runs invoice_search (the console's
 * invoice list), shared by store_sqlite.c and store_pg.c.  It decides which
 * index drives a search and which ids a walk along the primary key is kept
 * to; the backend measures what it is asked (capped counts, index ends)
 * through a table of probes and runs one fixed statement per driver.
 *
 * Every plan is exact: counts and estimates only choose how the rows are
 * found, never which rows match.  Backends only; nothing above store.h
 * includes this.
 */
#ifndef VABILL_STORE_SEARCH_H
#define VABILL_STORE_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* How many rows a filter's index gives, counted up to this: fewer are read
 * through that index and sorted (a few milliseconds); from this many on,
 * ids are walked down in order, which stops after limit matches. */
#define STORE_SEARCH_SORT_ROWS 4096

enum store_search_driver {
    SEARCH_BY_Q,         /* the ids q names (doc_no, VA number, member_code), sorted */
    SEARCH_WALK,         /* the primary key, down from below */
    SEARCH_WALK_SETTLED, /* the paid or closed invoices (invoice_settled), down from below */
    SEARCH_BY_ACCEPTED,  /* the rows accepted in [from, to), sorted */
    SEARCH_BY_COMMUNITY, /* the community's rows, sorted */
};

/* One run of the driver's statement: the filter's q, comm_code, status and
 * now, with these bounds. */
struct store_search_plan {
    enum store_search_driver driver;
    int64_t from, to;  /* accepted_at in [from, to); to == INT64_MAX: no bound */
    int64_t lo, below; /* ids in [lo, below) */
    int64_t limit;     /* rows at most; -1: no limit */
    bool lo_exact;     /* false: lo is an estimate, see store_search_next */
};

/* What the planner asks a backend.  Each returns ERR_OK or the failure. */
struct store_search_probes {
    /* The community's rows, the rows of a paid or closed status, the rows
     * accepted in [from, to): each counted up to cap. */
    enum vb_err (*count_community)(struct store *s, const char *code, int64_t cap, int64_t *n);
    enum vb_err (*count_settled)(struct store *s, const char *status, int64_t cap, int64_t *n);
    enum vb_err (*count_accepted)(struct store *s, int64_t from, int64_t to, int64_t cap,
                                  int64_t *n);
    /* The shortest and longest va_ttl_min of all communities; *min < 0
     * when there is none. */
    enum vb_err (*ttl_range)(struct store *s, int64_t *min, int64_t *max);
    /* The first and last accepted_at and the highest id of all invoices
     * (0 when there is none): index ends. */
    enum vb_err (*ends)(struct store *s, int64_t *first, int64_t *last, int64_t *max_id);
    /* The id of the accepted_at index's last entry before t (0 when none),
     * of its first entry at or after t (INT64_MAX when none): index probes. */
    enum vb_err (*id_before)(struct store *s, int64_t t, int64_t *id);
    enum vb_err (*id_from)(struct store *s, int64_t t, int64_t *id);
    /* The lowest (INT64_MAX when none) and highest (0 when none) id
     * accepted in [from, to): these read every index entry of the range. */
    enum vb_err (*min_id)(struct store *s, int64_t from, int64_t to, int64_t *id);
    enum vb_err (*max_id)(struct store *s, int64_t from, int64_t to, int64_t *id);
};

/* The first run of the search f.  ERR_INVALID for an unknown status;
 * *none when no invoice can match (nothing to run). */
enum vb_err store_search_plan(struct store *s, const struct store_search_probes *pr,
                              const struct store_invoice_filter *f, struct store_search_plan *p,
                              bool *none);

/* After a run that handed out n rows: *again when another run must follow
 * (p then describes it), which happens only when a walk stopped at an
 * estimated lowest id with its page not full. */
enum vb_err store_search_next(struct store *s, const struct store_search_probes *pr,
                              struct store_search_plan *p, int64_t n, bool *again);

#endif
