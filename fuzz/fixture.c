/*
 * fixture: the in-memory store and community of the service-level fuzz
 * targets.  See fixture.h.
 */
#include "fixture.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

const struct svc_config fixture_cfg = {.utc_offset_min = 7 * 60, .clock_skew = 0};

void fixture_init(void)
{
    static int done;
    if (!done) {
        json_global_init();
        done = 1;
    }
}

static void add_community(struct store *st, const char *code, const char *prefix8,
                          const char *prefix9)
{
    struct store_community c;
    memset(&c, 0, sizeof c);
    snprintf(c.code, sizeof c.code, "%s", code);
    snprintf(c.ccy, sizeof c.ccy, "IDR");
    snprintf(c.key, sizeof c.key, "%s", FIXTURE_KEY);
    c.va_length = LIMIT_VA_LENGTH_DEFAULT;
    c.va_ttl_min = LIMIT_VA_TTL_DEFAULT;
    c.enabled = true;
    c.nbanks = 2;
    snprintf(c.banks[0].bank_code, sizeof c.banks[0].bank_code, "008");
    snprintf(c.banks[0].prefix, sizeof c.banks[0].prefix, "%s", prefix8);
    snprintf(c.banks[1].bank_code, sizeof c.banks[1].bank_code, "009");
    snprintf(c.banks[1].prefix, sizeof c.banks[1].prefix, "%s", prefix9);
    enum vb_err e = st->ops->community_add(st, &c);
    if (e != ERR_OK) {
        fprintf(stderr, "fixture: cannot add community %s: %s %s\n", code, err_str(e), st->errmsg);
        abort();
    }
}

struct store *fixture_open(void)
{
    struct store *st = NULL;
    char why[512];
    if (store_open(":memory:", &st, why, sizeof why) != ERR_OK) {
        fprintf(stderr, "fixture: cannot open the in-memory store: %s\n", why);
        abort();
    }
    add_community(st, FIXTURE_COMM, "62806", "88712");
    return st;
}

static struct store *shared;
static long communities; /* added to the shared store since it was opened */

struct store *fixture_shared(void)
{
    if (shared == NULL)
        shared = fixture_open();
    return shared;
}

/* Communities per shared store before it is replaced: bounds memory. */
#define COMMUNITIES_PER_STORE 2000

struct store *fixture_new_community(char code[LIMIT_COMM_CODE + 1], char prefix[16])
{
    if (communities == COMMUNITIES_PER_STORE) {
        store_close(shared);
        shared = NULL;
        communities = 0;
    }
    struct store *st = fixture_shared();
    /* 9-digit prefixes: distinct, so none starts with another, nor with
     * FIXTURE_COMM's 5-digit ones */
    snprintf(code, LIMIT_COMM_CODE + 1, "FUZZ%ld", communities);
    snprintf(prefix, 16, "7%08ld", communities);
    add_community(st, code, prefix, prefix);
    communities++;
    return st;
}

/* Copies short string token i into out (size cap), "" when it is not one. */
static void small_string(const struct json_doc *d, int i, char *out, size_t cap)
{
    out[0] = '\0';
    const struct json_tok *t = &d->tok[i];
    if (t->type != JSON_T_STRING || (size_t)(t->end - t->start) >= cap)
        return;
    size_t n = json_str_decode(d, i, out);
    out[n] = '\0';
}

void fixture_answer(const struct svc_reply *r, struct fixture_answer *a)
{
    memset(a, 0, sizeof *a);
    a->all = a->ok = a->bad = -1;
    struct json_doc d;
    fixture_check(json_doc_parse(&d, r->body.p, r->body.len) == ERR_OK, "answer is not JSON", r);
    fixture_check(d.tok[0].type == JSON_T_OBJECT, "answer is not a JSON object", r);
    int i = 1;
    for (int m = 0; m < d.tok[0].size; m++) {
        const struct json_tok *v = &d.tok[i + 1];
        int size = v->type == JSON_T_OBJECT ? v->size : -1;
        if (json_str_eq(&d, i, "error_code", 10))
            small_string(&d, i + 1, a->error_code, sizeof a->error_code);
        else if (json_str_eq(&d, i, "total_invoice", 13))
            small_string(&d, i + 1, a->total_invoice, sizeof a->total_invoice);
        else if (json_str_eq(&d, i, "invoices", 8))
            a->all = size;
        else if (json_str_eq(&d, i, "invoices_success", 16))
            a->ok = size;
        else if (json_str_eq(&d, i, "invoices_error", 14))
            a->bad = size;
        i = json_next(&d, i + 1);
    }
    json_doc_free(&d);
}

/* Unicode characters in s[0..n) when it is valid UTF-8 (no overlong forms,
 * no surrogates, nothing past U+10FFFF), else -1. */
