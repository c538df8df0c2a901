/*
 * Node configuration: every option of `icebreaker serve`, its environment
 * variable and its default, as one X-macro table so that the parser, the
 * --help text and the README's configuration table cannot disagree.
 *
 * Precedence: command line over environment over default.
 */
#ifndef IB_CONFIG_H
#define IB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IB_DEV_SECRET "icebreaker-dev-secret"
#define IB_ORIGINS_MAX 16

/* String options: X(field, "--flag", "ENV", default, "help") */
#define IB_CONFIG_STRINGS(X)                                                                       \
    X(host, "--host", "ICEBREAKER_HOST", "127.0.0.1", "address to listen on")                      \
    X(jwt_secret, "--jwt-secret", "ICEBREAKER_JWT_SECRET", NULL, "HS256 secret for tokens")        \
    X(jwt_secret_file, "--jwt-secret-file", "ICEBREAKER_JWT_SECRET_FILE", NULL,                    \
      "file holding the HS256 secret (trailing newline ignored)")                                  \
    X(redis, "--redis", "ICEBREAKER_REDIS", NULL,                                                  \
      "redis://HOST:PORT/DB for several nodes; absent: one node, state in memory")                 \
    X(node_id, "--node-id", "ICEBREAKER_NODE_ID", NULL, "this node's id (default: random)")        \
    X(tls_cert, "--tls-cert", "ICEBREAKER_TLS_CERT", NULL, "PEM certificate chain for wss://")     \
    X(tls_key, "--tls-key", "ICEBREAKER_TLS_KEY", NULL, "PEM private key for wss://")              \
    X(web_root, "--web-root", "ICEBREAKER_WEB_ROOT", NULL,                                         \
      "folder of the web client served at / (default: ./web when present)")

/* Numeric options: X(field, "--flag", "ENV", default, min, max, "help") */
#define IB_CONFIG_NUMBERS(X)                                                                       \
    X(port, "--port", "ICEBREAKER_PORT", 8080, 0, 65535, "TCP port; 0 picks a free one")           \
    X(max_message, "--max-message", "ICEBREAKER_MAX_MESSAGE", 65536, 256, 16777216,                \
      "largest accepted message in bytes (larger: close 1009)")                                    \
    X(rate, "--rate", "ICEBREAKER_RATE", 20, 1, 100000, "messages per second per connection")      \
    X(burst, "--burst", "ICEBREAKER_BURST", 40, 1, 100000, "token bucket size per connection")     \
    X(abuse_refusals, "--abuse-refusals", "ICEBREAKER_ABUSE_REFUSALS", 200, 1, 1000000,            \
      "rate-limit refusals within the abuse window that close with 1008")                          \
    X(abuse_window_ms, "--abuse-window-ms", "ICEBREAKER_ABUSE_WINDOW_MS", 10000, 100, 3600000,     \
      "abuse window")                                                                              \
    X(sendq_bytes, "--sendq-bytes", "ICEBREAKER_SENDQ_BYTES", 1048576, 1024, 1073741824,           \
      "send queue bound in bytes (over: close 4003)")                                              \
    X(sendq_msgs, "--sendq-msgs", "ICEBREAKER_SENDQ_MSGS", 1024, 4, 1048576,                       \
      "send queue bound in messages (over: close 4003)")                                           \
    X(max_rooms, "--max-rooms", "ICEBREAKER_MAX_ROOMS", 32, 1, 4096,                               \
      "rooms a session may join at once")                                                          \
    X(chat_max, "--chat-max", "ICEBREAKER_CHAT_MAX", 2000, 1, 100000,                              \
      "chat text length in characters")                                                            \
    X(signal_max, "--signal-max", "ICEBREAKER_SIGNAL_MAX", 16384, 64, 1048576,                     \
      "signal data size in bytes of JSON")                                                         \
    X(hello_timeout_ms, "--hello-timeout-ms", "ICEBREAKER_HELLO_TIMEOUT_MS", 10000, 100, 600000,   \
      "time allowed for the first message, hello (then close 4002)")                               \
    X(heartbeat_ms, "--heartbeat-ms", "ICEBREAKER_HEARTBEAT_MS", 25000, 1000, 3600000,             \
      "WebSocket ping interval; two silent intervals drop the connection")                         \
    X(grace_ms, "--grace-ms", "ICEBREAKER_GRACE_MS", 30000, 0, 3600000,                            \
      "how long a dropped session may be resumed")                                                 \
    X(crowd, "--crowd", "ICEBREAKER_CROWD", 200, 1, 1000000,                                       \
      "room size above which presence events become presence.count")                               \
    X(history, "--history", "ICEBREAKER_HISTORY", 50, 0, 1000, "chat messages kept per room")      \
    X(kick_ms, "--kick-ms", "ICEBREAKER_KICK_MS", 86400000, 0, 31536000000,                        \
      "how long a kicked user's tokens are refused")                                               \
    X(max_connections, "--max-connections", "ICEBREAKER_MAX_CONNECTIONS", 100000, 1, 10000000,     \
      "connections accepted at once (beyond: 503 on the handshake)")                               \
    X(drain_ms, "--drain-ms", "ICEBREAKER_DRAIN_MS", 5000, 0, 600000,                              \
      "on SIGTERM, how long clients get to receive close 1001 before exit")                        \
    X(send_threads, "--send-threads", "ICEBREAKER_SEND_THREADS", -1, -1, 64,                       \
      "threads that help write a large burst such as a round start (-1: one per usable core "      \
      "beyond the first, at most 3; 0: none)")

typedef struct ib_config {
#define IB__CFG_STR_FIELD(f, flag, env, def, help) const char *f;
    IB_CONFIG_STRINGS(IB__CFG_STR_FIELD)
#undef IB__CFG_STR_FIELD
#define IB__CFG_NUM_FIELD(f, flag, env, def, lo, hi, help) int64_t f;
    IB_CONFIG_NUMBERS(IB__CFG_NUM_FIELD)
#undef IB__CFG_NUM_FIELD
    bool dev;
    const char *origins[IB_ORIGINS_MAX];
    size_t n_origins;
    /* Resolved secret (from --jwt-secret, the file, or --dev), malloc'ed. */
    unsigned char *secret;
    size_t secret_len;
} ib_config_t;

/* Fill defaults. */
void ib_config_defaults(ib_config_t *c);

/* Apply environment variables through getenv_fn (getenv in production, a
 * fake in tests), then argv[0..argc) (options only, no subcommand).
 * Unknown flags and out-of-range numbers are errors: returns IB_EBADREQ
 * with a message in err[errlen]. "--help" returns 1. */
int ib_config_parse(ib_config_t *c, int argc, char **argv, const char *(*getenv_fn)(const char *),
                    char *err, size_t errlen);

/* Resolve the secret (file, literal, or dev). Returns IB_EUNAUTH with a
 * message when no secret is configured and dev is off. */
int ib_config_resolve_secret(ib_config_t *c, char *err, size_t errlen);

/* Print --help for `serve`. */
void ib_config_usage(void *file);

void ib_config_clear(ib_config_t *c);

#endif
