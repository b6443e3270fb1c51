/*
 * stages/helm/images.c: steps S_IMAGES and S_IMAGES_CHECK of the Helm stage (gate
 * ImagesPullable). After S_PIN, every other image the rendered pod templates run (sidecars,
 * init containers, a database) is checked as the Docker stage checks its own: resolved to a
 * digest and its blobs asked for, for each platform, through imagecheck.h, with the pull
 * secrets its pods would use (spec.image.pullSecrets, then the pod templates'
 * imagePullSecrets, in the target namespace); the registry of spec.image.repository gets
 * spec.image.insecure and spec.image.caBundle too. A failure gets imagecheck.h's reason, the
 * one the Docker stage gives. With spec.image.pinAll (the default) each such container then
 * runs "<name as written>@<digest>" and the manifest is printed again. Answers are kept in the
 * stage's cache (imagecache.h), so many releases of one chart ask the registry once per image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/text.h"
#include "phase4/kube/podspec.h"
#include "phase4/oci/ocimanifest.h"
#include "phase4/scan/scanreport.h"
#include "pin.h"
#include "steps.h"

#define SHOWN 160         /* an image or a place shown in a message */
#define SHOWN_IMAGES 4    /* images the passing message names */
#define ASKED_POLL_MS 100 /* look for another run's answer this often */

/* ---- the images, collected, judged and pinned (pure) ---- */

/* text as a message shows it (outside text: one line, printable, bounded). */
static void shown(char *buf, size_t size, const char *text)
{
    (void)p4_text_clean(buf, size, text ? text : "", text ? strlen(text) : 0, 0);
}

static bool valid_ref(const char *image)
{
    struct p4_image_ref ref;
    struct p4_error err = {0};

    if (p4_image_ref_parse(image, &ref, &err) != 0)
        return false;
    p4_image_ref_close(&ref);
    return true;
}

static void add_secret_names(struct other_images *o, const cJSON *list)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, list) {
        const char *n = p4_json_str(it, "name");
        bool seen = false;
        if (n == NULL || n[0] == '\0')
            continue;
        for (size_t i = 0; i < o->nsecrets && !seen; i++)
            seen = strcmp(o->secrets[i], n) == 0;
        if (!seen && o->nsecrets < PULL_SECRETS_MAX)
            o->secrets[o->nsecrets++] = p4_strdup(n);
    }
}

struct collect {
    const char *repository;
    struct other_images *out;
};

static void collect_one(cJSON *obj, const char *field, cJSON *container, void *data)
{
    struct collect *c = data;
    struct other_images *o = c->out;
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(container, "image");
    const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");
    const char *cname = p4_json_str(container, "name");
    char where[3 * SHOWN];

    (void)field;
    if (!cJSON_IsString(image) || image->valuestring == NULL ||
        p4_pin_same_repository(image->valuestring, c->repository))
        return;
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->img[i].image, image->valuestring) == 0) {
            o->img[i].count++;
            return;
        }
    }
    if (o->n >= OTHER_IMAGES_MAX) {
        o->more++;
        return;
    }
    p4_text_format(where, sizeof(where), "%.*s %.*s, container %.*s", SHOWN, kind ? kind : "?",
                   SHOWN, name ? name : "?", SHOWN, cname ? cname : "?");
    o->img[o->n++] = (struct other_image){.image = p4_strdup(image->valuestring),
                                          .where = p4_strdup(where),
                                          .count = 1,
                                          .invalid = !valid_ref(image->valuestring)};
}

void p4_helm_collect_images(cJSON *objects, const char *repository, struct other_images *out)
{
    struct collect c = {.repository = repository, .out = out};
    cJSON *obj;

    memset(out, 0, sizeof(*out));
    cJSON_ArrayForEach(obj, objects) {
        cJSON *spec = p4_podspec_of(obj);
        if (!cJSON_IsObject(spec))
            continue;
        p4_podspec_each_container(obj, collect_one, &c);
        add_secret_names(out, cJSON_GetObjectItemCaseSensitive(spec, "imagePullSecrets"));
    }
}

void p4_helm_other_images_close(struct other_images *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->img[i].image);
        free(o->img[i].where);
    }
    for (size_t i = 0; i < o->nsecrets; i++)
        free(o->secrets[i]);
    memset(o, 0, sizeof(*o));
}

bool p4_helm_images_unfit(const struct other_images *o, struct failure *f, char *msg, size_t size)
{
    char image[SHOWN], where[3 * SHOWN];

    *f = (struct failure){.cls = P4_FAIL_ARTIFACT, .gate = G_IMAGES};
    for (size_t i = 0; i < o->n; i++) {
        if (!o->img[i].invalid)
            continue;
        shown(image, sizeof(image), o->img[i].image);
        shown(where, sizeof(where), o->img[i].where);
        f->reason = "InvalidImageReference";
        p4_text_format(msg, size,
                       "image \"%s\" (%s) is not an image reference a container runtime accepts; "
                       "change the chart's values for it",
                       image, where);
        return true;
    }
    if (o->more > 0) {
        f->reason = "TooManyImages";
        p4_text_format(msg, size,
                       "the chart runs more than %d distinct images besides the pinned one; the "
                       "Helm stage checks at most %d",
                       OTHER_IMAGES_MAX, OTHER_IMAGES_MAX);
        return true;
    }
    return false;
}

