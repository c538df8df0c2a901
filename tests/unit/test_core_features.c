/*
 * Moderation, booths and the signal relay, driven through the dispatcher
 * with the fake transport of core_harness.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core_harness.h"
#include "icebreaker/ib_booth.h"

/* Send a request with id 77 and return its reply (events before it are
 * dropped). */
static json_t *req(fake_conn_t *c, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ib_session_receive(c->s, buf, strlen(buf), false, T0);
    json_t *v;
    while ((v = next_out(c))) {
        json_t *re = json_object_get(v, "re");
        if (re && json_integer_value(re) == 77)
            return v;
        json_decref(v);
    }
    return NULL;
}

/* The next event of the given type (others before it are dropped). */
static json_t *next_of(fake_conn_t *c, const char *type)
{
    json_t *v;
    while ((v = next_out(c))) {
        if (!strcmp(jstr(v, "type"), type))
            return v;
        json_decref(v);
    }
    return NULL;
}

static void expect_code(json_t *reply, const char *code)
{
    assert_non_null(reply);
    if (!strcmp(code, "ok"))
        assert_string_equal(jstr(reply, "type"), "ok");
    else
        assert_string_equal(jstr(reply, "code"), code);
    json_decref(reply);
}

static int connect_claims(harness_t *h, fake_conn_t *c, json_t *claims)
{
    memset(c, 0, sizeof(*c));
    c->s = ib_server_accept(h->srv, c, T0);
    json_object_set_new(claims, "exp", json_integer(T0 / 1000 + 3600));
    char *tok = ib_jwt_sign(claims, h->cfg.secret, h->cfg.secret_len);
    json_decref(claims);
    send_text(c, T0, "{\"type\":\"hello\",\"token\":\"%s\"}", tok);
    free(tok);
    json_t *ok = next_out(c);
    int rc = ok && !strcmp(jstr(ok, "type"), "ok") ? 0 : -1;
    json_decref(ok);
    return rc;
}

static void test_role_checks(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    expect_code(req(&a, "{\"type\":\"announce\",\"id\":77,\"text\":\"hi\"}"), "forbidden");
    expect_code(req(&a, "{\"type\":\"kick\",\"id\":77,\"user\":\"bob\"}"), "forbidden");
    expect_code(req(&a, "{\"type\":\"chat.delete\",\"id\":77,\"room\":\"lounge:x\",\"seq\":1}"),
                "forbidden");
    expect_code(req(&a, "{\"type\":\"booth.next\",\"id\":77,\"booth\":\"acme\"}"), "forbidden");
    harness_free(&h);
}

static void test_announce_reaches_event_only(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t host, a, other;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &host, "hh", "host", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &other, "zed", "attendee", "ev2", T0), 0);
    expect_code(req(&host, "{\"type\":\"announce\",\"id\":77,\"text\":\"\"}"), "bad_request");
    expect_code(req(&host, "{\"type\":\"announce\",\"id\":77,\"text\":\"Keynote in 5\"}"), "ok");
    json_t *ev = next_of(&a, "announcement");
    assert_non_null(ev);
    assert_string_equal(jstr(ev, "text"), "Keynote in 5");
    assert_string_equal(jstr(json_object_get(ev, "from"), "id"), "hh");
    json_decref(ev);
    assert_null(next_out(&other));
    harness_free(&h);
}

static void test_kick_closes_and_refuses(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t host, a1, a2, again;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &host, "hh", "host", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &a1, "alice", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &a2, "alice", "attendee", "ev1", T0), 0);
    expect_code(req(&host, "{\"type\":\"kick\",\"id\":77,\"user\":\"hh\"}"), "bad_request");
    expect_code(req(&host, "{\"type\":\"kick\",\"id\":77,\"user\":\"bad id!\"}"), "bad_request");
    json_t *ok = req(&host, "{\"type\":\"kick\",\"id\":77,\"user\":\"alice\",\"reason\":\"spam\"}");
    assert_int_equal(json_integer_value(json_object_get(ok, "sessions")), 2);
    json_decref(ok);
    assert_int_equal(a1.s->close_code, IB_CLOSE_POLICY);
    assert_int_equal(a2.s->close_code, IB_CLOSE_POLICY);
    json_t *k = next_of(&a1, "kicked");
    assert_string_equal(jstr(k, "message"), "spam");
    json_decref(k);
    /* The same user's token is refused now, with 4001. */
    assert_int_equal(connect_user(&h, &again, "alice", "attendee", "ev1", T0), -1);
    assert_int_equal(again.s->close_code, IB_CLOSE_AUTH);
    /* ...but not in another event. */
    fake_conn_t elsewhere;
    assert_int_equal(connect_user(&h, &elsewhere, "alice", "attendee", "ev2", T0), 0);
    harness_free(&h);
}

