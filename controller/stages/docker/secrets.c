/*
 * stages/docker/secrets.c: the Docker stage's inputs from the cluster
 * (steps.h): S_GATHER reads the target namespace's default ServiceAccount,
 * the Nodes' platforms (cached for all runs a while), the CA bundle and the
 * signature's public key side by side; S_SECRETS reads the pull secrets;
 * S_CREDENTIALS adds them in order and picks the registry's credential.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "steps.h"

void p4_docker_kube_verdict(int rc, const struct p4_error *e, enum gate g, struct verdict *v)
{
    *v = (struct verdict){.outcome = V_FAIL,
                          .gate = g,
                          .cls = p4_kube_read_class(rc),
                          .reason = rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable",
                          .err = *e};
}

/* An API server error on reading something the stage needs, for gate g. */
static void kube_failure(struct run *r, enum gate g, const struct p4_kube_result *res)
{
    struct verdict v;

    p4_docker_kube_verdict(res->rc, &res->err, g, &v);
    p4_docker_part_failed(r, &v);
}

/* A read as the operator itself: the cluster's state (the ServiceAccount, Nodes). */
static int kube_get(struct run *r, const char *path, p4_kube_cb cb)
{
    return p4_stagerun_request(&r->base, stage_of(r)->cfg.kube, "GET", path, cb);
}

/* A read as whoever acts for the resource (tenancy.h): what its spec names. */
static int kube_get_as(struct run *r, const char *path, p4_kube_cb cb)
{
    return p4_stagerun_request(&r->base, r->base.kube, "GET", path, cb);
}

/* ---- S_GATHER: the ServiceAccount, Nodes, CA bundle and signature key ---- */

/*
 * The default ServiceAccount's imagePullSecrets, the names alone, kept per namespace for
 * P4_DOCKER_SA_TTL_MS: a later attempt (a retry after a registry failure) or another resource
 * in the namespace does not read it again. With one resource per namespace and one attempt
 * each it saves nothing; it stays this small for that reason.
 */
struct sa_names {
    cJSON *names; /* [{"name": ...}] */
    uint64_t at;
};

bool p4_docker_sa_fresh(uint64_t at, uint64_t now)
{
    return now >= at && now - at < P4_DOCKER_SA_TTL_MS;
}

static void sa_entry_free(struct sa_names *e)
{
    if (e) {
        cJSON_Delete(e->names);
        free(e);
    }
}

void p4_docker_sa_cache_close(struct p4_docker_stage *d)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&d->sa_names, &pos)) != NULL)
        sa_entry_free(e->value);
    p4_strmap_close(&d->sa_names);
}

static void sa_cache_put(struct p4_docker_stage *d, const char *ns, const cJSON *list)
{
    uint64_t now = uv_now(d->sr.loop);
    struct sa_names *e = p4_calloc(1, sizeof(*e));
    const cJSON *it;
    size_t pos = 0;
    const struct p4_strmap_entry *old;

    if (!p4_docker_sa_fresh(d->sa_swept, now)) { /* drop what expired, once per TTL */
        d->sa_swept = now;
        while ((old = p4_strmap_next(&d->sa_names, &pos)) != NULL) {
            struct sa_names *v = old->value;
            if (!p4_docker_sa_fresh(v->at, now)) {
                char *key = p4_strdup(old->key);
                sa_entry_free(p4_strmap_del(&d->sa_names, key));
                free(key);
            }
        }
    }
    e->names = p4_json_need(cJSON_CreateArray());
    e->at = now;
    cJSON_ArrayForEach(it, list) {
        const char *n = p4_json_str(it, "name");
        cJSON *one;
        if (n == NULL || n[0] == '\0')
            continue;
        one = p4_json_need(cJSON_CreateObject());
        p4_json_need(cJSON_AddStringToObject(one, "name", n));
        p4_json_need_ok(cJSON_AddItemToArray(e->names, one));
    }
    sa_entry_free(p4_strmap_put(&d->sa_names, ns, e));
}

