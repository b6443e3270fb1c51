/*
 * redact_test.c: Secret values kept out of messages (redact.h): the value as written, split
 * across lines, quoted and escaped as helm, Go and YAML print it, base64, a line alone, a cut
 * message; the short-value rule; the limits; bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/redact.h"
#include "phase4/core/yamljson.h"

/* text redacted by s, as a new string in buf (size bytes). */
static const char *red(const struct p4_redact *s, const char *text, unsigned flags, char *buf,
                       size_t size)
{
    size_t n = strlen(text), m;

    assert_true(n < size);
    memcpy(buf, text, n + 1);
    m = p4_redact_buf(s, buf, n, flags);
    assert_true(m <= n);
    buf[m] = '\0';
    return buf;
}

static struct p4_redact *set_of(const char *value)
{
    struct p4_redact *s = p4_redact_new();

    p4_redact_add(s, value, strlen(value));
    return s;
}

#define BIG 1024

static void a_value_is_redacted_wherever_it_occurs(void **state)
{
    struct p4_redact *s = set_of("s3cr3t-Passw0rd");
    char b[BIG];

    (void)state;
    assert_string_equal(
        red(s, "Error: execution error at (x/t.yaml:1:4): s3cr3t-Passw0rd", 0, b, BIG),
        "Error: execution error at (x/t.yaml:1:4): ***");
    assert_string_equal(red(s, "as3cr3t-Passw0rdb s3cr3t-Passw0rd", 0, b, BIG), "a***b ***");
    assert_string_equal(red(s, "nothing here", 0, b, BIG), "nothing here");
    assert_string_equal(red(s, "s3cr3t-Passw0r", 0, b, BIG), "s3cr3t-Passw0r"); /* not whole */
    p4_redact_free(s);
}

static void surrounding_whitespace_of_a_value_is_not_part_of_it(void **state)
{
    struct p4_redact *s = set_of("\n  token-1234567890 \n");
    char b[BIG];

    (void)state;
    assert_string_equal(red(s, "got token-1234567890.", 0, b, BIG), "got ***.");
    p4_redact_free(s);
}

static void a_value_of_several_lines_is_found_however_it_is_wrapped(void **state)
{
    struct p4_redact *s = set_of("first-line-of-it\nsecond-line-of-it\n");
    char b[BIG];

    (void)state;
    /* As a template's `fail` prints it. */
    assert_string_equal(red(s, "error: first-line-of-it\nsecond-line-of-it\n", 0, b, BIG),
                        "error: ***\n");
    /* YAML block style, indented; helm's lines joined with a space. */
    assert_string_equal(
        red(s, "key: |-\n    first-line-of-it\n    second-line-of-it\nx", 0, b, BIG),
        "key: |-\n    ***\nx");
    assert_string_equal(red(s, "[first-line-of-it second-line-of-it]", 0, b, BIG), "[***]");
    /* Escaped in a quoted string, once or twice, and a YAML double-quoted fold. */
    assert_string_equal(red(s, "\"first-line-of-it\\nsecond-line-of-it\"", 0, b, BIG), "\"***\"");
    assert_string_equal(red(s, "first-line-of-it\\\\nsecond-line-of-it", 0, b, BIG), "***");
    assert_string_equal(red(s, "\"first-line-of-it\\\n  second-line-of-it\"", 0, b, BIG),
                        "\"***\"");
    /* One line quoted alone still goes: each long enough line is a value too. */
    assert_string_equal(red(s, "near second-line-of-it here", 0, b, BIG), "near *** here");
    assert_string_equal(red(s, "first-line-of-itXsecond", 0, b, BIG), "***Xsecond");
    p4_redact_free(s);
}

