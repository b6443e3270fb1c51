/*
 * http_test.c: the libcurl-on-libuv HTTP client against a scripted HTTP/1.1 server that
 * runs on the same loop: buffered and streamed bodies, request bodies and headers,
 * timeouts, size limits, cancellation, transport errors and closing with requests in flight.
 */
#include <curl/curl.h>
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
#include "phase4/net/http.h"

#define DEADLINE_MS 3000 /* generous: a test that needs it has failed */
#define MAX_STEPS 8
#define STALL "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"

/* ---- the scripted server ---- */

/*
 * What the server does once it has read a whole request: each step runs at_ms after
 * that, and not before the client has seen after_chunks on_data calls, so a streamed
 * response reaches the client one chunk at a time whatever the machine's speed.
 */
struct step {
    uint64_t at_ms;
    const char *data; /* written as is; NULL: nothing */
    int close;        /* then close the connection */
    int after_chunks;
};

struct fx;

struct sconn {
    uv_tcp_t tcp;
    struct fx *fx;
    struct sconn *next;
    char *buf;
    size_t len, cap;
    int closed;
};

struct step_timer {
    uv_timer_t timer;
    struct sconn *conn;
    const struct step *step;
    struct step_timer *next;
};

struct write_req {
    uv_write_t req;
    char data[];
};

struct result {
    struct fx *fx;
    struct p4_http_req *req;
    int started;   /* p4_http_start has returned */
    int in_cancel; /* inside p4_http_cancel */
    int done_calls;
    int rc;
    long status;
    char *body;
    size_t len;
    char *content_type, *retry_after, *error;
    /* streaming */
    int chunks;
    long chunk_status;
    char stream[4096];
    size_t stream_len;
    char chunk[4][64];
    int steps_at_first_chunk;
    int abort_at_chunk;  /* on_data returns nonzero on this chunk (1-based); 0: never */
    int cancel_at_chunk; /* on_data calls p4_http_cancel on this chunk; 0: never */
    int close_in_done;   /* on_done calls p4_http_close */
};

struct fx {
    uv_loop_t loop;
    uv_timer_t deadline;
    int timed_out;
    struct p4_http *http;
    int http_closed;

    uv_tcp_t listener;
    int port;
    char url[128];
    struct sconn *conns;
    struct step_timer *timers;
    struct step steps[MAX_STEPS];
    int steps_done;
    int requests;              /* complete requests read */
    char *last_req;            /* the last one, head and body */
    char auth[MAX_STEPS][128]; /* each request's Authorization header ("-": none), in order */
    size_t last_req_len;
    size_t last_head_len;
    const int *gate; /* chunks seen by the client, for step.after_chunks */
};

static void on_deadline(uv_timer_t *t)
{
    struct fx *fx = t->data;

    fx->timed_out = 1;
    uv_stop(&fx->loop);
}

/*
 * Run the loop until *counter >= want. Whatever bumps a counter also calls uv_stop, so a
 * callback run from an already due timer does not leave uv_run polling until the deadline.
 */
static void run_until(struct fx *fx, const int *counter, int want)
{
    fx->timed_out = 0;
    assert_int_equal(uv_timer_start(&fx->deadline, on_deadline, DEADLINE_MS, 0), 0);
    while (*counter < want && !fx->timed_out) {
        if (uv_run(&fx->loop, UV_RUN_ONCE) == 0 && *counter < want)
            break;
    }
    (void)uv_timer_stop(&fx->deadline);
    assert_false(fx->timed_out);
    assert_true(*counter >= want);
}

/* Close callback of handles allocated on their own. */
static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void on_settled(uv_timer_t *t)
{
    int *fired = t->data;

    *fired = 1;
    uv_stop(t->loop);
    uv_close((uv_handle_t *)t, free_handle);
}

/* Let the loop run for ms more: nothing that should not happen happens meanwhile. */
static void run_for(struct fx *fx, uint64_t ms)
{
    uv_timer_t *t = calloc(1, sizeof(*t));
    int fired = 0;

    assert_non_null(t);
    assert_int_equal(uv_timer_init(&fx->loop, t), 0);
    t->data = &fired;
    assert_int_equal(uv_timer_start(t, on_settled, ms, 0), 0);
    run_until(fx, &fired, 1);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct sconn *c = h->data;

    c->closed = 1;
}

