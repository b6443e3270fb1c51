/*
 * helmout_test.c: helm's real output (captured from helm 3.19 into
 * fixtures/helm/ by fixtures/helm/capture.sh) classified into reasons and
 * messages, and hostile output that must not break the classifier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "stages/helm/helmout.h"

#define FIXTURES "test/unit/fixtures/helm/"

struct fixture_case {
    const char *name;
    enum p4_helm_reason reason;
    const char *message;
};

/* Every fixture in fixtures/helm/INDEX, with what it must give. */
static const struct fixture_case fixture_cases[] = {
    {"lint-ok", P4_HELM_OK, ""},
    {"template-ok", P4_HELM_OK, ""},
    {"lint-strict-warning", P4_HELM_LINT_FAILED,
     "the chart fails helm lint (1 problem): [WARNING] templates/configmap.yaml: object name does "
     "not conform to Kubernetes naming requirements: \"test-release_Web_App\": metadata.name: "
     "Invalid value: \"test-release_Web_App\": a lowercase RFC 1123 subdomain must consist of "
     "lower case alphanumeric characters, '-' or '.', and must start and end w..."},
    {"lint-schema", P4_HELM_VALUES_SCHEMA_INVALID,
     "values do not match the chart's values.schema.json: /replicaCount: got string, want integer"},
    {"template-schema", P4_HELM_VALUES_SCHEMA_INVALID,
     "values do not match the chart's values.schema.json: /replicaCount: got string, want integer"},
    {"template-schema-many", P4_HELM_VALUES_SCHEMA_INVALID,
     "values do not match the chart's values.schema.json: /image: additional properties 'extra' "
     "not allowed; /image/digest: value does not match pattern '^(sha256:[a-f0-9]{64})?$'; "
     "/image/tag: got number, want string; /replicaCount: got string, want integer; /service/port: "
     "maximum: got 70,000, want 65,535"},
    {"lint-schema-many", P4_HELM_VALUES_SCHEMA_INVALID,
     "values do not match the chart's values.schema.json: /image: additional properties 'extra' "
     "not allowed; /image/digest: value does not match pattern '^(sha256:[a-f0-9]{64})?$'; "
     "/image/tag: got number, want string; /replicaCount: got string, want integer; /service/port: "
     "maximum: got 70,000, want 65,535"},
    {"template-schema-root", P4_HELM_VALUES_SCHEMA_INVALID,
     "values do not match the chart's values.schema.json: /: missing property 'image'; "
     "/replicaCount: minimum: got -1, want 0"},
    {"template-schema-format", P4_HELM_VALUES_SCHEMA_INVALID,
     "values do not match the chart's values.schema.json: /email: value is not valid email: "
     "missing @; /mode: value must be one of 'a', 'b'; /token: minLength: got 11, want 40"},
    {"template-schema-subchart", P4_HELM_VALUES_SCHEMA_INVALID,
     "values do not match the chart's values.schema.json: parent:/: missing property 'top'; "
     "webapp:/image/repository: minLength: got 0, want 1; webapp:/replicaCount: got string, want "
     "integer"},
    {"lint-schema-subchart", P4_HELM_VALUES_SCHEMA_INVALID,
     "values do not match the chart's values.schema.json: parent:/: missing property 'top'; "
     "webapp:/image/repository: minLength: got 0, want 1; webapp:/replicaCount: got string, want "
     "integer"},
    {"template-schema-stdin", P4_HELM_VALUES_SCHEMA_INVALID,
     "values do not match the chart's values.schema.json: /replicaCount: got string, want integer"},
    {"template-schema-eof", P4_HELM_VALUES_SCHEMA_INVALID,
     "the chart's values.schema.json cannot be used: webapp: unexpected EOF"},
    {"lint-schema-eof", P4_HELM_VALUES_SCHEMA_INVALID,
     "the chart's values.schema.json cannot be used: webapp: unexpected EOF"},
    {"template-schema-metaschema", P4_HELM_VALUES_SCHEMA_INVALID,
     "the chart's values.schema.json cannot be used: webapp: \"file:///values.schema.json#\" is "
     "not valid against metaschema: jsonschema validation failed with "
     "'https://json-schema.org/draft/2020-12/schema#'"},
    {"template-include-error", P4_HELM_TEMPLATE_RENDER_FAILED,
     "the chart's templates do not render: template: "
     "template-error/templates/configmap.yaml:10:13: executing "
     "\"template-error/templates/configmap.yaml\" at <include \"webapp.no-such-template\" .>: "
     "error calling include: template: no template \"webapp.no-such-template\" associated with "
     "template \"gotpl\""},
    {"lint-include-error", P4_HELM_TEMPLATE_RENDER_FAILED,
     "the chart's templates do not render: template: "
     "template-error/templates/configmap.yaml:10:13: executing "
     "\"template-error/templates/configmap.yaml\" at <include \"webapp.no-such-template\" .>: "
     "error calling include: template: no template \"webapp.no-such-template\" associated with "
     "template \"gotpl\""},
    {"template-yaml-error", P4_HELM_TEMPLATE_RENDER_FAILED,
     "the chart's templates do not render: YAML parse error on webapp/templates/bad.yaml: error "
     "converting YAML to JSON: yaml: line 7: did not find expected ',' or ']'"},
    {"lint-yaml-error", P4_HELM_TEMPLATE_RENDER_FAILED,
     "the chart's templates do not render: templates/bad.yaml: unable to parse YAML: error "
     "converting YAML to JSON: yaml: line 7: did not find expected ',' or ']'"},
    {"template-required", P4_HELM_TEMPLATE_RENDER_FAILED,
     "the chart's templates do not render: execution error at (webapp/templates/req.yaml:1:3): a "
     "database password is required: set db.password"},
    {"template-parse-error", P4_HELM_TEMPLATE_RENDER_FAILED,
     "the chart's templates do not render: parse error at (webapp/templates/req.yaml:1): missing "
     "value for if"},
    {"lint-parse-error", P4_HELM_TEMPLATE_RENDER_FAILED,
     "the chart's templates do not render: parse error at (webapp/templates/req.yaml:1): missing "
     "value for if"},
    {"template-nil-pointer", P4_HELM_TEMPLATE_RENDER_FAILED,
     "the chart's templates do not render: template: webapp/templates/req.yaml:1:10: executing "
     "\"webapp/templates/req.yaml\" at <.Values.image.nope.deeper>: nil pointer evaluating "
     "interface {}.deeper"},
    {"template-path-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm template could not find the chart: path \"./does-not-exist\" not found"},
    {"lint-path-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm lint could not find the chart: unable to check Chart.yaml file in chart: stat "
     "does-not-exist/Chart.yaml: no such file or directory"},
    {"pull-version-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm pull could not find the chart: chart \"webapp\" version \"9.9.9\" not found in "
     "http://127.0.0.1:49326 repository"},
    {"pull-range-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm pull could not find the chart: chart \"webapp\" version \">=5.0.0\" not found in "
     "http://127.0.0.1:49326 repository"},
    {"pull-chart-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm pull could not find the chart: chart \"nosuchchart\" not found in "
     "http://127.0.0.1:49326 repository"},
    {"template-repo-chart-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm template could not find the chart: chart \"nosuchchart\" not found in "
     "http://127.0.0.1:49326 repository"},
    {"show-version-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm show could not find the chart: chart \"webapp\" version \"9.9.9\" not found in "
     "http://127.0.0.1:49326 repository"},
    {"pull-index-404", P4_HELM_CHART_NOT_FOUND,
     "helm pull could not find the chart: looks like \"http://127.0.0.1:49326/sub\" is not a valid "
     "chart repository or cannot be reached: failed to fetch http://127.0.0.1:49326/sub/index.yaml "
     ": 404 Not Found"},
    {"template-repo-index-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm template could not find the chart: chart \"nope\" matching  not found in local index. "
     "(try 'helm repo update'): no chart name found"},
    {"template-unknown-repo", P4_HELM_CHART_NOT_FOUND,
     "helm template could not find the chart: repo nope not found"},
    {"pull-oci-tag-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm pull could not find the chart: failed to perform \"FetchReference\" on source: "
     "127.0.0.1:25697/charts/webapp:9.9.9: not found"},
    {"template-oci-tag-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm template could not find the chart: failed to perform \"FetchReference\" on source: "
     "127.0.0.1:25697/charts/webapp:9.9.9: not found"},
    {"pull-oci-repo-not-found", P4_HELM_CHART_NOT_FOUND,
     "helm pull could not find the chart: GET "
     "\"http://127.0.0.1:25697/v2/charts/nosuch/tags/list\": response status code 404: name "
     "unknown: repository name not known to registry: map[name:charts/nosuch]"},
    {"pull-repo-refused", P4_HELM_REPO_UNAVAILABLE,
     "helm pull could not reach the chart repository: looks like \"http://127.0.0.1:1\" is not a "
     "valid chart repository or cannot be reached: Get \"http://127.0.0.1:1/index.yaml\": dial tcp "
     "127.0.0.1:1: connect: connection refused"},
    {"pull-oci-refused", P4_HELM_REPO_UNAVAILABLE,
     "helm pull could not reach the chart repository: failed to perform \"FetchReference\" on "
     "source: Get \"https://127.0.0.1:1/v2/charts/webapp/manifests/0.1.0\": dial tcp 127.0.0.1:1: "
     "connect: connection refused"},
    {"pull-repo-no-such-host", P4_HELM_REPO_UNAVAILABLE,
     "helm pull could not reach the chart repository: looks like \"http://no-such-host.invalid\" "
     "is not a valid chart repository or cannot be reached: Get "
     "\"http://no-such-host.invalid/index.yaml\": dial tcp: lookup no-such-host.invalid on "
     "10.255.255.53:53: no such host"},
    {"pull-oci-tls-unknown-ca", P4_HELM_REPO_TLS_ERROR,
     "helm pull could not verify the chart repository's TLS certificate: failed to perform "
     "\"FetchReference\" on source: Get "
     "\"https://127.0.0.1:40492/v2/charts/webapp/manifests/0.1.0\": tls: failed to verify "
     "certificate: x509: certificate signed by unknown authority"},
    {"pull-repo-tls-unknown-ca", P4_HELM_REPO_TLS_ERROR,
     "helm pull could not verify the chart repository's TLS certificate: looks like "
     "\"https://127.0.0.1:40492/charts\" is not a valid chart repository or cannot be reached: Get "
     "\"https://127.0.0.1:40492/charts/index.yaml\": tls: failed to verify certificate: x509: "
     "certificate signed by unknown authority"},
    {"pull-oci-no-credentials", P4_HELM_REPO_AUTH_FAILED,
     "helm pull was refused by the chart repository: failed to perform \"FetchReference\" on "
     "source: GET \"https://127.0.0.1:40492/v2/charts/webapp/manifests/0.1.0\": basic credential "
     "not found"},
    {"pull-oci-wrong-credentials", P4_HELM_REPO_AUTH_FAILED,
     "helm pull was refused by the chart repository: failed to perform \"FetchReference\" on "
     "source: GET \"https://127.0.0.1:40492/v2/charts/webapp/manifests/0.1.0\": response status "
     "code 401: unauthorized: authentication required: [map[Action:pull Class: Name:charts/webapp "
     "Type:repository]]"},
    {"lint-no-version", P4_HELM_LINT_FAILED,
     "the chart fails helm lint (3 problems): [ERROR] Chart.yaml: version is required"},
    {"template-no-version", P4_HELM_FAILED,
     "helm template failed (exit status 1): validation: chart.metadata.version is required"},
    {"template-kube-version", P4_HELM_FAILED,
     "helm template failed (exit status 1): chart requires kubeVersion: >=1.33.0-0 which is "
     "incompatible with Kubernetes v1.20.0"},
    {"template-values-not-yaml", P4_HELM_FAILED,
     "helm template failed (exit status 1): failed to parse -: error converting YAML to JSON: "
     "yaml: line 1: did not find expected ',' or ']'"},
    {"template-bad-tgz", P4_HELM_FAILED,
     "helm template failed (exit status 1): file '/tmp/p4-helmfix/charts/bad.tgz' does not appear "
     "to be a gzipped archive; got 'application/octet-stream'"},
    {"lint-bad-tgz", P4_HELM_LINT_FAILED,
     "the chart fails helm lint (1 problem): unable to extract tarball: unexpected EOF"},
};

