/*
 * fixture: what the service-level fuzz targets share: in-memory SQLite
 * stores with registered communities, and helpers to check answers.
 *
 * An input must behave the same on its first run as on its thousandth, so
 * a crash reproduces from the input file alone.  Opening a store costs a
 * few milliseconds (schema, prepared statements), ten times what a request
 * costs, so the targets isolate inputs more cheaply where they can:
 * fuzz_invoices gives every input a community of its own in a shared store
 * (rq_uuid and doc_no are per community, so nothing of one input is seen by
 * the next); fuzz_request opens a fresh store only for bodies that reach
 * the store, and uses the shared one, unchanged, for the others.
 */
#ifndef VABILL_FUZZ_FIXTURE_H
#define VABILL_FUZZ_FIXTURE_H

#include <stddef.h>

#include "service.h"
#include "store.h"

/* The community the seeds are signed for. */
#define FIXTURE_COMM     "SGWTES"
#define FIXTURE_KEY      "7bc074f97c3131d2e290a4as"
#define FIXTURE_DATETIME "2016-07-25 11:05:49"

/* Once per process: json_global_init. */
void fixture_init(void);

/* A fresh in-memory store with FIXTURE_COMM registered (banks 008 and 009).
 * Aborts when that fails: the fixture is broken, not the input. */
struct store *fixture_open(void);

/* The process's shared store (FIXTURE_COMM registered).  Do not close it. */
struct store *fixture_shared(void);

/* Registers a community no input has used yet in the shared store (key
 * FIXTURE_KEY, currency IDR, banks 008 and 009 both with the 9-digit
 * prefix written into prefix, VA length 16) and writes its code into code.
 * Returns the shared store, which it may have replaced by a fresh one to
 * bound memory. */
struct store *fixture_new_community(char code[LIMIT_COMM_CODE + 1], char prefix[16]);

/*
 * Reads back from st every invoice r lists in invoices_success and checks
 * what was stored against SPEC 1.3 and 2, independently of fields.c: doc_no
 * and member_code shapes, text lengths in characters of valid UTF-8, money
 * within limits with amount <= total_amount, installments 1-999, billing
 * day 1-31, status open with the whole amount outstanding, and one VA per
 * bank, 16 digits, the community's prefix, the same serial, a valid Luhn
 * check digit.  Returns the number of invoices checked.
 */
int fixture_check_stored(struct store *st, const char *comm, const char *prefix,
                         const struct svc_reply *r);

/* The service settings the targets run with: +07:00, clock skew off. */
extern const struct svc_config fixture_cfg;

/* The parts of an answer the targets check. */
struct fixture_answer {
    char error_code[8];    /* "" when absent or not a short string */
    char total_invoice[8]; /* likewise */
    int all, ok, bad;      /* members of invoices, invoices_success, invoices_error; -1 if
                              absent or not an object */
};

/* Reads r's body as JSON (json.c, which also takes \u0000 in keys) and
 * aborts when it is not one object. */
void fixture_answer(const struct svc_reply *r, struct fixture_answer *a);

/* With FUZZ_VERBOSE set in the environment, prints the answer's code and
 * invoice counts on stderr: for checking what the seeds reach. */
void fixture_trace(const char *label, const struct svc_reply *r);

/* Aborts with msg and the answer when cond is false: a finding. */
void fixture_check(int cond, const char *msg, const struct svc_reply *r);

#endif
