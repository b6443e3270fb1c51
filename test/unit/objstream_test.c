/*
 * objstream_test.c: Kubernetes objects read from what kubectl and the API server print
 * (p4_objstream): a JSON object, Lists and typed lists, jq's streams, multi-document YAML, empty
 * documents, garbage, objects that are not Kubernetes objects, too big and too deep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/core/yamljson.h"
#include "phase4/kube/objstream.h"

/*
 * Read len bytes of text whole: each object as "apiVersion|kind|namespace/name" joined by ", "
 * into out. Returns what the stream ended with (0, or the error, in err), or -1000 when it
 * could not be opened (err says why).
 */
static int read_all(const char *text, size_t len, char *out, size_t size, struct p4_error *err)
{
    struct p4_objstream *s = p4_objstream_new(text, len, err);
    cJSON *obj;
    int rc;

    out[0] = '\0';
    if (s == NULL)
        return -1000;
    while ((rc = p4_objstream_next(s, &obj, err)) == 1) {
        const char *api = p4_json_str(obj, "apiVersion"),
                   *ns = p4_json_str(obj, "metadata.namespace");
        size_t n = strlen(out);

        assert_non_null(obj);
        (void)snprintf(out + n, size - n, "%s%s|%s|%s/%s", n ? ", " : "", api ? api : "-",
                       p4_json_str(obj, "kind"), ns ? ns : "", p4_json_str(obj, "metadata.name"));
        cJSON_Delete(obj);
    }
    assert_null(obj);
    /* Past the end, or after an error, it stays ended. */
    assert_int_equal(p4_objstream_next(s, &obj, NULL), 0);
    assert_null(obj);
    p4_objstream_free(s);
    return rc;
}

static void expect(const char *text, const char *want)
{
    char got[4096];
    struct p4_error err = {0};
    int rc = read_all(text, strlen(text), got, sizeof(got), &err);

    if (rc != 0)
        fail_msg("%s\n failed (%d): %s", text, rc, err.message);
    assert_string_equal(got, want);
}

/* A string literal and its length (it may hold a NUL). */
#define LIT(s) (s), (sizeof(s) - 1)

static void expect_error(const char *text, size_t len, const char *want_objects, int code,
                         const char *message)
{
    char got[4096];
    struct p4_error err = {0};
    int rc = read_all(text, len, got, sizeof(got), &err);

    if (rc == 0)
        fail_msg("%s\n read as \"%s\", want an error", text, got);
    assert_int_equal(err.code, code);
    if (strstr(err.message, message) == NULL)
        fail_msg("%s\n error \"%s\"\n want \"...%s...\"", text, err.message, message);
    assert_string_equal(got, want_objects);
    assert_true(rc == -1000 || rc == code);
}

static void json_object_and_lists(void **state)
{
    (void)state;
    /* One object, as `kubectl get deploy web -o json` prints it. */
    expect("{\n  \"apiVersion\": \"apps/v1\",\n  \"kind\": \"Deployment\",\n  \"metadata\": {\n"
           "    \"name\": \"web\",\n    \"namespace\": \"shop\"\n  },\n  \"status\": {}\n}\n",
           "apps/v1|Deployment|shop/web");
    /* `kubectl get deploy,pods -o json`: a List whose items say their kind. */
    expect("{\"apiVersion\":\"v1\",\"items\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
           "\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"}},{\"apiVersion\":\"v1\","
           "\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\"}}],"
           "\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"}}",
           "apps/v1|Deployment|shop/web, v1|Pod|shop/web-1");
    /* `kubectl get --raw /apis/apps/v1/deployments`: items without kind or apiVersion get the
       list's; one that says its own keeps it. */
    expect("{\"kind\":\"DeploymentList\",\"apiVersion\":\"apps/v1\",\"metadata\":{},\"items\":["
           "{\"metadata\":{\"name\":\"a\"}},{\"kind\":\"Thing\",\"apiVersion\":\"x/v1\","
           "\"metadata\":{\"name\":\"b\"}}]}",
           "apps/v1|Deployment|/a, x/v1|Thing|/b");
    /* Empty lists, items null and nulls among items. */
    expect("{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[]}", "");
    expect("{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":null}", "");
    expect("{\"kind\":\"List\",\"items\":[null,{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}},"
           "null]}",
           "-|Pod|/p");
    /* A kind ending in List without items is an object like any other. */
    expect("{\"kind\":\"PlayList\",\"apiVersion\":\"music.example/v1\",\"metadata\":{\"name\":"
           "\"jazz\"},\"spec\":{\"items\":[1]}}",
           "music.example/v1|PlayList|/jazz");
}

