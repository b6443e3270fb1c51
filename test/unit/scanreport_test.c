/* scanreport_test.c: Trivy JSON, Trivy SARIF and Trivy Operator reports, and the Scanned gate. */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/scan/scanreport.h"
#include "phase4/scan/vulnreport.h"

#define INDEX_DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define AMD64_DIGEST "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define ARM64_DIGEST "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/*
 * Fixtures are written with ' for " so they stay readable; none needs a real
 * apostrophe. The copy is exactly strlen bytes with no terminator after them
 * (a parser reading past len would trip valgrind or ASan). Caller frees.
 */
static char *j(const char *text, size_t *len)
{
    size_t n = strlen(text);
    char *out = malloc(n > 0 ? n : 1);

    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        out[i] = text[i];
        if (out[i] == '\'')
            out[i] = '"';
    }
    *len = n;
    return out;
}

/* Parse a fixture with one of the p4_scan_parse* functions. */
typedef int (*parse_fn)(const char *, size_t, struct p4_scan_summary *, struct p4_error *);

static int parse_with(parse_fn fn, const char *text, struct p4_scan_summary *out,
                      struct p4_error *err)
{
    size_t len;
    char *body = j(text, &len);
    int rc = fn(body, len, out, err);

    free(body);
    return rc;
}

static cJSON *object(const char *text)
{
    size_t len;
    char *body = j(text, &len);
    cJSON *obj = cJSON_ParseWithLength(body, len);

    free(body);
    assert_non_null(obj);
    return obj;
}

static void assert_finding(const struct p4_scan_finding *f, const char *id, const char *package,
                           const char *installed, const char *fixed, enum p4_severity sev)
{
    assert_string_equal(f->id, id);
    assert_string_equal(f->package, package);
    assert_string_equal(f->installed, installed);
    assert_string_equal(f->fixed, fixed);
    assert_int_equal(f->severity, sev);
}

static void assert_counts(const struct p4_scan_summary *s, int unknown, int low, int medium,
                          int high, int critical)
{
    assert_int_equal(s->counts[P4_SEV_UNKNOWN], unknown);
    assert_int_equal(s->counts[P4_SEV_LOW], low);
    assert_int_equal(s->counts[P4_SEV_MEDIUM], medium);
    assert_int_equal(s->counts[P4_SEV_HIGH], high);
    assert_int_equal(s->counts[P4_SEV_CRITICAL], critical);
    assert_int_equal(s->total, unknown + low + medium + high + critical);
}

static void assert_zeroed(const struct p4_scan_summary *s)
{
    struct p4_scan_summary zero;

    memset(&zero, 0, sizeof(zero));
    assert_null(s->format);
    assert_memory_equal(s, &zero, sizeof(zero));
}

static void severities(void **state)
{
    enum p4_severity s = P4_SEV_LOW;

    (void)state;
    assert_string_equal(p4_severity_name(P4_SEV_UNKNOWN), "UNKNOWN");
    assert_string_equal(p4_severity_name(P4_SEV_LOW), "LOW");
    assert_string_equal(p4_severity_name(P4_SEV_MEDIUM), "MEDIUM");
    assert_string_equal(p4_severity_name(P4_SEV_HIGH), "HIGH");
    assert_string_equal(p4_severity_name(P4_SEV_CRITICAL), "CRITICAL");
    assert_string_equal(p4_severity_name(P4_SEV_COUNT), "UNKNOWN");
    assert_string_equal(p4_severity_name((enum p4_severity) - 1), "UNKNOWN");

    assert_int_equal(p4_severity_parse("critical", &s), 0);
    assert_int_equal(s, P4_SEV_CRITICAL);
    assert_int_equal(p4_severity_parse("High", &s), 0);
    assert_int_equal(s, P4_SEV_HIGH);
    assert_int_equal(p4_severity_parse("mEdIuM", &s), 0);
    assert_int_equal(s, P4_SEV_MEDIUM);
    assert_int_equal(p4_severity_parse("LOW", &s), 0);
    assert_int_equal(s, P4_SEV_LOW);
    assert_int_equal(p4_severity_parse("unknown", &s), 0);
    assert_int_equal(s, P4_SEV_UNKNOWN);
    assert_int_equal(p4_severity_parse("CRITICAL", NULL), 0);

    /* Failures leave *out alone, so a caller's default stands. */
    s = P4_SEV_HIGH;
    assert_int_equal(p4_severity_parse("NONE", &s), P4_ERR_INVAL);
    assert_int_equal(p4_severity_parse("", &s), P4_ERR_INVAL);
    assert_int_equal(p4_severity_parse("HIGH ", &s), P4_ERR_INVAL);
    assert_int_equal(p4_severity_parse("CRITICALLY", &s), P4_ERR_INVAL);
    assert_int_equal(p4_severity_parse("LO", &s), P4_ERR_INVAL);
    assert_int_equal(p4_severity_parse(NULL, &s), P4_ERR_INVAL);
    assert_int_equal(s, P4_SEV_HIGH);
}

/* `trivy image -f json` of an Alpine image with a Java app, trimmed to the fields that vary. */
static const char trivy_report[] =
    "{'SchemaVersion':2,'CreatedAt':'2024-03-01T10:00:00.000000000Z',"
    "'ArtifactName':'registry.example.com/team/app:1.0','ArtifactType':'container_image',"
    "'Metadata':{'OS':{'Family':'alpine','Name':'3.17.0'},'ImageID':'sha256:1b2c',"
    "'RepoDigests':['registry.example.com/team/app@" INDEX_DIGEST "']},"
    "'Results':["
    "{'Target':'registry.example.com/team/app:1.0 (alpine 3.17.0)','Class':'os-pkgs',"
    "'Type':'alpine','Vulnerabilities':["
    "{'VulnerabilityID':'CVE-2023-0286','PkgID':'libcrypto3@3.0.7-r0','PkgName':'libcrypto3',"
    "'InstalledVersion':'3.0.7-r0','FixedVersion':'3.0.8-r0','Status':'fixed',"
    "'Layer':{'Digest':'sha256:c158','DiffID':'sha256:ded7'},'SeveritySource':'nvd',"
    "'PrimaryURL':'https://avd.aquasec.com/nvd/cve-2023-0286','DataSource':{'ID':'alpine',"
    "'Name':'Alpine Secdb','URL':'https://secdb.alpinelinux.org/'},'Title':'openssl: X.400 "
    "address type confusion in X.509 GeneralName','Description':'There is a type confusion.',"
    "'Severity':'HIGH','CweIDs':['CWE-843'],'CVSS':{'nvd':{'V3Vector':'CVSS:3.1/AV:N/AC:H/PR:N/"
    "UI:N/S:U/C:H/I:N/A:H','V3Score':7.4}},'References':['https://www.openssl.org/news/"
    "secadv/20230207.txt'],'PublishedDate':'2023-02-08T20:15:00Z'},"
    "{'VulnerabilityID':'CVE-2023-0286','PkgName':'libssl3','InstalledVersion':'3.0.7-r0',"
    "'FixedVersion':'3.0.8-r0','Severity':'HIGH'},"
    "{'VulnerabilityID':'CVE-2022-37434','PkgName':'zlib','InstalledVersion':'1.2.12-r3',"
    "'FixedVersion':'1.2.13-r0','Severity':'CRITICAL'},"
    "{'VulnerabilityID':'CVE-2022-4450','PkgName':'libcrypto3','InstalledVersion':'3.0.7-r0',"
    "'FixedVersion':'3.0.8-r0','Severity':'HIGH'},"
    "{'VulnerabilityID':'CVE-2023-0464','PkgName':'libcrypto3','InstalledVersion':'3.0.7-r0',"
    "'Severity':'MEDIUM'}]},"
    "{'Target':'Node.js','Class':'lang-pkgs','Type':'node-pkg','Vulnerabilities':null},"
    "{'Target':'Java','Class':'lang-pkgs','Type':'jar','Vulnerabilities':["
    "{'VulnerabilityID':'CVE-2021-44228','PkgName':'org.apache.logging.log4j:log4j-core',"
    "'PkgPath':'app/app.jar','InstalledVersion':'2.14.1','FixedVersion':'2.15.0, 2.12.2',"
    "'Severity':'CRITICAL'},"
    "{'VulnerabilityID':'CVE-2023-0286','PkgName':'libssl3','InstalledVersion':'3.0.7-r0',"
    "'FixedVersion':'3.0.8-r0','Severity':'LOW'},"
    "{'VulnerabilityID':'CVE-2023-0464','PkgName':'libcrypto3','InstalledVersion':'3.0.7-r0',"
    "'FixedVersion':'3.0.8-r3','Severity':'HIGH'},"
    "{'VulnerabilityID':'GHSA-jjjh-jjxp-wpff','PkgName':'com.fasterxml.jackson.core:jackson-"
    "databind','InstalledVersion':'2.13.0','FixedVersion':'2.13.4.1','Severity':'UNKNOWN'},"
    "{'VulnerabilityID':'CVE-2020-0001','PkgName':'foo','InstalledVersion':'1.0',"
    "'Severity':'NEGLIGIBLE'},"
    "{'VulnerabilityID':'CVE-2022-37434','PkgName':'zlib','InstalledVersion':'1.2.12-r3',"
    "'FixedVersion':'1.2.13-r0','Severity':'CRITICAL'}]},"
    "{'Target':'Dockerfile','Class':'config','Type':'dockerfile','MisconfSummary':"
    "{'Successes':20,'Failures':1},'Misconfigurations':[{'Type':'Dockerfile Security Check',"
    "'ID':'DS002','Title':'Image user should not be root','Severity':'HIGH'}]}]}";

