/* redact.c: Secret values kept out of messages (see redact.h). */
#include "phase4/core/redact.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/text.h"

#define BUCKETS 1024
#define NONE SIZE_MAX
#define SEP ((char)0) /* in a needle: a run of whitespace (a NUL byte of a value counts as one) */
#define TAIL_MAX 256  /* a cut message is searched this far back for the start of a value */
#define LINES_MAX 256 /* lines of one value added alone */

/*
 * One form of a value: its words with SEP between them. Needles whose first four bytes are
 * literal are chained in a bucket by a hash of those bytes; the others in `loose`.
 */
struct needle {
    char *p;
    size_t n;
    bool bounded; /* from a short value: only as a whole token */
    size_t next;
};

struct p4_redact {
    struct needle *v;
    size_t n, cap, bytes;
    bool overflow;
    size_t loose;
    size_t bucket[BUCKETS];
};

static unsigned hash4(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;

    return ((unsigned)u[0] * 16777619u ^ (unsigned)u[1] * 65599u ^ (unsigned)u[2] * 131u ^
            (unsigned)u[3]) %
           BUCKETS;
}

static bool word_char(char c)
{
    return p4_ascii_alnum(c) || c == '_';
}

struct p4_redact *p4_redact_new(void)
{
    struct p4_redact *s = p4_calloc(1, sizeof(*s));

    s->loose = NONE;
    for (size_t i = 0; i < BUCKETS; i++)
        s->bucket[i] = NONE;
    return s;
}

void p4_redact_free(struct p4_redact *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        p4_wipe_free(s->v[i].p, s->v[i].n);
    free(s->v);
    free(s);
}

size_t p4_redact_count(const struct p4_redact *s)
{
    return s ? s->n : 0;
}

bool p4_redact_overflowed(const struct p4_redact *s)
{
    return s != NULL && s->overflow;
}

/* Keep p (n bytes, taken over) as a needle unless s holds it already. */
static void keep(struct p4_redact *s, char *p, size_t n, bool bounded)
{
    struct needle *d;
    bool literal4 = n >= 4 && memchr(p, SEP, 4) == NULL;

    /* A form can be shorter than its value (control bytes made spaces, then trimmed): the same
       length rules hold for it, and every match must be longer than the mark. */
    if (n < P4_REDACT_MIN) {
        p4_wipe_free(p, n);
        return;
    }
    bounded = bounded || n < P4_REDACT_SUBSTRING_MIN;

    for (size_t i = literal4 ? s->bucket[hash4(p)] : s->loose; i != NONE; i = s->v[i].next) {
        if (s->v[i].n == n && memcmp(s->v[i].p, p, n) == 0) {
            s->v[i].bounded = s->v[i].bounded && bounded;
            p4_wipe_free(p, n);
            return;
        }
    }
    if (s->n >= P4_REDACT_NEEDLES_MAX || s->bytes + n > P4_REDACT_BYTES_MAX) {
        s->overflow = true;
        p4_wipe_free(p, n);
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct needle *v = p4_calloc(cap, sizeof(*v));
        if (s->n > 0)
            memcpy(v, s->v, s->n * sizeof(*v));
        p4_wipe(s->v, s->n * sizeof(*s->v));
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    d = &s->v[s->n];
    d->p = p;
    d->n = n;
    d->bounded = bounded;
    if (literal4) {
        d->next = s->bucket[hash4(p)];
        s->bucket[hash4(p)] = s->n;
    } else {
        d->next = s->loose;
        s->loose = s->n;
    }
    s->n++;
    s->bytes += n;
}

enum form { F_RAW, F_ESC1, F_ESC2, F_SQ, F_ASCII, F_COUNT };

/* The bytes one value byte c becomes in form f (into out, at most 4); how many. */
static size_t form_of(enum form f, unsigned char c, char *out)
{
    size_t k = 0;

    switch (f) {
    case F_ESC2: /* escaped twice: '\\' is four backslashes, '"' three and the quote */
        if (c == '\\' || c == '"') {
            out[k++] = '\\';
            out[k++] = '\\';
            out[k++] = '\\';
        }
        out[k++] = (char)c;
        return k;
    case F_ESC1:
        if (c == '\\' || c == '"')
            out[k++] = '\\';
        out[k++] = (char)c;
        return k;
    case F_SQ:
        if (c == '\'')
            out[k++] = '\'';
        out[k++] = (char)c;
        return k;
    case F_ASCII:
        if (c >= 0x80)
            out[k++] = '?';
        else if (c < 0x20 || c == 0x7f)
            out[k++] = ' ';
        else
            out[k++] = (char)c;
        return k;
    default:
        out[k++] = (char)c;
        return k;
    }
}

/*
 * The needle of form f for the n bytes at v (trimmed, n > 0): whitespace runs become one SEP.
 * NULL when the form holds no byte other than SEP (nothing to find). Caller wipes and frees.
 */
static char *make_form(enum form f, const char *v, size_t n, size_t *out_len)
{
    char *p = p4_malloc(n * 4 + 1);
    size_t o = 0;
    bool sep = false;

    for (size_t i = 0; i < n; i++) {
        char tmp[4];
        size_t k;

        if (p4_ascii_space(v[i]) || v[i] == '\0') {
            sep = true;
            continue;
        }
        k = form_of(f, (unsigned char)v[i], tmp);
        if (f == F_ASCII && tmp[0] == ' ') {
            sep = true;
            continue;
        }
        if (sep && o > 0)
            p[o++] = SEP;
        sep = false;
        memcpy(p + o, tmp, k);
        o += k;
    }
    if (o == 0) {
        p4_wipe_free(p, n * 4 + 1);
        return NULL;
    }
    *out_len = o;
    return p;
}

/* Every form of the n bytes at v (trimmed, n >= P4_REDACT_MIN). */
static void add_forms(struct p4_redact *s, const char *v, size_t n, bool bounded)
{
    for (int f = 0; f < F_COUNT; f++) {
        size_t len = 0;
        char *p = make_form((enum form)f, v, n, &len);

        if (p != NULL)
            keep(s, p, len, bounded);
    }
}

static void add_base64(struct p4_redact *s, const char *v, size_t n)
{
    size_t size;
    char *b;

    if (n > (size_t)0x7fffffff / 2)
        return;
    size = (n + 2) / 3 * 4 + 1;
    b = p4_malloc(size);
    (void)EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)v, (int)n);
    keep(s, b, size - 1, false);
}

