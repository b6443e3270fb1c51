/* chartindex_test.c: chart versions picked from Helm repository indexes, and broken indexes. */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "stages/helm/chartindex.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define HEX_A "98a233434c2ebbd7953b25a233341009367913dad465882c9819809388fba102"
#define HEX_B "d549fe04c34e0e45c5fce9a6248117c831c33050c00b1a0383fe89ec46cb335d"
#define HEX_C "6a48a2987bd850ff8232c2889d16d59a68e2d77f1cd34c05d5edeed964c43fd6"
#define HEX_D_UPPER "9D2D5BDA872CE9376ACE83FB6566A40A3C0A18A8C05DCDBD2B2340CFC2E82EF1"
#define HEX_D "9d2d5bda872ce9376ace83fb6566a40a3c0a18a8c05dcdbd2b2340cfc2e82ef1"
#define HEX_E "5334868b453cf92e6edf47a0a0af35ac811e98dddec7303676caef5d4343e3d4"
#define HEX_F "5bb7e4bc36dc810bf77bebd33f49e63794f98a5789343aabe35225c149d3197f"

#define REPO "https://charts.example.com/sub"

/*
 * index.yaml as `helm repo index` writes it (then extended by hand: versions
 * out of order, a deprecated one, prereleases, a 'v', relative and absolute
 * URLs, a missing digest, an unquoted appVersion, two broken entries), in
 * the JSON a YAML converter makes of it.
 */
static const char index_json[] =
    "{\n"
    "  \"apiVersion\": \"v1\",\n"
    "  \"entries\": {\n"
    "    \"nginx\": [\n"
    "      {\"apiVersion\": \"v2\", \"appVersion\": \"1.25.3\", \"created\": "
    "\"2024-01-10T08:00:00.000000000Z\", \"description\": \"NGINX Open Source\", \"digest\": "
    "\"" HEX_F "\", \"name\": \"nginx\", \"type\": \"application\", \"urls\": "
    "[\"https://charts.example.com/sub/nginx-15.1.0.tgz\"], \"version\": \"15.1.0\"}\n"
    "    ],\n"
    "    \"webapp\": [\n"
    "      {\"apiVersion\": \"v2\", \"appVersion\": \"1.15.0\", \"created\": "
    "\"2024-02-01T10:00:00.000000000Z\", \"description\": \"A Helm chart for Kubernetes\", "
    "\"digest\": \"" HEX_A "\", \"name\": \"webapp\", \"type\": \"application\", \"urls\": "
    "[\"webapp-0.2.0.tgz\"], \"version\": \"0.2.0\"},\n"
    "      {\"apiVersion\": \"v2\", \"appVersion\": \"1.16.0\", \"created\": "
    "\"2024-03-01T10:00:00.000000000Z\", \"digest\": \"" HEX_B "\", \"name\": \"webapp\", "
    "\"urls\": [\"https://cdn.example.com/charts/webapp-1.0.0.tgz\"], \"version\": \"1.0.0\"},\n"
    "      {\"apiVersion\": \"v2\", \"appVersion\": \"1.17.0-rc.1\", \"digest\": \"" HEX_C "\", "
    "\"name\": \"webapp\", \"urls\": [\"webapp-1.1.0-rc.1.tgz\"], \"version\": \"1.1.0-rc.1\"},\n"
    "      {\"apiVersion\": \"v1\", \"appVersion\": 1.14, \"name\": \"webapp\", \"urls\": "
    "[\"charts/webapp-0.1.0.tgz\"], \"version\": \"0.1.0\"},\n"
    "      {\"apiVersion\": \"v2\", \"appVersion\": \"1.16.1\", \"deprecated\": true, \"digest\": "
    "\"sha256:" HEX_D_UPPER "\", \"name\": \"webapp\", \"urls\": [\"../mirror/webapp-1.0.1.tgz\", "
    "\"https://cdn.example.com/charts/webapp-1.0.1.tgz\"], \"version\": \"1.0.1\"},\n"
    "      {\"name\": \"webapp\", \"urls\": [\"webapp-latest.tgz\"], \"version\": \"latest\"},\n"
    "      42,\n"
    "      {\"apiVersion\": \"v2\", \"name\": \"webapp\", \"urls\": [\"webapp-2.0.0-beta.1.tgz\"], "
    "\"version\": \"2.0.0-beta.1\"},\n"
    "      {\"apiVersion\": \"v2\", \"digest\": \"" HEX_E "\", \"name\": \"webapp\", \"urls\": "
    "[\"webapp-v0.3.0.tgz\"], \"version\": \"v0.3.0\"}\n"
    "    ],\n"
    "    \"redis\": []\n"
    "  },\n"
    "  \"generated\": \"2024-03-01T10:00:00.000000000Z\"\n"
    "}\n";

static cJSON *parse(const char *json)
{
    struct p4_error err = {0};
    cJSON *root = p4_json_parse(json, strlen(json), &err);

    if (root == NULL)
        fail_msg("fixture does not parse: %s", err.message);
    return root;
}

static struct p4_chart_version *resolve_ok(const cJSON *index, const char *repo, const char *name,
                                           const char *constraint)
{
    struct p4_chart_version *v = NULL;
    struct p4_error err = {0};

    if (p4_chartindex_resolve(index, repo, name, constraint, &v, &err) != 0)
        fail_msg("%s %s: %s", name, constraint ? constraint : "(latest)", err.message);
    assert_non_null(v);
    return v;
}

