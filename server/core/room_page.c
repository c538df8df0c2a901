/*
 * The members page a join answers with, built once per room and shared.
 *
 * A join into a crowded lounge answers with the first `crowd` members (200
 * by default): 200 user objects built, encoded and freed on every join,
 * which in a connect storm of 10000 clients into one lounge was about a
 * third of the server's CPU (jansson and malloc). Arrivals join at the tail
 * of the member list, so once the page is full an arrival does not change
 * it: the page is kept as one jansson array, handed to each reply with a
 * reference, and dropped only when it may have changed:
 *   - an arrival while the page is not full (ib__room_page_joined);
 *   - any departure (the page is not searched: departures are rarer);
 *   - a member's status change (presence "updated");
 *   - the room freed.
 * With a cluster (members on other nodes, statuses changed by other nodes'
 * messages) nothing is cached: the page is built on every call, as before.
 */
#include "core_internal.h"

json_t *ib__room_page(ib_room_t *r, size_t limit)
{
    if (ib__cluster(r->ev->srv)) {
        ib__room_page_drop(r);
        return ib_room_members_json(r, 0, limit);
    }
    if (r->page && r->page_limit == limit)
        return json_incref(r->page);
    ib__room_page_drop(r);
    json_t *page = ib_room_members_json(r, 0, limit);
    if (!page)
        return NULL;
    r->page = json_incref(page);
    r->page_limit = limit;
    return page;
}

void ib__room_page_joined(ib_room_t *r)
{
    /* The newcomer is last: it is on the page only if the page had room. */
    if (r->page && json_array_size(r->page) < r->page_limit)
        ib__room_page_drop(r);
}

void ib__room_page_drop(ib_room_t *r)
{
    json_decref(r->page);
    r->page = NULL;
    r->page_limit = 0;
}
