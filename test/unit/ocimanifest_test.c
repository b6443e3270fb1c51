/* ocimanifest_test.c: manifests and indexes as registries serve them, and bodies that are not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/buf.h"
#include "phase4/oci/ocimanifest.h"

#define SHA_AMD64 "sha256:5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51"
#define SHA_ARMV7 "sha256:5ba6c8710dd1369ce61603ab9b7a81b25f92d4a9f74956ab72a7ea75884f07ee"
#define SHA_ARM64 "sha256:f69162950f235e3cdbbad33f1f912d1a504be90d8a37d002c735d6f3e3882265"
#define SHA_ATT "sha256:f745a15153c4dacf0ea4bbf57265e73283941f8335939b33c693975315cf5916"
#define SHA_CFG "sha256:e67d23e7820c49a8051dac2831f38290f5e72f66c8db5079eeb60d82f14894c0"
#define SHA_L1 "sha256:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740"
#define SHA_L2 "sha256:8a1cee436cbac1489a1883c9d886fcfc46f302c55ed4106ae31729e4f4eb9041"
#define SHA_L3 "sha256:10dacdccfe877dc064d57442e6fa7a4e3085dc94e11a29819c2290fc3d788724"
#define SHA_SUBJ "sha256:ceaeee3c0f91c6c853bda5200efb5a1b94c85fd8bb21171047cbd19059c15722"
#define SHA512_EMPTY                                                                               \
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8"   \
    "318d2877eec2f63b931bd47417a81a538327af927da3e"
#define SHA256_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* A Docker Hub manifest list as buildx pushes it: distribution's 3-space indent, an attestation. */
static const char hub_list[] =
    "{\n"
    "   \"schemaVersion\": 2,\n"
    "   \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n"
    "   \"manifests\": [\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "         \"size\": 1165,\n"
    "         \"digest\": \"" SHA_AMD64 "\",\n"
    "         \"platform\": {\n"
    "            \"architecture\": \"amd64\",\n"
    "            \"os\": \"linux\"\n"
    "         }\n"
    "      },\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "         \"size\": 1165,\n"
    "         \"digest\": \"" SHA_ARMV7 "\",\n"
    "         \"platform\": {\n"
    "            \"architecture\": \"arm\",\n"
    "            \"os\": \"linux\",\n"
    "            \"variant\": \"v7\"\n"
    "         }\n"
    "      },\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "         \"size\": 1165,\n"
    "         \"digest\": \"" SHA_ARM64 "\",\n"
    "         \"platform\": {\n"
    "            \"architecture\": \"arm64\",\n"
    "            \"os\": \"linux\",\n"
    "            \"variant\": \"v8\"\n"
    "         }\n"
    "      },\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
    "         \"size\": 840,\n"
    "         \"digest\": \"" SHA_ATT "\",\n"
    "         \"annotations\": {\n"
    "            \"vnd.docker.reference.digest\": \"" SHA_AMD64 "\",\n"
    "            \"vnd.docker.reference.type\": \"attestation-manifest\"\n"
    "         },\n"
    "         \"platform\": {\n"
    "            \"architecture\": \"unknown\",\n"
    "            \"os\": \"unknown\"\n"
    "         }\n"
    "      }\n"
    "   ]\n"
    "}";

/* An OCI index as `skopeo copy --all` pushes an umoci layout: compact, Go's field order. */
static const char skopeo_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"digest\":\"" SHA_AMD64 "\",\"size\":658,\"platform\":{\"architecture\":\"amd64\","
    "\"os\":\"linux\"}},{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"digest\":\"" SHA_ARM64 "\",\"size\":658,\"platform\":{\"architecture\":\"arm64\","
    "\"os\":\"linux\"}}],\"annotations\":{\"org.opencontainers.image.ref.name\":\"1.0\"}}";

/* A Docker v2 image manifest with three layers, as `docker push` writes it. */
static const char docker_v2[] =
    "{\n"
    "   \"schemaVersion\": 2,\n"
    "   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "   \"config\": {\n"
    "      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
    "      \"size\": 7023,\n"
    "      \"digest\": \"" SHA_CFG "\"\n"
    "   },\n"
    "   \"layers\": [\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "         \"size\": 29124181,\n"
    "         \"digest\": \"" SHA_L1 "\"\n"
    "      },\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "         \"size\": 0,\n"
    "         \"digest\": \"" SHA_L2 "\"\n"
    "      },\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "         \"size\": 4518067,\n"
    "         \"digest\": \"" SHA_L3 "\"\n"
    "      }\n"
    "   ]\n"
    "}";
/* sha256sum of docker_v2's bytes, as the registry's Docker-Content-Digest would say. */
#define DOCKER_V2_DIGEST "sha256:cb46af4c50bb7919499de9edff789d0c9198107ac20bf8a44b8a5f2efcd31859"

/* An OCI manifest naming a subject (a referrer such as an SBOM), with a sha512 layer. */
static const char oci_referrer[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"artifactType\":\"application/spdx+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
    "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\","
    "\"size\":2,\"data\":\"e30=\"},"
    "\"layers\":[{\"mediaType\":\"application/spdx+json\",\"digest\":\"" SHA512_EMPTY "\","
    "\"size\":0}],"
    "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"digest\":\"" SHA_SUBJ "\",\"size\":1024},"
    "\"annotations\":{\"org.opencontainers.image.created\":\"2024-05-01T10:00:00Z\","
    "\"org.example.sbom.format\":\"spdx\"}}";

static struct p4_oci_manifest *parse_ok(const char *body, const char *content_type)
{
    struct p4_oci_manifest *m = NULL;
    struct p4_error err = {0};
    int rc = p4_oci_manifest_parse(body, strlen(body), content_type, &m, &err);

    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, err.message);
    assert_non_null(m);
    return m;
}

