/*
 * dockerstage_test.c: the Docker stage's own decisions (stages/docker/steps.h):
 * which gate, failure class, reason and message each answer from the
 * registry or the API server leads to, and what the stage asks and keeps.
 */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "stages/docker/steps.h"
#include "testjson.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define AMD64 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define ARM64 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define REPORT "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define SIGN "sha256:4444444444444444444444444444444444444444444444444444444444444444"

static void assert_verdict(const struct verdict *v, enum outcome outcome, enum gate gate,
                           enum p4_failure_class cls, const char *reason, const char *message)
{
    assert_int_equal(v->outcome, outcome);
    assert_int_equal(v->gate, gate);
    assert_int_equal(v->cls, cls);
    assert_string_equal(v->reason, reason);
    if (message)
        assert_string_equal(v->err.message, message);
}

static void assert_prefix(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0 || strlen(s) <= strlen(prefix))
        fail_msg("\"%s\" does not go on from \"%s\"", s, prefix);
}

static struct p4_error error_of(int code, const char *message)
{
    struct p4_error e = {0};

    p4_error_set(&e, code, "%s", message);
    return e;
}

/* An answer from the API server: rc, and body (inline JSON) or NULL. */
static struct p4_kube_result answer(int rc, const char *body)
{
    struct p4_kube_result res = {.rc = rc};

    if (body)
        res.body = test_json(body);
    if (rc != 0)
        p4_error_set(&res.err, rc, "the API server said %s", p4_strerror(rc));
    return res;
}

static void gate_names_in_status_order(void **state)
{
    static const char *const want[] = {"Built", "Pushed", "Scanned", "Signed", "Pullable"};

    (void)state;
    for (int g = 0; g < G_COUNT; g++)
        assert_string_equal(p4_docker_gate_names[g], want[g]);
}

/* ---- the registry's answers ---- */

static char *two_secrets[] = {"regcred", "backup"};

static const struct registry_who who_two = {.wanted = two_secrets,
                                            .nwanted = 2,
                                            .ns = "shop",
                                            .host = "registry.example.com",
                                            .repository = "team/app"};

static void registry_auth_names_the_secrets(void **state)
{
    struct p4_error e = error_of(P4_ERR_UNAUTHORIZED, "registry.example.com: 401");
    struct registry_who who = who_two;
    struct verdict v;

    (void)state;
    who.secret = "backup";
    assert_true(p4_docker_registry_verdict(P4_ERR_UNAUTHORIZED, &e, G_SCANNED, &who, &v));
    assert_verdict(&v, V_FAIL, G_PULLABLE, P4_FAIL_CLUSTER, "ImagePullAuthFailed",
                   "registry.example.com: 401: pull secret \"backup\" in namespace shop has the "
                   "wrong credentials for registry.example.com, or no pull access to team/app");
    assert_int_equal(v.err.code, P4_ERR_UNAUTHORIZED);

    who.secret = NULL;
    assert_true(p4_docker_registry_verdict(P4_ERR_FORBIDDEN, &e, G_BUILT, &who, &v));
    assert_verdict(&v, V_FAIL, G_PULLABLE, P4_FAIL_CLUSTER, "ImagePullAuthFailed",
                   "registry.example.com: 401: none of the pull secrets in namespace shop "
                   "(\"regcred\", \"backup\") has an entry for registry.example.com");
    assert_int_equal(v.err.code, P4_ERR_FORBIDDEN);

    who.nwanted = 0;
    assert_true(p4_docker_registry_verdict(P4_ERR_UNAUTHORIZED, &e, G_PUSHED, &who, &v));
    assert_verdict(&v, V_FAIL, G_PULLABLE, P4_FAIL_CLUSTER, "ImagePullAuthFailed",
                   "registry.example.com: 401: namespace shop has no pull secret; list one in "
                   "spec.image.pullSecrets or on its default ServiceAccount");
}

static void registry_tls_and_outages(void **state)
{
    static const int outages[] = {P4_ERR_UNAVAILABLE, P4_ERR_TRANSPORT, P4_ERR_TIMEOUT,
                                  P4_ERR_TOOMANY,     P4_ERR_CANCELED,  P4_ERR_INTERNAL};
    struct p4_error e = error_of(P4_ERR_TLS, "certificate of registry.example.com: unknown CA");
    struct verdict v;

    (void)state;
    assert_true(p4_docker_registry_verdict(P4_ERR_TLS, &e, G_SIGNED, &who_two, &v));
    assert_verdict(&v, V_FAIL, G_PUSHED, P4_FAIL_CLUSTER, "RegistryTLSError", e.message);
    for (size_t i = 0; i < sizeof(outages) / sizeof(outages[0]); i++) {
        e = error_of(outages[i], "registry.example.com is down");
        assert_true(p4_docker_registry_verdict(outages[i], &e, G_SIGNED, &who_two, &v));
        /* an outage fails the gate that asked, and waits */
        assert_verdict(&v, V_FAIL, G_SIGNED, P4_FAIL_TRANSIENT, "RegistryUnavailable",
                       "registry.example.com is down");
        assert_int_equal(v.err.code, outages[i]);
    }
    assert_true(p4_docker_registry_verdict(P4_ERR_TIMEOUT, &e, G_BUILT, &who_two, &v));
    assert_int_equal(v.gate, G_BUILT);
}

static void registry_other_failures_are_the_callers(void **state)
{
    static const int others[] = {0,
                                 P4_ERR_NOTFOUND,
                                 P4_ERR_INVALID,
                                 P4_ERR_PARSE,
                                 P4_ERR_METHOD,
                                 P4_ERR_TOOBIG,
                                 P4_ERR_BADREQUEST,
                                 P4_ERR_INVAL};
    struct p4_error e = error_of(P4_ERR_NOTFOUND, "manifest unknown");
    struct verdict v;

    (void)state;
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_false(p4_docker_registry_verdict(others[i], &e, G_SCANNED, &who_two, &v));
}

static struct p4_image_check check_of(int rc, enum p4_image_problem problem, const char *message)
{
    struct p4_image_check c = {.rc = rc, .problem = problem};

    if (rc != 0)
        p4_error_set(&c.err, rc, "%s", message);
    return c;
}

static void check_reference_problems(void **state)
{
    struct p4_image_check c = check_of(0, P4_IMAGE_OK, "");
    struct verdict v;

    (void)state;
    assert_int_equal(p4_docker_check_verdict(&c, &who_two, &v), CHECK_COMPLETE);

    c = check_of(P4_ERR_NOTFOUND, P4_IMAGE_REFERENCE, "team/app:1.0 is not in the registry");
    assert_int_equal(p4_docker_check_verdict(&c, &who_two, &v), CHECK_FAILED);
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_ARTIFACT, "ImageNotFound",
                   "team/app:1.0 is not in the registry; push the image or correct spec.image");
    assert_int_equal(v.err.code, P4_ERR_NOTFOUND);

    c = check_of(P4_ERR_PARSE, P4_IMAGE_REFERENCE, "the manifest of team/app:1.0 is not JSON");
    assert_int_equal(p4_docker_check_verdict(&c, &who_two, &v), CHECK_FAILED);
    assert_verdict(&v, V_FAIL, G_PUSHED, P4_FAIL_ARTIFACT, "ImageManifestInvalid",
                   "the manifest of team/app:1.0 is not JSON");
    assert_int_equal(v.err.code, P4_ERR_PARSE);

    /* The registry's own trouble comes first; an outage on the reference waits on Built. */
    c = check_of(P4_ERR_UNAUTHORIZED, P4_IMAGE_REFERENCE, "401");
    assert_int_equal(p4_docker_check_verdict(&c, &who_two, &v), CHECK_FAILED);
    assert_string_equal(v.reason, "ImagePullAuthFailed");
    c = check_of(P4_ERR_UNAVAILABLE, P4_IMAGE_REFERENCE, "503");
    assert_int_equal(p4_docker_check_verdict(&c, &who_two, &v), CHECK_FAILED);
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_TRANSIENT, "RegistryUnavailable", "503");
}

