/*
 * helmout_fuzz.c: libFuzzer target for p4_helm_classify (helm's stdout and
 * stderr, untrusted bytes of any size).
 *
 * Input layout: byte 0 picks the command (mod 6: lint, template, pull, show,
 * dependency, none), byte 1 the exit status (bits 0-1), the message size
 * (bits 2-3: 0, 1, 24 or 512 bytes) and whether the run timed out (bit 4);
 * bytes 2-3 (little endian, mod the rest + 1) how many of the remaining
 * bytes are stdout, the rest being stderr. Both are copied to buffers of
 * their exact length, without a NUL, so an over-read is caught. The message
 * must stay within its size, be printable ASCII, be the same on a second
 * call, and say OK exactly when helm exited 0.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stages/helm/helmout.h"

#define CANARY 0x5a
#define SLACK 16

static const char *const commands[] = {"lint", "template", "pull", "show", "dependency", NULL};
static const size_t sizes[] = {0, 1, 24, 512};

static void check_message(const char *msg, size_t size)
{
    size_t n;

    for (size_t i = size; i < size + SLACK; i++) {
        if ((unsigned char)msg[i] != CANARY)
            abort();
    }
    if (size == 0)
        return;
    n = strnlen(msg, size);
    if (n >= size)
        abort(); /* not NUL-terminated within size */
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f)
            abort();
    }
}

/* A NUL-terminated copy of n bytes (which may hold NULs: the string ends at the first). */
static char *cstr(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *command;
    int status;
    size_t msg_size, rest, split;
    bool timed_out;
    char *out, *err, *msg, *again;
    enum p4_helm_reason r, r2;
    struct p4_childproc_result res;
    char *kind, *name;

    if (size < 4)
        return 0;
    command = commands[data[0] % 6];
    status = data[1] & 3;
    msg_size = sizes[(data[1] >> 2) & 3];
    timed_out = (data[1] & 16) != 0;
    rest = size - 4;
    split = (size_t)(data[2] | (data[3] << 8)) % (rest + 1);
    out = malloc(split ? split : 1);
    err = malloc(rest - split ? rest - split : 1);
    msg = malloc(msg_size + SLACK);
    again = malloc(msg_size + SLACK);
    if (out == NULL || err == NULL || msg == NULL || again == NULL)
        abort();
    memcpy(out, data + 4, split);
    memcpy(err, data + 4 + split, rest - split);
    memset(msg, CANARY, msg_size + SLACK);
    memset(again, CANARY, msg_size + SLACK);

    r = p4_helm_classify(command, status, out, split, err, rest - split, msg_size ? msg : NULL,
                         msg_size);
    check_message(msg, msg_size);
    if (r > P4_HELM_FAILED || strcmp(p4_helm_reason_name(r), "Unknown") == 0)
        abort();
    if ((status == 0) != (r == P4_HELM_OK))
        abort();
    if (r == P4_HELM_TIMED_OUT || r == P4_HELM_DRY_RUN_REJECTED)
        abort(); /* only classify_run and the caller decide those */
    if (msg_size > 0 && (status == 0) != (msg[0] == '\0') && msg_size > 1)
        abort();
    r2 = p4_helm_classify(command, status, out, split, err, rest - split, msg_size ? again : NULL,
                          msg_size);
    if (r2 != r || (msg_size > 0 && strcmp(msg, again) != 0))
        abort();

    memset(&res, 0, sizeof(res));
    res.exit_status = status;
    res.timed_out = timed_out;
    res.timeout_ms = (uint64_t)data[0] * 250;
    res.out = out;
    res.out_len = split;
    res.err = err;
    res.err_len = rest - split;
    memset(msg, CANARY, msg_size + SLACK);
    r2 = p4_helm_classify_run(command, &res, msg_size ? msg : NULL, msg_size);
    check_message(msg, msg_size);
    if ((timed_out && r2 != P4_HELM_TIMED_OUT) || (!timed_out && r2 != r))
        abort();

    kind = cstr(data + 4, split);
    name = cstr(data + 4 + split, rest - split);
    memset(msg, CANARY, msg_size + SLACK);
    if (p4_helm_dry_run_rejected(kind, name, name, kind, msg_size ? msg : NULL, msg_size) !=
        P4_HELM_DRY_RUN_REJECTED)
        abort();
    check_message(msg, msg_size);

    free(kind);
    free(name);
    free(out);
    free(err);
    free(msg);
    free(again);
    return 0;
}
