/* semver_test.c: SemVer versions, their precedence, and Helm's (Masterminds v3) version ranges. */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "stages/helm/semver.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static struct p4_semver must_parse(const char *s)
{
    struct p4_error err = {0};
    struct p4_semver v;

    if (p4_semver_parse(s, &v, &err) != 0)
        fail_msg("version \"%s\" refused: %s", s, err.message);
    return v;
}

static void parse_valid_versions(void **state)
{
    static const struct {
        const char *in;
        uint64_t major, minor, patch;
        const char *pre, *build, *canonical;
    } cases[] = {
        {"1.2.3", 1, 2, 3, "", "", "1.2.3"},
        {"0.0.0", 0, 0, 0, "", "", "0.0.0"},
        {"v1.2.3", 1, 2, 3, "", "", "1.2.3"},
        {"1.2", 1, 2, 0, "", "", "1.2.0"},
        {"v1.2", 1, 2, 0, "", "", "1.2.0"},
        {"1", 1, 0, 0, "", "", "1.0.0"},
        {"v0", 0, 0, 0, "", "", "0.0.0"},
        {"01.002.0003", 1, 2, 3, "", "", "1.2.3"},
        {"1.2.3-beta.1", 1, 2, 3, "beta.1", "", "1.2.3-beta.1"},
        {"1.2.3-0", 1, 2, 3, "0", "", "1.2.3-0"},
        {"1.2.3-0a", 1, 2, 3, "0a", "", "1.2.3-0a"},
        {"1.2.3-alpha-1.-x-", 1, 2, 3, "alpha-1.-x-", "", "1.2.3-alpha-1.-x-"},
        {"1.2.3+build.5", 1, 2, 3, "", "build.5", "1.2.3+build.5"},
        {"1.2.3+001", 1, 2, 3, "", "001", "1.2.3+001"},
        {"1.2.3-rc.1+sha.5114f85", 1, 2, 3, "rc.1", "sha.5114f85", "1.2.3-rc.1+sha.5114f85"},
        {"1.2-beta", 1, 2, 0, "beta", "", "1.2.0-beta"},
        {"1-beta+b", 1, 0, 0, "beta", "b", "1.0.0-beta+b"},
        {"v2.3.5-20161202202307-sha.e8fc5e5", 2, 3, 5, "20161202202307-sha.e8fc5e5", "",
         "2.3.5-20161202202307-sha.e8fc5e5"},
        {"18446744073709551615.0.18446744073709551615", UINT64_MAX, 0, UINT64_MAX, "", "",
         "18446744073709551615.0.18446744073709551615"},
    };
    char out[P4_SEMVER_FORMAT_SIZE];

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct p4_semver v = must_parse(cases[i].in), again;

        if (v.major != cases[i].major || v.minor != cases[i].minor || v.patch != cases[i].patch)
            fail_msg("%s: parsed as %llu.%llu.%llu", cases[i].in, (unsigned long long)v.major,
                     (unsigned long long)v.minor, (unsigned long long)v.patch);
        assert_string_equal(v.pre, cases[i].pre);
        assert_string_equal(v.build, cases[i].build);
        assert_string_equal(v.original, cases[i].in);
        p4_semver_format(&v, out);
        assert_string_equal(out, cases[i].canonical);
        again = must_parse(out);
        assert_int_equal(p4_semver_compare(&v, &again), 0);
        assert_string_equal(again.build, v.build);
    }
}

