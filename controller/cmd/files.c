/* files.c: the files a subcommand is given: a manifest, a CA, a docker config (see cmd.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "phase4/core/alloc.h"
#include "phase4/oci/regauth.h"

char *p4_cmd_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;

    if (f == NULL)
        return NULL;
    buf = p4_malloc(P4_REGAUTH_INPUT_MAX + 1);
    *len = fread(buf, 1, P4_REGAUTH_INPUT_MAX, f);
    buf[*len] = '\0';
    (void)fclose(f);
    return buf;
}

int p4_cmd_load_docker_config(const char *path, const char *ref_or_host, struct p4_regauth *auth,
                              const struct p4_regauth_entry **cred)
{
    struct p4_error err;
    size_t len = 0;
    char *text = p4_cmd_read_file(path, &len);
    int rc = 0;

    *cred = NULL;
    if (text == NULL ||
        p4_regauth_add_secret(auth, P4_REGAUTH_DOCKERCONFIGJSON, text, len, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", path,
                      text ? err.message : "cannot read it");
        rc = 1;
    } else if (p4_regauth_lookup(auth, ref_or_host, cred, NULL) != 0) {
        *cred = NULL;
    }
    p4_wipe_free(text, len);
    return rc;
}
