/*
 * pin_test.c: the checked image written into rendered pod templates (stages/helm/pin.h): which
 * images name the pinned repository once both are normalised as the runtime does, which kinds
 * have a pod template, what is rewritten and what is only reported, the refusals, and the
 * ImagePinned gate's message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/kube/podspec.h"
#include "stages/helm/pin.h"
#include "testjson.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OTHER "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define REPO "127.0.0.1:5000/phase4/app"
#define PINNED REPO "@" DIGEST

/* The image of entry i of field in the pod spec at spec_path of object n of objects. */
static const char *image_at(const cJSON *objects, int n, const char *spec_path, const char *field,
                            int i)
{
    const cJSON *spec = p4_json_get(cJSON_GetArrayItem(objects, n), spec_path);
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(spec, field), i);

    return p4_json_str(c, "image");
}

/* objects printed, to compare before and after (caller frees). */
static char *printed(const cJSON *objects)
{
    char *text = cJSON_PrintUnformatted(objects);

    assert_non_null(text);
    return text;
}

/* ---- normalisation ---- */

static void same_repository_after_normalising(void **state)
{
    static const struct {
        const char *image, *repository;
        bool same;
    } cases[] = {
        {"nginx", "docker.io/library/nginx", true},
        {"docker.io/library/nginx", "nginx", true},
        {"index.docker.io/library/nginx:1.2", "nginx", true},
        {"index.docker.io/library/nginx:1.2", "docker.io/library/nginx", true},
        {"registry-1.docker.io/library/nginx@" OTHER, "nginx", true},
        {"library/nginx:1.25", "nginx", true},
        {"nginx:1.25@" OTHER, "nginx", true},
        {"team/app", "docker.io/team/app", true},
        {"docker.io/team/app:2", "team/app", true},
        {"ghcr.io/team/app", "team/app", false},
        {"nginx-exporter", "nginx", false},
        {"127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b", true},
        {"127.0.0.1:5000/a/b:1.0", "127.0.0.1:5000/a/b", true},
        {"127.0.0.1:5000/a/b@" OTHER, "127.0.0.1:5000/a/b", true},
        {"127.0.0.1/a/b", "127.0.0.1:5000/a/b", false},
        {"127.0.0.1:5001/a/b", "127.0.0.1:5000/a/b", false},
        {"127.0.0.1:5000/a/b/c", "127.0.0.1:5000/a/b", false},
        {"127.0.0.1:5000/a", "127.0.0.1:5000/a/b", false},
        {"localhost:5000/x", "localhost:5000/x", true},
        {"localhost:5000/x:dev", "localhost:5000/x", true},
        {"localhost/x", "localhost:5000/x", false},
        {"x", "localhost:5000/x", false},
        {"localhost/x", "localhost/x", true},
        {"REGISTRY.Example.COM/team/app:1.0", "registry.example.com/team/app", true},
        {"registry.example.com/team/app", "Registry.Example.com/team/app", true},
        {"registry.example.com/team/app2", "registry.example.com/team/app", false},
        {"registry.example.com/Team/app", "registry.example.com/team/app", false}, /* invalid */
        {"Nginx", "nginx", false},                                                 /* invalid */
        {"docker.io/127.0.0.1:5000/phase4/app:1.0", REPO, false},                  /* invalid */
        {"", "nginx", false},
        {"nginx", "", false},
        {"nginx:", "nginx", false},
        {"nginx@sha256:abc", "nginx", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (p4_pin_same_repository(cases[i].image, cases[i].repository) != cases[i].same)
            fail_msg("case %zu: %s vs %s: want %s", i, cases[i].image, cases[i].repository,
                     cases[i].same ? "same" : "different");
    }
    assert_false(p4_pin_same_repository(NULL, "nginx"));
    assert_false(p4_pin_same_repository("nginx", NULL));
    assert_false(p4_pin_same_repository(NULL, NULL));
}

/* ---- which containers: kinds and fields ---- */

struct seen {
    char log[1024];
};

static void record(cJSON *obj, const char *field, cJSON *container, void *data)
{
    struct seen *s = data;
    size_t used = strlen(s->log);

    (void)snprintf(s->log + used, sizeof(s->log) - used, "%s%s:%s:%s", used ? " " : "",
                   p4_json_str(obj, "kind"), field, p4_json_str(container, "name"));
}

static void each_container_of_a_pod_template(void **state)
{
    cJSON *objects = test_json(
        "[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
        "'ephemeralContainers':[{'name':'e'}],'containers':[{'name':'a'},'odd',{'name':'b'}],"
        "'initContainers':[{'name':'i'}]}},"
        "{'apiVersion':'batch/v1','kind':'CronJob','metadata':{'name':'c'},'spec':{'jobTemplate':"
        "{'spec':{'template':{'spec':{'containers':[{'name':'j'}]}}}}}},"
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d'},"
        "'spec':{'replicas':1}},"
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d'},"
        "'spec':{'template':{'spec':'text'}}},"
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d'},"
        "'spec':{'template':{'spec':{'containers':'text'}}}},"
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d'},'spec':'text'},"
        "{'apiVersion':'apps/v1','metadata':{'name':'nokind'},"
        "'spec':{'template':{'spec':{'containers':[{'name':'x'}]}}}}]");
    struct seen s = {{0}};
    const cJSON *obj;

    (void)state;
    cJSON_ArrayForEach(obj, objects) {
        p4_podspec_each_container((cJSON *)obj, record, &s);
    }
    /* init containers first, entries that are not objects skipped */
    assert_string_equal(s.log, "Pod:initContainers:i Pod:containers:a Pod:containers:b "
                               "Pod:ephemeralContainers:e CronJob:containers:j");
    cJSON_Delete(objects);
}

#define CONTAINERS(name)                                                                           \
    "'initContainers':[{'name':'init','image':'" REPO ":1.0'}],"                                   \
    "'containers':[{'name':'" name "','image':'" REPO ":1.0'}],"                                   \
    "'ephemeralContainers':[{'name':'debug','image':'" REPO "'}]"
#define TEMPLATE(name) "{'template':{'spec':{" CONTAINERS(name) "}}}"

static void every_workload_kind_pinned(void **state)
{
    static const struct {
        const char *kind, *spec_path;
    } kinds[] = {
        {"Pod", "spec"},
        {"ReplicationController", "spec.template.spec"},
        {"Deployment", "spec.template.spec"},
        {"ReplicaSet", "spec.template.spec"},
        {"StatefulSet", "spec.template.spec"},
        {"DaemonSet", "spec.template.spec"},
        {"Job", "spec.template.spec"},
        {"CronJob", "spec.jobTemplate.spec.template.spec"},
    };
    cJSON *objects =
        test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{" CONTAINERS(
            "app") "}},"
                   "{'apiVersion':'v1','kind':'ReplicationController','metadata':{'name':'rc'},"
                   "'spec':" TEMPLATE(
                       "app") "},"
                              "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d'},"
                              "'spec':" TEMPLATE(
                                  "app") "},"
                                         "{'apiVersion':'apps/"
                                         "v1','kind':'ReplicaSet','metadata':{'name':'rs'},"
                                         "'spec':" TEMPLATE(
                                             "app") "},"
                                                    "{'apiVersion':'apps/"
                                                    "v1','kind':'StatefulSet','metadata':{'name':'"
                                                    "ss'},"
                                                    "'spec':" TEMPLATE(
                                                        "app") "},"
                                                               "{'apiVersion':'apps/"
                                                               "v1','kind':'DaemonSet','metadata':{"
                                                               "'name':'ds'},"
                                                               "'spec':" TEMPLATE(
                                                                   "app") "},"
                                                                          "{'apiVersion':'batch/"
                                                                          "v1','kind':'Job','"
                                                                          "metadata':{'name':'j'},"
                                                                          "'spec':" TEMPLATE(
                                                                              "app") "},"
                                                                                     "{'apiVersion'"
                                                                                     ":'batch/"
                                                                                     "v1','kind':'"
                                                                                     "CronJob','"
                                                                                     "metadata':{'"
                                                                                     "name':'cj'},"
                                                                                     "'spec':{'"
                                                                                     "schedule':'@"
                                                                                     "daily','"
                                                                                     "jobTemplate':"
                                                                                     "{'spec'"
                                                                                     ":" TEMPLATE(
                                                                                         "app") "}}"
                                                                                                "}"
                                                                                                "]");
    struct p4_pin_report rep;
    struct p4_error err = {0};

    (void)state;
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    for (int i = 0; i < (int)(sizeof(kinds) / sizeof(kinds[0])); i++) {
        static const char *const fields[] = {"initContainers", "containers", "ephemeralContainers"};

        assert_string_equal(p4_json_str(cJSON_GetArrayItem(objects, i), "kind"), kinds[i].kind);
        for (size_t k = 0; k < 3; k++) {
            const char *got = image_at(objects, i, kinds[i].spec_path, fields[k], 0);
            if (got == NULL || strcmp(got, PINNED) != 0)
                fail_msg("%s %s: image %s", kinds[i].kind, fields[k], got ? got : "(none)");
        }
    }
    assert_int_equal(rep.containers, 24);
    assert_int_equal(rep.pinned, 24);
    assert_int_equal(rep.rewritten, 24);
    assert_int_equal(rep.nimages, 2); /* REPO:1.0 and REPO */
    assert_string_equal(rep.images[0].image, REPO ":1.0");
    assert_string_equal(rep.images[0].where, "Pod p, container init"); /* first seen */
    assert_int_equal(rep.images[0].count, 16);
    assert_true(rep.images[0].pinned);
    assert_false(rep.images[0].invalid);
    assert_string_equal(rep.images[1].image, REPO);
    assert_string_equal(rep.images[1].where, "Pod p, container debug");
    assert_int_equal(rep.images[1].count, 8);
    assert_true(rep.images[1].pinned);
    assert_int_equal(rep.more, 0);
    p4_pin_report_close(&rep);
    assert_int_equal(rep.nimages, 0);
    cJSON_Delete(objects);
}

