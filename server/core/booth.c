/*
 * Exhibitor booths: a fair queue per booth, meetings in meet: rooms, and
 * leads shared only with the visitor's consent.
 *
 * The queue is first come, first served and shared by all of a booth's
 * staff: booth.next takes the oldest visitor who is connected (one in the
 * grace period keeps their place but is skipped, so staff never wait on
 * someone who cannot hear them). Every move of the queue tells each visitor
 * behind it their new position and an estimated wait: the mean length of
 * the booth's recent meetings times the people ahead, over the staff
 * online. A meeting ends when either side leaves its meet: room; its length
 * feeds that estimate and the booth's stats.
 *
 * With several nodes (a store with booth ops) the queue, the meetings'
 * numbers and lengths, the stats and the leads live in the store, one per
 * booth for every node (see ib_store.h): queue, unqueue, next and lead are
 * answered when the store has made the change, atomically. Each node keeps
 * only the visitors it holds (their sessions are here) with the position
 * last told; every change of a queue is heard on the event's bus, and each
 * node holding visitors of that booth re-reads it and tells its own
 * visitors whose position moved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "icebreaker/ib_booth.h"

#define IB_BOOTH_RECENT 20    /* meetings the wait estimate averages */
#define IB_BOOTH_WAITS 1024   /* waits kept for the median */
#define IB_BOOTH_LEADS 100000 /* leads one booth may hold */

typedef struct visitor {
    char *sub;
    int64_t queued_at;
    struct visitor *prev, *next;
} visitor_t;

typedef struct meeting {
    char *room;
    char *visitor;
    char *staff;
    int64_t started;
    int64_t wait_ms;
} meeting_t;

/* With a shared store: a visitor this node holds, and the position it
 * was last told. */
typedef struct held {
    char *sub;
    size_t told;
} held_t;

typedef struct ib_booth {
    char *id;
    ib_event_t *ev;
    visitor_t *first, *last;
    ib_map_t queued; /* sub -> visitor_t */
    size_t n_queued;
    ib_map_t meetings; /* room id -> meeting_t */
    json_t *leads;     /* visitor sub -> lead object, in order of consent */
    json_t *met;       /* visitor sub -> length of their last meeting in ms */
    int64_t recent[IB_BOOTH_RECENT];
    size_t n_recent, recent_head;
    int64_t *waits;
    size_t n_waits;
    uint64_t visits, meetings_done, next_meet;
    /* With a shared store */
    ib_map_t held;       /* sub -> held_t */
    bool reading;        /* a re-read of the queue is in flight */
    bool read_again;     /* the queue changed meanwhile */
    unsigned staff_told; /* this node's live staff, as last told the store */
} ib_booth_t;

/* The store's booth operations when several nodes share the event. */
static ib_store_t *shared(const ib_event_t *ev)
{
    ib_server_t *srv = ev->srv;
    return ib__cluster(srv) && srv->store->ops->booth ? srv->store : NULL;
}

static int shared_queue(ib_req_t *req, ib_store_t *st, const char *id);
static int shared_unqueue(ib_req_t *req, ib_store_t *st, const char *id);
static int shared_next(ib_req_t *req, ib_store_t *st, const char *id);
static int shared_lead(ib_req_t *req, ib_store_t *st, const char *id, json_t *lead);
static held_t *held_get(ib_booth_t *b, const char *sub);
static void held_del(ib_booth_t *b, const char *sub);
static void staff_report(ib_booth_t *b);

static ib_booth_t *booth_get(ib_event_t *ev, const char *id, bool create)
{
    ib_booth_t *b = ib_map_get(&ev->booths, id);
    if (b || !create)
        return b;
    b = calloc(1, sizeof(*b));
    if (!b || !(b->id = strdup(id)) || !(b->leads = json_object()) || !(b->met = json_object()) ||
        ib_map_put(&ev->booths, b->id, b)) {
        if (b) {
            free(b->id);
            json_decref(b->leads);
            json_decref(b->met);
        }
        free(b);
        return NULL;
    }
    b->ev = ev;
    return b;
}

static bool is_staff(const ib_user_t *u, const char *booth)
{
    return u->role == IB_ROLE_ADMIN ||
           (u->role == IB_ROLE_EXHIBITOR && u->booth && !strcmp(u->booth, booth));
}

static size_t staff_online(const ib_booth_t *b)
{
    size_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&b->ev->users, &i, &k, &v);) {
        ib_user_t *u = v;
        if (u->role == IB_ROLE_EXHIBITOR && u->booth && !strcmp(u->booth, b->id))
            for (ib_session_t *s = u->sessions; s; s = s->unext)
                if (s->state == IB_SESSION_LIVE) {
                    n++;
                    break;
                }
    }
    return n;
}

/* Estimated wait in seconds for someone at `position`, or -1 when the booth
 * has no finished meeting to go by. */
static int64_t wait_of(int64_t mean_ms, size_t staff, size_t position)
{
    int64_t ms = mean_ms * (int64_t)(position - 1) / (int64_t)(staff ? staff : 1);
    return (ms + 999) / 1000;
}

static int64_t wait_estimate(const ib_booth_t *b, size_t position)
{
    if (!b->n_recent)
        return -1;
    int64_t sum = 0;
    for (size_t i = 0; i < b->n_recent; i++)
        sum += b->recent[i];
    return wait_of(sum / (int64_t)b->n_recent, staff_online(b), position);
}

