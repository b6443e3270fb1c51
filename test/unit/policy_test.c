/* policy_test.c: the deployment policy's pure decisions (controller/reconciler/policy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "reconciler/policy.h"
#include "reconciler/verdict.h"
#include "testjson.h"

static void retry_requested_once_per_value(void **state)
{
    static const struct {
        const char *json;
        const char *want; /* NULL: no retry to handle */
    } cases[] = {
        {"{'metadata':{'annotations':{'phase4.io/retry':'1'}}}", "1"},
        {"{'metadata':{'annotations':{'phase4.io/retry':'2'}},'status':{'lastHandledRetry':'1'}}",
         "2"},
        {"{'metadata':{'annotations':{'phase4.io/retry':'1'}},'status':{'lastHandledRetry':'1'}}",
         NULL},
        {"{'metadata':{'annotations':{'phase4.io/retry':''}}}", NULL},
        {"{'metadata':{'annotations':{'phase4.io/retry':7}}}", NULL},
        {"{'metadata':{'annotations':{'other':'1'}}}", NULL},
        {"{'metadata':{'annotations':'x'}}", NULL},
        {"{'metadata':{}}", NULL},
        {"{}", NULL},
        /* a handled value that is not a string never matches */
        {"{'metadata':{'annotations':{'phase4.io/retry':'1'}},'status':{'lastHandledRetry':1}}",
         "1"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = test_json(cases[i].json);
        const char *got = p4_policy_retry_requested(obj);
        if (cases[i].want == NULL ? got != NULL : got == NULL || strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got %s, want %s", i, got ? got : "NULL",
                     cases[i].want ? cases[i].want : "NULL");
        cJSON_Delete(obj);
    }
    assert_null(p4_policy_retry_requested(NULL));
}

static void failed_stage_is_the_one_on_record(void **state)
{
    static const struct {
        const char *json;
        int want;
    } cases[] = {
        {"{'metadata':{'generation':3},'status':{'stage':'Helm','conditions':[{'type':"
         "'HelmReady','status':'False','observedGeneration':3}]}}",
         P4_STAGE_HELM},
        {"{'metadata':{'generation':3},'status':{'stage':'Validation','conditions':[{'type':"
         "'Validated','status':'False','observedGeneration':3}]}}",
         P4_STAGE_VALIDATION},
        /* an older generation's failure, a pass, one still checked, another stage named */
        {"{'metadata':{'generation':4},'status':{'stage':'Helm','conditions':[{'type':"
         "'HelmReady','status':'False','observedGeneration':3}]}}",
         -1},
        {"{'metadata':{'generation':3},'status':{'stage':'Helm','conditions':[{'type':"
         "'HelmReady','status':'True','observedGeneration':3}]}}",
         -1},
        {"{'metadata':{'generation':3},'status':{'stage':'Helm','conditions':[{'type':"
         "'HelmReady','status':'Unknown','observedGeneration':3}]}}",
         -1},
        {"{'metadata':{'generation':3},'status':{'stage':'Docker','conditions':[{'type':"
         "'HelmReady','status':'False','observedGeneration':3}]}}",
         -1},
        /* refused before any stage, done, malformed */
        {"{'metadata':{'generation':3},'status':{'stage':'Pending'}}", -1},
        {"{'metadata':{'generation':3},'status':{'stage':'Done'}}", -1},
        {"{'metadata':{'generation':3},'status':{'stage':'Helm','conditions':'x'}}", -1},
        {"{'status':{'stage':7}}", -1},
        {"{}", -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = test_json(cases[i].json);
        if (p4_policy_failed_stage(obj) != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i, p4_policy_failed_stage(obj), cases[i].want);
        cJSON_Delete(obj);
    }
}

static void retry_handled_records_and_tells(void **state)
{
    cJSON *st = test_json("{'lastHandledRetry':'0','stage':'Docker'}");
    cJSON *events = cJSON_CreateArray();
    const char *msg;

    (void)state;
    p4_policy_retry_handled(st, "1", "Docker", 3, events);
    assert_string_equal(p4_json_str(st, "lastHandledRetry"), "1");
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(events, 0), "type"), "Normal");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(events, 0), "reason"), "RetryRequested");
    msg = p4_json_str(cJSON_GetArrayItem(events, 0), "message");
    assert_string_equal(msg, "Generation 3: retry \"1\" requested (phase4.io/retry): the Docker "
                             "stage runs again from its first attempt");

    /* Nothing failed: said so. A value with quotes and control bytes is shown cleaned, cut. */
    p4_policy_retry_handled(st, "a\"b\nc", NULL, 3, events);
    assert_string_equal(p4_json_str(st, "lastHandledRetry"), "a\"b\nc"); /* recorded as is */
    msg = p4_json_str(cJSON_GetArrayItem(events, 1), "message");
    assert_non_null(strstr(msg, "no stage has failed for this generation"));
    assert_null(strchr(msg, '\n'));
    {
        char big[400];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        p4_policy_retry_handled(st, big, "Helm", 3, events);
        msg = p4_json_str(cJSON_GetArrayItem(events, 2), "message");
        assert_true(strlen(msg) < 300);
        assert_non_null(strstr(msg, "the Helm stage runs again"));
    }
    /* Without events only the record. */
    p4_policy_retry_handled(st, "9", "Helm", 3, NULL);
    assert_string_equal(p4_json_str(st, "lastHandledRetry"), "9");
    assert_int_equal(cJSON_GetArraySize(events), 3);
    cJSON_Delete(st);
    cJSON_Delete(events);
}

