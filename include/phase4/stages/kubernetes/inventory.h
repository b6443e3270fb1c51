/*
 * inventory.h: what the Kubernetes stage applied, in what order, and what it
 * must delete when the chart stops rendering an object.
 *
 * The rendered manifest (p4_manifest_split() in apply.h) is sorted into apply
 * order, reduced to an inventory of entries (apiVersion, kind, namespace,
 * name) kept in the resource's status.inventory, and compared with the
 * previous inventory: what the previous one holds and the current one does
 * not is pruned, in the reverse of apply order.
 *
 * Apply order (p4_inventory_order) follows Helm's InstallOrder (helm/helm
 * pkg/release/v1/util/kind_sorter.go on main, commit 20a1ca23: Helm 3's
 * pkg/releaseutil/kind_sorter.go, commit 5a4737d4, with the two webhook
 * configurations added after APIService), with three changes:
 *
 *   PriorityClass, Namespace, CustomResourceDefinition,
 *   NetworkPolicy, ResourceQuota, LimitRange, PodSecurityPolicy,
 *   PodDisruptionBudget,
 *   ServiceAccount, ClusterRole(List), ClusterRoleBinding(List), Role(List),
 *   RoleBinding(List),
 *   Secret(List), ConfigMap, StorageClass, PersistentVolume,
 *   PersistentVolumeClaim,
 *   Service,
 *   DaemonSet, Pod, ReplicationController, ReplicaSet, Deployment,
 *   StatefulSet, Job, CronJob,
 *   HorizontalPodAutoscaler, IngressClass, Ingress, APIService,
 *   MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
 *   then every other kind (custom resources, and built-ins Helm does not
 *   list) by kind name, as Helm sorts the kinds it does not know.
 *
 * Kept from Helm: PriorityClass before anything (a pod naming an unknown
 * priorityClassName is refused at admission); quotas, limit ranges, network
 * and security policies and disruption budgets right after the namespace
 * (admission applies LimitRange defaults and ResourceQuota only to objects
 * created after them, and a pod started before its NetworkPolicy runs
 * unprotected for a while); roles before their bindings; StorageClass before
 * the volumes and claims that name it; webhooks after the Services and
 * workloads that serve them; Helm's order inside each group.
 * Changed: CustomResourceDefinitions come right after Namespace (Helm
 * installs a chart's crds/ before any template, and a CRD needs time to
 * become Established before its custom resources, which come last); RBAC
 * comes before Secrets and ConfigMaps (a ServiceAccount before the token
 * Secret that names it; nothing in RBAC depends on configuration); the
 * HorizontalPodAutoscaler comes after every workload rather than between
 * Deployment and StatefulSet (an HPA after the object it scales).
 * Kinds are matched with their API group, unlike Helm, so a custom resource
 * named like a built-in (Knative's serving.knative.dev Service) sorts with
 * the custom resources; legacy groups count as their successors (below).
 * The sort is stable: objects of one kind keep the chart's order. Prune order
 * (p4_inventory_prune_order, p4_inventory_diff) is the exact reverse.
 *
 * Identity: two entries name the same object when group (from apiVersion:
 * "apps/v1" -> "apps", "v1" -> ""), kind, namespace and name are equal; the
 * version is not part of it. Kubernetes serves some kinds under two groups
 * and both names reach the same stored object, so the legacy group counts as
 * its successor: extensions Deployment, DaemonSet and ReplicaSet are apps;
 * extensions Ingress and NetworkPolicy are networking.k8s.io; extensions
 * PodSecurityPolicy is policy; events.k8s.io Event is core. Without this a
 * chart moving Deployment from extensions/v1beta1 to apps/v1 would prune
 * (delete) the Deployment it just applied.
 *
 * status.inventory is input anyone allowed to write the status can edit:
 * p4_inventory_from_json() skips entries it cannot read instead of failing,
 * and callers check the prune set (p4_inventory_check_scope(), and that each
 * object still carries the operator's ownership marks) before deleting
 * anything in it.
 *
 * Ownership: every entry holds its own copies of its strings; inventories
 * and trees passed as const are borrowed for the call only. A struct
 * p4_inventory filled by a function here is the caller's to release with
 * p4_inventory_close(), on failure too (it is then empty). No function keeps
 * a pointer after it returns, and none recurses.
 */
#ifndef PHASE4_INVENTORY_H
#define PHASE4_INVENTORY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "phase4/core/error.h"

/*
 * Longest apiVersion, kind, namespace or name an entry may have, in bytes
 * (Kubernetes allows 253 for a name and a group, 63 for a namespace, a kind
 * and a version). Longer: P4_ERR_INVALID from a manifest, skipped from JSON.
 */
#define P4_INVENTORY_FIELD_MAX 320

struct p4_inv_entry {
    char *api_version; /* "apps/v1", "v1" */
    char *kind;
    char *namespace_; /* "" for cluster-scoped objects, never NULL */
    char *name;
};

