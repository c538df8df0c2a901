/*
 * The session lifecycle and lounge verbs, driven through the dispatcher
 * with a fake transport: hello, errors and close codes, join/leave/chat,
 * presence (tabs, crowd rule), grace and resume, limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core_harness.h"

static void test_hello_ok_and_fields(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a;
    harness_init(&h);
    harness_start(&h);
    memset(&a, 0, sizeof(a));
    a.s = ib_server_accept(h.srv, &a, T0);
    char *tok = make_token(&h, "alice", "Alice", "attendee", "ev1", T0 / 1000 + 60);
    send_text(&a, T0, "{\"type\":\"hello\",\"id\":\"h1\",\"token\":\"%s\"}", tok);
    free(tok);
    json_t *ok = next_out(&a);
    assert_non_null(ok);
    assert_string_equal(jstr(ok, "type"), "ok");
    assert_string_equal(jstr(ok, "re"), "h1");
    assert_false(json_is_true(json_object_get(ok, "resumed")));
    assert_string_equal(jstr(json_object_get(ok, "user"), "id"), "alice");
    assert_string_equal(jstr(json_object_get(ok, "user"), "role"), "attendee");
    assert_string_equal(jstr(ok, "event"), "ev1");
    assert_string_equal(jstr(ok, "node"), "node-test");
    assert_int_equal(json_integer_value(json_object_get(ok, "server_time")), T0);
    assert_int_equal(json_integer_value(json_object_get(ok, "heartbeat_ms")), 25000);
    assert_true(strlen(jstr(ok, "resume")) > 16);
    json_decref(ok);
    assert_int_equal(h.srv->n_sessions, 1);
    harness_free(&h);
}

static void expect_error(fake_conn_t *c, const char *code, json_t *re)
{
    json_t *e = next_out(c);
    assert_non_null(e);
    assert_string_equal(jstr(e, "type"), "error");
    assert_string_equal(jstr(e, "code"), code);
    if (re)
        assert_true(json_equal(json_object_get(e, "re"), re));
    else
        assert_null(json_object_get(e, "re"));
    json_decref(e);
}

static void test_first_message_must_be_hello(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a;
    harness_init(&h);
    harness_start(&h);
    memset(&a, 0, sizeof(a));
    a.s = ib_server_accept(h.srv, &a, T0);
    send_text(&a, T0, "{\"type\":\"join\",\"id\":5,\"room\":\"lounge:main\"}");
    json_t *five = json_integer(5);
    expect_error(&a, "unauthorized", five);
    json_decref(five);
    assert_int_equal(a.s->close_code, IB_CLOSE_AUTH);
    /* Further input is ignored while closing. */
    send_text(&a, T0, "{\"type\":\"ping\"}");
    assert_null(next_out(&a));
    harness_free(&h);
}

static void test_bad_tokens(void **state)
{
    (void)state;
    harness_t h;
    harness_init(&h);
    harness_start(&h);
    const char *tokens[4];
    char *expired = make_token(&h, "bob", "Bob", "attendee", "ev1", T0 / 1000 - 31);
    char *badrole = make_token(&h, "bob", "Bob", "king", "ev1", T0 / 1000 + 60);
    tokens[0] = expired;
    tokens[1] = badrole;
    tokens[2] = "not.a.token";
    tokens[3] = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IifQ.";
    for (size_t i = 0; i < 4; i++) {
        fake_conn_t a;
        memset(&a, 0, sizeof(a));
        a.s = ib_server_accept(h.srv, &a, T0);
        send_text(&a, T0, "{\"type\":\"hello\",\"token\":\"%s\"}", tokens[i]);
        expect_error(&a, "unauthorized", NULL);
        assert_int_equal(a.s->close_code, IB_CLOSE_AUTH);
        ib_session_disconnected(a.s, T0);
    }
    free(expired);
    free(badrole);
    ib_server_tick(h.srv, T0 + 100);
    assert_int_equal(h.srv->n_sessions, 0);
    assert_int_equal(h.srv->n_connections, 0);
    harness_free(&h);
}

