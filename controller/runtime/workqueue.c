/*
 * workqueue.c: rate-limited work queue (see workqueue.h).
 *
 * One heap-allocated item per known key holds the key copy and its state. An
 * open-addressing hash (linear probing, backward-shift deletion, power-of-two
 * size) maps keys to items; one ring buffer per level holds the ready items of
 * that level in FIFO order; a binary min-heap on (ready_at, seq) holds the delayed ones, each item
 * knowing its heap slot so a delay can be shortened or dropped in O(log n).
 *
 * Invariants: an item is in the ring of its level iff dirty && !processing; it
 * is in the heap iff heap_pos != NOT_DELAYED, and then it is not dirty.
 */
#include "phase4/runtime/workqueue.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/error.h"
#include "phase4/core/ratelimit.h"

#define NOT_DELAYED SIZE_MAX
#define TABLE_MIN 16
#define ARRAY_MIN 16 /* first size of the ring and the heap */

struct item {
    uint64_t hash;
    uint64_t ready_at;    /* when delayed: when it becomes ready */
    uint64_t seq;         /* when delayed: ties on ready_at go first-in first */
    uint64_t ready_since; /* when in the ring: when it became ready */
    size_t heap_pos;      /* slot in the heap, or NOT_DELAYED */
    size_t key_len;
    unsigned failures;
    unsigned level;  /* the ring it goes to when it turns ready: the last add's */
    bool dirty;      /* wants processing: in the ring, or re-queued at done */
    bool processing; /* handed out by get, not done yet */
    char key[];      /* NUL-terminated copy */
};

struct ring {
    struct item **v; /* FIFO */
    size_t cap;      /* power of two, or 0 before the first push */
    size_t head;
    size_t len;
};

struct p4_workqueue {
    struct item **table; /* hash slots, NULL when empty */
    size_t table_cap;    /* power of two */
    size_t keys;         /* items in the table */
    size_t key_bytes;    /* sum of item allocations */

    struct ring ring[P4_WORKQUEUE_LEVELS]; /* ready items of each level */
    size_t ready;                          /* items in all rings */
    unsigned fair_share;                   /* level 0 gets one get in this many; 0: never */
    unsigned since_low;                    /* gets from higher levels while level 0 waited */

    struct item **heap; /* delayed items, min-heap on (ready_at, seq) */
    size_t heap_cap;
    size_t heap_len;
    uint64_t seq;

    size_t processing;
    bool shutting_down;

    uint64_t base_delay_ms;
    uint64_t max_delay_ms;
    struct p4_ratelimit bucket;

    uint64_t adds_total;
    uint64_t retries_total;
};

/* ---- hash table ---- */

/* FNV-1a, 64 bit: keys are short and come from the API server, not attackers. */
static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static struct item *lookup(const struct p4_workqueue *wq, const char *key, size_t len,
                           uint64_t hash)
{
    size_t mask = wq->table_cap - 1;

    for (size_t i = hash & mask; wq->table[i] != NULL; i = (i + 1) & mask) {
        const struct item *it = wq->table[i];

        if (it->hash == hash && it->key_len == len && memcmp(it->key, key, len) == 0)
            return wq->table[i];
    }
    return NULL;
}

static void table_place(struct item **table, size_t cap, struct item *it)
{
    size_t mask = cap - 1;
    size_t i = it->hash & mask;

    while (table[i] != NULL)
        i = (i + 1) & mask;
    table[i] = it;
}

static void table_resize(struct p4_workqueue *wq, size_t cap)
{
    struct item **table = p4_calloc(cap, sizeof(struct item *));

    for (size_t i = 0; i < wq->table_cap; i++) {
        if (wq->table[i] != NULL)
            table_place(table, cap, wq->table[i]);
    }
    free(wq->table);
    wq->table = table;
    wq->table_cap = cap;
}

