/* regauth_test.c: pull secrets as kubectl writes them, registry matching, challenges, tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct ref_case {
    const char *ref;
    const char *registry, *repository, *tag, *digest;
};

static const struct ref_case good_refs[] = {
    {"nginx", "docker.io", "library/nginx", "latest", NULL},
    {"nginx:1.25-alpine", "docker.io", "library/nginx", "1.25-alpine", NULL},
    {"library/nginx@" DIGEST64, "docker.io", "library/nginx", NULL, DIGEST64},
    {"bitnami/redis", "docker.io", "bitnami/redis", "latest", NULL},
    {"docker.io/nginx", "docker.io", "library/nginx", "latest", NULL},
    {"Docker.IO/nginx", "docker.io", "library/nginx", "latest", NULL},
    {"index.docker.io/user/app:v2", "docker.io", "user/app", "v2", NULL},
    {"registry.example.com:5000/team/app:1.0", "registry.example.com:5000", "team/app", "1.0",
     NULL},
    {"localhost/app", "localhost", "app", "latest", NULL},
    {"localhost:5000/a/b/c:v1", "localhost:5000", "a/b/c", "v1", NULL},
    {"ghcr.io/owner/repo:tag@" DIGEST64, "ghcr.io", "owner/repo", "tag", DIGEST64},
    {"[::1]:5000/app", "[::1]:5000", "app", "latest", NULL},
    {"a__b/c.d/e--f_g", "docker.io", "a__b/c.d/e--f_g", "latest", NULL},
    {"gcr.io/p/i@sha512:"
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "gcr.io", "p/i", NULL,
     "sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    {"app:_Tag.1-x", "docker.io", "library/app", "_Tag.1-x", NULL},
};

struct bad_ref {
    const char *ref;
    const char *want;
};

static const struct bad_ref bad_refs[] = {
    {"", "the image reference is empty"},
    {"Nginx", "the repository name must be lowercase"},
    {"docker.io/Library/nginx", "must be lowercase"},
    {"nginx:", "the tag after ':' is empty"},
    {":tag", "it has no repository name"},
    {"@" DIGEST64, "it has no repository name"},
    {"registry.example.com/", "empty path component"},
    {"a//b", "empty path component"},
    {"/nginx", "empty path component"},
    {"nginx@sha256:abc", "the digest has the wrong length"},
    {"nginx@md5:0123456789abcdef0123456789abcdef", "sha256, sha384 or sha512"},
    {"nginx@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
     "lowercase hexadecimal"},
    {"nginx@", "the digest after '@' is empty"},
    {"nginx@sha256", "algorithm:hex"},
    {"nginx@" DIGEST64 "@" DIGEST64, "wrong length"},
    {"nginx:-bad", "not start with '.' or '-'"},
    {"nginx:a/b", "the registry is not a valid host[:port]"},
    {"registry.example.com:99999/app", "the registry is not a valid host[:port]"},
    {"-host.example/app", "the registry is not a valid host[:port]"},
    {"https://registry.example.com/app", "the registry is not a valid host[:port]"},
    {"app/-x", "repository path component"},
    {"a b", "repository path component"},
    {"a..b", "repository path component"},
    {"a___b", "repository path component"},
    {"app\n", "repository path component"},
};

static void image_references(void **state)
{
    char name[300], tag[140], ref[300];
    struct p4_image_ref r;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(good_refs) / sizeof(good_refs[0]); i++) {
        const struct ref_case *c = &good_refs[i];

        if (p4_image_ref_parse(c->ref, &r, &err) != 0)
            fail_msg("case %zu (%s): %s", i, c->ref, err.message);
        assert_string_equal(r.registry, c->registry);
        assert_string_equal(r.repository, c->repository);
        if (c->tag != NULL)
            assert_string_equal(r.tag, c->tag);
        else
            assert_null(r.tag);
        if (c->digest != NULL)
            assert_string_equal(r.digest, c->digest);
        else
            assert_null(r.digest);
        p4_image_ref_close(&r);
    }
    for (size_t i = 0; i < sizeof(bad_refs) / sizeof(bad_refs[0]); i++) {
        const struct bad_ref *c = &bad_refs[i];

        p4_error_clear(&err);
        if (p4_image_ref_parse(c->ref, &r, &err) != P4_ERR_INVAL ||
            strstr(err.message, c->want) == NULL)
            fail_msg("case %zu (%s): message \"%s\", want \"%s\"", i, c->ref, err.message, c->want);
        assert_string_equal(err.reason, "InvalidArgument");
        assert_null(r.registry);
        assert_null(r.repository);
        p4_image_ref_close(&r);
    }
    /* Tags up to 128 characters; names up to 255. */
    memset(tag, 'a', 128);
    tag[128] = '\0';
    (void)snprintf(ref, sizeof(ref), "app:%s", tag);
    assert_int_equal(p4_image_ref_parse(ref, &r, &err), 0);
    assert_int_equal(strlen(r.tag), 128);
    p4_image_ref_close(&r);
    (void)snprintf(ref, sizeof(ref), "app:%sa", tag);
    assert_int_equal(p4_image_ref_parse(ref, &r, &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "the tag is longer than 128 characters"));
    /* The limit is on the normalized name: docker.io/library/ + 237 = 255. */
    memset(name, 'n', 238);
    name[237] = '\0';
    assert_int_equal(p4_image_ref_parse(name, &r, &err), 0);
    assert_int_equal(strlen(r.registry) + 1 + strlen(r.repository), 255);
    p4_image_ref_close(&r);
    name[237] = 'n';
    name[238] = '\0';
    assert_int_equal(p4_image_ref_parse(name, &r, &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "the name with its registry is longer than 255"));
    assert_null(r.registry);
    assert_null(r.repository);
    /* Control characters in the reference are not echoed. */
    assert_int_equal(p4_image_ref_parse("a\033[31mb", &r, &err), P4_ERR_INVAL);
    assert_null(strchr(err.message, '\033'));
    assert_int_equal(p4_image_ref_parse(NULL, &r, &err), P4_ERR_INVAL);
    p4_image_ref_close(NULL);
}

