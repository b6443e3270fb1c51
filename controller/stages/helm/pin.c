/* stages/helm/pin.c: the checked image written into the rendered pod templates (see pin.h). */
#include "pin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/kube/podspec.h"
#include "phase4/oci/imageref.h"

#define SHOWN 160      /* an image or a place shown in a message */
#define SHOWN_IMAGES 6 /* images a message names */

/* Registry and repository of ref, normalised; false (nothing to free) when it is no reference. */
static bool parse(const char *ref, struct p4_image_ref *out)
{
    struct p4_error err = {0};

    return p4_image_ref_parse(ref, out, &err) == 0;
}

static bool same(const struct p4_image_ref *a, const struct p4_image_ref *b)
{
    return strcmp(a->registry, b->registry) == 0 && strcmp(a->repository, b->repository) == 0;
}

bool p4_pin_same_repository(const char *image, const char *repository)
{
    struct p4_image_ref a, b;
    bool eq = false;

    if (!parse(image, &a))
        return false;
    if (parse(repository, &b)) {
        eq = same(&a, &b);
        p4_image_ref_close(&b);
    }
    p4_image_ref_close(&a);
    return eq;
}

struct walk {
    struct p4_image_ref want;
    char *pinned; /* "<repository>@<digest>" */
    struct p4_pin_report *rep;
};

/* The report's entry for image (added when new and there is room), or NULL. */
static struct p4_pin_image *entry(struct p4_pin_report *rep, const char *image, const cJSON *obj,
                                  const cJSON *container)
{
    const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");
    const char *cname = p4_json_str(container, "name");
    struct p4_pin_image *e;
    char where[3 * SHOWN];

    for (size_t i = 0; i < rep->nimages; i++) {
        if (strcmp(rep->images[i].image, image) == 0)
            return &rep->images[i];
    }
    if (rep->nimages >= P4_PIN_IMAGES_MAX) {
        rep->more++;
        return NULL;
    }
    e = &rep->images[rep->nimages++];
    e->image = p4_strdup(image);
    p4_text_format(where, sizeof(where), "%.*s %.*s, container %.*s", SHOWN, kind ? kind : "?",
                   SHOWN, name ? name : "?", SHOWN, cname ? cname : "?");
    e->where = p4_strdup(where);
    return e;
}

static void visit(cJSON *obj, const char *field, cJSON *container, void *data)
{
    struct walk *w = data;
    cJSON *image = cJSON_GetObjectItemCaseSensitive(container, "image");
    struct p4_pin_image *e;
    struct p4_image_ref ref;
    bool valid, match = false;

    (void)field;
    w->rep->containers++;
    if (!cJSON_IsString(image) || image->valuestring == NULL)
        return;
    valid = parse(image->valuestring, &ref);
    if (valid) {
        match = same(&ref, &w->want);
        p4_image_ref_close(&ref);
    }
    e = entry(w->rep, image->valuestring, obj, container);
    if (e != NULL) {
        e->count++;
        e->pinned = match;
        e->invalid = !valid;
    }
    if (!match)
        return;
    w->rep->pinned++;
    if (strcmp(image->valuestring, w->pinned) != 0) {
        w->rep->rewritten++;
        cJSON_ReplaceItemInObjectCaseSensitive(container, "image",
                                               p4_json_need(cJSON_CreateString(w->pinned)));
    }
}

int p4_pin_rewrite(cJSON *objects, const char *repository, const char *digest,
                   struct p4_pin_report *rep, struct p4_error *err)
{
    struct walk w = {.rep = rep};
    struct p4_image_ref d;
    size_t n;
    cJSON *obj;

    memset(rep, 0, sizeof(*rep));
    if (repository == NULL || digest == NULL || p4_image_ref_parse(repository, &w.want, err) != 0)
        return p4_error_set(err, P4_ERR_INVAL, "the image repository to pin is not valid");
    if (strchr(repository, '@') != NULL ||
        strchr(strrchr(repository, '/') ? strrchr(repository, '/') : repository, ':') != NULL) {
        /* a tag or digest in the repository (a ':' after the last '/' is no port) */
        p4_image_ref_close(&w.want);
        return p4_error_set(err, P4_ERR_INVAL, "the image repository to pin has a tag");
    }
    n = strlen(repository) + strlen(digest) + 2;
    w.pinned = p4_malloc(n);
    (void)snprintf(w.pinned, n, "%s@%s", repository, digest);
    if (!parse(w.pinned, &d) || d.digest == NULL || w.want.digest != NULL) {
        p4_image_ref_close(&d);
        p4_image_ref_close(&w.want);
        free(w.pinned);
        return p4_error_set(err, P4_ERR_INVAL, "the digest to pin is not valid");
    }
    p4_image_ref_close(&d);
    cJSON_ArrayForEach(obj, objects) {
        p4_podspec_each_container(obj, visit, &w);
    }
    p4_image_ref_close(&w.want);
    free(w.pinned);
    return 0;
}

