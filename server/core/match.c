/*
 * Matching engine: the pool of people a session has seen, and one round's
 * matching (the rules and the guarantees are in ib_match.h).
 *
 * The pool keeps what changes slowly: profiles with their tags interned to
 * small integers (so affinity is a merge of sorted integer arrays), one
 * open-addressing table keyed by the unordered pair for everything known
 * about two people (met how often, last when, blocked), and the seats of
 * the `rotate` circle. A run copies nothing of that: it numbers the people
 * taking part 0..n-1 and asks the table.
 *
 * A round of pairs is built in layers, each keeping what the previous one
 * guaranteed:
 *   0. with `odd: bye` and an odd count, the fair bye is chosen first (the
 *      fewest byes) and kept out of the next two layers;
 *   1. the strategy's start: the circle, a seeded shuffle paired off, or a
 *      heavy matching of affinities (match_interests.c);
 *   2. augmenting paths in the graph of fresh pairs (never met, not
 *      blocked) until that matching is maximum (match_card.c), so no one
 *      repeats who could have met someone new;
 *   3. among those left over only (so no fresh pair is undone), pairs that
 *      met least, then augmenting paths allowing repeats; the fair bye
 *      joins in only if a block leaves someone else without a partner;
 *   4. `odd: trio`: each one left joins the pair where it repeats least.
 * Groups of three are built by match_groups.c.
 */
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_ids.h"
#include "icebreaker/ib_utf8.h"
#include "match_internal.h"

/* Edge tests one cardinality search may spend: far beyond what the dense
 * graphs of real sessions need (a few per free person), small enough that
 * an adversarial history cannot stall a round. */
#define IB__CARD_BUDGET (40u * 1000u * 1000u)
/* People left over for repeats: below this, pairs are ranked exactly by
 * how long ago they met; above, a windowed greedy. */
#define IB__REPEAT_EXACT 2048
#define IB__SEAT_MAX (1u << 24)

/* ---- names ---- */

static const char *const strategy_names[] = {"random", "rotate", "interests"};
static const char *const odd_names[] = {"trio", "bye"};

const char *ib_match_strategy_name(ib_match_strategy_t s)
{
    return (unsigned)s < 3 ? strategy_names[s] : "?";
}

const char *ib_match_odd_name(ib_match_odd_t o)
{
    return (unsigned)o < 2 ? odd_names[o] : "?";
}

int ib_match_strategy_parse(const char *s, ib_match_strategy_t *out)
{
    for (unsigned i = 0; s && i < 3; i++) {
        if (!strcmp(s, strategy_names[i])) {
            *out = (ib_match_strategy_t)i;
            return 0;
        }
    }
    return IB_EBADREQ;
}

int ib_match_odd_parse(const char *s, ib_match_odd_t *out)
{
    for (unsigned i = 0; s && i < 2; i++) {
        if (!strcmp(s, odd_names[i])) {
            *out = (ib_match_odd_t)i;
            return 0;
        }
    }
    return IB_EBADREQ;
}

/* ---- randomness (seeded, never global) ---- */

uint64_t ib__mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t ib__rand(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return ib__mix(*state);
}

/* ---- the pair table ---- */

static uint64_t pair_key(uint32_t a, uint32_t b)
{
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    return (((uint64_t)a << 32) | b) + 1;
}

const ib__pair_t *ib__pair_get(const ib_match_pool_t *pool, uint32_t a, uint32_t b)
{
    if (!pool->pair_cap)
        return NULL;
    uint64_t k = pair_key(a, b);
    size_t mask = pool->pair_cap - 1;
    for (size_t i = ib__mix(k) & mask;; i = (i + 1) & mask) {
        if (pool->pairs[i].key == k)
            return &pool->pairs[i];
        if (!pool->pairs[i].key)
            return NULL;
    }
}

static int pair_grow(ib_match_pool_t *pool)
{
    size_t cap = pool->pair_cap ? pool->pair_cap * 2 : 64;
    ib__pair_t *t = calloc(cap, sizeof(*t));
    if (!t)
        return IB_ENOMEM;
    for (size_t i = 0; i < pool->pair_cap; i++) {
        ib__pair_t *p = &pool->pairs[i];
        if (!p->key)
            continue;
        size_t j = ib__mix(p->key) & (cap - 1);
        while (t[j].key)
            j = (j + 1) & (cap - 1);
        t[j] = *p;
    }
    free(pool->pairs);
    pool->pairs = t;
    pool->pair_cap = cap;
    return 0;
}

/* The entry of a and b, created empty when absent; NULL on ENOMEM. */
static ib__pair_t *pair_put(ib_match_pool_t *pool, uint32_t a, uint32_t b)
{
    ib__pair_t *p = (ib__pair_t *)ib__pair_get(pool, a, b);
    if (p)
        return p;
    if ((pool->pair_count + 1) * 2 > pool->pair_cap && pair_grow(pool))
        return NULL;
    uint64_t k = pair_key(a, b);
    size_t mask = pool->pair_cap - 1, i = ib__mix(k) & mask;
    while (pool->pairs[i].key)
        i = (i + 1) & mask;
    p = &pool->pairs[i];
    memset(p, 0, sizeof(*p));
    p->key = k;
    pool->pair_count++;
    pool->people[a].links++;
    pool->people[b].links++;
    return p;
}

/* ---- scratch arena ---- */

#define IB__CHUNK_MIN (256u * 1024u)

static size_t round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

void *ib__alloc(ib__arena_t *a, size_t size)
{
    size = round16(size ? size : 1);
    ib__chunk_t *c = a->cur;
    if (c && c->cap - c->used >= size) {
        void *p = (char *)c->data + c->used;
        c->used += size;
        return p;
    }
    /* Chunks after the current one are free (marks nest): use the next if
     * it fits, else put a new one right after the current. */
    if (c && c->next && c->next->cap >= size) {
        a->cur = c->next;
        a->cur->used = size;
        return a->cur->data;
    }
    size_t cap = size > IB__CHUNK_MIN ? size : IB__CHUNK_MIN;
    ib__chunk_t *n = malloc(sizeof(*n) + cap);
    if (!n)
        return NULL;
    n->cap = cap;
    n->used = size;
    if (c) {
        n->next = c->next;
        c->next = n;
    } else {
        n->next = a->first;
        a->first = n;
    }
    a->cur = n;
    return n->data;
}

