/*
 * admin: the admin API and the console's files.  See admin.h and
 * docs/ADMIN.md.
 *
 * Every answer is built into one buffer as JSON text; values written with
 * buf_add_json_str, money with buf_add_money, times with dt_format at the
 * server's offset.  A store failure answers 503 and changes nothing.
 */
#include "admin.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "console_assets.h"
#include "dt.h"
#include "metrics.h"
#include "num.h"
#include "report.h"
#include "token.h"

#define API         "/admin/api/"
#define COOKIE_NAME "vabill_session"
/* A login body holds one token: far below this. */
#define LOGIN_TOKEN_MAX 128

/* Failed logins: per client address, at most THROTTLE_FAILS a minute, then
 * 429 for a minute.  A small table; the oldest entry makes room. */
#define THROTTLE_SLOTS        256
#define THROTTLE_FAILS        10
#define THROTTLE_WINDOW       60
#define FAILED_LOGIN_PAUSE_NS (250L * 1000 * 1000)

static pthread_mutex_t throttle_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char client[64];
    int64_t window_start;
    int fails;
    int64_t blocked_until;
} throttle[THROTTLE_SLOTS];

/* Who a request is made by, once authenticated. */
struct who {
    char operator_name[LIMIT_OPERATOR_NAME + 1];
    bool by_cookie;
    char csrf[LIMIT_CSRF_TOKEN + 1]; /* the session's, by_cookie only */
};

void admin_reply_init(struct admin_reply *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body, LIMIT_ADMIN_REPLY);
    r->type = "application/json";
}

void admin_reply_free(struct admin_reply *r)
{
    buf_free(&r->body);
}

bool admin_is_path(const char *path)
{
    return strncmp(path, API, strlen(API)) == 0 || strcmp(path, "/admin/api") == 0 ||
           strcmp(path, "/console") == 0 || strncmp(path, "/console/", 9) == 0;
}

static void add_header(struct admin_reply *rp, const char *name, const char *value)
{
    if (rp->nheaders == ADMIN_MAX_HEADERS)
        return;
    rp->headers[rp->nheaders].name = name;
    snprintf(rp->headers[rp->nheaders].value, sizeof rp->headers[0].value, "%s", value);
    rp->nheaders++;
}

static void answer_error(struct admin_reply *rp, int status, const char *msg)
{
    buf_reset(&rp->body);
    rp->status = status;
    rp->type = "application/json";
    buf_adds(&rp->body, "{\"error\":");
    buf_add_json_str(&rp->body, msg, strlen(msg));
    buf_addc(&rp->body, '}');
}

static void answer_store_error(struct admin_reply *rp, enum vb_err e)
{
    if (e == ERR_NOTFOUND)
        answer_error(rp, 404, "not found");
    else
        answer_error(rp, 503, "store unavailable");
}

static void answer_unauthorized(struct admin_reply *rp)
{
    answer_error(rp, 401, "unauthorized");
    add_header(rp, "WWW-Authenticate", "Bearer realm=\"vabill\"");
}

/* ---- small writers ---- */

static void add_key(struct buf *b, const char *sep, const char *key)
{
    buf_adds(b, sep);
    buf_add_json_str(b, key, strlen(key));
    buf_addc(b, ':');
}

static void add_str(struct buf *b, const char *sep, const char *key, const char *v)
{
    add_key(b, sep, key);
    buf_add_json_str(b, v, strlen(v));
}

static void add_int(struct buf *b, const char *sep, const char *key, int64_t v)
{
    add_key(b, sep, key);
    buf_printf(b, "%lld", (long long)v);
}

static void add_money(struct buf *b, const char *sep, const char *key, int64_t v)
{
    add_key(b, sep, key);
    buf_addc(b, '"');
    buf_add_money(b, v);
    buf_addc(b, '"');
}

static void add_time(struct buf *b, const char *sep, const char *key, int64_t t, int offset)
{
    char s[DT_LEN + 1];
    dt_format(t, offset, s);
    add_str(b, sep, key, s);
}

