/* rollback_test.c: rollback's pure decisions and status (controller/reconciler/rollback.h). */
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
#include "reconciler/policy.h"
#include "reconciler/rollback.h"
#include "testjson.h"

#define NOW "2026-12-07T05:00:00Z"
#define LATER "2026-12-07T05:05:00Z"

/* Generation 2 stalled at Validation (SmokeTestFailed), generation 1 succeeded; extra is
   spliced into status, spec_extra into spec.rollout, meta_extra into metadata. */
static cJSON *failed_at(const char *stage, const char *cond, const char *rollout,
                        const char *status_extra, const char *meta_extra)
{
    char text[4096];

    (void)snprintf(
        text, sizeof(text),
        "{'metadata':{'name':'web','namespace':'apps','generation':2%s},"
        "'spec':{'rollout':{%s}},"
        "'status':{'observedGeneration':2,'stage':'%s','verdict':'FAILED',"
        "'lastKnownGoodRevision':1,'inventory':[{'apiVersion':'apps/v1','kind':'Deployment',"
        "'namespace':'shop','name':'web'}],"
        "'gates':[{'stage':'%s','name':'SmokeTests','status':'False','reason':'SmokeTestFailed'}],"
        "'report':{'generation':2,'verdict':'FAILED','failure':{'stage':'%s','impact':'old'}},"
        "'conditions':["
        "{'type':'%s','status':'False','observedGeneration':2,'reason':'SmokeTestFailed',"
        "'message':'smoke test smoke failed','lastTransitionTime':'" NOW "'},"
        "{'type':'Ready','status':'False','observedGeneration':2,'reason':'SmokeTestFailed',"
        "'message':'x','lastTransitionTime':'" NOW "'},"
        "{'type':'Stalled','status':'True','observedGeneration':2,"
        "'reason':'RegenerationRequired','message':'x','lastTransitionTime':'" NOW "'}]%s}}",
        meta_extra, rollout, stage, stage, stage, cond, status_extra);
    return test_json(text);
}

static void failure_rolls_back_to_the_last_good(void **state)
{
    struct p4_rollback_plan p;
    cJSON *obj;

    (void)state;
    obj = failed_at("Validation", "Validated", "", "", "");
    p4_rollback_decide(obj, &p);
    assert_int_equal(p.what, P4_ROLLBACK_BEGIN);
    assert_int_equal(p.from, 2);
    assert_int_equal(p.to, 1);
    assert_int_equal(p.stage, P4_STAGE_VALIDATION);
    assert_null(p.request);
    assert_false(p.refused);
    cJSON_Delete(obj);

    obj = failed_at("Kubernetes", "KubernetesReady", "'rollbackOnFailure':true", "", "");
    p4_rollback_decide(obj, &p);
    assert_int_equal(p.what, P4_ROLLBACK_BEGIN);
    assert_int_equal(p.stage, P4_STAGE_KUBERNETES);
    cJSON_Delete(obj);
}

static void no_rollback_when_not_asked_or_not_possible(void **state)
{
    static const struct {
        const char *stage, *cond, *rollout, *status, *meta;
    } cases[] = {
        /* switched off */
        {"Validation", "Validated", "'rollbackOnFailure':false", "", ""},
        /* a failure before anything of it was applied */
        {"Helm", "HelmReady", "", "", ""},
        {"Docker", "DockerReady", "", "", ""},
        /* a retry asked for wins: the stage runs again */
        {"Validation", "Validated", "", "", ",'annotations':{'phase4.io/retry':'a'}"},
    };
    struct p4_rollback_plan p;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = failed_at(cases[i].stage, cases[i].cond, cases[i].rollout, cases[i].status,
                               cases[i].meta);
        p4_rollback_decide(obj, &p);
        if (p.what != P4_ROLLBACK_NONE)
            fail_msg("case %zu: got %d, want NONE", i, p.what);
        cJSON_Delete(obj);
    }
    /* no good revision; the good one is this one; not stalled (a retry is left); a new
       generation not observed yet */
    {
        const char *texts[] = {
            "{'metadata':{'generation':2},'status':{'observedGeneration':2,'stage':'Validation',"
            "'conditions':[{'type':'Validated','status':'False','observedGeneration':2},"
            "{'type':'Stalled','status':'True','observedGeneration':2}]}}",
            "{'metadata':{'generation':2},'status':{'observedGeneration':2,'stage':'Validation',"
            "'lastKnownGoodRevision':2,'conditions':[{'type':'Validated','status':'False',"
            "'observedGeneration':2},{'type':'Stalled','status':'True','observedGeneration':2}]}}",
            "{'metadata':{'generation':2},'status':{'observedGeneration':2,'stage':'Validation',"
            "'lastKnownGoodRevision':1,'conditions':[{'type':'Validated','status':'False',"
            "'observedGeneration':2}]}}",
            "{'metadata':{'generation':3},'status':{'observedGeneration':2,'stage':'Validation',"
            "'lastKnownGoodRevision':1,'conditions':[{'type':'Validated','status':'False',"
            "'observedGeneration':3},{'type':'Stalled','status':'True','observedGeneration':3}]}}",
            "{}",
        };
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
            cJSON *obj = test_json(texts[i]);
            p4_rollback_decide(obj, &p);
            if (p.what != P4_ROLLBACK_NONE)
                fail_msg("text %zu: got %d, want NONE", i, p.what);
            cJSON_Delete(obj);
        }
    }
    p4_rollback_decide(NULL, &p);
    assert_int_equal(p.what, P4_ROLLBACK_NONE);
}

