/* applyset_test.c: ownership marks, label values, conflict Status parsing, CRD readiness, the
   DELETE body, and a run's lifetime (refused arguments, an API server that is not there, cancel
   before and while a request is in flight) without any API server answering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "phase4/stages/kubernetes/applyset.h"
#include "phase4/core/json.h"
#include "phase4/kube/kubeconfig.h"
#include "testjson.h"

/* ---- label values ---- */

static void label_values_fit_kubernetes_limit(void **state)
{
    char out[P4_LABEL_VALUE_MAX + 1], again[P4_LABEL_VALUE_MAX + 1];
    char exact[64], other[128];
    const char *long_name =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-very-long-deployment-name-that-goes-past-the-"
        "label-limit";

    (void)state;
    assert_string_equal(p4_applyset_label_value("shop", out), "shop");
    assert_string_equal(p4_applyset_label_value("", out), "");
    memset(exact, 'x', 63);
    exact[63] = '\0';
    assert_string_equal(p4_applyset_label_value(exact, out), exact);

    /* 52 bytes, '-', 10 hex digits of sha256(name) (python3 hashlib gave 5f76fbcc01). */
    assert_string_equal(p4_applyset_label_value(long_name, out),
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-very-long-d-5f76fbcc01");
    assert_int_equal(strlen(out), 63);
    /* Stable, and two names sharing the first 52 bytes still differ. */
    assert_string_equal(p4_applyset_label_value(long_name, again), out);
    (void)snprintf(other, sizeof(other), "%s-2", long_name);
    assert_string_not_equal(p4_applyset_label_value(other, again), out);
    assert_memory_equal(again, out, 53);
}

static void owner_mark_is_namespace_slash_name(void **state)
{
    char buf[16];

    (void)state;
    assert_int_equal(p4_applyset_owner_mark("shop", "web", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "shop/web");
    assert_int_equal(p4_applyset_owner_mark("a-long-namespace", "web", buf, sizeof(buf)),
                     P4_ERR_TOOBIG);
    assert_int_equal(p4_applyset_owner_mark(NULL, "web", buf, sizeof(buf)), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_owner_mark("shop", "web", NULL, 0), P4_ERR_INVAL);
}

/* ---- marks ---- */

static void marks_are_added_and_other_labels_kept(void **state)
{
    cJSON *obj = test_json("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c',"
                           "'labels':{'app':'web','phase4.io/generation':'1'},"
                           "'annotations':{'note':'kept','phase4.io/owner':'x/y'}}}");

    (void)state;
    assert_int_equal(p4_applyset_mark(obj, "shop", "web", 7), 0);
    assert_string_equal(p4_json_str(obj, "metadata.labels.app"), "web");
    assert_string_equal(
        p4_json_str(obj, "metadata.labels.app\\.kubernetes\\.io/managed-by"), "phase4-operator");
    assert_string_equal(p4_json_str(obj, "metadata.labels.phase4\\.io/name"), "web");
    assert_string_equal(p4_json_str(obj, "metadata.labels.phase4\\.io/generation"), "7");
    assert_string_equal(p4_json_str(obj, "metadata.annotations.note"), "kept");
    assert_string_equal(p4_json_str(obj, "metadata.annotations.phase4\\.io/owner"), "shop/web");
    assert_int_equal(cJSON_GetArraySize(p4_json_get(obj, "metadata.labels")), 4);
    assert_true(p4_applyset_owned(obj, "shop", "web"));
    cJSON_Delete(obj);
}

static void marks_replace_malformed_maps(void **state)
{
    cJSON *obj = test_json("{'kind':'ConfigMap','metadata':{'name':'c','labels':'oops',"
                           "'annotations':[1,2]}}");
    char long_owner[100];

    (void)state;
    memset(long_owner, 'n', sizeof(long_owner) - 1);
    long_owner[sizeof(long_owner) - 1] = '\0';
    assert_int_equal(p4_applyset_mark(obj, "shop", long_owner, -1), 0);
    assert_true(cJSON_IsObject(p4_json_get(obj, "metadata.labels")));
    assert_int_equal(strlen(p4_json_str(obj, "metadata.labels.phase4\\.io/name")), 63);
    assert_string_equal(p4_json_str(obj, "metadata.labels.phase4\\.io/generation"), "-1");
    /* The annotation keeps the whole name: it is the exact ownership mark. */
    assert_true(p4_applyset_owned(obj, "shop", long_owner));
    cJSON_Delete(obj);
}

static void marks_refuse_what_is_not_an_object(void **state)
{
    cJSON *no_meta = test_json("{'kind':'ConfigMap'}");
    cJSON *bad_meta = test_json("{'kind':'ConfigMap','metadata':'x'}");
    cJSON *arr = test_json("[1]");
    cJSON *ok = test_json("{'metadata':{}}");

    (void)state;
    assert_int_equal(p4_applyset_mark(no_meta, "shop", "web", 1), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_mark(bad_meta, "shop", "web", 1), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_mark(arr, "shop", "web", 1), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_mark(NULL, "shop", "web", 1), P4_ERR_INVAL);
    assert_int_equal(p4_applyset_mark(ok, NULL, "web", 1), P4_ERR_INVAL);
    cJSON_Delete(no_meta);
    cJSON_Delete(bad_meta);
    cJSON_Delete(arr);
    cJSON_Delete(ok);
}

/* ---- ownership ---- */

static void ownership_is_the_exact_annotation(void **state)
{
    static const char *const not_ours[] = {
        "{'metadata':{'name':'c'}}",
        "{'metadata':{'name':'c','annotations':{}}}",
        "{'metadata':{'name':'c','annotations':{'phase4.io/owner':'other/web'}}}",
        "{'metadata':{'name':'c','annotations':{'phase4.io/owner':'shop/web2'}}}",
        "{'metadata':{'name':'c','annotations':{'phase4.io/owner':'shop/web '}}}",
        "{'metadata':{'name':'c','annotations':{'phase4.io/owner':7}}}",
        /* The labels alone are not the mark: anyone can copy them. */
        "{'metadata':{'labels':{'app.kubernetes.io/managed-by':'phase4-operator','phase4.io/name':'web'}}}",
        "{'metadata':'x'}",
        "[]",
    };
    cJSON *ours = test_json("{'metadata':{'annotations':{'phase4.io/owner':'shop/web'}}}");

    (void)state;
    assert_true(p4_applyset_owned(ours, "shop", "web"));
    assert_false(p4_applyset_owned(ours, "shop", "we"));
    assert_false(p4_applyset_owned(ours, NULL, "web"));
    for (size_t i = 0; i < sizeof(not_ours) / sizeof(not_ours[0]); i++) {
        cJSON *o = test_json(not_ours[i]);
        if (p4_applyset_owned(o, "shop", "web"))
            fail_msg("taken as ours: %s", not_ours[i]);
        cJSON_Delete(o);
    }
    assert_false(p4_applyset_owned(NULL, "shop", "web"));
    cJSON_Delete(ours);
}

/* ---- conflicts ---- */

static void decode(long http, const char *body, struct p4_apistatus *st)
{
    assert_int_equal(p4_apistatus_decode(http, body, strlen(body), NULL, st), 0);
}

/* As kube-apiserver 1.36 answered a server-side apply over kubectl-edit's and helm's fields. */
static const char conflict_body[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Apply failed with 3 conflicts: conflicts with \\\"kubectl-edit\\\" using v1:\\n"
    "- .spec.ports[port=80,protocol=\\\"TCP\\\"].targetPort\\nconflicts with \\\"helm\\\" using "
    "v1:\\n- .data.a\",\"reason\":\"Conflict\",\"details\":{\"causes\":["
    "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl-edit\\\" using "
    "v1\",\"field\":\".spec.ports[port=80,protocol=\\\"TCP\\\"].targetPort\"},"
    "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"helm\\\" using v1\","
    "\"field\":\".data.a\"},"
    "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl-edit\\\" with "
    "subresource \\\"status\\\" using v1\",\"field\":\".status.x\"}]},\"code\":409}";

static void conflict_names_each_manager_once(void **state)
{
    struct p4_apistatus st;
    char buf[128];

    (void)state;
    decode(409, conflict_body, &st);
    assert_true(p4_applyset_is_field_conflict(&st));
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "kubectl-edit, helm");
    /* Too small for both: the first only, never cut in the middle. */
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, 16), 1);
    assert_string_equal(buf, "kubectl-edit");
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, 5), 0);
    assert_string_equal(buf, "");
    p4_apistatus_close(&st);
}

