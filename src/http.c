/*
 * http: libmicrohttpd glue.  See http.h.
 *
 * Threads: libmicrohttpd's own pool of `threads` event loops; a request is
 * handled entirely on the thread that read it.  Store connections come from
 * a pool of the same size, so a thread never waits for another's connection
 * unless it is in use by a request.
 *
 * Limits: the body limit is checked against Content-Length before any body
 * byte is read, and again while a chunked body arrives; a request whose
 * headers and body take longer than LIMIT_REQUEST_SECONDS is cut off; idle
 * connections close after LIMIT_CONN_IDLE_SECONDS; at most LIMIT_CONNECTIONS
 * are open at once.
 */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "codes.h"
#include "lifecycle.h"
#include "limits.h"
#include "metrics.h"

/* A fixed set of store connections shared by the worker threads. */
struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store **free_list;
    size_t nfree;
    size_t size;
};

/* One open connection, watched by the reaper. */
struct conn {
    int fd;
    struct timespec since; /* accepted, or last request answered */
    bool cut;
    struct conn *prev, *next;
};

struct http_server {
    struct MHD_Daemon *d;
    struct svc_config sc;
    size_t max_body;
    int request_seconds;
    bool tls;
    bool serve_service, serve_admin;
    struct admin_config ac;
    struct pool pool;
    atomic_int in_flight;
    pthread_mutex_t log_mu;
    /* connections, for the reaper thread that cuts slow ones */
    pthread_mutex_t conn_mu;
    pthread_cond_t conn_cv;
    struct conn conns; /* list head */
    bool stopping;
    pthread_t reaper;
    bool reaper_started;
};

enum route { R_SERVICE, R_ADMIN, R_HEALTHZ, R_METRICS, R_NOT_FOUND };

/* A service of the Espay API: its path and its handler. */
typedef void (*service_fn)(const struct svc_config *cfg, struct store *st, enum req_kind kind,
                           const char *body, size_t n, struct svc_reply *reply);
static const struct {
    const char *path;
    service_fn fn;
} services[] = {
    {"/rest/virtualaccount/sendinvoice", svc_sendinvoice},
    {"/rest/virtualaccount/inquiry", svc_inquiry},
    {"/rest/virtualaccount/payment", svc_payment},
    {"/rest/virtualaccount/checkstatus", svc_checkstatus},
    {"/rest/virtualaccount/closeinvoice", svc_closeinvoice},
};

