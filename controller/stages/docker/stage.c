/* stages/docker/stage.c: stage 1, Docker (see phase4/stages/docker/stage.h). */
#include "phase4/stages/docker/stage.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phase4/core/alloc.h"
#include "phase4/core/base64.h"
#include "cosign.h"
#include "phase4/stages/docker/imagecheck.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/oci/ocimanifest.h"
#include "phase4/oci/regauth.h"
#include "scanreport.h"
#include "phase4/reconciler/stagerun.h"

#define PLATFORMS_MAX 16
#define SECRETS_MAX 32
#define SIG_LAYERS_MAX 8
#define VULNREPORTS_PATH "/apis/aquasecurity.github.io/v1alpha1/vulnerabilityreports"

enum gate { G_BUILT, G_PUSHED, G_SCANNED, G_SIGNED, G_PULLABLE, G_COUNT };
static const char *const gate_names[G_COUNT] = {"Built", "Pushed", "Scanned", "Signed", "Pullable"};

enum step {
    S_BUILD,       /* the build Job, when spec.image.build asks for one */
    S_GATHER,      /* ServiceAccount, Nodes, CA bundle, signature key */
    S_SECRETS,     /* the pull secrets */
    S_CREDENTIALS, /* which of them the registry gets */
    S_RESOLVE,     /* digest, blobs and platforms (imagecheck, one platform at a time) */
    S_SCAN,        /* VulnerabilityReports, then referrers */
    S_SIGN,        /* the cosign signature */
    S_DONE,
};

/* The platforms the Nodes report change rarely: one list serves every run for a while. */
#define NODE_PLATFORMS_TTL_MS 30000

struct p4_docker_stage {
    struct p4_stagerunner sr; /* first: a run's sr is its stage */
    struct p4_docker_stage_config cfg;
    char *node_platforms;       /* "linux/amd64 linux/arm64" from the last Node list, or NULL */
    uint64_t node_platforms_at; /* uv_now() of that list */
};

/*
 * What one attempt works with: gathered from the cluster, then asked of the
 * registry. It exists only while the attempt runs (a finished or waiting run
 * keeps its result alone), so thousands of resources cost little.
 */
struct work {
    struct p4_regauth auth;
    char *secret_names[SECRETS_MAX]; /* by p4_regauth secret index */
    size_t nsecrets;
    char *wanted[SECRETS_MAX]; /* pull secrets to read: spec first, then the ServiceAccount's */
    bool wanted_from_spec[SECRETS_MAX];
    size_t nwanted;
    unsigned char *payload[SECRETS_MAX]; /* each wanted secret's decoded config, until added */
    size_t payload_len[SECRETS_MAX];
    const char *payload_type[SECRETS_MAX]; /* static P4_REGAUTH_* */
    unsigned char *ca;
    size_t ca_len;
    struct p4_cosign_key *sigkey;
    char platforms[PLATFORMS_MAX][3][P4_OCI_PLATFORM_PART_MAX];
    size_t nplatforms;
    struct p4_image_ref ref;
    char host[256];
    struct p4_registry_target target;
    char manifests[PLATFORMS_MAX][80];
    size_t platform_i;
    char missing[256];           /* platforms the image lacks */
    struct p4_error content_err; /* the first incomplete platform */
    char *report_manifest;       /* referrer chosen for the scan report */
    struct p4_cosign_sigs sigs;
    size_t sig_i;
    struct p4_error sig_err;
};

struct run {
    struct p4_stagerun base; /* first: answers get the run as their data */
    cJSON *image;      /* copy of spec.image */
    struct work *w;    /* while an attempt runs */
    time_t scan_since; /* when this attempt began waiting for a scan report */

    /* The build Job. */
    char job[64];
    bool job_created, job_done, job_settling, job_dry_run;
    uint64_t build_deadline; /* uv_now() ms when the build has taken too long */

    /* What the checks found; kept across attempts of the same generation. */
    char digest[80];       /* pinned once resolved */
    char *image_platforms; /* "linux/amd64, linux/arm64", or NULL */

    bool want_signature;
};

static struct p4_docker_stage *stage_of(const struct run *r)
{
    return (struct p4_docker_stage *)r->base.sr;
}

/* ---- run lifetime ---- */

static void wipe_payloads(struct work *w);

static void free_work(struct work *w)
{
    if (w == NULL)
        return;
    p4_regauth_close(&w->auth); /* wipes the credentials */
    wipe_payloads(w);
    for (size_t i = 0; i < w->nsecrets; i++)
        free(w->secret_names[i]);
    for (size_t i = 0; i < w->nwanted; i++)
        free(w->wanted[i]);
    free(w->ca);
    p4_cosign_key_free(w->sigkey);
    p4_cosign_sigs_free(&w->sigs);
    p4_image_ref_close(&w->ref);
    free(w->report_manifest);
    free(w);
}

/* An API server error on reading something the stage needs, for gate g. */
static void kube_failure(struct run *r, enum gate g, const struct p4_kube_result *res)
{
    p4_stagerun_part_failed(&r->base, p4_kube_read_class(res->rc), g,
                            res->rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable",
                            &res->err);
}

static int kube_get(struct run *r, const char *path, p4_kube_cb cb)
{
    return p4_stagerun_request(&r->base, stage_of(r)->cfg.kube, "GET", path, cb);
}

static void add_wanted(struct run *r, const char *name, bool from_spec)
{
    for (size_t i = 0; i < r->w->nwanted; i++) {
        if (strcmp(r->w->wanted[i], name) == 0)
            return;
    }
    if (r->w->nwanted < SECRETS_MAX) {
        r->w->wanted_from_spec[r->w->nwanted] = from_spec;
        r->w->wanted[r->w->nwanted++] = p4_strdup(name);
    }
}

static void add_platform(struct run *r, const char *os, const char *arch, const char *variant)
{
    for (size_t i = 0; i < r->w->nplatforms; i++) {
        if (strcmp(r->w->platforms[i][0], os) == 0 && strcmp(r->w->platforms[i][1], arch) == 0 &&
            strcmp(r->w->platforms[i][2], variant) == 0)
            return;
    }
    if (r->w->nplatforms < PLATFORMS_MAX && strlen(os) < P4_OCI_PLATFORM_PART_MAX &&
        strlen(arch) < P4_OCI_PLATFORM_PART_MAX && strlen(variant) < P4_OCI_PLATFORM_PART_MAX) {
        (void)snprintf(r->w->platforms[r->w->nplatforms][0], P4_OCI_PLATFORM_PART_MAX, "%s", os);
        (void)snprintf(r->w->platforms[r->w->nplatforms][1], P4_OCI_PLATFORM_PART_MAX, "%s", arch);
        (void)snprintf(r->w->platforms[r->w->nplatforms][2], P4_OCI_PLATFORM_PART_MAX, "%s",
                       variant);
        r->w->nplatforms++;
    }
}

static void platform_text(const struct run *r, size_t i, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s/%s%s%s", r->w->platforms[i][0], r->w->platforms[i][1],
                   r->w->platforms[i][2][0] ? "/" : "", r->w->platforms[i][2]);
}

/* ---- S_GATHER: the ServiceAccount, Nodes, CA bundle and signature key ---- */