static json_t *fields_of(const char *booth, size_t pos, int64_t w)
{
    return json_pack("{s:s,s:I,s:o}", "booth", booth, "position", (json_int_t)pos, "wait_s",
                     w < 0 ? json_null() : json_integer(w));
}

static json_t *position_fields(const ib_booth_t *b, size_t pos)
{
    return fields_of(b->id, pos, wait_estimate(b, pos));
}

/* The same from what the store says: recent meeting lengths (ms) and every
 * node's live staff. */
static json_t *shared_position_fields(const char *booth, size_t pos, const json_t *st)
{
    json_t *lens = json_object_get(st, "lens");
    int64_t w = -1;
    if (json_array_size(lens)) {
        int64_t sum = 0;
        size_t i;
        json_t *l;
        json_array_foreach(lens, i, l) sum += json_integer_value(l);
        w = wait_of(sum / (int64_t)json_array_size(lens),
                    (size_t)json_integer_value(json_object_get(st, "staff")), pos);
    }
    return fields_of(booth, pos, w);
}

/* Tell every visitor from `from` on (position pos) where they stand. */
static void announce_positions(ib_booth_t *b, visitor_t *from, size_t pos)
{
    for (visitor_t *v = from; v; v = v->next, pos++) {
        ib_user_t *u = ib_user_find(b->ev, v->sub);
        if (!u)
            continue;
        json_t *ev = position_fields(b, pos);
        json_object_set_new(ev, "type", json_string("booth.position"));
        ib_buf_t *buf = ib_buf_from_json(ev);
        json_decref(ev);
        if (buf) {
            ib_user_send(u, buf);
            ib_buf_unref(buf);
        }
    }
}

static size_t position_of(const ib_booth_t *b, const visitor_t *x)
{
    size_t pos = 1;
    for (const visitor_t *v = b->first; v && v != x; v = v->next)
        pos++;
    return pos;
}

/* Take x out of the queue; the visitors behind hear their new place. */
static void dequeue(ib_booth_t *b, visitor_t *x)
{
    size_t pos = position_of(b, x);
    visitor_t *after = x->next;
    if (x->prev)
        x->prev->next = x->next;
    else
        b->first = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        b->last = x->prev;
    ib_map_del(&b->queued, x->sub);
    b->n_queued--;
    free(x->sub);
    free(x);
    announce_positions(b, after, pos);
}

static int get_booth_id(ib_req_t *req, const char **id)
{
    if (ib_get_string(req->m->msg, "booth", true, id, &req->why))
        return IB_EBADREQ;
    if (!ib_id_valid(*id)) {
        req->why = "booth must be a valid id";
        return IB_EBADREQ;
    }
    return 0;
}

/* The meeting a user is in at booth b, if any. */
static meeting_t *meeting_of(const ib_booth_t *b, const char *sub)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&b->meetings, &i, &k, &v);) {
        meeting_t *m = v;
        if (!strcmp(m->visitor, sub))
            return m;
    }
    return NULL;
}

int ib_h_booth_queue(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *id;
    int rc = get_booth_id(req, &id);
    if (rc)
        return rc;
    if (s->user->role == IB_ROLE_EXHIBITOR && s->user->booth && !strcmp(s->user->booth, id)) {
        req->why = "staff do not queue at their own booth";
        return IB_ECONFLICT;
    }
    ib_store_t *st = shared(s->ev);
    if (st)
        return shared_queue(req, st, id);
    ib_booth_t *b = booth_get(s->ev, id, true);
    if (!b)
        return IB_ENOMEM;
    if (meeting_of(b, s->user->id)) {
        req->why = "already meeting this booth";
        return IB_ECONFLICT;
    }
    visitor_t *v = ib_map_get(&b->queued, s->user->id);
    if (!v) {
        v = calloc(1, sizeof(*v));
        if (!v || !(v->sub = strdup(s->user->id)) || ib_map_put(&b->queued, v->sub, v)) {
            if (v)
                free(v->sub);
            free(v);
            return IB_ENOMEM;
        }
        v->queued_at = req->now;
        v->prev = b->last;
        if (b->last)
            b->last->next = v;
        else
            b->first = v;
        b->last = v;
        b->n_queued++;
    }
    ib__reply_ok(req, position_fields(b, position_of(b, v)));
    return 0;
}

int ib_h_booth_unqueue(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *id;
    int rc = get_booth_id(req, &id);
    if (rc)
        return rc;
    ib_store_t *st = shared(s->ev);
    if (st)
        return shared_unqueue(req, st, id);
    ib_booth_t *b = booth_get(s->ev, id, false);
    visitor_t *v = b ? ib_map_get(&b->queued, s->user->id) : NULL;
    if (!v) {
        req->why = "not in this booth's queue";
        return IB_ENOTFOUND;
    }
    dequeue(b, v);
    ib__reply_ok(req, json_pack("{s:s}", "booth", id));
    return 0;
}

static json_t *person(const ib_user_t *u)
{
    return json_pack("{s:s,s:s,s:s?}", "id", u->id, "name", u->name, "headline", u->headline);
}

static void send_meet(ib_user_t *to, const char *booth, const char *room, const ib_user_t *with)
{
    json_t *ev = json_pack("{s:s,s:s,s:s,s:o}", "type", "booth.meet", "booth", booth, "room", room,
                           "with", person(with));
    ib_buf_t *buf = ib_buf_from_json(ev);
    json_decref(ev);
    if (buf) {
        ib_user_send(to, buf);
        ib_buf_unref(buf);
    }
}

