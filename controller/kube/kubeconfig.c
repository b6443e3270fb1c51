/*
 * kubeconfig.c: kubeconfig files and service-account mounts into the settings of one API
 * server (see kubeconfig.h).
 *
 * Each document is read with libyaml's event parser into a small tree of our own, so that
 * hostile input is bounded where it is read: aliases are refused (no billion laughs), nesting
 * depth and node count are capped, keys must be unique strings and scalars may not hold NUL.
 * The trees are then checked the way kubectl checks them (types, unique names in each list)
 * and only the chosen context, its cluster and its user are turned into a p4_kube_config.
 * Finding them is a linear scan per list, so a kubeconfig of many contexts stays cheap.
 */
#include "phase4/kube/kubeconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "phase4/core/alloc.h"
#include "phase4/core/base64.h"

/* A kubeconfig nests 7 levels deep; extensions may add some. */
#define MAX_DEPTH 64
/* 10,000 contexts with their clusters and users take about 300,000 nodes. */
#define MAX_NODES 500000
/* A namespace file holds a DNS label (63 bytes) and perhaps a newline. */
#define MAX_NAMESPACE_FILE 4096
/* User-controlled names and paths are cut to this many bytes in messages. */
#define SHOWN "%.80s"
#define PATH_SHOWN "%.200s"

enum kind { K_SCALAR, K_MAP, K_SEQ };

struct node {
    enum kind kind;
    int plain;          /* an untagged plain scalar: may be null or a boolean */
    size_t line;        /* 1-based, for messages */
    char *text;         /* scalar: NUL-terminated, no NUL inside */
    size_t len;         /* scalar: bytes in text */
    struct node **kids; /* map: key, value, key, value, ...; seq: items */
    size_t n;
    size_t cap;
    struct node *chain; /* the document's nodes, newest first, freed without recursion */
};

/* One document and where it came from. */
struct src {
    const char *name;     /* for messages */
    const char *base_dir; /* NULL leaves relative paths as they are */
    struct node *root;    /* NULL when the document is empty */
    struct node *nodes;   /* all of them (root included), through node.chain */
};

enum list { L_CLUSTERS, L_USERS, L_CONTEXTS, L_COUNT };

static const char *const list_key[L_COUNT] = {"clusters", "users", "contexts"};
static const char *const body_key[L_COUNT] = {"cluster", "user", "context"};

struct builder {
    const struct src *src;
    struct node *root;
    struct node *nodes;
    struct node *open[MAX_DEPTH];
    size_t depth;
    size_t count;
    int docs;
    int done;
};

/*
 * Fill err like p4_error_set, then replace control and non-ASCII bytes so that a hostile
 * name cannot forge log lines or Events. Messages never include data, tokens or keys.
 */
static int fail(struct p4_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct p4_error *err, int code, const char *fmt, ...)
{
    char msg[P4_ERROR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    }
    return p4_error_set(err, code, "%s", msg);
}

static void free_nodes(struct node *n)
{
    while (n != NULL) {
        struct node *next = n->chain;

        if (n->text != NULL) {
            /* Scalars may be keys or tokens: do not leave them in freed memory. */
            OPENSSL_cleanse(n->text, n->len);
            free(n->text);
        }
        free(n->kids);
        free(n);
        n = next;
    }
}

static int cmp_text(const void *a, const void *b)
{
    const struct node *x = *(const struct node *const *)a;
    const struct node *y = *(const struct node *const *)b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->text, y->text, x->len);
}

/* The line of the later of two equal nodes found next to each other after sorting. */
static size_t later_line(const struct node *x, const struct node *y)
{
    return x->line > y->line ? x->line : y->line;
}

/* Keys of a mapping must be unique; sorting keeps this O(n log n) for huge mappings. */
static int check_keys(struct builder *b, const struct node *map, struct p4_error *err)
{
    size_t nkeys = map->n / 2;
    const struct node **keys;
    int rc = 0;

    if (nkeys < 2)
        return 0;
    keys = p4_calloc(nkeys, sizeof(struct node *));
    for (size_t i = 0; i < nkeys; i++)
        keys[i] = map->kids[2 * i];
    qsort(keys, nkeys, sizeof(struct node *), cmp_text);
    for (size_t i = 1; i < nkeys; i++) {
        if (cmp_text(&keys[i - 1], &keys[i]) == 0) {
            rc = fail(err, P4_ERR_PARSE,
                      "kubeconfig " PATH_SHOWN " line %zu: key \"" SHOWN
                      "\" appears twice in one mapping.",
                      b->src->name, later_line(keys[i - 1], keys[i]), keys[i]->text);
            goto out;
        }
    }
out:
    free(keys);
    return rc;
}

/* Create a node at mark and hang it under the open container (or make it the root). */
static int add_node(struct builder *b, enum kind kind, yaml_mark_t mark, struct node **out,
                    struct p4_error *err)
{
    struct node *parent = b->depth > 0 ? b->open[b->depth - 1] : NULL;
    struct node *n;

