/*
 * helmstage_test.c: the Helm stage's own decisions (stages/helm/steps.h), without a loop, a
 * cluster or helm: which gate fails, with which failure class and reason, for each answer the
 * API server, chartfetch or helm may give; which gates are shown NotChecked; what helm is run
 * with (arguments, values); what is read from spec.chart; and the manifest Secret's name,
 * content and pruning.
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

#include "phase4/core/json.h"
#include "phase4/core/redact.h"
#include "phase4/scan/scanreport.h"
#include "stages/helm/steps.h"
#include "stages/helm/values.h"
#include "testjson.h"

#define HELM_FIXTURES "test/unit/fixtures/helm/"

/* Assert a decision: gate, class and reason. */
#define assert_failure(f, want_gate, want_cls, want_reason)                                        \
    do {                                                                                           \
        assert_int_equal((f).gate, (want_gate));                                                   \
        assert_int_equal((f).cls, (want_cls));                                                     \
        assert_non_null((f).reason);                                                               \
        assert_string_equal((f).reason, (want_reason));                                            \
    } while (0)

/* A failure no decision gives, to see that a "no failure" answer leaves it alone. */
static const struct failure untouched = {.cls = P4_FAIL_NONE, .gate = G_COUNT, .reason = "-"};

/* ---- spec.chart.valuesFrom: what an attempt reads ---- */

static void work_takes_values_from_entries(void **state)
{
    cJSON *chart =
        test_json("{'valuesFrom':["
                  "{'kind':'ConfigMap','name':'base'},"
                  "{'kind':'Secret','name':'creds','valuesKey':'prod.yaml',"
                  "'optional':true},"
                  "{'kind':'Secret','name':'tag','valuesKey':'','targetPath':'image.tag'},"
                  "{'kind':'Pod','name':'odd','targetPath':''}]}");
    struct work *w = p4_helm_work_new(chart);

    (void)state;
    assert_int_equal(w->nsrc, 4);
    assert_string_equal(w->src[0].kind, "ConfigMap");
    assert_string_equal(w->src[0].name, "base");
    assert_string_equal(w->src[0].key, P4_VALUES_DEFAULT_KEY);
    assert_null(w->src[0].target_path);
    assert_false(w->src[0].optional);
    assert_string_equal(w->src[1].kind, "Secret");
    assert_string_equal(w->src[1].key, "prod.yaml");
    assert_true(w->src[1].optional);
    assert_string_equal(w->src[2].key, P4_VALUES_DEFAULT_KEY); /* "" reads as no key */
    assert_string_equal(w->src[2].target_path, "image.tag");
    assert_string_equal(w->src[3].kind, "ConfigMap"); /* any kind but Secret is a ConfigMap */
    assert_null(w->src[3].target_path);               /* "" reads as no path */
    for (size_t i = 0; i < w->nsrc; i++)
        assert_null(w->src[i].text); /* nothing read yet */
    p4_helm_work_free(w);
    cJSON_Delete(chart);
}

static void work_skips_entries_without_kind_or_name(void **state)
{
    cJSON *chart = test_json("{'valuesFrom':[{'name':'nokind'},{'kind':'Secret'},"
                             "{'kind':1,'name':'x'},{'kind':'Secret','name':2},"
                             "'text',{'kind':'ConfigMap','name':'kept'}]}");
    struct work *w = p4_helm_work_new(chart);

    (void)state;
    assert_int_equal(w->nsrc, 1);
    assert_string_equal(w->src[0].name, "kept");
    p4_helm_work_free(w);
    cJSON_Delete(chart);

    /* no valuesFrom, or one that is not a list: nothing to read */
    chart = test_json("{'name':'web'}");
    w = p4_helm_work_new(chart);
    assert_int_equal(w->nsrc, 0);
    p4_helm_work_free(w);
    cJSON_Delete(chart);
    chart = test_json("{'valuesFrom':'base'}");
    w = p4_helm_work_new(chart);
    assert_int_equal(w->nsrc, 0);
    p4_helm_work_free(w);
    cJSON_Delete(chart);
    w = p4_helm_work_new(NULL);
    assert_int_equal(w->nsrc, 0);
    p4_helm_work_free(w);
    p4_helm_work_free(NULL);
}

static void work_reads_at_most_sources_max(void **state)
{
    cJSON *chart = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(chart, "valuesFrom");
    struct work *w;
    char name[32];

    (void)state;
    for (int i = 0; i < SOURCES_MAX + 8; i++) {
        cJSON *e = cJSON_CreateObject();
        (void)snprintf(name, sizeof(name), "cm-%d", i);
        cJSON_AddStringToObject(e, "kind", "ConfigMap");
        cJSON_AddStringToObject(e, "name", name);
        cJSON_AddItemToArray(list, e);
    }
    w = p4_helm_work_new(chart);
    assert_int_equal(w->nsrc, SOURCES_MAX);
    assert_string_equal(w->src[SOURCES_MAX - 1].name, "cm-31");
    p4_helm_work_free(w);
    cJSON_Delete(chart);
}

/* ---- S_READ ---- */

static void version_answers(void **state)
{
    struct failure f = untouched;

    (void)state;
    assert_false(p4_helm_version_failure(0, "v1.31.2", &f));
    assert_ptr_equal(f.reason, untouched.reason);
    assert_true(p4_helm_version_failure(0, NULL, &f)); /* no gitVersion */
    assert_failure(f, G_DRYRUN, P4_FAIL_TRANSIENT, "APIUnavailable");
    f = untouched;
    assert_true(p4_helm_version_failure(P4_ERR_UNAVAILABLE, NULL, &f));
    assert_failure(f, G_DRYRUN, P4_FAIL_TRANSIENT, "APIUnavailable");
    f = untouched;
    assert_true(p4_helm_version_failure(P4_ERR_FORBIDDEN, "v1.31.2", &f));
    assert_failure(f, G_DRYRUN, P4_FAIL_TRANSIENT, "APIUnavailable");
}

static void credentials_answers(void **state)
{
    struct failure f = untouched;

    (void)state;
    assert_false(p4_helm_credentials_failure(0, true, &f));
    assert_ptr_equal(f.reason, untouched.reason);
    assert_true(p4_helm_credentials_failure(0, false, &f));
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "ChartSecretInvalid");
    assert_true(p4_helm_credentials_failure(P4_ERR_NOTFOUND, false, &f));
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "ChartSecretNotFound");
    assert_true(p4_helm_credentials_failure(P4_ERR_FORBIDDEN, false, &f));
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "APIUnavailable");
    assert_true(p4_helm_credentials_failure(P4_ERR_UNAVAILABLE, true, &f));
    assert_failure(f, G_PACKAGED, P4_FAIL_TRANSIENT, "APIUnavailable");
    assert_true(p4_helm_credentials_failure(P4_ERR_TIMEOUT, true, &f));
    assert_failure(f, G_PACKAGED, P4_FAIL_TRANSIENT, "APIUnavailable");
}

static void ca_answers(void **state)
{
    struct failure f = untouched;

    (void)state;
    assert_false(p4_helm_ca_failure(0, true, &f));
    assert_ptr_equal(f.reason, untouched.reason);
    assert_true(p4_helm_ca_failure(0, false, &f)); /* the key is missing */
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "CABundleNotFound");
    assert_true(p4_helm_ca_failure(P4_ERR_NOTFOUND, false, &f));
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "CABundleNotFound");
    assert_true(p4_helm_ca_failure(P4_ERR_UNAUTHORIZED, false, &f));
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "APIUnavailable");
    assert_true(p4_helm_ca_failure(P4_ERR_TRANSPORT, false, &f));
    assert_failure(f, G_PACKAGED, P4_FAIL_TRANSIENT, "APIUnavailable");
}

static void values_source_answers(void **state)
{
    struct failure f = untouched;

    (void)state;
    assert_false(p4_helm_source_failure(0, &f));
    /* a missing object is for the values composition to judge (optional or not) */
    assert_false(p4_helm_source_failure(P4_ERR_NOTFOUND, &f));
    assert_ptr_equal(f.reason, untouched.reason);
    assert_true(p4_helm_source_failure(P4_ERR_FORBIDDEN, &f));
    assert_failure(f, G_VALUES, P4_FAIL_CLUSTER, "Forbidden");
    assert_true(p4_helm_source_failure(P4_ERR_UNAUTHORIZED, &f));
    assert_failure(f, G_VALUES, P4_FAIL_CLUSTER, "APIUnavailable");
    assert_true(p4_helm_source_failure(P4_ERR_UNAVAILABLE, &f));
    assert_failure(f, G_VALUES, P4_FAIL_TRANSIENT, "APIUnavailable");
    assert_true(p4_helm_source_failure(P4_ERR_TIMEOUT, &f));
    assert_failure(f, G_VALUES, P4_FAIL_TRANSIENT, "APIUnavailable");
}

/* ---- S_FETCH ---- */

static void fetch_failures(void **state)
{
    static const struct {
        int rc;
        enum p4_failure_class cls;
    } cases[] = {
        {P4_ERR_NOTFOUND, P4_FAIL_ARTIFACT},     {P4_ERR_INVALID, P4_FAIL_ARTIFACT},
        {P4_ERR_TOOBIG, P4_FAIL_ARTIFACT},       {P4_ERR_PARSE, P4_FAIL_ARTIFACT},
        {P4_ERR_UNAUTHORIZED, P4_FAIL_CLUSTER},  {P4_ERR_FORBIDDEN, P4_FAIL_CLUSTER},
        {P4_ERR_TLS, P4_FAIL_CLUSTER},           {P4_ERR_INVAL, P4_FAIL_CLUSTER},
        {P4_ERR_UNAVAILABLE, P4_FAIL_TRANSIENT}, {P4_ERR_TRANSPORT, P4_FAIL_TRANSIENT},
        {P4_ERR_TIMEOUT, P4_FAIL_TRANSIENT},     {P4_ERR_IO, P4_FAIL_TRANSIENT},
        {P4_ERR_INSECURE, P4_FAIL_CLUSTER},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct failure f = p4_helm_fetch_failure(cases[i].rc, "ChartNotFound");
        assert_failure(f, G_PACKAGED, cases[i].cls, "ChartNotFound");
        /* without chartfetch's reason, the error code's */
        f = p4_helm_fetch_failure(cases[i].rc, NULL);
        assert_failure(f, G_PACKAGED, cases[i].cls, p4_err_reason(cases[i].rc));
    }
}

/* chartfetch would not start: credentials over plain HTTP, or a URL with credentials in it. */
static void fetch_refusals_name_the_repository_without_user_information(void **state)
{
    char msg[P4_ERROR_MESSAGE_MAX];
    struct failure f;

    (void)state;
    f = p4_helm_fetch_refused(P4_ERR_INSECURE, "http://charts.example.com/stable", msg,
                              sizeof(msg));
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "InsecureCredentials");
    assert_non_null(strstr(msg, "http://charts.example.com/stable over plain HTTP"));
    assert_non_null(strstr(msg, "spec.chart.insecure: true"));

    f = p4_helm_fetch_refused(P4_ERR_INVAL, "https://bob:hunter2@charts.example.com/x", msg,
                              sizeof(msg));
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "InvalidChartRepository");
    assert_null(strstr(msg, "hunter2"));
    assert_null(strstr(msg, "bob"));
    assert_non_null(strstr(msg, "https://***@charts.example.com/x has credentials in it"));

    f = p4_helm_fetch_refused(P4_ERR_INVAL, "ftp://charts.example.com", msg, sizeof(msg));
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "InvalidChartRepository");
    assert_non_null(strstr(msg, "ftp://charts.example.com is not a chart repository URL"));
    f = p4_helm_fetch_refused(P4_ERR_INVAL, NULL, msg, sizeof(msg));
    assert_failure(f, G_PACKAGED, P4_FAIL_CLUSTER, "InvalidChartRepository");
}

