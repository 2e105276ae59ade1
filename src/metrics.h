/*
 * metrics: counters for GET /metrics (Prometheus text format 0.0.4).
 * Lock-free: every counter is an atomic, updated once per request.
 */
#ifndef VABILL_METRICS_H
#define VABILL_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* Records one finished request. */
void metrics_request(const char *error_code, int http_status, bool replayed, int accepted,
                     int refused, double seconds);

/* Appends a JSON object of this process's requests in the last 60 minutes
 * by error code, e.g. {"0000":40,"0004":2} (codes without requests left out). */
enum vb_err metrics_last_hour_json(struct buf *out);

/* Appends the exposition text. */
enum vb_err metrics_render(struct buf *out);

#endif
