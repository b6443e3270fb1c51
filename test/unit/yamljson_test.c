/*
 * yamljson_test.c: YAML read as Helm reads it: values files with comments, anchors, merge
 * keys and block scalars, YAML 1.1 scalars as go-yaml v2 resolves them, keys, tags, documents,
 * errors with line and column (never quoting the input) and the limits.
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

/* The compact JSON of the first document of yaml; caller frees. Fails the test on error. */
static char *to_json(const char *yaml)
{
    struct p4_error err;
    cJSON *tree;
    char *text;

    p4_error_clear(&err);
    tree = p4_yaml_to_json(yaml, strlen(yaml), &err);
    if (tree == NULL)
        fail_msg("unexpected error %d: %s", err.code, err.message);
    text = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    return text;
}

static void assert_json(const char *yaml, const char *json)
{
    char *text = to_json(yaml);

    assert_string_equal(text, json);
    free(text);
}

static void assert_error(const char *yaml, int code, const char *message)
{
    struct p4_error err;

    p4_error_clear(&err);
    assert_null(p4_yaml_to_json(yaml, strlen(yaml), &err));
    assert_int_equal(err.code, code);
    assert_string_equal(err.message, message);
}

static const char values_yaml[] = "# Default values for shop.\n"
                                  "# This is a YAML-formatted file.\n"
                                  "replicaCount: 2   # a trailing comment\n"
                                  "image:\n"
                                  "  repository: registry.example.com/shop\n"
                                  "  tag: \"1.0\"      # quoted: stays a string\n"
                                  "  pullPolicy: IfNotPresent\n"
                                  "defaults: &resources\n"
                                  "  limits:\n"
                                  "    cpu: 500m\n"
                                  "    memory: 128Mi\n"
                                  "resources: *resources\n"
                                  "sidecar:\n"
                                  "  resources:\n"
                                  "    <<: *resources\n"
                                  "    requests: {cpu: 100m}\n"
                                  "config: |\n"
                                  "  server.port=8080\n"
                                  "  feature.x=true\n"
                                  "motd: >\n"
                                  "  Welcome to\n"
                                  "  the shop.\n"
                                  "\n"
                                  "  Enjoy.\n"
                                  "script: |-\n"
                                  "  #!/bin/sh\n"
                                  "  exec shop\n"
                                  "podAnnotations: {}\n"
                                  "tolerations: []\n"
                                  "nodeSelector:\n"
                                  "ingress:\n"
                                  "  enabled: no\n"
                                  "  className: ~\n"
                                  "  hosts:\n"
                                  "    - host: shop.example.com\n"
                                  "      paths: [\"/\", '/api']\n"
                                  "version: 1.10\n"
                                  "appVersion: '1.10'\n";

static void helm_values_file(void **state)
{
    (void)state;
    assert_json(values_yaml,
                "{\"replicaCount\":2,"
                "\"image\":{\"repository\":\"registry.example.com/shop\",\"tag\":\"1.0\","
                "\"pullPolicy\":\"IfNotPresent\"},"
                "\"defaults\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"128Mi\"}},"
                "\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"128Mi\"}},"
                "\"sidecar\":{\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"128Mi\"},"
                "\"requests\":{\"cpu\":\"100m\"}}},"
                "\"config\":\"server.port=8080\\nfeature.x=true\\n\","
                "\"motd\":\"Welcome to the shop.\\nEnjoy.\\n\","
                "\"script\":\"#!/bin/sh\\nexec shop\","
                "\"podAnnotations\":{},\"tolerations\":[],\"nodeSelector\":null,"
                "\"ingress\":{\"enabled\":false,\"className\":null,"
                "\"hosts\":[{\"host\":\"shop.example.com\",\"paths\":[\"/\",\"/api\"]}]},"
                "\"version\":1.1,\"appVersion\":\"1.10\"}");
}

