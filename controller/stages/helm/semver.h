/*
 * semver.h: SemVer 2.0.0 versions and the version ranges Helm accepts.
 *
 * A HelmRelease names its chart version as an exact version ("1.2.3") or a
 * range ("~1.2", "^0.4.1", ">= 1.2, < 3.0.0 || >= 4.2.3"). Helm reads both
 * with Masterminds/semver v3, and this module follows that library so a range
 * picks the version `helm install --version RANGE` would pick:
 *
 * Versions (p4_semver_parse, as Masterminds' NewVersion): an optional
 * lower-case 'v', a major number, then optionally .minor and .patch (missing
 * ones are 0: "v1.2" is 1.2.0, "1" is 1.0.0; leading zeros in these numbers
 * are accepted and dropped), then optionally "-prerelease" and "+build", each
 * dot-separated identifiers of [0-9A-Za-z-], none empty, and numeric
 * prerelease identifiers without leading zeros. Nothing else, not even a
 * blank. Numbers must fit in 64 bits, and the version in P4_SEMVER_MAX - 1
 * bytes both as written and in full ("1-x" is "1.0.0-x").
 *
 * Precedence (p4_semver_compare) is SemVer 2.0.0 section 11: major, minor and
 * patch numerically; a prerelease sorts before its release; prerelease
 * identifiers compare one by one, numeric ones numerically (any length) and
 * below alphanumeric ones, alphanumeric ones in ASCII order, and a shorter
 * list of equal identifiers first. Build metadata is ignored.
 *
 * Ranges (p4_semver_range_parse): terms joined by ',' or blanks (AND) and
 * "||" (OR). A term is an operator and a version, blanks allowed between:
 *   =V or V     V exactly (build ignored); a partial version is a wildcard:
 *               "1.2" is 1.2.x, "1" is 1.x
 *   != V        anything but V ("!=1.2" excludes every 1.2.x)
 *   > V, < V, >= V (=>), <= V (=<)
 *               "> 1.2" means >= 1.3.0, "<= 1.2" means < 1.3.0, ">= 1.2" is
 *               >= 1.2.0, "< 1.2" is < 1.2.0
 *   ~V (~>V)    patch-level changes: ~1.2.3 is >=1.2.3 <1.3.0, ~1.2 is
 *               >=1.2.0 <1.3.0, ~1 is >=1.0.0 <2.0.0; ~0.0.0 and ~* match
 *               every release
 *   ^V          no change in the left-most non-zero part: ^1.2.3 is >=1.2.3
 *               <2.0.0, ^1.2 >=1.2.0 <2.0.0, ^1 >=1.0.0 <2.0.0, ^0.2.3
 *               >=0.2.3 <0.3.0, ^0.2 >=0.2.0 <0.3.0, ^0.0.3 >=0.0.3 <0.0.4,
 *               ^0.0 >=0.0.0 <0.1.0, ^0 >=0.0.0 <1.0.0
 *   A - B       hyphen range (blanks around '-' required): >= A, <= B, so
 *               "1.2 - 1.4.5" is >=1.2.0 <=1.4.5 and "1 - 2" is >=1.0.0 <3.0.0
 * x, X or * may stand for a part: "1.2.x", "1.x", "*" ("*" matches every
 * release). The version in a term may carry a 'v', a prerelease and build
 * metadata (ignored).
 * Prereleases: a prerelease version satisfies an AND group only when some
 * term of that group names a prerelease ("1.2.3-beta.1" matches
 * ">=1.2.3-alpha" and ">=1.2.3-alpha, <2" but not ">=1.0"; ">=0.0.0-0"
 * admits every prerelease); Masterminds v3.3's rule. Then ordinary
 * precedence applies across versions: ^1.2.0-alpha matches 1.4.0-beta.
 * Masterminds' own edge cases are kept as they are: "^*" matches only 0.0.0,
 * "<=*" only 0.0.x, "!=*" all but 0.0.0, "> 1" needs 2.0.0 or more, "~0.0.0"
 * is "*", and "1.x.5" is "1.x".
 * The empty string is not a range (callers pick their own default).
 * Differences from Masterminds: a prerelease numeric identifier longer than
 * 20 digits still compares as a number (SemVer says so; Go's ParseUint gives
 * up and compares it as text); a part like "1x" is refused when parsing
 * rather than by a failed NewVersion call.
 *
 * Ownership: struct p4_semver is a plain value with its strings inline. A
 * range from p4_semver_range_parse() belongs to the caller, who frees it with
 * p4_semver_range_free(); it holds no pointer into the string it was parsed
 * from.
 */
