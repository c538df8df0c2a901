/*
 * Private to server/net: the per-connection state lws keeps for us and the
 * node object that ties lws, libuv and core together.
 */
#ifndef IB_NET_INTERNAL_H
#define IB_NET_INTERNAL_H

#include <libwebsockets.h>
#include <uv.h>

#include "icebreaker/ib_server.h"
#include "icebreaker/ib_utf8.h"

_Static_assert(IB_BUF_PRE >= LWS_PRE, "ib_buf headroom must fit the WebSocket frame header");

typedef struct ib_sendpool ib_sendpool_t;
typedef struct ib_send_job ib_send_job_t;

/* The node: one lws context on our libuv loop, one core server. */
typedef struct ib_node {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    ib_config_t *cfg;
    ib_server_t *srv;
    ib_store_t *store;
    uv_timer_t tick;
    uv_timer_t drain_timer;
    uv_signal_t sigterm, sigint;
    int port; /* the port actually bound */
    bool stopping;
    int64_t drain_deadline;
    bool wake_lws; /* a kill was set from our tick: wake lws at its end */
    /* heartbeat.c: upgraded connections, next ping first */
    struct ib_conn *hb_head, *hb_tail;
    /* ws.c: output held back while one lws callback or one tick runs, in
     * the order it was sent, then written with one send per connection. */
    int out_depth;
    struct ib_out_rec *out;
    uint32_t out_n, out_cap;
    unsigned char *out_frames; /* scratch: one connection's frames, back to back */
    size_t out_frames_cap;
    ib_sendpool_t *sendpool; /* sendpool.c: helpers for large flushes, or NULL */
    ib_send_job_t *out_jobs; /* a large flush's connections (out_n at most) */
    uint32_t out_jobs_cap;
} ib_node_t;

/* Reassembly of one incoming WebSocket message. */
typedef struct ib_rx {
    char *buf;
    size_t len, cap;
    bool binary;
    bool discarding; /* over the limit or failed: ignore the rest */
    ib_utf8_stream_t utf8;
} ib_rx_t;

/* An HTTP response being written. */
typedef struct ib_http_out {
    char *body;
    size_t len;
    int status;
    const char *ctype;
    char *extra_headers; /* e.g. Content-Disposition; may be NULL */
} ib_http_out_t;

typedef struct ib_echo_msg ib_echo_msg_t;

/* lws per-connection data (the same struct for HTTP and WebSocket). */
typedef struct ib_conn {
    /* heartbeat.c: place in the node's ping FIFO, uv_now() times in ms */
    struct ib_conn *hb_prev, *hb_next;
    struct lws *hb_wsi;
    uint64_t hb_due, hb_pong;
    bool hb_linked, hb_ping_pending;
    ib_session_t *session;
    int close_code;  /* close an unbound connection with this code */
    bool close_sent; /* our close frame is out: the peer's close is its ack */
    const char *close_reason;
    ib_rx_t *rx;
    ib_http_out_t *http;
    ib_http_out_t *http_ready; /* an answer that came later, headers not sent */
    void *http_wait;           /* http.c: the answer awaited, if any */
    char *http_body;           /* request body (POST) */
    size_t http_body_len;
    char *http_uri;
    bool http_post;
    int guard_fd; /* rxguard.c: the socket it scans, plus one (0: none) */
    /* ws.c: this connection's held-back messages, first and last (1-based
     * in node->out; 0: none) and how many */
    uint32_t out_first, out_last, out_count;
#ifdef IB_TEST_ECHO
    bool echo; /* the test-only echo protocol (echo.c): no session */
    ib_echo_msg_t *echo_head, *echo_tail;
    size_t echo_count, echo_bytes;
#endif
} ib_conn_t;

/* The frame guard (rxguard.c): lws accepted fd; a connection upgraded
 * (returns -1 when it must close: frames before the 101 were refused); a
 * connection going; the table freed at exit. */
void ib__rxguard_accepted(int fd);
int ib__rxguard_established(struct lws *wsi, ib_conn_t *c);
void ib__rxguard_forget(ib_conn_t *c);
void ib__rxguard_free(void);

/* The heartbeat (heartbeat.c): a connection upgraded, its pong, its end;
 * the tick pings the due ones and drops the silent ones; WRITEABLE sends a
 * ping that could not go out at once (hb_ping_pending). */
void ib__hb_add(ib_node_t *node, struct lws *wsi, ib_conn_t *c);
void ib__hb_pong(ib_node_t *node, ib_conn_t *c);
void ib__hb_remove(ib_node_t *node, ib_conn_t *c);
void ib__hb_tick(ib_node_t *node);
int ib__hb_write_pending(struct lws *wsi, ib_conn_t *c);

int ib__net_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);

