/*
 * chartindex_fuzz.c: libFuzzer target for chart repository indexes.
 *
 * Input layout: the bytes are an index as JSON (what the YAML converter
 * hands over). It is resolved for the chart named by the first key of
 * "entries" and for "app", with several constraints and with and without a
 * repository URL. A result must carry a version that parses and satisfies
 * the constraint, a clean absolute http(s) URL without user info, and a
 * checked digest or none; a refusal must be a known code with a clean,
 * non-empty message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/json.h"
#include "phase4/oci/ocimanifest.h"
#include "stages/helm/chartindex.h"

static const char *const constraints[] = {
    NULL, "", "*", "1.0.0", "v1.0.0+b1", ">=0.0.0-0", "~1.2", "^0.1", "1.x || >= 3.0.0-rc.1",
};

static const char *const repos[] = {
    "https://charts.example.com/sub",
    "http://localhost:8879/charts/?sig=a%2Bb",
    NULL,
};

static void check_clean(const char *s, bool spaces)
{
    if (s == NULL)
        abort();
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || (*s == ' ' && !spaces))
            abort();
    }
}

static void check_url(const char *url)
{
    size_t scheme, auth;

    check_clean(url, false);
    if (strncasecmp(url, "https://", 8) == 0)
        scheme = 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        scheme = 7;
    else
        abort();
    auth = strcspn(url + scheme, "/?#");
    if (auth == 0 || memchr(url + scheme, '@', auth) != NULL || strchr(url, '#') != NULL ||
        strchr(url, '\\') != NULL)
        abort();
}

static void check_result(const struct p4_chart_version *v, const char *constraint)
{
    struct p4_semver parsed;
    struct p4_semver_range *r = NULL;

    check_clean(v->name, false);
    check_clean(v->version, false);
    check_url(v->url);
    if (v->app_version != NULL)
        check_clean(v->app_version, true);
    if (v->digest != NULL &&
        (!p4_oci_digest_valid(v->digest) || strncmp(v->digest, "sha256:", 7) != 0))
        abort();
    if (p4_semver_parse(v->version, &parsed, NULL) != 0 ||
        p4_semver_compare(&parsed, &v->semver) != 0 || strcmp(v->semver.original, v->version) != 0)
        abort();
    if (constraint == NULL || constraint[0] == '\0') {
        if (v->semver.pre[0] != '\0')
            abort();
        return;
    }
    if (strcmp(constraint, v->version) == 0)
        return;
    if (p4_semver_range_parse(constraint, &r, NULL) != 0 || !p4_semver_range_match(r, &v->semver))
        abort();
    p4_semver_range_free(r);
}

static void resolve(const cJSON *index, const char *repo, const char *name, const char *constraint)
{
    struct p4_chart_version *v = NULL;
    struct p4_error err;
    int rc = p4_chartindex_resolve(index, repo, name, constraint, &v, &err);

    if (rc == 0) {
        if (v == NULL)
            abort();
        check_result(v, constraint);
    } else {
        if (v != NULL || err.code != rc || err.message[0] == '\0' ||
            (rc != P4_ERR_NOTFOUND && rc != P4_ERR_INVALID && rc != P4_ERR_INVAL))
            abort();
        check_clean(err.message, true);
    }
    p4_chart_version_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const cJSON *entries;
    cJSON *index = p4_json_parse((const char *)data, size, NULL);
    const char *first = NULL;

    if (index == NULL)
        return 0;
    entries = p4_json_child(index, "entries");
    if (cJSON_IsObject(entries) && entries->child != NULL && entries->child->string != NULL &&
        entries->child->string[0] != '\0')
        first = entries->child->string;
    for (size_t c = 0; c < sizeof(constraints) / sizeof(constraints[0]); c++) {
        for (size_t r = 0; r < sizeof(repos) / sizeof(repos[0]); r++) {
            if (first != NULL)
                resolve(index, repos[r], first, constraints[c]);
            resolve(index, repos[r], "app", constraints[c]);
        }
    }
    cJSON_Delete(index);
    return 0;
}
