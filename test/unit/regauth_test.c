/* regauth_test.c: pull secrets as kubectl writes them, registry matching, secrets merged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/oci/regauth.h"

#define DIGEST64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int add(struct p4_regauth *a, const char *type, const char *data, struct p4_error *err)
{
    return p4_regauth_add_secret(a, type, data, strlen(data), err);
}

static void assert_no_secret(const char *message, const char *secret)
{
    if (strstr(message, secret) != NULL)
        fail_msg("error message \"%s\" leaks \"%s\"", message, secret);
}

static void kubectl_dockerconfigjson(void **state)
{
    /* kubectl create secret docker-registry --docker-server=registry.example.com:5000 ... */
    static const char data[] =
        "{\"auths\":{\"registry.example.com:5000\":{\"username\":\"alice\",\"password\":"
        "\"s3cr:et!\",\"email\":\"alice@example.com\",\"auth\":\"YWxpY2U6czNjcjpldCE=\"},"
        "\"https://index.docker.io/v1/\":{\"username\":\"u\",\"password\":\"p\",\"auth\":"
        "\"dTpw\"}}}";
    struct p4_regauth a;
    struct p4_error err;
    const struct p4_regauth_entry *e;

    (void)state;
    p4_regauth_init(&a);
    assert_int_equal(add(&a, P4_REGAUTH_DOCKERCONFIGJSON, data, &err), 0);
    assert_int_equal(a.len, 2);
    assert_int_equal(a.secrets, 1);
    e = &a.entries[0];
    assert_string_equal(e->registry, "registry.example.com:5000");
    assert_string_equal(e->host, "registry.example.com:5000");
    assert_string_equal(e->path, "");
    assert_string_equal(e->normalized, "registry.example.com:5000");
    assert_string_equal(e->username, "alice");
    assert_string_equal(e->password, "s3cr:et!");
    assert_null(e->identity_token);
    assert_null(e->registry_token);
    assert_int_equal(e->secret, 0);
    e = &a.entries[1];
    assert_string_equal(e->registry, "https://index.docker.io/v1/");
    assert_string_equal(e->normalized, "docker.io");
    assert_string_equal(e->username, "u");
    assert_string_equal(e->password, "p");
    p4_regauth_close(&a);
    p4_regauth_close(&a);
    p4_regauth_close(NULL);
}

static void legacy_dockercfg(void **state)
{
    static const char data[] = "{\"https://index.docker.io/v1/\":{\"auth\":\"Ym9iOmh1bnRlcjI=\","
                               "\"email\":\"bob@example.com\"},"
                               "\"quay.io\":{\"username\":\"q\",\"password\":\"qp\"}}";
    struct p4_regauth a;
    struct p4_error err;
    const struct p4_regauth_entry *e;

    (void)state;
    p4_regauth_init(&a);
    assert_int_equal(add(&a, P4_REGAUTH_DOCKERCFG, data, &err), 0);
    assert_int_equal(a.len, 2);
    assert_int_equal(p4_regauth_lookup(&a, "nginx", &e, &err), 0);
    assert_string_equal(e->username, "bob");
    assert_string_equal(e->password, "hunter2");
    assert_int_equal(p4_regauth_lookup(&a, "quay.io/coreos/etcd:v3.5", &e, &err), 0);
    assert_string_equal(e->password, "qp");
    /* A dockerconfigjson with no auths (only credHelpers) adds nothing but still counts. */
    assert_int_equal(add(&a, P4_REGAUTH_DOCKERCONFIGJSON, "{\"credHelpers\":{}}", &err), 0);
    assert_int_equal(add(&a, P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":null}", &err), 0);
    assert_int_equal(a.len, 2);
    assert_int_equal(a.secrets, 3);
    p4_regauth_close(&a);
}

