/*
 * notifier.h: spec.notify's documents delivered on the loop (the sending side of notify.h).
 *
 * The reconciler calls p4_notifier_sync with each resource as written: the notifier delivers
 * the oldest pending document whose nextAttemptAt has come (one delivery in flight per
 * resource), or arms a timer for the next one. A delivery reads spec.notify.secretRef (token,
 * hmacKey, ca.crt) and spec.notify.caBundle as the identity acting for the resource (the
 * impersonating view, tenancy.h), then POSTs the document (application/json) with
 * "Authorization: Bearer <token>", X-Phase4-Id, X-Phase4-Event, X-Phase4-Timestamp and, with
 * an hmacKey, X-Phase4-Signature (notify.h). Credentials go only over TLS, or to http:// with
 * spec.notify.insecure (url.h); TLS is always verified; redirects are not followed.
 *
 * When a delivery ends, its outcome is kept and the resource's key handed to changed: the next
 * reconcile takes the outcomes (p4_notifier_outcomes) into the status it writes
 * (p4_notify_status), so the reconciler stays the one status writer; an outcome is dropped once
 * the written status shows it. Nothing here blocks or slows the stages.
 */
#ifndef PHASE4_NOTIFIER_H
#define PHASE4_NOTIFIER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "phase4/core/buf.h"
#include "phase4/kube/client.h"
#include "phase4/reconciler/notify.h"
#include "phase4/reconciler/tenancy.h"
#include "phase4/runtime/informer.h"

struct p4_notifier;

struct p4_notifier_config {
    struct p4_kube *kube;             /* borrowed: the operator's client (views are made of it) */
    struct p4_informer *resources;    /* borrowed: a resource no longer there is forgotten */
    const struct p4_tenancy *tenancy; /* borrowed; NULL: no default ServiceAccount */
    void (*changed)(const char *key, void *data); /* a delivery ended, or one is due */
    void *data;
    long timeout_ms;   /* one POST, connection included; 0: 10 s */
    const char *allow; /* borrowed: --notify-allow's URL prefixes (p4_notify_url_allowed); NULL:
                          any URL */
};

/* cfg is copied. Free with p4_notifier_free. */
struct p4_notifier *p4_notifier_new(uv_loop_t *loop, const struct p4_notifier_config *cfg);
/*
 * Cancel deliveries in flight (they record nothing, so they are sent again after a restart)
 * and free n once they have ended; the loop must run on. Before the kube client is closed.
 * NULL is fine.
 */
void p4_notifier_free(struct p4_notifier *n);

/*
 * The outcomes not yet recorded in key's status; borrowed until the next call for key. n may
 * be NULL (none).
 */
const struct p4_notify_outcome *p4_notifier_outcomes(const struct p4_notifier *n, const char *key,
                                                     size_t *count);
/* obj (borrowed) is key's resource as written: deliver what is due, or wait for it. */
void p4_notifier_sync(struct p4_notifier *n, const char *key, const cJSON *obj);

/* phase4_notifications_total{result} and phase4_notifications_in_flight into out. */
void p4_notifier_metrics(const struct p4_notifier *n, struct p4_buf *out);

#endif
