/*
 * Verb handlers for lounges: ping, join, leave, status, chat, members.
 *
 * Chat sequence numbers and history come from the store port, which may
 * answer later (Redis): those replies go through an ib_pending_t that holds
 * the session, and check that it is still live before touching its rooms.
 */
#include <string.h>

#include "core_internal.h"
#include "icebreaker/ib_utf8.h"

int ib_h_ping(ib_req_t *req)
{
    ib__reply_ok(req, json_pack("{s:I}", "server_time", (json_int_t)req->now));
    return 0;
}

/* Room id from the request, validated: IB_EBADREQ for a malformed one. */
static int get_room_id(ib_req_t *req, const char **out)
{
    if (ib_get_string(req->m->msg, "room", true, out, &req->why))
        return IB_EBADREQ;
    if (ib_room_kind(*out) == IB_ROOM_INVALID) {
        req->why = "room must be lounge:<id>, booth:<id>, pair:<id> or meet:<id>";
        return IB_EBADREQ;
    }
    return 0;
}

/* Whether the user may be in a server-made room (pair:, meet:). */
static bool may_enter(const ib_room_t *r, const ib_user_t *u)
{
    if (r->kind == IB_ROOM_LOUNGE || r->kind == IB_ROOM_BOOTH)
        return true;
    return ib_map_get(&r->allowed, u->id) != NULL;
}

/* A join between the history and the reply (the room's remote members
 * may still be loading). */
typedef struct join_wait {
    ib_room_t *r;
    json_t *history;
} join_wait_t;

void ib__join_finish(ib_pending_t *p)
{
    join_wait_t *w = p->data;
    ib_session_t *s = p->s;
    ib_room_t *r = w->r;
    json_t *history = w->history;
    free(w);
    if (!ib__session_live(s) || !ib_session_in_room(s, r)) {
        json_decref(history);
        ib__pending_error(p, IB_ECONFLICT, "left the room meanwhile");
        return;
    }
    uint32_t count = ib_room_count(r);
    size_t limit = ib_room_is_crowded(r) ? (size_t)s->srv->cfg->crowd : count;
    ib__room_page_reply(p, r, limit,
                        json_pack("{s:s,s:I,s:o}", "room", r->id, "count", (json_int_t)count,
                                  "history", history ? history : json_array()));
}

static void join_history_done(void *arg, int err, json_t *history)
{
    ib_pending_t *p = arg;
    ib_session_t *s = p->s;
    ib_room_t *r = p->data;
    if (!ib__session_live(s) || !ib_session_in_room(s, r)) {
        ib__pending_error(p, IB_ECONFLICT, "left the room meanwhile");
        return;
    }
    /* Without the shared store the node still serves its own clients: the
     * join holds, with no history to show. */
    (void)err;
    join_wait_t *w = malloc(sizeof(*w));
    if (!w) {
        ib__pending_error(p, IB_ENOMEM, NULL);
        return;
    }
    w->r = r;
    w->history = history && !err ? json_incref(history) : json_array();
    p->data = w;
    if (ib__cluster_room(r) && r->sync != IB_SYNC_LOADED)
        ib__cluster_room_wait(r, p);
    else
        ib__join_finish(p);
}

int ib_h_join(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *id;
    int rc = get_room_id(req, &id);
    if (rc)
        return rc;
    ib_room_kind_t kind = ib_room_kind(id);
    bool server_made = kind == IB_ROOM_PAIR || kind == IB_ROOM_MEET;
    ib_room_t *r = ib_room_get(s->ev, id, !server_made);
    if (!r || !may_enter(r, s->user)) {
        req->why = "this room is made by the server for its members";
        return IB_EFORBIDDEN;
    }
    rc = ib_room_enter(r, s);
    if (rc < 0) {
        if (rc == IB_ECONFLICT)
            req->why = "too many rooms joined";
        ib_room_maybe_free(r);
        return rc;
    }
    if (rc == 1)
        ib_room_presence(r, s->user, "joined");
    ib_pending_t *p = ib__pending_new(req);
    if (!p)
        return IB_ENOMEM;
    p->data = r;
    ib_store_t *st = s->srv->store;
    /* The room stays pinned until the history arrives. */
    r->pins++;
    if (st->ops->chat_history(st, s->ev->id, r->id, (size_t)s->srv->cfg->history, join_history_done,
                              p))
        join_history_done(p, IB_EUNAVAIL, NULL);
    r->pins--;
    ib_room_maybe_free(r);
    return 0;
}

int ib_h_leave(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *id;
    int rc = get_room_id(req, &id);
    if (rc)
        return rc;
    ib_room_t *r = ib_room_get(s->ev, id, false);
    if (!r || !ib_session_in_room(s, r)) {
        req->why = "not in this room";
        return IB_ENOTFOUND;
    }
    r->pins++;
    if (ib_room_exit(r, s) == 1) {
        ib_room_presence(r, s->user, "left");
        ib__room_left(r, s->user, req->now);
    }
    r->pins--;
    ib_room_maybe_free(r);
    ib__reply_ok(req, json_pack("{s:s}", "room", id));
    return 0;
}

