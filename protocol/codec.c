/*
 * The JSON codec of the envelope: decoding a client message into a typed
 * ib_msg_t, typed field accessors that say why a field is refused, and the
 * two reply shapes (ok, error). Everything a client sends passes through
 * here first, so every failure is a return code with a reason, never a
 * crash: messages are parsed by jansson with a depth limit of its own and
 * looked up in the verb table built from IB_VERBS.
 */
#include <string.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_proto.h"

const ib_verb_info_t ib_verb_table[IB_VERB__COUNT] = {
#define IB__VERB_INFO(name, wire, roles, flags) [IB_VERB_##name] = {wire, roles, flags},
    IB_VERBS(IB__VERB_INFO)
#undef IB__VERB_INFO
};

ib_verb_t ib_verb_lookup(const char *wire)
{
    for (int i = 0; i < IB_VERB__COUNT; i++)
        if (strcmp(ib_verb_table[i].wire, wire) == 0)
            return (ib_verb_t)i;
    return IB_VERB_UNKNOWN;
}

/* An id is echoed back as `re`, so only scalars of bounded size qualify. */
static bool id_acceptable(const json_t *id)
{
    if (json_is_integer(id) || json_is_real(id))
        return true;
    return json_is_string(id) && json_string_length(id) <= 256;
}

static bool has_nul(const json_t *s)
{
    return strlen(json_string_value(s)) != json_string_length(s);
}

int ib_msg_decode(const char *data, size_t len, ib_msg_t *out, const char **why)
{
    json_error_t jerr;

    memset(out, 0, sizeof(*out));
    out->verb = IB_VERB_UNKNOWN;
    /* Duplicate keys are refused: a message must mean one thing. NUL is
     * parsed (so the request's id survives for the reply) and refused in
     * every string field we read, where C string functions would
     * otherwise see a shorter string than the client sent. */
    out->msg = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!out->msg) {
        *why = "invalid JSON";
        return IB_EBADREQ;
    }
    if (!json_is_object(out->msg)) {
        *why = "a message must be a JSON object";
        return IB_EBADREQ;
    }
    json_t *id = json_object_get(out->msg, "id");
    if (id && !json_is_null(id)) {
        if (!id_acceptable(id)) {
            *why = "id must be a string (at most 256 bytes) or a number";
            return IB_EBADREQ;
        }
        out->id = id;
    }
    json_t *type = json_object_get(out->msg, "type");
    if (!type) {
        *why = "missing type";
        return IB_EBADREQ;
    }
    if (!json_is_string(type) || has_nul(type)) {
        *why = "type must be a string";
        return IB_EBADREQ;
    }
    out->type = json_string_value(type);
    out->verb = ib_verb_lookup(out->type);
    if (out->verb == IB_VERB_UNKNOWN) {
        *why = "unknown type";
        return IB_EBADREQ;
    }
    return 0;
}

void ib_msg_clear(ib_msg_t *m)
{
    json_decref(m->msg);
    memset(m, 0, sizeof(*m));
}

int ib_get_string(const json_t *msg, const char *key, bool required, const char **out,
                  const char **why)
{
    json_t *v = json_object_get(msg, key);
    if (!v) {
        if (!required)
            return 0;
        *why = "missing field";
        return IB_EBADREQ;
    }
    if (!json_is_string(v)) {
        *why = "field must be a string";
        return IB_EBADREQ;
    }
    if (has_nul(v)) {
        *why = "strings may not contain U+0000";
        return IB_EBADREQ;
    }
    *out = json_string_value(v);
    return 0;
}

int ib_get_int(const json_t *msg, const char *key, bool required, int64_t lo, int64_t hi,
               int64_t *out, const char **why)
{
    json_t *v = json_object_get(msg, key);
    if (!v) {
        if (!required)
            return 0;
        *why = "missing field";
        return IB_EBADREQ;
    }
    if (!json_is_integer(v)) {
        *why = "field must be an integer";
        return IB_EBADREQ;
    }
    json_int_t n = json_integer_value(v);
    if (n < lo || n > hi) {
        *why = "field out of range";
        return IB_EBADREQ;
    }
    *out = n;
    return 0;
}

int ib_get_bool(const json_t *msg, const char *key, bool required, bool *out, const char **why)
{
    json_t *v = json_object_get(msg, key);
    if (!v) {
        if (!required)
            return 0;
        *why = "missing field";
        return IB_EBADREQ;
    }
    if (!json_is_boolean(v)) {
        *why = "field must be true or false";
        return IB_EBADREQ;
    }
    *out = json_is_true(v);
    return 0;
}

json_t *ib_reply_ok(const json_t *id)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string("ok"));
    if (id)
        json_object_set(o, "re", (json_t *)id);
    return o;
}

json_t *ib_reply_error(const json_t *id, int err, const char *message)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string("error"));
    json_object_set_new(o, "code", json_string(ib_err_wire(err)));
    json_object_set_new(o, "message", json_string(message ? message : ib_strerror(err)));
    if (id)
        json_object_set(o, "re", (json_t *)id);
    return o;
}
