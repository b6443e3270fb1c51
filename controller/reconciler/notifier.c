/* notifier.c: spec.notify's documents delivered on the loop (see notifier.h). */
#include "phase4/reconciler/notifier.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/strmap.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/core/url.h"
#include "phase4/net/http.h"
#include "phase4/reconciler/stagerun.h"

#define POST_TIMEOUT_MS 10000
#define ANSWER_MAX 4096 /* the webhook's answer is not read: only its status */

enum result { R_DELIVERED, R_REJECTED, R_UNREACHABLE, R_ERROR, R_COUNT };
static const char *const result_names[R_COUNT] = {"delivered", "rejected", "unreachable", "error"};

struct p4_notifier {
    uv_loop_t *loop;
    struct p4_notifier_config cfg;
    struct p4_http *http;
    struct p4_strmap keys; /* key -> struct entry */
    uint64_t results[R_COUNT];
    int live; /* entries and deliveries not freed yet: n goes when closing and 0 */
    int inflight;
    bool closing;
};

/* One resource: its delivery in flight, its outcomes not yet recorded, its timer. */
struct entry {
    struct p4_notifier *n;
    char *key;
    uv_timer_t timer;
    struct delivery *d;
    struct p4_notify_outcome *outcomes;
    size_t nout;
    bool closing;
};

struct delivery {
    struct entry *e;
    char id[320];
    char event[64];
    int attempt;
    char *url, *body, *ns;
    size_t len;
    bool insecure;
    cJSON *spec; /* a copy of spec.notify */
    struct p4_kube *kube;
    bool own_kube;
    unsigned char *token, *hmac, *ca;
    size_t token_len, hmac_len, ca_len;
};

/* Is key's resource gone (deleted)? Without an informer (tests), never. */
static bool gone(const struct p4_notifier *n, const char *key)
{
    return n->cfg.resources != NULL && p4_informer_get(n->cfg.resources, key) == NULL;
}

static void maybe_free(struct p4_notifier *n)
{
    if (n->closing && n->live == 0) {
        p4_strmap_close(&n->keys);
        free(n);
    }
}

struct p4_notifier *p4_notifier_new(uv_loop_t *loop, const struct p4_notifier_config *cfg)
{
    struct p4_notifier *n = p4_calloc(1, sizeof(*n));

    n->loop = loop;
    n->cfg = *cfg;
    if (n->cfg.timeout_ms <= 0)
        n->cfg.timeout_ms = POST_TIMEOUT_MS;
    n->http = p4_http_new(loop);
    p4_strmap_init(&n->keys);
    if (n->http == NULL) {
        p4_strmap_close(&n->keys);
        free(n);
        return NULL;
    }
    return n;
}

static void on_entry_closed(uv_handle_t *h)
{
    struct entry *e = h->data;
    struct p4_notifier *n = e->n;

    free(e->key);
    free(e->outcomes);
    free(e);
    n->live--;
    maybe_free(n);
}

/* Forget key's entry (nothing in flight): its timer closes, then it is freed. */
static void drop_entry(struct entry *e)
{
    if (e->closing)
        return;
    e->closing = true;
    if (!e->n->closing)
        (void)p4_strmap_del(&e->n->keys, e->key);
    uv_close((uv_handle_t *)&e->timer, on_entry_closed);
}

void p4_notifier_free(struct p4_notifier *n)
{
    size_t pos = 0;
    const struct p4_strmap_entry *it;

    if (n == NULL)
        return;
    n->closing = true;
    while ((it = p4_strmap_next(&n->keys, &pos)) != NULL) {
        struct entry *e = it->value;
        if (e->d == NULL)
            drop_entry(e); /* with a delivery in flight, its end drops it */
    }
    p4_http_close(n->http); /* posts in flight end with P4_ERR_CANCELED */
    maybe_free(n);
}

static struct entry *entry_for(struct p4_notifier *n, const char *key, bool create)
{
    struct entry *e = p4_strmap_get(&n->keys, key);