static void once_per_generation_and_retry(void **state)
{
    struct p4_rollback_plan p;
    cJSON *obj;

    (void)state;
    /* Running on record: goes on (also after a restart), a rollback-to or a retry waits */
    obj =
        failed_at("Validation", "Validated", "", ",'rollback':{'from':2,'to':1,'state':'Running'}",
                  ",'annotations':{'phase4.io/rollback-to':'1','phase4.io/retry':'x'}");
    p4_rollback_decide(obj, &p);
    assert_int_equal(p.what, P4_ROLLBACK_GO_ON);
    assert_int_equal(p.to, 1);
    assert_null(p.request);
    cJSON_Delete(obj);
    /* finished: holds, not begun again */
    obj = failed_at("Validation", "Validated", "",
                    ",'rollback':{'from':2,'to':1,'state':'Succeeded'}", "");
    p4_rollback_decide(obj, &p);
    assert_int_equal(p.what, P4_ROLLBACK_HOLD);
    assert_true(p4_rollback_holds(obj));
    cJSON_Delete(obj);
    obj = failed_at("Validation", "Validated", "", ",'rollback':{'from':2,'to':1,'state':'Failed'}",
                    "");
    p4_rollback_decide(obj, &p);
    assert_int_equal(p.what, P4_ROLLBACK_HOLD);
    cJSON_Delete(obj);
    /* made under another retry value: a retry handled since, and it failed again */
    obj = failed_at("Validation", "Validated", "",
                    ",'lastHandledRetry':'b','rollback':{'from':2,'to':1,'state':'Succeeded',"
                    "'retry':'a'}",
                    "");
    assert_false(p4_rollback_holds(obj));
    p4_rollback_decide(obj, &p);
    assert_int_equal(p.what, P4_ROLLBACK_BEGIN);
    cJSON_Delete(obj);
    /* the same retry value: holds */
    obj = failed_at("Validation", "Validated", "",
                    ",'lastHandledRetry':'b','rollback':{'from':2,'to':1,'state':'Succeeded',"
                    "'retry':'b'}",
                    "");
    assert_true(p4_rollback_holds(obj));
    cJSON_Delete(obj);
    /* an older generation's record, or one with an unknown state, does not hold */
    obj = failed_at("Validation", "Validated", "",
                    ",'rollback':{'from':1,'to':0,'state':'Succeeded'}", "");
    assert_false(p4_rollback_holds(obj));
    cJSON_Delete(obj);
    obj = failed_at("Validation", "Validated", "",
                    ",'rollback':{'from':2,'to':1,'state':'Sideways'}", "");
    assert_false(p4_rollback_holds(obj));
    cJSON_Delete(obj);
}