static void trivy_json(void **state)
{
    struct p4_scan_summary s;
    struct p4_error err;

    (void)state;
    assert_int_equal(parse_with(p4_scan_parse_trivy, trivy_report, &s, &err), 0);
    assert_string_equal(s.format, "trivy-json");
    /* 11 listed, 8 distinct (id, package); misconfigurations are not counted. */
    assert_counts(&s, 2, 0, 0, 4, 2);
    assert_int_equal(s.nworst, 5);
    assert_finding(&s.worst[0], "CVE-2021-44228", "org.apache.logging.log4j:log4j-core", "2.14.1",
                   "2.15.0, 2.12.2", P4_SEV_CRITICAL);
    assert_finding(&s.worst[1], "CVE-2022-37434", "zlib", "1.2.12-r3", "1.2.13-r0",
                   P4_SEV_CRITICAL);
    assert_finding(&s.worst[2], "CVE-2022-4450", "libcrypto3", "3.0.7-r0", "3.0.8-r0", P4_SEV_HIGH);
    assert_finding(&s.worst[3], "CVE-2023-0286", "libcrypto3", "3.0.7-r0", "3.0.8-r0", P4_SEV_HIGH);
    assert_finding(&s.worst[4], "CVE-2023-0286", "libssl3", "3.0.7-r0", "3.0.8-r0", P4_SEV_HIGH);

    /* The same through detection. */
    memset(&s, 0xff, sizeof(s));
    assert_int_equal(parse_with(p4_scan_parse, trivy_report, &s, &err), 0);
    assert_string_equal(s.format, "trivy-json");
    assert_counts(&s, 2, 0, 0, 4, 2);

    /* And not as SARIF. */
    assert_int_equal(parse_with(p4_scan_parse_sarif, trivy_report, &s, &err), P4_ERR_PARSE);
    assert_string_equal(err.message, "the scan report is not SARIF: runs is missing");
    assert_zeroed(&s);
}

static void duplicates_keep_the_highest_severity(void **state)
{
    static const char report[] =
        "{'SchemaVersion':2,'Results':[{'Target':'a','Vulnerabilities':["
        "{'VulnerabilityID':'CVE-1','PkgName':'p','InstalledVersion':'1','Severity':'LOW'},"
        "{'VulnerabilityID':'CVE-1','PkgName':'p','InstalledVersion':'2','FixedVersion':'3',"
        "'Severity':'critical'},"
        "{'VulnerabilityID':'CVE-1','PkgName':'p','InstalledVersion':'4','Severity':'CRITICAL'},"
        "{'VulnerabilityID':'CVE-1','PkgName':'q','Severity':'MEDIUM'},"
        "{'VulnerabilityID':'CVE-2','PkgName':'p','Severity':'MEDIUM'},"
        "{'PkgName':'p','Severity':'LOW'},{'PkgName':'p','Severity':'LOW'},"
        "{'VulnerabilityID':null,'PkgName':null,'Severity':null}]}]}";
    struct p4_scan_summary s;
    struct p4_error err;

    (void)state;
    assert_int_equal(parse_with(p4_scan_parse_trivy, report, &s, &err), 0);
    /* (CVE-1,p) CRITICAL, (CVE-1,q) MEDIUM, (CVE-2,p) MEDIUM, ("",p) LOW, ("","") UNKNOWN */
    assert_counts(&s, 1, 1, 2, 0, 1);
    assert_int_equal(s.nworst, 5);
    /* Of equal severities the first listed is kept: installed 2, fixed in 3. */
    assert_finding(&s.worst[0], "CVE-1", "p", "2", "3", P4_SEV_CRITICAL);
    assert_finding(&s.worst[1], "CVE-1", "q", "", "", P4_SEV_MEDIUM);
    assert_finding(&s.worst[2], "CVE-2", "p", "", "", P4_SEV_MEDIUM);
    assert_finding(&s.worst[3], "", "p", "", "", P4_SEV_LOW);
    assert_finding(&s.worst[4], "", "", "", "", P4_SEV_UNKNOWN);
}

static void trivy_json_without_findings(void **state)
{
    static const char debian[] =
        "{'SchemaVersion':2,'ArtifactName':'app:1.0','ArtifactType':'container_image','Results':"
        "[{'Target':'app:1.0 (debian 12.5)','Class':'os-pkgs','Type':'debian'}]}";
    static const char *const clean[] = {
        debian,
        "{'SchemaVersion':2,'ArtifactName':'scratch'}",
        "{'SchemaVersion':2,'Results':null}",
        "{'SchemaVersion':2,'Results':[]}",
        "{'Results':[{'Target':'x','Vulnerabilities':[]}]}",
    };
    struct p4_scan_summary s;
    struct p4_error err;
    char msg[128];

    (void)state;
    for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
        memset(&s, 0xff, sizeof(s));
        assert_int_equal(parse_with(p4_scan_parse, clean[i], &s, &err), 0);
        assert_string_equal(s.format, "trivy-json");
        assert_counts(&s, 0, 0, 0, 0, 0);
        assert_int_equal(s.nworst, 0);
        assert_int_equal(p4_scan_over(&s, P4_SEV_CRITICAL, msg, sizeof(msg)), 0);
        assert_string_equal(msg, "no vulnerabilities at or above CRITICAL (none found)");
    }
}

/* `trivy image -f sarif`, as trivy 0.49 writes it (locations trimmed to one per result). */
static const char sarif_report[] =
    "{'version':'2.1.0','$schema':'https://raw.githubusercontent.com/oasis-tcs/sarif-spec/"
    "master/Schemata/sarif-schema-2.1.0.json','runs':[{'tool':{'driver':{'fullName':"
    "'Trivy Vulnerability Scanner','informationUri':'https://github.com/aquasecurity/trivy',"
    "'name':'Trivy','rules':["
    "{'id':'CVE-2022-37434','name':'OsPackageVulnerability','shortDescription':{'text':"
    "'zlib: heap-based buffer over-read'},'fullDescription':{'text':'zlib through 1.2.12'},"
    "'defaultConfiguration':{'level':'error'},'helpUri':'https://avd.aquasec.com/nvd/"
    "cve-2022-37434','help':{'text':'Vulnerability CVE-2022-37434','markdown':'**Vulnerability"
    " CVE-2022-37434**'},'properties':{'precision':'very-high','security-severity':'9.8',"
    "'tags':['vulnerability','security','CRITICAL']}},"
    "{'id':'CVE-2023-0286','name':'OsPackageVulnerability','defaultConfiguration':{'level':"
    "'error'},'properties':{'precision':'very-high','security-severity':'7.4','tags':"
    "['vulnerability','security','HIGH']}},"
    "{'id':'CVE-2023-0464','name':'OsPackageVulnerability','defaultConfiguration':{'level':"
    "'warning'},'properties':{'precision':'very-high','security-severity':'7.5','tags':"
    "['vulnerability','security','MEDIUM']}}],'version':'0.49.1'}},"
    "'results':["
    "{'ruleId':'CVE-2022-37434','ruleIndex':0,'level':'error','message':{'text':'Package: "
    "zlib\\nInstalled Version: 1.2.12-r3\\nVulnerability CVE-2022-37434\\nSeverity: CRITICAL"
    "\\nFixed Version: 1.2.13-r0\\nLink: [CVE-2022-37434](https://avd.aquasec.com/nvd/"
    "cve-2022-37434)'},'locations':[{'physicalLocation':{'artifactLocation':{'uri':"
    "'registry.example.com/team/app','uriBaseId':'ROOTPATH'},'region':{'startLine':1,"
    "'startColumn':1,'endLine':1,'endColumn':1}},'message':{'text':'registry.example.com/"
    "team/app: zlib@1.2.12-r3'}}]},"
    "{'ruleId':'CVE-2023-0286','ruleIndex':1,'level':'error','message':{'text':'Package: "
    "libcrypto3\\nInstalled Version: 3.0.7-r0\\nVulnerability CVE-2023-0286\\nSeverity: HIGH"
    "\\nFixed Version: 3.0.8-r0\\nLink: [CVE-2023-0286](https://avd.aquasec.com/nvd/"
    "cve-2023-0286)'}},"
    "{'ruleId':'CVE-2023-0286','ruleIndex':1,'level':'error','message':{'text':'Package: "
    "libssl3\\r\\nInstalled Version: 3.0.7-r0\\r\\nVulnerability CVE-2023-0286\\r\\nSeverity: "
    "HIGH\\r\\nFixed Version: 3.0.8-r0\\r\\nLink: [CVE-2023-0286](https://avd.aquasec.com)'}},"
    "{'ruleId':'CVE-2023-0464','ruleIndex':2,'level':'warning','message':{'text':'Package: "
    "libcrypto3\\nInstalled Version: 3.0.7-r0\\nVulnerability CVE-2023-0464\\nSeverity: "
    "MEDIUM\\nFixed Version: \\nLink: [CVE-2023-0464](https://avd.aquasec.com/nvd/"
    "cve-2023-0464)'}},"
    "{'ruleId':'CVE-2022-37434','ruleIndex':0,'level':'error','message':{'text':'Package: "
    "zlib\\nInstalled Version: 1.2.12-r3\\nVulnerability CVE-2022-37434\\nSeverity: CRITICAL"
    "\\nFixed Version: 1.2.13-r0'}}],"
    "'columnKind':'utf16CodeUnits','originalUriBaseIds':{'ROOTPATH':{'uri':'file:///'}}}]}";

