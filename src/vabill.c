/*
 * vabill: the command-line tool (SPEC 4): schema, communities, invoices,
 * signatures.  Every failure is one line on standard error starting
 * "vabill: " and a non-zero exit: 1 for a refused or failed action, 2 for
 * a usage mistake.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "dt.h"
#include "json.h"
#include "limits.h"
#include "money.h"
#include "num.h"
#include "send.h"
#include "sig.h"
#include "store.h"
#include "va.h"

static const char usage[] =
    "usage: vabill [--db URL] init\n"
    "       vabill [--db URL] community add CODE --key KEY --bank BANK:PREFIX [--bank ...]\n"
    "                         [--ccy IDR] [--va-length 16] [--va-ttl MINUTES]\n"
    "                         [--notify-url URL] [--partial-payments]\n"
    "       vabill [--db URL] community list | show CODE | disable CODE | enable CODE\n"
    "       vabill [--db URL] community set-key CODE --key KEY [--grace MINUTES]\n"
    "       vabill [--db URL] [--utc-offset +HH:MM] invoice show CODE DOC_NO\n"
    "       vabill sign --key KEY --rq-uuid U --rq-datetime D --comm-code C\n"
    "       vabill [--db URL] bank add BANK_CODE --key KEY [--name NAME]\n"
    "       vabill [--db URL] notification list [--failed]\n"
    "       vabill pay --url URL --bank BANK_CODE --key KEY VA_NUMBER AMOUNT [--payment-ref REF]\n"
    "       vabill status --url URL --comm-code CODE --key KEY DOC_NO\n"
    "       vabill close --url URL --comm-code CODE --key KEY DOC_NO\n"
    "       vabill [--db URL] operator add NAME | list | remove NAME\n"
    "       vabill [--db URL] [--utc-offset +HH:MM] report payments --from DAY --to DAY\n"
    "                         [--community CODE] [--bank BANK_CODE] [--format csv|json]\n"
    "       vabill [--db URL] [--utc-offset +HH:MM] report invoices [--community CODE]\n"
    "                         [--format csv|json]\n"
    "       vabill [--utc-offset +HH:MM] send --url URL --comm-code CODE --key KEY [--ccy IDR]\n"
    "                         [--batch 500] [--out FILE.csv|FILE.json] [--resume JOURNAL]\n"
    "                         [--concurrency N] [--quiet] INPUT   (see vabill send --help)\n";

static int cmd_init(const struct global *g, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return cli_fail(EXIT_USAGE, "init takes no arguments");
    struct store *s;
    int rc = cli_open_store(g, &s);
    if (rc)
        return rc;
    store_close(s);
    return 0;
}

static int community_add(const struct global *g, int argc, char **argv)
{
    struct store_community c;
    memset(&c, 0, sizeof c);
    const char *code = NULL, *key = NULL;
    long va_length = LIMIT_VA_LENGTH_DEFAULT, ttl = LIMIT_VA_TTL_DEFAULT;
    snprintf(c.ccy, sizeof c.ccy, "IDR");
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-') {
            if (code)
                return cli_fail(EXIT_USAGE, "community add takes one CODE (got also %s)", a);
            code = a;
            continue;
        }
        if (strcmp(a, "--partial-payments") == 0) {
            c.partial_payments = true;
            continue;
        }
        if (i + 1 >= argc)
            return cli_fail(EXIT_USAGE, "%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--key") == 0) {
            key = v;
        } else if (strcmp(a, "--notify-url") == 0) {
            if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
                strlen(v) > LIMIT_URL || strpbrk(v, " \t\r\n") != NULL)
                return cli_fail(EXIT_FAIL, "--notify-url must be an http:// or https:// URL: %s",
                                v);
            snprintf(c.notify_url, sizeof c.notify_url, "%s", v);
        } else if (strcmp(a, "--ccy") == 0) {
            if (strlen(v) != 3 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z' ||
                v[2] < 'A' || v[2] > 'Z')
                return cli_fail(EXIT_FAIL, "--ccy must be three upper-case letters: %s", v);
            snprintf(c.ccy, sizeof c.ccy, "%s", v);
        } else if (strcmp(a, "--va-length") == 0) {
            if (!num_parse_long(v, LIMIT_VA_LENGTH_MIN, LIMIT_VA_LENGTH_MAX, &va_length))
                return cli_fail(EXIT_FAIL, "--va-length must be %d to %d: %s", LIMIT_VA_LENGTH_MIN,
                                LIMIT_VA_LENGTH_MAX, v);
        } else if (strcmp(a, "--va-ttl") == 0) {
            if (!num_parse_long(v, 1, LIMIT_VA_TTL_MAX, &ttl))
                return cli_fail(EXIT_FAIL, "--va-ttl must be 1 to %ld minutes: %s",
                                (long)LIMIT_VA_TTL_MAX, v);
        } else if (strcmp(a, "--bank") == 0) {
            const char *colon = strchr(v, ':');
            char bank[8] = "", prefix[32] = "";
            if (colon && (size_t)(colon - v) < sizeof bank && strlen(colon + 1) < sizeof prefix) {
                memcpy(bank, v, (size_t)(colon - v));
                bank[colon - v] = '\0';
                snprintf(prefix, sizeof prefix, "%s", colon + 1);
            }
            if (!va_bank_code_valid(bank))
                return cli_fail(EXIT_FAIL,
                                "--bank must be BANK:PREFIX with a 3-digit bank code: %s", v);
            if (!va_prefix_valid(prefix))
                return cli_fail(EXIT_FAIL, "--bank prefix must be 1 to %d digits: %s", LIMIT_PREFIX,
                                v);
            if (c.nbanks == LIMIT_BANKS)
                return cli_fail(EXIT_FAIL, "at most %d banks per community", LIMIT_BANKS);
            for (size_t k = 0; k < c.nbanks; k++)
                if (strcmp(c.banks[k].bank_code, bank) == 0)
                    return cli_fail(EXIT_FAIL, "bank %s given twice", bank);
            /* both validated above: 3 digits, 1 to LIMIT_PREFIX digits */
            memcpy(c.banks[c.nbanks].bank_code, bank, strlen(bank) + 1);
            memcpy(c.banks[c.nbanks].prefix, prefix, strlen(prefix) + 1);
            c.nbanks++;
        } else {
            return cli_fail(EXIT_USAGE, "unknown option for community add: %s", a);
        }
    }
    if (code == NULL)
        return cli_fail(EXIT_USAGE, "community add needs a CODE");
    if (!cli_name_valid(code, LIMIT_COMM_CODE, ""))
        return cli_fail(EXIT_FAIL, "community code must be 1 to 32 letters and digits: %s", code);
    rc = cli_check_key(key);
    if (rc)
        return rc;
    if (c.nbanks == 0)
        return cli_fail(EXIT_USAGE, "community add needs at least one --bank BANK:PREFIX");
    for (size_t k = 0; k < c.nbanks; k++)
        if (va_channel_width((int)va_length, strlen(c.banks[k].prefix)) < 1)
            return cli_fail(EXIT_FAIL, "prefix %s leaves no digit for the serial in a %ld-digit VA",
                            c.banks[k].prefix, va_length);
    /* list_va order: ascending bank code */
    for (size_t a = 1; a < c.nbanks; a++)
        for (size_t b = a; b > 0 && strcmp(c.banks[b - 1].bank_code, c.banks[b].bank_code) > 0;
             b--) {
            struct store_bank t = c.banks[b];
            c.banks[b] = c.banks[b - 1];
            c.banks[b - 1] = t;
        }
    snprintf(c.code, sizeof c.code, "%s", code);
    snprintf(c.key, sizeof c.key, "%s", key);
    c.va_length = (int)va_length;
    c.va_ttl_min = (int)ttl;

    struct store *s;
    rc = cli_open_store(g, &s);
    if (rc) {
        store_community_wipe(&c);
        return rc;
    }
    enum vb_err e = s->ops->community_add(s, &c);
    store_community_wipe(&c);
    if (e == ERR_EXISTS)
        rc = cli_fail(EXIT_FAIL, "community %s already exists", code);
    else if (e == ERR_COLLIDE)
        rc = cli_fail(EXIT_FAIL, "%s", s->errmsg);
    else if (e)
        rc = cli_fail(EXIT_FAIL, "cannot add community %s: %s", code, s->errmsg);
    else
        printf("community %s added\n", code);
    store_close(s);
    return rc;
}

