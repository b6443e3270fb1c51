/* chartfetch.c: Helm charts from HTTP repositories and OCI registries (see chartfetch.h). */
#include "phase4/stages/helm/chartfetch.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chartindex.h"
#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/url.h"
#include "phase4/core/yamljson.h"
#include "phase4/net/http.h"
#include "phase4/oci/authtoken.h"
#include "phase4/oci/ocimanifest.h"
#include "phase4/oci/regauth.h"
#include "semver.h"

#define TIMEOUT_MS 60000L
#define REDIRECTS_MAX 5L /* as a chart host may send its archives to object storage */
#define INDEX_MAX ((size_t)64 * 1024 * 1024)
#define HELM_CHART_LAYER "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

struct p4_chartfetch {
    struct p4_http *http;
    struct p4_registry *registry;
    char *dir;
    uint64_t max_bytes;
};

struct op {
    char *dir; /* copies: an op may outlive the p4_chartfetch (canceled answers) */
    uint64_t max_bytes;
    struct p4_http *http;
    struct p4_registry *registry;
    char *repository, *name, *version, *user, *password, *auth;
    bool insecure; /* credentials may go over plain HTTP (spec.chart.insecure) */
    unsigned char *ca;
    size_t ca_len;
    /* oci:// */
    char host[256], repo[512];
    struct p4_registry_target target;
    struct p4_regauth_entry cred;
    bool has_cred;
    char *expect; /* the digest the index lists ("sha256:<hex>"), or NULL */
    struct p4_chart_result res;
    p4_chartfetch_cb cb;
    void *data;
};

static void free_op(struct op *o)
{
    free(o->dir);
    free(o->repository);
    free(o->name);
    free(o->version);
    p4_wipe_free_str(o->user);
    p4_wipe_free_str(o->password);
    p4_wipe_free_str(o->auth);
    p4_wipe_free_str(o->cred.username);
    p4_wipe_free_str(o->cred.password);
    p4_wipe_free_str(o->cred.registry_token);
    free(o->cred.registry);
    free(o->ca);
    free(o->expect);
    free(o);
}

static void done(struct op *o)
{
    o->cb(&o->res, o->data);
    free_op(o);
}

static void fail(struct op *o, int rc, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct op *o, int rc, const char *reason, const char *fmt, ...)
{
    va_list ap;

    o->res.rc = rc;
    o->res.err.code = rc;
    o->res.err.reason = reason;
    va_start(ap, fmt);
    (void)vsnprintf(o->res.err.message, sizeof(o->res.err.message), fmt, ap);
    va_end(ap);
    done(o);
}

/* ---- the cache ---- */

static void cache_path(const struct op *o, const char *digest, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s/sha256-%s.tgz", o->dir, digest + strlen("sha256:"));
}

/* A cached archive whose bytes still hash to its name. */
static bool cached(struct op *o, const char *digest)
{
    char path[1024], got[P4_OCI_SHA256_DIGEST_SIZE];
    struct stat st;
    FILE *f;
    char *buf;
    size_t n;
    bool ok = false;

    cache_path(o, digest, path, sizeof(path));
    f = fopen(path, "rb");
    if (f == NULL)
        return false;
    /* The file's own size, not P4_CHART_MAX: every run of every resource reads the archive
       here, and a 16 MiB buffer each time showed as the operator's peak heap. */
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
        (uint64_t)st.st_size <= P4_CHART_MAX) {
        buf = p4_malloc((size_t)st.st_size + 1);
        n = fread(buf, 1, (size_t)st.st_size + 1, f);
        if (n == (size_t)st.st_size) {
            p4_oci_digest_of(buf, n, got);
            ok = strcmp(got, digest) == 0;
        }
        free(buf);
    }
    (void)fclose(f);
    if (ok) {
        (void)snprintf(o->res.path, sizeof(o->res.path), "%s", path);
        (void)snprintf(o->res.digest, sizeof(o->res.digest), "%s", digest);
        o->res.from_cache = true;
    } else {
        (void)unlink(path); /* damaged: fetch it again */
    }
    return ok;
}

