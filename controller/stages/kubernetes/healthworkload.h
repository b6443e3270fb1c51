/*
 * healthworkload.h: the health of a Deployment, StatefulSet, DaemonSet or ReplicaSet (internal to
 * stages/kubernetes/; p4_health_eval() in health.h calls these after the rules of every kind).
 *
 * Rules, in order, the first that applies decides:
 * - Deployment: Progressing with reason ProgressDeadlineExceeded: FAILED permanent.
 *   ReplicaFailure=True: FAILED "ReplicaFailure", e.g. a quota (not kstatus). spec.replicas
 *   (default 1) against status.replicas, updatedReplicas, availableReplicas, readyReplicas:
 *   IN_PROGRESS "RolloutInProgress" ("RolloutPaused" under spec.paused, not kstatus). Then
 *   Progressing not True/NewReplicaSetAvailable (when progressDeadlineSeconds is set and not the
 *   int32 maximum, which means none) or Available not True: IN_PROGRESS "NotAvailable".
 * - StatefulSet: status.replicas or readyReplicas short of spec.replicas, or extra replicas:
 *   IN_PROGRESS "RolloutInProgress". Then updateStrategy OnDelete: CURRENT (kstatus says so
 *   before counting readiness). With a partition (apps/v1 defaults it to 0): CURRENT once
 *   updatedReplicas >= replicas - partition. Without one: currentReplicas short or
 *   currentRevision != updateRevision: IN_PROGRESS.
 * - DaemonSet: metadata.generation and status.observedGeneration must be set; then
 *   desiredNumberScheduled against currentNumberScheduled, updatedNumberScheduled (not under
 *   OnDelete, not kstatus), numberAvailable and numberReady: IN_PROGRESS "RolloutInProgress".
 * - ReplicaSet: ReplicaFailure=True: FAILED "ReplicaFailure" (kstatus says InProgress);
 *   fullyLabeledReplicas, availableReplicas, readyReplicas, extra replicas against spec.replicas.
 *
 * Each writes one result into e (healtheval.h), UNKNOWN "MalformedObject" when a count or a
 * condition it needs has the wrong type.
 */
#ifndef PHASE4_HEALTHWORKLOAD_H
#define PHASE4_HEALTHWORKLOAD_H

#include "healtheval.h"

void p4_healthworkload_deployment(struct p4_healtheval *e);
void p4_healthworkload_statefulset(struct p4_healtheval *e);
void p4_healthworkload_daemonset(struct p4_healtheval *e);
void p4_healthworkload_replicaset(struct p4_healtheval *e);

#endif
