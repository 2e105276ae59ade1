/*
 * send: `vabill send`, the partner-side client of SPEC 1.  See send.h and
 * docs/SEND.md.
 *
 * A run has five stages, each finished before the next begins:
 *   1. read the input whole (bounded) and turn every row into a member set,
 *      checked by fields_check_invoice exactly as the server checks it;
 *      valid rows are encoded once, as the JSON member the batch will carry;
 *   2. cut the rows into windows of --batch rows; the valid rows of a
 *      window are one batch, whose rq_uuid is a hash of its content;
 *   3. with --resume, read the journal: batches it holds an answer for are
 *      done already;
 *   4. send the rest over one libcurl multi handle, --concurrency at a
 *      time, retrying transport failures, HTTP 5xx and 0099 under the same
 *      rq_uuid; journal "sent" before the first attempt and the answer
 *      after a 0000;
 *   5. write one output line per invoice and bank, in input order.
 *
 * Untrusted bytes enter twice: the input file (csv.c, json.c, then the
 * field table) and the server's answers (json.c; a value that is not where
 * the SPEC puts it is reported, never trusted).  The key never leaves
 * sig.c's buffer except inside the signature.
 */
#include "send.h"

#include "num.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "codes.h"
#include "csv.h"
#include "dt.h"
#include "fields.h"
#include "form.h"
#include "invoice_json.h"
#include "json.h"
#include "limits.h"
#include "req.h"
#include "sig.h"

enum { EXIT_ALL_OK = 0, EXIT_REFUSED = 1, EXIT_FAILED = 2 };

#define SEND_PATH        "/rest/virtualaccount/sendinvoice"
#define UUID_PREFIX      "VBS-"
#define UUID_HEX         40
#define UUID_LEN         (sizeof UUID_PREFIX - 1 + UUID_HEX)
#define JOURNAL_MAGIC    "vabill-send-journal 1 "
#define PROGRESS_TTY_MS  200
#define PROGRESS_LINE_MS 5000

static const char usage[] =
    "usage: vabill send --url URL --comm-code CODE --key KEY [--ccy IDR] [--batch 500]\n"
    "                   [--out results.csv|results.json] [--resume JOURNAL] [--concurrency 4]\n"
    "                   [--retries 8] [--retry-max-seconds 300] [--timeout 120] [--quiet] INPUT\n";

struct opts {
    const char *url, *comm, *key, *ccy, *out, *journal, *input;
    long batch, concurrency, retries, retry_max_s, timeout_s;
    bool quiet;
    int offset;
};

/* One input row.  Text lives in run.text / run.enc, by offset (they grow). */
struct row {
    long line;
    size_t doc_off, doc_len;
    size_t enc_off, enc_len; /* "doc_no":{...} as sent, for a valid row */
    const char *code;        /* local failure, NULL for a valid row */
    size_t msg_off, msg_len; /* its message */
    int batch;               /* -1: not in a batch */
    int ans, ans_tok;        /* the answer and its invoice object; -1: none */
};

/* A 0000 answer: the body, its tokens, and where its invoices object is. */
struct answer {
    char uuid[UUID_LEN + 1];
    char *body;
    struct json_doc doc;
    int invoices;
};

enum batch_state { B_READY, B_WAIT, B_FLIGHT, B_DONE, B_FAILED };

struct batch {
    size_t lo, hi; /* the window rows[lo..hi); its valid rows are sent */
    int n;
    char uuid[UUID_LEN + 1];
    char *payload; /* the invoices object */
    size_t payload_len;
    enum batch_state state;
    int attempts;
    int64_t first_ms, next_ms;
    bool journaled, replayed, from_journal;
    int ans;
    char code[8]; /* request-level refusal, "" otherwise */
    char *why;    /* why it failed, for the output */
};

/* One transfer in flight. */
struct slot {
    CURL *h;
    int batch; /* -1: free */
    struct buf req, resp;
    bool replayed;
    char err[CURL_ERROR_SIZE];
};

struct run {
    struct opts o;
    char *input;
    size_t input_len;
    struct buf text, enc;
    struct row *rows;
    size_t nrows, rows_cap;
    struct batch *batches;
    size_t nbatches;
    struct answer *ans;
    size_t nans, ans_cap;
    int jfd;
    FILE *out;
    char *out_tmp;
    bool out_json;
    char *url;
    CURLM *multi;
    struct slot *slots;
    struct curl_slist *headers;
    bool aborted;
    size_t total_inv, done_inv, journal_inv;
    int64_t start_ms, last_progress_ms;
    bool tty, curl_ready;
    uint64_t rng;
    long bad_shown;
};

static int say(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vabill: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* ---- options ---- */

static int parse_opts(struct opts *o, int argc, char **argv)
{
    o->ccy = "IDR";
    o->batch = SEND_BATCH_DEFAULT;
    o->concurrency = SEND_CONCURRENCY_DEFAULT;
    o->retries = SEND_RETRIES_DEFAULT;
    o->retry_max_s = SEND_RETRY_SECONDS_DEFAULT;
    o->timeout_s = SEND_TIMEOUT_DEFAULT;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = true;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (o->input)
                return say(EXIT_FAILED, "send takes one INPUT (got also %s)", a);
            o->input = a;
            continue;
        }
        if (i + 1 >= argc)
            return say(EXIT_FAILED, "%s needs a value", a);
        const char *v = argv[++i];
        bool num_ok = true;
        if (strcmp(a, "--url") == 0)
            o->url = v;
        else if (strcmp(a, "--comm-code") == 0)
            o->comm = v;
        else if (strcmp(a, "--key") == 0)
            o->key = v;
        else if (strcmp(a, "--ccy") == 0)
            o->ccy = v;
        else if (strcmp(a, "--out") == 0)
            o->out = v;
        else if (strcmp(a, "--resume") == 0)
            o->journal = v;
        else if (strcmp(a, "--batch") == 0)
            num_ok = num_parse_long(v, 1, LIMIT_INVOICES, &o->batch);
        else if (strcmp(a, "--concurrency") == 0)
            num_ok = num_parse_long(v, 1, SEND_CONCURRENCY_MAX, &o->concurrency);
        else if (strcmp(a, "--retries") == 0)
            num_ok = num_parse_long(v, 0, 1000, &o->retries);
        else if (strcmp(a, "--retry-max-seconds") == 0)
            num_ok = num_parse_long(v, 0, 7L * 24 * 3600, &o->retry_max_s);
        else if (strcmp(a, "--timeout") == 0)
            num_ok = num_parse_long(v, 1, 24L * 3600, &o->timeout_s);
        else
            return say(EXIT_FAILED, "unknown option for send: %s (try vabill send --help)", a);
        if (!num_ok)
            return say(EXIT_FAILED, "%s: not a number in range: %s (--batch is 1 to %d)", a, v,
                       LIMIT_INVOICES);
    }
    if (!o->url || !o->comm || !o->key || !o->input)
        return say(EXIT_FAILED, "send needs --url, --comm-code, --key and INPUT (try vabill "
                                "send --help)");
    /* the request fields of SPEC 1.1, judged here so a typo is not a 0003 */
    size_t cl = strlen(o->comm);
    bool comm_ok = cl >= 1 && cl <= LIMIT_COMM_CODE;
    for (size_t k = 0; comm_ok && k < cl; k++)
        comm_ok = (o->comm[k] >= '0' && o->comm[k] <= '9') ||
                  (o->comm[k] >= 'a' && o->comm[k] <= 'z') ||
                  (o->comm[k] >= 'A' && o->comm[k] <= 'Z');
    if (!comm_ok)
        return say(EXIT_FAILED, "--comm-code must be 1 to %d letters and digits: %s",
                   LIMIT_COMM_CODE, o->comm);
    const char *y = o->ccy;
    if (strlen(y) != 3 || y[0] < 'A' || y[0] > 'Z' || y[1] < 'A' || y[1] > 'Z' || y[2] < 'A' ||
        y[2] > 'Z')
        return say(EXIT_FAILED, "--ccy must be three upper-case letters: %s", o->ccy);
    size_t kl = strlen(o->key);
    if (kl == 0 || kl > LIMIT_KEY)
        return say(EXIT_FAILED, "--key must be 1 to %d characters", LIMIT_KEY);
    if (o->out && !ends_with(o->out, ".csv") && !ends_with(o->out, ".json"))
        return say(EXIT_FAILED, "--out must name a .csv or a .json file: %s", o->out);
    return 0;
}

