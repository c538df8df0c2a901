/*
 * ib_loadgen: the coordinator.
 *
 *   ib_loadgen --scenario idle|fanout|storm|sn --port P --secret S
 *              [--conns N] [--procs P] [--server-pid PID] [--json FILE] ...
 *
 * It forks the workers (worker.c), waits until each has minted its tokens,
 * gives them one start time, and then walks the scenario's phases from the
 * workers' status messages (four a second): the ramp (every client
 * connected, said hello and joined the lounge), then
 *   idle:   settle, measure the server's memory, hold, stop;
 *   storm:  stop: the ramp was the measurement;
 *   fanout: a warm-up and a measured window of chat from a few senders,
 *           then the drain until every message of the window arrived;
 *   sn:     the host creates a session, every client sn.joins, the host
 *           starts the round, and we wait for every client's sn.match.
 * Every phase has a deadline and the whole run has --timeout-s, so a run
 * always ends by itself. The server is measured from /proc/<pid> (RSS and
 * CPU), /proc/net/sockstat, /proc/meminfo and `ss -m` at the phase edges,
 * so the window of a CPU figure is exactly the window of its messages.
 *
 * The report is a table on stdout and, with --json, one JSON object that
 * the scenario scripts compare with the peer's.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <jansson.h>

#include "lg.h"

#define LG_MAX_PROCS 8
#define LG_CLIENTS_PER_PROC 15000 /* 20000 open files per process, with room */

typedef enum phase {
    P_READY,   /* workers minting tokens */
    P_RAMP,    /* connecting, hello, join */
    P_SETTLE,  /* all joined; let the server settle */
    P_HOLD,    /* idle: measured; holding the connections */
    P_WARMUP,  /* fanout: sending, not yet measured */
    P_MEASURE, /* fanout: the measured window */
    P_DRAIN,   /* fanout: sending stopped, deliveries still arriving */
    P_SN_CREATE,
    P_SN_JOIN,
    P_SN_ROUND,
    P_SN_AFTER, /* every match seen: 1 s more for the server's round start CPU */
    P_STOP,
} phase_t;

static const char *phase_name[] = {"ready",   "ramp",     "settle",   "hold",
                                   "warm-up", "measure",  "drain",    "sn.create",
                                   "sn.join", "sn.round", "sn.after", "stop"};

/* What the server looked like at one moment. */
typedef struct probe {
    int64_t t;                /* monotonic us */
    long rss_kib;             /* VmRSS */
    uint64_t cpu_us;          /* utime + stime, all threads */
    uint64_t run_ns;          /* time on a CPU, all threads (schedstat, ns) */
    long tcp_inuse;           /* /proc/net/sockstat TCP inuse */
    long tcp_mem_pages;       /* /proc/net/sockstat TCP mem (pages, both ends) */
    long slab_kib;            /* /proc/meminfo Slab (both ends) */
    long ss_sockets;          /* server-side established sockets (ss) */
    uint64_t ss_skmem;        /* their r+t+f+w+o+bl bytes (ss -m) */
    uint64_t core_busy_us[2]; /* /proc/stat cpu0, cpu1: all but idle and iowait */
} probe_t;

typedef struct worker {
    pid_t pid;
    int fd;
    bool ready, done;
    int first, count;
    lg_counters_t c;
    lg_hist_t h[LG_H__COUNT];
} worker_t;

static volatile sig_atomic_t interrupted;
static lg_opts_t O;
static worker_t workers[LG_MAX_PROCS];
static json_t *notes;
static char sn_refused[256];
static bool session_seen;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- probes of the server process and the kernel ---- */

static long read_kib_field(const char *path, const char *field)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, fl) == 0) {
            v = strtol(line + fl, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static uint64_t proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* After "(comm)": state, then fields 4..13, then utime (14), stime (15). */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (uint64_t)(ut + st) * 1000000 / (uint64_t)sysconf(_SC_CLK_TCK);
}

/* Time pid's threads have spent on a CPU, in ns, from each thread's
 * /proc/<pid>/task/<tid>/schedstat: far finer than utime + stime (ticks of
 * 10 ms), for spans of a few hundred ms such as one round start. */
static uint64_t proc_run_ns(int pid)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    DIR *d = opendir(path);
    uint64_t sum = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", pid, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long ns = 0;
        if (f && fscanf(f, "%llu", &ns) == 1)
            sum += ns;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return sum;
}

static void sockstat(long *inuse, long *mem)
{
    FILE *f = fopen("/proc/net/sockstat", "r");
    char line[256];
    *inuse = *mem = -1;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "TCP: inuse %ld orphan %*d tw %*d alloc %*d mem %ld", inuse, mem) == 2)
            break;
    fclose(f);
}

