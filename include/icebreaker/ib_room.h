/*
 * Events, users and rooms: the tenancy and presence model.
 *
 * Everything hangs off an ib_event_t (a virtual event, named by the token's
 * `event` claim), so users of two events can never meet: rooms and users are
 * looked up only inside their event. A user (one `sub`) may have several
 * sessions (tabs, or a session in its grace period); rooms list users, not
 * sessions, so a user shows once however many tabs it has, and leaves only
 * when its last session in the room goes.
 *
 * Members are kept oldest first (a doubly linked list in join order) so the
 * `members` list and its pages are stable; a map finds a member by user id.
 */
#ifndef IB_ROOM_H
#define IB_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ib_buf.h"
#include "ib_ids.h"
#include "ib_jwt.h"
#include "ib_map.h"

typedef struct ib_server ib_server_t;
typedef struct ib_session ib_session_t;
typedef struct ib_event ib_event_t;
typedef struct ib_user ib_user_t;
typedef struct ib_room ib_room_t;
typedef struct ib_member ib_member_t;

typedef enum ib_status {
    IB_STATUS_AVAILABLE = 0,
    IB_STATUS_BUSY,
    IB_STATUS_AWAY,
} ib_status_t;

const char *ib_status_name(ib_status_t st);
/* Returns 0 and sets *out, or IB_EBADREQ. */
int ib_status_parse(const char *s, ib_status_t *out);

struct ib_event {
    ib_server_t *srv;
    char *id;
    ib_map_t users;  /* sub -> ib_user_t */
    ib_map_t rooms;  /* room id -> ib_room_t */
    ib_map_t kicked; /* sub -> ib_kick_t: tokens refused until then */
    ib_map_t blocks; /* blocker sub -> ib_blocks_t */
    ib_map_t booths; /* booth id -> ib_booth_t (booth.c) */
    ib_map_t sn;     /* speed-networking session id -> ib_sn_t (sn.c) */
    size_t n_sessions;
};

/* A kicked user: refused until `until` (ms since the epoch). */
typedef struct ib_kick {
    char *sub;
    int64_t until;
} ib_kick_t;

/* The users one user has blocked. */
typedef struct ib_blocks {
    char *sub;
    char **ids;
    size_t n, cap;
} ib_blocks_t;

/* Whether blocker has blocked blocked (in either's event ev). */
bool ib_event_blocks(const ib_event_t *ev, const char *blocker, const char *blocked);
/* Whether either of the two has blocked the other. */
bool ib_event_blocked_pair(const ib_event_t *ev, const char *a, const char *b);
/* Whether sub's tokens are refused at now. */
bool ib_event_kicked(const ib_event_t *ev, const char *sub, int64_t now);

struct ib_user {
    ib_event_t *ev;
    char *id;
    char *name;
    ib_role_t role;
    ib_status_t status;
    char *headline;         /* NULL when absent */
    char *booth;            /* NULL when absent */
    json_t *profile;        /* interests, offers, seeks, contact (owned) */
    ib_session_t *sessions; /* this user's sessions, linked by s->unext */
    uint32_t n_sessions;
};

struct ib_member {
    ib_user_t *user;
    ib_member_t *prev, *next; /* join order, oldest first */
    uint32_t n_sessions;      /* sessions of this user in the room */
    int64_t joined_ms;
};

/* A member of a room on other nodes (with a shared store). */
typedef struct ib_remote {
    char *id;
    json_t *user; /* {id,name,role,status} */
    int64_t joined_ms;
    char **nodes; /* the nodes where the user is a member */
    uint16_t n_nodes;
} ib_remote_t;

/* State of a room's copy of its remote members. */
enum { IB_SYNC_NONE = 0, IB_SYNC_LOADING, IB_SYNC_LOADED };

