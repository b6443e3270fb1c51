/*
 * healthpod.h: the health of a Pod (internal to stages/kubernetes/; p4_health_eval() in health.h
 * calls it after the rules of every kind).
 *
 * Rules, in order: phase Succeeded: CURRENT. Failed: FAILED permanent "PodFailed" (kstatus says
 * Current). Phase Unknown (its node is lost): UNKNOWN "PodUnknown". Running and Ready=True:
 * CURRENT. Then the first init or app container waiting in CrashLoopBackOff (permanent from
 * P4_HEALTH_CRASHLOOP_RESTARTS restarts), ImagePullBackOff (permanent), ErrImagePull,
 * ErrImageNeverPull or InvalidImageName (permanent), CreateContainerConfigError,
 * CreateContainerError or RunContainerError: FAILED with that reason (kstatus reads only
 * CrashLoopBackOff). PodScheduled=False reason Unschedulable: FAILED permanent "Unschedulable"
 * with the scheduler's message, or IN_PROGRESS "Pending" while status.nominatedNodeName shows a
 * preemption under way (kstatus first waits 15 s from creation; a pure function has no clock, so
 * a caller wanting that grace applies it). Otherwise IN_PROGRESS "PodNotReady" (Running) or
 * "Pending".
 *
 * A FAILED container names the container, its image (its status's, else its spec's) or its
 * last exit code, and the kubelet's message; a Failed pod its own reason and message, else the
 * first container that exited non-zero.
 */
#ifndef PHASE4_HEALTHPOD_H
#define PHASE4_HEALTHPOD_H

#include "healtheval.h"

/* Write the health of the Pod e->obj into e. */
void p4_healthpod_eval(struct p4_healtheval *e);

#endif
