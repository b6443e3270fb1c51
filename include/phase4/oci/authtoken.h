/*
 * authtoken.h: the registry's side of authentication, as the Docker token flow has it.
 *
 * A registry that wants credentials answers 401 with WWW-Authenticate challenges (RFC 7235):
 * Basic, or Bearer with a realm, service and scope. p4_regauth_challenges_parse() reads them;
 * p4_regauth_token_url() builds the token service request from a Bearer challenge;
 * p4_regauth_basic_header() builds the Basic Authorization header from a pull secret's user
 * and password; p4_regauth_token_parse() reads the token service's answer. The names keep the
 * p4_regauth_ prefix of the module these came from, and the inputs share its bound,
 * P4_REGAUTH_INPUT_MAX (regauth.h). The registry client (registry.c) drives the flow.
 *
 * Ownership: structs own their strings; each _close() frees them (wiping tokens) and accepts
 * NULL. Returned strings are the caller's to free (a Basic header: to wipe, then free).
 * Arguments are borrowed for the call only. Tokens and passwords never reach a message.
 */
#ifndef PHASE4_AUTHTOKEN_H
#define PHASE4_AUTHTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "phase4/core/error.h"
#include "phase4/oci/regauth.h"

#define P4_REGAUTH_CHALLENGES_MAX 16    /* per header; more: P4_ERR_TOOBIG */
#define P4_REGAUTH_TOKEN_MIN_SECONDS 60 /* Docker token spec default/minimum */

/* OTHER: Negotiate, Digest, ... (a token68 after the scheme is skipped). */
enum p4_auth_scheme { P4_AUTH_OTHER = 0, P4_AUTH_BASIC, P4_AUTH_BEARER };

struct p4_auth_challenge {
    enum p4_auth_scheme kind;      /* from the scheme, case-insensitively */
    char *scheme;                  /* as written: "Bearer" */
    char *realm, *service, *scope; /* NULL when absent */
    char *error;                   /* Bearer error="insufficient_scope"; NULL when absent */
};

struct p4_auth_challenges {
    struct p4_auth_challenge *items; /* len of them */
    size_t len;
};

/*
 * Parse one WWW-Authenticate value (RFC 7235: several challenges, names in any case,
 * quoted or token values) into out (overwritten). Returns 0, P4_ERR_PARSE with the
 * byte offset (a repeated parameter too), or P4_ERR_TOOBIG.
 */
int p4_regauth_challenges_parse(const char *header, size_t len, struct p4_auth_challenges *out,
                                struct p4_error *err);
void p4_regauth_challenges_close(struct p4_auth_challenges *list);

/*
 * realm?service=...&scope=... URL-encoded, one scope= per space-separated scope; scope,
 * when not NULL, replaces c->scope. Caller frees. NULL without an http(s) realm.
 */
char *p4_regauth_token_url(const struct p4_auth_challenge *c, const char *scope);

/*
 * "Authorization: Basic <base64(user:password)>"; caller wipes and frees. NULL for a
 * NULL argument, a user with ':' (RFC 7617) or one over 1 MiB.
 */
char *p4_regauth_basic_header(const char *user, const char *password);

struct p4_regauth_token {
    char *token;         /* "token", else "access_token"; never NULL after parsing */
    char *refresh_token; /* NULL when absent */
    int64_t expires_in;  /* seconds; P4_REGAUTH_TOKEN_MIN_SECONDS when absent or less */
    bool has_expires_in, has_issued_at; /* the response gave them */
    time_t issued_at;                   /* the service's clock; set when has_issued_at */
    time_t expires_at; /* now + expires_in: our clock, so skew cannot expire it early */
};

/*
 * Parse a token response that arrived at now into tok (overwritten; empty on error).
 * Returns 0, P4_ERR_TOOBIG, P4_ERR_PARSE (not a JSON object) or P4_ERR_INVAL (no
 * token, bad expires_in or issued_at).
 */
int p4_regauth_token_parse(const char *json, size_t len, time_t now, struct p4_regauth_token *tok,
                           struct p4_error *err);
void p4_regauth_token_close(struct p4_regauth_token *tok);

#endif
