/*
 * logscan.c: pod logs matched line by line (see logscan.h).
 */
#include "logscan.h"

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/text.h"

#define GROUPS_MAX 32    /* nesting of ( ) */
#define INTERVAL_MAX 255 /* RE_DUP_MAX's POSIX minimum */

static const char *const default_critical[] = {
    "panic:", "FATAL", "Traceback \\(most recent call last\\)", "OutOfMemoryError", "segfault"};

/* One set of patterns (critical or allow): one alternation, or each alone. */
struct patset {
    regex_t *re;  /* each pattern alone, while `all` is not used */
    int n;        /* compiled expressions in re */
    regex_t all;  /* every pattern as one alternation */
    bool has_all; /* all is compiled (and re empty) */
    bool present; /* any pattern at all */
};

struct p4_logscan {
    struct patset critical, allow;
    char source[P4_LOGSCAN_SOURCE_MAX];
    char line[P4_LOGSCAN_LINE_MAX + 1];
    size_t len;
    bool open; /* bytes of a line not yet ended were fed */
    bool over; /* the open line is longer than P4_LOGSCAN_LINE_MAX */
    struct p4_logscan_result res;
};

/* ---- patterns ---- */

/* The end of the bracket expression that opens at p[i] ('['), or the pattern's end. */
static size_t bracket_end(const char *p, size_t i, size_t n)
{
    size_t j = i + 1;

    if (j < n && p[j] == '^')
        j++;
    if (j < n && p[j] == ']') /* a ']' first is a member */
        j++;
    while (j < n && p[j] != ']') {
        if (p[j] == '[' && j + 1 < n && (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
            char close = p[j + 1];
            j += 2;
            while (j + 1 < n && !(p[j] == close && p[j + 1] == ']'))
                j++;
            j += 2;
            continue;
        }
        j++;
    }
    return j < n ? j : n - 1;
}

/* An interval "{n}", "{n,}" or "{n,m}" at p[i]: its largest count (n + 1 for "{n,}") and its
 * last byte's index; false when it is not one (regcomp then says what it is). */
static bool interval_at(const char *p, size_t i, size_t n, unsigned long *most, size_t *end)
{
    unsigned long lo = 0, hi = 0;
    size_t j = i + 1;
    bool comma = false, has_hi = false;

    if (j >= n || !p4_ascii_digit(p[j]))
        return false;
    while (j < n && p4_ascii_digit(p[j]) && lo <= 100000)
        lo = lo * 10 + (unsigned long)(p[j++] - '0');
    if (j < n && p[j] == ',') {
        comma = true;
        j++;
        while (j < n && p4_ascii_digit(p[j]) && hi <= 100000) {
            hi = hi * 10 + (unsigned long)(p[j++] - '0');
            has_hi = true;
        }
    }
    if (j >= n || p[j] != '}')
        return false;
    *most = has_hi ? hi : comma ? lo + 1 : lo;
    if (lo > *most)
        *most = lo;
    *end = j;
    return true;
}

/*
 * Whether p may be compiled: no back-reference, intervals of at most 255, groups nested at most
 * GROUPS_MAX deep, and at most P4_LOGSCAN_COST_MAX pieces once its intervals are expanded (an
 * atom is one piece; a group the sum of its own and one for itself, as glibc gives even an empty
 * group nodes; x{n,m} is x m times over, x+ twice, as glibc copies them). why gets the clause.
 * *lone is set when p has a ')' that closes no group (glibc reads it as a literal; put between
 * parentheses, it would close them instead).
 */
static bool pattern_affordable(const char *p, bool *lone, char *why, size_t size)
{
    size_t n = strlen(p), sums[GROUPS_MAX + 1] = {0}, last = 0;
    int depth = 0;

    for (size_t i = 0; i < n; i++) {
        size_t atom = 1, end;
        unsigned long most;
        switch (p[i]) {
        case '\\':
            if (i + 1 < n && p[i + 1] >= '1' && p[i + 1] <= '9') {
                (void)snprintf(why, size, "it has a back-reference (\\%c)", p[i + 1]);
                return false;
            }
            i++;
            break;
        case '[':
            i = bracket_end(p, i, n);
            break;
        case '(':
            if (depth == GROUPS_MAX) {
                (void)snprintf(why, size, "it nests groups deeper than %d", GROUPS_MAX);
                return false;
            }
            sums[++depth] = 0;
            last = 0;
            continue;
        case ')':
            if (depth == 0) {
                *lone = true;
                break; /* a lone ')' is an atom */
            }
            atom = sums[depth--] + 1; /* the group's own nodes: (()){100}){100} costs too */
            break;
        case '|':
            last = 0;
            continue;
        case '*':
        case '?':
            continue; /* a loop or an option costs no copy */
        case '+':     /* x+ is compiled as xx*: one copy more (x++++... doubles each time) */
            sums[depth] += last;
            last *= 2;
            if (sums[depth] > P4_LOGSCAN_COST_MAX || last > P4_LOGSCAN_COST_MAX)
                goto costly;
            continue;
        case '{':
            if (!interval_at(p, i, n, &most, &end))
                break;
            if (most > INTERVAL_MAX) {
                (void)snprintf(why, size, "it repeats something %lu times (at most %d)", most,
                               INTERVAL_MAX);
                return false;
            }
            i = end;
            sums[depth] += last * (most > 0 ? most - 1 : 0);
            last *= most;
            if (sums[depth] > P4_LOGSCAN_COST_MAX || last > P4_LOGSCAN_COST_MAX)
                goto costly;
            continue;
        default:
            break;
        }
        sums[depth] += atom;
        last = atom;
        if (sums[depth] > P4_LOGSCAN_COST_MAX)
            goto costly;
    }
    return true;
costly:
    (void)snprintf(why, size, "its repetitions expand it past %d pieces", P4_LOGSCAN_COST_MAX);
    return false;
}

/* Compile one pattern alone, into re; on failure err names it. */
static int compile_one(regex_t *re, const char *kind, int i, const char *p, bool *lone,
                       struct p4_error *err)
{
    char shown[120], why[200];
    int rc;

    p4_text_clean(shown, sizeof(shown), p ? p : "", p ? strlen(p) : 0, P4_TEXT_QUOTED);
    if (p == NULL || p[0] == '\0')
        return p4_error_set(err, P4_ERR_INVAL, "%s[%d] is empty", kind, i);
    if (strlen(p) > P4_LOGSCAN_PATTERN_LEN_MAX)
        return p4_error_set(err, P4_ERR_INVAL, "%s[%d] \"%s\" is longer than %d bytes", kind, i,
                            shown, P4_LOGSCAN_PATTERN_LEN_MAX);
    if (!pattern_affordable(p, lone, why, sizeof(why)))
        return p4_error_set(err, P4_ERR_INVAL, "%s[%d] \"%s\" is refused: %s", kind, i, shown, why);
    rc = regcomp(re, p, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, re, why, sizeof(why));
        return p4_error_set(err, P4_ERR_INVAL,
                            "%s[%d] \"%s\" is not a valid POSIX extended regular expression: %s",
                            kind, i, shown, why);
    }
    return 0;
}