static void conn_close(struct sconn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_write_done(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void conn_write(struct sconn *c, const char *data, size_t len)
{
    struct write_req *w;
    uv_buf_t buf;

    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    w = malloc(sizeof(*w) + len);
    assert_non_null(w);
    memcpy(w->data, data, len);
    buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write_done) != 0)
        free(w);
}

static void run_step(struct sconn *c, const struct step *s)
{
    c->fx->steps_done++;
    if (s->data)
        conn_write(c, s->data, strlen(s->data));
    if (s->close)
        conn_close(c);
}

static void on_step(uv_timer_t *t)
{
    struct step_timer *st = t->data;
    struct fx *fx = st->conn->fx;

    if (fx->gate && *fx->gate < st->step->after_chunks) {
        (void)uv_timer_start(t, on_step, 2, 0); /* the client has not seen the last one yet */
        return;
    }
    run_step(st->conn, st->step);
    uv_close((uv_handle_t *)t, NULL); /* freed at teardown */
}

static void schedule_steps(struct sconn *c)
{
    struct fx *fx = c->fx;

    for (int i = 0; i < MAX_STEPS && (fx->steps[i].data || fx->steps[i].close); i++) {
        struct step_timer *st = calloc(1, sizeof(*st));

        assert_non_null(st);
        st->conn = c;
        st->step = &fx->steps[i];
        st->next = fx->timers;
        fx->timers = st;
        assert_int_equal(uv_timer_init(&fx->loop, &st->timer), 0);
        st->timer.data = st;
        assert_int_equal(uv_timer_start(&st->timer, on_step, fx->steps[i].at_ms, 0), 0);
    }
}

/* Content-Length of a request head, 0 when absent. */
static size_t content_length(const char *head, size_t head_len)
{
    for (const char *p = head; p && p < head + head_len; p = strstr(p, "\r\n")) {
        p += (p == head) ? 0 : 2;
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            return strtoul(p + 15, NULL, 10);
    }
    return 0;
}

/*
 * Take every whole request out of the buffer (requests on a kept-alive connection too) and
 * answer each with fx->steps; paths starting /hang get no answer, /stall only headers.
 */
static void take_requests(struct sconn *c)
{
    struct fx *fx = c->fx;

    for (;;) {
        const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *path;
        size_t head_len, total;

        if (end == NULL)
            return;
        head_len = (size_t)(end + 4 - c->buf);
        total = head_len + content_length(c->buf, head_len);
        if (c->len < total)
            return;
        free(fx->last_req);
        fx->last_req = malloc(total + 1);
        assert_non_null(fx->last_req);
        memcpy(fx->last_req, c->buf, total);
        fx->last_req[total] = '\0';
        fx->last_req_len = total;
        fx->last_head_len = head_len;
        fx->requests++;
        uv_stop(&fx->loop);
        memmove(c->buf, c->buf + total, c->len - total + 1);
        c->len -= total;
        path = strchr(fx->last_req, ' ');
        if (fx->requests <= MAX_STEPS) {
            const char *a = strcasestr(fx->last_req, "\r\nAuthorization: ");
            size_t k = a ? strcspn(a + 17, "\r") : 0;
            (void)snprintf(fx->auth[fx->requests - 1], sizeof(fx->auth[0]), "%.*s", a ? (int)k : 1,
                           a ? a + 17 : "-");
        }
        if (path && strncmp(path, " /hang", 6) == 0)
            continue;                                           /* never answered */
        if (path && strncmp(path, " /redirect?to=", 14) == 0) { /* 302 to the URL after to= */
            char head[512];
            int k = (int)strcspn(path + 14, " ");
            (void)snprintf(head, sizeof(head),
                           "HTTP/1.1 302 Found\r\nLocation: %.*s\r\nContent-Length: 0\r\n\r\n", k,
                           path + 14);
            conn_write(c, head, strlen(head));
            continue;
        }
        if (path && strncmp(path, " /stall", 7) == 0)
            conn_write(c, STALL, strlen(STALL)); /* headers, then never the body */
        else
            schedule_steps(c);
    }
}

static void on_server_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sconn *c = h->data;

    if (c->len + suggested + 1 > c->cap) {
        c->cap = c->len + suggested + 1;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned)suggested);
}

