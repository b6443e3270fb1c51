/*
 * ocimanifest_fuzz.c: libFuzzer target for registry manifest responses.
 *
 * Input layout: one byte picks the Content-Type (none, generic, each manifest
 * type, schema 1, HTML, with parameters), the rest is the body. A parsed
 * manifest must hold only checked digests, non-negative sizes and clean
 * strings within the limits; a refusal must be a known code with a clean,
 * non-empty message. The same bytes also go through the platform parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/oci/ocimanifest.h"

static const char *const content_types[] = {
    NULL,
    "",
    "application/json",
    P4_OCI_MEDIA_INDEX,
    P4_OCI_MEDIA_MANIFEST,
    P4_OCI_MEDIA_DOCKER_LIST,
    P4_OCI_MEDIA_DOCKER_MANIFEST,
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "text/html",
    "application/vnd.oci.image.index.v1+json; charset=utf-8",
    "application/octet-stream",
};

/* Printable ASCII only; spaces allowed only where a sentence has them. */
static void check_clean(const char *s, bool spaces)
{
    if (s == NULL)
        abort();
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || (*s == ' ' && !spaces))
            abort();
    }
}

static void check_descriptor(const struct p4_oci_descriptor *d)
{
    check_clean(d->media_type, false);
    if (!p4_oci_digest_valid(d->digest) || d->size < 0)
        abort();
}

static void check_platform_value(const char *s, bool required)
{
    if (s == NULL && !required)
        return;
    if (s == NULL)
        abort();
    check_clean(s, false);
    if (s[0] == '\0' || strlen(s) >= P4_OCI_PLATFORM_PART_MAX)
        abort();
}

static void check_find(const struct p4_oci_manifest *m, const char *os, const char *arch,
                       const char *variant)
{
    const struct p4_oci_index_entry *e = p4_oci_index_find(m, os, arch, variant);

    if (e == NULL)
        return;
    if (m->kind != P4_OCI_INDEX || e < m->entries || e >= m->entries + m->entries_len ||
        !e->has_platform || e->is_attestation)
        abort();
}

static void check_manifest(const struct p4_oci_manifest *m, const uint8_t *data, size_t size)
{
    struct p4_error err;
    int rc;

    if (m->kind == P4_OCI_INDEX) {
        if (m->entries_len > P4_OCI_INDEX_ENTRIES_MAX || m->layers != NULL ||
            (strcmp(m->media_type, P4_OCI_MEDIA_INDEX) != 0 &&
             strcmp(m->media_type, P4_OCI_MEDIA_DOCKER_LIST) != 0))
            abort();
        for (size_t i = 0; i < m->entries_len; i++) {
            const struct p4_oci_index_entry *e = &m->entries[i];

            check_descriptor(&e->desc);
            check_platform_value(e->platform.os, e->has_platform);
            check_platform_value(e->platform.architecture, e->has_platform);
            check_platform_value(e->platform.variant, false);
            check_platform_value(e->platform.os_version, false);
        }
        check_find(m, "linux", "amd64", NULL);
        check_find(m, "linux", "arm64", "v8");
        check_find(m, "linux", "arm", NULL);
        check_find(m, "unknown", "unknown", NULL);
        if (m->entries_len > 0) {
            rc = p4_oci_digest_verify(m->entries[0].desc.digest, data, size, &err);
            if (rc != 0 && rc != P4_ERR_INVALID)
                abort();
        }
    } else if (m->kind == P4_OCI_IMAGE) {
        if (m->layers_len > P4_OCI_LAYERS_MAX || m->entries != NULL ||
            (strcmp(m->media_type, P4_OCI_MEDIA_MANIFEST) != 0 &&
             strcmp(m->media_type, P4_OCI_MEDIA_DOCKER_MANIFEST) != 0))
            abort();
        check_descriptor(&m->config);
        for (size_t i = 0; i < m->layers_len; i++)
            check_descriptor(&m->layers[i]);
        if (m->has_subject)
            check_descriptor(&m->subject);
        else if (m->subject.digest != NULL)
            abort();
        if (p4_oci_index_find(m, "linux", "amd64", NULL) != NULL)
            abort();
    } else {
        abort();
    }
}

static void fuzz_platform(const uint8_t *data, size_t size)
{
    char os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX];
    char variant[P4_OCI_PLATFORM_PART_MAX], s[256];
    struct p4_error err;
    size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

    memcpy(s, data, n);
    s[n] = '\0';
    if (p4_oci_parse_platform(s, os, arch, variant, &err) == 0) {
        check_clean(os, false);
        check_clean(arch, false);
        check_clean(variant, false);
        if (os[0] == '\0' || arch[0] == '\0')
            abort();
    } else {
        check_clean(err.message, true);
        if (os[0] != '\0' || arch[0] != '\0' || variant[0] != '\0')
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p4_oci_manifest *m = NULL;
    struct p4_error err;
    const char *content_type;
    int rc;

    if (size < 1)
        return 0;
    content_type = content_types[data[0] % (sizeof(content_types) / sizeof(content_types[0]))];
    data++;
    size--;

    rc = p4_oci_manifest_parse((const char *)data, size, content_type, &m, &err);
    if (rc == 0) {
        if (m == NULL)
            abort();
        check_manifest(m, data, size);
    } else {
        if (m != NULL || err.code != rc ||
            (rc != P4_ERR_PARSE && rc != P4_ERR_INVALID && rc != P4_ERR_TOOBIG) ||
            err.message[0] == '\0')
            abort();
        check_clean(err.message, true);
    }
    p4_oci_manifest_free(m);
    fuzz_platform(data, size);
    return 0;
}
