/* notifier_test.c: spec.notify's documents delivered on a real loop to a local HTTP server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h> /* after the four it needs */
#include <uv.h>

#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/timefmt.h"
#include "phase4/reconciler/notifier.h"
#include "testjson.h"
#include "testlisten.h"

/* A webhook: answers each request with the next of codes (0: never answers). */
struct srv {
    uv_loop_t loop;
    uv_tcp_t listener;
    int port;
    int codes[4];
    int requests;
    char last[8192]; /* the last request, head and body */
    int changed;     /* how many times the notifier said a key changed */
    struct conn *conns[16];
    int nconns;
};

struct conn {
    uv_tcp_t tcp;
    struct srv *s;
    char buf[8192];
    size_t len;
    bool answered, closed;
};

static void on_conn_closed(uv_handle_t *h)
{
    ((struct conn *)h->data)->closed = true;
}

static void on_written(uv_write_t *w, int status)
{
    struct conn *c = w->data;

    (void)status;
    free(w);
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - 1 - c->len));
}

/* A whole request in c->buf: its head and Content-Length bytes of body. */
static bool complete(const struct conn *c)
{
    const char *end = strstr(c->buf, "\r\n\r\n"), *cl = strcasestr(c->buf, "Content-Length:");

    return end && (cl == NULL || (size_t)(end + 4 - c->buf) + strtoul(cl + 15, NULL, 10) <= c->len);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    static char reply[128];
    uv_write_t *w;
    uv_buf_t b;
    int code;

    (void)buf;
    if (nread < 0) {
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    c->len += (size_t)nread;
    c->buf[c->len] = '\0';
    if (c->answered || !complete(c))
        return;
    c->answered = true;
    code = c->s->codes[c->s->requests < 4 ? c->s->requests : 3];
    c->s->requests++;
    (void)snprintf(c->s->last, sizeof(c->s->last), "%s", c->buf);
    if (code == 0)
        return; /* hangs */
    (void)snprintf(reply, sizeof(reply),
                   "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code);
    w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->data = c;
    b = uv_buf_init(reply, (unsigned)strlen(reply));
    assert_int_equal(uv_write(w, st, &b, 1, on_written), 0);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct srv *s = l->data;
    struct conn *c = calloc(1, sizeof(*c));

    assert_int_equal(status, 0);
    assert_non_null(c);
    c->s = s;
    assert_true(s->nconns < 16);
    s->conns[s->nconns++] = c;
    assert_int_equal(uv_tcp_init(&s->loop, &c->tcp), 0);
    c->tcp.data = c;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read), 0);
}

static void srv_start(struct srv *s)
{
    assert_int_equal(uv_loop_init(&s->loop), 0);
    s->port = test_listen(&s->loop, &s->listener, 8, on_connection);
    s->listener.data = s;
}

/* Close the listener and the connections (the notifier closed its own handles), then the loop. */
static void srv_stop(struct srv *s)
{
    uv_close((uv_handle_t *)&s->listener, NULL);
    for (int i = 0; i < s->nconns; i++) {
        if (!uv_is_closing((uv_handle_t *)&s->conns[i]->tcp))
            uv_close((uv_handle_t *)&s->conns[i]->tcp, on_conn_closed);
    }
    (void)uv_run(&s->loop, UV_RUN_NOWAIT); /* takes back a uv_stop made outside a run */
    (void)uv_run(&s->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < s->nconns; i++)
        free(s->conns[i]);
    assert_int_equal(uv_loop_close(&s->loop), 0);
}

static void on_changed(const char *key, void *data)
{
    struct srv *s = data;

    assert_string_equal(key, "team/web");
    s->changed++;
    uv_stop(&s->loop);
}

static void on_deadline(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

/* Run the loop until on_changed stops it (or 5 s pass: the test then fails). */
static void run_until_changed(struct srv *s, int want)
{
    uv_timer_t *t = calloc(1, sizeof(*t)); /* freed when closed: on_changed may stop a run */

    assert_non_null(t);
    assert_int_equal(uv_timer_init(&s->loop, t), 0);
    assert_int_equal(uv_timer_start(t, on_deadline, 5000, 0), 0);
    while (s->changed < want && uv_timer_get_due_in(t) > 0)
        (void)uv_run(&s->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)t, free_timer);
    assert_int_equal(s->changed, want);
}

