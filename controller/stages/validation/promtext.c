/*
 * stages/validation/promtext.c: the Prometheus text format read line by line (see promtext.h).
 */
#include "promtext.h"

#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/text.h"

/* How much of a failing line a message quotes. */
#define EXCERPT_MAX 80
/* The longest number (value, timestamp) read. */
#define NUMBER_MAX 64

/* A line being read. */
struct cur {
    const char *s;
    size_t n, i;
};

static bool more(const struct cur *c)
{
    return c->i < c->n;
}

static char peek(const struct cur *c)
{
    if (c->i < c->n)
        return c->s[c->i];
    return '\0';
}

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Skip blanks; whether there was one. */
static bool skip_blanks(struct cur *c)
{
    size_t from = c->i;

    while (more(c) && blank(c->s[c->i]))
        c->i++;
    return c->i > from;
}

static bool name_start(char ch, bool colon)
{
    return p4_ascii_alpha(ch) || ch == '_' || (colon && ch == ':');
}

static bool name_char(char ch, bool colon)
{
    return p4_ascii_alnum(ch) || ch == '_' || (colon && ch == ':');
}

/* A plain name (metric names with ':', label names without) into *out. */
static bool plain_name(struct cur *c, bool colon, struct p4_span *out)
{
    size_t from = c->i;

    if (!name_start(peek(c), colon))
        return false;
    while (more(c) && name_char(c->s[c->i], colon))
        c->i++;
    *out = (struct p4_span){c->s + from, c->i - from};
    return true;
}

/* A quoted string at c (its '"' first) into *out, without the quotes: NULL, or why not. */
static const char *quoted(struct cur *c, struct p4_span *out)
{
    size_t from = ++c->i;

    while (more(c)) {
        char ch = c->s[c->i];
        if (ch == '\\') {
            if (c->i + 1 >= c->n)
                break;
            c->i += 2;
            continue;
        }
        if (ch == '"') {
            *out = (struct p4_span){c->s + from, c->i - from};
            c->i++;
            if (!p4_text_utf8_valid(out->p, out->n))
                return "a quoted string is not valid UTF-8";
            return NULL;
        }
        c->i++;
    }
    return "a quoted string is not closed";
}

/* A metric name, plain or quoted (# TYPE, # HELP, # UNIT). */
static const char *metric_name(struct cur *c, struct p4_span *out)
{
    const char *why;

    if (peek(c) == '"') {
        if ((why = quoted(c, out)) == NULL && out->n == 0)
            why = "a metric name may not be empty";
        return why;
    }
    if (!plain_name(c, true, out))
        return "a metric name begins with a letter, '_' or ':'";
    return NULL;
}

/* A number (a value or a timestamp) as Go's ParseFloat reads one: up to a blank or the end. */
static const char *number(struct cur *c, const char *what)
{
    char buf[NUMBER_MAX];
    size_t from = c->i, len;
    char *end;

    while (more(c) && !blank(c->s[c->i]))
        c->i++;
    len = c->i - from;
    if (len == 0 || len >= sizeof(buf))
        return what;
    memcpy(buf, c->s + from, len);
    buf[len] = '\0';
    (void)strtod(buf, &end);
    if (end != buf + len)
        return what;
    return NULL;
}

/*
 * A label set at c ('{' first). With name (not NULL) and *has_name false, a quoted entry without
 * '=' first in the braces is the metric name (Prometheus 3's UTF-8 names).
 */
static const char *labels(struct cur *c, struct p4_span *name, bool *has_name)
{
    bool first = true;
    const char *why;

    c->i++;
    for (;;) {
        struct p4_span key, value;
        (void)skip_blanks(c);
        if (!more(c))
            return "the labels are not closed by '}'";
        if (peek(c) == '}') {
            c->i++;
            return NULL;
        }
        if (peek(c) == '"') {
            if ((why = quoted(c, &key)) != NULL)
                return why;
            (void)skip_blanks(c);
            if (peek(c) != '=') {
                if (!first || name == NULL || *has_name)
                    return "a quoted label name must be followed by '='";
                if (key.n == 0)
                    return "a metric name may not be empty";
                *name = key; /* {"metric.name", ...} */
                *has_name = true;
                goto next;
            }
        } else if (!plain_name(c, false, &key)) {
            return "a label name begins with a letter or '_'";
        }
        (void)skip_blanks(c);
        if (peek(c) != '=')
            return "a label name must be followed by '='";
        c->i++;
        (void)skip_blanks(c);
        if (peek(c) != '"')
            return "a label value must be quoted";
        if ((why = quoted(c, &value)) != NULL)
            return why;
    next:
        first = false;
        (void)skip_blanks(c);
        if (peek(c) == ',') {
            c->i++;
            continue;
        }
        if (peek(c) == '}') {
            c->i++;
            return NULL;
        }
        return more(c) ? "labels are separated by ',' and closed by '}'"
                       : "the labels are not closed by '}'";
    }
}