/* What of a valuesFrom Secret and of the chart's credentials goes into the redaction set. */
static void secrets_read_are_redacted(void **state)
{
    static const char doc[] = "db:\n  password: hunter2hunter2\n  host: db.internal\n";
    static const char multi[] = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n"
                                "-----END KEY-----\n";
    struct source whole = {.kind = "Secret", .text = (char *)doc, .len = sizeof(doc) - 1};
    struct source at = {.kind = "Secret",
                        .target_path = (char *)"tls.key",
                        .text = (char *)multi,
                        .len = sizeof(multi) - 1};
    struct source broken = {
        .kind = "Secret", .text = (char *)"a: [unclosed-list-item-x", .len = 24};
    struct source missing = {.kind = "Secret"};
    struct p4_redact *set = p4_redact_new();
    char text[512];
    size_t n;

    (void)state;
    p4_helm_source_secrets(set, &whole);
    p4_helm_source_secrets(set, &at);
    p4_helm_source_secrets(set, &broken);
    p4_helm_source_secrets(set, &missing);
    p4_helm_credential_secrets(set, "robot", "repo-password-1");
    p4_helm_credential_secrets(set, NULL, NULL);
    (void)snprintf(text, sizeof(text),
                   "Error: hunter2hunter2 at db.internal; key -----BEGIN KEY-----\n"
                   "  MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n  -----END KEY-----; "
                   "line MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX; {a: [unclosed-list-item-x}; "
                   "robot repo-password-1 cm9ib3Q6cmVwby1wYXNzd29yZC0x; password");
    n = p4_redact_buf(set, text, strlen(text), 0);
    text[n] = '\0';
    assert_string_equal(text,
                        "Error: *** at ***; key ***; line ***; {***}; robot *** ***; password");
    p4_redact_free(set);
}

static void chart_request_for_http_repository(void **state)
{
    cJSON *chart = test_json("{'repository':'https://charts.example.com/stable','name':'web',"
                             "'version':'~1.2'}");
    struct work w = {0};
    struct p4_chart_request req;
    struct p4_regauth_entry cred;
    char host[256] = "";
    unsigned char ca[] = "-----BEGIN CERTIFICATE-----";

    (void)state;
    w.username = "bob";
    w.password = "hunter2";
    w.ca = ca;
    w.ca_len = sizeof(ca) - 1;
    p4_helm_chart_request(chart, &w, &req, &cred, host, sizeof(host));
    assert_string_equal(req.repository, "https://charts.example.com/stable");
    assert_string_equal(req.name, "web");
    assert_string_equal(req.version, "~1.2");
    assert_string_equal(req.username, "bob"); /* basic auth to the repository */
    assert_string_equal(req.password, "hunter2");
    assert_null(req.cred);
    assert_ptr_equal(req.ca_pem, ca);
    assert_int_equal(req.ca_len, sizeof(ca) - 1);
    assert_int_equal(req.insecure_http, 0);
    assert_string_equal(host, "");
    cJSON_Delete(chart);

    /* no version, no credentials, insecure */
    chart = test_json("{'repository':'http://127.0.0.1:8080','name':'web','insecure':true}");
    w = (struct work){0};
    p4_helm_chart_request(chart, &w, &req, &cred, host, sizeof(host));
    assert_null(req.version);
    assert_null(req.username);
    assert_null(req.password);
    assert_null(req.cred);
    assert_null(req.ca_pem);
    assert_int_equal(req.insecure_http, 1);
    cJSON_Delete(chart);

    /* no repository at all: chartfetch refuses it, the request says so */
    chart = test_json("{'name':'web'}");
    p4_helm_chart_request(chart, &w, &req, &cred, host, sizeof(host));
    assert_null(req.repository);
    assert_null(req.cred);
    cJSON_Delete(chart);
}

static void chart_request_for_oci_repository(void **state)
{
    cJSON *chart = test_json("{'repository':'oci://registry.example:5000/charts/team',"
                             "'name':'web','version':'1.2.3','insecure':false}");
    struct work w = {0};
    struct p4_chart_request req;
    struct p4_regauth_entry cred;
    char host[256] = "";

    (void)state;
    w.username = "bob";
    w.password = "hunter2";
    p4_helm_chart_request(chart, &w, &req, &cred, host, sizeof(host));
    assert_ptr_equal(req.cred, &cred);
    assert_string_equal(host, "registry.example:5000");
    assert_string_equal(cred.registry, "registry.example:5000");
    assert_string_equal(cred.host, "registry.example:5000");
    assert_string_equal(cred.normalized, "registry.example:5000");
    assert_string_equal(cred.path, "");
    assert_string_equal(cred.username, "bob");
    assert_string_equal(cred.password, "hunter2");
    assert_null(req.username); /* the registry client's auth flow, not basic auth */
    assert_null(req.password);
    assert_int_equal(req.insecure_http, 0);

    /* without credentials: anonymous */
    w = (struct work){0};
    host[0] = '\0';
    p4_helm_chart_request(chart, &w, &req, &cred, host, sizeof(host));
    assert_null(req.cred);
    assert_null(req.username);
    assert_string_equal(host, "");
    cJSON_Delete(chart);

    /* a registry without a path, and a host longer than the buffer (cut, NUL-terminated) */
    chart = test_json("{'repository':'oci://ghcr.io','name':'web'}");
    w.username = "u";
    w.password = "p";
    p4_helm_chart_request(chart, &w, &req, &cred, host, sizeof(host));
    assert_string_equal(host, "ghcr.io");
    p4_helm_chart_request(chart, &w, &req, &cred, host, 4);
    assert_string_equal(host, "ghc");
    cJSON_Delete(chart);
}

/* ---- S_LINT, S_TEMPLATE: values ---- */

/* The pin of repository (borrowed) at digest: no tag, the default value paths. */
static struct image_pin pin_of(const char *repository, const char *digest)
{
    struct image_pin pin = {.repository = (char *)repository};

    (void)snprintf(pin.digest, sizeof(pin.digest), "%s", digest);
    return pin;
}

/* A work with one valuesFrom source (text NULL: missing). */
static void one_source(struct work *w, const char *kind, const char *name, const char *text,
                       const char *target_path, bool optional)
{
    *w = (struct work){0};
    w->src[0] = (struct source){.kind = kind,
                                .name = (char *)name,
                                .key = (char *)P4_VALUES_DEFAULT_KEY,
                                .target_path = (char *)target_path,
                                .optional = optional,
                                .text = (char *)text,
                                .len = text ? strlen(text) : 0};
    w->nsrc = 1;
}

static void values_are_composed_then_the_image_pinned(void **state)
{
    cJSON *chart = test_json("{'values':{'replicas':3,'image':{'repository':'evil/img',"
                             "'tag':'latest','digest':'sha256:0000'}}}");
    struct image_pin pin = pin_of("registry.example/web", "sha256:abcd");
    struct work w;
    struct failure f = untouched;
    struct p4_error err = {0};
    size_t len = 99;
    char *text;
    cJSON *got;

    (void)state;
    one_source(&w, "ConfigMap", "base", "replicas: 2\nname: web\n", NULL, false);
    text = p4_helm_values(&w, "shop", chart, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    got = cJSON_Parse(text);
    assert_non_null(got);
    assert_int_equal(p4_json_get(got, "replicas")->valueint, 3); /* spec.chart.values last */
    assert_string_equal(p4_json_str(got, "name"), "web");        /* valuesFrom kept */
    assert_string_equal(p4_json_str(got, "image.repository"), "registry.example/web");
    assert_string_equal(p4_json_str(got, "image.digest"), "sha256:abcd"); /* pinned over both */
    assert_string_equal(p4_json_str(got, "image.tag"), "latest");
    cJSON_Delete(got);
    free(text);
    cJSON_Delete(chart);

    /* nothing given: only the pinned image */
    pin = pin_of("r/web", "sha256:ef");
    w = (struct work){0};
    text = p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_string_equal(text, "{\"image\":{\"repository\":\"r/web\",\"digest\":\"sha256:ef\"}}");
    free(text);

    /* an optional source that is missing adds nothing */
    one_source(&w, "Secret", "extra", NULL, NULL, true);
    text = p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_string_equal(text, "{\"image\":{\"repository\":\"r/web\",\"digest\":\"sha256:ef\"}}");
    free(text);
}

static void values_failures(void **state)
{
    struct image_pin pin = pin_of("r/web", "sha256:ef");
    struct work w;
    struct failure f = untouched;
    struct p4_error err = {0};
    size_t len = 99;
    cJSON *chart;

    (void)state;
    /* a source that is missing and not optional */
    one_source(&w, "ConfigMap", "base", NULL, NULL, false);
    assert_null(p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err));
    assert_failure(f, G_VALUES, P4_FAIL_CLUSTER, "ValuesSourceNotFound");
    assert_int_equal(len, 0);
    assert_non_null(strstr(err.message, "shop/base")); /* named with its namespace */

    /* a source that is not YAML, or not a mapping */
    f = untouched;
    err = (struct p4_error){0};
    one_source(&w, "Secret", "base", "a: [1, 2\n", NULL, false);
    assert_null(p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err));
    assert_failure(f, G_VALUES, P4_FAIL_CLUSTER, "ValuesSourceInvalid");
    f = untouched;
    one_source(&w, "ConfigMap", "base", "- 1\n- 2\n", NULL, false);
    assert_null(p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err));
    assert_failure(f, G_VALUES, P4_FAIL_CLUSTER, "ValuesSourceInvalid");

    /* spec.chart.values not an object */
    f = untouched;
    w = (struct work){0};
    chart = test_json("{'values':['a']}");
    assert_null(p4_helm_values(&w, "shop", chart, &pin, &len, &f, &err));
    assert_failure(f, G_VALUES, P4_FAIL_CLUSTER, "ValuesSourceInvalid");
    cJSON_Delete(chart);

    /* the image cannot be pinned: image is a string in the values */
    f = untouched;
    chart = test_json("{'values':{'image':'nginx:latest'}}");
    assert_null(p4_helm_values(&w, "shop", chart, &pin, &len, &f, &err));
    assert_failure(f, G_VALUES, P4_FAIL_CLUSTER, "ValuesSourceInvalid");
    assert_int_equal(len, 0);
    cJSON_Delete(chart);
}