/* Load stays at most 1/2 (linear probing degrades past that). */
static void table_insert(struct p4_workqueue *wq, struct item *it)
{
    if ((wq->keys + 1) * 2 > wq->table_cap)
        table_resize(wq, wq->table_cap * 2);
    table_place(wq->table, wq->table_cap, it);
    wq->keys++;
}

/* Backward-shift deletion: later items of the probe run move up, no tombstones. */
static void table_remove(struct p4_workqueue *wq, const struct item *it)
{
    size_t mask = wq->table_cap - 1;
    size_t hole = it->hash & mask;

    while (wq->table[hole] != it)
        hole = (hole + 1) & mask;
    wq->table[hole] = NULL;
    for (size_t j = (hole + 1) & mask; wq->table[j] != NULL; j = (j + 1) & mask) {
        size_t home = wq->table[j]->hash & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);

        if (stays)
            continue;
        wq->table[hole] = wq->table[j];
        wq->table[j] = NULL;
        hole = j;
    }
    wq->keys--;
    if (wq->table_cap > TABLE_MIN && wq->keys * 8 < wq->table_cap)
        table_resize(wq, wq->table_cap / 2);
}

/* ---- ready rings ---- */

static void ring_push(struct p4_workqueue *wq, struct item *it, uint64_t ready_since)
{
    struct ring *r = &wq->ring[it->level];

    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : ARRAY_MIN;
        struct item **v = p4_malloc(cap * sizeof(struct item *));

        for (size_t i = 0; i < r->len; i++)
            v[i] = r->v[(r->head + i) & (r->cap - 1)];
        free(r->v);
        r->v = v;
        r->cap = cap;
        r->head = 0;
    }
    r->v[(r->head + r->len) & (r->cap - 1)] = it;
    r->len++;
    wq->ready++;
    it->ready_since = ready_since;
    wq->adds_total++;
}

static struct item *ring_pop_level(struct p4_workqueue *wq, unsigned level)
{
    struct ring *r = &wq->ring[level];
    struct item *it;

    if (r->len == 0)
        return NULL;
    it = r->v[r->head];
    r->head = (r->head + 1) & (r->cap - 1);
    r->len--;
    wq->ready--;
    return it;
}

/*
 * The next ready item: the oldest of the highest level, except that level 0 has the get after
 * fair_share - 1 gets of higher levels while it waited, so it is never starved.
 */
static struct item *ring_pop(struct p4_workqueue *wq)
{
    unsigned top = P4_WORKQUEUE_LEVELS;

    while (top > 0 && wq->ring[top - 1].len == 0)
        top--;
    if (top == 0)
        return NULL;
    top--;
    if (top > 0 && wq->ring[0].len > 0) {
        if (wq->fair_share > 0 && wq->since_low + 1 >= wq->fair_share)
            top = 0;
        else
            wq->since_low++;
    }
    if (top == 0)
        wq->since_low = 0;
    return ring_pop_level(wq, top);
}

/* ---- delay heap ---- */

static bool heap_before(const struct item *a, const struct item *b)
{
    return a->ready_at < b->ready_at || (a->ready_at == b->ready_at && a->seq < b->seq);
}

static void heap_set(struct p4_workqueue *wq, size_t pos, struct item *it)
{
    wq->heap[pos] = it;
    it->heap_pos = pos;
}

static void heap_up(struct p4_workqueue *wq, size_t pos)
{
    struct item *it = wq->heap[pos];

    while (pos > 0) {
        size_t parent = (pos - 1) / 2;

        if (!heap_before(it, wq->heap[parent]))
            break;
        heap_set(wq, pos, wq->heap[parent]);
        pos = parent;
    }
    heap_set(wq, pos, it);
}

static void heap_down(struct p4_workqueue *wq, size_t pos)
{
    struct item *it = wq->heap[pos];

    for (;;) {
        size_t child = 2 * pos + 1;

        if (child >= wq->heap_len)
            break;
        if (child + 1 < wq->heap_len && heap_before(wq->heap[child + 1], wq->heap[child]))
            child++;
        if (!heap_before(wq->heap[child], it))
            break;
        heap_set(wq, pos, wq->heap[child]);
        pos = child;
    }
    heap_set(wq, pos, it);
}

