/* helmrun.c: helm run as a child process on the loop (see helmrun.h). */
#include "phase4/stages/helm/helmrun.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "phase4/core/alloc.h"
#include "phase4/core/buf.h"

/* The environment helm gets besides the caller's additions, in the order start() builds it. */
static const char *const reserved_env[] = {"PATH", "HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME",
                                           "HELM_DATA_HOME"};
#define FIXED_ENV (sizeof(reserved_env) / sizeof(reserved_env[0]))

struct p4_helmrun {
    p4_helmrun_cb cb;
    void *data;
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t limit;
    int open;      /* handles not yet closed */
    bool exited;   /* helm has been reaped */
    bool out_done; /* stdout reached EOF (or was given up on) */
    bool err_done;
    bool delivered; /* cb has been called */
    bool closing;   /* handles are closing */
    int kill_step;  /* 0: none, 1: SIGTERM sent, 2: SIGKILL sent (or canceled) */
    uint64_t grace_ms;
    size_t out_max, err_max;
    struct p4_buf outb, errb;
    struct p4_helmrun_result res;
    char chunk[64 * 1024]; /* read buffer: libuv reads one stream at a time */
};

static void on_closed(uv_handle_t *h)
{
    struct p4_helmrun *r = h->data;

    if (--r->open == 0) {
        free(r->outb.data);
        free(r->errb.data);
        free(r);
    }
}

static void close_all(struct p4_helmrun *r)
{
    if (r->closing)
        return;
    r->closing = true;
    uv_close((uv_handle_t *)&r->proc, on_closed);
    uv_close((uv_handle_t *)&r->out, on_closed);
    uv_close((uv_handle_t *)&r->err, on_closed);
    uv_close((uv_handle_t *)&r->limit, on_closed);
}

static void fill_result(struct p4_helmrun *r)
{
    r->res.out = r->outb.data ? r->outb.data : "";
    r->res.out_len = r->outb.len;
    r->res.err = r->errb.data ? r->errb.data : "";
    r->res.err_len = r->errb.len;
}

/* Helm exited and both pipes are done: call back (unless canceled) and close. */
static void maybe_finish(struct p4_helmrun *r)
{
    if (!r->exited || !r->out_done || !r->err_done)
        return;
    (void)uv_timer_stop(&r->limit);
    if (!r->delivered) {
        r->delivered = true;
        fill_result(r);
        r->cb(0, &r->res, NULL, r->data);
    }
    close_all(r);
}

/*
 * Signal helm's process group (it runs in a session of its own), so whatever
 * it started dies with it and lets go of the pipes. The group id cannot be
 * reused while any member lives, and a group with no member left gives ESRCH.
 */
static void kill_group(struct p4_helmrun *r, int sig)
{
    if (r->res.pid <= 0)
        return;
    if (kill(-r->res.pid, sig) != 0 && !r->exited)
        (void)uv_process_kill(&r->proc, sig);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int signal)
{
    struct p4_helmrun *r = proc->data;

    r->res.exit_status = status;
    r->res.term_signal = signal;
    r->exited = true;
    maybe_finish(r);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct p4_helmrun *r = h->data;

    (void)suggested;
    buf->base = r->chunk;
    buf->len = sizeof(r->chunk);
}

static void keep(struct p4_buf *b, size_t max, bool *truncated, const char *s, size_t n)
{
    size_t room = max > b->len ? max - b->len : 0;

    if (n > room) {
        n = room;
        *truncated = true;
    }
    if (n > 0)
        p4_buf_append(b, s, n);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct p4_helmrun *r = s->data;
    bool is_out = s == (uv_stream_t *)&r->out;

    if (n > 0) {
        if (is_out)
            keep(&r->outb, r->out_max, &r->res.out_truncated, buf->base, (size_t)n);
        else
            keep(&r->errb, r->err_max, &r->res.err_truncated, buf->base, (size_t)n);
        return;
    }
    if (n == 0)
        return; /* EAGAIN */
    (void)uv_read_stop(s);
    if (is_out)
        r->out_done = true;
    else
        r->err_done = true;
    maybe_finish(r);
}

/* The time limit, then each grace period after it. */
static void on_limit(uv_timer_t *t)
{
    struct p4_helmrun *r = t->data;

    if (r->kill_step == 0) {
        r->res.timed_out = true;
        r->kill_step = 1;
        kill_group(r, SIGTERM);
        (void)uv_timer_start(&r->limit, on_limit, r->grace_ms, 0);
    } else if (r->kill_step == 1) {
        r->kill_step = 2;
        kill_group(r, SIGKILL);
        (void)uv_timer_start(&r->limit, on_limit, r->grace_ms, 0);
    } else {
        /* Something outside the group still holds a pipe: stop waiting for its EOF. */
        (void)uv_read_stop((uv_stream_t *)&r->out);
        (void)uv_read_stop((uv_stream_t *)&r->err);
        r->out_done = r->err_done = true;
        maybe_finish(r); /* still waits for helm itself to be reaped */
    }
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

/*
 * stdin as an in-memory file rather than a pipe: no SIGPIPE and no write
 * pump when helm stops reading early, and the values never touch disk.
 * Returns the fd (close-on-exec; the child gets it as fd 0) or -errno.
 */
static int stdin_file(const char *data, size_t len)
{
    int fd = memfd_create("helm-stdin", MFD_CLOEXEC);
    size_t done = 0;

    if (fd < 0)
        return -errno;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;

            (void)close(fd);
            return -e;
        }
        done += (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        int e = errno;

        (void)close(fd);
        return -e;
    }
    return fd;
}