static void test_block_filters_chat_and_signal(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t a, b, c;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &b, "bob", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &c, "carol", "attendee", "ev1", T0), 0);
    expect_code(req(&a, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:m\"}"), "ok");
    expect_code(req(&b, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:m\"}"), "ok");
    expect_code(req(&c, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:m\"}"), "ok");
    expect_code(req(&a, "{\"type\":\"block\",\"id\":77,\"user\":\"alice\"}"), "bad_request");
    expect_code(req(&a, "{\"type\":\"block\",\"id\":77,\"user\":\"bob\"}"), "ok");
    drain_out(&a);
    drain_out(&c);
    expect_code(req(&b, "{\"type\":\"chat\",\"id\":77,\"room\":\"lounge:m\",\"text\":\"psst\"}"),
                "ok");
    json_t *seen = next_of(&c, "chat");
    assert_non_null(seen); /* carol still hears bob */
    json_decref(seen);
    assert_null(next_of(&a, "chat")); /* alice does not */
    expect_code(req(&a, "{\"type\":\"unblock\",\"id\":77,\"user\":\"bob\"}"), "ok");
    expect_code(req(&a, "{\"type\":\"unblock\",\"id\":77,\"user\":\"bob\"}"), "not_found");
    expect_code(req(&b, "{\"type\":\"chat\",\"id\":77,\"room\":\"lounge:m\",\"text\":\"again\"}"),
                "ok");
    seen = next_of(&a, "chat");
    assert_non_null(seen);
    json_decref(seen);
    harness_free(&h);
}

static void test_chat_delete(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t host, a;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &host, "hh", "host", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &a, "alice", "attendee", "ev1", T0), 0);
    expect_code(req(&a, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:m\"}"), "ok");
    expect_code(req(&host, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:m\"}"), "ok");
    for (int i = 0; i < 3; i++)
        expect_code(
            req(&a, "{\"type\":\"chat\",\"id\":77,\"room\":\"lounge:m\",\"text\":\"m%d\"}", i),
            "ok");
    drain_out(&a);
    expect_code(req(&host, "{\"type\":\"chat.delete\",\"id\":77,\"room\":\"lounge:m\",\"seq\":2}"),
                "ok");
    json_t *d = next_of(&a, "chat.delete");
    assert_int_equal(json_integer_value(json_object_get(d, "seq")), 2);
    json_decref(d);
    expect_code(req(&host, "{\"type\":\"chat.delete\",\"id\":77,\"room\":\"lounge:m\",\"seq\":2}"),
                "not_found");
    expect_code(req(&host, "{\"type\":\"chat.delete\",\"id\":77,\"room\":\"lounge:m\",\"seq\":0}"),
                "bad_request");
    json_t *j = req(&a, "{\"type\":\"join\",\"id\":77,\"room\":\"lounge:m\"}");
    json_t *hist = json_object_get(j, "history");
    assert_int_equal(json_array_size(hist), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(hist, 0), "seq")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(hist, 1), "seq")), 3);
    json_decref(j);
    harness_free(&h);
}

