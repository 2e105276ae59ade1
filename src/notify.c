/*
 * notify: the notification worker.  See notify.h.
 *
 * Untrusted bytes enter here too: the partner's answer, read into a bounded
 * buffer and judged by the JSON module.
 */
#include "notify.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dt.h"
#include "form.h"
#include "json.h"
#include "lifecycle.h"
#include "money.h"
#include "sig.h"

/* SPEC 5.3: seconds to wait after the 1st, 2nd, ... 8th failed attempt. */
static const int64_t schedule_s[] = {60, 300, 900, 3600, 10800, 21600, 43200, 86400};
#define NSCHEDULE ((int)(sizeof schedule_s / sizeof schedule_s[0]))

/* How long an attempt may take (SPEC 5.3: no answer within 10 s). */
#define ATTEMPT_TIMEOUT_MS 10000L
/* A claimed notification stays claimed this long: longer than an attempt. */
#define LEASE_MS 60000L
/* The partner's answer is read up to this many bytes. */
#define ANSWER_MAX 65536
/* Idle poll interval: other servers may have queued notifications. */
#define POLL_MS 250L

struct notifier {
    struct store *st;
    int offset;
    int speedup;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woken;
    atomic_bool stopping;
};

int64_t notify_delay_ms(int failed, int speedup)
{
    if (failed < 1 || failed > NSCHEDULE)
        return -1;
    int64_t ms = schedule_s[failed - 1] * 1000 / (speedup > 0 ? speedup : 1);
    return ms > 0 ? ms : 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum vb_err notify_body(const struct store_notification *n, int64_t now, int utc_offset_min,
                        struct buf *out)
{
    char rq_uuid[32], rq_datetime[DT_LEN + 1], ref[LIMIT_DOC_REF_NO + 1];
    char amount[24], paid[24], outstanding[24];
    snprintf(rq_uuid, sizeof rq_uuid, "NTF%lld", (long long)n->payment_id);
    dt_format(now, utc_offset_min, rq_datetime);
    store_doc_ref_no(n->invoice_id, ref);
    money_format(n->amount, amount);
    money_format(n->paid_total, paid);
    money_format(n->outstanding, outstanding);
    struct sig_part parts[] = {
        {rq_uuid, strlen(rq_uuid)},
        {rq_datetime, strlen(rq_datetime)},
        {n->comm_code, strlen(n->comm_code)},
        {n->doc_no, strlen(n->doc_no)},
        {n->payment_ref, strlen(n->payment_ref)},
        {amount, strlen(amount)},
        {n->key, strlen(n->key)},
    };
    char signature[SIG_HEX_LEN + 1];
    if (!sig_compute(parts, 7, SIG_MODE_PAYMENTREPORT, signature))
        return ERR_NOMEM;
    const char *status = n->outstanding == 0 ? "paid" : "open";
    const struct {
        const char *name;
        const char *value;
    } fields[] = {
        {"rq_uuid", rq_uuid},
        {"rq_datetime", rq_datetime},
        {"comm_code", n->comm_code},
        {"doc_no", n->doc_no},
        {"doc_ref_no", ref},
        {"bank_code", n->bank_code},
        {"va_number", n->va_number},
        {"payment_ref", n->payment_ref},
        {"amount", amount},
        {"paid_total", paid},
        {"outstanding_amount", outstanding},
        {"status", status},
        {"signature", signature},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        form_append(out, fields[i].name, fields[i].value, strlen(fields[i].value));
    return out->failed;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct buf *b = ctx;
    size_t n = size * nmemb;
    if (buf_add(b, p, n) != ERR_OK)
        return 0; /* over ANSWER_MAX: abort the transfer */
    return n;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    struct notifier *nt = ctx;
    return atomic_load(&nt->stopping) ? 1 : 0;
}

/* True when the answer is a JSON object whose error_code is "0000". */
static bool acknowledged(const struct buf *answer)
{
    struct json_doc d;
    if (answer->len == 0 || json_doc_parse(&d, answer->p, answer->len) != ERR_OK)
        return false;
    int v = json_member(&d, 0, "error_code");
    bool ok = v > 0 && d.tok[v].type == JSON_T_STRING && json_str_eq(&d, v, "0000", 4);
    json_doc_free(&d);
    return ok;
}

/* One attempt; true when delivered.  why gets the reason otherwise. */
static bool attempt(struct notifier *nt, const struct store_notification *n, char *why,
                    size_t whylen, long *http_status)
{
    struct buf body, answer;
    buf_init(&body, 1 << 16);
    buf_init(&answer, ANSWER_MAX);
    bool delivered = false;
    *http_status = 0;
    CURL *curl = curl_easy_init();
    if (curl == NULL || notify_body(n, dt_now(), nt->offset, &body) != ERR_OK) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, n->url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.p);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body.len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ATTEMPT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, nt);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, http_status);
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", curl_easy_strerror(rc));
    } else if (*http_status < 200 || *http_status > 299) {
        snprintf(why, whylen, "HTTP %ld", *http_status);
    } else if (!acknowledged(&answer)) {
        snprintf(why, whylen, "HTTP %ld without error_code 0000", *http_status);
    } else {
        delivered = true;
    }
