/*
 * promtext_test.c: the Prometheus text format reader of the Metrics gate
 * (stages/validation/promtext.h): real expositions (the Go client's, OpenMetrics with # EOF and
 * exemplars), labels with escaped quotes and commas, NaN and infinities, timestamps, CRLF, and
 * what is not the format (garbage, HTML, JSON, binary, lines too long), whole and in chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "stages/validation/promtext.h"

/* As the Go client (client_golang's promhttp) writes it. */
static const char go_client[] =
    "# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection "
    "cycles.\n"
    "# TYPE go_gc_duration_seconds summary\n"
    "go_gc_duration_seconds{quantile=\"0\"} 2.3e-05\n"
    "go_gc_duration_seconds{quantile=\"0.25\"} 3.1e-05\n"
    "go_gc_duration_seconds{quantile=\"1\"} 0.000213\n"
    "go_gc_duration_seconds_sum 0.00123\n"
    "go_gc_duration_seconds_count 12\n"
    "# HELP go_goroutines Number of goroutines that currently exist.\n"
    "# TYPE go_goroutines gauge\n"
    "go_goroutines 8\n"
    "# HELP go_info Information about the Go environment.\n"
    "# TYPE go_info gauge\n"
    "go_info{version=\"go1.22.5\"} 1\n"
    "# HELP http_request_duration_seconds Request latency.\n"
    "# TYPE http_request_duration_seconds histogram\n"
    "http_request_duration_seconds_bucket{handler=\"/\",le=\"0.1\"} 3\n"
    "http_request_duration_seconds_bucket{handler=\"/\",le=\"+Inf\"} 4\n"
    "http_request_duration_seconds_sum{handler=\"/\"} 0.3\n"
    "http_request_duration_seconds_count{handler=\"/\"} 4\n"
    "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
    "# TYPE process_start_time_seconds gauge\n"
    "process_start_time_seconds 1.72e+09\n"
    "# HELP promhttp_metric_handler_requests_total Total number of scrapes by HTTP status "
    "code.\n"
    "# TYPE promhttp_metric_handler_requests_total counter\n"
    "promhttp_metric_handler_requests_total{code=\"200\"} 1\n"
    "promhttp_metric_handler_requests_total{code=\"500\"} 0\n";

/* The OpenMetrics example: UNIT, _created, exemplars, float timestamps, # EOF. */
static const char openmetrics[] =
    "# TYPE acme_http_router_request_seconds summary\n"
    "# UNIT acme_http_router_request_seconds seconds\n"
    "# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.\n"
    "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n"
    "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n"
    "acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n"
    "# TYPE foo histogram\n"
    "foo_bucket{le=\"0.01\"} 0\n"
    "foo_bucket{le=\"+Inf\"} 17 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1.6e9\n"
    "foo_count 17\n"
    "foo_sum 324789.3\n"
    "# TYPE requests counter\n"
    "requests_total 3 1605281325.123\n"
    "requests_created 1605281325.0\n"
    "# EOF\n";

/* Read text whole; the error's message into msg (when not NULL). */
static int find(const char *text, size_t len, const char *const *want, int n,
                struct p4_promtext_found *out, char *msg, size_t size)
{
    struct p4_error err = {0};
    int rc = p4_promtext_find(text, len, want, n, out, &err);

    if (msg != NULL)
        (void)snprintf(msg, size, "%s", rc ? err.message : "");
    return rc;
}

static void go_client_exposition(void **state)
{
    static const char *const want[] = {
        "go_goroutines",                          /* 0: a gauge */
        "go_gc_duration_seconds",                 /* 1: a summary, by its TYPE and samples */
        "http_request_duration_seconds",          /* 2: a histogram */
        "http_request_duration_seconds_count",    /* 3: a histogram's sample by its own name */
        "promhttp_metric_handler_requests_total", /* 4: a counter, as the text format calls it */
        "promhttp_metric_handler_requests",       /* 5: _total is not stripped */
        "go_goroutine",                           /* 6: a prefix is not a name */
        "absent_metric",                          /* 7 */
        "go_info",                                /* 8 */
    };
    struct p4_promtext_found f;

    (void)state;
    assert_int_equal(find(go_client, strlen(go_client), want, 9, &f, NULL, 0), 0);
    assert_int_equal(f.found, 0x11fu);
    assert_int_equal(f.samples, 14);
    assert_int_equal(f.families, 6);
}

