/* chartindex.c: picking a chart version from a Helm repository index (see chartindex.h). */
#include "chartindex.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/oci/ocimanifest.h"

/* Bytes of a network or caller string quoted in a message, before it is cut with "...". */
#define SHOWN_MAX 80
/* Bytes of one version or chart name in a message's list. */
#define ITEM_MAX 32
#define SHOWN_SIZE (SHOWN_MAX + 4)
#define LIST_SIZE 480
/* Room for "entries.<name cut to SHOWN_MAX>[<index>]". */
#define FIELD_MAX (SHOWN_SIZE + 40)
/* Longest chart name accepted in an entry, and longest appVersion kept. */
#define CHART_NAME_MAX 250
#define APP_VERSION_MAX 256
#define SHA256_HEX_LEN 64
/* Room for a number written as Go writes a float32. */
#define NUMBER_SIZE 32

/* Why a URL is not used; phrased to follow the URL in a sentence. */
static const char why_credentials[] =
    "carries credentials (user info before '@'), which are refused; put them in the repository's "
    "credentials Secret instead";
static const char why_relative[] =
    "is relative and no repository URL was given to resolve it against";

/* Offsets into a URL string, as RFC 3986 splits it; the fragment is left out. */
struct url {
    size_t scheme_len; /* bytes before the ':'; 0 when there is no scheme */
    bool has_authority;
    size_t auth, auth_len; /* after "//", up to the path */
    size_t path, path_len;
    bool has_query;
    size_t query, query_len; /* after '?' */
};

/*
 * s made fit to quote in a message: bytes other than printable ASCII, '"' and
 * '\' become '?', and text past max (at most SHOWN_MAX) bytes is cut and
 * marked "...".
 */
static const char *shown(const char *s, size_t max, char buf[SHOWN_SIZE])
{
    return p4_error_quote(s, max < SHOWN_MAX ? max : SHOWN_MAX, buf);
}

static bool is_blank_string(const char *s)
{
    while (p4_ascii_space(*s))
        s++;
    return *s == '\0';
}

/* Split s into *u; NULL, or why s is not a URL we would use. */
static const char *split_url(const char *s, struct url *u)
{
    size_t i, n = strnlen(s, P4_CHARTINDEX_URL_MAX + 1);

    memset(u, 0, sizeof(*u));
    if (n > P4_CHARTINDEX_URL_MAX)
        return "is longer than 2048 bytes";
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c >= 0x7f)
            return "has a blank, control or non-ASCII byte";
        if (c == '\\')
            return "has a backslash";
    }
    i = 0;
    if (p4_ascii_alpha(s[0])) {
        size_t j = 1;

        while (p4_ascii_alnum(s[j]) || s[j] == '+' || s[j] == '-' || s[j] == '.')
            j++;
        if (s[j] == ':') {
            u->scheme_len = j;
            i = j + 1;
        }
    }
    if (u->scheme_len == 0 && memchr(s, ':', strcspn(s, "/?#")) != NULL)
        return "is not a valid URL (a ':' comes before the first '/')";
    if (s[i] == '/' && s[i + 1] == '/') {
        u->has_authority = true;
        u->auth = i + 2;
        u->auth_len = strcspn(s + u->auth, "/?#");
        i = u->auth + u->auth_len;
    }
    u->path = i;
    u->path_len = strcspn(s + i, "?#");
    i += u->path_len;
    if (s[i] == '?') {
        u->has_query = true;
        u->query = i + 1;
        u->query_len = strcspn(s + u->query, "#");
    }
    return NULL;
}

/* NULL when the authority of u (a split of s) is a host[:port] without user info. */
static const char *check_authority(const char *s, const struct url *u)
{
    const char *a = s + u->auth;

    if (!u->has_authority || u->auth_len == 0 || a[0] == ':')
        return "has no host";
    if (memchr(a, '@', u->auth_len) != NULL)
        return why_credentials;
    for (size_t i = 0; i < u->auth_len; i++) {
        if (!(p4_ascii_alnum(a[i]) || strchr("-._~%:[]", a[i]) != NULL))
            return "has a host with a character a host name cannot have";
    }
    return NULL;
}