static void other_kinds_untouched(void **state)
{
    cJSON *objects = test_json(
        "[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'cm'},"
        "'data':{'image':'" REPO ":1.0'}},"
        "{'apiVersion':'example.com/v1','kind':'Deployment','metadata':{'name':'crd'},"
        "'spec':" TEMPLATE(
            "app") "},"
                   "{'apiVersion':'example.com/v1','kind':'Pod','metadata':{'name':'crd'},"
                   "'spec':{" CONTAINERS(
                       "app") "}},"
                              "{'apiVersion':'apps/"
                              "v1','kind':'Job','metadata':{'name':'wronggroup'},"
                              "'spec':" TEMPLATE(
                                  "app") "},"
                                         "{'apiVersion':'batch/"
                                         "v1','kind':'Deployment','metadata':{'name':'wronggroup'},"
                                         "'spec':" TEMPLATE(
                                             "app") "},"
                                                    "{'apiVersion':'v1','kind':'Deployment','"
                                                    "metadata':{'name':'core'},"
                                                    "'spec':" TEMPLATE(
                                                        "app") "},"
                                                               "{'apiVersion':'batch/"
                                                               "v1','kind':'CronJob','metadata':{'"
                                                               "name':'notemplate'},"
                                                               "'spec':" TEMPLATE(
                                                                   "app") "},"
                                                                          "{'apiVersion':'apps/"
                                                                          "v1','kind':'deployment',"
                                                                          "'metadata':{'name':'"
                                                                          "lower'},"
                                                                          "'spec':" TEMPLATE(
                                                                              "app") "},"
                                                                                     "{'apiVersion'"
                                                                                     ":'apps."
                                                                                     "example.com/"
                                                                                     "v1','kind':'"
                                                                                     "DaemonSet','"
                                                                                     "metadata':{'"
                                                                                     "name':'x'},"
                                                                                     "'spec'"
                                                                                     ":" TEMPLATE(
                                                                                         "app") "},"
                                                                                                "{'"
                                                                                                "ap"
                                                                                                "iV"
                                                                                                "er"
                                                                                                "si"
                                                                                                "on"
                                                                                                "':"
                                                                                                "'v"
                                                                                                "1'"
                                                                                                ",'"
                                                                                                "ki"
                                                                                                "nd"
                                                                                                "':"
                                                                                                "'S"
                                                                                                "er"
                                                                                                "vi"
                                                                                                "ce"
                                                                                                "',"
                                                                                                "'m"
                                                                                                "et"
                                                                                                "ad"
                                                                                                "at"
                                                                                                "a'"
                                                                                                ":{"
                                                                                                "'n"
                                                                                                "am"
                                                                                                "e'"
                                                                                                ":'"
                                                                                                "sv"
                                                                                                "c'"
                                                                                                "},"
                                                                                                "'s"
                                                                                                "pe"
                                                                                                "c'"
                                                                                                ":{"
                                                                                                "'c"
                                                                                                "on"
                                                                                                "ta"
                                                                                                "in"
                                                                                                "er"
                                                                                                "s'"
                                                                                                ":["
                                                                                                "{'"
                                                                                                "na"
                                                                                                "me"
                                                                                                "':"
                                                                                                "'a"
                                                                                                "',"
                                                                                                "'i"
                                                                                                "ma"
                                                                                                "ge"
                                                                                                "':"
                                                                                                "'" REPO
                                                                                                "'}"
                                                                                                "]}"
                                                                                                "}"
                                                                                                "]");
    struct p4_pin_report rep;
    struct p4_error err = {0};
    char *before = printed(objects), *after;

    (void)state;
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    after = printed(objects);
    assert_string_equal(after, before);
    assert_int_equal(rep.containers, 0);
    assert_int_equal(rep.pinned, 0);
    assert_int_equal(rep.rewritten, 0);
    assert_int_equal(rep.nimages, 0);
    p4_pin_report_close(&rep);
    free(before);
    free(after);
    cJSON_Delete(objects);
}

