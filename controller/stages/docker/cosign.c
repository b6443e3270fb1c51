/* cosign.c: cosign simple-signing image signatures, checked against a public key (cosign.h). */
#include "cosign.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/base64.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/oci/ocimanifest.h"

#define SHA256_PREFIX "sha256:"
#define SHA256_DIGEST_LEN 71 /* "sha256:" + 64 hex */
/* Room for an OpenSSL key type or curve name; longer ones are cut. */
#define NAME_SIZE 64

struct p4_cosign_key {
    EVP_PKEY *pkey;
};

/* "sha256:" + 64 lower-case hex digits, the only digest a cosign tag or layer can name here. */
static bool sha256_digest(const char *digest)
{
    return digest != NULL && strncmp(digest, SHA256_PREFIX, strlen(SHA256_PREFIX)) == 0 &&
           p4_oci_digest_valid(digest);
}

int p4_cosign_sig_tag(const char *digest, char *buf, size_t size)
{
    int rc = 0;

    if (buf != NULL && size > 0)
        buf[0] = '\0';
    if (buf == NULL || !sha256_digest(digest)) {
        rc = P4_ERR_INVAL;
        goto out;
    }
    if (size < P4_COSIGN_SIG_TAG_SIZE) {
        rc = P4_ERR_TOOBIG;
        goto out;
    }
    (void)snprintf(buf, size, "sha256-%s.sig", digest + strlen(SHA256_PREFIX));
out:
    return rc;
}

void p4_cosign_sigs_free(struct p4_cosign_sigs *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->layers[i].signature);
    free(s->layers);
    s->layers = NULL;
    s->n = 0;
}

/* Whether the manifest's own "mediaType" and "schemaVersion", when present, are ones we read. */
static bool manifest_kind_ok(const cJSON *doc)
{
    const cJSON *media = p4_json_child(doc, "mediaType");
    int64_t version;
    int rc;

    if (media != NULL && !cJSON_IsNull(media)) {
        if (!cJSON_IsString(media))
            return false;
        if (strcmp(media->valuestring, P4_OCI_MEDIA_MANIFEST) != 0 &&
            strcmp(media->valuestring, P4_OCI_MEDIA_DOCKER_MANIFEST) != 0)
            return false;
    }
    rc = p4_json_int64(doc, "schemaVersion", &version);
    return rc == P4_ERR_NOTFOUND || (rc == 0 && version == 2);
}

/*
 * Fill l from one entry of "layers" when it is a signed simple-signing layer
 * within the limits; false (l untouched) for any other entry.
 */
static bool read_layer(const cJSON *layer, struct p4_cosign_layer *l)
{
    const char *media, *digest, *sig;
    const cJSON *annotations;
    int64_t size;
    size_t sig_len;

    if (!cJSON_IsObject(layer))
        return false;
    media = p4_json_str(layer, "mediaType");
    if (media == NULL || strcmp(media, P4_COSIGN_MEDIA_SIMPLESIGNING) != 0)
        return false;
    digest = p4_json_str(layer, "digest");
    if (!sha256_digest(digest) || strlen(digest) >= sizeof(l->digest))
        return false;
    if (p4_json_int64(layer, "size", &size) != 0 || size < 0)
        return false;
    /* The annotation key holds '.', so it is read as a literal child, not a path. */
    annotations = p4_json_child(layer, "annotations");
    if (!cJSON_IsObject(annotations))
        return false;
    sig = p4_json_str(p4_json_child(annotations, P4_COSIGN_ANNOTATION_SIGNATURE), NULL);
    if (sig == NULL)
        return false;
    sig_len = strlen(sig);
    if (sig_len == 0 || sig_len > P4_COSIGN_SIGNATURE_MAX)
        return false;
    memcpy(l->digest, digest, strlen(digest) + 1);
    l->size = size;
    l->signature = p4_strndup(sig, sig_len);
    return true;
}

int p4_cosign_parse_sigs(const char *body, size_t len, struct p4_cosign_sigs *out,
                         struct p4_error *err)
{
    struct p4_error perr;
    const cJSON *layers, *layer;
    cJSON *doc = NULL;
    int rc = 0;

