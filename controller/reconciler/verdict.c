/* verdict.c: status.report, status.readiness and the remedies (see verdict.h). */
#include "verdict.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/reconciler/approval.h"
#include "phase4/reconciler/manifest.h"
#include "policy.h"

struct remedy {
    const char *reason, *remedy;
};

/* The reasons a person acts on most, each with what to do. Sorted by nothing: it is short. */
static const struct remedy remedies[] = {
    {"ImageNotFound", "push the image (or fix spec.image.repository, tag or digest) and apply "
                      "the resource again"},
    {"ImagePullAuthFailed", "give the pull secret credentials that may pull the image, or name "
                            "the right one in spec.image.pullSecrets"},
    {"PullSecretNotFound", "create the pull secret in the resource's namespace"},
    {"RegistryUnavailable", "make the registry reachable from the operator; it is retried"},
    {"ScanReportMissing", "publish a vulnerability report for the image, or set "
                          "spec.image.scan.required to false"},
    {"ChartNotFound", "publish the chart version spec.chart.version asks for, or fix "
                      "spec.chart.name or version"},
    {"ChartLintFailed", "fix the chart's templates or values (helm lint shows the same "
                        "errors) and release a new chart version"},
    {"TemplateRenderFailed", "fix the chart's templates or values and release a new chart "
                             "version"},
    {"ValuesSchemaInvalid", "make spec.chart.values match the chart's values.schema.json"},
    {"DryRunRejected", "fix the objects the API server refused, or give "
                       "spec.serviceAccountName the RBAC to create them"},
    {"Forbidden", "grant the identity named in the message the RBAC it lacks, or change the "
                  "spec so it needs less"},
    {"QuotaExceeded", "raise the namespace's ResourceQuota or lower the chart's requests"},
    {"CrashLoopBackOff", "fix the container that crashes (its last log lines are in the "
                         "message) and release a new image or chart"},
    {"ImagePullBackOff", "make the image pullable from the nodes (name, tag, pull secret)"},
    {"Unschedulable", "add capacity or nodes that fit the pods' requests, affinity and "
                      "tolerations"},
    {"RolloutTimedOut", "find out why the workloads are not ready (see status.health) or raise "
                        "spec.rollout.timeout"},
    {"HealthCheckFailed", "fix the application so the health endpoint answers as "
                          "spec.validation.http expects, or fix the check"},
    {"HealthCheckTimedOut", "make the health endpoint answer within its timeout, or raise "
                            "spec.validation.http[].timeout"},
    {"ServiceNotFound", "make the chart create the Service spec.validation.http names, or fix "
                        "the name"},
    {"SmokeTestFailed", "fix what the smoke test found (its pod's last log lines are in the "
                        "message) and release a new image or chart"},
    {"SmokeTestTimedOut", "find out why the smoke test's Job did not finish (its pod is named "
                          "in the message) or raise spec.validation.smokeTests[].timeout"},
    {"SmokeTestInvalid", "fix the smoke test's template (a batch/v1 JobSpec) the API server "
                         "refused, or the names in spec.validation.smokeTests"},
    {"SmokeTestConflict", "delete or rename the Job the message names: phase4-operator never "
                          "takes over a Job it did not make"},
    {"CriticalLogLines", "fix the error the logs show, or add an allowPatterns entry if the "
                         "line is expected"},
    {"InvalidLogPattern", "fix the pattern spec.validation.logs names (POSIX extended regular "
                          "expressions; no back-references)"},
    {"MetricsNotExposed", "expose the named series on the workload's metrics endpoint"},
    {"TargetDown", "make the workload's metrics endpoint scrapeable by Prometheus"},
    {"NoMonitor", "create a ServiceMonitor or PodMonitor that selects the workload (the chart "
                  "may have a values switch for it)"},
    {"InvalidMetricsCheck", "fix spec.validation.metrics (the message says which part)"},
    {"InvalidHealthCheck", "fix spec.validation.http (the message says which entry)"},
    {"PrometheusUnavailable", "make the Prometheus server in spec.validation.metrics.prometheus "
                              "reachable from the operator"},
    {"AdmissionDenied", "change the object the admission policy or webhook refused (the "
                        "message quotes it), or ask whoever owns the policy for an exception"},
    {"AdmissionWebhookUnavailable", "make the admission webhook's Service answer, or fix its "
                                    "failurePolicy"},
    {"NamespaceTerminating", "wait for the target namespace to be deleted, then recreate it (or "
                             "set spec.target.createNamespace), or deploy elsewhere"},
    {"QuotaRequiresResources", "set resources.requests and limits in the chart's values, as the "
                               "namespace's ResourceQuota requires"},
    {"ServiceAccountNotFound", "create the ServiceAccount the pods name, or fix the chart's "
                               "values"},
    {"NodePressure", "free or add node capacity (memory, disk, PIDs) where the pods run"},
    {"PullSecretInvalid", "fix the pull secret: a kubernetes.io/dockerconfigjson Secret whose "
                          ".dockerconfigjson is valid JSON"},
    {"CABundleNotFound", "create the Secret or ConfigMap spec.image.caBundle names, in the "
                         "resource's namespace"},
    {"CABundleInvalid", "put PEM certificates in the CA bundle spec.image.caBundle names"},
    {"RegistryTLSError", "give the registry's CA in spec.image.caBundle, or fix the registry's "
                         "certificate"},
    {"InsecureCredentials", "serve the registry or chart repository over TLS, or drop the "
                            "credentials, or set insecure in the spec if plain HTTP is meant"},
    {"ValuesSourceNotFound", "create the ConfigMap or Secret spec.chart.valuesFrom names"},
    {"ManifestNotFound", "apply the resource again: the Helm stage stores the manifest anew"},
    {"ObjectNotOwned", "delete or rename the object the message names, or remove it from the "
                       "chart: phase4-operator never takes over an object it did not apply"},
    {"AdoptionRequired", "set spec.adopt to true to take over the objects an earlier "
                         "Phase4Deployment of this name left, or delete them"},
    {"StageCannotStart", "check the operator's log for why the stage could not start, and "
                         "what the stage before it recorded in status"},
    {"TargetNotAllowed", "set spec.serviceAccountName to an account allowed in the target "
                         "namespace, or deploy into the resource's own namespace"},
    {"ClusterScopedNotAllowed", "set spec.serviceAccountName to an account allowed to create "
                                "the cluster-scoped objects, or drop them from the chart"},
    {"BuildNotAllowed", "set spec.serviceAccountName to an account allowed to create Jobs"},
};

