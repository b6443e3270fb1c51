/* alloc.c: allocation that aborts with a log line on out-of-memory (see alloc.h). */
#include "phase4/core/alloc.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size)
{
    (void)fprintf(stderr, "level=fatal msg=\"out of memory\" bytes=%zu\n", size);
    (void)fflush(stderr);
    abort();
}

void *p4_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        oom(size);
    return p;
}

void *p4_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (p == NULL)
        oom(count * size);
    return p;
}

void *p4_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL)
        oom(size);
    return p;
}

char *p4_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = p4_malloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *p4_strdup(const char *s)
{
    return p4_strndup(s, strlen(s));
}

char *p4_strdup_or_null(const char *s)
{
    return s != NULL ? p4_strdup(s) : NULL;
}

char *p4_path_join(const char *dir, const char *file)
{
    size_t size = strlen(dir) + 1 + strlen(file) + 1;
    char *p = p4_malloc(size);

    (void)snprintf(p, size, "%s/%s", dir, file);
    return p;
}

void p4_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

void p4_wipe_free(void *p, size_t n)
{
    p4_wipe(p, n);
    free(p);
}

void p4_wipe_free_str(char *s)
{
    if (s != NULL)
        p4_wipe_free(s, strlen(s));
}
