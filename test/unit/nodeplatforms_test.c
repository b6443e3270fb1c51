/* nodeplatforms_test.c: the Nodes' platforms one stage lists serve the others a while. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/reconciler/nodeplatforms.h"

static void serves_while_fresh(void **state)
{
    struct p4_node_platforms np = {0};

    (void)state;
    assert_null(p4_node_platforms_get(&np, 0)); /* nothing listed yet */
    p4_node_platforms_put(&np, "linux/amd64 linux/arm64", 5000);
    assert_string_equal(p4_node_platforms_get(&np, 5000), "linux/amd64 linux/arm64");
    assert_string_equal(p4_node_platforms_get(&np, 5000 + P4_NODE_PLATFORMS_TTL_MS),
                        "linux/amd64 linux/arm64");
    assert_null(p4_node_platforms_get(&np, 5001 + P4_NODE_PLATFORMS_TTL_MS)); /* list again */
    assert_null(p4_node_platforms_get(&np, 4999)); /* a clock behind the put: list again */
    /* another stage's newer list replaces it */
    p4_node_platforms_put(&np, "linux/s390x", 90000);
    assert_string_equal(p4_node_platforms_get(&np, 90001), "linux/s390x");
    p4_node_platforms_close(&np);
    assert_null(p4_node_platforms_get(&np, 90001));
    p4_node_platforms_close(&np);
    p4_node_platforms_close(NULL);
}

static void no_platform_reported_is_not_an_answer(void **state)
{
    struct p4_node_platforms np = {0};

    (void)state;
    p4_node_platforms_put(&np, "", 1000); /* no Node reports one yet: ask again next time */
    assert_null(p4_node_platforms_get(&np, 1000));
    p4_node_platforms_put(&np, NULL, 1000);
    assert_null(p4_node_platforms_get(&np, 1000));
    assert_null(p4_node_platforms_get(NULL, 1000));
    p4_node_platforms_close(&np);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serves_while_fresh),
        cmocka_unit_test(no_platform_reported_is_not_an_answer),
    };
    return cmocka_run_group_tests_name("nodeplatforms", tests, NULL, NULL);
}