/* Whether room a->rooms[i] was already visited: in an earlier session of
 * u, or earlier in a's own list. */
static bool seen_earlier(const ib_user_t *u, const ib_session_t *a, uint16_t i)
{
    const ib_room_t *r = a->rooms[i];
    for (const ib_session_t *b = u->sessions; b != a; b = b->unext)
        if (ib_session_in_room(b, r))
            return true;
    for (uint16_t j = 0; j < i; j++)
        if (a->rooms[j] == r)
            return true;
    return false;
}

int ib_h_status(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *st;
    ib_status_t status;
    if (ib_get_string(req->m->msg, "status", true, &st, &req->why))
        return IB_EBADREQ;
    if (ib_status_parse(st, &status)) {
        req->why = "status must be available, busy or away";
        return IB_EBADREQ;
    }
    ib_user_t *u = s->user;
    if (u->status != status) {
        u->status = status;
        /* Every room any of the user's sessions is in hears it once. */
        for (ib_session_t *a = u->sessions; a; a = a->unext)
            for (uint16_t i = 0; i < a->n_rooms; i++)
                if (!seen_earlier(u, a, i))
                    ib_room_presence(a->rooms[i], u, "updated");
    }
    ib__reply_ok(req, json_pack("{s:s}", "status", ib_status_name(status)));
    return 0;
}

static void chat_appended(void *arg, int err, uint64_t seq)
{
    ib_pending_t *p = arg;
    json_t *msg = p->data;
    ib_session_t *s = p->s;
    if (err) {
        json_decref(msg);
        ib__pending_error(p, IB_EUNAVAIL,
                          "chat is unavailable: the shared store cannot be reached");
        return;
    }
    /* Deliver to the room's local members (the sender included); between
     * nodes the store publishes the numbered message and every node, this
     * one included, delivers it from there, in sequence order. */
    if (s->ev && !ib__cluster(s->srv)) {
        ib_room_t *r = ib_room_get(s->ev, json_string_value(json_object_get(msg, "room")), false);
        if (r) {
            ib_buf_t *b = ib_buf_from_json(msg);
            if (b) {
                ib_room_send_from(
                    r, b, json_string_value(json_object_get(json_object_get(msg, "from"), "id")));
                ib_buf_unref(b);
            }
        }
    }
    s->srv->metrics.chat_messages++;
    json_decref(msg);
    ib__pending_ok(p, json_pack("{s:I}", "seq", (json_int_t)seq));
}

int ib_h_chat(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *id, *text;
    int rc = get_room_id(req, &id);
    if (rc)
        return rc;
    if (ib_get_string(req->m->msg, "text", true, &text, &req->why))
        return IB_EBADREQ;
    size_t bytes = json_string_length(json_object_get(req->m->msg, "text"));
    if (bytes == 0) {
        req->why = "text is empty";
        return IB_EBADREQ;
    }
    if (ib_utf8_count(text, bytes) > (size_t)s->srv->cfg->chat_max) {
        req->why = "text is too long";
        return IB_ETOOBIG;
    }
    ib_room_t *r = ib_room_get(s->ev, id, false);
    if (!r || !ib_session_in_room(s, r)) {
        req->why = "join the room first";
        return IB_EFORBIDDEN;
    }
    json_t *msg = json_pack("{s:s,s:s,s:{s:s,s:s},s:s%,s:I}", "type", "chat", "room", r->id, "from",
                            "id", s->user->id, "name", s->user->name, "text", text, bytes, "ts",
                            (json_int_t)req->now);
    ib_pending_t *p = msg ? ib__pending_new(req) : NULL;
    if (!p) {
        json_decref(msg);
        return IB_ENOMEM;
    }
    p->data = msg;
    ib_store_t *st = s->srv->store;
    if (st->ops->chat_append(st, s->ev->id, r->id, msg, chat_appended, p)) {
        json_decref(msg);
        ib__pending_error(p, IB_EUNAVAIL,
                          "chat is unavailable: the shared store cannot be reached");
    }
    return 0;
}

int ib_h_members(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *id;
    int64_t offset = 0, limit = 100;
    int rc = get_room_id(req, &id);
    if (rc)
        return rc;
    if (ib_get_int(req->m->msg, "offset", false, 0, INT32_MAX, &offset, &req->why) ||
        ib_get_int(req->m->msg, "limit", false, 1, 200, &limit, &req->why))
        return IB_EBADREQ;
    ib_room_t *r = ib_room_get(s->ev, id, false);
    if (!r || !ib_session_in_room(s, r)) {
        req->why = "join the room first";
        return IB_EFORBIDDEN;
    }
    ib__reply_ok(req, json_pack("{s:s,s:I,s:I,s:o}", "room", r->id, "count",
                                (json_int_t)ib_room_count(r), "offset", (json_int_t)offset,
                                "members", ib_room_members_json(r, (size_t)offset, (size_t)limit)));
    return 0;
}
