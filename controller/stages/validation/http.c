/*
 * stages/validation/http.c: S_HTTP, the HealthEndpoints gate (see steps.h).
 *
 * Every check is probed at once: a Service through the API server's service proxy as the
 * resource's identity (r->base.kube), a URL directly. A check passes after successThreshold
 * answers in a row that httpjudge.c accepts, and fails after failureThreshold in a row that it
 * does not; probes of one check are interval apart. The gate passes when every check passed;
 * at the first check that failed no new probe starts, and the gate fails once the probes out
 * have come back. The run's one timer wakes the next due probe.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/kube/apistatus.h"
#include "steps.h"

struct hcheck {
    struct p4_vstage_check c;
    int ok_run, fail_run;
    bool done, passed, out;
    uint64_t due; /* loop time of the next probe */
    const char *reason;
    char last[640]; /* why the last probe failed, or how the last passed */
};

struct p4_vstage_http_state {
    struct hcheck *checks;
    int n;
    int out;    /* probes in flight */
    int failed; /* the first check that failed, or -1 */
};

/* One probe in flight (its answer's data). */
struct probe {
    struct run *r;
    int i;
    uint64_t sent; /* loop time */
};

static void tick(struct run *r);

static void on_tick(uv_timer_t *t)
{
    tick(t->data);
}

/* Every probe is back: the gate's result. */
static void conclude(struct run *r)
{
    struct p4_vstage_http_state *st = r->w->http;
    struct p4_error err = {.code = P4_ERR_INVALID};

    if (st->failed >= 0) {
        const struct hcheck *h = &st->checks[st->failed];
        p4_text_format(err.message, sizeof(err.message),
                       "health check %s failed %d time(s) in a row: %s", h->c.name,
                       h->c.failure_threshold, h->last);
        p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_HTTP, h->reason, &err);
        return;
    }
    if (st->n == 1)
        p4_stagerun_gate(&r->base, G_HTTP, "True", "HealthChecksPassed",
                         "health check %s answered %s", st->checks[0].c.name, st->checks[0].last);
    else
        p4_stagerun_gate(&r->base, G_HTTP, "True", "HealthChecksPassed",
                         "%d health check(s) answered as expected", st->n);
    p4_stagerun_next(&r->base, S_SMOKE);
}

/* A probe's outcome into its check. */
static void record(struct run *r, int i, bool ok, const char *reason, const char *why)
{
    struct p4_vstage_http_state *st = r->w->http;
    struct hcheck *h = &st->checks[i];

    h->out = false;
    st->out--;
    (void)snprintf(h->last, sizeof(h->last), "%s", why);
    p4_stagerun_redact(&r->base, h->last, sizeof(h->last));
    if (ok) {
        h->fail_run = 0;
        if (++h->ok_run >= h->c.success_threshold)
            h->done = h->passed = true;
    } else {
        h->ok_run = 0;
        h->reason = reason;
        if (++h->fail_run >= h->c.failure_threshold) {
            h->done = true;
            if (st->failed < 0)
                st->failed = i;
        }
    }
    h->due = uv_now(r->v->sr.loop) + h->c.interval_ms;
}

bool p4_vstage_from_api_server(const struct p4_kube_result *res)
{
    struct p4_error err;
    cJSON *doc;
    bool yes;

    if (res->st == NULL || !res->st->has_status || res->raw == NULL || res->raw_len == 0)
        return false;
    doc = p4_json_parse(res->raw, res->raw_len, &err);
    yes = p4_text_eq(p4_json_str(doc, "kind"), "Status") &&
          p4_text_eq(p4_json_str(doc, "apiVersion"), "v1");
    cJSON_Delete(doc);
    return yes;
}

