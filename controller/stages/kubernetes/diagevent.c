/* diagevent.c: failures read from Events (see diagevent.h). */
#include "diagevent.h"

#include <string.h>

#include "diagimage.h"
#include "diagrefusal.h"
#include "diagsched.h"
#include "objtext.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

bool p4_diagevent_read(const cJSON *ev, struct p4_diagevent *e)
{
    const cJSON *obj = p4_json_get(ev, "involvedObject");
    const char *kind = p4_json_str(ev, "kind");

    memset(e, 0, sizeof(*e));
    if (!cJSON_IsObject(obj))
        obj = p4_json_get(ev, "regarding");
    e->reason = p4_json_str(ev, "reason");
    if (!cJSON_IsObject(ev) || !cJSON_IsObject(obj) || e->reason == NULL ||
        (p4_json_get(ev, "kind") != NULL && !p4_text_eq(kind, "Event")))
        return false;
    e->type = p4_json_str(ev, "type");
    e->message = p4_json_str(ev, "message");
    if (e->message == NULL)
        e->message = p4_json_str(ev, "note");
    if (e->message == NULL)
        e->message = "";
    e->kind = p4_json_str(obj, "kind");
    e->ns = p4_json_str(obj, "namespace");
    e->name = p4_json_str(obj, "name");
    e->field_path = p4_json_str(obj, "fieldPath");
    return true;
}

/* "container web" from a fieldPath "spec.containers{web}", or "" when it names none. */
static const char *container_of(char *dst, size_t size, const char *field_path)
{
    const char *open = field_path != NULL ? strchr(field_path, '{') : NULL;
    char name[P4_DIAGNOSE_NAME_SHOWN];
    size_t n;

    dst[0] = '\0';
    if (open == NULL)
        return dst;
    n = p4_objtext_upto(open + 1, '}', NULL);
    p4_objtext_put(name, sizeof(name), open + 1, n);
    if (name[0] != '\0')
        p4_text_format(dst, size, "%scontainer %s",
                       p4_objtext_has(field_path, "initContainers") ? "init " : "", name);
    return dst;
}

static int failed_event(struct p4_diagnosis *out, const struct p4_diagevent *e, const char *who_)
{
    const char *m = e->message, *p;
    char container[P4_DIAGNOSE_NAME_SHOWN + 16];

    container_of(container, sizeof(container), e->field_path);
    if ((p = p4_objtext_after(m, "Failed to pull image \"")) != NULL) {
        const char *rest;
        size_t n = p4_objtext_upto(p, '"', &rest);

        if (*rest == '"')
            rest++;
        (void)p4_objtext_skip(&rest, ": ");
        return p4_diagimage_pull(out, who_, container, p, n, rest, "ErrImagePull");
    }
    if (p4_objtext_has(m, "InvalidImageName"))
        return p4_diagimage_invalid(out, who_, container, NULL, 0);
    if (p4_objtext_has(m, "ErrImageNeverPull"))
        return p4_diagimage_never_pull(out, who_, container, NULL, 0);
    if (p4_objtext_has(m, "ImagePullBackOff"))
        return p4_diagimage_pull(out, who_, container, NULL, 0, NULL, "ImagePullBackOff");
    if (p4_objtext_has(m, "ErrImagePull"))
        return p4_diagimage_pull(out, who_, container, NULL, 0, NULL, "ErrImagePull");
    if (p4_objtext_has(m, "image") &&
        (p4_objtext_has(m, "manifest unknown") || p4_objtext_has(m, "not found")))
        return p4_diagimage_pull(out, who_, container, NULL, 0, m, "ErrImagePull");
    return 0;
}

static int backoff_event(struct p4_diagnosis *out, const struct p4_diagevent *e, const char *who_)
{
    const char *m = e->message, *p;
    char container[P4_DIAGNOSE_NAME_SHOWN + 16], name[P4_DIAGNOSE_NAME_SHOWN];

    container_of(container, sizeof(container), e->field_path);
    if ((p = p4_objtext_after(m, "Back-off restarting failed container")) != NULL) {
        while (*p == ' ')
            p++;
        p4_objtext_put(name, sizeof(name), p, p4_objtext_upto(p, ' ', NULL));
        if (name[0] != '\0')
            p4_text_format(container, sizeof(container), "container %s", name);
        return p4_diagnose_found(
            out, "CrashLoopBackOff", P4_FAIL_ARTIFACT,
            "%s: %s keeps crashing and is restarted with back-off (CrashLoopBackOff). "
            "Its exit code and last logs (kubectl logs --previous) tell why; fix the "
            "image or the chart's configuration: a new image or chart is needed.",
            who_, container[0] != '\0' ? container : "a container");
    }
    if ((p = p4_objtext_after(m, "Back-off pulling image \"")) != NULL) {
        const char *rest;
        size_t n = p4_objtext_upto(p, '"', &rest);

        return p4_diagimage_pull(out, who_, container, p, n,
                                 p4_objtext_after(rest, "ErrImagePull: "), "ImagePullBackOff");
    }
    return 0;
}

