/*
 * childproc_test.c: the child-process runner with real children on a real
 * loop (/bin/sh scripts): exit codes and signals, output capture and its
 * limits, stdin, the environment and argv as given, the time limit killing a
 * whole process group, giving up on pipes held outside the group, cancel,
 * bad options and missing programs, and no descriptor or child left behind.
 */
#include <dirent.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/net/childproc.h"

static const char *const path_env[] = {"PATH=/usr/bin:/bin", NULL};

struct outcome {
    int calls, rc;
    struct p4_childproc *run; /* canceled from inside the callback when cancel_in_cb */
    int cancel_in_cb;
    int pid;
    int64_t status;
    int sig;
    bool timed_out, out_truncated, err_truncated;
    uint64_t timeout_ms; /* the limit the result says applied */
    char *out, *err;
    size_t out_len, err_len;
    char message[P4_ERROR_MESSAGE_MAX];
};

static char *copy(const char *s, size_t n)
{
    char *c = malloc(n + 1);

    assert_non_null(c);
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

static void on_done(int rc, const struct p4_childproc_result *res, const struct p4_error *err,
                    void *data)
{
    struct outcome *o = data;

    o->calls++;
    o->rc = rc;
    assert_non_null(res);
    assert_non_null(res->out);
    assert_non_null(res->err);
    assert_int_equal(res->out[res->out_len], '\0');
    assert_int_equal(res->err[res->err_len], '\0');
    o->pid = res->pid;
    o->status = res->exit_status;
    o->sig = res->term_signal;
    o->timed_out = res->timed_out;
    o->out_truncated = res->out_truncated;
    o->err_truncated = res->err_truncated;
    o->timeout_ms = res->timeout_ms;
    free(o->out);
    free(o->err);
    o->out = copy(res->out, res->out_len);
    o->out_len = res->out_len;
    o->err = copy(res->err, res->err_len);
    o->err_len = res->err_len;
    if (rc != 0) {
        assert_non_null(err);
        (void)snprintf(o->message, sizeof(o->message), "%s", err->message);
    } else {
        assert_null(err);
    }
    if (o->cancel_in_cb)
        p4_childproc_cancel(o->run); /* already called back: a no-op */
}

static void outcome_free(struct outcome *o)
{
    free(o->out);
    free(o->err);
    memset(o, 0, sizeof(*o));
}

/* /bin/sh -c SCRIPT with PATH only and a 10 s limit; argv is filled in from script. */
static struct p4_childproc_options sh(const char **argv, const char *script)
{
    struct p4_childproc_options o = {0};

    argv[0] = "sh";
    argv[1] = "-c";
    argv[2] = script;
    argv[3] = NULL;
    o.file = "/bin/sh";
    o.argv = argv;
    o.env = path_env;
    o.timeout_ms = 10000;
    return o;
}

/* Start a run, check it does not call back inside start, and run the loop until it is done. */
static void run(uv_loop_t *loop, const struct p4_childproc_options *opts, struct outcome *o)
{
    struct p4_error err;
    int rc = p4_childproc_start(loop, opts, on_done, o, &o->run, &err);

    if (rc != 0)
        fail_msg("p4_childproc_start: %s", err.message);
    assert_non_null(o->run);
    assert_int_equal(o->calls, 0);
    (void)uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(o->calls, 1);
}

/* Reaped: not our child any more (a pid cannot be reused while it is a zombie). */
static void assert_reaped(int pid)
{
    int status;

    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/*
 * A process not ours (a grandchild) is gone once it has no /proc entry or is
 * a zombie waiting for whatever reaps orphans here; it gets up to 2 s.
 */
static bool gone(int pid)
{
    for (int i = 0; i < 200; i++) {
        char path[64], buf[512];
        FILE *f;
        size_t n;
        const char *paren;

        (void)snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        f = fopen(path, "r");
        if (f == NULL)
            return true;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        (void)fclose(f);
        buf[n] = '\0';
        paren = strrchr(buf, ')');
        if (paren == NULL || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X')
            return true;
        (void)usleep(10000);
    }
    return false;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    (void)closedir(d);
    return n;
}

static uint64_t now_ms(uv_loop_t *loop)
{
    uv_update_time(loop);
    return uv_now(loop);
}

static void exit_codes_and_output(void **state)
{
    const char *argv[4];
    struct p4_childproc_options opts = sh(argv, "echo out; echo err >&2; exit 3");
    struct outcome o = {0};
    uv_loop_t loop;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    run(&loop, &opts, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.status, 3);
    assert_int_equal(o.sig, 0);
    assert_false(o.timed_out);
    assert_string_equal(o.out, "out\n");
    assert_string_equal(o.err, "err\n");
    assert_false(o.out_truncated);
    assert_false(o.err_truncated);
    assert_reaped(o.pid);
    outcome_free(&o);

    argv[2] = "exit 0";
    run(&loop, &opts, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.out_len, 0);
    assert_string_equal(o.out, "");
    assert_string_equal(o.err, "");
    outcome_free(&o);

    argv[2] = "exit 255";
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 255);
    outcome_free(&o);

    /* Output without a final newline, and a program found through env's PATH. */
    opts.file = "sh";
    argv[2] = "printf 'no newline'; printf 'x\\0y' >&2";
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.out, "no newline");
    assert_int_equal(o.err_len, 3);
    assert_memory_equal(o.err, "x\0y", 3);
    outcome_free(&o);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void a_signal_ends_the_child(void **state)
{
    const char *argv[4];
    struct p4_childproc_options opts = sh(argv, "echo before; kill -USR1 $$; echo after");
    struct outcome o = {0};
    uv_loop_t loop;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    run(&loop, &opts, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.sig, SIGUSR1);
    assert_false(o.timed_out);
    assert_string_equal(o.out, "before\n");
    assert_reaped(o.pid);
    outcome_free(&o);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void output_over_the_limit_is_cut_and_drained(void **state)
{
    /* 1 MB on stdout, 5000 bytes on stderr, then a clean exit: the child never blocks. */
    const char *argv[4];
    struct p4_childproc_options opts = sh(argv, "head -c 1000000 /dev/zero | tr '\\0' x; "
                                                "head -c 5000 /dev/zero | tr '\\0' y >&2; exit 0");
    struct outcome o = {0};
    uv_loop_t loop;

    (void)state;
    opts.stdout_max = 1000;
    opts.stderr_max = 100;
    assert_int_equal(uv_loop_init(&loop), 0);
    run(&loop, &opts, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.sig, 0);
    assert_int_equal(o.out_len, 1000);
    assert_true(o.out_truncated);
    assert_int_equal(strspn(o.out, "x"), 1000);
    assert_int_equal(o.err_len, 100);
    assert_true(o.err_truncated);
    assert_int_equal(strspn(o.err, "y"), 100);
    outcome_free(&o);

    /* Exactly at the limit is not truncated. */
    argv[2] = "printf 0123456789";
    opts.stdout_max = 10;
    run(&loop, &opts, &o);
    assert_string_equal(o.out, "0123456789");
    assert_false(o.out_truncated);
    outcome_free(&o);

    /* The defaults: 3 MB of stdout is cut at P4_CHILDPROC_STDOUT_MAX, kept whole up to it. */
    argv[2] = "head -c 3000000 /dev/zero | tr '\\0' z";
    opts.stdout_max = 0;
    opts.stderr_max = 0;
    run(&loop, &opts, &o);
    assert_int_equal(o.out_len, P4_CHILDPROC_STDOUT_MAX);
    assert_true(o.out_truncated);
    assert_int_equal(strspn(o.out, "z"), P4_CHILDPROC_STDOUT_MAX);
    outcome_free(&o);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void stdin_reaches_the_child(void **state)
{
    const char *argv[4];
    struct p4_childproc_options opts = sh(argv, "cat");
    struct outcome o = {0};
    uv_loop_t loop;
    size_t big = 3u << 20;
    char *bytes = malloc(big);

    (void)state;
    assert_non_null(bytes);
    memset(bytes, 'v', big);
    assert_int_equal(uv_loop_init(&loop), 0);
    opts.stdin_data = "token: s3cret\n";
    opts.stdin_len = strlen(opts.stdin_data);
    run(&loop, &opts, &o);
    assert_string_equal(o.out, "token: s3cret\n");
    outcome_free(&o);

    /* No stdin: /dev/null, so a read ends at once. */
    opts.stdin_data = NULL;
    opts.stdin_len = 0;
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.out, "");
    outcome_free(&o);

    /* More than a pipe holds. */
    argv[2] = "wc -c";
    opts.stdin_data = bytes;
    opts.stdin_len = big;
    run(&loop, &opts, &o);
    assert_int_equal(strtoul(o.out, NULL, 10), big);
    outcome_free(&o);

    /* Empty but present stdin. */
    opts.stdin_data = "";
    opts.stdin_len = 0;
    run(&loop, &opts, &o);
    assert_int_equal(strtoul(o.out, NULL, 10), 0);
    outcome_free(&o);

    /* A child that never reads its stdin still finishes. */
    argv[2] = "exit 0";
    opts.stdin_data = bytes;
    opts.stdin_len = big;
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    outcome_free(&o);

    /* Only the given bytes, and not a byte past stdin_len. */
    argv[2] = "cat";
    opts.stdin_data = "abcdef";
    opts.stdin_len = 3;
    run(&loop, &opts, &o);
    assert_string_equal(o.out, "abc");
    outcome_free(&o);
    free(bytes);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void environment_argv_and_cwd_are_as_given(void **state)
{
    const char *env[] = {"A=1", "B=two words", NULL};
    const char *empty[] = {NULL};
    const char *argv[] = {"env", NULL};
    struct p4_childproc_options opts = {
        .file = "/usr/bin/env", .argv = argv, .env = env, .timeout_ms = 10000};
    struct outcome o = {0};
    uv_loop_t loop;

    (void)state;
    assert_int_equal(setenv("P4_CHILDPROC_TEST_SECRET", "must-not-leak", 1), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    run(&loop, &opts, &o); /* env prints exactly the environment it was given */
    assert_int_equal(o.status, 0);
    assert_string_equal(o.out, "A=1\nB=two words\n");
    outcome_free(&o);

    opts.env = empty;
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.out, "");
    outcome_free(&o);

    /* argv passed as is (no word splitting or globbing), argv[0] included, and cwd. */
    opts.file = "/bin/sh";
    opts.env = path_env;
    opts.cwd = "/";
    opts.argv = (const char *[]){
        "zero", "-c", "pwd; printf '[%s]' \"$0\" \"$@\"", "sh", "a b", "*", "$HOME", NULL};
    run(&loop, &opts, &o);
    assert_string_equal(o.out, "/\n[sh][a b][*][$HOME]");
    outcome_free(&o);
    assert_int_equal(unsetenv("P4_CHILDPROC_TEST_SECRET"), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void time_limit_kills_the_process_group(void **state)
{
    /* The child starts a grandchild that holds stdout open and sleeps: only killing the
       whole group lets the pipe reach EOF before drain_ms. */
    const char *argv[4];
    struct p4_childproc_options opts =
        sh(argv, "sleep 30 & echo $!; trap '' TERM; echo started >&2; wait");
    struct outcome o = {0};
    uv_loop_t loop;
    uint64_t t0;
    int grandchild;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    opts.timeout_ms = 300;
    opts.kill_grace_ms = 0; /* SIGKILL at once */
    opts.drain_ms = 20000;
    t0 = now_ms(&loop);
    run(&loop, &opts, &o);
    assert_true(now_ms(&loop) - t0 >= 300);
    assert_true(now_ms(&loop) - t0 < 5000);
    assert_int_equal(o.rc, 0);
    assert_true(o.timed_out);
    assert_int_equal(o.timeout_ms, 300);
    assert_int_equal(o.sig, SIGKILL);
    assert_string_equal(o.err, "started\n");
    assert_reaped(o.pid);
    grandchild = (int)strtol(o.out, NULL, 10);
    assert_true(grandchild > 0);
    assert_true(gone(grandchild));
    outcome_free(&o);

    /* With a grace: SIGTERM first; a child that ignores it gets SIGKILL after the grace. */
    argv[2] = "trap '' TERM; echo started; exec tail -f /dev/null";
    opts.kill_grace_ms = 300;
    t0 = now_ms(&loop);
    run(&loop, &opts, &o);
    assert_true(now_ms(&loop) - t0 >= 600);
    assert_true(now_ms(&loop) - t0 < 5000);
    assert_true(o.timed_out);
    assert_int_equal(o.sig, SIGKILL);
    assert_string_equal(o.out, "started\n");
    assert_reaped(o.pid);
    outcome_free(&o);

    /* SIGTERM is enough for a polite child: the grace is never waited out. */
    argv[2] = "exec tail -f /dev/null";
    opts.kill_grace_ms = 20000;
    t0 = now_ms(&loop);
    run(&loop, &opts, &o);
    assert_true(now_ms(&loop) - t0 < 5000);
    assert_true(o.timed_out);
    assert_int_equal(o.sig, SIGTERM);
    assert_reaped(o.pid);
    outcome_free(&o);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void pipes_held_outside_the_group_are_given_up(void **state)
{
    /* A grandchild in a session of its own escapes the group kill and keeps stdout open. */
    const char *argv[4];
    struct p4_childproc_options opts = sh(argv, "setsid sleep 30 & echo $!; exec sleep 30");
    struct outcome o = {0};
    uv_loop_t loop;
    uint64_t t0;
    int escaped;

    (void)state;
    if (access("/usr/bin/setsid", X_OK) != 0) {
        print_message("skipped: no /usr/bin/setsid\n");
        skip();
    }
    assert_int_equal(uv_loop_init(&loop), 0);
    opts.timeout_ms = 200;
    opts.drain_ms = 300;
    t0 = now_ms(&loop);
    run(&loop, &opts, &o);
    assert_true(now_ms(&loop) - t0 >= 500);
    assert_true(now_ms(&loop) - t0 < 5000);
    assert_true(o.timed_out);
    assert_int_equal(o.sig, SIGKILL);
    assert_reaped(o.pid);
    escaped = (int)strtol(o.out, NULL, 10);
    assert_true(escaped > 0);
    assert_int_equal(kill(escaped, SIGKILL), 0);
    outcome_free(&o);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void cancel_kills_and_calls_back_once(void **state)
{
    const char *argv[4];
    struct p4_childproc_options opts =
        sh(argv, "trap '' TERM; echo started; exec tail -f /dev/null");
    struct outcome o = {0};
    struct p4_error err;
    uv_loop_t loop;
    uv_timer_t pause;
    uint64_t t0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    t0 = now_ms(&loop);
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &o.run, &err), 0);
    /* Let it run a while, so the output so far is handed over on cancel. */
    assert_int_equal(uv_timer_init(&loop, &pause), 0);
    assert_int_equal(uv_timer_start(&pause, stop_loop, 300, 0), 0);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&pause, NULL);
    assert_int_equal(o.calls, 0);
    p4_childproc_cancel(o.run);
    assert_int_equal(o.calls, 1); /* before cancel returns */
    assert_int_equal(o.rc, P4_ERR_CANCELED);
    assert_string_equal(o.message, "the child process was canceled");
    assert_string_equal(o.out, "started\n");
    assert_false(o.timed_out);
    p4_childproc_cancel(o.run); /* called back already: a no-op */
    assert_int_equal(o.calls, 1);
    (void)uv_run(&loop, UV_RUN_DEFAULT); /* the child is reaped, the handles close */
    assert_int_equal(o.calls, 1);
    assert_true(now_ms(&loop) - t0 < 5000);
    assert_reaped(o.pid);
    assert_int_equal(uv_loop_close(&loop), 0);
    outcome_free(&o);

    /* Canceling from inside the callback, or NULL, does nothing. */
    p4_childproc_cancel(NULL);
    assert_int_equal(uv_loop_init(&loop), 0);
    argv[2] = "exit 4";
    o.cancel_in_cb = 1;
    run(&loop, &opts, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.status, 4);
    assert_int_equal(uv_loop_close(&loop), 0);
    outcome_free(&o);
}

static void bad_options_and_missing_programs(void **state)
{
    const char *argv[4];
    const char *no_argv[] = {NULL};
    struct p4_childproc_options opts = sh(argv, "exit 0");
    struct outcome o = {0};
    struct p4_childproc *r = (struct p4_childproc *)&o; /* must be reset to NULL */
    struct p4_error err;
    uv_loop_t loop;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(p4_childproc_start(&loop, &opts, NULL, &o, &r, &err), P4_ERR_INVAL);
    assert_null(r);
    assert_int_equal(p4_childproc_start(NULL, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);
    assert_int_equal(p4_childproc_start(&loop, NULL, on_done, &o, &r, &err), P4_ERR_INVAL);
    opts.file = "";
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "a child process needs a program and its argv");
    opts = sh(argv, "exit 0");
    opts.argv = no_argv;
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);
    opts = sh(argv, "exit 0");
    opts.env = NULL;
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "a child process needs its whole environment");
    opts = sh(argv, "exit 0");
    opts.timeout_ms = 0;
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "a child process needs a time limit");

    opts = sh(argv, "exit 0");
    opts.file = "/nonexistent/tool";
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_IO);
    assert_null(r);
    assert_string_equal(err.message,
                        "cannot run the program \"/nonexistent/tool\": no such file or directory");
    opts.what = "the tool";
    opts.file = "no-such-tool-anywhere"; /* looked up in PATH */
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_IO);
    assert_string_equal(err.message,
                        "cannot run the tool \"no-such-tool-anywhere\": no such file or directory");
    opts = sh(argv, "exit 0");
    opts.what = "the tool";
    opts.cwd = "/nonexistent/dir";
    opts.stdin_data = "x";
    opts.stdin_len = 1;
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_IO);
    assert_string_equal(err.message, "cannot run the tool \"/bin/sh\" in /nonexistent/dir: no "
                                     "such file or directory");
    opts = sh(argv, "exit 0");
    opts.file = "/dev/null"; /* not executable */
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_IO);
    (void)uv_run(&loop, UV_RUN_DEFAULT); /* the failed runs free themselves */
    assert_int_equal(o.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void no_descriptor_or_child_is_left(void **state)
{
    const char *argv[4];
    struct p4_childproc_options opts = sh(argv, "head -c 100000 /dev/zero; exit 1");
    struct outcome o = {0};
    struct p4_error err;
    uv_loop_t loop;
    int before, status;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    /* The first spawn opens libuv's own SIGCHLD pipes for the loop: count after it. */
    run(&loop, &opts, &o);
    outcome_free(&o);
    before = open_fds();
    for (int i = 0; i < 5; i++) {
        opts.stdout_max = i % 2 ? 10 : 0;
        opts.stdin_data = i % 2 ? "x" : NULL;
        opts.stdin_len = 1;
        run(&loop, &opts, &o);
        outcome_free(&o);
    }
    opts.file = "/nonexistent/tool";
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, NULL, &err), P4_ERR_IO);
    opts.file = "/bin/sh";
    argv[2] = "exec tail -f /dev/null";
    assert_int_equal(p4_childproc_start(&loop, &opts, on_done, &o, &o.run, &err), 0);
    (void)uv_run(&loop, UV_RUN_NOWAIT);
    p4_childproc_cancel(o.run);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    outcome_free(&o);
    opts.timeout_ms = 100;
    run(&loop, &opts, &o);
    assert_true(o.timed_out);
    outcome_free(&o);
    assert_int_equal(open_fds(), before);
    assert_int_equal(waitpid(-1, &status, WNOHANG), -1); /* no child of ours at all */
    assert_int_equal(errno, ECHILD);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_codes_and_output),
        cmocka_unit_test(a_signal_ends_the_child),
        cmocka_unit_test(output_over_the_limit_is_cut_and_drained),
        cmocka_unit_test(stdin_reaches_the_child),
        cmocka_unit_test(environment_argv_and_cwd_are_as_given),
        cmocka_unit_test(time_limit_kills_the_process_group),
        cmocka_unit_test(pipes_held_outside_the_group_are_given_up),
        cmocka_unit_test(cancel_kills_and_calls_back_once),
        cmocka_unit_test(bad_options_and_missing_programs),
        cmocka_unit_test(no_descriptor_or_child_is_left),
    };
    return cmocka_run_group_tests_name("childproc", tests, NULL, NULL);
}
