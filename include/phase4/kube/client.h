/*
 * kube/client.h: the Kubernetes API client on the libuv loop.
 *
 * Built on http.h (transport), kubeconfig.h (where and who), apistatus.h
 * (errors) and ratelimit.h (client-side QPS). A request is a method, an API
 * path with its query, and an optional JSON body; the answer is a parsed
 * JSON body or a classified error with the API server's own message.
 * Requests answered 429 are retried after Retry-After (API Priority and
 * Fairness) up to a bound; everything else is the caller's to retry.
 *
 * Credentials: client certificates, a static token, a token file that is
 * re-read whenever it changes (projected service-account tokens rotate), or
 * an exec credential plugin (execcred.h; on 401 its credential is refreshed
 * once). Never logged.
 */
#ifndef PHASE4_KUBE_H
#define PHASE4_KUBE_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

#include "phase4/core/buf.h"
#include "phase4/core/error.h"
#include "phase4/kube/apistatus.h"
#include "phase4/kube/kubeconfig.h"
#include "phase4/kube/watchframe.h"

struct p4_kube;
struct p4_kube_watch;

struct p4_kube_options {
    double qps; /* client-side rate limit; <= 0: unlimited */
    unsigned burst;
    /*
     * 1: qps/burst were not set by the user. They hold until an answer shows
     * the API server's API Priority and Fairness handled it; then the
     * client-side limit is lifted (p4_kube_rate_choice). See docs/architecture.md.
     */
    int rate_auto;
    long request_timeout_ms; /* non-watch requests; 0: 30 s */
    int max_429_retries;     /* 0: 5 */
};

/*
 * The client-side limit for opts once the server has (apf 1) or has not yet
 * (apf 0) shown APF: opts' own unless rate_auto and apf, then none (qps 0).
 */
void p4_kube_rate_choice(const struct p4_kube_options *opts, int apf, double *qps, unsigned *burst);
/* The client-side limit in force now, requests a second; 0: none. */
double p4_kube_qps_limit(const struct p4_kube *k);
/*
 * Record that an answer did (apf 1) or did not carry APF's headers; the first
 * that did lifts the limit when opts.rate_auto. Called for every answer.
 */
void p4_kube_saw_answer(struct p4_kube *k, int apf);
/*
 * A 429 told the client to wait delay_ms: every request not yet sent waits
 * until then too (shared backoff, as the whole client is being throttled).
 */
void p4_kube_back_off(struct p4_kube *k, uint64_t delay_ms);
/* ms until the shared backoff ends, 0 when none. */
uint64_t p4_kube_backoff_left(const struct p4_kube *k);

/* Counters for /metrics, by verb and HTTP code class. */
struct p4_kube_stats {
    uint64_t requests[6][6]; /* [verb][code/100], code 0 = transport error */
    uint64_t watch_starts;
    uint64_t throttled; /* 429 answers */
};
enum p4_kube_verb {
    P4_VERB_GET,
    P4_VERB_POST,
    P4_VERB_PUT,
    P4_VERB_PATCH,
    P4_VERB_DELETE,
    P4_VERB_WATCH
};

struct p4_kube_result {
    int rc;          /* 0 for a 2xx answer, else a P4_ERR_* code */
    long status;     /* HTTP status; 0 when none arrived */
    cJSON *body;     /* 2xx JSON body, owned by the result: set to NULL to keep it */
    const char *raw; /* p4_kube_request_raw: the 2xx body's bytes, borrowed for the cb */
    size_t raw_len;
    struct p4_apistatus *st; /* the failure's Status when rc != 0 and one was sent */
    struct p4_error err;     /* one sentence for a condition or log when rc != 0 */
};
typedef void (*p4_kube_cb)(struct p4_kube_result *res, void *data);

/*
 * cfg is copied. Logs a warning when TLS verification is off by the
 * kubeconfig's own word. Returns 0 or P4_ERR_INVAL (e.g. no server).
 */
int p4_kube_new(uv_loop_t *loop, const struct p4_kube_config *cfg,
                const struct p4_kube_options *opts, struct p4_kube **out, struct p4_error *err);
/*
 * Cancel every request (not watches: their owners stop them): those still
 * waiting for their turn are answered now, those in flight on a later loop
 * turn, all with P4_ERR_CANCELED; one waiting for an exec plugin ends when
 * the plugin does. The client stays usable (a graceful shutdown's deadline).
 */
void p4_kube_cancel_all(struct p4_kube *k);
/* Cancel everything in flight (callbacks run with P4_ERR_CANCELED) and free once closed. */
void p4_kube_close(struct p4_kube *k);
const char *p4_kube_verb_name(enum p4_kube_verb verb);
/*
 * Append phase4_kube_requests_total, phase4_kube_throttled_total and
 * phase4_kube_client_qps_limit of k to out.
 */
void p4_kube_metrics(const struct p4_kube *k, struct p4_buf *out);

/*
 * method: GET, POST, PUT, PATCH, DELETE. path: "/api/v1/namespaces/x/pods?limit=5"
 * (segments already escaped with p4_kube_escape). content_type may be NULL
 * (application/json). body is copied. cb runs exactly once, later.
 */
