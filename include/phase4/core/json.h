/*
 * json.h: bounded parsing and typed getters over cJSON trees.
 *
 * Kubernetes objects arrive as JSON and stay cJSON trees at the edges. These
 * getters walk a dotted path ("metadata.name", "status.observedGeneration")
 * and check the type at the end, so callers never dereference a missing or
 * mistyped member, and "absent" stays distinct from zero, false and "".
 *
 * Paths: segments are separated by '.'; a key that itself contains '.' or '\'
 * (labels such as "app.kubernetes.io/name") is written with a backslash
 * escape, "metadata.labels.app\\.kubernetes\\.io/name" in C source, or read
 * one level at a time with p4_json_child(). Keys match case-sensitively; list
 * indexing is not supported. A NULL or empty path names obj itself.
 *
 * Ownership: every pointer returned by a getter is borrowed from obj and
 * lives as long as obj does; p4_json_parse() and p4_json_print() return
 * memory the caller frees.
 */
#ifndef PHASE4_JSON_H
#define PHASE4_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"

/* Largest document p4_json_parse() accepts, in bytes. */
#define P4_JSON_PARSE_MAX ((size_t)64 * 1024 * 1024)

/* Whitespace as JSON (RFC 8259) has it: ' ', '\t', '\n' and '\r', no other byte. */
static inline bool p4_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Parse exactly len bytes of buf (which need not be NUL-terminated) as one
 * JSON value; whitespace may follow it, anything else is an error. Returns
 * the tree (caller frees with cJSON_Delete) or NULL with err filled:
 * P4_ERR_TOOBIG when len > P4_JSON_PARSE_MAX, P4_ERR_PARSE with the byte
 * offset, line and column where parsing failed, P4_ERR_INVAL for a NULL buf.
 */
cJSON *p4_json_parse(const char *buf, size_t len, struct p4_error *err);

/* The member at path, of any type (JSON null included); NULL when absent. Borrowed. */
const cJSON *p4_json_get(const cJSON *obj, const char *path);

/* The member of object obj named key, taken literally (no path, no escapes). Borrowed. */
const cJSON *p4_json_child(const cJSON *obj, const char *key);

/*
 * The first object of array whose member key is the string value (a status condition by its
 * type: p4_json_find(conditions, "type", "Ready")); NULL when none is, or array is not an
 * array. Borrowed.
 */
const cJSON *p4_json_find(const cJSON *array, const char *key, const char *value);

/* The string at path; NULL when absent or not a string. Borrowed from obj. */
const char *p4_json_str(const cJSON *obj, const char *path);

/*
 * The integer at path into *out. Returns 0, P4_ERR_NOTFOUND when absent or
 * JSON null, or P4_ERR_INVAL when not a number, not integral, or beyond
 * +-2^53 (cJSON keeps numbers as doubles, so larger values may already have
 * been rounded and are refused rather than returned wrong). *out is written
 * only on success.
 */
int p4_json_int64(const cJSON *obj, const char *path, int64_t *out);

/* The boolean at path into *out; same return values as p4_json_int64(). */
int p4_json_bool(const cJSON *obj, const char *path, bool *out);

/*
 * Compact JSON text of obj; caller frees with free(). NULL only when obj is
 * NULL or cJSON fails (an item of invalid type, or its own malloc failing).
 */
char *p4_json_print(const cJSON *obj);

/*
 * cJSON returns NULL (or false) when its own malloc fails: abort then, with a
 * log line, as p4_malloc does, so no caller writes an untested branch.
 * p4_json_need returns item.
 */
cJSON *p4_json_need(cJSON *item);
void p4_json_need_ok(cJSON_bool ok);

/*
 * Wipe every key and string of tree (or sibling chain), which may hold a
 * Secret's values, then delete it. tree must be detached; NULL is fine. The
 * walk splices each node's children in after it, so it needs no stack.
 */
void p4_json_discard(cJSON *tree);

/* A node of the same type and value as n, without children or key (caller frees). */
cJSON *p4_json_shallow_copy(const cJSON *n);

/*
 * A deep copy of src (caller frees), built with an explicit stack: no recursion, whatever the
 * depth. With drop_nulls, null members of objects are left out, as merging src into an empty
 * object would leave them out; lists (and everything in them) are copied as they are.
 */
cJSON *p4_json_copy(const cJSON *src, bool drop_nulls);

/*
 * What v is, for a message: "an object", "an array", "a string", "a number", "a boolean" or
 * "null" (NULL or an invalid item too). With list, an array is "a list", the word Helm values
 * and YAML use. Static text.
 */
const char *p4_json_type_name(const cJSON *v, bool list);

/*
 * The number of children of array (or object), counting no further than limit + 1: a result
 * over limit says "too many" without walking a list from outside to its end. NULL counts 0.
 */
size_t p4_json_count_upto(const cJSON *array, size_t limit);

#endif