void p4_redact_add(struct p4_redact *s, const char *value, size_t len)
{
    const char *v = value;
    size_t n = len, lines = 0;
    bool bounded;

    if (s == NULL || value == NULL)
        return;
    while (n > 0 && p4_ascii_space(v[0])) {
        v++;
        n--;
    }
    while (n > 0 && p4_ascii_space(v[n - 1]))
        n--;
    if (n < P4_REDACT_MIN)
        return;
    bounded = n < P4_REDACT_SUBSTRING_MIN;
    add_forms(s, v, n, bounded);
    if (!bounded)
        add_base64(s, value, len);
    if (memchr(v, '\n', n) == NULL)
        return;
    /* A line quoted alone: each long enough line of a value of several lines. */
    for (size_t i = 0; i < n && lines < LINES_MAX;) {
        const char *nl = memchr(v + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - v) : n, a = i, b = end;

        while (a < b && p4_ascii_space(v[a]))
            a++;
        while (b > a && p4_ascii_space(v[b - 1]))
            b--;
        if (b - a >= P4_REDACT_SUBSTRING_MIN && b - a < n) {
            add_forms(s, v + a, b - a, false);
            lines++;
        }
        i = end + 1;
    }
}

/* An explicit stack: values trees may nest as deep as YAML allows, and more. */
void p4_redact_add_tree(struct p4_redact *s, const cJSON *tree)
{
    const cJSON *stack[P4_REDACT_DEPTH_MAX];
    size_t depth = 0;
    const cJSON *n = tree;

    if (s == NULL || tree == NULL)
        return;
    while (n != NULL) {
        if (cJSON_IsString(n) && n->valuestring != NULL) {
            p4_redact_add(s, n->valuestring, strlen(n->valuestring));
        } else if (cJSON_IsNumber(n) && n->valuedouble == floor(n->valuedouble) &&
                   fabs(n->valuedouble) < 9007199254740992.0) {
            char num[32];
            (void)snprintf(num, sizeof(num), "%.0f", n->valuedouble);
            p4_redact_add(s, num, strlen(num));
        }
        if ((cJSON_IsArray(n) || cJSON_IsObject(n)) && n->child != NULL) {
            if (depth == P4_REDACT_DEPTH_MAX) {
                s->overflow = true;
                return;
            }
            stack[depth++] = n;
            n = n->child;
            continue;
        }
        /* Next: a sibling, or the sibling of the nearest ancestor that has one. */
        while (n != NULL && n != tree && n->next == NULL)
            n = depth > 0 ? stack[--depth] : NULL;
        if (n == NULL || n == tree)
            break;
        n = n->next;
    }
}