static void parse_invalid_versions(void **state)
{
    static const struct {
        const char *in, *message;
    } cases[] = {
        {"", "the version is empty"},
        {"1.2.3.4", "version \"1.2.3.4\" is not valid: unexpected text after the version, found "
                    "'.' at byte 5"},
        {"1.2.3-01", "version \"1.2.3-01\" is not valid: a numeric prerelease identifier has a "
                     "leading zero (at byte 6)"},
        {"1.2.3-",
         "version \"1.2.3-\" is not valid: expected a prerelease identifier ([0-9A-Za-z-])"
         ", found end at byte 6"},
        {"1.2.3-a..b", "version \"1.2.3-a..b\" is not valid: expected a prerelease identifier "
                       "([0-9A-Za-z-]), found '.' at byte 8"},
        {"1.2.3+", "version \"1.2.3+\" is not valid: expected a build metadata identifier "
                   "([0-9A-Za-z-]), found end at byte 6"},
        {"1.2.3+a+b", "version \"1.2.3+a+b\" is not valid: unexpected text after the version, "
                      "found '+' at byte 7"},
        {"1..3", "version \"1..3\" is not valid: expected a number after '.', found '.' at byte 2"},
        {"1.", "version \"1.\" is not valid: expected a number after '.', found end at byte 2"},
        {"V1.2.3", "version \"V1.2.3\" is not valid: expected a number, found 'V' at byte 0"},
        {"v", "version \"v\" is not valid: expected a number, found end at byte 1"},
        {"1.2.x",
         "version \"1.2.x\" is not valid: expected a number after '.', found 'x' at byte 4"},
        {" 1.2.3", "version \" 1.2.3\" is not valid: expected a number, found ' ' at byte 0"},
        {"1.2.3 ",
         "version \"1.2.3 \" is not valid: unexpected text after the version, found ' ' at byte 5"},
        {"1.2.3\n", "version \"1.2.3?\" is not valid: unexpected text after the version, found "
                    "byte 0x0a at byte 5"},
        {"-1.2.3", "version \"-1.2.3\" is not valid: expected a number, found '-' at byte 0"},
        {"1.2.3-beta_1", "version \"1.2.3-beta_1\" is not valid: unexpected text after the "
                         "version, found '_' at byte 10"},
        {"18446744073709551616.0.0", "version \"18446744073709551616.0.0\" is not valid: a number "
                                     "does not fit in 64 bits (at byte 0)"},
        {"1.2.3-\"quoted\"\\", "version \"1.2.3-?quoted??\" is not valid: expected a prerelease "
                               "identifier ([0-9A-Za-z-]), found '\"' at byte 6"},
        {"=1.2.3", "version \"=1.2.3\" is not valid: expected a number, found '=' at byte 0"},
    };
    struct p4_error err;
    struct p4_semver v;
    char big[300];

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        memset(&v, 0x55, sizeof(v));
        p4_error_clear(&err);
        assert_int_equal(p4_semver_parse(cases[i].in, &v, &err), P4_ERR_INVAL);
        assert_int_equal(err.code, P4_ERR_INVAL);
        assert_string_equal(err.message, cases[i].message);
        assert_int_equal(v.major, 0); /* zeroed on failure */
        assert_string_equal(v.original, "");
    }

    /* A prerelease of 128 bytes does not fit; 127 does. */
    memcpy(big, "1.2.3-", 6);
    memset(big + 6, 'a', 128);
    big[6 + 128] = '\0';
    assert_int_equal(p4_semver_parse(big, &v, &err), P4_ERR_INVAL);
    assert_true(strncmp(err.message, "version \"1.2.3-aaaaaaaaaa", 25) == 0);
    assert_non_null(strstr(err.message, "aaa...\" is not valid: the prerelease is longer than 127 "
                                        "bytes (at byte 6)"));
    assert_true(strlen(err.message) < 160);
    big[6 + 127] = '\0';
    assert_int_equal(p4_semver_parse(big, &v, &err), 0);
    assert_int_equal(strlen(v.pre), 127);
    memcpy(big, "1.2.3+", 6);
    big[6 + 127] = 'b';
    big[6 + 128] = '\0';
    assert_int_equal(p4_semver_parse(big, &v, &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "the build metadata is longer than 127 bytes"));

    /* The whole string is limited to 159 bytes. */
    memset(big, '1', 160);
    big[160] = '\0';
    assert_int_equal(p4_semver_parse(big, &v, &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "is longer than 159 bytes"));

    /* 159 bytes that grow by ".0.0" in full do not fit; 155 do. */
    memcpy(big, "1-", 2);
    memset(big + 2, 'a', 127);
    big[129] = '+';
    memset(big + 130, 'b', 29);
    big[159] = '\0';
    assert_int_equal(p4_semver_parse(big, &v, &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "is longer than 159 bytes when written in full"));
    big[155] = '\0';
    assert_int_equal(p4_semver_parse(big, &v, &err), 0);
    {
        char out[P4_SEMVER_FORMAT_SIZE];

        p4_semver_format(&v, out);
        assert_int_equal(strlen(out), 159);
        assert_int_equal(p4_semver_parse(out, &v, &err), 0);
    }

    /* NULL input and NULL err. */
    assert_int_equal(p4_semver_parse(NULL, &v, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "the version is empty");
    assert_int_equal(p4_semver_parse("x", &v, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_semver_parse("1.0.0", &v, NULL), 0);
}

static int cmp(const char *a, const char *b)
{
    struct p4_semver va = must_parse(a), vb = must_parse(b);

    return p4_semver_compare(&va, &vb);
}

static void precedence(void **state)
{
    /* SemVer 2.0.0 section 11's own examples, then more, each strictly below the next. */
    static const char *const ascending[] = {
        "0.0.0-0",
        "0.0.0",
        "0.0.1",
        "0.1.0",
        "1.0.0-0",
        "1.0.0-1",
        "1.0.0-2",
        "1.0.0-10",
        "1.0.0-99999999999999999999",
        "1.0.0-100000000000000000000",
        "1.0.0-A",
        "1.0.0-Z",
        "1.0.0-a",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.1.1",
        "1.0.0-alpha.2",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "1.9.0",
        "1.10.0",
        "1.11.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
        "10.0.0",
        "18446744073709551615.0.0",
    };

    (void)state;
    for (size_t i = 0; i < COUNT(ascending); i++) {
        for (size_t j = 0; j < COUNT(ascending); j++) {
            int c = cmp(ascending[i], ascending[j]);
            int want = (i > j) - (i < j);

            if ((c > 0) - (c < 0) != want)
                fail_msg("compare(%s, %s) = %d, want %d", ascending[i], ascending[j], c, want);
        }
    }
    /* Build metadata, a 'v' and left-out or zero-padded parts do not change precedence. */
    assert_int_equal(cmp("1.2.3+a", "1.2.3+b"), 0);
    assert_int_equal(cmp("1.2.3-rc.1+a", "1.2.3-rc.1"), 0);
    assert_int_equal(cmp("v1.2", "1.2.0"), 0);
    assert_int_equal(cmp("1", "1.0.0+x"), 0);
    assert_int_equal(cmp("01.02.03", "1.2.3"), 0);
    /* Hyphens make an identifier alphanumeric. */
    assert_true(cmp("1.0.0-1", "1.0.0--1") < 0);
    assert_true(cmp("1.0.0-a-b", "1.0.0-a") > 0);
}

static void exact_versions(void **state)
{
    static const struct {
        const char *in;
        bool exact;
    } cases[] = {
        {"1.2.3", true},
        {"v1.2.3", true},
        {"0.0.0", true},
        {"1.2.3-rc.1", true},
        {"1.2.3-rc.1+b7", true},
        {"1.2.3+b7", true},
        {"01.2.3", true},
        {"1.2", false},
        {"1", false},
        {"v1", false},
        {"1.2.x", false},
        {"*", false},
        {"=1.2.3", false},
        {"~1.2.3", false},
        {">=1.2.3", false},
        {" 1.2.3", false},
        {"1.2.3 ", false},
        {"1.2.3 - 1.2.4", false},
        {"", false},
        {"1.2.3.4", false},
        {"1.2.3-01", false},
        {"1.2-rc.1", false},
        {"1.2.3 || 1.2.4", false},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        if (p4_semver_is_exact(cases[i].in) != cases[i].exact)
            fail_msg("is_exact(\"%s\") != %d", cases[i].in, cases[i].exact);
    }
    assert_false(p4_semver_is_exact(NULL));
}

struct match_case {
    const char *range, *version;
    bool match;
};

static void run_matches(const struct match_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct p4_semver_range *r = NULL;
        struct p4_error err = {0};
        struct p4_semver v = must_parse(cases[i].version);

        if (p4_semver_range_parse(cases[i].range, &r, &err) != 0)
            fail_msg("range \"%s\" refused: %s", cases[i].range, err.message);
        if (p4_semver_range_match(r, &v) != cases[i].match)
            fail_msg("\"%s\" %s \"%s\"", cases[i].range,
                     cases[i].match ? "should match" : "should not match", cases[i].version);
        p4_semver_range_free(r);
    }
}

