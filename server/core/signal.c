/*
 * The WebRTC signalling relay. `signal` carries opaque data (SDP offers and
 * answers, ICE candidates) from one member of a pair: or meet: room to
 * another, unchanged, and only while both are in that room: the room is
 * the permission. A blocked sender is refused like a stranger.
 */
#include <string.h>

#include "core_internal.h"

int ib_h_signal(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *to, *room;
    if (ib_get_string(req->m->msg, "to", true, &to, &req->why) ||
        ib_get_string(req->m->msg, "room", true, &room, &req->why))
        return IB_EBADREQ;
    json_t *data = json_object_get(req->m->msg, "data");
    if (!data) {
        req->why = "missing field";
        return IB_EBADREQ;
    }
    if (!ib_id_valid(to)) {
        req->why = "to must be a valid user id";
        return IB_EBADREQ;
    }
    ib_room_kind_t kind = ib_room_kind(room);
    if (kind == IB_ROOM_INVALID) {
        req->why = "room must be pair:<id> or meet:<id>";
        return IB_EBADREQ;
    }
    size_t size = json_dumpb(data, NULL, 0, JSON_COMPACT);
    if (size > (size_t)s->srv->cfg->signal_max) {
        req->why = "signal data is too large";
        return IB_ETOOBIG;
    }
    ib_room_t *r =
        (kind == IB_ROOM_PAIR || kind == IB_ROOM_MEET) ? ib_room_get(s->ev, room, false) : NULL;
    /* The peer may be a member here, or on another node: known there, or
     * put in the room by the server and not yet heard of here (their node
     * enters them as it hears of it, before this signal can reach it). */
    ib_user_t *peer = ib_user_find(s->ev, to);
    bool here = r && peer && ib_room_member(r, peer);
    bool local_peer = peer && peer->sessions;
    bool there = r && (ib_map_get(&r->remote, to) ||
                       (!local_peer && ib__cluster(s->srv) && ib_map_get(&r->allowed, to)));
    if (!r || !strcmp(to, s->user->id) || !ib_session_in_room(s, r) || !(here || there) ||
        ib_event_blocks(s->ev, to, s->user->id)) {
        req->why = "both must be members of this pair: or meet: room";
        return IB_EFORBIDDEN;
    }
    json_t *ev = json_pack("{s:s,s:s,s:s,s:O}", "type", "signal", "from", s->user->id, "room",
                           r->id, "data", data);
    ib_buf_t *b = ib_buf_from_json(ev);
    json_decref(ev);
    if (!b)
        return IB_ENOMEM;
    for (ib_session_t *t = here ? peer->sessions : NULL; t; t = t->unext)
        if (t->state == IB_SESSION_LIVE && ib_session_in_room(t, r))
            ib_session_send(t, b);
    if (there)
        ib__cluster_publish(s->ev, json_pack("{s:s,s:s,s:s}", "k", "u", "id", to, "room", r->id),
                            b);
    ib_buf_unref(b);
    ib__reply_ok(req, NULL);
    return 0;
}
