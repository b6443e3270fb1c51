/* execcred.c: exec credential plugins run on the loop (see execcred.h). */
#include "execcred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/timefmt.h"
#include "phase4/net/childproc.h"

#define STDOUT_MAX (1u << 20)
#define STDERR_MAX 4096
#define RUN_LIMIT_MS 60000
#define EXPIRY_MARGIN_SECONDS 10

extern char **environ;

struct waiter {
    p4_execcred_cb cb;
    void *data;
    struct waiter *next;
};

struct p4_execcred {
    uv_loop_t *loop;
    char *command, *api_version, *install_hint, *server;
    char **args, **env;
    size_t nargs, nenv;
    int cluster_info;
    struct p4_credential cred;
    int have;
    struct waiter *waiters;
    struct p4_childproc *run; /* the plugin running now, or NULL */
    uv_timer_t defer;         /* delivers a cached credential on a later loop turn */
    int closing;
};

void p4_credential_close(struct p4_credential *c)
{
    if (c == NULL)
        return;
    p4_wipe_free_str(c->token);
    p4_wipe_free(c->key_pem, c->key_len);
    free(c->cert_pem);
    memset(c, 0, sizeof(*c));
}

int p4_execcred_parse(const char *json, size_t len, const char *api_version,
                      struct p4_credential *cred, struct p4_error *err)
{
    cJSON *doc;
    const char *v, *token, *cert, *key, *exp;
    struct p4_error perr;
    int rc = 0;

    memset(cred, 0, sizeof(*cred));
    doc = p4_json_parse(json, len, &perr);
    if (doc == NULL)
        return p4_error_set(err, P4_ERR_PARSE, "the exec plugin's output is not JSON: %s",
                            perr.message);
    v = p4_json_str(doc, "apiVersion");
    if (v == NULL || (api_version && strcmp(v, api_version) != 0)) {
        rc = p4_error_set(
            err, P4_ERR_INVAL,
            "the exec plugin answered apiVersion \"%s\", but the kubeconfig asks for \"%s\"",
            v ? v : "", api_version ? api_version : "");
        goto out;
    }
    v = p4_json_str(doc, "kind");
    if (v == NULL || strcmp(v, "ExecCredential") != 0) {
        rc = p4_error_set(err, P4_ERR_INVAL, "the exec plugin's output is not an ExecCredential");
        goto out;
    }
    token = p4_json_str(doc, "status.token");
    cert = p4_json_str(doc, "status.clientCertificateData");
    key = p4_json_str(doc, "status.clientKeyData");
    exp = p4_json_str(doc, "status.expirationTimestamp");
    if ((cert == NULL) != (key == NULL)) {
        rc = p4_error_set(err, P4_ERR_INVAL, "the exec plugin gave a client %s without its %s",
                          cert ? "certificate" : "key", cert ? "key" : "certificate");
        goto out;
    }
    if ((token == NULL || token[0] == '\0') && cert == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "the exec plugin gave neither a token nor a client certificate");
        goto out;
    }
    if (exp) {
        int64_t usec;

        if (p4_timefmt_parse(exp, &usec) != 0) {
            rc = p4_error_set(err, P4_ERR_INVAL,
                              "the exec plugin's expirationTimestamp \"%.64s\" is not RFC 3339",
                              exp);
            goto out;
        }
        cred->expires = (time_t)(usec / 1000000);
    }
    if (token && token[0])
        cred->token = p4_strdup(token);
    if (cert) {
        cred->cert_len = strlen(cert);
        cred->cert_pem = (unsigned char *)p4_strdup(cert);
        cred->key_len = strlen(key);
        cred->key_pem = (unsigned char *)p4_strdup(key);
    }
out:
    if (rc != 0)
        p4_credential_close(cred);
    cJSON_Delete(doc);
    return rc;
}

static char **copy_strv(char *const *v, size_t n)
{
    char **c = p4_calloc(n + 1, sizeof(*c));

    for (size_t i = 0; i < n; i++)
        c[i] = p4_strdup(v[i]);
    return c;
}