/* One request's state, from its first callback to its completion. */
struct req {
    struct timespec t0;
    enum route route;
    service_fn fn; /* R_SERVICE */
    enum req_kind kind;
    struct buf body;
    bool answered;
    bool discarding; /* over the limit: the rest of the body is read and dropped */
    size_t discarded;
    int status;
    char method[8];
    char path[201];      /* the URL, cut to 200 bytes, for the log */
    bool started;        /* the first access-handler call has happened */
    const char *raw_uri; /* the URI as received (libmicrohttpd's buffer) */
    size_t raw_len;
    bool bad_uri; /* %00 or a raw NUL byte in the URI: answered 404 */
    struct svc_reply reply;
    struct admin_reply admin; /* R_ADMIN */
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static struct store *pool_take(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    struct store *s = p->free_list[--p->nfree];
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void pool_give(struct pool *p, struct store *s)
{
    pthread_mutex_lock(&p->mu);
    p->free_list[p->nfree++] = s;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* A response that takes over b's bytes (freed with the response); NULL
 * when memory runs out. */
static struct MHD_Response *response_from(struct buf *b)
{
    size_t len = 0;
    char *p = buf_steal(b, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, p ? p : (char *)"", p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        free(p);
    return resp;
}

/* Queues resp as the request's answer. */
static enum MHD_Result queue(struct MHD_Connection *c, struct req *r, int status,
                             struct MHD_Response *resp)
{
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    r->status = status;
    return rc;
}

static enum MHD_Result send_bytes(struct MHD_Connection *c, struct req *r, int status,
                                  const char *type, struct buf *b, bool replayed)
{
    struct MHD_Response *resp = response_from(b);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (replayed)
        MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->route == R_SERVICE ? "POST" : "GET");
    return queue(c, r, status, resp);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct req *r)
{
    return send_bytes(c, r, r->reply.http_status, "application/json", &r->reply.body,
                      r->reply.replayed);
}

static enum MHD_Result send_http_error(struct http_server *s, struct MHD_Connection *c,
                                       struct req *r, int status, const char *code)
{
    svc_http_error(&s->sc, status, code, &r->reply);
    return send_reply(c, r);
}

/* Writes a complete 413 answer straight to the connection's socket. */
static void send_raw_413(struct http_server *s, struct MHD_Connection *c, struct req *r)
{
    svc_http_error(&s->sc, 413, CODE_HTTP_413, &r->reply);
    r->answered = true;
    r->status = 413;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL)
        return;
    struct buf out;
    buf_init(&out, 1 << 16);
    buf_printf(&out,
               "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
               "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
               r->reply.body.len);
    buf_add(&out, r->reply.body.p, r->reply.body.len);
    for (size_t at = 0; out.failed == ERR_OK && at < out.len;) {
        ssize_t w = send(ci->connect_fd, out.p + at, out.len - at, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        at += (size_t)w;
    }
    shutdown(ci->connect_fd, SHUT_WR);
    buf_free(&out);
}

/* "application/json; charset=UTF-8" -> is it exactly type, ignoring parameters? */
static bool media_type_is(const char *v, const char *type)
{
    if (v == NULL)
        return false;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(type);
    if (strncasecmp(v, type, n) != 0)
        return false;
    v += n;
    while (*v == ' ' || *v == '\t')
        v++;
    return *v == '\0' || *v == ';';
}

/* ---- the console and admin API (admin.c does the work) ---- */

/* Headers every console and admin API answer carries. */
static const char *const security_headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
     "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
};

static enum MHD_Result send_admin(struct MHD_Connection *c, struct req *r)
{
    struct admin_reply *a = &r->admin;
    struct MHD_Response *resp =
        a->fixed ? MHD_create_response_from_buffer(a->fixed_len, (void *)a->fixed,
                                                   MHD_RESPMEM_PERSISTENT)
                 : response_from(&a->body);
    if (resp == NULL)
        return MHD_NO;
    if (a->status != 204 && a->status != 301)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
    for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++)
        MHD_add_response_header(resp, security_headers[i][0], security_headers[i][1]);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            a->fixed ? "no-cache" : "no-store");
    for (size_t i = 0; i < a->nheaders; i++)
        MHD_add_response_header(resp, a->headers[i].name, a->headers[i].value);
    return queue(c, r, a->status, resp);
}

static const char *admin_arg(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result run_admin(struct http_server *s, struct MHD_Connection *c, struct req *r)
{
    char client[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, client, sizeof client);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, client,
                      sizeof client);
    }
    struct admin_request rq = {
        .method = r->method,
        .path = r->path,
        .client = client,
        .authorization =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "vabill_session"),
        .csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token"),
        .content_type =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .arg = admin_arg,
        .arg_ctx = c,
        .body = r->body.p,
        .body_len = r->body.len,
    };
    struct store *st = pool_take(&s->pool);
    admin_handle(&s->ac, st, &rq, &r->admin);
    pool_give(&s->pool, st);
    buf_free(&r->body);
    return send_admin(c, r);
}

/* The first call for a console or admin API request: a POST's body (small)
 * is collected first, anything else is answered now. */
static enum MHD_Result admin_first(struct http_server *s, struct MHD_Connection *c, struct req *r,
                                   const char *method)
{
    admin_reply_init(&r->admin);
    if (strcmp(method, "POST") != 0)
        return run_admin(s, c, r);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    bool too_big = false;
    if (cl != NULL) {
        char *end = NULL;
        unsigned long long v = strtoull(cl, &end, 10);
        too_big = end == cl || v > LIMIT_ADMIN_BODY;
    }
    buf_free(&r->body);
    buf_init(&r->body, LIMIT_ADMIN_BODY);
    if (too_big) {
        r->admin.status = 413;
        buf_adds(&r->admin.body, "{\"error\":\"the body is too large\"}");
        return send_admin(c, r);
    }
    return MHD_YES;
}

