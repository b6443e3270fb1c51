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

#include "phase4/core/buf.h"

struct p4_serve;

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
