/* inventory_test.c: apply and prune order, inventories, identity, the prune set, scope checks. */
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
#include "phase4/stages/kubernetes/inventory.h"

static cJSON *parse(const char *text)
{
    cJSON *json = p4_json_parse(text, strlen(text), NULL);

    assert_non_null(json);
    return json;
}

/* An inventory read from status.inventory JSON that must have no bad entry. */
static void inv_from(const char *text, struct p4_inventory *inv)
{
    cJSON *json = parse(text);
    size_t skipped = 99;

    assert_int_equal(p4_inventory_from_json(json, inv, &skipped, NULL), 0);
    assert_int_equal(skipped, 0);
    cJSON_Delete(json);
}

static void assert_entry(const struct p4_inv_entry *e, const char *api, const char *kind,
                         const char *ns, const char *name)
{
    assert_string_equal(e->api_version, api);
    assert_string_equal(e->kind, kind);
    assert_string_equal(e->namespace_, ns);
    assert_string_equal(e->name, name);
}

/* The test cluster: these kinds are cluster-scoped, Widget and Gadget unknown, the rest namespaced.
 */
static int test_namespaced(const char *api, const char *kind, void *data)
{
    static const char *const cluster[] = {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "APIService",
        "PodSecurityPolicy",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    };
    int *calls = data;

    (void)api;
    if (calls)
        (*calls)++;
    if (strcmp(kind, "Widget") == 0 || strcmp(kind, "Gadget") == 0)
        return -1;
    for (size_t i = 0; i < sizeof(cluster) / sizeof(cluster[0]); i++) {
        if (strcmp(kind, cluster[i]) == 0)
            return 0;
    }
    return 1;
}

static const struct p4_inventory_scope test_scope = {test_namespaced, NULL};

/* Every kind with a place in the apply order, in that order, then unknown kinds by name. */
static const struct {
    const char *api, *kind;
    int copies; /* objects of this kind in the manifest (stability within a kind) */
} documented[] = {
    {"scheduling.k8s.io/v1", "PriorityClass", 1},
    {"v1", "Namespace", 1},
    {"apiextensions.k8s.io/v1", "CustomResourceDefinition", 2},
    {"networking.k8s.io/v1", "NetworkPolicy", 1},
    {"v1", "ResourceQuota", 1},
    {"v1", "LimitRange", 1},
    {"policy/v1beta1", "PodSecurityPolicy", 1},
    {"policy/v1", "PodDisruptionBudget", 1},
    {"v1", "ServiceAccount", 2},
    {"rbac.authorization.k8s.io/v1", "ClusterRole", 1},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleList", 1},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", 1},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBindingList", 1},
    {"rbac.authorization.k8s.io/v1", "Role", 1},
    {"rbac.authorization.k8s.io/v1", "RoleList", 1},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", 1},
    {"rbac.authorization.k8s.io/v1", "RoleBindingList", 1},
    {"v1", "Secret", 3},
    {"v1", "SecretList", 1},
    {"v1", "ConfigMap", 3},
    {"storage.k8s.io/v1", "StorageClass", 1},
    {"v1", "PersistentVolume", 1},
    {"v1", "PersistentVolumeClaim", 1},
    {"v1", "Service", 2},
    {"apps/v1", "DaemonSet", 1},
    {"v1", "Pod", 1},
    {"v1", "ReplicationController", 1},
    {"apps/v1", "ReplicaSet", 1},
    {"apps/v1", "Deployment", 3},
    {"extensions/v1beta1", "Deployment", 1}, /* a Deployment all the same */
    {"apps/v1", "StatefulSet", 1},
    {"batch/v1", "Job", 1},
    {"batch/v1", "CronJob", 1},
    {"autoscaling/v2", "HorizontalPodAutoscaler", 1},
    {"networking.k8s.io/v1", "IngressClass", 1},
    {"networking.k8s.io/v1", "Ingress", 1},
    {"apiregistration.k8s.io/v1", "APIService", 1},
    {"admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", 1},
    {"admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", 1},
    {"cert-manager.io/v1", "Certificate", 2},
    {"cert-manager.io/v1", "Issuer", 1},
    {"v1", "Lease", 1},                       /* a built-in the order does not list */
    {"serving.knative.dev/v1", "Service", 1}, /* a custom resource named like a built-in */
    {"monitoring.coreos.com/v1", "ServiceMonitor", 2},
    {"example.com/v1", "Widget", 1},
};
#define DOCUMENTED (sizeof(documented) / sizeof(documented[0]))

static size_t documented_objects(void)
{
    size_t n = 0;

    for (size_t i = 0; i < DOCUMENTED; i++)
        n += (size_t)documented[i].copies;
    return n;
}

static cJSON *object(const char *api, const char *kind, const char *ns, const char *name)
{
    cJSON *obj = p4_json_need(cJSON_CreateObject());
    cJSON *meta;

    p4_json_need(cJSON_AddStringToObject(obj, "apiVersion", api));
    p4_json_need(cJSON_AddStringToObject(obj, "kind", kind));
    meta = p4_json_need(cJSON_AddObjectToObject(obj, "metadata"));
    p4_json_need(cJSON_AddStringToObject(meta, "name", name));
    if (ns)
        p4_json_need(cJSON_AddStringToObject(meta, "namespace", ns));
    return obj;
}

/*
 * A manifest of every documented kind, in the order perm gives (perm[i] is
 * the position in documented order of the object at i), each object named by
 * its position in the manifest ("o007"), so within a kind the names must come
 * out increasing.
 */
