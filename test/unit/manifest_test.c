/*
 * manifest_test.c: the manifest Secret's compression (p4_gzip), read back as gzip, and the
 * Secret read back (p4_manifest_secret_text): type, key, base64, gzip framing, size limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */
#define ZLIB_CONST
#include <openssl/evp.h>
#include <zlib.h>

#include "phase4/core/error.h"
#include "phase4/reconciler/manifest.h"
#include "testjson.h"

/* gunzip len bytes into a new NUL-terminated buffer of at most max bytes. */
static char *gunzip(const unsigned char *gz, size_t len, size_t max, size_t *out_len)
{
    z_stream z;
    char *out = calloc(1, max + 1);

    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK); /* gzip framing only */
    z.next_in = gz;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)max;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    (void)inflateEnd(&z);
    return out;
}

static void gzip_round_trips(void **state)
{
    const char *manifest = "---\n# Source: webapp/templates/service.yaml\napiVersion: v1\n"
                           "kind: Service\nmetadata:\n  name: web-webapp\n";
    size_t gz_len = 0, back_len = 0;
    unsigned char *gz;
    char *back;

    (void)state;
    gz = p4_gzip(manifest, strlen(manifest), &gz_len);
    assert_non_null(gz);
    assert_true(gz_len > 18);
    assert_int_equal(gz[0], 0x1f); /* a gzip member, as `gunzip` and Go's compress/gzip read */
    assert_int_equal(gz[1], 0x8b);
    back = gunzip(gz, gz_len, 4096, &back_len);
    assert_int_equal(back_len, strlen(manifest));
    assert_string_equal(back, manifest);
    free(back);
    free(gz);
}

static void gzip_of_nothing_and_of_much(void **state)
{
    size_t big = (size_t)4 << 20, gz_len = 0, back_len = 0;
    char *text = malloc(big), *back;
    unsigned char *gz;

    (void)state;
    gz = p4_gzip("", 0, &gz_len); /* helm may render no object */
    assert_non_null(gz);
    back = gunzip(gz, gz_len, 16, &back_len);
    assert_int_equal(back_len, 0);
    free(back);
    free(gz);
    for (size_t i = 0; i < big; i++) /* rendered manifests repeat themselves a lot */
        text[i] = "kind: ConfigMap\n"[i % 16];
    gz = p4_gzip(text, big, &gz_len);
    assert_non_null(gz);
    assert_true(gz_len < big / 100);
    back = gunzip(gz, gz_len, big, &back_len);
    assert_int_equal(back_len, big);
    assert_memory_equal(back, text, big);
    free(back);
    free(gz);
    free(text);
}

/* ---- p4_manifest_secret_text ---- */

/* Standard padded base64 of len bytes, as the operator writes data[manifest.gz] (caller frees). */
static char *b64_of(const unsigned char *bytes, size_t len)
{
    char *b64 = malloc(4 * ((len + 2) / 3) + 1);

    assert_non_null(b64);
    (void)EVP_EncodeBlock((unsigned char *)b64, bytes, (int)len);
    return b64;
}

/* A manifest Secret as the API server returns it, type and data[manifest.gz] given (caller frees).
 */
static cJSON *secret_with(const char *type, const char *b64)
{
    size_t size = strlen(type) + strlen(b64) + 512;
    char *text = malloc(size);
    cJSON *secret;

    assert_non_null(text);
    (void)snprintf(text, size,
                   "{'apiVersion':'v1','kind':'Secret','metadata':{'name':'web.manifest.v3',"
                   "'namespace':'phase4-system','labels':{'app.kubernetes.io/managed-by':"
                   "'phase4-operator','phase4.io/name':'web','phase4.io/generation':'3'}},"
                   "'type':'%s','data':{'manifest.gz':'%s'}}",
                   type, b64);
    secret = test_json(text);
    free(text);
    return secret;
}

/* The manifest Secret of len bytes of bytes, which need not be gzip (caller frees). */
static cJSON *secret_of_bytes(const unsigned char *bytes, size_t len)
{
    char *b64 = b64_of(bytes, len);
    cJSON *secret = secret_with(P4_MANIFEST_SECRET_TYPE, b64);

    free(b64);
    return secret;
}

