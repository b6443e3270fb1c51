/*
 * http.c: libcurl's multi socket interface driven by libuv (see http.h).
 *
 * curl tells us which sockets to watch (socket callback → uv_poll) and when
 * to call it back (timer callback → uv_timer); we tell curl when a socket is
 * ready (curl_multi_socket_action) and collect finished transfers from
 * curl_multi_info_read. Completion callbacks run only from there, or from
 * the deferred-cancel timer, never inside curl's own callbacks.
 */
#include "phase4/net/http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/buf.h"
#include "phase4/core/error.h"
#include "phase4/core/log.h"
#include "phase4/core/version.h"

/* Older libcurl sends a custom Authorization header to the host a redirect names (before
   7.58.0) or to another port or scheme of it (before 7.83.0). */
#if defined(LIBCURL_VERSION_NUM) && LIBCURL_VERSION_NUM < 0x075300
#error "libcurl 7.83.0 or later is needed: credentials must not follow a redirect elsewhere"
#endif

#define DEFAULT_MAX_BODY (64u << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
/*
 * HTTP/2 streams one connection carries at most. libcurl (7.x, 8.x) runs every transfer
 * multiplexed on a socket each time that socket is readable, so a connection holding all the
 * watches (three per target namespace) and requests made each read cost as many transfers as
 * there are: CPU per resource grew with the number of resources. Past this many, curl opens
 * another connection (a TLS session, tens of KiB), which bounds the work per read.
 */
#define MAX_STREAMS_PER_CONNECTION 100L

struct p4_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;         /* curl's timeout */
    uv_timer_t cancel_timer;  /* delivers cancellations after cancel returns */
    struct p4_http_req *reqs; /* in flight, doubly linked */
    struct p4_http_req *canceled;
    int closing;
    int open_handles;
    int in_curl;      /* inside curl_multi_socket_action: curl refuses removals */
    int cancel_later; /* a request was canceled while in_curl */
};

struct p4_http_req {
    struct p4_http *http;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    struct p4_http_req *prev, *next;
    p4_http_done_cb on_done;
    p4_http_data_cb on_data;
    void *data;
    struct p4_buf body; /* buffered response body */
    size_t max_body;
    char *retry_after;
    char *content_type;
    char *www_authenticate;
    char *content_digest;
    int apf; /* an X-Kubernetes-PF-* header came: API Priority and Fairness handled it */
    int too_big;
    int aborted;  /* on_data asked to stop */
    int canceled; /* p4_http_cancel was called */
    char errbuf[CURL_ERROR_SIZE];
};

struct poll_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct p4_http *http;
};

static void check_done(struct p4_http *h);

static void unlink_req(struct p4_http_req *r)
{
    struct p4_http *h = r->http;

    if (r->prev)
        r->prev->next = r->next;
    else if (h->reqs == r)
        h->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void free_req(struct p4_http_req *r)
{
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->connect_to);
    free(r->body.data);
    free(r->retry_after);
    free(r->content_type);
    free(r->www_authenticate);
    free(r->content_digest);
    free(r);
}

/* Call on_done once and free the request; it is already out of the multi. */
static void finish(struct p4_http_req *r, int rc)
{
    struct p4_http_response resp = {0};

    (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
    if (r->on_data == NULL) {
        /* A received response always has a body string, "" when empty. */
        resp.body = r->body.data ? r->body.data : (rc == 0 ? "" : NULL);
        resp.len = r->body.len;
    }
    (void)curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_COUNT, &resp.redirects);
    resp.retry_after = r->retry_after;
    resp.content_type = r->content_type;
    resp.www_authenticate = r->www_authenticate;
    resp.content_digest = r->content_digest;
    resp.apf = r->apf;
    if (rc == P4_ERR_TOOBIG && r->too_big) { /* not curl's "Failure writing output..." */
        if (r->max_body % ((size_t)1024 * 1024) == 0)
            (void)snprintf(r->errbuf, sizeof(r->errbuf),
                           "the response is larger than %zu MiB, the most that is read of it",
                           r->max_body / ((size_t)1024 * 1024));
        else
            (void)snprintf(r->errbuf, sizeof(r->errbuf),
                           "the response is larger than %zu bytes, the most that is read of it",
                           r->max_body);
    }
    resp.error = rc != 0 && r->errbuf[0] ? r->errbuf : NULL;
    if (r->on_done)
        r->on_done(rc, &resp, r->data);
    free_req(r);
}

