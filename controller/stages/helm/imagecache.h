/*
 * imagecache.h: what the registry said about an image, kept for a while so that many releases
 * of one chart check each of its images once; internal to stages/helm (images.c, S_IMAGES).
 *
 * A key names what was asked and how (the normalised reference with its tag or digest, the
 * platforms, and a fingerprint of the credential, CA and transport used), so a release in
 * another namespace, with other pull secrets, is checked anew. The value is the digest the
 * reference resolved to, for an image found complete and pullable; failures are not kept (a
 * push or a fixed Secret heals on the next attempt). An entry expires after the ttl it was put
 * with (a tag moves; a digest's answer is kept longer); at most max entries are kept, and when
 * full the expired ones go first, then the least recently used. Pure data: the caller passes
 * now_ms (uv_now), as the work queue does.
 *
 * Ownership: the cache owns its keys and entries; a digest returned is borrowed until the
 * cache changes. Counters (checks, hits) are kept here for /metrics.
 */
#ifndef PHASE4_HELM_IMAGECACHE_H
#define PHASE4_HELM_IMAGECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/core/strmap.h"

#define P4_IMAGECACHE_MAX 1024                             /* entries kept by default */
#define P4_IMAGECACHE_TAG_TTL_MS ((uint64_t)10 * 60000)    /* a tag's answer: 10 minutes */
#define P4_IMAGECACHE_DIGEST_TTL_MS ((uint64_t)60 * 60000) /* a digest's answer: an hour */
#define P4_IMAGECACHE_ASKING_MS ((uint64_t)60000) /* a check in flight counts this long at most */

struct p4_imagecache {
    struct p4_strmap map;    /* key → struct p4_imagecache_entry (private) */
    struct p4_strmap asking; /* key → when the check in flight began (private) */
    size_t max;
    uint64_t checks; /* images the registry was asked about (p4_imagecache_checked) */
    uint64_t hits;   /* answers taken from the cache */
    uint64_t seq;    /* private: counts puts and hits, to find the least recently used */
};

/* max 0: P4_IMAGECACHE_MAX. */
void p4_imagecache_init(struct p4_imagecache *c, size_t max);
void p4_imagecache_close(struct p4_imagecache *c);
/* The digest kept for key, or NULL (an expired entry is dropped); counts a hit. */
const char *p4_imagecache_get(struct p4_imagecache *c, const char *key, uint64_t now_ms);
/* Keep digest for key until now_ms + ttl_ms (replacing what key had); evicts when full. */
void p4_imagecache_put(struct p4_imagecache *c, const char *key, const char *digest,
                       uint64_t ttl_ms, uint64_t now_ms);
/*
 * A check of key is in flight (p4_imagecache_asking) until p4_imagecache_answered: others that
 * want key meanwhile wait for its answer rather than ask the registry too. A mark older than
 * P4_IMAGECACHE_ASKING_MS (a run dropped while it asked) no longer counts. Only successes are
 * kept, so after a failure the next one that wants key asks again.
 */
void p4_imagecache_asking(struct p4_imagecache *c, const char *key, uint64_t now_ms);
void p4_imagecache_answered(struct p4_imagecache *c, const char *key);
/* Is a check of key in flight (marked within P4_IMAGECACHE_ASKING_MS)? */
bool p4_imagecache_is_asked(struct p4_imagecache *c, const char *key, uint64_t now_ms);
/* The registry was asked about one image (for /metrics). */
void p4_imagecache_checked(struct p4_imagecache *c);
size_t p4_imagecache_len(const struct p4_imagecache *c);

#endif
