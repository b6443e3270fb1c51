/* applyset_test.c: CRD readiness, the DELETE body, and a run's lifetime (refused arguments, an API
   server that is not there, cancel before and while a request is in flight) without any API
   server answering. The marks and conflicts have tests of their own (applymark_test.c,
   applyconflict_test.c). */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/kube/kubeconfig.h"
#include "phase4/stages/kubernetes/applyset.h"
#include "stages/kubernetes/applysteps.h"
#include "testjson.h"
#include "testlisten.h"

/* ---- CRDs ---- */

static void crd_readiness(void **state)
{
    static const struct {
        const char *json;
        int want;
    } cases[] = {
        {"{'status':{'conditions':[{'type':'NamesAccepted','status':'True'},"
         "{'type':'Established','status':'True'}]}}",
         1},
        {"{'status':{'conditions':[{'type':'NamesAccepted','status':'True'},"
         "{'type':'Established','status':'False'}]}}",
         0},
        {"{'status':{'conditions':[{'type':'NamesAccepted','status':'False','reason':"
         "'MultipleConflicts','message':'\\'kind\\' is already in use'},"
         "{'type':'Established','status':'False'}]}}",
         -1},
        {"{'status':{}}", 0},
        {"{'status':{'conditions':'x'}}", 0},
        {"{'status':{'conditions':[1,{'type':'Established'},{'status':'True'}]}}", 0},
        {"{}", 0},
    };
    char msg[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *crd = test_json(cases[i].json);
        int got = p4_applyset_crd_state(crd, msg, sizeof(msg));
        if (got != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i, got, cases[i].want);
        if (got == -1)
            assert_string_equal(msg, "\"kind\" is already in use");
        cJSON_Delete(crd);
    }
    assert_int_equal(p4_applyset_crd_state(NULL, NULL, 0), 0);
}

/* ---- DELETE ---- */

static void delete_body_has_background_and_uid(void **state)
{
    char *text = p4_applyset_delete_body("1234-\"x\"");
    cJSON *o = p4_json_parse(text, strlen(text), NULL);

    (void)state;
    assert_non_null(o);
    assert_string_equal(p4_json_str(o, "kind"), "DeleteOptions");
    assert_string_equal(p4_json_str(o, "apiVersion"), "v1");
    assert_string_equal(p4_json_str(o, "propagationPolicy"), "Background");
    assert_string_equal(p4_json_str(o, "preconditions.uid"), "1234-\"x\"");
    cJSON_Delete(o);
    free(text);
}

/* ---- the sweep: which kinds it lists, what it adds to the prune set ---- */

static struct p4_inventory inv_of(const char *json)
{
    cJSON *j = test_json(json);
    struct p4_inventory inv;

    assert_int_equal(p4_inventory_from_json(j, &inv, NULL, NULL), 0);
    cJSON_Delete(j);
    return inv;
}

static void sweep_targets_are_kinds_and_namespaces_once(void **state)
{
    struct p4_inventory prev =
        inv_of("[{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'a'},"
               "{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'b'},"
               "{'apiVersion':'v1','kind':'ConfigMap','namespace':'other','name':'a'},"
               "{'apiVersion':'apiextensions.k8s.io/v1','kind':'CustomResourceDefinition',"
               "'name':'widgets.example.com'},"
               "{'apiVersion':'v1','kind':'Namespace','name':'shop'},"
               "{'apiVersion':'rbac.authorization.k8s.io/v1','kind':'ClusterRole','name':'r'}]");
    struct p4_inventory cur =
        inv_of("[{'apiVersion':'apps/v1','kind':'Deployment','namespace':'shop','name':'web'},"
               "{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'c'}]");
    struct p4_inventory t, empty = {NULL, 0};

    (void)state;
    p4_applyset_sweep_targets(&prev, &cur, &t);
    assert_int_equal(t.n, 4); /* ConfigMap shop, ConfigMap other, ClusterRole, Deployment shop */
    assert_string_equal(t.items[0].kind, "ConfigMap");
    assert_string_equal(t.items[0].namespace_, "shop");
    assert_string_equal(t.items[0].name, "");
    assert_string_equal(t.items[1].namespace_, "other");
    assert_string_equal(t.items[2].kind, "ClusterRole");
    assert_string_equal(t.items[2].namespace_, "");
    assert_string_equal(t.items[3].kind, "Deployment");
    p4_inventory_close(&t);
    p4_applyset_sweep_targets(&empty, &empty, &t);
    assert_int_equal(t.n, 0);
    assert_null(t.items);
    p4_applyset_sweep_targets(NULL, &cur, &t);
    assert_int_equal(t.n, 2);
    p4_inventory_close(&t);
    p4_inventory_close(&prev);
    p4_inventory_close(&cur);
}

