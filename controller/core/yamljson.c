/*
 * yamljson.c: YAML into cJSON trees as Helm reads it (see yamljson.h).
 *
 * libyaml's event parser feeds a builder that keeps the open mappings and sequences on an
 * explicit stack (no recursion), resolves each scalar as go-yaml v2's resolve() does, and
 * counts nodes, bytes and depth as it goes, aliases included, so the limits hold before the
 * memory is spent. A node an anchor may still be copied from is never freed while parsing:
 * a value overridden by a later duplicate key, and the value of a "<<" merge key (its keys
 * are copied into the mapping), go to a graveyard array that is wiped and freed at the end.
 */
#include "phase4/core/yamljson.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

#define TAG_PREFIX "tag:yaml.org,2002:"
/* Alias look-ups scan the anchors newest first; at most this much work per call. */
#define MAX_ANCHOR_WORK 50000000
/* Half-way between FLT_MAX and 2^128: from here a double rounds to an infinite float. */
#define FLOAT32_OVERFLOW 0x1.ffffffp127

static const char merge_needs_map[] =
    "a merge key (<<) needs a mapping or a list of mappings as its value";

/* What a scalar resolved to, as go-yaml v2 types it. */
enum rtype { R_NULL, R_BOOL, R_INT, R_UINT, R_FLOAT, R_STR };

struct scalar {
    enum rtype type;
    bool b;
    int64_t i;
    uint64_t u;
    double d;
};

enum tagkind { T_NONE, T_STR, T_BOOL, T_INT, T_FLOAT, T_NULL, T_TIMESTAMP, T_BINARY, T_OTHER };

/* What happens to a container at its end: nothing, or its keys are merged into the mapping. */
enum fold { FOLD_NONE, FOLD_MAP, FOLD_SEQ };

struct frame {
    cJSON *node;
    bool map;
    bool want_key;  /* map: the next node is a key */
    bool merge_key; /* map: the key waiting for its value is "<<" */
    char *key;      /* map: the key waiting for its value */
    enum fold fold; /* node is the value of "<<" in the frame below; it lives in the graveyard */
    size_t anchor;  /* 1 + index into builder.anchors, or 0 */
    size_t nodes0;  /* builder.nodes before this node */
    size_t bytes0;
    size_t height; /* of the highest child */
    yaml_mark_t mark;
};

struct anchor {
    char *name;
    size_t len;
    uint64_t hash;
    const cJSON *node;     /* the anchored value; NULL when JSON cannot hold it (.inf) */
    int value_code;        /* why node is NULL */
    const char *value_why; /* static text */
    char *key;             /* its text as a mapping key; NULL when it cannot be one */
    int key_code;
    const char *key_why;
    bool complete; /* an alias inside the anchored node would contain itself */
    size_t nodes, bytes, height;
};

struct builder {
    const char *buf;
    size_t len;
    bool all;
    cJSON *docs;      /* all: the documents read so far */
    cJSON *root;      /* the document being read */
    cJSON *result;    /* first document only: its value */
    cJSON *graveyard; /* detached nodes anchors may still point into */
    struct frame *frames;
    size_t depth;
    struct anchor *anchors;
    size_t nanchors;
    size_t capanchors;
    size_t nodes;
    size_t bytes;
    size_t work;
    bool done;
    struct p4_error *err;
};

struct pair {
    const cJSON *from;
    cJSON *to;
};

struct member {
    cJSON *item;
    size_t ord;
};

