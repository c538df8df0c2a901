/*
 * Plain HTTP on the WebSocket port: /healthz, /metrics, POST /dev/token
 * (--dev only) and the web client's static files. Each request is answered
 * whole: the body is built in memory (all of these are small), headers are
 * written at once and the body from the HTTP_WRITEABLE callback. The booth
 * API with several nodes waits for Redis: its answer is kept (http_ready)
 * and written from the next HTTP_WRITEABLE callbacks, headers then body; a
 * connection that closes first leaves the answer to be dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "icebreaker/ib_booth.h"
#include "icebreaker/ib_sn.h"
#include "icebreaker/ib_err.h"
#include "icebreaker/ib_ids.h"
#include "icebreaker/ib_jwt.h"
#include "net_internal.h"

#define IB_STATIC_MAX (8u << 20)

/* An answer awaited from the shared store (booth API with several nodes):
 * forgotten by the connection when it closes first. */
typedef struct http_wait {
    ib_conn_t *c;
    struct lws *wsi;
    bool csv;
} http_wait_t;

void ib__http_free(ib_conn_t *c)
{
    if (c->http_wait) {
        ((http_wait_t *)c->http_wait)->c = NULL;
        c->http_wait = NULL;
    }
    if (c->http_ready) {
        free(c->http_ready->body);
        free(c->http_ready);
        c->http_ready = NULL;
    }
    if (c->http) {
        free(c->http->body);
        free(c->http->extra_headers);
        free(c->http);
        c->http = NULL;
    }
    free(c->http_body);
    c->http_body = NULL;
    c->http_body_len = 0;
    free(c->http_uri);
    c->http_uri = NULL;
}

/* Queue a response: body (malloc'ed, with LWS_PRE headroom already in
 * front, len bytes after it) is taken over. */