static void values_at_the_paths_the_chart_reads(void **state)
{
    cJSON *paths = test_json("{'registry':'image.registry','repository':'image.repository',"
                             "'tag':'image.tag','digest':'image.digest'}");
    cJSON *chart = test_json("{'values':{'image':{'registry':'quay.io','repository':'x/y',"
                             "'tag':'stable','pullPolicy':'Always'}}}");
    struct image_pin pin = {.repository = (char *)"127.0.0.1:5000/phase4/app",
                            .tag = (char *)"1.0",
                            .digest = "sha256:ab",
                            .paths = paths};
    struct work w = {0};
    struct failure f = untouched;
    struct p4_error err = {0};
    size_t len = 99;
    char *text;

    (void)state;
    /* the host to registry, the rest to repository, the tag and the digest */
    text = p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_string_equal(text, "{\"image\":{\"registry\":\"127.0.0.1:5000\",\"repository\":"
                              "\"phase4/app\",\"tag\":\"1.0\",\"digest\":\"sha256:ab\"}}");
    free(text);

    /* over the chart's own values, the others kept */
    text = p4_helm_values(&w, "shop", chart, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_string_equal(text, "{\"image\":{\"registry\":\"127.0.0.1:5000\",\"repository\":"
                              "\"phase4/app\",\"tag\":\"1.0\",\"pullPolicy\":\"Always\","
                              "\"digest\":\"sha256:ab\"}}");
    free(text);

    /* no tag in the spec: the chart's tag stays */
    pin.tag = NULL;
    text = p4_helm_values(&w, "shop", chart, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_string_equal(text, "{\"image\":{\"registry\":\"127.0.0.1:5000\",\"repository\":"
                              "\"phase4/app\",\"tag\":\"stable\",\"pullPolicy\":\"Always\","
                              "\"digest\":\"sha256:ab\"}}");
    free(text);
    text = p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_string_equal(text, "{\"image\":{\"registry\":\"127.0.0.1:5000\",\"repository\":"
                              "\"phase4/app\",\"digest\":\"sha256:ab\"}}");
    free(text);

    /* Docker Hub, with and without a namespace, and other hosts as docker reads them */
    {
        static const struct {
            const char *repository, *registry, *rest;
        } cases[] = {
            {"team/app", "docker.io", "team/app"},
            {"nginx", "docker.io", "nginx"},
            {"docker.io/team/app", "docker.io", "team/app"},
            {"registry.example.com/team/app", "registry.example.com", "team/app"},
            {"registry.example.com:5000/a/b/c", "registry.example.com:5000", "a/b/c"},
            {"localhost/app", "localhost", "app"},
            {"localhost:5000/app", "localhost:5000", "app"},
            {"ghcr.io/owner/app", "ghcr.io", "owner/app"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            cJSON *got;

            pin.repository = (char *)cases[i].repository;
            text = p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err);
            assert_non_null(text);
            got = cJSON_Parse(text);
            assert_non_null(got);
            if (strcmp(p4_json_str(got, "image.registry"), cases[i].registry) != 0 ||
                strcmp(p4_json_str(got, "image.repository"), cases[i].rest) != 0)
                fail_msg("%s: registry %s, repository %s", cases[i].repository,
                         p4_json_str(got, "image.registry"), p4_json_str(got, "image.repository"));
            cJSON_Delete(got);
            free(text);
        }
    }
    cJSON_Delete(paths);

    /* without registry: the whole repository; no default image.repository or image.digest */
    paths = test_json("{'repository':'controller.image.repository','tag':'controller.image.tag'}");
    pin = (struct image_pin){.repository = (char *)"127.0.0.1:5000/phase4/app",
                             .tag = (char *)"1.0",
                             .digest = "sha256:ab",
                             .paths = paths};
    text = p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_string_equal(text, "{\"controller\":{\"image\":{\"repository\":"
                              "\"127.0.0.1:5000/phase4/app\",\"tag\":\"1.0\"}}}");
    free(text);
    cJSON_Delete(paths);

    /* only the digest */
    paths = test_json("{'digest':'app.digest'}");
    pin.paths = paths;
    text = p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_string_equal(text, "{\"app\":{\"digest\":\"sha256:ab\"}}");
    free(text);
    cJSON_Delete(paths);

    /* keys that name no path are skipped; an empty set of paths sets nothing */
    paths = test_json("{'registry':'','repository':7,'tag':null,'digest':'d'}");
    pin.paths = paths;
    text = p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_string_equal(text, "{\"d\":\"sha256:ab\"}");
    free(text);
    cJSON_Delete(paths);
    paths = test_json("{}");
    pin.paths = paths;
    text = p4_helm_values(&w, "shop", NULL, &pin, &len, &f, &err);
    assert_non_null(text);
    assert_string_equal(text, "{}");
    free(text);
    cJSON_Delete(paths);

    /* a path through a string of the chart's values: ValuesValid fails */
    paths = test_json("{'registry':'image.registry'}");
    pin.paths = paths;
    cJSON_Delete(chart);
    chart = test_json("{'values':{'image':'nginx:latest'}}");
    f = untouched;
    assert_null(p4_helm_values(&w, "shop", chart, &pin, &len, &f, &err));
    assert_failure(f, G_VALUES, P4_FAIL_CLUSTER, "ValuesSourceInvalid");
    assert_int_equal(len, 0);
    cJSON_Delete(paths);
    cJSON_Delete(chart);
}

/* ---- S_PIN ---- */

#define PIN_REPO "127.0.0.1:5000/phase4/app"
#define PIN_DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char two_documents[] = "---\n"
                                    "apiVersion: apps/v1\n"
                                    "kind: Deployment\n"
                                    "metadata:\n"
                                    "  name: web\n"
                                    "spec:\n"
                                    "  template:\n"
                                    "    spec:\n"
                                    "      containers:\n"
                                    "        - name: app\n"
                                    "          image: " PIN_REPO ":1.0\n"
                                    "        - name: side\n"
                                    "          image: busybox:1.36\n"
                                    "---\n"
                                    "# Source: web/templates/service.yaml\n"
                                    "apiVersion: v1\n"
                                    "kind: Service\n"
                                    "metadata:\n"
                                    "  name: web\n"
                                    "spec:\n"
                                    "  ports:\n"
                                    "    - port: 80\n";

static void manifest_pinned(void **state)
{
    struct image_pin pin = {.repository = (char *)PIN_REPO, .digest = PIN_DIGEST};
    struct failure f = untouched;
    struct p4_error err = {0};
    cJSON *objects = NULL, *again;
    char msg[P4_ERROR_MESSAGE_MAX];
    size_t len = 99;
    char *text;

    (void)state;
    text = p4_helm_pin_manifest(two_documents, strlen(two_documents), &pin, &objects, &len, msg,
                                sizeof(msg), &f);
    assert_non_null(text);
    assert_null(f.reason);
    assert_int_equal(len, strlen(text));
    assert_int_equal(strncmp(text, "---\n", 4), 0);
    assert_non_null(objects);
    assert_int_equal(cJSON_GetArraySize(objects), 2);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(p4_json_get(cJSON_GetArrayItem(objects, 0),
                                                                   "spec.template.spec.containers"),
                                                       0),
                                    "image"),
                        PIN_REPO "@" PIN_DIGEST);
    assert_string_equal(msg, "1 of 2 container(s) run " PIN_REPO "@" PIN_DIGEST
                             "; rewritten from " PIN_REPO ":1.0 (Deployment web, container app)");

    /* the text is a manifest that reads back as the same objects */
    again = p4_manifest_split(text, len, &err);
    assert_non_null(again);
    assert_int_equal(cJSON_GetArraySize(again), 2);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(again, 0), "kind"), "Deployment");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(again, 1), "kind"), "Service");
    {
        const cJSON *containers =
            p4_json_get(cJSON_GetArrayItem(again, 0), "spec.template.spec.containers");
        assert_string_equal(p4_json_str(cJSON_GetArrayItem(containers, 0), "image"),
                            PIN_REPO "@" PIN_DIGEST);
        assert_string_equal(p4_json_str(cJSON_GetArrayItem(containers, 1), "image"),
                            "busybox:1.36");
    }
    assert_int_equal(
        p4_json_get(cJSON_GetArrayItem(again, 1), "spec.ports")->child->child->valueint, 80);
    assert_true(cJSON_Compare(again, objects, 1));
    cJSON_Delete(again);
    cJSON_Delete(objects);
    free(text);

    /* pinned again: the same manifest, nothing rewritten */
    {
        char *first = p4_helm_pin_manifest(two_documents, strlen(two_documents), &pin, &objects,
                                           &len, msg, sizeof(msg), &f);
        size_t first_len = len;

        assert_non_null(first);
        cJSON_Delete(objects);
        text = p4_helm_pin_manifest(first, first_len, &pin, &objects, &len, msg, sizeof(msg), &f);
        assert_non_null(text);
        assert_int_equal(len, first_len);
        assert_string_equal(text, first);
        assert_string_equal(msg, "1 of 2 container(s) run " PIN_REPO "@" PIN_DIGEST);
        cJSON_Delete(objects);
        free(text);
        free(first);
    }
}

static void manifest_not_pinned(void **state)
{
    static const char other[] = "apiVersion: v1\n"
                                "kind: Pod\n"
                                "metadata:\n"
                                "  name: p\n"
                                "spec:\n"
                                "  containers:\n"
                                "    - name: app\n"
                                "      image: ghcr.io/other/app:2\n";
    static const char nothing[] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
    struct image_pin pin = {.repository = (char *)PIN_REPO, .digest = PIN_DIGEST};
    struct failure f = untouched;
    cJSON sentinel = {0}, *objects = &sentinel; /* to see it set to NULL */
    char msg[P4_ERROR_MESSAGE_MAX];
    size_t len = 99;

    (void)state;
    /* no container runs the repository */
    assert_null(
        p4_helm_pin_manifest(other, strlen(other), &pin, &objects, &len, msg, sizeof(msg), &f));
    assert_failure(f, G_PINNED, P4_FAIL_ARTIFACT, "ImageNotReferenced");
    assert_null(objects);
    assert_int_equal(len, 0);
    assert_non_null(strstr(msg, "no container runs " PIN_REPO "; the chart runs "
                                "ghcr.io/other/app:2 (Pod p, container app)"));

    /* no container at all, and no manifest at all */
    f = untouched;
    objects = &sentinel;
    assert_null(
        p4_helm_pin_manifest(nothing, strlen(nothing), &pin, &objects, &len, msg, sizeof(msg), &f));
    assert_failure(f, G_PINNED, P4_FAIL_ARTIFACT, "ImageNotReferenced");
    assert_null(objects);
    assert_non_null(strstr(msg, "the chart runs no container"));
    f = untouched;
    objects = &sentinel;
    assert_null(p4_helm_pin_manifest(NULL, 0, &pin, &objects, &len, msg, sizeof(msg), &f));
    assert_failure(f, G_PINNED, P4_FAIL_ARTIFACT, "ImageNotReferenced");
    assert_null(objects);

    /* a message buffer too small: cut, terminated */
    f = untouched;
    assert_null(p4_helm_pin_manifest(other, strlen(other), &pin, &objects, &len, msg, 8, &f));
    assert_string_equal(msg, "no cont");
    assert_failure(f, G_PINNED, P4_FAIL_ARTIFACT, "ImageNotReferenced");

    /* the repository to pin is not an image reference */
    f = untouched;
    objects = &sentinel;
    pin.repository = (char *)"Not/Valid";
    assert_null(p4_helm_pin_manifest(two_documents, strlen(two_documents), &pin, &objects, &len,
                                     msg, sizeof(msg), &f));
    assert_failure(f, G_PINNED, P4_FAIL_ARTIFACT, "InvalidImage");
    assert_null(objects);
    assert_non_null(strstr(msg, "not valid"));
    pin.repository = (char *)PIN_REPO;
    (void)snprintf(pin.digest, sizeof(pin.digest), "sha256:beef");
    f = untouched;
    objects = &sentinel;
    assert_null(p4_helm_pin_manifest(two_documents, strlen(two_documents), &pin, &objects, &len,
                                     msg, sizeof(msg), &f));
    assert_failure(f, G_PINNED, P4_FAIL_ARTIFACT, "InvalidImage");
    assert_null(objects);
}