/* The cached names of ns's default ServiceAccount added to the work; false: read it. */
static bool sa_cached(struct run *r)
{
    struct p4_docker_stage *d = stage_of(r);
    const struct sa_names *e = p4_strmap_get(&d->sa_names, r->base.target_ns);

    if (e == NULL || !p4_docker_sa_fresh(e->at, uv_now(d->sr.loop)))
        return false;
    p4_docker_add_wanted_list(r->w, e->names, false);
    return true;
}

static void on_service_account(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (res->rc == 0) {
        const cJSON *list = p4_json_get(res->body, "imagePullSecrets");
        p4_docker_add_wanted_list(r->w, list, false);
        sa_cache_put(stage_of(r), r->base.target_ns, list);
    } else if (res->rc != P4_ERR_NOTFOUND) /* no namespace or ServiceAccount yet: none */
        kube_failure(r, G_PULLABLE, res);
    p4_stagerun_part_done(&r->base, S_SECRETS);
}

void p4_docker_node_platforms(struct work *w, const cJSON *nodes, char *list, size_t size)
{
    const cJSON *it;
    size_t used = 0;

    list[0] = '\0';
    cJSON_ArrayForEach(it, p4_json_get(nodes, "items")) {
        const char *os = p4_json_str(it, "status.nodeInfo.operatingSystem");
        const char *arch = p4_json_str(it, "status.nodeInfo.architecture");
        size_t before = w->nplatforms;
        int n;
        if (os == NULL || arch == NULL || os[0] == '\0' || arch[0] == '\0' || strchr(os, ' ') ||
            strchr(os, '/') || strchr(arch, ' ') || strchr(arch, '/'))
            continue;
        p4_docker_add_platform(w, os, arch, "");
        if (w->nplatforms == before)
            continue; /* seen already */
        n = snprintf(list + used, size - used, "%s%s/%s", used ? " " : "", os, arch);
        if (n > 0 && (size_t)n < size - used)
            used += (size_t)n;
    }
}

static void on_nodes(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (res->rc == 0) {
        char list[PLATFORMS_MAX * 2 * P4_OCI_PLATFORM_PART_MAX];
        p4_docker_node_platforms(r->w, res->body, list, sizeof(list));
        p4_node_platforms_put(stage_of(r)->cfg.nodes, list, uv_now(stage_of(r)->sr.loop));
    } else {
        kube_failure(r, G_PULLABLE, res);
    }
    p4_stagerun_part_done(&r->base, S_SECRETS);
}

bool p4_docker_ca_verdict(const cJSON *image, const char *ns, const struct p4_kube_result *res,
                          unsigned char **ca, size_t *ca_len, struct verdict *v)
{
    const char *kind = p4_json_str(image, "caBundle.kind");
    const char *name = p4_json_str(image, "caBundle.name");
    const char *key = p4_json_str(image, "caBundle.key");
    bool secret = kind && strcmp(kind, "Secret") == 0;

    key = key ? key : "ca.crt";
    if (res->rc == 0) {
        *ca = p4_object_value(res->body, secret, key, ca_len);
        if (*ca != NULL)
            return false;
        *v = (struct verdict){.outcome = V_FAIL,
                              .gate = G_PUSHED,
                              .cls = P4_FAIL_CLUSTER,
                              .reason = "CABundleInvalid"};
        p4_error_set(&v->err, P4_ERR_INVALID, "%s %s/%s (spec.image.caBundle) has no key \"%s\"%s",
                     kind, ns, name, key, secret ? " that decodes" : "");
    } else if (res->rc == P4_ERR_NOTFOUND) {
        *v = (struct verdict){.outcome = V_FAIL,
                              .gate = G_PUSHED,
                              .cls = P4_FAIL_CLUSTER,
                              .reason = "CABundleNotFound"};
        p4_error_set(&v->err, P4_ERR_NOTFOUND,
                     "%s %s/%s named by spec.image.caBundle does not exist; create it with the "
                     "registry's CA certificate under key \"%s\"",
                     kind, ns, name, key);
    } else {
        p4_docker_kube_verdict(res->rc, &res->err, G_PUSHED, v);
    }
    return true;
}

