/*
 * stages/validation/httpjudge.c: one spec.validation.http[] entry read, and one answer judged
 * against it (see steps.h). Pure: the answer is outside bytes, bounded by the caller.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/reconciler/stagerun.h"
#include "steps.h"

#define EXCERPT_MAX 160

bool p4_vstage_port_read(const cJSON *port, char out[16])
{
    out[0] = '\0';
    if (cJSON_IsNumber(port) && port->valuedouble >= 1 && port->valuedouble <= 65535)
        (void)snprintf(out, 16, "%d", port->valueint);
    else if (cJSON_IsString(port) && port->valuestring[0] && strlen(port->valuestring) < 16 &&
             strspn(port->valuestring, "abcdefghijklmnopqrstuvwxyz0123456789-") ==
                 strlen(port->valuestring))
        (void)snprintf(out, 16, "%s", port->valuestring);
    return out[0] != '\0';
}

int p4_vstage_check_read(const cJSON *entry, int i, struct p4_vstage_check *c, struct p4_error *err)
{
    const cJSON *port = p4_json_get(entry, "port"), *code;
    const char *name = p4_json_str(entry, "name"), *scheme = p4_json_str(entry, "scheme");
    int64_t n;

    memset(c, 0, sizeof(*c));
    c->service = p4_json_str(entry, "service");
    c->url = p4_json_str(entry, "url");
    if ((c->service == NULL) == (c->url == NULL))
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.validation.http[%d] needs exactly one of service or url", i);
    if (!p4_vstage_port_read(port, c->port) && c->service)
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.validation.http[%d].port must be a port number or name", i);
    c->https = p4_text_eq(scheme, "https");
    c->path = p4_json_str(entry, "path");
    if (c->path == NULL || c->path[0] != '/')
        c->path = "/";
    c->method = p4_json_str(entry, "method");
    if (!(p4_text_eq(c->method, "HEAD") || p4_text_eq(c->method, "POST")))
        c->method = "GET";
    cJSON_ArrayForEach(code, p4_json_get(entry, "statusCodes")) {
        if (c->ncodes < (int)(sizeof(c->codes) / sizeof(c->codes[0])) && cJSON_IsNumber(code) &&
            code->valuedouble >= 100 && code->valuedouble <= 599)
            c->codes[c->ncodes++] = code->valueint;
    }
    c->body_contains = p4_json_str(entry, "bodyContains");
    c->json_path = p4_json_str(entry, "json.path");
    c->json_value = p4_json_str(entry, "json.value");
    if (c->json_path && c->json_value == NULL)
        c->json_value = "";
    c->timeout_ms = p4_duration_ms(p4_json_str(entry, "timeout"), 5000);
    c->interval_ms = p4_duration_ms(p4_json_str(entry, "interval"), 2000);
    if (c->timeout_ms == 0)
        c->timeout_ms = 5000;
    c->success_threshold =
        p4_json_int64(entry, "successThreshold", &n) == 0 && n >= 1 && n <= 10 ? (int)n : 1;
    c->failure_threshold =
        p4_json_int64(entry, "failureThreshold", &n) == 0 && n >= 1 && n <= 30 ? (int)n : 3;
    if (name && name[0])
        p4_text_clean(c->name, sizeof(c->name), name, strlen(name), 0);
    else if (c->service)
        (void)snprintf(c->name, sizeof(c->name), "%s:%s%s", c->service, c->port,
                       strlen(c->path) > 1 ? c->path : "");
    else
        p4_text_clean(c->name, sizeof(c->name), c->url, strlen(c->url), 0);
    return 0;
}

/* The body's start as a quoted excerpt, or nothing for an empty body. */
static void excerpt(const char *body, size_t len, char *out, size_t size)
{
    char text[EXCERPT_MAX];

    out[0] = '\0';
    if (body == NULL || len == 0)
        return;
    p4_text_clean(text, sizeof(text), body, len < sizeof(text) * 2 ? len : sizeof(text) * 2,
                  P4_TEXT_QUOTED | (len > sizeof(text) * 2 ? P4_TEXT_MORE : 0));
    if (text[0])
        (void)snprintf(out, size, "; body: \"%s\"", text);
}

/* A JSON value as text to compare with json.value: a string as is, the rest as JSON writes it. */
static bool value_equals(const cJSON *v, const char *want)
{
    char num[64];

    if (cJSON_IsString(v))
        return strcmp(v->valuestring, want) == 0;
    if (cJSON_IsTrue(v))
        return strcmp(want, "true") == 0;
    if (cJSON_IsFalse(v))
        return strcmp(want, "false") == 0;
    if (cJSON_IsNull(v))
        return strcmp(want, "null") == 0;
    if (cJSON_IsNumber(v)) {
        char *end;
        double w = strtod(want, &end);
        if (end != want && *end == '\0')
            return w == v->valuedouble;
        (void)snprintf(num, sizeof(num), "%.17g", v->valuedouble);
        return strcmp(num, want) == 0;
    }
    return false;
}

bool p4_vstage_http_judge(const struct p4_vstage_check *c, long status, const char *body,
                          size_t len, char *why, size_t size)
{
    char ex[EXCERPT_MAX + 16], want[128] = "200";
    bool code_ok = c->ncodes == 0 ? status == 200 : false;

    if (body == NULL)
        len = 0;
    for (int i = 0; i < c->ncodes; i++) {
        if (c->codes[i] == status)
            code_ok = true;
        if (i == 0)
            (void)snprintf(want, sizeof(want), "%d", c->codes[i]);
        else if (strlen(want) + 8 < sizeof(want))
            (void)snprintf(want + strlen(want), sizeof(want) - strlen(want), " or %d", c->codes[i]);
    }
    excerpt(body, len, ex, sizeof(ex));
    if (!code_ok) {
        (void)snprintf(why, size, "status %ld, want %s%s", status, want, ex);
        return false;
    }
    if (c->body_contains && c->body_contains[0] &&
        (len == 0 || memmem(body, len, c->body_contains, strlen(c->body_contains)) == NULL)) {
        char text[128];
        p4_text_clean(text, sizeof(text), c->body_contains, strlen(c->body_contains),
                      P4_TEXT_QUOTED);
        (void)snprintf(why, size, "status %ld, but the body does not contain \"%s\"%s", status,
                       text, ex);
        return false;
    }
    if (c->json_path) {
        struct p4_error err;
        cJSON *doc = len > 0 ? p4_json_parse(body, len, &err) : NULL;
        const cJSON *v = doc ? p4_json_get(doc, c->json_path) : NULL;
        char path[128], value[128];
        bool ok = v != NULL && value_equals(v, c->json_value);

        p4_text_clean(path, sizeof(path), c->json_path, strlen(c->json_path), P4_TEXT_QUOTED);
        p4_text_clean(value, sizeof(value), c->json_value, strlen(c->json_value), P4_TEXT_QUOTED);
        if (!ok) {
            if (doc == NULL)
                (void)snprintf(why, size, "status %ld, but the body is not JSON%s", status, ex);
            else if (v == NULL)
                (void)snprintf(why, size, "status %ld, but the JSON body has no %s%s", status, path,
                               ex);
            else
                (void)snprintf(why, size, "status %ld, but %s is not \"%s\"%s", status, path, value,
                               ex);
        }
        cJSON_Delete(doc);
        if (!ok)
            return false;
    }
    (void)snprintf(why, size, "status %ld", status);
    return true;
}