static void free_strv(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

struct p4_execcred *p4_execcred_new(uv_loop_t *loop, const struct p4_kube_exec *exec,
                                    const char *server)
{
    struct p4_execcred *ec = p4_calloc(1, sizeof(*ec));

    ec->loop = loop;
    ec->command = p4_strdup(exec->command);
    ec->api_version =
        p4_strdup(exec->api_version ? exec->api_version : "client.authentication.k8s.io/v1");
    ec->install_hint = p4_strdup_or_null(exec->install_hint);
    ec->server = p4_strdup(server ? server : "");
    ec->args = copy_strv(exec->args, exec->nargs);
    ec->nargs = exec->nargs;
    ec->env = copy_strv(exec->env, exec->nenv);
    ec->nenv = exec->nenv;
    ec->cluster_info = exec->provide_cluster_info;
    (void)uv_timer_init(loop, &ec->defer);
    ec->defer.data = ec;
    return ec;
}

/* Hand the result to every waiter. */
static void deliver(struct p4_execcred *ec, int rc, const struct p4_error *err)
{
    struct waiter *w = ec->waiters;

    ec->waiters = NULL;
    while (w) {
        struct waiter *next = w->next;
        w->cb(rc, rc == 0 ? &ec->cred : NULL, err, w->data);
        free(w);
        w = next;
    }
}

/* First line of the plugin's stderr, for a message (never its stdout: it holds the secret). */
static void stderr_line(const char *stderr_text, char *buf, size_t size)
{
    size_t n = strcspn(stderr_text, "\r\n");

    if (n >= size)
        n = size - 1;
    memcpy(buf, stderr_text, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] < ' ')
            buf[i] = ' ';
    }
}

static void on_run_done(int rc, const struct p4_childproc_result *res, const struct p4_error *cerr,
                        void *data)
{
    struct p4_execcred *ec = data;
    struct p4_error err;
    char line[256];

    (void)cerr;
    if (rc != 0)
        return; /* canceled by close, which tells the waiters itself */
    ec->run = NULL;
    p4_error_clear(&err);
    stderr_line(res->err, line, sizeof(line));
    if (res->timed_out) {
        rc = p4_error_set(&err, P4_ERR_TIMEOUT, "the exec plugin \"%s\" did not finish within %d s",
                          ec->command, RUN_LIMIT_MS / 1000);
    } else if (res->exit_status != 0 || res->term_signal != 0) {
        rc = p4_error_set(&err, P4_ERR_UNAUTHORIZED, "the exec plugin \"%s\" failed (%s %d)%s%s",
                          ec->command, res->term_signal ? "signal" : "exit status",
                          res->term_signal ? res->term_signal : (int)res->exit_status,
                          line[0] ? ": " : "", line);
    } else if (res->out_truncated) {
        rc = p4_error_set(&err, P4_ERR_TOOBIG, "the exec plugin \"%s\" wrote more than %u bytes",
                          ec->command, STDOUT_MAX);
    } else {
        p4_credential_close(&ec->cred);
        ec->have = 0;
        rc = p4_execcred_parse(res->out, res->out_len, ec->api_version, &ec->cred, &err);
        ec->have = rc == 0;
    }
    if (rc != 0)
        p4_log(P4_LOG_WARN, "exec credential plugin failed", "error", err.message, P4_LOG_END);
    deliver(ec, rc, &err);
}

static char *exec_info(const struct p4_execcred *ec)
{
    cJSON *o = cJSON_CreateObject(), *spec;
    char *s, *env;
    size_t n;

    cJSON_AddStringToObject(o, "apiVersion", ec->api_version);
    cJSON_AddStringToObject(o, "kind", "ExecCredential");
    spec = cJSON_AddObjectToObject(o, "spec");
    cJSON_AddBoolToObject(spec, "interactive", 0);
    if (ec->cluster_info) {
        cJSON *cluster = cJSON_AddObjectToObject(spec, "cluster");
        cJSON_AddStringToObject(cluster, "server", ec->server);
    }
    s = p4_json_print(o);
    cJSON_Delete(o);
    n = strlen(s) + sizeof("KUBERNETES_EXEC_INFO=");
    env = p4_malloc(n);
    (void)snprintf(env, n, "KUBERNETES_EXEC_INFO=%s", s);
    free(s);
    return env;
}

