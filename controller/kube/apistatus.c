/* apistatus.c: the API server's Status objects turned into our errors (see apistatus.h). */
#include "phase4/kube/apistatus.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* A Status is a few KiB; a bigger body is not one, so we do not parse it. */
#define BODY_JSON_MAX ((size_t)1024 * 1024)
/* Longest string kept from a Status, and from the first line of another body. */
#define FIELD_MAX 1024
#define LINE_MAX_SHOWN 200
/* How far into an HTML body we look for its <title>. */
#define HTML_SCAN_MAX 4096
/* A server asking us to wait more than a day is wrong; wait a day. */
#define RETRY_AFTER_MAX 86400

struct reason_row {
    const char *reason;
    int code;
};

/* metav1.StatusReason values; Expired (a list or watch too old) needs a relist, as Gone does. */
static const struct reason_row reasons[] = {
    {"NotFound", P4_ERR_NOTFOUND},
    {"AlreadyExists", P4_ERR_EXISTS},
    {"Conflict", P4_ERR_CONFLICT},
    {"Forbidden", P4_ERR_FORBIDDEN},
    {"Unauthorized", P4_ERR_UNAUTHORIZED},
    {"Invalid", P4_ERR_INVALID},
    {"Gone", P4_ERR_GONE},
    {"Expired", P4_ERR_GONE},
    {"TooManyRequests", P4_ERR_TOOMANY},
    {"ServerTimeout", P4_ERR_TIMEOUT},
    {"Timeout", P4_ERR_TIMEOUT},
    {"ServiceUnavailable", P4_ERR_UNAVAILABLE},
    {"BadRequest", P4_ERR_BADREQUEST},
    {"MethodNotAllowed", P4_ERR_METHOD},
    {"NotAcceptable", P4_ERR_BADREQUEST},
    {"UnsupportedMediaType", P4_ERR_BADREQUEST},
    {"RequestEntityTooLarge", P4_ERR_TOOBIG},
    {"InternalError", P4_ERR_INTERNAL},
};

struct http_row {
    long http;
    int code;
    const char *text;
};

