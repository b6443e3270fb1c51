/* regauth.c: registry credentials and auth challenges, resolved as a kubelet does (regauth.h). */
#include "phase4/oci/regauth.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/base64.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

#define DOCKER_HUB "docker.io"
#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128
/* Room for a quoted registry key or image reference in a message. */
#define SHOWN_SIZE 104

/* A parsed tree held credentials: wipe every key and string, then free it. */
static void delete_tree(cJSON *doc)
{
    p4_json_discard(doc);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c);
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static char to_lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
    return c;
}

/*
 * A printable copy of s[0..n) for a message, within size bytes and "..." after a cut, byte for
 * byte: control characters, quotes, backslashes and non-ASCII bytes become '?'. Never used on a
 * credential.
 */
static const char *shown(char *dst, size_t size, const char *s, size_t n)
{
    (void)p4_text_clean(dst, size, s, n, P4_TEXT_ASCII | P4_TEXT_LITERAL | P4_TEXT_QUOTED);
    return dst;
}

/* Length of a leading "https://" or "http://" (any case), or 0. */
static size_t scheme_len(const char *s)
{
    size_t n = 0;

    while (n < 5 && s[n] != '\0' && s[n] != ':')
        n++;
    if ((n == 4 && strncasecmp(s, "http", 4) == 0) || (n == 5 && strncasecmp(s, "https", 5) == 0))
        return strncmp(s + n, "://", 3) == 0 ? n + 3 : 0;
    return 0;
}

/* A registry key for a message, with any user info ("https://user:pass@host") redacted. */
static const char *shown_key(char *dst, size_t size, const char *key)
{
    size_t skip = scheme_len(key), alen = strcspn(key + skip, "/");
    const char *at = memrchr(key + skip, '@', alen);
    char rest[SHOWN_SIZE - 16]; /* room for the scheme and "***@" */

    if (at == NULL)
        return shown(dst, size, key, strlen(key));
    shown(rest, sizeof(rest), at + 1, strlen(at + 1));
    (void)snprintf(dst, size, "%.*s***@%s", (int)skip, key, rest);
    return dst;
}

static bool valid_port(const char *s, size_t n)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v <= 65535;
}

/*
 * host[:port] as the distribution reference grammar has it: DNS labels of
 * letters, digits and inner '-', or a bracketed IPv6 address. glob also lets
 * labels hold '*' (registry keys such as "*.example.com").
 */
static bool valid_domain(const char *s, size_t n, bool glob)
{
    size_t i = 0;

    if (n == 0)
        return false;
    if (s[0] == '[') {
        const char *end = memchr(s, ']', n);

        if (end == NULL || end == s + 1)
            return false;
        for (const char *q = s + 1; q < end; q++) {
            char c = to_lower(*q);

            if (!is_digit(c) && !(c >= 'a' && c <= 'f') && c != ':' && c != '.')
                return false;
        }
        i = (size_t)(end - s) + 1;
    } else {
        for (;;) {
            size_t start = i;

            while (i < n && (is_alnum(s[i]) || s[i] == '-' || (glob && s[i] == '*')))
                i++;
            if (i == start || s[start] == '-' || s[i - 1] == '-')
                return false;
            if (i < n && s[i] == '.') {
                i++;
                continue;
            }
            break;
        }
    }
    if (i == n)
        return true;
    return s[i] == ':' && valid_port(s + i + 1, n - i - 1);
}

/* Lowercase copy of host[0..n), Docker Hub's aliases folded into "docker.io". */
static char *fold_host(const char *host, size_t n)
{
    char *h = p4_strndup(host, n);

    for (char *p = h; *p != '\0'; p++)
        *p = to_lower(*p);
    if (strcmp(h, "index.docker.io") == 0 || strcmp(h, "registry-1.docker.io") == 0) {
        free(h);
        h = p4_strdup(DOCKER_HUB);
    }
    return h;
}

