/* authtoken.c: WWW-Authenticate challenges, token URLs, Basic headers, tokens (authtoken.h). */
#include "phase4/oci/authtoken.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phase4/core/alloc.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "regname.h"

static void challenge_close(struct p4_auth_challenge *c)
{
    free(c->scheme);
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

void p4_regauth_challenges_close(struct p4_auth_challenges *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->len; i++)
        challenge_close(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

struct scan {
    const char *s;
    size_t len;
    size_t pos;
};

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
    return p4_ascii_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token68_char(char c)
{
    return p4_ascii_alnum(c) || (c != '\0' && strchr("-._~+/", c) != NULL);
}

/* A byte of an unquoted parameter value: lenient, since registries send realm=https://... */
static bool is_value_char(char c)
{
    return (unsigned char)c > 0x20 && (unsigned char)c != 0x7f && c != ',' && c != '"';
}

static size_t skip_ws(const struct scan *sc, size_t at)
{
    while (at < sc->len && (sc->s[at] == ' ' || sc->s[at] == '\t'))
        at++;
    return at;
}

static size_t tchars(const struct scan *sc, size_t at)
{
    size_t n = 0;

    while (at + n < sc->len && is_tchar(sc->s[at + n]))
        n++;
    return n;
}

/* Is there a "name = value" at at? *value gets where the value starts. */
static bool param_at(const struct scan *sc, size_t at, size_t *value)
{
    size_t q = at + tchars(sc, at);

    if (q == at)
        return false;
    q = skip_ws(sc, q);
    if (q >= sc->len || sc->s[q] != '=')
        return false;
    q = skip_ws(sc, q + 1);
    if (q >= sc->len || (sc->s[q] != '"' && (!is_value_char(sc->s[q]) || sc->s[q] == '=')))
        return false;
    *value = q;
    return true;
}

/* Is there a token68 ending the challenge at at? *end gets the position after it. */
static bool token68_at(const struct scan *sc, size_t at, size_t *end)
{
    size_t q = at;

    while (q < sc->len && is_token68_char(sc->s[q]))
        q++;
    if (q == at)
        return false;
    while (q < sc->len && sc->s[q] == '=')
        q++;
    q = skip_ws(sc, q);
    if (q < sc->len && sc->s[q] != ',')
        return false;
    *end = q;
    return true;
}

/*
 * Scan the value starting at from: a quoted string (escapes undone) or a run of
 * value bytes. Copies it to dst when not NULL; returns its length, or -1 with
 * err filled. *end gets the position after it.
 */
static long scan_value(const struct scan *sc, size_t from, char *dst, size_t *end,
                       struct p4_error *err)
{
    size_t i = from, n = 0;

    if (sc->s[i] != '"') {
        while (i < sc->len && is_value_char(sc->s[i])) {
            if (dst != NULL)
                dst[n] = sc->s[i];
            n++;
            i++;
        }
        *end = i;
        return (long)n;
    }
    for (i++;; i++) {
        char ch;

        if (i >= sc->len)
            return p4_error_set(err, P4_ERR_PARSE,
                                "the quoted string at byte %zu of the WWW-Authenticate value is "
                                "not closed",
                                from);
        ch = sc->s[i];
        if (ch == '"')
            break;
        if (ch == '\\' && i + 1 < sc->len)
            ch = sc->s[++i];
        if (((unsigned char)ch < 0x20 && ch != '\t') || (unsigned char)ch == 0x7f)
            return p4_error_set(err, P4_ERR_PARSE,
                                "control character at byte %zu of the WWW-Authenticate value", i);
        if (dst != NULL)
            dst[n] = ch;
        n++;
    }
    *end = i + 1;
    return (long)n;
}

/* Read the parameter named at name whose value starts at value into c; sc->pos ends after it. */
static int read_param(struct scan *sc, struct p4_auth_challenge *c, size_t name, size_t value,
                      struct p4_error *err)
{
    static const char *const names[] = {"realm", "service", "scope", "error"};
    char **slots[] = {&c->realm, &c->service, &c->scope, &c->error};
    size_t nlen = tchars(sc, name), end;
    long n = scan_value(sc, value, NULL, &end, err);
    char **slot = NULL;
    const char *slot_name = NULL;

    if (n < 0)
        return (int)n;
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (strlen(names[k]) == nlen && strncasecmp(sc->s + name, names[k], nlen) == 0) {
            slot = slots[k];
            slot_name = names[k];
        }
    }
    sc->pos = end;
    if (slot == NULL)
        return 0; /* a parameter we do not use */
    if (*slot != NULL)
        return p4_error_set(err, P4_ERR_PARSE,
                            "parameter %s appears twice in one challenge (byte %zu of the "
                            "WWW-Authenticate value)",
                            slot_name, name);
    *slot = p4_malloc((size_t)n + 1);
    (void)scan_value(sc, value, *slot, &end, err);
    (*slot)[n] = '\0';
    return 0;
}

static enum p4_auth_scheme scheme_kind(const char *s)
{
    if (strcasecmp(s, "Bearer") == 0)
        return P4_AUTH_BEARER;
    if (strcasecmp(s, "Basic") == 0)
        return P4_AUTH_BASIC;
    return P4_AUTH_OTHER;
}

int p4_regauth_challenges_parse(const char *header, size_t len, struct p4_auth_challenges *out,
                                struct p4_error *err)
{
    struct scan sc = {header, len, 0};
    size_t n, v, end;
    int rc = 0;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (out == NULL || (header == NULL && len > 0)) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no WWW-Authenticate value to parse");
        goto out;
    }
    if (len > P4_REGAUTH_INPUT_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG,
                          "WWW-Authenticate value of %zu bytes exceeds the %zu-byte limit", len,
                          P4_REGAUTH_INPUT_MAX);
        goto out;
    }
    out->items = p4_calloc(P4_REGAUTH_CHALLENGES_MAX, sizeof(*out->items));
    for (;;) {
        struct p4_auth_challenge *c;

        while (sc.pos < len &&
               (header[sc.pos] == ',' || header[sc.pos] == ' ' || header[sc.pos] == '\t'))
            sc.pos++;
        if (sc.pos == len)
            break;
        n = tchars(&sc, sc.pos);
        if (n == 0) {
            rc = p4_error_set(err, P4_ERR_PARSE,
                              "expected an auth scheme at byte %zu of the WWW-Authenticate value",
                              sc.pos);
            goto out;
        }
        if (out->len == P4_REGAUTH_CHALLENGES_MAX) {
            rc = p4_error_set(err, P4_ERR_TOOBIG,
                              "the WWW-Authenticate value has more than %d challenges",
                              P4_REGAUTH_CHALLENGES_MAX);
            goto out;
        }
        c = &out->items[out->len++];
        c->scheme = p4_strndup(header + sc.pos, n);
        c->kind = scheme_kind(c->scheme);
        sc.pos += n;
        if (sc.pos < len && header[sc.pos] != ' ' && header[sc.pos] != '\t' &&
            header[sc.pos] != ',') {
            rc = p4_error_set(err, P4_ERR_PARSE,
                              "unexpected character after the auth scheme at byte %zu of the "
                              "WWW-Authenticate value",
                              sc.pos);
            goto out;
        }
        sc.pos = skip_ws(&sc, sc.pos);
        /* The first item: a parameter, a token68 (Negotiate abc==), or nothing. */
        if (sc.pos < len && header[sc.pos] != ',') {
            if (param_at(&sc, sc.pos, &v)) {
                rc = read_param(&sc, c, sc.pos, v, err);
                if (rc < 0)
                    goto out;
            } else if (token68_at(&sc, sc.pos, &end)) {
                sc.pos = end;
            } else {
                rc = p4_error_set(err, P4_ERR_PARSE,
                                  "expected a parameter at byte %zu of the WWW-Authenticate value",
                                  sc.pos);
                goto out;
            }
        }
        /* Further parameters, until a name without '=' starts the next challenge. */
        for (;;) {
            sc.pos = skip_ws(&sc, sc.pos);
            if (sc.pos == len)
                break;
            if (header[sc.pos] != ',') {
                rc = p4_error_set(err, P4_ERR_PARSE,
                                  "expected ',' at byte %zu of the WWW-Authenticate value", sc.pos);
                goto out;
            }
            while (sc.pos < len &&
                   (header[sc.pos] == ',' || header[sc.pos] == ' ' || header[sc.pos] == '\t'))
                sc.pos++;
            if (sc.pos == len || !param_at(&sc, sc.pos, &v))
                break;
            rc = read_param(&sc, c, sc.pos, v, err);
            if (rc < 0)
                goto out;
        }
    }
    if (out->len == 0) {
        rc = p4_error_set(err, P4_ERR_PARSE, "the WWW-Authenticate value has no challenge");
        goto out;
    }
