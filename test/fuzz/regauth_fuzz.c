/*
 * regauth_fuzz.c: libFuzzer target for pull secrets, WWW-Authenticate values,
 * image references and token service responses.
 *
 * Input layout: the first byte picks the parser (mod 5: dockerconfigjson,
 * dockercfg, WWW-Authenticate, image reference, token response), the rest is
 * its input. Results must be consistent: error messages clean and matching
 * the code, parsed references surviving a round trip, every entry and
 * challenge fully set, and lookups answering only 0 or P4_ERR_NOTFOUND.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/oci/authtoken.h"
#include "phase4/oci/imageref.h"
#include "phase4/oci/regauth.h"

static void check_error(int rc, const struct p4_error *err)
{
    if (rc >= 0)
        return;
    if (err->code != rc || err->message[0] == '\0')
        abort();
    for (const char *s = err->message; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            abort();
    }
}

static void fuzz_secret(const char *type, const char *data, size_t size)
{
    static const char *const refs[] = {
        "nginx", "registry.example.com:5000/team/app:1.0", "localhost:5000", "a.b/c/d", "docker.io",
    };
    const struct p4_regauth_entry *e;
    struct p4_regauth a;
    struct p4_error err;
    int rc;

    p4_regauth_init(&a);
    rc = p4_regauth_add_secret(&a, type, data, size, &err);
    check_error(rc, &err);
    if ((rc < 0 && (a.len != 0 || a.secrets != 0)) || (rc == 0 && a.secrets != 1))
        abort();
    for (size_t i = 0; i < a.len; i++) {
        const struct p4_regauth_entry *en = &a.entries[i];

        if (en->registry == NULL || en->host == NULL || en->path == NULL ||
            en->normalized == NULL || en->secret != 0)
            abort();
        if (en->username != NULL && en->password != NULL) {
            char *h = p4_regauth_basic_header(en->username, en->password);

            if (h != NULL) {
                memset(h, 0, strlen(h));
                free(h);
            }
        }
        /* An entry without wildcards is found under its own normalized name. */
        if (strchr(en->host, '*') == NULL && strchr(en->normalized, '/') == NULL &&
            (strchr(en->host, '.') != NULL || en->host[0] == '[')) {
            rc = p4_regauth_lookup(&a, en->normalized, &e, &err);
            if (rc != 0 || e == NULL || strcmp(e->host, en->host) != 0)
                abort();
        }
    }
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        rc = p4_regauth_lookup(&a, refs[i], &e, &err);
        check_error(rc, &err);
        if (rc != 0 && rc != P4_ERR_NOTFOUND)
            abort();
    }
    p4_regauth_close(&a);
}

static void fuzz_challenges(const char *data, size_t size)
{
    struct p4_auth_challenges list;
    struct p4_error err;
    int rc = p4_regauth_challenges_parse(data, size, &list, &err);

    check_error(rc, &err);
    if ((rc == 0) != (list.len > 0) || list.len > P4_REGAUTH_CHALLENGES_MAX)
        abort();
    for (size_t i = 0; i < list.len; i++) {
        char *url;

        if (list.items[i].scheme == NULL || list.items[i].scheme[0] == '\0')
            abort();
        url = p4_regauth_token_url(&list.items[i], NULL);
        if (url != NULL && (strchr(url, ' ') != NULL || strchr(url, '#') != NULL))
            abort();
        free(url);
    }
    p4_regauth_challenges_close(&list);
}

static void fuzz_image_ref(const char *data, size_t size)
{
    struct p4_image_ref r, again;
    struct p4_error err;
    char *text = malloc(size + 1), *joined;
    size_t n;
    int rc;

    if (text == NULL)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    rc = p4_image_ref_parse(text, &r, &err);
    check_error(rc, &err);
    if (rc == 0) {
        if (r.registry == NULL || r.repository == NULL || (r.tag == NULL && r.digest == NULL))
            abort();
        /* A registry that still reads as one when written back must give the same parts. */
        if (strchr(r.registry, '.') != NULL || strchr(r.registry, ':') != NULL ||
            strcmp(r.registry, "localhost") == 0) {
            n = strlen(r.registry) + strlen(r.repository) + (r.tag ? strlen(r.tag) : 0) +
                (r.digest ? strlen(r.digest) : 0) + 4;
            joined = malloc(n);
            if (joined == NULL)
                abort();
            (void)snprintf(joined, n, "%s/%s%s%s%s%s", r.registry, r.repository, r.tag ? ":" : "",
                           r.tag ? r.tag : "", r.digest ? "@" : "", r.digest ? r.digest : "");
            if (p4_image_ref_parse(joined, &again, &err) != 0 ||
                strcmp(again.registry, r.registry) != 0 ||
                strcmp(again.repository, r.repository) != 0)
                abort();
            p4_image_ref_close(&again);
            free(joined);
        }
    } else if (r.registry != NULL || r.repository != NULL || r.tag != NULL || r.digest != NULL) {
        abort();
    }
    p4_image_ref_close(&r);
    free(text);
}

static void fuzz_token(const char *data, size_t size)
{
    struct p4_regauth_token t;
    struct p4_error err;
    int rc = p4_regauth_token_parse(data, size, 1700000000, &t, &err);

    check_error(rc, &err);
    if (rc == 0 &&
        (t.token == NULL || t.token[0] == '\0' || t.expires_in < P4_REGAUTH_TOKEN_MIN_SECONDS ||
         t.expires_at != 1700000000 + (time_t)t.expires_in))
        abort();
    if (rc < 0 && t.token != NULL)
        abort();
    p4_regauth_token_close(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text;

    if (size < 1)
        return 0;
    text = (const char *)data + 1;
    switch (data[0] % 5) {
    case 0:
        fuzz_secret(P4_REGAUTH_DOCKERCONFIGJSON, text, size - 1);
        break;
    case 1:
        fuzz_secret(P4_REGAUTH_DOCKERCFG, text, size - 1);
        break;
    case 2:
        fuzz_challenges(text, size - 1);
        break;
    case 3:
        fuzz_image_ref(text, size - 1);
        break;
    default:
        fuzz_token(text, size - 1);
        break;
    }
    return 0;
}
