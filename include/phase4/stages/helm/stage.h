/*
 * stages/helm/stage.h: stage 2, Helm: the chart is packaged and accessible, lints,
 * its values are valid, every image it runs is pinned or checked pullable, and a
 * server-side dry run of what it renders succeeds, for the resource's current
 * generation.
 *
 * Gates, in status.gates order: Packaged (the chart fetched from its HTTP(S)
 * or oci:// repository, the version resolved, the digest verified;
 * chartfetch.h), Lints (`helm lint --strict` with the final values),
 * ValuesValid (the values composed from spec.chart.valuesFrom and
 * spec.chart.values, checked by helm against the chart's values.schema.json),
 * ImagePinned (what `helm template` rendered, with the cluster's version and
 * API versions, runs the checked image: every container naming
 * spec.image.repository is rewritten to its digest), ImagesPullable (every
 * other image of the rendered pod templates resolved and checked pullable as
 * the Docker stage checks its own, oci/imagecheck.h, with spec.image's pull
 * secrets and the templates' imagePullSecrets from the target namespace, then
 * pinned to its digest unless spec.image.pinAll is false; answers are cached
 * for all resources, bounded and expiring) and DryRun (every rendered object
 * sent as a server-side apply with dryRun=All).
 *
 * The stage starts only with the digest the Docker stage pinned (the caller
 * hands it over in status.image.digest) and renders with image.repository and
 * image.digest set to it, or the values spec.image.valuesPaths names; the
 * rewrite (pin.h) makes it what runs. The rendered manifest is kept for the Kubernetes
 * stage in a Secret the resource owns, "phase4.<name>.v<generation>" in the
 * resource's namespace (type phase4.io/manifest, key manifest.gz, gzip), as
 * Helm keeps releases; the ten newest are kept. helm runs as a child with a
 * time limit (helmrun.h); its errors become the reasons of helmout.h.
 *
 * Values may hold secrets: they reach helm on its stdin only, are wiped from
 * memory after use, and are never logged or put in a message (a Secret's
 * values are redacted from helm's output and every message, core/redact.h;
 * helmout.h names what schema violations echo). Work runs on the loop, at most max_active
 * resources at once, and at most helm_concurrency helm processes for all of them (each
 * resource runs at most one at a time; the rest wait in line, oldest first). `helm lint`'s
 * outcome is kept by the chart's digest, the values and lint's options (lintcache.h): a
 * release of a chart already linted with the same values goes straight to `helm template`,
 * and its Lints gate says the result was reused. Between attempts a resource costs only its
 * result. The reconciler drives the stage through
 * p4_helm_stage_ops (stage.h).
 */
#ifndef PHASE4_HELMSTAGE_H
#define PHASE4_HELMSTAGE_H

#include <stdint.h>
#include <uv.h>

#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"
#include "phase4/oci/registry.h"
#include "phase4/reconciler/manifest.h"
#include "phase4/reconciler/nodeplatforms.h"
#include "phase4/reconciler/stage.h"
#include "phase4/reconciler/tenancy.h"
#include "phase4/stages/helm/chartfetch.h"

/* Resources the stage checks at once by default. Only helm processes cost CPU
   (helm_concurrency limits them); the rest of a check waits on the network, so many overlap,
   but not without bound: each holds its values and rendered manifest while it works, and a
   chart repository outage ends attempts rather than holding slots. */
#define P4_HELM_STAGE_RUNS 32

struct p4_helm_stage;

struct p4_helm_stage_config {
    struct p4_kube *kube; /* borrowed */
    /* Who acts for each resource (borrowed; NULL: spec.serviceAccountName only). */
    const struct p4_tenancy *tenancy;
    struct p4_discovery *discovery; /* borrowed */
    struct p4_chartfetch *charts;   /* borrowed */
    struct p4_registry *registry;   /* borrowed: the chart's other images are checked with it */
    const char *helm;               /* the helm binary (copied); NULL: "helm" */
    const char *work_dir;           /* helm's HOME and cache/config/data homes go under it
                                       (copied; created, mode 0700) */
    uint64_t helm_timeout_ms;       /* time limit of one helm run; 0: 2 min */
    uint64_t retry_ms;              /* first retry after an artifact failure, doubling; 0: 30 s */
    uint64_t recheck_ms;            /* re-check after a cluster-level failure; 0: 5 min */
    uint64_t transient_max_ms;      /* cap of the backoff for transient errors; 0: 60 s */
    int max_active;       /* resources checked at once (the rest wait); 0: P4_HELM_STAGE_RUNS */
    int helm_concurrency; /* helm processes running at once, for all resources (the rest wait
                             in line, oldest first; --helm-concurrency); 0: 4 */
    /* A resource's result changed: reconcile it (key borrowed for the call). */
    void (*changed)(const char *key, void *data);
    void *data;
    /* The Nodes' platforms shared with the other stages (borrowed; NULL: the stage's own). */
    struct p4_node_platforms *nodes;
    /* The manifests this process stored, for the Kubernetes stage (borrowed; NULL: none kept). */
    struct p4_manifest_memo *memo;
};

/* cfg is copied. NULL when the work directory cannot be made. */
struct p4_helm_stage *p4_helm_stage_new(uv_loop_t *loop, const struct p4_helm_stage_config *cfg,
                                        struct p4_error *err);
/* Stop every run (a running helm is killed); NULL is fine. */
void p4_helm_stage_free(struct p4_helm_stage *h);

/* The stage.h operations; ctx is the struct p4_helm_stage. start() needs status.image.digest. */
extern const struct p4_stage_ops p4_helm_stage_ops;

#endif