static void check_platform_and_content_problems(void **state)
{
    struct p4_image_check c = check_of(P4_ERR_NOTFOUND, P4_IMAGE_PLATFORM, "no linux/s390x");
    struct verdict v;

    (void)state;
    assert_int_equal(p4_docker_check_verdict(&c, &who_two, &v), CHECK_NO_PLATFORM);
    c = check_of(P4_ERR_NOTFOUND, P4_IMAGE_CONTENT, "layer sha256:... is missing");
    assert_int_equal(p4_docker_check_verdict(&c, &who_two, &v), CHECK_INCOMPLETE);
    c = check_of(P4_ERR_INVALID, P4_IMAGE_CONTENT, "layer does not match its digest");
    assert_int_equal(p4_docker_check_verdict(&c, &who_two, &v), CHECK_INCOMPLETE);
    /* an outage while reading blobs waits on Pushed */
    c = check_of(P4_ERR_TIMEOUT, P4_IMAGE_CONTENT, "timed out");
    assert_int_equal(p4_docker_check_verdict(&c, &who_two, &v), CHECK_FAILED);
    assert_verdict(&v, V_FAIL, G_PUSHED, P4_FAIL_TRANSIENT, "RegistryUnavailable", "timed out");
}

/* ---- what an attempt gathers ---- */

static void platforms_once_each_and_bounded(void **state)
{
    struct work *w = p4_docker_work_new();
    char list[256], os[P4_OCI_PLATFORM_PART_MAX + 8];

    (void)state;
    p4_docker_add_platform(w, "linux", "amd64", "");
    p4_docker_add_platform(w, "linux", "arm", "v7");
    p4_docker_add_platform(w, "linux", "amd64", "");
    p4_docker_add_platform(w, "linux", "arm", "v6");
    memset(os, 'x', sizeof(os) - 1);
    os[sizeof(os) - 1] = '\0';
    p4_docker_add_platform(w, os, "amd64", ""); /* longer than a part may be: dropped */
    p4_docker_platform_list(w, list, sizeof(list));
    assert_string_equal(list, "linux/amd64, linux/arm/v7, linux/arm/v6");
    for (int i = 0; i < 2 * PLATFORMS_MAX; i++) {
        char arch[16];
        (void)snprintf(arch, sizeof(arch), "arch%d", i);
        p4_docker_add_platform(w, "linux", arch, "");
    }
    assert_int_equal(w->nplatforms, PLATFORMS_MAX);
    p4_docker_work_free(w);

    w = p4_docker_work_new();
    p4_docker_platform_list(w, list, sizeof(list));
    assert_string_equal(list, "");
    p4_docker_work_free(w);
    p4_docker_work_free(NULL);
}

static void pull_secrets_spec_first_once_each(void **state)
{
    struct work *w = p4_docker_work_new();
    cJSON *spec = test_json("[{'name':'regcred'},{'name':''},{'nam':'x'},7,{'name':7},"
                            "{'name':'backup'},{'name':'regcred'}]");
    cJSON *sa = test_json("[{'name':'sa-secret'},{'name':'backup'}]");

    (void)state;
    p4_docker_add_wanted_list(w, spec, true);
    p4_docker_add_wanted_list(w, sa, false);
    p4_docker_add_wanted_list(w, NULL, false);
    assert_int_equal(w->nwanted, 3);
    assert_string_equal(w->wanted[0], "regcred");
    assert_string_equal(w->wanted[1], "backup");
    assert_string_equal(w->wanted[2], "sa-secret");
    assert_true(w->wanted_from_spec[0]);
    assert_true(w->wanted_from_spec[1]); /* named by the spec first: its absence is an error */
    assert_false(w->wanted_from_spec[2]);
    for (int i = 0; i < 2 * SECRETS_MAX; i++) {
        char name[16];
        (void)snprintf(name, sizeof(name), "s%d", i);
        p4_docker_add_wanted(w, name, false);
    }
    assert_int_equal(w->nwanted, SECRETS_MAX);
    cJSON_Delete(spec);
    cJSON_Delete(sa);
    p4_docker_work_free(w);
}

static void node_platforms_from_the_node_list(void **state)
{
    struct work *w = p4_docker_work_new(), *again = p4_docker_work_new();
    cJSON *nodes = test_json(
        "{'items':[{'status':{'nodeInfo':{'operatingSystem':'linux','architecture':'amd64'}}},"
        "{'status':{'nodeInfo':{'operatingSystem':'linux','architecture':'arm64'}}},"
        "{'status':{'nodeInfo':{'operatingSystem':'linux','architecture':'amd64'}}},"
        "{'status':{'nodeInfo':{'operatingSystem':'linux','architecture':'arm 64'}}},"
        "{'status':{'nodeInfo':{'operatingSystem':'linux/x','architecture':'amd64'}}},"
        "{'status':{'nodeInfo':{'operatingSystem':'linux','architecture':'arm/v7'}}},"
        "{'status':{'nodeInfo':{'operatingSystem':'li nux','architecture':'amd64'}}},"
        "{'status':{'nodeInfo':{'operatingSystem':'','architecture':'amd64'}}},"
        "{'status':{'nodeInfo':{'operatingSystem':'linux','architecture':7}}},"
        "{'status':{}},{}]}");
    char list[256], short_list[16];

    (void)state;
    p4_docker_node_platforms(w, nodes, list, sizeof(list));
    assert_string_equal(list, "linux/amd64 linux/arm64");
    assert_int_equal(w->nplatforms, 2);
    p4_docker_work_free(w);
    w = p4_docker_work_new();
    p4_docker_node_platforms(w, nodes, short_list, sizeof(short_list));
    assert_int_equal(w->nplatforms, 2);
    /* The text keeps what fits; a platform cut short is no platform when read back. */
    assert_string_equal(short_list, "linux/amd64 lin");
    p4_docker_parse_node_platforms(again, short_list);
    assert_int_equal(again->nplatforms, 1);
    assert_string_equal(again->platforms[0][1], "amd64");
    p4_docker_work_free(again);
    again = p4_docker_work_new();
    /* the cached text gives the next run the same platforms */
    p4_docker_parse_node_platforms(again, list);
    assert_int_equal(again->nplatforms, 2);
    assert_string_equal(again->platforms[1][1], "arm64");
    p4_docker_parse_node_platforms(again, "  linux/arm/v7  not-a-platform /x ");
    assert_int_equal(again->nplatforms, 3);
    assert_string_equal(again->platforms[2][2], "v7");
    cJSON_Delete(nodes);
    nodes = test_json("{'items':[]}");
    p4_docker_work_free(w);
    w = p4_docker_work_new();
    p4_docker_node_platforms(w, nodes, list, sizeof(list));
    assert_string_equal(list, "");
    assert_int_equal(w->nplatforms, 0);
    cJSON_Delete(nodes);
    p4_docker_work_free(w);
    p4_docker_work_free(again);
}

