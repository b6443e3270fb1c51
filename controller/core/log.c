/* log.c: structured logfmt / JSON log lines (see log.h). */
#include "phase4/core/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static struct {
    enum p4_log_level min;
    int json;
    FILE *out;
} settings = {P4_LOG_INFO, 0, NULL};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void p4_log_setup(enum p4_log_level min, int json, FILE *out)
{
    settings.min = min;
    settings.json = json;
    settings.out = out;
}

int p4_log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (name != NULL && strcmp(name, level_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

int p4_log_enabled(enum p4_log_level level)
{
    return level >= settings.min;
}

/* logfmt: bare when the value is plain, else a quoted Go-style string. */
static void put_logfmt(FILE *out, const char *v)
{
    int plain = v[0] != '\0';

    for (const char *p = v; *p && plain; p++) {
        unsigned char c = (unsigned char)*p;
        plain = c > ' ' && c != '"' && c != '=' && c != '\\' && c < 0x7f;
    }
    if (plain) {
        (void)fputs(v, out);
        return;
    }
    (void)fputc('"', out);
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            (void)fprintf(out, "\\%c", c);
        else if (c == '\n')
            (void)fputs("\\n", out);
        else if (c < ' ' || c == 0x7f)
            (void)fprintf(out, "\\x%02x", c);
        else
            (void)fputc(c, out);
    }
    (void)fputc('"', out);
}

static void put_json(FILE *out, const char *v)
{
    (void)fputc('"', out);
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            (void)fprintf(out, "\\%c", c);
        else if (c == '\n')
            (void)fputs("\\n", out);
        else if (c < ' ')
            (void)fprintf(out, "\\u%04x", c);
        else
            (void)fputc(c, out);
    }
    (void)fputc('"', out);
}

void p4_log(enum p4_log_level level, const char *msg, ...)
{
    FILE *out = settings.out ? settings.out : stderr;
    char ts[96];
    struct timespec now;
    struct tm tm;
    va_list ap;
    const char *k;

    if (level < settings.min)
        return;
    (void)clock_gettime(CLOCK_REALTIME, &now);
    (void)gmtime_r(&now.tv_sec, &tm);
    (void)snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (long)(now.tv_nsec / 1000000) % 1000);
    flockfile(out);
    if (settings.json) {
        (void)fprintf(out, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[level]);
        put_json(out, msg);
    } else {
        (void)fprintf(out, "time=%s level=%s msg=", ts, level_names[level]);
        put_logfmt(out, msg);
    }
    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (v == NULL)
            v = "";
        if (settings.json) {
            (void)fputc(',', out);
            put_json(out, k);
            (void)fputc(':', out);
            put_json(out, v);
        } else {
            (void)fprintf(out, " %s=", k);
            put_logfmt(out, v);
        }
    }
    va_end(ap);
    (void)fputs(settings.json ? "}\n" : "\n", out);
    (void)fflush(out);
    funlockfile(out);
}