static void quoted_and_escaped_forms(void **state)
{
    struct p4_redact *s = set_of("pa\"ss\\wo'rd-x");
    char b[BIG];

    (void)state;
    assert_string_equal(red(s, "raw pa\"ss\\wo'rd-x", 0, b, BIG), "raw ***");
    assert_string_equal(red(s, "Invalid value: \"pa\\\"ss\\\\wo'rd-x\"", 0, b, BIG),
                        "Invalid value: \"***\"");
    assert_string_equal(red(s, "{\"m\":\"pa\\\\\\\"ss\\\\\\\\wo'rd-x\"}", 0, b, BIG),
                        "{\"m\":\"***\"}");
    assert_string_equal(red(s, "v: 'pa\"ss\\wo''rd-x'", 0, b, BIG), "v: '***'");
    p4_redact_free(s);

    /* Past ASCII and control bytes as a message cleaned to ASCII shows them. */
    s = set_of("p\xc3\xa4ssw\x01rd-long");
    assert_string_equal(red(s, "x p??ssw rd-long", 0, b, BIG), "x ***");
    assert_string_equal(red(s, "x p\xc3\xa4ssw\x01rd-long", 0, b, BIG), "x ***");
    p4_redact_free(s);
}

static void base64_forms(void **state)
{
    struct p4_redact *s = set_of("user:hunter2hunter2");
    char b[BIG];

    (void)state;
    /* "user:hunter2hunter2" */
    assert_string_equal(red(s, "Authorization: Basic dXNlcjpodW50ZXIyaHVudGVyMg==", 0, b, BIG),
                        "Authorization: Basic ***");
    p4_redact_free(s);
}

static void short_values(void **state)
{
    struct p4_redact *s = p4_redact_new();
    char b[BIG];

    (void)state;
    p4_redact_add(s, "abc", 3); /* under P4_REDACT_MIN: nothing */
    assert_int_equal(p4_redact_count(s), 0);
    assert_string_equal(red(s, "abc abcd", 0, b, BIG), "abc abcd");
    p4_redact_add(s, "admin", 5); /* a whole token only */
    assert_string_equal(red(s, "user admin, administrator, admin_x, x-admin.", 0, b, BIG),
                        "user ***, administrator, admin_x, x-***.");
    assert_string_equal(red(s, "admin", 0, b, BIG), "***");
    p4_redact_add(s, "longerthan8", 11); /* a substring anywhere */
    assert_string_equal(red(s, "xlongerthan8y", 0, b, BIG), "x***y");
    p4_redact_free(s);
}

static void a_cut_message_loses_the_start_of_a_value_too(void **state)
{
    struct p4_redact *s = set_of("0123456789abcdef-token");
    char b[BIG];

    (void)state;
    assert_string_equal(red(s, "the token is 0123456789ab...", P4_REDACT_CUT, b, BIG),
                        "the token is ***...");
    assert_string_equal(red(s, "the token is 0123", P4_REDACT_CUT, b, BIG), "the token is ***");
    assert_string_equal(red(s, "the token is 012", P4_REDACT_CUT, b, BIG), "the token is 012");
    /* Not cut: the start of a value is left alone. */
    assert_string_equal(red(s, "the token is 0123456789ab", 0, b, BIG),
                        "the token is 0123456789ab");
    /* p4_redact_str reads a message as possibly cut. */
    (void)snprintf(b, sizeof(b), "%s", "x 0123456789abcdef-tok...");
    p4_redact_str(s, b);
    assert_string_equal(b, "x ***...");
    p4_redact_free(s);
}

static void the_longest_value_wins(void **state)
{
    struct p4_redact *s = p4_redact_new();
    char b[BIG];

    (void)state;
    p4_redact_add(s, "secretpart", 10);
    p4_redact_add(s, "secretpart-and-more", 19);
    assert_string_equal(red(s, "a secretpart-and-more b secretpart", 0, b, BIG), "a *** b ***");
    /* The same value twice is kept once. */
    p4_redact_add(s, "secretpart", 10);
    assert_int_equal(p4_redact_count(s), 4); /* each: raw and base64 */
    p4_redact_free(s);
}

