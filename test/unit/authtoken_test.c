/* authtoken_test.c: WWW-Authenticate challenges, token URLs, Basic headers, token responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/oci/authtoken.h"

static void assert_no_secret(const char *message, const char *secret)
{
    if (strstr(message, secret) != NULL)
        fail_msg("error message \"%s\" leaks \"%s\"", message, secret);
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
        cmocka_unit_test(www_authenticate), cmocka_unit_test(www_authenticate_garbage),
        cmocka_unit_test(token_urls),       cmocka_unit_test(basic_headers),
        cmocka_unit_test(token_responses),  cmocka_unit_test(bad_token_responses),
    };
    return cmocka_run_group_tests_name("authtoken", tests, NULL, NULL);
}