void *ib__zalloc(ib__arena_t *a, size_t size)
{
    void *p = ib__alloc(a, size);
    if (p)
        memset(p, 0, size);
    return p;
}

ib__mark_t ib__mark(const ib__arena_t *a)
{
    ib__mark_t m = {a->cur, a->cur ? a->cur->used : 0};
    return m;
}

void ib__release(ib__arena_t *a, ib__mark_t m)
{
    ib__chunk_t *c = m.chunk ? m.chunk : a->first;
    if (!c)
        return;
    c->used = m.chunk ? m.used : 0;
    for (ib__chunk_t *x = c->next; x; x = x->next)
        x->used = 0;
    a->cur = c;
}

void ib__arena_reset(ib__arena_t *a)
{
    if (!a->first)
        return;
    if (!a->first->next) {
        a->first->used = 0;
        a->cur = a->first;
        return;
    }
    size_t total = 0;
    for (ib__chunk_t *c = a->first; c; c = c->next)
        total += c->cap;
    ib__arena_free(a);
    ib__chunk_t *n = malloc(sizeof(*n) + total);
    if (!n)
        return; /* the next run allocates afresh */
    n->next = NULL;
    n->cap = total;
    n->used = 0;
    a->first = a->cur = n;
}

void ib__arena_free(ib__arena_t *a)
{
    ib__chunk_t *c = a->first;
    while (c) {
        ib__chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->first = a->cur = NULL;
}

/* ---- the pool ---- */

ib_match_pool_t *ib_match_pool_new(void)
{
    return calloc(1, sizeof(ib_match_pool_t));
}

void ib_match_pool_free(ib_match_pool_t *pool)
{
    if (!pool)
        return;
    for (size_t i = 0; i < pool->n_people; i++) {
        free(pool->people[i].id);
        free(pool->people[i].tags);
    }
    for (size_t i = 0; i < pool->n_tags; i++) {
        free(pool->tags[i].key);
        free(pool->tags[i].name);
    }
    free(pool->people);
    free(pool->tags);
    free(pool->pairs);
    free(pool->seat_owner);
    ib__arena_free(&pool->scratch);
    ib_map_free(&pool->ids);
    ib_map_free(&pool->tag_ids);
    free(pool);
}

static bool tag_valid(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    return len > 0 && ib_utf8_valid(s, len) && ib_utf8_count(s, len) <= IB_MATCH_TAG_LEN_MAX;
}

static bool list_valid(const char *const *l, size_t n)
{
    if (n > IB_MATCH_TAGS_MAX || (n && !l))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!tag_valid(l[i]))
            return false;
    return true;
}

