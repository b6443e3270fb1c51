/*
 * cosign.h: cosign "simple signing" image signatures, checked against a public key.
 *
 * The Docker stage can require an image to be signed. cosign stores the
 * signature of image sha256:<hex> in the same repository under the tag
 * p4_cosign_sig_tag() gives ("sha256-<hex>.sig"), as an OCI or Docker v2
 * image manifest whose simple-signing layers each point at a payload blob
 * and carry, in an annotation, the base64 DER ECDSA signature of those
 * payload bytes (SHA-256). The stage fetches that manifest, reads it with
 * p4_cosign_parse_sigs(), fetches and digest-checks each payload blob, and
 * calls p4_cosign_verify() until one layer verifies. Keys are ECDSA P-256
 * only, as cosign generates them; no Rekor or Fulcio. Everything read from a
 * registry is hostile: sizes are bounded, and messages never quote its bytes
 * except digests that passed validation.
 *
 * Ownership: p4_cosign_parse_sigs() fills a struct the caller releases with
 * p4_cosign_sigs_free(); p4_cosign_key_load() returns a key the caller frees
 * with p4_cosign_key_free(). Both frees accept NULL. Every other pointer
 * argument is borrowed for the call only. The functions leave OpenSSL's
 * error queue as they found it.
 */
#ifndef PHASE4_COSIGN_H
#define PHASE4_COSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"

#define P4_COSIGN_MEDIA_SIMPLESIGNING "application/vnd.dev.cosign.simplesigning.v1+json"
#define P4_COSIGN_ANNOTATION_SIGNATURE "dev.cosignproject.cosign/signature"
#define P4_COSIGN_PAYLOAD_TYPE "cosign container image signature"

/* Limits on what a registry sends, and the key a user gives. */
#define P4_COSIGN_MANIFEST_MAX ((size_t)4 * 1024 * 1024) /* .sig manifest body */
#define P4_COSIGN_LAYERS_MAX 64                          /* signed layers kept, the rest ignored */
#define P4_COSIGN_SIGNATURE_MAX 8192                     /* base64 text of one signature */
#define P4_COSIGN_PAYLOAD_MAX ((size_t)1024 * 1024)      /* one payload blob */
#define P4_COSIGN_KEY_MAX ((size_t)64 * 1024)            /* PEM text of the public key */

/* Bytes of "sha256-" + 64 hex digits + ".sig" + NUL. */
#define P4_COSIGN_SIG_TAG_SIZE 76

/*
 * Write the signature tag "sha256-<hex>.sig" for digest "sha256:<hex>" to
 * buf. Returns 0; P4_ERR_INVAL when digest (or buf) is NULL or digest is not
 * "sha256:" + 64 lower-case hex digits; P4_ERR_TOOBIG when size is under
 * P4_COSIGN_SIG_TAG_SIZE. On error buf, when it has room, holds "".
 */
int p4_cosign_sig_tag(const char *digest, char *buf, size_t size);

struct p4_cosign_layer {
    char digest[80]; /* the payload blob, "sha256:<64 hex>", validated */
    int64_t size;    /* bytes of the payload blob, >= 0 */
    char *signature; /* base64 text as the annotation holds it, not yet decoded; owned */
};

struct p4_cosign_sigs {
    struct p4_cosign_layer *layers; /* n of them, in manifest order; owned */
    size_t n;
};

/*
 * Read the body of a .sig manifest (len bytes, need not be NUL-terminated)
 * into out (overwritten; empty on error). It must be a JSON object with a
 * "layers" array, its "mediaType", when present, an OCI image manifest or a
 * Docker v2 manifest, its "schemaVersion", when present, 2. Kept are the
 * layers of media type P4_COSIGN_MEDIA_SIMPLESIGNING with a sha256 digest, a
 * size and a non-empty signature annotation of at most
 * P4_COSIGN_SIGNATURE_MAX bytes, the first P4_COSIGN_LAYERS_MAX of them; any
 * other layer is skipped. Returns 0 (caller frees with
 * p4_cosign_sigs_free()); P4_ERR_PARSE, not a manifest; P4_ERR_NOTFOUND, no
 * layer kept; P4_ERR_TOOBIG, len over P4_COSIGN_MANIFEST_MAX; P4_ERR_INVAL,
 * body or out NULL.
 */
int p4_cosign_parse_sigs(const char *body, size_t len, struct p4_cosign_sigs *out,
                         struct p4_error *err);

/* Free what s holds and empty it; s may be NULL. */
void p4_cosign_sigs_free(struct p4_cosign_sigs *s);

struct p4_cosign_key;

/*
 * Load a PEM public key ("-----BEGIN PUBLIC KEY-----", SubjectPublicKeyInfo,
 * as `cosign generate-key-pair` writes cosign.pub) of len bytes into *out.
 * Returns 0 (caller frees *out with p4_cosign_key_free()); P4_ERR_INVALID
 * when it is not such a PEM, is larger than P4_COSIGN_KEY_MAX, or is not an
 * ECDSA key on P-256 (the message says what it is instead: "the public key is
 * RSA, want ECDSA P-256"); P4_ERR_INVAL for a NULL argument. *out is NULL on
 * error.
 */
int p4_cosign_key_load(const unsigned char *pem, size_t len, struct p4_cosign_key **out,
                       struct p4_error *err);
void p4_cosign_key_free(struct p4_cosign_key *k);

/*
 * Check one layer: signature_b64 (a p4_cosign_layer's signature) must be the
 * ECDSA SHA-256 signature under key of the len bytes of payload (the blob,
 * already checked against the layer's digest by the caller), and the payload
 * a JSON object whose "critical.type" is P4_COSIGN_PAYLOAD_TYPE and whose
 * "critical.image.docker-manifest-digest" equals digest. The signature is
 * checked before the payload is read; a payload that repeats one of these
 * members (in any letter case) is refused, so no reader can see another
 * value. Returns 0 when all hold; P4_ERR_INVALID with one sentence naming the
 * check that failed (bad base64, no verification with the key, payload not
 * JSON, wrong type, another digest, named in the message when valid, or over
 * a limit); P4_ERR_INVAL for a NULL argument or a digest that is not
 * "sha256:" + 64 lower-case hex digits.
 */
int p4_cosign_verify(const struct p4_cosign_key *key, const unsigned char *payload, size_t len,
                     const char *signature_b64, const char *digest, struct p4_error *err);

#endif
