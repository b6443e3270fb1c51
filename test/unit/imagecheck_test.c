/*
 * imagecheck_test.c: what a failed image check means (oci/imagecheck.h), the rule the Docker
 * stage and the Helm stage share: which failure for each registry answer and step, its
 * reason, and the host a registry's API answers on. The checks themselves run against a real
 * registry in the end-to-end tests (and `phase4-operator image-check`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/oci/imagecheck.h"

static void credentials_tls_and_outages_whatever_was_asked(void **state)
{
    const enum p4_image_problem steps[] = {P4_IMAGE_REFERENCE, P4_IMAGE_PLATFORM, P4_IMAGE_CONTENT};

    (void)state;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(p4_image_failure_of(P4_ERR_UNAUTHORIZED, steps[i]), P4_IMAGE_FAIL_AUTH);
        assert_int_equal(p4_image_failure_of(P4_ERR_FORBIDDEN, steps[i]), P4_IMAGE_FAIL_AUTH);
        assert_int_equal(p4_image_failure_of(P4_ERR_TLS, steps[i]), P4_IMAGE_FAIL_TLS);
        assert_int_equal(p4_image_failure_of(P4_ERR_UNAVAILABLE, steps[i]),
                         P4_IMAGE_FAIL_UNAVAILABLE);
        assert_int_equal(p4_image_failure_of(P4_ERR_TRANSPORT, steps[i]),
                         P4_IMAGE_FAIL_UNAVAILABLE);
        assert_int_equal(p4_image_failure_of(P4_ERR_TIMEOUT, steps[i]), P4_IMAGE_FAIL_UNAVAILABLE);
        assert_int_equal(p4_image_failure_of(P4_ERR_TOOMANY, steps[i]), P4_IMAGE_FAIL_UNAVAILABLE);
        assert_int_equal(p4_image_failure_of(P4_ERR_CANCELED, steps[i]), P4_IMAGE_FAIL_UNAVAILABLE);
        assert_int_equal(p4_image_failure_of(P4_ERR_INTERNAL, steps[i]), P4_IMAGE_FAIL_UNAVAILABLE);
        assert_int_equal(p4_image_failure_of(0, steps[i]), P4_IMAGE_FAIL_NONE);
    }
}

static void the_step_says_what_is_wrong_with_the_image(void **state)
{
    (void)state;
    assert_int_equal(p4_image_failure_of(P4_ERR_NOTFOUND, P4_IMAGE_REFERENCE),
                     P4_IMAGE_FAIL_NOT_FOUND);
    assert_int_equal(p4_image_failure_of(P4_ERR_INVALID, P4_IMAGE_REFERENCE),
                     P4_IMAGE_FAIL_INVALID);
    assert_int_equal(p4_image_failure_of(P4_ERR_PARSE, P4_IMAGE_REFERENCE), P4_IMAGE_FAIL_INVALID);
    assert_int_equal(p4_image_failure_of(P4_ERR_NOTFOUND, P4_IMAGE_PLATFORM),
                     P4_IMAGE_FAIL_PLATFORM);
    assert_int_equal(p4_image_failure_of(P4_ERR_NOTFOUND, P4_IMAGE_CONTENT),
                     P4_IMAGE_FAIL_INCOMPLETE);
    assert_int_equal(p4_image_failure_of(P4_ERR_INVALID, P4_IMAGE_CONTENT),
                     P4_IMAGE_FAIL_INCOMPLETE);
}

static void reasons_are_the_documented_ones(void **state)
{
    (void)state;
    assert_string_equal(p4_image_failure_reason(P4_IMAGE_FAIL_AUTH), "ImagePullAuthFailed");
    assert_string_equal(p4_image_failure_reason(P4_IMAGE_FAIL_TLS), "RegistryTLSError");
    assert_string_equal(p4_image_failure_reason(P4_IMAGE_FAIL_UNAVAILABLE), "RegistryUnavailable");
    assert_string_equal(p4_image_failure_reason(P4_IMAGE_FAIL_NOT_FOUND), "ImageNotFound");
    assert_string_equal(p4_image_failure_reason(P4_IMAGE_FAIL_INVALID), "ImageManifestInvalid");
    assert_string_equal(p4_image_failure_reason(P4_IMAGE_FAIL_PLATFORM), "PlatformNotSupported");
    assert_string_equal(p4_image_failure_reason(P4_IMAGE_FAIL_INCOMPLETE), "ImageIncomplete");
    assert_string_equal(p4_image_failure_reason(P4_IMAGE_FAIL_NONE), "");
    assert_string_equal(p4_image_failure_reason((enum p4_image_failure)99), "");
}

static void registry_api_hosts(void **state)
{
    char buf[64];

    (void)state;
    p4_image_registry_host("docker.io", buf, sizeof(buf));
    assert_string_equal(buf, "registry-1.docker.io");
    p4_image_registry_host("127.0.0.1:5000", buf, sizeof(buf));
    assert_string_equal(buf, "127.0.0.1:5000");
    p4_image_registry_host(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "");
    p4_image_registry_host("registry.example.com", buf, 9);
    assert_string_equal(buf, "registry");
}

static void bad_arguments_are_refused(void **state)
{
    struct p4_registry_target t = {.host = "r"};

    (void)state;
    assert_int_equal(p4_image_check(NULL, &t, "a", "1", "linux", "amd64", NULL, NULL, NULL),
                     P4_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(credentials_tls_and_outages_whatever_was_asked),
        cmocka_unit_test(the_step_says_what_is_wrong_with_the_image),
        cmocka_unit_test(reasons_are_the_documented_ones),
        cmocka_unit_test(registry_api_hosts),
        cmocka_unit_test(bad_arguments_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
