/*
 * main.c: the phase4-operator command. It hands the command line to a
 * subcommand (resolve, image-check, apply, chart-fetch, report, health) or,
 * without one, reads the operator's flags and runs the operator (see cmd.h for
 * the files).
 *
 * Installed on PATH as kubectl-phase4, the binary is a kubectl plugin: kubectl
 * runs it for `kubectl phase4 ...` with what follows, so its first argument is
 * always a subcommand (`kubectl phase4 report NAME`), never the operator's flags.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "phase4/core/log.h"

#define PLUGIN_NAME "kubectl-phase4"

/* Whether argv0's last path segment names the kubectl plugin. */
static bool called_as_plugin(const char *argv0)
{
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;

    return argv0 != NULL && strcmp(base ? base + 1 : argv0, PLUGIN_NAME) == 0;
}

static void plugin_usage(FILE *out)
{
    (void)fputs("usage: kubectl phase4 COMMAND ...\n"
                "\n"
                "phase4-operator's commands as a kubectl plugin (this binary on PATH as\n"
                "kubectl-phase4):\n"
                "\n",
                out);
    p4_cmd_report_usage(out, "kubectl phase4");
    (void)fputs("\n  resolve, image-check, apply, chart-fetch and health work here too: see\n"
                "  phase4-operator --help\n",
                out);
}

int main(int argc, char **argv)
{
    struct p4_cmd_options o = {.workers = 4,
                               .qps = 20,
                               .burst = 40,
                               .log_level = P4_LOG_INFO,
                               .metrics_addr = ":8080",
                               .probe_addr = ":8081",
                               .leader_elect = 1,
                               .leader_id = "phase4-operator",
                               .grace_ms = 10000,
                               .progress_ms = 10000,
                               .recheck_spread_ms = 600000,
                               .cache_dir = "/tmp/phase4-operator"};
    bool plugin = argc >= 1 && called_as_plugin(argv[0]);
    int rc;

    /* A peer that hangs up mid-write (a scrape that timed out) is an EPIPE, not a death. */
    (void)signal(SIGPIPE, SIG_IGN);
    if (plugin) {
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            plugin_usage(argc < 2 ? stderr : stdout);
            return argc < 2 ? 2 : 0;
        }
    }
    if (argc >= 2 && strcmp(argv[1], "report") == 0) {
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return p4_cmd_report(argc - 2, argv + 2, plugin ? "kubectl phase4" : "phase4-operator");
    }
    if (argc >= 2 && strcmp(argv[1], "apply") == 0) {
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return p4_cmd_apply(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "health") == 0) {
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return p4_cmd_health(argc - 2, argv + 2);
    }
    if (argc >= 4 && strcmp(argv[1], "chart-fetch") == 0) {
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return p4_cmd_chart_fetch(argc - 2, argv + 2);
    }
    if (argc >= 3 && strcmp(argv[1], "image-check") == 0) {
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return p4_cmd_image_check(argc - 2, argv + 2);
    }
    if (argc >= 4 && strcmp(argv[1], "resolve") == 0) {
        /* The flags follow KIND: argv + 3 makes KIND the "program name" parse_flags skips. */
        rc = p4_cmd_parse_flags(argc - 3, argv + 3, &o);
        if (rc != 0)
            return rc > 0 ? 0 : 2;
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return p4_cmd_resolve(&o, argv[2], argv[3]);
    }
    if (plugin) {
        /* kubectl phase4 never runs the operator itself. */
        (void)fprintf(stderr,
                      "kubectl phase4: unknown command, or too few arguments: '%s' (see kubectl "
                      "phase4 --help)\n",
                      argv[1]);
        return 2;
    }
    rc = p4_cmd_parse_flags(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : (rc == -1 ? 2 : 1);
    p4_log_setup((enum p4_log_level)o.log_level, o.log_json, stderr);
    return p4_cmd_operator(&o);
}
