/* scanreport.c: vulnerability scan results, summarized for the Scanned gate (scanreport.h). */
#include "scanreport.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

#define FORMAT_TRIVY "trivy-json"
#define FORMAT_SARIF "sarif"
#define FORMAT_VULNREPORT "VulnerabilityReport"
/* A VulnerabilityReport summary count is clamped here, so sums of them stay far from INT_MAX. */
#define CLAIMED_MAX 100000000
#define PATH_SIZE 128 /* a member path ("runs[1].results[20].message.text") in a message */
#define SHOWN_SIZE 48 /* a report's own text (a kind) in a message */

static const char *const severity_names[P4_SEV_COUNT] = {"UNKNOWN", "LOW", "MEDIUM", "HIGH",
                                                         "CRITICAL"};

const char *p4_severity_name(enum p4_severity s)
{
    return (unsigned)s < P4_SEV_COUNT ? severity_names[s] : severity_names[P4_SEV_UNKNOWN];
}

/* The severity named by s[0..n) in any case, or -1. */
static int severity_of(const char *s, size_t n)
{
    for (int i = 0; i < P4_SEV_COUNT; i++) {
        if (strlen(severity_names[i]) == n && strncasecmp(s, severity_names[i], n) == 0)
            return i;
    }
    return -1;
}

int p4_severity_parse(const char *s, enum p4_severity *out)
{
    int sev = s != NULL ? severity_of(s, strlen(s)) : -1;

    if (sev < 0)
        return P4_ERR_INVAL;
    if (out != NULL)
        *out = (enum p4_severity)sev;
    return 0;
}

/* Bytes borrowed from a cJSON tree being read, not NUL-terminated; p is never NULL. */
struct span {
    const char *p;
    size_t n;
};

static const struct span empty = {"", 0};

static struct span span_of(const char *s)
{
    struct span sp = {s, strlen(s)};

    return sp;
}

