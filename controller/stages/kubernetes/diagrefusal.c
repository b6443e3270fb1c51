/* diagrefusal.c: the API server's refusals, quoted or sent, diagnosed (see diagrefusal.h). */
#include "diagrefusal.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "objtext.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* ---- quota, admission, RBAC ---- */

static const char *const policy_todo =
    "A person must change the policy or grant an exception, or the chart must comply with it.";

/* "exceeded quota: q, requested: services=1, used: services=0, limited: services=0" */
static int quota_exceeded(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char name[P4_DIAGNOSE_NAME_SHOWN], resources[P4_DIAGNOSE_LIST_SHOWN] = "",
                                       req[P4_DIAGNOSE_LIST_SHOWN], used[P4_DIAGNOSE_LIST_SHOWN],
                                       lim[P4_DIAGNOSE_LIST_SHOWN];
    const char *r = p4_objtext_after(p, ", requested: ");
    const char *u = r != NULL ? p4_objtext_after(r, ", used: ") : NULL;
    const char *l = u != NULL ? p4_objtext_after(u, ", limited: ") : NULL;
    size_t rn = r != NULL ? p4_objtext_upto_lit(r, ", used: ") : 0;

    p4_objtext_put(name, sizeof(name), p, p4_objtext_upto(p, ',', NULL));
    p4_objtext_put(req, sizeof(req), r, rn);
    p4_objtext_put(used, sizeof(used), u, u != NULL ? p4_objtext_upto_lit(u, ", limited: ") : 0);
    p4_objtext_put(lim, sizeof(lim), l, l != NULL ? strlen(l) : 0);
    /* The resources are the keys of the requested list: "limits.cpu=500m,limits.memory=1Gi". */
    for (size_t i = 0, start = 0; r != NULL && i <= rn; i++) {
        const char *is;

        if (i < rn && r[i] != ',')
            continue;
        is = memchr(r + start, '=', i - start);
        p4_objtext_list_add(resources, sizeof(resources), r + start,
                            is != NULL ? (size_t)(is - (r + start)) : i - start);
        start = i + 1;
    }
    return p4_diagnose_found(
        out, "QuotaExceeded", P4_FAIL_CLUSTER,
        "%s: ResourceQuota %s does not allow more %s (requested %s, used %s, limited %s). "
        "A person must raise the quota, or the chart must ask for less.",
        lead, name[0] != '\0' ? name : "(unnamed)", resources[0] != '\0' ? resources : "resources",
        req[0] != '\0' ? req : "?", used[0] != '\0' ? used : "?", lim[0] != '\0' ? lim : "?");
}

/* "failed quota: q: must specify limits.cpu for: web; limits.memory for: web" */
static int quota_requires(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char name[P4_DIAGNOSE_NAME_SHOWN], what[P4_DIAGNOSE_WORDS_SHOWN];
    const char *m = p4_objtext_after(p, "must specify ");

    p4_objtext_put(name, sizeof(name), p, p4_objtext_upto(p, ':', NULL));
    p4_objtext_clip(what, sizeof(what), m != NULL ? m : "");
    return p4_diagnose_found(
        out, "QuotaRequiresResources", P4_FAIL_ARTIFACT,
        "%s: ResourceQuota %s requires every container to set %s. Set them in the chart "
        "(a new chart is needed), or a person adds a LimitRange that defaults them.",
        lead, name[0] != '\0' ? name : "(unnamed)",
        what[0] != '\0' ? what : "its resource requests and limits");
}

/* 'admission webhook "w" denied the request: text' or '... denied the request without ...' */
static int webhook_denied(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char name[P4_DIAGNOSE_NAME_SHOWN], words[P4_DIAGNOSE_WORDS_SHOWN];
    const char *rest;
    size_t n = p4_objtext_upto(p, '"', &rest);

    p4_objtext_put(name, sizeof(name), p, n);
    if (*rest == '"')
        rest++;
    if (!p4_objtext_skip(&rest, " denied the request") || !p4_objtext_skip(&rest, ":"))
        rest = "";
    p4_objtext_clip(words, sizeof(words), rest);
    return p4_diagnose_found(out, "AdmissionDenied", P4_FAIL_CLUSTER,
                             "%s: admission webhook \"%s\" denied it%s%s. %s", lead, name,
                             words[0] != '\0' ? ": " : " without explanation", words, policy_todo);
}