static void rollback_to_on_request(void **state)
{
    static const struct {
        const char *value, *history;
        bool refused;
        const char *why; /* a substring */
    } cases[] = {
        {"1", "", false, NULL},
        {"01", "", false, NULL},
        {"1", ",'history':[{'generation':1,'verdict':'SUCCESSFUL'}]", false, NULL},
        {"1", ",'history':[{'generation':2,'verdict':'FAILED'}]", false, NULL},
        {"1", ",'history':[{'generation':1,'verdict':'FAILED'}]", true, "did not succeed"},
        {"3", "", true, "current generation"},
        {"9", "", true, "newer than"},
        {"0", "", true, "not a generation"},
        {"-1", "", true, "not a generation"},
        {"one", "", true, "not a generation"},
        {"1234567890123456789", "", true, "not a generation"},
        {"x\\\"y", "", true, "\"x?y\" is not a generation"},
    };
    struct p4_rollback_plan p;
    char text[1024];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj;
        (void)snprintf(text, sizeof(text),
                       "{'metadata':{'generation':3,'annotations':{'phase4.io/rollback-to':'%s'}},"
                       "'status':{'observedGeneration':3,'verdict':'SUCCESSFUL',"
                       "'lastKnownGoodRevision':3%s}}",
                       cases[i].value, cases[i].history);
        obj = test_json(text);
        p4_rollback_decide(obj, &p);
        assert_non_null(p.request);
        if (p.refused != cases[i].refused)
            fail_msg("case %zu: refused %d, want %d (%s)", i, p.refused, cases[i].refused, p.why);
        if (cases[i].refused) {
            assert_int_equal(p.what, P4_ROLLBACK_NONE);
            if (strstr(p.why, cases[i].why) == NULL)
                fail_msg("case %zu: why %s", i, p.why);
        } else {
            assert_int_equal(p.what, P4_ROLLBACK_BEGIN);
            assert_int_equal(p.from, 3);
            assert_int_equal(p.to, 1);
            assert_int_equal(p.stage, -1);
        }
        cJSON_Delete(obj);
    }
    /* handled already: nothing */
    {
        cJSON *obj = test_json("{'metadata':{'generation':3,'annotations':{'phase4.io/"
                               "rollback-to':'1'}},'status':{'observedGeneration':3,"
                               "'lastHandledRollbackTo':'1'}}");
        p4_rollback_decide(obj, &p);
        assert_int_equal(p.what, P4_ROLLBACK_NONE);
        assert_null(p.request);
        cJSON_Delete(obj);
    }
}

static void where_it_stands(void **state)
{
    struct p4_rollback_plan fail = {.what = P4_ROLLBACK_BEGIN, .from = 2, .to = 1, .stage = 3};
    struct p4_rollback_plan ask = {.what = P4_ROLLBACK_BEGIN, .from = 3, .to = 1, .request = "1"};
    struct p4_rollback_plan go = {.what = P4_ROLLBACK_GO_ON, .from = 2, .to = 1};
    struct p4_stage_result res = {.state = P4_STAGE_RUNNING, .rollback_to = 1};
    cJSON *none = test_json("{}");
    cJSON *done = test_json("{'status':{'rollback':{'from':2,'to':1,'state':'Succeeded'}}}");
    cJSON *failed = test_json("{'status':{'rollback':{'from':2,'to':1,'state':'Failed'}}}");

    (void)state;
    assert_int_equal(p4_rollback_state_of(none, &fail, NULL), P4_ROLLBACK_RUNNING);
    assert_int_equal(p4_rollback_state_of(none, &ask, NULL), P4_ROLLBACK_PENDING);
    res.gates = test_json("[{'name':'ManifestsValid','status':'Unknown','reason':'Checking'}]");
    assert_int_equal(p4_rollback_state_of(none, &ask, &res), P4_ROLLBACK_PENDING);
    assert_int_equal(p4_rollback_state_of(none, &fail, &res), P4_ROLLBACK_RUNNING);
    cJSON_Delete(res.gates);
    res.gates = test_json("[{'name':'ResourcesCreated','status':'Unknown','reason':'Recording'}]");
    assert_int_equal(p4_rollback_state_of(none, &ask, &res), P4_ROLLBACK_RUNNING);
    res.state = P4_STAGE_FAILED;
    res.stalled = true;
    res.err.reason = "ManifestNotFound";
    assert_int_equal(p4_rollback_state_of(none, &ask, &res), P4_ROLLBACK_NO_MANIFEST);
    assert_int_equal(p4_rollback_state_of(none, &fail, &res), P4_ROLLBACK_FAILED);
    res.state = P4_STAGE_PASSED;
    assert_int_equal(p4_rollback_state_of(none, &go, &res), P4_ROLLBACK_SUCCEEDED);
    /* a run for another generation is not this rollback's */
    res.rollback_to = 0;
    assert_int_equal(p4_rollback_state_of(none, &go, &res), P4_ROLLBACK_RUNNING);
    /* finished on record stays so, whatever the run does since */
    res.rollback_to = 1;
    res.state = P4_STAGE_FAILED;
    assert_int_equal(p4_rollback_state_of(done, &go, &res), P4_ROLLBACK_SUCCEEDED);
    res.state = P4_STAGE_PASSED;
    assert_int_equal(p4_rollback_state_of(failed, &go, &res), P4_ROLLBACK_FAILED);
    cJSON_Delete(res.gates);
    cJSON_Delete(none);
    cJSON_Delete(done);
    cJSON_Delete(failed);
}

