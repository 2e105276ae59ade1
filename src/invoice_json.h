/*
 * invoice_json: one invoice given as a JSON value, turned into the member
 * slots of the invoice field table (fields.h).
 *
 * Shared by the server (service.c, the `invoices` object of a request) and
 * the client (`vabill send`, a JSON input file), so both see the very same
 * members before fields_check_invoice judges them.  Untrusted JSON enters
 * here already validated by json.c.
 */
#ifndef VABILL_INVOICE_JSON_H
#define VABILL_INVOICE_JSON_H

#include "fields.h"
#include "json.h"

/*
 * Fills *m from the members of the JSON value at token v: a member whose
 * name (decoded) is in the invoice table, English or alias, goes to its
 * slot, counted, the first occurrence kept; other members are ignored.  A
 * value that is not an object leaves *m without members.  Strings are
 * decoded into *arena (advanced past each value and its NUL), which needs
 * room for the value's span plus one byte per token in it.
 */
void invoice_json_members(const struct json_doc *d, int v, char **arena, struct inv_members *m);

#endif
