/*
 * notify: delivers partner notifications (SPEC 5.3) from the outbox.
 *
 * One worker thread per vabilld with its own store connection.  It claims
 * the next due notification (a lease in the database, so several servers
 * never send one at the same time), posts it signed to the partner's URL
 * with libcurl, and records the outcome: delivered on HTTP 2xx with a JSON
 * body whose error_code is "0000", else the next attempt on the SPEC 5.3
 * schedule, and failed after the last.  The outbox is in the database, so a
 * restart loses nothing; delivery is at least once, in payment order per
 * invoice.
 */
#ifndef VABILL_NOTIFY_H
#define VABILL_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "store.h"

struct notifier;

/* Starts the worker on its own connection to db_url.  speedup divides the
 * retry schedule (1 for production). */
enum vb_err notify_start(const char *db_url, int utc_offset_min, int speedup, struct notifier **out,
                         char *why, size_t whylen);

/* Wakes the worker (a payment was just committed).  ctx is the notifier. */
void notify_wake(void *ctx);

/* Stops the worker (an attempt in flight is aborted and retried later). */
void notify_stop(struct notifier *n);

/* The form body of one attempt, signed with the community's key, at the
 * given time.  Exposed for tests and for `vabill notification` tools. */
enum vb_err notify_body(const struct store_notification *n, int64_t now, int utc_offset_min,
                        struct buf *out);

/* Milliseconds before the next attempt after `failed` failed attempts
 * (1..8), or -1 when the notification has failed for good. */
int64_t notify_delay_ms(int failed, int speedup);

#endif
