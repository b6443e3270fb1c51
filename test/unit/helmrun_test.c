/*
 * helmrun_test.c: real child processes on a real loop: /bin/sh scripts
 * standing in for helm (exit codes, output limits, time limits, stdin, the
 * environment, cancel), then the real helm binary from .cache/bin/helm.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
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

#include "phase4/stages/helm/helmrun.h"
#include "stages/helm/helmout.h"

#define REAL_HELM ".cache/bin/helm"

struct outcome {
    int calls, rc;
    struct p4_helmrun *run; /* canceled from inside the callback when cancel_in_cb */
    int cancel_in_cb;
    int pid;
    int64_t status;
    int sig;
    bool timed_out, out_truncated, err_truncated;
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
    free(o->out);
    free(o->err);
    o->out = copy(res->out, res->out_len);
    o->out_len = res->out_len;
    o->err = copy(res->err, res->err_len);
    o->err_len = res->err_len;
    if (rc != 0) {
        assert_non_null(err);
        (void)snprintf(o->message, sizeof(o->message), "%s", err->message);
    }
    if (o->cancel_in_cb)
        p4_helmrun_cancel(o->run); /* already called back: a no-op */
}

static void outcome_free(struct outcome *o)
{
    free(o->out);
    free(o->err);
    memset(o, 0, sizeof(*o));
}

static struct p4_helmrun_options sh_options(const char *const *argv)
{
    struct p4_helmrun_options o = {0};

    o.helm = "/bin/sh";
    o.argv = argv;
    o.home = "/tmp/p4-helmrun-home";
    o.cache_home = "/tmp/p4-helmrun-cache";
    o.config_home = "/tmp/p4-helmrun-config";
    o.data_home = "/tmp/p4-helmrun-data";
    return o;
}

