/* jsonscan.c: JSON cut into byte ranges without building a tree (see jsonscan.h). */
#include "phase4/core/jsonscan.h"

#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* Levels the bit stack holds before it moves to the heap. */
#define SMALL_BYTES 64
/* Longest member name shown in a path, in bytes. */
#define NAME_SHOWN 64

/* The open brackets: bit set for an object, clear for an array. */
struct brackets {
    unsigned char small[SMALL_BYTES];
    unsigned char *bits;
    size_t cap; /* levels */
    size_t n;   /* levels open */
};

static void brackets_init(struct brackets *b)
{
    memset(b->small, 0, sizeof(b->small));
    b->bits = b->small;
    b->cap = sizeof(b->small) * 8;
    b->n = 0;
}

static void brackets_close(struct brackets *b)
{
    if (b->bits != b->small)
        free(b->bits);
}

static void push(struct brackets *b, bool object)
{
    size_t i = b->n;

    if (i == b->cap) {
        size_t bytes = b->cap / 8;
        unsigned char *more = p4_calloc(bytes * 2, 1);

        memcpy(more, b->bits, bytes);
        if (b->bits != b->small)
            free(b->bits);
        b->bits = more;
        b->cap *= 2;
    }
    if (object)
        b->bits[i / 8] |= (unsigned char)(1u << (i % 8));
    else
        b->bits[i / 8] &= (unsigned char)~(1u << (i % 8));
    b->n++;
}

static bool top_is_object(const struct brackets *b)
{
    size_t i = b->n - 1;

    return (b->bits[i / 8] >> (i % 8)) & 1u;
}

static size_t skip_space(const char *buf, size_t len, size_t p)
{
    while (p < len && p4_json_space(buf[p]))
        p++;
    return p;
}

/* A string token at buf[p] ('"'); returns the offset past it, or 0 when it is malformed. */
static size_t scan_string(const char *buf, size_t len, size_t p)
{
    p++;
    while (p < len) {
        unsigned char c = (unsigned char)buf[p];

        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return 0;
        if (c != '\\') {
            p++;
            continue;
        }
        if (++p >= len)
            return 0;
        switch (buf[p]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p++;
            break;
        case 'u':
            if (len - p < 5)
                return 0;
            for (size_t i = 1; i <= 4; i++)
                if (!p4_ascii_hex(buf[p + i]))
                    return 0;
            p += 5;
            break;
        default:
            return 0;
        }
    }
    return 0;
}

static size_t digits(const char *buf, size_t len, size_t p)
{
    while (p < len && p4_ascii_digit(buf[p]))
        p++;
    return p;
}

/* A number at buf[p], as RFC 8259 writes it; the offset past it, or 0. */
static size_t scan_number(const char *buf, size_t len, size_t p)
{
    size_t q;

    if (buf[p] == '-')
        p++;
    if (p >= len || !p4_ascii_digit(buf[p]))
        return 0;
    p = buf[p] == '0' ? p + 1 : digits(buf, len, p);
    if (p < len && buf[p] == '.') {
        q = digits(buf, len, p + 1);
        if (q == p + 1)
            return 0;
        p = q;
    }
    if (p < len && (buf[p] == 'e' || buf[p] == 'E')) {
        p++;
        if (p < len && (buf[p] == '+' || buf[p] == '-'))
            p++;
        q = digits(buf, len, p);
        if (q == p)
            return 0;
        p = q;
    }
    return p;
}

static size_t scan_literal(const char *buf, size_t len, size_t p)
{
    static const char *const words[] = {"true", "false", "null"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);

        if (len - p >= n && memcmp(buf + p, words[i], n) == 0)
            return p + n;
    }
    return 0;
}

/* A scalar at buf[p] (p < len); the offset past it, or 0. */
static size_t scan_scalar(const char *buf, size_t len, size_t p)
{
    char c = buf[p];

    if (c == '"')
        return scan_string(buf, len, p);
    if (c == '-' || p4_ascii_digit(c))
        return scan_number(buf, len, p);
    return scan_literal(buf, len, p);
}

