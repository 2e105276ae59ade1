/*
 * fuzz_invoices: arbitrary text as the `invoices` field of a correctly
 * signed request for the fixture's community (clock skew off), so every
 * input reaches step 9 of SPEC 1.4: the invoices object, duplicate doc_nos,
 * counts, the invoice field table, the canonical payload hash and the
 * store's transaction.  total_invoices is set to the number of members the
 * text has when it is an object, so the invoice fields are reached.
 *
 * Each input gets a community of its own (fixture.h) and runs up to three
 * times: first as a form body (`invoices` a string of JSON), then, with the
 * same rq_uuid, as a JSON body with the text embedded as the `invoices`
 * value, then as a form body with a new rq_uuid.  SPEC 1.5 says the first
 * two carry the same payload, so:
 *   - a 0000 first answer must be replayed byte for byte by the second;
 *   - any other first answer must be answered with the same code again
 *     (unless the embedding itself broke the body, e.g. nesting too deep);
 * and the third must accept nothing: every doc_no the first stored is now
 * already listed (0002).  A 0000 answer lists every invoice once:
 * total_invoice, the sizes of invoices, invoices_success and invoices_error
 * and the reply's counts all agree; and every accepted invoice, read back
 * from the store, keeps the rules of SPEC 1.3 and 2 (fixture_check_stored).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "form.h"
#include "json.h"
#include "sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RQ_UUID "FUZZ-INVOICES-0001"

/* The number of members when text is a JSON object, else -1. */
static int members(const char *text, size_t n)
{
    struct json_doc d;
    if (json_doc_parse(&d, text, n) != ERR_OK)
        return -1;
    int m = d.tok[0].type == JSON_T_OBJECT ? d.tok[0].size : -1;
    json_doc_free(&d);
    return m;
}

static void check_success(const struct svc_reply *r, int count)
{
    struct fixture_answer a;
    fixture_answer(r, &a);
    char want[16];
    snprintf(want, sizeof want, "%d", count);
    fixture_check(strcmp(a.total_invoice, want) == 0, "total_invoice is not the request's count",
                  r);
    fixture_check(a.all == count, "invoices does not list every invoice", r);
    fixture_check(a.ok >= 0 && a.bad >= 0 && a.ok + a.bad == count,
                  "success and error lists do not add up", r);
    fixture_check(r->accepted + r->refused == count && r->accepted == a.ok,
                  "reply counts do not match the answer", r);
}

/* The form body of a signed request for community comm with this rq_uuid. */
static void form_body(struct buf *b, const char *comm, const char *rq_uuid, const char *text,
                      size_t n, int total)
{
    char signature[SIG_HEX_LEN + 1], total_s[8];
    if (!sig_sendinvoice(rq_uuid, FIXTURE_DATETIME, comm, FIXTURE_KEY, signature))
        abort();
    snprintf(total_s, sizeof total_s, "%d", total);
    form_append(b, "rq_uuid", rq_uuid, strlen(rq_uuid));
    form_append(b, "rq_datetime", FIXTURE_DATETIME, strlen(FIXTURE_DATETIME));
    form_append(b, "signature", signature, SIG_HEX_LEN);
    form_append(b, "comm_code", comm, strlen(comm));
    form_append(b, "ccy", "IDR", 3);
    form_append(b, "invoices", text, n);
    form_append(b, "total_invoices", total_s, strlen(total_s));
}

/* svc_sendinvoice on an exact-size copy of b, so ASan sees a read past the end. */
static void send(struct store *st, enum req_kind kind, const struct buf *b, struct svc_reply *r)
{
    if (b->failed)
        abort();
    char *copy = malloc(b->len ? b->len : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, b->p, b->len);
    svc_sendinvoice(&fixture_cfg, st, kind, copy, b->len, r);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fixture_init();
    const char *text = (const char *)data;
    int m = members(text, size);
    int total = m < 1 ? 1 : m > 999 ? 999 : m;
    char comm[LIMIT_COMM_CODE + 1], prefix[16];
    struct store *st = fixture_new_community(comm, prefix);

    struct svc_reply first, second, third;
    svc_reply_init(&first);
    svc_reply_init(&second);
    svc_reply_init(&third);
    struct buf b;
    buf_init(&b, SIZE_MAX / 2);

    /* 1. form body, invoices a string of JSON */
    form_body(&b, comm, RQ_UUID, text, size, total);
    send(st, REQ_FORM, &b, &first);
    fixture_trace("form", &first);
    fixture_check(strcmp(first.error_code, "0004") != 0 && strcmp(first.error_code, "0099") != 0,
                  "a signed request was refused before its invoices", &first);
    bool success = strcmp(first.error_code, "0000") == 0;
    if (success) {
        check_success(&first, total);
        fixture_check(fixture_check_stored(st, comm, prefix, &first) == first.accepted,
                      "the answer's accepted invoices and the store disagree", &first);
    }

    /* 2. the same payload as a JSON body, invoices embedded: the same request */
    if (m >= 0) {
        char signature[SIG_HEX_LEN + 1];
        if (!sig_sendinvoice(RQ_UUID, FIXTURE_DATETIME, comm, FIXTURE_KEY, signature))
            abort();
        buf_reset(&b);
        buf_printf(&b,
                   "{\"rq_uuid\":\"%s\",\"rq_datetime\":\"%s\",\"signature\":\"%s\","
                   "\"comm_code\":\"%s\",\"ccy\":\"IDR\",\"total_invoices\":%d,\"invoices\":",
                   RQ_UUID, FIXTURE_DATETIME, signature, comm, total);
        buf_add(&b, text, size);
        buf_adds(&b, "}");
        send(st, REQ_JSON, &b, &second);
        fixture_trace("json", &second);
        bool broke = strcmp(second.error_code, "0003") == 0 &&
                     strstr(second.body.p, "Invalid format = body") != NULL;
        if (success && !broke) {
            fixture_check(second.replayed, "same payload as a JSON body was not replayed", &second);
            fixture_check(second.body.len == first.body.len &&
                              memcmp(second.body.p, first.body.p, first.body.len) == 0,
                          "the replay differs from the first answer", &second);
        } else if (!broke) {
            fixture_check(strcmp(first.error_code, second.error_code) == 0 && !second.replayed,
                          "form and JSON bodies answered differently", &second);
        }
    }

    /* 3. a new rq_uuid with the same invoices: every doc_no stored is now
     * already listed (0002), nothing new is accepted */
    if (success && first.accepted > 0) {
        buf_reset(&b);
        form_body(&b, comm, RQ_UUID "-AGAIN", text, size, total);
        send(st, REQ_FORM, &b, &third);
        fixture_trace("again", &third);
        fixture_check(strcmp(third.error_code, "0000") == 0 && !third.replayed,
                      "a new rq_uuid for a stored batch was not processed", &third);
        check_success(&third, total);
        fixture_check(third.accepted == 0, "a stored doc_no was accepted again", &third);
    }

    svc_reply_free(&first);
    svc_reply_free(&second);
    svc_reply_free(&third);
    buf_free(&b);
    return 0;
}