/* Start a run, check it does not call back inside start, and run the loop until it is done. */
static void run(uv_loop_t *loop, const struct p4_helmrun_options *opts, struct outcome *o)
{
    struct p4_error err;
    int rc = p4_helmrun_start(loop, opts, on_done, o, &o->run, &err);

    if (rc != 0)
        fail_msg("p4_helmrun_start: %s", err.message);
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

static void exit_status_and_output(void **state)
{
    const char *argv[] = {"-c", "echo out; echo err >&2; exit 3", NULL};
    struct p4_helmrun_options opts = sh_options(argv);
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

    argv[1] = "exit 0";
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.out_len, 0);
    assert_string_equal(o.out, "");
    outcome_free(&o);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void output_over_the_limit_is_cut_and_drained(void **state)
{
    /* 1 MB on stdout, 5000 bytes on stderr, then a clean exit: helm never blocks on a pipe. */
    const char *argv[] = {"-c",
                          "head -c 1000000 /dev/zero | tr '\\0' x; "
                          "head -c 5000 /dev/zero | tr '\\0' y >&2; exit 0",
                          NULL};
    struct p4_helmrun_options opts = sh_options(argv);
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
    argv[1] = "printf 0123456789";
    opts.stdout_max = 10;
    run(&loop, &opts, &o);
    assert_string_equal(o.out, "0123456789");
    assert_false(o.out_truncated);
    outcome_free(&o);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void time_limit_sends_sigterm_then_sigkill(void **state)
{
    /* A hung child that ignores SIGTERM (an ignored signal stays ignored across exec): only
       SIGKILL to the group ends it. */
    const char *stubborn[] = {"-c", "trap '' TERM; echo started; exec tail -f /dev/null", NULL};
    const char *polite[] = {"-c", "exec tail -f /dev/null", NULL};
    struct p4_helmrun_options opts = sh_options(stubborn);
    struct outcome o = {0};
    uv_loop_t loop;
    uint64_t t0;
    char msg[P4_ERROR_MESSAGE_MAX];
    struct p4_childproc_result res = {0};

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    opts.timeout_ms = 300;
    opts.kill_grace_ms = 300;
    t0 = now_ms(&loop);
    run(&loop, &opts, &o);
    assert_true(now_ms(&loop) - t0 >= 600);
    assert_true(now_ms(&loop) - t0 < 5000);
    assert_int_equal(o.rc, 0);
    assert_true(o.timed_out);
    assert_int_equal(o.sig, SIGKILL);
    assert_string_equal(o.out, "started\n");
    assert_reaped(o.pid);
    res.timed_out = true;
    res.timeout_ms = 300;
    assert_int_equal(p4_helm_classify_run("template", &res, msg, sizeof(msg)), P4_HELM_TIMED_OUT);
    assert_string_equal(msg, "helm template did not finish within 300 ms and was stopped");
    outcome_free(&o);

    opts.argv = polite;
    opts.kill_grace_ms = 20000; /* SIGTERM is enough: the grace is never waited out */
    t0 = now_ms(&loop);
    run(&loop, &opts, &o);
    assert_true(now_ms(&loop) - t0 < 5000);
    assert_true(o.timed_out);
    assert_int_equal(o.sig, SIGTERM);
    assert_reaped(o.pid);
    outcome_free(&o);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void stdin_reaches_helm(void **state)
{
    const char *cat[] = {"-c", "cat", NULL};
    const char *count[] = {"-c", "wc -c", NULL};
    struct p4_helmrun_options opts = sh_options(cat);
    struct outcome o = {0};
    uv_loop_t loop;
    size_t big = 3u << 20;
    char *values = malloc(big);

    (void)state;
    assert_non_null(values);
    memset(values, 'v', big);
    assert_int_equal(uv_loop_init(&loop), 0);
    opts.stdin_data = "replicaCount: 3\n";
    opts.stdin_len = strlen(opts.stdin_data);
    run(&loop, &opts, &o);
    assert_string_equal(o.out, "replicaCount: 3\n");
    outcome_free(&o);

    /* No stdin: /dev/null, so a read ends at once. */
    opts.stdin_data = NULL;
    opts.stdin_len = 0;
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.out, "");
    outcome_free(&o);

    /* More than a pipe holds. */
    opts.argv = count;
    opts.stdin_data = values;
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

    /* helm that never reads its stdin still finishes. */
    opts.argv = (const char *[]){"-c", "exit 0", NULL};
    opts.stdin_data = values;
    opts.stdin_len = big;
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    outcome_free(&o);
    free(values);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void environment_is_clean(void **state)
{
    const char *extra[] = {"HELM_NAMESPACE=shop", "HELM_REGISTRY_CONFIG=/r/config.json", NULL};
    struct p4_helmrun_options opts = sh_options(NULL);
    struct outcome o = {0};
    uv_loop_t loop;

    (void)state;
    assert_int_equal(setenv("P4_HELMRUN_TEST_SECRET", "must-not-leak", 1), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    opts.helm = "/usr/bin/env"; /* prints exactly the environment it was given */
    opts.env = extra;
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.out, "PATH=/usr/bin:/bin\n"
                               "HOME=/tmp/p4-helmrun-home\n"
                               "HELM_CACHE_HOME=/tmp/p4-helmrun-cache\n"
                               "HELM_CONFIG_HOME=/tmp/p4-helmrun-config\n"
                               "HELM_DATA_HOME=/tmp/p4-helmrun-data\n"
                               "HELM_NAMESPACE=shop\n"
                               "HELM_REGISTRY_CONFIG=/r/config.json\n");
    outcome_free(&o);

    /* The working directory, and argv passed as is (no shell word splitting or globbing). */
    opts.helm = "/bin/sh";
    opts.env = NULL;
    opts.cwd = "/";
    opts.argv =
        (const char *[]){"-c", "pwd; printf '[%s]' \"$@\"", "sh", "a b", "*", "$HOME", NULL};
    run(&loop, &opts, &o);
    assert_string_equal(o.out, "/\n[a b][*][$HOME]");
    outcome_free(&o);
    assert_int_equal(unsetenv("P4_HELMRUN_TEST_SECRET"), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void cancel_kills_and_calls_back_once(void **state)
{
    const char *argv[] = {"-c", "trap '' TERM; echo started; exec tail -f /dev/null", NULL};
    struct p4_helmrun_options opts = sh_options(argv);
    struct outcome o = {0};
    struct p4_error err;
    uv_loop_t loop;
    uint64_t t0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    t0 = now_ms(&loop);
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, &o.run, &err), 0);
    (void)uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(o.calls, 0);
    p4_helmrun_cancel(o.run);
    assert_int_equal(o.calls, 1); /* before cancel returns */
    assert_int_equal(o.rc, P4_ERR_CANCELED);
    assert_string_equal(o.message, "the helm run was canceled");
    (void)uv_run(&loop, UV_RUN_DEFAULT); /* helm is reaped, the handles close */
    assert_int_equal(o.calls, 1);
    assert_true(now_ms(&loop) - t0 < 5000);
    assert_reaped(o.pid);
    assert_int_equal(uv_loop_close(&loop), 0);
    outcome_free(&o);

    /* Canceling from inside the callback, or NULL, does nothing. */
    p4_helmrun_cancel(NULL);
    assert_int_equal(uv_loop_init(&loop), 0);
    opts.argv = (const char *[]){"-c", "exit 4", NULL};
    o.cancel_in_cb = 1;
    run(&loop, &opts, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.status, 4);
    assert_int_equal(uv_loop_close(&loop), 0);
    outcome_free(&o);
}

static void bad_options_and_missing_binaries(void **state)
{
    const char *argv[] = {"-c", "exit 0", NULL};
    const char *no_equals[] = {"NOEQUALS", NULL};
    const char *sets_path[] = {"OK=1", "PATH=/tmp", NULL};
    const char *sets_home[] = {"HELM_DATA_HOME=/x", NULL};
    struct p4_helmrun_options opts = sh_options(argv);
    struct outcome o = {0};
    struct p4_helmrun *r = (struct p4_helmrun *)&o; /* must be reset to NULL */
    struct p4_error err;
    uv_loop_t loop;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(p4_helmrun_start(&loop, &opts, NULL, &o, &r, &err), P4_ERR_INVAL);
    assert_null(r);
    opts.helm = NULL;
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "no helm binary was given");
    opts = sh_options(argv);
    opts.data_home = NULL;
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);
    opts = sh_options(argv);
    opts.env = no_equals;
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "helm environment entry 0 is not NAME=value");
    opts.env = sets_path;
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);
    assert_string_equal(err.message,
                        "helm environment entry 1 sets PATH, which helmrun sets itself");
    opts.env = sets_home;
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_INVAL);

    opts = sh_options(argv);
    opts.helm = "/nonexistent/helm";
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_IO);
    assert_null(r);
    assert_string_equal(err.message,
                        "cannot run helm \"/nonexistent/helm\": no such file or directory");
    opts = sh_options(argv);
    opts.cwd = "/nonexistent/dir";
    opts.stdin_data = "x";
    opts.stdin_len = 1;
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, &r, &err), P4_ERR_IO);
    assert_string_equal(err.message, "cannot run helm \"/bin/sh\" in /nonexistent/dir: no such "
                                     "file or directory");
    (void)uv_run(&loop, UV_RUN_DEFAULT); /* the failed runs free themselves */
    assert_int_equal(o.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void no_descriptor_or_child_is_left(void **state)
{
    const char *argv[] = {"-c", "head -c 100000 /dev/zero; exit 1", NULL};
    struct p4_helmrun_options opts = sh_options(argv);
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
    opts.helm = "/nonexistent/helm";
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, NULL, &err), P4_ERR_IO);
    opts.helm = "/bin/sh";
    opts.argv = (const char *[]){"-c", "exec tail -f /dev/null", NULL};
    assert_int_equal(p4_helmrun_start(&loop, &opts, on_done, &o, &o.run, &err), 0);
    (void)uv_run(&loop, UV_RUN_NOWAIT);
    p4_helmrun_cancel(o.run);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(open_fds(), before);
    assert_int_equal(waitpid(-1, &status, WNOHANG), -1); /* no child of ours at all */
    assert_int_equal(errno, ECHILD);
    outcome_free(&o);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void real_helm(void **state)
{
    char helm[PATH_MAX], charts[PATH_MAX], dir[] = "/tmp/p4-helmrun-XXXXXX";
    char home[PATH_MAX + 16], cache[PATH_MAX + 16], config[PATH_MAX + 16], data[PATH_MAX + 16];
    char want[PATH_MAX + 64], msg[P4_ERROR_MESSAGE_MAX];
    struct p4_helmrun_options opts = {0};
    struct outcome o = {0};
    uv_loop_t loop;
    struct p4_childproc_result res = {0};

    (void)state;
    if (realpath(REAL_HELM, helm) == NULL || access(helm, X_OK) != 0) {
        print_message("skipped: no helm binary at " REAL_HELM " (run `make deps`)\n");
        skip();
    }
    assert_non_null(realpath("test/e2e/charts", charts));
    assert_non_null(mkdtemp(dir));
    (void)snprintf(home, sizeof(home), "%s/home", dir);
    (void)snprintf(cache, sizeof(cache), "%s/cache", dir);
    (void)snprintf(config, sizeof(config), "%s/config", dir);
    (void)snprintf(data, sizeof(data), "%s/data", dir);
    opts.helm = helm;
    opts.home = home;
    opts.cache_home = cache;
    opts.config_home = config;
    opts.data_home = data;
    opts.timeout_ms = 60000;
    assert_int_equal(uv_loop_init(&loop), 0);

    /* helm sees the directories it was given. */
    opts.argv = (const char *[]){"env", NULL};
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    (void)snprintf(want, sizeof(want), "HELM_CACHE_HOME=\"%s\"\n", cache);
    assert_non_null(strstr(o.out, want));
    (void)snprintf(want, sizeof(want), "HELM_DATA_HOME=\"%s\"\n", data);
    assert_non_null(strstr(o.out, want));
    outcome_free(&o);

    /* Values on stdin with -f -. */
    opts.cwd = charts;
    opts.argv = (const char *[]){"template", "rel", "./webapp", "-f", "-", NULL};
    opts.stdin_data = "replicaCount: 5\n";
    opts.stdin_len = strlen(opts.stdin_data);
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "  replicas: 5\n"));
    outcome_free(&o);

    /* A schema violation, read by helmout. */
    opts.argv = (const char *[]){"template", "rel", "./schema-violation", NULL};
    opts.stdin_data = NULL;
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 1);
    res.exit_status = o.status;
    res.out = o.out;
    res.out_len = o.out_len;
    res.err = o.err;
    res.err_len = o.err_len;
    assert_int_equal(p4_helm_classify_run("template", &res, msg, sizeof(msg)),
                     P4_HELM_VALUES_SCHEMA_INVALID);
    assert_string_equal(msg, "values do not match the chart's values.schema.json: /replicaCount: "
                             "got string, want integer");
    outcome_free(&o);

    /* lint --strict of a chart with a warning. */
    opts.argv = (const char *[]){"lint", "--strict", "./lint-error", NULL};
    run(&loop, &opts, &o);
    assert_int_equal(o.status, 1);
    res.exit_status = o.status;
    res.out = o.out;
    res.out_len = o.out_len;
    res.err = o.err;
    res.err_len = o.err_len;
    assert_int_equal(p4_helm_classify_run("lint", &res, msg, sizeof(msg)), P4_HELM_LINT_FAILED);
    outcome_free(&o);

    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_status_and_output),
        cmocka_unit_test(output_over_the_limit_is_cut_and_drained),
        cmocka_unit_test(time_limit_sends_sigterm_then_sigkill),
        cmocka_unit_test(stdin_reaches_helm),
        cmocka_unit_test(environment_is_clean),
        cmocka_unit_test(cancel_kills_and_calls_back_once),
        cmocka_unit_test(bad_options_and_missing_binaries),
        cmocka_unit_test(no_descriptor_or_child_is_left),
        cmocka_unit_test(real_helm),
    };
    return cmocka_run_group_tests_name("helmrun", tests, NULL, NULL);
}
