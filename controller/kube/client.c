/* client.c: Kubernetes API requests and watches on the loop (see client.h). */
#include "phase4/kube/client.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "execcred.h"
#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/ratelimit.h"
#include "phase4/net/http.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_429_RETRIES 5
#define TOKEN_FILE_MAX 65536
#define ERROR_BODY_MAX 65536

struct p4_kube {
    uv_loop_t *loop;
    /* A view (p4_kube_as): requests go through base, as the user named here. */
    struct p4_kube *base;
    char *as;
    struct p4_http *http;
    struct p4_http_tls tls;
    char *server;
    char *connect_to; /* tls-server-name: reach the name at the kubeconfig's address */
    unsigned char *ca, *cert, *key;
    char *ca_file, *cert_file, *key_file;
    char *token, *token_file;
    char *file_token; /* last read from token_file */
    struct timespec token_mtime;
    struct p4_execcred *exec; /* exec credential plugin, or NULL */
    struct p4_ratelimit rl;
    double qps_now;           /* the limit rl holds; 0: none */
    int apf_seen;             /* an answer carried API Priority and Fairness's headers */
    uint64_t throttled_until; /* uv_now() ms: a 429 holds every request until then */
    struct p4_kube_options opts;
    struct p4_kube_stats stats;
    struct kreq *reqs;     /* waiting for their turn (rate limit, Retry-After) */
    struct kreq *inflight; /* sent, waiting for the answer */
};

/* A request waiting to be sent or in flight. */
struct kreq {
    struct p4_kube *k;
    struct kreq *prev, *next;
    uv_timer_t timer;
    int timer_inited;
    enum p4_kube_verb verb;
    char *method, *path, *ctype, *body;
    char *accept;    /* NULL: application/json */
    char *as;        /* the user impersonated, or NULL */
    int raw;         /* hand a 2xx body over as bytes, unparsed */
    int proxy;       /* p4_kube_proxy: any answer's body as bytes, a 429 not retried */
    long timeout_ms; /* 0: the client's request timeout */
    size_t max_body; /* 0: the HTTP client's */
    size_t len;
    int attempts;
    int auth_retried;         /* a 401 made us fetch a fresh exec credential once */
    struct p4_http_req *http; /* while in flight */
    p4_kube_cb cb;
    void *data;
};

struct p4_kube_watch {
    struct p4_kube *k;
    char *as; /* the user impersonated, or NULL */
    struct p4_http_req *http;
    struct p4_watchframe frame;
    p4_kube_event_cb on_event;
    p4_kube_unreadable_cb on_unreadable; /* or NULL */
    p4_kube_keep_cb keep;                /* or NULL */
    p4_kube_watch_end_cb on_end;
    void *data;
    long status;
    int end_rc; /* an ERROR event's code, or 0 */
    struct p4_error end_err;
    char *err_body; /* a non-200 answer's body */
    size_t err_len;
    char *url;
    int canceled;
};

static const char *const verb_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "WATCH"};

const char *p4_kube_verb_name(enum p4_kube_verb verb)
{
    return (unsigned)verb < 6 ? verb_names[verb] : "UNKNOWN";
}