static void on_service_account(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const cJSON *it;

    if (r == NULL)
        return;
    if (res->rc == 0) {
        cJSON_ArrayForEach(it, p4_json_get(res->body, "imagePullSecrets")) {
            const char *n = p4_json_str(it, "name");
            if (n && n[0])
                add_wanted(r, n, false);
        }
    } else if (res->rc != P4_ERR_NOTFOUND) { /* no namespace or ServiceAccount yet: none */
        kube_failure(r, G_PULLABLE, res);
    }
    p4_stagerun_part_done(&r->base, S_SECRETS);
}

static void on_nodes(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const cJSON *it;

    if (r == NULL)
        return;
    if (res->rc == 0) {
        char list[PLATFORMS_MAX * 2 * P4_OCI_PLATFORM_PART_MAX] = "";
        size_t used = 0;
        cJSON_ArrayForEach(it, p4_json_get(res->body, "items")) {
            const char *os = p4_json_str(it, "status.nodeInfo.operatingSystem");
            const char *arch = p4_json_str(it, "status.nodeInfo.architecture");
            size_t before = r->w->nplatforms;
            int n;
            if (os == NULL || arch == NULL || os[0] == '\0' || arch[0] == '\0' || strchr(os, ' ') ||
                strchr(os, '/') || strchr(arch, ' ') || strchr(arch, '/'))
                continue;
            add_platform(r, os, arch, "");
            if (r->w->nplatforms == before)
                continue; /* seen already */
            n = snprintf(list + used, sizeof(list) - used, "%s%s/%s", used ? " " : "", os, arch);
            if (n > 0 && (size_t)n < sizeof(list) - used)
                used += (size_t)n;
        }
        free(stage_of(r)->node_platforms);
        stage_of(r)->node_platforms = p4_strdup(list);
        stage_of(r)->node_platforms_at = uv_now(stage_of(r)->sr.loop);
    } else {
        kube_failure(r, G_PULLABLE, res);
    }
    p4_stagerun_part_done(&r->base, S_SECRETS);
}

static void on_ca_bundle(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *kind, *name, *key;
    struct p4_error err;

    if (r == NULL)
        return;
    kind = p4_json_str(r->image, "caBundle.kind");
    name = p4_json_str(r->image, "caBundle.name");
    key = p4_json_str(r->image, "caBundle.key");
    key = key ? key : "ca.crt";
    if (res->rc == 0) {
        bool secret = kind && strcmp(kind, "Secret") == 0;
        r->w->ca = p4_object_value(res->body, secret, key, &r->w->ca_len);
        if (secret)
            p4_secret_wipe(res->body);
        if (r->w->ca == NULL) {
            p4_error_set(&err, P4_ERR_INVALID, "%s %s/%s (spec.image.caBundle) has no key \"%s\"%s",
                         kind, r->base.ns, name, key, secret ? " that decodes" : "");
            p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_PUSHED, "CABundleInvalid", &err);
        }
    } else if (res->rc == P4_ERR_NOTFOUND) {
        p4_error_set(&err, P4_ERR_NOTFOUND,
                     "%s %s/%s named by spec.image.caBundle does not exist; create it with the "
                     "registry's CA certificate under key \"%s\"",
                     kind, r->base.ns, name, key);
        p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_PUSHED, "CABundleNotFound", &err);
    } else {
        kube_failure(r, G_PUSHED, res);
    }
    p4_stagerun_part_done(&r->base, S_SECRETS);
}

static void on_signature_key(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *name, *key;
    unsigned char *pem;
    size_t len = 0;
    struct p4_error err;

    if (r == NULL)
        return;
    name = p4_json_str(r->image, "signature.publicKeySecretRef.name");
    key = p4_json_str(r->image, "signature.publicKeySecretRef.key");
    key = key ? key : "cosign.pub";
    if (res->rc == 0) {
        pem = p4_object_value(res->body, true, key, &len);
        p4_secret_wipe(res->body);
        if (pem == NULL) {
            p4_error_set(&err, P4_ERR_INVALID,
                         "Secret %s/%s (spec.image.signature) has no key \"%s\" that decodes",
                         r->base.ns, name, key);
            p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_SIGNED, "SignatureKeyInvalid",
                                    &err);
        } else if (p4_cosign_key_load(pem, len, &r->w->sigkey, &err) != 0) {
            char msg[P4_ERROR_MESSAGE_MAX];
            (void)snprintf(msg, sizeof(msg), "%s", err.message);
            p4_error_set(&err, P4_ERR_INVALID, "Secret %s/%s key \"%s\": %s", r->base.ns, name, key,
                         msg);
            p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_SIGNED, "SignatureKeyInvalid",
                                    &err);
        }
        p4_wipe_free(pem, len);
    } else if (res->rc == P4_ERR_NOTFOUND) {
        p4_error_set(&err, P4_ERR_NOTFOUND,
                     "Secret %s/%s named by spec.image.signature.publicKeySecretRef does not exist",
                     r->base.ns, name);
        p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_SIGNED, "SignatureKeyNotFound", &err);
    } else {
        kube_failure(r, G_SIGNED, res);
    }
    p4_stagerun_part_done(&r->base, S_SECRETS);
}

/* The Nodes' platforms from a recent list, if there is one; false means: list them. */
static bool cached_node_platforms(struct run *r)
{
    const struct p4_docker_stage *d = stage_of(r);
    char os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX],
        variant[P4_OCI_PLATFORM_PART_MAX], one[2 * P4_OCI_PLATFORM_PART_MAX];
    const char *p;

    if (d->node_platforms == NULL || d->node_platforms[0] == '\0' ||
        uv_now(d->sr.loop) - d->node_platforms_at > NODE_PLATFORMS_TTL_MS)
        return false;
    for (p = d->node_platforms; *p;) {
        size_t n = strcspn(p, " ");
        (void)snprintf(one, sizeof(one), "%.*s", (int)n, p);
        if (p4_oci_parse_platform(one, os, arch, variant, NULL) == 0)
            add_platform(r, os, arch, variant);
        p += n;
        while (*p == ' ')
            p++;
    }
    return r->w->nplatforms > 0;
}