static const char *shown_status(const char *stored, int64_t expires_at, int64_t now)
{
    if (strcmp(stored, "open") == 0 && expires_at < now)
        return "expired";
    return stored;
}

/* ---- throttling failed logins ---- */

static int throttle_slot(const char *client, int64_t now)
{
    int oldest = 0;
    for (int i = 0; i < THROTTLE_SLOTS; i++) {
        if (strcmp(throttle[i].client, client) == 0)
            return i;
        if (throttle[i].window_start < throttle[oldest].window_start)
            oldest = i;
    }
    snprintf(throttle[oldest].client, sizeof throttle[0].client, "%s", client);
    throttle[oldest].window_start = now;
    throttle[oldest].fails = 0;
    throttle[oldest].blocked_until = 0;
    return oldest;
}

static bool throttle_blocked(const char *client, int64_t now)
{
    pthread_mutex_lock(&throttle_mu);
    bool blocked = false;
    for (int i = 0; i < THROTTLE_SLOTS; i++)
        if (strcmp(throttle[i].client, client) == 0 && throttle[i].blocked_until > now)
            blocked = true;
    pthread_mutex_unlock(&throttle_mu);
    return blocked;
}

static void throttle_fail(const char *client, int64_t now)
{
    pthread_mutex_lock(&throttle_mu);
    int i = throttle_slot(client, now);
    if (now - throttle[i].window_start >= THROTTLE_WINDOW) {
        throttle[i].window_start = now;
        throttle[i].fails = 0;
    }
    if (++throttle[i].fails >= THROTTLE_FAILS)
        throttle[i].blocked_until = now + THROTTLE_WINDOW;
    pthread_mutex_unlock(&throttle_mu);
}

/* ---- authentication ---- */

/* No such token or session: 401; the store failed: 503.  Returns false. */
static bool refuse(struct admin_reply *rp, enum vb_err e)
{
    if (e == ERR_NOTFOUND)
        answer_unauthorized(rp);
    else
        answer_store_error(rp, e);
    return false;
}

/* The operator behind the request, or false (and the reply says why). */
static bool authenticate(struct store *st, const struct admin_request *rq, int64_t now,
                         struct who *who, struct admin_reply *rp)
{
    memset(who, 0, sizeof *who);
    const char *auth = rq->authorization;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *tok = auth + 7;
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        unsigned char h[STORE_HASH_LEN];
        token_hash(tok, n, h);
        struct store_operator op;
        enum vb_err e = st->ops->operator_find(st, h, &op);
        if (e)
            return refuse(rp, e);
        snprintf(who->operator_name, sizeof who->operator_name, "%s", op.name);
        return true;
    }
    if (rq->cookie && *rq->cookie) {
        unsigned char h[STORE_HASH_LEN];
        token_hash(rq->cookie, strlen(rq->cookie), h);
        struct store_session sess;
        enum vb_err e = st->ops->session_get(st, h, now, &sess);
        if (e)
            return refuse(rp, e);
        snprintf(who->operator_name, sizeof who->operator_name, "%s", sess.operator_name);
        snprintf(who->csrf, sizeof who->csrf, "%s", sess.csrf);
        who->by_cookie = true;
        return true;
    }
    answer_unauthorized(rp);
    return false;
}

/* A change made with the session cookie must carry the session's
 * anti-CSRF token in X-CSRF-Token. */
static bool csrf_ok(const struct who *who, const struct admin_request *rq, struct admin_reply *rp)
{
    if (!who->by_cookie)
        return true;
    if (rq->csrf && token_equal(rq->csrf, strlen(rq->csrf), who->csrf, strlen(who->csrf)))
        return true;
    answer_error(rp, 403, "csrf");
    return false;
}

static void set_cookie(const struct admin_config *cfg, struct admin_reply *rp, const char *value,
                       long max_age)
{
    char v[192];
    snprintf(v, sizeof v, COOKIE_NAME "=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s",
             value, max_age, cfg->tls ? "; Secure" : "");
    add_header(rp, "Set-Cookie", v);
}