static void sweep_merge_adds_what_the_new_revision_lacks(void **state)
{
    struct p4_inventory prune =
        inv_of("[{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'old'}]");
    struct p4_inventory found =
        inv_of("[{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'old'},"
               "{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'lost'},"
               "{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'kept'},"
               "{'apiVersion':'apps/v1','kind':'Deployment','namespace':'shop','name':'lost'},"
               "{'apiVersion':'v1','kind':'Namespace','name':'shop'},"
               "{'apiVersion':'apiextensions.k8s.io/v1','kind':'CustomResourceDefinition',"
               "'name':'widgets.example.com'}]");
    struct p4_inventory cur =
        inv_of("[{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'kept'}]");
    struct p4_inventory none = {NULL, 0};

    (void)state;
    assert_int_equal(p4_applyset_sweep_merge(&prune, &found, &cur), 2);
    assert_int_equal(prune.n, 3);
    /* Prune order: the Deployment before the ConfigMaps. */
    assert_string_equal(prune.items[0].kind, "Deployment");
    for (size_t i = 0; i < prune.n; i++) {
        assert_string_not_equal(prune.items[i].name, "kept");
        assert_string_not_equal(prune.items[i].kind, "Namespace");
        assert_string_not_equal(prune.items[i].kind, "CustomResourceDefinition");
    }
    assert_int_equal(p4_applyset_sweep_merge(&prune, &none, &cur), 0);
    assert_int_equal(prune.n, 3);
    assert_int_equal(p4_applyset_sweep_merge(&prune, NULL, &cur), 0);
    p4_inventory_close(&prune);
    p4_inventory_close(&found);
    p4_inventory_close(&cur);
}

static void hooks_are_never_swept(void **state)
{
    cJSON *hook = test_json("{'metadata':{'annotations':{'helm.sh/hook':'post-install'}}}");
    cJSON *plain = test_json("{'metadata':{'annotations':{'phase4.io/owner':'shop/web'}}}");
    cJSON *odd = test_json("{'metadata':{'annotations':'helm.sh/hook'}}");

    (void)state;
    assert_true(p4_applyset_is_hook(hook));
    assert_false(p4_applyset_is_hook(plain));
    assert_false(p4_applyset_is_hook(odd));
    assert_false(p4_applyset_is_hook(NULL));
    cJSON_Delete(hook);
    cJSON_Delete(plain);
    cJSON_Delete(odd);
}

/* A stage's own Job (the Validation stage's smoke tests) carries the owner's marks but is no
   object of the chart: never swept. */
static void stage_work_is_never_swept(void **state)
{
    cJSON *smoke = test_json("{'metadata':{'labels':{'phase4.io/purpose':'smoke'},"
                             "'annotations':{'phase4.io/owner':'shop/web'}}}");
    cJSON *plain = test_json("{'metadata':{'labels':{'phase4.io/name':'web'}}}");
    cJSON *odd = test_json("{'metadata':{'labels':['phase4.io/purpose']}}");

    (void)state;
    assert_true(p4_applyset_is_stage_work(smoke));
    assert_false(p4_applyset_is_stage_work(plain));
    assert_false(p4_applyset_is_stage_work(odd));
    assert_false(p4_applyset_is_stage_work(NULL));
    cJSON_Delete(smoke);
    cJSON_Delete(plain);
    cJSON_Delete(odd);
}

