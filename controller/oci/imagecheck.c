/* imagecheck.c: resolve an image and check its blobs for a platform (see imagecheck.h). */
#include "phase4/oci/imagecheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/oci/ocimanifest.h"

struct check {
    struct p4_registry *reg;
    const struct p4_registry_target *target;
    char *repo, *os, *arch, *variant;
    struct p4_oci_manifest *image; /* the platform's image manifest */
    size_t next_blob;              /* 0: config, then layers */
    struct p4_image_check res;
    p4_image_check_cb cb;
    void *data;
};

static void done(struct check *c)
{
    c->cb(&c->res, c->data);
    p4_oci_manifest_free(c->image);
    free(c->repo);
    free(c->os);
    free(c->arch);
    free(c->variant);
    free(c);
}

static void fail(struct check *c, int rc, enum p4_image_problem problem, const struct p4_error *err)
{
    c->res.rc = rc;
    c->res.problem = problem;
    if (err)
        c->res.err = *err;
    done(c);
}

static void next_blob(struct check *c);

static void on_blob(const struct p4_registry_answer *a, void *data)
{
    struct check *c = data;
    const struct p4_oci_descriptor *d =
        c->next_blob == 0 ? &c->image->config : &c->image->layers[c->next_blob - 1];
    struct p4_error err;

    if (a->rc != 0) {
        c->res.retry_after_ms = a->retry_after_ms;
        if (a->rc == P4_ERR_NOTFOUND)
            p4_error_set(
                &err, P4_ERR_NOTFOUND,
                "image %s@%s is incomplete: %s %s is missing from %s; push the image again",
                c->repo, c->res.manifest, c->next_blob == 0 ? "the config blob" : "layer",
                d->digest, c->target->host);
        else
            err = a->err;
        fail(c, a->rc, P4_IMAGE_CONTENT, &err);
        return;
    }
    c->res.blobs_present++;
    c->next_blob++;
    next_blob(c);
}

static void next_blob(struct check *c)
{
    const struct p4_oci_descriptor *d;
    struct p4_error err;
    int rc;

    if (c->next_blob > c->image->layers_len) {
        done(c); /* every blob answered */
        return;
    }
    d = c->next_blob == 0 ? &c->image->config : &c->image->layers[c->next_blob - 1];
    rc = p4_registry_blob(c->reg, c->target, c->repo, d->digest, on_blob, c);
    if (rc != 0) {
        p4_error_set(&err, rc, "cannot ask registry %s for blob %s", c->target->host, d->digest);
        fail(c, rc, P4_IMAGE_CONTENT, &err);
    }
}

static void on_image(const struct p4_registry_answer *a, void *data);
static void use_image(struct check *c, struct p4_oci_manifest *m);

/* A single-platform image: compare its config's os/architecture with the wanted platform. */
static void on_config(const struct p4_registry_answer *a, void *data)
{
    struct check *c = data;
    struct p4_oci_manifest *m = c->image;
    struct p4_error err;
    cJSON *cfg;
    const char *os, *arch;

    if (a->rc != 0) {
        c->res.retry_after_ms = a->retry_after_ms;
        if (a->rc == P4_ERR_NOTFOUND)
            p4_error_set(&err, P4_ERR_NOTFOUND,
                         "image %s@%s is incomplete: the config blob %s is missing from %s; push "
                         "the image again",
                         c->repo, c->res.manifest, m->config.digest, c->target->host);
        else
            err = a->err;
        fail(c, a->rc, P4_IMAGE_CONTENT, &err);
        return;
    }
    cfg = p4_json_parse(a->body, a->len, &err);
    os = cfg ? p4_json_str(cfg, "os") : NULL;
    arch = cfg ? p4_json_str(cfg, "architecture") : NULL;
    (void)snprintf(c->res.platforms, sizeof(c->res.platforms), "%s/%s", os ? os : "?",
                   arch ? arch : "?");
    if (os == NULL || arch == NULL || strcmp(os, c->os) != 0 || strcmp(arch, c->arch) != 0) {
        p4_error_set(&err, P4_ERR_NOTFOUND,
                     "image %s@%s is built for %s only, not for platform %s/%s that the nodes run",
                     c->repo, c->res.digest, c->res.platforms, c->os, c->arch);
        cJSON_Delete(cfg);
        fail(c, P4_ERR_NOTFOUND, P4_IMAGE_PLATFORM, &err);
        return;
    }
    cJSON_Delete(cfg);
    c->image = NULL;
    use_image(c, m);
}

