/* error.c: error codes, reasons and the filled error record (see error.h). */
#include "phase4/core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "phase4/core/text.h"

/* A quoted value shows byte for byte, in printable ASCII, and cannot end its quotes. */
#define QUOTE_RULE (P4_TEXT_ASCII | P4_TEXT_LITERAL | P4_TEXT_QUOTED)

struct entry {
    const char *reason;
    const char *text;
};

static const struct entry table[] = {
#define P4_ERR_ROW(name, reason, text) {reason, text},
    P4_ERRNO_MAP(P4_ERR_ROW)
#undef P4_ERR_ROW
};

static const struct entry *lookup(int code)
{
    if (code <= P4_ERR_FIRST_ || code >= P4_ERR_LAST_)
        return NULL;
    return &table[code - P4_ERR_FIRST_ - 1];
}

const char *p4_strerror(int code)
{
    const struct entry *e;

    if (code == 0)
        return "success";
    e = lookup(code);
    return e ? e->text : "unknown error";
}

const char *p4_err_reason(int code)
{
    const struct entry *e = lookup(code);

    return e ? e->reason : "Unknown";
}

/* Fill err (not NULL) with code, its reason and the message fmt and ap make. */
static void set_v(struct p4_error *err, int code, const char *fmt, va_list ap)
{
    err->code = code;
    err->reason = p4_err_reason(code);
    (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

/* The names are in parentheses so that error.h's macros for the analyzer leave them alone. */
int(p4_error_set)(struct p4_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (err != NULL)
        set_v(err, code, fmt, ap);
    va_end(ap);
    return code;
}

const char *p4_error_quote(const char *s, size_t max, char *buf)
{
    size_t n = strnlen(s, max + 1);
    size_t at = p4_text_clean(buf, max + 1, s, n > max ? max : n, QUOTE_RULE);

    if (n > max)
        memcpy(buf + at, "...", 4);
    return buf;
}

int(p4_error_set_printable)(struct p4_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (err != NULL) {
        set_v(err, code, fmt, ap);
        (void)p4_text_clean(err->message, sizeof(err->message), err->message, strlen(err->message),
                            P4_TEXT_ASCII | P4_TEXT_LITERAL);
    }
    va_end(ap);
    return code;
}

void p4_error_clear(struct p4_error *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->reason = NULL;
    err->message[0] = '\0';
}
