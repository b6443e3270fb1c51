/*
 * values_test.c: Helm values as the Helm stage composes them: valuesFrom ConfigMaps and
 * Secrets then spec.chart.values, laid over each other as Flux does (nulls kept), merged
 * over chart defaults as Helm does (nulls delete), targetPath values typed as Flux types
 * them, paths with escapes and indexes, missing and optional sources, and hostile input.
 */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/yamljson.h"
#include "stages/helm/values.h"

static cJSON *yaml(const char *text)
{
    struct p4_error err;
    cJSON *tree = p4_yaml_to_json(text, strlen(text), &err);

    if (tree == NULL)
        fail_msg("bad test YAML: %s", err.message);
    return tree;
}

static cJSON *json(const char *text)
{
    cJSON *tree = cJSON_Parse(text);

    if (tree == NULL)
        fail_msg("bad test JSON: %s", text);
    return tree;
}

static void assert_tree(const cJSON *tree, const char *expected)
{
    char *text = cJSON_PrintUnformatted(tree);

    assert_non_null(text);
    assert_string_equal(text, expected);
    free(text);
}

static const char chart_defaults[] = "replicaCount: 1\n"
                                     "image:\n"
                                     "  repository: nginx\n"
                                     "  tag: \"1.25\"\n"
                                     "  pullPolicy: IfNotPresent\n"
                                     "service:\n"
                                     "  type: ClusterIP\n"
                                     "  port: 80\n"
                                     "resources:\n"
                                     "  limits:\n"
                                     "    cpu: 100m\n"
                                     "tolerations:\n"
                                     "  - key: a\n"
                                     "podAnnotations: {}\n"
                                     "ingress:\n"
                                     "  enabled: false\n"
                                     "  hosts: [a.example.com]\n";

static const char user_values[] = "replicaCount: 3\n"
                                  "image: {tag: \"1.26\"}\n"
                                  "service: null          # drop the chart's service\n"
                                  "resources:\n"
                                  "  limits: {cpu: null, memory: 256Mi}\n"
                                  "tolerations: []\n"
                                  "ingress:\n"
                                  "  hosts: [b.example.com, null]\n"
                                  "  tls: {secretName: shop-tls, extra: null}\n"
                                  "fresh: {a: null, b: 1, l: [{c: null}]}\n"
                                  "gone: ~\n";

static void merge_over_chart_defaults(void **state)
{
    cJSON *dst = yaml(chart_defaults), *src = yaml(user_values);

    (void)state;
    assert_int_equal(p4_values_merge(dst, src), 0);
    assert_tree(dst, "{\"replicaCount\":3,"
                     "\"image\":{\"repository\":\"nginx\",\"tag\":\"1.26\","
                     "\"pullPolicy\":\"IfNotPresent\"},"
                     "\"resources\":{\"limits\":{\"memory\":\"256Mi\"}},"
                     "\"tolerations\":[],\"podAnnotations\":{},"
                     "\"ingress\":{\"enabled\":false,\"hosts\":[\"b.example.com\",null],"
                     "\"tls\":{\"secretName\":\"shop-tls\"}},"
                     "\"fresh\":{\"b\":1,\"l\":[{\"c\":null}]}}");
    /* src is borrowed: untouched. */
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(src, "service")));
    cJSON_Delete(dst);
    cJSON_Delete(src);
}

static void overlay_keeps_nulls(void **state)
{
    cJSON *dst = yaml(chart_defaults), *src = yaml(user_values);

    (void)state;
    assert_int_equal(p4_values_overlay(dst, src), 0);
    assert_tree(dst, "{\"replicaCount\":3,"
                     "\"image\":{\"repository\":\"nginx\",\"tag\":\"1.26\","
                     "\"pullPolicy\":\"IfNotPresent\"},"
                     "\"service\":null,"
                     "\"resources\":{\"limits\":{\"cpu\":null,\"memory\":\"256Mi\"}},"
                     "\"tolerations\":[],\"podAnnotations\":{},"
                     "\"ingress\":{\"enabled\":false,\"hosts\":[\"b.example.com\",null],"
                     "\"tls\":{\"secretName\":\"shop-tls\",\"extra\":null}},"
                     "\"fresh\":{\"a\":null,\"b\":1,\"l\":[{\"c\":null}]},\"gone\":null}");
    cJSON_Delete(dst);
    cJSON_Delete(src);
}

