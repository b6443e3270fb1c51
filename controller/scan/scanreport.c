/* scanreport.c: severities, a report's body read in its format, and the Scanned gate
 * (scanreport.h). */
#include "phase4/scan/scanreport.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/json.h"
#include "sarif.h"
#include "scansummary.h"
#include "trivyjson.h"

#define FORMAT_TRIVY "trivy-json"
#define FORMAT_SARIF "sarif"

static const char *const severity_names[P4_SEV_COUNT] = {"UNKNOWN", "LOW", "MEDIUM", "HIGH",
                                                         "CRITICAL"};

const char *p4_severity_name(enum p4_severity s)
{
    return (unsigned)s < P4_SEV_COUNT ? severity_names[s] : severity_names[P4_SEV_UNKNOWN];
}

int p4_severity_of(const char *s, size_t n)
{
    for (int i = 0; i < P4_SEV_COUNT; i++) {
        if (strlen(severity_names[i]) == n && strncasecmp(s, severity_names[i], n) == 0)
            return i;
    }
    return -1;
}

int p4_severity_parse(const char *s, enum p4_severity *out)
{
    int sev = s != NULL ? p4_severity_of(s, strlen(s)) : -1;

    if (sev < 0)
        return P4_ERR_INVAL;
    if (out != NULL)
        *out = (enum p4_severity)sev;
    return 0;
}

/* ---- the entry points ---- */

enum shape { ANY, TRIVY, SARIF };

static int parse(const char *body, size_t len, enum shape want, struct p4_scan_summary *out,
                 struct p4_error *err)
{
    static const char *const whats[] = {"the scan report is not Trivy JSON or SARIF",
                                        "the scan report is not Trivy JSON",
                                        "the scan report is not SARIF"};
    struct p4_scan_reader r;
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
    rc = p4_scan_parse_body(body, len, r.what, &doc, err);
    if (rc < 0)
        goto out;
    if (want == ANY) {
        if (cJSON_IsArray(p4_json_child(doc, "runs")))
            want = SARIF;
        else if (p4_json_child(doc, "SchemaVersion") != NULL ||
                 p4_json_child(doc, "Results") != NULL)
            want = TRIVY;
        if (want == ANY) {
            rc = p4_scan_shape_error(
                &r, "", "",
                "it has neither a runs array (SARIF) nor SchemaVersion or Results "
                "(Trivy JSON)");
            goto out;
        }
        r.what = whats[want];
    }
    rc = want == SARIF ? p4_scan_read_sarif(&r, doc) : p4_scan_read_trivy(&r, doc);
    if (rc == 0)
        p4_scan_finish(&r.c, NULL, want == SARIF ? FORMAT_SARIF : FORMAT_TRIVY, out);
out:
    p4_scan_collect_close(&r.c);
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

bool p4_scan_report_type(const char *artifact_type)
{
    return artifact_type != NULL &&
           (strstr(artifact_type, "sarif") != NULL || strstr(artifact_type, "trivy") != NULL);
}
