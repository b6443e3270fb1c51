/* watchframe_test.c: watch stream framing across chunk boundaries, big objects and bad lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/kube/watchframe.h"

#define MAX_EVENTS 16

/* What the callback saw: event types and each object's metadata.name (or Status reason). */
struct recorder {
    size_t count;
    enum p4_watch_type types[MAX_EVENTS];
    char names[MAX_EVENTS][64];
    size_t last_size; /* length of the last object's spec.data string */
};

static void record(enum p4_watch_type type, cJSON *object, void *cb_data)
{
    struct recorder *r = cb_data;
    const char *name = p4_json_str(object, "metadata.name");
    const char *data = p4_json_str(object, "spec.data");

    if (name == NULL)
        name = p4_json_str(object, "reason");
    if (r->count < MAX_EVENTS) {
        r->types[r->count] = type;
        (void)snprintf(r->names[r->count], sizeof(r->names[0]), "%s", name ? name : "");
    }
    r->count++;
    r->last_size = data != NULL ? strlen(data) : 0;
    cJSON_Delete(object); /* the callback owns the object */
}

/* Five events of every kind, with CRLF endings and blank lines between some. */
static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Phase4Deployment\",\"metadata\":"
    "{\"name\":\"a\",\"resourceVersion\":\"101\"}}}\n"
    "\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"102\"}}}"
    "\r\n"
    "\r\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Phase4Deployment\",\"metadata\":"
    "{\"resourceVersion\":\"150\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"151\"}}}"
    "\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
    "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (151)\","
    "\"reason\":\"Expired\",\"code\":410}}\n";

static void assert_stream_events(const struct recorder *r, const struct p4_watchframe *wf)
{
    assert_int_equal(r->count, 5);
    assert_int_equal(r->types[0], P4_WATCH_ADDED);
    assert_string_equal(r->names[0], "a");
    assert_int_equal(r->types[1], P4_WATCH_MODIFIED);
    assert_string_equal(r->names[1], "b");
    assert_int_equal(r->types[2], P4_WATCH_BOOKMARK);
    assert_int_equal(r->types[3], P4_WATCH_DELETED);
    assert_string_equal(r->names[3], "c");
    assert_int_equal(r->types[4], P4_WATCH_ERROR);
    assert_string_equal(r->names[4], "Expired");
    /* The ERROR event's Status carries no resourceVersion and changes nothing. */
    assert_string_equal(p4_watchframe_resource_version(wf), "151");
}

static void stream_split_at_every_byte(void **state)
{
    size_t len = strlen(stream);

    (void)state;
    for (size_t cut = 0; cut <= len; cut++) {
        struct p4_watchframe wf;
        struct recorder r = {0};

        p4_watchframe_init(&wf);
        assert_int_equal(p4_watchframe_feed(&wf, stream, cut, record, &r), 0);
        assert_int_equal(p4_watchframe_feed(&wf, stream + cut, len - cut, record, &r), 0);
        assert_stream_events(&r, &wf);
        p4_watchframe_close(&wf);
    }
}

static void stream_in_three_pieces_and_single_bytes(void **state)
{
    size_t len = strlen(stream);
    struct p4_watchframe wf;
    struct recorder r = {0};

    (void)state;
    for (size_t a = 0; a <= len; a += 7) {
        for (size_t b = a; b <= len; b += 13) {
            memset(&r, 0, sizeof(r));
            p4_watchframe_init(&wf);
            assert_int_equal(p4_watchframe_feed(&wf, stream, a, record, &r), 0);
            assert_int_equal(p4_watchframe_feed(&wf, stream + a, b - a, record, &r), 0);
            assert_int_equal(p4_watchframe_feed(&wf, stream + b, len - b, record, &r), 0);
            assert_stream_events(&r, &wf);
            p4_watchframe_close(&wf);
        }
    }
    memset(&r, 0, sizeof(r));
    p4_watchframe_init(&wf);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(p4_watchframe_feed(&wf, stream + i, 1, record, &r), 0);
    assert_stream_events(&r, &wf);
    p4_watchframe_close(&wf);
}

/* One MODIFIED event whose spec.data string is size bytes long; caller frees. */
static char *big_event(size_t size, size_t *len)
{
    static const char head[] = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"big\","
                               "\"resourceVersion\":\"7\"},\"spec\":{\"data\":\"";
    static const char tail[] = "\"}}}\n";
    size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1;
    char *buf = malloc(hl + size + tl);

    assert_non_null(buf);
    memcpy(buf, head, hl);
    memset(buf + hl, 'x', size);
    memcpy(buf + hl + size, tail, tl);
    *len = hl + size + tl;
    return buf;
}

