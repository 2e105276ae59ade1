/*
 * json: JSON text as a flat array of tokens that point into the text.
 *
 * json_doc_parse checks that the text is well-formed JSON (RFC 8259:
 * grammar, UTF-8, escapes and surrogate pairs, plus a nesting limit and
 * numbers within a double's range) and cuts it into spans in the same pass,
 * so values keep their exact source text.  vabill needs that for money: a
 * parser that returns doubles would turn 150000.50 into a binary fraction
 * and lose both exactness and the "two decimals at most" rule.  What it
 * accepts is what jansson accepted when it was the validator (see json.c,
 * docs/DESIGN.md and fuzz/fuzz_json_diff.c).
 *
 * Tokens are in document order; an object's members follow it as key, value
 * pairs; json_next skips a whole value.
 */
#ifndef VABILL_JSON_H
#define VABILL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

enum json_type {
    JSON_T_OBJECT,
    JSON_T_ARRAY,
    JSON_T_STRING,
    JSON_T_NUMBER,
    JSON_T_TRUE,
    JSON_T_FALSE,
    JSON_T_NULL
};

struct json_tok {
    enum json_type type;
    int start, end; /* span in the text; strings without their quotes */
    int size;       /* members of an object, elements of an array */
};

struct json_doc {
    const char *text; /* borrowed: must outlive the doc */
    size_t len;
    struct json_tok *tok;
    int ntok;
};

/* Call once before threads start (nothing to do today; kept for callers). */
void json_global_init(void);

/* Checks and tokenizes text[0..len), which is read within its bounds only
 * (no NUL needed after it).  ERR_INVALID when it is not one valid JSON value
 * (whitespace around it allowed), ERR_TOOBIG over INT32_MAX bytes, ERR_NOMEM;
 * on failure d holds nothing.  On success free the doc with json_doc_free. */
enum vb_err json_doc_parse(struct json_doc *d, const char *text, size_t len);
void json_doc_free(struct json_doc *d);

/* The index of the token after the value at index i (and its members). */
int json_next(const struct json_doc *d, int i);

/* The value token of member `name` in the object at token obj, or -1.
 * When the name repeats, the last one (as most JSON readers do). */
int json_member(const struct json_doc *d, int obj, const char *name);

/* Decodes string token i (escapes resolved, UTF-8) into out, which must have
 * room for the token's span length; returns the decoded length. */
size_t json_str_decode(const struct json_doc *d, int i, char *out);

/* True when string token i decodes to exactly name[0..n). */
bool json_str_eq(const struct json_doc *d, int i, const char *name, size_t n);

/*
 * Appends a canonical encoding of the value at index i to out: strings by
 * their decoded bytes, numbers by their text, and, when sort_members is set,
 * the members of every object below the top one in key order.  Two values
 * equal as JSON values (SPEC 1.5) encode to the same bytes.
 */
enum vb_err json_canon(const struct json_doc *d, int i, bool sort_top, struct buf *out);

/* Unicode characters in the UTF-8 text s[0..n), or -1 when s is not valid UTF-8. */
long json_utf8_chars(const char *s, size_t n);

#endif
