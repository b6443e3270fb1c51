/* jsonscan_test.c: JSON cut into spans, at any depth, bad input included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/core/jsonscan.h"

/* A document nesting depth levels: {"a":{"a":...{"a":1}...}}; caller frees. */
static char *nested_objects(size_t depth, size_t *len)
{
    size_t n = depth * 5 + 1 + depth;
    char *buf = malloc(n + 1);
    size_t at = 0;

    assert_non_null(buf);
    for (size_t i = 0; i < depth; i++) {
        memcpy(buf + at, "{\"a\":", 5);
        at += 5;
    }
    buf[at++] = '1';
    memset(buf + at, '}', depth);
    at += depth;
    buf[at] = '\0';
    *len = at;
    return buf;
}

static void scans_values_and_reports_depth(void **state)
{
    static const struct {
        const char *text;
        size_t depth;
    } ok[] = {
        {"1", 0},
        {"-0.5e+10", 0},
        {"\"a\\\"b\\u00e9\"", 0},
        {"true", 0},
        {"null", 0},
        {"[]", 1},
        {"{}", 1},
        {" [ [1] , {\"a\" : [ ]} ] ", 3},
        {"{\"a\":{\"b\":[[{}]]}}", 5},
    };
    struct p4_jsonscan_span span;
    size_t depth;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const char *t = ok[i].text;

        assert_int_equal(p4_jsonscan_document(t, strlen(t), &span, &depth, NULL), 0);
        assert_int_equal(depth, ok[i].depth);
        assert_true(span.len > 0);
        assert_true(t[span.off] != ' ' && t[span.off + span.len - 1] != ' ');
    }
}

static void refuses_malformed_json(void **state)
{
    static const char *const bad[] = {
        "",      "   ",      "[1,]",  "{\"a\":1,}", "[}",        "{]",       "{\"a\"}",
        "{1:2}", "[1 2]",    "01",    "1.",         ".5",        "1e",       "-",
        "tru",   "nul",      "\"abc", "\"\\x\"",    "\"\\u12\"", "\"a\nb\"", "[[[",
        "]",     "{\"a\":}", "[1]]",  "{\"a\" 1}",  "+1",        "[\"\\",    "\"\\u12g4\"",
    };
    struct p4_error err;
    struct p4_jsonscan_span span;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p4_error_clear(&err);
        assert_int_equal(p4_jsonscan_document(bad[i], strlen(bad[i]), &span, NULL, &err),
                         P4_ERR_PARSE);
        assert_int_equal(err.code, P4_ERR_PARSE);
    }
    /* Not read past len: the same text is fine once it is whole. */
    assert_int_equal(p4_jsonscan_document("[1,2]", 4, &span, NULL, NULL), P4_ERR_PARSE);
    assert_int_equal(p4_jsonscan_document("[1,2]", 5, &span, NULL, NULL), 0);
    assert_int_equal(p4_jsonscan_document(NULL, 3, &span, NULL, NULL), P4_ERR_PARSE);
    /* Errors say where: byte, line and column. */
    assert_int_equal(p4_jsonscan_document("{\n  \"a\": [1,\n   2 3]}", 22, &span, NULL, &err),
                     P4_ERR_PARSE);
    assert_string_equal(err.message, "invalid JSON at byte 18 (line 3, column 6)");
    assert_int_equal(p4_jsonscan_document("[1,\n2", 5, &span, NULL, &err), P4_ERR_PARSE);
    assert_string_equal(err.message, "JSON ends early at byte 5 (line 2, column 2)");
    assert_int_equal(p4_jsonscan_document("1\n\n x", 5, &span, NULL, &err), P4_ERR_PARSE);
    assert_string_equal(err.message,
                        "unexpected data after the JSON value at byte 4 (line 3, column 2)");
}

static void value_moves_past_one_value(void **state)
{
    const char *t = "{\"x\":[1,{\"y\":\"}\"}]} 7";
    size_t pos = 0;
    struct p4_jsonscan_span span;

    (void)state;
    assert_int_equal(p4_jsonscan_value(t, strlen(t), &pos, &span, NULL, NULL), 0);
    assert_int_equal(span.off, 0);
    assert_int_equal(span.len, strlen(t) - 2);
    assert_int_equal(p4_jsonscan_value(t, strlen(t), &pos, &span, NULL, NULL), 0);
    assert_int_equal(t[span.off], '7');
    assert_int_equal(pos, strlen(t));
    /* trailing data makes a document bad */
    assert_int_equal(p4_jsonscan_document(t, strlen(t), &span, NULL, NULL), P4_ERR_PARSE);
}

