/*
 * ocimanifest.h: OCI and Docker image manifests and indexes, as registries serve them.
 *
 * The Docker stage asks a registry for a reference and gets back either an
 * index (OCI image index or Docker manifest list: one entry per platform) or
 * an image manifest (a config blob and its layers). p4_oci_manifest_parse()
 * reads either from the response body and its Content-Type, checks every
 * descriptor (digest syntax, size) and refuses Docker schema 1.
 * p4_oci_index_find() picks the entry for a platform with containerd's
 * normalization; p4_oci_digest_verify() checks that the bytes a registry
 * returned are the ones a digest names.
 *
 * Ownership: p4_oci_manifest_parse() returns a manifest the caller frees with
 * p4_oci_manifest_free(); every string in it is a copy the manifest owns (no
 * pointer into the body or the cJSON tree is kept), except media_type, which
 * points to one of the static P4_OCI_MEDIA_* strings. The entry returned by
 * p4_oci_index_find() is borrowed from the index.
 */
#ifndef PHASE4_OCIMANIFEST_H
#define PHASE4_OCIMANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"

#define P4_OCI_MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define P4_OCI_MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define P4_OCI_MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define P4_OCI_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* An Accept header value for manifest requests: the four types we read. */
#define P4_OCI_ACCEPT                                                                              \
    P4_OCI_MEDIA_INDEX ", " P4_OCI_MEDIA_MANIFEST ", " P4_OCI_MEDIA_DOCKER_LIST                    \
                       ", " P4_OCI_MEDIA_DOCKER_MANIFEST

/* Limits: a larger body, or more entries or layers, is refused with P4_ERR_TOOBIG. */
#define P4_OCI_MANIFEST_MAX ((size_t)4 * 1024 * 1024)
#define P4_OCI_INDEX_ENTRIES_MAX 1000
#define P4_OCI_LAYERS_MAX 10000

/* Bytes of "sha256:" + 64 hex digits + NUL, as p4_oci_digest_of() writes it. */
#define P4_OCI_SHA256_DIGEST_SIZE 72

/* Bytes of a buffer for one part of a platform (os, architecture, variant) with its NUL. */
#define P4_OCI_PLATFORM_PART_MAX 64

enum p4_oci_kind {
    P4_OCI_INDEX = 1, /* OCI image index or Docker manifest list: entries */
    P4_OCI_IMAGE,     /* OCI or Docker v2 image manifest: config and layers */
};

struct p4_oci_descriptor {
    char *media_type; /* "application/vnd.oci.image.layer.v1.tar+gzip"; never NULL */
    char *digest;     /* "sha256:<64 hex>" or "sha512:<128 hex>", checked; never NULL */
    int64_t size;     /* bytes, >= 0 */
};

/* Strings as the document wrote them (not normalized); NULL when absent or empty. */
struct p4_oci_platform {
    char *os;           /* "linux"; never NULL when has_platform */
    char *architecture; /* "arm64"; never NULL when has_platform */
    char *variant;      /* "v8" */
    char *os_version;   /* "10.0.20348.1787" (Windows) */
};

struct p4_oci_index_entry {
    struct p4_oci_descriptor desc;
    bool has_platform;   /* the entry has a "platform"; all its strings NULL otherwise */
    bool is_attestation; /* annotation vnd.docker.reference.type = "attestation-manifest" */
    char *artifact_type; /* "artifactType" (OCI 1.1 referrers), printable; NULL when absent */
    struct p4_oci_platform platform;
};

struct p4_oci_manifest {
    enum p4_oci_kind kind;
    const char *media_type; /* static P4_OCI_MEDIA_*: from the header, the document or inferred */
    size_t annotations_len; /* members of the top-level "annotations" */

    /* P4_OCI_INDEX */
    struct p4_oci_index_entry *entries; /* entries_len of them; NULL when none */
    size_t entries_len;

    /* P4_OCI_IMAGE */
    struct p4_oci_descriptor config;
    struct p4_oci_descriptor *layers; /* layers_len of them; NULL when none */
    size_t layers_len;
    bool has_subject; /* absent and present differ; subject is all zero when absent */
    struct p4_oci_descriptor subject;
};