static void latest_stable_version(void **state)
{
    cJSON *index = parse(index_json);
    struct p4_chart_version *v;
    const char *latest[] = {NULL, "", "  ", "\t\n"};

    (void)state;
    for (size_t i = 0; i < COUNT(latest); i++) {
        v = resolve_ok(index, REPO, "webapp", latest[i]);
        assert_string_equal(v->name, "webapp");
        assert_string_equal(v->version, "1.0.1");
        assert_string_equal(v->app_version, "1.16.1");
        assert_string_equal(v->digest, "sha256:" HEX_D);
        assert_string_equal(v->url, "https://charts.example.com/mirror/webapp-1.0.1.tgz");
        assert_true(v->deprecated);
        assert_int_equal(v->semver.major, 1);
        assert_int_equal(v->semver.minor, 0);
        assert_int_equal(v->semver.patch, 1);
        assert_string_equal(v->semver.pre, "");
        p4_chart_version_free(v);
    }

    v = resolve_ok(index, REPO, "nginx", NULL);
    assert_string_equal(v->version, "15.1.0");
    assert_string_equal(v->url, "https://charts.example.com/sub/nginx-15.1.0.tgz");
    assert_string_equal(v->digest, "sha256:" HEX_F);
    assert_false(v->deprecated);
    p4_chart_version_free(v);
    cJSON_Delete(index);
}

static void constraints_pick_versions(void **state)
{
    static const struct {
        const char *constraint, *version, *url, *digest, *app_version;
    } cases[] = {
        {"1.0.0", "1.0.0", "https://cdn.example.com/charts/webapp-1.0.0.tgz", "sha256:" HEX_B,
         "1.16.0"},
        {"v1.0.0", "1.0.0", "https://cdn.example.com/charts/webapp-1.0.0.tgz", "sha256:" HEX_B,
         "1.16.0"},
        {"=1.0.0", "1.0.0", "https://cdn.example.com/charts/webapp-1.0.0.tgz", "sha256:" HEX_B,
         "1.16.0"},
        {"0.3.0", "v0.3.0", REPO "/webapp-v0.3.0.tgz", "sha256:" HEX_E, NULL},
        {"v0.3.0", "v0.3.0", REPO "/webapp-v0.3.0.tgz", "sha256:" HEX_E, NULL},
        {"0.1.0", "0.1.0", REPO "/charts/webapp-0.1.0.tgz", NULL, "1.14"},
        {"~1.0", "1.0.1", "https://charts.example.com/mirror/webapp-1.0.1.tgz", "sha256:" HEX_D,
         "1.16.1"},
        {"~1.0.0", "1.0.1", "https://charts.example.com/mirror/webapp-1.0.1.tgz", "sha256:" HEX_D,
         "1.16.1"},
        {"1.0", "1.0.1", "https://charts.example.com/mirror/webapp-1.0.1.tgz", "sha256:" HEX_D,
         "1.16.1"},
        {"1.x", "1.0.1", "https://charts.example.com/mirror/webapp-1.0.1.tgz", "sha256:" HEX_D,
         "1.16.1"},
        {"*", "1.0.1", "https://charts.example.com/mirror/webapp-1.0.1.tgz", "sha256:" HEX_D,
         "1.16.1"},
        {"^0.2", "0.2.0", REPO "/webapp-0.2.0.tgz", "sha256:" HEX_A, "1.15.0"},
        {"^0.2.0", "0.2.0", REPO "/webapp-0.2.0.tgz", "sha256:" HEX_A, "1.15.0"},
        {"^0", "v0.3.0", REPO "/webapp-v0.3.0.tgz", "sha256:" HEX_E, NULL},
        {"< 1", "v0.3.0", REPO "/webapp-v0.3.0.tgz", "sha256:" HEX_E, NULL},
        {">= 0.1, < 0.3", "0.2.0", REPO "/webapp-0.2.0.tgz", "sha256:" HEX_A, "1.15.0"},
        {"0.1 - 0.2", "0.2.0", REPO "/webapp-0.2.0.tgz", "sha256:" HEX_A, "1.15.0"},
        {"!=1.0.1, >=1", "1.0.0", "https://cdn.example.com/charts/webapp-1.0.0.tgz",
         "sha256:" HEX_B, "1.16.0"},
        {">=1.1.0-0 <1.2.0", "1.1.0-rc.1", REPO "/webapp-1.1.0-rc.1.tgz", "sha256:" HEX_C,
         "1.17.0-rc.1"},
        {"1.1.0-rc.1", "1.1.0-rc.1", REPO "/webapp-1.1.0-rc.1.tgz", "sha256:" HEX_C, "1.17.0-rc.1"},
        {">=1.1.0-0", "2.0.0-beta.1", REPO "/webapp-2.0.0-beta.1.tgz", NULL, NULL},
        {">=0.0.0-0", "2.0.0-beta.1", REPO "/webapp-2.0.0-beta.1.tgz", NULL, NULL},
        {"<0.2 || 1.1.0-rc.1", "1.1.0-rc.1", REPO "/webapp-1.1.0-rc.1.tgz", "sha256:" HEX_C,
         "1.17.0-rc.1"},
        {"<0.2 || >=3", "0.1.0", REPO "/charts/webapp-0.1.0.tgz", NULL, "1.14"},
    };
    cJSON *index = parse(index_json);

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct p4_chart_version *v = resolve_ok(index, REPO, "webapp", cases[i].constraint);

        if (strcmp(v->version, cases[i].version) != 0)
            fail_msg("\"%s\" picked %s, want %s", cases[i].constraint, v->version,
                     cases[i].version);
        assert_string_equal(v->url, cases[i].url);
        if (cases[i].digest == NULL)
            assert_null(v->digest);
        else
            assert_string_equal(v->digest, cases[i].digest);
        if (cases[i].app_version == NULL)
            assert_null(v->app_version);
        else
            assert_string_equal(v->app_version, cases[i].app_version);
        assert_string_equal(v->name, "webapp");
        p4_chart_version_free(v);
    }
    cJSON_Delete(index);
}