static char *slurp(const char *name, const char *ext, size_t *len)
{
    char path[256];
    FILE *f;
    char *buf = NULL;
    size_t cap = 0, n;

    (void)snprintf(path, sizeof(path), FIXTURES "%s.%s", name, ext);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run the tests from the repository root)", path);
    *len = 0;
    do {
        if (*len + 4096 + 1 > cap) {
            char *grown;

            cap = cap ? cap * 2 : 8192;
            grown = realloc(buf, cap);
            if (grown == NULL)
                free(buf);
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

/* The exit status and helm command ("lint", "pull", ...) INDEX records for name. */
static int index_entry(const char *name, int *status, char *command, size_t size)
{
    FILE *f = fopen(FIXTURES "INDEX", "r");
    char line[1024];
    int found = 0;

    if (f == NULL)
        fail_msg("cannot open " FIXTURES "INDEX (run the tests from the repository root)");
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        char *tab = strchr(line, '\t'), *cmd;

        if (line[0] == '#' || tab == NULL)
            continue;
        *tab = '\0';
        if (strcmp(line, name) != 0)
            continue;
        *status = (int)strtol(tab + 1, NULL, 10);
        cmd = strstr(tab + 1, "\thelm ");
        assert_non_null(cmd);
        cmd += strlen("\thelm ");
        cmd[strcspn(cmd, " \n")] = '\0';
        (void)snprintf(command, size, "%s", cmd);
        found = 1;
    }
    (void)fclose(f);
    return found;
}

static void assert_printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            fail_msg("byte 0x%02x in message", (unsigned char)*s);
    }
}

