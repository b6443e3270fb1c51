/* cpucount.c: the CPUs this process may use (see cpucount.h). */
#include "phase4/net/cpucount.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Past this a quota or period is not a cgroup's (the kernel caps both far below it). */
#define NUM_MAX 1000000000000000LL

/* A decimal number of at least one digit at buf[*i..len) into *v; 0, or -1 (none, too big). */
static int number(const char *buf, size_t len, size_t *i, long long *v)
{
    size_t start = *i;

    *v = 0;
    while (*i < len && buf[*i] >= '0' && buf[*i] <= '9') {
        *v = *v * 10 + (buf[*i] - '0');
        if (*v > NUM_MAX)
            return -1;
        (*i)++;
    }
    return *i > start ? 0 : -1;
}

long p4_cpucount_quota_parse(const char *buf, size_t len)
{
    long long quota = 0, period = 0;
    int unlimited = 0;
    size_t i = 0;

    if (buf == NULL)
        return -1;
    if (len >= 3 && memcmp(buf, "max", 3) == 0) {
        unlimited = 1;
        i = 3;
    } else if (len >= 2 && memcmp(buf, "-1", 2) == 0) {
        unlimited = 1;
        i = 2;
    } else if (number(buf, len, &i, &quota) != 0 || quota == 0) {
        return -1;
    }
    if (i >= len || (buf[i] != ' ' && buf[i] != '\t'))
        return -1;
    i++;
    if (number(buf, len, &i, &period) != 0 || period == 0)
        return -1;
    if (i < len && buf[i] == '\n')
        i++;
    if (i != len)
        return -1;
    if (unlimited)
        return 0;
    return (long)((quota + period - 1) / period);
}

/* Up to size - 1 bytes of path into buf; the count, or -1 when it cannot be read. */
static long read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, size - 1);
    (void)close(fd);
    return n < 0 ? -1 : (long)n;
}

/* The cgroup quota under dir as CPUs; 0 when there is none (or none can be read). */
static long cgroup_quota(const char *dir)
{
    static const char *const v1[][2] = {
        {"cpu.cfs_quota_us", "cpu.cfs_period_us"},
        {"cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us"},
    };
    char path[PATH_MAX], buf[128], quota[64], period[64];
    long n, q, p, cpus;

    (void)snprintf(path, sizeof(path), "%s/cpu.max", dir);
    if ((n = read_small(path, buf, sizeof(buf))) >= 0) {
        cpus = p4_cpucount_quota_parse(buf, (size_t)n);
        return cpus > 0 ? cpus : 0;
    }
    for (size_t k = 0; k < sizeof(v1) / sizeof(v1[0]); k++) {
        (void)snprintf(path, sizeof(path), "%s/%s", dir, v1[k][0]);
        if ((q = read_small(path, quota, sizeof(quota))) < 0)
            continue;
        (void)snprintf(path, sizeof(path), "%s/%s", dir, v1[k][1]);
        if ((p = read_small(path, period, sizeof(period))) < 0)
            continue;
        /* "QUOTA\n" and "PERIOD\n" into cpu.max's one line. */
        while (q > 0 && (quota[q - 1] == '\n' || quota[q - 1] == ' '))
            q--;
        n = snprintf(buf, sizeof(buf), "%.*s %.*s", (int)q, quota, (int)p, period);
        if (n <= 0 || (size_t)n >= sizeof(buf))
            return 0;
        cpus = p4_cpucount_quota_parse(buf, (size_t)n);
        return cpus > 0 ? cpus : 0;
    }
    return 0;
}

int p4_cpucount(const char *cgroup_dir)
{
    cpu_set_t set;
    long cpus = 0, quota;

    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        cpus = CPU_COUNT(&set);
    if (cpus <= 0)
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
    quota = cgroup_quota(cgroup_dir ? cgroup_dir : P4_CPUCOUNT_CGROUP_DIR);
    if (quota > 0 && (cpus <= 0 || quota < cpus))
        cpus = quota;
    if (cpus < 1)
        cpus = 1;
    return cpus > INT_MAX ? INT_MAX : (int)cpus;
}
