/*
 * jsondiff.h: the field paths where two JSON values differ, bounded.
 *
 * The Helm stage's approval plan (docs/architecture.md, "Approval") says which fields of a live
 * object a server-side apply would change: the object as the API server has it against its
 * dry-run answer. Both come from the API server, so the walk is bounded: past
 * P4_JSONDIFF_DEPTH_MAX levels a subtree is compared whole and told as one path, and past
 * P4_JSONDIFF_WORK_MAX steps (a value visited, a member looked up) the walk stops (truncated).
 * Paths are written as a person reads them: members joined by '.', a member whose name is not a
 * plain word in brackets and quotes (metadata.annotations["example.com/x"]), an array item by index
 * ([2]), or, when every item of both arrays is an object with a distinct string "name", by name
 * (spec.template.spec.containers[web].image), so an item added in front does not shift the rest.
 * A member or item present on one side only is one path; so is a value whose type differs.
 *
 * Ownership: everything given is borrowed for the call; paths are appended to the caller's array.
 */
#ifndef PHASE4_JSONDIFF_H
#define PHASE4_JSONDIFF_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define P4_JSONDIFF_DEPTH_MAX 32      /* levels walked; deeper subtrees are compared whole */
#define P4_JSONDIFF_WORK_MAX 20000000 /* values visited and members looked up in one diff */
#define P4_JSONDIFF_PATH_MAX 512      /* bytes of one path written; a longer one ends in "..." */

/*
 * Whether the member at path (depth segments: member names, or an item's index or name as
 * text) is left out of the comparison, with everything under it.
 */
typedef bool (*p4_jsondiff_skip_fn)(const char *const *path, size_t depth, void *data);

struct p4_jsondiff {
    size_t total;   /* paths that differ (those past the work bound not counted) */
    bool truncated; /* the work bound stopped the walk */
};

/*
 * Compare a (before) with b (after); skip (NULL: none) leaves paths out. The first max paths
 * found are appended to paths (a cJSON array, NULL: only counted) as strings, in document
 * order of a then b. Returns the counts.
 */
struct p4_jsondiff p4_jsondiff_paths(const cJSON *a, const cJSON *b, p4_jsondiff_skip_fn skip,
                                     void *data, size_t max, cJSON *paths);

#endif