/*
 * Parse len bytes of body (need not be NUL-terminated) served with
 * content_type (the header value, parameters allowed; NULL or "" when there
 * was none). A known manifest type in the header decides the kind, and the
 * document's "mediaType", if any, must agree with it; a missing or generic
 * header (application/json, text/plain, application/octet-stream) defers to
 * the document's "mediaType", else to its shape ("manifests" makes an index,
 * "config" and "layers" an image manifest). On success *out is the manifest
 * (caller frees with p4_oci_manifest_free()) and 0 is returned. On failure
 * *out is NULL, err (may be NULL) is filled, and the return is
 * P4_ERR_TOOBIG (over a limit above), P4_ERR_PARSE (not JSON, a NUL byte, or
 * not an object), P4_ERR_INVALID (Docker schema 1, an unsupported or
 * contradictory media type, a missing or mistyped member, a bad digest or
 * size; the message names the field, e.g. `layers[2].digest "sha256:xyz" is
 * not a valid digest`) or P4_ERR_INVAL (body or out NULL).
 */
int p4_oci_manifest_parse(const char *body, size_t len, const char *content_type,
                          struct p4_oci_manifest **out, struct p4_error *err);

/* Release m and everything it holds; m may be NULL. */
void p4_oci_manifest_free(struct p4_oci_manifest *m);

/*
 * The digest of the first entry of an index of referrers (the referrers API's answer, or the
 * "sha256-<hex>" fallback tag's index; body len bytes) whose artifactType want accepts, as a
 * new string (caller frees); NULL when none does or the body is no index.
 */
char *p4_oci_pick_referrer(const char *body, size_t len, bool (*want)(const char *artifact_type));

/*
 * The first entry of index for os/arch/variant, or NULL (also when index is
 * NULL or not an index, or os or arch is NULL or empty). Entries without a
 * platform and attestation entries are never returned. Both sides are
 * normalized as containerd does (os lower-cased, "macos" is "darwin";
 * "aarch64" is "arm64", "x86_64" and "x86-64" are "amd64", "i386" is "386",
 * "armhf" is arm/v7, "armel" arm/v6; arm64 without a variant is arm64/v8, arm
 * without one arm/v7, amd64/v1 is amd64); os and architecture must then be
 * equal, and the variant too unless variant is NULL or "", in which case an
 * entry with the default variant is preferred and any variant accepted.
 * os.version is not compared. Borrowed from index.
 */
const struct p4_oci_index_entry *p4_oci_index_find(const struct p4_oci_manifest *index,
                                                   const char *os, const char *arch,
                                                   const char *variant);

/*
 * Split a platform such as "linux/arm64/v8" or "linux/amd64" into its parts,
 * as written (p4_oci_index_find() normalizes). variant is set to "" when
 * absent. Returns 0, or P4_ERR_INVAL with err (may be NULL) filled when s is
 * not os/architecture[/variant] of letters, digits, '.', '_' and '-', or a
 * part does not fit in P4_OCI_PLATFORM_PART_MAX bytes; the buffers are then
 * set to "".
 */
int p4_oci_parse_platform(const char *s, char os[P4_OCI_PLATFORM_PART_MAX],
                          char arch[P4_OCI_PLATFORM_PART_MAX],
                          char variant[P4_OCI_PLATFORM_PART_MAX], struct p4_error *err);

/* Whether digest is "sha256:" + 64 or "sha512:" + 128 lower-case hex digits. */
bool p4_oci_digest_valid(const char *digest);

/*
 * Check that len bytes of data (may be NULL when len is 0) hash to digest
 * (SHA-256 or SHA-512 as it names). Returns 0; P4_ERR_INVALID when they
 * differ (the message gives both digests); P4_ERR_INVAL when digest is
 * malformed or names another algorithm, or data is NULL with len > 0.
 */
int p4_oci_digest_verify(const char *digest, const void *data, size_t len, struct p4_error *err);

/* Write "sha256:<64 hex>" of len bytes of data (may be NULL when len is 0) to out. */
void p4_oci_digest_of(const void *data, size_t len, char out[P4_OCI_SHA256_DIGEST_SIZE]);

#endif
