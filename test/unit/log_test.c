/* log_test.c: logfmt and JSON lines, quoting, escaping and level filtering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/log.h"

/* Log one line with the given settings and return it without its timestamp. */
static char *capture(int json, enum p4_log_level min, void (*emit)(void))
{
    char *buf = NULL, *line;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    assert_non_null(out);
    p4_log_setup(min, json, out);
    emit();
    (void)fclose(out);
    p4_log_setup(P4_LOG_INFO, 0, NULL);
    line = strdup(buf);
    free(buf);
    return line;
}

static void emit_plain(void)
{
    p4_log(P4_LOG_INFO, "reconciled", "key", "shop/web", "result", "ok", P4_LOG_END);
}

static void emit_hostile(void)
{
    p4_log(P4_LOG_WARN, "bad \"input\"", "error", "line1\nline2 %s%n\x01", "empty", "", P4_LOG_END);
}

static void emit_debug(void)
{
    p4_log(P4_LOG_DEBUG, "noise", P4_LOG_END);
}

static void logfmt_plain_values_are_bare(void **state)
{
    char *line = capture(0, P4_LOG_INFO, emit_plain);

    (void)state;
    assert_non_null(strstr(line, " level=info msg=reconciled key=shop/web result=ok\n"));
    assert_memory_equal(line, "time=", 5);
    free(line);
}

static void logfmt_quotes_and_escapes(void **state)
{
    char *line = capture(0, P4_LOG_INFO, emit_hostile);

    (void)state;
    assert_non_null(strstr(line, "level=warn msg=\"bad \\\"input\\\"\" "));
    assert_non_null(strstr(line, "error=\"line1\\nline2 %s%n\\x01\" empty=\"\"\n"));
    /* one event, one line */
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
    free(line);
}

static void json_lines_escape(void **state)
{
    char *line = capture(1, P4_LOG_INFO, emit_hostile);

    (void)state;
    assert_non_null(strstr(line, "\"level\":\"warn\",\"msg\":\"bad \\\"input\\\"\""));
    assert_non_null(strstr(line, "\"error\":\"line1\\nline2 %s%n\\u0001\""));
    assert_memory_equal(line + strlen(line) - 2, "}\n", 2);
    free(line);
}

static void levels_below_the_minimum_are_dropped(void **state)
{
    char *line = capture(0, P4_LOG_INFO, emit_debug);

    (void)state;
    assert_string_equal(line, "");
    free(line);
    line = capture(0, P4_LOG_DEBUG, emit_debug);
    assert_non_null(strstr(line, "level=debug msg=noise\n"));
    free(line);
    assert_int_equal(p4_log_level_parse("warn"), P4_LOG_WARN);
    assert_int_equal(p4_log_level_parse("verbose"), -1);
    assert_int_equal(p4_log_level_parse(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logfmt_plain_values_are_bare),
        cmocka_unit_test(logfmt_quotes_and_escapes),
        cmocka_unit_test(json_lines_escape),
        cmocka_unit_test(levels_below_the_minimum_are_dropped),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
