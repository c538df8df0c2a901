/*
 * icebreaker: `serve` runs a node, `token` mints a signed token.
 *
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or missing
 * configuration (no secret, unknown option).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "icebreaker/ib_config.h"
#include "icebreaker/ib_err.h"
#include "icebreaker/ib_ids.h"
#include "icebreaker/ib_jwt.h"
#include "icebreaker/ib_node.h"
#include "icebreaker/ib_store_redis.h"

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

static void usage(FILE *f)
{
    fprintf(f, "icebreaker: real-time networking server for virtual events\n\n"
               "  icebreaker serve [options]   run a node (icebreaker serve --help)\n"
               "  icebreaker token [options]   print a signed token (icebreaker token --help)\n");
}

static int cmd_serve(int argc, char **argv)
{
    ib_config_t cfg;
    char err[512];
    char node_id[IB_ID_MAX + 1];

    ib_config_defaults(&cfg);
    int rc = ib_config_parse(&cfg, argc, argv, env_lookup, err, sizeof(err));
    if (rc == 1) {
        ib_config_usage(stdout);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "icebreaker: %s\n", err);
        return 2;
    }
    if (ib_config_resolve_secret(&cfg, err, sizeof(err))) {
        fprintf(stderr, "icebreaker: %s\n", err);
        return 2;
    }
    if (cfg.dev)
        fprintf(stderr, "icebreaker: --dev: using the public development secret and enabling "
                        "POST /dev/token; never use this in production\n");
    if (cfg.node_id) {
        if (!ib_id_valid(cfg.node_id)) {
            fprintf(stderr, "icebreaker: --node-id must be 1-64 of A-Z a-z 0-9 . _ -\n");
            return 2;
        }
        snprintf(node_id, sizeof(node_id), "%s", cfg.node_id);
    } else {
        unsigned char r[6];
        RAND_bytes(r, sizeof(r));
        snprintf(node_id, sizeof(node_id), "n-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
                 r[4], r[5]);
    }
    if (!cfg.web_root) {
        /* Default: ./web when run from the source tree. */
        FILE *f = fopen("web/index.html", "r");
        if (f) {
            fclose(f);
            cfg.web_root = "web";
        }
    }
    if (cfg.redis) {
        char host[256];
        int port, db;
        if (ib_redis_url_parse(cfg.redis, host, sizeof(host), &port, &db, err, sizeof(err))) {
            fprintf(stderr, "icebreaker: %s\n", err);
            return 2;
        }
    }
    rc = ib_node_run(&cfg, node_id);
    ib_config_clear(&cfg);
    return rc;
}

static json_t *split_list(const char *s)
{
    json_t *arr = json_array();
    char *copy = strdup(s);
    for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save))
        json_array_append_new(arr, json_string(t));
    free(copy);
    return arr;
}

static void token_usage(FILE *f)
{
    fprintf(f, "usage: icebreaker token --sub ID --name NAME --role ROLE --event EV [--ttl S]\n"
               "         [--booth B] [--headline H] [--interests a,b] [--offers a,b] "
               "[--seeks a,b]\n"
               "         [--email E] [--company C] [--title T] [--url U]\n"
               "         (--jwt-secret S | --jwt-secret-file F | --dev)\n");
}

static int cmd_token(int argc, char **argv)
{
    ib_config_t cfg;
    char err[512];
    json_t *claims = json_object();
    long long ttl = 3600;
    /* Secret options are the serve options; claim options are ours. Split. */
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0, rc = 2;

    ib_config_defaults(&cfg);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        static const char *const strs[] = {"--sub",   "--name",     "--role",  "--event",
                                           "--booth", "--headline", "--email", "--company",
                                           "--title", "--url"};
        static const char *const lists[] = {"--interests", "--offers", "--seeks"};
        bool used = false;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            token_usage(stdout);
            rc = 0;
            goto out;
        }
        for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]) && !used; k++)
            if (!strcmp(a, strs[k]) && i + 1 < argc) {
                json_object_set_new(claims, a + 2, json_string(argv[++i]));
                used = true;
            }
        for (size_t k = 0; k < 3 && !used; k++)
            if (!strcmp(a, lists[k]) && i + 1 < argc) {
                json_object_set_new(claims, a + 2, split_list(argv[++i]));
                used = true;
            }
        if (!used && !strcmp(a, "--ttl") && i + 1 < argc) {
            ttl = atoll(argv[++i]);
            used = true;
        }
        if (!used)
            rest[nrest++] = argv[i];
    }
    if (ib_config_parse(&cfg, nrest, rest, env_lookup, err, sizeof(err)) ||
        ib_config_resolve_secret(&cfg, err, sizeof(err))) {
        fprintf(stderr, "icebreaker token: %s\n", err);
        token_usage(stderr);
        goto out;
    }
    if (ttl <= 0) {
        fprintf(stderr, "icebreaker token: --ttl must be a positive number of seconds\n");
        goto out;
    }
    json_object_set_new(claims, "exp", json_integer((json_int_t)(time(NULL) + ttl)));
    char *token = ib_jwt_sign(claims, cfg.secret, cfg.secret_len);
    ib_claims_t check;
    int vrc =
        token ? ib_jwt_verify(token, cfg.secret, cfg.secret_len, time(NULL), &check) : IB_ENOMEM;
    if (vrc) {
        fprintf(stderr,
                "icebreaker token: %s: --sub, --name, --role and --event are required; "
                "ids are 1-64 of A-Z a-z 0-9 . _ -\n",
                ib_strerror(vrc));
        free(token);
        goto out;
    }
    ib_claims_clear(&check);
    printf("%s\n", token);
    free(token);
    rc = 0;
out:
    free(rest);
    json_decref(claims);
    ib_config_clear(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "serve"))
        return cmd_serve(argc - 2, argv + 2);
    if (!strcmp(argv[1], "token"))
        return cmd_token(argc - 2, argv + 2);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
