/*
 * values.h: the values a Helm release is rendered with, composed from spec.chart.values and
 * spec.chart.valuesFrom (ConfigMap and Secret keys) the way Flux's helm-controller composes
 * them, and merged over a chart's defaults the way Helm does.
 *
 * Order (p4_values_compose): each valuesFrom entry in turn, then spec.chart.values last, each
 * laid over what came before with Flux's MergeMaps (p4_values_overlay): objects merge key by
 * key, anything else replaces, and a null is kept as a null. Keeping it matters: helm, given
 * these values over a chart's defaults, deletes the keys the user set to null
 * (p4_values_merge does the same). An entry without targetPath is a YAML document read as
 * Helm reads values files (yamljson.h) that must be a mapping (an empty one adds nothing);
 * an entry with targetPath is one value set at that path, as Flux sets it (see
 * p4_values_apply_source). A missing object or key is an error naming it, unless the entry
 * is optional.
 *
 * Nothing read from a ConfigMap or Secret ever appears in an error message: a YAML error
 * says the line and column, a bad value says what is wrong with it, never what it is.
 * Scratch trees and replaced values are wiped before they are freed (the result itself
 * holds the Secret's values; the caller wipes it if it must).
 *
 * Ownership: trees passed as const are borrowed for the call; p4_values_set_path() takes
 * over its value (freeing it on failure too); p4_values_compose() returns a tree the caller
 * frees with cJSON_Delete. Walks are iterative: deep trees cost heap, not stack.
 */
#ifndef PHASE4_VALUES_H
#define PHASE4_VALUES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "phase4/core/error.h"

/* The key Flux reads when a valuesFrom entry names none. */
#define P4_VALUES_DEFAULT_KEY "values.yaml"
/* Highest list index a path may name, as in Helm's strvals (--set). */
#define P4_VALUES_INDEX_MAX 65536
/* Most segments (keys and indexes) in one path. */
#define P4_VALUES_PATH_MAX_SEGMENTS 64
/*
 * Deepest values accepted, in levels below the values' root (a value at .a.b sits at level 2).
 * The deepest values of widely used charts sit about a dozen levels down; 64 leaves room, and
 * keeps what helm, the status and our own walks get far from any parser's nesting limit.
 */
#define P4_VALUES_DEPTH_MAX 64

/*
 * Deep-merge src into dst (both objects; dst modified, src borrowed), as Helm merges user
 * values over a chart's defaults: objects merge key by key, anything else in src replaces
 * dst's value (lists are replaced whole), and a JSON null in src deletes the key from dst, so
 * no null from src survives (nor one inside an object copied from src; lists are copied as
 * they are). src may be dst itself but not a node inside it. Returns 0 or P4_ERR_INVAL when
 * either is not an object.
 */
int p4_values_merge(cJSON *dst, const cJSON *src);

/*
 * The same, but a null in src is copied as a null (Flux's MergeMaps, `helm -f a -f b`): the
 * way valuesFrom entries and spec.chart.values are laid over each other. 0 or P4_ERR_INVAL.
 */
int p4_values_overlay(cJSON *dst, const cJSON *src);

/*
 * Set value (taken over, freed on failure too) at a path in the syntax of Flux's targetPath
 * and helm --set keys: keys separated by '.', a backslash escaping the next character
 * ("a\.b" is the key "a.b"), list indexes in brackets ("list[0].name", "m[1][2]"). Missing
 * objects and lists are created, nulls on the way are replaced, and lists grow with nulls up
 * to the index (at most P4_VALUES_INDEX_MAX). The value at the end is replaced, not merged.
 * Unlike --set, '=' and ',' are ordinary characters in keys. Returns 0, or P4_ERR_INVAL with
 * a message naming the path and the problem: a syntax error (empty key, bad or negative
 * index, text after "]"), more than P4_VALUES_PATH_MAX_SEGMENTS segments, or a step through
 * an existing value of the wrong type (a string where an object is needed; strvals would
 * replace a list element that is not an object, and fail on anything else). On failure root
 * is unchanged.
 */
int p4_values_set_path(cJSON *root, const char *path, cJSON *value, struct p4_error *err);

/*
 * Apply one valuesFrom source to root (an object) as Flux does. text is the key's content
 * (a ConfigMap's data, or a Secret's decoded data), len bytes, not NUL-terminated.
 *
 * Without target_path (NULL or ""), text is a YAML document that must be a mapping (or
 * empty), laid over root as p4_values_overlay() does.
 *
 * With target_path, text is one value, typed as Flux types it (it hands "path=text" to Helm's
 * strvals parser): text in single or double quotes at both ends has every leading and
 * trailing quote removed and is a string; otherwise "true" and "false" (any case) are
 * booleans, "null" (any case) is null, "0" and integers without a leading zero in int64 range
 * are numbers, and anything else is the text as a string, kept whole (a trailing newline
 * too). Divergences from Flux, on purpose: commas, braces and backslashes in the text are
 * ordinary characters (strvals would split "a,b" into a second assignment, read "{a,b}" as a
 * list and drop backslashes); integers beyond 2^53, which a JSON number would round, stay
 * strings; text that is not UTF-8 or holds a NUL is refused.
 *
 * source names the source in messages ("ConfigMap shop/values key values.yaml"). Returns 0,
 * or P4_ERR_PARSE / P4_ERR_TOOBIG (YAML errors, with line and column; text longer than
 * P4_YAML_MAX_INPUT in either mode), P4_ERR_INVALID (not a mapping, nested deeper than
 * P4_VALUES_DEPTH_MAX, a value JSON or a values file cannot hold), P4_ERR_INVAL (bad path or
 * arguments). On failure root is unchanged.
 */
int p4_values_apply_source(cJSON *root, const char *source, const char *text, size_t len,
                           const char *target_path, struct p4_error *err);

/* One valuesFrom entry with what the stage fetched for it; every pointer is borrowed. */
struct p4_values_source {
    const char *kind;        /* "ConfigMap" or "Secret" */
    const char *name;        /* for messages; "namespace/name" reads best */
    const char *key;         /* NULL: P4_VALUES_DEFAULT_KEY */
    const char *target_path; /* NULL or "": merge the document at the root */
    bool optional;           /* a missing object or key is skipped, not an error */
    const char *text;        /* the key's content; NULL when the object or the key is missing */
    size_t len;
};

/*
 * Merge in order: each valuesFrom source (sources[i].text NULL means the object or key is
 * missing: P4_ERR_NOTFOUND naming it unless sources[i].optional), then inline values
 * (spec.chart.values, may be NULL or a JSON null; otherwise it must be an object, nested no
 * deeper than P4_VALUES_DEPTH_MAX: P4_ERR_INVALID naming where, ".a.b[0].c...") last.
 * Returns a new object (caller frees) or NULL with err. Nulls are kept (see above); merge the
 * result over the chart's defaults with p4_values_merge(), or hand it to helm.
 */
cJSON *p4_values_compose(const struct p4_values_source *sources, size_t n,
                         const cJSON *inline_values, struct p4_error *err);

#endif