struct challenge_want {
    enum p4_auth_scheme kind;
    const char *scheme, *realm, *service, *scope, *error;
};

struct challenge_case {
    const char *header;
    size_t count;
    struct challenge_want first, second;
};

static const struct challenge_case challenge_cases[] = {
    {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
     "scope=\"repository:library/nginx:pull\"",
     1,
     {P4_AUTH_BEARER, "Bearer", "https://auth.docker.io/token", "registry.docker.io",
      "repository:library/nginx:pull", NULL},
     {0}},
    {"Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\","
     "scope=\"repository:owner/repo:pull\"",
     1,
     {P4_AUTH_BEARER, "Bearer", "https://ghcr.io/token", "ghcr.io", "repository:owner/repo:pull",
      NULL},
     {0}},
    {"Basic realm=\"Registry Realm\"",
     1,
     {P4_AUTH_BASIC, "Basic", "Registry Realm", NULL, NULL, NULL},
     {0}},
    {"Basic realm=\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com/\","
     "service=\"ecr.amazonaws.com\"",
     1,
     {P4_AUTH_BASIC, "Basic", "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",
      "ecr.amazonaws.com", NULL, NULL},
     {0}},
    {"Basic realm=\"x\", Bearer realm=\"https://auth.example/token\",service=\"reg\"",
     2,
     {P4_AUTH_BASIC, "Basic", "x", NULL, NULL, NULL},
     {P4_AUTH_BEARER, "Bearer", "https://auth.example/token", "reg", NULL, NULL}},
    {"bEaReR REALM=\"https://a/t\", Service=svc, SCOPE=\"repository:a/b:pull,push\"",
     1,
     {P4_AUTH_BEARER, "bEaReR", "https://a/t", "svc", "repository:a/b:pull,push", NULL},
     {0}},
    {"Bearer realm=\"https://a/t\",error=\"insufficient_scope\","
     "scope=\"a \\\"quoted\\\" \\\\ x\"",
     1,
     {P4_AUTH_BEARER, "Bearer", "https://a/t", NULL, "a \"quoted\" \\ x", "insufficient_scope"},
     {0}},
    {"Bearer realm=\"https://a/t\",error=\"invalid_token\","
     "error_description=\"The access token expired\"",
     1,
     {P4_AUTH_BEARER, "Bearer", "https://a/t", NULL, NULL, "invalid_token"},
     {0}},
    {"Bearer realm=https://auth.example/token?x=1,service=reg",
     1,
     {P4_AUTH_BEARER, "Bearer", "https://auth.example/token?x=1", "reg", NULL, NULL},
     {0}},
    {"Negotiate YIIBWwYGKwYBBQUCoIIBTzCCAUug==, Basic realm=\"r\"",
     2,
     {P4_AUTH_OTHER, "Negotiate", NULL, NULL, NULL, NULL},
     {P4_AUTH_BASIC, "Basic", "r", NULL, NULL, NULL}},
    {", Basic ,, Bearer realm=\"r\" ,",
     2,
     {P4_AUTH_BASIC, "Basic", NULL, NULL, NULL, NULL},
     {P4_AUTH_BEARER, "Bearer", "r", NULL, NULL, NULL}},
    {"Bearer realm = \"r\" ,\tservice = \"\"",
     1,
     {P4_AUTH_BEARER, "Bearer", "r", "", NULL, NULL},
     {0}},
    {"Bearer", 1, {P4_AUTH_BEARER, "Bearer", NULL, NULL, NULL, NULL}, {0}},
};

