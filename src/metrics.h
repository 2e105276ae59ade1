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

/* Appends the exposition text. */
enum vb_err metrics_render(struct buf *out);

#endif