/* Remove the oldest archives until the cache fits, keeping keep (just written). */
static void evict(const struct op *o, const char *keep)
{
    for (int round = 0; round < 1000; round++) {
        DIR *d = opendir(o->dir);
        struct dirent *e;
        uint64_t total = 0;
        time_t oldest_at = 0;
        char oldest[1024] = "", path[1024];
        struct stat st;

        if (d == NULL)
            return;
        while ((e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, "sha256-", 7) != 0)
                continue;
            (void)snprintf(path, sizeof(path), "%s/%s", o->dir, e->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            total += (uint64_t)st.st_size;
            if (strcmp(path, keep) != 0 && (oldest[0] == '\0' || st.st_mtime < oldest_at)) {
                oldest_at = st.st_mtime;
                (void)snprintf(oldest, sizeof(oldest), "%s", path);
            }
        }
        (void)closedir(d);
        if (total <= o->max_bytes || oldest[0] == '\0')
            return;
        (void)unlink(oldest);
    }
}

/* Keep the archive: verified against expect (if any), written atomically. */
static void store(struct op *o, const char *body, size_t len)
{
    char digest[P4_OCI_SHA256_DIGEST_SIZE], path[1024], tmp[1100];
    FILE *f;
    bool ok;

    p4_oci_digest_of(body, len, digest);
    if (o->expect && strcmp(o->expect, digest) != 0) {
        fail(o, P4_ERR_INVALID, "ChartDigestMismatch",
             "chart %s %s from %s is %s, not %s as the repository's index says; the repository "
             "serves a different archive than it lists",
             o->name, o->res.version, o->repository, digest, o->expect);
        return;
    }
    cache_path(o, digest, path, sizeof(path));
    (void)snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    f = fopen(tmp, "wb");
    ok = f != NULL && fwrite(body, 1, len, f) == len;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        (void)unlink(tmp);
        fail(o, P4_ERR_IO, "ChartCacheFailed", "cannot write chart %s %s to the cache %s: %s",
             o->name, o->res.version, o->dir, strerror(e));
        return;
    }
    evict(o, path);
    (void)snprintf(o->res.path, sizeof(o->res.path), "%s", path);
    (void)snprintf(o->res.digest, sizeof(o->res.digest), "%s", digest);
    done(o);
}

/* ---- HTTP repositories ---- */

/* Transport, TLS and HTTP status of an answer from a repository; false when it was handled. */
static bool http_ok(struct op *o, int rc, const struct p4_http_response *resp, const char *what)
{
    if (rc == P4_ERR_TLS) {
        fail(o, rc, "ChartRepositoryTLSError",
             "cannot verify the TLS certificate of %s (%s): give its CA in spec.chart.caBundle",
             o->repository, resp->error ? resp->error : "");
        return false;
    }
    if (rc == P4_ERR_TOOBIG) {
        fail(o, rc, "ChartTooLarge", "%s of %s is too large: %s", what, o->repository,
             resp->error ? resp->error : p4_strerror(rc));
        return false;
    }
    if (rc != 0) {
        fail(o, rc, "ChartRepositoryUnavailable", "cannot fetch %s from %s: %s", what,
             o->repository, resp->error ? resp->error : p4_strerror(rc));
        return false;
    }
    if (resp->status == 401 || resp->status == 403) {
        fail(o, resp->status == 401 ? P4_ERR_UNAUTHORIZED : P4_ERR_FORBIDDEN,
             "ChartRepositoryAuthFailed", "%s refused %s (HTTP %ld)%s", o->repository, what,
             resp->status,
             o->user ? ": check the credentials in spec.chart.secretRef"
                     : ": it needs credentials (spec.chart.secretRef)");
        return false;
    }
    if (resp->status == 404) {
        fail(o, P4_ERR_NOTFOUND, "ChartNotFound", "%s has no %s (HTTP 404)", o->repository, what);
        return false;
    }
    if (resp->status == 429 || resp->status >= 500) {
        fail(o, P4_ERR_UNAVAILABLE, "ChartRepositoryUnavailable",
             "%s answered HTTP %ld for %s; retrying later", o->repository, resp->status, what);
        return false;
    }
    if (resp->status < 200 || resp->status >= 300) {
        fail(o, P4_ERR_INVALID, "ChartRepositoryError", "%s answered HTTP %ld for %s",
             o->repository, resp->status, what);
        return false;
    }
    return true;
}

