/*
 * logscan_test.c: pod logs matched line by line (stages/validation/logscan.h): the default and
 * given patterns, allow patterns, lines cut across chunks at every offset, CRLF, NUL bytes, long
 * lines, a last line without a newline, and the patterns refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "stages/validation/logscan.h"

#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

/* text's bytes at dst, without its NUL (dst is a longer buffer). */
static void place(char *dst, const char *text)
{
    while (*text)
        *dst++ = *text++;
}

static struct p4_logscan *scanner(const char *const *critical, int ncritical,
                                  const char *const *allow, int nallow)
{
    struct p4_logscan *s = NULL;
    struct p4_error err = {0};

    assert_int_equal(p4_logscan_new(critical, ncritical, allow, nallow, &s, &err), 0);
    assert_non_null(s);
    return s;
}

/* The log fed whole, as one log of source "pod p container c". */
static const struct p4_logscan_result *scan_whole(struct p4_logscan *s, const char *log, size_t n)
{
    p4_logscan_begin(s, "pod p container c");
    p4_logscan_feed(s, log, n);
    p4_logscan_end(s);
    return p4_logscan_result(s);
}

static void assert_same(const struct p4_logscan_result *a, const struct p4_logscan_result *b)
{
    assert_int_equal(a->lines, b->lines);
    assert_int_equal(a->matched, b->matched);
    assert_int_equal(a->allowed, b->allowed);
    assert_int_equal(a->cut, b->cut);
    assert_int_equal(a->nhits, b->nhits);
    for (int i = 0; i < a->nhits; i++) {
        assert_string_equal(a->hits[i].source, b->hits[i].source);
        assert_string_equal(a->hits[i].line, b->hits[i].line);
    }
}

static const char SAMPLE[] = "starting web server\n"
                             "listening on :8080\r\n"
                             "panic: runtime error: invalid memory address\n"
                             "\n"
                             "goroutine 1 [running]:\n"
                             "FATAL could not open db\r\n"
                             "Traceback (most recent call last):\n"
                             "java.lang.OutOfMemoryError: Java heap space\n"
                             "kernel: segfault at 0 ip\n"
                             "done without newline panic: at the end";

static void the_defaults_find_each_kind_of_crash(void **state)
{
    struct p4_logscan *s = scanner(NULL, 0, NULL, 0);
    const struct p4_logscan_result *r = scan_whole(s, SAMPLE, sizeof(SAMPLE) - 1);

    (void)state;
    assert_int_equal(r->lines, 10);
    assert_int_equal(r->matched, 6); /* panic, FATAL, Traceback, OOM, segfault, the last line */
    assert_int_equal(r->allowed, 0);
    assert_int_equal(r->cut, 0);
    assert_int_equal(r->nhits, P4_LOGSCAN_KEEP);
    assert_string_equal(r->hits[0].source, "pod p container c");
    assert_string_equal(r->hits[0].line, "panic: runtime error: invalid memory address");
    /* The CR before the newline is not part of the line. */
    assert_string_equal(r->hits[1].line, "FATAL could not open db");
    assert_string_equal(r->hits[2].line, "Traceback (most recent call last):");
    p4_logscan_free(s);
}

/* Cut anywhere, once or twice, or a byte at a time: the same lines, the same result. */
static void a_line_cut_across_chunks_is_matched_at_every_offset(void **state)
{
    struct p4_logscan *whole = scanner(NULL, 0, NULL, 0);
    const struct p4_logscan_result *want = scan_whole(whole, SAMPLE, sizeof(SAMPLE) - 1);
    size_t n = sizeof(SAMPLE) - 1;

    (void)state;
    for (size_t cut = 0; cut <= n; cut++) {
        struct p4_logscan *s = scanner(NULL, 0, NULL, 0);
        p4_logscan_begin(s, "pod p container c");
        p4_logscan_feed(s, SAMPLE, cut);
        p4_logscan_feed(s, SAMPLE + cut, n - cut);
        p4_logscan_end(s);
        assert_same(p4_logscan_result(s), want);
        p4_logscan_free(s);
    }
    for (size_t a = 0; a <= n; a += 7) {
        for (size_t b = a; b <= n; b += 5) {
            struct p4_logscan *s = scanner(NULL, 0, NULL, 0);
            p4_logscan_begin(s, "pod p container c");
            p4_logscan_feed(s, SAMPLE, a);
            p4_logscan_feed(s, SAMPLE + a, b - a);
            p4_logscan_feed(s, SAMPLE + b, n - b);
            p4_logscan_end(s);
            assert_same(p4_logscan_result(s), want);
            p4_logscan_free(s);
        }
    }
    {
        struct p4_logscan *s = scanner(NULL, 0, NULL, 0);
        p4_logscan_begin(s, "pod p container c");
        for (size_t i = 0; i < n; i++)
            p4_logscan_feed(s, SAMPLE + i, 1);
        p4_logscan_feed(s, NULL, 0);
        p4_logscan_end(s);
        assert_same(p4_logscan_result(s), want);
        p4_logscan_free(s);
    }
    p4_logscan_free(whole);
}