/*
 * Split a registry location ("https://user@Registry.example.com:5000/team/v2/")
 * into host[:port] ("registry.example.com:5000") and path ("team"), as the
 * kubelet keys its keyring: no scheme, no user info, no /v1/ or /v2/ suffix,
 * no leading or trailing '/'. Returns -1 when s is not such a location.
 */
static int parse_location(const char *s, bool glob, char **host, char **path)
{
    const char *p = s + scheme_len(s), *at, *h, *q;
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
    if (!valid_domain(h, (size_t)(p + alen - h), glob))
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
    *host = fold_host(h, (size_t)(p + alen - h));
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
    char show[SHOWN_SIZE];
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
    char show[SHOWN_SIZE];
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
                          shown(show, sizeof(show), type, strlen(type)));
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
        cJSON_ArrayForEach(item, auths)
        {
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
    delete_tree(doc);
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
    char show[SHOWN_SIZE], where[2 * SHOWN_SIZE];
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
                shown(show, sizeof(show), image_ref_or_host, strlen(image_ref_or_host)));
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
        shown(show, sizeof(show), p, strlen(p));
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

void p4_image_ref_close(struct p4_image_ref *r)
{
    if (r == NULL)
        return;
    free(r->registry);
    free(r->repository);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

/* One repository path component: [a-z0-9]+ joined by '.', '_', "__" or runs of '-'. */
static bool valid_component(const char *s, size_t n)
{
    size_t i = 0;

    for (;;) {
        size_t start = i;

        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == start)
            return false;
        if (i == n)
            return true;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
    }
}

/* NULL when s[0..n) is a valid repository path, else why not. */
static const char *check_repository(const char *s, size_t n)
{
    const char *why = NULL;
    size_t i = 0;

    for (size_t k = 0; k < n; k++) {
        if (s[k] >= 'A' && s[k] <= 'Z')
            return "the repository name must be lowercase";
    }
    for (;;) {
        size_t len = strcspn(s + i, "/");

        if (len > n - i)
            len = n - i;
        if (len == 0)
            return "the repository has an empty path component";
        if (why == NULL && !valid_component(s + i, len))
            why = "a repository path component has characters other than [a-z0-9] with single "
                  "'.', '_', \"__\" or '-' runs between them";
        i += len;
        if (i == n)
            return why;
        i++; /* the '/' */
    }
}

/* NULL when tag is a valid tag, else why not. */
static const char *check_tag(const char *s, size_t n)
{
    if (n == 0)
        return "the tag after ':' is empty";
    if (n > TAG_MAX_LEN)
        return "the tag is longer than 128 characters";
    for (size_t i = 0; i < n; i++) {
        if (!(is_alnum(s[i]) || s[i] == '_' || (i > 0 && (s[i] == '.' || s[i] == '-'))))
            return "the tag may hold only letters, digits, '_', '.' and '-', and not start "
                   "with '.' or '-'";
    }
    return NULL;
}

/* NULL when s is "sha256:<64 lowercase hex>" (or sha384/sha512 with 96/128), else why not. */
static const char *check_digest(const char *s)
{
    static const struct {
        const char *alg;
        size_t hex;
    } algs[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};
    const char *colon = strchr(s, ':');
    size_t alen = colon != NULL ? (size_t)(colon - s) : 0;

    if (s[0] == '\0')
        return "the digest after '@' is empty";
    if (colon == NULL)
        return "the digest must be algorithm:hex, such as sha256:<64 hex digits>";
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strlen(algs[i].alg) != alen || strncmp(s, algs[i].alg, alen) != 0)
            continue;
        if (strlen(colon + 1) != algs[i].hex)
            return "the digest has the wrong length for its algorithm";
        for (const char *q = colon + 1; *q != '\0'; q++) {
            if (!is_digit(*q) && !(*q >= 'a' && *q <= 'f'))
                return "the digest must be lowercase hexadecimal";
        }
        return NULL;
    }
    return "the digest algorithm must be sha256, sha384 or sha512";
}

