/*
 * stages/helm/store.c: step S_STORE of the Helm stage. The rendered manifest is kept, gzipped,
 * in a Secret the resource owns ("phase4.<name>.v<generation>", reconciler/manifest.h), never
 * over a Secret someone else owns: created (POST), and only when one exists already (409) read
 * for the owner check and applied over when it is the resource's. What was stored, with the
 * resourceVersion the API server answered, goes to manifest.h's memo, so the Kubernetes stage of
 * this process does not read it back. Then the manifests of older generations no longer in
 * status.history (and not the last good revision's: p4_manifest_prunable) are read by name and
 * deleted when this resource owns them.
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/kube/apistatus.h"
#include "steps.h"

#define DELETE_BODY_MAX 256 /* the DeleteOptions body of a pruned Secret */

/* "phase4.<name>.v<generation>", shortened with a hash of the name past 253 characters. */
void p4_helm_secret_name(char *buf, size_t size, const char *name, int64_t generation)
{
    p4_manifest_secret_name(buf, size, name, generation); /* the one rule, in manifest.h */
}

bool p4_helm_prunable(int rc, const cJSON *body, const char *uid)
{
    const char *name = p4_json_str(body, "metadata.name");
    const char *old_uid = p4_json_str(body, "metadata.uid");

    return rc == 0 && name && old_uid && p4_owned_by(body, uid) &&
           strlen(old_uid) < DELETE_BODY_MAX - 64;
}

bool p4_helm_existing_failure(int rc, const cJSON *body, const char *uid, struct failure *f)
{
    if (rc == 0 && !p4_owned_by(body, uid)) {
        *f = (struct failure){
            .cls = P4_FAIL_CLUSTER, .gate = G_DRYRUN, .reason = "ManifestSecretConflict"};
        return true;
    }
    if (rc != 0 && rc != P4_ERR_NOTFOUND) {
        *f = (struct failure){.cls = p4_kube_read_class(rc),
                              .gate = G_DRYRUN,
                              .reason = rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable"};
        return true;
    }
    return false;
}

struct failure p4_helm_stored_failure(int rc, const char *message)
{
    if (p4_apistatus_namespace_terminating(rc, message)) /* the resource's own namespace */
        return (struct failure){
            .cls = P4_FAIL_TRANSIENT, .gate = G_DRYRUN, .reason = "NamespaceTerminating"};
    return (struct failure){.cls = p4_kube_read_class(rc),
                            .gate = G_DRYRUN,
                            .reason = rc == P4_ERR_FORBIDDEN ? "Forbidden" : "ManifestNotStored"};
}

static void on_pruned(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND)
        p4_log(P4_LOG_WARN, "cannot delete an old rendered manifest", "key", r->base.key, "error",
               res->err.message, P4_LOG_END);
    p4_stagerun_part_done(&r->base, S_DONE);
}

/* An old manifest Secret, read by name: deleted if this resource owns it (and only that one). */
static void on_old_manifest(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    char path[1024], body[DELETE_BODY_MAX];

    if (r == NULL)
        return;
    if (p4_helm_prunable(res->rc, res->body, r->base.uid)) {
        p4_log(P4_LOG_DEBUG, "deleting an old rendered manifest", "key", r->base.key, "secret",
               p4_json_str(res->body, "metadata.name"), P4_LOG_END);
        p4_core_path(path, sizeof(path), r->base.ns, "secrets",
                     p4_json_str(res->body, "metadata.name"));
        (void)snprintf(body, sizeof(body),
                       "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
                       "\"preconditions\":{\"uid\":\"%s\"}}",
                       p4_json_str(res->body, "metadata.uid"));
        r->base.inflight++;
        r->base.pending++;
        if (p4_kube_request(stage_of(r)->cfg.kube, "DELETE", path, "application/json", body,
                            strlen(body), on_pruned, r) != 0) {
            r->base.inflight--;
            r->base.pending--;
        }
    } else if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND) {
        p4_log(P4_LOG_WARN, "cannot read an old rendered manifest", "key", r->base.key, "error",
               res->err.message, P4_LOG_END);
    }
    p4_stagerun_part_done(&r->base, S_DONE);
}

/*
 * Keep the manifests of the revisions in status.history and of the last good one: the others
 * the start found (r->prune) are read by name (secrets are never listed) and deleted when this
 * resource owns them.
 */