/* ---- stage 1: input ---- */

static int read_input(struct run *r)
{
    const char *name = r->o.input;
    bool is_stdin = strcmp(name, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(name, "rb");
    if (f == NULL)
        return say(EXIT_FAILED, "cannot read %s: %s", name, strerror(errno));
    struct buf b;
    buf_init(&b, SEND_INPUT_MAX);
    int rc = 0;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_add(&b, chunk, n) != ERR_OK)
            break;
    if (ferror(f))
        rc = say(EXIT_FAILED, "cannot read %s: %s", name, strerror(errno));
    else if (b.failed == ERR_TOOBIG)
        rc = say(EXIT_FAILED, "%s is larger than %ld MiB", name, SEND_INPUT_MAX >> 20);
    else if (b.failed)
        rc = say(EXIT_FAILED, "cannot read %s: out of memory", name);
    if (!is_stdin)
        fclose(f);
    if (rc) {
        buf_free(&b);
        return rc;
    }
    r->input = buf_steal(&b, &r->input_len);
    if (r->input == NULL)
        r->input = calloc(1, 1);
    return r->input ? 0 : say(EXIT_FAILED, "out of memory");
}

/* The invoice as the batch carries it: English member names, the first
 * non-empty spelling, strings re-encoded from their decoded bytes, numbers
 * as written.  Empty members are left out: the server treats them alike. */
static void encode_invoice(struct buf *b, const char *doc, size_t n, const struct inv_members *m)
{
    buf_add_json_str(b, doc, n);
    buf_adds(b, ":{");
    bool first = true;
    for (int k = 0; k < IF_NFIELDS; k++) {
        const struct fv *v = fv_is_empty(&m->v[k][0]) ? &m->v[k][1] : &m->v[k][0];
        if (fv_is_empty(v))
            continue;
        if (!first)
            buf_addc(b, ',');
        first = false;
        const char *name = fields_invoice_name(k);
        buf_add_json_str(b, name, strlen(name));
        buf_addc(b, ':');
        if (v->kind == FV_STRING)
            buf_add_json_str(b, v->p, v->n);
        else
            buf_add(b, v->p, v->n);
    }
    buf_addc(b, '}');
}

