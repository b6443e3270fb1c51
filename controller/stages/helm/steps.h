/*
 * steps.h: what the Helm stage's files share; internal to stages/helm.
 *
 * stage.c drives a run (struct run) through its steps (enum step) and owns
 * the stage.h operations; each step, or close group of steps, has a file of
 * its own, entered through a p4_helm_<step> function: read.c (S_READ),
 * render.c (S_FETCH, S_LINT, S_TEMPLATE), dryrun.c (S_DRYRUN) and store.c
 * (S_STORE). The callbacks in those files only carry out what a pure
 * function below decides (which gate fails, with which failure class and
 * reason, for which answer), so helmstage_test.c checks the decisions
 * without a loop, a cluster or helm.
 *
 * Ownership: a struct work belongs to its run for one attempt (stage.c frees
 * it); everything a decision function is given is borrowed for the call.
 */
#ifndef PHASE4_HELM_STEPS_H
#define PHASE4_HELM_STEPS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "helmout.h"
#include "phase4/kube/apply.h"
#include "phase4/oci/regauth.h"
#include "phase4/reconciler/manifest.h"
#include "phase4/reconciler/stagerun.h"
#include "phase4/stages/helm/chartfetch.h"
#include "phase4/stages/helm/helmrun.h"
#include "phase4/stages/helm/stage.h"

#define SOURCES_MAX 32      /* valuesFrom entries read; more are ignored */
#define SECRET_NAME_MAX 253 /* a Secret's name */
#define HELM_ARGV_MAX 16    /* arguments of one helm command, and the NULL */

enum gate { G_PACKAGED, G_LINTS, G_VALUES, G_PINNED, G_DRYRUN, G_COUNT };

enum step {
    S_READ,     /* the cluster's version and API versions, credentials, CA, valuesFrom */
    S_FETCH,    /* the chart (chartfetch) */
    S_LINT,     /* values composed; helm lint --strict */
    S_TEMPLATE, /* helm template */
    S_PIN,      /* the checked image written into every pod template that names it (pin.h) */
    S_DRYRUN,   /* every rendered object, dryRun=All */
    S_STORE,    /* the manifest Secret, and older ones pruned */
    S_DONE,
};

struct p4_helm_stage {
    struct p4_stagerunner sr; /* first: a run's sr is its stage */
    struct p4_helm_stage_config cfg;
    char *helm, *work_dir, *home, *cache_home, *config_home, *data_home;
    char kube_version[64]; /* "v1.36.3" from /version, or "" */
    uint64_t kube_version_at;
};

/* One spec.chart.valuesFrom entry and what was read for it. */
struct source {
    const char *kind; /* static */
    char *name, *key, *target_path;
    bool optional;
    char *text; /* the key's content (wiped before it is freed), or NULL when missing */
    size_t len;
};

/* The image the Docker stage checked, and where the chart's values take it. */
struct image_pin {
    char *repository; /* spec.image.repository */
    char *tag;        /* spec.image.tag, or NULL */
    char digest[80];  /* status.image.digest */
    cJSON *paths;     /* spec.image.valuesPaths, or NULL: image.repository and image.digest */
};

/* What one attempt works with; it exists only while the attempt runs. */
struct work {
    char *username, *password; /* the repository's credentials (wiped) */
    unsigned char *ca;
    size_t ca_len;
    struct source src[SOURCES_MAX];
    size_t nsrc;
    char kube_version[64];
    char *api_versions;
    char chart_path[1024];
    char *values; /* JSON text for helm's stdin (wiped) */
    size_t values_len;
    char *manifest;
    size_t manifest_len;
    cJSON *objects; /* the rendered objects */
    int obj_i, nobj, skipped;
    char skipped_why[256];
    struct p4_helmrun *helm; /* while helm runs */
};

struct run {
    struct p4_stagerun base; /* first: answers get the run as their data */
    struct image_pin pin;    /* owned: repository, tag (or NULL), digest, valuesPaths */
    cJSON *chart;            /* copy of spec.chart */
    bool force, create_namespace;
    struct work *w;

    /* What the checks found; kept across attempts. */
    char version[128], digest[80], secret[SECRET_NAME_MAX + 1];
    int nobjects;
};

/* How a gate fails: the gate, its failure class and its reason (static). */
struct failure {
    enum p4_failure_class cls;
    enum gate gate;
    const char *reason;
};

static inline struct p4_helm_stage *stage_of(const struct run *r)
{
    return (struct p4_helm_stage *)r->base.sr;
}

static inline int kube_send(struct run *r, const char *method, const char *path, p4_kube_cb cb)
{
    return p4_stagerun_request(&r->base, stage_of(r)->cfg.kube, method, path, cb);
}

/* ---- stage.c: a run and its work ---- */

/* An attempt's work, with the valuesFrom entries of spec.chart (borrowed) to read. */
struct work *p4_helm_work_new(const cJSON *chart);
/* Free w, wiping what may be secret; NULL is fine. */
void p4_helm_work_free(struct work *w);

/* ---- read.c: S_READ ---- */

