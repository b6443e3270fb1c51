/* url.c: URLs shown without user information; where credentials may go (see url.h). */
#include "phase4/core/url.h"

#include <string.h>
#include <strings.h>

#include "phase4/core/text.h"

/* Where an authority ends in text: a path, a query, a fragment, or what ends a word. */
static bool authority_end(char c)
{
    return c == '/' || c == '?' || c == '#' || c == '\\' || p4_ascii_space(c) || c == '"' ||
           c == '\'' || c == '<' || c == '>' || c == '`' || c == '\0';
}

/* What ends a word in free text: nothing of a URL goes past it. */
static bool word_end(char c)
{
    return p4_ascii_space(c) || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' ||
           c == '\0';
}

/* At p (n bytes) a "scheme://"? Its length, or 0. The scheme: a letter, then letters, digits,
   '+', '-', '.'. */
static size_t scheme_at(const char *p, size_t n)
{
    size_t i = 0;

    if (n == 0 || !p4_ascii_alpha(p[0]))
        return 0;
    while (i < n && (p4_ascii_alnum(p[i]) || p[i] == '+' || p[i] == '-' || p[i] == '.'))
        i++;
    if (n - i < 3 || memcmp(p + i, "://", 3) != 0)
        return 0;
    return i + 3;
}

/*
 * The user information at a (n bytes, just after "scheme://"): its length with the '@', or 0.
 * Normally the '@' before the authority ends; with a ':' before that end not followed by a
 * port's digits, the '@' may come later (a password with '/' in it), before the word ends.
 */
static size_t userinfo_len(const char *a, size_t n)
{
    size_t i = 0, colon = n;

    while (i < n && !authority_end(a[i]) && a[i] != '@') {
        if (a[i] == ':' && colon == n)
            colon = i;
        i++;
    }
    if (i < n && a[i] == '@')
        return i > 0 ? i + 1 : 0;
    if (colon == n)
        return 0;
    for (size_t j = colon + 1; j < i; j++) {
        if (!p4_ascii_digit(a[j])) {
            for (size_t k = i; k < n && !word_end(a[k]); k++) {
                if (a[k] == '@')
                    return k + 1;
            }
            return 0;
        }
    }
    return 0;
}

size_t p4_url_scrub(const char *in, size_t n, char *out, size_t size)
{
    static const char mark[] = P4_URL_USERINFO_MARK "@";
    size_t i = 0, o = 0;

    if (size == 0)
        return 0;
    /* Any "://", whatever stands before it: better a word too many hidden than a password. */
    while (i < n && o + 1 < size) {
        size_t u =
            n - i > 3 && memcmp(in + i, "://", 3) == 0 ? userinfo_len(in + i + 3, n - i - 3) : 0;

        if (u > 0) {
            if (o + 3 + sizeof(mark) - 1 >= size)
                break; /* no room for the mark: cut here, before the user information */
            memcpy(out + o, "://", 3);
            memcpy(out + o + 3, mark, sizeof(mark) - 1);
            o += 3 + sizeof(mark) - 1;
            i += 3 + u;
            continue;
        }
        out[o++] = in[i++];
    }
    out[o] = '\0';
    return o;
}

void p4_url_display(const char *url, char *out, size_t size)
{
    (void)p4_url_scrub(url ? url : "", url ? strlen(url) : 0, out, size);
}

bool p4_url_plain_http(const char *url)
{
    return url != NULL && strncasecmp(url, "http://", 7) == 0;
}

bool p4_url_has_userinfo(const char *url)
{
    size_t n, s;

    if (url == NULL)
        return false;
    n = strlen(url);
    s = scheme_at(url, n);
    return s > 0 && userinfo_len(url + s, n - s) > 0;
}

bool p4_url_credentials_allowed(const char *url, bool insecure)
{
    if (url == NULL)
        return false;
    if (strncasecmp(url, "https://", 8) == 0)
        return true;
    return insecure && p4_url_plain_http(url);
}

struct origin {
    const char *scheme, *host;
    size_t scheme_len, host_len;
    unsigned port;
};

/* Split url into an origin; false when it has none, or has user information. */
static bool origin_of(const char *url, struct origin *o)
{
    size_t n = strlen(url), s = scheme_at(url, n), end;
    const char *a, *colon = NULL;

    if (s == 0 || userinfo_len(url + s, n - s) > 0)
        return false;
    o->scheme = url;
    o->scheme_len = s - 3;
    a = url + s;
    for (end = 0; a[end] != '\0' && !authority_end(a[end]); end++) {
        if (a[end] == '@')
            return false;
    }
    if (end == 0)
        return false;
    if (a[0] == '[') { /* [ipv6]:port */
        const char *close = memchr(a, ']', end);
        if (close == NULL)
            return false;
        if ((size_t)(close + 1 - a) < end)
            colon = close + 1;
    } else {
        colon = memchr(a, ':', end);
    }
    o->host = a;
    o->host_len = colon ? (size_t)(colon - a) : end;
    if (colon != NULL && *colon == ':') {
        unsigned port = 0;
        size_t digits = 0;
        for (const char *p = colon + 1; p < a + end; p++, digits++) {
            if (!p4_ascii_digit(*p) || port > 65535)
                return false;
            port = port * 10 + (unsigned)(*p - '0');
        }
        if (digits == 0 || port == 0 || port > 65535)
            return false;
        o->port = port;
    } else if (colon != NULL) {
        return false;
    } else if (o->scheme_len == 5 && strncasecmp(url, "https", 5) == 0) {
        o->port = 443;
    } else if (o->scheme_len == 4 && strncasecmp(url, "http", 4) == 0) {
        o->port = 80;
    } else {
        o->port = 0;
    }
    return o->host_len > 0;
}

bool p4_url_same_origin(const char *a, const char *b)
{
    struct origin x, y;

    if (a == NULL || b == NULL || !origin_of(a, &x) || !origin_of(b, &y))
        return false;
    return x.scheme_len == y.scheme_len && strncasecmp(x.scheme, y.scheme, x.scheme_len) == 0 &&
           x.host_len == y.host_len && strncasecmp(x.host, y.host, x.host_len) == 0 &&
           x.port == y.port;
}
