/* WebSocket frame-header scanner: see include/icebreaker/ib_wsframe.h. */
#include "icebreaker/ib_wsframe.h"

enum {
    ST_HDR0,    /* FIN, RSV, opcode */
    ST_HDR1,    /* MASK, 7-bit length */
    ST_LEN,     /* 2 or 8 bytes of extended length */
    ST_KEY,     /* 4 bytes of masking key */
    ST_PAYLOAD, /* left bytes to skip */
};

void ib_wsf_init(ib_wsf_scan_t *s)
{
    *s = (ib_wsf_scan_t){.state = ST_HDR0};
}

/* After the length is known: the key, then the payload (or the next frame). */
static void after_length(ib_wsf_scan_t *s)
{
    s->state = ST_KEY;
    s->need = 4;
}

ib_wsf_error_t ib_wsf_feed(ib_wsf_scan_t *s, const uint8_t *p, size_t n, size_t *frame_at)
{
    size_t start = 0; /* first header byte of the frame being read, in p */
    if (s->error) {
        *frame_at = 0;
        return (ib_wsf_error_t)s->error;
    }
    for (size_t i = 0; i < n;) {
        uint8_t b = p[i];
        switch (s->state) {
        case ST_HDR0: {
            start = i;
            s->opcode = b & 0x0f;
            bool fin = b & 0x80, control = s->opcode & 0x8;
            if (b & 0x70)
                s->error = IB_WSF_RSV;
            else if ((s->opcode >= 3 && s->opcode <= 7) || s->opcode >= 0xb)
                s->error = IB_WSF_OPCODE;
            else if (control && !fin)
                s->error = IB_WSF_CONTROL_FRAG;
            else if (s->opcode == 0 && !s->in_message)
                s->error = IB_WSF_CONTINUATION;
            else if ((s->opcode == 1 || s->opcode == 2) && s->in_message)
                s->error = IB_WSF_UNFINISHED;
            if (s->error) {
                *frame_at = start;
                return (ib_wsf_error_t)s->error;
            }
            if (!control)
                s->in_message = !fin;
            s->state = ST_HDR1;
            i++;
            break;
        }
        case ST_HDR1: {
            uint8_t len7 = b & 0x7f;
            if (!(b & 0x80))
                s->error = IB_WSF_UNMASKED;
            else if ((s->opcode & 0x8) && len7 > 125)
                s->error = IB_WSF_CONTROL_LONG;
            if (s->error) {
                *frame_at = start;
                return (ib_wsf_error_t)s->error;
            }
            s->left = 0;
            if (len7 == 126 || len7 == 127) {
                s->state = ST_LEN;
                s->need = len7 == 126 ? 2 : 8;
            } else {
                s->left = len7;
                after_length(s);
            }
            i++;
            break;
        }
        case ST_LEN:
            if (s->need == 8 && (b & 0x80)) {
                s->error = IB_WSF_LENGTH_MSB;
                *frame_at = start;
                return (ib_wsf_error_t)s->error;
            }
            s->left = (s->left << 8) | b;
            if (--s->need == 0)
                after_length(s);
            i++;
            break;
        case ST_KEY:
            if (--s->need == 0)
                s->state = s->left ? ST_PAYLOAD : ST_HDR0;
            i++;
            break;
        case ST_PAYLOAD: {
            size_t take = n - i;
            if ((uint64_t)take > s->left)
                take = (size_t)s->left;
            i += take;
            s->left -= take;
            if (!s->left)
                s->state = ST_HDR0;
            break;
        }
        }
    }
    return IB_WSF_OK;
}

const char *ib_wsf_error_text(ib_wsf_error_t e)
{
    switch (e) {
    case IB_WSF_UNMASKED:
        return "unmasked frame";
    case IB_WSF_CONTROL_LONG:
        return "control frame over 125 bytes";
    case IB_WSF_LENGTH_MSB:
        return "frame length over 2^63";
    case IB_WSF_RSV:
        return "reserved bits set";
    case IB_WSF_OPCODE:
        return "reserved opcode";
    case IB_WSF_CONTINUATION:
        return "continuation without a message";
    case IB_WSF_UNFINISHED:
        return "message not finished";
    case IB_WSF_CONTROL_FRAG:
        return "fragmented control frame";
    case IB_WSF_OK:
        break;
    }
    return "ok";
}
