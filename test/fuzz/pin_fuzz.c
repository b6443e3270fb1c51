/*
 * pin_fuzz.c: libFuzzer target for the image pin of the Helm stage (stages/helm/pin.h): what a
 * chart rendered, with the checked image written into its pod templates.
 *
 * Input layout: the first byte picks the repository (mod 6) and the digest (bit 7: sha512, else
 * sha256) to pin; the rest is parsed as JSON and, when it is an array, pinned as rendered objects.
 * The same rest, split at its first NUL, is an image and a repository to compare.
 *
 * Invariants: the pin is refused for none of the fixed repositories; the report adds up (pinned <=
 * containers, rewritten <= pinned, at most P4_PIN_IMAGES_MAX images kept, each seen, pinned only
 * when it names the repository and never when invalid); every container whose image names the
 * repository runs exactly "<repository>@<digest>" afterwards, and the containers whose image
 * changed are exactly the rewritten ones; a second pin changes nothing and finds as many pinned;
 * the gate's message is terminated in any buffer, writes nothing past it, holds no control byte
 * and passes exactly when something is pinned. Comparing repositories is symmetric, true of any
 * reference with itself, with itself pinned to a digest, and with its normalised name.
 *
 * The other images (steps.h, S_IMAGES): each collected once, none naming the repository; once
 * given a digest, every container running one of the valid ones runs "<name>@<digest>" after
 * p4_helm_pin_others, a second pass changes nothing, and the gate's message is terminated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/kube/podspec.h"
#include "phase4/oci/imageref.h"
#include "stages/helm/pin.h"
#include "stages/helm/steps.h"

#define SHA256 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA512                                                                                     \
    "sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"                      \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CONTAINERS_MAX 4096 /* containers compared one by one; past it, only counted */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const repositories[] = {
    "127.0.0.1:5000/phase4/app", "nginx",         "docker.io/team/app",
    "localhost:5000/x",          "ghcr.io/o/app", "registry.example.com/a/b/c",
};

/* The images of the containers, in the order p4_podspec_each_container gives them (borrowed). */
struct images {
    const char *image[CONTAINERS_MAX]; /* NULL: no image string */
    int n;
};

static void collect(cJSON *obj, const char *field, cJSON *container, void *data)
{
    struct images *im = data;
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(container, "image");

    (void)obj;
    (void)field;
    if (im->n < CONTAINERS_MAX)
        im->image[im->n] = cJSON_IsString(image) ? image->valuestring : NULL;
    im->n++;
}

static void collect_all(cJSON *objects, struct images *im)
{
    cJSON *obj;

    im->n = 0;
    cJSON_ArrayForEach(obj, objects) {
        p4_podspec_each_container(obj, collect, im);
    }
}

static bool parses(const char *ref)
{
    struct p4_image_ref r;
    struct p4_error err;
    bool ok = p4_image_ref_parse(ref, &r, &err) == 0;

    p4_image_ref_close(&r);
    return ok;
}

static void check_message(const struct p4_pin_report *rep, const char *repository,
                          const char *digest, size_t size)
{
    char buf[513];
    bool ok;

    if (size >= sizeof(buf))
        abort();
    memset(buf, 'x', sizeof(buf));
    ok = p4_pin_message(rep, repository, digest, buf, size);
    if (ok != (rep->pinned > 0) || memchr(buf, '\0', size) == NULL || buf[size] != 'x')
        abort();
    for (const char *s = buf; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            abort();
    }
}

static void check_report(const struct p4_pin_report *rep, const char *repository)
{
    int counted = 0;

    if (rep->containers < 0 || rep->pinned < 0 || rep->rewritten < 0 || rep->more < 0 ||
        rep->pinned > rep->containers || rep->rewritten > rep->pinned ||
        rep->nimages > P4_PIN_IMAGES_MAX || (rep->more > 0 && rep->nimages != P4_PIN_IMAGES_MAX))
        abort();
    for (size_t i = 0; i < rep->nimages; i++) {
        const struct p4_pin_image *e = &rep->images[i];

        if (e->image == NULL || e->where == NULL || e->count < 1 || (e->pinned && e->invalid) ||
            e->pinned != p4_pin_same_repository(e->image, repository) ||
            e->invalid != !parses(e->image))
            abort();
        for (size_t k = 0; k < i; k++) {
            if (strcmp(rep->images[k].image, e->image) == 0)
                abort(); /* distinct */
        }
        counted += e->count;
    }
    if (counted > rep->containers)
        abort();
}

static void fuzz_rewrite(cJSON *objects, const char *repository, const char *digest)
{
    static struct images before, after; /* large: not on the stack */
    struct p4_pin_report rep, again;
    struct p4_error err = {0};
    cJSON *copy = cJSON_Duplicate(objects, 1);
    char pinned[256];
    char *once, *twice;
    int changed = 0, naming = 0;

    if (copy == NULL)
        return;
    (void)snprintf(pinned, sizeof(pinned), "%s@%s", repository, digest);
    if (p4_pin_rewrite(objects, repository, digest, &rep, &err) != 0)
        abort();
    check_report(&rep, repository);

    /* what changed: exactly the rewritten containers, each now the pin */
    collect_all(copy, &before);
    collect_all(objects, &after);
    if (before.n != rep.containers || after.n != rep.containers)
        abort();
    for (int i = 0; i < after.n && i < CONTAINERS_MAX; i++) {
        const char *b = before.image[i], *a = after.image[i];

        if ((a == NULL) != (b == NULL))
            abort();
        if (a == NULL)
            continue;
        if (strcmp(a, b) != 0) {
            changed++;
            if (strcmp(a, pinned) != 0 || !p4_pin_same_repository(b, repository))
                abort();
        }
        if (p4_pin_same_repository(a, repository)) {
            naming++;
            if (strcmp(a, pinned) != 0)
                abort();
        }
    }
    if (rep.containers <= CONTAINERS_MAX && (changed != rep.rewritten || naming != rep.pinned))
        abort();

    check_message(&rep, repository, digest, 1);
    check_message(&rep, repository, digest, 64);
    check_message(&rep, repository, digest, 512);

    /* a second pin: nothing more to do */
    once = cJSON_PrintUnformatted(objects);
    if (p4_pin_rewrite(objects, repository, digest, &again, &err) != 0)
        abort();
    twice = cJSON_PrintUnformatted(objects);
    if (again.rewritten != 0 || again.pinned != rep.pinned || again.containers != rep.containers ||
        (once != NULL && twice != NULL && strcmp(once, twice) != 0))
        abort();
    check_report(&again, repository);
    cJSON_free(once);
    cJSON_free(twice);
    p4_pin_report_close(&again);
    p4_pin_report_close(&rep);
    if (rep.nimages != 0 || rep.images[0].image != NULL)
        abort();
    cJSON_Delete(copy);
}

