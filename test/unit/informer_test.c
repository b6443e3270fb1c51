/*
 * informer_test.c: what the informer reads of an object cJSON cannot parse; its namespace
 * filter (keep_ns); and, from a loopback server that answers the list and holds the watch,
 * that an object lent by p4_informer_get is freed after the loop turn by a check that runs
 * only while something is lent (every active check runs at every turn of the loop), and that
 * p4_informer_fill_ns lists only a namespace whose objects it refused or forgot.
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
#include "phase4/kube/client.h"
#include "phase4/runtime/informer.h"
#include "testlisten.h"

/*
 * A Phase4Deployment whose spec.chart.values nests depth levels, with before and after put
 * around the metadata members (so that members may come in any order). Caller frees.
 */
static char *deep_object(size_t depth, const char *meta, const char *status)
{
    size_t n = 1024 + depth * 6 + strlen(meta) + (status ? strlen(status) : 0);
    char *buf = malloc(n);
    int at;

    assert_non_null(buf);
    at = snprintf(buf, n,
                  "{\"apiVersion\":\"phase4.io/v1alpha1\",\"kind\":\"Phase4Deployment\","
                  "\"spec\":{\"chart\":{\"name\":\"webapp\",\"values\":");
    for (size_t i = 0; i < depth; i++)
        at += snprintf(buf + at, n - (size_t)at, "{\"a\":");
    buf[at++] = '1';
    memset(buf + at, '}', depth + 2);
    at += (int)depth + 2;
    (void)snprintf(buf + at, n - (size_t)at, ",\"metadata\":%s%s%s}", meta,
                   status ? ",\"status\":" : "", status ? status : "");
    return buf;
}

static void reads_identity_and_why_of_a_deep_object(void **state)
{
    char *obj = deep_object(1100,
                            "{\"name\":\"deep\",\"namespace\":\"team-a\",\"uid\":\"u-1\","
                            "\"resourceVersion\":\"42\",\"generation\":3,\"labels\":{\"x\":\"y\"}}",
                            "{\"observedGeneration\":2,\"conditions\":[]}");
    struct p4_error err;
    struct p4_informer_unreadable u;

    (void)state;
    assert_null(p4_json_parse(obj, strlen(obj), &err)); /* cJSON cannot */
    assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), 0);
    assert_string_equal(u.ns, "team-a");
    assert_string_equal(u.name, "deep");
    assert_string_equal(u.uid, "u-1");
    assert_string_equal(u.resource_version, "42");
    assert_string_equal(u.kind, "Phase4Deployment");
    assert_string_equal(u.api_version, "phase4.io/v1alpha1");
    assert_true(u.has_generation);
    assert_int_equal(u.generation, 3);
    assert_string_equal(u.why, "spec.chart.values nests deeper than 1000 levels");
    assert_string_equal(u.status, "{\"observedGeneration\":2,\"conditions\":[]}");
    p4_informer_unreadable_close(&u);
    assert_null(u.status);
    free(obj);
}

