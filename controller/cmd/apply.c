/*
 * apply.c: `phase4-operator apply -f FILE`, server-side apply of a manifest
 * as the stages do it, one object at a time or, with --owner, through the
 * Kubernetes stage's applyset engine.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cmd.h"
#include "phase4/core/json.h"
#include "phase4/kube/apply.h"
#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"
#include "phase4/stages/kubernetes/applyset.h"
#include "phase4/stages/kubernetes/inventory.h"

struct apply_cli {
    int rc;
    struct p4_kube *kube;
    struct p4_discovery *disc;
    cJSON *objects;
    int next, pending;
    struct p4_apply_opts opts;
    /* --owner: the applyset engine (applyset.h) instead of one apply per object. */
    struct p4_applyset_opts set;
    struct p4_inventory previous;
    const char *inventory_out;
};

static void apply_next(struct apply_cli *cli);

static void on_cli_applied(const struct p4_apply_result *res, void *data)
{
    struct apply_cli *cli = data;

    if (res->rc == 0)
        (void)printf("%s/%s%s%s applied%s\n", res->resource, res->namespace_,
                     res->namespace_[0] ? "/" : "", res->name,
                     cli->opts.dry_run ? " (server dry run)" : "");
    else {
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", res->err.reason ? res->err.reason : "",
                      res->err.message);
        cli->rc = 1;
    }
    cli->pending--;
    apply_next(cli);
}

/* Print one line per entry of inv: "ConfigMap shop/web <what>". */
static void print_entries(const struct p4_inventory *inv, const char *what)
{
    for (size_t i = 0; i < inv->n; i++) {
        const struct p4_inv_entry *e = &inv->items[i];
        (void)printf("%s %s%s%s %s\n", e->kind, e->namespace_, e->namespace_[0] ? "/" : "", e->name,
                     what);
    }
}

/* The applyset's end: what it did, the inventory for the next --prune-from, the failure. */
static void on_cli_applyset(const struct p4_applyset_result *res, void *data)
{
    struct apply_cli *cli = data;

    print_entries(&res->applied, "applied");
    print_entries(&res->deleted, "pruned");
    print_entries(&res->skipped, "left alone (not ours to delete, or a CRD)");
    if (res->rc == 0) {
        cJSON *inv = p4_inventory_to_json(&res->applied);
        char *text = p4_json_print(inv);
        FILE *f = cli->inventory_out ? fopen(cli->inventory_out, "w") : NULL;
        (void)printf("%zu applied, %d pruned, %d left alone\n", res->applied.n, res->pruned,
                     res->prune_skipped);
        if (cli->inventory_out &&
            (f == NULL || text == NULL || fputs(text, f) < 0 || fputc('\n', f) < 0)) {
            (void)fprintf(stderr, "phase4-operator: cannot write %s\n", cli->inventory_out);
            cli->rc = 1;
        }
        if (f && fclose(f) != 0 && cli->rc == 0) {
            (void)fprintf(stderr, "phase4-operator: cannot write %s\n", cli->inventory_out);
            cli->rc = 1;
        }
        free(text);
        cJSON_Delete(inv);
    } else {
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", res->err.reason ? res->err.reason : "",
                      res->err.message);
        cli->rc = 1;
    }
    cli->pending--;
    apply_next(cli);
}

/*
 * Apply the next object (one at a time, in the manifest's order), or with
 * --owner hand the whole manifest to the applyset engine; close up after the last.
 */
static void apply_next(struct apply_cli *cli)
{
    const cJSON *obj;

    if (cli->set.owner_name != NULL && cli->next == 0) {
        cli->next = cJSON_GetArraySize(cli->objects);
        cli->pending++;
        if (p4_applyset_run(cli->kube, cli->disc, cli->objects, &cli->set, on_cli_applyset, cli,
                            NULL) == 0)
            return;
        (void)fprintf(stderr, "phase4-operator: cannot start the apply\n");
        cli->pending--;
        cli->rc = 1;
    }
    while (cli->set.owner_name == NULL &&
           (obj = cJSON_GetArrayItem(cli->objects, cli->next)) != NULL) {
        cli->next++;
        cli->pending++;
        if (p4_apply_object(cli->kube, cli->disc, obj, &cli->opts, on_cli_applied, cli) == 0)
            return;
        cli->pending--;
        cli->rc = 1;
    }
    if (cli->pending == 0) {
        p4_discovery_close(cli->disc);
        p4_kube_close(cli->kube);
    }
}

/*
 * phase4-operator apply -f FILE [-n NS] [--dry-run] [--force] [--owner NS/NAME [--generation N]
 * [--create-namespace] [--prune-from FILE] [--inventory-out FILE]]: server-side apply as the
 * stages do.
 */