out:
    curl_easy_cleanup(curl);
    buf_free(&body);
    buf_free(&answer);
    return delivered;
}

static void log_attempt(const struct store_notification *n, const char *outcome, long http_status,
                        const char *why)
{
    struct buf line;
    buf_init(&line, 4096);
    char ts[DT_LEN + 1];
    dt_format(dt_now(), 0, ts);
    buf_printf(&line,
               "{\"ts\":\"%.10sT%sZ\",\"notification\":%lld,\"comm_code\":\"%s\",\"attempt\":%d,"
               "\"outcome\":\"%s\",\"http_status\":%ld,\"error\":",
               ts, ts + 11, (long long)n->id, n->comm_code, n->attempts + 1, outcome, http_status);
    buf_add_json_str(&line, why, strlen(why));
    buf_adds(&line, "}\n");
    if (line.failed == ERR_OK)
        fwrite(line.p, 1, line.len, stderr);
    buf_free(&line);
}

/* Waits up to ms, or until woken or stopping. */
static void nap(struct notifier *nt, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&nt->mu);
    while (!nt->woken && !atomic_load(&nt->stopping))
        if (pthread_cond_timedwait(&nt->cv, &nt->mu, &until) != 0)
            break;
    nt->woken = false;
    pthread_mutex_unlock(&nt->mu);
}

static void *worker(void *arg)
{
    struct notifier *nt = arg;
    while (!atomic_load(&nt->stopping)) {
        struct store_notification n;
        enum vb_err e = nt->st->ops->notify_claim(nt->st, now_ms(), LEASE_MS, &n);
        if (e == ERR_NOTFOUND) {
            nap(nt, POLL_MS);
            continue;
        }
        if (e) {
            fprintf(stderr, "{\"notifier_error\":\"%s\"}\n", err_str(e));
            nap(nt, 1000);
            continue;
        }
        char why[256] = "";
        long http_status = 0;
        bool delivered = attempt(nt, &n, why, sizeof why, &http_status);
        int64_t next = -1;
        if (!delivered) {
            int64_t delay = notify_delay_ms(n.attempts + 1, nt->speedup);
            next = delay < 0 ? -1 : now_ms() + delay;
        }
        log_attempt(&n, delivered ? "delivered" : next < 0 ? "failed" : "retry", http_status, why);
        nt->st->ops->notify_finish(nt->st, n.id, delivered, next, why, now_ms());
        OPENSSL_cleanse(n.key, sizeof n.key);
    }
    return NULL;
}

enum vb_err notify_start(const char *db_url, int utc_offset_min, int speedup, struct notifier **out,
                         char *why, size_t whylen)
{
    struct notifier *nt = calloc(1, sizeof *nt);
    if (nt == NULL)
        return ERR_NOMEM;
    enum vb_err e = store_open(db_url, &nt->st, why, whylen);
    if (e) {
        free(nt);
        return e;
    }
    nt->offset = utc_offset_min;
    nt->speedup = speedup;
    pthread_mutex_init(&nt->mu, NULL);
    pthread_cond_init(&nt->cv, NULL);
    if (pthread_create(&nt->thread, NULL, worker, nt) != 0) {
        store_close(nt->st);
        free(nt);
        return ERR_NOMEM;
    }
    *out = nt;
    return ERR_OK;
}

void notify_wake(void *ctx)
{
    struct notifier *nt = ctx;
    pthread_mutex_lock(&nt->mu);
    nt->woken = true;
    pthread_cond_signal(&nt->cv);
    pthread_mutex_unlock(&nt->mu);
}

void notify_stop(struct notifier *nt)
{
    if (nt == NULL)
        return;
    atomic_store(&nt->stopping, true);
    notify_wake(nt);
    pthread_join(nt->thread, NULL);
    store_close(nt->st);
    pthread_mutex_destroy(&nt->mu);
    pthread_cond_destroy(&nt->cv);
    free(nt);
}
