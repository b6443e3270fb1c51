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
#include <stdint.h>

#include "phase4/core/error.h"

#define P4_MANIFEST_SECRET_TYPE "phase4.io/manifest"
#define P4_MANIFEST_SECRET_KEY "manifest.gz"

/* Revisions in status.history, and so rendered manifests kept per resource (plus the last good). */
#define P4_MANIFEST_HISTORY 10
/* The most old manifests one store looks for (by name: Secrets are never listed). */
#define P4_MANIFEST_PRUNE_MAX (2 * P4_MANIFEST_HISTORY)
#define P4_MANIFEST_SECRET_NAME_MAX 253 /* a Secret's name */

/*
 * The name of the Secret holding generation's manifest of the resource named name:
 * "phase4.<name>.v<generation>", the name shortened with a hash of it past 253 characters. The
 * Helm stage writes it; a rollback (the Kubernetes stage) reads an older generation's. buf gets
 * "" when size is too small.
 */
void p4_manifest_secret_name(char *buf, size_t size, const char *name, int64_t generation);

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

/*
 * The generations whose manifest Secrets go once generation's is stored, from obj's status (the
 * resource as the stage read it). Kept: generation, every revision in status.history and
 * status.lastKnownGoodRevision (the rollback re-applies it). Looked for, newest first: the
 * P4_MANIFEST_HISTORY generations below the oldest in history, then those between it and
 * generation that history does not hold. With no history (a status written before it existed),
 * the P4_MANIFEST_HISTORY newest generations are the history. Returns how many, into out.
 */
int p4_manifest_prunable(const cJSON *obj, int64_t generation, int64_t out[P4_MANIFEST_PRUNE_MAX]);

/*
 * The manifests this process stored, handed to the Kubernetes stage without reading the Secret
 * back: the Helm stage puts what it wrote (gzipped, as in the Secret) with the Secret's name and
 * the resourceVersion the API server answered; the Kubernetes stage takes it once. One entry
 * per resource (key "namespace/name"): a new store replaces it (the generation moved on), a take
 * removes it, and one older than P4_MANIFEST_MEMO_TTL_MS is neither used nor kept (swept on a
 * put). A copy for another Secret name is left for its own take; one for another uid (the
 * resource deleted and made again) is dropped. After a restart the memo is empty and the
 * Secret is read, as it always was. cmd/operator.c makes one and hands it to both stages.
 */
#define P4_MANIFEST_MEMO_TTL_MS 60000

struct p4_manifest_memo;

struct p4_manifest_memo *p4_manifest_memo_new(void);
void p4_manifest_memo_free(struct p4_manifest_memo *m); /* NULL is fine */
/* Keep what was stored for key (every argument copied; an empty rv or uid keeps nothing). */
void p4_manifest_memo_put(struct p4_manifest_memo *m, const char *key, const char *uid,
                          const char *secret, const char *rv, const unsigned char *gz,
                          size_t gz_len, uint64_t now);
/*
 * The manifest stored for key in Secret secret by the resource with uid, as text (at most max
 * bytes, NUL-terminated, caller frees; its length in *len), and the resourceVersion it was
 * stored at into rv (rv_size bytes); the entry is removed. NULL when there is none to use (then
 * read the Secret).
 */
char *p4_manifest_memo_take(struct p4_manifest_memo *m, const char *key, const char *uid,
                            const char *secret, uint64_t now, size_t max, size_t *len, char *rv,
                            size_t rv_size);
size_t p4_manifest_memo_len(const struct p4_manifest_memo *m);

#endif
