/* healtheval.c: one health evaluation's reads and result (see healtheval.h). */
#include "healtheval.h"

#include <stdarg.h>
#include <string.h>

#include "objtext.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* ---- the result ---- */

void p4_healtheval_result(struct p4_healtheval *e, enum p4_health_status status, bool permanent,
                          const char *reason, const char *fmt, ...)
{
    struct p4_health *out = e->out;
    va_list ap;

    out->status = status;
    out->permanent = permanent && status == P4_HEALTH_FAILED;
    p4_text_format(out->reason, sizeof(out->reason), "%s", reason);
    va_start(ap, fmt);
    p4_objtext_vmessage(out->message, sizeof(out->message), e->who, fmt, ap);
    va_end(ap);
    e->done = true;
}

/* ---- members read with their types checked ---- */

void p4_healtheval_mark_bad(struct p4_healtheval *e, const char *path, const char *want)
{
    if (e->bad_path == NULL) {
        e->bad_path = path;
        e->bad_want = want;
    }
}

bool p4_healtheval_malformed(struct p4_healtheval *e)
{
    if (e->bad_path == NULL)
        return false;
    p4_healtheval_result(e, P4_HEALTH_UNKNOWN, false, "MalformedObject", "%s: %s is not %s", e->who,
                         e->bad_path, e->bad_want);
    return true;
}

int64_t p4_healtheval_count(struct p4_healtheval *e, const char *path, int64_t def)
{
    int64_t v = def;
    int rc = p4_json_int64(e->obj, path, &v);

    if (rc == P4_ERR_NOTFOUND)
        return def;
    if (rc != 0 || v < 0 || v > P4_HEALTHEVAL_COUNT_MAX) {
        p4_healtheval_mark_bad(e, path, "a non-negative integer");
        return def;
    }
    return v;
}

const char *p4_healtheval_text(struct p4_healtheval *e, const char *path)
{
    const cJSON *v = p4_json_get(e->obj, path);

    if (v == NULL || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v)) {
        p4_healtheval_mark_bad(e, path, "a string");
        return NULL;
    }
    return v->valuestring;
}

bool p4_healtheval_flag(struct p4_healtheval *e, const char *path)
{
    bool v = false;
    int rc = p4_json_bool(e->obj, path, &v);

    if (rc != 0 && rc != P4_ERR_NOTFOUND)
        p4_healtheval_mark_bad(e, path, "a boolean");
    return rc == 0 && v;
}

const cJSON *p4_healtheval_list(struct p4_healtheval *e, const char *path)
{
    const cJSON *v = p4_json_get(e->obj, path);

    if (v == NULL || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsArray(v)) {
        p4_healtheval_mark_bad(e, path, "an array");
        return NULL;
    }
    return v;
}

bool p4_healtheval_cond(struct p4_healtheval *e, const char *type, struct p4_healtheval_cond *c)
{
    const cJSON *conds = p4_healtheval_list(e, "status.conditions");

    memset(c, 0, sizeof(*c));
    c->status = c->reason = c->message = "";
    if (conds == NULL)
        return false;
    for (const cJSON *it = conds->child; it != NULL; it = it->next) {
        if (!p4_text_eq(p4_json_str(it, "type"), type))
            continue;
        c->status = p4_objtext_or_empty(p4_json_str(it, "status"));
        c->reason = p4_objtext_or_empty(p4_json_str(it, "reason"));
        c->message = p4_objtext_or_empty(p4_json_str(it, "message"));
        c->has_generation = p4_json_int64(it, "observedGeneration", &c->generation) == 0;
        return true;
    }
    return false;
}

bool p4_healtheval_cond_is(struct p4_healtheval *e, const char *type, const char *want,
                           struct p4_healtheval_cond *c)
{
    return p4_healtheval_cond(e, type, c) && p4_text_eq(c->status, want);
}

/* ---- reasons ---- */

/*
 * Is r a valid condition reason, as the API server checks it: a letter, then letters, digits,
 * '_', ',' or ':', not ending in ',' or ':', and fitting our buffer?
 */
static bool valid_reason(const char *r)
{
    size_t n;

    if (r == NULL || !((r[0] >= 'A' && r[0] <= 'Z') || (r[0] >= 'a' && r[0] <= 'z')))
        return false;
    for (n = 0; r[n] != '\0'; n++) {
        char c = r[n];

        if (n >= P4_HEALTH_REASON_MAX - 1)
            return false;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ',' || c == ':'))
            return false;
    }
    return r[n - 1] != ',' && r[n - 1] != ':';
}

const char *p4_healtheval_reason_or(const char *r, const char *fallback)
{
    return valid_reason(r) ? r : fallback;
}
