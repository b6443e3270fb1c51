/*
 * kcyaml.c: one kubeconfig document read into a strict YAML tree (kcyaml.h).
 *
 * The tree is built from libyaml's events as they come: each node is hung under the container
 * that is open, and chained into one list of the document's nodes so that freeing it needs no
 * recursion however deep or wide the input is.
 */
#include "kcyaml.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "phase4/core/alloc.h"

/* A kubeconfig nests 7 levels deep; extensions may add some. */
#define MAX_DEPTH 64
/* 10,000 contexts with their clusters and users take about 300,000 nodes. */
#define MAX_NODES 500000

struct builder {
    const struct p4_kcyaml_doc *src;
    struct p4_kcyaml_node *root;
    struct p4_kcyaml_node *nodes;
    struct p4_kcyaml_node *open[MAX_DEPTH];
    size_t depth;
    size_t count;
    int docs;
    int done;
};

static void free_nodes(struct p4_kcyaml_node *n)
{
    while (n != NULL) {
        struct p4_kcyaml_node *next = n->chain;

        /* Scalars may be keys or tokens: do not leave them in freed memory. */
        p4_wipe_free(n->text, n->len);
        free(n->kids);
        free(n);
        n = next;
    }
}

int p4_kcyaml_cmp_text(const void *a, const void *b)
{
    const struct p4_kcyaml_node *x = *(const struct p4_kcyaml_node *const *)a;
    const struct p4_kcyaml_node *y = *(const struct p4_kcyaml_node *const *)b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->text, y->text, x->len);
}

/* The line of the later of two equal nodes found next to each other after sorting. */
size_t p4_kcyaml_later_line(const struct p4_kcyaml_node *x, const struct p4_kcyaml_node *y)
{
    return x->line > y->line ? x->line : y->line;
}

/* Keys of a mapping must be unique; sorting keeps this O(n log n) for huge mappings. */
static int check_keys(struct builder *b, const struct p4_kcyaml_node *map, struct p4_error *err)
{
    size_t nkeys = map->n / 2;
    const struct p4_kcyaml_node **keys;
    int rc = 0;

    if (nkeys < 2)
        return 0;
    keys = p4_calloc(nkeys, sizeof(struct p4_kcyaml_node *));
    for (size_t i = 0; i < nkeys; i++)
        keys[i] = map->kids[2 * i];
    qsort(keys, nkeys, sizeof(struct p4_kcyaml_node *), p4_kcyaml_cmp_text);
    for (size_t i = 1; i < nkeys; i++) {
        if (p4_kcyaml_cmp_text(&keys[i - 1], &keys[i]) == 0) {
            rc = p4_error_set_printable(
                err, P4_ERR_PARSE,
                "kubeconfig " P4_KCYAML_PATH_SHOWN " line %zu: key \"" P4_KCYAML_SHOWN
                "\" appears twice in one mapping.",
                b->src->name, p4_kcyaml_later_line(keys[i - 1], keys[i]), keys[i]->text);
            goto out;
        }
    }
out:
    free(keys);
    return rc;
}

/* Create a node at mark and hang it under the open container (or make it the root). */
static int add_node(struct builder *b, enum p4_kcyaml_kind kind, yaml_mark_t mark,
                    struct p4_kcyaml_node **out, struct p4_error *err)
{
    struct p4_kcyaml_node *parent = b->depth > 0 ? b->open[b->depth - 1] : NULL;
    struct p4_kcyaml_node *n;

    if (++b->count > MAX_NODES)
        return p4_error_set_printable(
            err, P4_ERR_TOOBIG, "kubeconfig " P4_KCYAML_PATH_SHOWN " has more than %d YAML nodes.",
            b->src->name, MAX_NODES);
    if (parent != NULL && parent->kind == P4_KCYAML_MAP && parent->n % 2 == 0 &&
        kind != P4_KCYAML_SCALAR)
        return p4_error_set_printable(err, P4_ERR_PARSE,
                                      "kubeconfig " P4_KCYAML_PATH_SHOWN
                                      " line %zu: mapping keys must be strings.",
                                      b->src->name, (size_t)mark.line + 1);
    n = p4_calloc(1, sizeof(*n));
    n->kind = kind;
    n->line = (size_t)mark.line + 1;
    n->chain = b->nodes;
    b->nodes = n;
    if (parent == NULL) {
        b->root = n;
    } else {
        if (parent->n == parent->cap) {
            parent->cap = parent->cap ? 2 * parent->cap : 4;
            parent->kids = p4_realloc(parent->kids, parent->cap * sizeof(struct p4_kcyaml_node *));
        }
        parent->kids[parent->n++] = n;
    }
    *out = n;
    return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev, struct p4_error *err)
{
    const char *value = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    struct p4_kcyaml_node *n;
    int rc;

    if (len > 0 && memchr(value, '\0', len) != NULL)
        return p4_error_set_printable(err, P4_ERR_PARSE,
                                      "kubeconfig " P4_KCYAML_PATH_SHOWN
                                      " line %zu: a value contains a NUL character.",
                                      b->src->name, (size_t)ev->start_mark.line + 1);
    rc = add_node(b, P4_KCYAML_SCALAR, ev->start_mark, &n, err);
    if (rc != 0)
        return rc;
    n->text = p4_malloc(len + 1);
    memcpy(n->text, value, len);
    n->text[len] = '\0';
    n->len = len;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.tag == NULL;
    return 0;
}