static void login(const struct admin_config *cfg, struct store *st, const struct admin_request *rq,
                  int64_t now, struct admin_reply *rp)
{
    const char *client = rq->client ? rq->client : "";
    if (throttle_blocked(client, now)) {
        answer_error(rp, 429, "too many attempts");
        add_header(rp, "Retry-After", "60");
        rp->event = "login_throttled";
        return;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(rq->body ? rq->body : "", rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *tok = NULL;
    size_t n = 0;
    json_t *t = json_is_object(doc) ? json_object_get(doc, "token") : NULL;
    if (json_is_string(t)) {
        tok = json_string_value(t);
        n = json_string_length(t);
    }
    if (tok == NULL || n == 0 || n > LOGIN_TOKEN_MAX || strlen(tok) != n) {
        json_decref(doc);
        answer_error(rp, 400, "the body must be {\"token\":\"...\"}");
        return;
    }
    unsigned char h[STORE_HASH_LEN];
    token_hash(tok, n, h);
    json_decref(doc); /* the token's text goes with it */
    struct store_operator op;
    enum vb_err e = st->ops->operator_find(st, h, &op);
    if (e == ERR_NOTFOUND) {
        throttle_fail(client, now);
        struct timespec pause = {0, FAILED_LOGIN_PAUSE_NS};
        nanosleep(&pause, NULL);
        answer_unauthorized(rp);
        rp->event = "login_failed";
        return;
    }
    if (e) {
        answer_store_error(rp, e);
        return;
    }
    char cookie[TOKEN_MAX], csrf[TOKEN_MAX];
    struct store_session sess;
    memset(&sess, 0, sizeof sess);
    if (!token_new("", cookie) || !token_new("", csrf)) {
        answer_error(rp, 503, "no randomness");
        return;
    }
    memcpy(sess.csrf, csrf, LIMIT_CSRF_TOKEN); /* token_new("") writes exactly that many */
    sess.csrf[LIMIT_CSRF_TOKEN] = '\0';
    snprintf(sess.operator_name, sizeof sess.operator_name, "%s", op.name);
    sess.expires_at = now + LIMIT_SESSION_SECONDS;
    token_hash(cookie, strlen(cookie), h);
    e = st->ops->session_add(st, h, &sess);
    if (e) {
        OPENSSL_cleanse(cookie, sizeof cookie);
        answer_store_error(rp, e);
        return;
    }
    set_cookie(cfg, rp, cookie, LIMIT_SESSION_SECONDS);
    OPENSSL_cleanse(cookie, sizeof cookie);
    rp->status = 200;
    struct buf *b = &rp->body;
    add_str(b, "{", "operator", op.name);
    add_str(b, ",", "csrf", sess.csrf);
    add_time(b, ",", "expires_at", sess.expires_at, cfg->utc_offset_min);
    buf_addc(b, '}');
    snprintf(rp->operator_name, sizeof rp->operator_name, "%s", op.name);
    rp->event = "login";
}

static void logout(const struct admin_config *cfg, struct store *st, const struct admin_request *rq,
                   int64_t now, struct admin_reply *rp)
{
    if (rq->cookie && *rq->cookie) {
        unsigned char h[STORE_HASH_LEN];
        token_hash(rq->cookie, strlen(rq->cookie), h);
        enum vb_err e = st->ops->session_remove(st, h, now);
        if (e) {
            answer_store_error(rp, e);
            return;
        }
    }
    set_cookie(cfg, rp, "", 0);
    rp->status = 204;
    rp->event = "logout";
}

/* ---- query arguments ---- */

static const char *arg(const struct admin_request *rq, const char *name)
{
    const char *v = rq->arg ? rq->arg(rq->arg_ctx, name) : NULL;
    return v && *v ? v : NULL;
}

/* A day "YYYY-MM-DD" at the offset: its first second (UTC). */
static bool parse_day(const char *s, int offset, int64_t *out)
{
    if (strlen(s) != 10)
        return false;
    char full[DT_LEN + 1];
    snprintf(full, sizeof full, "%s 00:00:00", s);
    return dt_parse(full, DT_LEN, offset, out);
}

static int64_t day_start(int64_t now, int offset)
{
    int64_t local = now + (int64_t)offset * 60;
    int64_t d = local / 86400;
    if (local % 86400 < 0)
        d--;
    return d * 86400 - (int64_t)offset * 60;
}

/* ---- the endpoints ---- */

static void overview(const struct admin_config *cfg, struct store *st, int64_t now,
                     struct admin_reply *rp)
{
    int64_t from = day_start(now, cfg->utc_offset_min);
    struct store_overview o;
    memset(&o, 0, sizeof o);
    enum vb_err e = st->ops->overview(st, from, from + 86400, now, &o);
    if (e) {
        answer_store_error(rp, e);
        return;
    }
    char day[DT_LEN + 1];
    dt_format(from, cfg->utc_offset_min, day);
    day[10] = '\0';
    char offs[REPORT_OFFSET_LEN + 1];
    report_format_offset(cfg->utc_offset_min, offs);
    struct buf *b = &rp->body;
    add_str(b, "{", "day", day);
    add_str(b, ",", "utc_offset", offs);
    add_key(b, ",", "invoices_today");
    add_int(b, "{", "accepted", o.accepted);
    add_int(b, ",", "open", o.open);
    add_int(b, ",", "expired", o.expired);
    add_int(b, ",", "paid", o.paid);
    add_int(b, ",", "closed", o.closed);
    add_key(b, "},", "payments_today");
    add_int(b, "{", "count", o.payments);
    add_money(b, ",", "amount", o.paid_amount);
    add_key(b, "},", "notifications");
    add_int(b, "{", "pending", o.notifications_pending);
    add_int(b, ",", "failed", o.notifications_failed);
    add_key(b, "},", "requests_last_hour");
    metrics_last_hour_json(b);
    buf_addc(b, '}');
    rp->status = 200;
}

static void community_json(struct buf *b, const struct store_community *c)
{
    add_str(b, "{", "code", c->code);
    add_str(b, ",", "ccy", c->ccy);
    add_key(b, ",", "enabled");
    buf_adds(b, c->enabled ? "true" : "false");
    add_int(b, ",", "va_length", c->va_length);
    add_int(b, ",", "va_ttl_min", c->va_ttl_min);
    add_key(b, ",", "partial_payments");
    buf_adds(b, c->partial_payments ? "true" : "false");
    add_str(b, ",", "notify_url", c->notify_url);
    add_key(b, ",", "banks");
    for (size_t i = 0; i < c->nbanks; i++) {
        add_str(b, i ? ",{" : "[{", "bank_code", c->banks[i].bank_code);
        add_str(b, ",", "prefix", c->banks[i].prefix);
        buf_addc(b, '}');
    }
    buf_adds(b, c->nbanks ? "]}" : "[]}");
}

static void communities(struct store *st, struct admin_reply *rp)
{
    struct store_community *list = NULL;
    size_t n = 0;
    enum vb_err e = st->ops->community_list(st, &list, &n);
    if (e) {
        answer_store_error(rp, e);
        return;
    }
    struct buf *b = &rp->body;
    buf_adds(b, "{\"communities\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_addc(b, ',');
        community_json(b, &list[i]);
    }
    buf_adds(b, "]}");
    free(list);
    rp->status = 200;
}

/* POST /admin/api/communities/CODE/enable or /disable */
static void community_switch(struct store *st, const char *rest, struct admin_reply *rp)
{
    const char *slash = strchr(rest, '/');
    char code[LIMIT_COMM_CODE + 1];
    size_t n = slash ? (size_t)(slash - rest) : 0;
    bool enable = slash && strcmp(slash, "/enable") == 0;
    if (n == 0 || n > LIMIT_COMM_CODE || (!enable && strcmp(slash, "/disable") != 0)) {
        answer_error(rp, 404, "not found");
        return;
    }
    memcpy(code, rest, n);
    code[n] = '\0';
    enum vb_err e = st->ops->community_set_enabled(st, code, enable);
    struct store_community c;
    if (!e)
        e = st->ops->community_get(st, code, &c);
    if (e) {
        answer_store_error(rp, e);
        return;
    }
    store_community_wipe(&c);
    community_json(&rp->body, &c);
    rp->status = 200;
}

struct list_ctx {
    struct buf *b;
    size_t n, page;
    bool more; /* a row past the page was seen */
    int offset;
    int64_t now;
    int64_t last_id;
};

static void invoice_row_json(struct buf *b, const struct store_invoice_row *r, int offset,
                             int64_t now)
{
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(r->id, ref);
    add_int(b, "{", "id", r->id);
    add_str(b, ",", "comm_code", r->comm_code);
    add_str(b, ",", "doc_no", r->doc_no);
    add_str(b, ",", "doc_ref_no", ref);
    add_str(b, ",", "member_code", r->member_code);
    add_str(b, ",", "member_name", r->member_name);
    add_money(b, ",", "amount", r->amount);
    add_money(b, ",", "outstanding", r->outstanding);
    add_str(b, ",", "status", shown_status(r->status, r->expires_at, now));
    add_time(b, ",", "accepted_at", r->accepted_at, offset);
    add_time(b, ",", "expires_at", r->expires_at, offset);
    buf_addc(b, '}');
}

static int on_invoice_row(void *ctx, const struct store_invoice_row *r)
{
    struct list_ctx *l = ctx;
    if (l->n == l->page) {
        l->more = true;
        return 0;
    }
    if (l->n++)
        buf_addc(l->b, ',');
    invoice_row_json(l->b, r, l->offset, l->now);
    l->last_id = r->id;
    return l->b->failed != ERR_OK;
}

static void invoices(const struct admin_config *cfg, struct store *st,
                     const struct admin_request *rq, int64_t now, struct admin_reply *rp)
{
    struct store_invoice_filter f;
    memset(&f, 0, sizeof f);
    f.now = now;
    f.q = arg(rq, "q");
    f.comm_code = arg(rq, "community");
    f.status = arg(rq, "status");
    const char *from = arg(rq, "from"), *to = arg(rq, "to"), *before = arg(rq, "before"),
               *limit = arg(rq, "limit");
    long lim = LIMIT_PAGE_DEFAULT, bid = 0;
    if (f.status && strcmp(f.status, "open") != 0 && strcmp(f.status, "expired") != 0 &&
        strcmp(f.status, "paid") != 0 && strcmp(f.status, "closed") != 0)
        return answer_error(rp, 400, "status must be open, expired, paid or closed");
    if (from && !parse_day(from, cfg->utc_offset_min, &f.from))
        return answer_error(rp, 400, "from must be a day YYYY-MM-DD");
    if (to && !parse_day(to, cfg->utc_offset_min, &f.to))
        return answer_error(rp, 400, "to must be a day YYYY-MM-DD");
    if (to)
        f.to += 86400;
    if (limit && !num_parse_long(limit, 1, LIMIT_PAGE_MAX, &lim))
        return answer_error(rp, 400, "limit must be 1 to 500");
    if (before && !num_parse_long(before, 1, INT64_MAX, &bid))
        return answer_error(rp, 400, "before must be an invoice id");
    if ((f.q && strlen(f.q) > LIMIT_VA_NUMBER_DIGITS) ||
        (f.comm_code && strlen(f.comm_code) > LIMIT_COMM_CODE))
        return answer_error(rp, 400, "q or community is too long");
    f.before_id = bid;
    f.limit = (size_t)lim + 1; /* one past the page tells whether another follows */
    struct buf *b = &rp->body;
    buf_adds(b, "{\"invoices\":[");
    struct list_ctx l = {b, 0, (size_t)lim, false, cfg->utc_offset_min, now, 0};
    enum vb_err e = st->ops->invoice_search(st, &f, on_invoice_row, &l);
    if (e || b->failed)
        return answer_store_error(rp, e ? e : ERR_STORE);
    buf_adds(b, "],\"next_before\":");
    if (l.more)
        buf_printf(b, "%lld}", (long long)l.last_id);
    else
        buf_adds(b, "null}");
    rp->status = 200;
}

static void notification_json(struct buf *b, const struct store_notification *n, int offset,
                              bool with_invoice)
{
    add_int(b, "{", "id", n->id);
    if (with_invoice) {
        add_str(b, ",", "comm_code", n->comm_code);
        add_str(b, ",", "doc_no", n->doc_no);
    }
    add_str(b, ",", "payment_ref", n->payment_ref);
    add_str(b, ",", "bank_code", n->bank_code);
    add_str(b, ",", "va_number", n->va_number);
    add_money(b, ",", "amount", n->amount);
    add_str(b, ",", "status", n->status);
    add_int(b, ",", "attempts", n->attempts);
    add_str(b, ",", "url", n->url);
    add_str(b, ",", "last_error", n->last_error);
    if (strcmp(n->status, "pending") == 0)
        add_time(b, ",", "next_at", n->next_at_ms / 1000, offset);
    else
        buf_adds(b, ",\"next_at\":null");
}

/* GET /admin/api/invoice?community=CODE&doc_no=DOC_NO */
static void invoice_detail(const struct admin_config *cfg, struct store *st,
                           const struct admin_request *rq, int64_t now, struct admin_reply *rp)
{
    const char *comm = arg(rq, "community"), *doc = arg(rq, "doc_no");
    if (comm == NULL || doc == NULL)
        return answer_error(rp, 400, "community and doc_no are required");
    if (strlen(comm) > LIMIT_COMM_CODE || strlen(doc) > LIMIT_DOC_NO)
        return answer_error(rp, 404, "not found");
    struct store_invoice *inv = NULL;
    struct store_payment_row *pay = NULL;
    struct store_notification *ntf = NULL;
    struct store_ntf_attempt *att = NULL;
    size_t npay = 0, nntf = 0, natt = 0;
    enum vb_err e = st->ops->invoice_get(st, comm, doc, strlen(doc), &inv);
    if (!e)
        e = st->ops->invoice_payments(st, inv->id, &pay, &npay);
    if (!e)
        e = st->ops->invoice_notifications(st, inv->id, &ntf, &nntf, &att, &natt);
    if (e) {
        answer_store_error(rp, e);
        goto out;
    }
    int off = cfg->utc_offset_min;
    struct buf *b = &rp->body;
    char ref[LIMIT_DOC_REF_NO + 1];
    store_doc_ref_no(inv->id, ref);
    add_key(b, "{", "invoice");
    add_int(b, "{", "id", inv->id);
    add_str(b, ",", "comm_code", inv->comm_code);
    add_str(b, ",", "doc_no", inv->doc_no);
    add_str(b, ",", "doc_ref_no", ref);
    add_str(b, ",", "member_code", inv->member_code);
    add_str(b, ",", "member_name", inv->member_name ? inv->member_name : "");
    add_str(b, ",", "description", inv->description ? inv->description : "");
    add_money(b, ",", "amount", inv->amount);
    add_money(b, ",", "total_amount", inv->total_amount);
    add_money(b, ",", "outstanding", inv->outstanding);
    add_str(b, ",", "status", shown_status(inv->status, inv->expires_at, now));
    add_time(b, ",", "accepted_at", inv->accepted_at, off);
    add_time(b, ",", "expires_at", inv->expires_at, off);
    add_str(b, ",", "rq_uuid", inv->rq_uuid);
    add_key(b, ",", "list_va");
    buf_addc(b, '[');
    for (size_t i = 0; i < inv->nva; i++) {
        add_str(b, i ? ",{" : "{", "bank_code", inv->va[i].bank_code);
        add_str(b, ",", "va_number", inv->va[i].va_number);
        buf_addc(b, '}');
    }
    add_key(b, "],", "payments");
    buf_addc(b, '[');
    for (size_t i = 0; i < npay; i++) {
        add_str(b, i ? ",{" : "{", "payment_ref", pay[i].payment_ref);
        add_str(b, ",", "bank_code", pay[i].bank_code);
        add_str(b, ",", "va_number", pay[i].va_number);
        add_money(b, ",", "amount", pay[i].amount);
        add_time(b, ",", "paid_at", pay[i].paid_at, off);
        buf_addc(b, '}');
    }
    add_key(b, "],", "notifications");
    buf_addc(b, '[');
    for (size_t i = 0; i < nntf; i++) {
        if (i)
            buf_addc(b, ',');
        notification_json(b, &ntf[i], off, false);
        add_key(b, ",", "attempts_log");
        buf_addc(b, '[');
        const char *sep = "{";
        for (size_t k = 0; k < natt; k++) {
            if (att[k].notification_id != ntf[i].id)
                continue;
            add_time(b, sep, "at", att[k].at_ms / 1000, off);
            add_key(b, ",", "delivered");
            buf_adds(b, att[k].delivered ? "true" : "false");
            add_str(b, ",", "error", att[k].error);
            buf_addc(b, '}');
            sep = ",{";
        }
        buf_adds(b, "]}");
    }
    buf_adds(b, "]}}");
    rp->status = 200;
out:
    store_invoice_free(inv);
    free(pay);
    free(ntf);
    free(att);
}

/* GET /admin/api/notifications[?status=failed|pending] */
static void notifications(const struct admin_config *cfg, struct store *st,
                          const struct admin_request *rq, struct admin_reply *rp)
{
    const char *want = arg(rq, "status");
    if (want && strcmp(want, "failed") != 0 && strcmp(want, "pending") != 0)
        return answer_error(rp, 400, "status must be failed or pending");
    struct store_notification *list = NULL;
    size_t n = 0;
    enum vb_err e = st->ops->notify_list(st, want && strcmp(want, "failed") == 0, &list, &n);
    if (e)
        return answer_store_error(rp, e);
    struct buf *b = &rp->body;
    buf_adds(b, "{\"notifications\":[");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].status, "delivered") == 0 || (want && strcmp(list[i].status, want)))
            continue;
        if (shown++)
            buf_addc(b, ',');
        notification_json(b, &list[i], cfg->utc_offset_min, true);
        buf_addc(b, '}');
    }
    buf_adds(b, "]}");
    free(list);
    rp->status = 200;
}

