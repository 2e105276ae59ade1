/*
 * resp: the Espay answer of SPEC 1.6, written straight into one buffer.
 *
 * Maps keep request order; invoices_success and invoices_error are copies of
 * the members of invoices, split by outcome.
 */
#ifndef VABILL_RESP_H
#define VABILL_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "codes.h"
#include "store.h"

/* Opens an answer: {"rq_uuid", "rs_datetime", "error_code", "error_message"
 * (no closing brace, so a service can add its own members). */
void resp_head(struct buf *out, const char *rq_uuid, size_t rq_uuid_len, int64_t now,
               int utc_offset_min, const struct fail *f);

/* A failure of a SPEC 5 service: the four head members only. */
enum vb_err resp_short_failure(struct buf *out, const char *rq_uuid, size_t rq_uuid_len,
                               int64_t now, int utc_offset_min, const struct fail *f);

/* A request-level failure (or HTTP-level error): empty maps, total "0".
 * rq_uuid may be NULL for "". */
enum vb_err resp_failure(struct buf *out, const char *rq_uuid, size_t rq_uuid_len, int64_t now,
                         int utc_offset_min, const struct fail *f);

/* The 0000 answer of a unit whose outcomes are known (the store's render
 * callback).  u->render_ctx points to an int: the UTC offset in minutes. */
enum vb_err resp_batch(struct store_unit *u, struct buf *out);

#endif
