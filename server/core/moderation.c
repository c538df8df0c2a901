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

/* The kick of user id, until then (made or moved). NULL on ENOMEM. */
static ib_kick_t *kick_put(ib_event_t *ev, const char *id, int64_t until)
{
    ib_kick_t *k = ib_map_get(&ev->kicked, id);
    if (!k) {
        k = calloc(1, sizeof(*k));
        if (!k || !(k->sub = strdup(id)) || ib_map_put(&ev->kicked, k->sub, k)) {
            if (k)
                free(k->sub);
            free(k);
            return NULL;
        }
    }
    if (until > k->until)
        k->until = until;
    return k;
}

/* Close every session of user id on this node; those in their grace
 * period end now, live ones when their close frame has gone. */
static size_t kick_close(ib_event_t *ev, const char *id, const char *reason, const char *by)
{
    ib_user_t *u = ib_user_find(ev, id);
    size_t closed = 0;
    ib_session_t *next;
    for (ib_session_t *t = u ? u->sessions : NULL; t; t = next) {
        next = t->unext;
        closed++;
        if (t->conn) {
            ib_session_send_json(t, json_pack("{s:s,s:s,s:s}", "type", "kicked", "message",
                                              reason ? reason : "removed from the event by a host",
                                              "by", by));
            ib_session_close(t, IB_CLOSE_POLICY, "kicked", false);
        } else {
            ib__session_end(t);
        }
    }
    return closed;
}

/* Blocks: blocker a no longer hears b. 0, IB_ECONFLICT (too many) or
 * IB_ENOMEM. */
static int block_add(ib_event_t *ev, const char *a, const char *id)
{
    ib_blocks_t *b = ib_map_get(&ev->blocks, a);
    if (!b) {
        b = calloc(1, sizeof(*b));
        if (!b || !(b->sub = strdup(a)) || ib_map_put(&ev->blocks, b->sub, b)) {
            if (b)
                free(b->sub);
            free(b);
            return IB_ENOMEM;
        }
    }
    if (ib_event_blocks(ev, a, id))
        return 0;
    if (b->n == 1024)
        return IB_ECONFLICT;
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
    return 0;
}

static bool block_del(ib_event_t *ev, const char *a, const char *id)
{
    ib_blocks_t *b = ib_map_get(&ev->blocks, a);
    for (size_t i = 0; b && i < b->n; i++)
        if (!strcmp(b->ids[i], id)) {
            free(b->ids[i]);
            b->ids[i] = b->ids[--b->n];
            return true;
        }
    return false;
}

/* Several nodes: hdr (stolen) to the other nodes, and the entry of list
 * `kind` (value stolen; NULL: removed) kept in the store for nodes that
 * come to serve the event later. */
