/*
 * vabilld: the HTTP server (SPEC 4).  Parses options, opens the store,
 * starts serving, prints "listening on HOST:PORT", and on SIGTERM or SIGINT
 * stops accepting, lets requests in flight finish, and exits 0.
 */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dt.h"
#include "http.h"
#include "json.h"
#include "limits.h"
#include "notify.h"
#include "num.h"
#include "store.h"

static const char usage[] =
    "usage: vabilld [--db URL] [--listen HOST:PORT] [--threads N] [--max-body BYTES]\n"
    "               [--clock-skew SECONDS] [--utc-offset +HH:MM] [--request-timeout SECONDS]\n"
    "               [--notify-speedup N] [--tls-cert PEM --tls-key PEM]\n"
    "               [--admin-listen HOST:PORT]\n";

static int die_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "vabilld: %s%s%s\n%s", msg, arg ? ": " : "", arg ? arg : "", usage);
    return 2;
}

/* Splits HOST:PORT (HOST may be [v6]). */
static bool parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return false;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hostlen)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    long p;
    if (!num_parse_long(colon + 1, 0, 65535, &p))
        return false;
    *port = (int)p;
    return true;
}

/* A PEM file, read whole (at most 1 MiB) into a NUL-terminated string. */
static bool read_pem(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "vabilld: cannot read %s: %s\n", path, strerror(errno));
        return false;
    }
    struct buf b;
    buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_add(&b, chunk, n) != ERR_OK)
            break;
    bool ok = !ferror(f) && b.failed == ERR_OK && b.len > 0;
    fclose(f);
    OPENSSL_cleanse(chunk, sizeof chunk);
    if (!ok) {
        fprintf(stderr, "vabilld: %s is empty, unreadable or over 1 MiB\n", path);
        if (b.p)
            OPENSSL_cleanse(b.p, b.len);
        buf_free(&b);
        return false;
    }
    *out = buf_steal(&b, NULL);
    return true;
}

static void print_listening(const char *what, const char *host, int port)
{
    if (strchr(host, ':'))
        printf("%s [%s]:%d\n", what, host, port);
    else
        printf("%s %s:%d\n", what, host, port);
}

static void free_pem(char *p)
{
    if (p) {
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
}

int main(int argc, char **argv)
{
    const char *db = NULL;
    const char *listen = "127.0.0.1:8080";
    const char *admin_listen = NULL;
    const char *tls_cert = NULL, *tls_key = NULL;
    long threads = LIMIT_THREADS_DEFAULT, max_body = LIMIT_BODY_DEFAULT,
         skew = LIMIT_CLOCK_SKEW_DEFAULT, request_seconds = LIMIT_REQUEST_SECONDS, speedup = 1;
    int offset = 7 * 60;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (i + 1 >= argc)
            return die_usage("unknown option or missing value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--db") == 0) {
            db = v;
        } else if (strcmp(a, "--listen") == 0) {
            listen = v;
        } else if (strcmp(a, "--admin-listen") == 0) {
            admin_listen = v;
        } else if (strcmp(a, "--threads") == 0) {
            if (!num_parse_long(v, 1, LIMIT_THREADS_MAX, &threads))
                return die_usage("--threads must be 1 to 256", v);
        } else if (strcmp(a, "--max-body") == 0) {
            if (!num_parse_long(v, 1, LIMIT_BODY_MAX, &max_body))
                return die_usage("--max-body must be 1 to 67108864 bytes", v);
        } else if (strcmp(a, "--clock-skew") == 0) {
            if (!num_parse_long(v, 0, LIMIT_CLOCK_SKEW_MAX, &skew))
                return die_usage("--clock-skew must be 0 to 604800 seconds", v);
        } else if (strcmp(a, "--request-timeout") == 0) {
            if (!num_parse_long(v, 1, 3600, &request_seconds))
                return die_usage("--request-timeout must be 1 to 3600 seconds", v);
        } else if (strcmp(a, "--notify-speedup") == 0) {
            if (!num_parse_long(v, 1, 1000000, &speedup))
                return die_usage("--notify-speedup must be 1 to 1000000", v);
        } else if (strcmp(a, "--tls-cert") == 0) {
            tls_cert = v;
        } else if (strcmp(a, "--tls-key") == 0) {
            tls_key = v;
        } else if (strcmp(a, "--utc-offset") == 0) {
            if (!dt_parse_offset(v, &offset))
                return die_usage("--utc-offset must look like +07:00", v);
        } else {
            return die_usage("unknown option", a);
        }
    }
    if ((tls_cert == NULL) != (tls_key == NULL))
        return die_usage("--tls-cert and --tls-key go together", NULL);
    char host[256];
    int port;
    if (!parse_listen(listen, host, sizeof host, &port))
        return die_usage("--listen must be HOST:PORT", listen);
    char admin_host[256];
    int admin_port = 0;
    if (admin_listen && !parse_listen(admin_listen, admin_host, sizeof admin_host, &admin_port))
        return die_usage("--admin-listen must be HOST:PORT", admin_listen);

    /* Signals are taken by sigwait below; every thread started from here on
     * inherits the mask, so none of them is interrupted by one. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    json_global_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *url = store_default_url(db);
    char *cert_pem = NULL, *key_pem = NULL;
    if (tls_cert && (!read_pem(tls_cert, &cert_pem) || !read_pem(tls_key, &key_pem))) {
        free_pem(cert_pem);
        return 1;
    }
    struct http_config hc = {
        host,     port,    (int)threads, (size_t)max_body,    (int)request_seconds, url,
        cert_pem, key_pem, true,         admin_listen == NULL};
    /* the console and admin API on a port of their own: two threads */
    struct http_config ac = hc;
    ac.host = admin_host;
    ac.port = admin_port;
    ac.threads = 2;
    ac.serve_service = false;
    ac.serve_admin = true;
    struct svc_config sc = {offset, (int)skew, NULL, NULL};
    struct http_server *srv = NULL, *admin_srv = NULL;
    struct notifier *notifier = NULL;
    int bound = 0, admin_bound = 0;
    char why[512] = "";
    enum vb_err e = notify_start(url, offset, (int)speedup, &notifier, why, sizeof why);
    if (!e) {
        sc.on_payment = notify_wake;
        sc.on_payment_ctx = notifier;
        e = http_start(&hc, &sc, &srv, &bound, why, sizeof why);
    }
    if (!e && admin_listen) {
        e = http_start(&ac, &sc, &admin_srv, &admin_bound, why, sizeof why);
        if (e)
            http_stop(srv);
    }
    /* the private key is not kept in memory once the server has it */
    free_pem(key_pem);
    free_pem(cert_pem);
    if (e) {
        notify_stop(notifier);
        fprintf(stderr, "vabilld: %s\n", why[0] ? why : err_str(e));
        return 1;
    }
    print_listening("listening on", host, bound);
    if (admin_srv)
        print_listening("admin listening on", admin_host, admin_bound);
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);
    http_stop(admin_srv);
    http_stop(srv);
    notify_stop(notifier);
    curl_global_cleanup();
    return 0;
}