/* NULL when u (a split of s) is an absolute http or https URL with a host and no user info. */
static const char *check_http(const char *s, const struct url *u)
{
    if (!((u->scheme_len == 4 && strncasecmp(s, "http", 4) == 0) ||
          (u->scheme_len == 5 && strncasecmp(s, "https", 5) == 0)))
        return "is not an http or https URL";
    return check_authority(s, u);
}

/*
 * Append path p (n bytes, starting with '/') to out without "." and ".."
 * segments (RFC 3986 section 5.2.4, as Go's URL.ResolveReference does it);
 * ".." at the root stays at the root.
 */
static void remove_dots(const char *p, size_t n, struct p4_buf *out)
{
    size_t start = out->len, i = 1;
    bool dir = false;

    for (;;) {
        size_t seg = i, len;

        while (i < n && p[i] != '/')
            i++;
        len = i - seg;
        if (len == 1 && p[seg] == '.') {
            dir = true;
        } else if (len == 2 && p[seg] == '.' && p[seg + 1] == '.') {
            while (out->len > start && out->data[out->len - 1] != '/')
                out->len--;
            if (out->len > start)
                out->len--;
            dir = true;
        } else {
            p4_buf_append(out, "/", 1);
            p4_buf_append(out, p + seg, len);
            dir = false;
        }
        if (i >= n)
            break;
        i++;
    }
    if (out->len == start || dir)
        p4_buf_append(out, "/", 1);
    out->data[out->len] = '\0';
}

/*
 * ref (split into r, relative: no scheme) resolved against base (split into
 * b, checked): Helm's ResolveReferenceURL, which takes base as a directory
 * and gives the result base's query. Caller frees.
 */
static char *resolve(const char *base, const struct url *b, const char *ref, const struct url *r)
{
    struct p4_buf full = {0}, out = {0};

    p4_buf_append(&out, base, b->scheme_len);
    p4_buf_append(&out, "://", 3);
    if (r->has_authority) {
        p4_buf_append(&out, ref + r->auth, r->auth_len);
        p4_buf_append(&full, ref + r->path, r->path_len);
    } else {
        p4_buf_append(&out, base + b->auth, b->auth_len);
        if (ref[r->path] != '/') {
            p4_buf_append(&full, base + b->path, b->path_len);
            if (full.len == 0 || full.data[full.len - 1] != '/')
                p4_buf_append(&full, "/", 1);
        }
        p4_buf_append(&full, ref + r->path, r->path_len);
    }
    remove_dots(full.data, full.len, &out);
    if (b->has_query) {
        p4_buf_append(&out, "?", 1);
        p4_buf_append(&out, base + b->query, b->query_len);
    }
    free(full.data);
    return out.data;
}

/*
 * The download URL for ref into *url (caller frees); NULL, or why ref is not
 * usable. base is NULL when no repository URL was given.
 */
static const char *chart_url(const char *ref, const char *base, const struct url *b, char **url)
{
    struct url r, done;
    const char *why = split_url(ref, &r);

    *url = NULL;
    if (why != NULL)
        return why;
    if (r.scheme_len > 0) {
        why = check_http(ref, &r);
        if (why == NULL)
            *url = p4_strndup(ref, r.has_query ? r.query + r.query_len : r.path + r.path_len);
        return why;
    }
    if (r.path_len == 0)
        return "does not name a file";
    if (r.has_authority && (why = check_authority(ref, &r)) != NULL)
        return why;
    if (base == NULL)
        return why_relative;
    *url = resolve(base, b, ref, &r);
    why = split_url(*url, &done);
    if (why == NULL)
        why = check_http(*url, &done);
    if (why != NULL) {
        free(*url);
        *url = NULL;
        why = "resolves to a URL longer than 2048 bytes";
    }
    return why;
}