int p4_image_ref_parse(const char *ref, struct p4_image_ref *out, struct p4_error *err)
{
    const char *at, *name_end, *slash, *last_slash, *colon, *repo, *why = NULL;
    const char *domain = NULL, *tag = NULL;
    char show[SHOWN_SIZE];
    size_t len, nlen, dlen = 0, rlen, tlen = 0;
    bool hub;
    int rc = 0;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (ref == NULL || out == NULL) {
        rc = P4_ERR_INVAL;
        (void)p4_error_set(err, rc, "no image reference to parse");
        goto out;
    }
    len = strnlen(ref, P4_REGAUTH_INPUT_MAX + 1);
    if (len > P4_REGAUTH_INPUT_MAX) {
        rc = P4_ERR_TOOBIG;
        (void)p4_error_set(err, rc, "image reference exceeds the %zu-byte limit",
                           P4_REGAUTH_INPUT_MAX);
        goto out;
    }
    shown(show, sizeof(show), ref, len);
    if (len == 0) {
        rc = P4_ERR_INVAL;
        (void)p4_error_set(err, rc, "the image reference is empty");
        goto out;
    }
    at = strchr(ref, '@');
    name_end = at != NULL ? at : ref + len;
    last_slash = memrchr(ref, '/', (size_t)(name_end - ref));
    colon = memrchr(ref, ':', (size_t)(name_end - ref));
    if (colon != NULL && (last_slash == NULL || colon > last_slash)) {
        tag = colon + 1;
        tlen = (size_t)(name_end - tag);
        name_end = colon;
    }
    nlen = (size_t)(name_end - ref);
    slash = memchr(ref, '/', nlen);
    repo = ref;
    if (slash != NULL) {
        size_t first = (size_t)(slash - ref);
        bool upper = false;

        for (size_t i = 0; i < first; i++)
            upper = upper || (ref[i] >= 'A' && ref[i] <= 'Z');
        /* docker's rule: the first component is a registry if it looks like a host. */
        if (memchr(ref, '.', first) != NULL || memchr(ref, ':', first) != NULL || upper ||
            (first == 9 && strncmp(ref, "localhost", 9) == 0)) {
            domain = ref;
            dlen = first;
            repo = slash + 1;
        }
    }
    rlen = (size_t)(name_end - repo);
    if (nlen == 0)
        why = "it has no repository name";
    else if (domain != NULL && !valid_domain(domain, dlen, false))
        why = "the registry is not a valid host[:port]";
    else
        why = check_repository(repo, rlen);
    if (why == NULL && tag != NULL)
        why = check_tag(tag, tlen);
    if (why == NULL && at != NULL)
        why = check_digest(at + 1);
    if (why == NULL) {
        out->registry = domain != NULL ? fold_host(domain, dlen) : p4_strdup(DOCKER_HUB);
        hub = strcmp(out->registry, DOCKER_HUB) == 0;
        if (hub && memchr(repo, '/', rlen) == NULL) {
            out->repository = p4_malloc(rlen + sizeof("library/"));
            (void)snprintf(out->repository, rlen + sizeof("library/"), "library/%.*s", (int)rlen,
                           repo);
        } else {
            out->repository = p4_strndup(repo, rlen);
        }
        /* As docker does, the limit applies to the normalized name (docker.io/library/...). */
        if (strlen(out->registry) + 1 + strlen(out->repository) > NAME_MAX_LEN)
            why = "the name with its registry is longer than 255 characters";
    }
    if (why != NULL) {
        p4_image_ref_close(out);
        rc = P4_ERR_INVAL;
        (void)p4_error_set(err, rc, "image reference \"%s\" is invalid: %s", show, why);
        goto out;
    }
    if (tag != NULL)
        out->tag = p4_strndup(tag, tlen);
    else if (at == NULL)
        out->tag = p4_strdup("latest");
    if (at != NULL)
        out->digest = p4_strdup(at + 1);
out:
    return rc;
}