static int respond_raw(struct lws *wsi, ib_conn_t *c, int status, const char *ctype, char *body,
                       size_t len)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof(hdr) - 1;
    free(c->http ? c->http->body : NULL);
    free(c->http);
    c->http = calloc(1, sizeof(*c->http));
    if (!c->http) {
        free(body);
        return -1;
    }
    c->http->body = body;
    c->http->len = len;
    c->http->status = status;
    if (lws_add_http_common_headers(wsi, (unsigned)status, ctype, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int respond(struct lws *wsi, ib_conn_t *c, int status, const char *ctype, const char *data,
                   size_t len)
{
    char *body = malloc(LWS_PRE + len + 1);
    if (!body)
        return -1;
    memcpy(body + LWS_PRE, data, len);
    return respond_raw(wsi, c, status, ctype, body, len);
}

static int respond_json(struct lws *wsi, ib_conn_t *c, int status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s)
        return -1;
    int rc = respond(wsi, c, status, "application/json", s, strlen(s));
    free(s);
    return rc;
}

static int respond_error(struct lws *wsi, ib_conn_t *c, int status, const char *code,
                         const char *message)
{
    return respond_json(wsi, c, status, json_pack("{s:s,s:s}", "error", code, "message", message));
}

int ib__http_writeable(ib_node_t *node, struct lws *wsi, ib_conn_t *c)
{
    (void)node;
    if (c->http_ready) {
        /* Headers now (from this callback), the body at the next one. */
        ib_http_out_t *o = c->http_ready;
        c->http_ready = NULL;
        int rc = respond_raw(wsi, c, o->status, o->ctype, o->body, o->len);
        free(o);
        return rc;
    }
    if (!c->http)
        return 0;
    int n = lws_write(wsi, (unsigned char *)c->http->body + LWS_PRE, c->http->len,
                      LWS_WRITE_HTTP_FINAL);
    free(c->http->body);
    free(c->http);
    c->http = NULL;
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int serve_health(ib_node_t *node, struct lws *wsi, ib_conn_t *c)
{
    int code;
    const char *status = ib_server_health(node->srv, &code);
    return respond_json(wsi, c, code,
                        json_pack("{s:s,s:s,s:I,s:s}", "status", status, "node", node->srv->node_id,
                                  "connections", (json_int_t)node->srv->n_connections, "redis",
                                  node->store->ops->health(node->store)));
}

static int serve_metrics(ib_node_t *node, struct lws *wsi, ib_conn_t *c)
{
    size_t len;
    char *text = ib_metrics_render(node->srv, &len);
    if (!text)
        return respond_error(wsi, c, 500, "internal", "out of memory");
    int rc = respond(wsi, c, 200, "text/plain; version=0.0.4", text, len);
    free(text);
    return rc;
}

/* Comma-separated list or array from the dev form into a JSON array. */
static json_t *tags(json_t *v)
{
    if (json_is_array(v))
        return json_incref(v);
    json_t *arr = json_array();
    if (json_is_string(v)) {
        char *copy = strdup(json_string_value(v));
        for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
             t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ')
                t++;
            size_t n = strlen(t);
            while (n && t[n - 1] == ' ')
                t[--n] = 0;
            if (n)
                json_array_append_new(arr, json_string(t));
        }
        free(copy);
    }
    return arr;
}

/* POST /dev/token: mint a token for the web client's sign-in form. */
static int serve_dev_token(ib_node_t *node, struct lws *wsi, ib_conn_t *c)
{
    json_error_t jerr;
    json_t *in = c->http_body ? json_loadb(c->http_body, c->http_body_len, 0, &jerr) : NULL;
    if (!json_is_object(in)) {
        json_decref(in);
        return respond_error(wsi, c, 400, "bad_request", "body must be a JSON object");
    }
    json_t *claims = json_object();
    static const char *const copy[] = {"name",  "role",    "event", "headline", "booth",
                                       "email", "company", "title", "url"};
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        json_t *v = json_object_get(in, copy[i]);
        if (v && !(json_is_string(v) && json_string_length(v) == 0))
            json_object_set(claims, copy[i], v);
    }
    static const char *const lists[] = {"interests", "offers", "seeks"};
    for (size_t i = 0; i < 3; i++)
        json_object_set_new(claims, lists[i], tags(json_object_get(in, lists[i])));
    json_t *sub = json_object_get(in, "sub");
    if (json_is_string(sub) && json_string_length(sub)) {
        json_object_set(claims, "sub", sub);
    } else {
        unsigned char r[6];
        char id[32];
        RAND_bytes(r, sizeof(r));
        snprintf(id, sizeof(id), "u-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
        json_object_set_new(claims, "sub", json_string(id));
    }
    json_decref(in);
    json_object_set_new(claims, "exp", json_integer(ib__now_ms() / 1000 + 12 * 3600));
    char *token = ib_jwt_sign(claims, node->cfg->secret, node->cfg->secret_len);
    json_decref(claims);
    ib_claims_t check;
    int rc = token ? ib_jwt_verify(token, node->cfg->secret, node->cfg->secret_len,
                                   ib__now_ms() / 1000, &check)
                   : IB_ENOMEM;
    if (rc) {
        free(token);
        return respond_error(
            wsi, c, 400, "bad_request",
            "name, role (attendee, host, exhibitor, admin) and event are required; "
            "ids are 1-64 of A-Z a-z 0-9 . _ -");
    }
    ib_claims_clear(&check);
    rc = respond_json(wsi, c, 200, json_pack("{s:s}", "token", token));
    free(token);
    return rc;
}

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

/* Static files under the web root. Only plain relative paths of safe
 * characters are served: no "..", no hidden files, nothing outside. */
static int serve_static(ib_node_t *node, struct lws *wsi, ib_conn_t *c, const char *uri)
{
    const char *root = node->cfg->web_root;
    if (!root)
        return respond_error(wsi, c, 404, "not_found", "no web client configured (--web-root)");
    char rel[512];
    snprintf(rel, sizeof(rel), "%s", !strcmp(uri, "/") ? "/index.html" : uri);
    char *q = strchr(rel, '?');
    if (q)
        *q = 0;
    for (const char *p = rel; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '/' || *p == '.' || *p == '_' || *p == '-';
        if (!ok || (p[0] == '/' && p[1] == '.'))
            return respond_error(wsi, c, 404, "not_found", "no such file");
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s%s", root, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > IB_STATIC_MAX) {
        if (fd >= 0)
            close(fd);
        return respond_error(wsi, c, 404, "not_found", "no such file");
    }
    size_t len = (size_t)st.st_size;
    char *body = malloc(LWS_PRE + len + 1);
    size_t got = 0;
    while (body && got < len) {
        ssize_t n = read(fd, body + LWS_PRE + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!body || got != len) {
        free(body);
        return respond_error(wsi, c, 500, "internal", "cannot read file");
    }
    return respond_raw(wsi, c, 200, content_type(rel), body, len);
}

/* Verify the request's "Authorization: Bearer <token>". Returns 0 with
 * *claims filled, or the HTTP status to answer (401). */
static int bearer(ib_node_t *node, struct lws *wsi, ib_claims_t *claims)
{
    char auth[IB_JWT_MAX_LEN + 16];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 0 || n >= (int)sizeof(auth) ||
        lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) < 0 ||
        strncasecmp(auth, "Bearer ", 7) != 0)
        return 401;
    const char *token = auth + 7;
    while (*token == ' ')
        token++;
    int64_t now = ib__now_ms();
    if (ib_jwt_verify(token, node->cfg->secret, node->cfg->secret_len, now / 1000, claims))
        return 401;
    if (ib_event_kicked(ib_event_get(node->srv, claims->event, false), claims->sub, now)) {
        ib_claims_clear(claims);
        return 401;
    }
    return 0;
}

