/*
 * cpucount.h: how many CPUs this process may use, for limits that default to it (the Helm
 * stage's concurrent helm processes, --helm-concurrency).
 *
 * The count is the smaller of the CPUs the scheduler lets the process run on
 * (sched_getaffinity) and, in a container, its CPU quota rounded up: cgroup v2's cpu.max
 * ("QUOTA PERIOD" or "max PERIOD"), else cgroup v1's cpu.cfs_quota_us / cpu.cfs_period_us
 * (a quota of -1: none). A file that is missing or unreadable sets no limit. Always at least 1.
 * Nothing here allocates.
 */
#ifndef PHASE4_CPUCOUNT_H
#define PHASE4_CPUCOUNT_H

#include <stddef.h>

/* Where cgroup v2 keeps cpu.max, and v1 its CFS quota and period. */
#define P4_CPUCOUNT_CGROUP_DIR "/sys/fs/cgroup"

/*
 * The CPU quota in buf (len bytes, not NUL-terminated; cpu.max's form: a quota in microseconds
 * or "max", a space or tab, a period in microseconds, an optional newline; cgroup v1's quota "-1"
 * is read as "max") as CPUs, rounded up (150000 100000: 2). Returns the CPUs (>= 1), 0 for no
 * quota ("max" or "-1"), or -1 when buf is not that form (an empty or zero period, a zero or
 * negative quota, a number past 10^15, anything else).
 */
long p4_cpucount_quota_parse(const char *buf, size_t len);

/*
 * The CPUs this process may use: its affinity, capped by the cgroup quota found under
 * cgroup_dir (NULL: P4_CPUCOUNT_CGROUP_DIR; cpu.max, else cpu.cfs_quota_us and cpu.cfs_period_us,
 * else cpu/cpu.cfs_quota_us and cpu/cpu.cfs_period_us). At least 1.
 */
int p4_cpucount(const char *cgroup_dir);

#endif