static int span_cmp(struct span a, struct span b)
{
    int c = memcmp(a.p, b.p, a.n < b.n ? a.n : b.n);

    if (c != 0)
        return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

/*
 * A printable copy of s into dst (size >= 4 bytes), byte for byte: bytes outside printable
 * ASCII become '?', and a cut is marked with "...".
 */
static void copy_clean(char *dst, size_t size, struct span s)
{
    (void)p4_text_clean(dst, size, s.p, s.n, P4_TEXT_ASCII | P4_TEXT_LITERAL);
}

/* ---- findings, deduplicated and ranked ---- */

struct item {
    struct span id, package, installed, fixed;
    enum p4_severity severity;
    size_t seq; /* order in the report: of equal duplicates the first is kept */
};

struct collect {
    struct item *items; /* len of them, cap allocated */
    size_t len, cap;
    int listed[P4_SEV_COUNT]; /* findings per severity before deduplication */
};

static void collect_close(struct collect *c)
{
    free(c->items);
    memset(c, 0, sizeof(*c));
}

static int add(struct collect *c, const struct item *it, struct p4_error *err)
{
    if (c->len == P4_SCAN_FINDINGS_MAX)
        return p4_error_set(err, P4_ERR_TOOBIG,
                            "the scan report lists more than %d vulnerabilities, more than the "
                            "gate reads; scan a smaller image or filter the report by severity",
                            P4_SCAN_FINDINGS_MAX);
    if (c->len == c->cap) {
        c->cap = c->cap == 0 ? 64 : c->cap * 2;
        c->items = p4_realloc(c->items, c->cap * sizeof(*c->items));
    }
    c->items[c->len] = *it;
    c->items[c->len].seq = c->len;
    c->len++;
    c->listed[it->severity]++;
    return 0;
}

/* By (id, package), the highest severity first, then the first listed. */
static int key_cmp(const void *pa, const void *pb)
{
    const struct item *a = pa, *b = pb;
    int c = span_cmp(a->id, b->id);

    if (c == 0)
        c = span_cmp(a->package, b->package);
    if (c == 0)
        c = (int)b->severity - (int)a->severity;
    if (c == 0)
        c = a->seq < b->seq ? -1 : a->seq > b->seq;
    return c;
}

/* The highest severity first, then by id, then by package; keys are unique by now. */
static int rank_cmp(const void *pa, const void *pb)
{
    const struct item *a = pa, *b = pb;
    int c = (int)b->severity - (int)a->severity;

    if (c == 0)
        c = span_cmp(a->id, b->id);
    if (c == 0)
        c = span_cmp(a->package, b->package);
    return c;
}

/*
 * Deduplicate c into out. claimed, when not NULL, holds the counts a report's
 * own summary gives; where one exceeds what was listed, the rest is counted.
 */
static void finish(struct collect *c, const int *claimed, const char *format,
                   struct p4_scan_summary *out)
{
    size_t kept = 0;

    memset(out, 0, sizeof(*out));
    out->format = format;
    if (c->len > 0) {
        qsort(c->items, c->len, sizeof(*c->items), key_cmp);
        for (size_t i = 0; i < c->len; i++) {
            if (kept > 0 && span_cmp(c->items[i].id, c->items[kept - 1].id) == 0 &&
                span_cmp(c->items[i].package, c->items[kept - 1].package) == 0)
                continue;
            c->items[kept++] = c->items[i];
        }
        qsort(c->items, kept, sizeof(*c->items), rank_cmp);
    }
    for (size_t i = 0; i < kept; i++)
        out->counts[c->items[i].severity]++;
    for (int s = 0; s < P4_SEV_COUNT; s++) {
        if (claimed != NULL && claimed[s] > c->listed[s])
            out->counts[s] += claimed[s] - c->listed[s];
        out->total += out->counts[s];
    }
    for (size_t i = 0; i < kept && i < P4_SCAN_WORST; i++) {
        struct p4_scan_finding *f = &out->worst[out->nworst++];
        const struct item *it = &c->items[i];

        copy_clean(f->id, sizeof(f->id), it->id);
        copy_clean(f->package, sizeof(f->package), it->package);
        copy_clean(f->installed, sizeof(f->installed), it->installed);
        copy_clean(f->fixed, sizeof(f->fixed), it->fixed);
        f->severity = it->severity;
    }
}

/* ---- reading JSON members with their types checked ---- */

enum kind { K_OBJECT, K_ARRAY, K_STRING };

static const char *const kind_names[] = {"an object", "an array", "a string"};

/* What a report is read as, for messages: "the scan report is not SARIF: ...". */
struct reader {
    const char *what;
    struct collect c;
    struct p4_error *err;
};

/*
 * A member path for a message, cut when too long for dst. (Through vsnprintf,
 * so the compiler does not warn about cuts that only shorten a message.)
 */
__attribute__((format(printf, 3, 4))) static void path_of(char *dst, size_t size, const char *fmt,
                                                          ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

/* "<what>: <where>.<name> <problem>", as P4_ERR_PARSE. */
static int shape_error(struct reader *r, const char *where, const char *name, const char *problem)
{
    char path[2 * PATH_SIZE];

    path_of(path, sizeof(path), "%s%s%s", where, where[0] != '\0' && name[0] != '\0' ? "." : "",
            name);
    return p4_error_set(r->err, P4_ERR_PARSE, "%s: %s%s%s", r->what, path,
                        path[0] != '\0' ? " " : "", problem);
}

/*
 * *out = member name of obj (whose path is where) when of kind k, NULL when
 * absent or null. A member of another type is P4_ERR_PARSE naming its path.
 */
static int member(struct reader *r, const cJSON *obj, const char *where, const char *name,
                  enum kind k, const cJSON **out)
{
    const cJSON *v = p4_json_child(obj, name);
    bool ok;

    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return 0;
    ok = k == K_OBJECT ? cJSON_IsObject(v) : k == K_ARRAY ? cJSON_IsArray(v) : cJSON_IsString(v);
    if (!ok) {
        char problem[48];

        (void)snprintf(problem, sizeof(problem), "is not %s", kind_names[k]);
        return shape_error(r, where, name, problem);
    }
    *out = v;
    return 0;
}

/* The string member name as a span, empty when absent or null. */
static int str_member(struct reader *r, const cJSON *obj, const char *where, const char *name,
                      struct span *out)
{
    const cJSON *v;
    int rc = member(r, obj, where, name, K_STRING, &v);

    *out = v != NULL ? span_of(v->valuestring) : empty;
    return rc;
}

/* Element i of the array at array_path: its path into path, and P4_ERR_PARSE unless an object. */
static int element(struct reader *r, const cJSON *v, const char *array_path, size_t i, char *path,
                   size_t size)
{
    path_of(path, size, "%s[%zu]", array_path, i);
    if (!cJSON_IsObject(v))
        return shape_error(r, path, "", "is not an object");
    return 0;
}

/* Upper bound on the values in JSON text: '[', '{' and ',' outside strings, plus one. */
static size_t count_values(const char *s, size_t len)
{
    size_t values = 1;
    bool in_string = false;

    for (size_t i = 0; i < len && values <= P4_SCAN_VALUES_MAX; i++) {
        char ch = s[i];

        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '[' || ch == '{' || ch == ',') {
            values++;
        }
    }
    return values;
}

/* The report body as a JSON object into *doc (caller frees with cJSON_Delete). */
static int parse_body(const char *body, size_t len, const char *what, cJSON **doc,
                      struct p4_error *err)
{
    struct p4_error perr;
    int rc = 0;

    *doc = NULL;
    if (body == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no scan report to read");
        goto out;
    }
    if (len > P4_SCAN_REPORT_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG,
                          "the scan report of %zu bytes exceeds the %zu-byte limit", len,
                          P4_SCAN_REPORT_MAX);
        goto out;
    }
    /* A tree costs some 80 bytes a value: "[0,0,0,...]" would cost 40 times its size. */
    if (count_values(body, len) > P4_SCAN_VALUES_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG, "the scan report holds more than %d JSON values",
                          P4_SCAN_VALUES_MAX);
        goto out;
    }
    /* p4_json_parse's messages give positions only, never the text, so they may be quoted. */
    *doc = p4_json_parse(body, len, &perr);
    if (*doc == NULL) {
        rc = p4_error_set(err, perr.code, "%s: %s", what, perr.message);
        goto out;
    }
    if (!cJSON_IsObject(*doc)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "%s: it is %s, not a JSON object", what,
                          p4_json_type_name(*doc, false));
        cJSON_Delete(*doc);
        *doc = NULL;
    }
