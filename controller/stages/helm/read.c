/*
 * stages/helm/read.c: step S_READ of the Helm stage. What the chart is checked with, asked side
 * by side: the cluster's version (kept for a few minutes) and API versions (for helm template),
 * the chart repository's credentials and CA bundle, and each valuesFrom ConfigMap or Secret key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/redact.h"
#include "phase4/core/yamljson.h"
#include "steps.h"

#define KUBE_VERSION_TTL_MS 300000 /* the cluster's version, asked at most every 5 minutes */

static bool fails(struct failure *f, enum p4_failure_class cls, enum gate g, const char *reason)
{
    *f = (struct failure){.cls = cls, .gate = g, .reason = reason};
    return true;
}

bool p4_helm_version_failure(int rc, const char *git_version, struct failure *f)
{
    if (rc != 0 || git_version == NULL)
        return fails(f, P4_FAIL_TRANSIENT, G_DRYRUN, "APIUnavailable");
    return false;
}

bool p4_helm_credentials_failure(int rc, bool complete, struct failure *f)
{
    if (rc != 0)
        return fails(f, p4_kube_read_class(rc), G_PACKAGED,
                     rc == P4_ERR_NOTFOUND ? "ChartSecretNotFound" : "APIUnavailable");
    if (!complete)
        return fails(f, P4_FAIL_CLUSTER, G_PACKAGED, "ChartSecretInvalid");
    return false;
}

bool p4_helm_ca_failure(int rc, bool has_key, struct failure *f)
{
    if (rc != 0)
        return fails(f, p4_kube_read_class(rc), G_PACKAGED,
                     rc == P4_ERR_NOTFOUND ? "CABundleNotFound" : "APIUnavailable");
    if (!has_key)
        return fails(f, P4_FAIL_CLUSTER, G_PACKAGED, "CABundleNotFound");
    return false;
}

