/*
 * vulnreport.h: a Trivy Operator VulnerabilityReport, read from the API server, summarized as
 * scanreport.h summarizes a report attached to the image (internal to stages/docker/).
 *
 * Ownership: obj and digests are borrowed for the call; the summary owns nothing.
 */
#ifndef PHASE4_VULNREPORT_H
#define PHASE4_VULNREPORT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "phase4/core/error.h"
#include "phase4/scan/scanreport.h"

/*
 * A Trivy Operator VulnerabilityReport (aquasecurity.github.io/v1alpha1; kind absent,
 * "VulnerabilityReport" or "ClusterVulnerabilityReport"): report.vulnerabilities[] of
 * {vulnerabilityID, resource (the package), installedVersion, fixedVersion, severity}. When
 * report.summary counts more of a severity (criticalCount, highCount, mediumCount, lowCount,
 * unknownCount + noneCount) than the list holds, the list was cut and the difference is
 * counted too, unnamed. *out and the return value as for the parsers of scanreport.h.
 */
int p4_scan_parse_vulnreport(const cJSON *obj, struct p4_scan_summary *out, struct p4_error *err);

/*
 * Does VulnerabilityReport obj describe this image? True when its report.artifact.digest is
 * "sha256:" + 64 lower-case hex digits and equals one of digests[0..n) (the image's index digest
 * or a platform manifest's); NULL entries are skipped. False for any NULL argument.
 */
bool p4_scan_vulnreport_matches(const cJSON *obj, const char *const *digests, size_t n);

#endif
