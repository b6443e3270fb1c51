/*
 * imageref.h: image references ("nginx", "registry.example.com:5000/team/app:1.0@sha256:...")
 * split and checked as docker splits them.
 *
 * The first path component is the registry when it looks like a host (it has a '.' or a ':',
 * an uppercase letter, or is "localhost"); otherwise the image is on Docker Hub. Docker Hub's
 * names (index.docker.io, registry-1.docker.io) fold into "docker.io", where a repository of
 * one component gains "library/". Errors name the problem and quote the reference printably.
 * The regauth module looks credentials up by these parts; the Docker stage and the
 * image-check command read them.
 *
 * Ownership: struct p4_image_ref owns its strings; p4_image_ref_close() frees them and accepts
 * NULL. The reference text is borrowed for the call only.
 */
#ifndef PHASE4_IMAGEREF_H
#define PHASE4_IMAGEREF_H

#include <stddef.h>

#include "phase4/core/error.h"

#define P4_IMAGE_REF_MAX ((size_t)1024 * 1024) /* longer reference: P4_ERR_TOOBIG */

struct p4_image_ref {
    char *registry;   /* "docker.io" by default (index.docker.io and registry-1 too); lowercase */
    char *repository; /* "library/nginx" for "nginx" on Docker Hub, "team/app" otherwise */
    char *tag;        /* "1.0"; "latest" when neither tag nor digest is given; else NULL */
    char *digest;     /* "sha256:<64 hex>"; NULL when absent */
};

/*
 * Split ref as docker does into out (overwritten; empty on error). Returns 0,
 * P4_ERR_TOOBIG, or P4_ERR_INVAL naming the problem: empty part, uppercase repository,
 * bad host or port, bad tag or one over 128 characters, digest not sha256/384/512 in
 * lowercase hex of the right length, normalized name over 255 characters.
 */
int p4_image_ref_parse(const char *ref, struct p4_image_ref *out, struct p4_error *err);
void p4_image_ref_close(struct p4_image_ref *r);

/*
 * The length of ref's registry host, as the rule above reads it: its first path component when
 * that looks like a host, else 0 (a Docker Hub name, or no '/').
 */
size_t p4_image_ref_domain_len(const char *ref);

#endif
