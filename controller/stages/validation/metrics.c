/*
 * stages/validation/metrics.c: S_METRICS (see steps.h). Not built yet: the gate says so.
 */
#include "steps.h"

void p4_vstage_metrics(struct run *r)
{
    p4_stagerun_gate(&r->base, G_METRICS, "True", P4_VSTAGE_NOT_REQUIRED,
                     "nothing declared in spec.validation.metrics");
    p4_vstage_done(r);
}

void p4_vstage_metrics_end(struct run *r)
{
    (void)r;
}
