/*
 * json: one strict pass that checks a JSON text and cuts it into spans.
 * See json.h.
 *
 * Untrusted text enters here.  json_doc_parse reads it once, left to right,
 * with explicit bounds: every read of s[i] is guarded by i < len, and
 * nothing after len is looked at (the text need not end in a NUL).  It
 * accepts exactly what jansson 2.14 accepted with the flags vabill used
 * (JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, and \u0000 in
 * keys allowed), which is RFC 8259 plus two of jansson's limits:
 *
 *   - nesting: a value may sit inside at most LIMIT_JSON_DEPTH - 1
 *     containers (jansson's JSON_PARSER_MAX_DEPTH counts every value);
 *   - numbers: one that a double cannot hold (strtod would give infinity,
 *     e.g. 1e400) is refused; integers beyond 64 bits are fine.
 *
 * fuzz/fuzz_json_diff.c holds it to the old jansson + jsmn pair byte for
 * byte, tokens included (docs/FUZZING.md).
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"

void json_global_init(void)
{
    /* nothing since jansson left json.c; kept so callers need not change */
}

/* What a byte means inside a string: the loop in scan_string skips PLAIN
 * bytes without looking further. */
enum str_class { PLAIN, QUOTE, BACKSLASH, CONTROL, HIGH };

