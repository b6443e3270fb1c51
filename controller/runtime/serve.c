/* serve.c: probes and metrics over HTTP on the loop (see serve.h). */
#include "phase4/runtime/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/error.h"
#include "phase4/core/log.h"

#define REQUEST_MAX 8192

struct conn {
    uv_tcp_t tcp;
    struct p4_serve *server;
    struct conn *prev, *next;
    char req[REQUEST_MAX];
    size_t len;
    int answered;
    uv_write_t write;
    char *response;
};

struct p4_serve {
    uv_tcp_t listener;
    p4_serve_handler handler;
    void *data;
    struct conn *conns;
    int closing;
    int open;
};

static void maybe_free_server(struct p4_serve *s)
{
    if (s->closing && s->open == 0)
        free(s);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct p4_serve *s = c->server;

    if (c->prev)
        c->prev->next = c->next;
    else if (s->conns == c)
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->response);
    free(c);
    s->open--;
    maybe_free_server(s);
}

static void close_conn(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    close_conn(w->data);
}

static const char *status_text(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 400:
        return "Bad Request";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

static void respond(struct conn *c)
{
    struct p4_buf body = {0}, out = {0};
    const char *ctype = "text/plain; charset=utf-8";
    char path[1024];
    int code;
    uv_buf_t buf;

    c->answered = 1;
    (void)uv_read_stop((uv_stream_t *)&c->tcp);
    if (strncmp(c->req, "GET ", 4) != 0 && strncmp(c->req, "HEAD ", 5) != 0) {
        code = 405;
        p4_buf_append(&body, "method not allowed\n", 19);
    } else {
        const char *p = strchr(c->req, ' ') + 1;
        size_t n = strcspn(p, " ?\r\n");
        if (n >= sizeof(path))
            n = sizeof(path) - 1;
        memcpy(path, p, n);
        path[n] = '\0';
        code = c->server->handler(path, &body, &ctype, c->server->data);
    }
    p4_buf_printf(&out,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n\r\n",
                  code, status_text(code), ctype, body.len);
    if (strncmp(c->req, "HEAD ", 5) != 0 && body.len)
        p4_buf_append(&out, body.data, body.len);
    free(body.data);
    c->response = out.data;
    buf = uv_buf_init(out.data, (unsigned)out.len);
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
        close_conn(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->req + c->len, (unsigned)(REQUEST_MAX - 1 - c->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;

    (void)buf;
    if (nread < 0) {
        close_conn(c);
        return;
    }
    c->len += (size_t)nread;
    c->req[c->len] = '\0';
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
        respond(c);
    } else if (c->len >= REQUEST_MAX - 1) {
        close_conn(c); /* no headers end within the limit */
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct p4_serve *s = listener->data;
    struct conn *c;

    if (status < 0 || s->closing)
        return;
    c = p4_calloc(1, sizeof(*c));
    c->server = s;
    (void)uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = c;
    s->open++;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        close_conn(c);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct p4_serve *s = h->data;

    s->open--;
    maybe_free_server(s);
}

int p4_serve_start(uv_loop_t *loop, const char *addr, p4_serve_handler handler, void *data,
                   struct p4_serve **out)
{
    struct p4_serve *s;
    struct sockaddr_storage sa;
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hl;
    long port;
    char *end;
    int rc;

    if (colon == NULL)
        return P4_ERR_INVAL;
    hl = (size_t)(colon - addr);
    if (hl >= sizeof(host))
        return P4_ERR_INVAL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 1 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    if (colon[1] < '0' || colon[1] > '9') /* no empty or padded port */
        return P4_ERR_INVAL;
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return P4_ERR_INVAL;
    if (host[0] == '\0')
        rc = uv_ip4_addr("0.0.0.0", (int)port, (struct sockaddr_in *)&sa);
    else if (strchr(host, ':'))
        rc = uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&sa);
    else
        rc = uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&sa);
    if (rc != 0)
        return P4_ERR_INVAL;
    s = p4_calloc(1, sizeof(*s));
    s->handler = handler;
    s->data = data;
    (void)uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->open = 1;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 64, on_connection);
    if (rc != 0) {
        p4_log(P4_LOG_ERROR, "cannot listen", "address", addr, "error", uv_strerror(rc),
               P4_LOG_END);
        s->closing = 1;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        return P4_ERR_IO;
    }
    *out = s;
    return 0;
}

void p4_serve_close(struct p4_serve *s)
{
    if (s == NULL || s->closing)
        return;
    s->closing = 1;
    for (struct conn *c = s->conns; c; c = c->next)
        close_conn(c);
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}