bool p4_helm_pinned_name(const char *image, const char *digest, char *buf, size_t size)
{
    size_t n = strcspn(image, "@"), slash = 0, colon = 0;
    int k;

    for (size_t i = 0; i < n; i++) {
        if (image[i] == '/')
            slash = i + 1;
        else if (image[i] == ':')
            colon = i + 1;
    }
    if (colon > slash) /* a ':' after the last '/' starts the tag; before it, a port */
        n = colon - 1;
    k = snprintf(buf, size, "%.*s@%s", (int)n, image, digest);
    if (k < 0 || (size_t)k >= size) {
        if (size > 0)
            buf[0] = '\0';
        return false;
    }
    return true;
}

struct pin_walk {
    const struct other_images *o;
    int changed;
};

static void pin_one(cJSON *obj, const char *field, cJSON *container, void *data)
{
    struct pin_walk *p = data;
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(container, "image");
    char pinned[1024];

    (void)obj;
    (void)field;
    if (!cJSON_IsString(image) || image->valuestring == NULL)
        return;
    for (size_t i = 0; i < p->o->n; i++) {
        const struct other_image *e = &p->o->img[i];
        if (strcmp(e->image, image->valuestring) != 0 || e->digest[0] == '\0')
            continue;
        if (p4_helm_pinned_name(e->image, e->digest, pinned, sizeof(pinned)) &&
            strcmp(pinned, e->image) != 0) {
            cJSON_ReplaceItemInObjectCaseSensitive(container, "image",
                                                   p4_json_need(cJSON_CreateString(pinned)));
            p->changed++;
        }
        return;
    }
}

int p4_helm_pin_others(cJSON *objects, const struct other_images *o)
{
    struct pin_walk p = {.o = o};
    cJSON *obj;

    cJSON_ArrayForEach(obj, objects) {
        p4_podspec_each_container(obj, pin_one, &p);
    }
    return p.changed;
}

/* The digest of n bytes at s (NULL: none) into out, for a fingerprint. */
static void part_digest(const void *s, size_t n, char out[P4_OCI_SHA256_DIGEST_SIZE])
{
    p4_oci_digest_of(s ? s : "", s ? n : 0, out);
}

static void str_digest(const char *s, char out[P4_OCI_SHA256_DIGEST_SIZE])
{
    part_digest(s, s ? strlen(s) : 0, out);
}

void p4_helm_image_key(const struct p4_image_ref *ref, const char *platforms,
                       const struct p4_registry_target *t, char *buf, size_t size)
{
    const struct p4_regauth_entry *c = t->cred;
    char parts[5][P4_OCI_SHA256_DIGEST_SIZE], all[6 * P4_OCI_SHA256_DIGEST_SIZE + 300];
    char fp[P4_OCI_SHA256_DIGEST_SIZE];

    /* Who asks and how the registry is reached decide the answer too; secrets only hashed. */
    str_digest(c ? c->username : NULL, parts[0]);
    str_digest(c ? c->password : NULL, parts[1]);
    str_digest(c ? c->identity_token : NULL, parts[2]);
    str_digest(c ? c->registry_token : NULL, parts[3]);
    part_digest(t->ca_pem, t->ca_len, parts[4]);
    (void)snprintf(all, sizeof(all), "%.256s|%d|%d|%s|%s|%s|%s|%s", t->host ? t->host : "",
                   t->insecure_http, c != NULL, parts[0], parts[1], parts[2], parts[3], parts[4]);
    p4_oci_digest_of(all, strlen(all), fp);
    p4_wipe(parts, sizeof(parts));
    p4_wipe(all, sizeof(all));
    (void)snprintf(buf, size, "%.200s/%.200s%s%.80s %.200s %.16s", ref->registry, ref->repository,
                   ref->digest ? "@" : ":", ref->digest ? ref->digest : ref->tag,
                   platforms ? platforms : "", fp + 7);
}

uint64_t p4_helm_image_ttl(const struct p4_image_ref *ref)
{
    return ref->digest ? P4_IMAGECACHE_DIGEST_TTL_MS : P4_IMAGECACHE_TAG_TTL_MS;
}

bool p4_helm_same_registry(const struct p4_image_ref *image, const char *repository)
{
    struct p4_image_ref own;
    struct p4_error err = {0};
    bool same;

    if (repository == NULL || p4_image_ref_parse(repository, &own, &err) != 0)
        return false;
    same = strcmp(own.registry, image->registry) == 0;
    p4_image_ref_close(&own);
    return same;
}

enum p4_failure_class p4_helm_image_class(enum p4_image_failure why)
{
    switch (why) {
    case P4_IMAGE_FAIL_AUTH:
    case P4_IMAGE_FAIL_TLS:
    case P4_IMAGE_FAIL_INSECURE: /* or the spec: https, or spec.image.insecure */
        return P4_FAIL_CLUSTER;  /* the pull secrets or the CA: a person fixes the cluster */
    case P4_IMAGE_FAIL_UNAVAILABLE:
        return P4_FAIL_TRANSIENT;
    default:
        return P4_FAIL_ARTIFACT; /* the image or the chart's values for it */
    }
}

/* "\"a\", \"b\"" for messages; "" when none. */
static void secret_list(char *const *names, size_t n, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        p4_text_format(buf + used, size - used, "%s\"%s\"", i ? ", " : "", names[i]);
        used = strlen(buf);
    }
}

