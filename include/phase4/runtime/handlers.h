/*
 * handlers.h: ready-made informer handlers that turn watch events into work
 * for a controller (controller runtime), as controller-runtime's
 * EnqueueRequestForObject and EnqueueRequestForOwner do.
 *
 * p4_handlers_enqueue_object enqueues the changed object's own key, also of
 * one the informer cannot parse (on_unreadable): for the informer of the kind
 * the controller reconciles. p4_handlers_enqueue_owner
 * enqueues the key of the object that owns the changed one (a Job's
 * Phase4Deployment, say). How an owner is marked (an annotation, a label, an
 * ownerReference) belongs to the layer that marks it, so the caller passes a
 * function that reads it; the runtime only enqueues.
 *
 * The controller and the p4_enqueue_owner are borrowed: they must outlive
 * every event of the informer given these handlers.
 */
#ifndef PHASE4_HANDLERS_H
#define PHASE4_HANDLERS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "phase4/runtime/controller.h"
#include "phase4/runtime/informer.h"

/* Room an owner key function has in buf: a namespace, a '/' and a name, with room to spare. */
#define P4_OWNER_KEY_MAX 512

/*
 * The key ("namespace/name") of obj's owner: a string of obj itself
 * (borrowed, as obj is) or one written into buf (size bytes), or NULL when
 * obj names no owner (nothing is enqueued then). obj is borrowed.
 */
typedef const char *(*p4_owner_key_fn)(const cJSON *obj, char *buf, size_t size, void *data);

struct p4_enqueue_owner {
    struct p4_controller *ctl; /* borrowed */
    p4_owner_key_fn owner_key;
    void *data; /* passed to owner_key */
};

/* Handlers enqueueing the key of every added, updated or deleted object into c (borrowed). */
struct p4_informer_handlers p4_handlers_enqueue_object(struct p4_controller *c);

/*
 * Handlers enqueueing into eo->ctl the owner key of every added, updated (its
 * new state) or deleted object. eo is borrowed: keep it in the caller's own
 * struct as long as the informer runs.
 */
struct p4_informer_handlers p4_handlers_enqueue_owner(struct p4_enqueue_owner *eo);

#endif
