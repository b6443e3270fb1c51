/*
 * watchframe_fuzz.c: libFuzzer target for the watch stream framer.
 *
 * The input is a watch stream. It is fed once whole and once in chunks whose
 * sizes come from the input itself; both runs must deliver the same events
 * (objects too deep for cJSON through on_unreadable) and end on the same
 * resource version, whatever the bytes. Half the runs set a keep hook that refuses the objects
 * of odd length: what it is asked about must be an object, and both runs must agree.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/kube/watchframe.h"

struct tally {
    size_t events;
    size_t types[P4_WATCH_ERROR + 1];
    size_t unreadable;
};

static void count_unreadable(enum p4_watch_type type, const char *object, size_t len,
                             const struct p4_error *why, void *cb_data)
{
    struct tally *t = cb_data;

    if ((size_t)type >= P4_WATCH_ERROR || len < 2 || object[0] != '{' || object[len - 1] != '}' ||
        why->code == 0)
        abort();
    t->unreadable++;
}

static bool keep_even(const char *object, size_t len, void *cb_data)
{
    (void)cb_data;
    if (len < 2 || object[0] != '{' || object[len - 1] != '}')
        abort();
    return len % 2 == 0;
}

static void count(enum p4_watch_type type, cJSON *object, void *cb_data)
{
    struct tally *t = cb_data;

    if (!cJSON_IsObject(object) || (size_t)type > P4_WATCH_ERROR)
        abort();
    t->events++;
    t->types[type]++;
    (void)p4_json_str(object, "metadata.name");
    cJSON_Delete(object);
}

static void run(const uint8_t *data, size_t size, size_t line_max, bool keep, const uint8_t *sizes,
                size_t nsizes, struct tally *t, char **rv)
{
    struct p4_watchframe wf;
    const char *v;
    size_t off = 0, i = 0;

    p4_watchframe_init(&wf);
    wf.line_max = line_max;
    wf.on_unreadable = count_unreadable;
    wf.keep = keep ? keep_even : NULL;
    while (off < size) {
        size_t n = nsizes ? (size_t)sizes[i++ % nsizes] + 1 : size;
        int rc;

        if (n > size - off)
            n = size - off;
        rc = p4_watchframe_feed(&wf, (const char *)data + off, n, count, t);
        if (rc != 0 && rc != P4_ERR_PARSE && rc != P4_ERR_TOOBIG)
            abort();
        if (rc != wf.error.code)
            abort();
        off += n;
    }
    v = p4_watchframe_resource_version(&wf);
    *rv = v ? strdup(v) : NULL;
    p4_watchframe_close(&wf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tally whole = {0}, chunked = {0};
    char *rv_whole = NULL, *rv_chunked = NULL;
    /* A small limit half the time, so over-long lines are exercised too. */
    size_t line_max = size > 0 && (data[0] & 1) ? 64 : P4_WATCHFRAME_LINE_MAX;
    size_t nsizes = size < 8 ? size : 8;

    bool keep = size > 0 && (data[0] & 2);

    run(data, size, line_max, keep, NULL, 0, &whole, &rv_whole);
    run(data, size, line_max, keep, data, nsizes, &chunked, &rv_chunked);
    if (whole.events != chunked.events || whole.unreadable != chunked.unreadable ||
        memcmp(whole.types, chunked.types, sizeof(whole.types)) != 0)
        abort();
    if ((rv_whole == NULL) != (rv_chunked == NULL) ||
        (rv_whole != NULL && strcmp(rv_whole, rv_chunked) != 0))
        abort();
    free(rv_whole);
    free(rv_chunked);
    return 0;
}