/* Put every live session of u into r. */
static void enter_all(ib_room_t *r, ib_user_t *u)
{
    for (ib_session_t *s = u->sessions; s; s = s->unext)
        if (s->state == IB_SESSION_LIVE)
            ib_room_enter(r, s);
}

int ib_h_booth_next(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *id;
    int rc = get_booth_id(req, &id);
    if (rc)
        return rc;
    if (!is_staff(s->user, id)) {
        req->why = "only this booth's staff may take visitors";
        return IB_EFORBIDDEN;
    }
    ib_store_t *st = shared(s->ev);
    if (st)
        return shared_next(req, st, id);
    ib_booth_t *b = booth_get(s->ev, id, true);
    if (!b)
        return IB_ENOMEM;
    visitor_t *v = b->first;
    ib_user_t *vu = NULL;
    for (; v; v = v->next) {
        vu = ib_user_find(s->ev, v->sub);
        bool live = false;
        for (ib_session_t *t = vu ? vu->sessions : NULL; t && !live; t = t->unext)
            live = t->state == IB_SESSION_LIVE;
        if (live)
            break;
    }
    if (!v) {
        req->why = "no visitor is waiting";
        return IB_ENOTFOUND;
    }
    char room_id[IB_ID_MAX + 32];
    snprintf(room_id, sizeof(room_id), "meet:%.40s-%llu", id, (unsigned long long)++b->next_meet);
    ib_room_t *r = ib_room_get(s->ev, room_id, true);
    meeting_t *m = calloc(1, sizeof(*m));
    if (!r || !m || !(m->room = strdup(room_id)) || !(m->visitor = strdup(vu->id)) ||
        !(m->staff = strdup(s->user->id)) || ib_map_put(&b->meetings, m->room, m) ||
        ib__room_allow(r, s->user->id) || ib__room_allow(r, vu->id)) {
        if (m) {
            free(m->room);
            free(m->visitor);
            free(m->staff);
        }
        free(m);
        ib_room_maybe_free(r);
        return IB_ENOMEM;
    }
    m->started = req->now;
    m->wait_ms = req->now - v->queued_at;
    b->visits++;
    if (b->waits || (b->waits = calloc(IB_BOOTH_WAITS, sizeof(int64_t))))
        b->waits[b->n_waits++ % IB_BOOTH_WAITS] = m->wait_ms;
    r->pins++;
    enter_all(r, s->user);
    enter_all(r, vu);
    r->pins--;
    dequeue(b, v);
    send_meet(vu, id, room_id, s->user);
    send_meet(s->user, id, room_id, vu);
    ib__reply_ok(req, json_pack("{s:s,s:s,s:o}", "booth", id, "room", room_id, "with", person(vu)));
    return 0;
}

/* A meeting's room lost one side: end it for both. */
void ib__booth_meet_left(ib_room_t *r, int64_t now)
{
    char booth[IB_ID_MAX + 1];
    const char *dash = strrchr(r->id, '-');
    size_t n = dash ? (size_t)(dash - (r->id + 5)) : 0;
    if (!dash || n > IB_ID_MAX)
        return;
    memcpy(booth, r->id + 5, n);
    booth[n] = 0;
    ib_store_t *st = shared(r->ev);
    if (st) {
        /* Every node holding the room ends it for its own members; the
         * store counts the meeting once. */
        json_t *end =
            json_pack("{s:s,s:s,s:s}", "type", "booth.end", "booth", booth, "room", r->id);
        ib_buf_t *buf = end ? ib_buf_from_json(end) : NULL;
        json_decref(end);
        st->ops->booth->meet_end(st, r->ev->id, booth, r->id, now);
        r->pins++;
        if (buf)
            ib__room_send_local(r, buf, NULL, NULL);
        ib_room_empty(r);
        r->pins--;
        ib_buf_unref(buf);
        ib_room_maybe_free(r);
        return;
    }
    ib_booth_t *b = booth_get(r->ev, booth, false);
    meeting_t *m = b ? ib_map_del(&b->meetings, r->id) : NULL;
    if (!m)
        return;
    int64_t len = now - m->started;
    b->recent[b->recent_head] = len;
    b->recent_head = (b->recent_head + 1) % IB_BOOTH_RECENT;
    if (b->n_recent < IB_BOOTH_RECENT)
        b->n_recent++;
    b->meetings_done++;
    json_object_set_new(b->met, m->visitor, json_integer(len));
    /* The lead of this visitor, if any, learns the meeting's length. */
    json_t *lead = json_object_get(b->leads, m->visitor);
    if (lead)
        json_object_set_new(lead, "meeting_s", json_integer(len / 1000));
    json_t *ev = json_pack("{s:s,s:s,s:s}", "type", "booth.end", "booth", b->id, "room", r->id);
    ib_buf_t *buf = ib_buf_from_json(ev);
    json_decref(ev);
    /* Everyone still in the room is taken out. */
    r->pins++;
    if (buf)
        ib_room_send(r, buf, NULL);
    ib_room_empty(r);
    r->pins--;
    ib_buf_unref(buf);
    free(m->room);
    free(m->visitor);
    free(m->staff);
    free(m);
    ib_room_maybe_free(r);
    /* The visitor was first for nobody else: positions do not move. */
}