static void kube_read_failures(void **state)
{
    struct p4_error e = error_of(P4_ERR_FORBIDDEN, "secrets is forbidden");
    struct verdict v;

    (void)state;
    p4_docker_kube_verdict(P4_ERR_FORBIDDEN, &e, G_PULLABLE, &v);
    assert_verdict(&v, V_FAIL, G_PULLABLE, P4_FAIL_CLUSTER, "Forbidden", "secrets is forbidden");
    e = error_of(P4_ERR_UNAVAILABLE, "the API server is down");
    p4_docker_kube_verdict(P4_ERR_UNAVAILABLE, &e, G_SIGNED, &v);
    assert_verdict(&v, V_FAIL, G_SIGNED, P4_FAIL_TRANSIENT, "APIUnavailable", NULL);
    e = error_of(P4_ERR_UNAUTHORIZED, "token expired");
    p4_docker_kube_verdict(P4_ERR_UNAUTHORIZED, &e, G_PUSHED, &v);
    assert_verdict(&v, V_FAIL, G_PUSHED, P4_FAIL_CLUSTER, "APIUnavailable", "token expired");
}

static void ca_bundle_answers(void **state)
{
    cJSON *cm = test_json("{'caBundle':{'kind':'ConfigMap','name':'ca'}}");
    cJSON *sec = test_json("{'caBundle':{'kind':'Secret','name':'ca-secret','key':'root.pem'}}");
    struct p4_kube_result res = answer(0, "{'data':{'ca.crt':'-----BEGIN CERTIFICATE-----'}}");
    unsigned char *ca = NULL;
    size_t len = 0;
    struct verdict v;

    (void)state;
    assert_false(p4_docker_ca_verdict(cm, "shop", &res, &ca, &len, &v));
    assert_non_null(ca);
    assert_int_equal(len, strlen("-----BEGIN CERTIFICATE-----"));
    free(ca);
    ca = NULL;
    cJSON_Delete(res.body);

    res = answer(0, "{'data':{'other':'x'}}");
    assert_true(p4_docker_ca_verdict(cm, "shop", &res, &ca, &len, &v));
    assert_null(ca);
    assert_verdict(&v, V_FAIL, G_PUSHED, P4_FAIL_CLUSTER, "CABundleInvalid",
                   "ConfigMap shop/ca (spec.image.caBundle) has no key \"ca.crt\"");
    cJSON_Delete(res.body);

    res = answer(0, "{'data':{'root.pem':'not base64!'}}"); /* a Secret's data is base64 */
    assert_true(p4_docker_ca_verdict(sec, "shop", &res, &ca, &len, &v));
    assert_verdict(&v, V_FAIL, G_PUSHED, P4_FAIL_CLUSTER, "CABundleInvalid",
                   "Secret shop/ca-secret (spec.image.caBundle) has no key \"root.pem\" that "
                   "decodes");
    cJSON_Delete(res.body);

    res = answer(P4_ERR_NOTFOUND, NULL);
    assert_true(p4_docker_ca_verdict(sec, "shop", &res, &ca, &len, &v));
    assert_verdict(&v, V_FAIL, G_PUSHED, P4_FAIL_CLUSTER, "CABundleNotFound",
                   "Secret shop/ca-secret named by spec.image.caBundle does not exist; create it "
                   "with the registry's CA certificate under key \"root.pem\"");
    res = answer(P4_ERR_TIMEOUT, NULL);
    assert_true(p4_docker_ca_verdict(sec, "shop", &res, &ca, &len, &v));
    assert_verdict(&v, V_FAIL, G_PUSHED, P4_FAIL_TRANSIENT, "APIUnavailable", NULL);
    assert_null(ca);
    cJSON_Delete(cm);
    cJSON_Delete(sec);
}

/* A Secret holding pem (base64) under key. */
static struct p4_kube_result secret_with(const char *key, const char *pem)
{
    size_t n = strlen(pem);
    char *b64 = malloc(4 * ((n + 2) / 3) + 1), *json;
    struct p4_kube_result res = {0};

    assert_non_null(b64);
    assert_true(EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pem, (int)n) >= 0);
    json = malloc(strlen(b64) + strlen(key) + 32);
    assert_non_null(json);
    (void)sprintf(json, "{\"data\":{\"%s\":\"%s\"}}", key, b64);
    res.body = cJSON_Parse(json);
    assert_non_null(res.body);
    free(json);
    free(b64);
    return res;
}

static char *new_public_pem(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *pem;
    long n;

    assert_non_null(k);
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
    n = BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    pem = calloc(1, (size_t)n + 1);
    assert_non_null(pem);
    memcpy(pem, data, (size_t)n);
    BIO_free(bio);
    EVP_PKEY_free(k);
    return pem;
}

