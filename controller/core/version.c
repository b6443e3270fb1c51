/* version.c: the version report printed by --version (see version.h). */
#include "phase4/core/version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <uv.h>
#include <yaml.h>

size_t p4_version_report(char *buf, size_t size)
{
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    int n;

    n = snprintf(buf, size,
                 "phase4-operator %s\n"
                 "libcurl %s (%s)%s\n"
                 "libyaml %s\n"
                 "cJSON %s\n"
                 "libuv %s\n"
                 "%s\n"
                 "helm %s (the version the Helm stage is built and tested with; "
                 "see --helm-binary)\n",
                 P4_VERSION, curl->version, curl->ssl_version ? curl->ssl_version : "no TLS",
                 (curl->features & CURL_VERSION_HTTP2) ? ", HTTP/2" : "", yaml_get_version_string(),
                 cJSON_Version(), uv_version_string(), OpenSSL_version(OPENSSL_VERSION),
                 P4_HELM_VERSION);
    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}
