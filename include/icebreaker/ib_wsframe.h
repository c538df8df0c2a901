/*
 * A WebSocket frame-header scanner for bytes a client sends (RFC 6455 5.2),
 * pure and incremental: it is fed the stream in chunks of any size, skips
 * payloads in bulk and stops at the first header a server must refuse.
 *
 * It checks every rule of a frame's header that libwebsockets 4.1.6 gets
 * wrong on the server side (see server/net/rxguard.c), all answered with
 * 1002:
 *   - a client frame without the MASK bit (5.1; lws accepts it);
 *   - a control frame (opcode 8-15) whose length is over 125 (5.5), or a
 *     64-bit length with its most significant bit set (5.2): lws drops the
 *     connection without a close frame;
 *   - RSV bits (no extension is ever negotiated), a reserved opcode, a
 *     continuation with no message open, a text or binary frame inside a
 *     fragmented message, a fragmented control frame (5.2, 5.4, 5.5): lws
 *     refuses these at the frame's first byte but, when the rest of the
 *     frame arrives in a later read, parses it as new frames and may drop
 *     the connection without its close frame.
 * UTF-8, sizes and close payloads are checked above lws, per message.
 */
#ifndef IB_WSFRAME_H
#define IB_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    IB_WSF_OK = 0,
    IB_WSF_UNMASKED,     /* a client frame without the MASK bit */
    IB_WSF_CONTROL_LONG, /* a control frame over 125 bytes */
    IB_WSF_LENGTH_MSB,   /* a 64-bit length with bit 63 set */
    IB_WSF_RSV,          /* RSV1-3 set (no extension negotiated) */
    IB_WSF_OPCODE,       /* a reserved opcode (3-7, 11-15) */
    IB_WSF_CONTINUATION, /* a continuation frame with no message open */
    IB_WSF_UNFINISHED,   /* a text/binary frame inside a fragmented message */
    IB_WSF_CONTROL_FRAG, /* a control frame without FIN */
} ib_wsf_error_t;

typedef struct ib_wsf_scan {
    uint64_t left;   /* payload bytes still to skip, or length being read */
    uint8_t state;   /* private */
    uint8_t opcode;  /* opcode of the frame being read */
    uint8_t need;    /* header bytes still to read in this state */
    uint8_t error;   /* ib_wsf_error_t, sticky */
    bool in_message; /* a fragmented text/binary message is open */
} ib_wsf_scan_t;

/* A scanner at the start of a stream (the first byte is a frame header). */
void ib_wsf_init(ib_wsf_scan_t *s);

/*
 * Scan n more bytes. Returns IB_WSF_OK when all of them are well formed so
 * far; otherwise the error, with *frame_at set to the offset in p of the
 * first header byte of the refused frame (0 when that header began in an
 * earlier chunk). Once an error is returned the scanner keeps returning it.
 */
ib_wsf_error_t ib_wsf_feed(ib_wsf_scan_t *s, const uint8_t *p, size_t n, size_t *frame_at);

/* A short reason for a close frame ("unmasked frame", ...). */
const char *ib_wsf_error_text(ib_wsf_error_t e);

#endif