/* POST /admin/api/notifications/ID/retry */
static void notification_retry(const struct admin_config *cfg, struct store *st, const char *rest,
                               struct admin_reply *rp)
{
    const char *slash = strchr(rest, '/');
    char digits[24];
    size_t n = slash ? (size_t)(slash - rest) : 0;
    long id;
    if (n == 0 || n >= sizeof digits || strcmp(slash, "/retry") != 0)
        return answer_error(rp, 404, "not found");
    memcpy(digits, rest, n);
    digits[n] = '\0';
    if (!num_parse_long(digits, 1, INT64_MAX, &id))
        return answer_error(rp, 404, "not found");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    enum vb_err e = st->ops->notify_retry(st, id, now_ms);
    if (e)
        return answer_store_error(rp, e);
    if (cfg->wake)
        cfg->wake(cfg->wake_ctx);
    buf_printf(&rp->body, "{\"id\":%ld,\"status\":\"pending\"}", id);
    rp->status = 200;
}

/* GET /admin/api/reports/payments?from=DAY&to=DAY[&community][&bank][&format]:
 * the bytes of `vabill report payments`, as a download. */
static void report_download(const struct admin_config *cfg, struct store *st,
                            const struct admin_request *rq, struct admin_reply *rp)
{
    struct report_payments_query q;
    memset(&q, 0, sizeof q);
    q.from_day = arg(rq, "from");
    q.to_day = arg(rq, "to");
    q.comm_code = arg(rq, "community");
    q.bank_code = arg(rq, "bank");
    q.offset_min = cfg->utc_offset_min;
    const char *format = arg(rq, "format");
    int64_t from, to;
    if (q.from_day == NULL || q.to_day == NULL ||
        report_day_range(q.from_day, q.to_day, q.offset_min, &from, &to) != ERR_OK)
        return answer_error(rp, 400, "from and to must be days YYYY-MM-DD, from not after to");
    if (!report_parse_format(format ? format : "csv", &q.format))
        return answer_error(rp, 400, "format must be csv or json");
    if ((q.comm_code && strlen(q.comm_code) > LIMIT_COMM_CODE) ||
        (q.bank_code && strlen(q.bank_code) > LIMIT_BANK_CODE))
        return answer_error(rp, 400, "community or bank is too long");
    /* into the reply's body, up to LIMIT_ADMIN_REPLY */
    struct report_sink sink = {report_buf_write, &rp->body};
    enum vb_err e = report_payments(st, &q, &sink);
    if (e == ERR_TOOBIG)
        return answer_error(rp, 413, "the report is too large: ask for fewer days");
    if (e == ERR_INVALID)
        return answer_error(rp, 500, "the report's totals overflow");
    if (e)
        return answer_store_error(rp, e);
    bool json = q.format == REPORT_JSON;
    rp->type = json ? "application/json" : "text/csv; charset=utf-8";
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"payments-%.10s-%.10s.%s\"", q.from_day,
             q.to_day, json ? "json" : "csv");
    add_header(rp, "Content-Disposition", disp);
    rp->status = 200;
}