static void heap_push(struct p4_workqueue *wq, struct item *it)
{
    if (wq->heap_len == wq->heap_cap) {
        wq->heap_cap = wq->heap_cap ? wq->heap_cap * 2 : ARRAY_MIN;
        wq->heap = p4_realloc(wq->heap, wq->heap_cap * sizeof(struct item *));
    }
    wq->heap[wq->heap_len] = it;
    it->heap_pos = wq->heap_len++;
    heap_up(wq, it->heap_pos);
}

static void heap_remove(struct p4_workqueue *wq, struct item *it)
{
    size_t pos = it->heap_pos;
    struct item *last = wq->heap[--wq->heap_len];

    it->heap_pos = NOT_DELAYED;
    if (last == it)
        return;
    heap_set(wq, pos, last);
    heap_up(wq, pos);
    heap_down(wq, last->heap_pos);
}

/* ---- items ---- */

static size_t item_size(size_t key_len)
{
    return sizeof(struct item) + key_len + 1;
}

/* Drop the item once nothing refers to it and it remembers no failures. */
static void release_if_idle(struct p4_workqueue *wq, struct item *it)
{
    if (it->dirty || it->processing || it->heap_pos != NOT_DELAYED || it->failures != 0)
        return;
    table_remove(wq, it);
    wq->key_bytes -= item_size(it->key_len);
    free(it);
}

/* Mark dirty; queue unless a worker holds it (done will queue it then). */
static void make_ready(struct p4_workqueue *wq, struct item *it, uint64_t since)
{
    if (it->heap_pos != NOT_DELAYED)
        heap_remove(wq, it);
    if (it->dirty)
        return;
    it->dirty = true;
    if (!it->processing)
        ring_push(wq, it, since);
}

/* Move every delayed item due at now into the ring, earliest first. */
static void promote(struct p4_workqueue *wq, uint64_t now_ms)
{
    while (wq->heap_len > 0 && wq->heap[0]->ready_at <= now_ms) {
        struct item *it = wq->heap[0];

        make_ready(wq, it, it->ready_at);
    }
}

/* Check key and find its item; *out is NULL (and P4_ERR_NOTFOUND) if unknown. */
static int find_item(const struct p4_workqueue *wq, const char *key, struct item **out)
{
    size_t len;

    *out = NULL;
    if (wq == NULL || key == NULL)
        return P4_ERR_INVAL;
    len = strnlen(key, P4_WORKQUEUE_KEY_MAX + 1);
    if (len > P4_WORKQUEUE_KEY_MAX)
        return P4_ERR_TOOBIG;
    *out = lookup(wq, key, len, hash_key(key, len));
    return *out != NULL ? 0 : P4_ERR_NOTFOUND;
}

/* Find or make the item of key for an add; refused once shut down. */
static int add_item(struct p4_workqueue *wq, const char *key, struct item **out)
{
    int rc = find_item(wq, key, out);
    size_t len;
    struct item *it;

    if (rc != 0 && rc != P4_ERR_NOTFOUND)
        goto out;
    if (wq->shutting_down) {
        rc = P4_ERR_CANCELED;
        *out = NULL;
        goto out;
    }
    if (rc == 0)
        goto out;
    rc = 0;
    len = strlen(key);
    it = p4_calloc(1, item_size(len));
    it->hash = hash_key(key, len);
    it->heap_pos = NOT_DELAYED;
    it->key_len = len;
    memcpy(it->key, key, len + 1);
    table_insert(wq, it);
    wq->key_bytes += item_size(len);
    *out = it;
out:
    return rc;
}