static void challenge_close(struct p4_auth_challenge *c)
{
    free(c->scheme);
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

void p4_regauth_challenges_close(struct p4_auth_challenges *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->len; i++)
        challenge_close(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

struct scan {
    const char *s;
    size_t len;
    size_t pos;
};

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token68_char(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("-._~+/", c) != NULL);
}

/* A byte of an unquoted parameter value: lenient, since registries send realm=https://... */
static bool is_value_char(char c)
{
    return (unsigned char)c > 0x20 && (unsigned char)c != 0x7f && c != ',' && c != '"';
}

static size_t skip_ws(const struct scan *sc, size_t at)
{
    while (at < sc->len && (sc->s[at] == ' ' || sc->s[at] == '\t'))
        at++;
    return at;
}

static size_t tchars(const struct scan *sc, size_t at)
{
    size_t n = 0;

    while (at + n < sc->len && is_tchar(sc->s[at + n]))
        n++;
    return n;
}

/* Is there a "name = value" at at? *value gets where the value starts. */
static bool param_at(const struct scan *sc, size_t at, size_t *value)
{
    size_t q = at + tchars(sc, at);

    if (q == at)
        return false;
    q = skip_ws(sc, q);
    if (q >= sc->len || sc->s[q] != '=')
        return false;
    q = skip_ws(sc, q + 1);
    if (q >= sc->len || (sc->s[q] != '"' && (!is_value_char(sc->s[q]) || sc->s[q] == '=')))
        return false;
    *value = q;
    return true;
}

/* Is there a token68 ending the challenge at at? *end gets the position after it. */
static bool token68_at(const struct scan *sc, size_t at, size_t *end)
{
    size_t q = at;

    while (q < sc->len && is_token68_char(sc->s[q]))
        q++;
    if (q == at)
        return false;
    while (q < sc->len && sc->s[q] == '=')
        q++;
    q = skip_ws(sc, q);
    if (q < sc->len && sc->s[q] != ',')
        return false;
    *end = q;
    return true;
}

/*
 * Scan the value starting at from: a quoted string (escapes undone) or a run of
 * value bytes. Copies it to dst when not NULL; returns its length, or -1 with
 * err filled. *end gets the position after it.
 */
static long scan_value(const struct scan *sc, size_t from, char *dst, size_t *end,
                       struct p4_error *err)
{
    size_t i = from, n = 0;

    if (sc->s[i] != '"') {
        while (i < sc->len && is_value_char(sc->s[i])) {
            if (dst != NULL)
                dst[n] = sc->s[i];
            n++;
            i++;
        }
        *end = i;
        return (long)n;
    }
    for (i++;; i++) {
        char ch;

        if (i >= sc->len)
            return p4_error_set(err, P4_ERR_PARSE,
                                "the quoted string at byte %zu of the WWW-Authenticate value is "
                                "not closed",
                                from);
        ch = sc->s[i];
        if (ch == '"')
            break;
        if (ch == '\\' && i + 1 < sc->len)
            ch = sc->s[++i];
        if (((unsigned char)ch < 0x20 && ch != '\t') || (unsigned char)ch == 0x7f)
            return p4_error_set(err, P4_ERR_PARSE,
                                "control character at byte %zu of the WWW-Authenticate value", i);
        if (dst != NULL)
            dst[n] = ch;
        n++;
    }
    *end = i + 1;
    return (long)n;
}

/* Read the parameter named at name whose value starts at value into c; sc->pos ends after it. */
static int read_param(struct scan *sc, struct p4_auth_challenge *c, size_t name, size_t value,
                      struct p4_error *err)
{
    static const char *const names[] = {"realm", "service", "scope", "error"};
    char **slots[] = {&c->realm, &c->service, &c->scope, &c->error};
    size_t nlen = tchars(sc, name), end;
    long n = scan_value(sc, value, NULL, &end, err);
    char **slot = NULL;
    const char *slot_name = NULL;

    if (n < 0)
        return (int)n;
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (strlen(names[k]) == nlen && strncasecmp(sc->s + name, names[k], nlen) == 0) {
            slot = slots[k];
            slot_name = names[k];
        }
    }
    sc->pos = end;
    if (slot == NULL)
        return 0; /* a parameter we do not use */
    if (*slot != NULL)
        return p4_error_set(err, P4_ERR_PARSE,
                            "parameter %s appears twice in one challenge (byte %zu of the "
                            "WWW-Authenticate value)",
                            slot_name, name);
    *slot = p4_malloc((size_t)n + 1);
    (void)scan_value(sc, value, *slot, &end, err);
    (*slot)[n] = '\0';
    return 0;
}