static char *fold(const char *s)
{
    char *f = strdup(s);
    if (f)
        for (char *c = f; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    return f;
}

static int tag_intern(ib_match_pool_t *pool, const char *s, uint32_t *id)
{
    char *key = fold(s);
    if (!key)
        return IB_ENOMEM;
    void *v = ib_map_get(&pool->tag_ids, key);
    if (v) {
        free(key);
        *id = (uint32_t)((uintptr_t)v - 1);
        return 0;
    }
    if (pool->n_tags == pool->cap_tags) {
        size_t cap = pool->cap_tags ? pool->cap_tags * 2 : 64;
        ib__tag_t *t = realloc(pool->tags, cap * sizeof(*t));
        if (!t) {
            free(key);
            return IB_ENOMEM;
        }
        pool->tags = t;
        pool->cap_tags = cap;
    }
    char *name = strdup(s);
    if (!name || ib_map_put(&pool->tag_ids, key, (void *)(uintptr_t)(pool->n_tags + 1))) {
        free(name);
        free(key);
        return IB_ENOMEM;
    }
    pool->tags[pool->n_tags].key = key;
    pool->tags[pool->n_tags].name = name;
    *id = (uint32_t)pool->n_tags++;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Intern a list into out (sorted, unique); returns its length or an error. */
static int intern_list(ib_match_pool_t *pool, const char *const *l, size_t n, uint32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int err = tag_intern(pool, l[i], &out[i]);
        if (err)
            return err;
    }
    qsort(out, n, sizeof(uint32_t), cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || out[k - 1] != out[i])
            out[k++] = out[i];
    return (int)k;
}

int ib_match_pool_put(ib_match_pool_t *pool, const char *id, const ib_match_profile_t *profile,
                      uint32_t *handle)
{
    static const ib_match_profile_t none;
    if (!profile)
        profile = &none;
    if (!id || !ib_id_valid(id) || !list_valid(profile->interests, profile->n_interests) ||
        !list_valid(profile->offers, profile->n_offers) ||
        !list_valid(profile->seeks, profile->n_seeks))
        return IB_EBADREQ;

    uint32_t tmp[3 * IB_MATCH_TAGS_MAX];
    int ni = intern_list(pool, profile->interests, profile->n_interests, tmp);
    if (ni < 0)
        return ni;
    int no = intern_list(pool, profile->offers, profile->n_offers, tmp + ni);
    if (no < 0)
        return no;
    int ns = intern_list(pool, profile->seeks, profile->n_seeks, tmp + ni + no);
    if (ns < 0)
        return ns;
    size_t total = (size_t)(ni + no + ns);
    uint32_t *tags = malloc((total ? total : 1) * sizeof(uint32_t));
    if (!tags)
        return IB_ENOMEM;
    memcpy(tags, tmp, total * sizeof(uint32_t));

    uint32_t h;
    if (!ib_match_pool_find(pool, id, &h)) {
        ib__person_t *p = &pool->people[h];
        free(p->tags);
        p->tags = tags;
    } else {
        if (pool->n_people == pool->cap_people) {
            size_t cap = pool->cap_people ? pool->cap_people * 2 : 64;
            ib__person_t *pp = realloc(pool->people, cap * sizeof(*pp));
            if (!pp) {
                free(tags);
                return IB_ENOMEM;
            }
            pool->people = pp;
            pool->cap_people = cap;
        }
        h = (uint32_t)pool->n_people;
        ib__person_t *p = &pool->people[h];
        memset(p, 0, sizeof(*p));
        p->seat = IB_MATCH_NONE;
        p->id = strdup(id);
        if (!p->id || ib_map_put(&pool->ids, p->id, (void *)(uintptr_t)(h + 1))) {
            free(p->id);
            free(tags);
            return IB_ENOMEM;
        }
        p->tags = tags;
        pool->n_people++;
    }
    ib__person_t *p = &pool->people[h];
    p->ni = (uint8_t)ni;
    p->no = (uint8_t)no;
    p->ns = (uint8_t)ns;
    if (handle)
        *handle = h;
    return 0;
}

int ib_match_pool_find(const ib_match_pool_t *pool, const char *id, uint32_t *handle)
{
    void *v = id ? ib_map_get(&pool->ids, id) : NULL;
    if (!v)
        return IB_ENOTFOUND;
    *handle = (uint32_t)((uintptr_t)v - 1);
    return 0;
}

size_t ib_match_pool_size(const ib_match_pool_t *pool)
{
    return pool->n_people;
}

const char *ib_match_pool_id(const ib_match_pool_t *pool, uint32_t h)
{
    return h < pool->n_people ? pool->people[h].id : NULL;
}

bool ib_match_pool_active(const ib_match_pool_t *pool, uint32_t h)
{
    return h < pool->n_people && pool->people[h].active;
}

size_t ib_match_pool_active_count(const ib_match_pool_t *pool)
{
    return pool->n_active;
}

uint32_t ib_match_pool_seat(const ib_match_pool_t *pool, uint32_t h)
{
    return h < pool->n_people ? pool->people[h].seat : IB_MATCH_NONE;
}

static int seats_reserve(ib_match_pool_t *pool, size_t want)
{
    if (want <= pool->cap_seats)
        return 0;
    size_t cap = pool->cap_seats ? pool->cap_seats : 64;
    while (cap < want)
        cap *= 2;
    uint32_t *s = realloc(pool->seat_owner, cap * sizeof(*s));
    if (!s)
        return IB_ENOMEM;
    pool->seat_owner = s;
    pool->cap_seats = cap;
    return 0;
}

/* When most seats are empty the circle is mostly holes and the repairs do
 * all the work; renumbering the seats (in their order) restores it. */
static void seats_compact(ib_match_pool_t *pool)
{
    size_t k = 0;
    for (size_t s = 0; s < pool->n_seats; s++) {
        uint32_t h = pool->seat_owner[s];
        if (h == IB_MATCH_NONE)
            continue;
        pool->seat_owner[k] = h;
        pool->people[h].seat = (uint32_t)k;
        k++;
    }
    pool->n_seats = k;
    pool->low_free = k;
}

int ib_match_pool_set_active(ib_match_pool_t *pool, uint32_t h, bool active)
{
    if (h >= pool->n_people)
        return IB_ENOTFOUND;
    ib__person_t *p = &pool->people[h];
    if (p->active == active)
        return 0;
    if (active) {
        while (pool->low_free < pool->n_seats && pool->seat_owner[pool->low_free] != IB_MATCH_NONE)
            pool->low_free++;
        if (pool->low_free == pool->n_seats) {
            if (seats_reserve(pool, pool->n_seats + 1))
                return IB_ENOMEM;
            pool->n_seats++;
        }
        p->seat = (uint32_t)pool->low_free;
        pool->seat_owner[pool->low_free++] = h;
        p->active = true;
        pool->n_active++;
    } else {
        pool->seat_owner[p->seat] = IB_MATCH_NONE;
        if (p->seat < pool->low_free)
            pool->low_free = p->seat;
        p->seat = IB_MATCH_NONE;
        p->active = false;
        pool->n_active--;
        if (pool->n_seats > 8 && pool->n_active * 2 < pool->n_seats)
            seats_compact(pool);
    }
    return 0;
}

int ib_match_pool_set_seat(ib_match_pool_t *pool, uint32_t h, uint32_t seat)
{
    if (h >= pool->n_people || !pool->people[h].active || seat >= IB__SEAT_MAX)
        return IB_EBADREQ;
    ib__person_t *p = &pool->people[h];
    if (p->seat == seat)
        return 0;
    if (seat >= pool->n_seats) {
        if (seats_reserve(pool, (size_t)seat + 1))
            return IB_ENOMEM;
        for (size_t s = pool->n_seats; s <= seat; s++)
            pool->seat_owner[s] = IB_MATCH_NONE;
        pool->n_seats = (size_t)seat + 1;
    }
    /* Whoever holds the seat takes h's old one, so restoring a saved
     * assignment one person at a time always ends consistent. */
    uint32_t other = pool->seat_owner[seat];
    pool->seat_owner[p->seat] = other;
    if (other != IB_MATCH_NONE)
        pool->people[other].seat = p->seat;
    pool->seat_owner[seat] = h;
    p->seat = seat;
    pool->low_free = 0;
    return 0;
}

int ib_match_pool_block(ib_match_pool_t *pool, uint32_t a, uint32_t b)
{
    if (a == b || a >= pool->n_people || b >= pool->n_people)
        return IB_EBADREQ;
    ib__pair_t *p = pair_put(pool, a, b);
    if (!p)
        return IB_ENOMEM;
    p->blocked = 1;
    return 0;
}

bool ib_match_pool_blocked(const ib_match_pool_t *pool, uint32_t a, uint32_t b)
{
    const ib__pair_t *p = ib__pair_get(pool, a, b);
    return p && p->blocked;
}

int ib_match_pool_met(ib_match_pool_t *pool, uint32_t a, uint32_t b, uint32_t round)
{
    if (a == b || a >= pool->n_people || b >= pool->n_people)
        return IB_EBADREQ;
    ib__pair_t *p = pair_put(pool, a, b);
    if (!p)
        return IB_ENOMEM;
    if (p->met < UINT16_MAX)
        p->met++;
    if (round > p->last || p->met == 1)
        p->last = round;
    return 0;
}

unsigned ib_match_pool_met_count(const ib_match_pool_t *pool, uint32_t a, uint32_t b)
{
    const ib__pair_t *p = ib__pair_get(pool, a, b);
    return p ? p->met : 0;
}

unsigned ib_match_pool_byes(const ib_match_pool_t *pool, uint32_t h)
{
    return h < pool->n_people ? pool->people[h].byes : 0;
}

void ib_match_pool_add_bye(ib_match_pool_t *pool, uint32_t h, int delta)
{
    if (h >= pool->n_people)
        return;
    long v = (long)pool->people[h].byes + delta;
    pool->people[h].byes = v < 0 ? 0 : (uint32_t)v;
}

/* ---- serialisation ---- */

static json_t *tag_list(const ib__person_t *p, size_t from, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(p->tags[from + i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static int pair_cmp(const void *a, const void *b)
{
    uint64_t x = (*(const ib__pair_t *const *)a)->key, y = (*(const ib__pair_t *const *)b)->key;
    return x < y ? -1 : x > y;
}

json_t *ib_match_pool_to_json(const ib_match_pool_t *pool)
{
    const ib__pair_t **order = NULL;
    json_t *j = json_object(), *tags = json_array(), *people = json_array(), *pairs = json_array();
    if (!j || !tags || !people || !pairs) {
        json_decref(j);
        json_decref(tags);
        json_decref(people);
        json_decref(pairs);
        return NULL;
    }
    /* From here j owns the three lists. */
    json_object_set_new(j, "tags", tags);
    json_object_set_new(j, "people", people);
    json_object_set_new(j, "pairs", pairs);
    for (size_t i = 0; i < pool->n_tags; i++)
        if (json_array_append_new(tags, json_string(pool->tags[i].name)))
            goto oom;
    for (size_t h = 0; h < pool->n_people; h++) {
        const ib__person_t *p = &pool->people[h];
        json_t *o = json_pack(
            "{s:s, s:o, s:o, s:o, s:b, s:o, s:I}", "id", p->id, "i", tag_list(p, 0, p->ni), "o",
            tag_list(p, p->ni, p->no), "s", tag_list(p, (size_t)p->ni + p->no, p->ns), "active",
            p->active, "seat", p->seat == IB_MATCH_NONE ? json_null() : json_integer(p->seat),
            "byes", (json_int_t)p->byes);
        if (!o || json_array_append_new(people, o))
            goto oom;
    }
    json_object_set_new(j, "seats", json_integer((json_int_t)pool->n_seats));
    /* Pairs in key order, so that equal pools give equal documents
     * whatever the history of their hash tables. */
    order = malloc((pool->pair_count ? pool->pair_count : 1) * sizeof(*order));
    if (!order)
        goto oom;
    size_t np = 0;
    for (size_t i = 0; i < pool->pair_cap; i++)
        if (pool->pairs[i].key)
            order[np++] = &pool->pairs[i];
    qsort(order, np, sizeof(*order), pair_cmp);
    for (size_t i = 0; i < np; i++) {
        const ib__pair_t *p = order[i];
        uint64_t k = p->key - 1;
        json_t *a = json_pack("[I,I,i,I,b]", (json_int_t)(k >> 32), (json_int_t)(k & 0xffffffffu),
                              (int)p->met, (json_int_t)p->last, (int)p->blocked);
        if (!a || json_array_append_new(pairs, a))
            goto oom;
    }
    free(order);
    return j;
oom:
    free(order);
    json_decref(j);
    return NULL;
}

/* Tag names of a JSON list of dictionary indices; false when malformed. */
static bool names_of(const json_t *list, const json_t *tags, const char **out, size_t *n)
{
    if (!json_is_array(list) || json_array_size(list) > IB_MATCH_TAGS_MAX)
        return false;
    *n = json_array_size(list);
    for (size_t i = 0; i < *n; i++) {
        json_t *x = json_array_get(list, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0 ||
            (size_t)json_integer_value(x) >= json_array_size(tags))
            return false;
        out[i] = json_string_value(json_array_get(tags, (size_t)json_integer_value(x)));
        if (!out[i])
            return false;
    }
    return true;
}

int ib_match_pool_from_json(const json_t *j, ib_match_pool_t **out)
{
    *out = NULL;
    json_t *tags = json_object_get(j, "tags"), *people = json_object_get(j, "people");
    json_t *pairs = json_object_get(j, "pairs"), *seats = json_object_get(j, "seats");
    if (!json_is_array(tags) || !json_is_array(people) || !json_is_array(pairs) ||
        !json_is_integer(seats) || json_integer_value(seats) < 0 ||
        json_integer_value(seats) > IB__SEAT_MAX)
        return IB_EBADREQ;
    ib_match_pool_t *pool = ib_match_pool_new();
    if (!pool)
        return IB_ENOMEM;
    int err = 0;
    /* The dictionary first, in order, so that tags get the same ids. */
    for (size_t i = 0; i < json_array_size(tags) && !err; i++) {
        const char *t = json_string_value(json_array_get(tags, i));
        uint32_t id;
        if (!tag_valid(t))
            err = IB_EBADREQ;
        else if (!(err = tag_intern(pool, t, &id)) && id != i)
            err = IB_EBADREQ; /* two spellings of one tag */
    }
    for (size_t h = 0; h < json_array_size(people) && !err; h++) {
        json_t *o = json_array_get(people, h);
        const char *in[IB_MATCH_TAGS_MAX], *of[IB_MATCH_TAGS_MAX], *se[IB_MATCH_TAGS_MAX];
        ib_match_profile_t pr = {in, 0, of, 0, se, 0};
        json_t *byes = json_object_get(o, "byes");
        uint32_t got;
        if (!names_of(json_object_get(o, "i"), tags, in, &pr.n_interests) ||
            !names_of(json_object_get(o, "o"), tags, of, &pr.n_offers) ||
            !names_of(json_object_get(o, "s"), tags, se, &pr.n_seeks) || !json_is_integer(byes) ||
            json_integer_value(byes) < 0 || json_integer_value(byes) > UINT32_MAX) {
            err = IB_EBADREQ;
            break;
        }
        if ((err = ib_match_pool_put(pool, json_string_value(json_object_get(o, "id")), &pr, &got)))
            break;
        if (got != h) { /* the same id twice */
            err = IB_EBADREQ;
            break;
        }
        pool->people[h].byes = (uint32_t)json_integer_value(byes);
    }
    /* Seats: all of them (empty ones at the end shape the circle too), then
     * each active person on theirs. */
    if (!err && (err = seats_reserve(pool, (size_t)json_integer_value(seats) + 1)) == 0) {
        pool->n_seats = (size_t)json_integer_value(seats);
        for (size_t s = 0; s < pool->n_seats; s++)
            pool->seat_owner[s] = IB_MATCH_NONE;
    }
    for (size_t h = 0; h < json_array_size(people) && !err; h++) {
        json_t *o = json_array_get(people, h), *seat = json_object_get(o, "seat");
        json_t *active = json_object_get(o, "active");
        if (!json_is_boolean(active)) {
            err = IB_EBADREQ;
            break;
        }
        if (!json_is_true(active)) {
            if (!json_is_null(seat))
                err = IB_EBADREQ;
            continue;
        }
        if (!json_is_integer(seat) || json_integer_value(seat) < 0 ||
            (size_t)json_integer_value(seat) >= pool->n_seats ||
            pool->seat_owner[json_integer_value(seat)] != IB_MATCH_NONE) {
            err = IB_EBADREQ;
            break;
        }
        ib__person_t *p = &pool->people[h];
        p->active = true;
        p->seat = (uint32_t)json_integer_value(seat);
        pool->seat_owner[p->seat] = (uint32_t)h;
        pool->n_active++;
    }
    pool->low_free = 0;
    for (size_t i = 0; i < json_array_size(pairs) && !err; i++) {
        json_t *a = json_array_get(pairs, i);
        json_int_t x, y, met, last;
        int blocked;
        if (json_unpack((json_t *)a, "[IIIIb]", &x, &y, &met, &last, &blocked) || x < 0 || y < 0 ||
            x == y || (size_t)x >= pool->n_people || (size_t)y >= pool->n_people || met < 0 ||
            met > UINT16_MAX || last < 0 || last > UINT32_MAX) {
            err = IB_EBADREQ;
            break;
        }
        ib__pair_t *p = pair_put(pool, (uint32_t)x, (uint32_t)y);
        if (!p) {
            err = IB_ENOMEM;
            break;
        }
        p->met = (uint16_t)met;
        p->last = (uint32_t)last;
        p->blocked = blocked != 0;
    }
    if (err) {
        ib_match_pool_free(pool);
        return err;
    }
    *out = pool;
    return 0;
}

/* ---- affinity ---- */

static int common(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    size_t i = 0, j = 0;
    int c = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j])
            i++;
        else if (a[i] > b[j])
            j++;
        else {
            c++;
            i++;
            j++;
        }
    }
    return c;
}

int ib__affinity(const ib__person_t *a, const ib__person_t *b)
{
    const uint32_t *ai = a->tags, *ao = ai + a->ni, *as = ao + a->no;
    const uint32_t *bi = b->tags, *bo = bi + b->ni, *bs = bo + b->no;
    return IB_MATCH_W_INTEREST * common(ai, a->ni, bi, b->ni) +
           IB_MATCH_W_OFFER * (common(ao, a->no, bs, b->ns) + common(bo, b->no, as, a->ns));
}

int ib_match_affinity(const ib_match_pool_t *pool, uint32_t a, uint32_t b)
{
    if (a >= pool->n_people || b >= pool->n_people)
        return 0;
    return ib__affinity(&pool->people[a], &pool->people[b]);
}

static size_t shared_list(const ib_match_pool_t *pool, const uint32_t *a, size_t na,
                          const uint32_t *b, size_t nb, ib_match_reason_kind_t kind,
                          ib_match_reason_t *out, size_t max, size_t k)
{
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) {
            i++;
        } else if (a[i] > b[j]) {
            j++;
        } else {
            if (k < max) {
                out[k].tag = pool->tags[a[i]].name;
                out[k].kind = kind;
            }
            k++;
            i++;
            j++;
        }
    }
    return k;
}