    if (e != NULL || !create)
        return e;
    e = p4_calloc(1, sizeof(*e));
    e->n = n;
    e->key = p4_strdup(key);
    (void)uv_timer_init(n->loop, &e->timer);
    e->timer.data = e;
    n->live++;
    (void)p4_strmap_put(&n->keys, key, e);
    return e;
}

const struct p4_notify_outcome *p4_notifier_outcomes(const struct p4_notifier *n, const char *key,
                                                     size_t *count)
{
    const struct entry *e = n ? p4_strmap_get(&n->keys, key) : NULL;

    *count = e ? e->nout : 0;
    return e ? e->outcomes : NULL;
}

static void delivery_free(struct delivery *d)
{
    if (d->own_kube)
        p4_kube_close(d->kube);
    free(d->url);
    p4_wipe_free(d->body, d->len); /* not a secret, but the signature's input */
    free(d->ns);
    cJSON_Delete(d->spec);
    p4_wipe_free(d->token, d->token_len);
    p4_wipe_free(d->hmac, d->hmac_len);
    free(d->ca);
    free(d);
}

/* The delivery ended with ok/reason/message: keep the outcome and tell the reconciler. */
static void finish(struct delivery *d, enum result res, bool ok, const char *reason,
                   const char *message)
{
    struct entry *e = d->e;
    struct p4_notifier *n = e->n;
    char at[32];
    bool canceled = n->closing;

    e->d = NULL;
    n->inflight--;
    if (!canceled) {
        struct p4_notify_outcome *o;
        e->outcomes = p4_realloc(e->outcomes, (e->nout + 1) * sizeof(*e->outcomes));
        o = &e->outcomes[e->nout++];
        memset(o, 0, sizeof(*o));
        (void)snprintf(o->id, sizeof(o->id), "%s", d->id);
        o->attempt = d->attempt;
        o->ok = ok;
        (void)snprintf(o->reason, sizeof(o->reason), "%s", reason);
        p4_text_format(o->message, sizeof(o->message), "%s", message);
        p4_timefmt_format(time(NULL), at, sizeof(at));
        (void)snprintf(o->at, sizeof(o->at), "%s", at);
        char attempt[16];
        n->results[res]++;
        (void)snprintf(attempt, sizeof(attempt), "%d", d->attempt);
        p4_log(ok ? P4_LOG_INFO : P4_LOG_WARN,
               ok ? "notification delivered" : "notification not delivered", "key", e->key, "id",
               d->id, "attempt", attempt, "reason", reason, "message", o->message, P4_LOG_END);
    }
    delivery_free(d);
    n->live--;
    if (canceled || gone(n, e->key)) {
        drop_entry(e);
        maybe_free(n);
        return;
    }
    if (n->cfg.changed)
        n->cfg.changed(e->key, n->cfg.data);
}

static void failf(struct delivery *d, enum result res, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void failf(struct delivery *d, enum result res, const char *reason, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    finish(d, res, false, reason, msg);
}

static void on_posted(int rc, const struct p4_http_response *resp, void *data)
{
    struct delivery *d = data;
    char shown[512];

    p4_url_display(d->url, shown, sizeof(shown));
    if (rc == 0 && resp->status >= 200 && resp->status < 300) {
        char msg[640];
        (void)snprintf(msg, sizeof(msg), "the %s notification was delivered to %s (HTTP %ld)",
                       d->event, shown, resp->status);
        finish(d, R_DELIVERED, true, P4_NOTIFY_REASON_DELIVERED, msg);
    } else if (rc == 0) {
        failf(d, R_REJECTED, "WebhookFailed",
              "the webhook %s answered HTTP %ld to the %s notification", shown, resp->status,
              d->event);
    } else {
        failf(d, R_UNREACHABLE, "WebhookUnreachable",
              "cannot reach the webhook %s for the %s notification: %s", shown, d->event,
              resp && resp->error ? resp->error : p4_strerror(rc));
    }
}

/* Is the token fit for a header: printable ASCII, no CR or LF? */
static bool header_safe(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    }
    return len > 0;
}

