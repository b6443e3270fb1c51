/* semver.c: SemVer 2.0.0 versions and Helm's (Masterminds v3) version ranges (see semver.h). */
#include "semver.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/text.h"

/* Bytes of an input string quoted in a message, before it is cut with "...". */
#define SHOWN_MAX 64
#define SHOWN_SIZE (SHOWN_MAX + 4)

/* Part indexes; NO_WILDCARD when major, minor and patch are all written as numbers. */
#define PART_MAJOR 0
#define PART_MINOR 1
#define PART_PATCH 2
#define NO_WILDCARD 3

enum op {
    OP_EQ,    /* "", "=": equal, or a wildcard range (tilde) for a partial version */
    OP_NE,    /* "!=" */
    OP_GT,    /* ">" */
    OP_LT,    /* "<" */
    OP_GE,    /* ">=", "=>" */
    OP_LE,    /* "<=", "=<" */
    OP_TILDE, /* "~", "~>" */
    OP_CARET, /* "^" */
};

/* Longest spellings first, so "~>" is not read as "~" followed by ">". */
static const struct {
    const char *text;
    enum op op;
} ops[] = {
    {"!=", OP_NE}, {">=", OP_GE}, {"=>", OP_GE}, {"<=", OP_LE},   {"=<", OP_LE},   {"~>", OP_TILDE},
    {">", OP_GT},  {"<", OP_LT},  {"=", OP_EQ},  {"~", OP_TILDE}, {"^", OP_CARET},
};

/*
 * One comparison, as Masterminds keeps it: the version compared against, with
 * the parts written as x (or left out) set to 0, and which parts those were.
 */
struct term {
    enum op op;
    bool dirty;       /* some part is a wildcard */
    bool minor_dirty; /* the minor part (and so the patch) is a wildcard: "1.x", "1" */
    bool patch_dirty; /* only the patch part is a wildcard: "1.2.x", "1.2" */
    struct p4_semver con;
};

/* Terms [first, first + len) joined by AND. */
struct group {
    size_t first, len;
    bool has_pre; /* a term names a prerelease: the group then considers prerelease versions */
};

struct p4_semver_range {
    struct term *terms;
    size_t terms_len, terms_cap;
    struct group *groups;
    size_t groups_len, groups_cap;
};

/* Where and why parsing stopped. */
struct fault {
    const char *what;  /* "expected a version", ... */
    const char *after; /* the operator just read, for "expected a version after ..."; or NULL */
    size_t at;         /* byte offset in the input */
    bool show_char;    /* name the byte at `at` */
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/*
 * s made fit to quote in a message: bytes other than printable ASCII, '"' and
 * '\' become '?', and text past SHOWN_MAX bytes is cut and marked "...".
 */
static const char *shown(const char *s, char buf[SHOWN_SIZE])
{
    return p4_error_quote(s, SHOWN_MAX, buf);
}

/* "'x'" for a printable byte, "byte 0x0a" otherwise, "the end" for NUL. */
static const char *shown_char(char c, char buf[16])
{
    unsigned char u = (unsigned char)c;

    if (u == '\0')
        (void)snprintf(buf, 16, "end");
    else if (u >= 0x20 && u < 0x7f)
        (void)snprintf(buf, 16, "'%c'", c);
    else
        (void)snprintf(buf, 16, "byte 0x%02x", u);
    return buf;
}

/* Blanks as Go's regexp \s: what Masterminds allows around operators and between terms. */
static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_wildcard(char c)
{
    return c == 'x' || c == 'X' || c == '*';
}

static bool is_ident_char(char c)
{
    return p4_ascii_alnum(c) || c == '-';
}

static size_t skip_blanks(const char *s, size_t *pos)
{
    size_t start = *pos;

    while (is_blank(s[*pos]))
        (*pos)++;
    return *pos - start;
}

static bool fail(struct fault *f, const char *what, size_t at, bool show_char)
{
    f->what = what;
    f->at = at;
    f->show_char = show_char;
    return false;
}

/* Decimal digits at s[*pos] into *out; leading zeros allowed, as Masterminds' NewVersion does. */
static bool read_number(const char *s, size_t *pos, uint64_t *out, struct fault *f)
{
    size_t i = *pos;
    uint64_t n = 0;

    if (!p4_ascii_digit(s[i]))
        return fail(f,
                    i == 0 || s[i - 1] != '.' ? "expected a number" : "expected a number after '.'",
                    i, true);
    for (; p4_ascii_digit(s[i]); i++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (n > (UINT64_MAX - d) / 10)
            return fail(f, "a number does not fit in 64 bits", *pos, false);
        n = n * 10 + d;
    }
    *out = n;
    *pos = i;
    return true;
}

/*
 * Dot-separated identifiers of [0-9A-Za-z-] at s[*pos] into buf (size
 * P4_SEMVER_PART_MAX); a prerelease's numeric identifiers may not have a
 * leading zero. Stops at the first byte that is neither.
 */
static bool read_idents(const char *s, size_t *pos, bool prerelease, char *buf, struct fault *f)
{
    size_t i = *pos, start = *pos;

    for (;;) {
        size_t id = i;
        bool numeric = true;

        while (is_ident_char(s[i])) {
            numeric = numeric && p4_ascii_digit(s[i]);
            i++;
        }
        if (i == id)
            return fail(f,
                        prerelease ? "expected a prerelease identifier ([0-9A-Za-z-])"
                                   : "expected a build metadata identifier ([0-9A-Za-z-])",
                        i, true);
        if (prerelease && numeric && i - id > 1 && s[id] == '0')
            return fail(f, "a numeric prerelease identifier has a leading zero", id, false);
        if (s[i] != '.')
            break;
        i++;
    }
    if (i - start >= P4_SEMVER_PART_MAX)
        return fail(f,
                    prerelease ? "the prerelease is longer than 127 bytes"
                               : "the build metadata is longer than 127 bytes",
                    start, false);
    memcpy(buf, s + start, i - start);
    buf[i - start] = '\0';
    *pos = i;
    return true;
}

/*
 * A version at s[*pos] into *v (original untouched), stopping at the first
 * byte that cannot continue it. With wildcards, a part may be x, X or *.
 * *wild is the first part written as a wildcard or left out (PART_MINOR for
 * "1", PART_MAJOR for "*"), NO_WILDCARD when all three are numbers; parts
 * from there on are 0 in *v, as Masterminds rewrites "1.x.5" to 1.0.0.
 */
static bool read_version(const char *s, size_t *pos, bool wildcards, struct p4_semver *v, int *wild,
                         struct fault *f)
{
    uint64_t parts[3] = {0, 0, 0};
    size_t i = *pos;
    int w = NO_WILDCARD;

