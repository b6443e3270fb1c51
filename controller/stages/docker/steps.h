/*
 * steps.h: what the Docker stage's files share (internal to stages/docker/).
 *
 * stage.c holds the stage.h operations and drives a run from step to step
 * (enum step); each step lives in a file of its own and is entered through
 * its p4_docker_<step>() function: build.c (S_BUILD, the build Job),
 * secrets.c (S_GATHER, S_SECRETS, S_CREDENTIALS: the ServiceAccount, Nodes,
 * CA bundle, signature key and pull secrets), resolve.c (S_RESOLVE, and the
 * classification of a registry's answer every registry step uses), scan.c
 * (S_SCAN) and sign.c (S_SIGN).
 *
 * The stage's decisions (which gate, which failure class, which reason and
 * message for which input) are pure functions below, filling a struct
 * verdict from plain inputs; the callbacks read the answer, ask for the
 * verdict and apply it to the run. The unit tests call them directly.
 *
 * Ownership: a run owns its work (p4_docker_work_new/_free) while an attempt
 * runs; the work owns every pointer in it. Every pointer argument below is
 * borrowed for the call only unless its comment says otherwise.
 */
#ifndef PHASE4_DOCKER_STEPS_H
#define PHASE4_DOCKER_STEPS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cosign.h"
#include "phase4/core/error.h"
#include "phase4/core/strmap.h"
#include "phase4/kube/client.h"
#include "phase4/oci/imagecheck.h"
#include "phase4/oci/imageref.h"
#include "phase4/oci/ocimanifest.h"
#include "phase4/oci/regauth.h"
#include "phase4/oci/registry.h"
#include "phase4/reconciler/stagerun.h"
#include "phase4/scan/scanreport.h"
#include "phase4/scan/vulnreport.h"
#include "phase4/stages/docker/stage.h"

#define PLATFORMS_MAX 16
#define SECRETS_MAX 32

enum gate { G_BUILT, G_PUSHED, G_SCANNED, G_SIGNED, G_PULLABLE, G_COUNT };
/* "Built", "Pushed", ...: the gates' names in status order. */
extern const char *const p4_docker_gate_names[G_COUNT];

enum step {
    S_BUILD,       /* the build Job, when spec.image.build asks for one */
    S_GATHER,      /* ServiceAccount, Nodes, CA bundle, signature key */
    S_SECRETS,     /* the pull secrets */
    S_CREDENTIALS, /* which of them the registry gets */
    S_RESOLVE,     /* digest, blobs and platforms (imagecheck, one platform at a time) */
    S_SCAN,        /* VulnerabilityReports, then referrers */
    S_SIGN,        /* the cosign signature */
    S_DONE,
};

struct p4_docker_stage {
    struct p4_stagerunner sr; /* first: a run's sr is its stage */
    struct p4_docker_stage_config cfg;
    struct p4_node_platforms own_nodes; /* the Nodes' platforms when cfg.nodes is NULL */
    struct vr_share *vr;                /* the shared VulnerabilityReports list (scan.c) */
    bool vr_unserved;                   /* discovery said the CRD is not served ... */
    uint64_t vr_unserved_at;            /* ... at this uv_now() */
    struct p4_strmap sa_names; /* namespace → its default ServiceAccount's pull secret names */
    uint64_t sa_swept;         /* when expired ones were last dropped */
};

/*
 * What one attempt works with: gathered from the cluster, then asked of the
 * registry. It exists only while the attempt runs (a finished or waiting run
 * keeps its result alone), so thousands of resources cost little.
 */
struct work {
    struct p4_regauth auth;
    char *secret_names[SECRETS_MAX]; /* by p4_regauth secret index */
    size_t nsecrets;
    char *wanted[SECRETS_MAX]; /* pull secrets to read: spec first, then the ServiceAccount's */
    bool wanted_from_spec[SECRETS_MAX];
    size_t nwanted;
    unsigned char *payload[SECRETS_MAX]; /* each wanted secret's decoded config, until added */
    size_t payload_len[SECRETS_MAX];
    const char *payload_type[SECRETS_MAX]; /* static P4_REGAUTH_* */
    unsigned char *ca;
    size_t ca_len;
    struct p4_cosign_key *sigkey;
    char platforms[PLATFORMS_MAX][3][P4_OCI_PLATFORM_PART_MAX];
    size_t nplatforms;
    struct p4_image_ref ref;
    char host[256];
    struct p4_registry_target target;
    char manifests[PLATFORMS_MAX][80];
    size_t platform_i;
    char missing[256];           /* platforms the image lacks */
    struct p4_error content_err; /* the first incomplete platform */
    char *report_manifest;       /* referrer chosen for the scan report */
    struct p4_cosign_sigs sigs;
    size_t sig_i;
    struct p4_error sig_err;
};

