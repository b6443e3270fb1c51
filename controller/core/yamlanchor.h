/*
 * yamlanchor.h: the anchors of one YAML document and what each anchored node costs (internal to
 * core/, for yamljson.c, which expands every alias into a copy).
 *
 * An anchor records its node, its text as a mapping key when it has one (an anchored scalar),
 * why either is unusable (.inf as a value, a mapping as a key), and the nodes, bytes and height
 * a copy of it adds, so an alias is counted against yamljson.h's limits before it is copied.
 * Look-ups scan newest first (YAML: the newest anchor of a name wins), and their total work per
 * table is bounded, so a document of many anchors and aliases fails fast.
 *
 * Ownership: the table owns names and keys (wiped before they are freed: they may be a Secret's
 * values); nodes are borrowed from the tree being built, which must keep them while the table
 * lives. Pointers into items move when an anchor is added.
 */
#ifndef PHASE4_YAMLANCHOR_H
#define PHASE4_YAMLANCHOR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct p4_yaml_anchor {
    char *name;
    size_t len;
    uint64_t hash;
    const cJSON *node;     /* the anchored value; NULL when JSON cannot hold it (.inf) */
    int value_code;        /* why node is NULL */
    const char *value_why; /* static text */
    char *key;             /* its text as a mapping key; NULL when it cannot be one */
    int key_code;
    const char *key_why;
    bool complete; /* an alias inside the anchored node would contain itself */
    size_t nodes, bytes, height;
};

struct p4_yaml_anchors {
    struct p4_yaml_anchor *items; /* n in use, cap allocated */
    size_t n, cap;
    size_t work; /* spent by look-ups so far */
};

/* A new anchor named name, all else zero; returns its index + 1. */
size_t p4_yaml_anchor_add(struct p4_yaml_anchors *t, const char *name);

/*
 * The newest anchor named name, or NULL with *code and *why (static text): P4_ERR_PARSE when
 * there is none, P4_ERR_TOOBIG once look-ups have done too much work.
 */
struct p4_yaml_anchor *p4_yaml_anchor_find(struct p4_yaml_anchors *t, const char *name, int *code,
                                           const char **why);

/* Forget every anchor (a new document begins); the array is kept for the next ones. */
void p4_yaml_anchors_reset(struct p4_yaml_anchors *t);

/* Forget every anchor and free the array; t may be used again from zero. */
void p4_yaml_anchors_close(struct p4_yaml_anchors *t);

#endif
