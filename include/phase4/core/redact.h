/*
 * redact.h: values that came from a Secret, kept out of every message.
 *
 * A stage attempt that reads a Secret for a resource (valuesFrom, chart repository
 * credentials, pull secrets) adds each value it read to a set; every message formed from
 * outside text (helm's stdout and stderr, an API server's or a registry's answer) and every
 * gate message then passes through p4_redact_buf(), which replaces each occurrence of a value
 * with "***". The set lives as long as the attempt's work and is wiped when freed.
 *
 * What is matched, for a value added:
 *   - The value without the whitespace at its ends (a Secret's value often ends in "\n").
 *   - Split across lines: a run of whitespace inside the value matches any run of whitespace,
 *     line breaks and indentation included (YAML's block and folded forms, helm's lines joined
 *     with a space), and the escapes "\n", "\t", "\r" as a quoted string writes them (one or two
 *     backslashes), and a backslash at the end of a line (a YAML double-quoted line fold).
 *   - Quoted: the forms with '\' and '"' escaped once or twice (Go's %q, JSON, YAML double
 *     quotes, a JSON string inside another), with "'" doubled (YAML single quotes), and with
 *     bytes past ASCII as '?' and control bytes as spaces (a message cleaned to ASCII, text.h).
 *   - Its base64 (the value as a Secret's data holds it, or a Basic header).
 *   - Each line of a value of several lines, alone, when it is long enough (below): a line of a
 *     private key quoted without the rest.
 *   - A message cut short (P4_REDACT_CUT): text that ends in the start of a value (at least
 *     P4_REDACT_MIN bytes of it), with or without the "..." of the cut.
 *
 * Short values: a value under P4_REDACT_MIN bytes is not redacted at all ("1", "yes", "dev":
 * as a substring they would blank normal words, and such a value is no secret); one under
 * P4_REDACT_SUBSTRING_MIN bytes only where it stands as a whole token (no letter, digit or '_'
 * on either side), so a 6-character password is redacted in "password=hunter" but "admin"
 * does not blank "administrator". Longer values are redacted wherever they occur.
 *
 * Not covered: a value a chart transforms (b64enc, upper, a substring of a one-line value);
 * what keeps a tenant from reading another team's Secret is RBAC, not this.
 *
 * Limits: at most P4_REDACT_NEEDLES_MAX forms and P4_REDACT_BYTES_MAX bytes of them. Past
 * either (or a tree nested past P4_REDACT_DEPTH_MAX) the set fails closed: every text redacted
 * becomes "***".
 *
 * Ownership: values are copied; the set wipes every copy when freed. Texts are redacted in
 * place, never grow (every match is longer than "***"), and need not be NUL-terminated.
 * Pure: no I/O, no clock.
 */
#ifndef PHASE4_REDACT_H
#define PHASE4_REDACT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define P4_REDACT_MARK "***"
#define P4_REDACT_MIN 4            /* shorter values are not redacted */
#define P4_REDACT_SUBSTRING_MIN 8  /* shorter values are redacted only as whole tokens */
#define P4_REDACT_NEEDLES_MAX 4096 /* forms kept; past it the set fails closed */
#define P4_REDACT_BYTES_MAX ((size_t)16 * 1024 * 1024)
#define P4_REDACT_DEPTH_MAX 512 /* nesting of a tree added with p4_redact_add_tree */

/* p4_redact_buf's flags. */
#define P4_REDACT_CUT 0x1u /* the text may have been cut at its end */

struct p4_redact;

struct p4_redact *p4_redact_new(void);
/* Wipe every value held and free s; NULL is fine. */
void p4_redact_free(struct p4_redact *s);

/* Add the len bytes at value (borrowed; any bytes). NULL or a short value adds nothing. */
void p4_redact_add(struct p4_redact *s, const char *value, size_t len);
/* Add every string of tree, and every integer as %.0f prints it (keys are not secret). */
void p4_redact_add_tree(struct p4_redact *s, const cJSON *tree);

/* How many forms s holds (for tests); whether it failed closed. */
size_t p4_redact_count(const struct p4_redact *s);
bool p4_redact_overflowed(const struct p4_redact *s);

/*
 * Redact the len bytes at text in place; returns the new length (never more than len). NULL s
 * or an empty set leaves text as it is. flags: P4_REDACT_CUT.
 */
size_t p4_redact_buf(const struct p4_redact *s, char *text, size_t len, unsigned flags);
/* The same for a NUL-terminated message, which may have been cut (P4_REDACT_CUT). */
void p4_redact_str(const struct p4_redact *s, char *text);

#endif