/* Fail at mark with what happened there (what never holds input text); returns code. */
static int fail_at(struct p4_error *err, int code, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct p4_error *err, int code, yaml_mark_t mark, const char *fmt, ...)
{
    char what[P4_ERROR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return p4_error_set_printable(err, code, "YAML line %zu, column %zu: %s.", (size_t)mark.line + 1,
                (size_t)mark.column + 1, what);
}

static void wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

/* Keys, anchored scalars and scratch copies may be a Secret's values: wiped, then freed. */
static void wipe_free(char *s)
{
    if (s != NULL) {
        wipe(s, strlen(s));
        free(s);
    }
}

/* ---- scalars, resolved as go-yaml v2's resolve() does ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

static unsigned digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (unsigned)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (unsigned)(c - 'A' + 10);
    return 99;
}

/* go-yaml v2's resolve_table: the first byte hints at what a plain scalar may be. */
static char hint_of(char c)
{
    if (c == '+' || c == '-')
        return 'S';
    if (is_digit(c))
        return 'D';
    if (c != '\0' && strchr("yYnNtTfFoO~", c) != NULL)
        return 'M';
    if (c == '.')
        return '.';
    return 0;
}

enum special { SP_TRUE, SP_FALSE, SP_NULL, SP_NAN, SP_INF, SP_NINF };

/* go-yaml v2's resolve_map: exact spellings only ("tRue" is a string). */
static const struct {
    const char *text;
    enum special what;
} specials[] = {
    {"y", SP_TRUE},      {"Y", SP_TRUE},      {"yes", SP_TRUE},    {"Yes", SP_TRUE},
    {"YES", SP_TRUE},    {"true", SP_TRUE},   {"True", SP_TRUE},   {"TRUE", SP_TRUE},
    {"on", SP_TRUE},     {"On", SP_TRUE},     {"ON", SP_TRUE},     {"n", SP_FALSE},
    {"N", SP_FALSE},     {"no", SP_FALSE},    {"No", SP_FALSE},    {"NO", SP_FALSE},
    {"false", SP_FALSE}, {"False", SP_FALSE}, {"FALSE", SP_FALSE}, {"off", SP_FALSE},
    {"Off", SP_FALSE},   {"OFF", SP_FALSE},   {"", SP_NULL},       {"~", SP_NULL},
    {"null", SP_NULL},   {"Null", SP_NULL},   {"NULL", SP_NULL},   {".nan", SP_NAN},
    {".NaN", SP_NAN},    {".NAN", SP_NAN},    {".inf", SP_INF},    {".Inf", SP_INF},
    {".INF", SP_INF},    {"+.inf", SP_INF},   {"+.Inf", SP_INF},   {"+.INF", SP_INF},
    {"-.inf", SP_NINF},  {"-.Inf", SP_NINF},  {"-.INF", SP_NINF},
};

static bool special(const char *s, size_t n, struct scalar *out)
{
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        if (strlen(specials[i].text) != n || memcmp(specials[i].text, s, n) != 0)
            continue;
        switch (specials[i].what) {
        case SP_TRUE:
        case SP_FALSE:
            out->type = R_BOOL;
            out->b = specials[i].what == SP_TRUE;
            break;
        case SP_NULL:
            out->type = R_NULL;
            break;
        case SP_NAN:
            out->type = R_FLOAT;
            out->d = NAN;
            break;
        case SP_INF:
        case SP_NINF:
            out->type = R_FLOAT;
            out->d = specials[i].what == SP_INF ? INFINITY : -INFINITY;
            break;
        }
        return true;
    }
    return false;
}