static enum MHD_Result handle_first(struct http_server *s, struct MHD_Connection *c, struct req *r,
                                    const char *url, const char *method)
{
    r->route = R_NOT_FOUND;
    for (size_t i = 0; s->serve_service && i < sizeof services / sizeof services[0]; i++)
        if (strcmp(url, services[i].path) == 0) {
            r->route = R_SERVICE;
            r->fn = services[i].fn;
        }
    if (r->route == R_SERVICE) {
        /* checked below */
    } else if (s->serve_admin && admin_is_path(url)) {
        r->route = R_ADMIN;
        return admin_first(s, c, r, method);
    } else if (strcmp(url, "/healthz") == 0) {
        r->route = R_HEALTHZ;
    } else if (s->serve_service && strcmp(url, "/metrics") == 0) {
        r->route = R_METRICS;
    } else {
        return send_http_error(s, c, r, 404, CODE_HTTP_404);
    }

    if (r->route != R_SERVICE) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return send_http_error(s, c, r, 405, CODE_HTTP_405);
        struct buf b;
        buf_init(&b, 1 << 20);
        if (r->route == R_METRICS) {
            metrics_render(&b);
            return send_bytes(c, r, 200, "text/plain; version=0.0.4", &b, false);
        }
        struct store *st = pool_take(&s->pool);
        enum vb_err e = st->ops->ping(st);
        pool_give(&s->pool, st);
        buf_adds(&b, e ? "{\"status\":\"unavailable\"}" : "{\"status\":\"ok\"}");
        return send_bytes(c, r, e ? 503 : 200, "application/json", &b, false);
    }
    if (strcmp(method, "POST") != 0)
        return send_http_error(s, c, r, 405, CODE_HTTP_405);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end = NULL;
        unsigned long long v = strtoull(cl, &end, 10);
        if (end == cl || v > s->max_body)
            return send_http_error(s, c, r, 413, CODE_HTTP_413);
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (media_type_is(ct, "application/x-www-form-urlencoded"))
        r->kind = REQ_FORM;
    else if (media_type_is(ct, "application/json"))
        r->kind = REQ_JSON;
    else
        return send_http_error(s, c, r, 415, CODE_HTTP_415);
    return MHD_YES;
}

static struct req *req_new(struct http_server *s)
{
    struct req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    buf_init(&r->body, s->max_body);
    svc_reply_init(&r->reply);
    return r;
}

/*
 * Sees the URI before libmicrohttpd unescapes it: "%00" would become a NUL
 * that ends the path as a C string, so ".../sendinvoice%00junk" must not
 * reach the service (SPEC 1.4: another path is 404).  The request state is
 * made here, as libmicrohttpd allows.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)c;
    struct req *r = req_new(cls);
    if (r == NULL)
        return NULL;
    r->raw_uri = uri;
    r->raw_len = strlen(uri);
    for (size_t i = 0; i + 2 < r->raw_len; i++)
        if (uri[i] == '%' && uri[i + 1] == '0' && uri[i + 2] == '0')
            r->bad_uri = true;
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct http_server *s = cls;
    struct req *r = *con_cls;
    if (r == NULL) {
        r = req_new(s);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
    }
    if (!r->started) {
        r->started = true;
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        atomic_fetch_add(&s->in_flight, 1);
        /* a raw NUL byte inside the URI: in libmicrohttpd's buffer the
         * version follows the URI's end, unless the URI went on past a NUL */
        if (r->raw_uri && version != r->raw_uri + r->raw_len + 1)
            r->bad_uri = true;
        if (r->bad_uri)
            return send_http_error(s, c, r, 404, CODE_HTTP_404);
        return handle_first(s, c, r, url, method);
    }
    if (r->discarding) {
        /* past the limit: drop the rest, then close (the raw answer is
         * out) or answer 413 now that libmicrohttpd takes one (TLS) */
        r->discarded += *upload_size;
        if (*upload_size > 0) {
            *upload_size = 0;
            bool over =
                r->discarded / 4 > s->max_body || seconds_since(&r->t0) > s->request_seconds;
            return over ? MHD_NO : MHD_YES;
        }
        return r->answered ? MHD_NO : send_http_error(s, c, r, 413, CODE_HTTP_413);
    }
    if (r->answered)
        return MHD_YES;
    if (*upload_size > 0) {
        if (seconds_since(&r->t0) > s->request_seconds)
            return MHD_NO; /* a trickling client: close the connection */
        size_t n = *upload_size;
        *upload_size = 0;
        enum vb_err e = buf_add(&r->body, upload, n);
        if (e == ERR_OK)
            return MHD_YES;
        if (e != ERR_TOOBIG || r->route == R_ADMIN)
            return MHD_NO; /* out of memory, or a chunked admin body over its limit */
        /* A body without Content-Length has just passed the limit: answer
         * 413 now (SPEC 1.4 step 1).  libmicrohttpd 0.9.75 cannot queue a
         * response while a body is arriving, so on plain HTTP the answer is
         * written to the socket here.  The rest of the body is then read
         * and dropped (up to four times the limit, within the request
         * timeout) so that the client, still sending, is not reset before
         * it reads the answer. */
        buf_free(&r->body);
        r->discarding = true;
        if (!s->tls)
            send_raw_413(s, c, r);
        return MHD_YES;
    }
    if (r->route == R_ADMIN)
        return run_admin(s, c, r);
    struct store *st = pool_take(&s->pool);
    r->fn(&s->sc, st, r->kind, r->body.p ? r->body.p : "", r->body.len, &r->reply);
    pool_give(&s->pool, st);
    buf_free(&r->body);
    return send_reply(c, r);
}

