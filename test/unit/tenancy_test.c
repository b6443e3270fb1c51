/* tenancy_test.c: who acts for a Phase4Deployment, and what it may ask for (tenancy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/reconciler/tenancy.h"
#include "testjson.h"

/* A resource in team-a; spec members are added by the caller's JSON text. */
static cJSON *resource(const char *spec)
{
    char text[2048];

    (void)snprintf(text, sizeof(text),
                   "{'metadata': {'namespace': 'team-a', 'name': 'shop'}, 'spec': {%s}}", spec);
    return test_json(text);
}

static void assert_refused(const struct p4_tenancy *t, const char *spec, const char *reason,
                           const char *words)
{
    cJSON *obj = resource(spec);
    struct p4_error err;

    assert_int_equal(p4_tenancy_check(t, obj, &err), P4_ERR_FORBIDDEN);
    assert_string_equal(err.reason, reason);
    if (strstr(err.message, words) == NULL)
        fail_msg("message lacks '%s': %s", words, err.message);
    cJSON_Delete(obj);
}

static void assert_allowed(const struct p4_tenancy *t, const char *spec)
{
    cJSON *obj = resource(spec);
    struct p4_error err = {0};

    if (p4_tenancy_check(t, obj, &err) != 0)
        fail_msg("refused %s: %s", spec, err.message);
    cJSON_Delete(obj);
}

static void the_account_comes_from_the_spec_then_the_flag(void **state)
{
    struct p4_tenancy flag = {.default_service_account = "deployer"};
    cJSON *own = resource("'serviceAccountName': 'shop-deployer'");
    cJSON *none = resource("'target': {'namespace': 'team-a'}");
    cJSON *empty = resource("'serviceAccountName': ''");
    char user[128];

    (void)state;
    assert_string_equal(p4_tenancy_service_account(NULL, own), "shop-deployer");
    assert_string_equal(p4_tenancy_service_account(&flag, own), "shop-deployer");
    assert_null(p4_tenancy_service_account(NULL, none));
    assert_string_equal(p4_tenancy_service_account(&flag, none), "deployer");
    assert_string_equal(p4_tenancy_service_account(&flag, empty), "deployer");
    p4_tenancy_user(NULL, own, user, sizeof(user));
    assert_string_equal(user, "system:serviceaccount:team-a:shop-deployer");
    p4_tenancy_user(&flag, none, user, sizeof(user));
    assert_string_equal(user, "system:serviceaccount:team-a:deployer");
    p4_tenancy_user(NULL, none, user, sizeof(user));
    assert_string_equal(user, "");
    p4_tenancy_user(NULL, own, user, 10); /* too small: no half a name */
    assert_string_equal(user, "");
    cJSON_Delete(own);
    cJSON_Delete(none);
    cJSON_Delete(empty);
}

static void acting_as_itself_the_operator_stays_in_the_namespace(void **state)
{
    (void)state;
    assert_allowed(NULL, "'target': {'namespace': 'team-a', 'createNamespace': true}");
    assert_refused(NULL, "'target': {'namespace': 'kube-system'}", "TargetNotAllowed",
                   "kube-system");
    assert_refused(NULL, "'target': {'namespace': 'team-b'}", "TargetNotAllowed",
                   "spec.serviceAccountName");
    assert_refused(NULL, "'target': {'namespace': 'team-a', 'allowClusterScoped': true}",
                   "ClusterScopedNotAllowed", "only namespaced objects");
    assert_allowed(NULL, "'target': {'namespace': 'team-a', 'allowClusterScoped': false}");
    assert_refused(NULL, "'target': {'namespace': 'team-a'}, 'image': {'build': {'template': {}}}",
                   "BuildNotAllowed", "build Job");
    assert_refused(NULL,
                   "'target': {'namespace': 'team-a'}, 'dependsOn': [{'name': 'db'}, "
                   "{'name': 'auth', 'namespace': 'platform'}]",
                   "CrossNamespaceRefNotAllowed", "platform");
    assert_allowed(NULL, "'target': {'namespace': 'team-a'}, 'dependsOn': [{'name': 'db', "
                         "'namespace': 'team-a'}, {'name': 'x', 'namespace': ''}]");
}

static void a_service_account_may_ask_for_more(void **state)
{
    struct p4_tenancy flag = {.default_service_account = "deployer"};

    (void)state;
    assert_allowed(NULL, "'serviceAccountName': 'sa', 'target': {'namespace': 'team-b', "
                         "'allowClusterScoped': true}, 'image': {'build': {}}, "
                         "'dependsOn': [{'name': 'auth', 'namespace': 'platform'}]");
    assert_allowed(&flag, "'target': {'namespace': 'kube-system', 'allowClusterScoped': true}");
}

static void no_cross_namespace_refs_holds_every_resource_to_its_namespace(void **state)
{
    struct p4_tenancy t = {.no_cross_namespace_refs = true};

    (void)state;
    assert_refused(&t, "'serviceAccountName': 'sa', 'target': {'namespace': 'team-b'}",
                   "TargetNotAllowed", "--no-cross-namespace-refs");
    assert_refused(&t,
                   "'serviceAccountName': 'sa', 'target': {'namespace': 'team-a'}, "
                   "'dependsOn': [{'name': 'auth', 'namespace': 'platform'}]",
                   "CrossNamespaceRefNotAllowed", "--no-cross-namespace-refs");
    /* What a ServiceAccount may do otherwise stays its RBAC's to decide. */
    assert_allowed(&t, "'serviceAccountName': 'sa', 'target': {'namespace': 'team-a', "
                       "'allowClusterScoped': true}, 'image': {'build': {}}");
}

static void a_bad_account_name_is_refused(void **state)
{
    struct p4_tenancy flag = {.default_service_account = "Not_A_Name"};
    char long_name[300];

    (void)state;
    assert_refused(NULL, "'serviceAccountName': 'a:b', 'target': {'namespace': 'team-a'}",
                   "InvalidServiceAccountName", "not a valid name");
    assert_refused(NULL, "'serviceAccountName': '-a', 'target': {'namespace': 'team-a'}",
                   "InvalidServiceAccountName", "not a valid name");
    assert_refused(&flag, "'target': {'namespace': 'team-a'}", "InvalidServiceAccountName",
                   "Not_A_Name");
    memset(long_name, 'a', 254);
    long_name[254] = '\0';
    flag.default_service_account = long_name;
    assert_refused(&flag, "'target': {'namespace': 'team-a'}", "InvalidServiceAccountName",
                   "at most 253");
}

static void odd_objects_do_not_crash(void **state)
{
    cJSON *empty = test_json("{}");
    cJSON *wrong = test_json("{'metadata': 3, 'spec': {'target': [], 'dependsOn': {'a': 1}, "
                             "'serviceAccountName': 7}}");
    struct p4_error err;
    char user[64];

    (void)state;
    (void)p4_tenancy_check(NULL, empty, &err);
    (void)p4_tenancy_check(NULL, wrong, NULL);
    p4_tenancy_user(NULL, wrong, user, sizeof(user));
    assert_string_equal(user, "");
    assert_null(p4_tenancy_service_account(NULL, NULL));
    cJSON_Delete(empty);
    cJSON_Delete(wrong);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_account_comes_from_the_spec_then_the_flag),
        cmocka_unit_test(acting_as_itself_the_operator_stays_in_the_namespace),
        cmocka_unit_test(a_service_account_may_ask_for_more),
        cmocka_unit_test(no_cross_namespace_refs_holds_every_resource_to_its_namespace),
        cmocka_unit_test(a_bad_account_name_is_refused),
        cmocka_unit_test(odd_objects_do_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