static void print_banks(const struct store_community *c, struct buf *out, bool json)
{
    for (size_t k = 0; k < c->nbanks; k++) {
        if (json)
            buf_printf(out, "%s{\"bank_code\":\"%s\",\"prefix\":\"%s\"}", k ? "," : "",
                       c->banks[k].bank_code, c->banks[k].prefix);
        else
            buf_printf(out, "%s%s:%s", k ? "," : "", c->banks[k].bank_code, c->banks[k].prefix);
    }
}

static int community_list(struct store *s)
{
    struct store_community *list = NULL;
    size_t n = 0;
    enum vb_err e = s->ops->community_list(s, &list, &n);
    if (e)
        return cli_fail(EXIT_FAIL, "cannot list communities: %s", s->errmsg);
    for (size_t i = 0; i < n; i++) {
        struct buf b;
        buf_init(&b, 1 << 16);
        print_banks(&list[i], &b, false);
        printf("%s %s %s %s\n", list[i].code, list[i].ccy, list[i].enabled ? "enabled" : "disabled",
               b.p ? b.p : "");
        buf_free(&b);
    }
    free(list);
    return 0;
}

static int community_show(struct store *s, const char *code)
{
    struct store_community c;
    enum vb_err e = s->ops->community_get(s, code, &c);
    if (e == ERR_NOTFOUND)
        return cli_fail(EXIT_FAIL, "no community %s", code);
    if (e)
        return cli_fail(EXIT_FAIL, "cannot read community %s: %s", code, s->errmsg);
    store_community_wipe(&c);
    struct buf b;
    buf_init(&b, 1 << 16);
    buf_printf(&b,
               "{\"code\":\"%s\",\"ccy\":\"%s\",\"enabled\":%s,\"va_length\":%d,\"va_ttl\":%d,"
               "\"next_serial\":%lld,\"banks\":[",
               c.code, c.ccy, c.enabled ? "true" : "false", c.va_length, c.va_ttl_min,
               (long long)c.next_serial);
    print_banks(&c, &b, true);
    buf_adds(&b, "]}\n");
    fwrite(b.p, 1, b.len, stdout);
    buf_free(&b);
    return 0;
}

