/*
 * report.h: a Phase4Deployment's status as text a person reads (`phase4-operator report`).
 *
 * p4_report_render() writes four sections from the object's status: the Deployment Readiness
 * checklist (status.readiness), the gates of each stage with its condition and duration
 * (status.gates, the DockerReady / HelmReady / KubernetesReady / Validated conditions,
 * status.report.stages), the Cluster Health Summary (status.health), the approval (the
 * AwaitingApproval condition, status.plan and status.approval; only when the status has one),
 * and the verdict with the run's report, the Ready / Reconciling / Stalled conditions and the
 * next steps. It is pure: no
 * clock, no I/O, the same bytes for the same object.
 *
 * The status comes from the cluster, so nothing in it is trusted: a member of the wrong type
 * counts as absent, every string passes through p4_text_clean (one line, no control bytes or
 * escape sequences, valid UTF-8, bounded), and lists are shown up to a bound with the rest
 * counted. Every line is one fact and none is wrapped, so the output is stable and greppable
 * (`| grep Docker/`). README.md, "phase4-operator report", shows it.
 *
 * Ownership: obj is borrowed for the call; out is the caller's (text is appended to it).
 */
#ifndef PHASE4_REPORT_H
#define PHASE4_REPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "phase4/core/buf.h"
#include "phase4/core/error.h"

/* Plain ASCII: [OK] [FAIL] [WAIT] [N/A] for the symbols, and outside text cleaned to ASCII. */
#define P4_REPORT_ASCII 0x1u

/* Where the current generation stands, as the report's verdict line says it. */
enum p4_report_outcome {
    P4_REPORT_SUCCESSFUL,  /* status.verdict SUCCESSFUL for metadata.generation */
    P4_REPORT_FAILED,      /* status.verdict FAILED for metadata.generation */
    P4_REPORT_STALLED,     /* no verdict, Stalled=True: nothing moves until someone acts */
    P4_REPORT_IN_PROGRESS, /* anything else: no status yet, stages running, an old verdict */
};

/*
 * The object of an API answer's len bytes at buf (need not be NUL-terminated), reduced to what
 * the report reads, without parsing the rest: metadata's namespace, name and generation read
 * shallowly, and status parsed on its own. So a spec nested deeper than cJSON reads (the API
 * server accepts it; see docs/architecture.md, the informer) does not hide the status. A status
 * that cannot be parsed is replaced by a string saying why, which the report shows. Returns
 * the tree (caller frees with cJSON_Delete), or NULL with err filled when buf is not a JSON
 * object (P4_ERR_PARSE).
 */
cJSON *p4_report_read(const char *buf, size_t len, struct p4_error *err);

/* Where obj's current generation stands (see the enum); obj may be NULL or any JSON. */
enum p4_report_outcome p4_report_outcome(const cJSON *obj);

/*
 * Append the report of obj (a Phase4Deployment, any JSON accepted) to out; flags:
 * P4_REPORT_ASCII or 0 (emoji). Returns p4_report_outcome(obj).
 */
enum p4_report_outcome p4_report_render(const cJSON *obj, unsigned flags, struct p4_buf *out);

#endif
