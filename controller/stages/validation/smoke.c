/*
 * stages/validation/smoke.c: S_SMOKE (see steps.h). Not built yet: the gate says so.
 */
#include "steps.h"

void p4_vstage_smoke(struct run *r)
{
    p4_stagerun_gate(&r->base, G_SMOKE, "True", P4_VSTAGE_NOT_REQUIRED,
                     "nothing declared in spec.validation.smokeTests (and helmTests)");
    p4_stagerun_next(&r->base, S_LOGS);
}

void p4_vstage_smoke_end(struct run *r)
{
    (void)r;
}

void p4_vstage_smoke_poll(struct run *r, const cJSON *obj)
{
    (void)r;
    (void)obj;
}
