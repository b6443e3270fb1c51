/*
 * rollback_fuzz.c: libFuzzer target for rollback's decisions and status (reconciler/rollback.h).
 *
 * Input layout: the whole input is a Phase4Deployment as JSON (its annotations, among them
 * phase4.io/rollback-to, and its status are a person's and the API server's bytes), parsed with
 * cJSON_ParseWithLength (never read past size).
 * Invariants: p4_rollback_decide's plan holds together (a rollback begun goes from the
 * generation to an older one above 0; a refused request begins none and says why); the status
 * of each state is an object whose status.rollback, when written, has a state and a message, and
 * every Event has a type, a reason and a message; p4_rollback_impact's text is NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "reconciler/rollback.h"

static void check_events(const cJSON *events)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, events) {
        if (p4_json_str(e, "type") == NULL || p4_json_str(e, "reason") == NULL ||
            p4_json_str(e, "message") == NULL)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *obj = cJSON_ParseWithLength((const char *)data, size);
    struct p4_rollback_plan plan;
    struct p4_stage_result res = {.state = P4_STAGE_PASSED};
    int64_t generation = 0;
    char impact[300];

    if (obj == NULL)
        return 0;
    (void)p4_json_int64(obj, "metadata.generation", &generation);
    p4_rollback_decide(obj, &plan);
    if (plan.what == P4_ROLLBACK_BEGIN &&
        (plan.from != generation || plan.to <= 0 || plan.to >= plan.from))
        abort();
    if (plan.refused && (plan.request == NULL || plan.why[0] == '\0' ||
                         memchr(plan.why, '\0', sizeof(plan.why)) == NULL))
        abort();
    if (plan.what == P4_ROLLBACK_NONE && !plan.refused)
        plan.what = P4_ROLLBACK_GO_ON; /* the status functions, whatever the decision */
    res.rollback_to = plan.to;
    for (int s = P4_ROLLBACK_PENDING; s <= P4_ROLLBACK_FAILED; s++) {
        cJSON *events = cJSON_CreateArray();
        cJSON *st = p4_reconciler_rollback_status(obj, &plan, (enum p4_rollback_state)s,
                                                  s == P4_ROLLBACK_PENDING ? NULL : &res,
                                                  "2026-12-07T05:00:00Z", events);
        const cJSON *rb = p4_json_get(st, "rollback");
        if (!cJSON_IsObject(st))
            abort();
        if (s >= P4_ROLLBACK_RUNNING &&
            (p4_json_str(rb, "state") == NULL || p4_json_str(rb, "message") == NULL))
            abort();
        if (plan.refused)
            p4_rollback_refused(st, plan.request, generation, plan.why, events);
        check_events(events);
        p4_rollback_impact(rb, impact, sizeof(impact));
        if (memchr(impact, '\0', sizeof(impact)) == NULL)
            abort();
        cJSON_Delete(st);
        cJSON_Delete(events);
        (void)p4_rollback_state_of(obj, &plan, &res);
    }
    cJSON_Delete(obj);
    return 0;
}
