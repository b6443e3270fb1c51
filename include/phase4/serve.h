/*
 * serve.h: a small HTTP/1.1 server on the loop for /healthz, /readyz and
 * /metrics (GET only, one response per connection, bounded request size).
 *
 * The handler fills a response body for a path; the server owns the
 * connections. It is for probes and Prometheus scrapes on a trusted
 * network, not a general web server.
 */
#ifndef PHASE4_SERVE_H
#define PHASE4_SERVE_H

#include <stddef.h>
#include <uv.h>

struct p4_serve;

/* A growable text buffer the handler appends to. */
struct p4_buf {
    char *data;
    size_t len, cap;
};
void p4_buf_append(struct p4_buf *b, const char *s, size_t n);
void p4_buf_printf(struct p4_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Return the HTTP status for path (200, 404, 503, ...) and append the body
 * to out; content_type may be set to a static string (default text/plain).
 */
typedef int (*p4_serve_handler)(const char *path, struct p4_buf *out, const char **content_type,
                                void *data);

/* addr: "127.0.0.1:8081" or ":8081" (all interfaces). Returns 0 or a P4_ERR_* code. */
int p4_serve_start(uv_loop_t *loop, const char *addr, p4_serve_handler handler, void *data,
                   struct p4_serve **out);
/* Stop listening, drop open connections, free once closed. */
void p4_serve_close(struct p4_serve *s);

#endif
