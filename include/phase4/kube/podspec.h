/*
 * podspec.h: the pod template of a workload object, as the API server defines it: a Pod's own
 * spec; spec.template.spec of a ReplicationController, Deployment, ReplicaSet, StatefulSet,
 * DaemonSet or Job; spec.jobTemplate.spec.template.spec of a CronJob (groups apps, batch and the
 * core group only: a custom resource of the same kind name is not one). The Helm stage pins
 * images in it; the Kubernetes stage settles the deprecated serviceAccount alias in it; the
 * Validation stage reads the labels its pods get.
 *
 * Everything works in place on a borrowed object and allocates nothing but what it sets.
 */
#ifndef PHASE4_PODSPEC_H
#define PHASE4_PODSPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/* The pod spec of obj's pod template (borrowed, changeable), or NULL for a kind with none. */
cJSON *p4_podspec_of(cJSON *obj);

/* The labels obj's pods are made with (a Pod's own metadata.labels, the pod template's of the
 * other kinds; borrowed), or NULL for a kind with no pod template or a template without labels.
 * What a PodMonitor's selector is matched against. */
const cJSON *p4_podspec_labels(const cJSON *obj);

/* A container of a pod template: obj is the object, field "initContainers", "containers" or
 * "ephemeralContainers", container the entry (all borrowed, changeable). */
typedef void (*p4_podspec_container_fn)(cJSON *obj, const char *field, cJSON *container,
                                        void *data);

/* fn for each container of obj's pod template, in that field order (lists that are not arrays
 * are no pod spec the API server takes, and are skipped). */
void p4_podspec_each_container(cJSON *obj, p4_podspec_container_fn fn, void *data);

/*
 * A pod template that names no ServiceAccount (neither serviceAccountName nor the deprecated
 * serviceAccount) gets serviceAccountName "default", what the API server would choose. Applied
 * so, a revision that drops its ServiceAccount really stops using it: otherwise a server-side
 * apply that drops serviceAccountName leaves the deprecated alias the API server filled in, and
 * the API server copies it back. Returns whether obj was changed.
 */
bool p4_podspec_default_service_account(cJSON *obj);

#endif