out:
    if (rc < 0)
        p4_regauth_challenges_close(out);
    return rc;
}

/* Append s URL-encoded (RFC 3986 unreserved characters kept, the rest %XX). */
static void append_encoded(struct p4_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};

        if (p4_ascii_alnum((char)c) || c == '-' || c == '.' || c == '_' || c == '~')
            p4_buf_append(b, (const char *)&s[i], 1);
        else
            p4_buf_append(b, enc, 3);
    }
}

char *p4_regauth_token_url(const struct p4_auth_challenge *c, const char *scope)
{
    struct p4_buf b = {0};
    const char *realm, *sc, *sep;
    size_t skip, rlen;

    if (c == NULL || c->realm == NULL)
        return NULL;
    realm = c->realm;
    rlen = strlen(realm);
    skip = p4_regname_scheme_len(realm);
    if (skip == 0 || realm[skip] == '\0' || realm[skip] == '/')
        return NULL;
    for (size_t i = 0; i < rlen; i++) {
        unsigned char ch = (unsigned char)realm[i];

        if (ch <= 0x20 || ch == 0x7f || ch == '#')
            return NULL;
    }
    sc = scope != NULL ? scope : c->scope;
    if (strchr(realm, '?') == NULL)
        sep = "?";
    else
        sep = (realm[rlen - 1] == '?' || realm[rlen - 1] == '&') ? "" : "&";
    p4_buf_append(&b, realm, rlen);
    if (c->service != NULL) {
        p4_buf_printf(&b, "%sservice=", sep);
        append_encoded(&b, c->service, strlen(c->service));
        sep = "&";
    }
    /* One scope parameter per scope, as the Docker client sends them. */
    while (sc != NULL && *sc != '\0') {
        size_t n;

        sc += strspn(sc, " ");
        n = strcspn(sc, " ");
        if (n == 0)
            break;
        p4_buf_printf(&b, "%sscope=", sep);
        append_encoded(&b, sc, n);
        sep = "&";
        sc += n;
    }
    return b.data;
}