/* Go's strconv.ParseUint(s, 0, 64): 0b, 0o, 0x or 0 (octal) prefixes, no sign. */
static bool go_uint(const char *s, size_t n, uint64_t *out)
{
    unsigned base = 10;
    size_t i = 0;
    uint64_t v = 0;

    if (n == 0)
        return false;
    if (s[0] == '0') {
        char p = '\0'; /* a prefix letter needs a digit after it: "0x" alone is octal, bad */

        if (n >= 3)
            p = lower(s[1]);

        base = p == 'b' ? 2 : p == 'x' ? 16 : 8;
        i = p == 'b' || p == 'o' || p == 'x' ? 2 : 1;
    }
    for (; i < n; i++) {
        unsigned d = digit_value(s[i]);

        if (d >= base || v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

/* Go's strconv.ParseInt(s, 0, 64): an optional sign, then as go_uint, in int64 range. */
static bool go_int(const char *s, size_t n, int64_t *out)
{
    bool neg = false;
    uint64_t v;

    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    if (!go_uint(s, n, &v))
        return false;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

/* go-yaml v2's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool yaml_float_form(const char *s, size_t n)
{
    size_t i = 0;

    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    } else {
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
        if (i < n && s[i] == '.') {
            i++;
            while (i < n && is_digit(s[i]))
                i++;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i == n;
}

/* strtod of a NUL-terminated, already checked decimal; false when it overflows (Go refuses). */
static bool to_double(const char *s, size_t n, double *out)
{
    char *end = NULL;
    double d = strtod(s, &end);

    if (end != s + n || isinf(d))
        return false;
    *out = d;
    return true;
}

/* s[0..n) without its underscores, NUL-terminated; caller frees. */
static char *strip_underscores(const char *s, size_t n, size_t *len)
{
    char *out = p4_malloc(n + 1);
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != '_')
            out[j++] = s[i];
    }
    out[j] = '\0';
    *len = j;
    return out;
}

/* Go's underscoreOK for a number with no sign or base prefix: '_' only between digits. */
static bool underscore_ok(const char *s, size_t n)
{
    char saw = '^';

    for (size_t i = 0; i < n; i++) {
        if (is_digit(s[i])) {
            saw = '0';
        } else if (s[i] == '_') {
            if (saw != '0')
                return false;
            saw = '_';
        } else {
            if (saw == '_')
                return false;
            saw = '!';
        }
    }
    return saw != '_';
}

/* Go's strconv.ParseFloat(s, 64) for s starting with '.': ".5", ".5e3", "._" fails. */
static bool go_dot_float(const char *s, size_t n, double *out)
{
    bool sawdot = false, sawdigits = false, underscores = false, ok;
    size_t i = 0, len;
    char *plain;

    for (; i < n; i++) {
        if (s[i] == '_') {
            underscores = true;
        } else if (s[i] == '.' && !sawdot) {
            sawdot = true;
        } else if (is_digit(s[i])) {
            sawdigits = true;
        } else {
            break;
        }
    }
    if (!sawdigits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return false;
        for (; i < n && (is_digit(s[i]) || s[i] == '_'); i++)
            underscores = underscores || s[i] == '_';
    }
    if (i != n || (underscores && !underscore_ok(s, n)))
        return false;
    plain = strip_underscores(s, n, &len);
    ok = to_double(plain, len, out);
    wipe(plain, len);
    free(plain);
    return ok;
}

/* go-yaml v2's resolve() for an untagged plain scalar. */
static void resolve_plain(const char *s, size_t n, struct scalar *out)
{
    char hint = 'N';
    char *plain;
    size_t len;

    out->type = R_STR;
    if (n > 0)
        hint = hint_of(s[0]);
    if (hint == 0 || special(s, n, out))
        return;
    if (hint == '.') {
        if (go_dot_float(s, n, &out->d))
            out->type = R_FLOAT;
        return;
    }
    if (hint != 'D' && hint != 'S')
        return;
    /* Timestamps (2001-12-14) stay strings for interface{} in go-yaml v2: no special case. */
    plain = strip_underscores(s, n, &len);
    if (go_int(plain, len, &out->i))
        out->type = R_INT;
    else if (go_uint(plain, len, &out->u))
        out->type = R_UINT;
    else if (yaml_float_form(plain, len) && to_double(plain, len, &out->d))
        out->type = R_FLOAT;
    wipe(plain, len);
    free(plain);
}

static enum tagkind tag_kind(const char *tag)
{
    static const struct {
        const char *name;
        enum tagkind kind;
    } known[] = {
        {TAG_PREFIX "str", T_STR},       {TAG_PREFIX "bool", T_BOOL},
        {TAG_PREFIX "int", T_INT},       {TAG_PREFIX "float", T_FLOAT},
        {TAG_PREFIX "null", T_NULL},     {TAG_PREFIX "timestamp", T_TIMESTAMP},
        {TAG_PREFIX "binary", T_BINARY},
    };

    if (tag == NULL)
        return T_NONE;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(tag, known[i].name) == 0)
            return known[i].kind;
    }
    return T_OTHER;
}

/* YYYY-M-D at the start, as a !!timestamp begins (the rest is not checked). */
static bool is_date(const char *s, size_t n)
{
    size_t i = 0, digits;

    for (; i < 4; i++) {
        if (i >= n || !is_digit(s[i]))
            return false;
    }
    for (int part = 0; part < 2; part++) {
        if (i >= n || s[i] != '-')
            return false;
        i++;
        for (digits = 0; i < n && is_digit(s[i]) && digits < 2; i++)
            digits++;
        if (digits == 0)
            return false;
    }
    return i == n || s[i] == 'T' || s[i] == 't' || s[i] == ' ' || s[i] == '\t';
}