const char *p4_verdict_remedy(const char *reason, enum p4_failure_class cls)
{
    for (size_t i = 0; reason && i < sizeof(remedies) / sizeof(remedies[0]); i++) {
        if (strcmp(remedies[i].reason, reason) == 0)
            return remedies[i].remedy;
    }
    switch (cls) {
    case P4_FAIL_ARTIFACT:
        return "fix the image, chart or values (or the validation spec) the message names and "
               "apply a new generation";
    case P4_FAIL_CLUSTER:
        return "a person must fix what the message names in the cluster; it is checked again "
               "now and then and heals by itself once fixed";
    case P4_FAIL_TRANSIENT:
        return "nothing yet: it is retried with backoff";
    case P4_FAIL_NONE:
        break;
    }
    return "read the message, fix what it names and apply the resource again";
}

static const char *const stage_names[P4_STAGE_COUNT] = {"Docker", "Helm", "Kubernetes",
                                                        "Validation"};
static const char *const stage_conditions[P4_STAGE_COUNT] = {"DockerReady", "HelmReady",
                                                             "KubernetesReady", "Validated"};

static const cJSON *condition(const cJSON *st, const char *type)
{
    return p4_json_find(p4_json_get(st, "conditions"), "type", type);
}

/* obj's status.report entry of stage name, when the report is this generation's. */
static const cJSON *old_stage(const cJSON *obj, int64_t generation, const char *name)
{
    const cJSON *s;
    int64_t gen = -1;

    if (p4_json_int64(obj, "status.report.generation", &gen) != 0 || gen != generation)
        return NULL;
    cJSON_ArrayForEach(s, p4_json_get(obj, "status.report.stages")) {
        if (p4_text_eq(p4_json_str(s, "name"), name))
            return s;
    }
    return NULL;
}