static void test_hello_timeout(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a;
    harness_init(&h);
    harness_start(&h);
    memset(&a, 0, sizeof(a));
    a.s = ib_server_accept(h.srv, &a, T0);
    ib_server_tick(h.srv, T0 + 9999);
    assert_int_equal(a.s->close_code, 0);
    ib_server_tick(h.srv, T0 + 10000);
    assert_int_equal(a.s->close_code, IB_CLOSE_HELLO_TIMEOUT);
    /* The client never lets the close through: dropped at the deadline. */
    ib_server_tick(h.srv, T0 + 16000);
    assert_int_equal(a.dropped, 1);
    harness_free(&h);
}

static void test_bad_requests_keep_connection(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    send_text(&a, T0, "not json");
    expect_error(&a, "bad_request", NULL);
    send_text(&a, T0, "[1,2]");
    expect_error(&a, "bad_request", NULL);
    send_text(&a, T0, "{\"id\":3}");
    json_t *three = json_integer(3);
    expect_error(&a, "bad_request", three);
    json_decref(three);
    send_text(&a, T0, "{\"type\":\"nope\",\"id\":\"x\"}");
    json_t *x = json_string("x");
    expect_error(&a, "bad_request", x);
    json_decref(x);
    send_text(&a, T0, "{\"type\":\"join\",\"id\":{}}");
    expect_error(&a, "bad_request", NULL);
    send_text(&a, T0, "{\"type\":\"join\"}");
    expect_error(&a, "bad_request", NULL);
    send_text(&a, T0, "{\"type\":\"join\",\"room\":7}");
    expect_error(&a, "bad_request", NULL);
    send_text(&a, T0, "{\"type\":\"join\",\"room\":\"kitchen:main\"}");
    expect_error(&a, "bad_request", NULL);
    send_text(&a, T0, "{\"type\":\"join\",\"room\":\"pair:p1\"}");
    expect_error(&a, "forbidden", NULL);
    ib_session_receive(a.s, "\x01\x02", 2, true, T0);
    expect_error(&a, "bad_request", NULL);
    send_text(&a, T0, "{\"type\":\"hello\",\"token\":\"x\"}");
    expect_error(&a, "conflict", NULL);
    assert_int_equal(a.s->close_code, 0);
    send_text(&a, T0, "{\"type\":\"ping\",\"id\":9}");
    json_t *ok = next_out(&a);
    assert_string_equal(jstr(ok, "type"), "ok");
    assert_int_equal(json_integer_value(json_object_get(ok, "server_time")), T0);
    json_decref(ok);
    harness_free(&h);
}

static json_t *request(fake_conn_t *c, int64_t now, const char *fmt, ...)
{
    char buf[70000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ib_session_receive(c->s, buf, strlen(buf), false, now);
    /* The reply is the message carrying "re" 77, events may come first. */
    json_t *v;
    while ((v = next_out(c))) {
        json_t *re = json_object_get(v, "re");
        if (re && json_integer_value(re) == 77)
            return v;
        json_decref(v);
    }
    return NULL;
}

static void test_join_presence_chat(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a, b, other;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &b, "bob", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &other, "carol", "attendee", "ev2", T0), 0);

    json_t *ok = request(&a, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}");
    assert_string_equal(jstr(ok, "type"), "ok");
    assert_int_equal(json_integer_value(json_object_get(ok, "count")), 1);
    assert_int_equal(json_array_size(json_object_get(ok, "history")), 0);
    json_decref(ok);
    ok = request(&other, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}");
    assert_int_equal(json_integer_value(json_object_get(ok, "count")), 1); /* other event */
    json_decref(ok);
    ok = request(&b, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}");
    assert_int_equal(json_integer_value(json_object_get(ok, "count")), 2);
    json_t *members = json_object_get(ok, "members");
    assert_string_equal(jstr(json_array_get(members, 0), "id"), "alice");
    assert_string_equal(jstr(json_array_get(members, 1), "id"), "bob");
    json_decref(ok);

    json_t *p = next_out(&a);
    assert_string_equal(jstr(p, "type"), "presence");
    assert_string_equal(jstr(p, "state"), "joined");
    assert_string_equal(jstr(json_object_get(p, "user"), "id"), "bob");
    json_decref(p);
    assert_null(next_out(&other));

    ok = request(&a, T0, "{\"type\":\"chat\",\"id\":77,\"room\":\"lounge:main\",\"text\":\"hi\"}");
    assert_int_equal(json_integer_value(json_object_get(ok, "seq")), 1);
    json_decref(ok);
    json_t *c = next_out(&b);
    assert_string_equal(jstr(c, "type"), "chat");
    assert_string_equal(jstr(c, "text"), "hi");
    assert_int_equal(json_integer_value(json_object_get(c, "seq")), 1);
    assert_string_equal(jstr(json_object_get(c, "from"), "id"), "alice");
    json_decref(c);
    assert_null(next_out(&other));

    ok = request(&a, T0, "{\"type\":\"chat\",\"id\":77,\"room\":\"lounge:main\",\"text\":\"\"}");
    assert_string_equal(jstr(ok, "code"), "bad_request");
    json_decref(ok);
    ok = request(&a, T0, "{\"type\":\"chat\",\"id\":77,\"room\":\"lounge:else\",\"text\":\"x\"}");
    assert_string_equal(jstr(ok, "code"), "forbidden");
    json_decref(ok);
    char big[2100];
    memset(big, 'a', 2001);
    big[2001] = 0;
    ok = request(&a, T0, "{\"type\":\"chat\",\"id\":77,\"room\":\"lounge:main\",\"text\":\"%s\"}",
                 big);
    assert_string_equal(jstr(ok, "code"), "too_large");
    json_decref(ok);
    big[2000] = 0;
    ok = request(&a, T0, "{\"type\":\"chat\",\"id\":77,\"room\":\"lounge:main\",\"text\":\"%s\"}",
                 big);
    assert_int_equal(json_integer_value(json_object_get(ok, "seq")), 2);
    json_decref(ok);

    ok = request(&b, T0, "{\"type\":\"leave\",\"id\":77,\"room\":\"lounge:main\"}");
    assert_string_equal(jstr(ok, "type"), "ok");
    json_decref(ok);
    drain_out(&a);
    ok = request(&b, T0, "{\"type\":\"leave\",\"id\":77,\"room\":\"lounge:main\"}");
    assert_string_equal(jstr(ok, "code"), "not_found");
    json_decref(ok);
    ok = request(&b, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}");
    assert_int_equal(json_array_size(json_object_get(ok, "history")), 2);
    json_decref(ok);
    harness_free(&h);
}