static int http_get(struct op *o, const char *url, bool with_auth, size_t max, p4_http_done_cb cb)
{
    const char *headers[2] = {with_auth ? o->auth : NULL, NULL};
    struct p4_http_tls tls = {.ca_pem = o->ca, .ca_len = o->ca_len};
    struct p4_http_opts opts = {.method = "GET",
                                .url = url,
                                .headers = headers,
                                .timeout_ms = TIMEOUT_MS,
                                .max_body = max,
                                .tls = &tls,
                                /* a redirect elsewhere gets no Authorization header (http.h) */
                                .follow_redirects = REDIRECTS_MAX,
                                .on_done = cb,
                                .data = o};

    return p4_http_start(o->http, &opts, NULL);
}

static void on_archive(int rc, const struct p4_http_response *resp, void *data)
{
    struct op *o = data;
    char what[300];

    (void)snprintf(what, sizeof(what), "chart %s %s", o->name, o->res.version);
    if (rc == P4_ERR_TOOBIG) {
        fail(o, rc, "ChartTooLarge", "%s from %s is larger than %zu bytes", what, o->repository,
             P4_CHART_MAX);
        return;
    }
    if (!http_ok(o, rc, resp, what))
        return;
    store(o, resp->body, resp->len);
}

static void on_index(int rc, const struct p4_http_response *resp, void *data)
{
    struct op *o = data;
    struct p4_chart_version *v = NULL;
    struct p4_error err;
    bool with_auth;
    cJSON *index;

    if (!http_ok(o, rc, resp, "index.yaml"))
        return;
    index = p4_yaml_to_json(resp->body, resp->len, &err);
    if (index == NULL) {
        fail(o, P4_ERR_INVALID, "ChartIndexInvalid", "the index.yaml of %s does not parse: %s",
             o->repository, err.message);
        return;
    }
    rc = p4_chartindex_resolve(index, o->repository, o->name, o->version, &v, &err);
    cJSON_Delete(index);
    if (rc != 0) {
        fail(o, rc, rc == P4_ERR_NOTFOUND ? "ChartNotFound" : "ChartIndexInvalid", "%s: %s",
             o->repository, err.message);
        return;
    }
    (void)snprintf(o->res.version, sizeof(o->res.version), "%s", v->version);
    o->expect = p4_strdup_or_null(v->digest);
    if (o->expect && cached(o, o->expect)) {
        p4_chart_version_free(v);
        done(o);
        return;
    }
    /* Credentials go only to the repository's own origin, as helm does by default, and over
       TLS unless the spec says otherwise (url.h). */
    with_auth = p4_url_same_origin(o->repository, v->url) &&
                p4_url_credentials_allowed(v->url, o->insecure);
    rc = http_get(o, v->url, with_auth, P4_CHART_MAX, on_archive);
    p4_chart_version_free(v);
    if (rc != 0)
        fail(o, rc, "ChartRepositoryUnavailable", "cannot download chart %s %s from %s", o->name,
             o->res.version, o->repository);
}

static int start_http(struct op *o)
{
    size_t n = strlen(o->repository) + 32;
    char *url = p4_malloc(n);
    int rc;

    (void)snprintf(url, n, "%s%sindex.yaml", o->repository,
                   o->repository[strlen(o->repository) - 1] == '/' ? "" : "/");
    rc = http_get(o, url, true, INDEX_MAX, on_index);
    free(url);
    return rc;
}

/* ---- OCI registries ---- */

static bool registry_ok(struct op *o, const struct p4_registry_answer *a, const char *what)
{
    if (a->rc == 0)
        return true;
    fail(o, a->rc,
         a->rc == P4_ERR_NOTFOUND                                    ? "ChartNotFound"
         : a->rc == P4_ERR_UNAUTHORIZED || a->rc == P4_ERR_FORBIDDEN ? "ChartRepositoryAuthFailed"
         : a->rc == P4_ERR_TLS                                       ? "ChartRepositoryTLSError"
         : a->rc == P4_ERR_INSECURE                                  ? "InsecureCredentials"
         : a->rc == P4_ERR_INVALID                                   ? "ChartDigestMismatch"
                                                                     : "ChartRepositoryUnavailable",
         "%s (%s)%s", a->err.message, what,
         a->rc == P4_ERR_UNAUTHORIZED || a->rc == P4_ERR_FORBIDDEN
             ? ": give the chart's credentials for that registry"
             : "");
    return false;
}