static void yaml11_booleans_and_nulls(void **state)
{
    (void)state;
    assert_json("[y, Y, yes, Yes, YES, true, True, TRUE, on, On, ON]",
                "[true,true,true,true,true,true,true,true,true,true,true]");
    assert_json("[n, N, no, No, NO, false, False, FALSE, off, Off, OFF]",
                "[false,false,false,false,false,false,false,false,false,false,false]");
    /* Only those spellings: mixed case and quoted forms are strings. */
    assert_json("[tRue, yES, oN, nO, \"yes\", 'true', !!str on, yes please, ~x]",
                "[\"tRue\",\"yES\",\"oN\",\"nO\",\"yes\",\"true\",\"on\",\"yes please\",\"~x\"]");
    assert_json("{a: ~, b: null, c: Null, d: NULL, e: , f: nULL, g: \"null\", h: !!null ''}",
                "{\"a\":null,\"b\":null,\"c\":null,\"d\":null,\"e\":null,\"f\":\"nULL\","
                "\"g\":\"null\",\"h\":null}");
}

static void integers_floats_and_strings(void **state)
{
    (void)state;
    /* Integers: decimal, signs, 0x, 0o, leading-0 octal, 0b, '_' anywhere. */
    assert_json("[0, 7, -7, +7, 0x1F, 0X1f, -0x10, 0o17, 0O17, 017, -017, 0b101, -0b101, 1_000, "
                "1__0_, 00]",
                "[0,7,-7,7,31,31,-16,15,15,15,-15,5,-5,1000,10,0]");
    /* Floats: 08 is not octal, so it is a float (8); 1.0 is a float; exponents. */
    assert_json("[08, 1.0, 1., .5, -.5, +.5, 1e3, 1E3, 1e+3, 2.5e-3, 6.02e23, 1_0.5, .5_0]",
                "[8,1,1,0.5,-0.5,0.5,1000,1000,1000,0.0025,6.02e+23,10.5,0.5]");
    /* Strings: versions, dates, hex without digits, out of range, leading underscore. */
    assert_json("[1.2.3, v1.2, 2024-01-31, 0x, 0b2, 1e400, _1, ._5, 1e, 12:30, 0.1.0-rc1, "
                "'2', \"3.0\", 1 2]",
                "[\"1.2.3\",\"v1.2\",\"2024-01-31\",\"0x\",\"0b2\",\"1e400\",\"_1\",\"._5\","
                "\"1e\",\"12:30\",\"0.1.0-rc1\",\"2\",\"3.0\",\"1 2\"]");
}

/* Every number is a double, as in Helm: integers beyond 2^53 are rounded. */
static void numbers_are_doubles(void **state)
{
    struct p4_error err;
    static const char yaml[] = "[9007199254740993, 18446744073709551615, -9223372036854775808, "
                               "0x7fffffffffffffff, 1_000_000_000_000]";
    cJSON *tree = p4_yaml_to_json(yaml, strlen(yaml), &err);

    (void)state;
    assert_non_null(tree);
    assert_true(cJSON_GetArrayItem(tree, 0)->valuedouble == 9007199254740992.0);
    assert_true(cJSON_GetArrayItem(tree, 1)->valuedouble == 18446744073709551616.0);
    assert_true(cJSON_GetArrayItem(tree, 2)->valuedouble == -9223372036854775808.0);
    assert_true(cJSON_GetArrayItem(tree, 3)->valuedouble == 9223372036854775808.0);
    assert_true(cJSON_GetArrayItem(tree, 4)->valuedouble == 1e12);
    cJSON_Delete(tree);
}

static void keys_become_helms_text(void **state)
{
    (void)state;
    assert_json("{1: a, 0x10: b, 010: c, 1.50: d, 1e7: e, 3.14159265358979: f, 100000.0: g, "
                "0.0001: h, 1e-5: i, .inf: j, -.inf: k, .NaN: l, -0.0: m, 1e300: o, true: p, "
                "off: q, \"1\": r, 'yes': s}",
                "{\"16\":\"b\",\"8\":\"c\",\"1.5\":\"d\",\"1e+07\":\"e\",\"3.1415927\":\"f\","
                "\"100000\":\"g\",\"0.0001\":\"h\",\"1e-05\":\"i\",\"-.inf\":\"k\",\".nan\":\"l\","
                "\"-0\":\"m\",\".inf\":\"o\",\"true\":\"p\",\"false\":\"q\",\"1\":\"r\","
                "\"yes\":\"s\"}");
    /* y and n are booleans to go-yaml v2, keys included (a classic Helm surprise). */
    assert_json("{x: 1, y: 2, n: 3}", "{\"x\":1,\"true\":2,\"false\":3}");
}