static void reads_what_it_can(void **state)
{
    char *obj = deep_object(1100, "{\"name\":\"deep\",\"generation\":1.5}", "{\"a\":[[[");
    struct p4_error err = {.code = P4_ERR_PARSE, .message = "invalid JSON at byte 9"};
    struct p4_informer_unreadable u;

    (void)state;
    /* status is not JSON: the object is not either, and nothing can be read. */
    assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), P4_ERR_INVAL);
    assert_non_null(strstr(u.why, "not valid JSON"));
    assert_string_equal(u.name, "");
    free(obj);

    obj = deep_object(1100, "{\"name\":\"deep\",\"generation\":1.5,\"namespace\":7}", "[1]");
    assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), 0);
    assert_string_equal(u.name, "deep");
    assert_string_equal(u.ns, "");  /* not a string */
    assert_false(u.has_generation); /* not an integer */
    assert_null(u.status);          /* not an object */
    p4_informer_unreadable_close(&u);
    free(obj);

    /* Valid JSON cJSON refuses for another reason: the parser's words. */
    assert_int_equal(p4_informer_read_unreadable("{\"metadata\":{\"name\":\"x\"}}", 25, &err, &u),
                     0);
    assert_string_equal(u.why, "the object is not valid JSON (invalid JSON at byte 9)");
    err.code = P4_ERR_TOOBIG;
    assert_int_equal(p4_informer_read_unreadable("{\"metadata\":{\"name\":\"x\"}}", 25, &err, &u),
                     0);
    assert_string_equal(u.why, "the object is larger than 64 MiB");

    /* No name, not an object, no bytes: no key to keep it under. */
    assert_int_equal(p4_informer_read_unreadable("{\"metadata\":{}}", 15, &err, &u), P4_ERR_INVAL);
    assert_int_equal(p4_informer_read_unreadable("[1]", 3, &err, &u), P4_ERR_INVAL);
    assert_int_equal(p4_informer_read_unreadable(NULL, 3, &err, &u), P4_ERR_INVAL);
    assert_int_equal(p4_informer_read_unreadable("{\"metadata\":{\"name\":\"x\"}", 24, &err, &u),
                     P4_ERR_INVAL);
}

/* "[{"manager":"kubectl","fieldsV1":{"f:a":...}}]" nesting depth levels in all. Caller frees. */
static char *deep_managed_fields(size_t depth)
{
    size_t n = 256 + depth * 8;
    char *buf = malloc(n);
    int at = snprintf(buf, n, "[{\"manager\":\"kubectl\",\"fieldsV1\":");

    assert_non_null(buf);
    for (size_t i = 0; i < depth - 2; i++)
        at += snprintf(buf + at, n - (size_t)at, "{\"f:a\":");
    at += snprintf(buf + at, n - (size_t)at, "1");
    memset(buf + at, '}', depth - 1);
    at += (int)depth - 1;
    (void)snprintf(buf + at, n - (size_t)at, "]");
    return buf;
}

/* managedFields (which the cache drops) may be what is too deep: the object parses without it. */
static void parses_without_deep_managed_fields(void **state)
{
    char *mf = deep_managed_fields(1000); /* at metadata.managedFields: 1002 levels */
    static const char *const metas[] = {
        "{\"managedFields\":%s,\"name\":\"a\",\"namespace\":\"n\"}",
        "{\"name\":\"a\", \"managedFields\" : %s , \"namespace\":\"n\"}",
        "{\"name\":\"a\",\"namespace\":\"n\",\"managedFields\":%s }",
        "{ \"managedFields\":%s}",
    };
    char meta[16384];
    struct p4_error err;
    struct p4_informer_unreadable u;

    (void)state;
    for (size_t i = 0; i < sizeof(metas) / sizeof(metas[0]); i++) {
        char *obj;
        cJSON *tree;

        (void)snprintf(meta, sizeof(meta), metas[i], mf);
        obj = deep_object(900, meta, NULL);
        assert_null(p4_json_parse(obj, strlen(obj), NULL));
        tree = p4_informer_parse(obj, strlen(obj), &err);
        assert_non_null(tree);
        assert_null(p4_json_get(tree, "metadata.managedFields"));
        if (i < 3) {
            assert_string_equal(p4_json_str(tree, "metadata.name"), "a");
            assert_string_equal(p4_json_str(tree, "metadata.namespace"), "n");
        }
        cJSON_Delete(tree);
        free(obj);
    }
    /* Too deep elsewhere too: refused, and the why names that place, not managedFields. */
    (void)snprintf(meta, sizeof(meta), metas[0], mf);
    {
        char *obj = deep_object(1100, meta, NULL);

        assert_null(p4_informer_parse(obj, strlen(obj), &err));
        assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), 0);
        assert_string_equal(u.why, "spec.chart.values nests deeper than 1000 levels");
        free(obj);
    }
    /* Too deep in another member of metadata: named there. */
    {
        char *labels = deep_managed_fields(1100), *obj;

        (void)snprintf(meta, sizeof(meta), "{\"name\":\"a\",\"labels\":{\"x\":%s}}", labels);
        obj = deep_object(10, meta, NULL);
        assert_null(p4_informer_parse(obj, strlen(obj), NULL));
        assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), 0);
        assert_string_equal(u.why, "metadata.labels.x nests deeper than 1000 levels");
        free(obj);
        free(labels);
    }
    free(mf);
}

