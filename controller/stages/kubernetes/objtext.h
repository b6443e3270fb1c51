/*
 * objtext.h: the text in Kubernetes objects, read for what it says and shown in a message
 * (internal to stages/kubernetes/).
 *
 * The health (health.h) and the diagnosis (diagnose.h) of an object both quote what the cluster
 * wrote: a condition's message, the kubelet's or the scheduler's words, an admission webhook's
 * refusal. They read that text with the small scanners here (find a literal, step past one, take
 * the bytes up to a stop) and show it through one rule: core/text.h's p4_text_clean() in
 * printable ASCII (P4_TEXT_ASCII: one line, runs of blanks one space, every other byte outside
 * printable ASCII '?'; a cut keeps what fits and "..." marks it).
 *
 * Everything here works on borrowed buffers, never reads past a string's NUL (or the n bytes it is
 * given) and allocates nothing.
 */
#ifndef PHASE4_OBJTEXT_H
#define PHASE4_OBJTEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- shown in a message ---- */

/*
 * At most n bytes of s (stopping at a NUL; NULL reads as "") shown by the rule into dst of size
 * bytes (at least 4). Returns dst.
 */
const char *p4_objtext_put(char *dst, size_t size, const char *s, size_t n);

/* All of s (NULL reads as "") shown by the rule into dst of size bytes (at least 4). Returns dst.
 */
const char *p4_objtext_clip(char *dst, size_t size, const char *s);

/*
 * As p4_objtext_put(), but a cut keeps the end of the text ("...the end"): in an error or a log
 * the last words matter most.
 */
const char *p4_objtext_put_tail(char *dst, size_t size, const char *s, size_t n);

/*
 * A message printed from fmt into dst of size bytes (at least 4) and shown by the rule; a message
 * that does not fit is cut and ends in "...". Should printing fail, dst holds fallback instead.
 */
void p4_objtext_vmessage(char *dst, size_t size, const char *fallback, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/*
 * Add the n bytes at p (shown by the rule, at most 127 bytes) to the ", "-separated list in list
 * of size bytes, unless it holds them already or they do not fit.
 */
void p4_objtext_list_add(char *list, size_t size, const char *p, size_t n);

/* ": " when text is not empty, else "" (for an optional tail of a message: "%s%s"). Static. */
const char *p4_objtext_colon(const char *text);

/* The plural ending for n things: "" for 1 ("1 restart"), else "s" ("2 restarts"). Static. */
const char *p4_objtext_plural(int64_t n);

/* s, or "" when s is NULL. */
const char *p4_objtext_or_empty(const char *s);

/* ---- read for what it says ---- */

/* Does s (NULL: no) hold lit? */
bool p4_objtext_has(const char *s, const char *lit);

/* Do the n bytes at p hold lit? */
bool p4_objtext_span_has(const char *p, size_t n, const char *lit);

/* Just past the first lit in s (NULL: none), or NULL. Borrowed from s. */
const char *p4_objtext_after(const char *s, const char *lit);

/* When *p starts with lit, step *p past it and return true; else leave it and return false. */
bool p4_objtext_skip(const char **p, const char *lit);

/* The bytes of p before the first c (or the end); *next (when not NULL) is where that stop is. */
size_t p4_objtext_upto(const char *p, char c, const char **next);

/* The bytes of p before the first lit (or the end). */
size_t p4_objtext_upto_lit(const char *p, const char *lit);

/*
 * The innermost cause in an error that wraps others and quotes their subjects, as containerd and
 * the API server write them ('failed to pull and unpack image "i": failed to resolve reference
 * "i": i: not found'): what follows the last '": ', else what follows " desc = " in a gRPC error,
 * else all of err. Borrowed from err (not NULL).
 */
const char *p4_objtext_last_cause(const char *err);

#endif
