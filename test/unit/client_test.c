/*
 * client_test.c: the API client's requests as a server sees them, from a
 * loopback listener that records each request's head and answers "{}" (or
 * what a test sets): impersonation through a view (p4_kube_as) and its
 * lifetime; a body read as bytes (p4_kube_get_bytes); the client-side rate
 * limit lifted when the answers show API Priority and Fairness, kept when set;
 * a 429's Retry-After holding every request (shared backoff).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/buf.h"
#include "phase4/kube/client.h"
#include "testlisten.h"

#define HEADS 4

/* A listener that answers every request with 200 "{}" and keeps its head. */
struct recorder {
    uv_tcp_t server;
    uv_tcp_t conn[HEADS];
    uv_write_t wr[HEADS];
    char head[HEADS][2048];
    size_t len[HEADS];
    int nconn, closed;
    const char *answer; /* NULL: ANSWER */
    size_t answer_len;
};

static const char ANSWER[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: 2\r\nConnection: close\r\n\r\n{}";

static void on_closed(uv_handle_t *h)
{
    struct recorder *rec = h->loop->data;

    rec->closed++;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct recorder *rec = h->loop->data;
    int i = (int)((uv_tcp_t *)h - rec->conn);

    (void)hint;
    *buf =
        uv_buf_init(rec->head[i] + rec->len[i], (unsigned)(sizeof(rec->head[i]) - 1 - rec->len[i]));
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    uv_close((uv_handle_t *)w->handle, on_closed);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct recorder *rec = s->loop->data;
    int i = (int)((uv_tcp_t *)s - rec->conn);
    uv_buf_t answer = rec->answer ? uv_buf_init((char *)rec->answer, (unsigned)rec->answer_len)
                                  : uv_buf_init((char *)ANSWER, sizeof(ANSWER) - 1);

    (void)buf;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    rec->len[i] += (size_t)n;
    rec->head[i][rec->len[i]] = '\0';
    if (strstr(rec->head[i], "\r\n\r\n") == NULL && rec->len[i] < sizeof(rec->head[i]) - 1)
        return;
    (void)uv_read_stop(s);
    assert_int_equal(uv_write(&rec->wr[i], s, &answer, 1, on_written), 0);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct recorder *rec = server->loop->data;
    uv_tcp_t *c;

    assert_int_equal(status, 0);
    assert_true(rec->nconn < HEADS);
    c = &rec->conn[rec->nconn];
    (void)uv_tcp_init(server->loop, c);
    rec->nconn++;
    assert_int_equal(uv_accept(server, (uv_stream_t *)c), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)c, on_alloc, on_read), 0);
}

static void recorder_start(uv_loop_t *loop, struct recorder *rec, char *url, size_t size)
{
    memset(rec, 0, sizeof(*rec));
    loop->data = rec;
    (void)snprintf(url, size, "http://127.0.0.1:%d",
                   test_listen(loop, &rec->server, 8, on_connection));
}

struct answers {
    int n, rc[HEADS];
    long status[HEADS];
    char raw[HEADS][64];
    size_t raw_len[HEADS];
    bool parsed[HEADS]; /* a JSON body was handed over */
    char message[HEADS][P4_ERROR_MESSAGE_MAX];
};

static void on_answer(struct p4_kube_result *res, void *data)
{
    struct answers *a = data;

    a->status[a->n] = res->status;
    a->parsed[a->n] = res->body != NULL;
    (void)snprintf(a->message[a->n], sizeof(a->message[0]), "%s", res->err.message);
    if (res->raw && res->raw_len <= sizeof(a->raw[0])) {
        memcpy(a->raw[a->n], res->raw, res->raw_len);
        a->raw_len[a->n] = res->raw_len;
    }
    a->rc[a->n++] = res->rc;
}