static void on_ca_bundle(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *kind;
    struct verdict v;
    bool failed;

    if (r == NULL)
        return;
    failed = p4_docker_ca_verdict(r->image, r->base.ns, res, &r->w->ca, &r->w->ca_len, &v);
    kind = p4_json_str(r->image, "caBundle.kind");
    if (res->rc == 0 && kind && strcmp(kind, "Secret") == 0)
        p4_secret_wipe(res->body);
    if (failed)
        p4_docker_part_failed(r, &v);
    p4_stagerun_part_done(&r->base, S_SECRETS);
}

bool p4_docker_sigkey_verdict(const cJSON *image, const char *ns, const struct p4_kube_result *res,
                              struct p4_cosign_key **key_out, struct verdict *v)
{
    const char *name = p4_json_str(image, "signature.publicKeySecretRef.name");
    const char *key = p4_json_str(image, "signature.publicKeySecretRef.key");
    unsigned char *pem;
    size_t len = 0;
    struct p4_error err;
    bool failed = true;

    key = key ? key : "cosign.pub";
    *v = (struct verdict){.outcome = V_FAIL, .gate = G_SIGNED, .cls = P4_FAIL_CLUSTER};
    if (res->rc == 0) {
        v->reason = "SignatureKeyInvalid";
        pem = p4_object_value(res->body, true, key, &len);
        if (pem == NULL) {
            p4_error_set(&v->err, P4_ERR_INVALID,
                         "Secret %s/%s (spec.image.signature) has no key \"%s\" that decodes", ns,
                         name, key);
        } else if (p4_cosign_key_load(pem, len, key_out, &err) != 0) {
            p4_error_set(&v->err, P4_ERR_INVALID, "Secret %s/%s key \"%s\": %s", ns, name, key,
                         err.message);
        } else {
            failed = false;
        }
        p4_wipe_free(pem, len);
    } else if (res->rc == P4_ERR_NOTFOUND) {
        v->reason = "SignatureKeyNotFound";
        p4_error_set(&v->err, P4_ERR_NOTFOUND,
                     "Secret %s/%s named by spec.image.signature.publicKeySecretRef does not exist",
                     ns, name);
    } else {
        p4_docker_kube_verdict(res->rc, &res->err, G_SIGNED, v);
    }
    return failed;
}

static void on_signature_key(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct verdict v;

    if (r == NULL)
        return;
    if (p4_docker_sigkey_verdict(r->image, r->base.ns, res, &r->w->sigkey, &v))
        p4_docker_part_failed(r, &v);
    if (res->rc == 0)
        p4_secret_wipe(res->body);
    p4_stagerun_part_done(&r->base, S_SECRETS);
}

void p4_docker_parse_node_platforms(struct work *w, const char *list)
{
    char os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX],
        variant[P4_OCI_PLATFORM_PART_MAX], one[2 * P4_OCI_PLATFORM_PART_MAX];
    const char *p;

    for (p = list; *p;) {
        size_t n = strcspn(p, " ");
        (void)snprintf(one, sizeof(one), "%.*s", (int)n, p);
        if (p4_oci_parse_platform(one, os, arch, variant, NULL) == 0)
            p4_docker_add_platform(w, os, arch, variant);
        p += n;
        while (*p == ' ')
            p++;
    }
}

/* The Nodes' platforms from a recent list (nodeplatforms.h), if any stage made one; false means:
   list them. */
static bool cached_node_platforms(struct run *r)
{
    const struct p4_docker_stage *d = stage_of(r);
    const char *list = p4_node_platforms_get(d->cfg.nodes, uv_now(d->sr.loop));

    if (list == NULL)
        return false;
    p4_docker_parse_node_platforms(r->w, list);
    return r->w->nplatforms > 0;
}