static void prune(struct run *r)
{
    char name[SECRET_NAME_MAX + 1], path[1024];

    r->base.pending = 1;
    for (int i = 0; i < r->nprune; i++) {
        p4_helm_secret_name(name, sizeof(name), r->base.name, r->prune[i]);
        p4_core_path(path, sizeof(path), r->base.ns, "secrets", name);
        (void)kube_send(r, "GET", path, on_old_manifest);
    }
    p4_stagerun_part_done(&r->base, S_DONE);
}

/*
 * Stored, at resourceVersion rv (the API server's answer): the Kubernetes stage may take the
 * manifest from memory rather than reading the Secret back (manifest.h's memo).
 */
static void stored(struct run *r, const char *rv)
{
    p4_manifest_memo_put(stage_of(r)->cfg.memo, r->base.key, r->base.uid, r->secret, rv, r->w->gz,
                         r->w->gz_len, uv_now(stage_of(r)->sr.loop));
    free(r->w->gz);
    r->w->gz = NULL;
    r->w->gz_len = 0;
    prune(r);
}

static void on_stored(const struct p4_apply_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_error e;
    struct failure f;

    if (r == NULL)
        return;
    if (res->rc != 0) {
        e = res->err;
        f = p4_helm_stored_failure(res->rc, res->err.message);
        p4_stagerun_fail(&r->base, f.cls, f.gate, f.reason, &e);
        return;
    }
    stored(r, p4_json_str(res->object, "metadata.resourceVersion"));
}

cJSON *p4_helm_manifest_secret(const struct run *r)
{
    size_t gz_len = 0;
    unsigned char *gz = p4_gzip(r->w->manifest ? r->w->manifest : "", r->w->manifest_len, &gz_len);
    cJSON *s = gz ? p4_helm_manifest_secret_gz(r, gz, gz_len) : NULL;

    free(gz);
    return s;
}

cJSON *p4_helm_manifest_secret_gz(const struct run *r, const unsigned char *gz, size_t gz_len)
{
    cJSON *s = cJSON_CreateObject(), *meta, *labels, *owners, *owner, *data, *ann;
    char *b64, gen[32], chart[400];

    b64 = p4_malloc(4 * ((gz_len + 2) / 3) + 1);
    (void)EVP_EncodeBlock((unsigned char *)b64, gz, (int)gz_len);
    cJSON_AddStringToObject(s, "apiVersion", "v1");
    cJSON_AddStringToObject(s, "kind", "Secret");
    meta = cJSON_AddObjectToObject(s, "metadata");
    cJSON_AddStringToObject(meta, "name", r->secret);
    cJSON_AddStringToObject(meta, "namespace", r->base.ns);
    labels = cJSON_AddObjectToObject(meta, "labels");
    cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "phase4-operator");
    cJSON_AddStringToObject(labels, "phase4.io/name", r->base.name);
    (void)snprintf(gen, sizeof(gen), "%" PRId64, r->base.generation);
    cJSON_AddStringToObject(labels, "phase4.io/generation", gen);
    cJSON_AddStringToObject(labels, "phase4.io/purpose", "manifest");
    ann = cJSON_AddObjectToObject(meta, "annotations");
    (void)snprintf(chart, sizeof(chart), "%s %s %s", p4_json_str(r->chart, "name"), r->version,
                   r->digest);
    cJSON_AddStringToObject(ann, "phase4.io/chart", chart);
    cJSON_AddStringToObject(ann, "phase4.io/image", r->pin.digest);
    owners = cJSON_AddArrayToObject(meta, "ownerReferences");
    owner = cJSON_CreateObject();
    cJSON_AddStringToObject(owner, "apiVersion", "phase4.io/v1alpha1");
    cJSON_AddStringToObject(owner, "kind", "Phase4Deployment");
    cJSON_AddStringToObject(owner, "name", r->base.name);
    cJSON_AddStringToObject(owner, "uid", r->base.uid);
    cJSON_AddBoolToObject(owner, "controller", 1);
    cJSON_AddBoolToObject(owner, "blockOwnerDeletion", 1);
    cJSON_AddItemToArray(owners, owner);
    cJSON_AddStringToObject(s, "type", P4_MANIFEST_SECRET_TYPE);
    data = cJSON_AddObjectToObject(s, "data");
    cJSON_AddStringToObject(data, P4_MANIFEST_SECRET_KEY, b64);
    free(b64);
    return s;
}