static void signature_key_answers(void **state)
{
    cJSON *image = test_json("{'signature':{'publicKeySecretRef':{'name':'cosign'}}}");
    char *pem = new_public_pem();
    struct p4_kube_result res = secret_with("cosign.pub", pem);
    struct p4_cosign_key *key = NULL;
    struct verdict v;

    (void)state;
    assert_false(p4_docker_sigkey_verdict(image, "shop", &res, &key, &v));
    assert_non_null(key);
    p4_cosign_key_free(key);
    key = NULL;
    cJSON_Delete(res.body);

    res = secret_with("other.pub", pem);
    assert_true(p4_docker_sigkey_verdict(image, "shop", &res, &key, &v));
    assert_verdict(&v, V_FAIL, G_SIGNED, P4_FAIL_CLUSTER, "SignatureKeyInvalid",
                   "Secret shop/cosign (spec.image.signature) has no key \"cosign.pub\" that "
                   "decodes");
    cJSON_Delete(res.body);

    res = secret_with("cosign.pub", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    assert_true(p4_docker_sigkey_verdict(image, "shop", &res, &key, &v));
    assert_null(key);
    assert_verdict(&v, V_FAIL, G_SIGNED, P4_FAIL_CLUSTER, "SignatureKeyInvalid", NULL);
    assert_prefix(v.err.message, "Secret shop/cosign key \"cosign.pub\": ");
    cJSON_Delete(res.body);

    res = answer(P4_ERR_NOTFOUND, NULL);
    assert_true(p4_docker_sigkey_verdict(image, "shop", &res, &key, &v));
    assert_verdict(&v, V_FAIL, G_SIGNED, P4_FAIL_CLUSTER, "SignatureKeyNotFound",
                   "Secret shop/cosign named by spec.image.signature.publicKeySecretRef does not "
                   "exist");
    res = answer(P4_ERR_FORBIDDEN, NULL);
    assert_true(p4_docker_sigkey_verdict(image, "shop", &res, &key, &v));
    assert_verdict(&v, V_FAIL, G_SIGNED, P4_FAIL_CLUSTER, "Forbidden", NULL);
    free(pem);
    cJSON_Delete(image);
}

#define CONFIG_A "{\"auths\":{\"registry.example.com\":{\"username\":\"a\",\"password\":\"pa\"}}}"
#define CONFIG_B "{\"auths\":{\"registry.example.com\":{\"username\":\"b\",\"password\":\"pb\"}}}"
#define CONFIG_OTHER "{\"auths\":{\"other.example.com\":{\"username\":\"c\",\"password\":\"pc\"}}}"

/* A work for registry.example.com/team/app wanting the secrets names. */
static struct work *work_for(const char *const *names, size_t n)
{
    struct work *w = p4_docker_work_new();

    assert_int_equal(p4_image_ref_parse("registry.example.com/team/app:1.0", &w->ref, NULL), 0);
    for (size_t i = 0; i < n; i++)
        p4_docker_add_wanted(w, names[i], i == 0);
    return w;
}

/* A Secret of type type (NULL: none) with data key holding text, as base64. */
static struct p4_kube_result typed_secret(const char *type, const char *key, const char *text)
{
    struct p4_kube_result res = secret_with(key, text);

    if (type)
        cJSON_AddStringToObject(res.body, "type", type);
    return res;
}

static void pull_secret_answers(void **state)
{
    static const char *const names[] = {"regcred", "sa-secret"};
    struct work *w = work_for(names, 2);
    struct p4_kube_result res;
    struct verdict v;

    (void)state;
    res = typed_secret(P4_REGAUTH_DOCKERCONFIGJSON, ".dockerconfigjson", CONFIG_A);
    assert_int_equal(p4_docker_secret_verdict(w, 0, "shop", &res, &v), SECRET_READ);
    assert_string_equal((const char *)w->payload[0], CONFIG_A);
    assert_string_equal(w->payload_type[0], P4_REGAUTH_DOCKERCONFIGJSON);
    cJSON_Delete(res.body);
    p4_docker_wipe_payloads(w);
    assert_null(w->payload[0]);

    res = typed_secret(P4_REGAUTH_DOCKERCFG, ".dockercfg", "{}");
    assert_int_equal(p4_docker_secret_verdict(w, 1, "shop", &res, &v), SECRET_READ);
    assert_string_equal(w->payload_type[1], P4_REGAUTH_DOCKERCFG);
    cJSON_Delete(res.body);
    p4_docker_wipe_payloads(w);

    res = typed_secret("Opaque", ".dockerconfigjson", CONFIG_A);
    assert_int_equal(p4_docker_secret_verdict(w, 0, "shop", &res, &v), SECRET_FAILED);
    assert_verdict(&v, V_FAIL, G_PULLABLE, P4_FAIL_CLUSTER, "PullSecretInvalid",
                   "pull secret \"regcred\" in namespace shop is not of type "
                   "kubernetes.io/dockerconfigjson (or kubernetes.io/dockercfg) with its data key; "
                   "create it with kubectl create secret docker-registry");
    assert_null(w->payload[0]);
    cJSON_Delete(res.body);
    res = typed_secret(P4_REGAUTH_DOCKERCONFIGJSON, ".dockercfg", CONFIG_A); /* wrong key */
    assert_int_equal(p4_docker_secret_verdict(w, 0, "shop", &res, &v), SECRET_FAILED);
    assert_string_equal(v.reason, "PullSecretInvalid");
    cJSON_Delete(res.body);
    res = typed_secret(NULL, ".dockerconfigjson", CONFIG_A);
    assert_int_equal(p4_docker_secret_verdict(w, 0, "shop", &res, &v), SECRET_FAILED);
    cJSON_Delete(res.body);

    /* A missing secret the spec names is an error; one the ServiceAccount names is skipped. */
    res = answer(P4_ERR_NOTFOUND, NULL);
    assert_int_equal(p4_docker_secret_verdict(w, 0, "shop", &res, &v), SECRET_FAILED);
    assert_verdict(&v, V_FAIL, G_PULLABLE, P4_FAIL_CLUSTER, "PullSecretNotFound",
                   "pull secret \"regcred\" (spec.image.pullSecrets) does not exist in namespace "
                   "shop, where the pods will pull from");
    assert_int_equal(p4_docker_secret_verdict(w, 1, "shop", &res, &v), SECRET_SKIPPED);
    res = answer(P4_ERR_FORBIDDEN, NULL);
    assert_int_equal(p4_docker_secret_verdict(w, 1, "shop", &res, &v), SECRET_FAILED);
    assert_verdict(&v, V_FAIL, G_PULLABLE, P4_FAIL_CLUSTER, "Forbidden", NULL);
    res = answer(P4_ERR_INTERNAL, NULL);
    assert_int_equal(p4_docker_secret_verdict(w, 1, "shop", &res, &v), SECRET_FAILED);
    assert_verdict(&v, V_FAIL, G_PULLABLE, P4_FAIL_TRANSIENT, "APIUnavailable", NULL);
    p4_docker_work_free(w);
}

static void give_payload(struct work *w, size_t i, const char *config)
{
    w->payload[i] = (unsigned char *)p4_strdup(config);
    w->payload_len[i] = strlen(config);
    w->payload_type[i] = P4_REGAUTH_DOCKERCONFIGJSON;
}

static void credentials_first_match_wins(void **state)
{
    static const char *const names[] = {"other", "first", "second"};
    struct work *w = work_for(names, 3);
    struct verdict v;

    (void)state;
    w->ca = (unsigned char *)p4_strdup("PEM");
    w->ca_len = 3;
    give_payload(w, 0, CONFIG_OTHER);
    give_payload(w, 1, CONFIG_A);
    give_payload(w, 2, CONFIG_B);
    assert_int_equal(p4_docker_credentials(w, "shop", &v), 0);
    assert_non_null(w->target.cred);
    assert_string_equal(w->secret_names[w->target.cred->secret], "first");
    assert_string_equal(w->target.cred->username, "a");
    assert_ptr_equal(w->target.ca_pem, w->ca);
    assert_int_equal(w->target.ca_len, 3);
    for (size_t i = 0; i < SECRETS_MAX; i++)
        assert_null(w->payload[i]); /* wiped once added */

    /* A later attempt: the first secret is gone (skipped); the second one answers. */
    give_payload(w, 0, CONFIG_OTHER);
    give_payload(w, 2, CONFIG_B);
    assert_int_equal(p4_docker_credentials(w, "shop", &v), 0);
    assert_non_null(w->target.cred);
    assert_string_equal(w->secret_names[w->target.cred->secret], "second");
    assert_int_equal(w->nsecrets, 2);

    give_payload(w, 0, CONFIG_OTHER);
    assert_int_equal(p4_docker_credentials(w, "shop", &v), 0);
    assert_null(w->target.cred); /* none for this registry: anonymous */
    p4_docker_work_free(w);
}

static void credentials_refuse_a_bad_payload(void **state)
{
    static const char *const names[] = {"good", "broken"};
    struct work *w = work_for(names, 2);
    struct verdict v;

    (void)state;
    give_payload(w, 0, CONFIG_A);
    give_payload(w, 1, "{\"auths\":{\"registry.example.com\":{\"password\":\"s3cret-b\"");
    assert_int_equal(p4_docker_credentials(w, "shop", &v), P4_ERR_INVALID);
    assert_verdict(&v, V_FAIL, G_PULLABLE, P4_FAIL_CLUSTER, "PullSecretInvalid", NULL);
    assert_prefix(v.err.message, "pull secret \"broken\" in namespace shop: ");
    assert_null(strstr(v.err.message, "s3cret")); /* no secret in the message */
    assert_null(w->payload[0]);
    assert_null(w->payload[1]);
    p4_docker_work_free(w);
}

/* ---- the scan ---- */

static void max_severity_defaults_to_critical(void **state)
{
    static const struct {
        const char *image;
        enum p4_severity want;
    } cases[] = {
        {"{}", P4_SEV_CRITICAL},
        {"{'scan':{'maxSeverity':'HIGH'}}", P4_SEV_HIGH},
        {"{'scan':{'maxSeverity':'low'}}", P4_SEV_LOW},
        {"{'scan':{'maxSeverity':'severe'}}", P4_SEV_CRITICAL},
        {"{'scan':{'maxSeverity':3}}", P4_SEV_CRITICAL},
        {"{'scan':null}", P4_SEV_CRITICAL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *image = test_json(cases[i].image);
        assert_int_equal(p4_docker_max_severity(image), cases[i].want);
        cJSON_Delete(image);
    }
    assert_int_equal(p4_docker_max_severity(NULL), P4_SEV_CRITICAL);
}

#define TRIVY_HIGH                                                                                 \
    "{\"SchemaVersion\":2,\"Results\":[{\"Vulnerabilities\":[{\"VulnerabilityID\":\"CVE-1\","      \
    "\"PkgName\":\"openssl\",\"InstalledVersion\":\"3.0.1\",\"FixedVersion\":\"3.0.2\","           \
    "\"Severity\":\"HIGH\"}]}]}"

static void scan_verdict_against_max_severity(void **state)
{
    cJSON *image = test_json("{'scan':{'maxSeverity':'HIGH'}}");
    struct verdict v;

    (void)state;
    p4_docker_report_verdict(image, TRIVY_HIGH, strlen(TRIVY_HIGH), REPORT, &v);
    assert_verdict(&v, V_FAIL, G_SCANNED, P4_FAIL_ARTIFACT, "VulnerabilitiesFound",
                   "report " REPORT " attached to the image (trivy-json): 1 vulnerability at or "
                   "above HIGH (1 HIGH): CVE-1 in openssl 3.0.1 (HIGH, fixed in 3.0.2)");
    cJSON_Delete(image);
    image = test_json("{}"); /* CRITICAL: the HIGH finding passes */
    p4_docker_report_verdict(image, TRIVY_HIGH, strlen(TRIVY_HIGH), REPORT, &v);
    assert_verdict(&v, V_PASS, G_SCANNED, P4_FAIL_NONE, "ScanPassed",
                   "report " REPORT " attached to the image (trivy-json): no vulnerabilities at "
                   "or above CRITICAL (1 found: 1 HIGH)");
    p4_docker_report_verdict(image, "{\"runs\":", 8, REPORT, &v);
    assert_verdict(&v, V_FAIL, G_SCANNED, P4_FAIL_ARTIFACT, "ScanReportInvalid", NULL);
    assert_int_equal(v.err.code, P4_ERR_PARSE);
    cJSON_Delete(image);
}

static void no_report_pass_wait_or_fail(void **state)
{
    cJSON *optional = test_json("{'scan':{'required':false}}");
    cJSON *required = test_json("{'scan':{'required':true}}");
    cJSON *quick = test_json("{'scan':{'required':true,'timeout':'30s'}}");
    struct verdict v;

    (void)state;
    p4_docker_no_report_verdict(optional, DIGEST, 1000, 99999, &v);
    assert_verdict(&v, V_PASS, G_SCANNED, P4_FAIL_NONE, "NotScanned",
                   "no vulnerability report for " DIGEST " (no VulnerabilityReport, no referrer "
                   "in the registry); spec.image.scan.required is false");
    p4_docker_no_report_verdict(required, DIGEST, 1000, 1000 + 599, &v);
    assert_verdict(&v, V_WAIT, G_SCANNED, P4_FAIL_NONE, "ScanPending",
                   "waiting for a vulnerability report for " DIGEST " (a VulnerabilityReport or "
                   "a referrer in the registry); spec.image.scan.required is true");
    p4_docker_no_report_verdict(required, DIGEST, 1000, 1000 + 600, &v); /* 10 min by default */
    assert_verdict(&v, V_FAIL, G_SCANNED, P4_FAIL_ARTIFACT, "ScanReportMissing",
                   "no vulnerability report for " DIGEST " appeared within "
                   "spec.image.scan.timeout; scan the image and attach the report, or set "
                   "spec.image.scan.required to false");
    p4_docker_no_report_verdict(quick, DIGEST, 1000, 1029, &v);
    assert_int_equal(v.outcome, V_WAIT);
    p4_docker_no_report_verdict(quick, DIGEST, 1000, 1030, &v);
    assert_int_equal(v.outcome, V_FAIL);
    cJSON_Delete(optional);
    cJSON_Delete(required);
    cJSON_Delete(quick);
}

#define VULNREPORT(ns, name, digest, severity)                                                     \
    "{'kind':'VulnerabilityReport','metadata':{'namespace':'" ns "','name':'" name "'},"           \
    "'report':{'artifact':{'digest':'" digest "'},'vulnerabilities':[{'vulnerabilityID':"          \
    "'CVE-2','resource':'zlib','installedVersion':'1.2','severity':'" severity "'}]}}"

static void vulnerability_reports(void **state)
{
    const char *digests[] = {DIGEST, AMD64, ARM64};
    cJSON *image = test_json("{}");
    struct p4_kube_result res = answer(P4_ERR_NOTFOUND, NULL);
    struct verdict v;

    (void)state;
    assert_false(p4_docker_vulnreports_verdict(image, &res, digests, 3, &v));
    res = answer(P4_ERR_FORBIDDEN, NULL); /* we may not read them: ask the registry */
    assert_false(p4_docker_vulnreports_verdict(image, &res, digests, 3, &v));
    res = answer(P4_ERR_UNAVAILABLE, NULL);
    assert_true(p4_docker_vulnreports_verdict(image, &res, digests, 3, &v));
    assert_verdict(&v, V_FAIL, G_SCANNED, P4_FAIL_TRANSIENT, "APIUnavailable", NULL);

    res = answer(0, "{'items':[" VULNREPORT("shop", "other", REPORT, "CRITICAL") "]}");
    assert_false(p4_docker_vulnreports_verdict(image, &res, digests, 3, &v));
    cJSON_Delete(res.body);

    /* A platform manifest's report counts; the first matching one decides. */
    res = answer(
        0, "{'items':[" VULNREPORT("shop", "other", REPORT, "CRITICAL") "," VULNREPORT(
               "shop", "arm", ARM64, "CRITICAL") "," VULNREPORT("shop", "amd", AMD64, "LOW") "]}");
    assert_true(p4_docker_vulnreports_verdict(image, &res, digests, 3, &v));
    assert_verdict(&v, V_FAIL, G_SCANNED, P4_FAIL_ARTIFACT, "VulnerabilitiesFound", NULL);
    assert_prefix(v.err.message, "VulnerabilityReport shop/arm (VulnerabilityReport): 1 ");
    assert_false(p4_docker_vulnreports_verdict(image, &res, digests, 1, &v));
    cJSON_Delete(res.body);

    res = answer(0, "{'items':[{'kind':'VulnerabilityReport','report':{'artifact':{'digest':'" AMD64
                    "'},'vulnerabilities':7}}]}");
    assert_true(p4_docker_vulnreports_verdict(image, &res, digests, 3, &v));
    assert_verdict(&v, V_FAIL, G_SCANNED, P4_FAIL_ARTIFACT, "ScanReportInvalid", NULL);
    cJSON_Delete(res.body);
    cJSON_Delete(image);
}

#define INDEX_OF(entries)                                                                          \
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","              \
    "\"manifests\":[" entries "]}"
#define REFERRER(digest, type)                                                                     \
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" digest           \
    "\",\"size\":512,\"artifactType\":\"" type "\"}"

static void referrers_pick_a_scan_report(void **state)
{
    static const char sarif[] =
        INDEX_OF(REFERRER(SIGN, "application/vnd.dev.cosign.artifact.sig.v1+json") "," REFERRER(
            REPORT, "application/sarif+json") "," REFERRER(AMD64, "application/vnd.trivy+json"));
    static const char trivy[] = INDEX_OF(REFERRER(AMD64, "application/vnd.trivy.report+json"));
    static const char none[] = INDEX_OF(REFERRER(SIGN, "application/spdx+json"));
    char *found;

    (void)state;
    found = p4_oci_pick_referrer(sarif, strlen(sarif), p4_scan_report_type);
    assert_non_null(found);
    assert_string_equal(found, REPORT);
    free(found);
    found = p4_oci_pick_referrer(trivy, strlen(trivy), p4_scan_report_type);
    assert_non_null(found);
    assert_string_equal(found, AMD64);
    free(found);
    assert_null(p4_oci_pick_referrer(none, strlen(none), p4_scan_report_type));
    assert_null(p4_oci_pick_referrer(INDEX_OF(""), strlen(INDEX_OF("")), p4_scan_report_type));
    assert_null(p4_oci_pick_referrer("not json", 8, p4_scan_report_type));
}

/* ---- the signature ---- */

#define SIG_MANIFEST                                                                               \
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","           \
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":233,"         \
    "\"digest\":\"" AMD64 "\"},\"layers\":[{\"mediaType\":"                                        \
    "\"application/vnd.dev.cosign.simplesigning.v1+json\",\"size\":250,\"digest\":\"" SIGN         \
    "\",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"MEUCIQ==\"}}]}"

static void signature_manifest_answers(void **state)
{
    struct p4_cosign_sigs sigs = {0};
    struct p4_error e = error_of(P4_ERR_NOTFOUND, "registry.example.com: manifest unknown");
    struct verdict v;

    (void)state;
    assert_false(p4_docker_sigs_verdict(0, NULL, SIG_MANIFEST, strlen(SIG_MANIFEST), DIGEST,
                                        "registry.example.com", &sigs, &v));
    assert_int_equal(sigs.n, 1);
    assert_string_equal(sigs.layers[0].digest, SIGN);

    assert_true(p4_docker_sigs_verdict(P4_ERR_NOTFOUND, &e, NULL, 0, DIGEST, "registry.example.com",
                                       &sigs, &v));
    assert_int_equal(sigs.n, 0); /* the last signatures are let go */
    assert_verdict(&v, V_FAIL, G_SIGNED, P4_FAIL_ARTIFACT, "SignatureNotFound",
                   DIGEST " has no cosign signature in registry registry.example.com "
                          "(registry.example.com: manifest unknown)");
    assert_true(
        p4_docker_sigs_verdict(0, NULL, "{}", 2, DIGEST, "registry.example.com", &sigs, &v));
    assert_verdict(&v, V_FAIL, G_SIGNED, P4_FAIL_ARTIFACT, "SignatureNotFound", NULL);
    assert_prefix(v.err.message,
                  DIGEST " has no cosign signature in registry registry.example.com (");
    p4_cosign_sigs_free(&sigs);
}

/* ---- the build Job ---- */

#define OWNED "'metadata':{'ownerReferences':[{'uid':'uid-1'}]}"

static void job_names_fit(void **state)
{
    char name[64];

    (void)state;
    p4_docker_job_name("web", 7, name, sizeof(name));
    assert_string_equal(name, "web-build-7");
    p4_docker_job_name("a-very-long-resource-name-that-goes-on-and-on-and-on", 123456789, name,
                       sizeof(name));
    assert_string_equal(name, "a-very-long-resource-name-that-goes-on-a-build-123456789");
    assert_true(strlen(name) <= 63);
}

static void job_states(void **state)
{
    static const struct {
        const char *job;
        enum job_state want;
        const char *why;
    } cases[] = {
        {"{'metadata':{'ownerReferences':[{'uid':'uid-2'}]},'status':{'conditions':[{'type':"
         "'Complete','status':'True'}]}}",
         JOB_UNSEEN, NULL},
        {"{" OWNED "}", JOB_RUNNING, NULL},
        {"{" OWNED ",'status':{'conditions':[{'type':'Complete','status':'False'}]}}", JOB_RUNNING,
         NULL},
        {"{" OWNED ",'status':{'conditions':[{'type':'Complete','status':'True'}]}}", JOB_SUCCEEDED,
         NULL},
        {"{" OWNED ",'status':{'conditions':[{'type':'Failed','status':'True','reason':"
         "'BackoffLimitExceeded','message':'Job has reached the specified backoff limit'}]}}",
         JOB_FAILED, "BackoffLimitExceeded: Job has reached the specified backoff limit"},
        {"{" OWNED ",'status':{'conditions':[{'type':'Failed','status':'True'}]}}", JOB_FAILED,
         "Failed: "},
        {"{" OWNED ",'status':{'conditions':[{'type':'Failed','status':'True'},{'type':"
         "'Complete','status':'True'}]}}",
         JOB_SUCCEEDED, NULL},
    };
    char why[128];

    (void)state;
    assert_int_equal(p4_docker_job_state(NULL, "uid-1", why, sizeof(why)), JOB_UNSEEN);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *job = test_json(cases[i].job);
        (void)snprintf(why, sizeof(why), "untouched");
        assert_int_equal(p4_docker_job_state(job, "uid-1", why, sizeof(why)), cases[i].want);
        assert_string_equal(why, cases[i].why ? cases[i].why : "untouched");
        cJSON_Delete(job);
    }
}

static void build_failures(void **state)
{
    struct p4_error e = error_of(P4_ERR_INVALID, "spec.template.spec.containers: Required value");
    struct verdict v;

    (void)state;
    p4_docker_build_failed_verdict("shop", "web-build-3", "BackoffLimitExceeded: limit",
                                   "step 3/7 | error: no such file", &v);
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_ARTIFACT, "BuildFailed",
                   "build Job shop/web-build-3 failed (BackoffLimitExceeded: limit); last log "
                   "lines: step 3/7 | error: no such file; fix the build and change the resource "
                   "to run it again");
    p4_docker_build_failed_verdict("shop", "web-build-3", "", NULL, &v);
    assert_string_equal(v.err.message, "build Job shop/web-build-3 failed (no reason given); fix "
                                       "the build and change the resource to run it again");

    assert_int_equal(p4_docker_job_created_verdict(0, NULL, &v), JOB_CREATED);
    assert_int_equal(p4_docker_job_created_verdict(P4_ERR_EXISTS, &e, &v), JOB_EXISTS);
    assert_int_equal(p4_docker_job_created_verdict(P4_ERR_INVALID, &e, &v), JOB_REFUSED);
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_CLUSTER, "BuildJobInvalid",
                   "the API server refused the build Job from spec.image.build.template: "
                   "spec.template.spec.containers: Required value");
    assert_true(v.no_recheck);
    assert_int_equal(p4_docker_job_created_verdict(P4_ERR_BADREQUEST, &e, &v), JOB_REFUSED);
    assert_string_equal(v.reason, "BuildJobInvalid");
    e = error_of(P4_ERR_FORBIDDEN, "jobs.batch is forbidden");
    assert_int_equal(p4_docker_job_created_verdict(P4_ERR_FORBIDDEN, &e, &v), JOB_REFUSED);
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_CLUSTER, "Forbidden", "jobs.batch is forbidden");
    assert_false(v.no_recheck); /* granting the right heals it */
    e = error_of(P4_ERR_FORBIDDEN, "jobs.batch \"web-build-3\" is forbidden: unable to create "
                                   "new content in namespace shop because it is being terminated");
    assert_int_equal(p4_docker_job_created_verdict(P4_ERR_FORBIDDEN, &e, &v), JOB_REFUSED);
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_TRANSIENT, "NamespaceTerminating", e.message);
    e = error_of(P4_ERR_UNAVAILABLE, "the API server is down");
    assert_int_equal(p4_docker_job_created_verdict(P4_ERR_UNAVAILABLE, &e, &v), JOB_REFUSED);
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_TRANSIENT, "APIUnavailable", NULL);
}