/* The other images of objects, after the pin: collected, pinned, pinned again. */
static void fuzz_others(cJSON *objects, const char *repository)
{
    static struct other_images o; /* large: not on the stack */
    char msg[P4_ERROR_MESSAGE_MAX], name[1100];
    int changed;

    p4_helm_collect_images(objects, repository, &o);
    if (o.n > OTHER_IMAGES_MAX || o.nsecrets > PULL_SECRETS_MAX || o.more < 0)
        abort();
    for (size_t i = 0; i < o.n; i++) {
        if (o.img[i].count < 1 || p4_pin_same_repository(o.img[i].image, repository) ||
            o.img[i].invalid != !parses(o.img[i].image))
            abort();
        for (size_t k = 0; k < i; k++) {
            if (strcmp(o.img[k].image, o.img[i].image) == 0)
                abort();
        }
        if (!o.img[i].invalid)
            (void)snprintf(o.img[i].digest, sizeof(o.img[i].digest), "%s", SHA256);
    }
    changed = p4_helm_pin_others(objects, &o);
    if (changed < 0 || p4_helm_pin_others(objects, &o) != 0)
        abort();
    for (size_t i = 0; i < o.n; i++) {
        /* what was pinned is a reference, at the digest, to the same repository */
        if (o.img[i].invalid || !p4_helm_pinned_name(o.img[i].image, SHA256, name, sizeof(name)))
            continue;
        if (!parses(name) || !p4_pin_same_repository(name, o.img[i].image))
            abort();
    }
    p4_helm_images_message(&o, true, repository, msg, sizeof(msg));
    if (memchr(msg, '\0', sizeof(msg)) == NULL)
        abort();
    p4_helm_images_message(&o, false, repository, msg, 7);
    if (memchr(msg, '\0', 7) == NULL)
        abort();
    p4_helm_other_images_close(&o);
}

static void fuzz_same(const char *image, const char *repository)
{
    struct p4_image_ref r;
    struct p4_error err;
    bool same = p4_pin_same_repository(image, repository);
    char *joined;
    size_t n;

    if (same != p4_pin_same_repository(repository, image))
        abort();
    if (same && (!parses(image) || !parses(repository)))
        abort();
    if (p4_image_ref_parse(image, &r, &err) != 0) {
        if (p4_pin_same_repository(image, image))
            abort();
        return;
    }
    if (!p4_pin_same_repository(image, image))
        abort();
    /* the same reference pinned to a digest names the same repository */
    if (r.digest == NULL) {
        n = strlen(image) + sizeof("@" SHA256);
        joined = malloc(n);
        if (joined == NULL)
            abort();
        (void)snprintf(joined, n, "%s@%s", image, SHA256);
        if (!p4_pin_same_repository(joined, image))
            abort();
        free(joined);
    }
    /* its normalised name, when the registry still reads as one written back */
    if (strchr(r.registry, '.') != NULL || strchr(r.registry, ':') != NULL ||
        strcmp(r.registry, "localhost") == 0) {
        n = strlen(r.registry) + strlen(r.repository) + 2;
        joined = malloc(n);
        if (joined == NULL)
            abort();
        (void)snprintf(joined, n, "%s/%s", r.registry, r.repository);
        if (!p4_pin_same_repository(image, joined) || !p4_pin_same_repository(joined, image))
            abort();
        free(joined);
    }
    p4_image_ref_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *repository, *digest, *text, *nul;
    char *image, *other;
    size_t len, first;
    cJSON *objects;

    if (size < 1)
        return 0;
    repository = repositories[(data[0] & 0x7f) % (sizeof(repositories) / sizeof(repositories[0]))];
    digest = (data[0] & 0x80) ? SHA512 : SHA256;
    text = (const char *)data + 1;
    len = size - 1;

    objects = cJSON_ParseWithLength(text, len);
    if (cJSON_IsArray(objects)) {
        fuzz_rewrite(objects, repository, digest);
        fuzz_others(objects, repository);
    }
    cJSON_Delete(objects);

    nul = memchr(text, '\0', len);
    first = nul != NULL ? (size_t)(nul - text) : len;
    image = malloc(first + 1);
    other = malloc(len - first + 1);
    if (image == NULL || other == NULL)
        abort();
    memcpy(image, text, first);
    image[first] = '\0';
    if (nul != NULL)
        memcpy(other, nul + 1, len - first - 1);
    other[nul != NULL ? len - first - 1 : 0] = '\0';
    fuzz_same(image, other);
    fuzz_same(image, repository);
    free(image);
    free(other);
    return 0;
}