/* ---- what is rewritten ---- */

static void any_tag_or_digest_becomes_the_pin(void **state)
{
    cJSON *objects = test_json("[{'apiVersion':'apps/v1','kind':'Deployment','metadata':"
                               "{'name':'web'},'spec':{'template':{'spec':{'containers':["
                               "{'name':'bare','image':'" REPO "'},"
                               "{'name':'latest','image':'" REPO ":latest'},"
                               "{'name':'tag','image':'" REPO ":1.0'},"
                               "{'name':'digest','image':'" REPO "@" OTHER "'},"
                               "{'name':'both','image':'" REPO ":1.0@" OTHER "'},"
                               "{'name':'pinned','image':'" PINNED "'}]}}}}]");
    struct p4_pin_report rep;
    struct p4_error err = {0};

    (void)state;
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    for (int i = 0; i < 6; i++)
        assert_string_equal(image_at(objects, 0, "spec.template.spec", "containers", i), PINNED);
    assert_int_equal(rep.containers, 6);
    assert_int_equal(rep.pinned, 6);
    assert_int_equal(rep.rewritten, 5); /* the pinned one is left as it is */
    assert_int_equal(rep.nimages, 6);
    for (size_t i = 0; i < rep.nimages; i++) {
        assert_true(rep.images[i].pinned);
        assert_false(rep.images[i].invalid);
        assert_int_equal(rep.images[i].count, 1);
    }
    assert_string_equal(rep.images[2].image, REPO ":1.0"); /* as the chart wrote it */
    assert_string_equal(rep.images[2].where, "Deployment web, container tag");
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* a Docker Hub repository: any spelling of it becomes the repository as spec gives it */
    objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                        "'containers':[{'name':'a','image':'docker.io/library/nginx:1.25'},"
                        "{'name':'b','image':'index.docker.io/library/nginx'},"
                        "{'name':'c','image':'library/nginx@" OTHER "'},"
                        "{'name':'d','image':'nginx-exporter:1'}]}}]");
    assert_int_equal(p4_pin_rewrite(objects, "nginx", DIGEST, &rep, &err), 0);
    assert_string_equal(image_at(objects, 0, "spec", "containers", 0), "nginx@" DIGEST);
    assert_string_equal(image_at(objects, 0, "spec", "containers", 1), "nginx@" DIGEST);
    assert_string_equal(image_at(objects, 0, "spec", "containers", 2), "nginx@" DIGEST);
    assert_string_equal(image_at(objects, 0, "spec", "containers", 3), "nginx-exporter:1");
    assert_int_equal(rep.pinned, 3);
    assert_int_equal(rep.rewritten, 3);
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);
}

