/*
 * imagecheck.c: `phase4-operator image-check REF`, the Docker stage's
 * registry checks by hand.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cmd.h"
#include "phase4/oci/imagecheck.h"
#include "phase4/oci/imageref.h"
#include "phase4/oci/ocimanifest.h"
#include "phase4/oci/regauth.h"

struct image_cli {
    int rc;
    struct p4_registry *reg;
};

static void on_image_checked(const struct p4_image_check *res, void *data)
{
    struct image_cli *cli = data;

    if (res->digest[0])
        (void)printf("digest: %s\nmediaType: %s\n", res->digest, res->media_type);
    if (res->platforms[0])
        (void)printf("platforms: %s\n", res->platforms);
    if (res->manifest[0])
        (void)printf("manifest: %s\n", res->manifest);
    (void)printf("blobs: %d of %d present\n", res->blobs_present, res->blobs);
    if (res->rc != 0)
        (void)fprintf(stderr, "phase4-operator: %s\n", res->err.message);
    cli->rc = res->rc == 0 ? 0 : 1;
    p4_registry_close(cli->reg);
}

int p4_cmd_image_check(int argc, char **argv)
{
    const char *ref = argv[0], *platform = "linux/amd64", *ca_file = NULL, *config = NULL;
    char os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX],
        variant[P4_OCI_PLATFORM_PART_MAX];
    struct p4_registry_target t = {0};
    struct p4_image_ref r = {0};
    struct p4_regauth auth;
    struct p4_error err;
    struct image_cli cli = {.rc = 1};
    char *ca = NULL;
    size_t ca_len = 0;
    uv_loop_t loop;

    p4_regauth_init(&auth);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--insecure") == 0)
            t.insecure_http = 1;
        else if (strcmp(argv[i], "--platform") == 0 && i + 1 < argc)
            platform = argv[++i];
        else if (strcmp(argv[i], "--ca-file") == 0 && i + 1 < argc)
            ca_file = argv[++i];
        else if (strcmp(argv[i], "--docker-config") == 0 && i + 1 < argc)
            config = argv[++i];
        else {
            (void)fprintf(stderr, "phase4-operator: image-check: unknown flag '%s'\n", argv[i]);
            goto out;
        }
    }
    if (p4_oci_parse_platform(platform, os, arch, variant, &err) != 0 ||
        p4_image_ref_parse(ref, &r, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
        goto out;
    }
    if (ca_file && (ca = p4_cmd_read_file(ca_file, &ca_len)) == NULL) {
        (void)fprintf(stderr, "phase4-operator: cannot read %s\n", ca_file);
        goto out;
    }
    if (config && p4_cmd_load_docker_config(config, ref, &auth, &t.cred) != 0)
        goto out;
    t.host = r.registry;
    t.ca_pem = (const unsigned char *)ca;
    t.ca_len = ca_len;
    (void)uv_loop_init(&loop);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    cli.reg = p4_registry_new(&loop);
    if (cli.reg == NULL || p4_image_check(cli.reg, &t, r.repository, r.digest ? r.digest : r.tag,
                                          os, arch, variant, on_image_checked, &cli) != 0) {
        (void)fprintf(stderr, "phase4-operator: cannot check %s\n", ref);
        p4_registry_close(cli.reg);
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    curl_global_cleanup();
out:
    p4_image_ref_close(&r);
    p4_regauth_close(&auth);
    free(ca);
    return cli.rc;
}