static void post(struct delivery *d)
{
    char shown[512], auth[4200 + 32], ts_h[64], sig_h[128], id_h[360], ev_h[96];
    const char *headers[8];
    struct p4_http_tls tls = {0};
    struct p4_http_opts o = {0};
    int h = 0;
    int64_t ts = (int64_t)time(NULL);

    p4_url_display(d->url, shown, sizeof(shown));
    if (p4_url_has_userinfo(d->url)) {
        failf(d, R_ERROR, "WebhookNotAllowed",
              "spec.notify.url %s holds user information; put a token in the Secret "
              "spec.notify.secretRef names instead",
              shown);
        return;
    }
    if (!p4_notify_url_allowed(d->e->n->cfg.allow, d->url)) {
        failf(d, R_ERROR, "WebhookNotAllowed",
              "the webhook %s is not under any URL prefix this operator's --notify-allow "
              "admits; ask its administrator, or use an allowed webhook",
              shown);
        return;
    }
    if ((d->token || d->hmac) && !p4_url_credentials_allowed(d->url, d->insecure)) {
        failf(d, R_ERROR, "WebhookNotAllowed",
              "the webhook %s is plain http://: its token and signature are sent only over "
              "https://, or with spec.notify.insecure: true",
              shown);
        return;
    }
    if (d->token && (!header_safe(d->token, d->token_len) || d->token_len > 4096)) {
        failf(d, R_ERROR, "WebhookSecretUnavailable",
              "the token in Secret %s/%s (spec.notify.secretRef) is empty, longer than 4096 "
              "bytes or not printable ASCII",
              d->ns, p4_json_str(d->spec, "secretRef.name"));
        return;
    }
    headers[h++] = "Content-Type: application/json";
    if (d->token) {
        (void)snprintf(auth, sizeof(auth), "Authorization: Bearer %.*s", (int)d->token_len,
                       (const char *)d->token);
        headers[h++] = auth;
    }
    (void)snprintf(id_h, sizeof(id_h), "X-Phase4-Id: %s", d->id);
    headers[h++] = id_h;
    (void)snprintf(ev_h, sizeof(ev_h), "X-Phase4-Event: %s", d->event);
    headers[h++] = ev_h;
    (void)snprintf(ts_h, sizeof(ts_h), "X-Phase4-Timestamp: %" PRId64, ts);
    headers[h++] = ts_h;
    if (d->hmac) {
        char sig[80];
        p4_notify_signature(d->hmac, d->hmac_len, ts, d->body, d->len, sig, sizeof(sig));
        (void)snprintf(sig_h, sizeof(sig_h), "X-Phase4-Signature: %s", sig);
        headers[h++] = sig_h;
    }
    headers[h] = NULL;
    tls.ca_pem = d->ca;
    tls.ca_len = d->ca_len;
    o.method = "POST";
    o.url = d->url;
    o.headers = headers;
    o.body = d->body;
    o.body_len = d->len;
    o.timeout_ms = d->e->n->cfg.timeout_ms;
    o.connect_timeout_ms = d->e->n->cfg.timeout_ms;
    o.max_body = ANSWER_MAX;
    o.tls = &tls;
    o.on_done = on_posted;
    o.data = d;
    if (p4_http_start(d->e->n->http, &o, NULL) != 0)
        failf(d, R_UNREACHABLE, "WebhookUnreachable", "cannot start a request to the webhook %s",
              shown);
    p4_wipe(auth, sizeof(auth));
}

static void read_ca(struct delivery *d);

static void on_ca(struct p4_kube_result *res, void *data)
{
    struct delivery *d = data;
    const char *kind = p4_json_str(d->spec, "caBundle.kind");
    const char *name = p4_json_str(d->spec, "caBundle.name");
    const char *key = p4_json_str(d->spec, "caBundle.key");
    bool secret = p4_text_eq(kind, "Secret");

    if (d->e->n->closing) {
        finish(d, R_ERROR, false, "", "");
        return;
    }
    if (key == NULL)
        key = "ca.crt";
    if (res->rc != 0) {
        failf(d, R_ERROR, "WebhookSecretUnavailable",
              "cannot read %s %s/%s (spec.notify.caBundle): %s", secret ? "Secret" : "ConfigMap",
              d->ns, name ? name : "", res->err.message);
        return;
    }
    free(d->ca);
    d->ca = p4_object_value(res->body, secret, key, &d->ca_len);
    if (secret)
        p4_secret_wipe(res->body);
    if (d->ca == NULL) {
        failf(d, R_ERROR, "WebhookSecretUnavailable",
              "%s %s/%s (spec.notify.caBundle) has no key \"%s\"", secret ? "Secret" : "ConfigMap",
              d->ns, name ? name : "", key);
        return;
    }
    post(d);
}