/* Each operator alone, including Masterminds' own test table for single constraints. */
static void single_terms(void **state)
{
    static const struct match_case cases[] = {
        {"=2.0.0", "1.2.3", false},
        {"=2.0.0", "2.0.0", true},
        {"=2.0.0", "2.0.0+build", true},
        {"2.0.0", "2.0.0", true},
        {"v2.0.0", "2.0.0", true},
        {"2.0.0", "v2.0.0", true},
        {"2.0.0", "2.0.1", false},
        {"2.0.0+b1", "2.0.0+b2", true},
        {"=2.0", "1.2.3", false},
        {"=2.0", "2.0.0", true},
        {"=2.0", "2.0.1", true},
        {"4.1", "4.1.0", true},
        {"4.1", "4.2.0", false},
        {"2", "1.0.0", false},
        {"2", "3.4.5", false},
        {"2", "2.1.1", true},
        {"!=4.1.0", "4.1.0", false},
        {"!=4.1.0", "4.1.1", true},
        {"!=4.1", "4.1.0", false},
        {"!=4.1", "4.1.1", false},
        {"!=4.1", "5.1.0-alpha.1", false},
        {"!=4.1-alpha", "4.1.0", true},
        {"!=4.1-alpha", "4.1.0-alpha", false},
        {"!=4.1-alpha", "4.1.1-alpha", false},
        {"!=4.1", "5.1.0", true},
        {"!=4.x", "5.1.0", true},
        {"!=4.x", "4.1.0", false},
        {"!=4.1.x", "4.2.0", true},
        {"!=4.2.x", "4.2.3", false},
        {"<11", "0.1.0", true},
        {"<11", "11.1.0", false},
        {"<1.1", "0.1.0", true},
        {"<1.1", "1.1.0", false},
        {"<1.1", "1.1.1", false},
        {"<1.x", "1.1.1", false},
        {"<1.x", "0.1.1", true},
        {"<1.1.x", "1.0.500", true},
        {"<1.1.x", "1.1.500", false},
        {"<=11", "1.2.3", true},
        {"<=11", "12.2.3", false},
        {"<=11", "11.2.3", true},
        {"<=1.1", "1.2.3", false},
        {"<=1.1", "0.1.0", true},
        {"<=1.1", "1.1.0", true},
        {"<=1.1", "1.1.1", true},
        {"<=1.1", "0.1.0-alpha", false},
        {"<=1.1-a", "0.1.0-alpha", true},
        {"<=1.x", "1.1.0", true},
        {"<=2.x", "3.0.0", false},
        {"<=1.1.x", "1.2.500", false},
        {"<=4.5", "3.7.0", true},
        {"<=4.5", "4.6.3", false},
        {"=<1.2.3", "1.2.3", true},
        {">1.1", "4.1.0", true},
        {">1.1", "1.1.0", false},
        {">1.1", "1.2.0", true},
        {">0", "0.0.0", false},
        {">0", "1.0.0", true},
        {">0", "0.0.1-alpha", false},
        {">0.0", "0.0.1-alpha", false},
        {">0-0", "0.0.1-alpha", false},
        {">0.0-0", "0.0.1-alpha", false},
        {">0", "0.0.0-alpha", false},
        {">0-0", "0.0.0-alpha", false},
        {">0.0.0-0", "0.0.0-alpha", true},
        {">1.2.3-alpha.1", "1.2.3-alpha.2", true},
        {">1.2.3-alpha.1", "1.3.3-alpha.2", true},
        {">11", "11.1.0", false},
        {">11", "12.0.0", true},
        {">11.1", "11.1.0", false},
        {">11.1", "11.1.1", false},
        {">11.1", "11.2.1", true},
        {">=11", "11.1.2", true},
        {">=11.1", "11.1.2", true},
        {">=11.1", "11.0.2", false},
        {">=1.1", "4.1.0", true},
        {">=1.1", "1.1.0", true},
        {">=1.1", "0.0.9", false},
        {">=1.1", "4.1.0-beta", false},
        {"=>1.1", "1.1.0", true},
        {">=0", "0.0.1-alpha", false},
        {">=0.0", "0.0.1-alpha", false},
        {">=0-0", "0.0.1-alpha", true},
        {">=0.0-0", "0.0.1-alpha", true},
        {">=0", "0.0.0-alpha", false},
        {">=0-0", "0.0.0-alpha", true},
        {">=0.0.0-0", "0.0.0-alpha", true},
        {">=0.0.0-0", "1.2.3", true},
        {">=0.0.0-0", "3.4.5-beta.1", true},
        {"<0", "0.0.0-alpha", false},
        {"<0-z", "0.0.0-alpha", true},
        {">=0", "0.0.0", true},
        {"=0", "1.0.0", false},
        {"*", "1.0.0", true},
        {"*", "4.5.6", true},
        {"*", "0.0.0", true},
        {"*", "1.2.3-alpha.1", false},
        {"*-0", "1.2.3-alpha.1", true},
        {"x", "3.0.0", true},
        {"X", "3.0.0", true},
        {"2.*", "1.0.0", false},
        {"2.*", "3.4.5", false},
        {"2.*", "2.1.1", true},
        {"2.1.*", "2.1.1", true},
        {"2.1.*", "2.2.1", false},
        {"2.x.5", "2.3.0", true},
        {"~1.2.3", "1.2.3", true},
        {"~1.2.3", "1.2.4", true},
        {"~1.2.3", "1.2.2", false},
        {"~1.2.3", "1.3.0", false},
        {"~1.2.3", "1.3.4", false},
        {"~1.2", "1.2.0", true},
        {"~1.2", "1.2.4", true},
        {"~1.2", "1.3.4", false},
        {"~1", "1.0.0", true},
        {"~1", "1.9.4", true},
        {"~1", "2.0.0", false},
        {"~1", "0.9.0", false},
        {"~0", "0.9.0", true},
        {"~0", "1.0.0", false},
        {"~0.2.3", "0.2.5", true},
        {"~0.2.3", "0.3.5", false},
        {"~>1.2.3", "1.2.9", true},
        {"~>1.2.3", "1.3.0", false},
        {"~1.2.3-beta.2", "1.2.3-beta.4", true},
        {"~1.2.3-beta.2", "1.2.4-beta.2", true},
        {"~1.2.3-beta.2", "1.3.4-beta.2", false},
        {"~1.2.3-beta.2", "1.2.3-beta.1", false},
        {"~1.1", "1.1.1-alpha", false},
        {"~1.1-alpha", "1.1.1-beta", true},
        {"~1.1.1-beta", "1.1.1-alpha", false},
        {"~1.1.1-beta", "1.1.1", true},
        {"~1.x", "1.3.5", true},
        {"~1.x", "2.1.1", false},
        {"~*", "2.1.1", true},
        {"~0.0.0", "1.2.3", true},
        {"^1.2.3", "1.2.3", true},
        {"^1.2.3", "1.8.9", true},
        {"^1.2.3", "2.0.0", false},
        {"^1.2.3", "2.8.9", false},
        {"^1.2.3", "1.2.1", false},
        {"^1.1.0", "2.1.0", false},
        {"^1.2.0", "1.2.1-alpha.1", false},
        {"^1.2.0-alpha.0", "1.2.1-alpha.1", true},
        {"^1.2.0-alpha.0", "1.2.1-alpha.0", true},
        {"^1.2.0-alpha.2", "1.2.0-alpha.1", false},
        {"^1.2", "1.2.0", true},
        {"^1.2", "1.8.9", true},
        {"^1.2", "2.8.9", false},
        {"^1", "1.8.9", true},
        {"^1", "2.8.9", false},
        {"^1.x", "1.1.1", true},
        {"^1.x", "2.1.1", false},
        {"^0.2.3", "0.2.3", true},
        {"^0.2.3", "0.2.5", true},
        {"^0.2.3", "0.2.2", false},
        {"^0.2.3", "0.3.0", false},
        {"^0.2.3", "0.5.6", false},
        {"^0.2.3", "1.2.3", false},
        {"^0.2", "0.2.0", true},
        {"^0.2", "0.2.5", true},
        {"^0.2", "0.5.6", false},
        {"^0.0.3", "0.0.3", true},
        {"^0.0.3", "0.0.3+build", true},
        {"^0.0.3", "0.0.4", false},
        {"^0.0.3", "0.0.2", false},
        {"^0.0.3", "0.1.3", false},
        {"^0.0", "0.0.3", true},
        {"^0.0", "0.1.4", false},
        {"^0.0", "1.0.4", false},
        {"^0", "0.2.3", true},
        {"^0", "1.1.4", false},
        {"^0.0.0", "1.2.3", false},
        {"^0.2.3-beta.2", "0.2.3-beta.4", true},
        {"^0.2.3-beta.2", "0.2.4-beta.2", true},
        {"^0.2.3-beta.2", "0.3.4-beta.2", false},
        {"^0.2.3-beta.2", "0.2.3-beta.2", true},
        /* Masterminds' edge cases, kept. */
        {"^*", "0.0.0", true},
        {"^*", "1.2.3", false},
        {"<=*", "0.0.5", true},
        {"<=*", "0.5.0", false},
        {"<=*", "1.0.0", false},
        {"!=*", "1.0.0", true},
        {"!=*", "0.0.0", false},
    };

    (void)state;
    run_matches(cases, COUNT(cases));
}

