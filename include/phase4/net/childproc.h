/*
 * childproc.h: one child process on the loop, with a time limit.
 *
 * The program is started with uv_spawn, never through a shell: argv is passed
 * as is and the environment is exactly the one the caller gives (nothing of
 * the operator's own leaks in unless the caller copies it). The child runs in
 * a session of its own, so at the time limit its whole process group is
 * signalled and whatever it started dies with it: SIGTERM, then SIGKILL after
 * a grace period (or SIGKILL at once when the grace is 0). Optional stdin
 * bytes reach the child through an in-memory file, never a file on disk and
 * never a pipe it could block on; the file is overwritten with zeros when the
 * run ends. stdout and stderr are captured through pipes up to a limit each;
 * past it the output is cut and marked truncated while the child is still
 * drained, so it never blocks on a full pipe. Captured output may hold a
 * secret (an exec plugin's token), so it is wiped before it is freed.
 *
 * helmrun (helm) and execcred (exec credential plugins) are the users; each
 * adds its own environment, limits and messages.
 *
 * Ownership: everything in the options is borrowed for the duration of
 * p4_childproc_start only. The result handed to the callback, and the output
 * in it, are borrowed for the duration of the callback. The run reaps the
 * child, closes every handle and frees itself after the callback; the caller
 * never frees it.
 */
#ifndef PHASE4_CHILDPROC_H
#define PHASE4_CHILDPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "phase4/core/error.h"

#define P4_CHILDPROC_STDOUT_MAX ((size_t)1 << 20)   /* default stdout limit, bytes */
#define P4_CHILDPROC_STDERR_MAX ((size_t)64 * 1024) /* default stderr limit, bytes */
#define P4_CHILDPROC_DRAIN_MS 5000u /* default wait for the pipes once SIGKILL has gone out */

struct p4_childproc_options {
    const char *what;        /* what runs, for messages ("helm", "the exec plugin"), or NULL */
    const char *file;        /* the program; without a '/', looked up in env's PATH */
    const char *const *argv; /* argv[0] first, NULL-terminated; required */
    const char *const *env;  /* the whole environment, "NAME=value", NULL-terminated; required
                                ({NULL} gives an empty one) */
    const char *cwd;         /* working directory, or NULL for the operator's */
    const char *stdin_data;  /* bytes for stdin, or NULL: stdin is /dev/null */
    size_t stdin_len;
    uint64_t timeout_ms;    /* the time limit; required (not 0) */
    uint64_t kill_grace_ms; /* at the limit: 0 sends SIGKILL at once, otherwise SIGTERM and
                               SIGKILL this long after */
    uint64_t drain_ms;      /* once SIGKILL is out (limit or cancel), how long to wait for the
                               pipes before giving up on them (something outside the group may
                               hold them); 0: P4_CHILDPROC_DRAIN_MS */
    size_t stdout_max;      /* 0: P4_CHILDPROC_STDOUT_MAX */
    size_t stderr_max;      /* 0: P4_CHILDPROC_STDERR_MAX */
};

struct p4_childproc_result {
    int pid;             /* the child's process id, for logs (already reaped when rc is 0) */
    int64_t exit_status; /* when term_signal is 0 */
    int term_signal;     /* the signal that ended the child, or 0 */
    bool timed_out;      /* the time limit passed and the group was signalled */
    uint64_t timeout_ms; /* the time limit that applied */
    const char *out;     /* stdout, NUL-terminated after out_len bytes, never NULL */
    size_t out_len;
    bool out_truncated; /* the child wrote more than the limit; out holds the first bytes */
    const char *err;    /* stderr, NUL-terminated after err_len bytes, never NULL */
    size_t err_len;
    bool err_truncated;
};

/*
 * rc is 0 when the child ran to its end (whatever its exit status) or was
 * stopped at the time limit (res->timed_out), and P4_ERR_CANCELED when the
 * run was canceled; res is never NULL, err is set only when rc is not 0.
 */
typedef void (*p4_childproc_cb)(int rc, const struct p4_childproc_result *res,
                                const struct p4_error *err, void *data);

struct p4_childproc;

/*
 * Start the child. On 0, *run (may be NULL if the caller never cancels) names
 * the run and cb is called exactly once, never before this returns. On
 * failure (P4_ERR_INVAL for bad options, P4_ERR_IO when the program cannot be
 * started: "cannot run <what> \"<file>\" in <cwd>: <cause>") err says why,
 * *run is NULL and cb is never called.
 */
int p4_childproc_start(uv_loop_t *loop, const struct p4_childproc_options *opts, p4_childproc_cb cb,
                       void *data, struct p4_childproc **run, struct p4_error *err);

/*
 * Cancel a run whose callback has not been called yet (for shutdown): the
 * child's process group gets SIGKILL and cb is called with P4_ERR_CANCELED
 * (and the output so far) before this returns. The run still reaps the
 * child and closes its handles on the loop afterwards. NULL, or a run
 * already called back (from inside its callback), is a no-op; after the
 * callback has returned, run must not be used.
 */
void p4_childproc_cancel(struct p4_childproc *run);

#endif
