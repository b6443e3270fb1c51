/*
 * drift.c: objects the stage applied that someone changed or deleted by hand.
 *
 * A watch sees an applied object deleted, or its metadata.generation move past what the apply
 * left (p4_kstage_drifted): the run is marked, and its next poll, once the stage passed, begins
 * a new attempt that applies the manifest again (p4_kstage_drift_poll), taking back fields an
 * update took over. What that apply put back becomes a Warning Event DriftCorrected on the
 * resource (p4_kstage_drift_message), emitted on the poll after it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/runtime/events.h"
#include "steps.h"

/* The index of obj (of kind) in inv, or -1. */
static long inv_index(const struct p4_inventory *inv, const char *kind, const cJSON *obj)
{
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");

    for (size_t i = 0; name && i < inv->n; i++) {
        const struct p4_inv_entry *e = &inv->items[i];
        if (strcmp(e->kind, kind) == 0 && strcmp(e->name, name) == 0 &&
            strcmp(e->namespace_, ns ? ns : "") == 0)
            return (long)i;
    }
    return -1;
}

bool p4_kstage_drifted(const struct p4_inventory *inv, const int64_t *gens, const char *kind,
                       const cJSON *obj, bool gone)
{
    long i;
    int64_t g = 0;

    if (kind == NULL || (i = inv_index(inv, kind, obj)) < 0)
        return false;
    return gone || (p4_json_int64(obj, "metadata.generation", &g) == 0 && gens && gens[i] > 0 &&
                    g > gens[i]);
}

/* "Deployment shop/web" for each entry, comma-separated, cut to fit. */
static void list_entries(const struct p4_inventory *inv, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < inv->n && used + 8 < size; i++) {
        const struct p4_inv_entry *e = &inv->items[i];
        int w = snprintf(buf + used, size - used, "%s%s %s%s%s", i ? ", " : "", e->kind,
                         e->namespace_, e->namespace_[0] ? "/" : "", e->name);
        if (w < 0 || (size_t)w >= size - used) {
            memcpy(buf + size - 4, "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

bool p4_kstage_drift_message(const struct p4_applyset_result *res, bool again, int64_t generation,
                             char *buf, size_t size)
{
    char what[400];
    size_t used;

    /* Drift: applied again for the same generation and something had to be put back. */
    if (!((again && (res->created.n || res->changed.n)) || (res->taken && res->taken[0])))
        return false;
    list_entries(res->created.n ? &res->created : &res->changed, what, sizeof(what));
    used = (size_t)snprintf(buf, size,
                            "objects applied by generation %" PRId64
                            " were changed outside phase4-operator and put back",
                            generation);
    if (res->taken && res->taken[0] && used < size)
        (void)snprintf(buf + used, size - used, ": %s", res->taken);
    else if (what[0] && used < size)
        (void)snprintf(buf + used, size - used, ": %s%s", res->created.n ? "re-created " : "",
                       what);
    return true;
}

bool p4_kstage_drift_poll(struct run *r, const cJSON *obj)
{
    struct p4_kube_stage *k = r->k;

    if (r->drift_event[0]) {
        if (k->cfg.events)
            p4_events_emit(k->cfg.events, obj, "Warning", "DriftCorrected", r->drift_event);
        p4_log(P4_LOG_INFO, "drift corrected", "key", r->base.key, "what", r->drift_event,
               P4_LOG_END);
        r->drift_event[0] = '\0';
    }
    if (r->drift && r->applied && !p4_kstage_attempt_busy(r) && r->base.state == P4_STAGE_PASSED) {
        /* Changed by hand: apply this generation's manifest again (a new attempt, no wait). */
        r->drift = false;
        p4_stagerun_restart_in(&r->base, 0);
        return true;
    }
    return false;
}
