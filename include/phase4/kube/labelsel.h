/*
 * kube/labelsel.h: a LabelSelector (a workload's spec.selector: matchLabels and
 * matchExpressions) written as the labelSelector query of a list request, as
 * metav1.LabelSelectorAsSelector does: "app=web,tier in (a,b),track notin
 * (canary),release,!legacy".
 *
 * The selector comes from an object in the cluster, so it is checked, not trusted: keys and
 * values may hold only the bytes label keys and values are made of (letters, digits, '-', '_',
 * '.', and '/' in a key), so nothing read can add a term of its own. The caller escapes the
 * result as a query value (p4_kube_escape). Nothing is allocated.
 */
#ifndef PHASE4_LABELSEL_H
#define PHASE4_LABELSEL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "phase4/core/error.h"

/*
 * selector's query into out (size bytes, NUL-terminated). Returns 0; P4_ERR_INVAL with err for
 * a selector that is absent or null (it selects nothing), empty (it would select everything), of
 * the wrong shape, with an unknown operator, with In or NotIn without values or Exists or
 * DoesNotExist with some, or with a byte no label has; P4_ERR_TOOBIG when out is too small.
 * JSON null members read as absent, as the API server reads them.
 */
int p4_labelsel_query(const cJSON *selector, char *out, size_t size, struct p4_error *err);

#endif
