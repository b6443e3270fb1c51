/*
 * kubeconfig.c: kubeconfig files and service-account mounts into the settings of one API
 * server (see kubeconfig.h).
 *
 * Each document is read into a strict YAML tree (kcyaml.c) and checked the way kubectl checks
 * it (kcresolve.c); only the chosen context, its cluster and its user are then turned into a
 * p4_kube_config. This file reads the files of a KUBECONFIG list, merges their documents and
 * builds the in-cluster config from the service-account mount.
 */
#include "phase4/kube/kubeconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kcresolve.h"
#include "kcyaml.h"
#include "phase4/core/alloc.h"

/* A namespace file holds a DNS label (63 bytes) and perhaps a newline. */
#define MAX_NAMESPACE_FILE 4096

int p4_kubeconfig_parse(const struct p4_kubeconfig_doc *docs, size_t ndocs, const char *context,
                        struct p4_kube_config **out, struct p4_error *err)
{
    struct p4_kube_config *cfg = NULL;
    struct p4_kcyaml_doc *srcs = NULL;
    const char *name = context;
    int rc = 0;

    *out = NULL;
    if (docs == NULL && ndocs > 0) {
        rc = p4_error_set_printable(err, P4_ERR_INVAL, "no kubeconfig documents given.");
        goto out;
    }
    srcs = p4_calloc(ndocs, sizeof(*srcs));
    for (size_t i = 0; i < ndocs; i++) {
        srcs[i].name = docs[i].name ? docs[i].name : "<memory>";
        srcs[i].base_dir = docs[i].base_dir;
        if (docs[i].len > P4_KUBECONFIG_MAX_BYTES) {
            rc = p4_error_set_printable(
                err, P4_ERR_TOOBIG, "kubeconfig " P4_KCYAML_PATH_SHOWN " is larger than %zu bytes.",
                srcs[i].name, P4_KUBECONFIG_MAX_BYTES);
            goto out;
        }
        if (docs[i].data == NULL && docs[i].len > 0) {
            rc = p4_error_set_printable(
                err, P4_ERR_INVAL, "kubeconfig " P4_KCYAML_PATH_SHOWN " has a length but no data.",
                srcs[i].name);
            goto out;
        }
        rc = p4_kcyaml_read(&srcs[i], docs[i].data ? docs[i].data : "", docs[i].len, err);
        if (rc == 0)
            rc = p4_kcresolve_check(&srcs[i], err);
        if (rc < 0)
            goto out;
    }
    if (name == NULL || name[0] == '\0') {
        name = NULL;
        for (size_t i = 0; i < ndocs && name == NULL; i++)
            (void)p4_kcyaml_str(&srcs[i], srcs[i].root, "current-context", &name,
                                err); /* checked */
        if (name == NULL) {
            rc = p4_error_set_printable(
                err, P4_ERR_NOTFOUND,
                "kubeconfig sets no current-context; name the context to use.");
            goto out;
        }
    }
    cfg = p4_calloc(1, sizeof(*cfg));
    rc = p4_kcresolve_context(srcs, ndocs, name, cfg, err);
    if (rc < 0)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    for (size_t i = 0; srcs != NULL && i < ndocs; i++)
        p4_kcyaml_close(&srcs[i]);
    free(srcs);
    p4_kube_config_free(cfg);
    return rc;
}

/*
 * Read a regular file of at most limit bytes into *buf (caller wipes and frees; NUL-terminated
 * after *len bytes). A missing file is P4_ERR_NOTFOUND. O_NONBLOCK keeps a FIFO from
 * blocking the open; it is then refused as not a regular file.
 */