struct failure p4_helm_image_failure(const struct p4_image_check *res,
                                     const struct other_image *img, const char *ns,
                                     const char *secret, char *const *wanted, size_t n, char *msg,
                                     size_t size)
{
    enum p4_image_failure why = p4_image_failure_of(res->rc, res->problem);
    char image[SHOWN], where[3 * SHOWN], hint[400], names[256];

    if (why == P4_IMAGE_FAIL_NONE) /* not a failure: the caller saw one all the same */
        why = P4_IMAGE_FAIL_INVALID;
    shown(image, sizeof(image), img->image);
    shown(where, sizeof(where), img->where);
    hint[0] = '\0';
    switch (why) {
    case P4_IMAGE_FAIL_AUTH:
        secret_list(wanted, n, names, sizeof(names));
        if (secret)
            p4_text_format(hint, sizeof(hint),
                           "; pull secret \"%s\" in namespace %s has the wrong credentials for "
                           "it, or no pull access",
                           secret, ns);
        else if (names[0])
            p4_text_format(hint, sizeof(hint),
                           "; none of the pull secrets in namespace %s (%s) has an entry for its "
                           "registry",
                           ns, names);
        else
            p4_text_format(hint, sizeof(hint),
                           "; namespace %s has no pull secret for it: list one in "
                           "spec.image.pullSecrets or the pod template's imagePullSecrets",
                           ns);
        break;
    case P4_IMAGE_FAIL_NOT_FOUND:
        p4_text_format(hint, sizeof(hint), "; push it, or change the chart's values for it");
        break;
    case P4_IMAGE_FAIL_PLATFORM:
        p4_text_format(hint, sizeof(hint),
                       "; use an image built for the platforms the nodes run, or change the "
                       "chart's values for it");
        break;
    default:
        break;
    }
    p4_text_format(msg, size, "image %s (%s): %s%s", image, where,
                   res->err.message[0] ? res->err.message : p4_strerror(res->rc), hint);
    return (struct failure){
        .cls = p4_helm_image_class(why), .gate = G_IMAGES, .reason = p4_image_failure_reason(why)};
}

void p4_helm_images_message(const struct other_images *o, bool pin_all, const char *repository,
                            char *buf, size_t size)
{
    char image[SHOWN], name[SHOWN + 40];
    size_t used;

    if (size == 0)
        return;
    if (o->n == 0) {
        shown(image, sizeof(image), repository);
        p4_text_format(buf, size, "the chart runs no image other than %s", image);
        return;
    }
    p4_text_format(buf, size, "%zu other image(s) checked pullable%s:", o->n,
                   pin_all ? " and pinned" : ", left as written (spec.image.pinAll is false)");
    for (size_t i = 0; i < o->n && i < SHOWN_IMAGES; i++) {
        const struct other_image *e = &o->img[i];
        char digest[32];
        /* "sha256:" and 12 hex digits name a digest well enough in a sentence. */
        p4_text_format(digest, sizeof(digest), "%.19s…", e->digest);
        used = strlen(buf);
        if (pin_all && p4_helm_pinned_name(e->image, digest, name, sizeof(name))) {
            shown(image, sizeof(image), name);
            p4_text_format(buf + used, size - used, "%s %s", i ? "," : "", image);
        } else {
            shown(image, sizeof(image), e->image);
            p4_text_format(buf + used, size - used, "%s %s (%s)", i ? "," : "", image, digest);
        }
    }
    used = strlen(buf);
    if (o->n > SHOWN_IMAGES)
        p4_text_format(buf + used, size - used, " and %zu more", o->n - SHOWN_IMAGES);
}

bool p4_helm_pull_secret_failure(int rc, bool from_spec, bool has_payload, struct failure *f)
{
    *f = (struct failure){.cls = P4_FAIL_CLUSTER, .gate = G_IMAGES};
    if (rc == 0) {
        f->reason = "PullSecretInvalid";
        return !has_payload;
    }
    if (rc == P4_ERR_NOTFOUND) {
        f->reason = "PullSecretNotFound";
        return from_spec; /* a pod template's missing secret is skipped, as a kubelet does */
    }
    f->cls = p4_kube_read_class(rc);
    f->reason = rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable";
    return true;
}

/* ---- S_IMAGES: the images collected; pull secrets, CA and platforms read ---- */

void p4_helm_image_work_free(struct image_work *iw)
{
    if (iw == NULL)
        return;
    p4_helm_other_images_close(&iw->imgs);
    for (size_t i = 0; i < iw->nwanted; i++) {
        free(iw->wanted[i]);
        p4_wipe_free(iw->payload[i], iw->payload_len[i]);
    }
    p4_regauth_close(&iw->auth); /* wipes the credentials */
    free(iw->ca);
    p4_image_ref_close(&iw->ref);
    free(iw->report);
    free(iw);
}

static void add_wanted(struct image_work *iw, const char *name, bool from_spec)
{
    for (size_t i = 0; i < iw->nwanted; i++) {
        if (strcmp(iw->wanted[i], name) == 0)
            return;
    }
    if (iw->nwanted < PULL_SECRETS_MAX) {
        iw->wanted_from_spec[iw->nwanted] = from_spec;
        iw->wanted[iw->nwanted++] = p4_strdup(name);
    }
}

static void add_platform(struct image_work *iw, const char *os, const char *arch,
                         const char *variant)
{
    for (size_t i = 0; i < iw->nplatforms; i++) {
        if (strcmp(iw->platforms[i][0], os) == 0 && strcmp(iw->platforms[i][1], arch) == 0 &&
            strcmp(iw->platforms[i][2], variant) == 0)
            return;
    }
    if (iw->nplatforms < PLATFORMS_MAX && strlen(os) < P4_OCI_PLATFORM_PART_MAX &&
        strlen(arch) < P4_OCI_PLATFORM_PART_MAX && strlen(variant) < P4_OCI_PLATFORM_PART_MAX) {
        (void)snprintf(iw->platforms[iw->nplatforms][0], P4_OCI_PLATFORM_PART_MAX, "%s", os);
        (void)snprintf(iw->platforms[iw->nplatforms][1], P4_OCI_PLATFORM_PART_MAX, "%s", arch);
        (void)snprintf(iw->platforms[iw->nplatforms][2], P4_OCI_PLATFORM_PART_MAX, "%s", variant);
        iw->nplatforms++;
    }
}

