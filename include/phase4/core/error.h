/*
 * error.h: the project's error codes and the error record handed to callers.
 *
 * Functions that can fail return 0 or a negative P4_ERR_* code. When a caller
 * needs words for a status condition or an Event, it passes a struct p4_error
 * that the callee fills: a stable CamelCase reason and a one-sentence message.
 * Every code and its text live once, in P4_ERRNO_MAP below.
 */
#ifndef PHASE4_ERROR_H
#define PHASE4_ERROR_H

#include <stddef.h>

/* X(name, reason, text): name becomes P4_ERR_<name>. */
#define P4_ERRNO_MAP(X)                                                                            \
    X(INVAL, "InvalidArgument", "invalid argument")                                                \
    X(NOMEM, "OutOfMemory", "out of memory")                                                       \
    X(IO, "IOError", "input/output error")                                                         \
    X(PARSE, "ParseError", "malformed input")                                                      \
    X(NOTFOUND, "NotFound", "not found")                                                           \
    X(EXISTS, "AlreadyExists", "already exists")                                                   \
    X(CONFLICT, "Conflict", "conflict")                                                            \
    X(FORBIDDEN, "Forbidden", "forbidden")                                                         \
    X(UNAUTHORIZED, "Unauthorized", "unauthorized")                                                \
    X(INVALID, "Invalid", "rejected as invalid")                                                   \
    X(GONE, "Gone", "resource version too old")                                                    \
    X(TOOMANY, "TooManyRequests", "too many requests")                                             \
    X(TIMEOUT, "Timeout", "timed out")                                                             \
    X(UNAVAILABLE, "Unavailable", "service unavailable")                                           \
    X(TRANSPORT, "TransportError", "transport error")                                              \
    X(TLS, "TLSError", "TLS verification failed")                                                  \
    X(CANCELED, "Canceled", "canceled")                                                            \
    X(TOOBIG, "TooLarge", "input too large")                                                       \
    X(EXPIRED, "Expired", "expired")                                                               \
    X(BADREQUEST, "BadRequest", "bad request")                                                     \
    X(METHOD, "MethodNotAllowed", "method not allowed")                                            \
    X(INTERNAL, "InternalError", "internal server error")                                          \
    X(INSECURE, "InsecureCredentials", "credentials not sent over plain HTTP")

enum p4_errno {
    P4_OK = 0,
#define P4_ERR_ENUM(name, reason, text) P4_ERR_##name,
    P4_ERR_FIRST_ = -1000,
    P4_ERRNO_MAP(P4_ERR_ENUM)
#undef P4_ERR_ENUM
        P4_ERR_LAST_
};

#define P4_ERROR_MESSAGE_MAX 512

struct p4_error {
    int code;           /* a P4_ERR_* value, or 0 */
    const char *reason; /* static CamelCase reason, never NULL once set */
    char message[P4_ERROR_MESSAGE_MAX];
};

/* Text of an error code ("not found"); "unknown error" for codes not in the map. */
const char *p4_strerror(int code);
/* Stable CamelCase reason of an error code ("NotFound"); "Unknown" otherwise. */
const char *p4_err_reason(int code);

/*
 * Fill err (may be NULL) with code, its reason and a printf-style message;
 * returns code so callers can write `return p4_error_set(err, P4_ERR_X, ...)`.
 * The message is truncated to fit, never overflows.
 */
int p4_error_set(struct p4_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * s made fit to quote in a message: bytes other than printable ASCII, '"' and
 * '\' become '?', and text past max bytes is cut and marked "..." (p4_text_clean
 * with P4_TEXT_ASCII | P4_TEXT_LITERAL | P4_TEXT_QUOTED). buf holds max + 4
 * bytes. Returns buf.
 */
const char *p4_error_quote(const char *s, size_t max, char *buf);

/*
 * As p4_error_set, with every byte outside printable ASCII in the message made '?'
 * (p4_text_clean with P4_TEXT_ASCII | P4_TEXT_LITERAL).
 */
int p4_error_set_printable(struct p4_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void p4_error_clear(struct p4_error *err);

/*
 * Both return their code. The static analyzer (make check's clang-tidy) cannot
 * see that across files and would follow impossible paths where a failure
 * returned 0; under it alone, the result is written out.
 */
#ifdef __clang_analyzer__
#define p4_error_set(err, code, ...) ((void)p4_error_set((err), (code), __VA_ARGS__), (code))
#define p4_error_set_printable(err, code, ...)                                                     \
    ((void)p4_error_set_printable((err), (code), __VA_ARGS__), (code))
#endif

#endif
