/* diagobject.c: failures read from an object's own status (see diagobject.h). */
#include "diagobject.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "diagimage.h"
#include "diagrefusal.h"
#include "diagsched.h"
#include "objtext.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* The first entry of status.conditions of type whose status is want; NULL when none. */
static const cJSON *condition(const cJSON *obj, const char *type, const char *want)
{
    const cJSON *conds = p4_json_get(obj, "status.conditions");

    if (!cJSON_IsArray(conds))
        return NULL;
    for (const cJSON *it = conds->child; it != NULL; it = it->next) {
        if (p4_text_eq(p4_json_str(it, "type"), type))
            return p4_text_eq(p4_json_str(it, "status"), want) ? it : NULL;
    }
    return NULL;
}

static int crash_loop(struct p4_diagnosis *out, const char *who_, const char *container,
                      const cJSON *st)
{
    const cJSON *term = p4_json_get(st, "lastState.terminated");
    const char *why = p4_json_str(term, "reason"), *last = p4_json_str(term, "message");
    int64_t restarts = 0, code = 0;
    bool has_code = cJSON_IsObject(term) && p4_json_int64(term, "exitCode", &code) == 0;
    char restarted[48] = "", exited[P4_DIAGNOSE_NAME_SHOWN + 64] = "",
         words[P4_DIAGNOSE_WORDS_SHOWN], why_shown[64];
    bool oom = p4_text_eq(why, "OOMKilled");
    const char *todo =
        "Fix the image or the chart's configuration: a new image or chart is needed.";

    if (p4_json_int64(st, "restartCount", &restarts) == 0 && restarts > 0)
        p4_text_format(restarted, sizeof(restarted), " after %" PRId64 " restart%s", restarts,
                       restarts == 1 ? "" : "s");
    p4_objtext_clip(why_shown, sizeof(why_shown), why);
    if (has_code)
        p4_text_format(exited, sizeof(exited), "; it last exited with code %" PRId64 "%s%s%s", code,
                       why_shown[0] != '\0' ? " (" : "", why_shown,
                       why_shown[0] != '\0' ? ")" : "");
    p4_objtext_put_tail(words, sizeof(words), last, last != NULL ? strlen(last) : 0);
    if (oom)
        todo = "It ran out of memory: raise its memory limit in the chart (a new chart is needed).";
    else if (words[0] == '\0')
        todo = "Its last logs (kubectl logs --previous) tell why; fix the image or the chart's "
               "configuration: a new image or chart is needed.";
    return p4_diagnose_found(out, "CrashLoopBackOff", P4_FAIL_ARTIFACT,
                             "%s: %s keeps crashing (CrashLoopBackOff%s)%s%s%s%s. %s", who_,
                             container, restarted, exited,
                             words[0] != '\0' ? ", its last words: \"" : "", words,
                             words[0] != '\0' ? "\"" : "", todo);
}

/* A container status waiting on a failure; 1 when it is one. */
static int container_failed(struct p4_diagnosis *out, const char *who_, const cJSON *st, bool init)
{
    const char *waiting = p4_json_str(st, "state.waiting.reason");
    const char *message = p4_json_str(st, "state.waiting.message");
    const char *image = p4_json_str(st, "image");
    char name[P4_DIAGNOSE_NAME_SHOWN], container[P4_DIAGNOSE_NAME_SHOWN + 16];

    if (waiting == NULL)
        return 0;
    p4_objtext_clip(name, sizeof(name), p4_json_str(st, "name"));
    p4_text_format(container, sizeof(container), "%scontainer %s", init ? "init " : "",
                   name[0] != '\0' ? name : "(unnamed)");
    if (p4_text_eq(waiting, "ImagePullBackOff") || p4_text_eq(waiting, "ErrImagePull")) {
        /* A back-off's message ('Back-off pulling image "i"') may carry the error after it. */
        const char *err = message;

        if (p4_objtext_has(message, "Back-off pulling image"))
            err = p4_objtext_after(message, "ErrImagePull: ");
        return p4_diagimage_pull(out, who_, container, image, image != NULL ? strlen(image) : 0,
                                 err, waiting);
    }
    if (p4_text_eq(waiting, "InvalidImageName"))
        return p4_diagimage_invalid(out, who_, container, image, image != NULL ? strlen(image) : 0);
    if (p4_text_eq(waiting, "ErrImageNeverPull"))
        return p4_diagimage_never_pull(out, who_, container, image,
                                       image != NULL ? strlen(image) : 0);
    if (p4_text_eq(waiting, "CrashLoopBackOff"))
        return crash_loop(out, who_, container, st);
    return 0;
}