/* Is image exactly "<repository>@<digest>"? */
static bool is_pinned(const char *image, const char *repository, const char *digest)
{
    size_t n = strlen(repository);

    return strncmp(image, repository, n) == 0 && image[n] == '@' &&
           strcmp(image + n + 1, digest) == 0;
}

/* A hint for image: the pinned repository is its whole name behind a prefix of the chart's. */
static bool prefixed(const char *image, const char *repository)
{
    const char *p = strstr(image, repository);
    char end;

    if (p == NULL || p == image || p[-1] != '/')
        return false;
    end = p[strlen(repository)];
    return end == '\0' || end == ':' || end == '@';
}

bool p4_pin_message(const struct p4_pin_report *rep, const char *repository, const char *digest,
                    char *buf, size_t size)
{
    char shown[SHOWN], place[3 * SHOWN];
    size_t used, named = 0;
    bool hint = false;

    if (size == 0)
        return rep->pinned > 0;
    if (rep->pinned > 0) {
        p4_text_format(buf, size, "%d of %d container(s) run %s@%s", rep->pinned, rep->containers,
                       repository, digest);
        for (size_t i = 0; i < rep->nimages && named < SHOWN_IMAGES; i++) {
            const struct p4_pin_image *e = &rep->images[i];
            if (!e->pinned || is_pinned(e->image, repository, digest))
                continue;
            used = strlen(buf);
            (void)p4_text_clean(shown, sizeof(shown), e->image, strlen(e->image), 0);
            (void)p4_text_clean(place, sizeof(place), e->where, strlen(e->where), 0);
            p4_text_format(buf + used, size - used, "%s %s (%s)",
                           named == 0 ? "; rewritten from" : ",", shown, place);
            named++;
        }
        return true;
    }
    if (rep->nimages == 0) {
        p4_text_format(buf, size,
                       "the chart runs no container (no Pod, Deployment, StatefulSet, DaemonSet, "
                       "ReplicaSet, Job or CronJob), so nothing runs %s; the chart or the spec "
                       "must change",
                       repository);
        return false;
    }
    p4_text_format(buf, size, "no container runs %s; the chart runs", repository);
    for (size_t i = 0; i < rep->nimages; i++) {
        const struct p4_pin_image *e = &rep->images[i];
        hint = hint || prefixed(e->image, repository);
        if (i >= SHOWN_IMAGES)
            continue;
        used = strlen(buf);
        (void)p4_text_clean(shown, sizeof(shown), e->image, strlen(e->image), 0);
        (void)p4_text_clean(place, sizeof(place), e->where, strlen(e->where), 0);
        p4_text_format(buf + used, size - used, "%s %s (%s%s)", i == 0 ? "" : ",", shown, place,
                       e->invalid ? ", not a valid image reference" : "");
    }
    used = strlen(buf);
    if (rep->more > 0) /* images past those kept: how many distinct ones is not known */
        p4_text_format(buf + used, size - used, " and more");
    else if (rep->nimages > SHOWN_IMAGES)
        p4_text_format(buf + used, size - used, " and %zu more", rep->nimages - SHOWN_IMAGES);
    used = strlen(buf);
    if (hint)
        p4_text_format(buf + used, size - used,
                       ". The chart puts a registry of its own before the repository: name the "
                       "values it builds its image from in spec.image.valuesPaths (e.g. "
                       "registry: image.registry, repository: image.repository)");
    else
        p4_text_format(buf + used, size - used,
                       ". Name the values the chart builds its image from in "
                       "spec.image.valuesPaths (registry, repository, tag, digest; e.g. "
                       "repository: controller.image.repository), or change the chart");
    return false;
}

void p4_pin_report_close(struct p4_pin_report *rep)
{
    for (size_t i = 0; i < rep->nimages; i++) {
        free(rep->images[i].image);
        free(rep->images[i].where);
    }
    memset(rep, 0, sizeof(*rep));
}
