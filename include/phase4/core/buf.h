/*
 * buf.h: a growable byte buffer, always NUL-terminated after len bytes, for
 * response bodies and text built piece by piece. Zero-initialize it
 * (struct p4_buf b = {0}); the owner frees b.data with free().
 */
#ifndef PHASE4_BUF_H
#define PHASE4_BUF_H

#include <stddef.h>

struct p4_buf {
    char *data; /* NULL until something is appended; caller frees */
    size_t len, cap;
};

void p4_buf_append(struct p4_buf *b, const char *s, size_t n);
void p4_buf_printf(struct p4_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