/* "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: text" */
static int policy_denied(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char policy[P4_DIAGNOSE_NAME_SHOWN], binding[P4_DIAGNOSE_NAME_SHOWN] = "",
                                         words[P4_DIAGNOSE_WORDS_SHOWN];
    const char *rest, *b, *text;

    p4_objtext_put(policy, sizeof(policy), p, p4_objtext_upto(p, '\'', &rest));
    b = p4_objtext_after(rest, "with binding '");
    if (b != NULL)
        p4_objtext_put(binding, sizeof(binding), b, p4_objtext_upto(b, '\'', NULL));
    text = p4_objtext_after(rest, "denied request: ");
    p4_objtext_clip(words, sizeof(words), text != NULL ? text : "");
    return p4_diagnose_found(out, "AdmissionDenied", P4_FAIL_CLUSTER,
                             "%s: ValidatingAdmissionPolicy '%s'%s%s%s denied it%s%s. %s", lead,
                             policy, binding[0] != '\0' ? " (binding '" : "", binding,
                             binding[0] != '\0' ? "')" : "", words[0] != '\0' ? ": " : "", words,
                             policy_todo);
}

/* 'violates PodSecurity "restricted:latest": details' */
static int pod_security(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char level[P4_DIAGNOSE_NAME_SHOWN], words[P4_DIAGNOSE_WORDS_SHOWN];
    const char *rest;

    p4_objtext_put(level, sizeof(level), p, p4_objtext_upto(p, '"', &rest));
    if (!p4_objtext_skip(&rest, "\": "))
        rest = "";
    p4_objtext_clip(words, sizeof(words), rest);
    return p4_diagnose_found(
        out, "AdmissionDenied", P4_FAIL_CLUSTER,
        "%s: it violates the namespace's Pod Security level \"%s\"%s%s. The chart must "
        "comply (securityContext), or a person must relax the namespace's "
        "pod-security.kubernetes.io/enforce label.",
        lead, level, words[0] != '\0' ? ": " : "", words);
}

/* 'failed calling webhook "w": failed to call webhook: Post "https://...": dial tcp ...' */
static int webhook_unavailable(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char name[P4_DIAGNOSE_NAME_SHOWN], words[P4_DIAGNOSE_WORDS_SHOWN];
    const char *rest, *tail;
    bool broken;

    p4_objtext_put(name, sizeof(name), p, p4_objtext_upto(p, '"', &rest));
    if (!p4_objtext_skip(&rest, "\": "))
        rest = "";
    /* A missing service or an untrusted certificate will not heal by waiting. */
    broken = p4_objtext_has(rest, "x509:") || p4_objtext_has(rest, "not found") ||
             p4_objtext_has(rest, "could not find");
    tail = p4_objtext_last_cause(rest);
    p4_objtext_put_tail(words, sizeof(words), tail, strlen(tail));
    return p4_diagnose_found(
        out, "AdmissionWebhookUnavailable", broken ? P4_FAIL_CLUSTER : P4_FAIL_TRANSIENT,
        "%s: admission webhook \"%s\" could not be called%s%s. %s", lead, name,
        words[0] != '\0' ? ": " : "", words,
        broken ? "A person must repair the webhook's service or its configuration."
               : "It is retried; if this lasts, a person must repair the webhook's "
                 "service.");
}

/* Whom a grant goes to: "ServiceAccount phase4-system/phase4-operator" or "user alice". */
static const char *subject_of(char *dst, size_t size, const char *user, size_t n)
{
    static const char sa[] = "system:serviceaccount:";
    char shown[P4_DIAGNOSE_NAME_SHOWN];

    if (n > sizeof(sa) - 1 && strncmp(user, sa, sizeof(sa) - 1) == 0) {
        const char *ns = user + sizeof(sa) - 1;
        size_t nn = n - (sizeof(sa) - 1);
        const char *colon = memchr(ns, ':', nn);

        if (colon != NULL) {
            char shown_ns[P4_DIAGNOSE_NS_SHOWN];

            p4_objtext_put(shown_ns, sizeof(shown_ns), ns, (size_t)(colon - ns));
            p4_objtext_put(shown, sizeof(shown), colon + 1, nn - (size_t)(colon - ns) - 1);
            p4_text_format(dst, size, "ServiceAccount %s/%s", shown_ns, shown);
            return dst;
        }
    }
    p4_text_format(dst, size, "user %s", p4_objtext_put(shown, sizeof(shown), user, n));
    return dst;
}

/*
 * 'User "u" cannot patch resource "deployments" in API group "apps" in the namespace "shop"'
 * or '... at the cluster scope'. p is just past 'User "'.
 */
