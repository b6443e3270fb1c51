/*
 * trivyjson.h: Trivy's JSON report (`trivy image -f json`) read into a scan summary's findings
 * (internal to stages/docker/; the shape it reads is described at p4_scan_parse_trivy() in
 * scanreport.h, which parses the body and calls this).
 *
 * Ownership: doc is borrowed and must outlive r's collection (its items point into it).
 */
#ifndef PHASE4_TRIVYJSON_H
#define PHASE4_TRIVYJSON_H

#include <cjson/cJSON.h>

#include "scansummary.h"

/* Collect the vulnerabilities of Trivy JSON doc (an object) into r; 0 or a P4_ERR_* in r->err. */
int p4_scan_read_trivy(struct p4_scan_reader *r, const cJSON *doc);

#endif