/* A resource with spec.notify at the server and one pending document, as the status holds it. */
static cJSON *resource(const struct srv *s, int attempts, const char *next, const char *extra)
{
    char text[2048];

    (void)snprintf(text, sizeof(text),
                   "{'metadata':{'namespace':'team','name':'web','uid':'u-1','generation':1},"
                   "'spec':{'notify':{'url':'http://127.0.0.1:%d/hook'%s}},"
                   "'status':{'notifications':{'pending':[{'id':'u-1/1/Verdict','event':'Verdict',"
                   "'generation':1,'attempts':%d,'queuedAt':'2024-01-01T00:00:00Z',"
                   "'nextAttemptAt':'%s','document':{'type':'phase4.io/notification/v1',"
                   "'id':'u-1/1/Verdict'}}]}}}",
                   s->port, extra, attempts, next);
    return test_json(text);
}

static struct p4_notifier *notifier(struct srv *s, const char *allow)
{
    struct p4_notifier_config cfg = {
        .changed = on_changed, .data = s, .timeout_ms = 3000, .allow = allow};
    struct p4_notifier *n = p4_notifier_new(&s->loop, &cfg);

    assert_non_null(n);
    return n;
}

/* 500, then 200: one outcome each, kept until the written status shows it, then dropped. */
static void retried_then_delivered(void **state)
{
    struct srv s = {.codes = {500, 200, 200, 200}};
    struct p4_notifier *n;
    const struct p4_notify_outcome *o;
    struct p4_buf m = {0};
    size_t count = 0;
    cJSON *obj;

    (void)state;
    srv_start(&s);
    n = notifier(&s, NULL);
    obj = resource(&s, 0, "2000-01-01T00:00:00Z", "");
    p4_notifier_sync(n, "team/web", obj);
    run_until_changed(&s, 1);
    o = p4_notifier_outcomes(n, "team/web", &count);
    assert_int_equal(count, 1);
    assert_false(o[0].ok);
    assert_int_equal(o[0].attempt, 1);
    assert_string_equal(o[0].id, "u-1/1/Verdict");
    assert_string_equal(o[0].reason, "WebhookFailed");
    assert_non_null(strstr(o[0].message, "HTTP 500"));
    assert_non_null(strstr(s.last, "POST /hook HTTP/1.1"));
    assert_non_null(strcasestr(s.last, "Content-Type: application/json"));
    assert_non_null(strcasestr(s.last, "X-Phase4-Id: u-1/1/Verdict"));
    assert_non_null(strcasestr(s.last, "X-Phase4-Event: Verdict"));
    assert_non_null(strcasestr(s.last, "X-Phase4-Timestamp: "));
    assert_null(strcasestr(s.last, "Authorization:"));
    assert_null(strcasestr(s.last, "X-Phase4-Signature:"));
    assert_non_null(strstr(s.last, "\"type\":\"phase4.io/notification/v1\""));

    /* Not yet recorded: the same status again starts nothing and keeps the outcome. */
    p4_notifier_sync(n, "team/web", obj);
    (void)uv_run(&s.loop, UV_RUN_NOWAIT);
    assert_int_equal(s.requests, 1);
    (void)p4_notifier_outcomes(n, "team/web", &count);
    assert_int_equal(count, 1);
    cJSON_Delete(obj);

    /* Recorded (attempts 1) and due: the outcome goes, attempt 2 is delivered. */
    obj = resource(&s, 1, "2000-01-01T00:00:01Z", "");
    p4_notifier_sync(n, "team/web", obj);
    run_until_changed(&s, 2);
    o = p4_notifier_outcomes(n, "team/web", &count);
    assert_int_equal(count, 1);
    assert_true(o[0].ok);
    assert_int_equal(o[0].attempt, 2);
    assert_string_equal(o[0].reason, "Delivered");
    assert_int_equal(s.requests, 2);
    cJSON_Delete(obj);

    /* Recorded as delivered: nothing pending, nothing kept. */
    obj = test_json("{'metadata':{'namespace':'team','name':'web'},'spec':{'notify':{'url':"
                    "'http://127.0.0.1:1/'}},'status':{'notifications':{'pending':[]}}}");
    p4_notifier_sync(n, "team/web", obj);
    (void)p4_notifier_outcomes(n, "team/web", &count);
    assert_int_equal(count, 0);
    cJSON_Delete(obj);

    p4_notifier_metrics(n, &m);
    assert_non_null(strstr(m.data, "phase4_notifications_total{result=\"delivered\"} 1\n"));
    assert_non_null(strstr(m.data, "phase4_notifications_total{result=\"rejected\"} 1\n"));
    assert_non_null(strstr(m.data, "phase4_notifications_in_flight 0\n"));
    free(m.data);
    p4_notifier_free(n);
    srv_stop(&s);
}