/* Sum of the server-side sockets' memory as `ss -m` shows it. */
static void ss_server(int port, long *sockets, uint64_t *bytes)
{
    char cmd[160], buf[512];
    snprintf(cmd, sizeof(cmd), "ss -tmnH state established '( sport = :%d )' 2>/dev/null", port);
    *sockets = 0;
    *bytes = 0;
    FILE *f = popen(cmd, "r");
    if (!f) {
        *sockets = -1;
        return;
    }
    while (fgets(buf, sizeof(buf), f)) {
        const char *p = strstr(buf, "skmem:(");
        unsigned long r, rb, t, tb, fw, w, o, bl;
        if (p && sscanf(p, "skmem:(r%lu,rb%lu,t%lu,tb%lu,f%lu,w%lu,o%lu,bl%lu", &r, &rb, &t, &tb,
                        &fw, &w, &o, &bl) == 8) {
            (*sockets)++;
            *bytes += r + t + fw + w + o + bl;
        }
    }
    pclose(f);
}

/* Busy time of cores 0 and 1 (the server's and the generator's), whoever
 * used it: beside the two processes' own CPU it shows whether anything
 * else ran during a measurement. */
static void core_busy(uint64_t busy[2])
{
    FILE *f = fopen("/proc/stat", "r");
    char line[512];
    busy[0] = busy[1] = 0;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        int cpu;
        unsigned long long us, ni, sy, id, io, irq, sirq, st;
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &us, &ni, &sy, &id,
                   &io, &irq, &sirq, &st) == 9 &&
            cpu >= 0 && cpu < 2)
            busy[cpu] = (us + ni + sy + irq + sirq + st) * 1000000 / (uint64_t)sysconf(_SC_CLK_TCK);
    }
    fclose(f);
}

static void probe(probe_t *p, bool kernel)
{
    memset(p, 0, sizeof(*p));
    p->t = lg_now_us();
    core_busy(p->core_busy_us);
    if (O.server_pid > 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/status", O.server_pid);
        p->rss_kib = read_kib_field(path, "VmRSS:");
        p->cpu_us = proc_cpu_us(O.server_pid);
        p->run_ns = proc_run_ns(O.server_pid);
    }
    if (kernel) {
        sockstat(&p->tcp_inuse, &p->tcp_mem_pages);
        p->slab_kib = read_kib_field("/proc/meminfo", "Slab:");
        ss_server(O.port, &p->ss_sockets, &p->ss_skmem);
    }
}

/* sn: the server 1 s after every match was seen (set by main's loop). */
static probe_t at_after;

/* ---- talking to the workers ---- */

static void cmd_all(uint32_t kind, int64_t a, int64_t b, const char *text)
{
    lg_cmd_t c = {.kind = kind, .a = a, .b = b};
    if (text)
        snprintf(c.text, sizeof(c.text), "%s", text);
    for (int w = 0; w < O.procs; w++)
        if (!workers[w].done)
            send(workers[w].fd, &c, sizeof(c), MSG_NOSIGNAL);
}

static void cmd_one(int w, uint32_t kind)
{
    lg_cmd_t c = {.kind = kind};
    send(workers[w].fd, &c, sizeof(c), MSG_NOSIGNAL);
}

static lg_counters_t sum(void)
{
    lg_counters_t s = {0};
    for (int w = 0; w < O.procs; w++) {
        const lg_counters_t *c = &workers[w].c;
        s.started += c->started;
        s.open += c->open;
        s.helloed += c->helloed;
        s.joined += c->joined;
        s.failed += c->failed;
        s.closed += c->closed;
        s.rx_msgs += c->rx_msgs;
        s.rx_bytes += c->rx_bytes;
        s.tx_msgs += c->tx_msgs;
        s.errors += c->errors;
        s.chat_sent += c->chat_sent;
        s.chat_late += c->chat_late;
        s.delivered += c->delivered;
        s.sn_joined += c->sn_joined;
        s.sn_done += c->sn_done;
        s.matched += c->matched;
        s.cpu_us += c->cpu_us;
        if (c->last_match > s.last_match)
            s.last_match = c->last_match;
        if (c->all_joined > s.all_joined)
            s.all_joined = c->all_joined;
    }
    return s;
}

static bool all_ramped(void)
{
    for (int w = 0; w < O.procs; w++)
        if (!workers[w].c.all_joined && !workers[w].done)
            return false;
    return true;
}

