/*
 * kcresolve.c: the context, its cluster and its user resolved into a p4_kube_config
 * (kcresolve.h).
 *
 * Finding an entry is a linear scan per list, so a kubeconfig of many contexts stays cheap;
 * only the entries the chosen context names are read beyond the shape check.
 */
#include "kcresolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/base64.h"

enum list { L_CLUSTERS, L_USERS, L_CONTEXTS, L_COUNT };

static const char *const list_key[L_COUNT] = {"clusters", "users", "contexts"};
static const char *const body_key[L_COUNT] = {"cluster", "user", "context"};

/* Each entry of a list must be a mapping with a name and a body mapping; names unique. */
static int check_list(const struct p4_kcyaml_doc *s, enum list l, struct p4_error *err)
{
    const struct p4_kcyaml_node *seq, *body, **names = NULL;
    const char *name;
    size_t count = 0;
    int rc;

    rc = p4_kcyaml_child(s, s->root, list_key[l], P4_KCYAML_SEQ, &seq, err);
    if (rc < 0 || seq == NULL)
        goto out;
    names = p4_calloc(seq->n, sizeof(struct p4_kcyaml_node *));
    for (size_t i = 0; i < seq->n; i++) {
        const struct p4_kcyaml_node *item = seq->kids[i];

        if (item->kind != P4_KCYAML_MAP) {
            rc =
                p4_error_set_printable(err, P4_ERR_PARSE,
                                       "kubeconfig " P4_KCYAML_PATH_SHOWN
                                       " line %zu: each entry of \"%s\" must be a mapping, not %s.",
                                       s->name, item->line, list_key[l], p4_kcyaml_kind_name(item));
            goto out;
        }
        rc = p4_kcyaml_str(s, item, "name", &name, err);
        if (rc < 0)
            goto out;
        if (name == NULL) {
            rc = p4_error_set_printable(err, P4_ERR_PARSE,
                                        "kubeconfig " P4_KCYAML_PATH_SHOWN
                                        " line %zu: an entry of \"%s\" has no name.",
                                        s->name, item->line, list_key[l]);
            goto out;
        }
        rc = p4_kcyaml_child(s, item, body_key[l], P4_KCYAML_MAP, &body, err);
        if (rc < 0)
            goto out;
        names[count++] = p4_kcyaml_get(item, "name");
    }
    qsort(names, count, sizeof(struct p4_kcyaml_node *), p4_kcyaml_cmp_text);
    for (size_t i = 1; i < count; i++) {
        if (p4_kcyaml_cmp_text(&names[i - 1], &names[i]) == 0) {
            rc = p4_error_set_printable(
                err, P4_ERR_PARSE,
                "kubeconfig " P4_KCYAML_PATH_SHOWN " line %zu: %s name \"" P4_KCYAML_SHOWN
                "\" is defined twice.",
                s->name, p4_kcyaml_later_line(names[i - 1], names[i]), body_key[l], names[i]->text);
            goto out;
        }
    }
out:
    free(names);
    return rc;
}

/* The top level must be a mapping of the right shapes; unknown keys are ignored, as kubectl does.
 */
int p4_kcresolve_check(const struct p4_kcyaml_doc *s, struct p4_error *err)
{
    const char *current;
    int rc = 0;

    if (s->root == NULL)
        return 0;
    if (s->root->kind != P4_KCYAML_MAP)
        return p4_error_set_printable(err, P4_ERR_PARSE,
                                      "kubeconfig " P4_KCYAML_PATH_SHOWN
                                      " line %zu: the top level must be a mapping.",
                                      s->name, s->root->line);
    rc = p4_kcyaml_str(s, s->root, "current-context", &current, err);
    for (int l = 0; rc == 0 && l < L_COUNT; l++)
        rc = check_list(s, (enum list)l, err);
    return rc;
}

/* The body of the entry called name in the first document that defines it; 0 if none does. */
static int find_entry(const struct p4_kcyaml_doc *srcs, size_t nsrcs, enum list l, const char *name,
                      const struct p4_kcyaml_node **body, const struct p4_kcyaml_doc **from)
{
    for (size_t d = 0; d < nsrcs; d++) {
        const struct p4_kcyaml_node *seq = p4_kcyaml_get(srcs[d].root, list_key[l]);

        if (seq == NULL || seq->kind != P4_KCYAML_SEQ)
            continue;
        for (size_t i = 0; i < seq->n; i++) {
            const struct p4_kcyaml_node *item = seq->kids[i];
            const struct p4_kcyaml_node *v = p4_kcyaml_get(item, "name");

            if (v != NULL && strcmp(v->text, name) == 0) {
                *body = p4_kcyaml_get(item, body_key[l]); /* NULL or null: an empty body */
                *from = &srcs[d];
                return 1;
            }
        }
    }
    return 0;
}