/* Make it ready at now_ms + delay_ms unless it is ready earlier already. */
static void delay_item(struct p4_workqueue *wq, struct item *it, uint64_t delay_ms, uint64_t now_ms)
{
    uint64_t ready_at = now_ms + delay_ms < now_ms ? UINT64_MAX : now_ms + delay_ms;

    if (delay_ms == 0) {
        make_ready(wq, it, now_ms);
    } else if (it->dirty) {
        /* ready already: earlier than any delay */
    } else if (it->heap_pos == NOT_DELAYED) {
        it->ready_at = ready_at;
        it->seq = wq->seq++;
        heap_push(wq, it);
    } else if (ready_at < it->ready_at) {
        it->ready_at = ready_at;
        it->seq = wq->seq++;
        heap_up(wq, it->heap_pos);
    }
}

static uint64_t backoff_ms(const struct p4_workqueue *wq, unsigned failures)
{
    if (failures >= 64 || wq->base_delay_ms > (wq->max_delay_ms >> failures))
        return wq->max_delay_ms;
    return wq->base_delay_ms << failures;
}

/* ---- public ---- */

struct p4_workqueue *p4_workqueue_new(const struct p4_workqueue_config *cfg, uint64_t now_ms)
{
    static const struct p4_workqueue_config defaults = P4_WORKQUEUE_CONFIG_DEFAULT;
    struct p4_workqueue *wq = p4_calloc(1, sizeof(*wq));

    if (cfg == NULL)
        cfg = &defaults;
    wq->table_cap = TABLE_MIN;
    wq->table = p4_calloc(wq->table_cap, sizeof(struct item *));
    wq->fair_share = cfg->fair_share;
    wq->base_delay_ms = cfg->base_delay_ms;
    wq->max_delay_ms = cfg->max_delay_ms;
    p4_ratelimit_init(&wq->bucket, cfg->qps, cfg->burst, now_ms);
    return wq;
}

void p4_workqueue_free(struct p4_workqueue *wq)
{
    if (wq == NULL)
        return;
    for (size_t i = 0; i < wq->table_cap; i++)
        free(wq->table[i]);
    free(wq->table);
    for (unsigned l = 0; l < P4_WORKQUEUE_LEVELS; l++)
        free(wq->ring[l].v);
    free(wq->heap);
    p4_ratelimit_close(&wq->bucket);
    free(wq);
}

int p4_workqueue_add(struct p4_workqueue *wq, const char *key, uint64_t now_ms)
{
    return p4_workqueue_add_after(wq, key, 0, now_ms);
}

int p4_workqueue_add_after(struct p4_workqueue *wq, const char *key, uint64_t delay_ms,
                           uint64_t now_ms)
{
    return p4_workqueue_add_level(wq, key, 0, delay_ms, now_ms);
}

int p4_workqueue_add_level(struct p4_workqueue *wq, const char *key, unsigned level,
                           uint64_t delay_ms, uint64_t now_ms)
{
    struct item *it;
    int rc = add_item(wq, key, &it);

    if (rc < 0)
        goto out;
    if (!(it->dirty && !it->processing)) /* a key in a ring keeps its place there */
        it->level = level < P4_WORKQUEUE_LEVELS ? level : P4_WORKQUEUE_LEVELS - 1;
    promote(wq, now_ms);
    delay_item(wq, it, delay_ms, now_ms);
out:
    return rc;
}

int p4_workqueue_add_rate_limited(struct p4_workqueue *wq, const char *key, uint64_t now_ms,
                                  uint64_t *delay_ms)
{
    struct item *it;
    uint64_t delay;
    uint64_t global;
    int rc = add_item(wq, key, &it);

    if (rc < 0)
        goto out;
    delay = backoff_ms(wq, it->failures);
    if (it->failures < UINT_MAX)
        it->failures++;
    global = p4_ratelimit_reserve(&wq->bucket, now_ms);
    if (global > delay)
        delay = global;
    wq->retries_total++;
    promote(wq, now_ms);
    delay_item(wq, it, delay, now_ms);
    if (delay_ms != NULL) {
        if (it->dirty)
            *delay_ms = 0;
        else
            *delay_ms = it->ready_at > now_ms ? it->ready_at - now_ms : 0;
    }
out:
    return rc;
}

