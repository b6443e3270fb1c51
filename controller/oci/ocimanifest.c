/* ocimanifest.c: OCI and Docker image manifests and indexes (see ocimanifest.h). */
#include "phase4/oci/ocimanifest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* Room for a member name such as "manifests[999].platform.architecture". */
#define FIELD_MAX 64
/* Bytes of a network string quoted in a message, before it is cut with "...". */
#define SHOWN_MAX 80
#define SHOWN_SIZE (SHOWN_MAX + 4)
#define MEDIA_TYPE_PART_MAX 127 /* per side of the '/', as the OCI descriptor grammar allows */

static const char *const manifest_types[] = {
    P4_OCI_MEDIA_INDEX,
    P4_OCI_MEDIA_MANIFEST,
    P4_OCI_MEDIA_DOCKER_LIST,
    P4_OCI_MEDIA_DOCKER_MANIFEST,
};

static const char *const schema1_types[] = {
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
};

/* What registries and proxies send when they do not know the manifest's own type. */
static const char *const generic_types[] = {
    "application/json",
    "text/plain",
    "application/octet-stream",
    "binary/octet-stream",
};

enum media_class { MEDIA_NONE, MEDIA_KNOWN, MEDIA_SCHEMA1, MEDIA_GENERIC, MEDIA_OTHER };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/*
 * s made fit to quote in a message: bytes other than printable ASCII, '"' and
 * '\' become '?', and text past SHOWN_MAX bytes is cut and marked "...".
 */
static const char *shown(const char *s, char buf[SHOWN_SIZE])
{
    return p4_error_quote(s, SHOWN_MAX, buf);
}

/* "field.key", or "key" at the top level; marked "..." if it had to be cut (it never is). */
static const char *member(char buf[FIELD_MAX], const char *field, const char *key)
{
    int n = snprintf(buf, FIELD_MAX, "%s%s%s", field, field[0] != '\0' ? "." : "", key);

    if (n < 0 || n >= FIELD_MAX)
        memcpy(buf + FIELD_MAX - 4, "...", 4);
    return buf;
}

static bool one_of(const char *s, size_t n, const char *const *list, size_t count,
                   const char **found)
{
    for (size_t i = 0; i < count; i++) {
        if (strlen(list[i]) == n && strncasecmp(s, list[i], n) == 0) {
            if (found != NULL)
                *found = list[i];
            return true;
        }
    }
    return false;
}

/* Media types compare case-insensitively (RFC 6838); *known is set to our static spelling. */
static enum media_class classify(const char *s, size_t n, const char **known)
{
    *known = NULL;
    if (n == 0)
        return MEDIA_NONE;
    if (one_of(s, n, manifest_types, COUNT(manifest_types), known))
        return MEDIA_KNOWN;
    if (one_of(s, n, schema1_types, COUNT(schema1_types), NULL))
        return MEDIA_SCHEMA1;
    if (one_of(s, n, generic_types, COUNT(generic_types), NULL))
        return MEDIA_GENERIC;
    return MEDIA_OTHER;
}

/* The media type of a Content-Type value, without parameters or surrounding blanks. */
static enum media_class classify_header(const char *ct, const char **known)
{
    size_t start = 0, end;

    *known = NULL;
    if (ct == NULL)
        return MEDIA_NONE;
    while (ct[start] == ' ' || ct[start] == '\t')
        start++;
    end = start + strcspn(ct + start, ";");
    while (end > start && (ct[end - 1] == ' ' || ct[end - 1] == '\t'))
        end--;
    return classify(ct + start, end - start, known);
}

static bool is_kind_index(const char *media_type)
{
    return strcmp(media_type, P4_OCI_MEDIA_INDEX) == 0 ||
           strcmp(media_type, P4_OCI_MEDIA_DOCKER_LIST) == 0;
}

static int schema1_refused(struct p4_error *err)
{
    return p4_error_set(err, P4_ERR_INVALID,
                        "Docker image manifest schema 1 is not supported (it is deprecated); push "
                        "the image again with a current Docker, containerd or skopeo client");
}

static bool is_restricted_name_char(char c)
{
    return p4_ascii_alnum(c) || (c != '\0' && strchr("!#$&^_.+-", c) != NULL);
}

