/* notify_test.c: spec.notify's documents, their signature and their delivery record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/reconciler/notify.h"
#include "testjson.h"

#define T1 "2024-01-01T00:00:00Z"
#define T2 "2024-01-01T00:00:10Z"
#define T3 "2024-01-01T00:01:00Z"

/* A resource with spec.notify at generation 3, its status given (JSON with ' for "). */
static cJSON *resource(const char *status)
{
    char text[4096];

    (void)snprintf(text, sizeof(text),
                   "{'apiVersion':'phase4.io/v1alpha1','kind':'Phase4Deployment',"
                   "'metadata':{'namespace':'team','name':'web','uid':'u-1','generation':3},"
                   "'spec':{'notify':{'url':'https://hooks.example/p4','secretRef':"
                   "{'name':'hook-secret'}}},'status':%s}",
                   status);
    return test_json(text);
}

#define STALLED_REGEN                                                                              \
    "{'verdict':'FAILED','stage':'Helm','conditions':[{'type':'Ready','status':'False',"           \
    "'reason':'TemplateRenderFailed','message':'r'},{'type':'Stalled','status':'True',"            \
    "'observedGeneration':3,'reason':'RegenerationRequired','message':'Generation 3: the Helm "    \
    "stage failed 2 times; a new or fixed chart or values is needed'}],'report':{'generation':3,"  \
    "'verdict':'FAILED','failure':{'stage':'Helm','gate':'Rendered','reason':"                     \
    "'TemplateRenderFailed','message':'m'},'artifacts':{'image':'r/app@sha256:a'}}}"

#define SUCCEEDED                                                                                  \
    "{'verdict':'SUCCESSFUL','stage':'Done','conditions':[{'type':'Ready','status':'True',"        \
    "'observedGeneration':3,'reason':'Succeeded','message':'Generation 3: SUCCESSFUL'}],"          \
    "'report':{'generation':3,'verdict':'SUCCESSFUL','artifacts':{'image':'r/app@sha256:a',"       \
    "'images':['r/app@sha256:a'],'chart':'webapp 1.0.0','chartDigest':'sha256:c','inventory':4}}}"

static void backoff_doubles_to_five_minutes(void **state)
{
    (void)state;
    assert_int_equal(p4_notify_backoff_ms(1), 1000);
    assert_int_equal(p4_notify_backoff_ms(2), 2000);
    assert_int_equal(p4_notify_backoff_ms(3), 4000);
    assert_int_equal(p4_notify_backoff_ms(9), 256000);
    assert_int_equal(p4_notify_backoff_ms(10), P4_NOTIFY_BACKOFF_MAX_MS);
    assert_int_equal(p4_notify_backoff_ms(1000), P4_NOTIFY_BACKOFF_MAX_MS);
    assert_int_equal(p4_notify_backoff_ms(0), 1000);
    assert_false(p4_notify_give_up(1, 0));
    assert_false(p4_notify_give_up(P4_NOTIFY_ATTEMPTS_MAX - 1, P4_NOTIFY_MAX_AGE_MS - 1));
    assert_true(p4_notify_give_up(P4_NOTIFY_ATTEMPTS_MAX, 0));
    assert_true(p4_notify_give_up(2, P4_NOTIFY_MAX_AGE_MS));
}