static void on_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct sconn *c = s->data;

    (void)buf;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    c->buf[c->len] = '\0';
    take_requests(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct fx *fx = listener->data;
    struct sconn *c;

    assert_int_equal(status, 0);
    c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->fx = fx;
    c->next = fx->conns;
    fx->conns = c;
    assert_int_equal(uv_tcp_init(&fx->loop, &c->tcp), 0);
    c->tcp.data = c;
    assert_int_equal(uv_accept(listener, (uv_stream_t *)&c->tcp), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, on_server_alloc, on_server_read), 0);
}

static int listen_on_free_port(struct fx *fx)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = (int)sizeof(ss);

    if (uv_tcp_init(&fx->loop, &fx->listener) != 0 || uv_ip4_addr("127.0.0.1", 0, &a) != 0 ||
        uv_tcp_bind(&fx->listener, (const struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&fx->listener, 16, on_connection) != 0 ||
        uv_tcp_getsockname(&fx->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    fx->listener.data = fx;
    fx->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    (void)snprintf(fx->url, sizeof(fx->url), "http://127.0.0.1:%d", fx->port);
    return 0;
}

/* ---- the client side ---- */

static void on_done(int rc, const struct p4_http_response *resp, void *data)
{
    struct result *r = data;

    /* Never inside p4_http_start or p4_http_cancel. */
    assert_true(r->started);
    assert_false(r->in_cancel);
    assert_non_null(resp);
    r->done_calls++;
    uv_stop(&r->fx->loop);
    r->rc = rc;
    r->status = resp->status;
    r->len = resp->len;
    if (resp->body) {
        r->body = malloc(resp->len + 1);
        assert_non_null(r->body);
        memcpy(r->body, resp->body, resp->len + 1); /* NUL-terminated, as promised */
    }
    r->content_type = resp->content_type ? strdup(resp->content_type) : NULL;
    r->retry_after = resp->retry_after ? strdup(resp->retry_after) : NULL;
    r->error = resp->error ? strdup(resp->error) : NULL;
    if (r->close_in_done) {
        p4_http_close(r->fx->http);
        r->fx->http_closed = 1;
    }
}

static void do_cancel(struct result *r)
{
    r->in_cancel = 1;
    p4_http_cancel(r->req);
    r->in_cancel = 0;
}

static int on_data(const char *chunk, size_t len, long status, void *data)
{
    struct result *r = data;

    assert_true(r->started);
    if (r->chunks < 4)
        (void)snprintf(r->chunk[r->chunks], sizeof(r->chunk[0]), "%.*s", (int)len, chunk);
    if (r->chunks == 0)
        r->steps_at_first_chunk = r->fx->steps_done;
    r->chunks++;
    r->chunk_status = status;
    assert_true(r->stream_len + len < sizeof(r->stream));
    memcpy(r->stream + r->stream_len, chunk, len);
    r->stream_len += len;
    r->stream[r->stream_len] = '\0';
    if (r->cancel_at_chunk == r->chunks)
        do_cancel(r);
    return r->abort_at_chunk == r->chunks;
}

static void result_free(struct result *r)
{
    free(r->body);
    free(r->content_type);
    free(r->retry_after);
    free(r->error);
    memset(r, 0, sizeof(*r));
}

/* Start a request whose result lands in r; path is appended to the test server's URL. */
static int start(struct fx *fx, struct result *r, struct p4_http_opts *o, const char *path)
{
    char url[256];
    int rc;

    r->fx = fx;
    (void)snprintf(url, sizeof(url), "%s%s", fx->url, path);
    if (o->url == NULL)
        o->url = url;
    if (o->method == NULL)
        o->method = "GET";
    o->on_done = on_done;
    o->data = r;
    r->started = 0;
    rc = p4_http_start(fx->http, o, &r->req);
    r->started = 1;
    return rc;
}

static void get(struct fx *fx, struct result *r, const char *path)
{
    struct p4_http_opts o = {.timeout_ms = 2000};

    assert_int_equal(start(fx, r, &o, path), 0);
    run_until(fx, &r->done_calls, 1);
}

/* The value of a header in the last request, or NULL. */
static const char *req_header(struct fx *fx, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);

    for (const char *p = strstr(fx->last_req, "\r\n"); p && p < fx->last_req + fx->last_head_len;
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2, *eol = strstr(line, "\r\n");
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            (void)snprintf(out, size, "%.*s", (int)(eol - v), v);
            return out;
        }
    }
    return NULL;
}