static int pod(struct p4_diagnosis *out, const cJSON *obj, const char *who_)
{
    static const char *const lists[] = {"status.initContainerStatuses", "status.containerStatuses"};
    const cJSON *c;

    if (p4_text_eq(p4_json_str(obj, "status.phase"), "Failed") &&
        p4_text_eq(p4_json_str(obj, "status.reason"), "Evicted") &&
        p4_objtext_has(p4_json_str(obj, "status.message"), "low on resource"))
        return p4_diagnose_node_pressure(out, who_, "was evicted",
                                         p4_json_str(obj, "status.message"));
    for (size_t l = 0; l < 2; l++) {
        const cJSON *statuses = p4_json_get(obj, lists[l]);

        for (const cJSON *it = cJSON_IsArray(statuses) ? statuses->child : NULL; it != NULL;
             it = it->next) {
            if (cJSON_IsObject(it) && container_failed(out, who_, it, l == 0))
                return 1;
        }
    }
    c = condition(obj, "PodScheduled", "False");
    if (c != NULL && p4_text_eq(p4_json_str(c, "reason"), "Unschedulable")) {
        const char *msg = p4_json_str(c, "message");

        return p4_diagsched_unschedulable(out, who_, msg != NULL ? msg : "");
    }
    return 0;
}

static int workload(struct p4_diagnosis *out, const cJSON *obj, const char *who_, bool deployment)
{
    const cJSON *c = condition(obj, "ReplicaFailure", "True");
    char lead[P4_DIAGNOSE_LEAD_SIZE], words[P4_DIAGNOSE_WORDS_SHOWN];
    int64_t deadline = -1;

    if (c != NULL) {
        p4_text_format(lead, sizeof(lead), "%s cannot create its pods", who_);
        if (p4_diagrefusal_text(out, lead, p4_json_str(c, "message"), NULL))
            return 1;
    }
    c = condition(obj, "Progressing", "False");
    if (deployment && c != NULL &&
        p4_text_eq(p4_json_str(c, "reason"), "ProgressDeadlineExceeded")) {
        char within[48] = "";

        if (p4_json_int64(obj, "spec.progressDeadlineSeconds", &deadline) == 0 && deadline >= 0 &&
            deadline < INT32_MAX)
            p4_text_format(within, sizeof(within), " of %" PRId64 "s", deadline);
        p4_objtext_clip(words, sizeof(words), p4_json_str(c, "message"));
        return p4_diagnose_found(
            out, "ProgressDeadlineExceeded", P4_FAIL_ARTIFACT,
            "%s: the rollout did not progress within its deadline%s%s%s. Its pods' "
            "status and Events tell why; a new image or chart is needed.",
            who_, within, words[0] != '\0' ? ": " : "", words);
    }
    return 0;
}

int p4_diagnose_object(const cJSON *obj, struct p4_diagnosis *out)
{
    const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");
    const char *api = p4_json_str(obj, "apiVersion");
    char who_[P4_DIAGNOSE_WHO_SIZE];
    int rc = 0;

    if (out == NULL)
        return P4_ERR_INVAL;
    p4_diagnose_clear(out);
    if (kind == NULL || name == NULL)
        return P4_ERR_INVAL;
    p4_diagnose_who(who_, sizeof(who_), kind, p4_json_str(obj, "metadata.namespace"), name);
    /* Built-in kinds only: a custom resource called Pod is not one. */
    if (p4_text_eq(kind, "Pod") && (api == NULL || p4_text_eq(api, "v1")))
        rc = pod(out, obj, who_);
    else if (p4_text_eq(kind, "Deployment") && (api == NULL || strncmp(api, "apps/", 5) == 0))
        rc = workload(out, obj, who_, true);
    else if (p4_text_eq(kind, "ReplicaSet") && (api == NULL || strncmp(api, "apps/", 5) == 0))
        rc = workload(out, obj, who_, false);
    if (rc == 0)
        p4_diagnose_clear(out);
    return rc;
}
