/*
 * report_test.c: a Phase4Deployment's status as text (report.h).
 *
 * Each status shape in fixtures/report/ (in progress, SUCCESSFUL, FAILED with a failure,
 * stalled, refused, no status, an old verdict, malformed) is rendered and compared byte for
 * byte with the text beside it (NAME.txt; NAME.ascii.txt for --no-emoji), so the output stays
 * as stable as scripts that grep it need. P4_UPDATE_GOLDEN=1 writes those files instead (read
 * the diff before committing it). Then what no fixture shows: hostile text, huge strings and
 * lists, objects cJSON cannot read whole, and the outcome rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/text.h"
#include "phase4/reconciler/report.h"
#include "testjson.h"

#define FIXTURES "test/unit/fixtures/report/"

/* The whole file at path, NUL-terminated (caller frees), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n;

    *len = 0;
    if (f == NULL)
        return NULL;
    do {
        if (*len + 4096 + 1 > cap) {
            char *grown;
            cap = cap ? cap * 2 : 65536;
            grown = realloc(buf, cap);
            assert_non_null(grown);
            buf = grown;
        }
        n = fread(buf + *len, 1, cap - *len - 1, f);
        *len += n;
    } while (n > 0);
    (void)fclose(f);
    buf[*len] = '\0';
    return buf;
}

/* Every byte a newline or printable; with ascii, printable ASCII; else valid UTF-8. */
static void assert_safe(const char *text, size_t len, bool ascii)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)text[i];
        if (b == '\n')
            continue;
        if (b < 0x20 || b == 0x7f || (ascii && b >= 0x80))
            fail_msg("byte 0x%02x at %zu in:\n%s", b, i, text);
    }
    assert_true(p4_text_utf8_valid(text, len));
    /* No C1 control (U+0080 to U+009F, C2 80 to C2 9F in UTF-8) reaches the terminal either. */
    for (size_t i = 0; i + 1 < len; i++) {
        if ((unsigned char)text[i] == 0xc2 && (unsigned char)text[i + 1] >= 0x80 &&
            (unsigned char)text[i + 1] <= 0x9f)
            fail_msg("a C1 control at %zu in:\n%s", i, text);
    }
}

static char *render(const cJSON *obj, unsigned flags, enum p4_report_outcome *outcome)
{
    struct p4_buf out = {0};
    enum p4_report_outcome o = p4_report_render(obj, flags, &out);

    assert_non_null(out.data);
    assert_int_equal(strlen(out.data), out.len);
    assert_safe(out.data, out.len, flags & P4_REPORT_ASCII);
    assert_int_equal(o, p4_report_outcome(obj));
    if (outcome != NULL)
        *outcome = o;
    return out.data;
}

/* The first line of text that differs from want's, for the failure message. */
static void fail_diff(const char *path, const char *got, const char *want)
{
    size_t line = 1;
    const char *g = got, *w = want;

    while (*g != '\0' && *g == *w) {
        if (*g == '\n')
            line++;
        g++;
        w++;
    }
    fail_msg("%s differs at line %zu:\n got: %.120s\nwant: %.120s\n(P4_UPDATE_GOLDEN=1 rewrites "
             "it)",
             path, line, g, w);
}

/* Render fixture name.json (read as the command reads an API answer) against its golden text. */
static void golden(const char *name, unsigned flags, enum p4_report_outcome want)
{
    char path[256], gpath[256];
    size_t len, glen;
    char *bytes, *got, *expect;
    struct p4_error err;
    enum p4_report_outcome o;
    cJSON *obj;

    (void)snprintf(path, sizeof(path), FIXTURES "%s.json", name);
    (void)snprintf(gpath, sizeof(gpath), FIXTURES "%s%s.txt", name,
                   flags & P4_REPORT_ASCII ? ".ascii" : "");
    bytes = slurp(path, &len);
    if (bytes == NULL)
        fail_msg("cannot read %s (run the tests from the repository root)", path);
    obj = p4_report_read(bytes, len, &err);
    if (obj == NULL)
        fail_msg("%s: %s", path, err.message);
    got = render(obj, flags, &o);
    assert_int_equal(o, want);
    if (getenv("P4_UPDATE_GOLDEN") != NULL) {
        FILE *f = fopen(gpath, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(got, 1, strlen(got), f), strlen(got));
        assert_int_equal(fclose(f), 0);
    } else {
        expect = slurp(gpath, &glen);
        if (expect == NULL)
            fail_msg("no %s (P4_UPDATE_GOLDEN=1 writes it)", gpath);
        else if (strcmp(got, expect) != 0)
            fail_diff(gpath, got, expect);
        free(expect);
    }
    /* The whole object parsed at once reads the same as the command's shallow read. */
    cJSON_Delete(obj);
    obj = cJSON_ParseWithLength(bytes, len);
    assert_non_null(obj);
    expect = render(obj, flags, NULL);
    assert_string_equal(expect, got);
    free(expect);
    cJSON_Delete(obj);
    free(got);
    free(bytes);
}