static void gather(struct run *r)
{
    char path[1024];
    const char *kind, *name;
    int rc = 0;

    r->base.pending = 1; /* held while the requests go out */
    p4_core_path(path, sizeof(path), r->base.target_ns, "serviceaccounts", "default");
    rc |= kube_get(r, path, on_service_account);
    if (r->w->nplatforms == 0 && !cached_node_platforms(r))
        rc |= kube_get(r, "/api/v1/nodes", on_nodes);
    kind = p4_json_str(r->image, "caBundle.kind");
    name = p4_json_str(r->image, "caBundle.name");
    if (kind && name && r->w->ca == NULL) {
        p4_core_path(path, sizeof(path), r->base.ns,
                     strcmp(kind, "Secret") == 0 ? "secrets" : "configmaps", name);
        rc |= kube_get(r, path, on_ca_bundle);
    }
    name = p4_json_str(r->image, "signature.publicKeySecretRef.name");
    if (name && r->w->sigkey == NULL) {
        p4_core_path(path, sizeof(path), r->base.ns, "secrets", name);
        rc |= kube_get(r, path, on_signature_key);
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

static void wipe_payloads(struct work *w)
{
    for (size_t i = 0; i < SECRETS_MAX; i++) {
        p4_wipe_free(w->payload[i], w->payload_len[i]);
        w->payload[i] = NULL;
    }
}

static void on_secret(struct p4_kube_result *res, void *data)
{
    struct secret_read *sr = data;
    struct run *r = (struct run *)p4_stagerun_back(sr->r);
    size_t i = sr->i;
    const char *type, *name;
    struct p4_error err;

    free(sr);
    if (r == NULL) {
        if (res->body)
            p4_secret_wipe(res->body);
        return;
    }
    name = r->w->wanted[i];
    if (res->rc == 0) {
        type = p4_json_str(res->body, "type");
        if (type && strcmp(type, P4_REGAUTH_DOCKERCONFIGJSON) == 0) {
            r->w->payload[i] =
                p4_object_value(res->body, true, ".dockerconfigjson", &r->w->payload_len[i]);
            r->w->payload_type[i] = P4_REGAUTH_DOCKERCONFIGJSON;
        } else if (type && strcmp(type, P4_REGAUTH_DOCKERCFG) == 0) {
            r->w->payload[i] =
                p4_object_value(res->body, true, ".dockercfg", &r->w->payload_len[i]);
            r->w->payload_type[i] = P4_REGAUTH_DOCKERCFG;
        }
        p4_secret_wipe(res->body);
        if (r->w->payload[i] == NULL) {
            p4_error_set(&err, P4_ERR_INVALID,
                         "pull secret \"%s\" in namespace %s is not of type %s (or %s) with its "
                         "data key; create it with kubectl create secret docker-registry",
                         name, r->base.target_ns, P4_REGAUTH_DOCKERCONFIGJSON, P4_REGAUTH_DOCKERCFG);
            p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_PULLABLE, "PullSecretInvalid",
                                    &err);
        }
    } else if (res->rc == P4_ERR_NOTFOUND) {
        if (r->w->wanted_from_spec[i]) {
            p4_error_set(&err, P4_ERR_NOTFOUND,
                         "pull secret \"%s\" (spec.image.pullSecrets) does not exist in namespace "
                         "%s, where the pods will pull from",
                         name, r->base.target_ns);
            p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_PULLABLE, "PullSecretNotFound",
                                    &err);
        } else {
            /* As a kubelet does: a missing secret the ServiceAccount lists is skipped. */
            p4_log(P4_LOG_DEBUG, "pull secret of the default ServiceAccount is missing", "key",
                   r->base.key, "secret", name, P4_LOG_END);
        }
    } else {
        kube_failure(r, G_PULLABLE, res);
    }
    p4_stagerun_part_done(&r->base, S_CREDENTIALS);
}