static void existing_jobs(void **state)
{
    cJSON *ours = test_json("{" OWNED "}");
    cJSON *theirs = test_json("{'metadata':{'ownerReferences':[{'uid':'uid-9'}]}}");
    struct p4_error e = error_of(P4_ERR_FORBIDDEN, "get jobs.batch is forbidden");
    struct verdict v;

    (void)state;
    assert_false(p4_docker_job_existing_verdict(0, NULL, ours, "uid-1", "shop", "web-build-3", &v));
    assert_true(
        p4_docker_job_existing_verdict(0, NULL, theirs, "uid-1", "shop", "web-build-3", &v));
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_CLUSTER, "BuildJobConflict",
                   "a Job shop/web-build-3 exists that this Phase4Deployment does not own; "
                   "phase4-operator leaves it alone: delete or rename it");
    assert_true(v.no_recheck);
    assert_true(p4_docker_job_existing_verdict(P4_ERR_FORBIDDEN, &e, NULL, "uid-1", "shop",
                                               "web-build-3", &v));
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_CLUSTER, "APIUnavailable", e.message);
    assert_false(v.no_recheck);
    e = error_of(P4_ERR_TIMEOUT, "timed out");
    assert_true(p4_docker_job_existing_verdict(P4_ERR_TIMEOUT, &e, NULL, "uid-1", "shop",
                                               "web-build-3", &v));
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_TRANSIENT, "APIUnavailable", "timed out");
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
}