void p4_kube_metrics(const struct p4_kube *k, struct p4_buf *out)
{
    static const char *const classes[6] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
    const struct p4_kube_stats *ks = k->base ? &k->base->stats : &k->stats;

    p4_buf_printf(out, "# HELP phase4_kube_requests_total API requests by verb and status class.\n"
                       "# TYPE phase4_kube_requests_total counter\n");
    for (int v = 0; v < 6; v++) {
        for (int c = 0; c < 6; c++) {
            if (ks->requests[v][c])
                p4_buf_printf(
                    out, "phase4_kube_requests_total{verb=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                    p4_kube_verb_name((enum p4_kube_verb)v), classes[c], ks->requests[v][c]);
        }
    }
    p4_buf_printf(out,
                  "# HELP phase4_kube_throttled_total API answers 429 Too Many Requests.\n"
                  "# TYPE phase4_kube_throttled_total counter\n"
                  "phase4_kube_throttled_total %" PRIu64 "\n",
                  ks->throttled);
    p4_buf_printf(out,
                  "# HELP phase4_kube_client_qps_limit The client-side API rate limit in force, "
                  "requests a second; 0: none (the API server's APF protects it).\n"
                  "# TYPE phase4_kube_client_qps_limit gauge\n"
                  "phase4_kube_client_qps_limit %g\n",
                  p4_kube_qps_limit(k));
}

void p4_kube_rate_choice(const struct p4_kube_options *opts, int apf, double *qps, unsigned *burst)
{
    *qps = opts->qps > 0 ? opts->qps : 0;
    *burst = opts->burst;
    if (opts->rate_auto && apf) {
        *qps = 0;
        *burst = 0;
    }
}

double p4_kube_qps_limit(const struct p4_kube *k)
{
    return k->base ? k->base->qps_now : k->qps_now;
}

static void reschedule_waiting(struct p4_kube *k);

void p4_kube_saw_answer(struct p4_kube *k, int apf)
{
    unsigned burst;

    if (k->base)
        k = k->base;
    if (!apf || k->apf_seen)
        return;
    k->apf_seen = 1;
    if (!k->opts.rate_auto)
        return;
    p4_kube_rate_choice(&k->opts, 1, &k->qps_now, &burst);
    p4_ratelimit_init(&k->rl, k->qps_now, burst, uv_now(k->loop));
    p4_log(P4_LOG_INFO,
           "the API server has API Priority and Fairness on: client-side rate limit lifted", "qps",
           "none", P4_LOG_END);
    reschedule_waiting(k);
}

void p4_kube_back_off(struct p4_kube *k, uint64_t delay_ms)
{
    uint64_t until;

    if (k->base)
        k = k->base;
    until = uv_now(k->loop) + delay_ms;
    if (until > k->throttled_until)
        k->throttled_until = until;
}

uint64_t p4_kube_backoff_left(const struct p4_kube *k)
{
    uint64_t now;

    if (k->base)
        k = k->base;
    now = uv_now(k->loop);
    return k->throttled_until > now ? k->throttled_until - now : 0;
}

static void count(struct p4_kube *k, enum p4_kube_verb verb, long status)
{
    long cls = status / 100;

    if (cls < 0 || cls > 5)
        cls = 0;
    k->stats.requests[verb][cls]++;
}

int p4_kube_escape(const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (n + (plain ? 1 : 3) >= size)
            return P4_ERR_TOOBIG;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    if (size == 0)
        return P4_ERR_TOOBIG;
    out[n] = '\0';
    return 0;
}

static unsigned char *dup_bytes(const unsigned char *p, size_t len)
{
    unsigned char *c;

    if (p == NULL)
        return NULL;
    c = p4_malloc(len + 1);
    memcpy(c, p, len);
    c[len] = '\0';
    return c;
}

/*
 * tls-server-name: verify the API server's certificate (and send SNI) for
 * name while connecting to the kubeconfig's address. curl does both when the
 * URL names the host and CURLOPT_CONNECT_TO maps it to the real address.
 */
static int use_server_name(struct p4_kube *k, const char *name, struct p4_error *err)
{
    const char *hostp, *end, *rest;
    char host[256], port[8] = "443", *server;
    size_t n;

    if (strncmp(k->server, "https://", 8) != 0)
        return p4_error_set(err, P4_ERR_INVAL, "tls-server-name needs an https:// server, not %s",
                            k->server);
    hostp = k->server + 8;
    if (*hostp == '[') {
        end = strchr(hostp, ']');
        if (end == NULL)
            return p4_error_set(err, P4_ERR_INVAL, "bad server address %s", k->server);
        end++;
    } else {
        end = hostp + strcspn(hostp, ":/");
    }
    n = (size_t)(end - hostp);
    if (n == 0 || n >= sizeof(host) || strlen(name) > 253 || strpbrk(name, ":/[] ") != NULL)
        return p4_error_set(err, P4_ERR_INVAL, "bad server address %s or tls-server-name %s",
                            k->server, name);
    memcpy(host, hostp, n);
    host[n] = '\0';
    rest = end;
    if (*rest == ':') {
        size_t pn = strcspn(rest + 1, "/");
        if (pn == 0 || pn >= sizeof(port))
            return p4_error_set(err, P4_ERR_INVAL, "bad port in %s", k->server);
        memcpy(port, rest + 1, pn);
        port[pn] = '\0';
        rest += 1 + pn;
    }
    n = strlen(name) + strlen(port) + strlen(rest) + 16;
    server = p4_malloc(n);
    (void)snprintf(server, n, "https://%s:%s%s", name, port, rest);
    n = strlen(name) + strlen(host) + 2 * strlen(port) + 4;
    k->connect_to = p4_malloc(n);
    (void)snprintf(k->connect_to, n, "%s:%s:%s:%s", name, port, host, port);
    free(k->server);
    k->server = server;
    return 0;
}

int p4_kube_new(uv_loop_t *loop, const struct p4_kube_config *cfg,
                const struct p4_kube_options *opts, struct p4_kube **out, struct p4_error *err)
{
    struct p4_kube *k;
    size_t n;

    if (cfg == NULL || cfg->server == NULL || cfg->server[0] == '\0')
        return p4_error_set(err, P4_ERR_INVAL, "the kubeconfig names no API server");
    k = p4_calloc(1, sizeof(*k));
    k->loop = loop;
    k->http = p4_http_new(loop);
    if (k->http == NULL) {
        free(k);
        return p4_error_set(err, P4_ERR_NOMEM, "cannot start the HTTP client");
    }
    k->server = p4_strdup(cfg->server);
    n = strlen(k->server);
    while (n > 0 && k->server[n - 1] == '/')
        k->server[--n] = '\0';
    if (cfg->tls_server_name && cfg->tls_server_name[0] &&
        use_server_name(k, cfg->tls_server_name, err) != 0) {
        p4_kube_close(k);
        return err ? err->code : P4_ERR_INVAL;
    }
    k->ca = dup_bytes(cfg->ca_data, cfg->ca_len);
    k->cert = dup_bytes(cfg->cert_data, cfg->cert_len);
    k->key = dup_bytes(cfg->key_data, cfg->key_len);
    k->ca_file = p4_strdup_or_null(cfg->ca_file);
    k->cert_file = p4_strdup_or_null(cfg->cert_file);
    k->key_file = p4_strdup_or_null(cfg->key_file);
    k->token = p4_strdup_or_null(cfg->token);
    k->token_file = p4_strdup_or_null(cfg->token_file);
    k->tls = (struct p4_http_tls){
        .ca_pem = k->ca,
        .ca_len = cfg->ca_len,
        .ca_file = k->ca_file,
        .cert_pem = k->cert,
        .cert_len = cfg->cert_len,
        .cert_file = k->cert_file,
        .key_pem = k->key,
        .key_len = cfg->key_len,
        .key_file = k->key_file,
        .insecure = cfg->insecure_skip_tls_verify,
    };
    if (opts)
        k->opts = *opts;
    if (k->opts.request_timeout_ms <= 0)
        k->opts.request_timeout_ms = DEFAULT_TIMEOUT_MS;
    if (k->opts.max_429_retries <= 0)
        k->opts.max_429_retries = DEFAULT_429_RETRIES;
    {
        unsigned burst;
        p4_kube_rate_choice(&k->opts, 0, &k->qps_now, &burst);
        p4_ratelimit_init(&k->rl, k->qps_now, burst, uv_now(loop));
    }
    if (cfg->exec)
        k->exec = p4_execcred_new(loop, cfg->exec, k->server);
    if (cfg->insecure_skip_tls_verify)
        p4_log(P4_LOG_WARN, "TLS verification of the API server is off, as the kubeconfig says",
               "server", k->server, P4_LOG_END);
    *out = k;
    return 0;
}

static void free_kreq_mem(struct kreq *r)
{
    free(r->method);
    free(r->path);
    free(r->ctype);
    free(r->body);
    free(r->accept);
    free(r->as);
    free(r);
}

static void on_kreq_timer_closed(uv_handle_t *h)
{
    free_kreq_mem(h->data);
}

static void free_kreq(struct kreq *r)
{
    if (r->timer_inited)
        uv_close((uv_handle_t *)&r->timer, on_kreq_timer_closed);
    else
        free_kreq_mem(r);
}

static void unlink_from(struct kreq **head, struct kreq *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (*head == r)
        *head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void push(struct kreq **head, struct kreq *r)
{
    r->prev = NULL;
    r->next = *head;
    if (*head)
        (*head)->prev = r;
    *head = r;
}

static void unlink_kreq(struct kreq *r)
{
    unlink_from(&r->k->reqs, r);
}

/* Answer every request still waiting for its turn with P4_ERR_CANCELED; none is sent. */
static void cancel_waiting(struct p4_kube *k, const char *why)
{
    while (k->reqs) {
        struct kreq *r = k->reqs; /* pop the head */
        struct p4_kube_result res = {.rc = P4_ERR_CANCELED};
        k->reqs = r->next;
        if (k->reqs)
            k->reqs->prev = NULL;
        r->next = NULL;
        if (r->timer_inited)
            (void)uv_timer_stop(&r->timer);
        p4_error_set(&res.err, P4_ERR_CANCELED, "%s", why);
        r->cb(&res, r->data);
        free_kreq(r);
    }
}

void p4_kube_close(struct p4_kube *k)
{
    if (k == NULL)
        return;
    if (k->base) { /* a view: its requests belong to the base */
        free(k->as);
        free(k);
        return;
    }
    cancel_waiting(k, "the client is shutting down");
    p4_execcred_close(k->exec); /* requests waiting for a credential are canceled */
    p4_http_close(k->http);     /* cancels what is in flight */
    free(k->server);
    free(k->connect_to);
    free(k->ca);
    free(k->cert);
    free(k->key);
    free(k->ca_file);
    free(k->cert_file);
    free(k->key_file);
    free(k->token);
    free(k->token_file);
    free(k->file_token);
    p4_ratelimit_close(&k->rl);
    free(k);
}

/*
 * The bearer token, if any: a token file wins and is re-read when its mtime
 * changes (a stat per request: the file is local, usually on tmpfs).
 */
static const char *bearer(struct p4_kube *k)
{
    struct stat sb;
    FILE *f;
    char *buf;
    size_t n;

    if (k->token_file == NULL)
        return k->token;
    if (stat(k->token_file, &sb) != 0)
        return k->file_token ? k->file_token : k->token;
    if (k->file_token && sb.st_mtim.tv_sec == k->token_mtime.tv_sec &&
        sb.st_mtim.tv_nsec == k->token_mtime.tv_nsec)
        return k->file_token;
    f = fopen(k->token_file, "r");
    if (f == NULL)
        return k->file_token ? k->file_token : k->token;
    buf = p4_malloc(TOKEN_FILE_MAX + 1);
    n = fread(buf, 1, TOKEN_FILE_MAX, f);
    (void)fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    free(k->file_token);
    k->file_token = buf;
    k->token_mtime = sb.st_mtim;
    return k->file_token;
}

/* Build "Authorization: Bearer …" into a heap string; NULL when there is no token. */
static char *auth_header(const char *t)
{
    size_t n;
    char *h;

    if (t == NULL || t[0] == '\0')
        return NULL;
    n = strlen(t) + 32;
    h = p4_malloc(n);
    (void)snprintf(h, n, "Authorization: Bearer %s", t);
    return h;
}

static void on_http_done(int rc, const struct p4_http_response *resp, void *data);
static void send_kreq(struct kreq *r);

static void on_kreq_timer(uv_timer_t *t)
{
    struct kreq *r = t->data;

    unlink_kreq(r);
    send_kreq(r);
}

/*
 * Send after delay_ms (rate limit or Retry-After; 0 = on the next loop turn,
 * so the caller's callback never runs before p4_kube_request returns), and
 * not before a 429's shared backoff ends.
 */
static void schedule(struct kreq *r, uint64_t delay_ms)
{
    struct p4_kube *k = r->k;
    uint64_t left = p4_kube_backoff_left(k);

    if (left > delay_ms)
        delay_ms = left;

    if (!r->timer_inited) {
        (void)uv_timer_init(k->loop, &r->timer);
        r->timer.data = r;
        r->timer_inited = 1;
    }
    push(&k->reqs, r);
    (void)uv_timer_start(&r->timer, on_kreq_timer, delay_ms, 0);
}

/* The limit was lifted: what waits only for the rate limit goes now (or when a backoff ends). */
static void reschedule_waiting(struct p4_kube *k)
{
    uint64_t left = p4_kube_backoff_left(k);

    for (struct kreq *r = k->reqs; r; r = r->next) {
        if (r->timer_inited && r->attempts == 0 && uv_is_active((uv_handle_t *)&r->timer))
            (void)uv_timer_start(&r->timer, on_kreq_timer, left, 0);
    }
}

static void deliver(struct kreq *r, struct p4_kube_result *res)
{
    r->cb(res, r->data);
    cJSON_Delete(res->body);
    if (res->st) {
        p4_apistatus_close(res->st);
        free(res->st);
    }
    free_kreq(r);
}

/* The client's TLS settings, with an exec plugin's client certificate if it gave one. */
static struct p4_http_tls tls_with(const struct p4_kube *k, const struct p4_credential *cred)
{
    struct p4_http_tls tls = k->tls;

    if (cred && cred->cert_pem) {
        tls.cert_pem = cred->cert_pem;
        tls.cert_len = cred->cert_len;
        tls.cert_file = NULL;
        tls.key_pem = cred->key_pem;
        tls.key_len = cred->key_len;
        tls.key_file = NULL;
    }
    return tls;
}

/*
 * Append who the request is from to headers (room for two more and the NULL):
 * the Authorization header, if any, and Impersonate-User when a view acts as a
 * user (written into buf); then the terminating NULL.
 */
static void add_identity(const char **headers, size_t n, const char *auth, const char *user,
                         char *buf, size_t size)
{
    if (auth)
        headers[n++] = auth;
    if (user) {
        (void)snprintf(buf, size, "Impersonate-User: %s", user);
        headers[n++] = buf;
    }
    headers[n] = NULL;
}

/* Send with these credentials (exec plugin's, or NULL for the kubeconfig's own). */
static void send_with(struct kreq *r, const struct p4_credential *cred)
{
    struct p4_kube *k = r->k;
    char *url, *auth = auth_header(cred ? cred->token : bearer(k));
    char ctype[160], accept[256], as[P4_KUBE_USER_MAX + 32];
    const char *headers[5];
    size_t n = 0, ulen = strlen(k->server) + strlen(r->path) + 1;
    struct p4_http_opts o = {0};
    struct p4_http_tls tls = tls_with(k, cred);
    int rc;

    url = p4_malloc(ulen);
    (void)snprintf(url, ulen, "%s%s", k->server, r->path);
    /* Logs are text/plain, but the API server negotiates them only for Accept: any type. */
    (void)snprintf(accept, sizeof(accept), "Accept: %s",
                   r->accept == NULL                      ? "application/json"
                   : strcmp(r->accept, "text/plain") == 0 ? "*/*"
                                                          : r->accept);
    headers[n++] = accept;
    if (r->body) {
        (void)snprintf(ctype, sizeof(ctype), "Content-Type: %s",
                       r->ctype ? r->ctype : "application/json");
        headers[n++] = ctype;
    }
    add_identity(headers, n, auth, r->as, as, sizeof(as));
    o.method = r->method;
    o.url = url;
    o.headers = headers;
    o.body = r->body;
    o.body_len = r->len;
    o.timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : k->opts.request_timeout_ms;
    o.max_body = r->max_body;
    o.tls = &tls;
    o.connect_to = k->connect_to;
    o.on_done = on_http_done;
    o.data = r;
    r->attempts++;
    rc = p4_http_start(k->http, &o, &r->http);
    if (rc == 0)
        push(&k->inflight, r);
    free(url);
    /* The token is on the heap only as long as curl needs it (it copied the headers). */
    p4_wipe_free_str(auth);
    if (rc != 0) {
        struct p4_kube_result res = {.rc = rc};
        p4_error_set(&res.err, rc, "cannot start a request to the API server: %s", p4_strerror(rc));
        deliver(r, &res);
    }
}

static void on_request_credential(int rc, const struct p4_credential *cred,
                                  const struct p4_error *err, void *data)
{
    struct kreq *r = data;

    if (rc != 0) {
        struct p4_kube_result res = {.rc = rc};
        res.err = *err;
        deliver(r, &res);
        return;
    }
    send_with(r, cred);
}

static void send_kreq(struct kreq *r)
{
    if (r->k->exec == NULL) {
        send_with(r, NULL);
        return;
    }
    if (p4_execcred_get(r->k->exec, on_request_credential, r) != 0) {
        struct p4_kube_result res = {.rc = P4_ERR_CANCELED};
        p4_error_set(&res.err, P4_ERR_CANCELED, "the client is shutting down");
        deliver(r, &res);
    }
}

/* Retry-After (at most 60 s), else 1 s doubling with each attempt up to 32 s. */
static uint64_t retry_after_ms(const struct p4_apistatus *st, int attempts)
{
    if (st && st->has_retry_after && st->retry_after_seconds > 0)
        return (uint64_t)(st->retry_after_seconds > 60 ? 60 : st->retry_after_seconds) * 1000;
    if (attempts < 1)
        attempts = 1;
    return 1000ULL << (attempts > 6 ? 5 : attempts - 1);
}

static void on_http_done(int rc, const struct p4_http_response *resp, void *data)
{
    struct kreq *r = data;
    struct p4_kube *k = r->k;
    struct p4_kube_result res = {.rc = rc, .status = resp->status};

    unlink_from(&k->inflight, r);
    r->http = NULL;
    count(k, r->verb, rc == 0 ? resp->status : 0);
    if (rc == 0 && !r->proxy)
        p4_kube_saw_answer(k, resp->apf);
    if (rc != 0) {
        if (rc == P4_ERR_CANCELED)
            p4_error_set(&res.err, rc, "the request to the API server was canceled");
        else
            p4_error_set(&res.err, rc, "%s %s: %s: %s", r->method, k->server, p4_strerror(rc),
                         resp->error ? resp->error : "no detail");
        deliver(r, &res);
        return;
    }
    if (r->proxy) { /* the answer is the backend's (or the proxy's Status): bytes for the caller */
        res.raw = resp->body ? resp->body : "";
        res.raw_len = resp->body ? resp->len : 0;
        if (resp->status < 200 || resp->status >= 300) {
            res.st = p4_calloc(1, sizeof(*res.st));
            (void)p4_apistatus_decode(resp->status, resp->body, resp->len, resp->retry_after,
                                      res.st);
            res.rc = res.st->code ? res.st->code : P4_ERR_INTERNAL;
            (void)p4_apistatus_to_error(res.st, &res.err);
        }
        deliver(r, &res);
        return;
    }
    if (resp->status >= 200 && resp->status < 300) {
        if (r->accept && strcmp(r->accept, "text/plain") == 0) {
            char *text = p4_strndup(resp->body ? resp->body : "", resp->len);
            res.body = cJSON_CreateString(text); /* e.g. a pod's log */
            free(text);
        } else if (r->raw) {
            res.raw = resp->body ? resp->body : "";
            res.raw_len = resp->body ? resp->len : 0;
        } else if (resp->len > 0) {
            res.body = p4_json_parse(resp->body, resp->len, &res.err);
            if (res.body == NULL)
                res.rc = res.err.code ? res.err.code : P4_ERR_PARSE;
        }
        deliver(r, &res);
        return;
    }
    res.st = p4_calloc(1, sizeof(*res.st));
    (void)p4_apistatus_decode(resp->status, resp->body, resp->len, resp->retry_after, res.st);
    res.rc = res.st->code ? res.st->code : P4_ERR_INTERNAL;
    if (resp->status == 401 && k->exec && !r->auth_retried) {
        /* The plugin's credential expired early or was revoked: fetch a new one, once. */
        r->auth_retried = 1;
        p4_execcred_invalidate(k->exec);
        p4_apistatus_close(res.st);
        free(res.st);
        schedule(r, 0);
        return;
    }
    if (resp->status == 429) {
        k->stats.throttled++;
        if (r->attempts <= k->opts.max_429_retries) {
            uint64_t delay = retry_after_ms(res.st, r->attempts);
            p4_apistatus_close(res.st);
            free(res.st);
            p4_log(P4_LOG_DEBUG, "throttled by the API server, retrying", "path", r->path,
                   P4_LOG_END);
            p4_kube_back_off(k, delay); /* the whole client waits, not this request alone */
            schedule(r, delay);
            return;
        }
    }
    (void)p4_apistatus_to_error(res.st, &res.err);
    deliver(r, &res);
}

static enum p4_kube_verb verb_of(const char *method)
{
    for (int v = 0; v < P4_VERB_WATCH; v++) {
        if (strcmp(method, verb_names[v]) == 0)
            return (enum p4_kube_verb)v;
    }
    return P4_VERB_GET;
}

/* A request of k, made but not yet scheduled; NULL for bad arguments. */
static struct kreq *new_kreq(struct p4_kube *k, const char *method, const char *path,
                             const char *content_type, const char *body, size_t len, int raw,
                             p4_kube_cb cb, void *data)
{
    struct kreq *r;

    if (k == NULL || method == NULL || path == NULL || path[0] != '/' || cb == NULL)
        return NULL;
    r = p4_calloc(1, sizeof(*r));
    r->as = p4_strdup_or_null(k->as);
    if (k->base)
        k = k->base;
    r->k = k;
    r->verb = verb_of(method);
    r->method = p4_strdup(method);
    r->path = p4_strdup(path);
    r->ctype = p4_strdup_or_null(content_type);
    r->raw = raw;
    if (body) {
        r->body = p4_strndup(body, len);
        r->len = len;
    }
    r->cb = cb;
    r->data = data;
    return r;
}

/* Send r when the client's rate limit allows. */
static void enqueue(struct kreq *r)
{
    schedule(r, p4_ratelimit_reserve(&r->k->rl, uv_now(r->k->loop)));
}

static int request(struct p4_kube *k, const char *method, const char *path,
                   const char *content_type, const char *body, size_t len, int raw, p4_kube_cb cb,
                   void *data)
{
    struct kreq *r = new_kreq(k, method, path, content_type, body, len, raw, cb, data);

    if (r == NULL)
        return P4_ERR_INVAL;
    enqueue(r);
    return 0;
}

int p4_kube_request(struct p4_kube *k, const char *method, const char *path,
                    const char *content_type, const char *body, size_t len, p4_kube_cb cb,
                    void *data)
{
    return request(k, method, path, content_type, body, len, 0, cb, data);
}

int p4_kube_request_raw(struct p4_kube *k, const char *method, const char *path,
                        const char *content_type, const char *body, size_t len, p4_kube_cb cb,
                        void *data)
{
    return request(k, method, path, content_type, body, len, 1, cb, data);
}

int p4_kube_proxy(struct p4_kube *k, const char *method, const char *path, long timeout_ms,
                  size_t max_body, p4_kube_cb cb, void *data)
{
    struct kreq *r = new_kreq(k, method, path, NULL, NULL, 0, 1, cb, data);

    if (r == NULL)
        return P4_ERR_INVAL;
    r->proxy = 1;
    r->timeout_ms = timeout_ms;
    r->max_body = max_body;
    r->accept = p4_strdup("*/*");
    enqueue(r);
    return 0;
}

void p4_kube_cancel_all(struct p4_kube *k)
{
    if (k->base)
        k = k->base;
    cancel_waiting(k, "the request was canceled (shutting down)");
    /* In flight: each ends on a later turn through on_http_done with P4_ERR_CANCELED. */
    for (struct kreq *r = k->inflight; r; r = r->next)
        p4_http_cancel(r->http);
}

int p4_kube_get_accept(struct p4_kube *k, const char *path, const char *accept, p4_kube_cb cb,
                       void *data)
{
    struct kreq *r;

    if (k == NULL || path == NULL || path[0] != '/' || cb == NULL)
        return P4_ERR_INVAL;
    r = p4_calloc(1, sizeof(*r));
    r->as = p4_strdup_or_null(k->as);
    if (k->base)
        k = k->base;
    r->k = k;
    r->verb = P4_VERB_GET;
    r->method = p4_strdup("GET");
    r->path = p4_strdup(path);
    r->accept = p4_strdup_or_null(accept);
    r->cb = cb;
    r->data = data;
    schedule(r, p4_ratelimit_reserve(&k->rl, uv_now(k->loop)));
    return 0;
}

int p4_kube_get_bytes(struct p4_kube *k, const char *path, size_t max_body, p4_kube_cb cb,
                      void *data)
{
    struct kreq *r = new_kreq(k, "GET", path, NULL, NULL, 0, 1, cb, data);

    if (r == NULL)
        return P4_ERR_INVAL;
    r->accept = p4_strdup("*/*"); /* a log is text/plain, negotiated only for any type */
    r->max_body = max_body;
    enqueue(r);
    return 0;
}

int p4_kube_as(struct p4_kube *k, const char *user, struct p4_kube **out)
{
    struct p4_kube *v;
    size_t n = user ? strlen(user) : 0;

    if (k == NULL || out == NULL || n == 0 || n > P4_KUBE_USER_MAX)
        return P4_ERR_INVAL;
    for (size_t i = 0; i < n; i++) /* a header value: no control bytes, no newline */
        if ((unsigned char)user[i] < 0x20 || (unsigned char)user[i] >= 0x7f)
            return P4_ERR_INVAL;
    v = p4_calloc(1, sizeof(*v));
    v->base = k->base ? k->base : k;
    v->loop = v->base->loop;
    v->as = p4_strdup(user);
    *out = v;
    return 0;
}

const char *p4_kube_user(const struct p4_kube *k)
{
    return k ? k->as : NULL;
}

uv_loop_t *p4_kube_loop(const struct p4_kube *k)
{
    return k->loop;
}

/* --- watches ------------------------------------------------------------------ */

static void on_frame_event(enum p4_watch_type type, cJSON *object, void *data)
{
    struct p4_kube_watch *w = data;

    if (type == P4_WATCH_ERROR) {
        struct p4_apistatus st;
        (void)p4_apistatus_from_json(object, &st);
        if (w->end_rc == 0) {
            w->end_rc = st.code ? st.code : P4_ERR_INTERNAL;
            (void)p4_apistatus_to_error(&st, &w->end_err);
        }
        p4_apistatus_close(&st);
        cJSON_Delete(object);
        return;
    }
    if (w->end_rc != 0) {
        cJSON_Delete(object);
        return;
    }
    w->on_event(type, object, w->data);
}

static void on_frame_unreadable(enum p4_watch_type type, const char *object, size_t len,
                                const struct p4_error *why, void *data)
{
    struct p4_kube_watch *w = data;

    if (w->end_rc == 0)
        w->on_unreadable(type, object, len, why, w->data);
}

static bool on_frame_keep(const char *object, size_t len, void *data)
{
    const struct p4_kube_watch *w = data;

    return w->keep(object, len, w->data);
}

void p4_kube_watch_keep(struct p4_kube_watch *w, p4_kube_keep_cb keep)
{
    w->keep = keep;
    w->frame.keep = keep ? on_frame_keep : NULL;
}

static int on_watch_data(const char *chunk, size_t len, long status, void *data)
{
    struct p4_kube_watch *w = data;

    w->status = status;
    if (status != 200) {
        size_t n = len;
        if (w->err_len + n > ERROR_BODY_MAX)
            n = ERROR_BODY_MAX - w->err_len;
        w->err_body = p4_realloc(w->err_body, w->err_len + n + 1);
        memcpy(w->err_body + w->err_len, chunk, n);
        w->err_len += n;
        w->err_body[w->err_len] = '\0';
        return 0;
    }
    if (p4_watchframe_feed(&w->frame, chunk, len, on_frame_event, w) != 0)
        p4_log(P4_LOG_WARN, "skipped a malformed watch event", "error", w->frame.error.message,
               P4_LOG_END);
    /* An ERROR event ends the watch: stop reading. */
    return w->end_rc != 0;
}

static void free_watch(struct p4_kube_watch *w)
{
    p4_watchframe_close(&w->frame);
    free(w->err_body);
    free(w->url);
    free(w->as);
    free(w);
}

static void end_watch(struct p4_kube_watch *w, int rc, const struct p4_error *err)
{
    w->on_end(rc, err, w->data);
    free_watch(w);
}

static void on_watch_done(int rc, const struct p4_http_response *resp, void *data)
{
    struct p4_kube_watch *w = data;
    struct p4_error err;

    p4_error_clear(&err);
    count(w->k, P4_VERB_WATCH, rc == 0 || w->end_rc ? resp->status : 0);
    if (w->end_rc != 0) {
        rc = w->end_rc;
        err = w->end_err;
    } else if (rc == 0 && resp->status == 200) {
        /* The server closed the watch (its timeout): the caller resumes. */
    } else if (rc == 0) {
        struct p4_apistatus st;
        (void)p4_apistatus_decode(resp->status, w->err_body, w->err_len, resp->retry_after, &st);
        rc = p4_apistatus_to_error(&st, &err);
        if (rc == 0)
            rc = P4_ERR_INTERNAL;
        p4_apistatus_close(&st);
    } else if (rc == P4_ERR_CANCELED) {
        p4_error_set(&err, rc, "the watch was stopped");
    } else {
        p4_error_set(&err, rc, "the watch broke: %s: %s", p4_strerror(rc),
                     resp->error ? resp->error : "no detail");
    }
    end_watch(w, rc, &err);
}

/* Start the HTTP stream; returns 0 or the error (then nothing was started). */
static int start_watch_http(struct p4_kube_watch *w, const struct p4_credential *cred)
{
    struct p4_kube *k = w->k;
    char *auth = auth_header(cred ? cred->token : bearer(k));
    char as[P4_KUBE_USER_MAX + 32];
    const char *headers[4];
    struct p4_http_opts o = {0};
    struct p4_http_tls tls = tls_with(k, cred);
    size_t n = 0;
    int rc;

    headers[n++] = "Accept: application/json";
    add_identity(headers, n, auth, w->as, as, sizeof(as));
    o.method = "GET";
    o.url = w->url;
    o.headers = headers;
    o.tls = &tls;
    o.connect_to = k->connect_to;
    o.on_data = on_watch_data;
    o.on_done = on_watch_done;
    o.data = w;
    rc = p4_http_start(k->http, &o, &w->http);
    p4_wipe_free_str(auth);
    return rc;
}

static void on_watch_credential(int rc, const struct p4_credential *cred,
                                const struct p4_error *err, void *data)
{
    struct p4_kube_watch *w = data;

    if (w->canceled) {
        struct p4_error e;
        p4_error_set(&e, P4_ERR_CANCELED, "the watch was stopped");
        end_watch(w, P4_ERR_CANCELED, &e);
    } else if (rc != 0) {
        end_watch(w, rc, err);
    } else if ((rc = start_watch_http(w, cred)) != 0) {
        struct p4_error e;
        p4_error_set(&e, rc, "cannot start the watch: %s", p4_strerror(rc));
        end_watch(w, rc, &e);
    }
}

int p4_kube_watch(struct p4_kube *k, const char *path, const char *resource_version,
                  long timeout_seconds, p4_kube_event_cb on_event,
                  p4_kube_unreadable_cb on_unreadable, p4_kube_watch_end_cb on_end, void *data,
                  struct p4_kube_watch **out)
{
    struct p4_kube_watch *w;
    char rv[128] = "";
    size_t ulen;
    int rc;

    if (k == NULL || path == NULL || on_event == NULL || on_end == NULL)
        return P4_ERR_INVAL;
    if (resource_version && resource_version[0] &&
        p4_kube_escape(resource_version, rv, sizeof(rv)) != 0)
        return P4_ERR_INVAL;
    w = p4_calloc(1, sizeof(*w));
    w->as = p4_strdup_or_null(k->as);
    if (k->base)
        k = k->base;
    w->k = k;
    w->on_event = on_event;
    w->on_unreadable = on_unreadable;
    w->on_end = on_end;
    w->data = data;
    p4_watchframe_init(&w->frame);
    if (on_unreadable != NULL)
        w->frame.on_unreadable = on_frame_unreadable;
    ulen = strlen(k->server) + strlen(path) + sizeof(rv) + 128;
    w->url = p4_malloc(ulen);
    (void)snprintf(w->url, ulen, "%s%s%cwatch=1&allowWatchBookmarks=true&timeoutSeconds=%ld%s%s",
                   k->server, path, strchr(path, '?') ? '&' : '?',
                   timeout_seconds > 0 ? timeout_seconds : 300, rv[0] ? "&resourceVersion=" : "",
                   rv);
    if (k->exec)
        rc = p4_execcred_get(k->exec, on_watch_credential, w) != 0 ? P4_ERR_CANCELED : 0;
    else
        rc = start_watch_http(w, NULL); /* on_end can only come later, from the loop */
    if (rc != 0) {
        free_watch(w);
        return rc;
    }
    k->stats.watch_starts++;
    if (out)
        *out = w;
    return 0;
}

void p4_kube_watch_cancel(struct p4_kube_watch *w)
{
    if (w == NULL)
        return;
    w->canceled = 1;
    if (w->http)
        p4_http_cancel(w->http); /* else the credential callback ends it */
}
