/*
 * reaper_fuzz.c: libFuzzer target for the /proc/<pid>/stat line the reaper reads
 * (reaper.h): the process name in it is whatever the process called itself.
 *
 * Input: the line's bytes, not NUL-terminated (the parser must stay within the length).
 * Invariants: a line it accepts has a ')' followed by " <state> <digits>", the state a letter,
 * the parent pid non-negative and no larger than INT32_MAX; a refused line leaves the outputs
 * untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/net/reaper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    char state = '?';
    long ppid = -7;

    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size); /* exactly size bytes: ASan catches a read past them */
    if (p4_reaper_parse_stat(buf, size, &state, &ppid)) {
        if (memchr(buf, ')', size) == NULL || state < 'A' || state > 'z' || ppid < 0 ||
            ppid > INT32_MAX)
            abort();
    } else if (state != '?' || ppid != -7) {
        abort();
    }
    free(buf);
    return 0;
}
