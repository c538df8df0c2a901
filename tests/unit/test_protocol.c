/*
 * protocol/: UTF-8, ids, JWT (with a known-answer vector made by the
 * openssl command line, not by our code), the codec and error table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_ids.h"
#include "icebreaker/ib_jwt.h"
#include "icebreaker/ib_proto.h"
#include "icebreaker/ib_utf8.h"

/* openssl dgst -sha256 -hmac kat-secret over header.payload, base64url. */
static const char KAT[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsInJvbGUiOiJhdHRlbmRlZSIsImV2ZW50IjoiZXYxIiwiZXhwIjo0"
    "MTAyNDQ0ODAwfQ.PZtCHO3V7GqJJzwGwPJO8i8cPlCK2fN25-jLoYqqBzg";
static const char KAT_NONE[] =
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsInJvbGUiOiJhdHRlbmRlZSIsImV2ZW50IjoiZXYxIiwiZXhwIjo0"
    "MTAyNDQ0ODAwfQ.";
static const char KAT_HS512[] =
    "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsInJvbGUiOiJhdHRlbmRlZSIsImV2ZW50IjoiZXYxIiwiZXhwIjo0"
    "MTAyNDQ0ODAwfQ.locIjnBMeCSI41PJP4pN9yn2LyFjIYGCOH7WhXisgzx_DCK6_wITpum3uFJu5KqPoGZwLQe-"
    "pQA4YMsaCUzgdA";
#define SECRET ((const unsigned char *)"kat-secret")
#define SECRET_LEN 10
#define NOW 1700000000

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        bool ok;
    } cases[] = {
        {"plain", 5, true},
        {"\xc3\xa9", 2, true},          /* é */
        {"\xe2\x82\xac", 3, true},      /* € */
        {"\xf0\x9f\x98\x80", 4, true},  /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, true},  /* U+10FFFF */
        {"\xc0\xaf", 2, false},         /* overlong / */
        {"\xe0\x80\xaf", 3, false},     /* overlong */
        {"\xed\xa0\x80", 3, false},     /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, false}, /* above U+10FFFF */
        {"\xff", 1, false},
        {"\x80", 1, false},     /* lone continuation */
        {"\xe2\x82", 2, false}, /* truncated */
        {"a\x00z", 3, true},    /* NUL is a code point */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(ib_utf8_valid(cases[i].s, cases[i].len), cases[i].ok);
    assert_int_equal(ib_utf8_count("a\xc3\xa9\xf0\x9f\x98\x80", 7), 3);

    /* Streaming: split anywhere, same answer; fail fast on a bad byte. */
    const char *good = "x\xf0\x9f\x98\x80y\xe2\x82\xac";
    for (size_t cut = 0; cut <= 9; cut++) {
        ib_utf8_stream_t st;
        ib_utf8_stream_init(&st);
        assert_true(ib_utf8_stream_feed(&st, good, cut));
        assert_true(ib_utf8_stream_feed(&st, good + cut, 9 - cut));
        assert_true(ib_utf8_stream_done(&st));
    }
    ib_utf8_stream_t st;
    ib_utf8_stream_init(&st);
    assert_true(ib_utf8_stream_feed(&st, "\xf0\x9f", 2));
    assert_false(ib_utf8_stream_done(&st)); /* mid-sequence */
    ib_utf8_stream_init(&st);
    assert_false(ib_utf8_stream_feed(&st, "\xed\xa0", 2)); /* surrogate: known bad at once */
}

static void test_ids(void **state)
{
    (void)state;
    char long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = 0;
    assert_false(ib_id_valid(long_id));
    long_id[64] = 0;
    assert_true(ib_id_valid(long_id));
    assert_true(ib_id_valid("A-z_0.9"));
    assert_false(ib_id_valid(""));
    assert_false(ib_id_valid("a b"));
    assert_false(ib_id_valid("a/b"));
    assert_false(ib_id_valid("\xc3\xa9"));
    assert_int_equal(ib_room_kind("lounge:main"), IB_ROOM_LOUNGE);
    assert_int_equal(ib_room_kind("booth:acme"), IB_ROOM_BOOTH);
    assert_int_equal(ib_room_kind("pair:p-1"), IB_ROOM_PAIR);
    assert_int_equal(ib_room_kind("meet:m.2"), IB_ROOM_MEET);
    assert_int_equal(ib_room_kind("lounge:"), IB_ROOM_INVALID);
    assert_int_equal(ib_room_kind("lounge"), IB_ROOM_INVALID);
    assert_int_equal(ib_room_kind("kitchen:main"), IB_ROOM_INVALID);
    assert_int_equal(ib_room_kind("lounge:a:b"), IB_ROOM_INVALID);
}

