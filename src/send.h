/*
 * send: `vabill send`, the partner-side client of SPEC 1.  A spreadsheet
 * (CSV) or JSON file of invoices goes in; signed sendinvoice requests of at
 * most 500 invoices go out over libcurl; one line per invoice and bank
 * (doc_no, error_code, error_msg, doc_ref_no, bank_code, va_number, expired)
 * comes back as CSV or JSON.  See docs/SEND.md.
 *
 * Rows are checked first with the server's own field table
 * (fields_check_invoice); a bad row is reported and never sent.  A batch's
 * rq_uuid is derived from its content, so a retry, a rerun or a resumed run
 * sends the same batch under the same rq_uuid and the server replays its
 * answer instead of creating anything twice (SPEC 1.5).
 */
#ifndef VABILL_SEND_H
#define VABILL_SEND_H

/* Default and largest invoices per batch (SPEC 1.1: at most 500). */
#define SEND_BATCH_DEFAULT 500
/* Batches in flight at once: default and maximum. */
#define SEND_CONCURRENCY_DEFAULT 4
#define SEND_CONCURRENCY_MAX     64
/* Input file, bytes: read whole, so it is bounded (a million invoice rows
 * of a few hundred bytes each). */
#define SEND_INPUT_MAX (512L * 1024 * 1024)
/* One answer, bytes: a 500-invoice answer with a few banks is well under. */
#define SEND_ANSWER_MAX (64L * 1024 * 1024)
/* Retries of one batch: attempts, and seconds from its first attempt. */
#define SEND_RETRIES_DEFAULT       8
#define SEND_RETRY_SECONDS_DEFAULT 300
/* Backoff before retry k (from 1): base * 2^(k-1), at most the cap, with
 * jitter between half and all of it. */
#define SEND_BACKOFF_BASE_MS 250
#define SEND_BACKOFF_CAP_MS  30000
/* Seconds for one attempt (connect, send, answer), default of --timeout. */
#define SEND_TIMEOUT_DEFAULT 120
#define SEND_CONNECT_TIMEOUT 10
/* Bad rows listed on standard error; the rest are only in the output. */
#define SEND_BAD_ROWS_SHOWN 20

/*
 * Runs `vabill send` with the arguments after the word "send".
 * utc_offset_min is the server's UTC offset (vabill's --utc-offset), for
 * rq_datetime.  Prints its own messages; returns the exit status: 0 every
 * invoice accepted, 1 some refused, 2 usage, input or transport failure.
 */
int send_main(int argc, char **argv, int utc_offset_min);

#endif