/* One side of type/subtype as the OCI descriptor grammar (RFC 6838 restricted names) allows. */
static size_t media_type_part(const char *s)
{
    size_t n = 0;

    if (!p4_ascii_alnum(s[0]))
        return 0;
    while (is_restricted_name_char(s[n]))
        n++;
    return n <= MEDIA_TYPE_PART_MAX ? n : 0;
}

static bool media_type_valid(const char *s)
{
    size_t n = media_type_part(s);

    if (n == 0 || s[n] != '/')
        return false;
    s += n + 1;
    n = media_type_part(s);
    return n > 0 && s[n] == '\0';
}

bool p4_oci_digest_valid(const char *digest)
{
    size_t hex_len, i;

    if (digest == NULL)
        return false;
    if (strncmp(digest, "sha256:", 7) == 0)
        hex_len = 64;
    else if (strncmp(digest, "sha512:", 7) == 0)
        hex_len = 128;
    else
        return false;
    /* Stops at the terminating NUL too, which is not a hex digit. */
    for (i = 0; i < hex_len; i++) {
        if (!p4_ascii_lower_hex(digest[7 + i]))
            return false;
    }
    return digest[7 + hex_len] == '\0';
}

/*
 * The string member key of obj into *out (borrowed), NULL when absent or JSON
 * null. Returns 0, or P4_ERR_INVALID naming field.key when it is missing and
 * required, or not a string.
 */
static int get_string(const cJSON *obj, const char *field, const char *key, bool required,
                      const char **out, struct p4_error *err)
{
    const cJSON *item = p4_json_child(obj, key);
    char name[FIELD_MAX];
    int rc = 0;

    *out = NULL;
    if (cJSON_IsString(item)) {
        *out = item->valuestring;
    } else if (item != NULL && !cJSON_IsNull(item)) {
        p4_error_set(err, P4_ERR_INVALID, "%s is not a string", member(name, field, key));
        rc = P4_ERR_INVALID;
    } else if (required) {
        p4_error_set(err, P4_ERR_INVALID, "%s is missing", member(name, field, key));
        rc = P4_ERR_INVALID;
    }
    return rc;
}

static int read_size(const cJSON *obj, const char *field, int64_t *out, struct p4_error *err)
{
    const cJSON *item = p4_json_child(obj, "size");
    char name[FIELD_MAX];
    int rc;

    member(name, field, "size");
    rc = p4_json_int64(obj, "size", out);
    if (rc == P4_ERR_NOTFOUND) {
        rc = p4_error_set(err, P4_ERR_INVALID, "%s is missing", name);
    } else if (rc != 0 && !cJSON_IsNumber(item)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "%s is not a number", name);
    } else if (rc != 0 || *out < 0) {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "%s %g is not a valid size (a whole number of bytes from 0 to 2^53)",
                          name, item->valuedouble);
    }
    return rc;
}

/* A descriptor {mediaType, digest, size} into d (d's strings are then owned by d). */
static int read_descriptor(const cJSON *obj, const char *field, struct p4_oci_descriptor *d,
                           struct p4_error *err)
{
    const char *media_type, *digest;
    char buf[SHOWN_SIZE];
    int64_t size = 0;
    int rc;

    if (obj == NULL || cJSON_IsNull(obj)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "%s is missing", field);
        goto out;
    }
    if (!cJSON_IsObject(obj)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "%s is not an object", field);
        goto out;
    }
    rc = get_string(obj, field, "mediaType", true, &media_type, err);
    if (rc != 0)
        goto out;
    if (!media_type_valid(media_type)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "%s.mediaType \"%s\" is not a valid media type",
                          field, shown(media_type, buf));
        goto out;
    }
    rc = get_string(obj, field, "digest", true, &digest, err);
    if (rc != 0)
        goto out;
    if (!p4_oci_digest_valid(digest)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "%s.digest \"%s\" is not a valid digest", field,
                          shown(digest, buf));
        goto out;
    }
    rc = read_size(obj, field, &size, err);
    if (rc != 0)
        goto out;
    d->media_type = p4_strdup(media_type);
    d->digest = p4_strdup(digest);
    d->size = size;
out:
    return rc;
}

