/*
 * discovery.h: which resource serves a kind (kube client).
 *
 * Maps apiVersion + kind (apps/v1 Deployment) to the resource path segment
 * (deployments) and whether it is namespaced, from the API server's
 * aggregated discovery (apidiscovery.k8s.io/v2: two requests, /api and
 * /apis, for every group). The table is cached; a lookup that misses
 * refreshes it once (a CRD installed since), at most once per
 * P4_DISCOVERY_MIN_REFRESH_MS, and concurrent misses share that refresh.
 */
#ifndef PHASE4_DISCOVERY_H
#define PHASE4_DISCOVERY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "phase4/core/error.h"
#include "phase4/kube/client.h"

#define P4_DISCOVERY_MIN_REFRESH_MS 5000

struct p4_discovery;

struct p4_resource_info {
    const char *group; /* "" for the core group */
    const char *version;
    const char *kind;
    const char *resource; /* plural, e.g. "deployments" */
    int namespaced;
};

/*
 * info is borrowed, valid during the call. rc: 0, P4_ERR_NOTFOUND (err says
 * which kind, and to check its CRD), or the refresh's error. Never called
 * before p4_discovery_lookup returns.
 */
typedef void (*p4_discovery_cb)(int rc, const struct p4_resource_info *info,
                                const struct p4_error *err, void *data);

struct p4_discovery *p4_discovery_new(struct p4_kube *k); /* k is borrowed */
/* Pending lookups get P4_ERR_CANCELED; frees once its requests and timer have ended. */
void p4_discovery_close(struct p4_discovery *d);
int p4_discovery_lookup(struct p4_discovery *d, const char *api_version, const char *kind,
                        p4_discovery_cb cb, void *data);
/* From the cache only; NULL when unknown. Borrowed until the next refresh. */
const struct p4_resource_info *p4_discovery_find(const struct p4_discovery *d,
                                                 const char *api_version, const char *kind);
/*
 * The API path of object name of info's resource into buf (size bytes): "/api/v1/namespaces/ns/
 * configmaps/name", "/apis/apps/v1/namespaces/ns/deployments/name", without the namespace for a
 * cluster-scoped resource or an empty ns. ns and name are escaped. 0 or P4_ERR_TOOBIG.
 */
int p4_resource_path(const struct p4_resource_info *info, const char *ns, const char *name,
                     char *buf, size_t size);
/*
 * Add the resources of one APIGroupDiscoveryList (the answer of /api or
 * /apis) to the table; subresources are skipped. For tests and the refresh.
 */
int p4_discovery_load(struct p4_discovery *d, const cJSON *list, struct p4_error *err);
size_t p4_discovery_len(const struct p4_discovery *d);
/*
 * Every group/version the table holds ("apps/v1", "v1" for the core group),
 * sorted, once each, joined by commas: helm template's --api-versions. The
 * caller frees the string ("" when the table is empty).
 */
char *p4_discovery_api_versions(const struct p4_discovery *d);

#endif
