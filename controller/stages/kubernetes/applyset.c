/* applyset.c: apply a manifest as one owned set, then prune (see applyset.h). */
#include "phase4/stages/kubernetes/applyset.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/kube/apply.h"
#include "diagnose.h"
#include "phase4/core/json.h"

#define PATH_SIZE 2048
#define CRD_GROUP "apiextensions.k8s.io"

/* ---- the pure parts ---- */

const char *p4_applyset_label_value(const char *value, char out[P4_LABEL_VALUE_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t n = value ? strlen(value) : 0;

    if (n <= P4_LABEL_VALUE_MAX) {
        (void)snprintf(out, P4_LABEL_VALUE_MAX + 1, "%s", value ? value : "");
        return out;
    }
    if (EVP_Digest(value, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 5)
        memset(md, 0, sizeof(md));
    memcpy(out, value, 52);
    out[52] = '-';
    for (int i = 0; i < 5; i++) {
        out[53 + 2 * i] = hex[md[i] >> 4];
        out[54 + 2 * i] = hex[md[i] & 15];
    }
    out[63] = '\0';
    return out;
}

int p4_applyset_owner_mark(const char *owner_namespace, const char *owner_name, char *buf,
                           size_t size)
{
    int n;

    if (owner_namespace == NULL || owner_name == NULL || buf == NULL || size == 0)
        return P4_ERR_INVAL;
    n = snprintf(buf, size, "%s/%s", owner_namespace, owner_name);
    return n < 0 || (size_t)n >= size ? P4_ERR_TOOBIG : 0;
}

/* obj's member key as an object, replacing a member of another type. */
static cJSON *object_member(cJSON *obj, const char *key)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsObject(m))
        return m;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    m = p4_json_need(cJSON_CreateObject());
    p4_json_need_ok(cJSON_AddItemToObject(obj, key, m));
    return m;
}

static void set_string(cJSON *obj, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    p4_json_need(cJSON_AddStringToObject(obj, key, value));
}

int p4_applyset_mark(cJSON *obj, const char *owner_namespace, const char *owner_name,
                     int64_t generation)
{
    char mark[P4_INVENTORY_FIELD_MAX * 2 + 2], label[P4_LABEL_VALUE_MAX + 1], gen[24];
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata"), *labels, *annotations;

    if (!cJSON_IsObject(obj) || !cJSON_IsObject(meta) ||
        p4_applyset_owner_mark(owner_namespace, owner_name, mark, sizeof(mark)) != 0)
        return P4_ERR_INVAL;
    (void)snprintf(gen, sizeof(gen), "%" PRId64, generation);
    labels = object_member(meta, "labels");
    set_string(labels, P4_APPLYSET_LABEL_MANAGED_BY, P4_APPLYSET_MANAGER);
    set_string(labels, P4_APPLYSET_LABEL_NAME, p4_applyset_label_value(owner_name, label));
    set_string(labels, P4_APPLYSET_LABEL_GENERATION, gen);
    annotations = object_member(meta, "annotations");
    set_string(annotations, P4_APPLYSET_ANNOTATION_OWNER, mark);
    return 0;
}

const char *p4_applyset_owner_of(const cJSON *obj)
{
    const cJSON *ann = p4_json_get(obj, "metadata.annotations");
    const char *have = p4_json_str(p4_json_child(ann, P4_APPLYSET_ANNOTATION_OWNER), NULL);

    return have && strchr(have, '/') ? have : NULL;
}

bool p4_applyset_owned(const cJSON *live, const char *owner_namespace, const char *owner_name)
{
    const char *have = p4_applyset_owner_of(live);
    char mark[P4_INVENTORY_FIELD_MAX * 2 + 2];

    if (have == NULL ||
        p4_applyset_owner_mark(owner_namespace, owner_name, mark, sizeof(mark)) != 0)
        return false;
    return strcmp(have, mark) == 0;
}

/* Add each 'conflict with "NAME"' of text to buf, once; returns how many were added. */
static size_t managers_in(const char *text, char *buf, size_t size)
{
    static const char lead[] = "conflict with \"";
    const char *p = text;
    size_t added = 0;

    while (p != NULL && (p = strstr(p, lead)) != NULL) {
        const char *name = p + sizeof(lead) - 1, *end = strchr(name, '"');
        char one[130];
        size_t len;
        const char *hit;

        if (end == NULL)
            break;
        p = end + 1;
        len = (size_t)(end - name);
        if (len == 0 || len >= sizeof(one))
            continue;
        memcpy(one, name, len);
        one[len] = '\0';
        /* Once each: look for it as a whole item of the list so far. */
        for (hit = strstr(buf, one); hit != NULL; hit = strstr(hit + 1, one)) {
            if ((hit == buf || hit[-1] == ' ') && (hit[len] == ',' || hit[len] == '\0'))
                break;
        }
        if (hit != NULL)
            continue;
        if (strlen(buf) + len + 3 > size)
            break;
        if (buf[0] != '\0')
            (void)strncat(buf, ", ", size - strlen(buf) - 1);
        (void)strncat(buf, one, size - strlen(buf) - 1);
        added++;
    }
    return added;
}

size_t p4_applyset_conflict_managers(const struct p4_apistatus *st, char *buf, size_t size)
{
    size_t n = 0;

    if (buf == NULL || size == 0)
        return 0;
    buf[0] = '\0';
    if (st == NULL)
        return 0;
    for (size_t i = 0; i < st->causes_len; i++)
        n += managers_in(st->causes[i].message, buf, size);
    if (n == 0)
        n = managers_in(st->message, buf, size);
    return n;
}

