/* leader.c: Lease-based leader election (see leader.h). */
#include "phase4/runtime/leader.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"

struct p4_leader {
    uv_loop_t *loop;
    struct p4_kube *kube;
    char *ns, *name, *identity;
    uint64_t lease_ms, renew_deadline_ms, retry_ms;
    void (*on_elected)(void *);
    void (*on_lost)(void *);
    void *data;
    uv_timer_t timer;
    uv_timer_t deadline; /* armed at each renewal: fires renew_deadline_ms later */
    int closing;         /* handles still to close before l is freed */
    int leading;
    int in_flight;
    int releasing;
    uint64_t last_renew;   /* uv_now of our last successful renew */
    char *observed_record; /* holder|renewTime|transitions last seen */
    uint64_t observed_at;  /* uv_now when the record last changed */
    uint64_t transitions;
    void (*done)(void *);
    void *done_arg;
};

static void try_acquire(struct p4_leader *l);

static void micro_time(char *buf, size_t size)
{
    struct timeval tv;
    struct tm tm;
    char base[32];

    (void)gettimeofday(&tv, NULL);
    (void)gmtime_r(&tv.tv_sec, &tm);
    (void)strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    (void)snprintf(buf, size, "%s.%06ldZ", base, (long)tv.tv_usec);
}

static void lease_path(const struct p4_leader *l, char *buf, size_t size, int with_name)
{
    char ens[256], ename[256];

    (void)p4_kube_escape(l->ns, ens, sizeof(ens));
    (void)p4_kube_escape(l->name, ename, sizeof(ename));
    (void)snprintf(buf, size, "/apis/coordination.k8s.io/v1/namespaces/%s/leases%s%s", ens,
                   with_name ? "/" : "", with_name ? ename : "");
}

static void on_timer_closed(uv_handle_t *h)
{
    struct p4_leader *l = h->data;
    void (*done)(void *) = l->done;
    void *arg = l->done_arg;

    if (--l->closing > 0)
        return;
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l->observed_record);
    free(l);
    if (done)
        done(arg);
}

static void finish_release(struct p4_leader *l)
{
    l->closing = 2;
    uv_close((uv_handle_t *)&l->deadline, on_timer_closed);
    uv_close((uv_handle_t *)&l->timer, on_timer_closed);
}

static void set_leading(struct p4_leader *l, int leading)
{
    if (leading == l->leading)
        return;
    l->leading = leading;
    if (leading) {
        l->transitions++;
        p4_log(P4_LOG_INFO, "became the leader", "lease", l->name, "identity", l->identity,
               P4_LOG_END);
        if (l->on_elected)
            l->on_elected(l->data);
    } else {
        p4_log(P4_LOG_WARN, "lost the leader lease", "lease", l->name, P4_LOG_END);
        if (l->on_lost)
            l->on_lost(l->data);
    }
}

static void on_timer(uv_timer_t *t)
{
    try_acquire(t->data);
}

/*
 * The renew deadline passed since the last renewal: stop leading now, whatever the request in
 * flight is doing (with etcd down it may hang far past the lease, while another instance takes
 * over). Its answer, when it comes, decides what next: a renewal that did succeed (the PUT is
 * conditional on the resourceVersion, so no one took the lease meanwhile) leads again.
 */
static void on_deadline(uv_timer_t *t)
{
    struct p4_leader *l = t->data;
    char ms[24];

    if (!l->leading || l->releasing)
        return;
    (void)snprintf(ms, sizeof(ms), "%" PRIu64, l->renew_deadline_ms);
    p4_log(P4_LOG_WARN, "could not renew the leader lease within the renew deadline", "lease",
           l->name, "renew_deadline_ms", ms, P4_LOG_END);
    set_leading(l, 0);
}

static void again(struct p4_leader *l)
{
    if (!l->releasing)
        (void)uv_timer_start(&l->timer, on_timer, l->retry_ms, 0);
}

