/*
 * Speed-networking feedback and the double opt-in.
 *
 * Each participant may rate each person they met in a round, and say
 * whether they want to stay in touch. The store is per session: a map from
 * "round/from/to" to the latest answer (sending again replaces it). A
 * connection is revealed only when both sides of a pair said connect: true
 * for a round they shared; then each gets the other's card with contact
 * claims, once. A one-sided wish is never sent anywhere, and the report
 * counts mutual connections only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "sn_internal.h"

static void fb_key(char *out, size_t n, uint32_t round, const char *from, const char *to)
{
    snprintf(out, n, "%u/%s/%s", round, from, to);
}

/* The unordered pair, for remembering what was revealed. */
static void pair_key(char *out, size_t n, const char *a, const char *b)
{
    if (strcmp(a, b) < 0)
        snprintf(out, n, "%s/%s", a, b);
    else
        snprintf(out, n, "%s/%s", b, a);
}

json_t *ib__sn_card(const ib_sn_person_t *p, bool with_contact)
{
    json_t *card =
        json_pack("{s:s,s:s,s:s?}", "id", p->id, "name", p->name, "headline", p->headline);
    if (card && !json_object_get(card, "headline"))
        json_object_set_new(card, "headline", json_null());
    if (card && with_contact && p->contact)
        json_object_update(card, p->contact);
    return card;
}

static void send_connection(ib_sn_t *sn, const ib_sn_person_t *to, const ib_sn_person_t *other)
{
    /* Offline: they will find it in the report's connections. */
    json_t *ev = json_pack("{s:s,s:s,s:o}", "type", "connection", "session", sn->id, "user",
                           ib__sn_card(other, true));
    ib_buf_t *b = ib_buf_from_json(ev);
    json_decref(ev);
    if (b) {
        ib_user_send_id(sn->ev, to->id, NULL, b);
        ib_buf_unref(b);
    }
}

int ib__sn_feedback(ib_sn_t *sn, const char *from, uint32_t round, const char *partner, int rating,
                    bool connect, int64_t now, const char **why)
{
    if (round < 1 || round > ib_sched_round(sn->sched) || !ib__sn_met(sn, round, from, partner)) {
        *why = "you did not meet this person in that round";
        return IB_EFORBIDDEN;
    }
    if (ib_sched_phase(sn->sched) == IB_SCHED_ENDED &&
        now > ib_sched_ended_at(sn->sched) + IB_SN_FEEDBACK_AFTER_MS) {
        *why = "feedback closed 10 minutes after the session ended";
        return IB_ECONFLICT;
    }
    char key[3 * (IB_ID_MAX + 1) + 16];
    fb_key(key, sizeof(key), round, from, partner);
    json_object_set_new(
        sn->feedback, key,
        json_pack("{s:i,s:b,s:I}", "rating", rating, "connect", connect, "at", (json_int_t)now));
    if (!connect)
        return 0;
    char back[sizeof(key)];
    fb_key(back, sizeof(back), round, partner, from);
    json_t *theirs = json_object_get(sn->feedback, back);
    if (!json_is_true(json_object_get(theirs, "connect")))
        return 0;
    char pk[2 * (IB_ID_MAX + 1) + 2];
    pair_key(pk, sizeof(pk), from, partner);
    if (json_object_get(sn->connections, pk))
        return 0; /* revealed already */
    json_object_set_new(sn->connections, pk, json_integer(round));
    ib_sn_person_t *a = ib__sn_person(sn, from), *b = ib__sn_person(sn, partner);
    if (a && b) {
        send_connection(sn, a, b);
        send_connection(sn, b, a);
    }
    return 0;
}

json_t *ib__sn_feedback_summary(const ib_sn_t *sn)
{
    long count = 0, sum = 0;
    long hist[6] = {0};
    const char *k;
    json_t *v;
    json_object_foreach(sn->feedback, k, v)
    {
        int r = (int)json_integer_value(json_object_get(v, "rating"));
        if (r >= 1 && r <= 5) {
            hist[r]++;
            sum += r;
            count++;
        }
    }
    json_t *mutual = json_array();
    json_object_foreach(sn->connections, k, v)
    {
        const char *slash = strchr(k, '/');
        if (slash)
            json_array_append_new(mutual,
                                  json_pack("{s:s%,s:s,s:I}", "a", k, (size_t)(slash - k), "b",
                                            slash + 1, "round", json_integer_value(v)));
    }
    return json_pack("{s:{s:i,s:o,s:{s:i,s:i,s:i,s:i,s:i}},s:o}", "ratings", "count", (int)count,
                     "mean", count ? json_real((double)sum / (double)count) : json_null(),
                     "histogram", "1", (int)hist[1], "2", (int)hist[2], "3", (int)hist[3], "4",
                     (int)hist[4], "5", (int)hist[5], "connections", mutual);
}
