/* apistatus_test.c: Status bodies as the API server writes them, and bodies that are not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/kube/apistatus.h"

#define STATUS_HEAD                                                                                \
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
#define DETAILS_SHOP                                                                               \
    "\"details\":{\"name\":\"shop\",\"group\":\"phase4.io\",\"kind\":\"phase4deployments\"}"

static void decode(long http, const char *body, const char *retry_after, struct p4_apistatus *st)
{
    assert_int_equal(p4_apistatus_decode(http, body, body ? strlen(body) : 0, retry_after, st), 0);
    assert_non_null(st->message);
}

struct reason_case {
    long http;
    const char *body;
    int code;
    const char *reason;
    const char *message;
};

static const struct reason_case reason_cases[] = {
    {404,
     STATUS_HEAD "\"message\":\"phase4deployments.phase4.io \\\"shop\\\" not found\","
                 "\"reason\":\"NotFound\"," DETAILS_SHOP ",\"code\":404}",
     P4_ERR_NOTFOUND, "NotFound", "phase4deployments.phase4.io \"shop\" not found"},
    {409,
     STATUS_HEAD "\"message\":\"phase4deployments.phase4.io \\\"shop\\\" already exists\","
                 "\"reason\":\"AlreadyExists\"," DETAILS_SHOP ",\"code\":409}",
     P4_ERR_EXISTS, "AlreadyExists", "phase4deployments.phase4.io \"shop\" already exists"},
    {409,
     STATUS_HEAD "\"message\":\"Operation cannot be fulfilled on phase4deployments.phase4.io "
                 "\\\"shop\\\": the object has been modified; please apply your changes to the "
                 "latest version and try again\",\"reason\":\"Conflict\"," DETAILS_SHOP
                 ",\"code\":409}",
     P4_ERR_CONFLICT, "Conflict",
     "Operation cannot be fulfilled on phase4deployments.phase4.io \"shop\": the object has been "
     "modified; please apply your changes to the latest version and try again"},
    {403,
     STATUS_HEAD "\"message\":\"phase4deployments.phase4.io \\\"shop\\\" is forbidden: User "
                 "\\\"system:serviceaccount:phase4-system:phase4-operator\\\" cannot patch "
                 "resource \\\"phase4deployments/status\\\" in API group \\\"phase4.io\\\" in the "
                 "namespace \\\"web\\\"\",\"reason\":\"Forbidden\"," DETAILS_SHOP ",\"code\":403}",
     P4_ERR_FORBIDDEN, "Forbidden", NULL},
    {401, STATUS_HEAD "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}",
     P4_ERR_UNAUTHORIZED, "Unauthorized", "Unauthorized"},
    {410,
     STATUS_HEAD "\"message\":\"too old resource version: 1 (2)\",\"reason\":\"Gone\","
                 "\"code\":410}",
     P4_ERR_GONE, "Gone", "too old resource version: 1 (2)"},
    {410,
     STATUS_HEAD "\"message\":\"The provided continue parameter is too old to display a "
                 "consistent list result. You can start a new list without the continue "
                 "parameter.\",\"reason\":\"Expired\",\"code\":410}",
     P4_ERR_GONE, "Expired", NULL},
    {500,
     STATUS_HEAD "\"message\":\"The list operation against phase4deployments could not be "
                 "completed at this time, please try again.\",\"reason\":\"ServerTimeout\","
                 "\"details\":{\"name\":\"list\",\"kind\":\"phase4deployments\"},\"code\":500}",
     P4_ERR_TIMEOUT, "ServerTimeout", NULL},
    {504,
     STATUS_HEAD "\"message\":\"Timeout: request did not complete within requested timeout - "
                 "context deadline exceeded\",\"reason\":\"Timeout\",\"details\":{},\"code\":504}",
     P4_ERR_TIMEOUT, "Timeout", NULL},
    {503,
     STATUS_HEAD "\"message\":\"the server is currently unable to handle the request\","
                 "\"reason\":\"ServiceUnavailable\",\"details\":{},\"code\":503}",
     P4_ERR_UNAVAILABLE, "ServiceUnavailable",
     "the server is currently unable to handle the request"},
    {400,
     STATUS_HEAD "\"message\":\"the server rejected our request for an unknown reason\","
                 "\"reason\":\"BadRequest\",\"code\":400}",
     P4_ERR_BADREQUEST, "BadRequest", NULL},
    {405,
     STATUS_HEAD "\"message\":\"the server does not allow this method on the requested "
                 "resource\",\"reason\":\"MethodNotAllowed\",\"details\":{},\"code\":405}",
     P4_ERR_METHOD, "MethodNotAllowed", NULL},
    {500,
     STATUS_HEAD
     "\"message\":\"Internal error occurred: failed calling webhook "
     "\\\"validate.phase4.io\\\": connection refused\",\"reason\":\"InternalError\","
     "\"details\":{\"causes\":[{\"message\":\"failed calling webhook\"}]},\"code\":500}",
     P4_ERR_INTERNAL, "InternalError", NULL},
    {413,
     STATUS_HEAD "\"message\":\"Request entity too large: limit is 3145728\","
                 "\"reason\":\"RequestEntityTooLarge\",\"code\":413}",
     P4_ERR_TOOBIG, "RequestEntityTooLarge", NULL},
    /* An unknown reason falls back to the HTTP status. */
    {409, STATUS_HEAD "\"message\":\"m\",\"reason\":\"SomethingNew\",\"code\":409}",
     P4_ERR_CONFLICT, "SomethingNew", "m"},
    /* No reason at all (some aggregated API servers). */
    {404,
     STATUS_HEAD "\"message\":\"the server could not find the requested resource\","
                 "\"code\":404}",
     P4_ERR_NOTFOUND, NULL, NULL},
};