struct ib_room {
    ib_event_t *ev;
    char *id;
    ib_room_kind_t kind;
    ib_member_t *first, *last;
    ib_map_t by_user; /* user id -> ib_member_t */
    uint32_t count;
    uint32_t pins; /* holders other than members (e.g. a speed-networking session) */
    /* Crowd rule: presence.count at most once a second while the count changes. */
    bool count_dirty;
    int64_t count_sent_ms;
    ib_room_t *dirty_next;
    /* Users allowed in a pair:/meet: room (others get forbidden). */
    ib_map_t allowed;
    /* Members on other nodes (lounge: and booth: rooms with a shared
     * store): user id -> ib_remote_t, read from the store when the room
     * appears here, then kept by the presence messages of other nodes. */
    ib_map_t remote;
    uint32_t n_remote_only; /* remote members with no session here */
    uint8_t sync;           /* IB_SYNC_* */
    bool sync_emit;         /* the load in flight is a re-read: announce changes */
    bool sync_again;        /* re-read once more when the load is done */
    json_t *sync_queue;     /* presence messages heard while loading */
    json_t *sync_joined;    /* local arrivals not yet announced (while loading) */
    void **waiters;         /* joins answered when the load is done (ib_pending_t) */
    size_t n_waiters;
    /* room_page.c: the first page_n members (of at most page_limit) as
     * JSON text, spliced into join answers */
    char *page;
    size_t page_len, page_n, page_limit;
};

/* Event by id; created when create is true. NULL when absent or on ENOMEM. */
ib_event_t *ib_event_get(ib_server_t *srv, const char *id, bool create);
/* Free the event if it has no sessions, users or rooms left. */
void ib_event_maybe_free(ib_event_t *ev);

/* User of an event by id. */
ib_user_t *ib_user_find(ib_event_t *ev, const char *id);

/* Room by id inside ev; created when create is true. */
ib_room_t *ib_room_get(ib_event_t *ev, const char *id, bool create);
/* Free a room with no members and no pins. */
void ib_room_maybe_free(ib_room_t *r);

ib_member_t *ib_room_member(const ib_room_t *r, const ib_user_t *u);

/* {id,name,role,status} of a user. New reference. */
json_t *ib_user_json(const ib_user_t *u);

/* Members on every node (users shown once). */
uint32_t ib_room_count(const ib_room_t *r);
/* Whether user `id` is a member of r on any node. */
bool ib_room_has_member_id(const ib_room_t *r, const char *id);

/* Whether presence events are replaced by presence.count (crowd rule). */
bool ib_room_is_crowded(const ib_room_t *r);

/* Put session s in room r. Returns 1 when the user became a member (others
 * must hear `joined`), 0 when it already was one (another tab, or s was
 * already in), or IB_E* (IB_ECONFLICT: room cap, IB_ENOMEM). */
int ib_room_enter(ib_room_t *r, ib_session_t *s);
/* Take s out of r. Returns 1 when the user stopped being a member, 0 when
 * another of its sessions stays, IB_ENOTFOUND when s was not in r. The
 * room may be freed by the call when it became empty: do not use r after
 * a return of 1 unless pinned. */
int ib_room_exit(ib_room_t *r, ib_session_t *s);

/* Take every session of u out of r. Returns 1 when u stopped being a
 * member, 0 when u was not in r. No presence event, no hooks. */
int ib_room_exit_user(ib_room_t *r, ib_user_t *u);

/* Take everyone out of r (no presence events, no hooks): for rooms the
 * server closes, such as a pair: room at the end of its round. */
void ib_room_empty(ib_room_t *r);

/* Send buf to every live session of every member of r, except the sessions
 * of user `except` (NULL: everyone), on every node. */
void ib_room_send(ib_room_t *r, ib_buf_t *buf, const ib_user_t *except);

/* Send what `from` said (chat) to every member of r who has not blocked
 * `from`, the sender included. */
void ib_room_send_from(ib_room_t *r, ib_buf_t *buf, const char *from);

/* Send buf to every live session of user u, on every node. */
void ib_user_send(ib_user_t *u, ib_buf_t *buf);
/* Send buf to the live sessions of user `id` of ev on every node (room
 * non-NULL: only its sessions in that room). */
void ib_user_send_id(ib_event_t *ev, const char *id, const char *room, ib_buf_t *buf);
/* Send buf to every live session of the event, on every node; returns the
 * number of users reached on this node. */
size_t ib_event_send(ib_event_t *ev, ib_buf_t *buf);

/* Announce a presence change of u in r to the other members, following the
 * crowd rule. state: "joined", "left", "updated". */
void ib_room_presence(ib_room_t *r, ib_user_t *u, const char *state);

/* Members [offset, offset+limit) as a JSON array of ib_user_json. */
json_t *ib_room_members_json(const ib_room_t *r, size_t offset, size_t limit);

#endif