/* Build the Lease we want written: held by us, renewed now. */
static char *lease_body(const struct p4_leader *l, const cJSON *cur, int take_over, int release)
{
    cJSON *lease, *meta, *spec;
    char now[40];
    int64_t transitions = 0;
    uint64_t lease_seconds = (l->lease_ms + 999) / 1000;
    const char *rv = cur ? p4_json_str(cur, "metadata.resourceVersion") : NULL;
    const char *acquired = cur ? p4_json_str(cur, "spec.acquireTime") : NULL;
    char *out;

    micro_time(now, sizeof(now));
    if (cur)
        (void)p4_json_int64(cur, "spec.leaseTransitions", &transitions);
    lease = cJSON_CreateObject();
    cJSON_AddStringToObject(lease, "apiVersion", "coordination.k8s.io/v1");
    cJSON_AddStringToObject(lease, "kind", "Lease");
    meta = cJSON_AddObjectToObject(lease, "metadata");
    cJSON_AddStringToObject(meta, "name", l->name);
    cJSON_AddStringToObject(meta, "namespace", l->ns);
    if (rv)
        cJSON_AddStringToObject(meta, "resourceVersion", rv);
    spec = cJSON_AddObjectToObject(lease, "spec");
    cJSON_AddStringToObject(spec, "holderIdentity", release ? "" : l->identity);
    cJSON_AddNumberToObject(spec, "leaseDurationSeconds", release ? 1.0 : (double)lease_seconds);
    cJSON_AddStringToObject(spec, "acquireTime", take_over || !acquired ? now : acquired);
    cJSON_AddStringToObject(spec, "renewTime", now);
    cJSON_AddNumberToObject(spec, "leaseTransitions",
                            (double)(transitions + (take_over && cur ? 1 : 0)));
    out = p4_json_print(lease);
    cJSON_Delete(lease);
    return out;
}

static void release_now(struct p4_leader *l);

static void on_written(struct p4_kube_result *res, void *data)
{
    struct p4_leader *l = data;

    l->in_flight = 0;
    if (l->releasing) { /* the release waited for this write: now give the lease back */
        release_now(l);
        return;
    }
    if (res->rc == 0) {
        l->last_renew = uv_now(l->loop);
        (void)uv_timer_start(&l->deadline, on_deadline, l->renew_deadline_ms, 0);
        set_leading(l, 1);
    } else {
        p4_log(P4_LOG_DEBUG, "lease update failed", "error", res->err.message, P4_LOG_END);
        if (l->leading && uv_now(l->loop) - l->last_renew > l->renew_deadline_ms)
            set_leading(l, 0);
    }
    again(l);
}

static void write_lease(struct p4_leader *l, const cJSON *cur, int take_over)
{
    char path[640];
    char *body = lease_body(l, cur, take_over, 0);

    lease_path(l, path, sizeof(path), cur != NULL);
    l->in_flight = 1;
    if (p4_kube_request(l->kube, cur ? "PUT" : "POST", path, NULL, body, strlen(body), on_written,
                        l) != 0) {
        l->in_flight = 0;
        again(l);
    }
    free(body);
}

static void on_lease(struct p4_kube_result *res, void *data)
{
    struct p4_leader *l = data;
    const char *holder;
    char record[512];
    uint64_t now = uv_now(l->loop);
    int64_t transitions = 0;

    l->in_flight = 0;
    if (l->releasing) {
        release_now(l);
        return;
    }
    if (res->rc == P4_ERR_NOTFOUND) {
        write_lease(l, NULL, 1);
        return;
    }
    if (res->rc != 0) {
        p4_log(P4_LOG_DEBUG, "cannot read the lease", "error", res->err.message, P4_LOG_END);
        if (l->leading && now - l->last_renew > l->renew_deadline_ms)
            set_leading(l, 0);
        again(l);
        return;
    }
    holder = p4_json_str(res->body, "spec.holderIdentity");
    (void)p4_json_int64(res->body, "spec.leaseTransitions", &transitions);
    (void)snprintf(
        record, sizeof(record), "%s|%s|%" PRId64, holder ? holder : "",
        p4_json_str(res->body, "spec.renewTime") ? p4_json_str(res->body, "spec.renewTime") : "",
        transitions);
    if (l->observed_record == NULL || strcmp(record, l->observed_record) != 0) {
        free(l->observed_record);
        l->observed_record = p4_strdup(record);
        l->observed_at = now;
    }
    if (holder && holder[0] && strcmp(holder, l->identity) != 0) {
        int64_t secs = 0;
        uint64_t duration = l->lease_ms;
        if (p4_json_int64(res->body, "spec.leaseDurationSeconds", &secs) == 0 && secs > 0)
            duration = (uint64_t)secs * 1000;
        if (now < l->observed_at + duration) {
            set_leading(l, 0); /* someone else holds a live lease */
            again(l);
            return;
        }
        write_lease(l, res->body, 1); /* expired: take it over */
        return;
    }
    write_lease(l, res->body, holder == NULL || holder[0] == '\0');
}