/* An allow pattern excuses a line a critical one matched; others still fail. */
static void an_allow_pattern_overrides_a_critical_one(void **state)
{
    static const char *const allow[] = {"panic: test-only", "^FATAL.*retrying$"};
    static const char log[] = "panic: test-only simulated crash\n"
                              "FATAL connection lost, retrying\n"
                              "FATAL connection lost\n"
                              "all good\n";
    struct p4_logscan *s = scanner(NULL, 0, allow, COUNT(allow));
    const struct p4_logscan_result *r = scan_whole(s, log, sizeof(log) - 1);

    (void)state;
    assert_int_equal(r->lines, 4);
    assert_int_equal(r->allowed, 2);
    assert_int_equal(r->matched, 1);
    assert_int_equal(r->nhits, 1);
    assert_string_equal(r->hits[0].line, "FATAL connection lost");
    p4_logscan_free(s);
}

/* Given critical patterns replace the defaults; an empty list fails no line. */
static void given_patterns_replace_the_defaults(void **state)
{
    static const char *const critical[] = {"^ERROR\\b", "level=(error|fatal)"};
    static const char log[] = "panic: not critical here\n"
                              "ERROR disk full\n"
                              "ERRORS are fine\n"
                              "ts=1 level=fatal msg=x\n"
                              "x ERROR not at the start\n";
    struct p4_logscan *s = scanner(critical, COUNT(critical), NULL, 0);
    const struct p4_logscan_result *r = scan_whole(s, log, sizeof(log) - 1);

    (void)state;
    assert_int_equal(r->matched, 2);
    assert_string_equal(r->hits[0].line, "ERROR disk full");
    assert_string_equal(r->hits[1].line, "ts=1 level=fatal msg=x");
    p4_logscan_free(s);

    s = scanner(critical, 0, NULL, 0);
    r = scan_whole(s, log, sizeof(log) - 1);
    assert_int_equal(r->lines, 5);
    assert_int_equal(r->matched, 0);
    p4_logscan_free(s);

    /* A single pattern (no alternation), and a set with a lone ')': a literal, as it is alone
       (between parentheses it would close them and "a)b" would match "ab)"). */
    {
        static const char *const one[] = {"disk"};
        static const char *const odd[] = {"a)b", "level"};
        static const char lines[] = "ab)\nx a)b y\n";
        s = scanner(one, 1, NULL, 0);
        assert_int_equal(scan_whole(s, log, sizeof(log) - 1)->matched, 1);
        p4_logscan_free(s);
        s = scanner(odd, 2, NULL, 0);
        r = scan_whole(s, lines, sizeof(lines) - 1);
        assert_int_equal(r->matched, 1);
        assert_string_equal(r->hits[0].line, "x a)b y");
        p4_logscan_free(s);
    }
}

/* CRLF, NUL bytes, invalid UTF-8 and control bytes: matched, and shown cleaned. */
static void odd_bytes_are_matched_and_shown_cleaned(void **state)
{
    static const char log[] = "ok\r\n"
                              "pa\0nic: no\r\n"
                              "\0\0\0panic: after NULs\0tail\r\n"
                              "FATAL\xff\xfe bad utf-8\t\x1b[31mred\r\r\n"
                              "\r\n";
    struct p4_logscan *s = scanner(NULL, 0, NULL, 0);
    const struct p4_logscan_result *r = scan_whole(s, log, sizeof(log) - 1);

    (void)state;
    assert_int_equal(r->lines, 5);
    assert_int_equal(r->matched, 2); /* "pa nic:" is not "panic:" */
    assert_string_equal(r->hits[0].line, "panic: after NULs tail");
    /* Only the CR before the newline is dropped; the cleaning reads the other as a line break,
       a space, trimmed at the end. Invalid UTF-8 and ESC show as '?'. */
    assert_string_equal(r->hits[1].line, "FATAL?? bad utf-8 ?[31mred");
    p4_logscan_free(s);
}