static cJSON *documented_manifest(const size_t *perm, size_t n)
{
    const char **api = calloc(n, sizeof(*api)), **kind = calloc(n, sizeof(*kind));
    cJSON *list = p4_json_need(cJSON_CreateArray());
    size_t k = 0;
    char name[32];

    assert_non_null(api);
    assert_non_null(kind);
    for (size_t i = 0; i < DOCUMENTED; i++) {
        for (int c = 0; c < documented[i].copies; c++, k++) {
            api[k] = documented[i].api;
            kind[k] = documented[i].kind;
        }
    }
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++) {
        (void)snprintf(name, sizeof(name), "o%03zu", i);
        cJSON_AddItemToArray(list, object(api[perm[i]], kind[perm[i]], "shop", name));
    }
    free(api);
    free(kind);
    return list;
}

/* objects are in documented order, stable within each kind. */
static void assert_documented_order(const cJSON *objects)
{
    const cJSON *obj = objects->child;
    const char *last_name = NULL;

    for (size_t i = 0; i < DOCUMENTED; i++) {
        for (int c = 0; c < documented[i].copies; c++, obj = obj->next) {
            const char *name;
            assert_non_null(obj);
            assert_string_equal(p4_json_str(obj, "kind"), documented[i].kind);
            if (strcmp(documented[i].kind, "Deployment") == 0) /* either group, interleaved */
                assert_true(strcmp(p4_json_str(obj, "apiVersion"), "apps/v1") == 0 ||
                            strcmp(p4_json_str(obj, "apiVersion"), "extensions/v1beta1") == 0);
            else
                assert_string_equal(p4_json_str(obj, "apiVersion"), documented[i].api);
            name = p4_json_str(obj, "metadata.name");
            /* The two Deployment rows are one kind: their names keep increasing across them. */
            if (c > 0 || (i > 0 && strcmp(documented[i - 1].kind, "Deployment") == 0 &&
                          strcmp(documented[i].kind, "Deployment") == 0))
                assert_true(last_name && name && strcmp(last_name, name) < 0);
            last_name = name;
        }
    }
    assert_null(obj);
}

static void shuffled_manifest_sorts_into_documented_order(void **state)
{
    size_t n = documented_objects();
    size_t *perm = calloc(n, sizeof(*perm));
    uint32_t seed = 12345;
    cJSON *objects;

    (void)state;
    assert_non_null(perm);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        if (round == 0) { /* reversed */
            for (size_t i = 0; i < n; i++)
                perm[i] = n - 1 - i;
        } else if (round > 1) { /* round 1: already in order */
            for (size_t i = n - 1; i > 0; i--) {
                size_t j, t;
                seed = seed * 1103515245u + 12345u;
                j = (size_t)(seed >> 8) % (i + 1);
                t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
        }
        objects = documented_manifest(perm, n);
        assert_int_equal(p4_inventory_order(objects, NULL), 0);
        assert_int_equal(cJSON_GetArraySize(objects), (int)n);
        assert_documented_order(objects);
        assert_int_equal(p4_inventory_order(objects, NULL), 0); /* idempotent */
        assert_documented_order(objects);
        cJSON_Delete(objects);
    }
    free(perm);
}

static int coprime(size_t a, size_t b)
{
    while (b != 0) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a == 1;
}

static void prune_order_is_the_exact_reverse(void **state)
{
    size_t n = documented_objects();
    size_t *perm = calloc(n, sizeof(*perm));
    cJSON *objects, *sorted;
    const cJSON *a, *b;
    size_t step = 7;

    (void)state;
    assert_non_null(perm);
    while (coprime(step, n) == 0)
        step++;
    for (size_t i = 0; i < n; i++)
        perm[i] = (i * step) % n; /* step and n are coprime: a permutation */
    objects = documented_manifest(perm, n);
    sorted = p4_json_need(cJSON_Duplicate(objects, 1));
    assert_int_equal(p4_inventory_order(sorted, NULL), 0);
    assert_int_equal(p4_inventory_prune_order(objects, NULL), 0);
    a = objects->child;
    for (int i = cJSON_GetArraySize(sorted) - 1; i >= 0; i--, a = a->next) {
        b = cJSON_GetArrayItem(sorted, i);
        assert_non_null(a);
        assert_string_equal(p4_json_str(a, "metadata.name"), p4_json_str(b, "metadata.name"));
    }
    assert_null(a);
    cJSON_Delete(objects);
    cJSON_Delete(sorted);
    free(perm);
}

static void ordering_refuses_what_is_not_a_manifest(void **state)
{
    static const char good[] = "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"},"
                               "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\"}]";
    static const char *const bad[] = {
        "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"},\"x\"]",
        "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"},{\"kind\":\"Namespace\"}]",
        "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"},{\"apiVersion\":\"v1\"}]",
        "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"},{\"apiVersion\":1,\"kind\":\"A\"}]",
        "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"},null]",
    };
    struct p4_error err;
    cJSON *objects, *copy, *big;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        objects = parse(bad[i]);
        copy = p4_json_need(cJSON_Duplicate(objects, 1));
        memset(&err, 0, sizeof(err));
        assert_int_equal(p4_inventory_order(objects, &err), P4_ERR_INVALID);
        assert_string_equal(err.message, "object 2 of the manifest is not an object with "
                                         "apiVersion and kind");
        assert_true(cJSON_Compare(objects, copy, 1)); /* left as it was */
        assert_int_equal(p4_inventory_prune_order(objects, NULL), P4_ERR_INVALID);
        cJSON_Delete(objects);
        cJSON_Delete(copy);
    }
    assert_int_equal(p4_inventory_order(NULL, &err), P4_ERR_INVAL);
    objects = parse("{\"kind\":\"List\"}");
    assert_int_equal(p4_inventory_order(objects, &err), P4_ERR_INVAL);
    cJSON_Delete(objects);

    objects = parse("[]");
    assert_int_equal(p4_inventory_order(objects, &err), 0);
    assert_int_equal(p4_inventory_prune_order(objects, &err), 0);
    cJSON_Delete(objects);

    objects = parse(good);
    assert_int_equal(p4_inventory_order(objects, &err), 0);
    assert_string_equal(p4_json_str(objects->child, "kind"), "Namespace");
    cJSON_Delete(objects);

    big = p4_json_need(cJSON_CreateArray());
    for (int i = 0; i <= P4_MANIFEST_OBJECTS_MAX; i++)
        cJSON_AddItemToArray(big, object("v1", "ConfigMap", NULL, "c"));
    assert_int_equal(p4_inventory_order(big, &err), P4_ERR_TOOBIG);
    assert_int_equal(p4_inventory_prune_order(big, &err), P4_ERR_TOOBIG);
    cJSON_Delete(cJSON_DetachItemViaPointer(big, big->child->prev));
    assert_int_equal(p4_inventory_order(big, &err), 0); /* exactly the limit */
    cJSON_Delete(big);
}

