/*
 * vabill-load: the load generator of issue 6 (docs/PERFORMANCE.md).
 *
 * N threads, each with one kept-alive HTTP/1.1 connection (plain sockets),
 * send POST /rest/virtualaccount/sendinvoice for a fixed duration (or a
 * fixed number of requests).  Bodies are made on the fly with the project's
 * own code (sig_sendinvoice, form_append, buf_add_json_str, dt_format):
 * every request has a fresh rq_uuid and fresh doc_nos, correctly signed.
 * Every answer is checked: HTTP 200, top-level error_code 0000,
 * invoices_success holding exactly the batch's invoices and invoices_error
 * empty (and, in replay mode, the Idempotent-Replayed header).  Anything
 * else is an error, counted and sampled on standard error.
 *
 * Modes:
 *   accept  (default) unique batches: the write path
 *   replay  each connection first sends --replay-pool unique batches (not
 *           timed), then resends those very bodies: the replay path
 * Bodies are form-urlencoded (the Espay convention) or, with --json, an
 * application/json object with `invoices` as an object.
 *
 * Pacing: by default each connection sends its next request as soon as the
 * last is answered (a closed loop: throughput at saturation, and latency
 * that includes the queue).  With --rate R the connections together send R
 * requests a second on a fixed schedule (connection k's i-th request is due
 * at (i + k / N) * N / R seconds), and latency counts from the due time, so
 * a late server is charged for the requests it delayed (no coordinated
 * omission): latency at a given throughput.
 *
 * Output: a human summary, then one line "RESULT key=value ..." for
 * scripts/bench.sh.  Exit status 0 when no answer failed its check, 1 when
 * some did, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dt.h"
#include "form.h"
#include "limits.h"
#include "sig.h"

#define PATH "/rest/virtualaccount/sendinvoice"
/* Largest answer read, bytes: a 500-invoice answer with two banks is ~350 KB. */
#define ANSWER_MAX (64L * 1024 * 1024)
/* Error samples printed on standard error. */
#define ERROR_SAMPLES 5

static const char usage[] =
    "usage: vabill-load [--host H] [--port P] [-c CONNECTIONS] [-d SECONDS] [-n REQUESTS]\n"
    "                   [-b BATCH] [--json] [--replay] [--replay-pool K] [--warmup SECONDS]\n"
    "                   [--comm CODE] [--key KEY] [--utc-offset +HH:MM] [--tag TEXT]\n"
    "                   [--rate REQUESTS_PER_SECOND]\n"
    "  -c  connections, one thread each (default 8)\n"
    "  -d  measured seconds (default 20); -n instead sends N requests per connection\n"
    "  -b  invoices per request, 1-500 (default 500)\n"
    "  --warmup  seconds of load before measuring (default 1; 0 with -n)\n"
    "  --rate  all connections together send this many requests a second, on a\n"
    "          fixed schedule; latency counts from each request's due time\n";

struct opts {
    const char *host;
    int port;
    int conns;
    double duration;
    long requests; /* per connection; 0: run for duration */
    int batch;
    bool json;
    bool replay;
    int replay_pool;
    double warmup;
    const char *comm;
    const char *key;
    int utc_offset;
    const char *tag;
    double rate; /* requests per second, all connections; 0: closed loop */
};

static struct opts o = {
    .host = "127.0.0.1",
    .port = 8080,
    .conns = 8,
    .duration = 20,
    .batch = 500,
    .replay_pool = 4,
    .warmup = 1,
    .comm = "SGWTES",
    .key = "7bc074f97c3131d2e290a4as",
    .utc_offset = 7 * 60,
    .tag = "",
};

static char run_id[16];
static atomic_int error_samples;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- bodies */

/* One invoice as JSON: the shape of the SPEC's example (strings for money,
 * numbers for counts, a member name and a description). */
static void add_invoice(struct buf *j, const char *doc_no, long serial)
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

/*
 * Makes one signed request body for connection t, batch number seq, into
 * body (reset first); scratch holds the invoices JSON.  doc_nos and rq_uuid
 * embed the run id, the connection and the batch, so they are unique across
 * connections, batches and runs.
 */
