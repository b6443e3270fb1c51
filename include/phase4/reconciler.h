/*
 * reconciler.h: the Phase4Deployment state machine (layer 3).
 *
 * For each resource it writes status (observedGeneration, stage, the
 * Ready / Reconciling / Stalled conditions and one condition per stage)
 * and Events, only when they change, and drives the stages of stage.h in
 * order. Today the Docker stage is the first and only one started; the
 * stage modules fill in the gates.
 */
#ifndef PHASE4_RECONCILER_H
#define PHASE4_RECONCILER_H

#include "phase4/controller.h"
#include "phase4/events.h"
#include "phase4/informer.h"
#include "phase4/kube.h"

#define P4_API_GROUP "phase4.io"
#define P4_API_VERSION "v1alpha1"
#define P4_RESOURCE "phase4deployments"
#define P4_COLLECTION_PATH "/apis/" P4_API_GROUP "/" P4_API_VERSION "/" P4_RESOURCE

struct p4_reconciler {
    struct p4_kube *kube;           /* borrowed */
    struct p4_informer *resources;  /* borrowed: the Phase4Deployment cache */
    struct p4_events *events;       /* borrowed */
    uint64_t status_writes;
};

/* A p4_reconcile_fn; data is the struct p4_reconciler. */
void p4_reconcile(struct p4_controller *c, const char *key, void *data);

/*
 * Compute the status the resource should have (pure; for tests). obj is
 * borrowed; now is an RFC 3339 time for new transitions. Returns a new
 * status object the caller frees.
 */
cJSON *p4_reconciler_desired_status(const cJSON *obj, const char *now);

#endif
