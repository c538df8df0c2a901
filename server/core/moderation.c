/*
 * Hosts and moderation: announce, kick, block/unblock, chat.delete.
 *
 * Kicks and blocks belong to the event, not to a session, so they outlive
 * reconnects: a kicked user's tokens are refused at hello until the kick
 * expires (cfg->kick_ms), and a block holds for as long as the event lives
 * on this node. Blocks are checked where delivery happens (chat fan-out,
 * signal relay, matching), so each check is one map lookup and events with
 * no blocks pay nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "icebreaker/ib_utf8.h"

bool ib_event_kicked(const ib_event_t *ev, const char *sub, int64_t now)
{
    ib_kick_t *k = ev ? ib_map_get(&ev->kicked, sub) : NULL;
    return k && k->until > now;
}

bool ib_event_blocks(const ib_event_t *ev, const char *blocker, const char *blocked)
{
    ib_blocks_t *b = ib_map_get(&ev->blocks, blocker);
    for (size_t i = 0; b && i < b->n; i++)
        if (!strcmp(b->ids[i], blocked))
            return true;
    return false;
}

bool ib_event_blocked_pair(const ib_event_t *ev, const char *a, const char *b)
{
    return ev->blocks.count && (ib_event_blocks(ev, a, b) || ib_event_blocks(ev, b, a));
}

void ib__event_free_moderation(ib_event_t *ev)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&ev->kicked, &i, &k, &v);) {
        ib_kick_t *kick = v;
        free(kick->sub);
        free(kick);
    }
    for (size_t i = 0; ib_map_next(&ev->blocks, &i, &k, &v);) {
        ib_blocks_t *b = v;
        for (size_t j = 0; j < b->n; j++)
            free(b->ids[j]);
        free(b->ids);
        free(b->sub);
        free(b);
    }
    ib_map_free(&ev->kicked);
    ib_map_free(&ev->blocks);
}

/* Forget kicks that have run out (called from the tick, rarely). */
void ib__event_expire_kicks(ib_event_t *ev, int64_t now)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&ev->kicked, &i, &k, &v);) {
        ib_kick_t *kick = v;
        if (kick->until <= now) {
            ib_map_del(&ev->kicked, kick->sub);
            free(kick->sub);
            free(kick);
        }
    }
}

/* A text field of 1..chat_max characters. */
static int get_text(ib_req_t *req, const char **text, size_t *bytes)
{
    if (ib_get_string(req->m->msg, "text", true, text, &req->why))
        return IB_EBADREQ;
    *bytes = json_string_length(json_object_get(req->m->msg, "text"));
    if (*bytes == 0) {
        req->why = "text is empty";
        return IB_EBADREQ;
    }
    if (ib_utf8_count(*text, *bytes) > (size_t)req->s->srv->cfg->chat_max) {
        req->why = "text is too long";
        return IB_ETOOBIG;
    }
    return 0;
}

/* A user id field, validated. */
static int get_user_id(ib_req_t *req, const char **id)
{
    if (ib_get_string(req->m->msg, "user", true, id, &req->why))
        return IB_EBADREQ;
    if (!ib_id_valid(*id)) {
        req->why = "user must be a valid id";
        return IB_EBADREQ;
    }
    return 0;
}

int ib_h_announce(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *text;
    size_t bytes;
    int rc = get_text(req, &text, &bytes);
    if (rc)
        return rc;
    json_t *ev =
        json_pack("{s:s,s:{s:s,s:s},s:s%,s:I}", "type", "announcement", "from", "id", s->user->id,
                  "name", s->user->name, "text", text, bytes, "ts", (json_int_t)req->now);
    ib_buf_t *b = ib_buf_from_json(ev);
    json_decref(ev);
    if (!b)
        return IB_ENOMEM;
    size_t n = ib_event_send(s->ev, b); /* every node's sessions */
    ib_buf_unref(b);
    ib__reply_ok(req, json_pack("{s:I}", "users", (json_int_t)n));
    return 0;
}

int ib_h_kick(ib_req_t *req)
{
    ib_session_t *s = req->s;
    ib_event_t *ev = s->ev;
    const char *id, *reason = NULL;
    int rc = get_user_id(req, &id);
    if (rc)
        return rc;
    if (ib_get_string(req->m->msg, "reason", false, &reason, &req->why))
        return IB_EBADREQ;
    if (!strcmp(id, s->user->id)) {
        req->why = "you cannot kick yourself";
        return IB_EBADREQ;
    }
    ib_user_t *u = ib_user_find(ev, id);
    if (u && u->role == IB_ROLE_ADMIN && s->user->role != IB_ROLE_ADMIN) {
        req->why = "only an admin may kick an admin";
        return IB_EFORBIDDEN;
    }
    ib_kick_t *k = ib_map_get(&ev->kicked, id);
    if (!k) {
        k = calloc(1, sizeof(*k));
        if (!k || !(k->sub = strdup(id)) || ib_map_put(&ev->kicked, k->sub, k)) {
            if (k)
                free(k->sub);
            free(k);
            return IB_ENOMEM;
        }
    }
    k->until = req->now + s->srv->cfg->kick_ms;
    /* Close every session of the user; those in their grace period end
     * now, live ones when their close frame has gone. */
    size_t closed = 0;
    if (u) {
        ib_session_t *next;
        for (ib_session_t *t = u->sessions; t; t = next) {
            next = t->unext;
            closed++;
            if (t->conn) {
                ib_session_send_json(t,
                                     json_pack("{s:s,s:s,s:s}", "type", "kicked", "message",
                                               reason ? reason : "removed from the event by a host",
                                               "by", s->user->id));
                ib_session_close(t, IB_CLOSE_POLICY, "kicked", false);
            } else {
                ib__session_end(t);
            }
        }
    }
    ib__reply_ok(req, json_pack("{s:s,s:I,s:I}", "user", id, "sessions", (json_int_t)closed,
                                "until", (json_int_t)k->until));
    return 0;
}