static void not_found_lists_what_the_index_has(void **state)
{
    static const struct {
        const char *name, *constraint, *message;
    } cases[] = {
        {"webapp", "~2.0",
         "chart webapp has no version matching \"~2.0\" (it has: 2.0.0-beta.1, 1.1.0-rc.1, 1.0.1, "
         "1.0.0, v0.3.0, 0.2.0, 0.1.0); 2 entries without a valid name and SemVer version were "
         "skipped"},
        {"webapp", "1.0.2",
         "chart webapp has no version matching \"1.0.2\" (it has: 2.0.0-beta.1, 1.1.0-rc.1, 1.0.1, "
         "1.0.0, v0.3.0, 0.2.0, 0.1.0); 2 entries without a valid name and SemVer version were "
         "skipped"},
        {"webapp", "latest",
         "version range \"latest\" is not valid: expected a version, found 'l' "
         "at byte 0"},
        {"redis", NULL, "chart redis has no versions in the repository index"},
        {"redis", "1.0.0", "chart redis has no versions in the repository index"},
        {"postgres", NULL,
         "the chart repository has no chart named postgres (it has: nginx, webapp, redis)"},
        {"Webapp", "1.0.0",
         "the chart repository has no chart named Webapp (it has: nginx, webapp, redis)"},
        {"web\"app\n", NULL,
         "the chart repository has no chart named web?app? (it has: nginx, webapp, redis)"},
    };
    cJSON *index = parse(index_json);

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct p4_chart_version *v = (struct p4_chart_version *)&v;
        struct p4_error err = {0};
        int rc = p4_chartindex_resolve(index, REPO, cases[i].name, cases[i].constraint, &v, &err);

        assert_int_equal(rc, strncmp(cases[i].message, "version range", 13) == 0 ? P4_ERR_INVAL
                                                                                 : P4_ERR_NOTFOUND);
        assert_null(v);
        assert_int_equal(err.code, rc);
        if (strcmp(err.message, cases[i].message) != 0)
            fail_msg("%s %s:\n got  %s\n want %s", cases[i].name, cases[i].constraint, err.message,
                     cases[i].message);
    }
    cJSON_Delete(index);
}

static void only_prereleases(void **state)
{
    cJSON *index =
        parse("{\"apiVersion\":\"v1\",\"entries\":{\"edge\":["
              "{\"name\":\"edge\",\"version\":\"0.1.0-alpha.1\",\"urls\":[\"a.tgz\"]},"
              "{\"name\":\"edge\",\"version\":\"0.1.0-alpha.2\",\"urls\":[\"b.tgz\"]}]}}");
    struct p4_chart_version *v = NULL;
    struct p4_error err = {0};

    (void)state;
    assert_int_equal(p4_chartindex_resolve(index, REPO, "edge", NULL, &v, &err), P4_ERR_NOTFOUND);
    assert_string_equal(
        err.message, "chart edge has no stable version (it has: 0.1.0-alpha.2, 0.1.0-alpha.1); a "
                     "prerelease is picked only by a version range that names one, such as "
                     "\">=0.0.0-0\"");
    v = resolve_ok(index, REPO, "edge", ">=0.0.0-0");
    assert_string_equal(v->version, "0.1.0-alpha.2");
    assert_string_equal(v->url, REPO "/b.tgz");
    p4_chart_version_free(v);
    v = resolve_ok(index, REPO, "edge", "~0.1.0-alpha");
    assert_string_equal(v->version, "0.1.0-alpha.2");
    p4_chart_version_free(v);
    cJSON_Delete(index);
}