static void on_layer(const struct p4_registry_answer *a, void *data)
{
    struct op *o = data;

    if (!registry_ok(o, a, "the chart archive"))
        return;
    store(o, a->body, a->len); /* the client checked its digest */
}

static void on_chart_manifest(const struct p4_registry_answer *a, void *data)
{
    struct op *o = data;
    struct p4_oci_manifest *m = NULL;
    struct p4_error err;
    const char *layer = NULL;

    if (!registry_ok(o, a, "the chart's manifest"))
        return;
    if (p4_oci_manifest_parse(a->body, a->len, a->media_type, &m, &err) != 0) {
        fail(o, P4_ERR_INVALID, "ChartNotFound", "%s/%s:%s is not a chart: %s", o->host, o->repo,
             o->res.version, err.message);
        return;
    }
    for (size_t i = 0; m->kind == P4_OCI_IMAGE && i < m->layers_len && layer == NULL; i++) {
        if (strcmp(m->layers[i].media_type, HELM_CHART_LAYER) == 0)
            layer = m->layers[i].digest;
    }
    if (layer == NULL) {
        fail(o, P4_ERR_INVALID, "ChartNotFound", "%s/%s:%s is not a Helm chart (no %s layer)",
             o->host, o->repo, o->res.version, HELM_CHART_LAYER);
    } else if (!cached(o, layer)) {
        o->expect = p4_strdup(layer);
        if (p4_registry_blob_get(o->registry, &o->target, o->repo, layer, on_layer, o) != 0)
            fail(o, P4_ERR_INVALID, "ChartNotFound", "cannot ask %s for the chart layer %s",
                 o->host, layer);
    } else {
        done(o);
    }
    p4_oci_manifest_free(m);
}

/* Ask for the manifest of version's tag; 0 or P4_ERR_INVAL (a tag the registry cannot hold). */
static int fetch_tag(struct op *o, const char *version)
{
    char tag[160];

    (void)snprintf(o->res.version, sizeof(o->res.version), "%s", version);
    (void)snprintf(tag, sizeof(tag), "%s", version);
    for (char *p = tag; *p; p++) {
        if (*p == '+') /* OCI tags cannot hold '+': helm pushes it as '_' */
            *p = '_';
    }
    return p4_registry_manifest(o->registry, &o->target, o->repo, tag, on_chart_manifest, o);
}

static void on_tags(const struct p4_registry_answer *a, void *data)
{
    struct op *o = data;
    struct p4_semver_range *range = NULL;
    struct p4_semver best = {0}, v;
    struct p4_error err;
    const cJSON *it;
    cJSON *doc;
    bool found = false;

    if (!registry_ok(o, a, "its tags"))
        return;
    doc = p4_json_parse(a->body, a->len, NULL);
    if (p4_semver_range_parse(o->version ? o->version : "*", &range, &err) != 0) {
        cJSON_Delete(doc);
        fail(o, P4_ERR_INVALID, "ChartVersionInvalid", "spec.chart.version: %s", err.message);
        return;
    }
    cJSON_ArrayForEach(it, p4_json_get(doc, "tags")) {
        char text[160];
        if (!cJSON_IsString(it))
            continue;
        (void)snprintf(text, sizeof(text), "%s", it->valuestring);
        for (char *p = text; *p; p++) {
            if (*p == '_')
                *p = '+';
        }
        if (p4_semver_parse(text, &v, NULL) == 0 && p4_semver_range_match(range, &v) &&
            (!found || p4_semver_compare(&v, &best) > 0)) {
            best = v;
            found = true;
        }
    }
    p4_semver_range_free(range);
    cJSON_Delete(doc);
    if (!found) {
        fail(o, P4_ERR_NOTFOUND, "ChartNotFound", "%s/%s has no tag matching version \"%s\"",
             o->host, o->repo, o->version ? o->version : "");
        return;
    }
    if (fetch_tag(o, best.original) != 0)
        fail(o, P4_ERR_INVAL, "ChartNotFound", "%s/%s: tag %s is not a valid reference", o->host,
             o->repo, best.original);
}

