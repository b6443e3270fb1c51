/* regauth.c: registry credentials from pull secrets, matched as a kubelet does (regauth.h). */
#include "phase4/oci/regauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/base64.h"
#include "phase4/core/json.h"
#include "phase4/oci/imageref.h"
#include "regname.h"

/* A registry key for a message, with any user info ("https://user:pass@host") redacted. */
static const char *shown_key(char *dst, size_t size, const char *key)
{
    size_t skip = p4_regname_scheme_len(key), alen = strcspn(key + skip, "/");
    const char *at = memrchr(key + skip, '@', alen);
    char rest[P4_REGNAME_SHOWN_SIZE - 16]; /* room for the scheme and "***@" */

    if (at == NULL)
        return p4_regname_shown(dst, size, key, strlen(key));
    p4_regname_shown(rest, sizeof(rest), at + 1, strlen(at + 1));
    (void)snprintf(dst, size, "%.*s***@%s", (int)skip, key, rest);
    return dst;
}

/*
 * Split a registry location ("https://user@Registry.example.com:5000/team/v2/")
 * into host[:port] ("registry.example.com:5000") and path ("team"), as the
 * kubelet keys its keyring: no scheme, no user info, no /v1/ or /v2/ suffix,
 * no leading or trailing '/'. Returns -1 when s is not such a location.
 */
static int parse_location(const char *s, bool glob, char **host, char **path)
{
    const char *p = s + p4_regname_scheme_len(s), *at, *h, *q;
    size_t alen, plen;

    *host = NULL;
    *path = NULL;
    for (q = s; *q != '\0'; q++) {
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f || *q == '?' || *q == '#' ||
            *q == '\\')
            return -1;
    }
    alen = strcspn(p, "/");
    at = memrchr(p, '@', alen);
    h = at != NULL ? at + 1 : p;
    if (!p4_regname_valid_host(h, (size_t)(p + alen - h), glob))
        return -1;
    q = p + alen;
    plen = strlen(q);
    while (plen > 0 && q[0] == '/')
        q++, plen--;
    while (plen > 0 && q[plen - 1] == '/')
        plen--;
    if (plen >= 2 && q[plen - 2] == 'v' && (q[plen - 1] == '1' || q[plen - 1] == '2') &&
        (plen == 2 || q[plen - 3] == '/')) {
        plen -= 2;
        while (plen > 0 && q[plen - 1] == '/')
            plen--;
    }
    if (plen > 0 && memmem(q, plen, "//", 2) != NULL)
        return -1;
    *host = p4_regname_fold_host(h, (size_t)(p + alen - h));
    *path = p4_strndup(q, plen);
    return 0;
}

/* '*' in pattern p[0..pn) matches any run of characters in one DNS label s[0..sn). */
static bool label_match(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = 0, mark = 0;
    bool has_star = false;

    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            has_star = true;
            star = pi++;
            mark = si;
        } else if (pi < pn && p[pi] == s[si]) {
            pi++;
            si++;
        } else if (has_star) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

/* Does a key's host[:port] (maybe with '*' labels) match an image's? Ports must be equal. */
static bool host_match(const char *pattern, const char *host)
{
    const char *p = pattern, *h = host;

    if (strchr(pattern, '*') == NULL)
        return strcmp(pattern, host) == 0;
    if (host[0] == '[' || strcmp(p + strcspn(p, ":"), h + strcspn(h, ":")) != 0)
        return false;
    for (;;) {
        size_t pl = strcspn(p, ".:"), hl = strcspn(h, ".:");

        if (!label_match(p, pl, h, hl))
            return false;
        p += pl;
        h += hl;
        if (*p != '.' || *h != '.')
            return *p != '.' && *h != '.';
        p++;
        h++;
    }
}

/* Does a key's path prefix cover repository, at a '/' boundary? */
static bool path_match(const char *prefix, const char *repository)
{
    size_t n = strlen(prefix);

    return n == 0 ||
           (strncmp(prefix, repository, n) == 0 && (repository[n] == '\0' || repository[n] == '/'));
}

