/*
 * chartfetch.c: `phase4-operator chart-fetch REPOSITORY NAME [VERSION]`, the
 * Helm stage's chart fetch by hand.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cmd.h"
#include "phase4/core/url.h"
#include "phase4/oci/regauth.h"
#include "phase4/oci/registry.h"
#include "phase4/stages/helm/chartfetch.h"

struct chart_cli {
    int rc;
    struct p4_chartfetch *fetch;
    struct p4_registry *reg;
};

static void on_chart_fetched(const struct p4_chart_result *res, void *data)
{
    struct chart_cli *cli = data;

    if (res->rc == 0)
        (void)printf("version: %s\ndigest: %s\npath: %s\ncached: %s\n", res->version, res->digest,
                     res->path, res->from_cache ? "yes" : "no");
    else
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", res->err.reason ? res->err.reason : "",
                      res->err.message);
    cli->rc = res->rc == 0 ? 0 : 1;
    p4_chartfetch_free(cli->fetch);
    p4_registry_close(cli->reg);
}

int p4_cmd_chart_fetch(int argc, char **argv)
{
    struct p4_chart_request req = {.repository = argv[0], .name = argc > 1 ? argv[1] : NULL};
    struct p4_chartfetch_config fc = {.cache_dir = "/tmp/phase4-charts"};
    struct chart_cli cli = {.rc = 1};
    const char *ca_file = NULL, *config = NULL;
    char *ca = NULL;
    size_t ca_len = 0;
    struct p4_regauth auth;
    uv_loop_t loop;
    int i = 2, rc;

    if (argc > 2 && argv[2][0] != '-')
        req.version = argv[i++];
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--insecure") == 0)
            req.insecure_http = 1;
        else if (strcmp(argv[i], "--ca-file") == 0 && i + 1 < argc)
            ca_file = argv[++i];
        else if (strcmp(argv[i], "--cache-dir") == 0 && i + 1 < argc)
            fc.cache_dir = argv[++i];
        else if (strcmp(argv[i], "--docker-config") == 0 && i + 1 < argc)
            config = argv[++i];
        else {
            (void)fprintf(stderr, "phase4-operator: chart-fetch: unknown flag '%s'\n", argv[i]);
            return 1;
        }
    }
    p4_regauth_init(&auth);
    if (config) {
        const char *host = strncmp(req.repository, "oci://", 6) == 0 ? req.repository + 6 : "";
        char h[256];
        (void)snprintf(h, sizeof(h), "%.*s", (int)strcspn(host, "/"), host);
        if (p4_cmd_load_docker_config(config, h, &auth, &req.cred) != 0) {
            p4_regauth_close(&auth);
            return 1;
        }
    }
    /* Repository credentials come from the environment, never the command line. */
    req.username = getenv("P4_CHART_USERNAME");
    req.password = getenv("P4_CHART_PASSWORD");
    if (ca_file && (ca = p4_cmd_read_file(ca_file, &ca_len)) == NULL) {
        (void)fprintf(stderr, "phase4-operator: cannot read %s\n", ca_file);
        p4_regauth_close(&auth);
        return 1;
    }
    req.ca_pem = (const unsigned char *)ca;
    req.ca_len = ca_len;
    (void)uv_loop_init(&loop);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    cli.reg = p4_registry_new(&loop);
    fc.registry = cli.reg;
    cli.fetch = cli.reg ? p4_chartfetch_new(&loop, &fc) : NULL;
    rc = cli.fetch ? p4_chartfetch_get(cli.fetch, &req, on_chart_fetched, &cli) : P4_ERR_NOMEM;
    if (rc != 0) {
        char shown[600];
        p4_url_display(req.repository, shown, sizeof(shown));
        (void)fprintf(stderr, "phase4-operator: cannot fetch chart %s from %s%s\n",
                      req.name ? req.name : "", shown,
                      rc == P4_ERR_INSECURE ? ": InsecureCredentials: the credentials would go "
                                              "over plain HTTP (--insecure allows it)"
                                            : "");
        p4_chartfetch_free(cli.fetch);
        p4_registry_close(cli.reg);
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    curl_global_cleanup();
    free(ca);
    p4_regauth_close(&auth);
    return cli.rc;
}
