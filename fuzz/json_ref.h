/*
 * json_ref: the old jansson + jsmn json_doc_parse, the reference of
 * fuzz_json_diff (see json_ref.c).
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

#endif
