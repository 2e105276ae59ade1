/*
 * vabill-seed: fills a database with N invoices quickly, for the
 * "5 million invoices" run of scripts/bench.sh (docs/PERFORMANCE.md).
 *
 * It goes through the store API, not around it: store_open (which creates
 * and migrates the schema), community_add when the community is missing,
 * then store_ops.commit_units with --units-per-commit units of 500
 * invoices each, one transaction (and one fsync) per call.  Every unit is
 * what a real request leaves behind: its invoices, two VA rows each (banks
 * 008 and 009), serials from the community's counter, and the record of its
 * answer made by resp_record (~20 KB per 500 invoices).  So the seeded
 * database has the shape, indexes and size vabilld would have produced,
 * and stays correct if store_sqlite.c's schema changes.
 *
 * doc_nos are "SEED" + 10 digits + 2 digits of the run, rq_uuids
 * "SEED-<unit>"; invoices use the load generator's values.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dt.h"
#include "json.h"
#include "limits.h"
#include "num.h"
#include "resp.h"
#include "store.h"

static const char usage[] =
    "usage: vabill-seed --db PATH [-n INVOICES] [--units-per-commit K] [--comm CODE]\n"
    "                   [--key KEY]\n"
    "  -n  invoices to add (default 5000000), in units of 500\n"
    "  --units-per-commit  500-invoice units per transaction (default 20)\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The strings of one unit's invoices. */
struct unit_mem {
    char doc[LIMIT_INVOICES][40];
    char member[LIMIT_INVOICES][16];
    char name[LIMIT_INVOICES][32];
    char rq_uuid[40];
    struct invoice inv[LIMIT_INVOICES];
    struct store_result res[LIMIT_INVOICES];
    struct store_unit u;
};

static int offset = 7 * 60;

static void fill_unit(struct unit_mem *m, const struct store_community *c, long unit, int run,
                      int n)
{
    static const char desc[] = "VA Payment Test";
    snprintf(m->rq_uuid, sizeof m->rq_uuid, "SEED-%02d-%010ld", run, unit);
    for (int i = 0; i < n; i++) {
        long serial = unit * LIMIT_INVOICES + i;
        snprintf(m->doc[i], sizeof m->doc[i], "SEED%010ld%02d", serial, run);
        snprintf(m->member[i], sizeof m->member[i], "MBR%07ld", serial % 10000000);
        snprintf(m->name[i], sizeof m->name[i], "Budi Santoso %ld", serial % 1000);
        struct invoice *v = &m->inv[i];
        memset(v, 0, sizeof *v);
        v->doc_no = m->doc[i];
        v->doc_no_len = strlen(m->doc[i]);
        v->member_code = m->member[i];
        v->member_code_len = strlen(m->member[i]);
        v->member_name = m->name[i];
        v->member_name_len = strlen(m->name[i]);
        v->amount = 15000050;
        v->total_amount = 30000100;
        v->number_of_installment = 2;
        v->installment_amount = 15000050;
        v->description = desc;
        v->description_len = sizeof desc - 1;
        v->billing_date = 5;
    }
    struct store_unit *u = &m->u;
    buf_free(&u->response);
    memset(u, 0, sizeof *u);
    u->comm = c;
    u->rq_uuid = m->rq_uuid;
    u->rq_uuid_len = strlen(m->rq_uuid);
    /* a hash no real payload has: these rq_uuids are never replayed */
    memset(u->payload_hash, 0x5e, STORE_HASH_LEN);
    u->now = dt_now();
    u->inv = m->inv;
    u->n = (size_t)n;
    u->res = m->res;
    u->render = resp_record;
    u->render_ctx = &offset;
    buf_init(&u->response, SIZE_MAX / 2);
}

