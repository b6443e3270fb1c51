/*
 * diagobject.h: a failure read from one object's own status (internal to stages/kubernetes/; the
 * diagnosis, its classes and reasons are diagnose.h's).
 *
 * Recognized, in built-in kinds only (a custom resource called Pod is not one):
 * - Pod: evicted for node pressure (phase Failed, reason Evicted, "low on resource"):
 *   NodePressure. A container (init containers first) waiting in ImagePullBackOff, ErrImagePull,
 *   InvalidImageName or ErrImageNeverPull (diagimage.h), or in CrashLoopBackOff: CrashLoopBackOff
 *   (ARTIFACT) with lastState.terminated's exit code, reason and message, which holds the last log
 *   lines under terminationMessagePolicy FallbackToLogsOnError. PodScheduled=False Unschedulable
 *   (diagsched.h).
 * - Deployment and ReplicaSet: ReplicaFailure=True quoting a refusal (diagrefusal.h).
 * - Deployment: Progressing=False with reason ProgressDeadlineExceeded (ARTIFACT).
 */
#ifndef PHASE4_DIAGOBJECT_H
#define PHASE4_DIAGOBJECT_H

#include <cjson/cJSON.h>

#include "diagnose.h"

/*
 * Diagnose one object (a Pod, Deployment or ReplicaSet as the API server returns it) from its
 * own status. Returns 1 with *out filled, 0 when its status shows none of the failures above (or
 * its kind has none), or P4_ERR_INVAL when out is NULL or obj is not an object with a string kind
 * and metadata.name. *out (when not NULL) is cleared to an empty reason and message and
 * P4_FAIL_NONE unless 1 is returned.
 */
int p4_diagnose_object(const cJSON *obj, struct p4_diagnosis *out);

#endif