static void other_images_reported_not_rewritten(void **state)
{
    cJSON *objects = test_json(
        "[{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},'spec':{"
        "'template':{'spec':{'containers':["
        "{'name':'app','image':'" REPO ":1.0'},"
        "{'name':'sidecar','image':'busybox:1.36'},"
        "{'name':'prefixed','image':'docker.io/127.0.0.1:5000/phase4/app:1.0'},"
        "{'name':'noimage'},"
        "{'name':'number','image':7},"
        "{'name':'other','image':'127.0.0.1:5000/phase4/other:1.0'}]}}}},"
        "{'apiVersion':'apps/v1','kind':'StatefulSet','metadata':{'name':'db'},'spec':{"
        "'template':{'spec':{'containers':[{'name':'sidecar2','image':'busybox:1.36'}]}}}}]");
    struct p4_pin_report rep;
    struct p4_error err = {0};

    (void)state;
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_string_equal(image_at(objects, 0, "spec.template.spec", "containers", 0), PINNED);
    assert_string_equal(image_at(objects, 0, "spec.template.spec", "containers", 1),
                        "busybox:1.36");
    assert_string_equal(image_at(objects, 0, "spec.template.spec", "containers", 2),
                        "docker.io/127.0.0.1:5000/phase4/app:1.0");
    assert_null(image_at(objects, 0, "spec.template.spec", "containers", 3));
    assert_int_equal(p4_json_get(cJSON_GetArrayItem(p4_json_get(cJSON_GetArrayItem(objects, 0),
                                                                "spec.template.spec.containers"),
                                                    4),
                                 "image")
                         ->valueint,
                     7);
    assert_string_equal(image_at(objects, 0, "spec.template.spec", "containers", 5),
                        "127.0.0.1:5000/phase4/other:1.0");
    assert_string_equal(image_at(objects, 1, "spec.template.spec", "containers", 0),
                        "busybox:1.36");
    assert_int_equal(rep.containers, 7); /* with and without an image */
    assert_int_equal(rep.pinned, 1);
    assert_int_equal(rep.rewritten, 1);
    assert_int_equal(rep.nimages, 4);
    assert_int_equal(rep.more, 0);
    /* first seen first */
    assert_string_equal(rep.images[0].image, REPO ":1.0");
    assert_true(rep.images[0].pinned);
    assert_string_equal(rep.images[1].image, "busybox:1.36");
    assert_string_equal(rep.images[1].where, "Deployment web, container sidecar");
    assert_int_equal(rep.images[1].count, 2);
    assert_false(rep.images[1].pinned);
    assert_false(rep.images[1].invalid);
    assert_string_equal(rep.images[2].image, "docker.io/127.0.0.1:5000/phase4/app:1.0");
    assert_true(rep.images[2].invalid);
    assert_false(rep.images[2].pinned);
    assert_string_equal(rep.images[3].image, "127.0.0.1:5000/phase4/other:1.0");
    assert_false(rep.images[3].pinned);
    assert_false(rep.images[3].invalid);
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* an object or container without a name is still placed */
    objects = test_json("[{'apiVersion':'v1','kind':'Pod','spec':{'containers':["
                        "{'image':'busybox'}]}}]");
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_int_equal(rep.nimages, 1);
    assert_string_equal(rep.images[0].where, "Pod ?, container ?");
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);
}