/*
 * Output coalescing (ws.c). While the node is corked (inside one of our
 * lws callbacks, or inside the tick), messages that would be written at
 * once are held back instead, in order, and written when the outermost
 * cork is lifted: each connection's messages as one send, frames back to
 * back. A round start tells 10k people their sn.state and their sn.match:
 * 10k sends instead of 20k. Order per connection is kept; a connection
 * that closes meanwhile loses what was held for it (as it would have lost
 * it in the socket).
 *
 * ib__out_hold returns 0 when it took buf (a reference), nonzero when the
 * caller must write it itself (not corked, or no memory); in that case
 * ib__out_flush_conn first, so that order is kept.
 */
void ib__out_cork(ib_node_t *node);
void ib__out_uncork(ib_node_t *node);
/* Write everything held now; the node stays corked (core's flush). */
void ib__out_flush_all(ib_node_t *node);
int ib__out_hold(ib_node_t *node, struct lws *wsi, ib_conn_t *c, ib_buf_t *buf);
void ib__out_flush_conn(ib_node_t *node, ib_conn_t *c);
void ib__out_drop_conn(ib_node_t *node, ib_conn_t *c);
void ib__out_free(ib_node_t *node);

/* One held-back message (ws.c). */
typedef struct ib_out_rec {
    struct lws *wsi;
    struct ib_conn *c; /* NULL once written or dropped */
    ib_buf_t *buf;
    uint32_t next; /* the connection's next message, 1-based; 0: none */
} ib_out_rec_t;

/* Messages held for one connection before they are written early. */
#define IB_OUT_HOLD_MAX 32

/* A server frame header (FIN, text, no mask) for len payload bytes at p
 * (10 bytes at most); returns its length. */
size_t ib__out_frame_header(unsigned char *p, size_t len);

/*
 * Large flushes written by several threads (sendpool.c). A job is one
 * connection's held frames (records first, first->next...), written
 * straight to fd with one sendmsg(); sent says how many of its total
 * bytes the socket took (the rest is for lws, on the node's thread).
 */
struct ib_send_job {
    int fd;
    uint32_t first;
    struct ib_conn *c;
    size_t total, sent;
};
/* The helpers --send-threads asks for (-1: one per usable core beyond the
 * first, at most 3). */
int ib__sendpool_threads(int64_t configured);
/* NULL when n_threads is 0 or they cannot be started. */
ib_sendpool_t *ib__sendpool_new(int n_threads);
int ib__sendpool_size(const ib_sendpool_t *p);
/* Write every job, the calling thread included; returns when all are
 * written. No lws call is made. p NULL: the calling thread alone. */
void ib__sendpool_write(ib_sendpool_t *p, const ib_out_rec_t *recs, ib_send_job_t *jobs,
                        size_t n_jobs);
void ib__sendpool_free(ib_sendpool_t *p);

/* HTTP side (http.c): answer a request once its headers (and body, for
 * POST) are in. Returns what the lws callback should return. */
int ib__http_request(ib_node_t *node, struct lws *wsi, ib_conn_t *c);
int ib__http_writeable(ib_node_t *node, struct lws *wsi, ib_conn_t *c);
void ib__http_free(ib_conn_t *c);

#ifdef IB_TEST_ECHO
/* The test-only echo protocol (echo.c), built with cmake -DIB_TEST_ECHO=ON.
 * IB_ECHO_PROTOCOL_ENTRY goes into the vhost's protocol list. */
#define IB_ECHO_PROTOCOL "icebreaker.echo"
#define IB_ECHO_PROTOCOL_ENTRY                                                                     \
    {.name = IB_ECHO_PROTOCOL,                                                                     \
     .callback = ib__net_callback,                                                                 \
     .per_session_data_size = sizeof(ib_conn_t),                                                   \
     .rx_buffer_size = 512},
/* Whether ICEBREAKER_TEST_ECHO=1 turns the echo protocol on. */
bool ib__echo_enabled(void);
/* Whether wsi chose the echo protocol. */
bool ib__echo_selected(struct lws *wsi);
/* Queue one complete message to be sent back (4003 when over the bounds). */
void ib__echo_message(ib_node_t *node, struct lws *wsi, ib_conn_t *c, const char *data, size_t len,
                      bool binary);
/* Close with code once the queued echoes are out (clear: drop them first). */
void ib__echo_close(struct lws *wsi, ib_conn_t *c, int code, const char *reason, bool clear);
/* Write the first queued echo (WRITEABLE callback; the queue is not empty). */
int ib__echo_write(struct lws *wsi, ib_conn_t *c);
void ib__echo_free(ib_conn_t *c);
#else
#define IB_ECHO_PROTOCOL_ENTRY
#endif

/* Milliseconds since the Unix epoch. */
int64_t ib__now_ms(void);

/* Log a line to stderr with a level tag. Never log tokens. */
void ib__log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