static int classify(const struct p4_http_req *r, CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return P4_ERR_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        return P4_ERR_TLS;
    case CURLE_WRITE_ERROR:
        if (r->too_big)
            return P4_ERR_TOOBIG;
        return r->aborted ? P4_ERR_CANCELED : P4_ERR_TRANSPORT;
    default:
        return P4_ERR_TRANSPORT;
    }
}

static void check_done(struct p4_http *h)
{
    CURLMsg *msg;
    int pending;

    while ((msg = curl_multi_info_read(h->multi, &pending)) != NULL) {
        struct p4_http_req *r = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        (void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode result = msg->data.result;
        (void)curl_multi_remove_handle(h->multi, msg->easy_handle);
        unlink_req(r);
        finish(r, r->canceled ? P4_ERR_CANCELED : classify(r, result));
    }
}

static void remove_and_queue(struct p4_http_req *r);

/* After curl ran: collect finished transfers, then cancellations curl could not take. */
static void after_action(struct p4_http *h)
{
    check_done(h);
    if (h->cancel_later) {
        struct p4_http_req *r = h->reqs, *next;
        h->cancel_later = 0;
        for (; r; r = next) {
            next = r->next;
            if (r->canceled)
                remove_and_queue(r);
        }
    }
}

static void on_poll_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct poll_ctx *ctx = poll->data;
    struct p4_http *h = ctx->http;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    h->in_curl = 1;
    (void)curl_multi_socket_action(h->multi, ctx->fd, flags, &running);
    h->in_curl = 0;
    after_action(h);
}

