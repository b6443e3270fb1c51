/*
 * timefmt_fuzz.c: libFuzzer target for p4_timefmt_parse, which reads timestamps from outside
 * (an exec credential plugin's expirationTimestamp, the API server's conditions).
 *
 * The input, NUL-terminated, is parsed. A time it accepts must lie from 1970 up to the end of
 * 9999, must have been written in the form the parser documents (checked here by a reading of its
 * own), and, written back with p4_timefmt_format, must read back as the same second.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/timefmt.h"

#define END_OF_9999 INT64_C(253402300800)

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Whether s has the shape "DDDD-DD-DDTDD:DD:DD[.D+](Z|+DD:DD|-DD:DD)", letters in either case. */
static bool shaped(const char *s)
{
    static const char head[] = "dddd-dd-ddTdd:dd:dd";

    for (size_t i = 0; i < sizeof(head) - 1; i++, s++) {
        if (head[i] == 'd' ? !digit(*s) : head[i] == 'T' ? (*s != 'T' && *s != 't') : *s != head[i])
            return false;
    }
    if (*s == '.') {
        if (!digit(*++s))
            return false;
        while (digit(*s))
            s++;
    }
    if (*s == 'Z' || *s == 'z')
        return s[1] == '\0';
    return (*s == '+' || *s == '-') && digit(s[1]) && digit(s[2]) && s[3] == ':' && digit(s[4]) &&
           digit(s[5]) && s[6] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), back[P4_TIMEFMT_SIZE];
    int64_t usec = -1, again = -1;

    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    if (p4_timefmt_parse(text, &usec) == 0) {
        if (usec < 0 || usec / 1000000 >= END_OF_9999 || !shaped(text))
            abort();
        p4_timefmt_format((time_t)(usec / 1000000), back, sizeof(back));
        if (p4_timefmt_parse(back, &again) != 0 || again != usec / 1000000 * 1000000)
            abort();
    } else if (usec != -1) {
        abort();
    }
    free(text);
    return 0;
}