static void each_shape_renders_as_its_golden_text(void **state)
{
    (void)state;
    golden("successful", 0, P4_REPORT_SUCCESSFUL);
    golden("failed", 0, P4_REPORT_FAILED);
    golden("failed", P4_REPORT_ASCII, P4_REPORT_FAILED);
    golden("in-progress", 0, P4_REPORT_IN_PROGRESS);
    golden("awaiting-approval", 0, P4_REPORT_IN_PROGRESS);
    golden("awaiting-approval", P4_REPORT_ASCII, P4_REPORT_IN_PROGRESS);
    golden("stalled", 0, P4_REPORT_STALLED);
    golden("refused", 0, P4_REPORT_STALLED);
    golden("no-status", 0, P4_REPORT_IN_PROGRESS);
    golden("old-verdict", 0, P4_REPORT_IN_PROGRESS);
    golden("malformed", 0, P4_REPORT_IN_PROGRESS);
    golden("malformed", P4_REPORT_ASCII, P4_REPORT_IN_PROGRESS);
}

/* Does text hold line as one whole line? */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    }
    return false;
}

static void assert_line(const char *text, const char *line)
{
    if (!has_line(text, line))
        fail_msg("no line '%s' in:\n%s", line, text);
}

static char *render_json(const char *json, unsigned flags, enum p4_report_outcome *outcome)
{
    cJSON *obj = test_json(json);
    char *text = render(obj, flags, outcome);

    cJSON_Delete(obj);
    return text;
}

/* Escape sequences, C1 controls and invalid UTF-8 from the cluster never reach the terminal. */
static void outside_text_is_cleaned(void **state)
{
    static const char json[] =
        "{\"metadata\":{\"name\":\"shop\",\"namespace\":\"ns\",\"generation\":1},"
        "\"status\":{\"observedGeneration\":1,\"gates\":[{\"stage\":\"Helm\",\"name\":\"Lints\","
        "\"status\":\"False\",\"reason\":\"LintFailed\",\"message\":\"\\u001b[2J\\u001b]8;;http://"
        "x\\u0007click\\u001b]8;;\\u0007 \\u0085next\\nline\\u2028sep \\u00e9t\\u00e9\"}]}}";
    cJSON *obj = cJSON_Parse(json);
    char *text;

    (void)state;
    assert_non_null(obj);
    text = render(obj, 0, NULL);
    assert_line(text,
                "    \xE2\x9D\x8C Helm/Lints: False (LintFailed): ?[2J?]8;;http://x?click?]8;;? "
                "?next line sep \xC3\xA9t\xC3\xA9");
    free(text);
    text = render(obj, P4_REPORT_ASCII, NULL);
    assert_line(text,
                "    [FAIL] Helm/Lints: False (LintFailed): ?[2J?]8;;http://x?click?]8;;? ??next "
                "line???sep ??t??");
    free(text);
    cJSON_Delete(obj);
}

/* The plan's lists are bounded, what they did not list counted; odd members count as absent. */
static void the_plan_is_bounded(void **state)
{
    struct p4_buf json = {0};
    enum p4_report_outcome o;
    char *text;

    (void)state;
    p4_buf_printf(&json, "{\"metadata\":{\"name\":\"shop\",\"generation\":2},\"status\":{"
                         "\"plan\":{\"generation\":2,\"summary\":7,\"createMore\":5,\"create\":[");
    for (int i = 0; i < 70; i++)
        p4_buf_printf(&json, "%s{\"kind\":\"ConfigMap\",\"name\":\"c%d\"}", i ? "," : "", i);
    p4_buf_printf(&json, ",7,\"x\"],\"change\":[{\"kind\":\"Secret\",\"namespace\":\"ns\","
                         "\"name\":\"s\",\"unknown\":\"the live object could not be read: "
                         "forbidden\"}],\"prune\":{},\"images\":[1,\"r/a@sha256:1\"]},"
                         "\"approval\":{\"generation\":\"1\",\"ignored\":\"\\u001b[2J\"}}}");
    text = render_json(json.data, 0, &o);
    assert_int_equal(o, P4_REPORT_IN_PROGRESS);
    assert_line(text, "  plan for generation 2: (no summary)");
    assert_line(text, "    create ConfigMap c0");
    assert_line(text, "    create ConfigMap c63");
    assert_line(text, "    ... 11 more not shown"); /* 70 listed past 64, and 5 not listed */
    assert_line(text, "    change Secret ns/s: the live object could not be read: forbidden");
    assert_line(text, "    image r/a@sha256:1");
    assert_line(text, "  ignored: phase4.io/approve=?[2J");
    assert_null(strstr(text, "last approved"));
    free(text);
    free(json.data);
}