/* keep_ns of the tests: only "team-a" is targeted; counts what it was asked. */
static int asked;
static char last_ns[64];

static bool keep_team_a(const char *ns, void *data)
{
    (void)data;
    asked++;
    (void)snprintf(last_ns, sizeof(last_ns), "%s", ns);
    return strcmp(ns, "team-a") == 0;
}

static bool keeps(struct p4_informer *inf, const char *obj)
{
    return p4_informer_keeps(inf, obj, strlen(obj));
}

static void keeps_only_accepted_namespaces(void **state)
{
    uv_loop_t loop;
    const struct p4_informer_handlers h = {.keep_ns = keep_team_a};
    struct p4_informer *inf, *all;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    inf = p4_informer_new(&loop, NULL, "/api/v1/pods", &h);
    all = p4_informer_new(&loop, NULL, "/api/v1/pods", NULL);
    asked = 0;
    assert_true(keeps(inf, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"team-a\"},\"spec\":{}}"));
    assert_false(
        keeps(inf, "{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"team-b\",\"name\":\"p\"}}"));
    assert_string_equal(last_ns, "team-b");
    /* Escaped names are read unescaped; members come in any order. */
    assert_true(keeps(inf, "{\"status\":{\"phase\":\"Running\"},\"metadata\":"
                           "{\"namespace\":\"t\\u0065am-a\"}}"));
    /* No namespace (cluster-scoped, or none said): asked with "". */
    assert_false(keeps(inf, "{\"metadata\":{\"name\":\"n\"}}"));
    assert_string_equal(last_ns, "");
    assert_false(keeps(inf, "{\"metadata\":{\"namespace\":7}}"));
    assert_string_equal(last_ns, "");
    assert_int_equal(asked, 5);
    /* What is not an object is kept, unasked: the parser says what is wrong. */
    assert_true(keeps(inf, "[1,2]"));
    assert_true(keeps(inf, "\"x\""));
    assert_true(keeps(inf, ""));
    assert_int_equal(asked, 5);
    /* Without keep_ns everything is kept. */
    assert_true(keeps(all, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"team-b\"}}"));
    /* A fill needs a namespace; forgetting one never cached is nothing. */
    assert_int_equal(p4_informer_fill_ns(inf, "", NULL, NULL), P4_ERR_INVAL);
    p4_informer_forget_ns(inf, "team-b");
    assert_int_equal(p4_informer_len(inf), 0);
    p4_informer_close(inf);
    p4_informer_close(all);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

#define CONNS 4

/* A listener: a list is answered with LIST, a watch is held until the end. */
struct server {
    uv_tcp_t tcp;
    uv_tcp_t conn[CONNS];
    uv_write_t wr[CONNS];
    char head[CONNS][2048];
    size_t len[CONNS];
    int nconn, closed, watches;
};

/* The list's one object: big enough to be kept deflated (DATA, as the cache gives it back). */
#define DATA                                                                                       \
    "{\"greeting\":\"hello, hello, hello: the cache keeps this deflated and gives it back\","      \
    "\"again\":\"hello, hello, hello: the cache keeps this deflated and gives it back\"}"
#define LIST_BODY                                                                                  \
    "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[{\"metadat"   \
    "a\":{\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":\"5\"},\"data\":" DATA "}]}"
static const char LIST[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: "
                           "close\r\nContent-Length: 303\r\n\r\n" LIST_BODY;
_Static_assert(sizeof(LIST_BODY) - 1 == 303, "Content-Length is LIST_BODY's length");

static void on_conn_closed(uv_handle_t *h)
{
    struct server *srv = h->loop->data;

    srv->closed++;
}

static void on_conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct server *srv = h->loop->data;
    int i = (int)((uv_tcp_t *)h - srv->conn);

    (void)hint;
    *buf =
        uv_buf_init(srv->head[i] + srv->len[i], (unsigned)(sizeof(srv->head[i]) - 1 - srv->len[i]));
}

static void on_list_written(uv_write_t *w, int status)
{
    (void)status;
    uv_close((uv_handle_t *)w->handle, on_conn_closed);
}

static void on_conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct server *srv = s->loop->data;
    int i = (int)((uv_tcp_t *)s - srv->conn);
    uv_buf_t answer = uv_buf_init((char *)LIST, sizeof(LIST) - 1);

    (void)buf;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_conn_closed);
        return;
    }
    srv->len[i] += (size_t)n;
    srv->head[i][srv->len[i]] = '\0';
    if (strstr(srv->head[i], "\r\n\r\n") == NULL)
        return;
    if (strstr(srv->head[i], "watch=") != NULL) {
        srv->watches++; /* held: read on, to see the client go */
        return;
    }
    (void)uv_read_stop(s);
    assert_int_equal(uv_write(&srv->wr[i], s, &answer, 1, on_list_written), 0);
}