static void feed_in_chunks(const char *buf, size_t len, size_t chunk)
{
    struct p4_watchframe wf;
    struct recorder r = {0};
    clock_t start = clock();

    p4_watchframe_init(&wf);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;

        assert_int_equal(p4_watchframe_feed(&wf, buf + off, n, record, &r), 0);
        /* Nothing is delivered before the final '\n'. */
        assert_int_equal(r.count, off + n == len ? 1 : 0);
    }
    assert_int_equal(r.last_size, 1024 * 1024);
    assert_string_equal(p4_watchframe_resource_version(&wf), "7");
    p4_watchframe_close(&wf);
    /*
     * Re-scanning the buffer from the start on every byte would be ~10^12
     * steps; one pass is milliseconds (seconds under valgrind).
     */
    assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 30.0);
}

static void megabyte_object_in_one_byte_chunks(void **state)
{
    size_t len;
    char *buf = big_event((size_t)1024 * 1024, &len);

    (void)state;
    feed_in_chunks(buf, len, 1);
    free(buf);
}

static void megabyte_object_in_4k_chunks(void **state)
{
    size_t len;
    char *buf = big_event((size_t)1024 * 1024, &len);

    (void)state;
    feed_in_chunks(buf, len, 4096);
    feed_in_chunks(buf, len, len); /* and whole, decoded in place */
    free(buf);
}

static void invalid_json_then_valid_event_recovers(void **state)
{
    static const char bad[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\n"
                              "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ok\","
                              "\"resourceVersion\":\"9\"}}}\n";
    struct p4_watchframe wf;
    struct recorder r = {0};

    (void)state;
    p4_watchframe_init(&wf);
    assert_int_equal(p4_watchframe_feed(&wf, bad, strlen(bad), record, &r), P4_ERR_PARSE);
    assert_int_equal(wf.error.code, P4_ERR_PARSE);
    assert_non_null(strstr(wf.error.message, "invalid JSON"));
    assert_int_equal(r.count, 1);
    assert_string_equal(r.names[0], "ok");
    assert_string_equal(p4_watchframe_resource_version(&wf), "9");
    /* The next clean feed reports success again. */
    assert_int_equal(p4_watchframe_feed(&wf, "\n", 1, record, &r), 0);
    assert_int_equal(wf.error.code, 0);
    p4_watchframe_close(&wf);
}

static void malformed_events_are_reported_not_delivered(void **state)
{
    static const char *const lines[] = {
        "[1,2]\n",
        "\"ADDED\"\n",
        "{\"object\":{}}\n",
        "{\"type\":7,\"object\":{}}\n",
        "{\"type\":\"RENAMED\",\"object\":{}}\n",
        "{\"type\":\"added\",\"object\":{}}\n",
        "{\"type\":\"ADD\\u0000ED\",\"object\":{}}\n",
        "{\"type\":\"ADDED\"}\n",
        "{\"type\":\"ADDED\",\"object\":\"x\"}\n",
        "{\"type\":\"ADDED\",\"object\":{}} trailing\n",
        "\x01\x02\xff\n",
    };
    struct p4_watchframe wf;
    struct recorder r = {0};

    (void)state;
    p4_watchframe_init(&wf);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        assert_int_equal(p4_watchframe_feed(&wf, lines[i], strlen(lines[i]), record, &r),
                         P4_ERR_PARSE);
        assert_string_equal(wf.error.reason, "ParseError");
    }
    assert_non_null(strstr(wf.error.message, "invalid JSON"));
    assert_int_equal(r.count, 0);
    assert_int_equal(p4_watchframe_feed(&wf, lines[4], strlen(lines[4]), record, &r), P4_ERR_PARSE);
    assert_string_equal(wf.error.message, "watch event has unknown type \"RENAMED\"");
    assert_null(p4_watchframe_resource_version(&wf));
    p4_watchframe_close(&wf);
}