/*
 * community set-key CODE --key NEW [--grace MINUTES]: the new key holds at
 * once; the previous one is still accepted for MINUTES (default 0), so
 * partners can switch without a window of refused requests.
 */
static int community_set_key(const struct global *g, int argc, char **argv)
{
    const char *code = NULL, *key = NULL;
    long grace = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-') {
            if (code)
                return cli_fail(EXIT_USAGE, "community set-key takes one CODE (got also %s)", a);
            code = a;
            continue;
        }
        if (i + 1 >= argc)
            return cli_fail(EXIT_USAGE, "%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--key") == 0)
            key = v;
        else if (strcmp(a, "--grace") != 0)
            return cli_fail(EXIT_USAGE, "unknown option for community set-key: %s", a);
        else if (!num_parse_long(v, 0, LIMIT_VA_TTL_MAX, &grace))
            return cli_fail(EXIT_FAIL, "--grace must be 0 to %ld minutes: %s",
                            (long)LIMIT_VA_TTL_MAX, v);
    }
    if (code == NULL)
        return cli_fail(EXIT_USAGE, "community set-key needs a CODE");
    int rc = cli_check_key(key);
    if (rc)
        return rc;
    struct store *s;
    rc = cli_open_store(g, &s);
    if (rc)
        return rc;
    int64_t until = grace > 0 ? dt_now() + grace * 60 : 0;
    enum vb_err e = s->ops->community_set_key(s, code, key, until);
    if (e == ERR_NOTFOUND)
        rc = cli_fail(EXIT_FAIL, "no community %s", code);
    else if (e)
        rc = cli_fail(EXIT_FAIL, "cannot set the key of community %s: %s", code, s->errmsg);
    else if (grace > 0)
        printf("community %s has a new key; the previous one is accepted for %ld more minutes\n",
               code, grace);
    else
        printf("community %s has a new key; the previous one is refused from now on\n", code);
    store_close(s);
    return rc;
}

