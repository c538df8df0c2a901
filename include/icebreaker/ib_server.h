/*
 * The node's domain state and the session lifecycle, as seen by net/.
 *
 * net/ owns connections; core/ owns sessions. A connection is bound to one
 * session at a time (resume can rebind it). Core never writes to a socket:
 * it queues buffers on the session and asks the transport for a writable
 * callback; net/ then takes one buffer at a time. To close, core sets the
 * session's close code and asks for a writable callback; net/ drains the
 * queue, then sends the close frame.
 *
 * Sessions are never freed inside a call that may still use them: they are
 * marked dead and reaped by ib_server_tick().
 *
 * Time: every entry point takes `now`, milliseconds since the Unix epoch.
 */
#ifndef IB_SERVER_H
#define IB_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ib_buf.h"
#include "ib_config.h"
#include "ib_err.h"
#include "ib_proto.h"
#include "ib_ratelimit.h"
#include "ib_room.h"
#include "ib_sendq.h"
#include "ib_store.h"

/* Close codes of CONTRACT.md */
#define IB_CLOSE_NORMAL 1000
#define IB_CLOSE_GOING_AWAY 1001
#define IB_CLOSE_PROTOCOL 1002
#define IB_CLOSE_BAD_DATA 1007
#define IB_CLOSE_POLICY 1008
#define IB_CLOSE_TOO_BIG 1009
#define IB_CLOSE_AUTH 4001
#define IB_CLOSE_HELLO_TIMEOUT 4002
#define IB_CLOSE_SLOW 4003

/* What net/ does for core/. ctx is passed back to each call. */
typedef struct ib_transport {
    void *ctx;
    /* conn has output: call back when writable. */
    void (*want_write)(void *ctx, void *conn);
    /* Write buf at once if conn has nothing pending (no queued or partly
     * written output): returns 0 when handed over, nonzero when the caller
     * must queue it and ask for want_write. May be NULL (always queue). */
    int (*write_now)(void *ctx, void *conn, ib_buf_t *buf);
    /* Write now whatever write_now took and is still holding (net/ holds
     * what is sent inside one callback and writes it at its end, one send
     * per connection). May be NULL (nothing is held). */
    void (*flush)(void *ctx);
    /* conn now belongs to session s (NULL: to no session; it will close
     * with the code given to close()). */
    void (*bind)(void *ctx, void *conn, ib_session_t *s);
    /* Close a conn that has no session any more with a close frame. */
    void (*close)(void *ctx, void *conn, int code, const char *reason);
    /* Drop conn without ceremony (the hard deadline after a close). */
    void (*drop)(void *ctx, void *conn);
    /* Fill buf with cryptographically random bytes. */
    void (*random)(void *ctx, void *buf, size_t len);
    /* A monotonic clock in microseconds, for measurements only (metrics),
     * never for rules, which take `now` as an argument. May be NULL. */
    int64_t (*mono_us)(void *ctx);
} ib_transport_t;

typedef enum ib_session_state {
    IB_SESSION_HELLO = 0, /* connected, waiting for hello */
    IB_SESSION_LIVE,      /* authenticated, connected */
    IB_SESSION_DETACHED,  /* connection lost, within the grace period */
    IB_SESSION_DEAD,      /* to be reaped */
} ib_session_state_t;

#define IB_SESSION_ID_LEN 24 /* hex chars */

struct ib_session {
    ib_server_t *srv;
    void *conn; /* NULL while detached or dead */
    ib_session_state_t state;
    uint32_t holds; /* pending asynchronous operations */
    ib_event_t *ev;
    ib_user_t *user;
    char id[IB_SESSION_ID_LEN + 1];
    char resume[2 * IB_SESSION_ID_LEN + 1];
    ib_sendq_t q;
    ib_ratelimit_t rl;
    ib_room_t **rooms;
    uint16_t n_rooms, cap_rooms;
    uint16_t n_capped; /* rooms that count against the cap (lounge:, booth:) */
    int close_code;    /* non-zero: closing once the queue drains */
    const char *close_reason;
    int64_t deadline;            /* hello deadline, grace end, or close deadline */
    int64_t expires;             /* token expiry in ms (exp + leeway) */
    ib_session_t *tprev, *tnext; /* hello, grace or closing list */
    int tlist;                   /* which list: 0 none */
    ib_session_t *uprev, *unext; /* user's sessions */
    ib_session_t *aprev, *anext; /* all sessions */
    /* Messages received while an asynchronous hello runs (replayed after). */
    json_t *deferred;
};

/* Counters exported at /metrics. X(field, "name", "help") */
#define IB_COUNTERS(X)                                                                             \
    X(connections_total, "icebreaker_connections_total", "WebSocket connections accepted")         \
    X(hello_ok, "icebreaker_auth_ok_total", "successful hellos")                                   \
    X(hello_fail, "icebreaker_auth_failed_total", "refused hellos and tokens")                     \
    X(resumes, "icebreaker_resumes_total", "sessions resumed within the grace period")             \
    X(messages_out, "icebreaker_messages_out_total", "messages queued to clients")                 \
    X(bytes_out, "icebreaker_bytes_out_total", "payload bytes queued to clients")                  \
    X(sendq_drops, "icebreaker_sendq_drops_total",                                                 \
      "sessions closed with 4003 because their send queue was full")                               \
    X(rate_limited, "icebreaker_rate_limited_total", "messages refused by the rate limit")         \
    X(chat_messages, "icebreaker_chat_messages_total", "chat messages accepted")                   \
    X(presence_events, "icebreaker_presence_events_total", "presence changes announced")           \
    X(sn_rounds, "icebreaker_sn_rounds_total", "speed-networking rounds started on this node")     \
    X(send_bursts, "icebreaker_send_bursts_total",                                                 \
      "large bursts of writes (a round start) split between the send threads")                     \
    X(send_burst_conns, "icebreaker_send_burst_connections_total",                                 \
      "connections written to in those bursts")