static void assert_opt_string(const char *got, const char *want, size_t i)
{
    if (want == NULL && got != NULL)
        fail_msg("case %zu: got \"%s\", want none", i, got);
    if (want != NULL && (got == NULL || strcmp(got, want) != 0))
        fail_msg("case %zu: got \"%s\", want \"%s\"", i, got ? got : "(null)", want);
}

static void check_challenge(const struct p4_auth_challenge *c, const struct challenge_want *w,
                            size_t i)
{
    assert_int_equal(c->kind, w->kind);
    assert_opt_string(c->scheme, w->scheme, i);
    assert_opt_string(c->realm, w->realm, i);
    assert_opt_string(c->service, w->service, i);
    assert_opt_string(c->scope, w->scope, i);
    assert_opt_string(c->error, w->error, i);
}

static void www_authenticate(void **state)
{
    struct p4_auth_challenges list;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(challenge_cases) / sizeof(challenge_cases[0]); i++) {
        const struct challenge_case *c = &challenge_cases[i];

        if (p4_regauth_challenges_parse(c->header, strlen(c->header), &list, &err) != 0)
            fail_msg("case %zu: %s", i, err.message);
        if (list.len != c->count)
            fail_msg("case %zu: %zu challenges, want %zu", i, list.len, c->count);
        check_challenge(&list.items[0], &c->first, i);
        if (c->count > 1)
            check_challenge(&list.items[1], &c->second, i);
        p4_regauth_challenges_close(&list);
    }
    p4_regauth_challenges_close(NULL);
}

struct bad_header {
    const char *header;
    size_t len; /* 0: strlen */
    int code;
    const char *want;
};

