/*
 * codes: message texts of SPEC section 3, byte for byte.
 */
#include "codes.h"

#include <string.h>

static const struct {
    const char *code;
    const char *text;
} fixed[] = {
    {CODE_LISTED, "Data already listed = Document No"},
    {CODE_SIGNATURE, "Invalid signature"},
    {CODE_COMMUNITY, "Data not listed = Community Code"},
    {CODE_CURRENCY, "Invalid currency = ccy"},
    {CODE_TOTAL, "Total invoices mismatch"},
    {CODE_MAXIMUM, "Maximum 500 invoices per request"},
    {CODE_EXPIRED_RQ, "Request expired = rq_datetime"},
    {CODE_DUP_REQUEST, "Duplicate request = rq_uuid"},
    {CODE_EXHAUSTED, "VA numbers exhausted"},
    {"0013", "Data not listed = Document No"},
    {"0014", "Data not listed = VA Number"},
    {"0015", "Invoice already paid"},
    {"0016", "Invoice closed"},
    {"0017", "VA expired"},
    {"0018", "Invalid amount"},
    {"0019", "Duplicate payment = payment_ref"},
    {"0020", "Data not listed = Bank Code"},
    {CODE_SYSTEM, "System error, retry with the same rq_uuid"},
    {CODE_HTTP_404, "Unknown service"},
    {CODE_HTTP_405, "Method not allowed"},
    {CODE_HTTP_413, "Request too large"},
    {CODE_HTTP_415, "Unsupported content type"},
};

enum vb_err code_message(struct buf *out, const struct fail *f, int invoice_level)
{
    const char *c = f->code;
    if (strcmp(c, CODE_SUCCESS) == 0)
        return buf_adds(out, invoice_level ? "success" : "Success");
    const char *prefix = strcmp(c, CODE_MANDATORY) == 0 ? "Mandatory field left empty = "
                         : strcmp(c, CODE_FORMAT) == 0  ? "Invalid format = "
                         : strcmp(c, CODE_DUP_DOC) == 0 ? "Duplicate Document No in request = "
                                                        : NULL;
    if (prefix) {
        buf_adds(out, prefix);
        return buf_add(out, f->what, f->what_len);
    }
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(c, fixed[i].code) == 0)
            return buf_adds(out, fixed[i].text);
    return buf_adds(out, "Unknown error");
}