/* Platforms "os/arch[/variant]" separated by spaces into iw. */
static void add_platform_list(struct image_work *iw, const char *list)
{
    char os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX],
        variant[P4_OCI_PLATFORM_PART_MAX], one[3 * P4_OCI_PLATFORM_PART_MAX];

    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        (void)snprintf(one, sizeof(one), "%.*s", (int)n, p);
        if (p4_oci_parse_platform(one, os, arch, variant, NULL) == 0)
            add_platform(iw, os, arch, variant);
        p += n;
        while (*p == ' ')
            p++;
    }
}

struct secret_read {
    struct run *r;
    size_t i;
};

static void on_secret(struct p4_kube_result *res, void *data)
{
    struct secret_read *sr = data;
    struct run *r = (struct run *)p4_stagerun_back(sr->r);
    size_t i = sr->i;
    struct image_work *iw;
    struct failure f;
    struct p4_error e;
    const char *type;

    free(sr);
    if (r == NULL) {
        if (res->body)
            p4_secret_wipe(res->body);
        return;
    }
    iw = r->w->iw;
    if (res->rc == 0) {
        type = p4_json_str(res->body, "type");
        if (type && strcmp(type, P4_REGAUTH_DOCKERCONFIGJSON) == 0) {
            iw->payload[i] =
                p4_object_value(res->body, true, ".dockerconfigjson", &iw->payload_len[i]);
            iw->payload_type[i] = P4_REGAUTH_DOCKERCONFIGJSON;
        } else if (type && strcmp(type, P4_REGAUTH_DOCKERCFG) == 0) {
            iw->payload[i] = p4_object_value(res->body, true, ".dockercfg", &iw->payload_len[i]);
            iw->payload_type[i] = P4_REGAUTH_DOCKERCFG;
        }
        p4_secret_wipe(res->body);
    }
    if (p4_helm_pull_secret_failure(res->rc, iw->wanted_from_spec[i], iw->payload[i] != NULL, &f)) {
        if (res->rc == 0)
            p4_error_set(&e, P4_ERR_INVALID,
                         "pull secret \"%s\" in namespace %s is not of type %s (or %s) with its "
                         "data key; create it with kubectl create secret docker-registry",
                         iw->wanted[i], r->base.target_ns, P4_REGAUTH_DOCKERCONFIGJSON,
                         P4_REGAUTH_DOCKERCFG);
        else if (res->rc == P4_ERR_NOTFOUND)
            p4_error_set(&e, P4_ERR_NOTFOUND,
                         "pull secret \"%s\" (spec.image.pullSecrets) does not exist in namespace "
                         "%s, where the pods will pull from",
                         iw->wanted[i], r->base.target_ns);
        else
            p4_error_set(&e, res->rc, "pull secret \"%s\" in namespace %s: %s", iw->wanted[i],
                         r->base.target_ns, res->err.message);
        p4_stagerun_part_failed(&r->base, f.cls, f.gate, f.reason, &e);
    } else if (res->rc == P4_ERR_NOTFOUND) {
        p4_log(P4_LOG_DEBUG, "pull secret of a pod template is missing", "key", r->base.key,
               "secret", iw->wanted[i], P4_LOG_END);
    }
    p4_stagerun_part_done(&r->base, S_IMAGES_CHECK);
}

static void on_ca(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *kind, *name, *key;
    struct image_work *iw;
    bool secret;
    struct p4_error e;

    if (r == NULL)
        return;
    iw = r->w->iw;
    kind = p4_json_str(r->image, "caBundle.kind");
    name = p4_json_str(r->image, "caBundle.name");
    key = p4_json_str(r->image, "caBundle.key") ? p4_json_str(r->image, "caBundle.key") : "ca.crt";
    secret = kind && strcmp(kind, "Secret") == 0;
    if (res->rc == 0) {
        iw->ca = p4_object_value(res->body, secret, key, &iw->ca_len);
        if (secret)
            p4_secret_wipe(res->body);
        if (iw->ca == NULL) {
            p4_error_set(&e, P4_ERR_INVALID, "%s %s/%s (spec.image.caBundle) has no key \"%s\"",
                         kind ? kind : "ConfigMap", r->base.ns, name, key);
            p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_IMAGES, "CABundleInvalid", &e);
        }
    } else {
        p4_error_set(&e, res->rc, "%s %s/%s (spec.image.caBundle): %s", kind ? kind : "ConfigMap",
                     r->base.ns, name, res->err.message);
        p4_stagerun_part_failed(&r->base, p4_kube_read_class(res->rc), G_IMAGES,
                                res->rc == P4_ERR_NOTFOUND    ? "CABundleNotFound"
                                : res->rc == P4_ERR_FORBIDDEN ? "Forbidden"
                                                              : "APIUnavailable",
                                &e);
    }
    p4_stagerun_part_done(&r->base, S_IMAGES_CHECK);
}