/* path made absolute against the document's directory, as kubectl resolves it; caller frees. */
static char *resolve(const struct p4_kcyaml_doc *s, const char *path)
{
    const char *sep;
    size_t size;
    char *out;

    if (path[0] == '/' || s->base_dir == NULL || s->base_dir[0] == '\0')
        return p4_strdup(path);
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    sep = s->base_dir[strlen(s->base_dir) - 1] == '/' ? "" : "/";
    size = strlen(s->base_dir) + strlen(sep) + strlen(path) + 1;
    out = p4_malloc(size);
    (void)snprintf(out, size, "%s%s%s", s->base_dir, sep, path);
    return out;
}

/* Decode the base64 under key of an entry called owner (a "cluster" or "user"). */
static int get_data(const struct p4_kcyaml_doc *s, const struct p4_kcyaml_node *map,
                    const char *key, const char *what, const char *owner, unsigned char **out,
                    size_t *outlen, struct p4_error *err)
{
    const struct p4_kcyaml_node *v = p4_kcyaml_get(map, key);
    const char *text;
    int rc;

    rc = p4_kcyaml_str(s, map, key, &text, err);
    if (rc < 0 || text == NULL)
        return rc;
    if (p4_base64_decode(text, strlen(text), 0, out, outlen) != 0)
        return p4_error_set_printable(err, P4_ERR_PARSE,
                                      "kubeconfig " P4_KCYAML_PATH_SHOWN
                                      " line %zu: %s of %s \"" P4_KCYAML_SHOWN
                                      "\" is not valid base64.",
                                      s->name, v->line, key, what, owner);
    return 0;
}

int p4_kcresolve_dns_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    }
    return 1;
}

static int fill_cluster(const struct p4_kcyaml_doc *s, const struct p4_kcyaml_node *c,
                        struct p4_kube_config *cfg, struct p4_error *err)
{
    const char *name = cfg->cluster_name, *server, *tls_name, *ca_file, *proxy;
    int has_ca_data = p4_kcyaml_is_set(p4_kcyaml_get(c, "certificate-authority-data"));
    size_t len;
    int rc;

    rc = p4_kcyaml_str(s, c, "server", &server, err);
    if (rc == 0)
        rc = p4_kcyaml_str(s, c, "tls-server-name", &tls_name, err);
    if (rc == 0)
        rc = p4_kcyaml_str(s, c, "certificate-authority", &ca_file, err);
    /* proxy-url is type-checked but not used: the transport takes proxies from libcurl's
     * environment variables (HTTPS_PROXY, NO_PROXY) only. */
    if (rc == 0)
        rc = p4_kcyaml_str(s, c, "proxy-url", &proxy, err);
    if (rc == 0)
        rc = p4_kcyaml_bool(s, c, "insecure-skip-tls-verify", &cfg->insecure_skip_tls_verify, err);
    if (rc != 0)
        return rc;
    if (server == NULL)
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "cluster \"" P4_KCYAML_SHOWN
                                      "\" in kubeconfig " P4_KCYAML_PATH_SHOWN " has no server.",
                                      name, s->name);
    if (ca_file != NULL && has_ca_data)
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "cluster \"" P4_KCYAML_SHOWN
                                      "\" sets both certificate-authority and "
                                      "certificate-authority-data; keep one.",
                                      name);
    if (cfg->insecure_skip_tls_verify && (ca_file != NULL || has_ca_data))
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "cluster \"" P4_KCYAML_SHOWN
                                      "\" sets insecure-skip-tls-verify together with a "
                                      "certificate authority; keep one.",
                                      name);
    cfg->server = p4_strdup(server);
    len = strlen(cfg->server);
    while (len > 0 && cfg->server[len - 1] == '/')
        cfg->server[--len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)cfg->server[i] <= ' ' || cfg->server[i] == 0x7f)
            return p4_error_set_printable(err, P4_ERR_INVAL,
                                          "server of cluster \"" P4_KCYAML_SHOWN
                                          "\" contains spaces or control characters.",
                                          name);
    }
    if (!(strncmp(cfg->server, "https://", 8) == 0 && len > 8) &&
        !(strncmp(cfg->server, "http://", 7) == 0 && len > 7))
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "server of cluster \"" P4_KCYAML_SHOWN
                                      "\" must be a URL starting with https://.",
                                      name);
    cfg->tls_server_name = p4_strdup_or_null(tls_name);
    if (ca_file != NULL)
        cfg->ca_file = resolve(s, ca_file);
    return get_data(s, c, "certificate-authority-data", "cluster", name, &cfg->ca_data,
                    &cfg->ca_len, err);
}