/* Which event a transition calls for: a stall's (by its reason), else a new verdict. */
static void transitions_call_for_events(void **state)
{
    cJSON *none = resource("{}"), *stalled = resource(STALLED_REGEN);
    cJSON *ok = resource(SUCCEEDED), *st;

    (void)state;
    st = test_json(STALLED_REGEN);
    assert_string_equal(p4_notify_event(none, st), "RegenerationRequired");
    assert_null(p4_notify_event(stalled, st)); /* written already: nothing new */
    cJSON_Delete(st);
    st = test_json("{'conditions':[{'type':'Stalled','status':'True','observedGeneration':3,"
                   "'reason':'EscalatedToUser','message':'m'}]}");
    assert_string_equal(p4_notify_event(none, st), "EscalatedToUser");
    assert_string_equal(p4_notify_event(stalled, st), "EscalatedToUser"); /* reason changed */
    cJSON_Delete(st);
    st = test_json("{'conditions':[{'type':'Stalled','status':'True','observedGeneration':3,"
                   "'reason':'Forbidden','message':'m'}]}");
    assert_string_equal(p4_notify_event(none, st), "Stalled");
    cJSON_Delete(st);
    st = test_json("{'conditions':[{'type':'Stalled','status':'True','observedGeneration':4,"
                   "'reason':'RegenerationRequired','message':'m'}]}");
    assert_string_equal(p4_notify_event(stalled, st), "RegenerationRequired"); /* a new gen */
    cJSON_Delete(st);
    st = test_json(SUCCEEDED);
    assert_string_equal(p4_notify_event(none, st), "Verdict");
    assert_string_equal(p4_notify_event(stalled, st), "Verdict"); /* healed */
    assert_null(p4_notify_event(ok, st));
    cJSON_Delete(st);
    /* a workload broke after the verdict (Stalled Degraded, the verdict kept): a stall's
       document; recovered, nothing (the same verdict for the same generation) */
    {
        static const char degraded_status[] =
            "{'verdict':'SUCCESSFUL','report':{'generation':3},'conditions':[{'type':'Stalled',"
            "'status':'True','observedGeneration':3,'reason':'Degraded','message':'Generation 3: "
            "SUCCESSFUL when validated, degraded since: x'}]}";
        cJSON *degraded = resource(degraded_status);
        st = test_json(degraded_status);
        assert_string_equal(p4_notify_event(ok, st), "Stalled");
        assert_null(p4_notify_event(degraded, st)); /* written already */
        cJSON_Delete(st);
        st = test_json(SUCCEEDED);
        assert_null(p4_notify_event(degraded, st));
        cJSON_Delete(st);
        cJSON_Delete(degraded);
    }
    /* the same verdict for a new generation is news */
    st = test_json("{'verdict':'SUCCESSFUL','report':{'generation':4}}");
    assert_string_equal(p4_notify_event(ok, st), "Verdict");
    cJSON_Delete(st);
    /* running, retrying: nothing */
    st = test_json("{'conditions':[{'type':'Stalled','status':'False'}]}");
    assert_null(p4_notify_event(none, st));
    assert_null(p4_notify_event(stalled, st));
    cJSON_Delete(st);
    st = test_json("{}");
    assert_null(p4_notify_event(none, st));
    cJSON_Delete(st);
    cJSON_Delete(none);
    cJSON_Delete(stalled);
    cJSON_Delete(ok);
}

static void document_says_what_happened(void **state)
{
    cJSON *obj = resource("{}"), *st = test_json(STALLED_REGEN), *d;
    char *text;

    (void)state;
    d = p4_notify_document(obj, st, "RegenerationRequired", T1);
    assert_string_equal(p4_json_str(d, "type"), P4_NOTIFY_TYPE);
    assert_string_equal(p4_json_str(d, "id"), "u-1/3/RegenerationRequired");
    assert_string_equal(p4_json_str(d, "event"), "RegenerationRequired");
    assert_string_equal(p4_json_str(d, "time"), T1);
    assert_string_equal(p4_json_str(d, "resource.apiVersion"), "phase4.io/v1alpha1");
    assert_string_equal(p4_json_str(d, "resource.kind"), "Phase4Deployment");
    assert_string_equal(p4_json_str(d, "resource.namespace"), "team");
    assert_string_equal(p4_json_str(d, "resource.name"), "web");
    assert_string_equal(p4_json_str(d, "resource.uid"), "u-1");
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(d, "generation")), 3);
    assert_string_equal(p4_json_str(d, "verdict"), "FAILED");
    assert_string_equal(p4_json_str(d, "stage"), "Helm");
    assert_string_equal(p4_json_str(d, "gate"), "Rendered");
    assert_string_equal(p4_json_str(d, "reason"), "RegenerationRequired");
    assert_non_null(strstr(p4_json_str(d, "message"), "Generation 3"));
    assert_string_equal(p4_json_str(d, "failure.reason"), "TemplateRenderFailed");
    assert_string_equal(p4_json_str(d, "artifacts.image"), "r/app@sha256:a");
    text = p4_json_print(d);
    assert_null(strstr(text, "hook-secret")); /* nothing of spec.notify */
    assert_null(strstr(text, "hooks.example"));
    free(text);
    cJSON_Delete(d);
    cJSON_Delete(st);

    st = test_json(SUCCEEDED);
    d = p4_notify_document(obj, st, "Verdict", T1);
    assert_string_equal(p4_json_str(d, "id"), "u-1/3/Verdict");
    assert_string_equal(p4_json_str(d, "verdict"), "SUCCESSFUL");
    assert_string_equal(p4_json_str(d, "stage"), "Done");
    assert_string_equal(p4_json_str(d, "reason"), "Succeeded");
    assert_null(p4_json_get(d, "gate"));
    assert_null(p4_json_get(d, "failure"));
    assert_string_equal(p4_json_str(d, "artifacts.chart"), "webapp 1.0.0");
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(d, "artifacts.inventory")), 4);
    cJSON_Delete(d);
    cJSON_Delete(st);
    cJSON_Delete(obj);
}

