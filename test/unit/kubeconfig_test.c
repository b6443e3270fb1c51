/* kubeconfig_test.c: kubeconfig loading, merging, in-cluster settings and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/alloc.h"
#include "phase4/kube/kubeconfig.h"

#define BASE "/etc/kube"

/* A complete kubeconfig; tests append or swap pieces of it. */
#define CLUSTER_C1                                                                                 \
    "clusters:\n"                                                                                  \
    "- name: c1\n"                                                                                 \
    "  cluster:\n"                                                                                 \
    "    server: https://10.0.0.1:6443/\n"
#define USER_U1                                                                                    \
    "users:\n"                                                                                     \
    "- name: u1\n"                                                                                 \
    "  user:\n"                                                                                    \
    "    token: s3cr3t\n"
#define CONTEXT_DEV                                                                                \
    "contexts:\n"                                                                                  \
    "- name: dev\n"                                                                                \
    "  context: {cluster: c1, user: u1}\n"
#define MINIMAL "current-context: dev\n" CLUSTER_C1 USER_U1 CONTEXT_DEV

static int parse_doc(const char *data, size_t len, const char *context, struct p4_kube_config **cfg,
                     struct p4_error *err)
{
    struct p4_kubeconfig_doc doc = {
        .data = data, .len = len, .name = "test.yaml", .base_dir = BASE};

    return p4_kubeconfig_parse(&doc, 1, context, cfg, err);
}

static struct p4_kube_config *parse_ok(const char *yaml, const char *context)
{
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;

    p4_error_clear(&err);
    if (parse_doc(yaml, strlen(yaml), context, &cfg, &err) != 0)
        fail_msg("unexpected error: %s", err.message);
    assert_non_null(cfg);
    return cfg;
}