    if (s[i] == 'v')
        i++;
    for (int p = PART_MAJOR; p <= PART_PATCH; p++) {
        if (p > PART_MAJOR) {
            if (s[i] != '.') {
                if (w == NO_WILDCARD)
                    w = p;
                break;
            }
            i++;
        }
        if (wildcards && is_wildcard(s[i])) {
            i++;
            if (w == NO_WILDCARD)
                w = p;
        } else if (!read_number(s, &i, &parts[p], f)) {
            return false;
        }
    }
    for (int p = (w == NO_WILDCARD ? PART_PATCH + 1 : w); p <= PART_PATCH; p++)
        parts[p] = 0;
    v->major = parts[PART_MAJOR];
    v->minor = parts[PART_MINOR];
    v->patch = parts[PART_PATCH];
    v->pre[0] = '\0';
    v->build[0] = '\0';
    if (s[i] == '-') {
        i++;
        if (!read_idents(s, &i, true, v->pre, f))
            return false;
    }
    if (s[i] == '+') {
        i++;
        if (!read_idents(s, &i, false, v->build, f))
            return false;
    }
    *wild = w;
    *pos = i;
    return true;
}

static void fault_message(struct p4_error *err, const char *kind, const char *s,
                          const struct fault *f)
{
    char buf[SHOWN_SIZE], c[16];

    if (f->after != NULL)
        p4_error_set(err, P4_ERR_INVAL, "%s \"%s\" is not valid: %s after \"%s\" at byte %zu", kind,
                     shown(s, buf), f->what, f->after, f->at);
    else if (f->show_char)
        p4_error_set(err, P4_ERR_INVAL, "%s \"%s\" is not valid: %s, found %s at byte %zu", kind,
                     shown(s, buf), f->what, shown_char(s[f->at], c), f->at);
    else
        p4_error_set(err, P4_ERR_INVAL, "%s \"%s\" is not valid: %s (at byte %zu)", kind,
                     shown(s, buf), f->what, f->at);
}

static size_t digits(uint64_t n)
{
    size_t d = 1;

    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* Bytes of p4_semver_format()'s text for v, without the NUL. */
static size_t canonical_len(const struct p4_semver *v)
{
    size_t pre = strlen(v->pre), build = strlen(v->build);

    return digits(v->major) + digits(v->minor) + digits(v->patch) + 2 + (pre ? pre + 1 : 0) +
           (build ? build + 1 : 0);
}

/* Parse s as a whole version; *wild as read_version() sets it. */
static int parse_version(const char *s, struct p4_semver *out, int *wild, struct p4_error *err)
{
    struct fault f = {0};
    char buf[SHOWN_SIZE];
    size_t i = 0, len;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (s == NULL || s[0] == '\0') {
        rc = p4_error_set(err, P4_ERR_INVAL, "the version is empty");
        goto out;
    }
    len = strnlen(s, P4_SEMVER_MAX);
    if (len >= P4_SEMVER_MAX) {
        rc = p4_error_set(err, P4_ERR_INVAL, "version \"%s\" is longer than %d bytes",
                          shown(s, buf), P4_SEMVER_MAX - 1);
        goto out;
    }
    if (!read_version(s, &i, false, out, wild, &f)) {
        fault_message(err, "version", s, &f);
        rc = P4_ERR_INVAL;
        goto out;
    }
    if (s[i] != '\0') {
        f.what = "unexpected text after the version";
        f.at = i;
        f.show_char = true;
        fault_message(err, "version", s, &f);
        rc = P4_ERR_INVAL;
        goto out;
    }
    if (canonical_len(out) >= P4_SEMVER_MAX) { /* "1-..." grows by ".0.0" when written in full */
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "version \"%s\" is longer than %d bytes when written in full",
                          shown(s, buf), P4_SEMVER_MAX - 1);
        goto out;
    }
    memcpy(out->original, s, len + 1);
out:
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

int p4_semver_parse(const char *s, struct p4_semver *out, struct p4_error *err)
{
    int wild;

    return parse_version(s, out, &wild, err);
}

bool p4_semver_is_exact(const char *s)
{
    struct p4_semver v;
    int wild = PART_MAJOR;

    return parse_version(s, &v, &wild, NULL) == 0 && wild == NO_WILDCARD;
}

static int compare_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!p4_ascii_digit(s[i]))
            return false;
    }
    return true;
}