/* Close the client and the recorder, run the loop until every handle is gone, close it. */
static void close_all(uv_loop_t *loop, struct p4_kube *kube, struct recorder *rec)
{
    p4_kube_close(kube);
    uv_close((uv_handle_t *)&rec->server, on_closed);
    while (rec->closed < rec->nconn + 1)
        (void)uv_run(loop, UV_RUN_ONCE);
    (void)uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* The head of the request for path, or fail. */
static const char *head_of(const struct recorder *rec, const char *path)
{
    char line[256];

    (void)snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\n", path);
    for (int i = 0; i < rec->nconn; i++)
        if (strncmp(rec->head[i], line, strlen(line)) == 0)
            return rec->head[i];
    fail_msg("no request for %s", path);
    return NULL;
}

static void a_view_impersonates_and_the_client_does_not(void **state)
{
    uv_loop_t loop;
    struct recorder rec;
    struct answers got = {0};
    struct p4_kube *kube, *as;
    struct p4_error err;
    char url[64];
    const char *own, *theirs;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    recorder_start(&loop, &rec, url, sizeof(url));
    {
        struct p4_kube_config cfg = {.server = url, .namespace = (char *)"default"};
        assert_int_equal(p4_kube_new(&loop, &cfg, NULL, &kube, &err), 0);
    }
    assert_int_equal(p4_kube_as(kube, "system:serviceaccount:team-a:deployer", &as), 0);
    assert_string_equal(p4_kube_user(as), "system:serviceaccount:team-a:deployer");
    assert_null(p4_kube_user(kube));
    assert_ptr_equal(p4_kube_loop(as), &loop);
    assert_int_equal(p4_kube_request(kube, "GET", "/own", NULL, NULL, 0, on_answer, &got), 0);
    assert_int_equal(p4_kube_request(as, "GET", "/theirs", NULL, NULL, 0, on_answer, &got), 0);
    /* The view may go before its requests end: they belong to the client. */
    p4_kube_close(as);
    while (got.n < 2)
        (void)uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(got.rc[0], 0);
    assert_int_equal(got.rc[1], 0);
    own = head_of(&rec, "/own");
    theirs = head_of(&rec, "/theirs");
    assert_null(strstr(own, "Impersonate-"));
    assert_non_null(
        strstr(theirs, "\r\nImpersonate-User: system:serviceaccount:team-a:deployer\r\n"));
    assert_null(strstr(theirs, "Impersonate-Group"));
    close_all(&loop, kube, &rec);
}

static void a_bad_user_name_makes_no_view(void **state)
{
    uv_loop_t loop;
    struct p4_kube *kube, *as = NULL, *as2 = NULL;
    struct p4_kube_config cfg = {.server = (char *)"http://127.0.0.1:1"};
    struct p4_error err;
    char big[P4_KUBE_USER_MAX + 2];

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(p4_kube_new(&loop, &cfg, NULL, &kube, &err), 0);
    assert_int_equal(p4_kube_as(kube, "", &as), P4_ERR_INVAL);
    assert_int_equal(p4_kube_as(kube, NULL, &as), P4_ERR_INVAL);
    assert_int_equal(p4_kube_as(kube, "alice\r\nAuthorization: x", &as), P4_ERR_INVAL);
    assert_int_equal(p4_kube_as(kube, "b\xc3\xa9", &as), P4_ERR_INVAL);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(p4_kube_as(kube, big, &as), P4_ERR_INVAL);
    assert_null(as);
    /* A view of a view acts for the client underneath, as the newer user. */
    assert_int_equal(p4_kube_as(kube, "a", &as), 0);
    assert_int_equal(p4_kube_as(as, "b", &as2), 0);
    assert_string_equal(p4_kube_user(as2), "b");
    p4_kube_close(as);
    p4_kube_close(as2);
    p4_kube_close(kube);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Run one GET of path through p4_kube_get_bytes against a listener answering answer. */
static void get_bytes(const char *answer, size_t len, size_t max_body, struct answers *got,
                      char *head, size_t head_size)
{
    uv_loop_t loop;
    struct recorder rec;
    struct p4_kube *kube, *as;
    struct p4_error err;
    char url[64];

    assert_int_equal(uv_loop_init(&loop), 0);
    recorder_start(&loop, &rec, url, sizeof(url));
    rec.answer = answer;
    rec.answer_len = len;
    {
        struct p4_kube_config cfg = {.server = url, .namespace = (char *)"default"};
        assert_int_equal(p4_kube_new(&loop, &cfg, NULL, &kube, &err), 0);
    }
    assert_int_equal(p4_kube_as(kube, "system:serviceaccount:team-a:deployer", &as), 0);
    assert_int_equal(p4_kube_get_bytes(as, "/api/v1/namespaces/a/pods/p/log?container=c", max_body,
                                       on_answer, got),
                     0);
    assert_int_equal(p4_kube_get_bytes(as, "no-slash", 0, on_answer, got), P4_ERR_INVAL);
    while (got->n < 1)
        (void)uv_run(&loop, UV_RUN_ONCE);
    (void)snprintf(head, head_size, "%s",
                   head_of(&rec, "/api/v1/namespaces/a/pods/p/log?container=c"));
    p4_kube_close(as);
    close_all(&loop, kube, &rec);
}

/* A log's bytes come back as sent, NUL bytes and all, asked for with Accept any type. */
static void a_body_is_read_as_bytes(void **state)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 13\r\nConnection: close\r\n\r\n"
                             "panic:\0x\nok\n{}";
    static const char missing[] =
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
        "Content-Length: 107\r\nConnection: close\r\n\r\n"
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"NotFound\","
        "\"message\":\"pods \\\"p\\\" not found\"}";
    struct answers got = {0};
    char head[2048];

    (void)state;
    get_bytes(ok, sizeof(ok) - 1, 0, &got, head, sizeof(head));
    assert_int_equal(got.rc[0], 0);
    assert_int_equal(got.status[0], 200);
    assert_false(got.parsed[0]);
    assert_int_equal(got.raw_len[0], 13);
    assert_memory_equal(got.raw[0], "panic:\0x\nok\n{}", 13);
    assert_non_null(strstr(head, "\r\nAccept: */*\r\n"));
    assert_non_null(
        strstr(head, "\r\nImpersonate-User: system:serviceaccount:team-a:deployer\r\n"));

    /* Longer than max_body: refused, not cut. */
    memset(&got, 0, sizeof(got));
    get_bytes(ok, sizeof(ok) - 1, 8, &got, head, sizeof(head));
    assert_int_equal(got.rc[0], P4_ERR_TOOBIG);

    /* An error is the API server's Status, as for any request. */
    memset(&got, 0, sizeof(got));
    get_bytes(missing, sizeof(missing) - 1, 0, &got, head, sizeof(head));
    assert_int_equal(got.rc[0], P4_ERR_NOTFOUND);
    assert_int_equal(got.status[0], 404);
    assert_non_null(strstr(got.message[0], "pods \"p\" not found"));
}

/* The limit without APF, with it, and with flags the user set. */
static void the_rate_is_lifted_only_when_auto_and_apf(void **state)
{
    struct p4_kube_options autod = {.qps = 20, .burst = 40, .rate_auto = 1};
    struct p4_kube_options set = {.qps = 20, .burst = 40};
    struct p4_kube_options none = {.qps = 0, .burst = 40};
    double qps;
    unsigned burst;

    (void)state;
    p4_kube_rate_choice(&autod, 0, &qps, &burst);
    assert_true(qps == 20 && burst == 40);
    p4_kube_rate_choice(&autod, 1, &qps, &burst);
    assert_true(qps == 0 && burst == 0);
    p4_kube_rate_choice(&set, 0, &qps, &burst);
    assert_true(qps == 20 && burst == 40);
    p4_kube_rate_choice(&set, 1, &qps, &burst);
    assert_true(qps == 20 && burst == 40);
    p4_kube_rate_choice(&none, 1, &qps, &burst);
    assert_true(qps == 0);
}

/* One GET against a listener answering answer with opts; the limit in force after it. */
static double limit_after(const char *answer, const struct p4_kube_options *opts, char *metrics,
                          size_t size)
{
    uv_loop_t loop;
    struct recorder rec;
    struct answers got = {0};
    struct p4_kube *kube;
    struct p4_error err;
    struct p4_buf b = {0};
    char url[64];
    double limit;

    assert_int_equal(uv_loop_init(&loop), 0);
    recorder_start(&loop, &rec, url, sizeof(url));
    rec.answer = answer;
    rec.answer_len = strlen(answer);
    {
        struct p4_kube_config cfg = {.server = url, .namespace = (char *)"default"};
        assert_int_equal(p4_kube_new(&loop, &cfg, opts, &kube, &err), 0);
    }
    assert_true(p4_kube_qps_limit(kube) == (opts->qps > 0 ? opts->qps : 0));
    assert_int_equal(p4_kube_request(kube, "GET", "/version", NULL, NULL, 0, on_answer, &got), 0);
    while (got.n < 1)
        (void)uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(got.rc[0], 0);
    limit = p4_kube_qps_limit(kube);
    p4_kube_metrics(kube, &b);
    (void)snprintf(metrics, size, "%s", b.data ? b.data : "");
    free(b.data);
    close_all(&loop, kube, &rec);
    return limit;
}

static void an_apf_answer_lifts_the_limit_unless_set(void **state)
{
    static const char apf[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "x-kubernetes-pf-flowschema-uid: 1f0e\r\n"
                              "X-Kubernetes-PF-PriorityLevel-UID: 9a7c\r\n"
                              "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    static const char lookalike[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "X-Kubernetes-PF-FlowSchema: 1f0e\r\n"
                                    "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    struct p4_kube_options autod = {.qps = 20, .burst = 40, .rate_auto = 1};
    struct p4_kube_options set = {.qps = 20, .burst = 40};
    char m[4096];

    (void)state;
    assert_true(limit_after(apf, &autod, m, sizeof(m)) == 0);
    assert_non_null(strstr(m, "# TYPE phase4_kube_client_qps_limit gauge\n"
                              "phase4_kube_client_qps_limit 0\n"));
    /* No APF header (an older or proxied server): the fallback holds. */
    assert_true(limit_after(ANSWER, &autod, m, sizeof(m)) == 20);
    assert_non_null(strstr(m, "\nphase4_kube_client_qps_limit 20\n"));
    assert_true(limit_after(lookalike, &autod, m, sizeof(m)) == 20);
    /* Flags the user set win over what the server says. */
    assert_true(limit_after(apf, &set, m, sizeof(m)) == 20);
}

/* A 429 with Retry-After holds a request made after it too, not only its own retry. */
static void a_429_holds_the_whole_client(void **state)
{
    static const char busy[] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    uv_loop_t loop;
    struct recorder rec;
    struct answers first = {0}, second = {0};
    struct p4_kube *kube;
    struct p4_error err;
    struct p4_kube_options opts = {.rate_auto = 1}; /* no client-side limit at all */
    char url[64];
    uint64_t asked;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    recorder_start(&loop, &rec, url, sizeof(url));
    rec.answer = busy;
    rec.answer_len = sizeof(busy) - 1;
    {
        struct p4_kube_config cfg = {.server = url, .namespace = (char *)"default"};
        assert_int_equal(p4_kube_new(&loop, &cfg, &opts, &kube, &err), 0);
    }
    assert_int_equal(p4_kube_backoff_left(kube), 0);
    assert_int_equal(p4_kube_request(kube, "GET", "/a", NULL, NULL, 0, on_answer, &first), 0);
    while (p4_kube_backoff_left(kube) == 0)
        (void)uv_run(&loop, UV_RUN_ONCE);
    assert_true(p4_kube_backoff_left(kube) <= 1000);
    rec.answer = NULL; /* 200 from now on */
    uv_update_time(&loop);
    asked = uv_now(&loop);
    assert_int_equal(p4_kube_request(kube, "GET", "/b", NULL, NULL, 0, on_answer, &second), 0);
    while (first.n < 1 || second.n < 1)
        (void)uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(first.rc[0], 0);
    assert_int_equal(second.rc[0], 0);
    /* /b waited for the backoff /a was told of (less what had passed since, a few ms). */
    assert_true(uv_now(&loop) - asked >= 900);
    assert_int_equal(rec.nconn, 3);
    close_all(&loop, kube, &rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_view_impersonates_and_the_client_does_not),
        cmocka_unit_test(a_bad_user_name_makes_no_view),
        cmocka_unit_test(a_body_is_read_as_bytes),
        cmocka_unit_test(the_rate_is_lifted_only_when_auto_and_apf),
        cmocka_unit_test(an_apf_answer_lifts_the_limit_unless_set),
        cmocka_unit_test(a_429_holds_the_whole_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
