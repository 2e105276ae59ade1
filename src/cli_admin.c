/*
 * cli_admin: the vabill commands of issue 9: operators of the console and
 * admin API (`operator add | list | remove`) and the reconciliation
 * reports (`report payments | invoices`, written by report.c).
 *
 * An operator's token is printed once and never stored: the store keeps
 * its SHA-256 (docs/ADMIN.md).  Every option is checked before the store
 * is opened, so a usage mistake writes nothing on standard output.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dt.h"
#include "report.h"
#include "token.h"
#include "va.h"

static int check_operator_name(const char *name)
{
    if (!cli_name_valid(name, LIMIT_OPERATOR_NAME, "._-"))
        return cli_fail(EXIT_USAGE,
                        "operator name must be 1 to %d of letters, digits, '.', '_' and '-': %s",
                        LIMIT_OPERATOR_NAME, name);
    return 0;
}

static int operator_add(const struct global *g, const char *name)
{
    int rc = check_operator_name(name);
    if (rc)
        return rc;
    char token[TOKEN_MAX];
    unsigned char hash[STORE_HASH_LEN];
    if (!token_new(TOKEN_OPERATOR_PREFIX, token))
        return cli_fail(EXIT_FAIL, "cannot make a random token");
    token_hash(token, strlen(token), hash);
    struct store *s;
    rc = cli_open_store(g, &s);
    if (rc == 0) {
        enum vb_err e = s->ops->operator_add(s, name, hash, dt_now());
        if (e == ERR_EXISTS)
            rc = cli_fail(EXIT_FAIL, "operator %s already exists", name);
        else if (e)
            rc = cli_fail(EXIT_FAIL, "cannot add operator %s: %s", name, s->errmsg);
        else
            printf("operator %s added; its token follows, shown this once only: keep it safe\n"
                   "%s\n",
                   name, token);
        store_close(s);
    }
    OPENSSL_cleanse(token, sizeof token);
    OPENSSL_cleanse(hash, sizeof hash);
    if (rc == 0 && fflush(stdout) != 0)
        rc = cli_fail(EXIT_FAIL, "cannot write the token: %s", strerror(errno));
    return rc;
}

static int operator_list(const struct global *g)
{
    struct store *s;
    int rc = cli_open_store(g, &s);
    if (rc)
        return rc;
    struct store_operator *list = NULL;
    size_t n = 0;
    enum vb_err e = s->ops->operator_list(s, &list, &n);
    if (e)
        rc = cli_fail(EXIT_FAIL, "cannot list operators: %s", s->errmsg);
    for (size_t i = 0; i < n; i++) {
        char at[DT_LEN + 1];
        dt_format(list[i].created_at, g->offset, at);
        printf("%s %s\n", list[i].name, at);
    }
    free(list);
    store_close(s);
    return rc;
}

static int operator_remove(const struct global *g, const char *name)
{
    int rc = check_operator_name(name);
    if (rc)
        return rc;
    struct store *s;
    rc = cli_open_store(g, &s);
    if (rc)
        return rc;
    enum vb_err e = s->ops->operator_remove(s, name);
    if (e == ERR_NOTFOUND)
        rc = cli_fail(EXIT_FAIL, "no operator %s", name);
    else if (e)
        rc = cli_fail(EXIT_FAIL, "cannot remove operator %s: %s", name, s->errmsg);
    else
        printf("operator %s removed\n", name);
    store_close(s);
    return rc;
}

int cli_operator(const struct global *g, int argc, char **argv)
{
    if (argc < 1)
        return cli_fail(EXIT_USAGE, "operator needs a subcommand: add, list, remove");
    const char *sub = argv[0];
    if (strcmp(sub, "list") == 0) {
        if (argc != 1)
            return cli_fail(EXIT_USAGE, "operator list takes no arguments");
        return operator_list(g);
    }
    bool add = strcmp(sub, "add") == 0;
    if (!add && strcmp(sub, "remove") != 0)
        return cli_fail(EXIT_USAGE, "unknown operator subcommand: %s", sub);
    if (argc != 2)
        return cli_fail(EXIT_USAGE, "operator %s needs exactly one NAME", sub);
    if (argv[1][0] == '-')
        return cli_fail(EXIT_USAGE, "unknown option for operator %s: %s", sub, argv[1]);
    return add ? operator_add(g, argv[1]) : operator_remove(g, argv[1]);
}

/* ---- reports ---- */

/* The sink of the CLI: standard output; errno of the first failure. */
struct stdout_sink {
    int err;
};

static int write_stdout(void *ctx, const char *p, size_t n)
{
    struct stdout_sink *o = ctx;
    if (fwrite(p, 1, n, stdout) != n) {
        o->err = errno ? errno : EIO;
        return 1;
    }
    return 0;
}

/* A community code as `community add` takes it: 1 to 32 letters and digits. */
static bool comm_code_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > LIMIT_COMM_CODE)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

/* Options of both reports. */
struct report_opts {
    const char *from, *to, *comm, *bank;
    enum report_format format;
};

