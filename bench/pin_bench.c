/*
 * pin_bench.c: the Helm stage's pin step (S_PIN) on a rendered manifest, as bench/run measures
 * it: split into objects, every container naming the checked repository rewritten to its
 * digest, printed back. Usage: pin_bench MANIFEST REPOSITORY DIGEST [RUNS]; prints one table
 * row of the mean time per run, the objects and the containers rewritten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phase4/core/error.h"
#include "stages/helm/steps.h"

static double now_s(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)n, f);
        buf[*len] = '\0';
    }
    (void)fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    struct image_pin pin = {0};
    char msg[P4_ERROR_MESSAGE_MAX];
    struct failure f;
    cJSON *objects = NULL;
    size_t len = 0, out_len = 0;
    int runs = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 200, nobj = 0;
    char *manifest, *out;
    double t0, secs;

    if (argc < 4 || runs < 1) {
        (void)fprintf(stderr, "usage: %s MANIFEST REPOSITORY DIGEST [RUNS]\n", argv[0]);
        return 2;
    }
    if ((manifest = read_all(argv[1], &len)) == NULL) {
        (void)fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    pin.repository = argv[2];
    (void)snprintf(pin.digest, sizeof(pin.digest), "%s", argv[3]);
    t0 = now_s();
    for (int i = 0; i < runs; i++) {
        out = p4_helm_pin_manifest(manifest, len, &pin, &objects, &out_len, msg, sizeof(msg), &f);
        if (out == NULL) {
            (void)fprintf(stderr, "pin failed: %s: %s\n", f.reason ? f.reason : "?", msg);
            free(manifest);
            return 1;
        }
        nobj = cJSON_GetArraySize(objects);
        cJSON_Delete(objects);
        free(out);
    }
    secs = (now_s() - t0) / runs;
    msg[strcspn(msg, ";")] = '\0'; /* "N of M container(s) run <repository>@<digest>" */
    printf("| pin step (%d objects, %zu bytes of YAML in, %zu of JSON out; %s) | %.2f ms |\n", nobj,
           len, out_len, msg, secs * 1000.0);
    free(manifest);
    return 0;
}
