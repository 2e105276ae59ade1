/*
 * json_ref: the old jansson + jsmn json_doc_parse and the old string
 * decoder, the reference of fuzz_json_diff (see json_ref.c).
 */
#ifndef VABILL_JSON_REF_H
#define VABILL_JSON_REF_H

#include <stddef.h>

#include "json.h"

/* Once per process, before any json_ref_parse (seeds jansson). */
void json_ref_init(void);

/* What json_doc_parse did before the single-pass parser, result and tokens;
 * free the doc with json_doc_free. */
enum vb_err json_ref_parse(struct json_doc *d, const char *text, size_t len);

/* What json_str_decode did then (string token i of d into out, which has
 * room for the token's span); returns the decoded length. */
size_t json_ref_str_decode(const struct json_doc *d, int i, char *out);

#endif
