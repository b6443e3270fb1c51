/*
 * nodeplatforms.h: the platforms the cluster's Nodes report ("linux/amd64 linux/arm64"), from
 * the last Node list any stage made, kept for every run of every stage a while: they change
 * rarely, and the Docker stage (its image) and the Helm stage (the chart's other images) both
 * check images against them. Pure data, no I/O: a stage that finds nothing fresh lists the
 * Nodes itself and puts what it found. cmd/operator.c makes one and hands it to both stages.
 */
#ifndef PHASE4_NODEPLATFORMS_H
#define PHASE4_NODEPLATFORMS_H

#include <stdint.h>

/* How long one Node list serves. */
#define P4_NODE_PLATFORMS_TTL_MS 30000

struct p4_node_platforms {
    char *list;  /* owned; NULL before the first put */
    uint64_t at; /* the put's time (uv_now() ms) */
};

/* The list when one was put at most P4_NODE_PLATFORMS_TTL_MS before now and is not empty, else
 * NULL. Borrowed until the next put or close. */
const char *p4_node_platforms_get(const struct p4_node_platforms *np, uint64_t now);
/* Keep list (copied; "" when no Node reports a platform: get then says NULL). */
void p4_node_platforms_put(struct p4_node_platforms *np, const char *list, uint64_t now);
/* Free the list; np may be put again. NULL is fine. */
void p4_node_platforms_close(struct p4_node_platforms *np);

#endif
