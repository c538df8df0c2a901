/*
 * libFuzzer target: the byte-level checks in front of and inside the
 * WebSocket reader, each against a plain reference written here.
 *
 *  - The frame guard's scanner (protocol/wsframe.c, used by
 *    server/net/rxguard.c on every accepted socket) is fed the input in
 *    chunks whose sizes come from the input; it must refuse exactly the
 *    frame a one-pass reference parser refuses, at the same offset, and
 *    accept everything else, whatever the chunking.
 *  - The UTF-8 stream validator (ws.c checks fragmented text with it) fed
 *    in the same chunks must agree with ib_utf8_valid() on the whole and
 *    with a reference decoder (RFC 3629: no overlongs, no surrogates,
 *    nothing above U+10FFFF); ib_utf8_count() must agree too.
 *
 * Input: byte 0 seeds the chunk sizes, the rest is the stream.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "icebreaker/ib_utf8.h"
#include "icebreaker/ib_wsframe.h"

/* The reference: frames of the whole stream in one pass. Returns the error
 * of the first refused frame and its offset in *at; OK when none (a frame
 * cut off by the end of the input is not refused). */
static ib_wsf_error_t ref_frames(const uint8_t *p, size_t n, size_t *at)
{
    size_t i = 0;
    bool open = false; /* a fragmented text/binary message */
    while (i < n) {
        size_t start = i;
        uint8_t op = p[i] & 0x0f;
        bool fin = p[i] & 0x80;
        *at = start;
        if (p[i] & 0x70)
            return IB_WSF_RSV;
        if ((op >= 3 && op <= 7) || op >= 11)
            return IB_WSF_OPCODE;
        if (op >= 8 && !fin)
            return IB_WSF_CONTROL_FRAG;
        if (op == 0 && !open)
            return IB_WSF_CONTINUATION;
        if ((op == 1 || op == 2) && open)
            return IB_WSF_UNFINISHED;
        if (op < 8)
            open = !fin;
        if (n - i < 2)
            return IB_WSF_OK;
        uint8_t b1 = p[i + 1];
        unsigned len7 = b1 & 0x7f;
        if (!(b1 & 0x80))
            return IB_WSF_UNMASKED;
        if ((op & 0x8) && len7 > 125)
            return IB_WSF_CONTROL_LONG;
        i += 2;
        uint64_t len = len7;
        if (len7 == 126) {
            if (n - i < 2)
                return IB_WSF_OK;
            len = ((uint64_t)p[i] << 8) | p[i + 1];
            i += 2;
        } else if (len7 == 127) {
            if (n - i < 1)
                return IB_WSF_OK;
            if (p[i] & 0x80)
                return IB_WSF_LENGTH_MSB;
            if (n - i < 8)
                return IB_WSF_OK;
            len = 0;
            for (int k = 0; k < 8; k++)
                len = (len << 8) | p[i + k];
            i += 8;
        }
        if (n - i < 4)
            return IB_WSF_OK;
        i += 4;
        if (len > n - i)
            return IB_WSF_OK;
        i += (size_t)len;
    }
    return IB_WSF_OK;
}

/* The reference UTF-8 decoder: the number of code points, or -1. */
static long ref_utf8(const uint8_t *p, size_t n)
{
    long count = 0;
    for (size_t i = 0; i < n; count++) {
        uint8_t b = p[i];
        uint32_t cp;
        size_t len;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            len = 2;
            cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            len = 3;
            cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            len = 4;
            cp = b & 0x07;
        } else {
            return -1;
        }
        if (n - i < len)
            return -1;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        i += len;
    }
    return count;
}

/* Chunk sizes 1..64 from a small generator seeded by the first byte. */
static size_t next_chunk(uint32_t *r)
{
    *r = *r * 1103515245u + 12345u;
    return 1 + ((*r >> 16) % 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t seed = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    /* Frame scanner vs reference. */
    size_t ref_at = 0;
    ib_wsf_error_t ref = ref_frames(p, n, &ref_at);
    ib_wsf_scan_t sc;
    ib_wsf_init(&sc);
    ib_wsf_error_t got = IB_WSF_OK;
    uint32_t r = seed;
    for (size_t off = 0; off < n && got == IB_WSF_OK;) {
        size_t len = next_chunk(&r);
        if (len > n - off)
            len = n - off;
        size_t at = 0;
        got = ib_wsf_feed(&sc, p + off, len, &at);
        if (got != IB_WSF_OK) {
            if (got != ref)
                abort();
            if (at > 0 ? off + at != ref_at : ref_at > off)
                abort();
            /* sticky: asked again, the same answer */
            if (ib_wsf_feed(&sc, p, n, &at) != got || at != 0)
                abort();
        }
        off += len;
    }
    if (got != ref)
        abort();

    /* UTF-8: chunked stream vs whole vs reference. */
    long want = ref_utf8(p, n);
    bool whole = ib_utf8_valid((const char *)p, n);
    if (whole != (want >= 0))
        abort();
    if (whole && ib_utf8_count((const char *)p, n) != (size_t)want)
        abort();
    ib_utf8_stream_t st;
    ib_utf8_stream_init(&st);
    bool ok = true;
    r = seed ^ 0x5au;
    for (size_t off = 0; off < n && ok;) {
        size_t len = next_chunk(&r);
        if (len > n - off)
            len = n - off;
        ok = ib_utf8_stream_feed(&st, (const char *)p + off, len);
        off += len;
    }
    if ((ok && ib_utf8_stream_done(&st)) != whole)
        abort();
    return 0;
}
