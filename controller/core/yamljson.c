/*
 * yamljson.c: YAML into cJSON trees as Helm reads it (see yamljson.h): the tree built from
 * libyaml's events.
 *
 * libyaml's event parser feeds a builder that keeps the open mappings and sequences on an
 * explicit stack (no recursion), resolves each scalar as go-yaml v2's resolve() does
 * (yamlscalar.h), and counts nodes, bytes and depth as it goes, aliases included (an alias is a
 * copy of its anchor's node, yamlanchor.h), so the limits hold before the memory is spent. A
 * node an anchor may still be copied from is never freed while parsing: a value overridden by a
 * later duplicate key, and the value of a "<<" merge key (its keys are copied into the mapping),
 * go to a graveyard array that is wiped and freed at the end.
 */
#include "phase4/core/yamljson.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "yamlanchor.h"
#include "yamlscalar.h"

static const char merge_needs_map[] =
    "a merge key (<<) needs a mapping or a list of mappings as its value";

/* What happens to a container at its end: nothing, or its keys are merged into the mapping. */
enum fold { FOLD_NONE, FOLD_MAP, FOLD_SEQ };

struct frame {
    cJSON *node;
    bool map;
    bool want_key;  /* map: the next node is a key */
    bool merge_key; /* map: the key waiting for its value is "<<" */
    char *key;      /* map: the key waiting for its value */
    enum fold fold; /* node is the value of "<<" in the frame below; it lives in the graveyard */
    size_t anchor;  /* 1 + index into builder.anchors->items, or 0 */
    size_t nodes0;  /* builder.nodes before this node */
    size_t bytes0;
    size_t height; /* of the highest child */
    yaml_mark_t mark;
};

struct builder {
    const char *buf;
    size_t len;
    bool all;
    cJSON *docs;      /* all: the documents read so far */
    size_t *lines;    /* all, when asked: the line each document of docs begins at */
    size_t lines_cap; /* entries lines has room for */
    size_t ndocs;     /* all: documents in docs (cJSON counts by walking the list) */
    size_t doc_line;  /* the line the document being read begins at, from 1 */
    cJSON *root;      /* the document being read */
    cJSON *result;    /* first document only: its value */
    cJSON *graveyard; /* detached nodes anchors may still point into */
    struct frame *frames;
    size_t depth;
    struct p4_yaml_anchors *anchors; /* parse()'s: a pointer, so passing it on leaves b alone */
    size_t nodes;
    size_t bytes;
    bool done;
    struct p4_error *err;
};

struct pair {
    const cJSON *from;
    cJSON *to;
};

struct member {
    cJSON *item;
    size_t ord;
};