out:
    return rc;
}

/* ---- Trivy JSON ---- */

static enum p4_severity severity_or_unknown(struct span s)
{
    int sev = severity_of(s.p, s.n);

    return sev < 0 ? P4_SEV_UNKNOWN : (enum p4_severity)sev;
}

/* One of Results[]: its Vulnerabilities[], if any. */
static int read_trivy_result(struct reader *r, const cJSON *res, const char *rpath)
{
    const cJSON *vulns, *v;
    char list[PATH_SIZE], path[PATH_SIZE];
    size_t i = 0;
    int rc = member(r, res, rpath, "Vulnerabilities", K_ARRAY, &vulns);

    path_of(list, sizeof(list), "%s.Vulnerabilities", rpath);
    cJSON_ArrayForEach(v, vulns)
    {
        struct item it = {0};
        struct span sev = empty;

        if (rc == 0)
            rc = element(r, v, list, i++, path, sizeof(path));
        if (rc == 0)
            rc = str_member(r, v, path, "VulnerabilityID", &it.id);
        if (rc == 0)
            rc = str_member(r, v, path, "PkgName", &it.package);
        if (rc == 0)
            rc = str_member(r, v, path, "InstalledVersion", &it.installed);
        if (rc == 0)
            rc = str_member(r, v, path, "FixedVersion", &it.fixed);
        if (rc == 0)
            rc = str_member(r, v, path, "Severity", &sev);
        if (rc < 0)
            break;
        it.severity = severity_or_unknown(sev);
        rc = add(&r->c, &it, r->err);
    }
    return rc;
}

static int read_trivy(struct reader *r, const cJSON *doc)
{
    const cJSON *results, *res;
    char path[PATH_SIZE];
    size_t i = 0;
    int64_t version;
    int rc = 0;

    if (p4_json_child(doc, "SchemaVersion") == NULL && p4_json_child(doc, "Results") == NULL) {
        rc = shape_error(r, "", "", "it has neither SchemaVersion nor Results");
        goto out;
    }
    if (p4_json_child(doc, "SchemaVersion") != NULL) {
        if (p4_json_int64(doc, "SchemaVersion", &version) != 0) {
            rc = shape_error(r, "", "SchemaVersion", "is not a whole number");
            goto out;
        }
        if (version != 2) {
            rc = p4_error_set(r->err, P4_ERR_PARSE,
                              "Trivy JSON schema version %lld is not supported, only 2 (written "
                              "by trivy 0.20 and later)",
                              (long long)version);
            goto out;
        }
    }
    rc = member(r, doc, "", "Results", K_ARRAY, &results);
    cJSON_ArrayForEach(res, results)
    {
        if (rc == 0)
            rc = element(r, res, "Results", i++, path, sizeof(path));
        if (rc == 0)
            rc = read_trivy_result(r, res, path);
        if (rc < 0)
            break;
    }
out:
    return rc;
}

