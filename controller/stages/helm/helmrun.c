/* helmrun.c: helm run as a child process on the loop (see helmrun.h), through childproc. */
#include "phase4/stages/helm/helmrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/net/childproc.h"

/* The environment helm gets besides the caller's additions, in the order start() builds it. */
static const char *const reserved_env[] = {"PATH", "HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME",
                                           "HELM_DATA_HOME"};
#define FIXED_ENV (sizeof(reserved_env) / sizeof(reserved_env[0]))

struct p4_helmrun {
    struct p4_childproc *proc;
    p4_helmrun_cb cb;
    void *data;
    bool delivered; /* cb has been called: cancel is a no-op */
};

/* The child is done (or canceled): hand its result on as helm's, then free the run. */
static void on_done(int rc, const struct p4_childproc_result *res, const struct p4_error *cerr,
                    void *data)
{
    struct p4_helmrun *r = data;
    struct p4_error err;

    r->delivered = true;
    if (rc == P4_ERR_CANCELED) {
        p4_error_set(&err, P4_ERR_CANCELED, "the helm run was canceled");
        cerr = &err;
    }
    r->cb(rc, res, rc != 0 ? cerr : NULL, r->data);
    free(r);
}

static int check_options(const struct p4_helmrun_options *o, struct p4_error *err)
{
    if (o->helm == NULL || o->helm[0] == '\0')
        return p4_error_set(err, P4_ERR_INVAL, "no helm binary was given");
    if (o->home == NULL || o->cache_home == NULL || o->config_home == NULL || o->data_home == NULL)
        return p4_error_set(
            err, P4_ERR_INVAL,
            "helm needs HOME, HELM_CACHE_HOME, HELM_CONFIG_HOME and HELM_DATA_HOME");
    for (const char *const *e = o->env; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');

        if (eq == NULL || eq == *e)
            return p4_error_set(err, P4_ERR_INVAL, "helm environment entry %zu is not NAME=value",
                                (size_t)(e - o->env));
        for (size_t i = 0; i < FIXED_ENV; i++) {
            size_t n = strlen(reserved_env[i]);

            if ((size_t)(eq - *e) == n && strncmp(*e, reserved_env[i], n) == 0)
                return p4_error_set(err, P4_ERR_INVAL,
                                    "helm environment entry %zu sets %s, which helmrun sets itself",
                                    (size_t)(e - o->env), reserved_env[i]);
        }
    }
    return 0;
}

static char *env_entry(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *s = p4_malloc(n);

    (void)snprintf(s, n, "%s=%s", name, value);
    return s;
}

int p4_helmrun_start(uv_loop_t *loop, const struct p4_helmrun_options *opts, p4_helmrun_cb cb,
                     void *data, struct p4_helmrun **run, struct p4_error *err)
{
    struct p4_helmrun *r = NULL;
    struct p4_childproc_options co;
    const char **argv = NULL;
    char **env = NULL;
    size_t nargs = 0, nenv = 0, i;
    uint64_t grace_ms;
    int rc;

    if (run != NULL)
        *run = NULL;
    if (loop == NULL || opts == NULL || cb == NULL)
        return p4_error_set(err, P4_ERR_INVAL, "helmrun needs a loop, options and a callback");
    rc = check_options(opts, err);
    if (rc != 0)
        return rc;

    for (const char *const *a = opts->argv; a != NULL && *a != NULL; a++)
        nargs++;
    for (const char *const *e = opts->env; e != NULL && *e != NULL; e++)
        nenv++;
    argv = p4_calloc(nargs + 2, sizeof(*argv));
    argv[0] = opts->helm;
    for (i = 0; i < nargs; i++)
        argv[i + 1] = opts->argv[i];
    env = p4_calloc(FIXED_ENV + nenv + 1, sizeof(*env));
    env[0] = env_entry("PATH", "/usr/bin:/bin");
    env[1] = env_entry("HOME", opts->home);
    env[2] = env_entry("HELM_CACHE_HOME", opts->cache_home);
    env[3] = env_entry("HELM_CONFIG_HOME", opts->config_home);
    env[4] = env_entry("HELM_DATA_HOME", opts->data_home);
    for (i = 0; i < nenv; i++)
        env[FIXED_ENV + i] = (char *)opts->env[i];

    r = p4_calloc(1, sizeof(*r));
    r->cb = cb;
    r->data = data;
    grace_ms = opts->kill_grace_ms ? opts->kill_grace_ms : P4_HELMRUN_KILL_GRACE_MS;
    co = (struct p4_childproc_options){
        .what = "helm",
        .file = opts->helm,
        .argv = argv,
        .env = (const char *const *)env,
        .cwd = opts->cwd,
        .stdin_data = opts->stdin_data,
        .stdin_len = opts->stdin_len,
        .timeout_ms = opts->timeout_ms ? opts->timeout_ms : P4_HELMRUN_TIMEOUT_MS,
        .kill_grace_ms = grace_ms,
        .drain_ms = grace_ms, /* after SIGKILL, the pipes get one more grace period */
        .stdout_max = opts->stdout_max ? opts->stdout_max : P4_HELMRUN_STDOUT_MAX,
        .stderr_max = opts->stderr_max ? opts->stderr_max : P4_HELMRUN_STDERR_MAX,
    };
    rc = p4_childproc_start(loop, &co, on_done, r, &r->proc, err);
    if (rc != 0) {
        free(r);
        goto out;
    }
    if (run != NULL)
        *run = r;
out:
    for (i = 0; i < FIXED_ENV; i++)
        free(env[i]);
    free(env);
    free(argv);
    return rc;
}

void p4_helmrun_cancel(struct p4_helmrun *r)
{
    if (r == NULL || r->delivered)
        return;
    p4_childproc_cancel(r->proc); /* calls on_done, which frees r, before it returns */
}
