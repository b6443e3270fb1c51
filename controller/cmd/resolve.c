/* resolve.c: `phase4-operator resolve APIVERSION KIND`, discovery from the command line. */
#include <curl/curl.h>
#include <stdio.h>
#include <uv.h>

#include "cmd.h"
#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"

struct resolve_ctx {
    struct p4_kube *kube;
    struct p4_discovery *disc;
    int rc;
};

static void on_resolved(int rc, const struct p4_resource_info *info, const struct p4_error *err,
                        void *data)
{
    struct resolve_ctx *r = data;

    if (rc == 0) {
        (void)printf("%s\t%s\n", info->resource, info->namespaced ? "namespaced" : "cluster");
    } else {
        (void)fprintf(stderr, "phase4-operator: %s\n", err ? err->message : p4_strerror(rc));
    }
    r->rc = rc == 0 ? 0 : 1;
    p4_discovery_close(r->disc);
    p4_kube_close(r->kube);
}

int p4_cmd_resolve(const struct p4_cmd_options *o, const char *api_version, const char *kind)
{
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;
    struct resolve_ctx r = {.rc = 1};
    uv_loop_t loop;

    if (p4_cmd_load_config(o, &cfg, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
        return 1;
    }
    (void)uv_loop_init(&loop);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    if (p4_kube_new(&loop, cfg, NULL, &r.kube, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
        goto out;
    }
    r.disc = p4_discovery_new(r.kube);
    if (p4_discovery_lookup(r.disc, api_version, kind, on_resolved, &r) != 0) {
        p4_discovery_close(r.disc);
        p4_kube_close(r.kube);
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
out:
    (void)uv_loop_close(&loop);
    curl_global_cleanup();
    p4_kube_config_free(cfg);
    return r.rc;
}