/* ---- fixture ---- */

static int group_setup(void **state)
{
    (void)state;
    /* The test server may write to a connection the client has just dropped. */
    (void)signal(SIGPIPE, SIG_IGN);
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (fx == NULL || uv_loop_init(&fx->loop) != 0)
        return -1;
    (void)uv_timer_init(&fx->loop, &fx->deadline);
    fx->deadline.data = fx;
    uv_unref((uv_handle_t *)&fx->deadline);
    if (listen_on_free_port(fx) != 0)
        return -1;
    fx->http = p4_http_new(&fx->loop);
    if (fx->http == NULL)
        return -1;
    *state = fx;
    return 0;
}

/* Close the client and the server: the loop must then end with no handle left. */
static int teardown(void **state)
{
    struct fx *fx = *state;
    int rc = 0;

    if (!fx->http_closed)
        p4_http_close(fx->http);
    uv_close((uv_handle_t *)&fx->listener, NULL);
    for (struct sconn *c = fx->conns; c; c = c->next)
        conn_close(c);
    for (struct step_timer *t = fx->timers; t; t = t->next) {
        if (!uv_is_closing((uv_handle_t *)&t->timer))
            uv_close((uv_handle_t *)&t->timer, NULL);
    }
    uv_close((uv_handle_t *)&fx->deadline, NULL);
    if (uv_run(&fx->loop, UV_RUN_DEFAULT) != 0 || uv_loop_close(&fx->loop) != 0)
        rc = -1;
    while (fx->conns) {
        struct sconn *c = fx->conns;
        fx->conns = c->next;
        free(c->buf);
        free(c);
    }
    while (fx->timers) {
        struct step_timer *t = fx->timers;
        fx->timers = t->next;
        free(t);
    }
    free(fx->last_req);
    free(fx);
    return rc;
}

static void reply(struct fx *fx, const char *response)
{
    fx->steps[0] = (struct step){.data = response};
}

/* ---- tests ---- */

static void get_buffers_body_status_and_headers(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.timeout_ms = 2000};
    const char *headers[] = {"Accept: application/json", "X-Trace: abc", NULL};
    char value[128];

    reply(fx, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
              "\r\n{\"ok\":true}");
    o.headers = headers;
    assert_int_equal(start(fx, &r, &o, "/api/v1/pods?limit=1"), 0);
    /* Not before start returns, nor before the loop runs. */
    assert_int_equal(r.done_calls, 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"ok\":true}");
    assert_int_equal(r.len, 11);
    assert_string_equal(r.content_type, "application/json");
    assert_null(r.retry_after);
    assert_null(r.error);

    /* What the server saw. */
    assert_int_equal(fx->requests, 1);
    assert_memory_equal(fx->last_req, "GET /api/v1/pods?limit=1 HTTP/1.1\r\n", 35);
    assert_non_null(req_header(fx, "User-Agent", value, sizeof(value)));
    assert_memory_equal(value, "phase4-operator/", 16);
    assert_string_equal(value, p4_http_user_agent());
    assert_non_null(req_header(fx, "X-Trace", value, sizeof(value)));
    assert_string_equal(value, "abc");
    assert_non_null(req_header(fx, "Accept", value, sizeof(value)));
    assert_string_equal(value, "application/json");
    result_free(&r);

    /* A second request works the same (on the kept-alive connection). */
    get(fx, &r, "/again");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.body, "{\"ok\":true}");
    assert_int_equal(fx->requests, 2);
    result_free(&r);
}