    if (++b->count > MAX_NODES)
        return fail(err, P4_ERR_TOOBIG, "kubeconfig " PATH_SHOWN " has more than %d YAML nodes.",
                    b->src->name, MAX_NODES);
    if (parent != NULL && parent->kind == K_MAP && parent->n % 2 == 0 && kind != K_SCALAR)
        return fail(err, P4_ERR_PARSE,
                    "kubeconfig " PATH_SHOWN " line %zu: mapping keys must be strings.",
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
            parent->kids = p4_realloc(parent->kids, parent->cap * sizeof(struct node *));
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
    struct node *n;
    int rc;

    if (len > 0 && memchr(value, '\0', len) != NULL)
        return fail(err, P4_ERR_PARSE,
                    "kubeconfig " PATH_SHOWN " line %zu: a value contains a NUL character.",
                    b->src->name, (size_t)ev->start_mark.line + 1);
    rc = add_node(b, K_SCALAR, ev->start_mark, &n, err);
    if (rc != 0)
        return rc;
    n->text = p4_malloc(len + 1);
    memcpy(n->text, value, len);
    n->text[len] = '\0';
    n->len = len;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.tag == NULL;
    return 0;
}

static int on_start(struct builder *b, enum kind kind, const yaml_event_t *ev, struct p4_error *err)
{
    struct node *n;
    int rc;

    if (b->depth == MAX_DEPTH)
        return fail(err, P4_ERR_PARSE,
                    "kubeconfig " PATH_SHOWN " line %zu: nesting is deeper than %d levels.",
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
    struct node *n;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        b->done = 1;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1)
            return fail(err, P4_ERR_PARSE,
                        "kubeconfig " PATH_SHOWN
                        " line %zu: a second YAML document follows the first; "
                        "put one kubeconfig in each file.",
                        b->src->name, line);
        return 0;
    case YAML_ALIAS_EVENT:
        return fail(err, P4_ERR_PARSE,
                    "kubeconfig " PATH_SHOWN
                    " line %zu: YAML aliases are not allowed in a kubeconfig.",
                    b->src->name, line);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev, err);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, K_SEQ, ev, err);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, K_MAP, ev, err);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth == 0) /* libyaml only ends what it started; be safe anyway */
            return 0;
        n = b->open[--b->depth];
        return n->kind == K_MAP ? check_keys(b, n, err) : 0;
    default:
        return 0;
    }
}

static int yaml_fail(const struct src *s, const yaml_parser_t *parser, struct p4_error *err)
{
    const char *problem = parser->problem ? parser->problem : "syntax error";

    if (parser->error == YAML_MEMORY_ERROR)
        return fail(err, P4_ERR_NOMEM, "out of memory reading kubeconfig " PATH_SHOWN ".", s->name);
    if (parser->error == YAML_READER_ERROR)
        return fail(err, P4_ERR_PARSE,
                    "kubeconfig " PATH_SHOWN " is not valid YAML: %s at byte %zu.", s->name,
                    problem, parser->problem_offset);
    return fail(err, P4_ERR_PARSE, "kubeconfig " PATH_SHOWN " line %zu: %s (not valid YAML).",
                s->name, (size_t)parser->problem_mark.line + 1, problem);
}

static int is_null(const struct node *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (n == NULL)
        return 1;
    if (n->kind != K_SCALAR || !n->plain)
        return 0;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        if (strcmp(n->text, nulls[i]) == 0)
            return 1;
    }
    return 0;
}

/* Parse data into s->root (NULL for an empty document). */
static int build(struct src *s, const char *data, size_t len, struct p4_error *err)
{
    struct builder b = {.src = s};
    yaml_parser_t parser;
    yaml_event_t event;
    int rc = 0;

    if (!yaml_parser_initialize(&parser))
        return fail(err, P4_ERR_NOMEM, "out of memory reading kubeconfig " PATH_SHOWN ".", s->name);
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
    s->root = is_null(b.root) ? NULL : b.root;
    s->nodes = b.nodes;
    b.nodes = NULL;
out:
    free_nodes(b.nodes); /* a half-built tree */
    yaml_parser_delete(&parser);
    return rc;
}

static const struct node *map_get(const struct node *map, const char *key)
{
    if (map == NULL || map->kind != K_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        if (strcmp(map->kids[i]->text, key) == 0)
            return map->kids[i + 1];
    }
    return NULL;
}

static const char *kind_name(const struct node *n)
{
    switch (n->kind) {
    case K_MAP:
        return "a mapping";
    case K_SEQ:
        return "a list";
    default:
        return "a scalar";
    }
}

static int type_fail(const struct src *s, const struct node *n, const char *key, const char *want,
                     struct p4_error *err)
{
    return fail(err, P4_ERR_PARSE, "kubeconfig " PATH_SHOWN " line %zu: \"%s\" must be %s, not %s.",
                s->name, n->line, key, want, kind_name(n));
}

/* The string under key, or NULL when it is absent, null or empty. */
static int get_str(const struct src *s, const struct node *map, const char *key, const char **out,
                   struct p4_error *err)
{
    const struct node *v = map_get(map, key);

    *out = NULL;
    if (is_null(v))
        return 0;
    if (v->kind != K_SCALAR)
        return type_fail(s, v, key, "a string", err);
    if (v->len > 0)
        *out = v->text;
    return 0;
}