/* Reads every message waiting from the workers (waiting up to ms). */
static void pump(int ms)
{
    struct pollfd pfd[LG_MAX_PROCS];
    for (int w = 0; w < O.procs; w++) {
        pfd[w].fd = workers[w].done ? -1 : workers[w].fd;
        pfd[w].events = POLLIN;
    }
    if (poll(pfd, (nfds_t)O.procs, ms) <= 0)
        return;
    static union {
        uint32_t kind;
        lg_msg_t m;
        lg_result_msg_t r;
    } u;
    for (int w = 0; w < O.procs; w++) {
        if (!(pfd[w].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        for (;;) {
            ssize_t n = recv(workers[w].fd, &u, sizeof(u), MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            if (n <= 0) {
                workers[w].done = true;
                break;
            }
            lg_msg_t *sm = &u.m;
            switch (u.kind) {
            case LG_M_STATUS:
                workers[w].c = sm->c;
                workers[w].ready = true;
                break;
            case LG_M_RESULT:
                workers[w].c = u.r.c;
                memcpy(workers[w].h, u.r.h, sizeof(u.r.h));
                workers[w].done = true;
                break;
            case LG_M_SESSION:
                workers[w].c = sm->c;
                cmd_all(LG_C_SN_JOIN, 0, 0, sm->text);
                session_seen = true;
                break;
            case LG_M_SN_REFUSED:
                snprintf(sn_refused, sizeof(sn_refused), "%s", sm->text);
                break;
            case LG_M_NOTE:
                if (json_array_size(notes) < 12)
                    json_array_append_new(notes, json_sprintf("worker %d: %s", w, sm->text));
                if (!O.quiet)
                    fprintf(stderr, "  note (worker %d): %s\n", w, sm->text);
                break;
            }
            if (workers[w].done)
                break;
        }
    }
}

/* ---- the report ---- */

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static json_t *hist_json(const lg_hist_t *h)
{
    if (!h->count)
        return json_null();
    return json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "count", (json_int_t)h->count, "p50_ms",
                     ms(lg_hist_quantile(h, 0.50)), "p90_ms", ms(lg_hist_quantile(h, 0.90)),
                     "p99_ms", ms(lg_hist_quantile(h, 0.99)), "p999_ms",
                     ms(lg_hist_quantile(h, 0.999)), "max_ms", ms(h->max), "min_ms", ms(h->min),
                     "mean_ms", ms(h->sum / h->count));
}

static void hist_line(const char *what, const lg_hist_t *h)
{
    if (!h->count)
        return;
    printf("  %-22s %9llu  p50 %8.2f  p90 %8.2f  p99 %8.2f  max %8.2f ms\n", what,
           (unsigned long long)h->count, ms(lg_hist_quantile(h, 0.50)),
           ms(lg_hist_quantile(h, 0.90)), ms(lg_hist_quantile(h, 0.99)), ms(h->max));
}

static void progress(phase_t ph, int64_t t_start, bool force)
{
    static int64_t last;
    int64_t now = lg_now_us();
    if (O.quiet || (!force && now - last < 500000))
        return;
    last = now;
    lg_counters_t s = sum();
    fprintf(stderr, "[%6.1fs] %-9s started %llu/%d open %llu joined %llu failed %llu",
            (double)(now - t_start) / 1e6, phase_name[ph], (unsigned long long)s.started, O.conns,
            (unsigned long long)s.open, (unsigned long long)s.joined, (unsigned long long)s.failed);
    if (ph >= P_WARMUP && ph <= P_DRAIN)
        fprintf(stderr, " sent %llu delivered %llu", (unsigned long long)s.chat_sent,
                (unsigned long long)s.delivered);
    if (ph >= P_SN_JOIN && ph <= P_SN_ROUND)
        fprintf(stderr, " sn.joined %llu matched %llu", (unsigned long long)s.sn_joined,
                (unsigned long long)s.matched);
    fprintf(stderr, " rx %llu\n", (unsigned long long)s.rx_msgs);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ib_loadgen --scenario idle|fanout|storm|sn --port P --secret S [options]\n"
               "  --host A          server address (127.0.0.1)\n"
               "  --path P          WebSocket path (/ws)\n"
               "  --label L         name of the server in the report (server)\n"
               "  --event E         token event claim (load)\n"
               "  --room R          lounge every client joins (lounge:load)\n"
               "  --conns N         clients (1000)\n"
               "  --procs P         worker processes (N / 15000 rounded up)\n"
               "  --sources K       source addresses 127.0.0.2..127.0.0.(K+1) (8)\n"
               "  --window W        clients between connect and join ok (256)\n"
               "  --rate R          connection starts per second, 0: window only (0)\n"
               "  --settle-ms MS    idle/fanout: pause after the ramp (2000)\n"
               "  --hold-s S        idle: keep connections open after measuring (0)\n"
               "  --senders K       fanout: clients that chat (4)\n"
               "  --interval-ms MS  fanout: one chat message per interval (100)\n"
               "  --warmup-s S      fanout: unmeasured sending first (2)\n"
               "  --measure-s S     fanout: measured window (10)\n"
               "  --text-bytes B    fanout: chat text length (64)\n"
               "  --sn-rounds N, --sn-round-s S, --sn-strategy random|rotate|interests\n"
               "  --timeout-s S     hard bound on the whole run (300)\n"
               "  --server-pid PID  measure this process (RSS, CPU)\n"
               "  --json FILE       write the report as JSON\n"
               "  --quiet           no progress lines\n");
}

static int parse(int argc, char **argv)
{
    enum {
        O_LABEL = 256,
        O_EVENT,
        O_ROOM,
        O_SETTLE,
        O_HOLD,
        O_INTERVAL,
        O_WARMUP,
        O_MEASURE,
        O_TEXT,
        O_SNR,
        O_SNS,
        O_SNSTRAT,
        O_TIMEOUT,
        O_PID,
        O_JSON,
        O_PATH,
        O_QUIET,
        O_SECRET
    };
    static const struct option lo[] = {
        {"scenario", 1, 0, 's'},
        {"host", 1, 0, 'H'},
        {"port", 1, 0, 'p'},
        {"path", 1, 0, O_PATH},
        {"secret", 1, 0, O_SECRET},
        {"label", 1, 0, O_LABEL},
        {"event", 1, 0, O_EVENT},
        {"room", 1, 0, O_ROOM},
        {"conns", 1, 0, 'n'},
        {"procs", 1, 0, 'P'},
        {"sources", 1, 0, 'k'},
        {"window", 1, 0, 'w'},
        {"rate", 1, 0, 'r'},
        {"settle-ms", 1, 0, O_SETTLE},
        {"hold-s", 1, 0, O_HOLD},
        {"senders", 1, 0, 'S'},
        {"interval-ms", 1, 0, O_INTERVAL},
        {"warmup-s", 1, 0, O_WARMUP},
        {"measure-s", 1, 0, O_MEASURE},
        {"text-bytes", 1, 0, O_TEXT},
        {"sn-rounds", 1, 0, O_SNR},
        {"sn-round-s", 1, 0, O_SNS},
        {"sn-strategy", 1, 0, O_SNSTRAT},
        {"timeout-s", 1, 0, O_TIMEOUT},
        {"server-pid", 1, 0, O_PID},
        {"json", 1, 0, O_JSON},
        {"quiet", 0, 0, O_QUIET},
        {"help", 0, 0, 'h'},
        {0, 0, 0, 0},
    };
    O = (lg_opts_t){
        .scenario = LG_IDLE,
        .label = "server",
        .host = "127.0.0.1",
        .path = "/ws",
        .event = "load",
        .room = "lounge:load",
        .conns = 1000,
        .sources = 8,
        .window = 256,
        .settle_ms = 2000,
        .senders = 4,
        .interval_ms = 100,
        .warmup_s = 2,
        .measure_s = 10,
        .text_bytes = 64,
        .sn_rounds = 1,
        .sn_round_s = 120,
        .sn_strategy = "random",
        .timeout_s = 300,
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (!strcmp(optarg, "idle"))
                O.scenario = LG_IDLE;
            else if (!strcmp(optarg, "fanout"))
                O.scenario = LG_FANOUT;
            else if (!strcmp(optarg, "storm"))
                O.scenario = LG_STORM;
            else if (!strcmp(optarg, "sn"))
                O.scenario = LG_SN;
            else
                return -1;
            break;
        case 'H':
            O.host = optarg;
            break;
        case 'p':
            O.port = atoi(optarg);
            break;
        case O_PATH:
            O.path = optarg;
            break;
        case O_SECRET:
            O.secret = optarg;
            break;
        case O_LABEL:
            O.label = optarg;
            break;
        case O_EVENT:
            O.event = optarg;
            break;
        case O_ROOM:
            O.room = optarg;
            break;
        case 'n':
            O.conns = atoi(optarg);
            break;
        case 'P':
            O.procs = atoi(optarg);
            break;
        case 'k':
            O.sources = atoi(optarg);
            break;
        case 'w':
            O.window = atoi(optarg);
            break;
        case 'r':
            O.rate = atoi(optarg);
            break;
        case O_SETTLE:
            O.settle_ms = atoi(optarg);
            break;
        case O_HOLD:
            O.hold_s = atoi(optarg);
            break;
        case 'S':
            O.senders = atoi(optarg);
            break;
        case O_INTERVAL:
            O.interval_ms = atoi(optarg);
            break;
        case O_WARMUP:
            O.warmup_s = atoi(optarg);
            break;
        case O_MEASURE:
            O.measure_s = atoi(optarg);
            break;
        case O_TEXT:
            O.text_bytes = atoi(optarg);
            break;
        case O_SNR:
            O.sn_rounds = atoi(optarg);
            break;
        case O_SNS:
            O.sn_round_s = atoi(optarg);
            break;
        case O_SNSTRAT:
            O.sn_strategy = optarg;
            break;
        case O_TIMEOUT:
            O.timeout_s = atoi(optarg);
            break;
        case O_PID:
            O.server_pid = atoi(optarg);
            break;
        case O_JSON:
            O.json_path = optarg;
            break;
        case O_QUIET:
            O.quiet = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind != argc || O.port <= 0 || !O.secret || O.conns < 0 || O.window < 1 ||
        O.sources < 1 || O.sources > 250 || O.timeout_s < 1)
        return -1;
    if (O.procs <= 0)
        O.procs = (O.conns + LG_CLIENTS_PER_PROC - 1) / LG_CLIENTS_PER_PROC;
    if (O.procs < 1)
        O.procs = 1;
    if (O.procs > LG_MAX_PROCS)
        return -1;
    if (O.scenario == LG_FANOUT && (O.senders < 1 || O.senders > O.conns / O.procs))
        return -1;
    return 0;
}

static const char *scenario_name(void)
{
    static const char *n[] = {"idle", "fanout", "storm", "sn"};
    return n[O.scenario];
}

/* Cores 0 and 1 busy between two probes (in cores, 0..1 each), into obj. */
static void core_shares(json_t *obj, const probe_t *a, const probe_t *b)
{
    double span = (double)(b->t - a->t);
    if (!obj || span <= 0 || !a->t)
        return;
    json_object_set_new(obj, "core0_busy",
                        json_real((double)(b->core_busy_us[0] - a->core_busy_us[0]) / span));
    json_object_set_new(obj, "core1_busy",
                        json_real((double)(b->core_busy_us[1] - a->core_busy_us[1]) / span));
}

/* Per-connection figure, or -1 when there is nothing to divide by. */
static double per(double total, uint64_t n)
{
    return n ? total / (double)n : -1;
}

static json_t *report(int64_t t_go, int64_t t_ramp, const probe_t *base, const probe_t *at_ramp,
                      const probe_t *at_idle, const probe_t *at_a, const probe_t *at_end,
                      int64_t t_win_a, int64_t t_win_b, int64_t t_end, int64_t t_sn0,
                      uint64_t gen_cpu_ramp, uint64_t gen_cpu_a, uint64_t gen_cpu_b,
                      const char *why_stop)
{
    lg_counters_t s = sum();
    lg_hist_t h[LG_H__COUNT];
    for (int i = 0; i < LG_H__COUNT; i++) {
        lg_hist_init(&h[i]);
        for (int w = 0; w < O.procs; w++)
            lg_hist_merge(&h[i], &workers[w].h[i]);
    }
    double ramp_s = t_ramp > t_go ? (double)(t_ramp - t_go) / 1e6 : 0;
    /* Workers count CPU from the fork; minting tokens before the go is a
     * small part of it. */
    double gen_ramp = ramp_s > 0 ? (double)gen_cpu_ramp / 1e6 / ramp_s : 0;
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:o,s:o}", "scenario", scenario_name(),
                  "label", O.label, "room", O.room, "port", O.port, "conns", O.conns, "procs",
                  O.procs, "sources", O.sources, "window", O.window, "rate", O.rate, "notes",
                  json_incref(notes), "stopped", why_stop ? json_string(why_stop) : json_null());
    json_object_set_new(
        j, "ramp",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:o,s:o}", "started", (json_int_t)s.started,
                  "open", (json_int_t)s.open, "helloed", (json_int_t)s.helloed, "joined",
                  (json_int_t)s.joined, "failed", (json_int_t)s.failed, "closed_later",
                  (json_int_t)s.closed, "seconds", ramp_s, "conn_per_s",
                  ramp_s > 0 ? (double)s.joined / ramp_s : 0, "generator_core_share", gen_ramp,
                  "hello", hist_json(&h[LG_H_HELLO]), "join", hist_json(&h[LG_H_JOIN])));
    core_shares(json_object_get(j, "ramp"), base, at_ramp);
    printf("ib_loadgen %s against %s (%s:%d): %d clients, %d procs, %d source addresses\n",
           scenario_name(), O.label, O.host, O.port, O.conns, O.procs, O.sources);
    if (why_stop)
        printf("  STOPPED EARLY: %s\n", why_stop);
    printf("  ramp: %llu joined, %llu failed, in %.2f s (%.0f connections/s, window %d; "
           "generator at %.0f%% of a core)\n",
           (unsigned long long)s.joined, (unsigned long long)s.failed, ramp_s,
           ramp_s > 0 ? (double)s.joined / ramp_s : 0, O.window, gen_ramp * 100);
    hist_line("connect -> hello ok", &h[LG_H_HELLO]);
    hist_line("connect -> join ok", &h[LG_H_JOIN]);

    json_t *srv = json_object();
    /* No server figures for a ramp that never finished (no probe then). */
    if (O.server_pid > 0 && at_ramp->t) {
        double cpu_ramp = (double)(at_ramp->cpu_us - base->cpu_us);
        json_object_set_new(srv, "pid", json_integer(O.server_pid));
        json_object_set_new(srv, "rss_start_kib", json_integer(base->rss_kib));
        json_object_set_new(srv, "rss_after_ramp_kib", json_integer(at_ramp->rss_kib));
        json_object_set_new(srv, "cpu_ramp_s", json_real(cpu_ramp / 1e6));
        json_object_set_new(srv, "cpu_us_per_conn", json_real(per(cpu_ramp, s.joined)));
        printf("  server: RSS %.1f MiB -> %.1f MiB after the ramp; ramp CPU %.2f s (%.0f us per "
               "connection)\n",
               (double)base->rss_kib / 1024, (double)at_ramp->rss_kib / 1024, cpu_ramp / 1e6,
               per(cpu_ramp, s.joined));
    }
    json_object_set_new(j, "server", srv);

    if (O.scenario == LG_IDLE && at_idle->t) {
        double rss = (double)(at_idle->rss_kib - base->rss_kib);
        double sock_mem = (double)(at_idle->tcp_mem_pages - base->tcp_mem_pages) * 4;
        double slab = (double)(at_idle->slab_kib - base->slab_kib);
        double skmem = at_idle->ss_sockets > 0 ? (double)at_idle->ss_skmem / 1024 : 0;
        json_object_set_new(
            j, "idle",
            json_pack("{s:I,s:I,s:f,s:f,s:I,s:f,s:f,s:I,s:f,s:f}", "rss_kib",
                      (json_int_t)at_idle->rss_kib, "rss_delta_kib", (json_int_t)(rss),
                      "rss_per_conn_kib", per(rss, s.joined), "tcp_mem_per_conn_kib_both_ends",
                      per(sock_mem, s.joined), "slab_delta_kib", (json_int_t)slab,
                      "slab_per_conn_kib_both_ends", per(slab, s.joined),
                      "ss_skmem_per_server_socket_kib",
                      per(skmem, (uint64_t)(at_idle->ss_sockets > 0 ? at_idle->ss_sockets : 0)),
                      "ss_server_sockets", (json_int_t)at_idle->ss_sockets, "tcp_inuse_delta",
                      (double)(at_idle->tcp_inuse - base->tcp_inuse), "settle_s",
                      (double)O.settle_ms / 1000));
        printf("  idle, %llu clients joined: server RSS +%.0f KiB = %.2f KiB per connection\n",
               (unsigned long long)s.joined, rss, per(rss, s.joined));
        printf("  kernel (both ends of each loopback connection): slab +%.2f KiB, TCP buffers "
               "+%.2f KiB per connection; ss -m: %.2f KiB per server socket (%ld sockets)\n",
               per(slab, s.joined), per(sock_mem, s.joined),
               per(skmem, (uint64_t)(at_idle->ss_sockets > 0 ? at_idle->ss_sockets : 0)),
               at_idle->ss_sockets);
    }

    if (O.scenario == LG_FANOUT && t_win_b) {
        double win_s = (double)(t_win_b - t_win_a) / 1e6;
        double span_s = t_end > t_win_a ? (double)(t_end - t_win_a) / 1e6 : 0;
        double cpu = (double)(at_end->cpu_us - at_a->cpu_us);
        uint64_t expected = s.chat_sent * (uint64_t)O.conns;
        double gen_util = span_s > 0 ? (double)(gen_cpu_b - gen_cpu_a) / 1e6 / span_s : 0;
        json_object_set_new(
            j, "fanout",
            json_pack("{s:i,s:i,s:f,s:f,s:I,s:I,s:I,s:I,s:o,s:f,s:f,s:f,s:I,s:f}", "senders",
                      O.senders, "interval_ms", O.interval_ms, "window_s", win_s, "measured_span_s",
                      span_s, "sent", (json_int_t)s.chat_sent, "late_ticks",
                      (json_int_t)s.chat_late, "expected", (json_int_t)expected, "delivered",
                      (json_int_t)s.delivered, "latency", hist_json(&h[LG_H_CHAT]), "server_cpu_s",
                      cpu / 1e6, "server_us_per_delivered", per(cpu, s.delivered),
                      "delivered_per_server_cpu_s", cpu > 0 ? (double)s.delivered / (cpu / 1e6) : 0,
                      "server_rss_kib", (json_int_t)at_end->rss_kib, "generator_core_share",
                      gen_util));
        printf("  fan-out: %llu messages sent in %.1f s by %d senders, %llu/%llu deliveries\n",
               (unsigned long long)s.chat_sent, win_s, O.senders, (unsigned long long)s.delivered,
               (unsigned long long)expected);
        core_shares(json_object_get(j, "fanout"), at_a, at_end);
        hist_line("chat sent -> received", &h[LG_H_CHAT]);
        printf("  server CPU %.3f s over %.1f s: %.2f us per delivered message, %.0f deliveries "
               "per CPU second; RSS %.1f MiB\n",
               cpu / 1e6, span_s, per(cpu, s.delivered),
               cpu > 0 ? (double)s.delivered / (cpu / 1e6) : 0, (double)at_end->rss_kib / 1024);
        printf("  generator: %.0f%% of one core during the window\n", gen_util * 100);
    }

    if (O.scenario == LG_SN) {
        double last = s.last_match > t_sn0 && t_sn0 ? (double)(s.last_match - t_sn0) / 1e3 : -1;
        json_object_set_new(
            j, "sn",
            json_pack("{s:s,s:I,s:I,s:I,s:f,s:o,s:o,s:o}", "strategy", O.sn_strategy,
                      "participants", (json_int_t)s.sn_joined, "answered", (json_int_t)s.sn_done,
                      "matched", (json_int_t)s.matched, "ms_to_last_match", last, "match",
                      hist_json(&h[LG_H_MATCH]), "sn_join", hist_json(&h[LG_H_SN_JOIN]), "refused",
                      sn_refused[0] ? json_string(sn_refused) : json_null()));
        core_shares(json_object_get(j, "sn"), at_a, at_end);
        /* The server's CPU time (all threads) from just before sn.start to
         * the moment main heard that every participant had its sn.match:
         * less sensitive to a shared machine than the wall time. */
        double srv_ms = at_a->run_ns && at_end->run_ns >= at_a->run_ns
                            ? (double)(at_end->run_ns - at_a->run_ns) / 1e6
                            : -1;
        json_object_set_new(json_object_get(j, "sn"), "server_cpu_ms", json_real(srv_ms));
        json_object_set_new(json_object_get(j, "sn"), "span_ms",
                            json_real((double)(at_end->t - at_a->t) / 1e3));
        /* And all the round start cost, bookkeeping after the last match
         * included: until 1 s after it (the server idles by then). */
        double all_ms = at_a->run_ns && at_after.run_ns >= at_a->run_ns
                            ? (double)(at_after.run_ns - at_a->run_ns) / 1e6
                            : -1;
        json_object_set_new(json_object_get(j, "sn"), "server_cpu_all_ms", json_real(all_ms));
        if (sn_refused[0])
            printf("  sn: refused by the server: %s\n", sn_refused);
        printf("  sn: %llu participants, %llu matched; last sn.match %.1f ms after sn.start\n",
               (unsigned long long)s.sn_joined, (unsigned long long)s.matched, last);
        hist_line("sn.join -> ok", &h[LG_H_SN_JOIN]);
        hist_line("sn.start -> sn.match", &h[LG_H_MATCH]);
        printf("  server CPU %.1f ms over the %.1f ms from sn.start until every match was seen; "
               "%.1f ms until 1 s later\n",
               srv_ms, (double)(at_end->t - at_a->t) / 1e3, all_ms);
    }
    json_object_set_new(j, "generator",
                        json_pack("{s:f,s:I,s:I,s:I}", "cpu_s", (double)s.cpu_us / 1e6, "rx_msgs",
                                  (json_int_t)s.rx_msgs, "rx_bytes", (json_int_t)s.rx_bytes,
                                  "errors", (json_int_t)s.errors));
    printf("  generator: %.2f s CPU in all, %llu messages received, %llu error replies\n",
           (double)s.cpu_us / 1e6, (unsigned long long)s.rx_msgs, (unsigned long long)s.errors);
    return j;
}

