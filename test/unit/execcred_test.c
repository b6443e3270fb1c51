/* execcred_test.c: ExecCredential parsing, and real plugin runs (/bin/sh) on a loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after the four it needs */

#include "kube/execcred.h"

static const char *V1 = "client.authentication.k8s.io/v1";

static void parse_token_and_expiry(void **state)
{
    struct p4_credential c;
    struct p4_error err;
    const char *j =
        "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
        "\"status\":{\"token\":\"t0k3n\",\"expirationTimestamp\":\"2030-01-02T03:04:05Z\"}}";

    (void)state;
    assert_int_equal(p4_execcred_parse(j, strlen(j), V1, &c, &err), 0);
    assert_string_equal(c.token, "t0k3n");
    assert_int_equal(c.expires, 1893553445);
    assert_null(c.cert_pem);
    p4_credential_close(&c);
}

static void parse_cert_and_offsets(void **state)
{
    struct p4_credential c;
    struct p4_error err;
    const char *j =
        "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
        "\"status\":{\"clientCertificateData\":\"CERT\",\"clientKeyData\":\"KEY\","
        "\"expirationTimestamp\":\"2030-01-02T05:04:05.123+02:00\"}}";

    (void)state;
    assert_int_equal(p4_execcred_parse(j, strlen(j), V1, &c, &err), 0);
    assert_null(c.token);
    assert_int_equal(c.cert_len, 4);
    assert_memory_equal(c.cert_pem, "CERT", 4);
    assert_memory_equal(c.key_pem, "KEY", 3);
    assert_int_equal(c.expires, 1893553445);
    p4_credential_close(&c);
}

static void parse_rejects_bad_credentials(void **state)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"not json", "not JSON"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"token\":\"x\"}}",
         "asks for \"client.authentication.k8s.io/v1\""},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"Pod\"}",
         "not an ExecCredential"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/"
         "v1\",\"kind\":\"ExecCredential\",\"status\":{}}",
         "neither a token nor a client certificate"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"clientCertificateData\":\"C\"}}",
         "client certificate without its key"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"token\":\"x\",\"expirationTimestamp\":\"tomorrow\"}}",
         "is not RFC 3339"},
    };
    struct p4_credential c;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_not_equal(p4_execcred_parse(cases[i].json, strlen(cases[i].json), V1, &c, &err),
                             0);
        if (strstr(err.message, cases[i].want) == NULL)
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.message, cases[i].want);
        assert_null(c.token);
        /* the secret never reaches the message */
        assert_null(strstr(err.message, "\"x\""));
    }
}

struct result {
    int calls, rc;
    char token[64];
    char message[512];
};

static void on_cred(int rc, const struct p4_credential *cred, const struct p4_error *err,
                    void *data)
{
    struct result *r = data;

    r->calls++;
    r->rc = rc;
    if (rc == 0 && cred->token)
        (void)snprintf(r->token, sizeof(r->token), "%s", cred->token);
    if (rc != 0)
        (void)snprintf(r->message, sizeof(r->message), "%s", err->message);
}

/* A plugin: /bin/sh -c SCRIPT, counting its runs in a file. */
static struct p4_execcred *plugin(uv_loop_t *loop, const char *script, char *count_file)
{
    char *args[] = {"-c", (char *)script};
    char env0[300];
    char *env[] = {env0};
    struct p4_kube_exec exec = {.command = "/bin/sh",
                                .args = args,
                                .nargs = 2,
                                .env = env,
                                .nenv = 1,
                                .api_version = "client.authentication.k8s.io/v1",
                                .install_hint = "install the plugin"};

    (void)snprintf(env0, sizeof(env0), "COUNT_FILE=%s", count_file);
    return p4_execcred_new(loop, &exec, "https://127.0.0.1:6443");
}

static int runs(const char *count_file)
{
    FILE *f = fopen(count_file, "r");
    int n = 0, c;

    if (f == NULL)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    (void)fclose(f);
    return n;
}