static void manifest_unparsable(void **state)
{
    static const char broken[] = "apiVersion: v1\nkind: [ConfigMap\n";
    static const char unnamed[] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n";
    struct image_pin pin = {.repository = (char *)PIN_REPO, .digest = PIN_DIGEST};
    struct failure f = untouched;
    cJSON sentinel = {0}, *objects = &sentinel;
    char msg[P4_ERROR_MESSAGE_MAX] = "";
    size_t len = 99;

    (void)state;
    assert_null(
        p4_helm_pin_manifest(broken, strlen(broken), &pin, &objects, &len, msg, sizeof(msg), &f));
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "TemplateRenderFailed");
    assert_null(objects);
    assert_int_equal(len, 0);
    assert_true(msg[0] != '\0');
    f = untouched;
    objects = &sentinel;
    msg[0] = '\0';
    assert_null(
        p4_helm_pin_manifest(unnamed, strlen(unnamed), &pin, &objects, &len, msg, sizeof(msg), &f));
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "TemplateRenderFailed");
    assert_null(objects);
    assert_non_null(strstr(msg, "metadata.name"));
}

/* ---- S_LINT, S_TEMPLATE: helm's arguments ---- */

/* argv as one string, arguments separated by spaces, for comparing. */
static const char *joined(const char **argv)
{
    static char buf[1024];
    size_t n = 0;

    buf[0] = '\0';
    for (int i = 0; argv[i] != NULL; i++) {
        assert_true(i < HELM_ARGV_MAX - 1);
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "", argv[i]);
        assert_true(n < sizeof(buf));
    }
    return buf;
}

static void helm_arguments(void **state)
{
    struct run r = {0};
    struct work w = {0};
    const char *argv[HELM_ARGV_MAX];

    (void)state;
    r.w = &w;
    r.base.name = (char *)"web";
    r.base.target_ns = (char *)"shop";
    (void)snprintf(w.chart_path, sizeof(w.chart_path), "/cache/sha256-ab.tgz");
    (void)snprintf(w.kube_version, sizeof(w.kube_version), "v1.31.2");
    w.api_versions = (char *)"apps/v1,v1,example.com/v1/Widget";
    p4_helm_lint_argv(&r, argv);
    assert_string_equal(joined(argv), "lint /cache/sha256-ab.tgz --strict --values - --namespace "
                                      "shop --kube-version v1.31.2");
    p4_helm_template_argv(&r, argv);
    assert_string_equal(joined(argv),
                        "template web /cache/sha256-ab.tgz --values - --namespace shop "
                        "--include-crds --skip-tests --kube-version v1.31.2 --api-versions "
                        "apps/v1,v1,example.com/v1/Widget");

    /* the cluster's version unknown, API versions empty: helm's defaults */
    w.kube_version[0] = '\0';
    w.api_versions = (char *)"";
    p4_helm_lint_argv(&r, argv);
    assert_string_equal(joined(argv),
                        "lint /cache/sha256-ab.tgz --strict --values - --namespace shop");
    p4_helm_template_argv(&r, argv);
    assert_string_equal(joined(argv), "template web /cache/sha256-ab.tgz --values - --namespace "
                                      "shop --include-crds --skip-tests");
    w.api_versions = NULL;
    p4_helm_template_argv(&r, argv);
    assert_string_equal(joined(argv), "template web /cache/sha256-ab.tgz --values - --namespace "
                                      "shop --include-crds --skip-tests");
    /* spec.validation.helmTests: the chart's test hooks are rendered, for the Validation stage */
    r.helm_tests = true;
    p4_helm_template_argv(&r, argv);
    assert_string_equal(joined(argv), "template web /cache/sha256-ab.tgz --values - --namespace "
                                      "shop --include-crds");
}

/* ---- S_LINT, S_TEMPLATE: helm's failures ---- */

static void helm_run_failed_or_not(void **state)
{
    struct p4_childproc_result res = {.out = "", .err = ""};

    (void)state;
    assert_false(p4_helm_run_failed(&res, false));
    assert_false(p4_helm_run_failed(&res, true));
    res.exit_status = 1;
    assert_true(p4_helm_run_failed(&res, false));
    res.exit_status = 0;
    res.term_signal = 9;
    assert_true(p4_helm_run_failed(&res, false));
    res.term_signal = 0;
    res.timed_out = true;
    assert_true(p4_helm_run_failed(&res, false));
    res.timed_out = false;
    /* output cut at the limit: lint ignores its output, template's is the manifest */
    res.out_truncated = true;
    assert_false(p4_helm_run_failed(&res, false));
    assert_true(p4_helm_run_failed(&res, true));
}

static void helm_reasons_map_to_gate_and_class(void **state)
{
    static const struct {
        enum p4_helm_reason why;
        int gate; /* -1: the step's own gate */
        enum p4_failure_class cls;
    } cases[] = {
        {P4_HELM_CHART_NOT_FOUND, G_PACKAGED, P4_FAIL_ARTIFACT},
        {P4_HELM_REPO_UNAVAILABLE, G_PACKAGED, P4_FAIL_TRANSIENT},
        {P4_HELM_REPO_AUTH_FAILED, G_PACKAGED, P4_FAIL_CLUSTER},
        {P4_HELM_REPO_TLS_ERROR, G_PACKAGED, P4_FAIL_CLUSTER},
        {P4_HELM_LINT_FAILED, G_LINTS, P4_FAIL_ARTIFACT},
        {P4_HELM_VALUES_SCHEMA_INVALID, G_VALUES, P4_FAIL_ARTIFACT},
        {P4_HELM_TEMPLATE_RENDER_FAILED, G_DRYRUN, P4_FAIL_ARTIFACT},
        {P4_HELM_DRY_RUN_REJECTED, G_DRYRUN, P4_FAIL_ARTIFACT},
        {P4_HELM_TIMED_OUT, -1, P4_FAIL_TRANSIENT},
        {P4_HELM_FAILED, -1, P4_FAIL_ARTIFACT},
        {P4_HELM_OK, -1, P4_FAIL_ARTIFACT},
    };
    static const enum gate owns[] = {G_LINTS, G_DRYRUN};

    (void)state;
    for (size_t o = 0; o < sizeof(owns) / sizeof(owns[0]); o++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct failure f = p4_helm_reason_failure(cases[i].why, owns[o]);
            int want = cases[i].gate < 0 ? (int)owns[o] : cases[i].gate;
            if ((int)f.gate != want || f.cls != cases[i].cls ||
                strcmp(f.reason, p4_helm_reason_name(cases[i].why)) != 0)
                fail_msg("%s in gate %d: got gate %d class %d reason %s",
                         p4_helm_reason_name(cases[i].why), owns[o], f.gate, f.cls, f.reason);
        }
    }
    /* a value outside the map: the step's gate, an artifact failure */
    struct failure f = p4_helm_reason_failure((enum p4_helm_reason)99, G_LINTS);
    assert_failure(f, G_LINTS, P4_FAIL_ARTIFACT, "Unknown");
}

/* A fixture of helm's real output (fixtures/helm/), whole; caller frees. */
static char *helm_fixture(const char *name, const char *stream, size_t *len)
{
    char path[512];
    FILE *f;
    long n;
    char *buf;

    (void)snprintf(path, sizeof(path), HELM_FIXTURES "%s.%s", name, stream);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run the tests from the repository root)", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    (void)fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The failure p4_helm_run_failure gives for a fixture run as command, exit status 1. */
static struct failure fixture_failure(const char *name, const char *command, enum gate own,
                                      char *msg, size_t size)
{
    struct p4_childproc_result res = {.exit_status = 1};
    struct failure f;
    char *out, *err;

    out = helm_fixture(name, "stdout", &res.out_len);
    err = helm_fixture(name, "stderr", &res.err_len);
    res.out = out;
    res.err = err;
    f = p4_helm_run_failure(command, own, &res, msg, size);
    free(out);
    free(err);
    return f;
}

static void helm_run_failures(void **state)
{
    struct p4_childproc_result res = {.out = "", .err = "", .timeout_ms = 120000};
    char msg[P4_ERROR_MESSAGE_MAX];
    struct failure f;

    (void)state;
    /* found by lint, but the values' fault: ValuesValid fails, not Lints */
    f = fixture_failure("lint-schema", "lint", G_LINTS, msg, sizeof(msg));
    assert_failure(f, G_VALUES, P4_FAIL_ARTIFACT, "ValuesSchemaInvalid");
    assert_non_null(strstr(msg, "values.schema.json"));
    f = fixture_failure("lint-strict-warning", "lint", G_LINTS, msg, sizeof(msg));
    assert_failure(f, G_LINTS, P4_FAIL_ARTIFACT, "ChartLintFailed");
    f = fixture_failure("template-required", "template", G_DRYRUN, msg, sizeof(msg));
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "TemplateRenderFailed");
    f = fixture_failure("lint-include-error", "lint", G_LINTS, msg, sizeof(msg));
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "TemplateRenderFailed");

    /* stopped at the time limit: transient, in the step's own gate */
    res.timed_out = true;
    res.term_signal = 15;
    f = p4_helm_run_failure("lint", G_LINTS, &res, msg, sizeof(msg));
    assert_failure(f, G_LINTS, P4_FAIL_TRANSIENT, "HelmTimedOut");
    f = p4_helm_run_failure("template", G_DRYRUN, &res, msg, sizeof(msg));
    assert_failure(f, G_DRYRUN, P4_FAIL_TRANSIENT, "HelmTimedOut");

    /* killed by a signal */
    res.timed_out = false;
    res.term_signal = 9;
    f = p4_helm_run_failure("template", G_DRYRUN, &res, msg, sizeof(msg));
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "HelmFailed");

    /* helm said nothing helmout knows, but the caller saw it fail: HelmFailed all the same */
    res.term_signal = 0;
    res.exit_status = 0;
    res.out_truncated = true;
    res.out_len = 8388608;
    f = p4_helm_run_failure("template", G_DRYRUN, &res, msg, sizeof(msg));
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "HelmFailed");
    res.out_truncated = false;
    res.out_len = 0;
    f = p4_helm_run_failure("lint", G_LINTS, &res, msg, sizeof(msg));
    assert_failure(f, G_LINTS, P4_FAIL_ARTIFACT, "HelmFailed");
    assert_string_equal(msg, "helm lint failed");
}

/* Gates as a run holds them: Packaged True, the rest as given ("T" True, "U" Unknown). */
static void set_gates(struct p4_gate *gates, const char *lints, const char *values,
                      const char *pinned, const char *images, const char *dryrun)
{
    const char *s[G_COUNT] = {[G_PACKAGED] = "T",  [G_LINTS] = lints,   [G_VALUES] = values,
                              [G_PINNED] = pinned, [G_IMAGES] = images, [G_DRYRUN] = dryrun};

    for (int i = 0; i < G_COUNT; i++)
        gates[i] = (struct p4_gate){.status = s[i][0] == 'T' ? "True" : "Unknown"};
}

