/*
 * steps.h: what the Helm stage's files share; internal to stages/helm.
 *
 * stage.c drives a run (struct run) through its steps (enum step) and owns
 * the stage.h operations; each step, or close group of steps, has a file of
 * its own, entered through a p4_helm_<step> function: read.c (S_READ),
 * render.c (S_FETCH, S_LINT, S_TEMPLATE, S_PIN), images.c (S_IMAGES,
 * S_IMAGES_CHECK), dryrun.c (S_DRYRUN) and store.c (S_STORE). The callbacks
 * in those files only carry out what a pure function below decides (which
 * gate fails, with which failure class and reason, for which answer), so
 * helmstage_test.c checks the decisions without a loop, a cluster or helm.
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
#include "imagecache.h"
#include "lintcache.h"
#include "phase4/kube/apply.h"
#include "phase4/oci/imagecheck.h"
#include "phase4/oci/imageref.h"
#include "phase4/oci/ocimanifest.h"
#include "phase4/oci/regauth.h"
#include "phase4/reconciler/manifest.h"
#include "phase4/reconciler/stagerun.h"
#include "phase4/stages/helm/chartfetch.h"
#include "phase4/stages/helm/helmrun.h"
#include "phase4/stages/helm/stage.h"
#include "plan.h"

#define SOURCES_MAX 32      /* valuesFrom entries read; more are ignored */
#define SECRET_NAME_MAX 253 /* a Secret's name */
#define HELM_ARGV_MAX 16    /* arguments of one helm command, and the NULL */
#define OTHER_IMAGES_MAX 64 /* distinct other images checked; more fail ImagesPullable */
#define PULL_SECRETS_MAX 32 /* pull secrets read for them */
#define PLATFORMS_MAX 16    /* platforms each is checked for */

enum gate { G_PACKAGED, G_LINTS, G_VALUES, G_PINNED, G_IMAGES, G_DRYRUN, G_COUNT };

enum step {
    S_READ,         /* the cluster's version and API versions, credentials, CA, valuesFrom */
    S_FETCH,        /* the chart (chartfetch) */
    S_LINT,         /* values composed; helm lint --strict */
    S_TEMPLATE,     /* helm template */
    S_PIN,          /* the checked image written into every pod template that names it (pin.h) */
    S_IMAGES,       /* the other images collected; their pull secrets, CA and platforms read */
    S_IMAGES_CHECK, /* each other image resolved and checked pullable (imagecheck.h), pinned */
    S_DRYRUN,       /* every rendered object, dryRun=All */
    S_STORE,        /* the manifest Secret, and older ones pruned */
    S_DONE,
};

