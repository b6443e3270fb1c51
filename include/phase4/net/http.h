/*
 * http.h: HTTP requests on the libuv loop, through libcurl's multi socket API.
 *
 * One struct p4_http per loop owns one CURLM and one timer; every socket curl
 * opens gets a uv_poll handle. Requests share connections and, where the
 * server offers it, one HTTP/2 connection (so many watches cost one socket).
 * TLS is always verified unless the caller's TLS settings say insecure.
 *
 * A request either buffers its response body (up to max_body bytes) or, with
 * on_data set, streams it chunk by chunk (watches). on_done is called exactly
 * once per started request, never before p4_http_start returns, and the
 * request is freed after it returns.
 *
 * Redirects are followed only when a request asks (follow_redirects), and then
 * credentials never follow them elsewhere: an "Authorization:" header given in
 * headers goes to the first URL's origin only (scheme, host and port: libcurl
 * 7.83 and later decide so, CURLOPT_UNRESTRICTED_AUTH stays off), and a request
 * that began on https:// follows only to https://. url.h has the same rule for
 * callers that pick a URL themselves.
 */
#ifndef PHASE4_HTTP_H
#define PHASE4_HTTP_H

#include <stddef.h>
#include <uv.h>

struct p4_http;
struct p4_http_req;

/* TLS material; all pointers borrowed for the duration of p4_http_start (curl copies). */
struct p4_http_tls {
    const unsigned char *ca_pem; /* PEM bundle in memory, or NULL */
    size_t ca_len;
    const char *ca_file;           /* or a file; neither: the system store */
    const unsigned char *cert_pem; /* client certificate */
    size_t cert_len;
    const char *cert_file;
    const unsigned char *key_pem; /* client key */
    size_t key_len;
    const char *key_file;
    int insecure; /* skip verification: only when configured so */
};

struct p4_http_response {
    long status;      /* HTTP status, 0 when none was received */
    const char *body; /* buffered body (NUL-terminated), NULL when streamed */
    size_t len;
    const char *retry_after; /* Retry-After header value, or NULL */
    const char *content_type;
    const char *www_authenticate; /* WWW-Authenticate (registries' auth challenge), or NULL */
    const char *content_digest;   /* Docker-Content-Digest (registries), or NULL */
    const char *error;            /* transport error text (curl's), or NULL */
    long redirects;               /* redirects followed to reach this response */
    int apf; /* X-Kubernetes-PF-FlowSchema-UID or -PriorityLevel-UID came (Kubernetes APF) */
};

/*
 * rc: 0 when an HTTP response was received (whatever its status), else
 * P4_ERR_TIMEOUT, P4_ERR_TLS, P4_ERR_TRANSPORT, P4_ERR_TOOBIG or P4_ERR_CANCELED.
 * resp and its strings are valid only during the call.
 */
typedef void (*p4_http_done_cb)(int rc, const struct p4_http_response *resp, void *data);
/* Streamed body chunk; return nonzero to abort the transfer (on_done gets P4_ERR_CANCELED). */
typedef int (*p4_http_data_cb)(const char *chunk, size_t len, long status, void *data);

struct p4_http_opts {
    const char *method; /* "GET", "POST", "PATCH", "PUT", "DELETE", "HEAD" */
    const char *url;
    const char *const *headers; /* "Name: value" strings, NULL-terminated, or NULL */
    const char *body;           /* copied */
    size_t body_len;
    long timeout_ms;         /* whole request; 0 = none (watches) */
    long connect_timeout_ms; /* 0 = 10 s */
    size_t max_body;         /* buffered responses; 0 = 64 MiB */
    const struct p4_http_tls *tls;
    const char *connect_to;  /* "HOST:PORT:ADDR:PORT": reach HOST:PORT at ADDR:PORT
                              * (TLS still checks HOST), or NULL */
    long follow_redirects;   /* follow at most this many redirects; 0: none (a 3xx is the
                                response) */
    p4_http_data_cb on_data; /* NULL: buffer the body */
    p4_http_done_cb on_done;
    void *data;
};

struct p4_http *p4_http_new(uv_loop_t *loop); /* free with p4_http_close */
/*
 * Cancel every request in flight (each on_done gets P4_ERR_CANCELED), close
 * the handles, and free h once they are closed (needs the loop to run on).
 */
void p4_http_close(struct p4_http *h);
const char *p4_http_user_agent(void);

/* Start a request. req (may be NULL) is borrowed: valid until on_done returns. */
int p4_http_start(struct p4_http *h, const struct p4_http_opts *opts, struct p4_http_req **req);
/* Abort a request in flight; on_done is called later with P4_ERR_CANCELED. */
void p4_http_cancel(struct p4_http_req *req);

#endif