static void build_log_of_the_newest_pod(void **state)
{
    cJSON *pods = test_json(
        "{'items':[{'metadata':{'name':'web-build-3-aaaaa','creationTimestamp':"
        "'2024-03-01T10:00:00Z'},'spec':{'containers':[{'name':'kaniko'}]}},"
        "{'metadata':{'name':'web-build-3-bbbbb','creationTimestamp':'2024-03-01T10:05:00Z'},"
        "'spec':{'containers':[{'name':'kaniko'},{'name':'sidecar'}]}},"
        "{'metadata':{'name':'web-build-3-ccccc','creationTimestamp':'2024-03-01T09:00:00Z'},"
        "'spec':{'containers':[{'name':'kaniko'}]}}]}");
    char path[1200];

    (void)state;
    assert_true(p4_docker_build_log_path(pods, "shop", path, sizeof(path)));
    assert_string_equal(path, "/api/v1/namespaces/shop/pods/web-build-3-bbbbb/log?container=kaniko"
                              "&tailLines=5&limitBytes=4096");
    cJSON_Delete(pods);
    pods = test_json("{'items':[{'metadata':{'name':'p'},'spec':{'containers':[]}}]}");
    assert_false(p4_docker_build_log_path(pods, "shop", path, sizeof(path)));
    cJSON_Delete(pods);
    pods = test_json("{'items':[]}");
    assert_false(p4_docker_build_log_path(pods, "shop", path, sizeof(path)));
    assert_false(p4_docker_build_log_path(NULL, "shop", path, sizeof(path)));
    cJSON_Delete(pods);
}

