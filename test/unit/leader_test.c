/*
 * leader_test.c: leader election on a real loop against a scripted API server on the same
 * loop. The server answers the first requests (no Lease yet: 404, then the create: 201) and
 * then never answers: the renewal in flight hangs, as it does with etcd stopped, and the
 * leader must stop leading once the renew deadline has passed, on its own timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/kube/client.h"
#include "phase4/kube/kubeconfig.h"
#include "phase4/runtime/leader.h"
#include "testlisten.h"

#define DEADLINE_MS 5000 /* generous: a test that needs it has failed */
#define RENEW_DEADLINE_MS 300
#define MAX_CONNS 16

static const char lease_json[] =
    "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
    "\"p4\",\"namespace\":\"default\",\"resourceVersion\":\"1\"},\"spec\":{\"holderIdentity\":"
    "\"me\",\"leaseDurationSeconds\":1}}";
static const char not_found_json[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"NotFound\","
    "\"code\":404}";

/* ---- the scripted server: answers the first `answers` requests, then is silent ---- */

enum mode { ANSWER, SILENT, HANG_UP };

struct server {
    uv_tcp_t listener;
    struct conn *conns[MAX_CONNS];
    int nconns;
    enum mode mode;
    int requests, answered, answers;
};

struct conn {
    uv_tcp_t tcp;
    struct server *s;
    char buf[16384];
    size_t len;
};

static void on_conn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void respond(struct conn *c, const char *status, const char *body)
{
    uv_write_t *w = calloc(1, sizeof(*w));
    char *text = malloc(strlen(body) + 256);
    uv_buf_t b;

    assert_non_null(w);
    assert_non_null(text);
    (void)sprintf(text,
                  "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                  status, strlen(body), body);
    w->data = text;
    b = uv_buf_init(text, (unsigned)strlen(text));
    assert_int_equal(uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written), 0);
}

/* Whole requests in c->buf: answer each by the script (GET: 404; POST or PUT: the Lease). */
static void take_requests(struct conn *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *cl;
        size_t head, body = 0, whole;

        if (end == NULL)
            return;
        head = (size_t)(end - c->buf) + 4;
        c->buf[head - 1] = '\0';
        cl = strcasestr(c->buf, "Content-Length:");
        if (cl)
            body = strtoul(cl + 15, NULL, 10);
        whole = head + body;
        if (whole > c->len)
            return;
        c->s->requests++;
        if (c->s->mode == ANSWER && c->s->answered < c->s->answers) {
            c->s->answered++;
            if (strncmp(c->buf, "GET ", 4) == 0)
                respond(c, "404 Not Found", not_found_json);
            else
                respond(c, "201 Created", lease_json);
        }
        memmove(c->buf, c->buf + whole, c->len - whole);
        c->len -= whole;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len - 1));
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = stream->data;

    (void)buf;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)stream))
            uv_close((uv_handle_t *)stream, on_conn_closed);
        return;
    }
    c->len += (size_t)n;
    take_requests(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *s = listener->data;
    struct conn *c;

    if (status != 0 || s->nconns >= MAX_CONNS)
        return;
    c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->s = s;
    c->tcp.data = c;
    (void)uv_tcp_init(listener->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 || s->mode == HANG_UP) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    s->conns[s->nconns++] = c;
    (void)uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* From now on, hang up on every connection (so what is in flight ends with an error). */
static void hang_up(struct server *s)
{
    s->mode = HANG_UP;
    for (int i = 0; i < s->nconns; i++)
        if (!uv_is_closing((uv_handle_t *)&s->conns[i]->tcp))
            uv_close((uv_handle_t *)&s->conns[i]->tcp, on_conn_closed);
    s->nconns = 0;
}

static void on_listener_closed(uv_handle_t *h)
{
    (void)h;
}

/* ---- the test ---- */

struct fx {
    uv_loop_t loop;
    uv_timer_t deadline;
    struct server server;
    struct p4_kube *kube;
    int elected, lost, released;
    uint64_t elected_at, lost_at;
    int requests_at_lost;
};

static void on_elected(void *data)
{
    struct fx *fx = data;

    fx->elected++;
    fx->elected_at = uv_now(&fx->loop);
}

static void on_lost(void *data)
{
    struct fx *fx = data;

    fx->lost++;
    fx->lost_at = uv_now(&fx->loop);
    fx->requests_at_lost = fx->server.requests;
    uv_stop(&fx->loop);
}

static void on_released(void *data)
{
    struct fx *fx = data;

    fx->released++;
    uv_stop(&fx->loop);
}

static void on_deadline(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void a_hung_renewal_stops_leading_at_the_renew_deadline(void **state)
{
    struct fx fx;
    char url[64];
    struct p4_kube_config cfg = {.server = url, .namespace = (char *)"default"};
    struct p4_error err;
    struct p4_leader_opts o = {.namespace = "default",
                               .name = "p4",
                               .identity = "me",
                               .lease_ms = 1000,
                               .renew_deadline_ms = RENEW_DEADLINE_MS,
                               .retry_ms = 50,
                               .on_elected = on_elected,
                               .on_lost = on_lost};
    struct p4_leader *l;

    (void)state;
    memset(&fx, 0, sizeof(fx));
    o.data = &fx;
    assert_int_equal(uv_loop_init(&fx.loop), 0);
    assert_int_equal(uv_timer_init(&fx.loop, &fx.deadline), 0);
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d",
                   test_listen(&fx.loop, &fx.server.listener, 16, on_connection));
    fx.server.listener.data = &fx.server;
    fx.server.answers = 2; /* the GET (no Lease) and the create; every renewal then hangs */
    assert_int_equal(p4_kube_new(&fx.loop, &cfg, NULL, &fx.kube, &err), 0);

    l = p4_leader_new(&fx.loop, fx.kube, &o);
    p4_leader_start(l);
    assert_int_equal(uv_timer_start(&fx.deadline, on_deadline, DEADLINE_MS, 0), 0);
    (void)uv_run(&fx.loop, UV_RUN_DEFAULT);

    /* Elected once, then no longer leading although no answer ever came back. */
    assert_int_equal(fx.elected, 1);
    assert_int_equal(fx.lost, 1);
    assert_false(p4_leader_is_leader(l));
    assert_int_equal(fx.server.answered, 2);
    assert_int_equal(fx.requests_at_lost, 3); /* the GET, the create, and a renewal's GET */
    assert_true(fx.lost_at - fx.elected_at >= RENEW_DEADLINE_MS - 10);
    assert_true(fx.lost_at - fx.elected_at < 1000); /* on the timer, not at the lease's end */

    /* Shut down: the requests in flight fail; the leader is freed and says so. */
    p4_leader_release(l, on_released, &fx);
    hang_up(&fx.server);
    (void)uv_run(&fx.loop, UV_RUN_DEFAULT);
    assert_int_equal(fx.released, 1);
    assert_int_equal(fx.lost, 1);

    (void)uv_timer_stop(&fx.deadline);
    uv_close((uv_handle_t *)&fx.deadline, NULL);
    uv_close((uv_handle_t *)&fx.server.listener, on_listener_closed);
    p4_kube_close(fx.kube);
    (void)uv_run(&fx.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_hung_renewal_stops_leading_at_the_renew_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