static void entry_close(struct p4_regauth_entry *e)
{
    p4_wipe_free_str(e->registry);
    free(e->host);
    free(e->path);
    free(e->normalized);
    p4_wipe_free_str(e->username);
    p4_wipe_free_str(e->password);
    p4_wipe_free_str(e->identity_token);
    p4_wipe_free_str(e->registry_token);
    memset(e, 0, sizeof(*e));
}

void p4_regauth_init(struct p4_regauth *a)
{
    memset(a, 0, sizeof(*a));
}

void p4_regauth_close(struct p4_regauth *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->len; i++)
        entry_close(&a->entries[i]);
    free(a->entries);
    memset(a, 0, sizeof(*a));
}

/*
 * The member name of obj: an exact match, else one differing only in case
 * (Go's encoding/json, which the kubelet uses, matches field names so).
 */
static const cJSON *field(const cJSON *obj, const char *name)
{
    const cJSON *c, *folded = NULL;

    for (c = obj->child; c != NULL; c = c->next) {
        if (c->string == NULL)
            continue;
        if (strcmp(c->string, name) == 0)
            return c;
        if (folded == NULL && strcasecmp(c->string, name) == 0)
            folded = c;
    }
    return folded;
}

enum { F_USERNAME, F_PASSWORD, F_AUTH, F_EMAIL, F_IDENTITY, F_REGISTRY_TOKEN, F_COUNT };

static const char *const field_names[F_COUNT] = {
    "username", "password", "auth", "email", "identitytoken", "registrytoken",
};

/* Fill e from one "<registry>": {...} member of a secret; the caller closes e on failure. */
static int read_entry(const cJSON *item, const char *what, struct p4_regauth_entry *e,
                      struct p4_error *err)
{
    const char *val[F_COUNT] = {NULL};
    const char *key = item->string != NULL ? item->string : "";
    char show[P4_REGNAME_SHOWN_SIZE];
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    const char *colon;
    int rc = 0;

    shown_key(show, sizeof(show), key);
    if (!cJSON_IsObject(item)) {
        rc = p4_error_set(err, P4_ERR_INVAL, "the entry for registry \"%s\" in %s is not an object",
                          show, what);
        goto out;
    }
    if (parse_location(key, true, &e->host, &e->path) < 0) {
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "registry key \"%s\" in %s is not a host[:port][/path] location", show,
                          what);
        goto out;
    }
    for (int i = 0; i < F_COUNT; i++) {
        const cJSON *f = field(item, field_names[i]);

        if (f == NULL || cJSON_IsNull(f))
            continue;
        if (!cJSON_IsString(f)) {
            rc = p4_error_set(err, P4_ERR_INVAL,
                              "field \"%s\" of registry \"%s\" in %s is not a string",
                              field_names[i], show, what);
            goto out;
        }
        val[i] = f->valuestring;
    }
    e->registry = p4_strdup(key);
    e->normalized = p4_malloc(strlen(e->host) + strlen(e->path) + 2);
    (void)snprintf(e->normalized, strlen(e->host) + strlen(e->path) + 2, "%s%s%s", e->host,
                   e->path[0] != '\0' ? "/" : "", e->path);
    if (val[F_AUTH] != NULL && val[F_AUTH][0] != '\0') {
        /* As the kubelet does: auth, when set, wins over username and password. */
        if (p4_base64_decode(val[F_AUTH], strlen(val[F_AUTH]), 1, &plain, &plain_len) != 0) {
            rc = p4_error_set(err, P4_ERR_INVAL,
                              "the auth field of registry \"%s\" in %s is not valid base64", show,
                              what);
            goto out;
        }
        colon = plain != NULL ? memchr(plain, ':', plain_len) : NULL;
        if (colon == NULL || memchr(plain, '\0', plain_len) != NULL) {
            rc = p4_error_set(err, P4_ERR_INVAL,
                              "the auth field of registry \"%s\" in %s does not decode to "
                              "username:password; recreate the secret with kubectl create secret "
                              "docker-registry",
                              show, what);
            goto out;
        }
        e->username = p4_strndup((const char *)plain, (size_t)(colon - (const char *)plain));
        e->password = p4_strdup(colon + 1);
    } else {
        e->username = p4_strdup_or_null(val[F_USERNAME]);
        e->password = p4_strdup_or_null(val[F_PASSWORD]);
    }
    e->identity_token = p4_strdup_or_null(val[F_IDENTITY]);
    e->registry_token = p4_strdup_or_null(val[F_REGISTRY_TOKEN]);