int ib_h_booth_lead(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *id;
    bool consent = false;
    int rc = get_booth_id(req, &id);
    if (rc)
        return rc;
    if (ib_get_bool(req->m->msg, "consent", true, &consent, &req->why))
        return IB_EBADREQ;
    ib_store_t *st = shared(s->ev);
    ib_booth_t *b = st ? NULL : booth_get(s->ev, id, consent);
    ib_user_t *u = s->user;
    if (!consent && st)
        st->ops->booth->lead(st, s->ev->id, id, u->id, NULL, req->now, 0, NULL, NULL);
    if (!consent) {
        /* Withdrawing consent removes the lead. */
        if (b)
            json_object_del(b->leads, u->id);
        ib__reply_ok(req, json_pack("{s:s,s:b}", "booth", id, "consent", 0));
        return 0;
    }
    if (!b && !st)
        return IB_ENOMEM;
    if (b && !json_object_get(b->leads, u->id) && json_object_size(b->leads) >= IB_BOOTH_LEADS) {
        req->why = "this booth has too many leads";
        return IB_ECONFLICT;
    }
    json_t *contact = json_object_get(u->profile, "contact");
    json_t *met = b ? json_object_get(b->met, u->id) : NULL;
    meeting_t *now_meeting = b ? meeting_of(b, u->id) : NULL;
    json_t *lead =
        json_pack("{s:s,s:s,s:s?,s:O?,s:O?,s:O?,s:O?,s:I,s:o}", "id", u->id, "name", u->name,
                  "headline", u->headline, "email", json_object_get(contact, "email"), "company",
                  json_object_get(contact, "company"), "title", json_object_get(contact, "title"),
                  "url", json_object_get(contact, "url"), "at", (json_int_t)req->now, "meeting_s",
                  met           ? json_integer(json_integer_value(met) / 1000)
                  : now_meeting ? json_integer((req->now - now_meeting->started) / 1000)
                                : json_null());
    if (!lead)
        return IB_ENOMEM;
    /* Absent claims are null, as the export promises. */
    static const char *const fields[] = {"headline", "email", "company", "title", "url"};
    for (size_t i = 0; i < IB_ARRAY_LEN(fields); i++)
        if (!json_object_get(lead, fields[i]))
            json_object_set_new(lead, fields[i], json_null());
    if (st)
        return shared_lead(req, st, id, lead);
    json_object_set_new(b->leads, u->id, lead);
    /* Staff online hear of it. */
    json_t *ev = json_pack("{s:s,s:s,s:O}", "type", "booth.lead", "booth", id, "lead", lead);
    ib_buf_t *buf = ib_buf_from_json(ev);
    json_decref(ev);
    const char *k;
    void *v;
    for (size_t i = 0; buf && ib_map_next(&s->ev->users, &i, &k, &v);) {
        ib_user_t *staff = v;
        if (staff->role == IB_ROLE_EXHIBITOR && staff->booth && !strcmp(staff->booth, id))
            ib_user_send(staff, buf);
    }
    ib_buf_unref(buf);
    ib__reply_ok(req, json_pack("{s:s,s:b}", "booth", id, "consent", 1));
    return 0;
}

/* The user's last session is gone: leave every queue of the event. */
void ib__booth_user_gone(ib_event_t *ev, const ib_user_t *u)
{
    const char *k;
    void *v;
    ib_store_t *st = shared(ev);
    for (size_t i = 0; ib_map_next(&ev->booths, &i, &k, &v);) {
        ib_booth_t *b = v;
        if (st) {
            /* Held here: out of the queue, unless a session elsewhere
             * holds the visitor now. */
            if (held_get(b, u->id)) {
                st->ops->booth->unqueue(st, ev->id, b->id, u->id, true, NULL, NULL);
                held_del(b, u->id);
            }
            if (u->role == IB_ROLE_EXHIBITOR && u->booth && !strcmp(u->booth, b->id))
                staff_report(b);
            continue;
        }
        visitor_t *x = ib_map_get(&b->queued, u->id);
        if (x)
            dequeue(b, x);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

json_t *ib_booth_stats_json(ib_event_t *ev, const char *booth)
{
    ib_booth_t *b = ev ? booth_get(ev, booth, false) : NULL;
    json_t *median = json_null();
    if (b && b->n_waits) {
        size_t n = b->n_waits < IB_BOOTH_WAITS ? b->n_waits : IB_BOOTH_WAITS;
        int64_t *w = malloc(n * sizeof(*w));
        if (w) {
            memcpy(w, b->waits, n * sizeof(*w));
            qsort(w, n, sizeof(*w), cmp_i64);
            int64_t med = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
            json_decref(median);
            median = json_real((double)med / 1000.0);
            free(w);
        }
    }
    return json_pack("{s:I,s:I,s:I,s:I,s:o,s:I}", "visits", (json_int_t)(b ? b->visits : 0),
                     "meetings", (json_int_t)(b ? b->meetings_done : 0), "in_meeting",
                     (json_int_t)(b ? b->meetings.count : 0), "queued",
                     (json_int_t)(b ? b->n_queued : 0), "median_wait_s", median, "leads",
                     (json_int_t)(b ? json_object_size(b->leads) : 0));
}

json_t *ib_booth_leads_json(ib_event_t *ev, const char *booth)
{
    ib_booth_t *b = ev ? booth_get(ev, booth, false) : NULL;
    json_t *leads = json_array();
    const char *k;
    json_t *v;
    if (b)
        json_object_foreach(b->leads, k, v) json_array_append(leads, v);
    return json_pack("{s:s,s:o,s:o}", "booth", booth, "leads", leads, "stats",
                     ib_booth_stats_json(ev, booth));
}

bool ib_booth_may_export(ib_role_t role, const char *claim_booth, const char *booth)
{
    return role == IB_ROLE_ADMIN ||
           (role == IB_ROLE_EXHIBITOR && claim_booth && !strcmp(claim_booth, booth));
}

/* One CSV field: quoted when it holds a separator, quote or line break;
 * a leading = + - @ is defused with a quote mark so that spreadsheets do
 * not run what a visitor typed into their profile as a formula. */
static void csv_field(json_t *out, const json_t *v)
{
    char num[32];
    const char *s = "";
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_integer(v))
        s = num, snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
    bool risky = strchr("=+-@", s[0]) && s[0] && !json_is_integer(v);
    bool quote = risky || strpbrk(s, ",\"\r\n") != NULL;
    size_t n = strlen(s);
    char *buf = malloc(2 * n + 4);
    if (!buf)
        return;
    size_t o = 0;
    if (quote)
        buf[o++] = '"';
    if (risky)
        buf[o++] = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            buf[o++] = '"';
        buf[o++] = s[i];
    }
    if (quote)
        buf[o++] = '"';
    buf[o] = 0;
    json_array_append_new(out, json_string(buf));
    free(buf);
}