/* Platform values: printable ASCII without blanks, short enough for the find buffers. */
static int read_platform_value(const cJSON *platform, const char *field, const char *key,
                               bool required, char **out, struct p4_error *err)
{
    char name[FIELD_MAX], buf[SHOWN_SIZE];
    const char *s;
    size_t i;
    int rc;

    rc = get_string(platform, field, key, required, &s, err);
    if (rc != 0 || s == NULL)
        goto out;
    if (s[0] == '\0') {
        if (required)
            rc = p4_error_set(err, P4_ERR_INVALID, "%s is empty", member(name, field, key));
        goto out;
    }
    for (i = 0; s[i] > 0x20 && s[i] < 0x7f; i++)
        ;
    if (s[i] != '\0' || i >= P4_OCI_PLATFORM_PART_MAX) {
        rc = p4_error_set(err, P4_ERR_INVALID, "%s \"%s\" is not a valid platform value",
                          member(name, field, key), shown(s, buf));
        goto out;
    }
    *out = p4_strdup(s);
out:
    return rc;
}

/* The members of an optional "annotations" object; P4_ERR_INVALID when it is not an object. */
static int read_annotations(const cJSON *obj, const char *field, const cJSON **annotations,
                            size_t *count, struct p4_error *err)
{
    const cJSON *a = p4_json_child(obj, "annotations");
    char name[FIELD_MAX];
    size_t n = 0;
    int rc = 0;

    *annotations = NULL;
    if (a == NULL || cJSON_IsNull(a))
        goto out;
    if (!cJSON_IsObject(a)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "%s is not an object",
                          member(name, field, "annotations"));
        goto out;
    }
    *annotations = a;
    for (const cJSON *c = a->child; c != NULL; c = c->next)
        n++;
out:
    if (count != NULL)
        *count = n;
    return rc;
}

static int read_entry(const cJSON *obj, size_t i, struct p4_oci_index_entry *e,
                      struct p4_error *err)
{
    const cJSON *platform, *annotations;
    struct p4_oci_platform *p = &e->platform;
    char field[FIELD_MAX], pfield[FIELD_MAX];
    const char *ref_type = NULL, *artifact_type = NULL;
    int rc;

    (void)snprintf(field, sizeof(field), "manifests[%zu]", i);
    rc = read_descriptor(obj, field, &e->desc, err);
    if (rc != 0)
        goto out;
    rc = read_annotations(obj, field, &annotations, NULL, err);
    if (rc != 0)
        goto out;
    if (annotations != NULL) {
        rc = get_string(annotations, member(pfield, field, "annotations"),
                        "vnd.docker.reference.type", false, &ref_type, err);
        if (rc != 0)
            goto out;
    }
    e->is_attestation = ref_type != NULL && strcmp(ref_type, "attestation-manifest") == 0;
    rc = get_string(obj, field, "artifactType", false, &artifact_type, err);
    if (rc != 0)
        goto out;
    if (artifact_type != NULL && artifact_type[0] != '\0' && strlen(artifact_type) < 256) {
        bool clean = true;
        for (const char *c = artifact_type; *c; c++)
            clean = clean && *c > ' ' && *c < 0x7f;
        if (clean)
            e->artifact_type = p4_strdup(artifact_type);
    }

    platform = p4_json_child(obj, "platform");
    if (platform == NULL || cJSON_IsNull(platform))
        goto out;
    member(pfield, field, "platform");
    if (!cJSON_IsObject(platform)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "%s is not an object", pfield);
        goto out;
    }
    e->has_platform = true;
    rc = read_platform_value(platform, pfield, "os", true, &p->os, err);
    if (rc == 0)
        rc = read_platform_value(platform, pfield, "architecture", true, &p->architecture, err);
    if (rc == 0)
        rc = read_platform_value(platform, pfield, "variant", false, &p->variant, err);
    if (rc == 0)
        rc = read_platform_value(platform, pfield, "os.version", false, &p->os_version, err);
out:
    return rc;
}

static int read_index(const cJSON *root, struct p4_oci_manifest *m, struct p4_error *err)
{
    const cJSON *manifests = p4_json_child(root, "manifests");
    const cJSON *c;
    size_t n, i = 0;
    int rc = 0;

    if (manifests == NULL || cJSON_IsNull(manifests)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "manifests is missing");
        goto out;
    }
    if (!cJSON_IsArray(manifests)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "manifests is not an array");
        goto out;
    }
    n = p4_json_count_upto(manifests, P4_OCI_INDEX_ENTRIES_MAX);
    if (n > P4_OCI_INDEX_ENTRIES_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG,
                          "the image index has more than %d entries, the most supported",
                          P4_OCI_INDEX_ENTRIES_MAX);
        goto out;
    }
    if (n == 0)
        goto out;
    /* Counted now, so p4_oci_manifest_free() releases whatever a failure leaves half read. */
    m->entries = p4_calloc(n, sizeof(*m->entries));
    m->entries_len = n;
    for (c = manifests->child; c != NULL && rc == 0; c = c->next, i++)
        rc = read_entry(c, i, &m->entries[i], err);
