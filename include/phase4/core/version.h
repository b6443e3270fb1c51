/*
 * version.h: the operator's version and the versions of what it links and runs.
 */
#ifndef PHASE4_VERSION_H
#define PHASE4_VERSION_H

#include <stddef.h>

#ifndef P4_VERSION
#define P4_VERSION "0.0.0-dev"
#endif
#ifndef P4_HELM_VERSION
#define P4_HELM_VERSION "unknown"
#endif

/*
 * Write a multi-line report of the operator's version and the versions of
 * libcurl, libyaml, cJSON, libuv and OpenSSL it runs with, and the helm
 * version it is built and tested with, into buf.
 * Returns the length written (truncated to size - 1).
 */
size_t p4_version_report(char *buf, size_t size);

#endif
