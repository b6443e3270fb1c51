/* applyconflict.c: a field-manager conflict read, and who changed the object (applyconflict.h). */
#include "applyconflict.h"

#include <stdio.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/kube/apply.h"

/* Add each 'conflict with "NAME"' of text to buf, once; returns how many were added. */
static size_t managers_in(const char *text, char *buf, size_t size)
{
    static const char lead[] = "conflict with \"";
    const char *p = text;
    size_t added = 0;

    while (p != NULL && (p = strstr(p, lead)) != NULL) {
        const char *name = p + sizeof(lead) - 1, *end = strchr(name, '"');
        char one[130];
        size_t len;
        const char *hit;

        if (end == NULL)
            break;
        p = end + 1;
        len = (size_t)(end - name);
        if (len == 0 || len >= sizeof(one))
            continue;
        memcpy(one, name, len);
        one[len] = '\0';
        /* Once each: look for it as a whole item of the list so far. */
        for (hit = strstr(buf, one); hit != NULL; hit = strstr(hit + 1, one)) {
            if ((hit == buf || hit[-1] == ' ') && (hit[len] == ',' || hit[len] == '\0'))
                break;
        }
        if (hit != NULL)
            continue;
        if (strlen(buf) + len + 3 > size)
            break;
        if (buf[0] != '\0')
            (void)strncat(buf, ", ", size - strlen(buf) - 1);
        (void)strncat(buf, one, size - strlen(buf) - 1);
        added++;
    }
    return added;
}

size_t p4_applyset_conflict_managers(const struct p4_apistatus *st, char *buf, size_t size)
{
    size_t n = 0;

    if (buf == NULL || size == 0)
        return 0;
    buf[0] = '\0';
    if (st == NULL)
        return 0;
    for (size_t i = 0; i < st->causes_len; i++)
        n += managers_in(st->causes[i].message, buf, size);
    if (n == 0)
        n = managers_in(st->message, buf, size);
    return n;
}

bool p4_applyset_is_field_conflict(const struct p4_apistatus *st)
{
    if (st == NULL || st->http_code != 409)
        return false;
    for (size_t i = 0; i < st->causes_len; i++) {
        if (st->causes[i].type && strcmp(st->causes[i].type, "FieldManagerConflict") == 0)
            return true;
    }
    return st->message != NULL && strncmp(st->message, "Apply failed with", 17) == 0;
}

void p4_applyset_conflict_fields(const struct p4_apistatus *st, char *buf, size_t size)
{
    if (buf == NULL || size == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; st != NULL && i < st->causes_len; i++) {
        const char *f = st->causes[i].field;
        if (f == NULL || strlen(buf) + strlen(f) + 3 >= size)
            continue;
        if (buf[0])
            (void)strncat(buf, ", ", size - strlen(buf) - 1);
        (void)strncat(buf, f, size - strlen(buf) - 1);
    }
}

void p4_applyset_updaters(const cJSON *live, char *buf, size_t size)
{
    const cJSON *f;

    if (buf == NULL || size == 0)
        return;
    (void)snprintf(buf, size, ",");
    cJSON_ArrayForEach(f, p4_json_get(live, "metadata.managedFields")) {
        const char *m = p4_json_str(f, "manager"), *op = p4_json_str(f, "operation");
        size_t used = strlen(buf);
        if (m == NULL || op == NULL || strcmp(op, "Update") != 0 ||
            strcmp(m, P4_FIELD_MANAGER) == 0 || strchr(m, ',') != NULL ||
            used + strlen(m) + 2 > size)
            continue;
        (void)snprintf(buf + used, size - used, "%s,", m);
    }
}

bool p4_applyset_all_updaters(const char *updaters, const char *managers)
{
    const char *p = managers;

    while (*p) {
        size_t n = strcspn(p, ",");
        char needle[160];
        while (*p == ' ') {
            p++;
            n--;
        }
        if (n == 0 || n + 3 > sizeof(needle) ||
            snprintf(needle, sizeof(needle), ",%.*s,", (int)n, p) < 0 ||
            strstr(updaters, needle) == NULL)
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

void p4_applyset_note_taken(char *taken, size_t size, const char *what, const char *fields,
                            const char *managers)
{
    size_t used = strlen(taken), room;
    int w;

    if (used + 8 >= size)
        return;
    room = size - used;
    w = snprintf(taken + used, room, "%s%s (%s, set by %s)", used ? "; " : "", what,
                 fields[0] ? fields : "fields", managers);

    if (w < 0 || (size_t)w >= room) /* cut: say so */
        memcpy(taken + size - 4, "...", 4);
}