static void identity_is_group_kind_namespace_name(void **state)
{
    static struct {
        struct p4_inv_entry a, b;
        bool same;
    } cases[] = {
        {{"apps/v1", "Deployment", "shop", "web"},
         {"extensions/v1beta1", "Deployment", "shop", "web"},
         true},
        {{"apps/v1beta2", "Deployment", "shop", "web"},
         {"apps/v1", "Deployment", "shop", "web"},
         true},
        {{"extensions/v1beta1", "DaemonSet", "shop", "d"},
         {"apps/v1", "DaemonSet", "shop", "d"},
         true},
        {{"extensions/v1beta1", "Ingress", "shop", "i"},
         {"networking.k8s.io/v1", "Ingress", "shop", "i"},
         true},
        {{"extensions/v1beta1", "NetworkPolicy", "shop", "n"},
         {"networking.k8s.io/v1", "NetworkPolicy", "shop", "n"},
         true},
        {{"extensions/v1beta1", "PodSecurityPolicy", "", "p"},
         {"policy/v1beta1", "PodSecurityPolicy", "", "p"},
         true},
        {{"events.k8s.io/v1", "Event", "shop", "e"}, {"v1", "Event", "shop", "e"}, true},
        {{"batch/v1beta1", "CronJob", "shop", "c"}, {"batch/v1", "CronJob", "shop", "c"}, true},
        {{"example.com/v1", "Widget", "shop", "w"},
         {"example.com/v2", "Widget", "shop", "w"},
         true},
        {{"example.com/v1", "Widget", "shop", "w"}, {"other.org/v1", "Widget", "shop", "w"}, false},
        {{"extensions/v1beta1", "Widget", "shop", "w"}, {"apps/v1", "Widget", "shop", "w"}, false},
        {{"v1", "Service", "shop", "web"},
         {"serving.knative.dev/v1", "Service", "shop", "web"},
         false},
        {{"apps/v1", "Deployment", "shop", "web"},
         {"apps/v1", "StatefulSet", "shop", "web"},
         false},
        {{"apps/v1", "Deployment", "shop", "web"},
         {"apps/v1", "Deployment", "other", "web"},
         false},
        {{"apps/v1", "Deployment", "shop", "web"},
         {"apps/v1", "Deployment", "shop", "web2"},
         false},
        {{"v1", "ConfigMap", "a", "b/c"}, {"v1", "ConfigMap", "a/b", "c"}, false},
        {{"v1", "ConfigMap", "", "x"}, {"v1", "ConfigMap", NULL, "x"}, true},
    };
    struct p4_inventory a, b, prune;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(p4_inv_entry_same(&cases[i].a, &cases[i].b), cases[i].same);
        assert_int_equal(p4_inv_entry_same(&cases[i].b, &cases[i].a), cases[i].same);
        /* The diff agrees: the same object is never pruned, a different one is. */
        a = (struct p4_inventory){&cases[i].a, 1};
        b = (struct p4_inventory){&cases[i].b, 1};
        assert_int_equal(p4_inventory_diff(&a, &b, &prune), 0);
        assert_int_equal(prune.n, cases[i].same ? 0 : 1);
        p4_inventory_close(&prune);
    }
    assert_true(p4_inv_entry_same(NULL, NULL));
    assert_false(p4_inv_entry_same(&cases[0].a, NULL));
}

static void inventory_from_objects_defaults_namespaces(void **state)
{
    static const char manifest[] =
        "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\"}},"
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
        "\"metadata\":{\"name\":\"web\",\"namespace\":\"other\"}},"
        "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
        "\"metadata\":{\"name\":\"admin\",\"namespace\":\"ignored\"}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":"
        "\"\"}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"}}]";
    cJSON *objects = parse(manifest);
    struct p4_inventory inv;
    struct p4_inventory_scope counting = {test_namespaced, NULL};
    int calls = 0;

    (void)state;
    counting.data = &calls;
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &counting, &inv, NULL), 0);
    assert_int_equal(calls, 5);
    assert_int_equal(inv.n, 5);
    assert_entry(&inv.items[0], "v1", "ConfigMap", "shop", "cfg");
    assert_entry(&inv.items[1], "apps/v1", "Deployment", "other", "web");
    assert_entry(&inv.items[2], "rbac.authorization.k8s.io/v1", "ClusterRole", "", "admin");
    assert_entry(&inv.items[3], "v1", "Service", "shop", "web");
    assert_entry(&inv.items[4], "v1", "Namespace", "", "shop");
    p4_inventory_close(&inv);
    assert_null(inv.items);
    assert_int_equal(inv.n, 0);
    p4_inventory_close(&inv); /* twice is fine */
    p4_inventory_close(NULL);

    assert_int_equal(p4_inventory_from_objects(objects, NULL, &test_scope, &inv, NULL), 0);
    assert_entry(&inv.items[0], "v1", "ConfigMap", "default", "cfg"); /* as p4_apply_object */
    p4_inventory_close(&inv);
    cJSON_Delete(objects);

    objects = parse("[]");
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, NULL), 0);
    assert_int_equal(inv.n, 0);
    assert_null(inv.items);
    cJSON_Delete(objects);
}

