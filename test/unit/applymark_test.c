/* applymark_test.c: ownership marks and label values: what they add, what they keep, and that
   ownership is the exact annotation. */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_values_fit_kubernetes_limit),
        cmocka_unit_test(owner_mark_is_namespace_slash_name),
        cmocka_unit_test(marks_are_added_and_other_labels_kept),
        cmocka_unit_test(marks_replace_malformed_maps),
        cmocka_unit_test(marks_refuse_what_is_not_an_object),
        cmocka_unit_test(ownership_is_the_exact_annotation),
    };

    return cmocka_run_group_tests_name("applymark", tests, NULL, NULL);
}
