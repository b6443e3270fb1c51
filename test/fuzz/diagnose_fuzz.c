/*
 * diagnose_fuzz.c: libFuzzer target for the failure analysis of Events, refusals and objects.
 *
 * Input layout: the whole input is one JSON value, parsed with cJSON_ParseWithLength (so never
 * read past size), then given as it is to p4_diagnose_event(), p4_diagnose_refusal() (with and
 * without the object's names and the operator's identity), p4_diagnose_object() and
 * p4_diagnose_recent_warnings() (max taken from the input's size, -2..22). Each element of an
 * array input is diagnosed as an Event and as an object too. An object input is then made a
 * Warning Event with an involvedObject and diagnosed under each reason the analysis knows, and
 * made a Pod, Deployment and ReplicaSet with a name, which takes any message and status the
 * fuzzer builds through every classifier.
 * Invariants: returns are 1, 0 or P4_ERR_INVAL; with 1 the reason is a non-empty CamelCase word,
 * the message non-empty and the class ARTIFACT, CLUSTER or TRANSIENT; otherwise reason and
 * message are empty and the class NONE; both are NUL-terminated within their buffers and hold
 * only printable ASCII. The recent warnings are NULL or an array of at most min(max, 20) objects
 * whose reason, object and message are printable strings (the message at most 256 bytes), whose
 * count is an integer in 1..INT32_MAX and whose lastSeen, when present, is 20 bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "stages/kubernetes/diagevent.h"
#include "stages/kubernetes/diagnose.h"
#include "stages/kubernetes/diagobject.h"
#include "stages/kubernetes/diagrefusal.h"
#include "stages/kubernetes/diagwarnings.h"

#define SA "system:serviceaccount:phase4-system:phase4-operator"

static const char *const reasons[] = {
    "Failed",
    "BackOff",
    "FailedScheduling",
    "FailedCreate",
    "InspectFailed",
    "ErrImageNeverPull",
    "ProgressDeadlineExceeded",
    "Evicted",
    "EvictionThresholdMet",
    "NodeHasDiskPressure",
    "ReplicaSetCreateError",
};
static const char *const kinds[] = {"Pod", "Deployment", "ReplicaSet"};

static bool printable(const char *s, size_t max, size_t *len)
{
    const char *end = memchr(s, '\0', max);

    if (end == NULL)
        return false;
    for (const char *p = s; p < end; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            return false;
    }
    *len = (size_t)(end - s);
    return true;
}

static void check(int rc, const struct p4_diagnosis *d)
{
    size_t reason_len, message_len;

    if (!printable(d->reason, sizeof(d->reason), &reason_len) ||
        !printable(d->message, sizeof(d->message), &message_len))
        abort();
    if (rc == 1) {
        if (reason_len == 0 || message_len == 0)
            abort();
        for (const char *p = d->reason; *p != '\0'; p++) {
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
                abort();
        }
        if (d->cls != P4_FAIL_ARTIFACT && d->cls != P4_FAIL_CLUSTER && d->cls != P4_FAIL_TRANSIENT)
            abort();
    } else {
        if (rc != 0 && rc != P4_ERR_INVAL)
            abort();
        if (reason_len != 0 || message_len != 0 || d->cls != P4_FAIL_NONE)
            abort();
    }
}

static int event(const cJSON *in)
{
    struct p4_diagnosis d;
    int rc;

    memset(&d, 0x5a, sizeof(d)); /* a field left unwritten shows */
    rc = p4_diagnose_event(in, &d);
    check(rc, &d);
    return rc;
}

static void object(const cJSON *in)
{
    struct p4_diagnosis d;

    memset(&d, 0x5a, sizeof(d));
    check(p4_diagnose_object(in, &d), &d);
}

static void refusals(const cJSON *in)
{
    struct p4_diagnosis d;

    memset(&d, 0x5a, sizeof(d));
    check(p4_diagnose_refusal(in, "Deployment", "shop", "web", SA, &d), &d);
    memset(&d, 0x5a, sizeof(d));
    check(p4_diagnose_refusal(in, NULL, NULL, NULL, NULL, &d), &d);
}

static void recent(const cJSON *in, int max)
{
    cJSON *a = p4_diagnose_recent_warnings(in, max);
    int limit = max < 0 ? 0 : max > P4_DIAGNOSE_RECENT_MAX ? P4_DIAGNOSE_RECENT_MAX : max;
    int n = 0;

    if (a == NULL)
        return;
    if (!cJSON_IsArray(a))
        abort();
    for (const cJSON *it = a->child; it != NULL; it = it->next, n++) {
        static const char *const fields[] = {"reason", "object", "message"};
        const cJSON *count = cJSON_GetObjectItemCaseSensitive(it, "count");
        const cJSON *seen = cJSON_GetObjectItemCaseSensitive(it, "lastSeen");
        size_t len;

        for (size_t f = 0; f < 3; f++) {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, fields[f]);

            if (!cJSON_IsString(s) || !printable(s->valuestring, 4096, &len))
                abort();
            if (f == 2 && len > P4_DIAGNOSE_RECENT_MESSAGE_MAX)
                abort();
        }
        if (!cJSON_IsNumber(count) || count->valuedouble < 1 || count->valuedouble > INT32_MAX ||
            count->valuedouble != (double)(int64_t)count->valuedouble)
            abort();
        if (seen != NULL && (!cJSON_IsString(seen) || strlen(seen->valuestring) != 20))
            abort();
    }
    if (n > limit)
        abort();
    cJSON_Delete(a);
}

/* Every member key of obj goes (JSON objects may repeat a key; the first one counts). */
static void drop(cJSON *obj, const char *key)
{
    while (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

static void set_string(cJSON *obj, const char *key, const char *value)
{
    drop(obj, key);
    (void)p4_json_need(cJSON_AddStringToObject(obj, key, value));
}

/* Give obj an object member key when it has none of that type. */
static cJSON *object_member(cJSON *obj, const char *key)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsObject(m))
        return m;
    drop(obj, key);
    return p4_json_need(cJSON_AddObjectToObject(obj, key));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *in = cJSON_ParseWithLength((const char *)data, size);

    (void)event(in);
    refusals(in);
    object(in);
    recent(in, (int)(size % 25) - 2);
    if (cJSON_IsArray(in)) {
        for (const cJSON *it = in->child; it != NULL; it = it->next) {
            (void)event(it);
            object(it);
        }
    }
    if (cJSON_IsObject(in)) {
        cJSON *meta;

        /* As a Warning Event, under each reason. */
        drop(in, "kind");
        set_string(in, "type", "Warning");
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(in, "regarding")))
            (void)object_member(in, "involvedObject");
        for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
            set_string(in, "reason", reasons[i]);
            if (event(in) == P4_ERR_INVAL)
                abort();
        }
        /* As each kind of object, with a name. */
        drop(in, "apiVersion");
        meta = object_member(in, "metadata");
        if (p4_json_str(meta, "name") == NULL)
            set_string(meta, "name", "fuzz");
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
            struct p4_diagnosis d;
            int rc;

            set_string(in, "kind", kinds[i]);
            memset(&d, 0x5a, sizeof(d));
            rc = p4_diagnose_object(in, &d);
            check(rc, &d);
            if (rc == P4_ERR_INVAL)
                abort();
        }
    }
    cJSON_Delete(in);
    return 0;
}