/* Fail at mark with what happened there (what never holds input text); returns code. */
static int fail_at(struct p4_error *err, int code, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct p4_error *err, int code, yaml_mark_t mark, const char *fmt, ...)
{
    char what[P4_ERROR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return p4_error_set_printable(err, code, "YAML line %zu, column %zu: %s.",
                                  (size_t)mark.line + 1, (size_t)mark.column + 1, what);
}

/* ---- the builder ---- */

static struct frame *top(struct builder *b)
{
    return b->depth > 0 ? &b->frames[b->depth - 1] : NULL;
}

/* Account for nodes and bytes about to be created at mark. */
static int count(struct builder *b, size_t nodes, size_t bytes, yaml_mark_t mark)
{
    if (nodes > P4_YAML_MAX_NODES - b->nodes)
        return fail_at(b->err, P4_ERR_TOOBIG, mark, "the document expands to more than %d nodes",
                       P4_YAML_MAX_NODES);
    if (bytes > P4_YAML_MAX_BYTES - b->bytes)
        return fail_at(b->err, P4_ERR_TOOBIG, mark,
                       "the document expands to more than %zu bytes of text", P4_YAML_MAX_BYTES);
    b->nodes += nodes;
    b->bytes += bytes;
    return 0;
}

/* A tree of the given height placed under the open frames must stay within the depth limit. */
static int check_depth(struct builder *b, size_t height, yaml_mark_t mark)
{
    if (height > P4_YAML_MAX_DEPTH - b->depth)
        return fail_at(b->err, P4_ERR_TOOBIG, mark, "nesting is deeper than %d levels",
                       P4_YAML_MAX_DEPTH);
    return 0;
}

/*
 * Record an anchored scalar: its value node (value, already in the tree, or NULL to make one
 * that lives in the graveyard) and its text as a key, each kept with why it cannot be one.
 */
static void anchor_scalar(struct builder *b, const char *name, const struct p4_yaml_scalar *sc,
                          const char *s, size_t n, cJSON *value)
{
    size_t index = p4_yaml_anchor_add(b->anchors, name) - 1; /* may move b->anchors */
    struct p4_yaml_anchor *a = &b->anchors->items[index];

    if (value == NULL) {
        value = p4_yaml_value_node(sc, s, n, &a->value_code, &a->value_why);
        if (value != NULL)
            p4_json_need_ok(cJSON_AddItemToArray(b->graveyard, value));
    }
    a->node = value;
    a->key = p4_yaml_key_text(sc, s, n, &a->key_code, &a->key_why);
    a->complete = true;
    a->nodes = 1;
    a->bytes = n;
}

/* Hang node under the open container, or make it the document's root. */
static void attach(struct builder *b, cJSON *node, size_t height)
{
    struct frame *f = top(b);

    if (f == NULL) {
        b->root = node;
        return;
    }
    if (f->map) {
        p4_json_need_ok(cJSON_AddItemToObject(f->node, f->key, node));
        p4_wipe_free_str(f->key);
        f->key = NULL;
        f->want_key = true;
    } else {
        p4_json_need_ok(cJSON_AddItemToArray(f->node, node));
    }
    if (height > f->height)
        f->height = height;
}

static int cmp_member(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    int c = strcmp(a->item->string, b->item->string);

    if (c != 0)
        return c;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

/* A key given twice keeps its last value: the earlier ones go to the graveyard. */
static void dedupe(struct builder *b, cJSON *map)
{
    struct member *m;
    size_t n = 0, i = 0;

    for (const cJSON *c = map->child; c != NULL; c = c->next)
        n++;
    if (n < 2)
        return;
    m = p4_calloc(n, sizeof(*m));
    for (cJSON *c = map->child; c != NULL; c = c->next, i++)
        m[i] = (struct member){c, i};
    qsort(m, n, sizeof(*m), cmp_member);
    for (i = 0; i + 1 < n; i++) {
        if (strcmp(m[i].item->string, m[i + 1].item->string) == 0) {
            (void)cJSON_DetachItemViaPointer(map, m[i].item);
            p4_json_need_ok(cJSON_AddItemToArray(b->graveyard, m[i].item));
        }
    }
    free(m);
}

/* Copies of from's members, appended to map (duplicates are settled at the map's end). */
static void append_members(cJSON *map, const cJSON *from)
{
    for (const cJSON *c = from->child; c != NULL; c = c->next)
        p4_json_need_ok(cJSON_AddItemToObject(map, c->string, p4_json_copy(c, false)));
}

/*
 * The value of a "<<" key ended: merge its keys into the mapping f. go-yaml v2 writes them
 * where "<<" stands, in order; from a list it walks the mappings last to first, so the first
 * one's keys are written last and win.
 */
static int fold(struct builder *b, struct frame *f, const cJSON *value, enum fold kind,
                size_t nodes, size_t bytes, size_t height, yaml_mark_t mark)
{
    struct pair *items = NULL;
    size_t n = 0, i = 0;
    int rc;

    if (kind == FOLD_SEQ) {
        for (const cJSON *c = value->child; c != NULL; c = c->next) {
            if (!cJSON_IsObject(c))
                return fail_at(b->err, P4_ERR_PARSE, mark, "%s", merge_needs_map);
            n++;
        }
    }
    rc = count(b, nodes, bytes, mark);
    if (rc != 0)
        return rc;
    if (kind == FOLD_MAP) {
        append_members(f->node, value);
    } else if (n > 0) {
        items = p4_calloc(n, sizeof(*items));
        for (const cJSON *c = value->child; c != NULL; c = c->next)
            items[i++].from = c;
        while (i-- > 0)
            append_members(f->node, items[i].from);
        free(items);
    }
    f->merge_key = false;
    f->want_key = true;
    if (height > 0 && height - 1 > f->height)
        f->height = height - 1;
    return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *anchor = (const char *)ev->data.scalar.anchor;
    enum p4_yaml_tag tag = p4_yaml_tag_kind((const char *)ev->data.scalar.tag);
    bool plain = ev->data.scalar.plain_implicit != 0;
    struct frame *f = top(b);
    const char *why = "";
    struct p4_yaml_scalar sc;
    cJSON *node;
    int rc, code = P4_ERR_INVALID;

    /* A key is text in its value's node: it counts as bytes, not as a node. */
    rc = count(b, f != NULL && f->map && f->want_key ? 0 : 1, n, ev->start_mark);
    if (rc != 0)
        return rc;
    rc = p4_yaml_resolve(s, n, tag, plain, &sc, &why);
    if (rc != 0)
        return fail_at(b->err, rc, ev->start_mark, "%s", why);
    if (f != NULL && f->map && f->want_key) {
        f->want_key = false;
        /* go-yaml v2's isMerge: "<<" untagged and plain, or tagged !!merge. */
        if (n == 2 && memcmp(s, "<<", 2) == 0 &&
            (plain || strcmp(ev->data.scalar.tag ? (const char *)ev->data.scalar.tag : "",
                             P4_YAML_TAG_PREFIX "merge") == 0)) {
            f->merge_key = true;
        } else {
            f->key = p4_yaml_key_text(&sc, s, n, &code, &why);
            if (f->key == NULL)
                return fail_at(b->err, code, ev->start_mark, "%s", why);
        }
        if (anchor != NULL)
            anchor_scalar(b, anchor, &sc, s, n, NULL);
        return 0;
    }
    if (f != NULL && f->map && f->merge_key)
        return fail_at(b->err, P4_ERR_PARSE, ev->start_mark, "%s", merge_needs_map);
    node = p4_yaml_value_node(&sc, s, n, &code, &why);
    if (node == NULL)
        return fail_at(b->err, code, ev->start_mark, "%s", why);
    attach(b, node, 0);
    if (anchor != NULL)
        anchor_scalar(b, anchor, &sc, s, n, node);
    return 0;
}

static int on_start(struct builder *b, const yaml_event_t *ev, bool map)
{
    const yaml_char_t *anchor =
        map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    struct frame *f = top(b), *nf;
    enum fold fold_kind = FOLD_NONE;
    cJSON *node;
    int rc;

    if (f != NULL && f->map && f->want_key)
        return fail_at(b->err, P4_ERR_INVALID, ev->start_mark,
                       "a mapping key is a mapping or a list, which JSON cannot hold");
    rc = check_depth(b, 1, ev->start_mark);
    if (rc == 0)
        rc = count(b, 1, 0, ev->start_mark);
    if (rc != 0)
        return rc;
    node = p4_json_need(map ? cJSON_CreateObject() : cJSON_CreateArray());
    if (f != NULL && f->map && f->merge_key) {
        fold_kind = map ? FOLD_MAP : FOLD_SEQ;
        p4_json_need_ok(cJSON_AddItemToArray(b->graveyard, node));
    } else {
        attach(b, node, 0);
    }
    nf = &b->frames[b->depth++];
    memset(nf, 0, sizeof(*nf));
    nf->node = node;
    nf->map = map;
    nf->want_key = map;
    nf->fold = fold_kind;
    nf->nodes0 = b->nodes - 1;
    nf->bytes0 = b->bytes;
    nf->mark = ev->start_mark;
    if (anchor != NULL) {
        nf->anchor = p4_yaml_anchor_add(b->anchors, (const char *)anchor);
        b->anchors->items[nf->anchor - 1].node = node;
        b->anchors->items[nf->anchor - 1].key_code = P4_ERR_INVALID;
        b->anchors->items[nf->anchor - 1].key_why =
            "a mapping key is a mapping or a list, which JSON cannot hold";
    }
    return 0;
}

static int on_end(struct builder *b)
{
    struct frame *f, *parent;
    size_t height;

    if (b->depth == 0) /* libyaml only ends what it started; be safe anyway */
        return 0;
    f = &b->frames[--b->depth];
    p4_wipe_free_str(f->key);
    f->key = NULL;
    if (f->map)
        dedupe(b, f->node);
    height = f->height + 1;
    if (f->anchor != 0 && b->anchors->items != NULL) {
        struct p4_yaml_anchor *a = &b->anchors->items[f->anchor - 1];

        a->complete = true;
        a->nodes = b->nodes - f->nodes0;
        a->bytes = b->bytes - f->bytes0;
        a->height = height;
    }
    parent = top(b);
    if (f->fold != FOLD_NONE && parent != NULL)
        return fold(b, parent, f->node, f->fold, b->nodes - f->nodes0, b->bytes - f->bytes0, height,
                    f->mark);
    if (parent != NULL && height > parent->height)
        parent->height = height;
    return 0;
}

static int on_alias(struct builder *b, const yaml_event_t *ev)
{
    struct frame *f = top(b);
    struct p4_yaml_anchor *a;
    const char *why = "";
    int rc = 0, code = P4_ERR_PARSE;

    a = p4_yaml_anchor_find(b->anchors, (const char *)ev->data.alias.anchor, &code, &why);
    if (a == NULL)
        return fail_at(b->err, code, ev->start_mark, "%s", why);
    if (!a->complete)
        return fail_at(b->err, P4_ERR_PARSE, ev->start_mark,
                       "an alias refers to a node that contains it");
    if (f != NULL && f->map && f->want_key) {
        if (a->key == NULL)
            return fail_at(b->err, a->key_code, ev->start_mark, "%s", a->key_why);
        rc = count(b, 0, strlen(a->key), ev->start_mark);
        if (rc != 0)
            return rc;
        f->key = p4_strdup(a->key);
        f->want_key = false;
        return 0;
    }
    if (f != NULL && f->map && f->merge_key) {
        if (!cJSON_IsObject(a->node))
            return fail_at(b->err, P4_ERR_PARSE, ev->start_mark, "%s", merge_needs_map);
        rc = check_depth(b, a->height - 1, ev->start_mark);
        if (rc == 0)
            rc = fold(b, f, a->node, FOLD_MAP, a->nodes, a->bytes, a->height, ev->start_mark);
        return rc;
    }
    if (a->node == NULL)
        return fail_at(b->err, a->value_code, ev->start_mark, "%s", a->value_why);
    rc = check_depth(b, a->height, ev->start_mark);
    if (rc == 0)
        rc = count(b, a->nodes, a->bytes, ev->start_mark);
    if (rc == 0)
        attach(b, p4_json_copy(a->node, false), a->height);
    return rc;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
    cJSON *doc;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        b->done = true;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        p4_yaml_anchors_reset(b->anchors); /* anchors belong to their document */
        b->doc_line = (size_t)ev->start_mark.line + 1;
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        doc = b->root != NULL ? b->root : p4_json_need(cJSON_CreateNull());
        b->root = NULL;
        if (b->all) {
            if (b->lines != NULL) {
                if (b->ndocs == b->lines_cap) {
                    b->lines_cap *= 2;
                    b->lines = p4_realloc(b->lines, b->lines_cap * sizeof(*b->lines));
                }
                b->lines[b->ndocs] = b->doc_line;
            }
            p4_json_need_ok(cJSON_AddItemToArray(b->docs, doc));
            b->ndocs++;
        } else {
            b->result = doc; /* helm reads the first document only, and so do we */
            b->done = true;
        }
        return 0;
    case YAML_ALIAS_EVENT:
        return on_alias(b, ev);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, ev, false);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, ev, true);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b);
    default:
        return 0;
    }
}