/* RFC 4231 test case 2, and the signature over "<timestamp>.<body>". */
static void hmac_known_vector(void **state)
{
    char hex[65], sig[80], want[80];
    const char *body = "{\"a\":1}";

    (void)state;
    p4_notify_hmac_hex((const unsigned char *)"Jefe", 4,
                       (const unsigned char *)"what do ya want for nothing?", 28, hex, sizeof(hex));
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    p4_notify_signature((const unsigned char *)"Jefe", 4, 1700000000, body, strlen(body), sig,
                        sizeof(sig));
    p4_notify_hmac_hex((const unsigned char *)"Jefe", 4,
                       (const unsigned char *)"1700000000.{\"a\":1}", 18, hex, sizeof(hex));
    (void)snprintf(want, sizeof(want), "sha256=%s", hex);
    assert_string_equal(sig, want);
    /* another timestamp, another signature: a replay with a new timestamp does not verify */
    p4_notify_signature((const unsigned char *)"Jefe", 4, 1700000001, body, strlen(body), hex,
                        sizeof(hex));
    assert_string_not_equal(sig, hex);
}

static struct p4_notify_outcome outcome(const char *id, int attempt, bool ok, const char *reason,
                                        const char *at)
{
    struct p4_notify_outcome o;

    memset(&o, 0, sizeof(o));
    (void)snprintf(o.id, sizeof(o.id), "%s", id);
    o.attempt = attempt;
    o.ok = ok;
    (void)snprintf(o.reason, sizeof(o.reason), "%s", reason);
    (void)snprintf(o.message, sizeof(o.message), "the webhook answered HTTP 500");
    (void)snprintf(o.at, sizeof(o.at), "%s", at);
    return o;
}

static const cJSON *notified(const cJSON *st)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, p4_json_get(st, "conditions")) {
        if (p4_text_eq(p4_json_str(c, "type"), "Notified"))
            return c;
    }
    return NULL;
}

/* Write st as obj's status (taken over). */
static void written(cJSON *obj, cJSON *st)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
    cJSON_AddItemToObject(obj, "status", st);
}

/*
 * A stall queues one document; two failures make Notified False with one Warning; a success
 * records it as delivered and Notified True; the same outcome again, or the same status again,
 * changes nothing.
 */
