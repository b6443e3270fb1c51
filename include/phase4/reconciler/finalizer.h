/*
 * finalizer.h: the deletion finalizer of a Phase4Deployment (docs/architecture.md, "Deleting a
 * resource").
 *
 * The operator puts P4_FINALIZER on every resource it reconciles before any stage runs, so
 * nothing is ever applied for a resource without it; while the resource is being deleted, the
 * stage that can undo its work (stage.h's finalize) removes what it applied, and the finalizer
 * is taken off when that is done or when spec.deletionTimeout has passed since the deletion
 * began, whichever comes first: a deletion never hangs on the operator.
 *
 * Both patches are JSON patches (RFC 6902) that cannot clobber another controller's
 * finalizers: the add is conditional on the resourceVersion the list was read at, the remove
 * tests that the entry it removes is ours. Everything here is pure: obj is borrowed, strings
 * returned are the caller's to free.
 */
#ifndef PHASE4_FINALIZER_H
#define PHASE4_FINALIZER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "phase4/reconciler/stage.h"

#define P4_FINALIZER "phase4.io/uninstall"
#define P4_DELETION_TIMEOUT_MS 300000 /* spec.deletionTimeout when absent: 5 minutes */

/* Whether obj's metadata.finalizers holds P4_FINALIZER. */
bool p4_finalizer_has(const cJSON *obj);

/*
 * The JSON patch that adds P4_FINALIZER to obj's finalizers (the others kept, in order),
 * conditional on obj's metadata.resourceVersion; NULL when obj has it already or has no
 * resourceVersion. Caller frees.
 */
char *p4_finalizer_add_patch(const cJSON *obj);

/*
 * The JSON patch that removes P4_FINALIZER from obj's finalizers: a test that the entry at its
 * index is ours, then its removal. NULL when obj does not have it. Caller frees.
 */
char *p4_finalizer_remove_patch(const cJSON *obj);

/*
 * spec.deletionTimeout in ms (P4_DELETION_TIMEOUT_MS when absent or unreadable), and the ms
 * left of it at now since metadata.deletionTimestamp: 0 when it has passed, or when obj is not
 * being deleted or its deletionTimestamp cannot be read (nothing to wait for then).
 */
uint64_t p4_finalizer_timeout_ms(const cJSON *obj);
uint64_t p4_finalizer_left_ms(const cJSON *obj, time_t now);

/*
 * The Event told once the finalizer is off: Normal Uninstalled with what was done, or Warning
 * UninstallTimedOut (timed_out: the timeout passed first) or UninstallIncomplete (done with
 * objects left: the resource's namespace is being deleted) naming what was left. *type and
 * *reason are static; message gets one sentence (size bytes).
 */
void p4_finalizer_final_event(const cJSON *obj, const struct p4_finalize_result *fr, bool timed_out,
                              const char **type, const char **reason, char *message, size_t size);

#endif
