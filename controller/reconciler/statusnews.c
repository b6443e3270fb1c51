/* statusnews.c: what a status write would tell a reader (see statusnews.h). */
#include "phase4/reconciler/statusnews.h"

#include <stdbool.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* A gate listed before it starts: the same to a reader as a gate not listed yet. */
static bool not_started(const cJSON *gate)
{
    return p4_text_eq(p4_json_str(gate, "status"), "Unknown") &&
           p4_text_eq(p4_json_str(gate, "reason"), "Checking");
}

/* Copy member key of from into to, when from has it. */
static void copy_member(cJSON *to, const cJSON *from, const char *key)
{
    const cJSON *m = p4_json_child(from, key);

    if (m != NULL)
        p4_json_need_ok(cJSON_AddItemToObject(to, key, p4_json_need(cJSON_Duplicate(m, 1))));
}

/* Delete every member key of obj (JSON may name one twice; the API server never does). */
static void delete_all(cJSON *obj, const char *key)
{
    while (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

/*
 * The status as news sees it (caller frees): every gate as its stage, name, status and reason,
 * those not started left out; status.health as its problem alone; the rest as it is.
 */
static cJSON *news_view(const cJSON *status)
{
    cJSON *view = p4_json_need(cJSON_Duplicate(status, 1));
    const cJSON *gates = p4_json_child(status, "gates"), *g, *problem;

    if (cJSON_IsArray(gates)) {
        cJSON *list = p4_json_need(cJSON_CreateArray());
        cJSON_ArrayForEach(g, gates) {
            cJSON *o;
            if (!cJSON_IsObject(g)) {
                p4_json_need_ok(cJSON_AddItemToArray(list, p4_json_need(cJSON_Duplicate(g, 1))));
                continue;
            }
            if (not_started(g))
                continue;
            o = p4_json_need(cJSON_CreateObject());
            copy_member(o, g, "stage");
            copy_member(o, g, "name");
            copy_member(o, g, "status");
            copy_member(o, g, "reason");
            p4_json_need_ok(cJSON_AddItemToArray(list, o));
        }
        delete_all(view, "gates");
        p4_json_need_ok(cJSON_AddItemToObject(view, "gates", list));
    }
    problem = p4_json_get(status, "health.problem");
    delete_all(view, "health");
    if (problem != NULL) {
        cJSON *h = p4_json_need(cJSON_AddObjectToObject(view, "health"));
        p4_json_need_ok(
            cJSON_AddItemToObject(h, "problem", p4_json_need(cJSON_Duplicate(problem, 1))));
    }
    return view;
}

enum p4_statusnews p4_statusnews_compare(const cJSON *written, const cJSON *desired)
{
    enum p4_statusnews news = P4_STATUSNEWS_NEWS;
    cJSON *a, *b;

    if (cJSON_Compare(written, desired, 1))
        return P4_STATUSNEWS_SAME;
    if (!cJSON_IsObject(written) || !cJSON_IsObject(desired))
        return P4_STATUSNEWS_NEWS; /* the first status, or one that was not an object */
    a = news_view(written);
    b = news_view(desired);
    if (cJSON_Compare(a, b, 1))
        news = P4_STATUSNEWS_PROGRESS;
    cJSON_Delete(a);
    cJSON_Delete(b);
    return news;
}

const char *p4_statusnews_name(enum p4_statusnews news)
{
    switch (news) {
    case P4_STATUSNEWS_SAME:
        return "same";
    case P4_STATUSNEWS_PROGRESS:
        return "progress";
    case P4_STATUSNEWS_NEWS:
        return "news";
    }
    return "news";
}