void p4_helm_read(struct run *r);
/* The API server's /version answer (rc, its gitVersion or NULL): true and *f when it fails. */
bool p4_helm_version_failure(int rc, const char *git_version, struct failure *f);
/* The chart repository Secret read (rc); complete: it has username and password. */
bool p4_helm_credentials_failure(int rc, bool complete, struct failure *f);
/* The CA bundle read (rc); has_key: the bundle's key is in it. */
bool p4_helm_ca_failure(int rc, bool has_key, struct failure *f);
/* A valuesFrom object read (rc); a missing one is not a failure here (see p4_helm_values). */
bool p4_helm_source_failure(int rc, struct failure *f);

/* ---- render.c: S_FETCH, S_LINT, S_TEMPLATE ---- */

void p4_helm_fetch(struct run *r);
void p4_helm_lint(struct run *r);
void p4_helm_template(struct run *r);
void p4_helm_pin(struct run *r);
/*
 * What to ask chartfetch for, from spec.chart and the credentials and CA read: req (and cred,
 * whose host is written to host) point into chart and w, which must outlive them.
 */
void p4_helm_chart_request(const cJSON *chart, const struct work *w, struct p4_chart_request *req,
                           struct p4_regauth_entry *cred, char *host, size_t host_size);
/* A chart fetch that failed with rc (reason: chartfetch's, or NULL). */
struct failure p4_helm_fetch_failure(int rc, const char *reason);
/*
 * The values helm gets, as JSON text (caller wipes and frees; length in *len): valuesFrom
 * (w's sources, named "<ns>/<name>"), then spec.chart.values, then the checked image: by
 * default image.repository and image.digest; with spec.image.valuesPaths, each path it names
 * (registry: the repository's host, docker.io when it has none, and repository then the rest;
 * tag: spec.image.tag, when the spec gives one; digest). NULL on failure, with *f and err set;
 * f->reason is NULL (and err untouched) only when the text could not be printed, which fails
 * no gate.
 */
char *p4_helm_values(const struct work *w, const char *ns, const cJSON *chart,
                     const struct image_pin *pin, size_t *len, struct failure *f,
                     struct p4_error *err);
/*
 * Step S_PIN on manifest (len bytes): its objects (into *objects, caller deletes), with every
 * container naming pin's repository rewritten to "<repository>@<digest>", printed back as a
 * manifest (one JSON document per object; caller frees, length in *out_len), and the
 * ImagePinned gate's message in msg (size bytes). Returns the manifest; NULL with *f and the
 * reason in msg when the gate fails (*objects then NULL).
 */
char *p4_helm_pin_manifest(const char *manifest, size_t len, const struct image_pin *pin,
                           cJSON **objects, size_t *out_len, char *msg, size_t size,
                           struct failure *f);
/* argv (HELM_ARGV_MAX entries) for `helm lint` and `helm template` of r's chart, NULL-ended. */
void p4_helm_lint_argv(const struct run *r, const char **argv);
void p4_helm_template_argv(const struct run *r, const char **argv);
/* Did a helm run fail? whole_output: stdout cut at the limit counts as failed too. */
bool p4_helm_run_failed(const struct p4_childproc_result *res, bool whole_output);
/* The failure of a helm run that stopped at why, in the step checking gate own. */
struct failure p4_helm_reason_failure(enum p4_helm_reason why, enum gate own);
/*
 * The same from a failed run of helm command (res): its reason classified (helmout.h), a
 * message in msg (size bytes) that says what helm said.
 */
struct failure p4_helm_run_failure(const char *command, enum gate own,
                                   const struct p4_childproc_result *res, char *msg, size_t size);
/* The gates (bits 1u << g) shown NotChecked when helm fails gate failed, given the gates now. */
unsigned p4_helm_not_checked(enum gate failed, const struct p4_gate *gates);

/* ---- dryrun.c: S_DRYRUN ---- */

void p4_helm_dry_run(struct run *r);

/* What the dry run of one rendered object answered means. */
enum dry_answer {
    DRY_ACCEPTED,       /* the API server accepted it */
    DRY_SKIP_CRD,       /* its kind is one a CRD of the chart defines: checked later */
    DRY_SKIP_NAMESPACE, /* its namespace is created by the Kubernetes stage: checked later */
    DRY_FAILED,         /* *f says how DryRun fails */
};
/*
 * res: the answer for obj, one of the rendered objects; create_namespace: the
 * Kubernetes stage creates the target namespace.
 */
enum dry_answer p4_helm_dry_run_answer(const struct p4_apply_result *res, const cJSON *objects,
                                       const cJSON *obj, bool create_namespace, struct failure *f);

/* ---- store.c: S_STORE ---- */

void p4_helm_store(struct run *r);
/* "phase4.<name>.v<generation>", shortened with a hash of the name past 253 characters. */
void p4_helm_secret_name(char *buf, size_t size, const char *name, int64_t generation);
/* The manifest Secret of r (caller frees), or NULL when the manifest cannot be compressed. */
cJSON *p4_helm_manifest_secret(const struct run *r);
/* The existing Secret read before storing (rc, body): true and *f when it must not be written. */
bool p4_helm_existing_failure(int rc, const cJSON *body, const char *uid, struct failure *f);
/* Storing the manifest Secret failed with rc. */
struct failure p4_helm_stored_failure(int rc);
/* The generations whose manifest Secrets are pruned after generation's is stored; how many. */
int p4_helm_prune_generations(int64_t generation, int64_t out[P4_MANIFEST_HISTORY]);
/* An old manifest Secret read (rc, body): is it deleted (owned by uid, and only then)? */
bool p4_helm_prunable(int rc, const cJSON *body, const char *uid);

#endif