/* ---- a run's lifetime, against no API server ---- */

struct outcome {
    int calls, rc;
    char reason[64];
    size_t applied;
};

static void on_done(const struct p4_applyset_result *res, void *data)
{
    struct outcome *o = data;

    o->calls++;
    o->rc = res->rc;
    (void)snprintf(o->reason, sizeof(o->reason), "%s", res->err.reason ? res->err.reason : "");
    o->applied = res->applied.n;
}

static cJSON *manifest(void)
{
    return test_json("[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c'}}]");
}

static void run_refuses_bad_arguments(void **state)
{
    struct p4_applyset_opts o = {.owner_namespace = "shop", .owner_name = "web"};
    struct p4_applyset_opts no_owner = {.owner_namespace = "shop", .owner_name = ""};
    static char stand_in[1]; /* k and d are never used: each call is refused before */
    struct p4_kube *k = (struct p4_kube *)(void *)stand_in;
    struct p4_discovery *d = (struct p4_discovery *)(void *)stand_in;
    struct p4_applyset *a = (struct p4_applyset *)(void *)stand_in;
    struct outcome out = {0};
    cJSON *objs = manifest(), *notarr = test_json("{}");

    (void)state;
    assert_int_equal(p4_applyset_run(NULL, d, objs, &o, on_done, &out, &a), P4_ERR_INVAL);
    assert_null(a);
    assert_int_equal(p4_applyset_run(k, NULL, objs, &o, on_done, &out, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_run(k, d, notarr, &o, on_done, &out, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_run(k, d, objs, NULL, on_done, &out, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_run(k, d, objs, &o, NULL, &out, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_run(k, d, objs, &no_owner, on_done, &out, NULL), P4_ERR_INVAL);
    assert_int_equal(out.calls, 0);
    p4_applyset_cancel(NULL);
    cJSON_Delete(objs);
    cJSON_Delete(notarr);
}

struct client {
    uv_loop_t loop;
    struct p4_kube *kube;
    struct p4_discovery *disc;
};

static void client_open(struct client *c, const char *server)
{
    struct p4_kube_config cfg = {.server = (char *)server, .namespace = (char *)"default"};
    struct p4_error err;

    assert_int_equal(uv_loop_init(&c->loop), 0);
    assert_int_equal(p4_kube_new(&c->loop, &cfg, NULL, &c->kube, &err), 0);
    c->disc = p4_discovery_new(c->kube);
}

static void client_close(struct client *c)
{
    p4_discovery_close(c->disc);
    p4_kube_close(c->kube);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&c->loop), 0);
}

static void run_reports_an_unreachable_server(void **state)
{
    struct p4_applyset_opts o = {.owner_namespace = "shop", .owner_name = "web"};
    struct outcome out = {0};
    struct client c;
    cJSON *objs = manifest();

    (void)state;
    client_open(&c, "http://127.0.0.1:1"); /* nothing listens on port 1 */
    assert_int_equal(p4_applyset_run(c.kube, c.disc, objs, &o, on_done, &out, NULL), 0);
    cJSON_Delete(objs);             /* copied */
    assert_int_equal(out.calls, 0); /* never before run returns */
    (void)uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(out.calls, 1);
    assert_int_not_equal(out.rc, 0);
    assert_int_equal(out.applied, 0);
    client_close(&c);
}

static void cancel_before_the_first_step(void **state)
{
    struct p4_applyset_opts o = {.owner_namespace = "shop", .owner_name = "web"};
    struct outcome out = {0};
    struct p4_applyset *a = NULL;
    struct client c;
    cJSON *objs = manifest();

    (void)state;
    client_open(&c, "http://127.0.0.1:1");
    assert_int_equal(p4_applyset_run(c.kube, c.disc, objs, &o, on_done, &out, &a), 0);
    assert_non_null(a);
    p4_applyset_cancel(a);
    assert_int_equal(out.calls, 1);
    assert_int_equal(out.rc, P4_ERR_CANCELED);
    assert_string_equal(out.reason, "Canceled");
    (void)uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(out.calls, 1); /* never again */
    cJSON_Delete(objs);
    client_close(&c);
}

/* A listener that accepts connections and never answers: a request stays in flight. */
struct silent {
    uv_tcp_t server, conn[4];
    int nconn;
};

static void on_silent_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct silent *s = server->data;

    if (status != 0 || s->nconn >= 4)
        return;
    (void)uv_tcp_init(server->loop, &s->conn[s->nconn]);
    if (uv_accept(server, (uv_stream_t *)&s->conn[s->nconn]) != 0) {
        uv_close((uv_handle_t *)&s->conn[s->nconn], on_silent_closed);
        return;
    }
    s->nconn++;
}

static void on_tick(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void cancel_while_a_request_is_in_flight(void **state)
{
    struct p4_applyset_opts o = {.owner_namespace = "shop", .owner_name = "web"};
    struct outcome out = {0};
    struct p4_applyset *a = NULL;
    struct silent s = {0};
    char server[64];
    uv_timer_t tick;
    struct client c;
    cJSON *objs = manifest();

    (void)state;
    assert_int_equal(uv_loop_init(&c.loop), 0);
    (void)snprintf(server, sizeof(server), "http://127.0.0.1:%d",
                   test_listen(&c.loop, &s.server, 8, on_connection));
    s.server.data = &s;
    {
        struct p4_kube_config cfg = {.server = server, .namespace = (char *)"default"};
        struct p4_error err;
        assert_int_equal(p4_kube_new(&c.loop, &cfg, NULL, &c.kube, &err), 0);
        c.disc = p4_discovery_new(c.kube);
    }
    assert_int_equal(p4_applyset_run(c.kube, c.disc, objs, &o, on_done, &out, &a), 0);
    cJSON_Delete(objs);
    (void)uv_timer_init(&c.loop, &tick);
    (void)uv_timer_start(&tick, on_tick, 300, 0);
    (void)uv_run(&c.loop, UV_RUN_DEFAULT); /* discovery's requests are now in flight */
    assert_int_equal(out.calls, 0);
    assert_true(s.nconn > 0);
    p4_applyset_cancel(a);
    assert_int_equal(out.calls, 1);
    assert_int_equal(out.rc, P4_ERR_CANCELED);
    /* The answer still due arrives (canceled by closing the client) and frees the run. */
    uv_close((uv_handle_t *)&tick, on_silent_closed);
    for (int i = 0; i < s.nconn; i++)
        uv_close((uv_handle_t *)&s.conn[i], on_silent_closed);
    uv_close((uv_handle_t *)&s.server, on_silent_closed);
    client_close(&c);
    assert_int_equal(out.calls, 1);
}

/* ---- uninstall order and adoption ---- */

static void uninstall_tiers_follow_prune_order(void **state)
{
    /* Apply order (inventory.h), one object per kind: their tiers in prune order (the reverse)
       never go down, so a tier begins only after every object of the tiers before it. */
    static const char *const kinds[][2] = {
        {"scheduling.k8s.io/v1", "PriorityClass"},
        {"v1", "Namespace"},
        {"apiextensions.k8s.io/v1", "CustomResourceDefinition"},
        {"networking.k8s.io/v1", "NetworkPolicy"},
        {"v1", "ResourceQuota"},
        {"v1", "LimitRange"},
        {"policy/v1", "PodDisruptionBudget"},
        {"v1", "ServiceAccount"},
        {"rbac.authorization.k8s.io/v1", "ClusterRole"},
        {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding"},
        {"rbac.authorization.k8s.io/v1", "Role"},
        {"rbac.authorization.k8s.io/v1", "RoleBinding"},
        {"v1", "Secret"},
        {"v1", "ConfigMap"},
        {"v1", "PersistentVolumeClaim"},
        {"v1", "Service"},
        {"apps/v1", "DaemonSet"},
        {"apps/v1", "Deployment"},
        {"apps/v1", "StatefulSet"},
        {"batch/v1", "Job"},
        {"networking.k8s.io/v1", "Ingress"},
        {"admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"},
        {"example.com/v1", "Widget"},
    };
    cJSON *objects = cJSON_CreateArray();
    const cJSON *o;
    struct p4_error err;
    int last = -1;

    (void)state;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "apiVersion", kinds[i][0]);
        cJSON_AddStringToObject(obj, "kind", kinds[i][1]);
        cJSON_AddItemToArray(objects, obj);
    }
    assert_int_equal(p4_inventory_prune_order(objects, &err), 0);
    cJSON_ArrayForEach(o, objects) {
        int tier = p4_applyset_uninstall_tier(p4_json_str(o, "apiVersion"), p4_json_str(o, "kind"));
        if (tier < last)
            fail_msg("%s is tier %d after tier %d", p4_json_str(o, "kind"), tier, last);
        last = tier;
    }
    cJSON_Delete(objects);
    /* Workloads before their ServiceAccount and RBAC, which go before CRDs and namespaces. */
    assert_int_equal(p4_applyset_uninstall_tier("apps/v1", "Deployment"), 0);
    assert_int_equal(p4_applyset_uninstall_tier("v1", "ServiceAccount"), 1);
    assert_int_equal(p4_applyset_uninstall_tier("rbac.authorization.k8s.io/v1", "ClusterRole"), 1);
    assert_int_equal(
        p4_applyset_uninstall_tier("apiextensions.k8s.io/v1", "CustomResourceDefinition"), 2);
    /* Kinds are matched with their group: a custom ServiceAccount is not core's. */
    assert_int_equal(p4_applyset_uninstall_tier("example.com/v1", "ServiceAccount"), 0);
    assert_int_equal(p4_applyset_uninstall_tier(NULL, NULL), 0);
}

static void adoption_is_a_visible_choice(void **state)
{
    (void)state;
    /* Not marked with our name: never adopted, whatever spec.adopt says (ObjectNotOwned). */
    assert_int_equal(p4_applyset_adopt_decide(P4_CLAIM_NONE, true, true), ADOPT_NOT_OURS);
    /* Ours by uid: applied as today. */
    assert_int_equal(p4_applyset_adopt_decide(P4_CLAIM_OURS, false, false), ADOPT_OURS);
    /* No uid mark but our own inventory lists it: ours from before uids (an upgrade). */
    assert_int_equal(p4_applyset_adopt_decide(P4_CLAIM_NO_UID, true, false), ADOPT_OURS);
    /* No uid mark and not ours on record, or another uid: an earlier resource's. */
    assert_int_equal(p4_applyset_adopt_decide(P4_CLAIM_NO_UID, false, false), ADOPT_REFUSE);
    assert_int_equal(p4_applyset_adopt_decide(P4_CLAIM_OTHER_UID, true, false), ADOPT_REFUSE);
    assert_int_equal(p4_applyset_adopt_decide(P4_CLAIM_NO_UID, false, true), ADOPT_TAKE);
    assert_int_equal(p4_applyset_adopt_decide(P4_CLAIM_OTHER_UID, false, true), ADOPT_TAKE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crd_readiness),
        cmocka_unit_test(uninstall_tiers_follow_prune_order),
        cmocka_unit_test(adoption_is_a_visible_choice),
        cmocka_unit_test(delete_body_has_background_and_uid),
        cmocka_unit_test(sweep_targets_are_kinds_and_namespaces_once),
        cmocka_unit_test(sweep_merge_adds_what_the_new_revision_lacks),
        cmocka_unit_test(hooks_are_never_swept),
        cmocka_unit_test(stage_work_is_never_swept),
        cmocka_unit_test(run_refuses_bad_arguments),
        cmocka_unit_test(run_reports_an_unreachable_server),
        cmocka_unit_test(cancel_before_the_first_step),
        cmocka_unit_test(cancel_while_a_request_is_in_flight),
    };
    int rc;

    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests_name("applyset", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