bool p4_applyset_is_field_conflict(const struct p4_apistatus *st)
{
    if (st == NULL || st->http_code != 409)
        return false;
    for (size_t i = 0; i < st->causes_len; i++) {
        if (st->causes[i].type && strcmp(st->causes[i].type, "FieldManagerConflict") == 0)
            return true;
    }
    return st->message != NULL && strncmp(st->message, "Apply failed with", 17) == 0;
}

int p4_applyset_crd_state(const cJSON *crd, char *msg, size_t size)
{
    const cJSON *c;
    int state = 0;

    if (msg && size)
        msg[0] = '\0';
    cJSON_ArrayForEach(c, p4_json_get(crd, "status.conditions")) {
        const char *type = p4_json_str(c, "type"), *status = p4_json_str(c, "status");
        if (type == NULL || status == NULL)
            continue;
        if (strcmp(type, "Established") == 0 && strcmp(status, "True") == 0)
            return 1;
        if (strcmp(type, "NamesAccepted") == 0 && strcmp(status, "False") == 0) {
            const char *why = p4_json_str(c, "message");
            if (msg && size)
                (void)snprintf(msg, size, "%s", why ? why : "its names were not accepted");
            state = -1;
        }
    }
    return state;
}

char *p4_applyset_delete_body(const char *uid)
{
    cJSON *o = p4_json_need(cJSON_CreateObject()), *pre;
    char *text;

    p4_json_need(cJSON_AddStringToObject(o, "kind", "DeleteOptions"));
    p4_json_need(cJSON_AddStringToObject(o, "apiVersion", "v1"));
    p4_json_need(cJSON_AddStringToObject(o, "propagationPolicy", "Background"));
    pre = p4_json_need(cJSON_AddObjectToObject(o, "preconditions"));
    p4_json_need(cJSON_AddStringToObject(pre, "uid", uid ? uid : ""));
    text = p4_json_print(o);
    cJSON_Delete(o);
    if (text == NULL)
        abort(); /* only cJSON's own allocation can fail here */
    return text;
}

/* ---- the run ---- */

enum step { ST_LOOKUP, ST_NAMESPACE, ST_OBJECT, ST_CRD, ST_PRUNE, ST_FINISH };
enum fate { FATE_NONE, FATE_GONE, FATE_DELETED, FATE_SKIPPED };
enum change { CHANGE_NONE, CHANGE_CREATED, CHANGE_CHANGED };

struct p4_applyset {
    struct p4_kube *kube;
    struct p4_discovery *disc;
    uv_timer_t timer; /* every step begins on it: no step calls the next on the stack */
    p4_applyset_cb cb;
    void *data;

    cJSON *objects; /* ordered, marked copies, one per inventory entry */
    char *ns, *owner_ns, *owner_name;
    int64_t generation;
    bool force, create_ns, take_from_updaters, allow_cluster_scoped, validated;
    char *scope_ns; /* opts.scope_namespace, or NULL */
    struct p4_inventory previous, inv, prune;
    unsigned char *fate;   /* per prune entry */
    unsigned char *change; /* per inventory entry (enum change) */
    int64_t *gens;         /* per inventory entry: metadata.generation the apply returned */

    /* The current object as it was before the apply. */
    bool existed, forcing;
    char live_rv[128];
    char updaters[512]; /* ",m1,m2,": the managers that changed it through an update */
    char taken[P4_APPLYSET_TAKEN_MAX];

    enum step step;
    size_t i;            /* the object (ST_LOOKUP, ST_OBJECT, ST_CRD) or prune entry */
    size_t napplied;     /* objects applied */
    uint64_t wait_start; /* a CRD's wait, or a new kind's: 0 when not waiting */
    bool inflight, gone;
    char path[PATH_SIZE]; /* the current object's (no query) */
    bool namespaced;
    int pruned, prune_skipped;

    /* The failure, once there is one (reported from ST_FINISH). */
    int rc;
    struct p4_error err;
    enum p4_failure_class cls;
    const struct p4_inv_entry *failed; /* NULL, or the entry that failed */
    struct p4_inv_entry nsentry;       /* the namespace of create_namespace */
    char reason[P4_DIAGNOSE_REASON_MAX];
};

static void go(struct p4_applyset *a, enum step step, uint64_t ms);

static void on_closed(uv_handle_t *h)
{
    struct p4_applyset *a = h->data;

    cJSON_Delete(a->objects);
    free(a->ns);
    free(a->owner_ns);
    free(a->owner_name);
    free(a->scope_ns);
    free(a->nsentry.api_version);
    free(a->nsentry.kind);
    free(a->nsentry.namespace_);
    free(a->nsentry.name);
    p4_inventory_close(&a->previous);
    p4_inventory_close(&a->inv);
    p4_inventory_close(&a->prune);
    free(a->fate);
    free(a->change);
    free(a->gens);
    free(a);
}

static void maybe_free(struct p4_applyset *a)
{
    if (a->gone && !a->inflight && !uv_is_closing((uv_handle_t *)&a->timer))
        uv_close((uv_handle_t *)&a->timer, on_closed);
}

/* First thing in every answer: the run, or NULL when it was canceled meanwhile. */
static struct p4_applyset *back(void *data)
{
    struct p4_applyset *a = data;

    a->inflight = false;
    if (a->gone) {
        maybe_free(a);
        return NULL;
    }
    return a;
}