static int parse_report(const char *cmd, bool payments, int argc, char **argv,
                        struct report_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = REPORT_CSV;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool known = strcmp(a, "--community") == 0 || strcmp(a, "--format") == 0 ||
                     (payments && (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0 ||
                                   strcmp(a, "--bank") == 0));
        if (!known) {
            if (a[0] == '-')
                return cli_fail(EXIT_USAGE, "unknown option for report %s: %s", cmd, a);
            return cli_fail(EXIT_USAGE, "report %s takes no argument %s", cmd, a);
        }
        if (i + 1 >= argc)
            return cli_fail(EXIT_USAGE, "%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--from") == 0) {
            o->from = v;
        } else if (strcmp(a, "--to") == 0) {
            o->to = v;
        } else if (strcmp(a, "--format") == 0) {
            if (!report_parse_format(v, &o->format))
                return cli_fail(EXIT_USAGE, "--format must be csv or json: %s", v);
        } else if (strcmp(a, "--bank") == 0) {
            if (!va_bank_code_valid(v))
                return cli_fail(EXIT_USAGE, "--bank must be a 3-digit bank code: %s", v);
            o->bank = v;
        } else {
            if (!comm_code_valid(v))
                return cli_fail(EXIT_USAGE,
                                "--community must be a code of 1 to %d letters and digits: %s",
                                LIMIT_COMM_CODE, v);
            o->comm = v;
        }
    }
    return 0;
}

/* The store failed, the sink failed or a total overflowed: one line. */
static int report_failed(const char *cmd, enum vb_err e, const struct stdout_sink *out,
                         const struct store *s)
{
    if (e == ERR_TOOBIG && out->err)
        return cli_fail(EXIT_FAIL, "cannot write the report: %s", strerror(out->err));
    if (e == ERR_INVALID)
        return cli_fail(EXIT_FAIL, "report %s: a total is too large to add up exactly", cmd);
    if (e == ERR_NOMEM || e == ERR_TOOBIG)
        return cli_fail(EXIT_FAIL, "report %s: %s", cmd, err_str(e));
    return cli_fail(EXIT_FAIL, "report %s failed: %s", cmd, s->errmsg[0] ? s->errmsg : err_str(e));
}

/* The community and the bank named by the filters must exist: a typo
 * gives an error, not an empty report. */
static int check_filters(struct store *s, const struct report_opts *o)
{
    if (o->comm) {
        struct store_community c;
        enum vb_err e = s->ops->community_get(s, o->comm, &c);
        store_community_wipe(&c);
        if (e == ERR_NOTFOUND)
            return cli_fail(EXIT_FAIL, "no community %s", o->comm);
        if (e)
            return cli_fail(EXIT_FAIL, "cannot read community %s: %s", o->comm, s->errmsg);
    }
    if (o->bank) {
        struct store_bankinfo b;
        enum vb_err e = s->ops->bank_get(s, o->bank, &b);
        OPENSSL_cleanse(&b, sizeof b);
        if (e == ERR_NOTFOUND)
            return cli_fail(EXIT_FAIL, "no bank %s", o->bank);
        if (e)
            return cli_fail(EXIT_FAIL, "cannot read bank %s: %s", o->bank, s->errmsg);
    }
    return 0;
}

static int report_run(const struct global *g, const char *cmd, const struct report_opts *o)
{
    struct store *s;
    int rc = cli_open_store(g, &s);
    if (rc)
        return rc;
    rc = check_filters(s, o);
    if (rc) {
        store_close(s);
        return rc;
    }
    struct stdout_sink out = {0};
    struct report_sink sink = {write_stdout, &out};
    enum vb_err e;
    if (strcmp(cmd, "payments") == 0) {
        struct report_payments_query q = {o->from, o->to, o->comm, o->bank, o->format, g->offset};
        e = report_payments(s, &q, &sink);
    } else {
        struct report_invoices_query q = {o->comm, o->format, g->offset, dt_now()};
        e = report_invoices(s, &q, &sink);
    }
    if (e == ERR_OK && fflush(stdout) != 0) {
        out.err = errno ? errno : EIO;
        e = ERR_TOOBIG;
    }
    if (e)
        rc = report_failed(cmd, e, &out, s);
    store_close(s);
    return rc;
}

int cli_report(const struct global *g, int argc, char **argv)
{
    if (argc < 1)
        return cli_fail(EXIT_USAGE, "report needs a subcommand: payments, invoices");
    const char *cmd = argv[0];
    bool payments = strcmp(cmd, "payments") == 0;
    if (!payments && strcmp(cmd, "invoices") != 0)
        return cli_fail(EXIT_USAGE, "unknown report: %s (payments or invoices)", cmd);
    struct report_opts o;
    int rc = parse_report(cmd, payments, argc - 1, argv + 1, &o);
    if (rc)
        return rc;
    if (payments) {
        if (o.from == NULL || o.to == NULL)
            return cli_fail(EXIT_USAGE, "report payments needs --from DAY and --to DAY");
        /* each day alone first, to say which one is wrong */
        int64_t from, from_end, to, to_end;
        if (report_day_range(o.from, o.from, g->offset, &from, &from_end))
            return cli_fail(EXIT_USAGE, "--from must be a date YYYY-MM-DD: %s", o.from);
        if (report_day_range(o.to, o.to, g->offset, &to, &to_end))
            return cli_fail(EXIT_USAGE, "--to must be a date YYYY-MM-DD: %s", o.to);
        if (from > to)
            return cli_fail(EXIT_USAGE, "--from %s is after --to %s", o.from, o.to);
    }
    return report_run(g, cmd, &o);
}