    if (out != NULL) {
        out->layers = NULL;
        out->n = 0;
    }
    if (body == NULL || out == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no signature manifest to read");
        goto out;
    }
    if (len > P4_COSIGN_MANIFEST_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG,
                          "the signature manifest of %zu bytes exceeds the %zu-byte limit", len,
                          P4_COSIGN_MANIFEST_MAX);
        goto out;
    }
    /* p4_json_parse's messages give positions only, never the text, so they may be quoted. */
    doc = p4_json_parse(body, len, &perr);
    if (doc == NULL) {
        rc = p4_error_set(err, P4_ERR_PARSE, "the signature manifest is not valid JSON: %s",
                          perr.message);
        goto out;
    }
    if (!cJSON_IsObject(doc)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "the signature manifest is not a JSON object");
        goto out;
    }
    if (!manifest_kind_ok(doc)) {
        rc = p4_error_set(err, P4_ERR_PARSE,
                          "the signature manifest is not an OCI or Docker v2 image manifest");
        goto out;
    }
    layers = p4_json_child(doc, "layers");
    if (!cJSON_IsArray(layers)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "the signature manifest has no \"layers\" array");
        goto out;
    }
    cJSON_ArrayForEach(layer, layers) {
        struct p4_cosign_layer l;

        if (out->n == P4_COSIGN_LAYERS_MAX)
            break;
        if (!read_layer(layer, &l))
            continue;
        if (out->layers == NULL)
            out->layers = p4_calloc(P4_COSIGN_LAYERS_MAX, sizeof(*out->layers));
        out->layers[out->n++] = l;
    }
    if (out->n == 0) {
        rc = p4_error_set(err, P4_ERR_NOTFOUND,
                          "the signature manifest has no simple-signing layer with a signature");
        goto out;
    }
out:
    if (rc != 0)
        p4_cosign_sigs_free(out);
    cJSON_Delete(doc);
    return rc;
}

/* No passphrase: a public key never needs one, and OpenSSL must not prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    (void)u;
    if (buf != NULL && size > 0)
        buf[0] = '\0';
    return -1;
}

/* A name OpenSSL gave (key type, curve) fit for a message, in place: printable, no quotes. */
static void clean_name(char *name)
{
    (void)p4_text_clean(name, strlen(name) + 1, name, strlen(name),
                        P4_TEXT_ASCII | P4_TEXT_LITERAL | P4_TEXT_QUOTED);
}

/* Whether pkey is an EC key on P-256; when not, err says what it is. */
static int check_p256(EVP_PKEY *pkey, struct p4_error *err)
{
    char name[NAME_SIZE];
    const char *type;
    size_t name_len = 0;
    EVP_PKEY_CTX *ctx = NULL;
    int rc = 0;

    if (!EVP_PKEY_is_a(pkey, "EC")) {
        type = EVP_PKEY_get0_type_name(pkey);
        (void)snprintf(name, sizeof(name), "%s", type != NULL ? type : "of an unknown type");
        clean_name(name);
        rc = p4_error_set(err, P4_ERR_INVALID, "the public key is %s, want ECDSA P-256", name);
        goto out;
    }
    if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &name_len) != 1) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the public key is EC without a named curve, want ECDSA P-256");
        goto out;
    }
    if (strcmp(name, "prime256v1") != 0 && strcmp(name, "P-256") != 0 &&
        strcmp(name, "secp256r1") != 0) {
        clean_name(name);
        rc = p4_error_set(err, P4_ERR_INVALID, "the public key is EC on curve %s, want ECDSA P-256",
                          name);
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
        rc = p4_error_set(err, P4_ERR_INVALID, "the public key is not a valid P-256 point");
        goto out;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int p4_cosign_key_load(const unsigned char *pem, size_t len, struct p4_cosign_key **out,
                       struct p4_error *err)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    int rc = 0;

    (void)ERR_set_mark();
    if (out != NULL)
        *out = NULL;
    if (pem == NULL || out == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no public key to load");
        goto out;
    }
    if (len > P4_COSIGN_KEY_MAX) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the public key of %zu bytes exceeds the %zu-byte limit", len,
                          P4_COSIGN_KEY_MAX);
        goto out;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio != NULL)
        pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    if (pkey == NULL) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the public key is not a PEM \"PUBLIC KEY\" block, want the ECDSA "
                          "P-256 key that cosign generate-key-pair writes to cosign.pub");
        goto out;
    }
    rc = check_p256(pkey, err);
    if (rc != 0)
        goto out;
    *out = p4_malloc(sizeof(**out));
    (*out)->pkey = pkey;
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    (void)ERR_pop_to_mark();
    return rc;
}

