/* childproc.c: one child process on the loop, with a time limit (see childproc.h). */
#include "phase4/net/childproc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "phase4/core/alloc.h"

/* Captured output: grown by copying, so no byte of it is left behind unwiped by realloc. */
struct capture {
    char *data; /* NULL until something is kept */
    size_t len, cap, max;
    bool truncated;
};

struct p4_childproc {
    p4_childproc_cb cb;
    void *data;
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t limit;
    int open;      /* handles not yet closed */
    bool exited;   /* the child has been reaped */
    bool out_done; /* stdout reached EOF (or was given up on) */
    bool err_done;
    bool delivered; /* cb has been called */
    bool closing;   /* handles are closing */
    int kill_step;  /* 0: none, 1: SIGTERM sent, 2: SIGKILL sent (or canceled) */
    uint64_t grace_ms, drain_ms;
    int stdin_fd; /* the in-memory file behind stdin, or -1; wiped and closed at the end */
    size_t stdin_len;
    struct capture outc, errc;
    struct p4_childproc_result res;
    size_t chunk_used;     /* the most of chunk any read filled, to wipe */
    char chunk[64 * 1024]; /* read buffer: libuv reads one stream at a time */
};

/* Overwrite the stdin file with zeros: its pages would otherwise go back to the kernel as is. */
static void wipe_stdin(struct p4_childproc *r)
{
    void *map;

    if (r->stdin_fd < 0)
        return;
    if (r->stdin_len > 0) {
        map = mmap(NULL, r->stdin_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->stdin_fd, 0);
        if (map != MAP_FAILED) {
            p4_wipe(map, r->stdin_len);
            (void)munmap(map, r->stdin_len);
        }
    }
    (void)close(r->stdin_fd);
    r->stdin_fd = -1;
}

static void on_closed(uv_handle_t *h)
{
    struct p4_childproc *r = h->data;

    if (--r->open > 0)
        return;
    wipe_stdin(r);
    p4_wipe_free(r->outc.data, r->outc.len);
    p4_wipe_free(r->errc.data, r->errc.len);
    p4_wipe(r->chunk, r->chunk_used);
    free(r);
}

static void close_all(struct p4_childproc *r)
{
    if (r->closing)
        return;
    r->closing = true;
    uv_close((uv_handle_t *)&r->proc, on_closed);
    uv_close((uv_handle_t *)&r->out, on_closed);
    uv_close((uv_handle_t *)&r->err, on_closed);
    uv_close((uv_handle_t *)&r->limit, on_closed);
}

static void fill_result(struct p4_childproc *r)
{
    r->res.out = r->outc.data ? r->outc.data : "";
    r->res.out_len = r->outc.len;
    r->res.out_truncated = r->outc.truncated;
    r->res.err = r->errc.data ? r->errc.data : "";
    r->res.err_len = r->errc.len;
    r->res.err_truncated = r->errc.truncated;
}

/* The child exited and both pipes are done: call back (unless canceled) and close. */
static void maybe_finish(struct p4_childproc *r)
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
 * Signal the child's process group (it runs in a session of its own), so
 * whatever it started dies with it and lets go of the pipes. The group id
 * cannot be reused while any member lives, and a group with no member left
 * gives ESRCH.
 */
static void kill_group(struct p4_childproc *r, int sig)
{
    if (r->res.pid <= 0)
        return;
    if (kill(-r->res.pid, sig) != 0 && !r->exited)
        (void)uv_process_kill(&r->proc, sig);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int signal)
{
    struct p4_childproc *r = proc->data;

    r->res.exit_status = status;
    r->res.term_signal = signal;
    r->exited = true;
    maybe_finish(r);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct p4_childproc *r = h->data;

    (void)suggested;
    buf->base = r->chunk;
    buf->len = sizeof(r->chunk);
}