static void test_two_tabs_show_once(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a, b1, b2;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &b1, "bob", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &b2, "bob", "attendee", "ev1", T0), 0);
    json_decref(request(&a, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}"));
    json_decref(request(&b1, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}"));
    json_t *ok = request(&b2, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}");
    assert_int_equal(json_integer_value(json_object_get(ok, "count")), 2);
    json_decref(ok);
    json_t *p = next_out(&a);
    assert_string_equal(jstr(p, "state"), "joined");
    json_decref(p);
    assert_null(next_out(&a)); /* the second tab is not announced */
    json_decref(request(&b1, T0, "{\"type\":\"leave\",\"id\":77,\"room\":\"lounge:main\"}"));
    assert_null(next_out(&a));
    json_decref(request(&b2, T0, "{\"type\":\"leave\",\"id\":77,\"room\":\"lounge:main\"}"));
    p = next_out(&a);
    assert_string_equal(jstr(p, "state"), "left");
    json_decref(p);
    harness_free(&h);
}

static void test_grace_and_resume(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a, b, b2;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    memset(&b, 0, sizeof(b));
    b.s = ib_server_accept(h.srv, &b, T0);
    char *tok = make_token(&h, "bob", "Bob", "attendee", "ev1", T0 / 1000 + 3600);
    send_text(&b, T0, "{\"type\":\"hello\",\"token\":\"%s\"}", tok);
    json_t *ok = next_out(&b);
    char resume[128];
    snprintf(resume, sizeof(resume), "%s", jstr(ok, "resume"));
    json_decref(ok);
    json_decref(request(&a, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}"));
    json_decref(request(&b, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}"));
    drain_out(&a);

    ib_session_t *bs = b.s;
    ib_session_disconnected(bs, T0 + 10);
    assert_int_equal(bs->state, IB_SESSION_DETACHED);
    ib_server_tick(h.srv, T0 + 20000);
    assert_null(next_out(&a)); /* no left within grace */

    memset(&b2, 0, sizeof(b2));
    b2.s = ib_server_accept(h.srv, &b2, T0 + 20000);
    send_text(&b2, T0 + 20000, "{\"type\":\"hello\",\"token\":\"%s\",\"resume\":\"%s\"}", tok,
              resume);
    assert_ptr_equal(b2.s, bs); /* rebound to the old session */
    ok = next_out(&b2);
    assert_true(json_is_true(json_object_get(ok, "resumed")));
    assert_string_not_equal(jstr(ok, "resume"), resume);
    json_decref(ok);
    ib_server_tick(h.srv, T0 + 60000);
    assert_null(next_out(&a));
    assert_true(ib_session_in_room(bs, ib_room_get(bs->ev, "lounge:main", false)));

    /* The old token cannot be replayed; past grace, bob is gone. */
    ib_session_disconnected(bs, T0 + 60000);
    ib_server_tick(h.srv, T0 + 60000 + 29999);
    assert_null(next_out(&a));
    ib_server_tick(h.srv, T0 + 60000 + 30000);
    json_t *p = next_out(&a);
    assert_string_equal(jstr(p, "state"), "left");
    json_decref(p);
    fake_conn_t b3;
    memset(&b3, 0, sizeof(b3));
    b3.s = ib_server_accept(h.srv, &b3, T0 + 100000);
    send_text(&b3, T0 + 100000, "{\"type\":\"hello\",\"token\":\"%s\",\"resume\":\"%s\"}", tok,
              resume);
    ok = next_out(&b3);
    assert_false(json_is_true(json_object_get(ok, "resumed")));
    json_decref(ok);
    free(tok);
    harness_free(&h);
}

static void test_crowd_rule_and_paging(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t c[8];
    harness_init(&h);
    h.cfg.crowd = 3;
    harness_start(&h);
    char name[16];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "u%d", i);
        assert_int_equal(connect_user(&h, &c[i], name, "attendee", "ev1", T0), 0);
        json_t *ok = request(&c[i], T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:big\"}");
        size_t expect = i + 1 > 3 ? 3 : (size_t)i + 1;
        assert_int_equal(json_array_size(json_object_get(ok, "members")), expect);
        assert_int_equal(json_integer_value(json_object_get(ok, "count")), i + 1);
        json_decref(ok);
    }
    /* u0 saw u1 and u2 join, then nothing per person. */
    int presences = 0;
    json_t *v;
    while ((v = next_out(&c[0]))) {
        assert_string_equal(jstr(v, "type"), "presence");
        presences++;
        json_decref(v);
    }
    assert_int_equal(presences, 2);
    ib_server_tick(h.srv, T0 + 1000);
    v = next_out(&c[0]);
    assert_string_equal(jstr(v, "type"), "presence.count");
    assert_int_equal(json_integer_value(json_object_get(v, "count")), 8);
    json_decref(v);
    json_t *ok = request(&c[0], T0,
                         "{\"type\":\"members\",\"id\":77,\"room\":\"lounge:big\","
                         "\"offset\":5,\"limit\":2}");
    json_t *m = json_object_get(ok, "members");
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(jstr(json_array_get(m, 0), "id"), "u5");
    assert_string_equal(jstr(json_array_get(m, 1), "id"), "u6");
    json_decref(ok);
    ok = request(&c[0], T0,
                 "{\"type\":\"members\",\"id\":77,\"room\":\"lounge:big\",\"limit\":201}");
    assert_string_equal(jstr(ok, "code"), "bad_request");
    json_decref(ok);
    harness_free(&h);
}

static void test_room_cap_and_status(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a, b;
    harness_init(&h);
    h.cfg.max_rooms = 2;
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &b, "bob", "attendee", "ev1", T0), 0);
    json_decref(request(&a, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:one\"}"));
    json_decref(request(&a, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"booth:two\"}"));
    json_t *ok = request(&a, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:three\"}");
    assert_string_equal(jstr(ok, "code"), "conflict");
    json_decref(ok);
    ok = request(&a, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:one\"}");
    assert_string_equal(jstr(ok, "type"), "ok"); /* joining again is ok again */
    json_decref(ok);
    json_decref(request(&b, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:one\"}"));
    drain_out(&a);
    ok = request(&b, T0, "{\"type\":\"status\",\"id\":77,\"status\":\"busy\"}");
    assert_string_equal(jstr(ok, "type"), "ok");
    json_decref(ok);
    json_t *p = next_out(&a);
    assert_string_equal(jstr(p, "state"), "updated");
    assert_string_equal(jstr(json_object_get(p, "user"), "status"), "busy");
    json_decref(p);
    ok = request(&b, T0, "{\"type\":\"status\",\"id\":77,\"status\":\"asleep\"}");
    assert_string_equal(jstr(ok, "code"), "bad_request");
    json_decref(ok);
    harness_free(&h);
}

