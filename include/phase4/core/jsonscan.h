/*
 * jsonscan.h: JSON cut into byte ranges without building a tree.
 *
 * cJSON parses recursively and refuses a document nested deeper than
 * CJSON_NESTING_LIMIT (1000 levels); the API server accepts deeper ones. So
 * that one such object cannot make a whole list unreadable, the informer cuts
 * a list's items (and a watch event's object) with this scanner and parses
 * each on its own; of an object cJSON cannot parse it reads a few members
 * here (metadata.name, ...), shallowly, without parsing the rest.
 *
 * The scanner reads outside bytes: it never recurses (the open brackets are a
 * bit stack, one bit a level, on the heap past 512 levels, so any depth costs
 * at most len / 8 bytes), checks strings (escapes, no control bytes), numbers
 * and literals as RFC 8259 writes them, and never reads past len. It does not
 * check that strings are UTF-8 (neither does cJSON).
 *
 * A span is an offset and a length into the caller's buffer, which is
 * borrowed for each call: nothing here keeps a pointer.
 */
#ifndef PHASE4_JSONSCAN_H
#define PHASE4_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"

struct p4_jsonscan_span {
    size_t off;
    size_t len;
};

/*
 * Scan the one JSON value that starts at buf[*pos] (whitespace before it is
 * skipped), reading no further than buf[len - 1]. Returns 0 with *span its
 * bytes, *depth (may be NULL) how deeply it nests (0 for a scalar, 1 for []
 * or {"a":1}, 2 for [[1]]) and *pos just past it; or P4_ERR_PARSE with err
 * (may be NULL) naming the byte offset, its line and its column in buf, and
 * *pos unchanged.
 */
int p4_jsonscan_value(const char *buf, size_t len, size_t *pos, struct p4_jsonscan_span *span,
                      size_t *depth, struct p4_error *err);

/* As p4_jsonscan_value for a whole document: one value, then only whitespace. */
int p4_jsonscan_document(const char *buf, size_t len, struct p4_jsonscan_span *span, size_t *depth,
                         struct p4_error *err);

/* Is the value at span (from p4_jsonscan_value) an object, an array, a string? */
bool p4_jsonscan_is_object(const char *buf, struct p4_jsonscan_span span);
bool p4_jsonscan_is_array(const char *buf, struct p4_jsonscan_span span);
bool p4_jsonscan_is_string(const char *buf, struct p4_jsonscan_span span);

/* Members of an object, or elements of an array, one at a time (embed it; nothing to free). */
struct p4_jsonscan_iter {
    const char *buf;
    size_t pos;
    size_t end; /* just past the closing bracket */
    bool object;
    bool started;
    bool done;
};

/* Begin with the object or array at span (from p4_jsonscan_value); P4_ERR_INVAL for others. */
int p4_jsonscan_begin(struct p4_jsonscan_iter *it, const char *buf, struct p4_jsonscan_span span);

/*
 * The next member: *key is an object member's name as a string token (quotes
 * included; {0, 0} in an array; key may be NULL) and *value its value.
 * Returns 1, 0 past the last, or P4_ERR_PARSE (err may be NULL); after 0 or
 * an error it returns 0.
 */
int p4_jsonscan_next(struct p4_jsonscan_iter *it, struct p4_jsonscan_span *key,
                     struct p4_jsonscan_span *value, struct p4_error *err);

/*
 * The value of the first member of the object at obj whose name, unescaped,
 * is name. Returns 0, P4_ERR_NOTFOUND, P4_ERR_INVAL (obj is not an object) or
 * P4_ERR_PARSE.
 */
int p4_jsonscan_member(const char *buf, struct p4_jsonscan_span obj, const char *name,
                       struct p4_jsonscan_span *value);

/*
 * The string token at s, unescaped ("\u00e9" as UTF-8, surrogate pairs
 * joined), into out (size > 0), NUL-terminated. Returns 0; P4_ERR_INVAL when s
 * is not a string token or holds \u0000 or a lone surrogate; P4_ERR_TOOBIG
 * when it needs more than size - 1 bytes. out is "" on failure.
 */
int p4_jsonscan_string(const char *buf, struct p4_jsonscan_span s, char *out, size_t size);

/* Is the token at s a string whose unescaped text is text? */
bool p4_jsonscan_string_eq(const char *buf, struct p4_jsonscan_span s, const char *text);

/*
 * The number token at s as an integer into *out: 0, or P4_ERR_INVAL when it is
 * no number, has a fraction or exponent, or lies beyond +-2^53.
 */
int p4_jsonscan_int64(const char *buf, struct p4_jsonscan_span s, int64_t *out);

/*
 * Does the value at span nest deeper than limit levels? Then true, and path
 * (size > 0) names where, as dotted member names ("spec.chart.values"): at
 * each level, the first member that itself nests too deep, for up to
 * segments levels, object members only, each name cleaned to printable ASCII
 * and cut. path is "" when the value is too deep but no member leads there
 * (an array, or segments 0), and on false.
 */
bool p4_jsonscan_too_deep(const char *buf, struct p4_jsonscan_span span, size_t limit,
                          size_t segments, char *path, size_t size);

#endif