static void values_of_a_tree(void **state)
{
    const char *yaml = "db:\n  password: hunter2hunter2\n  port: 54321987\n  user: app\n"
                       "list: [first-item-x, {deep: deep-value-1}]\nenabled: true\n";
    cJSON *tree = p4_yaml_to_json(yaml, strlen(yaml), NULL);
    struct p4_redact *s = p4_redact_new();
    char b[BIG];

    (void)state;
    assert_non_null(tree);
    p4_redact_add_tree(s, tree);
    cJSON_Delete(tree);
    assert_string_equal(red(s,
                            "hunter2hunter2 54321987 app first-item-x deep-value-1 true "
                            "password",
                            0, b, BIG),
                        "*** *** app *** *** true password");
    p4_redact_free(s);
}

static void a_tree_nested_past_the_limit_fails_closed(void **state)
{
    cJSON *root = cJSON_CreateArray(), *n = root;
    struct p4_redact *s = p4_redact_new();
    char b[BIG];

    (void)state;
    for (int i = 0; i < P4_REDACT_DEPTH_MAX + 5; i++) {
        cJSON *c = cJSON_CreateArray();
        cJSON_AddItemToArray(n, c);
        n = c;
    }
    cJSON_AddItemToArray(n, cJSON_CreateString("deep-deep-secret"));
    p4_redact_add_tree(s, root);
    cJSON_Delete(root);
    assert_true(p4_redact_overflowed(s));
    assert_string_equal(red(s, "anything at all", 0, b, BIG), "***");
    assert_string_equal(red(s, "ab", 0, b, BIG), "**");
    p4_redact_free(s);
}

static void too_many_values_fail_closed(void **state)
{
    struct p4_redact *s = p4_redact_new();
    char v[32], b[BIG];

    (void)state;
    for (int i = 0; i < P4_REDACT_NEEDLES_MAX; i++) {
        (void)snprintf(v, sizeof(v), "value-number-%06d", i);
        p4_redact_add(s, v, strlen(v));
    }
    assert_true(p4_redact_overflowed(s));
    assert_string_equal(red(s, "a message", 0, b, BIG), "***");
    p4_redact_free(s);
}

static void nothing_to_redact_and_bad_input(void **state)
{
    struct p4_redact *s = p4_redact_new();
    char b[BIG];

    (void)state;
    assert_string_equal(red(NULL, "text", 0, b, BIG), "text");
    assert_string_equal(red(s, "text", 0, b, BIG), "text");
    p4_redact_add(NULL, "value-long-enough", 17);
    p4_redact_add(s, NULL, 5);
    p4_redact_add(s, "   \n\t  ", 7);
    p4_redact_add_tree(s, NULL);
    p4_redact_add_tree(NULL, NULL);
    assert_int_equal(p4_redact_count(s), 0);
    assert_int_equal(p4_redact_count(NULL), 0);
    assert_false(p4_redact_overflowed(NULL));
    assert_int_equal(p4_redact_buf(s, NULL, 0, 0), 0);
    p4_redact_str(s, NULL);
    p4_redact_str(NULL, b);
    /* NUL bytes inside a value and a text are bytes like others. */
    p4_redact_add(s, "ab\0cd-efgh", 10);
    memcpy(b, "x ab\0cd-efgh y", 15); /* and its NUL */
    assert_int_equal(p4_redact_buf(s, b, 14, 0), 7);
    assert_memory_equal(b, "x *** y", 7);
    p4_redact_free(s);
    p4_redact_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_value_is_redacted_wherever_it_occurs),
        cmocka_unit_test(surrounding_whitespace_of_a_value_is_not_part_of_it),
        cmocka_unit_test(a_value_of_several_lines_is_found_however_it_is_wrapped),
        cmocka_unit_test(quoted_and_escaped_forms),
        cmocka_unit_test(base64_forms),
        cmocka_unit_test(short_values),
        cmocka_unit_test(a_cut_message_loses_the_start_of_a_value_too),
        cmocka_unit_test(the_longest_value_wins),
        cmocka_unit_test(values_of_a_tree),
        cmocka_unit_test(a_tree_nested_past_the_limit_fails_closed),
        cmocka_unit_test(too_many_values_fail_closed),
        cmocka_unit_test(nothing_to_redact_and_bad_input),
    };
    return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