static void custom_resources_take_their_scope_from_the_manifest(void **state)
{
    static const char crds[] =
        "[{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"names\":{\"kind\":\"Widget\",\"plural\":\"widgets\"},\"scope\":\"Namespaced\"}},"
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w1\"}},"
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Gadget\",\"metadata\":{\"name\":\"g1\","
        "\"namespace\":\"x\"}},"
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"gadgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"names\":{\"kind\":\"Gadget\"},\"scope\":\"Cluster\"}}]";
    static const char unknown[] =
        "[{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"widgets.other.org\"},\"spec\":{\"group\":\"other.org\","
        "\"names\":{\"kind\":\"Widget\"},\"scope\":\"Namespaced\"}},"
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"names\":{\"kind\":\"Widget\"},\"scope\":\"Sideways\"}},"
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w1\"}}]";
    cJSON *objects = parse(crds);
    struct p4_inventory inv;
    struct p4_error err;

    (void)state;
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, &err), 0);
    assert_int_equal(inv.n, 4);
    assert_entry(&inv.items[1], "example.com/v1", "Widget", "shop", "w1");
    assert_entry(&inv.items[2], "example.com/v1", "Gadget", "", "g1");
    p4_inventory_close(&inv);
    cJSON_Delete(objects);

    objects = parse(unknown); /* a CRD of another group, and one with no valid scope */
    inv.n = 42;
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, &err),
                     P4_ERR_NOTFOUND);
    assert_string_equal(err.message, "Widget w1 (example.com/v1): the cluster serves no such kind "
                                     "and no CustomResourceDefinition in the manifest defines it");
    assert_int_equal(inv.n, 0);
    assert_null(inv.items);
    cJSON_Delete(objects);
}

static void bad_objects_are_named(void **state)
{
    static const struct {
        const char *manifest;
        int code;
        const char *message;
    } cases[] = {
        {"[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}},7]",
         P4_ERR_INVALID, "object 2 of the manifest is not an object"},
        {"[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}}]", P4_ERR_INVALID,
         "object 1 of the manifest (ConfigMap): metadata.name is missing"},
        {"[{\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"a\"}}]", P4_ERR_INVALID,
         "object 1 of the manifest (a): kind is missing"},
        {"[{\"apiVersion\":\"\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}]",
         P4_ERR_INVALID, "object 1 of the manifest (ConfigMap a): apiVersion is missing"},
        {"[{\"apiVersion\":\"a/b/v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}]",
         P4_ERR_INVALID,
         "ConfigMap a: apiVersion \"a/b/v1\" is not \"version\" or \"group/version\""},
        {"[{\"apiVersion\":\"apps/\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"a\"}}]",
         P4_ERR_INVALID,
         "Deployment a: apiVersion \"apps/\" is not \"version\" or \"group/version\""},
        {"[{\"apiVersion\":\"v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"}}]",
         P4_ERR_NOTFOUND,
         "Widget w (v1): the cluster serves no such kind and no "
         "CustomResourceDefinition in the manifest defines it"},
        {"[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\\n\\u00ff\"}},"
         "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\\n\\u00ff\"}}]",
         P4_ERR_INVALID, "Secret shop/s??? appears twice in the manifest"},
    };
    struct p4_inventory inv;
    struct p4_error err;
    cJSON *objects, *big;
    char *name;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        objects = parse(cases[i].manifest);
        memset(&err, 0, sizeof(err));
        assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, &err),
                         cases[i].code);
        assert_string_equal(err.message, cases[i].message);
        assert_int_equal(inv.n, 0);
        cJSON_Delete(objects);
    }

    objects = parse("[]");
    assert_int_equal(p4_inventory_from_objects(NULL, "shop", &test_scope, &inv, &err),
                     P4_ERR_INVAL);
    assert_int_equal(p4_inventory_from_objects(objects, "shop", NULL, &inv, &err), P4_ERR_INVAL);
    assert_int_equal(
        p4_inventory_from_objects(objects, "shop", &(struct p4_inventory_scope){0}, &inv, &err),
        P4_ERR_INVAL);
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, NULL, &err),
                     P4_ERR_INVAL);
    cJSON_Delete(objects);

    /* Fields longer than P4_INVENTORY_FIELD_MAX: refused, so status.inventory can hold them all. */
    name = malloc(P4_INVENTORY_FIELD_MAX + 2);
    assert_non_null(name);
    memset(name, 'n', P4_INVENTORY_FIELD_MAX + 1);
    name[P4_INVENTORY_FIELD_MAX + 1] = '\0';
    objects = p4_json_need(cJSON_CreateArray());
    cJSON_AddItemToArray(objects, object("v1", "ConfigMap", NULL, name));
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, &err),
                     P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "metadata.name is longer than 320 bytes"));
    cJSON_Delete(objects);
    objects = p4_json_need(cJSON_CreateArray());
    cJSON_AddItemToArray(objects, object("v1", "ConfigMap", name, "c"));
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, &err),
                     P4_ERR_INVALID);
    assert_string_equal(err.message, "ConfigMap c: metadata.namespace is longer than 320 bytes");
    cJSON_Delete(objects);
    name[P4_INVENTORY_FIELD_MAX] = '\0'; /* exactly the limit */
    objects = p4_json_need(cJSON_CreateArray());
    cJSON_AddItemToArray(objects, object("v1", "ConfigMap", name, name));
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, &err), 0);
    assert_int_equal(inv.n, 1);
    p4_inventory_close(&inv);
    cJSON_Delete(objects);
    free(name);

    big = p4_json_need(cJSON_CreateArray());
    for (int i = 0; i <= P4_MANIFEST_OBJECTS_MAX; i++)
        cJSON_AddItemToArray(big, object("v1", "ConfigMap", NULL, "c"));
    assert_int_equal(p4_inventory_from_objects(big, "shop", &test_scope, &inv, &err),
                     P4_ERR_TOOBIG);
    cJSON_Delete(big);
}