static void job_object_from_the_template(void **state)
{
    cJSON *image = test_json("{'build':{'timeout':'1500ms','template':{'backoffLimit':0,"
                             "'template':{'spec':{'restartPolicy':'Never'}}}}}");
    cJSON *job = p4_docker_job_object(image, "shop", "web", "uid-1", 3, "web-build-3");
    double deadline = 0;

    (void)state;
    assert_string_equal(p4_json_str(job, "kind"), "Job");
    assert_string_equal(p4_json_str(job, "metadata.name"), "web-build-3");
    assert_string_equal(p4_json_str(job, "metadata.namespace"), "shop");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(p4_json_get(job, "metadata.labels"),
                                                         "phase4.io/generation")
                            ->valuestring,
                        "3");
    assert_true(p4_owned_by(job, "uid-1"));
    assert_string_equal(p4_json_str(job, "spec.template.spec.restartPolicy"), "Never");
    deadline = cJSON_GetNumberValue(p4_json_get(job, "spec.activeDeadlineSeconds"));
    assert_true(deadline == 2.0); /* rounded up to whole seconds */
    cJSON_Delete(job);
    cJSON_Delete(image);

    image = test_json("{'build':{'template':{'activeDeadlineSeconds':60}}}");
    job = p4_docker_job_object(image, "shop", "web", "uid-1", 3, "web-build-3");
    assert_true(cJSON_GetNumberValue(p4_json_get(job, "spec.activeDeadlineSeconds")) == 60.0);
    cJSON_Delete(job);
    cJSON_Delete(image);

    image = test_json("{'build':{'template':'not an object'}}");
    job = p4_docker_job_object(image, "shop", "web", "uid-1", 3, "web-build-3");
    assert_true(cJSON_GetNumberValue(p4_json_get(job, "spec.activeDeadlineSeconds")) == 1800.0);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(job, "spec")), 1);
    cJSON_Delete(job);
    cJSON_Delete(image);
}

/* ---- the resource ---- */