struct p4_helm_stage {
    struct p4_stagerunner sr; /* first: a run's sr is its stage */
    struct p4_helm_stage_config cfg;
    char *helm, *work_dir, *home, *cache_home, *config_home, *data_home;
    char kube_version[64]; /* "v1.36.3" from /version, or "" */
    uint64_t kube_version_at;
    struct p4_imagecache images;        /* the other images' registry answers, for every run */
    struct p4_node_platforms own_nodes; /* the Nodes' platforms when cfg.nodes is NULL */
    /* helm processes (render.c): at most helm_limit run at once (--helm-concurrency); the
       runs waiting for one are in line, oldest first. */
    int helm_limit, helm_running, helm_waiting;
    struct run *hq_head, *hq_tail;
    bool closing;             /* the stage is being freed: no waiting run starts helm */
    struct p4_lintcache lint; /* helm lint's outcomes, for every run (lintcache.h) */
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

/* One distinct image, other than the pinned one, that the rendered pod templates run. */
struct other_image {
    char *image;     /* as the chart wrote it (owned) */
    char *where;     /* where it was first seen: "Deployment web, container metrics" (owned) */
    int count;       /* containers that run it */
    bool invalid;    /* no image reference the runtime would accept */
    char digest[80]; /* what it resolved to, once checked */
};

/* The other images of a manifest and the pull secrets its pod templates name. */
struct other_images {
    struct other_image img[OTHER_IMAGES_MAX];
    size_t n;
    int more; /* containers whose image was not kept (past OTHER_IMAGES_MAX distinct ones) */
    char *secrets[PULL_SECRETS_MAX]; /* the pod templates' imagePullSecrets, first seen first */
    size_t nsecrets;
};

/* What S_IMAGES and S_IMAGES_CHECK work with; part of an attempt's work. */
struct image_work {
    struct other_images imgs;
    char *wanted[PULL_SECRETS_MAX]; /* pull secrets to read: spec.image's, then the templates' */
    bool wanted_from_spec[PULL_SECRETS_MAX];
    size_t nwanted;
    unsigned char *payload[PULL_SECRETS_MAX]; /* each one's decoded config, until added (wiped) */
    size_t payload_len[PULL_SECRETS_MAX];
    const char *payload_type[PULL_SECRETS_MAX]; /* static P4_REGAUTH_* */
    struct p4_regauth auth;                     /* the payloads added in order */
    size_t secret_of[PULL_SECRETS_MAX];         /* auth's secret index → wanted index */
    bool auth_ready;
    unsigned char *ca; /* spec.image.caBundle, for the registry of spec.image.repository */
    size_t ca_len;
    char platforms[PLATFORMS_MAX][3][P4_OCI_PLATFORM_PART_MAX];
    size_t nplatforms;
    size_t img_i, platform_i; /* the image and platform being checked */
    struct p4_image_ref ref;  /* of img_i */
    char host[256];
    struct p4_registry_target target;
    char key[512]; /* img_i's cache key */
    bool scanned;  /* img_i's report was judged (scope all) */
    int reports;   /* other images whose report was found and passed */
    char *report;  /* img_i's report manifest digest, while it is read */
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
    unsigned char *gz; /* the manifest gzipped, as S_STORE writes it, until stored */
    size_t gz_len;
    cJSON *objects; /* the rendered objects */
    int obj_i, nobj, skipped;
    int tests; /* the chart's test hooks: not dry-run (the Validation stage runs them) */
    char skipped_why[256];
    struct p4_helmrun *helm;         /* while helm runs */
    struct p4_lintkey lint_key;      /* a pass's key, once values are composed (lintcache.h) */
    struct p4_lintkey lint_fail_key; /* a failure's: the same and the release namespace */
    struct image_work *iw;           /* from S_IMAGES on */
    struct plan plan;                /* S_DRYRUN's approval plan, when the run makes one */
    cJSON *answer;                   /* the dry-run answer of obj_i while its live object is read */
};

struct run {
    struct p4_stagerun base; /* first: answers get the run as their data */
    struct p4_helm_stage *h; /* its stage (base.sr is NULL once the run is dropped) */
    /* In the stage's line for a helm process (render.c): step S_LINT or S_TEMPLATE starts
       helm when one frees. */
    bool hq_waiting;
    struct run *hq_prev, *hq_next;
    struct image_pin pin; /* owned: repository, tag (or NULL), digest, valuesPaths */
    cJSON *chart;         /* copy of spec.chart */
    cJSON *image;         /* copy of spec.image (pull secrets, CA, platforms, insecure) */
    bool force, create_namespace;
    bool pin_all; /* spec.image.pinAll (default true): the other images are pinned too */
    /* spec.validation.helmTests: the chart's test hooks are rendered too (the Validation stage
       runs them; the Kubernetes stage leaves them out of what it applies). */
    bool helm_tests;
    /* spec.image.scan with scope all: the other images' reports judged too (images.c). */
    bool scan_all, scan_required;
    int scan_max; /* enum p4_severity: spec.image.scan.maxSeverity (default CRITICAL) */
    /* The spec asks for approval (p4_approval_required: spec.approval.required, production):
       the dry run makes the plan (plan.h), with the last revision's inventory (a copy of
       status.inventory, or NULL) for what would be pruned. */
    bool plan_wanted;
    cJSON *inventory;
    struct work *w;