static void merge_replaces_across_types(void **state)
{
    cJSON *dst = json("{\"a\":{\"x\":1},\"b\":\"s\",\"c\":[1,2],\"d\":{\"y\":2},\"e\":1}");
    cJSON *src = json("{\"a\":\"flat\",\"b\":{\"z\":3},\"c\":{\"k\":1},\"d\":[3],\"e\":{}}");

    (void)state;
    assert_int_equal(p4_values_merge(dst, src), 0);
    assert_tree(dst, "{\"a\":\"flat\",\"b\":{\"z\":3},\"c\":{\"k\":1},\"d\":[3],\"e\":{}}");
    /* A key repeated in src (cJSON keeps both): the last one counts. */
    cJSON_Delete(src);
    src = json("{\"a\":1,\"a\":2,\"n\":{\"p\":1},\"n\":{\"q\":2}}");
    assert_int_equal(p4_values_merge(dst, src), 0);
    assert_tree(dst, "{\"a\":2,\"b\":{\"z\":3},\"c\":{\"k\":1},\"d\":[3],\"e\":{},"
                     "\"n\":{\"q\":2}}");
    /* Merging a tree with itself changes nothing but its nulls. */
    assert_int_equal(p4_values_merge(dst, dst), 0);
    assert_tree(dst, "{\"a\":2,\"b\":{\"z\":3},\"c\":{\"k\":1},\"d\":[3],\"e\":{},"
                     "\"n\":{\"q\":2}}");
    assert_int_equal(p4_values_merge(dst, cJSON_GetObjectItem(dst, "d")), P4_ERR_INVAL);
    assert_int_equal(p4_values_merge(NULL, src), P4_ERR_INVAL);
    assert_int_equal(p4_values_merge(dst, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_values_overlay(cJSON_GetObjectItem(dst, "a"), src), P4_ERR_INVAL);
    cJSON_Delete(dst);
    cJSON_Delete(src);
}

static void compose_in_flux_order(void **state)
{
    /* valuesFrom 1: a ConfigMap's values.yaml; 2: a Secret's; 3: one value at a path. */
    static const char cm[] = "# team defaults\n"
                             "replicaCount: 2\n"
                             "image: {tag: \"1.26\"}\n"
                             "env: &env {LOG: info, MODE: prod}\n"
                             "extraEnv: *env\n"
                             "service: {port: 8080}\n";
    static const char secret[] = "database:\n"
                                 "  password: hunter2\n"
                                 "  host: db.internal\n"
                                 "replicaCount: 4\n";
    static const char port[] = "9090";
    struct p4_values_source sources[] = {
        {.kind = "ConfigMap", .name = "shop/values", .text = cm, .len = sizeof(cm) - 1},
        {.kind = "Secret",
         .name = "shop/db",
         .key = "values.yaml",
         .text = secret,
         .len = sizeof(secret) - 1},
        {.kind = "ConfigMap",
         .name = "shop/ports",
         .key = "port",
         .target_path = "service.port",
         .text = port,
         .len = 4},
        {.kind = "Secret", .name = "shop/optional", .optional = true},
    };
    cJSON *inline_values = json("{\"replicaCount\":5,\"service\":null,"
                                "\"database\":{\"host\":\"db.prod\"},\"env\":{\"MODE\":null}}");
    struct p4_error err;
    cJSON *composed, *final;

    (void)state;
    p4_error_clear(&err);
    composed = p4_values_compose(sources, 4, inline_values, &err);
    assert_non_null(composed);
    assert_tree(composed, "{\"replicaCount\":5,\"image\":{\"tag\":\"1.26\"},"
                          "\"env\":{\"LOG\":\"info\",\"MODE\":null},"
                          "\"extraEnv\":{\"LOG\":\"info\",\"MODE\":\"prod\"},"
                          "\"service\":null,"
                          "\"database\":{\"password\":\"hunter2\",\"host\":\"db.prod\"}}");
    /* Then over the chart's defaults, where the nulls delete. */
    final = yaml(chart_defaults);
    assert_int_equal(p4_values_merge(final, composed), 0);
    assert_tree(final, "{\"replicaCount\":5,"
                       "\"image\":{\"repository\":\"nginx\",\"tag\":\"1.26\","
                       "\"pullPolicy\":\"IfNotPresent\"},"
                       "\"resources\":{\"limits\":{\"cpu\":\"100m\"}},"
                       "\"tolerations\":[{\"key\":\"a\"}],\"podAnnotations\":{},"
                       "\"ingress\":{\"enabled\":false,\"hosts\":[\"a.example.com\"]},"
                       "\"env\":{\"LOG\":\"info\"},"
                       "\"extraEnv\":{\"LOG\":\"info\",\"MODE\":\"prod\"},"
                       "\"database\":{\"password\":\"hunter2\",\"host\":\"db.prod\"}}");
    cJSON_Delete(final);
    cJSON_Delete(composed);

    /* Without inline values, the targetPath value set by source 3 survives. */
    composed = p4_values_compose(sources, 4, NULL, &err);
    assert_non_null(composed);
    assert_tree(composed, "{\"replicaCount\":4,\"image\":{\"tag\":\"1.26\"},"
                          "\"env\":{\"LOG\":\"info\",\"MODE\":\"prod\"},"
                          "\"extraEnv\":{\"LOG\":\"info\",\"MODE\":\"prod\"},"
                          "\"service\":{\"port\":9090},"
                          "\"database\":{\"password\":\"hunter2\",\"host\":\"db.internal\"}}");
    cJSON_Delete(composed);
    composed = p4_values_compose(NULL, 0, NULL, &err);
    assert_tree(composed, "{}");
    cJSON_Delete(composed);
    cJSON_Delete(inline_values);
}

static void set_path_creates_and_replaces(void **state)
{
    cJSON *root = json("{\"n\":null,\"keep\":{\"x\":1}}");
    struct p4_error err;

    (void)state;
    assert_int_equal(p4_values_set_path(root, "a.b.c", cJSON_CreateNumber(1), &err), 0);
    assert_int_equal(p4_values_set_path(root, "a.b.d", cJSON_CreateNumber(2), &err), 0);
    assert_int_equal(p4_values_set_path(root, "dotted\\.key\\.name", cJSON_CreateTrue(), &err), 0);
    assert_int_equal(p4_values_set_path(root, "list[0]", cJSON_CreateString("x"), &err), 0);
    assert_int_equal(p4_values_set_path(root, "list[2].name", cJSON_CreateString("y"), &err), 0);
    assert_int_equal(p4_values_set_path(root, "m[1][0]", cJSON_CreateFalse(), &err), 0);
    assert_int_equal(p4_values_set_path(root, "n.x", cJSON_CreateNumber(3), &err), 0);
    assert_int_equal(p4_values_set_path(root, "k=v,w", cJSON_CreateNumber(4), &err), 0);
    assert_int_equal(p4_values_set_path(root, "e\\[0]", cJSON_CreateNumber(5), &err), 0);
    assert_int_equal(p4_values_set_path(root, "t\\", cJSON_CreateNumber(6), &err), 0);
    assert_int_equal(p4_values_set_path(root, "keep.x", cJSON_CreateString("z"), &err), 0);
    assert_tree(root, "{\"n\":{\"x\":3},\"keep\":{\"x\":\"z\"},\"a\":{\"b\":{\"c\":1,\"d\":2}},"
                      "\"dotted.key.name\":true,\"list\":[\"x\",null,{\"name\":\"y\"}],"
                      "\"m\":[null,[false]],\"k=v,w\":4,\"e[0]\":5,\"t\\\\\":6}");
    /* The value at the end is replaced whole, even an object. */
    assert_int_equal(p4_values_set_path(root, "a.b", cJSON_CreateString("flat"), &err), 0);
    assert_int_equal(p4_values_set_path(root, "list[1]", cJSON_CreateNumber(7), &err), 0);
    assert_int_equal(p4_values_set_path(root, "list[-0]", cJSON_CreateNumber(8), &err), 0);
    assert_tree(cJSON_GetObjectItem(root, "a"), "{\"b\":\"flat\"}");
    assert_tree(cJSON_GetObjectItem(root, "list"), "[8,7,{\"name\":\"y\"}]");
    /* The highest index Helm allows. */
    assert_int_equal(p4_values_set_path(root, "big[65536]", cJSON_CreateNumber(9), &err), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "big")), 65537);
    cJSON_Delete(root);
}

