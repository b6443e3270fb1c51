/* diagimage.c: an image that cannot be pulled, classified (see diagimage.h). */
#include "diagimage.h"

#include <stdbool.h>
#include <string.h>

#include "objtext.h"

#define IMAGE_SHOWN 200 /* an image reference */

/* Registry errors that waiting cannot fix and that a person fixes on the cluster. */
static const char *const pull_cert[] = {"x509:", "certificate signed by unknown authority",
                                        "failed to verify certificate"};
static const char *const pull_auth[] = {
    "401 Unauthorized",          "403 Forbidden",      "unauthorized:", "authentication required",
    "no basic auth credentials", "failed to authorize"};
/* Registry errors that pass. */
static const char *const pull_transient[] = {
    "i/o timeout",           "connection refused",        "connection reset by peer",
    "TLS handshake timeout", "context deadline exceeded", "toomanyrequests",
    "429 Too Many Requests", "502 Bad Gateway",           "503 Service Unavailable",
    "504 Gateway Timeout",   "registry is unavailable",   "Temporary failure in name resolution",
    "server misbehaving",    "network is unreachable",    "Client.Timeout exceeded"};

static bool has_any(const char *s, const char *const *lits, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p4_objtext_has(s, lits[i]))
            return true;
    }
    return false;
}

#define HAS_ANY(s, lits) has_any((s), (lits), sizeof(lits) / sizeof((lits)[0]))

/* Who must act on a failed pull, from the runtime's error (NULL: unknown), and how. */
static enum p4_failure_class pull_class(const char *err, const char **todo)
{
    if (HAS_ANY(err, pull_cert)) {
        *todo = "The node does not trust the registry's TLS certificate: a person must install "
                "its CA on the nodes.";
        return P4_FAIL_CLUSTER;
    }
    if (HAS_ANY(err, pull_auth)) {
        *todo = "The registry refused the pull without valid credentials: a person must give the "
                "pods an image pull secret for it (imagePullSecrets), or the image reference is "
                "wrong.";
        return P4_FAIL_CLUSTER;
    }
    if (HAS_ANY(err, pull_transient)) {
        *todo = "The registry did not answer or throttled the pull; the kubelet keeps retrying.";
        return P4_FAIL_TRANSIENT;
    }
    if (p4_objtext_has(err, "no match for platform in manifest")) {
        *todo = "The image has no variant for the node's platform: a new (multi-platform) image "
                "is needed.";
        return P4_FAIL_ARTIFACT;
    }
    *todo = "Push the image or correct its reference in the chart: a new image or chart is needed.";
    return P4_FAIL_ARTIFACT;
}

int p4_diagimage_pull(struct p4_diagnosis *out, const char *who_, const char *container,
                      const char *image, size_t n, const char *err, const char *state)
{
    const char *todo = NULL;
    enum p4_failure_class cls = pull_class(err, &todo);
    const char *subject = container[0] != '\0' ? container : "a container";
    char shown[IMAGE_SHOWN], words[P4_DIAGNOSE_WORDS_SHOWN];

    p4_objtext_put(shown, sizeof(shown), image, n);
    if (err != NULL && err[0] != '\0') {
        const char *w = p4_objtext_last_cause(err);

        p4_objtext_put_tail(words, sizeof(words), w, strlen(w));
    } else {
        words[0] = '\0';
    }
    if (shown[0] == '\0')
        return p4_diagnose_found(out, "ImagePullBackOff", cls,
                                 "%s: %s cannot pull its image (%s)%s%s. %s", who_, subject, state,
                                 words[0] != '\0' ? ": " : "", words, todo);
    return p4_diagnose_found(out, "ImagePullBackOff", cls,
                             "%s: %s cannot pull image \"%s\" (%s)%s%s. %s", who_, subject, shown,
                             state, words[0] != '\0' ? ": " : "", words, todo);
}

int p4_diagimage_invalid(struct p4_diagnosis *out, const char *who_, const char *container,
                         const char *image, size_t n)
{
    char shown[IMAGE_SHOWN];

    p4_objtext_put(shown, sizeof(shown), image, n);
    return p4_diagnose_found(out, "InvalidImageName", P4_FAIL_ARTIFACT,
                             "%s: %s has an image reference that is not valid%s%s%s. Correct it "
                             "in the chart: a new chart is needed.",
                             who_, container[0] != '\0' ? container : "a container",
                             shown[0] != '\0' ? " (\"" : "", shown, shown[0] != '\0' ? "\")" : "");
}

int p4_diagimage_never_pull(struct p4_diagnosis *out, const char *who_, const char *container,
                            const char *image, size_t n)
{
    char shown[IMAGE_SHOWN];

    p4_objtext_put(shown, sizeof(shown), image, n);
    return p4_diagnose_found(out, "ErrImageNeverPull", P4_FAIL_ARTIFACT,
                             "%s: %s has imagePullPolicy Never but its image%s%s%s is not on the "
                             "node. Set another pull policy in the chart, or preload the image: a "
                             "new chart is needed.",
                             who_, container[0] != '\0' ? container : "a container",
                             shown[0] != '\0' ? " \"" : "", shown, shown[0] != '\0' ? "\"" : "");
}
