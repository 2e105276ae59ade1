/*
 * invoice_json: the members of one JSON invoice.  See invoice_json.h.
 */
#include "invoice_json.h"

#include <string.h>

#include "req.h"

void invoice_json_members(const struct json_doc *d, int v, char **arena, struct inv_members *m)
{
    memset(m, 0, sizeof *m);
    if (d->tok[v].type != JSON_T_OBJECT)
        return;
    int members = d->tok[v].size;
    int t = v + 1;
    for (int k = 0; k < members; k++) {
        int field, alias;
        const struct json_tok *kt = &d->tok[t];
        char name[256];
        size_t span = (size_t)(kt->end - kt->start);
        /* a name longer than any in the table is not one of them */
        if (span < sizeof name) {
            size_t nn = json_str_decode(d, t, name);
            if (fields_invoice_slot(name, nn, &field, &alias)) {
                struct fv *slot = &m->v[field][alias];
                if (slot->count++ == 0) {
                    req_fv_from_json(d, t + 1, arena, slot);
                    slot->count = 1;
                }
            }
        }
        t = json_next(d, t + 1);
    }
}