out:
    return rc;
}

static int read_image(const cJSON *root, struct p4_oci_manifest *m, struct p4_error *err)
{
    const cJSON *layers = p4_json_child(root, "layers");
    const cJSON *subject = p4_json_child(root, "subject");
    char field[FIELD_MAX];
    const cJSON *c;
    size_t n, i = 0;
    int rc;

    rc = read_descriptor(p4_json_child(root, "config"), "config", &m->config, err);
    if (rc != 0)
        goto out;
    if (layers == NULL || cJSON_IsNull(layers)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "layers is missing");
        goto out;
    }
    if (!cJSON_IsArray(layers)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "layers is not an array");
        goto out;
    }
    n = p4_json_count_upto(layers, P4_OCI_LAYERS_MAX);
    if (n > P4_OCI_LAYERS_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG,
                          "the image manifest has more than %d layers, the most supported",
                          P4_OCI_LAYERS_MAX);
        goto out;
    }
    if (n > 0) {
        m->layers = p4_calloc(n, sizeof(*m->layers));
        m->layers_len = n;
    }
    for (c = layers->child; c != NULL && rc == 0; c = c->next, i++) {
        (void)snprintf(field, sizeof(field), "layers[%zu]", i);
        rc = read_descriptor(c, field, &m->layers[i], err);
    }
    if (rc != 0 || subject == NULL || cJSON_IsNull(subject))
        goto out;
    m->has_subject = true;
    rc = read_descriptor(subject, "subject", &m->subject, err);
out:
    return rc;
}

/* The media type a document without one has, from its shape; NULL with err filled if unclear. */
static const char *infer_type(const cJSON *root, struct p4_error *err)
{
    bool manifests = p4_json_child(root, "manifests") != NULL;
    bool image = p4_json_child(root, "config") != NULL && p4_json_child(root, "layers") != NULL;

    if (manifests && image) {
        p4_error_set(err, P4_ERR_INVALID,
                     "the document has both \"manifests\" and \"config\" and \"layers\", so it "
                     "is neither an image index nor an image manifest");
        return NULL;
    }
    if (!manifests && !image) {
        p4_error_set(err, P4_ERR_INVALID,
                     "the document has no mediaType, no \"manifests\" and no \"config\" and "
                     "\"layers\", so it is not an image index or manifest");
        return NULL;
    }
    /* Docker always writes mediaType; only OCI documents may leave it out. */
    return manifests ? P4_OCI_MEDIA_INDEX : P4_OCI_MEDIA_MANIFEST;
}

/*
 * Which of the four types root is, from the header, the document or its shape
 * (static); NULL with err filled when none, every such failure being P4_ERR_INVALID.
 */
static const char *resolve_type(const cJSON *root, const char *header_type, struct p4_error *err)
{
    const char *doc_mt, *doc_type = NULL, *media_type = NULL;
    char buf[SHOWN_SIZE];
    int64_t version = 0;
    int vrc;

    if (get_string(root, "", "mediaType", false, &doc_mt, err) != 0)
        goto out;
    vrc = p4_json_int64(root, "schemaVersion", &version);
    if ((doc_mt != NULL && classify(doc_mt, strlen(doc_mt), &doc_type) == MEDIA_SCHEMA1) ||
        (vrc == 0 && version == 1)) {
        schema1_refused(err);
        goto out;
    }
    if (doc_mt != NULL && doc_type == NULL) {
        p4_error_set(err, P4_ERR_INVALID, "mediaType \"%s\" is not an image manifest or index type",
                     shown(doc_mt, buf));
        goto out;
    }
    if (header_type != NULL && doc_type != NULL && header_type != doc_type) {
        p4_error_set(err, P4_ERR_INVALID,
                     "mediaType %s in the document contradicts the Content-Type %s", doc_type,
                     header_type);
        goto out;
    }
    if (vrc == P4_ERR_NOTFOUND) {
        p4_error_set(err, P4_ERR_INVALID, "schemaVersion is missing");
        goto out;
    }
    if (vrc != 0 || version != 2) {
        p4_error_set(err, P4_ERR_INVALID, "schemaVersion is not 2, the only one supported");
        goto out;
    }
    media_type = header_type != NULL ? header_type : doc_type;
    if (media_type == NULL)
        media_type = infer_type(root, err);
out:
    return media_type;
}

