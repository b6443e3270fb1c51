/* healthpod.c: the health of a Pod (see healthpod.h). */
#include "healthpod.h"

#include <inttypes.h>
#include <string.h>

#include "objtext.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

#define IMAGE_SHOWN 160 /* an image reference in a message */

/* A container found in a pod's status, with what the message needs. */
struct container {
    const cJSON *status; /* the entry of initContainerStatuses or containerStatuses */
    bool init;
    const char *name;    /* never NULL */
    const char *waiting; /* state.waiting.reason; NULL when not waiting */
};

/* The image of container c: its status's, else its spec's. Borrowed; "" when neither. */
static const char *container_image(const struct p4_healtheval *e, const struct container *c)
{
    const char *image = p4_json_str(c->status, "image");
    const cJSON *specs = p4_json_get(e->obj, c->init ? "spec.initContainers" : "spec.containers");

    if (image != NULL && image[0] != '\0')
        return image;
    if (!cJSON_IsArray(specs))
        return "";
    for (const cJSON *it = specs->child; it != NULL; it = it->next) {
        if (p4_text_eq(p4_json_str(it, "name"), c->name))
            return p4_objtext_or_empty(p4_json_str(it, "image"));
    }
    return "";
}

static bool is_image_reason(const char *r)
{
    return p4_text_eq(r, "ImagePullBackOff") || p4_text_eq(r, "ErrImagePull") ||
           p4_text_eq(r, "ErrImageNeverPull") || p4_text_eq(r, "InvalidImageName");
}

static bool is_create_reason(const char *r)
{
    return p4_text_eq(r, "CreateContainerConfigError") || p4_text_eq(r, "CreateContainerError") ||
           p4_text_eq(r, "RunContainerError");
}

static void crashloop(struct p4_healtheval *e, const struct container *c, const char *name)
{
    const cJSON *last = p4_json_get(c->status, "lastState.terminated");
    int64_t restarts = 0, exit_code = 0;
    char why[P4_HEALTHEVAL_NAME_SHOWN], msg[P4_HEALTHEVAL_TEXT_SHOWN];
    bool permanent;

    if (p4_json_int64(c->status, "restartCount", &restarts) != 0 || restarts < 0)
        restarts = 0;
    permanent = restarts >= P4_HEALTH_CRASHLOOP_RESTARTS;
    if (cJSON_IsObject(last) && p4_json_int64(last, "exitCode", &exit_code) == 0) {
        p4_objtext_clip(why, sizeof(why), p4_json_str(last, "reason"));
        p4_objtext_clip(msg, sizeof(msg), p4_json_str(last, "message"));
        p4_healtheval_result(e, P4_HEALTH_FAILED, permanent, "CrashLoopBackOff",
                             "%s: container %s is in CrashLoopBackOff after %" PRId64
                             " restart%s, last exit code %" PRId64 "%s%s%s%s%s",
                             e->who, name, restarts, p4_objtext_plural(restarts), exit_code,
                             why[0] != '\0' ? " (" : "", why, why[0] != '\0' ? ")" : "",
                             p4_objtext_colon(msg), msg);
        return;
    }
    p4_objtext_clip(msg, sizeof(msg), p4_json_str(c->status, "state.waiting.message"));
    p4_healtheval_result(e, P4_HEALTH_FAILED, permanent, "CrashLoopBackOff",
                         "%s: container %s is in CrashLoopBackOff after %" PRId64 " restart%s%s%s",
                         e->who, name, restarts, p4_objtext_plural(restarts), p4_objtext_colon(msg),
                         msg);
}