static void try_acquire(struct p4_leader *l)
{
    char path[640];

    if (l->releasing || l->in_flight)
        return;
    lease_path(l, path, sizeof(path), 1);
    l->in_flight = 1;
    if (p4_kube_request(l->kube, "GET", path, NULL, NULL, 0, on_lease, l) != 0) {
        l->in_flight = 0;
        again(l);
    }
}

struct p4_leader *p4_leader_new(uv_loop_t *loop, struct p4_kube *k, const struct p4_leader_opts *o)
{
    struct p4_leader *l = p4_calloc(1, sizeof(*l));

    l->loop = loop;
    l->kube = k;
    l->ns = p4_strdup(o->namespace);
    l->name = p4_strdup(o->name);
    l->identity = p4_strdup(o->identity);
    l->lease_ms = o->lease_ms ? o->lease_ms : 15000;
    l->renew_deadline_ms = o->renew_deadline_ms ? o->renew_deadline_ms : 10000;
    l->retry_ms = o->retry_ms ? o->retry_ms : 2000;
    l->on_elected = o->on_elected;
    l->on_lost = o->on_lost;
    l->data = o->data;
    (void)uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    (void)uv_timer_init(loop, &l->deadline);
    l->deadline.data = l;
    return l;
}

void p4_leader_start(struct p4_leader *l)
{
    (void)uv_timer_start(&l->timer, on_timer, 0, 0);
}

int p4_leader_is_leader(const struct p4_leader *l)
{
    return l && l->leading;
}

uint64_t p4_leader_transitions(const struct p4_leader *l)
{
    return l ? l->transitions : 0;
}

void p4_leader_metrics(const struct p4_leader *l, int without_election, struct p4_buf *out)
{
    p4_buf_printf(out,
                  "# HELP phase4_leader Whether this process is the leader.\n"
                  "# TYPE phase4_leader gauge\n"
                  "phase4_leader %d\n",
                  l ? p4_leader_is_leader(l) : without_election);
}

struct release_ctx {
    struct p4_leader *l;
    char *body;
};

static void on_released(struct p4_kube_result *res, void *data)
{
    struct p4_leader *l = data;

    if (res->rc == 0)
        p4_log(P4_LOG_INFO, "released the leader lease", "lease", l->name, P4_LOG_END);
    else
        p4_log(P4_LOG_WARN, "cannot release the leader lease", "error", res->err.message,
               P4_LOG_END);
    finish_release(l);
}

static void on_release_read(struct p4_kube_result *res, void *data)
{
    struct p4_leader *l = data;
    const char *holder = res->rc == 0 ? p4_json_str(res->body, "spec.holderIdentity") : NULL;
    char path[640], *body;

    if (holder == NULL || strcmp(holder, l->identity) != 0) {
        finish_release(l);
        return;
    }
    body = lease_body(l, res->body, 0, 1);
    lease_path(l, path, sizeof(path), 1);
    if (p4_kube_request(l->kube, "PUT", path, NULL, body, strlen(body), on_released, l) != 0)
        finish_release(l);
    free(body);
}

void p4_leader_release(struct p4_leader *l, void (*done)(void *), void *arg)
{
    int was_leading;

    if (l == NULL) {
        if (done)
            done(arg);
        return;
    }
    was_leading = l->leading;
    l->releasing = 1;
    l->leading = 0;
    l->done = done;
    l->done_arg = arg;
    (void)uv_timer_stop(&l->timer);
    (void)uv_timer_stop(&l->deadline);
    if (l->in_flight)
        return; /* its callback sees releasing and releases (a renewal may just have won) */
    if (!was_leading) {
        finish_release(l);
        return;
    }
    release_now(l);
}

/* Read the lease and, if this instance holds it, give it up (on_release_read). */
static void release_now(struct p4_leader *l)
{
    char path[640];

    lease_path(l, path, sizeof(path), 1);
    if (p4_kube_request(l->kube, "GET", path, NULL, NULL, 0, on_release_read, l) != 0)
        finish_release(l);
}