/* A chart name Helm would accept: printable ASCII, no path separator. */
static bool valid_name(const char *s)
{
    size_t n = strnlen(s, CHART_NAME_MAX + 1);

    if (n == 0 || n > CHART_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '\\')
            return false;
    }
    return true;
}

/*
 * x as Helm's YAML decoding writes a number into a string field such as
 * version or appVersion (sigs.k8s.io/yaml: strconv.FormatFloat(x, 'g', -1,
 * 32)): the fewest digits that read back to the same float32, in exponent
 * form below 1e-4 and from 1e6. So "version: 1.10" is "1.1" and "version: 2"
 * is "2". Numbers beyond a float32 come out as C's %g writes them.
 */
static const char *go_float32_text(double x, char buf[NUMBER_SIZE])
{
    float f;
    int p, exp;

    if (!(x >= -FLT_MAX && x <= FLT_MAX)) {
        (void)snprintf(buf, NUMBER_SIZE, "%g", x);
        return buf;
    }
    f = (float)x;
    for (p = 1; p < 9; p++) { /* 9 significant digits always read back to a float32 */
        double back;

        (void)snprintf(buf, NUMBER_SIZE, "%.*e", p - 1, (double)f);
        back = strtod(buf, NULL);
        if (back >= -FLT_MAX && back <= FLT_MAX && (float)back == f)
            break;
    }
    (void)snprintf(buf, NUMBER_SIZE, "%.*e", p - 1, (double)f);
    exp = (int)strtol(strchr(buf, 'e') + 1, NULL, 10);
    if (exp >= -4 && exp < 6)
        (void)snprintf(buf, NUMBER_SIZE, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, (double)f);
    return buf;
}

/* The text of a string field, or of a number as Helm makes it one; NULL for other types. */
static const char *text_field(const cJSON *item, char num[NUMBER_SIZE])
{
    if (cJSON_IsString(item))
        return item->valuestring;
    if (cJSON_IsNumber(item))
        return go_float32_text(item->valuedouble, num);
    return NULL;
}

/* Whether e is an entry Helm keeps: a map with a valid name and a SemVer version (into *v). */
static bool valid_entry(const cJSON *e, struct p4_semver *v)
{
    const cJSON *name = p4_json_child(e, "name");
    char num[NUMBER_SIZE];
    const char *version = text_field(p4_json_child(e, "version"), num);

    return cJSON_IsObject(e) && cJSON_IsString(name) && valid_name(name->valuestring) &&
           version != NULL && p4_semver_parse(version, v, NULL) == 0;
}

/* Append item to the ", "-separated list in buf (size LIST_SIZE), cut to fit. */
static void list_add(char *buf, size_t *len, const char *item)
{
    int n = snprintf(buf + *len, LIST_SIZE - *len, "%s%s", *len > 0 ? ", " : "", item);

    if (n > 0)
        *len += (size_t)n < LIST_SIZE - *len ? (size_t)n : LIST_SIZE - *len - 1;
}

static void list_more(char *buf, size_t *len, size_t more)
{
    int n;

    if (more == 0)
        return;
    n = snprintf(buf + *len, LIST_SIZE - *len, " and %zu more", more);
    if (n > 0)
        *len += (size_t)n < LIST_SIZE - *len ? (size_t)n : LIST_SIZE - *len - 1;
}

/* Up to P4_CHARTINDEX_LISTED_MAX chart names of entries, in index order, into buf. */
static void list_names(const cJSON *entries, char buf[LIST_SIZE])
{
    const cJSON *c;
    char item[SHOWN_SIZE];
    size_t len = 0, count = 0;

    buf[0] = '\0';
    for (c = entries != NULL && cJSON_IsObject(entries) ? entries->child : NULL; c != NULL;
         c = c->next) {
        if (count++ < P4_CHARTINDEX_LISTED_MAX)
            list_add(buf, &len, shown(c->string != NULL ? c->string : "", ITEM_MAX, item));
    }
    list_more(buf, &len, count > P4_CHARTINDEX_LISTED_MAX ? count - P4_CHARTINDEX_LISTED_MAX : 0);
}