/* The manifest Secret the operator stores for len bytes of text (caller frees). */
static cJSON *secret_of_text(const char *text, size_t len)
{
    size_t gz_len = 0;
    unsigned char *gz = p4_gzip(text, len, &gz_len);
    cJSON *secret;

    assert_non_null(gz);
    secret = secret_of_bytes(gz, gz_len);
    free(gz);
    return secret;
}

/* p4_manifest_secret_text must refuse secret with code (and a reason and message). */
static void assert_refused(const cJSON *secret, size_t max, int code)
{
    struct p4_error err = {0};
    size_t len = 12345;
    char *text = p4_manifest_secret_text(secret, max, &len, &err);

    if (text != NULL) {
        free(text);
        fail_msg("read %zu bytes back, wanted error %d", len, code);
        return;
    }
    assert_int_equal(err.code, code);
    assert_non_null(err.reason);
    assert_string_equal(err.reason, p4_err_reason(code));
    assert_true(err.message[0] != '\0');
}

/* p4_manifest_secret_text must give back exactly len bytes of want. */
static void assert_reads_back(const cJSON *secret, size_t max, const char *want, size_t want_len)
{
    struct p4_error err = {0};
    size_t len = 12345;
    char *text = p4_manifest_secret_text(secret, max, &len, &err);

    if (text == NULL) {
        fail_msg("refused (%d): %s", err.code, err.message);
        return;
    }
    assert_int_equal(len, want_len);
    assert_memory_equal(text, want, want_len);
    assert_int_equal(text[len], '\0');
    free(text);
}

/* n bytes of a rendered manifest (ConfigMaps, each one different so it compresses as real ones). */
static char *manifest_of(size_t n)
{
    char *text = malloc(n + 1), doc[128];
    size_t at = 0;

    assert_non_null(text);
    for (unsigned i = 0; at < n; i++) {
        int k = snprintf(doc, sizeof(doc),
                         "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%u\n"
                         "data:\n  key: value-%u\n",
                         i, i * 2654435761u);
        size_t take = (size_t)k < n - at ? (size_t)k : n - at;
        memcpy(text + at, doc, take);
        at += take;
    }
    text[n] = '\0';
    return text;
}

static void secret_round_trips(void **state)
{
    const char *manifest = "---\n# Source: webapp/templates/service.yaml\napiVersion: v1\n"
                           "kind: Service\nmetadata:\n  name: web-webapp\nspec:\n  ports:\n"
                           "  - port: 80\n---\n# Source: webapp/templates/deployment.yaml\n"
                           "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-webapp\n";
    cJSON *secret = secret_of_text(manifest, strlen(manifest));

    (void)state;
    assert_reads_back(secret, (size_t)1 << 20, manifest, strlen(manifest));
    assert_reads_back(secret, strlen(manifest), manifest, strlen(manifest)); /* max is inclusive */
    cJSON_Delete(secret);
}

static void secret_of_empty_manifest(void **state)
{
    cJSON *secret = secret_of_text("", 0); /* helm may render no object */

    (void)state;
    assert_reads_back(secret, (size_t)1 << 20, "", 0);
    assert_reads_back(secret, 0, "", 0);
    cJSON_Delete(secret);
}

