/*
 * pin.h: the image the Docker stage checked, written into what the chart rendered; internal
 * to stages/helm (render.c runs it between `helm template` and the dry run).
 *
 * Charts build their image from values of their own (image.registry + image.repository +
 * image.tag with the appVersion as default tag, controller.image.*, global.image.*), so the
 * values the stage sets are a hint, not a pin. The pin is a rewrite, as kustomize's images:
 * and Flux's post-renderer image override are: every container, initContainer and
 * ephemeralContainer of every pod template (kube/podspec.h) whose image names the pinned
 * repository, compared after normalising both as the container runtime does (imageref.h: docker.io
 * and library/ defaults, a port in the host), becomes "<repository>@<digest>", whatever tag or
 * digest the chart wrote. The other images are reported, first seen first, so the gate's
 * message can name what the chart runs.
 *
 * Ownership: objects are changed in place; a report owns its strings
 * (p4_pin_report_close frees them).
 */
#ifndef PHASE4_HELM_PIN_H
#define PHASE4_HELM_PIN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "phase4/core/error.h"

#define P4_PIN_IMAGES_MAX 32 /* distinct images a report keeps; more are only counted */

/* One distinct image the chart wrote. */
struct p4_pin_image {
    char *image;  /* as the chart wrote it */
    char *where;  /* where it was first seen: "Deployment web, container app" */
    int count;    /* containers that run it */
    bool pinned;  /* it names the pinned repository (and now runs its digest) */
    bool invalid; /* it is no image reference the runtime would accept */
};

struct p4_pin_report {
    int containers; /* in all pod templates */
    int pinned;     /* of them, now running <repository>@<digest> */
    int rewritten;  /* of those, the ones the chart wrote otherwise */
    struct p4_pin_image images[P4_PIN_IMAGES_MAX];
    size_t nimages;
    int more; /* containers whose image was not kept (past P4_PIN_IMAGES_MAX distinct ones) */
};

/*
 * Rewrite every container of objects (an array of rendered objects) whose image names
 * repository to "<repository>@<digest>", and report what the chart runs in *rep (overwritten).
 * Returns 0, or P4_ERR_INVAL when repository or digest is not valid (*rep then empty).
 */
int p4_pin_rewrite(cJSON *objects, const char *repository, const char *digest,
                   struct p4_pin_report *rep, struct p4_error *err);

/* Does image name repository (both normalised as the runtime does)? false when either is bad. */
bool p4_pin_same_repository(const char *image, const char *repository);

/*
 * The ImagePinned gate's message for rep in buf (size bytes, always terminated): what runs the
 * pinned image and what was rewritten when rep->pinned > 0; otherwise which images the chart
 * runs and which values would set them. Returns whether the gate passes (rep->pinned > 0).
 */
bool p4_pin_message(const struct p4_pin_report *rep, const char *repository, const char *digest,
                    char *buf, size_t size);

void p4_pin_report_close(struct p4_pin_report *rep);

#endif
