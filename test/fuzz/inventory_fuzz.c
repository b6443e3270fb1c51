/*
 * inventory_fuzz.c: libFuzzer target for p4_inventory_from_json (a resource's
 * status.inventory, which anyone allowed to write the status can edit).
 *
 * Input: bytes parsed by cJSON_ParseWithLength. When they read as an
 * inventory: to_json and from_json again give the same entries, none skipped
 * (also through printed text); every entry is the same object as itself; the
 * diff against itself is empty, against nothing is every entry, once; the
 * scope check answers 0 or P4_ERR_INVALID with a printable message; and the
 * entries as a manifest sort into an order whose prune order is its exact
 * reverse, with every object kept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/stages/kubernetes/inventory.h"

static void same_entries(const struct p4_inventory *a, const struct p4_inventory *b)
{
    if (a->n != b->n)
        abort();
    for (size_t i = 0; i < a->n; i++) {
        const struct p4_inv_entry *x = &a->items[i], *y = &b->items[i];
        if (strcmp(x->api_version, y->api_version) != 0 || strcmp(x->kind, y->kind) != 0 ||
            strcmp(x->namespace_, y->namespace_) != 0 || strcmp(x->name, y->name) != 0 ||
            !p4_inv_entry_same(x, y))
            abort();
    }
}

/* A round trip through to_json (and printed text when text is set) gives inv back. */
static void round_trip(const struct p4_inventory *inv, int through_text)
{
    cJSON *json = p4_inventory_to_json(inv), *reparsed = NULL;
    struct p4_inventory back;
    size_t skipped = 1;
    char *text = NULL;

    if (through_text) {
        text = p4_json_print(json);
        if (text == NULL)
            abort();
        reparsed = cJSON_ParseWithLength(text, strlen(text));
        if (reparsed == NULL)
            abort();
    }
    if (p4_inventory_from_json(reparsed ? reparsed : json, &back, &skipped, NULL) != 0 ||
        skipped != 0)
        abort();
    same_entries(inv, &back);
    p4_inventory_close(&back);
    cJSON_Delete(reparsed);
    free(text);
    cJSON_Delete(json);
}

static void diffs(const struct p4_inventory *inv)
{
    struct p4_inventory prune, empty = {NULL, 0};

    if (p4_inventory_diff(inv, inv, &prune) != 0 || prune.n != 0 || prune.items != NULL)
        abort();
    if (p4_inventory_diff(inv, &empty, &prune) != 0 || prune.n != inv->n)
        abort();
    for (size_t i = 0; i < prune.n && i < 32; i++) { /* a diff per entry: keep it short */
        struct p4_inventory one = {&prune.items[i], 1}, rest;
        if (p4_inventory_diff(inv, &one, &rest) != 0 || rest.n != inv->n - 1)
            abort(); /* each entry names exactly one object of inv */
        p4_inventory_close(&rest);
    }
    p4_inventory_close(&prune);
}

static void scope(const struct p4_inventory *inv)
{
    struct p4_error err;
    int rc;

    for (int allow = 0; allow < 2; allow++) {
        memset(&err, 0, sizeof(err));
        rc = p4_inventory_check_scope(inv, inv->n ? inv->items[0].name : "shop", allow != 0, &err);
        if (rc != 0 && rc != P4_ERR_INVALID)
            abort();
        for (const char *p = err.message; *p; p++) {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                abort();
        }
    }
}

static void orders(const struct p4_inventory *inv)
{
    cJSON *objects = p4_json_need(cJSON_CreateArray()), *reversed;
    const cJSON *a, *b;

    for (size_t i = 0; i < inv->n; i++) {
        cJSON *obj = p4_json_need(cJSON_CreateObject()), *meta;
        p4_json_need(cJSON_AddStringToObject(obj, "apiVersion", inv->items[i].api_version));
        p4_json_need(cJSON_AddStringToObject(obj, "kind", inv->items[i].kind));
        meta = p4_json_need(cJSON_AddObjectToObject(obj, "metadata"));
        p4_json_need(cJSON_AddNumberToObject(meta, "index", (double)i));
        p4_json_need_ok(cJSON_AddItemToArray(objects, obj));
    }
    reversed = p4_json_need(cJSON_Duplicate(objects, 1));
    if (p4_inventory_order(objects, NULL) != 0 || p4_inventory_prune_order(reversed, NULL) != 0)
        abort();
    if ((size_t)cJSON_GetArraySize(objects) != inv->n ||
        (size_t)cJSON_GetArraySize(reversed) != inv->n)
        abort();
    a = objects->child;
    for (int i = (int)inv->n - 1; i >= 0; i--, a = a->next) {
        b = cJSON_GetArrayItem(reversed, i);
        if (a == NULL || b == NULL ||
            !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(a, "metadata"),
                           cJSON_GetObjectItemCaseSensitive(b, "metadata"), 1))
            abort();
    }
    cJSON_Delete(objects);
    cJSON_Delete(reversed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *json = cJSON_ParseWithLength((const char *)data, size);
    struct p4_inventory inv;
    struct p4_error err;
    size_t skipped = 0;

    if (p4_inventory_from_json(json, &inv, &skipped, &err) == 0) {
        if (inv.n > 0 && inv.items == NULL)
            abort();
        round_trip(&inv, 0);
        round_trip(&inv, 1);
        diffs(&inv);
        scope(&inv);
        orders(&inv);
    } else if (inv.n != 0 || inv.items != NULL) {
        abort();
    }
    p4_inventory_close(&inv);
    cJSON_Delete(json);
    return 0;
}
