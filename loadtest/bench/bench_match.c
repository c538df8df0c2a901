/*
 * Matching benchmark (issue 3): not a test. Times ib_match_run on seeded
 * events of realistic people (tests/unit/match_gen.h: Zipf interests,
 * buyers and sellers) over a 10-round session, per strategy, and reports
 * per-round times, the session's affinity and repeats, and the peak memory
 * of the process that ran it.
 *
 *   bench_match [-r ROUNDS] [-s SEED] [-S random,rotate,interests] N...
 *
 * Each (N, strategy) runs in a child process of its own, so that the peak
 * RSS reported (wait4's ru_maxrss) is that session's alone: pool,
 * history and the engine's scratch memory. Pin it to one core with
 * `taskset -c 1` for the figures in loadtest/RESULTS.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "icebreaker/ib_match.h"
#include "match_gen.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this (single-threaded) process: the figure that holds on a
 * shared machine, where wall time also counts other processes' turns. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One session in this process; prints one line per round and a summary. */
static int session(size_t n, ib_match_strategy_t strat, unsigned rounds, uint64_t seed)
{
    double t0 = now_ms();
    ib_match_pool_t *pool = ib_match_pool_new();
    if (!pool || gen_people(pool, 0, n, n, seed)) {
        fprintf(stderr, "out of memory building %zu people\n", n);
        return 1;
    }
    double build = now_ms() - t0;
    long rss_pool = rss_kb();
    ib_match_opts_t o = {strat, IB_MATCH_ODD_TRIO, 2, seed, 0, 0};
    double *ms = calloc(rounds, sizeof(double)), *cpu = calloc(rounds, sizeof(double));
    long total_aff = 0;
    size_t total_rep = 0, exhausted = 0;
    for (unsigned k = 0; k < rounds; k++) {
        o.round = k;
        ib_match_result_t r = {0};
        double a = now_ms(), c = cpu_ms();
        int rc = ib_match_run(pool, NULL, 0, &o, &r);
        ms[k] = now_ms() - a;
        cpu[k] = cpu_ms() - c;
        if (rc) {
            fprintf(stderr, "ib_match_run: %d\n", rc);
            return 1;
        }
        printf("  n=%zu %s round %u: cpu %.2f ms, wall %.2f ms, %zu groups, %zu byes, affinity "
               "%ld, repeats %zu%s\n",
               n, ib_match_strategy_name(strat), k + 1, cpu[k], ms[k], r.n_groups, r.n_byes,
               r.affinity, r.repeats, r.exhausted ? " (search bound hit)" : "");
        total_aff += r.affinity;
        total_rep += r.repeats;
        exhausted += r.exhausted;
        if (ib_match_commit(pool, &r, k + 1)) {
            fprintf(stderr, "ib_match_commit: out of memory\n");
            return 1;
        }
        ib_match_result_clear(&r);
    }
    double sum = 0, csum = 0;
    for (unsigned k = 0; k < rounds; k++) {
        sum += ms[k];
        csum += cpu[k];
    }
    qsort(ms, rounds, sizeof(double), cmp_double);
    qsort(cpu, rounds, sizeof(double), cmp_double);
    printf("RESULT n=%zu strategy=%s rounds=%u build_ms=%.1f cpu_min_ms=%.2f cpu_mean_ms=%.2f "
           "cpu_max_ms=%.2f "
           "wall_mean_ms=%.2f wall_max_ms=%.2f affinity=%ld repeats=%zu bounded_rounds=%zu "
           "rss_after_build_kb=%ld\n",
           n, ib_match_strategy_name(strat), rounds, build, cpu[0], csum / rounds, cpu[rounds - 1],
           sum / rounds, ms[rounds - 1], total_aff, total_rep, exhausted, rss_pool);
    fflush(stdout);
    free(ms);
    free(cpu);
    ib_match_pool_free(pool);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned rounds = 10;
    uint64_t seed = 7;
    const char *strategies = "interests,random,rotate";
    int opt;
    while ((opt = getopt(argc, argv, "r:s:S:")) != -1) {
        if (opt == 'r')
            rounds = (unsigned)strtoul(optarg, NULL, 10);
        else if (opt == 's')
            seed = strtoull(optarg, NULL, 10);
        else if (opt == 'S')
            strategies = optarg;
        else {
            fprintf(stderr, "usage: %s [-r ROUNDS] [-s SEED] [-S list] N...\n", argv[0]);
            return 2;
        }
    }
    if (optind >= argc || rounds == 0) {
        fprintf(stderr, "usage: %s [-r ROUNDS] [-s SEED] [-S list] N...\n", argv[0]);
        return 2;
    }
    int bad = 0;
    for (int a = optind; a < argc; a++) {
        size_t n = strtoull(argv[a], NULL, 10);
        char list[128];
        snprintf(list, sizeof(list), "%s", strategies);
        char *save = NULL;
        for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
            ib_match_strategy_t strat;
            if (ib_match_strategy_parse(s, &strat)) {
                fprintf(stderr, "unknown strategy %s\n", s);
                return 2;
            }
            fflush(stdout);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0)
                _exit(session(n, strat, rounds, seed));
            int status;
            struct rusage ru;
            while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
                ;
            printf("PEAK n=%zu strategy=%s peak_rss_kb=%ld user_s=%.2f sys_s=%.2f\n", n, s,
                   ru.ru_maxrss, (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
                   (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
            bad |= !WIFEXITED(status) || WEXITSTATUS(status);
        }
    }
    return bad;
}