static void openmetrics_exposition(void **state)
{
    static const char *const want[] = {
        "acme_http_router_request_seconds", /* 0 */
        "foo",                              /* 1: from TYPE, _bucket, _count */
        "requests",                         /* 2: OpenMetrics' counter family */
        "requests_total",                   /* 3: its sample */
        "trace_id",                         /* 4: an exemplar's label is no metric */
    };
    struct p4_promtext_found f;
    char msg[P4_ERROR_MESSAGE_MAX];
    size_t n = strlen(openmetrics);
    char *after;

    (void)state;
    assert_int_equal(find(openmetrics, n, want, 5, &f, msg, sizeof(msg)), 0);
    assert_int_equal(f.found, 0xfu);
    assert_int_equal(f.samples, 9);
    assert_int_equal(f.families, 3);

    /* Blank lines may follow # EOF; nothing else may. */
    after = malloc(n + 32);
    assert_non_null(after);
    memcpy(after, openmetrics, n);
    memcpy(after + n, "\n  \n", 5);
    assert_int_equal(find(after, strlen(after), NULL, 0, &f, msg, sizeof(msg)), 0);
    memcpy(after + n, "late 1\n", 8);
    assert_int_equal(find(after, strlen(after), NULL, 0, &f, msg, sizeof(msg)), P4_ERR_PARSE);
    assert_string_equal(msg, "line 16 is not allowed after # EOF (OpenMetrics ends there): "
                             "\"late 1\"");
    free(after);
}

/* Label values with escaped quotes, backslashes and newlines, commas and braces. */
static void labels_with_escapes_and_commas(void **state)
{
    static const char text[] =
        "msg{text=\"a \\\"quoted\\\", comma, and \\\\ backslash\\nnewline\",path=\"C:\\\\dir\"} 1\n"
        "braces{a=\"}\",b=\"{\",c=\"=\",} 2\n" /* a trailing comma is allowed */
        "spaced { a = \"1\" , b=\"2\" } 3\n"
        "empty{} 4\n"
        "utf8{city=\"Zürich\",emoji=\"\xf0\x9f\x93\x88\"} 5\n"
        "{\"my.dotted.metric\",env=\"prod\"} 6\n"
        "# TYPE \"my.dotted.metric\" gauge\n"
        "{\"quoted name\"} 7\n"
        "colons{\"label.with.dots\"=\"x\"} 8\n";
    static const char *const want[] = {"msg",  "braces",           "spaced",      "empty",
                                       "utf8", "my.dotted.metric", "quoted name", "colons"};
    struct p4_promtext_found f;
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(find(text, strlen(text), want, 8, &f, msg, sizeof(msg)), 0);
    assert_int_equal(f.found, 0xffu);
    assert_int_equal(f.samples, 8);
    assert_int_equal(f.families, 1);
}

/* Values and timestamps as Go's ParseFloat reads them. */
static void special_values_and_timestamps(void **state)
{
    static const char text[] = "a NaN\n"
                               "b +Inf\n"
                               "c -Inf 1395066363000\n"
                               "d 1.5e+10 -1\n"
                               "e -0.0 0\n"
                               "f Inf\n"
                               "g 12345678901234567890\n"
                               "h 3\t1395066363000\t\n";
    struct p4_promtext_found f;

    (void)state;
    assert_int_equal(find(text, strlen(text), NULL, 0, &f, NULL, 0), 0);
    assert_int_equal(f.samples, 8);
}

/* CRLF, blank lines, comments, leading and trailing blanks, a last line without '\n'. */
static void tolerated_layout(void **state)
{
    static const char text[] = "# a comment\r\n"
                               "\r\n"
                               "#not a HELP line either\r\n"
                               "# HELP\r\n"
                               "#\r\n"
                               "   # TYPE up gauge   \r\n"
                               "\t up{job=\"x\"} 1 \r\n"
                               "# HELP up The scrape worked.\r\n"
                               "\n"
                               "last 2";
    static const char *const want[] = {"up", "last"};
    struct p4_promtext_found f;
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(find(text, strlen(text), want, 2, &f, msg, sizeof(msg)), 0);
    assert_int_equal(f.found, 0x3u);
    assert_int_equal(f.samples, 2);
    assert_int_equal(f.families, 1);
}