out:
    if (plain != NULL) {
        p4_wipe(plain, plain_len);
        free(plain);
    }
    return rc;
}

int p4_regauth_add_secret(struct p4_regauth *a, const char *type, const char *data, size_t len,
                          struct p4_error *err)
{
    struct p4_regauth_entry *tmp = NULL;
    const cJSON *auths, *item;
    struct p4_error perr;
    cJSON *doc = NULL;
    const char *what;
    char show[P4_REGNAME_SHOWN_SIZE];
    size_t n = 0, count;
    int rc = 0;

    if (a == NULL || type == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no keyring or secret type to add a pull secret to");
        goto out;
    }
    if (strcmp(type, P4_REGAUTH_DOCKERCONFIGJSON) == 0) {
        what = ".dockerconfigjson";
    } else if (strcmp(type, P4_REGAUTH_DOCKERCFG) == 0) {
        what = ".dockercfg";
    } else {
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "pull secret type \"%s\" is not " P4_REGAUTH_DOCKERCONFIGJSON
                          " or " P4_REGAUTH_DOCKERCFG,
                          p4_regname_shown(show, sizeof(show), type, strlen(type)));
        goto out;
    }
    if (len > P4_REGAUTH_INPUT_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG,
                          "pull secret data %s of %zu bytes exceeds the %zu-byte limit", what, len,
                          P4_REGAUTH_INPUT_MAX);
        goto out;
    }
    /* p4_json_parse's messages give positions only, never the text, so they may be quoted. */
    doc = p4_json_parse(data, len, &perr);
    if (doc == NULL) {
        rc = p4_error_set(err, perr.code, "pull secret data %s is not valid JSON: %s", what,
                          perr.message);
        goto out;
    }
    if (!cJSON_IsObject(doc)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "pull secret data %s is not a JSON object", what);
        goto out;
    }
    auths = doc;
    if (strcmp(type, P4_REGAUTH_DOCKERCONFIGJSON) == 0) {
        /* Docker's config.json may hold only credHelpers and the like: no auths, no entries. */
        auths = p4_json_child(doc, "auths");
        if (auths != NULL && !cJSON_IsNull(auths) && !cJSON_IsObject(auths)) {
            rc = p4_error_set(err, P4_ERR_INVAL,
                              "\"auths\" in pull secret data %s is not an object", what);
            goto out;
        }
    }
    count = cJSON_IsObject(auths) ? (size_t)cJSON_GetArraySize(auths) : 0;
    tmp = p4_calloc(count > 0 ? count : 1, sizeof(*tmp));
    if (count > 0) {
        cJSON_ArrayForEach(item, auths) {
            rc = read_entry(item, what, &tmp[n], err);
            n++;
            if (rc < 0)
                goto out;
            tmp[n - 1].secret = a->secrets;
        }
    }
    if (a->len + n > a->cap) {
        size_t cap = a->cap > 0 ? a->cap : 8;

        while (cap < a->len + n)
            cap *= 2;
        a->entries = p4_realloc(a->entries, cap * sizeof(*a->entries));
        a->cap = cap;
    }
    if (n > 0)
        memcpy(a->entries + a->len, tmp, n * sizeof(*tmp));
    a->len += n;
    a->secrets++;
    n = 0; /* taken over by a */
out:
    for (size_t i = 0; i < n; i++)
        entry_close(&tmp[i]);
    free(tmp);
    p4_json_discard(doc); /* the tree held credentials: wiped, then freed */
    return rc;
}

