/* The frame-header scanner behind the frame guard (protocol/wsframe.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "icebreaker/ib_wsframe.h"

/* Append one client frame (masked unless mask is false) to out. */
__attribute__((noinline)) static size_t frame(uint8_t *out, uint8_t b0, uint64_t len, bool mask)
{
    size_t n = 0;
    out[n++] = b0;
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[n++] = m | (uint8_t)len;
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(len >> (8 * i));
    }
    if (mask)
        for (int i = 0; i < 4; i++)
            out[n++] = (uint8_t)(0x11 * (i + 1));
    for (uint64_t i = 0; i < len; i++)
        out[n++] = (uint8_t)(0x80 | i); /* payload bytes that look like headers */
    return n;
}

/* Feed in chunks of size step (every size from 1 up gives every split). */
static ib_wsf_error_t feed_split(const uint8_t *p, size_t n, size_t step, size_t *err_at)
{
    ib_wsf_scan_t s;
    ib_wsf_init(&s);
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step, at = 99;
        ib_wsf_error_t e = ib_wsf_feed(&s, p + off, k, &at);
        if (e) {
            *err_at = off + at;
            return e;
        }
    }
    return IB_WSF_OK;
}

static void good_streams_pass_however_split(void **state)
{
    (void)state;
    static uint8_t buf[140000];
    size_t n = 0;
    n += frame(buf + n, 0x81, 0, true);
    n += frame(buf + n, 0x81, 125, true);
    n += frame(buf + n, 0x82, 126, true);
    n += frame(buf + n, 0x89, 125, true); /* ping at the limit */
    n += frame(buf + n, 0x01, 300, true); /* fragment, FIN clear */
    n += frame(buf + n, 0x80, 65535, true);
    n += frame(buf + n, 0x82, 65536, true);
    n += frame(buf + n, 0x88, 2, true);
    for (size_t step = 1; step <= 9; step++) {
        size_t at = 0;
        assert_int_equal(feed_split(buf, n, step, &at), IB_WSF_OK);
    }
    size_t at = 0;
    assert_int_equal(feed_split(buf, n, n, &at), IB_WSF_OK);
}

/* A bad frame after good ones: found at its first header byte, whatever
 * the chunking, and sticky. */
static void check_refused(uint8_t b0, uint64_t len, bool mask, ib_wsf_error_t want)
{
    static uint8_t buf[80000];
    size_t n = frame(buf, 0x81, 10, true);
    n += frame(buf + n, 0x82, 200, true);
    size_t bad = n;
    n += frame(buf + n, b0, len, mask);
    for (size_t step = 1; step <= 7; step++) {
        size_t at = 0;
        assert_int_equal(feed_split(buf, n, step, &at), want);
        /* The verdict comes with the second header byte: the header began
         * in that chunk (its offset) or in the one before (offset 0 of the
         * chunk that starts with the second byte). */
        assert_true(at == bad || at == bad + 1);
    }
    size_t at = 0;
    assert_int_equal(feed_split(buf, n, n, &at), want);
    assert_int_equal(at, bad);
    ib_wsf_scan_t s;
    ib_wsf_init(&s);
    assert_int_equal(ib_wsf_feed(&s, buf, n, &at), want);
    uint8_t ok[16];
    size_t k = frame(ok, 0x81, 1, true);
    assert_int_equal(ib_wsf_feed(&s, ok, k, &at), want); /* sticky */
    assert_int_equal(at, 0);
}

static void unmasked_frames_are_refused(void **state)
{
    (void)state;
    check_refused(0x81, 5, false, IB_WSF_UNMASKED);
    check_refused(0x82, 300, false, IB_WSF_UNMASKED);
    check_refused(0x89, 0, false, IB_WSF_UNMASKED);
    assert_string_equal(ib_wsf_error_text(IB_WSF_UNMASKED), "unmasked frame");
}

static void long_control_frames_are_refused(void **state)
{
    (void)state;
    check_refused(0x89, 126, true, IB_WSF_CONTROL_LONG);   /* ping */
    check_refused(0x8A, 200, true, IB_WSF_CONTROL_LONG);   /* pong */
    check_refused(0x88, 70000, true, IB_WSF_CONTROL_LONG); /* close, 64-bit */
}

/* Header rules lws applies at the first byte but cannot keep when the rest
 * of the frame comes later: checked here, at that byte, in any chunking. */
static void first_byte_rules(void **state)
{
    (void)state;
    check_refused(0xC1, 3, true, IB_WSF_RSV); /* RSV1 */
    check_refused(0x91, 3, true, IB_WSF_RSV); /* RSV3 */
    check_refused(0x83, 3, true, IB_WSF_OPCODE);
    check_refused(0x8B, 3, true, IB_WSF_OPCODE); /* reserved control */
    check_refused(0x80, 3, true, IB_WSF_CONTINUATION);
    check_refused(0x09, 3, true, IB_WSF_CONTROL_FRAG);
    assert_string_equal(ib_wsf_error_text(IB_WSF_OPCODE), "reserved opcode");

    /* A text frame while a fragmented message is open; control frames in
     * between are fine; after the final continuation a new message is. */
    static uint8_t buf[256];
    size_t n = frame(buf, 0x01, 3, true);
    n += frame(buf + n, 0x89, 2, true);
    n += frame(buf + n, 0x00, 3, true);
    n += frame(buf + n, 0x80, 3, true);
    n += frame(buf + n, 0x82, 3, true);
    size_t ok_end = n, at = 0;
    for (size_t step = 1; step <= 5; step++)
        assert_int_equal(feed_split(buf, n, step, &at), IB_WSF_OK);
    n += frame(buf + n, 0x02, 3, true);
    size_t bad = n;
    n += frame(buf + n, 0x81, 3, true);
    for (size_t step = 1; step <= 5; step++) {
        assert_int_equal(feed_split(buf, n, step, &at), IB_WSF_UNFINISHED);
        assert_int_equal(at, bad);
    }
    assert_true(bad > ok_end);
}

static void length_with_top_bit_is_refused(void **state)
{
    (void)state;
    uint8_t f[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    size_t at = 99;
    ib_wsf_scan_t s;
    ib_wsf_init(&s);
    assert_int_equal(ib_wsf_feed(&s, f, sizeof(f), &at), IB_WSF_LENGTH_MSB);
    assert_int_equal(at, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_streams_pass_however_split),
        cmocka_unit_test(unmasked_frames_are_refused),
        cmocka_unit_test(long_control_frames_are_refused),
        cmocka_unit_test(first_byte_rules),
        cmocka_unit_test(length_with_top_bit_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