static void plugin_runs_once_and_is_cached(void **state)
{
    uv_loop_t loop;
    char count[] = "/tmp/p4-execcred-XXXXXX";
    int fd = mkstemp(count);
    struct result a = {0}, b = {0}, c = {0};
    struct p4_execcred *ec;

    (void)state;
    assert_true(fd >= 0);
    (void)close(fd);
    assert_int_equal(uv_loop_init(&loop), 0);
    ec = plugin(
        &loop,
        "echo run >> \"$COUNT_FILE\"; "
        "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 3;; esac; "
        "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
        "\"status\":{\"token\":\"from-plugin\"}}'",
        count);
    /* Two callers at once share one run. */
    assert_int_equal(p4_execcred_get(ec, on_cred, &a), 0);
    assert_int_equal(p4_execcred_get(ec, on_cred, &b), 0);
    assert_int_equal(a.calls + b.calls, 0); /* never before get returns */
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a.rc, 0);
    assert_string_equal(a.token, "from-plugin");
    assert_string_equal(b.token, "from-plugin");
    assert_int_equal(runs(count), 1);
    /* Cached: no second run. */
    assert_int_equal(p4_execcred_get(ec, on_cred, &c), 0);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.calls, 1);
    assert_int_equal(runs(count), 1);
    /* Invalidated (a 401): it runs again. */
    p4_execcred_invalidate(ec);
    assert_int_equal(p4_execcred_get(ec, on_cred, &c), 0);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.calls, 2);
    assert_int_equal(runs(count), 2);
    p4_execcred_close(ec);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    (void)unlink(count);
}

static void failing_and_missing_plugins_say_why(void **state)
{
    uv_loop_t loop;
    struct result r = {0};
    struct p4_execcred *ec;
    char *none[] = {NULL};
    struct p4_kube_exec missing = {.command = "/nonexistent/plugin",
                                   .args = none,
                                   .env = none,
                                   .install_hint = "see https://example.invalid/install"};

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    ec = plugin(&loop, "echo 'token expired: run login' >&2; exit 4", "/dev/null");
    assert_int_equal(p4_execcred_get(ec, on_cred, &r), 0);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.rc, P4_ERR_UNAUTHORIZED);
    assert_non_null(strstr(r.message, "exit status 4"));
    assert_non_null(strstr(r.message, "token expired: run login"));
    p4_execcred_close(ec);

    memset(&r, 0, sizeof(r));
    ec = p4_execcred_new(&loop, &missing, "https://127.0.0.1:6443");
    assert_int_equal(p4_execcred_get(ec, on_cred, &r), 0);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.rc, P4_ERR_UNAUTHORIZED);
    assert_non_null(strstr(r.message, "/nonexistent/plugin"));
    assert_non_null(strstr(r.message, "see https://example.invalid/install"));
    p4_execcred_close(ec);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void close_cancels_a_running_plugin(void **state)
{
    uv_loop_t loop;
    struct result r = {0};
    struct p4_execcred *ec;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    ec = plugin(&loop, "exec tail -f /dev/null", "/dev/null"); /* runs until killed */
    assert_int_equal(p4_execcred_get(ec, on_cred, &r), 0);
    (void)uv_run(&loop, UV_RUN_NOWAIT); /* the plugin starts */
    p4_execcred_close(ec);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, P4_ERR_CANCELED);
    (void)uv_run(&loop, UV_RUN_DEFAULT); /* the killed plugin is reaped, handles close */
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_token_and_expiry),
        cmocka_unit_test(parse_cert_and_offsets),
        cmocka_unit_test(parse_rejects_bad_credentials),
        cmocka_unit_test(plugin_runs_once_and_is_cached),
        cmocka_unit_test(failing_and_missing_plugins_say_why),
        cmocka_unit_test(close_cancels_a_running_plugin),
    };
    return cmocka_run_group_tests_name("execcred", tests, NULL, NULL);
}