static void secret_of_wrong_type_or_shape(void **state)
{
    const char *manifest = "kind: ConfigMap\n";
    size_t gz_len = 0;
    unsigned char *gz = p4_gzip(manifest, strlen(manifest), &gz_len);
    char *b64 = b64_of(gz, gz_len), text[512];
    static const char *const shapes[] = {
        "{'type':'phase4.io/manifest','data':{'manifest':'%s'}}",        /* another key */
        "{'type':'phase4.io/manifest','data':{'manifest':{'gz':'%s'}}}", /* not a path */
        "{'type':'phase4.io/manifest','stringData':{'manifest.gz':'%s'}}",
        "{'type':'phase4.io/manifest','data':['manifest.gz','%s']}",
        "{'type':'phase4.io/manifest','manifest.gz':'%s'}",
        "{'data':{'manifest.gz':'%s'}}", /* no type */
        "{'type':'Opaque','data':{'manifest.gz':'%s'}}",
        "{'type':'phase4.io/Manifest','data':{'manifest.gz':'%s'}}",
        "{'type':'phase4.io/manifest2','data':{'manifest.gz':'%s'}}",
        "{'type':['phase4.io/manifest'],'data':{'manifest.gz':'%s'}}",
        "[{'type':'phase4.io/manifest','data':{'manifest.gz':'%s'}}]",
    };
    cJSON *secret;

    (void)state;
    assert_non_null(gz);
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        (void)snprintf(text, sizeof(text), shapes[i], b64);
        secret = test_json(text);
        assert_refused(secret, 4096, P4_ERR_INVALID);
        cJSON_Delete(secret);
    }
    /* the right shape reads */
    secret = secret_with(P4_MANIFEST_SECRET_TYPE, b64);
    assert_reads_back(secret, 4096, manifest, strlen(manifest));
    cJSON_Delete(secret);
    /* no key, or one that is not a string */
    secret = test_json("{'type':'phase4.io/manifest','data':{}}");
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
    secret = test_json("{'type':'phase4.io/manifest'}");
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
    secret = test_json("{'type':'phase4.io/manifest','data':{'manifest.gz':null}}");
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
    secret = test_json("{'type':'phase4.io/manifest','data':{'manifest.gz':42}}");
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
    secret = test_json("'phase4.io/manifest'");
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
    assert_refused(NULL, 4096, P4_ERR_INVALID);
    free(b64);
    free(gz);
}

static void secret_with_bad_base64(void **state)
{
    /* not base64, or base64 of too little to be gzip */
    static const char *const bad[] = {
        "",              /* nothing */
        "H4sI",          /* the start of a gzip header only */
        "H4sIAAAAAA",    /* no padding */
        "H4sI AAAAAA==", /* a space */
        "H4sI*AAAAA==",  /* outside the alphabet */
        "H4sI-_AAAA==",  /* the URL-safe alphabet */
        "H4sIAAAAAA===",
        "=H4sIAAAAAA=",
    };
    cJSON *secret;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        secret = secret_with(P4_MANIFEST_SECRET_TYPE, bad[i]);
        assert_refused(secret, 4096, P4_ERR_INVALID);
        cJSON_Delete(secret);
    }
}

static void secret_not_gzip(void **state)
{
    const char *plain = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";
    unsigned char zlib_framed[256];
    uLongf zlib_len = sizeof(zlib_framed);
    cJSON *secret;

    (void)state;
    secret = secret_of_bytes((const unsigned char *)plain, strlen(plain));
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
    /* deflate with zlib framing (what compress() writes) is not a gzip member */
    assert_int_equal(compress2(zlib_framed, &zlib_len, (const Bytef *)plain, (uLong)strlen(plain),
                               Z_BEST_COMPRESSION),
                     Z_OK);
    secret = secret_of_bytes(zlib_framed, zlib_len);
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
}

static void secret_gzip_truncated_or_corrupt(void **state)
{
    char *manifest = manifest_of(3000);
    size_t gz_len = 0;
    unsigned char *gz = p4_gzip(manifest, 3000, &gz_len);
    const size_t cuts[] = {1, 4, 8, 9, gz_len / 2, gz_len - 10};
    cJSON *secret;

    (void)state;
    assert_non_null(gz);
    assert_true(gz_len > 40);
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        secret = secret_of_bytes(gz, gz_len - cuts[i]); /* 8: the whole CRC and size trailer */
        assert_refused(secret, (size_t)1 << 20, P4_ERR_INVALID);
        cJSON_Delete(secret);
    }
    secret = secret_of_bytes(gz, 10); /* the gzip header alone */
    assert_refused(secret, (size_t)1 << 20, P4_ERR_INVALID);
    cJSON_Delete(secret);
    gz[gz_len - 6] ^= 0x01; /* the CRC-32 */
    secret = secret_of_bytes(gz, gz_len);
    assert_refused(secret, (size_t)1 << 20, P4_ERR_INVALID);
    cJSON_Delete(secret);
    gz[gz_len - 6] ^= 0x01;
    gz[gz_len - 3] ^= 0x01; /* ISIZE */
    secret = secret_of_bytes(gz, gz_len);
    assert_refused(secret, (size_t)1 << 20, P4_ERR_INVALID);
    cJSON_Delete(secret);
    gz[gz_len - 3] ^= 0x01;
    secret = secret_of_bytes(gz, gz_len); /* put back, it reads */
    assert_reads_back(secret, (size_t)1 << 20, manifest, 3000);
    cJSON_Delete(secret);
    free(gz);
    free(manifest);
}

