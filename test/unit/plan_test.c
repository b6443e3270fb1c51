/* plan_test.c: the approval plan the Helm stage builds from its dry run (stages/helm/plan.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include <stdio.h>

#include "phase4/core/json.h"
#include "stages/helm/plan.h"

static cJSON *parse(const char *text)
{
    cJSON *obj = cJSON_Parse(text);

    assert_non_null(obj);
    return obj;
}

static int64_t num(const cJSON *obj, const char *path)
{
    int64_t v = -1;

    assert_int_equal(p4_json_int64(obj, path, &v), 0);
    return v;
}

static void a_new_object_has_no_resource_version(void **state)
{
    cJSON *fresh = parse("{\"metadata\":{\"name\":\"a\",\"uid\":\"u\",\"resourceVersion\":\"\"}}");
    cJSON *none = parse("{\"metadata\":{\"name\":\"a\"}}");
    cJSON *live = parse("{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"812\"}}");

    (void)state;
    assert_true(p4_plan_answer_is_new(fresh));
    assert_true(p4_plan_answer_is_new(none));
    assert_false(p4_plan_answer_is_new(live));
    cJSON_Delete(fresh);
    cJSON_Delete(none);
    cJSON_Delete(live);
}

#define LIVE                                                                                       \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","          \
    "\"namespace\":\"shop\",\"uid\":\"u1\",\"resourceVersion\":\"10\",\"generation\":1,"           \
    "\"creationTimestamp\":\"2024-01-01T00:00:00Z\",\"labels\":{\"app\":\"web\","                  \
    "\"phase4.io/name\":\"web\",\"phase4.io/generation\":\"1\",\"app.kubernetes.io/"               \
    "managed-by\":\"phase4-operator\"},\"annotations\":"                                           \
    "{\"phase4.io/owner\":\"shop/web\"},\"managedFields\":[{\"manager\":\"phase4-operator\"}]},"   \
    "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","          \
    "\"image\":\"r/app@sha256:1\"}]}}},\"status\":{\"readyReplicas\":2}}"

static void unchanged_leaves_out_what_the_server_keeps_and_our_marks(void **state)
{
    struct plan p;
    cJSON *live = parse(LIVE);
    /* the dry-run answer: a new resourceVersion and generation, no marks (the dry run does not
       carry them), other managedFields, no status */
    cJSON *answer = parse(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
        "\"namespace\":\"shop\",\"uid\":\"u1\",\"resourceVersion\":\"10\",\"generation\":2,"
        "\"creationTimestamp\":\"2024-01-01T00:00:00Z\",\"labels\":{\"app\":\"web\"},"
        "\"managedFields\":[]},\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":"
        "[{\"name\":\"web\",\"image\":\"r/app@sha256:1\"}]}}}}");
    cJSON *st;

    (void)state;
    p4_plan_init(&p);
    p4_plan_compared(&p, "apps/v1", "Deployment", "shop", "web", live, answer);
    st = p4_plan_status(&p, 4, NULL, NULL);
    assert_int_equal(num(st, "generation"), 4);
    assert_int_equal(num(st, "counts.unchanged"), 1);
    assert_int_equal(num(st, "counts.change"), 0);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "change")), 0);
    assert_string_equal(p4_json_str(st, "summary"),
                        "0 to create, 0 to change, 1 unchanged, 0 to prune");
    cJSON_Delete(st);
    p4_plan_close(&p);
    cJSON_Delete(live);
    cJSON_Delete(answer);
}