static const struct http_row statuses[] = {
    {200, 0, "OK"},
    {201, 0, "Created"},
    {202, 0, "Accepted"},
    {400, P4_ERR_BADREQUEST, "Bad Request"},
    {401, P4_ERR_UNAUTHORIZED, "Unauthorized"},
    {403, P4_ERR_FORBIDDEN, "Forbidden"},
    {404, P4_ERR_NOTFOUND, "Not Found"},
    {405, P4_ERR_METHOD, "Method Not Allowed"},
    {406, P4_ERR_BADREQUEST, "Not Acceptable"},
    {408, P4_ERR_TIMEOUT, "Request Timeout"},
    {409, P4_ERR_CONFLICT, "Conflict"},
    {410, P4_ERR_GONE, "Gone"},
    {413, P4_ERR_TOOBIG, "Payload Too Large"},
    {415, P4_ERR_BADREQUEST, "Unsupported Media Type"},
    {422, P4_ERR_INVALID, "Unprocessable Entity"},
    {429, P4_ERR_TOOMANY, "Too Many Requests"},
    {500, P4_ERR_INTERNAL, "Internal Server Error"},
    {502, P4_ERR_UNAVAILABLE, "Bad Gateway"},
    {503, P4_ERR_UNAVAILABLE, "Service Unavailable"},
    {504, P4_ERR_TIMEOUT, "Gateway Timeout"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct http_row *http_lookup(long http)
{
    for (size_t i = 0; i < COUNT(statuses); i++) {
        if (statuses[i].http == http)
            return &statuses[i];
    }
    return NULL;
}

/*
 * The P4_ERR_* for a response: a known reason wins, then the exact HTTP
 * status, then its class. failure says whether the Status claims to be one.
 */
static int map_code(const char *reason, long http, bool has_status, bool failure)
{
    const struct http_row *row;

    for (size_t i = 0; reason != NULL && i < COUNT(reasons); i++) {
        if (strcmp(reason, reasons[i].reason) == 0)
            return reasons[i].code;
    }
    row = http_lookup(http);
    if (row != NULL && row->code != 0)
        return row->code;
    if (http >= 400 && http < 500)
        return P4_ERR_BADREQUEST;
    if (http >= 500 && http < 600)
        return P4_ERR_INTERNAL;
    if ((http >= 200 && http < 300) || (http <= 0 && has_status))
        return failure ? P4_ERR_INTERNAL : 0;
    /* 1xx, 3xx, nonsense codes, or no HTTP status and no Status: not the API server talking. */
    return P4_ERR_TRANSPORT;
}

/*
 * A copy of n bytes of network text fit for logs and conditions (caller frees), at most max
 * bytes: the text.h rule, with control characters as spaces as they always were here.
 */
static char *sanitize(const char *text, size_t n, size_t max)
{
    char *out = p4_malloc(max + 1);

    (void)p4_text_clean(out, max + 1, text, n, P4_TEXT_CONTROL_SPACE);
    return out;
}

static char *dup_field(const cJSON *obj, const char *path)
{
    const char *s = p4_json_str(obj, path);

    return s != NULL ? sanitize(s, strlen(s), FIELD_MAX) : NULL;
}

/* Offset of needle (lowercase ASCII) in s[0..n), ignoring case; n when absent. */
static size_t find_nocase(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);

    for (size_t i = 0; i + m <= n; i++) {
        if (strncasecmp(s + i, needle, m) == 0)
            return i;
    }
    return n;
}

/* The text of an HTML body's <title> (caller frees), or NULL. */
static char *html_title(const char *body, size_t len)
{
    size_t n = len < HTML_SCAN_MAX ? len : HTML_SCAN_MAX;
    size_t start = find_nocase(body, n, "<title>");
    size_t end;

    if (start == n)
        return NULL;
    start += strlen("<title>");
    for (end = start; end < n && body[end] != '<'; end++)
        ;
    return end > start ? sanitize(body + start, end - start, LINE_MAX_SHOWN) : NULL;
}

/*
 * A message for a response that carried none (caller frees): "HTTP 502 Bad
 * Gateway" followed by the HTML title or the first line of a text body.
 */
static char *fallback_message(long http, const char *body, size_t len)
{
    const struct http_row *row = http_lookup(http);
    char head[64];
    char *line = NULL;
    char *msg;
    size_t start = 0, end;

    if (http > 0)
        (void)snprintf(head, sizeof(head), "HTTP %ld%s%s", http, row ? " " : "",
                       row ? row->text : "");
    else
        (void)snprintf(head, sizeof(head), "the API server gave no message");
    while (start < len && p4_json_space(body[start]))
        start++;
    if (start < len && body[start] == '<') {
        line = html_title(body + start, len - start);
    } else if (start < len) {
        for (end = start; end < len && body[end] != '\n' && body[end] != '\r'; end++)
            ;
        line = sanitize(body + start, end - start, LINE_MAX_SHOWN);
    }
    /* nginx's "<title>502 Bad Gateway</title>" would only repeat the head. */
    if (line == NULL || line[0] == '\0' || (row != NULL && strstr(line, row->text) != NULL)) {
        msg = p4_strdup(head);
    } else {
        size_t size = strlen(head) + strlen(line) + 3;

        msg = p4_malloc(size);
        (void)snprintf(msg, size, "%s: %s", head, line);
    }
    free(line);
    return msg;
}

/* A delta-seconds Retry-After value; false for anything else. */
static bool parse_retry_after(const char *h, int64_t *out)
{
    int64_t v = 0;
    bool digits = false;

    if (h == NULL)
        return false;
    while (*h == ' ' || *h == '\t')
        h++;
    for (; *h >= '0' && *h <= '9'; h++) {
        digits = true;
        if (v <= RETRY_AFTER_MAX)
            v = v * 10 + (*h - '0');
    }
    while (*h == ' ' || *h == '\t')
        h++;
    /*
     * The HTTP-date form ("Wed, 21 Oct 2015 07:28:00 GMT") is ignored: the
     * API server and its priority-and-fairness filter send seconds only, and
     * a date would make us trust the proxy's clock.
     */
    if (!digits || *h != '\0')
        return false;
    *out = v < RETRY_AFTER_MAX ? v : RETRY_AFTER_MAX;
    return true;
}

static void read_causes(struct p4_apistatus *st, const cJSON *causes)
{
    const cJSON *c;
    size_t n = 0;

    if (!cJSON_IsArray(causes))
        return;
    for (c = causes->child; c != NULL; c = c->next) {
        if (cJSON_IsObject(c))
            n++;
    }
    if (n == 0)
        return;
    st->causes_total = n;
    st->causes =
        p4_calloc(n < P4_APISTATUS_CAUSES_MAX ? n : P4_APISTATUS_CAUSES_MAX, sizeof(*st->causes));
    for (c = causes->child; c != NULL; c = c->next) {
        struct p4_apistatus_cause *cause;

        if (!cJSON_IsObject(c))
            continue;
        if (st->causes_len == P4_APISTATUS_CAUSES_MAX)
            break;
        cause = &st->causes[st->causes_len++];
        /* metav1.StatusCause serializes its Type as "reason". */
        cause->type = dup_field(c, "reason");
        cause->message = dup_field(c, "message");
        cause->field = dup_field(c, "field");
    }
}

/* Fill st from a Status object; failure_default says how to read a missing "status". */
static void read_status(struct p4_apistatus *st, const cJSON *obj, bool failure_default)
{
    const char *status = p4_json_str(obj, "status");
    bool failure = status != NULL ? strcmp(status, "Failure") == 0 : failure_default;
    int64_t v;

    st->has_status = true;
    if (st->http_code <= 0 && p4_json_int64(obj, "code", &v) == 0 && v > 0 && v < 1000)
        st->http_code = (long)v;
    st->reason = dup_field(obj, "reason");
    if (st->reason != NULL && st->reason[0] == '\0') {
        free(st->reason);
        st->reason = NULL;
    }
    st->message = dup_field(obj, "message");
    if (st->message != NULL && st->message[0] == '\0') {
        free(st->message);
        st->message = NULL;
    }
    st->name = dup_field(obj, "details.name");
    st->group = dup_field(obj, "details.group");
    st->kind = dup_field(obj, "details.kind");
    read_causes(st, p4_json_get(obj, "details.causes"));
    if (p4_json_int64(obj, "details.retryAfterSeconds", &v) == 0 && v >= 0) {
        st->has_retry_after = true;
        st->retry_after_seconds = v < RETRY_AFTER_MAX ? v : RETRY_AFTER_MAX;
    }
    st->code = map_code(st->reason, st->http_code, true, failure);
}

int p4_apistatus_decode(long http_code, const char *body, size_t len,
                        const char *retry_after_header, struct p4_apistatus *st)
{
    cJSON *root = NULL;
    size_t start = 0;
    int rc = 0;

    if (st == NULL) {
        rc = P4_ERR_INVAL;
        goto out;
    }
    memset(st, 0, sizeof(*st));
    st->http_code = http_code;
    if (body == NULL)
        len = 0;
    while (start < len && p4_json_space(body[start]))
        start++;
    /* Only something that opens like an object can be a Status; skip parsing the rest. */
    if (start < len && body[start] == '{' && len <= BODY_JSON_MAX)
        root = p4_json_parse(body, len, NULL);
    if (cJSON_IsObject(root))
        read_status(st, root, false);
    else
        st->code = map_code(NULL, http_code, false, false);
    if (st->message == NULL)
        st->message = fallback_message(st->http_code, body, len);
    if (!st->has_retry_after)
        st->has_retry_after = parse_retry_after(retry_after_header, &st->retry_after_seconds);
out:
    cJSON_Delete(root);
    return rc;
}

int p4_apistatus_from_json(const cJSON *status_obj, struct p4_apistatus *st)
{
    int rc = 0;

    if (st == NULL) {
        rc = P4_ERR_INVAL;
        goto out;
    }
    memset(st, 0, sizeof(*st));
    if (!cJSON_IsObject(status_obj)) {
        st->code = P4_ERR_PARSE;
        st->message = p4_strdup("the API server sent an error without a Status object");
        rc = P4_ERR_PARSE;
        goto out;
    }
    /* A watch ERROR event is a failure even when its Status omits "status". */
    read_status(st, status_obj, true);
    if (st->message == NULL)
        st->message = fallback_message(st->http_code, NULL, 0);
out:
    return rc;
}

void p4_apistatus_close(struct p4_apistatus *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->causes_len; i++) {
        free(st->causes[i].type);
        free(st->causes[i].message);
        free(st->causes[i].field);
    }
    free(st->causes);
    free(st->reason);
    free(st->message);
    free(st->name);
    free(st->group);
    free(st->kind);
    memset(st, 0, sizeof(*st));
}