static int read_file(const char *path, size_t limit, char **buf, size_t *len, struct p4_error *err)
{
    struct stat st;
    char *data = NULL;
    size_t n = 0, cap;
    ssize_t got;
    int fd, rc = 0;

    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        rc = errno == ENOENT
                 ? p4_error_set_printable(err, P4_ERR_NOTFOUND,
                                          "file " P4_KCYAML_PATH_SHOWN " not found.", path)
                 : p4_error_set_printable(err, P4_ERR_IO,
                                          "cannot open " P4_KCYAML_PATH_SHOWN ": %s.", path,
                                          strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = p4_error_set_printable(err, P4_ERR_INVAL,
                                    P4_KCYAML_PATH_SHOWN " is not a regular file.", path);
        goto out;
    }
    if ((unsigned long long)st.st_size > limit) {
        rc = p4_error_set_printable(err, P4_ERR_TOOBIG,
                                    "file " P4_KCYAML_PATH_SHOWN " is larger than %zu bytes.", path,
                                    limit);
        goto out;
    }
    /* The size is a hint: a file that grows while we read still stops at limit. */
    cap = (size_t)st.st_size + 1;
    data = p4_malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (n > limit) {
                rc = p4_error_set_printable(
                    err, P4_ERR_TOOBIG, "file " P4_KCYAML_PATH_SHOWN " is larger than %zu bytes.",
                    path, limit);
                goto out;
            }
            cap *= 2;
            data = p4_realloc(data, cap + 1);
        }
        got = read(fd, data + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = p4_error_set_printable(err, P4_ERR_IO, "cannot read " P4_KCYAML_PATH_SHOWN ": %s.",
                                        path, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (n > limit) {
        rc = p4_error_set_printable(err, P4_ERR_TOOBIG,
                                    "file " P4_KCYAML_PATH_SHOWN " is larger than %zu bytes.", path,
                                    limit);
        goto out;
    }
    data[n] = '\0';
    *buf = data;
    *len = n;
    data = NULL;
out:
    p4_wipe_free(data, n);
    if (fd >= 0)
        (void)close(fd);
    return rc;
}

/* The absolute directory of path, for resolving the paths inside it; caller frees. */
static char *dir_of(const char *path, struct p4_error *err)
{
    const char *slash = strrchr(path, '/');
    char cwd[PATH_MAX];
    size_t dlen, size;
    char *dir;

    if (slash == path)
        return p4_strdup("/");
    if (path[0] == '/')
        return p4_strndup(path, (size_t)(slash - path));
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        (void)p4_error_set_printable(
            err, P4_ERR_IO,
            "cannot resolve " P4_KCYAML_PATH_SHOWN ": the current directory is unknown.", path);
        return NULL;
    }
    dlen = slash ? (size_t)(slash - path) : 0;
    size = strlen(cwd) + 1 + dlen + 1;
    dir = p4_malloc(size);
    (void)snprintf(dir, size, "%s%s%.*s", cwd, dlen ? "/" : "", (int)dlen, path);
    return dir;
}

int p4_kubeconfig_load(const char *paths, const char *context, struct p4_kube_config **out,
                       struct p4_error *err)
{
    struct p4_kubeconfig_doc *docs = NULL;
    char **bufs = NULL, **dirs = NULL, **names = NULL;
    size_t ndocs = 0, max = 1;
    char *list = NULL, *path, *save = NULL;
    int rc = 0;

    *out = NULL;
    if (paths == NULL || paths[0] == '\0') {
        rc = p4_error_set_printable(err, P4_ERR_INVAL, "no kubeconfig path given.");
        goto out;
    }
    for (const char *p = paths; *p != '\0'; p++)
        max += *p == ':';
    docs = p4_calloc(max, sizeof(*docs));
    bufs = p4_calloc(max, sizeof(*bufs));
    dirs = p4_calloc(max, sizeof(*dirs));
    names = p4_calloc(max, sizeof(*names));
    list = p4_strdup(paths);
    for (path = strtok_r(list, ":", &save); path != NULL; path = strtok_r(NULL, ":", &save)) {
        char *data;
        size_t len;

        rc = read_file(path, P4_KUBECONFIG_MAX_BYTES, &data, &len, err);
        if (rc == P4_ERR_NOTFOUND) {
            /* As kubectl does, missing files in the list are skipped. */
            p4_error_clear(err);
            continue;
        }
        if (rc < 0)
            goto out;
        bufs[ndocs] = data;
        docs[ndocs].data = data;
        docs[ndocs].len = len;
        names[ndocs] = p4_strdup(path);
        docs[ndocs].name = names[ndocs];
        dirs[ndocs] = dir_of(path, err);
        docs[ndocs].base_dir = dirs[ndocs];
        ndocs++;
        if (dirs[ndocs - 1] == NULL) {
            rc = P4_ERR_IO;
            goto out;
        }
    }
    if (ndocs == 0) {
        rc = p4_error_set_printable(err, P4_ERR_NOTFOUND, "no kubeconfig file found in \"%.200s\".",
                                    paths);
        goto out;
    }
    rc = p4_kubeconfig_parse(docs, ndocs, context, out, err);
out:
    for (size_t i = 0; i < ndocs; i++) {
        /* The file text may hold keys and tokens. */
        p4_wipe_free(bufs[i], docs[i].len);
        free(dirs[i]);
        free(names[i]);
    }
    free(docs);
    free(bufs);
    free(dirs);
    free(names);
    free(list);
    return rc;
}

/* A DNS name, an IPv4 address or an IPv6 address, bracketed or not. */
static int valid_host(const char *host)
{
    size_t n = strlen(host);

    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    for (const char *p = host; p < host + n; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == ':'))
            return 0;
    }
    return 1;
}

