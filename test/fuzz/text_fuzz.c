/*
 * text_fuzz.c: libFuzzer target for p4_text_clean, the one rule for showing outside text.
 *
 * Input layout: byte 0 picks the flags (its low six bits), byte 1 the output size (0 to 255),
 * the rest is the text, copied to a buffer of its exact length without a NUL so an over-read is
 * caught. The output must stay within its size (a canary guards the bytes after it), be valid
 * UTF-8 (checked here by a decoder of its own) without control characters (C0, DEL, C1, U+2028,
 * U+2029), be printable ASCII with P4_TEXT_ASCII, hold no quote or backslash with
 * P4_TEXT_QUOTED, hold no space at either end unless P4_TEXT_LITERAL nor two in a row unless
 * P4_TEXT_LITERAL or P4_TEXT_KEEP_RUNS, and come out the same when cleaned again and when cleaned
 * in place.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/text.h"

#define CANARY 0x5a
#define SLACK 16
#define FLAGS_ALL                                                                                  \
    (P4_TEXT_ASCII | P4_TEXT_CONTROL_SPACE | P4_TEXT_LITERAL | P4_TEXT_QUOTED | P4_TEXT_MORE |     \
     P4_TEXT_KEEP_RUNS)

/* The code point of the UTF-8 sequence at s[0..n) into *cp and its length; 0 if invalid. */
static size_t decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t k;
    uint32_t min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        k = 2, min = 0x80, *cp = s[0] & 0x1fU;
    } else if ((s[0] & 0xf0) == 0xe0) {
        k = 3, min = 0x800, *cp = s[0] & 0x0fU;
    } else if ((s[0] & 0xf8) == 0xf0) {
        k = 4, min = 0x10000, *cp = s[0] & 0x07U;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3fU);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return k;
}

static void check(const char *out, size_t len, size_t size, unsigned flags)
{
    const unsigned char *s = (const unsigned char *)out;

    for (size_t i = size; i < size + SLACK; i++) {
        if (s[i] != CANARY)
            abort();
    }
    if (size == 0) {
        if (len != 0)
            abort();
        return;
    }
    if (len >= size || strlen(out) != len)
        abort();
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = decode(s + i, len - i, &cp);

        if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029)
            abort();
        if ((flags & P4_TEXT_ASCII) && cp >= 0x80)
            abort();
        if ((flags & P4_TEXT_QUOTED) && (cp == '"' || cp == '\\'))
            abort();
        if (!(flags & P4_TEXT_LITERAL) && cp == ' ' && (i == 0 || i + 1 == len))
            abort();
        if (!(flags & (P4_TEXT_LITERAL | P4_TEXT_KEEP_RUNS)) && cp == ' ' && s[i + 1] == ' ')
            abort();
        i += k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned flags;
    size_t out_size, n, len, again_len;
    char *text, *out, *again, *in_place;

    if (size < 2)
        return 0;
    flags = data[0] & FLAGS_ALL;
    out_size = data[1];
    n = size - 2;
    text = malloc(n ? n : 1);
    out = malloc(out_size + SLACK);
    again = malloc(out_size + SLACK);
    in_place = malloc(n + 1);
    if (text == NULL || out == NULL || again == NULL || in_place == NULL)
        abort();
    memcpy(text, data + 2, n);
    memset(out, CANARY, out_size + SLACK);
    memset(again, CANARY, out_size + SLACK);

    len = p4_text_clean(out, out_size, text, n, flags);
    check(out, len, out_size, flags);

    /* Clean text stays as it is (a cut marked "..." included, as it fits the same buffer). */
    if (out_size > 0) {
        again_len = p4_text_clean(again, out_size, out, len, flags & ~P4_TEXT_MORE);
        if (again_len != len || memcmp(again, out, len + 1) != 0)
            abort();
    }

    /* In place, with room for the whole text, it is the same as into a buffer of that size. */
    memcpy(in_place, text, n);
    len = p4_text_clean(in_place, n + 1, in_place, n, flags & ~P4_TEXT_MORE);
    {
        char *fresh = malloc(n + 1 + SLACK);

        if (fresh == NULL)
            abort();
        memset(fresh, CANARY, n + 1 + SLACK);
        if (p4_text_clean(fresh, n + 1, text, n, flags & ~P4_TEXT_MORE) != len ||
            memcmp(fresh, in_place, len + 1) != 0)
            abort();
        check(fresh, len, n + 1, flags);
        free(fresh);
    }

    free(text);
    free(out);
    free(again);
    free(in_place);
    return 0;
}