static void duplicate_keys_last_wins(void **state)
{
    (void)state;
    assert_json("a: 1\nb: 2\na: 3\n", "{\"b\":2,\"a\":3}");
    assert_json("a: {p: 1}\na: {q: 2}\n", "{\"a\":{\"q\":2}}"); /* replaced, not merged */
    assert_json("1: one\n0x1: hex\n", "{\"1\":\"hex\"}");
}

static void tags_are_honoured(void **state)
{
    (void)state;
    assert_json("[!!str 12, !!str yes, !!int \"12\", !!int 0x10, !!float 3, !!float \"1.5\", "
                "!!bool \"on\", !!null \"\", !!timestamp 2001-12-14, !custom 5, ! 7, "
                "!<tag:yaml.org,2002:int> '9']",
                "[\"12\",\"yes\",12,16,3,1.5,true,null,\"2001-12-14\",\"5\",\"7\",9]");
    assert_json("!!str {a: 1}", "{\"a\":1}"); /* tags on collections are ignored */
    assert_error("a: !!int abc", P4_ERR_PARSE,
                 "YAML line 1, column 4: the value does not match its tag.");
    assert_error("a: !!int 1.5", P4_ERR_PARSE,
                 "YAML line 1, column 4: the value does not match its tag.");
    assert_error("a: !!bool 1", P4_ERR_PARSE,
                 "YAML line 1, column 4: the value does not match its tag.");
    assert_error("a: !!null x", P4_ERR_PARSE,
                 "YAML line 1, column 4: the value does not match its tag.");
    assert_error("a: !!timestamp soon", P4_ERR_PARSE,
                 "YAML line 1, column 4: the value is not a !!timestamp.");
    assert_error("a: !!binary aGVsbG8=", P4_ERR_INVALID,
                 "YAML line 1, column 4: !!binary values are not supported.");
}

static void merge_keys_as_go_yaml_v2(void **state)
{
    (void)state;
    /* Keys after "<<" override the merged ones; keys before it are overridden (v2). */
    assert_json("base: &b {a: 1, b: 2}\n"
                "after: {<<: *b, b: 3}\n"
                "before: {b: 3, <<: *b}\n"
                "list: {<<: [*b, {a: 10, c: 4}]}\n"
                "inline: {<<: {x: 1}, z: 2}\n"
                "quoted: {\"<<\": 1}\n",
                "{\"base\":{\"a\":1,\"b\":2},\"after\":{\"a\":1,\"b\":3},"
                "\"before\":{\"a\":1,\"b\":2},\"list\":{\"c\":4,\"a\":1,\"b\":2},"
                "\"inline\":{\"x\":1,\"z\":2},\"quoted\":{\"<<\":1}}");
    /* Merging is shallow: a nested mapping is replaced, not merged. */
    assert_json("d: &d {r: {cpu: 1, mem: 2}}\nx: {<<: *d, r: {cpu: 3}}\n",
                "{\"d\":{\"r\":{\"cpu\":1,\"mem\":2}},\"x\":{\"r\":{\"cpu\":3}}}");
    /* An anchored merge value stays whole for later aliases. */
    assert_json("x: {<<: &m {a: 1}}\nw: *m\n", "{\"x\":{\"a\":1},\"w\":{\"a\":1}}");
    assert_error("a: {<<: 5}", P4_ERR_PARSE,
                 "YAML line 1, column 9: a merge key (<<) needs a mapping or a list of mappings "
                 "as its value.");
    assert_error("a: {<<: [{b: 1}, [2]]}", P4_ERR_PARSE,
                 "YAML line 1, column 9: a merge key (<<) needs a mapping or a list of mappings "
                 "as its value.");
    assert_error("s: &s str\na: {<<: *s}", P4_ERR_PARSE,
                 "YAML line 2, column 9: a merge key (<<) needs a mapping or a list of mappings "
                 "as its value.");
}

