/* finalizer_test.c: the deletion finalizer's patches (they never clobber another finalizer), the
   timeout, and the Event told when it is released. */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/core/timefmt.h"
#include "phase4/reconciler/finalizer.h"
#include "testjson.h"

static void has_reads_the_finalizers(void **state)
{
    cJSON *with = test_json("{'metadata':{'finalizers':['a.io/x','phase4.io/uninstall']}}");
    cJSON *without = test_json("{'metadata':{'finalizers':['a.io/x',7]}}");
    cJSON *odd = test_json("{'metadata':{'finalizers':'phase4.io/uninstall'}}");

    (void)state;
    assert_true(p4_finalizer_has(with));
    assert_false(p4_finalizer_has(without));
    assert_false(p4_finalizer_has(odd));
    assert_false(p4_finalizer_has(NULL));
    cJSON_Delete(with);
    cJSON_Delete(without);
    cJSON_Delete(odd);
}

static void add_keeps_the_others_and_is_conditional(void **state)
{
    cJSON *obj = test_json("{'metadata':{'resourceVersion':'42','finalizers':['a.io/x']}}");
    cJSON *bare = test_json("{'metadata':{'resourceVersion':'7'}}");
    cJSON *norv = test_json("{'metadata':{}}");
    cJSON *has = test_json("{'metadata':{'resourceVersion':'1','finalizers':['phase4.io/"
                           "uninstall']}}");
    char *text = p4_finalizer_add_patch(obj);
    cJSON *patch = cJSON_Parse(text);

    (void)state;
    assert_non_null(patch);
    assert_int_equal(cJSON_GetArraySize(patch), 2);
    /* The add happens only on the list this was computed from. */
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(patch, 0), "op"), "test");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(patch, 0), "path"),
                        "/metadata/resourceVersion");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(patch, 0), "value"), "42");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(patch, 1), "path"), "/metadata/finalizers");
    assert_string_equal(
        cJSON_GetArrayItem(p4_json_get(cJSON_GetArrayItem(patch, 1), "value"), 0)->valuestring,
        "a.io/x");
    assert_string_equal(
        cJSON_GetArrayItem(p4_json_get(cJSON_GetArrayItem(patch, 1), "value"), 1)->valuestring,
        P4_FINALIZER);
    cJSON_Delete(patch);
    free(text);

    text = p4_finalizer_add_patch(bare);
    patch = cJSON_Parse(text);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(cJSON_GetArrayItem(patch, 1), "value")), 1);
    cJSON_Delete(patch);
    free(text);

    assert_null(p4_finalizer_add_patch(norv)); /* nothing to make it conditional on */
    assert_null(p4_finalizer_add_patch(has));  /* there already */
    cJSON_Delete(obj);
    cJSON_Delete(bare);
    cJSON_Delete(norv);
    cJSON_Delete(has);
}

static void remove_tests_the_entry_it_removes(void **state)
{
    cJSON *obj = test_json("{'metadata':{'finalizers':['a.io/x','phase4.io/uninstall','b']}}");
    cJSON *none = test_json("{'metadata':{'finalizers':['a.io/x']}}");
    char *text = p4_finalizer_remove_patch(obj);
    cJSON *patch = cJSON_Parse(text);

    (void)state;
    assert_non_null(patch);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(patch, 0), "op"), "test");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(patch, 0), "path"),
                        "/metadata/finalizers/1");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(patch, 0), "value"), P4_FINALIZER);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(patch, 1), "op"), "remove");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(patch, 1), "path"),
                        "/metadata/finalizers/1");
    cJSON_Delete(patch);
    free(text);
    assert_null(p4_finalizer_remove_patch(none));
    cJSON_Delete(obj);
    cJSON_Delete(none);
}

