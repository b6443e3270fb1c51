/* imageref_test.c: image references split as docker splits them, and the bad ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/oci/imageref.h"

#define DIGEST64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(image_references),
    };
    return cmocka_run_group_tests_name("imageref", tests, NULL, NULL);
}