static void assert_has(const char *message, const char *want)
{
    if (strstr(message, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", message, want);
}

/* Parsing len bytes fails with code, a message containing want, and no config. */
static void expect_fail_len(const char *data, size_t len, const char *context, int code,
                            const char *want)
{
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;

    p4_error_clear(&err);
    assert_int_equal(parse_doc(data, len, context, &cfg, &err), code);
    assert_null(cfg);
    assert_int_equal(err.code, code);
    assert_has(err.message, want);
}

static void expect_fail(const char *yaml, const char *context, int code, const char *want)
{
    expect_fail_len(yaml, strlen(yaml), context, code, want);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static char *path_in(const char *dir, const char *name) /* caller frees */
{
    size_t size = strlen(dir) + 1 + strlen(name) + 1;
    char *p = p4_malloc(size);

    (void)snprintf(p, size, "%s/%s", dir, name);
    return p;
}

static void every_field_is_read(void **state)
{
    struct p4_kube_config *cfg;

    (void)state;
    cfg = parse_ok("apiVersion: v1\n"
                   "kind: Config\n"
                   "preferences: {}\n"
                   "current-context: dev\n"
                   "clusters:\n"
                   "- name: c1\n"
                   "  cluster:\n"
                   "    server: https://10.0.0.1:6443//\n"
                   "    certificate-authority-data: Y2EtcGVt\n"
                   "    tls-server-name: kubernetes.default\n"
                   "    proxy-url: http://proxy:3128\n"
                   "    disable-compression: true\n"
                   "    extensions:\n"
                   "    - name: x\n"
                   "      extension: {a: [1, 2, {b: c}]}\n"
                   "users:\n"
                   "- name: u1\n"
                   "  user:\n"
                   "    client-certificate-data: Y2VydA==\n"
                   "    client-key-data: \"a2V5ISE=\"\n"
                   "    token: s3cr3t\n"
                   "    tokenFile: tokens/t1\n"
                   "contexts:\n"
                   "- name: dev\n"
                   "  context: {cluster: c1, user: u1, namespace: team-a}\n",
                   NULL);
    assert_string_equal(cfg->server, "https://10.0.0.1:6443");
    assert_string_equal(cfg->context, "dev");
    assert_string_equal(cfg->cluster_name, "c1");
    assert_string_equal(cfg->user_name, "u1");
    assert_string_equal(cfg->namespace, "team-a");
    assert_string_equal(cfg->tls_server_name, "kubernetes.default");
    assert_int_equal(cfg->insecure_skip_tls_verify, 0);
    assert_null(cfg->ca_file);
    assert_int_equal(cfg->ca_len, 6);
    assert_memory_equal(cfg->ca_data, "ca-pem", 7); /* NUL after the data */
    assert_null(cfg->cert_file);
    assert_int_equal(cfg->cert_len, 4);
    assert_memory_equal(cfg->cert_data, "cert", 5);
    assert_null(cfg->key_file);
    assert_int_equal(cfg->key_len, 5);
    assert_memory_equal(cfg->key_data, "key!!", 6);
    assert_string_equal(cfg->token, "s3cr3t");
    assert_string_equal(cfg->token_file, BASE "/tokens/t1");
    assert_null(cfg->exec);
    p4_kube_config_free(cfg);
}

static void file_paths_resolve_against_the_kubeconfig_dir(void **state)
{
    const char *yaml = "current-context: dev\n"
                       "clusters:\n"
                       "- name: c1\n"
                       "  cluster:\n"
                       "    server: https://k8s.example.com\n"
                       "    certificate-authority: ca.crt\n"
                       "users:\n"
                       "- name: u1\n"
                       "  user:\n"
                       "    client-certificate: ./pki/u1.crt\n"
                       "    client-key: /abs/u1.key\n"
                       "    tokenFile: ../token\n" CONTEXT_DEV;
    struct p4_kubeconfig_doc doc = {.data = yaml, .len = strlen(yaml), .name = NULL};
    struct p4_kube_config *cfg;
    struct p4_error err;

    (void)state;
    cfg = parse_ok(yaml, NULL);
    assert_string_equal(cfg->server, "https://k8s.example.com");
    assert_string_equal(cfg->ca_file, BASE "/ca.crt");
    assert_null(cfg->ca_data);
    assert_int_equal(cfg->ca_len, 0);
    assert_string_equal(cfg->cert_file, BASE "/pki/u1.crt");
    assert_string_equal(cfg->key_file, "/abs/u1.key");
    assert_string_equal(cfg->token_file, BASE "/../token");
    assert_null(cfg->token);
    p4_kube_config_free(cfg);

    /* Without a base directory the paths stay as written. */
    assert_int_equal(p4_kubeconfig_parse(&doc, 1, NULL, &cfg, &err), 0);
    assert_string_equal(cfg->ca_file, "ca.crt");
    assert_string_equal(cfg->cert_file, "./pki/u1.crt");
    p4_kube_config_free(cfg);
}

static void base64_lengths_are_exact(void **state)
{
    static const struct {
        const char *encoded;
        const char *decoded;
        size_t len;
    } cases[] = {
        {"YQ==", "a", 1},
        {"YWI=", "ab", 2},
        {"YWJj", "abc", 3},
        {"\"YWJj\\nZGVm\"", "abcdef", 6}, /* line breaks are skipped, as Go does */
        {"AAEC", "\0\1\2", 3},
    };
    char yaml[1024];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct p4_kube_config *cfg;

        (void)snprintf(yaml, sizeof(yaml),
                       "current-context: dev\n" CLUSTER_C1 "users:\n"
                       "- name: u1\n"
                       "  user: {client-certificate-data: %s, client-key-data: %s}\n" CONTEXT_DEV,
                       cases[i].encoded, cases[i].encoded);
        cfg = parse_ok(yaml, NULL);
        assert_int_equal(cfg->key_len, cases[i].len);
        assert_memory_equal(cfg->key_data, cases[i].decoded, cases[i].len);
        assert_int_equal(cfg->key_data[cases[i].len], 0);
        assert_int_equal(cfg->cert_len, cases[i].len);
        p4_kube_config_free(cfg);
    }
}

static void bad_base64_names_the_field_not_the_data(void **state)
{
    static const char *const bad[] = {"bm90IGJhc2U2NA", "bm90!GJhc2U2NA==", "bm9===", "b=90"};
    char yaml[1024];
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        (void)snprintf(
            yaml, sizeof(yaml),
            "current-context: dev\n" CLUSTER_C1 "users:\n"
            "- name: u1\n"
            "  user: {client-certificate-data: Y2VydA==, client-key-data: \"%s\"}\n" CONTEXT_DEV,
            bad[i]);
        expect_fail(yaml, NULL, P4_ERR_PARSE, "client-key-data of user \"u1\" is not valid base64");
        assert_int_equal(parse_doc(yaml, strlen(yaml), NULL, &cfg, &err), P4_ERR_PARSE);
        assert_null(strstr(err.message, "bm9"));
        assert_has(err.message, "line 8");
    }
    expect_fail(
        "current-context: dev\n"
        "clusters:\n"
        "- name: c1\n"
        "  cluster: {server: https://a, certificate-authority-data: \"Y2E tcGVt\"}\n" USER_U1
            CONTEXT_DEV,
        NULL, P4_ERR_PARSE, "certificate-authority-data of cluster \"c1\"");
}

static void current_context_or_explicit_context(void **state)
{
    const char *yaml =
        "current-context: dev\n"
        "clusters:\n"
        "- {name: c1, cluster: {server: https://dev.example.com}}\n"
        "- {name: c2, cluster: {server: https://prod.example.com}}\n" USER_U1 "contexts:\n"
        "- {name: dev, context: {cluster: c1, user: u1}}\n"
        "- {name: prod, context: {cluster: c2, user: u1, namespace: shop}}\n";
    struct p4_kube_config *cfg;

    (void)state;
    cfg = parse_ok(yaml, NULL);
    assert_string_equal(cfg->context, "dev");
    assert_string_equal(cfg->server, "https://dev.example.com");
    assert_string_equal(cfg->namespace, "default");
    p4_kube_config_free(cfg);
    cfg = parse_ok(yaml, "");
    assert_string_equal(cfg->context, "dev");
    p4_kube_config_free(cfg);
    cfg = parse_ok(yaml, "prod");
    assert_string_equal(cfg->context, "prod");
    assert_string_equal(cfg->cluster_name, "c2");
    assert_string_equal(cfg->server, "https://prod.example.com");
    assert_string_equal(cfg->namespace, "shop");
    p4_kube_config_free(cfg);
}

static void namespace_is_checked_and_defaults(void **state)
{
    struct p4_kube_config *cfg;

    (void)state;
    cfg = parse_ok(MINIMAL, NULL);
    assert_string_equal(cfg->namespace, "default");
    p4_kube_config_free(cfg);
    cfg = parse_ok("current-context: dev\n" CLUSTER_C1 USER_U1 "contexts:\n"
                   "- {name: dev, context: {cluster: c1, user: u1, namespace: ~}}\n",
                   NULL);
    assert_string_equal(cfg->namespace, "default");
    p4_kube_config_free(cfg);
    expect_fail("current-context: dev\n" CLUSTER_C1 USER_U1 "contexts:\n"
                "- {name: dev, context: {cluster: c1, user: u1, namespace: Team_A}}\n",
                NULL, P4_ERR_INVAL, "namespace \"Team_A\" of context \"dev\" is not a valid DNS");
}

static void insecure_skip_tls_verify_is_recorded(void **state)
{
    struct p4_kube_config *cfg;

    (void)state;
    cfg = parse_ok(
        "current-context: dev\n"
        "clusters:\n"
        "- {name: c1, cluster: {server: https://a, insecure-skip-tls-verify: true}}\n" USER_U1
            CONTEXT_DEV,
        NULL);
    assert_int_equal(cfg->insecure_skip_tls_verify, 1);
    p4_kube_config_free(cfg);
    cfg = parse_ok(
        "current-context: dev\n"
        "clusters:\n"
        "- {name: c1, cluster: {server: https://a, insecure-skip-tls-verify: false}}\n" USER_U1
            CONTEXT_DEV,
        NULL);
    assert_int_equal(cfg->insecure_skip_tls_verify, 0);
    p4_kube_config_free(cfg);
    expect_fail(
        "current-context: dev\n"
        "clusters:\n"
        "- {name: c1, cluster: {server: https://a, insecure-skip-tls-verify: \"yes\"}}\n" USER_U1
            CONTEXT_DEV,
        NULL, P4_ERR_PARSE, "\"insecure-skip-tls-verify\" must be true or false");
    expect_fail("current-context: dev\n"
                "clusters:\n"
                "- name: c1\n"
                "  cluster:\n"
                "    server: https://a\n"
                "    insecure-skip-tls-verify: true\n"
                "    certificate-authority: ca.crt\n" USER_U1 CONTEXT_DEV,
                NULL, P4_ERR_INVAL,
                "insecure-skip-tls-verify together with a certificate authority");
}

#define EXEC_USER(body)                                                                            \
    "current-context: dev\n" CLUSTER_C1 "users:\n"                                                 \
    "- name: u1\n"                                                                                 \
    "  user:\n"                                                                                    \
    "    exec:\n" body CONTEXT_DEV

static void exec_plugin_is_read(void **state)
{
    struct p4_kube_config *cfg;
    struct p4_kube_exec *exec;

    (void)state;
    cfg = parse_ok(EXEC_USER("      apiVersion: client.authentication.k8s.io/v1\n"
                             "      command: ./bin/auth\n"
                             "      args: [token, --cluster, \"a b\", ~]\n"
                             "      env:\n"
                             "      - {name: AWS_PROFILE, value: prod}\n"
                             "      - name: EMPTY\n"
                             "      installHint: install auth from example.com\n"
                             "      interactiveMode: Never\n"
                             "      provideClusterInfo: true\n"),
                   NULL);
    exec = cfg->exec;
    assert_non_null(exec);
    assert_string_equal(exec->command, BASE "/bin/auth");
    assert_int_equal(exec->nargs, 4);
    assert_string_equal(exec->args[0], "token");
    assert_string_equal(exec->args[1], "--cluster");
    assert_string_equal(exec->args[2], "a b");
    assert_string_equal(exec->args[3], "");
    assert_int_equal(exec->nenv, 2);
    assert_string_equal(exec->env[0], "AWS_PROFILE=prod");
    assert_string_equal(exec->env[1], "EMPTY=");
    assert_string_equal(exec->api_version, "client.authentication.k8s.io/v1");
    assert_string_equal(exec->install_hint, "install auth from example.com");
    assert_int_equal(exec->interactive_never, 1);
    assert_int_equal(exec->provide_cluster_info, 1);
    assert_null(cfg->token);
    p4_kube_config_free(cfg);

    /* A bare command is looked up in $PATH by the transport, not resolved here. */
    cfg = parse_ok(EXEC_USER("      apiVersion: client.authentication.k8s.io/v1beta1\n"
                             "      command: aws\n"),
                   NULL);
    assert_string_equal(cfg->exec->command, "aws");
    assert_int_equal(cfg->exec->nargs, 0);
    assert_int_equal(cfg->exec->nenv, 0);
    assert_null(cfg->exec->install_hint);
    assert_int_equal(cfg->exec->interactive_never, 0);
    assert_int_equal(cfg->exec->provide_cluster_info, 0);
    p4_kube_config_free(cfg);
}

static void exec_plugin_errors(void **state)
{
    (void)state;
    expect_fail(EXEC_USER("      apiVersion: client.authentication.k8s.io/v1\n"), NULL,
                P4_ERR_INVAL, "exec plugin of user \"u1\" has no command");
    expect_fail(EXEC_USER("      command: aws\n"), NULL, P4_ERR_INVAL, "must set apiVersion");
    expect_fail(EXEC_USER("      command: aws\n"
                          "      apiVersion: client.authentication.k8s.io/v1alpha1\n"),
                NULL, P4_ERR_INVAL, "must set apiVersion");
    expect_fail(EXEC_USER("      command: aws\n"
                          "      apiVersion: client.authentication.k8s.io/v1\n"
                          "      interactiveMode: Always\n"),
                NULL, P4_ERR_INVAL, "needs a terminal");
    expect_fail(EXEC_USER("      command: aws\n"
                          "      apiVersion: client.authentication.k8s.io/v1\n"
                          "      interactiveMode: Sometimes\n"),
                NULL, P4_ERR_INVAL, "unknown interactiveMode");
    expect_fail(EXEC_USER("      command: aws\n"
                          "      apiVersion: client.authentication.k8s.io/v1\n"
                          "      env: [{value: x}]\n"),
                NULL, P4_ERR_INVAL, "env entry of the exec plugin of user \"u1\" needs a name");
    expect_fail(EXEC_USER("      command: aws\n"
                          "      apiVersion: client.authentication.k8s.io/v1\n"
                          "      env: [A=B]\n"),
                NULL, P4_ERR_PARSE, "\"env\" must be a list of name/value mappings");
    expect_fail(EXEC_USER("      command: aws\n"
                          "      apiVersion: client.authentication.k8s.io/v1\n"
                          "      args: {a: b}\n"),
                NULL, P4_ERR_PARSE, "line 12: \"args\" must be a list, not a mapping");
    expect_fail(EXEC_USER("      command: aws\n"
                          "      apiVersion: client.authentication.k8s.io/v1\n"
                          "      args: [[a]]\n"),
                NULL, P4_ERR_PARSE, "\"args\" must be a list of strings");
}

static void merged_documents_first_definition_wins(void **state)
{
    const char *first = "clusters:\n"
                        "- name: c1\n"
                        "  cluster: {server: https://first, certificate-authority: ca.crt}\n"
                        "contexts:\n"
                        "- {name: dev, context: {cluster: c1, user: u1, namespace: one}}\n";
    const char *second = "current-context: dev\n"
                         "clusters:\n"
                         "- {name: c1, cluster: {server: https://second}}\n"
                         "users:\n"
                         "- {name: u1, user: {client-certificate: u1.crt, client-key: u1.key}}\n"
                         "contexts:\n"
                         "- {name: dev, context: {cluster: c1, user: u1, namespace: two}}\n";
    const char *third = "current-context: prod\n" USER_U1;
    struct p4_kubeconfig_doc docs[] = {
        {.data = first, .len = strlen(first), .name = "/a/config", .base_dir = "/a"},
        {.data = second, .len = strlen(second), .name = "/b/config", .base_dir = "/b/"},
        {.data = third, .len = strlen(third), .name = "/c/config", .base_dir = "/c"},
    };
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;

    (void)state;
    p4_error_clear(&err);
    assert_int_equal(p4_kubeconfig_parse(docs, 3, NULL, &cfg, &err), 0);
    assert_string_equal(cfg->context, "dev");          /* the second file sets it first */
    assert_string_equal(cfg->namespace, "one");        /* context from the first file */
    assert_string_equal(cfg->server, "https://first"); /* cluster from the first file */
    assert_string_equal(cfg->ca_file, "/a/ca.crt");    /* against the cluster's file */
    assert_string_equal(cfg->cert_file, "/b/u1.crt");  /* user from the second file */
    assert_string_equal(cfg->key_file, "/b/u1.key");
    assert_null(cfg->token);
    p4_kube_config_free(cfg);

    /* Reversed, the third file's current-context wins and names a missing context. */
    docs[0] = docs[2];
    assert_int_equal(p4_kubeconfig_parse(docs, 2, NULL, &cfg, &err), P4_ERR_NOTFOUND);
    assert_null(cfg);
    assert_has(err.message, "context \"prod\" not found in kubeconfig");
}

static void load_reads_files_and_skips_missing_ones(void **state)
{
    char tmpl[] = "/tmp/kubeconfig_test.XXXXXX";
    char *dir, *a_dir, *b_dir, *a, *b, *missing, *big, list[1024];
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;

    (void)state;
    dir = mkdtemp(tmpl);
    assert_non_null(dir);
    a_dir = path_in(dir, "a");
    b_dir = path_in(dir, "b");
    assert_int_equal(mkdir(a_dir, 0700), 0);
    assert_int_equal(mkdir(b_dir, 0700), 0);
    a = path_in(a_dir, "config");
    b = path_in(b_dir, "config");
    missing = path_in(dir, "missing");
    big = path_in(dir, "big");
    write_file(a, "clusters:\n"
                  "- {name: c1, cluster: {server: https://a, certificate-authority: ca.crt}}\n");
    write_file(b, "current-context: dev\n" CLUSTER_C1 "users:\n"
                  "- {name: u1, user: {tokenFile: token}}\n" CONTEXT_DEV);

    (void)snprintf(list, sizeof(list), "%s:%s::%s", missing, a, b);
    p4_error_clear(&err);
    assert_int_equal(p4_kubeconfig_load(list, NULL, &cfg, &err), 0);
    assert_string_equal(cfg->server, "https://a");
    assert_memory_equal(cfg->ca_file, a_dir, strlen(a_dir));
    assert_string_equal(cfg->ca_file + strlen(a_dir), "/ca.crt");
    assert_memory_equal(cfg->token_file, b_dir, strlen(b_dir));
    assert_string_equal(cfg->token_file + strlen(b_dir), "/token");
    p4_kube_config_free(cfg);

    /* A list where nothing exists, a directory and a file over 4 MiB. */
    (void)snprintf(list, sizeof(list), "%s:%s", missing, missing);
    assert_int_equal(p4_kubeconfig_load(list, NULL, &cfg, &err), P4_ERR_NOTFOUND);
    assert_null(cfg);
    assert_has(err.message, "no kubeconfig file found");
    assert_int_equal(p4_kubeconfig_load(dir, NULL, &cfg, &err), P4_ERR_INVAL);
    assert_has(err.message, "is not a regular file");
    assert_int_equal(p4_kubeconfig_load("", NULL, &cfg, &err), P4_ERR_INVAL);
    write_file(big, MINIMAL);
    assert_int_equal(truncate(big, (off_t)P4_KUBECONFIG_MAX_BYTES + 1), 0);
    assert_int_equal(p4_kubeconfig_load(big, NULL, &cfg, &err), P4_ERR_TOOBIG);
    assert_null(cfg);
    assert_has(err.message, "is larger than");

    assert_int_equal(unlink(a), 0);
    assert_int_equal(unlink(b), 0);
    assert_int_equal(unlink(big), 0);
    assert_int_equal(rmdir(a_dir), 0);
    assert_int_equal(rmdir(b_dir), 0);
    assert_int_equal(rmdir(dir), 0);
    free(a);
    free(b);
    free(big);
    free(missing);
    free(a_dir);
    free(b_dir);
}

static void in_cluster_reads_the_service_account_dir(void **state)
{
    char tmpl[] = "/tmp/kubeconfig_sa.XXXXXX";
    char *dir, *token, *ca, *ns;
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;

    (void)state;
    dir = mkdtemp(tmpl);
    assert_non_null(dir);
    token = path_in(dir, "token");
    ca = path_in(dir, "ca.crt");
    ns = path_in(dir, "namespace");

    p4_error_clear(&err);
    assert_int_equal(p4_kubeconfig_in_cluster(dir, "10.96.0.1", "443", &cfg, &err),
                     P4_ERR_NOTFOUND);
    assert_null(cfg);
    assert_has(err.message, "service account token");

    write_file(token, "eyJhbGciOi.secret\n");
    assert_int_equal(p4_kubeconfig_in_cluster(dir, "10.96.0.1", "443", &cfg, &err), 0);
    assert_string_equal(cfg->server, "https://10.96.0.1:443");
    assert_string_equal(cfg->token_file, token);
    assert_null(cfg->token); /* read by the transport, so rotation is seen */
    assert_null(cfg->ca_file);
    assert_string_equal(cfg->namespace, "default");
    assert_null(cfg->context);
    assert_null(cfg->exec);
    p4_kube_config_free(cfg);

    write_file(ca, "-----BEGIN CERTIFICATE-----\n");
    write_file(ns, "  team-b\n");
    assert_int_equal(p4_kubeconfig_in_cluster(dir, "fd00:10:96::1", "6443", &cfg, &err), 0);
    assert_string_equal(cfg->server, "https://[fd00:10:96::1]:6443");
    assert_string_equal(cfg->ca_file, ca);
    assert_string_equal(cfg->namespace, "team-b");
    p4_kube_config_free(cfg);
    assert_int_equal(p4_kubeconfig_in_cluster(dir, "[fd00::1]", "443", &cfg, &err), 0);
    assert_string_equal(cfg->server, "https://[fd00::1]:443");
    p4_kube_config_free(cfg);

    assert_int_equal(p4_kubeconfig_in_cluster(dir, NULL, "443", &cfg, &err), P4_ERR_NOTFOUND);
    assert_has(err.message, "KUBERNETES_SERVICE_HOST");
    assert_int_equal(p4_kubeconfig_in_cluster(dir, "10.96.0.1", "", &cfg, &err), P4_ERR_NOTFOUND);
    assert_int_equal(p4_kubeconfig_in_cluster(dir, "10.96.0.1", "https", &cfg, &err), P4_ERR_INVAL);
    assert_int_equal(p4_kubeconfig_in_cluster(dir, "10.96.0.1", "70000", &cfg, &err), P4_ERR_INVAL);
    assert_int_equal(p4_kubeconfig_in_cluster(dir, "evil/x", "443", &cfg, &err), P4_ERR_INVAL);
    assert_has(err.message, "not a valid host and port");
    write_file(ns, "Not_A_Label");
    assert_int_equal(p4_kubeconfig_in_cluster(dir, "10.96.0.1", "443", &cfg, &err), P4_ERR_INVAL);
    assert_null(cfg);
    assert_has(err.message, "not a valid DNS label");

    assert_int_equal(unlink(token), 0);
    assert_int_equal(unlink(ca), 0);
    assert_int_equal(unlink(ns), 0);
    assert_int_equal(rmdir(dir), 0);
    free(token);
    free(ca);
    free(ns);
}

static void missing_names_are_not_found(void **state)
{
    (void)state;
    expect_fail(MINIMAL, "staging", P4_ERR_NOTFOUND, "context \"staging\" not found in kubeconfig");
    expect_fail("current-context: dev\n" CLUSTER_C1 USER_U1 "contexts:\n"
                "- {name: dev, context: {cluster: c9, user: u1}}\n",
                NULL, P4_ERR_NOTFOUND, "cluster \"c9\" of context \"dev\" not found");
    expect_fail("current-context: dev\n" CLUSTER_C1 USER_U1 "contexts:\n"
                "- {name: dev, context: {cluster: c1, user: u9}}\n",
                NULL, P4_ERR_NOTFOUND, "user \"u9\" of context \"dev\" not found");
    expect_fail(CLUSTER_C1 USER_U1 CONTEXT_DEV, NULL, P4_ERR_NOTFOUND, "no current-context");
    expect_fail("current-context: \"\"\n" CLUSTER_C1, NULL, P4_ERR_NOTFOUND, "no current-context");
}

static void unusable_settings_are_invalid(void **state)
{
    (void)state;
    expect_fail(
        "current-context: dev\n"
        "clusters: [{name: c1, cluster: {certificate-authority: ca.crt}}]\n" USER_U1 CONTEXT_DEV,
        NULL, P4_ERR_INVAL, "cluster \"c1\" in kubeconfig test.yaml has no server");
    expect_fail("current-context: dev\nclusters: [{name: c1}]\n" USER_U1 CONTEXT_DEV, NULL,
                P4_ERR_INVAL, "has no server");
    expect_fail(
        "current-context: dev\nclusters: [{name: c1, cluster: {server: 10.0.0.1:6443}}]\n" USER_U1
            CONTEXT_DEV,
        NULL, P4_ERR_INVAL, "must be a URL starting with https://");
    expect_fail(
        "current-context: dev\nclusters: [{name: c1, cluster: {server: \"https://a b\"}}]\n" USER_U1
            CONTEXT_DEV,
        NULL, P4_ERR_INVAL, "contains spaces or control characters");
    expect_fail(
        "current-context: dev\nclusters: [{name: c1, cluster: {server: https://}}]\n" USER_U1
            CONTEXT_DEV,
        NULL, P4_ERR_INVAL, "must be a URL");
    expect_fail("current-context: dev\n" CLUSTER_C1 USER_U1
                "contexts: [{name: dev, context: {user: u1}}]\n",
                NULL, P4_ERR_INVAL, "context \"dev\" in kubeconfig test.yaml names no cluster");
    expect_fail("current-context: dev\n" CLUSTER_C1 USER_U1 "contexts: [{name: dev}]\n", NULL,
                P4_ERR_INVAL, "names no cluster");
    expect_fail("current-context: dev\n" CLUSTER_C1 USER_U1
                "contexts: [{name: dev, context: {cluster: c1}}]\n",
                NULL, P4_ERR_INVAL, "names no user");
    expect_fail("current-context: dev\n" CLUSTER_C1 "users:\n"
                "- name: u1\n"
                "  user:\n"
                "    auth-provider:\n"
                "      name: gcp\n"
                "      config: {access-token: ya29.secret}\n" CONTEXT_DEV,
                NULL, P4_ERR_INVAL,
                "user \"u1\" uses the gcp auth-provider, which is no longer supported; configure "
                "an exec credential plugin");
    expect_fail("current-context: dev\n" CLUSTER_C1 "users:\n"
                "- {name: u1, user: {username: admin, password: hunter2}}\n" CONTEXT_DEV,
                NULL, P4_ERR_INVAL,
                "basic authentication (username/password), which Kubernetes removed in 1.19");
    expect_fail("current-context: dev\n" CLUSTER_C1 "users:\n"
                "- {name: u1, user: {token: t, as: system:admin}}\n" CONTEXT_DEV,
                NULL, P4_ERR_INVAL, "impersonation (as)");
    expect_fail("current-context: dev\n" CLUSTER_C1 "users:\n"
                "- {name: u1, user: {client-certificate: u.crt}}\n" CONTEXT_DEV,
                NULL, P4_ERR_INVAL, "user \"u1\" sets a client certificate without a client key");
    expect_fail("current-context: dev\n" CLUSTER_C1 "users:\n"
                "- {name: u1, user: {client-key-data: a2V5ISE=}}\n" CONTEXT_DEV,
                NULL, P4_ERR_INVAL, "client key without a client certificate");
    expect_fail("current-context: dev\n" CLUSTER_C1 "users:\n"
                "- name: u1\n"
                "  user: {client-certificate: u.crt, client-certificate-data: Y2VydA==, "
                "client-key: u.key}\n" CONTEXT_DEV,
                NULL, P4_ERR_INVAL, "both client-certificate and client-certificate-data");
    expect_fail("current-context: dev\n" CLUSTER_C1 "users:\n"
                "- name: u1\n"
                "  user: {client-certificate: u.crt, client-key: u.key, client-key-data: "
                "a2V5ISE=}\n" CONTEXT_DEV,
                NULL, P4_ERR_INVAL, "both client-key and client-key-data");
    expect_fail("current-context: dev\n"
                "clusters:\n"
                "- name: c1\n"
                "  cluster: {server: https://a, certificate-authority: ca.crt, "
                "certificate-authority-data: Y2EtcGVt}\n" USER_U1 CONTEXT_DEV,
                NULL, P4_ERR_INVAL, "both certificate-authority and certificate-authority-data");
}

static void malformed_yaml_names_file_and_line(void **state)
{
    (void)state;
    expect_fail("clusters:\n- name: c1\n  cluster: [\n", NULL, P4_ERR_PARSE,
                "kubeconfig test.yaml line 4:");
    expect_fail("a: b\n  c: d\n", NULL, P4_ERR_PARSE, "not valid YAML");
    expect_fail("current-context: dev\n"
                "clusters:\n"
                "- name: c1\n"
                "  cluster:\n"
                "    server: [https://a]\n" USER_U1 CONTEXT_DEV,
                NULL, P4_ERR_PARSE, "test.yaml line 5: \"server\" must be a string, not a list");
    expect_fail("contexts: {dev: {cluster: c1}}\n", NULL, P4_ERR_PARSE,
                "line 1: \"contexts\" must be a list, not a mapping");
    expect_fail("users: [{name: u1, user: [a]}]\n", NULL, P4_ERR_PARSE,
                "\"user\" must be a mapping, not a list");
    expect_fail("current-context: [dev]\n", NULL, P4_ERR_PARSE,
                "\"current-context\" must be a string");
    expect_fail("- just\n- a list\n", NULL, P4_ERR_PARSE,
                "line 1: the top level must be a mapping");
    expect_fail("just a string\n", NULL, P4_ERR_PARSE, "the top level must be a mapping");
    expect_fail("clusters: [c1]\n", NULL, P4_ERR_PARSE,
                "each entry of \"clusters\" must be a mapping, not a scalar");
    expect_fail("clusters:\n- cluster: {server: https://a}\n", NULL, P4_ERR_PARSE,
                "line 2: an entry of \"clusters\" has no name");
    expect_fail("clusters: [{name: [a]}]\n", NULL, P4_ERR_PARSE, "\"name\" must be a string");
    expect_fail(MINIMAL "current-context: other\n", NULL, P4_ERR_PARSE,
                "line 13: key \"current-context\" appears twice in one mapping");
    expect_fail("current-context: dev\n"
                "clusters:\n"
                "- name: c1\n"
                "  cluster: {server: https://a, server: https://b}\n" USER_U1 CONTEXT_DEV,
                NULL, P4_ERR_PARSE, "key \"server\" appears twice");
    expect_fail(MINIMAL "- {name: dev, context: {cluster: c1, user: u1}}\n", NULL, P4_ERR_PARSE,
                "line 13: context name \"dev\" is defined twice");
    expect_fail("? [a, b]\n: c\n", NULL, P4_ERR_PARSE, "mapping keys must be strings");
    expect_fail("? {a: b}\n: c\n", NULL, P4_ERR_PARSE, "mapping keys must be strings");
    expect_fail(MINIMAL "---\n" MINIMAL, NULL, P4_ERR_PARSE, "a second YAML document");
}

static void empty_documents_have_no_context(void **state)
{
    static const char *const empty[] = {"",       "\n",
                                        "---\n",  "--- ~\n",
                                        "null\n", "# only a comment\n",
                                        "{}\n",   "clusters:\nusers: ~\ncontexts: []\n"};
    struct p4_kube_config *cfg;

    (void)state;
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++)
        expect_fail(empty[i], NULL, P4_ERR_NOTFOUND, "no current-context");
    expect_fail("", "dev", P4_ERR_NOTFOUND, "context \"dev\" not found");
    /* An empty file next to a full one contributes nothing. */
    {
        struct p4_kubeconfig_doc docs[] = {
            {.data = "", .len = 0, .name = "empty"},
            {.data = MINIMAL, .len = strlen(MINIMAL), .name = "full"},
        };
        struct p4_error err;

        assert_int_equal(p4_kubeconfig_parse(docs, 2, NULL, &cfg, &err), 0);
        assert_string_equal(cfg->server, "https://10.0.0.1:6443");
        p4_kube_config_free(cfg);
        assert_int_equal(p4_kubeconfig_parse(NULL, 0, NULL, &cfg, &err), P4_ERR_NOTFOUND);
        assert_int_equal(p4_kubeconfig_parse(NULL, 1, NULL, &cfg, &err), P4_ERR_INVAL);
    }
}

