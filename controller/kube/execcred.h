/*
 * execcred.h: client.authentication.k8s.io exec credential plugins.
 *
 * When a kubeconfig user names an exec plugin (aws eks get-token,
 * gke-gcloud-auth-plugin, kubelogin, ...), the client runs it through
 * net/childproc (uv_spawn, no shell) with the operator's environment plus
 * the kubeconfig's entries and KUBERNETES_EXEC_INFO, and a time limit after
 * which the plugin's process group is killed. It reads an ExecCredential
 * from its stdout and caches the token or client certificate until
 * status.expirationTimestamp (less a margin), or until the API server answers
 * 401 and the caller invalidates it. Concurrent callers share one run of the
 * plugin. The credential is never logged; only the plugin's stderr (bounded)
 * is quoted in errors.
 */
#ifndef PHASE4_EXECCRED_H
#define PHASE4_EXECCRED_H

#include <stddef.h>
#include <time.h>
#include <uv.h>

#include "phase4/core/error.h"
#include "phase4/kube/kubeconfig.h"

struct p4_execcred;

/* A credential from a plugin; all fields owned by the struct. */
struct p4_credential {
    char *token;             /* status.token, or NULL */
    unsigned char *cert_pem; /* status.clientCertificateData, or NULL */
    size_t cert_len;
    unsigned char *key_pem; /* status.clientKeyData, or NULL */
    size_t key_len;
    time_t expires; /* 0: no expiry given */
};

/*
 * The credential (borrowed, valid during the call) or an error. Never called
 * before p4_execcred_get returns.
 */
typedef void (*p4_execcred_cb)(int rc, const struct p4_credential *cred, const struct p4_error *err,
                               void *data);

/*
 * exec is copied. server goes to the plugin in KUBERNETES_EXEC_INFO when it
 * asks for cluster info.
 */
struct p4_execcred *p4_execcred_new(uv_loop_t *loop, const struct p4_kube_exec *exec,
                                    const char *server);
/* Stop a running plugin (callers get P4_ERR_CANCELED) and free once its handles close. */
void p4_execcred_close(struct p4_execcred *ec);
int p4_execcred_get(struct p4_execcred *ec, p4_execcred_cb cb, void *data);
/* Forget the cached credential (the API server said 401). */
void p4_execcred_invalidate(struct p4_execcred *ec);

/*
 * Parse an ExecCredential (apiVersion must match api_version) into cred.
 * Returns 0 or P4_ERR_PARSE / P4_ERR_INVAL with err saying what is wrong.
 */
int p4_execcred_parse(const char *json, size_t len, const char *api_version,
                      struct p4_credential *cred, struct p4_error *err);
void p4_credential_close(struct p4_credential *cred);

#endif