static enum p4_auth_scheme scheme_kind(const char *s)
{
    if (strcasecmp(s, "Bearer") == 0)
        return P4_AUTH_BEARER;
    if (strcasecmp(s, "Basic") == 0)
        return P4_AUTH_BASIC;
    return P4_AUTH_OTHER;
}

int p4_regauth_challenges_parse(const char *header, size_t len, struct p4_auth_challenges *out,
                                struct p4_error *err)
{
    struct scan sc = {header, len, 0};
    size_t n, v, end;
    int rc = 0;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (out == NULL || (header == NULL && len > 0)) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no WWW-Authenticate value to parse");
        goto out;
    }
    if (len > P4_REGAUTH_INPUT_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG,
                          "WWW-Authenticate value of %zu bytes exceeds the %zu-byte limit", len,
                          P4_REGAUTH_INPUT_MAX);
        goto out;
    }
    out->items = p4_calloc(P4_REGAUTH_CHALLENGES_MAX, sizeof(*out->items));
    for (;;) {
        struct p4_auth_challenge *c;

        while (sc.pos < len &&
               (header[sc.pos] == ',' || header[sc.pos] == ' ' || header[sc.pos] == '\t'))
            sc.pos++;
        if (sc.pos == len)
            break;
        n = tchars(&sc, sc.pos);
        if (n == 0) {
            rc = p4_error_set(err, P4_ERR_PARSE,
                              "expected an auth scheme at byte %zu of the WWW-Authenticate value",
                              sc.pos);
            goto out;
        }
        if (out->len == P4_REGAUTH_CHALLENGES_MAX) {
            rc = p4_error_set(err, P4_ERR_TOOBIG,
                              "the WWW-Authenticate value has more than %d challenges",
                              P4_REGAUTH_CHALLENGES_MAX);
            goto out;
        }
        c = &out->items[out->len++];
        c->scheme = p4_strndup(header + sc.pos, n);
        c->kind = scheme_kind(c->scheme);
        sc.pos += n;
        if (sc.pos < len && header[sc.pos] != ' ' && header[sc.pos] != '\t' &&
            header[sc.pos] != ',') {
            rc = p4_error_set(err, P4_ERR_PARSE,
                              "unexpected character after the auth scheme at byte %zu of the "
                              "WWW-Authenticate value",
                              sc.pos);
            goto out;
        }
        sc.pos = skip_ws(&sc, sc.pos);
        /* The first item: a parameter, a token68 (Negotiate abc==), or nothing. */
        if (sc.pos < len && header[sc.pos] != ',') {
            if (param_at(&sc, sc.pos, &v)) {
                rc = read_param(&sc, c, sc.pos, v, err);
                if (rc < 0)
                    goto out;
            } else if (token68_at(&sc, sc.pos, &end)) {
                sc.pos = end;
            } else {
                rc = p4_error_set(err, P4_ERR_PARSE,
                                  "expected a parameter at byte %zu of the WWW-Authenticate value",
                                  sc.pos);
                goto out;
            }
        }
        /* Further parameters, until a name without '=' starts the next challenge. */
        for (;;) {
            sc.pos = skip_ws(&sc, sc.pos);
            if (sc.pos == len)
                break;
            if (header[sc.pos] != ',') {
                rc = p4_error_set(err, P4_ERR_PARSE,
                                  "expected ',' at byte %zu of the WWW-Authenticate value", sc.pos);
                goto out;
            }
            while (sc.pos < len &&
                   (header[sc.pos] == ',' || header[sc.pos] == ' ' || header[sc.pos] == '\t'))
                sc.pos++;
            if (sc.pos == len || !param_at(&sc, sc.pos, &v))
                break;
            rc = read_param(&sc, c, sc.pos, v, err);
            if (rc < 0)
                goto out;
        }
    }
    if (out->len == 0) {
        rc = p4_error_set(err, P4_ERR_PARSE, "the WWW-Authenticate value has no challenge");
        goto out;
    }