/* Text of n copies of unit after head and before tail (caller frees). */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *len)
{
    size_t size = strlen(head) + strlen(unit) * n + strlen(tail) + 1, used;
    char *s = p4_malloc(size);

    used = (size_t)snprintf(s, size, "%s", head);
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(s + used, size - used, "%s", unit);
    used += (size_t)snprintf(s + used, size - used, "%s", tail);
    *len = used;
    return s;
}

static void hostile_input_is_refused(void **state)
{
    static const char laughs[] = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                                 "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                                 "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                                 "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                                 "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                                 "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
    static const char nul_inside[] = "current-context: de\0v\n";
    char *text;
    size_t len;

    (void)state;
    expect_fail(laughs, NULL, P4_ERR_PARSE, "line 2: YAML aliases are not allowed");
    expect_fail("users: &u [*u]\n", NULL, P4_ERR_PARSE, "aliases are not allowed");
    expect_fail("current-context: \"dev\\0\"\n", NULL, P4_ERR_PARSE, "contains a NUL character");
    expect_fail_len(nul_inside, sizeof(nul_inside) - 1, NULL, P4_ERR_PARSE, "not valid YAML");
    expect_fail("current-context: \"\xff\xfe\"\n", NULL, P4_ERR_PARSE, "not valid YAML");

    text = repeat("a: ", "[", 100000, "", &len);
    expect_fail_len(text, len, NULL, P4_ERR_PARSE, "line 1: nesting is deeper than");
    free(text);
    text = repeat("a: ", "{a: ", 100000, "", &len);
    expect_fail_len(text, len, NULL, P4_ERR_PARSE, "nesting is deeper than");
    free(text);
    text = repeat("a: [", "x,", 600000, "]\n", &len);
    expect_fail_len(text, len, NULL, P4_ERR_TOOBIG, "more than 500000 YAML nodes");
    free(text);
    text = repeat("", " ", P4_KUBECONFIG_MAX_BYTES + 1, "", &len);
    expect_fail_len(text, len, NULL, P4_ERR_TOOBIG, "is larger than");
    free(text);
    /* A mapping with many keys and one repeated: found without quadratic work. */
    {
        char *keys = p4_malloc((size_t)200000 * 16);
        size_t n = 0;

        for (int i = 0; i < 200000; i++)
            n += (size_t)snprintf(keys + n, 16, "k%d: v\n", i);
        n += (size_t)snprintf(keys + n, 16, "k77: v\n");
        expect_fail_len(keys, n, NULL, P4_ERR_PARSE, "key \"k77\" appears twice");
        free(keys);
    }
}