int p4_oci_manifest_parse(const char *body, size_t len, const char *content_type,
                          struct p4_oci_manifest **out, struct p4_error *err)
{
    struct p4_oci_manifest *m = NULL;
    const char *header_type, *media_type;
    const cJSON *annotations;
    struct p4_error jerr;
    const char *nul;
    char buf[SHOWN_SIZE];
    cJSON *root = NULL;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (body == NULL || out == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no manifest body to parse");
        goto out;
    }
    if (len > P4_OCI_MANIFEST_MAX) {
        rc =
            p4_error_set(err, P4_ERR_TOOBIG, "the manifest of %zu bytes exceeds the %zu-byte limit",
                         len, P4_OCI_MANIFEST_MAX);
        goto out;
    }
    switch (classify_header(content_type, &header_type)) {
    case MEDIA_SCHEMA1:
        rc = schema1_refused(err);
        goto out;
    case MEDIA_OTHER:
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "Content-Type \"%s\" is not an image manifest or index type",
                          shown(content_type, buf));
        goto out;
    default:
        break;
    }
    /* JSON has no raw NUL bytes, and cJSON would silently cut a string at one. */
    nul = memchr(body, '\0', len);
    if (nul != NULL) {
        rc = p4_error_set(err, P4_ERR_PARSE, "the manifest has a NUL byte at byte %zu",
                          (size_t)(nul - body));
        goto out;
    }
    root = p4_json_parse(body, len, &jerr);
    if (root == NULL) {
        rc = p4_error_set(err, jerr.code, "the manifest is not valid JSON: %s", jerr.message);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "the manifest is not a JSON object");
        goto out;
    }
    media_type = resolve_type(root, header_type, err);
    if (media_type == NULL) {
        rc = P4_ERR_INVALID;
        goto out;
    }
    m = p4_calloc(1, sizeof(*m));
    m->media_type = media_type;
    m->kind = is_kind_index(media_type) ? P4_OCI_INDEX : P4_OCI_IMAGE;
    rc = read_annotations(root, "", &annotations, &m->annotations_len, err);
    if (rc != 0)
        goto out;
    rc = m->kind == P4_OCI_INDEX ? read_index(root, m, err) : read_image(root, m, err);
out:
    if (rc != 0) {
        p4_oci_manifest_free(m);
        m = NULL;
    }
    if (out != NULL)
        *out = m;
    cJSON_Delete(root);
    return rc;
}

static void descriptor_close(struct p4_oci_descriptor *d)
{
    free(d->media_type);
    free(d->digest);
}

void p4_oci_manifest_free(struct p4_oci_manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->entries_len; i++) {
        struct p4_oci_index_entry *e = &m->entries[i];

        descriptor_close(&e->desc);
        free(e->platform.os);
        free(e->platform.architecture);
        free(e->platform.variant);
        free(e->platform.os_version);
        free(e->artifact_type);
    }
    free(m->entries);
    for (size_t i = 0; i < m->layers_len; i++)
        descriptor_close(&m->layers[i]);
    free(m->layers);
    descriptor_close(&m->config);
    descriptor_close(&m->subject);
    free(m);
}

/* A platform after containerd's normalization (platforms.Normalize). */
struct norm_platform {
    char os[P4_OCI_PLATFORM_PART_MAX];
    char arch[P4_OCI_PLATFORM_PART_MAX];
    char variant[P4_OCI_PLATFORM_PART_MAX];
    bool arch_sets_variant; /* "armhf", "armel", "i386": the name itself fixes the variant */
};

/* Lower-cased copy of s (NULL is ""); false when it does not fit. */
static bool lower_copy(char out[P4_OCI_PLATFORM_PART_MAX], const char *s)
{
    size_t i;

    for (i = 0; s != NULL && s[i] != '\0'; i++) {
        if (i + 1 >= P4_OCI_PLATFORM_PART_MAX)
            return false;
        out[i] = p4_ascii_to_lower(s[i]);
    }
    out[i] = '\0';
    return true;
}