static void trivy_sarif(void **state)
{
    struct p4_scan_summary s;
    struct p4_error err;

    (void)state;
    assert_int_equal(parse_with(p4_scan_parse_sarif, sarif_report, &s, &err), 0);
    assert_string_equal(s.format, "sarif");
    assert_counts(&s, 0, 0, 1, 2, 1);
    assert_int_equal(s.nworst, 4);
    assert_finding(&s.worst[0], "CVE-2022-37434", "zlib", "1.2.12-r3", "1.2.13-r0",
                   P4_SEV_CRITICAL);
    assert_finding(&s.worst[1], "CVE-2023-0286", "libcrypto3", "3.0.7-r0", "3.0.8-r0", P4_SEV_HIGH);
    assert_finding(&s.worst[2], "CVE-2023-0286", "libssl3", "3.0.7-r0", "3.0.8-r0", P4_SEV_HIGH);
    assert_finding(&s.worst[3], "CVE-2023-0464", "libcrypto3", "3.0.7-r0", "", P4_SEV_MEDIUM);

    memset(&s, 0, sizeof(s));
    assert_int_equal(parse_with(p4_scan_parse, sarif_report, &s, &err), 0);
    assert_string_equal(s.format, "sarif");
    assert_counts(&s, 0, 0, 1, 2, 1);

    assert_int_equal(parse_with(p4_scan_parse_trivy, sarif_report, &s, &err), P4_ERR_PARSE);
    assert_string_equal(err.message,
                        "the scan report is not Trivy JSON: it has neither SchemaVersion nor "
                        "Results");
    assert_zeroed(&s);
}

/* The severity SARIF gives one result, with rules (a JSON array's members) and the result. */
static enum p4_severity sarif_severity(const char *rules, const char *result)
{
    char text[2048];
    struct p4_scan_summary s;
    struct p4_error err;

    (void)snprintf(text, sizeof(text),
                   "{'version':'2.1.0','runs':[{'tool':{'driver':{'name':'Trivy','rules':[%s]}},"
                   "'results':[%s]}]}",
                   rules, result);
    if (parse_with(p4_scan_parse_sarif, text, &s, &err) != 0)
        fail_msg("%s: %s", text, err.message);
    assert_int_equal(s.total, 1);
    assert_int_equal(s.nworst, 1);
    return s.worst[0].severity;
}

#define RULE(props) "{'id':'CVE-1','properties':" props "}"

static void sarif_severity_sources(void **state)
{
    (void)state;
    /* The message's Severity: line wins over everything. */
    assert_int_equal(sarif_severity(RULE("{'tags':['CRITICAL']}"),
                                    "{'ruleId':'CVE-1','ruleIndex':0,'level':'error','message':"
                                    "{'text':'Package: a\\nSeverity: low'}}"),
                     P4_SEV_LOW);
    assert_int_equal(sarif_severity(RULE("{'tags':['CRITICAL']}"),
                                    "{'ruleId':'CVE-1','message':{'text':'Severity: UNKNOWN'}}"),
                     P4_SEV_UNKNOWN);
    /* A Severity: line with a word we do not know falls through to the rule. */
    assert_int_equal(sarif_severity(RULE("{'tags':['HIGH']}"),
                                    "{'ruleId':'CVE-1','message':{'text':'Severity: BAD'}}"),
                     P4_SEV_HIGH);
    /* Then the rule's tags, over its score; the highest tag counts. */
    assert_int_equal(sarif_severity(RULE("{'tags':['vulnerability','security','HIGH'],"
                                         "'security-severity':'9.8'}"),
                                    "{'ruleId':'CVE-1','level':'note'}"),
                     P4_SEV_HIGH);
    assert_int_equal(
        sarif_severity(RULE("{'tags':['low','Critical','medium']}"), "{'ruleId':'CVE-1'}"),
        P4_SEV_CRITICAL);
    /* Then security-severity, a CVSS score string (or number). */
    assert_int_equal(sarif_severity(RULE("{'security-severity':'9.0'}"), "{'ruleId':'CVE-1'}"),
                     P4_SEV_CRITICAL);
    assert_int_equal(sarif_severity(RULE("{'security-severity':'8.99'}"), "{'ruleId':'CVE-1'}"),
                     P4_SEV_HIGH);
    assert_int_equal(sarif_severity(RULE("{'security-severity':'7.0'}"), "{'ruleId':'CVE-1'}"),
                     P4_SEV_HIGH);
    assert_int_equal(sarif_severity(RULE("{'security-severity':'6.95'}"), "{'ruleId':'CVE-1'}"),
                     P4_SEV_MEDIUM);
    assert_int_equal(sarif_severity(RULE("{'security-severity':'4'}"), "{'ruleId':'CVE-1'}"),
                     P4_SEV_MEDIUM);
    assert_int_equal(sarif_severity(RULE("{'security-severity':'0.1'}"), "{'ruleId':'CVE-1'}"),
                     P4_SEV_LOW);
    assert_int_equal(sarif_severity(RULE("{'security-severity':10}"), "{'ruleId':'CVE-1'}"),
                     P4_SEV_CRITICAL);
    /* A score of 0 or one that is not a score gives nothing: the level decides. */
    assert_int_equal(
        sarif_severity(RULE("{'security-severity':'0.0'}"), "{'ruleId':'CVE-1','level':'note'}"),
        P4_SEV_LOW);
    assert_int_equal(
        sarif_severity(RULE("{'security-severity':'11'}"), "{'ruleId':'CVE-1','level':'error'}"),
        P4_SEV_HIGH);
    assert_int_equal(sarif_severity(RULE("{'security-severity':'high'}"),
                                    "{'ruleId':'CVE-1','level':'warning'}"),
                     P4_SEV_MEDIUM);
    assert_int_equal(
        sarif_severity(RULE("{'security-severity':'7.'}"), "{'ruleId':'CVE-1','level':'none'}"),
        P4_SEV_UNKNOWN);
    /* An UNKNOWN tag counts only when nothing else in the rule rates it. */
    assert_int_equal(sarif_severity(RULE("{'tags':['UNKNOWN'],'security-severity':'5.0'}"),
                                    "{'ruleId':'CVE-1','level':'error'}"),
                     P4_SEV_MEDIUM);
    assert_int_equal(sarif_severity(RULE("{'tags':['UNKNOWN']}"), "{'ruleId':'CVE-1','level':"
                                                                  "'error'}"),
                     P4_SEV_UNKNOWN);
    /* Level only: error, warning, note, none; then the rule's default; then "warning". */
    assert_int_equal(sarif_severity("", "{'ruleId':'CVE-1','level':'error'}"), P4_SEV_HIGH);
    assert_int_equal(sarif_severity("", "{'ruleId':'CVE-1','level':'warning'}"), P4_SEV_MEDIUM);
    assert_int_equal(sarif_severity("", "{'ruleId':'CVE-1','level':'note'}"), P4_SEV_LOW);
    assert_int_equal(sarif_severity("", "{'ruleId':'CVE-1','level':'none'}"), P4_SEV_UNKNOWN);
    assert_int_equal(sarif_severity("{'id':'CVE-1','defaultConfiguration':{'level':'error'}}",
                                    "{'ruleId':'CVE-1'}"),
                     P4_SEV_HIGH);
    assert_int_equal(sarif_severity("{'id':'CVE-1','defaultConfiguration':{'level':'error'}}",
                                    "{'ruleId':'CVE-1','level':'note'}"),
                     P4_SEV_LOW);
    assert_int_equal(sarif_severity("", "{'ruleId':'CVE-1'}"), P4_SEV_MEDIUM);
    assert_int_equal(sarif_severity("", "{'ruleId':'CVE-1','level':'fatal'}"), P4_SEV_MEDIUM);
}

