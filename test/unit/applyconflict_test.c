/* applyconflict_test.c: a server-side apply's field-manager conflict read from its Status: which
   managers, once each, and which 409s are not such conflicts. */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/kube/apistatus.h"
#include "stages/kubernetes/applyconflict.h"

/* ---- conflicts ---- */

static void decode(long http, const char *body, struct p4_apistatus *st)
{
    assert_int_equal(p4_apistatus_decode(http, body, strlen(body), NULL, st), 0);
}

/* As kube-apiserver 1.36 answered a server-side apply over kubectl-edit's and helm's fields. */
static const char conflict_body[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Apply failed with 3 conflicts: conflicts with \\\"kubectl-edit\\\" using v1:\\n"
    "- .spec.ports[port=80,protocol=\\\"TCP\\\"].targetPort\\nconflicts with \\\"helm\\\" using "
    "v1:\\n- .data.a\",\"reason\":\"Conflict\",\"details\":{\"causes\":["
    "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl-edit\\\" using "
    "v1\",\"field\":\".spec.ports[port=80,protocol=\\\"TCP\\\"].targetPort\"},"
    "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"helm\\\" using v1\","
    "\"field\":\".data.a\"},"
    "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl-edit\\\" with "
    "subresource \\\"status\\\" using v1\",\"field\":\".status.x\"}]},\"code\":409}";

static void conflict_names_each_manager_once(void **state)
{
    struct p4_apistatus st;
    char buf[128];

    (void)state;
    decode(409, conflict_body, &st);
    assert_true(p4_applyset_is_field_conflict(&st));
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "kubectl-edit, helm");
    /* Too small for both: the first only, never cut in the middle. */
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, 16), 1);
    assert_string_equal(buf, "kubectl-edit");
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, 5), 0);
    assert_string_equal(buf, "");
    p4_apistatus_close(&st);
}

static void conflict_without_causes_reads_the_message(void **state)
{
    struct p4_apistatus st;
    char buf[128];

    (void)state;
    decode(409,
           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Apply failed with 1 "
           "conflict: conflict with \\\"before-first-apply\\\" using v1: .data.a\","
           "\"reason\":\"Conflict\",\"code\":409}",
           &st);
    assert_true(p4_applyset_is_field_conflict(&st));
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "before-first-apply");
    p4_apistatus_close(&st);

    /* A manager whose name is a prefix of another's is still named. */
    decode(409,
           "{\"kind\":\"Status\",\"message\":\"Apply failed with 2 conflicts\",\"reason\":"
           "\"Conflict\",\"details\":{\"causes\":[{\"reason\":\"FieldManagerConflict\","
           "\"message\":\"conflict with \\\"helm-x\\\" using v1\"},{\"reason\":"
           "\"FieldManagerConflict\",\"message\":\"conflict with \\\"helm\\\" using v1\"},"
           "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"\\\" using "
           "v1\"},{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"open\"}]},"
           "\"code\":409}",
           &st);
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "helm-x, helm");
    p4_apistatus_close(&st);
}

static void other_refusals_are_not_field_conflicts(void **state)
{
    struct p4_apistatus st;
    char buf[64] = "junk";

    (void)state;
    /* A uid precondition of a DELETE. */
    decode(409,
           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Precondition failed: UID in "
           "precondition: 1, UID in object meta: 2\",\"reason\":\"Conflict\",\"details\":{"
           "\"name\":\"c\",\"kind\":\"configmaps\"},\"code\":409}",
           &st);
    assert_false(p4_applyset_is_field_conflict(&st));
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    p4_apistatus_close(&st);

    decode(422,
           "{\"kind\":\"Status\",\"message\":\"Apply failed with 1 conflict\",\"reason\":"
           "\"Invalid\",\"code\":422}",
           &st);
    assert_false(p4_applyset_is_field_conflict(&st));
    p4_apistatus_close(&st);

    decode(409, "not json at all", &st);
    assert_false(p4_applyset_is_field_conflict(&st));
    p4_apistatus_close(&st);
    assert_false(p4_applyset_is_field_conflict(NULL));
    assert_int_equal(p4_applyset_conflict_managers(NULL, buf, sizeof(buf)), 0);
    assert_int_equal(p4_applyset_conflict_managers(NULL, NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conflict_names_each_manager_once),
        cmocka_unit_test(conflict_without_causes_reads_the_message),
        cmocka_unit_test(other_refusals_are_not_field_conflicts),
    };

    return cmocka_run_group_tests_name("applyconflict", tests, NULL, NULL);
}
