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

/* The same with rs_datetime already formatted (DT_LEN characters). */
void resp_head_at(struct buf *out, const char *rq_uuid, size_t rq_uuid_len, const char *rs,
                  const struct fail *f);

/* A failure of a SPEC 5 service: the four head members only. */
enum vb_err resp_short_failure(struct buf *out, const char *rq_uuid, size_t rq_uuid_len,
                               int64_t now, int utc_offset_min, const struct fail *f);

/* A request-level failure (or HTTP-level error): empty maps, total "0".
 * rq_uuid may be NULL for "". */
enum vb_err resp_failure(struct buf *out, const char *rq_uuid, size_t rq_uuid_len, int64_t now,
                         int utc_offset_min, const struct fail *f);

/*
 * What the store remembers of a 0000 batch answer: not the answer (~700
 * bytes per invoice, most of a batch's writes) but a record of what it says
 * (~40 bytes per invoice: each doc_no with its outcome, id, serial and
 * description or failure; the banks, the times).  The store's render
 * callback for a unit whose outcomes are known; u->render_ctx points to an
 * int, the UTC offset in minutes.  Cheap enough for the write lock.
 */
enum vb_err resp_record(struct store_unit *u, struct buf *out);

/* Appends the answer a stored record stands for, or a stored answer
 * itself (JSON, as older versions stored it).  The answer depends on the
 * record alone, so a replay is the first answer byte for byte.  ERR_STORE
 * when the bytes are neither. */
enum vb_err resp_from_stored(const void *stored, size_t n, struct buf *out);

/* The 0000 answer of a unit whose outcomes are known: resp_record, then
 * resp_from_stored, so an answer is always rendered from its record. */
enum vb_err resp_batch(struct store_unit *u, struct buf *out);

#endif
