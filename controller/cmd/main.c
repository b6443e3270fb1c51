/*
 * main.c: the phase4-operator command. It hands the command line to a
 * subcommand (resolve, image-check, apply, chart-fetch) or, without one, reads
 * the operator's flags and runs the operator (see cmd.h for the files).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "phase4/core/log.h"

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
                               .cache_dir = "/tmp/phase4-operator"};
    int rc;

    /* A peer that hangs up mid-write (a scrape that timed out) is an EPIPE, not a death. */
    (void)signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "apply") == 0) {
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return p4_cmd_apply(argc - 2, argv + 2);
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
    rc = p4_cmd_parse_flags(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : (rc == -1 ? 2 : 1);
    p4_log_setup((enum p4_log_level)o.log_level, o.log_json, stderr);
    return p4_cmd_operator(&o);
}