static void read_secrets(struct run *r)
{
    char path[1024];

    r->base.pending = 1;
    wipe_payloads(r->w);
    for (size_t i = 0; i < r->w->nwanted; i++) {
        struct secret_read *sr = p4_calloc(1, sizeof(*sr));
        sr->r = r;
        sr->i = i;
        p4_core_path(path, sizeof(path), r->base.target_ns, "secrets", r->w->wanted[i]);
        r->base.inflight++;
        r->base.pending++;
        if (p4_kube_request(stage_of(r)->cfg.kube, "GET", path, NULL, NULL, 0, on_secret, sr) !=
            0) {
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

/* All secrets read: add them in order, then point the registry target at the credential. */
static int use_secrets(struct run *r)
{
    struct p4_error err;
    const struct p4_regauth_entry *e = NULL;
    char ref[600];
    int rc = 0;

    p4_regauth_close(&r->w->auth);
    p4_regauth_init(&r->w->auth);
    for (size_t i = 0; i < r->w->nsecrets; i++)
        free(r->w->secret_names[i]);
    r->w->nsecrets = 0;
    for (size_t i = 0; i < r->w->nwanted && rc == 0; i++) {
        if (r->w->payload[i] == NULL)
            continue;
        if (p4_regauth_add_secret(&r->w->auth, r->w->payload_type[i],
                                  (const char *)r->w->payload[i], r->w->payload_len[i],
                                  &err) != 0) {
            char msg[P4_ERROR_MESSAGE_MAX];
            (void)snprintf(msg, sizeof(msg), "%s", err.message);
            p4_error_set(&err, P4_ERR_INVALID, "pull secret \"%s\" in namespace %s: %s",
                         r->w->wanted[i], r->base.target_ns, msg);
            p4_stagerun_fail(&r->base, P4_FAIL_CLUSTER, G_PULLABLE, "PullSecretInvalid", &err);
            rc = P4_ERR_INVALID;
            break;
        }
        r->w->secret_names[r->w->nsecrets++] = p4_strdup(r->w->wanted[i]);
    }
    wipe_payloads(r->w);
    if (rc != 0)
        return rc;
    (void)snprintf(ref, sizeof(ref), "%s/%s", r->w->ref.registry, r->w->ref.repository);
    r->w->target.cred = p4_regauth_lookup(&r->w->auth, ref, &e, NULL) == 0 ? e : NULL;
    r->w->target.ca_pem = r->w->ca;
    r->w->target.ca_len = r->w->ca_len;
    return 0;
}

/* ---- registry answers, classified ---- */

/* "a", "b" for messages; "" when none. */
static void secret_list(const struct run *r, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < r->w->nwanted && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "", r->w->wanted[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/*
 * Credentials, TLS and outages look the same whatever was asked: handle them
 * here. Returns true when it took care of the failure.
 */
static bool registry_trouble(struct run *r, int rc, const struct p4_error *e,
                             uint64_t retry_after_ms, enum gate g)
{
    struct p4_error err;
    char names[256];

    switch (rc) {
    case P4_ERR_UNAUTHORIZED:
    case P4_ERR_FORBIDDEN:
        secret_list(r, names, sizeof(names));
        if (r->w->target.cred)
            p4_error_set(&err, rc,
                         "%s: pull secret \"%s\" in namespace %s has the wrong "
                         "credentials for %s, or no pull access to %s",
                         e->message, r->w->secret_names[r->w->target.cred->secret], r->base.target_ns,
                         r->w->host, r->w->ref.repository);
        else if (names[0])
            p4_error_set(&err, rc,
                         "%s: none of the pull secrets in namespace %s (%s) has an "
                         "entry for %s",
                         e->message, r->base.target_ns, names, r->w->host);
        else
            p4_error_set(&err, rc,
                         "%s: namespace %s has no pull secret; list one in "
                         "spec.image.pullSecrets or on its default ServiceAccount",
                         e->message, r->base.target_ns);
        p4_stagerun_fail(&r->base, P4_FAIL_CLUSTER, G_PULLABLE, "ImagePullAuthFailed", &err);
        return true;
    case P4_ERR_TLS:
        p4_stagerun_fail(&r->base, P4_FAIL_CLUSTER, G_PUSHED, "RegistryTLSError", e);
        return true;
    case P4_ERR_UNAVAILABLE:
    case P4_ERR_TRANSPORT:
    case P4_ERR_TIMEOUT:
    case P4_ERR_TOOMANY:
    case P4_ERR_CANCELED:
    case P4_ERR_INTERNAL:
        r->base.retry_after_ms = retry_after_ms; /* the registry's own word on when to come back */
        p4_stagerun_fail(&r->base, P4_FAIL_TRANSIENT, g, "RegistryUnavailable", e);
        return true;
    default:
        return false;
    }
}

/* ---- S_RESOLVE: digest, blobs and platforms ---- */

static void resolve_next(struct run *r);

static void resolve_done(struct run *r)
{
    const char *tagref = r->w->ref.tag ? r->w->ref.tag : r->w->ref.digest;
    char list[256] = "";
    size_t used = 0;

    if (r->job_done)
        p4_stagerun_gate(&r->base, G_BUILT, "True", "BuildSucceeded",
                         "build Job %s/%s succeeded; %s:%s resolves to %s in registry %s", r->base.ns,
                         r->job, r->w->ref.repository, tagref, r->digest, r->w->host);
    else
        p4_stagerun_gate(&r->base, G_BUILT, "True", "ImageExists",
                         "%s:%s resolves to %s in registry %s", r->w->ref.repository, tagref,
                         r->digest, r->w->host);
    if (r->w->content_err.code != 0) {
        struct p4_error e = r->w->content_err;
        p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_PUSHED, "ImageIncomplete", &e);
        return;
    }
    p4_stagerun_gate(&r->base, G_PUSHED, "True", "BlobsPresent",
                     "the manifest, config and every layer of %s@%s answer in registry %s",
                     r->w->ref.repository, r->digest, r->w->host);
    if (r->w->missing[0]) {
        p4_stagerun_failf(
            &r->base, P4_FAIL_ARTIFACT, G_PULLABLE, "PlatformNotSupported",
            "image %s@%s has no manifest for %s, which the cluster's nodes run (it has: %s); "
            "build it for that platform",
            r->w->ref.repository, r->digest, r->w->missing,
            r->image_platforms ? r->image_platforms : "none");
        return;
    }
    for (size_t i = 0; i < r->w->nplatforms && used < sizeof(list); i++) {
        char p[200];
        int n;
        platform_text(r, i, p, sizeof(p));
        n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", p);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (r->w->target.cred)
        p4_stagerun_gate(&r->base, G_PULLABLE, "True", "Pullable",
                         "pullable for %s with pull secret \"%s\" from namespace %s", list,
                         r->w->secret_names[r->w->target.cred->secret], r->base.target_ns);
    else
        p4_stagerun_gate(&r->base, G_PULLABLE, "True", "Pullable",
                         "pullable for %s without credentials", list);
    p4_stagerun_next(&r->base, S_SCAN);
}

static void on_checked(const struct p4_image_check *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    char p[200];

    if (r == NULL)
        return;
    if (res->digest[0] && r->digest[0] == '\0')
        (void)snprintf(r->digest, sizeof(r->digest), "%s", res->digest); /* pinned */
    if (res->platforms[0] && r->image_platforms == NULL)
        r->image_platforms = p4_strdup(res->platforms);
    if (res->rc == 0) {
        (void)snprintf(r->w->manifests[r->w->platform_i], sizeof(r->w->manifests[0]), "%s",
                       res->manifest);
    } else if (registry_trouble(r, res->rc, &res->err, res->retry_after_ms,
                                res->problem == P4_IMAGE_REFERENCE ? G_BUILT : G_PUSHED)) {
        return;
    } else if (res->problem == P4_IMAGE_REFERENCE) {
        if (res->rc == P4_ERR_NOTFOUND) {
            struct p4_error e;
            p4_error_set(&e, P4_ERR_NOTFOUND, "%s; push the image or correct spec.image",
                         res->err.message);
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_BUILT, "ImageNotFound", &e);
        } else {
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_PUSHED, "ImageManifestInvalid",
                             &res->err);
        }
        return;
    } else if (res->problem == P4_IMAGE_PLATFORM) {
        size_t used = strlen(r->w->missing);
        platform_text(r, r->w->platform_i, p, sizeof(p));
        (void)snprintf(r->w->missing + used, sizeof(r->w->missing) - used, "%s%s", used ? ", " : "",
                       p);
    } else if (r->w->content_err.code == 0) {
        r->w->content_err = res->err;
        if (r->w->content_err.code == 0)
            r->w->content_err.code = res->rc;
    }
    r->w->platform_i++;
    r->base.transient_n = 0;
    resolve_next(r);
}

static void resolve_next(struct run *r)
{
    const char *reference;

    if (r->w->platform_i >= r->w->nplatforms) {
        resolve_done(r);
        return;
    }
    reference = r->digest[0] ? r->digest : r->w->ref.digest ? r->w->ref.digest : r->w->ref.tag;
    r->base.inflight++;
    if (p4_image_check(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository, reference,
                       r->w->platforms[r->w->platform_i][0], r->w->platforms[r->w->platform_i][1],
                       r->w->platforms[r->w->platform_i][2], on_checked, r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_CLUSTER, G_PUSHED, "InvalidImageReference",
                          "cannot ask registry %s for %s:%s", r->w->host, r->w->ref.repository,
                          reference);
    }
}

static void resolve(struct run *r)
{
    if (r->w->nplatforms == 0) {
        struct p4_error e;
        p4_error_set(&e, P4_ERR_NOTFOUND,
                     "no Node reports its platform yet, so pullability "
                     "cannot be checked; waiting for nodes");
        p4_stagerun_fail(&r->base, P4_FAIL_TRANSIENT, G_PULLABLE, "NoNodes", &e);
        return;
    }
    resolve_next(r);
}

/* ---- S_SCAN: a vulnerability report for the pinned digest ---- */

static enum p4_severity max_severity(const struct run *r)
{
    enum p4_severity s = P4_SEV_CRITICAL;
    const char *v = p4_json_str(r->image, "scan.maxSeverity");

    if (v)
        (void)p4_severity_parse(v, &s);
    return s;
}

static void scanned(struct run *r, const struct p4_scan_summary *sum, const char *source)
{
    char msg[P4_ERROR_MESSAGE_MAX - 64];

    if (p4_scan_over(sum, max_severity(r), msg, sizeof(msg)) > 0) {
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "VulnerabilitiesFound",
                          "%s (%s): %s", source, sum->format, msg);
        return;
    }
    p4_stagerun_gate(&r->base, G_SCANNED, "True", "ScanPassed", "%s (%s): %s", source, sum->format,
                     msg);
    p4_stagerun_next(&r->base, S_SIGN);
}

static void no_report(struct run *r)
{
    bool required = false;
    uint64_t timeout = p4_duration_ms(p4_json_str(r->image, "scan.timeout"), 600000);

    (void)p4_json_bool(r->image, "scan.required", &required);
    if (!required) {
        p4_stagerun_gate(
            &r->base, G_SCANNED, "True", "NotScanned",
            "no vulnerability report for %s (no VulnerabilityReport, no referrer in the "
            "registry); spec.image.scan.required is false",
            r->digest);
        p4_stagerun_next(&r->base, S_SIGN);
        return;
    }
    if ((uint64_t)(time(NULL) - r->scan_since) * 1000 < timeout) {
        p4_stagerun_gate(
            &r->base, G_SCANNED, "Unknown", "ScanPending",
            "waiting for a vulnerability report for %s (a VulnerabilityReport or a referrer "
            "in the registry); spec.image.scan.required is true",
            r->digest);
        /* Waiting holds no slot: the check starts over (with the pinned digest) later. */
        p4_stagerun_restart_in(&r->base, stage_of(r)->cfg.scan_poll_ms);
        p4_stagerun_notify(&r->base);
        p4_stagerun_end_attempt(&r->base);
        return;
    }
    p4_stagerun_failf(
        &r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportMissing",
        "no vulnerability report for %s appeared within spec.image.scan.timeout; scan the "
        "image and attach the report, or set spec.image.scan.required to false",
        r->digest);
}

static void on_report_blob(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_scan_summary sum;
    struct p4_error err;
    char source[200];

    if (r == NULL)
        return;
    if (a->rc != 0) {
        if (!registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SCANNED))
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid", &a->err);
        return;
    }
    if (p4_scan_parse(a->body, a->len, &sum, &err) != 0) {
        p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid", &err);
        return;
    }
    (void)snprintf(source, sizeof(source), "report %s attached to the image",
                   r->w->report_manifest ? r->w->report_manifest : "");
    scanned(r, &sum, source);
}

static void on_report_manifest(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_oci_manifest *m = NULL;
    struct p4_error err;

    if (r == NULL)
        return;
    if (a->rc != 0) {
        if (!registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SCANNED))
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid", &a->err);
        return;
    }
    if (p4_oci_manifest_parse(a->body, a->len, a->media_type, &m, &err) != 0 ||
        m->kind != P4_OCI_IMAGE || m->layers_len == 0) {
        if (m)
            p4_error_set(&err, P4_ERR_INVALID, "the scan report %s has no layer to read",
                         r->w->report_manifest);
        p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid", &err);
        p4_oci_manifest_free(m);
        return;
    }
    r->base.inflight++;
    if (p4_registry_blob_get(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository,
                             m->layers[0].digest, on_report_blob, r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid",
                          "cannot read the scan report blob %s", m->layers[0].digest);
    }
    p4_oci_manifest_free(m);
}