/* One prerelease identifier against another (SemVer 2.0.0 section 11.4). */
static int compare_ident(const char *a, size_t na, const char *b, size_t nb)
{
    bool da = all_digits(a, na), db = all_digits(b, nb);
    int c;

    if (da && db && na != nb) /* no leading zeros: the longer number is larger */
        return na < nb ? -1 : 1;
    if (da != db)
        return da ? -1 : 1; /* numeric identifiers sort below alphanumeric ones */
    c = memcmp(a, b, na < nb ? na : nb);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return compare_u64(na, nb);
}

/* Dot-separated prerelease lists; "" is the empty list and sorts first. */
static int compare_pre(const char *a, const char *b)
{
    for (;;) {
        size_t na, nb;
        int c;

        if (*a == '\0' || *b == '\0')
            return (*a != '\0') - (*b != '\0');
        na = strcspn(a, ".");
        nb = strcspn(b, ".");
        c = compare_ident(a, na, b, nb);
        if (c != 0)
            return c;
        a += na;
        b += nb;
        if (*a == '.')
            a++;
        if (*b == '.')
            b++;
    }
}

int p4_semver_compare(const struct p4_semver *a, const struct p4_semver *b)
{
    int c = compare_u64(a->major, b->major);

    if (c == 0)
        c = compare_u64(a->minor, b->minor);
    if (c == 0)
        c = compare_u64(a->patch, b->patch);
    if (c != 0)
        return c;
    if (a->pre[0] == '\0' || b->pre[0] == '\0')
        return (a->pre[0] == '\0') -
               (b->pre[0] == '\0'); /* the release sorts after its prereleases */
    return compare_pre(a->pre, b->pre);
}

void p4_semver_format(const struct p4_semver *v, char out[P4_SEMVER_FORMAT_SIZE])
{
    (void)snprintf(out, P4_SEMVER_FORMAT_SIZE, "%" PRIu64 ".%" PRIu64 ".%" PRIu64 "%s%.*s%s%.*s",
                   v->major, v->minor, v->patch, v->pre[0] != '\0' ? "-" : "",
                   (int)strnlen(v->pre, P4_SEMVER_PART_MAX - 1), v->pre,
                   v->build[0] != '\0' ? "+" : "", (int)strnlen(v->build, P4_SEMVER_PART_MAX - 1),
                   v->build);
}

/* Masterminds' constraint functions, one per operator, each as the library has it. */

static bool tilde(const struct p4_semver *v, const struct term *t)
{
    if (p4_semver_compare(v, &t->con) < 0)
        return false;
    /* ~0.0.0 and ~* accept every version. */
    if (t->con.major == 0 && t->con.minor == 0 && t->con.patch == 0 && !t->minor_dirty &&
        !t->patch_dirty)
        return true;
    if (v->major != t->con.major)
        return false;
    return v->minor == t->con.minor || t->minor_dirty;
}