/* A line longer than P4_LOGSCAN_LINE_MAX is matched on its start, the rest skipped. */
static void a_very_long_line_is_matched_on_its_start(void **state)
{
    size_t n = 3 * P4_LOGSCAN_LINE_MAX + 100;
    char *log = malloc(n);
    struct p4_logscan *s = scanner(NULL, 0, NULL, 0);
    const struct p4_logscan_result *r;

    (void)state;
    assert_non_null(log);
    /* Line 1: "panic:" at its start, then filler. Line 2: "FATAL" past the first 4 KiB.
       Line 3: exactly P4_LOGSCAN_LINE_MAX bytes ending in "FATAL", not cut. */
    memset(log, 'x', n);
    place(log, "panic: big");
    log[P4_LOGSCAN_LINE_MAX + 10] = '\n';
    place(log + P4_LOGSCAN_LINE_MAX + 11 + P4_LOGSCAN_LINE_MAX, "FATAL");
    log[2 * P4_LOGSCAN_LINE_MAX + 11 + 10] = '\n';
    {
        size_t start = 2 * P4_LOGSCAN_LINE_MAX + 22;
        place(log + start + P4_LOGSCAN_LINE_MAX - 5, "FATAL");
        log[start + P4_LOGSCAN_LINE_MAX] = '\n';
        n = start + P4_LOGSCAN_LINE_MAX + 1;
    }
    r = scan_whole(s, log, n);
    assert_int_equal(r->lines, 3);
    assert_int_equal(r->cut, 2);
    assert_int_equal(r->matched, 2);
    assert_int_equal(strncmp(r->hits[0].line, "panic: big", 10), 0);
    /* Kept lines are cut to P4_LOGSCAN_QUOTE_MAX bytes, "..." marking the cut. */
    assert_int_equal(strlen(r->hits[0].line), P4_LOGSCAN_QUOTE_MAX);
    assert_string_equal(r->hits[0].line + strlen(r->hits[0].line) - 3, "...");
    assert_int_equal(strncmp(r->hits[1].line, "xxx", 3), 0);

    /* The same, fed in pieces of 1000 bytes. */
    {
        struct p4_logscan *t = scanner(NULL, 0, NULL, 0);
        p4_logscan_begin(t, "pod p container c");
        for (size_t i = 0; i < n; i += 1000)
            p4_logscan_feed(t, log + i, n - i < 1000 ? n - i : 1000);
        p4_logscan_end(t);
        assert_same(p4_logscan_result(t), r);
        p4_logscan_free(t);
    }
    free(log);
    p4_logscan_free(s);
}

/* A last line without a newline counts at the end, and once; a new log ends the last one. */
static void a_last_line_without_newline_counts_once(void **state)
{
    struct p4_logscan *s = scanner(NULL, 0, NULL, 0);
    const struct p4_logscan_result *r;

    (void)state;
    p4_logscan_begin(s, "pod a container one");
    p4_logscan_feed(s, "ok\npanic: a", 11);
    p4_logscan_begin(s, "pod b container two"); /* ends the open line of a */
    p4_logscan_feed(s, "FATAL b\n", 8);
    p4_logscan_end(s);
    p4_logscan_end(s);
    r = p4_logscan_result(s);
    assert_int_equal(r->lines, 3);
    assert_int_equal(r->matched, 2);
    assert_string_equal(r->hits[0].source, "pod a container one");
    assert_string_equal(r->hits[0].line, "panic: a");
    assert_string_equal(r->hits[1].source, "pod b container two");
    /* An empty log is no line. */
    p4_logscan_begin(s, "pod c container three");
    p4_logscan_feed(s, "", 0);
    p4_logscan_end(s);
    assert_int_equal(p4_logscan_result(s)->lines, 3);
    p4_logscan_free(s);
}

/* More failing lines than are kept: all counted, the first ones kept. */
static void only_the_first_lines_are_kept(void **state)
{
    struct p4_logscan *s = scanner(NULL, 0, NULL, 0);
    const struct p4_logscan_result *r;
    char line[64];

    (void)state;
    p4_logscan_begin(s, "pod p container c");
    for (int i = 0; i < 10; i++) {
        int n = snprintf(line, sizeof(line), "panic: number %d\n", i);
        p4_logscan_feed(s, line, (size_t)n);
    }
    p4_logscan_end(s);
    r = p4_logscan_result(s);
    assert_int_equal(r->matched, 10);
    assert_int_equal(r->nhits, P4_LOGSCAN_KEEP);
    assert_string_equal(r->hits[0].line, "panic: number 0");
    assert_string_equal(r->hits[2].line, "panic: number 2");
    p4_logscan_free(s);
}