struct run {
    struct p4_stagerun base; /* first: answers get the run as their data */
    cJSON *image;            /* copy of spec.image */
    struct work *w;          /* while an attempt runs */
    time_t scan_since;       /* when this attempt began waiting for a scan report */

    /* The build Job. */
    char job[64];
    bool job_created, job_done, job_settling, job_dry_run;
    uint64_t build_deadline; /* uv_now() ms when the build has taken too long */

    /* What the checks found; kept across attempts of the same generation. */
    char digest[80];       /* pinned once resolved */
    char *image_platforms; /* "linux/amd64, linux/arm64", or NULL */

    bool want_signature;
};

static inline struct p4_docker_stage *stage_of(const struct run *r)
{
    return (struct p4_docker_stage *)r->base.sr;
}

/*
 * A decision about one gate. V_PASS and V_WAIT set the gate ("True",
 * "Unknown") and go on or wait; V_FAIL fails it with cls (no_recheck: only a
 * new generation can fix it). err holds the message and, for a failure, the
 * code the run's error carries; reason is static.
 */
enum outcome { V_PASS, V_WAIT, V_FAIL };

struct verdict {
    enum outcome outcome;
    enum gate gate;
    enum p4_failure_class cls; /* P4_FAIL_NONE unless V_FAIL */
    const char *reason;
    bool no_recheck;
    struct p4_error err;
};

/* Fail the run's gate as v says (v->outcome is V_FAIL); part: one of a step's parallel requests. */
void p4_docker_fail(struct run *r, const struct verdict *v);
void p4_docker_part_failed(struct run *r, const struct verdict *v);
/* Set the run's gate as v says (V_PASS: "True", V_WAIT: "Unknown"). */
void p4_docker_gate(struct run *r, const struct verdict *v);

/* ---- stage.c: the run and its work ---- */

struct work *p4_docker_work_new(void); /* caller frees with p4_docker_work_free */
void p4_docker_work_free(struct work *w);
/* Add a pull secret to read, once, up to SECRETS_MAX (from_spec: named by spec.image). */
void p4_docker_add_wanted(struct work *w, const char *name, bool from_spec);
/* Add the names in list ([{name}], as pullSecrets and imagePullSecrets), skipping empty ones. */
void p4_docker_add_wanted_list(struct work *w, const cJSON *list, bool from_spec);
/* Add a platform to check, once, up to PLATFORMS_MAX; one with a part too long is dropped. */
void p4_docker_add_platform(struct work *w, const char *os, const char *arch, const char *variant);
/*
 * The reference spec.image names: repository@digest, else repository:tag, else
 * repository:latest ("" for an absent repository).
 */
void p4_docker_image_ref_text(const cJSON *image, char *buf, size_t size);
/* InvalidImageReference when spec.image does not name an image; false when it does. */
bool p4_docker_image_ref_verdict(const cJSON *image, struct verdict *v);
/* The host the registry API answers on (Docker Hub's is registry-1.docker.io); "" for NULL. */
void p4_docker_registry_host(const char *registry, char *buf, size_t size);
/*
 * The digest resource obj resolved for generation before (an operator restart:
 * status.image.digest when status.observedGeneration is generation), into buf;
 * false (buf untouched) when there is none.
 */
bool p4_docker_pinned_digest(const cJSON *obj, int64_t generation, char *buf, size_t size);
/* status.image from the pinned digest and the platforms text; NULL without a digest. */
cJSON *p4_docker_image_status(const char *digest, const char *platforms); /* caller frees */

/* ---- build.c: S_BUILD ---- */

void p4_docker_build(struct run *r);
/* Look at the build Job in the Jobs cache: done, failed, or still running. */
void p4_docker_build_check(struct run *r);
/* "<name>-build-<generation>", the name cut to 40 characters. */
void p4_docker_job_name(const char *name, int64_t generation, char *buf, size_t size);
/*
 * The build Job for resource ns/name (uid, generation) from spec.image.build:
 * its template as the spec, owned by the resource, labelled as the operator's,
 * with activeDeadlineSeconds from build.timeout (default 30 min) unless the
 * template sets one. Caller frees.
 */