static int valid_port(const char *port)
{
    size_t n = strlen(port);
    long value = 0;

    if (n == 0 || n > 5 || strspn(port, "0123456789") != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        value = value * 10 + (port[i] - '0');
    return value >= 1 && value <= 65535;
}

/* The namespace file's content trimmed of whitespace, or "default" without one. */
static int read_namespace(const char *sa_dir, char **out, struct p4_error *err)
{
    char *path = p4_path_join(sa_dir, "namespace"), *data = NULL, *start;
    size_t len;
    int rc;

    *out = NULL;
    rc = read_file(path, MAX_NAMESPACE_FILE, &data, &len, err);
    if (rc == P4_ERR_NOTFOUND) {
        p4_error_clear(err);
        *out = p4_strdup("default");
        rc = 0;
        goto out;
    }
    if (rc != 0 || data == NULL)
        goto out;
    start = data;
    while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
        start++;
    while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == '\t' || data[len - 1] == '\n' ||
                       data[len - 1] == '\r'))
        data[--len] = '\0';
    if (*start == '\0') {
        *out = p4_strdup("default");
    } else if (!p4_kcresolve_dns_label(start)) {
        rc = p4_error_set_printable(
            err, P4_ERR_INVAL, "namespace in " P4_KCYAML_PATH_SHOWN " is not a valid DNS label.",
            path);
    } else {
        *out = p4_strdup(start);
    }
out:
    free(data);
    free(path);
    return rc;
}

int p4_kubeconfig_in_cluster(const char *sa_dir, const char *host, const char *port,
                             struct p4_kube_config **out, struct p4_error *err)
{
    struct p4_kube_config *cfg = NULL;
    struct stat st;
    size_t size;
    int ipv6, rc = 0;

    *out = NULL;
    if (sa_dir == NULL || sa_dir[0] == '\0')
        sa_dir = P4_KUBE_SA_DIR;
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
        rc = p4_error_set_printable(err, P4_ERR_NOTFOUND,
                                    "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                                    "KUBERNETES_SERVICE_PORT must both be set.");
        goto out;
    }
    if (!valid_host(host) || !valid_port(port)) {
        rc = p4_error_set_printable(err, P4_ERR_INVAL,
                                    "KUBERNETES_SERVICE_HOST \"" P4_KCYAML_SHOWN
                                    "\" or KUBERNETES_SERVICE_PORT \"%.8s\" is "
                                    "not a valid host and port.",
                                    host, port);
        goto out;
    }
    cfg = p4_calloc(1, sizeof(*cfg));
    ipv6 = host[0] != '[' && strchr(host, ':') != NULL;
    size = strlen("https://[]:") + strlen(host) + strlen(port) + 1;
    cfg->server = p4_malloc(size);
    (void)snprintf(cfg->server, size, "https://%s%s%s:%s", ipv6 ? "[" : "", host, ipv6 ? "]" : "",
                   port);
    cfg->token_file = p4_path_join(sa_dir, "token");
    if (stat(cfg->token_file, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = p4_error_set_printable(
            err, P4_ERR_NOTFOUND,
            "service account token %.200s not found; mount a service account token or "
            "use a kubeconfig.",
            cfg->token_file);
        goto out;
    }
    /* As client-go: without a readable ca.crt the system's trust store is used. */
    cfg->ca_file = p4_path_join(sa_dir, "ca.crt");
    if (stat(cfg->ca_file, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(cfg->ca_file);
        cfg->ca_file = NULL;
    }
    rc = read_namespace(sa_dir, &cfg->namespace, err);
    if (rc < 0)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    p4_kube_config_free(cfg);
    return rc;
}

static void exec_free(struct p4_kube_exec *exec)
{
    if (exec == NULL)
        return;
    free(exec->command);
    for (size_t i = 0; i < exec->nargs; i++)
        free(exec->args[i]);
    free(exec->args);
    for (size_t i = 0; i < exec->nenv; i++)
        free(exec->env[i]);
    free(exec->env);
    free(exec->api_version);
    free(exec->install_hint);
    free(exec);
}

void p4_kube_config_free(struct p4_kube_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->server);
    free(cfg->context);
    free(cfg->cluster_name);
    free(cfg->user_name);
    free(cfg->namespace);
    free(cfg->tls_server_name);
    free(cfg->ca_file);
    free(cfg->ca_data);
    free(cfg->cert_file);
    free(cfg->cert_data);
    free(cfg->key_file);
    p4_wipe_free(cfg->key_data, cfg->key_len);
    p4_wipe_free_str(cfg->token);
    free(cfg->token_file);
    exec_free(cfg->exec);
    free(cfg);
}