static void auth_wins_and_passwords_keep_colons(void **state)
{
    static const char data[] =
        "{\"auths\":{"
        "\"a.example\":{\"username\":\"ignored\",\"password\":\"ignored\",\"auth\":"
        "\"Y2Fyb2w6cGE6c3M6d29yZA==\"},"
        "\"b.example\":{\"username\":\"dave\",\"password\":\"pw:with:colons\",\"auth\":\"\"},"
        "\"c.example\":{\"auth\":\"ZGF2ZTpwdzE\"},"
        "\"d.example\":{\"auth\":\"Og==\"},"
        "\"e.example\":{\"Username\":\"folded\",\"PASSWORD\":\"case\"},"
        "\"f.example\":{},"
        "\"myregistry.azurecr.io\":{\"auth\":"
        "\"MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==\",\"identitytoken\":\"eyJhbGc.id\"}"
        ","
        "\"g.example\":{\"registrytoken\":\"rt-123\"}}}";
    struct p4_regauth a;
    struct p4_error err;
    const struct p4_regauth_entry *e;

    (void)state;
    p4_regauth_init(&a);
    assert_int_equal(add(&a, P4_REGAUTH_DOCKERCONFIGJSON, data, &err), 0);
    assert_int_equal(a.len, 8);
    e = &a.entries[0];
    assert_string_equal(e->username, "carol");
    assert_string_equal(e->password, "pa:ss:word");
    e = &a.entries[1]; /* empty auth: username/password are used */
    assert_string_equal(e->username, "dave");
    assert_string_equal(e->password, "pw:with:colons");
    e = &a.entries[2]; /* unpadded base64, as the kubelet accepts */
    assert_string_equal(e->username, "dave");
    assert_string_equal(e->password, "pw1");
    e = &a.entries[3];
    assert_string_equal(e->username, "");
    assert_string_equal(e->password, "");
    e = &a.entries[4]; /* Go's encoding/json matches field names in any case */
    assert_string_equal(e->username, "folded");
    assert_string_equal(e->password, "case");
    e = &a.entries[5];
    assert_null(e->username);
    assert_null(e->password);
    e = &a.entries[6];
    assert_string_equal(e->username, "00000000-0000-0000-0000-000000000000");
    assert_string_equal(e->password, "");
    assert_string_equal(e->identity_token, "eyJhbGc.id");
    e = &a.entries[7];
    assert_string_equal(e->registry_token, "rt-123");
    assert_null(e->username);
    p4_regauth_close(&a);
}

struct bad_secret {
    const char *type;
    const char *data;
    int code;
    const char *want; /* in the message */
};

static const struct bad_secret bad_secrets[] = {
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":{\"r.example\":{\"auth\":\"hunter2-SECRET!!\"}}}",
     P4_ERR_INVAL, "auth field of registry \"r.example\" in .dockerconfigjson is not valid base64"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":{\"r.example\":{\"auth\":\"bm9jb2xvbmhlcmU=\"}}}",
     P4_ERR_INVAL, "does not decode to username:password"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":{\"r.example\":{\"auth\":\"aHVudGVyMg===\"}}}",
     P4_ERR_INVAL, "not valid base64"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":{\"r.example\":{\"auth\":\"aHVud\"}}}", P4_ERR_INVAL,
     "not valid base64"},
    {P4_REGAUTH_DOCKERCONFIGJSON,
     "{\"auths\":{\"r.example\":{\"username\":\"u\",\"password\":[\"hunter2-SECRET\"]}}}",
     P4_ERR_INVAL,
     "field \"password\" of registry \"r.example\" in .dockerconfigjson is not a "
     "string"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":{\"r.example\":\"hunter2-SECRET\"}}", P4_ERR_INVAL,
     "the entry for registry \"r.example\" in .dockerconfigjson is not an object"},
    {P4_REGAUTH_DOCKERCONFIGJSON,
     "{\"auths\":{\"https://bob:hunter2-SECRET@r.example/\":{\"auth\":\"!!\"}}}", P4_ERR_INVAL,
     "\"https://***@r.example/\""},
    {P4_REGAUTH_DOCKERCONFIGJSON,
     "{\"auths\":{\"r.example:99999\":{\"password\":\"hunter2-SECRET\"}}}", P4_ERR_INVAL,
     "registry key \"r.example:99999\" in .dockerconfigjson is not a host[:port][/path]"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":{\"\":{\"password\":\"hunter2-SECRET\"}}}",
     P4_ERR_INVAL, "registry key \"\""},
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":{\"r.example/a//b\":{}}}", P4_ERR_INVAL,
     "registry key"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":[\"hunter2-SECRET\"]}", P4_ERR_INVAL,
     "\"auths\" in pull secret data .dockerconfigjson is not an object"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":{\"r.example\":{\"password\":\"hunter2-SECRET\"}",
     P4_ERR_PARSE, "pull secret data .dockerconfigjson is not valid JSON: invalid JSON at byte"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "{\"auths\":{}}\n{\"hunter2-SECRET\":1}", P4_ERR_PARSE,
     "(line 2, column 1)"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "[\"hunter2-SECRET\"]", P4_ERR_PARSE, "is not a JSON object"},
    {P4_REGAUTH_DOCKERCONFIGJSON, "", P4_ERR_PARSE, "empty JSON document"},
    {P4_REGAUTH_DOCKERCFG, "{\"r.example\":7}", P4_ERR_INVAL,
     "the entry for registry \"r.example\" in .dockercfg is not an object"},
    {"Opaque", "{}", P4_ERR_INVAL, "pull secret type \"Opaque\" is not kubernetes.io/"},
};

