/*
 * serve_test.c: the probe/metrics server answered by a raw libuv TCP client on the same
 * loop: responses byte for byte, HEAD, methods, query strings, request size limit,
 * addresses, closing with open connections, and p4_buf.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/runtime/serve.h"

#define DEADLINE_MS 3000 /* generous: a test that needs it has failed */

struct fx {
    uv_loop_t loop;
    uv_timer_t deadline;
    int timed_out;
    int port;
    char addr[64];
    struct p4_serve *server;

    /* What the handler answers, and what it was asked. */
    int status;
    const char *body;
    size_t body_repeat; /* append body this many times (0: once) */
    const char *content_type;
    int handler_calls;
    char path[2048];
};

struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write, write_rest;
    uv_timer_t later;
    struct fx *fx;
    const char *req, *rest; /* sent on connect, and rest_delay_ms later */
    size_t req_len, rest_len;
    uint64_t rest_delay_ms;
    char *resp;
    size_t resp_len;
    int connected;
    int hang_up;    /* close as soon as the request is sent */
    int eof;        /* the server closed the connection cleanly */
    int read_error; /* or reset it */
    int closed;     /* our handle is closed */
};

static void on_deadline(uv_timer_t *t)
{
    struct fx *fx = t->data;

    fx->timed_out = 1;
    uv_stop(&fx->loop);
}

/* Run the loop until *flag is set; whatever sets a flag calls uv_stop so uv_run returns. */
static void run_until(struct fx *fx, const int *flag)
{
    fx->timed_out = 0;
    assert_int_equal(uv_timer_start(&fx->deadline, on_deadline, DEADLINE_MS, 0), 0);
    while (!*flag && !fx->timed_out) {
        if (uv_run(&fx->loop, UV_RUN_ONCE) == 0 && !*flag)
            break;
    }
    (void)uv_timer_stop(&fx->deadline);
    assert_false(fx->timed_out);
    assert_true(*flag);
}

/* A port that was free a moment ago: serve.h has no way to report the one it bound. */
static int free_port(uv_loop_t *loop)
{
    uv_tcp_t t;
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = (int)sizeof(ss), port;

    assert_int_equal(uv_tcp_init(loop, &t), 0);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
    assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len), 0);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    (void)uv_run(loop, UV_RUN_DEFAULT);
    assert_true(port > 0);
    return port;
}

static int handler(const char *path, struct p4_buf *out, const char **content_type, void *data)
{
    struct fx *fx = data;
    size_t n = fx->body_repeat ? fx->body_repeat : 1;

    fx->handler_calls++;
    (void)snprintf(fx->path, sizeof(fx->path), "%s", path);
    for (size_t i = 0; fx->body && i < n; i++)
        p4_buf_append(out, fx->body, strlen(fx->body));
    if (fx->content_type)
        *content_type = fx->content_type;
    return fx->status;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (fx == NULL || uv_loop_init(&fx->loop) != 0)
        return -1;
    (void)uv_timer_init(&fx->loop, &fx->deadline);
    fx->deadline.data = fx;
    uv_unref((uv_handle_t *)&fx->deadline);
    fx->status = 200;
    fx->body = "ok\n";
    fx->port = free_port(&fx->loop);
    (void)snprintf(fx->addr, sizeof(fx->addr), "127.0.0.1:%d", fx->port);
    *state = fx;
    return 0;
}

/* Close the server: the loop must then end with no handle left. */
static int teardown(void **state)
{
    struct fx *fx = *state;
    int rc = 0;

    p4_serve_close(fx->server);
    uv_close((uv_handle_t *)&fx->deadline, NULL);
    if (uv_run(&fx->loop, UV_RUN_DEFAULT) != 0 || uv_loop_close(&fx->loop) != 0)
        rc = -1;
    free(fx);
    return rc;
}

static void start_server(struct fx *fx)
{
    assert_int_equal(p4_serve_start(&fx->loop, fx->addr, handler, fx, &fx->server), 0);
    assert_non_null(fx->server);
}

/* ---- the client ---- */

static void on_client_closed(uv_handle_t *h)
{
    struct client *cl = h->data;

    cl->closed = 1;
    uv_stop(h->loop);
}

