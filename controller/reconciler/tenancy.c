/*
 * tenancy.c: who acts for a Phase4Deployment, and what it may ask for
 * (tenancy.h; docs/security.md is the model).
 */
#include "phase4/reconciler/tenancy.h"

#include <stdio.h>
#include <string.h>

#include "phase4/core/json.h"

const char *p4_tenancy_target(const cJSON *obj)
{
    const char *target = p4_json_str(obj, "spec.target.namespace");

    return target && target[0] ? target : p4_json_str(obj, "metadata.namespace");
}

const char *p4_tenancy_service_account(const struct p4_tenancy *t, const cJSON *obj)
{
    const char *sa = p4_json_str(obj, "spec.serviceAccountName");

    if (sa && sa[0])
        return sa;
    if (t && t->default_service_account && t->default_service_account[0])
        return t->default_service_account;
    return NULL;
}

void p4_tenancy_user(const struct p4_tenancy *t, const cJSON *obj, char *out, size_t size)
{
    const char *sa = p4_tenancy_service_account(t, obj);
    const char *ns = p4_json_str(obj, "metadata.namespace");
    int n;

    if (size == 0)
        return;
    out[0] = '\0';
    if (sa == NULL || ns == NULL || ns[0] == '\0')
        return;
    n = snprintf(out, size, "system:serviceaccount:%s:%s", ns, sa);
    if (n < 0 || (size_t)n >= size)
        out[0] = '\0'; /* the CRD bounds both names: cannot happen */
}

static int refuse(struct p4_error *err, const char *reason, const char *msg, const char *a,
                  const char *b)
{
    char qa[68], qb[68];

    (void)p4_error_set(err, P4_ERR_FORBIDDEN, msg, p4_error_quote(a, 63, qa),
                       p4_error_quote(b, 63, qb));
    if (err)
        err->reason = reason;
    return P4_ERR_FORBIDDEN;
}

/* The remedy that ends every refusal of an operator acting as itself. */
#define NAME_AN_ACCOUNT                                                                            \
    "; set spec.serviceAccountName to a ServiceAccount of this namespace that may do it (the "     \
    "operator then acts as that account)"

/* A ServiceAccount's name: a DNS subdomain (RFC 1123), as the API server requires. */
static bool account_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '.'))
            return false;
    return true;
}

int p4_tenancy_check(const struct p4_tenancy *t, const cJSON *obj, struct p4_error *err)
{
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *target = p4_tenancy_target(obj);
    bool as_itself = p4_tenancy_service_account(t, obj) == NULL;
    bool own_ns_only = as_itself || (t && t->no_cross_namespace_refs);
    bool cluster = false;
    const cJSON *dep;

    if (ns == NULL)
        ns = "";
    if (!as_itself && !account_name_ok(p4_tenancy_service_account(t, obj)))
        return refuse(err, "InvalidServiceAccountName",
                      "the ServiceAccount name %s%s is not a valid name (lower-case letters, "
                      "digits, '-' and '.', at most 253)",
                      p4_tenancy_service_account(t, obj), "");
    if (own_ns_only && target && strcmp(target, ns) != 0) {
        if (as_itself)
            return refuse(err, "TargetNotAllowed",
                          "spec.target.namespace %s is not this resource's namespace %s: without "
                          "a ServiceAccount to act as, a Phase4Deployment deploys only into its "
                          "own namespace" NAME_AN_ACCOUNT,
                          target, ns);
        return refuse(err, "TargetNotAllowed",
                      "spec.target.namespace %s is not this resource's namespace %s: this "
                      "operator runs with --no-cross-namespace-refs, so a Phase4Deployment "
                      "deploys only into its own namespace",
                      target, ns);
    }
    cJSON_ArrayForEach(dep, p4_json_get(obj, "spec.dependsOn")) {
        const char *dns = p4_json_str(dep, "namespace");
        if (!own_ns_only || dns == NULL || dns[0] == '\0' || strcmp(dns, ns) == 0)
            continue;
        if (as_itself)
            return refuse(err, "CrossNamespaceRefNotAllowed",
                          "spec.dependsOn names a Phase4Deployment in namespace %s, not in this "
                          "resource's namespace %s: without a ServiceAccount to act as, "
                          "references stay in the resource's own namespace" NAME_AN_ACCOUNT,
                          dns, ns);
        return refuse(err, "CrossNamespaceRefNotAllowed",
                      "spec.dependsOn names a Phase4Deployment in namespace %s, not in this "
                      "resource's namespace %s: this operator runs with "
                      "--no-cross-namespace-refs, so references stay in the resource's own "
                      "namespace",
                      dns, ns);
    }
    if (!as_itself)
        return 0;
    (void)p4_json_bool(obj, "spec.target.allowClusterScoped", &cluster);
    if (cluster)
        return refuse(err, "ClusterScopedNotAllowed",
                      "spec.target.allowClusterScoped is set, but without a ServiceAccount to "
                      "act as the operator applies only namespaced objects in %s%s" NAME_AN_ACCOUNT,
                      ns, "");
    if (p4_json_get(obj, "spec.image.build") != NULL)
        return refuse(err, "BuildNotAllowed",
                      "spec.image.build asks for a build Job in %s, but without a ServiceAccount "
                      "to act as the operator runs no build Job%s" NAME_AN_ACCOUNT,
                      ns, "");
    return 0;
}