/* ---- matching ---- */

/* The bytes of separator at h[k..hn): whitespace, "\n"-style escapes, a backslash-newline. */
static size_t separator(const char *h, size_t hn, size_t k)
{
    size_t start = k;

    while (k < hn) {
        if (p4_ascii_space(h[k]) || h[k] == '\0') {
            k++;
        } else if (h[k] == '\\') {
            size_t b = k;
            while (b < hn && b - k < 2 && h[b] == '\\')
                b++;
            if (b < hn && (h[b] == 'n' || h[b] == 't' || h[b] == 'r'))
                k = b + 1;
            else if (b < hn && (h[b] == '\n' || h[b] == '\r'))
                k = b;
            else
                break;
        } else {
            break;
        }
    }
    return k - start;
}

/*
 * Does needle d match h at i? Returns the end of the match, or 0. With end_ok, text that ends
 * at hn inside the needle after at least P4_REDACT_MIN of its bytes matches too (up to hn).
 */
static size_t match_at(const char *h, size_t hn, size_t i, const struct needle *d, bool end_ok)
{
    size_t j = 0, k = i;

    while (j < d->n) {
        if (k >= hn) {
            if (!end_ok || j < P4_REDACT_MIN)
                return 0;
            break;
        }
        if (d->p[j] == SEP) {
            size_t u = separator(h, hn, k);
            if (u == 0)
                return 0;
            k += u;
        } else if (h[k] != d->p[j]) {
            return 0;
        } else {
            k++;
        }
        j++;
    }
    if (d->bounded && ((i > 0 && word_char(h[i - 1])) || (k < hn && word_char(h[k]))))
        return 0;
    return k;
}

/* The longest match at i among the chain from first; 0 when none. */
static size_t best_in(const struct p4_redact *s, size_t first, const char *h, size_t hn, size_t i,
                      bool end_ok, size_t best)
{
    for (size_t x = first; x != NONE; x = s->v[x].next) {
        const struct needle *d = &s->v[x];
        size_t e;

        if (d->p[0] != SEP && d->p[0] != h[i])
            continue;
        e = match_at(h, hn, i, d, end_ok);
        if (e > best)
            best = e;
    }
    return best;
}

size_t p4_redact_buf(const struct p4_redact *s, char *text, size_t len, unsigned flags)
{
    size_t i = 0, o = 0, end = len, mark = sizeof(P4_REDACT_MARK) - 1;

    if (s == NULL || text == NULL || len == 0 || (s->n == 0 && !s->overflow))
        return len;
    if (s->overflow) {
        size_t n = len < mark ? len : mark;
        memcpy(text, P4_REDACT_MARK, n);
        return n;
    }
    /* A cut message: its "..." is not part of what was cut. */
    if ((flags & P4_REDACT_CUT) && end >= 3 && memcmp(text + end - 3, "...", 3) == 0)
        end -= 3;
    while (i < end) {
        bool end_ok = (flags & P4_REDACT_CUT) && end - i <= TAIL_MAX;
        size_t e = 0;

        if (end - i >= 4)
            e = best_in(s, s->bucket[hash4(text + i)], text, end, i, end_ok, e);
        e = best_in(s, s->loose, text, end, i, end_ok, e);
        if (e > i) {
            memcpy(text + o, P4_REDACT_MARK, mark); /* e - i >= P4_REDACT_MIN > mark */
            o += mark;
            i = e;
        } else {
            text[o++] = text[i++];
        }
    }
    while (i < len)
        text[o++] = text[i++];
    return o;
}

void p4_redact_str(const struct p4_redact *s, char *text)
{
    size_t n;

    if (s == NULL || text == NULL)
        return;
    n = p4_redact_buf(s, text, strlen(text), P4_REDACT_CUT);
    text[n] = '\0';
}