static void real_helm_output_is_classified(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fixture_cases) / sizeof(fixture_cases[0]); i++) {
        const struct fixture_case *c = &fixture_cases[i];
        char command[32], msg[P4_ERROR_MESSAGE_MAX];
        size_t out_len, err_len;
        char *out, *err;
        int status = -1;
        enum p4_helm_reason r;

        if (!index_entry(c->name, &status, command, sizeof(command)))
            fail_msg("fixture %s is not in INDEX", c->name);
        out = slurp(c->name, "stdout", &out_len);
        err = slurp(c->name, "stderr", &err_len);
        r = p4_helm_classify(command, status, out, out_len, err, err_len, msg, sizeof(msg));
        if (r != c->reason || strcmp(msg, c->message) != 0)
            fail_msg("%s: got %s \"%s\", want %s \"%s\"", c->name, p4_helm_reason_name(r), msg,
                     p4_helm_reason_name(c->reason), c->message);
        assert_printable(msg);
        free(out);
        free(err);
    }
}

static void every_fixture_has_a_case(void **state)
{
    FILE *f = fopen(FIXTURES "INDEX", "r");
    char line[1024];
    size_t entries = 0;

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t i, n = strcspn(line, "\t");

        if (line[0] == '#')
            continue;
        entries++;
        for (i = 0; i < sizeof(fixture_cases) / sizeof(fixture_cases[0]); i++) {
            if (strlen(fixture_cases[i].name) == n && strncmp(fixture_cases[i].name, line, n) == 0)
                break;
        }
        if (i == sizeof(fixture_cases) / sizeof(fixture_cases[0]))
            fail_msg("INDEX entry %.*s has no expected result", (int)n, line);
    }
    (void)fclose(f);
    assert_int_equal(entries, sizeof(fixture_cases) / sizeof(fixture_cases[0]));
}

