/*
 * alloc.h: allocation that never returns NULL.
 *
 * On out-of-memory these log one line and abort (the pod restarts), as
 * redis's zmalloc does, so no caller carries an untested NULL branch.
 * Memory from them is released with free().
 */
#ifndef PHASE4_ALLOC_H
#define PHASE4_ALLOC_H

#include <stddef.h>

void *p4_malloc(size_t size);               /* caller frees */
void *p4_calloc(size_t count, size_t size); /* caller frees */
void *p4_realloc(void *ptr, size_t size);   /* caller frees the result */
char *p4_strdup(const char *s);             /* caller frees */
char *p4_strndup(const char *s, size_t n);  /* caller frees */
char *p4_strdup_or_null(const char *s);     /* NULL for NULL, else as p4_strdup; caller frees */

/* "dir/file": the two joined by one '/', each taken as it is (no '/' merged); caller frees. */
char *p4_path_join(const char *dir, const char *file);

/*
 * Memory that held a secret (credentials, tokens, keys, values from a Secret)
 * is wiped before it is freed, with OPENSSL_cleanse rather than memset: a
 * compiler may drop a memset of memory that is freed right after.
 */
void p4_wipe(void *p, size_t n);      /* NULL or n 0: nothing */
void p4_wipe_free(void *p, size_t n); /* wipe n bytes, then free; NULL is fine */
void p4_wipe_free_str(char *s);       /* the same for a NUL-terminated string */

#endif