static int get_bool(const struct src *s, const struct node *map, const char *key, int *out,
                    struct p4_error *err)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    const struct node *v = map_get(map, key);

    *out = 0;
    if (is_null(v))
        return 0;
    if (v->kind == K_SCALAR && v->plain) {
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
            if (strcmp(v->text, yes[i]) == 0) {
                *out = 1;
                return 0;
            }
            if (strcmp(v->text, no[i]) == 0)
                return 0;
        }
    }
    return fail(err, P4_ERR_PARSE,
                "kubeconfig " PATH_SHOWN " line %zu: \"%s\" must be true or false.", s->name,
                v->line, key);
}

/* The container of kind under key, or NULL when it is absent or null. */
static int get_node(const struct src *s, const struct node *map, const char *key, enum kind kind,
                    const struct node **out, struct p4_error *err)
{
    const struct node *v = map_get(map, key);

    *out = NULL;
    if (is_null(v))
        return 0;
    if (v->kind != kind)
        return type_fail(s, v, key, kind == K_MAP ? "a mapping" : "a list", err);
    *out = v;
    return 0;
}

/* Set, in the sense of kubectl's len() != 0: not null, not "", not an empty list or map. */
static int is_set(const struct node *n)
{
    if (is_null(n))
        return 0;
    return n->kind == K_SCALAR ? n->len > 0 : n->n > 0;
}

/* Each entry of a list must be a mapping with a name and a body mapping; names unique. */
static int check_list(const struct src *s, enum list l, struct p4_error *err)
{
    const struct node *seq, *body, **names = NULL;
    const char *name;
    size_t count = 0;
    int rc;

    rc = get_node(s, s->root, list_key[l], K_SEQ, &seq, err);
    if (rc < 0 || seq == NULL)
        goto out;
    names = p4_calloc(seq->n, sizeof(struct node *));
    for (size_t i = 0; i < seq->n; i++) {
        const struct node *item = seq->kids[i];

        if (item->kind != K_MAP) {
            rc = fail(err, P4_ERR_PARSE,
                      "kubeconfig " PATH_SHOWN
                      " line %zu: each entry of \"%s\" must be a mapping, not %s.",
                      s->name, item->line, list_key[l], kind_name(item));
            goto out;
        }
        rc = get_str(s, item, "name", &name, err);
        if (rc < 0)
            goto out;
        if (name == NULL) {
            rc = fail(err, P4_ERR_PARSE,
                      "kubeconfig " PATH_SHOWN " line %zu: an entry of \"%s\" has no name.",
                      s->name, item->line, list_key[l]);
            goto out;
        }
        rc = get_node(s, item, body_key[l], K_MAP, &body, err);
        if (rc < 0)
            goto out;
        names[count++] = map_get(item, "name");
    }
    qsort(names, count, sizeof(struct node *), cmp_text);
    for (size_t i = 1; i < count; i++) {
        if (cmp_text(&names[i - 1], &names[i]) == 0) {
            rc = fail(err, P4_ERR_PARSE,
                      "kubeconfig " PATH_SHOWN " line %zu: %s name \"" SHOWN "\" is defined twice.",
                      s->name, later_line(names[i - 1], names[i]), body_key[l], names[i]->text);
            goto out;
        }
    }
out:
    free(names);
    return rc;
}

/* The top level must be a mapping of the right shapes; unknown keys are ignored, as kubectl does.
 */
static int check_doc(const struct src *s, struct p4_error *err)
{
    const char *current;
    int rc = 0;

    if (s->root == NULL)
        return 0;
    if (s->root->kind != K_MAP)
        return fail(err, P4_ERR_PARSE,
                    "kubeconfig " PATH_SHOWN " line %zu: the top level must be a mapping.", s->name,
                    s->root->line);
    rc = get_str(s, s->root, "current-context", &current, err);
    for (int l = 0; rc == 0 && l < L_COUNT; l++)
        rc = check_list(s, (enum list)l, err);
    return rc;
}

/* The body of the entry called name in the first document that defines it; 0 if none does. */
static int find_entry(const struct src *srcs, size_t nsrcs, enum list l, const char *name,
                      const struct node **body, const struct src **from)
{
    for (size_t d = 0; d < nsrcs; d++) {
        const struct node *seq = map_get(srcs[d].root, list_key[l]);

        if (seq == NULL || seq->kind != K_SEQ)
            continue;
        for (size_t i = 0; i < seq->n; i++) {
            const struct node *item = seq->kids[i];
            const struct node *v = map_get(item, "name");

            if (v != NULL && strcmp(v->text, name) == 0) {
                *body = map_get(item, body_key[l]); /* NULL or null: an empty body */
                *from = &srcs[d];
                return 1;
            }
        }
    }
    return 0;
}

/* path made absolute against the document's directory, as kubectl resolves it; caller frees. */
static char *resolve(const struct src *s, const char *path)
{
    const char *sep;
    size_t size;
    char *out;

    if (path[0] == '/' || s->base_dir == NULL || s->base_dir[0] == '\0')
        return p4_strdup(path);
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    sep = s->base_dir[strlen(s->base_dir) - 1] == '/' ? "" : "/";
    size = strlen(s->base_dir) + strlen(sep) + strlen(path) + 1;
    out = p4_malloc(size);
    (void)snprintf(out, size, "%s%s%s", s->base_dir, sep, path);
    return out;
}

