/* cosign_test.c: .sig tags, .sig manifests as cosign writes them, keys, and signature checks. */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/oci/ocimanifest.h"
#include "stages/docker/cosign.h"

#define IMAGE "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OTHER "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define IMAGE_TAG "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig"

/* What `cosign sign --key cosign.key registry.example.com/team/app@<digest>` signs. */
#define PAYLOAD_FMT                                                                                \
    "{\"critical\":{\"identity\":{\"docker-reference\":\"registry.example.com/team/app\"},"        \
    "\"image\":{\"docker-manifest-digest\":\"%s\"},\"type\":\"%s\"},\"optional\":%s}"

/* The .sig manifest cosign pushes: an empty config and one simple-signing layer. */
#define MANIFEST_FMT                                                                               \
    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"                         \
    "\"application/vnd.oci.image.config.v1+json\",\"size\":233,\"digest\":"                        \
    "\"sha256:d4c4b8e3ed1d5c5e1f2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1\"},\"layers\":[{"   \
    "\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"size\":%zu,"             \
    "\"digest\":\"%s\",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"%s\"}}]}"

struct keys {
    EVP_PKEY *signer, *stranger;
    struct p4_cosign_key *key; /* the signer's public key, loaded from its PEM */
};

static char *public_pem(EVP_PKEY *pkey, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *copy;
    long n;

    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
    n = BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    copy = malloc((size_t)n + 1);
    assert_non_null(copy);
    memcpy(copy, data, (size_t)n);
    copy[n] = '\0';
    *len = (size_t)n;
    BIO_free(bio);
    return copy;
}

/* Base64 of the DER ECDSA (or RSA PKCS#1) SHA-256 signature of data, as cosign annotates it. */
static char *sign_b64(EVP_PKEY *pkey, const char *data, size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig;
    size_t sig_len = 0;
    char *text;

    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
    assert_int_equal(EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)data, len), 1);
    sig = malloc(sig_len);
    assert_non_null(sig);
    assert_int_equal(EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)data, len), 1);
    text = malloc(4 * ((sig_len + 2) / 3) + 1);
    assert_non_null(text);
    assert_true(EVP_EncodeBlock((unsigned char *)text, sig, (int)sig_len) > 0);
    free(sig);
    EVP_MD_CTX_free(md);
    return text;
}

static void payload(char *buf, size_t size, const char *digest, const char *type)
{
    int n = snprintf(buf, size, PAYLOAD_FMT, digest, type, "null");

    assert_true(n > 0 && (size_t)n < size);
}

static int verify(const struct keys *k, const char *data, const char *sig, struct p4_error *err)
{
    return p4_cosign_verify(k->key, (const unsigned char *)data, strlen(data), sig, IMAGE, err);
}

static int setup(void **state)
{
    struct keys *k = calloc(1, sizeof(*k));
    char *pem = NULL;
    size_t len;
    int rc = -1;

    if (k == NULL)
        goto out;
    k->signer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k->stranger = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (k->signer == NULL || k->stranger == NULL)
        goto out;
    pem = public_pem(k->signer, &len);
    if (p4_cosign_key_load((const unsigned char *)pem, len, &k->key, NULL) != 0)
        goto out;
    *state = k;
    k = NULL;
    rc = 0;
out:
    if (k != NULL) {
        EVP_PKEY_free(k->signer);
        EVP_PKEY_free(k->stranger);
        free(k);
    }
    free(pem);
    return rc;
}

static int teardown(void **state)
{
    struct keys *k = *state;

    p4_cosign_key_free(k->key);
    EVP_PKEY_free(k->signer);
    EVP_PKEY_free(k->stranger);
    free(k);
    return 0;
}