static void secret_trailing_bytes(void **state)
{
    const char *manifest = "kind: ConfigMap\n";
    size_t gz_len = 0;
    unsigned char *gz = p4_gzip(manifest, strlen(manifest), &gz_len), *more;
    cJSON *secret;

    (void)state;
    assert_non_null(gz);
    more = malloc(2 * gz_len);
    assert_non_null(more);
    memcpy(more, gz, gz_len);
    more[gz_len] = 'x';
    secret = secret_of_bytes(more, gz_len + 1);
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
    more[gz_len] = '\0';
    secret = secret_of_bytes(more, gz_len + 1);
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
    memcpy(more + gz_len, gz, gz_len); /* a second gzip member: not what the operator writes */
    secret = secret_of_bytes(more, 2 * gz_len);
    assert_refused(secret, 4096, P4_ERR_INVALID);
    cJSON_Delete(secret);
    free(more);
    free(gz);
}

static void secret_larger_than_max(void **state)
{
    const size_t max = (size_t)100 << 10;
    char *big = manifest_of((size_t)200 << 10);
    char *bomb = malloc((size_t)16 << 20);
    cJSON *secret;

    (void)state;
    secret = secret_of_text(big, (size_t)200 << 10);
    assert_refused(secret, max, P4_ERR_TOOBIG);
    assert_reads_back(secret, (size_t)200 << 10, big, (size_t)200 << 10);
    cJSON_Delete(secret);
    secret = secret_of_text(big, max); /* exactly max bytes */
    assert_reads_back(secret, max, big, max);
    cJSON_Delete(secret);
    secret = secret_of_text(big, max + 1);
    assert_refused(secret, max, P4_ERR_TOOBIG);
    cJSON_Delete(secret);
    /* where the output buffer fills and grows: 64 KiB and 128 KiB */
    secret = secret_of_text(big, (size_t)64 << 10);
    assert_reads_back(secret, (size_t)64 << 10, big, (size_t)64 << 10);
    assert_reads_back(secret, ((size_t)64 << 10) + 1, big, (size_t)64 << 10);
    assert_reads_back(secret, max, big, (size_t)64 << 10);
    cJSON_Delete(secret);
    secret = secret_of_text(big, ((size_t)64 << 10) + 1);
    assert_reads_back(secret, max, big, ((size_t)64 << 10) + 1);
    assert_refused(secret, (size_t)64 << 10, P4_ERR_TOOBIG);
    cJSON_Delete(secret);
    secret = secret_of_text(big, (size_t)128 << 10);
    assert_reads_back(secret, (size_t)128 << 10, big, (size_t)128 << 10);
    assert_reads_back(secret, ((size_t)128 << 10) + 1, big, (size_t)128 << 10);
    assert_refused(secret, ((size_t)128 << 10) - 1, P4_ERR_TOOBIG);
    cJSON_Delete(secret);
    /* 16 MiB that gzip to a few KiB are refused without being held whole */
    assert_non_null(bomb);
    memset(bomb, 'a', (size_t)16 << 20);
    secret = secret_of_text(bomb, (size_t)16 << 20);
    assert_refused(secret, max, P4_ERR_TOOBIG);
    cJSON_Delete(secret);
    free(bomb);
    free(big);
}