/* Each line that is not the format, and the message naming it. */
static void garbage_is_named_by_line(void **state)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"hello world\n", "line 1 is not a Prometheus sample (the value is not a number): "
                          "\"hello world\""},
        {"ok 1\nfoo\n", "line 2 is not a Prometheus sample (the value is missing): \"foo\""},
        {"foo 1 2 3\n", "line 1 is not a Prometheus sample (only a timestamp or an exemplar may "
                        "follow the value): \"foo 1 2 3\""},
        {"foo 1 abc\n", "line 1 is not a Prometheus sample (the timestamp is not a number): "
                        "\"foo 1 abc\""},
        {"foo{a=\"b\" 1\n", "line 1 is not a Prometheus sample (labels are separated by ',' and "
                            "closed by '}'): \"foo{a=?b? 1\""},
        {"foo{a=\"b\"\n", "line 1 is not a Prometheus sample (the labels are not closed by '}'): "
                          "\"foo{a=?b?\""},
        {"foo{a=\"b} 1\n", "line 1 is not a Prometheus sample (a quoted string is not closed): "
                           "\"foo{a=?b} 1\""},
        {"foo{a=b} 1\n",
         "line 1 is not a Prometheus sample (a label value must be quoted): \"foo{a=b} 1\""},
        {"foo{1a=\"b\"} 1\n", "line 1 is not a Prometheus sample (a label name begins with a "
                              "letter or '_'): \"foo{1a=?b?} 1\""},
        {"foo{a:b=\"c\"} 1\n", "line 1 is not a Prometheus sample (a label name must be "
                               "followed by '='): \"foo{a:b=?c?} 1\""},
        {"foo{a} 1\n", "line 1 is not a Prometheus sample (a label name must be followed by "
                       "'='): \"foo{a} 1\""},
        {"{a=\"b\"} 1\n",
         "line 1 is not a Prometheus sample (the labels name no metric): \"{a=?b?} 1\""},
        {"foo{\"x\",\"y\"} 1\n", "line 1 is not a Prometheus sample (a quoted label name must "
                                 "be followed by '='): \"foo{?x?,?y?} 1\""},
        {"foo{a=\"b\"}1\n", "line 1 is not a Prometheus sample (a blank must separate the name "
                            "from the value): \"foo{a=?b?}1\""},
        {"9lives 1\n", "line 1 is not a Prometheus sample (a metric name begins with a letter, "
                       "'_' or ':'): \"9lives 1\""},
        {"foo-bar 1\n", "line 1 is not a Prometheus sample (a blank must separate the name from "
                        "the value): \"foo-bar 1\""},
        {"foo 1 # trace\n", "line 1 is not a Prometheus sample (an exemplar begins with '{'): "
                            "\"foo 1 # trace\""},
        {"foo 1 # {a=\"b\"}\n", "line 1 is not a Prometheus sample (an exemplar needs a value): "
                                "\"foo 1 # {a=?b?}\""},
        {"# TYPE foo bogus\n", "line 1 is not a valid HELP, TYPE or UNIT line (the type is none "
                               "of counter, gauge, histogram, summary, untyped (or OpenMetrics' "
                               "unknown, gaugehistogram, stateset, info)): \"# TYPE foo bogus\""},
        {"# TYPE foo\n", "line 1 is not a valid HELP, TYPE or UNIT line (a TYPE line needs a type "
                         "after the name): \"# TYPE foo\""},
        {"# TYPE foo counter extra\n", "line 1 is not a valid HELP, TYPE or UNIT line (only the "
                                       "type may follow the name): \"# TYPE foo counter extra\""},
        {"# HELP 9x help\n", "line 1 is not a valid HELP, TYPE or UNIT line (a metric name "
                             "begins with a letter, '_' or ':'): \"# HELP 9x help\""},
        {"# HELP foo-bar help\n", "line 1 is not a valid HELP, TYPE or UNIT line (a blank must "
                                  "follow the metric name): \"# HELP foo-bar help\""},
        {"{\"\"} 1\n",
         "line 1 is not a Prometheus sample (a metric name may not be empty): \"{??} 1\""},
        {"# TYPE \"\" gauge\n", "line 1 is not a valid HELP, TYPE or UNIT line (a metric name may "
                                "not be empty): \"# TYPE ?? gauge\""},
        {"ok 1\r\nok 2\r\n\r\nbad\r\n",
         "line 4 is not a Prometheus sample (the value is missing): \"bad\""},
        {"{\"status\":\"ok\",\"checks\":[]}\n",
         "line 1 is not a Prometheus sample (labels are separated by ',' and closed by '}'): "
         "\"{?status?:?ok?,?checks?:[]}\""},
    };
    struct p4_promtext_found f;
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = find(cases[i].text, strlen(cases[i].text), NULL, 0, &f, msg, sizeof(msg));
        if (rc != P4_ERR_PARSE || strcmp(msg, cases[i].message) != 0)
            fail_msg("%s: rc %d, message\n  %s\nwant\n  %s", cases[i].text, rc, msg,
                     cases[i].message);
    }
}