static void request_bodies_arrive_intact(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.method = "POST", .timeout_ms = 2000};
    const char *headers[] = {"Content-Type: application/octet-stream", NULL};
    size_t n = 100000;
    char *body = malloc(n), value[64];

    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)(i * 7 % 256); /* NUL bytes included */
    reply(fx, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    o.headers = headers;
    o.body = body;
    o.body_len = n;
    assert_int_equal(start(fx, &r, &o, "/upload"), 0);
    memset(body, 'x', n); /* the body was copied */
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 201);
    assert_int_equal(r.len, 0);
    assert_memory_equal(fx->last_req, "POST /upload HTTP/1.1\r\n", 23);
    assert_non_null(req_header(fx, "Content-Length", value, sizeof(value)));
    assert_string_equal(value, "100000");
    assert_non_null(req_header(fx, "Content-Type", value, sizeof(value)));
    assert_string_equal(value, "application/octet-stream");
    assert_int_equal(fx->last_req_len - fx->last_head_len, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal((unsigned char)fx->last_req[fx->last_head_len + i], i * 7 % 256);
    result_free(&r);
    free(body);

    /* PATCH with a JSON body, DELETE without one. */
    o = (struct p4_http_opts){.method = "PATCH", .timeout_ms = 2000};
    o.body = "{\"status\":{}}";
    o.body_len = 13;
    assert_int_equal(start(fx, &r, &o, "/obj/status"), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, 0);
    assert_memory_equal(fx->last_req, "PATCH /obj/status HTTP/1.1\r\n", 28);
    assert_string_equal(fx->last_req + fx->last_head_len, "{\"status\":{}}");
    result_free(&r);

    o = (struct p4_http_opts){.method = "DELETE", .timeout_ms = 2000};
    assert_int_equal(start(fx, &r, &o, "/obj"), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, 0);
    assert_memory_equal(fx->last_req, "DELETE /obj HTTP/1.1\r\n", 22);
    assert_int_equal(fx->last_req_len, fx->last_head_len);
    result_free(&r);
}

static void head_has_status_and_no_body(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.method = "HEAD", .timeout_ms = 2000};

    reply(fx, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n");
    assert_int_equal(start(fx, &r, &o, "/v2/"), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.content_type, "text/plain");
    assert_memory_equal(fx->last_req, "HEAD /v2/ HTTP/1.1\r\n", 20);
    result_free(&r);
}

static void error_status_is_a_response_with_retry_after(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};

    reply(fx, "HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\n"
              "Retry-After:   7  \r\nContent-Length: 9\r\n\r\nslow down");
    get(fx, &r, "/busy");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 429);
    assert_string_equal(r.retry_after, "7");
    assert_string_equal(r.content_type, "text/plain");
    assert_string_equal(r.body, "slow down");
    assert_null(r.error);
    result_free(&r);
}

static void streamed_chunks_arrive_in_order(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.on_data = on_data};

    fx->steps[0] = (struct step){.data = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                         "Transfer-Encoding: chunked\r\n\r\n4\r\none\n\r\n"};
    fx->steps[1] = (struct step){.at_ms = 10, .data = "4\r\ntwo\n\r\n", .after_chunks = 1};
    fx->steps[2] = (struct step){.at_ms = 20, .data = "6\r\nthree\n\r\n", .after_chunks = 2};
    fx->steps[3] = (struct step){.at_ms = 30, .data = "0\r\n\r\n", .after_chunks = 3};
    fx->gate = &r.chunks;
    assert_int_equal(start(fx, &r, &o, "/watch?watch=1"), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_null(r.body); /* streamed, not buffered */
    assert_string_equal(r.content_type, "application/json");
    assert_int_equal(r.chunks, 3);
    assert_string_equal(r.chunk[0], "one\n");
    assert_string_equal(r.chunk[1], "two\n");
    assert_string_equal(r.chunk[2], "three\n");
    assert_string_equal(r.stream, "one\ntwo\nthree\n");
    assert_int_equal(r.chunk_status, 200);
    /* The first chunk came before the server had sent the rest. */
    assert_int_equal(r.steps_at_first_chunk, 1);
    result_free(&r);
}

static void on_data_nonzero_aborts(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.on_data = on_data};

    fx->steps[0] = (struct step){.data = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                         "2\r\na\n\r\n"};
    fx->steps[1] = (struct step){.at_ms = 10, .data = "2\r\nb\n\r\n", .after_chunks = 1};
    fx->gate = &r.chunks;
    r.abort_at_chunk = 1;
    assert_int_equal(start(fx, &r, &o, "/watch"), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, P4_ERR_CANCELED);
    assert_int_equal(r.chunks, 1);
    assert_string_equal(r.stream, "a\n");
    run_for(fx, 30);
    assert_int_equal(r.done_calls, 1);
    assert_int_equal(r.chunks, 1);
    result_free(&r);
}

