/*
 * client: one signed form POST to a vabill (or Espay) endpoint, on libcurl,
 * for the command line's bank and partner tools (`vabill pay`, `status`,
 * `close`).  The answer is read into a bounded buffer.
 */
#ifndef VABILL_CLIENT_H
#define VABILL_CLIENT_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* The largest answer a client reads, bytes. */
#define CLIENT_ANSWER_MAX (8L * 1024 * 1024)

/* Posts form[0..n) to url; *http_status and answer get the reply.  A
 * transport failure (unreachable, timeout) is ERR_INVALID with why filled. */
enum vb_err client_post_form(const char *url, const char *form, size_t n, long timeout_ms,
                             long *http_status, struct buf *answer, char *why, size_t whylen);

/* Joins the server's URL ("http://host:port", a trailing "/" or a service
 * path such as ".../rest/virtualaccount/inquiry" are fine) and a service
 * path. */
enum vb_err client_url(const char *base, const char *path, struct buf *out);

#endif
