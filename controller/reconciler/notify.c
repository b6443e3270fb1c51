/* notify.c: the webhook's documents and their delivery record (see notify.h). */
#include "phase4/reconciler/notify.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"

uint64_t p4_notify_backoff_ms(int attempts)
{
    uint64_t ms = P4_NOTIFY_BACKOFF_MS;

    for (int i = 1; i < attempts && ms < P4_NOTIFY_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < P4_NOTIFY_BACKOFF_MAX_MS ? ms : P4_NOTIFY_BACKOFF_MAX_MS;
}

bool p4_notify_give_up(int attempts, int64_t age_ms)
{
    return attempts >= P4_NOTIFY_ATTEMPTS_MAX || age_ms >= P4_NOTIFY_MAX_AGE_MS;
}

static const cJSON *condition(const cJSON *st, const char *type)
{
    return p4_json_find(p4_json_get(st, "conditions"), "type", type);
}

const char *p4_notify_event(const cJSON *obj, const cJSON *st)
{
    const cJSON *old = p4_json_get(obj, "status");
    const cJSON *stalled = condition(st, "Stalled"), *was = condition(old, "Stalled");
    const char *verdict = p4_json_str(st, "verdict");
    int64_t gen = -1, was_gen = -2;

    if (p4_text_eq(p4_json_str(stalled, "status"), "True")) {
        const char *reason = p4_json_str(stalled, "reason");
        (void)p4_json_int64(stalled, "observedGeneration", &gen);
        (void)p4_json_int64(was, "observedGeneration", &was_gen);
        if (!(p4_text_eq(p4_json_str(was, "status"), "True") &&
              p4_text_eq(p4_json_str(was, "reason"), reason) && gen == was_gen))
            return p4_text_eq(reason, "RegenerationRequired") ? "RegenerationRequired"
                   : p4_text_eq(reason, "EscalatedToUser")    ? "EscalatedToUser"
                                                              : "Stalled";
    }
    if (verdict == NULL)
        return NULL;
    gen = -1;
    was_gen = -2;
    (void)p4_json_int64(st, "report.generation", &gen);
    (void)p4_json_int64(old, "report.generation", &was_gen);
    if (p4_text_eq(p4_json_str(old, "verdict"), verdict) && gen == was_gen)
        return NULL;
    return "Verdict";
}

void p4_notify_id(const cJSON *obj, int64_t generation, const char *event, char *out, size_t size)
{
    const char *uid = p4_json_str(obj, "metadata.uid");

    (void)snprintf(out, size, "%s/%" PRId64 "/%s", uid ? uid : "", generation, event);
}

static void add_str(cJSON *o, const char *key, const char *value)
{
    if (value)
        p4_json_need(cJSON_AddStringToObject(o, key, value));
}

/* The document, with reason and message given (a stall's, a verdict's or a rollback's). */
static cJSON *document(const cJSON *obj, const cJSON *st, const char *event, const char *reason,
                       const char *message, const char *now)
{
    cJSON *d = p4_json_need(cJSON_CreateObject()), *res;
    const cJSON *failure = p4_json_get(st, "report.failure");
    const cJSON *artifacts = p4_json_get(st, "report.artifacts");
    const char *api = p4_json_str(obj, "apiVersion"), *kind = p4_json_str(obj, "kind");
    int64_t generation = 0;
    char id[320];

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    p4_notify_id(obj, generation, event, id, sizeof(id));
    add_str(d, "type", P4_NOTIFY_TYPE);
    add_str(d, "id", id);
    add_str(d, "event", event);
    add_str(d, "time", now);
    res = p4_json_need(cJSON_AddObjectToObject(d, "resource"));
    add_str(res, "apiVersion", api ? api : "phase4.io/v1alpha1");
    add_str(res, "kind", kind ? kind : "Phase4Deployment");
    add_str(res, "namespace", p4_json_str(obj, "metadata.namespace"));
    add_str(res, "name", p4_json_str(obj, "metadata.name"));
    add_str(res, "uid", p4_json_str(obj, "metadata.uid"));
    p4_json_need(cJSON_AddNumberToObject(d, "generation", (double)generation));
    add_str(d, "verdict", p4_json_str(st, "verdict"));
    add_str(d, "stage",
            cJSON_IsObject(failure) ? p4_json_str(failure, "stage") : p4_json_str(st, "stage"));
    add_str(d, "gate", p4_json_str(failure, "gate"));
    add_str(d, "reason", reason);
    add_str(d, "message", message);
    if (cJSON_IsObject(failure))
        cJSON_AddItemToObject(d, "failure", p4_json_need(cJSON_Duplicate(failure, 1)));
    cJSON_AddItemToObject(d, "artifacts",
                          cJSON_IsObject(artifacts) ? p4_json_need(cJSON_Duplicate(artifacts, 1))
                                                    : p4_json_need(cJSON_CreateObject()));
    return d;
}

cJSON *p4_notify_document(const cJSON *obj, const cJSON *st, const char *event, const char *now)
{
    const cJSON *c = condition(st, strcmp(event, "Verdict") == 0 ? "Ready" : "Stalled");

    return document(obj, st, event, p4_json_str(c, "reason"), p4_json_str(c, "message"), now);
}

/* st's status.notifications, made an object with pending and delivered arrays. */
static cJSON *record(cJSON *st)
{
    cJSON *nt = cJSON_GetObjectItemCaseSensitive(st, "notifications");

    if (!cJSON_IsObject(nt)) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "notifications");
        nt = p4_json_need(cJSON_AddObjectToObject(st, "notifications"));
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(nt, "pending"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(nt, "pending");
        p4_json_need(cJSON_AddArrayToObject(nt, "pending"));
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(nt, "delivered"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(nt, "delivered");
        p4_json_need(cJSON_AddArrayToObject(nt, "delivered"));
    }
    return nt;
}

static int find_id(const cJSON *list, const char *id)
{
    const cJSON *e;
    int i = 0;

    cJSON_ArrayForEach(e, list) {
        if (p4_text_eq(p4_json_str(e, "id"), id))
            return i;
        i++;
    }
    return -1;
}

static void set_num(cJSON *o, const char *key, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    p4_json_need(cJSON_AddNumberToObject(o, key, v));
}

static void set_str(cJSON *o, const char *key, const char *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    p4_json_need(cJSON_AddStringToObject(o, key, v));
}

static void dropped(cJSON *nt)
{
    int64_t n = 0;

    (void)p4_json_int64(nt, "dropped", &n);
    set_num(nt, "dropped", (double)(n + 1));
}

static void set_last(cJSON *nt, const char *reason, const char *message, const char *at)
{
    cJSON *last = p4_json_need(cJSON_CreateObject());

    add_str(last, "reason", reason);
    add_str(last, "message", message);
    add_str(last, "at", at);
    cJSON_DeleteItemFromObjectCaseSensitive(nt, "last");
    cJSON_AddItemToObject(nt, "last", last);
}

/* One attempt's outcome into the record, unless it is there already (a status written). */
static void apply_outcome(cJSON *nt, const struct p4_notify_outcome *o)
{
    cJSON *pending = cJSON_GetObjectItemCaseSensitive(nt, "pending");
    cJSON *delivered = cJSON_GetObjectItemCaseSensitive(nt, "delivered");
    int i = find_id(pending, o->id);
    cJSON *e = i >= 0 ? cJSON_GetArrayItem(pending, i) : NULL;
    int64_t attempts = 0, queued = 0, at = 0;
    char msg[sizeof(o->message) + 160], when[32];

    if (e == NULL)
        return;
    (void)p4_json_int64(e, "attempts", &attempts);
    if (attempts >= o->attempt)
        return;
    if (o->ok) {
        cJSON *d = p4_json_need(cJSON_CreateObject());
        add_str(d, "id", o->id);
        add_str(d, "event", p4_json_str(e, "event"));
        p4_json_need(cJSON_AddNumberToObject(d, "generation",
                                             cJSON_GetNumberValue(p4_json_get(e, "generation"))));
        p4_json_need(cJSON_AddNumberToObject(d, "attempts", o->attempt));
        add_str(d, "deliveredAt", o->at);
        cJSON_InsertItemInArray(delivered, 0, d);
        while (cJSON_GetArraySize(delivered) > P4_NOTIFY_DELIVERED_MAX)
            cJSON_DeleteItemFromArray(delivered, cJSON_GetArraySize(delivered) - 1);
        cJSON_DeleteItemFromArray(pending, i);
        set_last(nt, P4_NOTIFY_REASON_DELIVERED, o->message, o->at);
        return;
    }
    set_num(e, "attempts", o->attempt);
    set_str(e, "lastError", o->message);
    (void)p4_timefmt_parse(p4_json_str(e, "queuedAt"), &queued);
    (void)p4_timefmt_parse(o->at, &at);
    if (p4_notify_give_up(o->attempt, (at - queued) / 1000)) {
        (void)snprintf(msg, sizeof(msg),
                       "gave up on the %s notification of generation %.0f after %d attempts: %s",
                       p4_json_str(e, "event") ? p4_json_str(e, "event") : "",
                       cJSON_GetNumberValue(p4_json_get(e, "generation")), o->attempt, o->message);
        cJSON_DeleteItemFromArray(pending, i);
        dropped(nt);
        set_last(nt, o->reason, msg, o->at);
        return;
    }
    p4_timefmt_format((time_t)(at / 1000000 + (int64_t)(p4_notify_backoff_ms(o->attempt) / 1000)),
                      when, sizeof(when));
    set_str(e, "nextAttemptAt", when);
    (void)snprintf(msg, sizeof(msg), "%s (attempt %d; next at %s)", o->message, o->attempt, when);
    set_last(nt, o->reason, msg, o->at);
}

/* Queue doc (taken over) as event, unless its id is pending or delivered already. */
static void queue(cJSON *nt, cJSON *doc, const char *event, const char *now)
{
    cJSON *pending = cJSON_GetObjectItemCaseSensitive(nt, "pending");
    const char *id = p4_json_str(doc, "id");
    cJSON *e;

    if (find_id(pending, id) >= 0 ||
        find_id(cJSON_GetObjectItemCaseSensitive(nt, "delivered"), id) >= 0) {
        cJSON_Delete(doc);
        return;
    }
    e = p4_json_need(cJSON_CreateObject());
    add_str(e, "id", id);
    add_str(e, "event", event);
    p4_json_need(cJSON_AddNumberToObject(e, "generation",
                                         cJSON_GetNumberValue(p4_json_get(doc, "generation"))));
    p4_json_need(cJSON_AddNumberToObject(e, "attempts", 0));
    add_str(e, "queuedAt", now);
    add_str(e, "nextAttemptAt", now);
    cJSON_AddItemToObject(e, "document", doc);
    cJSON_AddItemToArray(pending, e);
    while (cJSON_GetArraySize(pending) > P4_NOTIFY_PENDING_MAX) { /* the oldest goes */
        cJSON_DeleteItemFromArray(pending, 0);
        dropped(nt);
    }
}

/* Notified from the last outcome, keeping lastTransitionTime while its status holds. */
static void notified(const cJSON *obj, cJSON *st, const cJSON *nt, const char *now, cJSON *events)
{
    cJSON *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions"), *c;
    const cJSON *was = condition(p4_json_get(obj, "status"), "Notified");
    const char *reason = p4_json_str(nt, "last.reason"), *message = p4_json_str(nt, "last.message");
    const char *status = "True", *since = now;
    int64_t generation = 0;
    int i = 0;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    if (reason == NULL) {
        reason = "NothingSent";
        message = "no notification was due yet";
    } else if (strcmp(reason, P4_NOTIFY_REASON_DELIVERED) != 0) {
        status = "False";
    }
    if (message == NULL)
        message = "";
    if (p4_text_eq(p4_json_str(was, "status"), status) && p4_json_str(was, "lastTransitionTime"))
        since = p4_json_str(was, "lastTransitionTime");
    if (!cJSON_IsArray(conds)) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
        conds = p4_json_need(cJSON_AddArrayToObject(st, "conditions"));
    }
    c = p4_json_need(cJSON_CreateObject());
    add_str(c, "type", "Notified");
    add_str(c, "status", status);
    p4_json_need(cJSON_AddNumberToObject(c, "observedGeneration", (double)generation));
    add_str(c, "lastTransitionTime", since);
    add_str(c, "reason", reason);
    add_str(c, "message", message);
    cJSON_ArrayForEach(was, conds) {
        if (p4_text_eq(p4_json_str(was, "type"), "Notified"))
            break;
        i++;
    }
    if (was)
        cJSON_ReplaceItemInArray(conds, i, c);
    else
        cJSON_AddItemToArray(conds, c);
    was = condition(p4_json_get(obj, "status"), "Notified");
    if (events && strcmp(status, "False") == 0 &&
        !p4_text_eq(p4_json_str(was, "status"), "False")) {
        cJSON *e = p4_json_need(cJSON_CreateObject());
        add_str(e, "type", "Warning");
        add_str(e, "reason", reason);
        add_str(e, "message", message);
        cJSON_AddItemToArray(events, e);
    }
}