static void test_jwt_known_answer(void **state)
{
    (void)state;
    ib_claims_t c;
    assert_int_equal(ib_jwt_verify(KAT, SECRET, SECRET_LEN, NOW, &c), 0);
    assert_string_equal(c.sub, "alice");
    assert_string_equal(c.name, "Alice");
    assert_string_equal(c.event, "ev1");
    assert_int_equal(c.role, IB_ROLE_ATTENDEE);
    assert_int_equal(c.exp, 4102444800LL);
    assert_int_equal(json_array_size(c.interests), 0);
    assert_int_equal(json_object_size(c.contact), 0);
    ib_claims_clear(&c);
    /* Our signer reproduces the same signature for the same payload. */
    json_t *claims = json_pack("{s:s,s:s,s:s,s:s,s:I}", "sub", "alice", "name", "Alice", "role",
                               "attendee", "event", "ev1", "exp", (json_int_t)4102444800LL);
    char *mine = ib_jwt_sign(claims, SECRET, SECRET_LEN);
    json_decref(claims);
    assert_string_equal(strrchr(mine, '.'), strrchr(KAT, '.'));
    free(mine);
}

static void test_jwt_refusals(void **state)
{
    (void)state;
    ib_claims_t c;
    assert_int_equal(ib_jwt_verify(KAT, (const unsigned char *)"other", 5, NOW, &c), IB_EBADSIG);
    assert_null(c.sub);
    assert_int_equal(ib_jwt_verify(KAT_NONE, SECRET, SECRET_LEN, NOW, &c), IB_EBADALG);
    assert_int_equal(ib_jwt_verify(KAT_HS512, SECRET, SECRET_LEN, NOW, &c), IB_EBADALG);
    assert_int_equal(ib_jwt_verify("abc", SECRET, SECRET_LEN, NOW, &c), IB_EBADTOKEN);
    assert_int_equal(ib_jwt_verify("a.b.c.d", SECRET, SECRET_LEN, NOW, &c), IB_EBADTOKEN);
    assert_int_equal(ib_jwt_verify("", SECRET, SECRET_LEN, NOW, &c), IB_EBADTOKEN);
    /* A tampered payload (one character) fails the signature. */
    char tampered[sizeof(KAT)];
    memcpy(tampered, KAT, sizeof(KAT));
    char *p = strchr(tampered, '.') + 5;
    *p = *p == 'A' ? 'B' : 'A';
    assert_int_equal(ib_jwt_verify(tampered, SECRET, SECRET_LEN, NOW, &c), IB_EBADSIG);
    /* Tampered signature. */
    memcpy(tampered, KAT, sizeof(KAT));
    tampered[sizeof(KAT) - 3] = tampered[sizeof(KAT) - 3] == 'a' ? 'b' : 'a';
    assert_int_equal(ib_jwt_verify(tampered, SECRET, SECRET_LEN, NOW, &c), IB_EBADSIG);
    /* Too long. */
    char *huge = malloc(IB_JWT_MAX_LEN + 10);
    memset(huge, 'a', IB_JWT_MAX_LEN + 9);
    huge[IB_JWT_MAX_LEN + 9] = 0;
    assert_int_equal(ib_jwt_verify(huge, SECRET, SECRET_LEN, NOW, &c), IB_EBADTOKEN);
    free(huge);
}

/* Sign claims given as JSON text and verify them at NOW. */
static int verify_claims(const char *json)
{
    json_error_t e;
    json_t *claims = json_loads(json, 0, &e);
    assert_non_null(claims);
    char *t = ib_jwt_sign(claims, SECRET, SECRET_LEN);
    json_decref(claims);
    ib_claims_t c;
    int rc = ib_jwt_verify(t, SECRET, SECRET_LEN, NOW, &c);
    free(t);
    ib_claims_clear(&c);
    return rc;
}

#define BASE "\"sub\":\"u1\",\"name\":\"U\",\"role\":\"host\",\"event\":\"e\""

static void test_jwt_claims(void **state)
{
    (void)state;
    assert_int_equal(verify_claims("{" BASE ",\"exp\":1700000100}"), 0);
    assert_int_equal(verify_claims("{" BASE ",\"exp\":1699999970}"), 0); /* within leeway */
    assert_int_equal(verify_claims("{" BASE ",\"exp\":1699999969}"), IB_EEXPIRED);
    /* exp at the edge of int64: no overflow (UBSan), simply not expired. */
    assert_int_equal(verify_claims("{" BASE ",\"exp\":9223372036854775807}"), 0);
    assert_int_equal(verify_claims("{" BASE "}"), IB_EBADCLAIM);
    assert_int_equal(verify_claims("{" BASE ",\"exp\":\"soon\"}"), IB_EBADCLAIM);
    assert_int_equal(verify_claims("{\"name\":\"U\",\"role\":\"host\",\"event\":\"e\",\"exp\":"
                                   "1700000100}"),
                     IB_EBADCLAIM);
    assert_int_equal(verify_claims("{\"sub\":\"u 1\",\"name\":\"U\",\"role\":\"host\",\"event\":"
                                   "\"e\",\"exp\":1700000100}"),
                     IB_EBADCLAIM);
    assert_int_equal(verify_claims("{\"sub\":\"u1\",\"name\":\"U\",\"role\":\"king\",\"event\":"
                                   "\"e\",\"exp\":1700000100}"),
                     IB_EBADCLAIM);
    assert_int_equal(verify_claims("{\"sub\":\"u1\",\"name\":\"\",\"role\":\"host\",\"event\":"
                                   "\"e\",\"exp\":1700000100}"),
                     IB_EBADCLAIM);
    assert_int_equal(verify_claims("{\"sub\":\"u1\",\"name\":\"U\",\"role\":\"host\",\"exp\":"
                                   "1700000100}"),
                     IB_EBADCLAIM);
    assert_int_equal(verify_claims("{" BASE ",\"exp\":1700000100,\"interests\":\"ai\"}"),
                     IB_EBADCLAIM);
    assert_int_equal(verify_claims("{" BASE ",\"exp\":1700000100,\"interests\":[1]}"),
                     IB_EBADCLAIM);
    assert_int_equal(verify_claims("{" BASE ",\"exp\":1700000100,\"booth\":\"no way\"}"),
                     IB_EBADCLAIM);
    assert_int_equal(
        verify_claims("{" BASE ",\"exp\":1700000100,\"interests\":[\"ai\",\"ml\"],\"offers\":"
                      "[\"funding\"],\"email\":\"u@x.io\",\"booth\":\"acme\",\"headline\":\"Hi\"}"),
        0);
    /* 33 tags are too many. */
    char many[1024] = "{" BASE ",\"exp\":1700000100,\"seeks\":[";
    for (int i = 0; i < 33; i++)
        strcat(many, i ? ",\"t\"" : "\"t\"");
    strcat(many, "]}");
    assert_int_equal(verify_claims(many), IB_EBADCLAIM);
}

