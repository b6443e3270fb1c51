/*
 * healtheval.h: one health evaluation under way: the object's members read with their types
 * checked, its conditions, and the result written (internal to stages/kubernetes/; the rules are
 * health.h's).
 *
 * p4_health_eval() (health.h) sets one up and hands it to the rules of the object's kind
 * (healthworkload.h, healthpod.h, health.c's own). A rule reads the members its decision needs
 * through the getters here. A member present with the wrong type reads as absent and is
 * remembered (the first one only); p4_healtheval_malformed() then writes UNKNOWN
 * "MalformedObject" naming it, so a rule calls it once it has read what it needs. A rule ends
 * by writing one result; text it quotes from the object goes through objtext.h's rule.
 *
 * Ownership: the evaluation borrows the object and the result for the call of p4_health_eval()
 * only; every string a getter returns is borrowed from the object.
 */
#ifndef PHASE4_HEALTHEVAL_H
#define PHASE4_HEALTHEVAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "phase4/stages/kubernetes/health.h"

/* Room for what a message quotes, in bytes with the NUL (a cut is marked "..."). */
#define P4_HEALTHEVAL_KIND_SHOWN 64   /* a kind */
#define P4_HEALTHEVAL_NAME_SHOWN 128  /* an object's or a container's name */
#define P4_HEALTHEVAL_TEXT_SHOWN 240  /* a condition's, the scheduler's or the kubelet's message */
#define P4_HEALTHEVAL_COUNTS_SIZE 192 /* "1 of 3 replicas updated, 0 available, ..." */
#define P4_HEALTHEVAL_COUNT_MAX INT32_MAX /* Kubernetes counts are int32 */

/* One evaluation: the object, where the result goes, and the first malformed member seen. */
struct p4_healtheval {
    const cJSON *obj;
    struct p4_health *out;
    char who[P4_HEALTHEVAL_KIND_SHOWN + P4_HEALTHEVAL_NAME_SHOWN]; /* "Deployment web", shown */
    const char *bad_path; /* static: the first member of the wrong type, or NULL */
    const char *bad_want; /* static: what it should have been */
    bool done;            /* a result was written */
};

/*
 * Write the result: reason is ours or passed p4_healtheval_reason_or(); the message is printed
 * from fmt, cut to fit ("...") and shown by objtext.h's rule. permanent counts only with FAILED.
 */
void p4_healtheval_result(struct p4_healtheval *e, enum p4_health_status status, bool permanent,
                          const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Remember path (static text) as a member that is not want ("an array"), unless one is already. */
void p4_healtheval_mark_bad(struct p4_healtheval *e, const char *path, const char *want);

/* When a member read so far had the wrong type: the result is UNKNOWN naming it; true then. */
bool p4_healtheval_malformed(struct p4_healtheval *e);

/* The count at path (a non-negative int32); def when absent or null (or of the wrong type). */
int64_t p4_healtheval_count(struct p4_healtheval *e, const char *path, int64_t def);

/* The string at path; NULL when absent or null (or of the wrong type). */
const char *p4_healtheval_text(struct p4_healtheval *e, const char *path);

/* The boolean at path; false when absent or null (or of the wrong type). */
bool p4_healtheval_flag(struct p4_healtheval *e, const char *path);

/* The array at path; NULL when absent or null (or of the wrong type). */
const cJSON *p4_healtheval_list(struct p4_healtheval *e, const char *path);

/* One entry of status.conditions; strings are "" when absent or not strings. */
struct p4_healtheval_cond {
    const char *status, *reason, *message;
    bool has_generation;
    int64_t generation; /* its observedGeneration, when has_generation */
};

/*
 * The first condition of type in status.conditions into *c (emptied when there is none); entries
 * of the wrong shape are skipped. True when there is one.
 */
bool p4_healtheval_cond(struct p4_healtheval *e, const char *type, struct p4_healtheval_cond *c);

/* Is there a condition type with status want ("True", "False")? *c as p4_healtheval_cond(). */
bool p4_healtheval_cond_is(struct p4_healtheval *e, const char *type, const char *want,
                           struct p4_healtheval_cond *c);

/*
 * r when it is a valid condition reason, as the API server checks it (a letter, then letters,
 * digits, '_', ',' or ':', not ending in ',' or ':', at most P4_HEALTH_REASON_MAX - 1 bytes);
 * else fallback.
 */
const char *p4_healtheval_reason_or(const char *r, const char *fallback);

#endif
