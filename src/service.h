/*
 * service: Send Invoice and Generate Virtual Account (SPEC 1.4), from a
 * request body to the answer bytes, without HTTP.
 *
 * Everything before the store call is computation on the request's own
 * memory; the store call is one unit of work.  The HTTP module routes,
 * enforces the step-1 limits and hands the body here.
 */
#ifndef VABILL_SERVICE_H
#define VABILL_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "limits.h"
#include "req.h"
#include "store.h"

struct svc_config {
    int utc_offset_min; /* minutes east of UTC */
    int clock_skew;     /* seconds; 0 turns the check off */
    /* called after a payment is committed (wakes the notification
     * worker); may be NULL */
    void (*on_payment)(void *ctx);
    void *on_payment_ctx;
};

/* The answer and what the log and metrics need to know about it. */
struct svc_reply {
    int http_status;
    struct buf body;
    bool replayed;
    char error_code[5];
    char comm_code[LIMIT_COMM_CODE + 1]; /* "" unless well formed */
    char bank_code[LIMIT_BANK_CODE + 1]; /* bank services: "" unless well formed */
    char rq_uuid[LIMIT_RQ_UUID + 1];     /* "" unless well formed */
    int invoices;                        /* in the request, when counted */
    int accepted;                        /* invoices stored */
    int refused;                         /* invoices answered with another code */
    char store_error[256];               /* the store's reason for a 0099: logs only */
};

void svc_reply_init(struct svc_reply *r);
void svc_reply_free(struct svc_reply *r);

/* Handles one sendinvoice body.  Always fills reply (a 0099 on failure). */
void svc_sendinvoice(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                     const char *body, size_t n, struct svc_reply *reply);

/* An HTTP-level error (0404, 0405, 0413, 0415) in the Espay shape. */
void svc_http_error(const struct svc_config *cfg, int http_status, const char *code,
                    struct svc_reply *reply);

#endif