static const cJSON *cond(const cJSON *st, const char *type)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, p4_json_get(st, "conditions")) {
        if (p4_text_eq(p4_json_str(c, "type"), type))
            return c;
    }
    return NULL;
}

static void assert_event(const cJSON *events, int i, const char *type, const char *reason,
                         const char *substring)
{
    const cJSON *e = cJSON_GetArrayItem(events, i);

    assert_non_null(e);
    assert_string_equal(p4_json_str(e, "type"), type);
    assert_string_equal(p4_json_str(e, "reason"), reason);
    if (strstr(p4_json_str(e, "message"), substring) == NULL)
        fail_msg("event %d: %s lacks %s", i, p4_json_str(e, "message"), substring);
}

/* obj with st (taken) as its status. */
static cJSON *with_status(const cJSON *obj, cJSON *st)
{
    cJSON *next = cJSON_Duplicate(obj, 1);

    cJSON_ReplaceItemInObjectCaseSensitive(next, "status", st);
    return next;
}

static void failure_rollback_status_and_events(void **state)
{
    struct p4_rollback_plan p;
    struct p4_stage_result res = {.state = P4_STAGE_RUNNING, .rollback_to = 1};
    cJSON *obj = failed_at("Validation", "Validated", "", "", "");
    cJSON *events = cJSON_CreateArray(), *st, *next, *again;
    const char *msg;

    (void)state;
    res.status = test_json("{'inventory':[{'apiVersion':'apps/v1','kind':'Deployment',"
                           "'namespace':'shop','name':'web-v1'}],'hooks':{'generation':9}}");
    p4_rollback_decide(obj, &p);
    st = p4_reconciler_rollback_status(obj, &p, P4_ROLLBACK_RUNNING, &res, NOW, events);
    assert_string_equal(p4_json_str(st, "rollback.state"), "Running");
    assert_string_equal(p4_json_str(st, "rollback.trigger"), "RollbackOnFailure");
    assert_string_equal(p4_json_str(st, "rollback.failedStage"), "Validation");
    assert_string_equal(p4_json_str(st, "rollback.failedReason"), "SmokeTestFailed");
    assert_string_equal(p4_json_str(st, "rollback.startedAt"), NOW);
    assert_null(p4_json_get(st, "rollback.finishedAt"));
    assert_null(p4_json_get(st, "hooks")); /* the generation's, not the rollback's */
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "inventory"), 0), "name"),
                        "web-v1");
    assert_string_equal(p4_json_str(cond(st, "RolledBack"), "status"), "Unknown");
    /* The failure stays final while the rollback runs (RolledBack Unknown says it runs):
       Reconciling False, never True beside Stalled True (kstatus: Failed, docs/gitops.md). */
    assert_string_equal(p4_json_str(cond(st, "Reconciling"), "status"), "False");
    assert_string_equal(p4_json_str(cond(st, "Reconciling"), "reason"), "SmokeTestFailed");
    assert_string_equal(p4_json_str(cond(st, "Ready"), "reason"), "SmokeTestFailed");
    assert_string_equal(p4_json_str(cond(st, "Stalled"), "status"), "True");
    assert_string_equal(p4_json_str(cond(st, "Stalled"), "reason"), "RegenerationRequired");
    assert_string_equal(p4_json_str(st, "verdict"), "FAILED");
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_event(events, 0, "Normal", "RollingBack",
                 "generation 2 failed at the Validation stage (SmokeTestFailed); re-applying "
                 "generation 1's manifest");

    /* the next reconcile: on record as Running, the run passed */
    next = with_status(obj, st);
    p4_rollback_decide(next, &p);
    assert_int_equal(p.what, P4_ROLLBACK_GO_ON);
    res.state = P4_STAGE_PASSED;
    assert_int_equal(p4_rollback_state_of(next, &p, &res), P4_ROLLBACK_SUCCEEDED);
    st = p4_reconciler_rollback_status(next, &p, P4_ROLLBACK_SUCCEEDED, &res, LATER, events);
    assert_string_equal(p4_json_str(st, "rollback.state"), "Succeeded");
    assert_string_equal(p4_json_str(st, "rollback.startedAt"), NOW);
    assert_string_equal(p4_json_str(st, "rollback.finishedAt"), LATER);
    assert_string_equal(p4_json_str(cond(st, "RolledBack"), "status"), "True");
    assert_string_equal(p4_json_str(cond(st, "RolledBack"), "reason"), "RolledBack");
    assert_string_equal(p4_json_str(cond(st, "Ready"), "status"), "False");
    assert_string_equal(p4_json_str(cond(st, "Reconciling"), "status"), "False");
    assert_string_equal(p4_json_str(cond(st, "Stalled"), "reason"), "RegenerationRequired");
    msg = p4_json_str(cond(st, "Stalled"), "message");
    if (strstr(msg, "impact: generation 1 serves") == NULL)
        fail_msg("Stalled: %s", msg);
    assert_non_null(strstr(p4_json_str(st, "report.failure.impact"), "generation 1 serves"));
    assert_int_equal(cJSON_GetArraySize(events), 2);
    assert_event(events, 1, "Normal", "RolledBack",
                 "generation 2 failed at the Validation stage (SmokeTestFailed); generation 1's "
                 "manifest re-applied and healthy");

    /* and after that nothing changes: no write, no Event (held, or after a restart) */
    cJSON_Delete(next);
    next = with_status(obj, st);
    p4_rollback_decide(next, &p);
    assert_int_equal(p.what, P4_ROLLBACK_HOLD);
    assert_int_equal(p4_rollback_state_of(next, &p, NULL), P4_ROLLBACK_SUCCEEDED);
    again = p4_reconciler_rollback_status(next, &p, P4_ROLLBACK_SUCCEEDED, NULL, LATER, events);
    assert_true(cJSON_Compare(again, p4_json_get(next, "status"), 1));
    assert_int_equal(cJSON_GetArraySize(events), 2);
    /* what p4_policy_impact says meanwhile */
    {
        char impact[300];
        p4_policy_impact(next, P4_STAGE_VALIDATION, 2, impact, sizeof(impact));
        assert_string_equal(impact, "impact: generation 1 serves: its manifest was re-applied "
                                    "(rolled back) and is healthy");
    }
    cJSON_Delete(again);
    cJSON_Delete(next);
    cJSON_Delete(res.status);
    cJSON_Delete(events);
    cJSON_Delete(obj);
}

