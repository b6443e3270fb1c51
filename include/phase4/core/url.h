/*
 * url.h: URLs as a message shows them, and where credentials may be sent.
 *
 * Two rules every module that prints a URL or sends credentials shares:
 *
 *   - Shown without user information. In "https://user:password@host/path" the part
 *     "user:password" is shown as "***" (P4_URL_USERINFO_MARK), in a single URL (p4_url_display) as
 * in free text such as helm's output (p4_url_scrub). The user information ends at the '@' before
 * the host; a password with an unescaped '/' or '?' in it ("https://u:pa/ss@host") is still found
 * (the text after "scheme://" up to the first '/' holds a ':' not followed by a port's digits).
 *
 *   - Credentials only over TLS. Credentials (a Basic header, a token) may go to an https://
 *     URL; to a plain http:// one only when the spec marks that source insecure
 *     (p4_url_credentials_allowed). A server that redirects elsewhere, or names another host,
 *     gets them only when it is the same origin: scheme, host (compared without case) and port
 *     (default 443 and 80) all equal, and no user information of its own (p4_url_same_origin),
 *     as curl decides for its own credentials and helm does without --pass-credentials.
 *
 * Pure: borrowed strings, no allocation, no I/O. URLs come from specs, index.yaml files and
 * servers: any bytes.
 */
#ifndef PHASE4_URL_H
#define PHASE4_URL_H

#include <stdbool.h>
#include <stddef.h>

/* What shows in place of user information. */
#define P4_URL_USERINFO_MARK "***"

/* Whether url begins with "http://" (any case): plain HTTP. NULL is false. */
bool p4_url_plain_http(const char *url);
/* Whether url (n bytes after its "scheme://") holds user information. NULL is false. */
bool p4_url_has_userinfo(const char *url);
/* Whether credentials may be sent to url: https://, or http:// when insecure; false for NULL. */
bool p4_url_credentials_allowed(const char *url, bool insecure);
/* Whether a and b are the same origin (above); false when either has no "scheme://host". */
bool p4_url_same_origin(const char *a, const char *b);

/*
 * The n bytes of text at in with the user information of every "scheme://user@" in it made
 * P4_URL_USERINFO_MARK, into out of size bytes (size > 0), always NUL-terminated; what does not fit
 * is cut. Returns the length written. in and out must not overlap.
 */
size_t p4_url_scrub(const char *in, size_t n, char *out, size_t size);
/* One URL (a string; NULL shows as "") as p4_url_scrub shows it. */
void p4_url_display(const char *url, char *out, size_t size);

#endif