static bool eq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static void set_part(char out[P4_OCI_PLATFORM_PART_MAX], const char *s)
{
    (void)snprintf(out, P4_OCI_PLATFORM_PART_MAX, "%s", s);
}

static bool normalize(const char *os, const char *arch, const char *variant,
                      struct norm_platform *n)
{
    char *v = n->variant;

    n->arch_sets_variant = false;
    if (!lower_copy(n->os, os) || !lower_copy(n->arch, arch) || !lower_copy(v, variant))
        return false;
    if (eq(n->os, "macos"))
        set_part(n->os, "darwin");
    if (eq(n->arch, "i386")) {
        set_part(n->arch, "386");
        v[0] = '\0';
        n->arch_sets_variant = true;
    } else if (eq(n->arch, "x86_64") || eq(n->arch, "x86-64") || eq(n->arch, "amd64")) {
        set_part(n->arch, "amd64");
        if (eq(v, "v1"))
            v[0] = '\0';
    } else if (eq(n->arch, "aarch64") || eq(n->arch, "arm64")) {
        set_part(n->arch, "arm64");
        if (eq(v, "") || eq(v, "8") || eq(v, "v8.0"))
            set_part(v, "v8");
        else if (eq(v, "9") || eq(v, "9.0") || eq(v, "v9.0"))
            set_part(v, "v9");
    } else if (eq(n->arch, "armhf") || eq(n->arch, "armel")) {
        set_part(v, eq(n->arch, "armhf") ? "v7" : "v6");
        set_part(n->arch, "arm");
        n->arch_sets_variant = true;
    } else if (eq(n->arch, "arm")) {
        if (eq(v, "") || eq(v, "7"))
            set_part(v, "v7");
        else if (eq(v, "5") || eq(v, "6") || eq(v, "8"))
            set_part(v, eq(v, "5") ? "v5" : eq(v, "6") ? "v6" : "v8");
    }
    return true;
}

const struct p4_oci_index_entry *p4_oci_index_find(const struct p4_oci_manifest *index,
                                                   const char *os, const char *arch,
                                                   const char *variant)
{
    const struct p4_oci_index_entry *loose = NULL;
    struct norm_platform want = {0}, have = {0};
    bool any_variant;

    if (index == NULL || index->kind != P4_OCI_INDEX || os == NULL || os[0] == '\0' ||
        arch == NULL || arch[0] == '\0' || !normalize(os, arch, variant, &want))
        return NULL;
    any_variant = (variant == NULL || variant[0] == '\0') && !want.arch_sets_variant;
    for (size_t i = 0; i < index->entries_len; i++) {
        const struct p4_oci_index_entry *e = &index->entries[i];
        const struct p4_oci_platform *p = &e->platform;

        if (!e->has_platform || e->is_attestation ||
            !normalize(p->os, p->architecture, p->variant, &have))
            continue;
        if (!eq(want.os, have.os) || !eq(want.arch, have.arch))
            continue;
        if (eq(want.variant, have.variant))
            return e;
        if (any_variant && loose == NULL)
            loose = e;
    }
    return loose;
}

static bool is_platform_char(char c)
{
    return p4_ascii_alnum(c) || c == '.' || c == '_' || c == '-';
}

int p4_oci_parse_platform(const char *s, char os[P4_OCI_PLATFORM_PART_MAX],
                          char arch[P4_OCI_PLATFORM_PART_MAX],
                          char variant[P4_OCI_PLATFORM_PART_MAX], struct p4_error *err)
{
    char *parts[3] = {os, arch, variant};
    char buf[SHOWN_SIZE];
    size_t nparts = 0, i = 0;
    int rc = 0;

    os[0] = arch[0] = variant[0] = '\0';
    if (s == NULL || s[0] == '\0') {
        rc = p4_error_set(err, P4_ERR_INVAL, "no platform given; write os/architecture[/variant]");
        goto out;
    }
    while (nparts < 3) {
        size_t n = 0;

        while (is_platform_char(s[i + n]))
            n++;
        if (n == 0 || n >= P4_OCI_PLATFORM_PART_MAX || (s[i + n] != '/' && s[i + n] != '\0'))
            break;
        memcpy(parts[nparts], s + i, n);
        parts[nparts++][n] = '\0';
        i += n;
        if (s[i] == '\0' || s[i + 1] == '\0')
            break;
        i++;
    }
    if (nparts < 2 || s[i] != '\0') {
        os[0] = arch[0] = variant[0] = '\0';
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "platform \"%s\" is not os/architecture[/variant], such as "
                          "linux/arm64/v8",
                          shown(s, buf));
    }