/* clang-format off */
#define C CONTROL
#define P PLAIN
#define H HIGH
static const unsigned char str_class[256] = {
    C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, /* 0x00 */
    C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, /* 0x10 */
    P, P, QUOTE, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x20: '"' */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x30 */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x40 */
    P, P, P, P, P, P, P, P, P, P, P, P, BACKSLASH, P, P, P, /* 0x50: '\\' */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x60 */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x70: DEL may be raw */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0x80: UTF-8, see utf8_len */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0x90: UTF-8, see utf8_len */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0xA0: UTF-8, see utf8_len */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0xB0: UTF-8, see utf8_len */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0xC0: UTF-8, see utf8_len */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0xD0: UTF-8, see utf8_len */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0xE0: UTF-8, see utf8_len */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0xF0: UTF-8, see utf8_len */
};
#undef C
#undef P
#undef H
/* clang-format on */

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static size_t skip_blanks(const unsigned char *s, size_t len, size_t i)
{
    while (i < len && is_blank(s[i]))
        i++;
    return i;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code unit of the \uXXXX escape at s[i] (the backslash), or -1 when
 * s[i..] is not one. */
static long u_escape(const unsigned char *s, size_t len, size_t i)
{
    if (i >= len || len - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    long v = 0;
    for (size_t k = i + 2; k < i + 6; k++) {
        int h = hex_digit(s[k]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* The length of the escape at s[i] (a backslash), or 0 when it is not a
 * valid one: an unknown letter, short hex digits, or a UTF-16 surrogate not
 * in a high-low pair (jansson refuses those; JSON_ALLOW_NUL lets \u0000 by). */
static size_t escape_len(const unsigned char *s, size_t len, size_t i)
{
    if (len - i < 2)
        return 0;
    switch (s[i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return 2;
    case 'u':
        break;
    default:
        return 0;
    }
    long cp = u_escape(s, len, i);
    if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return 0;
    if (cp < 0xD800 || cp > 0xDBFF)
        return 6;
    long lo = u_escape(s, len, i + 6);
    return lo >= 0xDC00 && lo <= 0xDFFF ? 12 : 0;
}

/* The length of the UTF-8 character starting at s[i] (a byte >= 0x80), or 0
 * when it is not well formed: RFC 3629, so no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence. */
static size_t utf8_len(const unsigned char *s, size_t len, size_t i)
{
    unsigned c = s[i];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* a continuation byte, C0, C1 or F5..FF */
    }
    if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return n;
}

/* Checks the string whose opening quote is s[i]; on success *close is the
 * index of its closing quote. */
static bool scan_string(const unsigned char *s, size_t len, size_t i, size_t *close)
{
    i++;
    for (;;) {
        while (i < len && str_class[s[i]] == PLAIN)
            i++;
        if (i >= len)
            return false;
        size_t n;
        switch (str_class[s[i]]) {
        case QUOTE:
            *close = i;
            return true;
        case BACKSLASH:
            n = escape_len(s, len, i);
            break;
        case HIGH:
            n = utf8_len(s, len, i);
            break;
        default: /* a control character must be escaped */
            return false;
        }
        if (n == 0)
            return false;
        i += n;
    }
}

/* 2^1024 - 2^970: the smallest magnitude strtod rounds to infinity (halfway
 * between DBL_MAX and 2^1024, and a tie goes to the even 2^1024). */
static const char DOUBLE_OVERFLOW[] = "179769313486231580793728971405303415079934132710037826936173"
                                      "77898044496829276475094664901797758"
                                      "720709633028641669288791094655554785194040263065748867150582"
                                      "06819089020007083836762738548458177"
                                      "115317644757302700698555713669596228429148198608349364752927"
                                      "19074168444365510704342711559699508"
                                      "093042880177904174497792";
#define DOUBLE_OVERFLOW_EXP 309 /* DOUBLE_OVERFLOW = 0.17976...792e309 */

/*
 * True when the number t[0..n), which follows the JSON grammar, is beyond
 * what a double holds: jansson (INT_AS_REAL) read every number with strtod
 * and refused an overflow.  Decided exactly on the digits, without strtod's
 * locale, allocation or a NUL-terminated copy.
 */
static bool beyond_double(const unsigned char *t, size_t n)
{
    size_t i = t[0] == '-' ? 1 : 0;
    size_t first = SIZE_MAX; /* the first non-zero digit */
    int64_t exp10 = 0;       /* the value is 0.DIGITS * 10^exp10 */
    for (; i < n && is_digit(t[i]); i++) {
        if (first == SIZE_MAX && t[i] != '0')
            first = i;
        if (first != SIZE_MAX)
            exp10++;
    }
    if (i < n && t[i] == '.') {
        for (i++; i < n && is_digit(t[i]); i++) {
            if (first != SIZE_MAX)
                continue;
            if (t[i] != '0')
                first = i;
            else
                exp10--;
        }
    }
    size_t digits_end = i;
    if (first == SIZE_MAX)
        return false; /* zero, whatever its exponent */
    if (i < n) {      /* e or E */
        i++;
        bool neg = t[i] == '-';
        if (t[i] == '-' || t[i] == '+')
            i++;
        int64_t e = 0;
        for (; i < n; i++)
            if (e < INT64_C(1000000000000000)) /* saturate: far past any text length */
                e = e * 10 + (t[i] - '0');
        exp10 += neg ? -e : e;
    }
    if (exp10 != DOUBLE_OVERFLOW_EXP)
        return exp10 > DOUBLE_OVERFLOW_EXP;
    size_t k = 0;
    for (i = first; i < digits_end && k < sizeof DOUBLE_OVERFLOW - 1; i++) {
        if (t[i] == '.')
            continue;
        if (t[i] != DOUBLE_OVERFLOW[k])
            return t[i] > DOUBLE_OVERFLOW[k];
        k++;
    }
    /* equal so far: the value is at least the bound when the bound's
     * digits ran out first (its last digit is not 0) */
    return k == sizeof DOUBLE_OVERFLOW - 1;
}

/* Checks the number starting at s[i] (a minus or a digit); on success *end
 * is the index after it. */
static bool scan_number(const unsigned char *s, size_t len, size_t i, size_t *end)
{
    size_t start = i;
    if (s[i] == '-')
        i++;
    size_t int_start = i;
    if (i >= len || !is_digit(s[i]))
        return false;
    if (s[i] == '0')
        i++;
    else
        while (i < len && is_digit(s[i]))
            i++;
    size_t int_digits = i - int_start;
    if (i < len && s[i] == '.') {
        size_t frac = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == frac)
            return false;
    }
    bool exponent = i < len && (s[i] == 'e' || s[i] == 'E');
    if (exponent) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t digits = i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == digits)
            return false;
    }
    /* below 10^308 without an exponent no double overflows: skip the check */
    if ((exponent || int_digits > DOUBLE_OVERFLOW_EXP - 1) && beyond_double(s + start, i - start))
        return false;
    *end = i;
    return true;
}

/* The tokens made so far.  While a container is open its `end` holds the
 * index of the container around it (-1 at the top), so closing it needs no
 * stack: jsmn's parent links, kept in a field that is free until then. */
struct tokens {
    struct json_tok *t;
    size_t n, cap;
};

static enum vb_err add_tok(struct tokens *tk, enum json_type type, size_t start, size_t end,
                           int size)
{
    if (tk->n == tk->cap) {
        size_t cap = tk->cap * 2;
        if (cap > SIZE_MAX / sizeof *tk->t)
            return ERR_NOMEM;
        struct json_tok *t = realloc(tk->t, cap * sizeof *t);
        if (t == NULL)
            return ERR_NOMEM;
        tk->t = t;
        tk->cap = cap;
    }
    /* offsets fit: json_doc_parse refuses texts over INT32_MAX bytes */
    tk->t[tk->n++] = (struct json_tok){type, (int)start, (int)end, size};
    return ERR_OK;
}

/* Checks and tokenizes s[0..len), len <= INT32_MAX, into tk. */
static enum vb_err parse(const unsigned char *s, size_t len, struct tokens *tk)
{
    enum { WANT_VALUE, WANT_KEY, AFTER_VALUE } want = WANT_VALUE;
    int top = -1;  /* the innermost open container, -1 outside any */
    int depth = 0; /* open containers */
    size_t i = skip_blanks(s, len, 0);
    enum vb_err rc;
    for (;;) {
        size_t end;
        if (want == AFTER_VALUE) {
            i = skip_blanks(s, len, i);
            if (top < 0)
                return i == len ? ERR_OK : ERR_INVALID;
            if (i >= len)
                return ERR_INVALID;
            struct json_tok *c = &tk->t[top];
            if (s[i] == ',') {
                i = skip_blanks(s, len, i + 1);
                want = c->type == JSON_T_OBJECT ? WANT_KEY : WANT_VALUE;
                continue;
            }
            if (s[i] != (c->type == JSON_T_OBJECT ? '}' : ']'))
                return ERR_INVALID;
            top = c->end;
            c->end = (int)(i + 1);
            depth--;
            i++;
            continue;
        }
        if (i >= len)
            return ERR_INVALID;
        if (want == WANT_KEY) {
            /* a member: "key" : value; the key owns its value (size 1) */
            if (s[i] != '"' || !scan_string(s, len, i, &end))
                return ERR_INVALID;
            tk->t[top].size++;
            rc = add_tok(tk, JSON_T_STRING, i + 1, end, 1);
            if (rc)
                return rc;
            i = skip_blanks(s, len, end + 1);
            if (i >= len || s[i] != ':')
                return ERR_INVALID;
            i = skip_blanks(s, len, i + 1);
            want = WANT_VALUE;
            continue;
        }
        /* a value, inside `depth` containers */
        if (depth >= LIMIT_JSON_DEPTH)
            return ERR_INVALID;
        if (top >= 0 && tk->t[top].type == JSON_T_ARRAY)
            tk->t[top].size++;
        want = AFTER_VALUE;
        unsigned char ch = s[i];
        switch (ch) {
        case '{':
        case '[':
            rc = add_tok(tk, ch == '{' ? JSON_T_OBJECT : JSON_T_ARRAY, i, 0, 0);
            if (rc)
                return rc;
            tk->t[tk->n - 1].end = top; /* the parent link, until it closes */
            top = (int)tk->n - 1;
            depth++;
            i = skip_blanks(s, len, i + 1);
            if (i < len && s[i] == (ch == '{' ? '}' : ']'))
                continue; /* empty: AFTER_VALUE closes it */
            want = ch == '{' ? WANT_KEY : WANT_VALUE;
            continue;
        case '"':
            if (!scan_string(s, len, i, &end))
                return ERR_INVALID;
            rc = add_tok(tk, JSON_T_STRING, i + 1, end, 0);
            i = end + 1;
            break;
        case 't':
        case 'f':
        case 'n': {
            const char *word = ch == 't' ? "true" : ch == 'f' ? "false" : "null";
            size_t n = strlen(word);
            if (len - i < n || memcmp(s + i, word, n) != 0)
                return ERR_INVALID;
            rc = add_tok(tk,
                         ch == 't'   ? JSON_T_TRUE
                         : ch == 'f' ? JSON_T_FALSE
                                     : JSON_T_NULL,
                         i, i + n, 0);
            i += n;
            break;
        }
        default:
            if (ch != '-' && !is_digit(ch))
                return ERR_INVALID;
            if (!scan_number(s, len, i, &end))
                return ERR_INVALID;
            rc = add_tok(tk, JSON_T_NUMBER, i, end, 0);
            i = end;
        }
        if (rc)
            return rc;
    }
}

enum vb_err json_doc_parse(struct json_doc *d, const char *text, size_t len)
{
    memset(d, 0, sizeof *d);
    if (len > INT32_MAX)
        return ERR_TOOBIG;
    /* about one token per 8 bytes in an invoices batch; grows when not */
    struct tokens tk = {NULL, 0, len / 8 + 8};
    tk.t = malloc(tk.cap * sizeof *tk.t);
    if (tk.t == NULL)
        return ERR_NOMEM;
    enum vb_err rc = parse((const unsigned char *)text, len, &tk);
    if (rc) {
        free(tk.t);
        return rc;
    }
    d->text = text;
    d->len = len;
    d->tok = tk.t;
    d->ntok = (int)tk.n;
    return ERR_OK;
}

void json_doc_free(struct json_doc *d)
{
    free(d->tok);
    memset(d, 0, sizeof *d);
}

int json_next(const struct json_doc *d, int i)
{
    /* every token owes `size` children; keys own their value (size 1) */
    int pending = 1;
    while (pending > 0 && i < d->ntok) {
        pending += d->tok[i].size - 1;
        i++;
    }
    return i;
}

int json_member(const struct json_doc *d, int obj, const char *name)
{
    if (obj < 0 || obj >= d->ntok || d->tok[obj].type != JSON_T_OBJECT)
        return -1;
    int found = -1;
    int i = obj + 1;
    size_t n = strlen(name);
    for (int m = 0; m < d->tok[obj].size; m++) {
        if (json_str_eq(d, i, name, n))
            found = i + 1;
        i = json_next(d, i + 1);
    }
    return found;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

static unsigned read_u4(const char *s)
{
    return (unsigned)(hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]));
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t json_str_decode(const struct json_doc *d, int i, char *out)
{
    const char *s = d->text + d->tok[i].start;
    size_t n = (size_t)(d->tok[i].end - d->tok[i].start);
    size_t o = 0, k = 0;
    for (;;) {
        /* the bytes up to the next escape, as they are (most strings have
         * no escape at all: one memchr and one memcpy) */
        const char *esc = memchr(s + k, '\\', n - k);
        size_t run = (esc ? (size_t)(esc - s) : n) - k;
        memcpy(out + o, s + k, run);
        o += run;
        k += run;
        if (k >= n)
            return o;
        /* json_doc_parse has checked every escape, so each is complete */
        char e = s[k + 1];
        k += 2;
        switch (e) {
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'u': {
            unsigned cp = read_u4(s + k);
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && n - k >= 6 && s[k] == '\\' && s[k + 1] == 'u') {
                unsigned lo = read_u4(s + k + 2);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                k += 6;
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: /* " \ / */
            out[o++] = e;
        }
    }
}

bool json_str_eq(const struct json_doc *d, int i, const char *name, size_t n)
{
    const struct json_tok *t = &d->tok[i];
    size_t len = (size_t)(t->end - t->start);
    const char *s = d->text + t->start;
    if (memchr(s, '\\', len) == NULL)
        return len == n && memcmp(s, name, n) == 0;
    if (len > 512)
        return false; /* no name vabill looks for is that long */
    char tmp[512];
    size_t m = json_str_decode(d, i, tmp);
    return m == n && memcmp(tmp, name, n) == 0;
}

/* Appends v in decimal followed by the tag character (cheaper than printf
 * on this path: it runs for every value of every invoice). */
static enum vb_err add_count(struct buf *out, char tag, size_t v, char end)
{
    char tmp[24];
    size_t n = sizeof tmp;
    tmp[--n] = end;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tmp[--n] = tag;
    return buf_add(out, tmp + n, sizeof tmp - n);
}

static enum vb_err canon_str(const struct json_doc *d, int i, struct buf *out)
{
    size_t span = (size_t)(d->tok[i].end - d->tok[i].start);
    const char *text = d->text + d->tok[i].start;
    if (memchr(text, '\\', span) == NULL) { /* decodes to itself: no copy */
        enum vb_err rc = add_count(out, 's', span, ':');
        return rc ? rc : buf_add(out, text, span);
    }
    char stackbuf[256];
    char *tmp = span <= sizeof stackbuf ? stackbuf : malloc(span);
    if (tmp == NULL)
        return ERR_NOMEM;
    size_t n = json_str_decode(d, i, tmp);
    enum vb_err rc = add_count(out, 's', n, ':');
    if (!rc)
        rc = buf_add(out, tmp, n);
    if (tmp != stackbuf)
        free(tmp);
    return rc;
}

/* A member's encoding inside the buffer, while an object is sorted. */
struct span {
    size_t off, len;
};

static int span_cmp(const void *a, const void *b, void *base)
{
    const struct span *x = a, *y = b;
    const char *p = base;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(p + x->off, p + y->off, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static enum vb_err canon(const struct json_doc *d, int *i, bool sort, struct buf *out);

/*
 * An object's members, each encoded as key then value.  Sorted, they are
 * ordered by their encodings as bytes: any fixed order of the members will
 * do, as long as it does not depend on the order they were written in.
 */
static enum vb_err canon_members(const struct json_doc *d, int *i, int n, bool sort,
                                 struct buf *out)
{
    enum vb_err rc = ERR_OK;
    if (!sort) {
        for (int k = 0; k < n && !rc; k++) {
            rc = canon_str(d, *i, out);
            (*i)++;
            if (!rc)
                rc = canon(d, i, true, out);
        }
        return rc;
    }
    struct span small[16];
    struct span *sp = n <= 16 ? small : malloc(sizeof *sp * (size_t)n);
    if (sp == NULL)
        return ERR_NOMEM;
    size_t start = out->len;
    for (int k = 0; k < n && !rc; k++) {
        sp[k].off = out->len - start;
        rc = canon_str(d, *i, out);
        (*i)++;
        if (!rc)
            rc = canon(d, i, true, out);
        sp[k].len = out->len - start - sp[k].off;
    }
    size_t total = out->len - start;
    char *sorted = rc ? NULL : malloc(total ? total : 1);
    if (!rc && sorted == NULL)
        rc = ERR_NOMEM;
    if (!rc) {
        qsort_r(sp, (size_t)n, sizeof *sp, span_cmp, out->p + start);
        size_t at = 0;
        for (int k = 0; k < n; k++) {
            memcpy(sorted + at, out->p + start + sp[k].off, sp[k].len);
            at += sp[k].len;
        }
        memcpy(out->p + start, sorted, total);
    }
    free(sorted);
    if (sp != small)
        free(sp);
    return rc;
}

static enum vb_err canon(const struct json_doc *d, int *i, bool sort, struct buf *out)
{
    const struct json_tok *t = &d->tok[*i];
    enum vb_err rc = ERR_OK;
    switch (t->type) {
    case JSON_T_STRING:
        rc = canon_str(d, *i, out);
        (*i)++;
        return rc;
    case JSON_T_NUMBER:
        rc = add_count(out, 'n', (size_t)(t->end - t->start), ':');
        if (!rc)
            rc = buf_add(out, d->text + t->start, (size_t)(t->end - t->start));
        (*i)++;
        return rc;
    case JSON_T_TRUE:
    case JSON_T_FALSE:
    case JSON_T_NULL:
        (*i)++;
        return buf_addc(out, t->type == JSON_T_TRUE ? 't' : t->type == JSON_T_FALSE ? 'f' : 'z');
    case JSON_T_ARRAY: {
        int n = t->size;
        (*i)++;
        rc = add_count(out, '[', (size_t)n, ';');
        for (int k = 0; k < n && !rc; k++)
            rc = canon(d, i, true, out);
        return rc ? rc : buf_addc(out, ']');
    }
    case JSON_T_OBJECT:
        break;
    }
    int n = t->size;
    (*i)++;
    rc = add_count(out, '{', (size_t)n, ';');
    if (!rc)
        rc = canon_members(d, i, n, sort, out);
    return rc ? rc : buf_addc(out, '}');
}

enum vb_err json_canon(const struct json_doc *d, int i, bool sort_top, struct buf *out)
{
    int at = i;
    return canon(d, &at, sort_top, out);
}

long json_utf8_chars(const char *s, size_t n)
{
    long chars = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; chars++) {
        unsigned c = u[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (i + len > n)
            return -1;
        for (size_t k = 1; k < len; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return -1;
            cp = cp << 6 | (u[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return -1;
        i += len;
    }
    return chars;
}