/* libyaml's problem and context texts are its own constants, never input. */
static int yaml_error(struct builder *b, const yaml_parser_t *p)
{
    const char *problem = p->problem != NULL ? p->problem : "syntax error";
    size_t line, col;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return p4_error_set_printable(b->err, P4_ERR_NOMEM, "out of memory reading YAML.");
    case YAML_READER_ERROR:
        p4_text_position(b->buf, p->problem_offset < b->len ? p->problem_offset : b->len, &line,
                         &col);
        return p4_error_set_printable(
            b->err, P4_ERR_PARSE, "invalid YAML at line %zu, column %zu: %s.", line, col, problem);
    default:
        if (p->context != NULL)
            return p4_error_set_printable(
                b->err, P4_ERR_PARSE,
                "invalid YAML at line %zu, column %zu: %s (%s started at line %zu, "
                "column %zu).",
                (size_t)p->problem_mark.line + 1, (size_t)p->problem_mark.column + 1, problem,
                p->context, (size_t)p->context_mark.line + 1, (size_t)p->context_mark.column + 1);
        return p4_error_set_printable(
            b->err, P4_ERR_PARSE, "invalid YAML at line %zu, column %zu: %s.",
            (size_t)p->problem_mark.line + 1, (size_t)p->problem_mark.column + 1, problem);
    }
}

