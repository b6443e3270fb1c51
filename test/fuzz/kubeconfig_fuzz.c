/* kubeconfig_fuzz.c: libFuzzer target feeding bytes to the kubeconfig parser as one document. */
#include <stddef.h>
#include <stdint.h>

#include "phase4/kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p4_kubeconfig_doc doc = {
        .data = (const char *)data, .len = size, .name = "fuzz", .base_dir = "/fuzz"};
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;

    if (p4_kubeconfig_parse(&doc, 1, NULL, &cfg, &err) == 0 && cfg->server == NULL)
        __builtin_trap(); /* a config is never returned without a server */
    p4_kube_config_free(cfg);
    return 0;
}
