/*
 * cli: what the commands of `vabill` share: the global options, the one-line
 * error convention and exit codes, opening the store.  Each group of
 * commands lives in its own file (vabill.c: administration and signing;
 * cli_life.c: banks, payments, status, closing, notifications;
 * cli_admin.c: operators and reports; send.c: the batch client).
 */
#ifndef VABILL_CLI_H
#define VABILL_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Options common to all commands, pulled out of argv wherever they stand. */
struct global {
    const char *db;
    int offset; /* --utc-offset, minutes east of UTC */
};

/* Prints "vabill: " + the message on stderr; returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A signature key as given on the command line: present, printable ASCII
 * without blanks, at most LIMIT_KEY.  0, or the exit code after a message. */
int cli_check_key(const char *key);

/* A name given on the command line: 1 to max bytes, each an ASCII letter,
 * a digit, or one of the bytes in also (may be ""). */
bool cli_name_valid(const char *s, size_t max, const char *also);

/* Opens the store of --db / VABILL_DB; on failure prints why, returns EXIT_FAIL. */
int cli_open_store(const struct global *g, struct store **out);

/* cli_life.c */
int cli_bank(const struct global *g, int argc, char **argv);
int cli_notification(const struct global *g, int argc, char **argv);
int cli_pay(const struct global *g, int argc, char **argv);
int cli_status(const struct global *g, int argc, char **argv);
int cli_close(const struct global *g, int argc, char **argv);

/* cli_admin.c */
int cli_operator(const struct global *g, int argc, char **argv);
int cli_report(const struct global *g, int argc, char **argv);

#endif