char *ib_booth_leads_csv(ib_event_t *ev, const char *booth, size_t *len)
{
    json_t *all = ib_booth_leads_json(ev, booth);
    char *out = all ? ib_booth_csv(all, len) : NULL;
    json_decref(all);
    return out;
}

char *ib_booth_csv(json_t *all, size_t *len)
{
    static const char *const cols[] = {"id",    "name", "headline", "email",    "company",
                                       "title", "url",  "at",       "meeting_s"};
    json_t *leads = json_object_get(all, "leads");
    size_t cap = 256, used = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = 0;
    for (size_t row = 0; row <= json_array_size(leads); row++) {
        json_t *fields = json_array();
        for (size_t c = 0; c < IB_ARRAY_LEN(cols); c++) {
            if (row == 0)
                json_array_append_new(fields, json_string(cols[c]));
            else
                csv_field(fields, json_object_get(json_array_get(leads, row - 1), cols[c]));
        }
        for (size_t c = 0; c < json_array_size(fields); c++) {
            const char *f = json_string_value(json_array_get(fields, c));
            size_t need = used + strlen(f) + 3;
            if (need > cap) {
                while (cap < need)
                    cap *= 2;
                char *nb = realloc(out, cap);
                if (!nb) {
                    free(out);
                    json_decref(fields);
                    return NULL;
                }
                out = nb;
            }
            used += (size_t)sprintf(out + used, "%s%s", c ? "," : "", f);
        }
        used += (size_t)sprintf(out + used, "\r\n");
        json_decref(fields);
    }
    *len = used;
    return out;
}

void ib__event_free_booths(ib_event_t *ev)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&ev->booths, &i, &k, &v);) {
        ib_booth_t *b = v;
        while (b->first) {
            visitor_t *x = b->first;
            b->first = x->next;
            free(x->sub);
            free(x);
        }
        const char *mk;
        void *mv;
        for (size_t j = 0; ib_map_next(&b->meetings, &j, &mk, &mv);) {
            meeting_t *m = mv;
            free(m->room);
            free(m->visitor);
            free(m->staff);
            free(m);
        }
        ib_map_free(&b->meetings);
        ib_map_free(&b->queued);
        for (size_t j = 0; ib_map_next(&b->held, &j, &mk, &mv);) {
            held_t *h = mv;
            free(h->sub);
            free(h);
        }
        ib_map_free(&b->held);
        json_decref(b->leads);
        json_decref(b->met);
        free(b->waits);
        free(b->id);
        free(b);
    }
    ib_map_free(&ev->booths);
}

/* --- several nodes: the queue, meetings and leads in the shared store --- */

static held_t *held_get(ib_booth_t *b, const char *sub)
{
    return ib_map_get(&b->held, sub);
}

static void held_del(ib_booth_t *b, const char *sub)
{
    held_t *h = ib_map_del(&b->held, sub);
    if (h) {
        free(h->sub);
        free(h);
    }
}

static void held_set(ib_booth_t *b, const char *sub, size_t told)
{
    held_t *h = held_get(b, sub);
    if (!h) {
        h = calloc(1, sizeof(*h));
        if (!h || !(h->sub = strdup(sub)) || ib_map_put(&b->held, h->sub, h)) {
            if (h)
                free(h->sub);
            free(h);
            return;
        }
    }
    h->told = told;
}

static bool has_live_session(const ib_user_t *u)
{
    for (ib_session_t *s = u->sessions; s; s = s->unext)
        if (s->state == IB_SESSION_LIVE)
            return true;
    return false;
}

/* This node's live staff of b, told to the store when it changed. */
static void staff_report(ib_booth_t *b)
{
    ib_store_t *st = shared(b->ev);
    unsigned n = (unsigned)staff_online(b);
    if (st && n != b->staff_told && !st->ops->booth->staff(st, b->ev->id, b->id, n))
        b->staff_told = n;
}

/* An asynchronous booth request: the pending reply and the booth. */
typedef struct booth_op {
    ib_pending_t *p;
    char booth[IB_ID_MAX + 1];
} booth_op_t;

