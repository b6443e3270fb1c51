/* version_test.c: the --version report names the operator and every library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/version.h"

static void report_names_every_library(void **state)
{
    char buf[1024];
    size_t n;

    (void)state;
    n = p4_version_report(buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "phase4-operator " P4_VERSION "\n"));
    assert_non_null(strstr(buf, "libcurl "));
    assert_non_null(strstr(buf, "libyaml "));
    assert_non_null(strstr(buf, "cJSON "));
    assert_non_null(strstr(buf, "libuv "));
    assert_non_null(strstr(buf, "OpenSSL "));
}

static void report_is_truncated_safely(void **state)
{
    char buf[16];

    (void)state;
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(p4_version_report(buf, sizeof(buf)), sizeof(buf) - 1);
    assert_int_equal(buf[sizeof(buf) - 1], '\0');
    assert_memory_equal(buf, "phase4-operator", 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_names_every_library),
        cmocka_unit_test(report_is_truncated_safely),
    };
    return cmocka_run_group_tests_name("version", tests, NULL, NULL);
}