static void sig_tags(void **state)
{
    char buf[P4_COSIGN_SIG_TAG_SIZE + 8];

    (void)state;
    assert_int_equal(p4_cosign_sig_tag(IMAGE, buf, sizeof(buf)), 0);
    assert_string_equal(buf, IMAGE_TAG);
    assert_int_equal(strlen(IMAGE_TAG) + 1, P4_COSIGN_SIG_TAG_SIZE);
    assert_int_equal(p4_cosign_sig_tag(IMAGE, buf, P4_COSIGN_SIG_TAG_SIZE), 0);
    assert_string_equal(buf, IMAGE_TAG);

    assert_int_equal(p4_cosign_sig_tag(IMAGE, buf, P4_COSIGN_SIG_TAG_SIZE - 1), P4_ERR_TOOBIG);
    assert_string_equal(buf, "");
    assert_int_equal(p4_cosign_sig_tag(IMAGE, buf, 0), P4_ERR_TOOBIG);
    assert_int_equal(p4_cosign_sig_tag(IMAGE, NULL, 100), P4_ERR_INVAL);
    assert_int_equal(p4_cosign_sig_tag(NULL, buf, sizeof(buf)), P4_ERR_INVAL);
    assert_string_equal(buf, "");
    /* Upper-case hex, short, long, another algorithm, the tag form itself. */
    assert_int_equal(p4_cosign_sig_tag("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef",
                                       buf, sizeof(buf)),
                     P4_ERR_INVAL);
    assert_int_equal(p4_cosign_sig_tag("sha256:0123", buf, sizeof(buf)), P4_ERR_INVAL);
    assert_int_equal(p4_cosign_sig_tag(IMAGE "0", buf, sizeof(buf)), P4_ERR_INVAL);
    assert_int_equal(p4_cosign_sig_tag("sha512:0123456789abcdef0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
                                       "abcdef0123456789abcdef",
                                       buf, sizeof(buf)),
                     P4_ERR_INVAL);
    assert_int_equal(p4_cosign_sig_tag(IMAGE_TAG, buf, sizeof(buf)), P4_ERR_INVAL);
    assert_int_equal(p4_cosign_sig_tag("", buf, sizeof(buf)), P4_ERR_INVAL);
}

/* The whole path the Docker stage takes: manifest, blob digest, signature, claims. */
static void cosign_signed_image_verifies(void **state)
{
    const struct keys *k = *state;
    char body[4096], data[1024], blob_digest[P4_OCI_SHA256_DIGEST_SIZE], *sig;
    struct p4_cosign_sigs sigs;
    struct p4_error err;
    int n;

    payload(data, sizeof(data), IMAGE, P4_COSIGN_PAYLOAD_TYPE);
    sig = sign_b64(k->signer, data, strlen(data));
    p4_oci_digest_of(data, strlen(data), blob_digest);
    n = snprintf(body, sizeof(body), MANIFEST_FMT, P4_OCI_MEDIA_MANIFEST, strlen(data), blob_digest,
                 sig);
    assert_true(n > 0 && (size_t)n < sizeof(body));

    assert_int_equal(p4_cosign_parse_sigs(body, strlen(body), &sigs, &err), 0);
    assert_int_equal(sigs.n, 1);
    assert_string_equal(sigs.layers[0].digest, blob_digest);
    assert_int_equal(sigs.layers[0].size, (int64_t)strlen(data));
    assert_string_equal(sigs.layers[0].signature, sig);
    assert_int_equal(p4_oci_digest_verify(sigs.layers[0].digest, data, strlen(data), &err), 0);
    assert_int_equal(p4_cosign_verify(k->key, (const unsigned char *)data, strlen(data),
                                      sigs.layers[0].signature, IMAGE, &err),
                     0);
    p4_cosign_sigs_free(&sigs);
    assert_null(sigs.layers);
    assert_int_equal(sigs.n, 0);
    p4_cosign_sigs_free(&sigs);
    p4_cosign_sigs_free(NULL);
    free(sig);
}

static void optional_annotations_verify(void **state)
{
    const struct keys *k = *state;
    char data[1024], *sig;
    struct p4_error err;

    (void)snprintf(data, sizeof(data), PAYLOAD_FMT, IMAGE, P4_COSIGN_PAYLOAD_TYPE,
                   "{\"Bundle\":null,\"creator\":\"ci\",\"commit\":\"abc\"}");
    sig = sign_b64(k->signer, data, strlen(data));
    assert_int_equal(verify(k, data, sig, &err), 0);
    free(sig);
}

