/*
 * stages/docker/scan.c: the Docker stage's S_SCAN step (steps.h): a
 * vulnerability report for the pinned digest, from the Trivy Operator's
 * VulnerabilityReports or else attached to the image in the registry (the
 * referrers API, else the "sha256-<hex>" tag), judged against
 * spec.image.scan.maxSeverity; waiting for one, without a slot, while
 * spec.image.scan.required asks for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "steps.h"

#define VULNREPORTS_GV "aquasecurity.github.io/v1alpha1"
#define VULNREPORTS_KIND "VulnerabilityReport"
#define VULNREPORTS_PATH "/apis/" VULNREPORTS_GV "/vulnerabilityreports"

enum p4_severity p4_docker_max_severity(const cJSON *image)
{
    enum p4_severity s = P4_SEV_CRITICAL;
    const char *v = p4_json_str(image, "scan.maxSeverity");

    if (v)
        (void)p4_severity_parse(v, &s);
    return s;
}

void p4_docker_scan_verdict(const cJSON *image, const struct p4_scan_summary *sum,
                            const char *source, struct verdict *v)
{
    char msg[P4_ERROR_MESSAGE_MAX - 64];

    *v = (struct verdict){.gate = G_SCANNED};
    if (p4_scan_over(sum, p4_docker_max_severity(image), msg, sizeof(msg)) > 0) {
        v->outcome = V_FAIL;
        v->cls = P4_FAIL_ARTIFACT;
        v->reason = "VulnerabilitiesFound";
    } else {
        v->outcome = V_PASS;
        v->reason = "ScanPassed";
    }
    p4_error_set(&v->err, P4_ERR_INVALID, "%s (%s): %s", source, sum->format, msg);
}

void p4_docker_no_report_verdict(const cJSON *image, const char *digest, time_t since, time_t now,
                                 struct verdict *v)
{
    bool required = false;
    uint64_t timeout = p4_duration_ms(p4_json_str(image, "scan.timeout"), 600000);

    *v = (struct verdict){.gate = G_SCANNED};
    (void)p4_json_bool(image, "scan.required", &required);
    if (!required) {
        v->outcome = V_PASS;
        v->reason = "NotScanned";
        p4_error_set(&v->err, P4_ERR_INVALID,
                     "no vulnerability report for %s (no VulnerabilityReport, no referrer in the "
                     "registry); spec.image.scan.required is false",
                     digest);
    } else if ((uint64_t)(now - since) * 1000 < timeout) {
        v->outcome = V_WAIT;
        v->reason = "ScanPending";
        p4_error_set(&v->err, P4_ERR_INVALID,
                     "waiting for a vulnerability report for %s (a VulnerabilityReport or a "
                     "referrer in the registry); spec.image.scan.required is true",
                     digest);
    } else {
        v->outcome = V_FAIL;
        v->cls = P4_FAIL_ARTIFACT;
        v->reason = "ScanReportMissing";
        p4_error_set(&v->err, P4_ERR_INVALID,
                     "no vulnerability report for %s appeared within spec.image.scan.timeout; "
                     "scan the image and attach the report, or set spec.image.scan.required to "
                     "false",
                     digest);
    }
}

/* A verdict on the scan: the gate set, then on to S_SIGN, or failed. */
static void scanned(struct run *r, const struct verdict *v)
{
    if (v->outcome == V_FAIL) {
        p4_docker_fail(r, v);
        return;
    }
    p4_docker_gate(r, v);
    p4_stagerun_next(&r->base, S_SIGN);
}

static void no_report(struct run *r)
{
    struct verdict v;

    p4_docker_no_report_verdict(r->image, r->digest, r->scan_since, time(NULL), &v);
    if (v.outcome != V_WAIT) {
        scanned(r, &v);
        return;
    }
    p4_docker_gate(r, &v);
    /* Waiting holds no slot: the check starts over (with the pinned digest) later. */
    p4_stagerun_restart_in(&r->base, stage_of(r)->cfg.scan_poll_ms);
    p4_stagerun_notify(&r->base);
    p4_stagerun_end_attempt(&r->base);
}

void p4_docker_report_verdict(const cJSON *image, const char *body, size_t len,
                              const char *manifest, struct verdict *v)
{
    struct p4_scan_summary sum;
    char source[200];

    if (p4_scan_parse(body, len, &sum, &v->err) != 0) {
        struct p4_error err = v->err;
        *v = (struct verdict){.outcome = V_FAIL,
                              .gate = G_SCANNED,
                              .cls = P4_FAIL_ARTIFACT,
                              .reason = "ScanReportInvalid",
                              .err = err};
        return;
    }
    (void)snprintf(source, sizeof(source), "report %s attached to the image",
                   manifest ? manifest : "");
    p4_docker_scan_verdict(image, &sum, source, v);
}

static void on_report_blob(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct verdict v;

    if (r == NULL)
        return;
    if (a->rc != 0) {
        if (!p4_docker_registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SCANNED))
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid", &a->err);
        return;
    }
    p4_docker_report_verdict(r->image, a->body, a->len, r->w->report_manifest, &v);
    scanned(r, &v);
}