static void a_change_lists_its_paths_bounded(void **state)
{
    struct plan p;
    cJSON *live = parse(LIVE), *answer = parse(LIVE), *st, *spec, *e;
    char key[16];

    (void)state;
    spec = cJSON_GetObjectItemCaseSensitive(answer, "spec");
    cJSON_ReplaceItemInObject(spec, "replicas", cJSON_CreateNumber(3));
    p4_plan_init(&p);
    p4_plan_compared(&p, "apps/v1", "Deployment", "shop", "web", live, answer);
    /* a ConfigMap with 12 keys changed: 10 paths listed, 2 counted */
    {
        cJSON *a = parse("{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},\"data\":{}}");
        cJSON *b = cJSON_Duplicate(a, 1);
        for (int i = 0; i < 12; i++) {
            (void)snprintf(key, sizeof(key), "k%d", i);
            cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(b, "data"), key, "v");
        }
        p4_plan_compared(&p, "v1", "ConfigMap", "shop", "c", a, b);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    p4_plan_unread(&p, "v1", "Secret", "shop", "s", "the live object could not be read: forbidden");
    st = p4_plan_status(&p, 2, NULL, NULL);
    assert_int_equal(num(st, "counts.change"), 3);
    e = cJSON_GetArrayItem(p4_json_get(st, "change"), 0);
    assert_string_equal(p4_json_str(e, "kind"), "Deployment");
    assert_string_equal(p4_json_str(e, "namespace"), "shop");
    assert_int_equal(cJSON_GetArraySize(p4_json_get(e, "paths")), 1);
    assert_string_equal(cJSON_GetArrayItem(p4_json_get(e, "paths"), 0)->valuestring,
                        "spec.replicas");
    assert_null(p4_json_get(e, "pathsMore"));
    e = cJSON_GetArrayItem(p4_json_get(st, "change"), 1);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(e, "paths")), PLAN_PATHS_MAX);
    assert_int_equal(num(e, "pathsMore"), 2);
    e = cJSON_GetArrayItem(p4_json_get(st, "change"), 2);
    assert_non_null(strstr(p4_json_str(e, "unknown"), "forbidden"));
    cJSON_Delete(st);
    p4_plan_close(&p);
    cJSON_Delete(live);
    cJSON_Delete(answer);
}

static void created_and_pruned_against_the_inventory(void **state)
{
    struct plan p;
    cJSON *inventory = parse(
        "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"web\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"extra\"},"
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"namespace\":\"shop\",\"name\":"
        "\"web\"},"
        "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"name\":\"r\"},"
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"name\":\"things.example.com\"},{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":"
        "\"extra-ns\"},{\"kind\":\"NoName\"},7]");
    cJSON *images = parse("[\"r/app@sha256:1\",\"r/side@sha256:2\",3]");
    cJSON *st;

    (void)state;
    p4_plan_init(&p);
    for (int i = 0; i < PLAN_OBJECTS_MAX + 3; i++) {
        char name[16];
        (void)snprintf(name, sizeof(name), "new-%d", i);
        p4_plan_created(&p, "v1", "ConfigMap", "shop", name);
    }
    p4_plan_created(&p, "v1", "ConfigMap", "shop", "web");
    p4_plan_created(&p, "apps/v1", "Deployment", "shop", "web");
    p4_plan_created(&p, "rbac.authorization.k8s.io/v1", "ClusterRole", "", "r");
    st = p4_plan_status(&p, 1, inventory, images);
    assert_int_equal(num(st, "counts.create"), PLAN_OBJECTS_MAX + 6);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "create")), PLAN_OBJECTS_MAX);
    assert_int_equal(num(st, "createMore"), 6);
    assert_null(p4_json_get(cJSON_GetArrayItem(p4_json_get(st, "create"), 0), "paths"));
    assert_int_equal(num(st, "counts.prune"), 1);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "prune"), 0), "name"),
                        "extra");
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "kept")), 2);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "kept"), 0), "kind"),
                        "CustomResourceDefinition");
    assert_non_null(strstr(p4_json_str(st, "summary"), "never pruned"));
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "images")), 2);
    cJSON_Delete(st);
    /* nothing before: nothing to prune, and no kept list */
    st = p4_plan_status(&p, 1, NULL, NULL);
    assert_int_equal(num(st, "counts.prune"), 0);
    assert_null(p4_json_get(st, "kept"));
    assert_null(p4_json_get(st, "pruneMore"));
    cJSON_Delete(st);
    p4_plan_close(&p);
    p4_plan_close(&p); /* twice is fine */
    cJSON_Delete(inventory);
    cJSON_Delete(images);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_new_object_has_no_resource_version),
        cmocka_unit_test(unchanged_leaves_out_what_the_server_keeps_and_our_marks),
        cmocka_unit_test(a_change_lists_its_paths_bounded),
        cmocka_unit_test(created_and_pruned_against_the_inventory),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
