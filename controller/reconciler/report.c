/* report.c: a Phase4Deployment's status as text a person reads (see report.h). */
#include "phase4/reconciler/report.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/jsonscan.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"

/* What one value shows at most: a name, reason or status; a message. Longer ones end in "...". */
#define WORD_MAX 256
#define TEXT_MAX 2048
/* Items of one list shown; the rest are counted. */
#define LIST_MAX 64
#define EVENTS_MAX 20

#define STAGES 4
static const char *const stage_names[STAGES] = {"Docker", "Helm", "Kubernetes", "Validation"};
static const char *const stage_conditions[STAGES] = {"DockerReady", "HelmReady", "KubernetesReady",
                                                     "Validated"};

enum sym { SYM_OK, SYM_FAIL, SYM_WAIT, SYM_NA };
/* U+2705 WHITE HEAVY CHECK MARK, U+274C CROSS MARK, U+23F3 HOURGLASS, U+2796 HEAVY MINUS SIGN. */
static const char *const emoji[] = {"\xE2\x9C\x85", "\xE2\x9D\x8C", "\xE2\x8F\xB3", "\xE2\x9E\x96"};
static const char *const ascii[] = {"[OK]", "[FAIL]", "[WAIT]", "[N/A]"};

struct ctx {
    struct p4_buf *out;
    unsigned text; /* p4_text_clean flags */
    bool ascii;
};

static const char *sym(const struct ctx *c, enum sym s)
{
    return c->ascii ? ascii[s] : emoji[s];
}

/* v's text cleaned into dst; NULL when v is not a string or nothing is left of it. */
static const char *str(const struct ctx *c, const cJSON *v, char *dst, size_t size)
{
    if (v == NULL || !cJSON_IsString(v) || v->valuestring == NULL)
        return NULL;
    if (p4_text_clean(dst, size, v->valuestring, strlen(v->valuestring), c->text) == 0)
        return NULL;
    return dst;
}

/* The member key of obj, cleaned (see str). */
static const char *member(const struct ctx *c, const cJSON *obj, const char *key, char *dst,
                          size_t size)
{
    return str(c, p4_json_child(obj, key), dst, size);
}