/* "1h2m3s", "4m0s", "12s": as Go's time.Duration prints whole seconds. */
static void duration_text(int64_t secs, char *out, size_t size)
{
    if (secs < 0)
        secs = 0;
    if (secs >= 3600)
        (void)snprintf(out, size, "%" PRId64 "h%" PRId64 "m%" PRId64 "s", secs / 3600,
                       secs / 60 % 60, secs % 60);
    else if (secs >= 60)
        (void)snprintf(out, size, "%" PRId64 "m%" PRId64 "s", secs / 60, secs % 60);
    else
        (void)snprintf(out, size, "%" PRId64 "s", secs);
}

/* One stage's entry: its result from its condition, its times kept while the result holds. */
static cJSON *stage_entry(const cJSON *st, const cJSON *obj, int64_t generation, int i,
                          const char *now)
{
    const cJSON *c = condition(st, stage_conditions[i]);
    const cJSON *was = old_stage(obj, generation, stage_names[i]);
    const char *status = p4_json_str(c, "status"), *result = "Pending";
    const char *started = NULL, *finished = NULL, *old_result = p4_json_str(was, "result");
    int64_t cgen = -1, a = 0, b = 0;
    cJSON *e = p4_json_need(cJSON_CreateObject());

    (void)p4_json_int64(c, "observedGeneration", &cgen);
    if (c != NULL && cgen == generation)
        result = p4_text_eq(status, "True")    ? "Passed"
                 : p4_text_eq(status, "False") ? "Failed"
                                               : "Running";
    p4_json_need(cJSON_AddStringToObject(e, "name", stage_names[i]));
    p4_json_need(cJSON_AddStringToObject(e, "result", result));
    if (strcmp(result, "Pending") == 0)
        return e;
    if (p4_json_str(c, "reason"))
        p4_json_need(cJSON_AddStringToObject(e, "reason", p4_json_str(c, "reason")));
    started = p4_json_str(was, "startedAt");
    if (started == NULL)
        started = now;
    p4_json_need(cJSON_AddStringToObject(e, "startedAt", started));
    if (strcmp(result, "Running") == 0)
        return e;
    finished = p4_text_eq(old_result, result) ? p4_json_str(was, "finishedAt") : NULL;
    if (finished == NULL)
        finished = now;
    p4_json_need(cJSON_AddStringToObject(e, "finishedAt", finished));
    if (p4_timefmt_parse(started, &a) == 0 && p4_timefmt_parse(finished, &b) == 0) {
        char d[48];
        duration_text((b - a) / 1000000, d, sizeof(d));
        p4_json_need(cJSON_AddStringToObject(e, "duration", d));
    }
    return e;
}

/* The gate of stage that is False, or NULL. */
static const char *failing_gate(const cJSON *st, const char *stage)
{
    const cJSON *g;

    cJSON_ArrayForEach(g, p4_json_get(st, "gates")) {
        if (p4_text_eq(p4_json_str(g, "stage"), stage) &&
            p4_text_eq(p4_json_str(g, "status"), "False"))
            return p4_json_str(g, "name");
    }
    return NULL;
}

/* Did stage i pass for generation, as st says? */
static bool passed(const cJSON *st, int i, int64_t generation)
{
    const cJSON *c = condition(st, stage_conditions[i]);
    int64_t gen = -1;

    (void)p4_json_int64(c, "observedGeneration", &gen);
    return gen == generation && p4_text_eq(p4_json_str(c, "status"), "True");
}