static void bad_secrets_name_the_key_never_the_secret(void **state)
{
    struct p4_regauth a;
    struct p4_error err;

    (void)state;
    p4_regauth_init(&a);
    assert_int_equal(add(&a, P4_REGAUTH_DOCKERCFG, "{\"ok.example\":{\"auth\":\"dTpw\"}}", &err),
                     0);
    for (size_t i = 0; i < sizeof(bad_secrets) / sizeof(bad_secrets[0]); i++) {
        const struct bad_secret *c = &bad_secrets[i];
        int rc;

        p4_error_clear(&err);
        rc = add(&a, c->type, c->data, &err);
        if (rc != c->code || err.code != c->code || strstr(err.message, c->want) == NULL)
            fail_msg("case %zu: rc %d, message \"%s\", want %d and \"%s\"", i, rc, err.message,
                     c->code, c->want);
        assert_no_secret(err.message, "hunter2");
        assert_no_secret(err.message, "aHVud");
        assert_no_secret(err.message, "bm9jb2xvbmhlcmU");
        /* All or nothing: the earlier secret is intact, nothing was added. */
        assert_int_equal(a.len, 1);
        assert_int_equal(a.secrets, 1);
        assert_string_equal(a.entries[0].normalized, "ok.example");
    }
    p4_regauth_close(&a);
}

static void sizes_and_unterminated_input(void **state)
{
    static const char good[] = "{\"auths\":{\"r.example\":{\"auth\":\"dTpw\"}}}";
    size_t big_len = P4_REGAUTH_INPUT_MAX + 1, good_len = sizeof(good) - 1;
    char *big = malloc(big_len);
    struct p4_regauth a;
    struct p4_error err;

    (void)state;
    assert_non_null(big);
    p4_regauth_init(&a);
    memset(big, ' ', big_len);
    memcpy(big, good, good_len);
    assert_int_equal(p4_regauth_add_secret(&a, P4_REGAUTH_DOCKERCONFIGJSON, big, big_len, &err),
                     P4_ERR_TOOBIG);
    assert_non_null(strstr(err.message, "exceeds the 1048576-byte limit"));
    /* Exactly the JSON, with junk after len: only len bytes are read. */
    memset(big + good_len, '}', 7);
    assert_int_equal(p4_regauth_add_secret(&a, P4_REGAUTH_DOCKERCONFIGJSON, big, good_len, &err),
                     0);
    assert_int_equal(a.len, 1);
    assert_int_equal(p4_regauth_add_secret(&a, P4_REGAUTH_DOCKERCONFIGJSON, NULL, 0, &err),
                     P4_ERR_INVAL);
    assert_int_equal(p4_regauth_add_secret(NULL, P4_REGAUTH_DOCKERCONFIGJSON, good, 3, &err),
                     P4_ERR_INVAL);
    free(big);
    p4_regauth_close(&a);
}