static void duplicates_are_refused(void **state)
{
    static const struct {
        const char *manifest;
        const char *message; /* NULL: no duplicate */
    } cases[] = {
        {"[{\"apiVersion\":\"extensions/v1beta1\",\"kind\":\"Deployment\","
         "\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"}},"
         "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}]",
         "Deployment shop/web appears twice in the manifest"},
        {"[{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
         "\"metadata\":{\"name\":\"admin\",\"namespace\":\"a\"}},"
         "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
         "\"metadata\":{\"name\":\"admin\",\"namespace\":\"b\"}}]",
         "ClusterRole admin appears twice in the manifest"},
        {"[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
         "\"metadata\":{\"name\":\"web\",\"namespace\":\"a\"}},"
         "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
         "\"metadata\":{\"name\":\"web\",\"namespace\":\"b\"}},"
         "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"web\"}},"
         "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"}},"
         "{\"apiVersion\":\"serving.knative.dev/v1\",\"kind\":\"Service\","
         "\"metadata\":{\"name\":\"web\"}}]",
         NULL},
    };
    struct p4_inventory inv;
    struct p4_error err;
    cJSON *objects;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        objects = parse(cases[i].manifest);
        memset(&err, 0, sizeof(err));
        if (cases[i].message) {
            assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, &err),
                             P4_ERR_INVALID);
            assert_string_equal(err.message, cases[i].message);
            assert_string_equal(err.reason, "Invalid");
            assert_int_equal(inv.n, 0);
        } else {
            assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, &err),
                             0);
            assert_int_equal(inv.n, (size_t)cJSON_GetArraySize(objects));
            p4_inventory_close(&inv);
        }
        cJSON_Delete(objects);
    }
}

static void diff_prunes_what_the_chart_no_longer_renders(void **state)
{
    static const char previous[] =
        "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"cfg\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"namespace\":\"shop\",\"name\":\"web\"},"
        "{\"apiVersion\":\"extensions/v1beta1\",\"kind\":\"Deployment\",\"namespace\":\"shop\","
        "\"name\":\"web\"},"
        "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"namespace\":\"shop\","
        "\"name\":\"web\"},"
        "{\"apiVersion\":\"monitoring.coreos.com/v1\",\"kind\":\"ServiceMonitor\","
        "\"namespace\":\"shop\",\"name\":\"web\"},"
        "{\"apiVersion\":\"apps/"
        "v1\",\"kind\":\"StatefulSet\",\"namespace\":\"shop\",\"name\":\"db\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"namespace\":\"shop\",\"name\":\"db\"}]";
    static const char current[] =
        "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"cfg\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"namespace\":\"shop\",\"name\":\"web\"},"
        "{\"apiVersion\":\"apps/"
        "v1\",\"kind\":\"Deployment\",\"namespace\":\"shop\",\"name\":\"web\"},"
        "{\"apiVersion\":\"monitoring.example.com/v1\",\"kind\":\"ServiceMonitor\","
        "\"namespace\":\"shop\",\"name\":\"web\"},"
        "{\"apiVersion\":\"apps/"
        "v1\",\"kind\":\"StatefulSet\",\"namespace\":\"shop\",\"name\":\"db2\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"namespace\":\"other\",\"name\":\"db\"}]";
    struct p4_inventory prev, cur, prune;

    (void)state;
    inv_from(previous, &prev);
    inv_from(current, &cur);
    assert_int_equal(p4_inventory_diff(&prev, &cur, &prune), 0);
    /*
     * Ingress web: its template was removed; StatefulSet db: renamed db2; Secret db: moved to
     * another namespace; ServiceMonitor: its kind moved to another group (another CRD, another
     * object). The Deployment only moved from extensions/v1beta1 to apps/v1: the same object.
     */
    assert_int_equal(prune.n, 4);
    assert_entry(&prune.items[0], "monitoring.coreos.com/v1", "ServiceMonitor", "shop", "web");
    assert_entry(&prune.items[1], "networking.k8s.io/v1", "Ingress", "shop", "web");
    assert_entry(&prune.items[2], "apps/v1", "StatefulSet", "shop", "db");
    assert_entry(&prune.items[3], "v1", "Secret", "shop", "db");
    p4_inventory_close(&prune);

    /* The other way round: what is new in current is not previous's to prune. */
    assert_int_equal(p4_inventory_diff(&cur, &cur, &prune), 0);
    assert_int_equal(prune.n, 0);
    assert_null(prune.items);
    p4_inventory_close(&prune);
    p4_inventory_close(&prev);
    p4_inventory_close(&cur);

    /* Only the removed template. */
    inv_from(
        "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"a\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"b\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"c\"}]",
        &prev);
    inv_from(
        "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"c\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"a\"}]",
        &cur);
    assert_int_equal(p4_inventory_diff(&prev, &cur, &prune), 0);
    assert_int_equal(prune.n, 1);
    assert_entry(&prune.items[0], "v1", "ConfigMap", "shop", "b");
    p4_inventory_close(&prune);
    p4_inventory_close(&prev);
    p4_inventory_close(&cur);
}

