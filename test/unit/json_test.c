/* json_test.c: bounded parsing and the typed getters, with absent, zero and wrong types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"

static const char deployment[] =
    "{\"apiVersion\":\"phase4.io/v1alpha1\",\"kind\":\"Phase4Deployment\","
    "\"metadata\":{\"name\":\"shop\",\"namespace\":\"web\",\"generation\":0,"
    "\"labels\":{\"app.kubernetes.io/name\":\"shop\",\"a\\\\b\":\"backslash\",\"\":\"empty\"},"
    "\"annotations\":null},"
    "\"spec\":{\"replicas\":0,\"paused\":false,\"suspend\":true,\"ratio\":1.5,"
    "\"big\":1e300,\"exact\":9007199254740992,\"neg\":-42,\"inf\":1e999,"
    "\"name\":\"Shop\",\"count\":\"3\",\"list\":[1,2]}}";

static int setup(void **state)
{
    *state = p4_json_parse(deployment, strlen(deployment), NULL);
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    cJSON_Delete(*state);
    return 0;
}

static void str_present_absent_wrong_type(void **state)
{
    const cJSON *obj = *state;

    assert_string_equal(p4_json_str(obj, "metadata.name"), "shop");
    assert_string_equal(p4_json_str(obj, "kind"), "Phase4Deployment");
    assert_null(p4_json_str(obj, "metadata.uid"));         /* absent */
    assert_null(p4_json_str(obj, "status.phase"));         /* parent absent */
    assert_null(p4_json_str(obj, "metadata.generation"));  /* a number */
    assert_null(p4_json_str(obj, "metadata"));             /* an object */
    assert_null(p4_json_str(obj, "metadata.annotations")); /* null */
    assert_null(p4_json_str(obj, "metadata.name.x"));      /* walks through a string */
    assert_null(p4_json_str(obj, "metadata."));            /* empty last segment */
    assert_null(p4_json_str(NULL, "metadata.name"));
    /* Keys match case-sensitively, unlike cJSON_GetObjectItem. */
    assert_null(p4_json_str(obj, "Metadata.Name"));
    assert_string_equal(p4_json_str(obj, "spec.name"), "Shop");
}