static void hub_manifest_list_with_attestation(void **state)
{
    struct p4_oci_manifest *m = parse_ok(hub_list, P4_OCI_MEDIA_DOCKER_LIST);
    const struct p4_oci_index_entry *e;

    (void)state;
    assert_int_equal(m->kind, P4_OCI_INDEX);
    assert_string_equal(m->media_type, P4_OCI_MEDIA_DOCKER_LIST);
    assert_int_equal(m->entries_len, 4);
    assert_null(m->layers);
    e = &m->entries[1];
    assert_string_equal(e->desc.media_type, P4_OCI_MEDIA_DOCKER_MANIFEST);
    assert_string_equal(e->desc.digest, SHA_ARMV7);
    assert_int_equal(e->desc.size, 1165);
    assert_true(e->has_platform);
    assert_false(e->is_attestation);
    assert_string_equal(e->platform.os, "linux");
    assert_string_equal(e->platform.architecture, "arm");
    assert_string_equal(e->platform.variant, "v7");
    assert_null(e->platform.os_version);
    assert_null(m->entries[0].platform.variant);
    e = &m->entries[3];
    assert_true(e->is_attestation);
    assert_string_equal(e->platform.os, "unknown");
    assert_string_equal(e->desc.media_type, P4_OCI_MEDIA_MANIFEST);

    assert_ptr_equal(p4_oci_index_find(m, "linux", "amd64", NULL), &m->entries[0]);
    assert_ptr_equal(p4_oci_index_find(m, "linux", "arm", "v7"), &m->entries[1]);
    assert_ptr_equal(p4_oci_index_find(m, "linux", "arm64", "v8"), &m->entries[2]);
    assert_ptr_equal(p4_oci_index_find(m, "linux", "arm64", NULL), &m->entries[2]);
    assert_null(p4_oci_index_find(m, "unknown", "unknown", NULL));
    assert_null(p4_oci_index_find(m, "linux", "s390x", NULL));
    p4_oci_manifest_free(m);
}

static void skopeo_oci_index(void **state)
{
    struct p4_oci_manifest *m = parse_ok(skopeo_index, P4_OCI_MEDIA_INDEX);

    (void)state;
    assert_int_equal(m->kind, P4_OCI_INDEX);
    assert_string_equal(m->media_type, P4_OCI_MEDIA_INDEX);
    assert_int_equal(m->entries_len, 2);
    assert_int_equal(m->annotations_len, 1);
    assert_string_equal(m->entries[1].platform.architecture, "arm64");
    assert_null(m->entries[1].platform.variant);
    assert_int_equal(m->entries[1].desc.size, 658);
    /* arm64 without a variant is arm64/v8, and aarch64 is arm64. */
    assert_ptr_equal(p4_oci_index_find(m, "linux", "arm64", "v8"), &m->entries[1]);
    assert_ptr_equal(p4_oci_index_find(m, "linux", "aarch64", NULL), &m->entries[1]);
    assert_ptr_equal(p4_oci_index_find(m, "linux", "x86_64", NULL), &m->entries[0]);
    assert_null(p4_oci_index_find(m, "linux", "arm", NULL));
    p4_oci_manifest_free(m);
}

static void docker_v2_three_layers(void **state)
{
    struct p4_oci_manifest *m = parse_ok(docker_v2, P4_OCI_MEDIA_DOCKER_MANIFEST);
    char digest[P4_OCI_SHA256_DIGEST_SIZE];
    struct p4_error err;

    (void)state;
    assert_int_equal(m->kind, P4_OCI_IMAGE);
    assert_string_equal(m->media_type, P4_OCI_MEDIA_DOCKER_MANIFEST);
    assert_string_equal(m->config.media_type, "application/vnd.docker.container.image.v1+json");
    assert_string_equal(m->config.digest, SHA_CFG);
    assert_int_equal(m->config.size, 7023);
    assert_int_equal(m->layers_len, 3);
    assert_string_equal(m->layers[0].digest, SHA_L1);
    assert_int_equal(m->layers[0].size, 29124181);
    assert_int_equal(m->layers[1].size, 0);
    assert_string_equal(m->layers[2].digest, SHA_L3);
    assert_string_equal(m->layers[2].media_type,
                        "application/vnd.docker.image.rootfs.diff.tar.gzip");
    assert_false(m->has_subject);
    assert_null(m->subject.digest);
    assert_int_equal(m->annotations_len, 0);
    assert_null(m->entries);
    assert_null(p4_oci_index_find(m, "linux", "amd64", NULL));
    p4_oci_manifest_free(m);

    /* The bytes are what the registry's digest names. */
    p4_oci_digest_of(docker_v2, strlen(docker_v2), digest);
    assert_string_equal(digest, DOCKER_V2_DIGEST);
    assert_int_equal(p4_oci_digest_verify(DOCKER_V2_DIGEST, docker_v2, strlen(docker_v2), &err), 0);
}

static void oci_manifest_with_subject(void **state)
{
    struct p4_oci_manifest *m = parse_ok(oci_referrer, P4_OCI_MEDIA_MANIFEST);

    (void)state;
    assert_int_equal(m->kind, P4_OCI_IMAGE);
    assert_string_equal(m->config.media_type, "application/vnd.oci.empty.v1+json");
    assert_int_equal(m->config.size, 2);
    assert_int_equal(m->layers_len, 1);
    assert_string_equal(m->layers[0].digest, SHA512_EMPTY);
    assert_true(m->has_subject);
    assert_string_equal(m->subject.digest, SHA_SUBJ);
    assert_string_equal(m->subject.media_type, P4_OCI_MEDIA_MANIFEST);
    assert_int_equal(m->subject.size, 1024);
    assert_int_equal(m->annotations_len, 2);
    p4_oci_manifest_free(m);
}

#define CFG_OK                                                                                     \
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" SHA_CFG \
    "\",\"size\":7}"
#define LAYER_OK                                                                                   \
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" SHA_L1          \
    "\",\"size\":12}"
#define ENTRY_OK                                                                                   \
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" SHA_AMD64        \
    "\",\"size\":658,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}"
#define BARE_IMAGE "{\"schemaVersion\":2," CFG_OK ",\"layers\":[" LAYER_OK "]}"
#define BARE_INDEX "{\"schemaVersion\":2,\"manifests\":[" ENTRY_OK "]}"
#define TYPED(mt, rest) "{\"schemaVersion\":2,\"mediaType\":\"" mt "\"," rest "}"

struct type_case {
    const char *content_type;
    const char *body;
    int code;
    const char *want; /* the media type, or the error message */
};

