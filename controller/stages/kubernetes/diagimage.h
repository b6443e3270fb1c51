/*
 * diagimage.h: an image that cannot be pulled, and who must act on it (internal to
 * stages/kubernetes/; the diagnosis is diagnose.h's).
 *
 * An Event (diagevent.h) and a Pod's container status (diagobject.h) both report it; this module
 * writes the one diagnosis for it. Reasons: ImagePullBackOff (an image that does not exist or
 * cannot be fetched), InvalidImageName, ErrImageNeverPull. The class follows the runtime's error:
 *   P4_FAIL_CLUSTER: the node does not trust the registry's certificate ("x509:", "certificate
 *     signed by unknown authority"), or the registry wants credentials ("401 Unauthorized",
 *     "403 Forbidden", "no basic auth credentials", ...).
 *   P4_FAIL_TRANSIENT: the registry did not answer or throttled the pull ("i/o timeout",
 *     "connection refused", "toomanyrequests", "503 Service Unavailable", ...).
 *   P4_FAIL_ARTIFACT: anything else (the image or tag does not exist, no variant for the node's
 *     platform), and an invalid reference or imagePullPolicy Never.
 * The message quotes the image and the registry's own words: what follows the last quoted
 * reference of the runtime's error (objtext.h's p4_objtext_last_cause), its end kept when cut.
 *
 * Arguments: who_ names the object (p4_diagnose_who); container is "container web", "init
 * container setup" or "" when unknown; image is n bytes (n 0 when unknown); all borrowed for the
 * call. Each function returns 1 (found).
 */
#ifndef PHASE4_DIAGIMAGE_H
#define PHASE4_DIAGIMAGE_H

#include <stddef.h>

#include "diagnose.h"

/* An image that cannot be pulled: err is the runtime's error (NULL: unknown), state what the
 * kubelet calls it ("ErrImagePull", "ImagePullBackOff"). */
int p4_diagimage_pull(struct p4_diagnosis *out, const char *who_, const char *container,
                      const char *image, size_t n, const char *err, const char *state);

/* InvalidImageName: an image reference that is not valid. */
int p4_diagimage_invalid(struct p4_diagnosis *out, const char *who_, const char *container,
                         const char *image, size_t n);

/* ErrImageNeverPull: imagePullPolicy Never, and the image is not on the node. */
int p4_diagimage_never_pull(struct p4_diagnosis *out, const char *who_, const char *container,
                            const char *image, size_t n);

#endif