int p4_helmrun_start(uv_loop_t *loop, const struct p4_helmrun_options *opts, p4_helmrun_cb cb,
                     void *data, struct p4_helmrun **run, struct p4_error *err)
{
    struct p4_helmrun *r = NULL;
    uv_process_options_t o;
    uv_stdio_container_t stdio[3];
    char **argv = NULL, **env = NULL;
    size_t nargs = 0, nenv = 0, i;
    int stdin_fd = -1, rc;

    if (run != NULL)
        *run = NULL;
    if (loop == NULL || opts == NULL || cb == NULL)
        return p4_error_set(err, P4_ERR_INVAL, "helmrun needs a loop, options and a callback");
    rc = check_options(opts, err);
    if (rc != 0)
        return rc;
    if (opts->stdin_data != NULL) {
        stdin_fd = stdin_file(opts->stdin_data, opts->stdin_len);
        if (stdin_fd < 0)
            return p4_error_set(err, P4_ERR_IO, "cannot prepare helm's stdin: %s",
                                strerror(-stdin_fd));
    }

    for (const char *const *a = opts->argv; a != NULL && *a != NULL; a++)
        nargs++;
    for (const char *const *e = opts->env; e != NULL && *e != NULL; e++)
        nenv++;
    /* uv_spawn is done with argv and env when it returns: they live for this call only. */
    argv = p4_calloc(nargs + 2, sizeof(*argv));
    argv[0] = (char *)opts->helm;
    for (i = 0; i < nargs; i++)
        argv[i + 1] = (char *)opts->argv[i];
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
    r->grace_ms = opts->kill_grace_ms ? opts->kill_grace_ms : P4_HELMRUN_KILL_GRACE_MS;
    r->out_max = opts->stdout_max ? opts->stdout_max : P4_HELMRUN_STDOUT_MAX;
    r->err_max = opts->stderr_max ? opts->stderr_max : P4_HELMRUN_STDERR_MAX;
    r->res.timeout_ms = opts->timeout_ms ? opts->timeout_ms : P4_HELMRUN_TIMEOUT_MS;
    (void)uv_pipe_init(loop, &r->out, 0);
    (void)uv_pipe_init(loop, &r->err, 0);
    (void)uv_timer_init(loop, &r->limit);
    r->proc.data = r->out.data = r->err.data = r->limit.data = r;
    r->open = 4;

    memset(&o, 0, sizeof(o));
    if (stdin_fd >= 0) {
        stdio[0].flags = UV_INHERIT_FD;
        stdio[0].data.fd = stdin_fd;
    } else {
        stdio[0].flags = UV_IGNORE; /* libuv gives the child /dev/null */
    }
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&r->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&r->err;
    o.file = opts->helm;
    o.args = argv;
    o.env = env;
    o.cwd = opts->cwd;
    o.flags = UV_PROCESS_DETACHED; /* setsid(): its own process group, killed as one */
    o.exit_cb = on_exit_cb;
    o.stdio_count = 3;
    o.stdio = stdio;
    rc = uv_spawn(loop, &r->proc, &o);
    if (rc != 0) {
        p4_error_set(err, P4_ERR_IO, "cannot run helm \"%.200s\"%s%.200s: %s", opts->helm,
                     opts->cwd ? " in " : "", opts->cwd ? opts->cwd : "", uv_strerror(rc));
        rc = P4_ERR_IO;
        r->delivered = true;
        close_all(r); /* frees r on the loop; cb is never called */
        r = NULL;
        goto out;
    }
    r->res.pid = r->proc.pid;
    (void)uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
    (void)uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read);
    (void)uv_timer_start(&r->limit, on_limit, r->res.timeout_ms, 0);
    if (run != NULL)
        *run = r;
out:
    if (stdin_fd >= 0)
        (void)close(stdin_fd);
    for (i = 0; i < FIXED_ENV; i++)
        free(env[i]);
    free(env);
    free(argv);
    return rc;
}

void p4_helmrun_cancel(struct p4_helmrun *r)
{
    struct p4_error err;

    if (r == NULL || r->delivered)
        return;
    r->delivered = true;
    kill_group(r, SIGKILL);
    /* Reap and drain on the loop; give up on pipes after a grace (see on_limit). */
    r->kill_step = 2;
    (void)uv_timer_start(&r->limit, on_limit, r->grace_ms, 0);
    fill_result(r);
    p4_error_set(&err, P4_ERR_CANCELED, "the helm run was canceled");
    r->cb(P4_ERR_CANCELED, &r->res, &err, r->data);
}
