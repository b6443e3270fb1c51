/*
 * imagecheck.h: is an image there, complete, and pullable for a platform?
 * (the Docker stage's "pushed / accessible" and "pullable" gates, and the
 * Helm stage's ImagesPullable gate for the other images a chart runs)
 *
 * Resolves a reference to a digest (GET manifest, digest verified), and for
 * an index picks the platform's manifest; then asks the registry for the
 * config blob and every layer blob (HEAD), as a kubelet's pull would need.
 * It stops at the first failure and says which platform or blob it was.
 *
 * p4_image_failure_of() says what a failed check (or any registry answer)
 * means, and p4_image_failure_reason() names it, so every stage that checks
 * an image reports the same reason for the same answer; each stage picks its
 * own gate and failure class from it.
 */
#ifndef PHASE4_IMAGECHECK_H
#define PHASE4_IMAGECHECK_H

#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"
#include "phase4/oci/registry.h"

/* Which step a failed check stopped at. */
enum p4_image_problem {
    P4_IMAGE_OK = 0,
    P4_IMAGE_REFERENCE, /* the reference itself: unknown, refused, unreachable, unreadable */
    P4_IMAGE_PLATFORM,  /* the image has no manifest for the platform */
    P4_IMAGE_CONTENT,   /* the platform's manifest, config or a layer is missing or wrong */
};

struct p4_image_check {
    int rc; /* 0 when the image is complete for the platform */
    enum p4_image_problem problem;
    struct p4_error err;
    char digest[80]; /* the reference's digest (of the index, if it is one) */
    char media_type[128];
    char platforms[512]; /* "linux/amd64, linux/arm64" for an index, "" otherwise */
    char manifest[80];   /* the platform's image manifest digest */
    int blobs, blobs_present;
    uint64_t retry_after_ms; /* the registry asked to wait this long (429/503), else 0 */
};

/* What a failed check means: who can fix it and the reason a condition names. */
enum p4_image_failure {
    P4_IMAGE_FAIL_NONE = 0,    /* rc 0 */
    P4_IMAGE_FAIL_AUTH,        /* 401/403: the pull secrets (ImagePullAuthFailed) */
    P4_IMAGE_FAIL_TLS,         /* the registry's certificate or the CA (RegistryTLSError) */
    P4_IMAGE_FAIL_UNAVAILABLE, /* an outage, timeout, 5xx or 429: wait (RegistryUnavailable) */
    P4_IMAGE_FAIL_NOT_FOUND,   /* the registry does not know the reference (ImageNotFound) */
    P4_IMAGE_FAIL_INVALID,     /* the reference's manifest is unreadable (ImageManifestInvalid) */
    P4_IMAGE_FAIL_PLATFORM,    /* no manifest for the platform (PlatformNotSupported) */
    P4_IMAGE_FAIL_INCOMPLETE,  /* a platform manifest, config or layer missing (ImageIncomplete) */
    P4_IMAGE_FAIL_INSECURE,    /* credentials would go over plain HTTP (InsecureCredentials) */
};

/*
 * What registry failure rc means at step problem of a check (P4_IMAGE_REFERENCE for an answer
 * to a request of one's own). Credentials, TLS and outages look the same whatever was asked.
 */
enum p4_image_failure p4_image_failure_of(int rc, enum p4_image_problem problem);
/* Its reason, CamelCase and stable (static); "" for P4_IMAGE_FAIL_NONE. */
const char *p4_image_failure_reason(enum p4_image_failure f);
/* The host the registry API answers on for registry (imageref.h's; Docker Hub's is
   registry-1.docker.io) into buf; "" for NULL. */
void p4_image_registry_host(const char *registry, char *buf, size_t size);

/* The result is borrowed, valid during the call. */
typedef void (*p4_image_check_cb)(const struct p4_image_check *res, void *data);

/*
 * Check repository:reference on target for os/arch (variant may be NULL or "").
 * r and target are borrowed (target until cb). Returns 0 or P4_ERR_INVAL; cb
 * runs once, later.
 */
int p4_image_check(struct p4_registry *r, const struct p4_registry_target *target,
                   const char *repository, const char *reference, const char *os, const char *arch,
                   const char *variant, p4_image_check_cb cb, void *data);

#endif
