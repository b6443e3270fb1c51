/*
 * promtext.h: the Prometheus text exposition format (version 0.0.4) and OpenMetrics text (1.0),
 * read as a stream of bytes for the Metrics gate: which metric names an endpoint exposes, or the
 * first line that is not the format (internal to stages/validation/).
 *
 * What is read, line by line ('\n', a '\r' before it dropped):
 *   - blank lines, and comments ('#' not followed by HELP, TYPE or UNIT): skipped;
 *   - "# HELP name text", "# UNIT name unit": the name must be one;
 *   - "# TYPE name type", type one of counter, gauge, histogram, summary, untyped, and
 *     OpenMetrics' unknown, gaugehistogram, stateset, info: the family name is reported;
 *   - "# EOF" (OpenMetrics): the end; only blank lines may follow;
 *   - a sample: name, optional {labels}, value, optional timestamp, and with OpenMetrics an
 *     optional exemplar ("# {labels} value [timestamp]"). Names are [a-zA-Z_:][a-zA-Z0-9_:]*
 *     (label names without ':'), or quoted as Prometheus 3 writes UTF-8 names ({"a.b"} 1, the
 *     metric name first in the braces). Label values are quoted, with '\' escaping the next
 *     byte, and valid UTF-8. Values and timestamps are numbers as Go's ParseFloat reads them
 *     (NaN, +Inf, -Inf, exponents). Blanks (space, tab) separate tokens and may lead and trail.
 *     The sample's metric name is reported.
 * Anything else fails, naming the line: "line 1 is not a Prometheus sample (...): \"<html>\"".
 *
 * Bounded: a line longer than P4_PROMTEXT_LINE_MAX fails, and only a line cut by a chunk's end
 * is copied (into one buffer of at most that size), so memory does not grow with the input. The
 * caller bounds the whole body. Pure: no I/O, no clock.
 *
 * Which names a required series matches (p4_promtext_is_of): the same name, as a sample or a
 * family (# TYPE); and, for samples only, the name followed by a histogram's or summary's
 * suffix (_bucket, _sum, _count, and a gauge histogram's _gcount, _gsum), so that "latency" is
 * found in an exposition that has only latency_bucket, latency_sum and latency_count (with or
 * without a TYPE line). The suffixed name matches itself too ("latency_count"). A counter's
 * _total is not stripped: the text format's family is called with it (http_requests_total), and
 * OpenMetrics names the family without it on its TYPE line, which matches.
 */
#ifndef PHASE4_PROMTEXT_H
#define PHASE4_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"

/* The longest line read. */
#define P4_PROMTEXT_LINE_MAX ((size_t)64 * 1024)
/* The most names p4_promtext_find looks for at once. */
#define P4_PROMTEXT_WANT_MAX 64

enum p4_promtext_kind {
    P4_PROMTEXT_FAMILY, /* a # TYPE line */
    P4_PROMTEXT_SAMPLE, /* a sample line */
};

/* A name read: len bytes at name (borrowed for the call; a quoted name as written, escapes kept,
 * without its quotes). */
typedef void (*p4_promtext_name_cb)(enum p4_promtext_kind kind, const char *name, size_t len,
                                    void *data);

struct p4_promtext {
    p4_promtext_name_cb on_name; /* may be NULL */
    void *data;
    size_t lines;    /* lines begun so far */
    size_t samples;  /* sample lines read */
    size_t families; /* TYPE lines read */
    bool eof;        /* OpenMetrics "# EOF" read */

    /* Private. */
    int rc; /* the first failure, kept */
    struct p4_error err;
    char *carry; /* the start of a line cut by a chunk's end (P4_PROMTEXT_LINE_MAX bytes) */
    size_t carry_len;
};

/* Begin reading; on_name (may be NULL) is called with each name as it is read. */
void p4_promtext_init(struct p4_promtext *p, p4_promtext_name_cb on_name, void *data);
/*
 * The next len bytes. 0, or P4_ERR_PARSE (a line is not the format) or P4_ERR_TOOBIG (a line is
 * too long) with err (may be NULL) naming the line; after a failure every call returns it again.
 */
int p4_promtext_feed(struct p4_promtext *p, const char *buf, size_t len, struct p4_error *err);
/* The end of the input: the last line, if it has no '\n'. As p4_promtext_feed. */
int p4_promtext_finish(struct p4_promtext *p, struct p4_error *err);
/* Free what p holds; p may then be init'ed again. */
void p4_promtext_close(struct p4_promtext *p);

/* Whether a name read as kind is (of the family of) want: see above. */
bool p4_promtext_is_of(enum p4_promtext_kind kind, const char *name, size_t len, const char *want);

/* What p4_promtext_find read. */
struct p4_promtext_found {
    uint64_t found; /* bit i: want[i] is there */
    size_t samples, families;
};

/*
 * The whole body at once: which of want[0..n) (n <= P4_PROMTEXT_WANT_MAX) it has, and how many
 * samples and families. As p4_promtext_finish.
 */
int p4_promtext_find(const char *body, size_t len, const char *const *want, int n,
                     struct p4_promtext_found *out, struct p4_error *err);

#endif