static void bookmark_updates_resource_version(void **state)
{
    static const char events[] =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}"
        "\n"
        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Phase4Deployment\",\"apiVersion\":"
        "\"phase4.io/v1alpha1\",\"metadata\":{\"resourceVersion\":\"12345\"}}}\n";
    static const char no_rv[] = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\","
                                "\"resourceVersion\":\"\"}}}\n";
    struct p4_watchframe wf;
    struct recorder r = {0};

    (void)state;
    p4_watchframe_init(&wf);
    assert_null(p4_watchframe_resource_version(&wf));
    assert_int_equal(p4_watchframe_feed(&wf, events, strlen(events), record, &r), 0);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.types[1], P4_WATCH_BOOKMARK);
    assert_string_equal(p4_watchframe_resource_version(&wf), "12345");
    /* An empty resourceVersion does not erase the one we can resume from. */
    assert_int_equal(p4_watchframe_feed(&wf, no_rv, strlen(no_rv), record, &r), 0);
    assert_string_equal(p4_watchframe_resource_version(&wf), "12345");
    /* reset drops a half line but keeps the version. */
    assert_int_equal(p4_watchframe_feed(&wf, "{\"type\":\"ADD", 12, record, &r), 0);
    p4_watchframe_reset(&wf);
    assert_int_equal(p4_watchframe_feed(&wf, events, strlen(events), record, &r), 0);
    assert_int_equal(r.count, 5);
    assert_string_equal(p4_watchframe_resource_version(&wf), "12345");
    p4_watchframe_close(&wf);
}

static void error_event_passes_status_through(void **state)
{
    static const char line[] =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
        "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: 5 (90)\","
        "\"reason\":\"Expired\",\"code\":410}}\r\n";
    struct p4_watchframe wf;
    struct recorder r = {0};

    (void)state;
    p4_watchframe_init(&wf);
    assert_int_equal(p4_watchframe_feed(&wf, line, strlen(line), record, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.types[0], P4_WATCH_ERROR);
    assert_string_equal(r.names[0], "Expired");
    assert_null(p4_watchframe_resource_version(&wf));
    assert_string_equal(p4_watch_type_name(P4_WATCH_ERROR), "ERROR");
    assert_string_equal(p4_watch_type_name((enum p4_watch_type)99), "UNKNOWN");
    p4_watchframe_close(&wf);
}

static void over_limit_line_is_dropped_then_stream_continues(void **state)
{
    static const char ok[] =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"after\"}}}\n";
    char big[200];
    struct p4_watchframe wf;
    struct recorder r = {0};

    (void)state;
    memset(big, 'x', sizeof(big));
    p4_watchframe_init(&wf);
    wf.line_max = 100;
    /* 60 bytes fit; the next 60 cross the limit; the rest of the line is dropped silently. */
    assert_int_equal(p4_watchframe_feed(&wf, big, 60, record, &r), 0);
    assert_int_equal(p4_watchframe_feed(&wf, big, 60, record, &r), P4_ERR_TOOBIG);
    assert_string_equal(wf.error.reason, "TooLarge");
    assert_int_equal(p4_watchframe_feed(&wf, big, sizeof(big), record, &r), 0);
    assert_int_equal(p4_watchframe_feed(&wf, "xx\n", 3, record, &r), 0);
    assert_int_equal(p4_watchframe_feed(&wf, ok, strlen(ok), record, &r), 0);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.names[0], "after");

    /* A whole over-long line inside one chunk, followed by a good one. */
    memset(big, 'x', sizeof(big));
    big[150] = '\n';
    p4_watchframe_close(&wf);
    p4_watchframe_init(&wf);
    wf.line_max = 100;
    assert_int_equal(p4_watchframe_feed(&wf, big, 151, record, &r), P4_ERR_TOOBIG);
    assert_int_equal(p4_watchframe_feed(&wf, ok, strlen(ok), record, &r), 0);
    assert_int_equal(r.count, 2);
    p4_watchframe_close(&wf);
}

static void default_limit_is_sixteen_mebibytes(void **state)
{
    size_t chunk = (size_t)1024 * 1024;
    char *buf = malloc(chunk);
    struct p4_watchframe wf;
    struct recorder r = {0};
    int rc = 0;

    (void)state;
    assert_non_null(buf);
    memset(buf, ' ', chunk);
    p4_watchframe_init(&wf);
    assert_int_equal(wf.line_max, P4_WATCHFRAME_LINE_MAX);
    for (size_t fed = 0; fed <= P4_WATCHFRAME_LINE_MAX && rc == 0; fed += chunk)
        rc = p4_watchframe_feed(&wf, buf, chunk, record, &r);
    assert_int_equal(rc, P4_ERR_TOOBIG);
    assert_int_equal(p4_watchframe_feed(&wf, "\n{}\n", 4, record, &r), P4_ERR_PARSE);
    assert_int_equal(r.count, 0);
    p4_watchframe_close(&wf);
    free(buf);
}