/* What a web server answers instead: an HTML page, a login form. */
static void html_is_not_the_format(void **state)
{
    static const char html[] = "<!DOCTYPE html>\n<html><head><title>Not Found</title></head>"
                               "<body><h1>404</h1></body></html>\n";
    struct p4_promtext_found f;
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(find(html, strlen(html), NULL, 0, &f, msg, sizeof(msg)), P4_ERR_PARSE);
    assert_string_equal(msg, "line 1 is not a Prometheus sample (a metric name begins with a "
                             "letter, '_' or ':'): \"<!DOCTYPE html>\"");
    assert_int_equal(f.samples, 0);
}

/* Binary bytes (a gzip body, protobuf, NUL, invalid UTF-8): refused, the message printable. */
static void binary_is_not_the_format(void **state)
{
    static const char gzip[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9";
    static const char nul[] = "foo\0bar 1\n";
    static const char bad_utf8[] = "foo{a=\"\xff\xfe\"} 1\n";
    static const char proto[] = "\n\x0dgo_goroutines\x12\x1fNumber of goroutines\x18\x01\"\x0b";
    struct p4_promtext_found f;
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_int_equal(find(gzip, sizeof(gzip) - 1, NULL, 0, &f, msg, sizeof(msg)), P4_ERR_PARSE);
    assert_non_null(strstr(msg, "line 1 is not a Prometheus sample"));
    assert_int_equal(find(nul, sizeof(nul) - 1, NULL, 0, &f, msg, sizeof(msg)), P4_ERR_PARSE);
    assert_string_equal(msg, "line 1 is not a Prometheus sample (a blank must separate the name "
                             "from the value): \"foo?bar 1\"");
    assert_int_equal(find(bad_utf8, sizeof(bad_utf8) - 1, NULL, 0, &f, msg, sizeof(msg)),
                     P4_ERR_PARSE);
    assert_non_null(strstr(msg, "(a quoted string is not valid UTF-8)"));
    assert_int_equal(find(proto, sizeof(proto) - 1, NULL, 0, &f, msg, sizeof(msg)), P4_ERR_PARSE);
    assert_non_null(strstr(msg, "line 2 is not a Prometheus sample"));
    for (size_t i = 0; msg[i]; i++)
        assert_true((unsigned char)msg[i] >= 0x20);
}

/* A body of n copies of line (n * strlen(line) bytes), for the caller to free. */
static char *repeat(const char *head, char fill, size_t n, const char *tail, size_t *len)
{
    size_t h = strlen(head), t = strlen(tail);
    char *s = malloc(h + n + t + 1);

    assert_non_null(s);
    memcpy(s, head, h + 1); /* its NUL is overwritten by the fill, or ends an empty fill */
    memset(s + h, fill, n);
    memcpy(s + h + n, tail, t + 1);
    *len = h + n + t;
    return s;
}

/* Lines up to P4_PROMTEXT_LINE_MAX bytes are read, whole or in chunks; a longer one fails. */
static void huge_lines(void **state)
{
    struct p4_promtext_found f;
    struct p4_promtext p;
    struct p4_error err = {0};
    char msg[P4_ERROR_MESSAGE_MAX];
    size_t len, head = strlen("ok 1\nbig{a=\""), tail = strlen("\"} 1\n");
    /* A line of exactly P4_PROMTEXT_LINE_MAX bytes (without its '\n'). */
    char *fits = repeat("ok 1\nbig{a=\"", 'x', P4_PROMTEXT_LINE_MAX - (head - 5) - (tail - 1),
                        "\"} 1\n", &len);
    char *over;
    static const char *const want[] = {"big"};

    (void)state;
    assert_int_equal(find(fits, len, want, 1, &f, msg, sizeof(msg)), 0);
    assert_int_equal(f.found, 1);
    /* The same in chunks of 1000 bytes: the line is carried whole. */
    p4_promtext_init(&p, NULL, NULL);
    for (size_t off = 0; off < len; off += 1000)
        assert_int_equal(
            p4_promtext_feed(&p, fits + off, len - off < 1000 ? len - off : 1000, &err), 0);
    assert_int_equal(p4_promtext_finish(&p, &err), 0);
    assert_int_equal(p.samples, 2);
    p4_promtext_close(&p);
    free(fits);

    over = repeat("ok 1\nbig{a=\"", 'x', P4_PROMTEXT_LINE_MAX, "\"} 1\n", &len);
    assert_int_equal(find(over, len, want, 1, &f, msg, sizeof(msg)), P4_ERR_TOOBIG);
    assert_string_equal(msg, "line 2 is longer than 65536 bytes");
    /* In chunks, and as a comment: bounded all the same. */
    p4_promtext_init(&p, NULL, NULL);
    over[5] = '#';
    for (size_t off = 0; off < len; off += 4096) {
        int rc = p4_promtext_feed(&p, over + off, len - off < 4096 ? len - off : 4096, &err);
        if (rc != 0) {
            assert_int_equal(rc, P4_ERR_TOOBIG);
            break;
        }
    }
    assert_int_equal(p4_promtext_finish(&p, &err), P4_ERR_TOOBIG);
    assert_string_equal(err.message, "line 2 is longer than 65536 bytes");
    /* A failure is kept: more input changes nothing. */
    assert_int_equal(p4_promtext_feed(&p, "ok 1\n", 5, &err), P4_ERR_TOOBIG);
    p4_promtext_close(&p);
    free(over);

    /* A long line without any '\n' at all. */
    over = repeat("", 'a', P4_PROMTEXT_LINE_MAX + 1, "", &len);
    assert_int_equal(find(over, len, NULL, 0, &f, msg, sizeof(msg)), P4_ERR_TOOBIG);
    assert_string_equal(msg, "line 1 is longer than 65536 bytes");
    free(over);
}

struct names {
    char seen[2048];
};

static void record(enum p4_promtext_kind kind, const char *name, size_t len, void *data)
{
    struct names *n = data;
    size_t at = strlen(n->seen);

    (void)snprintf(n->seen + at, sizeof(n->seen) - at, "%s%.*s ",
                   kind == P4_PROMTEXT_FAMILY ? "T:" : "", (int)len, name);
}

/* Fed in every split of two chunks, and byte by byte, the names and counts are the same. */
static void chunks_read_as_whole(void **state)
{
    const char *text = openmetrics;
    size_t n = strlen(text);
    struct names whole = {{0}}, cut;
    struct p4_promtext p;

    (void)state;
    p4_promtext_init(&p, record, &whole);
    assert_int_equal(p4_promtext_feed(&p, text, n, NULL), 0);
    assert_int_equal(p4_promtext_finish(&p, NULL), 0);
    assert_true(p.eof);
    p4_promtext_close(&p);
    assert_string_equal(whole.seen,
                        "T:acme_http_router_request_seconds acme_http_router_request_seconds_sum "
                        "acme_http_router_request_seconds_count "
                        "acme_http_router_request_seconds_created T:foo foo_bucket foo_bucket "
                        "foo_count foo_sum T:requests requests_total requests_created ");
    for (size_t at = 0; at <= n; at++) {
        memset(&cut, 0, sizeof(cut));
        p4_promtext_init(&p, record, &cut);
        assert_int_equal(p4_promtext_feed(&p, text, at, NULL), 0);
        assert_int_equal(p4_promtext_feed(&p, text + at, n - at, NULL), 0);
        assert_int_equal(p4_promtext_finish(&p, NULL), 0);
        assert_int_equal(p.lines, 15);
        p4_promtext_close(&p);
        assert_string_equal(cut.seen, whole.seen);
    }
    memset(&cut, 0, sizeof(cut));
    p4_promtext_init(&p, record, &cut);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(p4_promtext_feed(&p, text + i, 1, NULL), 0);
    assert_int_equal(p4_promtext_finish(&p, NULL), 0);
    p4_promtext_close(&p);
    assert_string_equal(cut.seen, whole.seen);
}

static void empty_bodies(void **state)
{
    struct p4_promtext_found f;
    static const char *const want[] = {"up"};

    (void)state;
    assert_int_equal(p4_promtext_find(NULL, 0, want, 1, &f, NULL), 0);
    assert_int_equal(f.found, 0);
    assert_int_equal(f.samples, 0);
    assert_int_equal(find("", 0, want, 1, &f, NULL, 0), 0);
    assert_int_equal(find("\n\n# only comments\n", 18, want, 1, &f, NULL, 0), 0);
    assert_int_equal(f.samples, 0);
    assert_int_equal(f.found, 0);
}

static void family_rule(void **state)
{
    static const struct {
        const char *name, *want;
        enum p4_promtext_kind kind;
        bool is;
    } cases[] = {
        {"up", "up", P4_PROMTEXT_SAMPLE, true},
        {"up", "up", P4_PROMTEXT_FAMILY, true},
        {"latency_bucket", "latency", P4_PROMTEXT_SAMPLE, true},
        {"latency_sum", "latency", P4_PROMTEXT_SAMPLE, true},
        {"latency_count", "latency", P4_PROMTEXT_SAMPLE, true},
        {"latency_gcount", "latency", P4_PROMTEXT_SAMPLE, true},
        {"latency_gsum", "latency", P4_PROMTEXT_SAMPLE, true},
        {"latency_count", "latency_count", P4_PROMTEXT_SAMPLE, true},
        {"latency_bucket", "latency", P4_PROMTEXT_FAMILY, false}, /* only samples */
        {"latency_total", "latency", P4_PROMTEXT_SAMPLE, false},
        {"latency_created", "latency", P4_PROMTEXT_SAMPLE, false},
        {"latency_bucketx", "latency", P4_PROMTEXT_SAMPLE, false},
        {"latency", "latency_count", P4_PROMTEXT_SAMPLE, false},
        {"latencies", "latency", P4_PROMTEXT_SAMPLE, false},
        {"Up", "up", P4_PROMTEXT_SAMPLE, false},
        {"up", "", P4_PROMTEXT_SAMPLE, false},
        {"up", NULL, P4_PROMTEXT_SAMPLE, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (p4_promtext_is_of(cases[i].kind, cases[i].name, strlen(cases[i].name), cases[i].want) !=
            cases[i].is)
            fail_msg("%s of %s: want %d", cases[i].name, cases[i].want ? cases[i].want : "(null)",
                     cases[i].is);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(go_client_exposition),
        cmocka_unit_test(openmetrics_exposition),
        cmocka_unit_test(labels_with_escapes_and_commas),
        cmocka_unit_test(special_values_and_timestamps),
        cmocka_unit_test(tolerated_layout),
        cmocka_unit_test(garbage_is_named_by_line),
        cmocka_unit_test(html_is_not_the_format),
        cmocka_unit_test(binary_is_not_the_format),
        cmocka_unit_test(huge_lines),
        cmocka_unit_test(chunks_read_as_whole),
        cmocka_unit_test(empty_bodies),
        cmocka_unit_test(family_rule),
    };

    return cmocka_run_group_tests_name("promtext", tests, NULL, NULL);
}