static void patset_close(struct patset *ps)
{
    for (int i = 0; i < ps->n; i++)
        regfree(&ps->re[i]);
    free(ps->re);
    if (ps->has_all)
        regfree(&ps->all);
    *ps = (struct patset){0};
}

/* Compile n patterns into ps: each alone (to name a bad one), then as one alternation. */
static int patset_init(struct patset *ps, const char *kind, const char *const *pats, int n,
                       struct p4_error *err)
{
    size_t total = 1;
    bool lone = false;
    char *alt;

    *ps = (struct patset){0};
    if (n > P4_LOGSCAN_PATTERNS_MAX)
        return p4_error_set(err, P4_ERR_INVAL, "%s has %d patterns, at most %d", kind, n,
                            P4_LOGSCAN_PATTERNS_MAX);
    if (n <= 0)
        return 0;
    ps->re = p4_calloc((size_t)n, sizeof(*ps->re));
    for (int i = 0; i < n; i++) {
        if (compile_one(&ps->re[i], kind, i, pats[i], &lone, err) != 0) {
            patset_close(ps);
            return P4_ERR_INVAL;
        }
        ps->n++;
        total += strlen(pats[i]) + 3;
    }
    ps->present = true;
    if (n == 1 || lone)
        return 0;
    /* "(p0)|(p1)|...": one pass over a line. A set with a lone ')' (it would close the
       parentheses around its pattern), or that does not compile so, is matched pattern by
       pattern. */
    alt = p4_malloc(total);
    alt[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t used = strlen(alt);
        (void)snprintf(alt + used, total - used, "%s(%s)", i ? "|" : "", pats[i]);
    }
    if (regcomp(&ps->all, alt, REG_EXTENDED | REG_NOSUB) == 0) {
        for (int i = 0; i < ps->n; i++)
            regfree(&ps->re[i]);
        ps->n = 0;
        ps->has_all = true;
    }
    free(alt);
    return 0;
}