static int on_socket(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
    struct p4_http *h = userp;
    struct poll_ctx *ctx = socketp;
    int events = 0;

    (void)easy;
    if (action == CURL_POLL_REMOVE) {
        if (ctx) {
            (void)uv_poll_stop(&ctx->poll);
            uv_close((uv_handle_t *)&ctx->poll, on_poll_closed);
            (void)curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (ctx == NULL) {
        ctx = p4_calloc(1, sizeof(*ctx));
        ctx->fd = fd;
        ctx->http = h;
        if (uv_poll_init_socket(h->loop, &ctx->poll, fd) != 0) {
            free(ctx);
            return -1;
        }
        ctx->poll.data = ctx;
        (void)curl_multi_assign(h->multi, fd, ctx);
    }
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    (void)uv_poll_start(&ctx->poll, events, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *timer)
{
    struct p4_http *h = timer->data;
    int running;

    h->in_curl = 1;
    (void)curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    h->in_curl = 0;
    after_action(h);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct p4_http *h = userp;

    (void)multi;
    if (timeout_ms < 0)
        (void)uv_timer_stop(&h->timer);
    else
        (void)uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void on_cancel_timer(uv_timer_t *timer)
{
    struct p4_http *h = timer->data;

    while (h->canceled) {
        struct p4_http_req *r = h->canceled;
        h->canceled = r->next;
        r->next = NULL;
        finish(r, P4_ERR_CANCELED);
    }
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct p4_http_req *r = userdata;
    size_t n = size * nmemb;

    if (r->canceled)
        return 0; /* canceled from inside a callback: stop the transfer */
    if (r->on_data) {
        long status = 0;
        (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (r->on_data(ptr, n, status, r->data) != 0) {
            r->aborted = 1;
            return 0;
        }
        return n;
    }
    if (r->body.len + n > r->max_body) {
        r->too_big = 1;
        return 0;
    }
    p4_buf_append(&r->body, ptr, n);
    return n;
}

/* Sent by an API server whose API Priority and Fairness handled the request. */
#define APF_FLOW "X-Kubernetes-PF-FlowSchema-UID"
#define APF_LEVEL "X-Kubernetes-PF-PriorityLevel-UID"

/* Keep a header's value, trimmed; a new response (status line) resets them. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct p4_http_req *r = userdata;
    size_t n = size * nitems, name_len;
    const char *colon;
    char **slot = NULL;

    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        free(r->retry_after);
        free(r->content_type);
        free(r->www_authenticate);
        free(r->content_digest);
        r->retry_after = r->content_type = r->www_authenticate = r->content_digest = NULL;
        r->apf = 0;
        return n;
    }
    colon = memchr(buf, ':', n);
    if (colon == NULL)
        return n;
    name_len = (size_t)(colon - buf);
    if ((name_len == sizeof(APF_FLOW) - 1 && strncasecmp(buf, APF_FLOW, name_len) == 0) ||
        (name_len == sizeof(APF_LEVEL) - 1 && strncasecmp(buf, APF_LEVEL, name_len) == 0))
        r->apf = 1;
    if (name_len == 11 && strncasecmp(buf, "Retry-After", 11) == 0)
        slot = &r->retry_after;
    else if (name_len == 12 && strncasecmp(buf, "Content-Type", 12) == 0)
        slot = &r->content_type;
    else if (name_len == 16 && strncasecmp(buf, "WWW-Authenticate", 16) == 0)
        slot = &r->www_authenticate;
    else if (name_len == 21 && strncasecmp(buf, "Docker-Content-Digest", 21) == 0)
        slot = &r->content_digest;
    if (slot) {
        const char *v = colon + 1, *end = buf + n;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        free(*slot);
        *slot = p4_strndup(v, (size_t)(end - v));
    }
    return n;
}

const char *p4_http_user_agent(void)
{
    return "phase4-operator/" P4_VERSION;
}

struct p4_http *p4_http_new(uv_loop_t *loop)
{
    struct p4_http *h = p4_calloc(1, sizeof(*h));

    h->loop = loop;
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        free(h);
        return NULL;
    }
    (void)curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    (void)curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    (void)curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    (void)curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    (void)curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    (void)curl_multi_setopt(h->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, MAX_STREAMS_PER_CONNECTION);
    (void)uv_timer_init(loop, &h->timer);
    (void)uv_timer_init(loop, &h->cancel_timer);
    h->timer.data = h;
    h->cancel_timer.data = h;
    h->open_handles = 2;
    return h;
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct p4_http *h = handle->data;

    if (--h->open_handles == 0)
        free(h);
}

void p4_http_close(struct p4_http *h)
{
    if (h == NULL || h->closing)
        return;
    h->closing = 1;
    /* Everything still in flight is canceled now: callers free their state in on_done. */
    while (h->reqs) {
        struct p4_http_req *r = h->reqs; /* pop the head */
        h->reqs = r->next;
        if (h->reqs)
            h->reqs->prev = NULL;
        r->next = NULL;
        (void)curl_multi_remove_handle(h->multi, r->easy);
        finish(r, P4_ERR_CANCELED);
    }
    on_cancel_timer(&h->cancel_timer);
    (void)curl_multi_cleanup(h->multi);
    h->multi = NULL;
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
    uv_close((uv_handle_t *)&h->cancel_timer, on_handle_closed);
}

static void set_tls(CURL *e, const struct p4_http_tls *tls)
{
    struct curl_blob blob;

    if (tls == NULL)
        return;
    if (tls->ca_pem) {
        blob = (struct curl_blob){(void *)tls->ca_pem, tls->ca_len, CURL_BLOB_COPY};
        (void)curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    } else if (tls->ca_file) {
        (void)curl_easy_setopt(e, CURLOPT_CAINFO, tls->ca_file);
    }
    if (tls->cert_pem) {
        blob = (struct curl_blob){(void *)tls->cert_pem, tls->cert_len, CURL_BLOB_COPY};
        (void)curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
        (void)curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (tls->cert_file) {
        (void)curl_easy_setopt(e, CURLOPT_SSLCERT, tls->cert_file);
    }
    if (tls->key_pem) {
        blob = (struct curl_blob){(void *)tls->key_pem, tls->key_len, CURL_BLOB_COPY};
        (void)curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
        (void)curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (tls->key_file) {
        (void)curl_easy_setopt(e, CURLOPT_SSLKEY, tls->key_file);
    }
    /* Verification is on unless the kubeconfig asked otherwise (the client logs a warning). */
    (void)curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, tls->insecure ? 0L : 1L);
    (void)curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, tls->insecure ? 0L : 2L);
}

int p4_http_start(struct p4_http *h, const struct p4_http_opts *o, struct p4_http_req **out)
{
    struct p4_http_req *r;
    CURL *e;

    if (h == NULL || h->closing || o == NULL || o->url == NULL || o->method == NULL)
        return P4_ERR_INVAL;
    e = curl_easy_init();
    if (e == NULL)
        return P4_ERR_NOMEM;
    r = p4_calloc(1, sizeof(*r));
    r->http = h;
    r->easy = e;
    r->on_done = o->on_done;
    r->on_data = o->on_data;
    r->data = o->data;
    r->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;

    (void)curl_easy_setopt(e, CURLOPT_URL, o->url);
    (void)curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    (void)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    (void)curl_easy_setopt(e, CURLOPT_USERAGENT, p4_http_user_agent());
    (void)curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Wait to multiplex on HTTP/2 only where ALPN settles it at once (https);
     * over plain HTTP/1.1 it would queue requests behind a watch. */
    if (strncmp(o->url, "https://", 8) == 0)
        (void)curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    (void)curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    (void)curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    (void)curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    (void)curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
    (void)curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Credentials stay with the first origin (http.h); never downgrade from TLS. */
    (void)curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
    if (o->follow_redirects > 0) {
        (void)curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        (void)curl_easy_setopt(e, CURLOPT_MAXREDIRS, o->follow_redirects);
        (void)curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR,
                               strncasecmp(o->url, "https://", 8) == 0 ? "https" : "http,https");
    }
    (void)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    (void)curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                           o->connect_timeout_ms ? o->connect_timeout_ms
                                                 : DEFAULT_CONNECT_TIMEOUT_MS);
    (void)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    (void)curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    (void)curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    (void)curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    for (const char *const *hd = o->headers; hd && *hd; hd++) {
        struct curl_slist *l = curl_slist_append(r->headers, *hd);
        if (l == NULL)
            goto fail;
        r->headers = l;
    }
    (void)curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (o->connect_to) {
        r->connect_to = curl_slist_append(NULL, o->connect_to);
        if (r->connect_to == NULL)
            goto fail;
        (void)curl_easy_setopt(e, CURLOPT_CONNECT_TO, r->connect_to);
    }
    if (strcmp(o->method, "HEAD") == 0) {
        (void)curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(o->method, "GET") != 0) {
        (void)curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
        if (o->body || strcmp(o->method, "DELETE") != 0) {
            (void)curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
            (void)curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body ? o->body : "");
        }
    }
    set_tls(e, o->tls);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
        goto fail;
    r->next = h->reqs;
    if (h->reqs)
        h->reqs->prev = r;
    h->reqs = r;
    if (out)
        *out = r;
    return 0;
fail:
    free_req(r);
    return P4_ERR_NOMEM;
}

/* Take a request out of curl and deliver its cancellation on a later turn. */
static void remove_and_queue(struct p4_http_req *r)
{
    struct p4_http *h = r->http;

    (void)curl_multi_remove_handle(h->multi, r->easy);
    unlink_req(r);
    r->next = h->canceled;
    h->canceled = r;
    (void)uv_timer_start(&h->cancel_timer, on_cancel_timer, 0, 0);
}

void p4_http_cancel(struct p4_http_req *r)
{
    if (r == NULL || r->canceled)
        return;
    r->canceled = 1;
    if (r->http->in_curl) {
        /* curl refuses removals inside its callbacks: after_action does it. */
        r->http->cancel_later = 1;
        return;
    }
    remove_and_queue(r);
}
