/*
 * promtext_fuzz.c: libFuzzer target for the Prometheus text format reader of the Metrics gate
 * (stages/validation/promtext.h): a workload's metrics endpoint answers any bytes.
 *
 * Input: the whole input is a body. It is read whole (p4_promtext_find, looking for a few names),
 * then again in chunks whose sizes come from the input's first bytes, recording every name.
 * Invariants: 0, or P4_ERR_PARSE or P4_ERR_TOOBIG with a message that begins "line ", is
 * NUL-terminated and has no control byte; both reads agree on the result, the message, the
 * counts and the names found; a name reported is never empty nor longer than a line; samples and
 * families never outnumber the lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/error.h"
#include "stages/validation/promtext.h"

static const char *const want[] = {"up", "go_goroutines", "http_requests_total", "latency", "a"};
#define NWANT ((int)(sizeof(want) / sizeof(want[0])))

struct seen {
    uint64_t found, names;
};

static void on_name(enum p4_promtext_kind kind, const char *name, size_t len, void *arg)
{
    struct seen *s = arg;

    /* A name carried across chunks is read from the reader's own copy: it is within a line. */
    if (name == NULL || len == 0 || len > P4_PROMTEXT_LINE_MAX)
        abort();
    s->names++;
    for (int i = 0; i < NWANT; i++) {
        if (p4_promtext_is_of(kind, name, len, want[i]))
            s->found |= UINT64_C(1) << i;
    }
}

static void check_error(int rc, const struct p4_error *err)
{
    if (rc == 0)
        return;
    if (rc != P4_ERR_PARSE && rc != P4_ERR_TOOBIG)
        abort();
    if (memchr(err->message, '\0', sizeof(err->message)) == NULL ||
        strncmp(err->message, "line ", 5) != 0)
        abort();
    for (const char *m = err->message; *m; m++) {
        if ((unsigned char)*m < 0x20 || *m == 0x7f)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p4_promtext_found whole;
    struct p4_error err1 = {0}, err2 = {0};
    struct seen s = {0};
    struct p4_promtext p;
    size_t off = 0, k = 0;
    int rc1, rc2;

    rc1 = p4_promtext_find((const char *)data, size, want, NWANT, &whole, &err1);
    check_error(rc1, &err1);

    p4_promtext_init(&p, on_name, &s);
    rc2 = 0;
    while (off < size && rc2 == 0) {
        size_t n = size > 0 ? (size_t)data[k++ % size] % 97 + 1 : 1;
        if (n > size - off)
            n = size - off;
        rc2 = p4_promtext_feed(&p, (const char *)data + off, n, &err2);
        off += n;
    }
    if (rc2 == 0)
        rc2 = p4_promtext_finish(&p, &err2);
    check_error(rc2, &err2);
    if (p.samples + p.families > p.lines)
        abort();
    p4_promtext_close(&p);

    if (rc1 != rc2 || (rc1 != 0 && strcmp(err1.message, err2.message) != 0))
        abort();
    if (rc1 == 0 && (whole.found != s.found || whole.samples != p.samples ||
                     whole.families != p.families || s.names != p.samples + p.families))
        abort();
    return 0;
}