/* ---- SARIF ---- */

struct rule {
    struct span id;
    int severity; /* from its tags or security-severity; -1 when they give none */
    int level;    /* the severity of its defaultConfiguration.level; -1 when none */
    size_t index; /* in tool.driver.rules */
};

/* SARIF's level as a severity, or -1 for an unknown one. */
static int level_severity(struct span level)
{
    static const char *const levels[] = {"none", "note", "warning", "error"};

    for (int i = 0; i < 4; i++) {
        if (span_cmp(level, span_of(levels[i])) == 0)
            return i; /* P4_SEV_UNKNOWN, LOW, MEDIUM, HIGH in this order */
    }
    return -1;
}

/* A CVSS score, "7.5" or 7.5, into *out; false unless one from 0 to 10. */
static bool cvss_score(const cJSON *v, double *out)
{
    const char *s;
    double d = 0, scale = 1;
    size_t digits = 0;

    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;
    } else if (cJSON_IsString(v)) {
        for (s = v->valuestring; *s >= '0' && *s <= '9' && digits < 3; s++, digits++)
            d = d * 10 + (*s - '0');
        if (digits == 0)
            return false;
        if (*s == '.') {
            for (s++, digits = 0; *s >= '0' && *s <= '9'; s++, digits++) {
                if (digits < 6) {
                    scale /= 10;
                    d += (*s - '0') * scale;
                }
            }
            if (digits == 0)
                return false;
        }
        if (*s != '\0')
            return false;
    } else {
        return false;
    }
    *out = d;
    return d >= 0 && d <= 10; /* false for NaN too */
}

static int cvss_severity(double score)
{
    if (score >= 9.0)
        return P4_SEV_CRITICAL;
    if (score >= 7.0)
        return P4_SEV_HIGH;
    if (score >= 4.0)
        return P4_SEV_MEDIUM;
    return score > 0 ? P4_SEV_LOW : -1;
}

/* One of tool.driver.rules[], at path, into *out. */
static int read_rule(struct reader *r, const cJSON *rule, const char *path, struct rule *out)
{
    const cJSON *props = NULL, *tags = NULL, *tag, *config = NULL;
    char sub[PATH_SIZE], list[PATH_SIZE];
    struct span level = empty;
    bool unknown = false;
    double score;
    size_t i = 0;
    int rc;

    out->severity = -1;
    rc = str_member(r, rule, path, "id", &out->id);
    if (rc == 0)
        rc = member(r, rule, path, "properties", K_OBJECT, &props);
    path_of(sub, sizeof(sub), "%s.properties", path);
    if (rc == 0 && props != NULL)
        rc = member(r, props, sub, "tags", K_ARRAY, &tags);
    path_of(list, sizeof(list), "%s.tags", sub);
    cJSON_ArrayForEach(tag, tags)
    {
        int sev;

        if (!cJSON_IsString(tag)) {
            path_of(sub, sizeof(sub), "%s[%zu]", list, i);
            rc = shape_error(r, sub, "", "is not a string");
            goto out;
        }
        i++;
        sev = severity_of(tag->valuestring, strlen(tag->valuestring));
        if (sev == P4_SEV_UNKNOWN)
            unknown = true;
        else if (sev > out->severity)
            out->severity = sev;
    }
    if (rc == 0 && out->severity < 0 &&
        cvss_score(p4_json_child(props, "security-severity"), &score))
        out->severity = cvss_severity(score);
    if (out->severity < 0 && unknown)
        out->severity = P4_SEV_UNKNOWN;
    if (rc == 0)
        rc = member(r, rule, path, "defaultConfiguration", K_OBJECT, &config);
    path_of(sub, sizeof(sub), "%s.defaultConfiguration", path);
    if (rc == 0 && config != NULL)
        rc = str_member(r, config, sub, "level", &level);
    out->level = level_severity(level);
out:
    return rc;
}

/* By id, then by position, so the first of rules sharing an id is found. */
static int rule_cmp(const void *pa, const void *pb)
{
    const struct rule *a = pa, *b = pb;
    int c = span_cmp(a->id, b->id);

    if (c == 0)
        c = a->index < b->index ? -1 : a->index > b->index;
    return c;
}