static void on_report_manifest(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_oci_manifest *m = NULL;
    struct p4_error err;

    if (r == NULL)
        return;
    if (a->rc != 0) {
        if (!p4_docker_registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SCANNED))
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid", &a->err);
        return;
    }
    if (p4_oci_manifest_parse(a->body, a->len, a->media_type, &m, &err) != 0 ||
        m->kind != P4_OCI_IMAGE || m->layers_len == 0) {
        if (m)
            p4_error_set(&err, P4_ERR_INVALID, "the scan report %s has no layer to read",
                         r->w->report_manifest);
        p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid", &err);
        p4_oci_manifest_free(m);
        return;
    }
    r->base.inflight++;
    if (p4_registry_blob_get(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository,
                             m->layers[0].digest, on_report_blob, r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SCANNED, "ScanReportInvalid",
                          "cannot read the scan report blob %s", m->layers[0].digest);
    }
    p4_oci_manifest_free(m);
}

/* An index of referrers (API answer or fallback tag): fetch the first scan report in it. */
static void use_referrers(struct run *r, const struct p4_registry_answer *a)
{
    char *found = p4_oci_pick_referrer(a->body, a->len, p4_scan_report_type);

    if (found == NULL) {
        no_report(r);
        return;
    }
    free(r->w->report_manifest);
    r->w->report_manifest = found;
    r->base.inflight++;
    if (p4_registry_manifest(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository,
                             r->w->report_manifest, on_report_manifest, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
}

static void on_referrer_tag(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (a->rc == 0)
        use_referrers(r, a);
    else if (a->rc == P4_ERR_NOTFOUND ||
             !p4_docker_registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SCANNED))
        no_report(r); /* no fallback tag: no report attached */
}

static void on_referrers(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    char tag[80];

    if (r == NULL)
        return;
    if (a->rc == 0) {
        use_referrers(r, a);
        return;
    }
    if (a->rc != P4_ERR_NOTFOUND && a->rc != P4_ERR_METHOD &&
        p4_docker_registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SCANNED))
        return;
    /* No referrers API (distribution 2.x): the OCI 1.1 fallback tag "sha256-<hex>". */
    (void)snprintf(tag, sizeof(tag), "sha256-%s", r->digest + 7);
    r->base.inflight++;
    if (p4_registry_manifest(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository, tag,
                             on_referrer_tag, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
}

static void ask_referrers(struct run *r)
{
    r->base.inflight++;
    if (p4_registry_referrers(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository,
                              r->digest, on_referrers, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
}

bool p4_docker_vulnreports_verdict(const cJSON *image, const struct p4_kube_result *res,
                                   const char *const *digests, size_t n, struct verdict *v)
{
    const cJSON *it;

    if (res->rc == P4_ERR_NOTFOUND || res->rc == P4_ERR_FORBIDDEN)
        return false; /* Trivy Operator not installed, or we may not read its reports */
    if (res->rc != 0) {
        *v = (struct verdict){.outcome = V_FAIL,
                              .gate = G_SCANNED,
                              .cls = P4_FAIL_TRANSIENT,
                              .reason = "APIUnavailable",
                              .err = res->err};
        return true;
    }
    cJSON_ArrayForEach(it, p4_json_get(res->body, "items")) {
        struct p4_scan_summary sum;
        struct p4_error err;
        char source[600];
        if (!p4_scan_vulnreport_matches(it, digests, n))
            continue;
        (void)snprintf(source, sizeof(source), "VulnerabilityReport %s/%s",
                       p4_json_str(it, "metadata.namespace") ? p4_json_str(it, "metadata.namespace")
                                                             : "",
                       p4_json_str(it, "metadata.name") ? p4_json_str(it, "metadata.name") : "");
        if (p4_scan_parse_vulnreport(it, &sum, &err) != 0) {
            *v = (struct verdict){.outcome = V_FAIL,
                                  .gate = G_SCANNED,
                                  .cls = P4_FAIL_ARTIFACT,
                                  .reason = "ScanReportInvalid",
                                  .err = err};
            return true;
        }
        p4_docker_scan_verdict(image, &sum, source, v);
        return true;
    }
    return false;
}

static void on_vulnreports(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *digests[PLATFORMS_MAX + 1];
    size_t n = 0;
    struct verdict v;

    if (r == NULL)
        return;
    digests[n++] = r->digest;
    for (size_t i = 0; i < r->w->nplatforms; i++) {
        if (r->w->manifests[i][0])
            digests[n++] = r->w->manifests[i];
    }
    if (p4_docker_vulnreports_verdict(r->image, res, digests, n, &v))
        scanned(r, &v);
    else
        ask_referrers(r);
}

/*
 * The VulnerabilityReports list, shared: one request answers every run that asks while it is
 * in flight, and its answer serves the runs that ask within VULNREPORTS_SHARE_MS. Heap-held so
 * an answer arriving after the stage was freed still hands its runs back (d is NULL then).
 */
struct vr_waiter {
    struct run *r;
    struct vr_waiter *next;
};

struct vr_share {
    struct p4_docker_stage *d; /* NULL once the stage is gone */
    bool asking;
    struct vr_waiter *waiters;
    int rc;
    struct p4_error err;
    cJSON *body; /* the list, when rc is 0 */
    uint64_t at; /* uv_now() of the answer */
};

bool p4_docker_vulnreports_fresh(bool have, uint64_t at, uint64_t now)
{
    return have && now - at < VULNREPORTS_SHARE_MS;
}

static void answer_run(struct vr_share *s, struct run *r)
{
    struct p4_kube_result res = {.rc = s->rc, .body = s->body, .err = s->err};

    on_vulnreports(&res, r); /* res.body stays the share's: on_vulnreports only reads it */
}

static void on_vr_list(struct p4_kube_result *res, void *data)
{
    struct vr_share *s = data;
    struct vr_waiter *w = s->waiters;

    s->waiters = NULL;
    s->asking = false;
    cJSON_Delete(s->body);
    s->body = res->body;
    res->body = NULL;
    s->rc = res->rc;
    s->err = res->err;
    s->at = s->d ? uv_now(s->d->sr.loop) : 0;
    while (w) {
        struct vr_waiter *next = w->next;
        answer_run(s, w->r); /* a run dropped meanwhile is freed here (p4_stagerun_back) */
        free(w);
        w = next;
    }
    if (s->d == NULL) {
        cJSON_Delete(s->body);
        free(s);
    }
}

/* The runs waiting on a list that could not be asked: the registry is asked instead. */
static void unask(struct vr_share *s)
{
    struct vr_waiter *w = s->waiters;

    s->waiters = NULL;
    s->asking = false;
    while (w) {
        struct vr_waiter *next = w->next;
        struct run *r = (struct run *)p4_stagerun_back(w->r);
        if (r)
            ask_referrers(r);
        free(w);
        w = next;
    }
}

static void shared_list(struct run *r)
{
    struct p4_docker_stage *d = stage_of(r);
    struct vr_share *s = d->vr;
    struct vr_waiter *w;

    if (s == NULL) {
        s = d->vr = p4_calloc(1, sizeof(*s));
        s->d = d;
    }
    r->base.inflight++;
    if (!s->asking && p4_docker_vulnreports_fresh(s->at != 0, s->at, uv_now(d->sr.loop))) {
        answer_run(s, r);
        return;
    }
    w = p4_calloc(1, sizeof(*w));
    w->r = r;
    w->next = s->waiters;
    s->waiters = w;
    if (s->asking)
        return;
    cJSON_Delete(s->body); /* an old answer is not kept while the next is asked */
    s->body = NULL;
    s->at = 0;
    s->asking = true;
    if (p4_kube_request(d->cfg.kube, "GET", VULNREPORTS_PATH, NULL, NULL, 0, on_vr_list, s) != 0)
        unask(s);
}

void p4_docker_vulnreports_free(struct p4_docker_stage *d)
{
    struct vr_share *s = d->vr;

    d->vr = NULL;
    if (s == NULL)
        return;
    if (s->asking) {
        s->d = NULL; /* the answer frees it, after handing its runs back */
        return;
    }
    cJSON_Delete(s->body);
    free(s);
}

static void on_vr_kind(int rc, const struct p4_resource_info *info, const struct p4_error *err,
                       void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    (void)info;
    (void)err;
    if (r == NULL)
        return;
    if (rc == P4_ERR_NOTFOUND) {
        stage_of(r)->vr_unserved = true;
        stage_of(r)->vr_unserved_at = uv_now(stage_of(r)->sr.loop);
        ask_referrers(r);
    } else {
        shared_list(r); /* served, or discovery failed: the list says (as without discovery) */
    }
}

bool p4_docker_vulnreports_recheck(bool unserved, uint64_t unserved_at, uint64_t now)
{
    return !unserved || now - unserved_at >= VULNREPORTS_RECHECK_MS;
}

void p4_docker_scan(struct run *r)
{
    struct p4_docker_stage *d = stage_of(r);

    if (r->scan_since == 0)
        r->scan_since = time(NULL);
    /* Only where the Trivy Operator's CRD is served: elsewhere the list is a 404 every time. */
    if (d->cfg.discovery == NULL ||
        p4_discovery_find(d->cfg.discovery, VULNREPORTS_GV, VULNREPORTS_KIND) != NULL) {
        shared_list(r);
        return;
    }
    if (!p4_docker_vulnreports_recheck(d->vr_unserved, d->vr_unserved_at, uv_now(d->sr.loop))) {
        ask_referrers(r);
        return;
    }
    /* Not in the table: discovery refreshes (at most every P4_DISCOVERY_MIN_REFRESH_MS). */
    r->base.inflight++;
    if (p4_discovery_lookup(d->cfg.discovery, VULNREPORTS_GV, VULNREPORTS_KIND, on_vr_kind, r) !=
        0) {
        r->base.inflight--;
        shared_list(r);
    }
}
