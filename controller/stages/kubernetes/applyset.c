/* applyset.c: a manifest applied as one owned set, then pruned: the run (see applyset.h). */
#include "phase4/stages/kubernetes/applyset.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applysteps.h"
#include "diagrefusal.h"
#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/kube/apply.h"
#include "phase4/stages/kubernetes/applymark.h"

/* ---- the run's lifetime ---- */

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
    p4_inventory_close(&a->sweep_targets);
    p4_inventory_close(&a->found);
    free(a->sweep_continue);
    free(a->owner_uid);
    free(a->owner_created);
    p4_inventory_close(&a->sweep_also);
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
struct p4_applyset *p4_applyset_back(void *data)
{
    struct p4_applyset *a = data;

    a->inflight = false;
    if (a->gone) {
        maybe_free(a);
        return NULL;
    }
    return a;
}

uint64_t p4_applyset_now_ms(const struct p4_applyset *a)
{
    return uv_now(p4_kube_loop(a->kube));
}

/* ---- failures ---- */

void p4_applyset_fail(struct p4_applyset *a, const struct p4_inv_entry *e, int rc,
                      const char *reason, enum p4_failure_class cls, const char *fmt, ...)
{
    va_list ap;

    a->rc = rc ? rc : P4_ERR_INTERNAL;
    a->err.code = a->rc;
    a->err.reason = reason ? reason : p4_err_reason(a->rc);
    va_start(ap, fmt);
    (void)vsnprintf(a->err.message, sizeof(a->err.message), fmt, ap);
    va_end(ap);
    /* The message quotes the API server and the cluster: one line, controls as spaces. */
    (void)p4_text_clean(a->err.message, sizeof(a->err.message), a->err.message,
                        strlen(a->err.message), P4_TEXT_CONTROL_SPACE | P4_TEXT_KEEP_RUNS);
    a->cls = cls;
    a->failed = e;
    p4_applyset_go(a, APPLY_FINISH, 0);
}

/* "Deployment shop/web", "Namespace shop". */
void p4_applyset_describe(const struct p4_inv_entry *e, char *buf, size_t size)
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

enum p4_failure_class p4_applyset_api_class(int rc)
{
    if (p4_apistatus_is_retryable(rc) || rc == P4_ERR_TRANSPORT)
        return P4_FAIL_TRANSIENT;
    if (rc == P4_ERR_INVALID || rc == P4_ERR_BADREQUEST)
        return P4_FAIL_ARTIFACT; /* the manifest itself was refused */
    return P4_FAIL_CLUSTER;
}

void p4_applyset_explain_api(const struct p4_inv_entry *e, const struct p4_kube_result *res,
                             const char *doing, struct p4_error *err, enum p4_failure_class *cls,
                             char *reason_buf, size_t reason_size)
{
    struct p4_diagnosis dg;
    char what[900];

    p4_applyset_describe(e, what, sizeof(what));
    if (res->st != NULL) {
        cJSON *st = status_json(res->st);
        int found = p4_diagnose_refusal(st, e->kind, e->namespace_, e->name, NULL, &dg);
        cJSON_Delete(st);
        if (found == 1) {
            const char *reason = p4_diagnose_static_reason(dg.reason);
            if (reason == NULL) {
                (void)snprintf(reason_buf, reason_size, "%s", dg.reason);
                reason = reason_buf;
            }
            err->code = res->rc;
            err->reason = reason;
            p4_text_format(err->message, sizeof(err->message), "%s", dg.message);
            *cls = dg.cls;
            return;
        }
    }
    err->code = res->rc;
    err->reason = res->err.reason ? res->err.reason : p4_err_reason(res->rc);
    p4_text_format(err->message, sizeof(err->message), "cannot %s %s: %s", doing, what,
                   res->err.message);
    *cls = p4_applyset_api_class(res->rc);
}

/* The API server refused doing ("apply", "read", "delete") e: diagnose it, or say it plainly. */
void p4_applyset_fail_api(struct p4_applyset *a, const struct p4_inv_entry *e,
                          const struct p4_kube_result *res, const char *doing)
{
    struct p4_error err = {0};
    enum p4_failure_class cls = P4_FAIL_NONE;

    p4_applyset_explain_api(e, res, doing, &err, &cls, a->reason, sizeof(a->reason));
    p4_applyset_fail(a, e, res->rc, err.reason, cls, "%s", err.message);
}

/* ---- requests ---- */

/* a->path for e, served by info, under namespace ns ("" when cluster-scoped). */
int p4_applyset_build_path(struct p4_applyset *a, const struct p4_resource_info *info,
                           const char *ns, const char *name)
{
    return p4_resource_path(info, ns, name, a->path, sizeof(a->path));
}

