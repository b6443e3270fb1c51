/* apply_test.c: helm template output split into objects (p4_manifest_split). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/kube/apply.h"

static cJSON *split(const char *text, struct p4_error *err)
{
    return p4_manifest_split(text, strlen(text), err);
}

static void helm_output_splits_into_objects(void **state)
{
    static const char text[] =
        "---\n# Source: webapp/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\n"
        "metadata:\n  name: web-config\ndata:\n  port: \"8080\"\n"
        "---\n# Source: webapp/templates/empty.yaml\n"
        "---\n# Source: webapp/templates/list.yaml\napiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: Service, metadata: {name: a}}\n"
        "- {apiVersion: v1, kind: Service, metadata: {name: b}}\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec: {replicas: 2}\n";
    struct p4_error err;
    cJSON *objs;
    int64_t replicas = 0;

    (void)state;
    objs = split(text, &err);
    assert_non_null(objs);
    assert_int_equal(cJSON_GetArraySize(objs), 4);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(objs, 0), "kind"), "ConfigMap");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(objs, 0), "data.port"), "8080");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(objs, 1), "metadata.name"), "a");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(objs, 2), "metadata.name"), "b");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(objs, 3), "metadata.namespace"), "shop");
    assert_int_equal(p4_json_int64(cJSON_GetArrayItem(objs, 3), "spec.replicas", &replicas), 0);
    assert_int_equal(replicas, 2);
    cJSON_Delete(objs);

    objs = split("", &err); /* a chart that renders nothing */
    assert_non_null(objs);
    assert_int_equal(cJSON_GetArraySize(objs), 0);
    cJSON_Delete(objs);
}

static void bad_documents_are_named(void **state)
{
    static const struct {
        const char *text;
        int code;
        const char *message;
    } cases[] = {
        {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: Service\nmetadata: "
         "{name: b}\n",
         P4_ERR_INVALID, "document 2 of the manifest (Service b): apiVersion is missing"},
        {"apiVersion: v1\nmetadata: {name: a}\n", P4_ERR_INVALID,
         "document 1 of the manifest (a): kind is missing"},
        {"apiVersion: v1\nkind: Secret\n", P4_ERR_INVALID,
         "document 1 of the manifest (Secret): metadata.name is missing"},
        {"- a\n- b\n", P4_ERR_INVALID, "document 1 of the manifest is not an object"},
        {"apiVersion: v1\nkind: List\nitems:\n- {kind: Pod}\n", P4_ERR_INVALID,
         "document 1 of the manifest (Pod): apiVersion is missing"},
        {"a: [\n", P4_ERR_PARSE, NULL},
    };
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_null(split(cases[i].text, &err));
        assert_int_equal(err.code, cases[i].code);
        if (cases[i].message)
            assert_string_equal(err.message, cases[i].message);
    }
    assert_null(p4_manifest_split(NULL, 0, &err));
    assert_int_equal(err.code, P4_ERR_INVAL);
}

static void too_many_objects_are_refused(void **state)
{
    size_t n = P4_MANIFEST_OBJECTS_MAX + 1, one = 64;
    char *text = malloc(n * one + 1), *p = text;
    struct p4_error err;

    (void)state;
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        p += snprintf(p, one, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%zu}\n", i);
    assert_null(p4_manifest_split(text, (size_t)(p - text), &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(helm_output_splits_into_objects),
        cmocka_unit_test(bad_documents_are_named),
        cmocka_unit_test(too_many_objects_are_refused),
    };
    return cmocka_run_group_tests_name("apply", tests, NULL, NULL);
}