static const struct type_case type_cases[] = {
    /* The header decides; the document may leave mediaType out (OCI). */
    {P4_OCI_MEDIA_MANIFEST, BARE_IMAGE, 0, P4_OCI_MEDIA_MANIFEST},
    {P4_OCI_MEDIA_INDEX, BARE_INDEX, 0, P4_OCI_MEDIA_INDEX},
    {" Application/VND.OCI.Image.Index.v1+JSON ; charset=utf-8", BARE_INDEX, 0, P4_OCI_MEDIA_INDEX},
    /* A generic or missing header defers to the document's mediaType... */
    {"application/json; charset=utf-8",
     TYPED(P4_OCI_MEDIA_DOCKER_MANIFEST, CFG_OK ",\"layers\":[" LAYER_OK "]"), 0,
     P4_OCI_MEDIA_DOCKER_MANIFEST},
    {NULL, TYPED(P4_OCI_MEDIA_DOCKER_LIST, "\"manifests\":[" ENTRY_OK "]"), 0,
     P4_OCI_MEDIA_DOCKER_LIST},
    {"application/octet-stream", TYPED(P4_OCI_MEDIA_INDEX, "\"manifests\":[]"), 0,
     P4_OCI_MEDIA_INDEX},
    /* ...and then to its shape. */
    {"", BARE_INDEX, 0, P4_OCI_MEDIA_INDEX},
    {"text/plain", BARE_IMAGE, 0, P4_OCI_MEDIA_MANIFEST},
    {NULL, BARE_IMAGE, 0, P4_OCI_MEDIA_MANIFEST},
    /* Agreeing header and document. */
    {P4_OCI_MEDIA_DOCKER_LIST, TYPED(P4_OCI_MEDIA_DOCKER_LIST, "\"manifests\":[" ENTRY_OK "]"), 0,
     P4_OCI_MEDIA_DOCKER_LIST},
    /* Disagreements and unknown types. */
    {P4_OCI_MEDIA_INDEX, TYPED(P4_OCI_MEDIA_MANIFEST, CFG_OK ",\"layers\":[]"), P4_ERR_INVALID,
     "mediaType application/vnd.oci.image.manifest.v1+json in the document contradicts the "
     "Content-Type application/vnd.oci.image.index.v1+json"},
    {P4_OCI_MEDIA_DOCKER_MANIFEST, TYPED(P4_OCI_MEDIA_MANIFEST, CFG_OK ",\"layers\":[]"),
     P4_ERR_INVALID,
     "mediaType application/vnd.oci.image.manifest.v1+json in the document contradicts the "
     "Content-Type application/vnd.docker.distribution.manifest.v2+json"},
    {"text/html; charset=utf-8", "<html><body>Login</body></html>", P4_ERR_INVALID,
     "Content-Type \"text/html; charset=utf-8\" is not an image manifest or index type"},
    {"application/vnd.oci.artifact.manifest.v1+json", BARE_IMAGE, P4_ERR_INVALID,
     "Content-Type \"application/vnd.oci.artifact.manifest.v1+json\" is not an image manifest "
     "or index type"},
    {NULL, TYPED("application/vnd.oci.artifact.manifest.v1+json", "\"blobs\":[]"), P4_ERR_INVALID,
     "mediaType \"application/vnd.oci.artifact.manifest.v1+json\" is not an image manifest or "
     "index type"},
    {NULL, TYPED("application/json", "\"manifests\":[]"), P4_ERR_INVALID,
     "mediaType \"application/json\" is not an image manifest or index type"},
    {NULL, "{\"schemaVersion\":2,\"mediaType\":7}", P4_ERR_INVALID, "mediaType is not a string"},
    {NULL, "{\"schemaVersion\":2,\"blobs\":[]}", P4_ERR_INVALID,
     "the document has no mediaType, no \"manifests\" and no \"config\" and \"layers\", so it is "
     "not an image index or manifest"},
    {NULL, "{\"schemaVersion\":2,\"config\":{}}", P4_ERR_INVALID,
     "the document has no mediaType, no \"manifests\" and no \"config\" and \"layers\", so it is "
     "not an image index or manifest"},
    {NULL, "{\"schemaVersion\":2,\"manifests\":[]," CFG_OK ",\"layers\":[]}", P4_ERR_INVALID,
     "the document has both \"manifests\" and \"config\" and \"layers\", so it is neither an "
     "image index nor an image manifest"},
    /* The header's kind is what the body must then have. */
    {P4_OCI_MEDIA_INDEX, BARE_IMAGE, P4_ERR_INVALID, "manifests is missing"},
    {P4_OCI_MEDIA_MANIFEST, BARE_INDEX, P4_ERR_INVALID, "config is missing"},
    /* schemaVersion. */
    {P4_OCI_MEDIA_MANIFEST, "{" CFG_OK ",\"layers\":[]}", P4_ERR_INVALID,
     "schemaVersion is missing"},
    {P4_OCI_MEDIA_MANIFEST, "{\"schemaVersion\":3," CFG_OK ",\"layers\":[]}", P4_ERR_INVALID,
     "schemaVersion is not 2, the only one supported"},
    {P4_OCI_MEDIA_MANIFEST, "{\"schemaVersion\":\"2\"," CFG_OK ",\"layers\":[]}", P4_ERR_INVALID,
     "schemaVersion is not 2, the only one supported"},
};

static void media_type_from_header_document_or_shape(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(type_cases) / sizeof(type_cases[0]); i++) {
        const struct type_case *c = &type_cases[i];
        struct p4_oci_manifest *m = NULL;
        struct p4_error err = {0};
        int rc = p4_oci_manifest_parse(c->body, strlen(c->body), c->content_type, &m, &err);

        if (rc != c->code)
            fail_msg("case %zu: rc %d, want %d (%s)", i, rc, c->code, err.message);
        if (rc == 0) {
            assert_string_equal(m->media_type, c->want);
        } else {
            assert_null(m);
            assert_int_equal(err.code, rc);
            assert_string_equal(err.message, c->want);
        }
        p4_oci_manifest_free(m);
    }
}

#define SCHEMA1_MESSAGE                                                                            \
    "Docker image manifest schema 1 is not supported (it is deprecated); push the image again "    \
    "with a current Docker, containerd or skopeo client"