int p4_jsonscan_value(const char *buf, size_t len, size_t *pos, struct p4_jsonscan_span *span,
                      size_t *depth, struct p4_error *err)
{
    struct brackets b;
    size_t p, start, deepest = 0, q, line, col;
    bool want_key = false;
    int rc = 0;

    if (buf == NULL || pos == NULL || *pos > len)
        return p4_error_set(err, P4_ERR_PARSE, "no JSON to scan");
    brackets_init(&b);
    p = start = skip_space(buf, len, *pos);
    for (;;) {
        /* A value (or, in an object, a member name and ':') is expected at p. */
        p = skip_space(buf, len, p);
        if (p >= len)
            goto truncated;
        if (want_key) {
            if (buf[p] != '"' || (q = scan_string(buf, len, p)) == 0)
                goto bad;
            p = skip_space(buf, len, q);
            if (p >= len || buf[p] != ':')
                goto bad;
            p = skip_space(buf, len, p + 1);
            if (p >= len)
                goto truncated;
        }
        if (buf[p] == '{' || buf[p] == '[') {
            bool object = buf[p] == '{';

            push(&b, object);
            if (b.n > deepest)
                deepest = b.n;
            p = skip_space(buf, len, p + 1);
            if (p < len && buf[p] == (object ? '}' : ']')) {
                p++;
                b.n--;
            } else {
                want_key = object;
                continue;
            }
        } else {
            if ((q = scan_scalar(buf, len, p)) == 0)
                goto bad;
            p = q;
        }
        /* After a value: close what ends here, then a ',' asks for the next. */
        for (;;) {
            if (b.n == 0)
                goto done;
            p = skip_space(buf, len, p);
            if (p >= len)
                goto truncated;
            if (buf[p] == ',') {
                p++;
                want_key = top_is_object(&b);
                break;
            }
            if (buf[p] != (top_is_object(&b) ? '}' : ']'))
                goto bad;
            p++;
            b.n--;
        }
    }
done:
    if (span != NULL)
        *span = (struct p4_jsonscan_span){start, p - start};
    if (depth != NULL)
        *depth = deepest;
    *pos = p;
    goto out;
truncated:
    p4_text_position(buf, p, &line, &col);
    rc = p4_error_set(err, P4_ERR_PARSE, "JSON ends early at byte %zu (line %zu, column %zu)", p,
                      line, col);
    goto out;
bad:
    p4_text_position(buf, p, &line, &col);
    rc = p4_error_set(err, P4_ERR_PARSE, "invalid JSON at byte %zu (line %zu, column %zu)", p, line,
                      col);
out:
    brackets_close(&b);
    return rc;
}

int p4_jsonscan_document(const char *buf, size_t len, struct p4_jsonscan_span *span, size_t *depth,
                         struct p4_error *err)
{
    size_t pos = 0;
    int rc = p4_jsonscan_value(buf, len, &pos, span, depth, err);

    if (rc != 0)
        return rc;
    pos = skip_space(buf, len, pos);
    if (pos < len) {
        size_t line, col;

        p4_text_position(buf, pos, &line, &col);
        return p4_error_set(
            err, P4_ERR_PARSE,
            "unexpected data after the JSON value at byte %zu (line %zu, column %zu)", pos, line,
            col);
    }
    return 0;
}

static bool starts_with(const char *buf, struct p4_jsonscan_span span, char c)
{
    return buf != NULL && span.len > 0 && buf[span.off] == c;
}

bool p4_jsonscan_is_object(const char *buf, struct p4_jsonscan_span span)
{
    return starts_with(buf, span, '{');
}

bool p4_jsonscan_is_array(const char *buf, struct p4_jsonscan_span span)
{
    return starts_with(buf, span, '[');
}

bool p4_jsonscan_is_string(const char *buf, struct p4_jsonscan_span span)
{
    return starts_with(buf, span, '"') && span.len >= 2 && buf[span.off + span.len - 1] == '"';
}

int p4_jsonscan_begin(struct p4_jsonscan_iter *it, const char *buf, struct p4_jsonscan_span span)
{
    memset(it, 0, sizeof(*it));
    it->done = true;
    if (!p4_jsonscan_is_object(buf, span) && !p4_jsonscan_is_array(buf, span))
        return P4_ERR_INVAL;
    it->buf = buf;
    it->object = buf[span.off] == '{';
    it->pos = span.off + 1;
    it->end = span.off + span.len;
    it->done = false;
    return 0;
}