static const struct rule *find_rule(const struct rule *by_id, size_t n, struct span id)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (span_cmp(by_id[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && span_cmp(by_id[lo].id, id) == 0 ? &by_id[lo] : NULL;
}

/* The lines of a Trivy result message that describe the finding. */
enum line { L_PACKAGE, L_ARTIFACT, L_INSTALLED, L_FIXED, L_SEVERITY, L_VULNERABILITY, L_COUNT };

static const char *const line_prefixes[L_COUNT] = {
    "Package: ",       "Artifact: ", "Installed Version: ",
    "Fixed Version: ", "Severity: ", "Vulnerability ",
};

/* The first non-empty value of each line kind in text, without surrounding blanks. */
static void read_lines(struct span text, struct span *values)
{
    const char *p = text.p, *end = text.p + text.n;

    for (int k = 0; k < L_COUNT; k++)
        values[k] = empty;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl != NULL ? nl : end;

        for (int k = 0; k < L_COUNT; k++) {
            size_t plen = strlen(line_prefixes[k]);
            const char *v = p + plen, *e = eol;

            if ((size_t)(eol - p) < plen || memcmp(p, line_prefixes[k], plen) != 0 ||
                values[k].n > 0)
                continue;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
            values[k].p = v;
            values[k].n = (size_t)(e - v);
        }
        p = nl != NULL ? nl + 1 : end;
    }
}

/* Results that SARIF says are not problems. */
static bool not_a_finding(const cJSON *kind)
{
    return kind != NULL && (strcmp(kind->valuestring, "pass") == 0 ||
                            strcmp(kind->valuestring, "notApplicable") == 0 ||
                            strcmp(kind->valuestring, "informational") == 0);
}

struct rules {
    struct rule *by_index, *by_id; /* n of each */
    size_t n;
};

/* One of runs[].results[], at path. */
static int read_result(struct reader *r, const cJSON *res, const char *path,
                       const struct rules *rules)
{
    const cJSON *kind = NULL, *rule_id = NULL, *level = NULL, *message = NULL, *text = NULL;
    const cJSON *index;
    const struct rule *rule = NULL;
    struct span lines[L_COUNT];
    struct item it = {0};
    char sub[PATH_SIZE];
    int64_t i;
    int sev, rc;

    rc = member(r, res, path, "kind", K_STRING, &kind);
    if (rc < 0 || not_a_finding(kind))
        goto out;
    rc = member(r, res, path, "ruleId", K_STRING, &rule_id);
    if (rc == 0)
        rc = member(r, res, path, "level", K_STRING, &level);
    if (rc == 0)
        rc = member(r, res, path, "message", K_OBJECT, &message);
    path_of(sub, sizeof(sub), "%s.message", path);
    if (rc == 0 && message != NULL)
        rc = member(r, message, sub, "text", K_STRING, &text);
    if (rc < 0)
        goto out;
    index = p4_json_child(res, "ruleIndex");
    if (index != NULL && !cJSON_IsNull(index)) {
        if (p4_json_int64(res, "ruleIndex", &i) != 0) {
            rc = shape_error(r, path, "ruleIndex", "is not a whole number");
            goto out;
        }
        /* Out of range: it may index an extension's rules, so the id is looked up instead. */
        if (i >= 0 && (uint64_t)i < rules->n)
            rule = &rules->by_index[i];
    }
    if (rule_id != NULL && rule_id->valuestring[0] == '\0')
        rule_id = NULL;
    if (rule == NULL && rule_id != NULL)
        rule = find_rule(rules->by_id, rules->n, span_of(rule_id->valuestring));
    read_lines(text != NULL ? span_of(text->valuestring) : empty, lines);

    it.id = rule_id != NULL                ? span_of(rule_id->valuestring)
            : lines[L_VULNERABILITY].n > 0 ? lines[L_VULNERABILITY]
            : rule != NULL                 ? rule->id
                                           : empty;
    it.package = lines[L_PACKAGE].n > 0 ? lines[L_PACKAGE] : lines[L_ARTIFACT];
    it.installed = lines[L_INSTALLED];
    it.fixed = lines[L_FIXED];
    sev = severity_of(lines[L_SEVERITY].p, lines[L_SEVERITY].n);
    if (sev < 0 && rule != NULL)
        sev = rule->severity;
    if (sev < 0 && level != NULL)
        sev = level_severity(span_of(level->valuestring));
    if (sev < 0 && rule != NULL)
        sev = rule->level;
    if (sev < 0)
        sev = P4_SEV_MEDIUM; /* SARIF's default level, "warning" */
    it.severity = (enum p4_severity)sev;
    rc = add(&r->c, &it, r->err);
out:
    return rc;
}

/* One of runs[], at path. */
static int read_run(struct reader *r, const cJSON *run, const char *path)
{
    const cJSON *tool = NULL, *driver = NULL, *list = NULL, *results = NULL, *v;
    struct rules rules = {NULL, NULL, 0};
    char sub[PATH_SIZE], at[PATH_SIZE];
    size_t i = 0;
    int rc;

    rc = member(r, run, path, "tool", K_OBJECT, &tool);
    path_of(sub, sizeof(sub), "%s.tool", path);
    if (rc == 0 && tool != NULL)
        rc = member(r, tool, sub, "driver", K_OBJECT, &driver);
    path_of(sub, sizeof(sub), "%s.tool.driver", path);
    if (rc == 0 && driver != NULL)
        rc = member(r, driver, sub, "rules", K_ARRAY, &list);
    if (rc == 0 && list != NULL) {
        size_t n = (size_t)cJSON_GetArraySize(list);

        rules.by_index = p4_calloc(n > 0 ? n : 1, sizeof(*rules.by_index));
        path_of(sub, sizeof(sub), "%s.tool.driver.rules", path);
        cJSON_ArrayForEach(v, list)
        {
            rc = element(r, v, sub, rules.n, at, sizeof(at));
            if (rc == 0)
                rc = read_rule(r, v, at, &rules.by_index[rules.n]);
            if (rc < 0)
                goto out;
            rules.by_index[rules.n].index = rules.n;
            rules.n++;
        }
        rules.by_id = p4_malloc((rules.n > 0 ? rules.n : 1) * sizeof(*rules.by_id));
        if (rules.n > 0)
            memcpy(rules.by_id, rules.by_index, rules.n * sizeof(*rules.by_id));
        qsort(rules.by_id, rules.n, sizeof(*rules.by_id), rule_cmp);
    }
    if (rc == 0)
        rc = member(r, run, path, "results", K_ARRAY, &results);
    path_of(sub, sizeof(sub), "%s.results", path);
    cJSON_ArrayForEach(v, results)
    {
        rc = element(r, v, sub, i++, at, sizeof(at));
        if (rc == 0)
            rc = read_result(r, v, at, &rules);
        if (rc < 0)
            break;
    }
out:
    free(rules.by_index);
    free(rules.by_id);
    return rc;
}

static int read_sarif(struct reader *r, const cJSON *doc)
{
    const cJSON *runs = p4_json_child(doc, "runs"), *run;
    char path[PATH_SIZE];
    size_t i = 0;
    int rc = 0;

    if (!cJSON_IsArray(runs)) {
        rc = shape_error(r, "", "runs", runs != NULL ? "is not an array" : "is missing");
        goto out;
    }
    cJSON_ArrayForEach(run, runs)
    {
        rc = element(r, run, "runs", i++, path, sizeof(path));
        if (rc == 0)
            rc = read_run(r, run, path);
        if (rc < 0)
            break;
    }
out:
    return rc;
}

/* ---- the entry points ---- */

enum shape { ANY, TRIVY, SARIF };

static int parse(const char *body, size_t len, enum shape want, struct p4_scan_summary *out,
                 struct p4_error *err)
{
    static const char *const whats[] = {"the scan report is not Trivy JSON or SARIF",
                                        "the scan report is not Trivy JSON",
                                        "the scan report is not SARIF"};
    struct reader r;
    cJSON *doc = NULL;
    int rc;

    memset(&r, 0, sizeof(r));
    r.what = whats[want];
    r.err = err;
    if (out == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no summary to read a scan report into");
        goto out;
    }
    memset(out, 0, sizeof(*out));
    rc = parse_body(body, len, r.what, &doc, err);
    if (rc < 0)
        goto out;
    if (want == ANY) {
        if (cJSON_IsArray(p4_json_child(doc, "runs")))
            want = SARIF;
        else if (p4_json_child(doc, "SchemaVersion") != NULL ||
                 p4_json_child(doc, "Results") != NULL)
            want = TRIVY;
        if (want == ANY) {
            rc = shape_error(&r, "", "",
                             "it has neither a runs array (SARIF) nor SchemaVersion or Results "
                             "(Trivy JSON)");
            goto out;
        }
        r.what = whats[want];
    }
    rc = want == SARIF ? read_sarif(&r, doc) : read_trivy(&r, doc);
    if (rc == 0)
        finish(&r.c, NULL, want == SARIF ? FORMAT_SARIF : FORMAT_TRIVY, out);
out:
    collect_close(&r.c);
    cJSON_Delete(doc);
    return rc;
}

int p4_scan_parse_trivy(const char *body, size_t len, struct p4_scan_summary *out,
                        struct p4_error *err)
{
    return parse(body, len, TRIVY, out, err);
}

int p4_scan_parse_sarif(const char *body, size_t len, struct p4_scan_summary *out,
                        struct p4_error *err)
{
    return parse(body, len, SARIF, out, err);
}

int p4_scan_parse(const char *body, size_t len, struct p4_scan_summary *out, struct p4_error *err)
{
    return parse(body, len, ANY, out, err);
}

/* ---- VulnerabilityReport ---- */

static int read_vulnerabilities(struct reader *r, const cJSON *report)
{
    const cJSON *list, *v;
    char path[PATH_SIZE];
    size_t i = 0;
    int rc = member(r, report, "report", "vulnerabilities", K_ARRAY, &list);

    cJSON_ArrayForEach(v, list)
    {
        struct item it = {0};
        struct span sev = empty;

        rc = element(r, v, "report.vulnerabilities", i++, path, sizeof(path));
        if (rc == 0)
            rc = str_member(r, v, path, "vulnerabilityID", &it.id);
        if (rc == 0)
            rc = str_member(r, v, path, "resource", &it.package);
        if (rc == 0)
            rc = str_member(r, v, path, "installedVersion", &it.installed);
        if (rc == 0)
            rc = str_member(r, v, path, "fixedVersion", &it.fixed);
        if (rc == 0)
            rc = str_member(r, v, path, "severity", &sev);
        if (rc < 0)
            break;
        it.severity = severity_or_unknown(sev);
        rc = add(&r->c, &it, r->err);
        if (rc < 0)
            break;
    }
    return rc;
}

/* report.summary's counts into claimed, by severity ("noneCount" adds to UNKNOWN). */
static int read_claims(struct reader *r, const cJSON *summary, int *claimed)
{
    static const char *const names[P4_SEV_COUNT + 1] = {
        "unknownCount", "lowCount", "mediumCount", "highCount", "criticalCount", "noneCount",
    };
    int rc = 0;

    for (int k = 0; k <= P4_SEV_COUNT; k++) {
        int sev = k < P4_SEV_COUNT ? k : P4_SEV_UNKNOWN;
        int64_t v = 0;
        int got = p4_json_int64(summary, names[k], &v);

        if (got == P4_ERR_NOTFOUND)
            continue;
        if (got != 0 || v < 0) {
            rc = shape_error(r, "report.summary", names[k], "is not a whole number of at least 0");
            break;
        }
        if (v > CLAIMED_MAX - claimed[sev])
            v = CLAIMED_MAX - claimed[sev];
        claimed[sev] += (int)v;
    }
    return rc;
}

int p4_scan_parse_vulnreport(const cJSON *obj, struct p4_scan_summary *out, struct p4_error *err)
{
    const cJSON *kind = NULL, *report = NULL, *summary = NULL;
    int claimed[P4_SEV_COUNT] = {0};
    struct reader r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.what = "the object is not a VulnerabilityReport";
    r.err = err;
    if (out == NULL || obj == NULL) {
        rc =
            p4_error_set(err, P4_ERR_INVAL, "no VulnerabilityReport or no summary to read it into");
        goto out;
    }
    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(obj)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "%s: it is %s, not a JSON object", r.what,
                          p4_json_type_name(obj, false));
        goto out;
    }
    rc = member(&r, obj, "", "kind", K_STRING, &kind);
    if (rc == 0 && kind != NULL && strcmp(kind->valuestring, "VulnerabilityReport") != 0 &&
        strcmp(kind->valuestring, "ClusterVulnerabilityReport") != 0) {
        char shown[SHOWN_SIZE];

        copy_clean(shown, sizeof(shown), span_of(kind->valuestring));
        rc =
            p4_error_set(err, P4_ERR_PARSE, "the object is a %s, not a VulnerabilityReport", shown);
    }
    if (rc == 0)
        rc = member(&r, obj, "", "report", K_OBJECT, &report);
    if (rc == 0 && report == NULL)
        rc = shape_error(&r, "", "", "it has no report");
    if (rc == 0)
        rc = read_vulnerabilities(&r, report);
    if (rc == 0)
        rc = member(&r, report, "report", "summary", K_OBJECT, &summary);
    if (rc == 0 && summary != NULL)
        rc = read_claims(&r, summary, claimed);
    if (rc == 0)
        finish(&r.c, summary != NULL ? claimed : NULL, FORMAT_VULNREPORT, out);
