/*
 * Several nodes in one process: two ib_server_t on a fake shared store
 * whose bus queues messages until the test pumps them, so every step
 * between nodes is explicit. Covers presence across nodes (a user on two
 * nodes shown once, counts, member lists), chat numbered by the store and
 * delivered from the bus, announce, the up/sync re-read, and resume on
 * another node with the takeover of the old session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core_harness.h"

#define NODES 2

typedef struct shared {
    json_t *members; /* "event room" -> {"node user": value} */
    json_t *seqs;    /* "event room" -> n */
    json_t *resumes; /* token -> record */
    json_t *queue;   /* [{event, hdr, payload}] */
    struct fake_store *stores[NODES];
    int n_stores;
} shared_t;

typedef struct fake_store {
    ib_store_t base;
    shared_t *sh;
    char node[64];
    ib_store_hooks_t hooks;
    json_t *subs; /* event -> true */
} fake_store_t;

static void fs_publish_raw(fake_store_t *fs, const char *event, json_t *hdr, const char *payload,
                           size_t len)
{
    json_object_set_new(hdr, "n", json_string(fs->node));
    json_array_append_new(fs->sh->queue,
                          json_pack("{s:s,s:O,s:s%}", "event", event, "hdr", hdr, "payload",
                                    payload ? payload : "", payload ? len : 0));
}

static int fs_chat_append(ib_store_t *st, const char *event, const char *room, json_t *msg,
                          ib_store_seq_cb cb, void *arg)
{
    fake_store_t *fs = (fake_store_t *)st;
    char k[256];
    snprintf(k, sizeof(k), "%s %s", event, room);
    json_int_t seq = json_integer_value(json_object_get(fs->sh->seqs, k)) + 1;
    json_object_set_new(fs->sh->seqs, k, json_integer(seq));
    json_object_set_new(msg, "seq", json_integer(seq));
    char *body = json_dumps(msg, JSON_COMPACT);
    json_t *hdr = json_pack("{s:s,s:s,s:s}", "k", "chat", "room", room, "from",
                            json_string_value(json_object_get(json_object_get(msg, "from"), "id")));
    fs_publish_raw(fs, event, hdr, body, strlen(body));
    json_decref(hdr);
    free(body);
    cb(arg, 0, (uint64_t)seq);
    return 0;
}

static int fs_chat_history(ib_store_t *st, const char *event, const char *room, size_t max,
                           ib_store_history_cb cb, void *arg)
{
    (void)st, (void)event, (void)room, (void)max;
    json_t *a = json_array();
    cb(arg, 0, a);
    json_decref(a);
    return 0;
}

static int fs_chat_delete(ib_store_t *st, const char *event, const char *room, uint64_t seq,
                          ib_store_seq_cb cb, void *arg)
{
    (void)st, (void)event, (void)room;
    cb(arg, IB_ENOTFOUND, seq);
    return 0;
}

static void fs_attach(ib_store_t *st, const char *node_id, int64_t grace_ms,
                      const ib_store_hooks_t *hooks)
{
    (void)grace_ms;
    fake_store_t *fs = (fake_store_t *)st;
    snprintf(fs->node, sizeof(fs->node), "%s", node_id);
    fs->hooks = *hooks;
}

static void fs_subscribe(ib_store_t *st, const char *event, int on)
{
    fake_store_t *fs = (fake_store_t *)st;
    if (on)
        json_object_set_new(fs->subs, event, json_true());
    else
        json_object_del(fs->subs, event);
}

static int fs_publish(ib_store_t *st, const char *event, json_t *hdr, const char *payload,
                      size_t len)
{
    fs_publish_raw((fake_store_t *)st, event, hdr, payload, len);
    return 0;
}

static json_t *room_hash(shared_t *sh, const char *event, const char *room)
{
    char k[256];
    snprintf(k, sizeof(k), "%s %s", event, room);
    json_t *h = json_object_get(sh->members, k);
    if (!h) {
        h = json_object();
        json_object_set_new(sh->members, k, h);
    }
    return h;
}