static void diff_with_empty_sides(void **state)
{
    static const char previous[] =
        "[{\"apiVersion\":\"apps/"
        "v1\",\"kind\":\"Deployment\",\"namespace\":\"shop\",\"name\":\"a\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":\"shop\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"c\"},"
        "{\"apiVersion\":\"example.com/"
        "v1\",\"kind\":\"Widget\",\"namespace\":\"shop\",\"name\":\"w\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"namespace\":\"shop\",\"name\":\"s\"},"
        "{\"apiVersion\":\"apps/"
        "v1\",\"kind\":\"Deployment\",\"namespace\":\"shop\",\"name\":\"b\"},"
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"name\":\"widgets.example.com\"},"
        "{\"apiVersion\":\"cert-manager.io/v1\",\"kind\":\"Certificate\",\"namespace\":\"shop\","
        "\"name\":\"t\"}]";
    struct p4_inventory prev, empty = {NULL, 0}, prune;

    (void)state;
    inv_from(previous, &prev);
    assert_int_equal(p4_inventory_diff(&empty, &prev, &prune), 0);
    assert_int_equal(prune.n, 0);
    assert_null(prune.items);

    assert_int_equal(p4_inventory_diff(&prev, &empty, &prune), 0);
    assert_int_equal(prune.n, 8); /* everything, in reverse apply order */
    assert_entry(&prune.items[0], "example.com/v1", "Widget", "shop", "w");
    assert_entry(&prune.items[1], "cert-manager.io/v1", "Certificate", "shop", "t");
    assert_entry(&prune.items[2], "apps/v1", "Deployment", "shop", "b");
    assert_entry(&prune.items[3], "apps/v1", "Deployment", "shop", "a");
    assert_entry(&prune.items[4], "v1", "Service", "shop", "s");
    assert_entry(&prune.items[5], "v1", "ConfigMap", "shop", "c");
    assert_entry(&prune.items[6], "apiextensions.k8s.io/v1", "CustomResourceDefinition", "",
                 "widgets.example.com");
    assert_entry(&prune.items[7], "v1", "Namespace", "", "shop");
    p4_inventory_close(&prune);

    assert_int_equal(p4_inventory_diff(&empty, &empty, &prune), 0);
    assert_int_equal(prune.n, 0);
    assert_int_equal(p4_inventory_diff(NULL, &empty, &prune), P4_ERR_INVAL);
    assert_int_equal(p4_inventory_diff(&empty, NULL, &prune), P4_ERR_INVAL);
    assert_int_equal(p4_inventory_diff(&empty, &empty, NULL), P4_ERR_INVAL);
    p4_inventory_close(&prev);
}

static void diff_prunes_a_repeated_entry_once(void **state)
{
    struct p4_inv_entry items[] = {
        {"v1", "ConfigMap", "shop", "a"},
        {"v1", "ConfigMap", "shop", "a"},
        {"v1", "ConfigMap", "", "b"},
        {"v1", "ConfigMap", NULL, "b"},
    };
    struct p4_inventory prev = {items, 4}, empty = {NULL, 0}, prune;

    (void)state;
    assert_int_equal(p4_inventory_diff(&prev, &empty, &prune), 0);
    assert_int_equal(prune.n, 2);
    assert_entry(&prune.items[0], "v1", "ConfigMap", "", "b");
    assert_entry(&prune.items[1], "v1", "ConfigMap", "shop", "a");
    p4_inventory_close(&prune);
}

static void inventory_json_round_trip(void **state)
{
    static const char manifest[] =
        "[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\"}},"
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}]";
    static const char expected[] =
        "[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":\"shop\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"cfg\"},"
        "{\"apiVersion\":\"apps/"
        "v1\",\"kind\":\"Deployment\",\"namespace\":\"shop\",\"name\":\"web\"}]";
    cJSON *objects = parse(manifest), *json, *want = parse(expected);
    struct p4_inventory inv, back, empty = {NULL, 0};
    size_t skipped = 99;
    char *text;

    (void)state;
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &inv, NULL), 0);
    json = p4_inventory_to_json(&inv);
    text = p4_json_print(json);
    assert_non_null(text);
    assert_true(cJSON_Compare(json, want, 1));
    assert_int_equal(p4_inventory_from_json(json, &back, &skipped, NULL), 0);
    assert_int_equal(skipped, 0);
    assert_int_equal(back.n, inv.n);
    for (size_t i = 0; i < inv.n; i++)
        assert_entry(&back.items[i], inv.items[i].api_version, inv.items[i].kind,
                     inv.items[i].namespace_, inv.items[i].name);
    free(text);
    cJSON_Delete(json);
    cJSON_Delete(want);
    cJSON_Delete(objects);
    p4_inventory_close(&inv);
    p4_inventory_close(&back);

    json = p4_inventory_to_json(&empty);
    assert_true(cJSON_IsArray(json));
    assert_int_equal(cJSON_GetArraySize(json), 0);
    cJSON_Delete(json);
    json = p4_inventory_to_json(NULL);
    assert_int_equal(cJSON_GetArraySize(json), 0);
    cJSON_Delete(json);
}