static bool make_body(int t, long seq, struct buf *body, struct buf *scratch)
{
    char rq_uuid[64], dt[DT_LEN + 1], sig[SIG_HEX_LEN + 1], doc[48], total[8];
    snprintf(rq_uuid, sizeof rq_uuid, "%s-%s-%03d-%08ld", o.replay ? "RP" : "LD", run_id, t, seq);
    dt_format(dt_now(), o.utc_offset, dt);
    if (!sig_sendinvoice(rq_uuid, dt, o.comm, o.key, sig))
        return false;
    buf_reset(scratch);
    buf_addc(scratch, '{');
    for (int i = 0; i < o.batch; i++) {
        if (i)
            buf_addc(scratch, ',');
        /* at most 2 + 8 + 3 + 8 + 3 + 4 = 32 characters */
        snprintf(doc, sizeof doc, "%c%s%03d%08ld%03d", o.replay ? 'P' : 'L', run_id, t, seq, i);
        add_invoice(scratch, doc, seq * LIMIT_INVOICES + i);
    }
    buf_addc(scratch, '}');
    snprintf(total, sizeof total, "%d", o.batch);
    buf_reset(body);
    if (o.json) {
        buf_adds(body, "{\"rq_uuid\":");
        buf_add_json_str(body, rq_uuid, strlen(rq_uuid));
        buf_printf(body, ",\"rq_datetime\":\"%s\",\"signature\":\"%s\",\"comm_code\":", dt, sig);
        buf_add_json_str(body, o.comm, strlen(o.comm));
        buf_adds(body, ",\"ccy\":\"IDR\",\"invoices\":");
        buf_add(body, scratch->p, scratch->len);
        buf_printf(body, ",\"total_invoices\":%d}", o.batch);
    } else {
        form_append(body, "rq_uuid", rq_uuid, strlen(rq_uuid));
        form_append(body, "rq_datetime", dt, strlen(dt));
        form_append(body, "signature", sig, strlen(sig));
        form_append(body, "comm_code", o.comm, strlen(o.comm));
        form_append(body, "ccy", "IDR", 3);
        form_append(body, "invoices", scratch->p, scratch->len);
        form_append(body, "total_invoices", total, strlen(total));
    }
    return body->failed == ERR_OK && scratch->failed == ERR_OK;
}

/* ---------------------------------------------------------------- answers */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Past the string starting at p (which is at its opening quote), or NULL. */
static const char *skip_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Past the JSON value at p, or NULL.  The answer comes from a server that
 * writes valid JSON, so only its structure is followed. */
