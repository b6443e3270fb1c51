/*
 * kube/selector.h: label selectors (metav1.LabelSelector) as Kubernetes reads them: which pods a
 * workload selects (the Kubernetes stage), which Services a ServiceMonitor or pods a PodMonitor
 * selects (the Validation stage's Metrics gate).
 *
 * Pure: selectors and labels are borrowed cJSON trees from the cluster (any shape), nothing is
 * allocated.
 */
#ifndef PHASE4_SELECTOR_H
#define PHASE4_SELECTOR_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/*
 * Whether the labels object (borrowed) matches a LabelSelector (matchLabels
 * and matchExpressions: In, NotIn, Exists, DoesNotExist). A NULL or empty
 * selector matches nothing (as a workload's selector must not be empty); a
 * selector of the wrong shape matches nothing (the API server refuses it:
 * In and NotIn need a non-empty array of strings as values, Exists and
 * DoesNotExist none). A null matchLabels or matchExpressions is absent.
 */
bool p4_selector_matches(const cJSON *selector, const cJSON *labels);

/*
 * Whether selector has no term: NULL, null, or an object whose matchLabels and
 * matchExpressions are absent, null or empty. Where Kubernetes reads such a
 * selector as "everything" (metav1.LabelSelectorAsSelector: a ServiceMonitor's
 * or PodMonitor's spec.selector), the caller says so; p4_selector_matches
 * matches nothing with it. A selector of another shape is not empty.
 */
bool p4_selector_empty(const cJSON *selector);

#endif
