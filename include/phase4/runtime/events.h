/*
 * events.h: Kubernetes Events about our objects, deduplicated.
 *
 * Events are core/v1 Events (what `kubectl describe` lists) reported by
 * "phase4-operator". The same (object, type, reason, message) within the
 * series window updates one Event's count and lastTimestamp instead of
 * creating another, so a failing object cannot flood the API server.
 */
#ifndef PHASE4_EVENTS_H
#define PHASE4_EVENTS_H

#include <cjson/cJSON.h>

#include "phase4/core/buf.h"
#include "phase4/kube/client.h"

struct p4_events;

/* k is borrowed; instance names this process (its pod or host name). */
struct p4_events *p4_events_new(struct p4_kube *k, const char *instance);
void p4_events_free(struct p4_events *ev);
/* type: "Normal" or "Warning". obj (borrowed) is the object the event is about. */
void p4_events_emit(struct p4_events *ev, const cJSON *obj, const char *type, const char *reason,
                    const char *message);
uint64_t p4_events_sent(const struct p4_events *ev);
/* Append the phase4_events_total counter of ev to out. */
void p4_events_metrics(const struct p4_events *ev, struct p4_buf *out);

#endif