static int fs_presence(ib_store_t *st, const char *event, const char *room, const char *user,
                       json_t *value, json_t *hdr)
{
    fake_store_t *fs = (fake_store_t *)st;
    char f[160];
    snprintf(f, sizeof(f), "%s %s", fs->node, user);
    json_t *h = room_hash(fs->sh, event, room);
    if (value)
        json_object_set(h, f, value);
    else
        json_object_del(h, f);
    fs_publish_raw(fs, event, hdr, NULL, 0);
    return 0;
}

static int fs_presence_list(ib_store_t *st, const char *event, const char *room,
                            ib_store_json_cb cb, void *arg)
{
    fake_store_t *fs = (fake_store_t *)st;
    json_t *h = room_hash(fs->sh, event, room), *arr = json_array(), *v;
    const char *f;
    json_object_foreach(h, f, v)
    {
        const char *sp = strchr(f, ' ');
        json_array_append_new(
            arr, json_pack("{s:s%,s:s,s:O}", "n", f, (size_t)(sp - f), "id", sp + 1, "v", v));
    }
    cb(arg, 0, arr);
    json_decref(arr);
    return 0;
}

static int fs_node_sync(ib_store_t *st, const char *event, json_t *entries, json_t *hdr)
{
    fake_store_t *fs = (fake_store_t *)st;
    char pre[80];
    snprintf(pre, sizeof(pre), "%s ", fs->node);
    const char *rk;
    json_t *h;
    json_object_foreach(fs->sh->members, rk, h)
    {
        const char *f;
        json_t *v;
        void *tmp;
        if (strncmp(rk, event, strlen(event)) || rk[strlen(event)] != ' ')
            continue;
        json_object_foreach_safe(h, tmp, f, v) if (!strncmp(f, pre, strlen(pre)))
            json_object_del(h, f);
    }
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        char f[160];
        snprintf(f, sizeof(f), "%s%s", pre, jstr(e, "id"));
        json_object_set(room_hash(fs->sh, event, jstr(e, "room")), f, json_object_get(e, "v"));
    }
    fs_publish_raw(fs, event, hdr, NULL, 0);
    return 0;
}

static int fs_resume_put(ib_store_t *st, const char *event, const char *token, json_t *rec)
{
    (void)event;
    fake_store_t *fs = (fake_store_t *)st;
    if (rec)
        json_object_set(fs->sh->resumes, token, rec);
    else
        json_object_del(fs->sh->resumes, token);
    return 0;
}

static int fs_resume_get(ib_store_t *st, const char *event, const char *token, ib_store_json_cb cb,
                         void *arg)
{
    (void)event;
    fake_store_t *fs = (fake_store_t *)st;
    json_t *r = json_object_get(fs->sh->resumes, token);
    cb(arg, 0, r ? r : json_null());
    return 0;
}

static void fs_leaving(ib_store_t *st)
{
    (void)st;
}

static const char *fs_health(ib_store_t *st)
{
    (void)st;
    return "ok";
}

static void fs_free(ib_store_t *st)
{
    fake_store_t *fs = (fake_store_t *)st;
    json_decref(fs->subs);
    free(fs);
}

static const ib_store_ops_t fake_ops = {
    .name = "fake",
    .chat_append = fs_chat_append,
    .chat_history = fs_chat_history,
    .chat_delete = fs_chat_delete,
    .attach = fs_attach,
    .subscribe = fs_subscribe,
    .publish = fs_publish,
    .presence = fs_presence,
    .presence_list = fs_presence_list,
    .node_sync = fs_node_sync,
    .resume_put = fs_resume_put,
    .resume_get = fs_resume_get,
    .leaving = fs_leaving,
    .health = fs_health,
    .free = fs_free,
};

/* Deliver every queued message to every node subscribed to its event
 * (messages published meanwhile are delivered too). */
