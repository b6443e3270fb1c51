/*
 * helmrun.h: one run of the helm binary as a child process on the loop.
 *
 * helm is started through net/childproc (uv_spawn, never through a shell)
 * in a session of its own, with a clean environment: PATH=/usr/bin:/bin,
 * HOME, HELM_CACHE_HOME, HELM_CONFIG_HOME and HELM_DATA_HOME set to
 * directories the caller gives, plus the entries the caller adds; nothing of
 * the operator's environment leaks in. Optional stdin bytes (values given as
 * `-f -`) reach helm through an in-memory file, never a temporary file on
 * disk. stdout and stderr are captured up to a limit each; past it the
 * output is cut and marked truncated while helm is still drained, so it
 * never blocks on a full pipe. At the time limit helm's process group gets
 * SIGTERM, then SIGKILL after a grace period. Helm is always reaped and every
 * handle closed before the run frees itself.
 *
 * Ownership: everything in the options is borrowed for the duration of
 * p4_helmrun_start only. The result handed to the callback, and the output
 * buffers in it, are borrowed for the duration of the callback. The run
 * itself frees itself after the callback; the caller never frees it.
 */
#ifndef PHASE4_HELMRUN_H
#define PHASE4_HELMRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "phase4/core/error.h"
#include "phase4/net/childproc.h"

#define P4_HELMRUN_TIMEOUT_MS 120000u  /* default time limit */
#define P4_HELMRUN_KILL_GRACE_MS 5000u /* default wait between SIGTERM and SIGKILL */
#define P4_HELMRUN_STDOUT_MAX ((size_t)8 * 1024 * 1024) /* default stdout limit, bytes */
#define P4_HELMRUN_STDERR_MAX ((size_t)256 * 1024)      /* default stderr limit, bytes */

struct p4_helmrun_options {
    const char *helm;        /* the helm binary; without a '/', looked up in /usr/bin:/bin */
    const char *const *argv; /* arguments after the program name, NULL-terminated */
    const char *const *env;  /* "NAME=value" entries to add, NULL-terminated, or NULL; none
                                may set PATH, HOME or HELM_{CACHE,CONFIG,DATA}_HOME */
    const char *home;        /* HOME; required */
    const char *cache_home;  /* HELM_CACHE_HOME; required */
    const char *config_home; /* HELM_CONFIG_HOME; required */
    const char *data_home;   /* HELM_DATA_HOME; required */
    const char *cwd;         /* working directory, or NULL for the operator's */
    const char *stdin_data;  /* bytes for helm's stdin, or NULL: stdin is /dev/null */
    size_t stdin_len;
    uint64_t timeout_ms;    /* 0: P4_HELMRUN_TIMEOUT_MS */
    uint64_t kill_grace_ms; /* 0: P4_HELMRUN_KILL_GRACE_MS */
    size_t stdout_max;      /* 0: P4_HELMRUN_STDOUT_MAX */
    size_t stderr_max;      /* 0: P4_HELMRUN_STDERR_MAX */
};

/*
 * res is the child process's result (net/childproc.h): helm's stdout and
 * stderr, how it ended, the time limit that applied.
 * rc is 0 when helm ran to its end (whatever its exit status) or was stopped
 * at the time limit (res->timed_out), and P4_ERR_CANCELED when the run was
 * canceled; res is never NULL, err is set only when rc is not 0.
 */
typedef void (*p4_helmrun_cb)(int rc, const struct p4_childproc_result *res,
                              const struct p4_error *err, void *data);

struct p4_helmrun;

/*
 * Start helm. On 0, *run (may be NULL if the caller never cancels) names the
 * run and cb is called exactly once, never before this returns. On failure
 * (P4_ERR_INVAL for bad options, P4_ERR_IO when helm cannot be started) err
 * says why, *run is NULL and cb is never called.
 */
int p4_helmrun_start(uv_loop_t *loop, const struct p4_helmrun_options *opts, p4_helmrun_cb cb,
                     void *data, struct p4_helmrun **run, struct p4_error *err);

/*
 * Cancel a run whose callback has not been called yet (for shutdown): helm's
 * process group gets SIGKILL and cb is called with P4_ERR_CANCELED before
 * this returns. The run still reaps helm and closes its handles on the loop
 * afterwards. NULL, or a run already called back (from inside its callback),
 * is a no-op; after the callback has returned, run must not be used.
 */
void p4_helmrun_cancel(struct p4_helmrun *run);

#endif