static void sarif_rules_by_index_and_id(void **state)
{
    static const char report[] =
        "{'runs':[{'tool':{'driver':{'name':'scanner','rules':["
        "{'id':'CVE-A','properties':{'tags':['CRITICAL']}},"
        "{'id':'CVE-B','properties':{'tags':['LOW']}},"
        "{'id':'CVE-B','properties':{'tags':['HIGH']}}]}},'results':["
        /* No ruleId: the id comes from the rule at ruleIndex. */
        "{'ruleIndex':0,'message':{'text':'Package: a\\nInstalled Version: 1'}},"
        /* ruleIndex out of range (an extension's rules, say): looked up by id, first wins. */
        "{'ruleId':'CVE-B','ruleIndex':7,'message':{'text':'Package: b'}},"
        /* ruleIndex picks the second CVE-B rule. */
        "{'ruleId':'CVE-B','ruleIndex':2,'message':{'text':'Package: c'}},"
        /* No ruleId, no rule: the message's Vulnerability line; Artifact stands in. */
        "{'ruleIndex':-1,'level':'error','message':{'text':'Artifact: Dockerfile\\nType: "
        "dockerfile\\nVulnerability DS002\\nSeverity: HIGH\\nMessage: root'}},"
        /* Not findings. */
        "{'ruleId':'CVE-A','kind':'pass','level':'none'},"
        "{'ruleId':'CVE-A','kind':'notApplicable'},{'ruleId':'CVE-A','kind':'informational'}"
        "]},{'tool':{'driver':{'name':'second run'}},'results':[{'ruleId':'CVE-A','kind':"
        "'review','level':'note','message':{'text':'Package: a\\nSeverity: LOW'}}]},"
        "{'tool':{'driver':{'name':'no results'}}}]}";
    struct p4_scan_summary s;
    struct p4_error err;

    (void)state;
    assert_int_equal(parse_with(p4_scan_parse_sarif, report, &s, &err), 0);
    /* (CVE-A,a) from the first run (CRITICAL) and the second (LOW) are one finding. */
    assert_counts(&s, 0, 1, 0, 2, 1);
    assert_int_equal(s.nworst, 4);
    assert_finding(&s.worst[0], "CVE-A", "a", "1", "", P4_SEV_CRITICAL);
    assert_finding(&s.worst[1], "CVE-B", "c", "", "", P4_SEV_HIGH);
    assert_finding(&s.worst[2], "DS002", "Dockerfile", "", "", P4_SEV_HIGH);
    assert_finding(&s.worst[3], "CVE-B", "b", "", "", P4_SEV_LOW);
}

/* A VulnerabilityReport as Trivy Operator 0.18 writes it for a ReplicaSet's container. */
static const char vulnreport[] =
    "{'apiVersion':'aquasecurity.github.io/v1alpha1','kind':'VulnerabilityReport',"
    "'metadata':{'name':'replicaset-web-6d4cf56db6-nginx','namespace':'shop','labels':{"
    "'resource-spec-hash':'7cb64cb677','trivy-operator.container.name':'nginx',"
    "'trivy-operator.resource.kind':'ReplicaSet','trivy-operator.resource.name':"
    "'web-6d4cf56db6','trivy-operator.resource.namespace':'shop'},'ownerReferences':[{"
    "'apiVersion':'apps/v1','blockOwnerDeletion':false,'controller':true,'kind':'ReplicaSet',"
    "'name':'web-6d4cf56db6','uid':'aa345200-cf24-443a-8f11-ddb438ff8659'}],"
    "'resourceVersion':'81356','uid':'8aa1a7cb-a319-4b93-850d-5a67827dfbbf'},"
    "'report':{'artifact':{'repository':'library/nginx','tag':'1.25.3','digest':'" AMD64_DIGEST
    "'},'os':{'family':'debian','name':'12.4'},'registry':{'server':'index.docker.io'},"
    "'scanner':{'name':'Trivy','vendor':'Aqua Security','version':'0.48.1'},"
    "'summary':{'criticalCount':1,'highCount':2,'lowCount':1,'mediumCount':1,'noneCount':0,"
    "'unknownCount':0},'updateTimestamp':'2024-03-01T10:00:00Z','vulnerabilities':["
    "{'fixedVersion':'','installedVersion':'1.22.1-9','lastModifiedDate':"
    "'2023-11-07T03:45:00Z','links':[],'primaryLink':'https://avd.aquasec.com/nvd/"
    "cve-2023-44487','publishedDate':'2023-10-10T14:15:10Z','resource':'libnghttp2-14',"
    "'score':7.5,'severity':'HIGH','target':'','title':'HTTP/2 Rapid Reset',"
    "'vulnerabilityID':'CVE-2023-44487'},"
    "{'fixedVersion':'7.88.1-10+deb12u5','installedVersion':'7.88.1-10+deb12u4','resource':"
    "'curl','score':9.8,'severity':'CRITICAL','vulnerabilityID':'CVE-2023-38545'},"
    "{'fixedVersion':'','installedVersion':'1:1.2.13.dfsg-1','resource':'zlib1g','severity':"
    "'HIGH','vulnerabilityID':'CVE-2023-45853'},"
    "{'installedVersion':'3.0.11-1~deb12u2','resource':'libssl3','severity':'MEDIUM',"
    "'vulnerabilityID':'CVE-2023-5678'},"
    "{'installedVersion':'2.36-9+deb12u3','resource':'libc6','severity':'LOW',"
    "'vulnerabilityID':'CVE-2010-4756'}]}}";

static void trivy_operator_report(void **state)
{
    cJSON *obj = object(vulnreport);
    struct p4_scan_summary s;
    struct p4_error err;
    char msg[512];

    (void)state;
    assert_int_equal(p4_scan_parse_vulnreport(obj, &s, &err), 0);
    assert_string_equal(s.format, "VulnerabilityReport");
    assert_counts(&s, 0, 1, 1, 2, 1);
    assert_int_equal(s.nworst, 5);
    assert_finding(&s.worst[0], "CVE-2023-38545", "curl", "7.88.1-10+deb12u4", "7.88.1-10+deb12u5",
                   P4_SEV_CRITICAL);
    assert_finding(&s.worst[1], "CVE-2023-44487", "libnghttp2-14", "1.22.1-9", "", P4_SEV_HIGH);
    assert_finding(&s.worst[2], "CVE-2023-45853", "zlib1g", "1:1.2.13.dfsg-1", "", P4_SEV_HIGH);
    assert_finding(&s.worst[3], "CVE-2023-5678", "libssl3", "3.0.11-1~deb12u2", "", P4_SEV_MEDIUM);
    assert_finding(&s.worst[4], "CVE-2010-4756", "libc6", "2.36-9+deb12u3", "", P4_SEV_LOW);
    assert_int_equal(p4_scan_over(&s, P4_SEV_HIGH, msg, sizeof(msg)), 3);
    assert_string_equal(msg, "3 vulnerabilities at or above HIGH (1 CRITICAL, 2 HIGH): "
                             "CVE-2023-38545 in curl 7.88.1-10+deb12u4 (CRITICAL, fixed in "
                             "7.88.1-10+deb12u5), CVE-2023-44487 in libnghttp2-14 1.22.1-9 "
                             "(HIGH, no fix yet), CVE-2023-45853 in zlib1g 1:1.2.13.dfsg-1 "
                             "(HIGH, no fix yet)");
    /* Read-only: the object is unchanged and can be read again. */
    assert_int_equal(p4_scan_parse_vulnreport(obj, &s, &err), 0);
    assert_int_equal(s.total, 5);
    cJSON_Delete(obj);

    /* A clean image: an empty list and zero counts. */
    obj = object("{'kind':'ClusterVulnerabilityReport','report':{'artifact':{'repository':"
                 "'app','digest':'" INDEX_DIGEST "'},'summary':{'criticalCount':0,'highCount':"
                 "0,'lowCount':0,'mediumCount':0,'noneCount':0,'unknownCount':0},"
                 "'vulnerabilities':[]}}");
    assert_int_equal(p4_scan_parse_vulnreport(obj, &s, &err), 0);
    assert_counts(&s, 0, 0, 0, 0, 0);
    assert_int_equal(s.nworst, 0);
    cJSON_Delete(obj);
    /* Items of a list may come without a kind; a report without vulnerabilities has none. */
    obj = object("{'metadata':{'name':'x'},'report':{}}");
    assert_int_equal(p4_scan_parse_vulnreport(obj, &s, &err), 0);
    assert_counts(&s, 0, 0, 0, 0, 0);
    cJSON_Delete(obj);
}