static void huge_scalars_are_fine(void **state)
{
    char *yaml;
    size_t len;
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;

    (void)state;
    yaml = repeat("current-context: dev\n" CLUSTER_C1 CONTEXT_DEV "users:\n"
                  "- name: u1\n"
                  "  user:\n"
                  "    token: ",
                  "abcdefgh", 3u << 17, "\n", &len);
    assert_int_equal(parse_doc(yaml, len, NULL, &cfg, &err), 0);
    assert_int_equal(strlen(cfg->token), 8u * (3u << 17));
    p4_kube_config_free(cfg);
    free(yaml);
}

static void ten_thousand_contexts(void **state)
{
    size_t cap = (size_t)10000 * 256, n = 0;
    char *yaml = p4_malloc(cap);
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;

    (void)state;
    n += (size_t)snprintf(yaml + n, cap - n, "current-context: ctx-0\nclusters:\n");
    for (int i = 0; i < 10000; i++)
        n += (size_t)snprintf(yaml + n, cap - n,
                              "- {name: c-%d, cluster: {server: https://h%d:6443}}\n", i, i);
    n += (size_t)snprintf(yaml + n, cap - n, "users:\n");
    for (int i = 0; i < 10000; i++)
        n += (size_t)snprintf(yaml + n, cap - n, "- {name: u-%d, user: {token: t%d}}\n", i, i);
    n += (size_t)snprintf(yaml + n, cap - n, "contexts:\n");
    for (int i = 0; i < 10000; i++)
        n += (size_t)snprintf(yaml + n, cap - n,
                              "- {name: ctx-%d, context: {cluster: c-%d, user: u-%d}}\n", i, i, i);
    assert_true(n < cap);
    assert_int_equal(parse_doc(yaml, n, "ctx-9999", &cfg, &err), 0);
    assert_string_equal(cfg->server, "https://h9999:6443");
    assert_string_equal(cfg->token, "t9999");
    p4_kube_config_free(cfg);
    free(yaml);
}