static int fill_exec_env(const struct p4_kcyaml_doc *s, const struct p4_kcyaml_node *env,
                         const char *user, struct p4_kube_exec *exec, struct p4_error *err)
{
    const char *name = NULL, *value = NULL;
    int rc = 0;

    exec->env = p4_calloc(env->n, sizeof(*exec->env));
    for (size_t i = 0; i < env->n; i++) {
        const struct p4_kcyaml_node *item = env->kids[i];
        size_t size;

        if (item->kind != P4_KCYAML_MAP)
            return p4_kcyaml_type_fail(s, item, "env", "a list of name/value mappings", err);
        rc = p4_kcyaml_str(s, item, "name", &name, err);
        if (rc == 0)
            rc = p4_kcyaml_str(s, item, "value", &value, err);
        if (rc < 0)
            return rc;
        if (name == NULL || strchr(name, '=') != NULL)
            return p4_error_set_printable(
                err, P4_ERR_INVAL,
                "kubeconfig " P4_KCYAML_PATH_SHOWN
                " line %zu: an env entry of the exec plugin of user \"" P4_KCYAML_SHOWN
                "\" needs a name without '='.",
                s->name, item->line, user);
        if (value == NULL)
            value = "";
        size = strlen(name) + 1 + strlen(value) + 1;
        exec->env[exec->nenv] = p4_malloc(size);
        (void)snprintf(exec->env[exec->nenv], size, "%s=%s", name, value);
        exec->nenv++;
    }
    return rc;
}

static int fill_exec(const struct p4_kcyaml_doc *s, const struct p4_kcyaml_node *e,
                     const char *user, struct p4_kube_exec *exec, struct p4_error *err)
{
    const char *command, *api_version, *hint, *mode;
    const struct p4_kcyaml_node *args, *env;
    int rc;

    rc = p4_kcyaml_str(s, e, "command", &command, err);
    if (rc == 0)
        rc = p4_kcyaml_str(s, e, "apiVersion", &api_version, err);
    if (rc == 0)
        rc = p4_kcyaml_str(s, e, "installHint", &hint, err);
    if (rc == 0)
        rc = p4_kcyaml_str(s, e, "interactiveMode", &mode, err);
    if (rc == 0)
        rc = p4_kcyaml_bool(s, e, "provideClusterInfo", &exec->provide_cluster_info, err);
    if (rc == 0)
        rc = p4_kcyaml_child(s, e, "args", P4_KCYAML_SEQ, &args, err);
    if (rc == 0)
        rc = p4_kcyaml_child(s, e, "env", P4_KCYAML_SEQ, &env, err);
    if (rc != 0)
        return rc;
    if (command == NULL)
        return p4_error_set_printable(
            err, P4_ERR_INVAL, "the exec plugin of user \"" P4_KCYAML_SHOWN "\" has no command.",
            user);
    if (api_version == NULL || (strcmp(api_version, "client.authentication.k8s.io/v1") != 0 &&
                                strcmp(api_version, "client.authentication.k8s.io/v1beta1") != 0))
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "the exec plugin of user \"" P4_KCYAML_SHOWN
                                      "\" must set apiVersion "
                                      "client.authentication.k8s.io/v1 or v1beta1.",
                                      user);
    if (mode != NULL && strcmp(mode, "Always") == 0)
        return p4_error_set_printable(
            err, P4_ERR_INVAL,
            "the exec plugin of user \"" P4_KCYAML_SHOWN "\" needs a terminal "
            "(interactiveMode: Always), which an operator cannot provide.",
            user);
    if (mode != NULL && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0)
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "the exec plugin of user \"" P4_KCYAML_SHOWN
                                      "\" has an unknown interactiveMode; "
                                      "use Never or IfAvailable.",
                                      user);
    exec->interactive_never = mode != NULL && strcmp(mode, "Never") == 0;
    /* Like kubectl: a command with a '/' is a path relative to the kubeconfig, else $PATH's. */
    exec->command = strchr(command, '/') ? resolve(s, command) : p4_strdup(command);
    exec->api_version = p4_strdup(api_version);
    exec->install_hint = p4_strdup_or_null(hint);
    if (args != NULL) {
        exec->args = p4_calloc(args->n, sizeof(*exec->args));
        for (size_t i = 0; i < args->n; i++) {
            const struct p4_kcyaml_node *a = args->kids[i];

            if (a->kind != P4_KCYAML_SCALAR)
                return p4_kcyaml_type_fail(s, a, "args", "a list of strings", err);
            exec->args[exec->nargs++] = p4_strdup(p4_kcyaml_is_null(a) ? "" : a->text);
        }
    }
    return env != NULL ? fill_exec_env(s, env, user, exec, err) : 0;
}