static void crlf_and_blank_lines(void **state)
{
    static const char text[] =
        "\r\n  \r\n\t\n{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}\r\n\r\n";
    struct p4_watchframe wf;
    struct recorder r = {0};

    (void)state;
    p4_watchframe_init(&wf);
    assert_int_equal(p4_watchframe_feed(&wf, text, strlen(text), record, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.types[0], P4_WATCH_DELETED);
    /* A last line without its '\n' waits for more data. */
    assert_int_equal(p4_watchframe_feed(&wf, text + 8, strlen(text) - 12, record, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(p4_watchframe_feed(&wf, "\r\n", 2, record, &r), 0);
    assert_int_equal(r.count, 2);
    p4_watchframe_close(&wf);
}

static void bad_arguments(void **state)
{
    struct p4_watchframe wf;
    struct recorder r = {0};

    (void)state;
    p4_watchframe_init(&wf);
    assert_int_equal(p4_watchframe_feed(NULL, "x", 1, record, &r), P4_ERR_INVAL);
    assert_int_equal(p4_watchframe_feed(&wf, "x", 1, NULL, &r), P4_ERR_INVAL);
    assert_int_equal(p4_watchframe_feed(&wf, NULL, 1, record, &r), P4_ERR_INVAL);
    assert_int_equal(p4_watchframe_feed(&wf, NULL, 0, record, &r), 0);
    assert_null(p4_watchframe_resource_version(NULL));
    p4_watchframe_close(&wf);
    p4_watchframe_close(&wf); /* closing twice is harmless */
    p4_watchframe_close(NULL);
    p4_watchframe_reset(NULL);
}

/* What on_unreadable saw. */
struct unreadable {
    size_t count;
    enum p4_watch_type type;
    int code;
    char head[32]; /* the first bytes of the object */
    size_t len;
};

static void record_unreadable(enum p4_watch_type type, const char *object, size_t len,
                              const struct p4_error *why, void *cb_data)
{
    struct unreadable *u = cb_data;

    u->count++;
    u->type = type;
    u->code = why->code;
    u->len = len;
    (void)snprintf(u->head, sizeof(u->head), "%.*s", (int)(len < 31 ? len : 31), object);
}

static void count_events(enum p4_watch_type type, cJSON *object, void *cb_data)
{
    (void)type;
    ((struct unreadable *)cb_data)->count += 100;
    cJSON_Delete(object);
}

/* An event line whose object nests depth levels: {"a":...{"a":1}...}. Caller frees. */
static char *deep_event(const char *type, size_t depth, const char *rv)
{
    size_t n = 256 + depth * 6;
    char *line = malloc(n);
    int at;

    assert_non_null(line);
    at = snprintf(line, n,
                  "{\"type\":\"%s\",\"object\":{\"metadata\":{\"name\":\"deep\","
                  "\"resourceVersion\":\"%s\"},\"spec\":",
                  type, rv);
    for (size_t i = 0; i < depth - 1; i++) /* the object is the first level */
        at += snprintf(line + at, n - (size_t)at, "{\"a\":");
    line[at++] = '1';
    memset(line + at, '}', depth + 1); /* and the line around it one more */
    at += (int)depth + 1;
    (void)snprintf(line + at, n - (size_t)at, "\n");
    return line;
}

static void object_too_deep_for_cjson_goes_to_on_unreadable(void **state)
{
    struct p4_watchframe wf;
    struct unreadable u = {0};
    char *deep = deep_event("MODIFIED", 1100, "77");
    char *fits = deep_event("ADDED", 1000, "78"); /* the line is 1001 deep, its object 1000 */

    (void)state;
    p4_watchframe_init(&wf);
    /* Without the callback the line is bad, as before. */
    assert_int_equal(p4_watchframe_feed(&wf, deep, strlen(deep), count_events, &u), P4_ERR_PARSE);
    assert_int_equal(u.count, 0);
    wf.on_unreadable = record_unreadable;
    assert_int_equal(p4_watchframe_feed(&wf, deep, strlen(deep), count_events, &u), 0);
    assert_int_equal(u.count, 1);
    assert_int_equal(u.type, P4_WATCH_MODIFIED);
    assert_int_equal(u.code, P4_ERR_PARSE);
    assert_string_equal(u.head, "{\"metadata\":{\"name\":\"deep\",\"res");
    assert_int_equal(u.len, strlen(deep) - strlen("{\"type\":\"MODIFIED\",\"object\":") - 2);
    assert_int_equal(deep[strlen("{\"type\":\"MODIFIED\",\"object\":") + u.len - 1], '}');
    assert_string_equal(p4_watchframe_resource_version(&wf), "77");
    /* The object alone parses: it goes to the ordinary callback. */
    assert_int_equal(p4_watchframe_feed(&wf, fits, strlen(fits), count_events, &u), 0);
    assert_int_equal(u.count, 101);
    assert_string_equal(p4_watchframe_resource_version(&wf), "78");
    /* Lines that are no event at all stay errors. */
    assert_int_equal(p4_watchframe_feed(&wf, "{\"type\":\"ADDED\"\n", 16, count_events, &u),
                     P4_ERR_PARSE);
    deep[7] = 'X'; /* an unknown type */
    assert_int_equal(p4_watchframe_feed(&wf, deep, strlen(deep), count_events, &u), P4_ERR_PARSE);
    assert_int_equal(u.count, 101);
    free(deep);
    free(fits);
    deep = deep_event("ERROR", 1100, "79"); /* a Status nobody can read */
    assert_int_equal(p4_watchframe_feed(&wf, deep, strlen(deep), count_events, &u), P4_ERR_PARSE);
    assert_string_equal(p4_watchframe_resource_version(&wf), "78");
    free(deep);
    p4_watchframe_close(&wf);
}

/* keep of the test: objects of namespace "team-b" are refused; counts what it was asked. */
static int keep_asked;

static bool keep_not_team_b(const char *object, size_t len, void *cb_data)
{
    (void)cb_data;
    keep_asked++;
    return memmem(object, len, "\"namespace\":\"team-b\"", 20) == NULL;
}

static void keep_drops_refused_events_unparsed(void **state)
{
    static const char s[] =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"team-a\","
        "\"resourceVersion\":\"1\"}}}\n"
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\",\"namespace\":\"team-b\","
        "\"resourceVersion\":\"2\"}}}\n"
        "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"c\",\"namespace\":\"team-b\","
        "\"resourceVersion\":\"3\"}}}\n"
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"namespace\":\"team-b\","
        "\"resourceVersion\":\"4\"}}}\n"
        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"d\",\"namespace\":\"team-a\","
        "\"resourceVersion\":\"5\"}}}\n"
        "not json\n";
    struct p4_watchframe wf;
    struct recorder r = {0};

    (void)state;
    p4_watchframe_init(&wf);
    wf.keep = keep_not_team_b;
    keep_asked = 0;
    /* The bad line is still reported: keep is not asked about what does not scan. */
    assert_int_equal(p4_watchframe_feed(&wf, s, sizeof(s) - 1, record, &r), P4_ERR_PARSE);
    assert_int_equal(keep_asked, 4); /* ADDED, ADDED, DELETED, MODIFIED: never a BOOKMARK */
    assert_int_equal(r.count, 3);
    assert_string_equal(r.names[0], "a");
    assert_int_equal(r.types[1], P4_WATCH_BOOKMARK);
    assert_string_equal(r.names[2], "d");
    assert_string_equal(p4_watchframe_resource_version(&wf), "5");
    p4_watchframe_close(&wf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_split_at_every_byte),
        cmocka_unit_test(stream_in_three_pieces_and_single_bytes),
        cmocka_unit_test(megabyte_object_in_one_byte_chunks),
        cmocka_unit_test(megabyte_object_in_4k_chunks),
        cmocka_unit_test(invalid_json_then_valid_event_recovers),
        cmocka_unit_test(malformed_events_are_reported_not_delivered),
        cmocka_unit_test(bookmark_updates_resource_version),
        cmocka_unit_test(error_event_passes_status_through),
        cmocka_unit_test(over_limit_line_is_dropped_then_stream_continues),
        cmocka_unit_test(default_limit_is_sixteen_mebibytes),
        cmocka_unit_test(crlf_and_blank_lines),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(object_too_deep_for_cjson_goes_to_on_unreadable),
        cmocka_unit_test(keep_drops_refused_events_unparsed),
    };
    return cmocka_run_group_tests_name("watchframe", tests, NULL, NULL);
}
