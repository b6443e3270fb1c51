/* watchframe.c: framing of a Kubernetes watch stream into events (see watchframe.h). */
#include "phase4/kube/watchframe.h"

#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/jsonscan.h"
#include "phase4/core/text.h"

/* A buffer grown past this for one big event is released once the event is done. */
#define KEEP_CAPACITY ((size_t)64 * 1024)

static const char *const type_names[] = {
    [P4_WATCH_ADDED] = "ADDED",     [P4_WATCH_MODIFIED] = "MODIFIED",
    [P4_WATCH_DELETED] = "DELETED", [P4_WATCH_BOOKMARK] = "BOOKMARK",
    [P4_WATCH_ERROR] = "ERROR",
};

#define TYPE_COUNT (sizeof(type_names) / sizeof(type_names[0]))

const char *p4_watch_type_name(enum p4_watch_type type)
{
    return (size_t)type < TYPE_COUNT ? type_names[type] : "UNKNOWN";
}

void p4_watchframe_init(struct p4_watchframe *wf)
{
    memset(wf, 0, sizeof(*wf));
    wf->line_max = P4_WATCHFRAME_LINE_MAX;
}

static void drop_buffer(struct p4_watchframe *wf)
{
    free(wf->buf);
    wf->buf = NULL;
    wf->len = 0;
    wf->cap = 0;
}

void p4_watchframe_close(struct p4_watchframe *wf)
{
    if (wf == NULL)
        return;
    drop_buffer(wf);
    free(wf->resource_version);
    p4_watchframe_init(wf);
}

void p4_watchframe_reset(struct p4_watchframe *wf)
{
    if (wf == NULL)
        return;
    drop_buffer(wf);
    wf->discarding = false;
    p4_error_clear(&wf->error);
}

const char *p4_watchframe_resource_version(const struct p4_watchframe *wf)
{
    return wf != NULL ? wf->resource_version : NULL;
}

/* Append n bytes; the caller has checked that len + n stays within line_max. */
static void append(struct p4_watchframe *wf, const char *data, size_t n)
{
    if (n == 0)
        return;
    if (wf->len + n > wf->cap) {
        size_t cap = wf->cap ? wf->cap : 256;

        while (cap < wf->len + n)
            cap = cap <= wf->line_max / 2 ? cap * 2 : wf->len + n;
        wf->buf = p4_realloc(wf->buf, cap);
        wf->cap = cap;
    }
    memcpy(wf->buf + wf->len, data, n);
    wf->len += n;
}

/* Keep the first error of a feed call in *rc and wf->error. */
static void note_error(struct p4_watchframe *wf, int *rc, const struct p4_error *err)
{
    if (*rc != 0)
        return;
    *rc = err->code;
    wf->error = *err;
}

static bool type_from_name(const char *name, enum p4_watch_type *type)
{
    for (size_t i = 0; i < TYPE_COUNT; i++) {
        if (strcmp(name, type_names[i]) == 0) {
            *type = (enum p4_watch_type)i;
            return true;
        }
    }
    return false;
}

static bool is_blank(const char *line, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    }
    return true;
}

/* A short copy of network text safe to log, byte for byte: printable ASCII only, others as '?'. */
static const char *printable(const char *s, char *out, size_t size)
{
    (void)p4_text_clean(out, size, s, strlen(s), P4_TEXT_ASCII | P4_TEXT_LITERAL);
    return out;
}

static void remember_version(struct p4_watchframe *wf, const cJSON *object)
{
    const char *rv = p4_json_str(object, "metadata.resourceVersion");

    if (rv == NULL || rv[0] == '\0')
        return;
    free(wf->resource_version);
    wf->resource_version = p4_strdup(rv);
}

/*
 * A line cJSON refused as a whole: cut it with the scanner, parse its object on its own, and
 * hand what still cannot be parsed to on_unreadable. Returns 0 once delivered, or the
 * P4_ERR_* of why the line is bad in err (the parser's own words when it is not JSON at all).
 */
static int unreadable_line(struct p4_watchframe *wf, const char *line, size_t n,
                           const struct p4_error *parse_err, p4_watchframe_cb cb, void *cb_data,
                           struct p4_error *err)
{
    struct p4_jsonscan_span doc, t, o, rv;
    struct p4_error why;
    enum p4_watch_type type;
    char name[16], version[128];
    cJSON *object;

    if (p4_jsonscan_document(line, n, &doc, NULL, NULL) != 0 || !p4_jsonscan_is_object(line, doc))
        return p4_error_set(err, parse_err->code, "watch event line: %s", parse_err->message);
    if (p4_jsonscan_member(line, doc, "type", &t) != 0 ||
        p4_jsonscan_string(line, t, name, sizeof(name)) != 0 || !type_from_name(name, &type))
        return p4_error_set(err, P4_ERR_PARSE, "watch event has no known \"type\"");
    if (p4_jsonscan_member(line, doc, "object", &o) != 0 || !p4_jsonscan_is_object(line, o))
        return p4_error_set(err, P4_ERR_PARSE, "%s watch event has no \"object\" object",
                            type_names[type]);
    object = p4_json_parse(line + o.off, o.len, &why);
    if (object != NULL) { /* only the line around it was too deep */
        if (type != P4_WATCH_ERROR)
            remember_version(wf, object);
        cb(type, object, cb_data);
        return 0;
    }
    if (type == P4_WATCH_ERROR)
        return p4_error_set(err, why.code, "ERROR watch event: %s", why.message);
    if (p4_jsonscan_member(line, o, "metadata", &t) == 0 &&
        p4_jsonscan_member(line, t, "resourceVersion", &rv) == 0 &&
        p4_jsonscan_string(line, rv, version, sizeof(version)) == 0 && version[0] != '\0') {
        free(wf->resource_version);
        wf->resource_version = p4_strdup(version);
    }
    wf->on_unreadable(type, line + o.off, o.len, &why, cb_data);
    return 0;
}