static void set_path_errors_leave_root_unchanged(void **state)
{
    static const struct {
        const char *path;
        const char *message;
    } cases[] = {
        {"", "the target path is empty."},
        {"a..b", "target path \"a..b\" has an empty key at byte 3."},
        {".a", "target path \".a\" has an empty key at byte 1."},
        {"a.", "target path \"a.\" has an empty key at byte 3."},
        {"[0]", "target path \"[0]\" has an empty key at byte 1."},
        {"a[", "target path \"a[\" has an invalid list index at byte 3."},
        {"a[x]", "target path \"a[x]\" has an invalid list index at byte 3."},
        {"a[]", "target path \"a[]\" has an invalid list index at byte 3."},
        {"a[1", "target path \"a[1\" has an invalid list index at byte 3."},
        {"a[-1]", "target path \"a[-1]\" has a negative list index at byte 3."},
        {"a[65537]", "target path \"a[65537]\" has a list index above 65536 at byte 3."},
        {"a[99999999999999999999]",
         "target path \"a[99999999999999999999]\" has a list index above 65536 at byte 3."},
        {"a[0]b", "target path \"a[0]b\" has unexpected text after a list index at byte 5."},
        {"s.x", "cannot set target path \"s.x\": s is a string, not an object."},
        {"s[0]", "cannot set target path \"s[0]\": s is a string, not a list."},
        {"l.x", "cannot set target path \"l.x\": l is a list, not an object."},
        {"l[0].x", "cannot set target path \"l[0].x\": l[0] is a number, not an object."},
        {"o[0]", "cannot set target path \"o[0]\": o is an object, not a list."},
        {"o.p.q.r", "cannot set target path \"o.p.q.r\": o.p is a boolean, not an object."},
    };
    cJSON *root = json("{\"s\":\"str\",\"l\":[1],\"o\":{\"p\":true}}");
    char before[128], deep[400];
    struct p4_error err;
    char *text;
    size_t n = 0;

    (void)state;
    text = cJSON_PrintUnformatted(root);
    (void)snprintf(before, sizeof(before), "%s", text);
    free(text);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        p4_error_clear(&err);
        assert_int_equal(p4_values_set_path(root, cases[i].path, cJSON_CreateString("v"), &err),
                         P4_ERR_INVAL);
        assert_int_equal(err.code, P4_ERR_INVAL);
        assert_string_equal(err.message, cases[i].message);
        assert_tree(root, before);
    }
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%sk", i ? "." : "");
    assert_int_equal(p4_values_set_path(root, deep, cJSON_CreateNull(), &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "has more than 64 segments."));
    assert_int_equal(p4_values_set_path(root, "x", NULL, &err), P4_ERR_INVAL);
    assert_int_equal(p4_values_set_path(NULL, "x", cJSON_CreateNull(), &err), P4_ERR_INVAL);
    assert_int_equal(p4_values_set_path(root, NULL, cJSON_CreateNull(), &err), P4_ERR_INVAL);
    assert_tree(root, before);
    cJSON_Delete(root);
}