void p4_docker_gather(struct run *r)
{
    char path[1024];
    const char *kind, *name;
    int rc = 0;

    r->base.pending = 1; /* held while the requests go out */
    if (!sa_cached(r)) {
        p4_core_path(path, sizeof(path), r->base.target_ns, "serviceaccounts", "default");
        rc |= kube_get(r, path, on_service_account);
    }
    if (r->w->nplatforms == 0 && !cached_node_platforms(r))
        rc |= kube_get(r, "/api/v1/nodes", on_nodes);
    kind = p4_json_str(r->image, "caBundle.kind");
    name = p4_json_str(r->image, "caBundle.name");
    if (kind && name && r->w->ca == NULL) {
        p4_core_path(path, sizeof(path), r->base.ns,
                     strcmp(kind, "Secret") == 0 ? "secrets" : "configmaps", name);
        rc |= kube_get_as(r, path, on_ca_bundle);
    }
    name = p4_json_str(r->image, "signature.publicKeySecretRef.name");
    if (name && r->w->sigkey == NULL) {
        p4_core_path(path, sizeof(path), r->base.ns, "secrets", name);
        rc |= kube_get_as(r, path, on_signature_key);
    }
    if (rc != 0) {
        struct p4_error err;
        p4_error_set(&err, P4_ERR_INTERNAL,
                     "cannot ask the API server for the Docker stage's "
                     "inputs");
        p4_stagerun_part_failed(&r->base, P4_FAIL_TRANSIENT, G_PULLABLE, "APIUnavailable", &err);
    }
    p4_stagerun_part_done(&r->base, S_SECRETS);
}

/* ---- S_SECRETS: the pull secrets, added in their order (the first match wins) ---- */

struct secret_read {
    struct run *r;
    size_t i;
};

void p4_docker_wipe_payloads(struct work *w)
{
    for (size_t i = 0; i < SECRETS_MAX; i++) {
        p4_wipe_free(w->payload[i], w->payload_len[i]);
        w->payload[i] = NULL;
    }
}

enum secret_answer p4_docker_secret_verdict(struct work *w, size_t i, const char *ns,
                                            const struct p4_kube_result *res, struct verdict *v)
{
    const char *name = w->wanted[i];
    const char *type;

    *v = (struct verdict){.outcome = V_FAIL, .gate = G_PULLABLE, .cls = P4_FAIL_CLUSTER};
    if (res->rc == 0) {
        type = p4_json_str(res->body, "type");
        if (type && strcmp(type, P4_REGAUTH_DOCKERCONFIGJSON) == 0) {
            w->payload[i] =
                p4_object_value(res->body, true, ".dockerconfigjson", &w->payload_len[i]);
            w->payload_type[i] = P4_REGAUTH_DOCKERCONFIGJSON;
        } else if (type && strcmp(type, P4_REGAUTH_DOCKERCFG) == 0) {
            w->payload[i] = p4_object_value(res->body, true, ".dockercfg", &w->payload_len[i]);
            w->payload_type[i] = P4_REGAUTH_DOCKERCFG;
        }
        if (w->payload[i] != NULL)
            return SECRET_READ;
        v->reason = "PullSecretInvalid";
        p4_error_set(&v->err, P4_ERR_INVALID,
                     "pull secret \"%s\" in namespace %s is not of type %s (or %s) with its "
                     "data key; create it with kubectl create secret docker-registry",
                     name, ns, P4_REGAUTH_DOCKERCONFIGJSON, P4_REGAUTH_DOCKERCFG);
    } else if (res->rc == P4_ERR_NOTFOUND) {
        if (!w->wanted_from_spec[i])
            return SECRET_SKIPPED;
        v->reason = "PullSecretNotFound";
        p4_error_set(&v->err, P4_ERR_NOTFOUND,
                     "pull secret \"%s\" (spec.image.pullSecrets) does not exist in namespace "
                     "%s, where the pods will pull from",
                     name, ns);
    } else {
        p4_docker_kube_verdict(res->rc, &res->err, G_PULLABLE, v);
    }
    return SECRET_FAILED;
}