static int cmd_community(const struct global *g, int argc, char **argv)
{
    if (argc < 1)
        return cli_fail(EXIT_USAGE,
                        "community needs a subcommand: add, list, show, disable, enable, set-key");
    const char *sub = argv[0];
    if (strcmp(sub, "add") == 0)
        return community_add(g, argc - 1, argv + 1);
    if (strcmp(sub, "set-key") == 0)
        return community_set_key(g, argc - 1, argv + 1);
    bool list = strcmp(sub, "list") == 0;
    bool show = strcmp(sub, "show") == 0;
    bool dis = strcmp(sub, "disable") == 0, en = strcmp(sub, "enable") == 0;
    if (!list && !show && !dis && !en)
        return cli_fail(EXIT_USAGE, "unknown community subcommand: %s", sub);
    if (list ? argc != 1 : argc != 2)
        return cli_fail(EXIT_USAGE,
                        list ? "community list takes no arguments"
                             : "community %s needs exactly one CODE",
                        sub);
    struct store *s;
    int rc = cli_open_store(g, &s);
    if (rc)
        return rc;
    if (list) {
        rc = community_list(s);
    } else if (show) {
        rc = community_show(s, argv[1]);
    } else {
        enum vb_err e = s->ops->community_set_enabled(s, argv[1], en);
        if (e == ERR_NOTFOUND)
            rc = cli_fail(EXIT_FAIL, "no community %s", argv[1]);
        else if (e)
            rc = cli_fail(EXIT_FAIL, "cannot %s community %s: %s", sub, argv[1], s->errmsg);
        else
            printf("community %s %sd\n", argv[1], sub);
    }
    store_close(s);
    return rc;
}

static void json_money(struct buf *b, const char *name, int64_t v)
{
    char m[24];
    money_format(v, m);
    buf_printf(b, ",\"%s\":\"%s\"", name, m);
}

static void json_text(struct buf *b, const char *name, const char *v)
{
    buf_printf(b, ",\"%s\":", name);
    if (v)
        buf_add_json_str(b, v, strlen(v));
    else
        buf_adds(b, "null");
}

static int cmd_invoice(const struct global *g, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "show") != 0)
        return cli_fail(EXIT_USAGE, "invoice needs a subcommand: show");
    if (argc != 3)
        return cli_fail(EXIT_USAGE, "invoice show needs CODE DOC_NO");
    struct store *s;
    int rc = cli_open_store(g, &s);
    if (rc)
        return rc;
    struct store_invoice *inv = NULL;
    enum vb_err e = s->ops->invoice_get(s, argv[1], argv[2], strlen(argv[2]), &inv);
    if (e == ERR_NOTFOUND) {
        rc = cli_fail(EXIT_FAIL, "no invoice %s in community %s", argv[2], argv[1]);
    } else if (e) {
        rc = cli_fail(EXIT_FAIL, "cannot read invoice: %s", s->errmsg);
    } else {
        struct buf b;
        buf_init(&b, 1 << 20);
        char ref[LIMIT_DOC_REF_NO + 1], at[DT_LEN + 1], exp[DT_LEN + 1];
        store_doc_ref_no(inv->id, ref);
        dt_format(inv->accepted_at, g->offset, at);
        dt_format(inv->expires_at, g->offset, exp);
        buf_adds(&b, "{\"comm_code\":");
        buf_add_json_str(&b, inv->comm_code, strlen(inv->comm_code));
        json_text(&b, "doc_no", inv->doc_no);
        json_text(&b, "doc_ref_no", ref);
        json_text(&b, "status", inv->status);
        json_text(&b, "member_code", inv->member_code);
        json_text(&b, "member_name", inv->member_name);
        json_money(&b, "amount", inv->amount);
        json_money(&b, "total_amount", inv->total_amount);
        buf_printf(&b, ",\"number_of_installment\":%d", inv->number_of_installment);
        json_money(&b, "installment_amount", inv->installment_amount);
        if (inv->has_balance)
            json_money(&b, "balance_payment_amount", inv->balance_payment_amount);
        else
            buf_adds(&b, ",\"balance_payment_amount\":null");
        json_text(&b, "description", inv->description);
        buf_printf(&b, ",\"billing_date\":%d", inv->billing_date);
        json_money(&b, "outstanding_amount", inv->outstanding);
        json_text(&b, "accepted_at", at);
        json_text(&b, "expired", exp);
        json_text(&b, "rq_uuid", inv->rq_uuid);
        buf_adds(&b, ",\"list_va\":[");
        for (size_t k = 0; k < inv->nva; k++)
            buf_printf(&b, "%s{\"bank_code\":\"%s\",\"va_number\":\"%s\"}", k ? "," : "",
                       inv->va[k].bank_code, inv->va[k].va_number);
        buf_adds(&b, "]}\n");
        fwrite(b.p, 1, b.len, stdout);
        buf_free(&b);
    }
    store_invoice_free(inv);
    store_close(s);
    return rc;
}