cJSON *p4_docker_job_object(const cJSON *image, const char *ns, const char *name, const char *uid,
                            int64_t generation, const char *job_name);
enum job_state {
    JOB_UNSEEN,    /* not in the cache, or not the resource's */
    JOB_RUNNING,   /* neither Complete nor Failed */
    JOB_SUCCEEDED, /* a True Complete condition */
    JOB_FAILED,    /* a True Failed condition: why is "<reason>: <message>" */
};
enum job_state p4_docker_job_state(const cJSON *job, const char *uid, char *why, size_t size);
/* BuildFailed for Job ns/job that failed for why, with the last log lines (NULL or "": none). */
void p4_docker_build_failed_verdict(const char *ns, const char *job, const char *why,
                                    const char *log, struct verdict *v);
enum job_created { JOB_CREATED, JOB_EXISTS, JOB_REFUSED };
/* The API server's answer (rc, e) to creating the build Job; JOB_REFUSED fills v. */
enum job_created p4_docker_job_created_verdict(int rc, const struct p4_error *e, struct verdict *v);
/*
 * The answer (rc, e, job) to reading build Job ns/name that exists already: false when it is
 * the resource's (uid), else v (a read error, or someone else's Job).
 */
bool p4_docker_job_existing_verdict(int rc, const struct p4_error *e, const cJSON *job,
                                    const char *uid, const char *ns, const char *name,
                                    struct verdict *v);
/*
 * The log path of the newest pod in pods (a PodList body) of namespace ns: its first
 * container's last 5 lines; false when no pod or container is named.
 */
bool p4_docker_build_log_path(const cJSON *pods, const char *ns, char *path, size_t size);

/* ---- secrets.c: S_GATHER, S_SECRETS, S_CREDENTIALS ---- */

void p4_docker_gather(struct run *r);
void p4_docker_read_secrets(struct run *r);
/* Add the secrets read in order and pick the registry's credential; 0, or the run failed. */
int p4_docker_use_secrets(struct run *r);
void p4_docker_wipe_payloads(struct work *w);
/* An API server error (rc, e) on reading something the stage needs, for gate g. */
void p4_docker_kube_verdict(int rc, const struct p4_error *e, enum gate g, struct verdict *v);
/*
 * The Nodes' platforms from a NodeList body into w (valid os and arch only, once each), and
 * their "os/arch os/arch" text into list.
 */
void p4_docker_node_platforms(struct work *w, const cJSON *nodes, char *list, size_t size);
/* The platforms of such a text into w. */
void p4_docker_parse_node_platforms(struct work *w, const char *list);
/*
 * The answer (res) to reading spec.image.caBundle in namespace ns: false with the bundle in
 * *ca (caller frees), else v.
 */
bool p4_docker_ca_verdict(const cJSON *image, const char *ns, const struct p4_kube_result *res,
                          unsigned char **ca, size_t *ca_len, struct verdict *v);
/*
 * The answer (res) to reading spec.image.signature.publicKeySecretRef in namespace ns: false
 * with the key in *key (caller frees), else v.
 */
bool p4_docker_sigkey_verdict(const cJSON *image, const char *ns, const struct p4_kube_result *res,
                              struct p4_cosign_key **key, struct verdict *v);
enum secret_answer { SECRET_READ, SECRET_SKIPPED, SECRET_FAILED };
/*
 * The answer (res) to reading w->wanted[i] in namespace ns: SECRET_READ with its payload in
 * w; SECRET_SKIPPED when the ServiceAccount's secret is missing (a kubelet skips it too);
 * SECRET_FAILED and v.
 */
enum secret_answer p4_docker_secret_verdict(struct work *w, size_t i, const char *ns,
                                            const struct p4_kube_result *res, struct verdict *v);
/*
 * Add the payloads read to w->auth in order (the first match wins), then point w->target at
 * the credential for w->ref and the CA: 0, or P4_ERR_INVALID and v (a payload that does not
 * parse). Payloads are wiped either way.
 */
int p4_docker_credentials(struct work *w, const char *ns, struct verdict *v);

/* ---- resolve.c: S_RESOLVE and the registry's answers ---- */

void p4_docker_resolve(struct run *r);