static struct row *row_new(struct run *r, long line, const char *doc, size_t doc_len)
{
    if (r->nrows == r->rows_cap) {
        size_t cap = r->rows_cap ? r->rows_cap * 2 : 1024;
        struct row *p = realloc(r->rows, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        r->rows = p;
        r->rows_cap = cap;
    }
    struct row *w = &r->rows[r->nrows++];
    memset(w, 0, sizeof *w);
    w->line = line;
    w->batch = w->ans = w->ans_tok = -1;
    w->doc_off = r->text.len;
    w->doc_len = doc_len;
    buf_add(&r->text, doc, doc_len);
    buf_addc(&r->text, '\0');
    return w;
}

static void row_fail(struct run *r, struct row *w, const struct fail *f)
{
    w->code = f->code;
    w->msg_off = r->text.len;
    code_message(&r->text, f, 1);
    w->msg_len = r->text.len - w->msg_off;
    buf_addc(&r->text, '\0');
}

/* Checks one row with the server's rules and keeps it. */
static enum vb_err row_add(struct run *r, long line, const char *doc, size_t doc_len,
                           const struct inv_members *m)
{
    struct row *w = row_new(r, line, doc, doc_len);
    if (w == NULL)
        return ERR_NOMEM;
    struct invoice inv;
    if (!fields_check_invoice(doc, doc_len, m, &inv)) {
        row_fail(r, w, &inv.fail);
    } else {
        w->enc_off = r->enc.len;
        encode_invoice(&r->enc, doc, doc_len, m);
        w->enc_len = r->enc.len - w->enc_off;
    }
    if (r->text.failed || r->enc.failed)
        return r->text.failed ? r->text.failed : r->enc.failed;
    return ERR_OK;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int parse_csv(struct run *r)
{
    const char *name = r->o.input;
    struct csv c;
    int rc = 0;
    int *col = NULL; /* per column: -1 doc_no, -2 ignored, else field * 2 + alias */
    size_t ncol = 0;
    if (csv_init(&c, r->input, r->input_len)) {
        rc = say(EXIT_FAILED, "out of memory");
        goto out;
    }
    bool got;
    enum vb_err e = csv_next(&c, &got);
    if (e == ERR_OK && !got) {
        rc = say(EXIT_FAILED, "%s: no header row (see docs/SEND.md)", name);
        goto out;
    }
    while (e == ERR_OK && got) {
        if (col == NULL) {
            ncol = c.nfields;
            col = malloc(ncol * sizeof *col);
            if (col == NULL) {
                rc = say(EXIT_FAILED, "out of memory");
                goto out;
            }
            bool have_doc = false;
            for (size_t i = 0; i < ncol; i++) {
                const char *h = c.fields[i].p;
                size_t n = c.fields[i].n;
                while (n && blank(*h)) {
                    h++;
                    n--;
                }
                while (n && blank(h[n - 1]))
                    n--;
                int field, alias;
                if (n == 6 && memcmp(h, "doc_no", 6) == 0)
                    col[i] = -1;
                else if (fields_invoice_slot(h, n, &field, &alias))
                    col[i] = field * 2 + alias;
                else
                    col[i] = -2;
                for (size_t j = 0; j < i; j++)
                    if (col[i] != -2 && col[j] == col[i]) {
                        rc = say(EXIT_FAILED, "%s:%ld: column %.*s named twice in the header", name,
                                 c.record_line, (int)n, h);
                        goto out;
                    }
                have_doc |= col[i] == -1;
            }
            if (!have_doc) {
                rc = say(EXIT_FAILED, "%s:%ld: the header row names no doc_no column", name,
                         c.record_line);
                goto out;
            }
        } else {
            bool empty = true;
            for (size_t i = 0; i < c.nfields && empty; i++)
                empty = c.fields[i].n == 0;
            if (!empty && c.nfields != ncol) {
                rc = say(EXIT_FAILED, "%s:%ld: malformed row: %zu fields, the header has %zu", name,
                         c.record_line, c.nfields, ncol);
                goto out;
            }
            if (!empty) {
                struct inv_members m;
                memset(&m, 0, sizeof m);
                const char *doc = "";
                size_t doc_len = 0;
                for (size_t i = 0; i < ncol; i++) {
                    if (col[i] == -1) {
                        doc = c.fields[i].p;
                        doc_len = c.fields[i].n;
                    } else if (col[i] >= 0) {
                        m.v[col[i] / 2][col[i] % 2] =
                            (struct fv){FV_STRING, c.fields[i].p, c.fields[i].n, 1, -1};
                    }
                }
                if (row_add(r, c.record_line, doc, doc_len, &m)) {
                    rc = say(EXIT_FAILED, "out of memory");
                    goto out;
                }
            }
        }
        e = csv_next(&c, &got);
    }
    if (e == ERR_NOMEM)
        rc = say(EXIT_FAILED, "out of memory");
    else if (e)
        rc = say(EXIT_FAILED, "%s:%ld: malformed CSV: %s", name, c.error_line, c.error);
out:
    free(col);
    csv_free(&c);
    return rc;
}

/* Advances *line over the newlines of text[*pos..to). */
static void count_lines(const char *text, size_t to, size_t *pos, long *line)
{
    for (; *pos < to; (*pos)++)
        if (text[*pos] == '\n')
            (*line)++;
}

/* One element of the array shape: its doc_no member, then the rest. */
static enum vb_err array_row(struct run *r, const struct json_doc *d, int el, long line,
                             char **arena)
{
    struct inv_members m;
    invoice_json_members(d, el, arena, &m);
    struct fv doc = {FV_ABSENT, "", 0, 0, -1};
    if (d->tok[el].type == JSON_T_OBJECT) {
        int t = el + 1;
        for (int k = 0; k < d->tok[el].size; k++) {
            if (json_str_eq(d, t, "doc_no", 6) && doc.count++ == 0) {
                req_fv_from_json(d, t + 1, arena, &doc);
                doc.count = 1;
            }
            t = json_next(d, t + 1);
        }
    }
    bool bad = doc.count > 1 || (doc.kind != FV_STRING && doc.kind != FV_NUMBER &&
                                 doc.kind != FV_ABSENT && doc.kind != FV_NULL);
    if (!bad)
        return row_add(r, line, doc.kind == FV_NULL ? "" : doc.p, doc.kind == FV_NULL ? 0 : doc.n,
                       &m);
    struct row *w = row_new(r, line, "", 0);
    if (w == NULL)
        return ERR_NOMEM;
    struct fail f = {CODE_FORMAT, "Document No", 11};
    row_fail(r, w, &f);
    return r->text.failed;
}

static int parse_json(struct run *r)
{
    const char *name = r->o.input;
    struct json_doc d;
    char *arena = NULL;
    int rc = 0;
    enum vb_err e = json_doc_parse(&d, r->input, r->input_len);
    if (e == ERR_NOMEM) {
        rc = say(EXIT_FAILED, "out of memory");
        goto out;
    }
    if (e || (d.tok[0].type != JSON_T_OBJECT && d.tok[0].type != JSON_T_ARRAY)) {
        rc = say(EXIT_FAILED,
                 "%s: not valid JSON, or not an object of invoices keyed by doc_no nor an array "
                 "of invoices with doc_no (see docs/SEND.md)",
                 name);
        goto out;
    }
    arena = malloc(r->input_len + (size_t)d.ntok + 1);
    if (arena == NULL) {
        rc = say(EXIT_FAILED, "out of memory");
        goto out;
    }
    bool object = d.tok[0].type == JSON_T_OBJECT;
    size_t pos = 0;
    long line = 1;
    int i = 1;
    for (int k = 0; k < d.tok[0].size; k++) {
        count_lines(r->input, (size_t)d.tok[i].start, &pos, &line);
        char *at = arena; /* each row's strings are encoded before the next */
        if (object) {
            struct fv key;
            req_fv_from_json(&d, i, &at, &key);
            struct inv_members m;
            invoice_json_members(&d, i + 1, &at, &m);
            e = row_add(r, line, key.p, key.n, &m);
            i = json_next(&d, i + 1);
        } else {
            e = array_row(r, &d, i, line, &at);
            i = json_next(&d, i);
        }
        if (e) {
            rc = say(EXIT_FAILED, "out of memory");
            goto out;
        }
    }
out:
    free(arena);
    json_doc_free(&d);
    return rc;
}

static int parse_input(struct run *r)
{
    size_t at = 0;
    if (r->input_len >= 3 && memcmp(r->input, "\xef\xbb\xbf", 3) == 0)
        at = 3;
    while (at < r->input_len && blank(r->input[at]))
        at++;
    int rc;
    if (at < r->input_len && (r->input[at] == '{' || r->input[at] == '[')) {
        /* JSON text (RFC 8259) has no BOM: blank it out */
        if (at >= 3 && memcmp(r->input, "\xef\xbb\xbf", 3) == 0)
            memset(r->input, ' ', 3);
        rc = parse_json(r);
    } else {
        rc = parse_csv(r);
    }
    if (rc == 0 && r->nrows == 0)
        rc = say(EXIT_FAILED, "%s holds no invoices", r->o.input);
    return rc;
}

/* A doc_no twice among the valid rows would make its batch 0011: the later
 * rows are refused here instead. */
static int refuse_duplicates(struct run *r)
{
    struct doc_at *v = malloc((r->nrows ? r->nrows : 1) * sizeof *v);
    if (v == NULL)
        return say(EXIT_FAILED, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < r->nrows; i++)
        if (r->rows[i].code == NULL)
            v[n++] = (struct doc_at){r->text.p + r->rows[i].doc_off, r->rows[i].doc_len, i};
    fields_sort_doc_nos(v, n);
    /* the repeats first: refusing a row appends to r->text, under v's pointers */
    size_t ndup = 0;
    for (size_t i = 1; i < n; i++)
        if (fields_same_doc_no(&v[i], &v[i - 1]))
            v[ndup++].pos = v[i].pos;
    for (size_t i = 0; i < ndup; i++) {
        struct row *w = &r->rows[v[i].pos];
        struct fail f = {CODE_DUP_DOC, NULL, w->doc_len};
        /* a valid doc_no has at most LIMIT_DOC_NO bytes; copied, because
         * the message is appended to the buffer it lives in */
        char doc[LIMIT_DOC_NO + 1];
        memcpy(doc, r->text.p + w->doc_off, w->doc_len);
        f.what = doc;
        row_fail(r, w, &f);
    }
    free(v);
    return r->text.failed ? say(EXIT_FAILED, "out of memory") : 0;
}

/* ---- stage 2: batches ---- */

static bool batch_uuid(const struct run *r, struct batch *b)
{
    struct buf h;
    buf_init(&h, SIZE_MAX / 2);
    buf_printf(&h, "vabill-send 1\n%s\n%s\n%d\n", r->o.comm, r->o.ccy, b->n);
    buf_add(&h, b->payload, b->payload_len);
    unsigned char md[32];
    unsigned int len = 0;
    bool ok = h.failed == ERR_OK && EVP_Digest(h.p, h.len, md, &len, EVP_sha256(), NULL) == 1;
    buf_free(&h);
    if (!ok)
        return false;
    static const char hex[] = "0123456789abcdef";
    memcpy(b->uuid, UUID_PREFIX, sizeof UUID_PREFIX - 1);
    char *at = b->uuid + sizeof UUID_PREFIX - 1;
    for (size_t i = 0; i < UUID_HEX / 2; i++) {
        *at++ = hex[md[i] >> 4];
        *at++ = hex[md[i] & 15];
    }
    *at = '\0';
    return true;
}

static int make_batches(struct run *r)
{
    size_t size = (size_t)r->o.batch;
    r->batches = calloc(r->nrows / size + 1, sizeof *r->batches);
    if (r->batches == NULL)
        return say(EXIT_FAILED, "out of memory");
    for (size_t lo = 0; lo < r->nrows; lo += size) {
        size_t hi = lo + size < r->nrows ? lo + size : r->nrows;
        struct batch *b = &r->batches[r->nbatches];
        struct buf p;
        buf_init(&p, SIZE_MAX / 2);
        buf_addc(&p, '{');
        for (size_t i = lo; i < hi; i++) {
            struct row *w = &r->rows[i];
            if (w->code)
                continue;
            if (b->n++)
                buf_addc(&p, ',');
            buf_add(&p, r->enc.p + w->enc_off, w->enc_len);
            w->batch = (int)r->nbatches;
        }
        buf_addc(&p, '}');
        if (p.failed) {
            buf_free(&p);
            return say(EXIT_FAILED, "out of memory");
        }
        if (b->n == 0) {
            buf_free(&p);
            continue;
        }
        b->lo = lo;
        b->hi = hi;
        b->ans = -1;
        b->payload = buf_steal(&p, &b->payload_len);
        if (!batch_uuid(r, b))
            return say(EXIT_FAILED, "cannot hash a batch");
        r->total_inv += (size_t)b->n;
        r->nbatches++;
    }
    return 0;
}

/* ---- answers ---- */

/* The value of member name in object token obj, or -1. */
static int member(const struct json_doc *d, int obj, const char *name, size_t n)
{
    if (obj < 0 || d->tok[obj].type != JSON_T_OBJECT)
        return -1;
    int t = obj + 1;
    for (int k = 0; k < d->tok[obj].size; k++) {
        if (d->tok[t].type == JSON_T_STRING && json_str_eq(d, t, name, n))
            return t + 1;
        t = json_next(d, t + 1);
    }
    return -1;
}

static bool tok_is(const struct json_doc *d, int i, const char *s)
{
    return i >= 0 && d->tok[i].type == JSON_T_STRING && json_str_eq(d, i, s, strlen(s));
}

/* Appends the decoded string (or the text of another value) at token i. */
static void add_tok(struct buf *b, const struct json_doc *d, int i)
{
    if (i < 0 || d->tok[i].type == JSON_T_NULL)
        return;
    const struct json_tok *t = &d->tok[i];
    size_t span = (size_t)(t->end - t->start);
    if (t->type != JSON_T_STRING) {
        buf_add(b, d->text + t->start, span);
        return;
    }
    if (buf_reserve(b, span) != ERR_OK)
        return;
    b->len += json_str_decode(d, i, b->p + b->len);
    b->p[b->len] = '\0';
}

/* Keeps an answer body (taken over): parsed, with its invoices object.
 * Returns its index, or -1 when the body is not an Espay 0000 answer. */
static int answer_add(struct run *r, const char *uuid, char *body, size_t len)
{
    if (r->nans == r->ans_cap) {
        size_t cap = r->ans_cap ? r->ans_cap * 2 : 16;
        struct answer *p = realloc(r->ans, cap * sizeof *p);
        if (p == NULL) {
            free(body);
            return -1;
        }
        r->ans = p;
        r->ans_cap = cap;
    }
    struct answer *a = &r->ans[r->nans];
    memset(a, 0, sizeof *a);
    a->body = body;
    snprintf(a->uuid, sizeof a->uuid, "%s", uuid);
    if (json_doc_parse(&a->doc, body, len) != ERR_OK || a->doc.tok[0].type != JSON_T_OBJECT ||
        !tok_is(&a->doc, member(&a->doc, 0, "error_code", 10), CODE_SUCCESS) ||
        (a->invoices = member(&a->doc, 0, "invoices", 8)) < 0 ||
        a->doc.tok[a->invoices].type != JSON_T_OBJECT) {
        json_doc_free(&a->doc);
        free(body);
        return -1;
    }
    return (int)r->nans++;
}

static void answers_free(struct run *r)
{
    for (size_t i = 0; i < r->nans; i++) {
        json_doc_free(&r->ans[i].doc);
        free(r->ans[i].body);
    }
    free(r->ans);
}

/* Points each row of batch b at its invoice in answer a (matched by
 * doc_no; the answer keeps request order, so the next member is tried first). */
static void attach_answer(struct run *r, struct batch *b, int a)
{
    const struct json_doc *d = &r->ans[a].doc;
    int obj = r->ans[a].invoices;
    b->ans = a;
    int t = obj + 1, seen = 0;
    for (size_t i = b->lo; i < b->hi; i++) {
        struct row *w = &r->rows[i];
        if (w->code)
            continue;
        const char *doc = r->text.p + w->doc_off;
        if (seen < d->tok[obj].size && json_str_eq(d, t, doc, w->doc_len)) {
            w->ans_tok = t + 1;
            t = json_next(d, t + 1);
            seen++;
        } else {
            w->ans_tok = member(d, obj, doc, w->doc_len);
        }
        w->ans = w->ans_tok >= 0 ? a : -1;
    }
}

/* ---- stage 3: the journal ---- */

static int journal_write(struct run *r, const struct buf *rec)
{
    size_t off = 0;
    while (off < rec->len) {
        ssize_t n = write(r->jfd, rec->p + off, rec->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return say(EXIT_FAILED, "cannot write the journal %s: %s", r->o.journal,
                       strerror(errno));
        off += (size_t)n;
    }
    if (fsync(r->jfd) != 0)
        return say(EXIT_FAILED, "cannot sync the journal %s: %s", r->o.journal, strerror(errno));
    return 0;
}

static int journal_record(struct run *r, const char *what, const char *uuid, const char *extra,
                          const char *body, size_t len)
{
    if (r->jfd < 0)
        return 0;
    struct buf rec;
    buf_init(&rec, SEND_ANSWER_MAX + 256);
    buf_printf(&rec, "%s %s%s%s\n", what, uuid, extra ? " " : "", extra ? extra : "");
    if (body) {
        buf_add(&rec, body, len);
        buf_addc(&rec, '\n');
    }
    int rc = rec.failed ? say(EXIT_FAILED, "out of memory") : journal_write(r, &rec);
    buf_free(&rec);
    return rc;
}

static struct batch *batch_by_uuid(struct run *r, const char *uuid, size_t n)
{
    for (size_t i = 0; i < r->nbatches; i++)
        if (n == UUID_LEN && memcmp(r->batches[i].uuid, uuid, n) == 0)
            return &r->batches[i];
    return NULL;
}

/*
 * Reads a journal: "sent UUID", "done UUID LEN" followed by LEN bytes of
 * answer and a newline, "refused UUID CODE".  A record cut short at the end
 * (the run was killed while writing it) is dropped and the file truncated
 * before it, so new records follow a whole one.
 */
static int journal_load(struct run *r, const char *text, size_t len, size_t *keep)
{
    const char *name = r->o.journal;
    size_t pos = 0;
    long line = 1;
    char head[128];
    snprintf(head, sizeof head, "%s%s\n", JOURNAL_MAGIC, r->o.comm);
    size_t hl = strlen(head);
    if (len < hl || memcmp(text, head, hl) != 0)
        return say(EXIT_FAILED, "%s is not a vabill send journal of community %s", name, r->o.comm);
    pos = hl;
    *keep = pos;
    while (pos < len) {
        line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (nl == NULL)
            break; /* cut short */
        const char *p = text + pos;
        size_t n = (size_t)(nl - p);
        const char *sp = memchr(p, ' ', n);
        if (sp == NULL)
            return say(EXIT_FAILED, "%s:%ld: not a journal record", name, line);
        size_t wl = (size_t)(sp - p);
        const char *uuid = sp + 1;
        const char *sp2 = memchr(uuid, ' ', (size_t)(nl - uuid));
        size_t ul = (size_t)((sp2 ? sp2 : nl) - uuid);
        if (ul == 0 || ul > UUID_LEN)
            return say(EXIT_FAILED, "%s:%ld: not a journal record", name, line);
        char u[UUID_LEN + 1];
        memcpy(u, uuid, ul);
        u[ul] = '\0';
        struct batch *b = batch_by_uuid(r, uuid, ul);
        if (wl == 4 && memcmp(p, "sent", 4) == 0) {
            if (b)
                b->journaled = true;
            pos = (size_t)(nl - text) + 1;
        } else if (wl == 7 && memcmp(p, "refused", 7) == 0) {
            pos = (size_t)(nl - text) + 1;
        } else if (wl == 4 && memcmp(p, "done", 4) == 0 && sp2) {
            char num[24];
            size_t nn = (size_t)(nl - sp2 - 1);
            long blen;
            if (nn == 0 || nn >= sizeof num)
                return say(EXIT_FAILED, "%s:%ld: not a journal record", name, line);
            memcpy(num, sp2 + 1, nn);
            num[nn] = '\0';
            if (!num_parse_long(num, 1, SEND_ANSWER_MAX, &blen))
                return say(EXIT_FAILED, "%s:%ld: not a journal record", name, line);
            size_t body = (size_t)(nl - text) + 1;
            if (len - body < (size_t)blen + 1)
                break; /* cut short */
            if (text[body + (size_t)blen] != '\n')
                return say(EXIT_FAILED, "%s:%ld: answer of the wrong length", name, line);
            char *copy = malloc((size_t)blen + 1);
            if (copy == NULL)
                return say(EXIT_FAILED, "out of memory");
            memcpy(copy, text + body, (size_t)blen);
            copy[blen] = '\0';
            int a = answer_add(r, u, copy, (size_t)blen);
            if (a < 0)
                return say(EXIT_FAILED, "%s:%ld: the answer is not an Espay 0000 answer", name,
                           line);
            if (b && b->state != B_DONE) {
                b->state = B_DONE;
                b->journaled = b->from_journal = true;
                attach_answer(r, b, a);
                r->done_inv += (size_t)b->n;
                r->journal_inv += (size_t)b->n;
            }
            for (const char *q = text + body; q < text + body + blen; q++)
                line += *q == '\n';
            pos = body + (size_t)blen + 1;
        } else {
            return say(EXIT_FAILED, "%s:%ld: not a journal record", name, line);
        }
        *keep = pos;
    }
    return 0;
}

static int journal_open(struct run *r)
{
    r->jfd = -1;
    if (r->o.journal == NULL)
        return 0;
    const char *name = r->o.journal;
    int fd = open(name, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return say(EXIT_FAILED, "cannot open the journal %s: %s", name, strerror(errno));
    struct buf b;
    buf_init(&b, SEND_INPUT_MAX * 4L);
    char chunk[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        if (buf_add(&b, chunk, (size_t)n))
            break;
    if (n < 0 || b.failed) {
        rc = say(EXIT_FAILED, "cannot read the journal %s: %s", name,
                 n < 0 ? strerror(errno) : err_str(b.failed));
        goto out;
    }
    r->jfd = fd;
    fd = -1;
    if (b.len == 0) {
        struct buf head;
        buf_init(&head, 256);
        buf_printf(&head, "%s%s\n", JOURNAL_MAGIC, r->o.comm);
        rc = journal_write(r, &head);
        buf_free(&head);
        goto out;
    }
    size_t keep = 0;
    rc = journal_load(r, b.p, b.len, &keep);
    if (rc == 0 && keep < b.len && ftruncate(r->jfd, (off_t)keep) != 0)
        rc = say(EXIT_FAILED, "cannot truncate the journal %s: %s", name, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    buf_free(&b);
    return rc;
}

/* ---- stage 4: sending ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct slot *s = ctx;
    return buf_add(&s->resp, p, size * n) == ERR_OK ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct slot *s = ctx;
    size_t len = size * n;
    static const char name[] = "idempotent-replayed:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        size_t i = sizeof name - 1;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (len - i >= 4 && strncasecmp(p + i, "true", 4) == 0)
            s->replayed = true;
    }
    return len;
}

/* --url as given, or with the sendinvoice path when it names none. */
static int make_url(struct run *r)
{
    CURLU *u = curl_url();
    char *path = NULL, *scheme = NULL;
    int rc = 0;
    if (u == NULL) {
        rc = say(EXIT_FAILED, "out of memory");
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, r->o.url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = say(EXIT_FAILED, "--url must be an http:// or https:// URL: %s", r->o.url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK || strcmp(path, "/") == 0)
        curl_url_set(u, CURLUPART_PATH, SEND_PATH, 0);
    if (curl_url_get(u, CURLUPART_URL, &r->url, 0) != CURLUE_OK)
        rc = say(EXIT_FAILED, "--url must be an http:// or https:// URL: %s", r->o.url);
out:
    curl_free(path);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

static int start(struct run *r, struct slot *s, int bi)
{
    struct batch *b = &r->batches[bi];
    if (!b->journaled) {
        int rc = journal_record(r, "sent", b->uuid, NULL, NULL, 0);
        if (rc)
            return rc;
        b->journaled = true;
    }
    char when[DT_LEN + 1], sig[SIG_HEX_LEN + 1], total[16];
    dt_format(dt_now(), r->o.offset, when);
    if (!sig_sendinvoice(b->uuid, when, r->o.comm, r->o.key, sig))
        return say(EXIT_FAILED, "out of memory");
    snprintf(total, sizeof total, "%d", b->n);
    buf_reset(&s->req);
    buf_reset(&s->resp);
    form_append(&s->req, "rq_uuid", b->uuid, strlen(b->uuid));
    form_append(&s->req, "rq_datetime", when, strlen(when));
    form_append(&s->req, "signature", sig, strlen(sig));
    form_append(&s->req, "comm_code", r->o.comm, strlen(r->o.comm));
    form_append(&s->req, "ccy", r->o.ccy, strlen(r->o.ccy));
    form_append(&s->req, "total_invoices", total, strlen(total));
    if (form_append(&s->req, "invoices", b->payload, b->payload_len))
        return say(EXIT_FAILED, "out of memory");
    s->batch = bi;
    s->replayed = false;
    s->err[0] = '\0';
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->req.p);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->req.len);
    if (curl_multi_add_handle(r->multi, s->h) != CURLM_OK)
        return say(EXIT_FAILED, "cannot start a transfer");
    if (b->attempts++ == 0)
        b->first_ms = now_ms();
    b->state = B_FLIGHT;
    return 0;
}

static void batch_fail(struct run *r, struct batch *b, const char *code, const char *why)
{
    b->state = B_FAILED;
    snprintf(b->code, sizeof b->code, "%s", code ? code : "");
    free(b->why);
    b->why = strdup(why);
    r->aborted = true;
}

static uint64_t next_rand(struct run *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng;
}

/* A failure worth another attempt: again after a backoff, or given up. */
static void retry_later(struct run *r, struct batch *b, const char *why)
{
    int64_t now = now_ms();
    int64_t delay = SEND_BACKOFF_BASE_MS;
    for (int k = 1; k < b->attempts && delay < SEND_BACKOFF_CAP_MS; k++)
        delay *= 2;
    if (delay > SEND_BACKOFF_CAP_MS)
        delay = SEND_BACKOFF_CAP_MS;
    delay = delay / 2 + (int64_t)(next_rand(r) % (uint64_t)(delay / 2 + 1));
    bool out_of_time = now + delay - b->first_ms > r->o.retry_max_s * 1000;
    if (r->aborted || b->attempts > r->o.retries || out_of_time) {
        char msg[CURL_ERROR_SIZE + 256];
        snprintf(msg, sizeof msg, "no answer from the server after %d attempt%s in %lld s: %s",
                 b->attempts, b->attempts == 1 ? "" : "s", (long long)((now - b->first_ms) / 1000),
                 why);
        if (!r->aborted)
            say(0, "cannot send batch %td (rq_uuid %s) to %s: %s", b - r->batches + 1, b->uuid,
                r->url, msg);
        batch_fail(r, b, NULL, msg);
        return;
    }
    b->state = B_WAIT;
    b->next_ms = now + delay;
}

/* What a refused request means for the partner, in one line. */
static const char *hint(const char *code)
{
    if (strcmp(code, CODE_SIGNATURE) == 0)
        return ": check --key and --comm-code";
    if (strcmp(code, CODE_COMMUNITY) == 0)
        return ": the community is not registered or is disabled on that server";
    if (strcmp(code, CODE_CURRENCY) == 0)
        return ": check --ccy";
    if (strcmp(code, CODE_EXPIRED_RQ) == 0)
        return ": check this machine's clock and --utc-offset (the server's UTC offset)";
    return "";
}

/* A transfer ended: the answer is kept, retried, or ends the run. */
static int finish(struct run *r, struct slot *s, CURLcode res)
{
    curl_multi_remove_handle(r->multi, s->h);
    struct batch *b = &r->batches[s->batch];
    s->batch = -1;
    long http = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &http);
    if (res != CURLE_OK) {
        if (res == CURLE_WRITE_ERROR && s->resp.failed) {
            batch_fail(r, b, NULL, "the answer is larger than the client accepts");
            say(0, "batch %td: the answer from %s is too large", b - r->batches + 1, r->url);
            return 0;
        }
        retry_later(r, b, s->err[0] ? s->err : curl_easy_strerror(res));
        return 0;
    }
    struct json_doc d;
    bool json = json_doc_parse(&d, s->resp.p ? s->resp.p : "", s->resp.len) == ERR_OK &&
                d.tok[0].type == JSON_T_OBJECT;
    struct buf code, msg;
    buf_init(&code, 64);
    buf_init(&msg, 1024);
    if (json) {
        add_tok(&code, &d, member(&d, 0, "error_code", 10));
        add_tok(&msg, &d, member(&d, 0, "error_message", 13));
        json_doc_free(&d);
    }
    const char *c = code.p ? code.p : "";
    const char *m = msg.p ? msg.p : "";
    int rc = 0;
    if (http >= 500 || (http == 200 && strcmp(c, CODE_SYSTEM) == 0)) {
        char why[1200];
        snprintf(why, sizeof why, "HTTP %ld%s%s%s%s", http, c[0] ? " " : "", c, m[0] ? " " : "", m);
        retry_later(r, b, why);
    } else if (http == 200 && strcmp(c, CODE_SUCCESS) == 0) {
        size_t len = s->resp.len;
        char *body = buf_steal(&s->resp, &len);
        /* "done UUID LEN" then the bytes: one record, one fsync */
        char n[32];
        snprintf(n, sizeof n, "%zu", len);
        rc = journal_record(r, "done", b->uuid, n, body, len);
        int a = rc ? -1 : answer_add(r, b->uuid, body, len);
        if (rc == 0 && a < 0) {
            batch_fail(r, b, NULL, "the server's 0000 answer has no invoices object");
            rc = say(EXIT_FAILED, "batch %td: the answer from %s has no invoices object",
                     b - r->batches + 1, r->url);
        } else if (rc == 0) {
            b->state = B_DONE;
            b->replayed = s->replayed;
            attach_answer(r, b, a);
            r->done_inv += (size_t)b->n;
        }
    } else if (http == 200 && json && c[0]) {
        char why[1200];
        snprintf(why, sizeof why, "%s%s", m, hint(c));
        journal_record(r, "refused", b->uuid, c, NULL, 0);
        if (!r->aborted)
            say(0, "the server refused batch %td (rq_uuid %s): %s %s", b - r->batches + 1, b->uuid,
                c, why);
        batch_fail(r, b, c, why);
    } else {
        char why[1200];
        snprintf(why, sizeof why, "HTTP %ld from %s%s%s%s%s", http, r->url, c[0] ? ": " : "", c,
                 m[0] ? " " : "", m);
        if (!json && http == 200)
            snprintf(why, sizeof why, "the answer from %s is not an Espay answer", r->url);
        if (!r->aborted)
            say(0, "batch %td: %s%s", b - r->batches + 1, why,
                http == 404   ? " (check --url)"
                : http == 413 ? " (try a smaller --batch)"
                              : "");
        batch_fail(r, b, c[0] ? c : NULL, why);
    }
    buf_free(&code);
    buf_free(&msg);
    return rc;
}

static void progress(struct run *r, bool last)
{
    if (r->o.quiet)
        return;
    int64_t now = now_ms();
    int64_t every = r->tty ? PROGRESS_TTY_MS : PROGRESS_LINE_MS;
    if (!last && now - r->last_progress_ms < every)
        return;
    if (last && !r->tty)
        return;
    r->last_progress_ms = now;
    size_t done = r->done_inv, total = r->total_inv;
    size_t fresh = done - r->journal_inv;
    int64_t ms = now - r->start_ms;
    long rate = ms > 0 ? (long)((int64_t)fresh * 1000 / ms) : 0;
    long eta = rate > 0 ? (long)((total - done) / (size_t)rate) : -1;
    char eta_s[32];
    if (eta >= 0)
        snprintf(eta_s, sizeof eta_s, "%ld:%02ld", eta / 60, eta % 60);
    else
        snprintf(eta_s, sizeof eta_s, "-:--");
    if (r->tty) {
        char bar[31];
        size_t fill = total ? done * 30 / total : 30;
        for (size_t i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu invoices  %ld/s  ETA %s \033[K%s", bar, done, total, rate,
                eta_s, last ? "\n" : "");
    } else {
        fprintf(stderr, "vabill: send: %zu/%zu invoices, %ld/s, ETA %s\n", done, total, rate,
                eta_s);
    }
    fflush(stderr);
}

static int send_all(struct run *r)
{
    int rc = 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return say(EXIT_FAILED, "cannot initialise libcurl");
    r->curl_ready = true;
    size_t nslots = (size_t)r->o.concurrency;
    r->multi = curl_multi_init();
    r->slots = calloc(nslots, sizeof *r->slots);
    r->headers = curl_slist_append(NULL, "Expect:");
    r->headers = r->headers ? curl_slist_append(r->headers, "Accept: application/json") : NULL;
    if (r->multi == NULL || r->slots == NULL || r->headers == NULL)
        return say(EXIT_FAILED, "out of memory");
    curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nslots);
    for (size_t i = 0; i < nslots; i++) {
        struct slot *s = &r->slots[i];
        s->batch = -1;
        buf_init(&s->req, SIZE_MAX / 2);
        buf_init(&s->resp, SEND_ANSWER_MAX);
        s->h = curl_easy_init();
        if (s->h == NULL)
            return say(EXIT_FAILED, "out of memory");
        curl_easy_setopt(s->h, CURLOPT_URL, r->url);
        curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(s->h, CURLOPT_POST, 1L);
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, r->headers);
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(s->h, CURLOPT_HEADERDATA, s);
        curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->err);
        curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(s->h, CURLOPT_USERAGENT, "vabill-send/0.1");
        curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, (long)SEND_CONNECT_TIMEOUT);
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT, r->o.timeout_s);
    }
    size_t next = 0; /* batches before it have been started at least once */
    for (;;) {
        int64_t now = now_ms();
        for (size_t i = 0; i < nslots && !r->aborted && rc == 0; i++) {
            if (r->slots[i].batch >= 0)
                continue;
            int pick = -1;
            /* retries first: they are the oldest work */
            for (size_t k = 0; k < next && pick < 0; k++)
                if (r->batches[k].state == B_WAIT && r->batches[k].next_ms <= now)
                    pick = (int)k;
            while (pick < 0 && next < r->nbatches) {
                if (r->batches[next].state == B_READY)
                    pick = (int)next;
                next++;
            }
            if (pick >= 0 && (rc = start(r, &r->slots[i], pick)) != 0)
                r->aborted = true;
        }
        int running = 0;
        curl_multi_perform(r->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(r->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            for (size_t i = 0; i < nslots; i++)
                if (r->slots[i].h == msg->easy_handle && r->slots[i].batch >= 0) {
                    CURLcode res = msg->data.result;
                    int frc = finish(r, &r->slots[i], res);
                    if (rc == 0)
                        rc = frc;
                    if (frc)
                        r->aborted = true;
                    break;
                }
        }
        progress(r, false);
        bool busy = false;
        int64_t wake = now_ms() + 1000;
        for (size_t i = 0; i < nslots; i++)
            busy |= r->slots[i].batch >= 0;
        for (size_t k = 0; k < r->nbatches; k++) {
            struct batch *b = &r->batches[k];
            if (b->state == B_WAIT && r->aborted) {
                batch_fail(r, b, NULL, "not sent: the run stopped");
            } else if (b->state == B_WAIT) {
                busy = true;
                wake = b->next_ms < wake ? b->next_ms : wake;
            } else if (b->state == B_READY && !r->aborted) {
                busy = true;
            }
        }
        if (!busy)
            break;
        int64_t wait = wake - now_ms();
        if (!r->tty || r->o.quiet)
            wait = wait > 1000 ? 1000 : wait;
        else
            wait = wait > PROGRESS_TTY_MS ? PROGRESS_TTY_MS : wait;
        if (wait < 0)
            wait = 0;
        curl_multi_poll(r->multi, NULL, 0, (int)wait, NULL);
    }
    progress(r, true);
    return rc;
}

/* ---- stage 5: output ---- */

/* Uses the journal's earlier answers for a 0002: the invoice was accepted
 * by an earlier batch of this file (its content changed since, so its
 * rq_uuid did), and that answer holds its VA numbers. */
static size_t recover_listed(struct run *r)
{
    size_t n = 0;
    if (r->jfd < 0)
        return 0;
    for (size_t i = 0; i < r->nrows; i++) {
        struct row *w = &r->rows[i];
        if (w->ans < 0)
            continue;
        const struct json_doc *d = &r->ans[w->ans].doc;
        if (!tok_is(d, member(d, w->ans_tok, "error_code", 10), CODE_LISTED))
            continue;
        for (size_t a = 0; a < r->nans; a++) {
            const struct json_doc *e = &r->ans[a].doc;
            int t = member(e, r->ans[a].invoices, r->text.p + w->doc_off, w->doc_len);
            if (t >= 0 && tok_is(e, member(e, t, "error_code", 10), CODE_SUCCESS)) {
                w->ans = (int)a;
                w->ans_tok = t;
                n++;
                break;
            }
        }
    }
    return n;
}

enum { COL_DOC, COL_CODE, COL_MSG, COL_REF, COL_BANK, COL_VA, COL_EXP, NCOL };
static const char *const col_names[NCOL] = {"doc_no",    "error_code", "error_msg", "doc_ref_no",
                                            "bank_code", "va_number",  "expired"};

static void out_line(struct run *r, struct buf *line, struct buf cell[NCOL], bool *first)
{
    buf_reset(line);
    if (r->out_json) {
        buf_adds(line, *first ? "[\n" : ",\n");
        for (int k = 0; k < NCOL; k++) {
            buf_adds(line, k ? "," : "{");
            buf_add_json_str(line, col_names[k], strlen(col_names[k]));
            buf_addc(line, ':');
            buf_add_json_str(line, cell[k].p ? cell[k].p : "", cell[k].len);
        }
        buf_addc(line, '}');
    } else {
        for (int k = 0; k < NCOL; k++) {
            const char *p = cell[k].p ? cell[k].p : "";
            size_t n = cell[k].len;
            bool quote = n && (blank(p[0]) || blank(p[n - 1]));
            for (size_t i = 0; i < n && !quote; i++)
                quote = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
            if (k)
                buf_addc(line, ',');
            if (!quote) {
                buf_add(line, p, n);
                continue;
            }
            buf_addc(line, '"');
            for (size_t i = 0; i < n; i++) {
                if (p[i] == '"')
                    buf_addc(line, '"');
                buf_addc(line, p[i]);
            }
            buf_addc(line, '"');
        }
        buf_adds(line, "\r\n");
    }
    *first = false;
    fwrite(line->p, 1, line->len, r->out);
}

struct tally {
    size_t accepted, refused, unfinished;
    struct {
        char code[8];
        size_t n;
    } by_code[32];
    size_t ncodes;
};

static void tally_code(struct tally *t, const char *code)
{
    for (size_t i = 0; i < t->ncodes; i++)
        if (strcmp(t->by_code[i].code, code) == 0) {
            t->by_code[i].n++;
            return;
        }
    if (t->ncodes < sizeof t->by_code / sizeof t->by_code[0]) {
        snprintf(t->by_code[t->ncodes].code, sizeof t->by_code[0].code, "%s", code);
        t->by_code[t->ncodes++].n = 1;
    }
}

static int write_output(struct run *r, struct tally *t)
{
    struct buf cell[NCOL], line;
    for (int k = 0; k < NCOL; k++)
        buf_init(&cell[k], 1 << 20);
    buf_init(&line, 1 << 22);
    bool first = true;
    if (!r->out_json) {
        for (int k = 0; k < NCOL; k++)
            buf_adds(&cell[k], col_names[k]);
        out_line(r, &line, cell, &first);
    }
    for (size_t i = 0; i < r->nrows; i++) {
        const struct row *w = &r->rows[i];
        for (int k = 0; k < NCOL; k++)
            buf_reset(&cell[k]);
        buf_add(&cell[COL_DOC], r->text.p + w->doc_off, w->doc_len);
        if (w->code) {
            buf_adds(&cell[COL_CODE], w->code);
            buf_add(&cell[COL_MSG], r->text.p + w->msg_off, w->msg_len);
            out_line(r, &line, cell, &first);
            t->refused++;
            tally_code(t, w->code);
            continue;
        }
        if (w->ans < 0) {
            const struct batch *b = w->batch >= 0 ? &r->batches[w->batch] : NULL;
            buf_adds(&cell[COL_CODE], b ? b->code : "");
            buf_adds(&cell[COL_MSG], b && b->why               ? b->why
                                     : b && b->state == B_DONE ? "not in the server's answer"
                                                               : "not sent: the run stopped");
            out_line(r, &line, cell, &first);
            t->unfinished++;
            continue;
        }
        const struct json_doc *d = &r->ans[w->ans].doc;
        int inv = w->ans_tok;
        add_tok(&cell[COL_CODE], d, member(d, inv, "error_code", 10));
        add_tok(&cell[COL_MSG], d, member(d, inv, "error_msg", 9));
        add_tok(&cell[COL_REF], d, member(d, inv, "doc_ref_no", 10));
        const char *code = cell[COL_CODE].p ? cell[COL_CODE].p : "";
        if (strcmp(code, CODE_SUCCESS) == 0) {
            t->accepted++;
        } else {
            t->refused++;
            tally_code(t, code);
        }
        int list = member(d, inv, "list_va", 7);
        int nva = list >= 0 && d->tok[list].type == JSON_T_OBJECT ? d->tok[list].size : 0;
        if (nva == 0)
            out_line(r, &line, cell, &first);
        for (int v = 0, at = list + 1; v < nva; v++, at = json_next(d, at + 1)) {
            buf_reset(&cell[COL_BANK]);
            buf_reset(&cell[COL_VA]);
            buf_reset(&cell[COL_EXP]);
            add_tok(&cell[COL_BANK], d, member(d, at + 1, "bank_code", 9));
            add_tok(&cell[COL_VA], d, member(d, at + 1, "va_number", 9));
            add_tok(&cell[COL_EXP], d, member(d, at + 1, "expired", 7));
            out_line(r, &line, cell, &first);
        }
    }
    if (r->out_json)
        fputs(first ? "[]\n" : "\n]\n", r->out);
    enum vb_err e = line.failed;
    for (int k = 0; k < NCOL; k++) {
        e = e ? e : cell[k].failed;
        buf_free(&cell[k]);
    }
    buf_free(&line);
    if (e)
        return say(EXIT_FAILED, "cannot write the output: %s", err_str(e));
    return 0;
}

static int open_output(struct run *r)
{
    r->out_json = r->o.out && ends_with(r->o.out, ".json");
    if (r->o.out == NULL) {
        r->out = stdout;
        return 0;
    }
    size_t n = strlen(r->o.out) + 32;
    r->out_tmp = malloc(n);
    if (r->out_tmp == NULL)
        return say(EXIT_FAILED, "out of memory");
    snprintf(r->out_tmp, n, "%s.%ld.tmp", r->o.out, (long)getpid());
    r->out = fopen(r->out_tmp, "w");
    if (r->out == NULL)
        return say(EXIT_FAILED, "cannot write %s: %s", r->o.out, strerror(errno));
    return 0;
}

static int close_output(struct run *r, int rc)
{
    if (r->out == NULL || r->out == stdout) {
        if (r->out && fflush(stdout) != 0 && rc == 0)
            rc = say(EXIT_FAILED, "cannot write the output: %s", strerror(errno));
        return rc;
    }
    bool ok = !ferror(r->out) && fflush(r->out) == 0 && fsync(fileno(r->out)) == 0;
    ok = fclose(r->out) == 0 && ok;
    r->out = NULL;
    if (rc == 0 && ok && rename(r->out_tmp, r->o.out) == 0)
        return 0;
    if (rc == 0)
        rc = say(EXIT_FAILED, "cannot write %s: %s", r->o.out, strerror(errno));
    unlink(r->out_tmp);
    return rc;
}

/* Bad rows on standard error, with their line numbers; the first few. */
static void report_bad_rows(struct run *r)
{
    size_t bad = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const struct row *w = &r->rows[i];
        if (w->code == NULL)
            continue;
        if (bad++ < SEND_BAD_ROWS_SHOWN)
            say(0, "%s:%ld: %.*s: %s %.*s (not sent)",
                strcmp(r->o.input, "-") ? r->o.input : "stdin", w->line, (int)w->doc_len,
                r->text.p + w->doc_off, w->code, (int)w->msg_len, r->text.p + w->msg_off);
    }
    if (bad > SEND_BAD_ROWS_SHOWN)
        say(0, "... and %zu more bad rows (see the output)", bad - SEND_BAD_ROWS_SHOWN);
}

static void summary(struct run *r, const struct tally *t)
{
    size_t sent = 0, replayed = 0, journal = 0, unfinished = 0;
    for (size_t k = 0; k < r->nbatches; k++) {
        const struct batch *b = &r->batches[k];
        sent += b->state == B_DONE && !b->from_journal;
        replayed += b->replayed;
        journal += b->from_journal;
        unfinished += b->state == B_FAILED || b->state == B_READY || b->state == B_WAIT;
    }
    struct buf s;
    buf_init(&s, 4096);
    buf_printf(&s, "send: %zu invoices: %zu accepted, %zu refused", r->nrows, t->accepted,
               t->refused);
    for (size_t i = 0; i < t->ncodes; i++)
        buf_printf(&s, "%s%s x%zu", i ? ", " : " (", t->by_code[i].code, t->by_code[i].n);
    buf_adds(&s, t->ncodes ? ")" : "");
    if (t->unfinished)
        buf_printf(&s, ", %zu unfinished", t->unfinished);
    int64_t ms = now_ms() - r->start_ms;
    buf_printf(&s, "; %zu batch%s (%zu answered, %zu replayed, %zu from the journal)", r->nbatches,
               r->nbatches == 1 ? "" : "es", sent, replayed, journal);
    if (unfinished)
        buf_printf(&s, ", %zu unfinished", unfinished);
    buf_printf(&s, "; %lld.%01lld s", (long long)(ms / 1000), (long long)(ms % 1000 / 100));
    say(0, "%s", s.p ? s.p : "send");
    buf_free(&s);
}

static void run_free(struct run *r)
{
    for (size_t i = 0; r->slots && i < (size_t)r->o.concurrency; i++) {
        if (r->slots[i].h) {
            if (r->slots[i].batch >= 0)
                curl_multi_remove_handle(r->multi, r->slots[i].h);
            curl_easy_cleanup(r->slots[i].h);
        }
        buf_free(&r->slots[i].req);
        buf_free(&r->slots[i].resp);
    }
    free(r->slots);
    if (r->multi)
        curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->headers);
    curl_free(r->url);
    if (r->curl_ready)
        curl_global_cleanup();
    for (size_t i = 0; i < r->nbatches; i++) {
        free(r->batches[i].payload);
        free(r->batches[i].why);
    }
    free(r->batches);
    answers_free(r);
    free(r->rows);
    buf_free(&r->text);
    buf_free(&r->enc);
    free(r->input);
    if (r->jfd >= 0)
        close(r->jfd);
    free(r->out_tmp);
}