/* A Deployment with n containers running "img-<i>:1" (i from first), and one running REPO last. */
static cJSON *many_images(int first, int n)
{
    cJSON *objects = test_json("[{'apiVersion':'apps/v1','kind':'Deployment','metadata':"
                               "{'name':'web'},'spec':{'template':{'spec':{'containers':[]}}}}]");
    cJSON *list =
        (cJSON *)p4_json_get(cJSON_GetArrayItem(objects, 0), "spec.template.spec.containers");
    char image[64], name[32];

    for (int i = first; i < first + n; i++) {
        cJSON *c = cJSON_CreateObject();
        (void)snprintf(image, sizeof(image), "img-%d:1", i);
        (void)snprintf(name, sizeof(name), "c%d", i);
        cJSON_AddStringToObject(c, "name", name);
        cJSON_AddStringToObject(c, "image", image);
        cJSON_AddItemToArray(list, c);
    }
    {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", "app");
        cJSON_AddStringToObject(c, "image", REPO ":1.0");
        cJSON_AddItemToArray(list, c);
    }
    return objects;
}

static void report_keeps_at_most_max_images(void **state)
{
    cJSON *objects = many_images(0, P4_PIN_IMAGES_MAX + 5);
    struct p4_pin_report rep;
    struct p4_error err = {0};
    char msg[2048];

    (void)state;
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_int_equal(rep.containers, P4_PIN_IMAGES_MAX + 6);
    assert_int_equal(rep.nimages, P4_PIN_IMAGES_MAX);
    assert_int_equal(rep.more, 6); /* five others and the pinned one */
    assert_string_equal(rep.images[P4_PIN_IMAGES_MAX - 1].image, "img-31:1");
    /* past the report's room the pin still holds */
    assert_int_equal(rep.pinned, 1);
    assert_int_equal(rep.rewritten, 1);
    assert_string_equal(
        image_at(objects, 0, "spec.template.spec", "containers", P4_PIN_IMAGES_MAX + 5), PINNED);
    assert_true(p4_pin_message(&rep, REPO, DIGEST, msg, sizeof(msg)));
    assert_string_equal(msg, "1 of 38 container(s) run " PINNED);
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* exactly as many as fit: none more */
    objects = many_images(0, P4_PIN_IMAGES_MAX - 1);
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_int_equal(rep.nimages, P4_PIN_IMAGES_MAX);
    assert_int_equal(rep.more, 0);
    assert_true(rep.images[P4_PIN_IMAGES_MAX - 1].pinned);
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);
}

