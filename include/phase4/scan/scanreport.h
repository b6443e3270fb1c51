/*
 * scanreport.h: vulnerability scan results, summarized for the Docker stage's "Scanned" gate and
 * for the Helm stage's check of the chart's other images (spec.image.scan.scope all).
 *
 * Three shapes are read: Trivy's JSON (`trivy image -f json`, trivyjson.c), the SARIF 2.1.0
 * Trivy writes (`-f sarif`, sarif.c), both as bytes attached to the image in a registry and
 * parsed here, and a Trivy Operator VulnerabilityReport object read from the API server
 * (vulnreport.h). Each becomes a p4_scan_summary the same way (scansummary.h): findings counted
 * by severity, deduplicated by (id, package) keeping the highest severity, and the worst few
 * kept for the gate's message. p4_scan_over() makes the decision and writes that message.
 *
 * Reports are hostile input: bodies over P4_SCAN_REPORT_MAX bytes, with more
 * than P4_SCAN_VALUES_MAX JSON values (which bounds the parse tree's memory) or
 * more than P4_SCAN_FINDINGS_MAX findings are refused with P4_ERR_TOOBIG, never
 * counted in part; a member of the wrong type anywhere is P4_ERR_PARSE naming
 * its path ("Results[1].Vulnerabilities[4].Severity is not a string"). Strings
 * kept in a summary are cut to their buffers ("..." marks a cut) and hold only
 * printable ASCII (any other byte becomes '?'), so they are safe in a status
 * message. Only vulnerabilities are counted: Trivy's misconfigurations and
 * secrets in JSON are ignored (in SARIF every failing result counts).
 *
 * Ownership: a summary is a plain value that owns nothing (format is static);
 * every pointer argument is borrowed for the call only.
 */
#ifndef PHASE4_SCANREPORT_H
#define PHASE4_SCANREPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "phase4/core/error.h"

#define P4_SCAN_REPORT_MAX ((size_t)16 * 1024 * 1024) /* body bytes; the registry's blob limit */
#define P4_SCAN_VALUES_MAX 2000000                    /* JSON values in one body */
#define P4_SCAN_FINDINGS_MAX 100000                   /* findings listed, before deduplication */
#define P4_SCAN_WORST 5                               /* findings a summary names */

/* In increasing order: the gate compares them. UNKNOWN (unrated) is below LOW. */
enum p4_severity {
    P4_SEV_UNKNOWN = 0,
    P4_SEV_LOW,
    P4_SEV_MEDIUM,
    P4_SEV_HIGH,
    P4_SEV_CRITICAL,
    P4_SEV_COUNT
};

/* "UNKNOWN", "LOW", "MEDIUM", "HIGH" or "CRITICAL" (static); "UNKNOWN" for a value out of range. */
const char *p4_severity_name(enum p4_severity s);

/*
 * One of the five names above, in any case, into *out. Returns 0, or P4_ERR_INVAL for NULL or
 * any other text, leaving *out untouched (so a caller can preset a default).
 */
int p4_severity_parse(const char *s, enum p4_severity *out);

/* The severity the n bytes at s name (need not be NUL-terminated), in any case, or -1. */
int p4_severity_of(const char *s, size_t n);

struct p4_scan_finding {
    char id[64];        /* "CVE-2023-0001"; "" when the report gave none */
    char package[128];  /* "openssl"; "" when the report gave none */
    char installed[64]; /* "3.0.1"; "" when the report gave none */
    char fixed[64];     /* "3.0.2"; "" when there is no fix yet */
    enum p4_severity severity;
};

struct p4_scan_summary {
    const char *format;       /* static: "trivy-json", "sarif" or "VulnerabilityReport" */
    int counts[P4_SEV_COUNT]; /* findings by severity, deduplicated by (id, package) */
    int total;                /* sum of counts */
    /* The highest severity first, then by id, then by package (byte order). */
    struct p4_scan_finding worst[P4_SCAN_WORST];
    int nworst; /* entries of worst in use: the number of named findings, at most P4_SCAN_WORST */
};

/*
 * The parsers below (and p4_scan_parse_vulnreport, vulnreport.h) overwrite *out: on success a
 * summary (all zeros for a report without findings), on error all zeros with format NULL. They
 * return 0, P4_ERR_INVAL for a NULL argument, P4_ERR_TOOBIG past a limit above, or P4_ERR_PARSE for
 * bytes that are not JSON or a report of the wrong shape. Severities they do not know count as
 * UNKNOWN.
 */

/*
 * Trivy's JSON: an object with SchemaVersion 2 (other versions are refused) and
 * Results[].Vulnerabilities[] of {VulnerabilityID, PkgName, InstalledVersion, FixedVersion,
 * Severity}. Results or Vulnerabilities absent or null mean none.
 */
int p4_scan_parse_trivy(const char *body, size_t len, struct p4_scan_summary *out,
                        struct p4_error *err);

/*
 * SARIF 2.1.0 as Trivy writes it: runs[].results[] against runs[].tool.driver.rules[]. A
 * result's id is its ruleId (else the message's "Vulnerability <id>" line, else its rule's id);
 * package, versions and severity come from its message.text lines ("Package: ", "Installed
 * Version: ", "Fixed Version: ", "Severity: "; "Artifact: " stands in for a package). Without a
 * "Severity:" line: its rule's properties.tags severity word, else the rule's
 * properties."security-severity" CVSS score (>= 9.0 CRITICAL, >= 7.0 HIGH, >= 4.0 MEDIUM,
 * > 0 LOW), else the level (the result's, else the rule's default, else SARIF's "warning"):
 * error HIGH, warning MEDIUM, note LOW, none UNKNOWN. Results of kind pass, notApplicable or
 * informational are not findings.
 */
int p4_scan_parse_sarif(const char *body, size_t len, struct p4_scan_summary *out,
                        struct p4_error *err);

/*
 * Either of the two, told apart by content: a "runs" array means SARIF, else "SchemaVersion" or
 * "Results" means Trivy JSON.
 */
int p4_scan_parse(const char *body, size_t len, struct p4_scan_summary *out, struct p4_error *err);

/*
 * The gate: returns how many findings of s are at or above max (P4_ERR_INVAL for a NULL s or a
 * max out of range) and writes one sentence for a status condition into msg, size bytes
 * (nothing when size is 0; otherwise always NUL-terminated, ending in "..." when cut):
 *   "2 vulnerabilities at or above HIGH (1 CRITICAL, 1 HIGH): CVE-2023-0001 in openssl 3.0.1
 *    (CRITICAL, fixed in 3.0.2), CVE-2023-0002 in zlib 1.2.11 (HIGH, no fix yet)"
 * (", and N more" when not all are named), or when none are:
 *   "no vulnerabilities at or above HIGH (3 found: 2 MEDIUM, 1 LOW)" / "... (none found)".
 */
int p4_scan_over(const struct p4_scan_summary *s, enum p4_severity max, char *msg, size_t size);

/* Is an OCI artifact type (a referrer's) a scan report read here (Trivy JSON or SARIF)? */
bool p4_scan_report_type(const char *artifact_type);

#endif