static void payload_for_another_digest_fails(void **state)
{
    const struct keys *k = *state;
    char data[1024], *sig;
    struct p4_error err;

    payload(data, sizeof(data), OTHER, P4_COSIGN_PAYLOAD_TYPE);
    sig = sign_b64(k->signer, data, strlen(data));
    assert_int_equal(verify(k, data, sig, &err), P4_ERR_INVALID);
    assert_int_equal(err.code, P4_ERR_INVALID);
    assert_string_equal(err.reason, "Invalid");
    assert_non_null(strstr(err.message, "another image, " OTHER ", want " IMAGE));
    free(sig);

    /* An invalid digest is not echoed. */
    payload(data, sizeof(data), "sha256:\\u001b[31mred", P4_COSIGN_PAYLOAD_TYPE);
    sig = sign_b64(k->signer, data, strlen(data));
    assert_int_equal(verify(k, data, sig, &err), P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "invalid image digest"));
    assert_null(strstr(err.message, "red"));
    free(sig);
}

static void tampered_payload_fails(void **state)
{
    const struct keys *k = *state;
    char data[1024], *sig;
    struct p4_error err;
    size_t n;

    payload(data, sizeof(data), IMAGE, P4_COSIGN_PAYLOAD_TYPE);
    sig = sign_b64(k->signer, data, strlen(data));
    /* Same claims, one byte of whitespace more: the bytes signed are what counts. */
    n = strlen(data);
    data[n] = ' ';
    data[n + 1] = '\0';
    assert_int_equal(verify(k, data, sig, &err), P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "does not verify"));
    free(sig);

    payload(data, sizeof(data), OTHER, P4_COSIGN_PAYLOAD_TYPE);
    sig = sign_b64(k->signer, data, strlen(data));
    payload(data, sizeof(data), IMAGE, P4_COSIGN_PAYLOAD_TYPE); /* swapped after signing */
    assert_int_equal(verify(k, data, sig, &err), P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "does not verify"));
    free(sig);
}

static void signature_by_another_key_fails(void **state)
{
    const struct keys *k = *state;
    char data[1024], *sig;
    struct p4_error err;

    payload(data, sizeof(data), IMAGE, P4_COSIGN_PAYLOAD_TYPE);
    sig = sign_b64(k->stranger, data, strlen(data));
    assert_int_equal(verify(k, data, sig, &err), P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "does not verify with the public key"));
    /* OpenSSL's reasons do not linger for the next caller. */
    assert_int_equal(ERR_peek_error(), 0);
    free(sig);
}

static void bad_signature_text_fails(void **state)
{
    const struct keys *k = *state;
    char data[1024], big[P4_COSIGN_SIGNATURE_MAX + 8];
    struct p4_error err;

    payload(data, sizeof(data), IMAGE, P4_COSIGN_PAYLOAD_TYPE);
    assert_int_equal(verify(k, data, "MEUCIQ!!not*base64", &err), P4_ERR_INVALID);
    assert_string_equal(err.message, "the signature annotation is not valid base64");
    assert_int_equal(verify(k, data, "MEUCIQ", &err), P4_ERR_INVALID); /* unpadded */
    assert_string_equal(err.message, "the signature annotation is not valid base64");
    assert_int_equal(verify(k, data, "", &err), P4_ERR_INVALID);
    assert_string_equal(err.message, "the signature annotation is empty");
    /* Base64 of bytes that are no DER signature. */
    assert_int_equal(verify(k, data, "AAAAAAAA", &err), P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "does not verify"));
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(verify(k, data, big, &err), P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "exceeds"));
    assert_int_equal(ERR_peek_error(), 0);
}