static booth_op_t *op_new(ib_req_t *req, const char *booth)
{
    booth_op_t *o = calloc(1, sizeof(*o));
    if (o && !(o->p = ib__pending_new(req))) {
        free(o);
        return NULL;
    }
    if (o)
        snprintf(o->booth, sizeof(o->booth), "%s", booth);
    return o;
}

/* The session is still there to be answered with what it asked for. */
static bool op_alive(booth_op_t *o)
{
    ib_session_t *s = o->p->s;
    return s->user && s->ev && s->state != IB_SESSION_DEAD;
}

static int op_start(booth_op_t *o, int rc)
{
    if (rc) {
        ib__pending_error(o->p, rc, "the shared store is unavailable");
        free(o);
    }
    return 0;
}

static void shared_queue_done(void *arg, int err, json_t *v)
{
    booth_op_t *o = arg;
    if (err || !op_alive(o)) {
        ib__pending_error(o->p, err ? err : IB_EUNAVAIL,
                          err == IB_ECONFLICT ? "already meeting this booth" : NULL);
        free(o);
        return;
    }
    ib_session_t *s = o->p->s;
    size_t pos = (size_t)json_integer_value(json_object_get(v, "position"));
    ib_booth_t *b = booth_get(s->ev, o->booth, true);
    if (b) {
        held_set(b, s->user->id, pos);
        /* Back in the queue from a session that is here and live. */
        if (!has_live_session(s->user))
            shared(s->ev)->ops->booth->away(shared(s->ev), s->ev->id, b->id, s->user->id, true);
    }
    ib__pending_ok(o->p, shared_position_fields(o->booth, pos, v));
    free(o);
}

static int shared_queue(ib_req_t *req, ib_store_t *st, const char *id)
{
    ib_user_t *u = req->s->user;
    booth_op_t *o = op_new(req, id);
    if (!o)
        return IB_ENOMEM;
    json_t *who = person(u);
    if (who && !json_object_get(who, "headline"))
        json_object_set_new(who, "headline", json_null());
    int rc = who ? st->ops->booth->queue(st, req->s->ev->id, id, u->id, who, req->now,
                                         shared_queue_done, o)
                 : IB_ENOMEM;
    json_decref(who);
    return op_start(o, rc);
}

static void shared_unqueue_done(void *arg, int err, json_t *v)
{
    booth_op_t *o = arg;
    if (err || !op_alive(o)) {
        ib__pending_error(o->p, err ? err : IB_EUNAVAIL, NULL);
    } else if (!json_is_true(v)) {
        ib__pending_error(o->p, IB_ENOTFOUND, "not in this booth's queue");
    } else {
        ib_booth_t *b = booth_get(o->p->s->ev, o->booth, false);
        if (b)
            held_del(b, o->p->s->user->id);
        ib__pending_ok(o->p, json_pack("{s:s}", "booth", o->booth));
    }
    free(o);
}

static int shared_unqueue(ib_req_t *req, ib_store_t *st, const char *id)
{
    booth_op_t *o = op_new(req, id);
    if (!o)
        return IB_ENOMEM;
    return op_start(o, st->ops->booth->unqueue(st, req->s->ev->id, id, req->s->user->id, false,
                                               shared_unqueue_done, o));
}

static void shared_next_done(void *arg, int err, json_t *v)
{
    booth_op_t *o = arg;
    if (err || !op_alive(o)) {
        ib__pending_error(o->p, err ? err : IB_EUNAVAIL, NULL);
        free(o);
        return;
    }
    if (json_is_null(v)) {
        ib__pending_error(o->p, IB_ENOTFOUND, "no visitor is waiting");
        free(o);
        return;
    }
    ib_session_t *s = o->p->s;
    ib_event_t *ev = s->ev;
    const char *vid = json_string_value(json_object_get(v, "user"));
    const char *room_id = json_string_value(json_object_get(v, "room"));
    json_t *with = json_object_get(v, "person");
    json_t *allow = vid ? json_pack("[s,s]", s->user->id, vid) : NULL;
    if (!allow || !room_id) {
        json_decref(allow);
        ib__pending_error(o->p, IB_ENOMEM, NULL);
        free(o);
        return;
    }
    /* Both sides' sessions, on whichever node they are, enter the room and
     * hear booth.meet. */
    json_t *meet = json_pack("{s:s,s:s,s:s,s:o}", "type", "booth.meet", "booth", o->booth, "room",
                             room_id, "with", person(s->user));
    ib_buf_t *buf = meet ? ib_buf_from_json(meet) : NULL;
    json_decref(meet);
    ib__cluster_room_put(ev, room_id, NULL, vid, allow, buf);
    ib_buf_unref(buf);
    meet = json_pack("{s:s,s:s,s:s,s:O}", "type", "booth.meet", "booth", o->booth, "room", room_id,
                     "with", with);
    buf = meet ? ib_buf_from_json(meet) : NULL;
    json_decref(meet);
    ib__cluster_room_put(ev, room_id, NULL, s->user->id, allow, buf);
    ib_buf_unref(buf);
    json_decref(allow);
    ib__pending_ok(o->p,
                   json_pack("{s:s,s:s,s:O}", "booth", o->booth, "room", room_id, "with", with));
    free(o);
}