/* Helm's literal match first; equal precedence keeps index order; a build asked for is required. */
static void exact_versions_and_build_metadata(void **state)
{
    cJSON *index = parse("{\"apiVersion\":\"v1\",\"entries\":{\"app\":["
                         "{\"name\":\"app\",\"version\":\"1.2.5\",\"urls\":[\"app-1.2.5.tgz\"]},"
                         "{\"name\":\"app\",\"version\":\"1.2\",\"urls\":[\"app-1.2.tgz\"]},"
                         "{\"name\":\"app\",\"version\":\"1.0.0+b1\",\"urls\":[\"b1.tgz\"]},"
                         "{\"name\":\"app\",\"version\":\"1.0.0+b2\",\"urls\":[\"b2.tgz\"]},"
                         "{\"name\":\"app\",\"version\":\"v1.0.0+b3\",\"urls\":[\"b3.tgz\"]}]}}");
    static const struct {
        const char *constraint, *version;
    } cases[] = {
        {"1.2", "1.2"},        /* written exactly so: Helm takes it before reading a range */
        {"~1.2", "1.2.5"},     /* as a range, 1.2.x */
        {"1.2.x", "1.2.5"},    /* likewise */
        {"1.2.0", "1.2"},      /* equal precedence */
        {"1.0.0", "1.0.0+b1"}, /* first of equal precedence */
        {"1.0.0+b2", "1.0.0+b2"},
        {"v1.0.0+b2", "1.0.0+b2"}, /* not literal, but the build is required */
        {"1.0.0+b3", "v1.0.0+b3"},
        {"=1.0.0+b3", "1.0.0+b1"}, /* a range: build metadata ignored, as Masterminds does */
    };
    struct p4_chart_version *v = NULL;
    struct p4_error err = {0};

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        v = resolve_ok(index, REPO, "app", cases[i].constraint);
        if (strcmp(v->version, cases[i].version) != 0)
            fail_msg("\"%s\" picked %s, want %s", cases[i].constraint, v->version,
                     cases[i].version);
        p4_chart_version_free(v);
    }
    assert_int_equal(p4_chartindex_resolve(index, REPO, "app", "1.0.0+b4", &v, &err),
                     P4_ERR_NOTFOUND);
    assert_string_equal(err.message, "chart app has no version matching \"1.0.0+b4\" (it has: "
                                     "1.2.5, 1.2, 1.0.0+b1, 1.0.0+b2, v1.0.0+b3)");
    cJSON_Delete(index);
}

/* One entry with the given urls (a JSON array) resolved against repo. */
static int resolve_urls(const char *repo, const char *urls, struct p4_chart_version **v,
                        struct p4_error *err)
{
    struct p4_buf b = {0};
    cJSON *index;
    int rc;

    p4_buf_printf(&b,
                  "{\"apiVersion\":\"v1\",\"entries\":{\"app\":[{\"name\":\"app\","
                  "\"version\":\"1.0.0\",\"urls\":%s}]}}",
                  urls);
    index = parse(b.data);
    rc = p4_chartindex_resolve(index, repo, "app", "1.0.0", v, err);
    cJSON_Delete(index);
    free(b.data);
    return rc;
}

static void chart_urls_resolve_as_helm_does(void **state)
{
    static const struct {
        const char *repo, *urls, *url;
    } cases[] = {
        {REPO, "[\"charts/app-1.0.0.tgz\"]", REPO "/charts/app-1.0.0.tgz"},
        {REPO "/", "[\"charts/app-1.0.0.tgz\"]", REPO "/charts/app-1.0.0.tgz"},
        {"https://charts.example.com", "[\"app-1.0.0.tgz\"]",
         "https://charts.example.com/app-1.0.0.tgz"},
        {"https://charts.example.com/", "[\"app-1.0.0.tgz\"]",
         "https://charts.example.com/app-1.0.0.tgz"},
        {REPO, "[\"./app-1.0.0.tgz\"]", REPO "/app-1.0.0.tgz"},
        {REPO, "[\"../app-1.0.0.tgz\"]", "https://charts.example.com/app-1.0.0.tgz"},
        {REPO, "[\"../../../../app-1.0.0.tgz\"]", "https://charts.example.com/app-1.0.0.tgz"},
        {REPO, "[\"a/./b/../c/app.tgz\"]", REPO "/a/c/app.tgz"},
        {REPO, "[\"/abs/app-1.0.0.tgz\"]", "https://charts.example.com/abs/app-1.0.0.tgz"},
        {REPO, "[\"//cdn.example.com/x/../app.tgz\"]", "https://cdn.example.com/app.tgz"},
        {"http://localhost:8879/charts", "[\"app-1.0.0.tgz\"]",
         "http://localhost:8879/charts/app-1.0.0.tgz"},
        {"http://[::1]:8879", "[\"app-1.0.0.tgz\"]", "http://[::1]:8879/app-1.0.0.tgz"},
        /* A signed repository URL's query goes with every chart (and replaces the chart's own). */
        {"https://acct.blob.core.windows.net/charts?sv=2021-08-06&sig=abc%2Bdef",
         "[\"app-1.0.0.tgz?other=1\"]",
         "https://acct.blob.core.windows.net/charts/app-1.0.0.tgz?sv=2021-08-06&sig=abc%2Bdef"},
        {REPO, "[\"app-1.0.0.tgz?x=1#frag\"]", REPO "/app-1.0.0.tgz"},
        /* Absolute URLs are taken as written, less the fragment. */
        {REPO, "[\"HTTPS://Cdn.Example.com/a/../app.tgz#top\"]",
         "HTTPS://Cdn.Example.com/a/../app.tgz"},
        {REPO, "[\"http://cdn.example.com:8080/app.tgz?token=1\"]",
         "http://cdn.example.com:8080/app.tgz?token=1"},
        {NULL, "[\"https://cdn.example.com/app.tgz\"]", "https://cdn.example.com/app.tgz"},
        {"", "[\"https://cdn.example.com/app.tgz\"]", "https://cdn.example.com/app.tgz"},
        /* The first usable URL wins. */
        {REPO, "[\"oci://registry.example.com/charts/app\", 7, \"https://m.example.com/app.tgz\"]",
         "https://m.example.com/app.tgz"},
        {NULL, "[\"app.tgz\", \"https://m.example.com/app.tgz\"]", "https://m.example.com/app.tgz"},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct p4_chart_version *v = NULL;
        struct p4_error err = {0};

        if (resolve_urls(cases[i].repo, cases[i].urls, &v, &err) != 0)
            fail_msg("%s %s: %s", cases[i].repo, cases[i].urls, err.message);
        if (strcmp(v->url, cases[i].url) != 0)
            fail_msg("%s + %s:\n got  %s\n want %s", cases[i].repo, cases[i].urls, v->url,
                     cases[i].url);
        p4_chart_version_free(v);
    }
}