static const struct bad_header bad_headers[] = {
    {"", 0, P4_ERR_PARSE, "has no challenge"},
    {" ,  ,", 0, P4_ERR_PARSE, "has no challenge"},
    {"Bearer realm=\"unterminated", 0, P4_ERR_PARSE,
     "the quoted string at byte 13 of the WWW-Authenticate value is not closed"},
    {"Bearer realm=\"a\\", 0, P4_ERR_PARSE, "is not closed"},
    {"Bearer realm=\"a\" service=\"b\"", 0, P4_ERR_PARSE, "expected ',' at byte 17"},
    {"Bearer realm=\"a\",REALM=\"b\"", 0, P4_ERR_PARSE, "parameter realm appears twice"},
    {"=\"x\"", 0, P4_ERR_PARSE, "expected an auth scheme at byte 0"},
    {"Bearer realm=\"a\x01\"", 0, P4_ERR_PARSE, "control character at byte 15"},
    {"Bearer foo bar", 0, P4_ERR_PARSE, "expected a parameter at byte 7"},
    {"Bearer@ realm=x", 0, P4_ERR_PARSE, "unexpected character after the auth scheme at byte 6"},
    {"Basic\0 realm=\"x\"", 16, P4_ERR_PARSE, "byte 5"},
    {"Bearer realm=\"a\"\"b\"", 0, P4_ERR_PARSE, "expected ','"},
    {"Basic, Basic, Basic, Basic, Basic, Basic, Basic, Basic, Basic, Basic, Basic, Basic, "
     "Basic, Basic, Basic, Basic, Basic",
     0, P4_ERR_TOOBIG, "more than 16 challenges"},
};

static void www_authenticate_garbage(void **state)
{
    static const char unterminated[] = {'B', 'a', 's', 'i', 'c', ' ', 'r', 'e', 'a',
                                        'l', 'm', '=', 'x', '"', 'j', 'u', 'n', 'k'};
    struct p4_auth_challenges list;
    struct p4_error err;
    char *big;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        const struct bad_header *c = &bad_headers[i];
        size_t len = c->len ? c->len : strlen(c->header);
        int rc = p4_regauth_challenges_parse(c->header, len, &list, &err);

        if (rc != c->code || strstr(err.message, c->want) == NULL)
            fail_msg("case %zu: rc %d \"%s\", want \"%s\"", i, rc, err.message, c->want);
        assert_int_equal(list.len, 0);
        assert_null(list.items);
    }
    /* Only len bytes are read: the quote after them is not seen. */
    assert_int_equal(p4_regauth_challenges_parse(unterminated, 13, &list, &err), 0);
    assert_string_equal(list.items[0].realm, "x");
    p4_regauth_challenges_close(&list);
    big = malloc(P4_REGAUTH_INPUT_MAX + 1);
    assert_non_null(big);
    memset(big, ' ', P4_REGAUTH_INPUT_MAX + 1);
    assert_int_equal(p4_regauth_challenges_parse(big, P4_REGAUTH_INPUT_MAX + 1, &list, &err),
                     P4_ERR_TOOBIG);
    free(big);
    assert_int_equal(p4_regauth_challenges_parse(NULL, 3, &list, &err), P4_ERR_INVAL);
}

static void token_urls(void **state)
{
    static const char hub[] = "Bearer realm=\"https://auth.docker.io/token\","
                              "service=\"registry.docker.io\","
                              "scope=\"repository:library/nginx:pull\"";
    struct p4_auth_challenge c;
    struct p4_auth_challenges list;
    struct p4_error err;
    char *url;

    (void)state;
    assert_int_equal(p4_regauth_challenges_parse(hub, strlen(hub), &list, &err), 0);
    url = p4_regauth_token_url(&list.items[0], NULL);
    assert_string_equal(url, "https://auth.docker.io/token?service=registry.docker.io"
                             "&scope=repository%3Alibrary%2Fnginx%3Apull");
    free(url);
    url = p4_regauth_token_url(&list.items[0], " repository:a/b:pull,push  repository:c/d:pull ");
    assert_string_equal(url, "https://auth.docker.io/token?service=registry.docker.io"
                             "&scope=repository%3Aa%2Fb%3Apull%2Cpush"
                             "&scope=repository%3Ac%2Fd%3Apull");
    free(url);
    p4_regauth_challenges_close(&list);

    memset(&c, 0, sizeof(c));
    c.realm = "https://auth.example/token?tenant=a";
    c.service = "my reg&co=1";
    url = p4_regauth_token_url(&c, "repository:jos\xc3\xa9/app:pull");
    assert_string_equal(url, "https://auth.example/token?tenant=a&service=my%20reg%26co%3D1"
                             "&scope=repository%3Ajos%C3%A9%2Fapp%3Apull");
    free(url);
    c.realm = "HTTP://auth.example/token?";
    c.service = NULL;
    url = p4_regauth_token_url(&c, "");
    assert_string_equal(url, "HTTP://auth.example/token?");
    free(url);
    c.scope = "s";
    url = p4_regauth_token_url(&c, NULL);
    assert_string_equal(url, "HTTP://auth.example/token?scope=s");
    free(url);
    c.realm = "Registry Realm";
    assert_null(p4_regauth_token_url(&c, NULL));
    c.realm = "ftp://auth.example/token";
    assert_null(p4_regauth_token_url(&c, NULL));
    c.realm = "https://auth.example/token#frag";
    assert_null(p4_regauth_token_url(&c, NULL));
    c.realm = "https:///token";
    assert_null(p4_regauth_token_url(&c, NULL));
    c.realm = NULL;
    assert_null(p4_regauth_token_url(&c, NULL));
    assert_null(p4_regauth_token_url(NULL, "s"));
}