size_t ib_match_shared(const ib_match_pool_t *pool, uint32_t to, uint32_t partner,
                       ib_match_reason_t *out, size_t max)
{
    if (to >= pool->n_people || partner >= pool->n_people)
        return 0;
    const ib__person_t *a = &pool->people[to], *b = &pool->people[partner];
    const uint32_t *ai = a->tags, *ao = ai + a->ni, *as = ao + a->no;
    const uint32_t *bi = b->tags, *bo = bi + b->ni, *bs = bo + b->no;
    size_t k = shared_list(pool, ai, a->ni, bi, b->ni, IB_MATCH_REASON_INTEREST, out, max, 0);
    k = shared_list(pool, ao, a->no, bs, b->ns, IB_MATCH_REASON_YOU_OFFER, out, max, k);
    return shared_list(pool, as, a->ns, bo, b->no, IB_MATCH_REASON_THEY_OFFER, out, max, k);
}

/* ---- one run: helpers ---- */

bool ib__run_fresh(const ib__run_t *r, uint32_t u, uint32_t v)
{
    if (!r->linked[u] || !r->linked[v])
        return true;
    const ib__pair_t *p = ib__pair_get(r->pool, r->h[u], r->h[v]);
    return !p || (!p->blocked && !p->met);
}

bool ib__run_allowed(const ib__run_t *r, uint32_t u, uint32_t v)
{
    if (!r->linked[u] || !r->linked[v])
        return true;
    const ib__pair_t *p = ib__pair_get(r->pool, r->h[u], r->h[v]);
    return !p || !p->blocked;
}

