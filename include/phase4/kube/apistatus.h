/*
 * apistatus.h: the API server's Status objects turned into our errors.
 *
 * When a request fails, the API server answers with a metav1.Status body
 * (reason, message, details, causes), and a failed watch sends one as an
 * ERROR event. Generated clients throw it away; we keep it, map it to a
 * P4_ERR_* code (by reason first, then by HTTP status; Gone and Expired
 * both give P4_ERR_GONE: relist), and write one sentence a user can act on.
 * Bodies that are not a Status (empty, plain text or HTML from a proxy,
 * truncated JSON) still yield a code and a message.
 *
 * Every string in the struct is a sanitized copy (p4_text_clean: one line,
 * control characters become spaces, invalid UTF-8 '?', length bounded) that
 * the struct owns; p4_apistatus_close() frees them. Decoding keeps no pointer
 * to the body or the cJSON tree.
 */
#ifndef PHASE4_APISTATUS_H
#define PHASE4_APISTATUS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"

/* Causes kept from one Status; causes_total still counts them all. */
#define P4_APISTATUS_CAUSES_MAX 64

struct p4_apistatus_cause {
    char *type;    /* "FieldValueInvalid" (JSON "reason"); NULL when absent */
    char *message; /* "Invalid value: 11: ..."; NULL when absent */
    char *field;   /* "spec.rollout.retries"; NULL when absent */
};

struct p4_apistatus {
    int code;        /* P4_ERR_* for the failure, 0 for a success Status */
    long http_code;  /* the HTTP status, or the Status "code" when there was none */
    bool has_status; /* the body was a JSON object (a Status) */
    char *reason;    /* "NotFound"; NULL when the server gave none */
    char *message;   /* never NULL after decoding */
    char *name;      /* details.name; NULL when absent */
    char *group;     /* details.group; NULL when absent */
    char *kind;      /* details.kind; NULL when absent */
    struct p4_apistatus_cause *causes; /* details.causes, causes_len of them */
    size_t causes_len;                 /* kept, at most P4_APISTATUS_CAUSES_MAX */
    size_t causes_total;               /* in the body */
    bool has_retry_after;              /* absent and 0 differ */
    int64_t retry_after_seconds;
};

/*
 * Decode a failed (or any) response: http_code, len bytes of body (may be
 * NULL or not NUL-terminated) and the Retry-After header value (may be NULL).
 * st is overwritten, not freed first; close it after every decode. Returns 0
 * (the failure itself is in st->code) or P4_ERR_INVAL when st is NULL.
 */
int p4_apistatus_decode(long http_code, const char *body, size_t len,
                        const char *retry_after_header, struct p4_apistatus *st);

/*
 * Decode a Status object already parsed, such as a watch ERROR event's
 * object (borrowed). st is overwritten as by decode. Returns 0, or
 * P4_ERR_PARSE when status_obj is not a JSON object (st->code is then
 * P4_ERR_PARSE too), or P4_ERR_INVAL when st is NULL.
 */
int p4_apistatus_from_json(const cJSON *status_obj, struct p4_apistatus *st);

/* Release the strings and causes st holds; st may be NULL. */
void p4_apistatus_close(struct p4_apistatus *st);

/*
 * Fill err (may be NULL) with st->code and one sentence for users, e.g.
 * `Phase4Deployment "shop" is invalid: spec.rollout.retries: Invalid value:
 * 11 (+2 more)`. Returns st->code.
 */
int p4_apistatus_to_error(const struct p4_apistatus *st, struct p4_error *err);

/* Whether retrying the same request later may succeed (conflict, throttling, timeouts, 5xx). */
bool p4_apistatus_is_retryable(int code);

/*
 * Whether a refused create says its namespace is being deleted: a 403 whose message is "unable
 * to create new content in namespace X because it is being terminated" (cause
 * NamespaceTerminating). Nothing can be created there until the namespace is gone, which needs no
 * one to act: callers class it TRANSIENT, reason NamespaceTerminating, not Forbidden. A denial by
 * an admission webhook or a ValidatingAdmissionPolicy that quotes those words is not one.
 */
bool p4_apistatus_namespace_terminating(int code, const char *message);

#endif
