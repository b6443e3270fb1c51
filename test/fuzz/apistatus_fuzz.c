/*
 * apistatus_fuzz.c: libFuzzer target for decoding API server error responses.
 *
 * Input layout: two bytes of HTTP status, one byte of Retry-After header
 * length, the header, then the body. Every string decoded must be free of
 * control characters, and the user sentence must be non-empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/kube/apistatus.h"

static void check_clean(const char *s)
{
    if (s == NULL)
        return;
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            abort();
    }
}

static void check(const struct p4_apistatus *st)
{
    struct p4_error err;

    if (st->message == NULL || st->causes_len > st->causes_total ||
        st->causes_len > P4_APISTATUS_CAUSES_MAX)
        abort();
    check_clean(st->message);
    check_clean(st->reason);
    check_clean(st->name);
    check_clean(st->group);
    check_clean(st->kind);
    for (size_t i = 0; i < st->causes_len; i++) {
        check_clean(st->causes[i].type);
        check_clean(st->causes[i].message);
        check_clean(st->causes[i].field);
    }
    if (p4_apistatus_to_error(st, &err) != st->code || err.code != st->code)
        abort();
    check_clean(err.message);
    (void)p4_apistatus_is_retryable(st->code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p4_apistatus st;
    char header[256];
    size_t hlen;
    long http;
    cJSON *obj;

    if (size < 3)
        return 0;
    http = (long)((data[0] << 8 | data[1]) % 700) - 50; /* negatives and nonsense too */
    hlen = data[2] < size - 3 ? data[2] : size - 3;
    memcpy(header, data + 3, hlen);
    header[hlen] = '\0';
    data += 3 + hlen;
    size -= 3 + hlen;

    if (p4_apistatus_decode(http, (const char *)data, size, hlen ? header : NULL, &st) != 0)
        abort();
    check(&st);
    p4_apistatus_close(&st);

    obj = p4_json_parse((const char *)data, size, NULL);
    if (p4_apistatus_from_json(obj, &st) != (cJSON_IsObject(obj) ? 0 : P4_ERR_PARSE))
        abort();
    check(&st);
    p4_apistatus_close(&st);
    cJSON_Delete(obj);
    return 0;
}