void p4_workqueue_forget(struct p4_workqueue *wq, const char *key)
{
    struct item *it;

    if (find_item(wq, key, &it) < 0)
        return;
    it->failures = 0;
    release_if_idle(wq, it);
}

unsigned p4_workqueue_num_requeues(const struct p4_workqueue *wq, const char *key)
{
    struct item *it;

    return find_item(wq, key, &it) == 0 ? it->failures : 0;
}

const char *p4_workqueue_get(struct p4_workqueue *wq, uint64_t now_ms, uint64_t *waited_ms)
{
    struct item *it = NULL;

    if (wq == NULL || wq->shutting_down)
        goto out;
    promote(wq, now_ms);
    it = ring_pop(wq);
    if (it == NULL)
        goto out;
    it->dirty = false;
    it->processing = true;
    wq->processing++;
    if (waited_ms != NULL)
        *waited_ms = now_ms > it->ready_since ? now_ms - it->ready_since : 0;
out:
    return it != NULL ? it->key : NULL;
}

int p4_workqueue_done(struct p4_workqueue *wq, const char *key, uint64_t now_ms)
{
    struct item *it;
    int rc = find_item(wq, key, &it);

    if (rc < 0)
        goto out;
    if (!it->processing) {
        rc = P4_ERR_NOTFOUND;
        goto out;
    }
    it->processing = false;
    wq->processing--;
    if (!wq->shutting_down)
        promote(wq, now_ms);
    if (it->dirty && !wq->shutting_down)
        ring_push(wq, it, now_ms);
    else
        it->dirty = false;
    /* key may point into it: it is not read after this. */
    release_if_idle(wq, it);
out:
    return rc;
}

uint64_t p4_workqueue_next_wakeup(const struct p4_workqueue *wq, uint64_t now_ms)
{
    uint64_t ready_at;

    if (wq == NULL || wq->heap_len == 0)
        return UINT64_MAX;
    ready_at = wq->heap[0]->ready_at;
    return ready_at > now_ms ? ready_at - now_ms : 0;
}

size_t p4_workqueue_len(const struct p4_workqueue *wq)
{
    return wq != NULL ? wq->ready : 0;
}

void p4_workqueue_shutdown(struct p4_workqueue *wq)
{
    struct item *it;

    if (wq == NULL || wq->shutting_down)
        return;
    wq->shutting_down = true;
    /* Taking from the heap's end keeps it a heap with no sifting. */
    while (wq->heap_len > 0) {
        it = wq->heap[--wq->heap_len];
        it->heap_pos = NOT_DELAYED;
        release_if_idle(wq, it);
    }
    while ((it = ring_pop(wq)) != NULL) {
        it->dirty = false;
        release_if_idle(wq, it);
    }
}

bool p4_workqueue_shutting_down(const struct p4_workqueue *wq)
{
    return wq != NULL && wq->shutting_down;
}

bool p4_workqueue_drained(const struct p4_workqueue *wq)
{
    return wq == NULL || wq->processing == 0;
}

void p4_workqueue_stats(const struct p4_workqueue *wq, struct p4_workqueue_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (wq == NULL)
        return;
    out->len = wq->ready;
    out->delayed = wq->heap_len;
    out->processing = wq->processing;
    out->keys = wq->keys;
    out->bytes =
        sizeof(*wq) + wq->key_bytes + (wq->table_cap + wq->heap_cap) * sizeof(struct item *);
    for (unsigned l = 0; l < P4_WORKQUEUE_LEVELS; l++)
        out->bytes += wq->ring[l].cap * sizeof(struct item *);
    out->adds_total = wq->adds_total;
    out->retries_total = wq->retries_total;
}