static bool caret(const struct p4_semver *v, const struct term *t)
{
    if (p4_semver_compare(v, &t->con) < 0)
        return false;
    if (t->con.major > 0 || t->minor_dirty) /* ^1.2.3, ^1, ^0: same major */
        return v->major == t->con.major;
    if (v->major > 0)
        return false;
    if (t->con.minor > 0 || t->patch_dirty) /* ^0.2.3, ^0.0: same minor */
        return v->minor == t->con.minor;
    if (v->minor > 0)
        return false;
    return v->patch == t->con.patch; /* ^0.0.3 */
}

static bool not_equal(const struct p4_semver *v, const struct term *t)
{
    if (t->dirty) {
        if (t->con.major != v->major)
            return true;
        if (t->con.minor != v->minor && !t->minor_dirty)
            return true;
        if (t->minor_dirty)
            return false;
        if (t->con.patch != v->patch && !t->patch_dirty)
            return true;
        if (t->patch_dirty)
            return compare_pre(v->pre, t->con.pre) != 0;
    }
    return p4_semver_compare(v, &t->con) != 0;
}

static bool greater(const struct p4_semver *v, const struct term *t)
{
    if (!t->dirty)
        return p4_semver_compare(v, &t->con) > 0;
    if (v->major != t->con.major)
        return v->major > t->con.major;
    if (t->minor_dirty) /* > 11 needs 12 or more */
        return false;
    if (t->patch_dirty) /* > 11.1 needs 11.2 or more */
        return v->minor > t->con.minor;
    return p4_semver_compare(v, &t->con) > 0;
}

static bool less_equal(const struct p4_semver *v, const struct term *t)
{
    if (!t->dirty)
        return p4_semver_compare(v, &t->con) <= 0;
    if (v->major > t->con.major)
        return false;
    return !(v->major == t->con.major && v->minor > t->con.minor && !t->minor_dirty);
}

static bool check(const struct p4_semver *v, const struct term *t, bool include_pre)
{
    if (v->pre[0] != '\0' && !include_pre)
        return false;
    switch (t->op) {
    case OP_EQ:
        return t->dirty ? tilde(v, t) : p4_semver_compare(v, &t->con) == 0;
    case OP_NE:
        return not_equal(v, t);
    case OP_GT:
        return greater(v, t);
    case OP_LT:
        return p4_semver_compare(v, &t->con) < 0;
    case OP_GE:
        return p4_semver_compare(v, &t->con) >= 0;
    case OP_LE:
        return less_equal(v, t);
    case OP_TILDE:
        return tilde(v, t);
    case OP_CARET:
        return caret(v, t);
    }
    return false;
}

bool p4_semver_range_match(const struct p4_semver_range *r, const struct p4_semver *v)
{
    if (r == NULL || v == NULL)
        return false;
    for (size_t g = 0; g < r->groups_len; g++) {
        const struct group *grp = &r->groups[g];
        bool ok = true;

        for (size_t i = grp->first; ok && i < grp->first + grp->len; i++)
            ok = check(v, &r->terms[i], grp->has_pre);
        if (ok)
            return true;
    }
    return false;
}

void p4_semver_range_free(struct p4_semver_range *r)
{
    if (r == NULL)
        return;
    free(r->terms);
    free(r->groups);
    free(r);
}

static void start_group(struct p4_semver_range *r)
{
    if (r->groups_len == r->groups_cap) {
        r->groups_cap = r->groups_cap ? r->groups_cap * 2 : 4;
        r->groups = p4_realloc(r->groups, r->groups_cap * sizeof(*r->groups));
    }
    r->groups[r->groups_len].first = r->terms_len;
    r->groups[r->groups_len].len = 0;
    r->groups[r->groups_len].has_pre = false;
    r->groups_len++;
}

static bool add_term(struct p4_semver_range *r, enum op op, const struct p4_semver *con, int wild,
                     size_t at, struct fault *f)
{
    struct group *g = &r->groups[r->groups_len - 1];
    struct term *t;

    if (r->terms_len == P4_SEMVER_RANGE_TERMS_MAX)
        return fail(f, "it has more than 64 terms", at, false);
    if (r->terms_len == r->terms_cap) {
        r->terms_cap = r->terms_cap ? r->terms_cap * 2 : 4;
        r->terms = p4_realloc(r->terms, r->terms_cap * sizeof(*r->terms));
    }
    t = &r->terms[r->terms_len++];
    memset(t, 0, sizeof(*t));
    t->op = op;
    t->con = *con;
    t->con.build[0] = '\0';
    t->dirty = wild != NO_WILDCARD;
    t->minor_dirty = wild == PART_MINOR;
    t->patch_dirty = wild == PART_PATCH;
    g->len++;
    g->has_pre = g->has_pre || con->pre[0] != '\0';
    return true;
}

