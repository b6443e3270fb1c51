/*
 * scansummary.h: what the scan report formats share (internal to stages/docker/): findings
 * collected from a report, deduplicated and ranked into a p4_scan_summary the same way for every
 * format, and the typed reading of a report's JSON members, whose errors name the member's path.
 *
 * trivyjson.c, sarif.c and vulnreport.c each read their format through a struct
 * p4_scan_reader: p4_scan_member() and its kin check each member's type, p4_scan_add() collects
 * a finding, and p4_scan_finish() turns the collection into the summary (scanreport.h).
 *
 * Ownership: a collection owns its items array (p4_scan_collect_close); an item's spans borrow
 * the strings of the report's cJSON tree, which must outlive the collection. Every other pointer
 * is borrowed for the call only.
 */
#ifndef PHASE4_SCANSUMMARY_H
#define PHASE4_SCANSUMMARY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "phase4/core/error.h"
#include "phase4/core/text.h"
#include "phase4/scan/scanreport.h"

/* Room for a member path in a message: "runs[1].results[20].message.text". */
#define P4_SCAN_PATH_SIZE 128

/* The empty span: its p is never NULL, so a report's spans can always be compared. */
#define P4_SCAN_EMPTY ((struct p4_span){"", 0})

/* One finding as a report lists it; the spans borrow the report's tree. */
struct p4_scan_item {
    struct p4_span id, package, installed, fixed;
    enum p4_severity severity;
    size_t seq; /* order in the report: of equal duplicates the first is kept */
};

struct p4_scan_collect {
    struct p4_scan_item *items; /* len of them, cap allocated */
    size_t len, cap;
    int listed[P4_SEV_COUNT]; /* findings per severity before deduplication */
};

/* What a report is read as, for messages ("the scan report is not SARIF: ..."), and into. */
struct p4_scan_reader {
    const char *what; /* static */
    struct p4_scan_collect c;
    struct p4_error *err;
};

enum p4_scan_kind { P4_SCAN_OBJECT, P4_SCAN_ARRAY, P4_SCAN_STRING };

/* Add a finding (copied; its spans stay borrowed); P4_ERR_TOOBIG past P4_SCAN_FINDINGS_MAX. */
int p4_scan_add(struct p4_scan_collect *c, const struct p4_scan_item *it, struct p4_error *err);

/*
 * Deduplicate c (sorted in place) into *out, overwritten: by (id, package) keeping the highest
 * severity, the worst P4_SCAN_WORST named. claimed, when not NULL, holds the counts a report's
 * own summary gives (P4_SEV_COUNT of them); where one exceeds what was listed, the rest is
 * counted. format is static.
 */
void p4_scan_finish(struct p4_scan_collect *c, const int *claimed, const char *format,
                    struct p4_scan_summary *out);

void p4_scan_collect_close(struct p4_scan_collect *c); /* frees the items; c is zeroed */

/*
 * A printable copy of s into dst (size >= 4 bytes), byte for byte: bytes outside printable
 * ASCII become '?', and a cut is marked with "...".
 */
void p4_scan_copy_clean(char *dst, size_t size, struct p4_span s);

/* The severity s names, in any case; UNKNOWN for any other text. */
enum p4_severity p4_scan_severity_or_unknown(struct p4_span s);

/* "<what>: <where>.<name> <problem>" into r->err; returns P4_ERR_PARSE. */
int p4_scan_shape_error(struct p4_scan_reader *r, const char *where, const char *name,
                        const char *problem);

/*
 * *out = member name of obj (whose path is where) when of kind k, NULL when absent or null. A
 * member of another type is P4_ERR_PARSE naming its path.
 */
int p4_scan_member(struct p4_scan_reader *r, const cJSON *obj, const char *where, const char *name,
                   enum p4_scan_kind k, const cJSON **out);

/* The string member name as a span, P4_SCAN_EMPTY when absent or null. */
int p4_scan_str_member(struct p4_scan_reader *r, const cJSON *obj, const char *where,
                       const char *name, struct p4_span *out);

/* Element i of the array at array_path: its path into path, and P4_ERR_PARSE unless an object. */
int p4_scan_element(struct p4_scan_reader *r, const cJSON *v, const char *array_path, size_t i,
                    char *path, size_t size);

/*
 * The report body as a JSON object into *doc (caller frees with cJSON_Delete): P4_ERR_INVAL for
 * a NULL body, P4_ERR_TOOBIG past P4_SCAN_REPORT_MAX bytes or P4_SCAN_VALUES_MAX values,
 * P4_ERR_PARSE (what heads the message) for text that is not a JSON object.
 */
int p4_scan_parse_body(const char *body, size_t len, const char *what, cJSON **doc,
                       struct p4_error *err);

#endif