static void failed_rollback_escalates(void **state)
{
    struct p4_rollback_plan p = {.what = P4_ROLLBACK_GO_ON, .from = 2, .to = 1, .stage = -1};
    struct p4_stage_result res = {.state = P4_STAGE_FAILED, .stalled = true, .rollback_to = 1};
    cJSON *obj = failed_at("Validation", "Validated", "",
                           ",'rollback':{'from':2,'to':1,'state':'Running','trigger':"
                           "'RollbackOnFailure','failedStage':'Validation','failedReason':"
                           "'SmokeTestFailed','startedAt':'" NOW "'}",
                           "");
    cJSON *events = cJSON_CreateArray(), *st;
    const char *msg;

    (void)state;
    res.err.reason = "RolloutTimedOut";
    (void)snprintf(res.err.message, sizeof(res.err.message), "pods not ready in 10m.");
    assert_int_equal(p4_rollback_state_of(obj, &p, &res), P4_ROLLBACK_FAILED);
    st = p4_reconciler_rollback_status(obj, &p, P4_ROLLBACK_FAILED, &res, LATER, events);
    assert_string_equal(p4_json_str(st, "rollback.state"), "Failed");
    assert_string_equal(p4_json_str(st, "rollback.reason"), "RolloutTimedOut");
    assert_string_equal(p4_json_str(cond(st, "RolledBack"), "status"), "False");
    assert_string_equal(p4_json_str(cond(st, "RolledBack"), "reason"), "RollbackFailed");
    assert_string_equal(p4_json_str(cond(st, "Stalled"), "reason"), "EscalatedToUser");
    msg = p4_json_str(cond(st, "Stalled"), "message");
    if (strstr(msg, "the rollback to generation 1 failed (RolloutTimedOut): pods not ready in "
                    "10m;") == NULL)
        fail_msg("Stalled: %s", msg);
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_event(events, 0, "Warning", "RollbackFailed", "rollback to generation 1 failed");
    cJSON_Delete(st);
    cJSON_Delete(events);
    cJSON_Delete(obj);
}

