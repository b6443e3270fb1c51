/* scansummary.c: findings deduplicated and ranked, and a report's members read (scansummary.h). */
#include "scansummary.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"

void p4_scan_copy_clean(char *dst, size_t size, struct p4_span s)
{
    (void)p4_text_clean(dst, size, s.p, s.n, P4_TEXT_ASCII | P4_TEXT_LITERAL);
}

enum p4_severity p4_scan_severity_or_unknown(struct p4_span s)
{
    int sev = p4_severity_of(s.p, s.n);

    return sev < 0 ? P4_SEV_UNKNOWN : (enum p4_severity)sev;
}

/* ---- findings, deduplicated and ranked ---- */

void p4_scan_collect_close(struct p4_scan_collect *c)
{
    free(c->items);
    memset(c, 0, sizeof(*c));
}

int p4_scan_add(struct p4_scan_collect *c, const struct p4_scan_item *it, struct p4_error *err)
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
    const struct p4_scan_item *a = pa, *b = pb;
    int c = p4_span_cmp(a->id, b->id);

    if (c == 0)
        c = p4_span_cmp(a->package, b->package);
    if (c == 0)
        c = (int)b->severity - (int)a->severity;
    if (c == 0)
        c = a->seq < b->seq ? -1 : a->seq > b->seq;
    return c;
}

/* The highest severity first, then by id, then by package; keys are unique by now. */
static int rank_cmp(const void *pa, const void *pb)
{
    const struct p4_scan_item *a = pa, *b = pb;
    int c = (int)b->severity - (int)a->severity;

    if (c == 0)
        c = p4_span_cmp(a->id, b->id);
    if (c == 0)
        c = p4_span_cmp(a->package, b->package);
    return c;
}

void p4_scan_finish(struct p4_scan_collect *c, const int *claimed, const char *format,
                    struct p4_scan_summary *out)
{
    size_t kept = 0;

    memset(out, 0, sizeof(*out));
    out->format = format;
    if (c->len > 0) {
        qsort(c->items, c->len, sizeof(*c->items), key_cmp);
        for (size_t i = 0; i < c->len; i++) {
            if (kept > 0 && p4_span_cmp(c->items[i].id, c->items[kept - 1].id) == 0 &&
                p4_span_cmp(c->items[i].package, c->items[kept - 1].package) == 0)
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
        const struct p4_scan_item *it = &c->items[i];

        p4_scan_copy_clean(f->id, sizeof(f->id), it->id);
        p4_scan_copy_clean(f->package, sizeof(f->package), it->package);
        p4_scan_copy_clean(f->installed, sizeof(f->installed), it->installed);
        p4_scan_copy_clean(f->fixed, sizeof(f->fixed), it->fixed);
        f->severity = it->severity;
    }
}

/* ---- reading JSON members with their types checked ---- */

static const char *const kind_names[] = {"an object", "an array", "a string"};

int p4_scan_shape_error(struct p4_scan_reader *r, const char *where, const char *name,
                        const char *problem)
{
    char path[2 * P4_SCAN_PATH_SIZE];

    p4_text_format(path, sizeof(path), "%s%s%s", where,
                   where[0] != '\0' && name[0] != '\0' ? "." : "", name);
    return p4_error_set(r->err, P4_ERR_PARSE, "%s: %s%s%s", r->what, path,
                        path[0] != '\0' ? " " : "", problem);
}

int p4_scan_member(struct p4_scan_reader *r, const cJSON *obj, const char *where, const char *name,
                   enum p4_scan_kind k, const cJSON **out)
{
    const cJSON *v = p4_json_child(obj, name);
    bool ok;

    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return 0;
    ok = k == P4_SCAN_OBJECT  ? cJSON_IsObject(v)
         : k == P4_SCAN_ARRAY ? cJSON_IsArray(v)
                              : cJSON_IsString(v);
    if (!ok) {
        char problem[48];

        (void)snprintf(problem, sizeof(problem), "is not %s", kind_names[k]);
        return p4_scan_shape_error(r, where, name, problem);
    }
    *out = v;
    return 0;
}

int p4_scan_str_member(struct p4_scan_reader *r, const cJSON *obj, const char *where,
                       const char *name, struct p4_span *out)
{
    const cJSON *v;
    int rc = p4_scan_member(r, obj, where, name, P4_SCAN_STRING, &v);

    *out = v != NULL ? p4_span_of(v->valuestring) : P4_SCAN_EMPTY;
    return rc;
}

int p4_scan_element(struct p4_scan_reader *r, const cJSON *v, const char *array_path, size_t i,
                    char *path, size_t size)
{
    p4_text_format(path, size, "%s[%zu]", array_path, i);
    if (!cJSON_IsObject(v))
        return p4_scan_shape_error(r, path, "", "is not an object");
    return 0;
}

/* ---- the body ---- */

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

int p4_scan_parse_body(const char *body, size_t len, const char *what, cJSON **doc,
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