out:
    collect_close(&r.c);
    return rc;
}

/* "sha256:" + 64 lower-case hex digits. */
static bool valid_digest(const char *d)
{
    if (d == NULL || strnlen(d, 72) != 71 || strncmp(d, "sha256:", 7) != 0)
        return false;
    for (size_t i = 7; i < 71; i++) {
        if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
            return false;
    }
    return true;
}

bool p4_scan_vulnreport_matches(const cJSON *obj, const char *const *digests, size_t n)
{
    const char *digest = p4_json_str(obj, "report.artifact.digest");

    if (digests == NULL || !valid_digest(digest))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (digests[i] != NULL && strcmp(digests[i], digest) == 0)
            return true;
    }
    return false;
}

/* ---- the gate ---- */

/* A message being written into a fixed buffer; cut, once it no longer fits. */
struct text {
    char *buf;
    size_t size, len;
    bool cut;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->cut || t->size == 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->size - t->len) {
        t->len = t->size - 1;
        t->buf[t->len] = '\0';
        t->cut = true;
    } else {
        t->len += (size_t)n;
    }
}

/* "2 CRITICAL, 1 HIGH": the non-zero counts from CRITICAL down to min. */
static void put_counts(struct text *t, const struct p4_scan_summary *s, enum p4_severity min)
{
    const char *sep = "";

    for (int sev = P4_SEV_CRITICAL; sev >= (int)min; sev--) {
        if (s->counts[sev] > 0) {
            put(t, "%s%d %s", sep, s->counts[sev], severity_names[sev]);
            sep = ", ";
        }
    }
}

