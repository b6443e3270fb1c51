/* regname.c: registry names as the distribution grammar and the kubelet read them (regname.h). */
#include "regname.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/text.h"

size_t p4_regname_scheme_len(const char *s)
{
    size_t n = 0;

    while (n < 5 && s[n] != '\0' && s[n] != ':')
        n++;
    if ((n == 4 && strncasecmp(s, "http", 4) == 0) || (n == 5 && strncasecmp(s, "https", 5) == 0))
        return strncmp(s + n, "://", 3) == 0 ? n + 3 : 0;
    return 0;
}

static bool valid_port(const char *s, size_t n)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!p4_ascii_digit(s[i]))
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v <= 65535;
}

bool p4_regname_valid_host(const char *s, size_t n, bool glob)
{
    size_t i = 0;

    if (n == 0)
        return false;
    if (s[0] == '[') {
        const char *end = memchr(s, ']', n);

        if (end == NULL || end == s + 1)
            return false;
        for (const char *q = s + 1; q < end; q++) {
            char c = p4_ascii_to_lower(*q);

            if (!p4_ascii_lower_hex(c) && c != ':' && c != '.')
                return false;
        }
        i = (size_t)(end - s) + 1;
    } else {
        for (;;) {
            size_t start = i;

            while (i < n && (p4_ascii_alnum(s[i]) || s[i] == '-' || (glob && s[i] == '*')))
                i++;
            if (i == start || s[start] == '-' || s[i - 1] == '-')
                return false;
            if (i < n && s[i] == '.') {
                i++;
                continue;
            }
            break;
        }
    }
    if (i == n)
        return true;
    return s[i] == ':' && valid_port(s + i + 1, n - i - 1);
}

char *p4_regname_fold_host(const char *host, size_t n)
{
    char *h = p4_strndup(host, n);

    for (char *p = h; *p != '\0'; p++)
        *p = p4_ascii_to_lower(*p);
    if (strcmp(h, "index.docker.io") == 0 || strcmp(h, "registry-1.docker.io") == 0) {
        free(h);
        h = p4_strdup(P4_REGNAME_DOCKER_HUB);
    }
    return h;
}

const char *p4_regname_shown(char *dst, size_t size, const char *s, size_t n)
{
    (void)p4_text_clean(dst, size, s, n, P4_TEXT_ASCII | P4_TEXT_LITERAL | P4_TEXT_QUOTED);
    return dst;
}
