/*
 * stages/docker/stage.h: stage 1, Docker: the image exists (or was built), is
 * complete in its registry, is scanned (and signed, when asked), and is
 * pullable from the cluster, for the resource's current generation.
 *
 * Gates, in status.gates order: Built, Pushed, Scanned, Signed (only with
 * spec.image.signature) and Pullable. With spec.image.build, Built first runs
 * the user's Job template as a Job the resource owns (dry-run first, never
 * touching a Job it does not own), waits for it through the Jobs informer
 * with a deadline, and reports a failure with the last lines of its log.
 *
 * The stage reads what a kubelet would use from the cluster (the target
 * namespace's imagePullSecrets, from the spec and from its "default"
 * ServiceAccount; the Nodes' platforms, listed at most every 30 s for all
 * resources of both stages (nodeplatforms.h); a CA bundle ConfigMap or Secret; the signature's
 * public key Secret), asks the registry through registry.h/imagecheck.h, reads vulnerability
 * reports (Trivy Operator VulnerabilityReports where discovery serves them, one list shared by the
 * runs for a few seconds; or a report attached to the image as an OCI referrer: the referrers API,
 * else the "sha256-<hex>" tag), and verifies cosign signatures. The digest it resolves is pinned:
 * retries of the same generation use it, not the tag, and status.image.digest carries it to the
 * later stages.
 *
 * Work runs on the loop, one step at a time per resource, at most max_active
 * resources at once (the rest wait in line, in order); a registry or API
 * server outage mid-stage is waited out on the step it hit (honouring a
 * registry's Retry-After), keeping what was resolved. Between attempts (and
 * while waiting for a scan report) a resource costs only its result (about
 * 1 KiB). Nothing secret is logged or
 * put in a message. The reconciler drives the stage through
 * p4_docker_stage_ops (stage.h).
 */
#ifndef PHASE4_DOCKERSTAGE_H
#define PHASE4_DOCKERSTAGE_H

#include <stdint.h>
#include <uv.h>

#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"
#include "phase4/oci/registry.h"
#include "phase4/reconciler/nodeplatforms.h"
#include "phase4/reconciler/stage.h"
#include "phase4/reconciler/tenancy.h"
#include "phase4/runtime/informer.h"

struct p4_docker_stage;

struct p4_docker_stage_config {
    struct p4_kube *kube; /* borrowed */
    /* Who acts for each resource (borrowed; NULL: spec.serviceAccountName only). */
    const struct p4_tenancy *tenancy;
    struct p4_registry *registry; /* borrowed */
    struct p4_informer *jobs;     /* borrowed: Jobs labelled app.kubernetes.io/managed-by=
                                     phase4-operator; may be NULL (then no build Job is seen) */
    uint64_t retry_ms;            /* first retry after an artifact failure, doubling; 0: 30 s */
    uint64_t recheck_ms;          /* re-check after a cluster-level failure; 0: 5 min */
    uint64_t transient_max_ms;    /* cap of the backoff for transient errors; 0: 60 s */
    uint64_t scan_poll_ms;        /* how often a missing scan report is looked for; 0: 15 s */
    int max_active;               /* attempts checking at once (the rest wait in line); 0: 64 */
    /* A resource's result changed: reconcile it (key borrowed for the call). */
    void (*changed)(const char *key, void *data);
    void *data;
    /* Borrowed; NULL: VulnerabilityReports are listed without asking whether they are served. */
    struct p4_discovery *discovery;
    /* The Nodes' platforms shared with the other stages (borrowed; NULL: the stage's own). */
    struct p4_node_platforms *nodes;
};

/* cfg is copied. */
struct p4_docker_stage *p4_docker_stage_new(uv_loop_t *loop,
                                            const struct p4_docker_stage_config *cfg);
/* Stop every run; runs with requests in flight are freed when those end. NULL is fine. */
void p4_docker_stage_free(struct p4_docker_stage *d);

/* The stage.h operations; ctx is the struct p4_docker_stage. */
extern const struct p4_stage_ops p4_docker_stage_ops;

#endif