static void wrong_payloads_fail(void **state)
{
    const struct keys *k = *state;
    static const char *const cases[][2] = {
        {"not json at all", "is not a JSON object"},
        {"[1,2]", "is not a JSON object"},
        {"{\"critical\":null}", "no single \"critical\" object"},
        {"{\"optional\":{}}", "no single \"critical\" object"},
        {"{\"critical\":{\"type\":\"cosign container image signature\"}}",
         "no single critical.image.docker-manifest-digest"},
        {"{\"critical\":{\"type\":\"cosign container image signature\",\"image\":"
         "{\"docker-manifest-digest\":7}}}",
         "no single critical.image.docker-manifest-digest"},
        /* Repeated members, also in another letter case, as Go's encoding/json would match. */
        {"{\"critical\":{\"type\":\"cosign container image signature\",\"image\":"
         "{\"docker-manifest-digest\":\"" IMAGE "\",\"docker-manifest-digest\":\"" OTHER "\"}}}",
         "no single critical.image.docker-manifest-digest"},
        {"{\"critical\":{\"type\":\"cosign container image signature\",\"image\":"
         "{\"docker-manifest-digest\":\"" IMAGE "\"}},\"Critical\":{}}",
         "no single \"critical\" object"},
        {"{\"critical\":{\"type\":\"cosign container image signature\",\"image\":"
         "{\"Docker-Manifest-Digest\":\"" IMAGE "\"}}}",
         "no single critical.image.docker-manifest-digest"},
    };
    char data[1024], *sig;
    struct p4_error err;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sig = sign_b64(k->signer, cases[i][0], strlen(cases[i][0]));
        assert_int_equal(verify(k, cases[i][0], sig, &err), P4_ERR_INVALID);
        if (strstr(err.message, cases[i][1]) == NULL)
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.message, cases[i][1]);
        free(sig);
    }

    payload(data, sizeof(data), IMAGE, "atomic container signature");
    sig = sign_b64(k->signer, data, strlen(data));
    assert_int_equal(verify(k, data, sig, &err), P4_ERR_INVALID);
    assert_string_equal(err.message, "the signature payload's critical.type is not \"cosign "
                                     "container image signature\"");
    free(sig);
}

static void bad_verify_arguments(void **state)
{
    const struct keys *k = *state;
    char data[1024], *sig;
    struct p4_error err;

    payload(data, sizeof(data), IMAGE, P4_COSIGN_PAYLOAD_TYPE);
    sig = sign_b64(k->signer, data, strlen(data));
    assert_int_equal(
        p4_cosign_verify(NULL, (const unsigned char *)data, strlen(data), sig, IMAGE, &err),
        P4_ERR_INVAL);
    assert_int_equal(p4_cosign_verify(k->key, NULL, 0, sig, IMAGE, &err), P4_ERR_INVAL);
    assert_int_equal(
        p4_cosign_verify(k->key, (const unsigned char *)data, strlen(data), NULL, IMAGE, &err),
        P4_ERR_INVAL);
    assert_int_equal(
        p4_cosign_verify(k->key, (const unsigned char *)data, strlen(data), sig, NULL, &err),
        P4_ERR_INVAL);
    assert_int_equal(p4_cosign_verify(k->key, (const unsigned char *)data, strlen(data), sig,
                                      "sha256:0123", &err),
                     P4_ERR_INVAL);
    assert_int_equal(
        p4_cosign_verify(k->key, (const unsigned char *)data, strlen(data), sig, IMAGE_TAG, NULL),
        P4_ERR_INVAL);
    assert_int_equal(p4_cosign_verify(k->key, (const unsigned char *)data,
                                      P4_COSIGN_PAYLOAD_MAX + 1, sig, IMAGE, &err),
                     P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "exceeds"));
    /* NULL err is allowed. */
    assert_int_equal(
        p4_cosign_verify(k->key, (const unsigned char *)data, strlen(data), sig, IMAGE, NULL), 0);
    free(sig);
}

