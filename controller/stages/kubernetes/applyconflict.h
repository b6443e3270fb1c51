/*
 * applyconflict.h: a server-side apply refused for a field-manager conflict, read (internal to
 * stages/kubernetes/): whether a 409 is such a conflict, which managers and fields it names, and
 * whether every one of those managers changed the object through an update (kubectl edit, patch,
 * scale, client-side apply) - a change by hand that drift repair takes back with force
 * (applyset.h, take_from_updaters) - rather than another applier's, which fails ApplyConflict.
 *
 * Everything here is pure: pointers are borrowed for the call; results go into the caller's
 * buffers, always NUL-terminated when size > 0.
 */
#ifndef PHASE4_APPLYCONFLICT_H
#define PHASE4_APPLYCONFLICT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "phase4/kube/apistatus.h"

/*
 * The field managers a failed server-side apply conflicted with, from the
 * Status causes ('conflict with "kubectl-edit" using v1'), or from its
 * message when it has no causes: each once, comma-separated, into buf ("" when
 * none). Returns how many. st may be NULL.
 */
size_t p4_applyset_conflict_managers(const struct p4_apistatus *st, char *buf, size_t size);

/* Whether a 409 Status is a server-side apply field-manager conflict (not, e.g., a uid one). */
bool p4_applyset_is_field_conflict(const struct p4_apistatus *st);

/*
 * The fields the causes of st name (".spec.replicas"), ", "-separated into buf; a field that
 * does not fit is left out. "" when none or st is NULL.
 */
void p4_applyset_conflict_fields(const struct p4_apistatus *st, char *buf, size_t size);

/*
 * ",m1,m2,": the managers that changed live (an object as the API server returns it; NULL: none)
 * through an update (operation "Update" in its managedFields), ours (P4_FIELD_MANAGER) and names
 * with a ',' left out, as many as fit in buf.
 */
void p4_applyset_updaters(const cJSON *live, char *buf, size_t size);

/* Whether every manager of the comma-separated list managers is in updaters (as above). */
bool p4_applyset_all_updaters(const char *updaters, const char *managers);

/*
 * Append to taken (a string in a buffer of size bytes) "<what> (<fields>, set by <managers>)",
 * after "; " when taken is not empty; a cut is marked "..." at the buffer's end.
 */
void p4_applyset_note_taken(char *taken, size_t size, const char *what, const char *fields,
                            const char *managers);

#endif
