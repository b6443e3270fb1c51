/*
 * watchframe.h: framing of a Kubernetes watch stream into events.
 *
 * A watch response (?watch=1, JSON) is one JSON object per line,
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}, arriving
 * from HTTP in chunks cut anywhere. A p4_watchframe is embedded in the
 * caller's watch struct, fed each chunk, keeps the unfinished line, and hands
 * every complete event to a callback. It performs no I/O and never blocks.
 *
 * Every byte is scanned for '\n' once, however small the chunks. A line
 * longer than line_max is dropped up to its '\n' without being buffered, so
 * a hostile server cannot make us hold more than line_max bytes.
 *
 * Ownership: the frame owns its buffer and resource version; the callback
 * takes over each event's object. The frame keeps no pointer to fed data.
 */
#ifndef PHASE4_WATCHFRAME_H
#define PHASE4_WATCHFRAME_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "phase4/core/error.h"

/* Default longest line (one event, '\r' included, '\n' not) a frame buffers. */
#define P4_WATCHFRAME_LINE_MAX ((size_t)16 * 1024 * 1024)

enum p4_watch_type {
    P4_WATCH_ADDED,
    P4_WATCH_MODIFIED,
    P4_WATCH_DELETED,
    P4_WATCH_BOOKMARK,
    P4_WATCH_ERROR, /* object is a metav1.Status: decode with p4_apistatus_from_json() */
};

/*
 * Called once per well-formed event, in stream order. object is always a
 * JSON object; the callback takes it over (cJSON_Delete it or keep it). The
 * callback must not feed, reset or close the frame that calls it.
 */
typedef void (*p4_watchframe_cb)(enum p4_watch_type type, cJSON *object, void *cb_data);

/*
 * Optional: an event whose object cJSON cannot parse (nested deeper than
 * CJSON_NESTING_LIMIT, or bad inside while the line around it is sound JSON).
 * object is its bytes, len of them, borrowed for the call; why says what the
 * parser refused. Without this callback such a line is a P4_ERR_PARSE error.
 */
typedef void (*p4_watchframe_unreadable_cb)(enum p4_watch_type type, const char *object, size_t len,
                                            const struct p4_error *why, void *cb_data);

/*
 * Optional: whether to deliver an ADDED, MODIFIED or DELETED event, decided from its object's
 * bytes (object, len of them, borrowed for the call) before anything is parsed. An event it
 * refuses is dropped whole: neither callback sees it, and its resource version is not kept
 * (a watch resumed from the last one kept sees it again, and refuses it again). BOOKMARK and
 * ERROR events are always delivered.
 */
typedef bool (*p4_watchframe_keep_cb)(const char *object, size_t len, void *cb_data);

struct p4_watchframe {
    size_t line_max;       /* longest line accepted; may be lowered after init */
    struct p4_error error; /* the first error of the last feed that failed */
    p4_watchframe_unreadable_cb on_unreadable; /* optional; set after init; gets cb_data */
    p4_watchframe_keep_cb keep;                /* optional; set after init; gets cb_data */
    /* private */
    char *buf;              /* the unfinished line, not NUL-terminated; owned */
    size_t len;             /* bytes in buf */
    size_t cap;             /* bytes allocated to buf */
    bool discarding;        /* dropping the rest of an over-long line */
    char *resource_version; /* owned */
};

/* Initialize an embedded frame; it allocates nothing until fed. */
void p4_watchframe_init(struct p4_watchframe *wf);

/* Release what the frame holds; wf may be NULL. The frame may be initialized again. */
void p4_watchframe_close(struct p4_watchframe *wf);

/*
 * Drop the unfinished line, e.g. when the connection broke and the watch is
 * restarted; the resource version is kept so the new watch can resume.
 */
void p4_watchframe_reset(struct p4_watchframe *wf);

/*
 * Consume len bytes of data (borrowed for the call), calling cb for each
 * complete event (or wf->on_unreadable, for an event whose object alone
 * cannot be parsed: the line is then cut with jsonscan.h, and an object that
 * parses on its own goes to cb). Blank lines are skipped and "\r\n" is accepted. A bad line
 * is skipped and the lines after it are still delivered; the return value
 * then reports the first problem of this call and wf->error describes it:
 *   P4_ERR_PARSE   a line that is not JSON, not an object, lacks a string
 *                  "type" or an object "object", or has an unknown type;
 *   P4_ERR_TOOBIG  a line longer than wf->line_max (the rest of it is dropped);
 *   P4_ERR_INVAL   wf or cb is NULL, or data is NULL with len > 0.
 * Returns 0 when every complete line was a good event.
 */
int p4_watchframe_feed(struct p4_watchframe *wf, const char *data, size_t len, p4_watchframe_cb cb,
                       void *cb_data);

/*
 * metadata.resourceVersion of the last ADDED, MODIFIED, DELETED or BOOKMARK
 * event delivered (updated before its callback runs), to resume a watch
 * from; NULL before any. Borrowed: valid until the next feed, reset or close.
 */
const char *p4_watchframe_resource_version(const struct p4_watchframe *wf);

/* "ADDED", "MODIFIED", ...; "UNKNOWN" for values outside the enum. */
const char *p4_watch_type_name(enum p4_watch_type type);

#endif