static void on_nodes(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_helm_stage *h;
    struct image_work *iw;
    char list[PLATFORMS_MAX * 2 * P4_OCI_PLATFORM_PART_MAX];
    size_t used = 0;
    const cJSON *it;

    if (r == NULL)
        return;
    h = stage_of(r);
    iw = r->w->iw;
    if (res->rc != 0) {
        p4_stagerun_part_failed(&r->base, p4_kube_read_class(res->rc), G_IMAGES,
                                res->rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable",
                                &res->err);
        p4_stagerun_part_done(&r->base, S_IMAGES_CHECK);
        return;
    }
    list[0] = '\0';
    cJSON_ArrayForEach(it, p4_json_get(res->body, "items")) {
        const char *os = p4_json_str(it, "status.nodeInfo.operatingSystem");
        const char *arch = p4_json_str(it, "status.nodeInfo.architecture");
        size_t before = iw->nplatforms;
        if (os == NULL || arch == NULL || os[0] == '\0' || arch[0] == '\0' || strchr(os, ' ') ||
            strchr(os, '/') || strchr(arch, ' ') || strchr(arch, '/'))
            continue;
        add_platform(iw, os, arch, "");
        if (iw->nplatforms == before)
            continue;
        p4_text_format(list + used, sizeof(list) - used, "%s%s/%s", used ? " " : "", os, arch);
        used = strlen(list);
    }
    p4_node_platforms_put(h->cfg.nodes, list, uv_now(h->sr.loop));
    p4_stagerun_part_done(&r->base, S_IMAGES_CHECK);
}

/* The Nodes' platforms from a recent list (nodeplatforms.h), if any stage made one; false means:
   list them. */
static bool cached_node_platforms(struct run *r)
{
    const struct p4_helm_stage *h = stage_of(r);
    const char *list = p4_node_platforms_get(h->cfg.nodes, uv_now(h->sr.loop));

    if (list == NULL)
        return false;
    add_platform_list(r->w->iw, list);
    return r->w->iw->nplatforms > 0;
}

static int read_inputs(struct run *r)
{
    struct image_work *iw = r->w->iw;
    const char *kind, *name;
    char path[1024];
    int rc = 0;

    for (size_t i = 0; i < iw->nwanted; i++) {
        struct secret_read *sr = p4_calloc(1, sizeof(*sr));
        sr->r = r;
        sr->i = i;
        p4_core_path(path, sizeof(path), r->base.target_ns, "secrets", iw->wanted[i]);
        p4_stagerun_out(&r->base);
        if (p4_kube_request(r->base.kube, "GET", path, NULL, NULL, 0, on_secret, sr) != 0) {
            p4_stagerun_unout(&r->base);
            free(sr);
            rc = -1;
        }
    }
    kind = p4_json_str(r->image, "caBundle.kind");
    name = p4_json_str(r->image, "caBundle.name");
    if (name != NULL) {
        p4_core_path(path, sizeof(path), r->base.ns,
                     kind && strcmp(kind, "Secret") == 0 ? "secrets" : "configmaps", name);
        rc |= kube_send_as(r, "GET", path, on_ca);
    }
    if (iw->nplatforms == 0 && !cached_node_platforms(r))
        rc |= kube_send(r, "GET", "/api/v1/nodes", on_nodes);
    return rc;
}

/* r->images: the pinned image, then the others as the manifest now runs them. */
static void keep_images(struct run *r, const struct other_images *imgs)
{
    char name[1024];

    cJSON_Delete(r->images);
    r->images = p4_json_need(cJSON_CreateArray());
    (void)snprintf(name, sizeof(name), "%s@%s", r->pin.repository, r->pin.digest);
    cJSON_AddItemToArray(r->images, p4_json_need(cJSON_CreateString(name)));
    for (size_t i = 0; i < imgs->n; i++) {
        const struct other_image *e = &imgs->img[i];
        bool pinned = r->pin_all && p4_helm_pinned_name(e->image, e->digest, name, sizeof(name));
        cJSON_AddItemToArray(r->images, p4_json_need(cJSON_CreateString(pinned ? name : e->image)));
    }
}

void p4_helm_images(struct run *r)
{
    struct work *w = r->w;
    struct image_work *iw;
    struct failure f;
    char msg[P4_ERROR_MESSAGE_MAX], os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX],
        variant[P4_OCI_PLATFORM_PART_MAX];
    const cJSON *it;

    p4_helm_image_work_free(w->iw);
    w->iw = iw = p4_calloc(1, sizeof(*iw));
    p4_regauth_init(&iw->auth);
    p4_helm_collect_images(w->objects, r->pin.repository, &iw->imgs);
    if (p4_helm_images_unfit(&iw->imgs, &f, msg, sizeof(msg))) {
        p4_stagerun_failf(&r->base, f.cls, f.gate, f.reason, "%s", msg);
        return;
    }
    if (iw->imgs.n == 0) {
        r->nimages = 0;
        keep_images(r, &iw->imgs);
        p4_helm_images_message(&iw->imgs, r->pin_all, r->pin.repository, msg, sizeof(msg));
        p4_stagerun_gate(&r->base, G_IMAGES, "True", "NoOtherImages", "%s", msg);
        p4_stagerun_next(&r->base, S_DRYRUN);
        return;
    }
    if (stage_of(r)->cfg.registry == NULL) {
        p4_stagerun_failf(&r->base, P4_FAIL_CLUSTER, G_IMAGES, "RegistryUnavailable",
                          "the operator has no registry client, so the chart's other images "
                          "cannot be checked");
        return;
    }
    p4_stagerun_gate(&r->base, G_IMAGES, "Unknown", "Checking", "checking %zu other image(s)",
                     iw->imgs.n);
    cJSON_ArrayForEach(it, p4_json_get(r->image, "pullSecrets")) {
        const char *n = p4_json_str(it, "name");
        if (n && n[0])
            add_wanted(iw, n, true);
    }
    for (size_t i = 0; i < iw->imgs.nsecrets; i++)
        add_wanted(iw, iw->imgs.secrets[i], false);
    cJSON_ArrayForEach(it, p4_json_get(r->image, "platforms")) {
        if (cJSON_IsString(it) &&
            p4_oci_parse_platform(it->valuestring, os, arch, variant, NULL) == 0)
            add_platform(iw, os, arch, variant);
    }
    r->base.pending = 1; /* held while the requests go out */
    if (read_inputs(r) != 0) {
        struct p4_error err;
        p4_error_set(&err, P4_ERR_INTERNAL,
                     "cannot ask the API server for the pull secrets, CA and platforms the "
                     "chart's other images are checked with");
        p4_stagerun_part_failed(&r->base, P4_FAIL_TRANSIENT, G_IMAGES, "APIUnavailable", &err);
    }
    p4_stagerun_part_done(&r->base, S_IMAGES_CHECK);
}