unsigned ib__run_met(const ib__run_t *r, uint32_t u, uint32_t v)
{
    if (!r->linked[u] || !r->linked[v])
        return 0;
    const ib__pair_t *p = ib__pair_get(r->pool, r->h[u], r->h[v]);
    return p ? p->met : 0;
}

int ib__run_affinity(const ib__run_t *r, uint32_t u, uint32_t v)
{
    return ib__affinity(r->pp[u], r->pp[v]);
}

static bool edge_fresh(void *ctx, uint32_t u, uint32_t v)
{
    return ib__run_fresh(ctx, u, v);
}

static bool edge_allowed(void *ctx, uint32_t u, uint32_t v)
{
    return ib__run_allowed(ctx, u, v);
}

static int augment(ib__run_t *r, ib__edge_fn edge, const uint8_t *elig)
{
    bool ex = false;
    int ret = ib__match_card(r->n, edge, r, r->mate, elig, r->order, r->budget, &ex);
    if (ex)
        r->exhausted = true;
    return ret < 0 ? ret : 0;
}

static void pair_up(ib__run_t *r, uint32_t u, uint32_t v)
{
    r->mate[u] = (int32_t)v;
    r->mate[v] = (int32_t)u;
}

static void unpair(ib__run_t *r, uint32_t u)
{
    if (r->mate[u] >= 0) {
        r->mate[r->mate[u]] = -1;
        r->mate[u] = -1;
    }
}

