/*
 * yamlscalar.h: one YAML scalar resolved as Helm resolves it (internal to core/, for
 * yamljson.c): its tag, the type go-yaml v2's resolve() gives it (null, bool, int, uint, float
 * or string, by YAML 1.1's spellings and Go's number syntax; a timestamp stays text), the JSON
 * value it becomes and the text it becomes as a mapping key (as sigs.k8s.io/yaml writes a key).
 * yamljson.h states the rules.
 *
 * Pure: the scalar's text s (n bytes, NUL-terminated after them, as libyaml gives it) is
 * borrowed; why is set to static text that never quotes the input. Scratch copies of the text
 * are wiped before they are freed.
 */
#ifndef PHASE4_YAMLSCALAR_H
#define PHASE4_YAMLSCALAR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P4_YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* What a scalar resolved to, as go-yaml v2 types it. */
enum p4_yaml_rtype { R_NULL, R_BOOL, R_INT, R_UINT, R_FLOAT, R_STR };

struct p4_yaml_scalar {
    enum p4_yaml_rtype type;
    bool b;
    int64_t i;
    uint64_t u;
    double d;
};

/* The tags that change how a scalar resolves; T_OTHER for any other, T_NONE for none. */
enum p4_yaml_tag { T_NONE, T_STR, T_BOOL, T_INT, T_FLOAT, T_NULL, T_TIMESTAMP, T_BINARY, T_OTHER };

/* tag (a full tag as libyaml gives it, "tag:yaml.org,2002:int"; NULL for none) as a kind. */
enum p4_yaml_tag p4_yaml_tag_kind(const char *tag);

/*
 * Resolve the scalar s with its tag (plain: it was neither quoted nor a block) into *out.
 * Returns 0, or P4_ERR_PARSE / P4_ERR_INVALID with *why saying what is wrong.
 */
int p4_yaml_resolve(const char *s, size_t n, enum p4_yaml_tag tag, bool plain,
                    struct p4_yaml_scalar *out, const char **why);

/* The mapping key a resolved scalar becomes (caller frees), or NULL with *code and *why. */
char *p4_yaml_key_text(const struct p4_yaml_scalar *sc, const char *s, size_t n, int *code,
                       const char **why);

/* The JSON value of a resolved scalar (caller frees), or NULL with *code and *why. */
cJSON *p4_yaml_value_node(const struct p4_yaml_scalar *sc, const char *s, size_t n, int *code,
                          const char **why);

#endif