static void read_ca(struct delivery *d)
{
    const char *kind = p4_json_str(d->spec, "caBundle.kind");
    const char *name = p4_json_str(d->spec, "caBundle.name");
    char path[1024];

    if (name == NULL) {
        post(d);
        return;
    }
    p4_core_path(path, sizeof(path), d->ns, p4_text_eq(kind, "Secret") ? "secrets" : "configmaps",
                 name);
    if (p4_kube_request(d->kube, "GET", path, NULL, NULL, 0, on_ca, d) != 0)
        failf(d, R_ERROR, "WebhookSecretUnavailable", "cannot read spec.notify.caBundle %s/%s",
              d->ns, name);
}

static void on_secret(struct p4_kube_result *res, void *data)
{
    struct delivery *d = data;
    const char *name = p4_json_str(d->spec, "secretRef.name");

    if (d->e->n->closing) {
        finish(d, R_ERROR, false, "", "");
        return;
    }
    if (res->rc != 0) {
        failf(d, R_ERROR, "WebhookSecretUnavailable",
              "cannot read Secret %s/%s (spec.notify.secretRef): %s", d->ns, name,
              res->err.message);
        return;
    }
    d->token = p4_object_value(res->body, true, "token", &d->token_len);
    d->hmac = p4_object_value(res->body, true, "hmacKey", &d->hmac_len);
    d->ca = p4_object_value(res->body, true, "ca.crt", &d->ca_len);
    p4_secret_wipe(res->body);
    if (d->token == NULL && d->hmac == NULL && d->ca == NULL) {
        failf(d, R_ERROR, "WebhookSecretUnavailable",
              "Secret %s/%s (spec.notify.secretRef) has none of the keys token, hmacKey and "
              "ca.crt",
              d->ns, name);
        return;
    }
    read_ca(d);
}

/* Deliver entry p (a status.notifications.pending item) of obj, as its attempt attempts+1. */
static void start(struct entry *e, const cJSON *obj, const cJSON *p)
{
    struct p4_notifier *n = e->n;
    struct delivery *d = p4_calloc(1, sizeof(*d));
    const char *name = p4_json_str(obj, "spec.notify.secretRef.name");
    char user[P4_KUBE_USER_MAX], path[1024];
    int64_t attempts = 0;

    (void)p4_json_int64(p, "attempts", &attempts);
    d->e = e;
    d->attempt = (int)attempts + 1;
    (void)snprintf(d->id, sizeof(d->id), "%s", p4_json_str(p, "id"));
    (void)snprintf(d->event, sizeof(d->event), "%s",
                   p4_json_str(p, "event") ? p4_json_str(p, "event") : "");
    d->spec = p4_json_need(cJSON_Duplicate(p4_json_get(obj, "spec.notify"), 1));
    d->url = p4_strdup(p4_json_str(d->spec, "url") ? p4_json_str(d->spec, "url") : "");
    (void)p4_json_bool(d->spec, "insecure", &d->insecure);
    d->ns = p4_strdup(p4_json_str(obj, "metadata.namespace"));
    d->body = p4_json_print(p4_json_get(p, "document"));
    d->len = strlen(d->body);
    d->kube = n->cfg.kube;
    p4_tenancy_user(n->cfg.tenancy, obj, user, sizeof(user));
    if (user[0] && p4_kube_as(n->cfg.kube, user, &d->kube) == 0)
        d->own_kube = true;
    e->d = d;
    n->inflight++;
    n->live++;
    if (!p4_url_plain_http(d->url) && strncmp(d->url, "https://", 8) != 0) {
        failf(d, R_ERROR, "WebhookNotAllowed", "spec.notify.url is not an http:// or https:// URL");
        return;
    }
    if (name == NULL) {
        read_ca(d);
        return;
    }
    p4_core_path(path, sizeof(path), d->ns, "secrets", name);
    if (p4_kube_request(d->kube, "GET", path, NULL, NULL, 0, on_secret, d) != 0)
        failf(d, R_ERROR, "WebhookSecretUnavailable",
              "cannot read Secret %s/%s (spec.notify.secretRef)", d->ns, name);
}

