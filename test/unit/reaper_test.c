/*
 * reaper_test.c: orphans reaped as PID 1 would reap them. The test process
 * makes itself a child subreaper, so a process whose parent dies is handed
 * to it as it would be to PID 1 in a container. A helm-like child that
 * started a grandchild is killed at its time limit (childproc kills the
 * group): the grandchild, orphaned, is reaped by the reaper, and childproc
 * still gets its own child's exit. Also: /proc/<pid>/stat lines good and
 * bad, and bad arguments.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/net/childproc.h"
#include "phase4/net/reaper.h"

static const char *const path_env[] = {"PATH=/usr/bin:/bin", NULL};

struct state {
    int calls, sig;
    bool timed_out;
    long grandchild; /* the pid the child printed, or 0 */
    uv_timer_t poll, deadline;
    bool expired;
};

static void on_done(int rc, const struct p4_childproc_result *res, const struct p4_error *err,
                    void *data)
{
    struct state *s = data;

    (void)err;
    s->calls++;
    assert_int_equal(rc, 0);
    s->sig = res->term_signal;
    s->timed_out = res->timed_out;
    s->grandchild = strtol(res->out, NULL, 10);
}

/* Gone: not even a zombie (kill works on a zombie, so ESRCH means it was waited for). */
static bool gone(long pid)
{
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void on_poll(uv_timer_t *t)
{
    struct state *s = t->data;

    if (s->calls == 1 && s->grandchild > 0 && gone(s->grandchild))
        uv_stop(t->loop);
}

static void on_deadline(uv_timer_t *t)
{
    struct state *s = t->data;

    s->expired = true;
    uv_stop(t->loop);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void test_orphaned_grandchild_is_reaped(void **unused)
{
    /* The child prints its background grandchild's pid and waits on it; at the
     * limit the group gets SIGKILL, and the grandchild is orphaned to us. */
    const char *argv[] = {"sh", "-c", "sleep 30 & echo $!; wait", NULL};
    struct p4_childproc_options o = {.what = "sh",
                                     .file = "/bin/sh",
                                     .argv = argv,
                                     .env = path_env,
                                     .timeout_ms = 300,
                                     .kill_grace_ms = 0};
    struct state s = {0};
    struct p4_reaper *r = NULL;
    struct p4_error err;
    uv_loop_t loop;

    (void)unused;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(p4_reaper_start(&loop, &r, &err), 0);
    assert_non_null(r);
    assert_int_equal(p4_childproc_start(&loop, &o, on_done, &s, NULL, &err), 0);
    (void)uv_timer_init(&loop, &s.poll);
    (void)uv_timer_init(&loop, &s.deadline);
    s.poll.data = s.deadline.data = &s;
    (void)uv_timer_start(&s.poll, on_poll, 10, 10);
    (void)uv_timer_start(&s.deadline, on_deadline, 10000, 0);
    (void)uv_run(&loop, UV_RUN_DEFAULT);

    assert_false(s.expired);
    /* childproc got its own child's end: libuv's child was not taken from it. */
    assert_int_equal(s.calls, 1);
    assert_true(s.timed_out);
    assert_int_equal(s.sig, SIGKILL);
    assert_true(s.grandchild > 0);
    assert_true(gone(s.grandchild));
    assert_true(p4_reaper_reaped(r) >= 1);

    p4_reaper_close(r);
    uv_walk(&loop, close_walk, NULL);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

/* A zombie child from a plain fork (no libuv handle) that exists before the start is reaped at
 * once. */
static void test_reaps_at_start(void **unused)
{
    struct p4_reaper *r = NULL;
    struct p4_error err;
    uv_loop_t loop;
    siginfo_t si;
    pid_t pid;

    (void)unused;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    /* Wait until it is a zombie, without reaping it. */
    memset(&si, 0, sizeof(si));
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    assert_false(gone(pid));
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(p4_reaper_start(&loop, &r, &err), 0);
    assert_true(gone(pid));
    assert_int_equal(p4_reaper_reaped(r), 1);
    p4_reaper_close(r);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_parse_stat(void **unused)
{
    char state = 0;
    long ppid = 0;
    const char *s;

    (void)unused;
    s = "1234 (helm) Z 1 1234 1234 0 -1 4194560";
    assert_true(p4_reaper_parse_stat(s, strlen(s), &state, &ppid));
    assert_int_equal(state, 'Z');
    assert_int_equal(ppid, 1);
    /* A name with spaces and parentheses of its own: the last ')' ends it. */
    s = "77 (a) Z 1 (x) y) S 42 77\n";
    assert_true(p4_reaper_parse_stat(s, strlen(s), &state, &ppid));
    assert_int_equal(state, 'S');
    assert_int_equal(ppid, 42);
    s = "5 (init) S 0";
    assert_true(p4_reaper_parse_stat(s, strlen(s), &state, &ppid));
    assert_int_equal(ppid, 0);

    /* Not the shape: each refused, nothing written. */
    const char *bad[] = {"",           "1 (x)",
                         "1 (x) Z",    "1 (x) Z ",
                         "1 (x) Z -1", "1 (x) Z 12a",
                         "1 (x)Z 1",   "1 (x) ZZ 1",
                         "no paren",   "1 (x) Z 99999999999",
                         "1 (x) 1 2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        state = 'q';
        ppid = -5;
        assert_false(p4_reaper_parse_stat(bad[i], strlen(bad[i]), &state, &ppid));
        assert_int_equal(state, 'q');
        assert_int_equal(ppid, -5);
    }
    /* The length is honored: the digits after it are not read. */
    s = "9 (x) Z 12345";
    assert_true(p4_reaper_parse_stat(s, strlen(s) - 3, &state, &ppid));
    assert_int_equal(ppid, 12);
    assert_false(p4_reaper_parse_stat(NULL, 0, &state, &ppid));
}

static void test_bad_arguments(void **unused)
{
    struct p4_reaper *r = (struct p4_reaper *)&r;
    struct p4_error err;
    uv_loop_t loop;

    (void)unused;
    assert_int_equal(p4_reaper_start(NULL, &r, &err), P4_ERR_INVAL);
    assert_null(r);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(p4_reaper_start(&loop, NULL, &err), P4_ERR_INVAL);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(p4_reaper_reaped(NULL), 0);
    p4_reaper_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orphaned_grandchild_is_reaped),
        cmocka_unit_test(test_reaps_at_start),
        cmocka_unit_test(test_parse_stat),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