/* Decode the base64 under key of an entry called owner (a "cluster" or "user"). */
static int get_data(const struct src *s, const struct node *map, const char *key, const char *what,
                    const char *owner, unsigned char **out, size_t *outlen, struct p4_error *err)
{
    const struct node *v = map_get(map, key);
    const char *text;
    int rc;

    rc = get_str(s, map, key, &text, err);
    if (rc < 0 || text == NULL)
        return rc;
    if (p4_base64_decode(text, strlen(text), 0, out, outlen) != 0)
        return fail(err, P4_ERR_PARSE,
                    "kubeconfig " PATH_SHOWN " line %zu: %s of %s \"" SHOWN
                    "\" is not valid base64.",
                    s->name, v->line, key, what, owner);
    return 0;
}

static int is_dns_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    }
    return 1;
}

static int fill_cluster(const struct src *s, const struct node *c, struct p4_kube_config *cfg,
                        struct p4_error *err)
{
    const char *name = cfg->cluster_name, *server, *tls_name, *ca_file, *proxy;
    int has_ca_data = is_set(map_get(c, "certificate-authority-data"));
    size_t len;
    int rc;

    rc = get_str(s, c, "server", &server, err);
    if (rc == 0)
        rc = get_str(s, c, "tls-server-name", &tls_name, err);
    if (rc == 0)
        rc = get_str(s, c, "certificate-authority", &ca_file, err);
    /* proxy-url is type-checked but not used: the transport takes proxies from libcurl's
     * environment variables (HTTPS_PROXY, NO_PROXY) only. */
    if (rc == 0)
        rc = get_str(s, c, "proxy-url", &proxy, err);
    if (rc == 0)
        rc = get_bool(s, c, "insecure-skip-tls-verify", &cfg->insecure_skip_tls_verify, err);
    if (rc != 0)
        return rc;
    if (server == NULL)
        return fail(err, P4_ERR_INVAL,
                    "cluster \"" SHOWN "\" in kubeconfig " PATH_SHOWN " has no server.", name,
                    s->name);
    if (ca_file != NULL && has_ca_data)
        return fail(err, P4_ERR_INVAL,
                    "cluster \"" SHOWN "\" sets both certificate-authority and "
                    "certificate-authority-data; keep one.",
                    name);
    if (cfg->insecure_skip_tls_verify && (ca_file != NULL || has_ca_data))
        return fail(err, P4_ERR_INVAL,
                    "cluster \"" SHOWN "\" sets insecure-skip-tls-verify together with a "
                    "certificate authority; keep one.",
                    name);
    cfg->server = p4_strdup(server);
    len = strlen(cfg->server);
    while (len > 0 && cfg->server[len - 1] == '/')
        cfg->server[--len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)cfg->server[i] <= ' ' || cfg->server[i] == 0x7f)
            return fail(err, P4_ERR_INVAL,
                        "server of cluster \"" SHOWN "\" contains spaces or control characters.",
                        name);
    }
    if (!(strncmp(cfg->server, "https://", 8) == 0 && len > 8) &&
        !(strncmp(cfg->server, "http://", 7) == 0 && len > 7))
        return fail(err, P4_ERR_INVAL,
                    "server of cluster \"" SHOWN "\" must be a URL starting with https://.", name);
    if (tls_name != NULL)
        cfg->tls_server_name = p4_strdup(tls_name);
    if (ca_file != NULL)
        cfg->ca_file = resolve(s, ca_file);
    return get_data(s, c, "certificate-authority-data", "cluster", name, &cfg->ca_data,
                    &cfg->ca_len, err);
}

static int fill_exec_env(const struct src *s, const struct node *env, const char *user,
                         struct p4_kube_exec *exec, struct p4_error *err)
{
    const char *name, *value;
    int rc = 0;

    exec->env = p4_calloc(env->n, sizeof(*exec->env));
    for (size_t i = 0; i < env->n; i++) {
        const struct node *item = env->kids[i];
        size_t size;

        if (item->kind != K_MAP)
            return type_fail(s, item, "env", "a list of name/value mappings", err);
        rc = get_str(s, item, "name", &name, err);
        if (rc == 0)
            rc = get_str(s, item, "value", &value, err);
        if (rc < 0)
            return rc;
        if (name == NULL || strchr(name, '=') != NULL)
            return fail(err, P4_ERR_INVAL,
                        "kubeconfig " PATH_SHOWN
                        " line %zu: an env entry of the exec plugin of user \"" SHOWN
                        "\" needs a name without '='.",
                        s->name, item->line, user);
        if (value == NULL)
            value = "";
        size = strlen(name) + 1 + strlen(value) + 1;
        exec->env[exec->nenv] = p4_malloc(size);
        (void)snprintf(exec->env[exec->nenv], size, "%s=%s", name, value);
        exec->nenv++;
    }
    return rc;
}

static int fill_exec(const struct src *s, const struct node *e, const char *user,
                     struct p4_kube_exec *exec, struct p4_error *err)
{
    const char *command, *api_version, *hint, *mode;
    const struct node *args, *env;
    int rc;