static int cmd_sign(const struct global *g, int argc, char **argv)
{
    (void)g;
    const char *key = NULL, *uuid = NULL, *dtv = NULL, *comm = NULL;
    for (int i = 0; i < argc; i++) {
        if (i + 1 >= argc)
            return cli_fail(EXIT_USAGE, "%s needs a value", argv[i]);
        const char *a = argv[i], *v = argv[++i];
        if (strcmp(a, "--key") == 0)
            key = v;
        else if (strcmp(a, "--rq-uuid") == 0)
            uuid = v;
        else if (strcmp(a, "--rq-datetime") == 0)
            dtv = v;
        else if (strcmp(a, "--comm-code") == 0)
            comm = v;
        else
            return cli_fail(EXIT_USAGE, "unknown option for sign: %s", a);
    }
    if (!key || !uuid || !dtv || !comm)
        return cli_fail(EXIT_USAGE, "sign needs --key, --rq-uuid, --rq-datetime and --comm-code");
    char out[SIG_HEX_LEN + 1];
    if (!sig_sendinvoice(uuid, dtv, comm, key, out))
        return cli_fail(EXIT_FAIL, "out of memory");
    puts(out);
    return 0;
}

/* send: the partner-side client (send.c); --utc-offset is the server's. */
static int cmd_send(const struct global *g, int argc, char **argv)
{
    return send_main(argc, argv, g->offset);
}

/* The commands, by the first word after the global options. */
static const struct command {
    const char *name;
    int (*run)(const struct global *g, int argc, char **argv);
} commands[] = {
    {"init", cmd_init}, {"community", cmd_community}, {"invoice", cmd_invoice},
    {"sign", cmd_sign}, {"bank", cli_bank},           {"notification", cli_notification},
    {"pay", cli_pay},   {"status", cli_status},       {"close", cli_close},
    {"send", cmd_send}, {"operator", cli_operator},   {"report", cli_report},
};

int main(int argc, char **argv)
{
    struct global g = {NULL, 7 * 60};
    /* take the global options out of argv, wherever they stand */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (rest == NULL)
        return cli_fail(EXIT_FAIL, "out of memory");
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 || strcmp(argv[i], "--utc-offset") == 0) {
            if (i + 1 >= argc) {
                free(rest);
                return cli_fail(EXIT_USAGE, "%s needs a value", argv[i]);
            }
            if (argv[i][2] == 'd') {
                g.db = argv[++i];
            } else if (!dt_parse_offset(argv[++i], &g.offset)) {
                free(rest);
                return cli_fail(EXIT_USAGE, "--utc-offset must look like +07:00: %s", argv[i]);
            }
            continue;
        }
        rest[n++] = argv[i];
    }
    json_global_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    const struct command *cmd = NULL;
    for (size_t i = 0; n > 0 && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(rest[0], commands[i].name) == 0)
            cmd = &commands[i];
    if (n == 0) {
        fputs(usage, stderr);
        rc = EXIT_USAGE;
    } else if (strcmp(rest[0], "--help") == 0 || strcmp(rest[0], "help") == 0) {
        fputs(usage, stdout);
        rc = 0;
    } else if (cmd == NULL) {
        rc = cli_fail(EXIT_USAGE, "unknown command: %s (try vabill --help)", rest[0]);
    } else {
        rc = cmd->run(&g, n - 1, rest + 1);
    }
    free(rest);
    return rc;
}
