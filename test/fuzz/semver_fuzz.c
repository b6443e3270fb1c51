/*
 * semver_fuzz.c: libFuzzer target for versions and version ranges.
 *
 * Input layout: the bytes up to the first NUL are a version, the rest a
 * range (each cut to a little past its limit). A parsed version must be clean
 * ASCII, format to text that parses back to an equal version, and satisfy the
 * range its own text makes; precedence must be reflexive, antisymmetric and
 * transitive against a fixed ladder of versions; a refusal must be
 * P4_ERR_INVAL with a clean, non-empty message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stages/helm/semver.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const ladder[] = {
    "0.0.0-0",
    "0.0.0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.2.3",
    "1.10.0",
    "2.0.0-0",
    "2.0.0",
    "18446744073709551615.0.0",
};

/* Printable ASCII only; blanks only where a sentence has them. */
static void check_clean(const char *s, bool spaces)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || (*s == ' ' && !spaces))
            abort();
    }
}

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

static void check_refusal(int rc, const struct p4_error *err)
{
    if (rc != P4_ERR_INVAL || err->code != rc || err->message[0] == '\0')
        abort();
    check_clean(err->message, true);
}

static void check_version(const char *s, const struct p4_semver *v,
                          const struct p4_semver *ladder_v, size_t ladder_n)
{
    struct p4_semver again;
    struct p4_semver_range *self = NULL;
    struct p4_error err;
    char text[P4_SEMVER_FORMAT_SIZE];

    check_clean(v->pre, false);
    check_clean(v->build, false);
    if (strcmp(v->original, s) != 0 || strlen(v->pre) >= P4_SEMVER_PART_MAX ||
        strlen(v->build) >= P4_SEMVER_PART_MAX)
        abort();
    if (p4_semver_compare(v, v) != 0)
        abort();
    p4_semver_format(v, text);
    if (p4_semver_parse(text, &again, &err) != 0 || p4_semver_compare(v, &again) != 0 ||
        strcmp(v->build, again.build) != 0 || !p4_semver_is_exact(text))
        abort();
    /* Every version's text is a range that it satisfies ("1.2" is 1.2.x, "1.2.3" is =1.2.3). */
    if (p4_semver_range_parse(s, &self, &err) != 0 || !p4_semver_range_match(self, v))
        abort();
    p4_semver_range_free(self);
    for (size_t i = 0; i < ladder_n; i++) {
        int c = p4_semver_compare(v, &ladder_v[i]);

        if (sign(c) != -sign(p4_semver_compare(&ladder_v[i], v)))
            abort();
        /* The ladder ascends: v below rung i is below every rung above it, and so on. */
        for (size_t j = i + 1; j < ladder_n; j++) {
            if (c < 0 && p4_semver_compare(v, &ladder_v[j]) >= 0)
                abort();
        }
        for (size_t j = 0; j < i; j++) {
            if (c > 0 && p4_semver_compare(v, &ladder_v[j]) <= 0)
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct p4_semver ladder_v[COUNT(ladder)];
    static bool ready;
    struct p4_semver v, w;
    struct p4_semver_range *r = NULL;
    struct p4_error err;
    char version[P4_SEMVER_MAX + 8], range[P4_SEMVER_RANGE_MAX + 8];
    const uint8_t *nul = memchr(data, 0, size);
    size_t vlen = nul != NULL ? (size_t)(nul - data) : size;
    size_t rlen = nul != NULL ? size - vlen - 1 : 0;
    bool have_v;
    int rc;

    if (!ready) {
        for (size_t i = 0; i < COUNT(ladder); i++) {
            if (p4_semver_parse(ladder[i], &ladder_v[i], NULL) != 0)
                abort();
        }
        ready = true;
    }
    if (vlen >= sizeof(version))
        vlen = sizeof(version) - 1;
    memcpy(version, data, vlen);
    version[vlen] = '\0';
    if (rlen >= sizeof(range))
        rlen = sizeof(range) - 1;
    if (rlen > 0)
        memcpy(range, nul + 1, rlen);
    range[rlen] = '\0';

    rc = p4_semver_parse(version, &v, &err);
    have_v = rc == 0;
    if (have_v)
        check_version(version, &v, ladder_v, COUNT(ladder));
    else
        check_refusal(rc, &err);
    if (p4_semver_is_exact(version) && !have_v)
        abort();

    /* The range's bytes as a version too, for antisymmetry between two inputs. */
    if (have_v && p4_semver_parse(range, &w, NULL) == 0 &&
        sign(p4_semver_compare(&v, &w)) != -sign(p4_semver_compare(&w, &v)))
        abort();

    rc = p4_semver_range_parse(range, &r, &err);
    if (rc != 0) {
        if (r != NULL)
            abort();
        check_refusal(rc, &err);
        return 0;
    }
    if (r == NULL)
        abort();
    if (have_v)
        (void)p4_semver_range_match(r, &v);
    for (size_t i = 0; i < COUNT(ladder); i++)
        (void)p4_semver_range_match(r, &ladder_v[i]);
    p4_semver_range_free(r);
    return 0;
}
