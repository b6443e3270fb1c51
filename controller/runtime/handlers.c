/* handlers.c: informer handlers that enqueue an object's key or its owner's (see handlers.h). */
#include "phase4/runtime/handlers.h"

static void object_added(const char *key, const cJSON *obj, void *data)
{
    (void)obj;
    p4_controller_enqueue(data, key);
}

static void object_updated(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    (void)old;
    (void)cur;
    p4_controller_enqueue(data, key);
}

static void object_unreadable(const char *key, const struct p4_informer_unreadable *u, void *data)
{
    (void)u;
    p4_controller_enqueue(data, key);
}

struct p4_informer_handlers p4_handlers_enqueue_object(struct p4_controller *c)
{
    /* A deleted object is reconciled as an added one is: the reconcile finds it gone. One that
       cannot be parsed too: the reconcile finds what the informer read of it. */
    return (struct p4_informer_handlers){.on_add = object_added,
                                         .on_update = object_updated,
                                         .on_delete = object_added,
                                         .on_unreadable = object_unreadable,
                                         .data = c};
}

static void enqueue_owner(const struct p4_enqueue_owner *eo, const cJSON *obj)
{
    char buf[P4_OWNER_KEY_MAX];
    const char *owner = eo->owner_key(obj, buf, sizeof(buf), eo->data);

    if (owner)
        p4_controller_enqueue(eo->ctl, owner);
}

static void owned_added(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    enqueue_owner(data, obj);
}

static void owned_updated(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    (void)key;
    (void)old;
    enqueue_owner(data, cur);
}

struct p4_informer_handlers p4_handlers_enqueue_owner(struct p4_enqueue_owner *eo)
{
    return (struct p4_informer_handlers){
        .on_add = owned_added, .on_update = owned_updated, .on_delete = owned_added, .data = eo};
}