static const char *skip_value(const char *p, const char *e)
{
    p = skip_ws(p, e);
    if (p >= e)
        return NULL;
    if (*p == '"')
        return skip_string(p, e);
    if (*p != '{' && *p != '[') {
        while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
            p++;
        return p;
    }
    int depth = 0;
    while (p < e) {
        if (*p == '"') {
            p = skip_string(p, e);
            if (p == NULL)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

/* Members of the object at p[0..n), or -1 when it is not an object. */
static long count_members(const char *p, size_t n)
{
    const char *e = p + n;
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return -1;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}')
        return 0;
    long count = 0;
    while (p < e) {
        p = skip_ws(p, e);
        if (p >= e || *p != '"' || (p = skip_string(p, e)) == NULL)
            return -1;
        p = skip_ws(p, e);
        if (p >= e || *p != ':')
            return -1;
        if ((p = skip_value(p + 1, e)) == NULL)
            return -1;
        count++;
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        return p < e && *p == '}' ? count : -1;
    }
    return -1;
}

/*
 * Checks an answer body: top-level error_code "0000", invoices_success with
 * `want` members, invoices_error empty.  On failure writes why.
 */
static bool check_answer(const char *p, size_t n, int want, char *why, size_t whylen)
{
    const char *e = p + n;
    const char *code = NULL, *succ = NULL, *errs = NULL;
    size_t code_n = 0, succ_n = 0, errs_n = 0;
    p = skip_ws(p, e);
    if (p >= e || *p != '{') {
        snprintf(why, whylen, "answer is not a JSON object");
        return false;
    }
    p++;
    while (p < e) {
        p = skip_ws(p, e);
        if (p < e && *p == '}')
            break;
        const char *k = p;
        if (p >= e || *p != '"' || (p = skip_string(p, e)) == NULL)
            break;
        size_t kn = (size_t)(p - k);
        p = skip_ws(p, e);
        if (p >= e || *p != ':')
            break;
        const char *v = skip_ws(p + 1, e);
        if ((p = skip_value(v, e)) == NULL)
            break;
        size_t vn = (size_t)(p - v);
        if (kn == 12 && memcmp(k, "\"error_code\"", 12) == 0) {
            code = v;
            code_n = vn;
        } else if (kn == 18 && memcmp(k, "\"invoices_success\"", 18) == 0) {
            succ = v;
            succ_n = vn;
        } else if (kn == 16 && memcmp(k, "\"invoices_error\"", 16) == 0) {
            errs = v;
            errs_n = vn;
        }
        p = skip_ws(p, e);
        if (p < e && *p == ',')
            p++;
    }
    if (code == NULL || code_n != 6 || memcmp(code, "\"0000\"", 6) != 0) {
        snprintf(why, whylen, "error_code %.*s", code ? (int)(code_n < 40 ? code_n : 40) : 6,
                 code ? code : "absent");
        return false;
    }
    long ns = succ ? count_members(succ, succ_n) : -1;
    long ne = errs ? count_members(errs, errs_n) : -1;
    if (ns != want || ne != 0) {
        snprintf(why, whylen, "%ld invoices_success, %ld invoices_error, %d wanted", ns, ne, want);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- HTTP */

struct conn {
    int fd;
    struct buf in; /* bytes read and not yet consumed */
};

static int dial(void)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", o.port);
    if (getaddrinfo(o.host, port, &hints, &ai) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_reset(&c->in);
}

static bool write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return true;
}

/* Reads more bytes into c->in; false on EOF or error. */
static bool read_more(struct conn *c)
{
    if (buf_reserve(&c->in, 65536) != ERR_OK)
        return false;
    for (;;) {
        ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        c->in.len += (size_t)r;
        c->in.p[c->in.len] = '\0';
        return true;
    }
}

struct answer {
    int status;
    bool replayed;
    bool close;
    struct buf body;
};

/* A header's value when line (without CRLF) is "name: value". */
static const char *header_value(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return NULL;
    const char *v = line + k + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return v;
}

/* Reads one HTTP/1.1 answer (Content-Length or chunked). */
static bool read_answer(struct conn *c, struct answer *a, char *why, size_t whylen)
{
    char *end;
    while ((end = strstr(c->in.p ? c->in.p : "", "\r\n\r\n")) == NULL) {
        if (c->in.len > 65536) {
            snprintf(why, whylen, "headers too long");
            return false;
        }
        if (!read_more(c)) {
            snprintf(why, whylen, "connection closed while reading headers");
            return false;
        }
    }
    size_t hlen = (size_t)(end - c->in.p) + 4;
    a->status = 0;
    a->replayed = false;
    a->close = false;
    long clen = -1;
    bool chunked = false;
    if (sscanf(c->in.p, "HTTP/1.%*d %d", &a->status) != 1) {
        snprintf(why, whylen, "bad status line");
        return false;
    }
    for (char *line = strstr(c->in.p, "\r\n") + 2; line < end;) {
        char *eol = strstr(line, "\r\n");
        size_t n = (size_t)(eol - line);
        const char *v;
        if ((v = header_value(line, n, "Content-Length")))
            clen = strtol(v, NULL, 10);
        else if ((v = header_value(line, n, "Transfer-Encoding")))
            chunked = strncasecmp(v, "chunked", 7) == 0;
        else if ((v = header_value(line, n, "Idempotent-Replayed")))
            a->replayed = strncasecmp(v, "true", 4) == 0;
        else if ((v = header_value(line, n, "Connection")))
            a->close = strncasecmp(v, "close", 5) == 0;
        line = eol + 2;
    }
    buf_reset(&a->body);
    size_t pos = hlen;
    if (!chunked) {
        if (clen < 0 || clen > ANSWER_MAX) {
            snprintf(why, whylen, "no usable Content-Length");
            return false;
        }
        while (c->in.len - pos < (size_t)clen)
            if (!read_more(c)) {
                snprintf(why, whylen, "connection closed while reading the body");
                return false;
            }
        buf_add(&a->body, c->in.p + pos, (size_t)clen);
        pos += (size_t)clen;
    } else {
        for (;;) {
            char *crlf;
            while ((crlf = strstr(c->in.p + pos, "\r\n")) == NULL)
                if (!read_more(c)) {
                    snprintf(why, whylen, "connection closed in a chunk");
                    return false;
                }
            long size = strtol(c->in.p + pos, NULL, 16);
            pos = (size_t)(crlf - c->in.p) + 2;
            if (size < 0 || a->body.len + (size_t)size > ANSWER_MAX) {
                snprintf(why, whylen, "bad chunk");
                return false;
            }
            while (c->in.len - pos < (size_t)size + 2)
                if (!read_more(c)) {
                    snprintf(why, whylen, "connection closed in a chunk");
                    return false;
                }
            buf_add(&a->body, c->in.p + pos, (size_t)size);
            pos += (size_t)size + 2;
            if (size == 0)
                break; /* no trailers expected */
        }
    }
    /* keep whatever follows (nothing, without pipelining) */
    memmove(c->in.p, c->in.p + pos, c->in.len - pos);
    c->in.len -= pos;
    c->in.p[c->in.len] = '\0';
    return a->body.failed == ERR_OK;
}

/* Sends body and reads the answer, reconnecting once when a kept-alive
 * connection turns out to be closed before anything came back. */
static bool exchange(struct conn *c, const struct buf *body, struct answer *a, char *why,
                     size_t whylen)
{
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST " PATH " HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
                      o.host, o.port,
                      o.json ? "application/json" : "application/x-www-form-urlencoded", body->len);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->fd < 0 && (c->fd = dial()) < 0) {
            snprintf(why, whylen, "cannot connect to %s:%d: %s", o.host, o.port, strerror(errno));
            return false;
        }
        struct iovec iov[2] = {{head, (size_t)hn}, {body->p, body->len}};
        if (write_all(c->fd, iov, 2) && read_answer(c, a, why, whylen)) {
            if (a->close)
                conn_close(c);
            return true;
        }
        bool fresh_failed = attempt == 1;
        conn_close(c);
        if (fresh_failed)
            return false;
    }
    return false;
}