static void gates_not_checked_after_helm_fails(void **state)
{
    const unsigned after_values = (1u << G_PINNED) | (1u << G_IMAGES) | (1u << G_DRYRUN);
    struct p4_gate gates[P4_GATES_MAX] = {0};

    (void)state;
    /* the gates keep the order status shows them in */
    assert_true(G_PINNED < G_IMAGES && G_IMAGES < G_DRYRUN && G_DRYRUN == G_COUNT - 1);
    /* lint fails: the gates after it were not reached */
    set_gates(gates, "U", "U", "U", "U", "U");
    assert_int_equal(p4_helm_not_checked(G_LINTS, gates), (1u << G_VALUES) | after_values);
    /* lint finds the values' fault: Lints, ImagePinned, ImagesPullable and DryRun not checked */
    assert_int_equal(p4_helm_not_checked(G_VALUES, gates), (1u << G_LINTS) | after_values);
    /* the chart is missing after all: Packaged is never marked, the others are */
    assert_int_equal(p4_helm_not_checked(G_PACKAGED, gates),
                     (1u << G_LINTS) | (1u << G_VALUES) | after_values);
    /* template fails after lint passed: only what is not True yet (pin and images after it) */
    set_gates(gates, "T", "T", "U", "U", "U");
    assert_int_equal(p4_helm_not_checked(G_DRYRUN, gates), (1u << G_PINNED) | (1u << G_IMAGES));
    assert_int_equal(p4_helm_not_checked(G_VALUES, gates), after_values);
    /* the dry run fails after the pin and the other images held */
    set_gates(gates, "T", "T", "T", "T", "U");
    assert_int_equal(p4_helm_not_checked(G_DRYRUN, gates), 0);
    set_gates(gates, "T", "T", "T", "T", "T");
    assert_int_equal(p4_helm_not_checked(G_DRYRUN, gates), 0);
    /* a gate already False (an earlier attempt) is shown NotChecked too */
    set_gates(gates, "U", "U", "U", "U", "U");
    gates[G_DRYRUN].status = "False";
    gates[G_IMAGES].status = "False";
    gates[G_PINNED].status = "False";
    assert_int_equal(p4_helm_not_checked(G_LINTS, gates), (1u << G_VALUES) | after_values);
}

/* ---- S_IMAGES, S_IMAGES_CHECK: the other images ---- */

#define OTHER_DIGEST "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* A Deployment (app pinned already, a sidecar, an init container, a digest-pinned database,
   the sidecar again), a CronJob with the sidecar and a pull secret, and a Service. */
static const char rendered_pods[] =
    "[{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
    "'spec':{'template':{'spec':{'imagePullSecrets':[{'name':'regcred'},{'name':''}],"
    "'initContainers':[{'name':'migrate','image':'busybox:1.36'}],"
    "'containers':[{'name':'app','image':'" PIN_REPO "@" PIN_DIGEST "'},"
    "{'name':'metrics','image':'127.0.0.1:5000/phase4/exporter:0.15'},"
    "{'name':'db','image':'docker.io/library/postgres:16@" OTHER_DIGEST "'},"
    "{'name':'metrics2','image':'127.0.0.1:5000/phase4/exporter:0.15'},"
    "{'name':'noimage'}]}}}},"
    "{'apiVersion':'batch/v1','kind':'CronJob','metadata':{'name':'tick'},"
    "'spec':{'jobTemplate':{'spec':{'template':{'spec':{"
    "'imagePullSecrets':[{'name':'regcred'},{'name':'other'}],"
    "'containers':[{'name':'tick','image':'127.0.0.1:5000/phase4/exporter:0.15'}]}}}}}},"
    "{'apiVersion':'v1','kind':'Service','metadata':{'name':'web'},'spec':{}}]";

static void other_images_collected(void **state)
{
    cJSON *objects = test_json(rendered_pods);
    struct other_images o;
    struct failure f = untouched;
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    p4_helm_collect_images(objects, PIN_REPO, &o);
    /* distinct, first seen first (init containers before containers); the pinned one left out */
    assert_int_equal(o.n, 3);
    assert_string_equal(o.img[0].image, "busybox:1.36");
    assert_string_equal(o.img[0].where, "Deployment web, container migrate");
    assert_int_equal(o.img[0].count, 1);
    assert_string_equal(o.img[1].image, "127.0.0.1:5000/phase4/exporter:0.15");
    assert_string_equal(o.img[1].where, "Deployment web, container metrics");
    assert_int_equal(o.img[1].count, 3);
    assert_string_equal(o.img[2].image, "docker.io/library/postgres:16@" OTHER_DIGEST);
    for (size_t i = 0; i < o.n; i++) {
        assert_false(o.img[i].invalid);
        assert_string_equal(o.img[i].digest, "");
    }
    assert_int_equal(o.more, 0);
    /* the pod templates' pull secrets, once each, empty names skipped */
    assert_int_equal(o.nsecrets, 2);
    assert_string_equal(o.secrets[0], "regcred");
    assert_string_equal(o.secrets[1], "other");
    assert_false(p4_helm_images_unfit(&o, &f, msg, sizeof(msg)));
    p4_helm_other_images_close(&o);
    assert_int_equal(o.n, 0);
    cJSON_Delete(objects);

    /* nothing else runs: no image, no failure */
    objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                        "'containers':[{'name':'a','image':'" PIN_REPO "@" PIN_DIGEST "'}]}},"
                        "{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c'}}]");
    p4_helm_collect_images(objects, PIN_REPO, &o);
    assert_int_equal(o.n, 0);
    assert_int_equal(o.nsecrets, 0);
    assert_false(p4_helm_images_unfit(&o, &f, msg, sizeof(msg)));
    p4_helm_images_message(&o, true, PIN_REPO, msg, sizeof(msg));
    assert_string_equal(msg, "the chart runs no image other than " PIN_REPO);
    p4_helm_other_images_close(&o);
    cJSON_Delete(objects);
}

static void other_images_unfit(void **state)
{
    cJSON *objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                               "'containers':[{'name':'ok','image':'busybox'},"
                               "{'name':'bad','image':'Bad Image!'}]}}]");
    struct other_images o;
    struct failure f = untouched;
    char msg[P4_ERROR_MESSAGE_MAX], image[64];

    (void)state;
    p4_helm_collect_images(objects, PIN_REPO, &o);
    assert_int_equal(o.n, 2);
    assert_false(o.img[0].invalid);
    assert_true(o.img[1].invalid);
    assert_true(p4_helm_images_unfit(&o, &f, msg, sizeof(msg)));
    assert_failure(f, G_IMAGES, P4_FAIL_ARTIFACT, "InvalidImageReference");
    assert_non_null(strstr(msg, "\"Bad Image!\" (Pod p, container bad)"));
    p4_helm_other_images_close(&o);
    cJSON_Delete(objects);

    /* more distinct images than are checked */
    objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                        "'containers':[]}}]");
    for (int i = 0; i < OTHER_IMAGES_MAX + 2; i++) {
        cJSON *c = cJSON_CreateObject();
        (void)snprintf(image, sizeof(image), "busybox:%d", i);
        cJSON_AddStringToObject(c, "name", "c");
        cJSON_AddStringToObject(c, "image", image);
        cJSON_AddItemToArray(
            cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(objects, 0), "spec"),
                                "containers"),
            c);
    }
    p4_helm_collect_images(objects, PIN_REPO, &o);
    assert_int_equal(o.n, OTHER_IMAGES_MAX);
    assert_int_equal(o.more, 2);
    f = untouched;
    assert_true(p4_helm_images_unfit(&o, &f, msg, sizeof(msg)));
    assert_failure(f, G_IMAGES, P4_FAIL_ARTIFACT, "TooManyImages");
    p4_helm_other_images_close(&o);
    cJSON_Delete(objects);
}

static void pinned_names_keep_what_the_chart_wrote(void **state)
{
    char buf[256];

    (void)state;
    assert_true(p4_helm_pinned_name("busybox:1.36", OTHER_DIGEST, buf, sizeof(buf)));
    assert_string_equal(buf, "busybox@" OTHER_DIGEST); /* not docker.io/library/busybox */
    assert_true(
        p4_helm_pinned_name("127.0.0.1:5000/phase4/app:1.0", OTHER_DIGEST, buf, sizeof(buf)));
    assert_string_equal(buf, "127.0.0.1:5000/phase4/app@" OTHER_DIGEST);
    /* a port is no tag */
    assert_true(p4_helm_pinned_name("localhost:5000/app", OTHER_DIGEST, buf, sizeof(buf)));
    assert_string_equal(buf, "localhost:5000/app@" OTHER_DIGEST);
    /* a digest already (with or without a tag): the name, at the digest checked */
    assert_true(p4_helm_pinned_name("postgres:16@" PIN_DIGEST, OTHER_DIGEST, buf, sizeof(buf)));
    assert_string_equal(buf, "postgres@" OTHER_DIGEST);
    assert_true(p4_helm_pinned_name("quay.io/a/b@" PIN_DIGEST, PIN_DIGEST, buf, sizeof(buf)));
    assert_string_equal(buf, "quay.io/a/b@" PIN_DIGEST);
    /* too small: nothing half written */
    assert_false(p4_helm_pinned_name("busybox:1.36", OTHER_DIGEST, buf, 20));
    assert_string_equal(buf, "");
}

static void other_images_rewritten(void **state)
{
    cJSON *objects = test_json(rendered_pods);
    struct other_images o;
    char *text;
    size_t len = 0;

    (void)state;
    p4_helm_collect_images(objects, PIN_REPO, &o);
    /* only what was checked (has its digest) is pinned */
    (void)snprintf(o.img[1].digest, sizeof(o.img[1].digest), "%s", OTHER_DIGEST);
    (void)snprintf(o.img[2].digest, sizeof(o.img[2].digest), "%s", OTHER_DIGEST);
    assert_int_equal(p4_helm_pin_others(objects, &o), 4); /* 3 sidecars and the database */
    text = p4_helm_print_manifest(objects, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "\"image\":\"busybox:1.36\"")); /* not checked: as written */
    assert_null(strstr(text, "exporter:0.15"));
    assert_non_null(strstr(text, "\"image\":\"127.0.0.1:5000/phase4/exporter@" OTHER_DIGEST "\""));
    assert_non_null(strstr(text, "\"image\":\"docker.io/library/postgres@" OTHER_DIGEST "\""));
    assert_non_null(strstr(text, "\"image\":\"" PIN_REPO "@" PIN_DIGEST "\""));
    /* twice: nothing left to change */
    assert_int_equal(p4_helm_pin_others(objects, &o), 0);
    free(text);
    p4_helm_other_images_close(&o);
    cJSON_Delete(objects);
}