static void pump(shared_t *sh)
{
    while (json_array_size(sh->queue)) {
        json_t *m = json_incref(json_array_get(sh->queue, 0));
        json_array_remove(sh->queue, 0);
        const char *ev = jstr(m, "event");
        json_t *p = json_object_get(m, "payload");
        for (int i = 0; i < sh->n_stores; i++) {
            fake_store_t *fs = sh->stores[i];
            if (json_object_get(fs->subs, ev))
                fs->hooks.message(fs->hooks.arg, ev, json_object_get(m, "hdr"),
                                  json_string_length(p) ? json_string_value(p) : NULL,
                                  json_string_length(p));
        }
        json_decref(m);
    }
}

typedef struct cluster {
    harness_t h[NODES];
    shared_t sh;
} cluster_t;

static void cluster_start(cluster_t *c)
{
    memset(c, 0, sizeof(*c));
    c->sh.members = json_object();
    c->sh.seqs = json_object();
    c->sh.resumes = json_object();
    c->sh.queue = json_array();
    static const char *ids[NODES] = {"node-a", "node-b"};
    for (int i = 0; i < NODES; i++) {
        harness_t *h = &c->h[i];
        harness_init(h);
        ib_store_free(h->store);
        fake_store_t *fs = calloc(1, sizeof(*fs));
        fs->base.ops = &fake_ops;
        fs->sh = &c->sh;
        fs->subs = json_object();
        c->sh.stores[c->sh.n_stores++] = fs;
        h->store = &fs->base;
        ib_transport_t tr = {.ctx = h,
                             .want_write = h_want_write,
                             .bind = h_bind,
                             .close = h_close,
                             .drop = h_drop,
                             .random = h_random};
        h->rand_counter = (unsigned)(i * 100000);
        h->srv = ib_server_new(&h->cfg, &tr, h->store, ids[i]);
    }
}

static void cluster_free(cluster_t *c)
{
    for (int i = 0; i < NODES; i++)
        harness_free(&c->h[i]);
    json_decref(c->sh.members);
    json_decref(c->sh.seqs);
    json_decref(c->sh.resumes);
    json_decref(c->sh.queue);
}

static int64_t clock_ms = T0 + 1000; /* each request a millisecond later */

/* The reply to a request (skipping events), or NULL. */
static json_t *request(fake_conn_t *c, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ib_session_receive(c->s, buf, strlen(buf), false, ++clock_ms);
    json_t *v;
    while ((v = next_out(c))) {
        const char *t = jstr(v, "type");
        if (!strcmp(t, "ok") || !strcmp(t, "error"))
            return v;
        json_decref(v);
    }
    return NULL;
}

/* Collect the events of a conn into an array (consumed). */
static json_t *events(fake_conn_t *c)
{
    json_t *a = json_array(), *v;
    while ((v = next_out(c)))
        json_array_append_new(a, v);
    return a;
}

static size_t count_presence(json_t *evs, const char *user, const char *state)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(evs, i, e) if (!strcmp(jstr(e, "type"), "presence") &&
                                      !strcmp(jstr(json_object_get(e, "user"), "id"), user) &&
                                      !strcmp(jstr(e, "state"), state)) n++;
    return n;
}