static void conflict_without_causes_reads_the_message(void **state)
{
    struct p4_apistatus st;
    char buf[128];

    (void)state;
    decode(409,
           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Apply failed with 1 "
           "conflict: conflict with \\\"before-first-apply\\\" using v1: .data.a\","
           "\"reason\":\"Conflict\",\"code\":409}",
           &st);
    assert_true(p4_applyset_is_field_conflict(&st));
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "before-first-apply");
    p4_apistatus_close(&st);

    /* A manager whose name is a prefix of another's is still named. */
    decode(409,
           "{\"kind\":\"Status\",\"message\":\"Apply failed with 2 conflicts\",\"reason\":"
           "\"Conflict\",\"details\":{\"causes\":[{\"reason\":\"FieldManagerConflict\","
           "\"message\":\"conflict with \\\"helm-x\\\" using v1\"},{\"reason\":"
           "\"FieldManagerConflict\",\"message\":\"conflict with \\\"helm\\\" using v1\"},"
           "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"\\\" using "
           "v1\"},{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"open\"}]},"
           "\"code\":409}",
           &st);
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "helm-x, helm");
    p4_apistatus_close(&st);
}

static void other_refusals_are_not_field_conflicts(void **state)
{
    struct p4_apistatus st;
    char buf[64] = "junk";

    (void)state;
    /* A uid precondition of a DELETE. */
    decode(409,
           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Precondition failed: UID in "
           "precondition: 1, UID in object meta: 2\",\"reason\":\"Conflict\",\"details\":{"
           "\"name\":\"c\",\"kind\":\"configmaps\"},\"code\":409}",
           &st);
    assert_false(p4_applyset_is_field_conflict(&st));
    assert_int_equal(p4_applyset_conflict_managers(&st, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    p4_apistatus_close(&st);

    decode(422,
           "{\"kind\":\"Status\",\"message\":\"Apply failed with 1 conflict\",\"reason\":"
           "\"Invalid\",\"code\":422}",
           &st);
    assert_false(p4_applyset_is_field_conflict(&st));
    p4_apistatus_close(&st);

    decode(409, "not json at all", &st);
    assert_false(p4_applyset_is_field_conflict(&st));
    p4_apistatus_close(&st);
    assert_false(p4_applyset_is_field_conflict(NULL));
    assert_int_equal(p4_applyset_conflict_managers(NULL, buf, sizeof(buf)), 0);
    assert_int_equal(p4_applyset_conflict_managers(NULL, NULL, 0), 0);
}

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
    cJSON_Delete(objs); /* copied */
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
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    char server[64];
    uv_timer_t tick;
    struct client c;
    cJSON *objs = manifest();

    (void)state;
    assert_int_equal(uv_loop_init(&c.loop), 0);
    assert_int_equal(uv_tcp_init(&c.loop, &s.server), 0);
    s.server.data = &s;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    assert_int_equal(uv_tcp_bind(&s.server, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s.server, 8, on_connection), 0);
    assert_int_equal(uv_tcp_getsockname(&s.server, (struct sockaddr *)&bound, &len), 0);
    (void)snprintf(server, sizeof(server), "http://127.0.0.1:%d",
                   ntohs(((struct sockaddr_in *)&bound)->sin_port));
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_values_fit_kubernetes_limit),
        cmocka_unit_test(owner_mark_is_namespace_slash_name),
        cmocka_unit_test(marks_are_added_and_other_labels_kept),
        cmocka_unit_test(marks_replace_malformed_maps),
        cmocka_unit_test(marks_refuse_what_is_not_an_object),
        cmocka_unit_test(ownership_is_the_exact_annotation),
        cmocka_unit_test(conflict_names_each_manager_once),
        cmocka_unit_test(conflict_without_causes_reads_the_message),
        cmocka_unit_test(other_refusals_are_not_field_conflicts),
        cmocka_unit_test(crd_readiness),
        cmocka_unit_test(delete_body_has_background_and_uid),
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