static void requested_rollback_status(void **state)
{
    struct p4_rollback_plan p;
    struct p4_stage_result res = {.state = P4_STAGE_RUNNING, .rollback_to = 1};
    cJSON *obj = test_json(
        "{'metadata':{'generation':3,'annotations':{'phase4.io/rollback-to':'1'}},"
        "'status':{'observedGeneration':3,'verdict':'SUCCESSFUL','lastKnownGoodRevision':3,"
        "'conditions':[{'type':'Ready','status':'True','observedGeneration':3,'reason':"
        "'Succeeded','message':'ok','lastTransitionTime':'" NOW "'},{'type':'KubernetesReady',"
        "'status':'True','observedGeneration':3,'reason':'WorkloadsReady','message':'ok',"
        "'lastTransitionTime':'" NOW "'}]}}");
    cJSON *events = cJSON_CreateArray(), *st, *next;

    (void)state;
    p4_rollback_decide(obj, &p);
    assert_int_equal(p.what, P4_ROLLBACK_BEGIN);
    /* its manifest not read yet: nothing is written */
    st = p4_reconciler_rollback_status(obj, &p, P4_ROLLBACK_PENDING, &res, NOW, events);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    cJSON_Delete(st);
    st = p4_reconciler_rollback_status(obj, &p, P4_ROLLBACK_RUNNING, &res, NOW, events);
    assert_string_equal(p4_json_str(st, "lastHandledRollbackTo"), "1");
    assert_string_equal(p4_json_str(st, "rollback.trigger"), "RollbackTo");
    assert_string_equal(p4_json_str(st, "rollback.request"), "1");
    assert_string_equal(p4_json_str(cond(st, "Ready"), "status"), "Unknown");
    assert_string_equal(p4_json_str(cond(st, "Ready"), "reason"), "RollingBack");
    assert_null(cond(st, "Stalled"));
    /* generation 3's apply no longer runs: a retry applies it again before validating it */
    assert_string_equal(p4_json_str(cond(st, "KubernetesReady"), "status"), "Unknown");
    assert_string_equal(p4_json_str(cond(st, "KubernetesReady"), "reason"), "RolledBack");
    next = with_status(obj, st);
    p4_rollback_decide(next, &p);
    assert_int_equal(p.what, P4_ROLLBACK_GO_ON);
    res.state = P4_STAGE_PASSED;
    st = p4_reconciler_rollback_status(next, &p, P4_ROLLBACK_SUCCEEDED, &res, LATER, events);
    assert_string_equal(p4_json_str(cond(st, "Ready"), "reason"), "RolledBack");
    assert_string_equal(p4_json_str(cond(st, "Stalled"), "reason"), "RolledBack");
    assert_string_equal(p4_json_str(st, "verdict"), "SUCCESSFUL"); /* generation 3's, as it was */
    assert_int_equal(cJSON_GetArraySize(events), 2);
    assert_event(events, 0, "Normal", "RollingBack",
                 "rollback requested (phase4.io/rollback-to=\"1\") from generation 3");
    assert_event(events, 1, "Normal", "RolledBack",
                 "generation 1's manifest re-applied and healthy");
    cJSON_Delete(st);
    cJSON_Delete(next);
    cJSON_Delete(events);
    cJSON_Delete(obj);
}