/* What the values held must not reach the message, beyond what helm's line names. */
static void values_are_not_quoted(void **state)
{
    static const struct {
        const char *name, *secret;
    } cases[] = {
        {"template-schema-many", "nothex"},         /* echoed by helm in a pattern violation */
        {"template-schema-many", "secretvalue123"}, /* the value of an unknown key */
        {"lint-schema-many", "nothex"},
        {"template-schema-format", "not-an-email"}, /* echoed by helm in a format violation */
        {"template-schema-format", "supersecretmode"},
        {"template-schema-format", "shortsecret"},
        {"template-schema-stdin", "hunter2"},
    };
    char msg[P4_ERROR_MESSAGE_MAX], command[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t out_len, err_len;
        char *out = slurp(cases[i].name, "stdout", &out_len);
        char *err = slurp(cases[i].name, "stderr", &err_len);
        int status = -1;

        assert_true(index_entry(cases[i].name, &status, command, sizeof(command)));
        (void)p4_helm_classify(command, status, out, out_len, err, err_len, msg, sizeof(msg));
        if (strstr(msg, cases[i].secret) != NULL)
            fail_msg("%s: \"%s\" quotes %s", cases[i].name, msg, cases[i].secret);
        free(out);
        free(err);
    }
}

static void reason_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(p4_helm_reason_name(P4_HELM_OK), "HelmSucceeded");
    assert_string_equal(p4_helm_reason_name(P4_HELM_CHART_NOT_FOUND), "ChartNotFound");
    assert_string_equal(p4_helm_reason_name(P4_HELM_REPO_UNAVAILABLE),
                        "ChartRepositoryUnavailable");
    assert_string_equal(p4_helm_reason_name(P4_HELM_REPO_AUTH_FAILED), "ChartRepositoryAuthFailed");
    assert_string_equal(p4_helm_reason_name(P4_HELM_REPO_TLS_ERROR), "ChartRepositoryTLSError");
    assert_string_equal(p4_helm_reason_name(P4_HELM_LINT_FAILED), "ChartLintFailed");
    assert_string_equal(p4_helm_reason_name(P4_HELM_VALUES_SCHEMA_INVALID), "ValuesSchemaInvalid");
    assert_string_equal(p4_helm_reason_name(P4_HELM_TEMPLATE_RENDER_FAILED),
                        "TemplateRenderFailed");
    assert_string_equal(p4_helm_reason_name(P4_HELM_DRY_RUN_REJECTED), "DryRunRejected");
    assert_string_equal(p4_helm_reason_name(P4_HELM_TIMED_OUT), "HelmTimedOut");
    assert_string_equal(p4_helm_reason_name(P4_HELM_FAILED), "HelmFailed");
    assert_string_equal(p4_helm_reason_name((enum p4_helm_reason)99), "Unknown");
    assert_string_equal(p4_helm_reason_name((enum p4_helm_reason) - 1), "Unknown");
}