static void timeout_when_server_never_replies(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.timeout_ms = 100};
    uint64_t begin = uv_now(&fx->loop);

    assert_int_equal(start(fx, &r, &o, "/slow"), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, P4_ERR_TIMEOUT);
    assert_int_equal(r.status, 0);
    assert_non_null(r.error);
    assert_true(uv_now(&fx->loop) - begin >= 100);
    assert_int_equal(fx->requests, 1);
    result_free(&r);
}

static void timeout_counts_the_whole_response(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.timeout_ms = 100};

    /* Headers at once, the body never completes. */
    reply(fx, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    assert_int_equal(start(fx, &r, &o, "/trickle"), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, P4_ERR_TIMEOUT);
    assert_int_equal(r.status, 200);
    result_free(&r);
}

static void body_over_max_body_is_too_big(void **state)
{
    static char response[8192];
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.timeout_ms = 2000, .max_body = 1024};
    int n;

    n = snprintf(response, sizeof(response), "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n");
    memset(response + n, 'b', 4096);
    response[n + 4096] = '\0';
    reply(fx, response);
    assert_int_equal(start(fx, &r, &o, "/big"), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, P4_ERR_TOOBIG);
    assert_int_equal(r.status, 200);
    /* The limit in words, not curl's "Failure writing output to destination". */
    assert_non_null(r.error);
    assert_string_equal(r.error,
                        "the response is larger than 1024 bytes, the most that is read of it");
    result_free(&r);

    /* Exactly max_body is fine. */
    o = (struct p4_http_opts){.timeout_ms = 2000, .max_body = 4096};
    assert_int_equal(start(fx, &r, &o, "/big"), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.len, 4096);
    assert_int_equal(strlen(r.body), 4096);
    result_free(&r);
}

/*
 * A redirect is followed only when asked; the Authorization header follows it to the same
 * origin only: not to another host name for the same server (127.0.0.1 and localhost), so
 * credentials never go to a host the first one names.
 */
static void credentials_never_follow_a_redirect_elsewhere(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    const char *headers[] = {"Authorization: Basic dXNlcjpwYXNz", NULL};
    struct p4_http_opts o = {.timeout_ms = 2000, .headers = headers, .follow_redirects = 3};
    char path[96];

    reply(fx, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nlanded");
    /* Another host: the request arrives there without the header. */
    (void)snprintf(path, sizeof(path), "/redirect?to=http://localhost:%d/landed", fx->port);
    assert_int_equal(start(fx, &r, &o, path), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "landed");
    assert_int_equal(fx->requests, 2);
    assert_string_equal(fx->auth[0], "Basic dXNlcjpwYXNz");
    assert_string_equal(fx->auth[1], "-");
    assert_memory_equal(fx->last_req, "GET /landed ", 12);
    result_free(&r);

    /* The same origin keeps it. */
    (void)snprintf(path, sizeof(path), "/redirect?to=http://127.0.0.1:%d/again", fx->port);
    assert_int_equal(start(fx, &r, &o, path), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.status, 200);
    assert_int_equal(fx->requests, 4);
    assert_string_equal(fx->auth[2], "Basic dXNlcjpwYXNz");
    assert_string_equal(fx->auth[3], "Basic dXNlcjpwYXNz");
    result_free(&r);

    /* Not asked to follow: the 302 is the answer, and nothing else is asked. */
    o.follow_redirects = 0;
    assert_int_equal(start(fx, &r, &o, path), 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.status, 302);
    assert_int_equal(fx->requests, 5);
    result_free(&r);
}

static void cancel_in_flight_reports_once_later(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.timeout_ms = 2000};

    assert_int_equal(start(fx, &r, &o, "/hang"), 0);
    run_until(fx, &fx->requests, 1);
    do_cancel(&r);
    do_cancel(&r); /* a second cancel before the report changes nothing */
    assert_int_equal(r.done_calls, 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, P4_ERR_CANCELED);
    run_for(fx, 30);
    assert_int_equal(r.done_calls, 1);
    result_free(&r);
}