/*
 * Run the plugin with the operator's environment plus the kubeconfig's
 * entries and KUBERNETES_EXEC_INFO, as kubectl does. At the time limit its
 * process group gets SIGKILL at once: a plugin has nothing to save.
 */
static void spawn(struct p4_execcred *ec)
{
    const char **argv = p4_calloc(ec->nargs + 2, sizeof(*argv));
    const char **env;
    char *info = exec_info(ec);
    size_t nenv = 0, i;
    struct p4_childproc_options o;
    struct p4_error cerr, err;
    int rc;

    for (char **e = environ; e && *e; e++)
        nenv++;
    env = p4_calloc(nenv + ec->nenv + 2, sizeof(*env));
    for (i = 0; i < nenv; i++)
        env[i] = environ[i];
    for (size_t j = 0; j < ec->nenv; j++)
        env[i++] = ec->env[j];
    env[i] = info;
    argv[0] = ec->command;
    for (size_t j = 0; j < ec->nargs; j++)
        argv[j + 1] = ec->args[j];

    o = (struct p4_childproc_options){
        .what = "the exec plugin",
        .file = ec->command,
        .argv = argv,
        .env = env,
        .timeout_ms = RUN_LIMIT_MS,
        .kill_grace_ms = 0,
        .stdout_max = STDOUT_MAX,
        .stderr_max = STDERR_MAX,
    };
    rc = p4_childproc_start(ec->loop, &o, on_run_done, ec, &ec->run, &cerr);
    free(argv);
    free(env);
    free(info);
    if (rc != 0) {
        /* cerr: "cannot run the exec plugin \"<command>\": <cause>" */
        p4_error_set(&err, P4_ERR_UNAUTHORIZED, "%s%s%s", cerr.message,
                     ec->install_hint ? ". " : "", ec->install_hint ? ec->install_hint : "");
        p4_log(P4_LOG_WARN, "exec credential plugin failed", "error", err.message, P4_LOG_END);
        /* spawn runs from on_defer, a later loop turn than p4_execcred_get. */
        deliver(ec, P4_ERR_UNAUTHORIZED, &err);
    }
}

static int fresh(const struct p4_execcred *ec)
{
    return ec->have &&
           (ec->cred.expires == 0 || time(NULL) + EXPIRY_MARGIN_SECONDS < ec->cred.expires);
}

static void on_defer(uv_timer_t *t)
{
    struct p4_execcred *ec = t->data;

    if (ec->run)
        return; /* a run is going: it delivers */
    if (fresh(ec))
        deliver(ec, 0, NULL);
    else if (ec->waiters)
        spawn(ec);
}

int p4_execcred_get(struct p4_execcred *ec, p4_execcred_cb cb, void *data)
{
    struct waiter *w;

    if (ec == NULL || cb == NULL || ec->closing)
        return P4_ERR_INVAL;
    w = p4_calloc(1, sizeof(*w));
    w->cb = cb;
    w->data = data;
    w->next = ec->waiters;
    ec->waiters = w;
    /* Never call back inside get: the cached case and a spawn both start on the next turn. */
    if (ec->run == NULL)
        (void)uv_timer_start(&ec->defer, on_defer, 0, 0);
    return 0;
}

void p4_execcred_invalidate(struct p4_execcred *ec)
{
    if (ec == NULL)
        return;
    p4_credential_close(&ec->cred);
    ec->have = 0;
}

static void on_defer_closed(uv_handle_t *h)
{
    struct p4_execcred *ec = h->data;

    free(ec->command);
    free(ec->api_version);
    free(ec->install_hint);
    free(ec->server);
    free_strv(ec->args);
    free_strv(ec->env);
    p4_credential_close(&ec->cred);
    free(ec);
}

void p4_execcred_close(struct p4_execcred *ec)
{
    struct p4_error err;

    if (ec == NULL || ec->closing)
        return;
    ec->closing = 1;
    if (ec->run) {
        struct p4_childproc *run = ec->run;

        ec->run = NULL;
        p4_childproc_cancel(run); /* kills the plugin's group; on_run_done ignores it */
    }
    p4_error_set(&err, P4_ERR_CANCELED, "the client is shutting down");
    deliver(ec, P4_ERR_CANCELED, &err);
    uv_close((uv_handle_t *)&ec->defer, on_defer_closed);
}