static void mod_share(ib_event_t *ev, json_t *hdr, const char *kind, const char *field,
                      json_t *value)
{
    ib_server_t *srv = ev->srv;
    if (ib__cluster(srv) && srv->store->ops->mod_put)
        srv->store->ops->mod_put(srv->store, ev->id, kind, field, value);
    json_decref(value);
    ib__cluster_publish(ev, hdr, NULL);
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
    ib_kick_t *k = kick_put(ev, id, req->now + s->srv->cfg->kick_ms);
    if (!k)
        return IB_ENOMEM;
    size_t closed = kick_close(ev, id, reason, s->user->id);
    /* Every node refuses the user from now on and closes its sessions. */
    mod_share(ev,
              json_pack("{s:s,s:s,s:I,s:s?,s:s}", "k", "kk", "id", id, "until",
                        (json_int_t)k->until, "why", reason, "by", s->user->id),
              "kick", id, json_pack("{s:I}", "until", (json_int_t)k->until));
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
    rc = block_add(ev, s->user->id, id);
    if (rc == IB_ECONFLICT)
        req->why = "too many blocks";
    if (rc)
        return rc;
    char field[2 * IB_ID_MAX + 2];
    snprintf(field, sizeof(field), "%s %s", s->user->id, id);
    mod_share(ev, json_pack("{s:s,s:s,s:s,s:b}", "k", "bl", "a", s->user->id, "b", id, "on", 1),
              "block", field, json_true());
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
    if (block_del(ev, s->user->id, id)) {
        char field[2 * IB_ID_MAX + 2];
        snprintf(field, sizeof(field), "%s %s", s->user->id, id);
        mod_share(ev, json_pack("{s:s,s:s,s:s,s:b}", "k", "bl", "a", s->user->id, "b", id, "on", 0),
                  "block", field, NULL);
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

/* --- several nodes --- */

static void apply_kick(ib_event_t *ev, const char *id, int64_t until, const char *why,
                       const char *by)
{
    if (!id || !ib_id_valid(id) || until <= ev->srv->now)
        return;
    if (kick_put(ev, id, until))
        kick_close(ev, id, why, by ? by : "");
}

static void apply_block(ib_event_t *ev, const char *a, const char *b, bool on)
{
    if (!a || !b || !ib_id_valid(a) || !ib_id_valid(b) || !strcmp(a, b))
        return;
    if (on)
        block_add(ev, a, b);
    else
        block_del(ev, a, b);
}

void ib__mod_message(ib_event_t *ev, const char *k, json_t *hdr)
{
    if (!strcmp(k, "kk"))
        apply_kick(ev, json_string_value(json_object_get(hdr, "id")),
                   json_integer_value(json_object_get(hdr, "until")),
                   json_string_value(json_object_get(hdr, "why")),
                   json_string_value(json_object_get(hdr, "by")));
    else if (!strcmp(k, "bl"))
        apply_block(ev, json_string_value(json_object_get(hdr, "a")),
                    json_string_value(json_object_get(hdr, "b")),
                    json_is_true(json_object_get(hdr, "on")));
}

typedef struct mod_load {
    ib_server_t *srv;
    char ev[IB_ID_MAX + 1];
} mod_load_t;

static void kicks_loaded(void *arg, int err, json_t *o)
{
    mod_load_t *l = arg;
    ib_event_t *ev = err ? NULL : ib_event_get(l->srv, l->ev, false);
    free(l);
    const char *id;
    json_t *v;
    if (ev && json_is_object(o))
        json_object_foreach(o, id, v)
            apply_kick(ev, id, json_integer_value(json_object_get(v, "until")), NULL, NULL);
}

static void blocks_loaded(void *arg, int err, json_t *o)
{
    mod_load_t *l = arg;
    ib_event_t *ev = err ? NULL : ib_event_get(l->srv, l->ev, false);
    free(l);
    const char *field;
    json_t *v;
    if (!ev || !json_is_object(o))
        return;
    json_object_foreach(o, field, v)
    {
        const char *sp = strchr(field, ' ');
        if (!sp || sp == field || (size_t)(sp - field) > IB_ID_MAX)
            continue;
        char a[IB_ID_MAX + 1];
        memcpy(a, field, (size_t)(sp - field));
        a[sp - field] = 0;
        apply_block(ev, a, sp + 1, true);
    }
}

void ib__mod_event_new(ib_event_t *ev)
{
    ib_server_t *srv = ev->srv;
    if (!ib__cluster(srv) || !srv->store->ops->mod_list)
        return;
    const char *kinds[2] = {"kick", "block"};
    ib_store_json_cb cbs[2] = {kicks_loaded, blocks_loaded};
    for (int i = 0; i < 2; i++) {
        mod_load_t *l = calloc(1, sizeof(*l));
        if (!l)
            return;
        l->srv = srv;
        snprintf(l->ev, sizeof(l->ev), "%s", ev->id);
        if (srv->store->ops->mod_list(srv->store, ev->id, kinds[i], cbs[i], l))
            free(l);
    }
}
