/*
 * reaper.h: orphaned processes reaped, for an operator that runs as PID 1.
 *
 * In a container the operator is PID 1 (the image has no init), and every
 * process of the container whose parent dies is handed to it. libuv reaps
 * only the children it spawned (it waits for each of their pids), so such an
 * orphan would stay a zombie for the life of the pod: a grandchild of helm or
 * of an exec credential plugin when its parent is killed at the time limit
 * (childproc kills the whole process group at once, and a member that
 * outlives its parent by a moment is an orphan), or anything that
 * double-forks. The reaper waits for them: on every SIGCHLD (and once at
 * start) it reads which processes are its zombie children in /proc and waits
 * for each one that is not a live libuv process handle of the loop, so
 * libuv still gets the exit status of every child it spawned.
 *
 * The operator starts it when it is PID 1 (docs/development.md, "The
 * image"); a test makes itself a child subreaper (PR_SET_CHILD_SUBREAPER) to
 * get the same orphans.
 *
 * Ownership: the caller owns the reaper and closes it with p4_reaper_close
 * (the handle is closed on the loop and freed in its close callback).
 */
#ifndef PHASE4_REAPER_H
#define PHASE4_REAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "phase4/core/error.h"

struct p4_reaper;

/* Start reaping this process's orphaned children on loop. 0, or a negative P4_ERR_*. */
int p4_reaper_start(uv_loop_t *loop, struct p4_reaper **reaper, struct p4_error *err);

/* How many processes the reaper has waited for. */
uint64_t p4_reaper_reaped(const struct p4_reaper *r);

/* Stop and free the reaper (on the loop). NULL is a no-op. */
void p4_reaper_close(struct p4_reaper *r);

/*
 * One /proc/<pid>/stat line: "pid (comm) state ppid ...". comm is whatever the
 * process named itself (spaces and parentheses included), so the fields after
 * it are read from the last ')'. true with *state and *ppid set, false when
 * the line does not have that shape. buf need not be NUL-terminated.
 */
bool p4_reaper_parse_stat(const char *buf, size_t len, char *state, long *ppid);

#endif