/* What this generation's stages made: an artifact shows once its stage passed for it. */
static void artifacts(cJSON *report, const cJSON *st, const cJSON *obj, int64_t generation)
{
    cJSON *a = p4_json_need(cJSON_AddObjectToObject(report, "artifacts"));
    bool docker = passed(st, P4_STAGE_DOCKER, generation);
    bool helm = docker && passed(st, P4_STAGE_HELM, generation);
    bool kube = helm && passed(st, P4_STAGE_KUBERNETES, generation);
    const char *repo = p4_json_str(obj, "spec.image.repository");
    const char *digest = p4_json_str(st, "image.digest");
    const char *chart = p4_json_str(obj, "spec.chart.name");
    const char *version = p4_json_str(st, "chart.version");
    const cJSON *images = p4_json_get(st, "chart.images"), *inv = p4_json_get(st, "inventory");
    char buf[1024];

    if (docker && repo && digest) {
        (void)snprintf(buf, sizeof(buf), "%s@%s", repo, digest);
        p4_json_need(cJSON_AddStringToObject(a, "image", buf));
    }
    if (!helm)
        return;
    if (cJSON_IsArray(images))
        cJSON_AddItemToObject(a, "images", p4_json_need(cJSON_Duplicate(images, 1)));
    if (chart && version) {
        (void)snprintf(buf, sizeof(buf), "%s %s", chart, version);
        p4_json_need(cJSON_AddStringToObject(a, "chart", buf));
    }
    if (p4_json_str(st, "chart.digest"))
        p4_json_need(cJSON_AddStringToObject(a, "chartDigest", p4_json_str(st, "chart.digest")));
    if (p4_json_str(st, "chart.manifest"))
        p4_json_need(cJSON_AddStringToObject(a, "manifest", p4_json_str(st, "chart.manifest")));
    if (kube && cJSON_IsArray(inv))
        p4_json_need(cJSON_AddNumberToObject(a, "inventory", cJSON_GetArraySize(inv)));
}

