/*
 * scanreport_fuzz.c: libFuzzer target for scan reports (Trivy JSON, SARIF) and
 * Trivy Operator VulnerabilityReport objects, and the gate's message.
 *
 * Input layout: the whole input is one report. It goes to p4_scan_parse,
 * p4_scan_parse_trivy and p4_scan_parse_sarif, and, when cJSON reads it, to
 * p4_scan_parse_vulnreport and p4_scan_vulnreport_matches. Every summary is
 * then gated at every severity into a small buffer and a large one.
 * Invariants: codes are the documented ones and match err, messages are
 * printable ASCII; on error the summary is all zeros; on success counts are
 * non-negative and sum to total, nworst is at most P4_SCAN_WORST and total,
 * worst is in order with NUL-terminated printable strings, the detected parse
 * agrees with the specific one, and the gate's count and sentence agree with
 * the summary without writing past the buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/scan/scanreport.h"
#include "phase4/scan/vulnreport.h"

#define DIGEST "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void check_clean(const char *s, size_t size)
{
    const char *end = memchr(s, '\0', size);

    if (end == NULL)
        abort();
    for (; s < end; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            abort();
    }
}

static void check_error(int rc, const struct p4_error *err)
{
    if (rc == 0)
        return;
    if (rc != P4_ERR_PARSE && rc != P4_ERR_TOOBIG && rc != P4_ERR_INVAL)
        abort();
    if (err->code != rc || err->message[0] == '\0')
        abort();
    check_clean(err->message, sizeof(err->message));
}

static void check_gate(const struct p4_scan_summary *s)
{
    char small[48], large[1024];

    for (int max = P4_SEV_UNKNOWN; max < P4_SEV_COUNT; max++) {
        int want = 0, got;

        for (int sev = max; sev < P4_SEV_COUNT; sev++)
            want += s->counts[sev];
        memset(small, '#', sizeof(small));
        got = p4_scan_over(s, (enum p4_severity)max, small, sizeof(small) - 8);
        if (got != want)
            abort();
        check_clean(small, sizeof(small) - 8);
        for (size_t i = sizeof(small) - 8; i < sizeof(small); i++) {
            if (small[i] != '#')
                abort();
        }
        if (p4_scan_over(s, (enum p4_severity)max, large, sizeof(large)) != want)
            abort();
        check_clean(large, sizeof(large));
        if (want == 0 ? strncmp(large, "no vulnerabilities at or above ", 31) != 0
                      : strtol(large, NULL, 10) != want)
            abort();
        /* The small sentence is the large one, cut. */
        if (strlen(small) < strlen(large) && strlen(small) >= 3 &&
            (strcmp(small + strlen(small) - 3, "...") != 0 ||
             strncmp(small, large, strlen(small) - 3) != 0))
            abort();
        if (strlen(small) == strlen(large) && strcmp(small, large) != 0)
            abort();
    }
}

static void check_summary(int rc, const struct p4_scan_summary *s, const struct p4_error *err)
{
    struct p4_scan_summary zero;
    int sum = 0;

    check_error(rc, err);
    if (rc != 0) {
        memset(&zero, 0, sizeof(zero));
        if (memcmp(s, &zero, sizeof(zero)) != 0)
            abort();
        return;
    }
    if (s->format == NULL ||
        (strcmp(s->format, "trivy-json") != 0 && strcmp(s->format, "sarif") != 0 &&
         strcmp(s->format, "VulnerabilityReport") != 0))
        abort();
    for (int sev = 0; sev < P4_SEV_COUNT; sev++) {
        if (s->counts[sev] < 0)
            abort();
        sum += s->counts[sev];
    }
    if (sum != s->total || s->nworst < 0 || s->nworst > P4_SCAN_WORST || s->nworst > s->total)
        abort();
    for (int i = 0; i < s->nworst; i++) {
        const struct p4_scan_finding *f = &s->worst[i];

        if ((unsigned)f->severity >= P4_SEV_COUNT || s->counts[f->severity] == 0)
            abort();
        if (i > 0) {
            const struct p4_scan_finding *prev = &s->worst[i - 1];

            if (prev->severity < f->severity)
                abort();
        }
        check_clean(f->id, sizeof(f->id));
        check_clean(f->package, sizeof(f->package));
        check_clean(f->installed, sizeof(f->installed));
        check_clean(f->fixed, sizeof(f->fixed));
    }
    check_gate(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const digests[] = {DIGEST, NULL, "sha256:"};
    const char *body = (const char *)data;
    struct p4_scan_summary any, trivy, sarif, report;
    struct p4_error err;
    cJSON *obj;
    int rc_any, rc;

    rc_any = p4_scan_parse(body, size, &any, &err);
    check_summary(rc_any, &any, &err);
    rc = p4_scan_parse_trivy(body, size, &trivy, &err);
    check_summary(rc, &trivy, &err);
    if (rc_any == 0 && strcmp(any.format, "trivy-json") == 0 &&
        (rc != 0 || memcmp(&any, &trivy, sizeof(any)) != 0))
        abort();
    rc = p4_scan_parse_sarif(body, size, &sarif, &err);
    check_summary(rc, &sarif, &err);
    if (rc_any == 0 && strcmp(any.format, "sarif") == 0 &&
        (rc != 0 || memcmp(&any, &sarif, sizeof(any)) != 0))
        abort();

    obj = cJSON_ParseWithLength(body, size);
    if (obj != NULL) {
        rc = p4_scan_parse_vulnreport(obj, &report, &err);
        check_summary(rc, &report, &err);
        (void)p4_scan_vulnreport_matches(obj, digests, 3);
        cJSON_Delete(obj);
    }
    return 0;
}