/* A sample line (from its first non-blank byte): NULL, or why it is not one. */
static const char *sample(struct cur *c, struct p4_span *name)
{
    bool has_name = false, gap;
    const char *why;

    if (peek(c) != '{') {
        if (!plain_name(c, true, name))
            return "a metric name begins with a letter, '_' or ':'";
        has_name = true;
    }
    gap = skip_blanks(c);
    if (peek(c) == '{') {
        if ((why = labels(c, name, &has_name)) != NULL)
            return why;
        if (!has_name)
            return "the labels name no metric";
        gap = skip_blanks(c);
    }
    if (!more(c))
        return "the value is missing";
    if (!gap)
        return "a blank must separate the name from the value";
    if ((why = number(c, "the value is not a number")) != NULL)
        return why;
    (void)skip_blanks(c);
    if (more(c) && peek(c) != '#') {
        if ((why = number(c, "the timestamp is not a number")) != NULL)
            return why;
        (void)skip_blanks(c);
    }
    if (!more(c))
        return NULL;
    if (peek(c) != '#')
        return "only a timestamp or an exemplar may follow the value";
    /* An OpenMetrics exemplar: # {labels} value [timestamp] */
    c->i++;
    (void)skip_blanks(c);
    if (peek(c) != '{')
        return "an exemplar begins with '{'";
    if ((why = labels(c, NULL, NULL)) != NULL)
        return why;
    if (!skip_blanks(c) || !more(c))
        return "an exemplar needs a value";
    if ((why = number(c, "the exemplar's value is not a number")) != NULL)
        return why;
    (void)skip_blanks(c);
    if (more(c)) {
        if ((why = number(c, "the exemplar's timestamp is not a number")) != NULL)
            return why;
        (void)skip_blanks(c);
    }
    return more(c) ? "only a timestamp may follow an exemplar's value" : NULL;
}

static bool word_is(const struct cur *c, size_t from, const char *w)
{
    size_t n = strlen(w);

    return c->i - from == n && memcmp(c->s + from, w, n) == 0;
}

/*
 * A line beginning with '#' (c past it): a comment, or HELP, TYPE, UNIT, EOF. NULL, or why it is
 * not one; *type is set for a TYPE line, with its family name in *name.
 */
static const char *meta(struct p4_promtext *p, struct cur *c, struct p4_span *name, bool *type)
{
    static const char *const types[] = {"counter",        "gauge",   "histogram", "summary",
                                        "untyped",        "unknown", "stateset",  "info",
                                        "gaugehistogram", NULL};
    size_t from;
    const char *why;

    if (!skip_blanks(c))
        return NULL; /* "#text": a comment */
    from = c->i;
    while (more(c) && p4_ascii_alpha(peek(c)))
        c->i++;
    if (word_is(c, from, "EOF")) {
        size_t after = c->i;
        (void)skip_blanks(c);
        if (!more(c)) {
            p->eof = true;
            return NULL;
        }
        c->i = after;
    }
    *type = word_is(c, from, "TYPE");
    if (!(*type || word_is(c, from, "HELP") || word_is(c, from, "UNIT")) || !skip_blanks(c)) {
        *type = false;
        return NULL; /* another comment */
    }
    if ((why = metric_name(c, name)) != NULL)
        return why;
    if (!*type)
        return more(c) && !blank(peek(c)) ? "a blank must follow the metric name" : NULL;
    if (!skip_blanks(c))
        return "a TYPE line needs a type after the name";
    from = c->i;
    while (more(c) && !blank(peek(c)))
        c->i++;
    for (int i = 0; types[i]; i++) {
        if (word_is(c, from, types[i])) {
            (void)skip_blanks(c);
            return more(c) ? "only the type may follow the name" : NULL;
        }
    }
    return "the type is none of counter, gauge, histogram, summary, untyped (or OpenMetrics' "
           "unknown, gaugehistogram, stateset, info)";
}

static int failed(struct p4_promtext *p, int code, const char *what, const char *why,
                  const char *line, size_t n)
{
    char ex[EXCERPT_MAX];
    size_t take = n > (size_t)EXCERPT_MAX * 2 ? (size_t)EXCERPT_MAX * 2 : n;

    p4_text_clean(ex, sizeof(ex), line, take, P4_TEXT_QUOTED | (take < n ? P4_TEXT_MORE : 0));
    p4_error_set(&p->err, code, "line %zu is not %s (%s): \"%s\"", p->lines, what, why, ex);
    p->rc = code;
    return code;
}

