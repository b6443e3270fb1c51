/* diagsched.c: the scheduler's message, read for what must change (see diagsched.h). */
#include "diagsched.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "objtext.h"

#define TODO_SIZE 512 /* what to do, one or more sentences */

struct sched {
    bool insufficient, taint, selector, pvc, no_nodes, other;
    char resources[P4_DIAGNOSE_LIST_SHOWN]; /* "cpu, memory" */
};

/* Add a sentence to buf (a space first when it holds one already). */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t size, const char *fmt,
                                                         ...)
{
    size_t n = strlen(buf);
    va_list ap;

    if (n > 0 && n + 1 < size)
        buf[n++] = ' ';
    buf[n] = '\0';
    va_start(ap, fmt);
    (void)vsnprintf(buf + n, size - n, fmt, ap);
    va_end(ap);
}

/* One "<count> <why>" of the scheduler's list. */
static void sched_item(struct sched *s, const char *p, size_t n)
{
    const char *insufficient = memmem(p, n, "Insufficient ", 13);

    if (insufficient != NULL) {
        const char *r = insufficient + 13;

        s->insufficient = true;
        p4_objtext_list_add(s->resources, sizeof(s->resources), r, n - (size_t)(r - p));
    } else if (p4_objtext_span_has(p, n, "Too many pods")) {
        s->insufficient = true;
        p4_objtext_list_add(s->resources, sizeof(s->resources), "pods", 4);
    } else if (p4_objtext_span_has(p, n, "taint")) {
        /* Control-plane nodes are tainted on purpose: they say nothing about the workload. */
        if (!p4_objtext_span_has(p, n, "node-role.kubernetes.io/control-plane") &&
            !p4_objtext_span_has(p, n, "node-role.kubernetes.io/master"))
            s->taint = true;
    } else if (p4_objtext_span_has(p, n, "node affinity/selector") ||
               p4_objtext_span_has(p, n, "node selector")) {
        s->selector = true;
    } else if (p4_objtext_span_has(p, n, "PersistentVolumeClaim")) {
        s->pvc = true;
    } else {
        s->other = true;
    }
}

/*
 * The scheduler's message: "0/3 nodes are available: 1 node(s) had untolerated taint {k: v},
 * 2 Insufficient cpu. preemption: ...". Items run to ", " followed by a digit; text that does not
 * start with one continues the item before (the older "had taint {k: v}, that the pod didn't
 * tolerate").
 */
static void sched_read(struct sched *s, const char *msg, size_t end)
{
    const char *list = p4_objtext_after(msg, "nodes are available: ");
    size_t n, start = 0;

    if (p4_objtext_has(msg, "no nodes available") || strncmp(msg, "0/0 nodes", 9) == 0)
        s->no_nodes = true;
    if (p4_objtext_has(msg, "unbound immediate PersistentVolumeClaims") ||
        p4_objtext_has(msg, "persistentvolumeclaim"))
        s->pvc = true;
    if (list == NULL || (size_t)(list - msg) > end) {
        if (!s->no_nodes && !s->pvc)
            s->other = true;
        return;
    }
    n = end - (size_t)(list - msg);
    for (size_t i = 0; i <= n; i++) {
        bool stop = i == n || (list[i] == ',' && i + 2 < n && list[i + 1] == ' ' &&
                               list[i + 2] >= '0' && list[i + 2] <= '9');

        if (!stop)
            continue;
        if (list[start] >= '0' && list[start] <= '9')
            sched_item(s, list + start, i - start);
        start = i + 2;
    }
}

int p4_diagsched_unschedulable(struct p4_diagnosis *out, const char *who_, const char *msg)
{
    struct sched s = {0};
    size_t end = p4_objtext_upto_lit(msg, " preemption:");
    char words[P4_DIAGNOSE_WORDS_SHOWN], todo[TODO_SIZE] = "";
    bool only_selector;

    while (end > 0 && (msg[end - 1] == '.' || msg[end - 1] == ' '))
        end--;
    sched_read(&s, msg, end);
    only_selector = s.selector && !s.insufficient && !s.taint && !s.pvc && !s.no_nodes && !s.other;
    if (s.no_nodes)
        append(todo, sizeof(todo), "The cluster has no node to run it: a person must add nodes.");
    if (s.insufficient)
        append(todo, sizeof(todo),
               "The nodes lack free %s: a person must add capacity, or the chart must request "
               "less.",
               s.resources);
    if (s.taint)
        append(todo, sizeof(todo),
               "Nodes carry taints it does not tolerate: a person must provide untainted nodes, "
               "or the chart must add tolerations.");
    if (s.pvc)
        append(todo, sizeof(todo),
               "A PersistentVolumeClaim it mounts is not bound: a person must check its "
               "StorageClass and provisioner.");
    if (only_selector)
        append(todo, sizeof(todo),
               "No node has the labels its nodeSelector or node affinity asks for: correct them "
               "in the chart (a new chart is needed), or label nodes.");
    else if (s.selector)
        append(todo, sizeof(todo),
               "The other nodes lack the labels its nodeSelector or node affinity asks for.");
    if (s.other || todo[0] == '\0')
        append(todo, sizeof(todo),
               "A person must add capacity, or the chart must relax its scheduling constraints.");
    p4_objtext_put(words, sizeof(words), msg, end);
    return p4_diagnose_found(
        out, "Unschedulable", only_selector ? P4_FAIL_ARTIFACT : P4_FAIL_CLUSTER,
        "%s cannot be scheduled%s%s. %s", who_, words[0] != '\0' ? ": " : "", words, todo);
}