/* Is this referrer a scan report we read (Trivy JSON or SARIF)? */
static bool is_report_type(const char *t)
{
    return t && (strstr(t, "sarif") != NULL || strstr(t, "trivy") != NULL);
}

/* An index of referrers (API answer or fallback tag): fetch the first scan report in it. */
static void use_referrers(struct run *r, const struct p4_registry_answer *a)
{
    struct p4_oci_manifest *idx = NULL;
    const char *found = NULL;

    if (p4_oci_manifest_parse(a->body, a->len, P4_OCI_MEDIA_INDEX, &idx, NULL) == 0) {
        for (size_t i = 0; i < idx->entries_len && !found; i++) {
            if (is_report_type(idx->entries[i].artifact_type))
                found = idx->entries[i].desc.digest;
        }
    }
    if (found == NULL) {
        p4_oci_manifest_free(idx);
        no_report(r);
        return;
    }
    free(r->w->report_manifest);
    r->w->report_manifest = p4_strdup(found);
    p4_oci_manifest_free(idx);
    r->base.inflight++;
    if (p4_registry_manifest(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository,
                             r->w->report_manifest, on_report_manifest, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
}

static void on_referrer_tag(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (a->rc == 0)
        use_referrers(r, a);
    else if (a->rc == P4_ERR_NOTFOUND ||
             !registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SCANNED))
        no_report(r); /* no fallback tag: no report attached */
}

static void on_referrers(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    char tag[80];

    if (r == NULL)
        return;
    if (a->rc == 0) {
        use_referrers(r, a);
        return;
    }
    if (a->rc != P4_ERR_NOTFOUND && a->rc != P4_ERR_METHOD &&
        registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SCANNED))
        return;
    /* No referrers API (distribution 2.x): the OCI 1.1 fallback tag "sha256-<hex>". */
    (void)snprintf(tag, sizeof(tag), "sha256-%s", r->digest + 7);
    r->base.inflight++;
    if (p4_registry_manifest(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository, tag,
                             on_referrer_tag, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
}

static void ask_referrers(struct run *r)
{
    r->base.inflight++;
    if (p4_registry_referrers(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository,
                              r->digest, on_referrers, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
}

static void on_vulnreports(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *digests[PLATFORMS_MAX + 1];
    size_t n = 0;
    const cJSON *it;

    if (r == NULL)
        return;
    if (res->rc == P4_ERR_NOTFOUND || res->rc == P4_ERR_FORBIDDEN) {
        ask_referrers(r); /* Trivy Operator not installed, or we may not read its reports */
        return;
    }
    if (res->rc != 0) {
        p4_stagerun_fail(&r->base, P4_FAIL_TRANSIENT, G_SCANNED, "APIUnavailable", &res->err);
        return;
    }
    digests[n++] = r->digest;
    for (size_t i = 0; i < r->w->nplatforms; i++) {
        if (r->w->manifests[i][0])
            digests[n++] = r->w->manifests[i];
    }
    cJSON_ArrayForEach(it, p4_json_get(res->body, "items")) {
        struct p4_scan_summary sum;
        struct p4_error err;
        char source[600];
        if (!p4_scan_vulnreport_matches(it, digests, n))
            continue;
        (void)snprintf(source, sizeof(source), "VulnerabilityReport %s/%s",
                       p4_json_str(it, "metadata.namespace") ? p4_json_str(it, "metadata.namespace")
                                                             : "",
                       p4_json_str(it, "metadata.name") ? p4_json_str(it, "metadata.name") : "");
        if (p4_scan_parse_vulnreport(it, &sum, &err) != 0) {
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid", &err);
            return;
        }
        scanned(r, &sum, source);
        return;
    }
    ask_referrers(r);
}

static void scan(struct run *r)
{
    if (r->scan_since == 0)
        r->scan_since = time(NULL);
    r->base.inflight++;
    if (p4_kube_request(stage_of(r)->cfg.kube, "GET", VULNREPORTS_PATH, NULL, NULL, 0,
                        on_vulnreports, r) != 0) {
        r->base.inflight--;
        ask_referrers(r);
    }
}

/* ---- S_SIGN: a cosign signature over the pinned digest ---- */

static void verify_next(struct run *r);

static void on_sig_blob(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (a->rc != 0) {
        if (registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SIGNED))
            return;
        r->w->sig_err = a->err;
    } else if (p4_cosign_verify(r->w->sigkey, (const unsigned char *)a->body, a->len,
                                r->w->sigs.layers[r->w->sig_i].signature, r->digest,
                                &r->w->sig_err) == 0) {
        p4_stagerun_gate(&r->base, G_SIGNED, "True", "SignatureVerified",
                         "%s is signed by the key in Secret %s/%s", r->digest, r->base.ns,
                         p4_json_str(r->image, "signature.publicKeySecretRef.name"));
        p4_stagerun_next(&r->base, S_DONE);
        return;
    }
    r->w->sig_i++;
    verify_next(r);
}

/* Fetch the next signature's payload; on_sig_blob verifies it. */
static void verify_next(struct run *r)
{
    struct work *w = r->w;

    for (; w->sig_i < w->sigs.n && w->sig_i < SIG_LAYERS_MAX; w->sig_i++) {
        r->base.inflight++;
        if (p4_registry_blob_get(stage_of(r)->cfg.registry, &w->target, w->ref.repository,
                                 w->sigs.layers[w->sig_i].digest, on_sig_blob, r) == 0)
            return;
        r->base.inflight--;
        p4_error_set(&w->sig_err, P4_ERR_INVALID, "cannot read signature payload %s",
                     w->sigs.layers[w->sig_i].digest);
    }
    p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SIGNED, "SignatureInvalid",
                      "no signature of %s verifies with the key in Secret %s/%s: %s", r->digest,
                      r->base.ns, p4_json_str(r->image, "signature.publicKeySecretRef.name"),
                      w->sig_err.message);
}

static void on_sig_manifest(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_error err;

    if (r == NULL)
        return;
    if (a->rc != 0 && registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SIGNED))
        return;
    p4_cosign_sigs_free(&r->w->sigs);
    if (a->rc != 0 || p4_cosign_parse_sigs(a->body, a->len, &r->w->sigs, &err) != 0) {
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SIGNED, "SignatureNotFound",
                          "%s has no cosign signature in registry %s (%s)", r->digest, r->w->host,
                          a->rc != 0 ? a->err.message : err.message);
        return;
    }
    r->w->sig_i = 0;
    p4_error_set(&r->w->sig_err, P4_ERR_INVALID, "no signed layer");
    verify_next(r);
}