static void rewrite_refuses_bad_repository_or_digest(void **state)
{
    static const struct {
        const char *repository, *digest;
    } bad[] = {
        {NULL, DIGEST},
        {"", DIGEST},
        {"Nginx", DIGEST},
        {"nginx:1.0", DIGEST},
        {REPO ":1.0", DIGEST},
        {"docker.io/127.0.0.1:5000/phase4/app", DIGEST},
        {"nginx@" DIGEST, DIGEST},
        {REPO "@" OTHER, DIGEST},
        {REPO, NULL},
        {REPO, ""},
        {REPO, "sha256:abc"},
        {REPO, "md5:0123456789abcdef0123456789abcdef"},
        {REPO, "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"},
        {REPO, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        {REPO, DIGEST "@" DIGEST},
    };
    cJSON *objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},"
                               "'spec':{'containers':[{'name':'a','image':'" REPO ":1.0'}]}}]");
    char *before = printed(objects), *after;
    struct p4_pin_report rep;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;

        p4_error_clear(&err);
        memset(&rep, 0x5a, sizeof(rep));
        rc = p4_pin_rewrite(objects, bad[i].repository, bad[i].digest, &rep, &err);
        if (rc != P4_ERR_INVAL || err.code != P4_ERR_INVAL || err.message[0] == '\0')
            fail_msg("case %zu (%s, %s): rc %d, message %s", i,
                     bad[i].repository ? bad[i].repository : "NULL",
                     bad[i].digest ? bad[i].digest : "NULL", rc, err.message);
        assert_int_equal(rep.containers, 0);
        assert_int_equal(rep.nimages, 0);
        assert_int_equal(rep.more, 0);
        p4_pin_report_close(&rep);
    }
    after = printed(objects);
    assert_string_equal(after, before); /* nothing changed */
    free(before);
    free(after);

    /* the digests the runtime takes: sha512 too */
    assert_int_equal(
        p4_pin_rewrite(objects, "localhost:5000/x",
                       "sha512:"
                       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                       &rep, &err),
        0);
    assert_int_equal(rep.pinned, 0);
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);
}

static void rewrite_is_idempotent(void **state)
{
    cJSON *objects = test_json(
        "[{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},'spec':"
        "{'template':{'spec':{'initContainers':[{'name':'i','image':'" REPO "'}],"
        "'containers':[{'name':'app','image':'" REPO ":1.0'},"
        "{'name':'side','image':'busybox'},{'name':'bad','image':'A:b:c'},"
        "{'name':'done','image':'" PINNED "'}]}}}},"
        "{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c'},'data':{'a':'b'}}]");
    struct p4_pin_report rep, again;
    struct p4_error err = {0};
    char *once, *twice;

    (void)state;
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    once = printed(objects);
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &again, &err), 0);
    twice = printed(objects);
    assert_string_equal(twice, once);
    assert_int_equal(rep.containers, 5);
    assert_int_equal(rep.pinned, 3);
    assert_int_equal(rep.rewritten, 2);
    assert_int_equal(again.containers, rep.containers);
    assert_int_equal(again.pinned, rep.pinned);
    assert_int_equal(again.rewritten, 0);
    assert_int_equal(again.nimages, 3); /* the pin, busybox and the bad one */
    assert_string_equal(again.images[0].image, PINNED);
    assert_int_equal(again.images[0].count, 3);
    p4_pin_report_close(&rep);
    p4_pin_report_close(&again);
    free(once);
    free(twice);
    cJSON_Delete(objects);
}