/*
 * Whether wf->keep refuses the event on line: cut with the scanner, nothing parsed. A line the
 * scanner cannot cut is not refused here: parsing it then says what is wrong.
 */
static bool refused(struct p4_watchframe *wf, const char *line, size_t n, void *cb_data)
{
    struct p4_jsonscan_span doc, t, o;
    char name[16];
    enum p4_watch_type type;

    if (wf->keep == NULL || p4_jsonscan_document(line, n, &doc, NULL, NULL) != 0 ||
        !p4_jsonscan_is_object(line, doc) || p4_jsonscan_member(line, doc, "type", &t) != 0 ||
        p4_jsonscan_string(line, t, name, sizeof(name)) != 0 || !type_from_name(name, &type) ||
        type == P4_WATCH_BOOKMARK || type == P4_WATCH_ERROR ||
        p4_jsonscan_member(line, doc, "object", &o) != 0 || !p4_jsonscan_is_object(line, o))
        return false;
    return !wf->keep(line + o.off, o.len, cb_data);
}

/* Decode one complete line (without its '\n') and deliver it; 0 or a P4_ERR_* in err. */
static int handle_line(struct p4_watchframe *wf, const char *line, size_t n, p4_watchframe_cb cb,
                       void *cb_data, struct p4_error *err)
{
    cJSON *event = NULL;
    cJSON *object;
    const char *name;
    enum p4_watch_type type;
    struct p4_error parse_err;
    char shown[40];
    int rc = 0;

    if (is_blank(line, n) || refused(wf, line, n, cb_data))
        goto out;
    event = p4_json_parse(line, n, &parse_err);
    if (event == NULL && wf->on_unreadable != NULL && parse_err.code == P4_ERR_PARSE) {
        rc = unreadable_line(wf, line, n, &parse_err, cb, cb_data, err);
        goto out;
    }
    if (event == NULL) {
        rc = p4_error_set(err, parse_err.code, "watch event line: %s", parse_err.message);
        goto out;
    }
    if (!cJSON_IsObject(event)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "watch event is not a JSON object");
        goto out;
    }
    name = p4_json_str(event, "type");
    if (name == NULL) {
        rc = p4_error_set(err, P4_ERR_PARSE, "watch event has no string \"type\"");
        goto out;
    }
    if (!type_from_name(name, &type)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "watch event has unknown type \"%s\"",
                          printable(name, shown, sizeof(shown)));
        goto out;
    }
    object = cJSON_GetObjectItemCaseSensitive(event, "object");
    if (!cJSON_IsObject(object)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "%s watch event has no \"object\" object",
                          type_names[type]);
        goto out;
    }
    cJSON_DetachItemViaPointer(event, object);
    if (type != P4_WATCH_ERROR)
        remember_version(wf, object);
    cb(type, object, cb_data);
out:
    cJSON_Delete(event);
    return rc;
}

int p4_watchframe_feed(struct p4_watchframe *wf, const char *data, size_t len, p4_watchframe_cb cb,
                       void *cb_data)
{
    struct p4_error err;
    int rc = 0;

    if (wf == NULL)
        return P4_ERR_INVAL;
    p4_error_clear(&wf->error);
    if (cb == NULL || (data == NULL && len > 0)) {
        rc = p4_error_set(&wf->error, P4_ERR_INVAL, "watch frame fed without data or callback");
        goto out;
    }
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - data) : len;

        if (wf->discarding) {
            wf->discarding = nl == NULL;
        } else if (n > wf->line_max || wf->len > wf->line_max - n) {
            p4_error_set(&err, P4_ERR_TOOBIG, "watch event line exceeds %zu bytes; dropped",
                         wf->line_max);
            note_error(wf, &rc, &err);
            drop_buffer(wf);
            wf->discarding = nl == NULL;
        } else if (nl == NULL) {
            append(wf, data, n);
        } else if (wf->len == 0) {
            /* The whole line is in this chunk: decode it in place, no copy. */
            if (handle_line(wf, data, n, cb, cb_data, &err) < 0)
                note_error(wf, &rc, &err);
        } else {
            append(wf, data, n);
            if (handle_line(wf, wf->buf, wf->len, cb, cb_data, &err) < 0)
                note_error(wf, &rc, &err);
            if (wf->cap > KEEP_CAPACITY)
                drop_buffer(wf);
            wf->len = 0;
        }
        if (nl != NULL)
            n++;
        data += n;
        len -= n;
    }
out:
    return rc;
}
