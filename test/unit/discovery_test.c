/* discovery_test.c: aggregated discovery documents into the kind → resource table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/kube/discovery.h"

/* Shaped as kube-apiserver answers /api and /apis with apidiscovery.k8s.io/v2. */
static const char *CORE =
    "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":\"apidiscovery.k8s.io/v2\",\"metadata\":{},"
    "\"items\":[{\"metadata\":{\"creationTimestamp\":null},\"versions\":[{\"version\":\"v1\","
    "\"resources\":["
    "{\"resource\":\"configmaps\",\"responseKind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":"
    "\"ConfigMap\"},"
    "\"scope\":\"Namespaced\",\"singularResource\":\"configmap\",\"verbs\":[\"get\"]},"
    "{\"resource\":\"namespaces\",\"responseKind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":"
    "\"Namespace\"},"
    "\"scope\":\"Cluster\",\"singularResource\":\"namespace\",\"verbs\":[\"get\"],"
    "\"subresources\":[{\"subresource\":\"status\",\"responseKind\":{\"kind\":\"Namespace\"}}]}]}]}"
    "]}";
static const char *APIS =
    "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":\"apidiscovery.k8s.io/v2\",\"metadata\":{},"
    "\"items\":[{\"metadata\":{\"name\":\"apps\"},\"versions\":[{\"version\":\"v1\",\"resources\":["
    "{\"resource\":\"deployments\",\"responseKind\":{\"group\":\"apps\",\"version\":\"v1\","
    "\"kind\":\"Deployment\"},"
    "\"scope\":\"Namespaced\"},"
    "{\"resource\":\"broken\"},"
    "{\"responseKind\":{\"kind\":\"NoResourceName\"}}]}]},"
    "{\"metadata\":{\"name\":\"phase4.io\"},\"versions\":[{\"version\":\"v1alpha1\",\"resources\":["
    "{\"resource\":\"phase4deployments\",\"responseKind\":{\"group\":\"phase4.io\",\"version\":"
    "\"v1alpha1\","
    "\"kind\":\"Phase4Deployment\"},\"scope\":\"Namespaced\"}]}]},"
    "{\"metadata\":{\"name\":\"rbac.authorization.k8s.io\"},\"versions\":[{\"version\":\"v1\","
    "\"resources\":["
    "{\"resource\":\"clusterroles\",\"responseKind\":{\"kind\":\"ClusterRole\"},\"scope\":"
    "\"Cluster\"}]}]}]}";

static void load(struct p4_discovery *d, const char *json)
{
    cJSON *doc = cJSON_Parse(json);
    struct p4_error err;

    assert_non_null(doc);
    assert_int_equal(p4_discovery_load(d, doc, &err), 0);
    cJSON_Delete(doc);
}

static void kinds_map_to_resources_and_scope(void **state)
{
    struct p4_discovery *d = p4_discovery_new(NULL);
    const struct p4_resource_info *i;

    (void)state;
    load(d, CORE);
    load(d, APIS);
    assert_int_equal(p4_discovery_len(d), 5);
    i = p4_discovery_find(d, "v1", "ConfigMap");
    assert_non_null(i);
    assert_string_equal(i->group, "");
    assert_string_equal(i->resource, "configmaps");
    assert_true(i->namespaced);
    i = p4_discovery_find(d, "v1", "Namespace");
    assert_non_null(i);
    assert_false(i->namespaced);
    i = p4_discovery_find(d, "apps/v1", "Deployment");
    assert_non_null(i);
    assert_string_equal(i->group, "apps");
    assert_string_equal(i->resource, "deployments");
    i = p4_discovery_find(d, "phase4.io/v1alpha1", "Phase4Deployment");
    assert_non_null(i);
    assert_string_equal(i->resource, "phase4deployments");
    i = p4_discovery_find(d, "rbac.authorization.k8s.io/v1", "ClusterRole");
    assert_non_null(i);
    assert_false(i->namespaced);
    p4_discovery_close(d);
}

/* helm template's --api-versions: each group/version once, sorted; the core group is "v1". */
static void api_versions_are_listed_once_sorted(void **state)
{
    struct p4_discovery *d = p4_discovery_new(NULL);
    char *v = p4_discovery_api_versions(d);

    (void)state;
    assert_string_equal(v, "");
    free(v);
    load(d, CORE);
    load(d, APIS);
    v = p4_discovery_api_versions(d);
    assert_string_equal(v, "apps/v1,phase4.io/v1alpha1,rbac.authorization.k8s.io/v1,v1");
    free(v);
    p4_discovery_close(d);
}

static void unknown_and_malformed_lookups_are_null(void **state)
{
    struct p4_discovery *d = p4_discovery_new(NULL);

    (void)state;
    load(d, APIS);
    assert_null(p4_discovery_find(d, "apps/v1", "StatefulSet"));
    assert_null(p4_discovery_find(d, "apps/v2", "Deployment"));
    assert_null(p4_discovery_find(d, "v1", "Deployment"));
    assert_null(p4_discovery_find(d, "apps/", "Deployment"));
    assert_null(p4_discovery_find(d, "", "Deployment"));
    assert_null(p4_discovery_find(d, NULL, "Deployment"));
    assert_null(p4_discovery_find(d, "apps/v1", NULL));
    assert_null(p4_discovery_find(d, "apps/v1", "NoResourceName"));
    p4_discovery_close(d);
}

static void legacy_discovery_is_refused_with_a_reason(void **state)
{
    struct p4_discovery *d = p4_discovery_new(NULL);
    cJSON *doc = cJSON_Parse("{\"kind\":\"APIGroupList\",\"groups\":[]}");
    struct p4_error err;

    (void)state;
    assert_int_equal(p4_discovery_load(d, doc, &err), P4_ERR_PARSE);
    assert_non_null(strstr(err.message, "aggregated discovery"));
    assert_non_null(strstr(err.message, "APIGroupList"));
    cJSON_Delete(doc);
    doc = cJSON_Parse("[1,2]");
    assert_int_equal(p4_discovery_load(d, doc, &err), P4_ERR_PARSE);
    cJSON_Delete(doc);
    assert_int_equal(p4_discovery_len(d), 0);
    assert_int_equal(p4_discovery_lookup(d, "v1", "Pod", NULL, NULL), P4_ERR_INVAL);
    p4_discovery_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kinds_map_to_resources_and_scope),
        cmocka_unit_test(api_versions_are_listed_once_sorted),
        cmocka_unit_test(unknown_and_malformed_lookups_are_null),
        cmocka_unit_test(legacy_discovery_is_refused_with_a_reason),
    };
    return cmocka_run_group_tests_name("discovery", tests, NULL, NULL);
}