/* Append to buf at *off, never past size; *off stops at size - 1. */
static void put(char *buf, size_t size, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*off + 1 >= size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *off, size - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off = (size_t)n < size - *off ? *off + (size_t)n : size - 1;
}

int p4_apistatus_to_error(const struct p4_apistatus *st, struct p4_error *err)
{
    char text[P4_ERROR_MESSAGE_MAX];
    size_t off = 0;

    if (st == NULL)
        return p4_error_set(err, P4_ERR_INVAL, "no API status to report");
    text[0] = '\0';
    if (st->code == P4_ERR_INVALID && st->causes_len > 0) {
        const struct p4_apistatus_cause *c = &st->causes[0];
        const char *what = c->message ? c->message : c->type;

        put(text, sizeof(text), &off, "%s", st->kind ? st->kind : "object");
        if (st->name != NULL)
            put(text, sizeof(text), &off, " \"%s\"", st->name);
        put(text, sizeof(text), &off, " is invalid: ");
        if (c->field != NULL)
            put(text, sizeof(text), &off, "%s: ", c->field);
        put(text, sizeof(text), &off, "%s", what ? what : "invalid value");
        if (st->causes_total > 1)
            put(text, sizeof(text), &off, " (+%zu more)", st->causes_total - 1);
    } else {
        put(text, sizeof(text), &off, "%s", st->message ? st->message : p4_strerror(st->code));
    }
    if (st->has_retry_after)
        put(text, sizeof(text), &off, " (retry after %llds)", (long long)st->retry_after_seconds);
    return p4_error_set(err, st->code, "%s", text);
}

bool p4_apistatus_namespace_terminating(int code, const char *message)
{
    /* A webhook's or a policy's denial may quote anything: it is theirs, not this. */
    return code == P4_ERR_FORBIDDEN && message != NULL &&
           strstr(message, "because it is being terminated") != NULL &&
           strstr(message, "admission webhook") == NULL &&
           strstr(message, "ValidatingAdmissionPolicy") == NULL;
}

bool p4_apistatus_is_retryable(int code)
{
    switch (code) {
    case P4_ERR_CONFLICT:
    case P4_ERR_TOOMANY:
    case P4_ERR_TIMEOUT:
    case P4_ERR_UNAVAILABLE:
    case P4_ERR_INTERNAL:
        return true;
    default:
        return false;
    }
}
