/*
 * kcyaml.h: one kubeconfig document read into a strict YAML tree with line numbers (internal
 * to kube/: kubeconfig.c reads the documents, kcresolve.c walks them).
 *
 * libyaml's event parser feeds a small tree of our own, so that hostile input is bounded where
 * it is read: aliases are refused (no billion laughs), nesting depth and node count are capped,
 * a second document in one file is refused, mapping keys must be unique strings and scalars may
 * not hold NUL. The getters below read a mapping as kubectl's decoder does (a plain "", "~" or
 * null is absent; booleans in three spellings) and name the file and line when a type is
 * wrong. Messages pass through p4_error_set_printable, so a hostile name cannot forge log lines
 * or Events, and never quote data, tokens or keys.
 *
 * Ownership: a struct p4_kcyaml_doc owns its nodes; p4_kcyaml_close() wipes every scalar (any
 * may be a key or a token) and frees them. name and base_dir are borrowed from the caller for
 * the document's life. Nodes and strings the getters return are borrowed from the document.
 */
#ifndef PHASE4_KUBE_KCYAML_H
#define PHASE4_KUBE_KCYAML_H

#include <stddef.h>

#include "phase4/core/error.h"

/* User-controlled names and paths are cut to this many bytes in messages. */
#define P4_KCYAML_SHOWN "%.80s"
#define P4_KCYAML_PATH_SHOWN "%.200s"

enum p4_kcyaml_kind { P4_KCYAML_SCALAR, P4_KCYAML_MAP, P4_KCYAML_SEQ };

struct p4_kcyaml_node {
    enum p4_kcyaml_kind kind;
    int plain;                    /* an untagged plain scalar: may be null or a boolean */
    size_t line;                  /* 1-based, for messages */
    char *text;                   /* scalar: NUL-terminated, no NUL inside */
    size_t len;                   /* scalar: bytes in text */
    struct p4_kcyaml_node **kids; /* map: key, value, key, value, ...; seq: items */
    size_t n;
    size_t cap;
    struct p4_kcyaml_node *chain; /* the document's nodes, newest first, freed without recursion */
};

/* One document and where it came from. */
struct p4_kcyaml_doc {
    const char *name;             /* for messages */
    const char *base_dir;         /* NULL leaves relative paths as they are */
    struct p4_kcyaml_node *root;  /* NULL when the document is empty */
    struct p4_kcyaml_node *nodes; /* all of them (root included), through node.chain */
};

/*
 * Parse len bytes of data into d->root (NULL for an empty document); the caller has set
 * d->name and d->base_dir. Returns 0, P4_ERR_PARSE (file and line in the message),
 * P4_ERR_TOOBIG or P4_ERR_NOMEM; on error d holds no nodes.
 */
int p4_kcyaml_read(struct p4_kcyaml_doc *d, const char *data, size_t len, struct p4_error *err);
/* Wipe and free d's nodes; the name and base_dir stay the caller's. */
void p4_kcyaml_close(struct p4_kcyaml_doc *d);

/* Whether n is absent (NULL) or a plain null scalar ("", "~", null, Null, NULL). */
int p4_kcyaml_is_null(const struct p4_kcyaml_node *n);
/* Set, in the sense of kubectl's len() != 0: not null, not "", not an empty list or map. */
int p4_kcyaml_is_set(const struct p4_kcyaml_node *n);
/* The value under key in map; NULL when map is not a mapping or has no such key. */
const struct p4_kcyaml_node *p4_kcyaml_get(const struct p4_kcyaml_node *map, const char *key);
/* "a mapping", "a list" or "a scalar", for messages. */
const char *p4_kcyaml_kind_name(const struct p4_kcyaml_node *n);

/* P4_ERR_PARSE: "<key>" at n's line must be want ("a string"), not what n is. */
int p4_kcyaml_type_fail(const struct p4_kcyaml_doc *d, const struct p4_kcyaml_node *n,
                        const char *key, const char *want, struct p4_error *err);
/* The string under key into *out, or NULL when it is absent, null or empty. 0 or P4_ERR_PARSE. */
int p4_kcyaml_str(const struct p4_kcyaml_doc *d, const struct p4_kcyaml_node *map, const char *key,
                  const char **out, struct p4_error *err);
/* The boolean under key into *out (0 when absent or null). 0 or P4_ERR_PARSE. */
int p4_kcyaml_bool(const struct p4_kcyaml_doc *d, const struct p4_kcyaml_node *map, const char *key,
                   int *out, struct p4_error *err);
/* The container of kind under key into *out, or NULL when it is absent or null. */
int p4_kcyaml_child(const struct p4_kcyaml_doc *d, const struct p4_kcyaml_node *map,
                    const char *key, enum p4_kcyaml_kind kind, const struct p4_kcyaml_node **out,
                    struct p4_error *err);

/* qsort comparator over struct p4_kcyaml_node pointers to scalars: by length, then bytes. */
int p4_kcyaml_cmp_text(const void *a, const void *b);
/* The line of the later of two nodes, to name a duplicate. */
size_t p4_kcyaml_later_line(const struct p4_kcyaml_node *x, const struct p4_kcyaml_node *y);

#endif
