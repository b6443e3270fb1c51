/*
 * healthsummary.c: status.health, the summary a person reads while the Kubernetes stage waits:
 * the target namespace, ready/total of each workload kind the release has (Deployments,
 * StatefulSets, DaemonSets, Jobs complete) and Services active/total (of those applied), the
 * pods its workloads select up/total (Running, or Succeeded for a Job's), and the namespace's
 * recent Warning Events (but those about Phase4Deployments). The pod counts are kept as pods come
 * and go (watches.c) and counted again here when the workloads' selectors change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "steps.h"

static const char *const workload_members[WL_COUNT] = {"deployments", "statefulsets", "daemonsets",
                                                       "jobs"};

enum p4_kstage_workload p4_kstage_workload_of(const char *kind)
{
    static const char *const kinds[WL_COUNT] = {"Deployment", "StatefulSet", "DaemonSet", "Job"};

    for (int k = 0; kind != NULL && k < WL_COUNT; k++) {
        if (strcmp(kind, kinds[k]) == 0)
            return (enum p4_kstage_workload)k;
    }
    return WL_COUNT;
}

static int collect_event(const char *key, const cJSON *event, void *data)
{
    (void)key;
    if (!p4_kstage_about_us(event))
        cJSON_AddItemToArray(data, p4_json_need(cJSON_Duplicate(event, 1)));
    return 0;
}

static int count_selected(const char *key, const cJSON *pod, void *data)
{
    struct run *r = data;

    (void)key;
    if (p4_kstage_selects(r->selectors, pod)) {
        r->pods_total++;
        r->pods_running += p4_kstage_pod_up(pod);
    }
    return 0;
}

void p4_kstage_count_pods(struct run *r, cJSON *selectors)
{
    if (r->selectors && r->pods_total >= 0 && cJSON_Compare(r->selectors, selectors, 1)) {
        cJSON_Delete(selectors);
        return;
    }
    cJSON_Delete(r->selectors);
    r->selectors = selectors;
    r->pods_total = r->pods_running = 0;
    if (r->nsw && r->k->pods) /* a namespace not listed yet: its pods are counted as they come */
        (void)p4_informer_each_in(r->k->pods, r->nsw->ns, count_selected, r);
}

/* The namespace's recent Warning Events, made again only after they changed. */
static cJSON *recent_events(struct nswatch *w)
{
    cJSON *list, *recent;

    if (w->recent == NULL || w->events_dirty) {
        list = p4_json_need(cJSON_CreateArray());
        if (w->k->events)
            (void)p4_informer_each_in(w->k->events, w->ns, collect_event, list);
        recent = p4_diagnose_recent_warnings(list, P4_KUBE_STAGE_RECENT_EVENTS);
        cJSON_Delete(list);
        free(w->recent);
        w->recent = recent ? p4_json_print(recent) : NULL;
        cJSON_Delete(recent);
        w->events_dirty = false;
    }
    recent = w->recent ? cJSON_Parse(w->recent) : NULL;
    return recent ? recent : p4_json_need(cJSON_CreateArray());
}

char *p4_kstage_health_json(const struct run *r, const struct p4_kstage_counts *c,
                            const char *problem)
{
    cJSON *h = p4_json_need(cJSON_CreateObject());
    struct nswatch *w = r->nsw;
    char buf[64];
    char *text;

    p4_json_need(cJSON_AddStringToObject(h, "namespace", r->base.target_ns));
    for (int k = 0; k < WL_COUNT; k++) {
        if (c->total[k] == 0) /* a kind the release does not have */
            continue;
        (void)snprintf(buf, sizeof(buf), "%d/%d", c->ready[k], c->total[k]);
        p4_json_need(cJSON_AddStringToObject(h, workload_members[k], buf));
    }
    (void)snprintf(buf, sizeof(buf), "%ld/%ld", r->pods_running, r->pods_total);
    p4_json_need(cJSON_AddStringToObject(h, "pods", buf));
    (void)snprintf(buf, sizeof(buf), "%d/%d", c->svc_active, c->svc_total);
    p4_json_need(cJSON_AddStringToObject(h, "services", buf));
    cJSON_AddItemToObject(h, "recentEvents",
                          w ? recent_events(w) : p4_json_need(cJSON_CreateArray()));
    if (problem && problem[0])
        p4_json_need(cJSON_AddStringToObject(h, "problem", problem));
    text = p4_json_print(h);
    cJSON_Delete(h);
    return text;
}