/* Reject what kubectl accepts but we cannot honour, with what to do instead. */
static int check_user_unsupported(const struct p4_kcyaml_node *u, const char *name,
                                  struct p4_error *err)
{
    static const char *const impersonation[] = {"as", "as-uid", "as-groups", "as-user-extra"};
    const struct p4_kcyaml_node *provider = p4_kcyaml_get(u, "auth-provider");
    const char *provider_name = NULL;

    if (!p4_kcyaml_is_null(provider)) {
        const struct p4_kcyaml_node *v = p4_kcyaml_get(provider, "name");

        if (v != NULL && v->kind == P4_KCYAML_SCALAR && v->len > 0)
            provider_name = v->text;
        return p4_error_set_printable(
            err, P4_ERR_INVAL,
            "user \"" P4_KCYAML_SHOWN "\" uses the %.32s auth-provider, which is no longer "
            "supported; configure an exec credential plugin instead (for example "
            "gke-gcloud-auth-plugin or kubelogin).",
            name, provider_name ? provider_name : "unnamed");
    }
    if (p4_kcyaml_is_set(p4_kcyaml_get(u, "username")) ||
        p4_kcyaml_is_set(p4_kcyaml_get(u, "password")))
        return p4_error_set_printable(
            err, P4_ERR_INVAL,
            "user \"" P4_KCYAML_SHOWN "\" uses basic authentication (username/password), which "
            "Kubernetes removed in 1.19; use a token, a client certificate or an exec "
            "plugin instead.",
            name);
    for (size_t i = 0; i < sizeof(impersonation) / sizeof(impersonation[0]); i++) {
        if (p4_kcyaml_is_set(p4_kcyaml_get(u, impersonation[i])))
            return p4_error_set_printable(err, P4_ERR_INVAL,
                                          "user \"" P4_KCYAML_SHOWN
                                          "\" asks for impersonation (%s), which is not "
                                          "supported; grant the permissions to the user itself.",
                                          name, impersonation[i]);
    }
    return 0;
}

static int fill_user(const struct p4_kcyaml_doc *s, const struct p4_kcyaml_node *u,
                     struct p4_kube_config *cfg, struct p4_error *err)
{
    const char *name = cfg->user_name, *cert, *key, *token, *token_file;
    const struct p4_kcyaml_node *exec;
    int has_cert, has_key, rc;

