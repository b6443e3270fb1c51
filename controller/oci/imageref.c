/* imageref.c: image references split and checked as docker splits them (imageref.h). */
#include "phase4/oci/imageref.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/text.h"
#include "regname.h"

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

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

        while (i < n && p4_ascii_lower_alnum(s[i]))
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
        if (!(p4_ascii_alnum(s[i]) || s[i] == '_' || (i > 0 && (s[i] == '.' || s[i] == '-'))))
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
            if (!p4_ascii_lower_hex(*q))
                return "the digest must be lowercase hexadecimal";
        }
        return NULL;
    }
    return "the digest algorithm must be sha256, sha384 or sha512";
}

size_t p4_image_ref_domain_len(const char *ref)
{
    size_t first = strcspn(ref, "/");

    if (ref[first] != '/')
        return 0;
    /* docker's rule: the first component is a registry if it looks like a host. */
    if (memchr(ref, '.', first) != NULL || memchr(ref, ':', first) != NULL ||
        (first == 9 && strncmp(ref, "localhost", 9) == 0))
        return first;
    for (size_t i = 0; i < first; i++) {
        if (ref[i] >= 'A' && ref[i] <= 'Z')
            return first;
    }
    return 0;
}

int p4_image_ref_parse(const char *ref, struct p4_image_ref *out, struct p4_error *err)
{
    const char *at, *name_end, *slash, *last_slash, *colon, *repo, *why = NULL;
    const char *domain = NULL, *tag = NULL;
    char show[P4_REGNAME_SHOWN_SIZE];
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
    len = strnlen(ref, P4_IMAGE_REF_MAX + 1);
    if (len > P4_IMAGE_REF_MAX) {
        rc = P4_ERR_TOOBIG;
        (void)p4_error_set(err, rc, "image reference exceeds the %zu-byte limit", P4_IMAGE_REF_MAX);
        goto out;
    }
    p4_regname_shown(show, sizeof(show), ref, len);
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
    if (slash != NULL && slash > ref && p4_image_ref_domain_len(ref) == (size_t)(slash - ref)) {
        domain = ref;
        dlen = (size_t)(slash - ref);
        repo = slash + 1;
    }
    rlen = (size_t)(name_end - repo);
    if (nlen == 0)
        why = "it has no repository name";
    else if (domain != NULL && !p4_regname_valid_host(domain, dlen, false))
        why = "the registry is not a valid host[:port]";
    else
        why = check_repository(repo, rlen);
    if (why == NULL && tag != NULL)
        why = check_tag(tag, tlen);
    if (why == NULL && at != NULL)
        why = check_digest(at + 1);
    if (why == NULL) {
        out->registry =
            domain != NULL ? p4_regname_fold_host(domain, dlen) : p4_strdup(P4_REGNAME_DOCKER_HUB);
        hub = strcmp(out->registry, P4_REGNAME_DOCKER_HUB) == 0;
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