out:
    if (rc < 0)
        p4_regauth_challenges_close(out);
    return rc;
}

/* Append s URL-encoded (RFC 3986 unreserved characters kept, the rest %XX). */
static void append_encoded(struct p4_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};

        if (is_alnum((char)c) || c == '-' || c == '.' || c == '_' || c == '~')
            p4_buf_append(b, (const char *)&s[i], 1);
        else
            p4_buf_append(b, enc, 3);
    }
}

char *p4_regauth_token_url(const struct p4_auth_challenge *c, const char *scope)
{
    struct p4_buf b = {0};
    const char *realm, *sc, *sep;
    size_t skip, rlen;

    if (c == NULL || c->realm == NULL)
        return NULL;
    realm = c->realm;
    rlen = strlen(realm);
    skip = scheme_len(realm);
    if (skip == 0 || realm[skip] == '\0' || realm[skip] == '/')
        return NULL;
    for (size_t i = 0; i < rlen; i++) {
        unsigned char ch = (unsigned char)realm[i];

        if (ch <= 0x20 || ch == 0x7f || ch == '#')
            return NULL;
    }
    sc = scope != NULL ? scope : c->scope;
    if (strchr(realm, '?') == NULL)
        sep = "?";
    else
        sep = (realm[rlen - 1] == '?' || realm[rlen - 1] == '&') ? "" : "&";
    p4_buf_append(&b, realm, rlen);
    if (c->service != NULL) {
        p4_buf_printf(&b, "%sservice=", sep);
        append_encoded(&b, c->service, strlen(c->service));
        sep = "&";
    }
    /* One scope parameter per scope, as the Docker client sends them. */
    while (sc != NULL && *sc != '\0') {
        size_t n;

        sc += strspn(sc, " ");
        n = strcspn(sc, " ");
        if (n == 0)
            break;
        p4_buf_printf(&b, "%sscope=", sep);
        append_encoded(&b, sc, n);
        sep = "&";
        sc += n;
    }
    return b.data;
}

char *p4_regauth_basic_header(const char *user, const char *password)
{
    static const char prefix[] = "Authorization: Basic ";
    size_t ulen, plen, n, size;
    unsigned char *plain;
    char *out;

    if (user == NULL || password == NULL || strchr(user, ':') != NULL)
        return NULL;
    ulen = strlen(user);
    plen = strlen(password);
    if (ulen > P4_REGAUTH_INPUT_MAX || plen > P4_REGAUTH_INPUT_MAX)
        return NULL;
    n = ulen + 1 + plen;
    plain = p4_malloc(n + 1);
    memcpy(plain, user, ulen);
    plain[ulen] = ':';
    memcpy(plain + ulen + 1, password, plen);
    plain[n] = '\0';
    size = sizeof(prefix) - 1 + (n + 2) / 3 * 4 + 1;
    out = p4_malloc(size);
    memcpy(out, prefix, sizeof(prefix) - 1);
    /* n <= 2 MiB + 1, far below INT_MAX; EVP_EncodeBlock pads and NUL-terminates. */
    (void)EVP_EncodeBlock((unsigned char *)out + sizeof(prefix) - 1, plain, (int)n);
    p4_wipe(plain, n + 1);
    free(plain);
    return out;
}