static void test_booth_queue_meet_lead(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t staff1, staff2, v1, v2, v3, stranger;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(
        connect_claims(&h, &staff1,
                       json_pack("{s:s,s:s,s:s,s:s,s:s}", "sub", "s1", "name", "S1", "role",
                                 "exhibitor", "event", "ev1", "booth", "acme")),
        0);
    assert_int_equal(
        connect_claims(&h, &staff2,
                       json_pack("{s:s,s:s,s:s,s:s,s:s}", "sub", "s2", "name", "S2", "role",
                                 "exhibitor", "event", "ev1", "booth", "acme")),
        0);
    assert_int_equal(connect_claims(&h, &v1,
                                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "sub", "v1", "name",
                                              "V1", "role", "attendee", "event", "ev1", "email",
                                              "v1@example.com", "company", "=cmd|calc")),
                     0);
    assert_int_equal(connect_user(&h, &v2, "v2", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &v3, "v3", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &stranger, "x", "attendee", "ev1", T0), 0);

    expect_code(req(&staff1, "{\"type\":\"booth.next\",\"id\":77,\"booth\":\"acme\"}"),
                "not_found");
    expect_code(req(&staff1, "{\"type\":\"booth.next\",\"id\":77,\"booth\":\"other\"}"),
                "forbidden");
    expect_code(req(&staff1, "{\"type\":\"booth.queue\",\"id\":77,\"booth\":\"acme\"}"),
                "conflict");
    json_t *q = req(&v1, "{\"type\":\"booth.queue\",\"id\":77,\"booth\":\"acme\"}");
    assert_int_equal(json_integer_value(json_object_get(q, "position")), 1);
    assert_true(json_is_null(json_object_get(q, "wait_s")));
    json_decref(q);
    q = req(&v2, "{\"type\":\"booth.queue\",\"id\":77,\"booth\":\"acme\"}");
    assert_int_equal(json_integer_value(json_object_get(q, "position")), 2);
    json_decref(q);
    q = req(&v3, "{\"type\":\"booth.queue\",\"id\":77,\"booth\":\"acme\"}");
    assert_int_equal(json_integer_value(json_object_get(q, "position")), 3);
    json_decref(q);
    expect_code(req(&v2, "{\"type\":\"booth.unqueue\",\"id\":77,\"booth\":\"acme\"}"), "ok");
    json_t *p = next_of(&v3, "booth.position");
    assert_int_equal(json_integer_value(json_object_get(p, "position")), 2);
    json_decref(p);
    expect_code(req(&v2, "{\"type\":\"booth.unqueue\",\"id\":77,\"booth\":\"acme\"}"), "not_found");

    /* Two staff share the queue: first come, first served. */
    json_t *n1 = req(&staff1, "{\"type\":\"booth.next\",\"id\":77,\"booth\":\"acme\"}");
    assert_string_equal(jstr(json_object_get(n1, "with"), "id"), "v1");
    char room[128];
    snprintf(room, sizeof(room), "%s", jstr(n1, "room"));
    json_decref(n1);
    json_t *m = next_of(&v1, "booth.meet");
    assert_string_equal(jstr(m, "room"), room);
    assert_string_equal(jstr(json_object_get(m, "with"), "id"), "s1");
    json_decref(m);
    p = next_of(&v3, "booth.position");
    assert_int_equal(json_integer_value(json_object_get(p, "position")), 1);
    json_decref(p);
    json_t *n2 = req(&staff2, "{\"type\":\"booth.next\",\"id\":77,\"booth\":\"acme\"}");
    assert_string_equal(jstr(json_object_get(n2, "with"), "id"), "v3");
    json_decref(n2);

    /* Signal inside the meet room; refused to strangers and to others. */
    expect_code(req(&v1,
                    "{\"type\":\"signal\",\"id\":77,\"to\":\"s1\",\"room\":\"%s\","
                    "\"data\":{\"sdp\":\"x\"}}",
                    room),
                "ok");
    json_t *sig = next_of(&staff1, "signal");
    assert_string_equal(jstr(sig, "from"), "v1");
    assert_string_equal(jstr(json_object_get(sig, "data"), "sdp"), "x");
    json_decref(sig);
    expect_code(req(&stranger,
                    "{\"type\":\"signal\",\"id\":77,\"to\":\"s1\",\"room\":\"%s\","
                    "\"data\":{}}",
                    room),
                "forbidden");
    expect_code(req(&v1,
                    "{\"type\":\"signal\",\"id\":77,\"to\":\"s2\",\"room\":\"%s\","
                    "\"data\":{}}",
                    room),
                "forbidden");
    expect_code(req(&stranger, "{\"type\":\"join\",\"id\":77,\"room\":\"%s\"}", room), "forbidden");

    /* Lead: none without consent; consent shares contact claims. */
    json_t *leads = ib_booth_leads_json(v1.s->ev, "acme");
    assert_int_equal(json_array_size(json_object_get(leads, "leads")), 0);
    json_decref(leads);
    expect_code(req(&v1, "{\"type\":\"booth.lead\",\"id\":77,\"booth\":\"acme\"}"), "bad_request");
    expect_code(req(&v1, "{\"type\":\"booth.lead\",\"id\":77,\"booth\":\"acme\",\"consent\":true}"),
                "ok");
    json_t *le = next_of(&staff2, "booth.lead");
    assert_string_equal(jstr(json_object_get(le, "lead"), "email"), "v1@example.com");
    json_decref(le);
    leads = ib_booth_leads_json(v1.s->ev, "acme");
    json_t *lead = json_array_get(json_object_get(leads, "leads"), 0);
    assert_string_equal(jstr(lead, "id"), "v1");
    assert_true(json_is_null(json_object_get(lead, "title")));
    json_decref(leads);
    size_t len;
    char *csv = ib_booth_leads_csv(v1.s->ev, "acme", &len);
    assert_non_null(strstr(csv, "id,name,headline,email,company,title,url,at,meeting_s\r\n"));
    assert_non_null(strstr(csv, "v1,V1,,v1@example.com,\"'=cmd|calc\","));
    free(csv);

    /* Leaving the meet room ends the meeting for both. */
    expect_code(req(&v1, "{\"type\":\"leave\",\"id\":77,\"room\":\"%s\"}", room), "ok");
    json_t *end = next_of(&staff1, "booth.end");
    assert_string_equal(jstr(end, "room"), room);
    json_decref(end);
    json_t *stats = ib_booth_stats_json(v1.s->ev, "acme");
    assert_int_equal(json_integer_value(json_object_get(stats, "visits")), 2);
    assert_int_equal(json_integer_value(json_object_get(stats, "meetings")), 1);
    json_decref(stats);
    assert_true(ib_booth_may_export(IB_ROLE_EXHIBITOR, "acme", "acme"));
    assert_false(ib_booth_may_export(IB_ROLE_EXHIBITOR, "other", "acme"));
    assert_false(ib_booth_may_export(IB_ROLE_HOST, NULL, "acme"));
    assert_true(ib_booth_may_export(IB_ROLE_ADMIN, NULL, "acme"));
    harness_free(&h);
}

