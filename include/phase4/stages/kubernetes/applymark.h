/*
 * applymark.h: the marks that say an object in the cluster is a Phase4Deployment's: put on
 * every object the applyset applies (applyset.h), read by the prune, by drift repair and by the
 * watches that route a changed object back to its owner.
 *
 * The marks:
 *   labels      app.kubernetes.io/managed-by=phase4-operator
 *               phase4.io/name=<owner_name, made a valid label value>
 *               phase4.io/generation=<generation>
 *   annotations phase4.io/owner=<owner_namespace>/<owner_name>
 *               phase4.io/owner-uid=<the resource's metadata.uid>
 * The owner annotation is the ownership mark (exact, since names repeat across
 * namespaces and a label value is at most 63 bytes); the uid tells this
 * resource from an older one of the same name (deleted with deletionPolicy
 * Orphan, or before phase4-operator recorded uids), whose objects are adopted
 * only when spec.adopt says so (p4_applyset_claim). The labels are for
 * selection and traceability. An owner name longer than 63 bytes becomes its
 * first 52 bytes, '-' and the first 10 hex digits of the SHA-256 of the whole
 * name (63 bytes, still unique in practice and stable across runs).
 *
 * Everything here is pure: pointers are borrowed for the call, and what is returned points into
 * the caller's buffers or objects.
 */
#ifndef PHASE4_APPLYMARK_H
#define PHASE4_APPLYMARK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P4_APPLYSET_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define P4_APPLYSET_LABEL_NAME "phase4.io/name"
#define P4_APPLYSET_LABEL_GENERATION "phase4.io/generation"
#define P4_APPLYSET_ANNOTATION_OWNER "phase4.io/owner"
#define P4_APPLYSET_ANNOTATION_OWNER_UID "phase4.io/owner-uid"
#define P4_APPLYSET_MANAGER "phase4-operator" /* the managed-by label's value */
#define P4_LABEL_VALUE_MAX 63                 /* Kubernetes' limit on a label value, in bytes */

/*
 * value as a label value in out: itself when at most P4_LABEL_VALUE_MAX
 * bytes, else its first 52 bytes, '-' and 10 hex digits of its SHA-256.
 * Returns out.
 */
const char *p4_applyset_label_value(const char *value, char out[P4_LABEL_VALUE_MAX + 1]);

/* "<owner_namespace>/<owner_name>" into buf; 0 or P4_ERR_TOOBIG. */
int p4_applyset_owner_mark(const char *owner_namespace, const char *owner_name, char *buf,
                           size_t size);

/*
 * Put the marks (above) on obj (an object with an object metadata; labels and
 * annotations are created or replaced when they are not objects; values of
 * other keys are kept). Returns 0 or P4_ERR_INVAL.
 */
int p4_applyset_mark(cJSON *obj, const char *owner_namespace, const char *owner_name,
                     int64_t generation);

/*
 * Put the owner-uid annotation on obj (marked by p4_applyset_mark); nothing when uid is NULL or
 * "" (no uid known: the marks stay as they were before uids). Returns 0 or P4_ERR_INVAL.
 */
int p4_applyset_mark_uid(cJSON *obj, const char *uid);

/* The "<namespace>/<name>" of obj's phase4.io/owner annotation (borrowed), or NULL. */
const char *p4_applyset_owner_of(const cJSON *obj);

/* Whether live (an object as the API server returns it) carries exactly our owner annotation. */
bool p4_applyset_owned(const cJSON *live, const char *owner_namespace, const char *owner_name);

/* Whose an object in the cluster is, as its marks say, for the resource (namespace, name, uid). */
enum p4_applyset_claim {
    P4_CLAIM_NONE,      /* no owner annotation, or another resource's name */
    P4_CLAIM_OURS,      /* our name and our uid (or no uid known on our side: as before uids) */
    P4_CLAIM_NO_UID,    /* our name, no owner-uid: an older resource's, or ours from before uids */
    P4_CLAIM_OTHER_UID, /* our name, another uid: a resource of the same name deleted since */
};
/*
 * What live's marks say for the resource owner_namespace/owner_name with metadata.uid owner_uid
 * (NULL or "": unknown, then any mark with our name is P4_CLAIM_OURS). Pure.
 */
enum p4_applyset_claim p4_applyset_claim(const cJSON *live, const char *owner_namespace,
                                         const char *owner_name, const char *owner_uid);

/*
 * Whether live was created (metadata.creationTimestamp) no earlier than owner_created (the
 * resource's metadata.creationTimestamp, RFC 3339): only then can an object marked with our
 * name and no uid be this resource's own, from before uids were marked; one older than the
 * resource was made for an earlier resource of its name. False when either time is unreadable.
 */
bool p4_applyset_created_after(const cJSON *live, const char *owner_created);

/*
 * The JSON merge patch that takes our marks off an object (deletionPolicy Orphan): the
 * managed-by label when it is ours, the phase4.io/name and phase4.io/generation labels, the
 * owner and owner-uid annotations, with metadata.uid as a precondition (uid NULL or "": none).
 * Only what live carries of them is named (live NULL: all). Caller frees.
 */
char *p4_applyset_unmark_patch(const cJSON *live, const char *uid);

#endif
