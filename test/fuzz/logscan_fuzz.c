/*
 * logscan_fuzz.c: libFuzzer target for stages/validation/logscan.h, which reads pod logs (any
 * bytes a container wrote) and compiles the patterns a resource's author wrote.
 *
 * Input: two bytes choose where the log is cut, a third byte says whether the first line of the
 * rest is a pattern (bit 0: an allow pattern; bit 1: a critical pattern beside "panic:"), and the
 * rest is the log. The log fed whole and fed in two parts cut there must give the same result;
 * what is kept stays within its bounds (at most P4_LOGSCAN_KEEP lines of valid UTF-8, each at most
 * P4_LOGSCAN_QUOTE_MAX bytes). A pattern that costs too much must be refused, not compiled slowly
 * (libFuzzer's timeout would say).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/text.h"
#include "stages/validation/logscan.h"

static void check(const struct p4_logscan_result *a, const struct p4_logscan_result *b)
{
    if (a->lines != b->lines || a->matched != b->matched || a->allowed != b->allowed ||
        a->cut != b->cut || a->nhits != b->nhits)
        abort();
    if (a->nhits < 0 || a->nhits > P4_LOGSCAN_KEEP || (uint64_t)a->nhits > a->matched ||
        a->matched + a->allowed > a->lines || a->cut > a->lines)
        abort();
    for (int i = 0; i < a->nhits; i++) {
        size_t n = strlen(a->hits[i].line);
        if (strcmp(a->hits[i].line, b->hits[i].line) != 0 || n > P4_LOGSCAN_QUOTE_MAX ||
            !p4_text_utf8_valid(a->hits[i].line, n))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *log, *nl;
    const char *critical[2] = {"panic:", NULL}, *allow[1] = {NULL};
    char *pattern = NULL;
    struct p4_logscan *whole = NULL, *parts = NULL;
    struct p4_error err;
    size_t len, cut;
    int ncritical = 0, nallow = 0;

    if (size < 3)
        return 0;
    log = (const char *)data + 3;
    len = size - 3;
    if ((data[2] & 3) != 0 && (nl = memchr(log, '\n', len)) != NULL) {
        size_t plen = (size_t)(nl - log);
        pattern = malloc(plen + 1);
        if (pattern == NULL)
            abort();
        memcpy(pattern, log, plen);
        pattern[plen] = '\0';
        if (data[2] & 1) {
            allow[0] = pattern;
            nallow = 1;
        }
        if (data[2] & 2) {
            critical[1] = pattern;
            ncritical = 2;
        }
        log = nl + 1;
        len -= plen + 1;
    }
    if (p4_logscan_new(ncritical ? critical : NULL, ncritical, allow, nallow, &whole, &err) != 0) {
        if (whole != NULL || err.message[0] == '\0')
            abort();
        free(pattern);
        return 0;
    }
    if (p4_logscan_new(ncritical ? critical : NULL, ncritical, allow, nallow, &parts, &err) != 0)
        abort();
    cut = ((size_t)data[0] << 8 | data[1]) % (len + 1);
    p4_logscan_begin(whole, "pod p container c");
    p4_logscan_feed(whole, log, len);
    p4_logscan_end(whole);
    p4_logscan_begin(parts, "pod p container c");
    p4_logscan_feed(parts, log, cut);
    p4_logscan_feed(parts, log + cut, len - cut);
    p4_logscan_end(parts);
    check(p4_logscan_result(whole), p4_logscan_result(parts));
    p4_logscan_free(whole);
    p4_logscan_free(parts);
    free(pattern);
    return 0;
}
