/* diagwarnings.c: a namespace's recent Warning Events, grouped (see diagwarnings.h). */
#include "diagwarnings.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diagevent.h"
#include "diagnose.h"
#include "objtext.h"
#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"

#define KEY_MAX 256 /* bytes of reason, kind and name that tell warnings apart */
#define COUNT_MAX INT32_MAX

/* ---- grouping ---- */

struct warning {
    const char *reason, *kind, *name, *message;
    int64_t count;
    int64_t time; /* microseconds since 1970 (p4_timefmt_parse); valid when has_time */
    bool has_time;
    size_t index; /* in the list */
};

/* A count member at path, or 0 when absent or not a positive integer. */
static int64_t count_at(const cJSON *ev, const char *path)
{
    int64_t v = 0;

    if (p4_json_int64(ev, path, &v) != 0 || v < 1)
        return 0;
    return v > COUNT_MAX ? COUNT_MAX : v;
}

static void read_warning(const cJSON *ev, const struct p4_diagevent *e, size_t index,
                         struct warning *w)
{
    static const char *const times[] = {"series.lastObservedTime", "lastTimestamp",
                                        "deprecatedLastTimestamp", "eventTime",
                                        "metadata.creationTimestamp"};
    static const char *const counts[] = {"count", "series.count", "deprecatedCount"};

    memset(w, 0, sizeof(*w));
    w->reason = e->reason;
    w->kind = e->kind != NULL ? e->kind : "";
    w->name = e->name != NULL ? e->name : "";
    w->message = e->message;
    w->index = index;
    w->count = 1;
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        int64_t c = count_at(ev, counts[i]);

        if (c > w->count)
            w->count = c;
    }
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        int64_t t;

        if (p4_timefmt_parse(p4_json_str(ev, times[i]), &t) == 0 && (!w->has_time || t > w->time)) {
            w->time = t;
            w->has_time = true;
        }
    }
}

/* Order by reason, kind and name (their first KEY_MAX bytes): one group is one key. */
static int key_cmp(const struct warning *x, const struct warning *y)
{
    int c = strncmp(x->reason, y->reason, KEY_MAX);

    if (c == 0)
        c = strncmp(x->kind, y->kind, KEY_MAX);
    if (c == 0)
        c = strncmp(x->name, y->name, KEY_MAX);
    return c;
}

static bool same_key(const struct warning *x, const struct warning *y)
{
    return key_cmp(x, y) == 0;
}

/* By key, then by place in the list, so the order does not depend on qsort. */
static int by_key(const void *a, const void *b)
{
    const struct warning *x = a, *y = b;
    int c = key_cmp(x, y);

    if (c != 0)
        return c;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return 0;
}

/* Is a later than b: by time (a time beats none), then by place in the list. */
static bool later(const struct warning *a, const struct warning *b)
{
    if (a->has_time != b->has_time)
        return a->has_time;
    if (a->has_time && a->time != b->time)
        return a->time > b->time;
    return a->index > b->index;
}

/* Newest first. */
static int by_time(const void *a, const void *b)
{
    const struct warning *x = a, *y = b;

    if (later(x, y))
        return -1;
    return later(y, x) ? 1 : 0;
}

static cJSON *warning_json(const struct warning *w)
{
    cJSON *item = p4_json_need(cJSON_CreateObject());
    char reason[P4_DIAGNOSE_REASON_MAX * 2], kind[P4_DIAGNOSE_KIND_SHOWN + 16], name[254],
        object[sizeof(kind) + sizeof(name)], message[P4_DIAGNOSE_RECENT_MESSAGE_MAX + 1], seen[32];

    p4_objtext_clip(reason, sizeof(reason), w->reason);
    p4_objtext_clip(kind, sizeof(kind), w->kind);
    p4_objtext_clip(name, sizeof(name), w->name);
    p4_text_format(object, sizeof(object), "%s/%s", kind, name);
    p4_objtext_clip(message, sizeof(message), w->message);
    (void)p4_json_need(cJSON_AddStringToObject(item, "reason", reason));
    (void)p4_json_need(cJSON_AddStringToObject(item, "object", object));
    (void)p4_json_need(cJSON_AddNumberToObject(item, "count", (double)w->count));
    (void)p4_json_need(cJSON_AddStringToObject(item, "message", message));
    if (w->has_time) {
        p4_timefmt_format((time_t)(w->time / 1000000), seen, sizeof(seen));
        (void)p4_json_need(cJSON_AddStringToObject(item, "lastSeen", seen));
    }
    return item;
}

cJSON *p4_diagnose_recent_warnings(const cJSON *event_list, int max)
{
    const cJSON *items = event_list;
    struct warning *ws = NULL;
    cJSON *out = NULL;
    size_t n = 0, cap = 0, groups = 0, limit;

    if (cJSON_IsObject(event_list))
        items = p4_json_get(event_list, "items");
    if (!cJSON_IsArray(event_list) &&
        !(cJSON_IsObject(event_list) &&
          (items == NULL || cJSON_IsNull(items) || cJSON_IsArray(items))))
        goto out;
    out = p4_json_need(cJSON_CreateArray());
    limit = max <= 0 ? 0 : (size_t)(max > P4_DIAGNOSE_RECENT_MAX ? P4_DIAGNOSE_RECENT_MAX : max);
    if (limit == 0 || items == NULL || !cJSON_IsArray(items))
        goto out;
    for (const cJSON *it = items->child; it != NULL; it = it->next)
        cap++;
    if (cap == 0)
        goto out;
    ws = p4_malloc(cap * sizeof(*ws));
    for (const cJSON *it = items->child; it != NULL; it = it->next) {
        struct p4_diagevent e;

        if (p4_diagevent_read(it, &e) && p4_text_eq(e.type, "Warning")) {
            read_warning(it, &e, n, &ws[n]);
            n++;
        }
    }
    if (n == 0)
        goto out;
    qsort(ws, n, sizeof(*ws), by_key);
    /* Fold each run of one key into its first slot: counts summed, the latest kept. */
    for (size_t i = 0; i < n;) {
        struct warning g = ws[i];
        size_t j;

        for (j = i + 1; j < n && same_key(&ws[j], &g); j++) {
            int64_t sum = g.count + ws[j].count;

            if (later(&ws[j], &g))
                g = ws[j];
            g.count = sum > COUNT_MAX ? COUNT_MAX : sum;
        }
        ws[groups++] = g;
        i = j;
    }
    qsort(ws, groups, sizeof(*ws), by_time);
    for (size_t i = 0; i < groups && i < limit; i++)
        cJSON_AddItemToArray(out, warning_json(&ws[i]));
out:
    free(ws);
    return out;
}
