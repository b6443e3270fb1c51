/* uninstall_test.c: the Kubernetes stage's finalize op on a real loop, against an API server that
   is not there: it begins, reports what remains and what blocks it, tries again, never says done
   on its own; finalized drops it with requests in flight, and nothing leaks. The pure decisions
   are in kubestage_test.c; the deletion itself is tested end to end (test/e2e/deletion_test.go). */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/kube/discovery.h"
#include "phase4/kube/kubeconfig.h"
#include "phase4/stages/kubernetes/stage.h"
#include "testjson.h"

struct fixture {
    uv_loop_t loop;
    struct p4_kube *kube;
    struct p4_discovery *disc;
    struct p4_kube_stage *k;
    uv_timer_t stop;
    int changed;
};

static void on_changed(const char *key, void *data)
{
    struct fixture *f = data;

    assert_string_equal(key, "shop/web");
    f->changed++;
}

static void open_fixture(struct fixture *f)
{
    struct p4_kube_config cfg = {.server = (char *)"http://127.0.0.1:1", /* nothing listens */
                                 .namespace = (char *)"default"};
    struct p4_kube_stage_config kc = {0};
    struct p4_error err;

    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(p4_kube_new(&f->loop, &cfg, NULL, &f->kube, &err), 0);
    f->disc = p4_discovery_new(f->kube);
    kc.kube = f->kube;
    kc.discovery = f->disc;
    kc.changed = on_changed;
    kc.data = f;
    f->k = p4_kube_stage_new(&f->loop, &kc);
}

static void close_fixture(struct fixture *f)
{
    p4_kube_stage_free(f->k);
    p4_discovery_close(f->disc);
    p4_kube_close(f->kube);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0); /* every handle closed */
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void on_stop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop for ms. */
static void run_for(struct fixture *f, uint64_t ms)
{
    assert_int_equal(uv_timer_init(&f->loop, &f->stop), 0);
    assert_int_equal(uv_timer_start(&f->stop, on_stop, ms, 0), 0);
    (void)uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&f->stop, NULL);
    (void)uv_run(&f->loop, UV_RUN_NOWAIT);
}

static cJSON *resource(const char *uid)
{
    char text[1024];

    (void)snprintf(text, sizeof(text),
                   "{'metadata':{'namespace':'shop','name':'web','uid':'%s',"
                   "'creationTimestamp':'2024-05-01T12:00:00Z',"
                   "'deletionTimestamp':'2024-05-01T13:00:00Z'},"
                   "'spec':{'target':{'namespace':'shop'}},"
                   "'status':{'inventory':[{'apiVersion':'v1','kind':'ConfigMap','namespace':"
                   "'shop','name':'web'},{'apiVersion':'apps/v1','kind':'Deployment',"
                   "'namespace':'shop','name':'web'}]}}",
                   uid);
    return test_json(text);
}

static void an_uninstall_that_cannot_reach_the_server_keeps_trying(void **state)
{
    struct fixture f;
    struct p4_finalize_result out;
    cJSON *obj = resource("u1");
    const struct p4_stage_ops *ops = &p4_kube_stage_ops;

    (void)state;
    open_fixture(&f);
    assert_non_null(ops->finalize);
    assert_non_null(ops->finalized);
    assert_int_equal(ops->finalize(f.k, "shop/web", obj, &out), 0);
    assert_false(out.done);
    assert_int_equal(out.remaining, 2); /* before the first pass: all of status.inventory */
    assert_non_null(strstr(out.left, "ConfigMap shop/web"));
    run_for(&f, 1500);
    assert_true(f.changed >= 1); /* each failed pass is told */
    assert_int_equal(ops->finalize(f.k, "shop/web", obj, &out), 0);
    assert_false(out.done); /* only the reconciler's timeout ends it */
    assert_true(out.blocked_reason[0] != '\0');
    assert_true(out.blocked_message[0] != '\0');
    ops->finalized(f.k, "shop/web"); /* dropped with a request or a timer in flight */
    ops->finalized(f.k, "shop/web"); /* twice is fine */
    cJSON_Delete(obj);
    close_fixture(&f);
}

static void a_new_resource_of_the_same_name_starts_over(void **state)
{
    struct fixture f;
    struct p4_finalize_result out;
    cJSON *old = resource("u1"), *fresh = resource("u2"), *nameless = test_json("{}");

    (void)state;
    open_fixture(&f);
    assert_int_equal(p4_kube_stage_ops.finalize(f.k, "shop/web", old, &out), 0);
    run_for(&f, 100);
    assert_int_equal(p4_kube_stage_ops.finalize(f.k, "shop/web", fresh, &out), 0);
    assert_false(out.done);
    assert_int_equal(out.remaining, 2);
    assert_int_equal(out.deleted, 0);
    assert_int_not_equal(p4_kube_stage_ops.finalize(f.k, "shop/x", nameless, &out), 0);
    /* Left to the stage: p4_kube_stage_free drops what is still there. */
    cJSON_Delete(old);
    cJSON_Delete(fresh);
    cJSON_Delete(nameless);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_uninstall_that_cannot_reach_the_server_keeps_trying),
        cmocka_unit_test(a_new_resource_of_the_same_name_starts_over),
    };
    int rc;

    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests_name("uninstall", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