static void refused_requests(void **state)
{
    struct p4_rollback_plan p = {.what = P4_ROLLBACK_BEGIN, .from = 3, .to = 1, .request = "1"};
    cJSON *obj = test_json("{'metadata':{'generation':3},'status':{'observedGeneration':3,"
                           "'inventory':[]}}");
    cJSON *events = cJSON_CreateArray(), *st;

    (void)state;
    st = p4_reconciler_rollback_status(obj, &p, P4_ROLLBACK_NO_MANIFEST, NULL, NOW, events);
    assert_string_equal(p4_json_str(st, "lastHandledRollbackTo"), "1");
    assert_null(p4_json_get(st, "rollback"));
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_event(events, 0, "Warning", "RollbackRefused",
                 "Generation 3: rollback \"1\" refused (phase4.io/rollback-to): generation 1 has "
                 "no stored manifest");
    p4_rollback_refused(st, "x\"y", 3, "it is not a generation", events);
    assert_string_equal(p4_json_str(st, "lastHandledRollbackTo"), "x\"y");
    assert_event(events, 1, "Warning", "RollbackRefused", "rollback \"x?y\" refused");
    cJSON_Delete(st);
    cJSON_Delete(events);
    cJSON_Delete(obj);
}

/* With spec.notify, a rollback that became healthy queues one RolledBack document (notify.h). */
static void healthy_rollback_is_notified(void **state)
{
    struct p4_rollback_plan p = {.what = P4_ROLLBACK_GO_ON, .from = 2, .to = 1, .stage = -1};
    struct p4_stage_result res = {.state = P4_STAGE_PASSED, .rollback_to = 1};
    cJSON *obj = failed_at("Validation", "Validated", "",
                           ",'rollback':{'from':2,'to':1,'state':'Running','trigger':"
                           "'RollbackOnFailure','startedAt':'" NOW "'}",
                           ",'uid':'u-1'");
    cJSON *events = cJSON_CreateArray(), *st, *next;
    const cJSON *pending;

    (void)state;
    cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(obj, "spec"), "notify",
                          test_json("{'url':'https://hooks.example/p4'}"));
    st = p4_reconciler_rollback_status(obj, &p, P4_ROLLBACK_SUCCEEDED, &res, LATER, events);
    pending = p4_json_get(st, "notifications.pending");
    assert_int_equal(cJSON_GetArraySize(pending), 1);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(pending, 0), "event"), "RolledBack");
    {
        char *text = p4_json_print(cJSON_GetArrayItem(pending, 0));
        bool named = strstr(text, "generation 1's manifest re-applied and healthy") != NULL;
        free(text);
        if (!named)
            fail_msg("the document does not name both generations");
    }
    /* told once: the next reconcile, with it on record, queues nothing more */
    next = with_status(obj, st);
    st = p4_reconciler_rollback_status(next, &p, P4_ROLLBACK_SUCCEEDED, &res, LATER, events);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "notifications.pending")), 1);
    cJSON_Delete(st);
    cJSON_Delete(next);
    cJSON_Delete(events);
    cJSON_Delete(obj);
}

/* A failure escalated to a person is not rolled back: it stays escalated and re-checked. */
static void no_rollback_of_an_escalated_failure(void **state)
{
    struct p4_rollback_plan p;
    cJSON *obj = failed_at("Kubernetes", "KubernetesReady", "", "", "");
    cJSON *c;

    (void)state;
    cJSON_ArrayForEach(c, p4_json_get(obj, "status.conditions")) {
        if (p4_text_eq(p4_json_str(c, "type"), "Stalled"))
            cJSON_ReplaceItemInObjectCaseSensitive(c, "reason",
                                                   cJSON_CreateString("EscalatedToUser"));
    }
    p4_rollback_decide(obj, &p);
    assert_int_not_equal(p.what, P4_ROLLBACK_BEGIN);
    cJSON_Delete(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failure_rolls_back_to_the_last_good),
        cmocka_unit_test(no_rollback_of_an_escalated_failure),
        cmocka_unit_test(no_rollback_when_not_asked_or_not_possible),
        cmocka_unit_test(once_per_generation_and_retry),
        cmocka_unit_test(rollback_to_on_request),
        cmocka_unit_test(where_it_stands),
        cmocka_unit_test(failure_rollback_status_and_events),
        cmocka_unit_test(failed_rollback_escalates),
        cmocka_unit_test(requested_rollback_status),
        cmocka_unit_test(refused_requests),
        cmocka_unit_test(healthy_rollback_is_notified),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
