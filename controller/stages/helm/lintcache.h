/*
 * lintcache.h: what `helm lint --strict` said about a chart with given values and options,
 * kept so that many releases of one chart with the same values lint it once; internal to
 * stages/helm (render.c, S_LINT).
 *
 * A key is a SHA-256 over what decides lint's outcome: the chart's digest (the fetched
 * archive, in place of the path helm reads it from), every other argument lint is given (--strict,
 * --kube-version and its value, ...) and the values bytes exactly as they reach helm's stdin.
 * Any of them changing gives another key; the operator's helm binary and helm's homes are fixed
 * for the process's life, so they are not in it. The release namespace (--namespace and its
 * value) is left out of the key a pass is kept by (namespaced false): releases of one chart
 * with the same values go to a namespace each, and a chart whose lint passes in one namespace
 * and not in another is one whose templates branch on .Release.Namespace; those branches are
 * still rendered for the real namespace by helm template and checked by the server's dry run
 * (README, "The Helm stage"). A failure is kept by the key with it (namespaced true), so it is
 * never shown for a namespace it was not found in. The
 * value is the outcome only: passed, or the failure as the gates report it (class, gate,
 * reason, message), never the chart or the values. At most max entries are kept; when full
 * the least recently used goes. Pure data, no loop.
 *
 * Ownership: the cache owns its entries and their messages; an outcome returned is borrowed
 * until the cache changes. Counters (hits, misses) are the caller's to count, for /metrics.
 */
#ifndef PHASE4_HELM_LINTCACHE_H
#define PHASE4_HELM_LINTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P4_LINTCACHE_MAX 256 /* entries kept by default */
#define P4_LINTKEY_SIZE 32   /* a key: SHA-256 */

struct p4_lintkey {
    unsigned char d[P4_LINTKEY_SIZE];
};

/* What one lint said. */
struct p4_lint_outcome {
    bool passed;
    int cls;             /* failed: enum p4_failure_class */
    int gate;            /* failed: the Helm stage's gate (steps.h's enum gate) */
    const char *reason;  /* failed: static */
    const char *message; /* failed: the gate's message (the cache keeps a copy) */
};

struct p4_lintcache_entry; /* private */

struct p4_lintcache {
    struct p4_lintcache_entry *e; /* private: n used of max */
    size_t n, max;
    uint64_t seq;    /* private: counts puts and hits, to find the least recently used */
    uint64_t hits;   /* lints answered from the cache (the caller counts) */
    uint64_t misses; /* lints run because the cache had no answer (the caller counts) */
};

/* max 0: P4_LINTCACHE_MAX. */
void p4_lintcache_init(struct p4_lintcache *c, size_t max);
void p4_lintcache_close(struct p4_lintcache *c);
/*
 * The key of a lint of the chart whose archive has digest chart_digest, run with argv (helm's
 * arguments, NULL-ended; the one equal to chart_path stands for the chart and is keyed by
 * chart_digest) and values (len bytes) on stdin, into *key; with "--namespace" and its value
 * only when namespaced (a failure's key; a pass's is without).
 */
void p4_lintcache_key(const char *const *argv, const char *chart_path, const char *chart_digest,
                      const char *values, size_t len, bool namespaced, struct p4_lintkey *key);
/* key's outcome (borrowed until the cache changes), marked used; NULL when not kept. */
const struct p4_lint_outcome *p4_lintcache_get(struct p4_lintcache *c,
                                               const struct p4_lintkey *key);
/* Keep o (its message copied) for key, replacing what key had; when full, the least recently
   used entry goes first. */
void p4_lintcache_put(struct p4_lintcache *c, const struct p4_lintkey *key,
                      const struct p4_lint_outcome *o);
size_t p4_lintcache_len(const struct p4_lintcache *c);

#endif