static void cancel_right_after_start(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.timeout_ms = 2000};

    reply(fx, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert_int_equal(start(fx, &r, &o, "/x"), 0);
    do_cancel(&r);
    assert_int_equal(r.done_calls, 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, P4_ERR_CANCELED);
    run_for(fx, 30);
    assert_int_equal(r.done_calls, 1);
    assert_int_equal(fx->requests, 0);
    result_free(&r);

    /* The client still works afterwards. */
    get(fx, &r, "/y");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.body, "ok");
    result_free(&r);
}

static void connection_refused_is_transport_error(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.timeout_ms = 2000};
    uv_tcp_t probe;
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = (int)sizeof(ss), port;
    char url[64];

    /* A port that was just free and that nobody listens on. */
    assert_int_equal(uv_tcp_init(&fx->loop, &probe), 0);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
    assert_int_equal(uv_tcp_bind(&probe, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_tcp_getsockname(&probe, (struct sockaddr *)&ss, &len), 0);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&probe, NULL);
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    o.url = url;
    assert_int_equal(start(fx, &r, &o, ""), 0);
    assert_int_equal(r.done_calls, 0);
    run_until(fx, &r.done_calls, 1);
    assert_int_equal(r.rc, P4_ERR_TRANSPORT);
    assert_int_equal(r.status, 0);
    assert_non_null(r.error);
    assert_true(strlen(r.error) > 0);
    assert_null(r.body);
    result_free(&r);
}

static void connection_closed_mid_response(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct result s = {0};
    struct p4_http_opts o = {.on_data = on_data};

    fx->steps[0] = (struct step){.data = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
                                 .close = 1};
    get(fx, &r, "/cut");
    assert_int_equal(r.rc, P4_ERR_TRANSPORT);
    assert_int_equal(r.status, 200);
    assert_non_null(r.error);
    result_free(&r);

    /* Streamed, the part that came is delivered, then the error. */
    assert_int_equal(start(fx, &s, &o, "/cut"), 0);
    run_until(fx, &s.done_calls, 1);
    assert_int_equal(s.rc, P4_ERR_TRANSPORT);
    assert_string_equal(s.stream, "0123456789");
    result_free(&s);
}

static void bad_arguments_are_refused(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {0};
    struct p4_http_req *req = NULL;

    o.on_done = on_done;
    o.data = &r;
    r.fx = fx;
    o.method = "GET";
    assert_int_equal(p4_http_start(fx->http, &o, &req), P4_ERR_INVAL); /* no url */
    o.url = fx->url;
    o.method = NULL;
    assert_int_equal(p4_http_start(fx->http, &o, &req), P4_ERR_INVAL);
    o.method = "GET";
    assert_int_equal(p4_http_start(NULL, &o, &req), P4_ERR_INVAL);
    assert_int_equal(p4_http_start(fx->http, NULL, &req), P4_ERR_INVAL);
    assert_null(req);
    p4_http_cancel(NULL);
    p4_http_close(NULL);
    run_for(fx, 10);
    assert_int_equal(r.done_calls, 0);
    assert_memory_equal(p4_http_user_agent(), "phase4-operator/", 16);
}

static void close_cancels_everything_in_flight(void **state)
{
    struct fx *fx = *state;
    struct result r[3] = {{0}};
    struct result canceled = {0};
    struct result after = {0};
    struct p4_http_opts o;

    for (int i = 0; i < 3; i++) {
        o = (struct p4_http_opts){0};
        assert_int_equal(start(fx, &r[i], &o, "/hang"), 0);
    }
    o = (struct p4_http_opts){0};
    assert_int_equal(start(fx, &canceled, &o, "/hang"), 0);
    run_until(fx, &fx->requests, 1);
    do_cancel(&canceled); /* its report is still pending when the client closes */
    p4_http_close(fx->http);
    fx->http_closed = 1;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].done_calls, 1);
        assert_int_equal(r[i].rc, P4_ERR_CANCELED);
        result_free(&r[i]);
    }
    assert_int_equal(canceled.done_calls, 1);
    assert_int_equal(canceled.rc, P4_ERR_CANCELED);
    result_free(&canceled);
    /* A closing client takes no new request. */
    o = (struct p4_http_opts){0};
    assert_int_equal(start(fx, &after, &o, "/late"), P4_ERR_INVAL);
    /* teardown checks every handle is gone: uv_loop_close returns 0. */
    run_for(fx, 10);
    assert_int_equal(after.done_calls, 0);
}