static void test_b64url(void **state)
{
    (void)state;
    unsigned char out[16];
    char enc[32];
    assert_int_equal(ib_b64url_encode((const unsigned char *)"\xfb\xff", 2, enc), 3);
    assert_string_equal(enc, "-_8");
    assert_int_equal(ib_b64url_decode("-_8", 3, out), 2);
    assert_memory_equal(out, "\xfb\xff", 2);
    assert_int_equal(ib_b64url_decode("-_9", 3, out), -1); /* stray low bits */
    assert_int_equal(ib_b64url_decode("a", 1, out), -1);
    assert_int_equal(ib_b64url_decode("ab+/", 4, out), -1); /* not the url alphabet */
    assert_int_equal(ib_b64url_decode("ab==", 4, out), -1); /* no padding */
}

static void test_codec(void **state)
{
    (void)state;
    ib_msg_t m;
    const char *why;
    assert_int_equal(ib_msg_decode("{\"type\":\"join\",\"id\":7}", 22, &m, &why), 0);
    assert_int_equal(m.verb, IB_VERB_join);
    assert_int_equal(json_integer_value(m.id), 7);
    ib_msg_clear(&m);
    static const char *const bad[] = {
        "nope",
        "[]",
        "\"s\"",
        "{}",
        "{\"type\":1}",
        "{\"type\":\"fly\"}",
        "{\"type\":\"join\",\"type\":\"join\"}",
        "{\"type\":\"join\",\"id\":[1]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ib_msg_decode(bad[i], strlen(bad[i]), &m, &why), IB_EBADREQ);
        assert_non_null(why);
        ib_msg_clear(&m);
    }
    /* U+0000 parses (the id survives) but no string we read may hold it. */
    const char nul_type[] = "{\"type\":\"join\\u0000x\",\"id\":4}";
    assert_int_equal(ib_msg_decode(nul_type, strlen(nul_type), &m, &why), IB_EBADREQ);
    assert_int_equal(json_integer_value(m.id), 4);
    ib_msg_clear(&m);
    const char nul_room[] = "{\"type\":\"join\",\"room\":\"lounge:a\\u0000x\"}";
    assert_int_equal(ib_msg_decode(nul_room, strlen(nul_room), &m, &why), 0);
    const char *room = NULL;
    assert_int_equal(ib_get_string(m.msg, "room", true, &room, &why), IB_EBADREQ);
    ib_msg_clear(&m);
    /* The id of an unknown verb is still usable for the reply. */
    assert_int_equal(ib_msg_decode("{\"type\":\"fly\",\"id\":\"x\"}", 23, &m, &why), IB_EBADREQ);
    assert_string_equal(json_string_value(m.id), "x");
    ib_msg_clear(&m);
    json_t *e = ib_reply_error(NULL, IB_ETOOBIG, NULL);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "too_large");
    assert_null(json_object_get(e, "re"));
    json_decref(e);
    assert_string_equal(ib_err_wire(IB_EEXPIRED), "unauthorized");
    assert_string_equal(ib_err_wire(IB_ERATE), "rate_limited");
    assert_string_equal(ib_err_wire(12345), "internal");
    assert_string_equal(ib_strerror(IB_ENOTFOUND), "not found");
    assert_int_equal(ib_verb_lookup("chat.delete"), IB_VERB_chat_delete);
    assert_int_equal(ib_verb_lookup("chat.delet"), IB_VERB_UNKNOWN);
    assert_int_equal(ib_role_parse("admin"), IB_ROLE_ADMIN);
    assert_string_equal(ib_role_name(IB_ROLE_EXHIBITOR), "exhibitor");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_jwt_known_answer),
        cmocka_unit_test(test_jwt_refusals),
        cmocka_unit_test(test_jwt_claims),
        cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