/* ---- the strategies' starting matchings ---- */

/* The circle method over the pool's seats: seat m-1 stays, the others turn
 * one step a round. Pairs the circle books that are not fresh are left for
 * the repairs. */
static int circle_pairs(ib__run_t *r)
{
    size_t m = r->pool->n_seats;
    /* People run by hand while inactive have no seat: give them seats past
     * the pool's, in handle order, so the circle still covers them. */
    size_t extra = 0;
    for (size_t v = 0; v < r->n; v++)
        if (r->pp[v]->seat == IB_MATCH_NONE)
            extra++;
    m += extra;
    if (m % 2)
        m++;
    if (m < 2)
        m = 2;
    int32_t *at = malloc(m * sizeof(int32_t));
    if (!at)
        return IB_ENOMEM;
    for (size_t s = 0; s < m; s++)
        at[s] = -1;
    size_t next = r->pool->n_seats;
    for (size_t v = 0; v < r->n; v++) {
        uint32_t s = r->pp[v]->seat;
        at[s == IB_MATCH_NONE ? next++ : s] = (int32_t)v;
    }
    size_t turn = r->o.round % (m - 1);
    for (size_t k = 0; k < m / 2; k++) {
        size_t s, t;
        if (k == 0) {
            s = m - 1;
            t = turn;
        } else {
            s = (turn + k) % (m - 1);
            t = (turn + (m - 1) - k) % (m - 1);
        }
        int32_t u = at[s], v = at[t];
        if (u >= 0 && v >= 0 && ib__run_fresh(r, (uint32_t)u, (uint32_t)v))
            pair_up(r, (uint32_t)u, (uint32_t)v);
    }
    free(at);
    return 0;
}

/* A uniformly shuffled order paired off in turn; someone whose next
 * neighbour in the order is not fresh looks a little further. */
static void random_pairs(ib__run_t *r, const uint8_t *elig)
{
    const size_t window = 32;
    for (size_t i = 0; i < r->n; i++) {
        uint32_t v = r->order[i];
        if (!elig[v] || r->mate[v] >= 0)
            continue;
        size_t seen = 0;
        for (size_t j = i + 1; j < r->n && seen < window; j++) {
            uint32_t u = r->order[j];
            if (!elig[u] || r->mate[u] >= 0)
                continue;
            seen++;
            if (ib__run_fresh(r, v, u)) {
                pair_up(r, v, u);
                break;
            }
        }
    }
}

/* The fair bye: someone with the fewest byes. `rotate` prefers whoever the
 * circle left alone (the empty seat's partner), so a static odd group gets
 * the circle's own bye rotation; the others take the seeded order. */
static uint32_t choose_bye(const ib__run_t *r)
{
    uint32_t min = UINT32_MAX;
    for (size_t v = 0; v < r->n; v++)
        if (r->pp[v]->byes < min)
            min = r->pp[v]->byes;
    if (r->o.strategy == IB_MATCH_ROTATE) {
        uint32_t best = IB_MATCH_NONE, best_seat = UINT32_MAX;
        for (size_t v = 0; v < r->n; v++) {
            if (r->pp[v]->byes != min || r->mate[v] >= 0)
                continue;
            if (r->pp[v]->seat < best_seat || best == IB_MATCH_NONE) {
                best = (uint32_t)v;
                best_seat = r->pp[v]->seat;
            }
        }
        if (best != IB_MATCH_NONE)
            return best;
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->pp[r->order[i]]->byes == min)
            return r->order[i];
    return r->order[0];
}

/* ---- repeats, fairness, leftovers ---- */

typedef struct cand_pair {
    uint32_t u, v;
    unsigned met, last;
} cand_pair_t;