    rc = get_str(s, e, "command", &command, err);
    if (rc == 0)
        rc = get_str(s, e, "apiVersion", &api_version, err);
    if (rc == 0)
        rc = get_str(s, e, "installHint", &hint, err);
    if (rc == 0)
        rc = get_str(s, e, "interactiveMode", &mode, err);
    if (rc == 0)
        rc = get_bool(s, e, "provideClusterInfo", &exec->provide_cluster_info, err);
    if (rc == 0)
        rc = get_node(s, e, "args", K_SEQ, &args, err);
    if (rc == 0)
        rc = get_node(s, e, "env", K_SEQ, &env, err);
    if (rc != 0)
        return rc;
    if (command == NULL)
        return fail(err, P4_ERR_INVAL, "the exec plugin of user \"" SHOWN "\" has no command.",
                    user);
    if (api_version == NULL || (strcmp(api_version, "client.authentication.k8s.io/v1") != 0 &&
                                strcmp(api_version, "client.authentication.k8s.io/v1beta1") != 0))
        return fail(err, P4_ERR_INVAL,
                    "the exec plugin of user \"" SHOWN "\" must set apiVersion "
                    "client.authentication.k8s.io/v1 or v1beta1.",
                    user);
    if (mode != NULL && strcmp(mode, "Always") == 0)
        return fail(err, P4_ERR_INVAL,
                    "the exec plugin of user \"" SHOWN "\" needs a terminal "
                    "(interactiveMode: Always), which an operator cannot provide.",
                    user);
    if (mode != NULL && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0)
        return fail(err, P4_ERR_INVAL,
                    "the exec plugin of user \"" SHOWN "\" has an unknown interactiveMode; "
                    "use Never or IfAvailable.",
                    user);
    exec->interactive_never = mode != NULL && strcmp(mode, "Never") == 0;
    /* Like kubectl: a command with a '/' is a path relative to the kubeconfig, else $PATH's. */
    exec->command = strchr(command, '/') ? resolve(s, command) : p4_strdup(command);
    exec->api_version = p4_strdup(api_version);
    if (hint != NULL)
        exec->install_hint = p4_strdup(hint);
    if (args != NULL) {
        exec->args = p4_calloc(args->n, sizeof(*exec->args));
        for (size_t i = 0; i < args->n; i++) {
            const struct node *a = args->kids[i];

            if (a->kind != K_SCALAR)
                return type_fail(s, a, "args", "a list of strings", err);
            exec->args[exec->nargs++] = p4_strdup(is_null(a) ? "" : a->text);
        }
    }
    return env != NULL ? fill_exec_env(s, env, user, exec, err) : 0;
}

/* Reject what kubectl accepts but we cannot honour, with what to do instead. */
static int check_user_unsupported(const struct node *u, const char *name, struct p4_error *err)
{
    static const char *const impersonation[] = {"as", "as-uid", "as-groups", "as-user-extra"};
    const struct node *provider = map_get(u, "auth-provider");
    const char *provider_name = NULL;

    if (!is_null(provider)) {
        const struct node *v = map_get(provider, "name");

        if (v != NULL && v->kind == K_SCALAR && v->len > 0)
            provider_name = v->text;
        return fail(err, P4_ERR_INVAL,
                    "user \"" SHOWN "\" uses the %.32s auth-provider, which is no longer "
                    "supported; configure an exec credential plugin instead (for example "
                    "gke-gcloud-auth-plugin or kubelogin).",
                    name, provider_name ? provider_name : "unnamed");
    }
    if (is_set(map_get(u, "username")) || is_set(map_get(u, "password")))
        return fail(err, P4_ERR_INVAL,
                    "user \"" SHOWN "\" uses basic authentication (username/password), which "
                    "Kubernetes removed in 1.19; use a token, a client certificate or an exec "
                    "plugin instead.",
                    name);
    for (size_t i = 0; i < sizeof(impersonation) / sizeof(impersonation[0]); i++) {
        if (is_set(map_get(u, impersonation[i])))
            return fail(err, P4_ERR_INVAL,
                        "user \"" SHOWN "\" asks for impersonation (%s), which is not "
                        "supported; grant the permissions to the user itself.",
                        name, impersonation[i]);
    }
    return 0;
}

static int fill_user(const struct src *s, const struct node *u, struct p4_kube_config *cfg,
                     struct p4_error *err)
{
    const char *name = cfg->user_name, *cert, *key, *token, *token_file;
    const struct node *exec;
    int has_cert, has_key, rc;

    rc = check_user_unsupported(u, name, err);
    if (rc == 0)
        rc = get_str(s, u, "client-certificate", &cert, err);
    if (rc == 0)
        rc = get_str(s, u, "client-key", &key, err);
    if (rc == 0)
        rc = get_str(s, u, "token", &token, err);
    if (rc == 0)
        rc = get_str(s, u, "tokenFile", &token_file, err);
    if (rc == 0)
        rc = get_node(s, u, "exec", K_MAP, &exec, err);
    if (rc != 0)
        return rc;
    if (cert != NULL && is_set(map_get(u, "client-certificate-data")))
        return fail(err, P4_ERR_INVAL,
                    "user \"" SHOWN "\" sets both client-certificate and "
                    "client-certificate-data; keep one.",
                    name);
    if (key != NULL && is_set(map_get(u, "client-key-data")))
        return fail(err, P4_ERR_INVAL,
                    "user \"" SHOWN "\" sets both client-key and client-key-data; keep one.", name);
    has_cert = cert != NULL || is_set(map_get(u, "client-certificate-data"));
    has_key = key != NULL || is_set(map_get(u, "client-key-data"));
    if (has_cert != has_key)
        return fail(err, P4_ERR_INVAL,
                    "user \"" SHOWN "\" sets a client %s without a client %s; set both.", name,
                    has_cert ? "certificate" : "key", has_cert ? "key" : "certificate");
    rc = get_data(s, u, "client-certificate-data", "user", name, &cfg->cert_data, &cfg->cert_len,
                  err);
    if (rc == 0)
        rc = get_data(s, u, "client-key-data", "user", name, &cfg->key_data, &cfg->key_len, err);
    if (rc != 0)
        return rc;
    if (cert != NULL)
        cfg->cert_file = resolve(s, cert);
    if (key != NULL)
        cfg->key_file = resolve(s, key);
    if (token != NULL)
        cfg->token = p4_strdup(token);
    if (token_file != NULL)
        cfg->token_file = resolve(s, token_file);
    if (exec == NULL)
        return 0;
    cfg->exec = p4_calloc(1, sizeof(*cfg->exec));
    return fill_exec(s, exec, name, cfg->exec, err);
}