static uint64_t now_ms(const struct p4_applyset *a)
{
    return uv_now(p4_kube_loop(a->kube));
}

/* Stop with a failure about e (NULL: none in particular); reported on the next turn. */
static void fail(struct p4_applyset *a, const struct p4_inv_entry *e, int rc, const char *reason,
                 enum p4_failure_class cls, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void fail(struct p4_applyset *a, const struct p4_inv_entry *e, int rc, const char *reason,
                 enum p4_failure_class cls, const char *fmt, ...)
{
    va_list ap;

    a->rc = rc ? rc : P4_ERR_INTERNAL;
    a->err.code = a->rc;
    a->err.reason = reason ? reason : p4_err_reason(a->rc);
    va_start(ap, fmt);
    (void)vsnprintf(a->err.message, sizeof(a->err.message), fmt, ap);
    va_end(ap);
    /* The message quotes the API server and the cluster: keep it printable. */
    for (char *p = a->err.message; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = ' ';
    }
    a->cls = cls;
    a->failed = e;
    go(a, ST_FINISH, 0);
}

/* "Deployment shop/web", "Namespace shop". */
static void describe(const struct p4_inv_entry *e, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s %s%s%s", e->kind, e->namespace_, e->namespace_[0] ? "/" : "",
                   e->name);
}

/* A Status object for p4_diagnose_refusal() from the decoded one (caller frees). */
static cJSON *status_json(const struct p4_apistatus *st)
{
    cJSON *o = p4_json_need(cJSON_CreateObject()), *details, *causes;

    p4_json_need(cJSON_AddStringToObject(o, "kind", "Status"));
    if (st->message)
        p4_json_need(cJSON_AddStringToObject(o, "message", st->message));
    if (st->reason)
        p4_json_need(cJSON_AddStringToObject(o, "reason", st->reason));
    p4_json_need(cJSON_AddNumberToObject(o, "code", (double)st->http_code));
    details = p4_json_need(cJSON_AddObjectToObject(o, "details"));
    if (st->kind)
        p4_json_need(cJSON_AddStringToObject(details, "kind", st->kind));
    if (st->name)
        p4_json_need(cJSON_AddStringToObject(details, "name", st->name));
    causes = p4_json_need(cJSON_AddArrayToObject(details, "causes"));
    for (size_t i = 0; i < st->causes_len; i++) {
        cJSON *c = p4_json_need(cJSON_CreateObject());
        if (st->causes[i].type)
            p4_json_need(cJSON_AddStringToObject(c, "reason", st->causes[i].type));
        if (st->causes[i].message)
            p4_json_need(cJSON_AddStringToObject(c, "message", st->causes[i].message));
        if (st->causes[i].field)
            p4_json_need(cJSON_AddStringToObject(c, "field", st->causes[i].field));
        p4_json_need_ok(cJSON_AddItemToArray(causes, c));
    }
    return o;
}

/* diagnose.h's reasons as static text; NULL when reason is not one of them. */

static enum p4_failure_class api_class(int rc)
{
    if (p4_apistatus_is_retryable(rc) || rc == P4_ERR_TRANSPORT)
        return P4_FAIL_TRANSIENT;
    if (rc == P4_ERR_INVALID || rc == P4_ERR_BADREQUEST)
        return P4_FAIL_ARTIFACT; /* the manifest itself was refused */
    return P4_FAIL_CLUSTER;
}

/* The API server refused doing ("apply", "read", "delete") e: diagnose it, or say it plainly. */
static void fail_api(struct p4_applyset *a, const struct p4_inv_entry *e,
                     const struct p4_kube_result *res, const char *doing)
{
    struct p4_diagnosis dg;
    char what[900];

    describe(e, what, sizeof(what));
    if (res->st != NULL) {
        cJSON *st = status_json(res->st);
        int found = p4_diagnose_refusal(st, e->kind, e->namespace_, e->name, NULL, &dg);
        cJSON_Delete(st);
        if (found == 1) {
            const char *reason = p4_diagnose_static_reason(dg.reason);
            if (reason == NULL) {
                (void)snprintf(a->reason, sizeof(a->reason), "%s", dg.reason);
                reason = a->reason;
            }
            fail(a, e, res->rc, reason, dg.cls, "%s", dg.message);
            return;
        }
    }
    fail(a, e, res->rc, res->err.reason, api_class(res->rc), "cannot %s %s: %s", doing, what,
         res->err.message);
}