static void load_pem(EVP_PKEY *pkey, int want, const char *message)
{
    static char sentinel;
    struct p4_cosign_key *key = (struct p4_cosign_key *)(void *)&sentinel; /* reset on error */
    struct p4_error err;
    size_t len;
    char *pem = public_pem(pkey, &len);

    assert_int_equal(p4_cosign_key_load((const unsigned char *)pem, len, &key, &err), want);
    if (want == 0) {
        assert_non_null(key);
    } else {
        assert_null(key);
        assert_string_equal(err.message, message);
    }
    assert_int_equal(ERR_peek_error(), 0);
    p4_cosign_key_free(key);
    free(pem);
}

static void rsa_and_p384_keys_refused(void **state)
{
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

    (void)state;
    assert_non_null(rsa);
    assert_non_null(p384);
    assert_non_null(ed);
    load_pem(rsa, P4_ERR_INVALID, "the public key is RSA, want ECDSA P-256");
    load_pem(p384, P4_ERR_INVALID, "the public key is EC on curve secp384r1, want ECDSA P-256");
    load_pem(ed, P4_ERR_INVALID, "the public key is ED25519, want ECDSA P-256");
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed);
}

static void p256_key_loads(void **state)
{
    const struct keys *k = *state;

    load_pem(k->signer, 0, NULL);
    p4_cosign_key_free(NULL);
}

static void bad_pems_refused(void **state)
{
    const struct keys *k = *state;
    static const char *const pems[] = {
        "",
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        /* PEM encryption: refused without asking a terminal for a passphrase */
        "-----BEGIN PUBLIC KEY-----\nProc-Type: 4,ENCRYPTED\n"
        "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n"
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n-----END PUBLIC KEY-----\n",
        /* a P-256 SubjectPublicKeyInfo cut short after its header */
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
        "-----END PUBLIC KEY-----\n",
    };
    struct p4_cosign_key *key;
    struct p4_error err;
    BIO *bio = BIO_new(BIO_s_mem());
    char *priv, big[P4_COSIGN_KEY_MAX + 2];
    long n;

    for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]); i++) {
        assert_int_equal(
            p4_cosign_key_load((const unsigned char *)pems[i], strlen(pems[i]), &key, &err),
            P4_ERR_INVALID);
        assert_null(key);
        assert_non_null(strstr(err.message, "is not a PEM \"PUBLIC KEY\" block"));
        assert_int_equal(ERR_peek_error(), 0);
    }
    /* The private key (cosign.key's decrypted form) is not what we take. */
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, k->signer, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &priv);
    assert_int_equal(p4_cosign_key_load((const unsigned char *)priv, (size_t)n, &key, &err),
                     P4_ERR_INVALID);
    assert_null(key);
    BIO_free(bio);

    memset(big, ' ', sizeof(big));
    assert_int_equal(p4_cosign_key_load((const unsigned char *)big, sizeof(big), &key, &err),
                     P4_ERR_INVALID);
    assert_non_null(strstr(err.message, "exceeds"));
    assert_int_equal(p4_cosign_key_load(NULL, 0, &key, &err), P4_ERR_INVAL);
    assert_null(key);
    assert_int_equal(p4_cosign_key_load((const unsigned char *)"x", 1, NULL, &err), P4_ERR_INVAL);
}

#define LAYER(media, digest, size, annotations)                                                    \
    "{\"mediaType\":\"" media "\",\"digest\":\"" digest "\",\"size\":" size                        \
    ",\"annotations\":" annotations "}"
#define SIGNED "{\"dev.cosignproject.cosign/signature\":\"MEUCIQ==\"}"

#define DOCKER_CONFIG                                                                              \
    "{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","                           \
    "\"size\":2,\"digest\":\"" OTHER "\"}"
#define V2_SIGNED LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "250", SIGNED)
#define V2_ROOTFS LAYER("application/vnd.docker.image.rootfs.diff.tar.gzip", OTHER, "9", SIGNED)
#define V2_BUNDLED                                                                                 \
    LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, OTHER, "0",                                               \
          "{\"dev.sigstore.cosign/bundle\":\"{}\","                                                \
          "\"dev.cosignproject.cosign/signature\":\"MEYCIQ==\"}")

