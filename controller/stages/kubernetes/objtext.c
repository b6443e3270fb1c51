/* objtext.c: the text in Kubernetes objects, read and shown in a message (see objtext.h). */
#include "objtext.h"

#include <stdio.h>
#include <string.h>

#include "phase4/core/text.h"

/* Outside text in a message: the text.h rule, in printable ASCII. */
#define RULE P4_TEXT_ASCII
#define ITEM_SHOWN 128 /* an entry of a list */

/* ---- shown in a message ---- */

const char *p4_objtext_put(char *dst, size_t size, const char *s, size_t n)
{
    (void)p4_text_clean(dst, size, s, s != NULL ? strnlen(s, n) : 0, RULE);
    return dst;
}

const char *p4_objtext_clip(char *dst, size_t size, const char *s)
{
    return p4_objtext_put(dst, size, s, SIZE_MAX);
}

const char *p4_objtext_put_tail(char *dst, size_t size, const char *s, size_t n)
{
    size_t len = s != NULL ? strnlen(s, n) : 0;

    if (len <= size - 1)
        return p4_objtext_put(dst, size, s, len);
    dst[0] = dst[1] = dst[2] = '.';
    (void)p4_objtext_put(dst + 3, size - 3, s + len - (size - 4), size - 4);
    return dst;
}

void p4_objtext_vmessage(char *dst, size_t size, const char *fallback, const char *fmt, va_list ap)
{
    int n = vsnprintf(dst, size, fmt, ap);

    if (n < 0)
        p4_text_format(dst, size, "%s", fallback);
    else if ((size_t)n >= size)
        memcpy(dst + size - 4, "...", 4);
    (void)p4_text_clean(dst, size, dst, strlen(dst), RULE);
}

void p4_objtext_list_add(char *list, size_t size, const char *p, size_t n)
{
    char item[ITEM_SHOWN];
    size_t len = strlen(list), at = 0;

    p4_objtext_put(item, sizeof(item), p, n);
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
    p4_text_format(list + len, size - len, "%s%s", len > 0 ? ", " : "", item);
}

const char *p4_objtext_colon(const char *text)
{
    return text[0] != '\0' ? ": " : "";
}

const char *p4_objtext_plural(int64_t n)
{
    return n == 1 ? "" : "s";
}

const char *p4_objtext_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/* ---- read for what it says ---- */

bool p4_objtext_has(const char *s, const char *lit)
{
    return s != NULL && strstr(s, lit) != NULL;
}

bool p4_objtext_span_has(const char *p, size_t n, const char *lit)
{
    return memmem(p, n, lit, strlen(lit)) != NULL;
}

const char *p4_objtext_after(const char *s, const char *lit)
{
    const char *p = s != NULL ? strstr(s, lit) : NULL;

    return p != NULL ? p + strlen(lit) : NULL;
}

bool p4_objtext_skip(const char **p, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

size_t p4_objtext_upto(const char *p, char c, const char **next)
{
    const char *e = strchr(p, c);
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

    if (next != NULL)
        *next = p + n;
    return n;
}

size_t p4_objtext_upto_lit(const char *p, const char *lit)
{
    const char *e = strstr(p, lit);

    return e != NULL ? (size_t)(e - p) : strlen(p);
}

const char *p4_objtext_last_cause(const char *err)
{
    const char *best = err, *p = err;

    while ((p = strstr(p, "\": ")) != NULL) {
        p += 3;
        if (*p != '\0')
            best = p;
    }
    if (best == err && (p = p4_objtext_after(err, " desc = ")) != NULL &&
        p4_objtext_has(err, "rpc error: code = "))
        best = p;
    return best;
}
