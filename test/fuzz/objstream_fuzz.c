/*
 * objstream_fuzz.c: libFuzzer target for Kubernetes objects read from YAML or JSON text
 * (p4_objstream, what phase4-operator health reads), each then evaluated by p4_health_eval.
 *
 * Input layout: the whole input is the text, read as the command reads a file.
 * Invariants: the stream opens, or fails with P4_ERR_TOOBIG, P4_ERR_PARSE or P4_ERR_INVALID and a
 * message of printable ASCII; every object given is a JSON object with a non-empty string kind
 * and metadata.name, which p4_health_eval accepts (returns 0) with a status among the four; the
 * stream ends with 0 or with P4_ERR_INVALID, P4_ERR_TOOBIG or P4_ERR_PARSE and a printable
 * message, and gives nothing after that.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/kube/objstream.h"
#include "phase4/stages/kubernetes/health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct p4_error *err)
{
    if (err->code != P4_ERR_TOOBIG && err->code != P4_ERR_PARSE && err->code != P4_ERR_INVALID)
        abort();
    if (err->message[0] == '\0')
        abort();
    for (const char *p = err->message; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p4_error err = {0};
    struct p4_objstream *s = p4_objstream_new((const char *)data, size, &err);
    struct p4_health h;
    cJSON *obj;
    int rc;

    if (s == NULL) {
        check_error(&err);
        return 0;
    }
    while ((rc = p4_objstream_next(s, &obj, &err)) == 1) {
        const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");

        if (!cJSON_IsObject(obj) || kind == NULL || kind[0] == '\0' || name == NULL ||
            name[0] == '\0')
            abort();
        if (p4_health_eval(obj, &h) != 0 || h.status > P4_HEALTH_UNKNOWN)
            abort();
        cJSON_Delete(obj);
    }
    if (obj != NULL)
        abort();
    if (rc != 0) {
        if (rc != err.code)
            abort();
        check_error(&err);
    }
    if (p4_objstream_next(s, &obj, &err) != 0 || obj != NULL)
        abort();
    p4_objstream_free(s);
    return 0;
}