/* A huge message is cut on one line; a huge list shows its first items and counts the rest. */
static void huge_strings_and_lists_are_bounded(void **state)
{
    cJSON *obj = test_json("{'metadata': {'name': 'shop', 'generation': 1}, 'status': "
                           "{'observedGeneration': 1, 'gates': [], 'readiness': [], "
                           "'health': {'recentEvents': []}}}");
    cJSON *gates = (cJSON *)cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "status"), "gates");
    cJSON *ready = (cJSON *)cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "status"), "readiness");
    cJSON *events = (cJSON *)cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "status"), "health"), "recentEvents");
    size_t big = 1 << 20;
    char *huge = malloc(big + 1), *text, *line;

    (void)state;
    assert_non_null(huge);
    memset(huge, 'x', big);
    huge[big] = '\0';
    for (int i = 0; i < 1000; i++) {
        cJSON *g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "stage", "Docker");
        cJSON_AddStringToObject(g, "name", "Built");
        cJSON_AddStringToObject(g, "status", "True");
        cJSON_AddStringToObject(g, "message", i == 0 ? huge : "ok");
        cJSON_AddItemToArray(gates, g);
        g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "item", "an item");
        cJSON_AddItemToArray(ready, g);
        g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "reason", "BackOff");
        cJSON_AddItemToArray(events, g);
    }
    text = render(obj, 0, NULL);
    assert_line(text, "    ... 936 more not shown");
    assert_line(text, "  ... 936 more not shown");
    assert_line(text, "  recent events: 1000");
    assert_line(text, "    ... 980 more not shown");
    line = strstr(text, "Docker/Built: True: xxx");
    assert_non_null(line);
    assert_true(strchr(line, '\n') - line < 2100);
    assert_non_null(strstr(line, "xxx...\n"));
    assert_true(strlen(text) < (size_t)64 * 1024);
    free(text);
    free(huge);
    cJSON_Delete(obj);
}

/* Whatever the JSON, a report: any top-level value, any member of any type. */
static void any_json_renders(void **state)
{
    static const char *const docs[] = {
        "null",
        "3",
        "'text'",
        "[]",
        "{}",
        "{'status': null}",
        "{'status': []}",
        "{'status': {}}",
        "{'metadata': 1, 'status': {'conditions': [null, 1, {'type': 1}]}}",
        "{'status': {'gates': {}, 'readiness': {}, 'health': [], 'report': []}}",
        "{'status': {'report': {'stages': [{}, {'name': 'Docker'}, 1], 'failure': {}}}}",
        "{'status': {'report': {'artifacts': {'images': [1, null, ''], 'inventory': 'x'}}}}",
        "{'status': {'verdict': 'FAILED', 'report': {'failure': {'reason': 'X'}}}}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char *text = render_json(docs[i], 0, NULL);
        assert_non_null(strstr(text, "\nVerdict\n"));
        free(text);
        text = render_json(docs[i], P4_REPORT_ASCII, NULL);
        free(text);
    }
    {
        struct p4_buf out = {0};
        assert_int_equal(p4_report_render(NULL, 0, &out), P4_REPORT_IN_PROGRESS);
        assert_non_null(strstr(out.data, "no status yet"));
        free(out.data);
    }
}

