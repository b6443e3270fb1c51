/* helmout.c: helm's output read as a reason and a message (see helmout.h). */
#include "helmout.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/text.h"

#define VIOLATIONS_MAX 64
#define CHART_NAME_MAX 64
#define PATH_MAX_QUOTE 160
#define COMMAND_MAX 32
#define API_MESSAGE_MAX 400
#define QUOTE_PARTS 8
#define CLEAN_MAX 512

/* helm 3 (santhosh-tekuri/jsonschema) heads its list of violations with this. */
#define SCHEMA_HEADER "values don't meet the specifications of the schema(s)"

static const char *const reason_names[] = {
#define P4_HELM_ROW(name, reason) reason,
    P4_HELM_REASON_MAP(P4_HELM_ROW)
#undef P4_HELM_ROW
};

const char *p4_helm_reason_name(enum p4_helm_reason r)
{
    if ((size_t)r >= sizeof(reason_names) / sizeof(reason_names[0]))
        return "Unknown";
    return reason_names[r];
}

/* ---- spans of untrusted text (p4_span, text.h): never NUL-terminated, never written ---- */

static struct p4_span skip(struct p4_span s, size_t k)
{
    if (k > s.n)
        k = s.n;
    s.p += k;
    s.n -= k;
    return s;
}

static bool starts(struct p4_span s, const char *lit)
{
    size_t n = strlen(lit);

    return s.n >= n && memcmp(s.p, lit, n) == 0;
}

static bool ends(struct p4_span s, const char *lit)
{
    size_t n = strlen(lit);

    return s.n >= n && memcmp(s.p + s.n - n, lit, n) == 0;
}

static const char *find(struct p4_span s, const char *lit)
{
    size_t n = strlen(lit);

    if (s.n < n)
        return NULL;
    return memmem(s.p, s.n, lit, n);
}

static bool has(struct p4_span s, const char *lit)
{
    return find(s, lit) != NULL;
}