char *p4_regauth_basic_header(const char *user, const char *password)
{
    static const char prefix[] = "Authorization: Basic ";
    size_t ulen, plen, n, size;
    unsigned char *plain;
    char *out;

    if (user == NULL || password == NULL || strchr(user, ':') != NULL)
        return NULL;
    ulen = strlen(user);
    plen = strlen(password);
    if (ulen > P4_REGAUTH_INPUT_MAX || plen > P4_REGAUTH_INPUT_MAX)
        return NULL;
    n = ulen + 1 + plen;
    plain = p4_malloc(n + 1);
    memcpy(plain, user, ulen);
    plain[ulen] = ':';
    memcpy(plain + ulen + 1, password, plen);
    plain[n] = '\0';
    size = sizeof(prefix) - 1 + (n + 2) / 3 * 4 + 1;
    out = p4_malloc(size);
    memcpy(out, prefix, sizeof(prefix) - 1);
    /* n <= 2 MiB + 1, far below INT_MAX; EVP_EncodeBlock pads and NUL-terminates. */
    (void)EVP_EncodeBlock((unsigned char *)out + sizeof(prefix) - 1, plain, (int)n);
    p4_wipe(plain, n + 1);
    free(plain);
    return out;
}

void p4_regauth_token_close(struct p4_regauth_token *tok)
{
    if (tok == NULL)
        return;
    p4_wipe_free_str(tok->token);
    p4_wipe_free_str(tok->refresh_token);
    memset(tok, 0, sizeof(*tok));
}