static int on_start(struct builder *b, enum p4_kcyaml_kind kind, const yaml_event_t *ev,
                    struct p4_error *err)
{
    struct p4_kcyaml_node *n;
    int rc;

    if (b->depth == MAX_DEPTH)
        return p4_error_set_printable(err, P4_ERR_PARSE,
                                      "kubeconfig " P4_KCYAML_PATH_SHOWN
                                      " line %zu: nesting is deeper than %d levels.",
                                      b->src->name, (size_t)ev->start_mark.line + 1, MAX_DEPTH);
    rc = add_node(b, kind, ev->start_mark, &n, err);
    if (rc != 0)
        return rc;
    b->open[b->depth++] = n;
    return 0;
}

static int on_event(struct builder *b, const yaml_event_t *ev, struct p4_error *err)
{
    size_t line = (size_t)ev->start_mark.line + 1;
    struct p4_kcyaml_node *n;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        b->done = 1;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1)
            return p4_error_set_printable(err, P4_ERR_PARSE,
                                          "kubeconfig " P4_KCYAML_PATH_SHOWN
                                          " line %zu: a second YAML document follows the first; "
                                          "put one kubeconfig in each file.",
                                          b->src->name, line);
        return 0;
    case YAML_ALIAS_EVENT:
        return p4_error_set_printable(err, P4_ERR_PARSE,
                                      "kubeconfig " P4_KCYAML_PATH_SHOWN
                                      " line %zu: YAML aliases are not allowed in a kubeconfig.",
                                      b->src->name, line);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev, err);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, P4_KCYAML_SEQ, ev, err);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, P4_KCYAML_MAP, ev, err);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth == 0) /* libyaml only ends what it started; be safe anyway */
            return 0;
        n = b->open[--b->depth];
        return n->kind == P4_KCYAML_MAP ? check_keys(b, n, err) : 0;
    default:
        return 0;
    }
}

static int yaml_fail(const struct p4_kcyaml_doc *s, const yaml_parser_t *parser,
                     struct p4_error *err)
{
    const char *problem = parser->problem ? parser->problem : "syntax error";

    if (parser->error == YAML_MEMORY_ERROR)
        return p4_error_set_printable(err, P4_ERR_NOMEM,
                                      "out of memory reading kubeconfig " P4_KCYAML_PATH_SHOWN ".",
                                      s->name);
    if (parser->error == YAML_READER_ERROR)
        return p4_error_set_printable(err, P4_ERR_PARSE,
                                      "kubeconfig " P4_KCYAML_PATH_SHOWN
                                      " is not valid YAML: %s at byte %zu.",
                                      s->name, problem, parser->problem_offset);
    return p4_error_set_printable(
        err, P4_ERR_PARSE, "kubeconfig " P4_KCYAML_PATH_SHOWN " line %zu: %s (not valid YAML).",
        s->name, (size_t)parser->problem_mark.line + 1, problem);
}

int p4_kcyaml_is_null(const struct p4_kcyaml_node *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (n == NULL)
        return 1;
    if (n->kind != P4_KCYAML_SCALAR || !n->plain)
        return 0;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        if (strcmp(n->text, nulls[i]) == 0)
            return 1;
    }
    return 0;
}