static enum p4_helm_reason classify_err(const char *command, const char *err, char *msg,
                                        size_t size)
{
    return p4_helm_classify(command, 1, NULL, 0, err, strlen(err), msg, size);
}

static void hostile_bytes_are_cleaned(void **state)
{
    static const char err[] = "Error: chart \"a\x01"
                              "b\xff\x7f\tc\" version \"1\" not found in "
                              "https://user:hunter2@charts.example.com/x repository\r\n";
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(p4_helm_classify("pull", 1, NULL, 0, err, sizeof(err) - 1, msg, sizeof(msg)),
                     P4_HELM_CHART_NOT_FOUND);
    assert_string_equal(msg, "helm pull could not find the chart: chart \"a b?? c\" version \"1\" "
                             "not found in https://***@charts.example.com/x repository");
    /* A NUL inside the output ends nothing: the length does. */
    assert_int_equal(
        p4_helm_classify("pull", 1, NULL, 0, "x\0y\nError: repo r not found", 27, msg, sizeof(msg)),
        P4_HELM_CHART_NOT_FOUND);
    assert_string_equal(msg, "helm pull could not find the chart: repo r not found");
    /* A control character in the command too. */
    assert_int_equal(classify_err("pu\nll", "Error: boom", msg, sizeof(msg)), P4_HELM_FAILED);
    assert_string_equal(msg, "helm pu ll failed (exit status 1): boom");
}

static void long_lines_are_cut(void **state)
{
    size_t n = 100000;
    char *err = malloc(n + 1), msg[P4_ERROR_MESSAGE_MAX];
    const char *quote;

    (void)state;
    assert_non_null(err);
    memcpy(err, "Error: template: ", 17);
    memset(err + 17, 'x', n - 17);
    err[n] = '\0';
    assert_int_equal(classify_err("template", err, msg, sizeof(msg)),
                     P4_HELM_TEMPLATE_RENDER_FAILED);
    quote = msg + strlen("the chart's templates do not render: ");
    assert_int_equal(strlen(quote), P4_HELM_RENDER_QUOTE_MAX);
    assert_memory_equal(quote, "template: xxx", 13);
    assert_string_equal(quote + P4_HELM_RENDER_QUOTE_MAX - 3, "...");
    free(err);
}

/* A chart's `fail` of several lines (Bitnami's validateValues in NOTES.txt): helm's whole first
   paragraph is quoted, not only "execution error at (...):", and nothing after the blank line. */
static void template_error_paragraph_is_quoted_whole(void **state)
{
    static const char err[] =
        "Error: execution error at (regweb/templates/NOTES.txt:11:4): \n"
        "VALUES VALIDATION:\n"
        "regweb: auth.password\n"
        "    A password is required when auth.enabled is true: set auth.password.\n"
        "\n"
        "Use --debug flag to render out invalid YAML\n";
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(classify_err("template", err, msg, sizeof(msg)),
                     P4_HELM_TEMPLATE_RENDER_FAILED);
    assert_string_equal(msg, "the chart's templates do not render: execution error at "
                             "(regweb/templates/NOTES.txt:11:4): VALUES VALIDATION: regweb: "
                             "auth.password A password is required when auth.enabled is true: "
                             "set auth.password.");
}

