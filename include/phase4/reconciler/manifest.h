/*
 * manifest.h: the rendered manifest the Helm stage hands the Kubernetes stage.
 * The Helm stage keeps each generation's manifest in a Secret the resource
 * owns (type P4_MANIFEST_SECRET_TYPE, gzip under P4_MANIFEST_SECRET_KEY) and
 * names it in status.chart.manifest; the Kubernetes stage reads it back. Both
 * sides of that contract live here, so neither stage includes the other.
 */
#ifndef PHASE4_MANIFEST_H
#define PHASE4_MANIFEST_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "phase4/core/error.h"

#define P4_MANIFEST_SECRET_TYPE "phase4.io/manifest"
#define P4_MANIFEST_SECRET_KEY "manifest.gz"
#define P4_MANIFEST_HISTORY 10 /* rendered manifests kept per resource */

/*
 * gzip len bytes of text (for the manifest Secret; also used by tests).
 * Returns a new buffer (caller frees) and its size in *out_len, or NULL.
 */
unsigned char *p4_gzip(const char *text, size_t len, size_t *out_len);

/*
 * The manifest a manifest Secret (as the API server returns it) holds: its
 * type checked, data[manifest.gz] base64-decoded and gunzipped, at most max
 * bytes. Returns the text (NUL-terminated, caller frees) and its length in
 * *len, or NULL with err: P4_ERR_INVALID (not a manifest Secret, bad base64
 * or gzip, trailing bytes), P4_ERR_TOOBIG (past max).
 */
char *p4_manifest_secret_text(const cJSON *secret, size_t max, size_t *len, struct p4_error *err);

/*
 * Whether obj (a rendered object) is one of the chart's tests: its helm.sh/hook annotation
 * names test or test-success (comma-separated, spaces ignored). The manifest holds them only
 * when spec.validation.helmTests asks; the Validation stage runs them as smoke-test Jobs, and
 * neither the Helm stage's dry run nor the Kubernetes stage applies them.
 */
bool p4_manifest_test_hook(const cJSON *obj);

/*
 * The Helm hook annotations both stages read, as Helm reads them: whether word is one of the
 * comma-separated values of list (spaces around them ignored), and an object's
 * helm.sh/hook-weight (a number; anything else, or none, is 0).
 */
bool p4_manifest_has_word(const char *list, const char *word);
long p4_manifest_hook_weight(const cJSON *obj);

#endif
