/*
 * stages/docker/resolve.c: the Docker stage's S_RESOLVE step (steps.h): the
 * image's digest, blobs and platforms, one platform at a time through
 * imagecheck.h, and the Built, Pushed and Pullable gates from them; and the
 * classification of a registry's failures (credentials, TLS, outages) that
 * every step asking the registry shares. Which reason an answer means is
 * imagecheck.h's (p4_image_failure_of), shared with the Helm stage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "steps.h"

/* ---- registry answers, classified ---- */

/* "a", "b" for messages; "" when none. */
static void secret_list(char *const *names, size_t n, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        int k = snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "", names[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

bool p4_docker_registry_verdict(int rc, const struct p4_error *e, enum gate g,
                                const struct registry_who *who, struct verdict *v)
{
    enum p4_image_failure f;
    char names[256];

    *v = (struct verdict){.outcome = V_FAIL};
    f = p4_image_failure_of(rc, P4_IMAGE_REFERENCE);
    switch (f) {
    case P4_IMAGE_FAIL_AUTH:
        secret_list(who->wanted, who->nwanted, names, sizeof(names));
        if (who->secret)
            p4_error_set(&v->err, rc,
                         "%s: pull secret \"%s\" in namespace %s has the wrong "
                         "credentials for %s, or no pull access to %s",
                         e->message, who->secret, who->ns, who->host, who->repository);
        else if (names[0])
            p4_error_set(&v->err, rc,
                         "%s: none of the pull secrets in namespace %s (%s) has an "
                         "entry for %s",
                         e->message, who->ns, names, who->host);
        else
            p4_error_set(&v->err, rc,
                         "%s: namespace %s has no pull secret; list one in "
                         "spec.image.pullSecrets or on its default ServiceAccount",
                         e->message, who->ns);
        v->cls = P4_FAIL_CLUSTER;
        v->gate = G_PULLABLE;
        v->reason = p4_image_failure_reason(f);
        return true;
    case P4_IMAGE_FAIL_INSECURE: /* the spec must change: https, or insecure: true */
    case P4_IMAGE_FAIL_TLS:
        v->cls = P4_FAIL_CLUSTER;
        v->gate = G_PUSHED;
        v->reason = p4_image_failure_reason(f);
        v->err = *e;
        return true;
    case P4_IMAGE_FAIL_UNAVAILABLE:
        v->cls = P4_FAIL_TRANSIENT;
        v->gate = g;
        v->reason = p4_image_failure_reason(f);
        v->err = *e;
        return true;
    default:
        return false;
    }
}

static void who_of(const struct run *r, struct registry_who *who)
{
    const struct work *w = r->w;

    *who = (struct registry_who){
        .secret = w->target.cred ? w->secret_names[w->target.cred->secret] : NULL,
        .wanted = w->wanted,
        .nwanted = w->nwanted,
        .ns = r->base.target_ns,
        .host = w->host,
        .repository = w->ref.repository,
    };
}

/* Fail r with v; an outage comes back when the registry said (retry_after_ms). */
static void registry_fail(struct run *r, const struct verdict *v, uint64_t retry_after_ms)
{
    if (v->cls == P4_FAIL_TRANSIENT)
        r->base.retry_after_ms = retry_after_ms;
    p4_docker_fail(r, v);
}

bool p4_docker_registry_trouble(struct run *r, int rc, const struct p4_error *e,
                                uint64_t retry_after_ms, enum gate g)
{
    struct registry_who who;
    struct verdict v;

    who_of(r, &who);
    if (!p4_docker_registry_verdict(rc, e, g, &who, &v))
        return false;
    registry_fail(r, &v, retry_after_ms);
    return true;
}

/* ---- S_RESOLVE: digest, blobs and platforms ---- */

static void platform_text(const struct work *w, size_t i, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s/%s%s%s", w->platforms[i][0], w->platforms[i][1],
                   w->platforms[i][2][0] ? "/" : "", w->platforms[i][2]);
}

void p4_docker_platform_list(const struct work *w, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < w->nplatforms && used < size; i++) {
        char p[200];
        int n;
        platform_text(w, i, p, sizeof(p));
        n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", p);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

enum check_outcome p4_docker_check_verdict(const struct p4_image_check *res,
                                           const struct registry_who *who, struct verdict *v)
{
    if (res->rc == 0)
        return CHECK_COMPLETE;
    if (p4_docker_registry_verdict(res->rc, &res->err,
                                   res->problem == P4_IMAGE_REFERENCE ? G_BUILT : G_PUSHED, who, v))
        return CHECK_FAILED;
    if (res->problem == P4_IMAGE_REFERENCE) {
        enum p4_image_failure f = p4_image_failure_of(res->rc, res->problem);
        *v = (struct verdict){
            .outcome = V_FAIL, .cls = P4_FAIL_ARTIFACT, .reason = p4_image_failure_reason(f)};
        if (f == P4_IMAGE_FAIL_NOT_FOUND) {
            v->gate = G_BUILT;
            p4_error_set(&v->err, P4_ERR_NOTFOUND, "%s; push the image or correct spec.image",
                         res->err.message);
        } else {
            v->gate = G_PUSHED;
            v->err = res->err;
        }
        return CHECK_FAILED;
    }
    if (res->problem == P4_IMAGE_PLATFORM)
        return CHECK_NO_PLATFORM;
    return CHECK_INCOMPLETE;
}

static void resolve_next(struct run *r);

static void resolve_done(struct run *r)
{
    const char *tagref = r->w->ref.tag ? r->w->ref.tag : r->w->ref.digest;
    char list[256];

    if (r->job_done)
        p4_stagerun_gate(&r->base, G_BUILT, "True", "BuildSucceeded",
                         "build Job %s/%s succeeded; %s:%s resolves to %s in registry %s",
                         r->base.ns, r->job, r->w->ref.repository, tagref, r->digest, r->w->host);
    else
        p4_stagerun_gate(&r->base, G_BUILT, "True", "ImageExists",
                         "%s:%s resolves to %s in registry %s", r->w->ref.repository, tagref,
                         r->digest, r->w->host);
    if (r->w->content_err.code != 0) {
        struct p4_error e = r->w->content_err;
        p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_PUSHED,
                         p4_image_failure_reason(P4_IMAGE_FAIL_INCOMPLETE), &e);
        return;
    }
    p4_stagerun_gate(&r->base, G_PUSHED, "True", "BlobsPresent",
                     "the manifest, config and every layer of %s@%s answer in registry %s",
                     r->w->ref.repository, r->digest, r->w->host);
    if (r->w->missing[0]) {
        p4_stagerun_failf(
            &r->base, P4_FAIL_ARTIFACT, G_PULLABLE, p4_image_failure_reason(P4_IMAGE_FAIL_PLATFORM),
            "image %s@%s has no manifest for %s, which the cluster's nodes run (it has: %s); "
            "build it for that platform",
            r->w->ref.repository, r->digest, r->w->missing,
            r->image_platforms ? r->image_platforms : "none");
        return;
    }
    p4_docker_platform_list(r->w, list, sizeof(list));
    if (r->w->target.cred)
        p4_stagerun_gate(&r->base, G_PULLABLE, "True", "Pullable",
                         "pullable for %s with pull secret \"%s\" from namespace %s", list,
                         r->w->secret_names[r->w->target.cred->secret], r->base.target_ns);
    else
        p4_stagerun_gate(&r->base, G_PULLABLE, "True", "Pullable",
                         "pullable for %s without credentials", list);
    p4_stagerun_next(&r->base, S_SCAN);
}

static void on_checked(const struct p4_image_check *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct registry_who who;
    struct verdict v;
    char p[200];
    size_t used;

    if (r == NULL)
        return;
    if (res->digest[0] && r->digest[0] == '\0')
        (void)snprintf(r->digest, sizeof(r->digest), "%s", res->digest); /* pinned */
    if (res->platforms[0] && r->image_platforms == NULL)
        r->image_platforms = p4_strdup(res->platforms);
    who_of(r, &who);
    switch (p4_docker_check_verdict(res, &who, &v)) {
    case CHECK_COMPLETE:
        (void)snprintf(r->w->manifests[r->w->platform_i], sizeof(r->w->manifests[0]), "%s",
                       res->manifest);
        break;
    case CHECK_FAILED:
        registry_fail(r, &v, res->retry_after_ms);
        return;
    case CHECK_NO_PLATFORM:
        used = strlen(r->w->missing);
        platform_text(r->w, r->w->platform_i, p, sizeof(p));
        (void)snprintf(r->w->missing + used, sizeof(r->w->missing) - used, "%s%s", used ? ", " : "",
                       p);
        break;
    case CHECK_INCOMPLETE:
        if (r->w->content_err.code == 0) {
            r->w->content_err = res->err;
            if (r->w->content_err.code == 0)
                r->w->content_err.code = res->rc;
        }
        break;
    }
    r->w->platform_i++;
    r->base.transient_n = 0;
    resolve_next(r);
}

static void resolve_next(struct run *r)
{
    const char *reference;

    if (r->w->platform_i >= r->w->nplatforms) {
        resolve_done(r);
        return;
    }
    reference = r->digest[0] ? r->digest : r->w->ref.digest ? r->w->ref.digest : r->w->ref.tag;
    r->base.inflight++;
    if (p4_image_check(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository, reference,
                       r->w->platforms[r->w->platform_i][0], r->w->platforms[r->w->platform_i][1],
                       r->w->platforms[r->w->platform_i][2], on_checked, r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_CLUSTER, G_PUSHED, "InvalidImageReference",
                          "cannot ask registry %s for %s:%s", r->w->host, r->w->ref.repository,
                          reference);
    }
}

void p4_docker_resolve(struct run *r)
{
    if (r->w->nplatforms == 0) {
        struct p4_error e;
        p4_error_set(&e, P4_ERR_NOTFOUND,
                     "no Node reports its platform yet, so pullability "
                     "cannot be checked; waiting for nodes");
        p4_stagerun_fail(&r->base, P4_FAIL_TRANSIENT, G_PULLABLE, "NoNodes", &e);
        return;
    }
    resolve_next(r);
}