static void cache_keys_tell_who_asks(void **state)
{
    struct p4_image_ref tag = {0}, dig = {0};
    struct p4_regauth_entry alice = {.username = (char *)"alice", .password = (char *)"s3cret"};
    struct p4_regauth_entry alice2 = {.username = (char *)"alice", .password = (char *)"other"};
    struct p4_registry_target t = {.host = "127.0.0.1:5000"};
    char a[512], b[512];

    (void)state;
    assert_int_equal(p4_image_ref_parse("127.0.0.1:5000/phase4/app:1.0", &tag, NULL), 0);
    assert_int_equal(p4_image_ref_parse("postgres@" OTHER_DIGEST, &dig, NULL), 0);
    p4_helm_image_key(&tag, "linux/amd64", &t, a, sizeof(a));
    assert_memory_equal(a, "127.0.0.1:5000/phase4/app:1.0 linux/amd64 ", 42);
    p4_helm_image_key(&tag, "linux/amd64", &t, b, sizeof(b));
    assert_string_equal(a, b);
    /* another platform, transport, CA or credential: another key */
    p4_helm_image_key(&tag, "linux/arm64", &t, b, sizeof(b));
    assert_string_not_equal(a, b);
    t.insecure_http = 1;
    p4_helm_image_key(&tag, "linux/amd64", &t, b, sizeof(b));
    assert_string_not_equal(a, b);
    t.insecure_http = 0;
    t.ca_pem = (const unsigned char *)"PEM";
    t.ca_len = 3;
    p4_helm_image_key(&tag, "linux/amd64", &t, b, sizeof(b));
    assert_string_not_equal(a, b);
    t.ca_pem = NULL;
    t.ca_len = 0;
    t.cred = &alice;
    p4_helm_image_key(&tag, "linux/amd64", &t, a, sizeof(a));
    assert_null(strstr(a, "alice")); /* credentials are only hashed */
    assert_null(strstr(a, "s3cret"));
    t.cred = &alice2;
    p4_helm_image_key(&tag, "linux/amd64", &t, b, sizeof(b));
    assert_string_not_equal(a, b);
    /* a digest's answer is kept longer than a tag's */
    p4_helm_image_key(&dig, "linux/amd64", &t, a, sizeof(a));
    assert_memory_equal(a, "docker.io/library/postgres@" OTHER_DIGEST " ", 99);
    assert_int_equal(p4_helm_image_ttl(&tag), P4_IMAGECACHE_TAG_TTL_MS);
    assert_int_equal(p4_helm_image_ttl(&dig), P4_IMAGECACHE_DIGEST_TTL_MS);
    /* the registry of spec.image.repository gets its insecure and caBundle */
    assert_true(p4_helm_same_registry(&tag, PIN_REPO));
    assert_false(p4_helm_same_registry(&dig, PIN_REPO));
    assert_true(p4_helm_same_registry(&dig, "library/nginx"));
    assert_false(p4_helm_same_registry(&dig, NULL));
    p4_image_ref_close(&tag);
    p4_image_ref_close(&dig);
}

static void image_check_failures(void **state)
{
    struct other_image img = {.image = (char *)"127.0.0.1:5000/phase4/nosuch:1.0",
                              .where = (char *)"Deployment x, container metrics"};
    char *const wanted[] = {(char *)"regcred", (char *)"other"};
    struct p4_image_check res = {.rc = P4_ERR_NOTFOUND, .problem = P4_IMAGE_REFERENCE};
    char msg[P4_ERROR_MESSAGE_MAX];
    struct failure f;

    (void)state;
    (void)snprintf(res.err.message, sizeof(res.err.message),
                   "registry 127.0.0.1:5000 has no manifest phase4/nosuch@1.0");
    f = p4_helm_image_failure(&res, &img, "apps", NULL, wanted, 2, msg, sizeof(msg));
    assert_failure(f, G_IMAGES, P4_FAIL_ARTIFACT, "ImageNotFound");
    assert_string_equal(msg, "image 127.0.0.1:5000/phase4/nosuch:1.0 (Deployment x, container "
                             "metrics): registry 127.0.0.1:5000 has no manifest "
                             "phase4/nosuch@1.0; push it, or change the chart's values for it");
    /* the Docker stage's reasons and classes, whatever the step */
    res.rc = P4_ERR_UNAUTHORIZED;
    f = p4_helm_image_failure(&res, &img, "apps", "regcred", wanted, 2, msg, sizeof(msg));
    assert_failure(f, G_IMAGES, P4_FAIL_CLUSTER, "ImagePullAuthFailed");
    assert_non_null(strstr(msg, "pull secret \"regcred\" in namespace apps has the wrong"));
    (void)p4_helm_image_failure(&res, &img, "apps", NULL, wanted, 2, msg, sizeof(msg));
    assert_non_null(strstr(msg, "none of the pull secrets in namespace apps (\"regcred\", "
                                "\"other\") has an entry"));
    (void)p4_helm_image_failure(&res, &img, "apps", NULL, wanted, 0, msg, sizeof(msg));
    assert_non_null(strstr(msg, "namespace apps has no pull secret for it"));
    res.rc = P4_ERR_TLS;
    f = p4_helm_image_failure(&res, &img, "apps", NULL, NULL, 0, msg, sizeof(msg));
    assert_failure(f, G_IMAGES, P4_FAIL_CLUSTER, "RegistryTLSError");
    res.rc = P4_ERR_UNAVAILABLE;
    res.problem = P4_IMAGE_CONTENT;
    f = p4_helm_image_failure(&res, &img, "apps", NULL, NULL, 0, msg, sizeof(msg));
    assert_failure(f, G_IMAGES, P4_FAIL_TRANSIENT, "RegistryUnavailable");
    res.rc = P4_ERR_NOTFOUND;
    f = p4_helm_image_failure(&res, &img, "apps", NULL, NULL, 0, msg, sizeof(msg));
    assert_failure(f, G_IMAGES, P4_FAIL_ARTIFACT, "ImageIncomplete");
    res.problem = P4_IMAGE_PLATFORM;
    f = p4_helm_image_failure(&res, &img, "apps", NULL, NULL, 0, msg, sizeof(msg));
    assert_failure(f, G_IMAGES, P4_FAIL_ARTIFACT, "PlatformNotSupported");
    assert_non_null(strstr(msg, "platforms the nodes run"));
    res.rc = P4_ERR_INVALID;
    res.problem = P4_IMAGE_REFERENCE;
    res.err.message[0] = '\0'; /* no text from the registry: the error's name */
    f = p4_helm_image_failure(&res, &img, "apps", NULL, NULL, 0, msg, sizeof(msg));
    assert_failure(f, G_IMAGES, P4_FAIL_ARTIFACT, "ImageManifestInvalid");
    assert_non_null(strstr(msg, "(Deployment x, container metrics): "));
    /* a message stays within its buffer */
    (void)p4_helm_image_failure(&res, &img, "apps", NULL, NULL, 0, msg, 16);
    assert_int_equal(strlen(msg), 15);
    /* the classes alone */
    assert_int_equal(p4_helm_image_class(P4_IMAGE_FAIL_AUTH), P4_FAIL_CLUSTER);
    assert_int_equal(p4_helm_image_class(P4_IMAGE_FAIL_NOT_FOUND), P4_FAIL_ARTIFACT);
    assert_int_equal(p4_helm_image_class(P4_IMAGE_FAIL_UNAVAILABLE), P4_FAIL_TRANSIENT);
}

static void pull_secret_answers(void **state)
{
    struct failure f = untouched;

    (void)state;
    assert_false(p4_helm_pull_secret_failure(0, true, true, &f));
    assert_true(p4_helm_pull_secret_failure(0, false, false, &f));
    assert_failure(f, G_IMAGES, P4_FAIL_CLUSTER, "PullSecretInvalid");
    assert_true(p4_helm_pull_secret_failure(P4_ERR_NOTFOUND, true, false, &f));
    assert_failure(f, G_IMAGES, P4_FAIL_CLUSTER, "PullSecretNotFound");
    /* a pod template's missing pull secret is skipped, as a kubelet skips it */
    assert_false(p4_helm_pull_secret_failure(P4_ERR_NOTFOUND, false, false, &f));
    assert_true(p4_helm_pull_secret_failure(P4_ERR_FORBIDDEN, false, false, &f));
    assert_failure(f, G_IMAGES, P4_FAIL_CLUSTER, "Forbidden");
    assert_true(p4_helm_pull_secret_failure(P4_ERR_UNAVAILABLE, true, false, &f));
    assert_failure(f, G_IMAGES, P4_FAIL_TRANSIENT, "APIUnavailable");
}

static void images_pass_message(void **state)
{
    struct other_images o = {0};
    char msg[P4_ERROR_MESSAGE_MAX], image[64];

    (void)state;
    o.n = 6;
    for (size_t i = 0; i < o.n; i++) {
        (void)snprintf(image, sizeof(image), "r.io/img%zu:%zu", i, i);
        o.img[i].image = strdup(image);
        (void)snprintf(o.img[i].digest, sizeof(o.img[i].digest), "%s", OTHER_DIGEST);
    }
    p4_helm_images_message(&o, true, PIN_REPO, msg, sizeof(msg));
    assert_string_equal(msg, "6 other image(s) checked pullable and pinned: "
                             "r.io/img0@sha256:fedcba987654…, r.io/img1@sha256:fedcba987654…, "
                             "r.io/img2@sha256:fedcba987654…, r.io/img3@sha256:fedcba987654… "
                             "and 2 more");
    p4_helm_images_message(&o, false, PIN_REPO, msg, sizeof(msg));
    assert_non_null(strstr(msg, "6 other image(s) checked pullable, left as written "
                                "(spec.image.pinAll is false): r.io/img0:0 "
                                "(sha256:fedcba987654…), r.io/img1:1"));
    /* bounded */
    p4_helm_images_message(&o, true, PIN_REPO, msg, 40);
    assert_int_equal(strlen(msg), 39);
    p4_helm_images_message(&o, true, PIN_REPO, msg, 0);
    p4_helm_other_images_close(&o);
}

/* ---- S_DRYRUN ---- */

static const char *const rendered =
    "[{'apiVersion':'apiextensions.k8s.io/v1','kind':'CustomResourceDefinition',"
    "'metadata':{'name':'widgets.example.com'},"
    "'spec':{'group':'example.com','names':{'kind':'Widget'}}},"
    "{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'}},"
    "{'apiVersion':'other.io/v1','kind':'Widget','metadata':{'name':'o'}},"
    "{'apiVersion':'v1','kind':'Widget','metadata':{'name':'core'}},"
    "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'}},"
    "{'apiVersion':'rbac.authorization.k8s.io/v1','kind':'ClusterRole',"
    "'metadata':{'name':'reader'}},"
    "{'apiVersion':'example.co/v1','kind':'Widget','metadata':{'name':'prefix'}},"
    "{'apiVersion':'apiextensions.k8s.io/v1','kind':'CustomResourceDefinition',"
    "'metadata':{'name':'gadgets.v1'},'spec':{'group':'v1','names':{'kind':'Gadget'}}},"
    "{'apiVersion':'v1','kind':'Gadget','metadata':{'name':'g'}}]";

/* The dry-run answer for object i of the rendered objects. */
static enum dry_answer answer(const cJSON *objects, int i, int rc, const char *resource,
                              const char *ns, const char *message, bool create_namespace,
                              struct failure *f)
{
    const cJSON *obj = cJSON_GetArrayItem(objects, i);
    struct p4_apply_result res = {.rc = rc,
                                  .kind = p4_json_str(obj, "kind"),
                                  .namespace_ = ns,
                                  .name = p4_json_str(obj, "metadata.name"),
                                  .resource = resource};

    (void)snprintf(res.err.message, sizeof(res.err.message), "%s", message);
    return p4_helm_dry_run_answer(&res, objects, obj, create_namespace, f);
}

