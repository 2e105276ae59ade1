/*
 * cli_life: the vabill commands of SPEC 5.6: banks, notifications, and the
 * HTTP tools that play the bank (`pay`) and the partner (`status`,
 * `close`) against a running server.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "dt.h"
#include "form.h"
#include "json.h"
#include "lifecycle.h"
#include "money.h"
#include "sig.h"
#include "va.h"

/* An HTTP call may take this long before the tool gives up. */
#define CALL_TIMEOUT_MS 30000L

int cli_bank(const struct global *g, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "add") != 0)
        return cli_fail(EXIT_USAGE, "bank needs a subcommand: add");
    struct store_bankinfo b;
    memset(&b, 0, sizeof b);
    const char *code = NULL, *key = NULL, *name = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-') {
            if (code)
                return cli_fail(EXIT_USAGE, "bank add takes one BANK_CODE (got also %s)", a);
            code = a;
            continue;
        }
        if (i + 1 >= argc)
            return cli_fail(EXIT_USAGE, "%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--key") == 0)
            key = v;
        else if (strcmp(a, "--name") == 0)
            name = v;
        else
            return cli_fail(EXIT_USAGE, "unknown option for bank add: %s", a);
    }
    if (code == NULL)
        return cli_fail(EXIT_USAGE, "bank add needs a BANK_CODE");
    if (!va_bank_code_valid(code))
        return cli_fail(EXIT_FAIL, "bank code must be 3 digits: %s", code);
    int rc = cli_check_key(key);
    if (rc)
        return rc;
    if (strlen(name) > LIMIT_BANK_NAME)
        return cli_fail(EXIT_FAIL, "--name must be at most %d bytes", LIMIT_BANK_NAME);
    memcpy(b.bank_code, code, LIMIT_BANK_CODE + 1);
    memcpy(b.key, key, strlen(key) + 1);
    memcpy(b.name, name, strlen(name) + 1);
    struct store *s;
    rc = cli_open_store(g, &s);
    if (rc == 0) {
        enum vb_err e = s->ops->bank_add(s, &b);
        if (e == ERR_EXISTS)
            rc = cli_fail(EXIT_FAIL, "bank %s already exists", code);
        else if (e)
            rc = cli_fail(EXIT_FAIL, "cannot add bank %s: %s", code, s->errmsg);
        else
            printf("bank %s added\n", code);
        store_close(s);
    }
    OPENSSL_cleanse(&b, sizeof b);
    return rc;
}

int cli_notification(const struct global *g, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "list") != 0)
        return cli_fail(EXIT_USAGE, "notification needs a subcommand: list");
    bool failed_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--failed") == 0)
            failed_only = true;
        else
            return cli_fail(EXIT_USAGE, "unknown option for notification list: %s", argv[i]);
    }
    struct store *s;
    int rc = cli_open_store(g, &s);
    if (rc)
        return rc;
    struct store_notification *list = NULL;
    size_t n = 0;
    enum vb_err e = s->ops->notify_list(s, failed_only, &list, &n);
    if (e)
        rc = cli_fail(EXIT_FAIL, "cannot list notifications: %s", s->errmsg);
    for (size_t i = 0; i < n; i++) {
        const struct store_notification *x = &list[i];
        char amount[24], next[DT_LEN + 1] = "-";
        money_format(x->amount, amount);
        if (strcmp(x->status, "pending") == 0) {
            char t[DT_LEN + 1];
            dt_format(x->next_at_ms / 1000, g->offset, t);
            /* the date and time as one field: YYYY-MM-DDTHH:MM:SS */
            t[10] = 'T';
            memcpy(next, t, sizeof next);
        }
        printf("%lld %s %d %s %s %s %s %s %s\n", (long long)x->id, x->status, x->attempts,
               x->comm_code, x->doc_no, x->payment_ref, amount, next,
               x->last_error[0] ? x->last_error : "-");
    }
    free(list);
    store_close(s);
    return rc;
}

/* Options of the HTTP tools. */
struct call_opts {
    const char *url, *key, *bank, *comm, *ref;
    const char *args[2];
    int nargs;
};

static int parse_call(const char *cmd, int argc, char **argv, struct call_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-') {
            if (o->nargs == 2)
                return cli_fail(EXIT_USAGE, "%s: too many arguments (%s)", cmd, a);
            o->args[o->nargs++] = a;
            continue;
        }
        if (i + 1 >= argc)
            return cli_fail(EXIT_USAGE, "%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--url") == 0)
            o->url = v;
        else if (strcmp(a, "--key") == 0)
            o->key = v;
        else if (strcmp(a, "--bank") == 0 && strcmp(cmd, "pay") == 0)
            o->bank = v;
        else if (strcmp(a, "--payment-ref") == 0 && strcmp(cmd, "pay") == 0)
            o->ref = v;
        else if (strcmp(a, "--comm-code") == 0 && strcmp(cmd, "pay") != 0)
            o->comm = v;
        else
            return cli_fail(EXIT_USAGE, "unknown option for %s: %s", cmd, a);
    }
    if (o->url == NULL || o->key == NULL || *o->key == '\0')
        return cli_fail(EXIT_USAGE, "%s needs --url and --key", cmd);
    return 0;
}

/* A field of a request being built: name and value. */
struct field {
    const char *name;
    const char *value;
};

/*
 * Signs fields[0..nsig) + key with mode into a "signature" field, posts the
 * form to the service, prints the answer on one line, and tells whether its
 * error_code is "0000".  Returns EXIT_FAIL on transport errors.
 */
