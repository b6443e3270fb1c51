/* diagnose.c: a diagnosis written, its object named, node pressure (see diagnose.h). */
#include "diagnose.h"

#include <stdarg.h>
#include <string.h>

#include "objtext.h"
#include "phase4/core/text.h"

void p4_diagnose_clear(struct p4_diagnosis *out)
{
    memset(out, 0, sizeof(*out));
    out->cls = P4_FAIL_NONE;
}

/* ".." becomes "." and a cut marker followed by a full stop ("....") stays "...". */
static void mend_dots(char *msg)
{
    size_t at = 0, run = 0;

    for (size_t i = 0; msg[i] != '\0'; i++) {
        char c = msg[i];

        run = c == '.' ? run + 1 : 0;
        if (run == 2 && msg[i + 1] != '.')
            continue;
        if (run > 3)
            continue;
        msg[at++] = c;
    }
    msg[at] = '\0';
}

int p4_diagnose_found(struct p4_diagnosis *out, const char *reason, enum p4_failure_class cls,
                      const char *fmt, ...)
{
    va_list ap;

    p4_text_format(out->reason, sizeof(out->reason), "%s", reason);
    out->cls = cls;
    va_start(ap, fmt);
    p4_objtext_vmessage(out->message, sizeof(out->message), reason, fmt, ap);
    va_end(ap);
    mend_dots(out->message);
    return 1;
}

const char *p4_diagnose_who(char *dst, size_t size, const char *kind, const char *ns,
                            const char *name)
{
    char k[P4_DIAGNOSE_KIND_SHOWN], n[P4_DIAGNOSE_NS_SHOWN], nm[P4_DIAGNOSE_NAME_SHOWN];

    p4_objtext_clip(k, sizeof(k), kind);
    p4_objtext_clip(n, sizeof(n), ns);
    p4_objtext_clip(nm, sizeof(nm), name);
    p4_text_format(dst, size, "%s %s%s%s", k[0] != '\0' ? k : "object", n, n[0] != '\0' ? "/" : "",
                   nm[0] != '\0' ? nm : "(unnamed)");
    return dst;
}

int p4_diagnose_node_pressure(struct p4_diagnosis *out, const char *who_, const char *what,
                              const char *words)
{
    char shown[P4_DIAGNOSE_WORDS_SHOWN];

    p4_objtext_clip(shown, sizeof(shown), words);
    return p4_diagnose_found(out, "NodePressure", P4_FAIL_CLUSTER,
                             "%s %s%s%s. The node is short of resources: a person must free or "
                             "add capacity; requests and limits in the chart make its pods the "
                             "last to go.",
                             who_, what, shown[0] != '\0' ? ": " : "", shown);
}

const char *p4_diagnose_static_reason(const char *reason)
{
    static const char *const known[] = {
        "ImagePullBackOff",       "InvalidImageName",
        "ErrImageNeverPull",      "CrashLoopBackOff",
        "Unschedulable",          "QuotaExceeded",
        "QuotaRequiresResources", "Forbidden",
        "AdmissionDenied",        "AdmissionWebhookUnavailable",
        "NamespaceTerminating",   "ProgressDeadlineExceeded",
        "NodePressure",           "ServiceAccountNotFound",
    };

    if (reason == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(reason, known[i]) == 0)
            return known[i];
    }
    return NULL;
}