static void anchors_and_aliases(void **state)
{
    (void)state;
    assert_json("s: &s hello\nt: *s\nh: &h 0x10\nm: *h\n*s : by alias\nl: &l [1, {a: *s}]\n"
                "k: *l\n",
                "{\"s\":\"hello\",\"t\":\"hello\",\"h\":16,\"m\":16,\"hello\":\"by alias\","
                "\"l\":[1,{\"a\":\"hello\"}],\"k\":[1,{\"a\":\"hello\"}]}");
    /* An anchor defined again: aliases after it see the newest. */
    assert_json("a: &x 1\nb: *x\nc: &x 2\nd: *x\n", "{\"a\":1,\"b\":1,\"c\":2,\"d\":2}");
    /* An anchored key is usable as a key and as a value. */
    assert_json("&k key: 1\nv: *k\n", "{\"key\":1,\"v\":\"key\"}");
    /* A value overridden by a duplicate key can still be copied from. */
    assert_json("a: &x [1]\na: 2\nb: *x\n", "{\"a\":2,\"b\":[1]}");
    assert_error("a: *nope", P4_ERR_PARSE,
                 "YAML line 1, column 4: an alias refers to an anchor that is not defined.");
    assert_error("a: &a [1, *a]", P4_ERR_PARSE,
                 "YAML line 1, column 11: an alias refers to a node that contains it.");
    assert_error("a: &m {b: 1}\n*m : x\n", P4_ERR_INVALID,
                 "YAML line 2, column 1: a mapping key is a mapping or a list, which JSON cannot "
                 "hold.");
    assert_error("&i .inf : 1\nb: *i\n", P4_ERR_INVALID,
                 "YAML line 2, column 4: a value is .inf or .nan, which JSON cannot hold.");
}