/* Resolve a scalar with its tag; 0, or a code with *why saying what is wrong. */
static int resolve(const char *s, size_t n, enum tagkind tag, bool plain, struct scalar *out,
                   const char **why)
{
    out->type = R_STR;
    switch (tag) {
    case T_NONE:
        if (!plain) /* quoted or block scalars are strings */
            return 0;
        break;
    case T_STR:
    case T_OTHER: /* go-yaml v2 keeps the text of a scalar with a tag it does not know */
        return 0;
    case T_BINARY:
        *why = "!!binary values are not supported";
        return P4_ERR_INVALID;
    case T_TIMESTAMP:
        if (is_date(s, n))
            return 0;
        *why = "the value is not a !!timestamp";
        return P4_ERR_PARSE;
    default:
        break;
    }
    resolve_plain(s, n, out);
    if (tag == T_NONE)
        return 0;
    if ((tag == T_BOOL && out->type == R_BOOL) || (tag == T_NULL && out->type == R_NULL) ||
        (tag == T_FLOAT && out->type == R_FLOAT) ||
        (tag == T_INT && (out->type == R_INT || out->type == R_UINT)))
        return 0;
    if (tag == T_FLOAT && (out->type == R_INT || out->type == R_UINT)) {
        out->d = out->type == R_INT ? (double)out->i : (double)out->u;
        out->type = R_FLOAT;
        return 0;
    }
    *why = "the value does not match its tag";
    return P4_ERR_PARSE;
}

/*
 * A float key as sigs.k8s.io/yaml writes it: strconv.FormatFloat(v, 'g', -1, 32), that is
 * the shortest digits that read back as the same float32, in %e form when the exponent is
 * below -4 or at least 6, with .inf, -.inf and .nan for the special values.
 */