int main(int argc, char **argv)
{
    if (parse(argc, argv) < 0) {
        usage(stderr);
        return 1;
    }
    notes = json_array();
    signal(SIGPIPE, SIG_IGN);

    /* Fork the workers, each with its slice of the clients. */
    int per_w = O.conns / O.procs, extra = O.conns % O.procs, first = 0;
    for (int w = 0; w < O.procs; w++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
            perror("socketpair");
            return 1;
        }
        int size = (int)sizeof(lg_result_msg_t) * 2;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        workers[w].first = first;
        workers[w].count = per_w + (w < extra ? 1 : 0);
        first += workers[w].count;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            for (int k = 0; k < w; k++)
                close(workers[k].fd);
            close(sv[0]);
            _exit(lg_worker_run(&O, w, workers[w].first, workers[w].count, sv[1]));
        }
        close(sv[1]);
        workers[w].pid = pid;
        workers[w].fd = sv[0];
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    int64_t t_begin = lg_now_us(), deadline = t_begin + (int64_t)O.timeout_s * 1000000;
    int64_t t_go = 0, t_ramp = 0, t_next = 0, t_win_a = 0, t_win_b = 0, t_end = 0, t_sn0 = 0;
    uint64_t last_delivered = 0, gen_cpu_a = 0, gen_cpu_b = 0, gen_cpu_ramp = 0;
    probe_t base = {0}, at_ramp = {0}, at_idle = {0}, at_a = {0}, at_end = {0};
    phase_t ph = P_READY;
    const char *why_stop = NULL;
    int rc = 0;

    while (ph != P_STOP) {
        pump(10);
        int64_t now = lg_now_us();
        lg_counters_t s = sum();
        bool dead = false;
        for (int w = 0; w < O.procs; w++)
            dead |= workers[w].done;
        if (interrupted || now > deadline || dead) {
            why_stop = interrupted ? "interrupted"
                       : dead      ? "a worker died"
                                   : "timed out (--timeout-s)";
            fprintf(stderr, "ib_loadgen: %s in phase %s\n", why_stop, phase_name[ph]);
            rc = 2;
            break;
        }
        switch (ph) {
        case P_READY: {
            bool ready = true;
            for (int w = 0; w < O.procs; w++)
                ready &= workers[w].ready;
            if (!ready)
                break;
            probe(&base, true);
            t_go = lg_now_us();
            cmd_all(LG_C_GO, t_go, 0, NULL);
            t_next = t_go;
            ph = P_RAMP;
            break;
        }
        case P_RAMP:
            /* A handshake the server never answers would hold the ramp
             * until --timeout-s: give up after 30 s without progress. */
            if (s.joined + s.failed != last_delivered) {
                last_delivered = s.joined + s.failed;
                t_next = now;
            } else if (t_next && now - t_next > 30000000) {
                why_stop = "the ramp stalled: no join or failure for 30 s";
                rc = 2;
                ph = P_STOP;
                break;
            }
            if (!all_ramped())
                break;
            last_delivered = 0;
            t_ramp = s.all_joined;
            gen_cpu_ramp = s.cpu_us;
            probe(&at_ramp, false);
            progress(ph, t_begin, true);
            if (O.scenario == LG_STORM) {
                ph = P_STOP;
            } else if (O.scenario == LG_SN) {
                cmd_one(0, LG_C_SN_CREATE);
                t_next = now + 30 * 1000000;
                ph = P_SN_CREATE;
            } else {
                t_next = now + (int64_t)O.settle_ms * 1000;
                ph = P_SETTLE;
            }
            break;
        case P_SETTLE:
            if (now < t_next)
                break;
            if (O.scenario == LG_IDLE) {
                probe(&at_idle, true);
                t_next = now + (int64_t)O.hold_s * 1000000;
                ph = P_HOLD;
            } else {
                t_win_a = now + (int64_t)O.warmup_s * 1000000;
                t_win_b = t_win_a + (int64_t)O.measure_s * 1000000;
                cmd_all(LG_C_FANOUT, t_win_a, t_win_b, NULL);
                ph = P_WARMUP;
            }
            break;
        case P_HOLD:
            if (now >= t_next)
                ph = P_STOP;
            break;
        case P_WARMUP:
            if (now < t_win_a)
                break;
            probe(&at_a, false);
            gen_cpu_a = s.cpu_us;
            ph = P_MEASURE;
            break;
        case P_MEASURE:
            if (now < t_win_b)
                break;
            last_delivered = s.delivered;
            t_next = now;
            ph = P_DRAIN;
            break;
        case P_DRAIN:
            /* Until every message of the window has reached every member,
             * or nothing more arrived for 2 s, or 60 s. */
            if (s.delivered != last_delivered) {
                last_delivered = s.delivered;
                t_next = now;
            }
            if (s.delivered >= s.chat_sent * (uint64_t)O.conns || now - t_next > 2000000 ||
                now - t_win_b > 60000000) {
                probe(&at_end, false);
                t_end = now;
                gen_cpu_b = s.cpu_us;
                ph = P_STOP;
            }
            break;
        case P_SN_CREATE:
            /* pump() forwards the session id to every worker as it comes. */
            if (session_seen) {
                t_next = 0;
                ph = P_SN_JOIN;
            } else if (sn_refused[0]) {
                rc = 3;
                ph = P_STOP;
            } else if (now > t_next) {
                why_stop = "no answer to sn.create";
                rc = 2;
                ph = P_STOP;
            }
            break;
        case P_SN_JOIN:
            if (s.sn_done < s.joined)
                break;
            if (!t_next) {
                t_next = now + 500000;
                break;
            }
            if (now < t_next)
                break;
            probe(&at_a, false);
            t_sn0 = lg_now_us();
            cmd_all(LG_C_SN_START, t_sn0, 0, NULL);
            t_next = now + 120 * 1000000LL;
            ph = P_SN_ROUND;
            break;
        case P_SN_ROUND:
            if (sn_refused[0]) {
                rc = 3;
                ph = P_STOP;
            } else if (s.matched >= s.sn_joined || now > t_next) {
                probe(&at_end, false);
                t_end = now;
                if (s.matched < s.sn_joined)
                    why_stop = "not every participant got sn.match within 120 s";
                t_next = now + 1000000;
                ph = P_SN_AFTER;
            }
            break;
        case P_SN_AFTER:
            if (now >= t_next) {
                probe(&at_after, false);
                ph = P_STOP;
            }
            break;
        case P_STOP:
            break;
        }
        progress(ph, t_begin, false);
    }

    /* Stop the workers and collect their results (bounded). */
    cmd_all(LG_C_STOP, 0, 0, NULL);
    int64_t give_up = lg_now_us() + 30 * 1000000LL;
    for (;;) {
        bool all = true;
        for (int w = 0; w < O.procs; w++)
            all &= workers[w].done;
        if (all || lg_now_us() > give_up)
            break;
        pump(100);
    }
    for (int w = 0; w < O.procs; w++) {
        int st;
        if (waitpid(workers[w].pid, &st, WNOHANG) == 0) {
            kill(workers[w].pid, SIGKILL);
            waitpid(workers[w].pid, &st, 0);
        }
        close(workers[w].fd);
    }

    json_t *j = report(t_go, t_ramp, &base, &at_ramp, &at_idle, &at_a, &at_end, t_win_a, t_win_b,
                       t_end, t_sn0, gen_cpu_ramp, gen_cpu_a, gen_cpu_b, why_stop);
    if (O.json_path && json_dump_file(j, O.json_path, JSON_INDENT(1)) != 0) {
        fprintf(stderr, "ib_loadgen: cannot write %s\n", O.json_path);
        rc = rc ? rc : 1;
    }
    json_decref(j);
    json_decref(notes);
    return rc;
}