static void target_path_values_typed_as_flux(void **state)
{
    static const struct {
        const char *text;
        size_t len;
        const char *json;
    } cases[] = {
        {"'quoted'", 8, "\"quoted\""},
        {"\"true\"", 6, "\"true\""},
        {"\"'both'\"", 8, "\"both\""},
        {"'", 1, "\"\""},
        {"'mixed\"", 7, "\"'mixed\\\"\""},
        {"true", 4, "true"},
        {"TRUE", 4, "true"},
        {"False", 5, "false"},
        {"null", 4, "null"},
        {"NuLL", 4, "null"},
        {"0", 1, "0"},
        {"0123", 4, "\"0123\""},
        {"123", 3, "123"},
        {"-5", 2, "-5"},
        {"+5", 2, "5"},
        {"-0", 2, "0"},
        {"1.5", 3, "\"1.5\""},
        {"9007199254740993", 16, "\"9007199254740993\""},
        {"99999999999999999999", 20, "\"99999999999999999999\""},
        {"yes", 3, "\"yes\""},
        {"a,b", 3, "\"a,b\""},
        {"{a,b}", 5, "\"{a,b}\""},
        {"x\\,y", 4, "\"x\\\\,y\""},
        {"8080\n", 5, "\"8080\\n\""},
        {"", 0, "\"\""},
        {"p\xc3\xa4ss", 5, "\"p\xc3\xa4ss\""},
    };
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *root = cJSON_CreateObject();
        char *text;

        assert_int_equal(p4_values_apply_source(root, "Secret shop/s key k", cases[i].text,
                                                cases[i].len, "v", &err),
                         0);
        text = cJSON_PrintUnformatted(cJSON_GetObjectItem(root, "v"));
        assert_string_equal(text, cases[i].json);
        free(text);
        cJSON_Delete(root);
    }
}