static void every_reason_maps_to_its_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(reason_cases) / sizeof(reason_cases[0]); i++) {
        const struct reason_case *c = &reason_cases[i];
        struct p4_apistatus st;

        decode(c->http, c->body, NULL, &st);
        if (st.code != c->code)
            fail_msg("case %zu: code %d, want %d", i, st.code, c->code);
        assert_true(st.has_status);
        assert_int_equal(st.http_code, c->http);
        if (c->reason != NULL)
            assert_string_equal(st.reason, c->reason);
        else
            assert_null(st.reason);
        if (c->message != NULL)
            assert_string_equal(st.message, c->message);
        assert_false(st.has_retry_after);
        p4_apistatus_close(&st);
    }
}

static void not_found_keeps_details_and_reads_as_sentence(void **state)
{
    struct p4_apistatus st;
    struct p4_error err;

    (void)state;
    decode(404, reason_cases[0].body, NULL, &st);
    assert_string_equal(st.name, "shop");
    assert_string_equal(st.group, "phase4.io");
    assert_string_equal(st.kind, "phase4deployments");
    assert_int_equal(st.causes_len, 0);
    assert_int_equal(p4_apistatus_to_error(&st, &err), P4_ERR_NOTFOUND);
    assert_int_equal(err.code, P4_ERR_NOTFOUND);
    assert_string_equal(err.reason, "NotFound");
    assert_string_equal(err.message, "phase4deployments.phase4.io \"shop\" not found");
    p4_apistatus_close(&st);
}

static const char invalid_body[] = STATUS_HEAD
    "\"message\":\"Phase4Deployment.phase4.io \\\"shop\\\" is invalid: [spec.rollout.retries: "
    "Invalid value: 11: spec.rollout.retries in body should be less than or equal to 10, "
    "spec.chart.name: Required value, spec.strategy: Unsupported value: \\\"bluegreen\\\": "
    "supported values: \\\"rolling\\\", \\\"canary\\\"]\",\"reason\":\"Invalid\","
    "\"details\":{\"name\":\"shop\",\"group\":\"phase4.io\",\"kind\":\"Phase4Deployment\","
    "\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: 11: "
    "spec.rollout.retries in body should be less than or equal to 10\","
    "\"field\":\"spec.rollout.retries\"},{\"reason\":\"FieldValueRequired\",\"message\":"
    "\"Required value\",\"field\":\"spec.chart.name\"},{\"reason\":\"FieldValueNotSupported\","
    "\"message\":\"Unsupported value: \\\"bluegreen\\\": supported values: \\\"rolling\\\", "
    "\\\"canary\\\"\",\"field\":\"spec.strategy\"}]},\"code\":422}";

