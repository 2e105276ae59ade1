/*
 * vabill-micro: the in-process cost of one sendinvoice batch, without HTTP
 * (docs/PERFORMANCE.md, "Breakdown").
 *
 * Three measurements, each over --batches distinct, correctly signed,
 * form-urlencoded bodies of --batch invoices (made before the clock starts):
 *
 *   pure     decode -> validate -> encode, no store and no HTTP.  The stages
 *            are the public calls svc_sendinvoice makes, in its order, each
 *            in its own noinline function so callgrind reports it:
 *              st_decode           req_decode: form body -> request fields
 *              st_request_fields   fields_check_request (steps 2-3)
 *              st_signature        sig_compute + sig_equal (step 5; the key
 *                                  is known, the community lookup is a store
 *                                  call and is not here)
 *              st_parse_invoices   json_doc_parse of the invoices text
 *                                  (one pass: checks and tokenizes)
 *              st_payload_hash     json_canon + SHA-256 (SPEC 1.5)
 *              st_invoice_fields   doc_no duplicates (sort), then
 *                                  invoice_json_members + fields_check_invoice
 *                                  for every invoice (steps 9-11)
 *              st_render           resp_batch, every invoice accepted (the
 *                                  record the store keeps, then the answer
 *                                  rendered from it)
 *            This mirrors service.c's order; it is a copy of its call
 *            sequence, not a call of svc_sendinvoice.
 *   store    the storage step alone: store_ops.commit_units for one unit of
 *            --batch already-checked invoices (struct invoice built directly),
 *            which includes resp_record (made inside the transaction), the
 *            INSERTs of invoices, VA numbers and the record, and COMMIT.
 *   service  svc_sendinvoice with the store: the whole in-process path
 *            (decode, validate, community lookup, remembered-answer lookup,
 *            commit), i.e. everything vabilld does for a request except HTTP,
 *            twice: accept_batch (fresh bodies) then replay_batch (the same
 *            bodies again: the in-process replay path).
 *
 * The store is a SQLite file (WAL, synchronous=FULL: COMMIT fsyncs, as in
 * vabilld) in a fresh temporary directory, or --db PATH (an existing
 * database, e.g. one seeded by vabill-seed, or :memory: to leave I/O out).
 *
 * Output: per measurement and stage, mean and median milliseconds per batch,
 * then "MICRO key=value" lines for scripts/bench.sh.  Under
 * `valgrind --tool=callgrind`, the inclusive cost of the functions named
 * pure_batch, st_*, store_batch, accept_batch and replay_batch divided by
 * --batches is the instruction count per batch (scripts/bench.sh does this).
 */
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dt.h"
#include "fields.h"
#include "form.h"
#include "invoice_json.h"
#include "json.h"
#include "num.h"
#include "req.h"
#include "resp.h"
#include "service.h"
#include "sig.h"
#include "store.h"

#define NOINLINE __attribute__((noinline))

#define COMM "SGWTES"
#define KEY  "7bc074f97c3131d2e290a4as"

static int nbatches = 50;
static int batch = LIMIT_INVOICES;
static int offset = 7 * 60;
static char run_id[16];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------- bodies */

/* The invoice of vabill-load (bench/load.c): the SPEC's example shape. */
static void add_invoice_json(struct buf *j, const char *doc_no, long serial)
{
    char name[64];
    buf_add_json_str(j, doc_no, strlen(doc_no));
    buf_printf(j, ":{\"member_code\":\"MBR%07ld\",\"member_name\":", serial % 10000000);
    snprintf(name, sizeof name, "Budi Santoso %ld", serial % 1000);
    buf_add_json_str(j, name, strlen(name));
    buf_adds(j, ",\"amount\":\"150000.50\",\"total_amount\":\"300001\","
                "\"number_of_installment\":2,\"installment_amount\":\"150000.50\","
                "\"billing_date\":5,\"description\":\"VA Payment Test\"}");
}