static bool has_any(struct p4_span s, const char *const *lits)
{
    for (; *lits != NULL; lits++) {
        if (has(s, *lits))
            return true;
    }
    return false;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

static struct p4_span trim(struct p4_span s)
{
    while (s.n > 0 && blank(s.p[0]))
        s = skip(s, 1);
    while (s.n > 0 && blank(s.p[s.n - 1]))
        s.n--;
    return s;
}

static size_t indent(struct p4_span s)
{
    size_t i = 0;

    while (i < s.n && blank(s.p[i]))
        i++;
    return i;
}

struct lines {
    struct p4_span text;
    size_t pos;
};

/* The next line (without "\n" or "\r\n") of it->text; false at the end. */
static bool next_line(struct lines *it, struct p4_span *line)
{
    const char *nl;
    size_t left;

    if (it->pos >= it->text.n)
        return false;
    line->p = it->text.p + it->pos;
    left = it->text.n - it->pos;
    nl = memchr(line->p, '\n', left);
    line->n = nl != NULL ? (size_t)(nl - line->p) : left;
    it->pos += line->n + (nl != NULL ? 1 : 0);
    if (line->n > 0 && line->p[line->n - 1] == '\r')
        line->n--;
    return true;
}

/* ---- the message: bounded, always NUL-terminated, printable ASCII ---- */

struct msg {
    char *p;
    size_t size, len;
    bool cut;
};

static void msg_init(struct msg *m, char *p, size_t size)
{
    m->p = p;
    m->size = p != NULL ? size : 0;
    m->len = 0;
    m->cut = false;
    if (m->size > 0)
        m->p[0] = '\0';
}

static void put_raw(struct msg *m, const char *s, size_t n)
{
    size_t room;

    if (m->size == 0)
        return;
    room = m->size - 1 - m->len;
    if (n > room) {
        n = room;
        m->cut = true;
    }
    memcpy(m->p + m->len, s, n);
    m->len += n;
    m->p[m->len] = '\0';
}

static void put(struct msg *m, const char *s)
{
    put_raw(m, s, strlen(s));
}

static void putf(struct msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct msg *m, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put_raw(m, tmp, strlen(tmp));
}

/* Mark a message that did not fit with a trailing "...". */
static void msg_finish(struct msg *m)
{
    if (m->cut && m->size >= 4)
        memcpy(m->p + m->len - 3, "...", 3);
}

static bool url_userinfo_end(char c)
{
    return c == '/' || c == ' ' || c == '"' || c == '\'' || c == '@' || c == '\0';
}

/*
 * Quote at most max bytes of s (max <= CLEAN_MAX - 4): the user:password@ part of URLs becomes
 * ***@ (first, on the raw bytes, so no cut or cleaning can bring a password back), then the
 * text.h rule in printable ASCII, control characters as spaces; a cut ends in "...".
 */
static void put_clean(struct msg *m, struct p4_span s, size_t max)
{
    char masked[CLEAN_MAX], tmp[CLEAN_MAX];
    size_t o = 0, i = 0;

    if (max > sizeof(tmp) - 4)
        max = sizeof(tmp) - 4;
    if (max < 4)
        max = 4;
    s = trim(s);
    while (i < s.n && o < sizeof(masked)) {
        if (s.n - i > 3 && memcmp(s.p + i, "://", 3) == 0) {
            size_t j = i + 3;

            while (j < s.n && !url_userinfo_end(s.p[j]))
                j++;
            if (j < s.n && s.p[j] == '@' && j > i + 3) {
                if (o + 7 > sizeof(masked))
                    break;
                for (const char *m = "://***@"; *m != '\0'; m++)
                    masked[o++] = *m; /* masked is counted, not NUL-terminated */
                i = j + 1;
                continue;
            }
        }
        masked[o++] = s.p[i++];
    }
    o = p4_text_clean(tmp, max + 1, masked, o,
                      P4_TEXT_ASCII | P4_TEXT_CONTROL_SPACE | P4_TEXT_KEEP_RUNS |
                          (i < s.n ? P4_TEXT_MORE : 0));
    put_raw(m, tmp, o);
}

/* "helm" or "helm <command>". */
static void put_helm(struct msg *m, const char *command)
{
    put(m, "helm");
    if (command != NULL && command[0] != '\0') {
        put(m, " ");
        put_clean(m, p4_span_of(command), COMMAND_MAX);
    }
}

/* A quoted line and up to QUOTE_PARTS - 1 continuation lines, within max bytes. */
struct quote {
    struct p4_span part[QUOTE_PARTS];
    size_t n;
    size_t max; /* 0: P4_HELM_QUOTE_MAX */
};

static void put_quote(struct msg *m, const struct quote *q)
{
    size_t start = m->len, max = q->max ? q->max : P4_HELM_QUOTE_MAX;

    for (size_t i = 0; i < q->n; i++) {
        size_t used = m->len - start;

        if (used + 8 >= max)
            break;
        if (i > 0)
            put(m, " ");
        put_clean(m, q->part[i], max - used - (i > 0 ? 1 : 0));
    }
}

/* ---- values.schema.json violations ---- */

struct violation {
    struct p4_span chart, path, text;
};

struct schema {
    struct violation v[VIOLATIONS_MAX];  /* the first VIOLATIONS_MAX in sorted order */
    size_t kept, total;                  /* total counts those not kept too */
    bool header;                         /* helm's "values don't meet ..." line was seen */
    struct p4_span broken, broken_chart; /* the schema itself is unusable: helm's line */
    /* The entry read last, held back until the next line shows whether it heads a group. */
    struct violation pending;
    bool has_pending;
    size_t pending_indent;
    unsigned pending_block;
};

static bool same(const struct violation *a, const struct violation *b)
{
    return p4_span_cmp(a->chart, b->chart) == 0 && p4_span_cmp(a->path, b->path) == 0 &&
           p4_span_cmp(a->text, b->text) == 0;
}

static int violation_cmp(const void *a, const void *b)
{
    const struct violation *x = a, *y = b;
    int c = p4_span_cmp(x->chart, y->chart);

    if (c == 0)
        c = p4_span_cmp(x->path, y->path);
    if (c == 0)
        c = p4_span_cmp(x->text, y->text);
    return c;
}

/* Count v and keep it if it is among the first VIOLATIONS_MAX in sorted order. */
static void commit(struct schema *sc, const struct violation *v)
{
    size_t max = 0;

    for (size_t i = 0; i < sc->kept; i++) {
        if (same(&sc->v[i], v))
            return;
    }
    sc->total++;
    if (sc->kept < VIOLATIONS_MAX) {
        sc->v[sc->kept++] = *v;
        return;
    }
    for (size_t i = 1; i < sc->kept; i++) {
        if (violation_cmp(&sc->v[i], &sc->v[max]) > 0)
            max = i;
    }
    if (violation_cmp(v, &sc->v[max]) < 0)
        sc->v[max] = *v;
}

static void flush_pending(struct schema *sc)
{
    if (sc->has_pending)
        commit(sc, &sc->pending);
    sc->has_pending = false;
}

/* A "- at '<path>': <text>" line (trimmed t, indented by ind) of block `block`. */
static void add_violation(struct schema *sc, unsigned block, struct p4_span chart, struct p4_span t,
                          size_t ind)
{
    struct violation v = {chart, {NULL, 0}, {NULL, 0}};
    const char *q;

    t = skip(t, strlen("- at '"));
    q = find(t, "': ");
    if (q != NULL) {
        v.path.p = t.p;
        v.path.n = (size_t)(q - t.p);
        v.text = skip(t, v.path.n + 3);
    } else {
        v.path = t;
        if (ends(v.path, "'"))
            v.path.n--;
        v.text.p = t.p + t.n;
    }
    /* An entry with more-indented entries under it is a group ("validation failed"): drop it. */
    if (sc->has_pending && !(sc->pending_block == block && ind > sc->pending_indent))
        commit(sc, &sc->pending);
    sc->pending = v;
    sc->has_pending = true;
    sc->pending_indent = ind;
    sc->pending_block = block;
}

/* "webapp:" alone on a line names the chart of the violations under it. */
static bool chart_line(struct p4_span t)
{
    if (t.n < 2 || t.p[t.n - 1] != ':' || t.p[0] == '-' || t.p[0] == '[')
        return false;
    for (size_t i = 0; i < t.n; i++) {
        if (blank(t.p[i]))
            return false;
    }
    return true;
}

/* After "Error: " or "[ERROR] <file>: ", where helm prefixes its lines. */
static struct p4_span strip_prefix(struct p4_span t)
{
    if (starts(t, "Error: "))
        return skip(t, strlen("Error: "));
    if (starts(t, "[ERROR] ")) {
        const char *c = find(t, ": ");

        if (c != NULL)
            return skip(t, (size_t)(c - t.p) + 2);
    }
    return t;
}

/*
 * Collect violations. With blocks_only, only those in the blocks helm heads
 * with SCHEMA_HEADER (where each chart is named); otherwise every "- at" line.
 */
static void scan_schema(struct schema *sc, const struct p4_span *streams, size_t nstreams,
                        bool blocks_only)
{
    unsigned block = 0;

    for (size_t s = 0; s < nstreams; s++) {
        struct lines it = {streams[s], 0};
        struct p4_span line, chart = {NULL, 0};
        bool in_block = false, chart_broken = false;

        block++;
        while (next_line(&it, &line)) {
            struct p4_span t = trim(line);

            if (has(line, SCHEMA_HEADER)) {
                sc->header = true;
                in_block = true;
                chart_broken = false;
                chart.p = NULL;
                chart.n = 0;
                block++;
            } else if (in_block) {
                if (t.n == 0) {
                    in_block = false;
                } else if (starts(t, "- at '")) {
                    if (!chart_broken)
                        add_violation(sc, block, chart, t, indent(line));
                } else if (chart_line(t)) {
                    chart.p = t.p;
                    chart.n = t.n - 1;
                    chart_broken = false;
                } else {
                    /* Not a violation: helm could not use this chart's schema at all. */
                    if (sc->broken.n == 0) {
                        sc->broken = t;
                        sc->broken_chart = chart;
                    }
                    chart_broken = true;
                }
            } else if (!blocks_only) {
                struct p4_span u = strip_prefix(t);

                if (starts(u, "- at '"))
                    add_violation(sc, block, chart, u, u.p == t.p ? indent(line) : 0);
                else
                    block++;
            }
        }
    }
    flush_pending(sc);
}

/* helm echoes the value itself in pattern and format violations: name it, do not quote it. */
static void put_violation_text(struct msg *m, struct p4_span text)
{
    static const char *const echoes[] = {"' does not match pattern ", "' is not valid ", NULL};

    if (starts(text, "'")) {
        for (size_t i = 0; echoes[i] != NULL; i++) {
            const char *k = find(skip(text, 1), echoes[i]);

            if (k != NULL) {
                put(m, "value "); /* the rest starts with a space put_clean trims */
                text = skip(text, (size_t)(k - text.p) + 1);
                break;
            }
        }
    }
    put_clean(m, text, P4_HELM_QUOTE_MAX);
}

static void schema_message(struct msg *m, struct schema *sc)
{
    size_t charts = 0, more = 0, i;

    if (sc->broken.n > 0) {
        put(m, "the chart's values.schema.json cannot be used: ");
        if (sc->broken_chart.n > 0) {
            put_clean(m, sc->broken_chart, CHART_NAME_MAX);
            put(m, ": ");
        }
        put_clean(m, sc->broken, P4_HELM_QUOTE_MAX);
        return;
    }
    put(m, "values do not match the chart's values.schema.json");
    if (sc->kept == 0) {
        put(m, " (helm named no field)");
        return;
    }
    qsort(sc->v, sc->kept, sizeof(sc->v[0]), violation_cmp);
    for (i = 0; i < sc->kept; i++) {
        if (i == 0 || p4_span_cmp(sc->v[i].chart, sc->v[i - 1].chart) != 0)
            charts++;
    }
    put(m, ": ");
    for (i = 0; i < sc->kept; i++) {
        const struct violation *v = &sc->v[i];
        char buf[CHART_NAME_MAX + PATH_MAX_QUOTE + P4_HELM_QUOTE_MAX + 16];
        struct msg e;
        size_t reserve = i + 1 < sc->total ? 16 : 0; /* room for " (+N more)" */

        msg_init(&e, buf, sizeof(buf));
        if (charts > 1 && v->chart.n > 0) {
            put_clean(&e, v->chart, CHART_NAME_MAX);
            put(&e, ":");
        }
        if (v->path.n == 0)
            put(&e, "/");
        else
            put_clean(&e, v->path, PATH_MAX_QUOTE);
        put(&e, ": ");
        put_violation_text(&e, v->text);
        if (i > 0 && m->size > 0 && m->len + 2 + e.len + reserve > m->size - 1) {
            more = sc->total - i;
            break;
        }
        if (i > 0)
            put(m, "; ");
        put_raw(m, buf, e.len);
    }
    if (more == 0 && sc->total > sc->kept)
        more = sc->total - sc->kept;
    if (more > 0)
        putf(m, " (+%zu more)", more);
}

/* ---- template rendering ---- */

static bool render_error(struct p4_span t)
{
    static const char *const prefixes[] = {
        "template: ",           "execution error at (",   "parse error at (",
        "YAML parse error on ", "unable to parse YAML: ", NULL,
    };

    for (size_t i = 0; prefixes[i] != NULL; i++) {
        if (starts(t, prefixes[i]))
            return true;
    }
    return false;
}

/*
 * helm template's "Error: template: ..." or helm lint's "[ERROR] templates/x.yaml: ...". After
 * "Error: ", the lines that follow up to the first blank one are the same paragraph (a `fail`
 * whose text spans lines, as charts' value checks write them) and are quoted too.
 */
static bool find_render_error(const struct p4_span *streams, size_t nstreams, struct quote *q)
{
    for (size_t s = 0; s < nstreams; s++) {
        struct lines it = {streams[s], 0};
        struct p4_span line;

        while (next_line(&it, &line)) {
            struct p4_span t = trim(line);

            if (starts(t, "Error: ") && render_error(skip(t, strlen("Error: ")))) {
                q->part[0] = skip(t, strlen("Error: "));
                q->n = 1;
                q->max = P4_HELM_RENDER_QUOTE_MAX;
                while (q->n < QUOTE_PARTS && next_line(&it, &line) && trim(line).n > 0)
                    q->part[q->n++] = trim(line);
                return true;
            }
            if (starts(t, "[ERROR] ")) {
                struct p4_span r = skip(t, strlen("[ERROR] "));
                const char *c = find(r, ": ");

                if (c != NULL && render_error(skip(r, (size_t)(c - r.p) + 2))) {
                    bool dir = c == r.p || c[-1] == '/'; /* "templates/": no file named */

                    q->part[0] = dir ? skip(r, (size_t)(c - r.p) + 2) : r;
                    q->n = 1;
                    return true;
                }
            }
        }
    }
    return false;
}

/* ---- fetching the chart ---- */

/* helm's own error line ("Error: ..." on stderr, "Error ..." in lint's report), without the prefix.
 */
static bool error_line(struct p4_span line, struct p4_span *text)
{
    struct p4_span t = trim(line);

    if (starts(t, "Error: "))
        t = skip(t, strlen("Error: "));
    else if (starts(t, "Error "))
        t = skip(t, strlen("Error "));
    else
        return false;
    if (has(t, "chart(s) linted"))
        return false; /* lint's summary: the problems are elsewhere */
    *text = t;
    return true;
}

static bool not_found(struct p4_span t)
{
    static const char *const any[] = {
        "response status code 404",
        " 404 Not Found",
        "manifest unknown",
        "name unknown",
        "Chart.yaml: no such file or directory",
        "no chart version found",
        NULL,
    };

    if (starts(t, "chart \"") && has(t, " not found in "))
        return true;
    if ((starts(t, "path \"") || starts(t, "repo ")) && ends(t, " not found"))
        return true;
    return ends(t, ": not found") || has_any(t, any);
}

static enum p4_helm_reason fetch_reason(struct p4_span t)
{
    static const char *const auth[] = {
        "response status code 401",
        "response status code 403",
        "401 Unauthorized",
        "403 Forbidden",
        "basic credential not found",
        "unauthorized: ",
        "denied: ",
        NULL,
    };
    static const char *const tls[] = {
        "x509: ", "tls: ", "server gave HTTP response to HTTPS client", "certificate", NULL,
    };
    static const char *const unavailable[] = {
        "connection refused",
        "no such host",
        "i/o timeout",
        "Client.Timeout",
        "deadline exceeded",
        "connection reset",
        "network is unreachable",
        "no route to host",
        "TLS handshake timeout",
        "response status code 5",
        "500 Internal Server Error",
        "502 Bad Gateway",
        "503 Service Unavailable",
        "504 Gateway Timeout",
        NULL,
    };

    if (not_found(t))
        return P4_HELM_CHART_NOT_FOUND;
    if (has_any(t, auth))
        return P4_HELM_REPO_AUTH_FAILED;
    if (has(t, "TLS handshake timeout"))
        return P4_HELM_REPO_UNAVAILABLE;
    if (has_any(t, tls))
        return P4_HELM_REPO_TLS_ERROR;
    if (has_any(t, unavailable))
        return P4_HELM_REPO_UNAVAILABLE;
    return P4_HELM_FAILED;
}

static enum p4_helm_reason find_fetch_error(const struct p4_span *streams, size_t nstreams,
                                            struct p4_span *quote)
{
    for (size_t s = 0; s < nstreams; s++) {
        struct lines it = {streams[s], 0};
        struct p4_span line, t;

        while (next_line(&it, &line)) {
            enum p4_helm_reason r;

            if (!error_line(line, &t))
                continue;
            r = fetch_reason(t);
            if (r != P4_HELM_FAILED) {
                *quote = t;
                return r;
            }
        }
    }
    return P4_HELM_FAILED;
}

/* ---- helm lint's report ---- */

/* Count lint's problems and pick the one to quote: the first error, else the first warning. */
static size_t lint_problems(struct p4_span out, struct quote *q)
{
    struct lines it = {out, 0};
    struct p4_span line, t = {NULL, 0};
    size_t count = 0;
    int best = 0; /* 3: [ERROR], 2: "Error ...", 1: [WARNING] */
    bool continuing = false;

    q->n = 0;
    while (next_line(&it, &line)) {
        int rank = 0;

        if (line.n > 0 && line.p[0] == '\t') {
            if (continuing && q->n < QUOTE_PARTS)
                q->part[q->n++] = line;
            continue;
        }
        continuing = false;
        if (starts(line, "[ERROR] "))
            rank = 3;
        else if (error_line(line, &t))
            rank = 2;
        else if (starts(line, "[WARNING] "))
            rank = 1;
        if (rank == 0)
            continue;
        count++;
        if (rank > best) {
            best = rank;
            q->part[0] = rank == 2 ? t : line;
            q->n = 1;
            continuing = true;
        }
    }
    return count;
}

/* ---- the classifier ---- */

/* helm's last error line on stderr, else its last non-blank line (never stdout: manifests). */
static bool last_error(struct p4_span err, struct p4_span *quote)
{
    struct lines it = {err, 0};
    struct p4_span line, t;
    bool found = false, found_error = false;

    while (next_line(&it, &line)) {
        if (error_line(line, &t)) {
            *quote = t;
            found = found_error = true;
        } else if (!found_error && trim(line).n > 0) {
            *quote = line;
            found = true;
        }
    }
    return found;
}

enum p4_helm_reason p4_helm_classify(const char *command, int exit_status, const char *out,
                                     size_t out_len, const char *err, size_t err_len, char *msg,
                                     size_t size)
{
    struct p4_span streams[2] = {{err, err != NULL ? err_len : 0},
                                 {out, out != NULL ? out_len : 0}};
    struct schema sc;
    struct quote q = {{{NULL, 0}}, 0, 0};
    struct msg m;
    enum p4_helm_reason r;
    bool lint = command != NULL && strncmp(command, "lint", 4) == 0 &&
                (command[4] == '\0' || command[4] == ' ');
    size_t problems;

    msg_init(&m, msg, size);
    if (exit_status == 0) {
        r = P4_HELM_OK;
        goto out;
    }
    memset(&sc, 0, sizeof(sc));
    scan_schema(&sc, streams, 2, true);
    if (!sc.header)
        scan_schema(&sc, streams, 2, false);
    if (sc.header || sc.total > 0 || sc.broken.n > 0) {
        r = P4_HELM_VALUES_SCHEMA_INVALID;
        schema_message(&m, &sc);
        goto out;
    }
    if (find_render_error(streams, 2, &q)) {
        r = P4_HELM_TEMPLATE_RENDER_FAILED;
        put(&m, "the chart's templates do not render: ");
        put_quote(&m, &q);
        goto out;
    }
    r = find_fetch_error(streams, 2, &q.part[0]);
    if (r != P4_HELM_FAILED) {
        q.n = 1;
        put_helm(&m, command);
        put(&m, r == P4_HELM_CHART_NOT_FOUND    ? " could not find the chart: "
                : r == P4_HELM_REPO_AUTH_FAILED ? " was refused by the chart repository: "
                : r == P4_HELM_REPO_TLS_ERROR
                    ? " could not verify the chart repository's TLS certificate: "
                    : " could not reach the chart repository: ");
        put_quote(&m, &q);
        goto out;
    }
    problems = lint_problems(streams[1], &q);
    if (lint || (command == NULL && problems > 0)) {
        r = P4_HELM_LINT_FAILED;
        if (problems > 0) {
            putf(&m, "the chart fails helm lint (%zu problem%s): ", problems,
                 problems == 1 ? "" : "s");
            put_quote(&m, &q);
            goto out;
        }
        put(&m, "the chart fails helm lint");
    } else {
        r = P4_HELM_FAILED;
        put_helm(&m, command);
        putf(&m, " failed (exit status %d)", exit_status);
    }
    q.n = 0;
    if (last_error(streams[0], &q.part[0])) {
        q.n = 1;
        put(&m, ": ");
        put_quote(&m, &q);
    } else if (r == P4_HELM_FAILED) {
        put(&m, " without an error message");
    }
out:
    msg_finish(&m);
    return r;
}

enum p4_helm_reason p4_helm_classify_run(const char *command, const struct p4_childproc_result *res,
                                         char *msg, size_t size)
{
    struct msg m;

    msg_init(&m, msg, size);
    if (res == NULL) {
        put_helm(&m, command);
        put(&m, " gave no result");
        msg_finish(&m);
        return P4_HELM_FAILED;
    }
    if (res->timed_out) {
        put_helm(&m, command);
        if (res->timeout_ms % 1000 == 0)
            putf(&m, " did not finish within %llu s and was stopped",
                 (unsigned long long)(res->timeout_ms / 1000));
        else
            putf(&m, " did not finish within %llu ms and was stopped",
                 (unsigned long long)res->timeout_ms);
        msg_finish(&m);
        return P4_HELM_TIMED_OUT;
    }
    if (res->term_signal != 0) {
        put_helm(&m, command);
        putf(&m, " was killed by signal %d", res->term_signal);
        msg_finish(&m);
        return P4_HELM_FAILED;
    }
    if (res->exit_status == 0 && res->out_truncated) {
        put_helm(&m, command);
        putf(&m, " wrote more than the %zu bytes of output the operator keeps", res->out_len);
        msg_finish(&m);
        return P4_HELM_FAILED;
    }
    return p4_helm_classify(
        command, res->exit_status > 255 || res->exit_status < 0 ? 255 : (int)res->exit_status,
        res->out, res->out_len, res->err, res->err_len, msg, size);
}

enum p4_helm_reason p4_helm_dry_run_rejected(const char *kind, const char *namespace_,
                                             const char *name, const char *api_message, char *msg,
                                             size_t size)
{
    struct msg m;

    msg_init(&m, msg, size);
    put(&m, "the API server rejected ");
    put_clean(&m, p4_span_of(kind != NULL && kind[0] != '\0' ? kind : "an object"), CHART_NAME_MAX);
    if (name != NULL && name[0] != '\0') {
        put(&m, " ");
        if (namespace_ != NULL && namespace_[0] != '\0') {
            put_clean(&m, p4_span_of(namespace_), CHART_NAME_MAX);
            put(&m, "/");
        }
        put_clean(&m, p4_span_of(name), 253);
    }
    put(&m, " in a server-side dry run");
    if (api_message != NULL && api_message[0] != '\0') {
        put(&m, ": ");
        put_clean(&m, p4_span_of(api_message), API_MESSAGE_MAX);
    }
    msg_finish(&m);
    return P4_HELM_DRY_RUN_REJECTED;
}