static void unusable_chart_urls_are_refused(void **state)
{
    static const struct {
        const char *repo, *urls;
        int code;
        const char *message;
    } cases[] = {
        {REPO, "[\"ftp://files.example.com/app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"ftp://files.example.com/app.tgz\" is not an http or https URL"},
        {REPO, "[\"oci://registry.example.com/charts/app\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"oci://registry.example.com/charts/app\" is not an http or https "
         "URL"},
        {REPO, "[\"file:///etc/passwd\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"file:///etc/passwd\" is not an http or https URL"},
        {REPO, "[\"javascript:alert(1)\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"javascript:alert(1)\" is not an http or https URL"},
        {REPO, "[\"https://user:s3cret@cdn.example.com/app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] carries credentials (user info before '@'), which are refused; "
         "put them in the repository's credentials Secret instead"},
        {REPO, "[\"//token@cdn.example.com/app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] carries credentials (user info before '@'), which are refused; "
         "put them in the repository's credentials Secret instead"},
        {REPO, "[\"https:///app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"https:///app.tgz\" has no host"},
        {REPO, "[\"https:app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"https:app.tgz\" has no host"},
        {REPO, "[\"https://:80/a.tgz\", \"ftp://x/a.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"https://:80/a.tgz\" has no host"},
        {REPO, "[\"https://:80/a.tgz\", \"https://cdn.example.com:/app.tgz\"]", 0, NULL},
        {REPO, "[\"https://bad!host/app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"https://bad!host/app.tgz\" has a host with a character a host "
         "name cannot have"},
        {REPO, "[\"app 1.0.0.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"app 1.0.0.tgz\" has a blank, control or non-ASCII byte"},
        {REPO, "[\"app\\n.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"app?.tgz\" has a blank, control or non-ASCII byte"},
        {REPO, "[\"caf\\u00e9.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"caf??.tgz\" has a blank, control or non-ASCII byte"},
        {REPO, "[\"..\\\\app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"..?app.tgz\" has a backslash"},
        {REPO, "[\"a:b/app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"a:b/app.tgz\" is not an http or https URL"},
        {REPO, "[\"1a:b/app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"1a:b/app.tgz\" is not a valid URL (a ':' comes before the "
         "first '/')"},
        {REPO, "[\":app.tgz\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \":app.tgz\" is not a valid URL (a ':' comes before the first "
         "'/')"},
        {REPO, "[\"\"]", P4_ERR_INVALID, "entries.app[0].urls[0] \"\" does not name a file"},
        {REPO, "[\"?x=1\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"?x=1\" does not name a file"},
        {REPO, "[\"#top\"]", P4_ERR_INVALID,
         "entries.app[0].urls[0] \"#top\" does not name a file"},
        {REPO, "[]", P4_ERR_INVALID, "entries.app[0].urls is missing or empty"},
        {REPO, "null", P4_ERR_INVALID, "entries.app[0].urls is missing or empty"},
        {REPO, "\"https://cdn.example.com/app.tgz\"", P4_ERR_INVALID,
         "entries.app[0].urls is missing or empty"},
        {REPO, "[7, null]", P4_ERR_INVALID, "entries.app[0].urls[0] is not a string"},
        {NULL, "[\"app.tgz\"]", P4_ERR_INVAL,
         "entries.app[0].urls[0] \"app.tgz\" is relative and no repository URL was given to "
         "resolve it against"},
        {"", "[\"/app.tgz\"]", P4_ERR_INVAL,
         "entries.app[0].urls[0] \"/app.tgz\" is relative and no repository URL was given to "
         "resolve it against"},
        /* The repository URL itself. */
        {"ftp://charts.example.com", "[\"app.tgz\"]", P4_ERR_INVAL,
         "repository URL \"ftp://charts.example.com\" is not an http or https URL"},
        {"charts.example.com/sub", "[\"app.tgz\"]", P4_ERR_INVAL,
         "repository URL \"charts.example.com/sub\" is not an http or https URL"},
        {"https://admin:hunter2@charts.example.com", "[\"app.tgz\"]", P4_ERR_INVAL,
         "the repository URL carries credentials (user info before '@'), which are refused; put "
         "them in the repository's credentials Secret instead"},
        {"https://charts.example.com/a b", "[\"app.tgz\"]", P4_ERR_INVAL,
         "repository URL \"https://charts.example.com/a b\" has a blank, control or non-ASCII "
         "byte"},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct p4_chart_version *v = NULL;
        struct p4_error err = {0};
        int rc = resolve_urls(cases[i].repo, cases[i].urls, &v, &err);

        if (cases[i].code == 0) {
            assert_int_equal(rc, 0);
            p4_chart_version_free(v);
            continue;
        }
        if (rc != cases[i].code || strcmp(err.message, cases[i].message) != 0)
            fail_msg("%s + %s: rc %d\n got  %s\n want %s", cases[i].repo, cases[i].urls, rc,
                     err.message, cases[i].message);
        assert_null(v);
        assert_null(strstr(err.message, "s3cret"));
        assert_null(strstr(err.message, "hunter2"));
    }
}

static void long_urls(void **state)
{
    struct p4_chart_version *v = NULL;
    struct p4_error err = {0};
    struct p4_buf urls = {0};
    char *path = malloc(P4_CHARTINDEX_URL_MAX + 2);

    (void)state;
    assert_non_null(path);
    /* 2048 bytes are fine for a relative URL, but not once joined to the repository's. */
    memset(path, 'a', P4_CHARTINDEX_URL_MAX);
    path[P4_CHARTINDEX_URL_MAX] = '\0';
    p4_buf_printf(&urls, "[\"%s\"]", path);
    assert_int_equal(resolve_urls(REPO, urls.data, &v, &err), P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "aaa...\" resolves to a URL longer than 2048 bytes"));
    /* 2049 are not fine at all. */
    urls.len = 0;
    path[P4_CHARTINDEX_URL_MAX] = 'a';
    path[P4_CHARTINDEX_URL_MAX + 1] = '\0';
    p4_buf_printf(&urls, "[\"%s\"]", path);
    assert_int_equal(resolve_urls(REPO, urls.data, &v, &err), P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "aaa...\" is longer than 2048 bytes"));
    assert_null(v);
    /* Just fitting once joined: REPO plus '/' plus the rest. */
    urls.len = 0;
    path[P4_CHARTINDEX_URL_MAX - strlen(REPO) - 1] = '\0';
    p4_buf_printf(&urls, "[\"%s\"]", path);
    assert_int_equal(resolve_urls(REPO, urls.data, &v, &err), 0);
    assert_int_equal(strlen(v->url), P4_CHARTINDEX_URL_MAX);
    p4_chart_version_free(v);
    free(urls.data);
    free(path);
}

static void digests(void **state)
{
    static const struct {
        const char *digest; /* JSON value */
        int code;
        const char *want; /* digest or message */
    } cases[] = {
        {"\"" HEX_A "\"", 0, "sha256:" HEX_A},
        {"\"sha256:" HEX_A "\"", 0, "sha256:" HEX_A},
        {"\"SHA256:" HEX_D_UPPER "\"", 0, "sha256:" HEX_D},
        {"\"\"", 0, NULL},
        {"null", 0, NULL},
        {"\"abc\"", P4_ERR_INVALID,
         "entries.app[0].digest \"abc\" is not a SHA-256 digest (64 hex digits)"},
        {"\"sha512:" HEX_A "\"", P4_ERR_INVALID,
         "entries.app[0].digest \"sha512:" HEX_A "\" is not a SHA-256 digest (64 hex digits)"},
        {"\"" HEX_A "0\"", P4_ERR_INVALID,
         "entries.app[0].digest \"" HEX_A "0\" is not a SHA-256 digest (64 hex digits)"},
        {"\"" HEX_A " \"", P4_ERR_INVALID,
         "entries.app[0].digest \"" HEX_A " \" is not a SHA-256 digest (64 hex digits)"},
        {"64", P4_ERR_INVALID, "entries.app[0].digest is not a string"},
        {"[\"" HEX_A "\"]", P4_ERR_INVALID, "entries.app[0].digest is not a string"},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct p4_chart_version *v = NULL;
        struct p4_error err = {0};
        struct p4_buf b = {0};
        cJSON *index;
        int rc;

        p4_buf_printf(&b,
                      "{\"apiVersion\":\"v1\",\"entries\":{\"app\":[{\"name\":\"app\","
                      "\"version\":\"1.0.0\",\"urls\":[\"app.tgz\"],\"digest\":%s}]}}",
                      cases[i].digest);
        index = parse(b.data);
        rc = p4_chartindex_resolve(index, REPO, "app", NULL, &v, &err);
        assert_int_equal(rc, cases[i].code);
        if (rc != 0) {
            assert_string_equal(err.message, cases[i].want);
            assert_null(v);
        } else if (cases[i].want == NULL) {
            assert_null(v->digest);
        } else {
            assert_string_equal(v->digest, cases[i].want);
        }
        p4_chart_version_free(v);
        cJSON_Delete(index);
        free(b.data);
    }
}

/* Indexes of the wrong shape, entries of the wrong types, and bad arguments. */
static void wrong_shapes(void **state)
{
    static const struct {
        const char *json, *name;
        int code;
        const char *message; /* or, for 0, the version picked */
    } cases[] = {
        {"[]", "app", P4_ERR_INVALID, "the chart repository index is not a map"},
        {"\"index\"", "app", P4_ERR_INVALID, "the chart repository index is not a map"},
        {"{\"entries\":{}}", "app", P4_ERR_INVALID,
         "the chart repository index has no apiVersion; is this a Helm chart repository's "
         "index.yaml?"},
        {"{\"apiVersion\":1,\"entries\":{}}", "app", P4_ERR_INVALID,
         "the chart repository index has no apiVersion; is this a Helm chart repository's "
         "index.yaml?"},
        {"{\"apiVersion\":\"v1\",\"entries\":[]}", "app", P4_ERR_INVALID,
         "entries of the chart repository index is not a map"},
        {"{\"apiVersion\":\"v1\"}", "app", P4_ERR_NOTFOUND,
         "the chart repository has no chart named app (it has none)"},
        {"{\"apiVersion\":\"v1\",\"entries\":null}", "app", P4_ERR_NOTFOUND,
         "the chart repository has no chart named app (it has none)"},
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":null}}", "app", P4_ERR_NOTFOUND,
         "the chart repository has no chart named app (it has: app)"},
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":{\"version\":\"1.0.0\"}}}", "app",
         P4_ERR_INVALID, "entries.app is not a list"},
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":\"1.0.0\"}}", "app", P4_ERR_INVALID,
         "entries.app is not a list"},
        /* Entries Helm would drop are skipped, the rest still count. */
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":[null, true, [], \"1.0.0\", {},"
         "{\"name\":\"app\",\"version\":-1.5,\"urls\":[\"a.tgz\"]},"
         "{\"name\":\"app\",\"version\":true,\"urls\":[\"a.tgz\"]},"
         "{\"name\":\"app\",\"version\":\"\",\"urls\":[\"a.tgz\"]},"
         "{\"name\":\"app\",\"version\":\"1.0.0.0\",\"urls\":[\"a.tgz\"]},"
         "{\"name\":\"\",\"version\":\"9.0.0\",\"urls\":[\"a.tgz\"]},"
         "{\"name\":\"../app\",\"version\":\"9.0.0\",\"urls\":[\"a.tgz\"]},"
         "{\"name\":[\"app\"],\"version\":\"9.0.0\",\"urls\":[\"a.tgz\"]},"
         "{\"version\":\"9.0.0\",\"urls\":[\"a.tgz\"]},"
         "{\"name\":\"app\",\"version\":\"0.9.0\",\"urls\":[\"a.tgz\"],\"deprecated\":\"yes\","
         "\"appVersion\":{\"v\":1}}]}}",
         "app", 0, "0.9.0"},
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":[null, {\"name\":\"app\"}]}}", "app",
         P4_ERR_NOTFOUND,
         "chart app has no versions in the repository index; 2 entries without a valid name and "
         "SemVer version were skipped"},
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":[{\"name\":\"app\",\"version\":\"2.0.0\"},"
         "{\"name\":\"app\",\"version\":\"1.0.0\",\"urls\":[\"a.tgz\"]}]}}",
         "app", P4_ERR_INVALID, "entries.app[0].urls is missing or empty"},
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":[{\"name\":\"app\",\"version\":\"1.0.0\","
         "\"urls\":[\"a.tgz\"],\"appVersion\":\"caf\\u00e9\\n\"}]}}",
         "app", 0, "1.0.0"},
        /* Numbers where strings belong read as Helm reads them: Go's float32 text. */
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":[{\"name\":\"app\",\"version\":1.10,"
         "\"urls\":[\"a.tgz\"]},{\"name\":\"app\",\"version\":1.0,\"urls\":[\"a.tgz\"]}]}}",
         "app", 0, "1.1"},
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":[{\"name\":\"app\",\"version\":2,"
         "\"urls\":[\"a.tgz\"]},{\"name\":\"app\",\"version\":1e7,\"urls\":[\"a.tgz\"]}]}}",
         "app", 0, "2"},
        {"{\"apiVersion\":\"v1\",\"entries\":{\"app\":[]}}", "", P4_ERR_INVAL,
         "no chart name to resolve a chart version with"},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct p4_chart_version *v = (struct p4_chart_version *)&v;
        struct p4_error err = {0};
        cJSON *index = parse(cases[i].json);
        int rc = p4_chartindex_resolve(index, REPO, cases[i].name, NULL, &v, &err);

        if (rc != cases[i].code)
            fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].code, err.message);
        if (rc == 0) {
            assert_string_equal(v->version, cases[i].message);
            assert_false(v->deprecated);
            if (v->app_version != NULL)
                assert_string_equal(v->app_version, "caf???");
            p4_chart_version_free(v);
        } else {
            assert_null(v);
            if (strcmp(err.message, cases[i].message) != 0)
                fail_msg("case %zu:\n got  %s\n want %s", i, err.message, cases[i].message);
        }
        cJSON_Delete(index);
    }
}

