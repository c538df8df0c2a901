/*
 * UTF-8 validation after RFC 3629's table of well-formed byte sequences:
 * each lead byte fixes how many continuation bytes follow and the range of
 * the first of them (which is what rules out overlong forms, surrogates and
 * code points above U+10FFFF). The streaming form keeps that state between
 * pieces, so a fragmented WebSocket message fails on the first byte that
 * can never become valid, not at its end.
 */
#include <string.h>

#include "icebreaker/ib_utf8.h"

void ib_utf8_stream_init(ib_utf8_stream_t *st)
{
    memset(st, 0, sizeof(*st));
}

bool ib_utf8_stream_feed(ib_utf8_stream_t *st, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        unsigned c = p[i];
        if (st->state == 0) {
            if (c < 0x80)
                continue;
            st->lower = 0x80;
            st->upper = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) {
                st->state = 1;
            } else if (c == 0xE0) {
                st->state = 2;
                st->lower = 0xA0; /* no overlong 3-byte forms */
            } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
                st->state = 2;
            } else if (c == 0xED) {
                st->state = 2;
                st->upper = 0x9F; /* no surrogates */
            } else if (c == 0xF0) {
                st->state = 3;
                st->lower = 0x90; /* no overlong 4-byte forms */
            } else if (c >= 0xF1 && c <= 0xF3) {
                st->state = 3;
            } else if (c == 0xF4) {
                st->state = 3;
                st->upper = 0x8F; /* nothing above U+10FFFF */
            } else {
                return false;
            }
            st->need = st->state + 1;
        } else {
            if (c < st->lower || c > st->upper)
                return false;
            st->lower = 0x80;
            st->upper = 0xBF;
            st->state--;
        }
    }
    return true;
}

bool ib_utf8_stream_done(const ib_utf8_stream_t *st)
{
    return st->state == 0;
}

bool ib_utf8_valid(const char *s, size_t len)
{
    ib_utf8_stream_t st;
    ib_utf8_stream_init(&st);
    return ib_utf8_stream_feed(&st, s, len) && ib_utf8_stream_done(&st);
}

size_t ib_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}