static void delivery_is_recorded(void **state)
{
    cJSON *obj = resource("{}"), *st, *events;
    struct p4_notify_outcome o[2];
    const cJSON *p;

    (void)state;
    st = test_json(STALLED_REGEN);
    events = cJSON_CreateArray();
    p4_notify_status(obj, st, NULL, 0, T1, events);
    p = cJSON_GetArrayItem(p4_json_get(st, "notifications.pending"), 0);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "notifications.pending")), 1);
    assert_string_equal(p4_json_str(p, "id"), "u-1/3/RegenerationRequired");
    assert_string_equal(p4_json_str(p, "nextAttemptAt"), T1);
    assert_string_equal(p4_json_str(p, "document.type"), P4_NOTIFY_TYPE);
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(p, "attempts")), 0);
    assert_string_equal(p4_json_str(notified(st), "status"), "True");
    assert_string_equal(p4_json_str(notified(st), "reason"), "NothingSent");
    assert_int_equal(cJSON_GetArraySize(events), 0);
    written(obj, st);
    cJSON_Delete(events);

    /* The same again: nothing new queued. */
    st = cJSON_Duplicate(p4_json_get(obj, "status"), 1);
    p4_notify_status(obj, st, NULL, 0, T2, NULL);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    cJSON_Delete(st);

    /* Attempt 1 failed: retried 1 s later, Notified False, one Warning. */
    o[0] = outcome("u-1/3/RegenerationRequired", 1, false, "WebhookFailed", T2);
    st = cJSON_Duplicate(p4_json_get(obj, "status"), 1);
    events = cJSON_CreateArray();
    p4_notify_status(obj, st, o, 1, T2, events);
    p = cJSON_GetArrayItem(p4_json_get(st, "notifications.pending"), 0);
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(p, "attempts")), 1);
    assert_string_equal(p4_json_str(p, "nextAttemptAt"), "2024-01-01T00:00:11Z");
    assert_string_equal(p4_json_str(p, "lastError"), "the webhook answered HTTP 500");
    assert_string_equal(p4_json_str(notified(st), "status"), "False");
    assert_string_equal(p4_json_str(notified(st), "reason"), "WebhookFailed");
    assert_non_null(strstr(p4_json_str(notified(st), "message"), "HTTP 500"));
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(events, 0), "type"), "Warning");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(events, 0), "reason"), "WebhookFailed");
    written(obj, st);
    cJSON_Delete(events);

    /* The same outcome again (the write raced): recorded once. Attempt 2 failed: no Event. */
    o[1] = outcome("u-1/3/RegenerationRequired", 2, false, "WebhookFailed", T2);
    st = cJSON_Duplicate(p4_json_get(obj, "status"), 1);
    events = cJSON_CreateArray();
    p4_notify_status(obj, st, o, 2, T2, events);
    p = cJSON_GetArrayItem(p4_json_get(st, "notifications.pending"), 0);
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(p, "attempts")), 2);
    assert_string_equal(p4_json_str(p, "nextAttemptAt"), "2024-01-01T00:00:12Z");
    assert_int_equal(cJSON_GetArraySize(events), 0);
    written(obj, st);
    cJSON_Delete(events);

    /* Attempt 3 delivered: no longer pending, delivered, Notified True. */
    o[0] = outcome("u-1/3/RegenerationRequired", 3, true, P4_NOTIFY_REASON_DELIVERED, T3);
    st = cJSON_Duplicate(p4_json_get(obj, "status"), 1);
    events = cJSON_CreateArray();
    p4_notify_status(obj, st, o, 1, T3, events);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "notifications.pending")), 0);
    p = cJSON_GetArrayItem(p4_json_get(st, "notifications.delivered"), 0);
    assert_string_equal(p4_json_str(p, "id"), "u-1/3/RegenerationRequired");
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(p, "attempts")), 3);
    assert_string_equal(p4_json_str(p, "deliveredAt"), T3);
    assert_string_equal(p4_json_str(notified(st), "status"), "True");
    assert_string_equal(p4_json_str(notified(st), "reason"), P4_NOTIFY_REASON_DELIVERED);
    assert_int_equal(cJSON_GetArraySize(events), 0);
    written(obj, st);
    cJSON_Delete(events);

    /* Outcomes of what is delivered already change nothing; the same status writes nothing. */
    st = cJSON_Duplicate(p4_json_get(obj, "status"), 1);
    p4_notify_status(obj, st, o, 2, "2024-02-01T00:00:00Z", NULL);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    cJSON_Delete(st);

    /* spec.notify removed: the record and the condition go. */
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(obj, "spec"), "notify");
    st = cJSON_Duplicate(p4_json_get(obj, "status"), 1);
    p4_notify_status(obj, st, NULL, 0, T3, NULL);
    assert_null(p4_json_get(st, "notifications"));
    assert_null(notified(st));
    cJSON_Delete(st);
    cJSON_Delete(obj);
}

