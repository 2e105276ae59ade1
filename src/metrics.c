/*
 * metrics: request, invoice and latency counters.  See metrics.h.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* The codes a request can end with; anything else counts as "other". */
static const char *const codes[] = {"0000", "0001", "0003", "0004", "0005", "0006", "0007",
                                    "0008", "0009", "0010", "0011", "0013", "0014", "0015",
                                    "0016", "0017", "0018", "0019", "0020", "0099", "0404",
                                    "0405", "0413", "0415", "other"};
#define NCODES (sizeof codes / sizeof codes[0])

/* Latency bucket bounds, seconds. */
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBOUNDS (sizeof bounds / sizeof bounds[0])

static atomic_ullong requests[NCODES];
static atomic_ullong replays;
static atomic_ullong inv_accepted, inv_refused;
static atomic_ullong buckets[NBOUNDS + 1];
static atomic_ullong latency_us_sum;
static atomic_ullong latency_count;

/* The last hour for the console, one slot per minute: slot m % 60 holds
 * the counts of minute m (minutes since the epoch, by the wall clock). */
#define MINUTES 60
static pthread_mutex_t hour_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int64_t minute;
    unsigned counts[NCODES];
} hour[MINUTES];

static int64_t minute_now(void)
{
    return (int64_t)time(NULL) / 60;
}

void metrics_request(const char *error_code, int http_status, bool replayed, int accepted,
                     int refused, double seconds)
{
    (void)http_status;
    size_t k = 0;
    while (k + 1 < NCODES && strcmp(codes[k], error_code) != 0)
        k++;
    atomic_fetch_add(&requests[k], 1);
    int64_t m = minute_now();
    pthread_mutex_lock(&hour_mu);
    if (hour[m % MINUTES].minute != m) {
        memset(&hour[m % MINUTES], 0, sizeof hour[0]);
        hour[m % MINUTES].minute = m;
    }
    hour[m % MINUTES].counts[k]++;
    pthread_mutex_unlock(&hour_mu);
    if (replayed)
        atomic_fetch_add(&replays, 1);
    atomic_fetch_add(&inv_accepted, (unsigned long long)accepted);
    atomic_fetch_add(&inv_refused, (unsigned long long)refused);
    size_t b = 0;
    while (b < NBOUNDS && seconds > bounds[b])
        b++;
    atomic_fetch_add(&buckets[b], 1);
    atomic_fetch_add(&latency_us_sum, (unsigned long long)(seconds * 1e6));
    atomic_fetch_add(&latency_count, 1);
}

enum vb_err metrics_render(struct buf *out)
{
    buf_adds(out, "# HELP vabill_requests_total Requests answered, by error_code.\n"
                  "# TYPE vabill_requests_total counter\n");
    for (size_t k = 0; k < NCODES; k++)
        buf_printf(out, "vabill_requests_total{error_code=\"%s\"} %llu\n", codes[k],
                   atomic_load(&requests[k]));
    buf_printf(out,
               "# HELP vabill_replays_total Requests answered from the idempotency store.\n"
               "# TYPE vabill_replays_total counter\n"
               "vabill_replays_total %llu\n",
               atomic_load(&replays));
    buf_printf(out,
               "# HELP vabill_invoices_total Invoices processed, by outcome.\n"
               "# TYPE vabill_invoices_total counter\n"
               "vabill_invoices_total{outcome=\"accepted\"} %llu\n"
               "vabill_invoices_total{outcome=\"refused\"} %llu\n",
               atomic_load(&inv_accepted), atomic_load(&inv_refused));
    buf_adds(out, "# HELP vabill_request_duration_seconds Time from first byte to answer.\n"
                  "# TYPE vabill_request_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (size_t b = 0; b < NBOUNDS; b++) {
        cum += atomic_load(&buckets[b]);
        buf_printf(out, "vabill_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[b], cum);
    }
    cum += atomic_load(&buckets[NBOUNDS]);
    buf_printf(out, "vabill_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    buf_printf(out, "vabill_request_duration_seconds_sum %.6f\n",
               (double)atomic_load(&latency_us_sum) / 1e6);
    buf_printf(out, "vabill_request_duration_seconds_count %llu\n", atomic_load(&latency_count));
    return out->failed;
}

enum vb_err metrics_last_hour_json(struct buf *out)
{
    unsigned long long sum[NCODES] = {0};
    int64_t now = minute_now();
    pthread_mutex_lock(&hour_mu);
    for (size_t i = 0; i < MINUTES; i++)
        if (hour[i].minute > now - MINUTES && hour[i].minute <= now)
            for (size_t k = 0; k < NCODES; k++)
                sum[k] += hour[i].counts[k];
    pthread_mutex_unlock(&hour_mu);
    buf_addc(out, '{');
    const char *sep = "";
    for (size_t k = 0; k < NCODES; k++)
        if (sum[k]) {
            buf_printf(out, "%s\"%s\":%llu", sep, codes[k], sum[k]);
            sep = ",";
        }
    buf_addc(out, '}');
    return out->failed;
}