/* The answer of a Service check: the backend's, or the API server's own refusal. */
static void on_proxied(struct p4_kube_result *res, void *data)
{
    struct probe *p = data;
    struct run *r = p->r;
    int i = p->i;
    char why[600];
    bool ok, api;

    free(p);
    if (p4_stagerun_back(&r->base) == NULL)
        return;
    api = p4_vstage_from_api_server(res);
    if (res->status == 0) { /* the API server did not answer: waited out, not the check's */
        struct p4_error err = res->err;
        if (res->rc == P4_ERR_TIMEOUT) {
            (void)snprintf(why, sizeof(why), "no answer within %" PRIu64 " ms",
                           r->w->http->checks[i].c.timeout_ms);
            record(r, i, false, "HealthCheckTimedOut", why);
        } else {
            r->w->http->checks[i].out = false;
            r->w->http->out--;
            if (r->w->http->out == 0) {
                p4_stagerun_fail(&r->base, P4_FAIL_TRANSIENT, G_HTTP, "APIUnavailable", &err);
                return;
            }
            r->w->http->failed = r->w->http->failed < 0 ? -2 : r->w->http->failed;
        }
    } else if (api && res->status == 404 && p4_text_eq(res->st->kind, "services")) {
        (void)snprintf(why, sizeof(why), "Service %s not found in namespace %s",
                       r->w->http->checks[i].c.service, r->base.target_ns);
        record(r, i, false, "ServiceNotFound", why);
    } else if (api && (res->status == 403 || res->status == 401)) {
        struct p4_error err = res->err;
        r->w->http->checks[i].out = false;
        r->w->http->out--;
        p4_text_format(err.message, sizeof(err.message),
                       "%s may not reach Service %s through the API server's service proxy "
                       "(get services/proxy in namespace %s): %s",
                       r->base.as && r->base.as[0] ? r->base.as : "phase4-operator",
                       r->w->http->checks[i].c.service, r->base.target_ns, res->err.message);
        if (r->w->http->out == 0) {
            p4_stagerun_fail(&r->base, P4_FAIL_CLUSTER, G_HTTP, "Forbidden", &err);
            return;
        }
        r->w->http->failed = r->w->http->failed < 0 ? -2 : r->w->http->failed;
    } else {
        ok = p4_vstage_http_judge(&r->w->http->checks[i].c, res->status, res->raw, res->raw_len,
                                  why, sizeof(why));
        if (!ok && api && res->st->message[0]) {
            /* The proxy's own answer (no endpoints, connection refused): its sentence. */
            char msg[400];
            p4_text_clean(msg, sizeof(msg), res->st->message, strlen(res->st->message), 0);
            (void)snprintf(why, sizeof(why), "status %ld from the API server's service proxy: %s",
                           res->status, msg);
        }
        record(r, i, ok, "HealthCheckFailed", why);
    }
    tick(r);
}

/* The answer of a URL check. */
static void on_direct(int rc, const struct p4_http_response *resp, void *data)
{
    struct probe *p = data;
    struct run *r = p->r;
    int i = p->i;
    char why[600];

    free(p);
    if (p4_stagerun_back(&r->base) == NULL)
        return;
    if (rc == P4_ERR_TIMEOUT) {
        (void)snprintf(why, sizeof(why), "no answer within %" PRIu64 " ms",
                       r->w->http->checks[i].c.timeout_ms);
        record(r, i, false, "HealthCheckTimedOut", why);
    } else if (rc != 0) {
        char detail[300];
        const char *e = resp && resp->error ? resp->error : p4_strerror(rc);
        p4_text_clean(detail, sizeof(detail), e, strlen(e), 0);
        (void)snprintf(why, sizeof(why), "%s", detail);
        record(r, i, false, "HealthCheckFailed", why);
    } else {
        bool ok = p4_vstage_http_judge(&r->w->http->checks[i].c, resp->status, resp->body,
                                       resp->len, why, sizeof(why));
        record(r, i, ok, "HealthCheckFailed", why);
    }
    tick(r);
}

/* Escape what a path may not hold as it stands (a space, a control or non-ASCII byte). */
static int escape_path(const char *in, char *out, size_t size)
{
    size_t o = 0;

    for (const unsigned char *s = (const unsigned char *)in; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '<' || *s == '>' || *s == '\\' ||
            *s == '^' || *s == '`' || *s == '{' || *s == '|' || *s == '}' || *s == '#') {
            if (o + 4 > size)
                return P4_ERR_TOOBIG;
            (void)snprintf(out + o, size - o, "%%%02X", *s);
            o += 3;
        } else {
            if (o + 2 > size)
                return P4_ERR_TOOBIG;
            out[o++] = (char)*s;
        }
    }
    out[o] = '\0';
    return 0;
}