static void image_references(void **state)
{
    static const struct {
        const char *image, *want;
    } cases[] = {
        {"{'repository':'registry.example.com/team/app','tag':'1.0'}",
         "registry.example.com/team/app:1.0"},
        {"{'repository':'team/app','tag':'1.0','digest':'" DIGEST "'}", "team/app@" DIGEST},
        {"{'repository':'team/app'}", "team/app:latest"},
        {"{}", ":latest"},
    };
    cJSON *bad = test_json("{'repository':'Team/App'}");
    char ref[700];
    struct verdict v;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *image = test_json(cases[i].image);
        p4_docker_image_ref_text(image, ref, sizeof(ref));
        assert_string_equal(ref, cases[i].want);
        if (i < 3)
            assert_false(p4_docker_image_ref_verdict(image, &v));
        cJSON_Delete(image);
    }
    assert_true(p4_docker_image_ref_verdict(bad, &v));
    assert_verdict(&v, V_FAIL, G_BUILT, P4_FAIL_CLUSTER, "InvalidImageReference", NULL);
    assert_true(v.no_recheck);
    assert_prefix(v.err.message, "spec.image does not name an image: ");
    cJSON_Delete(bad);
}

static void registry_hosts(void **state)
{
    char host[256];

    (void)state;
    p4_docker_registry_host("docker.io", host, sizeof(host));
    assert_string_equal(host, "registry-1.docker.io");
    p4_docker_registry_host("registry.example.com:5000", host, sizeof(host));
    assert_string_equal(host, "registry.example.com:5000");
    p4_docker_registry_host(NULL, host, sizeof(host));
    assert_string_equal(host, "");
}

static void pinned_digest_of_this_generation_only(void **state)
{
    cJSON *obj = test_json("{'status':{'observedGeneration':4,'image':{'digest':'" DIGEST "'}}}");
    cJSON *tag = test_json("{'status':{'observedGeneration':4,'image':{'digest':'1.0'}}}");
    char digest[80] = "";

    (void)state;
    assert_false(p4_docker_pinned_digest(obj, 5, digest, sizeof(digest)));
    assert_string_equal(digest, "");
    assert_false(p4_docker_pinned_digest(tag, 4, digest, sizeof(digest)));
    assert_true(p4_docker_pinned_digest(obj, 4, digest, sizeof(digest)));
    assert_string_equal(digest, DIGEST);
    cJSON_Delete(obj);
    obj = test_json("{'status':{'image':{'digest':'" DIGEST "'}}}");
    assert_false(p4_docker_pinned_digest(obj, 1, digest, sizeof(digest)));
    cJSON_Delete(obj);
    cJSON_Delete(tag);
}

static void image_status(void **state)
{
    cJSON *st = p4_docker_image_status(DIGEST, "linux/amd64, linux/arm/v7,,linux/arm64");
    const cJSON *plats = p4_json_get(st, "image.platforms");

    (void)state;
    assert_string_equal(p4_json_str(st, "image.digest"), DIGEST);
    assert_int_equal(cJSON_GetArraySize(plats), 3);
    assert_string_equal(cJSON_GetArrayItem(plats, 1)->valuestring, "linux/arm/v7");
    assert_string_equal(cJSON_GetArrayItem(plats, 2)->valuestring, "linux/arm64");
    cJSON_Delete(st);
    st = p4_docker_image_status(DIGEST, NULL);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "image.platforms")), 0);
    cJSON_Delete(st);
    assert_null(p4_docker_image_status("", "linux/amd64"));
}

/* One VulnerabilityReports list serves the runs that ask within a few seconds of it. */
static void vulnreports_list_shared_a_while(void **state)
{
    (void)state;
    assert_false(p4_docker_vulnreports_fresh(false, 0, 0)); /* none came yet */
    assert_true(p4_docker_vulnreports_fresh(true, 1000, 1000));
    assert_true(p4_docker_vulnreports_fresh(true, 1000, 1000 + VULNREPORTS_SHARE_MS - 1));
    assert_false(p4_docker_vulnreports_fresh(true, 1000, 1000 + VULNREPORTS_SHARE_MS));
}

/* Where discovery said the CRD is not served, it is asked again only after a while. */
static void vulnreports_unserved_asked_again_later(void **state)
{
    (void)state;
    assert_true(p4_docker_vulnreports_recheck(false, 0, 0)); /* never said: ask */
    assert_false(p4_docker_vulnreports_recheck(true, 5000, 5000));
    assert_false(p4_docker_vulnreports_recheck(true, 5000, 5000 + VULNREPORTS_RECHECK_MS - 1));
    assert_true(p4_docker_vulnreports_recheck(true, 5000, 5000 + VULNREPORTS_RECHECK_MS));
}

/* The default ServiceAccount's pull secret names serve the namespace's runs a short while. */
static void service_account_names_kept_briefly(void **state)
{
    (void)state;
    assert_true(p4_docker_sa_fresh(1000, 1000));
    assert_true(p4_docker_sa_fresh(1000, 1000 + P4_DOCKER_SA_TTL_MS - 1));
    assert_false(p4_docker_sa_fresh(1000, 1000 + P4_DOCKER_SA_TTL_MS)); /* read again */
    assert_false(p4_docker_sa_fresh(1000, 999));                        /* a clock behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gate_names_in_status_order),
        cmocka_unit_test(registry_auth_names_the_secrets),
        cmocka_unit_test(registry_tls_and_outages),
        cmocka_unit_test(registry_other_failures_are_the_callers),
        cmocka_unit_test(check_reference_problems),
        cmocka_unit_test(check_platform_and_content_problems),
        cmocka_unit_test(platforms_once_each_and_bounded),
        cmocka_unit_test(pull_secrets_spec_first_once_each),
        cmocka_unit_test(node_platforms_from_the_node_list),
        cmocka_unit_test(kube_read_failures),
        cmocka_unit_test(ca_bundle_answers),
        cmocka_unit_test(signature_key_answers),
        cmocka_unit_test(pull_secret_answers),
        cmocka_unit_test(credentials_first_match_wins),
        cmocka_unit_test(credentials_refuse_a_bad_payload),
        cmocka_unit_test(max_severity_defaults_to_critical),
        cmocka_unit_test(scan_verdict_against_max_severity),
        cmocka_unit_test(no_report_pass_wait_or_fail),
        cmocka_unit_test(vulnerability_reports),
        cmocka_unit_test(referrers_pick_a_scan_report),
        cmocka_unit_test(signature_manifest_answers),
        cmocka_unit_test(job_names_fit),
        cmocka_unit_test(job_states),
        cmocka_unit_test(build_failures),
        cmocka_unit_test(existing_jobs),
        cmocka_unit_test(build_log_of_the_newest_pod),
        cmocka_unit_test(job_object_from_the_template),
        cmocka_unit_test(image_references),
        cmocka_unit_test(registry_hosts),
        cmocka_unit_test(pinned_digest_of_this_generation_only),
        cmocka_unit_test(image_status),
        cmocka_unit_test(vulnreports_list_shared_a_while),
        cmocka_unit_test(vulnreports_unserved_asked_again_later),
        cmocka_unit_test(service_account_names_kept_briefly),
    };

    return cmocka_run_group_tests_name("dockerstage", tests, NULL, NULL);
}