static void target_path_refusals_never_echo(void **state)
{
    cJSON *root = json("{\"s\":\"str\"}");
    struct p4_error err;

    (void)state;
    assert_int_equal(
        p4_values_apply_source(root, "Secret shop/db key pw", "s3cr\xff", 5, "pw", &err),
        P4_ERR_INVALID);
    assert_string_equal(err.message, "Secret shop/db key pw: the value is not UTF-8 text, which "
                                     "cannot be set at a target path.");
    assert_int_equal(p4_values_apply_source(root, "Secret shop/db key pw", "s3\0cr", 5, "pw", &err),
                     P4_ERR_INVALID);
    assert_string_equal(err.message, "Secret shop/db key pw: the value holds a NUL byte, which "
                                     "cannot be set at a target path.");
    assert_int_equal(
        p4_values_apply_source(root, "Secret shop/db key pw", "hunter2", 7, "s.pw", &err),
        P4_ERR_INVAL);
    assert_string_equal(err.message, "Secret shop/db key pw: cannot set target path \"s.pw\": s "
                                     "is a string, not an object.");
    assert_null(strstr(err.message, "hunter2"));
    assert_tree(root, "{\"s\":\"str\"}");
    cJSON_Delete(root);
}

static void yaml_sources_must_be_mappings(void **state)
{
    cJSON *root = cJSON_CreateObject();
    struct p4_error err;
    static const char bad[] = "database:\n  password: hunter2\n  host: [db\n";

    (void)state;
    assert_int_equal(p4_values_apply_source(root, "Secret shop/db key values.yaml", bad,
                                            sizeof(bad) - 1, NULL, &err),
                     P4_ERR_PARSE);
    assert_string_equal(err.message,
                        "Secret shop/db key values.yaml: invalid YAML at line 4, column 1: did "
                        "not find expected ',' or ']' (while parsing a flow sequence started at "
                        "line 3, column 9).");
    assert_null(strstr(err.message, "hunter2"));
    assert_int_equal(
        p4_values_apply_source(root, "ConfigMap shop/v key values.yaml", "- a\n- b\n", 8, "", &err),
        P4_ERR_INVALID);
    assert_string_equal(err.message,
                        "ConfigMap shop/v key values.yaml holds a list, not a mapping of values.");
    assert_int_equal(p4_values_apply_source(root, "ConfigMap shop/v key values.yaml", "just text",
                                            9, NULL, &err),
                     P4_ERR_INVALID);
    assert_string_equal(
        err.message, "ConfigMap shop/v key values.yaml holds a string, not a mapping of values.");
    assert_int_equal(
        p4_values_apply_source(root, "ConfigMap shop/v key values.yaml", "a: .inf", 7, NULL, &err),
        P4_ERR_INVALID);
    /* Empty documents and comments add nothing. */
    assert_int_equal(p4_values_apply_source(root, "ConfigMap shop/v key v", "", 0, NULL, &err), 0);
    assert_int_equal(
        p4_values_apply_source(root, "ConfigMap shop/v key v", "# nothing\n", 10, NULL, &err), 0);
    assert_int_equal(p4_values_apply_source(root, "ConfigMap shop/v key v", NULL, 0, NULL, &err),
                     0);
    assert_tree(root, "{}");
    assert_int_equal(p4_values_apply_source(NULL, "ConfigMap shop/v key v", "a: 1", 4, NULL, &err),
                     P4_ERR_INVAL);
    cJSON_Delete(root);
}

