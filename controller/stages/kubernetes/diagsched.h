/*
 * diagsched.h: a pod that cannot be scheduled, from the scheduler's message (internal to
 * stages/kubernetes/; the diagnosis is diagnose.h's).
 *
 * A FailedScheduling Event (diagevent.h) and a Pod's PodScheduled=False Unschedulable condition
 * (diagobject.h) both carry kube-scheduler's message: "0/3 nodes are available: 1 node(s) had
 * untolerated taint {k: v}, 2 Insufficient cpu. preemption: ...". Each "<count> <why>" item is
 * read for what a person or the chart must change: resources the nodes lack (Insufficient cpu,
 * Too many pods), taints (those of control-plane nodes say nothing about the workload), a
 * nodeSelector or node affinity no node matches, an unbound PersistentVolumeClaim, or no nodes
 * at all. Reason Unschedulable; P4_FAIL_ARTIFACT when only the selector is at fault (the chart
 * must change), else P4_FAIL_CLUSTER.
 */
#ifndef PHASE4_DIAGSCHED_H
#define PHASE4_DIAGSCHED_H

#include "diagnose.h"

/*
 * Diagnose the scheduler's message msg (borrowed, not NULL) about who_ (p4_diagnose_who).
 * Returns 1 (found).
 */
int p4_diagsched_unschedulable(struct p4_diagnosis *out, const char *who_, const char *msg);

#endif
