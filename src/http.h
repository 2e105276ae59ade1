/*
 * http: vabilld's HTTP face, on libmicrohttpd.  Routes requests, enforces
 * SPEC 1.4 step 1 (404, 405, 413, 415) and the connection limits, collects
 * bodies, hands them to the service with a store connection from the pool,
 * and writes one JSON log line per request.  The only module that includes
 * microhttpd.h.
 */
#ifndef VABILL_HTTP_H
#define VABILL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "service.h"
#include "store.h"

struct http_config {
    const char *host;
    int port;
    int threads;
    size_t max_body;
    int request_seconds; /* a connection that completes no request for this long is cut */
    const char *db_url;  /* each worker thread opens its own store connection */
    /* PEM texts of the certificate chain and private key, or NULL for
     * plain HTTP; read during http_start, not kept */
    const char *tls_cert_pem;
    const char *tls_key_pem;
    /* what this listener serves: the Espay services and /metrics, the
     * console and admin API (docs/ADMIN.md), or both; /healthz always */
    bool serve_service;
    bool serve_admin;
};

struct http_server;

/* Binds and starts serving; *bound receives the real port. */
enum vb_err http_start(const struct http_config *hc, const struct svc_config *sc,
                       struct http_server **out, int *bound, char *why, size_t whylen);

/* Stops accepting, waits (bounded) for requests in flight, closes everything. */
void http_stop(struct http_server *s);

#endif