/* The context called name, then its cluster and user, each from the first file defining it. */
static int fill_config(const struct src *srcs, size_t nsrcs, const char *name,
                       struct p4_kube_config *cfg, struct p4_error *err)
{
    const struct node *body;
    const struct src *from;
    const char *cluster, *user, *ns;
    int rc;

    if (!find_entry(srcs, nsrcs, L_CONTEXTS, name, &body, &from))
        return fail(err, P4_ERR_NOTFOUND, "context \"" SHOWN "\" not found in kubeconfig.", name);
    cfg->context = p4_strdup(name);
    rc = get_str(from, body, "cluster", &cluster, err);
    if (rc == 0)
        rc = get_str(from, body, "user", &user, err);
    if (rc == 0)
        rc = get_str(from, body, "namespace", &ns, err);
    if (rc != 0)
        return rc;
    if (cluster == NULL || user == NULL)
        return fail(err, P4_ERR_INVAL,
                    "context \"" SHOWN "\" in kubeconfig " PATH_SHOWN " names no %s.", name,
                    from->name, cluster == NULL ? "cluster" : "user");
    if (ns != NULL && !is_dns_label(ns))
        return fail(err, P4_ERR_INVAL,
                    "namespace \"" SHOWN "\" of context \"" SHOWN "\" is not a valid DNS label.",
                    ns, name);
    cfg->namespace = p4_strdup(ns ? ns : "default");
    cfg->cluster_name = p4_strdup(cluster);
    cfg->user_name = p4_strdup(user);
    if (!find_entry(srcs, nsrcs, L_CLUSTERS, cluster, &body, &from))
        return fail(err, P4_ERR_NOTFOUND,
                    "cluster \"" SHOWN "\" of context \"" SHOWN "\" not found in kubeconfig.",
                    cluster, name);
    rc = fill_cluster(from, body, cfg, err);
    if (rc != 0)
        return rc;
    if (!find_entry(srcs, nsrcs, L_USERS, user, &body, &from))
        return fail(err, P4_ERR_NOTFOUND,
                    "user \"" SHOWN "\" of context \"" SHOWN "\" not found in kubeconfig.", user,
                    name);
    return fill_user(from, body, cfg, err);
}

int p4_kubeconfig_parse(const struct p4_kubeconfig_doc *docs, size_t ndocs, const char *context,
                        struct p4_kube_config **out, struct p4_error *err)
{
    struct p4_kube_config *cfg = NULL;
    struct src *srcs = NULL;
    const char *name = context;
    int rc = 0;

    *out = NULL;
    if (docs == NULL && ndocs > 0) {
        rc = fail(err, P4_ERR_INVAL, "no kubeconfig documents given.");
        goto out;
    }
    srcs = p4_calloc(ndocs, sizeof(*srcs));
    for (size_t i = 0; i < ndocs; i++) {
        srcs[i].name = docs[i].name ? docs[i].name : "<memory>";
        srcs[i].base_dir = docs[i].base_dir;
        if (docs[i].len > P4_KUBECONFIG_MAX_BYTES) {
            rc = fail(err, P4_ERR_TOOBIG, "kubeconfig " PATH_SHOWN " is larger than %zu bytes.",
                      srcs[i].name, P4_KUBECONFIG_MAX_BYTES);
            goto out;
        }
        if (docs[i].data == NULL && docs[i].len > 0) {
            rc = fail(err, P4_ERR_INVAL, "kubeconfig " PATH_SHOWN " has a length but no data.",
                      srcs[i].name);
            goto out;
        }
        rc = build(&srcs[i], docs[i].data ? docs[i].data : "", docs[i].len, err);
        if (rc == 0)
            rc = check_doc(&srcs[i], err);
        if (rc < 0)
            goto out;
    }
    if (name == NULL || name[0] == '\0') {
        name = NULL;
        for (size_t i = 0; i < ndocs && name == NULL; i++)
            (void)get_str(&srcs[i], srcs[i].root, "current-context", &name, err); /* checked */
        if (name == NULL) {
            rc = fail(err, P4_ERR_NOTFOUND,
                      "kubeconfig sets no current-context; name the context to use.");
            goto out;
        }
    }
    cfg = p4_calloc(1, sizeof(*cfg));
    rc = fill_config(srcs, ndocs, name, cfg, err);
    if (rc < 0)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    for (size_t i = 0; srcs != NULL && i < ndocs; i++)
        free_nodes(srcs[i].nodes);
    free(srcs);
    p4_kube_config_free(cfg);
    return rc;
}

