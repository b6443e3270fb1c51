/*
 * testjson.h: JSON for unit tests, from inline text or from a fixture file.
 * Include after <cmocka.h> (the helpers fail the test through it).
 *
 * Inline JSON is written with ' for " so it stays readable in C strings; none
 * needs a real apostrophe. Fixture files are read whole and parsed with their
 * exact length (no terminator read: the parser must stay within the bytes).
 * Paths are relative to the repository root, where the tests run. Both return
 * a tree the caller frees with cJSON_Delete, or fail the test.
 */
#ifndef PHASE4_TEST_TESTJSON_H
#define PHASE4_TEST_TESTJSON_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline cJSON *test_json(const char *text)
{
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    cJSON *obj;

    assert_non_null(copy);
    for (size_t i = 0; i <= n; i++)
        copy[i] = text[i] == '\'' ? '"' : text[i];
    obj = cJSON_ParseWithLength(copy, n);
    free(copy);
    if (obj == NULL)
        fail_msg("inline JSON does not parse: %s", text);
    return obj;
}

static inline cJSON *test_json_file(const char *dir, const char *file)
{
    char path[512];
    FILE *f;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    cJSON *obj;

    (void)snprintf(path, sizeof(path), "%s%s", dir, file);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run the tests from the repository root)", path);
    do {
        if (len + 4096 > cap) {
            char *grown;
            cap = cap ? cap * 2 : 16384;
            grown = realloc(buf, cap);
            if (grown == NULL)
                free(buf);
            assert_non_null(grown);
            buf = grown;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    (void)fclose(f);
    obj = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (obj == NULL)
        fail_msg("%s is not JSON", path);
    return obj;
}

#endif