static void dry_run_accepted_and_skipped(void **state)
{
    cJSON *objects = test_json(rendered);
    struct failure f = untouched;

    (void)state;
    assert_int_equal(answer(objects, 4, 0, "deployments", "shop", "", false, &f), DRY_ACCEPTED);
    assert_ptr_equal(f.reason, untouched.reason);
    /* a kind discovery does not know, defined by a CRD of the chart in that group */
    assert_int_equal(answer(objects, 1, P4_ERR_NOTFOUND, "", "shop", "no kind", false, &f),
                     DRY_SKIP_CRD);
    /* the namespace the Kubernetes stage creates does not exist yet */
    assert_int_equal(answer(objects, 4, P4_ERR_NOTFOUND, "deployments", "shop",
                            "namespaces \"shop\" not found", true, &f),
                     DRY_SKIP_NAMESPACE);
    assert_ptr_equal(f.reason, untouched.reason);
    cJSON_Delete(objects);
}

static void dry_run_not_skipped(void **state)
{
    cJSON *objects = test_json(rendered);
    struct failure f = untouched;

    (void)state;
    /* same kind name, another group than the chart's CRD defines */
    assert_int_equal(answer(objects, 2, P4_ERR_NOTFOUND, "", "shop", "no kind", false, &f),
                     DRY_FAILED);
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "DryRunRejected");
    /* a core apiVersion has no group: never one of the chart's CRDs */
    f = untouched;
    assert_int_equal(answer(objects, 3, P4_ERR_NOTFOUND, "", "shop", "no kind", false, &f),
                     DRY_FAILED);
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "DryRunRejected");
    /* a group the CRD's group merely begins with */
    f = untouched;
    assert_int_equal(answer(objects, 6, P4_ERR_NOTFOUND, "", "shop", "no kind", false, &f),
                     DRY_FAILED);
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "DryRunRejected");
    /* a core apiVersion, even against a (hostile) CRD whose group is "v1" */
    f = untouched;
    assert_int_equal(answer(objects, 8, P4_ERR_NOTFOUND, "", "shop", "no kind", false, &f),
                     DRY_FAILED);
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "DryRunRejected");
    /* a known kind not found: not a CRD the chart brings */
    f = untouched;
    assert_int_equal(answer(objects, 1, P4_ERR_NOTFOUND, "widgets", "shop", "", false, &f),
                     DRY_FAILED);
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "DryRunRejected");
    /* the namespace is missing but nobody creates it */
    f = untouched;
    assert_int_equal(
        answer(objects, 4, P4_ERR_NOTFOUND, "deployments", "shop", "not found", false, &f),
        DRY_FAILED);
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "DryRunRejected");
    /* a kind discovery does not know waits for no namespace */
    f = untouched;
    assert_int_equal(answer(objects, 2, P4_ERR_NOTFOUND, "", "shop", "no kind", true, &f),
                     DRY_FAILED);
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "DryRunRejected");
    /* a cluster-scoped object waits for no namespace */
    f = untouched;
    assert_int_equal(answer(objects, 5, P4_ERR_NOTFOUND, "clusterroles", "", "not found", true, &f),
                     DRY_FAILED);
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "DryRunRejected");
    cJSON_Delete(objects);

    /* no CRDs at all in the manifest */
    objects =
        test_json("[{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'}}]");
    f = untouched;
    assert_int_equal(answer(objects, 0, P4_ERR_NOTFOUND, "", "shop", "no kind", false, &f),
                     DRY_FAILED);
    assert_failure(f, G_DRYRUN, P4_FAIL_ARTIFACT, "DryRunRejected");
    cJSON_Delete(objects);
}

static void dry_run_refusals_by_class(void **state)
{
    /* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): a test table, read in order */
    static const struct {
        int rc;
        const char *message;
        enum p4_failure_class cls;
        const char *reason;
    } cases[] = {
        {P4_ERR_INVALID, "Deployment.apps \"web\" is invalid", P4_FAIL_ARTIFACT, "DryRunRejected"},
        {P4_ERR_BADREQUEST, "bad request", P4_FAIL_ARTIFACT, "DryRunRejected"},
        {P4_ERR_METHOD, "method not allowed", P4_FAIL_ARTIFACT, "DryRunRejected"},
        {P4_ERR_FORBIDDEN, "forbidden", P4_FAIL_CLUSTER, "DryRunRejected"},
        {P4_ERR_UNAUTHORIZED, "unauthorized", P4_FAIL_CLUSTER, "DryRunRejected"},
        {P4_ERR_CONFLICT, "conflict", P4_FAIL_CLUSTER, "DryRunRejected"},
        {P4_ERR_EXISTS, "exists", P4_FAIL_CLUSTER, "DryRunRejected"},
        /* refused by admission: the cluster's policy, whatever the code */
        {P4_ERR_INVALID, "admission webhook \"policy.example.com\" denied the request",
         P4_FAIL_CLUSTER, "DryRunRejected"},
        {P4_ERR_INVALID, "ValidatingAdmissionPolicy 'no-latest' denied request", P4_FAIL_CLUSTER,
         "DryRunRejected"},
        {P4_ERR_UNAVAILABLE, "admission webhook \"x\" could not be called", P4_FAIL_CLUSTER,
         "DryRunRejected"},
        /* the target namespace is being deleted: waited out, whoever could act */
        {P4_ERR_FORBIDDEN,
         "deployments.apps \"web\" is forbidden: unable to create new content in namespace "
         "shop because it is being terminated",
         P4_FAIL_TRANSIENT, "NamespaceTerminating"},
        /* ... but a policy's words that quote it are the policy's */
        {P4_ERR_FORBIDDEN,
         "admission webhook \"x.example.com\" denied the request: because it is being "
         "terminated",
         P4_FAIL_CLUSTER, "DryRunRejected"},
        /* the API server is not answering: wait it out */
        {P4_ERR_UNAVAILABLE, "service unavailable", P4_FAIL_TRANSIENT, "APIUnavailable"},
        {P4_ERR_TIMEOUT, "timeout", P4_FAIL_TRANSIENT, "APIUnavailable"},
        {P4_ERR_TRANSPORT, "connection refused", P4_FAIL_TRANSIENT, "APIUnavailable"},
    };
    cJSON *objects = test_json(rendered);

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct failure f = untouched;
        enum dry_answer a =
            answer(objects, 4, cases[i].rc, "deployments", "shop", cases[i].message, true, &f);
        if (a != DRY_FAILED || f.gate != G_DRYRUN || f.cls != cases[i].cls ||
            strcmp(f.reason, cases[i].reason) != 0)
            fail_msg("case %zu (%s): got answer %d gate %d class %d reason %s", i, cases[i].message,
                     a, f.gate, f.cls, f.reason);
    }
    cJSON_Delete(objects);
}

/* ---- S_STORE ---- */

static void secret_names(void **state)
{
    char buf[SECRET_NAME_MAX + 1], again[SECRET_NAME_MAX + 1], other[SECRET_NAME_MAX + 1];
    char name[301];

    (void)state;
    p4_helm_secret_name(buf, sizeof(buf), "web", 7);
    assert_string_equal(buf, "phase4.web.v7");
    p4_helm_secret_name(buf, sizeof(buf), "web", 1234567890123);
    assert_string_equal(buf, "phase4.web.v1234567890123");

    /* the longest name that fits is kept whole */
    memset(name, 'a', sizeof(name) - 1);
    name[SECRET_NAME_MAX - strlen("phase4.") - strlen(".v7")] = '\0';
    p4_helm_secret_name(buf, sizeof(buf), name, 7);
    assert_int_equal(strlen(buf), SECRET_NAME_MAX);
    assert_non_null(strstr(buf, name));

    /* longer: cut, with a hash of the whole name, the generation kept */
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    p4_helm_secret_name(buf, sizeof(buf), name, 7);
    assert_int_equal(strlen(buf), SECRET_NAME_MAX);
    assert_int_equal(strncmp(buf, "phase4.aaaa", 11), 0);
    assert_string_equal(buf + strlen(buf) - 14, "-9835fa6bf4.v7"); /* sha256 of the name */
    assert_int_equal(strspn(buf + strlen("phase4."), "a"), SECRET_NAME_MAX - 7 - 14);
    p4_helm_secret_name(again, sizeof(again), name, 7);
    assert_string_equal(buf, again); /* the same every time */
    name[sizeof(name) - 2] = 'b';    /* differs only past the cut */
    p4_helm_secret_name(other, sizeof(other), name, 7);
    assert_int_equal(strlen(other), SECRET_NAME_MAX);
    assert_string_not_equal(buf, other);
}

static void old_manifests_deleted_only_when_owned(void **state)
{
    cJSON *owned = test_json("{'metadata':{'name':'phase4.web.v1','uid':'s-1',"
                             "'ownerReferences':[{'uid':'other'},{'uid':'u-1'}]}}");
    cJSON *foreign = test_json("{'metadata':{'name':'phase4.web.v1','uid':'s-1',"
                               "'ownerReferences':[{'uid':'other'}]}}");
    cJSON *no_uid = test_json("{'metadata':{'name':'phase4.web.v1',"
                              "'ownerReferences':[{'uid':'u-1'}]}}");
    cJSON *no_name = test_json("{'metadata':{'uid':'s-1','ownerReferences':[{'uid':'u-1'}]}}");
    cJSON *long_uid;
    char uid[300];

    (void)state;
    assert_true(p4_helm_prunable(0, owned, "u-1"));
    assert_false(p4_helm_prunable(0, owned, "u-2"));
    assert_false(p4_helm_prunable(0, owned, ""));
    assert_false(p4_helm_prunable(P4_ERR_NOTFOUND, owned, "u-1"));
    assert_false(p4_helm_prunable(P4_ERR_FORBIDDEN, NULL, "u-1"));
    assert_false(p4_helm_prunable(0, foreign, "u-1"));
    assert_false(p4_helm_prunable(0, no_uid, "u-1"));
    assert_false(p4_helm_prunable(0, no_name, "u-1"));
    /* a uid too long for the DeleteOptions precondition */
    memset(uid, 'x', sizeof(uid) - 1);
    uid[sizeof(uid) - 1] = '\0';
    long_uid = cJSON_Duplicate(owned, 1);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(long_uid, "metadata"), "uid",
                              cJSON_CreateString(uid));
    assert_false(p4_helm_prunable(0, long_uid, "u-1"));
    uid[192] = '\0'; /* one too long */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(long_uid, "metadata"), "uid",
                              cJSON_CreateString(uid));
    assert_false(p4_helm_prunable(0, long_uid, "u-1"));
    uid[191] = '\0'; /* the longest that fits */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(long_uid, "metadata"), "uid",
                              cJSON_CreateString(uid));
    assert_true(p4_helm_prunable(0, long_uid, "u-1"));
    cJSON_Delete(owned);
    cJSON_Delete(foreign);
    cJSON_Delete(no_uid);
    cJSON_Delete(no_name);
    cJSON_Delete(long_uid);
}

/* The manifest Secret is created first; only an existing one is read (for the owner check). */
static void store_creates_first(void **state)
{
    (void)state;
    assert_int_equal(p4_helm_created(0), HELM_CREATED);
    assert_int_equal(p4_helm_created(P4_ERR_EXISTS), HELM_EXISTS); /* 409 AlreadyExists */
    assert_int_equal(p4_helm_created(P4_ERR_CONFLICT), HELM_NOT_CREATED);
    assert_int_equal(p4_helm_created(P4_ERR_FORBIDDEN), HELM_NOT_CREATED);
    assert_int_equal(p4_helm_created(P4_ERR_NOTFOUND), HELM_NOT_CREATED); /* no namespace */
    assert_int_equal(p4_helm_created(P4_ERR_UNAVAILABLE), HELM_NOT_CREATED);
}