/* AND, OR, hyphen ranges, blanks and group-wide prerelease admission. */
static void combined_ranges(void **state)
{
    static const struct match_case cases[] = {
        {">= 1.2, < 3.0.0 || >= 4.2.3", "1.2.0", true},
        {">= 1.2, < 3.0.0 || >= 4.2.3", "2.9.9", true},
        {">= 1.2, < 3.0.0 || >= 4.2.3", "3.0.0", false},
        {">= 1.2, < 3.0.0 || >= 4.2.3", "4.2.2", false},
        {">= 1.2, < 3.0.0 || >= 4.2.3", "4.2.3", true},
        {">= 1.2, < 3.0.0 || >= 4.2.3", "1.1.9", false},
        {">= 1.2, < 3.0.0 || >= 4.2.3", "5.0.0-rc.1", false},
        {">1.1, <2", "1.1.1", false},
        {">1.1, <2", "1.2.1", true},
        {">1.1, <3", "4.3.2", false},
        {">=1.1, <2, !=1.2.3", "1.2.3", false},
        {">=1.1, <2, !=1.2.3", "1.2.4", true},
        {">1.1 <2", "1.2.1", true},
        {">1.1    <3", "4.3.2", false},
        {">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true},
        {">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false},
        {">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true},
        {">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false},
        {"> 1.1, <     2", "1.1.1", false},
        {">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true},
        {" \t>=1.0\t,\n<2.0 ", "1.5.0", true},
        {">=1.0,<2.0", "1.5.0", true},
        {"1.2.3 1.2.4", "1.2.3", false},
        {"1.2.3||1.2.4", "1.2.4", true},
        {"1.2.3 || 1.2.4 || 1.2.5", "1.2.5", true},
        {"1.2.3 || 1.2.4 || 1.2.5", "1.2.6", false},
        {"1.2 - 1.4.5", "1.2.0", true},
        {"1.2 - 1.4.5", "1.4.5", true},
        {"1.2 - 1.4.5", "1.4.6", false},
        {"1.2 - 1.4.5", "1.1.9", false},
        {"1.2 - 1.4", "1.4.99", true},
        {"1.2 - 1.4", "1.5.0", false},
        {"1 - 2", "2.9.9", true},
        {"1 - 2", "3.0.0", false},
        {"1.1 - 2", "1.1.1", true},
        {"1.5.0 - 4.5", "3.7.0", true},
        {"v1.0.0 - v2.0.0", "2.0.0", true},
        {"1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true},
        {"1.0.0 - 2.0.0, <=1.4.0", "1.5.0", false},
        {"1.0.0 - 2.0.0 || 3.0.0 - 4.0.0", "3.5.0", true},
        {"1.0.0 - 2.0.0 || 3.0.0 - 4.0.0", "2.5.0", false},
        {"1.1-3", "4.3.2", false},  /* not a hyphen range: 1.1.0-3 as a wildcard */
        {"1.1-3", "1.1.7-4", true}, /* ... which admits prereleases */
        {"1.x", "1.4.0", true},
        {"1.x", "2.0.0", false},
        {"1.2.x", "1.2.9", true},
        {"1.2.x", "1.3.0", false},
        /* A prerelease term opens the whole AND group to prereleases (Masterminds v3.3). */
        {">=1.2.3-alpha", "1.2.3-beta.1", true},
        {">=1.0", "1.2.3-beta.1", false},
        {">=1.2.3-alpha, <2", "1.5.0-beta", true},
        {">=1.2.3-alpha, <2", "2.0.0-beta", true},
        {">=1.2.3-alpha, <2.0.0-0", "2.0.0-beta", false},
        {"<2 || >=1.2.3-alpha", "1.5.0-beta", true},
        {"<2 || >=3", "1.5.0-beta", false},
        {">=1.0.0 <2.0.0 || >=3.0.0-rc.0", "1.5.0-rc.1", false}, /* the first group stays shut */
        {">=1.0.0 <2.0.0 || >=3.0.0-rc.0", "3.1.0-rc.1", true},
        {">=1.0.0 <2.0.0 || >=1.0.0-rc.0", "1.5.0-rc.1", true},
        {"^1.1.2-alpha", "1.2.1-beta1", true},
        {"^1.2.x-alpha", "1.1.1-beta1", false},
    };

    (void)state;
    run_matches(cases, COUNT(cases));
}

static void invalid_ranges(void **state)
{
    static const struct {
        const char *in, *message;
    } cases[] = {
        {"", "the version range is empty"},
        {" \t ", "the version range is empty"},
        {">= 1.2 ~", "version range \">= 1.2 ~\" is not valid: expected a version after \"~\" at "
                     "byte 8"},
        {"foo", "version range \"foo\" is not valid: expected a version, found 'f' at byte 0"},
        {">= bar",
         "version range \">= bar\" is not valid: expected a version after \">=\" at byte 3"},
        {"BAR >= 1.2.3", "version range \"BAR >= 1.2.3\" is not valid: expected a version, found "
                         "'B' at byte 0"},
        {"12.3.4.1234", "version range \"12.3.4.1234\" is not valid: unexpected text after a "
                        "version, found '.' at byte 6"},
        {"12.3.34~ 1.2.3", "version range \"12.3.34~ 1.2.3\" is not valid: unexpected text after a "
                           "version, found '~' at byte 7"},
        {"1.0 ||",
         "version range \"1.0 ||\" is not valid: expected a version, found end at byte 6"},
        {"|| 1.0",
         "version range \"|| 1.0\" is not valid: expected a version, found '|' at byte 0"},
        {"1.0 || || 2.0", "version range \"1.0 || || 2.0\" is not valid: expected a version, found "
                          "'|' at byte 7"},
        {"1.0 | 2.0", "version range \"1.0 | 2.0\" is not valid: expected \"||\", found ' ' at "
                      "byte 5"},
        {"1.0,", "version range \"1.0,\" is not valid: expected a version, found end at byte 4"},
        {",1.0", "version range \",1.0\" is not valid: expected a version, found ',' at byte 0"},
        {"1.0,,2.0", "version range \"1.0,,2.0\" is not valid: expected a version, found ',' at "
                     "byte 4"},
        {"1.2 -1.4", "version range \"1.2 -1.4\" is not valid: expected a version, found '-' at "
                     "byte 4"},
        {"1.2 - ",
         "version range \"1.2 - \" is not valid: expected a version after \"-\" at byte 6"},
        {"1.2 - >=1.4", "version range \"1.2 - >=1.4\" is not valid: expected a version after "
                        "\"-\" at byte 6"},
        {">1.2 - 1.4", "version range \">1.2 - 1.4\" is not valid: expected a version, found '-' "
                       "at byte 5"},
        {"1.0 - 2.0 - 3.0", "version range \"1.0 - 2.0 - 3.0\" is not valid: expected a version, "
                            "found '-' at byte 10"},
        {"==1.2", "version range \"==1.2\" is not valid: expected a version after \"=\" at byte 1"},
        {"> =1.2",
         "version range \"> =1.2\" is not valid: expected a version after \">\" at byte 2"},
        {"!1.2", "version range \"!1.2\" is not valid: expected a version, found '!' at byte 0"},
        {"1x", "version range \"1x\" is not valid: unexpected text after a version, found 'x' at "
               "byte 1"},
        {"1.2.3-01", "version range \"1.2.3-01\" is not valid: a numeric prerelease identifier has "
                     "a leading zero (at byte 6)"},
        {"V1.2", "version range \"V1.2\" is not valid: expected a version, found 'V' at byte 0"},
        {"1.2.3\x01", "version range \"1.2.3?\" is not valid: unexpected text after a version, "
                      "found byte 0x01 at byte 5"},
        {"~1.2.3 && ~2", "version range \"~1.2.3 && ~2\" is not valid: expected a version, found "
                         "'&' at byte 7"},
    };
    struct p4_semver_range *r = (struct p4_semver_range *)&r;
    struct p4_error err;
    char big[P4_SEMVER_RANGE_MAX + 1];
    size_t n = 0;

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        p4_error_clear(&err);
        assert_int_equal(p4_semver_range_parse(cases[i].in, &r, &err), P4_ERR_INVAL);
        assert_null(r);
        assert_int_equal(err.code, P4_ERR_INVAL);
        if (strcmp(err.message, cases[i].message) != 0)
            fail_msg("%s:\n got  %s\n want %s", cases[i].in, err.message, cases[i].message);
    }

    /* 64 terms are fine, 65 are not. */
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s>=%d", i ? " " : "", i);
    assert_int_equal(p4_semver_range_parse(big, &r, &err), 0);
    p4_semver_range_free(r);
    (void)snprintf(big + n, sizeof(big) - n, " <99");
    assert_int_equal(p4_semver_range_parse(big, &r, &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "is not valid: it has more than 64 terms (at byte 310)"));
    /* So are a hyphen range's two halves. */
    n = 0;
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s%d - %d", i ? " || " : "", i, i);
    assert_int_equal(p4_semver_range_parse(big, &r, &err), 0);
    p4_semver_range_free(r);

    /* The whole string is limited to 511 bytes. */
    memset(big, ' ', P4_SEMVER_RANGE_MAX);
    big[0] = '1';
    big[P4_SEMVER_RANGE_MAX] = '\0';
    assert_int_equal(p4_semver_range_parse(big, &r, &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "is longer than 511 bytes"));
    big[P4_SEMVER_RANGE_MAX - 1] = '\0';
    assert_int_equal(p4_semver_range_parse(big, &r, &err), 0);
    p4_semver_range_free(r);

    /* NULL arguments. */
    assert_int_equal(p4_semver_range_parse(NULL, &r, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "no version range given");
    assert_int_equal(p4_semver_range_parse("1.0", NULL, &err), P4_ERR_INVAL);
    assert_int_equal(p4_semver_range_parse("x y", &r, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_semver_range_parse("1.0", &r, NULL), 0);
    assert_false(p4_semver_range_match(r, NULL));
    p4_semver_range_free(r);
    {
        struct p4_semver v = must_parse("1.0.0");

        assert_false(p4_semver_range_match(NULL, &v));
    }
    p4_semver_range_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_valid_versions), cmocka_unit_test(parse_invalid_versions),
        cmocka_unit_test(precedence),           cmocka_unit_test(exact_versions),
        cmocka_unit_test(single_terms),         cmocka_unit_test(combined_ranges),
        cmocka_unit_test(invalid_ranges),
    };
    return cmocka_run_group_tests_name("semver", tests, NULL, NULL);
}