static int two_digits(const char *p)
{
    return p4_ascii_digit(p[0]) && p4_ascii_digit(p[1]) ? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}

/* RFC 3339 ("2016-11-28T11:42:19.062Z", fractions and offsets allowed) into *out; -1 if bad. */
static int parse_time(const char *s, time_t *out)
{
    struct tm tm;
    const char *p;
    int h, m;

    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.') {
        p++;
        if (!p4_ascii_digit(*p))
            return -1;
        while (p4_ascii_digit(*p))
            p++;
    }
    *out = timegm(&tm);
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return 0;
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        h = two_digits(p + 1);
        m = two_digits(p + 4);
        if (h < 0 || h > 23 || m < 0 || m > 59)
            return -1;
        *out += (*p == '+' ? -1 : 1) * ((time_t)h * 3600 + (time_t)m * 60);
        return 0;
    }
    return -1;
}

/* *out = the string member name, or NULL when absent or null; -1 when another type. */
static int str_member(const cJSON *obj, const char *name, const char **out)
{
    const cJSON *f = p4_json_child(obj, name);

    *out = NULL;
    if (f == NULL || cJSON_IsNull(f))
        return 0;
    if (!cJSON_IsString(f))
        return -1;
    *out = f->valuestring;
    return 0;
}

int p4_regauth_token_parse(const char *json, size_t len, time_t now, struct p4_regauth_token *tok,
                           struct p4_error *err)
{
    static const char *const names[] = {"token", "access_token", "refresh_token", "issued_at"};
    const char *val[4];
    struct p4_error perr;
    cJSON *doc = NULL;
    int64_t expires;
    int rc = 0, r;

    if (tok != NULL)
        memset(tok, 0, sizeof(*tok));
    if (tok == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL, "no token to parse the token service response into");
        goto out;
    }
    if (len > P4_REGAUTH_INPUT_MAX) {
        rc = p4_error_set(err, P4_ERR_TOOBIG,
                          "token service response of %zu bytes exceeds the %zu-byte limit", len,
                          P4_REGAUTH_INPUT_MAX);
        goto out;
    }
    doc = p4_json_parse(json, len, &perr);
    if (doc == NULL) {
        rc = p4_error_set(err, perr.code, "the token service response is not valid JSON: %s",
                          perr.message);
        goto out;
    }
    if (!cJSON_IsObject(doc)) {
        rc = p4_error_set(err, P4_ERR_PARSE, "the token service response is not a JSON object");
        goto out;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (str_member(doc, names[i], &val[i]) < 0) {
            rc = p4_error_set(err, P4_ERR_INVAL, "%s in the token service response is not a string",
                              names[i]);
            goto out;
        }
    }
    if (val[0] != NULL && val[0][0] != '\0')
        tok->token = p4_strdup(val[0]);
    else if (val[1] != NULL && val[1][0] != '\0')
        tok->token = p4_strdup(val[1]);
    if (tok->token == NULL) {
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "the token service response has neither token nor access_token");
        goto out;
    }
    tok->refresh_token = p4_strdup_or_null(val[2]);
    tok->expires_in = P4_REGAUTH_TOKEN_MIN_SECONDS;
    r = p4_json_int64(doc, "expires_in", &expires);
    if (r == 0 && expires >= 0) {
        tok->has_expires_in = true;
        /* As the Docker client does: a service never grants less than the minimum. */
        if (expires > tok->expires_in)
            tok->expires_in = expires;
    } else if (r != P4_ERR_NOTFOUND) {
        rc = p4_error_set(err, P4_ERR_INVAL,
                          "expires_in in the token service response is not a whole, "
                          "non-negative number of seconds");
        goto out;
    }
    if (val[3] != NULL) {
        if (parse_time(val[3], &tok->issued_at) < 0) {
            rc = p4_error_set(err, P4_ERR_INVAL,
                              "issued_at in the token service response is not an RFC 3339 time");
            goto out;
        }
        tok->has_issued_at = true;
    }
    tok->expires_at = now + (time_t)tok->expires_in;
out:
    if (rc < 0)
        p4_regauth_token_close(tok);
    p4_json_discard(doc); /* the tree held tokens: wiped, then freed */
    return rc;
}