static int start_oci(struct op *o)
{
    const char *rest = o->repository + strlen("oci://");
    size_t n = strcspn(rest, "/");
    const char *path = rest[n] == '/' ? rest + n + 1 : "";

    if (n == 0 || n >= sizeof(o->host))
        return P4_ERR_INVAL;
    (void)snprintf(o->host, sizeof(o->host), "%.*s", (int)n, rest);
    (void)snprintf(o->repo, sizeof(o->repo), "%s%s%s", path,
                   path[0] && path[strlen(path) - 1] != '/' ? "/" : "", o->name);
    o->target.host = o->host;
    o->target.ca_pem = o->ca;
    o->target.ca_len = o->ca_len;
    o->target.cred = o->has_cred ? &o->cred : NULL;
    if (o->version && p4_semver_is_exact(o->version))
        return fetch_tag(o, o->version);
    return p4_registry_tags(o->registry, &o->target, o->repo, on_tags, o);
}

/* ---- the API ---- */

struct p4_chartfetch *p4_chartfetch_new(uv_loop_t *loop, const struct p4_chartfetch_config *cfg)
{
    struct p4_chartfetch *f = p4_calloc(1, sizeof(*f));

    f->http = p4_http_new(loop);
    if (f->http == NULL) {
        free(f);
        return NULL;
    }
    f->registry = cfg->registry;
    f->dir = p4_strdup(cfg->cache_dir ? cfg->cache_dir : "/tmp/phase4-charts");
    f->max_bytes = cfg->cache_max_bytes ? cfg->cache_max_bytes : (uint64_t)256 * 1024 * 1024;
    (void)mkdir(f->dir, 0700);
    return f;
}

void p4_chartfetch_free(struct p4_chartfetch *f)
{
    if (f == NULL)
        return;
    p4_http_close(f->http); /* requests in flight end with P4_ERR_CANCELED */
    free(f->dir);
    free(f);
}

int p4_chartfetch_get(struct p4_chartfetch *f, const struct p4_chart_request *req,
                      p4_chartfetch_cb cb, void *data)
{
    struct op *o;
    bool oci, http;
    int rc;

    if (f == NULL || req == NULL || req->repository == NULL || req->name == NULL || cb == NULL ||
        req->repository[0] == '\0' || req->name[0] == '\0' || strpbrk(req->name, "/?#@ :"))
        return P4_ERR_INVAL;
    oci = strncmp(req->repository, "oci://", 6) == 0;
    http =
        strncmp(req->repository, "https://", 8) == 0 || strncmp(req->repository, "http://", 7) == 0;
    if ((!oci && !http) || (oci && f->registry == NULL) || strchr(req->repository, '@'))
        return P4_ERR_INVAL; /* user info in a URL would end up in messages */
    /* Credentials only over TLS (url.h); oci:// is plain HTTP only when marked insecure. */
    if (http && req->username != NULL &&
        !p4_url_credentials_allowed(req->repository, req->insecure_http))
        return P4_ERR_INSECURE;
    o = p4_calloc(1, sizeof(*o));
    o->dir = p4_strdup(f->dir);
    o->max_bytes = f->max_bytes;
    o->http = f->http;
    o->registry = f->registry;
    o->repository = p4_strdup(req->repository);
    o->name = p4_strdup(req->name);
    o->version = req->version && req->version[0] ? p4_strdup(req->version) : NULL;
    o->user = p4_strdup_or_null(req->username);
    o->password = p4_strdup_or_null(req->password);
    if (o->user)
        o->auth = p4_regauth_basic_header(o->user, o->password ? o->password : "");
    if (req->ca_pem && req->ca_len) {
        o->ca = p4_malloc(req->ca_len + 1);
        memcpy(o->ca, req->ca_pem, req->ca_len);
        o->ca_len = req->ca_len;
    }
    if (req->cred) {
        o->has_cred = true;
        o->cred.registry = p4_strdup_or_null(req->cred->registry);
        o->cred.username = p4_strdup_or_null(req->cred->username);
        o->cred.password = p4_strdup_or_null(req->cred->password);
        o->cred.registry_token = p4_strdup_or_null(req->cred->registry_token);
    }
    o->target.insecure_http = req->insecure_http;
    o->insecure = req->insecure_http;
    o->cb = cb;
    o->data = data;
    rc = oci ? start_oci(o) : start_http(o);
    if (rc != 0)
        free_op(o); /* no callback: the caller hears rc */
    return rc;
}