static void client_close(struct client *cl)
{
    if (!uv_is_closing((uv_handle_t *)&cl->tcp))
        uv_close((uv_handle_t *)&cl->tcp, on_client_closed);
    if (!uv_is_closing((uv_handle_t *)&cl->later))
        uv_close((uv_handle_t *)&cl->later, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct client *cl = h->data;

    cl->resp = realloc(cl->resp, cl->resp_len + suggested + 1);
    assert_non_null(cl->resp);
    *buf = uv_buf_init(cl->resp + cl->resp_len, (unsigned)suggested);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct client *cl = s->data;

    (void)buf;
    if (nread > 0) {
        cl->resp_len += (size_t)nread;
        cl->resp[cl->resp_len] = '\0';
        return;
    }
    if (nread == UV_EOF)
        cl->eof = 1;
    else if (nread < 0)
        cl->read_error = 1;
    if (nread < 0)
        client_close(cl);
}

static void on_written(uv_write_t *w, int status)
{
    struct client *cl = w->data;

    (void)status; /* a server that hangs up early may make the write fail: seen in the read */
    if (cl->hang_up)
        client_close(cl);
}

static void send_text(struct client *cl, uv_write_t *w, const char *text, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)text, (unsigned)len);

    w->data = cl;
    if (len)
        (void)uv_write(w, (uv_stream_t *)&cl->tcp, &buf, 1, on_written);
}

static void send_rest(struct client *cl)
{
    send_text(cl, &cl->write_rest, cl->rest, cl->rest_len);
}

static void on_later(uv_timer_t *t)
{
    send_rest(t->data);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct client *cl = req->data;

    if (status != 0) {
        cl->read_error = 1;
        client_close(cl);
        return;
    }
    cl->connected = 1;
    uv_stop(req->handle->loop);
    assert_int_equal(uv_read_start((uv_stream_t *)&cl->tcp, on_alloc, on_read), 0);
    send_text(cl, &cl->write, cl->req, cl->req_len);
    if (cl->rest && cl->rest_delay_ms)
        assert_int_equal(uv_timer_start(&cl->later, on_later, cl->rest_delay_ms, 0), 0);
}

/* Connect and send req (not copied: it must outlive the exchange). */
static void client_start(struct fx *fx, struct client *cl, const char *req, size_t len)
{
    struct sockaddr_in a;

    memset(cl, 0, sizeof(*cl));
    cl->fx = fx;
    cl->req = req;
    cl->req_len = len;
    assert_int_equal(uv_tcp_init(&fx->loop, &cl->tcp), 0);
    assert_int_equal(uv_timer_init(&fx->loop, &cl->later), 0);
    cl->tcp.data = cl;
    cl->later.data = cl;
    cl->connect.data = cl;
    assert_int_equal(uv_ip4_addr("127.0.0.1", fx->port, &a), 0);
    assert_int_equal(
        uv_tcp_connect(&cl->connect, &cl->tcp, (const struct sockaddr *)&a, on_connect), 0);
}

static void client_free(struct client *cl)
{
    free(cl->resp);
    cl->resp = NULL;
}

/* Send req and wait until the server closes the connection; the response is in cl->resp. */
static void exchange(struct fx *fx, struct client *cl, const char *req)
{
    client_start(fx, cl, req, strlen(req));
    run_until(fx, &cl->closed);
    assert_true(cl->connected);
}

/* The value of header name in a response, copied into out; 0 when found. */
static int header(const char *resp, const char *name, char *out, size_t size)
{
    const char *end = strstr(resp, "\r\n\r\n");
    size_t nlen = strlen(name);

    for (const char *p = strstr(resp, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2, *eol = strstr(line, "\r\n");
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            (void)snprintf(out, size, "%.*s", (int)(eol - v), v);
            return 0;
        }
    }
    return -1;
}

/* The body after the blank line; checks that Content-Length says exactly its size. */
static const char *body_of(const struct client *cl, size_t *len)
{
    const char *end = strstr(cl->resp, "\r\n\r\n");
    char value[32];

    assert_non_null(end);
    *len = cl->resp_len - (size_t)(end + 4 - cl->resp);
    assert_int_equal(header(cl->resp, "Content-Length", value, sizeof(value)), 0);
    assert_int_equal(strtoull(value, NULL, 10), *len);
    return end + 4;
}

/* ---- tests ---- */