static void test_presence_across_nodes(void **state)
{
    (void)state;
    cluster_t c;
    cluster_start(&c);
    fake_conn_t alice, bob, bob2, other;
    assert_int_equal(connect_user(&c.h[0], &alice, "alice", "attendee", "ev", T0), 0);
    assert_int_equal(connect_user(&c.h[1], &bob, "bob", "attendee", "ev", T0), 0);
    assert_int_equal(connect_user(&c.h[1], &other, "carol", "attendee", "ev2", T0), 0);
    json_decref(request(&alice, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:x\"}"));
    pump(&c.sh);
    json_t *j = request(&bob, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:x\"}");
    assert_string_equal(jstr(j, "type"), "ok");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
    json_t *mem = json_object_get(j, "members");
    assert_int_equal(json_array_size(mem), 2);
    assert_string_equal(jstr(json_array_get(mem, 0), "id"), "alice");
    assert_string_equal(jstr(json_array_get(mem, 1), "id"), "bob");
    json_decref(j);
    /* Another event's room of the same name stays apart. */
    j = request(&other, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:x\"}");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
    json_decref(j);
    pump(&c.sh);
    json_t *ev = events(&alice);
    assert_int_equal(count_presence(ev, "bob", "joined"), 1);
    json_decref(ev);

    /* bob's second tab, on node a: shown once. */
    assert_int_equal(connect_user(&c.h[0], &bob2, "bob", "attendee", "ev", T0), 0);
    j = request(&bob2, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:x\"}");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
    json_decref(j);
    pump(&c.sh);
    ev = events(&alice);
    assert_int_equal(json_array_size(ev), 0);
    json_decref(ev);
    j = request(&alice, "{\"type\":\"members\",\"id\":2,\"room\":\"lounge:x\"}");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
    json_decref(j);

    /* Status on b reaches a. */
    json_decref(request(&bob, "{\"type\":\"status\",\"id\":2,\"status\":\"busy\"}"));
    pump(&c.sh);
    ev = events(&alice);
    assert_int_equal(count_presence(ev, "bob", "updated"), 1);
    json_decref(ev);

    /* bob leaves on b: still there through a. Then on a: gone. */
    json_decref(request(&bob, "{\"type\":\"leave\",\"id\":3,\"room\":\"lounge:x\"}"));
    pump(&c.sh);
    ev = events(&alice);
    assert_int_equal(json_array_size(ev), 0);
    json_decref(ev);
    json_decref(request(&bob2, "{\"type\":\"leave\",\"id\":3,\"room\":\"lounge:x\"}"));
    pump(&c.sh);
    ev = events(&alice);
    assert_int_equal(count_presence(ev, "bob", "left"), 1);
    json_decref(ev);
    ev = events(&other);
    assert_int_equal(json_array_size(ev), 0);
    json_decref(ev);
    j = request(&alice, "{\"type\":\"members\",\"id\":4,\"room\":\"lounge:x\"}");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
    json_decref(j);
    cluster_free(&c);
}

static void test_chat_and_announce_across_nodes(void **state)
{
    (void)state;
    cluster_t c;
    cluster_start(&c);
    fake_conn_t alice, bob, host;
    assert_int_equal(connect_user(&c.h[0], &alice, "alice", "attendee", "ev", T0), 0);
    assert_int_equal(connect_user(&c.h[1], &bob, "bob", "attendee", "ev", T0), 0);
    assert_int_equal(connect_user(&c.h[1], &host, "hana", "host", "ev", T0), 0);
    json_decref(request(&alice, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:c\"}"));
    json_decref(request(&bob, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:c\"}"));
    pump(&c.sh);
    drain_out(&alice);
    json_t *r =
        request(&alice, "{\"type\":\"chat\",\"id\":2,\"room\":\"lounge:c\",\"text\":\"hi\"}");
    assert_int_equal(json_integer_value(json_object_get(r, "seq")), 1);
    json_decref(r);
    /* Nothing delivered before the bus: the sender hears it from there too. */
    assert_null(next_out(&alice));
    pump(&c.sh);
    for (int i = 0; i < 2; i++) {
        json_t *m = next_out(i ? &bob : &alice);
        assert_non_null(m);
        assert_string_equal(jstr(m, "type"), "chat");
        assert_string_equal(jstr(m, "text"), "hi");
        assert_int_equal(json_integer_value(json_object_get(m, "seq")), 1);
        json_decref(m);
    }
    json_decref(request(&host, "{\"type\":\"announce\",\"id\":1,\"text\":\"hello all\"}"));
    pump(&c.sh);
    json_t *m = next_out(&alice);
    assert_non_null(m);
    assert_string_equal(jstr(m, "type"), "announcement");
    json_decref(m);
    m = next_out(&bob);
    assert_string_equal(jstr(m, "type"), "announcement");
    json_decref(m);
    /* Once each: the node's own message on the bus is not delivered again. */
    assert_null(next_out(&bob));
    assert_null(next_out(&alice));
    cluster_free(&c);
}