static bool patset_match(const struct patset *ps, const char *line)
{
    if (ps->has_all)
        return regexec(&ps->all, line, 0, NULL, 0) == 0;
    for (int i = 0; i < ps->n; i++) {
        if (regexec(&ps->re[i], line, 0, NULL, 0) == 0)
            return true;
    }
    return false;
}

int p4_logscan_new(const char *const *critical, int ncritical, const char *const *allow, int nallow,
                   struct p4_logscan **out, struct p4_error *err)
{
    struct p4_logscan *s = p4_calloc(1, sizeof(*s));

    *out = NULL;
    if (critical == NULL) {
        critical = default_critical;
        ncritical = (int)(sizeof(default_critical) / sizeof(default_critical[0]));
    }
    if (patset_init(&s->critical, "criticalPatterns", critical, ncritical, err) != 0 ||
        patset_init(&s->allow, "allowPatterns", allow, allow ? nallow : 0, err) != 0) {
        p4_logscan_free(s);
        return P4_ERR_INVAL;
    }
    *out = s;
    return 0;
}

void p4_logscan_free(struct p4_logscan *s)
{
    if (s == NULL)
        return;
    patset_close(&s->critical);
    patset_close(&s->allow);
    free(s);
}

/* ---- lines ---- */

/* The open line is complete: match it. */
static void end_line(struct p4_logscan *s)
{
    size_t n = s->len;

    if (!s->over && n > 0 && s->line[n - 1] == '\r')
        n--;
    s->line[n] = '\0';
    s->res.lines++;
    if (s->over)
        s->res.cut++;
    if (s->critical.present && patset_match(&s->critical, s->line)) {
        if (s->allow.present && patset_match(&s->allow, s->line)) {
            s->res.allowed++;
        } else {
            s->res.matched++;
            if (s->res.nhits < P4_LOGSCAN_KEEP) {
                struct p4_logscan_hit *h = &s->res.hits[s->res.nhits++];
                (void)snprintf(h->source, sizeof(h->source), "%s", s->source);
                p4_text_clean(h->line, sizeof(h->line), s->line, n, 0);
            }
        }
    }
    s->len = 0;
    s->open = s->over = false;
}

/* n bytes of the open line (no '\n' among them): kept up to P4_LOGSCAN_LINE_MAX. */
static void append(struct p4_logscan *s, const char *p, size_t n)
{
    size_t room = P4_LOGSCAN_LINE_MAX - s->len;

    if (n == 0)
        return;
    s->open = true;
    if (n > room) {
        s->over = true;
        n = room;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\0')
            c = ' ';
        s->line[s->len++] = c;
    }
}

void p4_logscan_begin(struct p4_logscan *s, const char *source)
{
    p4_logscan_end(s);
    p4_text_clean(s->source, sizeof(s->source), source, source ? strlen(source) : 0, 0);
}

void p4_logscan_feed(struct p4_logscan *s, const char *chunk, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(chunk, '\n', len);
        size_t n = nl ? (size_t)(nl - chunk) : len;
        append(s, chunk, n);
        if (nl == NULL)
            return;
        end_line(s);
        chunk += n + 1;
        len -= n + 1;
    }
}

void p4_logscan_end(struct p4_logscan *s)
{
    if (s->open)
        end_line(s);
}

const struct p4_logscan_result *p4_logscan_result(const struct p4_logscan *s)
{
    return &s->res;
}