/* a->path for e, served by info, under namespace ns ("" when cluster-scoped). */
static int build_path(struct p4_applyset *a, const struct p4_resource_info *info, const char *ns,
                      const char *name)
{
    char ens[256], ename[1024];
    int n;

    if (p4_kube_escape(ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(name, ename, sizeof(ename)) != 0)
        return P4_ERR_TOOBIG;
    if (info->group[0])
        n = snprintf(a->path, sizeof(a->path), "/apis/%s/%s", info->group, info->version);
    else
        n = snprintf(a->path, sizeof(a->path), "/api/%s", info->version);
    if (n < 0 || (size_t)n >= sizeof(a->path))
        return P4_ERR_TOOBIG;
    if (info->namespaced && ns[0])
        n += snprintf(a->path + n, sizeof(a->path) - (size_t)n, "/namespaces/%s", ens);
    if ((size_t)n >= sizeof(a->path))
        return P4_ERR_TOOBIG;
    n += snprintf(a->path + n, sizeof(a->path) - (size_t)n, "/%s/%s", info->resource, ename);
    return (size_t)n >= sizeof(a->path) ? P4_ERR_TOOBIG : 0;
}

/* Send one request of the run (a->inflight until its answer). */
static int request(struct p4_applyset *a, const char *method, const char *path, const char *ctype,
                   const char *body, p4_kube_cb cb)
{
    int rc = p4_kube_request(a->kube, method, path, ctype, body, body ? strlen(body) : 0, cb, a);

    a->inflight = rc == 0;
    return rc;
}

static int lookup(struct p4_applyset *a, const char *api_version, const char *kind,
                  p4_discovery_cb cb)
{
    int rc = p4_discovery_lookup(a->disc, api_version, kind, cb, a);

    a->inflight = rc == 0;
    return rc;
}

/* Server-side apply obj at a->path. */
static int send_apply(struct p4_applyset *a, const cJSON *obj, p4_kube_cb cb)
{
    char path[PATH_SIZE + 96];
    char *body = p4_json_print(obj); /* JSON is YAML: the apply patch type takes it */
    int rc;

    (void)snprintf(path, sizeof(path), "%s?fieldManager=%s%s", a->path, P4_FIELD_MANAGER,
                   a->force || a->forcing ? "&force=true" : "");
    rc = body ? request(a, "PATCH", path, "application/apply-patch+yaml", body, cb)
              : P4_ERR_INTERNAL;
    free(body);
    return rc;
}

/* ---- step: look up the kinds discovery does not know yet ---- */

static int scope_of(const char *api_version, const char *kind, void *data)
{
    const struct p4_resource_info *info = p4_discovery_find(data, api_version, kind);

    return info ? (info->namespaced ? 1 : 0) : -1;
}

static void on_looked_up(int rc, const struct p4_resource_info *info, const struct p4_error *e,
                         void *data)
{
    struct p4_applyset *a = back(data);

    (void)info;
    if (a == NULL)
        return;
    if (rc != 0 && rc != P4_ERR_NOTFOUND) { /* NotFound: the manifest's CRDs may know it */
        fail(a, NULL, rc, NULL, api_class(rc), "discovery failed: %s",
             e ? e->message : p4_strerror(rc));
        return;
    }
    a->i++;
    go(a, ST_LOOKUP, 0);
}

static void step_lookup(struct p4_applyset *a)
{
    struct p4_inventory_scope scope = {scope_of, a->disc};
    struct p4_error err = {0};
    int rc;

    for (; a->i < (size_t)cJSON_GetArraySize(a->objects); a->i++) {
        const cJSON *obj = cJSON_GetArrayItem(a->objects, (int)a->i);
        const char *api = p4_json_str(obj, "apiVersion"), *kind = p4_json_str(obj, "kind");
        if (api == NULL || kind == NULL || p4_discovery_find(a->disc, api, kind) != NULL)
            continue;
        rc = lookup(a, api, kind, on_looked_up);
        if (rc != 0)
            fail(a, NULL, rc, NULL, P4_FAIL_TRANSIENT, "cannot ask discovery about %s %s", api,
                 kind);
        return;
    }
    rc = p4_inventory_from_objects(a->objects, a->ns, &scope, &a->inv, &err);
    if (rc != 0) {
        fail(a, NULL, rc, rc == P4_ERR_NOTFOUND ? "UnknownKind" : "ManifestInvalid",
             P4_FAIL_ARTIFACT, "%s", err.message);
        return;
    }
    if (a->scope_ns != NULL &&
        p4_inventory_check_scope(&a->inv, a->scope_ns, a->allow_cluster_scoped, &err) != 0) {
        fail(a, NULL, err.code, "OutOfScope", P4_FAIL_ARTIFACT, "%s", err.message);
        return;
    }
    a->validated = true;
    if ((size_t)cJSON_GetArraySize(a->objects) != a->inv.n) {
        fail(a, NULL, P4_ERR_INTERNAL, NULL, P4_FAIL_TRANSIENT,
             "the inventory does not match the manifest");
        return;
    }
    a->change = p4_calloc(a->inv.n ? a->inv.n : 1, 1);
    a->gens = p4_calloc(a->inv.n ? a->inv.n : 1, sizeof(*a->gens));
    if (p4_inventory_diff(&a->previous, &a->inv, &a->prune) != 0) {
        fail(a, NULL, P4_ERR_INTERNAL, NULL, P4_FAIL_TRANSIENT, "cannot compute the prune set");
        return;
    }
    a->fate = p4_calloc(a->prune.n ? a->prune.n : 1, 1);
    a->i = 0;
    go(a, a->create_ns ? ST_NAMESPACE : ST_OBJECT, 0);
}

/* ---- step: create the namespace ---- */

static void on_ns_applied(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = back(data);

    if (a == NULL)
        return;
    if (res->rc != 0) {
        fail_api(a, &a->nsentry, res, "create");
        return;
    }
    go(a, ST_OBJECT, 0);
}

static void on_ns_got(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = back(data);
    cJSON *ns;
    int rc;

    if (a == NULL)
        return;
    if (res->rc == 0) { /* there already: used as it is */
        go(a, ST_OBJECT, 0);
        return;
    }
    if (res->rc != P4_ERR_NOTFOUND) {
        fail_api(a, &a->nsentry, res, "read");
        return;
    }
    ns = p4_json_need(cJSON_CreateObject());
    p4_json_need(cJSON_AddStringToObject(ns, "apiVersion", "v1"));
    p4_json_need(cJSON_AddStringToObject(ns, "kind", "Namespace"));
    p4_json_need(cJSON_AddStringToObject(p4_json_need(cJSON_AddObjectToObject(ns, "metadata")),
                                         "name", a->ns));
    (void)p4_applyset_mark(ns, a->owner_ns, a->owner_name, a->generation);
    rc = send_apply(a, ns, on_ns_applied);
    cJSON_Delete(ns);
    if (rc != 0)
        fail(a, &a->nsentry, rc, NULL, P4_FAIL_TRANSIENT, "cannot send Namespace %s", a->ns);
}

static void step_namespace(struct p4_applyset *a)
{
    static const struct p4_resource_info info = {"", "v1", "Namespace", "namespaces", 0};
    int rc = build_path(a, &info, "", a->ns);

    if (rc == 0)
        rc = request(a, "GET", a->path, NULL, NULL, on_ns_got);
    if (rc != 0)
        fail(a, &a->nsentry, rc, NULL, P4_FAIL_ARTIFACT, "cannot read Namespace %s", a->ns);
}

/* ---- step: apply each object ---- */

/* Whether a CustomResourceDefinition in the set defines apiVersion's group and kind. */
static bool defined_here(const struct p4_applyset *a, const char *api_version, const char *kind)
{
    const char *slash = strchr(api_version, '/');
    size_t glen = slash ? (size_t)(slash - api_version) : 0;
    const cJSON *o;

    cJSON_ArrayForEach(o, a->objects) {
        const char *g = p4_json_str(o, "spec.group"), *k = p4_json_str(o, "spec.names.kind");
        const char *api = p4_json_str(o, "apiVersion");
        if (api && strncmp(api, CRD_GROUP "/", sizeof(CRD_GROUP)) == 0 && p4_json_str(o, "kind") &&
            strcmp(p4_json_str(o, "kind"), "CustomResourceDefinition") == 0 && g && k &&
            strlen(g) == glen && strncmp(g, api_version, glen) == 0 && strcmp(k, kind) == 0)
            return true;
    }
    return false;
}

static const struct p4_inv_entry *current(const struct p4_applyset *a)
{
    return &a->inv.items[a->i];
}

static void on_crd_got(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = back(data);
    char why[300];
    int state;

    if (a == NULL)
        return;
    if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND) {
        fail_api(a, current(a), res, "read");
        return;
    }
    state = res->rc == 0 ? p4_applyset_crd_state(res->body, why, sizeof(why)) : 0;
    if (state == 1) {
        a->wait_start = 0;
        a->i++;
        go(a, ST_OBJECT, 0);
    } else if (state < 0) {
        fail(a, current(a), P4_ERR_INVALID, NULL, P4_FAIL_ARTIFACT,
             "CustomResourceDefinition %s will not be established: %s", current(a)->name, why);
    } else if (now_ms(a) - a->wait_start >= P4_APPLYSET_WAIT_MS) {
        fail(a, current(a), P4_ERR_TIMEOUT, NULL, P4_FAIL_TRANSIENT,
             "CustomResourceDefinition %s was not Established within %d s", current(a)->name,
             P4_APPLYSET_WAIT_MS / 1000);
    } else {
        go(a, ST_CRD, P4_APPLYSET_CRD_POLL_MS);
    }
}