static void missing_and_optional_sources(void **state)
{
    struct p4_values_source missing[] = {
        {.kind = "ConfigMap", .name = "shop/present", .text = "a: 1", .len = 4},
        {.kind = "Secret", .name = "shop/creds"},
    };
    struct p4_values_source optional[] = {
        {.kind = "ConfigMap", .name = "shop/present", .text = "a: 1", .len = 4},
        {.kind = "Secret", .name = "shop/creds", .key = "extra.yaml", .optional = true},
    };
    struct p4_values_source bad_kind[] = {
        {.kind = "Deployment", .name = "x", .text = "", .len = 0}};
    struct p4_values_source no_name[] = {{.kind = "Secret", .name = "", .text = "", .len = 0}};
    cJSON *inline_list = json("[1]"), *inline_null = cJSON_CreateNull();
    struct p4_error err;
    cJSON *out;

    (void)state;
    assert_null(p4_values_compose(missing, 2, NULL, &err));
    assert_int_equal(err.code, P4_ERR_NOTFOUND);
    assert_string_equal(err.reason, "NotFound");
    assert_string_equal(err.message, "Secret shop/creds key values.yaml was not found: create it, "
                                     "or mark the valuesFrom entry optional.");
    out = p4_values_compose(optional, 2, inline_null, &err);
    assert_non_null(out);
    assert_tree(out, "{\"a\":1}");
    cJSON_Delete(out);
    assert_null(p4_values_compose(bad_kind, 1, NULL, &err));
    assert_int_equal(err.code, P4_ERR_INVAL);
    assert_string_equal(err.message,
                        "valuesFrom[0] has kind \"Deployment\"; use ConfigMap or Secret.");
    assert_null(p4_values_compose(no_name, 1, NULL, &err));
    assert_string_equal(err.message, "valuesFrom[0] (Secret) has no name.");
    assert_null(p4_values_compose(optional, 2, inline_list, &err));
    assert_string_equal(err.message, "spec.chart.values is a list, not an object.");
    assert_null(p4_values_compose(NULL, 1, NULL, &err));
    assert_int_equal(err.code, P4_ERR_INVAL);
    cJSON_Delete(inline_list);
    cJSON_Delete(inline_null);
}