int p4_diagnose_event(const cJSON *event, struct p4_diagnosis *out)
{
    struct p4_diagevent e;
    char who_[P4_DIAGNOSE_WHO_SIZE], lead[P4_DIAGNOSE_LEAD_SIZE], words[P4_DIAGNOSE_WORDS_SHOWN];
    const char *r;

    if (out == NULL)
        return P4_ERR_INVAL;
    p4_diagnose_clear(out);
    if (!p4_diagevent_read(event, &e))
        return P4_ERR_INVAL;
    r = e.reason;
    p4_diagnose_who(who_, sizeof(who_), e.kind, e.ns, e.name);
    /* The kubelet reports node conditions as Normal Events. */
    if (p4_text_eq(r, "NodeHasDiskPressure") || p4_text_eq(r, "NodeHasInsufficientMemory") ||
        p4_text_eq(r, "NodeHasInsufficientPID"))
        return p4_diagnose_found(
            out, "NodePressure", P4_FAIL_CLUSTER,
            "%s reports %s. The node is short of resources: a person must free or add "
            "capacity.",
            who_, r);
    if (!p4_text_eq(e.type, "Warning"))
        return 0;
    if (p4_text_eq(r, "Failed"))
        return failed_event(out, &e, who_);
    if (p4_text_eq(r, "BackOff"))
        return backoff_event(out, &e, who_);
    if (p4_text_eq(r, "InspectFailed") &&
        (p4_objtext_has(e.message, "Failed to apply default image tag") ||
         p4_objtext_has(e.message, "invalid reference format"))) {
        const char *p = p4_objtext_after(e.message, "image tag \"");
        char container[P4_DIAGNOSE_NAME_SHOWN + 16];

        container_of(container, sizeof(container), e.field_path);
        return p4_diagimage_invalid(out, who_, container, p,
                                    p != NULL ? p4_objtext_upto(p, '"', NULL) : 0);
    }
    if (p4_text_eq(r, "ErrImageNeverPull")) {
        const char *p = p4_objtext_after(e.message, "Container image \"");
        char container[P4_DIAGNOSE_NAME_SHOWN + 16];

        container_of(container, sizeof(container), e.field_path);
        return p4_diagimage_never_pull(out, who_, container, p,
                                       p != NULL ? p4_objtext_upto(p, '"', NULL) : 0);
    }
    if (p4_text_eq(r, "FailedScheduling"))
        return p4_diagsched_unschedulable(out, who_, e.message);
    if (p4_text_eq(r, "FailedCreate") || p4_text_eq(r, "ReplicaSetCreateError")) {
        p4_text_format(lead, sizeof(lead), "%s cannot create its %s", who_,
                       p4_text_eq(r, "ReplicaSetCreateError") ? "ReplicaSet" : "pods");
        return p4_diagrefusal_text(out, lead, e.message, NULL);
    }
    if (p4_text_eq(r, "ProgressDeadlineExceeded")) {
        p4_objtext_clip(words, sizeof(words), e.message);
        return p4_diagnose_found(
            out, "ProgressDeadlineExceeded", P4_FAIL_ARTIFACT,
            "%s: the rollout did not progress within its deadline%s%s. Its pods' Events "
            "tell why; a new image or chart is needed.",
            who_, words[0] != '\0' ? ": " : "", words);
    }
    if (p4_text_eq(r, "Evicted") && p4_objtext_has(e.message, "low on resource"))
        return p4_diagnose_node_pressure(out, who_, "was evicted", e.message);
    if (p4_text_eq(r, "EvictionThresholdMet"))
        return p4_diagnose_node_pressure(out, who_, "met an eviction threshold", e.message);
    return 0;
}