/* ---- scan scope all: the other images' reports (pure) ---- */

bool p4_helm_scan_verdict(const struct other_image *img, const char *body, size_t len, int max,
                          char *msg, size_t size, struct failure *f)
{
    struct p4_scan_summary sum;
    struct p4_error err = {0};
    char image[SHOWN], verdict[P4_ERROR_MESSAGE_MAX - SHOWN - 64];

    shown(image, sizeof(image), img->image);
    if (p4_scan_parse(body, len, &sum, &err) != 0) {
        *f = (struct failure){
            .cls = P4_FAIL_ARTIFACT, .gate = G_IMAGES, .reason = "ScanReportInvalid"};
        p4_text_format(msg, size, "image %s (%s): its scan report cannot be read: %s", image,
                       img->where, err.message);
        return false;
    }
    if (p4_scan_over(&sum, (enum p4_severity)max, verdict, sizeof(verdict)) > 0) {
        *f = (struct failure){
            .cls = P4_FAIL_ARTIFACT, .gate = G_IMAGES, .reason = "VulnerabilitiesFound"};
        p4_text_format(msg, size, "image %s (%s): %s", image, img->where, verdict);
        return false;
    }
    return true;
}

bool p4_helm_no_report_verdict(const struct other_image *img, bool required, char *msg, size_t size,
                               struct failure *f)
{
    char image[SHOWN];

    if (!required)
        return true;
    shown(image, sizeof(image), img->image);
    *f = (struct failure){.cls = P4_FAIL_ARTIFACT, .gate = G_IMAGES, .reason = "ScanReportMissing"};
    p4_text_format(msg, size,
                   "image %s (%s) has no scan report attached in its registry, and "
                   "spec.image.scan.required is true with scope all: scan it and attach the "
                   "report, or set spec.image.scan.scope to image",
                   image, img->where);
    return false;
}

/* ---- S_IMAGES_CHECK: each image resolved and checked, one platform at a time ---- */

static void check_next(struct run *r);
static void scan_image(struct run *r);
static void on_check_timer(uv_timer_t *t);

/* Add the payloads read to iw->auth in order (the first match wins); 0, or the run failed. */
static int use_secrets(struct run *r)
{
    struct image_work *iw = r->w->iw;
    struct p4_error err = {0}, e = {0};
    int rc = 0;

    for (size_t i = 0; i < iw->nwanted && rc == 0; i++) {
        if (iw->payload[i] == NULL)
            continue;
        iw->secret_of[iw->auth.secrets] = i;
        if (p4_regauth_add_secret(&iw->auth, iw->payload_type[i], (const char *)iw->payload[i],
                                  iw->payload_len[i], &err) != 0) {
            p4_error_set(&e, P4_ERR_INVALID, "pull secret \"%s\" in namespace %s: %s",
                         iw->wanted[i], r->base.target_ns, err.message);
            rc = P4_ERR_INVALID;
        }
    }
    for (size_t i = 0; i < iw->nwanted; i++) {
        p4_wipe_free(iw->payload[i], iw->payload_len[i]);
        iw->payload[i] = NULL;
    }
    p4_regauth_redact(&iw->auth, p4_stagerun_secrets(&r->base));
    iw->auth_ready = true;
    if (rc != 0)
        p4_stagerun_fail(&r->base, P4_FAIL_CLUSTER, G_IMAGES, "PullSecretInvalid", &e);
    return rc;
}

/* "linux/amd64 linux/arm64": the platforms checked, for the cache key. */
static void platform_list(const struct image_work *iw, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < iw->nplatforms; i++) {
        p4_text_format(buf + used, size - used, "%s%s/%s%s%s", i ? " " : "", iw->platforms[i][0],
                       iw->platforms[i][1], iw->platforms[i][2][0] ? "/" : "", iw->platforms[i][2]);
        used = strlen(buf);
    }
}

