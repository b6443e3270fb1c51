/*
 * helmout.h: what a failed helm run means, as a condition reason and one
 * sentence a user can act on.
 *
 * p4_helm_classify reads what helm 3 wrote (stdout and stderr, as captured
 * by helmrun) and picks a reason: the chart or version is not in the
 * repository, the repository cannot be reached / refuses the credentials /
 * has a certificate we cannot verify, the values break the chart's
 * values.schema.json, a template does not render, or `helm lint --strict`
 * reports problems. The message quotes helm's own line for it (cleaned to
 * printable ASCII, cut at P4_HELM_QUOTE_MAX bytes; for a template error the
 * whole first paragraph, as a chart's `fail` with a text of several lines
 * writes it, within a larger bound), never the whole log;
 * for schema violations it lists every violated JSON path, sorted so the
 * message is the same on every run. Helm's output is untrusted: any bytes,
 * any size.
 *
 * Values may hold secrets. Nothing is quoted beyond the lines helm printed
 * for the error, and of those the instance value helm echoes in "pattern"
 * and "format" schema violations ('...' does not match pattern) is replaced
 * by the word "value"; user:password@ in URLs becomes ***@. Template errors
 * (`fail`, `required`) say what the chart's author wrote, which may include
 * values: the Helm stage redacts every Secret value from helm's output before
 * it is read here (core/redact.h), so only values not from a Secret remain.
 *
 * Failure classes the Helm stage is expected to use: ChartRepositoryUnavailable
 * and HelmTimedOut are transient; ChartRepositoryAuthFailed and
 * ChartRepositoryTLSError need a person (credentials, CA); the rest are
 * artifact failures (the chart or its values must change).
 */
#ifndef PHASE4_HELMOUT_H
#define PHASE4_HELMOUT_H

#include <stddef.h>

#include "phase4/stages/helm/helmrun.h"

/* Longest piece of helm output quoted in a message, in bytes (longer is cut, ending "..."). */
#define P4_HELM_QUOTE_MAX 300
/* The same for a template error's first paragraph (all of what a chart's `fail` says, mostly). */
#define P4_HELM_RENDER_QUOTE_MAX 440

/* X(name, reason): name becomes P4_HELM_<name>, reason is the condition reason. */
#define P4_HELM_REASON_MAP(X)                                                                      \
    X(OK, "HelmSucceeded")                                                                         \
    X(CHART_NOT_FOUND, "ChartNotFound")                                                            \
    X(REPO_UNAVAILABLE, "ChartRepositoryUnavailable")                                              \
    X(REPO_AUTH_FAILED, "ChartRepositoryAuthFailed")                                               \
    X(REPO_TLS_ERROR, "ChartRepositoryTLSError")                                                   \
    X(LINT_FAILED, "ChartLintFailed")                                                              \
    X(VALUES_SCHEMA_INVALID, "ValuesSchemaInvalid")                                                \
    X(TEMPLATE_RENDER_FAILED, "TemplateRenderFailed")                                              \
    X(DRY_RUN_REJECTED, "DryRunRejected")                                                          \
    X(TIMED_OUT, "HelmTimedOut")                                                                   \
    X(FAILED, "HelmFailed")

enum p4_helm_reason {
#define P4_HELM_ENUM(name, reason) P4_HELM_##name,
    P4_HELM_REASON_MAP(P4_HELM_ENUM)
#undef P4_HELM_ENUM
};

/* The CamelCase reason ("ChartNotFound"); "Unknown" for a value not in the map. */
const char *p4_helm_reason_name(enum p4_helm_reason r);

/*
 * Classify what one helm command wrote. command is what was run ("lint",
 * "template", "pull", "show", ...; NULL reads as "helm"), exit_status its
 * exit status (0 gives P4_HELM_OK and an empty message). out and err (may be
 * NULL when their length is 0) need not be NUL-terminated. msg receives one
 * sentence, always NUL-terminated within size bytes; msg may be NULL when
 * size is 0. Timeouts and signals are not visible here: see
 * p4_helm_classify_run.
 */
enum p4_helm_reason p4_helm_classify(const char *command, int exit_status, const char *out,
                                     size_t out_len, const char *err, size_t err_len, char *msg,
                                     size_t size);

/*
 * The same for a helmrun result (borrowed): a run stopped at its time limit
 * gives P4_HELM_TIMED_OUT, one killed by a signal or whose stdout was cut at
 * the limit P4_HELM_FAILED; otherwise p4_helm_classify decides.
 */
enum p4_helm_reason p4_helm_classify_run(const char *command, const struct p4_childproc_result *res,
                                         char *msg, size_t size);

/*
 * DryRunRejected is decided by the caller, from the API server's answer to
 * the server-side dry run of one rendered object (kind, namespace (NULL or ""
 * for cluster-scoped) and name of the object; api_message is the sentence
 * p4_apistatus_to_error made). Fills msg as p4_helm_classify does, e.g.
 * `the API server rejected Deployment shop/web in a server-side dry run:
 * Deployment.apps "web" is invalid: ...`, and returns P4_HELM_DRY_RUN_REJECTED.
 */
enum p4_helm_reason p4_helm_dry_run_rejected(const char *kind, const char *namespace_,
                                             const char *name, const char *api_message, char *msg,
                                             size_t size);

#endif