void p4_verdict_report(cJSON *st, const cJSON *obj, int64_t generation, const char *now,
                       const char *verdict, const struct p4_verdict_failure *f)
{
    cJSON *report = p4_json_need(cJSON_CreateObject()), *stages;
    const char *old_verdict = p4_json_str(obj, "status.report.verdict");
    const char *started = p4_json_str(obj, "status.report.startedAt");
    const char *finished = p4_json_str(obj, "status.report.finishedAt");
    int64_t gen = -1;

    if (p4_json_int64(obj, "status.report.generation", &gen) != 0 || gen != generation)
        started = finished = old_verdict = NULL;
    p4_json_need(cJSON_AddNumberToObject(report, "generation", (double)generation));
    if (verdict)
        p4_json_need(cJSON_AddStringToObject(report, "verdict", verdict));
    p4_json_need(cJSON_AddStringToObject(report, "startedAt", started ? started : now));
    if (verdict)
        p4_json_need(cJSON_AddStringToObject(
            report, "finishedAt", p4_text_eq(old_verdict, verdict) && finished ? finished : now));
    stages = p4_json_need(cJSON_AddArrayToObject(report, "stages"));
    for (int i = 0; i < P4_STAGE_COUNT; i++)
        cJSON_AddItemToArray(stages, stage_entry(st, obj, generation, i, now));
    artifacts(report, st, obj, generation);
    if (verdict && f && strcmp(verdict, "FAILED") == 0) {
        cJSON *fail = p4_json_need(cJSON_AddObjectToObject(report, "failure"));
        const char *gate = failing_gate(st, f->stage);
        char remedy[600];

        p4_json_need(cJSON_AddStringToObject(fail, "stage", f->stage));
        if (gate)
            p4_json_need(cJSON_AddStringToObject(fail, "gate", gate));
        p4_json_need(cJSON_AddStringToObject(fail, "reason", f->reason ? f->reason : "Failed"));
        p4_json_need(cJSON_AddStringToObject(fail, "message", f->message ? f->message : ""));
        if (f->impact)
            p4_json_need(cJSON_AddStringToObject(fail, "impact", f->impact));
        if (f->cls == P4_FAIL_ARTIFACT && !f->stalled)
            (void)snprintf(remedy, sizeof(remedy),
                           "it is retried (%d attempts in all); if it "
                           "keeps failing: %s",
                           f->attempts, p4_verdict_remedy(f->reason, f->cls));
        else
            (void)snprintf(remedy, sizeof(remedy), "%s", p4_verdict_remedy(f->reason, f->cls));
        p4_json_need(cJSON_AddStringToObject(fail, "remediation", remedy));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(st, "report");
    cJSON_AddItemToObject(st, "report", report);
    p4_verdict_history(st, obj, report);
    cJSON_DeleteItemFromObjectCaseSensitive(st, "verdict");
    if (verdict)
        p4_json_need(cJSON_AddStringToObject(st, "verdict", verdict));
}

/*
 * Who approved generation's run (the field manager status.approval records), or NULL: no
 * approval was asked, or none is on record for it. An approval carried over from an older
 * generation with the same spec but for spec.suspend (approval.h) counts.
 */
static const char *approved_by(const cJSON *st, const cJSON *obj, int64_t generation)
{
    const char *by = p4_json_str(st, "approval.by"),
               *digest = p4_json_str(st, "approval.specDigest");
    char now[P4_SPEC_DIGEST_SIZE];
    int64_t g = -1;

    if (!p4_approval_required(obj) || p4_json_int64(st, "approval.generation", &g) != 0 ||
        g > generation)
        return NULL;
    if (g != generation && !(digest && p4_policy_spec_digest(obj, now) && strcmp(digest, now) == 0))
        return NULL;
    return by && by[0] ? by : "(unknown)";
}

/* generation's status.history entry, from its report (what the run made, when, its verdict). */
static cJSON *history_entry(const cJSON *st, const cJSON *obj, const cJSON *report,
                            const cJSON *was)
{
    cJSON *e = p4_json_need(cJSON_CreateObject()), *chart;
    const cJSON *images = p4_json_get(report, "artifacts.images");
    const char *approved = p4_json_str(was, "approvedBy");
    int64_t generation = 0;

    (void)p4_json_int64(report, "generation", &generation);
    p4_json_need(cJSON_AddNumberToObject(e, "generation", (double)generation));
    if (p4_json_str(report, "verdict"))
        p4_json_need(cJSON_AddStringToObject(e, "verdict", p4_json_str(report, "verdict")));
    if (p4_json_str(report, "startedAt"))
        p4_json_need(cJSON_AddStringToObject(e, "startedAt", p4_json_str(report, "startedAt")));
    if (p4_json_str(report, "finishedAt"))
        p4_json_need(cJSON_AddStringToObject(e, "finishedAt", p4_json_str(report, "finishedAt")));
    if (p4_json_str(report, "failure.reason")) {
        p4_json_need(cJSON_AddStringToObject(
            e, "stage",
            p4_json_str(report, "failure.stage") ? p4_json_str(report, "failure.stage") : ""));
        p4_json_need(cJSON_AddStringToObject(e, "reason", p4_json_str(report, "failure.reason")));
    }
    if (p4_json_str(report, "artifacts.image") && p4_json_str(st, "image.digest"))
        p4_json_need(cJSON_AddStringToObject(e, "imageDigest", p4_json_str(st, "image.digest")));
    if (cJSON_IsArray(images))
        p4_json_need(cJSON_AddNumberToObject(e, "images", cJSON_GetArraySize(images)));
    if (p4_json_str(report, "artifacts.chart") && p4_json_str(obj, "spec.chart.name") &&
        p4_json_str(st, "chart.version")) {
        chart = p4_json_need(cJSON_AddObjectToObject(e, "chart"));
        p4_json_need(cJSON_AddStringToObject(chart, "name", p4_json_str(obj, "spec.chart.name")));
        p4_json_need(cJSON_AddStringToObject(chart, "version", p4_json_str(st, "chart.version")));
        if (p4_json_str(report, "artifacts.chartDigest"))
            p4_json_need(cJSON_AddStringToObject(chart, "digest",
                                                 p4_json_str(report, "artifacts.chartDigest")));
    }
    /* Who approved the run: "" when no approval was asked (or none is on record yet). */
    if (approved == NULL || approved[0] == '\0')
        approved = approved_by(st, obj, generation);
    p4_json_need(cJSON_AddStringToObject(e, "approvedBy", approved ? approved : ""));
    return e;
}

void p4_verdict_history(cJSON *st, const cJSON *obj, const cJSON *report)
{
    const cJSON *old = p4_json_get(obj, "status.history"), *h, *was = NULL;
    cJSON *list = p4_json_need(cJSON_CreateArray());
    int64_t generation = 0, g;

    (void)p4_json_int64(report, "generation", &generation);
    cJSON_ArrayForEach(h, old) {
        if (p4_json_int64(h, "generation", &g) == 0 && g == generation)
            was = h;
    }
    cJSON_AddItemToArray(list, history_entry(st, obj, report, was));
    cJSON_ArrayForEach(h, old) { /* the older revisions, newest first, as they were */
        if (cJSON_GetArraySize(list) >= P4_MANIFEST_HISTORY)
            break;
        if (!cJSON_IsObject(h) || p4_json_int64(h, "generation", &g) != 0 || g == generation)
            continue;
        cJSON_AddItemToArray(list, p4_json_need(cJSON_Duplicate(h, 1)));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(st, "history");
    cJSON_AddItemToObject(st, "history", list);
}

static void item(cJSON *list, const char *stage, const char *text, bool done)
{
    cJSON *e = p4_json_need(cJSON_CreateObject());

    p4_json_need(cJSON_AddStringToObject(e, "stage", stage));
    p4_json_need(cJSON_AddStringToObject(e, "item", text));
    p4_json_need(cJSON_AddBoolToObject(e, "done", done));
    cJSON_AddItemToArray(list, e);
}

void p4_verdict_readiness(cJSON *st, const cJSON *obj, int64_t generation)
{
    cJSON *list = p4_json_need(cJSON_CreateArray());
    const char *digest = p4_json_str(st, "image.digest");
    const char *manifest = p4_json_str(st, "chart.manifest");
    const cJSON *http = p4_json_get(obj, "spec.validation.http");

    item(list, "Docker", "an image to deploy (spec.image)",
         p4_json_str(obj, "spec.image.repository") != NULL);
    item(list, "Helm", "the Docker stage passed", passed(st, P4_STAGE_DOCKER, generation));
    item(list, "Helm", "the image digest pinned (status.image.digest)",
         passed(st, P4_STAGE_DOCKER, generation) && digest && digest[0]);
    item(list, "Kubernetes", "the Helm stage passed", passed(st, P4_STAGE_HELM, generation));
    item(list, "Kubernetes", "the chart rendered and its manifest stored (status.chart.manifest)",
         passed(st, P4_STAGE_HELM, generation) && manifest && manifest[0]);
    item(list, "Validation", "the Kubernetes stage passed",
         passed(st, P4_STAGE_KUBERNETES, generation));
    item(list, "Validation", "health checks defined (spec.validation.http)",
         cJSON_GetArraySize(http) > 0);
    item(list, "Rollback", "a rollback target known (status.lastKnownGoodRevision)",
         p4_json_get(st, "lastKnownGoodRevision") != NULL);
    cJSON_DeleteItemFromObjectCaseSensitive(st, "readiness");
    cJSON_AddItemToObject(st, "readiness", list);
}