void p4_regauth_token_close(struct p4_regauth_token *tok)
{
    if (tok == NULL)
        return;
    p4_wipe_free_str(tok->token);
    p4_wipe_free_str(tok->refresh_token);
    memset(tok, 0, sizeof(*tok));
}

static int two_digits(const char *p)
{
    return is_digit(p[0]) && is_digit(p[1]) ? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}

/* RFC 3339 ("2016-11-28T11:42:19.062Z", fractions and offsets allowed) into *out; -1 if bad. */
static int parse_time(const char *s, time_t *out)
{
    struct tm tm;
    const char *p;
    int h, m;

    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return -1;
        while (is_digit(*p))
            p++;
    }
    *out = timegm(&tm);
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return 0;
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        h = two_digits(p + 1);
        m = two_digits(p + 4);
        if (h < 0 || h > 23 || m < 0 || m > 59)
            return -1;
        *out += (*p == '+' ? -1 : 1) * ((time_t)h * 3600 + (time_t)m * 60);
        return 0;
    }
    return -1;
}

/* *out = the string member name, or NULL when absent or null; -1 when another type. */
static int str_member(const cJSON *obj, const char *name, const char **out)
{
    const cJSON *f = p4_json_child(obj, name);

    *out = NULL;
    if (f == NULL || cJSON_IsNull(f))
        return 0;
    if (!cJSON_IsString(f))
        return -1;
    *out = f->valuestring;
    return 0;
}

int p4_regauth_token_parse(const char *json, size_t len, time_t now, struct p4_regauth_token *tok,
                           struct p4_error *err)
{
    static const char *const names[] = {"token", "access_token", "refresh_token", "issued_at"};
    const char *val[4];
    struct p4_error perr;
    cJSON *doc = NULL;
    int64_t expires;
    int rc = 0, r;

    if (tok != NULL)
        memset(tok, 0, sizeof(*tok));
    if (tok == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no token to parse the token service response into");
        goto out;
    }
    if (len > P4_REGAUTH_INPUT_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG,
                          "token service response of %zu bytes exceeds the %zu-byte limit", len,
                          P4_REGAUTH_INPUT_MAX);
        goto out;
    }
    doc = p4_json_parse(json, len, &perr);
    if (doc == NULL) {
        rc = p4_error_set(err, perr.code, "the token service response is not valid JSON: %s",
                          perr.message);
        goto out;
    }
    if (!cJSON_IsObject(doc)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "the token service response is not a JSON object");
        goto out;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (str_member(doc, names[i], &val[i]) < 0) {
            rc = p4_error_set(err, P4_ERR_INVAL, "%s in the token service response is not a string",
                              names[i]);
            goto out;
        }
    }
    if (val[0] != NULL && val[0][0] != '\0')
        tok->token = p4_strdup(val[0]);
    else if (val[1] != NULL && val[1][0] != '\0')
        tok->token = p4_strdup(val[1]);
    if (tok->token == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "the token service response has neither token nor access_token");
        goto out;
    }
    tok->refresh_token = p4_strdup_or_null(val[2]);
    tok->expires_in = P4_REGAUTH_TOKEN_MIN_SECONDS;
    r = p4_json_int64(doc, "expires_in", &expires);
    if (r == 0 && expires >= 0) {
        tok->has_expires_in = true;
        /* As the Docker client does: a service never grants less than the minimum. */
        if (expires > tok->expires_in)
            tok->expires_in = expires;
    } else if (r != P4_ERR_NOTFOUND) {
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "expires_in in the token service response is not a whole, "
                          "non-negative number of seconds");
        goto out;
    }
    if (val[3] != NULL) {
        if (parse_time(val[3], &tok->issued_at) < 0) {
            rc = p4_error_set(err, P4_ERR_INVAL,
                              "issued_at in the token service response is not an RFC 3339 time");
            goto out;
        }
        tok->has_issued_at = true;
    }
    tok->expires_at = now + (time_t)tok->expires_in;
out:
    if (rc < 0)
        p4_regauth_token_close(tok);
    delete_tree(doc);
    return rc;
}