/* What a registry failure's message names. */
struct registry_who {
    const char *secret;  /* the pull secret whose credential was sent, or NULL */
    char *const *wanted; /* the pull secrets listed, in order */
    size_t nwanted;      /* how many */
    const char *ns;      /* the namespace the pods pull from */
    const char *host;    /* the registry */
    const char *repository;
};
/*
 * Credentials, TLS and outages look the same whatever was asked: true with v
 * when the registry's failure rc (message e) is one of them (an outage fails
 * gate g), false for any other rc.
 */
bool p4_docker_registry_verdict(int rc, const struct p4_error *e, enum gate g,
                                const struct registry_who *who, struct verdict *v);
/* The same for run r: fail it, with retry_after_ms for an outage. True when it did. */
bool p4_docker_registry_trouble(struct run *r, int rc, const struct p4_error *e,
                                uint64_t retry_after_ms, enum gate g);
enum check_outcome {
    CHECK_COMPLETE,    /* the platform's image is complete */
    CHECK_FAILED,      /* v: the image cannot pass */
    CHECK_NO_PLATFORM, /* the image has no manifest for the platform */
    CHECK_INCOMPLETE,  /* a blob or config is missing */
};
/* One platform's check (res). */
enum check_outcome p4_docker_check_verdict(const struct p4_image_check *res,
                                           const struct registry_who *who, struct verdict *v);
/* "linux/amd64, linux/arm/v7": the platforms in w. */
void p4_docker_platform_list(const struct work *w, char *buf, size_t size);

/* ---- scan.c: S_SCAN ---- */

void p4_docker_scan(struct run *r);
/* spec.image.scan.maxSeverity; CRITICAL when absent or not a severity. */
enum p4_severity p4_docker_max_severity(const cJSON *image);
/* The Scanned gate for report sum (from source): pass, or VulnerabilitiesFound. */
void p4_docker_scan_verdict(const cJSON *image, const struct p4_scan_summary *sum,
                            const char *source, struct verdict *v);
/*
 * No report for digest, waited since since (now is now): pass (not required), wait (within
 * spec.image.scan.timeout, default 10 min), or ScanReportMissing.
 */
void p4_docker_no_report_verdict(const cJSON *image, const char *digest, time_t since, time_t now,
                                 struct verdict *v);
/* How long the default ServiceAccount's pull secret names serve the runs of its namespace. */
#define P4_DOCKER_SA_TTL_MS 10000
/* Whether names read at at still serve at now. */
bool p4_docker_sa_fresh(uint64_t at, uint64_t now);
/* The ServiceAccount names freed with the stage. */
void p4_docker_sa_cache_close(struct p4_docker_stage *d);
/* One VulnerabilityReports list serves the runs that ask this long after it came. */
#define VULNREPORTS_SHARE_MS 5000
/* After discovery said the CRD is not served, it is asked again only this long after. */
#define VULNREPORTS_RECHECK_MS 10000
/* Whether a list that came at at (have: one came) still serves a run asking at now. */
bool p4_docker_vulnreports_fresh(bool have, uint64_t at, uint64_t now);
/* Whether discovery is asked again at now (unserved: it said not served at unserved_at). */
bool p4_docker_vulnreports_recheck(bool unserved, uint64_t unserved_at, uint64_t now);
/* The shared list freed with the stage (a list still asked frees itself when it comes). */
void p4_docker_vulnreports_free(struct p4_docker_stage *d);
/*
 * The Trivy Operator's answer (res) for the image with digests[0..n): false when no report
 * there is for it (ask the registry), else v (a verdict on the first matching report, or
 * the API server's failure).
 */
bool p4_docker_vulnreports_verdict(const cJSON *image, const struct p4_kube_result *res,
                                   const char *const *digests, size_t n, struct verdict *v);
/* The scan report blob (len bytes) of referrer manifest: a verdict on it. */
void p4_docker_report_verdict(const cJSON *image, const char *body, size_t len,
                              const char *manifest, struct verdict *v);

/* ---- sign.c: S_SIGN ---- */

void p4_docker_sign(struct run *r);
/*
 * The answer (rc, e, body) to asking host for digest's .sig manifest, once registry trouble
 * is ruled out: false with its signatures in *sigs (emptied first; caller frees), else
 * SignatureNotFound.
 */
bool p4_docker_sigs_verdict(int rc, const struct p4_error *e, const char *body, size_t len,
                            const char *digest, const char *host, struct p4_cosign_sigs *sigs,
                            struct verdict *v);

#endif