static int cmp_cand(const void *a, const void *b)
{
    const cand_pair_t *x = a, *y = b;
    if (x->met != y->met)
        return x->met < y->met ? -1 : 1;
    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    if (x->u != y->u)
        return x->u < y->u ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* Pair the people the fresh matching left over, now allowing repeats: the
 * pairs that met least (and longest ago) first, then augmenting paths so
 * that as many as possible are paired. `keep` (or -1) is the fair bye: it
 * joins only if that pairs one more person. */
static int repeat_fill(ib__run_t *r, int32_t keep)
{
    size_t nf = 0;
    uint32_t *f = malloc(r->n * sizeof(uint32_t));
    uint8_t *elig = calloc(r->n, 1);
    cand_pair_t *c = NULL;
    int err = 0;
    if (!f || !elig) {
        err = IB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) {
        uint32_t v = r->order[i];
        if (r->mate[v] < 0 && (int32_t)v != keep) {
            f[nf++] = v;
            elig[v] = 1;
        }
    }
    if (nf >= 2) {
        if (nf <= IB__REPEAT_EXACT) {
            size_t nc = 0;
            c = malloc(nf * (nf - 1) / 2 * sizeof(*c));
            if (!c) {
                err = IB_ENOMEM;
                goto out;
            }
            for (size_t i = 0; i < nf; i++) {
                for (size_t j = i + 1; j < nf; j++) {
                    const ib__pair_t *p = ib__pair_get(r->pool, r->h[f[i]], r->h[f[j]]);
                    if (p && p->blocked)
                        continue;
                    c[nc].u = f[i];
                    c[nc].v = f[j];
                    c[nc].met = p ? p->met : 0;
                    c[nc].last = p ? p->last : 0;
                    nc++;
                }
            }
            qsort(c, nc, sizeof(*c), cmp_cand);
            for (size_t i = 0; i < nc; i++)
                if (r->mate[c[i].u] < 0 && r->mate[c[i].v] < 0)
                    pair_up(r, c[i].u, c[i].v);
        } else {
            for (size_t i = 0; i < nf; i++) {
                if (r->mate[f[i]] >= 0)
                    continue;
                for (size_t j = i + 1; j < nf && j < i + 64; j++) {
                    if (r->mate[f[j]] < 0 && ib__run_allowed(r, f[i], f[j])) {
                        pair_up(r, f[i], f[j]);
                        break;
                    }
                }
            }
        }
        err = augment(r, edge_allowed, elig);
        if (err)
            goto out;
    }
    if (keep >= 0 && r->mate[keep] < 0) {
        size_t left = 0;
        for (size_t i = 0; i < nf; i++)
            if (r->mate[f[i]] < 0)
                left++;
        if (left) {
            elig[keep] = 1;
            err = augment(r, edge_allowed, elig);
        }
    }
out:
    free(f);
    free(elig);
    free(c);
    return err;
}

/* A bye that went to someone with more byes than another: hand it to a
 * person with fewer byes whose partner the first can take over without a
 * new repeat or a block. */
static void fair_byes(ib__run_t *r)
{
    uint32_t min = UINT32_MAX;
    for (size_t v = 0; v < r->n; v++)
        if (r->pp[v]->byes < min)
            min = r->pp[v]->byes;
    for (size_t i = 0; i < r->n; i++) {
        uint32_t x = r->order[i];
        if (r->mate[x] >= 0 || r->pp[x]->byes == min)
            continue;
        int32_t best_a = -1, best_y = -1;
        for (size_t j = 0; j < r->n; j++) {
            uint32_t a = r->order[j];
            if (a == x || r->mate[a] < 0)
                continue;
            uint32_t y = (uint32_t)r->mate[a];
            if (r->pp[y]->byes >= r->pp[x]->byes)
                continue;
            if (best_y >= 0 && r->pp[y]->byes >= r->pp[best_y]->byes)
                continue;
            bool was_fresh = ib__run_fresh(r, a, y);
            if (was_fresh ? !ib__run_fresh(r, x, a) : !ib__run_allowed(r, x, a))
                continue;
            best_a = (int32_t)a;
            best_y = (int32_t)y;
            if (r->pp[y]->byes == min)
                break;
        }
        if (best_a >= 0) {
            r->mate[best_y] = -1;
            pair_up(r, x, (uint32_t)best_a);
        }
    }
}

/* `odd: trio`: each one left over joins the pair where it repeats least
 * (then, for `interests`, adds the most affinity). third[a] (a the lower
 * member of a pair) receives the newcomer. */
static void place_trios(ib__run_t *r, int32_t *third)
{
    for (size_t i = 0; i < r->n; i++) {
        uint32_t x = r->order[i];
        if (r->mate[x] >= 0)
            continue;
        int32_t best = -1;
        int best_cost = 3, best_aff = -1;
        for (size_t j = 0; j < r->n; j++) {
            uint32_t a = r->order[j];
            if (r->mate[a] < 0 || (uint32_t)r->mate[a] < a || third[a] >= 0)
                continue;
            uint32_t b = (uint32_t)r->mate[a];
            if (!ib__run_allowed(r, x, a) || !ib__run_allowed(r, x, b))
                continue;
            int cost = !ib__run_fresh(r, x, a) + !ib__run_fresh(r, x, b);
            if (cost > best_cost)
                continue;
            int aff = 0;
            if (r->o.strategy == IB_MATCH_INTERESTS)
                aff = (ib__run_fresh(r, x, a) ? ib__run_affinity(r, x, a) : 0) +
                      (ib__run_fresh(r, x, b) ? ib__run_affinity(r, x, b) : 0);
            if (cost < best_cost || aff > best_aff) {
                best = (int32_t)a;
                best_cost = cost;
                best_aff = aff;
            }
            if (best_cost == 0 && r->o.strategy != IB_MATCH_INTERESTS)
                break;
        }
        if (best >= 0)
            third[best] = (int32_t)x;
    }
}

/* Groups of two: layers 1-4 of the file comment. group[v] receives a group
 * number or -1 (bye). */
static int pairs_run(ib__run_t *r, int32_t *group, size_t *n_groups)
{
    size_t n = r->n;
    int err = 0;
    uint8_t *elig = malloc(n);
    int32_t *third = malloc(n * sizeof(int32_t));
    if (!elig || !third) {
        err = IB_ENOMEM;
        goto out;
    }
    memset(elig, 1, n);
    for (size_t v = 0; v < n; v++)
        third[v] = -1;

    if (r->o.strategy == IB_MATCH_ROTATE && (err = circle_pairs(r)))
        goto out;
    int32_t y = -1;
    if (r->o.odd == IB_MATCH_ODD_BYE && n % 2) {
        y = (int32_t)choose_bye(r);
        unpair(r, (uint32_t)y);
        elig[y] = 0;
    }
    if (r->o.strategy == IB_MATCH_RANDOM)
        random_pairs(r, elig);
    else if (r->o.strategy == IB_MATCH_INTERESTS && (err = ib__interests_pairs(r, elig)))
        goto out;
    if ((err = augment(r, edge_fresh, elig)))
        goto out;
    if ((err = repeat_fill(r, y)))
        goto out;
    if (r->o.odd == IB_MATCH_ODD_BYE) {
        /* A swap may free someone who can meet another left out. */
        fair_byes(r);
        if ((err = repeat_fill(r, -1)))
            goto out;
    } else {
        place_trios(r, third);
    }

    size_t g = 0;
    for (size_t v = 0; v < n; v++)
        group[v] = -1;
    for (size_t v = 0; v < n; v++) {
        if (r->mate[v] > (int32_t)v) {
            group[v] = group[r->mate[v]] = (int32_t)g;
            if (third[v] >= 0)
                group[third[v]] = (int32_t)g;
            g++;
        }
    }
    *n_groups = g;
out:
    free(elig);
    free(third);
    return err;
}

/* ---- the run ---- */

static int cmp_group(const void *a, const void *b)
{
    const ib_match_group_t *x = a, *y = b;
    return x->members[0] < y->members[0] ? -1 : x->members[0] > y->members[0];
}

void ib_match_result_clear(ib_match_result_t *r)
{
    if (!r)
        return;
    free(r->groups);
    free(r->byes);
    memset(r, 0, sizeof(*r));
}

int ib_match_run(ib_match_pool_t *pool, const uint32_t *who, size_t n, const ib_match_opts_t *opts,
                 ib_match_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!pool || !opts || (opts->group_size != 2 && opts->group_size != 3) ||
        (unsigned)opts->strategy > IB_MATCH_INTERESTS || (unsigned)opts->odd > IB_MATCH_ODD_BYE)
        return IB_EBADREQ;
    if (!who)
        n = pool->n_active;

    int err = 0;
    ib__run_t r;
    memset(&r, 0, sizeof(r));
    ib__arena_t *A = &pool->scratch;
    uint32_t *h = ib__alloc(A, n * sizeof(uint32_t));
    const ib__person_t **pp = ib__alloc(A, n * sizeof(*pp));
    int32_t *mate = ib__alloc(A, n * sizeof(int32_t));
    uint32_t *order = ib__alloc(A, n * sizeof(uint32_t));
    int32_t *group = ib__alloc(A, n * sizeof(int32_t));
    uint8_t *seen = ib__zalloc(A, pool->n_people);
    uint8_t *linked = ib__alloc(A, n);
    if (!h || !pp || !mate || !order || !group || !seen || !linked) {
        err = IB_ENOMEM;
        goto out;
    }
    /* Number the people by handle, whatever order the caller gave: the
     * result depends on the pool, the options and the seed only. */
    if (who) {
        for (size_t i = 0; i < n; i++) {
            if (who[i] >= pool->n_people || seen[who[i]]) {
                err = IB_EBADREQ;
                goto out;
            }
            seen[who[i]] = 1;
        }
    } else {
        for (size_t i = 0; i < pool->n_people; i++)
            seen[i] = pool->people[i].active;
    }
    size_t k = 0;
    for (size_t i = 0; i < pool->n_people && k < n; i++)
        if (seen[i])
            h[k++] = (uint32_t)i;
    for (size_t i = 0; i < n; i++) {
        pp[i] = &pool->people[h[i]];
        linked[i] = pp[i]->links != 0;
        mate[i] = -1;
        order[i] = (uint32_t)i;
    }
    r.pool = pool;
    r.arena = &pool->scratch;
    r.o = *opts;
    if (!r.o.exact_max_n)
        r.o.exact_max_n = IB_MATCH_EXACT_N;
    r.n = n;
    r.h = h;
    r.pp = pp;
    r.linked = linked;
    r.mate = mate;
    r.order = order;
    r.budget = IB__CARD_BUDGET;
    r.rng = ib__mix(opts->seed ^ 0x1ce3b4ea4e5ULL) ^ ib__mix((uint64_t)opts->round + 1);
    for (size_t i = n; i > 1; i--) {
        size_t j = ib__rand(&r.rng) % i;
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }

    size_t n_groups = 0;
    if (n > 0) {
        if (opts->group_size == 2) {
            err = pairs_run(&r, group, &n_groups);
        } else {
            uint8_t *elig = malloc(n);
            if (!elig) {
                err = IB_ENOMEM;
                goto out;
            }
            memset(elig, 1, n);
            int g = ib__groups_of_three(&r, elig, group);
            free(elig);
            if (g < 0)
                err = g;
            else
                n_groups = (size_t)g;
        }
        if (err)
            goto out;
    }

    out->groups = calloc(n_groups ? n_groups : 1, sizeof(ib_match_group_t));
    out->byes = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!out->groups || !out->byes) {
        err = IB_ENOMEM;
        goto out;
    }
    out->n_groups = n_groups;
    for (size_t v = 0; v < n; v++) {
        if (group[v] < 0) {
            out->byes[out->n_byes++] = h[v];
            continue;
        }
        ib_match_group_t *g = &out->groups[group[v]];
        if (g->size == IB_MATCH_GROUP_MAX) {
            err = IB_EBADREQ; /* cannot happen: a group holds at most four */
            goto out;
        }
        g->members[g->size++] = h[v]; /* v ascends, and so do handles */
    }
    for (size_t i = 0; i < n_groups; i++) {
        ib_match_group_t *g = &out->groups[i];
        for (unsigned a = 0; a < g->size; a++) {
            for (unsigned b = a + 1; b < g->size; b++) {
                const ib__pair_t *p = ib__pair_get(pool, g->members[a], g->members[b]);
                if (p && p->met)
                    out->repeats++;
                else
                    out->affinity += ib_match_affinity(pool, g->members[a], g->members[b]);
            }
        }
    }
    qsort(out->groups, n_groups, sizeof(ib_match_group_t), cmp_group);
    out->exhausted = r.exhausted;
out:
    if (err)
        ib_match_result_clear(out);
    ib__arena_reset(A);
    return err;
}

int ib_match_commit(ib_match_pool_t *pool, const ib_match_result_t *r, uint32_t round)
{
    for (size_t i = 0; i < r->n_groups; i++) {
        const ib_match_group_t *g = &r->groups[i];
        for (unsigned a = 0; a < g->size; a++)
            for (unsigned b = a + 1; b < g->size; b++)
                if (ib_match_pool_met(pool, g->members[a], g->members[b], round))
                    return IB_ENOMEM;
    }
    for (size_t i = 0; i < r->n_byes; i++)
        ib_match_pool_add_bye(pool, r->byes[i], 1);
    return 0;
}