static void hostile_sources(void **state)
{
    static const char lol[] = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                              "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                              "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                              "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                              "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    struct p4_values_source bomb[] = {
        {.kind = "ConfigMap", .name = "shop/lol", .text = lol, .len = sizeof(lol) - 1},
    };
    struct p4_values_source huge[] = {
        {.kind = "Secret",
         .name = "shop/huge",
         .target_path = "x",
         .text = "a",
         .len = P4_YAML_MAX_INPUT + 1},
    };
    struct p4_error err;

    (void)state;
    assert_null(p4_values_compose(bomb, 1, NULL, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_string_equal(err.message, "ConfigMap shop/lol key values.yaml: YAML line 6, column 36: "
                                     "the document expands to more than 1000000 nodes.");
    /* The length alone is refused, in either mode; the buffer is not read. */
    assert_null(p4_values_compose(huge, 1, NULL, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_string_equal(err.message,
                        "Secret shop/huge key values.yaml holds 16777217 bytes, more than the "
                        "16777216-byte limit.");
}

/* Deep trees merge without deep recursion in our code. */
static void deep_trees_merge_iteratively(void **state)
{
    cJSON *dst = cJSON_CreateObject(), *src = cJSON_CreateObject(), *d = dst, *s = src;

    (void)state;
    for (int i = 0; i < 5000; i++) {
        cJSON *dn = cJSON_AddObjectToObject(d, "n"), *sn = cJSON_AddObjectToObject(s, "n");

        cJSON_AddNumberToObject(d, "d", i);
        cJSON_AddNumberToObject(s, "s", i);
        d = dn;
        s = sn;
    }
    cJSON_AddStringToObject(s, "leaf", "x");
    assert_int_equal(p4_values_merge(dst, src), 0);
    for (d = dst; cJSON_GetObjectItem(d, "n") != NULL; d = cJSON_GetObjectItem(d, "n"))
        assert_non_null(cJSON_GetObjectItem(d, "s"));
    assert_string_equal(cJSON_GetObjectItem(d, "leaf")->valuestring, "x");
    cJSON_Delete(dst);
    cJSON_Delete(src);
}

/* A chain of depth objects under root ({"a":{"a":...}}). */
static cJSON *chain(size_t depth, const char *key)
{
    cJSON *root = cJSON_CreateObject(), *at = root;

    for (size_t i = 0; i < depth; i++)
        at = cJSON_AddObjectToObject(at, key);
    return root;
}

static void values_deeper_than_the_bound_are_refused(void **state)
{
    struct p4_error err;
    cJSON *ok = chain(P4_VALUES_DEPTH_MAX, "a"), *deep = chain(100, "a"), *out, *at, *list;
    cJSON *long_keys = chain(70, "abcdefghij");
    char yaml_text[16384], want[512];
    size_t n = 0;
    struct p4_values_source src = {.kind = "ConfigMap", .name = "shop/deep", .text = yaml_text};

    (void)state;
    /* 64 levels: the deepest accepted. */
    out = p4_values_compose(NULL, 0, ok, &err);
    assert_non_null(out);
    cJSON_Delete(out);
    /* 100 levels: refused, saying where (the first level too deep). */
    assert_null(p4_values_compose(NULL, 0, deep, &err));
    assert_int_equal(err.code, P4_ERR_INVALID);
    n = (size_t)snprintf(want, sizeof(want), "spec.chart.values nest deeper than 64 levels, at ");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(want + n, sizeof(want) - n, ".a");
    (void)snprintf(want + n, sizeof(want) - n, ": flatten them (no chart reads values that deep).");
    assert_string_equal(err.message, want);
    n = 0;
    /* A long path is cut. */
    assert_null(p4_values_compose(NULL, 0, long_keys, &err));
    assert_non_null(strstr(err.message, "at .abcdefghij.abcdefghij"));
    assert_non_null(strstr(err.message, "...: flatten them"));
    cJSON_Delete(long_keys);
    /* A list on the way is named by its index. */
    for (at = ok; cJSON_GetObjectItem(at, "a") != NULL; at = cJSON_GetObjectItem(at, "a"))
        ;
    list = cJSON_AddArrayToObject(cJSON_AddObjectToObject(cJSON_GetObjectItem(ok, "a"), "b"), "l");
    cJSON_AddItemToArray(list, cJSON_CreateNumber(1));
    cJSON_AddItemToArray(list, cJSON_CreateObject());
    out = p4_values_compose(NULL, 0, ok, &err);
    assert_non_null(out); /* .a.b.l[1] is level 4 */
    cJSON_Delete(out);
    cJSON_AddItemToObject(at, "x", cJSON_CreateNumber(1)); /* level 65 */
    assert_null(p4_values_compose(NULL, 0, ok, &err));
    assert_non_null(strstr(err.message, "at .a.a.a"));
    assert_non_null(strstr(err.message, ".a.x: flatten"));

    /* From a ConfigMap: refused too, without its keys. */
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(yaml_text + n, sizeof(yaml_text) - n, "%*ssecretkey%d:\n", i * 2, "",
                              i);
    n += (size_t)snprintf(yaml_text + n, sizeof(yaml_text) - n, "%*sv: 1\n", 140, "");
    src.len = n;
    assert_null(p4_values_compose(&src, 1, NULL, &err));
    assert_int_equal(err.code, P4_ERR_INVALID);
    assert_string_equal(err.message, "ConfigMap shop/deep key values.yaml nests deeper than 64 "
                                     "levels: flatten it (no chart reads values that deep).");
    assert_null(strstr(err.message, "secretkey"));
    cJSON_Delete(ok);
    cJSON_Delete(deep);
}

static void many_keys_merge_fast(void **state)
{
    cJSON *dst = cJSON_CreateObject(), *src = cJSON_CreateObject();
    char key[32];

    (void)state;
    for (int i = 0; i < 200000; i++) {
        (void)snprintf(key, sizeof(key), "k%d", i);
        cJSON_AddNumberToObject(dst, key, i);
        (void)snprintf(key, sizeof(key), "k%d", 2 * i);
        cJSON_AddNumberToObject(src, key, -i);
    }
    assert_int_equal(p4_values_merge(dst, src), 0);
    assert_int_equal(cJSON_GetArraySize(dst), 300000);
    assert_int_equal(cJSON_GetObjectItem(dst, "k1")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(dst, "k10")->valueint, -5);
    assert_int_equal(cJSON_GetObjectItem(dst, "k399998")->valueint, -199999);
    cJSON_Delete(dst);
    cJSON_Delete(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merge_over_chart_defaults),
        cmocka_unit_test(overlay_keeps_nulls),
        cmocka_unit_test(merge_replaces_across_types),
        cmocka_unit_test(compose_in_flux_order),
        cmocka_unit_test(set_path_creates_and_replaces),
        cmocka_unit_test(set_path_errors_leave_root_unchanged),
        cmocka_unit_test(target_path_values_typed_as_flux),
        cmocka_unit_test(target_path_refusals_never_echo),
        cmocka_unit_test(yaml_sources_must_be_mappings),
        cmocka_unit_test(missing_and_optional_sources),
        cmocka_unit_test(hostile_sources),
        cmocka_unit_test(deep_trees_merge_iteratively),
        cmocka_unit_test(many_keys_merge_fast),
        cmocka_unit_test(values_deeper_than_the_bound_are_refused),
    };
    return cmocka_run_group_tests_name("values", tests, NULL, NULL);
}