/* A document not due yet waits for its time (a timer says the key changed); none is sent. */
static void waits_for_next_attempt(void **state)
{
    struct srv s = {.codes = {200, 200, 200, 200}};
    struct p4_notifier *n;
    char next[32];
    cJSON *obj;

    (void)state;
    srv_start(&s);
    n = notifier(&s, NULL);
    p4_timefmt_format(time(NULL) + 1, next, sizeof(next));
    obj = resource(&s, 1, next, "");
    p4_notifier_sync(n, "team/web", obj);
    run_until_changed(&s, 1);
    assert_int_equal(s.requests, 0);
    cJSON_Delete(obj);
    p4_notifier_free(n);
    srv_stop(&s);
}

/* Refused before sending: outside --notify-allow; a token to plain http without insecure. */
static void refused_before_sending(void **state)
{
    struct srv s = {.codes = {200, 200, 200, 200}};
    struct p4_notifier *n;
    const struct p4_notify_outcome *o;
    size_t count = 0;
    cJSON *obj;

    (void)state;
    srv_start(&s);
    n = notifier(&s, "https://hooks.example/");
    obj = resource(&s, 0, "2000-01-01T00:00:00Z", "");
    p4_notifier_sync(n, "team/web", obj);
    run_until_changed(&s, 1);
    o = p4_notifier_outcomes(n, "team/web", &count);
    assert_int_equal(count, 1);
    assert_string_equal(o[0].reason, "WebhookNotAllowed");
    assert_non_null(strstr(o[0].message, "--notify-allow"));
    assert_int_equal(s.requests, 0);
    cJSON_Delete(obj);
    p4_notifier_free(n);

    /* A URL with user information is never called. */
    n = notifier(&s, NULL);
    obj = test_json("{'metadata':{'namespace':'team','name':'web'},'spec':{'notify':{'url':"
                    "'http://user:pw@127.0.0.1:1/'}},'status':{'notifications':{'pending':[{'id':"
                    "'x','attempts':0,'nextAttemptAt':'2000-01-01T00:00:00Z','document':{}}]}}}");
    p4_notifier_sync(n, "team/web", obj);
    run_until_changed(&s, 2);
    o = p4_notifier_outcomes(n, "team/web", &count);
    assert_int_equal(count, 1);
    assert_string_equal(o[0].reason, "WebhookNotAllowed");
    assert_null(strstr(o[0].message, "pw"));
    cJSON_Delete(obj);
    p4_notifier_free(n);
    srv_stop(&s);
}

/* Freed with a delivery in flight: it ends quietly, records nothing, and nothing leaks. */
static void freed_with_delivery_in_flight(void **state)
{
    struct srv s = {.codes = {0, 0, 0, 0}};
    struct p4_notifier *n;
    cJSON *obj;

    (void)state;
    srv_start(&s);
    n = notifier(&s, NULL);
    obj = resource(&s, 0, "2000-01-01T00:00:00Z", "");
    p4_notifier_sync(n, "team/web", obj);
    while (s.requests == 0)
        (void)uv_run(&s.loop, UV_RUN_ONCE);
    p4_notifier_free(n);
    cJSON_Delete(obj);
    srv_stop(&s);
    assert_int_equal(s.changed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retried_then_delivered),
        cmocka_unit_test(waits_for_next_attempt),
        cmocka_unit_test(refused_before_sending),
        cmocka_unit_test(freed_with_delivery_in_flight),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