int p4_jsonscan_next(struct p4_jsonscan_iter *it, struct p4_jsonscan_span *key,
                     struct p4_jsonscan_span *value, struct p4_error *err)
{
    const char *buf = it->buf;
    size_t p, q, line, col;
    struct p4_jsonscan_span k = {0, 0}, v;

    if (it->done)
        return 0;
    p = skip_space(buf, it->end, it->pos);
    if (p < it->end && buf[p] == (it->object ? '}' : ']')) {
        it->done = true;
        return 0;
    }
    if (it->started) {
        if (p >= it->end || buf[p] != ',')
            goto bad;
        p = skip_space(buf, it->end, p + 1);
    }
    if (it->object) {
        if (p >= it->end || buf[p] != '"' || (q = scan_string(buf, it->end, p)) == 0)
            goto bad;
        k = (struct p4_jsonscan_span){p, q - p};
        p = skip_space(buf, it->end, q);
        if (p >= it->end || buf[p] != ':')
            goto bad;
        p++;
    }
    if (p4_jsonscan_value(buf, it->end, &p, &v, NULL, err) != 0) {
        it->done = true;
        return P4_ERR_PARSE;
    }
    it->started = true;
    it->pos = p;
    if (key != NULL)
        *key = k;
    *value = v;
    return 1;
bad:
    it->done = true;
    p4_text_position(buf, p, &line, &col);
    return p4_error_set(err, P4_ERR_PARSE, "invalid JSON at byte %zu (line %zu, column %zu)", p,
                        line, col);
}

int p4_jsonscan_member(const char *buf, struct p4_jsonscan_span obj, const char *name,
                       struct p4_jsonscan_span *value)
{
    struct p4_jsonscan_iter it;
    struct p4_jsonscan_span k, v;
    int rc;

    if (!p4_jsonscan_is_object(buf, obj) || name == NULL)
        return P4_ERR_INVAL;
    (void)p4_jsonscan_begin(&it, buf, obj);
    while ((rc = p4_jsonscan_next(&it, &k, &v, NULL)) == 1) {
        if (p4_jsonscan_string_eq(buf, k, name)) {
            *value = v;
            return 0;
        }
    }
    return rc == 0 ? P4_ERR_NOTFOUND : rc;
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char c = s[i];

        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* Append code point cp as UTF-8 at out[*n] within size - 1 bytes; false when it does not fit. */
static bool put_utf8(char *out, size_t size, size_t *n, unsigned cp)
{
    unsigned char u[4];
    size_t k;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    if (size - 1 - *n < k)
        return false;
    memcpy(out + *n, u, k);
    *n += k;
    return true;
}

/* The escape at s[i] (after '\'), within the token's end; the code point, or 0 when invalid. */
static unsigned escape_at(const char *s, size_t end, size_t *i)
{
    unsigned cp, lo;

    switch (s[*i]) {
    case 'b':
        (*i)++;
        return '\b';
    case 'f':
        (*i)++;
        return '\f';
    case 'n':
        (*i)++;
        return '\n';
    case 'r':
        (*i)++;
        return '\r';
    case 't':
        (*i)++;
        return '\t';
    case 'u':
        cp = hex4(s + *i + 1); /* the token was scanned: four hex digits follow */
        *i += 5;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return 0;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - *i < 6 || s[*i] != '\\' || s[*i + 1] != 'u')
                return 0;
            lo = hex4(s + *i + 2);
            if (lo < 0xdc00 || lo > 0xdfff)
                return 0;
            *i += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        return cp;
    default: /* '"', '\\', '/' */
        return (unsigned char)s[(*i)++];
    }
}