static void use_image(struct check *c, struct p4_oci_manifest *m)
{
    c->image = m;
    c->res.blobs = (int)m->layers_len + 1;
    c->next_blob = 0;
    next_blob(c);
}

static void on_platform_manifest(const struct p4_registry_answer *a, void *data)
{
    struct check *c = data;
    struct p4_oci_manifest *m = NULL;
    struct p4_error err;

    if (a->rc != 0) {
        c->res.retry_after_ms = a->retry_after_ms;
        fail(c, a->rc, P4_IMAGE_CONTENT, &a->err);
        return;
    }
    if (p4_oci_manifest_parse(a->body, a->len, a->media_type, &m, &err) != 0) {
        fail(c, err.code, P4_IMAGE_CONTENT, &err);
        return;
    }
    if (m->kind != P4_OCI_IMAGE) {
        p4_error_set(&err, P4_ERR_INVALID, "the %s/%s entry of %s@%s is not an image manifest",
                     c->os, c->arch, c->repo, c->res.digest);
        p4_oci_manifest_free(m);
        fail(c, P4_ERR_INVALID, P4_IMAGE_CONTENT, &err);
        return;
    }
    use_image(c, m);
}

static void on_image(const struct p4_registry_answer *a, void *data)
{
    struct check *c = data;
    struct p4_oci_manifest *m = NULL;
    const struct p4_oci_index_entry *e;
    struct p4_error err;
    size_t used = 0;

    if (a->rc != 0) {
        c->res.retry_after_ms = a->retry_after_ms;
        fail(c, a->rc, P4_IMAGE_REFERENCE, &a->err);
        return;
    }
    (void)snprintf(c->res.digest, sizeof(c->res.digest), "%s", a->digest);
    (void)snprintf(c->res.media_type, sizeof(c->res.media_type), "%s",
                   a->media_type ? a->media_type : "");
    if (p4_oci_manifest_parse(a->body, a->len, a->media_type, &m, &err) != 0) {
        fail(c, err.code, P4_IMAGE_REFERENCE, &err);
        return;
    }
    if (m->kind == P4_OCI_IMAGE) {
        /* One platform only: its config says which; a node of another cannot run it. */
        (void)snprintf(c->res.manifest, sizeof(c->res.manifest), "%s", a->digest);
        c->image = m;
        if (p4_registry_blob_get(c->reg, c->target, c->repo, m->config.digest, on_config, c) != 0) {
            p4_error_set(&err, P4_ERR_INTERNAL, "cannot ask registry %s for %s", c->target->host,
                         m->config.digest);
            fail(c, P4_ERR_INTERNAL, P4_IMAGE_CONTENT, &err);
        }
        return;
    }
    for (size_t i = 0; i < m->entries_len; i++) {
        const struct p4_oci_index_entry *en = &m->entries[i];
        int n;
        if (!en->has_platform || en->is_attestation)
            continue;
        n = snprintf(c->res.platforms + used, sizeof(c->res.platforms) - used, "%s%s/%s%s%s",
                     used ? ", " : "", en->platform.os, en->platform.architecture,
                     en->platform.variant ? "/" : "",
                     en->platform.variant ? en->platform.variant : "");
        if (n < 0 || (size_t)n >= sizeof(c->res.platforms) - used)
            break;
        used += (size_t)n;
    }
    e = p4_oci_index_find(m, c->os, c->arch, c->variant);
    if (e == NULL) {
        p4_error_set(&err, P4_ERR_NOTFOUND,
                     "image %s@%s has no manifest for platform %s/%s%s%s (it has: %s)", c->repo,
                     c->res.digest, c->os, c->arch, c->variant[0] ? "/" : "", c->variant,
                     c->res.platforms[0] ? c->res.platforms : "none");
        p4_oci_manifest_free(m);
        fail(c, P4_ERR_NOTFOUND, P4_IMAGE_PLATFORM, &err);
        return;
    }
    (void)snprintf(c->res.manifest, sizeof(c->res.manifest), "%s", e->desc.digest);
    p4_oci_manifest_free(m);
    if (p4_registry_manifest(c->reg, c->target, c->repo, c->res.manifest, on_platform_manifest,
                             c) != 0) {
        p4_error_set(&err, P4_ERR_INTERNAL, "cannot ask registry %s for %s", c->target->host,
                     c->res.manifest);
        fail(c, P4_ERR_INTERNAL, P4_IMAGE_CONTENT, &err);
    }
}