static void test_rate_limit_and_abuse(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a;
    harness_init(&h);
    h.cfg.rate = 1;
    h.cfg.burst = 3;
    h.cfg.abuse_refusals = 5;
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    /* hello took one token: two more pings pass, then refusals. */
    int oks = 0, limited = 0;
    for (int i = 0; i < 6; i++) {
        send_text(&a, T0, "{\"type\":\"ping\"}");
        json_t *v = next_out(&a);
        if (!v)
            break;
        if (!strcmp(jstr(v, "type"), "ok"))
            oks++;
        else if (!strcmp(jstr(v, "code"), "rate_limited"))
            limited++;
        json_decref(v);
    }
    assert_int_equal(oks, 2);
    assert_int_equal(limited, 4);
    send_text(&a, T0, "{\"type\":\"ping\"}");
    assert_int_equal(a.s->close_code, IB_CLOSE_POLICY);
    harness_free(&h);
}

static void test_slow_consumer(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a, b;
    harness_init(&h);
    h.cfg.sendq_msgs = 8;
    h.cfg.rate = 1000;
    h.cfg.burst = 1000;
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &b, "bob", "attendee", "ev1", T0), 0);
    json_decref(request(&a, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}"));
    json_decref(request(&b, T0, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:main\"}"));
    drain_out(&a);
    /* b never reads; a reads everything. */
    for (int i = 0; i < 20; i++) {
        json_t *ok = request(&a, T0,
                             "{\"type\":\"chat\",\"id\":77,\"room\":\"lounge:main\","
                             "\"text\":\"m%d\"}",
                             i);
        assert_int_equal(json_integer_value(json_object_get(ok, "seq")), i + 1);
        json_decref(ok);
    }
    assert_int_equal(b.s->close_code, IB_CLOSE_SLOW);
    assert_null(ib_session_peek(b.s)); /* queue dropped for the close frame */
    assert_int_equal(h.srv->metrics.sendq_drops, 1);
    harness_free(&h);
}

