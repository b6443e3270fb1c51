/* text.c: text from outside made safe to show (see text.h). */
#include "phase4/core/text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n >= 1 bytes available), or 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        if (s[0] == 0xe0)
            lo = 0xa0; /* no overlong forms */
        else if (s[0] == 0xed)
            hi = 0x9f; /* no UTF-16 surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        if (s[0] == 0xf0)
            lo = 0x90;
        else if (s[0] == 0xf4)
            hi = 0x8f; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return need;
}

/* The code point of the valid sequence of k (2 to 4) bytes at s. */
static uint32_t code_point(const unsigned char *s, size_t k)
{
    uint32_t cp = s[0] & (0x7fU >> k);

    for (size_t i = 1; i < k; i++)
        cp = (cp << 6) | (s[i] & 0x3fU);
    return cp;
}

/*
 * What the byte c (ASCII) shows as: itself, ' ' (a word break) or '?'. In literal mode only a
 * real space is a word break.
 */
static char ascii_shown(unsigned char c, unsigned flags)
{
    if (c == ' ')
        return ' ';
    if (p4_ascii_space((char)c))
        return (flags & P4_TEXT_LITERAL) ? '?' : ' ';
    if (c < 0x20)
        return (flags & P4_TEXT_CONTROL_SPACE) ? ' ' : '?';
    if (c == 0x7f)
        return '?';
    if ((flags & P4_TEXT_QUOTED) && (c == '"' || c == '\\'))
        return '?';
    return (char)c;
}

size_t p4_text_clean(char *dst, size_t size, const char *src, size_t n, unsigned flags)
{
    const unsigned char *s = (const unsigned char *)src;
    bool literal = (flags & P4_TEXT_LITERAL) != 0;
    bool cut = false;
    size_t i = 0, at = 0, spaces = 0; /* spaces pending: written before the next character */

    if (size == 0)
        return 0;
    if (src == NULL)
        n = 0;
    /*
     * Every unit read (one byte, or one UTF-8 sequence) is written as one byte or as itself, and
     * each pending space stands for at least one byte read, so at never passes i: dst may be src.
     */
    while (i < n) {
        size_t k = 1;
        char one = 0; /* the byte the unit shows as; 0 when its k bytes are copied as they are */

        if (s[i] < 0x80) {
            one = ascii_shown(s[i], flags);
        } else if ((flags & P4_TEXT_ASCII) || (k = utf8_len(s + i, n - i)) == 0) {
            k = 1;
            one = '?';
        } else {
            uint32_t cp = code_point(s + i, k);

            if (cp < 0xa0)
                one = '?'; /* C1 controls */
            else if (cp == 0x2028 || cp == 0x2029)
                one = literal ? '?' : ' '; /* line and paragraph separators */
        }
        if (one == ' ' && !literal) {
            /* Dropped at the start and (never written) at the end; a run becomes one space. */
            if (at > 0)
                spaces = (flags & P4_TEXT_KEEP_RUNS) ? spaces + 1 : 1;
            i += k;
            continue;
        }
        if (at + spaces + (one != 0 ? 1 : k) > size - 1) {
            cut = true;
            break;
        }
        for (; spaces > 0; spaces--)
            dst[at++] = ' ';
        if (one != 0) {
            dst[at++] = one;
        } else {
            for (size_t j = 0; j < k; j++) /* forward, byte by byte: at <= i */
                dst[at++] = (char)s[i + j];
        }
        i += k;
    }
    if (flags & P4_TEXT_MORE)
        cut = true;
    if (cut && size >= 4) {
        if (at > size - 4) {
            at = size - 4;
            while (at > 0 && ((unsigned char)dst[at] & 0xc0) == 0x80)
                at--; /* back to the start of the sequence the cut fell in */
        }
        while (!literal && at > 0 && dst[at - 1] == ' ')
            at--;
        memcpy(dst + at, "...", 3);
        at += 3;
    }
    dst[at] = '\0';
    return at;
}

bool p4_text_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t k = utf8_len(u + i, n - i);

        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

void p4_text_position(const char *buf, size_t off, size_t *line, size_t *col)
{
    const char *nl;
    size_t start = 0;

    *line = 1;
    while ((nl = memchr(buf + start, '\n', off - start)) != NULL) {
        start = (size_t)(nl - buf) + 1;
        (*line)++;
    }
    *col = off - start + 1;
}

struct p4_span p4_span_of(const char *s)
{
    struct p4_span r = {s, s != NULL ? strlen(s) : 0};

    return r;
}

int p4_span_cmp(struct p4_span a, struct p4_span b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n > 0 ? memcmp(a.p, b.p, n) : 0;

    if (c != 0)
        return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

void p4_text_format(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

bool p4_text_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}