static void recheck_backs_off_to_the_interval(void **state)
{
    (void)state;
    assert_int_equal(p4_policy_recheck_ms(0, 300000), 30000);
    assert_int_equal(p4_policy_recheck_ms(1, 300000), 60000);
    assert_int_equal(p4_policy_recheck_ms(2, 300000), 120000);
    assert_int_equal(p4_policy_recheck_ms(3, 300000), 240000);
    assert_int_equal(p4_policy_recheck_ms(4, 300000), 300000);
    assert_int_equal(p4_policy_recheck_ms(1000, 300000), 300000);
    /* An interval under 30 s (tests) is the wait from the start. */
    assert_int_equal(p4_policy_recheck_ms(0, 2000), 2000);
    assert_int_equal(p4_policy_recheck_ms(5, 2000), 2000);
    assert_int_equal(p4_policy_recheck_ms(0, 30000), 30000);
    assert_int_equal(p4_policy_recheck_ms(0, 0), 0);
    assert_int_equal(p4_policy_recheck_ms(-1, 300000), 30000);
}

static void stalled_reason_by_class(void **state)
{
    (void)state;
    assert_string_equal(p4_policy_stalled_reason(P4_FAIL_ARTIFACT), "RegenerationRequired");
    assert_string_equal(p4_policy_stalled_reason(P4_FAIL_CLUSTER), "EscalatedToUser");
    assert_string_equal(p4_policy_stalled_reason(P4_FAIL_NONE), "EscalatedToUser");
}

