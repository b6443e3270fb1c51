/*
 * sarif.h: the SARIF 2.1.0 Trivy writes (`trivy image -f sarif`) read into a scan summary's
 * findings (internal to stages/docker/; how a result becomes a finding, and which severity it
 * gets, is described at p4_scan_parse_sarif() in scanreport.h, which parses the body and calls
 * this).
 *
 * Ownership: doc is borrowed and must outlive r's collection (its items point into it).
 */
#ifndef PHASE4_SARIF_H
#define PHASE4_SARIF_H

#include <cjson/cJSON.h>

#include "scansummary.h"

/* Collect the failing results of SARIF doc (an object) into r; 0 or a P4_ERR_* in r->err. */
int p4_scan_read_sarif(struct p4_scan_reader *r, const cJSON *doc);

#endif