/* Parse data into s->root (NULL for an empty document). */
int p4_kcyaml_read(struct p4_kcyaml_doc *s, const char *data, size_t len, struct p4_error *err)
{
    struct builder b = {.src = s};
    yaml_parser_t parser;
    yaml_event_t event;
    int rc = 0;

    if (!yaml_parser_initialize(&parser))
        return p4_error_set_printable(err, P4_ERR_NOMEM,
                                      "out of memory reading kubeconfig " P4_KCYAML_PATH_SHOWN ".",
                                      s->name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    while (!b.done) {
        if (!yaml_parser_parse(&parser, &event)) {
            rc = yaml_fail(s, &parser, err);
            goto out;
        }
        rc = on_event(&b, &event, err);
        yaml_event_delete(&event);
        if (rc < 0)
            goto out;
    }
    s->root = p4_kcyaml_is_null(b.root) ? NULL : b.root;
    s->nodes = b.nodes;
    b.nodes = NULL;
out:
    free_nodes(b.nodes); /* a half-built tree */
    yaml_parser_delete(&parser);
    return rc;
}

void p4_kcyaml_close(struct p4_kcyaml_doc *d)
{
    if (d == NULL)
        return;
    free_nodes(d->nodes);
    d->nodes = NULL;
    d->root = NULL;
}

const struct p4_kcyaml_node *p4_kcyaml_get(const struct p4_kcyaml_node *map, const char *key)
{
    if (map == NULL || map->kind != P4_KCYAML_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        if (strcmp(map->kids[i]->text, key) == 0)
            return map->kids[i + 1];
    }
    return NULL;
}

const char *p4_kcyaml_kind_name(const struct p4_kcyaml_node *n)
{
    switch (n->kind) {
    case P4_KCYAML_MAP:
        return "a mapping";
    case P4_KCYAML_SEQ:
        return "a list";
    default:
        return "a scalar";
    }
}

int p4_kcyaml_type_fail(const struct p4_kcyaml_doc *s, const struct p4_kcyaml_node *n,
                        const char *key, const char *want, struct p4_error *err)
{
    return p4_error_set_printable(err, P4_ERR_PARSE,
                                  "kubeconfig " P4_KCYAML_PATH_SHOWN
                                  " line %zu: \"%s\" must be %s, not %s.",
                                  s->name, n->line, key, want, p4_kcyaml_kind_name(n));
}

/* The string under key, or NULL when it is absent, null or empty. */
int p4_kcyaml_str(const struct p4_kcyaml_doc *s, const struct p4_kcyaml_node *map, const char *key,
                  const char **out, struct p4_error *err)
{
    const struct p4_kcyaml_node *v = p4_kcyaml_get(map, key);

    *out = NULL;
    if (p4_kcyaml_is_null(v))
        return 0;
    if (v->kind != P4_KCYAML_SCALAR)
        return p4_kcyaml_type_fail(s, v, key, "a string", err);
    if (v->len > 0)
        *out = v->text;
    return 0;
}

int p4_kcyaml_bool(const struct p4_kcyaml_doc *s, const struct p4_kcyaml_node *map, const char *key,
                   int *out, struct p4_error *err)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    const struct p4_kcyaml_node *v = p4_kcyaml_get(map, key);

    *out = 0;
    if (p4_kcyaml_is_null(v))
        return 0;
    if (v->kind == P4_KCYAML_SCALAR && v->plain) {
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
            if (strcmp(v->text, yes[i]) == 0) {
                *out = 1;
                return 0;
            }
            if (strcmp(v->text, no[i]) == 0)
                return 0;
        }
    }
    return p4_error_set_printable(err, P4_ERR_PARSE,
                                  "kubeconfig " P4_KCYAML_PATH_SHOWN
                                  " line %zu: \"%s\" must be true or false.",
                                  s->name, v->line, key);
}

/* The container of kind under key, or NULL when it is absent or null. */
int p4_kcyaml_child(const struct p4_kcyaml_doc *s, const struct p4_kcyaml_node *map,
                    const char *key, enum p4_kcyaml_kind kind, const struct p4_kcyaml_node **out,
                    struct p4_error *err)
{
    const struct p4_kcyaml_node *v = p4_kcyaml_get(map, key);

    *out = NULL;
    if (p4_kcyaml_is_null(v))
        return 0;
    if (v->kind != kind)
        return p4_kcyaml_type_fail(s, v, key, kind == P4_KCYAML_MAP ? "a mapping" : "a list", err);
    *out = v;
    return 0;
}

/* Set, in the sense of kubectl's len() != 0: not null, not "", not an empty list or map. */
int p4_kcyaml_is_set(const struct p4_kcyaml_node *n)
{
    if (p4_kcyaml_is_null(n))
        return 0;
    return n->kind == P4_KCYAML_SCALAR ? n->len > 0 : n->n > 0;
}
