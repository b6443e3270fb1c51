/* files.c: the files a subcommand is given: a manifest, a CA, a docker config (see cmd.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

char *p4_cmd_read_input(const char *path, size_t max, size_t *len, struct p4_error *err)
{
    bool in = strcmp(path, "-") == 0;
    FILE *f = in ? stdin : fopen(path, "rb");
    size_t cap = (size_t)64 * 1024, n;
    char *buf;

    *len = 0;
    if (f == NULL) {
        p4_error_set(err, P4_ERR_NOTFOUND, "cannot open it: %s", strerror(errno));
        return NULL;
    }
    buf = p4_malloc(cap + 1);
    for (;;) {
        if (*len == cap) {
            if (cap > max) /* read max + 1 bytes: it is too big */
                break;
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            buf = p4_realloc(buf, cap + 1);
        }
        n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0)
            break;
    }
    if (ferror(f) || *len > max) {
        if (*len > max)
            p4_error_set(err, P4_ERR_TOOBIG, "it is larger than %zu bytes, the most read", max);
        else
            p4_error_set(err, P4_ERR_IO, "cannot read it: %s", strerror(errno));
        p4_wipe_free(buf, *len);
        buf = NULL;
        *len = 0;
    } else {
        buf[*len] = '\0';
    }
    if (!in)
        (void)fclose(f);
    return buf;
}
