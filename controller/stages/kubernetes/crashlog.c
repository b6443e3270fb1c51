/*
 * crashlog.c: a crash loop's last log lines. When the wait fails on a container in
 * CrashLoopBackOff, PodsRunning fails only once the last lines of its previous run's log are
 * read (or could not be), so the message says why it crashed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/log.h"
#include "steps.h"

void p4_kstage_append_log_tail(char *message, size_t size, const char *log)
{
    char tail[200];
    size_t used;

    p4_log_tail(log, tail, sizeof(tail));
    used = strlen(message);
    if (tail[0] && used + 24 < size)
        (void)snprintf(message + used, size - used, " Last log lines: %s", tail);
}

int p4_kstage_crash_log_path(const char *ns, const char *pod, const char *container, char *buf,
                             size_t size)
{
    char epod[512], ec[256];

    if (p4_kube_escape(pod, epod, sizeof(epod)) != 0 ||
        p4_kube_escape(container, ec, sizeof(ec)) != 0)
        return P4_ERR_TOOBIG;
    p4_core_path(buf, size, ns, "pods", "");
    (void)snprintf(buf + strlen(buf), size - strlen(buf),
                   "/%s/log?container=%s&previous=true&tailLines=5&limitBytes=4096", epod, ec);
    return 0;
}

/* A crash loop's failure, waiting for the container's last log lines. */
struct crash {
    struct run *r;
    struct p4_error err;
    enum p4_failure_class cls;
};

static void on_crash_log(struct p4_kube_result *res, void *data)
{
    struct crash *c = data;
    struct run *r = (struct run *)p4_stagerun_back(c->r);

    if (r != NULL) {
        if (res->rc == 0 && cJSON_IsString(res->body))
            p4_kstage_append_log_tail(c->err.message, sizeof(c->err.message),
                                      res->body->valuestring);
        else
            p4_log(P4_LOG_DEBUG, "cannot read a crashing container's log", "key", r->base.key,
                   "error", res->err.message, P4_LOG_END);
        p4_stagerun_fail(&r->base, c->cls == P4_FAIL_NONE ? P4_FAIL_ARTIFACT : c->cls, G_PODS,
                         c->err.reason, &c->err);
    }
    free(c);
}

/* Ask for the last lines of the crashed container's log (its previous run); 0 when asked. */
int p4_kstage_read_crash_log(struct run *r, const struct p4_error *err, enum p4_failure_class cls,
                             const char *pod, const char *container)
{
    char path[1400];
    struct crash *c;

    if (p4_kstage_crash_log_path(r->base.target_ns, pod, container, path, sizeof(path)) != 0)
        return P4_ERR_TOOBIG;
    c = p4_calloc(1, sizeof(*c));
    c->r = r;
    c->err = *err;
    c->cls = cls;
    r->base.inflight++; /* the wait is over: no evaluation until the failure is in */
    if (p4_kube_get_accept(r->k->cfg.kube, path, "text/plain", on_crash_log, c) != 0) {
        r->base.inflight--;
        free(c);
        return P4_ERR_INTERNAL;
    }
    return 0;
}