static void make_body(const char *kind, long seq, struct buf *body)
{
    char rq_uuid[64], dt[DT_LEN + 1], sig[SIG_HEX_LEN + 1], doc[48], total[8];
    struct buf j;
    buf_init(&j, LIMIT_BODY_MAX);
    snprintf(rq_uuid, sizeof rq_uuid, "MI-%s-%s-%08ld", kind, run_id, seq);
    dt_format(dt_now(), offset, dt);
    if (!sig_sendinvoice(rq_uuid, dt, COMM, KEY, sig))
        abort();
    buf_addc(&j, '{');
    for (int i = 0; i < batch; i++) {
        if (i)
            buf_addc(&j, ',');
        snprintf(doc, sizeof doc, "M%s%s%08ld%03d", kind, run_id, seq, i);
        add_invoice_json(&j, doc, seq * LIMIT_INVOICES + i);
    }
    buf_addc(&j, '}');
    snprintf(total, sizeof total, "%d", batch);
    buf_init(body, LIMIT_BODY_MAX);
    form_append(body, "rq_uuid", rq_uuid, strlen(rq_uuid));
    form_append(body, "rq_datetime", dt, strlen(dt));
    form_append(body, "signature", sig, strlen(sig));
    form_append(body, "comm_code", COMM, strlen(COMM));
    form_append(body, "ccy", "IDR", 3);
    form_append(body, "invoices", j.p, j.len);
    form_append(body, "total_invoices", total, strlen(total));
    if (body->failed || j.failed)
        abort();
    buf_free(&j);
}

/* ---------------------------------------------------------------- timing */

enum stage {
    ST_DECODE,
    ST_REQUEST_FIELDS,
    ST_SIGNATURE,
    ST_PARSE_INVOICES,
    ST_PAYLOAD_HASH,
    ST_INVOICE_FIELDS,
    ST_RENDER,
    ST_PURE, /* the whole pure path */
    ST_STORE,
    ST_SERVICE,
    ST_REPLAY,
    ST_COUNT
};
static const char *const stage_names[ST_COUNT] = {
    "st_decode",       "st_request_fields", "st_signature", "st_parse_invoices",
    "st_payload_hash", "st_invoice_fields", "st_render",    "pure_batch",
    "store_batch",     "accept_batch",      "replay_batch",
};
static double *samples[ST_COUNT]; /* milliseconds, one per batch */
static int nsamples[ST_COUNT];

static void record(enum stage s, double ms)
{
    samples[s][nsamples[s]++] = ms;
}

/* ---------------------------------------------------------------- pure */

/* What one request owns on the pure path. */
struct pure {
    const struct buf *body;
    struct fv f[RQ_NFIELDS];
    struct req_body rb;
    struct rq_values rq;
    struct json_doc inv;
    char *arena;
    struct invoice *invs;
    struct store_result *res;
    unsigned char hash[32];
    struct buf out;
};

static NOINLINE void st_decode(struct pure *p)
{
    if (req_decode(REQ_FORM, p->body->p, p->body->len, rq_field_names, RQ_NFIELDS, &p->rb, p->f))
        abort();
}

static NOINLINE void st_request_fields(struct pure *p)
{
    struct fail f;
    if (!fields_check_request(p->f, offset, &p->rq, &f))
        abort();
}

static NOINLINE void st_signature(struct pure *p)
{
    struct sig_part parts[] = {
        {p->rq.rq_uuid, p->rq.rq_uuid_len},
        {p->rq.rq_datetime, DT_LEN},
        {p->rq.comm_code, strlen(p->rq.comm_code)},
        {KEY, strlen(KEY)},
    };
    char expected[SIG_HEX_LEN + 1];
    if (!sig_compute(parts, 4, "SENDINVOICE", expected) ||
        !sig_equal(p->rq.signature, SIG_HEX_LEN, expected))
        abort();
}

static NOINLINE void st_parse_invoices(struct pure *p)
{
    const struct fv *v = &p->f[RQ_INVOICES];
    if (v->kind != FV_STRING || json_doc_parse(&p->inv, v->p, v->n) != ERR_OK ||
        p->inv.tok[0].type != JSON_T_OBJECT)
        abort();
}