static void small_buffers_never_overflow(void **state)
{
    static const char err[] = "Error: chart \"webapp\" version \"9.9.9\" not found in "
                              "http://127.0.0.1:49326 repository\n";
    char buf[64];

    (void)state;
    assert_int_equal(classify_err("pull", err, NULL, 0), P4_HELM_CHART_NOT_FOUND);
    for (size_t size = 1; size < 40; size++) {
        memset(buf, '#', sizeof(buf));
        assert_int_equal(classify_err("pull", err, buf, size), P4_HELM_CHART_NOT_FOUND);
        assert_int_equal(strlen(buf), size - 1);
        for (size_t i = size; i < sizeof(buf); i++)
            assert_int_equal(buf[i], '#');
        if (size >= 4)
            assert_string_equal(buf + size - 4, "...");
    }
    memset(buf, '#', sizeof(buf));
    assert_int_equal(p4_helm_dry_run_rejected("Deployment", "shop", "web", "bad", buf, 20),
                     P4_HELM_DRY_RUN_REJECTED);
    assert_string_equal(buf, "the API server r...");
    assert_int_equal(buf[20], '#');
}

/* A block of n violations in the order given by step (a permutation of 0..n-1 when gcd = 1). */
static char *violations(size_t n, size_t step)
{
    size_t size = 128 + n * 64, len;
    char *s = malloc(size);

    assert_non_null(s);
    len = (size_t)snprintf(s, size,
                           "Error: values don't meet the specifications of the schema(s) in the "
                           "following chart(s):\nwebapp:\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, size - len,
                                "- at '/field%03zu': got string, want integer\n", (i * step) % n);
    return s;
}

static void many_violations_are_counted_and_sorted(void **state)
{
    char a[P4_ERROR_MESSAGE_MAX], b[P4_ERROR_MESSAGE_MAX];
    char *in1 = violations(100, 1), *in2 = violations(100, 7);

    (void)state;
    assert_int_equal(classify_err("template", in1, a, sizeof(a)), P4_HELM_VALUES_SCHEMA_INVALID);
    assert_int_equal(classify_err("template", in2, b, sizeof(b)), P4_HELM_VALUES_SCHEMA_INVALID);
    /* The same violations in another order give the same message. */
    assert_string_equal(a, b);
    assert_memory_equal(
        a,
        "values do not match the chart's values.schema.json: /field000: got string, "
        "want integer; /field001: got string, want integer; ",
        124);
    assert_non_null(strstr(a, " more)"));
    assert_true(strlen(a) < sizeof(a) - 1);
    assert_null(strstr(a, "..."));
    /* Only 64 are kept: the count still says how many helm reported. */
    {
        size_t listed = 0, more = 0;
        const char *p = strstr(a, " (+");

        for (const char *s = a; (s = strstr(s, "/field")) != NULL; s++)
            listed++;
        assert_non_null(p);
        more = (size_t)strtoul(p + 3, NULL, 10);
        assert_int_equal(listed + more, 100);
    }
    free(in1);
    free(in2);
}

static void schema_groups_and_duplicates(void **state)
{
    static const char out[] =
        "==> Linting ./webapp\n"
        "[ERROR] values.yaml: - at '/b': got string, want integer\n"
        "\n"
        "[ERROR] templates/: values don't meet the specifications of the schema(s) in the "
        "following chart(s):\n"
        "webapp:\n"
        "- at '': 'allOf' failed\n"
        "  - at '/a': 'anyOf' failed\n"
        "    - at '/a': got null, want string\n"
        "    - at '/a': got null, want number\n"
        "- at '/b': got string, want integer\n"
        "- at '/b': got string, want integer\n"
        "- at '/c\n"
        "\n";
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(p4_helm_classify("lint", 1, out, sizeof(out) - 1, NULL, 0, msg, sizeof(msg)),
                     P4_HELM_VALUES_SCHEMA_INVALID);
    assert_string_equal(msg, "values do not match the chart's values.schema.json: /a: got null, "
                             "want number; /a: got null, want string; /b: got string, want "
                             "integer; /c: ");
}