/* Go's strconv.FormatFloat(x, 'g', -1, 32), which is what Helm makes of a number in a string field.
 */
static void numbers_read_as_helm_reads_them(void **state)
{
    static const struct {
        const char *json, *text;
    } cases[] = {
        {"1.16", "1.16"},
        {"1.10", "1.1"},
        {"2", "2"},
        {"10", "10"},
        {"100000", "100000"},
        {"1e6", "1e+06"},
        {"1234567", "1.234567e+06"},
        {"16777217", "1.6777216e+07"},
        {"3.14159265358979", "3.1415927"},
        {"0.0001", "0.0001"},
        {"0.00001", "1e-05"},
        {"-3.5", "-3.5"},
        {"0", "0"},
        {"0.1", "0.1"},
        {"1.1e39", "1.1e+39"},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct p4_chart_version *v;
        struct p4_buf b = {0};
        cJSON *index;

        p4_buf_printf(&b,
                      "{\"apiVersion\":\"v1\",\"entries\":{\"app\":[{\"name\":\"app\","
                      "\"version\":\"1.0.0\",\"urls\":[\"app.tgz\"],\"appVersion\":%s}]}}",
                      cases[i].json);
        index = parse(b.data);
        v = resolve_ok(index, REPO, "app", NULL);
        if (strcmp(v->app_version, cases[i].text) != 0)
            fail_msg("%s: got %s, want %s", cases[i].json, v->app_version, cases[i].text);
        p4_chart_version_free(v);
        cJSON_Delete(index);
        free(b.data);
    }
}

