/* approval_test.c: approval with a plan, the pure decisions (reconciler/approval.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include <stdio.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/reconciler/approval.h"

#define OWNER(manager, time)                                                                       \
    "{\"manager\":\"" manager "\",\"operation\":\"Update\",\"time\":\"" time "\",\"fieldsV1\":"    \
    "{\"f:metadata\":{\"f:annotations\":{\"f:phase4.io/approve\":{}}}}}"
#define OTHER(manager)                                                                             \
    "{\"manager\":\"" manager "\",\"operation\":\"Apply\",\"time\":\"2024-05-01T00:00:00Z\","      \
    "\"fieldsV1\":{\"f:spec\":{\"f:chart\":{}}}}"

static cJSON *parse(const char *text)
{
    cJSON *obj = cJSON_Parse(text);

    assert_non_null(obj);
    return obj;
}

/* A production resource at generation gen, with the annotation (NULL: none) and status. */
static cJSON *resource(int gen, const char *approve, const char *status)
{
    char buf[2048], ann[256] = "";

    if (approve)
        (void)snprintf(ann, sizeof(ann), ",\"annotations\":{\"phase4.io/approve\":\"%s\"}",
                       approve);
    (void)snprintf(buf, sizeof(buf),
                   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"generation\":%d%s},"
                   "\"spec\":{\"target\":{\"environment\":\"production\"},\"approval\":"
                   "{\"required\":true}},\"status\":%s}",
                   gen, ann, status ? status : "{}");
    return parse(buf);
}

static int count_events(const cJSON *events, const char *type, const char *reason)
{
    const cJSON *e;
    int n = 0;

    cJSON_ArrayForEach(e, events) {
        if (p4_text_eq(p4_json_str(e, "type"), type) &&
            p4_text_eq(p4_json_str(e, "reason"), reason))
            n++;
    }
    return n;
}

static void required_by_the_spec_or_production(void **state)
{
    cJSON *a = parse("{\"spec\":{\"approval\":{\"required\":true}}}");
    cJSON *b = parse("{\"spec\":{\"target\":{\"environment\":\"production\"}}}");
    cJSON *c = parse("{\"spec\":{\"target\":{\"environment\":\"staging\"},\"approval\":"
                     "{\"required\":false}}}");
    cJSON *d = parse("{\"spec\":{\"approval\":{\"required\":\"yes\"}}}");

    (void)state;
    assert_true(p4_approval_required(a));
    assert_true(p4_approval_required(b));
    assert_false(p4_approval_required(c));
    assert_false(p4_approval_required(d)); /* not a boolean: absent */
    assert_false(p4_approval_required(NULL));
    assert_int_equal(p4_approval_state(c), P4_APPROVAL_NOT_REQUIRED);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(d);
}

static void state_from_annotation_and_record(void **state)
{
    static const struct {
        const char *approve, *status;
        int gen;
        enum p4_approval_state want;
    } cases[] = {
        {NULL, NULL, 1, P4_APPROVAL_WAITING},
        {"1", NULL, 1, P4_APPROVAL_REQUESTED},
        {"1", NULL, 2, P4_APPROVAL_WAITING},    /* older */
        {"3", NULL, 2, P4_APPROVAL_WAITING},    /* not yet there */
        {"02", NULL, 2, P4_APPROVAL_REQUESTED}, /* a number all the same */
        {"abc", NULL, 2, P4_APPROVAL_WAITING},
        {"2x", NULL, 2, P4_APPROVAL_WAITING},
        {" 2", NULL, 2, P4_APPROVAL_WAITING},
        {"+2", NULL, 2, P4_APPROVAL_WAITING},
        {"-2", NULL, 2, P4_APPROVAL_WAITING},
        {"", NULL, 2, P4_APPROVAL_WAITING},
        {"99999999999999999999999", NULL, 2, P4_APPROVAL_WAITING},
        /* on record: approved, whatever the annotation says now (a restart asks nothing) */
        {NULL, "{\"approval\":{\"generation\":2}}", 2, P4_APPROVAL_APPROVED},
        {"1", "{\"approval\":{\"generation\":2}}", 2, P4_APPROVAL_APPROVED},
        /* a new generation after an approval needs its own */
        {"2", "{\"approval\":{\"generation\":2}}", 3, P4_APPROVAL_WAITING},
        {NULL, "{\"approval\":{\"generation\":\"3\"}}", 3, P4_APPROVAL_WAITING},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = resource(cases[i].gen, cases[i].approve, cases[i].status);
        if (p4_approval_state(obj) != cases[i].want)
            fail_msg("case %zu: state %d, want %d", i, p4_approval_state(obj), cases[i].want);
        cJSON_Delete(obj);
    }
}