static void schema1_is_refused(void **state)
{
    /* What an old registry serves for a schema 1 push (signatures trimmed). */
    static const char schema1[] =
        "{\n   \"schemaVersion\": 1,\n   \"name\": \"library/app\",\n   \"tag\": \"1.0\",\n"
        "   \"architecture\": \"amd64\",\n   \"fsLayers\": [\n      {\n         \"blobSum\": "
        "\"" SHA_L1 "\"\n      }\n   ],\n   \"history\": [\n      {\n         "
        "\"v1Compatibility\": \"{\\\"id\\\":\\\"e45a5af57b00\\\"}\"\n      }\n   ],\n"
        "   \"signatures\": [\n      {\n         \"header\": {\"alg\": \"ES256\"},\n"
        "         \"signature\": \"a2V5\",\n         \"protected\": \"eyJmb3JtYXQ\"\n      }\n"
        "   ]\n}";
    static const char *const headers[] = {
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v1+json",
        NULL,
        "application/json",
    };
    static const char typed[] =
        "{\"schemaVersion\":1,\"mediaType\":"
        "\"application/vnd.docker.distribution.manifest.v1+json\",\"fsLayers\":[]}";
    struct p4_oci_manifest *m = NULL;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        assert_int_equal(p4_oci_manifest_parse(schema1, strlen(schema1), headers[i], &m, &err),
                         P4_ERR_INVALID);
        assert_null(m);
        assert_string_equal(err.message, SCHEMA1_MESSAGE);
        assert_string_equal(err.reason, "Invalid");
    }
    assert_int_equal(p4_oci_manifest_parse(typed, strlen(typed), NULL, &m, &err), P4_ERR_INVALID);
    assert_string_equal(err.message, SCHEMA1_MESSAGE);
    /* The header alone refuses it, before the body is read. */
    assert_int_equal(p4_oci_manifest_parse("garbage", 7,
                                           "application/vnd.docker.distribution.manifest.v1+"
                                           "prettyjws",
                                           &m, &err),
                     P4_ERR_INVALID);
    assert_string_equal(err.message, SCHEMA1_MESSAGE);
}

#define IMAGE_WITH(config, layers)                                                                 \
    TYPED(P4_OCI_MEDIA_MANIFEST, "\"config\":" config ",\"layers\":[" layers "]")
#define CFG_JSON                                                                                   \
    "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" SHA_CFG            \
    "\",\"size\":7}"
#define LAYER(digest, size)                                                                        \
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":" digest            \
    ",\"size\":" size "}"
#define INDEX_WITH(entries) TYPED(P4_OCI_MEDIA_INDEX, "\"manifests\":[" entries "]")
#define ENTRY(platform)                                                                            \
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" SHA_AMD64        \
    "\",\"size\":658,\"platform\":" platform "}"

struct invalid_case {
    const char *body;
    const char *message;
};