void p4_cosign_key_free(struct p4_cosign_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

/*
 * The member key of object obj, required to appear exactly once even when
 * letter case is ignored (Go's encoding/json, which cosign uses, matches
 * names case-insensitively), so no reader sees another value. NULL otherwise.
 */
static const cJSON *sole_member(const cJSON *obj, const char *key)
{
    const cJSON *found = NULL, *item;

    if (!cJSON_IsObject(obj))
        return NULL;
    cJSON_ArrayForEach(item, obj) {
        if (item->string == NULL || strcasecmp(item->string, key) != 0)
            continue;
        if (found != NULL || strcmp(item->string, key) != 0)
            return NULL;
        found = item;
    }
    return found;
}

/* ECDSA SHA-256 verification of the decoded signature; 0 or P4_ERR_INVALID with err filled. */
static int verify_signature(EVP_PKEY *pkey, const unsigned char *payload, size_t len,
                            const char *signature_b64, struct p4_error *err)
{
    unsigned char *sig = NULL;
    size_t sig_len = 0, text_len = strlen(signature_b64);
    EVP_MD_CTX *md = NULL;
    int rc = 0;

    if (text_len > P4_COSIGN_SIGNATURE_MAX) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the signature of %zu bytes exceeds the %d-byte limit", text_len,
                          P4_COSIGN_SIGNATURE_MAX);
        goto out;
    }
    if (p4_base64_decode(signature_b64, text_len, 0, &sig, &sig_len) != 0) {
        rc = p4_error_set(err, P4_ERR_INVALID, "the signature annotation is not valid base64");
        goto out;
    }
    if (sig == NULL || sig_len == 0) {
        rc = p4_error_set(err, P4_ERR_INVALID, "the signature annotation is empty");
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestVerify(md, sig, sig_len, payload, len) != 1) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the signature does not verify with the public key: the image was "
                          "signed with another key, or its signature payload was altered");
        goto out;
    }
out:
    EVP_MD_CTX_free(md);
    free(sig);
    return rc;
}

/* The signed payload's claims: type and image digest. 0 or P4_ERR_INVALID with err filled. */
static int check_claims(const unsigned char *payload, size_t len, const char *digest,
                        struct p4_error *err)
{
    const cJSON *critical, *image, *type, *named;
    cJSON *doc;
    int rc = 0;

    doc = p4_json_parse((const char *)payload, len, NULL);
    if (doc == NULL || !cJSON_IsObject(doc)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "the signature payload is not a JSON object");
        goto out;
    }
    critical = sole_member(doc, "critical");
    if (!cJSON_IsObject(critical)) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the signature payload has no single \"critical\" object");
        goto out;
    }
    type = sole_member(critical, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, P4_COSIGN_PAYLOAD_TYPE) != 0) {
        rc =
            p4_error_set(err, P4_ERR_INVALID, "the signature payload's critical.type is not \"%s\"",
                         P4_COSIGN_PAYLOAD_TYPE);
        goto out;
    }
    image = sole_member(critical, "image");
    named = sole_member(image, "docker-manifest-digest");
    if (!cJSON_IsString(named)) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the signature payload has no single "
                          "critical.image.docker-manifest-digest string");
        goto out;
    }
    if (!p4_oci_digest_valid(named->valuestring)) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the signature payload names an invalid image digest, want %s", digest);
        goto out;
    }
    if (strcmp(named->valuestring, digest) != 0) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the signature payload names another image, %s, want %s",
                          named->valuestring, digest);
        goto out;
    }
out:
    cJSON_Delete(doc);
    return rc;
}

int p4_cosign_verify(const struct p4_cosign_key *key, const unsigned char *payload, size_t len,
                     const char *signature_b64, const char *digest, struct p4_error *err)
{
    int rc = 0;

    (void)ERR_set_mark();
    if (key == NULL || key->pkey == NULL || payload == NULL || signature_b64 == NULL ||
        digest == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no key, payload, signature or digest to verify");
        goto out;
    }
    if (!sha256_digest(digest)) {
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "the image digest to verify is not sha256: and 64 lower-case hex digits");
        goto out;
    }
    if (len > P4_COSIGN_PAYLOAD_MAX) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the signature payload of %zu bytes exceeds the %zu-byte limit", len,
                          P4_COSIGN_PAYLOAD_MAX);
        goto out;
    }
    /* Only a payload the key signed is worth reading. */
    rc = verify_signature(key->pkey, payload, len, signature_b64, err);
    if (rc != 0)
        goto out;
    rc = check_claims(payload, len, digest, err);
out:
    (void)ERR_pop_to_mark();
    return rc;
}
