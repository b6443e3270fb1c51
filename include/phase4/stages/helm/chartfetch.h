/*
 * chartfetch.h: a Helm chart, fetched and verified, cached on disk by digest
 * (the Helm stage's "packaged and accessible" gate).
 *
 * From an HTTP(S) repository: index.yaml (yamljson.h) resolved with
 * chartindex.h (an exact version or a semver range), then the .tgz, whose
 * SHA-256 must be the one the index lists. Basic credentials go to the
 * repository's own origin only (scheme, host and port: as helm does without
 * --pass-credentials; never along a redirect elsewhere), and only over TLS:
 * credentials for a plain http:// repository are refused unless the request
 * says insecure (core/url.h has the rule).
 * From an oci:// registry: through registry.h (the Docker stage's client,
 * with its auth flow), the tag for an exact version or the highest tag a
 * range allows, then the chart layer (application/vnd.cncf.helm.chart.
 * content.v1.tar+gzip), digest-checked by the client.
 *
 * Charts are kept as <cache_dir>/sha256-<hex>.tgz, written atomically; a
 * chart already there is used without a download. Past cache_max_bytes the
 * least recently written charts are removed. Credentials are never logged or
 * put in a message.
 */
#ifndef PHASE4_CHARTFETCH_H
#define PHASE4_CHARTFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "phase4/core/error.h"
#include "phase4/oci/registry.h"

#define P4_CHART_MAX ((size_t)16 * 1024 * 1024) /* a chart archive; larger: P4_ERR_TOOBIG */

struct p4_chartfetch;

struct p4_chartfetch_config {
    const char *cache_dir;        /* copied; created if missing (mode 0700) */
    uint64_t cache_max_bytes;     /* 0: 256 MiB */
    struct p4_registry *registry; /* borrowed: for oci:// repositories */
};

/* What to fetch; every pointer borrowed for the call (copied as needed). */
struct p4_chart_request {
    const char *repository;          /* "https://charts.example.com/stable" or "oci://host/path" */
    const char *name;                /* "webapp" */
    const char *version;             /* "1.2.3", or a range such as "~1.2"; NULL or "": latest */
    const char *username, *password; /* HTTP basic auth for the repository, or NULL */
    const unsigned char *ca_pem;     /* extra CA bundle, or NULL */
    size_t ca_len;
    const struct p4_regauth_entry *cred; /* oci:// credentials, or NULL */
    int insecure_http; /* spec.chart.insecure: oci:// over plain HTTP, and credentials sent to
                          a plain http:// repository */
};

struct p4_chart_result {
    int rc;              /* 0, P4_ERR_NOTFOUND (no such chart or version), P4_ERR_UNAUTHORIZED /
                            P4_ERR_FORBIDDEN, P4_ERR_INVALID (digest mismatch, bad index or
                            manifest), P4_ERR_TOOBIG, P4_ERR_TLS, or a transient P4_ERR_UNAVAILABLE /
                            P4_ERR_TRANSPORT / P4_ERR_TIMEOUT, P4_ERR_IO (the cache) */
    struct p4_error err; /* reason "ChartNotFound", "ChartDigestMismatch", ... and one sentence */
    char version[128];   /* the version resolved */
    char digest[80];     /* "sha256:<hex>" of the archive */
    char path[1024];     /* the archive in the cache */
    bool from_cache;     /* no download was needed */
};

/* res is valid during the call only. */
typedef void (*p4_chartfetch_cb)(const struct p4_chart_result *res, void *data);

struct p4_chartfetch *p4_chartfetch_new(uv_loop_t *loop, const struct p4_chartfetch_config *cfg);
/* Cancel what is in flight (callbacks get P4_ERR_CANCELED) and free once closed; NULL is fine. */
void p4_chartfetch_free(struct p4_chartfetch *f);
/*
 * Start fetching; cb runs once, later. Returns 0, P4_ERR_INVAL (a bad repository URL, user
 * information in it included) or P4_ERR_INSECURE (credentials for a plain http:// repository
 * without insecure_http); cb is then never called and nothing was sent.
 */
int p4_chartfetch_get(struct p4_chartfetch *f, const struct p4_chart_request *req,
                      p4_chartfetch_cb cb, void *data);

#endif