int p4_image_check(struct p4_registry *r, const struct p4_registry_target *target,
                   const char *repository, const char *reference, const char *os, const char *arch,
                   const char *variant, p4_image_check_cb cb, void *data)
{
    struct check *c;
    int rc;

    if (r == NULL || target == NULL || repository == NULL || reference == NULL || os == NULL ||
        arch == NULL || cb == NULL)
        return P4_ERR_INVAL;
    c = p4_calloc(1, sizeof(*c));
    c->reg = r;
    c->target = target;
    c->repo = p4_strdup(repository);
    c->os = p4_strdup(os);
    c->arch = p4_strdup(arch);
    c->variant = p4_strdup(variant ? variant : "");
    c->cb = cb;
    c->data = data;
    rc = p4_registry_manifest(r, target, repository, reference, on_image, c);
    if (rc != 0) {
        free(c->repo);
        free(c->os);
        free(c->arch);
        free(c->variant);
        free(c);
    }
    return rc;
}

enum p4_image_failure p4_image_failure_of(int rc, enum p4_image_problem problem)
{
    switch (rc) {
    case 0:
        return P4_IMAGE_FAIL_NONE;
    case P4_ERR_UNAUTHORIZED:
    case P4_ERR_FORBIDDEN:
        return P4_IMAGE_FAIL_AUTH;
    case P4_ERR_TLS:
        return P4_IMAGE_FAIL_TLS;
    case P4_ERR_INSECURE:
        return P4_IMAGE_FAIL_INSECURE;
    case P4_ERR_UNAVAILABLE:
    case P4_ERR_TRANSPORT:
    case P4_ERR_TIMEOUT:
    case P4_ERR_TOOMANY:
    case P4_ERR_CANCELED:
    case P4_ERR_INTERNAL:
        return P4_IMAGE_FAIL_UNAVAILABLE;
    default:
        break;
    }
    switch (problem) {
    case P4_IMAGE_PLATFORM:
        return P4_IMAGE_FAIL_PLATFORM;
    case P4_IMAGE_CONTENT:
        return P4_IMAGE_FAIL_INCOMPLETE;
    default:
        return rc == P4_ERR_NOTFOUND ? P4_IMAGE_FAIL_NOT_FOUND : P4_IMAGE_FAIL_INVALID;
    }
}

const char *p4_image_failure_reason(enum p4_image_failure f)
{
    switch (f) {
    case P4_IMAGE_FAIL_AUTH:
        return "ImagePullAuthFailed";
    case P4_IMAGE_FAIL_TLS:
        return "RegistryTLSError";
    case P4_IMAGE_FAIL_UNAVAILABLE:
        return "RegistryUnavailable";
    case P4_IMAGE_FAIL_NOT_FOUND:
        return "ImageNotFound";
    case P4_IMAGE_FAIL_INVALID:
        return "ImageManifestInvalid";
    case P4_IMAGE_FAIL_PLATFORM:
        return "PlatformNotSupported";
    case P4_IMAGE_FAIL_INCOMPLETE:
        return "ImageIncomplete";
    case P4_IMAGE_FAIL_INSECURE:
        return "InsecureCredentials";
    default:
        return "";
    }
}

void p4_image_registry_host(const char *registry, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s",
                   registry == NULL                     ? ""
                   : strcmp(registry, "docker.io") == 0 ? "registry-1.docker.io"
                                                        : registry);
}