static void test_token_expiry_closes(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a;
    harness_init(&h);
    harness_start(&h);
    memset(&a, 0, sizeof(a));
    a.s = ib_server_accept(h.srv, &a, T0);
    /* exp 10 s in the past: still within the 30 s leeway. */
    char *tok = make_token(&h, "alice", "Alice", "attendee", "ev1", T0 / 1000 - 10);
    send_text(&a, T0, "{\"type\":\"hello\",\"token\":\"%s\"}", tok);
    free(tok);
    json_t *ok = next_out(&a);
    assert_string_equal(jstr(ok, "type"), "ok");
    json_decref(ok);
    ib_server_tick(h.srv, T0 + 19000);
    assert_int_equal(a.s->close_code, 0);
    ib_server_tick(h.srv, T0 + 21000);
    assert_int_equal(a.s->close_code, IB_CLOSE_AUTH);
    expect_error(&a, "unauthorized", NULL);
    harness_free(&h);
}

static void test_drain_closes_everyone_1001(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a, b;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    memset(&b, 0, sizeof(b));
    b.s = ib_server_accept(h.srv, &b, T0);
    ib_server_drain(h.srv, T0);
    assert_int_equal(a.s->close_code, IB_CLOSE_GOING_AWAY);
    assert_int_equal(b.s->close_code, IB_CLOSE_GOING_AWAY);
    int code;
    assert_string_equal(ib_server_health(h.srv, &code), "draining");
    assert_int_equal(code, 503);
    harness_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_ok_and_fields),
        cmocka_unit_test(test_first_message_must_be_hello),
        cmocka_unit_test(test_bad_tokens),
        cmocka_unit_test(test_hello_timeout),
        cmocka_unit_test(test_bad_requests_keep_connection),
        cmocka_unit_test(test_join_presence_chat),
        cmocka_unit_test(test_two_tabs_show_once),
        cmocka_unit_test(test_grace_and_resume),
        cmocka_unit_test(test_crowd_rule_and_paging),
        cmocka_unit_test(test_room_cap_and_status),
        cmocka_unit_test(test_rate_limit_and_abuse),
        cmocka_unit_test(test_slow_consumer),
        cmocka_unit_test(test_token_expiry_closes),
        cmocka_unit_test(test_drain_closes_everyone_1001),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