static void invalid_with_three_causes(void **state)
{
    struct p4_apistatus st;
    struct p4_error err;

    (void)state;
    decode(422, invalid_body, NULL, &st);
    assert_int_equal(st.code, P4_ERR_INVALID);
    assert_string_equal(st.kind, "Phase4Deployment");
    assert_int_equal(st.causes_len, 3);
    assert_int_equal(st.causes_total, 3);
    assert_string_equal(st.causes[0].type, "FieldValueInvalid");
    assert_string_equal(st.causes[0].field, "spec.rollout.retries");
    assert_string_equal(st.causes[1].type, "FieldValueRequired");
    assert_string_equal(st.causes[1].message, "Required value");
    assert_string_equal(st.causes[2].field, "spec.strategy");
    assert_false(p4_apistatus_is_retryable(st.code));
    assert_int_equal(p4_apistatus_to_error(&st, &err), P4_ERR_INVALID);
    assert_string_equal(err.reason, "Invalid");
    assert_string_equal(err.message,
                        "Phase4Deployment \"shop\" is invalid: spec.rollout.retries: Invalid "
                        "value: 11: spec.rollout.retries in body should be less than or equal "
                        "to 10 (+2 more)");
    p4_apistatus_close(&st);
}

static void invalid_with_many_or_sparse_causes(void **state)
{
    char body[16384];
    size_t off;
    struct p4_apistatus st;
    struct p4_error err;

    (void)state;
    off = (size_t)snprintf(body, sizeof(body),
                           STATUS_HEAD "\"reason\":\"Invalid\",\"details\":{\"causes\":[");
    for (int i = 0; i < 70; i++)
        off += (size_t)snprintf(body + off, sizeof(body) - off,
                                "%s{\"reason\":\"FieldValueRequired\",\"field\":\"spec.f%d\"},"
                                "\"not-a-cause\"",
                                i ? "," : "", i);
    (void)snprintf(body + off, sizeof(body) - off, "]},\"code\":422}");
    decode(422, body, NULL, &st);
    assert_int_equal(st.causes_len, P4_APISTATUS_CAUSES_MAX);
    assert_int_equal(st.causes_total, 70);
    assert_null(st.causes[0].message);
    p4_apistatus_to_error(&st, &err);
    assert_string_equal(err.message, "object is invalid: spec.f0: FieldValueRequired (+69 more)");
    p4_apistatus_close(&st);
}

static void too_many_requests_retry_after(void **state)
{
    static const char body[] = STATUS_HEAD "\"message\":\"Too many requests, please try again "
                                           "later.\",\"reason\":\"TooManyRequests\","
                                           "\"details\":{\"retryAfterSeconds\":3},\"code\":429}";
    static const char no_details[] = STATUS_HEAD "\"message\":\"Too many requests, please try "
                                                 "again later.\",\"reason\":\"TooManyRequests\","
                                                 "\"details\":{},\"code\":429}";
    struct p4_apistatus st;
    struct p4_error err;

    (void)state;
    /* details.retryAfterSeconds wins over the header. */
    decode(429, body, "5", &st);
    assert_int_equal(st.code, P4_ERR_TOOMANY);
    assert_true(st.has_retry_after);
    assert_int_equal(st.retry_after_seconds, 3);
    assert_true(p4_apistatus_is_retryable(st.code));
    p4_apistatus_to_error(&st, &err);
    assert_string_equal(err.message, "Too many requests, please try again later. (retry after 3s)");
    p4_apistatus_close(&st);

    decode(429, no_details, " 5 ", &st);
    assert_true(st.has_retry_after);
    assert_int_equal(st.retry_after_seconds, 5);
    p4_apistatus_close(&st);

    decode(429, no_details, "0", &st); /* zero is present, not absent */
    assert_true(st.has_retry_after);
    assert_int_equal(st.retry_after_seconds, 0);
    p4_apistatus_close(&st);

    decode(429, no_details, "99999999999999999999999", &st);
    assert_int_equal(st.retry_after_seconds, 86400);
    p4_apistatus_close(&st);

    /* The HTTP-date form and junk are ignored. */
    static const char *const ignored[] = {
        "Wed, 21 Oct 2015 07:28:00 GMT", "-1", "", " ", "5s", "1.5", NULL};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        decode(429, no_details, ignored[i], &st);
        assert_false(st.has_retry_after);
        p4_apistatus_close(&st);
    }
    decode(429, "", "2", &st); /* a header works without a body too */
    assert_int_equal(st.code, P4_ERR_TOOMANY);
    assert_int_equal(st.retry_after_seconds, 2);
    assert_string_equal(st.message, "HTTP 429 Too Many Requests");
    p4_apistatus_close(&st);
}