/*
 * Read a regular file of at most limit bytes into *buf (caller wipes and frees; NUL-terminated
 * after *len bytes). A missing file is P4_ERR_NOTFOUND. O_NONBLOCK keeps a FIFO from
 * blocking the open; it is then refused as not a regular file.
 */
static int read_file(const char *path, size_t limit, char **buf, size_t *len, struct p4_error *err)
{
    struct stat st;
    char *data = NULL;
    size_t n = 0, cap;
    ssize_t got;
    int fd, rc = 0;

    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        rc = errno == ENOENT
                 ? fail(err, P4_ERR_NOTFOUND, "file " PATH_SHOWN " not found.", path)
                 : fail(err, P4_ERR_IO, "cannot open " PATH_SHOWN ": %s.", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = fail(err, P4_ERR_INVAL, PATH_SHOWN " is not a regular file.", path);
        goto out;
    }
    if ((unsigned long long)st.st_size > limit) {
        rc = fail(err, P4_ERR_TOOBIG, "file " PATH_SHOWN " is larger than %zu bytes.", path, limit);
        goto out;
    }
    /* The size is a hint: a file that grows while we read still stops at limit. */
    cap = (size_t)st.st_size + 1;
    data = p4_malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (n > limit) {
                rc = fail(err, P4_ERR_TOOBIG, "file " PATH_SHOWN " is larger than %zu bytes.", path,
                          limit);
                goto out;
            }
            cap *= 2;
            data = p4_realloc(data, cap + 1);
        }
        got = read(fd, data + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = fail(err, P4_ERR_IO, "cannot read " PATH_SHOWN ": %s.", path, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (n > limit) {
        rc = fail(err, P4_ERR_TOOBIG, "file " PATH_SHOWN " is larger than %zu bytes.", path, limit);
        goto out;
    }
    data[n] = '\0';
    *buf = data;
    *len = n;
    data = NULL;
out:
    if (data != NULL) {
        OPENSSL_cleanse(data, n);
        free(data);
    }
    if (fd >= 0)
        (void)close(fd);
    return rc;
}

/* The absolute directory of path, for resolving the paths inside it; caller frees. */
static char *dir_of(const char *path, struct p4_error *err)
{
    const char *slash = strrchr(path, '/');
    char cwd[PATH_MAX];
    size_t dlen, size;
    char *dir;

    if (slash == path)
        return p4_strdup("/");
    if (path[0] == '/')
        return p4_strndup(path, (size_t)(slash - path));
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        (void)fail(err, P4_ERR_IO,
                   "cannot resolve " PATH_SHOWN ": the current directory is unknown.", path);
        return NULL;
    }
    dlen = slash ? (size_t)(slash - path) : 0;
    size = strlen(cwd) + 1 + dlen + 1;
    dir = p4_malloc(size);
    (void)snprintf(dir, size, "%s%s%.*s", cwd, dlen ? "/" : "", (int)dlen, path);
    return dir;
}

int p4_kubeconfig_load(const char *paths, const char *context, struct p4_kube_config **out,
                       struct p4_error *err)
{
    struct p4_kubeconfig_doc *docs = NULL;
    char **bufs = NULL, **dirs = NULL, **names = NULL;
    size_t ndocs = 0, max = 1;
    char *list = NULL, *path, *save = NULL;
    int rc = 0;

    *out = NULL;
    if (paths == NULL || paths[0] == '\0') {
        rc = fail(err, P4_ERR_INVAL, "no kubeconfig path given.");
        goto out;
    }
    for (const char *p = paths; *p != '\0'; p++)
        max += *p == ':';
    docs = p4_calloc(max, sizeof(*docs));
    bufs = p4_calloc(max, sizeof(*bufs));
    dirs = p4_calloc(max, sizeof(*dirs));
    names = p4_calloc(max, sizeof(*names));
    list = p4_strdup(paths);
    for (path = strtok_r(list, ":", &save); path != NULL; path = strtok_r(NULL, ":", &save)) {
        char *data;
        size_t len;

        rc = read_file(path, P4_KUBECONFIG_MAX_BYTES, &data, &len, err);
        if (rc == P4_ERR_NOTFOUND) {
            /* As kubectl does, missing files in the list are skipped. */
            p4_error_clear(err);
            continue;
        }
        if (rc < 0)
            goto out;
        bufs[ndocs] = data;
        docs[ndocs].data = data;
        docs[ndocs].len = len;
        names[ndocs] = p4_strdup(path);
        docs[ndocs].name = names[ndocs];
        dirs[ndocs] = dir_of(path, err);
        docs[ndocs].base_dir = dirs[ndocs];
        ndocs++;
        if (dirs[ndocs - 1] == NULL) {
            rc = P4_ERR_IO;
            goto out;
        }
    }
    if (ndocs == 0) {
        rc = fail(err, P4_ERR_NOTFOUND, "no kubeconfig file found in \"%.200s\".", paths);
        goto out;
    }
    rc = p4_kubeconfig_parse(docs, ndocs, context, out, err);
out:
    for (size_t i = 0; i < ndocs; i++) {
        /* The file text may hold keys and tokens. */
        OPENSSL_cleanse(bufs[i], docs[i].len);
        free(bufs[i]);
        free(dirs[i]);
        free(names[i]);
    }
    free(docs);
    free(bufs);
    free(dirs);
    free(names);
    free(list);
    return rc;
}

