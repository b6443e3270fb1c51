/*
 * health.c: `phase4-operator health -f FILE|-`, the Kubernetes stage's health rules (health.h)
 * on objects read from a file or standard input (objstream.h), one line each, status first:
 *
 *   Current     Deployment  shop/web       Ready              Deployment web is available: ...
 *   InProgress  Certificate shop/shop-tls  DoesNotExist       Certificate shop-tls is not ...
 *
 * Columns are separated by two spaces and aligned within each block of BLOCK lines (a block is
 * printed once full, so memory stays bounded however many objects come); kind and name are
 * shown without spaces, so the first four columns are whitespace-separated words. The exit code
 * says the worst (docs/health.md): 0 every object Current, 1 some InProgress or Unknown and none
 * Failed, 2 some Failed, 3 input that cannot be read or holds no object (what was read before
 * the bad spot is printed), 64 a wrong command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/kube/objstream.h"
#include "phase4/stages/kubernetes/health.h"

enum {
    EXIT_CURRENT = 0,
    EXIT_IN_PROGRESS = 1,
    EXIT_FAILED = 2,
    EXIT_UNREADABLE = 3,
    EXIT_USAGE = 64, /* sysexits' EX_USAGE: 2 is taken by Failed */
};

/* Lines aligned together. */
#define BLOCK 256

static const char usage[] =
    "usage: phase4-operator health -f FILE|-\n"
    "  the health of every object in FILE (YAML or JSON, as kubectl get -o yaml|json prints\n"
    "  it; - for standard input), as the Kubernetes stage judges it; exit 0 all Current,\n"
    "  1 some InProgress or Unknown, 2 some Failed, 3 unreadable input or no object,\n"
    "  64 a wrong command line\n";

struct line {
    enum p4_health_status status;
    char kind[64];
    char name[64 + 1 + 254]; /* namespace/name */
    char reason[P4_HEALTH_REASON_MAX];
    char message[P4_HEALTH_MESSAGE_MAX];
};

struct block {
    struct line lines[BLOCK];
    int n;
};

/* Text from the object as one word: printable ASCII, spaces made '?', cut ("..."). */
static void word(char *dst, size_t size, const char *src)
{
    (void)p4_text_clean(dst, size, src, src != NULL ? strlen(src) : 0,
                        P4_TEXT_ASCII | P4_TEXT_LITERAL);
    for (char *p = dst; *p != '\0'; p++) {
        if (*p == ' ')
            *p = '?';
    }
}

static int width(int w, const char *s)
{
    int n = (int)strlen(s);

    return n > w ? n : w;
}

static void flush(struct block *b)
{
    int ws = 0, wk = 0, wn = 0, wr = 0;

    for (int i = 0; i < b->n; i++) {
        ws = width(ws, p4_health_status_name(b->lines[i].status));
        wk = width(wk, b->lines[i].kind);
        wn = width(wn, b->lines[i].name);
        wr = width(wr, b->lines[i].reason);
    }
    for (int i = 0; i < b->n; i++) {
        const struct line *l = &b->lines[i];
        (void)printf("%-*s  %-*s  %-*s  %-*s  %s\n", ws, p4_health_status_name(l->status), wk,
                     l->kind, wn, l->name, wr, l->reason, l->message);
    }
    b->n = 0;
    (void)fflush(stdout);
}

/* The worst seen so far and this status: Failed over InProgress and Unknown over Current. */
static int worse(int rc, enum p4_health_status s)
{
    int mine = s == P4_HEALTH_CURRENT  ? EXIT_CURRENT
               : s == P4_HEALTH_FAILED ? EXIT_FAILED
                                       : EXIT_IN_PROGRESS;

    return mine > rc ? mine : rc;
}

/* Evaluate every object of text into lines; the exit code. */
static int judge(const char *file, const char *text, size_t len)
{
    struct block *b = p4_calloc(1, sizeof(*b));
    struct p4_objstream *s;
    struct p4_error err = {0};
    cJSON *obj;
    int rc = EXIT_CURRENT, got, objects = 0;

    s = p4_objstream_new(text, len, &err);
    if (s == NULL) {
        (void)fprintf(stderr, "phase4-operator: health: %s: %s\n", file, err.message);
        free(b);
        return EXIT_UNREADABLE;
    }
    while ((got = p4_objstream_next(s, &obj, &err)) == 1) {
        struct line *l = &b->lines[b->n++];
        struct p4_health h;
        const char *ns = p4_json_str(obj, "metadata.namespace");
        char ns_word[64], name_word[254];

        (void)p4_health_eval(obj, &h); /* the stream gives only objects it accepts */
        l->status = h.status;
        (void)snprintf(l->reason, sizeof(l->reason), "%s", h.reason);
        (void)snprintf(l->message, sizeof(l->message), "%s", h.message);
        word(l->kind, sizeof(l->kind), p4_json_str(obj, "kind"));
        word(ns_word, sizeof(ns_word), ns);
        word(name_word, sizeof(name_word), p4_json_str(obj, "metadata.name"));
        (void)snprintf(l->name, sizeof(l->name), "%s%s%s", ns_word, ns_word[0] ? "/" : "",
                       name_word);
        rc = worse(rc, h.status);
        objects++;
        p4_json_discard(obj); /* it may have been a Secret */
        if (b->n == BLOCK)
            flush(b);
    }
    flush(b);
    if (got != 0) {
        (void)fprintf(stderr, "phase4-operator: health: %s: %s\n", file, err.message);
        rc = EXIT_UNREADABLE;
    } else if (objects == 0) {
        (void)fprintf(stderr,
                      "phase4-operator: health: %s: no Kubernetes object in it (nothing was "
                      "found, or an empty list)\n",
                      file);
        rc = EXIT_UNREADABLE;
    }
    p4_objstream_free(s);
    free(b);
    return rc;
}

/* phase4-operator health -f FILE|- : see the top of this file. */
int p4_cmd_health(int argc, char **argv)
{
    const char *file = NULL, *shown;
    struct p4_error err = {0};
    size_t len = 0;
    char *text;
    int rc;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            (void)fputs(usage, stdout);
            return EXIT_CURRENT;
        }
        if (strcmp(a, "-f") != 0 && strcmp(a, "--filename") != 0) {
            (void)fprintf(stderr, "phase4-operator: health: unknown argument '%s'\n%s", a, usage);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc || file != NULL) {
            (void)fprintf(stderr, "phase4-operator: health: %s\n%s",
                          file != NULL ? "one -f FILE only"
                                       : "-f needs a FILE (- for standard input)",
                          usage);
            return EXIT_USAGE;
        }
        file = argv[++i];
    }
    if (file == NULL) {
        (void)fprintf(stderr,
                      "phase4-operator: health: give the objects with -f FILE (- for "
                      "standard input)\n%s",
                      usage);
        return EXIT_USAGE;
    }
    shown = strcmp(file, "-") == 0 ? "standard input" : file;
    text = p4_cmd_read_input(file, P4_OBJSTREAM_INPUT_MAX, &len, &err);
    if (text == NULL) {
        (void)fprintf(stderr, "phase4-operator: health: %s: %s\n", shown, err.message);
        return EXIT_UNREADABLE;
    }
    rc = judge(shown, text, len);
    p4_wipe_free(text, len);
    return rc;
}
