/* yamlscalar.c: a YAML scalar resolved as go-yaml v2 resolves it for Helm (see yamlscalar.h). */
#include "yamlscalar.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/error.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* Half-way between FLT_MAX and 2^128: from here a double rounds to an infinite float. */
#define FLOAT32_OVERFLOW 0x1.ffffffp127

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
    if (p4_ascii_digit(c))
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

static bool special(const char *s, size_t n, struct p4_yaml_scalar *out)
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
            p = p4_ascii_to_lower(s[1]);

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
        if (i >= n || !p4_ascii_digit(s[i]))
            return false;
        while (i < n && p4_ascii_digit(s[i]))
            i++;
    } else {
        if (i >= n || !p4_ascii_digit(s[i]))
            return false;
        while (i < n && p4_ascii_digit(s[i]))
            i++;
        if (i < n && s[i] == '.') {
            i++;
            while (i < n && p4_ascii_digit(s[i]))
                i++;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !p4_ascii_digit(s[i]))
            return false;
        while (i < n && p4_ascii_digit(s[i]))
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
        if (p4_ascii_digit(s[i])) {
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
        } else if (p4_ascii_digit(s[i])) {
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
        if (i >= n || !p4_ascii_digit(s[i]))
            return false;
        for (; i < n && (p4_ascii_digit(s[i]) || s[i] == '_'); i++)
            underscores = underscores || s[i] == '_';
    }
    if (i != n || (underscores && !underscore_ok(s, n)))
        return false;
    plain = strip_underscores(s, n, &len);
    ok = to_double(plain, len, out);
    p4_wipe_free(plain, len);
    return ok;
}

/* go-yaml v2's resolve() for an untagged plain scalar. */
static void resolve_plain(const char *s, size_t n, struct p4_yaml_scalar *out)
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
    p4_wipe_free(plain, len);
}

enum p4_yaml_tag p4_yaml_tag_kind(const char *tag)
{
    static const struct {
        const char *name;
        enum p4_yaml_tag kind;
    } known[] = {
        {P4_YAML_TAG_PREFIX "str", T_STR},       {P4_YAML_TAG_PREFIX "bool", T_BOOL},
        {P4_YAML_TAG_PREFIX "int", T_INT},       {P4_YAML_TAG_PREFIX "float", T_FLOAT},
        {P4_YAML_TAG_PREFIX "null", T_NULL},     {P4_YAML_TAG_PREFIX "timestamp", T_TIMESTAMP},
        {P4_YAML_TAG_PREFIX "binary", T_BINARY},
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
        if (i >= n || !p4_ascii_digit(s[i]))
            return false;
    }
    for (int part = 0; part < 2; part++) {
        if (i >= n || s[i] != '-')
            return false;
        i++;
        for (digits = 0; i < n && p4_ascii_digit(s[i]) && digits < 2; i++)
            digits++;
        if (digits == 0)
            return false;
    }
    return i == n || s[i] == 'T' || s[i] == 't' || s[i] == ' ' || s[i] == '\t';
}

/* Resolve a scalar with its tag; 0, or a code with *why saying what is wrong. */
int p4_yaml_resolve(const char *s, size_t n, enum p4_yaml_tag tag, bool plain,
                    struct p4_yaml_scalar *out, const char **why)
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
char *p4_yaml_key_text(const struct p4_yaml_scalar *sc, const char *s, size_t n, int *code,
                       const char **why)
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
cJSON *p4_yaml_value_node(const struct p4_yaml_scalar *sc, const char *s, size_t n, int *code,
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