/* ---- routing ---- */

static void console_file(const struct admin_request *rq, struct admin_reply *rp)
{
    if (strcmp(rq->path, "/console") == 0) {
        rp->status = 301;
        add_header(rp, "Location", "/console/");
        return;
    }
    const struct console_asset *a = console_asset_find(rq->path);
    if (a == NULL)
        return answer_error(rp, 404, "not found");
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
        add_header(rp, "Allow", "GET, HEAD");
        return answer_error(rp, 405, "method not allowed");
    }
    rp->status = 200;
    rp->type = a->type;
    rp->fixed = a->data;
    rp->fixed_len = a->len;
}

static bool is_get(const struct admin_request *rq)
{
    return strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
}

void admin_handle(const struct admin_config *cfg, struct store *st, const struct admin_request *rq,
                  struct admin_reply *rp)
{
    if (strncmp(rq->path, "/console", 8) == 0)
        return console_file(rq, rp);
    int64_t now = dt_now();
    const char *p = strncmp(rq->path, API, strlen(API)) == 0 ? rq->path + strlen(API) : "";
    bool post = strcmp(rq->method, "POST") == 0;
    if (strcmp(p, "login") == 0) {
        if (!post) {
            add_header(rp, "Allow", "POST");
            return answer_error(rp, 405, "method not allowed");
        }
        return login(cfg, st, rq, now, rp);
    }
    struct who who;
    if (!authenticate(st, rq, now, &who, rp))
        return;
    snprintf(rp->operator_name, sizeof rp->operator_name, "%s", who.operator_name);
    if (!post && !is_get(rq)) {
        add_header(rp, "Allow", "GET, HEAD, POST");
        return answer_error(rp, 405, "method not allowed");
    }
    if (post && !csrf_ok(&who, rq, rp))
        return;
    if (post && strcmp(p, "logout") == 0)
        return logout(cfg, st, rq, now, rp);
    if (post && strncmp(p, "communities/", 12) == 0)
        return community_switch(st, p + 12, rp);
    if (post && strncmp(p, "notifications/", 14) == 0)
        return notification_retry(cfg, st, p + 14, rp);
    if (!post && strcmp(p, "session") == 0) {
        add_str(&rp->body, "{", "operator", who.operator_name);
        add_str(&rp->body, ",", "csrf", who.csrf);
        buf_addc(&rp->body, '}');
        rp->status = 200;
        return;
    }
    if (!post && strcmp(p, "overview") == 0)
        return overview(cfg, st, now, rp);
    if (!post && strcmp(p, "communities") == 0)
        return communities(st, rp);
    if (!post && strcmp(p, "invoices") == 0)
        return invoices(cfg, st, rq, now, rp);
    if (!post && strcmp(p, "invoice") == 0)
        return invoice_detail(cfg, st, rq, now, rp);
    if (!post && strcmp(p, "notifications") == 0)
        return notifications(cfg, st, rq, rp);
    if (!post && strcmp(p, "reports/payments") == 0)
        return report_download(cfg, st, rq, rp);
    answer_error(rp, 404, "not found");
}