/* A pattern that does not compile, or could be costly, is refused by name. */
static void bad_patterns_are_refused_by_name(void **state)
{
    static const struct {
        const char *critical, *allow, *says;
    } cases[] = {
        {"panic:(", NULL,
         "criticalPatterns[1] \"panic:(\" is not a valid POSIX extended regular expression: "},
        {"[a-", NULL, "criticalPatterns[1] \"[a-\" is not a valid POSIX extended regular"},
        {"ok", "x{2,1}", "allowPatterns[0] \"x{2,1}\" is not a valid POSIX extended"},
        {"(a)\\1", NULL, "criticalPatterns[1] \"(a)?1\" is refused: it has a back-reference (\\1)"},
        {"a{256}", NULL,
         "criticalPatterns[1] \"a{256}\" is refused: it repeats something 256 times"},
        {"((a{100}){100})", NULL, "is refused: its repetitions expand it past 4096 pieces"},
        {"a{200}b{200}c{200}(d{200}){20}", NULL, "its repetitions expand it past 4096 pieces"},
        {"x+++++++++++++++++++++++++", NULL, "its repetitions expand it past 4096 pieces"},
        /* Empty groups cost too: glibc copies their nodes (libFuzzer found it out of memory). */
        {"((()){100}){100}", NULL, "its repetitions expand it past 4096 pieces"},
        {"((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))", NULL,
         "it nests groups deeper than 32"},
        {"", NULL, "criticalPatterns[1] is empty"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *critical[] = {"FATAL", cases[i].critical};
        const char *allow[] = {cases[i].allow};
        struct p4_logscan *s = (struct p4_logscan *)1;
        struct p4_error err = {0};
        assert_int_equal(p4_logscan_new(critical, 2, allow, cases[i].allow ? 1 : 0, &s, &err),
                         P4_ERR_INVAL);
        assert_null(s);
        if (strstr(err.message, cases[i].says) == NULL)
            fail_msg("case %zu: %s", i, err.message);
    }
    /* Too many, too long, NULL. */
    {
        const char *many[P4_LOGSCAN_PATTERNS_MAX + 1];
        char *longp = malloc(P4_LOGSCAN_PATTERN_LEN_MAX + 2);
        struct p4_logscan *s = NULL;
        struct p4_error err = {0};
        for (int i = 0; i < COUNT(many); i++)
            many[i] = "x";
        assert_int_equal(p4_logscan_new(many, COUNT(many), NULL, 0, &s, &err), P4_ERR_INVAL);
        assert_non_null(strstr(err.message, "criticalPatterns has 33 patterns, at most 32"));
        assert_non_null(longp);
        memset(longp, 'a', P4_LOGSCAN_PATTERN_LEN_MAX + 1);
        longp[P4_LOGSCAN_PATTERN_LEN_MAX + 1] = '\0';
        many[0] = longp;
        assert_int_equal(p4_logscan_new(many, 1, NULL, 0, &s, &err), P4_ERR_INVAL);
        assert_non_null(strstr(err.message, "is longer than 1024 bytes"));
        many[0] = NULL;
        assert_int_equal(p4_logscan_new(many, 1, NULL, 0, &s, &err), P4_ERR_INVAL);
        assert_non_null(strstr(err.message, "criticalPatterns[0] is empty"));
        free(longp);
    }
    /* What is affordable compiles: brackets with ']' and classes, intervals, escapes. */
    {
        static const char *const fine[] = {"[]a]{3}",
                                           "[^]]+",
                                           "[[:digit:]]{4}-[[:digit:]]{2}",
                                           "\\(x\\)",
                                           "a{2,}b{1,3}",
                                           "(a|b){8}",
                                           "x{0}",
                                           "[[.-.]]?",
                                           "a{255}",
                                           "^$",
                                           ")"};
        struct p4_logscan *s = scanner(fine, COUNT(fine), NULL, 0);
        p4_logscan_free(s);
    }
    p4_logscan_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_defaults_find_each_kind_of_crash),
        cmocka_unit_test(a_line_cut_across_chunks_is_matched_at_every_offset),
        cmocka_unit_test(an_allow_pattern_overrides_a_critical_one),
        cmocka_unit_test(given_patterns_replace_the_defaults),
        cmocka_unit_test(odd_bytes_are_matched_and_shown_cleaned),
        cmocka_unit_test(a_very_long_line_is_matched_on_its_start),
        cmocka_unit_test(a_last_line_without_newline_counts_once),
        cmocka_unit_test(only_the_first_lines_are_kept),
        cmocka_unit_test(bad_patterns_are_refused_by_name),
    };
    return cmocka_run_group_tests_name("logscan", tests, NULL, NULL);
}