static int shared_next(ib_req_t *req, ib_store_t *st, const char *id)
{
    booth_op_t *o = op_new(req, id);
    if (!o)
        return IB_ENOMEM;
    char prefix[IB_ID_MAX + 16];
    snprintf(prefix, sizeof(prefix), "meet:%.40s-", id);
    return op_start(o, st->ops->booth->next(st, req->s->ev->id, id, req->s->user->id, prefix,
                                            req->now, shared_next_done, o));
}

/* Every live session of this node's staff of booth. */
static void send_staff_local(ib_event_t *ev, const char *booth, ib_buf_t *buf)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&ev->users, &i, &k, &v);) {
        ib_user_t *u = v;
        if (u->role == IB_ROLE_EXHIBITOR && u->booth && !strcmp(u->booth, booth))
            for (ib_session_t *s = u->sessions; s; s = s->unext)
                if (s->state == IB_SESSION_LIVE)
                    ib_session_send(s, buf);
    }
}

typedef struct lead_op {
    booth_op_t o;
    json_t *lead;
} lead_op_t;

static void shared_lead_done(void *arg, int err, json_t *v)
{
    lead_op_t *l = arg;
    booth_op_t *o = &l->o;
    if (err || !op_alive(o)) {
        ib__pending_error(o->p, err ? err : IB_EUNAVAIL,
                          err == IB_ECONFLICT ? "this booth has too many leads" : NULL);
    } else {
        json_t *ms = json_object_get(v, "meeting_ms");
        json_object_set_new(l->lead, "meeting_s",
                            json_is_integer(ms) ? json_integer(json_integer_value(ms) / 1000)
                                                : json_null());
        /* Staff on every node hear of it (this one too, from the bus). */
        json_t *ev =
            json_pack("{s:s,s:s,s:O}", "type", "booth.lead", "booth", o->booth, "lead", l->lead);
        ib_buf_t *buf = ev ? ib_buf_from_json(ev) : NULL;
        json_decref(ev);
        ib__cluster_publish(o->p->s->ev,
                            json_pack("{s:s,s:s}", "k", "booth.lead", "booth", o->booth), buf);
        ib_buf_unref(buf);
        ib__pending_ok(o->p, json_pack("{s:s,s:b}", "booth", o->booth, "consent", 1));
    }
    json_decref(l->lead);
    free(l);
}

static int shared_lead(ib_req_t *req, ib_store_t *st, const char *id, json_t *lead)
{
    lead_op_t *l = calloc(1, sizeof(*l));
    if (!l || !(l->o.p = ib__pending_new(req))) {
        free(l);
        json_decref(lead);
        return IB_ENOMEM;
    }
    snprintf(l->o.booth, sizeof(l->o.booth), "%s", id);
    l->lead = lead;
    int rc = st->ops->booth->lead(st, req->s->ev->id, id, req->s->user->id, lead, req->now,
                                  IB_BOOTH_LEADS, shared_lead_done, l);
    if (rc) {
        ib__pending_error(l->o.p, rc, "the shared store is unavailable");
        json_decref(l->lead);
        free(l);
    }
    return 0;
}

/* A re-read of a booth's queue (after a change heard on the bus). */
typedef struct reread {
    ib_server_t *srv;
    char event[IB_ID_MAX + 1];
    char booth[IB_ID_MAX + 1];
} reread_t;

static void reread_start(ib_booth_t *b);

static void reread_done(void *arg, int err, json_t *v)
{
    reread_t *rr = arg;
    ib_event_t *ev = ib_event_get(rr->srv, rr->event, false);
    ib_booth_t *b = ev ? booth_get(ev, rr->booth, false) : NULL;
    free(rr);
    if (!b)
        return;
    b->reading = false;
    if (!err) {
        const char *self = b->ev->srv->node_id;
        ib_map_t seen = {0};
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(v, "q"), i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            const char *node = json_string_value(json_object_get(e, "node"));
            held_t *h = id ? held_get(b, id) : NULL;
            if (!h || !node || strcmp(node, self))
                continue;
            ib_map_put(&seen, h->sub, h);
            size_t pos = i + 1;
            ib_user_t *u = ib_user_find(b->ev, id);
            if (h->told == pos || !u)
                continue;
            h->told = pos;
            json_t *msg = shared_position_fields(b->id, pos, v);
            json_object_set_new(msg, "type", json_string("booth.position"));
            ib_buf_t *buf = ib_buf_from_json(msg);
            json_decref(msg);
            if (buf) {
                ib_user_send(u, buf);
                ib_buf_unref(buf);
            }
        }
        /* Visitors no longer queued here: forgotten. (The store answers in
         * the order it was asked, so a read sent before a queue is answered
         * before it: it never drops the visitor that queue adds.) */
        const char *k;
        void *hv;
        json_t *drop = json_array();
        for (size_t it = 0; ib_map_next(&b->held, &it, &k, &hv);)
            if (!ib_map_get(&seen, k))
                json_array_append_new(drop, json_string(k));
        json_array_foreach(drop, i, e) held_del(b, json_string_value(e));
        json_decref(drop);
        ib_map_free(&seen);
    }
    if (b->read_again) {
        b->read_again = false;
        reread_start(b);
    }
}

static void reread_start(ib_booth_t *b)
{
    ib_store_t *st = shared(b->ev);
    if (!st || !b->held.count)
        return;
    if (b->reading) {
        b->read_again = true;
        return;
    }
    reread_t *rr = calloc(1, sizeof(*rr));
    if (!rr)
        return;
    rr->srv = b->ev->srv;
    snprintf(rr->event, sizeof(rr->event), "%s", b->ev->id);
    snprintf(rr->booth, sizeof(rr->booth), "%s", b->id);
    b->reading = true;
    if (st->ops->booth->read(st, b->ev->id, b->id, reread_done, rr)) {
        b->reading = false;
        free(rr);
    }
}