out:
    return rc;
}

/* Digests are checked before this, so the algorithm is one of the two. */
static const EVP_MD *digest_md(const char *digest)
{
    return strncmp(digest, "sha256:", 7) == 0 ? EVP_sha256() : EVP_sha512();
}

/* "<alg>:<hex>" of data into out (8 + 2 * EVP_MAX_MD_SIZE bytes); false if OpenSSL fails. */
static bool digest_compute(const EVP_MD *md, const char *alg, const void *data, size_t len,
                           char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int sum_len = 0;
    size_t o;

    if (EVP_Digest(data != NULL ? data : "", len, sum, &sum_len, md, NULL) != 1)
        return false;
    o = (size_t)snprintf(out, 8, "%s:", alg);
    for (unsigned int i = 0; i < sum_len; i++) {
        out[o++] = hex[sum[i] >> 4];
        out[o++] = hex[sum[i] & 0xf];
    }
    out[o] = '\0';
    return true;
}

/* An algorithm name as the OCI digest grammar writes it: [a-z0-9]+([+._-][a-z0-9]+)*. */
static bool algorithm_shaped(const char *s, size_t n)
{
    bool sep = true;

    for (size_t i = 0; i < n; i++) {
        bool alnum = p4_ascii_lower_alnum(s[i]);

        if (!alnum && (sep || strchr("+._-", s[i]) == NULL))
            return false;
        sep = !alnum;
    }
    return n > 0 && !sep;
}

int p4_oci_digest_verify(const char *digest, const void *data, size_t len, struct p4_error *err)
{
    char actual[8 + 2 * EVP_MAX_MD_SIZE], buf[SHOWN_SIZE];
    const char *colon;
    int rc = 0;

    if (digest == NULL || (data == NULL && len > 0)) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no digest or no data to verify");
        goto out;
    }
    if (!p4_oci_digest_valid(digest)) {
        colon = strchr(digest, ':');
        if (colon != NULL && colon - digest <= 32 &&
            algorithm_shaped(digest, (size_t)(colon - digest)) &&
            strncmp(digest, "sha256:", 7) != 0 && strncmp(digest, "sha512:", 7) != 0)
            rc = p4_error_set(err, P4_ERR_INVAL,
                              "digest algorithm \"%.*s\" is not supported; use sha256 or sha512",
                              (int)(colon - digest), digest);
        else
            rc = p4_error_set(err, P4_ERR_INVAL, "digest \"%s\" is not a valid digest",
                              shown(digest, buf));
        goto out;
    }
    if (!digest_compute(digest_md(digest), digest[3] == '2' ? "sha256" : "sha512", data, len,
                        actual)) {
        rc = p4_error_set(err, P4_ERR_NOMEM, "OpenSSL could not compute the content digest");
        goto out;
    }
    if (strcmp(actual, digest) != 0)
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the content has digest %s, not the expected %s; the registry sent "
                          "other bytes than the digest names",
                          actual, digest);
out:
    return rc;
}

void p4_oci_digest_of(const void *data, size_t len, char out[P4_OCI_SHA256_DIGEST_SIZE])
{
    char full[8 + 2 * EVP_MAX_MD_SIZE];

    /* EVP_Digest fails only when OpenSSL cannot allocate: treated like p4_malloc's OOM. */
    if (!digest_compute(EVP_sha256(), "sha256", data, len, full)) {
        (void)fprintf(stderr, "level=fatal msg=\"OpenSSL could not compute a sha256 digest\"\n");
        abort();
    }
    memcpy(out, full, P4_OCI_SHA256_DIGEST_SIZE);
}

char *p4_oci_pick_referrer(const char *body, size_t len, bool (*want)(const char *artifact_type))
{
    struct p4_oci_manifest *idx = NULL;
    char *found = NULL;

    if (p4_oci_manifest_parse(body, len, P4_OCI_MEDIA_INDEX, &idx, NULL) == 0 && idx != NULL) {
        for (size_t i = 0; i < idx->entries_len && found == NULL; i++) {
            if (want(idx->entries[i].artifact_type))
                found = p4_strdup(idx->entries[i].desc.digest);
        }
    }
    p4_oci_manifest_free(idx);
    return found;
}
