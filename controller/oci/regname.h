/*
 * regname.h: registry names as the distribution reference grammar and the kubelet read them
 * (internal to oci/: imageref, regauth and authtoken share it).
 *
 * A registry is host[:port]: DNS labels of letters, digits and inner '-', or a bracketed IPv6
 * address, then a port of at most 65535; keyring keys may also hold '*' in a label
 * ("*.example.com"). Docker Hub answers to three names, folded here into
 * P4_REGNAME_DOCKER_HUB. The grammars are written in ASCII classes; their tests are core's
 * p4_ascii_* (phase4/core/text.h). p4_regname_shown() is how the registry
 * parsers quote a name from outside in a message; it is never used on a credential.
 *
 * Arguments are borrowed for the call; p4_regname_fold_host() returns a string the caller frees.
 */
#ifndef PHASE4_OCI_REGNAME_H
#define PHASE4_OCI_REGNAME_H

#include <stdbool.h>
#include <stddef.h>

#define P4_REGNAME_DOCKER_HUB "docker.io"
/* Room for a quoted registry key or image reference in a message. */
#define P4_REGNAME_SHOWN_SIZE 104

/* Length of a leading "https://" or "http://" (any case), or 0. */
size_t p4_regname_scheme_len(const char *s);

/* Is s[0..n) a host[:port] as above? glob lets labels hold '*' as well. */
bool p4_regname_valid_host(const char *s, size_t n, bool glob);

/* Lowercase copy of host[0..n), Docker Hub's aliases folded into "docker.io"; caller frees. */
char *p4_regname_fold_host(const char *host, size_t n);

/*
 * A printable copy of s[0..n) for a message into dst of size bytes, "..." after a cut, byte for
 * byte: control characters, quotes, backslashes and non-ASCII bytes become '?'. Returns dst.
 */
const char *p4_regname_shown(char *dst, size_t size, const char *s, size_t n);

#endif
