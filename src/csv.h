/*
 * csv: an RFC 4180 reader over text in memory, one record at a time.
 *
 * Untrusted bytes enter here (a partner's spreadsheet export).  Fields are
 * separated by commas; a record ends at CRLF, LF or a lone CR; a field in
 * double quotes may hold commas, line breaks and doubled quotes ("").  A
 * UTF-8 byte-order mark at the very start is skipped.  An empty line is no
 * record (spreadsheets leave them at the end).  Every record is bounded
 * (CSV_MAX_FIELDS fields, CSV_MAX_RECORD bytes) and every failure names the
 * line where it happened.  The reader judges structure only; what the
 * fields mean, and whether their bytes are valid UTF-8, is for the caller.
 */
#ifndef VABILL_CSV_H
#define VABILL_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Fields of one record: more columns than any invoice export needs
 * (SPEC 1.3 has ten fields) while keeping the field array small. */
#define CSV_MAX_FIELDS 256
/* Bytes of one record as written in the file: a 500-invoice request is at
 * most 4 MiB, so one invoice row is far below this. */
#define CSV_MAX_RECORD (1024 * 1024)

struct csv_field {
    const char *p; /* decoded bytes (quotes removed), NUL-terminated */
    size_t n;
};

struct csv {
    const char *text; /* borrowed: must outlive the reader */
    size_t len;
    size_t pos;
    long line; /* line number (from 1) at pos */
    char *dec; /* decoded fields of the current record */
    size_t nfields;
    struct csv_field fields[CSV_MAX_FIELDS];
    long record_line;  /* line on which the current record starts */
    const char *error; /* after a failure: what is wrong, for messages */
    long error_line;   /* after a failure: the line where it was found */
};

/* Starts reading text[0..len).  ERR_NOMEM; free with csv_free in every case. */
enum vb_err csv_init(struct csv *c, const char *text, size_t len);

/*
 * Reads the next record into c->fields[0..c->nfields), valid until the next
 * call, and sets *got; at the end of the text *got is false.  ERR_INVALID on
 * malformed quoting, ERR_TOOBIG on a record over the bounds above; then
 * c->error and c->error_line say what and where, and the reader is done.
 */
enum vb_err csv_next(struct csv *c, bool *got);

/* Frees the reader's memory (not the text).  Accepts a zeroed struct. */
void csv_free(struct csv *c);

#endif