/* A container waiting for a reason that waiting will not fix: the result; false otherwise. */
static bool container_failed(struct p4_healtheval *e, const struct container *c)
{
    const char *r = c->waiting;
    char name[P4_HEALTHEVAL_NAME_SHOWN], image[IMAGE_SHOWN], msg[P4_HEALTHEVAL_TEXT_SHOWN];

    p4_objtext_clip(name, sizeof(name), c->name);
    if (p4_text_eq(r, "CrashLoopBackOff")) {
        crashloop(e, c, name);
        return true;
    }
    p4_objtext_clip(msg, sizeof(msg), p4_json_str(c->status, "state.waiting.message"));
    if (is_image_reason(r)) {
        p4_objtext_clip(image, sizeof(image), container_image(e, c));
        /* What heals it comes before the kubelet's text, which may be cut. */
        p4_healtheval_result(
            e, P4_HEALTH_FAILED, !p4_text_eq(r, "ErrImagePull"), r,
            "%s: container %s cannot pull image %s (%s; %s)%s%s", e->who, name, image, r,
            p4_text_eq(r, "ErrImageNeverPull")  ? "imagePullPolicy is Never and the node lacks the "
                                                  "image; load it there or change the policy"
            : p4_text_eq(r, "InvalidImageName") ? "not a valid image reference; correct it"
                                                : "a corrected image reference or a pushed image "
                                                  "heals it",
            p4_objtext_colon(msg), msg);
        return true;
    }
    if (is_create_reason(r)) {
        p4_healtheval_result(e, P4_HEALTH_FAILED, false, r,
                             "%s: container %s cannot start (%s)%s%s", e->who, name, r,
                             p4_objtext_colon(msg), msg);
        return true;
    }
    return false;
}

/* The message of a pod that failed: the pod's own reason, else a container's exit. */
static void pod_failed(struct p4_healtheval *e, const cJSON *statuses)
{
    char why[P4_HEALTH_REASON_MAX], msg[P4_HEALTHEVAL_TEXT_SHOWN], name[P4_HEALTHEVAL_NAME_SHOWN];
    const char *reason = p4_json_str(e->obj, "status.reason");
    const char *message = p4_json_str(e->obj, "status.message");

    if (message != NULL && message[0] != '\0') {
        p4_objtext_clip(why, sizeof(why), p4_healtheval_reason_or(reason, "Failed"));
        p4_objtext_clip(msg, sizeof(msg), message);
        p4_healtheval_result(e, P4_HEALTH_FAILED, true, "PodFailed", "%s failed (%s): %s", e->who,
                             why, msg);
        return;
    }
    for (const cJSON *it = statuses != NULL ? statuses->child : NULL; it != NULL; it = it->next) {
        const cJSON *term = p4_json_get(it, "state.terminated");
        int64_t code = 0;

        if (!cJSON_IsObject(term) || p4_json_int64(term, "exitCode", &code) != 0 || code == 0)
            continue;
        p4_objtext_clip(name, sizeof(name), p4_json_str(it, "name"));
        p4_objtext_clip(why, sizeof(why),
                        p4_healtheval_reason_or(p4_json_str(term, "reason"), "Error"));
        p4_healtheval_result(e, P4_HEALTH_FAILED, true, "PodFailed",
                             "%s failed: container %s exited with code %" PRId64 " (%s)", e->who,
                             name, code, why);
        return;
    }
    p4_healtheval_result(e, P4_HEALTH_FAILED, true, "PodFailed", "%s failed", e->who);
}