static const struct invalid_case invalid_cases[] = {
    {IMAGE_WITH(CFG_JSON, LAYER_OK "," LAYER_OK "," LAYER("\"sha256:xyz\"", "1")),
     "layers[2].digest \"sha256:xyz\" is not a valid digest"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"sha256:2804BAD6FE94A55F18B2B37E300919A5FD517B95AA81E95DB574C0"
                                "BA069A3740\"",
                                "1")),
     "layers[0].digest \"sha256:2804BAD6FE94A55F18B2B37E300919A5FD517B95AA81E95DB574C0BA069A3740\" "
     "is not a valid digest"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"sha512:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0"
                                "ba069a3740\"",
                                "1")),
     "layers[0].digest \"sha512:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740\" "
     "is not a valid digest"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"md5:d41d8cd98f00b204e9800998ecf8427e\"", "1")),
     "layers[0].digest \"md5:d41d8cd98f00b204e9800998ecf8427e\" is not a valid digest"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"" SHA_L1 "0\"", "1")),
     "layers[0].digest \"" SHA_L1 "0\" is not a valid digest"},
    {IMAGE_WITH(CFG_JSON, LAYER("\" " SHA_L1 "\"", "1")),
     "layers[0].digest \" " SHA_L1 "\" is not a valid digest"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"sha256:\\u0001\\n\\\"x\\\\\"", "1")),
     "layers[0].digest \"sha256:???x?\" is not a valid digest"},
    {IMAGE_WITH(CFG_JSON, LAYER("7", "1")), "layers[0].digest is not a string"},
    {IMAGE_WITH(CFG_JSON, LAYER("null", "1")), "layers[0].digest is missing"},
    {IMAGE_WITH(CFG_JSON, LAYER_OK ",{\"mediaType\":\"a/b\",\"size\":1}"),
     "layers[1].digest is missing"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"" SHA_L1 "\"", "-1")),
     "layers[0].size -1 is not a valid size (a whole number of bytes from 0 to 2^53)"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"" SHA_L1 "\"", "1.5")),
     "layers[0].size 1.5 is not a valid size (a whole number of bytes from 0 to 2^53)"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"" SHA_L1 "\"", "1e300")),
     "layers[0].size 1e+300 is not a valid size (a whole number of bytes from 0 to 2^53)"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"" SHA_L1 "\"", "18446744073709551616")),
     "layers[0].size 1.84467e+19 is not a valid size (a whole number of bytes from 0 to 2^53)"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"" SHA_L1 "\"", "\"12\"")), "layers[0].size is not a number"},
    {IMAGE_WITH(CFG_JSON, LAYER("\"" SHA_L1 "\"", "true")), "layers[0].size is not a number"},
    {IMAGE_WITH(CFG_JSON, "{\"mediaType\":\"a/b\",\"digest\":\"" SHA_L1 "\"}"),
     "layers[0].size is missing"},
    {IMAGE_WITH(CFG_JSON, "{\"digest\":\"" SHA_L1 "\",\"size\":1}"),
     "layers[0].mediaType is missing"},
    {IMAGE_WITH(CFG_JSON, "{\"mediaType\":[],\"digest\":\"" SHA_L1 "\",\"size\":1}"),
     "layers[0].mediaType is not a string"},
    {IMAGE_WITH(CFG_JSON, "{\"mediaType\":\"tar gz\",\"digest\":\"" SHA_L1 "\",\"size\":1}"),
     "layers[0].mediaType \"tar gz\" is not a valid media type"},
    {IMAGE_WITH(CFG_JSON, "{\"mediaType\":\"a/\",\"digest\":\"" SHA_L1 "\",\"size\":1}"),
     "layers[0].mediaType \"a/\" is not a valid media type"},
    {IMAGE_WITH(CFG_JSON, "\"layer\""), "layers[0] is not an object"},
    {IMAGE_WITH("[]", LAYER_OK), "config is not an object"},
    {IMAGE_WITH("null", LAYER_OK), "config is missing"},
    {IMAGE_WITH("{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" SHA_CFG
                "\",\"size\":-7}",
                LAYER_OK),
     "config.size -7 is not a valid size (a whole number of bytes from 0 to 2^53)"},
    {IMAGE_WITH("{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":7}",
                LAYER_OK),
     "config.digest is missing"},
    {TYPED(P4_OCI_MEDIA_MANIFEST, "\"config\":" CFG_JSON ",\"layers\":{}"),
     "layers is not an array"},
    {TYPED(P4_OCI_MEDIA_MANIFEST, "\"config\":" CFG_JSON), "layers is missing"},
    {TYPED(P4_OCI_MEDIA_MANIFEST,
           "\"config\":" CFG_JSON ",\"layers\":[],\"subject\":" LAYER("\"sha256:\"", "1")),
     "subject.digest \"sha256:\" is not a valid digest"},
    {TYPED(P4_OCI_MEDIA_MANIFEST, "\"config\":" CFG_JSON ",\"layers\":[],\"subject\":\"x\""),
     "subject is not an object"},
    {TYPED(P4_OCI_MEDIA_MANIFEST, "\"config\":" CFG_JSON ",\"layers\":[],\"annotations\":[]"),
     "annotations is not an object"},
    {TYPED(P4_OCI_MEDIA_INDEX, "\"manifests\":{}"), "manifests is not an array"},
    {TYPED(P4_OCI_MEDIA_INDEX, "\"manifests\":null"), "manifests is missing"},
    {INDEX_WITH(ENTRY_OK ",7"), "manifests[1] is not an object"},
    {INDEX_WITH(ENTRY_OK "," ENTRY("\"linux/amd64\"")), "manifests[1].platform is not an object"},
    {INDEX_WITH(ENTRY("{\"architecture\":\"amd64\"}")), "manifests[0].platform.os is missing"},
    {INDEX_WITH(ENTRY("{\"architecture\":\"\",\"os\":\"linux\"}")),
     "manifests[0].platform.architecture is empty"},
    {INDEX_WITH(ENTRY("{\"architecture\":1,\"os\":\"linux\"}")),
     "manifests[0].platform.architecture is not a string"},
    {INDEX_WITH(ENTRY("{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v 7\"}")),
     "manifests[0].platform.variant \"v 7\" is not a valid platform value"},
    {INDEX_WITH(ENTRY("{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v\\u00e97\"}")),
     "manifests[0].platform.variant \"v??7\" is not a valid platform value"},
    {INDEX_WITH(ENTRY("{\"architecture\":\"amd64\",\"os\":\"windows\",\"os.version\":10}")),
     "manifests[0].platform.os.version is not a string"},
    {INDEX_WITH(ENTRY("{\"architecture\":\"amd64\",\"os\":\"" /* 64 characters */
                      "linuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinu\"}")),
     "manifests[0].platform.os \"linuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinuxlinu\""
     " is not a valid platform value"},
    {INDEX_WITH("{\"mediaType\":\"a/b\",\"digest\":\"" SHA_AMD64 "\",\"size\":1,"
                "\"annotations\":{\"vnd.docker.reference.type\":1}}"),
     "manifests[0].annotations.vnd.docker.reference.type is not a string"},
    {INDEX_WITH("{\"mediaType\":\"a/b\",\"digest\":\"" SHA_AMD64 "\",\"size\":1,"
                "\"annotations\":\"attestation-manifest\"}"),
     "manifests[0].annotations is not an object"},
    {INDEX_WITH(ENTRY_OK ",{\"mediaType\":\"a/b\",\"digest\":\"" SHA_AMD64 "\",\"size\":-658}"),
     "manifests[1].size -658 is not a valid size (a whole number of bytes from 0 to 2^53)"},
};

static void every_validation_error_names_its_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        const struct invalid_case *c = &invalid_cases[i];
        struct p4_oci_manifest *m = NULL;
        struct p4_error err = {0};
        int rc = p4_oci_manifest_parse(c->body, strlen(c->body), NULL, &m, &err);

        if (rc != P4_ERR_INVALID)
            fail_msg("case %zu: rc %d, want P4_ERR_INVALID (%s)", i, rc, err.message);
        assert_null(m);
        assert_int_equal(err.code, P4_ERR_INVALID);
        if (strcmp(err.message, c->message) != 0)
            fail_msg("case %zu: message\n  %s\nwant\n  %s", i, err.message, c->message);
    }
}

static void long_and_odd_values_are_cut_in_messages(void **state)
{
    struct p4_oci_manifest *m = NULL;
    struct p4_buf b = {0};
    struct p4_error err;

    (void)state;
    p4_buf_printf(&b, "%s", "{\"schemaVersion\":2,\"config\":" CFG_JSON ",\"layers\":[");
    p4_buf_printf(&b, "{\"mediaType\":\"a/b\",\"size\":1,\"digest\":\"sha256:");
    for (int i = 0; i < 300; i++)
        p4_buf_append(&b, "a", 1);
    p4_buf_printf(&b, "\"}]}");
    assert_int_equal(p4_oci_manifest_parse(b.data, b.len, NULL, &m, &err), P4_ERR_INVALID);
    assert_string_equal(err.message,
                        "layers[0].digest \"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                        "aaaaaaaaaaaaaaaaaaaaaaaaa...\" is not a valid digest");
    free(b.data);
}

