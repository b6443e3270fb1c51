/*
 * yamljson_fuzz.c: libFuzzer target for the YAML reader (Helm values files, chart index.yaml).
 *
 * The input is one YAML stream, read as its first document and as every document. Results
 * must be consistent: a tree prints as JSON that cJSON reads back equal; no object holds a key
 * twice; nesting stays within P4_YAML_MAX_DEPTH; the whole-stream reader's first element is the
 * first document, and when the first document fails the stream fails too; errors carry a code
 * the header names and one clean sentence that never repeats the input (a marker that inputs
 * may contain must never show up in a message). Trees are compared by their printed JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/yamljson.h"

#define MARKER "SECRETMARK"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct p4_error *err)
{
    size_t len = strlen(err->message);

    if (err->code != P4_ERR_PARSE && err->code != P4_ERR_TOOBIG && err->code != P4_ERR_INVALID)
        abort();
    if (len < 2 || err->message[len - 1] != '.' || strstr(err->message, MARKER) != NULL)
        abort();
    for (const char *s = err->message; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            abort();
    }
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every object's keys are distinct; depth is bounded. Walked with an explicit stack. */
static void check_shape(const cJSON *root, size_t max_depth)
{
    struct item {
        const cJSON *node;
        size_t depth;
    } *stack = malloc(sizeof(*stack) * 64);
    size_t n = 0, cap = 64;

    if (stack == NULL)
        abort();
    stack[n++] = (struct item){root, 0};
    while (n > 0) {
        struct item it = stack[--n];
        size_t kids = 0, k = 0;
        const char **keys;

        if (!cJSON_IsArray(it.node) && !cJSON_IsObject(it.node))
            continue;
        if (it.depth + 1 > max_depth)
            abort();
        for (const cJSON *c = it.node->child; c != NULL; c = c->next)
            kids++;
        keys = malloc(sizeof(*keys) * (kids + 1));
        if (keys == NULL)
            abort();
        for (const cJSON *c = it.node->child; c != NULL; c = c->next) {
            if (cJSON_IsObject(it.node)) {
                if (c->string == NULL)
                    abort();
                keys[k++] = c->string;
            }
            if (n == cap) {
                cap *= 2;
                stack = realloc(stack, sizeof(*stack) * cap);
                if (stack == NULL)
                    abort();
            }
            stack[n++] = (struct item){c, it.depth + 1};
        }
        qsort(keys, k, sizeof(*keys), cmp_keys);
        for (size_t i = 1; i < k; i++) {
            if (strcmp(keys[i - 1], keys[i]) == 0)
                abort();
        }
        free(keys);
    }
    free(stack);
}

/* Printed JSON of a tree; caller frees with cJSON_free. */
static char *print(const cJSON *tree)
{
    char *text = cJSON_PrintUnformatted(tree);

    if (text == NULL)
        abort();
    return text;
}

/*
 * The tree prints as JSON that reads back as the same tree, compared by printing it again
 * (cJSON_Compare is exponential in the depth of nested objects).
 */
static void check_round_trip(const cJSON *tree)
{
    char *text = print(tree), *again_text;
    cJSON *again = cJSON_Parse(text);

    if (again == NULL)
        abort();
    again_text = print(again);
    if (strcmp(text, again_text) != 0)
        abort();
    cJSON_free(again_text);
    cJSON_Delete(again);
    cJSON_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p4_error err, err_all;
    cJSON *first, *all;

    p4_error_clear(&err);
    p4_error_clear(&err_all);
    first = p4_yaml_to_json((const char *)data, size, &err);
    all = p4_yaml_to_json_all((const char *)data, size, &err_all);
    if (first == NULL)
        check_error(&err);
    if (all == NULL)
        check_error(&err_all);
    if (first == NULL && all != NULL)
        abort(); /* the stream reads the first document the same way */
    if (first != NULL) {
        check_shape(first, P4_YAML_MAX_DEPTH);
        check_round_trip(first);
    }
    if (all != NULL) {
        const cJSON *doc0 = cJSON_GetArrayItem(all, 0);

        if (!cJSON_IsArray(all))
            abort();
        check_shape(all, P4_YAML_MAX_DEPTH + 1); /* the documents' array adds a level */
        check_round_trip(all);
        if (doc0 == NULL) {
            if (!cJSON_IsNull(first))
                abort();
        } else {
            char *x = print(doc0), *y = print(first);

            if (strcmp(x, y) != 0)
                abort();
            cJSON_free(x);
            cJSON_free(y);
        }
    }
    cJSON_Delete(first);
    cJSON_Delete(all);
    return 0;
}