static void schema_lines_without_a_header(void **state)
{
    static const char out[] =
        "[ERROR] values.yaml: - at '/replicaCount': got string, want integer\n"
        "- at '/image': validation failed\n"
        "  - at '/image/tag': got number, want string\n";
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(p4_helm_classify("lint", 1, out, sizeof(out) - 1, NULL, 0, msg, sizeof(msg)),
                     P4_HELM_VALUES_SCHEMA_INVALID);
    assert_string_equal(msg, "values do not match the chart's values.schema.json: /image/tag: got "
                             "number, want string; /replicaCount: got string, want integer");
    assert_int_equal(classify_err("template",
                                  "Error: values don't meet the specifications of the schema(s) "
                                  "in the following chart(s):\n",
                                  msg, sizeof(msg)),
                     P4_HELM_VALUES_SCHEMA_INVALID);
    assert_string_equal(msg,
                        "values do not match the chart's values.schema.json (helm named no field)");
}

static void other_failures(void **state)
{
    static const char summary[] = "Error: 1 chart(s) linted, 1 chart(s) failed\n";
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(p4_helm_classify("template", 2, NULL, 0, NULL, 0, msg, sizeof(msg)),
                     P4_HELM_FAILED);
    assert_string_equal(msg, "helm template failed (exit status 2) without an error message");
    assert_int_equal(p4_helm_classify(NULL, 1, NULL, 0, "x\n  \n", 5, msg, sizeof(msg)),
                     P4_HELM_FAILED);
    assert_string_equal(msg, "helm failed (exit status 1): x");
    /* Log lines before the error line are not quoted. */
    assert_int_equal(classify_err("template",
                                  "Pulled: r/c:1\nDigest: sha256:0\nError: open x: permission "
                                  "denied\n",
                                  msg, sizeof(msg)),
                     P4_HELM_FAILED);
    assert_string_equal(msg, "helm template failed (exit status 1): open x: permission denied");
    assert_int_equal(classify_err("pull",
                                  "Error: GET \"https://r/v2/c/tags/list\": response status code "
                                  "503: service unavailable\n",
                                  msg, sizeof(msg)),
                     P4_HELM_REPO_UNAVAILABLE);
    assert_int_equal(classify_err("pull",
                                  "Error: Get \"https://r/index.yaml\": net/http: TLS "
                                  "handshake timeout\n",
                                  msg, sizeof(msg)),
                     P4_HELM_REPO_UNAVAILABLE);
    assert_int_equal(classify_err("pull",
                                  "Error: failed to fetch https://r/index.yaml : 403 "
                                  "Forbidden\n",
                                  msg, sizeof(msg)),
                     P4_HELM_REPO_AUTH_FAILED);
    /* Success is success, whatever was written. */
    assert_int_equal(classify_err(NULL, "", msg, sizeof(msg)), P4_HELM_FAILED);
    assert_int_equal(p4_helm_classify("lint", 0, "[ERROR] x: y\n", 13, NULL, 0, msg, sizeof(msg)),
                     P4_HELM_OK);
    assert_string_equal(msg, "");
    /* Lint with nothing readable still says lint. */
    assert_int_equal(
        p4_helm_classify("lint", 1, NULL, 0, summary, sizeof(summary) - 1, msg, sizeof(msg)),
        P4_HELM_LINT_FAILED);
    assert_string_equal(msg,
                        "the chart fails helm lint: Error: 1 chart(s) linted, 1 chart(s) failed");
    /* The command may carry its flags. */
    assert_int_equal(p4_helm_classify("lint --strict", 1, NULL, 0, summary, sizeof(summary) - 1,
                                      msg, sizeof(msg)),
                     P4_HELM_LINT_FAILED);
    assert_int_equal(
        p4_helm_classify("linter", 1, NULL, 0, summary, sizeof(summary) - 1, msg, sizeof(msg)),
        P4_HELM_FAILED);
    /* An [ERROR] with its reason on tab-indented lines under it. */
    assert_int_equal(p4_helm_classify("lint", 1,
                                      "[ERROR] : unable to load chart\n\tvalidation: x\n", 46, NULL,
                                      0, msg, sizeof(msg)),
                     P4_HELM_LINT_FAILED);
    assert_string_equal(msg,
                        "the chart fails helm lint (1 problem): [ERROR] : unable to load chart "
                        "validation: x");
}