int p4_kube_request(struct p4_kube *k, const char *method, const char *path,
                    const char *content_type, const char *body, size_t len, p4_kube_cb cb,
                    void *data);

/*
 * As p4_kube_request, but a 2xx body is not parsed: res->raw and res->raw_len
 * hold its bytes (borrowed for the callback) and res->body stays NULL. For an
 * answer that may be too deep for cJSON whole: a list read item by item
 * (jsonscan.h), a write to an object that cannot be parsed.
 */
int p4_kube_request_raw(struct p4_kube *k, const char *method, const char *path,
                        const char *content_type, const char *body, size_t len, p4_kube_cb cb,
                        void *data);

/*
 * A request through one of the API server's proxies (a Service's
 * .../services/NAME:PORT/proxy/PATH): the answer, whatever its status, is the
 * backend's or the proxy's own, so every body is handed over as bytes
 * (res->raw, res->raw_len; also with rc != 0, when res->st says what a Status
 * body said), Accept is any type, and a 429 is an answer, not retried.
 * timeout_ms (0: the client's) bounds the whole request, max_body (0: the
 * HTTP client's) the body: a longer one fails with P4_ERR_TOOBIG.
 */
int p4_kube_proxy(struct p4_kube *k, const char *method, const char *path, long timeout_ms,
                  size_t max_body, p4_kube_cb cb, void *data);

/*
 * A GET with its own Accept header (e.g. aggregated discovery); otherwise as
 * p4_kube_request. With "text/plain" (a pod's log) the body is a JSON string
 * holding the text.
 */
int p4_kube_get_accept(struct p4_kube *k, const char *path, const char *accept, p4_kube_cb cb,
                       void *data);
/*
 * A GET whose 2xx body is not parsed: res->raw and res->raw_len hold its bytes as sent (NUL
 * bytes included; borrowed for the callback), Accept is any type. For a pod's log read whole,
 * whatever it holds. max_body (0: the HTTP client's) bounds the body: a longer one fails with
 * P4_ERR_TOOBIG. Otherwise as p4_kube_request (errors with the Status, 429 retried).
 */
int p4_kube_get_bytes(struct p4_kube *k, const char *path, size_t max_body, p4_kube_cb cb,
                      void *data);
uv_loop_t *p4_kube_loop(const struct p4_kube *k);

/* The longest user name p4_kube_as takes. */
#define P4_KUBE_USER_MAX 512
/*
 * A view of k that acts as user: every request and watch made through it
 * carries "Impersonate-User: user" (a ServiceAccount's
 * "system:serviceaccount:NS:NAME"; the API server adds its groups), so that
 * user's RBAC and admission decide, not the operator's. The view shares k's
 * connections, rate limit, credentials and counters; the operator's own
 * identity needs the impersonate verb on that user. It is freed with
 * p4_kube_close (which then frees only the view: requests in flight go on)
 * and must not outlive k. P4_ERR_INVAL for an empty, overlong or non-ASCII
 * name.
 */
int p4_kube_as(struct p4_kube *k, const char *user, struct p4_kube **out);
/* The user a view acts as, or NULL for the client's own identity. */
const char *p4_kube_user(const struct p4_kube *k);

/* Percent-encode a path segment or query value into out; returns 0 or P4_ERR_TOOBIG. */
int p4_kube_escape(const char *in, char *out, size_t size);

typedef void (*p4_kube_event_cb)(enum p4_watch_type type, cJSON *object, void *data);
/*
 * An event whose object cannot be parsed (see p4_watchframe_unreadable_cb):
 * its bytes, borrowed for the call, and why.
 */
typedef void (*p4_kube_unreadable_cb)(enum p4_watch_type type, const char *object, size_t len,
                                      const struct p4_error *why, void *data);
/*
 * The watch ended: rc 0 when the server closed it (its timeout), P4_ERR_GONE
 * when the resource version is too old (relist), P4_ERR_CANCELED after
 * p4_kube_watch_cancel, or another error. err has the words.
 */
typedef void (*p4_kube_watch_end_cb)(int rc, const struct p4_error *err, void *data);

/*
 * Watch a collection path (it may carry a labelSelector or fieldSelector
 * query) from resource_version with bookmarks.
 * on_event takes over each object; on_unreadable (may be NULL: such an event
 * is then skipped with a log line) gets what cannot be parsed. *out is valid
 * until on_end returns.
 */
int p4_kube_watch(struct p4_kube *k, const char *path, const char *resource_version,
                  long timeout_seconds, p4_kube_event_cb on_event,
                  p4_kube_unreadable_cb on_unreadable, p4_kube_watch_end_cb on_end, void *data,
                  struct p4_kube_watch **out);
void p4_kube_watch_cancel(struct p4_kube_watch *w);
/*
 * Deliver only the events whose object keep accepts (p4_watchframe_keep_cb: decided from the
 * object's bytes, nothing parsed; it gets the watch's data). Set it right after p4_kube_watch:
 * events come from the loop, never before.
 */
typedef bool (*p4_kube_keep_cb)(const char *object, size_t len, void *data);
void p4_kube_watch_keep(struct p4_kube_watch *w, p4_kube_keep_cb keep);

#endif