static void step_crd(struct p4_applyset *a)
{
    int rc = request(a, "GET", a->path, NULL, NULL, on_crd_got);

    if (rc != 0)
        fail(a, current(a), rc, NULL, P4_FAIL_TRANSIENT, "cannot read CustomResourceDefinition %s",
             current(a)->name);
}

/* The object as it was, for on_applied: whether it existed, its version, who updated it. */
static void remember_live(struct p4_applyset *a, const cJSON *live)
{
    const cJSON *f;
    const char *rv = p4_json_str(live, "metadata.resourceVersion");

    a->existed = live != NULL;
    a->forcing = false;
    (void)snprintf(a->live_rv, sizeof(a->live_rv), "%s", rv ? rv : "");
    (void)snprintf(a->updaters, sizeof(a->updaters), ",");
    cJSON_ArrayForEach(f, p4_json_get(live, "metadata.managedFields")) {
        const char *m = p4_json_str(f, "manager"), *op = p4_json_str(f, "operation");
        size_t used = strlen(a->updaters);
        if (m == NULL || op == NULL || strcmp(op, "Update") != 0 ||
            strcmp(m, P4_FIELD_MANAGER) == 0 || strchr(m, ',') != NULL ||
            used + strlen(m) + 2 > sizeof(a->updaters))
            continue;
        (void)snprintf(a->updaters + used, sizeof(a->updaters) - used, "%s,", m);
    }
}