static int call(const char *base, const char *path, struct field *fields, size_t n, size_t nsig,
                const char *key, const char *mode, bool *ok)
{
    *ok = false;
    struct sig_part parts[10];
    for (size_t i = 0; i < nsig; i++)
        parts[i] = (struct sig_part){fields[i].value, strlen(fields[i].value)};
    parts[nsig] = (struct sig_part){key, strlen(key)};
    char signature[SIG_HEX_LEN + 1];
    if (!sig_compute(parts, nsig + 1, mode, signature))
        return cli_fail(EXIT_FAIL, "out of memory");
    struct buf form, url, answer;
    buf_init(&form, 1 << 16);
    buf_init(&url, LIMIT_URL + 64);
    buf_init(&answer, CLIENT_ANSWER_MAX);
    for (size_t i = 0; i < n; i++)
        form_append(&form, fields[i].name, fields[i].value, strlen(fields[i].value));
    form_append(&form, "signature", signature, SIG_HEX_LEN);
    client_url(base, path, &url);
    int rc = 0;
    long status = 0;
    char why[512] = "";
    if (form.failed || url.failed) {
        rc = cli_fail(EXIT_FAIL, "request too large");
    } else if (client_post_form(url.p, form.p, form.len, CALL_TIMEOUT_MS, &status, &answer, why,
                                sizeof why) != ERR_OK) {
        rc = cli_fail(EXIT_FAIL, "%s", why);
    } else {
        struct json_doc d;
        if (answer.len && json_doc_parse(&d, answer.p, answer.len) == ERR_OK) {
            int v = json_member(&d, 0, "error_code");
            *ok = v > 0 && json_str_eq(&d, v, "0000", 4);
            json_doc_free(&d);
            fwrite(answer.p, 1, answer.len, stdout);
            fputc('\n', stdout);
        } else {
            rc = cli_fail(EXIT_FAIL, "%s answered HTTP %ld without a JSON answer", url.p, status);
        }
    }
    fflush(stdout);
    buf_free(&form);
    buf_free(&url);
    buf_free(&answer);
    return rc;
}

/* rq_uuid for a tool's request: a prefix and the time in microseconds. */
static void make_uuid(const char *prefix, char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, n, "%s%lld%06ld", prefix, (long long)ts.tv_sec, ts.tv_nsec / 1000);
}

int cli_pay(const struct global *g, int argc, char **argv)
{
    struct call_opts o;
    int rc = parse_call("pay", argc, argv, &o);
    if (rc)
        return rc;
    if (o.bank == NULL || o.nargs != 2)
        return cli_fail(EXIT_USAGE, "pay needs --bank BANK_CODE, VA_NUMBER and AMOUNT");
    if (!va_bank_code_valid(o.bank))
        return cli_fail(EXIT_FAIL, "bank code must be 3 digits: %s", o.bank);
    const char *va = o.args[0], *amount = o.args[1];
    int64_t hundredths;
    if (!money_parse(amount, strlen(amount), &hundredths) || hundredths <= 0)
        return cli_fail(EXIT_FAIL, "AMOUNT must be money above zero, like 20000 or 150000.50: %s",
                        amount);
    char ref[40];
    if (o.ref == NULL) {
        make_uuid("PAY", ref, sizeof ref);
        o.ref = ref;
    }
    char uuid[40], dtv[DT_LEN + 1];
    make_uuid("INQ", uuid, sizeof uuid);
    dt_format(dt_now(), g->offset, dtv);
    struct field inq[] = {
        {"rq_uuid", uuid}, {"rq_datetime", dtv}, {"bank_code", o.bank}, {"va_number", va}};
    bool ok;
    rc = call(o.url, "/rest/virtualaccount/inquiry", inq, 4, 4, o.key, SIG_MODE_INQUIRY, &ok);
    if (rc || !ok)
        return rc ? rc : EXIT_FAIL;
    make_uuid("PAY", uuid, sizeof uuid);
    dt_format(dt_now(), g->offset, dtv);
    struct field pay[] = {{"rq_uuid", uuid}, {"rq_datetime", dtv},   {"bank_code", o.bank},
                          {"va_number", va}, {"payment_ref", o.ref}, {"amount", amount}};
    rc = call(o.url, "/rest/virtualaccount/payment", pay, 6, 6, o.key, SIG_MODE_PAYMENT, &ok);
    return rc ? rc : ok ? 0 : EXIT_FAIL;
}

/* status and close: the partner's two calls about one invoice. */
static int partner_call(const struct global *g, const char *cmd, const char *path, const char *mode,
                        int argc, char **argv)
{
    struct call_opts o;
    int rc = parse_call(cmd, argc, argv, &o);
    if (rc)
        return rc;
    if (o.comm == NULL || o.nargs != 1)
        return cli_fail(EXIT_USAGE, "%s needs --comm-code CODE and DOC_NO", cmd);
    char uuid[40], dtv[DT_LEN + 1];
    make_uuid(strcmp(cmd, "status") == 0 ? "STS" : "CLS", uuid, sizeof uuid);
    dt_format(dt_now(), g->offset, dtv);
    struct field f[] = {
        {"rq_uuid", uuid}, {"rq_datetime", dtv}, {"comm_code", o.comm}, {"doc_no", o.args[0]}};
    bool ok;
    rc = call(o.url, path, f, 4, 4, o.key, mode, &ok);
    return rc ? rc : ok ? 0 : EXIT_FAIL;
}

int cli_status(const struct global *g, int argc, char **argv)
{
    return partner_call(g, "status", "/rest/virtualaccount/checkstatus", SIG_MODE_CHECKSTATUS, argc,
                        argv);
}

int cli_close(const struct global *g, int argc, char **argv)
{
    return partner_call(g, "close", "/rest/virtualaccount/closeinvoice", SIG_MODE_CLOSEINVOICE,
                        argc, argv);
}
