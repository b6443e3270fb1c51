/* vulnreport.c: a Trivy Operator VulnerabilityReport summarized (see vulnreport.h). */
#include "phase4/scan/vulnreport.h"

#include <stdint.h>
#include <string.h>

#include "phase4/core/json.h"
#include "scansummary.h"

#define FORMAT_VULNREPORT "VulnerabilityReport"
/* A VulnerabilityReport summary count is clamped here, so sums of them stay far from INT_MAX. */
#define CLAIMED_MAX 100000000
#define SHOWN_SIZE 48 /* a report's own text (a kind) in a message */

static int read_vulnerabilities(struct p4_scan_reader *r, const cJSON *report)
{
    const cJSON *list, *v;
    char path[P4_SCAN_PATH_SIZE];
    size_t i = 0;
    int rc = p4_scan_member(r, report, "report", "vulnerabilities", P4_SCAN_ARRAY, &list);

    cJSON_ArrayForEach(v, list) {
        struct p4_scan_item it = {0};
        struct p4_span sev = P4_SCAN_EMPTY;

        rc = p4_scan_element(r, v, "report.vulnerabilities", i++, path, sizeof(path));
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "vulnerabilityID", &it.id);
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "resource", &it.package);
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "installedVersion", &it.installed);
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "fixedVersion", &it.fixed);
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "severity", &sev);
        if (rc < 0)
            break;
        it.severity = p4_scan_severity_or_unknown(sev);
        rc = p4_scan_add(&r->c, &it, r->err);
        if (rc < 0)
            break;
    }
    return rc;
}

/* report.summary's counts into claimed, by severity ("noneCount" adds to UNKNOWN). */
static int read_claims(struct p4_scan_reader *r, const cJSON *summary, int *claimed)
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
            rc = p4_scan_shape_error(r, "report.summary", names[k],
                                     "is not a whole number of at least 0");
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
    struct p4_scan_reader r;
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
    rc = p4_scan_member(&r, obj, "", "kind", P4_SCAN_STRING, &kind);
    if (rc == 0 && kind != NULL && strcmp(kind->valuestring, "VulnerabilityReport") != 0 &&
        strcmp(kind->valuestring, "ClusterVulnerabilityReport") != 0) {
        char shown[SHOWN_SIZE];

        p4_scan_copy_clean(shown, sizeof(shown), p4_span_of(kind->valuestring));
        rc =
            p4_error_set(err, P4_ERR_PARSE, "the object is a %s, not a VulnerabilityReport", shown);
    }
    if (rc == 0)
        rc = p4_scan_member(&r, obj, "", "report", P4_SCAN_OBJECT, &report);
    if (rc == 0 && report == NULL)
        rc = p4_scan_shape_error(&r, "", "", "it has no report");
    if (rc == 0)
        rc = read_vulnerabilities(&r, report);
    if (rc == 0)
        rc = p4_scan_member(&r, report, "report", "summary", P4_SCAN_OBJECT, &summary);
    if (rc == 0 && summary != NULL)
        rc = read_claims(&r, summary, claimed);
    if (rc == 0)
        p4_scan_finish(&r.c, summary != NULL ? claimed : NULL, FORMAT_VULNREPORT, out);
out:
    p4_scan_collect_close(&r.c);
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