int p4_vstage_proxy_path(const char *ns, const char *service, bool https, const char *port,
                         const char *path, char *out, size_t size)
{
    char ens[256], esvc[256], epath[6144];
    int n;

    if (p4_kube_escape(ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(service, esvc, sizeof(esvc)) != 0 ||
        escape_path(path, epath, sizeof(epath)) != 0)
        return P4_ERR_TOOBIG;
    n = snprintf(out, size, "/api/v1/namespaces/%s/services/%s%s:%s/proxy%s", ens,
                 https ? "https:" : "", esvc, port, epath);
    return n < 0 || (size_t)n >= size ? P4_ERR_TOOBIG : 0;
}

static int send_probe(struct run *r, int i)
{
    struct hcheck *h = &r->w->http->checks[i];
    struct probe *p = p4_calloc(1, sizeof(*p));
    int rc;

    p->r = r;
    p->i = i;
    p->sent = uv_now(r->v->sr.loop);
    p4_stagerun_out(&r->base);
    if (h->c.service) {
        char path[8192];
        rc = p4_vstage_proxy_path(r->base.target_ns, h->c.service, h->c.https, h->c.port, h->c.path,
                                  path, sizeof(path));
        if (rc == 0)
            rc = p4_kube_proxy(r->base.kube, h->c.method, path, (long)h->c.timeout_ms,
                               P4_VSTAGE_BODY_MAX, on_proxied, p);
    } else {
        struct p4_http_opts o = {.method = h->c.method,
                                 .url = h->c.url,
                                 .timeout_ms = (long)h->c.timeout_ms,
                                 .connect_timeout_ms = (long)h->c.timeout_ms,
                                 .max_body = P4_VSTAGE_BODY_MAX,
                                 .on_done = on_direct,
                                 .data = p};
        rc = p4_http_start(r->v->http, &o, NULL);
    }
    if (rc != 0) {
        p4_stagerun_unout(&r->base);
        free(p);
        return rc;
    }
    h->out = true;
    r->w->http->out++;
    return 0;
}

/* Send the probes that are due; arm the timer for the next; conclude once all are back. */
static void tick(struct run *r)
{
    struct p4_vstage_http_state *st = r->w->http;
    uint64_t now = uv_now(r->v->sr.loop), next = UINT64_MAX;
    bool open = false;

    for (int i = 0; i < st->n && st->failed == -1; i++) {
        struct hcheck *h = &st->checks[i];
        if (h->done)
            continue;
        open = true;
        if (h->out)
            continue;
        if (h->due <= now) {
            if (send_probe(r, i) != 0) {
                (void)snprintf(h->last, sizeof(h->last), "cannot send the request");
                h->reason = "HealthCheckFailed";
                h->done = true;
                st->failed = i;
                break;
            }
        } else if (h->due < next) {
            next = h->due;
        }
    }
    if (st->out > 0)
        return;             /* an answer ticks again */
    if (st->failed == -2) { /* the API server failed a probe: waited out */
        struct p4_error err;
        p4_error_set(&err, P4_ERR_TRANSPORT, "the API server did not answer a health check");
        p4_stagerun_fail(&r->base, P4_FAIL_TRANSIENT, G_HTTP, "APIUnavailable", &err);
        return;
    }
    if (st->failed >= 0 || !open) {
        conclude(r);
        return;
    }
    if (next != UINT64_MAX)
        p4_stagerun_arm(&r->base, next - now, on_tick);
}

void p4_vstage_http(struct run *r)
{
    const cJSON *list = p4_json_get(r->spec, "http"), *entry;
    struct p4_vstage_http_state *st;
    struct p4_error err;
    int i = 0, n = cJSON_GetArraySize(list);

    if (!cJSON_IsArray(list) || n == 0) {
        p4_stagerun_gate(&r->base, G_HTTP, "True", P4_VSTAGE_NOT_REQUIRED,
                         "no health endpoint declared in spec.validation.http");
        p4_stagerun_next(&r->base, S_SMOKE);
        return;
    }
    st = p4_calloc(1, sizeof(*st));
    st->checks = p4_calloc((size_t)n, sizeof(*st->checks));
    st->failed = -1;
    r->w->http = st;
    cJSON_ArrayForEach(entry, list) {
        if (p4_vstage_check_read(entry, i, &st->checks[i].c, &err) != 0) {
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_HTTP, "InvalidHealthCheck", &err);
            return;
        }
        i++;
    }
    st->n = i;
    p4_stagerun_gate(&r->base, G_HTTP, "Unknown", "Probing", "probing %d health check(s)", st->n);
    tick(r);
}

void p4_vstage_http_end(struct run *r)
{
    if (r->w->http == NULL)
        return;
    free(r->w->http->checks);
    free(r->w->http);
    r->w->http = NULL;
}