static void sign(struct run *r)
{
    char tag[96];

    if (!r->want_signature) {
        p4_stagerun_next(&r->base, S_DONE);
        return;
    }
    if (p4_cosign_sig_tag(r->digest, tag, sizeof(tag)) != 0) {
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SIGNED, "SignatureNotFound",
                          "signatures are looked up for sha256 digests only, not %s", r->digest);
        return;
    }
    r->base.inflight++;
    if (p4_registry_manifest(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository, tag,
                             on_sig_manifest, r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SIGNED, "SignatureNotFound",
                          "cannot ask registry %s for %s", r->w->host, tag);
    }
}

/* ---- S_BUILD: a Job the user describes, created and owned by the resource ---- */

static const cJSON *true_condition(const cJSON *obj, const char *type)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, p4_json_get(obj, "status.conditions")) {
        const char *t = p4_json_str(c, "type"), *st = p4_json_str(c, "status");
        if (t && st && strcmp(t, type) == 0 && strcmp(st, "True") == 0)
            return c;
    }
    return NULL;
}

/* The build failed: say why, with the last lines of its pod's log. */
static void build_failed(struct run *r, const char *log)
{
    r->base.attempt = r->base.attempts; /* a rebuild of the same spec fails the same way */
    p4_stagerun_failf(
        &r->base, P4_FAIL_ARTIFACT, G_BUILT, "BuildFailed",
        "build Job %s/%s failed (%s)%s%s; fix the build and change the resource to run "
        "it again",
        r->base.ns, r->job, r->base.err.message[0] ? r->base.err.message : "no reason given",
        log && log[0] ? "; last log lines: " : "", log ? log : "");
}

static void on_build_log(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    char tail[300] = "";

    if (r == NULL)
        return;
    if (res->rc == 0 && cJSON_IsString(res->body)) {
        p4_log_tail(res->body->valuestring, tail, sizeof(tail));
    } else {
        p4_log(P4_LOG_DEBUG, "cannot read the build's log", "key", r->base.key, "job", r->job,
               "error", res->err.message, P4_LOG_END);
    }
    build_failed(r, tail);
}

static void on_build_pods(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const cJSON *it, *pick = NULL;
    const char *pod, *container;
    char path[1200], epod[512], ec[256];
    const cJSON *items = res->rc == 0 ? p4_json_get(res->body, "items") : NULL;

    if (r == NULL)
        return;
    cJSON_ArrayForEach(it, items) {
        const char *a = p4_json_str(it, "metadata.creationTimestamp");
        const char *b = pick ? p4_json_str(pick, "metadata.creationTimestamp") : NULL;
        if (pick == NULL || (a && b && strcmp(a, b) >= 0))
            pick = it; /* the newest attempt */
    }
    pod = pick ? p4_json_str(pick, "metadata.name") : NULL;
    container =
        pick ? p4_json_str(cJSON_GetArrayItem(p4_json_get(pick, "spec.containers"), 0), "name")
             : NULL;
    if (pod == NULL || container == NULL || p4_kube_escape(pod, epod, sizeof(epod)) != 0 ||
        p4_kube_escape(container, ec, sizeof(ec)) != 0) {
        p4_log(P4_LOG_DEBUG, "no pod of the build Job to read a log from", "key", r->base.key,
               "job", r->job, "error", res->rc ? res->err.message : "none listed", P4_LOG_END);
        build_failed(r, NULL);
        return;
    }
    p4_core_path(path, sizeof(path), r->base.ns, "pods", "");
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path),
                   "/%s/log?container=%s&tailLines=5&limitBytes=4096", epod, ec);
    r->base.inflight++;
    if (p4_kube_get_accept(stage_of(r)->cfg.kube, path, "text/plain", on_build_log, r) != 0) {
        r->base.inflight--;
        build_failed(r, NULL);
    }
}

/* Look at the Job in the cache: done, failed, or still running. */
static void build_check(struct run *r)
{
    char jkey[400], path[1024], sel[200];
    const cJSON *job, *failed;

    (void)snprintf(jkey, sizeof(jkey), "%s/%s", r->base.ns, r->job);
    job = stage_of(r)->cfg.jobs ? p4_informer_get(stage_of(r)->cfg.jobs, jkey) : NULL;
    if (job == NULL || !p4_owned_by(job, r->base.uid))
        return; /* not in the cache yet */
    if (true_condition(job, "Complete")) {
        r->job_done = true;
        p4_stagerun_gate(&r->base, G_BUILT, "True", "BuildSucceeded", "build Job %s/%s succeeded",
                         r->base.ns, r->job);
        p4_stagerun_next(&r->base, S_GATHER);
        return;
    }
    failed = true_condition(job, "Failed");
    if (failed == NULL)
        return;
    r->job_settling = true;
    (void)uv_timer_stop(&r->base.timer);
    (void)snprintf(r->base.err.message, sizeof(r->base.err.message), "%s: %s",
                   p4_json_str(failed, "reason") ? p4_json_str(failed, "reason") : "Failed",
                   p4_json_str(failed, "message") ? p4_json_str(failed, "message") : "");
    p4_core_path(path, sizeof(path), r->base.ns, "pods", ""); /* the collection */
    if (p4_kube_escape(r->job, sel, sizeof(sel)) != 0)
        sel[0] = '\0';
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path),
                   "?labelSelector=job-name%%3D%s", sel);
    r->base.inflight++;
    if (p4_kube_request(stage_of(r)->cfg.kube, "GET", path, NULL, NULL, 0, on_build_pods, r) != 0) {
        r->base.inflight--;
        build_failed(r, NULL);
    }
}

static void on_build_deadline(uv_timer_t *t)
{
    struct run *r = t->data;

    if (r->w == NULL || r->base.step != S_BUILD || r->job_done || r->job_settling)
        return;
    r->base.attempt = r->base.attempts;
    p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_BUILT, "BuildTimedOut",
                      "build Job %s/%s did not finish within spec.image.build.timeout", r->base.ns,
                      r->job);
}

static void building(struct run *r)
{
    uint64_t now = uv_now(stage_of(r)->sr.loop);

    p4_stagerun_gate(&r->base, G_BUILT, "Unknown", "Building", "build Job %s/%s is running", r->base.ns,
                     r->job);
    p4_stagerun_arm(&r->base, r->build_deadline > now ? r->build_deadline - now : 0,
                    on_build_deadline);
    p4_stagerun_notify(&r->base);
    build_check(r); /* it may be in the cache already */
}

static void on_job_existing(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (res->rc != 0) {
        p4_stagerun_fail(&r->base,
                         p4_kube_read_class(res->rc) == P4_FAIL_CLUSTER ? P4_FAIL_CLUSTER
                                                                        : P4_FAIL_TRANSIENT,
                         G_BUILT, "APIUnavailable", &res->err);
    } else if (!p4_owned_by(res->body, r->base.uid)) {
        r->base.no_recheck = true;
        p4_stagerun_failf(
            &r->base, P4_FAIL_CLUSTER, G_BUILT, "BuildJobConflict",
            "a Job %s/%s exists that this Phase4Deployment does not own; phase4-operator "
            "leaves it alone: delete or rename it",
            r->base.ns, r->job);
    } else {
        r->job_created = true;
        building(r);
    }
}