/* "CVE-2023-0001 in openssl 3.0.1 (CRITICAL, fixed in 3.0.2)" */
static void put_finding(struct text *t, const struct p4_scan_finding *f)
{
    put(t, "%s", f->id[0] != '\0' ? f->id : "a finding without an id");
    if (f->package[0] != '\0')
        put(t, " in %s", f->package);
    if (f->installed[0] != '\0')
        put(t, " %s", f->installed);
    if (f->fixed[0] != '\0')
        put(t, " (%s, fixed in %s)", p4_severity_name(f->severity), f->fixed);
    else
        put(t, " (%s, no fix yet)", p4_severity_name(f->severity));
}

int p4_scan_over(const struct p4_scan_summary *s, enum p4_severity max, char *msg, size_t size)
{
    struct text t = {msg, msg != NULL ? size : 0, 0, false};
    int count = 0, named = 0;

    if (t.size > 0)
        msg[0] = '\0';
    if (s == NULL || (unsigned)max >= P4_SEV_COUNT) {
        count = P4_ERR_INVAL;
        goto out;
    }
    for (int sev = max; sev < P4_SEV_COUNT; sev++)
        count += s->counts[sev];
    if (count == 0) {
        put(&t, "no vulnerabilities at or above %s (", severity_names[max]);
        if (s->total == 0) {
            put(&t, "none found)");
        } else {
            put(&t, "%d found: ", s->total);
            put_counts(&t, s, P4_SEV_UNKNOWN);
            put(&t, ")");
        }
        goto out;
    }
    put(&t, "%d %s at or above %s (", count, count == 1 ? "vulnerability" : "vulnerabilities",
        severity_names[max]);
    put_counts(&t, s, max);
    put(&t, ")");
    for (int i = 0; i < s->nworst && i < P4_SCAN_WORST; i++) {
        if (s->worst[i].severity < max)
            break;
        put(&t, "%s", named == 0 ? ": " : ", ");
        put_finding(&t, &s->worst[i]);
        named++;
    }
    if (named == 0)
        put(&t, ", counted in the report's summary but not listed");
    else if (named < count)
        put(&t, ", and %d more", count - named);
out:
    if (t.cut && t.size >= 4 && msg != NULL)
        memcpy(msg + t.size - 4, "...", 3);
    return count;
}