static void who_approved_from_managed_fields(void **state)
{
    cJSON *mf = parse("[" OTHER("phase4-operator") "," OWNER(
        "kubectl-annotate", "2024-05-01T10:00:00Z") "," OWNER("argocd-controller",
                                                              "2024-05-02T09:00:00Z") "]");
    cJSON *none = parse("[" OTHER("kubectl-client-side-apply") "]");
    cJSON *odd =
        parse("[{\"manager\":\"evil\\u001b[31m\",\"time\":\"t\",\"fieldsV1\":{\"f:metadata\":"
              "{\"f:annotations\":{\"f:phase4.io/approve\":{}}}}},{\"fieldsV1\":[]},1,"
              "{\"manager\":7}]");
    cJSON *owners;
    char by[P4_APPROVAL_BY_MAX], at[64];

    (void)state;
    assert_true(p4_approval_who(mf, by, sizeof(by), at, sizeof(at)));
    assert_string_equal(by, "argocd-controller"); /* the latest */
    assert_string_equal(at, "2024-05-02T09:00:00Z");
    assert_false(p4_approval_who(none, by, sizeof(by), at, sizeof(at)));
    assert_string_equal(by, "");
    assert_false(p4_approval_who(NULL, by, sizeof(by), at, sizeof(at)));
    assert_true(p4_approval_who(odd, by, sizeof(by), at, sizeof(at)));
    assert_null(strchr(by, 0x1b)); /* cleaned for a message */
    owners = p4_approval_owners(mf);
    assert_int_equal(cJSON_GetArraySize(owners), 2);
    cJSON_Delete(owners);
    owners = p4_approval_owners(odd);
    assert_int_equal(cJSON_GetArraySize(owners), 1);
    cJSON_Delete(owners);
    owners = p4_approval_owners(NULL);
    assert_int_equal(cJSON_GetArraySize(owners), 0);
    cJSON_Delete(owners);
    cJSON_Delete(mf);
    cJSON_Delete(none);
    cJSON_Delete(odd);
}

static const cJSON *plan_status(void)
{
    static cJSON *st;

    if (st == NULL)
        st = parse("{\"plan\":{\"generation\":2,\"summary\":\"1 to create, 1 to change, 2 "
                   "unchanged, 1 to prune\"}}");
    return st;
}

static void waiting_says_the_plan_and_the_command_once(void **state)
{
    cJSON *obj = resource(2, NULL, NULL);
    cJSON *was = parse("{\"type\":\"AwaitingApproval\",\"status\":\"True\",\"reason\":"
                       "\"AwaitingApproval\",\"observedGeneration\":2}");
    cJSON *older = parse("{\"type\":\"AwaitingApproval\",\"status\":\"True\",\"reason\":"
                         "\"AwaitingApproval\",\"observedGeneration\":1}");
    struct p4_approval_decision d;

    (void)state;
    p4_approval_decide(obj, plan_status(), NULL, &d);
    assert_false(d.go);
    assert_string_equal(d.status, "True");
    assert_string_equal(d.reason, "AwaitingApproval");
    assert_non_null(strstr(d.message, "1 to create, 1 to change, 2 unchanged, 1 to prune"));
    assert_non_null(strstr(d.message, "kubectl annotate p4d web -n shop phase4.io/approve=2 "
                                      "--overwrite"));
    assert_int_equal(count_events(d.events, "Normal", "AwaitingApproval"), 1);
    assert_null(d.record);
    cJSON_Delete(d.events);
    /* told already for this generation: no Event */
    p4_approval_decide(obj, plan_status(), was, &d);
    assert_null(d.events);
    /* told for an older one: told again */
    p4_approval_decide(obj, plan_status(), older, &d);
    assert_int_equal(count_events(d.events, "Normal", "AwaitingApproval"), 1);
    cJSON_Delete(d.events);
    /* no plan for this generation yet */
    p4_approval_decide(obj, NULL, was, &d);
    assert_non_null(strstr(d.message, "the plan is in status.plan"));
    cJSON_Delete(d.events);
    cJSON_Delete(obj);
    cJSON_Delete(was);
    cJSON_Delete(older);
}

