/*
 * registry.h: an OCI Distribution API client on the loop (Docker stage backend).
 *
 * It asks a registry for manifests and blobs as a kubelet would: anonymous
 * first, then, on 401, with the challenge's scheme: Basic with the pull
 * secret's user and password, or Bearer with a token fetched from the
 * challenge's realm (with those credentials, if any) and cached per registry,
 * scope and identity (the credentials used) until it expires. Plain HTTP only
 * for registries the caller marks insecure; TLS verified against the system
 * store or a given CA.
 * Credentials go over TLS only, or over plain HTTP to a registry the caller
 * marks insecure (core/url.h): a token realm that is plain HTTP for a
 * registry not so marked gets none (P4_ERR_INSECURE). Redirects (a blob
 * served from object storage) are followed without the Authorization header
 * to another origin, and a challenge after a redirect is not answered.
 * Credentials are never logged or put in a message.
 */
#ifndef PHASE4_REGISTRY_H
#define PHASE4_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "phase4/core/error.h"
#include "phase4/oci/regauth.h"

struct p4_registry;

/* Where and how to talk to one registry; every pointer borrowed for the call. */
struct p4_registry_target {
    const char *host;            /* "registry.example.com:5000" */
    int insecure_http;           /* plain HTTP: only when explicitly listed */
    const unsigned char *ca_pem; /* extra CA bundle, or NULL for the system store */
    size_t ca_len;
    const struct p4_regauth_entry *cred; /* pull-secret credentials, or NULL: anonymous */
};

struct p4_registry_answer {
    int rc;                 /* 0, or P4_ERR_NOTFOUND (manifest or blob unknown),
                               P4_ERR_UNAUTHORIZED / P4_ERR_FORBIDDEN, P4_ERR_TLS,
                               P4_ERR_TRANSPORT, P4_ERR_TIMEOUT, P4_ERR_UNAVAILABLE (5xx, 429),
                               P4_ERR_INVALID (a body that does not match its digest),
                               P4_ERR_INSECURE (credentials would go over plain HTTP) */
    struct p4_error err;    /* one sentence naming the registry and what to do */
    long status;            /* HTTP status of the last answer */
    const char *digest;     /* manifests and fetched blobs: the verified digest of body */
    const char *media_type; /* manifests: Content-Type */
    const char *body;       /* manifests and fetched blobs: the bytes; NULL for HEAD */
    size_t len;
    uint64_t retry_after_ms; /* 429/5xx: the registry's Retry-After (seconds form), else 0 */
};
/* a and everything in it are valid during the call only. */
typedef void (*p4_registry_cb)(const struct p4_registry_answer *a, void *data);

struct p4_registry *p4_registry_new(uv_loop_t *loop);
/* Cancel what is in flight (callbacks get P4_ERR_CANCELED) and free once closed. */
void p4_registry_close(struct p4_registry *r);

/* GET /v2/<repository>/manifests/<reference> (a tag or a digest); the body is digest-checked. */
int p4_registry_manifest(struct p4_registry *r, const struct p4_registry_target *t,
                         const char *repository, const char *reference, p4_registry_cb cb,
                         void *data);
/* Largest blob p4_registry_blob_get() reads (image configs, scan reports, signatures). */
#define P4_REGISTRY_BLOB_MAX ((size_t)16 * 1024 * 1024)

/*
 * GET /v2/<repository>/referrers/<digest> (OCI 1.1): an image index of the
 * artifacts whose subject is digest. Registries without the API answer
 * P4_ERR_NOTFOUND; then use the "sha256-<hex>" tag schema with p4_registry_manifest.
 */
int p4_registry_referrers(struct p4_registry *r, const struct p4_registry_target *t,
                          const char *repository, const char *digest, p4_registry_cb cb,
                          void *data);
/*
 * GET /v2/<repository>/tags/list (the first 1000 tags): the body is the
 * registry's JSON {"name": ..., "tags": [...]}; digest is NULL.
 */
int p4_registry_tags(struct p4_registry *r, const struct p4_registry_target *t,
                     const char *repository, p4_registry_cb cb, void *data);
/* GET /v2/<repository>/blobs/<digest> (small blobs: image configs); the body is digest-checked. */
int p4_registry_blob_get(struct p4_registry *r, const struct p4_registry_target *t,
                         const char *repository, const char *digest, p4_registry_cb cb, void *data);
/* HEAD /v2/<repository>/blobs/<digest>: rc 0 when the registry serves it. */
int p4_registry_blob(struct p4_registry *r, const struct p4_registry_target *t,
                     const char *repository, const char *digest, p4_registry_cb cb, void *data);

#endif
