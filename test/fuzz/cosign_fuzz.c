/*
 * cosign_fuzz.c: libFuzzer target for .sig manifests, signature payloads and
 * signature text, and public key PEMs.
 *
 * Input layout: byte 0 picks the mode (mod 3); bytes 1-2 and 3-4 are the
 * little-endian lengths of the manifest and the payload (cut to what is
 * there); the manifest, the payload and the signature text follow in that
 * order. Mode 0 verifies the payload with the input's signature text, mode 1
 * with a signature the fixed key makes of it here (so the payload checks are
 * reached), mode 2 loads everything after byte 0 as a public key PEM. The key
 * is a P-256 pair generated once per run. Invariants: codes are the
 * documented ones and match err, messages are printable ASCII, parsed layers
 * are within the limits with valid NUL-terminated digests, nothing verifies
 * that the fixed key did not sign, a verified payload names the digest, and
 * OpenSSL's error queue is left empty.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/oci/ocimanifest.h"
#include "stages/docker/cosign.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEADER 5
#define LAYERS_TRIED 4 /* per input: each verification costs an ECDSA check */

static EVP_PKEY *signer;
static struct p4_cosign_key *key;

static void check_error(int rc, const struct p4_error *err)
{
    if (rc >= 0)
        return;
    if (err->code != rc || err->message[0] == '\0')
        abort();
    for (const char *s = err->message; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            abort();
    }
}

static void check_queue(void)
{
    if (ERR_peek_error() != 0)
        abort();
}

/* The fixed key pair, made on the first input and kept for the run. */
static void make_key(void)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;
    long n;

    signer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (bio == NULL || signer == NULL || PEM_write_bio_PUBKEY(bio, signer) != 1)
        abort();
    n = BIO_get_mem_data(bio, &pem);
    if (n <= 0 || p4_cosign_key_load((const unsigned char *)pem, (size_t)n, &key, NULL) != 0)
        abort();
    BIO_free(bio);
}

/* Base64 of the fixed key's signature of data; caller frees. */
static char *sign(const uint8_t *data, size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[128];
    size_t sig_len = sizeof(sig);
    char *text = malloc(4 * ((sizeof(sig) + 2) / 3) + 1);

    if (md == NULL || text == NULL ||
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, signer) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, data, len) != 1 ||
        EVP_EncodeBlock((unsigned char *)text, sig, (int)sig_len) <= 0)
        abort();
    EVP_MD_CTX_free(md);
    return text;
}

static void fuzz_manifest(const char *body, size_t len)
{
    struct p4_cosign_sigs sigs;
    struct p4_error err;
    int rc = p4_cosign_parse_sigs(body, len, &sigs, &err);

    check_error(rc, &err);
    if (rc != 0 && rc != P4_ERR_PARSE && rc != P4_ERR_NOTFOUND)
        abort();
    if (rc != 0 && (sigs.layers != NULL || sigs.n != 0))
        abort();
    if (rc == 0 && (sigs.layers == NULL || sigs.n == 0 || sigs.n > P4_COSIGN_LAYERS_MAX))
        abort();
    for (size_t i = 0; i < sigs.n; i++) {
        const struct p4_cosign_layer *l = &sigs.layers[i];
        char tag[P4_COSIGN_SIG_TAG_SIZE];

        if (memchr(l->digest, '\0', sizeof(l->digest)) == NULL || !p4_oci_digest_valid(l->digest) ||
            strncmp(l->digest, "sha256:", 7) != 0 || l->size < 0 || l->signature == NULL ||
            l->signature[0] == '\0' || strlen(l->signature) > P4_COSIGN_SIGNATURE_MAX)
            abort();
        if (p4_cosign_sig_tag(l->digest, tag, sizeof(tag)) != 0 ||
            strlen(tag) != P4_COSIGN_SIG_TAG_SIZE - 1)
            abort();
    }
    p4_cosign_sigs_free(&sigs);
    if (sigs.layers != NULL || sigs.n != 0)
        abort();
}

static void fuzz_verify(const uint8_t *payload, size_t len, const char *sig, int signed_here)
{
    struct p4_error err;
    int rc = p4_cosign_verify(key, payload, len, sig, DIGEST, &err);

    check_error(rc, &err);
    check_queue();
    if (rc != 0 && rc != P4_ERR_INVALID)
        abort();
    /* Nobody but the fixed key's holder (this file) can make a signature it accepts. */
    if (rc == 0 && !signed_here)
        abort();
    if (rc == 0 &&
        (memmem(payload, len, DIGEST, strlen(DIGEST)) == NULL ||
         memmem(payload, len, P4_COSIGN_PAYLOAD_TYPE, strlen(P4_COSIGN_PAYLOAD_TYPE)) == NULL))
        abort();
}

static void fuzz_key(const uint8_t *data, size_t len)
{
    struct p4_cosign_key *k = NULL;
    struct p4_error err;
    int rc = p4_cosign_key_load(data, len, &k, &err);

    check_error(rc, &err);
    check_queue();
    if ((rc != 0 && rc != P4_ERR_INVALID) || (rc == 0) != (k != NULL))
        abort();
    p4_cosign_key_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t manifest_len, payload_len, sig_len;
    const uint8_t *rest;
    char *sig, tag[P4_COSIGN_SIG_TAG_SIZE];
    struct p4_cosign_sigs sigs;
    int rc;

    if (key == NULL)
        make_key();
    if (size < 1)
        return 0;
    if (data[0] % 3 == 2) {
        fuzz_key(data + 1, size - 1);
        return 0;
    }
    if (size < HEADER)
        return 0;
    rest = data + HEADER;
    size -= HEADER;
    manifest_len = (size_t)data[1] | (size_t)data[2] << 8;
    if (manifest_len > size)
        manifest_len = size;
    payload_len = (size_t)data[3] | (size_t)data[4] << 8;
    if (payload_len > size - manifest_len)
        payload_len = size - manifest_len;
    sig_len = size - manifest_len - payload_len;

    fuzz_manifest((const char *)rest, manifest_len);

    /* The signature text as it would come out of a parsed annotation: NUL-terminated. */
    sig = malloc(sig_len + 1);
    if (sig == NULL)
        abort();
    memcpy(sig, rest + manifest_len + payload_len, sig_len);
    sig[sig_len] = '\0';
    rc = p4_cosign_sig_tag(sig, tag, sizeof(tag));
    if (rc != 0 && rc != P4_ERR_INVAL)
        abort();
    if (rc == 0 && (strncmp(tag, "sha256-", 7) != 0 || strlen(tag) != sizeof(tag) - 1))
        abort();
    fuzz_verify(rest + manifest_len, payload_len, sig, 0);
    free(sig);

    /* Signatures from the manifest never verify either: the fixed key is new each run. */
    if (p4_cosign_parse_sigs((const char *)rest, manifest_len, &sigs, NULL) == 0) {
        for (size_t i = 0; i < sigs.n && i < LAYERS_TRIED; i++)
            fuzz_verify(rest + manifest_len, payload_len, sigs.layers[i].signature, 0);
        p4_cosign_sigs_free(&sigs);
    }

    if (data[0] % 3 == 1) {
        sig = sign(rest + manifest_len, payload_len);
        fuzz_verify(rest + manifest_len, payload_len, sig, 1);
        free(sig);
    }
    return 0;
}
