/*
 * admin: the admin API under /admin/api/ and the console's files under
 * /console/ (issue 9; the contract is docs/ADMIN.md), without HTTP.
 *
 * http.c routes a request here with its method, path, the few headers that
 * matter, the query arguments and a small body, and a store connection;
 * admin_handle authenticates it (bearer token or session cookie, plus the
 * anti-CSRF header for changes made with the cookie), runs it and fills the
 * reply.  Nothing here includes microhttpd.h.
 */
#ifndef VABILL_ADMIN_H
#define VABILL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "limits.h"
#include "store.h"

struct admin_config {
    int utc_offset_min;
    bool tls; /* the session cookie gets Secure */
    /* wakes the notification worker after a retry; may be NULL */
    void (*wake)(void *ctx);
    void *wake_ctx;
};

struct admin_request {
    const char *method;
    const char *path;          /* unescaped, without the query string */
    const char *client;        /* the peer's address: throttling and logs */
    const char *authorization; /* header values; NULL when absent */
    const char *cookie;        /* the value of the vabill_session cookie */
    const char *csrf;          /* X-CSRF-Token */
    const char *content_type;
    /* a query argument's value, NULL when absent */
    const char *(*arg)(void *ctx, const char *name);
    void *arg_ctx;
    const char *body;
    size_t body_len;
};

#define ADMIN_MAX_HEADERS 4

struct admin_reply {
    int status;
    const char *type;
    struct buf body;
    /* an embedded file, sent instead of body (not copied, not freed) */
    const unsigned char *fixed;
    size_t fixed_len;
    size_t nheaders;
    struct {
        const char *name;
        char value[192];
    } headers[ADMIN_MAX_HEADERS];
    /* for the request log: who, and what happened (never a secret) */
    char operator_name[LIMIT_OPERATOR_NAME + 1];
    const char *event; /* "login", "login_failed", "logout", NULL */
};

/* Is the path the console's or the admin API's? */
bool admin_is_path(const char *path);

void admin_reply_init(struct admin_reply *r);
void admin_reply_free(struct admin_reply *r);

/* Handles one request; always fills the reply. */
void admin_handle(const struct admin_config *cfg, struct store *st, const struct admin_request *rq,
                  struct admin_reply *rp);

#endif