/* 100,000 levels: no recursion, the bit stack grows; cJSON gives up at 1000. */
static void any_depth_without_recursion(void **state)
{
    size_t len, depth = 0;
    char *deep = nested_objects(100000, &len);
    struct p4_jsonscan_span span;

    (void)state;
    assert_int_equal(p4_jsonscan_document(deep, len, &span, &depth, NULL), 0);
    assert_int_equal(depth, 100000);
    assert_null(p4_json_parse(deep, len, NULL));
    /* cut short at any depth: an error, never a read past the end */
    assert_int_equal(p4_jsonscan_document(deep, len - 1, &span, NULL, NULL), P4_ERR_PARSE);
    free(deep);
}

/* The informer relies on this: cJSON reads 1000 levels and refuses 1001. */
static void cjson_limit_is_1000_levels(void **state)
{
    size_t len;
    char *ok = nested_objects(1000, &len);
    cJSON *tree = p4_json_parse(ok, len, NULL);
    char *deep;

    (void)state;
    assert_non_null(tree);
    cJSON_Delete(tree);
    free(ok);
    deep = nested_objects(1001, &len);
    assert_null(p4_json_parse(deep, len, NULL));
    free(deep);
}

static void iterates_members_and_elements(void **state)
{
    const char *t = "{ \"items\" : [ {\"n\":1} , [2] , \"s\" ] , \"k\\u0069nd\":\"List\" }";
    struct p4_jsonscan_span doc, items, k, v;
    struct p4_jsonscan_iter it;
    char s[16];
    int n = 0;

    (void)state;
    assert_int_equal(p4_jsonscan_document(t, strlen(t), &doc, NULL, NULL), 0);
    assert_true(p4_jsonscan_is_object(t, doc));
    assert_int_equal(p4_jsonscan_member(t, doc, "items", &items), 0);
    assert_true(p4_jsonscan_is_array(t, items));
    assert_int_equal(p4_jsonscan_member(t, doc, "kind", &v), 0); /* escaped name */
    assert_int_equal(p4_jsonscan_string(t, v, s, sizeof(s)), 0);
    assert_string_equal(s, "List");
    assert_int_equal(p4_jsonscan_member(t, doc, "nothing", &v), P4_ERR_NOTFOUND);
    assert_int_equal(p4_jsonscan_member(t, items, "x", &v), P4_ERR_INVAL);

    assert_int_equal(p4_jsonscan_begin(&it, t, items), 0);
    while (p4_jsonscan_next(&it, &k, &v, NULL) == 1) {
        assert_int_equal(k.len, 0);
        n++;
    }
    assert_int_equal(n, 3);
    assert_int_equal(p4_jsonscan_next(&it, &k, &v, NULL), 0);     /* stays at the end */
    assert_int_equal(p4_jsonscan_begin(&it, t, v), P4_ERR_INVAL); /* a string */

    assert_int_equal(p4_jsonscan_begin(&it, t, (struct p4_jsonscan_span){0, 2}), 0);
    assert_int_equal(p4_jsonscan_next(&it, &k, &v, NULL), P4_ERR_PARSE); /* a span cut short */

    assert_int_equal(p4_jsonscan_begin(&it, "{}", (struct p4_jsonscan_span){0, 2}), 0);
    assert_int_equal(p4_jsonscan_next(&it, &k, &v, NULL), 0);
}

static void strings_unescape_and_stay_bounded(void **state)
{
    const char *t = "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"";
    struct p4_jsonscan_span s = {0, strlen(t)};
    char out[64], small[4];

    (void)state;
    assert_int_equal(p4_jsonscan_string(t, s, out, sizeof(out)), 0);
    assert_string_equal(out, "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(p4_jsonscan_string(t, s, small, sizeof(small)), P4_ERR_TOOBIG);
    assert_string_equal(small, "");
    assert_true(p4_jsonscan_string_eq("\"ab\"", (struct p4_jsonscan_span){0, 4}, "ab"));
    assert_false(p4_jsonscan_string_eq("\"ab\"", (struct p4_jsonscan_span){0, 4}, "abc"));
    assert_false(p4_jsonscan_string_eq("\"ab\"", (struct p4_jsonscan_span){0, 4}, "a"));
    assert_false(p4_jsonscan_string_eq("12", (struct p4_jsonscan_span){0, 2}, "12"));

    static const char *const bad[] = {
        "\"\\u0000\"", "\"\\udc00\"", "\"\\ud800\"", "\"\\ud800\\u0041\"", "\"a", "12", "\"\\q\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(p4_jsonscan_string(bad[i], (struct p4_jsonscan_span){0, strlen(bad[i])},
                                            out, sizeof(out)),
                         P4_ERR_INVAL);
    assert_int_equal(p4_jsonscan_string(t, s, out, 0), P4_ERR_TOOBIG);
}

