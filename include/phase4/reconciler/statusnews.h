/*
 * statusnews.h: what a status write would tell a reader, so the one status writer
 * (reconcile.c) writes news at once and lets a wait's progress wait (issue 19;
 * docs/architecture.md, "One reconcile", step 8).
 *
 * News is what someone or something reading the status acts on: a condition, the stage, the
 * verdict, a gate that starts or finishes (its status or its reason changes), and every member
 * a stage records for the next one or a tool reads (status.image, status.inventory,
 * status.approval, status.report, ...). Progress is only how a wait goes: a gate's message while
 * its status and reason hold ("0 of 3 replicas updated" becoming "2 of 3"), a gate listed before
 * it starts (Unknown with reason Checking or, once skipped, absent: the same to a reader), and
 * status.health's counts and recent Events (status.health.problem is news: it turns Ready False,
 * Degraded). A status that differs from the written one only in progress is written with the
 * next news, or once the progress interval has passed (--status-progress-interval), so a
 * generation costs about one write per transition, and a long wait still shows how it goes.
 *
 * Pure: no I/O, no clock. Everything given is borrowed for the call.
 */
#ifndef PHASE4_RECONCILER_STATUSNEWS_H
#define PHASE4_RECONCILER_STATUSNEWS_H

#include <cjson/cJSON.h>

enum p4_statusnews {
    P4_STATUSNEWS_SAME,     /* nothing differs: no write */
    P4_STATUSNEWS_PROGRESS, /* only a wait's progress differs: the write may wait */
    P4_STATUSNEWS_NEWS,     /* something a reader acts on differs: write now */
};

/*
 * What writing desired over written (the status as read; NULL or not an object: none yet)
 * would tell. Members are compared as JSON values (cJSON_Compare: an object's members in any
 * order, an array's items in order).
 */
enum p4_statusnews p4_statusnews_compare(const cJSON *written, const cJSON *desired);

/* "same", "progress" or "news", for logs. */
const char *p4_statusnews_name(enum p4_statusnews news);

#endif