/* Older cosign and some registries: a Docker v2 manifest, several signatures, other layers. */
static void docker_v2_manifest_parses(void **state)
{
    static const char body[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" P4_OCI_MEDIA_DOCKER_MANIFEST
        "\",\"config\":" DOCKER_CONFIG ",\"layers\":[" V2_SIGNED "," V2_ROOTFS "," V2_BUNDLED "]}";
    static const char bare[] =
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "1", SIGNED) "]}";
    struct p4_cosign_sigs sigs;
    struct p4_error err;

    (void)state;
    assert_int_equal(p4_cosign_parse_sigs(body, strlen(body), &sigs, &err), 0);
    assert_int_equal(sigs.n, 2);
    assert_string_equal(sigs.layers[0].digest, IMAGE);
    assert_int_equal(sigs.layers[0].size, 250);
    assert_string_equal(sigs.layers[0].signature, "MEUCIQ==");
    assert_string_equal(sigs.layers[1].digest, OTHER);
    assert_int_equal(sigs.layers[1].size, 0);
    assert_string_equal(sigs.layers[1].signature, "MEYCIQ==");
    p4_cosign_sigs_free(&sigs);

    /* No mediaType nor schemaVersion: still a manifest by its layers. */
    assert_int_equal(p4_cosign_parse_sigs(bare, strlen(bare), &sigs, &err), 0);
    assert_int_equal(sigs.n, 1);
    p4_cosign_sigs_free(&sigs);
}

static void unsigned_manifests_not_found(void **state)
{
    static const char *const bodies[] = {
        "{\"schemaVersion\":2,\"layers\":[]}",
        /* simple-signing layers without a usable signature */
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "1", "{}") "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "1", "null") "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "1",
                              "{\"dev.cosignproject.cosign/signature\":\"\"}") "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "1",
                              "{\"dev.cosignproject.cosign/signature\":42}") "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "1",
                              "[\"dev.cosignproject.cosign/signature\"]") "]}",
        /* signed layers that are not simple signing, or whose descriptor is bad */
        "{\"layers\":[" LAYER("application/vnd.oci.image.layer.v1.tar", IMAGE, "1", SIGNED) "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, "sha256:abc", "1", SIGNED) "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING,
                              "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef"
                              "0123456789abcdef",
                              "1", SIGNED) "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING,
                              "sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
                              "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
                              "abcdef",
                              "1", SIGNED) "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "-1", SIGNED) "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "1.5", SIGNED) "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "\"1\"", SIGNED) "]}",
        "{\"layers\":[" LAYER(P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, "1e300", SIGNED) "]}",
        "{\"layers\":[1,\"x\",null,[],{}]}",
    };
    struct p4_cosign_sigs sigs;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        int rc = p4_cosign_parse_sigs(bodies[i], strlen(bodies[i]), &sigs, &err);

        if (rc != P4_ERR_NOTFOUND)
            fail_msg("body %zu: got %d, want P4_ERR_NOTFOUND", i, rc);
        assert_int_equal(err.code, P4_ERR_NOTFOUND);
        assert_null(sigs.layers);
        assert_int_equal(sigs.n, 0);
        p4_cosign_sigs_free(&sigs);
    }
}

static void not_manifests_refused(void **state)
{
    static const char *const bodies[] = {
        "",
        "   ",
        "{",
        "[]",
        "\"layers\"",
        "{}",
        "{\"layers\":{}}",
        "{\"layers\":\"x\"}",
        "{\"schemaVersion\":1,\"layers\":[]}",
        "{\"schemaVersion\":\"2\",\"layers\":[]}",
        "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"layers\":[]}",
        "{\"mediaType\":7,\"layers\":[]}",
        "{\"layers\":[]} trailing",
    };
    struct p4_cosign_sigs sigs;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        int rc = p4_cosign_parse_sigs(bodies[i], strlen(bodies[i]), &sigs, &err);

        if (rc != P4_ERR_PARSE)
            fail_msg("body %zu: got %d, want P4_ERR_PARSE", i, rc);
        assert_null(sigs.layers);
        assert_int_equal(sigs.n, 0);
    }
    assert_int_equal(p4_cosign_parse_sigs(NULL, 0, &sigs, &err), P4_ERR_INVAL);
    assert_int_equal(p4_cosign_parse_sigs("{}", 2, NULL, &err), P4_ERR_INVAL);
    assert_int_equal(p4_cosign_parse_sigs("{}", P4_COSIGN_MANIFEST_MAX + 1, &sigs, &err),
                     P4_ERR_TOOBIG);
}