/* ---------------------------------------------------------------- threads */

struct worker {
    pthread_t th;
    int id;
    /* measured */
    long requests, invoices, errors;
    double *lat; /* seconds */
    size_t nlat, caplat;
    /* setup */
    bool setup_failed;
    struct buf *pool; /* replay bodies */
};

static double t_start, t_measure, t_end; /* monotonic seconds */
static pthread_barrier_t start_line;

static void note_error(struct worker *w, const char *why)
{
    w->errors++;
    if (atomic_fetch_add(&error_samples, 1) < ERROR_SAMPLES)
        fprintf(stderr, "vabill-load: connection %d: %s\n", w->id, why);
}

static void add_latency(struct worker *w, double s)
{
    if (w->nlat == w->caplat) {
        size_t cap = w->caplat ? w->caplat * 2 : 4096;
        double *p = realloc(w->lat, cap * sizeof *p);
        if (p == NULL)
            return;
        w->lat = p;
        w->caplat = cap;
    }
    w->lat[w->nlat++] = s;
}

/* Checks one exchange's answer; returns true when it is as expected. */
static bool judge(const struct answer *a, bool want_replay, char *why, size_t whylen)
{
    if (a->status != 200) {
        snprintf(why, whylen, "HTTP %d: %.200s", a->status, a->body.p ? a->body.p : "");
        return false;
    }
    if (!check_answer(a->body.p, a->body.len, o.batch, why, whylen))
        return false;
    if (want_replay && !a->replayed) {
        snprintf(why, whylen, "answer without Idempotent-Replayed: true");
        return false;
    }
    if (!want_replay && a->replayed) {
        snprintf(why, whylen, "a fresh batch was answered as a replay");
        return false;
    }
    return true;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct conn c = {-1, {0}};
    struct buf body, scratch;
    struct answer a;
    char why[512];
    buf_init(&c.in, ANSWER_MAX + 65536);
    buf_init(&body, LIMIT_BODY_MAX);
    buf_init(&scratch, LIMIT_BODY_MAX);
    memset(&a, 0, sizeof a);
    buf_init(&a.body, ANSWER_MAX);
    long seq = 0;

    /* replay mode: the bodies to resend, accepted once before the clock starts */
    if (o.replay) {
        w->pool = calloc((size_t)o.replay_pool, sizeof *w->pool);
        for (int k = 0; w->pool && k < o.replay_pool; k++) {
            buf_init(&w->pool[k], LIMIT_BODY_MAX);
            if (!make_body(w->id, seq++, &w->pool[k], &scratch) ||
                !exchange(&c, &w->pool[k], &a, why, sizeof why) ||
                !judge(&a, false, why, sizeof why)) {
                fprintf(stderr, "vabill-load: replay setup, connection %d: %s\n", w->id, why);
                w->setup_failed = true;
                break;
            }
        }
        if (w->pool == NULL)
            w->setup_failed = true;
    }
    /* twice: once when ready, once when main has set the clock */
    pthread_barrier_wait(&start_line);
    pthread_barrier_wait(&start_line);

    for (long i = 0; o.requests ? i < o.requests : now_s() < t_end; i++) {
        if (w->setup_failed)
            break;
        const struct buf *b;
        if (o.replay) {
            b = &w->pool[i % o.replay_pool];
        } else {
            if (!make_body(w->id, seq++, &body, &scratch)) {
                note_error(w, "cannot make a body (out of memory)");
                break;
            }
            b = &body;
        }
        double t0 = now_s();
        if (o.rate > 0) {
            /* due time of this connection's i-th request; late: send now */
            double due = t_start + ((double)i + (double)w->id / o.conns) * o.conns / o.rate;
            if (!o.requests && due >= t_end)
                break;
            if (due > t0) {
                struct timespec ts = {(time_t)due, (long)((due - (double)(time_t)due) * 1e9)};
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                    ;
            }
            t0 = due;
        }
        bool ok = exchange(&c, b, &a, why, sizeof why) && judge(&a, o.replay, why, sizeof why);
        double t1 = now_s();
        if (!o.requests && (t0 < t_measure || t1 > t_end))
            continue; /* warm-up, or finished after the measured window */
        if (!ok) {
            note_error(w, why);
            if (c.fd < 0)
                usleep(10000); /* a refused connection: do not spin */
            continue;
        }
        w->requests++;
        w->invoices += o.batch;
        add_latency(w, t1 - t0);
    }
    conn_close(&c);
    buf_free(&c.in);
    buf_free(&body);
    buf_free(&scratch);
    buf_free(&a.body);
    if (w->pool) {
        for (int k = 0; k < o.replay_pool; k++)
            buf_free(&w->pool[k]);
        free(w->pool);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return v[k < n ? k : n - 1];
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s ? s : "", &end);
    if (s == NULL || *s == '\0' || errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int die_usage(const char *what)
{
    fprintf(stderr, "vabill-load: %s\n%s", what, usage);
    return 2;
}

int main(int argc, char **argv)
{
    bool warmup_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            o.json = true;
            continue;
        } else if (strcmp(a, "--replay") == 0) {
            o.replay = true;
            continue;
        }
        if (i + 1 >= argc)
            return die_usage("unknown option or missing value");
        const char *s = argv[++i];
        if (strcmp(a, "--host") == 0) {
            o.host = s;
        } else if (strcmp(a, "--port") == 0 && parse_num(s, 1, 65535, &v)) {
            o.port = (int)v;
        } else if (strcmp(a, "-c") == 0 && parse_num(s, 1, 1024, &v)) {
            o.conns = (int)v;
        } else if (strcmp(a, "-d") == 0 && parse_num(s, 0.1, 86400, &v)) {
            o.duration = v;
        } else if (strcmp(a, "-n") == 0 && parse_num(s, 1, 1e9, &v)) {
            o.requests = (long)v;
        } else if (strcmp(a, "-b") == 0 && parse_num(s, 1, LIMIT_INVOICES, &v)) {
            o.batch = (int)v;
        } else if (strcmp(a, "--rate") == 0 && parse_num(s, 0.01, 1e7, &v)) {
            o.rate = v;
        } else if (strcmp(a, "--replay-pool") == 0 && parse_num(s, 1, 1000, &v)) {
            o.replay_pool = (int)v;
        } else if (strcmp(a, "--warmup") == 0 && parse_num(s, 0, 3600, &v)) {
            o.warmup = v;
            warmup_given = true;
        } else if (strcmp(a, "--comm") == 0) {
            o.comm = s;
        } else if (strcmp(a, "--key") == 0) {
            o.key = s;
        } else if (strcmp(a, "--utc-offset") == 0 && dt_parse_offset(s, &o.utc_offset)) {
            continue;
        } else if (strcmp(a, "--tag") == 0) {
            o.tag = s;
        } else {
            return die_usage("unknown option or bad value");
        }
    }
    if (o.requests && !warmup_given)
        o.warmup = 0;
    signal(SIGPIPE, SIG_IGN);
    /* unique across runs against one database: seconds and pid, base 36 */
    unsigned long long u = ((unsigned long long)time(NULL) << 16) ^ (unsigned long long)getpid();
    const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int k = 0; k < 8; k++, u /= 36)
        run_id[k] = digits[u % 36];
    run_id[8] = '\0';

    struct worker *ws = calloc((size_t)o.conns, sizeof *ws);
    if (ws == NULL)
        return 1;
    pthread_barrier_init(&start_line, NULL, (unsigned)o.conns + 1);
    for (int k = 0; k < o.conns; k++) {
        ws[k].id = k;
        if (pthread_create(&ws[k].th, NULL, run, &ws[k]) != 0) {
            fprintf(stderr, "vabill-load: cannot start thread %d\n", k);
            return 1;
        }
    }
    /* every thread is ready (replay setup done): set the clock, then go */
    pthread_barrier_wait(&start_line);
    double t0 = now_s();
    t_start = t0;
    t_measure = t0 + o.warmup;
    t_end = t_measure + o.duration;
    double cpu0 = cpu_seconds();
    pthread_barrier_wait(&start_line);
    long requests = 0, invoices = 0, errors = 0;
    size_t nlat = 0;
    bool setup_failed = false;
    for (int k = 0; k < o.conns; k++) {
        pthread_join(ws[k].th, NULL);
        requests += ws[k].requests;
        invoices += ws[k].invoices;
        errors += ws[k].errors;
        nlat += ws[k].nlat;
        setup_failed |= ws[k].setup_failed;
    }
    double t1 = now_s();
    double cpu = cpu_seconds() - cpu0;
    double secs = o.requests ? t1 - t0 : o.duration;
    double *lat = malloc((nlat ? nlat : 1) * sizeof *lat);
    size_t at = 0;
    for (int k = 0; k < o.conns; k++) {
        if (lat && ws[k].nlat)
            memcpy(lat + at, ws[k].lat, ws[k].nlat * sizeof *lat);
        at += ws[k].nlat;
        free(ws[k].lat);
    }
    if (lat)
        qsort(lat, nlat, sizeof *lat, cmp_double);
    double p50 = 1e3 * pct(lat, nlat, .50), p90 = 1e3 * pct(lat, nlat, .90),
           p99 = 1e3 * pct(lat, nlat, .99), mx = 1e3 * (nlat ? lat[nlat - 1] : 0);
    const char *mode = o.replay ? "replay" : "accept";
    printf("vabill-load %s%s: %d connections, %d invoices per request, %s bodies, %.1f s", o.tag,
           o.tag[0] ? "" : "run", o.conns, o.batch, o.json ? "JSON" : "form", secs);
    if (o.rate > 0)
        printf(", %.1f requests/s scheduled", o.rate);
    printf("\n");
    printf("  %s: %ld requests (%.1f/s), %ld invoices (%.0f/s), %ld errors\n", mode, requests,
           (double)requests / secs, invoices, (double)invoices / secs, errors);
    printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", p50, p90, p99, mx);
    printf("  generator CPU: %.1f s (%.0f%% of one core)\n", cpu, 100 * cpu / (t1 - t0));
    printf("RESULT tag=%s mode=%s body=%s batch=%d conns=%d secs=%.2f requests=%ld invoices=%ld"
           " rps=%.1f ips=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%ld"
           " client_cpu_s=%.2f rate=%.1f\n",
           o.tag[0] ? o.tag : "-", mode, o.json ? "json" : "form", o.batch, o.conns, secs, requests,
           invoices, (double)requests / secs, (double)invoices / secs, p50, p90, p99, mx, errors,
           cpu, o.rate);
    free(lat);
    free(ws);
    return errors || setup_failed || requests == 0 ? 1 : 0;
}