static void secret_with_small_max(void **state)
{
    char *text = manifest_of((size_t)70 << 10);
    cJSON *secret;

    (void)state;
    secret = secret_of_text(text, 1000);
    assert_reads_back(secret, 1000, text, 1000);
    assert_reads_back(secret, 4096, text, 1000);
    assert_refused(secret, 999, P4_ERR_TOOBIG); /* under the first buffer's size too */
    assert_refused(secret, 0, P4_ERR_TOOBIG);
    cJSON_Delete(secret);
    secret = secret_of_text(text, 1001);
    assert_refused(secret, 1000, P4_ERR_TOOBIG);
    cJSON_Delete(secret);
    secret = secret_of_text(text, (size_t)64 << 10); /* exactly the first buffer */
    assert_refused(secret, ((size_t)64 << 10) - 1, P4_ERR_TOOBIG);
    assert_reads_back(secret, (size_t)64 << 10, text, (size_t)64 << 10);
    cJSON_Delete(secret);
    secret = secret_of_text(text, (size_t)70 << 10); /* past the first 64 KiB buffer */
    assert_refused(secret, 1000, P4_ERR_TOOBIG);
    assert_refused(secret, (size_t)32 << 10, P4_ERR_TOOBIG);
    cJSON_Delete(secret);
    free(text);
}