/* One whole line, without its '\n'. */
static int line(struct p4_promtext *p, const char *s, size_t n)
{
    struct cur c = {.s = s, .n = n, .i = 0};
    struct p4_span name = {0};
    const char *why;
    bool type = false;

    p->lines++;
    if (n > 0 && s[n - 1] == '\r')
        c.n = --n;
    (void)skip_blanks(&c);
    if (!more(&c))
        return 0;
    if (p->eof)
        return failed(p, P4_ERR_PARSE, "allowed after # EOF", "OpenMetrics ends there", s, n);
    if (peek(&c) == '#') {
        c.i++;
        if ((why = meta(p, &c, &name, &type)) != NULL)
            return failed(p, P4_ERR_PARSE, "a valid HELP, TYPE or UNIT line", why, s, n);
        if (type) {
            p->families++;
            if (p->on_name)
                p->on_name(P4_PROMTEXT_FAMILY, name.p, name.n, p->data);
        }
        return 0;
    }
    if ((why = sample(&c, &name)) != NULL)
        return failed(p, P4_ERR_PARSE, "a Prometheus sample", why, s, n);
    p->samples++;
    if (p->on_name)
        p->on_name(P4_PROMTEXT_SAMPLE, name.p, name.n, p->data);
    return 0;
}

void p4_promtext_init(struct p4_promtext *p, p4_promtext_name_cb on_name, void *data)
{
    memset(p, 0, sizeof(*p));
    p->on_name = on_name;
    p->data = data;
}

static int too_long(struct p4_promtext *p)
{
    p->lines++;
    p4_error_set(&p->err, P4_ERR_TOOBIG, "line %zu is longer than %zu bytes", p->lines,
                 P4_PROMTEXT_LINE_MAX);
    p->rc = P4_ERR_TOOBIG;
    return p->rc;
}

static int result(const struct p4_promtext *p, struct p4_error *err)
{
    if (p->rc != 0 && err != NULL)
        *err = p->err;
    return p->rc;
}

int p4_promtext_feed(struct p4_promtext *p, const char *buf, size_t len, struct p4_error *err)
{
    while (p->rc == 0 && len > 0) {
        const char *nl = memchr(buf, '\n', len);
        size_t take = nl ? (size_t)(nl - buf) : len;

        if (p->carry_len > 0 || nl == NULL) { /* the line goes on from, or into, the carry */
            if (take > P4_PROMTEXT_LINE_MAX - p->carry_len) {
                (void)too_long(p);
                break;
            }
            if (p->carry == NULL)
                p->carry = p4_malloc(P4_PROMTEXT_LINE_MAX);
            memcpy(p->carry + p->carry_len, buf, take);
            p->carry_len += take;
            if (nl == NULL)
                break;
            (void)line(p, p->carry, p->carry_len);
            p->carry_len = 0;
        } else if (take > P4_PROMTEXT_LINE_MAX) {
            (void)too_long(p);
            break;
        } else {
            (void)line(p, buf, take);
        }
        buf += take + 1;
        len -= take + 1;
    }
    return result(p, err);
}

int p4_promtext_finish(struct p4_promtext *p, struct p4_error *err)
{
    if (p->rc == 0 && p->carry_len > 0) {
        (void)line(p, p->carry, p->carry_len);
        p->carry_len = 0;
    }
    return result(p, err);
}

void p4_promtext_close(struct p4_promtext *p)
{
    free(p->carry);
    p->carry = NULL;
    p->carry_len = 0;
}

bool p4_promtext_is_of(enum p4_promtext_kind kind, const char *name, size_t len, const char *want)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count", "_gcount", "_gsum"};
    size_t w = want ? strlen(want) : 0;

    if (w == 0 || len < w || memcmp(name, want, w) != 0)
        return false;
    if (len == w)
        return true;
    if (kind != P4_PROMTEXT_SAMPLE)
        return false;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (len - w == strlen(suffixes[i]) && memcmp(name + w, suffixes[i], len - w) == 0)
            return true;
    }
    return false;
}

struct finding {
    const char *const *want;
    int n;
    uint64_t found;
};

static void on_found(enum p4_promtext_kind kind, const char *name, size_t len, void *data)
{
    struct finding *f = data;

    for (int i = 0; i < f->n; i++) {
        if (!(f->found & (UINT64_C(1) << i)) && p4_promtext_is_of(kind, name, len, f->want[i]))
            f->found |= UINT64_C(1) << i;
    }
}

int p4_promtext_find(const char *body, size_t len, const char *const *want, int n,
                     struct p4_promtext_found *out, struct p4_error *err)
{
    struct finding f = {.want = want, .n = n < 0 ? 0 : n, .found = 0};
    struct p4_promtext p;
    int rc;

    if (f.n > P4_PROMTEXT_WANT_MAX)
        f.n = P4_PROMTEXT_WANT_MAX;
    p4_promtext_init(&p, on_found, &f);
    rc = p4_promtext_feed(&p, body ? body : "", body ? len : 0, err);
    if (rc == 0)
        rc = p4_promtext_finish(&p, err);
    p4_promtext_close(&p);
    out->found = f.found;
    out->samples = p.samples;
    out->families = p.families;
    return rc;
}