int ib_h_block(ib_req_t *req)
{
    ib_session_t *s = req->s;
    ib_event_t *ev = s->ev;
    const char *id;
    int rc = get_user_id(req, &id);
    if (rc)
        return rc;
    if (!strcmp(id, s->user->id)) {
        req->why = "you cannot block yourself";
        return IB_EBADREQ;
    }
    ib_blocks_t *b = ib_map_get(&ev->blocks, s->user->id);
    if (!b) {
        b = calloc(1, sizeof(*b));
        if (!b || !(b->sub = strdup(s->user->id)) || ib_map_put(&ev->blocks, b->sub, b)) {
            if (b)
                free(b->sub);
            free(b);
            return IB_ENOMEM;
        }
    }
    if (!ib_event_blocks(ev, s->user->id, id)) {
        if (b->n == 1024) {
            req->why = "too many blocks";
            return IB_ECONFLICT;
        }
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 4;
            char **ids = realloc(b->ids, cap * sizeof(*ids));
            if (!ids)
                return IB_ENOMEM;
            b->ids = ids;
            b->cap = cap;
        }
        if (!(b->ids[b->n] = strdup(id)))
            return IB_ENOMEM;
        b->n++;
    }
    ib__reply_ok(req, json_pack("{s:s}", "user", id));
    return 0;
}

int ib_h_unblock(ib_req_t *req)
{
    ib_session_t *s = req->s;
    ib_event_t *ev = s->ev;
    const char *id;
    int rc = get_user_id(req, &id);
    if (rc)
        return rc;
    ib_blocks_t *b = ib_map_get(&ev->blocks, s->user->id);
    for (size_t i = 0; b && i < b->n; i++)
        if (!strcmp(b->ids[i], id)) {
            free(b->ids[i]);
            b->ids[i] = b->ids[--b->n];
            ib__reply_ok(req, json_pack("{s:s}", "user", id));
            return 0;
        }
    req->why = "not blocked";
    return IB_ENOTFOUND;
}

static void chat_deleted(void *arg, int err, uint64_t seq)
{
    ib_pending_t *p = arg;
    char *room = p->data;
    ib_session_t *s = p->s;
    if (err) {
        ib__pending_error(p, err == IB_ENOTFOUND ? IB_ENOTFOUND : IB_EUNAVAIL,
                          err == IB_ENOTFOUND ? "no such message in the room's history"
                                              : "the shared store cannot be reached");
        free(room);
        return;
    }
    ib_room_t *r = s->ev ? ib_room_get(s->ev, room, false) : NULL;
    if (r) {
        json_t *ev =
            json_pack("{s:s,s:s,s:I,s:{s:s,s:s}}", "type", "chat.delete", "room", room, "seq",
                      (json_int_t)seq, "by", "id", s->user->id, "name", s->user->name);
        ib_buf_t *b = ib_buf_from_json(ev);
        json_decref(ev);
        if (b) {
            ib_room_send(r, b, NULL);
            ib_buf_unref(b);
        }
    }
    ib__pending_ok(p, json_pack("{s:s,s:I}", "room", room, "seq", (json_int_t)seq));
    free(room);
}

int ib_h_chat_delete(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *room;
    int64_t seq;
    if (ib_get_string(req->m->msg, "room", true, &room, &req->why) ||
        ib_get_int(req->m->msg, "seq", true, 1, INT64_MAX, &seq, &req->why))
        return IB_EBADREQ;
    if (ib_room_kind(room) == IB_ROOM_INVALID) {
        req->why = "room must be lounge:<id>, booth:<id>, pair:<id> or meet:<id>";
        return IB_EBADREQ;
    }
    ib_pending_t *p = ib__pending_new(req);
    char *copy = strdup(room);
    if (!p || !copy) {
        free(copy);
        if (p)
            ib__pending_error(p, IB_ENOMEM, NULL);
        return p ? 0 : IB_ENOMEM;
    }
    p->data = copy;
    ib_store_t *st = s->srv->store;
    if (st->ops->chat_delete(st, s->ev->id, room, (uint64_t)seq, chat_deleted, p)) {
        free(copy);
        ib__pending_error(p, IB_EUNAVAIL, "the shared store cannot be reached");
    }
    return 0;
}
