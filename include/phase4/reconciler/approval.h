/*
 * approval.h: approval with a plan, the pure decisions (the reconciler decides with them; the
 * Helm stage asks p4_approval_required whether to make the plan).
 * README.md, "Approval", is the user's side; docs/architecture.md, the flow.
 *
 * A resource whose spec asks for approval (spec.approval.required, which the CRD requires for
 * target.environment production; production alone is taken as asking too) stops after the Helm
 * stage passed, before the Kubernetes stage starts, until
 * `metadata.annotations["phase4.io/approve"]` names its generation. The Helm stage's dry run
 * wrote what would happen in status.plan. An approval is on record in status.approval
 * {generation, by, at}: the Kubernetes stage starts only once that record, for this generation,
 * is written, so a restart never asks again and a new generation asks anew. Who approved is
 * read from metadata.managedFields: the field manager that owns the annotation (the client, e.g.
 * kubectl-annotate, not the user: the API server's audit log, or an admission webhook that
 * copies the user into the object, names the user). The informer's cache has no managedFields;
 * the reconciler reads the resource once when an approval is to be recorded and hands it here.
 *
 * An annotation naming another generation (older, not yet there, or not a number) is ignored:
 * said in the condition's message, and in one Warning Event ApprovalIgnored per value
 * (status.approval.ignored keeps the last value told, so a restart tells nothing again).
 *
 * Ownership: everything given is borrowed for the call; what a decision returns to own says so.
 */
#ifndef PHASE4_RECONCILER_APPROVAL_H
#define PHASE4_RECONCILER_APPROVAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P4_APPROVE_ANNOTATION "phase4.io/approve"
#define P4_APPROVAL_CONDITION "AwaitingApproval"
#define P4_APPROVAL_BY_MAX 128 /* bytes of a manager's name kept */

enum p4_approval_state {
    P4_APPROVAL_NOT_REQUIRED, /* the spec does not ask for approval */
    P4_APPROVAL_WAITING,      /* no annotation names this generation */
    P4_APPROVAL_REQUESTED,    /* the annotation names this generation; not on record yet */
    P4_APPROVAL_APPROVED,     /* status.approval records this generation */
};

/* Whether obj's spec asks for approval before the Kubernetes stage. */
bool p4_approval_required(const cJSON *obj);

/* Where obj's current generation stands (its annotations and status.approval). */
enum p4_approval_state p4_approval_state(const cJSON *obj);

/*
 * Who approved: of managed_fields (metadata.managedFields), the entry whose fieldsV1 owns
 * f:metadata.f:annotations.f:phase4.io/approve, the latest by time when several do. Its
 * manager (cleaned, bounded) into by and its time into at. false (both "") when none does.
 */
bool p4_approval_who(const cJSON *managed_fields, char *by, size_t by_size, char *at,
                     size_t at_size);

/*
 * The entries of managed_fields that own the annotation (a new array, caller frees), all the
 * reconciler keeps of a resource's managedFields while the approval is recorded.
 */
cJSON *p4_approval_owners(const cJSON *managed_fields);

/* What the status says about approval, decided by p4_approval_decide. */
struct p4_approval_decision {
    bool go;            /* the walk goes on to the Kubernetes stage */
    bool wait_who;      /* approved, but who approved is still being read: waiting goes on */
    const char *status; /* AwaitingApproval's status ("True", "False"), NULL: no condition */
    const char *reason; /* AwaitingApproval, Approved (static) */
    char message[2048]; /* AwaitingApproval's message, also Ready's while waiting */
    cJSON *record;      /* status.approval to write (caller frees), or NULL: as it is */
    cJSON *events;      /* {type, reason, message} to tell (caller frees), or NULL */
};

/*
 * Decide for obj (its metadata.managedFields, when present, tell who approved), whose status
 * being written is st (status.plan there, for the message); old_cond is AwaitingApproval as it
 * was (or NULL). Call once the Helm stage passed for this generation.
 */
void p4_approval_decide(const cJSON *obj, const cJSON *st, const cJSON *old_cond,
                        struct p4_approval_decision *d);

#endif
