/*
 * The frame guard: what libwebsockets 4.1.6 does not check in a client's
 * frames, checked before lws sees the bytes.
 *
 * lws accepts a client frame without the MASK bit, and drops the connection
 * without a close frame for a control frame longer than 125 bytes or a
 * 64-bit length with its top bit set (lib/roles/ws/ops-ws.c, lws_ws_rx_sm).
 * RFC 6455 and CONTRACT.md want a close frame with 1002 for all three, and
 * nothing above lws can see the MASK bit: lws unmasks (or not) before any
 * callback. So we read the socket's bytes first. lws reads a plain socket
 * with recv(fd, buf, len, 0) (lws_ssl_capable_read_no_ssl); this file
 * defines recv, which the dynamic linker binds lws's calls to (a symbol of
 * the executable comes before libc's), and passes the call on to recvfrom.
 * Only sockets this file was told about are scanned: those lws accepted
 * (LWS_CALLBACK_FILTER_NETWORK_CONNECTION). Everything else (hiredis,
 * libuv) goes straight through. Over TLS, OpenSSL reads the socket itself
 * and the guard sees nothing: the gap stays (PROTOCOL.md says so).
 *
 * Before the upgrade, the scanner runs in the shadow of the last HTTP
 * header end (a client that sends frames before the 101 puts them right
 * after the request); at LWS_CALLBACK_ESTABLISHED that shadow becomes the
 * connection's scanner. On a refused frame the guard writes the close frame
 * (1002 and a reason) itself and shuts the sending side; from then on lws
 * reads nothing (EAGAIN) until the client closes or a 2 s timeout ends the
 * connection: lws never parses the frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net_internal.h"
#include "icebreaker/ib_wsframe.h"

enum { PH_OFF, PH_HTTP, PH_WS, PH_DEAD };

typedef struct {
    ib_wsf_scan_t scan; /* WS: the stream; HTTP: since the last header end */
    ib_conn_t *owner;   /* WS: lws user data of the connection */
    struct lws *wsi;    /* WS */
    uint8_t phase;
    uint8_t crlf;      /* HTTP: how much of "\r\n\r\n" ends the bytes so far */
    bool after_header; /* HTTP: a header end has been seen */
} guard_t;

static guard_t *tab;
static size_t cap;

static guard_t *slot(int fd)
{
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= cap) {
        size_t n = cap ? cap : 1024;
        while (n <= (size_t)fd)
            n *= 2;
        guard_t *t = realloc(tab, n * sizeof(*t));
        if (!t)
            return NULL;
        memset(t + cap, 0, (n - cap) * sizeof(*t));
        tab = t;
        cap = n;
    }
    return &tab[fd];
}

void ib__rxguard_accepted(int fd)
{
    guard_t *g = slot(fd);
    if (g)
        *g = (guard_t){.phase = PH_HTTP};
}

/* The close frame, written straight to the socket: nothing else of ours is
 * half-written (checked by the caller), and nothing follows it. */
static void send_close(int fd, ib_wsf_error_t e)
{
    const char *why = ib_wsf_error_text(e);
    size_t rl = strlen(why);
    uint8_t f[2 + 2 + 64];
    f[0] = 0x88;
    f[1] = (uint8_t)(2 + rl);
    f[2] = IB_CLOSE_PROTOCOL >> 8;
    f[3] = IB_CLOSE_PROTOCOL & 0xff;
    memcpy(f + 4, why, rl);
    (void)!send(fd, f, 4 + rl, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
}

static void refuse(int fd, guard_t *g, ib_wsf_error_t e)
{
    if (g->wsi && !lws_partial_buffered(g->wsi))
        send_close(fd, e);
    if (g->owner)
        g->owner->close_sent = true; /* nothing more from us */
    g->phase = PH_DEAD;
}

int ib__rxguard_established(struct lws *wsi, ib_conn_t *c)
{
    int fd = lws_get_socket_fd(wsi);
    guard_t *g = fd >= 0 && (size_t)fd < cap ? &tab[fd] : NULL;
    if (!g || g->phase != PH_HTTP)
        return 0; /* not accepted by us (cannot happen) or TLS: unguarded */
    c->guard_fd = fd + 1;
    g->phase = PH_WS;
    g->owner = c;
    g->wsi = wsi;
    if (!g->after_header)
        ib_wsf_init(&g->scan);
    if (g->scan.error) { /* frames sent before the 101 */
        refuse(fd, g, (ib_wsf_error_t)g->scan.error);
        return -1;
    }
    return 0;
}

void ib__rxguard_forget(ib_conn_t *c)
{
    if (!c->guard_fd)
        return;
    size_t fd = (size_t)c->guard_fd - 1;
    if (fd < cap && tab[fd].owner == c)
        tab[fd] = (guard_t){.phase = PH_OFF};
    c->guard_fd = 0;
}

void ib__rxguard_free(void)
{
    free(tab);
    tab = NULL;
    cap = 0;
}

/* HTTP: find header ends; scan what follows the last one in the shadow. */
static void http_bytes(guard_t *g, const uint8_t *p, size_t n)
{
    static const char end[] = "\r\n\r\n";
    size_t from = 0;
    bool reset = false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == (uint8_t)end[g->crlf])
            g->crlf++;
        else
            g->crlf = p[i] == '\r' ? 1 : 0;
        if (g->crlf == 4) {
            g->crlf = 0;
            from = i + 1;
            reset = true;
        }
    }
    if (reset) {
        ib_wsf_init(&g->scan);
        g->after_header = true;
    }
    if (g->after_header && from < n) {
        size_t at;
        (void)ib_wsf_feed(&g->scan, p + from, n - from, &at); /* sticky */
    }
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n = recvfrom(fd, buf, len, flags, NULL, NULL);
    if (n <= 0 || (flags & MSG_PEEK) || fd < 0 || (size_t)fd >= cap)
        return n;
    guard_t *g = &tab[fd];
    switch (g->phase) {
    case PH_HTTP:
        http_bytes(g, buf, (size_t)n);
        return n;
    case PH_WS: {
        size_t at;
        ib_wsf_error_t e = ib_wsf_feed(&g->scan, buf, (size_t)n, &at);
        if (e == IB_WSF_OK)
            return n;
        refuse(fd, g, e);
        /* A lingering close: closing now, with the client's bytes still
         * arriving, would send a reset that can destroy our close frame in
         * the client's buffers before it reads it. So lws reads nothing
         * more, the socket stays until the client closes its side (recv
         * returns 0 and lws closes) or 2 s have passed. */
        lws_set_timeout(g->wsi, PENDING_TIMEOUT_CLOSE_ACK, 2);
        errno = EAGAIN;
        return -1;
    }
    case PH_DEAD: /* what the client sends after our close: dropped */
        errno = EAGAIN;
        return -1;
    default:
        return n;
    }
}
