/* nodeplatforms.c: the Nodes' platforms, shared by the stages (see nodeplatforms.h). */
#include "phase4/reconciler/nodeplatforms.h"

#include <stdlib.h>

#include "phase4/core/alloc.h"

const char *p4_node_platforms_get(const struct p4_node_platforms *np, uint64_t now)
{
    if (np == NULL || np->list == NULL || np->list[0] == '\0' || now < np->at ||
        now - np->at > P4_NODE_PLATFORMS_TTL_MS)
        return NULL;
    return np->list;
}

void p4_node_platforms_put(struct p4_node_platforms *np, const char *list, uint64_t now)
{
    free(np->list);
    np->list = p4_strdup(list ? list : "");
    np->at = now;
}

void p4_node_platforms_close(struct p4_node_platforms *np)
{
    if (np == NULL)
        return;
    free(np->list);
    np->list = NULL;
    np->at = 0;
}