static bool wants_csv(struct lws *wsi)
{
    char accept[256];
    return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_ACCEPT) > 0 &&
           lws_hdr_copy(wsi, accept, sizeof(accept), WSI_TOKEN_HTTP_ACCEPT) > 0 &&
           strstr(accept, "text/csv") != NULL;
}

/* The store answered: keep the response for the next writeable callback. */
static void booth_api_answer(void *arg, json_t *v)
{
    http_wait_t *w = arg;
    ib_conn_t *c = w->c;
    if (!c) {
        free(w);
        return;
    }
    c->http_wait = NULL;
    int status = v ? 200 : 503;
    const char *ctype = "application/json";
    char *text = NULL;
    size_t len = 0;
    if (!v) {
        json_t *e = json_pack("{s:s,s:s}", "error", "unavailable", "message",
                              "the shared store is unavailable");
        text = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
    } else if (w->csv) {
        text = ib_booth_csv(v, &len);
        ctype = "text/csv; charset=utf-8";
    } else {
        text = json_dumps(v, JSON_COMPACT);
    }
    if (text && !w->csv)
        len = strlen(text);
    ib_http_out_t *o = calloc(1, sizeof(*o));
    char *body = text ? malloc(LWS_PRE + len + 1) : NULL;
    if (o && body) {
        memcpy(body + LWS_PRE, text, len);
        o->body = body;
        o->len = len;
        o->status = status;
        o->ctype = ctype;
        c->http_ready = o;
        lws_callback_on_writable(w->wsi);
    } else {
        free(o);
        free(body);
        lws_set_timeout(w->wsi, PENDING_TIMEOUT_CLOSE_ACK, LWS_TO_KILL_ASYNC);
    }
    free(text);
    free(w);
}

/* GET /api/booths/<booth>/leads and /api/booths/<booth>/stats */
static int serve_booth_api(ib_node_t *node, struct lws *wsi, ib_conn_t *c, const char *rest)
{
    char booth[IB_ID_MAX + 1];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : 0;
    if (!slash || n == 0 || n > IB_ID_MAX)
        return respond_error(wsi, c, 404, "not_found", "no such resource");
    memcpy(booth, rest, n);
    booth[n] = 0;
    const char *what = slash + 1;
    if (!ib_id_valid(booth) || (strcmp(what, "leads") && strcmp(what, "stats")))
        return respond_error(wsi, c, 404, "not_found", "no such resource");
    ib_claims_t claims;
    if (bearer(node, wsi, &claims))
        return respond_error(wsi, c, 401, "unauthorized", "a valid Bearer token is required");
    if (!ib_booth_may_export(claims.role, claims.booth, booth)) {
        ib_claims_clear(&claims);
        return respond_error(wsi, c, 403, "forbidden", "only this booth's staff or an admin");
    }
    bool csv = strcmp(what, "stats") && wants_csv(wsi);
    http_wait_t *w = calloc(1, sizeof(*w));
    if (w) {
        /* Several nodes: every node's leads and stats, from the store. */
        w->c = c;
        w->wsi = wsi;
        w->csv = csv;
        c->http_wait = w;
        if (ib_booth_api_async(node->srv, claims.event, booth, strcmp(what, "stats") != 0,
                               booth_api_answer, w) == 0) {
            ib_claims_clear(&claims);
            return 0;
        }
        c->http_wait = NULL;
        free(w);
    }
    ib_event_t *ev = ib_event_get(node->srv, claims.event, false);
    ib_claims_clear(&claims);
    if (!strcmp(what, "stats"))
        return respond_json(wsi, c, 200, ib_booth_stats_json(ev, booth));
    if (wants_csv(wsi)) {
        size_t len;
        char *csv = ib_booth_leads_csv(ev, booth, &len);
        if (!csv)
            return respond_error(wsi, c, 500, "internal", "out of memory");
        int rc = respond(wsi, c, 200, "text/csv; charset=utf-8", csv, len);
        free(csv);
        return rc;
    }
    return respond_json(wsi, c, 200, ib_booth_leads_json(ev, booth));
}