struct match_case {
    const char *arg;
    const char *want; /* registry key of the matching entry; NULL: P4_ERR_NOTFOUND */
};

static const char match_secret[] = "{\"auths\":{"
                                   "\"https://index.docker.io/v1/\":{\"auth\":\"dTpw\"},"
                                   "\"registry.example.com\":{\"auth\":\"dTpw\"},"
                                   "\"registry.example.com/team\":{\"auth\":\"dTpw\"},"
                                   "\"https://registry.example.com/team/app/\":{\"auth\":\"dTpw\"},"
                                   "\"http://registry.example.com:5000/v2/\":{\"auth\":\"dTpw\"},"
                                   "\"*.corp.example\":{\"auth\":\"dTpw\"},"
                                   "\"mirror.corp.example\":{\"auth\":\"dTpw\"},"
                                   "\"localhost:5000\":{\"auth\":\"dTpw\"},"
                                   "\"[::1]:5001\":{\"auth\":\"dTpw\"},"
                                   "\"gcr.io/my-project/v1/\":{\"auth\":\"dTpw\"}}}";

static const struct match_case match_cases[] = {
    /* Docker Hub: bare names, library/, and every alias of the registry. */
    {"nginx", "https://index.docker.io/v1/"},
    {"library/nginx:1.25", "https://index.docker.io/v1/"},
    {"docker.io/library/nginx", "https://index.docker.io/v1/"},
    {"index.docker.io/bitnami/redis", "https://index.docker.io/v1/"},
    {"registry-1.docker.io/library/alpine@" DIGEST64, "https://index.docker.io/v1/"},
    {"bitnami/redis:7", "https://index.docker.io/v1/"},
    {"docker.io", "https://index.docker.io/v1/"},
    {"https://index.docker.io/v1/", "https://index.docker.io/v1/"},
    /* Path prefixes: the longest wins, at a '/' boundary only. */
    {"registry.example.com/other/app:1.0", "registry.example.com"},
    {"registry.example.com/team/web", "registry.example.com/team"},
    {"registry.example.com/team", "registry.example.com/team"},
    {"registry.example.com/team/app:2", "https://registry.example.com/team/app/"},
    {"registry.example.com/team/app/sub@" DIGEST64, "https://registry.example.com/team/app/"},
    {"registry.example.com/teamx/app", "registry.example.com"},
    {"REGISTRY.Example.COM/team/x", "registry.example.com/team"},
    {"registry.example.com", "registry.example.com"},
    {"https://registry.example.com/v2/", "registry.example.com"},
    /* Ports must match exactly; the scheme and /v2/ of the key do not matter. */
    {"registry.example.com:5000/team/app:1.0", "http://registry.example.com:5000/v2/"},
    {"registry.example.com:5000", "http://registry.example.com:5000/v2/"},
    {"registry.example.com:5001/app", NULL},
    {"localhost:5000/app", "localhost:5000"},
    {"localhost:5000", "localhost:5000"},
    {"localhost/app", NULL},
    {"[::1]:5001/app", "[::1]:5001"},
    {"[::1]:5002/app", NULL},
    /* Wildcards match one label; a literal host beats them. */
    {"a.corp.example/x", "*.corp.example"},
    {"a.b.corp.example/x", NULL},
    {"corp.example/x", NULL},
    {"mirror.corp.example/x", "mirror.corp.example"},
    {"gcr.io/my-project/img", "gcr.io/my-project/v1/"},
    {"gcr.io/other/img", NULL},
    {"quay.io/coreos/etcd", NULL},
};

