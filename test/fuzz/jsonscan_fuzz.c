/*
 * jsonscan_fuzz.c: libFuzzer target for the JSON scanner.
 *
 * The input is any bytes. The scanner must stay within them, agree with itself
 * (a document's members scan to spans inside it, each no deeper than it),
 * decode every member name without overrunning its buffer, and accept nothing
 * cJSON refuses when the text is shallow enough for cJSON and has no \u escape
 * (cJSON refuses lone surrogates that RFC 8259 allows).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/jsonscan.h"

static void walk(const char *buf, struct p4_jsonscan_span span, size_t depth)
{
    struct p4_jsonscan_iter it;
    struct p4_jsonscan_span k, v;
    char name[32], path[48];
    int64_t n;
    int rc;

    if (p4_jsonscan_begin(&it, buf, span) != 0) {
        (void)p4_jsonscan_int64(buf, span, &n);
        (void)p4_jsonscan_string(buf, span, name, sizeof(name));
        return;
    }
    while ((rc = p4_jsonscan_next(&it, &k, &v, NULL)) == 1) {
        size_t pos = v.off, d = 0;

        if (v.off < span.off || v.off + v.len > span.off + span.len)
            abort();
        if (p4_jsonscan_value(buf, v.off + v.len, &pos, NULL, &d, NULL) != 0 || d >= depth)
            abort();
        if (k.len > 0) {
            (void)p4_jsonscan_string(buf, k, name, sizeof(name));
            if (strlen(name) >= sizeof(name))
                abort();
        }
        (void)p4_jsonscan_member(buf, span, "metadata", &v);
    }
    if (rc != 0) /* the span was scanned whole: its members must scan too */
        abort();
    (void)p4_jsonscan_too_deep(buf, span, depth > 2 ? depth - 2 : 0, 3, path, sizeof(path));
    if (strlen(path) >= sizeof(path))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct p4_jsonscan_span span;
    size_t depth = 0;
    int rc = p4_jsonscan_document(buf, size, &span, &depth, NULL);

    if (rc != 0 && rc != P4_ERR_PARSE)
        abort();
    if (rc != 0)
        return 0;
    if (span.off + span.len > size || span.len == 0)
        abort();
    walk(buf, span, depth);
    if (depth < 900 && memmem(data, size, "\\u", 2) == NULL) {
        cJSON *tree = p4_json_parse(buf, size, NULL);

        if (tree == NULL)
            abort();
        cJSON_Delete(tree);
    }
    return 0;
}
