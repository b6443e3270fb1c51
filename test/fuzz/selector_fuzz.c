/*
 * selector_fuzz.c: libFuzzer target for label selectors (phase4/kube/selector.h), read from
 * objects anyone who can edit a workload, a ServiceMonitor or a PodMonitor writes.
 *
 * Input: bytes parsed by cJSON_ParseWithLength. When they read as an object, its "selector" is
 * matched against its "labels".
 * Invariants: a selector that is not an object matches nothing; an empty selector matches
 * nothing; a pod without labels matches as one with empty labels; the answers do not change
 * when asked again.
 */
#include <stdint.h>
#include <stdlib.h>

#include "phase4/core/json.h"
#include "phase4/kube/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *obj = cJSON_ParseWithLength((const char *)data, size);

    if (cJSON_IsObject(obj)) {
        const cJSON *sel = cJSON_GetObjectItemCaseSensitive(obj, "selector");
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(obj, "labels");
        cJSON *empty = p4_json_need(cJSON_CreateObject());
        bool m = p4_selector_matches(sel, labels), e = p4_selector_empty(sel);

        if (m && (!cJSON_IsObject(sel) || e))
            abort();
        if (p4_selector_matches(sel, labels) != m || p4_selector_empty(sel) != e)
            abort();
        if (p4_selector_matches(sel, NULL) != p4_selector_matches(sel, empty))
            abort();
        cJSON_Delete(empty);
    }
    cJSON_Delete(obj);
    return 0;
}