static void log_request(struct http_server *s, const struct req *r, double secs)
{
    struct buf line;
    buf_init(&line, 8192);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_printf(&line, "{\"ts\":\"%s.%03ldZ\",\"method\":", ts, now.tv_nsec / 1000000);
    buf_add_json_str(&line, r->method, strlen(r->method));
    buf_adds(&line, ",\"path\":");
    buf_add_json_str(&line, r->path, strlen(r->path));
    buf_printf(&line, ",\"status\":%d,\"error_code\":\"%s\"", r->status,
               r->reply.error_code[0] ? r->reply.error_code : "");
    if (r->route == R_ADMIN && r->admin.operator_name[0]) {
        buf_adds(&line, ",\"operator\":");
        buf_add_json_str(&line, r->admin.operator_name, strlen(r->admin.operator_name));
    }
    if (r->route == R_ADMIN && r->admin.event)
        buf_printf(&line, ",\"event\":\"%s\"", r->admin.event);
    if (r->route == R_SERVICE) {
        buf_adds(&line, ",\"comm_code\":");
        buf_add_json_str(&line, r->reply.comm_code, strlen(r->reply.comm_code));
        if (r->reply.bank_code[0])
            buf_printf(&line, ",\"bank_code\":\"%s\"", r->reply.bank_code);
        buf_adds(&line, ",\"rq_uuid\":");
        buf_add_json_str(&line, r->reply.rq_uuid, strlen(r->reply.rq_uuid));
        buf_printf(&line, ",\"invoices\":%d,\"accepted\":%d,\"refused\":%d,\"replayed\":%s",
                   r->reply.invoices, r->reply.accepted, r->reply.refused,
                   r->reply.replayed ? "true" : "false");
        if (r->reply.store_error[0]) {
            buf_adds(&line, ",\"store_error\":");
            buf_add_json_str(&line, r->reply.store_error, strlen(r->reply.store_error));
        }
    }
    buf_printf(&line, ",\"latency_ms\":%.3f}\n", secs * 1000.0);
    if (line.failed == ERR_OK) {
        pthread_mutex_lock(&s->log_mu);
        fwrite(line.p, 1, line.len, stderr);
        fflush(stderr);
        pthread_mutex_unlock(&s->log_mu);
    }
    buf_free(&line);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct http_server *s = cls;
    struct req *r = *con_cls;
    if (r == NULL)
        return;
    double secs = seconds_since(&r->t0);
    if (r->answered && r->route == R_SERVICE) {
        metrics_request(r->reply.error_code, r->status, r->reply.replayed, r->reply.accepted,
                        r->reply.refused, secs);
    }
    if (r->answered)
        log_request(s, r, secs);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context) {
        struct conn *k = ci->socket_context;
        pthread_mutex_lock(&s->conn_mu);
        clock_gettime(CLOCK_MONOTONIC, &k->since);
        pthread_mutex_unlock(&s->conn_mu);
    }
    buf_free(&r->body);
    svc_reply_free(&r->reply);
    if (r->route == R_ADMIN)
        admin_reply_free(&r->admin);
    bool started = r->started;
    free(r);
    *con_cls = NULL;
    if (started)
        atomic_fetch_sub(&s->in_flight, 1);
}

/* Keeps the list of open connections for the reaper. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn *k = calloc(1, sizeof *k);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (k == NULL || ci == NULL) {
            free(k);
            return;
        }
        k->fd = ci->connect_fd;
        clock_gettime(CLOCK_MONOTONIC, &k->since);
        pthread_mutex_lock(&s->conn_mu);
        k->next = s->conns.next;
        k->prev = &s->conns;
        s->conns.next->prev = k;
        s->conns.next = k;
        pthread_mutex_unlock(&s->conn_mu);
        *socket_context = k;
        return;
    }
    /* libmicrohttpd reports the close before it closes the socket, so the
     * reaper, which works under the same lock, never touches a reused fd */
    struct conn *k = *socket_context;
    if (k == NULL)
        return;
    pthread_mutex_lock(&s->conn_mu);
    k->prev->next = k->next;
    k->next->prev = k->prev;
    pthread_mutex_unlock(&s->conn_mu);
    free(k);
    *socket_context = NULL;
}