static void on_due(uv_timer_t *t)
{
    struct entry *e = t->data;
    struct p4_notifier *n = e->n;

    if (n->closing || e->closing)
        return;
    if (gone(n, e->key)) {
        if (e->d == NULL)
            drop_entry(e);
        return;
    }
    if (n->cfg.changed)
        n->cfg.changed(e->key, n->cfg.data);
}

/* Drop the outcomes obj's status records (or no longer pending); true when one still waits. */
static bool waiting(struct entry *e, const cJSON *pending, const char *id)
{
    size_t keep = 0;
    bool found = false;

    for (size_t i = 0; i < e->nout; i++) {
        const struct p4_notify_outcome *o = &e->outcomes[i];
        const cJSON *p;
        bool still = false;
        cJSON_ArrayForEach(p, pending) {
            int64_t attempts = 0;
            (void)p4_json_int64(p, "attempts", &attempts);
            if (p4_text_eq(p4_json_str(p, "id"), o->id) && attempts < o->attempt)
                still = true;
        }
        if (still) {
            if (id && strcmp(o->id, id) == 0)
                found = true;
            e->outcomes[keep++] = *o;
        }
    }
    e->nout = keep;
    return found;
}

void p4_notifier_sync(struct p4_notifier *n, const char *key, const cJSON *obj)
{
    const cJSON *pending = p4_json_get(obj, "status.notifications.pending"), *p;
    struct entry *e;
    int64_t now = (int64_t)time(NULL) * 1000000, soonest = INT64_MAX;

    if (n == NULL || n->closing)
        return;
    e = entry_for(
        n, key, cJSON_GetArraySize(pending) > 0 && cJSON_IsObject(p4_json_get(obj, "spec.notify")));
    if (e == NULL || e->closing)
        return;
    (void)waiting(e, pending, NULL);
    if (e->d != NULL)
        return;
    if (!cJSON_IsObject(p4_json_get(obj, "spec.notify")) || cJSON_GetArraySize(pending) == 0) {
        if (e->nout == 0)
            drop_entry(e);
        return;
    }
    cJSON_ArrayForEach(p, pending) {
        int64_t next = 0;
        const char *id = p4_json_str(p, "id");
        if (id == NULL || waiting(e, pending, id))
            continue;
        if (p4_timefmt_parse(p4_json_str(p, "nextAttemptAt"), &next) != 0 || next <= now) {
            (void)uv_timer_stop(&e->timer);
            start(e, obj, p);
            return;
        }
        if (next < soonest)
            soonest = next;
    }
    if (soonest != INT64_MAX)
        (void)uv_timer_start(&e->timer, on_due, (uint64_t)((soonest - now) / 1000) + 50, 0);
}

void p4_notifier_metrics(const struct p4_notifier *n, struct p4_buf *out)
{
    if (n == NULL)
        return;
    p4_buf_printf(out, "# HELP phase4_notifications_total Webhook deliveries (spec.notify), by "
                       "result.\n# TYPE phase4_notifications_total counter\n");
    for (int i = 0; i < R_COUNT; i++)
        p4_buf_printf(out, "phase4_notifications_total{result=\"%s\"} %" PRIu64 "\n",
                      result_names[i], n->results[i]);
    p4_buf_printf(out,
                  "# HELP phase4_notifications_in_flight Webhook deliveries in flight.\n"
                  "# TYPE phase4_notifications_in_flight gauge\n"
                  "phase4_notifications_in_flight %d\n",
                  n->inflight);
}