static void create_job(struct run *r, bool dry);

static void job_path(const struct run *r, char *buf, size_t size)
{
    char ens[256], ejob[200];

    if (p4_kube_escape(r->base.ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(r->job, ejob, sizeof(ejob)) != 0)
        ens[0] = ejob[0] = '\0';
    (void)snprintf(buf, size, "/apis/batch/v1/namespaces/%s/jobs/%s", ens, ejob);
}

static void on_job_created(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    char path[1024];

    if (r == NULL)
        return;
    if (res->rc == P4_ERR_EXISTS) { /* ours from before a restart, or someone else's */
        job_path(r, path, sizeof(path));
        r->base.inflight++;
        if (p4_kube_request(stage_of(r)->cfg.kube, "GET", path, NULL, NULL, 0, on_job_existing,
                            r) != 0) {
            r->base.inflight--;
            p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_BUILT, "APIUnavailable",
                              "cannot ask the API server for Job %s/%s", r->base.ns, r->job);
        }
        return;
    }
    if (res->rc == 0) {
        if (r->job_dry_run) {
            r->job_dry_run = false;
            create_job(r, false); /* admission and validation accepted it: create it */
            return;
        }
        r->job_created = true;
        building(r);
        return;
    }
    switch (res->rc) {
    case P4_ERR_INVALID:
    case P4_ERR_BADREQUEST:
        r->base.no_recheck = true;
        p4_stagerun_failf(&r->base, P4_FAIL_CLUSTER, G_BUILT, "BuildJobInvalid",
                          "the API server refused the build Job from spec.image.build.template: %s",
                          res->err.message);
        break;
    case P4_ERR_FORBIDDEN:
        p4_stagerun_fail(&r->base, P4_FAIL_CLUSTER, G_BUILT, "Forbidden", &res->err);
        break;
    default:
        p4_stagerun_fail(&r->base, P4_FAIL_TRANSIENT, G_BUILT, "APIUnavailable", &res->err);
    }
}

static void create_job(struct run *r, bool dry)
{
    cJSON *job = cJSON_CreateObject(), *meta, *labels, *owners, *owner, *spec;
    char gen[32], path[1024], ens[256];
    char *body;
    int rc;

    cJSON_AddStringToObject(job, "apiVersion", "batch/v1");
    cJSON_AddStringToObject(job, "kind", "Job");
    meta = cJSON_AddObjectToObject(job, "metadata");
    cJSON_AddStringToObject(meta, "name", r->job);
    cJSON_AddStringToObject(meta, "namespace", r->base.ns);
    labels = cJSON_AddObjectToObject(meta, "labels");
    cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "phase4-operator");
    cJSON_AddStringToObject(labels, "phase4.io/name", r->base.name);
    (void)snprintf(gen, sizeof(gen), "%" PRId64, r->base.generation);
    cJSON_AddStringToObject(labels, "phase4.io/generation", gen);
    cJSON_AddStringToObject(labels, "phase4.io/purpose", "build");
    owners = cJSON_AddArrayToObject(meta, "ownerReferences");
    owner = cJSON_CreateObject();
    cJSON_AddStringToObject(owner, "apiVersion", "phase4.io/v1alpha1");
    cJSON_AddStringToObject(owner, "kind", "Phase4Deployment");
    cJSON_AddStringToObject(owner, "name", r->base.name);
    cJSON_AddStringToObject(owner, "uid", r->base.uid);
    cJSON_AddBoolToObject(owner, "controller", 1);
    cJSON_AddBoolToObject(owner, "blockOwnerDeletion", 1);
    cJSON_AddItemToArray(owners, owner);
    spec = cJSON_Duplicate(p4_json_get(r->image, "build.template"), 1);
    if (!cJSON_IsObject(spec)) {
        cJSON_Delete(spec);
        spec = cJSON_CreateObject();
    }
    if (p4_json_get(spec, "activeDeadlineSeconds") == NULL) /* the Job ends itself in time */
        cJSON_AddNumberToObject(
            spec, "activeDeadlineSeconds",
            (double)(uint64_t)((p4_duration_ms(p4_json_str(r->image, "build.timeout"), 1800000) +
                                999) /
                               1000));
    cJSON_AddItemToObject(job, "spec", spec);
    body = p4_json_print(job);
    cJSON_Delete(job);
    if (p4_kube_escape(r->base.ns, ens, sizeof(ens)) != 0)
        ens[0] = '\0';
    (void)snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs%s", ens,
                   dry ? "?dryRun=All&fieldManager=phase4-operator"
                       : "?fieldManager=phase4-operator");
    r->base.inflight++;
    r->job_dry_run = dry;
    rc = p4_kube_request(stage_of(r)->cfg.kube, "POST", path, NULL, body, body ? strlen(body) : 0,
                         on_job_created, r);
    free(body);
    if (rc != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_BUILT, "APIUnavailable",
                          "cannot ask the API server to create build Job %s/%s", r->base.ns, r->job);
    }
}

static void build(struct run *r)
{
    if (p4_json_get(r->image, "build") == NULL || r->job_done) {
        p4_stagerun_next(&r->base, S_GATHER);
        return;
    }
    if (r->job_created) { /* a retry after an outage: it is there */
        building(r);
        return;
    }
    p4_stagerun_gate(&r->base, G_BUILT, "Unknown", "Building", "creating build Job %s/%s", r->base.ns,
                     r->job);
    create_job(r, true);
}

/* ---- driving a run ---- */

static void passed(struct run *r)
{
    p4_stagerun_passed(
        &r->base, "ImageReady", "image %s@%s passed every Docker gate",
        p4_json_str(r->image, "repository") ? p4_json_str(r->image, "repository") : "", r->digest);
    /* Nothing runs again for this generation: the spec copy is not needed any more. */
    cJSON_Delete(r->image);
    r->image = NULL;
}

static void run_step(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    switch (r->base.step) {
    case S_BUILD:
        build(r);
        break;
    case S_GATHER:
        gather(r);
        break;
    case S_SECRETS:
        read_secrets(r);
        break;
    case S_CREDENTIALS:
        if (use_secrets(r) == 0)
            p4_stagerun_next(&r->base, S_RESOLVE);
        break;
    case S_RESOLVE:
        resolve(r);
        break;
    case S_SCAN:
        scan(r);
        break;
    case S_SIGN:
        sign(r);
        break;
    case S_DONE:
        passed(r);
        break;
    }
}