/* ---- the gate's message ---- */

static void message_when_pinned(void **state)
{
    cJSON *objects = test_json(
        "[{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},'spec':"
        "{'template':{'spec':{'containers':[{'name':'app','image':'" REPO ":1.0'},"
        "{'name':'done','image':'" PINNED "'},{'name':'side','image':'busybox'}]}}}},"
        "{'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'migrate'},'spec':"
        "{'template':{'spec':{'containers':[{'name':'m','image':'" REPO "@" OTHER "'}]}}}}]");
    struct p4_pin_report rep;
    struct p4_error err = {0};
    char msg[1024];

    (void)state;
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_true(p4_pin_message(&rep, REPO, DIGEST, msg, sizeof(msg)));
    assert_string_equal(msg, "3 of 4 container(s) run " PINNED "; rewritten from " REPO
                             ":1.0 (Deployment web, container app), " REPO "@" OTHER
                             " (Job migrate, container m)");
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* nothing to rewrite: no list */
    objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                        "'containers':[{'name':'a','image':'" PINNED "'}]}}]");
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_true(p4_pin_message(&rep, REPO, DIGEST, msg, sizeof(msg)));
    assert_string_equal(msg, "1 of 1 container(s) run " PINNED);
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);
}

static void message_when_not_pinned(void **state)
{
    cJSON *objects =
        test_json("[{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},'spec':"
                  "{'template':{'spec':{'containers':["
                  "{'name':'app','image':'docker.io/127.0.0.1:5000/phase4/app:1.0'},"
                  "{'name':'side','image':'busybox'}]}}}}]");
    struct p4_pin_report rep;
    struct p4_error err = {0};
    char msg[2048];

    (void)state;
    /* the chart put docker.io before the repository: the hint says so */
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_false(p4_pin_message(&rep, REPO, DIGEST, msg, sizeof(msg)));
    assert_string_equal(
        msg, "no container runs " REPO "; the chart runs docker.io/127.0.0.1:5000/phase4/app:1.0 "
             "(Deployment web, container app, not a valid image reference), busybox (Deployment "
             "web, container side). The chart puts a registry of its own before the repository: "
             "name the values it builds its image from in spec.image.valuesPaths (e.g. registry: "
             "image.registry, repository: image.repository)");
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* other images only: the general advice */
    objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                        "'containers':[{'name':'a','image':'ghcr.io/other/app:2'}]}}]");
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_false(p4_pin_message(&rep, REPO, DIGEST, msg, sizeof(msg)));
    assert_string_equal(msg, "no container runs " REPO "; the chart runs ghcr.io/other/app:2 "
                             "(Pod p, container a). Name the values the chart builds its image "
                             "from in spec.image.valuesPaths (registry, repository, tag, digest; "
                             "e.g. repository: controller.image.repository), or change the chart");
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* no container at all */
    objects = test_json("[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c'}}]");
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_false(p4_pin_message(&rep, REPO, DIGEST, msg, sizeof(msg)));
    assert_string_equal(msg, "the chart runs no container (no Pod, Deployment, StatefulSet, "
                             "DaemonSet, ReplicaSet, Job or CronJob), so nothing runs " REPO
                             "; the chart or the spec must change");
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* many images: six named, the rest counted while the report holds them all */
    objects = many_images(0, P4_PIN_IMAGES_MAX - 1); /* and the app's: P4_PIN_IMAGES_MAX */
    assert_int_equal(p4_pin_rewrite(objects, "registry.example.com/none", DIGEST, &rep, &err), 0);
    assert_int_equal(rep.more, 0);
    assert_false(p4_pin_message(&rep, "registry.example.com/none", DIGEST, msg, sizeof(msg)));
    assert_non_null(strstr(msg, " img-5:1 (Deployment web, container c5) and 26 more. Name"));
    assert_null(strstr(msg, "img-6:1"));
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* past the report's room: "and more", as how many distinct ones is not known */
    objects = many_images(0, P4_PIN_IMAGES_MAX + 3);
    assert_int_equal(p4_pin_rewrite(objects, "registry.example.com/none", DIGEST, &rep, &err), 0);
    assert_int_equal(rep.more, 4);
    assert_false(p4_pin_message(&rep, "registry.example.com/none", DIGEST, msg, sizeof(msg)));
    assert_non_null(strstr(msg, " img-5:1 (Deployment web, container c5) and more. Name"));
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* the hint needs the whole name behind the prefix, and is found past the sixth image */
    objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                        "'containers':[{'name':'a','image':'quay.io/nginx/nginx-exporter:1'}]}}]");
    assert_int_equal(p4_pin_rewrite(objects, "nginx", DIGEST, &rep, &err), 0);
    assert_false(p4_pin_message(&rep, "nginx", DIGEST, msg, sizeof(msg)));
    assert_null(strstr(msg, "a registry of its own"));
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* a containers object that is not a list is no pod spec the API server takes */
    objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                        "'containers':{'a':{'name':'a','image':'" REPO ":1'}}}}]");
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_int_equal(rep.containers, 0);
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);

    /* control bytes in an image are not echoed */
    objects = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                        "'containers':[{'name':'a\\n','image':'bad\\u001b[31m\\nimage'}]}}]");
    assert_int_equal(p4_pin_rewrite(objects, REPO, DIGEST, &rep, &err), 0);
    assert_false(p4_pin_message(&rep, REPO, DIGEST, msg, sizeof(msg)));
    assert_null(strchr(msg, '\033'));
    assert_null(strchr(msg, '\n'));
    assert_non_null(strstr(msg, "not a valid image reference"));
    p4_pin_report_close(&rep);
    cJSON_Delete(objects);
}