static cJSON *parse(const char *buf, size_t len, bool all, size_t **lines, struct p4_error *err)
{
    struct p4_yaml_anchors anchors = {0};
    struct builder b = {.buf = buf, .len = len, .all = all, .err = err, .anchors = &anchors};
    yaml_parser_t parser;
    yaml_event_t ev;
    bool parser_ready = false;
    cJSON *out = NULL;
    int rc = 0;

    if (buf == NULL) {
        p4_error_set_printable(err, P4_ERR_INVAL, "no YAML input.");
        goto out;
    }
    if (len > P4_YAML_MAX_INPUT) {
        p4_error_set_printable(err, P4_ERR_TOOBIG,
                               "YAML input of %zu bytes exceeds the %zu-byte limit.", len,
                               P4_YAML_MAX_INPUT);
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        p4_error_set_printable(err, P4_ERR_NOMEM, "out of memory reading YAML.");
        goto out;
    }
    parser_ready = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    b.frames = p4_calloc(P4_YAML_MAX_DEPTH, sizeof(*b.frames));
    b.graveyard = p4_json_need(cJSON_CreateArray());
    if (all)
        b.docs = p4_json_need(cJSON_CreateArray());
    if (lines != NULL) {
        b.lines_cap = 16;
        b.lines = p4_malloc(b.lines_cap * sizeof(*b.lines));
    }
    while (!b.done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            (void)yaml_error(&b, &parser);
            goto out;
        }
        rc = on_event(&b, &ev);
        if (ev.type == YAML_SCALAR_EVENT)
            p4_wipe(ev.data.scalar.value, ev.data.scalar.length);
        yaml_event_delete(&ev);
        if (rc != 0)
            goto out;
    }
    if (all) {
        out = b.docs;
        b.docs = NULL;
        if (lines != NULL) {
            *lines = b.lines;
            b.lines = NULL;
        }
    } else {
        out = b.result != NULL ? b.result : p4_json_need(cJSON_CreateNull());
        b.result = NULL;
    }
out:
    for (size_t i = 0; i < b.depth; i++)
        p4_wipe_free_str(b.frames[i].key);
    free(b.frames);
    free(b.lines);
    p4_yaml_anchors_close(&anchors);
    p4_json_discard(b.graveyard);
    p4_json_discard(b.root);
    p4_json_discard(b.docs);
    p4_json_discard(b.result);
    if (parser_ready)
        yaml_parser_delete(&parser);
    return out;
}

cJSON *p4_yaml_to_json(const char *buf, size_t len, struct p4_error *err)
{
    return parse(buf, len, false, NULL, err);
}

cJSON *p4_yaml_to_json_all(const char *buf, size_t len, struct p4_error *err)
{
    return parse(buf, len, true, NULL, err);
}

cJSON *p4_yaml_to_json_all_lines(const char *buf, size_t len, size_t **lines, struct p4_error *err)
{
    *lines = NULL;
    return parse(buf, len, true, lines, err);
}
