/*
 * diagwarnings.h: a namespace's recent Warning Events, summed up for status.health.recentEvents
 * (internal to stages/kubernetes/).
 *
 * Where diagevent.h reads one Event for a failure it recognizes, this keeps every Warning, so a
 * person sees what the cluster complained about lately (a probe failing, a volume not mounting)
 * even when no diagnosis names it: grouped, counted, newest first, bounded. Events are read as
 * p4_diagevent_read() reads them; text taken from them is shown by objtext.h's rule.
 *
 * Ownership: event_list is borrowed for the call only; the result is a new tree the caller frees.
 */
#ifndef PHASE4_DIAGWARNINGS_H
#define PHASE4_DIAGWARNINGS_H

#include <cjson/cJSON.h>

/* status.health.recentEvents holds at most this many entries (the CRD's maxItems). */
#define P4_DIAGNOSE_RECENT_MAX 20
/* An entry's message is cut to this many bytes. */
#define P4_DIAGNOSE_RECENT_MESSAGE_MAX 256

/*
 * The recent Warning Events of a namespace, for status.health.recentEvents. event_list is an
 * EventList (core/v1 or events.k8s.io/v1; its items) or a bare array of Events. Events of type
 * Warning are grouped by (reason, object kind, object name), summing their counts (count,
 * series.count or deprecatedCount; 1 when absent; at most INT32_MAX) and keeping the message
 * and time of the latest (series.lastObservedTime, lastTimestamp, deprecatedLastTimestamp,
 * eventTime or metadata.creationTimestamp, whichever is latest; among equal times, the later in
 * the list). Groups come newest first (those without a time last), at most max of them (max is
 * taken as at most P4_DIAGNOSE_RECENT_MAX; 0 or less gives an empty array). Returns a new array
 * (caller frees) of {reason, object ("Pod/web-1"), count, message (at most
 * P4_DIAGNOSE_RECENT_MESSAGE_MAX bytes), lastSeen ("2024-05-01T10:00:00Z", in UTC; absent when
 * no time parsed)}, or NULL when event_list is neither an object whose items are an array
 * (absent or null items read as none) nor an array. Entries that are not objects are skipped.
 * Runs in O(n log n) for n Events.
 */
cJSON *p4_diagnose_recent_warnings(const cJSON *event_list, int max);

#endif