/* The operator at s[*pos], if any (OP_EQ with *text NULL when there is none). */
static enum op read_op(const char *s, size_t *pos, const char **text)
{
    for (size_t i = 0; i < COUNT(ops); i++) {
        size_t n = strlen(ops[i].text);

        if (strncmp(s + *pos, ops[i].text, n) == 0) {
            *pos += n;
            *text = ops[i].text;
            return ops[i].op;
        }
    }
    *text = NULL;
    return OP_EQ;
}

/* A version in a range, which must end where a term may end. */
static bool read_range_version(const char *s, size_t *pos, const char *after, struct p4_semver *v,
                               int *wild, struct fault *f)
{
    char c = s[*pos];

    if (!(c == 'v' || p4_ascii_digit(c) || is_wildcard(c))) {
        f->after = after;
        return fail(f, "expected a version", *pos, true);
    }
    if (!read_version(s, pos, true, v, wild, f))
        return false;
    c = s[*pos];
    if (!(c == '\0' || c == ',' || c == '|' || is_blank(c)))
        return fail(f, "unexpected text after a version", *pos, true);
    return true;
}

/*
 * One term at s[*pos]: an operator and a version, or a hyphen range "A - B"
 * (read as >= A and <= B, as Masterminds rewrites it).
 */
static bool read_term(const char *s, size_t *pos, struct p4_semver_range *r, struct fault *f)
{
    struct p4_semver v, upper;
    const char *text;
    size_t start = *pos, look;
    enum op op = read_op(s, pos, &text);
    int wild, upper_wild;

    skip_blanks(s, pos);
    if (!read_range_version(s, pos, text, &v, &wild, f))
        return false;
    look = *pos;
    if (text == NULL && skip_blanks(s, &look) > 0 && s[look] == '-' && is_blank(s[look + 1])) {
        look++;
        skip_blanks(s, &look);
        if (!read_range_version(s, &look, "-", &upper, &upper_wild, f))
            return false;
        *pos = look;
        return add_term(r, OP_GE, &v, wild, start, f) &&
               add_term(r, OP_LE, &upper, upper_wild, start, f);
    }
    return add_term(r, op, &v, wild, start, f);
}

/* Terms joined by ',' or blanks into groups joined by "||"; no group may be empty. */
static bool read_range(const char *s, struct p4_semver_range *r, struct fault *f)
{
    size_t i = 0;

    start_group(r);
    for (;;) {
        size_t blanks;

        skip_blanks(s, &i);
        if (!read_term(s, &i, r, f))
            return false;
        blanks = skip_blanks(s, &i);
        if (s[i] == '\0')
            return true;
        if (s[i] == '|') {
            if (s[i + 1] != '|')
                return fail(f, "expected \"||\"", i + 1, true);
            i += 2;
            start_group(r);
        } else if (s[i] == ',') {
            i++;
        } else if (blanks == 0) {
            return fail(f, "expected ',', \"||\" or a blank between terms", i, true);
        }
    }
}

int p4_semver_range_parse(const char *s, struct p4_semver_range **out, struct p4_error *err)
{
    struct p4_semver_range *r = NULL;
    struct fault f = {0};
    char buf[SHOWN_SIZE];
    size_t i = 0;
    int rc = 0;

    if (out == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no place for the parsed version range");
        goto out;
    }
    *out = NULL;
    if (s == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no version range given");
        goto out;
    }
    if (strnlen(s, P4_SEMVER_RANGE_MAX) >= P4_SEMVER_RANGE_MAX) {
        rc = p4_error_set(err, P4_ERR_INVAL, "version range \"%s\" is longer than %d bytes",
                          shown(s, buf), P4_SEMVER_RANGE_MAX - 1);
        goto out;
    }
    skip_blanks(s, &i);
    if (s[i] == '\0') {
        rc = p4_error_set(err, P4_ERR_INVAL, "the version range is empty");
        goto out;
    }
    r = p4_calloc(1, sizeof(*r));
    if (!read_range(s, r, &f)) {
        fault_message(err, "version range", s, &f);
        rc = P4_ERR_INVAL;
        goto out;
    }
    *out = r;
    r = NULL;
out:
    p4_semver_range_free(r);
    return rc;
}