void ib__booth_bus(ib_event_t *ev, const char *kind, json_t *hdr, const char *payload, size_t len)
{
    const char *booth = json_string_value(json_object_get(hdr, "booth"));
    if (!booth || !ib_id_valid(booth))
        return;
    if (!strcmp(kind, "booth.q")) {
        ib_booth_t *b = booth_get(ev, booth, false);
        if (b)
            reread_start(b);
    } else if (!strcmp(kind, "booth.lead") && payload) {
        ib_buf_t *buf = ib_buf_new(payload, len);
        if (buf) {
            send_staff_local(ev, booth, buf);
            ib_buf_unref(buf);
        }
    }
}

void ib__booth_user_live(ib_user_t *u)
{
    ib_event_t *ev = u->ev;
    ib_store_t *st = shared(ev);
    if (!st)
        return;
    bool live = has_live_session(u);
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&ev->booths, &i, &k, &v);) {
        ib_booth_t *b = v;
        if (held_get(b, u->id))
            st->ops->booth->away(st, ev->id, b->id, u->id, !live);
    }
    if (u->role == IB_ROLE_EXHIBITOR && u->booth) {
        ib_booth_t *b = booth_get(ev, u->booth, true);
        if (b)
            staff_report(b);
    }
}

/* With a shared store: the stats and leads every node sees. */
typedef struct api_op {
    ib_booth_api_cb cb;
    void *arg;
    char booth[IB_ID_MAX + 1];
    bool leads;
} api_op_t;

static int cmp_i64(const void *a, const void *b);

static json_t *median_json(const int64_t *w, size_t n)
{
    if (!n)
        return json_null();
    int64_t *c = malloc(n * sizeof(*c));
    if (!c)
        return json_null();
    memcpy(c, w, n * sizeof(*c));
    qsort(c, n, sizeof(*c), cmp_i64);
    int64_t med = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return json_real((double)med / 1000.0);
}

static void api_done(void *arg, int err, json_t *v)
{
    api_op_t *a = arg;
    json_t *out = NULL;
    if (!err) {
        json_t *waits = json_object_get(v, "waits");
        size_t n = json_array_size(waits);
        int64_t *w = calloc(n ? n : 1, sizeof(*w));
        for (size_t i = 0; w && i < n; i++)
            w[i] = json_integer_value(json_array_get(waits, i));
        json_t *stats = json_pack(
            "{s:O,s:O,s:O,s:O,s:o,s:I}", "visits", json_object_get(v, "visits"), "meetings",
            json_object_get(v, "meetings"), "in_meeting", json_object_get(v, "in_meeting"),
            "queued", json_object_get(v, "queued"), "median_wait_s", median_json(w, w ? n : 0),
            "leads", (json_int_t)json_array_size(json_object_get(v, "leads")));
        free(w);
        if (stats && a->leads)
            out = json_pack("{s:s,s:O,s:o}", "booth", a->booth, "leads",
                            json_object_get(v, "leads"), "stats", stats);
        else
            out = stats;
    }
    a->cb(a->arg, out);
    json_decref(out);
    free(a);
}

int ib_booth_api_async(ib_server_t *srv, const char *event, const char *booth, bool leads,
                       ib_booth_api_cb cb, void *arg)
{
    if (!ib__cluster(srv) || !srv->store->ops->booth)
        return -1;
    api_op_t *a = calloc(1, sizeof(*a));
    if (!a)
        return -1;
    a->cb = cb;
    a->arg = arg;
    a->leads = leads;
    snprintf(a->booth, sizeof(a->booth), "%s", booth);
    if (srv->store->ops->booth->info(srv->store, event, booth, api_done, a)) {
        /* Redis is down: answer now, as unavailable. */
        cb(arg, NULL);
        free(a);
    }
    return 0;
}

/* A user resumed onto this node from another: this node holds them now. */
typedef struct adopt_op {
    ib_server_t *srv;
    char event[IB_ID_MAX + 1];
    char user[IB_ID_MAX + 1];
} adopt_op_t;

static void adopt_done(void *arg, int err, json_t *v)
{
    adopt_op_t *a = arg;
    ib_event_t *ev = err ? NULL : ib_event_get(a->srv, a->event, false);
    size_t i;
    json_t *e;
    json_array_foreach(ev ? v : NULL, i, e)
    {
        const char *booth = json_string_value(json_object_get(e, "booth"));
        ib_booth_t *b = booth ? booth_get(ev, booth, true) : NULL;
        if (b)
            held_set(b, a->user, (size_t)json_integer_value(json_object_get(e, "position")));
    }
    free(a);
}

void ib__booth_resumed(ib_user_t *u)
{
    ib_store_t *st = shared(u->ev);
    adopt_op_t *a = st ? calloc(1, sizeof(*a)) : NULL;
    if (!a)
        return;
    a->srv = u->ev->srv;
    snprintf(a->event, sizeof(a->event), "%s", u->ev->id);
    snprintf(a->user, sizeof(a->user), "%s", u->id);
    if (st->ops->booth->adopt(st, u->ev->id, u->id, adopt_done, a))
        free(a);
}
