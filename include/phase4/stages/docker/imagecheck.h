/*
 * imagecheck.h: is an image there, complete, and pullable for a platform?
 * (the Docker stage's "pushed / accessible" and "pullable" gates)
 *
 * Resolves a reference to a digest (GET manifest, digest verified), and for
 * an index picks the platform's manifest; then asks the registry for the
 * config blob and every layer blob (HEAD), as a kubelet's pull would need.
 * It stops at the first failure and says which platform or blob it was.
 */
#ifndef PHASE4_IMAGECHECK_H
#define PHASE4_IMAGECHECK_H

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
