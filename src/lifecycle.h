/*
 * lifecycle: the rest of a VA's life (SPEC 5) as services, without HTTP.
 *
 *   inquiry      a bank asks what a VA number would pay         (5.1)
 *   payment      a bank pays on a VA number                     (5.2)
 *   checkstatus  a partner asks for an invoice and its payments  (5.4)
 *   closeinvoice a partner closes an invoice                     (5.5)
 *
 * Each decodes the body (req.h), walks its field table (fields.h), checks
 * the caller, the signature and the clock, then does its own work against
 * the store.  Like svc_sendinvoice, each always fills the reply.
 */
#ifndef VABILL_LIFECYCLE_H
#define VABILL_LIFECYCLE_H

#include "service.h"

void svc_inquiry(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                 const char *body, size_t n, struct svc_reply *reply);
void svc_payment(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                 const char *body, size_t n, struct svc_reply *reply);
void svc_checkstatus(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                     const char *body, size_t n, struct svc_reply *reply);
void svc_closeinvoice(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                      const char *body, size_t n, struct svc_reply *reply);

/* The signature modes of SPEC 5, for clients and the notifier. */
#define SIG_MODE_INQUIRY       "INQUIRY"
#define SIG_MODE_PAYMENT       "PAYMENT"
#define SIG_MODE_CHECKSTATUS   "CHECKSTATUS"
#define SIG_MODE_CLOSEINVOICE  "CLOSEINVOICE"
#define SIG_MODE_PAYMENTREPORT "PAYMENTREPORT"

#endif