static long utf8_chars(const unsigned char *s, size_t n)
{
    long chars = 0;
    for (size_t i = 0; i < n; chars++) {
        unsigned c = s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        if (len == 0 || n - i < len)
            return -1;
        unsigned cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return -1;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const unsigned least[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        i += len;
    }
    return chars;
}

static bool all_of(const char *s, const char *set_name)
{
    for (; *s; s++) {
        char c = *s;
        bool ok = strcmp(set_name, "alnum") == 0
                      ? (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                      : c >= 0x20 && c <= 0x7E;
        if (!ok)
            return false;
    }
    return true;
}

static bool luhn_ok(const char *digits)
{
    size_t n = strlen(digits);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

static void check_invoice(const struct store_invoice *v, const char *prefix,
                          const struct svc_reply *r)
{
    size_t dn = strlen(v->doc_no);
    fixture_check(dn >= 1 && dn <= LIMIT_DOC_NO && all_of(v->doc_no, "print") &&
                      v->doc_no[0] != ' ' && v->doc_no[dn - 1] != ' ',
                  "stored doc_no breaks SPEC 1.3", r);
    size_t mc = strlen(v->member_code);
    fixture_check(mc >= 1 && mc <= LIMIT_MEMBER_CODE && all_of(v->member_code, "alnum"),
                  "stored member_code breaks SPEC 1.3", r);
    if (v->member_name) {
        long c = utf8_chars((const unsigned char *)v->member_name, strlen(v->member_name));
        fixture_check(c >= 0 && c <= LIMIT_MEMBER_NAME, "stored member_name breaks SPEC 1.3", r);
    }
    if (v->description) {
        long c = utf8_chars((const unsigned char *)v->description, strlen(v->description));
        fixture_check(c >= 0 && c <= LIMIT_DESCRIPTION, "stored description breaks SPEC 1.3", r);
    }
    fixture_check(v->amount >= 1 && v->amount <= v->total_amount &&
                      v->total_amount <= LIMIT_MONEY_HUNDREDTHS && v->installment_amount >= 1 &&
                      v->installment_amount <= LIMIT_MONEY_HUNDREDTHS,
                  "stored amounts break SPEC 1.3", r);
    fixture_check(!v->has_balance || (v->balance_payment_amount >= 0 &&
                                      v->balance_payment_amount <= LIMIT_MONEY_HUNDREDTHS),
                  "stored balance_payment_amount breaks SPEC 1.3", r);
    fixture_check(v->number_of_installment >= 1 && v->number_of_installment <= 999 &&
                      v->billing_date >= 1 && v->billing_date <= 31,
                  "stored installments or billing day break SPEC 1.3", r);
    fixture_check(strcmp(v->status, "open") == 0 && v->outstanding == v->amount,
                  "a new invoice is not open with its whole amount outstanding", r);
    fixture_check(v->nva == 2 && strcmp(v->va[0].bank_code, "008") == 0 &&
                      strcmp(v->va[1].bank_code, "009") == 0,
                  "a new invoice does not have one VA per bank", r);
    size_t pl = strlen(prefix);
    for (size_t b = 0; b < v->nva; b++) {
        const char *va = v->va[b].va_number;
        fixture_check(strlen(va) == LIMIT_VA_LENGTH_DEFAULT && all_of(va, "alnum") &&
                          strspn(va, "0123456789") == LIMIT_VA_LENGTH_DEFAULT &&
                          strncmp(va, prefix, pl) == 0 && luhn_ok(va),
                      "a VA number breaks SPEC 2", r);
        fixture_check(memcmp(va + pl, v->va[0].va_number + pl, LIMIT_VA_LENGTH_DEFAULT - pl - 1) ==
                          0,
                      "the VA numbers of one invoice have different serials", r);
    }
}

int fixture_check_stored(struct store *st, const char *comm, const char *prefix,
                         const struct svc_reply *r)
{
    struct json_doc d;
    fixture_check(json_doc_parse(&d, r->body.p, r->body.len) == ERR_OK, "answer is not JSON", r);
    int checked = 0;
    int i = 1;
    for (int m = 0; m < d.tok[0].size; m++) {
        const struct json_tok *v = &d.tok[i + 1];
        if (json_str_eq(&d, i, "invoices_success", 16) && v->type == JSON_T_OBJECT) {
            int k = i + 2;
            for (int n = 0; n < v->size; n++) {
                char *doc_no = malloc((size_t)(d.tok[k].end - d.tok[k].start) + 1);
                if (doc_no == NULL)
                    abort();
                size_t len = json_str_decode(&d, k, doc_no);
                struct store_invoice *inv = NULL;
                fixture_check(st->ops->invoice_get(st, comm, doc_no, len, &inv) == ERR_OK,
                              "an accepted invoice is not in the store", r);
                check_invoice(inv, prefix, r);
                store_invoice_free(inv);
                free(doc_no);
                checked++;
                k = json_next(&d, k + 1);
            }
        }
        i = json_next(&d, i + 1);
    }
    json_doc_free(&d);
    return checked;
}

void fixture_trace(const char *label, const struct svc_reply *r)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FUZZ_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "%s: %s accepted %d refused %d%s %.*s\n", label, r->error_code, r->accepted,
                r->refused, r->replayed ? " replayed" : "",
                (int)(r->body.len < 160 ? r->body.len : 160), r->body.p ? r->body.p : "");
}

void fixture_check(int cond, const char *msg, const struct svc_reply *r)
{
    if (cond)
        return;
    fprintf(stderr, "fuzz finding: %s\n", msg);
    if (r)
        fprintf(stderr, "answer (%d, %s): %.*s\n", r->http_status, r->error_code,
                (int)(r->body.len < 4096 ? r->body.len : 4096), r->body.p ? r->body.p : "");
    abort();
}
