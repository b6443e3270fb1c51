/*
 * kubestage_fuzz.c: libFuzzer target for what the Kubernetes stage reads from the cluster: the
 * manifest Secret the Helm stage stored (p4_manifest_secret_text), editable by anyone who can
 * edit Secrets in its namespace. (The label selectors of the workloads it applied have their own
 * target, selector_fuzz.c.)
 *
 * Input: bytes parsed by cJSON_ParseWithLength. When they read as an object, it is read as a
 * manifest Secret with a limit of 1 MiB.
 * Invariants: a manifest read back is NUL-terminated after len bytes, len is within the limit,
 * and reading it again with the limit set to len gives the same bytes; a refusal is
 * P4_ERR_INVALID or P4_ERR_TOOBIG (or P4_ERR_INTERNAL) with a reason and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/error.h"
#include "phase4/core/json.h"
#include "phase4/reconciler/manifest.h"

#define MANIFEST_MAX ((size_t)1 << 20)

static char *secret_text(const cJSON *obj, size_t max, size_t *len)
{
    struct p4_error err = {0};
    char *text = p4_manifest_secret_text(obj, max, len, &err);

    if (text == NULL) {
        if (err.code != P4_ERR_INVALID && err.code != P4_ERR_TOOBIG && err.code != P4_ERR_INTERNAL)
            abort();
        if (err.reason == NULL || err.message[0] == '\0' ||
            memchr(err.message, '\0', sizeof(err.message)) == NULL)
            abort();
        return NULL;
    }
    if (*len > max || text[*len] != '\0')
        abort();
    return text;
}

static void manifest(const cJSON *obj)
{
    size_t len = 0, again_len = 0;
    char *text = secret_text(obj, MANIFEST_MAX, &len), *again;

    if (text == NULL)
        return;
    again = secret_text(obj, len, &again_len);
    if (again == NULL || again_len != len || memcmp(again, text, len) != 0)
        abort();
    free(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *obj = cJSON_ParseWithLength((const char *)data, size);

    if (cJSON_IsObject(obj)) {
        manifest(obj);
    }
    cJSON_Delete(obj);
    return 0;
}
