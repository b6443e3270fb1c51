/*
 * vstage_smoke_fuzz.c: libFuzzer target for what the Validation stage's smoke tests read from
 * outside (stages/validation/smokejob.c): a Job's status and marks, a Job's pods, the chart's
 * rendered objects (its test hooks) and spec.validation, all writable by whoever can edit those
 * objects.
 *
 * Input: bytes parsed by cJSON_ParseWithLength. The value is read as a Job (its state, how long
 * it ran, whether it is the resource's), as a pod list (the pod to blame and its log path), as
 * a rendered manifest's objects (the test hooks) and as spec.validation (the tests); each test
 * then becomes a Job.
 * Invariants: the state is one of the four, with a NUL-terminated why on one line; a Job
 * not the resource's is never stale; a pod's exit strings are one line and a log path is
 * only given for a pod and container; the tests found are within the room given and each Job
 * made of one is named within 63 bytes, is the resource's and of its generation, and carries an
 * activeDeadlineSeconds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "stages/validation/steps.h"

#define ROOM 8

static const struct p4_vstage_owner OWNER = {
    .ns = "shop", .name = "web", .uid = "uid-1", .target_ns = "shop", .generation = 3};

static void terminated(const char *s, size_t size)
{
    const char *end = memchr(s, '\0', size);

    if (end == NULL)
        abort();
}

static void printable(const char *s, size_t size)
{
    terminated(s, size);
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) /* UTF-8 is kept */
            abort();
}

static void as_job(const cJSON *v)
{
    char why[200];
    enum p4_vstage_job st = p4_vstage_smoke_job_state(v, why, sizeof(why));

    if (st != P4_VJOB_RUNNING && st != P4_VJOB_PASSED && st != P4_VJOB_FAILED &&
        st != P4_VJOB_TIMEDOUT)
        abort();
    printable(why, sizeof(why));
    if (p4_vstage_smoke_job_seconds(v) < -1)
        abort();
    if (!p4_vstage_smoke_ours(v, &OWNER, false) && p4_vstage_smoke_stale(v, &OWNER))
        abort();
    if (p4_vstage_smoke_ours(v, &OWNER, true) && p4_vstage_smoke_stale(v, &OWNER))
        abort();
}

static void as_pods(const cJSON *v)
{
    struct p4_vstage_pod_exit pe;
    char path[2400];

    p4_vstage_smoke_pod_exit(v, &pe);
    printable(pe.pod, sizeof(pe.pod));
    printable(pe.container, sizeof(pe.container));
    printable(pe.waiting, sizeof(pe.waiting));
    if (p4_vstage_smoke_log_path("shop", &pe, path, sizeof(path)) &&
        (pe.pod[0] == '\0' || pe.container[0] == '\0' || !pe.has_log))
        abort();
}

static void jobs_of(struct p4_vstage_smoke_test *tests, int n)
{
    for (int i = 0; i < n; i++) {
        struct p4_vstage_failure f;
        cJSON *job;
        p4_vstage_smoke_job_name(OWNER.name, tests[i].helm, tests[i].name, OWNER.generation,
                                 tests[i].job);
        if (strlen(tests[i].job) > P4_VSTAGE_NAME_MAX)
            abort();
        job = p4_vstage_smoke_job(&OWNER, &tests[i]);
        if (!p4_vstage_smoke_ours(job, &OWNER, true) || p4_vstage_smoke_stale(job, &OWNER) ||
            p4_json_get(job, "spec.activeDeadlineSeconds") == NULL)
            abort();
        cJSON_Delete(job);
        p4_vstage_smoke_failure(&tests[i], "shop", i % 2 == 0, "why", NULL, "log", &f);
        terminated(f.err.message, sizeof(f.err.message));
    }
}

static void as_objects(const cJSON *v)
{
    struct p4_vstage_smoke_test tests[ROOM] = {0};
    struct p4_error err = {0};
    int skipped = -1, n = p4_vstage_smoke_helm_tests(v, tests, 0, ROOM, &skipped);

    if (n < 0 || n > ROOM || skipped < 0)
        abort();
    jobs_of(tests, n);
    p4_vstage_smoke_tests_free(tests, n);

    n = p4_vstage_smoke_read(v, tests, ROOM, &err);
    if (n < -1 || n > ROOM || (n == -1 && err.message[0] == '\0'))
        abort();
    if (n > 0) {
        char msg[P4_ERROR_MESSAGE_MAX];
        jobs_of(tests, n);
        p4_vstage_smoke_passed_message(tests, n, 0, msg, sizeof(msg));
        terminated(msg, sizeof(msg));
        p4_vstage_smoke_tests_free(tests, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *v = cJSON_ParseWithLength((const char *)data, size);

    if (v == NULL)
        return 0;
    as_job(v);
    as_pods(v);
    as_objects(v);
    cJSON_Delete(v);
    return 0;
}