static void message_always_terminated(void **state)
{
    static const size_t sizes[] = {1, 2, 3, 4, 5, 16, 40, 64, 100};
    cJSON *objects[3];
    struct p4_pin_report rep;
    struct p4_error err = {0};
    char buf[128];

    (void)state;
    objects[0] = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                           "'containers':[{'name':'a','image':'" REPO ":1.0'}]}}]");
    objects[1] = test_json("[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{"
                           "'containers':[{'name':'a','image':'docker.io/" REPO "'}]}}]");
    objects[2] = test_json("[]");
    for (int o = 0; o < 3; o++) {
        assert_int_equal(p4_pin_rewrite(objects[o], REPO, DIGEST, &rep, &err), 0);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            memset(buf, 'x', sizeof(buf));
            assert_int_equal(p4_pin_message(&rep, REPO, DIGEST, buf, sizes[i]), o == 0);
            assert_true(memchr(buf, '\0', sizes[i]) != NULL);
            assert_int_equal(buf[sizes[i]], 'x'); /* nothing written past size */
        }
        /* size 0: nothing written, the answer all the same */
        memset(buf, 'x', sizeof(buf));
        assert_int_equal(p4_pin_message(&rep, REPO, DIGEST, buf, 0), o == 0);
        assert_int_equal(buf[0], 'x');
        p4_pin_report_close(&rep);
        cJSON_Delete(objects[o]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_repository_after_normalising),
        cmocka_unit_test(each_container_of_a_pod_template),
        cmocka_unit_test(every_workload_kind_pinned),
        cmocka_unit_test(other_kinds_untouched),
        cmocka_unit_test(any_tag_or_digest_becomes_the_pin),
        cmocka_unit_test(other_images_reported_not_rewritten),
        cmocka_unit_test(report_keeps_at_most_max_images),
        cmocka_unit_test(rewrite_refuses_bad_repository_or_digest),
        cmocka_unit_test(rewrite_is_idempotent),
        cmocka_unit_test(message_when_pinned),
        cmocka_unit_test(message_when_not_pinned),
        cmocka_unit_test(message_always_terminated),
    };
    return cmocka_run_group_tests_name("pin", tests, NULL, NULL);
}
