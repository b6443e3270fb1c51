/* trivyjson.c: Trivy's JSON report read into findings (see trivyjson.h). */
#include "trivyjson.h"

#include <stddef.h>
#include <stdint.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* One of Results[]: its Vulnerabilities[], if any. */
static int read_trivy_result(struct p4_scan_reader *r, const cJSON *res, const char *rpath)
{
    const cJSON *vulns, *v;
    char list[P4_SCAN_PATH_SIZE], path[P4_SCAN_PATH_SIZE];
    size_t i = 0;
    int rc = p4_scan_member(r, res, rpath, "Vulnerabilities", P4_SCAN_ARRAY, &vulns);

    p4_text_format(list, sizeof(list), "%s.Vulnerabilities", rpath);
    cJSON_ArrayForEach(v, vulns) {
        struct p4_scan_item it = {0};
        struct p4_span sev = P4_SCAN_EMPTY;

        if (rc == 0)
            rc = p4_scan_element(r, v, list, i++, path, sizeof(path));
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "VulnerabilityID", &it.id);
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "PkgName", &it.package);
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "InstalledVersion", &it.installed);
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "FixedVersion", &it.fixed);
        if (rc == 0)
            rc = p4_scan_str_member(r, v, path, "Severity", &sev);
        if (rc < 0)
            break;
        it.severity = p4_scan_severity_or_unknown(sev);
        rc = p4_scan_add(&r->c, &it, r->err);
    }
    return rc;
}

int p4_scan_read_trivy(struct p4_scan_reader *r, const cJSON *doc)
{
    const cJSON *results, *res;
    char path[P4_SCAN_PATH_SIZE];
    size_t i = 0;
    int64_t version;
    int rc = 0;

    if (p4_json_child(doc, "SchemaVersion") == NULL && p4_json_child(doc, "Results") == NULL) {
        rc = p4_scan_shape_error(r, "", "", "it has neither SchemaVersion nor Results");
        goto out;
    }
    if (p4_json_child(doc, "SchemaVersion") != NULL) {
        if (p4_json_int64(doc, "SchemaVersion", &version) != 0) {
            rc = p4_scan_shape_error(r, "", "SchemaVersion", "is not a whole number");
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
    rc = p4_scan_member(r, doc, "", "Results", P4_SCAN_ARRAY, &results);
    cJSON_ArrayForEach(res, results) {
        if (rc == 0)
            rc = p4_scan_element(r, res, "Results", i++, path, sizeof(path));
        if (rc == 0)
            rc = read_trivy_result(r, res, path);
        if (rc < 0)
            break;
    }
out:
    return rc;
}