/* GET /api/sessions/<id>/report: hosts and admins of the session's event. */
static int serve_sn_report(ib_node_t *node, struct lws *wsi, ib_conn_t *c, const char *rest)
{
    char id[IB_ID_MAX + 1];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : 0;
    if (!slash || n == 0 || n > IB_ID_MAX || strcmp(slash, "/report"))
        return respond_error(wsi, c, 404, "not_found", "no such resource");
    memcpy(id, rest, n);
    id[n] = 0;
    ib_claims_t claims;
    if (bearer(node, wsi, &claims))
        return respond_error(wsi, c, 401, "unauthorized", "a valid Bearer token is required");
    bool allowed = claims.role == IB_ROLE_HOST || claims.role == IB_ROLE_ADMIN;
    ib_event_t *ev = ib_event_get(node->srv, claims.event, false);
    if (!allowed) {
        ib_claims_clear(&claims);
        return respond_error(wsi, c, 403, "forbidden", "hosts and admins only");
    }
    json_t *rep = ib_id_valid(id) ? ib_sn_report_json(ev, id, ib__now_ms()) : NULL;
    /* Several nodes: a session driven by another node answers through it. */
    http_wait_t *w = !rep && ib_id_valid(id) ? calloc(1, sizeof(*w)) : NULL;
    if (w) {
        w->c = c;
        w->wsi = wsi;
        c->http_wait = w;
        if (ib_sn_report_async(node->srv, claims.event, id, booth_api_answer, w) == 0) {
            ib_claims_clear(&claims);
            return 0;
        }
        c->http_wait = NULL;
        free(w);
    }
    ib_claims_clear(&claims);
    if (!rep)
        return respond_error(wsi, c, 404, "not_found", "no such session in your event");
    return respond_json(wsi, c, 200, rep);
}

int ib__http_request(ib_node_t *node, struct lws *wsi, ib_conn_t *c)
{
    const char *uri = c->http_uri ? c->http_uri : "/";
    if (c->http_post) {
        if (!strcmp(uri, "/dev/token")) {
            if (!node->cfg->dev)
                return respond_error(wsi, c, 404, "not_found", "/dev/token needs --dev");
            return serve_dev_token(node, wsi, c);
        }
        return respond_error(wsi, c, 405, "bad_request", "method not allowed");
    }
    if (!strcmp(uri, "/healthz"))
        return serve_health(node, wsi, c);
    if (!strcmp(uri, "/metrics"))
        return serve_metrics(node, wsi, c);
    if (!strncmp(uri, "/api/booths/", 12))
        return serve_booth_api(node, wsi, c, uri + 12);
    if (!strncmp(uri, "/api/sessions/", 14))
        return serve_sn_report(node, wsi, c, uri + 14);
    if (!strncmp(uri, "/api/", 5))
        return respond_error(wsi, c, 404, "not_found", "no such resource");
    if (!strcmp(uri, "/ws"))
        return respond_error(wsi, c, 426, "bad_request", "WebSocket upgrade required");
    return serve_static(node, wsi, c, uri);
}