int main(int argc, char **argv)
{
    const char *db = NULL, *comm_code = "SGWTES", *key = "7bc074f97c3131d2e290a4as";
    long total = 5000000, per_commit = 20;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fputs(usage, stderr);
            return 2;
        }
        const char *a = argv[i], *v = argv[++i];
        if (strcmp(a, "--db") == 0)
            db = v;
        else if (strcmp(a, "-n") == 0 && num_parse_long(v, 1, 1000000000L, &total))
            ;
        else if (strcmp(a, "--units-per-commit") == 0 && num_parse_long(v, 1, 1000, &per_commit))
            ;
        else if (strcmp(a, "--comm") == 0)
            comm_code = v;
        else if (strcmp(a, "--key") == 0)
            key = v;
        else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (db == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    json_global_init();
    struct store *st = NULL;
    char why[512];
    if (store_open(db, &st, why, sizeof why) != ERR_OK) {
        fprintf(stderr, "vabill-seed: cannot open %s: %s\n", db, why);
        return 1;
    }
    struct store_community c;
    if (st->ops->community_get(st, comm_code, &c) == ERR_NOTFOUND) {
        memset(&c, 0, sizeof c);
        snprintf(c.code, sizeof c.code, "%s", comm_code);
        snprintf(c.ccy, sizeof c.ccy, "IDR");
        snprintf(c.key, sizeof c.key, "%s", key);
        c.va_length = LIMIT_VA_LENGTH_DEFAULT;
        c.va_ttl_min = LIMIT_VA_TTL_DEFAULT;
        c.enabled = true;
        c.nbanks = 2;
        snprintf(c.banks[0].bank_code, sizeof c.banks[0].bank_code, "008");
        snprintf(c.banks[0].prefix, sizeof c.banks[0].prefix, "62806");
        snprintf(c.banks[1].bank_code, sizeof c.banks[1].bank_code, "009");
        snprintf(c.banks[1].prefix, sizeof c.banks[1].prefix, "88712");
        if (st->ops->community_add(st, &c) != ERR_OK) {
            fprintf(stderr, "vabill-seed: cannot add %s: %s\n", comm_code, st->errmsg);
            return 1;
        }
    }
    if (st->ops->community_get(st, comm_code, &c) != ERR_OK) {
        fprintf(stderr, "vabill-seed: community %s: %s\n", comm_code, st->errmsg);
        return 1;
    }
    /* a run number keeps doc_nos unique when a database is seeded twice */
    int run = (int)(c.next_serial / 1000 % 100);

    struct unit_mem *mem = calloc((size_t)per_commit, sizeof *mem);
    struct store_unit **units = calloc((size_t)per_commit, sizeof *units);
    if (mem == NULL || units == NULL) {
        fprintf(stderr, "vabill-seed: out of memory\n");
        return 1;
    }
    long nunits = (total + LIMIT_INVOICES - 1) / LIMIT_INVOICES, done = 0, added = 0;
    double t0 = now_s(), last = t0;
    while (done < nunits) {
        long k = nunits - done < per_commit ? nunits - done : per_commit;
        for (long j = 0; j < k; j++) {
            long left = total - (done + j) * LIMIT_INVOICES;
            int n = left < LIMIT_INVOICES ? (int)left : LIMIT_INVOICES;
            fill_unit(&mem[j], &c, done + j, run, n);
            units[j] = &mem[j].u;
        }
        if (st->ops->commit_units(st, units, (size_t)k) != ERR_OK) {
            fprintf(stderr, "vabill-seed: commit failed: %s\n", st->errmsg);
            return 1;
        }
        for (long j = 0; j < k; j++) {
            if (units[j]->status != UNIT_COMMITTED) {
                fprintf(stderr, "vabill-seed: unit %ld: %s %s\n", done + j, err_str(units[j]->err),
                        st->errmsg);
                return 1;
            }
            for (size_t i = 0; i < units[j]->n; i++)
                added += units[j]->res[i].outcome == OUT_ACCEPTED;
        }
        done += k;
        double t = now_s();
        if (t - last >= 10 || done == nunits) {
            fprintf(stderr, "vabill-seed: %ld invoices in %.0f s (%.0f/s)\n", added, t - t0,
                    (double)added / (t - t0));
            last = t;
        }
    }
    for (long j = 0; j < per_commit; j++)
        buf_free(&mem[j].u.response);
    free(mem);
    free(units);
    store_community_wipe(&c);
    store_close(st);
    printf("vabill-seed: %ld invoices added to %s in %.1f s\n", added, db, now_s() - t0);
    return added == total ? 0 : 1;
}