static void trivy_operator_summary_counts_the_unlisted(void **state)
{
    cJSON *obj = object("{'kind':'VulnerabilityReport','report':{'summary':{'criticalCount':3,"
                        "'highCount':0,'mediumCount':1,'lowCount':null},'vulnerabilities':["
                        "{'vulnerabilityID':'CVE-1','resource':'a','installedVersion':'1',"
                        "'severity':'CRITICAL'},"
                        "{'vulnerabilityID':'CVE-2','resource':'b','severity':'HIGH'},"
                        "{'vulnerabilityID':'CVE-2','resource':'b','severity':'HIGH'}]}}");
    struct p4_scan_summary s;
    struct p4_error err;
    char msg[256];

    (void)state;
    assert_int_equal(p4_scan_parse_vulnreport(obj, &s, &err), 0);
    /* CRITICAL: 1 listed, 3 claimed; HIGH: the duplicate is one; MEDIUM: 1 claimed. */
    assert_counts(&s, 0, 0, 1, 1, 3);
    assert_int_equal(s.nworst, 2);
    assert_int_equal(p4_scan_over(&s, P4_SEV_CRITICAL, msg, sizeof(msg)), 3);
    assert_string_equal(msg, "3 vulnerabilities at or above CRITICAL (3 CRITICAL): CVE-1 in a 1 "
                             "(CRITICAL, no fix yet), and 2 more");
    cJSON_Delete(obj);

    obj = object("{'report':{'summary':{'highCount':2,'unknownCount':1,'noneCount':2},"
                 "'vulnerabilities':null}}");
    assert_int_equal(p4_scan_parse_vulnreport(obj, &s, &err), 0);
    assert_counts(&s, 3, 0, 0, 2, 0);
    assert_int_equal(s.nworst, 0);
    assert_int_equal(p4_scan_over(&s, P4_SEV_HIGH, msg, sizeof(msg)), 2);
    assert_string_equal(msg, "2 vulnerabilities at or above HIGH (2 HIGH), counted in the "
                             "report's summary but not listed");
    cJSON_Delete(obj);

    /* Absurd claims are clamped, so sums cannot overflow. */
    obj = object("{'report':{'summary':{'criticalCount':9007199254740992,'highCount':"
                 "9007199254740992,'mediumCount':9007199254740992,'lowCount':9007199254740992,"
                 "'unknownCount':9007199254740992,'noneCount':9007199254740992}}}");
    assert_int_equal(p4_scan_parse_vulnreport(obj, &s, &err), 0);
    assert_counts(&s, 100000000, 100000000, 100000000, 100000000, 100000000);
    assert_int_equal(p4_scan_over(&s, P4_SEV_UNKNOWN, msg, sizeof(msg)), 500000000);
    cJSON_Delete(obj);
}

static void bad_trivy_operator_reports(void **state)
{
    static const struct {
        const char *obj, *message;
    } cases[] = {
        {"[]", "the object is not a VulnerabilityReport: it is an array, not a JSON object"},
        {"{'kind':'ConfigAuditReport','report':{}}",
         "the object is a ConfigAuditReport, not a VulnerabilityReport"},
        {"{'kind':'Evil\\u001b[2J\\nReport','report':{}}",
         "the object is a Evil?[2J?Report, not a VulnerabilityReport"},
        {"{'kind':7}", "the object is not a VulnerabilityReport: kind is not a string"},
        {"{'kind':'VulnerabilityReport'}",
         "the object is not a VulnerabilityReport: it has no report"},
        {"{'report':[]}", "the object is not a VulnerabilityReport: report is not an object"},
        {"{'report':{'vulnerabilities':{}}}",
         "the object is not a VulnerabilityReport: report.vulnerabilities is not an array"},
        {"{'report':{'vulnerabilities':[{},'CVE-1']}}",
         "the object is not a VulnerabilityReport: report.vulnerabilities[1] is not an object"},
        {"{'report':{'vulnerabilities':[{'vulnerabilityID':'CVE-1','severity':4}]}}",
         "the object is not a VulnerabilityReport: report.vulnerabilities[0].severity is not "
         "a string"},
        {"{'report':{'vulnerabilities':[{'vulnerabilityID':['CVE-1']}]}}",
         "the object is not a VulnerabilityReport: report.vulnerabilities[0].vulnerabilityID "
         "is not a string"},
        {"{'report':{'vulnerabilities':[{'resource':{}}]}}",
         "the object is not a VulnerabilityReport: report.vulnerabilities[0].resource is not "
         "a string"},
        {"{'report':{'summary':'none'}}",
         "the object is not a VulnerabilityReport: report.summary is not an object"},
        {"{'report':{'summary':{'highCount':-1}}}",
         "the object is not a VulnerabilityReport: report.summary.highCount is not a whole "
         "number of at least 0"},
        {"{'report':{'summary':{'noneCount':1.5}}}",
         "the object is not a VulnerabilityReport: report.summary.noneCount is not a whole "
         "number of at least 0"},
        {"{'report':{'summary':{'lowCount':'3'}}}",
         "the object is not a VulnerabilityReport: report.summary.lowCount is not a whole "
         "number of at least 0"},
    };
    struct p4_scan_summary s;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = object(cases[i].obj);

        memset(&s, 0xff, sizeof(s));
        assert_int_equal(p4_scan_parse_vulnreport(obj, &s, &err), P4_ERR_PARSE);
        assert_int_equal(err.code, P4_ERR_PARSE);
        assert_string_equal(err.reason, "ParseError");
        assert_string_equal(err.message, cases[i].message);
        assert_zeroed(&s);
        cJSON_Delete(obj);
    }
    assert_int_equal(p4_scan_parse_vulnreport(NULL, &s, &err), P4_ERR_INVAL);
    assert_zeroed(&s);
    assert_int_equal(p4_scan_parse_vulnreport(NULL, NULL, NULL), P4_ERR_INVAL);
}

static void matching_by_digest(void **state)
{
    const char *image[] = {INDEX_DIGEST, AMD64_DIGEST, ARM64_DIGEST};
    const char *other[] = {INDEX_DIGEST, NULL, ARM64_DIGEST};
    const char *with_null[] = {NULL, AMD64_DIGEST};
    cJSON *obj = object(vulnreport), *bad;

    (void)state;
    assert_true(p4_scan_vulnreport_matches(obj, image, 3));
    assert_true(p4_scan_vulnreport_matches(obj, image + 1, 1));
    assert_true(p4_scan_vulnreport_matches(obj, with_null, 2));
    assert_false(p4_scan_vulnreport_matches(obj, image, 1));
    assert_false(p4_scan_vulnreport_matches(obj, other, 3));
    assert_false(p4_scan_vulnreport_matches(obj, image, 0));
    assert_false(p4_scan_vulnreport_matches(obj, NULL, 3));
    assert_false(p4_scan_vulnreport_matches(NULL, image, 3));

    /* The report's digest must itself be a sha256 digest: no prefixes, case or length games. */
    static const char *const digests[] = {
        "{'report':{'artifact':{'digest':'SHA256:fedcba9876543210fedcba9876543210fedcba98765432"
        "10fedcba9876543210'}}}",
        "{'report':{'artifact':{'digest':'sha256:FEDCBA9876543210fedcba9876543210fedcba98765432"
        "10fedcba9876543210'}}}",
        "{'report':{'artifact':{'digest':'sha256:fedcba9876543210fedcba9876543210fedcba98765432"
        "10fedcba9876543210a'}}}",
        "{'report':{'artifact':{'digest':'sha256:fedcba9876543210fedcba9876543210fedcba98765432"
        "10fedcba987654321'}}}",
        "{'report':{'artifact':{'digest':'sha256:'}}}",
        "{'report':{'artifact':{'digest':''}}}",
        "{'report':{'artifact':{'digest':7}}}",
        "{'report':{'artifact':{'repository':'library/nginx','tag':'1.25.3'}}}",
        "{'report':{'artifact':'sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba98"
        "76543210'}}",
        "{'report':null}",
        "[]",
    };
    const char *bogus[] = {"sha256:", ""};

    for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
        bad = object(digests[i]);
        assert_false(p4_scan_vulnreport_matches(bad, image, 3));
        assert_false(p4_scan_vulnreport_matches(bad, bogus, 2));
        cJSON_Delete(bad);
    }
    cJSON_Delete(obj);
}

/* One finding of each severity, fixed except the UNKNOWN one. */
static const char ladder[] =
    "{'SchemaVersion':2,'Results':[{'Target':'t','Vulnerabilities':["
    "{'VulnerabilityID':'CVE-5','PkgName':'e','InstalledVersion':'5.0','Severity':'UNKNOWN'},"
    "{'VulnerabilityID':'CVE-4','PkgName':'d','InstalledVersion':'4.0','FixedVersion':'4.1',"
    "'Severity':'LOW'},"
    "{'VulnerabilityID':'CVE-3','PkgName':'c','InstalledVersion':'3.0','FixedVersion':'3.1',"
    "'Severity':'MEDIUM'},"
    "{'VulnerabilityID':'CVE-2','PkgName':'b','InstalledVersion':'2.0','FixedVersion':'2.1',"
    "'Severity':'HIGH'},"
    "{'VulnerabilityID':'CVE-1','PkgName':'a','InstalledVersion':'1.0','FixedVersion':'1.1',"
    "'Severity':'CRITICAL'}]}]}";