static void keep(struct capture *c, const char *s, size_t n)
{
    size_t room = c->max > c->len ? c->max - c->len : 0;
    char *grown;

    if (n > room) {
        n = room;
        c->truncated = true;
    }
    if (n == 0)
        return;
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;

        while (cap < c->len + n + 1)
            cap *= 2;
        if (c->max < SIZE_MAX && cap > c->max + 1)
            cap = c->max + 1;
        grown = p4_malloc(cap);
        if (c->len > 0)
            memcpy(grown, c->data, c->len);
        p4_wipe_free(c->data, c->len);
        c->data = grown;
        c->cap = cap;
    }
    memcpy(c->data + c->len, s, n);
    c->len += n;
    c->data[c->len] = '\0';
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct p4_childproc *r = s->data;
    bool is_out = s == (uv_stream_t *)&r->out;

    if (n > 0) {
        if ((size_t)n > r->chunk_used)
            r->chunk_used = (size_t)n;
        keep(is_out ? &r->outc : &r->errc, buf->base, (size_t)n);
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

/* The time limit, then the grace period after SIGTERM, then the wait for the pipes. */
static void on_limit(uv_timer_t *t)
{
    struct p4_childproc *r = t->data;

    if (r->kill_step == 0) {
        r->res.timed_out = true;
        if (r->grace_ms > 0) {
            r->kill_step = 1;
            kill_group(r, SIGTERM);
            (void)uv_timer_start(&r->limit, on_limit, r->grace_ms, 0);
            return;
        }
    }
    if (r->kill_step < 2) {
        r->kill_step = 2;
        kill_group(r, SIGKILL);
        (void)uv_timer_start(&r->limit, on_limit, r->drain_ms, 0);
        return;
    }
    /* Something outside the group still holds a pipe: stop waiting for its EOF. */
    (void)uv_read_stop((uv_stream_t *)&r->out);
    (void)uv_read_stop((uv_stream_t *)&r->err);
    r->out_done = r->err_done = true;
    maybe_finish(r); /* still waits for the child itself to be reaped */
}

/*
 * stdin as an in-memory file rather than a pipe: no SIGPIPE and no write
 * pump when the child stops reading early, and the bytes never touch disk.
 * Returns the fd (close-on-exec; the child gets it as fd 0) or -errno.
 */
static int stdin_file(const char *data, size_t len)
{
    int fd = memfd_create("p4-childproc-stdin", MFD_CLOEXEC);
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

static int check_options(uv_loop_t *loop, const struct p4_childproc_options *o, p4_childproc_cb cb,
                         struct p4_error *err)
{
    if (loop == NULL || o == NULL || cb == NULL)
        return p4_error_set(err, P4_ERR_INVAL, "childproc needs a loop, options and a callback");
    if (o->file == NULL || o->file[0] == '\0' || o->argv == NULL || o->argv[0] == NULL)
        return p4_error_set(err, P4_ERR_INVAL, "a child process needs a program and its argv");
    if (o->env == NULL)
        return p4_error_set(err, P4_ERR_INVAL, "a child process needs its whole environment");
    if (o->timeout_ms == 0)
        return p4_error_set(err, P4_ERR_INVAL, "a child process needs a time limit");
    return 0;
}

int p4_childproc_start(uv_loop_t *loop, const struct p4_childproc_options *opts, p4_childproc_cb cb,
                       void *data, struct p4_childproc **run, struct p4_error *err)
{
    const char *what = opts != NULL && opts->what != NULL ? opts->what : "the program";
    struct p4_childproc *r;
    uv_process_options_t o;
    uv_stdio_container_t stdio[3];
    int stdin_fd = -1, rc;

    if (run != NULL)
        *run = NULL;
    rc = check_options(loop, opts, cb, err);
    if (rc != 0)
        return rc;

    if (opts->stdin_data != NULL) {
        stdin_fd = stdin_file(opts->stdin_data, opts->stdin_len);
        if (stdin_fd < 0)
            return p4_error_set(err, P4_ERR_IO, "cannot prepare %s's stdin: %s", what,
                                strerror(-stdin_fd));
    }

    r = p4_calloc(1, sizeof(*r));
    r->cb = cb;
    r->data = data;
    r->stdin_fd = stdin_fd; /* from here on the run closes it */
    r->stdin_len = stdin_fd >= 0 ? opts->stdin_len : 0;
    r->grace_ms = opts->kill_grace_ms;
    r->drain_ms = opts->drain_ms ? opts->drain_ms : P4_CHILDPROC_DRAIN_MS;
    r->outc.max = opts->stdout_max ? opts->stdout_max : P4_CHILDPROC_STDOUT_MAX;
    r->errc.max = opts->stderr_max ? opts->stderr_max : P4_CHILDPROC_STDERR_MAX;
    (void)uv_pipe_init(loop, &r->out, 0);
    (void)uv_pipe_init(loop, &r->err, 0);
    (void)uv_timer_init(loop, &r->limit);
    r->proc.data = r->out.data = r->err.data = r->limit.data = r;
    r->open = 4;

    memset(&o, 0, sizeof(o));
    if (r->stdin_fd >= 0) {
        stdio[0].flags = UV_INHERIT_FD;
        stdio[0].data.fd = r->stdin_fd;
    } else {
        stdio[0].flags = UV_IGNORE; /* libuv gives the child /dev/null */
    }
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&r->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&r->err;
    o.file = opts->file;
    /* uv_spawn is done with argv and env when it returns: they are borrowed for this call. */
    o.args = (char **)opts->argv;
    o.env = (char **)opts->env;
    o.cwd = opts->cwd;
    o.flags = UV_PROCESS_DETACHED; /* setsid(): its own process group, killed as one */
    o.exit_cb = on_exit_cb;
    o.stdio_count = 3;
    o.stdio = stdio;
    rc = uv_spawn(loop, &r->proc, &o);
    if (rc != 0) {
        p4_error_set(err, P4_ERR_IO, "cannot run %s \"%.200s\"%s%.200s: %s", what, opts->file,
                     opts->cwd ? " in " : "", opts->cwd ? opts->cwd : "", uv_strerror(rc));
        r->delivered = true;
        close_all(r); /* frees r on the loop; cb is never called */
        return P4_ERR_IO;
    }
    r->res.pid = r->proc.pid;
    r->res.timeout_ms = opts->timeout_ms;
    (void)uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
    (void)uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read);
    (void)uv_timer_start(&r->limit, on_limit, opts->timeout_ms, 0);
    if (run != NULL)
        *run = r;
    return 0;
}

void p4_childproc_cancel(struct p4_childproc *r)
{
    struct p4_error err;

    if (r == NULL || r->delivered)
        return;
    r->delivered = true;
    kill_group(r, SIGKILL);
    /* Reap and drain on the loop; give up on the pipes after drain_ms (see on_limit). */
    r->kill_step = 2;
    (void)uv_timer_start(&r->limit, on_limit, r->drain_ms, 0);
    fill_result(r);
    p4_error_set(&err, P4_ERR_CANCELED, "the child process was canceled");
    r->cb(P4_ERR_CANCELED, &r->res, &err, r->data);
}