static void int64_present_zero_absent_wrong_type(void **state)
{
    const cJSON *obj = *state;
    int64_t v = 7;

    assert_int_equal(p4_json_int64(obj, "spec.replicas", &v), 0);
    assert_int_equal(v, 0); /* zero is present, not absent */
    assert_int_equal(p4_json_int64(obj, "metadata.generation", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(p4_json_int64(obj, "spec.neg", &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(p4_json_int64(obj, "spec.exact", &v), 0);
    assert_true(v == INT64_C(9007199254740992));

    v = 7;
    assert_int_equal(p4_json_int64(obj, "spec.missing", &v), P4_ERR_NOTFOUND);
    assert_int_equal(p4_json_int64(obj, "status.replicas", &v), P4_ERR_NOTFOUND);
    assert_int_equal(p4_json_int64(obj, "metadata.annotations", &v), P4_ERR_NOTFOUND);
    assert_int_equal(p4_json_int64(obj, "spec.count", &v), P4_ERR_INVAL); /* "3" */
    assert_int_equal(p4_json_int64(obj, "spec.ratio", &v), P4_ERR_INVAL);
    assert_int_equal(p4_json_int64(obj, "spec.big", &v), P4_ERR_INVAL);
    assert_int_equal(p4_json_int64(obj, "spec.inf", &v), P4_ERR_INVAL);
    assert_int_equal(p4_json_int64(obj, "spec.paused", &v), P4_ERR_INVAL);
    assert_int_equal(p4_json_int64(obj, "spec.list", &v), P4_ERR_INVAL);
    assert_int_equal(v, 7); /* untouched on failure */
    assert_int_equal(p4_json_int64(NULL, "spec.replicas", &v), P4_ERR_NOTFOUND);
}

static void bool_present_false_absent_wrong_type(void **state)
{
    const cJSON *obj = *state;
    bool b = true;

    assert_int_equal(p4_json_bool(obj, "spec.paused", &b), 0);
    assert_false(b);
    assert_int_equal(p4_json_bool(obj, "spec.suspend", &b), 0);
    assert_true(b);
    assert_int_equal(p4_json_bool(obj, "spec.absent", &b), P4_ERR_NOTFOUND);
    assert_int_equal(p4_json_bool(obj, "metadata.annotations", &b), P4_ERR_NOTFOUND);
    assert_int_equal(p4_json_bool(obj, "spec.replicas", &b), P4_ERR_INVAL);
    assert_int_equal(p4_json_bool(obj, "spec.name", &b), P4_ERR_INVAL);
    assert_true(b);
}

static void get_returns_any_type_and_null(void **state)
{
    const cJSON *obj = *state;

    assert_ptr_equal(p4_json_get(obj, ""), obj);
    assert_ptr_equal(p4_json_get(obj, NULL), obj);
    assert_true(cJSON_IsObject(p4_json_get(obj, "metadata.labels")));
    assert_true(cJSON_IsArray(p4_json_get(obj, "spec.list")));
    assert_true(cJSON_IsNull(p4_json_get(obj, "metadata.annotations")));
    assert_null(p4_json_get(obj, "spec.list.0")); /* no list indexing */
    assert_null(p4_json_get(NULL, "a"));
}

static void dotted_keys_by_escape_and_child(void **state)
{
    const cJSON *obj = *state;
    const cJSON *labels = p4_json_get(obj, "metadata.labels");

    assert_string_equal(p4_json_str(obj, "metadata.labels.app\\.kubernetes\\.io/name"), "shop");
    assert_null(p4_json_str(obj, "metadata.labels.app.kubernetes.io/name"));
    assert_string_equal(p4_json_str(obj, "metadata.labels.a\\\\b"), "backslash");
    assert_string_equal(p4_json_str(obj, "metadata.labels."), "empty");

    assert_string_equal(cJSON_GetStringValue(p4_json_child(labels, "app.kubernetes.io/name")),
                        "shop");
    assert_string_equal(cJSON_GetStringValue(p4_json_child(labels, "a\\b")), "backslash");
    assert_null(p4_json_child(labels, "missing"));
    assert_null(p4_json_child(p4_json_get(obj, "spec.list"), "x"));
    assert_null(p4_json_child(NULL, "x"));
    assert_null(p4_json_child(labels, NULL));
}

static void parse_accepts_unterminated_buffers(void **state)
{
    /* No NUL after the closing brace: the bytes after it belong to someone else. */
    char buf[16];
    struct p4_error err;
    cJSON *obj;

    (void)state;
    memcpy(buf, "{\"a\":1}XXXXXXXXX", sizeof(buf));
    obj = p4_json_parse(buf, 7, &err);
    assert_non_null(obj);
    assert_true(cJSON_IsNumber(p4_json_get(obj, "a")));
    cJSON_Delete(obj);

    obj = p4_json_parse(" [1, 2] \r\n\t", 11, &err); /* trailing whitespace is fine */
    assert_non_null(obj);
    cJSON_Delete(obj);
}

static void parse_reports_where_it_failed(void **state)
{
    struct p4_error err;

    (void)state;
    p4_error_clear(&err);
    assert_null(p4_json_parse("{\"a\":1,\n \"b\": tru}", 18, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_string_equal(err.reason, "ParseError");
    assert_non_null(strstr(err.message, "line 2"));

    assert_null(p4_json_parse("{\"a\":1} {\"b\":2}", 15, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_non_null(strstr(err.message, "byte 8"));

    assert_null(p4_json_parse("{\"a\":1}\0", 8, &err)); /* an embedded NUL is trailing data */
    assert_int_equal(err.code, P4_ERR_PARSE);

    assert_null(p4_json_parse("{\"a\":", 5, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_null(p4_json_parse("", 0, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_null(p4_json_parse("  \n ", 4, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_null(p4_json_parse(NULL, 3, &err));
    assert_int_equal(err.code, P4_ERR_INVAL);
    assert_null(p4_json_parse("nul", 3, NULL)); /* a NULL error record is allowed */
}

static void parse_rejects_oversized_input_unread(void **state)
{
    struct p4_error err;

    (void)state;
    /* The length alone is refused; the (short) buffer is never read that far. */
    assert_null(p4_json_parse("{}", P4_JSON_PARSE_MAX + 1, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_string_equal(err.reason, "TooLarge");
}

static void parse_rejects_deep_nesting(void **state)
{
    size_t depth = 5000;
    char *buf = malloc(2 * depth);
    struct p4_error err;

    (void)state;
    memset(buf, '[', depth);
    memset(buf + depth, ']', depth);
    assert_null(p4_json_parse(buf, 2 * depth, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    free(buf);
}

static void print_is_compact_and_freeable(void **state)
{
    cJSON *obj = p4_json_parse("{ \"a\" : [ 1 , \"x\" ],\n \"b\" : { } }", 33, NULL);
    char *text;

    (void)state;
    assert_non_null(obj);
    text = p4_json_print(obj);
    assert_string_equal(text, "{\"a\":[1,\"x\"],\"b\":{}}");
    free(text);
    cJSON_Delete(obj);
    assert_null(p4_json_print(NULL));
}

/* A tree that held secrets is wiped and freed whole (valgrind checks the freeing), any shape. */
static void discard_frees_any_tree(void **state)
{
    static const char *const docs[] = {
        "{\"auths\":{\"r.example\":{\"auth\":\"c2VjcmV0\",\"password\":\"s3cret\"}}}",
        "[[[[1,\"a\"]],{\"b\":[{},[]]}],null,true]",
        "\"just a string\"",
        "{}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        cJSON *doc = cJSON_Parse(docs[i]);
        assert_non_null(doc);
        p4_json_discard(doc);
    }
    p4_json_discard(NULL);
    assert_ptr_equal(p4_json_need((cJSON *)&docs), (cJSON *)&docs);
    p4_json_need_ok(1);
}

/* A deep copy is equal and separate; with drop_nulls, null members of objects are left out. */
static void copy_is_deep_and_may_drop_nulls(void **state)
{
    static const char doc[] = "{\"a\":null,\"b\":{\"c\":null,\"d\":[null,{\"e\":null}]},"
                              "\"f\":[1,\"x\",true,false,1.5]}";
    cJSON *src = cJSON_Parse(doc), *copy;
    char *text;

    (void)state;
    assert_non_null(src);
    copy = p4_json_copy(src, false);
    assert_true(cJSON_Compare(src, copy, 1));
    assert_ptr_not_equal(copy->child, src->child);
    cJSON_Delete(copy);
    copy = p4_json_copy(src, true);
    text = p4_json_print(copy);
    assert_string_equal(text, "{\"b\":{\"d\":[null,{\"e\":null}]},\"f\":[1,\"x\",true,false,1.5]}");
    free(text);
    cJSON_Delete(copy);
    copy = p4_json_copy(cJSON_GetObjectItem(src, "a"), true);
    assert_true(cJSON_IsNull(copy));
    cJSON_Delete(copy);
    cJSON_Delete(src);
}

static void find_by_member(void **state)
{
    cJSON *doc = cJSON_Parse("[7,{\"type\":1},{\"type\":\"Ready\",\"n\":1},"
                             "{\"type\":\"Ready\",\"n\":2},{\"type\":\"Stalled\"}]");
    int64_t n = 0;

    (void)state;
    assert_non_null(doc);
    assert_int_equal(p4_json_int64(p4_json_find(doc, "type", "Ready"), "n", &n), 0);
    assert_int_equal(n, 1); /* the first */
    assert_non_null(p4_json_find(doc, "type", "Stalled"));
    assert_null(p4_json_find(doc, "type", "Reconciling"));
    assert_null(p4_json_find(doc, "type", NULL));
    assert_null(p4_json_find(NULL, "type", "Ready"));
    assert_null(p4_json_find(cJSON_GetArrayItem(doc, 1), "type", "Ready")); /* not an array */
    cJSON_Delete(doc);
}

static void type_names(void **state)
{
    cJSON *doc = cJSON_Parse("[{},[],\"s\",1,true,false,null]");
    static const char *const want[] = {"an object", "an array",  "a string", "a number",
                                       "a boolean", "a boolean", "null"};
    size_t i = 0;
    cJSON *v;

    (void)state;
    assert_non_null(doc);
    cJSON_ArrayForEach(v, doc) {
        assert_string_equal(p4_json_type_name(v, false), want[i]);
        i++;
    }
    assert_int_equal(i, 7);
    assert_string_equal(p4_json_type_name(doc, true), "a list");
    assert_string_equal(p4_json_type_name(doc->child, true), "an object");
    assert_string_equal(p4_json_type_name(NULL, false), "null");
    cJSON_Delete(doc);
}

static void count_upto_stops_past_limit(void **state)
{
    cJSON *doc = cJSON_Parse("[1,2,3,4,5]");
    cJSON *empty = cJSON_Parse("[]");
    cJSON *obj = cJSON_Parse("{\"a\":1,\"b\":2}");

    (void)state;
    assert_non_null(doc);
    assert_non_null(empty);
    assert_non_null(obj);
    assert_int_equal(p4_json_count_upto(doc, 10), 5);
    assert_int_equal(p4_json_count_upto(doc, 5), 5);
    /* Past the limit it stops at limit + 1: enough to say "too many". */
    assert_int_equal(p4_json_count_upto(doc, 4), 5);
    assert_int_equal(p4_json_count_upto(doc, 2), 3);
    assert_int_equal(p4_json_count_upto(doc, 0), 1);
    assert_int_equal(p4_json_count_upto(empty, 0), 0);
    assert_int_equal(p4_json_count_upto(obj, 10), 2);
    assert_int_equal(p4_json_count_upto(doc->child, 10), 0); /* a number has no children */
    assert_int_equal(p4_json_count_upto(NULL, 10), 0);
    cJSON_Delete(doc);
    cJSON_Delete(empty);
    cJSON_Delete(obj);
}

static void json_space_is_the_four_bytes(void **state)
{
    (void)state;
    assert_true(p4_json_space(' '));
    assert_true(p4_json_space('\t'));
    assert_true(p4_json_space('\n'));
    assert_true(p4_json_space('\r'));
    assert_false(p4_json_space('\v'));
    assert_false(p4_json_space('\f'));
    assert_false(p4_json_space('\0'));
    assert_false(p4_json_space('x'));
    assert_false(p4_json_space((char)0xa0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(str_present_absent_wrong_type, setup, teardown),
        cmocka_unit_test_setup_teardown(int64_present_zero_absent_wrong_type, setup, teardown),
        cmocka_unit_test_setup_teardown(bool_present_false_absent_wrong_type, setup, teardown),
        cmocka_unit_test_setup_teardown(get_returns_any_type_and_null, setup, teardown),
        cmocka_unit_test_setup_teardown(dotted_keys_by_escape_and_child, setup, teardown),
        cmocka_unit_test(parse_accepts_unterminated_buffers),
        cmocka_unit_test(parse_reports_where_it_failed),
        cmocka_unit_test(parse_rejects_oversized_input_unread),
        cmocka_unit_test(parse_rejects_deep_nesting),
        cmocka_unit_test(print_is_compact_and_freeable),
        cmocka_unit_test(discard_frees_any_tree),
        cmocka_unit_test(copy_is_deep_and_may_drop_nulls),
        cmocka_unit_test(find_by_member),
        cmocka_unit_test(type_names),
        cmocka_unit_test(count_upto_stops_past_limit),
        cmocka_unit_test(json_space_is_the_four_bytes),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