/* A DNS name, an IPv4 address or an IPv6 address, bracketed or not. */
static int valid_host(const char *host)
{
    size_t n = strlen(host);

    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    for (const char *p = host; p < host + n; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == ':'))
            return 0;
    }
    return 1;
}

static int valid_port(const char *port)
{
    size_t n = strlen(port);
    long value = 0;

    if (n == 0 || n > 5 || strspn(port, "0123456789") != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        value = value * 10 + (port[i] - '0');
    return value >= 1 && value <= 65535;
}

static char *join(const char *dir, const char *file) /* caller frees */
{
    size_t size = strlen(dir) + 1 + strlen(file) + 1;
    char *p = p4_malloc(size);

    (void)snprintf(p, size, "%s/%s", dir, file);
    return p;
}

/* The namespace file's content trimmed of whitespace, or "default" without one. */
static int read_namespace(const char *sa_dir, char **out, struct p4_error *err)
{
    char *path = join(sa_dir, "namespace"), *data = NULL, *start;
    size_t len;
    int rc;

    *out = NULL;
    rc = read_file(path, MAX_NAMESPACE_FILE, &data, &len, err);
    if (rc == P4_ERR_NOTFOUND) {
        p4_error_clear(err);
        *out = p4_strdup("default");
        rc = 0;
        goto out;
    }
    if (rc != 0 || data == NULL)
        goto out;
    start = data;
    while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
        start++;
    while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == '\t' || data[len - 1] == '\n' ||
                       data[len - 1] == '\r'))
        data[--len] = '\0';
    if (*start == '\0') {
        *out = p4_strdup("default");
    } else if (!is_dns_label(start)) {
        rc = fail(err, P4_ERR_INVAL, "namespace in " PATH_SHOWN " is not a valid DNS label.", path);
    } else {
        *out = p4_strdup(start);
    }
out:
    free(data);
    free(path);
    return rc;
}

int p4_kubeconfig_in_cluster(const char *sa_dir, const char *host, const char *port,
                             struct p4_kube_config **out, struct p4_error *err)
{
    struct p4_kube_config *cfg = NULL;
    struct stat st;
    size_t size;
    int ipv6, rc = 0;

    *out = NULL;
    if (sa_dir == NULL || sa_dir[0] == '\0')
        sa_dir = P4_KUBE_SA_DIR;
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
        rc = fail(err, P4_ERR_NOTFOUND,
                  "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                  "KUBERNETES_SERVICE_PORT must both be set.");
        goto out;
    }
    if (!valid_host(host) || !valid_port(port)) {
        rc = fail(err, P4_ERR_INVAL,
                  "KUBERNETES_SERVICE_HOST \"" SHOWN "\" or KUBERNETES_SERVICE_PORT \"%.8s\" is "
                  "not a valid host and port.",
                  host, port);
        goto out;
    }
    cfg = p4_calloc(1, sizeof(*cfg));
    ipv6 = host[0] != '[' && strchr(host, ':') != NULL;
    size = strlen("https://[]:") + strlen(host) + strlen(port) + 1;
    cfg->server = p4_malloc(size);
    (void)snprintf(cfg->server, size, "https://%s%s%s:%s", ipv6 ? "[" : "", host, ipv6 ? "]" : "",
                   port);
    cfg->token_file = join(sa_dir, "token");
    if (stat(cfg->token_file, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = fail(err, P4_ERR_NOTFOUND,
                  "service account token %.200s not found; mount a service account token or "
                  "use a kubeconfig.",
                  cfg->token_file);
        goto out;
    }
    /* As client-go: without a readable ca.crt the system's trust store is used. */
    cfg->ca_file = join(sa_dir, "ca.crt");
    if (stat(cfg->ca_file, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(cfg->ca_file);
        cfg->ca_file = NULL;
    }
    rc = read_namespace(sa_dir, &cfg->namespace, err);
    if (rc < 0)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    p4_kube_config_free(cfg);
    return rc;
}

static void exec_free(struct p4_kube_exec *exec)
{
    if (exec == NULL)
        return;
    free(exec->command);
    for (size_t i = 0; i < exec->nargs; i++)
        free(exec->args[i]);
    free(exec->args);
    for (size_t i = 0; i < exec->nenv; i++)
        free(exec->env[i]);
    free(exec->env);
    free(exec->api_version);
    free(exec->install_hint);
    free(exec);
}

void p4_kube_config_free(struct p4_kube_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->server);
    free(cfg->context);
    free(cfg->cluster_name);
    free(cfg->user_name);
    free(cfg->namespace);
    free(cfg->tls_server_name);
    free(cfg->ca_file);
    free(cfg->ca_data);
    free(cfg->cert_file);
    free(cfg->cert_data);
    free(cfg->key_file);
    if (cfg->key_data != NULL)
        OPENSSL_cleanse(cfg->key_data, cfg->key_len);
    free(cfg->key_data);
    if (cfg->token != NULL)
        OPENSSL_cleanse(cfg->token, strlen(cfg->token));
    free(cfg->token);
    free(cfg->token_file);
    exec_free(cfg->exec);
    free(cfg);
}
