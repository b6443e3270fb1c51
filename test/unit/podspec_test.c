/*
 * podspec_test.c: the pod template of each workload kind (kube/podspec.h), and the
 * ServiceAccount a pod template names by default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/kube/podspec.h"
#include "testjson.h"

static void each_kind_has_its_pod_template(void **state)
{
    static const struct {
        const char *json;
        const char *path; /* where its pod spec is; NULL: it has none */
    } cases[] = {
        {"{'apiVersion':'v1','kind':'Pod','spec':{'x':1}}", "spec"},
        {"{'apiVersion':'v1','kind':'ReplicationController','spec':{'template':{'spec':{'x':1}}}}",
         "spec.template.spec"},
        {"{'apiVersion':'apps/v1','kind':'Deployment','spec':{'template':{'spec':{'x':1}}}}",
         "spec.template.spec"},
        {"{'apiVersion':'apps/v1','kind':'StatefulSet','spec':{'template':{'spec':{'x':1}}}}",
         "spec.template.spec"},
        {"{'apiVersion':'batch/v1','kind':'CronJob','spec':{'jobTemplate':{'spec':{'template':"
         "{'spec':{'x':1}}}}}}",
         "spec.jobTemplate.spec.template.spec"},
        /* a custom resource of a workload's kind name, a ConfigMap, no spec */
        {"{'apiVersion':'example.com/v1','kind':'Deployment','spec':{'template':{'spec':{}}}}",
         NULL},
        {"{'apiVersion':'v1','kind':'ConfigMap','data':{}}", NULL},
        {"{'apiVersion':'apps/v1','kind':'Deployment'}", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = test_json(cases[i].json);
        cJSON *spec = p4_podspec_of(obj);
        if (cases[i].path == NULL)
            assert_null(spec);
        else
            assert_ptr_equal(spec, p4_json_get(obj, cases[i].path));
        cJSON_Delete(obj);
    }
}

static void default_service_account(void **state)
{
    cJSON *none = test_json("{'apiVersion':'apps/v1','kind':'Deployment','spec':{'template':"
                            "{'spec':{'containers':[]}}}}");
    cJSON *named = test_json("{'apiVersion':'apps/v1','kind':'Deployment','spec':{'template':"
                             "{'spec':{'serviceAccountName':'web'}}}}");
    cJSON *alias = test_json("{'apiVersion':'v1','kind':'Pod','spec':{'serviceAccount':'old'}}");
    cJSON *cm = test_json("{'apiVersion':'v1','kind':'ConfigMap'}");

    (void)state;
    assert_true(p4_podspec_default_service_account(none));
    assert_string_equal(p4_json_str(none, "spec.template.spec.serviceAccountName"), "default");
    assert_false(p4_podspec_default_service_account(none)); /* once is enough */
    assert_false(p4_podspec_default_service_account(named));
    assert_string_equal(p4_json_str(named, "spec.template.spec.serviceAccountName"), "web");
    assert_false(p4_podspec_default_service_account(alias)); /* the chart's own alias stays */
    assert_null(p4_json_get(alias, "spec.serviceAccountName"));
    assert_false(p4_podspec_default_service_account(cm));
    assert_null(p4_json_get(cm, "spec"));
    cJSON_Delete(none);
    cJSON_Delete(named);
    cJSON_Delete(alias);
    cJSON_Delete(cm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_kind_has_its_pod_template),
        cmocka_unit_test(default_service_account),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
