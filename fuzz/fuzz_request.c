/*
 * fuzz_request: a whole sendinvoice body through svc_sendinvoice, so the
 * path of SPEC 1.4 runs end to end: decoding (form or JSON), the request
 * field table (steps 2-3), community, signature, payload hash, clock skew
 * (off), currency, the invoices object, counts, invoice fields, and the
 * store's transaction, against a fresh in-memory store per input.
 *
 * The input is the body.  It is sent as JSON when its first byte could
 * start a JSON text ('{', '[', '"', or a blank), else as form-urlencoded.
 * The seeds are signed for the fixture's community, so mutations that keep
 * rq_uuid, rq_datetime and comm_code get past the signature.
 *
 * The request field parser also runs on its own (req_decode, then
 * fields_check_request), and the service must agree with it: a malformed
 * body is 0003 body, a field failure is the service's answer.
 *
 * Checks, besides ASan and UBSan: the answer is one JSON object
 * (json_doc_parse accepts it), its error_code is four digits and matches the reply's, the
 * HTTP status is 200 or 503 with 0099; and a repeat of a 0000 request is
 * replayed byte for byte (SPEC 1.5), anything else answers the same code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "fixture.h"
#include "req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_answer(const struct svc_reply *r)
{
    fixture_check(r->http_status == 200 ||
                      (r->http_status == 503 && strcmp(r->error_code, "0099") == 0),
                  "unexpected HTTP status", r);
    struct fixture_answer a;
    fixture_answer(r, &a);
    fixture_check(strlen(a.error_code) == 4 && strcmp(a.error_code, r->error_code) == 0,
                  "answer's error_code differs from the reply's", r);
    fixture_check(a.all >= 0 && a.ok >= 0 && a.bad >= 0 && a.all == a.ok + a.bad,
                  "answer's invoice lists do not add up", r);
}

/* What the field parser alone makes of the body: "body" for a malformed
 * one, the failure's code, or NULL when the fields are well formed. */
static const char *field_verdict(enum req_kind kind, const char *body, size_t n)
{
    struct fv f[RQ_NFIELDS];
    struct req_body rb;
    enum vb_err e = req_decode(kind, body, n, rq_field_names, RQ_NFIELDS, &rb, f);
    const char *verdict = NULL;
    if (e == ERR_INVALID) {
        verdict = "body";
    } else if (e != ERR_OK) {
        verdict = "0099";
    } else {
        struct rq_values rq;
        struct fail fl;
        if (!fields_check_request(f, fixture_cfg.utc_offset_min, &rq, &fl))
            verdict = fl.code;
    }
    req_body_free(&rb);
    return verdict;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fixture_init();
    /* a private copy, so a read past the end of the body is seen by ASan */
    char *body = malloc(size ? size : 1);
    if (body == NULL)
        return 0;
    memcpy(body, data, size);
    enum req_kind kind = REQ_FORM;
    if (size > 0 && strchr("{[\" \t\r\n", body[0]) != NULL && body[0] != '\0')
        kind = REQ_JSON;

    const char *verdict = field_verdict(kind, body, size);

    /* a body the field parser refuses never reaches the store: the shared
     * one serves, unchanged; any other gets a fresh store */
    struct store *st = verdict ? fixture_shared() : fixture_open();
    struct svc_reply first, again;
    svc_reply_init(&first);
    svc_reply_init(&again);
    svc_sendinvoice(&fixture_cfg, st, kind, body, size, &first);
    fixture_trace("first", &first);
    check_answer(&first);
    if (verdict && strcmp(verdict, "body") == 0)
        fixture_check(strcmp(first.error_code, "0003") == 0 &&
                          strstr(first.body.p, "Invalid format = body") != NULL,
                      "a body the decoder refuses was not answered 0003 body", &first);
    else if (verdict)
        fixture_check(strcmp(first.error_code, verdict) == 0,
                      "the service and the field parser disagree", &first);
    svc_sendinvoice(&fixture_cfg, st, kind, body, size, &again);
    fixture_trace("again", &again);
    check_answer(&again);
    if (strcmp(first.error_code, "0000") == 0) {
        fixture_check(again.replayed, "a repeated 0000 request was not replayed", &again);
        fixture_check(again.body.len == first.body.len &&
                          memcmp(again.body.p, first.body.p, first.body.len) == 0,
                      "the replay differs from the first answer", &again);
    } else {
        fixture_check(strcmp(first.error_code, again.error_code) == 0 && !again.replayed,
                      "a refused request answered differently the second time", &again);
    }
    svc_reply_free(&first);
    svc_reply_free(&again);
    if (st != fixture_shared())
        store_close(st);
    free(body);
    return 0;
}
