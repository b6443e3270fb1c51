/* registry.c: OCI Distribution API requests with registry auth (see registry.h). */
#include "phase4/oci/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/strmap.h"
#include "phase4/core/url.h"
#include "phase4/net/http.h"
#include "phase4/oci/authtoken.h"
#include "phase4/oci/ocimanifest.h"

#define TIMEOUT_MS 30000L
#define REDIRECTS_MAX 5L /* blobs are often served from elsewhere (a CDN, object storage) */
#define TOKEN_MARGIN_SECONDS 10

struct cached_token {
    char *token;
    time_t expires_at;
};

struct p4_registry {
    struct p4_http *http;
    struct p4_strmap tokens; /* "host|scope|who" → struct cached_token */
};

struct op {
    struct p4_registry *reg;
    char *host, *repo, *ref, *scope;
    int insecure, is_blob, fetch_body, auth_tried, fetching_token, is_referrers, is_tags;
    size_t max_body;
    uint64_t retry_after_ms;             /* from a 429 or 503's Retry-After */
    char who[P4_OCI_SHA256_DIGEST_SIZE]; /* hash of the credentials: tokens are per identity */
    unsigned char *ca;
    size_t ca_len;
    char *user, *password, *registry_token, *cred_key;
    char *auth; /* "Authorization: ..." to send, or NULL */
    p4_registry_cb cb;
    void *data;
};

static void free_op(struct op *o)
{
    free(o->host);
    free(o->repo);
    free(o->ref);
    free(o->scope);
    free(o->ca);
    free(o->cred_key);
    p4_wipe_free_str(o->user);
    p4_wipe_free_str(o->password);
    p4_wipe_free_str(o->registry_token);
    p4_wipe_free_str(o->auth);
    free(o);
}

struct p4_registry *p4_registry_new(uv_loop_t *loop)
{
    struct p4_registry *r = p4_calloc(1, sizeof(*r));

    r->http = p4_http_new(loop);
    if (r->http == NULL) {
        free(r);
        return NULL;
    }
    p4_strmap_init(&r->tokens);
    return r;
}

void p4_registry_close(struct p4_registry *r)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    if (r == NULL)
        return;
    p4_http_close(r->http); /* in-flight ops end with P4_ERR_CANCELED now */
    while ((e = p4_strmap_next(&r->tokens, &pos)) != NULL) {
        struct cached_token *t = e->value;
        p4_wipe_free_str(t->token);
        free(t);
    }
    p4_strmap_close(&r->tokens);
    free(r);
}

static void finish(struct op *o, int rc, long status, const char *digest, const char *media_type,
                   const char *body, size_t len, const struct p4_error *err)
{
    struct p4_registry_answer a = {.rc = rc,
                                   .status = status,
                                   .digest = digest,
                                   .media_type = media_type,
                                   .body = body,
                                   .len = len};

    if (err)
        a.err = *err;
    a.retry_after_ms = o->retry_after_ms;
    o->cb(&a, o->data);
    free_op(o);
}

static void fail(struct op *o, int rc, long status, const char *fmt, const char *detail)
{
    struct p4_error err;

    p4_error_set(&err, rc, fmt, o->host, detail ? detail : "");
    finish(o, rc, status, NULL, NULL, NULL, 0, &err);
}