static void digest_verify_and_compute(void **state)
{
    static const char sha256_abc_upper[] =
        "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
    char digest[P4_OCI_SHA256_DIGEST_SIZE];
    struct p4_error err;

    (void)state;
    p4_oci_digest_of("abc", 3, digest);
    assert_string_equal(digest, SHA256_ABC);
    p4_oci_digest_of(NULL, 0, digest);
    assert_string_equal(digest, SHA256_EMPTY);

    /* Good. */
    assert_int_equal(p4_oci_digest_verify(SHA256_ABC, "abc", 3, &err), 0);
    assert_int_equal(p4_oci_digest_verify(SHA256_EMPTY, NULL, 0, &err), 0);
    assert_int_equal(p4_oci_digest_verify(SHA512_EMPTY, "", 0, &err), 0);
    assert_int_equal(p4_oci_digest_verify(SHA256_ABC, "abc", 3, NULL), 0);

    /* Bad: other bytes. */
    assert_int_equal(p4_oci_digest_verify(SHA256_ABC, "abd", 3, &err), P4_ERR_INVALID);
    assert_string_equal(err.reason, "Invalid");
    assert_string_equal(err.message,
                        "the content has digest sha256:a52d159f262b2c6ddb724a61840befc36eb30c88877a"
                        "4030b65cbe86298449c9, not the expected " SHA256_ABC
                        "; the registry sent other bytes than the digest names");
    assert_int_equal(p4_oci_digest_verify(SHA256_ABC, "abc", 2, &err), P4_ERR_INVALID);
    assert_int_equal(p4_oci_digest_verify(SHA512_EMPTY, "x", 1, &err), P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "not the expected " SHA512_EMPTY));
    assert_int_equal(p4_oci_digest_verify(SHA256_ABC, "abd", 3, NULL), P4_ERR_INVALID);

    /* Wrong algorithm. */
    assert_int_equal(p4_oci_digest_verify("md5:900150983cd24fb0d6963f7d28e17f72", "abc", 3, &err),
                     P4_ERR_INVAL);
    assert_string_equal(err.message,
                        "digest algorithm \"md5\" is not supported; use sha256 or sha512");
    assert_int_equal(p4_oci_digest_verify("sha384:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
                                          "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
                                          "abc", 3, &err),
                     P4_ERR_INVAL);
    assert_string_equal(err.message,
                        "digest algorithm \"sha384\" is not supported; use sha256 or sha512");

    /* Malformed. */
    assert_int_equal(p4_oci_digest_verify("sha256:xyz", "abc", 3, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "digest \"sha256:xyz\" is not a valid digest");
    assert_int_equal(p4_oci_digest_verify(sha256_abc_upper, "abc", 3, &err), P4_ERR_INVAL);
    assert_int_equal(p4_oci_digest_verify("", "abc", 3, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "digest \"\" is not a valid digest");
    assert_int_equal(p4_oci_digest_verify(":abc", "abc", 3, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "digest \":abc\" is not a valid digest");
    assert_int_equal(p4_oci_digest_verify("SHA256:abc", "abc", 3, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "digest \"SHA256:abc\" is not a valid digest");
    assert_int_equal(p4_oci_digest_verify(SHA256_ABC "\n", "abc", 3, &err), P4_ERR_INVAL);
    assert_null(strchr(err.message, '\n'));
    assert_int_equal(p4_oci_digest_verify(NULL, "abc", 3, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "no digest or no data to verify");
    assert_int_equal(p4_oci_digest_verify(SHA256_ABC, NULL, 3, &err), P4_ERR_INVAL);

    assert_true(p4_oci_digest_valid(SHA256_ABC));
    assert_true(p4_oci_digest_valid(SHA512_EMPTY));
    assert_false(p4_oci_digest_valid(sha256_abc_upper));
    assert_false(p4_oci_digest_valid(NULL));
    assert_false(p4_oci_digest_valid("sha256:"));
}

/* An index with the cases platform selection has to tell apart. */
static const char platform_index[] = INDEX_WITH(
    ENTRY("{\"architecture\":\"amd64\",\"os\":\"linux\",\"variant\":\"v3\"}")   /* 0 */
    "," ENTRY("{\"architecture\":\"amd64\",\"os\":\"linux\"}")                  /* 1 */
    "," ENTRY("{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v6\"}") /* 2 */
    "," ENTRY("{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}") /* 3 */
    "," ENTRY("{\"architecture\":\"arm64\",\"os\":\"linux\"}")                  /* 4 */
    "," ENTRY("{\"architecture\":\"amd64\",\"os\":\"windows\",\"os.version\":\"10.0.20348.1787\"}")
    /* 6: an attestation with a real-looking platform is still skipped */
    ",{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" SHA_ATT
    "\",\"size\":840,\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"},"
    "\"platform\":{\"architecture\":\"s390x\",\"os\":\"linux\"}}"
    /* 7: no platform at all */
    ",{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" SHA_ATT
    "\",\"size\":840}"
    "," ENTRY("{\"architecture\":\"ppc64le\",\"os\":\"linux\"}")                         /* 8 */
    "," ENTRY("{\"architecture\":\"arm64\",\"os\":\"darwin\"}")                          /* 9 */
    "," ENTRY("{\"architecture\":\"riscv64\",\"os\":\"linux\",\"variant\":\"rva22\"}")); /* 10 */

static void platform_selection(void **state)
{
    static const struct {
        const char *os, *arch, *variant;
        int want; /* entry index, or -1 for none */
    } cases[] = {
        {"linux", "amd64", NULL, 1},
        {"linux", "amd64", "", 1},
        {"linux", "x86_64", NULL, 1},
        {"linux", "x86-64", NULL, 1},
        {"LINUX", "AMD64", NULL, 1},
        {"linux", "amd64", "v1", 1},
        {"linux", "amd64", "v3", 0},
        {"linux", "amd64", "v2", -1},
        {"linux", "arm64", "v8", 4},
        {"linux", "arm64", "8", 4},
        {"linux", "aarch64", NULL, 4},
        {"linux", "arm64", NULL, 4},
        {"linux", "aarch64", "v8", 4},
        {"linux", "arm64", "v9", -1},
        {"linux", "arm", NULL, 3},
        {"linux", "arm", "v6", 2},
        {"linux", "arm", "7", 3},
        {"linux", "armhf", NULL, 3},
        {"linux", "armel", NULL, 2},
        {"linux", "arm", "v5", -1},
        {"windows", "amd64", NULL, 5},
        {"windows", "x86_64", "", 5},
        {"linux", "s390x", NULL, -1},
        {"unknown", "unknown", NULL, -1},
        {"macos", "aarch64", NULL, 9},
        {"darwin", "arm64", "v8", 9},
        {"linux", "ppc64le", NULL, 8},
        {"linux", "riscv64", NULL, 10},
        {"linux", "riscv64", "rva20", -1},
        {"linux", "386", NULL, -1},
        {NULL, "amd64", NULL, -1},
        {"linux", NULL, NULL, -1},
        {"", "amd64", NULL, -1},
        {"linux", "", NULL, -1},
        {"linux",
         "amd64amd64amd64amd64amd64amd64amd64amd64amd64amd64amd64amd64amd64amd64amd64amd64", NULL,
         -1},
    };
    struct p4_oci_manifest *m = parse_ok(platform_index, NULL);

    (void)state;
    assert_int_equal(m->entries_len, 11);
    assert_false(m->entries[7].has_platform);
    assert_null(m->entries[7].platform.os);
    assert_true(m->entries[6].is_attestation);
    assert_string_equal(m->entries[5].platform.os_version, "10.0.20348.1787");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct p4_oci_index_entry *e =
            p4_oci_index_find(m, cases[i].os, cases[i].arch, cases[i].variant);
        const struct p4_oci_index_entry *want =
            cases[i].want < 0 ? NULL : &m->entries[cases[i].want];

        if (e != want)
            fail_msg("case %zu: entry %td, want %d", i, e ? e - m->entries : -1, cases[i].want);
    }
    assert_null(p4_oci_index_find(NULL, "linux", "amd64", NULL));
    p4_oci_manifest_free(m);

    /* With only arm64/v9 present, a request without a variant still finds it. */
    m = parse_ok(INDEX_WITH(ENTRY("{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":"
                                  "\"v9\"}")),
                 NULL);
    assert_ptr_equal(p4_oci_index_find(m, "linux", "arm64", NULL), &m->entries[0]);
    assert_null(p4_oci_index_find(m, "linux", "arm64", "v8"));
    p4_oci_manifest_free(m);
}

static void parse_platform_strings(void **state)
{
    static const struct {
        const char *s, *os, *arch, *variant;
    } good[] = {
        {"linux/arm64/v8", "linux", "arm64", "v8"},
        {"linux/amd64", "linux", "amd64", ""},
        {"windows/amd64", "windows", "amd64", ""},
        {"Linux/x86_64", "Linux", "x86_64", ""},
        {"linux/arm/v7", "linux", "arm", "v7"},
        {"linux/riscv64/rva22_u64.x-1", "linux", "riscv64", "rva22_u64.x-1"},
    };
    static const char *const bad[] = {
        "linux",
        "linux/",
        "/amd64",
        "linux//v8",
        "linux/arm64/",
        "linux/arm64/v8/x",
        "linux/arm 64",
        "linux/amd64\n",
        "linux/\xc3\xa9",
        "linux:amd64",
        "linux/amd64/v1/",
        "linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
    };
    char os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX];
    char variant[P4_OCI_PLATFORM_PART_MAX];
    char longest[80], part[65];
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (p4_oci_parse_platform(good[i].s, os, arch, variant, &err) != 0)
            fail_msg("%s: %s", good[i].s, err.message);
        assert_string_equal(os, good[i].os);
        assert_string_equal(arch, good[i].arch);
        assert_string_equal(variant, good[i].variant);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (p4_oci_parse_platform(bad[i], os, arch, variant, &err) != P4_ERR_INVAL)
            fail_msg("%s: accepted", bad[i]);
        assert_string_equal(os, "");
        assert_string_equal(arch, "");
        assert_string_equal(variant, "");
        assert_null(strchr(err.message, '\n'));
    }
    assert_int_equal(p4_oci_parse_platform("linux", os, arch, variant, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "platform \"linux\" is not os/architecture[/variant], such as "
                                     "linux/arm64/v8");
    assert_int_equal(p4_oci_parse_platform("", os, arch, variant, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "no platform given; write os/architecture[/variant]");
    assert_int_equal(p4_oci_parse_platform(NULL, os, arch, variant, NULL), P4_ERR_INVAL);

    /* 63 characters fit a part, 64 do not. */
    memset(part, 'a', sizeof(part));
    part[sizeof(part) - 1] = '\0';
    (void)snprintf(longest, sizeof(longest), "linux/%.63s", part);
    assert_int_equal(p4_oci_parse_platform(longest, os, arch, variant, &err), 0);
    assert_int_equal(strlen(arch), 63);
    (void)snprintf(longest, sizeof(longest), "linux/%.64s", part);
    assert_int_equal(p4_oci_parse_platform(longest, os, arch, variant, &err), P4_ERR_INVAL);
}

/* A document of n entries or layers, built as a registry would serve it. */
static char *build_many(bool index, size_t n, size_t *len)
{
    struct p4_buf b = {0};

    p4_buf_printf(&b, "{\"schemaVersion\":2,\"mediaType\":\"%s\",",
                  index ? P4_OCI_MEDIA_INDEX : P4_OCI_MEDIA_MANIFEST);
    p4_buf_printf(&b, "%s", index ? "\"manifests\":[" : "\"config\":" CFG_JSON ",\"layers\":[");
    for (size_t i = 0; i < n; i++)
        p4_buf_printf(&b, "%s%s", i ? "," : "", index ? ENTRY_OK : LAYER_OK);
    p4_buf_printf(&b, "]}");
    *len = b.len;
    return b.data;
}

static void limits(void **state)
{
    struct p4_oci_manifest *m = NULL;
    struct p4_error err;
    size_t len;
    char *body;

    (void)state;
    body = build_many(true, P4_OCI_INDEX_ENTRIES_MAX, &len);
    assert_int_equal(p4_oci_manifest_parse(body, len, NULL, &m, &err), 0);
    assert_int_equal(m->entries_len, P4_OCI_INDEX_ENTRIES_MAX);
    p4_oci_manifest_free(m);
    free(body);
    body = build_many(true, P4_OCI_INDEX_ENTRIES_MAX + 1, &len);
    assert_int_equal(p4_oci_manifest_parse(body, len, NULL, &m, &err), P4_ERR_TOOBIG);
    assert_null(m);
    assert_string_equal(err.reason, "TooLarge");
    assert_string_equal(err.message,
                        "the image index has more than 1000 entries, the most supported");
    free(body);

    body = build_many(false, P4_OCI_LAYERS_MAX, &len);
    assert_int_equal(p4_oci_manifest_parse(body, len, NULL, &m, &err), 0);
    assert_int_equal(m->layers_len, P4_OCI_LAYERS_MAX);
    assert_string_equal(m->layers[P4_OCI_LAYERS_MAX - 1].digest, SHA_L1);
    p4_oci_manifest_free(m);
    free(body);
    body = build_many(false, P4_OCI_LAYERS_MAX + 1, &len);
    assert_int_equal(p4_oci_manifest_parse(body, len, NULL, &m, &err), P4_ERR_TOOBIG);
    assert_string_equal(err.message,
                        "the image manifest has more than 10000 layers, the most supported");
    free(body);

    /* Size is checked on the bytes, before parsing: valid JSON padded past 4 MiB. */
    len = P4_OCI_MANIFEST_MAX + 1;
    body = malloc(len);
    assert_non_null(body);
    memset(body, ' ', len);
    memcpy(body, BARE_IMAGE, strlen(BARE_IMAGE));
    assert_int_equal(p4_oci_manifest_parse(body, len, NULL, &m, &err), P4_ERR_TOOBIG);
    assert_string_equal(err.message,
                        "the manifest of 4194305 bytes exceeds the 4194304-byte limit");
    assert_int_equal(p4_oci_manifest_parse(body, len - 1, NULL, &m, &err), 0);
    p4_oci_manifest_free(m);
    free(body);
}

#define NUL_IN_STRING                                                                              \
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci\0.image.index.v1+json\"}"

static void hostile_input(void **state)
{
    static const struct {
        const char *body;
        size_t len; /* 0: strlen */
        int code;
        const char *message; /* NULL: any */
    } cases[] = {
        {"not json", 0, P4_ERR_PARSE,
         "the manifest is not valid JSON: invalid JSON at byte 0 (line 1, column 1)"},
        {"   ", 0, P4_ERR_PARSE, "the manifest is not valid JSON: empty JSON document"},
        {"[]", 0, P4_ERR_PARSE, "the manifest is not a JSON object"},
        {"null", 0, P4_ERR_PARSE, "the manifest is not a JSON object"},
        {"\"" SHA_L1 "\"", 0, P4_ERR_PARSE, "the manifest is not a JSON object"},
        {"{\"schemaVersion\":2,", 0, P4_ERR_PARSE, NULL},
        {BARE_IMAGE "{}", 0, P4_ERR_PARSE, NULL},
        {"{\"schemaVersion\":1e999}", 0, P4_ERR_INVALID,
         "schemaVersion is not 2, the only one "
         "supported"},
        {"{\"schemaVersion\":-2," CFG_OK ",\"layers\":[]}", 0, P4_ERR_INVALID,
         "schemaVersion is not 2, the only one supported"},
        /* NUL bytes: after the document, inside a string, as an escape. */
        {BARE_IMAGE "\0{}", sizeof(BARE_IMAGE "\0{}") - 1, P4_ERR_PARSE,
         "the manifest has a NUL byte at byte 341"},
        {NUL_IN_STRING, sizeof(NUL_IN_STRING) - 1, P4_ERR_PARSE,
         "the manifest has a NUL byte at byte 51"},
        {"\0", 1, P4_ERR_PARSE, "the manifest has a NUL byte at byte 0"},
        {IMAGE_WITH(CFG_JSON, LAYER("\"sha256:\\u0000" SHA_L1 "\"", "1")), 0, 0, NULL},
        {"{\"schemaVersion\":2,\"manifests\":[[[[[[[[[[]]]]]]]]]]}", 0, P4_ERR_INVALID,
         "manifests[0] is not an object"},
    };
    struct p4_oci_manifest *m = NULL;
    struct p4_error err;
    char deep[3000];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
        int rc = p4_oci_manifest_parse(cases[i].body, len, NULL, &m, &err);

        if (cases[i].code == 0) { /* any refusal will do, as long as it is one */
            if (rc >= 0)
                fail_msg("case %zu: accepted", i);
        } else if (rc != cases[i].code) {
            fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].code, err.message);
        }
        assert_null(m);
        assert_int_equal(err.code, rc);
        assert_true(err.message[0] != '\0');
        if (cases[i].message != NULL)
            assert_string_equal(err.message, cases[i].message);
    }

    /* Nesting past cJSON's limit is a parse error, not a stack overflow. */
    memset(deep, '[', sizeof(deep));
    assert_int_equal(p4_oci_manifest_parse(deep, sizeof(deep), NULL, &m, &err), P4_ERR_PARSE);

    /* An exact-length buffer with no terminating NUL is read as it is. */
    {
        size_t len = sizeof(docker_v2) - 1;
        char *copy = malloc(len);

        assert_non_null(copy);
        memcpy(copy, docker_v2, len); /* no NUL on purpose */
        assert_int_equal(p4_oci_manifest_parse(copy, len, NULL, &m, &err), 0);
        assert_int_equal(m->layers_len, 3);
        p4_oci_manifest_free(m);
        free(copy);
    }

    /* Bad arguments, and a NULL err. */
    assert_int_equal(p4_oci_manifest_parse(NULL, 0, NULL, &m, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "no manifest body to parse");
    assert_int_equal(p4_oci_manifest_parse("{}", 2, NULL, NULL, &err), P4_ERR_INVAL);
    assert_int_equal(p4_oci_manifest_parse("{}", 2, NULL, &m, NULL), P4_ERR_INVALID);
    assert_int_equal(p4_oci_manifest_parse("x", 1, NULL, &m, NULL), P4_ERR_PARSE);
    assert_int_equal(p4_oci_manifest_parse(docker_v2, strlen(docker_v2), NULL, &m, NULL), 0);
    p4_oci_manifest_free(m);
    p4_oci_manifest_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hub_manifest_list_with_attestation),
        cmocka_unit_test(skopeo_oci_index),
        cmocka_unit_test(docker_v2_three_layers),
        cmocka_unit_test(oci_manifest_with_subject),
        cmocka_unit_test(media_type_from_header_document_or_shape),
        cmocka_unit_test(schema1_is_refused),
        cmocka_unit_test(every_validation_error_names_its_field),
        cmocka_unit_test(long_and_odd_values_are_cut_in_messages),
        cmocka_unit_test(digest_verify_and_compute),
        cmocka_unit_test(platform_selection),
        cmocka_unit_test(parse_platform_strings),
        cmocka_unit_test(limits),
        cmocka_unit_test(hostile_input),
    };
    return cmocka_run_group_tests_name("ocimanifest", tests, NULL, NULL);
}