/* The chart's tests: helm.sh/hook naming test or test-success, among other words or alone. */
static void test_hooks_are_told_apart(void **state)
{
    static const struct {
        const char *obj;
        bool test;
    } cases[] = {
        {"{'metadata':{'annotations':{'helm.sh/hook':'test'}}}", true},
        {"{'metadata':{'annotations':{'helm.sh/hook':'test-success'}}}", true},
        {"{'metadata':{'annotations':{'helm.sh/hook':'pre-install, test '}}}", true},
        {"{'metadata':{'annotations':{'helm.sh/hook':'post-install'}}}", false},
        {"{'metadata':{'annotations':{'helm.sh/hook':'tests,test-failure'}}}", false},
        {"{'metadata':{'annotations':{'helm.sh/hook':''}}}", false},
        {"{'metadata':{'annotations':{'helm.sh/hook':7}}}", false},
        {"{'metadata':{'annotations':{'note':'test'}}}", false},
        {"{'metadata':{}}", false},
        {"[]", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = test_json(cases[i].obj);
        if (p4_manifest_test_hook(obj) != cases[i].test)
            fail_msg("%s: want %d", cases[i].obj, cases[i].test);
        cJSON_Delete(obj);
    }
    assert_false(p4_manifest_test_hook(NULL));
}

/* The generations p4_manifest_prunable returns, as "a,b,c", for obj at generation. */
static void prunable_text(const char *obj_text, int64_t generation, char *out, size_t size)
{
    cJSON *obj = test_json(obj_text);
    int64_t g[P4_MANIFEST_PRUNE_MAX];
    int n = p4_manifest_prunable(obj, generation, g);
    size_t len = 0;

    out[0] = '\0';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%lld", i ? "," : "", (long long)g[i]);
    cJSON_Delete(obj);
}

/* No history (a status from before it): the ten newest kept, the ten before them looked for. */
static void prunable_without_history(void **state)
{
    char got[256];

    (void)state;
    prunable_text("{}", 1, got, sizeof(got));
    assert_string_equal(got, "");
    prunable_text("{}", 10, got, sizeof(got));
    assert_string_equal(got, "");
    prunable_text("{}", 0, got, sizeof(got));
    assert_string_equal(got, "");
    prunable_text("{}", 13, got, sizeof(got));
    assert_string_equal(got, "3,2,1");
    prunable_text("{}", 100, got, sizeof(got));
    assert_string_equal(got, "90,89,88,87,86,85,84,83,82,81");
    /* the last good revision is kept even when older */
    prunable_text("{'status':{'lastKnownGoodRevision':88}}", 100, got, sizeof(got));
    assert_string_equal(got, "90,89,87,86,85,84,83,82,81");
}

/* History says which revisions stay; the last good one stays too, wherever it is. */
static void prunable_follows_history(void **state)
{
    char got[256];

    (void)state;
    /* ten revisions 11..20 in history: 1..10 go */
    prunable_text("{'status':{'history':[{'generation':20},{'generation':19},{'generation':18},"
                  "{'generation':17},{'generation':16},{'generation':15},{'generation':14},"
                  "{'generation':13},{'generation':12},{'generation':11}]}}",
                  20, got, sizeof(got));
    assert_string_equal(got, "10,9,8,7,6,5,4,3,2,1");
    /* ... but not generation 4, the last good revision */
    prunable_text("{'status':{'lastKnownGoodRevision':4,'history':[{'generation':20},"
                  "{'generation':19},{'generation':18},{'generation':17},{'generation':16},"
                  "{'generation':15},{'generation':14},{'generation':13},{'generation':12},"
                  "{'generation':11}]}}",
                  20, got, sizeof(got));
    assert_string_equal(got, "10,9,8,7,6,5,3,2,1");
    /* gaps in history (generations never run) are looked for, after those below it */
    prunable_text("{'status':{'history':[{'generation':9},{'generation':5},{'generation':4}]}}", 9,
                  got, sizeof(got));
    assert_string_equal(got, "3,2,1,8,7,6");
    /* the generation being stored is kept even before history names it */
    prunable_text("{'status':{'history':[{'generation':4},{'generation':3}]}}", 5, got,
                  sizeof(got));
    assert_string_equal(got, "2,1");
    /* bad entries (no number, newer than the generation, < 1) are ignored */
    prunable_text("{'status':{'history':[{'generation':'x'},{'generation':99},{'generation':0},"
                  "{},7,{'generation':3}]}}",
                  4, got, sizeof(got));
    assert_string_equal(got, "2,1");
    /* never more than P4_MANIFEST_PRUNE_MAX */
    prunable_text("{'status':{'history':[{'generation':1000},{'generation':500}]}}", 1000, got,
                  sizeof(got));
    assert_string_equal(got, "499,498,497,496,495,494,493,492,491,490,999,998,997,996,995,994,"
                             "993,992,991,990");
}

/* ---- the memo of stored manifests ---- */

static void memo_put(struct p4_manifest_memo *m, const char *key, const char *uid,
                     const char *secret, const char *rv, const char *text, uint64_t now)
{
    size_t gz_len = 0;
    unsigned char *gz = p4_gzip(text, strlen(text), &gz_len);

    assert_non_null(gz);
    p4_manifest_memo_put(m, key, uid, secret, rv, gz, gz_len, now);
    free(gz);
}

static void memo_hands_over_once(void **state)
{
    struct p4_manifest_memo *m = p4_manifest_memo_new();
    char rv[64] = "";
    size_t len = 0;
    char *text;

    (void)state;
    memo_put(m, "ns/web", "u-1", "phase4.web.v2", "41", "kind: ConfigMap\n", 1000);
    assert_int_equal(p4_manifest_memo_len(m), 1);
    text = p4_manifest_memo_take(m, "ns/web", "u-1", "phase4.web.v2", 2000, 1 << 20, &len, rv,
                                 sizeof(rv));
    assert_non_null(text);
    assert_string_equal(text, "kind: ConfigMap\n");
    assert_int_equal(len, strlen("kind: ConfigMap\n"));
    assert_string_equal(rv, "41");
    free(text);
    /* taken: the next attempt reads the Secret */
    assert_int_equal(p4_manifest_memo_len(m), 0);
    assert_null(p4_manifest_memo_take(m, "ns/web", "u-1", "phase4.web.v2", 2000, 1 << 20, &len, rv,
                                      sizeof(rv)));
    p4_manifest_memo_free(m);
}

static void memo_never_hands_a_stale_or_foreign_copy(void **state)
{
    struct p4_manifest_memo *m = p4_manifest_memo_new();
    size_t len = 0;

    (void)state;
    /* another uid (deleted and made again under the same name): dropped, not used */
    memo_put(m, "ns/web", "u-1", "phase4.web.v1", "7", "a: 1\n", 1000);
    assert_null(
        p4_manifest_memo_take(m, "ns/web", "u-2", "phase4.web.v1", 1000, 1 << 20, &len, NULL, 0));
    assert_int_equal(p4_manifest_memo_len(m), 0);
    /* another Secret (a rollback reads an older generation's): left for its own take */
    memo_put(m, "ns/web", "u-1", "phase4.web.v3", "9", "a: 3\n", 1000);
    assert_null(
        p4_manifest_memo_take(m, "ns/web", "u-1", "phase4.web.v2", 1000, 1 << 20, &len, NULL, 0));
    assert_int_equal(p4_manifest_memo_len(m), 1);
    /* the generation moved on: the new store replaces the old copy */
    memo_put(m, "ns/web", "u-1", "phase4.web.v4", "12", "a: 4\n", 1000);
    assert_int_equal(p4_manifest_memo_len(m), 1);
    assert_null(
        p4_manifest_memo_take(m, "ns/web", "u-1", "phase4.web.v3", 1000, 1 << 20, &len, NULL, 0));
    /* too old: not used, and gone */
    assert_null(p4_manifest_memo_take(m, "ns/web", "u-1", "phase4.web.v4",
                                      1000 + P4_MANIFEST_MEMO_TTL_MS + 1, 1 << 20, &len, NULL, 0));
    assert_int_equal(p4_manifest_memo_len(m), 0);
    /* a store without a resourceVersion (or uid) keeps nothing */
    memo_put(m, "ns/web", "u-1", "phase4.web.v4", "", "a: 4\n", 1000);
    memo_put(m, "ns/api", "", "phase4.api.v1", "3", "a: 4\n", 1000);
    assert_int_equal(p4_manifest_memo_len(m), 0);
    /* larger than the taker's limit: not used (the Secret read says why) */
    memo_put(m, "ns/web", "u-1", "phase4.web.v4", "13", "0123456789", 1000);
    assert_null(p4_manifest_memo_take(m, "ns/web", "u-1", "phase4.web.v4", 1000, 4, &len, NULL, 0));
    /* NULLs are refused */
    assert_null(p4_manifest_memo_take(NULL, "ns/web", "u-1", "s", 0, 1, &len, NULL, 0));
    p4_manifest_memo_put(NULL, "k", "u", "s", "1", (const unsigned char *)"x", 1, 0);
    p4_manifest_memo_free(m);
    p4_manifest_memo_free(NULL);
}

static void memo_sweeps_what_nobody_took(void **state)
{
    struct p4_manifest_memo *m = p4_manifest_memo_new();

    (void)state;
    for (int i = 0; i < 50; i++) {
        char key[32];
        (void)snprintf(key, sizeof(key), "ns/r%d", i);
        memo_put(m, key, "u", "phase4.r.v1", "1", "a: 1\n", 1000);
    }
    assert_int_equal(p4_manifest_memo_len(m), 50);
    /* a put long after: the others (waiting on an approval, or deleted) are swept */
    memo_put(m, "ns/new", "u", "phase4.new.v1", "2", "a: 1\n", 1000 + 2 * P4_MANIFEST_MEMO_TTL_MS);
    assert_int_equal(p4_manifest_memo_len(m), 1);
    p4_manifest_memo_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gzip_round_trips),
        cmocka_unit_test(test_hooks_are_told_apart),
        cmocka_unit_test(gzip_of_nothing_and_of_much),
        cmocka_unit_test(secret_round_trips),
        cmocka_unit_test(secret_of_empty_manifest),
        cmocka_unit_test(secret_of_wrong_type_or_shape),
        cmocka_unit_test(secret_with_bad_base64),
        cmocka_unit_test(secret_not_gzip),
        cmocka_unit_test(secret_gzip_truncated_or_corrupt),
        cmocka_unit_test(secret_trailing_bytes),
        cmocka_unit_test(secret_larger_than_max),
        cmocka_unit_test(secret_with_small_max),
        cmocka_unit_test(prunable_without_history),
        cmocka_unit_test(prunable_follows_history),
        cmocka_unit_test(memo_hands_over_once),
        cmocka_unit_test(memo_never_hands_a_stale_or_foreign_copy),
        cmocka_unit_test(memo_sweeps_what_nobody_took),
    };
    return cmocka_run_group_tests_name("helmstage", tests, NULL, NULL);
}