static void close_from_on_done(void **state)
{
    struct fx *fx = *state;
    struct result first = {0}, hanging = {0}, canceled = {0};
    struct p4_http_opts o = {0};

    reply(fx, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    first.close_in_done = 1;
    assert_int_equal(start(fx, &first, &o, "/first"), 0);
    o = (struct p4_http_opts){0};
    assert_int_equal(start(fx, &hanging, &o, "/hang"), 0);
    o = (struct p4_http_opts){0};
    assert_int_equal(start(fx, &canceled, &o, "/hang"), 0);
    do_cancel(&canceled);
    /* The answer to /first closes the client from its on_done: the others end there too. */
    run_until(fx, &first.done_calls, 1);
    assert_int_equal(first.rc, 0);
    assert_string_equal(first.body, "ok");
    assert_int_equal(hanging.done_calls, 1);
    assert_int_equal(hanging.rc, P4_ERR_CANCELED);
    assert_int_equal(canceled.done_calls, 1);
    assert_int_equal(canceled.rc, P4_ERR_CANCELED);
    result_free(&first);
    result_free(&hanging);
    result_free(&canceled);
}

/*
 * Over plain http:// a second request must not queue behind one in flight (a watch):
 * CURLOPT_PIPEWAIT is set only for https, where ALPN settles multiplexing at once.
 */
static void second_request_does_not_wait_for_a_stalled_first(void **state)
{
    struct fx *fx = *state;
    struct result stalled = {0}, second = {0};
    struct p4_http_opts o = {.timeout_ms = 2000};

    reply(fx, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert_int_equal(start(fx, &stalled, &o, "/stall"), 0);
    run_until(fx, &fx->requests, 1);
    o = (struct p4_http_opts){.timeout_ms = 500};
    assert_int_equal(start(fx, &second, &o, "/second"), 0);
    run_until(fx, &second.done_calls, 1);
    assert_int_equal(second.rc, 0);
    assert_string_equal(second.body, "ok");
    assert_int_equal(stalled.done_calls, 0);
    /* The stalled request must end before its result goes out of scope. */
    p4_http_cancel(stalled.req);
    run_until(fx, &stalled.done_calls, 1);
    assert_int_equal(stalled.rc, P4_ERR_CANCELED);
    result_free(&stalled);
    result_free(&second);
}

/*
 * p4_http_cancel from inside on_data (an informer closed from a watch event handler):
 * curl refuses removals inside its callbacks, so the cancel is finished after curl
 * returns, and on_done runs exactly once, with P4_ERR_CANCELED.
 */
static void cancel_inside_on_data(void **state)
{
    struct fx *fx = *state;
    struct result r = {0};
    struct p4_http_opts o = {.on_data = on_data};

    reply(fx, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nevent\n");
    r.cancel_at_chunk = 1;
    assert_int_equal(start(fx, &r, &o, "/watch"), 0);
    run_until(fx, &r.done_calls, 1);
    run_for(fx, 30);
    assert_int_equal(r.done_calls, 1);
    assert_int_equal(r.rc, P4_ERR_CANCELED);
    assert_int_equal(r.chunks, 1);
    result_free(&r);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(get_buffers_body_status_and_headers),
        TEST(request_bodies_arrive_intact),
        TEST(head_has_status_and_no_body),
        TEST(error_status_is_a_response_with_retry_after),
        TEST(streamed_chunks_arrive_in_order),
        TEST(on_data_nonzero_aborts),
        TEST(timeout_when_server_never_replies),
        TEST(timeout_counts_the_whole_response),
        TEST(body_over_max_body_is_too_big),
        TEST(cancel_in_flight_reports_once_later),
        TEST(cancel_right_after_start),
        TEST(connection_refused_is_transport_error),
        TEST(connection_closed_mid_response),
        TEST(bad_arguments_are_refused),
        TEST(close_cancels_everything_in_flight),
        TEST(close_from_on_done),
        TEST(second_request_does_not_wait_for_a_stalled_first),
        TEST(cancel_inside_on_data),
        TEST(credentials_never_follow_a_redirect_elsewhere),
    };
    return cmocka_run_group_tests_name("http", tests, group_setup, group_teardown);
}
