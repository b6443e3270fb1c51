/* sarif.c: Trivy's SARIF read into findings, severities from lines, rules or levels (sarif.h). */
#include "sarif.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

struct rule {
    struct p4_span id;
    int severity; /* from its tags or security-severity; -1 when they give none */
    int level;    /* the severity of its defaultConfiguration.level; -1 when none */
    size_t index; /* in tool.driver.rules */
};

/* SARIF's level as a severity, or -1 for an unknown one. */
static int level_severity(struct p4_span level)
{
    static const char *const levels[] = {"none", "note", "warning", "error"};

    for (int i = 0; i < 4; i++) {
        if (p4_span_cmp(level, p4_span_of(levels[i])) == 0)
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
static int read_rule(struct p4_scan_reader *r, const cJSON *rule, const char *path,
                     struct rule *out)
{
    const cJSON *props = NULL, *tags = NULL, *tag, *config = NULL;
    char sub[P4_SCAN_PATH_SIZE], list[P4_SCAN_PATH_SIZE];
    struct p4_span level = P4_SCAN_EMPTY;
    bool unknown = false;
    double score;
    size_t i = 0;
    int rc;

    out->severity = -1;
    rc = p4_scan_str_member(r, rule, path, "id", &out->id);
    if (rc == 0)
        rc = p4_scan_member(r, rule, path, "properties", P4_SCAN_OBJECT, &props);
    p4_text_format(sub, sizeof(sub), "%s.properties", path);
    if (rc == 0 && props != NULL)
        rc = p4_scan_member(r, props, sub, "tags", P4_SCAN_ARRAY, &tags);
    p4_text_format(list, sizeof(list), "%s.tags", sub);
    cJSON_ArrayForEach(tag, tags) {
        int sev;

        if (!cJSON_IsString(tag)) {
            p4_text_format(sub, sizeof(sub), "%s[%zu]", list, i);
            rc = p4_scan_shape_error(r, sub, "", "is not a string");
            goto out;
        }
        i++;
        sev = p4_severity_of(tag->valuestring, strlen(tag->valuestring));
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
        rc = p4_scan_member(r, rule, path, "defaultConfiguration", P4_SCAN_OBJECT, &config);
    p4_text_format(sub, sizeof(sub), "%s.defaultConfiguration", path);
    if (rc == 0 && config != NULL)
        rc = p4_scan_str_member(r, config, sub, "level", &level);
    out->level = level_severity(level);
out:
    return rc;
}

/* By id, then by position, so the first of rules sharing an id is found. */
static int rule_cmp(const void *pa, const void *pb)
{
    const struct rule *a = pa, *b = pb;
    int c = p4_span_cmp(a->id, b->id);

    if (c == 0)
        c = a->index < b->index ? -1 : a->index > b->index;
    return c;
}

static const struct rule *find_rule(const struct rule *by_id, size_t n, struct p4_span id)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (p4_span_cmp(by_id[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && p4_span_cmp(by_id[lo].id, id) == 0 ? &by_id[lo] : NULL;
}

/* The lines of a Trivy result message that describe the finding. */
enum line { L_PACKAGE, L_ARTIFACT, L_INSTALLED, L_FIXED, L_SEVERITY, L_VULNERABILITY, L_COUNT };

static const char *const line_prefixes[L_COUNT] = {
    "Package: ",       "Artifact: ", "Installed Version: ",
    "Fixed Version: ", "Severity: ", "Vulnerability ",
};

/* The first non-empty value of each line kind in text, without surrounding blanks. */
static void read_lines(struct p4_span text, struct p4_span *values)
{
    const char *p = text.p, *end = text.p + text.n;

    for (int k = 0; k < L_COUNT; k++)
        values[k] = P4_SCAN_EMPTY;
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
static int read_result(struct p4_scan_reader *r, const cJSON *res, const char *path,
                       const struct rules *rules)
{
    const cJSON *kind = NULL, *rule_id = NULL, *level = NULL, *message = NULL, *text = NULL;
    const cJSON *index;
    const struct rule *rule = NULL;
    struct p4_span lines[L_COUNT];
    struct p4_scan_item it = {0};
    char sub[P4_SCAN_PATH_SIZE];
    int64_t i;
    int sev, rc;

    rc = p4_scan_member(r, res, path, "kind", P4_SCAN_STRING, &kind);
    if (rc < 0 || not_a_finding(kind))
        goto out;
    rc = p4_scan_member(r, res, path, "ruleId", P4_SCAN_STRING, &rule_id);
    if (rc == 0)
        rc = p4_scan_member(r, res, path, "level", P4_SCAN_STRING, &level);
    if (rc == 0)
        rc = p4_scan_member(r, res, path, "message", P4_SCAN_OBJECT, &message);
    p4_text_format(sub, sizeof(sub), "%s.message", path);
    if (rc == 0 && message != NULL)
        rc = p4_scan_member(r, message, sub, "text", P4_SCAN_STRING, &text);
    if (rc < 0)
        goto out;
    index = p4_json_child(res, "ruleIndex");
    if (index != NULL && !cJSON_IsNull(index)) {
        if (p4_json_int64(res, "ruleIndex", &i) != 0) {
            rc = p4_scan_shape_error(r, path, "ruleIndex", "is not a whole number");
            goto out;
        }
        /* Out of range: it may index an extension's rules, so the id is looked up instead. */
        if (i >= 0 && (uint64_t)i < rules->n)
            rule = &rules->by_index[i];
    }
    if (rule_id != NULL && rule_id->valuestring[0] == '\0')
        rule_id = NULL;
    if (rule == NULL && rule_id != NULL)
        rule = find_rule(rules->by_id, rules->n, p4_span_of(rule_id->valuestring));
    read_lines(text != NULL ? p4_span_of(text->valuestring) : P4_SCAN_EMPTY, lines);

    it.id = rule_id != NULL                ? p4_span_of(rule_id->valuestring)
            : lines[L_VULNERABILITY].n > 0 ? lines[L_VULNERABILITY]
            : rule != NULL                 ? rule->id
                                           : P4_SCAN_EMPTY;
    it.package = lines[L_PACKAGE].n > 0 ? lines[L_PACKAGE] : lines[L_ARTIFACT];
    it.installed = lines[L_INSTALLED];
    it.fixed = lines[L_FIXED];
    sev = p4_severity_of(lines[L_SEVERITY].p, lines[L_SEVERITY].n);
    if (sev < 0 && rule != NULL)
        sev = rule->severity;
    if (sev < 0 && level != NULL)
        sev = level_severity(p4_span_of(level->valuestring));
    if (sev < 0 && rule != NULL)
        sev = rule->level;
    if (sev < 0)
        sev = P4_SEV_MEDIUM; /* SARIF's default level, "warning" */
    it.severity = (enum p4_severity)sev;
    rc = p4_scan_add(&r->c, &it, r->err);
out:
    return rc;
}

/* One of runs[], at path. */
static int read_run(struct p4_scan_reader *r, const cJSON *run, const char *path)
{
    const cJSON *tool = NULL, *driver = NULL, *list = NULL, *results = NULL, *v;
    struct rules rules = {NULL, NULL, 0};
    char sub[P4_SCAN_PATH_SIZE], at[P4_SCAN_PATH_SIZE];
    size_t i = 0;
    int rc;

    rc = p4_scan_member(r, run, path, "tool", P4_SCAN_OBJECT, &tool);
    p4_text_format(sub, sizeof(sub), "%s.tool", path);
    if (rc == 0 && tool != NULL)
        rc = p4_scan_member(r, tool, sub, "driver", P4_SCAN_OBJECT, &driver);
    p4_text_format(sub, sizeof(sub), "%s.tool.driver", path);
    if (rc == 0 && driver != NULL)
        rc = p4_scan_member(r, driver, sub, "rules", P4_SCAN_ARRAY, &list);
    if (rc == 0 && list != NULL) {
        size_t n = (size_t)cJSON_GetArraySize(list);

        rules.by_index = p4_calloc(n > 0 ? n : 1, sizeof(*rules.by_index));
        p4_text_format(sub, sizeof(sub), "%s.tool.driver.rules", path);
        cJSON_ArrayForEach(v, list) {
            rc = p4_scan_element(r, v, sub, rules.n, at, sizeof(at));
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
        rc = p4_scan_member(r, run, path, "results", P4_SCAN_ARRAY, &results);
    p4_text_format(sub, sizeof(sub), "%s.results", path);
    cJSON_ArrayForEach(v, results) {
        rc = p4_scan_element(r, v, sub, i++, at, sizeof(at));
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

int p4_scan_read_sarif(struct p4_scan_reader *r, const cJSON *doc)
{
    const cJSON *runs = p4_json_child(doc, "runs"), *run;
    char path[P4_SCAN_PATH_SIZE];
    size_t i = 0;
    int rc = 0;

    if (!cJSON_IsArray(runs)) {
        rc = p4_scan_shape_error(r, "", "runs", runs != NULL ? "is not an array" : "is missing");
        goto out;
    }
    cJSON_ArrayForEach(run, runs) {
        rc = p4_scan_element(r, run, "runs", i++, path, sizeof(path));
        if (rc == 0)
            rc = read_run(r, run, path);
        if (rc < 0)
            break;
    }
out:
    return rc;
}