/* The raw string member key of obj, for comparisons only (never printed). */
static const char *raw(const cJSON *obj, const char *key)
{
    const cJSON *v = p4_json_child(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool raw_is(const cJSON *obj, const char *key, const char *want)
{
    return p4_text_eq(raw(obj, key), want);
}

/* The first condition of status whose type is type, or NULL. */
static const cJSON *condition(const cJSON *status, const char *type)
{
    const cJSON *conds = p4_json_child(status, "conditions"), *c;

    if (!cJSON_IsArray(conds))
        return NULL;
    cJSON_ArrayForEach(c, conds) {
        if (raw_is(c, "type", type))
            return c;
    }
    return NULL;
}

static enum sym status_sym(const char *status)
{
    if (p4_text_eq(status, "True"))
        return SYM_OK;
    if (p4_text_eq(status, "False"))
        return SYM_FAIL;
    return SYM_WAIT;
}

static enum sym result_sym(const char *result)
{
    if (p4_text_eq(result, "Passed"))
        return SYM_OK;
    if (p4_text_eq(result, "Failed"))
        return SYM_FAIL;
    return SYM_WAIT;
}

/* As Go writes a duration, to the millisecond: 1m12s, 850ms, 2h0m3s, 0s; "" for a negative span. */
static void format_duration(int64_t usec, char *buf, size_t size)
{
    int64_t s = usec / 1000000;

    if (usec < 0)
        buf[0] = '\0';
    else if (usec < 1000)
        p4_text_format(buf, size, "0s");
    else if (s < 1)
        p4_text_format(buf, size, "%" PRId64 "ms", usec / 1000);
    else if (s < 60)
        p4_text_format(buf, size, "%" PRId64 "s", s);
    else if (s < 3600)
        p4_text_format(buf, size, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
    else
        p4_text_format(buf, size, "%" PRId64 "h%" PRId64 "m%" PRId64 "s", s / 3600, s / 60 % 60,
                       s % 60);
}

/* How long item took: its duration member as written, else finishedAt - startedAt; or NULL. */
static const char *took(const struct ctx *c, const cJSON *item, char *buf, size_t size)
{
    int64_t from, to;

    if (member(c, item, "duration", buf, size) != NULL)
        return buf;
    if (p4_timefmt_parse(raw(item, "startedAt"), &from) != 0 ||
        p4_timefmt_parse(raw(item, "finishedAt"), &to) != 0 || to < from)
        return NULL;
    format_duration(to - from, buf, size);
    return buf;
}

/* The entry of status.report.stages named name, or NULL. */
static const cJSON *report_stage(const cJSON *status, const char *name)
{
    const cJSON *list = p4_json_get(status, "report.stages"), *s;

    if (!cJSON_IsArray(list))
        return NULL;
    cJSON_ArrayForEach(s, list) {
        if (raw_is(s, "name", name))
            return s;
    }
    return NULL;
}

/* "  N more not shown" after a list cut at its bound. */
static void more(const struct ctx *c, const char *indent, size_t shown, size_t total)
{
    if (total > shown)
        p4_buf_printf(c->out, "%s... %zu more not shown\n", indent, total - shown);
}

static void header(const struct ctx *c, const cJSON *obj, const cJSON *status)
{
    char ns[WORD_MAX], name[WORD_MAX], why[TEXT_MAX];
    const char *n = member(c, p4_json_child(obj, "metadata"), "namespace", ns, sizeof(ns));
    const char *nm = member(c, p4_json_child(obj, "metadata"), "name", name, sizeof(name));
    int64_t gen, obs;

    p4_buf_printf(c->out, "Phase4Deployment %s%s%s: ", n ? n : "", n ? "/" : "",
                  nm ? nm : "(no name)");
    if (p4_json_int64(obj, "metadata.generation", &gen) == 0)
        p4_buf_printf(c->out, "generation %" PRId64, gen);
    else
        p4_buf_printf(c->out, "generation unknown");
    if (status == NULL)
        p4_buf_printf(c->out, ", no status yet\n");
    else if (p4_json_int64(status, "observedGeneration", &obs) == 0)
        p4_buf_printf(c->out, ", observed %" PRId64 "\n", obs);
    else
        p4_buf_printf(c->out, ", not observed yet\n");
    if (cJSON_IsString(status))
        p4_buf_printf(c->out, "status cannot be read: %s\n",
                      str(c, status, why, sizeof(why)) ? why : "(no reason given)");
    else if (status != NULL && !cJSON_IsObject(status))
        p4_buf_printf(c->out, "status is %s, not an object: shown as absent\n",
                      p4_json_type_name(status, false));
}

static void readiness(const struct ctx *c, const cJSON *status)
{
    const cJSON *list = p4_json_child(status, "readiness"), *it;
    char stage[WORD_MAX], item[TEXT_MAX];
    size_t total = 0, shown = 0;

    p4_buf_printf(c->out, "\nDeployment Readiness\n");
    if (cJSON_IsArray(list)) {
        cJSON_ArrayForEach(it, list) {
            const char *s, *i;
            if ((i = member(c, it, "item", item, sizeof(item))) == NULL)
                continue;
            if (++total > LIST_MAX)
                continue;
            shown++;
            s = member(c, it, "stage", stage, sizeof(stage));
            p4_buf_printf(c->out, "  %s %s%s%s\n",
                          sym(c, cJSON_IsTrue(p4_json_child(it, "done")) ? SYM_OK : SYM_WAIT),
                          s ? s : "", s ? ": " : "", i);
        }
    }
    if (total == 0)
        p4_buf_printf(c->out, "  (none reported)\n");
    more(c, "  ", shown, total);
}

/* One gate: "    ✅ Docker/Built: True (ImageExists): message". */
static void gate_line(const struct ctx *c, const cJSON *g, const char *stage)
{
    char name[WORD_MAX], status[WORD_MAX], reason[WORD_MAX], msg[TEXT_MAX];
    const char *n = member(c, g, "name", name, sizeof(name));
    const char *s = member(c, g, "status", status, sizeof(status));
    const char *r = member(c, g, "reason", reason, sizeof(reason));
    const char *m = member(c, g, "message", msg, sizeof(msg));

    if (raw_is(g, "reason", "NotRequired")) {
        p4_buf_printf(c->out, "    %s %s/%s: not required%s%s\n", sym(c, SYM_NA), stage,
                      n ? n : "(no name)", m ? ": " : "", m ? m : "");
        return;
    }
    p4_buf_printf(c->out, "    %s %s/%s: %s%s%s%s%s%s\n", sym(c, status_sym(raw(g, "status"))),
                  stage, n ? n : "(no name)", s ? s : "(no status)", r ? " (" : "", r ? r : "",
                  r ? ")" : "", m ? ": " : "", m ? m : "");
}

/* The stage's line: its condition (or its result in the report) and how long it took. */
static void stage_line(const struct ctx *c, const cJSON *status, int i, bool has_gates)
{
    const cJSON *cond = condition(status, stage_conditions[i]);
    const cJSON *rs = report_stage(status, stage_names[i]);
    char st[WORD_MAX], reason[WORD_MAX], result[WORD_MAX], dur[WORD_MAX], msg[TEXT_MAX];
    const char *d = rs ? took(c, rs, dur, sizeof(dur)) : NULL;
    const char *m = NULL;

    p4_buf_printf(c->out, "  %s: ", stage_names[i]);
    if (cond != NULL) {
        const char *s = member(c, cond, "status", st, sizeof(st));
        const char *r = member(c, cond, "reason", reason, sizeof(reason));
        p4_buf_printf(c->out, "%s %s %s%s%s%s", sym(c, status_sym(raw(cond, "status"))),
                      stage_conditions[i], s ? s : "(no status)", r ? " (" : "", r ? r : "",
                      r ? ")" : "");
        m = member(c, cond, "message", msg, sizeof(msg));
    } else if (rs != NULL && member(c, rs, "result", result, sizeof(result)) != NULL) {
        p4_buf_printf(c->out, "%s %s", sym(c, result_sym(raw(rs, "result"))), result);
    } else {
        p4_buf_printf(c->out, "%s %s", sym(c, SYM_WAIT),
                      has_gates ? "no condition yet" : "not started");
    }
    if (d != NULL)
        p4_buf_printf(c->out, ", took %s", d);
    p4_buf_printf(c->out, "%s%s\n", m ? ": " : "", m ? m : "");
}

/* The group a gate is shown in: its stage's index, or STAGES ("other stages"). */
static int stage_index(const cJSON *g)
{
    for (int i = 0; i < STAGES; i++) {
        if (raw_is(g, "stage", stage_names[i]))
            return i;
    }
    return STAGES;
}

static void gates(const struct ctx *c, const cJSON *status)
{
    const cJSON *list = p4_json_child(status, "gates"), *g;
    char other[WORD_MAX];

    if (!cJSON_IsArray(list))
        list = NULL;
    p4_buf_printf(c->out, "\nGates\n");
    for (int i = 0; i <= STAGES; i++) {
        size_t total = 0, shown = 0;
        bool any = false;
        if (list != NULL) {
            cJSON_ArrayForEach(g, list) {
                if (cJSON_IsObject(g) && stage_index(g) == i)
                    any = true;
            }
        }
        if (i == STAGES && !any)
            break;
        if (i < STAGES)
            stage_line(c, status, i, any);
        else
            p4_buf_printf(c->out, "  other stages:\n");
        if (!any)
            continue;
        cJSON_ArrayForEach(g, list) {
            if (!cJSON_IsObject(g) || stage_index(g) != i || ++total > LIST_MAX)
                continue;
            shown++;
            if (i < STAGES) {
                gate_line(c, g, stage_names[i]);
            } else {
                const char *s = member(c, g, "stage", other, sizeof(other));
                gate_line(c, g, s ? s : "(no stage)");
            }
        }
        more(c, "    ", shown, total);
    }
}

/* "a/b", two counts: ✅ when all are (a is b), ⏳ when some are not; NULL for other text. */
static const char *count_sym(const struct ctx *c, const char *v)
{
    const char *slash = strchr(v, '/');
    size_t na = slash ? (size_t)(slash - v) : 0, nb = slash ? strlen(slash + 1) : 0;

    if (na == 0 || nb == 0)
        return NULL;
    for (size_t i = 0; i < na; i++) {
        if (!p4_ascii_digit(v[i]))
            return NULL;
    }
    for (size_t i = 0; i < nb; i++) {
        if (!p4_ascii_digit(slash[1 + i]))
            return NULL;
    }
    return sym(c, na == nb && memcmp(v, slash + 1, na) == 0 ? SYM_OK : SYM_WAIT);
}

static void health(const struct ctx *c, const cJSON *status)
{
    static const char *const counts[] = {"deployments", "statefulsets", "daemonsets",
                                         "jobs",        "pods",         "services"};
    const cJSON *h = p4_json_child(status, "health"), *events, *e;
    char v[TEXT_MAX], reason[WORD_MAX], object[WORD_MAX], seen[WORD_MAX], msg[TEXT_MAX];
    size_t total = 0, shown = 0;

    p4_buf_printf(c->out, "\nCluster Health Summary\n");
    if (!cJSON_IsObject(h)) {
        p4_buf_printf(c->out, "  (none reported yet)\n");
        return;
    }
    if (member(c, h, "namespace", v, sizeof(v)) != NULL)
        p4_buf_printf(c->out, "  namespace: %s\n", v);
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        const char *s;
        if (member(c, h, counts[i], v, sizeof(v)) == NULL)
            continue;
        s = count_sym(c, v);
        p4_buf_printf(c->out, "  %s%s%s: %s\n", s ? s : "", s ? " " : "", counts[i], v);
    }
    events = p4_json_child(h, "recentEvents");
    if (!cJSON_IsArray(events))
        return;
    cJSON_ArrayForEach(e, events) {
        if (cJSON_IsObject(e))
            total++;
    }
    p4_buf_printf(c->out, "  recent events: %zu\n", total);
    cJSON_ArrayForEach(e, events) {
        const char *r, *o, *s, *m;
        int64_t count;
        if (!cJSON_IsObject(e) || shown >= EVENTS_MAX)
            continue;
        shown++;
        r = member(c, e, "reason", reason, sizeof(reason));
        o = member(c, e, "object", object, sizeof(object));
        s = member(c, e, "lastSeen", seen, sizeof(seen));
        m = member(c, e, "message", msg, sizeof(msg));
        p4_buf_printf(c->out, "    %s%s%s", r ? r : "(no reason)", o ? " " : "", o ? o : "");
        if (p4_json_int64(e, "count", &count) == 0)
            p4_buf_printf(c->out, " x%" PRId64, count);
        p4_buf_printf(c->out, "%s%s%s%s\n", s ? ", last seen " : "", s ? s : "", m ? ": " : "",
                      m ? m : "");
    }
    more(c, "    ", shown, total);
}

static bool is_verdict(const char *v)
{
    return p4_text_eq(v, "SUCCESSFUL") || p4_text_eq(v, "FAILED");
}

/* What the status says of the current generation (the words of report.h's enum). */
struct standing {
    bool has_gen, has_obs;
    int64_t gen, obs;    /* metadata.generation, status.observedGeneration */
    const char *verdict; /* status.verdict, else status.report.verdict; NULL when neither */
    bool has_vgen;       /* the generation the verdict is of: the report's, else the observed */
    int64_t vgen;
    bool current; /* the status speaks of metadata.generation (or nothing says otherwise) */
    enum p4_report_outcome outcome;
};

/*
 * A verdict counts for the current generation only when status.observedGeneration and, when
 * the report has one, status.report.generation both are metadata.generation: a verdict left
 * from an earlier generation never reads as this one's.
 */
static struct standing standing_of(const cJSON *obj)
{
    const cJSON *status = p4_json_child(obj, "status");
    struct standing s = {.outcome = P4_REPORT_IN_PROGRESS};
    const cJSON *stalled;
    int64_t rgen, cgen;
    bool has_rgen;

    s.has_gen = p4_json_int64(obj, "metadata.generation", &s.gen) == 0;
    if (!cJSON_IsObject(status))
        return s;
    s.has_obs = p4_json_int64(status, "observedGeneration", &s.obs) == 0;
    has_rgen = p4_json_int64(status, "report.generation", &rgen) == 0;
    s.current = !s.has_gen || ((!s.has_obs || s.obs == s.gen) && (!has_rgen || rgen == s.gen));
    s.verdict = raw(status, "verdict");
    if (!is_verdict(s.verdict))
        s.verdict = raw(p4_json_child(status, "report"), "verdict");
    if (!is_verdict(s.verdict))
        s.verdict = NULL;
    s.has_vgen = has_rgen || s.has_obs;
    s.vgen = has_rgen ? rgen : s.obs;
    stalled = condition(status, "Stalled");
    if (s.verdict != NULL && s.current)
        s.outcome = strcmp(s.verdict, "SUCCESSFUL") == 0 ? P4_REPORT_SUCCESSFUL : P4_REPORT_FAILED;
    else if (s.current && raw_is(stalled, "status", "True") &&
             !(s.has_gen && p4_json_int64(stalled, "observedGeneration", &cgen) == 0 &&
               cgen != s.gen))
        s.outcome = P4_REPORT_STALLED;
    return s;
}

enum p4_report_outcome p4_report_outcome(const cJSON *obj)
{
    return standing_of(obj).outcome;
}

/* "  condition Ready: True (Succeeded): message", when status has it. */
static void condition_line(const struct ctx *c, const cJSON *status, const char *type)
{
    const cJSON *cond = condition(status, type);
    char st[WORD_MAX], reason[WORD_MAX], msg[TEXT_MAX];
    const char *s, *r, *m;

    if (cond == NULL)
        return;
    s = member(c, cond, "status", st, sizeof(st));
    r = member(c, cond, "reason", reason, sizeof(reason));
    m = member(c, cond, "message", msg, sizeof(msg));
    p4_buf_printf(c->out, "  condition %s: %s%s%s%s%s%s\n", type, s ? s : "(no status)",
                  r ? " (" : "", r ? r : "", r ? ")" : "", m ? ": " : "", m ? m : "");
}

/* "    create Deployment ns/web" and the like: a plan's object, with what changes in it. */
static void plan_object(const struct ctx *c, const char *what, const cJSON *o)
{
    char kind[WORD_MAX], ns[WORD_MAX], name[WORD_MAX], v[TEXT_MAX];
    const char *k = member(c, o, "kind", kind, sizeof(kind));
    const char *n = member(c, o, "namespace", ns, sizeof(ns));
    const char *nm = member(c, o, "name", name, sizeof(name));
    const cJSON *paths = p4_json_child(o, "paths"), *p;
    size_t shown = 0;
    int64_t extra;

    p4_buf_printf(c->out, "    %s %s %s%s%s", what, k ? k : "(no kind)", n ? n : "", n ? "/" : "",
                  nm ? nm : "(no name)");
    if (member(c, o, "unknown", v, sizeof(v)) != NULL)
        p4_buf_printf(c->out, ": %s", v);
    if (cJSON_IsArray(paths)) {
        cJSON_ArrayForEach(p, paths) {
            if (str(c, p, v, sizeof(v)) == NULL || shown >= LIST_MAX)
                continue;
            p4_buf_printf(c->out, "%s%s", shown++ ? ", " : ": ", v);
        }
    }
    if (p4_json_int64(o, "pathsMore", &extra) == 0 && extra > 0)
        p4_buf_printf(c->out, " and %" PRId64 " more path(s)", extra);
    p4_buf_printf(c->out, "\n");
}

/* One list of the plan (create, change, prune, kept), bounded, with what it did not list. */
static void plan_list(const struct ctx *c, const cJSON *plan, const char *key, const char *what)
{
    const cJSON *list = p4_json_child(plan, key), *o;
    char more_key[32];
    size_t total = 0, shown = 0;
    int64_t extra = 0;

    if (!cJSON_IsArray(list))
        return;
    cJSON_ArrayForEach(o, list) {
        if (!cJSON_IsObject(o) || ++total > LIST_MAX)
            continue;
        shown++;
        plan_object(c, what, o);
    }
    (void)snprintf(more_key, sizeof(more_key), "%sMore", key);
    if (p4_json_int64(plan, more_key, &extra) == 0 && extra > 0)
        total += (size_t)extra;
    more(c, "    ", shown, total);
}

/*
 * Approval: the AwaitingApproval condition, the plan of status.plan (objects to create, change
 * and prune, the images) and the last approval on record. Only when the status has one of them.
 */
static void approval(const struct ctx *c, const cJSON *status)
{
    const cJSON *cond = condition(status, "AwaitingApproval");
    const cJSON *plan = p4_json_child(status, "plan"), *rec = p4_json_child(status, "approval");
    const cJSON *images, *im;
    char v[TEXT_MAX], by[WORD_MAX], at[WORD_MAX], st[WORD_MAX], reason[WORD_MAX];
    size_t total = 0, shown = 0;
    int64_t gen;

    if (cond == NULL && !cJSON_IsObject(plan) && !cJSON_IsObject(rec))
        return;
    p4_buf_printf(c->out, "\nApproval\n");
    if (cond != NULL) {
        const char *s = member(c, cond, "status", st, sizeof(st));
        const char *r = member(c, cond, "reason", reason, sizeof(reason));
        const char *m = member(c, cond, "message", v, sizeof(v));
        p4_buf_printf(c->out, "  %s AwaitingApproval: %s%s%s%s%s%s\n",
                      sym(c, raw_is(cond, "status", "True")    ? SYM_WAIT
                             : raw_is(cond, "status", "False") ? SYM_OK
                                                               : SYM_NA),
                      s ? s : "(no status)", r ? " (" : "", r ? r : "", r ? ")" : "", m ? ": " : "",
                      m ? m : "");
    }
    if (cJSON_IsObject(plan)) {
        if (p4_json_int64(plan, "generation", &gen) == 0)
            p4_buf_printf(c->out, "  plan for generation %" PRId64, gen);
        else
            p4_buf_printf(c->out, "  plan");
        p4_buf_printf(c->out, ": %s\n",
                      member(c, plan, "summary", v, sizeof(v)) ? v : "(no summary)");
        plan_list(c, plan, "create", "create");
        plan_list(c, plan, "change", "change");
        plan_list(c, plan, "prune", "prune");
        plan_list(c, plan, "kept", "keep (never pruned)");
        images = p4_json_child(plan, "images");
        if (cJSON_IsArray(images)) {
            cJSON_ArrayForEach(im, images) {
                if (str(c, im, v, sizeof(v)) == NULL || ++total > LIST_MAX)
                    continue;
                shown++;
                p4_buf_printf(c->out, "    image %s\n", v);
            }
            more(c, "    ", shown, total);
        }
    }
    if (cJSON_IsObject(rec) && p4_json_int64(rec, "generation", &gen) == 0) {
        const char *b = member(c, rec, "by", by, sizeof(by));
        const char *a = member(c, rec, "at", at, sizeof(at));
        p4_buf_printf(c->out, "  last approved: generation %" PRId64 " by field manager %s%s%s\n",
                      gen, b ? b : "(unknown)", a ? " at " : "", a ? a : "");
    }
    if (cJSON_IsObject(rec) && member(c, rec, "ignored", v, sizeof(v)) != NULL)
        p4_buf_printf(c->out, "  ignored: phase4.io/approve=%s\n", v);
}

static void artifacts(const struct ctx *c, const cJSON *a)
{
    static const char *const words[][2] = {{"image", "image"},
                                           {"chart", "chart"},
                                           {"chartDigest", "chart digest"},
                                           {"manifest", "manifest Secret"}};
    const cJSON *images = p4_json_child(a, "images"), *im;
    char v[TEXT_MAX];
    size_t total = 0, shown = 0;
    int64_t n;

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (member(c, a, words[i][0], v, sizeof(v)) != NULL)
            p4_buf_printf(c->out, "  artifact %s: %s\n", words[i][1], v);
    }
    if (cJSON_IsArray(images)) {
        cJSON_ArrayForEach(im, images) {
            if (str(c, im, v, sizeof(v)) == NULL || ++total > LIST_MAX)
                continue;
            shown++;
            p4_buf_printf(c->out, "  artifact running image: %s\n", v);
        }
        more(c, "  ", shown, total);
    }
    if (p4_json_int64(a, "inventory", &n) == 0)
        p4_buf_printf(c->out, "  artifact inventory: %" PRId64 " object(s) applied\n", n);
}

static void failure(const struct ctx *c, const cJSON *f)
{
    char stage[WORD_MAX], gate[WORD_MAX], reason[WORD_MAX], msg[TEXT_MAX];
    const char *s = member(c, f, "stage", stage, sizeof(stage));
    const char *g = member(c, f, "gate", gate, sizeof(gate));
    const char *r = member(c, f, "reason", reason, sizeof(reason));
    const char *m = member(c, f, "message", msg, sizeof(msg));

    if (s == NULL && g == NULL && r == NULL && m == NULL)
        return;
    p4_buf_printf(c->out, "  failure: %s%s%s%s%s%s%s\n", s ? s : "", s && g ? "/" : "", g ? g : "",
                  s || g ? " " : "", r ? r : "(no reason)", m ? ": " : "", m ? m : "");
}

/* The run's report: its times, each stage, the artifacts and the failure. */
static void run_report(const struct ctx *c, const cJSON *status, const struct standing *s)
{
    const cJSON *rep = p4_json_child(status, "report"), *list, *st;
    char t1[WORD_MAX], t2[WORD_MAX], dur[WORD_MAX], name[WORD_MAX], result[WORD_MAX],
        reason[WORD_MAX];
    const char *a, *b, *d;
    int64_t rgen;
    size_t total = 0, shown = 0;

    if (!cJSON_IsObject(rep))
        return;
    p4_buf_printf(c->out, "  report:");
    if (p4_json_int64(rep, "generation", &rgen) == 0)
        p4_buf_printf(c->out, " generation %" PRId64 "%s", rgen,
                      s->has_gen && rgen != s->gen ? " (not the current one)" : "");
    else
        p4_buf_printf(c->out, " generation unknown");
    a = member(c, rep, "startedAt", t1, sizeof(t1));
    b = member(c, rep, "finishedAt", t2, sizeof(t2));
    d = took(c, rep, dur, sizeof(dur));
    p4_buf_printf(c->out, "%s%s%s%s%s%s\n", a ? ", started " : "", a ? a : "",
                  b ? ", finished " : "", b ? b : "", d ? ", took " : "", d ? d : "");
    list = p4_json_child(rep, "stages");
    if (cJSON_IsArray(list)) {
        cJSON_ArrayForEach(st, list) {
            const char *n, *r, *why;
            if ((n = member(c, st, "name", name, sizeof(name))) == NULL || ++total > LIST_MAX)
                continue;
            shown++;
            r = member(c, st, "result", result, sizeof(result));
            why = member(c, st, "reason", reason, sizeof(reason));
            d = took(c, st, dur, sizeof(dur));
            p4_buf_printf(c->out, "  stage %s: %s %s%s%s%s%s%s\n", n,
                          sym(c, result_sym(raw(st, "result"))), r ? r : "(no result)",
                          why ? " (" : "", why ? why : "", why ? ")" : "", d ? ", took " : "",
                          d ? d : "");
        }
        more(c, "  ", shown, total);
    }
    if (cJSON_IsObject(p4_json_child(rep, "artifacts")))
        artifacts(c, p4_json_child(rep, "artifacts"));
    if (cJSON_IsObject(p4_json_child(rep, "failure")))
        failure(c, p4_json_child(rep, "failure"));
}

static void verdict(const struct ctx *c, const cJSON *status, const struct standing *s)
{
    char gen[64] = "an unknown generation", old[WORD_MAX];

    if (s->has_gen)
        p4_text_format(gen, sizeof(gen), "generation %" PRId64, s->gen);
    p4_buf_printf(c->out, "\nVerdict\n");
    switch (s->outcome) {
    case P4_REPORT_SUCCESSFUL:
        p4_buf_printf(c->out, "  %s SUCCESSFUL: %s\n", sym(c, SYM_OK), gen);
        break;
    case P4_REPORT_FAILED:
        p4_buf_printf(c->out, "  %s FAILED: %s\n", sym(c, SYM_FAIL), gen);
        break;
    case P4_REPORT_STALLED:
        p4_buf_printf(c->out,
                      "  %s stalled: %s has no verdict and goes no further until someone acts\n",
                      sym(c, SYM_FAIL), gen);
        break;
    case P4_REPORT_IN_PROGRESS:
        old[0] = '\0';
        if (s->verdict != NULL && s->has_vgen)
            p4_text_format(old, sizeof(old),
                           " (the last verdict, %s, was for generation %" PRId64 ")", s->verdict,
                           s->vgen);
        p4_buf_printf(c->out, "  %s in progress: %s%s\n", sym(c, SYM_WAIT), gen, old);
        break;
    }
    if (!cJSON_IsObject(status))
        return;
    run_report(c, status, s);
    condition_line(c, status, "Ready");
    condition_line(c, status, "Reconciling");
    condition_line(c, status, "Stalled");
}

/* The message of condition type of status, cleaned into buf, when its status is want (or any). */
static const char *condition_message(const struct ctx *c, const cJSON *status, const char *type,
                                     const char *want, char *buf, size_t size)
{
    const cJSON *cond = condition(status, type);

    if (cond == NULL || (want != NULL && !raw_is(cond, "status", want)))
        return NULL;
    return member(c, cond, "message", buf, size);
}

static void next_steps(const struct ctx *c, const cJSON *status, const struct standing *s)
{
    const cJSON *f = p4_json_get(status, "report.failure");
    char fix[TEXT_MAX], stalled[TEXT_MAX], msg[TEXT_MAX];
    const char *st = condition_message(c, status, "Stalled", "True", stalled, sizeof(stalled));
    const char *m;

    p4_buf_printf(c->out, "\nNext steps\n");
    switch (s->outcome) {
    case P4_REPORT_SUCCESSFUL:
        m = condition_message(c, status, "Ready", NULL, msg, sizeof(msg));
        if (!raw_is(condition(status, "Ready"), "status", "True") && m != NULL)
            p4_buf_printf(c->out, "  check: %s\n", m);
        else
            p4_buf_printf(c->out, "  none: the generation is deployed\n");
        break;
    case P4_REPORT_FAILED:
        if ((m = member(c, f, "remediation", fix, sizeof(fix))) != NULL ||
            (m = member(c, f, "message", fix, sizeof(fix))) != NULL ||
            (m = condition_message(c, status, "Ready", NULL, fix, sizeof(fix))) != NULL)
            p4_buf_printf(c->out, "  fix: %s\n", m);
        else
            p4_buf_printf(c->out, "  fix: the failing gate above says what failed\n");
        if (member(c, f, "impact", msg, sizeof(msg)) != NULL)
            p4_buf_printf(c->out, "  %s\n", msg);
        if (st != NULL && strcmp(st, m ? m : "") != 0)
            p4_buf_printf(c->out, "  stalled: %s\n", st);
        break;
    case P4_REPORT_STALLED:
        p4_buf_printf(c->out, "  stalled: %s\n", st ? st : "Stalled is True, with no message");
        break;
    case P4_REPORT_IN_PROGRESS:
        if (!cJSON_IsObject(status))
            p4_buf_printf(c->out, "  waiting on: phase4-operator to write a status (is it "
                                  "running, and watching this namespace?)\n");
        else if (s->has_gen && s->has_obs && s->obs != s->gen)
            p4_buf_printf(c->out,
                          "  waiting on: phase4-operator to observe generation %" PRId64 "\n",
                          s->gen);
        else if ((m = condition_message(c, status, "Ready", NULL, msg, sizeof(msg))) != NULL)
            p4_buf_printf(c->out, "  waiting on: %s\n", m);
        else
            p4_buf_printf(c->out, "  waiting on: the stages (Ready says nothing yet)\n");
        break;
    }
}

enum p4_report_outcome p4_report_render(const cJSON *obj, unsigned flags, struct p4_buf *out)
{
    struct ctx c = {.out = out, .ascii = (flags & P4_REPORT_ASCII) != 0};
    const cJSON *status = p4_json_child(obj, "status");
    const cJSON *st = cJSON_IsObject(status) ? status : NULL;
    struct standing s = standing_of(obj);

    c.text = c.ascii ? P4_TEXT_ASCII : 0;
    header(&c, obj, status);
    readiness(&c, st);
    gates(&c, st);
    health(&c, st);
    approval(&c, st);
    verdict(&c, st, &s);
    next_steps(&c, st, &s);
    return s.outcome;
}

/* A string member name of the object at span, unescaped into dst as a string node of meta. */
static void shallow_str(const char *buf, struct p4_jsonscan_span obj, const char *name, cJSON *meta)
{
    struct p4_jsonscan_span v;
    char text[WORD_MAX * 2];

    if (p4_jsonscan_member(buf, obj, name, &v) == 0 &&
        p4_jsonscan_string(buf, v, text, sizeof(text)) == 0)
        (void)p4_json_need(cJSON_AddStringToObject(meta, name, text));
}

cJSON *p4_report_read(const char *buf, size_t len, struct p4_error *err)
{
    struct p4_jsonscan_span doc, v;
    struct p4_error why;
    cJSON *obj, *meta, *status;
    int64_t gen;

    if (p4_jsonscan_document(buf, len, &doc, NULL, err) != 0)
        return NULL;
    if (!p4_jsonscan_is_object(buf, doc)) {
        p4_error_set(err, P4_ERR_PARSE, "the answer is not a JSON object");
        return NULL;
    }
    obj = p4_json_need(cJSON_CreateObject());
    meta = p4_json_need(cJSON_AddObjectToObject(obj, "metadata"));
    if (p4_jsonscan_member(buf, doc, "metadata", &v) == 0 && p4_jsonscan_is_object(buf, v)) {
        struct p4_jsonscan_span g;
        shallow_str(buf, v, "namespace", meta);
        shallow_str(buf, v, "name", meta);
        if (p4_jsonscan_member(buf, v, "generation", &g) == 0 &&
            p4_jsonscan_int64(buf, g, &gen) == 0)
            (void)p4_json_need(cJSON_AddNumberToObject(meta, "generation", (double)gen));
    }
    if (p4_jsonscan_member(buf, doc, "status", &v) == 0) {
        status = p4_json_parse(buf + v.off, v.len, &why);
        if (status == NULL)
            status = p4_json_need(cJSON_CreateString(why.message));
        cJSON_AddItemToObject(obj, "status", status);
    }
    return obj;
}