static void free_accepts_null(void **state)
{
    (void)state;
    p4_kube_config_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_field_is_read),
        cmocka_unit_test(file_paths_resolve_against_the_kubeconfig_dir),
        cmocka_unit_test(base64_lengths_are_exact),
        cmocka_unit_test(bad_base64_names_the_field_not_the_data),
        cmocka_unit_test(current_context_or_explicit_context),
        cmocka_unit_test(namespace_is_checked_and_defaults),
        cmocka_unit_test(insecure_skip_tls_verify_is_recorded),
        cmocka_unit_test(exec_plugin_is_read),
        cmocka_unit_test(exec_plugin_errors),
        cmocka_unit_test(merged_documents_first_definition_wins),
        cmocka_unit_test(load_reads_files_and_skips_missing_ones),
        cmocka_unit_test(in_cluster_reads_the_service_account_dir),
        cmocka_unit_test(missing_names_are_not_found),
        cmocka_unit_test(unusable_settings_are_invalid),
        cmocka_unit_test(malformed_yaml_names_file_and_line),
        cmocka_unit_test(empty_documents_have_no_context),
        cmocka_unit_test(hostile_input_is_refused),
        cmocka_unit_test(huge_scalars_are_fine),
        cmocka_unit_test(ten_thousand_contexts),
        cmocka_unit_test(free_accepts_null),
    };
    return cmocka_run_group_tests_name("kubeconfig", tests, NULL, NULL);
}
