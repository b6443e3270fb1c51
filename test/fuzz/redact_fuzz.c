/*
 * redact_fuzz.c: libFuzzer target for the two rules that keep secrets out of messages: Secret
 * values redacted (redact.h) and URLs shown without user information (url.h), on any bytes.
 *
 * Input layout: byte 0 is the length of the value (0 to 255, cut to what follows), then the
 * value, then the text. The value is added to a set; the text, copied to a buffer of its exact
 * length without a NUL so an over-read is caught, is redacted with and without P4_REDACT_CUT.
 * The result must never be longer than the text, and must not hold the value when the value
 * is long enough to be matched anywhere (P4_REDACT_SUBSTRING_MIN bytes, no whitespace, NUL or
 * '*', which "***" could complete). Then the text is scrubbed of user information into a
 * buffer guarded by a canary: the result stays within its size and scrubbing it again changes
 * nothing. Finally p4_url_same_origin must be symmetric for the value and the text.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/redact.h"
#include "phase4/core/text.h"
#include "phase4/core/url.h"

#define CANARY 0x5a
#define SLACK 16

static bool plain_value(const uint8_t *v, size_t n)
{
    if (n < P4_REDACT_SUBSTRING_MIN)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p4_ascii_space((char)v[i]) || v[i] == '\0' || v[i] == '*')
            return false;
    }
    return true;
}

static void redact_checked(const struct p4_redact *s, const uint8_t *text, size_t n,
                           const uint8_t *value, size_t vn, unsigned flags)
{
    char *buf = malloc(n ? n : 1);
    size_t m;

    if (buf == NULL)
        return;
    if (n)
        memcpy(buf, text, n);
    m = p4_redact_buf(s, buf, n, flags);
    if (m > n)
        abort();
    if (plain_value(value, vn) && m >= vn && memmem(buf, m, value, vn) != NULL)
        abort();
    free(buf);
}

static void scrub_checked(const uint8_t *text, size_t n)
{
    size_t size = n * 2 + 8, a, b;
    char *in = malloc(n ? n : 1), *out = malloc(size + SLACK), *again = malloc(size + SLACK);

    if (in == NULL || out == NULL || again == NULL)
        goto out;
    if (n)
        memcpy(in, text, n);
    memset(out + size, CANARY, SLACK);
    a = p4_url_scrub(in, n, out, size);
    if (a >= size || out[a] != '\0')
        abort();
    for (size_t i = 0; i < SLACK; i++) {
        if ((unsigned char)out[size + i] != CANARY)
            abort();
    }
    b = p4_url_scrub(out, a, again, size + SLACK);
    if (b != a || memcmp(out, again, a) != 0)
        abort();
out:
    free(in);
    free(out);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p4_redact *s;
    size_t vn;
    const uint8_t *value, *text;
    char *a, *b;

    if (size < 1)
        return 0;
    vn = data[0];
    if (vn > size - 1)
        vn = size - 1;
    value = data + 1;
    text = value + vn;
    s = p4_redact_new();
    p4_redact_add(s, (const char *)value, vn);
    redact_checked(s, text, size - 1 - vn, value, vn, 0);
    redact_checked(s, text, size - 1 - vn, value, vn, P4_REDACT_CUT);
    p4_redact_free(s);
    scrub_checked(text, size - 1 - vn);

    a = malloc(vn + 1);
    b = malloc(size - vn);
    if (a != NULL && b != NULL) {
        memcpy(a, value, vn);
        a[vn] = '\0';
        memcpy(b, text, size - 1 - vn);
        b[size - 1 - vn] = '\0';
        if (p4_url_same_origin(a, b) != p4_url_same_origin(b, a))
            abort();
        (void)p4_url_credentials_allowed(b, true);
        (void)p4_url_has_userinfo(b);
    }
    free(a);
    free(b);
    return 0;
}
