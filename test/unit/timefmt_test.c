/* timefmt_test.c: RFC 3339 timestamps read and written (p4_timefmt_parse, p4_timefmt_format). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/core/timefmt.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define SEC INT64_C(1000000)

static void the_api_servers_forms_are_read(void **state)
{
    static const struct {
        const char *text;
        int64_t usec;
    } cases[] = {
        {"2024-05-01T10:00:00Z", 1714557600 * SEC},
        {"2025-03-04T10:25:41Z", 1741083941 * SEC},
        /* MicroTime, and fractions of other lengths: past six digits they are dropped. */
        {"2024-05-01T10:00:00.123456Z", 1714557600 * SEC + 123456},
        {"2024-05-01T10:00:00.1Z", 1714557600 * SEC + 100000},
        {"2024-05-01T10:00:00.123456789Z", 1714557600 * SEC + 123456},
        {"2024-05-01T10:00:00.000000999Z", 1714557600 * SEC},
        /* Offsets are applied: both name the same instant as the first case. */
        {"2024-05-01T12:00:00+02:00", 1714557600 * SEC},
        {"2024-05-01T04:30:00-05:30", 1714557600 * SEC},
        {"2030-01-02T05:04:05.123+02:00", 1893553445 * SEC + 123000},
        /* RFC 3339 allows the lowercase letters. */
        {"2024-05-01t10:00:00z", 1714557600 * SEC},
        /* The edges: leap days, the epoch, the last second of 9999. */
        {"2000-02-29T23:59:59Z", 951868799 * SEC},
        {"2024-02-29T00:00:00Z", 1709164800 * SEC},
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T01:00:00+01:00", 0},
        {"9999-12-31T23:59:59.999999Z", 253402300799 * SEC + 999999},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        int64_t usec = -1;

        if (p4_timefmt_parse(cases[i].text, &usec) != 0)
            fail_msg("%s: refused", cases[i].text);
        if (usec != cases[i].usec)
            fail_msg("%s: got %lld, want %lld", cases[i].text, (long long)usec,
                     (long long)cases[i].usec);
    }
}

static void malformed_times_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "2024-05-01",
        "2024-05-01T10:00:00",       /* no zone */
        "2024-05-01 10:00:00Z",      /* a space for the T */
        " 2024-05-01T10:00:00Z",     /* leading space */
        "2024-05-01T10:00:00Z ",     /* trailing space */
        "2024-05-01T10:00:00ZZ",     /* something after the zone */
        "24-05-01T10:00:00Z",        /* two-digit year */
        "2024-5-01T10:00:00Z",       /* one-digit month */
        "2024-05-01T10:00Z",         /* no seconds */
        "2024-05-01T10:00:00.Z",     /* a fraction needs a digit */
        "2024-05-01T10:00:00,5Z",    /* only '.' starts a fraction */
        "2024-05-01T10:00:00+0200",  /* the offset needs its colon */
        "2024-05-01T10:00:00+02",    /* and its minutes */
        "2024-05-01T10:00:00+2:00",  /* and two digits for the hour */
        "2024-05-01T10:00:00+ab:cd", /* and digits */
        "2024-05-01T10:00:00+24:00", /* offset hour out of range */
        "2024-05-01T10:00:00+02:60", /* offset minute out of range */
        "2024-13-01T10:00:00Z",      /* month 13 */
        "2024-00-01T10:00:00Z",      /* month 0 */
        "2024-05-00T10:00:00Z",      /* day 0 */
        "2024-04-31T10:00:00Z",      /* April has 30 days */
        "2023-02-29T10:00:00Z",      /* not a leap year */
        "1900-02-29T10:00:00Z",      /* nor is 1900 */
        "2024-05-01T24:00:00Z",      /* hour 24 */
        "2024-05-01T10:60:00Z",      /* minute 60 */
        "2024-05-01T10:00:60Z",      /* second 60, refused as Go refuses it */
        "1969-12-31T23:59:59Z",      /* before 1970 */
        "1970-01-01T00:30:00+01:00", /* before 1970 once the offset is applied */
        "9999-12-31T23:59:59-00:01", /* the year 10000 once the offset is applied */
    };

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        int64_t usec = 42;

        if (p4_timefmt_parse(bad[i], &usec) != P4_ERR_PARSE)
            fail_msg("\"%s\" (case %zu): not refused", bad[i], i);
        assert_int_equal(usec, 42); /* untouched */
    }
    assert_int_equal(p4_timefmt_parse(NULL, NULL), P4_ERR_PARSE);
}

static void times_are_written_as_the_api_server_writes_them(void **state)
{
    char buf[P4_TIMEFMT_SIZE], small[P4_TIMEFMT_SIZE - 1];
    int64_t usec;

    (void)state;
    p4_timefmt_format(1714557600, buf, sizeof(buf));
    assert_string_equal(buf, "2024-05-01T10:00:00Z");
    p4_timefmt_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    p4_timefmt_format(253402300799, buf, sizeof(buf));
    assert_string_equal(buf, "9999-12-31T23:59:59Z");
    /* What it writes, it reads back. */
    assert_int_equal(p4_timefmt_parse(buf, &usec), 0);
    assert_int_equal(usec, 253402300799 * SEC);
    /* No room: empty, never cut. */
    memset(small, 'x', sizeof(small));
    p4_timefmt_format(1714557600, small, sizeof(small));
    assert_string_equal(small, "");
    p4_timefmt_format(1714557600, small, 0); /* size 0: nothing written */
    assert_string_equal(small, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_api_servers_forms_are_read),
        cmocka_unit_test(malformed_times_are_refused),
        cmocka_unit_test(times_are_written_as_the_api_server_writes_them),
    };
    return cmocka_run_group_tests_name("timefmt", tests, NULL, NULL);
}