static void impact_says_what_still_serves(void **state)
{
    static const struct {
        const char *json;
        int stage;
        const char *want;
    } cases[] = {
        {"{'status':{'lastKnownGoodRevision':2,'inventory':[{}]}}", P4_STAGE_HELM,
         "impact: generation 2, the last good revision, still serves (nothing of this generation "
         "was applied)"},
        {"{'status':{'lastKnownGoodRevision':2,'inventory':[{}]}}", -1,
         "impact: generation 2, the last good revision, still serves"},
        {"{'status':{'lastKnownGoodRevision':2,'inventory':[{}]}}", P4_STAGE_KUBERNETES,
         "impact: this generation is applied over generation 2, the last good revision, whose "
         "pods serve only where the rollout has not replaced them"},
        {"{'status':{'inventory':[{}]}}", P4_STAGE_DOCKER,
         "impact: what an earlier generation applied stays as it is"},
        {"{}", P4_STAGE_DOCKER, "impact: nothing serves yet (nothing was applied)"},
        {"{}", P4_STAGE_VALIDATION, "impact: nothing is known to serve"},
        /* a last good revision that is this generation or later, or not a number: none */
        {"{'status':{'lastKnownGoodRevision':5}}", P4_STAGE_HELM, "impact: nothing serves yet"},
        {"{'status':{'lastKnownGoodRevision':'2'}}", P4_STAGE_HELM, "impact: nothing serves yet"},
        {"{'status':{'lastKnownGoodRevision':-1,'inventory':'x'}}", P4_STAGE_HELM,
         "impact: nothing serves yet"},
    };
    char out[300];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = test_json(cases[i].json);
        p4_policy_impact(obj, cases[i].stage, 5, out, sizeof(out));
        if (strncmp(out, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: %s", i, out);
        cJSON_Delete(obj);
    }
    p4_policy_impact(NULL, P4_STAGE_HELM, 5, out, 8);
    assert_int_equal(strlen(out), 7); /* cut, terminated */
    p4_policy_impact(NULL, P4_STAGE_HELM, 5, out, 0);
}

static void final_message_names_what_why_impact_and_fix(void **state)
{
    cJSON *obj = test_json("{'status':{'lastKnownGoodRevision':1,'inventory':[{}]}}");
    struct p4_policy_final f = {.generation = 2,
                                .stage = P4_STAGE_KUBERNETES,
                                .gate = "ResourcesCreated",
                                .reason = "Forbidden",
                                .message = "ServiceAccount shop/deployer may not get configmaps.",
                                .cls = P4_FAIL_CLUSTER};
    char out[2048], small[40];

    (void)state;
    p4_policy_final_message(obj, &f, out, sizeof(out));
    assert_string_equal(
        out, "Generation 2: escalated to a person: the Kubernetes stage cannot go on at gate "
             "ResourcesCreated (Forbidden): ServiceAccount shop/deployer may not get configmaps; "
             "impact: this generation is applied over generation 1, the last good revision, whose "
             "pods serve only where the rollout has not replaced them (nothing is rolled back); "
             "fix: grant the identity named in the message the RBAC it lacks, or change the spec "
             "so it needs less; it is checked again with backoff and clears by itself once fixed");
    f.no_recheck = true;
    f.gate = NULL;
    p4_policy_final_message(obj, &f, out, sizeof(out));
    assert_non_null(strstr(out, "the Kubernetes stage cannot go on (Forbidden)"));
    assert_non_null(strstr(out, "only a changed spec (a new generation) checks it again"));

    f = (struct p4_policy_final){.generation = 2,
                                 .stage = P4_STAGE_HELM,
                                 .gate = "Packaged",
                                 .reason = "ChartNotFound",
                                 .message = "no chart",
                                 .cls = P4_FAIL_ARTIFACT,
                                 .attempts = 1};
    p4_policy_final_message(obj, &f, out, sizeof(out));
    assert_string_equal(out,
                        "Generation 2: the Helm stage failed 1 time at gate Packaged "
                        "(ChartNotFound): no chart; impact: generation 1, the last good "
                        "revision, still serves (nothing of this generation was applied); next: "
                        "publish the chart version spec.chart.version asks for, or fix "
                        "spec.chart.name or version, or set the annotation phase4.io/retry to a "
                        "new value to run it again once fixed elsewhere");
    f.attempts = 3;
    p4_policy_final_message(obj, &f, out, sizeof(out));
    assert_non_null(strstr(out, "failed 3 times"));

    /* Refused before any stage; no reason or message given. */
    f = (struct p4_policy_final){.generation = 2, .stage = -1, .cls = P4_FAIL_CLUSTER};
    p4_policy_final_message(NULL, &f, out, sizeof(out));
    assert_non_null(strstr(out, "Generation 2: escalated to a person: not started (Failed): ; "));
    /* Cut to the buffer, always terminated. */
    p4_policy_final_message(obj, &f, small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    p4_policy_final_message(obj, &f, small, 0);
    cJSON_Delete(obj);
}

static void clause_len_drops_the_full_stop(void **state)
{
    (void)state;
    assert_int_equal(p4_policy_clause_len("a b."), 3);
    assert_int_equal(p4_policy_clause_len("a b. "), 3);
    assert_int_equal(p4_policy_clause_len("a b"), 3);
    assert_int_equal(p4_policy_clause_len("..."), 0);
    assert_int_equal(p4_policy_clause_len(""), 0);
    assert_int_equal(p4_policy_clause_len(NULL), 0);
}

static void spec_digest_ignores_only_suspend(void **state)
{
    cJSON *a = test_json("{'metadata':{'generation':1},'spec':{'image':{'tag':'1'},'x':[1,2]}}");
    cJSON *b = test_json("{'metadata':{'generation':2},'spec':{'image':{'tag':'1'},'x':[1,2],"
                         "'suspend':true}}");
    cJSON *c = test_json("{'metadata':{'generation':3},'spec':{'image':{'tag':'2'},'x':[1,2],"
                         "'suspend':false}}");
    cJSON *none = test_json("{'metadata':{'generation':3},'spec':7}");

    char da[P4_SPEC_DIGEST_SIZE], db[P4_SPEC_DIGEST_SIZE], dc[P4_SPEC_DIGEST_SIZE];
    char dn[P4_SPEC_DIGEST_SIZE] = "x";

    (void)state;
    assert_true(p4_policy_spec_digest(a, da));
    assert_int_equal(strlen(da), 64);
    assert_true(p4_policy_spec_digest(b, db));
    assert_true(p4_policy_spec_digest(c, dc));
    assert_string_equal(da, db);
    assert_string_not_equal(da, dc);
    assert_false(p4_policy_spec_digest(none, dn));
    assert_string_equal(dn, "");
    assert_false(p4_policy_spec_digest(NULL, dn));
    /* The object itself is left as it was. */
    assert_non_null(p4_json_get(b, "spec.suspend"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(none);
}

/* status.history names who approved a run: the approval on record for its generation, or one
   carried over to it (the same spec but for spec.suspend); "" when none was asked. */
static void history_names_the_approver(void **state)
{
    cJSON *obj = test_json("{'metadata':{'generation':3},'spec':{'approval':{'required':true},"
                           "'image':{'tag':'1'}}}");
    cJSON *plain = test_json("{'metadata':{'generation':3},'spec':{'image':{'tag':'1'}}}");
    cJSON *report = test_json("{'generation':3,'startedAt':'2026-01-01T00:00:00Z'}");
    cJSON *st = test_json("{'approval':{'generation':3,'by':'kubectl-annotate'}}");
    char digest[P4_SPEC_DIGEST_SIZE], text[256];

    (void)state;
    p4_verdict_history(st, obj, report);
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "history"), 0), "approvedBy"),
        "kubectl-annotate");
    cJSON_Delete(st);
    /* approved as generation 1, whose spec this one repeats */
    assert_true(p4_policy_spec_digest(obj, digest));
    (void)snprintf(text, sizeof(text),
                   "{'approval':{'generation':1,'by':'kubectl-annotate','specDigest':'%s'}}",
                   digest);
    st = test_json(text);
    p4_verdict_history(st, obj, report);
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "history"), 0), "approvedBy"),
        "kubectl-annotate");
    cJSON_Delete(st);
    /* approved as generation 1, another spec: not this run's approval */
    st = test_json("{'approval':{'generation':1,'by':'kubectl-annotate','specDigest':'00'}}");
    p4_verdict_history(st, obj, report);
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "history"), 0), "approvedBy"), "");
    cJSON_Delete(st);
    /* no approval asked */
    st = test_json("{'approval':{'generation':3,'by':'kubectl-annotate'}}");
    p4_verdict_history(st, plain, report);
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "history"), 0), "approvedBy"), "");
    cJSON_Delete(st);
    cJSON_Delete(obj);
    cJSON_Delete(plain);
    cJSON_Delete(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_requested_once_per_value),
        cmocka_unit_test(failed_stage_is_the_one_on_record),
        cmocka_unit_test(retry_handled_records_and_tells),
        cmocka_unit_test(recheck_backs_off_to_the_interval),
        cmocka_unit_test(stalled_reason_by_class),
        cmocka_unit_test(impact_says_what_still_serves),
        cmocka_unit_test(final_message_names_what_why_impact_and_fix),
        cmocka_unit_test(clause_len_drops_the_full_stop),
        cmocka_unit_test(spec_digest_ignores_only_suspend),
        cmocka_unit_test(history_names_the_approver),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