/*
 * Cuts connections that have not completed a request for request_seconds:
 * a client trickling header bytes keeps resetting libmicrohttpd's idle
 * timeout, so only a total time limit stops it.  Shutting the socket down
 * makes libmicrohttpd see the end of the connection and close it.
 */
static void *reaper_main(void *arg)
{
    struct http_server *s = arg;
    pthread_mutex_lock(&s->conn_mu);
    while (!s->stopping) {
        struct timespec wake;
        clock_gettime(CLOCK_REALTIME, &wake);
        wake.tv_sec += 1;
        pthread_cond_timedwait(&s->conn_cv, &s->conn_mu, &wake);
        for (struct conn *k = s->conns.next; k != &s->conns; k = k->next) {
            if (!k->cut && seconds_since(&k->since) > s->request_seconds) {
                shutdown(k->fd, SHUT_RDWR);
                k->cut = true;
            }
        }
    }
    pthread_mutex_unlock(&s->conn_mu);
    return NULL;
}

static enum vb_err pool_open(struct pool *p, size_t n, const char *url, char *why, size_t whylen)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->free_list = calloc(n, sizeof *p->free_list);
    if (p->free_list == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        enum vb_err e = store_open(url, &p->free_list[i], why, whylen);
        if (e)
            return e;
        p->nfree++;
        p->size++;
    }
    return ERR_OK;
}

static void pool_close(struct pool *p)
{
    for (size_t i = 0; i < p->nfree; i++)
        store_close(p->free_list[i]);
    free(p->free_list);
    p->free_list = NULL;
    p->nfree = 0;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

enum vb_err http_start(const struct http_config *hc, const struct svc_config *sc,
                       struct http_server **out, int *bound, char *why, size_t whylen)
{
    struct http_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ERR_NOMEM;
    s->sc = *sc;
    s->serve_service = hc->serve_service;
    s->serve_admin = hc->serve_admin;
    s->ac.utc_offset_min = sc->utc_offset_min;
    s->ac.tls = hc->tls_cert_pem != NULL;
    s->ac.wake = sc->on_payment;
    s->ac.wake_ctx = sc->on_payment_ctx;
    s->max_body = hc->max_body;
    s->request_seconds = hc->request_seconds;
    pthread_mutex_init(&s->log_mu, NULL);
    pthread_mutex_init(&s->conn_mu, NULL);
    pthread_cond_init(&s->conn_cv, NULL);
    s->conns.next = s->conns.prev = &s->conns;
    enum vb_err e = pool_open(&s->pool, (size_t)hc->threads, hc->db_url, why, whylen);
    if (e) {
        pool_close(&s->pool);
        free(s);
        return e;
    }

    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", hc->port);
    int gai = getaddrinfo(hc->host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(why, whylen, "cannot resolve %s: %s", hc->host, gai_strerror(gai));
        pool_close(&s->pool);
        free(s);
        return ERR_INVALID;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* TLS: libmicrohttpd over GnuTLS reads the PEM texts while starting */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)hc->tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)hc->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    s->tls = hc->tls_cert_pem != NULL;
    if (s->tls)
        flags |= MHD_USE_TLS;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, s->tls ? tls : tls + 2,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)hc->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIMIT_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)LIMIT_CONN_IDLE_SECONDS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_END);
    if (s->d == NULL) {
        snprintf(why, whylen, "cannot listen on %s:%d%s", hc->host, hc->port,
                 s->tls ? " (or the TLS certificate and key are unusable)" : "");
        freeaddrinfo(ai);
        pool_close(&s->pool);
        free(s);
        return ERR_INVALID;
    }
    freeaddrinfo(ai);
    s->reaper_started = pthread_create(&s->reaper, NULL, reaper_main, s) == 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound = hc->port;
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    *out = s;
    return ERR_OK;
}

void http_stop(struct http_server *s)
{
    if (s == NULL)
        return;
    MHD_socket lfd = MHD_quiesce_daemon(s->d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&s->in_flight) > 0 && seconds_since(&t0) < LIMIT_DRAIN_SECONDS) {
        struct timespec ms = {0, 10 * 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    pthread_mutex_lock(&s->conn_mu);
    s->stopping = true;
    pthread_cond_signal(&s->conn_cv);
    pthread_mutex_unlock(&s->conn_mu);
    if (s->reaper_started)
        pthread_join(s->reaper, NULL);
    MHD_stop_daemon(s->d);
    pool_close(&s->pool);
    pthread_mutex_destroy(&s->log_mu);
    pthread_mutex_destroy(&s->conn_mu);
    pthread_cond_destroy(&s->conn_cv);
    free(s);
}
