/*
 * ib_loadgen: the load generator's internal header.
 *
 * One coordinator process forks P workers. Each worker is an lws client on
 * its own libuv loop holding its share of the N connections (a process may
 * hold at most 20000 open files here, so 19k clients need two). Workers talk
 * to the coordinator over a SOCK_SEQPACKET socketpair: fixed-size messages,
 * one per send, so neither side ever has to reassemble anything. The
 * coordinator drives the scenario's phases (everyone joined -> start
 * sending / create the session / start the round -> stop), measures the
 * server process from /proc, merges the workers' histograms and prints the
 * report as a table and as JSON.
 *
 * Times are CLOCK_MONOTONIC microseconds, which every process on the
 * machine shares: a chat message carries its send time in its text, and a
 * receiver in another worker subtracts it from its own clock.
 */
#ifndef LG_H
#define LG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Histograms: log-linear buckets over microseconds, 64 sub-buckets per
 * power of two (at most 1.6% error), exact up to 64 us, capped at 2^32 us. */
#define LG_HIST_SUB 64
#define LG_HIST_BUCKETS (LG_HIST_SUB + (32 - 6) * LG_HIST_SUB)

typedef struct lg_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min;
    uint64_t max;
    uint32_t b[LG_HIST_BUCKETS];
} lg_hist_t;

void lg_hist_init(lg_hist_t *h);
void lg_hist_add(lg_hist_t *h, uint64_t v);
void lg_hist_merge(lg_hist_t *into, const lg_hist_t *from);
/* The value below which a fraction q (0..1) of the samples lie (a bucket's
 * midpoint, clamped to the exact min and max); 0 when empty. */
uint64_t lg_hist_quantile(const lg_hist_t *h, double q);

/* What a run measures: one histogram each. */
enum {
    LG_H_HELLO,   /* TCP connect started -> hello ok (includes the JWT check) */
    LG_H_JOIN,    /* TCP connect started -> join ok */
    LG_H_CHAT,    /* chat sent -> chat event received, per recipient */
    LG_H_SN_JOIN, /* sn.join sent -> ok */
    LG_H_MATCH,   /* sn.start sent -> sn.match received, per participant */
    LG_H__COUNT
};

typedef enum lg_scenario {
    LG_IDLE,
    LG_FANOUT,
    LG_STORM,
    LG_SN,
} lg_scenario_t;

typedef struct lg_opts {
    lg_scenario_t scenario;
    const char *label; /* "icebreaker", "peer": names the run in the report */
    const char *host;  /* server address */
    int port;
    const char *path;   /* "/ws" */
    const char *secret; /* HS256 secret */
    const char *event;  /* token's event claim */
    const char *room;   /* lounge every client joins */
    int conns;          /* N: clients (participants for sn) */
    int procs;          /* P: worker processes */
    int sources;        /* K: source addresses 127.0.0.2 .. 127.0.0.(K+1) */
    int window;         /* connections between connect and join ok, at most */
    int rate;           /* connection starts per second, 0: window-bound only */
    int settle_ms;      /* idle: wait after all joined before measuring */
    int hold_s;         /* idle: keep the connections open this long after */
    int senders;        /* fanout: connections that chat */
    int interval_ms;    /* fanout: one message per interval, senders taking turns */
    int warmup_s;       /* fanout: sending before measurement starts */
    int measure_s;      /* fanout: measured sending time */
    int text_bytes;     /* fanout: chat text length */
    int sn_rounds;      /* sn: rounds, round_s, strategy of the session */
    int sn_round_s;
    const char *sn_strategy;
    int timeout_s;         /* the whole run, hard bound */
    int server_pid;        /* measured from /proc when > 0 */
    const char *json_path; /* report as JSON here when set */
    bool quiet;            /* no progress lines */
} lg_opts_t;

/* Counters a worker keeps and reports. */
typedef struct lg_counters {
    uint64_t started;   /* connection attempts */
    uint64_t open;      /* WebSocket established */
    uint64_t helloed;   /* hello ok */
    uint64_t joined;    /* join ok */
    uint64_t failed;    /* connection errors, closes, error replies before joined */
    uint64_t closed;    /* closed after being joined */
    uint64_t rx_msgs;   /* messages received */
    uint64_t rx_bytes;  /* payload bytes received */
    uint64_t tx_msgs;   /* messages sent */
    uint64_t errors;    /* error replies */
    uint64_t chat_sent; /* fanout: chat messages sent in the measured window */
    uint64_t chat_late; /* fanout: send ticks skipped, sender still busy */
    uint64_t delivered; /* fanout: chat events received that were sent in the window */
    uint64_t sn_joined; /* sn: sn.join ok */
    uint64_t sn_done;   /* sn: sn.join answered (ok or not) or given up */
    uint64_t matched;   /* sn: participants that got their first sn.match */
    uint64_t cpu_us;    /* this worker's CPU time (user + system) */
    int64_t last_match; /* sn: monotonic us of the last first-sn.match seen */
    int64_t all_joined; /* monotonic us when this worker had all its clients joined */
} lg_counters_t;

/* Worker -> coordinator messages. */
enum {
    LG_M_STATUS = 1, /* counters */
    LG_M_RESULT,     /* counters and histograms, the worker's last word */
    LG_M_SESSION,    /* sn.create answered: text is the session id */
    LG_M_SN_REFUSED, /* sn.create answered with an error: text is the reply */
    LG_M_NOTE,       /* text: a first error or close reason, for the report */
};

typedef struct lg_msg {
    uint32_t kind;
    uint32_t worker;
    lg_counters_t c;
    char text[256];
} lg_msg_t;

typedef struct lg_result_msg {
    uint32_t kind;
    uint32_t worker;
    lg_counters_t c;
    lg_hist_t h[LG_H__COUNT];
} lg_result_msg_t;

/* Coordinator -> worker commands. */
enum {
    LG_C_GO = 1,    /* a: start time (monotonic us): start connecting */
    LG_C_FANOUT,    /* a: measure start, b: measure end (monotonic us) */
    LG_C_SN_CREATE, /* worker 0's host: send sn.create */
    LG_C_SN_JOIN,   /* text: session id; every participant sends sn.join */
    LG_C_SN_START,  /* a: t0 (monotonic us); worker 0's host sends sn.start */
    LG_C_STOP,      /* send LG_M_RESULT and exit */
};

typedef struct lg_cmd {
    uint32_t kind;
    int64_t a, b;
    char text[128];
} lg_cmd_t;

/* Monotonic clock in microseconds. */
int64_t lg_now_us(void);
/* This process's CPU time (user + system) in microseconds. */
uint64_t lg_self_cpu_us(void);

/* Run worker `w` of opts->procs over clients [first, first + count) on the
 * coordinator socket fd. Host connection (sn) when w == 0. Returns the exit
 * code. */
int lg_worker_run(const lg_opts_t *opts, int w, int first, int count, int fd);

#endif
