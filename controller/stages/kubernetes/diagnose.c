/* diagnose.c: failures classified from Events, refusals and object status (see diagnose.h). */
#include "diagnose.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

#define KIND_SHOWN 48   /* a kind in a message */
#define NS_SHOWN 64     /* a namespace in a message */
#define NAME_SHOWN 128  /* an object's, container's, quota's or webhook's name */
#define WHO_SIZE 256    /* "ReplicaSet shop/web-6d4cf56db6" */
#define LEAD_SIZE 320   /* "ReplicaSet shop/web-6d4cf56db6 cannot create its pods" */
#define IMAGE_SHOWN 200 /* an image reference */
#define WORDS_SHOWN 320 /* the cluster's own words: the scheduler's, a registry's, a policy's */
#define LIST_SHOWN 128  /* "limits.cpu, limits.memory" */
#define TODO_SIZE 512   /* what to do, one or more sentences */
#define KEY_MAX 256     /* bytes of reason, kind and name that tell warnings apart */
#define COUNT_MAX INT32_MAX

/* ---- text made safe for a message ---- */

/* Outside text in a message: the text.h rule, in printable ASCII. */
#define TEXT_RULE P4_TEXT_ASCII

/*
 * At most n bytes of s (stopping at a NUL; NULL reads as "") made fit for a message into dst of
 * size bytes (at least 4). Returns dst.
 */
static const char *put(char *dst, size_t size, const char *s, size_t n)
{
    (void)p4_text_clean(dst, size, s, s != NULL ? strnlen(s, n) : 0, TEXT_RULE);
    return dst;
}

static const char *clip(char *dst, size_t size, const char *s)
{
    return put(dst, size, s, SIZE_MAX);
}

/* As put(), but a cut keeps the end of the text ("...the end"): the last words matter most. */
static const char *put_tail(char *dst, size_t size, const char *s, size_t n)
{
    size_t len = s != NULL ? strnlen(s, n) : 0;

    if (len <= size - 1)
        return put(dst, size, s, len);
    dst[0] = dst[1] = dst[2] = '.';
    (void)put(dst + 3, size - 3, s + len - (size - 4), size - 4);
    return dst;
}

static bool eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool has(const char *s, const char *lit)
{
    return s != NULL && strstr(s, lit) != NULL;
}

/* Does the span p[0..n) hold lit? */
static bool span_has(const char *p, size_t n, const char *lit)
{
    return memmem(p, n, lit, strlen(lit)) != NULL;
}

/* Just past the first lit in s, or NULL. */
static const char *after(const char *s, const char *lit)
{
    const char *p = s != NULL ? strstr(s, lit) : NULL;

    return p != NULL ? p + strlen(lit) : NULL;
}

