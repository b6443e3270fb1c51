/*
 * httpjudge_fuzz.c: libFuzzer target for a health check's answer judged against its check
 * (p4_vstage_http_judge): the body comes from any endpoint a Phase4Deployment names.
 *
 * Input: the first byte picks the check (status codes, a body substring, a JSON value at a
 * path), the next two the status; the rest is the body.
 * Invariants: the answer does not change when asked again; why is a NUL-terminated line of
 * at most its buffer, without control bytes; a status outside the codes never passes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "stages/validation/steps.h"

static const char *const checks[] = {
    "{\"url\":\"http://x\"}",
    "{\"url\":\"http://x\",\"statusCodes\":[200,204,503],\"bodyContains\":\"ok\"}",
    "{\"url\":\"http://x\",\"json\":{\"path\":\"status\",\"value\":\"up\"}}",
    "{\"url\":\"http://x\",\"json\":{\"path\":\"a.b.c\",\"value\":\"1\"}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p4_vstage_check c;
    struct p4_error err;
    char why[512], why2[512];
    cJSON *spec;
    long status;
    bool ok;

    if (size < 3)
        return 0;
    spec = cJSON_Parse(checks[data[0] % (sizeof(checks) / sizeof(checks[0]))]);
    if (spec == NULL || p4_vstage_check_read(spec, 0, &c, &err) != 0)
        abort();
    status = 100 + (long)((data[1] << 8 | data[2]) % 500);
    ok = p4_vstage_http_judge(&c, status, (const char *)data + 3, size - 3, why, sizeof(why));
    if (p4_vstage_http_judge(&c, status, (const char *)data + 3, size - 3, why2, sizeof(why2)) !=
            ok ||
        strcmp(why, why2) != 0)
        abort();
    for (const char *p = why; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort();
    if (ok && c.ncodes == 0 && status != 200)
        abort();
    cJSON_Delete(spec);
    return 0;
}