/* Where and how image img is asked for: iw's ref, host, target and cache key. */
static void prepare(struct run *r, const struct other_image *img)
{
    struct image_work *iw = r->w->iw;
    const struct p4_regauth_entry *cred = NULL;
    char ref[600], platforms[PLATFORMS_MAX * 3 * P4_OCI_PLATFORM_PART_MAX];
    bool insecure = false, own;

    p4_image_ref_close(&iw->ref);
    (void)p4_image_ref_parse(img->image, &iw->ref, NULL); /* S_IMAGES checked that it parses */
    p4_image_registry_host(iw->ref.registry, iw->host, sizeof(iw->host));
    own = p4_helm_same_registry(&iw->ref, r->pin.repository);
    (void)p4_json_bool(r->image, "insecure", &insecure);
    (void)snprintf(ref, sizeof(ref), "%s/%s", iw->ref.registry, iw->ref.repository);
    iw->target = (struct p4_registry_target){
        .host = iw->host,
        .insecure_http = own && insecure,
        .ca_pem = own ? iw->ca : NULL,
        .ca_len = own ? iw->ca_len : 0,
        .cred = p4_regauth_lookup(&iw->auth, ref, &cred, NULL) == 0 ? cred : NULL,
    };
    platform_list(iw, platforms, sizeof(platforms));
    p4_helm_image_key(&iw->ref, platforms, &iw->target, iw->key, sizeof(iw->key));
}

static void check_platform(struct run *r);

static void on_checked(const struct p4_image_check *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_helm_stage *h;
    struct image_work *iw;
    struct other_image *img;
    char msg[P4_ERROR_MESSAGE_MAX];

    if (r == NULL)
        return;
    h = stage_of(r);
    iw = r->w->iw;
    img = &iw->imgs.img[iw->img_i];
    if (res->rc != 0) {
        const char *secret =
            iw->target.cred ? iw->wanted[iw->secret_of[iw->target.cred->secret]] : NULL;
        p4_imagecache_answered(&h->images, iw->key);
        struct failure f = p4_helm_image_failure(res, img, r->base.target_ns, secret, iw->wanted,
                                                 iw->nwanted, msg, sizeof(msg));
        if (f.cls == P4_FAIL_TRANSIENT)
            r->base.retry_after_ms = res->retry_after_ms;
        p4_stagerun_failf(&r->base, f.cls, f.gate, f.reason, "%s", msg);
        return;
    }
    if (img->digest[0] == '\0') /* later platforms are checked at this digest, not the tag */
        (void)snprintf(img->digest, sizeof(img->digest), "%s", res->digest);
    r->base.transient_n = 0;
    if (++iw->platform_i < iw->nplatforms) {
        check_platform(r);
        return;
    }
    p4_imagecache_put(&h->images, iw->key, img->digest, p4_helm_image_ttl(&iw->ref),
                      uv_now(h->sr.loop));
    p4_imagecache_answered(&h->images, iw->key);
    if (r->scan_all && img->digest[0] != '\0') { /* its report next, then the next image */
        iw->scanned = false;
        scan_image(r);
        return;
    }
    iw->img_i++;
    check_next(r);
}

static void check_platform(struct run *r)
{
    struct image_work *iw = r->w->iw;
    const struct other_image *img = &iw->imgs.img[iw->img_i];
    const char *reference = img->digest[0]   ? img->digest
                            : iw->ref.digest ? iw->ref.digest
                                             : iw->ref.tag;
    char(*p)[P4_OCI_PLATFORM_PART_MAX] = iw->platforms[iw->platform_i];

    r->base.inflight++;
    if (p4_image_check(stage_of(r)->cfg.registry, &iw->target, iw->ref.repository, reference, p[0],
                       p[1], p[2], on_checked, r) != 0) {
        char image[SHOWN];
        r->base.inflight--;
        shown(image, sizeof(image), img->image);
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_IMAGES, "InvalidImageReference",
                          "cannot ask registry %s for image %s (%s)", iw->host, image, img->where);
    }
}

/* ---- scan scope all: img_i's report, from its registry (OCI referrers) ---- */

static void scan_done(struct run *r, bool ok, const char *msg, const struct failure *f)
{
    struct image_work *iw = r->w->iw;

    free(iw->report);
    iw->report = NULL;
    if (!ok) {
        p4_stagerun_failf(&r->base, f->cls, f->gate, f->reason, "%s", msg);
        return;
    }
    iw->scanned = true;
    p4_stagerun_arm(&r->base, 0, on_check_timer); /* the next image, on the next loop turn */
}

/* A registry answer that is trouble, not an absence: transient, waited out. */
static bool scan_trouble(struct run *r, const struct p4_registry_answer *a)
{
    struct p4_error e = a->err;

    if (a->rc == 0 || a->rc == P4_ERR_NOTFOUND || a->rc == P4_ERR_METHOD)
        return false;
    r->base.retry_after_ms = a->retry_after_ms;
    p4_stagerun_fail(&r->base, P4_FAIL_TRANSIENT, G_IMAGES, "RegistryUnavailable", &e);
    return true;
}

static void no_report(struct run *r)
{
    struct image_work *iw = r->w->iw;
    char msg[P4_ERROR_MESSAGE_MAX];
    struct failure f;
    bool ok =
        p4_helm_no_report_verdict(&iw->imgs.img[iw->img_i], r->scan_required, msg, sizeof(msg), &f);

    scan_done(r, ok, msg, &f);
}

static void on_scan_blob(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct image_work *iw;
    char msg[P4_ERROR_MESSAGE_MAX];
    struct failure f;
    bool ok;

    if (r == NULL || scan_trouble(r, a))
        return;
    iw = r->w->iw;
    if (a->rc != 0) {
        no_report(r);
        return;
    }
    ok = p4_helm_scan_verdict(&iw->imgs.img[iw->img_i], a->body, a->len, r->scan_max, msg,
                              sizeof(msg), &f);
    if (ok)
        iw->reports++;
    scan_done(r, ok, msg, &f);
}