static void gate_at_each_threshold(void **state)
{
    static const char *const expected[P4_SEV_COUNT] = {
        "5 vulnerabilities at or above UNKNOWN (1 CRITICAL, 1 HIGH, 1 MEDIUM, 1 LOW, 1 UNKNOWN): "
        "CVE-1 in a 1.0 (CRITICAL, fixed in 1.1), CVE-2 in b 2.0 (HIGH, fixed in 2.1), CVE-3 in "
        "c 3.0 (MEDIUM, fixed in 3.1), CVE-4 in d 4.0 (LOW, fixed in 4.1), CVE-5 in e 5.0 "
        "(UNKNOWN, no fix yet)",
        "4 vulnerabilities at or above LOW (1 CRITICAL, 1 HIGH, 1 MEDIUM, 1 LOW): CVE-1 in a 1.0 "
        "(CRITICAL, fixed in 1.1), CVE-2 in b 2.0 (HIGH, fixed in 2.1), CVE-3 in c 3.0 (MEDIUM, "
        "fixed in 3.1), CVE-4 in d 4.0 (LOW, fixed in 4.1)",
        "3 vulnerabilities at or above MEDIUM (1 CRITICAL, 1 HIGH, 1 MEDIUM): CVE-1 in a 1.0 "
        "(CRITICAL, fixed in 1.1), CVE-2 in b 2.0 (HIGH, fixed in 2.1), CVE-3 in c 3.0 (MEDIUM, "
        "fixed in 3.1)",
        "2 vulnerabilities at or above HIGH (1 CRITICAL, 1 HIGH): CVE-1 in a 1.0 (CRITICAL, "
        "fixed in 1.1), CVE-2 in b 2.0 (HIGH, fixed in 2.1)",
        "1 vulnerability at or above CRITICAL (1 CRITICAL): CVE-1 in a 1.0 (CRITICAL, fixed in "
        "1.1)",
    };
    struct p4_scan_summary s;
    struct p4_error err;
    char msg[1024];

    (void)state;
    assert_int_equal(parse_with(p4_scan_parse, ladder, &s, &err), 0);
    for (int max = P4_SEV_UNKNOWN; max < P4_SEV_COUNT; max++) {
        assert_int_equal(p4_scan_over(&s, (enum p4_severity)max, msg, sizeof(msg)), 5 - max);
        assert_string_equal(msg, expected[max]);
    }
    assert_int_equal(p4_scan_over(&s, P4_SEV_COUNT, msg, sizeof(msg)), P4_ERR_INVAL);
    assert_string_equal(msg, "");
    assert_int_equal(p4_scan_over(&s, (enum p4_severity) - 1, msg, sizeof(msg)), P4_ERR_INVAL);
    assert_int_equal(p4_scan_over(NULL, P4_SEV_HIGH, msg, sizeof(msg)), P4_ERR_INVAL);
    assert_string_equal(msg, "");
}

