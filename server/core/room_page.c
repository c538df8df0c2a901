/*
 * The members page a join answers with, encoded once per room and shared.
 *
 * A join into a crowded lounge answers with the first `crowd` members (200
 * by default). Building those 200 user objects, encoding them and freeing
 * them on every join was most of the server's own work in a connect storm
 * into one lounge (4.7 million instructions per connection at 1000 clients,
 * loadtest/RESULTS.md). Arrivals join at the tail of the member list, so
 * once the page is full an arrival does not change it: the page is kept as
 * JSON text and spliced into each join answer, and dropped only when it may
 * have changed:
 *   - an arrival while the page is not full (ib__room_page_joined);
 *   - any departure (the page is not searched: departures are rarer);
 *   - a member's status change (presence "updated");
 *   - the room freed.
 * With a cluster (members on other nodes, statuses changed by other nodes'
 * messages) nothing is cached: the answer is built as before.
 */
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

void ib__room_page_joined(ib_room_t *r)
{
    /* The newcomer is last: it is on the page only if the page had room. */
    if (r->page && r->page_n < r->page_limit)
        ib__room_page_drop(r);
}

void ib__room_page_drop(ib_room_t *r)
{
    free(r->page);
    r->page = NULL;
    r->page_len = r->page_n = r->page_limit = 0;
}

/* r's first `limit` members as JSON text, cached; NULL on ENOMEM. */
static const char *page_text(ib_room_t *r, size_t limit)
{
    if (r->page && r->page_limit == limit)
        return r->page;
    ib__room_page_drop(r);
    json_t *arr = ib_room_members_json(r, 0, limit);
    if (!arr)
        return NULL;
    r->page_n = json_array_size(arr);
    r->page = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!r->page)
        return NULL;
    r->page_len = strlen(r->page);
    r->page_limit = limit;
    return r->page;
}

/* The answer's text: fields (an object) with "members":page added. */
static ib_buf_t *splice(const json_t *fields, const char *page, size_t page_len)
{
    static const char key[] = ",\"members\":";
    size_t head = json_dumpb(fields, NULL, 0, JSON_COMPACT);
    if (head <= 2) /* not an object with at least one member */
        return NULL;
    size_t len = head - 1 + sizeof(key) - 1 + page_len + 1;
    char *text = malloc(len);
    if (!text)
        return NULL;
    if (json_dumpb(fields, text, head, JSON_COMPACT) != head || text[head - 1] != '}') {
        free(text);
        return NULL;
    }
    char *p = text + head - 1; /* over the closing brace */
    memcpy(p, key, sizeof(key) - 1);
    p += sizeof(key) - 1;
    memcpy(p, page, page_len);
    p[page_len] = '}';
    ib_buf_t *b = ib_buf_new(text, len);
    free(text);
    return b;
}

void ib__room_page_reply(ib_pending_t *p, ib_room_t *r, size_t limit, json_t *fields)
{
    if (!fields) {
        ib__pending_error(p, IB_ENOMEM, NULL);
        return;
    }
    if (!ib__cluster(r->ev->srv)) {
        const char *page = page_text(r, limit);
        json_t *ok = page ? ib_reply_ok(p->id) : NULL;
        ib_buf_t *b = NULL;
        if (ok && !json_object_update(ok, fields))
            b = splice(ok, page, r->page_len);
        json_decref(ok);
        if (b) {
            json_decref(fields);
            ib__pending_ok_buf(p, b);
            ib_buf_unref(b);
            return;
        }
    }
    /* A cluster, or no memory for the cached way: the plain way. */
    json_object_set_new(fields, "members", ib_room_members_json(r, 0, limit));
    ib__pending_ok(p, fields);
}