static void another_generation_is_ignored_once_per_value(void **state)
{
    static const struct {
        const char *value, *why;
    } cases[] = {
        {"1", "phase4.io/approve=1 was ignored: it approves generation 1, an older one"},
        {"5", "phase4.io/approve=5 was ignored: generation 5 does not exist"},
        {"yes please", "phase4.io/approve=\"yes please\" was ignored: it is not a generation"},
    };
    struct p4_approval_decision d;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = resource(2, cases[i].value, NULL), *again;
        char status[256];
        p4_approval_decide(obj, plan_status(), NULL, &d);
        assert_false(d.go);
        assert_non_null(strstr(d.message, cases[i].why));
        assert_int_equal(count_events(d.events, "Warning", "ApprovalIgnored"), 1);
        assert_string_equal(p4_json_str(d.record, "ignored"), cases[i].value);
        cJSON_Delete(d.events);
        cJSON_Delete(d.record);
        /* the value told is on record: not told again, still said */
        (void)snprintf(status, sizeof(status), "{\"approval\":{\"ignored\":\"%s\"}}",
                       cases[i].value);
        again = resource(2, cases[i].value, status);
        p4_approval_decide(again, plan_status(), NULL, &d);
        assert_int_equal(count_events(d.events, "Warning", "ApprovalIgnored"), 0);
        assert_null(d.record);
        assert_non_null(strstr(d.message, cases[i].why));
        cJSON_Delete(d.events);
        cJSON_Delete(again);
        cJSON_Delete(obj);
    }
}