/*
 * The highest P4_CHARTINDEX_LISTED_MAX distinct versions of the valid
 * entries in list, newest first, into buf; *valid is how many entries are
 * valid. Keeps only that many versions, however long the list.
 */
static void list_versions(const cJSON *list, char buf[LIST_SIZE], size_t *valid)
{
    struct p4_semver top[P4_CHARTINDEX_LISTED_MAX], v;
    char item[SHOWN_SIZE];
    size_t n = 0, len = 0;

    *valid = 0;
    buf[0] = '\0';
    for (const cJSON *e = list->child; e != NULL; e = e->next) {
        size_t at;
        bool dup = false;

        if (!valid_entry(e, &v))
            continue;
        (*valid)++;
        for (at = 0; at < n && p4_semver_compare(&top[at], &v) >= 0; at++)
            dup = dup || strcmp(top[at].original, v.original) == 0;
        if (dup || at == P4_CHARTINDEX_LISTED_MAX)
            continue;
        if (n == P4_CHARTINDEX_LISTED_MAX)
            n--;
        memmove(&top[at + 1], &top[at], (n - at) * sizeof(top[0]));
        top[at] = v;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        list_add(buf, &len, shown(top[i].original, ITEM_MAX, item));
    list_more(buf, &len, *valid > n ? *valid - n : 0);
}

static int no_version(const cJSON *list, const char *chart, const char *constraint, size_t skipped,
                      struct p4_error *err)
{
    char name[SHOWN_SIZE], wanted[SHOWN_SIZE], listed[LIST_SIZE], note[96] = "";
    size_t valid;

    list_versions(list, listed, &valid);
    shown(chart, SHOWN_MAX, name);
    if (skipped > 0)
        (void)snprintf(note, sizeof(note),
                       "; %zu entr%s without a valid name and SemVer version %s skipped", skipped,
                       skipped == 1 ? "y" : "ies", skipped == 1 ? "was" : "were");
    if (valid == 0)
        return p4_error_set(err, P4_ERR_NOTFOUND,
                            "chart %s has no versions in the repository index%s", name, note);
    if (constraint == NULL)
        return p4_error_set(err, P4_ERR_NOTFOUND,
                            "chart %s has no stable version (it has: %s); a prerelease is picked "
                            "only by a version range that names one, such as \">=0.0.0-0\"%s",
                            name, listed, note);
    return p4_error_set(err, P4_ERR_NOTFOUND,
                        "chart %s has no version matching \"%s\" (it has: %s)%s", name,
                        shown(constraint, SHOWN_MAX, wanted), listed, note);
}

static int read_digest(const cJSON *e, const char *field, char **out, struct p4_error *err)
{
    const cJSON *item = p4_json_child(e, "digest");
    const char *hex;
    char buf[SHOWN_SIZE];
    size_t i;

    *out = NULL;
    if (item == NULL || cJSON_IsNull(item))
        return 0;
    if (!cJSON_IsString(item))
        return p4_error_set(err, P4_ERR_INVALID, "%s.digest is not a string", field);
    hex = item->valuestring;
    if (hex[0] == '\0')
        return 0;
    if (strncasecmp(hex, "sha256:", 7) == 0)
        hex += 7;
    for (i = 0; i < SHA256_HEX_LEN && p4_ascii_hex(hex[i]); i++)
        ;
    if (i != SHA256_HEX_LEN || hex[i] != '\0')
        return p4_error_set(err, P4_ERR_INVALID,
                            "%s.digest \"%s\" is not a SHA-256 digest (64 hex digits)", field,
                            shown(item->valuestring, SHOWN_MAX, buf));
    *out = p4_malloc(P4_OCI_SHA256_DIGEST_SIZE);
    memcpy(*out, "sha256:", 7);
    for (i = 0; i < SHA256_HEX_LEN; i++) {
        char c = hex[i];

        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        (*out)[7 + i] = c;
    }
    (*out)[7 + SHA256_HEX_LEN] = '\0';
    return 0;
}

/* The first usable URL of the entry's urls into *out; the first refusal names its field. */
static int read_urls(const cJSON *e, const char *field, const char *base, const struct url *b,
                     char **out, struct p4_error *err)
{
    const cJSON *urls = p4_json_child(e, "urls"), *u;
    const char *why = NULL, *first = NULL;
    char buf[SHOWN_SIZE];
    size_t k, first_k = 0;

    *out = NULL;
    if (!cJSON_IsArray(urls) || urls->child == NULL)
        return p4_error_set(err, P4_ERR_INVALID, "%s.urls is missing or empty", field);
    for (u = urls->child, k = 0; u != NULL && *out == NULL; u = u->next, k++) {
        why = cJSON_IsString(u) ? chart_url(u->valuestring, base, b, out) : "is not a string";
        if (why != NULL && first == NULL) {
            first = why;
            first_k = k;
        }
    }
    if (*out != NULL)
        return 0;
    u = urls->child;
    for (k = 0; k < first_k; k++)
        u = u->next;
    if (first == why_credentials || !cJSON_IsString(u))
        return p4_error_set(err, P4_ERR_INVALID, "%s.urls[%zu] %s", field, first_k, first);
    return p4_error_set(err, first == why_relative ? P4_ERR_INVAL : P4_ERR_INVALID,
                        "%s.urls[%zu] \"%s\" %s", field, first_k,
                        shown(u->valuestring, SHOWN_MAX, buf), first);
}

/* appVersion as printable ASCII ('?' for other bytes), cut to APP_VERSION_MAX; NULL if absent. */
static char *read_app_version(const cJSON *e)
{
    char num[NUMBER_SIZE], *s;
    const char *src = text_field(p4_json_child(e, "appVersion"), num);
    size_t n;

    if (src == NULL)
        return NULL;
    n = strnlen(src, APP_VERSION_MAX);
    s = p4_malloc(n + 1);
    /* n bytes always fit in n + 1, so nothing is cut or marked: one byte in, one byte out. */
    (void)p4_text_clean(s, n + 1, src, n, P4_TEXT_ASCII | P4_TEXT_LITERAL);
    return s;
}

/* The result for entry e (number k of chart's list), its version v already parsed. */
static int make_version(const cJSON *e, size_t k, const struct p4_semver *v, const char *chart,
                        const char *base, const struct url *b, struct p4_chart_version **out,
                        struct p4_error *err)
{
    struct p4_chart_version *cv = p4_calloc(1, sizeof(*cv));
    char field[FIELD_MAX], buf[SHOWN_SIZE];
    int rc;

    (void)snprintf(field, sizeof(field), "entries.%s[%zu]", shown(chart, SHOWN_MAX, buf), k);
    rc = read_digest(e, field, &cv->digest, err);
    if (rc != 0)
        goto out;
    rc = read_urls(e, field, base, b, &cv->url, err);
    if (rc != 0)
        goto out;
    cv->name = p4_strdup(p4_json_child(e, "name")->valuestring);
    cv->version = p4_strdup(v->original);
    cv->app_version = read_app_version(e);
    cv->deprecated = cJSON_IsTrue(p4_json_child(e, "deprecated"));
    cv->semver = *v;
    *out = cv;
    cv = NULL;
out:
    p4_chart_version_free(cv);
    return rc;
}

int p4_chartindex_resolve(const cJSON *index, const char *repo_url, const char *name,
                          const char *constraint, struct p4_chart_version **out,
                          struct p4_error *err)
{
    struct p4_semver_range *range = NULL;
    struct p4_semver v, best_v = {0}, target;
    const cJSON *api, *entries, *list, *e, *best = NULL;
    const char *base = NULL, *exact_build = NULL, *why;
    char buf[SHOWN_SIZE], listed[LIST_SIZE];
    struct url b = {0};
    size_t k, best_k = 0, skipped = 0;
    int rc = 0;

    if (out != NULL)
        *out = NULL;
    if (index == NULL || name == NULL || name[0] == '\0' || out == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no %s to resolve a chart version with",
                          index == NULL ? "repository index"
                          : out == NULL ? "result"
                                        : "chart name");
        goto out;
    }
    if (repo_url != NULL && repo_url[0] != '\0') {
        why = split_url(repo_url, &b);
        if (why == NULL)
            why = check_http(repo_url, &b);
        if (why == why_credentials) {
            rc = p4_error_set(err, P4_ERR_INVAL, "the repository URL %s", why);
            goto out;
        }
        if (why != NULL) {
            rc = p4_error_set(err, P4_ERR_INVAL, "repository URL \"%s\" %s",
                              shown(repo_url, SHOWN_MAX, buf), why);
            goto out;
        }
        base = repo_url;
    }
    if (!cJSON_IsObject(index)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "the chart repository index is not a map");
        goto out;
    }
    api = p4_json_child(index, "apiVersion");
    if (!cJSON_IsString(api) || api->valuestring[0] == '\0') {
        rc = p4_error_set(err, P4_ERR_INVALID,
                          "the chart repository index has no apiVersion; is this a Helm chart "
                          "repository's index.yaml?");
        goto out;
    }
    entries = p4_json_child(index, "entries");
    if (entries != NULL && !cJSON_IsNull(entries) && !cJSON_IsObject(entries)) {
        rc =
            p4_error_set(err, P4_ERR_INVALID, "entries of the chart repository index is not a map");
        goto out;
    }
    list = p4_json_child(entries, name);
    if (list == NULL || cJSON_IsNull(list)) {
        list_names(entries, listed);
        rc = p4_error_set(err, P4_ERR_NOTFOUND,
                          "the chart repository has no chart named %s (it has%s%s)",
                          shown(name, SHOWN_MAX, buf), listed[0] != '\0' ? ": " : " none", listed);
        goto out;
    }
    if (!cJSON_IsArray(list)) {
        rc = p4_error_set(err, P4_ERR_INVALID, "entries.%s is not a list",
                          shown(name, SHOWN_MAX, buf));
        goto out;
    }
    if (constraint != NULL && is_blank_string(constraint))
        constraint = NULL; /* the latest stable version, as Helm's "*" */
    if (constraint != NULL) {
        rc = p4_semver_range_parse(constraint, &range, err);
        if (rc != 0)
            goto out;
        if (p4_semver_is_exact(constraint) && p4_semver_parse(constraint, &target, NULL) == 0 &&
            target.build[0] != '\0')
            exact_build = target.build;
    }
    for (e = list->child, k = 0; e != NULL; e = e->next, k++) {
        bool wanted;

        if (!valid_entry(e, &v)) {
            skipped++;
            continue;
        }
        if (constraint != NULL && strcmp(v.original, constraint) == 0) {
            best = e; /* Helm takes the version written exactly as asked, before any range */
            best_k = k;
            best_v = v;
            break;
        }
        if (constraint == NULL)
            wanted = v.pre[0] == '\0';
        else
            wanted = p4_semver_range_match(range, &v) &&
                     (exact_build == NULL || strcmp(v.build, exact_build) == 0);
        if (wanted && (best == NULL || p4_semver_compare(&v, &best_v) > 0)) {
            best = e;
            best_k = k;
            best_v = v;
        }
    }
    if (best == NULL) {
        rc = no_version(list, name, constraint, skipped, err);
        goto out;
    }
    rc = make_version(best, best_k, &best_v, name, base, &b, out, err);
out:
    p4_semver_range_free(range);
    return rc;
}

void p4_chart_version_free(struct p4_chart_version *v)
{
    if (v == NULL)
        return;
    free(v->name);
    free(v->version);
    free(v->app_version);
    free(v->digest);
    free(v->url);
    free(v);
}