static void kubelet_matching(void **state)
{
    struct p4_regauth a;
    struct p4_error err;

    (void)state;
    p4_regauth_init(&a);
    assert_int_equal(add(&a, P4_REGAUTH_DOCKERCONFIGJSON, match_secret, &err), 0);
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const struct match_case *c = &match_cases[i];
        const struct p4_regauth_entry *e = (const void *)&a;
        int rc = p4_regauth_lookup(&a, c->arg, &e, &err);

        if (c->want == NULL) {
            if (rc != P4_ERR_NOTFOUND || e != NULL)
                fail_msg("case %zu (%s): rc %d, want NOTFOUND", i, c->arg, rc);
            assert_string_equal(err.reason, "NotFound");
            assert_non_null(strstr(err.message, "no image pull secret has credentials for"));
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu (%s): rc %d: %s", i, c->arg, rc, err.message);
        if (strcmp(e->registry, c->want) != 0)
            fail_msg("case %zu (%s): matched %s, want %s", i, c->arg, e->registry, c->want);
    }
    p4_regauth_close(&a);
}

static void lookup_errors(void **state)
{
    struct p4_regauth a;
    struct p4_error err;
    const struct p4_regauth_entry *e;

    (void)state;
    p4_regauth_init(&a);
    assert_int_equal(p4_regauth_lookup(&a, "nginx", &e, &err), P4_ERR_NOTFOUND);
    assert_string_equal(err.message, "no image pull secret has credentials for "
                                     "docker.io/library/nginx; add its registry to a secret in "
                                     "imagePullSecrets");
    assert_int_equal(p4_regauth_lookup(&a, "Nginx", &e, &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "must be lowercase"));
    assert_int_equal(p4_regauth_lookup(&a, "https://reg example/", &e, &err), P4_ERR_INVAL);
    assert_int_equal(p4_regauth_lookup(&a, NULL, &e, &err), P4_ERR_INVAL);
    assert_null(e);
    assert_int_equal(p4_regauth_lookup(NULL, "nginx", &e, &err), P4_ERR_INVAL);
    p4_regauth_close(&a);
}

static void secrets_merge_in_order(void **state)
{
    struct p4_regauth a;
    struct p4_error err;
    const struct p4_regauth_entry *e;

    (void)state;
    p4_regauth_init(&a);
    assert_int_equal(add(&a, P4_REGAUTH_DOCKERCFG,
                         "{\"quay.io\":{\"username\":\"q0\",\"password\":\"x\"}}", &err),
                     0);
    assert_int_equal(add(&a, P4_REGAUTH_DOCKERCONFIGJSON,
                         "{\"auths\":{\"quay.io/coreos\":{\"username\":\"q1\"},"
                         "\"ghcr.io\":{\"username\":\"g1\"}}}",
                         &err),
                     0);
    assert_int_equal(a.secrets, 2);
    /* The first secret that matches wins, even with a shorter path (imagePullSecrets order). */
    assert_int_equal(p4_regauth_lookup(&a, "quay.io/coreos/etcd", &e, &err), 0);
    assert_string_equal(e->username, "q0");
    assert_int_equal(e->secret, 0);
    assert_int_equal(p4_regauth_lookup(&a, "ghcr.io/owner/repo:tag", &e, &err), 0);
    assert_string_equal(e->username, "g1");
    assert_int_equal(e->secret, 1);
    p4_regauth_close(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kubectl_dockerconfigjson),
        cmocka_unit_test(legacy_dockercfg),
        cmocka_unit_test(auth_wins_and_passwords_keep_colons),
        cmocka_unit_test(bad_secrets_name_the_key_never_the_secret),
        cmocka_unit_test(sizes_and_unterminated_input),
        cmocka_unit_test(kubelet_matching),
        cmocka_unit_test(lookup_errors),
        cmocka_unit_test(secrets_merge_in_order),
    };
    return cmocka_run_group_tests_name("regauth", tests, NULL, NULL);
}