static void run_results(void **state)
{
    struct p4_childproc_result res = {0};
    char msg[P4_ERROR_MESSAGE_MAX];
    static const char err[] = "Error: repo nope not found\n";

    (void)state;
    res.out = "";
    res.err = err;
    res.err_len = sizeof(err) - 1;
    res.timeout_ms = 120000;
    res.timed_out = true;
    res.term_signal = 15;
    assert_int_equal(p4_helm_classify_run("template", &res, msg, sizeof(msg)), P4_HELM_TIMED_OUT);
    assert_string_equal(msg, "helm template did not finish within 120 s and was stopped");
    res.timeout_ms = 1500;
    assert_int_equal(p4_helm_classify_run("template", &res, msg, sizeof(msg)), P4_HELM_TIMED_OUT);
    assert_string_equal(msg, "helm template did not finish within 1500 ms and was stopped");
    res.timed_out = false;
    res.term_signal = 9;
    assert_int_equal(p4_helm_classify_run("pull", &res, msg, sizeof(msg)), P4_HELM_FAILED);
    assert_string_equal(msg, "helm pull was killed by signal 9");
    res.term_signal = 0;
    res.exit_status = 1;
    assert_int_equal(p4_helm_classify_run("template", &res, msg, sizeof(msg)),
                     P4_HELM_CHART_NOT_FOUND);
    assert_string_equal(msg, "helm template could not find the chart: repo nope not found");
    res.exit_status = 0;
    assert_int_equal(p4_helm_classify_run("template", &res, msg, sizeof(msg)), P4_HELM_OK);
    res.out_truncated = true;
    res.out_len = 8388608;
    assert_int_equal(p4_helm_classify_run("template", &res, msg, sizeof(msg)), P4_HELM_FAILED);
    assert_string_equal(
        msg, "helm template wrote more than the 8388608 bytes of output the operator keeps");
    assert_int_equal(p4_helm_classify_run("template", NULL, msg, sizeof(msg)), P4_HELM_FAILED);
    assert_string_equal(msg, "helm template gave no result");
}

static void dry_run_messages(void **state)
{
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(p4_helm_dry_run_rejected("Deployment", "shop", "rel-webapp",
                                              "Deployment.apps \"rel-webapp\" is invalid: "
                                              "spec.replicas: Invalid value: -1: must be greater "
                                              "than or equal to 0",
                                              msg, sizeof(msg)),
                     P4_HELM_DRY_RUN_REJECTED);
    assert_string_equal(msg, "the API server rejected Deployment shop/rel-webapp in a server-side "
                             "dry run: Deployment.apps \"rel-webapp\" is invalid: spec.replicas: "
                             "Invalid value: -1: must be greater than or equal to 0");
    assert_int_equal(p4_helm_dry_run_rejected("ClusterRole", NULL, "x", "a\nb", msg, sizeof(msg)),
                     P4_HELM_DRY_RUN_REJECTED);
    assert_string_equal(msg, "the API server rejected ClusterRole x in a server-side dry run: a b");
    assert_int_equal(p4_helm_dry_run_rejected(NULL, "", NULL, NULL, msg, sizeof(msg)),
                     P4_HELM_DRY_RUN_REJECTED);
    assert_string_equal(msg, "the API server rejected an object in a server-side dry run");
}

static void huge_binary_output(void **state)
{
    size_t n = 8u << 20;
    unsigned char *out = malloc(n), *err = malloc(n);
    char msg[P4_ERROR_MESSAGE_MAX];
    uint32_t x = 2463534242u;

    (void)state;
    assert_non_null(out);
    assert_non_null(err);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = (unsigned char)x;
        err[i] = (unsigned char)(x >> 8);
    }
    (void)p4_helm_classify("lint", 1, (char *)out, n, (char *)err, n, msg, sizeof(msg));
    assert_printable(msg);
    (void)p4_helm_classify("template", 1, (char *)out, n, (char *)err, n, msg, sizeof(msg));
    assert_printable(msg);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_helm_output_is_classified),
        cmocka_unit_test(every_fixture_has_a_case),
        cmocka_unit_test(values_are_not_quoted),
        cmocka_unit_test(reason_names_are_stable),
        cmocka_unit_test(hostile_bytes_are_cleaned),
        cmocka_unit_test(long_lines_are_cut),
        cmocka_unit_test(template_error_paragraph_is_quoted_whole),
        cmocka_unit_test(small_buffers_never_overflow),
        cmocka_unit_test(many_violations_are_counted_and_sorted),
        cmocka_unit_test(schema_groups_and_duplicates),
        cmocka_unit_test(schema_lines_without_a_header),
        cmocka_unit_test(other_failures),
        cmocka_unit_test(run_results),
        cmocka_unit_test(dry_run_messages),
        cmocka_unit_test(huge_binary_output),
    };
    return cmocka_run_group_tests_name("helmout", tests, NULL, NULL);
}
