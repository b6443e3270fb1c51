/*
 * report.c: `phase4-operator report NAME [-n NS]`, also `kubectl phase4 report NAME` (main.c):
 * one Phase4Deployment read through the API, its status printed as text a person reads
 * (reconciler/report.h renders it).
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cmd.h"
#include "phase4/kube/client.h"
#include "phase4/reconciler/report.h"

/* The exit codes of --exit-code, besides 0 for SUCCESSFUL (README.md, "phase4-operator report"). */
#define EXIT_FAILED 3
#define EXIT_IN_PROGRESS 4

struct report_cli {
    struct p4_kube *kube;
    const char *namespace_, *name;
    unsigned flags; /* P4_REPORT_ASCII */
    bool exit_code; /* --exit-code: the verdict decides the exit code */
    int rc;
};

void p4_cmd_report_usage(FILE *out, const char *program)
{
    (void)fprintf(
        out,
        "  %s report NAME [-n NS] [--no-emoji] [--exit-code] [--kubeconfig PATH]\n"
        "                          [--context NAME]\n"
        "                          print a Phase4Deployment's readiness checklist, its gates\n"
        "                          stage by stage, the cluster health summary, the verdict and\n"
        "                          the next steps (-n: default the kubeconfig context's\n"
        "                          namespace, else default). Emoji when LC_ALL, LC_CTYPE or\n"
        "                          LANG (the first set) says UTF-8, else plain ASCII, as with\n"
        "                          --no-emoji. Exit 0, or 1 when it cannot be read; with\n"
        "                          --exit-code: 0 SUCCESSFUL, 3 FAILED or stalled, 4 in progress\n",
        program);
}

/* Whether the locale's character set is UTF-8: the first of LC_ALL, LC_CTYPE, LANG that is set. */
static bool utf8_locale(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v != NULL && v[0] != '\0')
            return strcasestr(v, "UTF-8") != NULL || strcasestr(v, "UTF8") != NULL;
    }
    return false;
}

static int exit_code_of(enum p4_report_outcome outcome)
{
    switch (outcome) {
    case P4_REPORT_SUCCESSFUL:
        return 0;
    case P4_REPORT_FAILED:
    case P4_REPORT_STALLED:
        return EXIT_FAILED;
    case P4_REPORT_IN_PROGRESS:
        break;
    }
    return EXIT_IN_PROGRESS;
}

/* What went wrong reading the object, as one line on stderr. */
static void say_failure(const struct report_cli *cli, const struct p4_kube_result *res)
{
    if (res->rc == P4_ERR_NOTFOUND && res->st != NULL && res->st->name == NULL)
        (void)fprintf(stderr,
                      "phase4-operator: the API server does not serve phase4deployments.phase4.io "
                      "v1alpha1: is the Phase4Deployment CRD installed? (%s)\n",
                      res->err.message);
    else if (res->rc == P4_ERR_NOTFOUND)
        (void)fprintf(stderr, "phase4-operator: Phase4Deployment %s/%s not found\n",
                      cli->namespace_, cli->name);
    else
        (void)fprintf(stderr, "phase4-operator: cannot read Phase4Deployment %s/%s: %s\n",
                      cli->namespace_, cli->name, res->err.message);
}

static void on_fetched(struct p4_kube_result *res, void *data)
{
    struct report_cli *cli = data;
    struct p4_buf out = {0};
    struct p4_error err;
    cJSON *obj;

    cli->rc = 1;
    if (res->rc != 0) {
        say_failure(cli, res);
        goto out;
    }
    obj = p4_report_read(res->raw, res->raw_len, &err);
    if (obj == NULL) {
        (void)fprintf(stderr, "phase4-operator: cannot read Phase4Deployment %s/%s: %s\n",
                      cli->namespace_, cli->name, err.message);
        goto out;
    }
    enum p4_report_outcome outcome = p4_report_render(obj, cli->flags, &out);
    cJSON_Delete(obj);
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        (void)fprintf(stderr, "phase4-operator: cannot write the report\n");
        goto out;
    }
    cli->rc = cli->exit_code ? exit_code_of(outcome) : 0;
out:
    free(out.data);
    p4_kube_close(cli->kube);
}

/* The flag a takes a value: "-n NS", "--namespace NS" or "--namespace=NS"; NULL when not a. */
static const char *value_of(const char *flag, const char *alias, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    size_t n = strlen(flag);

    if (a == NULL)
        return NULL;
    if (strncmp(a, flag, n) == 0 && a[n] == '=')
        return a + n + 1;
    if ((strcmp(a, flag) == 0 || (alias != NULL && strcmp(a, alias) == 0)) && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* report NAME [-n NS] [--no-emoji] [--exit-code] [--kubeconfig PATH] [--context NAME]. */
int p4_cmd_report(int argc, char **argv, const char *program)
{
    struct p4_cmd_options o = {0};
    struct report_cli cli = {.rc = 1};
    struct p4_kube_config *cfg = NULL;
    char ns[512], name[512], path[1200];
    struct p4_error err;
    bool no_emoji = false;
    uv_loop_t loop;
    const char *v;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            (void)printf("usage:\n");
            p4_cmd_report_usage(stdout, program);
            return 0;
        } else if ((v = value_of("--namespace", "-n", argc, argv, &i)) != NULL) {
            cli.namespace_ = v;
        } else if ((v = value_of("--kubeconfig", NULL, argc, argv, &i)) != NULL) {
            o.kubeconfig = v;
        } else if ((v = value_of("--context", NULL, argc, argv, &i)) != NULL) {
            o.context = v;
        } else if (strcmp(a, "--no-emoji") == 0) {
            no_emoji = true;
        } else if (strcmp(a, "--exit-code") == 0) {
            cli.exit_code = true;
        } else if (a[0] == '-' || cli.name != NULL) {
            (void)fprintf(stderr, "phase4-operator: report: unknown flag or extra argument '%s'\n",
                          a);
            return 2;
        } else {
            cli.name = a;
        }
    }
    if (cli.name == NULL || cli.name[0] == '\0' ||
        (cli.namespace_ != NULL && cli.namespace_[0] == '\0')) {
        (void)fprintf(stderr,
                      "phase4-operator: report: give the Phase4Deployment's name: %s "
                      "report NAME [-n NS]\n",
                      program);
        return 2;
    }
    cli.flags = no_emoji || !utf8_locale() ? P4_REPORT_ASCII : 0;
    if (p4_cmd_load_config(&o, &cfg, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
        return 1;
    }
    if (cli.namespace_ == NULL)
        cli.namespace_ = cfg->namespace;
    if (p4_kube_escape(cli.namespace_, ns, sizeof(ns)) != 0 ||
        p4_kube_escape(cli.name, name, sizeof(name)) != 0) {
        (void)fprintf(stderr, "phase4-operator: report: the name or namespace is too long\n");
        p4_kube_config_free(cfg);
        return 2;
    }
    (void)snprintf(path, sizeof(path),
                   "/apis/phase4.io/v1alpha1/namespaces/%s/phase4deployments/%s", ns, name);
    (void)uv_loop_init(&loop);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    if (p4_kube_new(&loop, cfg, NULL, &cli.kube, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
    } else if (p4_kube_request_raw(cli.kube, "GET", path, NULL, NULL, 0, on_fetched, &cli) != 0) {
        (void)fprintf(stderr, "phase4-operator: cannot send the request\n");
        p4_kube_close(cli.kube);
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    curl_global_cleanup();
    p4_kube_config_free(cfg);
    return cli.rc;
}