static int rbac_forbidden(struct p4_diagnosis *out, const char *lead, const char *p,
                          const char *identity, const char *whole)
{
    char verb[P4_DIAGNOSE_NAME_SHOWN], resource[P4_DIAGNOSE_NAME_SHOWN],
        group[P4_DIAGNOSE_NAME_SHOWN], ns[P4_DIAGNOSE_NS_SHOWN],
        target[P4_DIAGNOSE_NAME_SHOWN + P4_DIAGNOSE_NS_SHOWN + 24],
        actor[2 * P4_DIAGNOSE_NAME_SHOWN + P4_DIAGNOSE_NS_SHOWN + 48],
        words[P4_DIAGNOSE_WORDS_SHOWN];
    const char *user = p, *q;
    size_t user_n = p4_objtext_upto(p, '"', &q), n;
    bool ours =
        identity != NULL && strlen(identity) == user_n && strncmp(identity, user, user_n) == 0;
    bool cluster;

    subject_of(target, sizeof(target), user, user_n);
    if (ours)
        p4_text_format(actor, sizeof(actor), "the operator's %s", target);
    else
        p4_text_format(actor, sizeof(actor), "%s", target);
    if (!p4_objtext_skip(&q, "\" cannot ")) {
        p4_objtext_clip(words, sizeof(words), whole);
        return p4_diagnose_found(out, "Forbidden", P4_FAIL_CLUSTER,
                                 "%s: %s. A person must grant %s the permission it lacks.", lead,
                                 words, actor);
    }
    n = p4_objtext_upto(q, ' ', NULL);
    p4_objtext_put(verb, sizeof(verb), q, n);
    q += n;
    if (!p4_objtext_skip(&q, " resource \"")) {
        p4_objtext_clip(words, sizeof(words), whole);
        return p4_diagnose_found(out, "Forbidden", P4_FAIL_CLUSTER,
                                 "%s: %s may not %s: %s. A person must grant it the permission.",
                                 lead, actor, verb, words);
    }
    n = p4_objtext_upto(q, '"', NULL);
    p4_objtext_put(resource, sizeof(resource), q, n);
    q += n;
    group[0] = ns[0] = '\0';
    if (p4_objtext_skip(&q, "\" in API group \"")) {
        n = p4_objtext_upto(q, '"', NULL);
        p4_objtext_put(group, sizeof(group), q, n);
        q += n;
    }
    /* Without a namespace it is the cluster scope (the message then says so). */
    cluster = !p4_objtext_skip(&q, "\" in the namespace \"");
    if (!cluster)
        p4_objtext_put(ns, sizeof(ns), q, p4_objtext_upto(q, '"', NULL));
    if (cluster)
        return p4_diagnose_found(
            out, "Forbidden", P4_FAIL_CLUSTER,
            "%s: %s may not %s %s%s%s at the cluster scope. A person must grant it: a "
            "ClusterRole allowing %s on %s%s%s, bound to %s by a ClusterRoleBinding.",
            lead, actor, verb, resource, group[0] != '\0' ? "." : "", group, verb, resource,
            group[0] != '\0' ? "." : "", group, target);
    return p4_diagnose_found(
        out, "Forbidden", P4_FAIL_CLUSTER,
        "%s: %s may not %s %s%s%s in namespace %s. A person must grant it: a Role in %s "
        "(or a ClusterRole) allowing %s on %s%s%s, bound to %s.",
        lead, actor, verb, resource, group[0] != '\0' ? "." : "", group, ns, ns, verb, resource,
        group[0] != '\0' ? "." : "", group, target);
}

/* ---- a refusal's text ---- */