static void test_visitor_gone_leaves_queue(void **state)
{
    (void)state;
    harness_t h;
    fake_conn_t v1, v2;
    harness_init(&h);
    harness_start(&h);
    assert_int_equal(connect_user(&h, &v1, "v1", "attendee", "ev1", T0), 0);
    assert_int_equal(connect_user(&h, &v2, "v2", "attendee", "ev1", T0), 0);
    expect_code(req(&v1, "{\"type\":\"booth.queue\",\"id\":77,\"booth\":\"acme\"}"), "ok");
    expect_code(req(&v2, "{\"type\":\"booth.queue\",\"id\":77,\"booth\":\"acme\"}"), "ok");
    ib_session_disconnected(v1.s, T0);
    ib_server_tick(h.srv, T0 + 1000);
    assert_null(next_of(&v2, "booth.position")); /* within grace: keeps the place */
    ib_server_tick(h.srv, T0 + 31000);
    json_t *p = next_of(&v2, "booth.position");
    assert_int_equal(json_integer_value(json_object_get(p, "position")), 1);
    json_decref(p);
    harness_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_checks),
        cmocka_unit_test(test_announce_reaches_event_only),
        cmocka_unit_test(test_kick_closes_and_refuses),
        cmocka_unit_test(test_block_filters_chat_and_signal),
        cmocka_unit_test(test_chat_delete),
        cmocka_unit_test(test_booth_queue_meet_lead),
        cmocka_unit_test(test_visitor_gone_leaves_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