static void json_streams(void **state)
{
    (void)state;
    /* jq '.items[]' writes objects one after another. */
    expect("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}\n{\"kind\":\"Pod\",\"metadata\":"
           "{\"name\":\"b\"}}{\"kind\":\"Pod\",\"metadata\":{\"name\":\"c\"}}\n\n",
           "-|Pod|/a, -|Pod|/b, -|Pod|/c");
    /* An array of objects, and a List among plain objects; nulls are skipped. */
    expect("[{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}},null]\nnull\n"
           "{\"kind\":\"List\",\"items\":[{\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"}}]}",
           "-|Pod|/a, -|Service|/s");
    /* Flow-style YAML begins like JSON and is read as YAML. */
    expect("{kind: Pod, metadata: {name: p}}\n", "-|Pod|/p");
    expect("[{kind: Pod, metadata: {name: p}}]", "-|Pod|/p");
}

static void yaml_documents(void **state)
{
    (void)state;
    /* `kubectl get deploy,pods -o yaml`. */
    expect("apiVersion: v1\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n"
           "    name: web\n    namespace: shop\n  status:\n    replicas: 1\n- apiVersion: v1\n"
           "  kind: Pod\n  metadata:\n    name: web-1\n    namespace: shop\nkind: List\n"
           "metadata:\n  resourceVersion: \"\"\n",
           "apps/v1|Deployment|shop/web, v1|Pod|shop/web-1");
    /* Several documents, empty ones and comments among them, a list and a sequence. */
    expect("# Source: app/templates/cm.yaml\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: "
           "{name: cm}\n---\n# Source: app/templates/empty.yaml\n---\n---\nkind: ServiceList\n"
           "apiVersion: v1\nitems:\n- metadata: {name: s1}\n- ~\n---\n- {kind: Pod, metadata: "
           "{name: p}}\n...\n",
           "v1|ConfigMap|/cm, v1|Service|/s1, -|Pod|/p");
    /* Nothing at all is no object, and no error. */
    expect("", "");
    expect("  \n\t\n", "");
    expect("# only a comment\n---\n", "");
    /* YAML read as Helm reads it: yes is true, 010 is 8, keys are text. */
    expect("kind: Pod\nmetadata: {name: p, labels: {on: yes}}\nspec: {priority: 010}\n",
           "-|Pod|/p");
}

static void garbage_is_refused_saying_where(void **state)
{
    (void)state;
    /* Not YAML nor JSON: nothing is given. */
    expect_error(LIT("{\"kind\": \"Pod\",\n \"metadata\": {\"name\": \"p\"}\n"), "", P4_ERR_PARSE,
                 "JSON ends early at byte 43 (line 3, column 1)");
    expect_error(LIT("[1, 2,,]"), "", P4_ERR_PARSE, "invalid JSON at byte 6 (line 1, column 7)");
    expect_error(LIT("{\"a\":1} trailing"), "", P4_ERR_PARSE,
                 "invalid JSON at byte 8 (line 1, column 9)");
    expect_error(LIT("kind: Pod\nmetadata: [unclosed\n"), "", P4_ERR_PARSE,
                 "invalid YAML at line 3, column 1");
    expect_error(LIT("a: \x01\xff\n"), "", P4_ERR_PARSE, "invalid YAML");
    expect_error(LIT("a\0b"), "", P4_ERR_PARSE, "invalid YAML");
    expect_error(LIT("x: .inf\n"), "", P4_ERR_INVALID, "line 1");
    /* Readable, but not Kubernetes objects: the objects before are given, then where. */
    expect_error(LIT("hello world\n"), "", P4_ERR_INVALID,
                 "document 1 at line 1: it is a string, not an object");
    expect_error(LIT("kind: Pod\nmetadata: {name: a}\n---\n- 1\n"), "-|Pod|/a", P4_ERR_INVALID,
                 "document 2 (line 3), item 1: it is a number, not an object");
    expect_error(LIT("kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {}\n"), "-|Pod|/a",
                 P4_ERR_INVALID, "document 2 (Pod) at line 3: metadata.name is missing");
    expect_error(LIT("metadata: {name: a}\n"), "", P4_ERR_INVALID,
                 "document 1 at line 1: kind is missing");
    expect_error(LIT("kind: 7\nmetadata: {name: a}\n"), "", P4_ERR_INVALID,
                 "kind must be a non-empty string");
    expect_error(LIT("kind: Pod\nmetadata: {name: 5}\n"), "", P4_ERR_INVALID,
                 "document 1 (Pod) at line 1: metadata.name must be a non-empty string");
    expect_error(LIT("kind: List\nitems:\n- {kind: Pod, metadata: {name: a}}\n- {kind: Service}\n"),
                 "-|Pod|/a", P4_ERR_INVALID,
                 "document 1 (line 1), item 2 (Service): metadata.name is missing");
    expect_error(LIT("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}\n\n  true"), "-|Pod|/a",
                 P4_ERR_INVALID, "document 2 at line 3, column 3: it is a boolean, not an object");
    expect_error(
        LIT("{\"kind\":\"List\",\"items\":[\n {\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}},\n"
            "   {\"kind\":\"Pod\",\"metadata\":{\"name\":\"\"}}]}"),
        "-|Pod|/a", P4_ERR_INVALID,
        "document 1, item 2 (Pod) at line 3, column 4: metadata.name must be a "
        "non-empty string");
    /* Text quoted from the input is cut and printable. */
    expect_error(LIT("kind: \"Po\\u0007d\\n\"\nmetadata: {}\n"), "", P4_ERR_INVALID,
                 "document 1 (Po?d?) at line 1: metadata.name is missing");
    /* A NULL buffer. */
    expect_error(NULL, 0, "", P4_ERR_INVAL, "no input");
}

