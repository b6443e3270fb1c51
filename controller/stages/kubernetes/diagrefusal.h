/*
 * diagrefusal.h: the API server's refusal of a request, diagnosed (internal to
 * stages/kubernetes/; the diagnosis, its classes and reasons are diagnose.h's).
 *
 * Recognized, in a failed request's Status body and wherever a controller quotes such a refusal
 * (a FailedCreate or ReplicaSetCreateError Event, a ReplicaFailure condition):
 * - quota: "exceeded quota: q, requested: ...": QuotaExceeded (CLUSTER); "failed quota: q: must
 *   specify ...": QuotaRequiresResources (ARTIFACT).
 * - admission: 'admission webhook "w" denied the request: ...', "ValidatingAdmissionPolicy 'p'
 *   with binding 'b' denied request: ...", 'violates PodSecurity "restricted:latest": ...',
 *   OpenShift SCC and PodSecurityPolicy: AdmissionDenied (CLUSTER). A webhook that could not be
 *   called ('failed calling webhook "w": ...'): AdmissionWebhookUnavailable, TRANSIENT, or
 *   CLUSTER when its service is missing or its certificate untrusted.
 * - RBAC: 'User "u" cannot patch resource "deployments" in API group "apps" in the namespace
 *   "shop"' (or "at the cluster scope"): Forbidden (CLUSTER), naming the Role or ClusterRole to
 *   grant and to whom.
 * - a namespace being deleted: NamespaceTerminating (TRANSIENT).
 * - any other Forbidden (403), from the Status alone: Forbidden (CLUSTER).
 * Admission is tried first: a policy may quote text that looks like a quota or RBAC refusal.
 */
#ifndef PHASE4_DIAGREFUSAL_H
#define PHASE4_DIAGREFUSAL_H

#include <cjson/cJSON.h>

#include "diagnose.h"

/*
 * Diagnose the API server's refusal of a request about one object: status is the Status body it
 * sent (message, reason, code, details.causes[].message); kind, namespace_ and name name the
 * object (any may be NULL: details.kind and details.name stand in); identity is who the operator
 * is to the API server ("system:serviceaccount:phase4-system:phase4-operator"; may be NULL).
 * Returns 1 with *out filled, 0 when the refusal is none of the failures above (such as a 409 or
 * a 422 of an invalid manifest), or P4_ERR_INVAL when out is NULL or status is not an object.
 * *out (when not NULL) is cleared to an empty reason and message and P4_FAIL_NONE unless 1 is
 * returned.
 */
int p4_diagnose_refusal(const cJSON *status, const char *kind, const char *namespace_,
                        const char *name, const char *identity, struct p4_diagnosis *out);

/*
 * A refusal's text msg (NULL: none), wherever it is quoted; lead names the object and what
 * failed ("ReplicaSet shop/web-6d cannot create its pods"); identity as above. Returns 1 with
 * *out filled when msg is one of the refusals above (not the bare Forbidden), else 0 with *out
 * untouched.
 */
int p4_diagrefusal_text(struct p4_diagnosis *out, const char *lead, const char *msg,
                        const char *identity);

#endif
