/* applymark_test.c: ownership marks and label values: what they add, what they keep, and that
   ownership is the exact annotation. */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/core/json.h"
#include "phase4/stages/kubernetes/applymark.h"
#include "testjson.h"

/* ---- label values ---- */

static void label_values_fit_kubernetes_limit(void **state)
{
    char out[P4_LABEL_VALUE_MAX + 1], again[P4_LABEL_VALUE_MAX + 1];
    char exact[64], other[128];
    const char *long_name =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-very-long-deployment-name-that-goes-past-the-"
        "label-limit";

    (void)state;
    assert_string_equal(p4_applyset_label_value("shop", out), "shop");
    assert_string_equal(p4_applyset_label_value("", out), "");
    memset(exact, 'x', 63);
    exact[63] = '\0';
    assert_string_equal(p4_applyset_label_value(exact, out), exact);

    /* 52 bytes, '-', 10 hex digits of sha256(name) (python3 hashlib gave 5f76fbcc01). */
    assert_string_equal(p4_applyset_label_value(long_name, out),
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-very-long-d-5f76fbcc01");
    assert_int_equal(strlen(out), 63);
    /* Stable, and two names sharing the first 52 bytes still differ. */
    assert_string_equal(p4_applyset_label_value(long_name, again), out);
    (void)snprintf(other, sizeof(other), "%s-2", long_name);
    assert_string_not_equal(p4_applyset_label_value(other, again), out);
    assert_memory_equal(again, out, 53);
}

static void owner_mark_is_namespace_slash_name(void **state)
{
    char buf[16];

    (void)state;
    assert_int_equal(p4_applyset_owner_mark("shop", "web", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "shop/web");
    assert_int_equal(p4_applyset_owner_mark("a-long-namespace", "web", buf, sizeof(buf)),
                     P4_ERR_TOOBIG);
    assert_int_equal(p4_applyset_owner_mark(NULL, "web", buf, sizeof(buf)), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_owner_mark("shop", "web", NULL, 0), P4_ERR_INVAL);
}

/* ---- marks ---- */

static void marks_are_added_and_other_labels_kept(void **state)
{
    cJSON *obj = test_json("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c',"
                           "'labels':{'app':'web','phase4.io/generation':'1'},"
                           "'annotations':{'note':'kept','phase4.io/owner':'x/y'}}}");

    (void)state;
    assert_int_equal(p4_applyset_mark(obj, "shop", "web", 7), 0);
    assert_string_equal(p4_json_str(obj, "metadata.labels.app"), "web");
    assert_string_equal(p4_json_str(obj, "metadata.labels.app\\.kubernetes\\.io/managed-by"),
                        "phase4-operator");
    assert_string_equal(p4_json_str(obj, "metadata.labels.phase4\\.io/name"), "web");
    assert_string_equal(p4_json_str(obj, "metadata.labels.phase4\\.io/generation"), "7");
    assert_string_equal(p4_json_str(obj, "metadata.annotations.note"), "kept");
    assert_string_equal(p4_json_str(obj, "metadata.annotations.phase4\\.io/owner"), "shop/web");
    assert_int_equal(cJSON_GetArraySize(p4_json_get(obj, "metadata.labels")), 4);
    assert_true(p4_applyset_owned(obj, "shop", "web"));
    cJSON_Delete(obj);
}

static void marks_replace_malformed_maps(void **state)
{
    cJSON *obj = test_json("{'kind':'ConfigMap','metadata':{'name':'c','labels':'oops',"
                           "'annotations':[1,2]}}");
    char long_owner[100];

    (void)state;
    memset(long_owner, 'n', sizeof(long_owner) - 1);
    long_owner[sizeof(long_owner) - 1] = '\0';
    assert_int_equal(p4_applyset_mark(obj, "shop", long_owner, -1), 0);
    assert_true(cJSON_IsObject(p4_json_get(obj, "metadata.labels")));
    assert_int_equal(strlen(p4_json_str(obj, "metadata.labels.phase4\\.io/name")), 63);
    assert_string_equal(p4_json_str(obj, "metadata.labels.phase4\\.io/generation"), "-1");
    /* The annotation keeps the whole name: it is the exact ownership mark. */
    assert_true(p4_applyset_owned(obj, "shop", long_owner));
    cJSON_Delete(obj);
}

static void marks_refuse_what_is_not_an_object(void **state)
{
    cJSON *no_meta = test_json("{'kind':'ConfigMap'}");
    cJSON *bad_meta = test_json("{'kind':'ConfigMap','metadata':'x'}");
    cJSON *arr = test_json("[1]");
    cJSON *ok = test_json("{'metadata':{}}");

    (void)state;
    assert_int_equal(p4_applyset_mark(no_meta, "shop", "web", 1), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_mark(bad_meta, "shop", "web", 1), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_mark(arr, "shop", "web", 1), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_mark(NULL, "shop", "web", 1), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_mark(ok, NULL, "web", 1), P4_ERR_INVAL);
    cJSON_Delete(no_meta);
    cJSON_Delete(bad_meta);
    cJSON_Delete(arr);
    cJSON_Delete(ok);
}

/* ---- ownership ---- */

static void ownership_is_the_exact_annotation(void **state)
{
    static const char *const not_ours[] = {
        "{'metadata':{'name':'c'}}",
        "{'metadata':{'name':'c','annotations':{}}}",
        "{'metadata':{'name':'c','annotations':{'phase4.io/owner':'other/web'}}}",
        "{'metadata':{'name':'c','annotations':{'phase4.io/owner':'shop/web2'}}}",
        "{'metadata':{'name':'c','annotations':{'phase4.io/owner':'shop/web '}}}",
        "{'metadata':{'name':'c','annotations':{'phase4.io/owner':7}}}",
        /* The labels alone are not the mark: anyone can copy them. */
        /* NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one literal, cut to fit the line */
        "{'metadata':{'labels':{'app.kubernetes.io/managed-by':'phase4-operator','phase4.io/"
        "name':'web'}}}",
        "{'metadata':'x'}",
        "[]",
    };
    cJSON *ours = test_json("{'metadata':{'annotations':{'phase4.io/owner':'shop/web'}}}");

    (void)state;
    assert_true(p4_applyset_owned(ours, "shop", "web"));
    assert_false(p4_applyset_owned(ours, "shop", "we"));
    assert_false(p4_applyset_owned(ours, NULL, "web"));
    for (size_t i = 0; i < sizeof(not_ours) / sizeof(not_ours[0]); i++) {
        cJSON *o = test_json(not_ours[i]);
        if (p4_applyset_owned(o, "shop", "web"))
            fail_msg("taken as ours: %s", not_ours[i]);
        cJSON_Delete(o);
    }
    assert_false(p4_applyset_owned(NULL, "shop", "web"));
    cJSON_Delete(ours);
}

/* ---- the owner's uid ---- */

static void uid_mark_is_added_only_when_known(void **state)
{
    cJSON *o = test_json("{'metadata':{'name':'c'}}");

    (void)state;
    assert_int_equal(p4_applyset_mark(o, "shop", "web", 3), 0);
    assert_int_equal(p4_applyset_mark_uid(o, ""), 0);
    assert_null(p4_json_str(
        p4_json_child(p4_json_get(o, "metadata.annotations"), "phase4.io/owner-uid"), NULL));
    assert_int_equal(p4_applyset_mark_uid(o, "u-1"), 0);
    assert_string_equal(
        p4_json_str(p4_json_child(p4_json_get(o, "metadata.annotations"), "phase4.io/owner-uid"),
                    NULL),
        "u-1");
    assert_int_equal(p4_applyset_mark_uid(NULL, "u-1"), P4_ERR_INVAL);
    cJSON_Delete(o);
    o = test_json("[]");
    assert_int_equal(p4_applyset_mark_uid(o, "u-1"), P4_ERR_INVAL);
    cJSON_Delete(o);
}

static void claim_tells_this_resource_from_an_older_one(void **state)
{
    static const struct {
        const char *json, *uid;
        enum p4_applyset_claim want;
    } cases[] = {
        {"{'metadata':{'annotations':{'phase4.io/owner':'shop/web','phase4.io/owner-uid':'u1'}}}",
         "u1", P4_CLAIM_OURS},
        {"{'metadata':{'annotations':{'phase4.io/owner':'shop/web','phase4.io/owner-uid':'u0'}}}",
         "u1", P4_CLAIM_OTHER_UID},
        {"{'metadata':{'annotations':{'phase4.io/owner':'shop/web'}}}", "u1", P4_CLAIM_NO_UID},
        {"{'metadata':{'annotations':{'phase4.io/owner':'shop/web','phase4.io/owner-uid':''}}}",
         "u1", P4_CLAIM_NO_UID},
        {"{'metadata':{'annotations':{'phase4.io/owner':'shop/web','phase4.io/owner-uid':7}}}",
         "u1", P4_CLAIM_NO_UID},
        /* Our uid is not known: any mark of our name is ours, as before uids. */
        {"{'metadata':{'annotations':{'phase4.io/owner':'shop/web','phase4.io/owner-uid':'u0'}}}",
         "", P4_CLAIM_OURS},
        {"{'metadata':{'annotations':{'phase4.io/owner':'shop/web'}}}", NULL, P4_CLAIM_OURS},
        /* Another name is never ours, whatever the uid says. */
        {"{'metadata':{'annotations':{'phase4.io/owner':'shop/api','phase4.io/owner-uid':'u1'}}}",
         "u1", P4_CLAIM_NONE},
        {"{'metadata':{'annotations':{'phase4.io/owner-uid':'u1'}}}", "u1", P4_CLAIM_NONE},
        {"{'metadata':{}}", "u1", P4_CLAIM_NONE},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *o = test_json(cases[i].json);
        if (p4_applyset_claim(o, "shop", "web", cases[i].uid) != cases[i].want)
            fail_msg("case %zu: claim %d, want %d", i,
                     (int)p4_applyset_claim(o, "shop", "web", cases[i].uid), (int)cases[i].want);
        cJSON_Delete(o);
    }
    assert_int_equal(p4_applyset_claim(NULL, "shop", "web", "u1"), P4_CLAIM_NONE);
}

static void only_an_object_newer_than_the_resource_can_be_ours_without_uid(void **state)
{
    cJSON *newer = test_json("{'metadata':{'creationTimestamp':'2024-05-01T12:00:05Z'}}");
    cJSON *same = test_json("{'metadata':{'creationTimestamp':'2024-05-01T12:00:00Z'}}");
    cJSON *older = test_json("{'metadata':{'creationTimestamp':'2024-05-01T11:59:59Z'}}");
    cJSON *none = test_json("{'metadata':{}}");

    (void)state;
    assert_true(p4_applyset_created_after(newer, "2024-05-01T12:00:00Z"));
    assert_true(p4_applyset_created_after(same, "2024-05-01T12:00:00Z"));
    assert_false(p4_applyset_created_after(older, "2024-05-01T12:00:00Z"));
    assert_false(p4_applyset_created_after(none, "2024-05-01T12:00:00Z"));
    assert_false(p4_applyset_created_after(newer, NULL));
    assert_false(p4_applyset_created_after(newer, "noon"));
    cJSON_Delete(newer);
    cJSON_Delete(same);
    cJSON_Delete(older);
    cJSON_Delete(none);
}

static void unmark_patch_names_only_our_marks(void **state)
{
    cJSON *live =
        test_json("{'metadata':{'labels':{'app.kubernetes.io/managed-by':'phase4-operator',"
                  "'phase4.io/name':'web','phase4.io/generation':'2','app':'web'},"
                  "'annotations':{'phase4.io/owner':'shop/web','phase4.io/owner-uid':"
                  "'u1','note':'x'}}}");
    cJSON *helm =
        test_json("{'metadata':{'labels':{'app.kubernetes.io/managed-by':'Helm',"
                  "'phase4.io/name':'web'},'annotations':{'phase4.io/owner':'shop/web'}}}");
    char *text;
    cJSON *patch;

    (void)state;
    text = p4_applyset_unmark_patch(live, "u1");
    patch = cJSON_Parse(text);
    assert_non_null(patch);
    assert_string_equal(p4_json_str(patch, "metadata.uid"), "u1");
    assert_true(cJSON_IsNull(
        p4_json_child(p4_json_get(patch, "metadata.labels"), "app.kubernetes.io/managed-by")));
    assert_true(
        cJSON_IsNull(p4_json_child(p4_json_get(patch, "metadata.labels"), "phase4.io/generation")));
    assert_true(cJSON_IsNull(
        p4_json_child(p4_json_get(patch, "metadata.annotations"), "phase4.io/owner-uid")));
    /* What is not ours is not named, so the merge patch keeps it. */
    assert_null(p4_json_child(p4_json_get(patch, "metadata.labels"), "app"));
    assert_null(p4_json_child(p4_json_get(patch, "metadata.annotations"), "note"));
    cJSON_Delete(patch);
    free(text);

    /* A chart's own managed-by stays; marks it does not carry are not named. */
    text = p4_applyset_unmark_patch(helm, NULL);
    patch = cJSON_Parse(text);
    assert_non_null(patch);
    assert_null(p4_json_get(patch, "metadata.uid"));
    assert_null(
        p4_json_child(p4_json_get(patch, "metadata.labels"), "app.kubernetes.io/managed-by"));
    assert_null(p4_json_child(p4_json_get(patch, "metadata.labels"), "phase4.io/generation"));
    assert_true(
        cJSON_IsNull(p4_json_child(p4_json_get(patch, "metadata.labels"), "phase4.io/name")));
    assert_null(p4_json_child(p4_json_get(patch, "metadata.annotations"), "phase4.io/owner-uid"));
    cJSON_Delete(patch);
    free(text);

    /* Without the live object every mark is named. */
    text = p4_applyset_unmark_patch(NULL, "u1");
    patch = cJSON_Parse(text);
    assert_non_null(patch);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(patch, "metadata.labels")), 3);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(patch, "metadata.annotations")), 2);
    cJSON_Delete(patch);
    free(text);
    cJSON_Delete(live);
    cJSON_Delete(helm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_values_fit_kubernetes_limit),
        cmocka_unit_test(owner_mark_is_namespace_slash_name),
        cmocka_unit_test(marks_are_added_and_other_labels_kept),
        cmocka_unit_test(marks_replace_malformed_maps),
        cmocka_unit_test(marks_refuse_what_is_not_an_object),
        cmocka_unit_test(ownership_is_the_exact_annotation),
        cmocka_unit_test(uid_mark_is_added_only_when_known),
        cmocka_unit_test(claim_tells_this_resource_from_an_older_one),
        cmocka_unit_test(only_an_object_newer_than_the_resource_can_be_ours_without_uid),
        cmocka_unit_test(unmark_patch_names_only_our_marks),
    };

    return cmocka_run_group_tests_name("applymark", tests, NULL, NULL);
}
