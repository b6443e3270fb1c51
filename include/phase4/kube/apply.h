/*
 * apply.h: rendered manifests into objects, and server-side apply of one
 * object (the Helm stage's dry run; the Kubernetes stage's apply).
 *
 * p4_manifest_split() reads helm template's output (multi-document YAML,
 * read as Helm reads it: yamljson.h) into objects, each with apiVersion,
 * kind and metadata.name; empty documents are skipped and "List" kinds are
 * flattened. p4_apply_object() maps the kind to its resource through
 * discovery.h and sends a server-side apply (PATCH application/apply-patch+
 * yaml, fieldManager phase4-operator), optionally with dryRun=All so
 * admission webhooks, CEL rules and quotas answer without anything being
 * stored, and with force=true only when asked.
 */
#ifndef PHASE4_APPLY_H
#define PHASE4_APPLY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "phase4/core/error.h"
#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"

#define P4_MANIFEST_OBJECTS_MAX 5000 /* more objects in one manifest: P4_ERR_TOOBIG */
#define P4_FIELD_MANAGER "phase4-operator"

/*
 * Split len bytes of YAML into a JSON array of objects (caller frees). NULL
 * with err on error: P4_ERR_PARSE (not YAML), P4_ERR_INVALID naming the
 * document and what is wrong ("document 3 (Deployment web): metadata.name is
 * missing"), P4_ERR_TOOBIG.
 */
cJSON *p4_manifest_split(const char *text, size_t len, struct p4_error *err);

struct p4_apply_opts {
    const char *namespace_; /* for namespaced objects that name none; NULL: "default" */
    bool dry_run;           /* dryRun=All: admission answers, nothing is stored */
    bool force;             /* take over fields another manager owns */
};

struct p4_apply_result {
    int rc;              /* 0, or the API server's answer as a P4_ERR_* (P4_ERR_NOTFOUND when
                            discovery does not know the kind) */
    struct p4_error err; /* one sentence naming the object and the API server's message */
    const char *said;    /* the API server's own message when it refused, else NULL */
    const char *kind, *namespace_, *name, *resource; /* of the object; namespace_ "" when
                                                        cluster-scoped */
    const cJSON *object; /* the server's answer (the object as applied) when rc is 0 */
};
/* res and everything in it are valid during the call only. */
typedef void (*p4_apply_cb)(const struct p4_apply_result *res, void *data);

/* obj is copied. Returns 0 (cb runs once, later) or P4_ERR_INVAL (no apiVersion, kind or name). */
int p4_apply_object(struct p4_kube *k, struct p4_discovery *d, const cJSON *obj,
                    const struct p4_apply_opts *opts, p4_apply_cb cb, void *data);

#endif