/* Whether every manager in the comma-separated list changed the object through an update. */
static bool all_updaters(const char *updaters, const char *managers)
{
    const char *p = managers;

    while (*p) {
        size_t n = strcspn(p, ",");
        char needle[160];
        while (*p == ' ') {
            p++;
            n--;
        }
        if (n == 0 || n + 3 > sizeof(needle) ||
            snprintf(needle, sizeof(needle), ",%.*s,", (int)n, p) < 0 ||
            strstr(updaters, needle) == NULL)
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

/* Say which fields of which object were taken back from whom ("; "-separated, cut to fit). */
static void note_taken(struct p4_applyset *a, const char *what, const char *fields,
                       const char *managers)
{
    size_t used = strlen(a->taken), room;
    int w;

    if (used + 8 >= sizeof(a->taken))
        return;
    room = sizeof(a->taken) - used;
    w = snprintf(a->taken + used, room, "%s%s (%s, set by %s)", used ? "; " : "", what,
                 fields[0] ? fields : "fields", managers);

    if (w < 0 || (size_t)w >= room) /* cut: say so */
        memcpy(a->taken + sizeof(a->taken) - 4, "...", 4);
}

static void on_applied(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = back(data);
    const struct p4_inv_entry *e;
    char what[900], managers[256], fields[200] = "";

    if (a == NULL)
        return;
    e = current(a);
    describe(e, what, sizeof(what));
    if (res->rc != 0 && p4_applyset_is_field_conflict(res->st)) {
        (void)p4_applyset_conflict_managers(res->st, managers, sizeof(managers));
        for (size_t i = 0; i < res->st->causes_len; i++) {
            const char *f = res->st->causes[i].field;
            if (f == NULL || strlen(fields) + strlen(f) + 3 >= sizeof(fields))
                continue;
            if (fields[0])
                (void)strncat(fields, ", ", sizeof(fields) - strlen(fields) - 1);
            (void)strncat(fields, f, sizeof(fields) - strlen(fields) - 1);
        }
        if (a->take_from_updaters && !a->forcing && managers[0] &&
            all_updaters(a->updaters, managers)) {
            /* Changed by hand (kubectl edit, patch, scale): drift, put back. */
            note_taken(a, what, fields, managers);
            a->forcing = true;
            if (send_apply(a, cJSON_GetArrayItem(a->objects, (int)a->i), on_applied) != 0)
                fail(a, e, P4_ERR_INTERNAL, NULL, P4_FAIL_TRANSIENT, "cannot send %s %s", e->kind,
                     e->name);
            return;
        }
        fail(a, e, P4_ERR_CONFLICT, "ApplyConflict", P4_FAIL_CLUSTER,
             "%s: fields%s%s are managed by another field manager (%s): apply with force "
             "(spec.rollout.force, or --force) to take them over, or stop the other manager "
             "from setting them",
             what, fields[0] ? " " : "", fields, managers[0] ? managers : "not named");
        return;
    }
    if (res->rc != 0) {
        fail_api(a, e, res, "apply");
        return;
    }
    {
        const char *rv = p4_json_str(res->body, "metadata.resourceVersion");
        if (!a->existed)
            a->change[a->i] = CHANGE_CREATED;
        else if (rv == NULL || strcmp(rv, a->live_rv) != 0)
            a->change[a->i] = CHANGE_CHANGED;
        (void)p4_json_int64(res->body, "metadata.generation", &a->gens[a->i]);
    }
    a->forcing = false;
    a->napplied = a->i + 1;
    if (strcmp(e->kind, "CustomResourceDefinition") == 0 &&
        strncmp(e->api_version, CRD_GROUP "/", sizeof(CRD_GROUP)) == 0) {
        a->wait_start = now_ms(a);
        go(a, ST_CRD, 0);
        return;
    }
    a->i++;
    go(a, ST_OBJECT, 0);
}

static void on_object_got(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = back(data);
    const struct p4_inv_entry *e;
    cJSON *obj, *meta;
    char what[900], have[200], quoted[130];
    int rc;

    if (a == NULL)
        return;
    e = current(a);
    if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND) {
        fail_api(a, e, res, "read");
        return;
    }
    if (res->rc == 0 && !p4_applyset_owned(res->body, a->owner_ns, a->owner_name)) {
        const char *mark = p4_json_str(p4_json_child(p4_json_get(res->body, "metadata.annotations"),
                                                     P4_APPLYSET_ANNOTATION_OWNER),
                                       NULL);
        describe(e, what, sizeof(what));
        if (mark)
            (void)snprintf(have, sizeof(have), "its %s annotation is \"%s\"",
                           P4_APPLYSET_ANNOTATION_OWNER, p4_error_quote(mark, 120, quoted));
        else
            (void)snprintf(have, sizeof(have), "it has no %s annotation",
                           P4_APPLYSET_ANNOTATION_OWNER);
        fail(a, e, P4_ERR_EXISTS, "ObjectNotOwned", P4_FAIL_CLUSTER,
             "%s already exists and is not owned by Phase4Deployment %s/%s (%s): delete or "
             "rename it, or remove it from the chart",
             what, a->owner_ns, a->owner_name, have);
        return;
    }
    remember_live(a, res->rc == 0 ? res->body : NULL);
    obj = cJSON_GetArrayItem(a->objects, (int)a->i);
    meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
    if (a->namespaced)
        p4_json_need(cJSON_AddStringToObject(meta, "namespace", e->namespace_));
    rc = send_apply(a, obj, on_applied);
    if (rc != 0)
        fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot send %s %s", e->kind, e->name);
}

static void on_object_resolved(int rc, const struct p4_resource_info *info,
                               const struct p4_error *err, void *data)
{
    struct p4_applyset *a = back(data);
    const struct p4_inv_entry *e;

    if (a == NULL)
        return;
    e = current(a);
    if (rc == P4_ERR_NOTFOUND && defined_here(a, e->api_version, e->kind)) {
        /* Its CRD was just applied: discovery serves the kind after its next refresh. */
        if (a->wait_start == 0)
            a->wait_start = now_ms(a);
        if (now_ms(a) - a->wait_start < P4_APPLYSET_WAIT_MS) {
            go(a, ST_OBJECT, P4_APPLYSET_KIND_POLL_MS);
            return;
        }
    }
    if (rc != 0) {
        fail(a, e, rc, NULL, rc == P4_ERR_NOTFOUND ? P4_FAIL_ARTIFACT : api_class(rc), "%s",
             err ? err->message : p4_strerror(rc));
        return;
    }
    a->wait_start = 0;
    a->namespaced = info->namespaced == 1;
    if (a->namespaced && e->namespace_[0] == '\0') {
        fail(a, e, P4_ERR_INVALID, NULL, P4_FAIL_TRANSIENT,
             "%s %s is namespaced but was taken as cluster-scoped", e->kind, e->name);
        return;
    }
    rc = build_path(a, info, a->namespaced ? e->namespace_ : "", e->name);
    if (rc == 0)
        rc = request(a, "GET", a->path, NULL, NULL, on_object_got);
    if (rc != 0)
        fail(a, e, rc, NULL, P4_FAIL_ARTIFACT, "cannot read %s %s", e->kind, e->name);
}

static void step_object(struct p4_applyset *a)
{
    const struct p4_inv_entry *e;
    int rc;

    if (a->i >= a->inv.n) {
        a->i = 0;
        go(a, ST_PRUNE, 0);
        return;
    }
    e = current(a);
    rc = lookup(a, e->api_version, e->kind, on_object_resolved);
    if (rc != 0)
        fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot ask discovery about %s", e->kind);
}

/* ---- step: prune ---- */

static const struct p4_inv_entry *pruning(const struct p4_applyset *a)
{
    return &a->prune.items[a->i];
}

static void prune_next(struct p4_applyset *a, enum fate f)
{
    a->fate[a->i] = (unsigned char)f;
    if (f == FATE_DELETED)
        a->pruned++;
    else if (f == FATE_SKIPPED)
        a->prune_skipped++;
    a->i++;
    go(a, ST_PRUNE, 0);
}

static void on_deleted(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = back(data);

    if (a == NULL)
        return;
    if (res->rc == 0)
        prune_next(a, FATE_DELETED);
    else if (res->rc == P4_ERR_NOTFOUND)
        prune_next(a, FATE_GONE);
    else if (res->rc == P4_ERR_CONFLICT) /* the uid precondition: re-created meanwhile */
        prune_next(a, FATE_SKIPPED);
    else
        fail_api(a, pruning(a), res, "delete");
}

static void on_prune_got(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = back(data);
    const char *uid;
    char *body;
    int rc;

    if (a == NULL)
        return;
    if (res->rc == P4_ERR_NOTFOUND) {
        prune_next(a, FATE_GONE);
        return;
    }
    if (res->rc != 0) {
        fail_api(a, pruning(a), res, "read");
        return;
    }
    uid = p4_json_str(res->body, "metadata.uid");
    if (!p4_applyset_owned(res->body, a->owner_ns, a->owner_name) || uid == NULL ||
        uid[0] == '\0') {
        prune_next(a, FATE_SKIPPED);
        return;
    }
    body = p4_applyset_delete_body(uid);
    rc = request(a, "DELETE", a->path, NULL, body, on_deleted);
    free(body);
    if (rc != 0)
        fail(a, pruning(a), rc, NULL, P4_FAIL_TRANSIENT, "cannot delete %s %s", pruning(a)->kind,
             pruning(a)->name);
}

static void on_prune_resolved(int rc, const struct p4_resource_info *info,
                              const struct p4_error *err, void *data)
{
    struct p4_applyset *a = back(data);
    const struct p4_inv_entry *e;

    if (a == NULL)
        return;
    e = pruning(a);
    if (rc == P4_ERR_NOTFOUND) { /* the kind is no longer served: nothing of it is left */
        prune_next(a, FATE_GONE);
        return;
    }
    if (rc != 0) {
        fail(a, e, rc, NULL, api_class(rc), "%s", err ? err->message : p4_strerror(rc));
        return;
    }
    /* A namespaced entry without a namespace names nothing we could have applied. */
    if (info->namespaced == 1 && e->namespace_[0] == '\0') {
        prune_next(a, FATE_SKIPPED);
        return;
    }
    rc = build_path(a, info, info->namespaced == 1 ? e->namespace_ : "", e->name);
    if (rc != 0) {
        prune_next(a, FATE_SKIPPED);
        return;
    }
    rc = request(a, "GET", a->path, NULL, NULL, on_prune_got);
    if (rc != 0)
        fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot read %s %s", e->kind, e->name);
}

static void step_prune(struct p4_applyset *a)
{
    const struct p4_inv_entry *e;
    int rc;

    if (a->i >= a->prune.n) {
        go(a, ST_FINISH, 0);
        return;
    }
    e = pruning(a);
    /* As Helm does: a CRD that left the chart stays, for deleting it deletes every custom
       resource of its kind in the cluster, whoever owns them. */
    if (strcmp(e->kind, "CustomResourceDefinition") == 0 &&
        strncmp(e->api_version, "apiextensions.k8s.io/", 21) == 0) {
        prune_next(a, FATE_SKIPPED);
        return;
    }
    rc = lookup(a, e->api_version, e->kind, on_prune_resolved);
    if (rc != 0)
        fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot ask discovery about %s", e->kind);
}

/* ---- the end ---- */

/* The prune entries whose fate is f, as a view (entries borrowed; free the items array only). */
static struct p4_inventory fated(const struct p4_applyset *a, enum fate f)
{
    struct p4_inventory v = {NULL, 0};

    for (size_t i = 0; i < a->prune.n; i++) {
        if (a->fate[i] != f)
            continue;
        if (v.items == NULL)
            v.items = p4_calloc(a->prune.n, sizeof(*v.items));
        v.items[v.n++] = a->prune.items[i];
    }
    return v;
}

/* The applied entries whose change is c, as a view (entries borrowed; free the items only). */
static struct p4_inventory changed(const struct p4_applyset *a, enum change c)
{
    struct p4_inventory v = {NULL, 0};

    for (size_t i = 0; a->change && i < a->napplied; i++) {
        if (a->change[i] != c)
            continue;
        if (v.items == NULL)
            v.items = p4_calloc(a->napplied, sizeof(*v.items));
        v.items[v.n++] = a->inv.items[i];
    }
    return v;
}

static void report(struct p4_applyset *a)
{
    struct p4_applyset_result res = {
        .rc = a->rc, .err = a->err, .cls = a->cls, .validated = a->validated};

    res.applied.items = a->napplied ? a->inv.items : NULL;
    res.applied.n = a->napplied;
    if (a->fate) {
        res.deleted = fated(a, FATE_DELETED);
        res.skipped = fated(a, FATE_SKIPPED);
    }
    res.generations = a->napplied ? a->gens : NULL;
    res.created = changed(a, CHANGE_CREATED);
    res.changed = changed(a, CHANGE_CHANGED);
    res.taken = a->taken;
    res.pruned = a->pruned;
    res.prune_skipped = a->prune_skipped;
    if (a->failed) {
        res.kind = a->failed->kind;
        res.namespace_ = a->failed->namespace_;
        res.name = a->failed->name;
    }
    a->gone = true; /* before cb: a p4_applyset_cancel() from it does nothing */
    a->cb(&res, a->data);
    free(res.deleted.items);
    free(res.skipped.items);
    free(res.created.items);
    free(res.changed.items);
    maybe_free(a);
}

static void on_timer(uv_timer_t *t)
{
    struct p4_applyset *a = t->data;

    switch (a->step) {
    case ST_LOOKUP:
        step_lookup(a);
        break;
    case ST_NAMESPACE:
        step_namespace(a);
        break;
    case ST_OBJECT:
        step_object(a);
        break;
    case ST_CRD:
        step_crd(a);
        break;
    case ST_PRUNE:
        step_prune(a);
        break;
    case ST_FINISH:
        report(a);
        break;
    }
}

static void go(struct p4_applyset *a, enum step step, uint64_t ms)
{
    a->step = step;
    (void)uv_timer_start(&a->timer, on_timer, ms, 0);
}

int p4_applyset_run(struct p4_kube *k, struct p4_discovery *d, const cJSON *objects,
                    const struct p4_applyset_opts *o, p4_applyset_cb cb, void *data,
                    struct p4_applyset **out)
{
    struct p4_applyset *a;
    struct p4_error err;

    if (out)
        *out = NULL;
    if (k == NULL || d == NULL || cb == NULL || o == NULL || !cJSON_IsArray(objects) ||
        o->owner_namespace == NULL || o->owner_namespace[0] == '\0' || o->owner_name == NULL ||
        o->owner_name[0] == '\0' || strlen(o->owner_namespace) > P4_INVENTORY_FIELD_MAX ||
        strlen(o->owner_name) > P4_INVENTORY_FIELD_MAX)
        return P4_ERR_INVAL;
    a = p4_calloc(1, sizeof(*a));
    a->kube = k;
    a->disc = d;
    a->cb = cb;
    a->data = data;
    a->ns = p4_strdup(o->namespace_ && o->namespace_[0] ? o->namespace_ : "default");
    a->owner_ns = p4_strdup(o->owner_namespace);
    a->owner_name = p4_strdup(o->owner_name);
    a->generation = o->generation;
    a->force = o->force;
    a->take_from_updaters = o->take_from_updaters;
    a->allow_cluster_scoped = o->allow_cluster_scoped;
    a->scope_ns = o->scope_namespace ? p4_strdup(o->scope_namespace) : NULL;
    a->create_ns = o->create_namespace;
    a->nsentry.api_version = p4_strdup("v1");
    a->nsentry.kind = p4_strdup("Namespace");
    a->nsentry.namespace_ = p4_strdup("");
    a->nsentry.name = p4_strdup(a->ns);
    p4_inventory_copy(o->previous, &a->previous);
    a->objects = p4_json_need(cJSON_Duplicate(objects, 1));
    (void)uv_timer_init(p4_kube_loop(k), &a->timer);
    a->timer.data = a;
    if (p4_inventory_order(a->objects, &err) != 0) {
        fail(a, NULL, err.code, NULL, P4_FAIL_ARTIFACT, "%s", err.message);
    } else {
        cJSON *obj;
        cJSON_ArrayForEach(obj, a->objects) {
            (void)p4_applyset_mark(obj, a->owner_ns, a->owner_name, a->generation);
        }
        go(a, ST_LOOKUP, 0);
    }
    if (out)
        *out = a;
    return 0;
}

void p4_applyset_cancel(struct p4_applyset *a)
{
    struct p4_applyset_result res = {.rc = P4_ERR_CANCELED, .cls = P4_FAIL_TRANSIENT};

    if (a == NULL || a->gone)
        return;
    (void)uv_timer_stop(&a->timer);
    p4_error_set(&res.err, P4_ERR_CANCELED, "the apply was canceled (shutting down)");
    res.applied.items = a->napplied ? a->inv.items : NULL;
    res.applied.n = a->napplied;
    res.taken = a->taken;
    res.pruned = a->pruned;
    res.prune_skipped = a->prune_skipped;
    a->gone = true;
    a->cb(&res, a->data);
    maybe_free(a);
}