void p4_healthpod_eval(struct p4_healtheval *e)
{
    static const char *const lists[] = {"status.initContainerStatuses", "status.containerStatuses"};
    const char *phase = p4_healtheval_text(e, "status.phase");
    const cJSON *statuses[2] = {p4_healtheval_list(e, lists[0]), p4_healtheval_list(e, lists[1])};
    struct container first_waiting = {0}, first_unready = {0};
    char msg[P4_HEALTHEVAL_TEXT_SHOWN], name[P4_HEALTHEVAL_NAME_SHOWN],
        node[P4_HEALTHEVAL_NAME_SHOWN];
    struct p4_healtheval_cond c;

    if (p4_healtheval_malformed(e))
        return;
    if (p4_text_eq(phase, "Succeeded")) {
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Succeeded", "%s completed successfully",
                             e->who);
        return;
    }
    if (p4_text_eq(phase, "Failed")) {
        pod_failed(e, statuses[1]);
        return;
    }
    if (p4_text_eq(phase, "Unknown")) {
        p4_healtheval_result(e, P4_HEALTH_UNKNOWN, false, "PodUnknown",
                             "%s: phase Unknown, its node stopped reporting", e->who);
        return;
    }
    if (phase != NULL && !p4_text_eq(phase, "Pending") && !p4_text_eq(phase, "Running")) {
        p4_objtext_clip(msg, sizeof(msg), phase);
        p4_healtheval_result(e, P4_HEALTH_UNKNOWN, false, "MalformedObject",
                             "%s: status.phase \"%s\" is not a pod phase", e->who, msg);
        return;
    }
    if (p4_text_eq(phase, "Running") && p4_healtheval_cond_is(e, "Ready", "True", &c)) {
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready", "%s is running and ready",
                             e->who);
        return;
    }
    for (size_t l = 0; l < 2; l++) {
        for (const cJSON *it = statuses[l] != NULL ? statuses[l]->child : NULL; it != NULL;
             it = it->next) {
            struct container ct = {it, l == 0, p4_objtext_or_empty(p4_json_str(it, "name")),
                                   p4_json_str(it, "state.waiting.reason")};
            bool ready = false;

            if (!cJSON_IsObject(it))
                continue;
            if (ct.waiting != NULL && container_failed(e, &ct))
                return;
            if (ct.waiting != NULL && first_waiting.status == NULL)
                first_waiting = ct;
            if (p4_json_bool(it, "ready", &ready) == 0 && !ready && first_unready.status == NULL)
                first_unready = ct;
        }
    }
    if (p4_healtheval_cond_is(e, "PodScheduled", "False", &c) &&
        p4_text_eq(c.reason, "Unschedulable")) {
        const char *nominated = p4_json_str(e->obj, "status.nominatedNodeName");

        p4_objtext_clip(msg, sizeof(msg), c.message);
        if (nominated != NULL && nominated[0] != '\0') {
            p4_objtext_clip(node, sizeof(node), nominated);
            p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "Pending",
                                 "%s: waiting for preemption to make room on node %s%s%s", e->who,
                                 node, p4_objtext_colon(msg), msg);
        } else {
            p4_healtheval_result(e, P4_HEALTH_FAILED, true, "Unschedulable",
                                 "%s cannot be scheduled%s%s", e->who, p4_objtext_colon(msg), msg);
        }
        return;
    }
    if (p4_text_eq(phase, "Running")) {
        if (first_unready.status != NULL) {
            int64_t restarts = 0;
            char restarted[48] = "";

            p4_objtext_clip(name, sizeof(name), first_unready.name);
            if (p4_json_int64(first_unready.status, "restartCount", &restarts) == 0 && restarts > 0)
                p4_text_format(restarted, sizeof(restarted), " (%" PRId64 " restart%s)", restarts,
                               p4_objtext_plural(restarts));
            p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "PodNotReady",
                                 "%s is running but not ready: container %s is not ready%s", e->who,
                                 name, restarted);
        } else {
            (void)p4_healtheval_cond(e, "Ready", &c);
            p4_objtext_clip(msg, sizeof(msg), c.message);
            p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "PodNotReady",
                                 "%s is running but not ready%s%s", e->who, p4_objtext_colon(msg),
                                 msg);
        }
        return;
    }
    if (first_waiting.status != NULL) {
        char why[P4_HEALTH_REASON_MAX];

        p4_objtext_clip(name, sizeof(name), first_waiting.name);
        p4_objtext_clip(why, sizeof(why), first_waiting.waiting);
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "Pending",
                             "%s is Pending: %scontainer %s is waiting (%s)", e->who,
                             first_waiting.init ? "init " : "", name, why);
        return;
    }
    if (phase == NULL) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "Pending", "%s has no phase yet",
                             e->who);
        return;
    }
    if (!p4_healtheval_cond_is(e, "PodScheduled", "True", &c)) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "Pending",
                             "%s is Pending: not scheduled yet", e->who);
        return;
    }
    p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "Pending", "%s is Pending", e->who);
}