static void basic_headers(void **state)
{
    static const struct {
        const char *user, *password, *want;
    } cases[] = {
        {"alice", "s3cr:et!", "Authorization: Basic YWxpY2U6czNjcjpldCE="},
        {"", "", "Authorization: Basic Og=="},
        {"a", "b", "Authorization: Basic YTpi"},
        {"ab", "c", "Authorization: Basic YWI6Yw=="},
        {"abc", "d", "Authorization: Basic YWJjOmQ="},
        {"jos\xc3\xa9", "p\xc3\xa4ss", "Authorization: Basic am9zw6k6cMOkc3M="},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *h = p4_regauth_basic_header(cases[i].user, cases[i].password);

        assert_string_equal(h, cases[i].want);
        memset(h, 0, strlen(h));
        free(h);
    }
    assert_null(p4_regauth_basic_header("a:b", "c"));
    assert_null(p4_regauth_basic_header(NULL, "c"));
    assert_null(p4_regauth_basic_header("a", NULL));
}

static void token_responses(void **state)
{
    struct p4_regauth_token t;
    struct p4_error err;
    const char *j;

    (void)state;
    j = "{\"token\":\"T1\",\"expires_in\":300,\"issued_at\":\"2024-01-02T03:04:05Z\"}";
    assert_int_equal(p4_regauth_token_parse(j, strlen(j), 1000, &t, &err), 0);
    assert_string_equal(t.token, "T1");
    assert_null(t.refresh_token);
    assert_int_equal(t.expires_in, 300);
    assert_true(t.has_expires_in);
    assert_true(t.has_issued_at);
    assert_int_equal(t.issued_at, 1704164645);
    assert_int_equal(t.expires_at, 1300);
    p4_regauth_token_close(&t);

    /* OAuth2 name; expires_in defaults to 60 s as the Docker token spec says. */
    j = "{\"access_token\":\"A1\",\"scope\":\"repository:a:pull\"}";
    assert_int_equal(p4_regauth_token_parse(j, strlen(j), 1000, &t, &err), 0);
    assert_string_equal(t.token, "A1");
    assert_int_equal(t.expires_in, 60);
    assert_false(t.has_expires_in);
    assert_false(t.has_issued_at);
    assert_int_equal(t.expires_at, 1060);
    p4_regauth_token_close(&t);

    j = "{\"token\":\"T\",\"access_token\":\"A\",\"expires_in\":10,\"refresh_token\":\"R\","
        "\"issued_at\":\"2024-01-02T05:04:05.123456789+02:00\"}";
    assert_int_equal(p4_regauth_token_parse(j, strlen(j), 0, &t, &err), 0);
    assert_string_equal(t.token, "T");
    assert_string_equal(t.refresh_token, "R");
    assert_int_equal(t.expires_in, 60);
    assert_true(t.has_expires_in);
    assert_int_equal(t.issued_at, 1704164645);
    p4_regauth_token_close(&t);

    j = "{\"token\":\"\",\"access_token\":\"A\",\"expires_in\":null}";
    assert_int_equal(p4_regauth_token_parse(j, strlen(j), 0, &t, &err), 0);
    assert_string_equal(t.token, "A");
    assert_int_equal(t.expires_in, 60);
    p4_regauth_token_close(&t);
    p4_regauth_token_close(&t);
    p4_regauth_token_close(NULL);
}