static void on_secret(struct p4_kube_result *res, void *data)
{
    struct secret_read *sr = data;
    struct run *r = (struct run *)p4_stagerun_back(sr->r);
    size_t i = sr->i;
    struct verdict v;

    free(sr);
    if (r == NULL) {
        if (res->body)
            p4_secret_wipe(res->body);
        return;
    }
    switch (p4_docker_secret_verdict(r->w, i, r->base.target_ns, res, &v)) {
    case SECRET_READ:
        break;
    case SECRET_SKIPPED:
        /* As a kubelet does: a missing secret the ServiceAccount lists is skipped. */
        p4_log(P4_LOG_DEBUG, "pull secret of the default ServiceAccount is missing", "key",
               r->base.key, "secret", r->w->wanted[i], P4_LOG_END);
        break;
    case SECRET_FAILED:
        p4_docker_part_failed(r, &v);
        break;
    }
    if (res->rc == 0)
        p4_secret_wipe(res->body);
    p4_stagerun_part_done(&r->base, S_CREDENTIALS);
}

void p4_docker_read_secrets(struct run *r)
{
    char path[1024];

    r->base.pending = 1;
    p4_docker_wipe_payloads(r->w);
    for (size_t i = 0; i < r->w->nwanted; i++) {
        struct secret_read *sr = p4_calloc(1, sizeof(*sr));
        sr->r = r;
        sr->i = i;
        p4_core_path(path, sizeof(path), r->base.target_ns, "secrets", r->w->wanted[i]);
        r->base.inflight++;
        r->base.pending++;
        if (p4_kube_request(r->base.kube, "GET", path, NULL, NULL, 0, on_secret, sr) != 0) {
            struct p4_error err;
            r->base.inflight--;
            r->base.pending--;
            free(sr);
            p4_error_set(&err, P4_ERR_INVAL, "pull secret name \"%s\" is not a valid name",
                         r->w->wanted[i]);
            p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_PULLABLE, "PullSecretInvalid",
                                    &err);
        }
    }
    p4_stagerun_part_done(&r->base, S_CREDENTIALS);
}

/* ---- S_CREDENTIALS: all secrets read, add them in order, then pick the credential ---- */

int p4_docker_credentials(struct work *w, const char *ns, struct verdict *v)
{
    struct p4_error err;
    const struct p4_regauth_entry *e = NULL;
    char ref[600];
    int rc = 0;

    p4_regauth_close(&w->auth);
    p4_regauth_init(&w->auth);
    for (size_t i = 0; i < w->nsecrets; i++)
        free(w->secret_names[i]);
    w->nsecrets = 0;
    for (size_t i = 0; i < w->nwanted && rc == 0; i++) {
        if (w->payload[i] == NULL)
            continue;
        if (p4_regauth_add_secret(&w->auth, w->payload_type[i], (const char *)w->payload[i],
                                  w->payload_len[i], &err) != 0) {
            *v = (struct verdict){.outcome = V_FAIL,
                                  .gate = G_PULLABLE,
                                  .cls = P4_FAIL_CLUSTER,
                                  .reason = "PullSecretInvalid"};
            p4_error_set(&v->err, P4_ERR_INVALID, "pull secret \"%s\" in namespace %s: %s",
                         w->wanted[i], ns, err.message);
            rc = P4_ERR_INVALID;
            break;
        }
        w->secret_names[w->nsecrets++] = p4_strdup(w->wanted[i]);
    }
    p4_docker_wipe_payloads(w);
    if (rc != 0)
        return rc;
    (void)snprintf(ref, sizeof(ref), "%s/%s", w->ref.registry, w->ref.repository);
    w->target.cred = p4_regauth_lookup(&w->auth, ref, &e, NULL) == 0 ? e : NULL;
    w->target.ca_pem = w->ca;
    w->target.ca_len = w->ca_len;
    return 0;
}

int p4_docker_use_secrets(struct run *r)
{
    struct verdict v;
    int rc = p4_docker_credentials(r->w, r->base.target_ns, &v);

    if (rc != 0)
        p4_docker_fail(r, &v);
    else /* whatever a registry echoes from here on is redacted (redact.h) */
        p4_regauth_redact(&r->w->auth, p4_stagerun_secrets(&r->base));
    return rc;
}
