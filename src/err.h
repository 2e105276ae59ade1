/*
 * err: the result codes of every vabill function that can fail.
 * ERR_OK is 0 so `if (rc)` reads as "if it failed".
 */
#ifndef VABILL_ERR_H
#define VABILL_ERR_H

enum vb_err {
    ERR_OK = 0,
    ERR_NOMEM,    /* memory ran out */
    ERR_INVALID,  /* input does not follow the rules */
    ERR_TOOBIG,   /* input over its limit */
    ERR_NOTFOUND, /* the named thing does not exist */
    ERR_EXISTS,   /* the thing to create already exists */
    ERR_COLLIDE,  /* a VA prefix collides with another community's on that bank */
    ERR_BUSY,     /* the store stayed busy past LIMIT_BUSY_MS */
    ERR_STORE,    /* the store failed (I/O, corruption, lost connection) */
};

/* A short English text for an error, for logs and the CLI. */
const char *err_str(enum vb_err e);

#endif