static void bad_arguments(void **state)
{
    cJSON *index = parse(index_json);
    struct p4_chart_version *v = (struct p4_chart_version *)&v;
    struct p4_error err = {0};

    (void)state;
    assert_int_equal(p4_chartindex_resolve(NULL, REPO, "webapp", NULL, &v, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "no repository index to resolve a chart version with");
    assert_null(v);
    assert_int_equal(p4_chartindex_resolve(index, REPO, NULL, NULL, &v, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "no chart name to resolve a chart version with");
    assert_int_equal(p4_chartindex_resolve(index, REPO, "webapp", NULL, NULL, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "no result to resolve a chart version with");
    assert_int_equal(p4_chartindex_resolve(index, REPO, "webapp", ">= y", &v, &err), P4_ERR_INVAL);
    assert_string_equal(err.message,
                        "version range \">= y\" is not valid: expected a version after \">=\" at "
                        "byte 3");
    /* A NULL err is fine. */
    assert_int_equal(p4_chartindex_resolve(index, REPO, "webapp", "~9", &v, NULL), P4_ERR_NOTFOUND);
    assert_int_equal(p4_chartindex_resolve(index, REPO, "webapp", "1.0.0", &v, NULL), 0);
    p4_chart_version_free(v);
    p4_chart_version_free(NULL);
    cJSON_Delete(index);
}

/* 100k versions: one pass, no per-entry memory, the highest match, ten listed. */
static void huge_index(void **state)
{
    cJSON *index = cJSON_CreateObject(), *entries = cJSON_AddObjectToObject(index, "entries");
    cJSON *list = cJSON_AddArrayToObject(entries, "big");
    struct p4_chart_version *v = NULL;
    struct p4_error err = {0};
    char version[32], url[64];

    (void)state;
    cJSON_AddStringToObject(index, "apiVersion", "v1");
    for (int i = 0; i < 100000; i++) {
        cJSON *e = cJSON_CreateObject();

        /* 0.0.0 .. 9.99.99 in a scrambled order, every 7th a prerelease. */
        int n = (i * 7919) % 100000;

        (void)snprintf(version, sizeof(version), "%d.%d.%d%s", n / 10000, (n / 100) % 100, n % 100,
                       n % 7 == 0 ? "-rc.1" : "");
        (void)snprintf(url, sizeof(url), "big-%s.tgz", version);
        cJSON_AddStringToObject(e, "name", "big");
        cJSON_AddStringToObject(e, "version", version);
        cJSON_AddItemToObject(e, "urls", cJSON_CreateStringArray((const char *[]){url}, 1));
        cJSON_AddItemToArray(list, e);
    }
    v = resolve_ok(index, REPO, "big", NULL);
    assert_string_equal(v->version, "9.99.99"); /* 99999 % 7 != 0 */
    assert_string_equal(v->url, REPO "/big-9.99.99.tgz");
    p4_chart_version_free(v);
    v = resolve_ok(index, REPO, "big", "~3.14");
    assert_string_equal(v->version, "3.14.99");
    p4_chart_version_free(v);
    v = resolve_ok(index, REPO, "big", "<1.0.0-0 || >=9.99.98-0 <9.99.99");
    assert_string_equal(v->version, "9.99.98"); /* 99998 % 7 == 3 */
    p4_chart_version_free(v);
    assert_int_equal(p4_chartindex_resolve(index, REPO, "big", ">=10", &v, &err), P4_ERR_NOTFOUND);
    assert_string_equal(err.message, "chart big has no version matching \">=10\" (it has: 9.99.99, "
                                     "9.99.98, 9.99.97, 9.99.96, 9.99.95-rc.1, 9.99.94, 9.99.93, "
                                     "9.99.92, 9.99.91, 9.99.90 and 99990 more)");
    cJSON_Delete(index);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(latest_stable_version),
        cmocka_unit_test(constraints_pick_versions),
        cmocka_unit_test(not_found_lists_what_the_index_has),
        cmocka_unit_test(only_prereleases),
        cmocka_unit_test(exact_versions_and_build_metadata),
        cmocka_unit_test(chart_urls_resolve_as_helm_does),
        cmocka_unit_test(unusable_chart_urls_are_refused),
        cmocka_unit_test(long_urls),
        cmocka_unit_test(digests),
        cmocka_unit_test(wrong_shapes),
        cmocka_unit_test(numbers_read_as_helm_reads_them),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(huge_index),
    };
    return cmocka_run_group_tests_name("chartindex", tests, NULL, NULL);
}
