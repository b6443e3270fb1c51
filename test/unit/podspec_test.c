/*
 * podspec_test.c: the pod template of each workload kind (kube/podspec.h), the labels its pods
 * get, and the ServiceAccount a pod template names by default.
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

/* The labels a workload's pods get: what a PodMonitor's selector is matched against. */
static void pod_labels_of_each_kind(void **state)
{
    static const struct {
        const char *json;
        const char *path; /* where its pods' labels are; NULL: none */
    } cases[] = {
        {"{'apiVersion':'v1','kind':'Pod','metadata':{'labels':{'app':'web'}},'spec':{}}",
         "metadata.labels"},
        {"{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'labels':{'chart':'x'}},"
         "'spec':{'template':{'metadata':{'labels':{'app':'web'}},'spec':{}}}}",
         "spec.template.metadata.labels"},
        {"{'apiVersion':'apps/v1','kind':'DaemonSet','spec':{'template':{'metadata':"
         "{'labels':{'app':'web'}}}}}",
         "spec.template.metadata.labels"},
        {"{'apiVersion':'batch/v1','kind':'Job','spec':{'template':{'metadata':"
         "{'labels':{'app':'web'}}}}}",
         "spec.template.metadata.labels"},
        {"{'apiVersion':'batch/v1','kind':'CronJob','spec':{'jobTemplate':{'spec':{'template':"
         "{'metadata':{'labels':{'app':'web'}}}}}}}",
         "spec.jobTemplate.spec.template.metadata.labels"},
        /* a template without labels, labels of the wrong shape, a kind with no pods */
        {"{'apiVersion':'apps/v1','kind':'Deployment','spec':{'template':{'spec':{}}}}", NULL},
        {"{'apiVersion':'apps/v1','kind':'Deployment','spec':{'template':{'metadata':"
         "{'labels':['app']}}}}",
         NULL},
        {"{'apiVersion':'v1','kind':'Service','metadata':{'labels':{'app':'web'}},'spec':{}}",
         NULL},
        {"{'apiVersion':'example.com/v1','kind':'Deployment','spec':{'template':{'metadata':"
         "{'labels':{'app':'web'}}}}}",
         NULL},
    };

    (void)state;
    assert_null(p4_podspec_labels(NULL));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = test_json(cases[i].json);
        const cJSON *labels = p4_podspec_labels(obj);
        if (cases[i].path == NULL)
            assert_null(labels);
        else
            assert_ptr_equal(labels, p4_json_get(obj, cases[i].path));
        cJSON_Delete(obj);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_kind_has_its_pod_template),
        cmocka_unit_test(default_service_account),
        cmocka_unit_test(pod_labels_of_each_kind),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