/* Hostile manifests: many layers, huge signatures; limits hold and nothing leaks. */
static void manifest_limits(void **state)
{
    const size_t layers = 100, room = 300 * layers + (size_t)P4_COSIGN_SIGNATURE_MAX * 2 + 64;
    char *body = malloc(room), *p;
    struct p4_cosign_sigs sigs;
    struct p4_error err;

    (void)state;
    assert_non_null(body);
    p = body + sprintf(body, "{\"layers\":[");
    /* The first carries a signature one byte over the limit and is skipped. */
    p += sprintf(p, "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,\"annotations\":{\"%s\":\"",
                 P4_COSIGN_MEDIA_SIMPLESIGNING, OTHER, P4_COSIGN_ANNOTATION_SIGNATURE);
    memset(p, 'A', P4_COSIGN_SIGNATURE_MAX + 1);
    p += P4_COSIGN_SIGNATURE_MAX + 1;
    p += sprintf(p, "\"}}");
    for (size_t i = 0; i < layers; i++)
        p += sprintf(p,
                     ",{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":"
                     "{\"%s\":\"MEUCIQ==\"}}",
                     P4_COSIGN_MEDIA_SIMPLESIGNING, IMAGE, i, P4_COSIGN_ANNOTATION_SIGNATURE);
    p += sprintf(p, "]}");
    assert_true((size_t)(p - body) < room);

    assert_int_equal(p4_cosign_parse_sigs(body, (size_t)(p - body), &sigs, &err), 0);
    assert_int_equal(sigs.n, P4_COSIGN_LAYERS_MAX);
    for (size_t i = 0; i < sigs.n; i++) {
        assert_string_equal(sigs.layers[i].digest, IMAGE);
        assert_int_equal(sigs.layers[i].size, (int64_t)i);
    }
    p4_cosign_sigs_free(&sigs);
    free(body);
}

/* Error messages never carry registry bytes: control characters stay out. */
static void messages_are_clean(void **state)
{
    static const char body[] = "{\"layers\":[\x1b[31m";
    struct p4_cosign_sigs sigs;
    struct p4_error err;

    (void)state;
    assert_int_equal(p4_cosign_parse_sigs(body, sizeof(body) - 1, &sigs, &err), P4_ERR_PARSE);
    for (const char *s = err.message; *s != '\0'; s++)
        assert_true((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
    assert_non_null(strstr(err.message, "is not valid JSON"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sig_tags),
        cmocka_unit_test(cosign_signed_image_verifies),
        cmocka_unit_test(optional_annotations_verify),
        cmocka_unit_test(payload_for_another_digest_fails),
        cmocka_unit_test(tampered_payload_fails),
        cmocka_unit_test(signature_by_another_key_fails),
        cmocka_unit_test(bad_signature_text_fails),
        cmocka_unit_test(wrong_payloads_fail),
        cmocka_unit_test(bad_verify_arguments),
        cmocka_unit_test(rsa_and_p384_keys_refused),
        cmocka_unit_test(p256_key_loads),
        cmocka_unit_test(bad_pems_refused),
        cmocka_unit_test(docker_v2_manifest_parses),
        cmocka_unit_test(unsigned_manifests_not_found),
        cmocka_unit_test(not_manifests_refused),
        cmocka_unit_test(manifest_limits),
        cmocka_unit_test(messages_are_clean),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
