/*
 * kubeconfig.h: where the API server is and who we are to it, from kubeconfig files or from
 * the pod's service account.
 *
 * p4_kubeconfig_load() reads a KUBECONFIG-style list of files, merges them as kubectl does
 * and resolves one context into a struct p4_kube_config; p4_kubeconfig_in_cluster() builds
 * the same struct from the service-account mount. Nothing here talks to the network, runs
 * an exec plugin or reads certificate, key or token files: the transport does that from the
 * paths and data recorded here, so a rotated token file is simply re-read.
 *
 * Ownership: the returned config and every string and buffer in it belong to the caller and
 * are released together by p4_kube_config_free(), which wipes the key and token first.
 * Arguments are borrowed for the duration of the call only.
 */
#ifndef PHASE4_KUBECONFIG_H
#define PHASE4_KUBECONFIG_H

#include <stddef.h>

#include "phase4/core/error.h"

/* Larger kubeconfig files (or documents) are refused with P4_ERR_TOOBIG. */
#define P4_KUBECONFIG_MAX_BYTES ((size_t)4 * 1024 * 1024)
/* Where Kubernetes mounts a pod's service-account token, CA and namespace. */
#define P4_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* A client.authentication.k8s.io exec credential plugin; the transport runs it. */
struct p4_kube_exec {
    char *command; /* made absolute against the kubeconfig's dir if it has a '/' */
    char **args;   /* nargs strings */
    size_t nargs;
    char **env; /* nenv "NAME=VALUE" strings for the plugin's environment */
    size_t nenv;
    char *api_version;        /* client.authentication.k8s.io/v1 or /v1beta1 */
    char *install_hint;       /* NULL when none; safe to show to a user */
    int interactive_never;    /* interactiveMode: Never (plugins never get a terminal here) */
    int provide_cluster_info; /* provideClusterInfo: pass the cluster in KUBERNETES_EXEC_INFO */
};

/*
 * Every pointer is NULL when the kubeconfig does not set it. Paths are absolute when the
 * kubeconfig file's directory is known. Each *_data buffer holds *_len decoded bytes (PEM)
 * followed by a NUL that is not counted. token and token_file may both be set; client-go
 * then prefers the file's current content, and so should the transport.
 */
struct p4_kube_config {
    char *server;          /* e.g. https://127.0.0.1:6443, trailing '/' removed; never NULL */
    char *context;         /* the context used; NULL in-cluster */
    char *cluster_name;    /* NULL in-cluster */
    char *user_name;       /* NULL in-cluster */
    char *namespace;       /* the context's namespace or "default"; never NULL */
    char *tls_server_name; /* name to verify the server certificate against instead */
    int insecure_skip_tls_verify; /* the transport logs a warning when set */
    char *ca_file;
    unsigned char *ca_data;
    size_t ca_len;
    char *cert_file;
    unsigned char *cert_data;
    size_t cert_len;
    char *key_file;
    unsigned char *key_data; /* secret: never log */
    size_t key_len;
    char *token;      /* secret: never log */
    char *token_file; /* re-read by the transport when it changes */
    struct p4_kube_exec *exec;
};

/* One kubeconfig document in memory, as p4_kubeconfig_load() would have read it. */
struct p4_kubeconfig_doc {
    const char *data;     /* YAML bytes, need not be NUL-terminated */
    size_t len;           /* at most P4_KUBECONFIG_MAX_BYTES */
    const char *name;     /* names the document in messages (its path); NULL: "<memory>" */
    const char *base_dir; /* relative file paths resolve against it; NULL leaves them relative */
};

/*
 * Load the settings of one context from paths, a ':'-separated list of kubeconfig files
 * merged as kubectl merges KUBECONFIG: a cluster, user or context comes from the first
 * file that defines its name, current-context from the first file that sets it. Missing
 * files are skipped, but P4_ERR_NOTFOUND when none exists. context NULL or "" means the
 * current-context. Relative paths in a file resolve against that file's directory.
 * On success *out is set (caller frees with p4_kube_config_free).
 * Errors: P4_ERR_NOTFOUND (no file, context, cluster or user of that name), P4_ERR_PARSE
 * (bad YAML, wrong types, bad base64; file and line in the message), P4_ERR_INVAL (unusable
 * settings, e.g. no server, auth-provider or basic auth), P4_ERR_TOOBIG, P4_ERR_IO.
 */
int p4_kubeconfig_load(const char *paths, const char *context, struct p4_kube_config **out,
                       struct p4_error *err);

/* The same from ndocs documents in memory, first document first (tests and fuzzing). */
int p4_kubeconfig_parse(const struct p4_kubeconfig_doc *docs, size_t ndocs, const char *context,
                        struct p4_kube_config **out, struct p4_error *err);

/*
 * The settings of a pod's service account: server https://host:port (an IPv6 host is
 * bracketed) from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which the caller
 * reads and passes in; token_file, ca_file (if present) and the namespace (or "default")
 * from sa_dir, NULL meaning P4_KUBE_SA_DIR. The token itself is not read here.
 * On success *out is set (caller frees with p4_kube_config_free).
 * Errors: P4_ERR_NOTFOUND (host or port unset, no token file), P4_ERR_INVAL, P4_ERR_IO.
 */
int p4_kubeconfig_in_cluster(const char *sa_dir, const char *host, const char *port,
                             struct p4_kube_config **out, struct p4_error *err);

/* Wipes the key and token, then frees cfg and everything in it; NULL is allowed. */
void p4_kube_config_free(struct p4_kube_config *cfg);

#endif