/* When *p starts with lit, step past it and say so. */
static bool skip(const char **p, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

/* The bytes of p before the first c (or the end); *next is where that stop is. */
static size_t upto(const char *p, char c, const char **next)
{
    const char *e = strchr(p, c);
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

    if (next != NULL)
        *next = p + n;
    return n;
}

/* The bytes of p before the first lit (or the end). */
static size_t upto_lit(const char *p, const char *lit)
{
    const char *e = strstr(p, lit);

    return e != NULL ? (size_t)(e - p) : strlen(p);
}

/* Into dst through vsnprintf, so cuts that only shorten a message draw no warning. */
__attribute__((format(printf, 3, 4))) static void format(char *dst, size_t size, const char *fmt,
                                                         ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

/* Add a sentence to buf (a space first when it holds one already). */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t size, const char *fmt,
                                                         ...)
{
    size_t n = strlen(buf);
    va_list ap;

    if (n > 0 && n + 1 < size)
        buf[n++] = ' ';
    buf[n] = '\0';
    va_start(ap, fmt);
    (void)vsnprintf(buf + n, size - n, fmt, ap);
    va_end(ap);
}

static void clear(struct p4_diagnosis *out)
{
    memset(out, 0, sizeof(*out));
    out->cls = P4_FAIL_NONE;
}

/*
 * Make a message printable, and mend the dots where quoted text that ends a sentence meets ours:
 * ".." becomes "." and a cut marker followed by a full stop ("....") stays "...".
 */
static void tidy(char *msg)
{
    size_t at = 0, run = 0, len = strlen(msg);

    (void)p4_text_clean(msg, len + 1, msg, len, TEXT_RULE);
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

/* Fill *out; the message is cut to fit ("...") and made printable. Returns 1. */
__attribute__((format(printf, 4, 5))) static int
found(struct p4_diagnosis *out, const char *reason, enum p4_failure_class cls, const char *fmt, ...)
{
    va_list ap;
    int n;

    format(out->reason, sizeof(out->reason), "%s", reason);
    out->cls = cls;
    va_start(ap, fmt);
    n = vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    if (n < 0)
        format(out->message, sizeof(out->message), "%s", reason);
    else if ((size_t)n >= sizeof(out->message))
        memcpy(out->message + sizeof(out->message) - 4, "...", 4);
    tidy(out->message);
    return 1;
}

/* "Pod shop/web-1", "Node worker-1", "object shop/web" */
static const char *who(char *dst, size_t size, const char *kind, const char *ns, const char *name)
{
    char k[KIND_SHOWN], n[NS_SHOWN], nm[NAME_SHOWN];

    clip(k, sizeof(k), kind);
    clip(n, sizeof(n), ns);
    clip(nm, sizeof(nm), name);
    format(dst, size, "%s %s%s%s", k[0] != '\0' ? k : "object", n, n[0] != '\0' ? "/" : "",
           nm[0] != '\0' ? nm : "(unnamed)");
    return dst;
}

/* The first entry of status.conditions of type whose status is want; NULL when none. */
static const cJSON *condition(const cJSON *obj, const char *type, const char *want)
{
    const cJSON *conds = p4_json_get(obj, "status.conditions");

    if (!cJSON_IsArray(conds))
        return NULL;
    for (const cJSON *it = conds->child; it != NULL; it = it->next) {
        if (eq(p4_json_str(it, "type"), type))
            return eq(p4_json_str(it, "status"), want) ? it : NULL;
    }
    return NULL;
}

/* ---- images ---- */

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
        if (has(s, lits[i]))
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
    if (has(err, "no match for platform in manifest")) {
        *todo = "The image has no variant for the node's platform: a new (multi-platform) image "
                "is needed.";
        return P4_FAIL_ARTIFACT;
    }
    *todo = "Push the image or correct its reference in the chart: a new image or chart is needed.";
    return P4_FAIL_ARTIFACT;
}

/*
 * The registry's own words in a runtime error: containerd repeats the image in each layer
 * ('failed to pull and unpack image "i": failed to resolve reference "i": i: not found'), so
 * what follows the last quoted reference is what the registry said.
 */
static const char *registry_words(const char *err)
{
    const char *best = err, *p = err;

    while ((p = strstr(p, "\": ")) != NULL) {
        p += 3;
        if (*p != '\0')
            best = p;
    }
    if (best == err && (p = after(err, " desc = ")) != NULL && has(err, "rpc error: code = "))
        best = p;
    return best;
}

/* "container web" from a fieldPath "spec.containers{web}", or "" when it names none. */
static const char *container_of(char *dst, size_t size, const char *field_path)
{
    const char *open = field_path != NULL ? strchr(field_path, '{') : NULL;
    char name[NAME_SHOWN];
    size_t n;

    dst[0] = '\0';
    if (open == NULL)
        return dst;
    n = upto(open + 1, '}', NULL);
    put(name, sizeof(name), open + 1, n);
    if (name[0] != '\0')
        format(dst, size, "%scontainer %s", has(field_path, "initContainers") ? "init " : "", name);
    return dst;
}

/*
 * An image that cannot be pulled. container: "container web" or ""; image: the reference (n
 * bytes; n 0 when unknown); err: the runtime's error or NULL; state: what the kubelet calls it.
 */
static int image_pull(struct p4_diagnosis *out, const char *who_, const char *container,
                      const char *image, size_t n, const char *err, const char *state)
{
    const char *todo = NULL;
    enum p4_failure_class cls = pull_class(err, &todo);
    const char *subject = container[0] != '\0' ? container : "a container";
    char shown[IMAGE_SHOWN], words[WORDS_SHOWN];

    put(shown, sizeof(shown), image, n);
    if (err != NULL && err[0] != '\0') {
        const char *w = registry_words(err);

        put_tail(words, sizeof(words), w, strlen(w));
    } else {
        words[0] = '\0';
    }
    if (shown[0] == '\0')
        return found(out, "ImagePullBackOff", cls, "%s: %s cannot pull its image (%s)%s%s. %s",
                     who_, subject, state, words[0] != '\0' ? ": " : "", words, todo);
    return found(out, "ImagePullBackOff", cls, "%s: %s cannot pull image \"%s\" (%s)%s%s. %s", who_,
                 subject, shown, state, words[0] != '\0' ? ": " : "", words, todo);
}

static int invalid_image(struct p4_diagnosis *out, const char *who_, const char *container,
                         const char *image, size_t n)
{
    char shown[IMAGE_SHOWN];

    put(shown, sizeof(shown), image, n);
    return found(out, "InvalidImageName", P4_FAIL_ARTIFACT,
                 "%s: %s has an image reference that is not valid%s%s%s. Correct it in the "
                 "chart: a new chart is needed.",
                 who_, container[0] != '\0' ? container : "a container",
                 shown[0] != '\0' ? " (\"" : "", shown, shown[0] != '\0' ? "\")" : "");
}

static int never_pull(struct p4_diagnosis *out, const char *who_, const char *container,
                      const char *image, size_t n)
{
    char shown[IMAGE_SHOWN];

    put(shown, sizeof(shown), image, n);
    return found(out, "ErrImageNeverPull", P4_FAIL_ARTIFACT,
                 "%s: %s has imagePullPolicy Never but its image%s%s%s is not on the node. Set "
                 "another pull policy in the chart, or preload the image: a new chart is needed.",
                 who_, container[0] != '\0' ? container : "a container",
                 shown[0] != '\0' ? " \"" : "", shown, shown[0] != '\0' ? "\"" : "");
}

/* ---- scheduling ---- */

struct sched {
    bool insufficient, taint, selector, pvc, no_nodes, other;
    char resources[LIST_SHOWN]; /* "cpu, memory" */
};

/* Add the n bytes at p to a ", "-separated list, once. */
static void list_add(char *list, size_t size, const char *p, size_t n)
{
    char item[NAME_SHOWN];
    size_t len = strlen(list), at = 0;

    put(item, sizeof(item), p, n);
    if (item[0] == '\0')
        return;
    /* Already listed? Items are short, the list is bounded: this stays cheap. */
    while (at < len) {
        size_t end = at;

        while (end < len && list[end] != ',')
            end++;
        if (end - at == strlen(item) && strncmp(list + at, item, end - at) == 0)
            return;
        at = end + 2;
    }
    if (len + strlen(item) + 3 > size)
        return;
    format(list + len, size - len, "%s%s", len > 0 ? ", " : "", item);
}

/* One "<count> <why>" of the scheduler's list. */
static void sched_item(struct sched *s, const char *p, size_t n)
{
    const char *insufficient = memmem(p, n, "Insufficient ", 13);

    if (insufficient != NULL) {
        const char *r = insufficient + 13;

        s->insufficient = true;
        list_add(s->resources, sizeof(s->resources), r, n - (size_t)(r - p));
    } else if (span_has(p, n, "Too many pods")) {
        s->insufficient = true;
        list_add(s->resources, sizeof(s->resources), "pods", 4);
    } else if (span_has(p, n, "taint")) {
        /* Control-plane nodes are tainted on purpose: they say nothing about the workload. */
        if (!span_has(p, n, "node-role.kubernetes.io/control-plane") &&
            !span_has(p, n, "node-role.kubernetes.io/master"))
            s->taint = true;
    } else if (span_has(p, n, "node affinity/selector") || span_has(p, n, "node selector")) {
        s->selector = true;
    } else if (span_has(p, n, "PersistentVolumeClaim")) {
        s->pvc = true;
    } else {
        s->other = true;
    }
}

/*
 * The scheduler's message: "0/3 nodes are available: 1 node(s) had untolerated taint {k: v},
 * 2 Insufficient cpu. preemption: ...". Items run to ", " followed by a digit; text that does not
 * start with one continues the item before (the older "had taint {k: v}, that the pod didn't
 * tolerate").
 */
static void sched_read(struct sched *s, const char *msg, size_t end)
{
    const char *list = after(msg, "nodes are available: ");
    size_t n, start = 0;

    if (has(msg, "no nodes available") || strncmp(msg, "0/0 nodes", 9) == 0)
        s->no_nodes = true;
    if (has(msg, "unbound immediate PersistentVolumeClaims") || has(msg, "persistentvolumeclaim"))
        s->pvc = true;
    if (list == NULL || (size_t)(list - msg) > end) {
        if (!s->no_nodes && !s->pvc)
            s->other = true;
        return;
    }
    n = end - (size_t)(list - msg);
    for (size_t i = 0; i <= n; i++) {
        bool stop = i == n || (list[i] == ',' && i + 2 < n && list[i + 1] == ' ' &&
                               list[i + 2] >= '0' && list[i + 2] <= '9');

        if (!stop)
            continue;
        if (list[start] >= '0' && list[start] <= '9')
            sched_item(s, list + start, i - start);
        start = i + 2;
    }
}

static int unschedulable(struct p4_diagnosis *out, const char *who_, const char *msg)
{
    struct sched s = {0};
    size_t end = upto_lit(msg, " preemption:");
    char words[WORDS_SHOWN], todo[TODO_SIZE] = "";
    bool only_selector;

    while (end > 0 && (msg[end - 1] == '.' || msg[end - 1] == ' '))
        end--;
    sched_read(&s, msg, end);
    only_selector = s.selector && !s.insufficient && !s.taint && !s.pvc && !s.no_nodes && !s.other;
    if (s.no_nodes)
        append(todo, sizeof(todo), "The cluster has no node to run it: a person must add nodes.");
    if (s.insufficient)
        append(todo, sizeof(todo),
               "The nodes lack free %s: a person must add capacity, or the chart must request "
               "less.",
               s.resources);
    if (s.taint)
        append(todo, sizeof(todo),
               "Nodes carry taints it does not tolerate: a person must provide untainted nodes, "
               "or the chart must add tolerations.");
    if (s.pvc)
        append(todo, sizeof(todo),
               "A PersistentVolumeClaim it mounts is not bound: a person must check its "
               "StorageClass and provisioner.");
    if (only_selector)
        append(todo, sizeof(todo),
               "No node has the labels its nodeSelector or node affinity asks for: correct them "
               "in the chart (a new chart is needed), or label nodes.");
    else if (s.selector)
        append(todo, sizeof(todo),
               "The other nodes lack the labels its nodeSelector or node affinity asks for.");
    if (s.other || todo[0] == '\0')
        append(todo, sizeof(todo),
               "A person must add capacity, or the chart must relax its scheduling constraints.");
    put(words, sizeof(words), msg, end);
    return found(out, "Unschedulable", only_selector ? P4_FAIL_ARTIFACT : P4_FAIL_CLUSTER,
                 "%s cannot be scheduled%s%s. %s", who_, words[0] != '\0' ? ": " : "", words, todo);
}

/* ---- refusals: quota, admission, RBAC ---- */

static const char *const policy_todo =
    "A person must change the policy or grant an exception, or the chart must comply with it.";

/* "exceeded quota: q, requested: services=1, used: services=0, limited: services=0" */
static int quota_exceeded(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char name[NAME_SHOWN], resources[LIST_SHOWN] = "", req[LIST_SHOWN], used[LIST_SHOWN],
                           lim[LIST_SHOWN];
    const char *r = after(p, ", requested: ");
    const char *u = r != NULL ? after(r, ", used: ") : NULL;
    const char *l = u != NULL ? after(u, ", limited: ") : NULL;
    size_t rn = r != NULL ? upto_lit(r, ", used: ") : 0;

    put(name, sizeof(name), p, upto(p, ',', NULL));
    put(req, sizeof(req), r, rn);
    put(used, sizeof(used), u, u != NULL ? upto_lit(u, ", limited: ") : 0);
    put(lim, sizeof(lim), l, l != NULL ? strlen(l) : 0);
    /* The resources are the keys of the requested list: "limits.cpu=500m,limits.memory=1Gi". */
    for (size_t i = 0, start = 0; r != NULL && i <= rn; i++) {
        const char *is;

        if (i < rn && r[i] != ',')
            continue;
        is = memchr(r + start, '=', i - start);
        list_add(resources, sizeof(resources), r + start,
                 is != NULL ? (size_t)(is - (r + start)) : i - start);
        start = i + 1;
    }
    return found(out, "QuotaExceeded", P4_FAIL_CLUSTER,
                 "%s: ResourceQuota %s does not allow more %s (requested %s, used %s, limited %s). "
                 "A person must raise the quota, or the chart must ask for less.",
                 lead, name[0] != '\0' ? name : "(unnamed)",
                 resources[0] != '\0' ? resources : "resources", req[0] != '\0' ? req : "?",
                 used[0] != '\0' ? used : "?", lim[0] != '\0' ? lim : "?");
}

/* "failed quota: q: must specify limits.cpu for: web; limits.memory for: web" */
static int quota_requires(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char name[NAME_SHOWN], what[WORDS_SHOWN];
    const char *m = after(p, "must specify ");

    put(name, sizeof(name), p, upto(p, ':', NULL));
    clip(what, sizeof(what), m != NULL ? m : "");
    return found(out, "QuotaRequiresResources", P4_FAIL_ARTIFACT,
                 "%s: ResourceQuota %s requires every container to set %s. Set them in the chart "
                 "(a new chart is needed), or a person adds a LimitRange that defaults them.",
                 lead, name[0] != '\0' ? name : "(unnamed)",
                 what[0] != '\0' ? what : "its resource requests and limits");
}

/* 'admission webhook "w" denied the request: text' or '... denied the request without ...' */
static int webhook_denied(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char name[NAME_SHOWN], words[WORDS_SHOWN];
    const char *rest;
    size_t n = upto(p, '"', &rest);

    put(name, sizeof(name), p, n);
    if (*rest == '"')
        rest++;
    if (!skip(&rest, " denied the request") || !skip(&rest, ":"))
        rest = "";
    clip(words, sizeof(words), rest);
    return found(out, "AdmissionDenied", P4_FAIL_CLUSTER,
                 "%s: admission webhook \"%s\" denied it%s%s. %s", lead, name,
                 words[0] != '\0' ? ": " : " without explanation", words, policy_todo);
}

/* "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: text" */
static int policy_denied(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char policy[NAME_SHOWN], binding[NAME_SHOWN] = "", words[WORDS_SHOWN];
    const char *rest, *b, *text;

    put(policy, sizeof(policy), p, upto(p, '\'', &rest));
    b = after(rest, "with binding '");
    if (b != NULL)
        put(binding, sizeof(binding), b, upto(b, '\'', NULL));
    text = after(rest, "denied request: ");
    clip(words, sizeof(words), text != NULL ? text : "");
    return found(out, "AdmissionDenied", P4_FAIL_CLUSTER,
                 "%s: ValidatingAdmissionPolicy '%s'%s%s%s denied it%s%s. %s", lead, policy,
                 binding[0] != '\0' ? " (binding '" : "", binding, binding[0] != '\0' ? "')" : "",
                 words[0] != '\0' ? ": " : "", words, policy_todo);
}

/* 'violates PodSecurity "restricted:latest": details' */
static int pod_security(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char level[NAME_SHOWN], words[WORDS_SHOWN];
    const char *rest;

    put(level, sizeof(level), p, upto(p, '"', &rest));
    if (!skip(&rest, "\": "))
        rest = "";
    clip(words, sizeof(words), rest);
    return found(out, "AdmissionDenied", P4_FAIL_CLUSTER,
                 "%s: it violates the namespace's Pod Security level \"%s\"%s%s. The chart must "
                 "comply (securityContext), or a person must relax the namespace's "
                 "pod-security.kubernetes.io/enforce label.",
                 lead, level, words[0] != '\0' ? ": " : "", words);
}

/* 'failed calling webhook "w": failed to call webhook: Post "https://...": dial tcp ...' */
static int webhook_unavailable(struct p4_diagnosis *out, const char *lead, const char *p)
{
    char name[NAME_SHOWN], words[WORDS_SHOWN];
    const char *rest, *tail;
    bool broken;

    put(name, sizeof(name), p, upto(p, '"', &rest));
    if (!skip(&rest, "\": "))
        rest = "";
    /* A missing service or an untrusted certificate will not heal by waiting. */
    broken = has(rest, "x509:") || has(rest, "not found") || has(rest, "could not find");
    tail = registry_words(rest);
    put_tail(words, sizeof(words), tail, strlen(tail));
    return found(out, "AdmissionWebhookUnavailable", broken ? P4_FAIL_CLUSTER : P4_FAIL_TRANSIENT,
                 "%s: admission webhook \"%s\" could not be called%s%s. %s", lead, name,
                 words[0] != '\0' ? ": " : "", words,
                 broken ? "A person must repair the webhook's service or its configuration."
                        : "It is retried; if this lasts, a person must repair the webhook's "
                          "service.");
}

/* Whom a grant goes to: "ServiceAccount phase4-system/phase4-operator" or "user alice". */
static const char *subject_of(char *dst, size_t size, const char *user, size_t n)
{
    static const char sa[] = "system:serviceaccount:";
    char shown[NAME_SHOWN];

    if (n > sizeof(sa) - 1 && strncmp(user, sa, sizeof(sa) - 1) == 0) {
        const char *ns = user + sizeof(sa) - 1;
        size_t nn = n - (sizeof(sa) - 1);
        const char *colon = memchr(ns, ':', nn);

        if (colon != NULL) {
            char shown_ns[NS_SHOWN];

            put(shown_ns, sizeof(shown_ns), ns, (size_t)(colon - ns));
            put(shown, sizeof(shown), colon + 1, nn - (size_t)(colon - ns) - 1);
            format(dst, size, "ServiceAccount %s/%s", shown_ns, shown);
            return dst;
        }
    }
    format(dst, size, "user %s", put(shown, sizeof(shown), user, n));
    return dst;
}

/*
 * 'User "u" cannot patch resource "deployments" in API group "apps" in the namespace "shop"'
 * or '... at the cluster scope'. p is just past 'User "'.
 */
static int rbac_forbidden(struct p4_diagnosis *out, const char *lead, const char *p,
                          const char *identity, const char *whole)
{
    char verb[NAME_SHOWN], resource[NAME_SHOWN], group[NAME_SHOWN], ns[NS_SHOWN],
        target[NAME_SHOWN + NS_SHOWN + 24], actor[2 * NAME_SHOWN + NS_SHOWN + 48],
        words[WORDS_SHOWN];
    const char *user = p, *q;
    size_t user_n = upto(p, '"', &q), n;
    bool ours =
        identity != NULL && strlen(identity) == user_n && strncmp(identity, user, user_n) == 0;
    bool cluster;

    subject_of(target, sizeof(target), user, user_n);
    if (ours)
        format(actor, sizeof(actor), "the operator's %s", target);
    else
        format(actor, sizeof(actor), "%s", target);
    if (!skip(&q, "\" cannot ")) {
        clip(words, sizeof(words), whole);
        return found(out, "Forbidden", P4_FAIL_CLUSTER,
                     "%s: %s. A person must grant %s the permission it lacks.", lead, words, actor);
    }
    n = upto(q, ' ', NULL);
    put(verb, sizeof(verb), q, n);
    q += n;
    if (!skip(&q, " resource \"")) {
        clip(words, sizeof(words), whole);
        return found(out, "Forbidden", P4_FAIL_CLUSTER,
                     "%s: %s may not %s: %s. A person must grant it the permission.", lead, actor,
                     verb, words);
    }
    n = upto(q, '"', NULL);
    put(resource, sizeof(resource), q, n);
    q += n;
    group[0] = ns[0] = '\0';
    if (skip(&q, "\" in API group \"")) {
        n = upto(q, '"', NULL);
        put(group, sizeof(group), q, n);
        q += n;
    }
    /* Without a namespace it is the cluster scope (the message then says so). */
    cluster = !skip(&q, "\" in the namespace \"");
    if (!cluster)
        put(ns, sizeof(ns), q, upto(q, '"', NULL));
    if (cluster)
        return found(out, "Forbidden", P4_FAIL_CLUSTER,
                     "%s: %s may not %s %s%s%s at the cluster scope. A person must grant it: a "
                     "ClusterRole allowing %s on %s%s%s, bound to %s by a ClusterRoleBinding.",
                     lead, actor, verb, resource, group[0] != '\0' ? "." : "", group, verb,
                     resource, group[0] != '\0' ? "." : "", group, target);
    return found(out, "Forbidden", P4_FAIL_CLUSTER,
                 "%s: %s may not %s %s%s%s in namespace %s. A person must grant it: a Role in %s "
                 "(or a ClusterRole) allowing %s on %s%s%s, bound to %s.",
                 lead, actor, verb, resource, group[0] != '\0' ? "." : "", group, ns, ns, verb,
                 resource, group[0] != '\0' ? "." : "", group, target);
}

/*
 * A refusal's text (a Status message, a FailedCreate Event, a ReplicaFailure condition); lead
 * names the object and what failed. 1 when recognized, else 0. Admission comes first: a policy
 * may quote text that looks like a quota or RBAC refusal.
 */
static int refused(struct p4_diagnosis *out, const char *lead, const char *msg,
                   const char *identity)
{
    const char *p;
    char words[WORDS_SHOWN];

    if (msg == NULL)
        return 0;
    if ((p = after(msg, "failed calling webhook \"")) != NULL)
        return webhook_unavailable(out, lead, p);
    if ((p = after(msg, "admission webhook \"")) != NULL && has(p, "\" denied the request"))
        return webhook_denied(out, lead, p);
    if ((p = after(msg, "ValidatingAdmissionPolicy '")) != NULL && has(p, "denied request"))
        return policy_denied(out, lead, p);
    if ((p = after(msg, "violates PodSecurity \"")) != NULL)
        return pod_security(out, lead, p);
    if (has(msg, "unable to validate against any security context constraint") ||
        has(msg, "PodSecurityPolicy: unable to admit pod")) {
        p = after(msg, "forbidden: ");
        clip(words, sizeof(words), p != NULL ? p : msg);
        return found(out, "AdmissionDenied", P4_FAIL_CLUSTER,
                     "%s: no pod security policy admits it: %s. A person must grant its "
                     "ServiceAccount a policy that fits, or the chart must ask for less privilege.",
                     lead, words);
    }
    if ((p = after(msg, "exceeded quota: ")) != NULL)
        return quota_exceeded(out, lead, p);
    if ((p = after(msg, "failed quota: ")) != NULL)
        return quota_requires(out, lead, p);
    if ((p = after(msg, "User \"")) != NULL && has(p, " cannot "))
        return rbac_forbidden(out, lead, p, identity, msg);
    if (has(msg, "because it is being terminated")) {
        clip(words, sizeof(words), msg);
        return found(out, "NamespaceTerminating", P4_FAIL_TRANSIENT,
                     "%s: its namespace is being deleted (%s). Nothing can be created in it until "
                     "it is gone and created again.",
                     lead, words);
    }
    return 0;
}

/* ---- Events ---- */

struct event {
    const char *type, *reason, *message;
    const char *kind, *ns, *name, *field_path;
};

/* Read an Event of either API; false when it is not one. */
static bool read_event(const cJSON *ev, struct event *e)
{
    const cJSON *obj = p4_json_get(ev, "involvedObject");
    const char *kind = p4_json_str(ev, "kind");

    memset(e, 0, sizeof(*e));
    if (!cJSON_IsObject(obj))
        obj = p4_json_get(ev, "regarding");
    e->reason = p4_json_str(ev, "reason");
    if (!cJSON_IsObject(ev) || !cJSON_IsObject(obj) || e->reason == NULL ||
        (p4_json_get(ev, "kind") != NULL && !eq(kind, "Event")))
        return false;
    e->type = p4_json_str(ev, "type");
    e->message = p4_json_str(ev, "message");
    if (e->message == NULL)
        e->message = p4_json_str(ev, "note");
    if (e->message == NULL)
        e->message = "";
    e->kind = p4_json_str(obj, "kind");
    e->ns = p4_json_str(obj, "namespace");
    e->name = p4_json_str(obj, "name");
    e->field_path = p4_json_str(obj, "fieldPath");
    return true;
}

static int failed_event(struct p4_diagnosis *out, const struct event *e, const char *who_)
{
    const char *m = e->message, *p;
    char container[NAME_SHOWN + 16];

    container_of(container, sizeof(container), e->field_path);
    if ((p = after(m, "Failed to pull image \"")) != NULL) {
        const char *rest;
        size_t n = upto(p, '"', &rest);

        if (*rest == '"')
            rest++;
        (void)skip(&rest, ": ");
        return image_pull(out, who_, container, p, n, rest, "ErrImagePull");
    }
    if (has(m, "InvalidImageName"))
        return invalid_image(out, who_, container, NULL, 0);
    if (has(m, "ErrImageNeverPull"))
        return never_pull(out, who_, container, NULL, 0);
    if (has(m, "ImagePullBackOff"))
        return image_pull(out, who_, container, NULL, 0, NULL, "ImagePullBackOff");
    if (has(m, "ErrImagePull"))
        return image_pull(out, who_, container, NULL, 0, NULL, "ErrImagePull");
    if (has(m, "image") && (has(m, "manifest unknown") || has(m, "not found")))
        return image_pull(out, who_, container, NULL, 0, m, "ErrImagePull");
    return 0;
}

static int backoff_event(struct p4_diagnosis *out, const struct event *e, const char *who_)
{
    const char *m = e->message, *p;
    char container[NAME_SHOWN + 16], name[NAME_SHOWN];

    container_of(container, sizeof(container), e->field_path);
    if ((p = after(m, "Back-off restarting failed container")) != NULL) {
        while (*p == ' ')
            p++;
        put(name, sizeof(name), p, upto(p, ' ', NULL));
        if (name[0] != '\0')
            format(container, sizeof(container), "container %s", name);
        return found(out, "CrashLoopBackOff", P4_FAIL_ARTIFACT,
                     "%s: %s keeps crashing and is restarted with back-off (CrashLoopBackOff). "
                     "Its exit code and last logs (kubectl logs --previous) tell why; fix the "
                     "image or the chart's configuration: a new image or chart is needed.",
                     who_, container[0] != '\0' ? container : "a container");
    }
    if ((p = after(m, "Back-off pulling image \"")) != NULL) {
        const char *rest;
        size_t n = upto(p, '"', &rest);

        return image_pull(out, who_, container, p, n, after(rest, "ErrImagePull: "),
                          "ImagePullBackOff");
    }
    return 0;
}

static int node_pressure(struct p4_diagnosis *out, const char *who_, const char *what,
                         const char *words)
{
    char shown[WORDS_SHOWN];

    clip(shown, sizeof(shown), words);
    return found(out, "NodePressure", P4_FAIL_CLUSTER,
                 "%s %s%s%s. The node is short of resources: a person must free or add "
                 "capacity; requests and limits in the chart make its pods the last to go.",
                 who_, what, shown[0] != '\0' ? ": " : "", shown);
}

int p4_diagnose_event(const cJSON *event, struct p4_diagnosis *out)
{
    struct event e;
    char who_[WHO_SIZE], lead[LEAD_SIZE], words[WORDS_SHOWN];
    const char *r;

    if (out == NULL)
        return P4_ERR_INVAL;
    clear(out);
    if (!read_event(event, &e))
        return P4_ERR_INVAL;
    r = e.reason;
    who(who_, sizeof(who_), e.kind, e.ns, e.name);
    /* The kubelet reports node conditions as Normal Events. */
    if (eq(r, "NodeHasDiskPressure") || eq(r, "NodeHasInsufficientMemory") ||
        eq(r, "NodeHasInsufficientPID"))
        return found(out, "NodePressure", P4_FAIL_CLUSTER,
                     "%s reports %s. The node is short of resources: a person must free or add "
                     "capacity.",
                     who_, r);
    if (!eq(e.type, "Warning"))
        return 0;
    if (eq(r, "Failed"))
        return failed_event(out, &e, who_);
    if (eq(r, "BackOff"))
        return backoff_event(out, &e, who_);
    if (eq(r, "InspectFailed") && (has(e.message, "Failed to apply default image tag") ||
                                   has(e.message, "invalid reference format"))) {
        const char *p = after(e.message, "image tag \"");
        char container[NAME_SHOWN + 16];

        container_of(container, sizeof(container), e.field_path);
        return invalid_image(out, who_, container, p, p != NULL ? upto(p, '"', NULL) : 0);
    }
    if (eq(r, "ErrImageNeverPull")) {
        const char *p = after(e.message, "Container image \"");
        char container[NAME_SHOWN + 16];

        container_of(container, sizeof(container), e.field_path);
        return never_pull(out, who_, container, p, p != NULL ? upto(p, '"', NULL) : 0);
    }
    if (eq(r, "FailedScheduling"))
        return unschedulable(out, who_, e.message);
    if (eq(r, "FailedCreate") || eq(r, "ReplicaSetCreateError")) {
        format(lead, sizeof(lead), "%s cannot create its %s", who_,
               eq(r, "ReplicaSetCreateError") ? "ReplicaSet" : "pods");
        return refused(out, lead, e.message, NULL);
    }
    if (eq(r, "ProgressDeadlineExceeded")) {
        clip(words, sizeof(words), e.message);
        return found(out, "ProgressDeadlineExceeded", P4_FAIL_ARTIFACT,
                     "%s: the rollout did not progress within its deadline%s%s. Its pods' Events "
                     "tell why; a new image or chart is needed.",
                     who_, words[0] != '\0' ? ": " : "", words);
    }
    if (eq(r, "Evicted") && has(e.message, "low on resource"))
        return node_pressure(out, who_, "was evicted", e.message);
    if (eq(r, "EvictionThresholdMet"))
        return node_pressure(out, who_, "met an eviction threshold", e.message);
    return 0;
}

/* ---- refusals ---- */

int p4_diagnose_refusal(const cJSON *status, const char *kind, const char *namespace_,
                        const char *name, const char *identity, struct p4_diagnosis *out)
{
    char who_[WHO_SIZE], lead[LEAD_SIZE], words[WORDS_SHOWN];
    const char *msg = p4_json_str(status, "message");
    const cJSON *causes = p4_json_get(status, "details.causes");
    int64_t code = 0;
    int rc, n = 0;

    if (out == NULL)
        return P4_ERR_INVAL;
    clear(out);
    if (!cJSON_IsObject(status))
        return P4_ERR_INVAL;
    if (kind == NULL || kind[0] == '\0')
        kind = p4_json_str(status, "details.kind");
    if (name == NULL || name[0] == '\0')
        name = p4_json_str(status, "details.name");
    who(who_, sizeof(who_), kind, namespace_, name);
    format(lead, sizeof(lead), "%s was refused", who_);
    rc = refused(out, lead, msg, identity);
    /* A policy's words may be only in a cause (a ValidatingAdmissionPolicy's Invalid). */
    for (const cJSON *it = cJSON_IsArray(causes) ? causes->child : NULL; rc == 0 && it != NULL;
         it = it->next) {
        if (++n > 16)
            break;
        rc = refused(out, lead, p4_json_str(it, "message"), identity);
    }
    if (rc != 0)
        return rc;
    if (eq(p4_json_str(status, "reason"), "Forbidden") ||
        (p4_json_int64(status, "code", &code) == 0 && code == 403)) {
        clip(words, sizeof(words), msg != NULL ? msg : "");
        if (identity != NULL)
            return found(out, "Forbidden", P4_FAIL_CLUSTER,
                         "%s: the API server forbids it%s%s. A person must grant the operator "
                         "(%s) what it lacks.",
                         lead, words[0] != '\0' ? ": " : "", words, identity);
        return found(out, "Forbidden", P4_FAIL_CLUSTER,
                     "%s: the API server forbids it%s%s. A person must grant the operator what it "
                     "lacks.",
                     lead, words[0] != '\0' ? ": " : "", words);
    }
    clear(out);
    return 0;
}

/* ---- objects ---- */

static int crash_loop(struct p4_diagnosis *out, const char *who_, const char *container,
                      const cJSON *st)
{
    const cJSON *term = p4_json_get(st, "lastState.terminated");
    const char *why = p4_json_str(term, "reason"), *last = p4_json_str(term, "message");
    int64_t restarts = 0, code = 0;
    bool has_code = cJSON_IsObject(term) && p4_json_int64(term, "exitCode", &code) == 0;
    char restarted[48] = "", exited[NAME_SHOWN + 64] = "", words[WORDS_SHOWN], why_shown[64];
    bool oom = eq(why, "OOMKilled");
    const char *todo =
        "Fix the image or the chart's configuration: a new image or chart is needed.";

    if (p4_json_int64(st, "restartCount", &restarts) == 0 && restarts > 0)
        format(restarted, sizeof(restarted), " after %" PRId64 " restart%s", restarts,
               restarts == 1 ? "" : "s");
    clip(why_shown, sizeof(why_shown), why);
    if (has_code)
        format(exited, sizeof(exited), "; it last exited with code %" PRId64 "%s%s%s", code,
               why_shown[0] != '\0' ? " (" : "", why_shown, why_shown[0] != '\0' ? ")" : "");
    put_tail(words, sizeof(words), last, last != NULL ? strlen(last) : 0);
    if (oom)
        todo = "It ran out of memory: raise its memory limit in the chart (a new chart is needed).";
    else if (words[0] == '\0')
        todo = "Its last logs (kubectl logs --previous) tell why; fix the image or the chart's "
               "configuration: a new image or chart is needed.";
    return found(out, "CrashLoopBackOff", P4_FAIL_ARTIFACT,
                 "%s: %s keeps crashing (CrashLoopBackOff%s)%s%s%s%s. %s", who_, container,
                 restarted, exited, words[0] != '\0' ? ", its last words: \"" : "", words,
                 words[0] != '\0' ? "\"" : "", todo);
}

/* A container status waiting on a failure; 1 when it is one. */
static int container_failed(struct p4_diagnosis *out, const char *who_, const cJSON *st, bool init)
{
    const char *waiting = p4_json_str(st, "state.waiting.reason");
    const char *message = p4_json_str(st, "state.waiting.message");
    const char *image = p4_json_str(st, "image");
    char name[NAME_SHOWN], container[NAME_SHOWN + 16];

    if (waiting == NULL)
        return 0;
    clip(name, sizeof(name), p4_json_str(st, "name"));
    format(container, sizeof(container), "%scontainer %s", init ? "init " : "",
           name[0] != '\0' ? name : "(unnamed)");
    if (eq(waiting, "ImagePullBackOff") || eq(waiting, "ErrImagePull")) {
        /* A back-off's message ('Back-off pulling image "i"') may carry the error after it. */
        const char *err = message;

        if (has(message, "Back-off pulling image"))
            err = after(message, "ErrImagePull: ");
        return image_pull(out, who_, container, image, image != NULL ? strlen(image) : 0, err,
                          waiting);
    }
    if (eq(waiting, "InvalidImageName"))
        return invalid_image(out, who_, container, image, image != NULL ? strlen(image) : 0);
    if (eq(waiting, "ErrImageNeverPull"))
        return never_pull(out, who_, container, image, image != NULL ? strlen(image) : 0);
    if (eq(waiting, "CrashLoopBackOff"))
        return crash_loop(out, who_, container, st);
    return 0;
}

static int pod(struct p4_diagnosis *out, const cJSON *obj, const char *who_)
{
    static const char *const lists[] = {"status.initContainerStatuses", "status.containerStatuses"};
    const cJSON *c;

    if (eq(p4_json_str(obj, "status.phase"), "Failed") &&
        eq(p4_json_str(obj, "status.reason"), "Evicted") &&
        has(p4_json_str(obj, "status.message"), "low on resource"))
        return node_pressure(out, who_, "was evicted", p4_json_str(obj, "status.message"));
    for (size_t l = 0; l < 2; l++) {
        const cJSON *statuses = p4_json_get(obj, lists[l]);

        for (const cJSON *it = cJSON_IsArray(statuses) ? statuses->child : NULL; it != NULL;
             it = it->next) {
            if (cJSON_IsObject(it) && container_failed(out, who_, it, l == 0))
                return 1;
        }
    }
    c = condition(obj, "PodScheduled", "False");
    if (c != NULL && eq(p4_json_str(c, "reason"), "Unschedulable")) {
        const char *msg = p4_json_str(c, "message");

        return unschedulable(out, who_, msg != NULL ? msg : "");
    }
    return 0;
}

static int workload(struct p4_diagnosis *out, const cJSON *obj, const char *who_, bool deployment)
{
    const cJSON *c = condition(obj, "ReplicaFailure", "True");
    char lead[LEAD_SIZE], words[WORDS_SHOWN];
    int64_t deadline = -1;

    if (c != NULL) {
        format(lead, sizeof(lead), "%s cannot create its pods", who_);
        if (refused(out, lead, p4_json_str(c, "message"), NULL))
            return 1;
    }
    c = condition(obj, "Progressing", "False");
    if (deployment && c != NULL && eq(p4_json_str(c, "reason"), "ProgressDeadlineExceeded")) {
        char within[48] = "";

        if (p4_json_int64(obj, "spec.progressDeadlineSeconds", &deadline) == 0 && deadline >= 0 &&
            deadline < INT32_MAX)
            format(within, sizeof(within), " of %" PRId64 "s", deadline);
        clip(words, sizeof(words), p4_json_str(c, "message"));
        return found(out, "ProgressDeadlineExceeded", P4_FAIL_ARTIFACT,
                     "%s: the rollout did not progress within its deadline%s%s%s. Its pods' "
                     "status and Events tell why; a new image or chart is needed.",
                     who_, within, words[0] != '\0' ? ": " : "", words);
    }
    return 0;
}

int p4_diagnose_object(const cJSON *obj, struct p4_diagnosis *out)
{
    const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");
    const char *api = p4_json_str(obj, "apiVersion");
    char who_[WHO_SIZE];
    int rc = 0;

    if (out == NULL)
        return P4_ERR_INVAL;
    clear(out);
    if (kind == NULL || name == NULL)
        return P4_ERR_INVAL;
    who(who_, sizeof(who_), kind, p4_json_str(obj, "metadata.namespace"), name);
    /* Built-in kinds only: a custom resource called Pod is not one. */
    if (eq(kind, "Pod") && (api == NULL || eq(api, "v1")))
        rc = pod(out, obj, who_);
    else if (eq(kind, "Deployment") && (api == NULL || strncmp(api, "apps/", 5) == 0))
        rc = workload(out, obj, who_, true);
    else if (eq(kind, "ReplicaSet") && (api == NULL || strncmp(api, "apps/", 5) == 0))
        rc = workload(out, obj, who_, false);
    if (rc == 0)
        clear(out);
    return rc;
}

/* ---- recent Warning Events ---- */

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* n decimal digits at *p into *v; false (and *p unmoved) when they are not all digits. */
static bool digits(const char **p, int n, int64_t *v)
{
    int64_t x = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return true;
}

static bool sep(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/*
 * An RFC 3339 time as the API server writes it ("2024-05-01T10:00:00Z", MicroTime
 * "2024-05-01T10:00:00.123456Z", or an offset "+02:00") into microseconds since 1970 (UTC).
 */
static bool parse_time(const char *s, int64_t *out)
{
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y, mo, d, h, mi, sec, micro = 0, oh = 0, om = 0, t;
    int sign = 0;
    bool leap;

    if (s == NULL || !digits(&s, 4, &y) || !sep(&s, '-') || !digits(&s, 2, &mo) || !sep(&s, '-') ||
        !digits(&s, 2, &d) || !(sep(&s, 'T') || sep(&s, 't')) || !digits(&s, 2, &h) ||
        !sep(&s, ':') || !digits(&s, 2, &mi) || !sep(&s, ':') || !digits(&s, 2, &sec))
        return false;
    if (sep(&s, '.')) {
        int n = 0;

        for (; *s >= '0' && *s <= '9'; s++, n++) {
            if (n < 6)
                micro = micro * 10 + (*s - '0');
        }
        if (n == 0)
            return false;
        for (; n < 6; n++)
            micro *= 10;
    }
    if (sep(&s, 'Z') || sep(&s, 'z'))
        sign = 0;
    else if (sep(&s, '+'))
        sign = 1;
    else if (sep(&s, '-'))
        sign = -1;
    else
        return false;
    if (sign != 0 &&
        (!digits(&s, 2, &oh) || !sep(&s, ':') || !digits(&s, 2, &om) || oh > 23 || om > 59))
        return false;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (*s != '\0' || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
        d > month_days[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59)
        return false;
    t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec - sign * (oh * 60 + om) * 60;
    /* Within 1970-01-01 and 9999-12-31 in UTC, so it prints as four-digit years. */
    if (t < 0 || t >= days_from_civil(10000, 1, 1) * 86400)
        return false;
    *out = t * 1000000 + micro;
    return true;
}

/* "2024-05-01T10:00:00Z" for a time parse_time() read. */
static void format_time(char *dst, size_t size, int64_t t)
{
    int64_t sec = t / 1000000, y, m, d;

    civil_from_days(sec / 86400, &y, &m, &d);
    sec %= 86400;
    format(dst, size,
           "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64 ":%02" PRId64 "Z",
           y, m, d, sec / 3600, sec / 60 % 60, sec % 60);
}

struct warning {
    const char *reason, *kind, *name, *message;
    int64_t count;
    int64_t time; /* microseconds since 1970; valid when has_time */
    bool has_time;
    size_t index; /* in the list */
};

/* A count member at path, or 0 when absent or not a positive integer. */
static int64_t count_at(const cJSON *ev, const char *path)
{
    int64_t v = 0;

    if (p4_json_int64(ev, path, &v) != 0 || v < 1)
        return 0;
    return v > COUNT_MAX ? COUNT_MAX : v;
}

static void read_warning(const cJSON *ev, const struct event *e, size_t index, struct warning *w)
{
    static const char *const times[] = {"series.lastObservedTime", "lastTimestamp",
                                        "deprecatedLastTimestamp", "eventTime",
                                        "metadata.creationTimestamp"};
    static const char *const counts[] = {"count", "series.count", "deprecatedCount"};

    memset(w, 0, sizeof(*w));
    w->reason = e->reason;
    w->kind = e->kind != NULL ? e->kind : "";
    w->name = e->name != NULL ? e->name : "";
    w->message = e->message;
    w->index = index;
    w->count = 1;
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        int64_t c = count_at(ev, counts[i]);

        if (c > w->count)
            w->count = c;
    }
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        int64_t t;

        if (parse_time(p4_json_str(ev, times[i]), &t) && (!w->has_time || t > w->time)) {
            w->time = t;
            w->has_time = true;
        }
    }
}

/* Order by reason, kind and name (their first KEY_MAX bytes): one group is one key. */
static int key_cmp(const struct warning *x, const struct warning *y)
{
    int c = strncmp(x->reason, y->reason, KEY_MAX);

    if (c == 0)
        c = strncmp(x->kind, y->kind, KEY_MAX);
    if (c == 0)
        c = strncmp(x->name, y->name, KEY_MAX);
    return c;
}

static bool same_key(const struct warning *x, const struct warning *y)
{
    return key_cmp(x, y) == 0;
}

/* By key, then by place in the list, so the order does not depend on qsort. */
static int by_key(const void *a, const void *b)
{
    const struct warning *x = a, *y = b;
    int c = key_cmp(x, y);

    if (c != 0)
        return c;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return 0;
}

/* Is a later than b: by time (a time beats none), then by place in the list. */
static bool later(const struct warning *a, const struct warning *b)
{
    if (a->has_time != b->has_time)
        return a->has_time;
    if (a->has_time && a->time != b->time)
        return a->time > b->time;
    return a->index > b->index;
}

/* Newest first. */
static int by_time(const void *a, const void *b)
{
    const struct warning *x = a, *y = b;

    if (later(x, y))
        return -1;
    return later(y, x) ? 1 : 0;
}

static cJSON *warning_json(const struct warning *w)
{
    cJSON *item = p4_json_need(cJSON_CreateObject());
    char reason[P4_DIAGNOSE_REASON_MAX * 2], kind[KIND_SHOWN + 16], name[254],
        object[sizeof(kind) + sizeof(name)], message[P4_DIAGNOSE_RECENT_MESSAGE_MAX + 1], seen[32];

    clip(reason, sizeof(reason), w->reason);
    clip(kind, sizeof(kind), w->kind);
    clip(name, sizeof(name), w->name);
    format(object, sizeof(object), "%s/%s", kind, name);
    clip(message, sizeof(message), w->message);
    (void)p4_json_need(cJSON_AddStringToObject(item, "reason", reason));
    (void)p4_json_need(cJSON_AddStringToObject(item, "object", object));
    (void)p4_json_need(cJSON_AddNumberToObject(item, "count", (double)w->count));
    (void)p4_json_need(cJSON_AddStringToObject(item, "message", message));
    if (w->has_time) {
        format_time(seen, sizeof(seen), w->time);
        (void)p4_json_need(cJSON_AddStringToObject(item, "lastSeen", seen));
    }
    return item;
}

cJSON *p4_diagnose_recent_warnings(const cJSON *event_list, int max)
{
    const cJSON *items = event_list;
    struct warning *ws = NULL;
    cJSON *out = NULL;
    size_t n = 0, cap = 0, groups = 0, limit;

    if (cJSON_IsObject(event_list))
        items = p4_json_get(event_list, "items");
    if (!cJSON_IsArray(event_list) &&
        !(cJSON_IsObject(event_list) &&
          (items == NULL || cJSON_IsNull(items) || cJSON_IsArray(items))))
        goto out;
    out = p4_json_need(cJSON_CreateArray());
    limit = max <= 0 ? 0 : (size_t)(max > P4_DIAGNOSE_RECENT_MAX ? P4_DIAGNOSE_RECENT_MAX : max);
    if (limit == 0 || items == NULL || !cJSON_IsArray(items))
        goto out;
    for (const cJSON *it = items->child; it != NULL; it = it->next)
        cap++;
    if (cap == 0)
        goto out;
    ws = p4_malloc(cap * sizeof(*ws));
    for (const cJSON *it = items->child; it != NULL; it = it->next) {
        struct event e;

        if (read_event(it, &e) && eq(e.type, "Warning")) {
            read_warning(it, &e, n, &ws[n]);
            n++;
        }
    }
    if (n == 0)
        goto out;
    qsort(ws, n, sizeof(*ws), by_key);
    /* Fold each run of one key into its first slot: counts summed, the latest kept. */
    for (size_t i = 0; i < n;) {
        struct warning g = ws[i];
        size_t j;

        for (j = i + 1; j < n && same_key(&ws[j], &g); j++) {
            int64_t sum = g.count + ws[j].count;

            if (later(&ws[j], &g))
                g = ws[j];
            g.count = sum > COUNT_MAX ? COUNT_MAX : sum;
        }
        ws[groups++] = g;
        i = j;
    }
    qsort(ws, groups, sizeof(*ws), by_time);
    for (size_t i = 0; i < groups && i < limit; i++)
        cJSON_AddItemToArray(out, warning_json(&ws[i]));
out:
    free(ws);
    return out;
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
        "NodePressure",
    };

    if (reason == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(reason, known[i]) == 0)
            return known[i];
    }
    return NULL;
}