/* Is the lookup argument a registry (URL or bare host) rather than an image reference? */
static bool is_registry_arg(const char *s)
{
    size_t first;

    if (strstr(s, "://") != NULL)
        return true;
    if (strchr(s, '/') != NULL)
        return false;
    first = strcspn(s, ":");
    return s[0] == '[' || (first == 9 && strncmp(s, "localhost", 9) == 0) ||
           memchr(s, '.', first) != NULL;
}

int p4_regauth_lookup(const struct p4_regauth *a, const char *image_ref_or_host,
                      const struct p4_regauth_entry **out, struct p4_error *err)
{
    struct p4_image_ref ref = {0};
    const struct p4_regauth_entry *best = NULL;
    char *host = NULL, *path = NULL;
    const char *h, *p;
    char show[P4_REGNAME_SHOWN_SIZE], where[2 * P4_REGNAME_SHOWN_SIZE];
    size_t best_score = 0;
    int rc = 0;

    if (out != NULL)
        *out = NULL;
    if (a == NULL || image_ref_or_host == NULL || out == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no keyring or image to look up credentials for");
        goto out;
    }
    if (is_registry_arg(image_ref_or_host)) {
        if (strlen(image_ref_or_host) > P4_REGAUTH_INPUT_MAX ||
            parse_location(image_ref_or_host, false, &host, &path) < 0) {
            rc = p4_error_set(
                err, P4_ERR_INVAL, "registry \"%s\" is not a host[:port][/path] location",
                p4_regname_shown(show, sizeof(show), image_ref_or_host, strlen(image_ref_or_host)));
            goto out;
        }
        h = host;
        p = path;
    } else {
        rc = p4_image_ref_parse(image_ref_or_host, &ref, err);
        if (rc < 0)
            goto out;
        h = ref.registry;
        p = ref.repository;
    }
    /* Entries are in secret order: stop at the first secret that has a match. */
    for (size_t i = 0; i < a->len; i++) {
        const struct p4_regauth_entry *e = &a->entries[i];
        size_t score;

        if (best != NULL && e->secret != best->secret)
            break;
        if (!host_match(e->host, h) || !path_match(e->path, p))
            continue;
        /* Longest path first; then a literal host over a wildcard; then the first written. */
        score = strlen(e->path) * 2 + (strchr(e->host, '*') == NULL ? 1 : 0);
        if (best == NULL || score > best_score) {
            best = e;
            best_score = score;
        }
    }
    if (best == NULL) {
        p4_regname_shown(show, sizeof(show), p, strlen(p));
        (void)snprintf(where, sizeof(where), "%s%s%s", h, p[0] != '\0' ? "/" : "", show);
        rc = p4_error_set(err, P4_ERR_NOTFOUND,
                          "no image pull secret has credentials for %s; add its registry to a "
                          "secret in imagePullSecrets",
                          where);
        goto out;
    }
    *out = best;
out:
    free(host);
    free(path);
    p4_image_ref_close(&ref);
    return rc;
}

void p4_regauth_redact(const struct p4_regauth *a, struct p4_redact *s)
{
    if (a == NULL || s == NULL)
        return;
    for (size_t i = 0; i < a->len; i++) {
        const struct p4_regauth_entry *e = &a->entries[i];
        const char *secrets[] = {e->password, e->identity_token, e->registry_token};

        for (size_t k = 0; k < sizeof(secrets) / sizeof(secrets[0]); k++) {
            if (secrets[k] != NULL)
                p4_redact_add(s, secrets[k], strlen(secrets[k]));
        }
        if (e->username != NULL && e->password != NULL) {
            size_t n = strlen(e->username) + strlen(e->password) + 2;
            char *pair = p4_malloc(n);

            (void)snprintf(pair, n, "%s:%s", e->username, e->password);
            p4_redact_add(s, pair, n - 1);
            p4_wipe_free(pair, n);
        }
    }
}