static void get_healthz(void **state)
{
    struct fx *fx = *state;
    struct client cl;

    start_server(fx);
    exchange(fx, &cl, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: kubelet\r\n\r\n");
    assert_true(cl.eof);
    assert_int_equal(fx->handler_calls, 1);
    assert_string_equal(fx->path, "/healthz");
    assert_string_equal(cl.resp, "HTTP/1.1 200 OK\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Length: 3\r\n"
                                 "Connection: close\r\n"
                                 "\r\n"
                                 "ok\n");
    client_free(&cl);
}

static void handler_sets_status_and_content_type(void **state)
{
    struct fx *fx = *state;
    struct client cl;
    char value[128];
    size_t len;

    start_server(fx);
    fx->status = 503;
    fx->body = "{\"ready\":false}";
    fx->content_type = "application/json";
    exchange(fx, &cl, "GET /readyz HTTP/1.1\r\n\r\n");
    assert_memory_equal(cl.resp, "HTTP/1.1 503 Service Unavailable\r\n", 34);
    assert_int_equal(header(cl.resp, "Content-Type", value, sizeof(value)), 0);
    assert_string_equal(value, "application/json");
    assert_string_equal(body_of(&cl, &len), "{\"ready\":false}");
    client_free(&cl);

    fx->status = 404;
    fx->body = NULL;
    fx->content_type = NULL;
    exchange(fx, &cl, "GET /nope HTTP/1.1\r\n\r\n");
    assert_memory_equal(cl.resp, "HTTP/1.1 404 Not Found\r\n", 24);
    (void)body_of(&cl, &len);
    assert_int_equal(len, 0);
    assert_string_equal(fx->path, "/nope");
    client_free(&cl);

    fx->status = 500;
    exchange(fx, &cl, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_memory_equal(cl.resp, "HTTP/1.1 500 ", 13);
    client_free(&cl);
    assert_int_equal(fx->handler_calls, 3);
}

static void query_string_is_not_part_of_the_path(void **state)
{
    struct fx *fx = *state;
    struct client cl;

    start_server(fx);
    exchange(fx, &cl, "GET /metrics?name[]=up&x=%20 HTTP/1.1\r\n\r\n");
    assert_string_equal(fx->path, "/metrics");
    assert_memory_equal(cl.resp, "HTTP/1.1 200 OK\r\n", 17);
    client_free(&cl);
    /* Bare LF line ends and HTTP/1.0 are fine too. */
    exchange(fx, &cl, "GET /readyz?verbose HTTP/1.0\n\n");
    assert_string_equal(fx->path, "/readyz");
    assert_memory_equal(cl.resp, "HTTP/1.1 200 OK\r\n", 17);
    client_free(&cl);
}

static void head_sends_headers_only(void **state)
{
    struct fx *fx = *state;
    struct client cl;
    char value[32];

    start_server(fx);
    fx->body = "a body that is not sent\n";
    exchange(fx, &cl, "HEAD /healthz HTTP/1.1\r\n\r\n");
    assert_int_equal(fx->handler_calls, 1);
    assert_string_equal(fx->path, "/healthz");
    assert_memory_equal(cl.resp, "HTTP/1.1 200 OK\r\n", 17);
    /* Content-Length is the body a GET would get; nothing follows the blank line. */
    assert_int_equal(header(cl.resp, "Content-Length", value, sizeof(value)), 0);
    assert_int_equal(strtoull(value, NULL, 10), strlen(fx->body));
    assert_non_null(strstr(cl.resp, "\r\n\r\n"));
    assert_int_equal(strlen(strstr(cl.resp, "\r\n\r\n")), 4);
    client_free(&cl);
}

static void other_methods_get_405_without_the_handler(void **state)
{
    static const char *const reqs[] = {
        "POST /healthz HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
        "DELETE /healthz HTTP/1.1\r\n\r\n",
        "PUT /metrics HTTP/1.1\r\n\r\n",
        "get /healthz HTTP/1.1\r\n\r\n",
        "GETX /healthz HTTP/1.1\r\n\r\n",
        "\r\n\r\n",
    };
    struct fx *fx = *state;
    struct client cl;
    size_t len;

    start_server(fx);
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        exchange(fx, &cl, reqs[i]);
        assert_memory_equal(cl.resp, "HTTP/1.1 405 Method Not Allowed\r\n", 33);
        (void)body_of(&cl, &len);
        client_free(&cl);
    }
    assert_int_equal(fx->handler_calls, 0);
}

static void request_in_pieces(void **state)
{
    struct fx *fx = *state;
    struct client cl;

    start_server(fx);
    client_start(fx, &cl, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32);
    cl.rest = "\r\n";
    cl.rest_len = 2;
    cl.rest_delay_ms = 20;
    run_until(fx, &cl.closed);
    assert_string_equal(fx->path, "/healthz");
    assert_memory_equal(cl.resp, "HTTP/1.1 200 OK\r\n", 17);
    client_free(&cl);
}

static void headers_up_to_the_limit_are_answered(void **state)
{
    struct fx *fx = *state;
    struct client cl;
    char req[8000];
    size_t n;

    start_server(fx);
    n = (size_t)snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nX-Pad: ");
    memset(req + n, 'p', sizeof(req) - n - 5);
    memcpy(req + sizeof(req) - 5, "\r\n\r\n", 5);
    exchange(fx, &cl, req);
    assert_int_equal(fx->handler_calls, 1);
    assert_memory_equal(cl.resp, "HTTP/1.1 200 OK\r\n", 17);
    client_free(&cl);
}

static void oversized_request_is_dropped_without_response(void **state)
{
    struct fx *fx = *state;
    struct client cl;
    char *req = malloc(9001);
    size_t n;

    assert_non_null(req);
    start_server(fx);
    n = (size_t)snprintf(req, 9001, "GET /healthz HTTP/1.1\r\nX-Pad: ");
    memset(req + n, 'p', 9000 - n);
    req[9000] = '\0';
    exchange(fx, &cl, req);
    /* Closed (cleanly or by reset, as the kernel sees fit), with nothing sent. */
    assert_true(cl.eof || cl.read_error);
    assert_int_equal(cl.resp_len, 0);
    assert_int_equal(fx->handler_calls, 0);
    client_free(&cl);
    free(req);

    /* The server still answers the next one. */
    exchange(fx, &cl, "GET /healthz HTTP/1.1\r\n\r\n");
    assert_memory_equal(cl.resp, "HTTP/1.1 200 OK\r\n", 17);
    client_free(&cl);
}

static void large_body_has_exact_length(void **state)
{
    struct fx *fx = *state;
    struct client cl;
    const char *body;
    size_t len;

    start_server(fx);
    fx->body = "p4_reconcile_total{result=\"success\"} 12345\n"; /* 43 bytes */
    fx->body_repeat = 5000;
    exchange(fx, &cl, "GET /metrics HTTP/1.1\r\n\r\n");
    body = body_of(&cl, &len);
    assert_int_equal(len, 43 * 5000);
    for (size_t i = 0; i < 5000; i++)
        assert_memory_equal(body + i * 43, fx->body, 43);
    client_free(&cl);
}

static void concurrent_clients(void **state)
{
    struct fx *fx = *state;
    struct client a, b;

    start_server(fx);
    client_start(fx, &a, "GET /a HTTP/1.1\r\n", 17);
    a.rest = "\r\n";
    a.rest_len = 2;
    client_start(fx, &b, "GET /b HTTP/1.1\r\n\r\n", 19);
    run_until(fx, &b.closed);
    /* b is answered while a has not finished its request. */
    assert_string_equal(fx->path, "/b");
    assert_int_equal(fx->handler_calls, 1);
    assert_false(a.closed);
    send_rest(&a);
    run_until(fx, &a.closed);
    assert_string_equal(fx->path, "/a");
    assert_memory_equal(a.resp, "HTTP/1.1 200 OK\r\n", 17);
    assert_memory_equal(b.resp, "HTTP/1.1 200 OK\r\n", 17);
    client_free(&a);
    client_free(&b);
}

static void bad_addresses_are_refused(void **state)
{
    static const char *const bad[] = {
        "nonsense",     "127.0.0.1:99999", "127.0.0.1:65536",
        "127.0.0.1:-1", "127.0.0.1:80x",   "999.0.0.1:80",
        "localhost:80", "[::1:80",         "",
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct p4_serve *s = NULL;
        int rc = p4_serve_start(&fx->loop, bad[i], handler, fx, &s);
        if (rc == 0)
            fail_msg("address \"%s\" was accepted", bad[i]);
        assert_null(s);
    }
}

static void address_in_use_is_an_error(void **state)
{
    struct fx *fx = *state;
    struct p4_serve *second = NULL;

    start_server(fx);
    assert_int_equal(p4_serve_start(&fx->loop, fx->addr, handler, fx, &second), P4_ERR_IO);
    assert_null(second);
    /* teardown checks the failed server left no handle behind. */
}

static void all_interfaces_form(void **state)
{
    struct fx *fx = *state;
    struct client cl;

    (void)snprintf(fx->addr, sizeof(fx->addr), ":%d", fx->port);
    start_server(fx);
    exchange(fx, &cl, "GET /healthz HTTP/1.1\r\n\r\n");
    assert_memory_equal(cl.resp, "HTTP/1.1 200 OK\r\n", 17);
    client_free(&cl);
}

static void on_settle(uv_timer_t *t)
{
    int *fired = t->data;

    *fired = 1;
    uv_stop(t->loop);
    uv_close((uv_handle_t *)t, NULL);
}

static void close_with_open_connections_ends_the_loop(void **state)
{
    struct fx *fx = *state;
    struct client idle, partial;
    uv_timer_t settle;
    int fired = 0;

    start_server(fx);
    client_start(fx, &idle, "", 0);
    client_start(fx, &partial, "GET /healthz HTTP/1.1\r\n", 23);
    run_until(fx, &idle.connected);
    run_until(fx, &partial.connected);
    /* Let the server accept and read both. */
    assert_int_equal(uv_timer_init(&fx->loop, &settle), 0);
    settle.data = &fired;
    assert_int_equal(uv_timer_start(&settle, on_settle, 20, 0), 0);
    run_until(fx, &fired);
    assert_false(idle.closed);

    p4_serve_close(fx->server);
    p4_serve_close(NULL);
    fx->server = NULL;
    /* Both connections are dropped without a response, and nothing else is left. */
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_true(idle.closed && partial.closed);
    assert_int_equal(idle.resp_len + partial.resp_len, 0);
    assert_int_equal(fx->handler_calls, 0);
    client_free(&idle);
    client_free(&partial);
}

static void buf_append_and_long_printf(void **state)
{
    struct p4_buf b = {0};
    char big[2000];

    (void)state;
    p4_buf_append(&b, "", 0);
    assert_int_equal(b.len, 0);
    p4_buf_printf(&b, "%s=%d\n", "up", 1);
    assert_string_equal(b.data, "up=1\n");

    /* 511 characters fit the function's stack buffer, 512 and more do not. */
    memset(big, 'x', sizeof(big));
    big[511] = '\0';
    p4_buf_printf(&b, "%s", big);
    assert_int_equal(b.len, 5 + 511);
    big[511] = 'x';
    big[512] = '\0';
    p4_buf_printf(&b, "%s", big);
    assert_int_equal(b.len, 5 + 511 + 512);
    big[512] = 'x';
    big[sizeof(big) - 1] = '\0';
    p4_buf_printf(&b, "[%s|%d]", big, 42);
    assert_int_equal(b.len, 5 + 511 + 512 + 1999 + 5);
    assert_int_equal(strlen(b.data), b.len);
    assert_memory_equal(b.data, "up=1\nxxx", 8);
    assert_string_equal(b.data + b.len - 5, "x|42]");
    assert_true(b.cap > b.len);
    free(b.data);
}

/*
 * A client that hangs up before a large response is written (a scrape that timed out)
 * must not kill the process: with SIGPIPE ignored, as main.c does, the write fails and the
 * server goes on serving.
 */
static void client_gone_before_large_response(void **state)
{
    struct fx *fx = *state;
    struct client gone, next;
    static const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";

    start_server(fx);
    fx->body = "p4_reconcile_total{result=\"success\"} 12345\n";
    fx->body_repeat = 1 << 15;
    client_start(fx, &gone, req, sizeof(req) - 1);
    gone.hang_up = 1;
    run_until(fx, &gone.closed);
    run_until(fx, &fx->handler_calls);
    exchange(fx, &next, "GET /healthz HTTP/1.1\r\n\r\n");
    assert_memory_equal(next.resp, "HTTP/1.1 200 OK\r\n", 17);
    client_free(&gone);
    client_free(&next);
}

/*
 * An empty or padded port ("127.0.0.1:", ":", "127.0.0.1: 8081") is refused, not read as
 * port 0 (a random port reported as success).
 */
static void empty_port_is_refused(void **state)
{
    static const char *const bad[] = {"127.0.0.1:", ":", "127.0.0.1: 8081"};
    struct fx *fx = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct p4_serve *s = NULL;
        int rc = p4_serve_start(&fx->loop, bad[i], handler, fx, &s);
        p4_serve_close(s);
        if (rc == 0)
            fail_msg("address \"%s\" was accepted", bad[i]);
    }
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    /* The operator ignores SIGPIPE (main.c); so does this test of its server. */
    (void)signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        TEST(get_healthz),
        TEST(handler_sets_status_and_content_type),
        TEST(query_string_is_not_part_of_the_path),
        TEST(head_sends_headers_only),
        TEST(other_methods_get_405_without_the_handler),
        TEST(request_in_pieces),
        TEST(headers_up_to_the_limit_are_answered),
        TEST(oversized_request_is_dropped_without_response),
        TEST(large_body_has_exact_length),
        TEST(concurrent_clients),
        TEST(bad_addresses_are_refused),
        TEST(address_in_use_is_an_error),
        TEST(all_interfaces_form),
        TEST(close_with_open_connections_ends_the_loop),
        TEST(buf_append_and_long_printf),
        TEST(client_gone_before_large_response),
        TEST(empty_port_is_refused),
    };
    return cmocka_run_group_tests_name("serve", tests, NULL, NULL);
}