#ifndef PHASE4_SEMVER_H
#define PHASE4_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"

/* Bytes of a version string with its NUL: longer versions are refused. */
#define P4_SEMVER_MAX 160
/* Bytes of a prerelease or of build metadata with its NUL. */
#define P4_SEMVER_PART_MAX 128
/* Bytes p4_semver_format() may need, NUL included. */
#define P4_SEMVER_FORMAT_SIZE 320
/* Longest range string, in bytes, and most terms in one range. */
#define P4_SEMVER_RANGE_MAX 512
#define P4_SEMVER_RANGE_TERMS_MAX 64

struct p4_semver {
    uint64_t major, minor, patch;
    char pre[P4_SEMVER_PART_MAX];   /* "beta.1", without the '-'; "" for a release */
    char build[P4_SEMVER_PART_MAX]; /* "sha.5114f85", without the '+'; "" when none */
    char original[P4_SEMVER_MAX];   /* the string as it was parsed ("v1.2") */
};

/*
 * Parse s into *out. Returns 0, or P4_ERR_INVAL when s is NULL, empty, longer
 * than P4_SEMVER_MAX - 1 bytes or not a version as described above; err (may
 * be NULL) then says why in one sentence that quotes s made printable, and
 * *out is zeroed. out must not be NULL.
 */
int p4_semver_parse(const char *s, struct p4_semver *out, struct p4_error *err);

/* <0, 0 or >0 as a has lower, equal or higher precedence than b (build ignored). */
int p4_semver_compare(const struct p4_semver *a, const struct p4_semver *b);

/*
 * The canonical text of v, "1.2.0-beta.1+b5" (no 'v', no leading zeros, all
 * three numbers), into out; p4_semver_parse() reads it back to an equal version.
 */
void p4_semver_format(const struct p4_semver *v, char out[P4_SEMVER_FORMAT_SIZE]);

/*
 * Whether s is one exact version, written in full: an optional 'v', three
 * numbers, an optional prerelease and build ("1.2.3", "v2.0.0-rc.1+b7").
 * "1.2" (which as a range means 1.2.x), "=1.2.3", "~1.2.3" and anything with
 * blanks are not. NULL is not.
 */
bool p4_semver_is_exact(const char *s);

struct p4_semver_range; /* opaque */

/*
 * Parse the range s into *out (caller frees with p4_semver_range_free()).
 * Returns 0, or P4_ERR_INVAL with *out NULL and err (may be NULL) filled
 * when s is NULL, blank, longer than P4_SEMVER_RANGE_MAX - 1 bytes, has more
 * than P4_SEMVER_RANGE_TERMS_MAX terms or is not a range as described above;
 * the message quotes s made printable and says where it went wrong, e.g.
 * `version range ">= 1.2 ~" is not valid: expected a version after "~" at
 * byte 8`. out must not be NULL.
 */
int p4_semver_range_parse(const char *s, struct p4_semver_range **out, struct p4_error *err);

/* Release r; r may be NULL. */
void p4_semver_range_free(struct p4_semver_range *r);

/* Whether v satisfies r; false when either is NULL. */
bool p4_semver_range_match(const struct p4_semver_range *r, const struct p4_semver *v);

#endif
