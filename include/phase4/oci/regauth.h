/*
 * regauth.h: registry credentials from pull secrets, resolved as a kubelet does.
 *
 * p4_regauth_add_secret() reads an imagePullSecret (kubernetes.io/dockerconfigjson
 * or legacy kubernetes.io/dockercfg) all or nothing; "auth" (base64 user:password,
 * split at the first ':') wins over username/password. p4_regauth_lookup() matches
 * like the kubelet: http(s):// and a trailing /v1/ or /v2/ ignored, Docker Hub
 * aliases equal, ports exact, '*' one DNS label, key paths at '/' boundaries; the
 * first secret with a match wins, in it the longest path, then a literal host.
 * Image references are split by imageref.h; the token flow that uses the credentials
 * (WWW-Authenticate, token URL, Basic header, token response) is authtoken.h.
 * Secrets never reach an error message (nor user info in a registry key) and are
 * wiped before free, cJSON trees included. Structs own their strings; _close() frees
 * them (wiping credentials) and accepts NULL. Lookup results are borrowed from the
 * p4_regauth; inputs only for the call.
 */
#ifndef PHASE4_REGAUTH_H
#define PHASE4_REGAUTH_H

#include <stddef.h>

#include "phase4/core/error.h"
#include "phase4/core/redact.h"

/* Larger input: P4_ERR_TOOBIG. authtoken.h's parsers share this bound. */
#define P4_REGAUTH_INPUT_MAX ((size_t)1024 * 1024)
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

/*
 * Add every credential of a to the redaction set s (redact.h): passwords, identity and registry
 * tokens, and "user:password" (whose base64 is what an "auth" field and a Basic header hold).
 * User names alone are not secrets and are not added.
 */
void p4_regauth_redact(const struct p4_regauth *a, struct p4_redact *s);

#endif
