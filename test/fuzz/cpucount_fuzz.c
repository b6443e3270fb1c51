/*
 * cpucount_fuzz.c: libFuzzer target for p4_cpucount_quota_parse, which reads a cgroup's cpu.max
 * (or its v1 CFS quota and period, joined) as the kernel, or a container runtime, wrote it.
 *
 * The input is parsed as it stands (no NUL added: the parser must read only len bytes). The
 * answer is -1, 0 or a count of CPUs; a count must be what the input's two numbers say, rounded
 * up, checked here by a reading of its own, and 0 must come from "max" or "-1".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/net/cpucount.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long cpus = p4_cpucount_quota_parse((const char *)data, size);
    char *text;
    long long quota = 0, period = 0;

    if (cpus < -1)
        abort();
    if (cpus <= 0)
        return 0;
    /* A count: the input is "QUOTA PERIOD" in digits (at most 16 each), an optional newline. */
    text = malloc(size + 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    if (strlen(text) != size || sscanf(text, "%lld%*[ \t]%lld", &quota, &period) != 2 ||
        quota <= 0 || period <= 0 || cpus != (quota + period - 1) / period ||
        (text[0] < '0' || text[0] > '9'))
        abort();
    free(text);
    return 0;
}