bool p4_helm_source_failure(int rc, struct failure *f)
{
    if (rc != 0 && rc != P4_ERR_NOTFOUND) /* missing: values.c decides (optional or not) */
        return fails(f, p4_kube_read_class(rc), G_VALUES,
                     rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable");
    return false;
}

void p4_helm_source_secrets(struct p4_redact *set, const struct source *src)
{
    cJSON *tree;

    if (src->text == NULL)
        return;
    if (src->target_path != NULL && src->target_path[0] != '\0') {
        p4_redact_add(set, src->text, src->len); /* the key's text is one value */
        return;
    }
    /* A values document: each of its values, as a template would print it. */
    tree = p4_yaml_to_json(src->text, src->len, NULL);
    if (tree != NULL)
        p4_redact_add_tree(set, tree);
    else /* helm reads it no better: should it quote it, the whole text and each line count */
        p4_redact_add(set, src->text, src->len);
    p4_json_discard(tree);
}

void p4_helm_credential_secrets(struct p4_redact *set, const char *username, const char *password)
{
    size_t n;
    char *pair;

    if (password == NULL)
        return;
    p4_redact_add(set, password, strlen(password));
    if (username == NULL)
        return;
    n = strlen(username) + strlen(password) + 2; /* its base64 is the Basic header's */
    pair = p4_malloc(n);
    (void)snprintf(pair, n, "%s:%s", username, password);
    p4_redact_add(set, pair, n - 1);
    p4_wipe_free(pair, n);
}

static void on_version(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct failure f;
    const char *v;

    if (r == NULL)
        return;
    v = p4_json_str(res->body, "gitVersion");
    if (p4_helm_version_failure(res->rc, v, &f)) {
        struct p4_error e = res->err;
        if (res->rc == 0)
            p4_error_set(&e, P4_ERR_PARSE, "the API server's /version has no gitVersion");
        p4_stagerun_part_failed(&r->base, f.cls, f.gate, f.reason, &e);
    } else {
        (void)snprintf(stage_of(r)->kube_version, sizeof(stage_of(r)->kube_version), "%s", v);
        (void)snprintf(r->w->kube_version, sizeof(r->w->kube_version), "%s", v);
        stage_of(r)->kube_version_at = uv_now(stage_of(r)->sr.loop);
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}

static void on_discovered(int rc, const struct p4_resource_info *info, const struct p4_error *err,
                          void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    (void)info;
    if (r == NULL)
        return;
    if (rc != 0)
        p4_stagerun_part_failed(&r->base, P4_FAIL_TRANSIENT, G_DRYRUN, "APIUnavailable", err);
    else
        r->w->api_versions = p4_discovery_api_versions(stage_of(r)->cfg.discovery);
    p4_stagerun_part_done(&r->base, S_FETCH);
}

static void on_credentials(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct failure f;
    const char *name;
    size_t len;

    if (r == NULL)
        return;
    name = p4_json_str(r->chart, "secretRef.name");
    if (res->rc != 0) {
        struct p4_error e;
        (void)p4_helm_credentials_failure(res->rc, false, &f);
        p4_error_set(&e, res->rc, "chart repository Secret %s/%s (spec.chart.secretRef): %s",
                     r->base.ns, name, res->err.message);
        p4_stagerun_part_failed(&r->base, f.cls, f.gate, f.reason, &e);
    } else {
        r->w->username = (char *)p4_object_value(res->body, true, "username", &len);
        r->w->password = (char *)p4_object_value(res->body, true, "password", &len);
        p4_helm_credential_secrets(p4_stagerun_secrets(&r->base), r->w->username, r->w->password);
        if (p4_helm_credentials_failure(0, r->w->username != NULL && r->w->password != NULL, &f)) {
            struct p4_error e;
            p4_error_set(&e, P4_ERR_INVALID,
                         "chart repository Secret %s/%s (spec.chart.secretRef) needs the keys "
                         "username and password",
                         r->base.ns, name);
            p4_stagerun_part_failed(&r->base, f.cls, f.gate, f.reason, &e);
        }
        p4_secret_wipe(res->body);
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}

static void on_ca(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct failure f;
    const char *kind, *name, *key;

    if (r == NULL)
        return;
    kind = p4_json_str(r->chart, "caBundle.kind") ? p4_json_str(r->chart, "caBundle.kind")
                                                  : "ConfigMap";
    name = p4_json_str(r->chart, "caBundle.name");
    key = p4_json_str(r->chart, "caBundle.key") ? p4_json_str(r->chart, "caBundle.key") : "ca.crt";
    if (res->rc != 0) {
        struct p4_error e;
        (void)p4_helm_ca_failure(res->rc, false, &f);
        p4_error_set(&e, res->rc, "CA bundle %s %s/%s (spec.chart.caBundle): %s", kind, r->base.ns,
                     name, res->err.message);
        p4_stagerun_part_failed(&r->base, f.cls, f.gate, f.reason, &e);
    } else {
        r->w->ca = p4_object_value(res->body, strcmp(kind, "Secret") == 0, key, &r->w->ca_len);
        if (p4_helm_ca_failure(0, r->w->ca != NULL, &f)) {
            struct p4_error e;
            p4_error_set(&e, P4_ERR_INVALID,
                         "CA bundle %s %s/%s (spec.chart.caBundle) has no key %s", kind, r->base.ns,
                         name, key);
            p4_stagerun_part_failed(&r->base, f.cls, f.gate, f.reason, &e);
        }
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}

struct source_req {
    struct run *r;
    size_t i;
};

static void on_source(struct p4_kube_result *res, void *data)
{
    struct source_req *q = data;
    struct run *r = (struct run *)p4_stagerun_back(q->r);
    struct failure f;
    size_t i = q->i;

    free(q);
    if (r == NULL)
        return;
    if (res->rc == 0) {
        struct source *s = &r->w->src[i];
        bool secret = strcmp(s->kind, "Secret") == 0;
        s->text = (char *)p4_object_value(res->body, secret, s->key, &s->len);
        if (secret) {
            p4_helm_source_secrets(p4_stagerun_secrets(&r->base), s);
            p4_secret_wipe(res->body);
        }
    } else if (p4_helm_source_failure(res->rc, &f)) {
        struct p4_error e;
        p4_error_set(&e, res->rc, "valuesFrom %s %s/%s: %s", r->w->src[i].kind, r->base.ns,
                     r->w->src[i].name, res->err.message);
        p4_stagerun_part_failed(&r->base, f.cls, f.gate, f.reason, &e);
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}

void p4_helm_read(struct run *r)
{
    struct work *w = r->w;
    char path[1024];

    r->base.pending = 1; /* held until every request is out */
    if (stage_of(r)->kube_version[0] &&
        uv_now(stage_of(r)->sr.loop) - stage_of(r)->kube_version_at < KUBE_VERSION_TTL_MS)
        (void)snprintf(w->kube_version, sizeof(w->kube_version), "%s", stage_of(r)->kube_version);
    else if (kube_send(r, "GET", "/version", on_version) != 0)
        w->kube_version[0] = '\0';
    /* Discovery is loaded (and refreshed for a new CRD) by asking it for one kind. */
    free(w->api_versions);
    w->api_versions = NULL;
    r->base.inflight++;
    r->base.pending++;
    if (p4_discovery_lookup(stage_of(r)->cfg.discovery, "v1", "ConfigMap", on_discovered, r) != 0) {
        r->base.inflight--;
        r->base.pending--;
    }
    if (p4_json_str(r->chart, "secretRef.name")) {
        p4_core_path(path, sizeof(path), r->base.ns, "secrets",
                     p4_json_str(r->chart, "secretRef.name"));
        (void)kube_send_as(r, "GET", path, on_credentials);
    }
    if (p4_json_str(r->chart, "caBundle.name")) {
        const char *kind = p4_json_str(r->chart, "caBundle.kind");
        p4_core_path(path, sizeof(path), r->base.ns,
                     kind && strcmp(kind, "Secret") == 0 ? "secrets" : "configmaps",
                     p4_json_str(r->chart, "caBundle.name"));
        (void)kube_send_as(r, "GET", path, on_ca);
    }
    for (size_t i = 0; i < w->nsrc; i++) {
        struct source_req *q = p4_calloc(1, sizeof(*q));
        q->r = r;
        q->i = i;
        p4_core_path(path, sizeof(path), r->base.ns,
                     strcmp(w->src[i].kind, "Secret") == 0 ? "secrets" : "configmaps",
                     w->src[i].name);
        r->base.inflight++;
        r->base.pending++;
        if (p4_kube_request(r->base.kube, "GET", path, NULL, NULL, 0, on_source, q) != 0) {
            r->base.inflight--;
            r->base.pending--;
            free(q);
        }
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}
