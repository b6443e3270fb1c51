/*
 * chartindex.h: picking a chart version from a Helm chart repository's index.
 *
 * The Helm stage fetches index.yaml from an HTTP(S) chart repository, turns it
 * into a cJSON tree (yamljson.h) and asks p4_chartindex_resolve() which entry
 * spec.chart.version means, where to download it and what digest the index
 * promises for it. It follows Helm 3 (pkg/repo IndexFile.Get and
 * ResolveReferenceURL), so the operator installs the version `helm install
 * --repo URL NAME --version V` would:
 *
 * - The index must be a map with an apiVersion; "entries" maps chart names to
 *   lists of versions. An entry that is not a map, has no name (or one with a
 *   '/' or '\', a blank or non-ASCII), or has a version SemVer does not accept
 *   (semver.h) is skipped, as Helm skips entries that fail validation. A
 *   version or appVersion that YAML made a number ("version: 1.10") is read as
 *   Helm reads it, as Go prints a float32 ("1.1").
 * - An entry whose version string is exactly the constraint wins outright.
 *   Otherwise the constraint is a semver.h range ("1.2.3" meaning =1.2.3,
 *   build metadata ignored, "v1.2.3" equal to "1.2.3") and the highest
 *   matching version wins; prereleases only as the range admits them. A NULL,
 *   empty or blank constraint means the highest version that is not a
 *   prerelease (Helm's "*"). Among entries of equal precedence (versions that
 *   differ only in build metadata) the first in the index wins. One deliberate
 *   difference: an exact version with build metadata ("1.2.3+b2") requires
 *   that build, where Helm would take any 1.2.3.
 * - Deprecated versions are still picked (Helm installs them too); the flag
 *   is passed on for a warning.
 * - The download URL is the first entry of "urls" that is usable: absolute
 *   ones are taken as they are; relative ones are resolved against repo_url
 *   taken as a directory (a '/' is added when it has none: "charts/a.tgz"
 *   under https://h.example/sub is https://h.example/sub/charts/a.tgz), with
 *   dot segments removed and, as Helm does, repo_url's query (a signed
 *   URL's token) replacing the relative URL's own. Only http and https
 *   results are used; URLs with user info ("user:pass@"), blanks, control or
 *   non-ASCII bytes, or a backslash are refused; fragments are dropped.
 * - The digest is the index's sha256 of the .tgz (64 hex digits, with or
 *   without a "sha256:" prefix, any case), returned as "sha256:<lower hex>".
 *
 * The work is one pass over the chart's versions (a second one lists them
 * when none matches) with no per-entry allocation, so an index with 100k
 * entries costs time, not memory.
 *
 * Ownership: index, repo_url, name and constraint are borrowed for the call
 * only. The result is a copy (no pointer into the tree) that the caller frees
 * with p4_chart_version_free().
 */
#ifndef PHASE4_CHARTINDEX_H
#define PHASE4_CHARTINDEX_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "phase4/core/error.h"
#include "semver.h"

/* Longest chart URL read from an index or given as repo_url, in bytes. */
#define P4_CHARTINDEX_URL_MAX 2048
/* Versions (or chart names) listed in a NotFound message, newest first. */
#define P4_CHARTINDEX_LISTED_MAX 10

struct p4_chart_version {
    char *name;        /* the entry's name, printable ASCII; never NULL */
    char *version;     /* as the index writes it ("v1.2.0"), to pin in status; never NULL */
    char *app_version; /* appVersion, bytes other than printable ASCII made '?'; NULL if absent */
    char *digest;      /* "sha256:<64 lower hex>" of the .tgz; NULL when the index lists none */
    char *url;         /* absolute http(s) URL of the .tgz, no user info or fragment; never NULL */
    bool deprecated;   /* the entry has deprecated: true */
    struct p4_semver semver; /* version, parsed */
};

/*
 * The entry of chart name in index that constraint picks, as described
 * above. repo_url is the repository's base URL ("https://charts.example.com/sub",
 * where index.yaml lives), used for relative chart URLs; it may be NULL or
 * "" when there are none to resolve.
 *
 * Returns 0 with *out set (caller frees with p4_chart_version_free()), or a
 * negative code with *out NULL and err (may be NULL) filled:
 * P4_ERR_NOTFOUND    no chart of that name (the message lists up to
 *                    P4_CHARTINDEX_LISTED_MAX names the index has), or no
 *                    version that matches, e.g. `chart webapp has no version
 *                    matching "~2.0" (it has: 1.0.0, 0.2.0, 0.1.0)`, newest
 *                    first, up to P4_CHARTINDEX_LISTED_MAX listed;
 * P4_ERR_INVALID     the index is not of the expected shape, or the picked
 *                    entry has an unusable field; the message names it, e.g.
 *                    `entries.webapp[2].digest "abc" is not a SHA-256 digest`
 *                    or `entries.webapp[2].urls[0] "ftp://..." is not an http
 *                    or https URL` (credentials are never repeated);
 * P4_ERR_INVAL       index, name or out NULL, name empty, repo_url not an
 *                    http(s) URL without user info, constraint not a valid
 *                    range, or a relative chart URL with no repo_url.
 */
int p4_chartindex_resolve(const cJSON *index, const char *repo_url, const char *name,
                          const char *constraint, struct p4_chart_version **out,
                          struct p4_error *err);

/* Release v and its strings; v may be NULL. */
void p4_chart_version_free(struct p4_chart_version *v);

#endif