static void integers_read_exactly(void **state)
{
    int64_t v = 0;

    (void)state;
    assert_int_equal(p4_jsonscan_int64("42", (struct p4_jsonscan_span){0, 2}, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(p4_jsonscan_int64("-7", (struct p4_jsonscan_span){0, 2}, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(p4_jsonscan_int64("9007199254740992", (struct p4_jsonscan_span){0, 16}, &v),
                     0);
    assert_int_equal(p4_jsonscan_int64("9007199254740993", (struct p4_jsonscan_span){0, 16}, &v),
                     P4_ERR_INVAL);
    assert_int_equal(
        p4_jsonscan_int64("99999999999999999999999", (struct p4_jsonscan_span){0, 23}, &v),
        P4_ERR_INVAL);
    assert_int_equal(p4_jsonscan_int64("1.5", (struct p4_jsonscan_span){0, 3}, &v), P4_ERR_INVAL);
    assert_int_equal(p4_jsonscan_int64("1e3", (struct p4_jsonscan_span){0, 3}, &v), P4_ERR_INVAL);
    assert_int_equal(p4_jsonscan_int64("\"1\"", (struct p4_jsonscan_span){0, 3}, &v), P4_ERR_INVAL);
    assert_int_equal(p4_jsonscan_int64("1", (struct p4_jsonscan_span){0, 0}, &v), P4_ERR_INVAL);
}

static void too_deep_names_the_path(void **state)
{
    size_t vlen;
    char *values = nested_objects(1100, &vlen);
    size_t n = vlen + 200;
    char *doc = malloc(n);
    char path[128];
    struct p4_jsonscan_span span;
    int w;

    (void)state;
    assert_non_null(doc);
    w = snprintf(doc, n,
                 "{\"metadata\":{\"name\":\"deep\"},\"spec\":{\"image\":{},\"chart\":{\"name\":"
                 "\"x\",\"val\\u0075es\":%s}}}",
                 values);
    assert_true(w > 0 && (size_t)w < n);
    assert_int_equal(p4_jsonscan_document(doc, (size_t)w, &span, NULL, NULL), 0);
    assert_true(p4_jsonscan_too_deep(doc, span, 1000, 3, path, sizeof(path)));
    assert_string_equal(path, "spec.chart.values");
    assert_true(p4_jsonscan_too_deep(doc, span, 1000, 1, path, sizeof(path)));
    assert_string_equal(path, "spec");
    assert_true(p4_jsonscan_too_deep(doc, span, 1000, 0, path, sizeof(path)));
    assert_string_equal(path, "");
    assert_false(p4_jsonscan_too_deep(doc, span, 2000, 3, path, sizeof(path)));
    assert_string_equal(path, "");
    /* a path cut to fit */
    assert_true(p4_jsonscan_too_deep(doc, span, 1000, 3, path, 8));
    assert_int_equal(strlen(path), 7);
    /* an array on the way ends the path */
    assert_true(p4_jsonscan_too_deep("{\"a\":[[[1]]]}", (struct p4_jsonscan_span){0, 13}, 2, 3,
                                     path, sizeof(path)));
    assert_string_equal(path, "a");
    free(values);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scans_values_and_reports_depth),
        cmocka_unit_test(refuses_malformed_json),
        cmocka_unit_test(value_moves_past_one_value),
        cmocka_unit_test(any_depth_without_recursion),
        cmocka_unit_test(cjson_limit_is_1000_levels),
        cmocka_unit_test(iterates_members_and_elements),
        cmocka_unit_test(strings_unescape_and_stay_bounded),
        cmocka_unit_test(integers_read_exactly),
        cmocka_unit_test(too_deep_names_the_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