static void limits(void **state)
{
    size_t big = P4_OBJSTREAM_INPUT_MAX + 1, n;
    char *text = calloc(1, big), *deep;
    char got[256];
    struct p4_error err;
    int rc;

    (void)state;
    assert_non_null(text);
    /* Too big for anything: refused before a byte is read. */
    expect_error(text, big, "", P4_ERR_TOOBIG, "more than the 67108864 read");
    /* YAML past its limit: give JSON. */
    expect_error(text, P4_YAML_MAX_INPUT + 1, "", P4_ERR_TOOBIG,
                 "give it as JSON (kubectl get -o json)");
    /* JSON past the YAML limit is read, one object at a time: a List of 20 MiB. */
    n = (size_t)sprintf(text, "{\"kind\":\"List\",\"items\":[");
    for (int i = 0; n < (size_t)20 * 1024 * 1024; i++) {
        n += (size_t)sprintf(text + n,
                             "%s{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c%d\"},"
                             "\"data\":{\"x\":\"",
                             i ? "," : "", i);
        memset(text + n, 'x', 4000);
        n += 4000;
        n += (size_t)sprintf(text + n, "\"}}");
    }
    n += (size_t)sprintf(text + n, "]}");
    {
        struct p4_objstream *s = p4_objstream_new(text, n, &err);
        cJSON *obj;
        int count = 0;

        assert_non_null(s);
        while ((rc = p4_objstream_next(s, &obj, &err)) == 1) {
            count++;
            cJSON_Delete(obj);
        }
        assert_int_equal(rc, 0);
        assert_true(count > 5000);
        p4_objstream_free(s);
    }
    free(text);

    /* Deeper than cJSON reads: that object is refused, naming where. */
    deep = malloc(4200);
    assert_non_null(deep);
    n = (size_t)sprintf(deep, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"x\":");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    for (int i = 0; i < 1000; i++)
        deep[n++] = ']';
    n += (size_t)sprintf(deep + n, "}}");
    rc = read_all(deep, n, got, sizeof(got), &err);
    assert_int_equal(rc, P4_ERR_TOOBIG);
    assert_string_equal(
        err.message, "document 1 at line 1, column 1: it nests deeper than 1000 levels, at spec.x");
    /* YAML stops at its own depth, before any object. */
    n = (size_t)sprintf(deep, "x: ");
    for (int i = 0; i < 300; i++)
        deep[n++] = '[';
    for (int i = 0; i < 300; i++)
        deep[n++] = ']';
    rc = read_all(deep, n, got, sizeof(got), &err);
    assert_int_equal(rc, -1000);
    assert_int_equal(err.code, P4_ERR_TOOBIG);
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_object_and_lists),
        cmocka_unit_test(json_streams),
        cmocka_unit_test(yaml_documents),
        cmocka_unit_test(garbage_is_refused_saying_where),
        cmocka_unit_test(limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