int send_main(int argc, char **argv, int utc_offset_min)
{
    struct run r;
    memset(&r, 0, sizeof r);
    r.jfd = -1;
    r.start_ms = r.last_progress_ms = now_ms();
    r.rng =
        (uint64_t)time(NULL) * 6364136223846793005ULL ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
    buf_init(&r.text, SIZE_MAX / 2);
    buf_init(&r.enc, SIZE_MAX / 2);
    r.o.offset = utc_offset_min;
    struct tally t;
    memset(&t, 0, sizeof t);
    int rc = parse_opts(&r.o, argc, argv);
    if (rc < 0)
        return 0; /* --help */
    if (rc)
        goto out;
    r.tty = isatty(STDERR_FILENO) == 1;
    if ((rc = make_url(&r)) || (rc = read_input(&r)) || (rc = parse_input(&r)) ||
        (rc = refuse_duplicates(&r)) || (rc = make_batches(&r)) || (rc = open_output(&r)) ||
        (rc = journal_open(&r)))
        goto out;
    report_bad_rows(&r);
    rc = send_all(&r);
    size_t recovered = recover_listed(&r);
    if (recovered)
        say(0,
            "send: %zu invoices refused as already listed were accepted by an earlier run "
            "(their answers are in the journal)",
            recovered);
    int wrc = write_output(&r, &t);
    rc = rc ? rc : wrc;
    rc = close_output(&r, rc);
    summary(&r, &t);
    if (r.aborted || t.unfinished)
        say(0,
            "send: %zu invoices unfinished: run the same command again to finish them "
            "(answered batches replay; --resume JOURNAL skips them)",
            t.unfinished);
    if (rc == 0 && (r.aborted || t.unfinished))
        rc = EXIT_FAILED;
    if (rc == 0 && t.refused)
        rc = EXIT_REFUSED;
out:
    if (r.out && r.out != stdout) {
        fclose(r.out);
        unlink(r.out_tmp);
    }
    run_free(&r);
    return rc;
}