static void storing_over_an_existing_secret(void **state)
{
    cJSON *ours = test_json("{'metadata':{'ownerReferences':[{'uid':'u-1'}]}}");
    cJSON *theirs = test_json("{'metadata':{'name':'phase4.web.v3'}}");
    struct failure f = untouched;

    (void)state;
    assert_false(p4_helm_existing_failure(P4_ERR_NOTFOUND, NULL, "u-1", &f));
    assert_false(p4_helm_existing_failure(0, ours, "u-1", &f)); /* ours: written again */
    assert_ptr_equal(f.reason, untouched.reason);
    assert_true(p4_helm_existing_failure(0, theirs, "u-1", &f));
    assert_failure(f, G_DRYRUN, P4_FAIL_CLUSTER, "ManifestSecretConflict");
    assert_true(p4_helm_existing_failure(0, ours, "u-2", &f));
    assert_failure(f, G_DRYRUN, P4_FAIL_CLUSTER, "ManifestSecretConflict");
    assert_true(p4_helm_existing_failure(P4_ERR_FORBIDDEN, NULL, "u-1", &f));
    assert_failure(f, G_DRYRUN, P4_FAIL_CLUSTER, "Forbidden");
    assert_true(p4_helm_existing_failure(P4_ERR_UNAVAILABLE, NULL, "u-1", &f));
    assert_failure(f, G_DRYRUN, P4_FAIL_TRANSIENT, "APIUnavailable");
    assert_true(p4_helm_existing_failure(P4_ERR_UNAUTHORIZED, NULL, "u-1", &f));
    assert_failure(f, G_DRYRUN, P4_FAIL_CLUSTER, "APIUnavailable");
    cJSON_Delete(ours);
    cJSON_Delete(theirs);

    f = p4_helm_stored_failure(P4_ERR_FORBIDDEN, "secrets is forbidden: User \"x\" cannot");
    assert_failure(f, G_DRYRUN, P4_FAIL_CLUSTER, "Forbidden");
    /* the resource's own namespace is being deleted: its finalizer runs next */
    f = p4_helm_stored_failure(P4_ERR_FORBIDDEN, "secrets \"p4-web-1\" is forbidden: unable to "
                                                 "create new content in namespace shop because "
                                                 "it is being terminated");
    assert_failure(f, G_DRYRUN, P4_FAIL_TRANSIENT, "NamespaceTerminating");
    f = p4_helm_stored_failure(P4_ERR_INVALID, "being terminated"); /* not a 403 */
    assert_failure(f, G_DRYRUN, P4_FAIL_CLUSTER, "ManifestNotStored");
    f = p4_helm_stored_failure(P4_ERR_CONFLICT, NULL);
    assert_failure(f, G_DRYRUN, P4_FAIL_TRANSIENT, "ManifestNotStored");
    f = p4_helm_stored_failure(P4_ERR_UNAVAILABLE, "");
    assert_failure(f, G_DRYRUN, P4_FAIL_TRANSIENT, "ManifestNotStored");
}

static void manifest_secret_holds_the_manifest(void **state)
{
    static const char manifest[] = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
    struct run r = {0};
    struct work w = {0};
    struct p4_error err = {0};
    cJSON *s;
    char *text;
    size_t len = 0;

    (void)state;
    r.w = &w;
    r.base.ns = (char *)"shop";
    r.base.name = (char *)"web";
    r.base.uid = (char *)"u-1";
    r.base.generation = 12;
    r.chart = test_json("{'name':'webapp'}");
    (void)snprintf(r.version, sizeof(r.version), "1.2.3");
    (void)snprintf(r.digest, sizeof(r.digest), "sha256:c0ffee");
    (void)snprintf(r.pin.digest, sizeof(r.pin.digest), "sha256:beef");
    p4_helm_secret_name(r.secret, sizeof(r.secret), r.base.name, r.base.generation);
    w.manifest = (char *)manifest;
    w.manifest_len = sizeof(manifest) - 1;

    s = p4_helm_manifest_secret(&r);
    assert_non_null(s);
    assert_string_equal(p4_json_str(s, "kind"), "Secret");
    assert_string_equal(p4_json_str(s, "type"), P4_MANIFEST_SECRET_TYPE);
    assert_string_equal(p4_json_str(s, "metadata.name"), "phase4.web.v12");
    assert_string_equal(p4_json_str(s, "metadata.namespace"), "shop");
    assert_true(p4_owned_by(s, "u-1"));
    assert_false(p4_owned_by(s, "u-2"));
    text = p4_manifest_secret_text(s, 1 << 20, &len, &err);
    assert_non_null(text);
    assert_int_equal(len, sizeof(manifest) - 1);
    assert_memory_equal(text, manifest, len);
    free(text);
    cJSON_Delete(s);

    /* labels and annotations, as the API server will have them */
    s = p4_helm_manifest_secret(&r);
    assert_non_null(s);
    {
        const cJSON *labels = p4_json_get(s, "metadata.labels");
        const cJSON *ann = p4_json_get(s, "metadata.annotations");
        assert_string_equal(
            cJSON_GetObjectItemCaseSensitive(labels, "phase4.io/generation")->valuestring, "12");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(labels, "phase4.io/name")->valuestring,
                            "web");
        assert_string_equal(
            cJSON_GetObjectItemCaseSensitive(labels, "phase4.io/purpose")->valuestring, "manifest");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(ann, "phase4.io/chart")->valuestring,
                            "webapp 1.2.3 sha256:c0ffee");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(ann, "phase4.io/image")->valuestring,
                            "sha256:beef");
    }
    cJSON_Delete(s);

    /* nothing rendered: an empty manifest is still stored */
    w.manifest = NULL;
    w.manifest_len = 0;
    s = p4_helm_manifest_secret(&r);
    assert_non_null(s);
    text = p4_manifest_secret_text(s, 1 << 20, &len, &err);
    assert_non_null(text);
    assert_int_equal(len, 0);
    free(text);
    cJSON_Delete(s);
    cJSON_Delete(r.chart);
}

/* ---- scan scope all: the other images' reports ---- */

static void other_images_scan_verdicts(void **state)
{
    static const char critical[] =
        "{\"SchemaVersion\":2,\"ArtifactName\":\"exporter\",\"Results\":[{\"Target\":\"x\","
        "\"Vulnerabilities\":[{\"VulnerabilityID\":\"CVE-2024-5535\",\"PkgName\":\"openssl\","
        "\"InstalledVersion\":\"3.0.11-1\",\"FixedVersion\":\"3.0.14-1\",\"Severity\":"
        "\"CRITICAL\"}]}]}";
    static const char medium[] =
        "{\"SchemaVersion\":2,\"ArtifactName\":\"exporter\",\"Results\":[{\"Target\":\"x\","
        "\"Vulnerabilities\":[{\"VulnerabilityID\":\"CVE-2024-0727\",\"PkgName\":\"openssl\","
        "\"InstalledVersion\":\"3.0.11-1\",\"Severity\":\"MEDIUM\"}]}]}";
    static const char clean[] =
        "{\"SchemaVersion\":2,\"ArtifactName\":\"exporter\",\"Results\":[]}";
    struct other_image img = {.image = (char *)"r.example/exporter:1",
                              .where = (char *)"Deployment web, container metrics"};
    struct failure f = untouched;
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    /* over the line: the image, where it runs, and the CVE */
    assert_false(p4_helm_scan_verdict(&img, critical, sizeof(critical) - 1, P4_SEV_HIGH, msg,
                                      sizeof(msg), &f));
    assert_failure(f, G_IMAGES, P4_FAIL_ARTIFACT, "VulnerabilitiesFound");
    assert_non_null(strstr(msg, "r.example/exporter:1 (Deployment web, container metrics)"));
    assert_non_null(strstr(msg, "CVE-2024-5535"));
    /* under the line (a MEDIUM finding, maxSeverity HIGH), and a clean report */
    f = untouched;
    assert_true(
        p4_helm_scan_verdict(&img, medium, sizeof(medium) - 1, P4_SEV_HIGH, msg, sizeof(msg), &f));
    assert_true(
        p4_helm_scan_verdict(&img, clean, sizeof(clean) - 1, P4_SEV_HIGH, msg, sizeof(msg), &f));
    assert_int_equal(f.gate, G_COUNT); /* a pass leaves *f alone */
    /* not a report */
    f = untouched;
    assert_false(p4_helm_scan_verdict(&img, "{", 1, P4_SEV_HIGH, msg, sizeof(msg), &f));
    assert_failure(f, G_IMAGES, P4_FAIL_ARTIFACT, "ScanReportInvalid");
    /* no report: fine unless required */
    f = untouched;
    assert_true(p4_helm_no_report_verdict(&img, false, msg, sizeof(msg), &f));
    assert_int_equal(f.gate, G_COUNT); /* untouched */
    assert_false(p4_helm_no_report_verdict(&img, true, msg, sizeof(msg), &f));
    assert_failure(f, G_IMAGES, P4_FAIL_ARTIFACT, "ScanReportMissing");
    assert_non_null(strstr(msg, "r.example/exporter:1 (Deployment web, container metrics)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(work_takes_values_from_entries),
        cmocka_unit_test(work_skips_entries_without_kind_or_name),
        cmocka_unit_test(work_reads_at_most_sources_max),
        cmocka_unit_test(version_answers),
        cmocka_unit_test(credentials_answers),
        cmocka_unit_test(ca_answers),
        cmocka_unit_test(values_source_answers),
        cmocka_unit_test(fetch_failures),
        cmocka_unit_test(fetch_refusals_name_the_repository_without_user_information),
        cmocka_unit_test(secrets_read_are_redacted),
        cmocka_unit_test(chart_request_for_http_repository),
        cmocka_unit_test(chart_request_for_oci_repository),
        cmocka_unit_test(values_are_composed_then_the_image_pinned),
        cmocka_unit_test(values_failures),
        cmocka_unit_test(values_at_the_paths_the_chart_reads),
        cmocka_unit_test(manifest_pinned),
        cmocka_unit_test(manifest_not_pinned),
        cmocka_unit_test(manifest_unparsable),
        cmocka_unit_test(helm_arguments),
        cmocka_unit_test(helm_run_failed_or_not),
        cmocka_unit_test(helm_reasons_map_to_gate_and_class),
        cmocka_unit_test(helm_run_failures),
        cmocka_unit_test(gates_not_checked_after_helm_fails),
        cmocka_unit_test(dry_run_accepted_and_skipped),
        cmocka_unit_test(dry_run_not_skipped),
        cmocka_unit_test(dry_run_refusals_by_class),
        cmocka_unit_test(secret_names),
        cmocka_unit_test(old_manifests_deleted_only_when_owned),
        cmocka_unit_test(store_creates_first),
        cmocka_unit_test(storing_over_an_existing_secret),
        cmocka_unit_test(manifest_secret_holds_the_manifest),
        cmocka_unit_test(other_images_collected),
        cmocka_unit_test(other_images_unfit),
        cmocka_unit_test(pinned_names_keep_what_the_chart_wrote),
        cmocka_unit_test(other_images_rewritten),
        cmocka_unit_test(cache_keys_tell_who_asks),
        cmocka_unit_test(image_check_failures),
        cmocka_unit_test(pull_secret_answers),
        cmocka_unit_test(images_pass_message),
        cmocka_unit_test(other_images_scan_verdicts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
