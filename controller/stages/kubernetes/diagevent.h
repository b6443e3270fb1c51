/*
 * diagevent.h: a failure read from one Event (internal to stages/kubernetes/; the diagnosis, its
 * classes and reasons are diagnose.h's).
 *
 * Events of both APIs: core/v1 (reason, message, involvedObject, type, count, lastTimestamp) and
 * events.k8s.io/v1 (reason, note, regarding, type, series.count, eventTime). Recognized, from
 * Warning Events only:
 * - Failed 'Failed to pull image "i": ...' or "Error: ErrImagePull|ImagePullBackOff|
 *   InvalidImageName|ErrImageNeverPull"; InspectFailed 'Failed to apply default image tag ...';
 *   ErrImageNeverPull; BackOff 'Back-off pulling image "i"': the image (diagimage.h).
 * - BackOff "Back-off restarting failed container c in pod ...": CrashLoopBackOff (ARTIFACT).
 * - FailedScheduling "0/3 nodes are available: ...": Unschedulable (diagsched.h).
 * - FailedCreate or ReplicaSetCreateError with a quota, webhook, policy, PodSecurity or RBAC
 *   refusal (diagrefusal.h).
 * - ProgressDeadlineExceeded (ARTIFACT).
 * - Evicted "The node was low on resource: ..." and EvictionThresholdMet: NodePressure.
 * and NodeHasDiskPressure, NodeHasInsufficientMemory, NodeHasInsufficientPID: NodePressure
 * (CLUSTER), which the kubelet reports as Normal Events.
 */
#ifndef PHASE4_DIAGEVENT_H
#define PHASE4_DIAGEVENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "diagnose.h"

/* An Event of either API, read: strings borrowed from it, NULL when absent (message: ""). */
struct p4_diagevent {
    const char *type, *reason, *message;
    const char *kind, *ns, *name, *field_path; /* the object it is about */
};

/*
 * Read ev into *e. False when ev is not an Event: not an object, no string reason, no
 * involvedObject or regarding object, or a kind other than "Event".
 */
bool p4_diagevent_read(const cJSON *ev, struct p4_diagevent *e);

/*
 * Diagnose one Event. Returns 1 with *out filled when it shows one of the failures above, 0 when
 * it does not (a Normal Event, another Warning), or P4_ERR_INVAL when out is NULL or event is
 * not an Event (as p4_diagevent_read()). *out (when not NULL) is cleared to an empty reason and
 * message and P4_FAIL_NONE unless 1 is returned.
 */
int p4_diagnose_event(const cJSON *event, struct p4_diagnosis *out);

#endif
