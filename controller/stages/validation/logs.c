/*
 * stages/validation/logs.c: S_LOGS (see steps.h). Not built yet: the gate says so.
 */
#include "steps.h"

void p4_vstage_logs(struct run *r)
{
    p4_stagerun_gate(&r->base, G_LOGS, "True", P4_VSTAGE_NOT_REQUIRED,
                     "nothing declared in spec.validation.logs");
    p4_stagerun_next(&r->base, S_METRICS);
}

void p4_vstage_logs_end(struct run *r)
{
    (void)r;
}