static void on_server_connection(uv_stream_t *tcp, int status)
{
    struct server *srv = tcp->loop->data;
    uv_tcp_t *c;

    assert_int_equal(status, 0);
    assert_true(srv->nconn < CONNS);
    c = &srv->conn[srv->nconn++];
    (void)uv_tcp_init(tcp->loop, c);
    assert_int_equal(uv_accept(tcp, (uv_stream_t *)c), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)c, on_conn_alloc, on_conn_read), 0);
}

static void count_active_checks(uv_handle_t *h, void *data)
{
    if (h->type == UV_CHECK && uv_is_active(h))
        (*(int *)data)++;
}

static int active_checks(uv_loop_t *loop)
{
    int n = 0;

    uv_walk(loop, count_active_checks, &n);
    return n;
}

/* The loop, srv listening on a loopback port, and a client of it. */
static struct p4_kube *serve(uv_loop_t *loop, struct server *srv)
{
    char url[64];
    struct p4_kube *kube;
    struct p4_error err;
    struct p4_kube_config cfg = {.server = url, .namespace = (char *)"default"};

    memset(srv, 0, sizeof(*srv));
    assert_int_equal(uv_loop_init(loop), 0);
    loop->data = srv;
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d",
                   test_listen(loop, &srv->tcp, 8, on_server_connection));
    assert_int_equal(p4_kube_new(loop, &cfg, NULL, &kube, &err), 0);
    return kube;
}