static void timeout_counts_from_the_deletion(void **state)
{
    cJSON *obj = test_json("{'metadata':{'deletionTimestamp':'2024-05-01T12:00:00Z'},"
                           "'spec':{'deletionTimeout':'10s'}}");
    cJSON *dflt = test_json("{'metadata':{'deletionTimestamp':'2024-05-01T12:00:00Z'}}");
    cJSON *bad = test_json("{'metadata':{'deletionTimestamp':'yesterday'}}");
    cJSON *live = test_json("{'metadata':{}}");
    int64_t at;

    (void)state;
    assert_int_equal(p4_timefmt_parse("2024-05-01T12:00:00Z", &at), 0);
    assert_int_equal(p4_finalizer_timeout_ms(obj), 10000);
    assert_int_equal(p4_finalizer_timeout_ms(dflt), P4_DELETION_TIMEOUT_MS);
    assert_int_equal(p4_finalizer_left_ms(obj, (time_t)(at / 1000000) + 4), 6000);
    assert_int_equal(p4_finalizer_left_ms(obj, (time_t)(at / 1000000) + 10), 0);
    assert_int_equal(p4_finalizer_left_ms(obj, (time_t)(at / 1000000) + 3600), 0);
    assert_int_equal(p4_finalizer_left_ms(dflt, (time_t)(at / 1000000) + 60), 240000);
    /* Nothing to wait for when the deletion's start cannot be read. */
    assert_int_equal(p4_finalizer_left_ms(bad, (time_t)(at / 1000000)), 0);
    assert_int_equal(p4_finalizer_left_ms(live, (time_t)(at / 1000000)), 0);
    cJSON_Delete(obj);
    cJSON_Delete(dflt);
    cJSON_Delete(bad);
    cJSON_Delete(live);
}

static void final_event_says_what_was_done_or_left(void **state)
{
    cJSON *del = test_json("{'spec':{}}");
    cJSON *orphan = test_json("{'spec':{'deletionPolicy':'Orphan'}}");
    cJSON *timed = test_json("{'spec':{'deletionTimeout':'10s'}}");
    struct p4_finalize_result fr = {.done = true, .deleted = 7, .not_ours = 1, .kept = 1};
    const char *type, *reason;
    char msg[2048];

    (void)state;
    p4_finalizer_final_event(del, &fr, false, &type, &reason, msg, sizeof(msg));
    assert_string_equal(type, "Normal");
    assert_string_equal(reason, "Uninstalled");
    assert_non_null(
        strstr(msg, "deletionPolicy Delete: 7 object(s) deleted, 1 left because not ours"));

    (void)snprintf(fr.kept_why, sizeof(fr.kept_why), "namespace x was kept: it also holds ...");
    p4_finalizer_final_event(del, &fr, false, &type, &reason, msg, sizeof(msg));
    assert_non_null(strstr(msg, "namespace x was kept"));

    fr = (struct p4_finalize_result){.done = true, .orphaned = 5};
    p4_finalizer_final_event(orphan, &fr, false, &type, &reason, msg, sizeof(msg));
    assert_string_equal(reason, "Uninstalled");
    assert_non_null(strstr(msg, "marks were taken off 5 object(s)"));

    fr = (struct p4_finalize_result){.remaining = 1, .deleted = 3};
    (void)snprintf(fr.left, sizeof(fr.left), "ConfigMap shop/held");
    (void)snprintf(fr.blocked_message, sizeof(fr.blocked_message), "held by example.com/hold");
    p4_finalizer_final_event(timed, &fr, true, &type, &reason, msg, sizeof(msg));
    assert_string_equal(type, "Warning");
    assert_string_equal(reason, "UninstallTimedOut");
    assert_non_null(strstr(msg, "spec.deletionTimeout (10s) passed"));
    assert_non_null(
        strstr(msg, "1 object(s) left: ConfigMap shop/held (held by example.com/hold)"));

    fr.done = true; /* done with objects left: the namespace is going */
    p4_finalizer_final_event(del, &fr, false, &type, &reason, msg, sizeof(msg));
    assert_string_equal(reason, "UninstallIncomplete");

    /* Cut to fit, never past the buffer. */
    p4_finalizer_final_event(timed, &fr, true, &type, &reason, msg, 16);
    assert_true(strlen(msg) < 16);
    cJSON_Delete(del);
    cJSON_Delete(orphan);
    cJSON_Delete(timed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(has_reads_the_finalizers),
        cmocka_unit_test(add_keeps_the_others_and_is_conditional),
        cmocka_unit_test(remove_tests_the_entry_it_removes),
        cmocka_unit_test(timeout_counts_from_the_deletion),
        cmocka_unit_test(final_event_says_what_was_done_or_left),
    };

    return cmocka_run_group_tests_name("finalizer", tests, NULL, NULL);
}