static void float_key(double v, char *out, size_t size)
{
    char buf[48];
    char *e;
    float f;
    int p, exp;

    if (isnan(v)) {
        (void)snprintf(out, size, ".nan");
        return;
    }
    if (fabs(v) >= FLOAT32_OVERFLOW) {
        (void)snprintf(out, size, "%s", v > 0 ? ".inf" : "-.inf");
        return;
    }
    if (fabs(v) > FLT_MAX)
        f = v > 0 ? FLT_MAX : -FLT_MAX;
    else
        f = (float)v;
    for (p = 1; p < 9; p++) {
        (void)snprintf(buf, sizeof(buf), "%.*e", p - 1, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    (void)snprintf(buf, sizeof(buf), "%.*e", p - 1, (double)f);
    e = strchr(buf, 'e');
    exp = e != NULL ? (int)strtol(e + 1, NULL, 10) : 0;
    if (exp < -4 || exp >= 6)
        (void)snprintf(out, size, "%s", buf);
    else
        (void)snprintf(out, size, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, (double)f);
}

/* The mapping key a resolved scalar becomes (caller frees), or NULL with *code and *why. */
static char *key_text(const struct scalar *sc, const char *s, size_t n, int *code, const char **why)
{
    char buf[64];

    switch (sc->type) {
    case R_NULL:
        *code = P4_ERR_INVALID;
        *why = "a mapping key is null, which JSON cannot hold";
        return NULL;
    case R_BOOL:
        return p4_strdup(sc->b ? "true" : "false");
    case R_INT:
        (void)snprintf(buf, sizeof(buf), "%" PRId64, sc->i);
        return p4_strdup(buf);
    case R_UINT:
        *code = P4_ERR_INVALID;
        *why = "a mapping key is an integer above 2^63-1, which Helm cannot hold";
        return NULL;
    case R_FLOAT:
        float_key(sc->d, buf, sizeof(buf));
        return p4_strdup(buf);
    default:
        if (n > 0 && memchr(s, '\0', n) != NULL) {
            *code = P4_ERR_INVALID;
            *why = "a mapping key contains a NUL character";
            return NULL;
        }
        return p4_strndup(s, n);
    }
}

/* The JSON value of a resolved scalar, or NULL with *code and *why. s is NUL-terminated. */
static cJSON *value_node(const struct scalar *sc, const char *s, size_t n, int *code,
                         const char **why)
{
    switch (sc->type) {
    case R_NULL:
        return p4_json_need(cJSON_CreateNull());
    case R_BOOL:
        return p4_json_need(cJSON_CreateBool(sc->b));
    case R_INT:
        return p4_json_need(cJSON_CreateNumber((double)sc->i));
    case R_UINT:
        return p4_json_need(cJSON_CreateNumber((double)sc->u));
    case R_FLOAT:
        if (!isfinite(sc->d)) {
            *code = P4_ERR_INVALID;
            *why = "a value is .inf or .nan, which JSON cannot hold";
            return NULL;
        }
        return p4_json_need(cJSON_CreateNumber(sc->d));
    default:
        if (n > 0 && memchr(s, '\0', n) != NULL) {
            *code = P4_ERR_INVALID;
            *why = "a string contains a NUL character";
            return NULL;
        }
        return p4_json_need(cJSON_CreateString(s));
    }
}

/* ---- the builder ---- */

static struct frame *top(struct builder *b)
{
    return b->depth > 0 ? &b->frames[b->depth - 1] : NULL;
}

/* Account for nodes and bytes about to be created at mark. */
static int count(struct builder *b, size_t nodes, size_t bytes, yaml_mark_t mark)
{
    if (nodes > P4_YAML_MAX_NODES - b->nodes)
        return fail_at(b->err, P4_ERR_TOOBIG, mark, "the document expands to more than %d nodes",
                       P4_YAML_MAX_NODES);
    if (bytes > P4_YAML_MAX_BYTES - b->bytes)
        return fail_at(b->err, P4_ERR_TOOBIG, mark,
                       "the document expands to more than %zu bytes of text", P4_YAML_MAX_BYTES);
    b->nodes += nodes;
    b->bytes += bytes;
    return 0;
}

/* A tree of the given height placed under the open frames must stay within the depth limit. */
static int check_depth(struct builder *b, size_t height, yaml_mark_t mark)
{
    if (height > P4_YAML_MAX_DEPTH - b->depth)
        return fail_at(b->err, P4_ERR_TOOBIG, mark, "nesting is deeper than %d levels",
                       P4_YAML_MAX_DEPTH);
    return 0;
}

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void reset_anchors(struct builder *b)
{
    for (size_t i = 0; i < b->nanchors; i++) {
        wipe_free(b->anchors[i].name);
        wipe_free(b->anchors[i].key);
    }
    b->nanchors = 0;
}

/* A new anchor (newest wins, as YAML says); returns its index + 1. */
static size_t add_anchor(struct builder *b, const char *name)
{
    struct anchor *a;

    if (b->nanchors == b->capanchors) {
        b->capanchors = b->capanchors ? 2 * b->capanchors : 16;
        b->anchors = p4_realloc(b->anchors, b->capanchors * sizeof(*b->anchors));
    }
    a = &b->anchors[b->nanchors++];
    memset(a, 0, sizeof(*a));
    a->len = strlen(name);
    a->name = p4_strndup(name, a->len);
    a->hash = hash_name(name, a->len);
    return b->nanchors;
}

static struct anchor *find_anchor(struct builder *b, const char *name, yaml_mark_t mark, int *rc)
{
    size_t n = strlen(name);
    uint64_t h = hash_name(name, n);

    for (size_t i = b->nanchors; i-- > 0;) {
        struct anchor *a = &b->anchors[i];
        bool same = a->len == n && a->hash == h;

        b->work += 1 + (same ? n / 64 : 0);
        if (b->work > MAX_ANCHOR_WORK) {
            *rc = fail_at(b->err, P4_ERR_TOOBIG, mark, "too many anchors and aliases to resolve");
            return NULL;
        }
        if (same && memcmp(a->name, name, n) == 0)
            return a;
    }
    *rc = fail_at(b->err, P4_ERR_PARSE, mark, "an alias refers to an anchor that is not defined");
    return NULL;
}

/*
 * Record an anchored scalar: its value node (value, already in the tree, or NULL to make one
 * that lives in the graveyard) and its text as a key, each kept with why it cannot be one.
 */
static void anchor_scalar(struct builder *b, const char *name, const struct scalar *sc,
                          const char *s, size_t n, cJSON *value)
{
    size_t index = add_anchor(b, name) - 1; /* may move b->anchors */
    struct anchor *a = &b->anchors[index];

    if (value == NULL) {
        value = value_node(sc, s, n, &a->value_code, &a->value_why);
        if (value != NULL)
            p4_json_need_ok(cJSON_AddItemToArray(b->graveyard, value));
    }
    a->node = value;
    a->key = key_text(sc, s, n, &a->key_code, &a->key_why);
    a->complete = true;
    a->nodes = 1;
    a->bytes = n;
}

/* Hang node under the open container, or make it the document's root. */
static void attach(struct builder *b, cJSON *node, size_t height)
{
    struct frame *f = top(b);

    if (f == NULL) {
        b->root = node;
        return;
    }
    if (f->map) {
        p4_json_need_ok(cJSON_AddItemToObject(f->node, f->key, node));
        wipe_free(f->key);
        f->key = NULL;
        f->want_key = true;
    } else {
        p4_json_need_ok(cJSON_AddItemToArray(f->node, node));
    }
    if (height > f->height)
        f->height = height;
}

static int cmp_member(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    int c = strcmp(a->item->string, b->item->string);

    if (c != 0)
        return c;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

/* A key given twice keeps its last value: the earlier ones go to the graveyard. */
static void dedupe(struct builder *b, cJSON *map)
{
    struct member *m;
    size_t n = 0, i = 0;

    for (const cJSON *c = map->child; c != NULL; c = c->next)
        n++;
    if (n < 2)
        return;
    m = p4_calloc(n, sizeof(*m));
    for (cJSON *c = map->child; c != NULL; c = c->next, i++)
        m[i] = (struct member){c, i};
    qsort(m, n, sizeof(*m), cmp_member);
    for (i = 0; i + 1 < n; i++) {
        if (strcmp(m[i].item->string, m[i + 1].item->string) == 0) {
            (void)cJSON_DetachItemViaPointer(map, m[i].item);
            p4_json_need_ok(cJSON_AddItemToArray(b->graveyard, m[i].item));
        }
    }
    free(m);
}

/* Copies of from's members, appended to map (duplicates are settled at the map's end). */
static void append_members(cJSON *map, const cJSON *from)
{
    for (const cJSON *c = from->child; c != NULL; c = c->next)
        p4_json_need_ok(cJSON_AddItemToObject(map, c->string, p4_json_copy(c, false)));
}

/*
 * The value of a "<<" key ended: merge its keys into the mapping f. go-yaml v2 writes them
 * where "<<" stands, in order; from a list it walks the mappings last to first, so the first
 * one's keys are written last and win.
 */
static int fold(struct builder *b, struct frame *f, const cJSON *value, enum fold kind,
                size_t nodes, size_t bytes, size_t height, yaml_mark_t mark)
{
    struct pair *items = NULL;
    size_t n = 0, i = 0;
    int rc;

    if (kind == FOLD_SEQ) {
        for (const cJSON *c = value->child; c != NULL; c = c->next) {
            if (!cJSON_IsObject(c))
                return fail_at(b->err, P4_ERR_PARSE, mark, "%s", merge_needs_map);
            n++;
        }
    }
    rc = count(b, nodes, bytes, mark);
    if (rc != 0)
        return rc;
    if (kind == FOLD_MAP) {
        append_members(f->node, value);
    } else if (n > 0) {
        items = p4_calloc(n, sizeof(*items));
        for (const cJSON *c = value->child; c != NULL; c = c->next)
            items[i++].from = c;
        while (i-- > 0)
            append_members(f->node, items[i].from);
        free(items);
    }
    f->merge_key = false;
    f->want_key = true;
    if (height > 0 && height - 1 > f->height)
        f->height = height - 1;
    return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *anchor = (const char *)ev->data.scalar.anchor;
    enum tagkind tag = tag_kind((const char *)ev->data.scalar.tag);
    bool plain = ev->data.scalar.plain_implicit != 0;
    struct frame *f = top(b);
    const char *why = "";
    struct scalar sc;
    cJSON *node;
    int rc, code = P4_ERR_INVALID;

    /* A key is text in its value's node: it counts as bytes, not as a node. */
    rc = count(b, f != NULL && f->map && f->want_key ? 0 : 1, n, ev->start_mark);
    if (rc != 0)
        return rc;
    rc = resolve(s, n, tag, plain, &sc, &why);
    if (rc != 0)
        return fail_at(b->err, rc, ev->start_mark, "%s", why);
    if (f != NULL && f->map && f->want_key) {
        f->want_key = false;
        /* go-yaml v2's isMerge: "<<" untagged and plain, or tagged !!merge. */
        if (n == 2 && memcmp(s, "<<", 2) == 0 &&
            (plain || strcmp(ev->data.scalar.tag ? (const char *)ev->data.scalar.tag : "",
                             TAG_PREFIX "merge") == 0)) {
            f->merge_key = true;
        } else {
            f->key = key_text(&sc, s, n, &code, &why);
            if (f->key == NULL)
                return fail_at(b->err, code, ev->start_mark, "%s", why);
        }
        if (anchor != NULL)
            anchor_scalar(b, anchor, &sc, s, n, NULL);
        return 0;
    }
    if (f != NULL && f->map && f->merge_key)
        return fail_at(b->err, P4_ERR_PARSE, ev->start_mark, "%s", merge_needs_map);
    node = value_node(&sc, s, n, &code, &why);
    if (node == NULL)
        return fail_at(b->err, code, ev->start_mark, "%s", why);
    attach(b, node, 0);
    if (anchor != NULL)
        anchor_scalar(b, anchor, &sc, s, n, node);
    return 0;
}

static int on_start(struct builder *b, const yaml_event_t *ev, bool map)
{
    const yaml_char_t *anchor =
        map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    struct frame *f = top(b), *nf;
    enum fold fold_kind = FOLD_NONE;
    cJSON *node;
    int rc;

    if (f != NULL && f->map && f->want_key)
        return fail_at(b->err, P4_ERR_INVALID, ev->start_mark,
                       "a mapping key is a mapping or a list, which JSON cannot hold");
    rc = check_depth(b, 1, ev->start_mark);
    if (rc == 0)
        rc = count(b, 1, 0, ev->start_mark);
    if (rc != 0)
        return rc;
    node = p4_json_need(map ? cJSON_CreateObject() : cJSON_CreateArray());
    if (f != NULL && f->map && f->merge_key) {
        fold_kind = map ? FOLD_MAP : FOLD_SEQ;
        p4_json_need_ok(cJSON_AddItemToArray(b->graveyard, node));
    } else {
        attach(b, node, 0);
    }
    nf = &b->frames[b->depth++];
    memset(nf, 0, sizeof(*nf));
    nf->node = node;
    nf->map = map;
    nf->want_key = map;
    nf->fold = fold_kind;
    nf->nodes0 = b->nodes - 1;
    nf->bytes0 = b->bytes;
    nf->mark = ev->start_mark;
    if (anchor != NULL) {
        nf->anchor = add_anchor(b, (const char *)anchor);
        b->anchors[nf->anchor - 1].node = node;
        b->anchors[nf->anchor - 1].key_code = P4_ERR_INVALID;
        b->anchors[nf->anchor - 1].key_why =
            "a mapping key is a mapping or a list, which JSON cannot hold";
    }
    return 0;
}

static int on_end(struct builder *b)
{
    struct frame *f, *parent;
    size_t height;

    if (b->depth == 0) /* libyaml only ends what it started; be safe anyway */
        return 0;
    f = &b->frames[--b->depth];
    wipe_free(f->key);
    f->key = NULL;
    if (f->map)
        dedupe(b, f->node);
    height = f->height + 1;
    if (f->anchor != 0 && b->anchors != NULL) {
        struct anchor *a = &b->anchors[f->anchor - 1];

        a->complete = true;
        a->nodes = b->nodes - f->nodes0;
        a->bytes = b->bytes - f->bytes0;
        a->height = height;
    }
    parent = top(b);
    if (f->fold != FOLD_NONE && parent != NULL)
        return fold(b, parent, f->node, f->fold, b->nodes - f->nodes0, b->bytes - f->bytes0, height,
                    f->mark);
    if (parent != NULL && height > parent->height)
        parent->height = height;
    return 0;
}

static int on_alias(struct builder *b, const yaml_event_t *ev)
{
    struct frame *f = top(b);
    struct anchor *a;
    int rc = 0;

    a = find_anchor(b, (const char *)ev->data.alias.anchor, ev->start_mark, &rc);
    if (a == NULL)
        return rc;
    if (!a->complete)
        return fail_at(b->err, P4_ERR_PARSE, ev->start_mark,
                       "an alias refers to a node that contains it");
    if (f != NULL && f->map && f->want_key) {
        if (a->key == NULL)
            return fail_at(b->err, a->key_code, ev->start_mark, "%s", a->key_why);
        rc = count(b, 0, strlen(a->key), ev->start_mark);
        if (rc != 0)
            return rc;
        f->key = p4_strdup(a->key);
        f->want_key = false;
        return 0;
    }
    if (f != NULL && f->map && f->merge_key) {
        if (!cJSON_IsObject(a->node))
            return fail_at(b->err, P4_ERR_PARSE, ev->start_mark, "%s", merge_needs_map);
        rc = check_depth(b, a->height - 1, ev->start_mark);
        if (rc == 0)
            rc = fold(b, f, a->node, FOLD_MAP, a->nodes, a->bytes, a->height, ev->start_mark);
        return rc;
    }
    if (a->node == NULL)
        return fail_at(b->err, a->value_code, ev->start_mark, "%s", a->value_why);
    rc = check_depth(b, a->height, ev->start_mark);
    if (rc == 0)
        rc = count(b, a->nodes, a->bytes, ev->start_mark);
    if (rc == 0)
        attach(b, p4_json_copy(a->node, false), a->height);
    return rc;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
    cJSON *doc;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        b->done = true;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        reset_anchors(b); /* anchors belong to their document */
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        doc = b->root != NULL ? b->root : p4_json_need(cJSON_CreateNull());
        b->root = NULL;
        if (b->all) {
            p4_json_need_ok(cJSON_AddItemToArray(b->docs, doc));
        } else {
            b->result = doc; /* helm reads the first document only, and so do we */
            b->done = true;
        }
        return 0;
    case YAML_ALIAS_EVENT:
        return on_alias(b, ev);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, ev, false);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, ev, true);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b);
    default:
        return 0;
    }
}

