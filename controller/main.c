/*
 * main.c: the phase4-operator command. It parses the command line, builds
 * what the process needs and hands it down; nothing else lives here.
 */
#include "phase4/version.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    (void)fputs("usage: phase4-operator [--version] [--help]\n"
          "\n"
          "A Kubernetes operator that deploys an application through four gated\n"
          "stages (Docker, Helm, Kubernetes, Validation) and reports each gate in\n"
          "the Phase4Deployment's status and Events.\n"
          "\n"
          "  --version   print the operator's version and its libraries' versions\n"
          "  --help      print this help\n",
          out);
}

int main(int argc, char **argv)
{
    char report[1024];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            p4_version_report(report, sizeof(report));
            /* A failed write (a closed pipe, a full disk) is an error, as in coreutils. */
            return fputs(report, stdout) == EOF || fflush(stdout) == EOF ? 1 : 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        (void)fprintf(stderr, "phase4-operator: unknown argument '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    (void)fputs("phase4-operator: the controller is not built yet; see --help\n", stderr);
    return 1;
}