static void documents(void **state)
{
    struct p4_error err;
    cJSON *all;
    char *text;

    (void)state;
    assert_json("", "null");
    assert_json("# only a comment\n", "null");
    assert_json("---\n", "null");
    assert_json("--- hello\n", "\"hello\"");
    assert_json("a: 1\n---\nb: 2\n", "{\"a\":1}");
    /* As with helm, what follows the first document is not read at all. */
    assert_json("a: 1\n---\nb: [unclosed\n", "{\"a\":1}");
    assert_json("---\n---\nb: 2\n", "null");

    all = p4_yaml_to_json_all("a: 1\n---\n---\n- x\n...\n", 21, &err);
    assert_non_null(all);
    text = cJSON_PrintUnformatted(all);
    assert_string_equal(text, "[{\"a\":1},null,[\"x\"]]");
    free(text);
    cJSON_Delete(all);
    all = p4_yaml_to_json_all("", 0, &err);
    assert_non_null(all);
    assert_int_equal(cJSON_GetArraySize(all), 0);
    cJSON_Delete(all);
    assert_null(p4_yaml_to_json_all("a: 1\n---\nb: [unclosed\n", 22, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_string_equal(err.message, "invalid YAML at line 4, column 1: did not find expected ',' "
                                     "or ']' (while parsing a flow sequence started at line 3, "
                                     "column 4).");
    /* Anchors belong to their document. */
    assert_null(p4_yaml_to_json_all("---\na: &x 1\n---\nb: *x\n", 22, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_string_equal(err.message,
                        "YAML line 4, column 4: an alias refers to an anchor that is not defined.");
    /* A document past the limits fails the whole stream. */
    assert_null(p4_yaml_to_json_all("a: 1\n---\nb: .inf\n", 17, &err));
    assert_int_equal(err.code, P4_ERR_INVALID);
}

/* Where each document begins: its "---", else its first node, comments before it skipped. */
static void document_lines(void **state)
{
    static const char text[] = "# a comment\n"
                               "\n"
                               "a: 1\n"
                               "---\n"
                               "# Source: x\n"
                               "---\n"
                               "b: 2\n"
                               "...\n"
                               "# after\n"
                               "---\n"
                               "c: 3\n"
                               "--- d\n";
    static const size_t want[] = {3, 4, 6, 10, 12};
    struct p4_error err;
    size_t *lines = NULL;
    cJSON *all = p4_yaml_to_json_all_lines(text, sizeof(text) - 1, &lines, &err);
    char *printed;

    (void)state;
    assert_non_null(all);
    assert_non_null(lines);
    printed = cJSON_PrintUnformatted(all);
    assert_string_equal(printed, "[{\"a\":1},null,{\"b\":2},{\"c\":3},\"d\"]");
    free(printed);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(lines[i], want[i]);
    free(lines);
    cJSON_Delete(all);

    /* More documents than the first guess of room. */
    {
        char many[4 * 40 + 1] = "";
        for (size_t i = 0; i < 40; i++)
            memcpy(many + 4 * i, "---\n", 5);
        all = p4_yaml_to_json_all_lines(many, strlen(many), &lines, &err);
        assert_non_null(all);
        assert_int_equal(cJSON_GetArraySize(all), 40);
        assert_int_equal(lines[39], 40);
        free(lines);
        cJSON_Delete(all);
    }
    all = p4_yaml_to_json_all_lines("", 0, &lines, &err);
    assert_non_null(all);
    assert_int_equal(cJSON_GetArraySize(all), 0);
    free(lines);
    cJSON_Delete(all);

    lines = (size_t *)&err; /* set to NULL on error */
    assert_null(p4_yaml_to_json_all_lines("a: 1\n---\nb: [x\n", 15, &lines, &err));
    assert_null(lines);
    assert_int_equal(err.code, P4_ERR_PARSE);
}

static void syntax_errors_say_line_and_column(void **state)
{
    struct p4_error err;
    static const char secret[] = "password: hunter2-s3cret\n  token: [x\n";

    (void)state;
    assert_error("replicaCount: 1\nimage:\n  tag: 1.0\n bad: 2\n", P4_ERR_PARSE,
                 "invalid YAML at line 4, column 2: did not find expected key (while parsing a "
                 "block mapping started at line 1, column 1).");
    assert_error("a: 1\n b: 2\n", P4_ERR_PARSE,
                 "invalid YAML at line 2, column 3: mapping values are not allowed in this "
                 "context.");
    assert_error("a: \"unterminated\n", P4_ERR_PARSE,
                 "invalid YAML at line 2, column 1: found unexpected end of stream (while "
                 "scanning a quoted scalar started at line 1, column 4).");
    assert_error("a:\n\t- 1\n", P4_ERR_PARSE,
                 "invalid YAML at line 2, column 1: found character that cannot start any token "
                 "(while scanning for the next token started at line 2, column 1).");
    assert_error("a: 1\nb: \xff\n", P4_ERR_PARSE,
                 "invalid YAML at line 2, column 4: invalid leading UTF-8 octet.");
    /* Nothing of a Secret's text appears in the message, only where it broke. */
    p4_error_clear(&err);
    assert_null(p4_yaml_to_json(secret, strlen(secret), &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_string_equal(err.reason, "ParseError");
    assert_null(strstr(err.message, "hunter2"));
    assert_null(strstr(err.message, "token"));
    assert_non_null(strstr(err.message, "line 2, column"));
    for (const char *p = err.message; *p != '\0'; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    assert_null(p4_yaml_to_json(NULL, 0, &err));
    assert_int_equal(err.code, P4_ERR_INVAL);
}

static void json_cannot_hold(void **state)
{
    (void)state;
    assert_error("a: .inf", P4_ERR_INVALID,
                 "YAML line 1, column 4: a value is .inf or .nan, which JSON cannot hold.");
    assert_error("a: [-.INF]", P4_ERR_INVALID,
                 "YAML line 1, column 5: a value is .inf or .nan, which JSON cannot hold.");
    assert_error("a: .nan", P4_ERR_INVALID,
                 "YAML line 1, column 4: a value is .inf or .nan, which JSON cannot hold.");
    assert_error("~: 1", P4_ERR_INVALID,
                 "YAML line 1, column 1: a mapping key is null, which JSON cannot hold.");
    assert_error("? [1]\n: 2\n", P4_ERR_INVALID,
                 "YAML line 1, column 3: a mapping key is a mapping or a list, which JSON cannot "
                 "hold.");
    assert_error("a: \"x\\0y\"", P4_ERR_INVALID,
                 "YAML line 1, column 4: a string contains a NUL character.");
    assert_error("\"k\\0\": 1", P4_ERR_INVALID,
                 "YAML line 1, column 1: a mapping key contains a NUL character.");
    assert_error("18446744073709551615: x", P4_ERR_INVALID,
                 "YAML line 1, column 1: a mapping key is an integer above 2^63-1, which Helm "
                 "cannot hold.");
    /* Quoted, they are strings. */
    assert_json("a: \".inf\"", "{\"a\":\".inf\"}");
}

static void unterminated_buffer_is_read_to_len(void **state)
{
    char buf[16];
    struct p4_error err;
    cJSON *tree;

    (void)state;
    memcpy(buf, "a: 12XXXXXXXXXXX", sizeof(buf));
    tree = p4_yaml_to_json(buf, 5, &err);
    assert_non_null(tree);
    assert_int_equal(cJSON_GetObjectItem(tree, "a")->valueint, 12);
    cJSON_Delete(tree);
}

static void billion_laughs_is_refused_quickly(void **state)
{
    static const char lol[] = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                              "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                              "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                              "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                              "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                              "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                              "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    struct p4_error err;

    (void)state;
    assert_null(p4_yaml_to_json(lol, strlen(lol), &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_string_equal(err.reason, "TooLarge");
    assert_string_equal(err.message,
                        "YAML line 7, column 8: the document expands to more than 1000000 nodes.");
}

static void big_strings_through_aliases_are_refused(void **state)
{
    size_t size = (size_t)1 << 20, n = 0;
    char *yaml = malloc(size + 1024);
    struct p4_error err;

    (void)state;
    n += (size_t)sprintf(yaml, "s: &s ");
    memset(yaml + n, 'x', size);
    n += size;
    n += (size_t)sprintf(yaml + n, "\nl: [");
    for (int i = 0; i < 70; i++)
        n += (size_t)sprintf(yaml + n, "*s, ");
    n += (size_t)sprintf(yaml + n, "*s]\n");
    assert_null(p4_yaml_to_json(yaml, n, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_non_null(strstr(err.message, "more than 67108864 bytes of text"));
    free(yaml);
}

static void nesting_depth_is_bounded(void **state)
{
    size_t n = P4_YAML_MAX_DEPTH;
    char *yaml = malloc(2 * n + 64);
    struct p4_error err;
    cJSON *tree;

    (void)state;
    memset(yaml, '[', n);
    memset(yaml + n, ']', n);
    tree = p4_yaml_to_json(yaml, 2 * n, &err); /* exactly the limit */
    assert_non_null(tree);
    cJSON_Delete(tree);

    yaml[0] = '-';
    yaml[1] = ' ';
    memset(yaml + 2, '[', n);
    memset(yaml + 2 + n, ']', n);
    assert_null(p4_yaml_to_json(yaml, 2 * n + 2, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_string_equal(err.message, "YAML line 1, column 258: nesting is deeper than 256 levels.");

    /* An alias may not carry a deep anchor deeper than the limit either. */
    n = (size_t)sprintf(yaml, "a: &a ");
    memset(yaml + n, '[', 200);
    memset(yaml + n + 200, ']', 200);
    n += 400;
    n += (size_t)sprintf(yaml + n, "\nb: ");
    memset(yaml + n, '[', 60);
    n += 60;
    n += (size_t)sprintf(yaml + n, "*a");
    memset(yaml + n, ']', 60);
    n += 60;
    assert_null(p4_yaml_to_json(yaml, n, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_string_equal(err.message, "YAML line 2, column 64: nesting is deeper than 256 levels.");
    free(yaml);
}

static void node_count_is_bounded(void **state)
{
    size_t items = P4_YAML_MAX_NODES - 1; /* plus the sequence: exactly the limit */
    char *yaml = malloc(2 * items + 8);
    struct p4_error err;
    size_t n = 0;
    cJSON *tree;

    (void)state;
    yaml[n++] = '[';
    for (size_t i = 0; i < items; i++) {
        yaml[n++] = '0';
        yaml[n++] = ',';
    }
    yaml[n - 1] = ']';
    tree = p4_yaml_to_json(yaml, n, &err);
    assert_non_null(tree);
    assert_int_equal(cJSON_GetArraySize(tree), items);
    cJSON_Delete(tree);

    yaml[n - 1] = ',';
    yaml[n++] = '0';
    yaml[n++] = ']';
    assert_null(p4_yaml_to_json(yaml, n, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_non_null(strstr(err.message, "more than 1000000 nodes"));
    free(yaml);
}

static void huge_input_is_refused_unread(void **state)
{
    struct p4_error err;

    (void)state;
    /* The length alone is refused; the short buffer is never read that far. */
    assert_null(p4_yaml_to_json("a: 1", P4_YAML_MAX_INPUT + 1, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_string_equal(err.message,
                        "YAML input of 16777217 bytes exceeds the 16777216-byte limit.");
    assert_null(p4_yaml_to_json_all("a: 1", P4_YAML_MAX_INPUT + 1, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
}

static void many_keys_and_anchors_stay_fast(void **state)
{
    size_t keys = 200000, n = 0;
    char *yaml = malloc(keys * 32 + 64);
    struct p4_error err;
    cJSON *tree;

    (void)state;
    /* 200,000 keys, each given twice: duplicates are settled by sorting, not by scanning. */
    for (size_t i = 0; i < keys; i++)
        n += (size_t)sprintf(yaml + n, "k%zu: %zu\n", i % (keys / 2), i);
    tree = p4_yaml_to_json(yaml, n, &err);
    assert_non_null(tree);
    assert_int_equal(cJSON_GetArraySize(tree), keys / 2);
    assert_int_equal(cJSON_GetObjectItem(tree, "k7")->valueint, keys / 2 + 7);
    cJSON_Delete(tree);

    /* Thousands of anchors, each alias to the oldest: the look-up work is bounded. */
    n = 0;
    for (size_t i = 0; i < 20000; i++)
        n += (size_t)sprintf(yaml + n, "- &a%zu x\n", i);
    for (size_t i = 0; i < 20000; i++)
        n += (size_t)sprintf(yaml + n, "- *a0\n");
    assert_null(p4_yaml_to_json(yaml, n, &err));
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    assert_non_null(strstr(err.message, "too many anchors and aliases to resolve"));
    free(yaml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(helm_values_file),
        cmocka_unit_test(yaml11_booleans_and_nulls),
        cmocka_unit_test(integers_floats_and_strings),
        cmocka_unit_test(numbers_are_doubles),
        cmocka_unit_test(keys_become_helms_text),
        cmocka_unit_test(duplicate_keys_last_wins),
        cmocka_unit_test(tags_are_honoured),
        cmocka_unit_test(merge_keys_as_go_yaml_v2),
        cmocka_unit_test(anchors_and_aliases),
        cmocka_unit_test(documents),
        cmocka_unit_test(document_lines),
        cmocka_unit_test(syntax_errors_say_line_and_column),
        cmocka_unit_test(json_cannot_hold),
        cmocka_unit_test(unterminated_buffer_is_read_to_len),
        cmocka_unit_test(billion_laughs_is_refused_quickly),
        cmocka_unit_test(big_strings_through_aliases_are_refused),
        cmocka_unit_test(nesting_depth_is_bounded),
        cmocka_unit_test(node_count_is_bounded),
        cmocka_unit_test(huge_input_is_refused_unread),
        cmocka_unit_test(many_keys_and_anchors_stay_fast),
    };
    return cmocka_run_group_tests_name("yamljson", tests, NULL, NULL);
}