struct p4_inventory {
    struct p4_inv_entry *items; /* NULL when n is 0 */
    size_t n;
};

/* How the stage learns whether a kind is namespaced (discovery.h, or a table in tests). */
struct p4_inventory_scope {
    /* 1 namespaced, 0 cluster-scoped, anything else unknown. */
    int (*namespaced)(const char *api_version, const char *kind, void *data);
    void *data;
};

/*
 * Sort objects (a JSON array of objects with apiVersion and kind, at most
 * P4_MANIFEST_OBJECTS_MAX) in place into apply order (above); the objects
 * stay the same nodes. Returns 0, P4_ERR_INVAL (not an array), P4_ERR_TOOBIG
 * or P4_ERR_INVALID naming the element that is not an object or lacks
 * apiVersion or kind; on failure the array is left as it was.
 */
int p4_inventory_order(cJSON *objects, struct p4_error *err);
/* The same, into prune order: the exact reverse of p4_inventory_order's. */
int p4_inventory_prune_order(cJSON *objects, struct p4_error *err);

/*
 * Build *out (overwritten, caller closes) from objects, in their order.
 * Namespaced objects without metadata.namespace get default_namespace (NULL:
 * "default", as p4_apply_object does); cluster-scoped objects get "" whatever
 * their metadata says. A kind scope does not know is looked up in the
 * manifest's own CustomResourceDefinitions (spec.group, spec.names.kind,
 * spec.scope), since a chart may ship a CRD with its first custom resources.
 * Returns 0; P4_ERR_INVAL (objects not an array, no scope callback or no
 * out); P4_ERR_TOOBIG (more than P4_MANIFEST_OBJECTS_MAX objects);
 * P4_ERR_INVALID naming the object: not an object, apiVersion not "version"
 * or "group/version", kind or name missing, a field longer than
 * P4_INVENTORY_FIELD_MAX, or an object twice ("Deployment shop/web appears
 * twice in the manifest"); P4_ERR_NOTFOUND when neither scope nor the
 * manifest knows whether a kind is namespaced.
 */
int p4_inventory_from_objects(const cJSON *objects, const char *default_namespace,
                              const struct p4_inventory_scope *scope, struct p4_inventory *out,
                              struct p4_error *err);

/*
 * status.inventory: a JSON array of {apiVersion, kind, namespace, name}, in
 * inventory order, namespace omitted when "" (caller frees; never NULL).
 */
cJSON *p4_inventory_to_json(const struct p4_inventory *inv);

/*
 * Read status.inventory (borrowed) into *out (overwritten, caller closes).
 * Absent (NULL) or JSON null is an empty inventory. An entry that is not an
 * object, lacks a string apiVersion ("version" or "group/version"), kind or
 * name, has a namespace that is neither a string nor null, has a field longer
 * than P4_INVENTORY_FIELD_MAX, or names an object an earlier entry names, is
 * skipped and counted in *skipped (may be NULL). Returns 0, P4_ERR_INVAL (no
 * out), P4_ERR_INVALID (not an array) or P4_ERR_TOOBIG (more than
 * P4_MANIFEST_OBJECTS_MAX entries: nothing this operator wrote).
 */
int p4_inventory_from_json(const cJSON *json, struct p4_inventory *out, size_t *skipped,
                           struct p4_error *err);

/* Whether a and b name the same object (identity above). */
bool p4_inv_entry_same(const struct p4_inv_entry *a, const struct p4_inv_entry *b);

/*
 * Fill *prune (overwritten, caller closes) with copies of the entries of
 * previous that name no object in current, each once, in prune order; the
 * copies keep previous's apiVersion. Linear in the sizes (hash maps).
 * Returns 0 or P4_ERR_INVAL (a NULL argument).
 */
int p4_inventory_diff(const struct p4_inventory *previous, const struct p4_inventory *current,
                      struct p4_inventory *prune);

/*
 * The "Manifests validated" gate: 0 when every entry is in target_namespace,
 * or cluster-scoped with allow_cluster_scoped, or the Namespace
 * target_namespace itself. Otherwise P4_ERR_INVALID naming the first
 * offender: "Deployment other/web is outside spec.target.namespace shop",
 * "ClusterRole admin is cluster-scoped; set spec.target.allowClusterScoped to
 * apply it". P4_ERR_INVAL for a NULL inv or an empty target_namespace.
 */
int p4_inventory_check_scope(const struct p4_inventory *inv, const char *target_namespace,
                             bool allow_cluster_scoped, struct p4_error *err);

/* *to (overwritten, caller closes) as a copy of from; a NULL from gives an empty inventory. */
void p4_inventory_copy(const struct p4_inventory *from, struct p4_inventory *to);

/* Free every entry and leave inv empty; NULL is fine. */
void p4_inventory_close(struct p4_inventory *inv);

#endif
