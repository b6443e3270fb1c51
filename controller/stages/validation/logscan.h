/*
 * logscan.h: pod logs matched line by line against the Logs gate's patterns (internal to
 * stages/validation/). Pure: no I/O, no clock; logs.c reads the logs and feeds them here.
 *
 * Patterns are POSIX extended regular expressions (regcomp with REG_EXTENDED | REG_NOSUB,
 * case-sensitive). A line fails the gate when a critical pattern matches it and no allow pattern
 * does. Without critical patterns given (NULL), the defaults are panic:, FATAL,
 * Traceback \(most recent call last\), OutOfMemoryError and segfault.
 *
 * A pattern is refused before regcomp sees it when it could make matching costly: a
 * back-reference (\1 to \9: not POSIX ERE, and glibc's matcher for it is exponential), an
 * interval over 255 ({256}), groups nested deeper than 32, or repetitions that expand it to more
 * than P4_LOGSCAN_COST_MAX pieces (as (a{100}){100}, or a+++...: glibc compiles x+ as xx*). Every
 * pattern is compiled alone, so a bad one is named; the critical ones (and the allow ones) are then
 * matched as one alternation when it compiles, so a line is read once per set.
 *
 * A log is fed in chunks of any size, split anywhere: the part of a line a chunk ends in is
 * carried to the next, so a match across a chunk boundary is found and the result does not
 * depend on how the log was cut. Lines:
 * - end at '\n'; a '\r' before it is dropped (CRLF); a last line without '\n' counts once
 *   p4_logscan_end() is called.
 * - are matched on their first P4_LOGSCAN_LINE_MAX bytes: the rest of a longer line is skipped
 *   until its '\n' (and counted in `cut`), so memory stays bounded whatever a container writes.
 * - may hold any bytes: a NUL byte is matched as a space (regexec reads C strings), invalid
 *   UTF-8 as it is.
 * The first P4_LOGSCAN_KEEP lines that fail are kept for the gate's message, cleaned by
 * p4_text_clean's rule (one line, printable, valid UTF-8) and cut to P4_LOGSCAN_QUOTE_MAX bytes;
 * the others are counted.
 *
 * Kubelet log lines carry no timestamp unless asked (timestamps=true); logs.c does not ask, so
 * a pattern anchored with ^ sees the line as the container wrote it.
 */
#ifndef PHASE4_VSTAGE_LOGSCAN_H
#define PHASE4_VSTAGE_LOGSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"

#define P4_LOGSCAN_LINE_MAX 4096   /* bytes of a line matched; the rest is skipped */
#define P4_LOGSCAN_KEEP 3          /* failing lines kept for the message */
#define P4_LOGSCAN_QUOTE_MAX 200   /* bytes of a kept line, "..." marking a cut */
#define P4_LOGSCAN_PATTERNS_MAX 32 /* of each kind, as the CRD allows */
#define P4_LOGSCAN_PATTERN_LEN_MAX 1024
#define P4_LOGSCAN_COST_MAX 4096 /* pieces a pattern may expand to through its intervals */
#define P4_LOGSCAN_SOURCE_MAX 320

/* A failing line kept, with where it was read. */
struct p4_logscan_hit {
    char source[P4_LOGSCAN_SOURCE_MAX];  /* the caller's words for the log (p4_logscan_begin) */
    char line[P4_LOGSCAN_QUOTE_MAX + 1]; /* cleaned, cut with "..." */
};

/* What the logs fed so far held. */
struct p4_logscan_result {
    uint64_t lines;   /* lines read */
    uint64_t matched; /* lines that fail: a critical pattern matched, no allow pattern did */
    uint64_t allowed; /* lines a critical pattern matched and an allow pattern excused */
    uint64_t cut;     /* lines longer than P4_LOGSCAN_LINE_MAX, matched on their start */
    int nhits;
    struct p4_logscan_hit hits[P4_LOGSCAN_KEEP]; /* the first nhits failing lines, in order */
};

struct p4_logscan;

/*
 * A scanner for these patterns (the strings are borrowed for the call; they are compiled).
 * critical NULL: the defaults (ncritical is then ignored); ncritical 0: none, so no line fails.
 * allow may be NULL with nallow 0. Returns 0 and *out (free with p4_logscan_free), or
 * P4_ERR_INVAL with err naming the first pattern refused ("criticalPatterns[2] \"(\" is not a
 * valid POSIX extended regular expression: ...") and *out NULL.
 */
int p4_logscan_new(const char *const *critical, int ncritical, const char *const *allow, int nallow,
                   struct p4_logscan **out, struct p4_error *err);
/* Accepts NULL. */
void p4_logscan_free(struct p4_logscan *s);

/* A new log begins (a line still open is ended first); source names it in hits (copied). */
void p4_logscan_begin(struct p4_logscan *s, const char *source);
/* The next len bytes of the log (any bytes; chunk may be NULL when len is 0). */
void p4_logscan_feed(struct p4_logscan *s, const char *chunk, size_t len);
/* The log ended: a last line without '\n' is matched. */
void p4_logscan_end(struct p4_logscan *s);

/* Borrowed; valid until the next call on s. */
const struct p4_logscan_result *p4_logscan_result(const struct p4_logscan *s);

#endif