static void bad_token_responses(void **state)
{
    static const struct {
        const char *json;
        int code;
        const char *want;
    } cases[] = {
        {"{}", P4_ERR_INVAL, "has neither token nor access_token"},
        {"{\"token\":\"\",\"access_token\":\"\"}", P4_ERR_INVAL, "neither token"},
        {"{\"token\":5}", P4_ERR_INVAL, "token in the token service response is not a string"},
        {"{\"token\":\"SECRET-T\",\"refresh_token\":{}}", P4_ERR_INVAL, "refresh_token"},
        {"{\"token\":\"SECRET-T\",\"expires_in\":-1}", P4_ERR_INVAL, "expires_in"},
        {"{\"token\":\"SECRET-T\",\"expires_in\":1.5}", P4_ERR_INVAL, "whole"},
        {"{\"token\":\"SECRET-T\",\"expires_in\":\"60\"}", P4_ERR_INVAL, "expires_in"},
        {"{\"token\":\"SECRET-T\",\"issued_at\":\"yesterday\"}", P4_ERR_INVAL,
         "issued_at in the token service response is not an RFC 3339 time"},
        {"{\"token\":\"SECRET-T\",\"issued_at\":\"2024-01-02T03:04:05+2:00\"}", P4_ERR_INVAL,
         "RFC 3339"},
        {"{\"token\":\"SECRET-T\",\"issued_at\":\"2024-01-02T03:04:05\"}", P4_ERR_INVAL,
         "RFC 3339"},
        {"[\"SECRET-T\"]", P4_ERR_PARSE, "is not a JSON object"},
        {"{\"token\":\"SECRET-T\"", P4_ERR_PARSE, "not valid JSON: invalid JSON at byte"},
        {"{\"token\":\"SECRET-T\"} x", P4_ERR_PARSE, "unexpected data after the JSON value"},
        {"", P4_ERR_PARSE, "empty JSON document"},
    };
    struct p4_regauth_token t;
    struct p4_error err;
    char *big;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = p4_regauth_token_parse(cases[i].json, strlen(cases[i].json), 0, &t, &err);

        if (rc != cases[i].code || strstr(err.message, cases[i].want) == NULL)
            fail_msg("case %zu: rc %d \"%s\", want \"%s\"", i, rc, err.message, cases[i].want);
        assert_no_secret(err.message, "SECRET");
        assert_null(t.token);
        assert_null(t.refresh_token);
    }
    big = malloc(P4_REGAUTH_INPUT_MAX + 1);
    assert_non_null(big);
    memset(big, ' ', P4_REGAUTH_INPUT_MAX + 1);
    assert_int_equal(p4_regauth_token_parse(big, P4_REGAUTH_INPUT_MAX + 1, 0, &t, &err),
                     P4_ERR_TOOBIG);
    free(big);
    assert_int_equal(p4_regauth_token_parse("{}", 2, 0, NULL, &err), P4_ERR_INVAL);
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
        cmocka_unit_test(image_references),
        cmocka_unit_test(www_authenticate),
        cmocka_unit_test(www_authenticate_garbage),
        cmocka_unit_test(token_urls),
        cmocka_unit_test(basic_headers),
        cmocka_unit_test(token_responses),
        cmocka_unit_test(bad_token_responses),
    };
    return cmocka_run_group_tests_name("regauth", tests, NULL, NULL);
}
