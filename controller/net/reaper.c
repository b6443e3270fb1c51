/* reaper.c: orphaned children reaped for a PID 1 operator (see reaper.h). */
#include "phase4/net/reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phase4/core/alloc.h"
#include "phase4/core/log.h"

struct p4_reaper {
    uv_signal_t sigchld;
    uint64_t reaped;
};

bool p4_reaper_parse_stat(const char *buf, size_t len, char *state, long *ppid)
{
    size_t i, close = len;
    long v = 0;

    if (buf == NULL || state == NULL || ppid == NULL)
        return false;
    for (i = len; i > 0; i--) {
        if (buf[i - 1] == ')') {
            close = i - 1;
            break;
        }
    }
    /* ") S ppid": the state letter and at least one digit of the parent's pid. */
    if (close == len || len - close < 5 || buf[close + 1] != ' ' || buf[close + 3] != ' ')
        return false;
    if (buf[close + 2] < 'A' || buf[close + 2] > 'z')
        return false;
    i = close + 4;
    if (i >= len || buf[i] < '0' || buf[i] > '9')
        return false;
    for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
        if (v > (long)(INT32_MAX / 10))
            return false; /* no pid is that large */
        v = v * 10 + (buf[i] - '0');
    }
    if (i < len && buf[i] != ' ' && buf[i] != '\n')
        return false;
    *state = buf[close + 2];
    *ppid = v;
    return true;
}

struct find {
    long pid;
    bool found;
};

static void find_process(uv_handle_t *h, void *arg)
{
    struct find *f = arg;

    if (h->type == UV_PROCESS && !uv_is_closing(h) && ((uv_process_t *)h)->pid == f->pid)
        f->found = true;
}

/* A pid libuv is waiting for: a live process handle on the loop. */
static bool spawned_by_loop(uv_loop_t *loop, long pid)
{
    struct find f = {.pid = pid};

    uv_walk(loop, find_process, &f);
    return f.found;
}

/* true when /proc/<name>/stat says a zombie whose parent is self. */
static bool zombie_child(const char *name, long self)
{
    char path[64], buf[1024], state;
    ssize_t n;
    long ppid;
    int fd;

    if (snprintf(path, sizeof(path), "/proc/%s/stat", name) >= (int)sizeof(path))
        return false;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false; /* gone meanwhile */
    do
        n = read(fd, buf, sizeof(buf));
    while (n < 0 && errno == EINTR);
    (void)close(fd);
    return n > 0 && p4_reaper_parse_stat(buf, (size_t)n, &state, &ppid) && state == 'Z' &&
           ppid == self;
}

static void reap(struct p4_reaper *r)
{
    uv_loop_t *loop = r->sigchld.loop;
    long self = (long)getpid();
    struct dirent *e;
    DIR *d = opendir("/proc");

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid;

        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        errno = 0;
        pid = strtol(e->d_name, &end, 10);
        if (errno != 0 || *end != '\0' || pid <= 0 || pid > INT32_MAX)
            continue;
        if (!zombie_child(e->d_name, self) || spawned_by_loop(loop, pid))
            continue;
        /* Only this process can wait for its zombie, so the pid is still that process's. */
        if (waitpid((pid_t)pid, NULL, WNOHANG) == (pid_t)pid) {
            r->reaped++;
            p4_log(P4_LOG_DEBUG, "reaped an orphaned process", "pid", e->d_name, P4_LOG_END);
        }
    }
    (void)closedir(d);
}

static void on_sigchld(uv_signal_t *s, int signum)
{
    (void)signum;
    reap(s->data);
}

int p4_reaper_start(uv_loop_t *loop, struct p4_reaper **reaper, struct p4_error *err)
{
    struct p4_reaper *r;
    int rc;

    if (reaper != NULL)
        *reaper = NULL;
    if (loop == NULL || reaper == NULL)
        return p4_error_set(err, P4_ERR_INVAL, "the reaper needs a loop and a place for itself");
    r = p4_calloc(1, sizeof(*r));
    (void)uv_signal_init(loop, &r->sigchld);
    r->sigchld.data = r;
    rc = uv_signal_start(&r->sigchld, on_sigchld, SIGCHLD);
    if (rc != 0) {
        p4_reaper_close(r);
        return p4_error_set(err, P4_ERR_IO, "cannot watch SIGCHLD to reap orphaned processes: %s",
                            uv_strerror(rc));
    }
    reap(r); /* orphans from before the start */
    *reaper = r;
    return 0;
}

uint64_t p4_reaper_reaped(const struct p4_reaper *r)
{
    return r != NULL ? r->reaped : 0;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void p4_reaper_close(struct p4_reaper *r)
{
    if (r == NULL)
        return;
    uv_close((uv_handle_t *)&r->sigchld, on_closed);
}