int p4_cmd_apply(int argc, char **argv)
{
    struct p4_cmd_options o = {0};
    struct apply_cli cli = {.rc = 1, .set = {.generation = 1}};
    struct p4_kube_config *cfg = NULL;
    const char *file = NULL, *owner = NULL, *prune_from = NULL;
    char owner_ns[256] = "";
    char *text = NULL, *end = NULL;
    size_t len = 0;
    struct p4_error err;
    uv_loop_t loop;
    int rc = 1;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
            file = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            cli.opts.namespace_ = argv[++i];
        else if (strcmp(argv[i], "--dry-run") == 0)
            cli.opts.dry_run = true;
        else if (strcmp(argv[i], "--force") == 0)
            cli.opts.force = true;
        else if (strcmp(argv[i], "--owner") == 0 && i + 1 < argc)
            owner = argv[++i];
        else if (strcmp(argv[i], "--generation") == 0 && i + 1 < argc) {
            errno = 0;
            cli.set.generation = strtoll(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0' || cli.set.generation < 0) {
                (void)fprintf(stderr, "phase4-operator: apply: --generation takes a number\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--create-namespace") == 0)
            cli.set.create_namespace = true;
        else if (strcmp(argv[i], "--prune-from") == 0 && i + 1 < argc)
            prune_from = argv[++i];
        else if (strcmp(argv[i], "--inventory-out") == 0 && i + 1 < argc)
            cli.inventory_out = argv[++i];
        else if (strcmp(argv[i], "--kubeconfig") == 0 && i + 1 < argc)
            o.kubeconfig = argv[++i];
        else if (strcmp(argv[i], "--context") == 0 && i + 1 < argc)
            o.context = argv[++i];
        else {
            (void)fprintf(stderr, "phase4-operator: apply: unknown flag '%s'\n", argv[i]);
            return 2;
        }
    }
    if (owner != NULL) {
        const char *slash = strchr(owner, '/');
        if (slash == NULL || slash == owner || slash[1] == '\0' || strchr(slash + 1, '/') ||
            (size_t)(slash - owner) >= sizeof(owner_ns)) {
            (void)fprintf(stderr, "phase4-operator: apply: --owner takes NAMESPACE/NAME\n");
            return 2;
        }
        (void)snprintf(owner_ns, sizeof(owner_ns), "%.*s", (int)(slash - owner), owner);
        cli.set.owner_namespace = owner_ns;
        cli.set.owner_name = slash + 1;
        cli.set.namespace_ = cli.opts.namespace_;
        cli.set.force = cli.opts.force;
        if (cli.opts.dry_run) {
            (void)fprintf(stderr, "phase4-operator: apply: --dry-run does not go with --owner\n");
            return 2;
        }
    } else if (cli.set.create_namespace || prune_from || cli.inventory_out) {
        (void)fprintf(stderr, "phase4-operator: apply: --create-namespace, --prune-from and "
                              "--inventory-out need --owner\n");
        return 2;
    }
    if (prune_from) {
        cJSON *json;
        text = p4_cmd_read_file(prune_from, &len);
        json = text ? p4_json_parse(text, len, &err) : NULL;
        free(text);
        text = NULL;
        if (json == NULL || p4_inventory_from_json(json, &cli.previous, NULL, &err) != 0) {
            (void)fprintf(stderr, "phase4-operator: %s: %s\n", prune_from,
                          json ? err.message : "cannot read it as JSON");
            cJSON_Delete(json);
            p4_inventory_close(&cli.previous);
            return 2;
        }
        cJSON_Delete(json);
        cli.set.previous = &cli.previous;
    }
    if (file == NULL || (text = p4_cmd_read_file(file, &len)) == NULL) {
        (void)fprintf(stderr, "phase4-operator: apply: give a readable manifest with -f FILE\n");
        rc = 2;
        goto out;
    }
    cli.objects = p4_manifest_split(text, len, &err);
    free(text);
    if (cli.objects == NULL) {
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", file, err.message);
        goto out;
    }
    if (p4_cmd_load_config(&o, &cfg, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
        goto out;
    }
    (void)uv_loop_init(&loop);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    if (p4_kube_new(&loop, cfg, NULL, &cli.kube, &err) == 0) {
        cli.rc = 0;
        cli.disc = p4_discovery_new(cli.kube);
        apply_next(&cli);
        (void)uv_run(&loop, UV_RUN_DEFAULT);
    } else {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
    }
    (void)uv_loop_close(&loop);
    curl_global_cleanup();
    p4_kube_config_free(cfg);
    rc = cli.rc;
out:
    cJSON_Delete(cli.objects);
    p4_inventory_close(&cli.previous);
    return rc;
}