/* Bounded: given up after P4_NOTIFY_ATTEMPTS_MAX attempts; at most P4_NOTIFY_PENDING_MAX. */
static void delivery_is_bounded(void **state)
{
    cJSON *obj = resource("{}"), *st;
    struct p4_notify_outcome o;
    char id[64];

    (void)state;
    st = test_json(STALLED_REGEN);
    p4_notify_status(obj, st, NULL, 0, T1, NULL);
    written(obj, st);
    o = outcome("u-1/3/RegenerationRequired", P4_NOTIFY_ATTEMPTS_MAX, false, "WebhookUnreachable",
                T2);
    st = cJSON_Duplicate(p4_json_get(obj, "status"), 1);
    p4_notify_status(obj, st, &o, 1, T2, NULL);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "notifications.pending")), 0);
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(st, "notifications.dropped")), 1);
    assert_string_equal(p4_json_str(notified(st), "status"), "False");
    assert_non_null(strstr(p4_json_str(notified(st), "message"), "gave up"));
    cJSON_Delete(st);

    /* Too old: given up on its second attempt, two hours after it was queued. */
    o = outcome("u-1/3/RegenerationRequired", 1, false, "WebhookUnreachable",
                "2024-01-01T02:00:00Z");
    st = cJSON_Duplicate(p4_json_get(obj, "status"), 1);
    p4_notify_status(obj, st, &o, 1, T2, NULL);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "notifications.pending")), 0);
    cJSON_Delete(st);

    /* Seven generations stall one after another, nothing delivered: the five newest wait. */
    for (int g = 4; g <= 10; g++) {
        cJSON *m = cJSON_GetObjectItem(obj, "metadata");
        cJSON_ReplaceItemInObject(m, "generation", cJSON_CreateNumber(g));
        st = cJSON_Duplicate(p4_json_get(obj, "status"), 1);
        cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(st, "conditions"), 1),
                                  "observedGeneration", cJSON_CreateNumber(g));
        p4_notify_status(obj, st, NULL, 0, T2, NULL);
        written(obj, st);
    }
    assert_int_equal(cJSON_GetArraySize(p4_json_get(obj, "status.notifications.pending")),
                     P4_NOTIFY_PENDING_MAX);
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(obj, "status.notifications.dropped")),
                     3); /* generations 3, 4 and 5 */
    (void)snprintf(id, sizeof(id), "u-1/%d/RegenerationRequired", 6);
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(obj, "status.notifications.pending"), 0), "id"),
        id);
    cJSON_Delete(obj);
}

/* The rollback's hook queues a RolledBack document. */
static void rolled_back_hook(void **state)
{
    cJSON *obj = resource("{}"), *st = test_json(SUCCEEDED);
    const cJSON *p;

    (void)state;
    p4_notify_rolled_back(obj, st, "rolled back from generation 3 to 2", T1);
    p = cJSON_GetArrayItem(p4_json_get(st, "notifications.pending"), 0);
    assert_string_equal(p4_json_str(p, "event"), "RolledBack");
    assert_string_equal(p4_json_str(p, "document.reason"), "RolledBack");
    assert_string_equal(p4_json_str(p, "document.message"), "rolled back from generation 3 to 2");
    cJSON_Delete(st);
    cJSON_Delete(obj);
}

/* --notify-allow: a prefix admits what is under it, not a host or port that begins the same. */
static void allowed_urls(void **state)
{
    const char *allow = "https://hooks.example,http://10.0.0.1:8080/ci/";

    (void)state;
    assert_true(p4_notify_url_allowed(NULL, "http://anything"));
    assert_true(p4_notify_url_allowed("", "http://anything"));
    assert_true(p4_notify_url_allowed(allow, "https://hooks.example"));
    assert_true(p4_notify_url_allowed(allow, "https://hooks.example/p4"));
    assert_true(p4_notify_url_allowed(allow, "https://hooks.example?x=1"));
    assert_true(p4_notify_url_allowed(allow, "http://10.0.0.1:8080/ci/run"));
    assert_false(p4_notify_url_allowed(allow, "https://hooks.example.evil/p4"));
    assert_false(p4_notify_url_allowed(allow, "https://hooks.example:8443/p4"));
    assert_false(p4_notify_url_allowed(allow, "https://hooks.example@evil/p4"));
    assert_false(p4_notify_url_allowed(allow, "http://hooks.example/p4"));
    assert_false(p4_notify_url_allowed(allow, "http://10.0.0.1:8080/cid"));
    assert_false(p4_notify_url_allowed(allow, "http://169.254.169.254/"));
    assert_false(p4_notify_url_allowed(allow, NULL));
    assert_false(p4_notify_url_allowed(",,", "https://hooks.example"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_doubles_to_five_minutes),
        cmocka_unit_test(transitions_call_for_events),
        cmocka_unit_test(document_says_what_happened),
        cmocka_unit_test(hmac_known_vector),
        cmocka_unit_test(delivery_is_recorded),
        cmocka_unit_test(delivery_is_bounded),
        cmocka_unit_test(rolled_back_hook),
        cmocka_unit_test(allowed_urls),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
