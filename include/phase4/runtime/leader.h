/*
 * leader.h: leader election on a coordination.k8s.io/v1 Lease, as client-go
 * does it: one holder at a time; a holder renews every retry period; others
 * take over when the lease has not been renewed for its duration, as seen on
 * their own clock; a leader that cannot renew within the renew deadline
 * stops leading, on a timer of its own armed at each renewal, whatever its
 * requests are doing (a renewal hung on a stopped etcd never answers in
 * time); a leader that shuts down releases the lease so a standby takes
 * over at once.
 */
#ifndef PHASE4_LEADER_H
#define PHASE4_LEADER_H

#include <stdint.h>
#include <uv.h>

#include "phase4/core/buf.h"
#include "phase4/kube/client.h"

struct p4_leader;

struct p4_leader_opts {
    const char *namespace;      /* of the Lease */
    const char *name;           /* of the Lease */
    const char *identity;       /* this process, unique */
    uint64_t lease_ms;          /* default 15 s */
    uint64_t renew_deadline_ms; /* default 10 s */
    uint64_t retry_ms;          /* default 2 s */
    void (*on_elected)(void *data);
    void (*on_lost)(void *data);
    void *data;
};

/* k is borrowed; opts' strings are copied. */
struct p4_leader *p4_leader_new(uv_loop_t *loop, struct p4_kube *k, const struct p4_leader_opts *o);
void p4_leader_start(struct p4_leader *l);
int p4_leader_is_leader(const struct p4_leader *l);
uint64_t p4_leader_transitions(const struct p4_leader *l);
/*
 * Append the phase4_leader gauge to out: whether l leads, or, when l is NULL
 * (no leader election, or the lease already released), without_election.
 */
void p4_leader_metrics(const struct p4_leader *l, int without_election, struct p4_buf *out);
/*
 * Stop campaigning; if leading, release the lease, then call done (on a later
 * loop turn) and free l.
 */
void p4_leader_release(struct p4_leader *l, void (*done)(void *), void *arg);

#endif