    rc = check_user_unsupported(u, name, err);
    if (rc == 0)
        rc = p4_kcyaml_str(s, u, "client-certificate", &cert, err);
    if (rc == 0)
        rc = p4_kcyaml_str(s, u, "client-key", &key, err);
    if (rc == 0)
        rc = p4_kcyaml_str(s, u, "token", &token, err);
    if (rc == 0)
        rc = p4_kcyaml_str(s, u, "tokenFile", &token_file, err);
    if (rc == 0)
        rc = p4_kcyaml_child(s, u, "exec", P4_KCYAML_MAP, &exec, err);
    if (rc != 0)
        return rc;
    if (cert != NULL && p4_kcyaml_is_set(p4_kcyaml_get(u, "client-certificate-data")))
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "user \"" P4_KCYAML_SHOWN
                                      "\" sets both client-certificate and "
                                      "client-certificate-data; keep one.",
                                      name);
    if (key != NULL && p4_kcyaml_is_set(p4_kcyaml_get(u, "client-key-data")))
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "user \"" P4_KCYAML_SHOWN
                                      "\" sets both client-key and client-key-data; keep one.",
                                      name);
    has_cert = cert != NULL || p4_kcyaml_is_set(p4_kcyaml_get(u, "client-certificate-data"));
    has_key = key != NULL || p4_kcyaml_is_set(p4_kcyaml_get(u, "client-key-data"));
    if (has_cert != has_key)
        return p4_error_set_printable(
            err, P4_ERR_INVAL,
            "user \"" P4_KCYAML_SHOWN "\" sets a client %s without a client %s; set both.", name,
            has_cert ? "certificate" : "key", has_cert ? "key" : "certificate");
    rc = get_data(s, u, "client-certificate-data", "user", name, &cfg->cert_data, &cfg->cert_len,
                  err);
    if (rc == 0)
        rc = get_data(s, u, "client-key-data", "user", name, &cfg->key_data, &cfg->key_len, err);
    if (rc != 0)
        return rc;
    if (cert != NULL)
        cfg->cert_file = resolve(s, cert);
    if (key != NULL)
        cfg->key_file = resolve(s, key);
    cfg->token = p4_strdup_or_null(token);
    if (token_file != NULL)
        cfg->token_file = resolve(s, token_file);
    if (exec == NULL)
        return 0;
    cfg->exec = p4_calloc(1, sizeof(*cfg->exec));
    return fill_exec(s, exec, name, cfg->exec, err);
}

/* The context called name, then its cluster and user, each from the first file defining it. */
int p4_kcresolve_context(const struct p4_kcyaml_doc *srcs, size_t nsrcs, const char *name,
                         struct p4_kube_config *cfg, struct p4_error *err)
{
    const struct p4_kcyaml_node *body;
    const struct p4_kcyaml_doc *from;
    const char *cluster, *user, *ns;
    int rc;

    if (!find_entry(srcs, nsrcs, L_CONTEXTS, name, &body, &from))
        return p4_error_set_printable(
            err, P4_ERR_NOTFOUND, "context \"" P4_KCYAML_SHOWN "\" not found in kubeconfig.", name);
    cfg->context = p4_strdup(name);
    rc = p4_kcyaml_str(from, body, "cluster", &cluster, err);
    if (rc == 0)
        rc = p4_kcyaml_str(from, body, "user", &user, err);
    if (rc == 0)
        rc = p4_kcyaml_str(from, body, "namespace", &ns, err);
    if (rc != 0)
        return rc;
    if (cluster == NULL || user == NULL)
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "context \"" P4_KCYAML_SHOWN
                                      "\" in kubeconfig " P4_KCYAML_PATH_SHOWN " names no %s.",
                                      name, from->name, cluster == NULL ? "cluster" : "user");
    if (ns != NULL && !p4_kcresolve_dns_label(ns))
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "namespace \"" P4_KCYAML_SHOWN
                                      "\" of context \"" P4_KCYAML_SHOWN
                                      "\" is not a valid DNS label.",
                                      ns, name);
    cfg->namespace = p4_strdup(ns ? ns : "default");
    cfg->cluster_name = p4_strdup(cluster);
    cfg->user_name = p4_strdup(user);
    if (!find_entry(srcs, nsrcs, L_CLUSTERS, cluster, &body, &from))
        return p4_error_set_printable(err, P4_ERR_NOTFOUND,
                                      "cluster \"" P4_KCYAML_SHOWN
                                      "\" of context \"" P4_KCYAML_SHOWN
                                      "\" not found in kubeconfig.",
                                      cluster, name);
    rc = fill_cluster(from, body, cfg, err);
    if (rc != 0)
        return rc;
    if (!find_entry(srcs, nsrcs, L_USERS, user, &body, &from))
        return p4_error_set_printable(err, P4_ERR_NOTFOUND,
                                      "user \"" P4_KCYAML_SHOWN "\" of context \"" P4_KCYAML_SHOWN
                                      "\" not found in kubeconfig.",
                                      user, name);
    return fill_user(from, body, cfg, err);
}