static void a_long_value_is_kept_bounded(void **state)
{
    char value[200], status[300];
    cJSON *obj, *again;
    struct p4_approval_decision d;
    const char *kept;

    (void)state;
    memset(value, '9', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    obj = resource(2, value, NULL);
    p4_approval_decide(obj, NULL, NULL, &d);
    kept = p4_json_str(d.record, "ignored");
    assert_non_null(kept);
    assert_true(strlen(kept) <= 64);
    assert_int_equal(count_events(d.events, "Warning", "ApprovalIgnored"), 1);
    (void)snprintf(status, sizeof(status), "{\"approval\":{\"ignored\":\"%s\"}}", kept);
    again = resource(2, value, status);
    cJSON_Delete(d.events);
    cJSON_Delete(d.record);
    p4_approval_decide(again, NULL, NULL, &d);
    assert_int_equal(count_events(d.events, "Warning", "ApprovalIgnored"), 0);
    assert_null(d.record);
    cJSON_Delete(d.events);
    cJSON_Delete(again);
    cJSON_Delete(obj);
}

static void the_last_approval_left_in_place_is_no_news(void **state)
{
    cJSON *obj = resource(3, "2", "{\"approval\":{\"generation\":2,\"by\":\"kubectl-annotate\"}}");
    struct p4_approval_decision d;

    (void)state;
    p4_approval_decide(obj, NULL, NULL, &d);
    assert_false(d.go);
    assert_int_equal(count_events(d.events, "Warning", "ApprovalIgnored"), 0);
    assert_null(strstr(d.message, "ignored"));
    assert_null(d.record);
    cJSON_Delete(d.events);
    cJSON_Delete(obj);
}

static void the_right_approval_is_recorded_with_who(void **state)
{
    cJSON *obj =
        resource(2, "2", "{\"approval\":{\"generation\":1,\"by\":\"x\",\"ignored\":\"7\"}}");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    struct p4_approval_decision d;
    int64_t g = 0;

    (void)state;
    /* who approved is not read yet (the cache keeps no managedFields): waiting, nothing told */
    p4_approval_decide(obj, plan_status(), NULL, &d);
    assert_false(d.go);
    assert_true(d.wait_who);
    assert_string_equal(d.status, "True");
    assert_null(d.events);
    assert_null(d.record);
    /* read */
    cJSON_AddItemToObject(meta, "managedFields",
                          parse("[" OWNER("kubectl-annotate", "2024-05-01T10:00:00Z") "]"));
    p4_approval_decide(obj, plan_status(), NULL, &d);
    assert_true(d.go);
    assert_string_equal(d.status, "False");
    assert_string_equal(d.reason, "Approved");
    assert_int_equal(p4_json_int64(d.record, "generation", &g), 0);
    assert_int_equal(g, 2);
    assert_string_equal(p4_json_str(d.record, "by"), "kubectl-annotate");
    assert_string_equal(p4_json_str(d.record, "at"), "2024-05-01T10:00:00Z");
    assert_int_equal(count_events(d.events, "Normal", "Approved"), 1);
    assert_non_null(strstr(p4_json_str(cJSON_GetArrayItem(d.events, 0), "message"),
                           "by field manager kubectl-annotate at 2024-05-01T10:00:00Z"));
    cJSON_Delete(d.events);
    cJSON_Delete(d.record);
    /* read, but nobody owns it (the read failed): recorded by an unknown manager */
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
    cJSON_AddItemToObject(meta, "managedFields", cJSON_CreateArray());
    p4_approval_decide(obj, plan_status(), NULL, &d);
    assert_true(d.go);
    assert_null(p4_json_get(d.record, "by"));
    assert_non_null(strstr(d.message, "(unknown)"));
    cJSON_Delete(d.events);
    cJSON_Delete(d.record);
    cJSON_Delete(obj);
}

static void approved_on_record_goes_on_quietly(void **state)
{
    cJSON *obj = resource(2, "2",
                          "{\"approval\":{\"generation\":2,\"by\":\"kubectl-annotate\","
                          "\"at\":\"2024-05-01T10:00:00Z\"}}");
    cJSON *plain = parse("{\"metadata\":{\"generation\":1},\"spec\":{}}");
    struct p4_approval_decision d;

    (void)state;
    p4_approval_decide(obj, NULL, NULL, &d);
    assert_true(d.go);
    assert_string_equal(d.reason, "Approved");
    assert_non_null(strstr(d.message, "kubectl-annotate at 2024-05-01T10:00:00Z"));
    assert_null(d.events);
    assert_null(d.record);
    p4_approval_decide(plain, NULL, NULL, &d);
    assert_true(d.go);
    assert_null(d.status);
    assert_null(d.events);
    cJSON_Delete(obj);
    cJSON_Delete(plain);
}

/*
 * Suspending and resuming an approved generation makes two new generations whose spec differs
 * only in spec.suspend: the approval holds (status.approval.specDigest); any other change asks
 * again.
 */
static void an_approval_holds_across_suspend_only(void **state)
{
    cJSON *g1 = resource(1, "1", "{}"), *g3, *g4;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(g1, "metadata");
    struct p4_approval_decision d;
    char status[512];
    const char *digest;

    (void)state;
    cJSON_AddItemToObject(meta, "managedFields",
                          parse("[" OWNER("kubectl-annotate", "2024-05-01T10:00:00Z") "]"));
    p4_approval_decide(g1, plan_status(), NULL, &d);
    assert_true(d.go);
    digest = p4_json_str(d.record, "specDigest");
    assert_non_null(digest);
    assert_int_equal(strlen(digest), 64);
    (void)snprintf(status, sizeof(status),
                   "{\"approval\":{\"generation\":1,\"by\":\"kubectl-annotate\","
                   "\"specDigest\":\"%s\"}}",
                   digest);
    cJSON_Delete(d.events);
    cJSON_Delete(d.record);
    /* generation 3: suspended then resumed, the same spec otherwise */
    g3 = resource(3, "1", status);
    cJSON_AddBoolToObject(cJSON_GetObjectItemCaseSensitive(g3, "spec"), "suspend", false);
    assert_int_equal(p4_approval_state(g3), P4_APPROVAL_APPROVED);
    p4_approval_decide(g3, plan_status(), NULL, &d);
    assert_true(d.go);
    assert_null(d.events);
    assert_non_null(strstr(d.message, "approved as generation 1"));
    /* generation 4: another change */
    g4 = resource(4, "1", status);
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(g4, "spec"), "serviceAccountName",
                            "other");
    assert_int_equal(p4_approval_state(g4), P4_APPROVAL_WAITING);
    cJSON_Delete(g1);
    cJSON_Delete(g3);
    cJSON_Delete(g4);
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete((cJSON *)plan_status());
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(required_by_the_spec_or_production),
        cmocka_unit_test(state_from_annotation_and_record),
        cmocka_unit_test(who_approved_from_managed_fields),
        cmocka_unit_test(waiting_says_the_plan_and_the_command_once),
        cmocka_unit_test(another_generation_is_ignored_once_per_value),
        cmocka_unit_test(a_long_value_is_kept_bounded),
        cmocka_unit_test(the_last_approval_left_in_place_is_no_news),
        cmocka_unit_test(the_right_approval_is_recorded_with_who),
        cmocka_unit_test(approved_on_record_goes_on_quietly),
        cmocka_unit_test(an_approval_holds_across_suspend_only),
    };
    return cmocka_run_group_tests_name("approval", tests, NULL, teardown);
}