/* libyaml's problem and context texts are its own constants, never input. */
static int yaml_error(struct builder *b, const yaml_parser_t *p)
{
    const char *problem = p->problem != NULL ? p->problem : "syntax error";
    size_t line, col;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return p4_error_set_printable(b->err, P4_ERR_NOMEM, "out of memory reading YAML.");
    case YAML_READER_ERROR:
        p4_text_position(b->buf, p->problem_offset < b->len ? p->problem_offset : b->len, &line,
                         &col);
        return p4_error_set_printable(b->err, P4_ERR_PARSE, "invalid YAML at line %zu, column %zu: %s.", line, col,
                    problem);
    default:
        if (p->context != NULL)
            return p4_error_set_printable(b->err, P4_ERR_PARSE,
                        "invalid YAML at line %zu, column %zu: %s (%s started at line %zu, "
                        "column %zu).",
                        (size_t)p->problem_mark.line + 1, (size_t)p->problem_mark.column + 1,
                        problem, p->context, (size_t)p->context_mark.line + 1,
                        (size_t)p->context_mark.column + 1);
        return p4_error_set_printable(b->err, P4_ERR_PARSE, "invalid YAML at line %zu, column %zu: %s.",
                    (size_t)p->problem_mark.line + 1, (size_t)p->problem_mark.column + 1, problem);
    }
}

