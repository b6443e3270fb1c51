/* finalizer.c: the deletion finalizer (see finalizer.h). */
#include "phase4/reconciler/finalizer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/reconciler/stagerun.h"

/* The index of P4_FINALIZER in obj's finalizers, or -1. */
static int index_of(const cJSON *obj)
{
    const cJSON *f;
    int i = 0;

    cJSON_ArrayForEach(f, p4_json_get(obj, "metadata.finalizers")) {
        if (cJSON_IsString(f) && strcmp(f->valuestring, P4_FINALIZER) == 0)
            return i;
        i++;
    }
    return -1;
}

bool p4_finalizer_has(const cJSON *obj)
{
    return index_of(obj) >= 0;
}

static char *print(cJSON *patch)
{
    char *text = p4_json_print(patch);

    cJSON_Delete(patch);
    if (text == NULL)
        abort(); /* only cJSON's own allocation can fail here */
    return text;
}

char *p4_finalizer_add_patch(const cJSON *obj)
{
    const char *rv = p4_json_str(obj, "metadata.resourceVersion");
    const cJSON *f;
    cJSON *patch, *op, *list;

    if (p4_finalizer_has(obj) || rv == NULL || rv[0] == '\0')
        return NULL;
    patch = p4_json_need(cJSON_CreateArray());
    op = p4_json_need(cJSON_CreateObject());
    p4_json_need(cJSON_AddStringToObject(op, "op", "test"));
    p4_json_need(cJSON_AddStringToObject(op, "path", "/metadata/resourceVersion"));
    p4_json_need(cJSON_AddStringToObject(op, "value", rv));
    p4_json_need_ok(cJSON_AddItemToArray(patch, op));
    op = p4_json_need(cJSON_CreateObject());
    p4_json_need(cJSON_AddStringToObject(op, "op", "add"));
    p4_json_need(cJSON_AddStringToObject(op, "path", "/metadata/finalizers"));
    list = p4_json_need(cJSON_AddArrayToObject(op, "value"));
    cJSON_ArrayForEach(f, p4_json_get(obj, "metadata.finalizers")) {
        if (cJSON_IsString(f))
            p4_json_need_ok(
                cJSON_AddItemToArray(list, p4_json_need(cJSON_CreateString(f->valuestring))));
    }
    p4_json_need_ok(cJSON_AddItemToArray(list, p4_json_need(cJSON_CreateString(P4_FINALIZER))));
    p4_json_need_ok(cJSON_AddItemToArray(patch, op));
    return print(patch);
}

char *p4_finalizer_remove_patch(const cJSON *obj)
{
    int i = index_of(obj);
    char path[64];
    cJSON *patch, *op;

    if (i < 0)
        return NULL;
    (void)snprintf(path, sizeof(path), "/metadata/finalizers/%d", i);
    patch = p4_json_need(cJSON_CreateArray());
    op = p4_json_need(cJSON_CreateObject());
    p4_json_need(cJSON_AddStringToObject(op, "op", "test"));
    p4_json_need(cJSON_AddStringToObject(op, "path", path));
    p4_json_need(cJSON_AddStringToObject(op, "value", P4_FINALIZER));
    p4_json_need_ok(cJSON_AddItemToArray(patch, op));
    op = p4_json_need(cJSON_CreateObject());
    p4_json_need(cJSON_AddStringToObject(op, "op", "remove"));
    p4_json_need(cJSON_AddStringToObject(op, "path", path));
    p4_json_need_ok(cJSON_AddItemToArray(patch, op));
    return print(patch);
}

uint64_t p4_finalizer_timeout_ms(const cJSON *obj)
{
    return p4_duration_ms(p4_json_str(obj, "spec.deletionTimeout"), P4_DELETION_TIMEOUT_MS);
}

uint64_t p4_finalizer_left_ms(const cJSON *obj, time_t now)
{
    int64_t since_us, now_us = (int64_t)now * 1000000, until_us;

    if (p4_timefmt_parse(p4_json_str(obj, "metadata.deletionTimestamp"), &since_us) != 0)
        return 0;
    until_us = since_us + (int64_t)p4_finalizer_timeout_ms(obj) * 1000;
    return until_us > now_us ? (uint64_t)((until_us - now_us + 999) / 1000) : 0;
}

void p4_finalizer_final_event(const cJSON *obj, const struct p4_finalize_result *fr, bool timed_out,
                              const char **type, const char **reason, char *message, size_t size)
{
    const char *policy = p4_json_str(obj, "spec.deletionPolicy");
    char kept[P4_FINALIZE_TEXT_MAX + 64] = "", blocked[P4_ERROR_MESSAGE_MAX + 16] = "";

    if (policy == NULL || policy[0] == '\0')
        policy = "Delete";
    if (fr->kept_why[0])
        p4_text_format(kept, sizeof(kept), "; %s", fr->kept_why);
    if (fr->blocked_message[0])
        p4_text_format(blocked, sizeof(blocked), " (%s)", fr->blocked_message);
    if (timed_out || fr->remaining > 0) {
        const char *t = p4_json_str(obj, "spec.deletionTimeout");
        char why[160];
        if (timed_out)
            (void)snprintf(why, sizeof(why), "spec.deletionTimeout (%.32s) passed", t ? t : "5m");
        else
            (void)snprintf(why, sizeof(why),
                           "the resource's namespace is being deleted, so "
                           "what could not be removed at once was left");
        *type = "Warning";
        *reason = timed_out ? "UninstallTimedOut" : "UninstallIncomplete";
        p4_text_format(message, size,
                       "%s; the finalizer was released with %d object(s) left: %s%s; %d "
                       "deleted, %d left because not ours, %d orphaned%s",
                       why, fr->remaining, fr->left[0] ? fr->left : "none listed", blocked,
                       fr->deleted, fr->not_ours, fr->orphaned, kept);
        return;
    }
    *type = "Normal";
    *reason = "Uninstalled";
    if (strcmp(policy, "Orphan") == 0)
        p4_text_format(message, size,
                       "deletionPolicy Orphan: everything was left in place and the ownership "
                       "marks were taken off %d object(s); %d left as they were because not ours%s",
                       fr->orphaned, fr->not_ours, kept);
    else
        p4_text_format(message, size,
                       "deletionPolicy %s: %d object(s) deleted, %d left because not ours, %d "
                       "kept (CustomResourceDefinitions are deleted only with DeleteCRDs)%s",
                       policy, fr->deleted, fr->not_ours, fr->kept, kept);
}
