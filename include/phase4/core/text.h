/*
 * text.h: text from outside made safe to show, and the small string helpers around it.
 *
 * Text from the API server, a registry, helm, a scanner or an object in the cluster may hold any
 * bytes. Before it goes into a condition message, an Event or a log line it passes through
 * p4_text_clean(), so every module shows outside text by the same rule. The rule (flags 0) is
 * the one a Kubernetes condition message wants:
 *
 * - One line: tab, newline, carriage return, vertical tab, form feed, U+2028 and U+2029 become
 *   a space; a run of spaces becomes one; spaces at both ends are dropped.
 * - Printable: every other control character (C0, DEL, C1) becomes '?'.
 * - Valid UTF-8 is kept. Each byte that is not part of a valid sequence (a stray continuation
 *   byte, an overlong form, a surrogate, a code point past U+10FFFF, a sequence cut short)
 *   becomes '?', so the result is always valid UTF-8.
 * - Bounded: the result fits the buffer. Text that does not fit is cut at a character
 *   boundary, never inside a UTF-8 sequence, and "..." marks the cut.
 *
 * A flag changes one point of the rule. Most flags keep a caller's messages as they read before
 * the rule was shared (tests and users compare them byte for byte); P4_TEXT_MORE serves a caller
 * that reads only the start of a text.
 *
 * - P4_TEXT_ASCII: every byte from 0x80 up becomes '?', so the result is printable ASCII.
 * - P4_TEXT_CONTROL_SPACE: C0 control bytes become a space rather than '?' (DEL and C1 stay
 *   '?'), as the API server's and helm's text have always read here.
 * - P4_TEXT_KEEP_RUNS: a run of spaces stays as long as it was (the ends are still dropped),
 *   for a tool's line quoted as it printed it: helm's 'matching  not found' says a value was
 *   empty.
 * - P4_TEXT_LITERAL: every byte shows as itself or as '?': tabs and line breaks become '?' as
 *   other controls do, and spaces are kept as they stand (not trimmed, not merged), for a single
 *   value (an ID, a version, a name) where a tab is not a word break.
 * - P4_TEXT_QUOTED: '"' and '\' become '?', for text shown between double quotes.
 * - P4_TEXT_MORE: the bytes given are the start of a longer text, so the result ends in "..."
 *   as a cut does, for a caller that reads only so far.
 *
 * The p4_ascii_* tests below are the character classes of the grammars read here (RFC 3339,
 * semver, OCI and registry names, YAML scalars, URLs): ASCII only and, unlike <ctype.h>,
 * independent of the locale, so a byte from 0x80 up is in no class.
 *
 * Everything here works on borrowed buffers and allocates nothing.
 */
#ifndef PHASE4_TEXT_H
#define PHASE4_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define P4_TEXT_ASCII 0x1u
#define P4_TEXT_CONTROL_SPACE 0x2u
#define P4_TEXT_LITERAL 0x4u
#define P4_TEXT_QUOTED 0x8u
#define P4_TEXT_MORE 0x10u
#define P4_TEXT_KEEP_RUNS 0x20u

/* '0' to '9'. */
static inline bool p4_ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 'a' to 'z' or 'A' to 'Z'. */
static inline bool p4_ascii_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A letter of either case or a digit. */
static inline bool p4_ascii_alnum(char c)
{
    return p4_ascii_alpha(c) || p4_ascii_digit(c);
}

/* 'a' to 'z' or a digit: what DNS labels and OCI repository names are written in. */
static inline bool p4_ascii_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || p4_ascii_digit(c);
}

/* A hex digit of either case. */
static inline bool p4_ascii_hex(char c)
{
    return p4_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A lowercase hex digit, as digests are written: 'A' to 'F' are not. */
static inline bool p4_ascii_lower_hex(char c)
{
    return p4_ascii_digit(c) || (c >= 'a' && c <= 'f');
}

/* The six bytes C's isspace() knows in the "C" locale: ' ', '\t', '\n', '\v', '\f', '\r'. */
static inline bool p4_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* c with 'A' to 'Z' made lowercase; every other byte as it is. */
static inline char p4_ascii_to_lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
    return c;
}

/*
 * The n bytes at src (NUL bytes among them are control bytes like any other; src NULL reads as
 * empty) made safe by the rule above into dst of size bytes, always NUL-terminated when size >
 * 0. Text that does not fit in size - 1 bytes is cut to at most size - 4 bytes and "..." is
 * appended (a buffer under 4 bytes gets no mark). dst may be src (cleaning in place): the result
 * is never longer than the input. Returns the length written, without the NUL.
 */
size_t p4_text_clean(char *dst, size_t size, const char *src, size_t n, unsigned flags);

/* Whether the n bytes at s are valid UTF-8 (the same test p4_text_clean applies); NUL bytes are. */
bool p4_text_utf8_valid(const char *s, size_t n);

/* Line and column (both from 1) of byte offset off in buf, for parse errors. off <= its length. */
void p4_text_position(const char *buf, size_t off, size_t *line, size_t *col);

/*
 * A span: n bytes borrowed from a longer text (a tool's output, a cJSON string being read), not
 * NUL-terminated and never written through. p may be NULL when n is 0.
 */
struct p4_span {
    const char *p;
    size_t n;
};

/* The span of the string s; NULL gives {NULL, 0}. */
struct p4_span p4_span_of(const char *s);

/* a and b compared byte by byte, a prefix before the longer text: < 0, 0 or > 0 as memcmp. */
int p4_span_cmp(struct p4_span a, struct p4_span b);

/*
 * printf into dst of size bytes (size > 0), always NUL-terminated; what does not fit is cut, with
 * no mark. It goes through vsnprintf, so a cut that only shortens a message draws no
 * -Wformat-truncation warning where the caller means to cut.
 */
void p4_text_format(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether a and b are both strings (not NULL) and equal. */
bool p4_text_eq(const char *a, const char *b);

#endif