/* The first registry error code in a body like {"errors":[{"code":"MANIFEST_UNKNOWN",...}]}. */
static void registry_error(const char *body, size_t len, char *out, size_t size)
{
    cJSON *doc = body && len ? p4_json_parse(body, len, NULL) : NULL;
    const cJSON *first = doc ? cJSON_GetArrayItem(p4_json_get(doc, "errors"), 0) : NULL;
    const char *code = first ? p4_json_str(first, "code") : NULL;
    const char *msg = first ? p4_json_str(first, "message") : NULL;

    (void)snprintf(out, size, "%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
    for (char *p = out; *p; p++) {
        if ((unsigned char)*p < ' ')
            *p = ' ';
    }
    cJSON_Delete(doc);
}

static void send_op(struct op *o);

/*
 * Retry-After in its seconds form (an HTTP date is rare from registries: ignored), capped at
 * 10 min.
 */
static uint64_t retry_after_ms(const char *v)
{
    char *end;
    unsigned long long n;

    if (v == NULL || *v < '0' || *v > '9')
        return 0;
    n = strtoull(v, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0')
        return 0;
    return n > 600 ? 600000 : (uint64_t)n * 1000;
}

/*
 * Tokens are cached per registry, scope and identity: a token fetched with one
 * resource's pull secret must never answer for another resource's (or for an
 * anonymous) request.
 */
static const char *cached_bearer(struct p4_registry *r, const struct op *o)
{
    char key[1024];
    struct cached_token *t;

    (void)snprintf(key, sizeof(key), "%s|%s|%s", o->host, o->scope, o->who);
    t = p4_strmap_get(&r->tokens, key);
    return t && time(NULL) + TOKEN_MARGIN_SECONDS < t->expires_at ? t->token : NULL;
}

static void set_bearer(struct op *o, const char *token)
{
    size_t n = strlen(token) + 32;

    p4_wipe_free_str(o->auth);
    o->auth = p4_malloc(n);
    (void)snprintf(o->auth, n, "Authorization: Bearer %s", token);
}

static void on_token(int rc, const struct p4_http_response *resp, void *data)
{
    struct op *o = data;
    struct p4_regauth_token tok;
    struct p4_error err;
    char key[1024];
    struct cached_token *t, *old;

    o->fetching_token = 0;
    if (rc != 0) {
        fail(o, rc == P4_ERR_TLS ? P4_ERR_TLS : P4_ERR_TRANSPORT, 0,
             "cannot reach the token service of registry %s: %s", resp->error);
        return;
    }
    if (resp->status == 401 || resp->status == 403) {
        fail(o, P4_ERR_UNAUTHORIZED, resp->status,
             "the token service of registry %s refused the pull secret's credentials%s",
             o->cred_key ? "" : " (no pull secret matched this registry)");
        return;
    }
    if (resp->status != 200 ||
        p4_regauth_token_parse(resp->body, resp->len, time(NULL), &tok, &err) != 0) {
        fail(o, P4_ERR_UNAVAILABLE, resp->status,
             "the token service of registry %s gave no token%s", "");
        return;
    }
    (void)snprintf(key, sizeof(key), "%s|%s|%s", o->host, o->scope, o->who);
    t = p4_calloc(1, sizeof(*t));
    t->token = p4_strdup(tok.token);
    t->expires_at = tok.expires_at;
    old = p4_strmap_put(&o->reg->tokens, key, t);
    if (old) {
        p4_wipe_free_str(old->token);
        free(old);
    }
    set_bearer(o, tok.token);
    p4_regauth_token_close(&tok);
    send_op(o);
}

/*
 * Answer a 401 with the challenge's scheme: 0 when a retry was started, 1 when o failed (and is
 * freed: credentials that would go to a token service over plain HTTP), -1 when it cannot.
 */
static int authenticate(struct op *o, const char *header)
{
    struct p4_auth_challenges list = {0};
    const struct p4_auth_challenge *basic = NULL, *bearer = NULL;
    int rc = -1;

    if (header == NULL || p4_regauth_challenges_parse(header, strlen(header), &list, NULL) != 0)
        return -1;
    for (size_t i = 0; i < list.len; i++) {
        if (list.items[i].kind == P4_AUTH_BEARER && bearer == NULL)
            bearer = &list.items[i];
        else if (list.items[i].kind == P4_AUTH_BASIC && basic == NULL)
            basic = &list.items[i];
    }
    if (bearer && o->registry_token) {
        set_bearer(o, o->registry_token);
        send_op(o);
        rc = 0;
    } else if (bearer && bearer->realm && o->user &&
               !p4_url_credentials_allowed(bearer->realm, o->insecure)) {
        /* Credentials go over TLS only (url.h), wherever the registry sends them. */
        char shown[256];
        p4_url_display(bearer->realm, shown, sizeof(shown));
        fail(o, P4_ERR_INSECURE, 0,
             "registry %s sends its token requests to %s, which is not https: the credentials "
             "are not sent over plain HTTP (mark the registry insecure only on a network you "
             "trust)",
             shown);
        rc = 1;
    } else if (bearer && bearer->realm) {
        char *url = p4_regauth_token_url(bearer, o->scope);
        char *basic_auth =
            o->user ? p4_regauth_basic_header(o->user, o->password ? o->password : "") : NULL;
        const char *headers[2] = {basic_auth, NULL};
        struct p4_http_tls tls = {.ca_pem = o->ca, .ca_len = o->ca_len};
        struct p4_http_opts opts = {.method = "GET",
                                    .url = url,
                                    .headers = headers,
                                    .timeout_ms = TIMEOUT_MS,
                                    .tls = &tls,
                                    .on_done = on_token,
                                    .data = o};
        o->fetching_token = 1;
        rc = url ? p4_http_start(o->reg->http, &opts, NULL) : -1;
        if (rc != 0)
            o->fetching_token = 0;
        free(url);
        p4_wipe_free_str(basic_auth);
    } else if (basic && o->user) {
        p4_wipe_free_str(o->auth);
        o->auth = p4_regauth_basic_header(o->user, o->password ? o->password : "");
        send_op(o);
        rc = 0;
    }
    p4_regauth_challenges_close(&list);
    return rc;
}

static void on_answer(int rc, const struct p4_http_response *resp, void *data)
{
    struct op *o = data;
    char detail[300], digest[P4_OCI_SHA256_DIGEST_SIZE];
    struct p4_error err;

    if (rc == P4_ERR_CANCELED) {
        fail(o, rc, 0, "the request to registry %s was canceled%s", "");
        return;
    }
    if (rc == P4_ERR_TLS) {
        fail(o, rc, 0,
             "cannot verify registry %s's TLS certificate (%s): give its CA bundle, or list it "
             "as insecure if it is plain HTTP",
             resp->error);
        return;
    }
    if (rc == P4_ERR_TOOBIG) {
        fail(o, rc, 0, "registry %s answered with too much: %s", resp->error);
        return;
    }
    if (rc != 0) {
        fail(o, rc, 0, "cannot reach registry %s: %s", resp->error);
        return;
    }
    if (resp->status == 401 && !o->auth_tried && resp->redirects == 0) {
        int arc;

        o->auth_tried = 1;
        arc = authenticate(o, resp->www_authenticate);
        if (arc == 0 || arc == 1) /* a retry started, or o failed already */
            return;
        /* The caller says where credentials come from (pull secrets, a chart's secret). */
        fail(o, P4_ERR_UNAUTHORIZED, resp->status, "registry %s asks for credentials%s",
             o->user ? " that the given ones cannot answer" : " and none were given");
        return;
    }
    if (resp->status == 401 || resp->status == 403) {
        fail(o, resp->status == 401 ? P4_ERR_UNAUTHORIZED : P4_ERR_FORBIDDEN, resp->status,
             "registry %s refused the pull secret's credentials%s",
             o->cred_key ? "" : " (no pull secret matched this registry)");
        return;
    }
    if (resp->status == 404) {
        registry_error(resp->body, resp->len, detail, sizeof(detail));
        p4_error_set(&err, P4_ERR_NOTFOUND, "registry %s has no %s %s@%s%s%s", o->host,
                     o->is_blob        ? "blob"
                     : o->is_referrers ? "referrers list for"
                     : o->is_tags      ? "tag list for"
                                       : "manifest",
                     o->repo, o->ref, detail[0] ? ": " : "", detail);
        finish(o, P4_ERR_NOTFOUND, resp->status, NULL, NULL, NULL, 0, &err);
        return;
    }
    if (resp->status == 429 || resp->status >= 500) {
        o->retry_after_ms = retry_after_ms(resp->retry_after);
        (void)snprintf(detail, sizeof(detail), "HTTP %ld", resp->status);
        fail(o, P4_ERR_UNAVAILABLE, resp->status, "registry %s is unavailable (%s); retrying later",
             detail);
        return;
    }
    if (resp->status < 200 || resp->status >= 300) {
        (void)snprintf(detail, sizeof(detail), "HTTP %ld", resp->status);
        fail(o, P4_ERR_TRANSPORT, resp->status, "registry %s answered %s", detail);
        return;
    }
    if (o->is_blob && !o->fetch_body) {
        finish(o, 0, resp->status, NULL, NULL, NULL, 0, NULL);
        return;
    }
    /* What was served must be what its digest says, and what a digest reference asked for. */
    p4_oci_digest_of(resp->body, resp->len, digest);
    if (!o->is_referrers && !o->is_tags &&
        ((resp->content_digest && strcmp(resp->content_digest, digest) != 0) ||
         (strncmp(o->ref, "sha256:", 7) == 0 && strcmp(o->ref, digest) != 0))) {
        p4_error_set(&err, P4_ERR_INVALID,
                     "registry %s served a %s for %s@%s whose digest is %s, not %s", o->host,
                     o->is_blob ? "blob" : "manifest", o->repo, o->ref, digest,
                     resp->content_digest ? resp->content_digest : o->ref);
        finish(o, P4_ERR_INVALID, resp->status, NULL, NULL, NULL, 0, &err);
        return;
    }
    finish(o, 0, resp->status, digest, resp->content_type, resp->body, resp->len, NULL);
}

static void send_op(struct op *o)
{
    char *url;
    size_t n = strlen(o->host) + strlen(o->repo) + strlen(o->ref) + 32;
    const char *headers[3];
    const char *cached;
    int h = 0, rc;
    struct p4_http_tls tls = {.ca_pem = o->ca, .ca_len = o->ca_len};
    struct p4_http_opts opts = {
        .timeout_ms = TIMEOUT_MS, .tls = &tls, .on_done = on_answer, .data = o};

    if (o->auth == NULL && (cached = cached_bearer(o->reg, o)) != NULL)
        set_bearer(o, cached);
    url = p4_malloc(n);
    if (o->is_tags)
        (void)snprintf(url, n, "%s://%s/v2/%s/tags/list?n=1000", o->insecure ? "http" : "https",
                       o->host, o->repo);
    else
        (void)snprintf(url, n, "%s://%s/v2/%s/%s/%s", o->insecure ? "http" : "https", o->host,
                       o->repo,
                       o->is_blob        ? "blobs"
                       : o->is_referrers ? "referrers"
                                         : "manifests",
                       o->ref);
    if (o->is_tags)
        headers[h++] = "Accept: application/json";
    else if (o->is_referrers)
        headers[h++] = "Accept: " P4_OCI_MEDIA_INDEX;
    else if (!o->is_blob)
        headers[h++] = "Accept: " P4_OCI_ACCEPT;
    if (o->auth)
        headers[h++] = o->auth;
    headers[h] = NULL;
    opts.method = o->is_blob && !o->fetch_body ? "HEAD" : "GET";
    opts.max_body = o->max_body;
    opts.follow_redirects = REDIRECTS_MAX; /* the Authorization header stays here (http.h) */
    opts.url = url;
    opts.headers = headers;
    rc = p4_http_start(o->reg->http, &opts, NULL);
    free(url);
    if (rc != 0)
        fail(o, rc, 0, "cannot start a request to registry %s%s", "");
}

enum op_kind { OP_MANIFEST, OP_BLOB_HEAD, OP_BLOB_GET, OP_REFERRERS, OP_TAGS };

static int start(struct p4_registry *r, const struct p4_registry_target *t, const char *repo,
                 const char *ref, enum op_kind kind, p4_registry_cb cb, void *data)
{
    struct op *o;
    size_t n;
    char *who;

    if (r == NULL || t == NULL || t->host == NULL || repo == NULL || ref == NULL || cb == NULL ||
        strpbrk(t->host, "/?#@ ") || strpbrk(repo, "?#@ ") || strpbrk(ref, "/?# "))
        return P4_ERR_INVAL;
    o = p4_calloc(1, sizeof(*o));
    o->reg = r;
    o->host = p4_strdup(t->host);
    o->repo = p4_strdup(repo);
    o->ref = p4_strdup(ref);
    n = strlen(repo) + 32;
    o->scope = p4_malloc(n);
    (void)snprintf(o->scope, n, "repository:%s:pull", repo);
    o->insecure = t->insecure_http;
    o->is_blob = kind == OP_BLOB_HEAD || kind == OP_BLOB_GET;
    o->fetch_body = kind != OP_BLOB_HEAD;
    o->is_referrers = kind == OP_REFERRERS;
    o->is_tags = kind == OP_TAGS;
    o->max_body = kind == OP_BLOB_GET ? P4_REGISTRY_BLOB_MAX : P4_OCI_MANIFEST_MAX;
    if (t->ca_pem) {
        o->ca = p4_malloc(t->ca_len + 1);
        memcpy(o->ca, t->ca_pem, t->ca_len);
        o->ca_len = t->ca_len;
    }
    if (t->cred) {
        o->user = p4_strdup_or_null(t->cred->username);
        o->password = p4_strdup_or_null(t->cred->password);
        o->registry_token = p4_strdup_or_null(t->cred->registry_token);
        o->cred_key = p4_strdup_or_null(t->cred->registry);
    }
    n = (o->user ? strlen(o->user) : 0) + (o->password ? strlen(o->password) : 0) +
        (o->registry_token ? strlen(o->registry_token) : 0) + 8;
    who = p4_malloc(n);
    (void)snprintf(who, n, "%s\n%s\n%s", o->user ? o->user : "", o->password ? o->password : "",
                   o->registry_token ? o->registry_token : "");
    p4_oci_digest_of(who, strlen(who), o->who);
    p4_wipe_free_str(who);
    o->cb = cb;
    o->data = data;
    send_op(o); /* answers come from the loop, never before this returns (http.h) */
    return 0;
}

int p4_registry_manifest(struct p4_registry *r, const struct p4_registry_target *t,
                         const char *repository, const char *reference, p4_registry_cb cb,
                         void *data)
{
    return start(r, t, repository, reference, OP_MANIFEST, cb, data);
}

int p4_registry_tags(struct p4_registry *r, const struct p4_registry_target *t,
                     const char *repository, p4_registry_cb cb, void *data)
{
    return start(r, t, repository, "tags", OP_TAGS, cb, data);
}

int p4_registry_referrers(struct p4_registry *r, const struct p4_registry_target *t,
                          const char *repository, const char *digest, p4_registry_cb cb, void *data)
{
    if (digest == NULL || !p4_oci_digest_valid(digest))
        return P4_ERR_INVAL;
    return start(r, t, repository, digest, OP_REFERRERS, cb, data);
}

int p4_registry_blob(struct p4_registry *r, const struct p4_registry_target *t,
                     const char *repository, const char *digest, p4_registry_cb cb, void *data)
{
    if (digest == NULL || !p4_oci_digest_valid(digest))
        return P4_ERR_INVAL;
    return start(r, t, repository, digest, OP_BLOB_HEAD, cb, data);
}

int p4_registry_blob_get(struct p4_registry *r, const struct p4_registry_target *t,
                         const char *repository, const char *digest, p4_registry_cb cb, void *data)
{
    if (digest == NULL || !p4_oci_digest_valid(digest))
        return P4_ERR_INVAL;
    return start(r, t, repository, digest, OP_BLOB_GET, cb, data);
}