static void hostile_status_inventory_is_read_defensively(void **state)
{
    static const char hostile[] =
        "[1, \"x\", null, [], {}, true,"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"},"
        "{\"apiVersion\":5,\"kind\":\"ConfigMap\",\"name\":\"a\"},"
        "{\"apiVersion\":\"v1\",\"kind\":null,\"name\":\"a\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":[\"a\"]},"
        "{\"apiVersion\":\"a/b/c\",\"kind\":\"ConfigMap\",\"name\":\"a\"},"
        "{\"apiVersion\":\"/v1\",\"kind\":\"ConfigMap\",\"name\":\"a\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"a\",\"namespace\":7},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"a\",\"namespace\":{}},"
        "{\"APIVERSION\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"a\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"ok\",\"namespace\":\"shop\"},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"ok\",\"namespace\":\"shop\","
        "\"extra\":[1,2]},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":\"shop\",\"namespace\":null},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":\"shop2\",\"namespace\":\"\"}]";
    static const char *const refused[] = {"{}", "\"[]\"", "3", "true"};
    cJSON *json = parse(hostile), *big;
    struct p4_inventory inv;
    struct p4_error err;
    size_t skipped = 0;
    char *long_name;

    (void)state;
    assert_int_equal(p4_inventory_from_json(json, &inv, &skipped, &err), 0);
    assert_int_equal(skipped, 17);
    assert_int_equal(inv.n, 3);
    assert_entry(&inv.items[0], "v1", "ConfigMap", "shop", "ok");
    assert_entry(&inv.items[1], "v1", "Namespace", "", "shop");
    assert_entry(&inv.items[2], "v1", "Namespace", "", "shop2");
    p4_inventory_close(&inv);
    assert_int_equal(p4_inventory_from_json(json, &inv, NULL, &err), 0); /* skipped may be NULL */
    p4_inventory_close(&inv);
    cJSON_Delete(json);

    /* Every entry bad: an empty inventory. */
    json = parse("[null, null]");
    assert_int_equal(p4_inventory_from_json(json, &inv, &skipped, &err), 0);
    assert_int_equal(skipped, 2);
    assert_int_equal(inv.n, 0);
    assert_null(inv.items);
    cJSON_Delete(json);

    /* Absent or null: no inventory yet. */
    assert_int_equal(p4_inventory_from_json(NULL, &inv, &skipped, &err), 0);
    assert_int_equal(inv.n, 0);
    json = parse("null");
    assert_int_equal(p4_inventory_from_json(json, &inv, &skipped, &err), 0);
    assert_int_equal(inv.n, 0);
    cJSON_Delete(json);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        json = parse(refused[i]);
        assert_int_equal(p4_inventory_from_json(json, &inv, &skipped, &err), P4_ERR_INVALID);
        assert_string_equal(err.message, "status.inventory is not a list");
        assert_int_equal(inv.n, 0);
        cJSON_Delete(json);
    }
    assert_int_equal(p4_inventory_from_json(NULL, NULL, &skipped, &err), P4_ERR_INVAL);

    /* Fields at and past P4_INVENTORY_FIELD_MAX. */
    long_name = malloc(P4_INVENTORY_FIELD_MAX + 2);
    assert_non_null(long_name);
    memset(long_name, 'n', P4_INVENTORY_FIELD_MAX + 1);
    long_name[P4_INVENTORY_FIELD_MAX + 1] = '\0';
    big = p4_json_need(cJSON_CreateArray());
    for (int i = 0; i < 4; i++) {
        cJSON *e = p4_json_need(cJSON_CreateObject());
        if (i == 2)
            long_name[P4_INVENTORY_FIELD_MAX] = '\0';
        p4_json_need(cJSON_AddStringToObject(e, "apiVersion", "v1"));
        p4_json_need(cJSON_AddStringToObject(e, "kind", "ConfigMap"));
        p4_json_need(cJSON_AddStringToObject(e, "namespace", i % 2 ? long_name : "shop"));
        p4_json_need(cJSON_AddStringToObject(e, "name", i % 2 ? "c" : long_name));
        cJSON_AddItemToArray(big, e);
    }
    assert_int_equal(p4_inventory_from_json(big, &inv, &skipped, &err), 0);
    assert_int_equal(skipped, 2);
    assert_int_equal(inv.n, 2);
    p4_inventory_close(&inv);
    cJSON_Delete(big);
    free(long_name);

    /* Huge arrays: P4_MANIFEST_OBJECTS_MAX entries are read, one more is refused. */
    big = p4_json_need(cJSON_CreateArray());
    for (int i = 0; i < P4_MANIFEST_OBJECTS_MAX; i++) {
        cJSON *e = p4_json_need(cJSON_CreateObject());
        char name[32];
        (void)snprintf(name, sizeof(name), "c%d", i);
        p4_json_need(cJSON_AddStringToObject(e, "apiVersion", "v1"));
        p4_json_need(cJSON_AddStringToObject(e, "kind", "ConfigMap"));
        p4_json_need(cJSON_AddStringToObject(e, "name", name));
        cJSON_AddItemToArray(big, e);
    }
    assert_int_equal(p4_inventory_from_json(big, &inv, &skipped, &err), 0);
    assert_int_equal(inv.n, P4_MANIFEST_OBJECTS_MAX);
    assert_int_equal(skipped, 0);
    p4_inventory_close(&inv);
    cJSON_AddItemToArray(big, p4_json_need(cJSON_CreateNull()));
    assert_int_equal(p4_inventory_from_json(big, &inv, &skipped, &err), P4_ERR_TOOBIG);
    assert_string_equal(err.message, "status.inventory has more than 5000 entries");
    assert_int_equal(inv.n, 0);
    for (int i = 0; i < 100000; i++)
        cJSON_AddItemToArray(big, p4_json_need(cJSON_CreateNull()));
    assert_int_equal(p4_inventory_from_json(big, &inv, &skipped, &err), P4_ERR_TOOBIG);
    cJSON_Delete(big);
}