/* The manifest Secret as stored, from the gzip kept in the work; NULL (and failed) when none. */
static cJSON *secret_object(struct run *r)
{
    cJSON *s = r->w->gz ? p4_helm_manifest_secret_gz(r, r->w->gz, r->w->gz_len) : NULL;

    if (s == NULL)
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_DRYRUN, "ManifestNotStored",
                          "cannot compress the rendered manifest");
    return s;
}

static void on_existing(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_apply_opts opts = {.namespace_ = NULL, .dry_run = false, .force = true};
    struct failure f;
    cJSON *s;

    if (r == NULL)
        return;
    if (p4_helm_existing_failure(res->rc, res->body, r->base.uid, &f)) {
        if (res->rc == 0) {
            p4_stagerun_failf(
                &r->base, f.cls, f.gate, f.reason,
                "Secret %s/%s exists and is not owned by this Phase4Deployment; the rendered "
                "manifest is not stored over it (delete or rename that Secret)",
                r->base.ns, r->secret);
        } else {
            struct p4_error e = res->err;
            p4_stagerun_fail(&r->base, f.cls, f.gate, f.reason, &e);
        }
        return;
    }
    if ((s = secret_object(r)) == NULL)
        return;
    opts.namespace_ = r->base.ns;
    r->base.inflight++;
    if (p4_apply_object(stage_of(r)->cfg.kube, stage_of(r)->cfg.discovery, s, &opts, on_stored,
                        r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_CLUSTER, G_DRYRUN, "ManifestNotStored",
                          "cannot store the rendered manifest in Secret %s/%s", r->base.ns,
                          r->secret);
    }
    cJSON_Delete(s);
}

enum p4_helm_created p4_helm_created(int rc)
{
    if (rc == 0)
        return HELM_CREATED;
    return rc == P4_ERR_EXISTS ? HELM_EXISTS : HELM_NOT_CREATED;
}

/*
 * The create's answer: stored; or the Secret exists (ours from an earlier attempt or process,
 * or someone else's): read it for the owner check and apply over it only when it is ours.
 */
static void on_created(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_error e;
    struct failure f;
    char path[1024];

    if (r == NULL)
        return;
    switch (p4_helm_created(res->rc)) {
    case HELM_CREATED:
        stored(r, p4_json_str(res->body, "metadata.resourceVersion"));
        break;
    case HELM_EXISTS:
        p4_core_path(path, sizeof(path), r->base.ns, "secrets", r->secret);
        if (kube_send(r, "GET", path, on_existing) != 0)
            p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_DRYRUN, "APIUnavailable",
                              "cannot ask the API server for Secret %s/%s", r->base.ns, r->secret);
        break;
    case HELM_NOT_CREATED:
        e = res->err;
        f = p4_helm_stored_failure(res->rc, res->err.message);
        p4_stagerun_fail(&r->base, f.cls, f.gate, f.reason, &e);
        break;
    }
}

/* Create first (one request when the Secret is new, the common case), never over another's. */
void p4_helm_store(struct run *r)
{
    char path[1024], *body;
    cJSON *s;

    r->base.pending = 0;
    free(r->w->gz);
    r->w->gz_len = 0;
    r->w->gz = p4_gzip(r->w->manifest ? r->w->manifest : "", r->w->manifest_len, &r->w->gz_len);
    if ((s = secret_object(r)) == NULL)
        return;
    body = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    if (body == NULL) {
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_DRYRUN, "ManifestNotStored",
                          "cannot write the rendered manifest's Secret");
        return;
    }
    p4_core_path(path, sizeof(path), r->base.ns, "secrets", ""); /* the collection */
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "?fieldManager=%s",
                   P4_FIELD_MANAGER);
    r->base.inflight++;
    if (p4_kube_request(stage_of(r)->cfg.kube, "POST", path, "application/json", body, strlen(body),
                        on_created, r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_DRYRUN, "APIUnavailable",
                          "cannot ask the API server to store Secret %s/%s", r->base.ns, r->secret);
    }
    free(body);
}