/* Begin an attempt: read everything again (a Secret may have been fixed), keep the digest. */
static void begin(struct p4_stagerun *base, bool retry)
{
    struct run *r = (struct run *)base;
    const char *repo = p4_json_str(r->image, "repository");
    const char *tag = p4_json_str(r->image, "tag");
    const char *digest = p4_json_str(r->image, "digest");
    char os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX],
        variant[P4_OCI_PLATFORM_PART_MAX], ref[700];
    bool insecure = false;
    struct work *w;
    const cJSON *it;

    if (retry)
        r->scan_since = 0; /* a new attempt waits for its report anew */
    r->w = w = p4_calloc(1, sizeof(*w));
    p4_regauth_init(&w->auth);
    /* start() checked that the reference parses. */
    (void)snprintf(ref, sizeof(ref), "%s%s%s", repo ? repo : "", digest ? "@" : ":",
                   digest ? digest
                   : tag  ? tag
                          : "latest");
    (void)p4_image_ref_parse(ref, &w->ref, NULL);
    /* Docker Hub's API lives at registry-1.docker.io. */
    (void)snprintf(w->host, sizeof(w->host), "%s",
                   w->ref.registry == NULL                     ? ""
                   : strcmp(w->ref.registry, "docker.io") == 0 ? "registry-1.docker.io"
                                                               : w->ref.registry);
    w->target.host = w->host;
    (void)p4_json_bool(r->image, "insecure", &insecure);
    w->target.insecure_http = insecure;
    cJSON_ArrayForEach(it, p4_json_get(r->image, "pullSecrets")) {
        const char *n = p4_json_str(it, "name");
        if (n && n[0])
            add_wanted(r, n, true);
    }
    cJSON_ArrayForEach(it, p4_json_get(r->image, "platforms")) {
        if (cJSON_IsString(it) &&
            p4_oci_parse_platform(it->valuestring, os, arch, variant, NULL) == 0)
            add_platform(r, os, arch, variant);
    }
    r->base.step = S_BUILD;
    run_step(&r->base);
}

static void end_work(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    free_work(r->w);
    r->w = NULL;
}

static void destroy(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    free(r->image_platforms);
    cJSON_Delete(r->image);
    free(r);
}

/* ---- stage.h operations ---- */

static int start(void *ctx, const char *key, const cJSON *obj, struct p4_error *err)
{
    struct p4_docker_stage *d = ctx;
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    const char *target = p4_json_str(obj, "spec.target.namespace");
    const char *repo = p4_json_str(obj, "spec.image.repository");
    const char *tag = p4_json_str(obj, "spec.image.tag");
    const char *digest = p4_json_str(obj, "spec.image.digest");
    int64_t generation;
    struct p4_image_ref parsed = {0};
    struct run *r;
    char ref[700];

    if (p4_stagerunner_current(&d->sr, key, obj))
        return 0;
    if (ns == NULL || name == NULL || target == NULL || repo == NULL)
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.image.repository and spec.target.namespace are required");
    r = p4_calloc(1, sizeof(*r));
    p4_stagerun_add_for(&d->sr, &r->base, key, obj); /* begins on the next turn */
    generation = r->base.generation;
    r->image = cJSON_Duplicate(p4_json_get(obj, "spec.image"), 1);
    r->want_signature = p4_json_get(r->image, "signature") != NULL;
    if (p4_json_get(r->image, "build") != NULL) {
        /* <name>-build-<generation>, within the 63 characters a Job's name may have. */
        (void)snprintf(r->job, sizeof(r->job), "%.40s-build-%" PRId64, name, generation);
        r->build_deadline = uv_now(d->sr.loop) +
                            p4_duration_ms(p4_json_str(r->image, "build.timeout"), 1800000) + 30000;
    }
    {
        /* This generation's digest from before (an operator restart): check that, not the tag. */
        int64_t observed = -1;
        const char *pinned = p4_json_str(obj, "status.image.digest");
        (void)p4_json_int64(obj, "status.observedGeneration", &observed);
        if (observed == generation && pinned && strncmp(pinned, "sha256:", 7) == 0)
            (void)snprintf(r->digest, sizeof(r->digest), "%s", pinned);
    }

    (void)snprintf(ref, sizeof(ref), "%s%s%s", repo, digest ? "@" : ":",
                   digest ? digest
                   : tag  ? tag
                          : "latest");
    if (p4_image_ref_parse(ref, &parsed, err) != 0) {
        r->base.no_recheck = true; /* only a new generation can fix it */
        p4_stagerun_failf(&r->base, P4_FAIL_CLUSTER, G_BUILT, "InvalidImageReference",
                          "spec.image does not name an image: %s", err->message);
        (void)uv_timer_stop(&r->base.timer); /* no attempt begins */
        p4_error_clear(err);
        return 0;
    }
    p4_image_ref_close(&parsed);
    return 0;
}

static int poll_run(void *ctx, const char *key, const cJSON *obj)
{
    struct p4_docker_stage *d = ctx;
    struct run *r = (struct run *)p4_stagerunner_get(&d->sr, key);

    (void)obj;
    /* A build Job changed (the Jobs informer woke this reconcile); the rest moves on its own. */
    if (r && r->w && r->base.step == S_BUILD && r->job_created && !r->job_done && !r->job_settling)
        build_check(r);
    return 0;
}

static unsigned skipped_gates(const struct p4_stagerun *base)
{
    const struct run *r = (const struct run *)base;

    return r->want_signature ? 0u : 1u << G_SIGNED;
}

/* status.image: the digest and the platforms checked. */
static cJSON *status_of(const struct p4_stagerun *base)
{
    const struct run *r = (const struct run *)base;
    const char *p = r->image_platforms ? r->image_platforms : "";
    cJSON *st, *img, *plats;

    if (r->digest[0] == '\0')
        return NULL;
    st = cJSON_CreateObject();
    img = cJSON_AddObjectToObject(st, "image");
    cJSON_AddStringToObject(img, "digest", r->digest);
    plats = cJSON_AddArrayToObject(img, "platforms");
    while (*p) {
        size_t n = strcspn(p, ",");
        char one[128];
        (void)snprintf(one, sizeof(one), "%.*s", (int)n, p);
        if (one[0])
            cJSON_AddItemToArray(plats, cJSON_CreateString(one));
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return st;
}

static void metrics(void *ctx, struct p4_buf *out)
{
    const struct p4_docker_stage *d = ctx;

    p4_stagerunner_metrics(&d->sr, "checks", out);
}

static const struct p4_stagerun_ops run_ops = {
    .begin = begin, .step = run_step, .end_work = end_work, .destroy = destroy, .skipped_gates = skipped_gates, .status = status_of};

const struct p4_stage_ops p4_docker_stage_ops = {
    .name = "Docker",
    .condition = "DockerReady",
    .start = start,
    .poll = poll_run,
    .result = p4_stagerunner_result_op,
    .forget = p4_stagerunner_forget_op,
    .metrics = metrics,
};

struct p4_docker_stage *p4_docker_stage_new(uv_loop_t *loop,
                                            const struct p4_docker_stage_config *cfg)
{
    struct p4_docker_stage *d = p4_calloc(1, sizeof(*d));

    d->cfg = *cfg;
    if (d->cfg.scan_poll_ms == 0)
        d->cfg.scan_poll_ms = 15000;
    d->sr = (struct p4_stagerunner){.loop = loop,
                                    .ops = &run_ops,
                                    .stage = "Docker",
                                    .gate_names = gate_names,
                                    .ngates = G_COUNT,
                                    .retry_ms = cfg->retry_ms,
                                    .recheck_ms = cfg->recheck_ms,
                                    .transient_max_ms = cfg->transient_max_ms,
                                    .max_active = cfg->max_active,
                                    .changed = cfg->changed,
                                    .data = cfg->data};
    p4_stagerunner_init(&d->sr);
    return d;
}

void p4_docker_stage_free(struct p4_docker_stage *d)
{
    if (d == NULL)
        return;
    p4_stagerunner_close(&d->sr);
    free(d->node_platforms);
    free(d);
}