static void empty_body_503(void **state)
{
    struct p4_apistatus st;
    struct p4_error err;

    (void)state;
    decode(503, "", NULL, &st);
    assert_int_equal(st.code, P4_ERR_UNAVAILABLE);
    assert_false(st.has_status);
    assert_null(st.reason);
    assert_string_equal(st.message, "HTTP 503 Service Unavailable");
    p4_apistatus_to_error(&st, &err);
    assert_string_equal(err.reason, "Unavailable");
    assert_string_equal(err.message, "HTTP 503 Service Unavailable");
    p4_apistatus_close(&st);

    assert_int_equal(p4_apistatus_decode(503, NULL, 10, NULL, &st), 0);
    assert_string_equal(st.message, "HTTP 503 Service Unavailable");
    p4_apistatus_close(&st);
}

static void html_body_502(void **state)
{
    static const char nginx[] = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
                                "<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
                                "<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n";
    static const char other[] = "<!DOCTYPE html><html><head><TITLE>Upstream\tdown</TITLE>";
    struct p4_apistatus st;

    (void)state;
    decode(502, nginx, NULL, &st);
    assert_int_equal(st.code, P4_ERR_UNAVAILABLE);
    assert_false(st.has_status);
    assert_string_equal(st.message, "HTTP 502 Bad Gateway");
    assert_true(p4_apistatus_is_retryable(st.code));
    p4_apistatus_close(&st);

    decode(502, other, NULL, &st);
    assert_string_equal(st.message, "HTTP 502 Bad Gateway: Upstream down");
    p4_apistatus_close(&st);

    decode(502, "<html><body>no title</body></html>", NULL, &st);
    assert_string_equal(st.message, "HTTP 502 Bad Gateway");
    p4_apistatus_close(&st);
}

static void plain_text_is_sanitized_and_truncated(void **state)
{
    char big[4096];
    struct p4_apistatus st;

    (void)state;
    decode(503, "\n  upstream connect error\x1b[31m or\tdisconnect \xff\xfe reset\r\nline 2", NULL,
           &st);
    assert_int_equal(st.code, P4_ERR_UNAVAILABLE);
    assert_string_equal(st.message,
                        "HTTP 503 Service Unavailable: upstream connect error [31m or disconnect "
                        "?? reset");
    p4_apistatus_close(&st);

    /* Multi-byte characters survive, and the cut never splits one. */
    memset(big, 'a', sizeof(big));
    for (size_t i = 1; i + 2 < sizeof(big); i += 3)
        memcpy(big + i, "\xc3\xa9", 2); /* U+00E9 */
    big[sizeof(big) - 1] = '\0';
    decode(500, big, NULL, &st);
    assert_int_equal(st.code, P4_ERR_INTERNAL);
    assert_true(strlen(st.message) < 260);
    assert_non_null(strstr(st.message, "a\303\251a"));
    assert_string_equal(st.message + strlen(st.message) - 3, "...");
    assert_true((unsigned char)st.message[strlen(st.message) - 4] == 0xa9 ||
                st.message[strlen(st.message) - 4] == 'a');
    p4_apistatus_close(&st);
}

static void truncated_or_huge_json(void **state)
{
    static const char cut[] = STATUS_HEAD "\"message\":\"phase4deployments.phase4.io \\\"shop";
    size_t huge_len = (size_t)2 * 1024 * 1024;
    char *huge = malloc(huge_len);
    struct p4_apistatus st;

    (void)state;
    decode(404, cut, NULL, &st);
    assert_int_equal(st.code, P4_ERR_NOTFOUND);
    assert_false(st.has_status);
    assert_non_null(strstr(st.message, "HTTP 404 Not Found: {\"kind\":\"Status\""));
    p4_apistatus_close(&st);

    /* A JSON body too big to be a Status is not parsed; the body need not be terminated. */
    assert_non_null(huge);
    memset(huge, ' ', huge_len);
    memcpy(huge, reason_cases[0].body, strlen(reason_cases[0].body));
    assert_int_equal(p4_apistatus_decode(404, huge, huge_len, NULL, &st), 0);
    assert_int_equal(st.code, P4_ERR_NOTFOUND);
    assert_false(st.has_status);
    assert_true(strlen(st.message) < 260);
    p4_apistatus_close(&st);

    /* The same Status in an exact-length, unterminated buffer is read. */
    memcpy(huge, reason_cases[0].body, strlen(reason_cases[0].body));
    assert_int_equal(p4_apistatus_decode(404, huge, strlen(reason_cases[0].body), NULL, &st), 0);
    assert_true(st.has_status);
    assert_string_equal(st.reason, "NotFound");
    p4_apistatus_close(&st);
    free(huge);

    /* JSON that is not a Status still maps by HTTP code. */
    decode(404, "{\"error\":\"no route\"}", NULL, &st);
    assert_int_equal(st.code, P4_ERR_NOTFOUND);
    assert_string_equal(st.message, "HTTP 404 Not Found: {\"error\":\"no route\"}");
    p4_apistatus_close(&st);
}

