/*
 * statusnews_fuzz.c: libFuzzer target for what a status write would tell
 * (reconciler/statusnews.h).
 *
 * Input layout: the whole input is a status as JSON (as the API server hands back a
 * Phase4Deployment's status, whose bytes anyone with write access to /status shapes), parsed
 * with cJSON_ParseWithLength (never read past size).
 * Invariants (for a status with no key twice): a status compared with itself (and with its copy) is
 * the same; against none it is never the same; with every gate's message and status.health's counts
 * changed it is the same or progress, never news (status.health.problem is left alone here); with
 * another stage it is news.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/reconciler/statusnews.h"

/* st with each object gate's message and each health count replaced (st is a copy, changed). */
static void change_progress(cJSON *st)
{
    cJSON *gates = cJSON_GetObjectItemCaseSensitive(st, "gates");
    cJSON *health = cJSON_GetObjectItemCaseSensitive(st, "health"), *g;

    if (cJSON_IsArray(gates)) {
        cJSON_ArrayForEach(g, gates) {
            if (!cJSON_IsObject(g))
                continue;
            cJSON_DeleteItemFromObjectCaseSensitive(g, "message");
            cJSON_AddStringToObject(g, "message", "2 of 3 replicas updated");
        }
    }
    if (cJSON_IsObject(health)) {
        cJSON_DeleteItemFromObjectCaseSensitive(health, "pods");
        cJSON_AddStringToObject(health, "pods", "7/9");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *st = cJSON_ParseWithLength((const char *)data, size);
    cJSON *copy, *stage;
    enum p4_statusnews n;
    cJSON_bool canonical;

    if (st == NULL)
        return 0;
    copy = cJSON_Duplicate(st, 1);
    if (copy == NULL) { /* nested deeper than cJSON duplicates */
        cJSON_Delete(st);
        return 0;
    }
    /* An object with one key twice and two values is not equal to its copy as cJSON compares
       (the API server never sends one): the code runs on it, the invariants do not hold. */
    canonical = cJSON_Compare(st, copy, 1);
    n = p4_statusnews_compare(st, copy);
    if (canonical &&
        (p4_statusnews_compare(st, st) != P4_STATUSNEWS_SAME || n != P4_STATUSNEWS_SAME ||
         p4_statusnews_compare(NULL, st) == P4_STATUSNEWS_SAME))
        abort();
    if (canonical && cJSON_IsObject(st)) {
        change_progress(copy);
        n = p4_statusnews_compare(st, copy);
        if (n == P4_STATUSNEWS_NEWS)
            abort();
        /* another stage: a list holding the old one, never equal to it */
        stage = cJSON_CreateArray();
        if (stage == NULL)
            abort();
        if (cJSON_GetObjectItemCaseSensitive(st, "stage") != NULL)
            cJSON_AddItemToArray(stage, cJSON_DetachItemFromObjectCaseSensitive(copy, "stage"));
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "stage");
        cJSON_AddItemToObject(copy, "stage", stage);
        if (p4_statusnews_compare(st, copy) != P4_STATUSNEWS_NEWS)
            abort();
    }
    if (strcmp(p4_statusnews_name(p4_statusnews_compare(copy, st)), "") == 0)
        abort();
    cJSON_Delete(copy);
    cJSON_Delete(st);
    return 0;
}
