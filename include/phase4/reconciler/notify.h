/*
 * notify.h: what spec.notify's webhook is told, and the record of its delivery (pure).
 *
 * A status transition calls for at most one document: the resource stalled (event
 * RegenerationRequired, EscalatedToUser, or Stalled for any other Stalled reason), else a
 * generation got its verdict (event Verdict: SUCCESSFUL, or FAILED without a stall), and later
 * a rollback that became healthy (RolledBack: p4_notify_rolled_back, called by reconcile.c). The
 * document (type P4_NOTIFY_TYPE) is built from the status being written, so it carries only
 * what the status does (messages already redacted), never a Secret value; its id is unique per
 * (resource uid, generation, event), so a receiver drops a second delivery of the same one.
 *
 * Delivery is recorded in status.notifications, written by the reconciler like the rest of the
 * status: pending documents (at most P4_NOTIFY_PENDING_MAX, each with its attempts and
 * nextAttemptAt), the last P4_NOTIFY_DELIVERED_MAX delivered ids, how many were dropped, and
 * the last outcome. The sender (notifier.h) delivers what the written status says is pending
 * and hands back outcomes (struct p4_notify_outcome); p4_notify_status merges them into the
 * next status. So an operator restart resends what was not acknowledged (2xx) and never what
 * was recorded as delivered. The Notified condition says how the last attempt went, with one
 * Warning Event when it turns False (one per failure streak, not per attempt).
 *
 * Backoff: P4_NOTIFY_BACKOFF_MS doubling to P4_NOTIFY_BACKOFF_MAX_MS; a document is given up
 * after P4_NOTIFY_ATTEMPTS_MAX attempts or P4_NOTIFY_MAX_AGE_MS since it was queued.
 */
#ifndef PHASE4_NOTIFY_H
#define PHASE4_NOTIFY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P4_NOTIFY_TYPE "phase4.io/notification/v1"
#define P4_NOTIFY_PENDING_MAX 5
#define P4_NOTIFY_DELIVERED_MAX 5
#define P4_NOTIFY_ATTEMPTS_MAX 15
#define P4_NOTIFY_BACKOFF_MS ((uint64_t)1000)
#define P4_NOTIFY_BACKOFF_MAX_MS ((uint64_t)300000) /* 5 min */
#define P4_NOTIFY_MAX_AGE_MS ((int64_t)3600000)     /* an hour */
#define P4_NOTIFY_REASON_DELIVERED "Delivered"

/* How one delivery attempt ended (the sender's report to the reconciler). */
struct p4_notify_outcome {
    char id[320];
    int attempt;       /* the attempt it was: the pending entry's attempts + 1 */
    bool ok;           /* a 2xx answer */
    char reason[48];   /* Delivered, WebhookFailed, WebhookUnreachable, WebhookNotAllowed,
                          WebhookSecretUnavailable */
    char message[512]; /* one sentence: the HTTP status or the error; never a credential */
    char at[32];       /* RFC 3339, when it ended */
};

/* The delay before attempt attempts + 1, after attempts failed ones (>= 1). */
uint64_t p4_notify_backoff_ms(int attempts);
/* Whether a document tried attempts times, queued age_ms ago, is given up. */
bool p4_notify_give_up(int attempts, int64_t age_ms);

/*
 * The event the transition from obj's status to st (the status about to be written) calls
 * for, or NULL: RegenerationRequired, EscalatedToUser or Stalled when Stalled turned True (or
 * changed reason, or is a new generation's), else Verdict when status.verdict is given for a
 * generation (a new one, or a changed verdict). Static text.
 */
const char *p4_notify_event(const cJSON *obj, const cJSON *st);

/*
 * The document for event about obj with status st, at now (RFC 3339). Caller frees. Members:
 * type, id, event, time, resource {apiVersion, kind, namespace, name, uid}, generation,
 * verdict, stage, gate, reason, message, failure (status.report.failure), artifacts
 * (status.report.artifacts).
 */
cJSON *p4_notify_document(const cJSON *obj, const cJSON *st, const char *event, const char *now);

/* "<uid>/<generation>/<event>" into out. */
void p4_notify_id(const cJSON *obj, int64_t generation, const char *event, char *out, size_t size);

/*
 * Into st (the status being written; obj as read): with spec.notify, the outcomes (n of them,
 * borrowed) applied to status.notifications, the document the transition calls for queued,
 * and the Notified condition set; a Warning appended to events ({type, reason, message}; may
 * be NULL) when Notified turns False. Without spec.notify, status.notifications and Notified
 * are removed. now is RFC 3339.
 */
void p4_notify_status(const cJSON *obj, cJSON *st, const struct p4_notify_outcome *outcomes,
                      size_t n, const char *now, cJSON *events);

/*
 * A rollback became healthy (reconcile.c, rollback.h): queue a RolledBack document into st as
 * p4_notify_status queues the others, message saying which revisions. Does nothing without
 * spec.notify.
 */
void p4_notify_rolled_back(const cJSON *obj, cJSON *st, const char *message, const char *now);

/*
 * Whether url is under one of allow's comma-separated URL prefixes (the operator's
 * --notify-allow): url begins with the prefix, and the prefix ends with '/' or url goes on
 * with '/', '?', '#' or nothing, so "https://hooks.example" admits neither
 * "https://hooks.example.evil" nor "https://hooks.example:8443". allow NULL or "": any url.
 */
bool p4_notify_url_allowed(const char *allow, const char *url);

/*
 * The X-Phase4-Signature value for body (len bytes) sent at timestamp (Unix seconds, also sent
 * as X-Phase4-Timestamp): "sha256=" and the hex HMAC-SHA256 of "<timestamp>.<body>" with key
 * (klen bytes). out needs 72 bytes.
 */
void p4_notify_signature(const unsigned char *key, size_t klen, int64_t timestamp, const char *body,
                         size_t len, char *out, size_t size);
/* The hex HMAC-SHA256 of msg with key into out (65 bytes). */
void p4_notify_hmac_hex(const unsigned char *key, size_t klen, const unsigned char *msg, size_t len,
                        char *out, size_t size);

#endif