int p4_jsonscan_string(const char *buf, struct p4_jsonscan_span s, char *out, size_t size)
{
    size_t i, end, n = 0;
    int rc = 0;

    if (size == 0)
        return P4_ERR_TOOBIG;
    out[0] = '\0';
    if (!p4_jsonscan_is_string(buf, s) || scan_string(buf, s.off + s.len, s.off) != s.off + s.len)
        return P4_ERR_INVAL;
    end = s.off + s.len - 1;
    for (i = s.off + 1; i < end;) {
        unsigned cp;

        if (buf[i] != '\\') {
            if (n == size - 1) {
                rc = P4_ERR_TOOBIG;
                goto out;
            }
            out[n++] = buf[i++];
            continue;
        }
        i++;
        cp = escape_at(buf, end, &i);
        if (cp == 0) {
            rc = P4_ERR_INVAL;
            goto out;
        }
        if (!put_utf8(out, size, &n, cp)) {
            rc = P4_ERR_TOOBIG;
            goto out;
        }
    }
out:
    out[rc == 0 ? n : 0] = '\0';
    return rc;
}

bool p4_jsonscan_string_eq(const char *buf, struct p4_jsonscan_span s, const char *text)
{
    char small[256], *big = NULL, *got = small;
    size_t want;
    bool eq;

    if (text == NULL || !p4_jsonscan_is_string(buf, s))
        return false;
    want = strlen(text);
    if (s.len - 2 < want) /* escapes only make the token longer than its text */
        return false;
    if (want >= sizeof(small))
        got = big = p4_malloc(want + 2);
    eq = p4_jsonscan_string(buf, s, got, want + 2) == 0 && strcmp(got, text) == 0;
    free(big);
    return eq;
}

int p4_jsonscan_int64(const char *buf, struct p4_jsonscan_span s, int64_t *out)
{
    size_t i = s.off, end = s.off + s.len;
    bool neg = false;
    int64_t v = 0;

    if (buf == NULL || s.len == 0 || scan_number(buf, end, s.off) != end)
        return P4_ERR_INVAL;
    if (buf[i] == '-') {
        neg = true;
        i++;
    }
    for (; i < end; i++) {
        if (!p4_ascii_digit(buf[i]))
            return P4_ERR_INVAL; /* a fraction or an exponent */
        v = v * 10 + (buf[i] - '0');
        if (v > (INT64_C(1) << 53))
            return P4_ERR_INVAL;
    }
    *out = neg ? -v : v;
    return 0;
}

/* How deeply the value at span nests; 0 when it cannot be scanned. */
static size_t depth_of(const char *buf, struct p4_jsonscan_span span)
{
    size_t pos = span.off, depth = 0;

    if (p4_jsonscan_value(buf, span.off + span.len, &pos, NULL, &depth, NULL) != 0)
        return 0;
    return depth;
}

/* Append ".name" (or "name" first) to path, the name made printable and cut. */
static void append_name(const char *buf, struct p4_jsonscan_span key, char *path, size_t size)
{
    char name[NAME_SHOWN * 4], shown[NAME_SHOWN + 1];
    size_t at = strlen(path);

    if (p4_jsonscan_string(buf, key, name, sizeof(name)) != 0)
        (void)p4_text_clean(shown, sizeof(shown), buf + key.off + 1, key.len - 2, P4_TEXT_ASCII);
    else
        (void)p4_text_clean(shown, sizeof(shown), name, strlen(name), P4_TEXT_ASCII);
    p4_text_format(path + at, size - at, "%s%s", at > 0 ? "." : "", shown);
}

bool p4_jsonscan_too_deep(const char *buf, struct p4_jsonscan_span span, size_t limit,
                          size_t segments, char *path, size_t size)
{
    struct p4_jsonscan_iter it;
    struct p4_jsonscan_span k, v;

    if (size > 0)
        path[0] = '\0';
    if (buf == NULL || depth_of(buf, span) <= limit)
        return false;
    /* A member at level i (1 for the top's members) is too deep when i + its depth > limit. */
    for (size_t level = 1; level <= segments && size > 0; level++) {
        bool found = false;

        if (p4_jsonscan_begin(&it, buf, span) != 0 || !it.object)
            break;
        while (p4_jsonscan_next(&it, &k, &v, NULL) == 1) {
            if (level + depth_of(buf, v) > limit) {
                append_name(buf, k, path, size);
                span = v;
                found = true;
                break;
            }
        }
        if (!found)
            break;
    }
    return true;
}