static void on_scan_manifest(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_oci_manifest *m = NULL;
    struct image_work *iw;

    if (r == NULL || scan_trouble(r, a))
        return;
    iw = r->w->iw;
    if (a->rc != 0 || p4_oci_manifest_parse(a->body, a->len, a->media_type, &m, NULL) != 0 ||
        m->kind != P4_OCI_IMAGE || m->layers_len == 0) {
        p4_oci_manifest_free(m);
        no_report(r);
        return;
    }
    r->base.inflight++;
    if (p4_registry_blob_get(stage_of(r)->cfg.registry, &iw->target, iw->ref.repository,
                             m->layers[0].digest, on_scan_blob, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
    p4_oci_manifest_free(m);
}

/* An index of referrers (the API's answer or the fallback tag): read its first scan report. */
static void use_referrers(struct run *r, const struct p4_registry_answer *a)
{
    struct image_work *iw = r->w->iw;

    free(iw->report);
    iw->report = p4_oci_pick_referrer(a->body, a->len, p4_scan_report_type);
    if (iw->report == NULL) {
        no_report(r);
        return;
    }
    r->base.inflight++;
    if (p4_registry_manifest(stage_of(r)->cfg.registry, &iw->target, iw->ref.repository, iw->report,
                             on_scan_manifest, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
}

static void on_scan_tag(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL || scan_trouble(r, a))
        return;
    if (a->rc == 0)
        use_referrers(r, a);
    else
        no_report(r);
}

static void on_scan_referrers(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct image_work *iw;
    char tag[80];

    if (r == NULL || scan_trouble(r, a))
        return;
    iw = r->w->iw;
    if (a->rc == 0) {
        use_referrers(r, a);
        return;
    }
    /* No referrers API (distribution 2.x): the OCI 1.1 fallback tag "sha256-<hex>". */
    p4_text_format(tag, sizeof(tag), "sha256-%s", iw->imgs.img[iw->img_i].digest + 7);
    r->base.inflight++;
    if (p4_registry_manifest(stage_of(r)->cfg.registry, &iw->target, iw->ref.repository, tag,
                             on_scan_tag, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
}

static void scan_image(struct run *r)
{
    struct image_work *iw = r->w->iw;

    r->base.inflight++;
    if (p4_registry_referrers(stage_of(r)->cfg.registry, &iw->target, iw->ref.repository,
                              iw->imgs.img[iw->img_i].digest, on_scan_referrers, r) != 0) {
        r->base.inflight--;
        no_report(r);
    }
}

/* Every image checked: pin them (spec.image.pinAll), print the manifest again, pass. */
static void images_done(struct run *r)
{
    struct work *w = r->w;
    struct image_work *iw = w->iw;
    char msg[P4_ERROR_MESSAGE_MAX];
    size_t len = 0;
    char *text;

    if (r->pin_all && p4_helm_pin_others(w->objects, &iw->imgs) > 0) {
        text = p4_helm_print_manifest(w->objects, &len);
        if (text == NULL) {
            p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_IMAGES, "ManifestNotStored",
                              "cannot print the manifest with the other images pinned");
            return;
        }
        free(w->manifest);
        w->manifest = text;
        w->manifest_len = len;
    }
    r->nimages = (int)iw->imgs.n;
    keep_images(r, &iw->imgs);
    p4_helm_images_message(&iw->imgs, r->pin_all, r->pin.repository, msg, sizeof(msg));
    if (r->scan_all) { /* spec.image.scan.scope all */
        size_t used = strlen(msg);
        p4_text_format(msg + used, sizeof(msg) - used,
                       "; %d of them with a scan report under %s, the rest not scanned%s",
                       iw->reports, p4_severity_name((enum p4_severity)r->scan_max),
                       r->scan_required ? "" : " (spec.image.scan.required is false)");
    }
    p4_stagerun_gate(&r->base, G_IMAGES, "True", "ImagesPullable", "%s", msg);
    p4_stagerun_next(&r->base, S_DRYRUN);
}

static void check_next(struct run *r)
{
    struct p4_helm_stage *h = stage_of(r);
    struct image_work *iw = r->w->iw;
    uint64_t now = uv_now(h->sr.loop);
    const char *digest;

    if (iw->scanned) { /* img_i's report was judged (scope all): on to the next image */
        iw->scanned = false;
        iw->img_i++;
    }
    for (; iw->img_i < iw->imgs.n; iw->img_i++) {
        struct other_image *img = &iw->imgs.img[iw->img_i];
        prepare(r, img);
        if ((digest = p4_imagecache_get(&h->images, iw->key, now)) == NULL)
            break;
        (void)snprintf(img->digest, sizeof(img->digest), "%s", digest);
        if (r->scan_all) { /* known pullable: its report next */
            scan_image(r);
            return;
        }
    }
    if (iw->img_i >= iw->imgs.n) {
        images_done(r);
        return;
    }
    if (p4_imagecache_is_asked(&h->images, iw->key, now)) {
        /* Another run is asking the registry this now: take its answer from the cache. */
        p4_stagerun_arm(&r->base, ASKED_POLL_MS, on_check_timer);
        return;
    }
    p4_imagecache_asking(&h->images, iw->key, now);
    p4_imagecache_checked(&h->images);
    iw->platform_i = 0;
    check_platform(r);
}

static void on_check_timer(uv_timer_t *t)
{
    check_next((struct run *)t->data);
}

void p4_helm_check_images(struct run *r)
{
    struct image_work *iw = r->w->iw;

    if (!iw->auth_ready && use_secrets(r) != 0)
        return;
    if (iw->nplatforms == 0) {
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_IMAGES, "NoNodes",
                          "no Node reports its platform yet, so the chart's other images cannot "
                          "be checked; waiting for nodes");
        return;
    }
    check_next(r);
}