static void scope_check(void **state)
{
    static const struct {
        const char *inventory;
        bool allow_cluster_scoped;
        int code;
        const char *message;
    } cases[] = {
        {"[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":\"shop\"},"
         "{\"apiVersion\":\"apps/"
         "v1\",\"kind\":\"Deployment\",\"namespace\":\"shop\",\"name\":\"web\"}]",
         false, 0, NULL},
        {"[]", false, 0, NULL},
        {"[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"shop\",\"name\":\"c\"},"
         "{\"apiVersion\":\"apps/"
         "v1\",\"kind\":\"Deployment\",\"namespace\":\"other\",\"name\":\"web\"},"
         "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"namespace\":\"third\",\"name\":\"web\"}]",
         true, P4_ERR_INVALID, "Deployment other/web is outside spec.target.namespace shop"},
        {"[{\"apiVersion\":\"apps/"
         "v1\",\"kind\":\"Deployment\",\"namespace\":\"shop\",\"name\":\"web\"},"
         "{\"apiVersion\":\"rbac.authorization.k8s.io/"
         "v1\",\"kind\":\"ClusterRole\",\"name\":\"admin\"}]",
         false, P4_ERR_INVALID,
         "ClusterRole admin is cluster-scoped; set spec.target.allowClusterScoped to apply it"},
        {"[{\"apiVersion\":\"apps/"
         "v1\",\"kind\":\"Deployment\",\"namespace\":\"shop\",\"name\":\"web\"},"
         "{\"apiVersion\":\"rbac.authorization.k8s.io/"
         "v1\",\"kind\":\"ClusterRole\",\"name\":\"admin\"}]",
         true, 0, NULL},
        {"[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":\"other\"}]", false,
         P4_ERR_INVALID,
         "Namespace other is cluster-scoped; set spec.target.allowClusterScoped to apply it"},
        {"[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":\"other\"}]", true, 0, NULL},
        {"[{\"apiVersion\":\"example.com/v1\",\"kind\":\"Namespace\",\"name\":\"shop\"}]", false,
         P4_ERR_INVALID,
         "Namespace shop is cluster-scoped; set spec.target.allowClusterScoped to apply it"},
    };
    struct p4_inventory inv;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        inv_from(cases[i].inventory, &inv);
        memset(&err, 0, sizeof(err));
        assert_int_equal(
            p4_inventory_check_scope(&inv, "shop", cases[i].allow_cluster_scoped, &err),
            cases[i].code);
        if (cases[i].message)
            assert_string_equal(err.message, cases[i].message);
        p4_inventory_close(&inv);
    }
    inv = (struct p4_inventory){NULL, 0};
    assert_int_equal(p4_inventory_check_scope(&inv, NULL, true, &err), P4_ERR_INVAL);
    assert_int_equal(p4_inventory_check_scope(&inv, "", true, &err), P4_ERR_INVAL);
    assert_int_equal(p4_inventory_check_scope(NULL, "shop", true, &err), P4_ERR_INVAL);
}

/* 5,000 objects on each side: runs in linear time (no timing assertion, just that it runs). */
static void large_inventories_diff(void **state)
{
    cJSON *objects = p4_json_need(cJSON_CreateArray()), *json;
    struct p4_inventory prev, cur, back, prune;
    char name[32];
    size_t n = P4_MANIFEST_OBJECTS_MAX;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        (void)snprintf(name, sizeof(name), "cm-%zu", i);
        cJSON_AddItemToArray(objects, object("v1", "ConfigMap", NULL, name));
    }
    assert_int_equal(p4_inventory_order(objects, NULL), 0);
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &prev, NULL), 0);
    cJSON_Delete(objects);

    /* The next render: every tenth object renamed. */
    objects = p4_json_need(cJSON_CreateArray());
    for (size_t i = 0; i < n; i++) {
        if (i % 10)
            (void)snprintf(name, sizeof(name), "cm-%zu", i);
        else
            (void)snprintf(name, sizeof(name), "renamed-%zu", i);
        cJSON_AddItemToArray(objects, object("v1", "ConfigMap", NULL, name));
    }
    assert_int_equal(p4_inventory_from_objects(objects, "shop", &test_scope, &cur, NULL), 0);
    cJSON_Delete(objects);

    json = p4_inventory_to_json(&prev);
    assert_int_equal(p4_inventory_from_json(json, &back, NULL, NULL), 0);
    cJSON_Delete(json);
    assert_int_equal(back.n, n);

    assert_int_equal(p4_inventory_diff(&back, &cur, &prune), 0);
    assert_int_equal(prune.n, n / 10);
    for (size_t i = 0; i < prune.n; i++) { /* one kind: the reverse of the manifest's order */
        (void)snprintf(name, sizeof(name), "cm-%zu", (prune.n - 1 - i) * 10);
        assert_string_equal(prune.items[i].name, name);
    }
    p4_inventory_close(&prune);
    assert_int_equal(p4_inventory_diff(&prev, &back, &prune), 0);
    assert_int_equal(prune.n, 0);
    p4_inventory_close(&prune);
    assert_int_equal(p4_inventory_diff(&cur, &(struct p4_inventory){NULL, 0}, &prune), 0);
    assert_int_equal(prune.n, n);
    p4_inventory_close(&prune);
    p4_inventory_close(&prev);
    p4_inventory_close(&cur);
    p4_inventory_close(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shuffled_manifest_sorts_into_documented_order),
        cmocka_unit_test(prune_order_is_the_exact_reverse),
        cmocka_unit_test(ordering_refuses_what_is_not_a_manifest),
        cmocka_unit_test(identity_is_group_kind_namespace_name),
        cmocka_unit_test(inventory_from_objects_defaults_namespaces),
        cmocka_unit_test(custom_resources_take_their_scope_from_the_manifest),
        cmocka_unit_test(bad_objects_are_named),
        cmocka_unit_test(duplicates_are_refused),
        cmocka_unit_test(diff_prunes_what_the_chart_no_longer_renders),
        cmocka_unit_test(diff_with_empty_sides),
        cmocka_unit_test(diff_prunes_a_repeated_entry_once),
        cmocka_unit_test(inventory_json_round_trip),
        cmocka_unit_test(hostile_status_inventory_is_read_defensively),
        cmocka_unit_test(scope_check),
        cmocka_unit_test(large_inventories_diff),
    };
    return cmocka_run_group_tests_name("inventory", tests, NULL, NULL);
}