/* A verdict, a stall or a report of another generation never reads as the current one's. */
static void the_outcome_is_of_the_current_generation(void **state)
{
    struct {
        const char *json;
        enum p4_report_outcome want;
    } cases[] = {
        {"{'metadata': {'generation': 2}, 'status': {'observedGeneration': 2, 'verdict': "
         "'SUCCESSFUL'}}",
         P4_REPORT_SUCCESSFUL},
        {"{'metadata': {'generation': 3}, 'status': {'observedGeneration': 2, 'verdict': "
         "'SUCCESSFUL'}}",
         P4_REPORT_IN_PROGRESS},
        {"{'metadata': {'generation': 3}, 'status': {'observedGeneration': 3, 'verdict': "
         "'FAILED', 'report': {'generation': 2}}}",
         P4_REPORT_IN_PROGRESS},
        {"{'metadata': {'generation': 3}, 'status': {'observedGeneration': 3, 'report': "
         "{'generation': 3, 'verdict': 'FAILED'}}}",
         P4_REPORT_FAILED},
        {"{'metadata': {'generation': 3}, 'status': {'observedGeneration': 3, 'verdict': 'MAYBE'}}",
         P4_REPORT_IN_PROGRESS},
        {"{'metadata': {'generation': 3}, 'status': {'observedGeneration': 3, 'conditions': "
         "[{'type': 'Stalled', 'status': 'True', 'observedGeneration': 2}]}}",
         P4_REPORT_IN_PROGRESS},
        {"{'metadata': {'generation': 3}, 'status': {'observedGeneration': 3, 'conditions': "
         "[{'type': 'Stalled', 'status': 'True', 'observedGeneration': 3}]}}",
         P4_REPORT_STALLED},
        {"{'metadata': {'generation': 3}, 'status': {'observedGeneration': 2, 'conditions': "
         "[{'type': 'Stalled', 'status': 'True'}]}}",
         P4_REPORT_IN_PROGRESS},
        {"{'metadata': {'generation': 3}, 'status': {'observedGeneration': 3, 'conditions': "
         "[{'type': 'Stalled', 'status': 'False'}]}}",
         P4_REPORT_IN_PROGRESS},
        {"{'status': {'verdict': 'SUCCESSFUL'}}", P4_REPORT_SUCCESSFUL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = test_json(cases[i].json);
        if (p4_report_outcome(obj) != cases[i].want)
            fail_msg("case %zu: outcome %d, want %d", i, p4_report_outcome(obj), cases[i].want);
        cJSON_Delete(obj);
    }
}

/* What to do next: the remediation, else the failure's message; a Degraded success says so. */
static void next_steps_say_what_to_do(void **state)
{
    char *text;

    (void)state;
    text = render_json("{'metadata': {'generation': 1}, 'status': {'observedGeneration': 1, "
                       "'verdict': 'FAILED', 'report': {'failure': {'stage': 'Kubernetes', "
                       "'reason': 'CrashLoop', 'message': 'pod web-1 crash-loops'}}}}",
                       0, NULL);
    assert_line(text, "  failure: Kubernetes CrashLoop: pod web-1 crash-loops");
    assert_line(text, "  fix: pod web-1 crash-loops");
    free(text);
    text = render_json("{'metadata': {'generation': 1}, 'status': {'observedGeneration': 1, "
                       "'verdict': 'FAILED'}}",
                       0, NULL);
    assert_line(text, "  fix: the failing gate above says what failed");
    free(text);
    text = render_json("{'metadata': {'generation': 1}, 'status': {'observedGeneration': 1, "
                       "'verdict': 'SUCCESSFUL', 'conditions': [{'type': 'Ready', 'status': "
                       "'False', 'reason': 'Degraded', 'message': 'Deployment web has 0/2 "
                       "available'}]}}",
                       P4_REPORT_ASCII, NULL);
    assert_line(text, "  [OK] SUCCESSFUL: generation 1");
    assert_line(text, "  check: Deployment web has 0/2 available");
    free(text);
    text = render_json("{'metadata': {'generation': 1}, 'status': {'observedGeneration': 1, "
                       "'conditions': [{'type': 'Stalled', 'status': 'True'}]}}",
                       P4_REPORT_ASCII, NULL);
    assert_line(text, "  [FAIL] stalled: generation 1 has no verdict and goes no further until "
                      "someone acts");
    assert_line(text, "  stalled: Stalled is True, with no message");
    free(text);
    text = render_json("{'metadata': {'generation': 1}, 'status': {'observedGeneration': 1}}",
                       P4_REPORT_ASCII, NULL);
    assert_line(text, "  waiting on: the stages (Ready says nothing yet)");
    free(text);
}

/* The duration: as the report writes it, else from the times; a NotRequired gate is shown. */
static void durations_and_not_required_gates(void **state)
{
    char *text;

    (void)state;
    text = render_json(
        "{'metadata': {'generation': 1}, 'status': {'observedGeneration': 1, 'gates': [{'stage': "
        "'Validation', 'name': 'Metrics', 'status': 'True', 'reason': 'NotRequired'}], 'report': "
        "{'stages': [{'name': 'Validation', 'result': 'Passed', 'startedAt': "
        "'2024-05-01T10:00:00Z', 'finishedAt': '2024-05-01T11:02:03.5Z'}, {'name': 'Helm', "
        "'result': 'Running', 'startedAt': '2024-05-01T10:00:00Z', 'finishedAt': "
        "'2024-05-01T10:00:00.25Z'}, {'name': 'Docker', 'result': 'Failed', 'startedAt': "
        "'2024-05-01T10:00:01Z', 'finishedAt': '2024-05-01T10:00:00Z'}, {'name': 'Kubernetes', "
        "'result': 'Passed', 'startedAt': '2024-05-01T10:00:00Z', 'finishedAt': "
        "'2024-05-01T10:00:00Z'}]}}}",
        P4_REPORT_ASCII, NULL);
    assert_line(text, "  Validation: [OK] Passed, took 1h2m3s");
    assert_line(text, "    [N/A] Validation/Metrics: not required");
    assert_line(text, "  stage Helm: [WAIT] Running, took 250ms");
    assert_line(text, "  stage Docker: [FAIL] Failed");
    assert_line(text, "  stage Kubernetes: [OK] Passed, took 0s");
    free(text);
}

/* The command's read: metadata shallowly, status alone, so a deep spec hides nothing. */
static void the_read_keeps_what_the_report_needs(void **state)
{
    size_t depth = 1500, len = 0;
    char *doc = malloc(depth * 2 + 512), *text;
    struct p4_error err;
    cJSON *obj;
    struct p4_buf out = {0};

    (void)state;
    assert_non_null(doc);
    len += (size_t)sprintf(doc + len, "{\"metadata\":{\"name\":\"deep\",\"namespace\":\"ns\","
                                      "\"generation\":4,\"managedFields\":[");
    for (size_t i = 0; i < depth; i++)
        doc[len++] = '[';
    for (size_t i = 0; i < depth; i++)
        doc[len++] = ']';
    len += (size_t)sprintf(doc + len, "]},\"spec\":{},\"status\":{\"observedGeneration\":4,"
                                      "\"verdict\":\"SUCCESSFUL\"}}");
    assert_null(cJSON_ParseWithLength(doc, len));
    obj = p4_report_read(doc, len, &err);
    assert_non_null(obj);
    assert_int_equal(p4_report_render(obj, P4_REPORT_ASCII, &out), P4_REPORT_SUCCESSFUL);
    assert_line(out.data, "Phase4Deployment ns/deep: generation 4, observed 4");
    free(out.data);
    out = (struct p4_buf){0};
    cJSON_Delete(obj);

    /* A status too deep to parse is said, not hidden. */
    len = (size_t)sprintf(doc, "{\"metadata\":{\"name\":\"deep\"},\"status\":{\"x\":");
    for (size_t i = 0; i < depth; i++)
        doc[len++] = '[';
    for (size_t i = 0; i < depth; i++)
        doc[len++] = ']';
    doc[len++] = '}';
    doc[len++] = '}';
    obj = p4_report_read(doc, len, &err);
    assert_non_null(obj);
    text = render(obj, P4_REPORT_ASCII, NULL);
    assert_non_null(strstr(text, "\nstatus cannot be read: "));
    assert_line(text, "  [WAIT] in progress: an unknown generation");
    free(text);
    cJSON_Delete(obj);

    /* Not an object, or not JSON: refused with a reason. */
    assert_null(p4_report_read("[1]", 3, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_null(p4_report_read("{\"a\":", 5, &err));
    assert_int_equal(err.code, P4_ERR_PARSE);
    assert_null(p4_report_read("", 0, &err));
    /* A string status is shown as the reason it could not be read; other types as absent. */
    obj = p4_report_read("{\"status\":7}", 12, &err);
    assert_non_null(obj);
    text = render(obj, 0, NULL);
    assert_line(text, "status is a number, not an object: shown as absent");
    free(text);
    cJSON_Delete(obj);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_shape_renders_as_its_golden_text),
        cmocka_unit_test(outside_text_is_cleaned),
        cmocka_unit_test(huge_strings_and_lists_are_bounded),
        cmocka_unit_test(the_plan_is_bounded),
        cmocka_unit_test(any_json_renders),
        cmocka_unit_test(the_outcome_is_of_the_current_generation),
        cmocka_unit_test(next_steps_say_what_to_do),
        cmocka_unit_test(durations_and_not_required_gates),
        cmocka_unit_test(the_read_keeps_what_the_report_needs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