/* Admission comes first: a policy may quote text that looks like a quota or RBAC refusal. */
int p4_diagrefusal_text(struct p4_diagnosis *out, const char *lead, const char *msg,
                        const char *identity)
{
    const char *p;
    char words[P4_DIAGNOSE_WORDS_SHOWN];

    if (msg == NULL)
        return 0;
    if ((p = p4_objtext_after(msg, "failed calling webhook \"")) != NULL)
        return webhook_unavailable(out, lead, p);
    if ((p = p4_objtext_after(msg, "admission webhook \"")) != NULL &&
        p4_objtext_has(p, "\" denied the request"))
        return webhook_denied(out, lead, p);
    if ((p = p4_objtext_after(msg, "ValidatingAdmissionPolicy '")) != NULL &&
        p4_objtext_has(p, "denied request"))
        return policy_denied(out, lead, p);
    if ((p = p4_objtext_after(msg, "violates PodSecurity \"")) != NULL)
        return pod_security(out, lead, p);
    if (p4_objtext_has(msg, "unable to validate against any security context constraint") ||
        p4_objtext_has(msg, "PodSecurityPolicy: unable to admit pod")) {
        p = p4_objtext_after(msg, "forbidden: ");
        p4_objtext_clip(words, sizeof(words), p != NULL ? p : msg);
        return p4_diagnose_found(
            out, "AdmissionDenied", P4_FAIL_CLUSTER,
            "%s: no pod security policy admits it: %s. A person must grant its "
            "ServiceAccount a policy that fits, or the chart must ask for less privilege.",
            lead, words);
    }
    if ((p = p4_objtext_after(msg, "exceeded quota: ")) != NULL)
        return quota_exceeded(out, lead, p);
    if ((p = p4_objtext_after(msg, "failed quota: ")) != NULL)
        return quota_requires(out, lead, p);
    if ((p = p4_objtext_after(msg, "User \"")) != NULL && p4_objtext_has(p, " cannot "))
        return rbac_forbidden(out, lead, p, identity, msg);
    /* 'error looking up service account shop/web: serviceaccount "web" not found' (pods a
       controller cannot create): it waits for nothing, and a deadline would only hide why. */
    if ((p = p4_objtext_after(msg, "serviceaccount \"")) != NULL &&
        p4_objtext_has(p, "\" not found")) {
        size_t n = p4_objtext_upto(p, '"', NULL);
        return p4_diagnose_found(
            out, "ServiceAccountNotFound", P4_FAIL_ARTIFACT,
            "%s: its pods name ServiceAccount %.*s, which does not exist. The chart must create "
            "it, or its values must name one that exists (serviceAccount.create, "
            "serviceAccount.name).",
            lead, (int)(n < P4_DIAGNOSE_NAME_SHOWN ? n : P4_DIAGNOSE_NAME_SHOWN), p);
    }
    if (p4_objtext_has(msg, "because it is being terminated")) {
        p4_objtext_clip(words, sizeof(words), msg);
        return p4_diagnose_found(
            out, "NamespaceTerminating", P4_FAIL_TRANSIENT,
            "%s: its namespace is being deleted (%s). Nothing can be created in it until "
            "it is gone and created again.",
            lead, words);
    }
    return 0;
}

/* ---- a refusal's Status ---- */

int p4_diagnose_refusal(const cJSON *status, const char *kind, const char *namespace_,
                        const char *name, const char *identity, struct p4_diagnosis *out)
{
    char who_[P4_DIAGNOSE_WHO_SIZE], lead[P4_DIAGNOSE_LEAD_SIZE], words[P4_DIAGNOSE_WORDS_SHOWN];
    const char *msg = p4_json_str(status, "message");
    const cJSON *causes = p4_json_get(status, "details.causes");
    int64_t code = 0;
    int rc, n = 0;

    if (out == NULL)
        return P4_ERR_INVAL;
    p4_diagnose_clear(out);
    if (!cJSON_IsObject(status))
        return P4_ERR_INVAL;
    if (kind == NULL || kind[0] == '\0')
        kind = p4_json_str(status, "details.kind");
    if (name == NULL || name[0] == '\0')
        name = p4_json_str(status, "details.name");
    p4_diagnose_who(who_, sizeof(who_), kind, namespace_, name);
    p4_text_format(lead, sizeof(lead), "%s was refused", who_);
    rc = p4_diagrefusal_text(out, lead, msg, identity);
    /* A policy's words may be only in a cause (a ValidatingAdmissionPolicy's Invalid). */
    for (const cJSON *it = cJSON_IsArray(causes) ? causes->child : NULL; rc == 0 && it != NULL;
         it = it->next) {
        if (++n > 16)
            break;
        rc = p4_diagrefusal_text(out, lead, p4_json_str(it, "message"), identity);
    }
    if (rc != 0)
        return rc;
    if (p4_text_eq(p4_json_str(status, "reason"), "Forbidden") ||
        (p4_json_int64(status, "code", &code) == 0 && code == 403)) {
        p4_objtext_clip(words, sizeof(words), msg != NULL ? msg : "");
        if (identity != NULL)
            return p4_diagnose_found(
                out, "Forbidden", P4_FAIL_CLUSTER,
                "%s: the API server forbids it%s%s. A person must grant the operator "
                "(%s) what it lacks.",
                lead, words[0] != '\0' ? ": " : "", words, identity);
        return p4_diagnose_found(
            out, "Forbidden", P4_FAIL_CLUSTER,
            "%s: the API server forbids it%s%s. A person must grant the operator what it "
            "lacks.",
            lead, words[0] != '\0' ? ": " : "", words);
    }
    p4_diagnose_clear(out);
    return 0;
}
