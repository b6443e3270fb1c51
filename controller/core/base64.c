/* base64.c: strict standard base64 decoding (see base64.h). */
#include "phase4/core/base64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "phase4/core/alloc.h"
#include "phase4/core/error.h"

static int in_alphabet(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int p4_base64_decode(const char *text, size_t len, int padding_optional, unsigned char **out,
                     size_t *outlen)
{
    unsigned char *clean = p4_malloc(len + 4), *buf = NULL;
    size_t n = 0, pad = 0;
    int decoded, rc = P4_ERR_PARSE;

    *out = NULL;
    *outlen = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '\n' && text[i] != '\r')
            clean[n++] = (unsigned char)text[i];
    }
    if (n == 0) {
        rc = 0;
        goto out;
    }
    if (n % 4 != 0) {
        if (!padding_optional || n % 4 == 1 || clean[n - 1] == '=')
            goto out;
        while (n % 4 != 0)
            clean[n++] = '=';
    }
    while (pad < 2 && clean[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++) {
        if (!in_alphabet(clean[i]))
            goto out;
    }
    /* EVP_DecodeBlock counts padding as zero bytes: the exact length comes from the '=' count. */
    if (n > (size_t)0x7fffffff)
        goto out;
    buf = p4_malloc(n / 4 * 3 + 1);
    decoded = EVP_DecodeBlock(buf, clean, (int)n);
    if (decoded < 0 || (size_t)decoded != n / 4 * 3)
        goto out;
    *outlen = (size_t)decoded - pad;
    buf[*outlen] = '\0';
    *out = buf;
    buf = NULL;
    rc = 0;
out:
    OPENSSL_cleanse(clean, len + 4);
    free(clean);
    if (buf != NULL) {
        OPENSSL_cleanse(buf, n / 4 * 3 + 1);
        free(buf);
    }
    return rc;
}