    /* What the checks found; kept across attempts. */
    char version[128], digest[80], secret[SECRET_NAME_MAX + 1];
    int nobjects;
    int nimages; /* other images checked */
    /* The old generations whose manifest Secrets go once this one's is stored: read from the
       resource's status (history, last good revision) at start, p4_manifest_prunable. */
    int64_t prune[P4_MANIFEST_PRUNE_MAX];
    int nprune;
    cJSON *images; /* every image the manifest runs, as applied ("repo@digest" when pinned),
                      the pinned one first; status.chart.images once the stage passed */
    cJSON *plan;   /* status.plan once the dry run made it, or NULL */
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

/* A request as the operator itself: the cluster's state and the operator's own records. */
static inline int kube_send(struct run *r, const char *method, const char *path, p4_kube_cb cb)
{
    return p4_stagerun_request(&r->base, stage_of(r)->cfg.kube, method, path, cb);
}

/* A request as whoever acts for the resource (tenancy.h): what its spec names. */
static inline int kube_send_as(struct run *r, const char *method, const char *path, p4_kube_cb cb)
{
    return p4_stagerun_request(&r->base, r->base.kube, method, path, cb);
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
/*
 * What of a valuesFrom Secret's key (src, read) is redacted from messages (redact.h): with a
 * targetPath the key's text; otherwise every value of the YAML document it holds (or, when it
 * does not parse, its text and lines).
 */
void p4_helm_source_secrets(struct p4_redact *set, const struct source *src);
/* The chart repository's password, and "username:password" (a Basic header's base64). */
void p4_helm_credential_secrets(struct p4_redact *set, const char *username, const char *password);

/* ---- render.c: S_FETCH, S_LINT, S_TEMPLATE ---- */

void p4_helm_fetch(struct run *r);
void p4_helm_lint(struct run *r);
void p4_helm_template(struct run *r);
/* Take r out of the line for a helm process, if it waits there (a dropped or stopped run). */
void p4_helm_unqueue(struct run *r);
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
 * A chart fetch chartfetch refused to start with rc (P4_ERR_INSECURE: credentials for a plain
 * http:// repository not marked insecure, InsecureCredentials; else InvalidChartRepository) for
 * repository: the failure, and its message in msg naming the repository without user
 * information.
 */
struct failure p4_helm_fetch_refused(int rc, const char *repository, char *msg, size_t size);
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
/* objects as a manifest: one JSON document per object (caller frees, length in *len); NULL
   when an object cannot be printed. */
char *p4_helm_print_manifest(const cJSON *objects, size_t *len);
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

/* ---- images.c: S_IMAGES, S_IMAGES_CHECK ---- */

void p4_helm_images(struct run *r);
void p4_helm_check_images(struct run *r);
/* Free iw, wiping the pull secrets' contents; NULL is fine. */
void p4_helm_image_work_free(struct image_work *iw);
/*
 * Every distinct image of objects' pod templates (pin.h) other than those naming repository
 * (the pinned one, rewritten already), first seen first, and the templates' imagePullSecrets,
 * into *out (overwritten; p4_helm_other_images_close frees it). Containers without an image
 * string are left to the dry run.
 */
void p4_helm_collect_images(cJSON *objects, const char *repository, struct other_images *out);
void p4_helm_other_images_close(struct other_images *o);
/* true and *f with the message in msg when the images cannot be checked (an invalid reference,
   too many images); false otherwise. */
bool p4_helm_images_unfit(const struct other_images *o, struct failure *f, char *msg, size_t size);
/*
 * "<image as written, without its tag or digest>@<digest>" into buf (size bytes): the
 * registry and repository text the chart wrote is kept. false (buf "") when it does not fit.
 */
bool p4_helm_pinned_name(const char *image, const char *digest, char *buf, size_t size);
/* Rewrite every container of objects running one of o's images to its pinned name (each
   must have its digest); returns how many containers changed. */
int p4_helm_pin_others(cJSON *objects, const struct other_images *o);
/*
 * The cache key of image ref checked for platforms (text) on t (its host, transport, CA and
 * credential fingerprinted, never written out) into buf (size bytes).
 */
void p4_helm_image_key(const struct p4_image_ref *ref, const char *platforms,
                       const struct p4_registry_target *t, char *buf, size_t size);
/* How long a registry's answer for ref is kept: a digest's an hour, a tag's ten minutes. */
uint64_t p4_helm_image_ttl(const struct p4_image_ref *ref);
/* Whether image (a reference) is on the registry of repository (spec.image.repository), whose
   insecure and caBundle settings then apply to it. */
bool p4_helm_same_registry(const struct p4_image_ref *image, const char *repository);
/* The failure class for what a failed check means (imagecheck.h). */
enum p4_failure_class p4_helm_image_class(enum p4_image_failure why);
/*
 * A failed check (res) of img, in namespace ns with the pull secret secret (NULL: none
 * matched) of wanted (n names): the ImagesPullable failure and its message in msg, naming the
 * image, where it runs and what to do.
 */
struct failure p4_helm_image_failure(const struct p4_image_check *res,
                                     const struct other_image *img, const char *ns,
                                     const char *secret, char *const *wanted, size_t n, char *msg,
                                     size_t size);
/*
 * A pull secret's read (rc; has_payload: a docker config of a known type) of one from spec.image
 * (from_spec) or a pod template: true and *f when it fails the gate (a template's missing
 * secret is skipped, as a kubelet does).
 */
bool p4_helm_pull_secret_failure(int rc, bool from_spec, bool has_payload, struct failure *f);
/* The ImagesPullable gate's message when every image of o passed (pin_all: they were pinned),
   bounded by size; o->n 0: the chart runs no other image. */
void p4_helm_images_message(const struct other_images *o, bool pin_all, const char *repository,
                            char *buf, size_t size);

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
/* The same from the manifest gzipped already (gz, gz_len); caller frees. */
cJSON *p4_helm_manifest_secret_gz(const struct run *r, const unsigned char *gz, size_t gz_len);
/* The create's answer (rc): stored, the Secret exists (read it for the owner check), failed. */
enum p4_helm_created { HELM_CREATED, HELM_EXISTS, HELM_NOT_CREATED };
enum p4_helm_created p4_helm_created(int rc);
/* The existing Secret read before storing (rc, body): true and *f when it must not be written. */
bool p4_helm_existing_failure(int rc, const cJSON *body, const char *uid, struct failure *f);
/* Storing the manifest Secret failed with rc and the API server's message (may be NULL). */
struct failure p4_helm_stored_failure(int rc, const char *message);
/* An old manifest Secret read (rc, body): is it deleted (owned by uid, and only then)? */
bool p4_helm_prunable(int rc, const cJSON *body, const char *uid);

/*
 * Scan scope all: the report attached to other image img (its body, len bytes) judged against
 * max (enum p4_severity). true when it passes; false with *f (gate ImagesPullable, artifact:
 * VulnerabilitiesFound or ScanReportInvalid) and msg naming the image and where it runs.
 */
bool p4_helm_scan_verdict(const struct other_image *img, const char *body, size_t len, int max,
                          char *msg, size_t size, struct failure *f);
/* The same when img has no report: it fails (ScanReportMissing) only when required. */
bool p4_helm_no_report_verdict(const struct other_image *img, bool required, char *msg, size_t size,
                               struct failure *f);

#endif
