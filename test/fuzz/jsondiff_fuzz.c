/*
 * jsondiff_fuzz.c: libFuzzer target for the field paths where two JSON values differ
 * (jsondiff.h), as the Helm stage's plan compares a live object with its dry-run answer.
 *
 * Input layout: two JSON texts separated by the first NUL byte (no NUL: the input against
 * itself), each parsed with cJSON_ParseWithLength.
 * Invariants: a value against itself has no path; at most max paths are written, each a string
 * shorter than P4_JSONDIFF_PATH_MAX with no control byte; total counts at least the paths
 * written; a diff that was not truncated is symmetric in its count.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/jsondiff.h"

#define MAX 8

static void check_paths(const cJSON *paths, struct p4_jsondiff d)
{
    const cJSON *p;

    if (cJSON_GetArraySize(paths) > MAX || d.total < (size_t)cJSON_GetArraySize(paths))
        abort();
    cJSON_ArrayForEach(p, paths) {
        if (!cJSON_IsString(p) || strlen(p->valuestring) >= P4_JSONDIFF_PATH_MAX)
            abort();
        for (const char *c = p->valuestring; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                abort();
    }
}

static bool skip_status(const char *const *path, size_t depth, void *data)
{
    (void)data;
    return depth == 1 && strcmp(path[0], "status") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t la = nul ? (size_t)(nul - data) : size;
    cJSON *a = cJSON_ParseWithLength(text, la);
    cJSON *b = nul ? cJSON_ParseWithLength(text + la + 1, size - la - 1) : NULL;
    cJSON *paths = cJSON_CreateArray(), *back = cJSON_CreateArray();
    struct p4_jsondiff d, r;

    if (a) {
        d = p4_jsondiff_paths(a, a, NULL, NULL, MAX, paths);
        if (d.total != 0 && !d.truncated)
            abort();
        check_paths(paths, d);
    }
    if (a && b) {
        cJSON_Delete(paths);
        paths = cJSON_CreateArray();
        d = p4_jsondiff_paths(a, b, skip_status, NULL, MAX, paths);
        check_paths(paths, d);
        r = p4_jsondiff_paths(b, a, skip_status, NULL, MAX, back);
        check_paths(back, r);
        if (!d.truncated && !r.truncated && d.total != r.total)
            abort();
    }
    cJSON_Delete(paths);
    cJSON_Delete(back);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return 0;
}
