/*
 * base64.h: standard base64 decoding for secrets (kubeconfig *-data fields,
 * pull-secret "auth"), strict about the alphabet, exact about the length.
 */
#ifndef PHASE4_BASE64_H
#define PHASE4_BASE64_H

#include <stddef.h>

/*
 * Decode len bytes of text. Line breaks are skipped; anything else outside
 * the alphabet is an error. Padding is required unless padding_optional (the
 * kubelet reads unpadded "auth" too). On success *out is NUL-terminated after
 * *outlen bytes (caller wipes if secret, and frees); text with no data gives
 * *out NULL. Scratch copies are wiped. Returns 0 or P4_ERR_PARSE.
 */
int p4_base64_decode(const char *text, size_t len, int padding_optional, unsigned char **out,
                     size_t *outlen);

#endif
