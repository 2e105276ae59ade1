/*
 * csv: RFC 4180 records with a cursor and a remaining length.  See csv.h.
 *
 * Decoding never makes a field longer than its source, so the decoded
 * record fits a buffer of the record's own size; one buffer of
 * CSV_MAX_RECORD (or the text's length, when smaller) serves every record.
 */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

enum vb_err csv_init(struct csv *c, const char *text, size_t len)
{
    memset(c, 0, sizeof *c);
    c->text = text;
    c->len = len;
    c->line = 1;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        c->pos = 3;
    size_t cap = len < CSV_MAX_RECORD ? len : CSV_MAX_RECORD;
    c->dec = malloc(cap + CSV_MAX_FIELDS + 1);
    return c->dec ? ERR_OK : ERR_NOMEM;
}

void csv_free(struct csv *c)
{
    free(c->dec);
    c->dec = NULL;
}

static enum vb_err failed(struct csv *c, enum vb_err e, const char *what, long line)
{
    c->error = what;
    c->error_line = line;
    c->pos = c->len; /* nothing more is read after a failure */
    return e;
}

/* Length of the line break at pos (CRLF 2, LF or CR 1), 0 when none. */
static size_t line_break(const struct csv *c, size_t pos)
{
    if (pos >= c->len)
        return 0;
    if (c->text[pos] == '\r')
        return pos + 1 < c->len && c->text[pos + 1] == '\n' ? 2 : 1;
    return c->text[pos] == '\n' ? 1 : 0;
}

enum vb_err csv_next(struct csv *c, bool *got)
{
    *got = false;
    /* empty lines are no records */
    for (size_t br; (br = line_break(c, c->pos)) != 0;) {
        c->pos += br;
        c->line++;
    }
    if (c->pos >= c->len)
        return ERR_OK;

    c->nfields = 0;
    c->record_line = c->line;
    size_t start = c->pos, out = 0;
    for (;;) {
        if (c->nfields == CSV_MAX_FIELDS)
            return failed(c, ERR_TOOBIG, "more than 256 fields in a record", c->record_line);
        char *field = c->dec + out;
        size_t n = 0;
        if (c->pos < c->len && c->text[c->pos] == '"') {
            long opened = c->line;
            c->pos++;
            for (;;) {
                if (c->pos - start >= CSV_MAX_RECORD)
                    return failed(c, ERR_TOOBIG, "record longer than 1 MiB", c->record_line);
                if (c->pos >= c->len)
                    return failed(c, ERR_INVALID, "quoted field not closed", opened);
                char ch = c->text[c->pos];
                if (ch == '"') {
                    if (c->pos + 1 < c->len && c->text[c->pos + 1] == '"') {
                        field[n++] = '"';
                        c->pos += 2;
                        continue;
                    }
                    c->pos++;
                    break;
                }
                size_t br = line_break(c, c->pos);
                if (br) {
                    memcpy(field + n, c->text + c->pos, br);
                    n += br;
                    c->pos += br;
                    c->line++;
                    continue;
                }
                field[n++] = ch;
                c->pos++;
            }
            if (c->pos < c->len && c->text[c->pos] != ',' && !line_break(c, c->pos))
                return failed(c, ERR_INVALID, "text after the closing quote of a field", c->line);
        } else {
            while (c->pos < c->len && c->text[c->pos] != ',' && !line_break(c, c->pos)) {
                if (c->text[c->pos] == '"')
                    return failed(c, ERR_INVALID, "quote inside an unquoted field", c->line);
                if (c->pos - start >= CSV_MAX_RECORD)
                    return failed(c, ERR_TOOBIG, "record longer than 1 MiB", c->record_line);
                field[n++] = c->text[c->pos++];
            }
        }
        field[n] = '\0';
        c->fields[c->nfields++] = (struct csv_field){field, n};
        out += n + 1;
        if (c->pos < c->len && c->text[c->pos] == ',') {
            if (c->pos - start >= CSV_MAX_RECORD)
                return failed(c, ERR_TOOBIG, "record longer than 1 MiB", c->record_line);
            c->pos++;
            continue;
        }
        size_t br = line_break(c, c->pos);
        c->pos += br;
        if (br)
            c->line++;
        break;
    }
    *got = true;
    return ERR_OK;
}
