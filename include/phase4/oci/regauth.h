/*
 * regauth.h: registry credentials and auth challenges, resolved as a kubelet does.
 *
 * p4_regauth_add_secret() reads an imagePullSecret (kubernetes.io/dockerconfigjson
 * or legacy kubernetes.io/dockercfg) all or nothing; "auth" (base64 user:password,
 * split at the first ':') wins over username/password. p4_regauth_lookup() matches
 * like the kubelet: http(s):// and a trailing /v1/ or /v2/ ignored, Docker Hub
 * aliases equal, ports exact, '*' one DNS label, key paths at '/' boundaries; the
 * first secret with a match wins, in it the longest path, then a literal host.
 * The rest serves the Docker token flow (WWW-Authenticate, token URL, Basic
 * header, token response). Secrets never reach an error message (nor user info in
 * a registry key) and are wiped before free, cJSON trees included. Structs own
 * their strings; _close() frees them (wiping credentials) and accepts NULL. Lookup
 * results are borrowed from the p4_regauth; inputs only for the call.
 */
#ifndef PHASE4_REGAUTH_H
#define PHASE4_REGAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "phase4/core/error.h"

#define P4_REGAUTH_INPUT_MAX ((size_t)1024 * 1024) /* larger input: P4_ERR_TOOBIG */
#define P4_REGAUTH_CHALLENGES_MAX 16               /* per header; more: P4_ERR_TOOBIG */
#define P4_REGAUTH_TOKEN_MIN_SECONDS 60            /* Docker token spec default/minimum */
#define P4_REGAUTH_DOCKERCONFIGJSON "kubernetes.io/dockerconfigjson"
#define P4_REGAUTH_DOCKERCFG "kubernetes.io/dockercfg"

struct p4_regauth_entry {
    char *registry;            /* the key as written in the secret */
    char *host;                /* "registry.example.com:5000", lowercase; Docker Hub: "docker.io" */
    char *path;                /* "team" for key registry/team; "" for the whole registry */
    char *normalized;          /* host, or host/path */
    char *username, *password; /* NULL when absent */
    char *identity_token;      /* "identitytoken" (an OAuth2 refresh token); NULL when absent */
    char *registry_token;      /* "registrytoken" (a bearer token); NULL when absent */
    size_t secret;             /* which p4_regauth_add_secret() call (from 0) added it */
};

/* Credentials from several secrets, in the order added. Embed it; _init/_close. */
struct p4_regauth {
    struct p4_regauth_entry *entries; /* len of them, grouped by secret */
    size_t len, cap, secrets;         /* secrets: how many were added */
};
void p4_regauth_init(struct p4_regauth *a);
void p4_regauth_close(struct p4_regauth *a);

/*
 * Add one secret: type is its Secret type, data/len its .dockerconfigjson or .dockercfg
 * value. Returns 0, P4_ERR_TOOBIG, P4_ERR_PARSE (bad JSON, with its location) or
 * P4_ERR_INVAL (unknown type; bad entry, naming the registry key); on error adds nothing.
 */
int p4_regauth_add_secret(struct p4_regauth *a, const char *type, const char *data, size_t len,
                          struct p4_error *err);

/*
 * The entry for an image reference or a registry (a URL, or a host without '/' that is
 * "localhost", "[ipv6]" or has a '.' before any ':') into *out. Returns 0,
 * P4_ERR_NOTFOUND, or P4_ERR_INVAL / P4_ERR_TOOBIG for a bad argument.
 */
int p4_regauth_lookup(const struct p4_regauth *a, const char *image_ref_or_host,
                      const struct p4_regauth_entry **out, struct p4_error *err);

struct p4_image_ref {
    char *registry;   /* "docker.io" by default (index.docker.io and registry-1 too); lowercase */
    char *repository; /* "library/nginx" for "nginx" on Docker Hub, "team/app" otherwise */
    char *tag;        /* "1.0"; "latest" when neither tag nor digest is given; else NULL */
    char *digest;     /* "sha256:<64 hex>"; NULL when absent */
};

/*
 * Split ref as docker does into out (overwritten; empty on error). Returns 0,
 * P4_ERR_TOOBIG, or P4_ERR_INVAL naming the problem: empty part, uppercase repository,
 * bad host or port, bad tag or one over 128 characters, digest not sha256/384/512 in
 * lowercase hex of the right length, normalized name over 255 characters.
 */
int p4_image_ref_parse(const char *ref, struct p4_image_ref *out, struct p4_error *err);
void p4_image_ref_close(struct p4_image_ref *r);

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
