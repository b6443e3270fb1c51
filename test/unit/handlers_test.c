/*
 * handlers_test.c: the ready-made informer handlers enqueue the object's own
 * key, or the key its owner function computes (from the object's new state on
 * an update), and nothing when the object names no owner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/runtime/controller.h"
#include "phase4/runtime/handlers.h"

#define MAX_KEYS 16

struct fx {
    uv_loop_t loop;
    struct p4_controller *c;
    char keys[MAX_KEYS][64]; /* what was reconciled, in order */
    int n;
    int owner_calls;
};

static void reconcile(struct p4_controller *c, const char *key, void *data)
{
    struct fx *fx = data;

    assert_true(fx->n < MAX_KEYS);
    (void)snprintf(fx->keys[fx->n++], sizeof(fx->keys[0]), "%s", key);
    p4_controller_done(c, key, 0, 0);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct p4_controller_opts opts = {.workers = 1};

    if (fx == NULL || uv_loop_init(&fx->loop) != 0)
        return -1;
    fx->c = p4_controller_new(&fx->loop, &opts, reconcile, fx);
    if (fx->c == NULL)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    int rc = 0;

    p4_controller_shutdown(fx->c, NULL, NULL);
    (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
    p4_controller_free(fx->c);
    (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&fx->loop) != 0)
        rc = -1;
    free(fx);
    return rc;
}

/* Hand out the enqueued keys and run their reconciles, until nothing is left to do. */
static void drain(struct fx *fx)
{
    p4_controller_run(fx->c);
    (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
}

static cJSON *parse(const char *text)
{
    cJSON *obj = cJSON_Parse(text);

    assert_non_null(obj);
    return obj;
}

static void object_handlers_enqueue_the_key(void **state)
{
    struct fx *fx = *state;
    struct p4_informer_handlers h = p4_handlers_enqueue_object(fx->c);
    cJSON *obj = parse("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\"}}");

    assert_ptr_equal(h.data, fx->c);
    assert_null(h.transform);
    h.on_add("ns/a", obj, h.data);
    h.on_update("ns/b", obj, obj, h.data);
    h.on_delete("ns/c", obj, h.data);
    h.on_add("ns/a", obj, h.data); /* merged with the first: it has not run yet */
    h.on_unreadable("ns/d", &(struct p4_informer_unreadable){.name = "d"}, h.data);
    drain(fx);
    assert_int_equal(fx->n, 4);
    assert_string_equal(fx->keys[0], "ns/a");
    assert_string_equal(fx->keys[1], "ns/b");
    assert_string_equal(fx->keys[2], "ns/c");
    assert_string_equal(fx->keys[3], "ns/d");
    cJSON_Delete(obj);
}

/* As the operator's Jobs: an owner annotation, else "namespace/<name label>", else none. */
static const char *owner_of(const cJSON *obj, char *buf, size_t size, void *data)
{
    struct fx *fx = data;
    const char *owner = p4_json_str(obj, "metadata.annotations.owner");
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.labels.name");

    fx->owner_calls++;
    assert_true(size >= 64);
    if (owner)
        return owner;
    if (ns && name && (size_t)snprintf(buf, size, "%s/%s", ns, name) < size)
        return buf;
    return NULL;
}

static void owner_handlers_enqueue_the_owner(void **state)
{
    struct fx *fx = *state;
    struct p4_enqueue_owner eo = {.ctl = fx->c, .owner_key = owner_of, .data = fx};
    struct p4_informer_handlers h = p4_handlers_enqueue_owner(&eo);
    cJSON *annotated = parse("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"job1\","
                             "\"annotations\":{\"owner\":\"shop/web\"}}}");
    cJSON *labeled = parse(
        "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"job2\",\"labels\":{\"name\":\"api\"}}}");
    cJSON *orphan = parse("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"job3\"}}");

    assert_ptr_equal(h.data, &eo);
    h.on_add("ns/job1", annotated, h.data);
    h.on_update("ns/job2", orphan, labeled, h.data); /* the new state names the owner */
    h.on_update("ns/job3", labeled, orphan, h.data); /* ... and here none */
    h.on_delete("ns/job3", orphan, h.data);
    assert_int_equal(fx->owner_calls, 4);
    drain(fx);
    assert_int_equal(fx->n, 2);
    assert_string_equal(fx->keys[0], "shop/web");
    assert_string_equal(fx->keys[1], "ns/api");
    cJSON_Delete(annotated);
    cJSON_Delete(labeled);
    cJSON_Delete(orphan);
}

static void owner_deleted_enqueues_the_owner(void **state)
{
    struct fx *fx = *state;
    struct p4_enqueue_owner eo = {.ctl = fx->c, .owner_key = owner_of, .data = fx};
    struct p4_informer_handlers h = p4_handlers_enqueue_owner(&eo);
    cJSON *labeled = parse(
        "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"job2\",\"labels\":{\"name\":\"api\"}}}");

    h.on_delete("ns/job2", labeled, h.data);
    drain(fx);
    assert_int_equal(fx->n, 1);
    assert_string_equal(fx->keys[0], "ns/api");
    cJSON_Delete(labeled);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(object_handlers_enqueue_the_key),
        TEST(owner_handlers_enqueue_the_owner),
        TEST(owner_deleted_enqueues_the_owner),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