/* Send one request of the run (a->inflight until its answer). */
int p4_applyset_request(struct p4_applyset *a, const char *method, const char *path,
                        const char *ctype, const char *body, p4_kube_cb cb)
{
    int rc = p4_kube_request(a->kube, method, path, ctype, body, body ? strlen(body) : 0, cb, a);

    a->inflight = rc == 0;
    return rc;
}

int p4_applyset_lookup(struct p4_applyset *a, const char *api_version, const char *kind,
                       p4_discovery_cb cb)
{
    int rc = p4_discovery_lookup(a->disc, api_version, kind, cb, a);

    a->inflight = rc == 0;
    return rc;
}

/* Server-side apply obj at a->path. */
int p4_applyset_send_apply(struct p4_applyset *a, const cJSON *obj, p4_kube_cb cb)
{
    char path[P4_APPLYSET_PATH_SIZE + 96];
    char *body = p4_json_print(obj); /* JSON is YAML: the apply patch type takes it */
    int rc;

    (void)snprintf(path, sizeof(path), "%s?fieldManager=%s%s", a->path, P4_FIELD_MANAGER,
                   a->force || a->forcing ? "&force=true" : "");
    rc = body ? p4_applyset_request(a, "PATCH", path, "application/apply-patch+yaml", body, cb)
              : P4_ERR_INTERNAL;
    free(body);
    return rc;
}

/* ---- the end ---- */

/* The prune entries whose fate is f, as a view (entries borrowed; free the items array only). */
static struct p4_inventory fated(const struct p4_applyset *a, enum p4_applyset_fate f)
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
static struct p4_inventory changed(const struct p4_applyset *a, enum p4_applyset_change c)
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
    res.swept = a->swept;
    res.sweep_skipped = a->sweep_skipped;
    res.adopted = a->adopted;
    res.unmarked = a->unmarked;
    res.kept = a->kept;
    res.blocked = a->blocked;
    if (a->fate) { /* in prune order, whatever their fate */
        res.remaining.items = p4_calloc(a->prune.n ? a->prune.n : 1, sizeof(*a->prune.items));
        for (size_t i = 0; i < a->prune.n; i++)
            if (a->fate[i] == FATE_TERMINATING || a->fate[i] == FATE_FAILED ||
                a->fate[i] == FATE_WAITING)
                res.remaining.items[res.remaining.n++] = a->prune.items[i];
    }
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
    free(res.remaining.items);
    maybe_free(a);
}

static void on_timer(uv_timer_t *t)
{
    struct p4_applyset *a = t->data;

    switch (a->step) {
    case APPLY_LOOKUP:
        p4_applyset_validate(a);
        break;
    case APPLY_NAMESPACE:
        p4_applyset_namespace(a);
        break;
    case APPLY_OBJECT:
        p4_applyset_object(a);
        break;
    case APPLY_CRD:
        p4_applyset_crd(a);
        break;
    case APPLY_PLANNED: /* p4_applyset_resume() starts the timer again */
        break;
    case APPLY_SWEEP:
        p4_applyset_sweep(a);
        break;
    case APPLY_PRUNE:
        p4_applyset_prune(a);
        break;
    case APPLY_FINISH:
        report(a);
        break;
    }
}

void p4_applyset_go(struct p4_applyset *a, enum p4_applyset_step step, uint64_t ms)
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
    a->no_prune = o->no_prune;
    a->prune_only = o->prune_only;
    a->planned = o->planned;
    a->sweep = o->sweep;
    a->owner_uid = o->owner_uid && o->owner_uid[0] ? p4_strdup(o->owner_uid) : NULL;
    a->owner_created = p4_strdup_or_null(o->owner_created);
    a->adopt = o->adopt;
    a->uninstall = o->uninstall;
    a->unmark = o->unmark;
    a->delete_crds = o->delete_crds;
    a->sweep_stage_work = o->sweep_stage_work;
    a->min_left_tier = INT_MAX;
    p4_inventory_copy(o->sweep_also, &a->sweep_also);
    a->scope_ns = p4_strdup_or_null(o->scope_namespace);
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
        p4_applyset_fail(a, NULL, err.code, NULL, P4_FAIL_ARTIFACT, "%s", err.message);
    } else {
        cJSON *obj;
        cJSON_ArrayForEach(obj, a->objects) {
            (void)p4_applyset_mark(obj, a->owner_ns, a->owner_name, a->generation);
            (void)p4_applyset_mark_uid(obj, a->owner_uid);
        }
        p4_applyset_go(a, APPLY_LOOKUP, 0);
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

void p4_applyset_resume(struct p4_applyset *a)
{
    if (a == NULL || a->gone || a->step != APPLY_PLANNED)
        return;
    p4_applyset_go(a, a->after_planned, 0);
}