static void test_sync_rereads_and_announces_changes(void **state)
{
    (void)state;
    cluster_t c;
    cluster_start(&c);
    fake_conn_t alice, bob;
    assert_int_equal(connect_user(&c.h[0], &alice, "alice", "attendee", "ev", T0), 0);
    assert_int_equal(connect_user(&c.h[1], &bob, "bob", "attendee", "ev", T0), 0);
    json_decref(request(&alice, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:s\"}"));
    pump(&c.sh);
    json_decref(request(&bob, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:s\"}"));
    /* bob's `joined` is lost (an outage): alice does not know. */
    json_array_clear(c.sh.queue);
    json_t *j = request(&alice, "{\"type\":\"members\",\"id\":2,\"room\":\"lounge:s\"}");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
    json_decref(j);
    /* Node b is up again: puts its presence back and says sync. */
    fake_store_t *fb = c.sh.stores[1];
    fb->hooks.up(fb->hooks.arg);
    pump(&c.sh);
    json_t *ev = events(&alice);
    assert_int_equal(count_presence(ev, "bob", "joined"), 1);
    json_decref(ev);
    j = request(&alice, "{\"type\":\"members\",\"id\":3,\"room\":\"lounge:s\"}");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
    json_decref(j);
    cluster_free(&c);
}

static void test_resume_on_another_node(void **state)
{
    (void)state;
    cluster_t c;
    cluster_start(&c);
    fake_conn_t alice, bob, alice2;
    assert_int_equal(connect_user(&c.h[0], &alice, "alice", "attendee", "ev", T0), 0);
    assert_int_equal(connect_user(&c.h[1], &bob, "bob", "attendee", "ev", T0), 0);
    json_decref(request(&alice, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:r\"}"));
    pump(&c.sh);
    json_decref(request(&bob, "{\"type\":\"join\",\"id\":1,\"room\":\"lounge:r\"}"));
    pump(&c.sh);
    drain_out(&alice);
    char token[128];
    snprintf(token, sizeof(token), "%s", alice.s->resume);
    char sid[64];
    snprintf(sid, sizeof(sid), "%s", alice.s->id);
    ib_session_disconnected(alice.s, T0 + 2000);

    memset(&alice2, 0, sizeof(alice2));
    alice2.s = ib_server_accept(c.h[1].srv, &alice2, T0 + 3000);
    char *tok = make_token(&c.h[1], "alice", "alice", "attendee", "ev", T0 / 1000 + 3600);
    send_text(&alice2, T0 + 3000,
              "{\"type\":\"hello\",\"id\":1,\"token\":\"%s\",\"resume\":\"%s\"}", tok, token);
    free(tok);
    json_t *ok = next_out(&alice2);
    assert_non_null(ok);
    assert_true(json_is_true(json_object_get(ok, "resumed")));
    assert_string_equal(jstr(ok, "session"), sid);
    assert_string_equal(jstr(ok, "node"), "node-b");
    json_decref(ok);
    assert_true(ib_session_in_room(alice2.s, ib_room_get(alice2.s->ev, "lounge:r", false)));
    pump(&c.sh);
    /* Node a ended the old session; bob heard nothing of alice. */
    assert_int_equal(c.h[0].srv->n_sessions, 0);
    json_t *ev = events(&bob);
    assert_int_equal(count_presence(ev, "alice", "left"), 0);
    assert_int_equal(count_presence(ev, "alice", "joined"), 0);
    json_decref(ev);
    /* The old token is spent. */
    assert_null(json_object_get(c.sh.resumes, token));
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presence_across_nodes),
        cmocka_unit_test(test_chat_and_announce_across_nodes),
        cmocka_unit_test(test_sync_rereads_and_announces_changes),
        cmocka_unit_test(test_resume_on_another_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