static void gate_messages(void **state)
{
    struct p4_scan_summary s;
    char msg[512];

    (void)state;
    /* The two sentences the stage's conditions are written from. */
    memset(&s, 0, sizeof(s));
    s.format = "trivy-json";
    s.counts[P4_SEV_CRITICAL] = 1;
    s.counts[P4_SEV_HIGH] = 1;
    s.counts[P4_SEV_MEDIUM] = 2;
    s.total = 4;
    s.nworst = 4;
    (void)snprintf(s.worst[0].id, sizeof(s.worst[0].id), "CVE-2023-0001");
    (void)snprintf(s.worst[0].package, sizeof(s.worst[0].package), "openssl");
    (void)snprintf(s.worst[0].installed, sizeof(s.worst[0].installed), "3.0.1");
    (void)snprintf(s.worst[0].fixed, sizeof(s.worst[0].fixed), "3.0.2");
    s.worst[0].severity = P4_SEV_CRITICAL;
    (void)snprintf(s.worst[1].id, sizeof(s.worst[1].id), "CVE-2023-0002");
    (void)snprintf(s.worst[1].package, sizeof(s.worst[1].package), "zlib");
    (void)snprintf(s.worst[1].installed, sizeof(s.worst[1].installed), "1.2.11");
    s.worst[1].severity = P4_SEV_HIGH;
    (void)snprintf(s.worst[2].id, sizeof(s.worst[2].id), "CVE-2023-0003");
    s.worst[2].severity = P4_SEV_MEDIUM;
    s.worst[3].severity = P4_SEV_MEDIUM;
    assert_int_equal(p4_scan_over(&s, P4_SEV_HIGH, msg, sizeof(msg)), 2);
    assert_string_equal(msg, "2 vulnerabilities at or above HIGH (1 CRITICAL, 1 HIGH): "
                             "CVE-2023-0001 in openssl 3.0.1 (CRITICAL, fixed in 3.0.2), "
                             "CVE-2023-0002 in zlib 1.2.11 (HIGH, no fix yet)");
    /* Without a package or a version, those parts are left out. */
    assert_int_equal(p4_scan_over(&s, P4_SEV_MEDIUM, msg, sizeof(msg)), 4);
    assert_string_equal(msg, "4 vulnerabilities at or above MEDIUM (1 CRITICAL, 1 HIGH, 2 "
                             "MEDIUM): CVE-2023-0001 in openssl 3.0.1 (CRITICAL, fixed in "
                             "3.0.2), CVE-2023-0002 in zlib 1.2.11 (HIGH, no fix yet), "
                             "CVE-2023-0003 (MEDIUM, no fix yet), a finding without an id "
                             "(MEDIUM, no fix yet)");

    memset(&s, 0, sizeof(s));
    s.counts[P4_SEV_MEDIUM] = 2;
    s.counts[P4_SEV_LOW] = 1;
    s.total = 3;
    assert_int_equal(p4_scan_over(&s, P4_SEV_HIGH, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "no vulnerabilities at or above HIGH (3 found: 2 MEDIUM, 1 LOW)");
    s.counts[P4_SEV_UNKNOWN] = 4;
    s.total = 7;
    assert_int_equal(p4_scan_over(&s, P4_SEV_CRITICAL, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "no vulnerabilities at or above CRITICAL (7 found: 2 MEDIUM, 1 "
                             "LOW, 4 UNKNOWN)");
    /* UNKNOWN findings are below LOW. */
    s.counts[P4_SEV_MEDIUM] = 0;
    s.counts[P4_SEV_LOW] = 0;
    s.total = 4;
    assert_int_equal(p4_scan_over(&s, P4_SEV_LOW, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "no vulnerabilities at or above LOW (4 found: 4 UNKNOWN)");
}

static void gate_names_five_and_counts_the_rest(void **state)
{
    static const char report[] =
        "{'SchemaVersion':2,'Results':[{'Target':'t','Vulnerabilities':["
        "{'VulnerabilityID':'CVE-7','PkgName':'p','Severity':'CRITICAL'},"
        "{'VulnerabilityID':'CVE-3','PkgName':'p','Severity':'CRITICAL'},"
        "{'VulnerabilityID':'CVE-6','PkgName':'p','Severity':'CRITICAL'},"
        "{'VulnerabilityID':'CVE-1','PkgName':'q','Severity':'CRITICAL'},"
        "{'VulnerabilityID':'CVE-1','PkgName':'p','Severity':'CRITICAL'},"
        "{'VulnerabilityID':'CVE-5','PkgName':'p','Severity':'CRITICAL'},"
        "{'VulnerabilityID':'CVE-0','PkgName':'p','Severity':'HIGH'},"
        "{'VulnerabilityID':'CVE-2','PkgName':'p','Severity':'CRITICAL'}]}]}";
    struct p4_scan_summary s;
    struct p4_error err;
    char msg[512];

    (void)state;
    assert_int_equal(parse_with(p4_scan_parse_trivy, report, &s, &err), 0);
    assert_counts(&s, 0, 0, 0, 1, 7);
    assert_int_equal(p4_scan_over(&s, P4_SEV_HIGH, msg, sizeof(msg)), 8);
    assert_string_equal(msg, "8 vulnerabilities at or above HIGH (7 CRITICAL, 1 HIGH): CVE-1 in "
                             "p (CRITICAL, no fix yet), CVE-1 in q (CRITICAL, no fix yet), CVE-2 "
                             "in p (CRITICAL, no fix yet), CVE-3 in p (CRITICAL, no fix yet), "
                             "CVE-5 in p (CRITICAL, no fix yet), and 3 more");
}

static void gate_message_truncation(void **state)
{
    struct p4_scan_summary s;
    struct p4_error err;
    char full[1024], buf[1100];
    size_t full_len;

    (void)state;
    assert_int_equal(parse_with(p4_scan_parse, ladder, &s, &err), 0);
    assert_int_equal(p4_scan_over(&s, P4_SEV_LOW, full, sizeof(full)), 4);
    full_len = strlen(full);
    assert_true(full_len > 100);
    for (size_t size = 0; size <= full_len + 2; size++) {
        memset(buf, '#', sizeof(buf));
        assert_int_equal(p4_scan_over(&s, P4_SEV_LOW, buf, size), 4);
        for (size_t i = size; i < sizeof(buf); i++) {
            if (buf[i] != '#')
                fail_msg("size %zu: byte %zu written", size, i);
        }
        if (size == 0)
            continue;
        assert_non_null(memchr(buf, '\0', size));
        if (size > full_len) {
            assert_string_equal(buf, full);
        } else {
            assert_int_equal(strlen(buf), size - 1);
            if (size >= 4) {
                assert_memory_equal(buf, full, size - 4);
                assert_string_equal(buf + size - 4, "...");
            } else {
                assert_memory_equal(buf, full, size - 1);
            }
        }
    }
    assert_int_equal(p4_scan_over(&s, P4_SEV_LOW, NULL, 0), 4);
    assert_int_equal(p4_scan_over(&s, P4_SEV_LOW, NULL, 100), 4);
    memset(buf, '#', sizeof(buf));
    assert_int_equal(p4_scan_over(&s, P4_SEV_CRITICAL, buf, 5), 1);
    assert_string_equal(buf, "1...");
    assert_int_equal(p4_scan_over(&s, P4_SEV_CRITICAL, buf, 1), 1);
    assert_string_equal(buf, "");
}

static void strings_are_cut_and_cleaned(void **state)
{
    char report[16384], id[5001], pkg[1001], cut_id[64], cut_pkg[128];
    struct p4_scan_summary s;
    struct p4_error err;

    (void)state;
    memset(id, 'A', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    memset(pkg, 'p', sizeof(pkg) - 1);
    pkg[sizeof(pkg) - 1] = '\0';
    (void)snprintf(report, sizeof(report),
                   "{'SchemaVersion':2,'Results':[{'Target':'t','Vulnerabilities':["
                   "{'VulnerabilityID':'%s','PkgName':'%s','InstalledVersion':'1',"
                   "'Severity':'CRITICAL'},"
                   "{'VulnerabilityID':'CVE-1\\n\\u001b[31mX\\t','PkgName':'caf\\u00e9\\u007f',"
                   "'InstalledVersion':'1\\r\\n2','FixedVersion':'\\u2028','Severity':'HIGH'},"
                   "{'VulnerabilityID':'CVE-2\\u0000hidden','PkgName':'\\\\ and \\\" stay',"
                   "'Severity':'HIGH'}]}]}",
                   id, pkg);
    assert_int_equal(parse_with(p4_scan_parse_trivy, report, &s, &err), 0);
    assert_int_equal(s.nworst, 3);
    memset(cut_id, 'A', 60);
    memcpy(cut_id + 60, "...", 4);
    memset(cut_pkg, 'p', 124);
    memcpy(cut_pkg + 124, "...", 4);
    assert_finding(&s.worst[0], cut_id, cut_pkg, "1", "", P4_SEV_CRITICAL);
    assert_finding(&s.worst[1], "CVE-1??[31mX?", "caf???", "1??2", "???", P4_SEV_HIGH);
    /* cJSON ends a string at an escaped NUL. */
    assert_finding(&s.worst[2], "CVE-2", "\\ and \" stay", "", "", P4_SEV_HIGH);
}

static void check_bad(parse_fn fn, const char *text, int code, const char *message)
{
    struct p4_scan_summary s;
    struct p4_error err;

    memset(&s, 0xff, sizeof(s));
    memset(&err, 0, sizeof(err));
    if (parse_with(fn, text, &s, &err) != code)
        fail_msg("%s: got \"%s\"", text, err.message);
    assert_int_equal(err.code, code);
    assert_string_equal(err.message, message);
    assert_zeroed(&s);
}

static void bad_reports(void **state)
{
    (void)state;
    check_bad(p4_scan_parse, "", P4_ERR_PARSE,
              "the scan report is not Trivy JSON or SARIF: empty JSON document");
    check_bad(p4_scan_parse, " \n\t", P4_ERR_PARSE,
              "the scan report is not Trivy JSON or SARIF: empty JSON document");
    check_bad(p4_scan_parse, "not json", P4_ERR_PARSE,
              "the scan report is not Trivy JSON or SARIF: invalid JSON at byte 0 (line 1, "
              "column 1)");
    check_bad(p4_scan_parse, "{'SchemaVersion':2}x", P4_ERR_PARSE,
              "the scan report is not Trivy JSON or SARIF: unexpected data after the JSON value "
              "at byte 19 (line 1, column 20)");
    check_bad(p4_scan_parse_trivy, "{'SchemaVersion':2,", P4_ERR_PARSE,
              "the scan report is not Trivy JSON: invalid JSON at byte 18 (line 1, column 19)");
    check_bad(p4_scan_parse, "[{'Target':'old trivy','Vulnerabilities':[]}]", P4_ERR_PARSE,
              "the scan report is not Trivy JSON or SARIF: it is an array, not a JSON object");
    check_bad(p4_scan_parse_sarif, "'runs'", P4_ERR_PARSE,
              "the scan report is not SARIF: it is a string, not a JSON object");
    check_bad(p4_scan_parse, "42", P4_ERR_PARSE,
              "the scan report is not Trivy JSON or SARIF: it is a number, not a JSON object");
    check_bad(p4_scan_parse, "null", P4_ERR_PARSE,
              "the scan report is not Trivy JSON or SARIF: it is null, not a JSON object");
    check_bad(p4_scan_parse, "{}", P4_ERR_PARSE,
              "the scan report is not Trivy JSON or SARIF: it has neither a runs array (SARIF) "
              "nor SchemaVersion or Results (Trivy JSON)");
    check_bad(p4_scan_parse, "{'runs':{}}", P4_ERR_PARSE,
              "the scan report is not Trivy JSON or SARIF: it has neither a runs array (SARIF) "
              "nor SchemaVersion or Results (Trivy JSON)");

    /* Trivy JSON of the wrong shape. */
    check_bad(p4_scan_parse, "{'SchemaVersion':1,'Results':[]}", P4_ERR_PARSE,
              "Trivy JSON schema version 1 is not supported, only 2 (written by trivy 0.20 and "
              "later)");
    check_bad(p4_scan_parse, "{'SchemaVersion':'2'}", P4_ERR_PARSE,
              "the scan report is not Trivy JSON: SchemaVersion is not a whole number");
    check_bad(p4_scan_parse, "{'SchemaVersion':2.5}", P4_ERR_PARSE,
              "the scan report is not Trivy JSON: SchemaVersion is not a whole number");
    check_bad(p4_scan_parse, "{'SchemaVersion':null}", P4_ERR_PARSE,
              "the scan report is not Trivy JSON: SchemaVersion is not a whole number");
    check_bad(p4_scan_parse, "{'SchemaVersion':2,'Results':{}}", P4_ERR_PARSE,
              "the scan report is not Trivy JSON: Results is not an array");
    check_bad(p4_scan_parse, "{'SchemaVersion':2,'Results':[{},1]}", P4_ERR_PARSE,
              "the scan report is not Trivy JSON: Results[1] is not an object");
    check_bad(p4_scan_parse, "{'SchemaVersion':2,'Results':[{'Vulnerabilities':'none'}]}",
              P4_ERR_PARSE,
              "the scan report is not Trivy JSON: Results[0].Vulnerabilities is not an array");
    check_bad(p4_scan_parse, "{'SchemaVersion':2,'Results':[{'Vulnerabilities':[{},[]]}]}",
              P4_ERR_PARSE,
              "the scan report is not Trivy JSON: Results[0].Vulnerabilities[1] is not an "
              "object");
    check_bad(p4_scan_parse,
              "{'SchemaVersion':2,'Results':[{},{'Vulnerabilities':[{'VulnerabilityID':1}]}]}",
              P4_ERR_PARSE,
              "the scan report is not Trivy JSON: Results[1].Vulnerabilities[0].VulnerabilityID "
              "is not a string");
    check_bad(p4_scan_parse,
              "{'SchemaVersion':2,'Results':[{'Vulnerabilities':[{'Severity':true}]}]}",
              P4_ERR_PARSE,
              "the scan report is not Trivy JSON: Results[0].Vulnerabilities[0].Severity is not "
              "a string");
    check_bad(p4_scan_parse_trivy, "{'Results':[{'Vulnerabilities':[{'FixedVersion':{'v':'1'}}]}]}",
              P4_ERR_PARSE,
              "the scan report is not Trivy JSON: Results[0].Vulnerabilities[0].FixedVersion is "
              "not a string");

    /* SARIF of the wrong shape. */
    check_bad(p4_scan_parse_sarif, "{'runs':{}}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs is not an array");
    check_bad(p4_scan_parse, "{'runs':[5]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0] is not an object");
    check_bad(p4_scan_parse, "{'runs':[{'tool':[]}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].tool is not an object");
    check_bad(p4_scan_parse, "{'runs':[{'tool':{'driver':{'rules':{}}}}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].tool.driver.rules is not an array");
    check_bad(p4_scan_parse, "{'runs':[{'tool':{'driver':{'rules':[{},'CVE-1']}}}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].tool.driver.rules[1] is not an object");
    check_bad(p4_scan_parse, "{'runs':[{'tool':{'driver':{'rules':[{'id':3}]}}}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].tool.driver.rules[0].id is not a string");
    check_bad(p4_scan_parse,
              "{'runs':[{'tool':{'driver':{'rules':[{'properties':{'tags':['a',1]}}]}}}]}",
              P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].tool.driver.rules[0].properties.tags[1] is "
              "not a string");
    check_bad(p4_scan_parse,
              "{'runs':[{'tool':{'driver':{'rules':[{'defaultConfiguration':{'level':2}}]}}}]}",
              P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].tool.driver.rules[0].defaultConfiguration."
              "level is not a string");
    check_bad(p4_scan_parse, "{'runs':[{},{'results':'x'}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[1].results is not an array");
    check_bad(p4_scan_parse, "{'runs':[{'results':[{},null]}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].results[1] is not an object");
    check_bad(p4_scan_parse, "{'runs':[{'results':[{'ruleId':['CVE-1']}]}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].results[0].ruleId is not a string");
    check_bad(p4_scan_parse, "{'runs':[{'results':[{'message':'Package: a'}]}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].results[0].message is not an object");
    check_bad(p4_scan_parse, "{'runs':[{'results':[{'message':{'text':1}}]}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].results[0].message.text is not a string");
    check_bad(p4_scan_parse, "{'runs':[{'results':[{'ruleIndex':'0'}]}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].results[0].ruleIndex is not a whole number");
    check_bad(p4_scan_parse, "{'runs':[{'results':[{'ruleIndex':0.5}]}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].results[0].ruleIndex is not a whole number");
    check_bad(p4_scan_parse, "{'runs':[{'results':[{'level':false}]}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].results[0].level is not a string");
    check_bad(p4_scan_parse, "{'runs':[{'results':[{'kind':{}}]}]}", P4_ERR_PARSE,
              "the scan report is not SARIF: runs[0].results[0].kind is not a string");
}

static void bad_arguments_and_limits(void **state)
{
    static const char small[] = "{}";
    struct p4_scan_summary s;
    struct p4_error err;
    size_t n, len;
    char *big;

    (void)state;
    memset(&s, 0xff, sizeof(s));
    assert_int_equal(p4_scan_parse(NULL, 0, &s, &err), P4_ERR_INVAL);
    assert_string_equal(err.message, "no scan report to read");
    assert_zeroed(&s);
    assert_int_equal(p4_scan_parse(small, 2, NULL, &err), P4_ERR_INVAL);
    assert_int_equal(p4_scan_parse_trivy(small, 2, NULL, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_scan_parse_sarif(NULL, 0, &s, NULL), P4_ERR_INVAL);

    /* Lengths are checked before a byte is read. */
    memset(&s, 0xff, sizeof(s));
    assert_int_equal(p4_scan_parse(small, P4_SCAN_REPORT_MAX + 1, &s, &err), P4_ERR_TOOBIG);
    assert_string_equal(err.message, "the scan report of 16777217 bytes exceeds the "
                                     "16777216-byte limit");
    assert_zeroed(&s);
    assert_int_equal(p4_scan_parse_sarif(small, SIZE_MAX, &s, &err), P4_ERR_TOOBIG);

    /* Two million tiny values would cost a tree some 40 times the body. */
    len = 2 * (size_t)P4_SCAN_VALUES_MAX + 64;
    big = malloc(len);
    assert_non_null(big);
    n = (size_t)snprintf(big, len, "{\"Results\":[");
    for (int i = 0; i < P4_SCAN_VALUES_MAX; i++) {
        big[n++] = '0';
        big[n++] = ',';
    }
    big[n++] = '0';
    big[n++] = ']';
    big[n++] = '}';
    assert_int_equal(p4_scan_parse(big, n, &s, &err), P4_ERR_TOOBIG);
    assert_string_equal(err.message, "the scan report holds more than 2000000 JSON values");
    /* Commas inside strings are not values. */
    n = (size_t)snprintf(big, len, "{\"Results\":[],\"x\":\"");
    memset(big + n, ',', 3 * (size_t)P4_SCAN_VALUES_MAX / 2);
    n += 3 * (size_t)P4_SCAN_VALUES_MAX / 2;
    n += (size_t)snprintf(big + n, len - n, "\\\"\"}");
    assert_int_equal(p4_scan_parse(big, n, &s, &err), 0);
    assert_counts(&s, 0, 0, 0, 0, 0);
    free(big);
}

/* A Trivy report listing n copies of one finding. */
static char *many_findings(size_t n, size_t *len)
{
    static const char head[] = "{\"SchemaVersion\":2,\"Results\":[{\"Vulnerabilities\":[";
    static const char one[] = "{\"VulnerabilityID\":\"CVE-1\",\"Severity\":\"HIGH\"},";
    size_t size = sizeof(head) + n * (sizeof(one) - 1) + 8, at;
    char *out = malloc(size);

    assert_non_null(out);
    memcpy(out, head, sizeof(head) - 1);
    at = sizeof(head) - 1;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + at, one, sizeof(one) - 1);
        at += sizeof(one) - 1;
    }
    at--; /* the last comma */
    *len = at + (size_t)snprintf(out + at, size - at, "]}]}");
    return out;
}

static void findings_are_capped(void **state)
{
    struct p4_scan_summary s;
    struct p4_error err;
    size_t len;
    char *body;

    (void)state;
    body = many_findings(P4_SCAN_FINDINGS_MAX, &len);
    assert_int_equal(p4_scan_parse(body, len, &s, &err), 0);
    assert_counts(&s, 0, 0, 0, 1, 0);
    assert_int_equal(s.nworst, 1);
    assert_finding(&s.worst[0], "CVE-1", "", "", "", P4_SEV_HIGH);
    free(body);

    body = many_findings(P4_SCAN_FINDINGS_MAX + 1, &len);
    memset(&s, 0xff, sizeof(s));
    assert_int_equal(p4_scan_parse(body, len, &s, &err), P4_ERR_TOOBIG);
    assert_string_equal(err.message, "the scan report lists more than 100000 vulnerabilities, "
                                     "more than the gate reads; scan a smaller image or filter "
                                     "the report by severity");
    assert_zeroed(&s);
    free(body);
}

static void deep_nesting_and_wrong_types_do_not_crash(void **state)
{
    static const char *const values[] = {"1", "'s'", "null", "true", "[]", "{}", "[{}]", "-0"};
    static const char *const templates[] = {
        "{'SchemaVersion':2,'Results':[{'Vulnerabilities':[{'VulnerabilityID':@,'PkgName':@,"
        "'Severity':@}]}]}",
        "{'SchemaVersion':2,'Results':@}",
        "{'runs':[{'tool':{'driver':{'rules':[{'id':@,'properties':{'tags':@,"
        "'security-severity':@}}]}},'results':[{'ruleId':@,'ruleIndex':@,'message':{'text':@}}"
        "]}]}",
        "{'runs':[{'tool':@,'results':@}]}",
    };
    char text[1024], deep[4096];
    struct p4_scan_summary s;
    struct p4_error err;
    size_t n = 0;

    (void)state;
    for (size_t t = 0; t < sizeof(templates) / sizeof(templates[0]); t++) {
        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
            size_t at = 0;

            for (const char *p = templates[t]; *p != '\0'; p++) {
                if (*p == '@') {
                    memcpy(text + at, values[v], strlen(values[v]));
                    at += strlen(values[v]);
                } else {
                    text[at++] = *p;
                }
            }
            text[at] = '\0';
            int rc = parse_with(p4_scan_parse, text, &s, &err);

            if (rc != 0 && rc != P4_ERR_PARSE)
                fail_msg("%s: %d", text, rc);
            if (rc == 0 && (s.total > 1 || s.nworst > 1))
                fail_msg("%s: %d findings", text, s.total);
        }
    }
    /* cJSON refuses nesting past 1000 levels rather than recursing without bound. */
    for (int i = 0; i < 1500; i++)
        deep[n++] = '[';
    for (int i = 0; i < 1500; i++)
        deep[n++] = ']';
    assert_int_equal(p4_scan_parse(deep, n, &s, &err), P4_ERR_PARSE);
    assert_int_equal(p4_scan_parse_sarif(deep, n, &s, &err), P4_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(severities),
        cmocka_unit_test(trivy_json),
        cmocka_unit_test(duplicates_keep_the_highest_severity),
        cmocka_unit_test(trivy_json_without_findings),
        cmocka_unit_test(trivy_sarif),
        cmocka_unit_test(sarif_severity_sources),
        cmocka_unit_test(sarif_rules_by_index_and_id),
        cmocka_unit_test(trivy_operator_report),
        cmocka_unit_test(trivy_operator_summary_counts_the_unlisted),
        cmocka_unit_test(bad_trivy_operator_reports),
        cmocka_unit_test(matching_by_digest),
        cmocka_unit_test(gate_at_each_threshold),
        cmocka_unit_test(gate_messages),
        cmocka_unit_test(gate_names_five_and_counts_the_rest),
        cmocka_unit_test(gate_message_truncation),
        cmocka_unit_test(strings_are_cut_and_cleaned),
        cmocka_unit_test(bad_reports),
        cmocka_unit_test(bad_arguments_and_limits),
        cmocka_unit_test(findings_are_capped),
        cmocka_unit_test(deep_nesting_and_wrong_types_do_not_crash),
    };
    return cmocka_run_group_tests_name("scanreport", tests, NULL, NULL);
}