/* Close srv and its connections, then the loop (the client is closed first). */
static void unserve(uv_loop_t *loop, struct server *srv)
{
    uv_close((uv_handle_t *)&srv->tcp, on_conn_closed);
    while (srv->closed < srv->nconn + 1)
        (void)uv_run(loop, UV_RUN_ONCE);
    (void)uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void a_lent_object_is_freed_after_the_turn_by_a_check_active_only_then(void **state)
{
    uv_loop_t loop;
    struct server srv;
    struct p4_kube *kube;
    struct p4_informer *inf;
    const cJSON *obj;

    (void)state;
    kube = serve(&loop, &srv);
    inf = p4_informer_new(&loop, kube, "/api/v1/configmaps", NULL);
    p4_informer_start(inf);
    while (!p4_informer_synced(inf) || srv.watches == 0)
        (void)uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(p4_informer_len(inf), 1);
    assert_int_equal(active_checks(&loop), 0); /* nothing lent: no work at each turn */

    obj = p4_informer_get(inf, "n/a");
    assert_string_equal(p4_json_str(obj, "metadata.name"), "a");
    {
        char *data = p4_json_print(cJSON_GetObjectItemCaseSensitive(obj, "data"));
        assert_string_equal(data, DATA); /* inflated whole */
        free(data);
    }
    assert_ptr_equal(p4_informer_get(inf, "n/a"), obj); /* the same tree within the turn */
    assert_null(p4_informer_get(inf, "n/b"));
    assert_int_equal(active_checks(&loop), 1);
    (void)uv_run(&loop, UV_RUN_NOWAIT); /* the turn ends: what was lent is freed */
    assert_int_equal(active_checks(&loop), 0);
    obj = p4_informer_get(inf, "n/a"); /* lent again, freed again (valgrind sees both) */
    assert_string_equal(p4_json_str(obj, "metadata.namespace"), "n");
    assert_int_equal(active_checks(&loop), 1);
    (void)uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(active_checks(&loop), 0);

    p4_informer_close(inf);
    p4_kube_close(kube);
    unserve(&loop, &srv);
}

/* keep_ns of the fill test: only the namespace named in targeted. */
static char targeted[64];

static bool keep_targeted(const char *ns, void *data)
{
    (void)data;
    return strcmp(ns, targeted) == 0;
}

static int fills_done, fill_rc;

static void on_filled(void *data, const char *ns, int rc)
{
    (void)data;
    (void)ns;
    fills_done++;
    fill_rc = rc;
}

/* A fill lists only a namespace whose objects the informer refused or forgot. */
static void fills_only_what_it_refused_or_forgot(void **state)
{
    uv_loop_t loop;
    struct server srv;
    struct p4_kube *kube;
    struct p4_informer *inf;
    const struct p4_informer_handlers h = {.keep_ns = keep_targeted};

    (void)state;
    fills_done = 0;
    (void)snprintf(targeted, sizeof(targeted), "team-a");
    kube = serve(&loop, &srv);
    inf = p4_informer_new(&loop, kube, "/api/v1/configmaps", &h);
    p4_informer_start(inf);
    while (!p4_informer_synced(inf) || srv.watches == 0)
        (void)uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(p4_informer_len(inf), 0); /* the list's one object, of "n", refused */

    /* Nothing of "m" was ever shown: nothing to list, no request. */
    (void)snprintf(targeted, sizeof(targeted), "m");
    assert_int_equal(p4_informer_fill_ns(inf, "m", on_filled, NULL), P4_INFORMER_FILLED);
    assert_int_equal(srv.nconn, 2); /* the list's and the watch's */

    /* "n" had an object refused: it is listed, and the object cached. */
    (void)snprintf(targeted, sizeof(targeted), "n");
    assert_int_equal(p4_informer_fill_ns(inf, "n", on_filled, NULL), 0);
    while (fills_done < 1)
        (void)uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(fill_rc, 0);
    assert_int_equal(p4_informer_len(inf), 1);

    /* Forgotten, it needs a list again when targeted again. */
    p4_informer_forget_ns(inf, "n");
    assert_int_equal(p4_informer_len(inf), 0);
    assert_int_equal(p4_informer_fill_ns(inf, "n", on_filled, NULL), 0);
    while (fills_done < 2)
        (void)uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(p4_informer_len(inf), 1);
    assert_int_equal(srv.nconn, 4);

    p4_informer_close(inf);
    p4_kube_close(kube);
    unserve(&loop, &srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_identity_and_why_of_a_deep_object),
        cmocka_unit_test(reads_what_it_can),
        cmocka_unit_test(parses_without_deep_managed_fields),
        cmocka_unit_test(keeps_only_accepted_namespaces),
        cmocka_unit_test(a_lent_object_is_freed_after_the_turn_by_a_check_active_only_then),
        cmocka_unit_test(fills_only_what_it_refused_or_forgot),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