static cJSON *parse(const char *buf, size_t len, bool all, struct p4_error *err)
{
    struct builder b = {.buf = buf, .len = len, .all = all, .err = err};
    yaml_parser_t parser;
    yaml_event_t ev;
    bool parser_ready = false;
    cJSON *out = NULL;
    int rc = 0;

    if (buf == NULL) {
        p4_error_set_printable(err, P4_ERR_INVAL, "no YAML input.");
        goto out;
    }
    if (len > P4_YAML_MAX_INPUT) {
        p4_error_set_printable(err, P4_ERR_TOOBIG, "YAML input of %zu bytes exceeds the %zu-byte limit.", len,
             P4_YAML_MAX_INPUT);
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        p4_error_set_printable(err, P4_ERR_NOMEM, "out of memory reading YAML.");
        goto out;
    }
    parser_ready = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    b.frames = p4_calloc(P4_YAML_MAX_DEPTH, sizeof(*b.frames));
    b.graveyard = p4_json_need(cJSON_CreateArray());
    if (all)
        b.docs = p4_json_need(cJSON_CreateArray());
    while (!b.done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            (void)yaml_error(&b, &parser);
            goto out;
        }
        rc = on_event(&b, &ev);
        if (ev.type == YAML_SCALAR_EVENT)
            wipe(ev.data.scalar.value, ev.data.scalar.length);
        yaml_event_delete(&ev);
        if (rc != 0)
            goto out;
    }
    if (all) {
        out = b.docs;
        b.docs = NULL;
    } else {
        out = b.result != NULL ? b.result : p4_json_need(cJSON_CreateNull());
        b.result = NULL;
    }
out:
    for (size_t i = 0; i < b.depth; i++)
        wipe_free(b.frames[i].key);
    free(b.frames);
    reset_anchors(&b);
    free(b.anchors);
    p4_json_discard(b.graveyard);
    p4_json_discard(b.root);
    p4_json_discard(b.docs);
    p4_json_discard(b.result);
    if (parser_ready)
        yaml_parser_delete(&parser);
    return out;
}

cJSON *p4_yaml_to_json(const char *buf, size_t len, struct p4_error *err)
{
    return parse(buf, len, false, err);
}

cJSON *p4_yaml_to_json_all(const char *buf, size_t len, struct p4_error *err)
{
    return parse(buf, len, true, err);
}
