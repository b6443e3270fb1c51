/* error_test.c: error codes, reasons and message formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"

static void every_code_has_reason_and_text(void **state)
{
    (void)state;
    for (int code = P4_ERR_FIRST_ + 1; code < P4_ERR_LAST_; code++) {
        assert_string_not_equal(p4_err_reason(code), "Unknown");
        assert_string_not_equal(p4_strerror(code), "unknown error");
    }
    assert_string_equal(p4_err_reason(P4_ERR_NOTFOUND), "NotFound");
    assert_string_equal(p4_strerror(P4_ERR_CONFLICT), "conflict");
}

static void unknown_codes_are_named_unknown(void **state)
{
    (void)state;
    assert_string_equal(p4_strerror(0), "success");
    assert_string_equal(p4_strerror(P4_ERR_LAST_), "unknown error");
    assert_string_equal(p4_strerror(-1), "unknown error");
    assert_string_equal(p4_strerror(12345), "unknown error");
    assert_string_equal(p4_err_reason(P4_ERR_FIRST_), "Unknown");
}

static void error_set_fills_and_returns_code(void **state)
{
    struct p4_error err;

    (void)state;
    assert_int_equal(p4_error_set(&err, P4_ERR_FORBIDDEN, "cannot %s %s", "list", "pods"),
                     P4_ERR_FORBIDDEN);
    assert_int_equal(err.code, P4_ERR_FORBIDDEN);
    assert_string_equal(err.reason, "Forbidden");
    assert_string_equal(err.message, "cannot list pods");
    p4_error_clear(&err);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.message, "");
    /* A NULL record is allowed and still yields the code. */
    assert_int_equal(p4_error_set(NULL, P4_ERR_IO, "x"), P4_ERR_IO);
}

static void long_messages_are_truncated(void **state)
{
    struct p4_error err;
    char big[2 * P4_ERROR_MESSAGE_MAX];

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    p4_error_set(&err, P4_ERR_INVAL, "%s", big);
    assert_int_equal(strlen(err.message), P4_ERROR_MESSAGE_MAX - 1);
}

static void printable_variant_cleans_the_message(void **state)
{
    struct p4_error err;

    (void)state;
    assert_int_equal(
        p4_error_set_printable(&err, P4_ERR_PARSE, "bad \"%s\" at %d", "a\tb\nc\x7f\xc3\xa9", 3),
        P4_ERR_PARSE);
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_string_equal(err.reason, "ParseError");
    assert_string_equal(err.message, "bad \"a?b?c???\" at 3");
    assert_int_equal(p4_error_set_printable(NULL, P4_ERR_IO, "%s", "x"), P4_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_reason_and_text),
        cmocka_unit_test(unknown_codes_are_named_unknown),
        cmocka_unit_test(error_set_fills_and_returns_code),
        cmocka_unit_test(long_messages_are_truncated),
        cmocka_unit_test(printable_variant_cleans_the_message),
    };
    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
