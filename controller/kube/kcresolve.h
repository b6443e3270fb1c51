/*
 * kcresolve.h: kubeconfig documents checked as kubectl checks them, and one context, its
 * cluster and its user resolved into a struct p4_kube_config (internal to kube/; kubeconfig.c
 * calls it for p4_kubeconfig_parse).
 *
 * The check is of shapes only (types, a name and a body in every entry, names unique in each
 * list); unknown keys are ignored, as kubectl ignores them. Resolution takes each entry from
 * the first document that defines its name, makes file paths absolute against that document's
 * directory, decodes the *-data fields, and refuses what kubectl accepts but an operator
 * cannot honour (auth-provider, basic auth, impersonation, an interactive exec plugin), saying
 * what to do instead.
 *
 * Ownership: the documents are borrowed; what is resolved is written into cfg, which the caller
 * owns (and frees with p4_kube_config_free, also after an error left it half filled).
 */
#ifndef PHASE4_KUBE_KCRESOLVE_H
#define PHASE4_KUBE_KCRESOLVE_H

#include <stddef.h>

#include "kcyaml.h"
#include "phase4/core/error.h"
#include "phase4/kube/kubeconfig.h"

/* Whether s is a DNS label (RFC 1123: 1-63 of [a-z0-9-], no '-' at either end), as a namespace. */
int p4_kcresolve_dns_label(const char *s);

/* Check one document's top level and its clusters, users and contexts. 0 or P4_ERR_PARSE. */
int p4_kcresolve_check(const struct p4_kcyaml_doc *d, struct p4_error *err);

/*
 * Fill cfg from the context called name, then its cluster and its user, each from the first of
 * the ndocs documents that defines it. Returns 0, P4_ERR_NOTFOUND, P4_ERR_PARSE or P4_ERR_INVAL.
 */
int p4_kcresolve_context(const struct p4_kcyaml_doc *docs, size_t ndocs, const char *name,
                         struct p4_kube_config *cfg, struct p4_error *err);

#endif
