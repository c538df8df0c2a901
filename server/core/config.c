/*
 * Command line and environment parsing for `icebreaker serve`, driven by
 * the option tables of ib_config.h. Pure: the environment comes in as a
 * lookup function, so tests can hand in a fake one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_config.h"
#include "icebreaker/ib_err.h"

void ib_config_defaults(ib_config_t *c)
{
    memset(c, 0, sizeof(*c));
#define IB__CFG_STR_DEF(f, flag, env, def, help) c->f = def;
    IB_CONFIG_STRINGS(IB__CFG_STR_DEF)
#undef IB__CFG_STR_DEF
#define IB__CFG_NUM_DEF(f, flag, env, def, lo, hi, help) c->f = def;
    IB_CONFIG_NUMBERS(IB__CFG_NUM_DEF)
#undef IB__CFG_NUM_DEF
}

static int parse_number(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out,
                        char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        snprintf(err, errlen,
                 "%s: expected a whole number from %" PRId64 " to %" PRId64 ", got '%s'", name, lo,
                 hi, text);
        return IB_EBADREQ;
    }
    *out = v;
    return 0;
}

static int add_origin(ib_config_t *c, const char *o, char *err, size_t errlen)
{
    if (c->n_origins == IB_ORIGINS_MAX) {
        snprintf(err, errlen, "--origin: at most %d origins", IB_ORIGINS_MAX);
        return IB_EBADREQ;
    }
    c->origins[c->n_origins++] = o;
    return 0;
}

static bool env_true(const char *v)
{
    return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

int ib_config_parse(ib_config_t *c, int argc, char **argv, const char *(*getenv_fn)(const char *),
                    char *err, size_t errlen)
{
    const char *v;
    int rc;

    if (getenv_fn) {
#define IB__CFG_STR_ENV(f, flag, env, def, help)                                                   \
    if ((v = getenv_fn(env)) && *v)                                                                \
        c->f = v;
        IB_CONFIG_STRINGS(IB__CFG_STR_ENV)
#undef IB__CFG_STR_ENV
#define IB__CFG_NUM_ENV(f, flag, env, def, lo, hi, help)                                           \
    if ((v = getenv_fn(env)) && *v && (rc = parse_number(env, v, lo, hi, &c->f, err, errlen)))     \
        return rc;
        IB_CONFIG_NUMBERS(IB__CFG_NUM_ENV)
#undef IB__CFG_NUM_ENV
        if (env_true(getenv_fn("ICEBREAKER_DEV")))
            c->dev = true;
        /* ICEBREAKER_ORIGIN: a comma-separated list; the strings stay
         * borrowed from the environment, so split into a private copy. */
        if ((v = getenv_fn("ICEBREAKER_ORIGIN")) && *v) {
            static char origins_buf[4096];
            snprintf(origins_buf, sizeof(origins_buf), "%s", v);
            for (char *save = NULL, *tok = strtok_r(origins_buf, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save))
                if ((rc = add_origin(c, tok, err, errlen)))
                    return rc;
        }
    }

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = NULL;
        char flag[64];
        const char *eq = strchr(arg, '=');

        if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
            return 1;
        if (!strcmp(arg, "--dev")) {
            c->dev = true;
            continue;
        }
        /* --flag=value and --flag value are both accepted. */
        if (eq && (size_t)(eq - arg) < sizeof(flag)) {
            memcpy(flag, arg, (size_t)(eq - arg));
            flag[eq - arg] = 0;
            val = eq + 1;
        } else {
            snprintf(flag, sizeof(flag), "%s", arg);
            if (i + 1 < argc)
                val = argv[i + 1], i++;
        }
        if (!val) {
            snprintf(err, errlen, "%s: missing value", flag);
            return IB_EBADREQ;
        }
        if (!strcmp(flag, "--origin")) {
            if ((rc = add_origin(c, val, err, errlen)))
                return rc;
            continue;
        }
#define IB__CFG_STR_ARG(f, fl, env, def, help)                                                     \
    if (!strcmp(flag, fl)) {                                                                       \
        c->f = val;                                                                                \
        continue;                                                                                  \
    }
        IB_CONFIG_STRINGS(IB__CFG_STR_ARG)
#undef IB__CFG_STR_ARG
#define IB__CFG_NUM_ARG(f, fl, env, def, lo, hi, help)                                             \
    if (!strcmp(flag, fl)) {                                                                       \
        if ((rc = parse_number(fl, val, lo, hi, &c->f, err, errlen)))                              \
            return rc;                                                                             \
        continue;                                                                                  \
    }
        IB_CONFIG_NUMBERS(IB__CFG_NUM_ARG)
#undef IB__CFG_NUM_ARG
        snprintf(err, errlen, "unknown option '%s' (see --help)", flag);
        return IB_EBADREQ;
    }
    if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together");
        return IB_EBADREQ;
    }
    return 0;
}

int ib_config_resolve_secret(ib_config_t *c, char *err, size_t errlen)
{
    free(c->secret);
    c->secret = NULL;
    c->secret_len = 0;
    if (c->jwt_secret_file) {
        FILE *f = fopen(c->jwt_secret_file, "rb");
        if (!f) {
            snprintf(err, errlen, "cannot read --jwt-secret-file %s: %s", c->jwt_secret_file,
                     strerror(errno));
            return IB_EUNAUTH;
        }
        unsigned char buf[4096];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (n == 0) {
            snprintf(err, errlen, "--jwt-secret-file %s is empty", c->jwt_secret_file);
            return IB_EUNAUTH;
        }
        c->secret = malloc(n);
        if (!c->secret)
            return IB_ENOMEM;
        memcpy(c->secret, buf, n);
        c->secret_len = n;
        return 0;
    }
    const char *s = c->jwt_secret;
    if (!s && c->dev)
        s = IB_DEV_SECRET;
    if (!s || !*s) {
        snprintf(err, errlen,
                 "no JWT secret: pass --jwt-secret, --jwt-secret-file or ICEBREAKER_JWT_SECRET "
                 "(or --dev for the public development secret)");
        return IB_EUNAUTH;
    }
    c->secret_len = strlen(s);
    c->secret = malloc(c->secret_len);
    if (!c->secret)
        return IB_ENOMEM;
    memcpy(c->secret, s, c->secret_len);
    return 0;
}

void ib_config_usage(void *file)
{
    FILE *out = file;
    fprintf(out, "usage: icebreaker serve [options]\n\n"
                 "  --dev                     development mode: public secret "
                 "'" IB_DEV_SECRET "', POST /dev/token (ICEBREAKER_DEV=1)\n"
                 "  --origin ORIGIN           allowed browser Origin, repeatable "
                 "(ICEBREAKER_ORIGIN, comma-separated)\n");
#define IB__CFG_STR_HELP(f, flag, env, def, help)                                                  \
    fprintf(out, "  %-25s %s (%s%s%s)\n", flag " S", help, env, def ? ", default " : "",           \
            def ? (const char *)def : "");
    IB_CONFIG_STRINGS(IB__CFG_STR_HELP)
#undef IB__CFG_STR_HELP
#define IB__CFG_NUM_HELP(f, flag, env, def, lo, hi, help)                                          \
    fprintf(out, "  %-25s %s (%s, default %lld)\n", flag " N", help, env, (long long)def);
    IB_CONFIG_NUMBERS(IB__CFG_NUM_HELP)
#undef IB__CFG_NUM_HELP
}

void ib_config_clear(ib_config_t *c)
{
    free(c->secret);
    c->secret = NULL;
    c->secret_len = 0;
}