/* The buckets of icebreaker_sn_round_start_seconds (upper bounds, us). */
#define IB_ROUND_START_BUCKETS 9
extern const uint64_t ib_round_start_le_us[IB_ROUND_START_BUCKETS];

typedef struct ib_metrics {
#define IB__CTR_FIELD(f, name, help) uint64_t f;
    IB_COUNTERS(IB__CTR_FIELD)
#undef IB__CTR_FIELD
    uint64_t in_by_verb[IB_VERB__COUNT];
    uint64_t in_unknown;
    uint64_t errors_by_code[IB__ERR_LAST - IB__ERR_FIRST];
    uint64_t closes_by_code[5000];
    uint64_t send_threads; /* gauge: helpers of the node's thread (net/) */
    /* Round starts this node drove: from the sn.start (or the clock's
     * deadline) to the last sn.match written; a histogram in microseconds
     * over ib_round_start_le_us. */
    uint64_t round_start_count, round_start_sum_us;
    uint64_t round_start_le[IB_ROUND_START_BUCKETS];
} ib_metrics_t;

struct ib_server {
    const ib_config_t *cfg;
    ib_transport_t tr;
    ib_store_t *store;
    char node_id[IB_ID_MAX + 1];
    ib_map_t events;  /* id -> ib_event_t */
    ib_map_t resumes; /* resume token -> ib_session_t */
    ib_session_t *all;
    ib_session_t *hello_head, *hello_tail; /* by deadline */
    ib_session_t *grace_head, *grace_tail; /* by deadline */
    ib_session_t *closing_head, *closing_tail;
    ib_session_t *dead;     /* to reap, linked by tnext */
    ib_room_t *dirty_rooms; /* crowd rooms whose count changed */
    size_t n_connections;   /* sessions with a connection */
    size_t n_sessions;      /* live + detached */
    size_t n_rooms;
    bool draining;
    int64_t last_expiry_scan;
    int64_t last_kick_scan;
    int64_t now; /* the latest time an entry point was given */
    ib_metrics_t metrics;
    /* speed-networking verbs sent to the node driving the session, waiting
     * for its answer (sn_cluster.c): "<q>" -> waiter */
    ib_map_t sn_wait;
    uint64_t sn_q;
};

/* A new server; cfg, tr and store must outlive it. NULL on ENOMEM. */
ib_server_t *ib_server_new(const ib_config_t *cfg, const ib_transport_t *tr, ib_store_t *store,
                           const char *node_id);
void ib_server_free(ib_server_t *srv);

/* Timers: call at least every 100 ms. Enforces hello deadlines, grace
 * periods, token expiry, close deadlines, crowd counts; reaps dead
 * sessions. */
void ib_server_tick(ib_server_t *srv, int64_t now);

/* Shutdown: every session gets close 1001; /healthz says draining. */
void ib_server_drain(ib_server_t *srv, int64_t now);

/* A new connection; the session waits for hello. NULL on ENOMEM (net
 * should refuse the connection). */
ib_session_t *ib_server_accept(ib_server_t *srv, void *conn, int64_t now);

/* One complete message from the client. */
void ib_session_receive(ib_session_t *s, const char *data, size_t len, bool binary, int64_t now);

/* The connection is gone (closed by either side or dropped). The session
 * enters its grace period or dies. */
void ib_session_disconnected(ib_session_t *s, int64_t now);

/* Queue a buffer for the client (takes its own reference). A full queue
 * closes the session with 4003. */
void ib_session_send(ib_session_t *s, ib_buf_t *buf);
/* Encode and queue a JSON value (steals the reference). */
void ib_session_send_json(ib_session_t *s, json_t *v);

/* Close with code after the queued output (clear_queue: drop it first). */
void ib_session_close(ib_session_t *s, int code, const char *reason, bool clear_queue);

/* For net/: the next buffer to write, or NULL; pop after writing it. */
ib_buf_t *ib_session_peek(ib_session_t *s);
void ib_session_pop(ib_session_t *s);

/* Whether s is in room r. */
bool ib_session_in_room(const ib_session_t *s, const ib_room_t *r);

/* /healthz status: "ok", "degraded" or "draining"; http status in *code. */
const char *ib_server_health(const ib_server_t *srv, int *code);

/* Prometheus text exposition of the node's metrics. malloc'ed. */
char *ib_metrics_render(const ib_server_t *srv, size_t *len);

/* Count a close code sent or received (for metrics). */
void ib_metrics_close(ib_server_t *srv, int code);
/* Count a round start that took us microseconds. */
void ib_metrics_round_start(ib_server_t *srv, int64_t us);

#endif
