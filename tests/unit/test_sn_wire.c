/*
 * sn_wire.c against jansson: the bytes it writes must be exactly what
 * json_dumpb(JSON_COMPACT) writes for the same values, since a round start
 * sends them in place of the dump (strings with every kind of escape,
 * integers at both ends, sn.match with partners, reasons and byes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../server/core/sn_wire.h"

/* json_dumpb of v (decref'd), NUL-terminated, malloc'd. */
static char *dump(json_t *v)
{
    assert_non_null(v);
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_true(n > 0);
    char *s = malloc(n + 1);
    assert_int_equal(json_dumpb(v, s, n, JSON_COMPACT | JSON_ENCODE_ANY), n);
    s[n] = 0;
    json_decref(v);
    return s;
}

static void assert_buf_is(ib_buf_t *b, const char *want)
{
    assert_non_null(b);
    assert_int_equal(b->refs, 1);
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(ib_buf_payload(b), want, b->len);
    assert_int_equal(ib_buf_payload(b)[b->len], 0);
    ib_buf_unref(b);
}

static void test_strings_escape_as_jansson(void **state)
{
    (void)state;
    static const char *cases[] = {
        "",
        "plain",
        "quote \" and backslash \\ and slash /",
        "tab\tnl\ncr\rbs\bff\f",
        "\x01\x02\x1f\x7f end",
        "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
        "\xe2\x80\xa8 line separator",
        "\"\\\"\\",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        ib_wire_t w;
        ib__wire_init(&w);
        ib__wire_str(&w, "", cases[i]);
        char *want = dump(json_string(cases[i]));
        assert_buf_is(ib__wire_end(&w), want);
        free(want);
    }
    /* Every control character, one at a time, with a prefix. */
    for (int c = 1; c < 0x20; c++) {
        char s[4] = {'a', (char)c, 'z', 0}, full[32];
        ib_wire_t w;
        ib__wire_init(&w);
        ib__wire_str(&w, "you offer: ", s);
        snprintf(full, sizeof(full), "you offer: %s", s);
        char *want = dump(json_string(full));
        assert_buf_is(ib__wire_end(&w), want);
        free(want);
    }
    ib_wire_t w;
    ib__wire_init(&w);
    ib__wire_str(&w, "", NULL);
    assert_buf_is(ib__wire_end(&w), "null");
}

static void test_long_string_grows(void **state)
{
    (void)state;
    size_t n = 20000; /* past the 1 KiB on the stack: grows on the heap */
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = i % 97 == 0 ? '"' : (char)('a' + i % 26);
    s[n] = 0;
    ib_wire_t w;
    ib__wire_init(&w);
    ib__wire_str(&w, "", s);
    char *want = dump(json_string(s));
    assert_buf_is(ib__wire_end(&w), want);
    free(want);
    free(s);
}

static void test_integers(void **state)
{
    (void)state;
    static const int64_t cases[] = {0, 1, -1, 9, 10, 1700000000123LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        ib_wire_t w;
        ib__wire_init(&w);
        ib__wire_int(&w, cases[i]);
        char *want = dump(json_integer(cases[i]));
        assert_buf_is(ib__wire_end(&w), want);
        free(want);
    }
}

/* The card as sn.c builds it: {id, name, headline (null when none)} then
 * shared. */
static json_t *card(const ib_sn_wire_partner_t *p)
{
    json_t *sh = json_array();
    for (size_t k = 0; k < p->n_shared; k++) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s%s", ib__sn_reason_prefix(p->shared[k].kind),
                 p->shared[k].tag);
        json_array_append_new(sh, json_string(buf));
    }
    return json_pack("{s:s,s:s,s:o,s:o}", "id", p->id, "name", p->name, "headline",
                     p->headline ? json_string(p->headline) : json_null(), "shared", sh);
}

static json_t *match_json(const char *session, uint32_t round, const char *room, int64_t ends_at,
                          const ib_sn_wire_partner_t *ps, size_t n)
{
    json_t *partners = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(partners, card(&ps[i]));
    json_t *m =
        json_pack("{s:s,s:s,s:I,s:o,s:I,s:o}", "type", "sn.match", "session", session, "round",
                  (json_int_t)round, "room", room ? json_string(room) : json_null(), "ends_at",
                  (json_int_t)ends_at, "partners", partners);
    if (!room)
        json_object_set_new(m, "reason", json_string("bye"));
    return m;
}

static void test_match_as_jansson(void **state)
{
    (void)state;
    const ib_match_reason_t r1[] = {
        {"ai", IB_MATCH_REASON_INTEREST},
        {"rust \"async\"", IB_MATCH_REASON_YOU_OFFER},
        {"\xc3\xa9quipe\n", IB_MATCH_REASON_THEY_OFFER},
    };
    const ib_match_reason_t r2[] = {{"design", IB_MATCH_REASON_THEY_OFFER}};
    ib_sn_wire_partner_t two[] = {
        {"u1", "Ada \"the\" Lovelace", "Engine\\ers", r1, 3},
        {"u2", "Bob", NULL, r2, 1},
    };
    ib_sn_wire_partner_t none[] = {{"u3", "Cy", "", NULL, 0}};
    struct {
        const char *room;
        const ib_sn_wire_partner_t *ps;
        size_t n;
    } cases[] = {
        {"pair:sn-0a1b2c3d-1", two, 1},
        {"pair:sn-0a1b2c3d-2", two, 2},
        {"pair:sn-0a1b2c3d-3", none, 1},
        {NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        ib_buf_t *b = ib__sn_wire_match("sn-0a1b2c3d", 7, cases[i].room, 1700000123456LL,
                                        cases[i].ps, cases[i].n);
        char *want = dump(
            match_json("sn-0a1b2c3d", 7, cases[i].room, 1700000123456LL, cases[i].ps, cases[i].n));
        assert_buf_is(b, want);
        free(want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_escape_as_jansson),
        cmocka_unit_test(test_long_string_grows),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_match_as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