static NOINLINE void st_payload_hash(struct pure *p)
{
    struct buf c;
    buf_init(&c, SIZE_MAX / 2);
    buf_printf(&c, "ccy:%s;total:%d;invoices:", p->rq.ccy, p->rq.total_invoices);
    json_canon(&p->inv, 0, false, &c);
    unsigned int len = 0;
    if (c.failed || EVP_Digest(c.p, c.len, p->hash, &len, EVP_sha256(), NULL) != 1)
        abort();
    buf_free(&c);
}

struct key_at {
    const char *p;
    size_t n;
    int index;
};

static int key_cmp(const void *a, const void *b)
{
    const struct key_at *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    if (c)
        return c;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static NOINLINE void st_invoice_fields(struct pure *p)
{
    const struct json_doc *d = &p->inv;
    int count = d->tok[0].size;
    p->arena = malloc((size_t)(d->tok[0].end - d->tok[0].start) + (size_t)json_next(d, 0) + 1);
    struct key_at *keys = malloc(sizeof *keys * (size_t)count);
    int *val_tok = malloc(sizeof *val_tok * (size_t)count);
    p->invs = calloc((size_t)count, sizeof *p->invs);
    if (p->arena == NULL || keys == NULL || val_tok == NULL || p->invs == NULL)
        abort();
    char *arena = p->arena;
    int i = 1;
    for (int m = 0; m < count; m++) {
        struct fv k;
        req_fv_from_json(d, i, &arena, &k);
        keys[m] = (struct key_at){k.p, k.n, m};
        val_tok[m] = i + 1;
        i = json_next(d, i + 1);
    }
    struct key_at *sorted = malloc(sizeof *sorted * (size_t)count);
    if (sorted == NULL)
        abort();
    memcpy(sorted, keys, sizeof *sorted * (size_t)count);
    qsort(sorted, (size_t)count, sizeof *sorted, key_cmp);
    for (int m = 1; m < count; m++)
        if (sorted[m].n == sorted[m - 1].n &&
            memcmp(sorted[m].p, sorted[m - 1].p, sorted[m].n) == 0)
            abort();
    free(sorted);
    if (count != p->rq.total_invoices)
        abort();
    for (int m = 0; m < count; m++) {
        struct inv_members mem;
        invoice_json_members(d, val_tok[m], &arena, &mem);
        if (!fields_check_invoice(keys[m].p, keys[m].n, &mem, &p->invs[m]))
            abort();
    }
    free(keys);
    free(val_tok);
}

static struct store_community fake_comm(void)
{
    struct store_community c;
    memset(&c, 0, sizeof c);
    c.id = 1;
    snprintf(c.code, sizeof c.code, COMM);
    snprintf(c.ccy, sizeof c.ccy, "IDR");
    c.va_length = LIMIT_VA_LENGTH_DEFAULT;
    c.va_ttl_min = LIMIT_VA_TTL_DEFAULT;
    c.enabled = true;
    c.nbanks = 2;
    snprintf(c.banks[0].bank_code, sizeof c.banks[0].bank_code, "008");
    snprintf(c.banks[0].prefix, sizeof c.banks[0].prefix, "62806");
    snprintf(c.banks[1].bank_code, sizeof c.banks[1].bank_code, "009");
    snprintf(c.banks[1].prefix, sizeof c.banks[1].prefix, "88712");
    return c;
}

static NOINLINE void st_render(struct pure *p, long seq)
{
    static struct store_community comm;
    if (comm.nbanks == 0)
        comm = fake_comm();
    size_t n = (size_t)p->rq.total_invoices;
    p->res = calloc(n, sizeof *p->res);
    if (p->res == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        p->res[i] = (struct store_result){OUT_ACCEPTED, seq * LIMIT_INVOICES + (long)i + 1,
                                          seq * LIMIT_INVOICES + (long)i + 1};
    struct store_unit u;
    memset(&u, 0, sizeof u);
    u.comm = &comm;
    u.rq_uuid = p->rq.rq_uuid;
    u.rq_uuid_len = p->rq.rq_uuid_len;
    u.now = dt_now();
    u.inv = p->invs;
    u.n = n;
    u.res = p->res;
    u.render_ctx = &offset;
    buf_init(&p->out, SIZE_MAX / 2);
    if (resp_batch(&u, &p->out) != ERR_OK)
        abort();
}

static void pure_free(struct pure *p)
{
    req_body_free(&p->rb);
    json_doc_free(&p->inv);
    free(p->arena);
    free(p->invs);
    free(p->res);
    buf_free(&p->out);
}

/* One batch through every stage, each timed. */
static NOINLINE size_t pure_batch(const struct buf *body, long seq)
{
    struct pure p;
    memset(&p, 0, sizeof p);
    p.body = body;
    double t[8];
    t[0] = now_ms();
    st_decode(&p);
    t[1] = now_ms();
    st_request_fields(&p);
    t[2] = now_ms();
    st_signature(&p);
    t[3] = now_ms();
    st_parse_invoices(&p);
    t[4] = now_ms();
    st_payload_hash(&p);
    t[5] = now_ms();
    st_invoice_fields(&p);
    t[6] = now_ms();
    st_render(&p, seq);
    t[7] = now_ms();
    size_t answer = p.out.len;
    pure_free(&p);
    for (int s = 0; s < 7; s++)
        record((enum stage)s, t[s + 1] - t[s]);
    record(ST_PURE, now_ms() - t[0]);
    return answer;
}

/* ---------------------------------------------------------------- store */

/* The checked invoices of one batch, built directly (no decoding). */
struct prepared {
    char (*doc)[40];
    char (*member)[16];
    char (*name)[32];
    struct invoice *inv;
    struct store_result *res;
};

static void prepare(struct prepared *b, long seq)
{
    b->doc = calloc((size_t)batch, sizeof *b->doc);
    b->member = calloc((size_t)batch, sizeof *b->member);
    b->name = calloc((size_t)batch, sizeof *b->name);
    b->inv = calloc((size_t)batch, sizeof *b->inv);
    b->res = calloc((size_t)batch, sizeof *b->res);
    if (!b->doc || !b->member || !b->name || !b->inv || !b->res)
        abort();
    static const char desc[] = "VA Payment Test";
    for (int i = 0; i < batch; i++) {
        long serial = seq * LIMIT_INVOICES + i;
        snprintf(b->doc[i], sizeof b->doc[i], "MT%s%08ld%03d", run_id, seq, i);
        snprintf(b->member[i], sizeof b->member[i], "MBR%07ld", serial % 10000000);
        snprintf(b->name[i], sizeof b->name[i], "Budi Santoso %ld", serial % 1000);
        struct invoice *v = &b->inv[i];
        v->doc_no = b->doc[i];
        v->doc_no_len = strlen(b->doc[i]);
        v->member_code = b->member[i];
        v->member_code_len = strlen(b->member[i]);
        v->member_name = b->name[i];
        v->member_name_len = strlen(b->name[i]);
        v->amount = 15000050;
        v->total_amount = 30000100;
        v->number_of_installment = 2;
        v->installment_amount = 15000050;
        v->description = desc;
        v->description_len = sizeof desc - 1;
        v->billing_date = 5;
    }
}

static void prepared_free(struct prepared *b)
{
    free(b->doc);
    free(b->member);
    free(b->name);
    free(b->inv);
    free(b->res);
}

static NOINLINE void store_batch(struct store *st, const struct store_community *comm,
                                 struct prepared *b, long seq)
{
    char rq_uuid[64];
    snprintf(rq_uuid, sizeof rq_uuid, "MI-store-%s-%08ld", run_id, seq);
    struct store_unit u;
    memset(&u, 0, sizeof u);
    u.comm = comm;
    u.rq_uuid = rq_uuid;
    u.rq_uuid_len = strlen(rq_uuid);
    memset(u.payload_hash, (int)(seq & 0xff), STORE_HASH_LEN);
    u.now = dt_now();
    u.inv = b->inv;
    u.n = (size_t)batch;
    u.res = b->res;
    u.render = resp_record;
    u.render_ctx = &offset;
    buf_init(&u.response, SIZE_MAX / 2);
    struct store_unit *units[1] = {&u};
    double t0 = now_ms();
    st->ops->commit_units(st, units, 1);
    record(ST_STORE, now_ms() - t0);
    if (u.status != UNIT_COMMITTED) {
        fprintf(stderr, "vabill-micro: store step failed: %s %s\n", err_str(u.err), st->errmsg);
        exit(1);
    }
    for (int i = 0; i < batch; i++)
        if (b->res[i].outcome != OUT_ACCEPTED)
            abort();
    buf_free(&u.response);
}

/* ---------------------------------------------------------------- service */

static const struct svc_config cfg = {.utc_offset_min = 7 * 60, .clock_skew = 900};

/* One svc_sendinvoice call, checked; returns its milliseconds. */
static NOINLINE double service_call(struct store *st, const struct buf *body, bool replayed)
{
    struct svc_reply r;
    svc_reply_init(&r);
    double t0 = now_ms();
    svc_sendinvoice(&cfg, st, REQ_FORM, body->p, body->len, &r);
    double ms = now_ms() - t0;
    if (r.http_status != 200 || strcmp(r.error_code, "0000") != 0 || r.replayed != replayed ||
        (!replayed && r.accepted != batch)) {
        fprintf(stderr, "vabill-micro: %s: HTTP %d %s accepted %d replayed %d %s\n",
                replayed ? "replay" : "accept", r.http_status, r.error_code, r.accepted,
                (int)r.replayed, r.store_error);
        exit(1);
    }
    svc_reply_free(&r);
    return ms;
}

/* The measured functions record after the call returns, so the compiler
 * cannot turn the call into a jump (callgrind's --toggle-collect needs to
 * see them return). */
static NOINLINE void accept_batch(struct store *st, const struct buf *body)
{
    record(ST_SERVICE, service_call(st, body, false));
}

static NOINLINE void replay_batch(struct store *st, const struct buf *body)
{
    record(ST_REPLAY, service_call(st, body, true));
}

/* ---------------------------------------------------------------- main */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(enum stage s, const char *what)
{
    int n = nsamples[s];
    if (n == 0)
        return;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += samples[s][i];
    qsort(samples[s], (size_t)n, sizeof(double), cmp_double);
    double med = samples[s][n / 2];
    printf("  %-18s %9.3f ms mean %9.3f ms median  %s\n", stage_names[s], sum / n, med, what);
    printf("MICRO stage=%s batch=%d batches=%d mean_ms=%.4f median_ms=%.4f\n", stage_names[s],
           batch, n, sum / n, med);
}

static struct store *open_store(const char *path, struct store_community *comm)
{
    struct store *st = NULL;
    char why[512];
    if (store_open(path, &st, why, sizeof why) != ERR_OK) {
        fprintf(stderr, "vabill-micro: cannot open %s: %s\n", path, why);
        exit(1);
    }
    if (st->ops->community_get(st, COMM, comm) == ERR_NOTFOUND) {
        struct store_community c = fake_comm();
        snprintf(c.key, sizeof c.key, KEY);
        if (st->ops->community_add(st, &c) != ERR_OK) {
            fprintf(stderr, "vabill-micro: cannot add community: %s\n", st->errmsg);
            exit(1);
        }
    }
    if (st->ops->community_get(st, COMM, comm) != ERR_OK) {
        fprintf(stderr, "vabill-micro: community %s: %s\n", COMM, st->errmsg);
        exit(1);
    }
    return st;
}

static const char usage[] =
    "usage: vabill-micro [-n BATCHES] [-b BATCH] [--only pure|store|service] [--db PATH]\n"
    "  -n  batches per measurement (default 50)\n"
    "  -b  invoices per batch (default 500)\n"
    "  --db  store for `store` and `service` (default: a new file in a temporary\n"
    "        directory; :memory: leaves out I/O; an existing database is used as is)\n";

int main(int argc, char **argv)
{
    const char *db = NULL, *only = NULL;
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
        long num = 0;
        if (strcmp(a, "-n") == 0 && num_parse_long(v, 1, INT32_MAX, &num)) {
            nbatches = (int)num;
        } else if (strcmp(a, "-b") == 0 && num_parse_long(v, 1, LIMIT_INVOICES, &num)) {
            batch = (int)num;
        } else if (strcmp(a, "--db") == 0) {
            db = v;
        } else if (strcmp(a, "--only") == 0) {
            only = v;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    bool do_pure = !only || strcmp(only, "pure") == 0;
    bool do_store = !only || strcmp(only, "store") == 0;
    bool do_service = !only || strcmp(only, "service") == 0;
    json_global_init();
    snprintf(run_id, sizeof run_id, "%08lx",
             ((unsigned long)time(NULL) << 12) ^ (unsigned long)getpid());
    run_id[8] = '\0';
    for (int s = 0; s < ST_COUNT; s++)
        samples[s] = calloc((size_t)nbatches, sizeof(double));

    char dir[] = "/tmp/vabill-micro-XXXXXX", path[sizeof dir + 16];
    if (db == NULL && (do_store || do_service)) {
        if (mkdtemp(dir) == NULL) {
            perror("vabill-micro: mkdtemp");
            return 1;
        }
        snprintf(path, sizeof path, "%s/micro.db", dir);
        db = path;
    }
    printf("vabill-micro: %d batches of %d invoices, store %s\n", nbatches, batch,
           db ? db : "(none)");

    if (do_pure) {
        size_t answer = 0, body = 0;
        for (long k = 0; k < nbatches; k++) {
            struct buf b;
            make_body("P", k, &b);
            body = b.len;
            answer = pure_batch(&b, k);
            buf_free(&b);
        }
        printf("pure path (decode -> validate -> encode; body %zu bytes, answer %zu bytes):\n",
               body, answer);
        for (int s = 0; s <= ST_PURE; s++)
            report((enum stage)s, s == ST_PURE ? "all of the above" : "");
    }
    struct store_community comm;
    struct store *st = NULL;
    if (do_store || do_service)
        st = open_store(db, &comm);
    if (do_store) {
        for (long k = 0; k < nbatches; k++) {
            struct prepared b;
            prepare(&b, k);
            store_batch(st, &comm, &b, k);
            prepared_free(&b);
        }
        printf("storage step alone (commit_units: render, INSERTs, COMMIT):\n");
        report(ST_STORE, "");
    }
    if (do_service) {
        struct buf *bodies = calloc((size_t)nbatches, sizeof *bodies);
        for (long k = 0; k < nbatches; k++)
            make_body("S", k, &bodies[k]);
        for (long k = 0; k < nbatches; k++)
            accept_batch(st, &bodies[k]);
        for (long k = 0; k < nbatches; k++)
            replay_batch(st, &bodies[k]);
        printf("svc_sendinvoice with the store (everything but HTTP):\n");
        report(ST_SERVICE, "accept");
        report(ST_REPLAY, "replay of the same bodies");
        for (long k = 0; k < nbatches; k++)
            buf_free(&bodies[k]);
        free(bodies);
    }
    if (st) {
        store_community_wipe(&comm);
        store_close(st);
    }
    if (db == path) {
        char f[sizeof path + 8];
        const char *const suffix[] = {"", "-wal", "-shm"};
        for (int k = 0; k < 3; k++) {
            snprintf(f, sizeof f, "%s%s", path, suffix[k]);
            unlink(f);
        }
        rmdir(dir);
    }
    for (int s = 0; s < ST_COUNT; s++)
        free(samples[s]);
    return 0;
}