static void http_classes_without_reason(void **state)
{
    static const struct {
        long http;
        int code;
    } cases[] = {
        {418, P4_ERR_BADREQUEST},
        {599, P4_ERR_INTERNAL},
        {302, P4_ERR_TRANSPORT},
        {0, P4_ERR_TRANSPORT},
        {200, 0},
        {408, P4_ERR_TIMEOUT},
        {504, P4_ERR_TIMEOUT},
        {500, P4_ERR_INTERNAL},
        {422, P4_ERR_INVALID},
        {401, P4_ERR_UNAUTHORIZED},
        {403, P4_ERR_FORBIDDEN},
        {-5, P4_ERR_TRANSPORT},
    };
    struct p4_apistatus st;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        decode(cases[i].http, "", NULL, &st);
        if (st.code != cases[i].code)
            fail_msg("HTTP %ld: code %d, want %d", cases[i].http, st.code, cases[i].code);
        p4_apistatus_close(&st);
    }
    decode(599, "", NULL, &st);
    assert_string_equal(st.message, "HTTP 599");
    p4_apistatus_close(&st);
}

static void success_status_is_not_an_error(void **state)
{
    static const char body[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                               "\"status\":\"Success\",\"details\":{\"name\":\"shop\","
                               "\"group\":\"phase4.io\",\"kind\":\"phase4deployments\","
                               "\"uid\":\"5f3c1e9a-0a4b-4c1e-9d3a-2b9f0c7e6d11\"}}";
    struct p4_apistatus st;

    (void)state;
    decode(200, body, NULL, &st);
    assert_int_equal(st.code, 0);
    assert_string_equal(st.name, "shop");
    p4_apistatus_close(&st);
}

static void watch_error_event_status(void **state)
{
    static const char object[] = STATUS_HEAD "\"message\":\"too old resource version: 5 (90)\","
                                             "\"reason\":\"Expired\",\"code\":410}";
    cJSON *obj = p4_json_parse(object, strlen(object), NULL);
    cJSON *bare = p4_json_parse("{\"message\":\"x\"}", 15, NULL);
    cJSON *num = cJSON_CreateNumber(3);
    struct p4_apistatus st;
    struct p4_error err;

    (void)state;
    assert_int_equal(p4_apistatus_from_json(obj, &st), 0);
    assert_int_equal(st.code, P4_ERR_GONE);
    assert_int_equal(st.http_code, 410);
    assert_false(p4_apistatus_is_retryable(st.code));
    p4_apistatus_to_error(&st, &err);
    assert_string_equal(err.reason, "Gone");
    assert_string_equal(err.message, "too old resource version: 5 (90)");
    p4_apistatus_close(&st);

    /* No status, reason or code: still a failure. */
    assert_int_equal(p4_apistatus_from_json(bare, &st), 0);
    assert_int_equal(st.code, P4_ERR_INTERNAL);
    p4_apistatus_close(&st);

    assert_int_equal(p4_apistatus_from_json(num, &st), P4_ERR_PARSE);
    assert_int_equal(st.code, P4_ERR_PARSE);
    assert_non_null(st.message);
    p4_apistatus_close(&st);
    assert_int_equal(p4_apistatus_from_json(NULL, &st), P4_ERR_PARSE);
    p4_apistatus_close(&st);

    assert_int_equal(p4_apistatus_from_json(obj, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_apistatus_decode(404, "", 0, NULL, NULL), P4_ERR_INVAL);
    p4_apistatus_close(NULL);
    assert_int_equal(p4_apistatus_to_error(NULL, &err), P4_ERR_INVAL);
    cJSON_Delete(obj);
    cJSON_Delete(bare);
    cJSON_Delete(num);
}

static void hostile_strings_are_cleaned(void **state)
{
    static const char body[] =
        STATUS_HEAD "\"message\":\"line1\\nline2\\u001b[0m\\u0000hidden\",\"reason\":\"Forbidden\","
                    "\"details\":{\"name\":\"a\\tb\"},\"code\":403}";
    struct p4_apistatus st;
    struct p4_error err;

    (void)state;
    decode(403, body, NULL, &st);
    assert_string_equal(st.message, "line1 line2 [0m");
    assert_string_equal(st.name, "a b");
    p4_apistatus_to_error(&st, &err);
    assert_null(strchr(err.message, '\n'));
    p4_apistatus_close(&st);
}

static void retryable_codes(void **state)
{
    (void)state;
    assert_true(p4_apistatus_is_retryable(P4_ERR_CONFLICT));
    assert_true(p4_apistatus_is_retryable(P4_ERR_TOOMANY));
    assert_true(p4_apistatus_is_retryable(P4_ERR_TIMEOUT));
    assert_true(p4_apistatus_is_retryable(P4_ERR_UNAVAILABLE));
    assert_true(p4_apistatus_is_retryable(P4_ERR_INTERNAL));
    assert_false(p4_apistatus_is_retryable(P4_ERR_NOTFOUND));
    assert_false(p4_apistatus_is_retryable(P4_ERR_FORBIDDEN));
    assert_false(p4_apistatus_is_retryable(P4_ERR_GONE));
    assert_false(p4_apistatus_is_retryable(P4_ERR_INVALID));
    assert_false(p4_apistatus_is_retryable(0));
}

/* The NamespaceLifecycle admission's refusal, as the API server sends it, read to its sentence. */
static void namespace_terminating_is_told_apart(void **state)
{
    static const char body[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
        "\"message\":\"configmaps \\\"web\\\" is forbidden: unable to create new content in "
        "namespace shop because it is being terminated\",\"reason\":\"Forbidden\","
        "\"details\":{\"name\":\"web\",\"kind\":\"configmaps\",\"causes\":[{\"reason\":"
        "\"NamespaceTerminating\",\"message\":\"namespace shop is being terminated\","
        "\"field\":\"metadata.namespace\"}]},\"code\":403}";
    struct p4_apistatus st;
    struct p4_error err;

    (void)state;
    assert_int_equal(p4_apistatus_decode(403, body, sizeof(body) - 1, NULL, &st), 0);
    assert_int_equal(p4_apistatus_to_error(&st, &err), P4_ERR_FORBIDDEN);
    assert_true(p4_apistatus_namespace_terminating(err.code, err.message));
    p4_apistatus_close(&st);
    /* RBAC's refusal, the same words with another code, and a policy quoting them */
    assert_false(p4_apistatus_namespace_terminating(
        P4_ERR_FORBIDDEN, "configmaps is forbidden: User \"x\" cannot create resource"));
    assert_false(
        p4_apistatus_namespace_terminating(P4_ERR_CONFLICT, "because it is being terminated"));
    assert_false(p4_apistatus_namespace_terminating(
        P4_ERR_FORBIDDEN, "admission webhook \"a.example.com\" denied the request: because it is "
                          "being terminated"));
    assert_false(p4_apistatus_namespace_terminating(P4_ERR_FORBIDDEN, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_reason_maps_to_its_code),
        cmocka_unit_test(not_found_keeps_details_and_reads_as_sentence),
        cmocka_unit_test(invalid_with_three_causes),
        cmocka_unit_test(invalid_with_many_or_sparse_causes),
        cmocka_unit_test(too_many_requests_retry_after),
        cmocka_unit_test(empty_body_503),
        cmocka_unit_test(html_body_502),
        cmocka_unit_test(plain_text_is_sanitized_and_truncated),
        cmocka_unit_test(truncated_or_huge_json),
        cmocka_unit_test(http_classes_without_reason),
        cmocka_unit_test(success_status_is_not_an_error),
        cmocka_unit_test(watch_error_event_status),
        cmocka_unit_test(hostile_strings_are_cleaned),
        cmocka_unit_test(retryable_codes),
        cmocka_unit_test(namespace_terminating_is_told_apart),
    };
    return cmocka_run_group_tests_name("apistatus", tests, NULL, NULL);
}
