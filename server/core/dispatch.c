/*
 * The dispatcher: one complete client message in, exactly one reply out.
 *
 * Order of checks, each with the answer CONTRACT.md gives it: closing
 * sessions ignore input; the rate limit (rate_limited, then 1008 for
 * abuse); before hello anything but a valid hello is `unauthorized` and
 * close 4001; binary or undecodable messages are `bad_request`; the verb's
 * role (forbidden); then the handler from the table built out of IB_VERBS.
 */
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

typedef int (*ib_handler_fn)(ib_req_t *req);

static const ib_handler_fn handlers[IB_VERB__COUNT] = {
#define IB__HANDLER_ENTRY(name, wire, roles, flags) [IB_VERB_##name] = ib_h_##name,
    IB_VERBS(IB__HANDLER_ENTRY)
#undef IB__HANDLER_ENTRY
};

static void count_error(ib_server_t *srv, int err)
{
    if (err > IB__ERR_FIRST && err < IB__ERR_LAST)
        srv->metrics.errors_by_code[err - IB__ERR_FIRST]++;
}

static void reply_error(ib_session_t *s, const json_t *id, int err, const char *why)
{
    count_error(s->srv, err);
    ib_session_send_json(s, ib_reply_error(id, err, why));
}

void ib__reply_ok(ib_req_t *req, json_t *fields)
{
    json_t *ok = ib_reply_ok(req->m->id);
    if (fields) {
        json_object_update(ok, fields);
        json_decref(fields);
    }
    ib_session_send_json(req->s, ok);
}

ib_pending_t *ib__pending_new(ib_req_t *req)
{
    ib_pending_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->s = req->s;
    p->id = req->m->id ? json_deep_copy(req->m->id) : NULL;
    p->now = req->now;
    ib__session_hold(p->s);
    return p;
}

static void pending_free(ib_pending_t *p)
{
    ib__session_release(p->s);
    json_decref(p->id);
    free(p);
}

void ib__pending_ok(ib_pending_t *p, json_t *fields)
{
    json_t *ok = ib_reply_ok(p->id);
    if (fields) {
        json_object_update(ok, fields);
        json_decref(fields);
    }
    ib_session_send_json(p->s, ok);
    pending_free(p);
}

void ib__pending_ok_buf(ib_pending_t *p, ib_buf_t *buf)
{
    ib_session_send(p->s, buf);
    pending_free(p);
}

void ib__pending_error(ib_pending_t *p, int err, const char *why)
{
    reply_error(p->s, p->id, err, why);
    pending_free(p);
}

static void refuse_unauthenticated(ib_session_t *s, const json_t *id, const char *why)
{
    s->srv->metrics.hello_fail++;
    reply_error(s, id, IB_EUNAUTH, why);
    ib_session_close(s, IB_CLOSE_AUTH, "hello required", false);
}

void ib_session_receive(ib_session_t *s, const char *data, size_t len, bool binary, int64_t now)
{
    ib_server_t *srv = s->srv;
    ib_msg_t m;
    const char *why = NULL;

    srv->now = now;
    if (s->close_code || (s->state != IB_SESSION_HELLO && s->state != IB_SESSION_LIVE))
        return;
    if (ib__session_defer(s, data, len, binary))
        return; /* a hello waits for the shared store; replayed after it */

    ib_rate_verdict_t verdict = ib_ratelimit_take(&s->rl, (uint64_t)now);
    if (verdict == IB_RATE_ABUSE) {
        srv->metrics.rate_limited++;
        ib_session_close(s, IB_CLOSE_POLICY, "rate limit abuse", true);
        return;
    }

    if (binary) {
        if (s->state == IB_SESSION_HELLO)
            refuse_unauthenticated(s, NULL, "the first message must be hello");
        else
            reply_error(s, NULL, IB_EBADREQ, "binary messages are not accepted");
        return;
    }

    int rc = ib_msg_decode(data, len, &m, &why);
    if (s->state == IB_SESSION_HELLO && (rc || m.verb != IB_VERB_hello)) {
        refuse_unauthenticated(s, m.id, "the first message must be hello");
        goto out;
    }
    if (verdict == IB_RATE_REFUSE) {
        srv->metrics.rate_limited++;
        reply_error(s, m.id, IB_ERATE, "too many messages: slow down");
        goto out;
    }
    if (rc) {
        if (m.verb == IB_VERB_UNKNOWN)
            srv->metrics.in_unknown++;
        reply_error(s, m.id, rc, why);
        goto out;
    }
    srv->metrics.in_by_verb[m.verb]++;
    if (s->state == IB_SESSION_LIVE && !(ib_verb_table[m.verb].roles & s->user->role)) {
        reply_error(s, m.id, IB_EFORBIDDEN, "your role may not do this");
        goto out;
    }
    ib_req_t req = {.s = s, .m = &m, .now = now};
    rc = handlers[m.verb](&req);
    if (rc)
        reply_error(s, m.id, rc, req.why);
out:
    ib_msg_clear(&m);
}