static void remove_notified(cJSON *st)
{
    cJSON *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions");
    const cJSON *c;
    int i = 0;

    cJSON_ArrayForEach(c, conds) {
        if (p4_text_eq(p4_json_str(c, "type"), "Notified")) {
            cJSON_DeleteItemFromArray(conds, i);
            return;
        }
        i++;
    }
}

void p4_notify_status(const cJSON *obj, cJSON *st, const struct p4_notify_outcome *outcomes,
                      size_t n, const char *now, cJSON *events)
{
    const char *event;
    cJSON *nt;

    if (!cJSON_IsObject(p4_json_get(obj, "spec.notify"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "notifications");
        remove_notified(st);
        return;
    }
    nt = record(st);
    for (size_t i = 0; i < n; i++)
        apply_outcome(nt, &outcomes[i]);
    event = p4_notify_event(obj, st);
    if (event)
        queue(nt, p4_notify_document(obj, st, event, now), event, now);
    notified(obj, st, nt, now, events);
}

void p4_notify_rolled_back(const cJSON *obj, cJSON *st, const char *message, const char *now)
{
    if (!cJSON_IsObject(p4_json_get(obj, "spec.notify")))
        return;
    queue(record(st), document(obj, st, "RolledBack", "RolledBack", message, now), "RolledBack",
          now);
}

bool p4_notify_url_allowed(const char *allow, const char *url)
{
    const char *p = allow;

    if (allow == NULL || allow[0] == '\0')
        return true;
    if (url == NULL)
        return false;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n > 0 && strncmp(url, p, n) == 0 &&
            (p[n - 1] == '/' || url[n] == '\0' || url[n] == '/' || url[n] == '?' || url[n] == '#'))
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

void p4_notify_hmac_hex(const unsigned char *key, size_t klen, const unsigned char *msg, size_t len,
                        char *out, size_t size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t w = 0;

    if (size == 0)
        return;
    out[0] = '\0';
    if (HMAC(EVP_sha256(), key, (int)klen, msg, len, md, &mdlen) == NULL)
        return;
    for (unsigned int i = 0; i < mdlen && w + 3 <= size; i++)
        w += (size_t)snprintf(out + w, size - w, "%02x", md[i]);
}

void p4_notify_signature(const unsigned char *key, size_t klen, int64_t timestamp, const char *body,
                         size_t len, char *out, size_t size)
{
    char ts[32], hex[2 * EVP_MAX_MD_SIZE + 1];
    size_t tlen = (size_t)snprintf(ts, sizeof(ts), "%" PRId64 ".", timestamp);
    unsigned char *msg = p4_malloc(tlen + len + 1);

    memcpy(msg, ts, tlen);
    if (len)
        memcpy(msg + tlen, body, len);
    p4_notify_hmac_hex(key, klen, msg, tlen + len, hex, sizeof(hex));
    free(msg);
    (void)snprintf(out, size, "sha256=%s", hex);
}
