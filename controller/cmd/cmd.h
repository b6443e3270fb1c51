/*
 * cmd.h: what the files of the phase4-operator command share (internal to
 * controller/cmd/).
 *
 * main.c reads the command line and hands it on: to the operator itself
 * (operator.c), or to a subcommand, one file each (resolve.c, imagecheck.c,
 * apply.c, chartfetch.c, report.c, health.c). flags.c holds the operator's
 * flags and the cluster configuration they name; files.c reads the files a
 * subcommand is given.
 * A subcommand returns the process's exit code and prints what it has to say
 * on stdout and stderr itself.
 */
#ifndef PHASE4_CMD_H
#define PHASE4_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "phase4/core/error.h"
#include "phase4/kube/kubeconfig.h"
#include "phase4/oci/regauth.h"

/* The operator's flags; strings are borrowed from argv, but helm, which points into the
   struct (helm_path) when --helm-binary is given. */
struct p4_cmd_options {
    const char *kubeconfig;
    const char *context;
    int workers;
    double qps;
    unsigned burst;
    int rate_set; /* --kube-api-qps or --kube-api-burst given: no APF detection */
    int log_level;
    int log_json;
    const char *metrics_addr;
    const char *probe_addr;
    int leader_elect;
    const char *leader_namespace;
    const char *leader_id;
    long grace_ms;
    uint64_t retry_ms, recheck_ms, scan_poll_ms, helm_timeout_ms, unschedulable_grace_ms;
    uint64_t progress_ms;       /* --status-progress-interval; 0: progress is written at once */
    uint64_t recheck_spread_ms; /* --recheck-spread; 0: no trust, every resource at once */
    int helm_concurrency;       /* --helm-concurrency; 0: the CPUs the process may use */
    const char *helm;           /* the helm binary: an absolute path, or NULL for the default */
    char helm_path[4096];       /* --helm-binary, resolved (helm runs in its own work directory) */
    const char *cache_dir;      /* charts and helm's own homes */
    const char *default_service_account; /* --default-service-account, or NULL */
    int no_cross_namespace_refs;         /* --no-cross-namespace-refs */
    const char *notify_allow;            /* --notify-allow: URL prefixes, or NULL (any) */
};

/* flags.c: parse the flags into o; returns 0, 1 for "exit 0 now" (help, version), or -1 on a
   bad flag (said on stderr). */
int p4_cmd_parse_flags(int argc, char **argv, struct p4_cmd_options *o);
/* flags.c: the cluster configuration from --kubeconfig, $KUBECONFIG, the in-cluster service
   account, then ~/.kube/config. *cfg: caller frees with p4_kube_config_free. */
int p4_cmd_load_config(const struct p4_cmd_options *o, struct p4_kube_config **cfg,
                       struct p4_error *err);

/* files.c: the first P4_REGAUTH_INPUT_MAX bytes of path, NUL-terminated (caller frees), and
   their count in *len; NULL when it cannot be opened. */
char *p4_cmd_read_file(const char *path, size_t *len);
/* files.c: all of path ("-": standard input), NUL-terminated after *len bytes (caller frees, and
   wipes: it may hold Secrets); NULL with err when it cannot be opened or read, or holds more
   than max bytes (P4_ERR_TOOBIG). */
char *p4_cmd_read_input(const char *path, size_t max, size_t *len, struct p4_error *err);
/*
 * files.c: credentials for ref_or_host from a docker config file (as `docker
 * login` writes it) into auth; *cred is the matching entry (borrowed from
 * auth), or NULL. The file's bytes are wiped. Returns 0, or 1 after saying
 * why on stderr.
 */
int p4_cmd_load_docker_config(const char *path, const char *ref_or_host, struct p4_regauth *auth,
                              const struct p4_regauth_entry **cred);

/* operator.c: run the operator until SIGTERM or SIGINT; the exit code. */
int p4_cmd_operator(const struct p4_cmd_options *o);

/* The subcommands; argv holds what follows the subcommand's name. The exit code. */
int p4_cmd_resolve(const struct p4_cmd_options *o, const char *api_version, const char *kind);
int p4_cmd_image_check(int argc, char **argv);
int p4_cmd_apply(int argc, char **argv);
int p4_cmd_chart_fetch(int argc, char **argv);
/* program: how the user called it, "phase4-operator" or "kubectl phase4", for usage lines. */
int p4_cmd_report(int argc, char **argv, const char *program);
/* report.c: the report subcommand's lines of the usage text. */
void p4_cmd_report_usage(FILE *out, const char *program);
int p4_cmd_health(int argc, char **argv);

#endif
