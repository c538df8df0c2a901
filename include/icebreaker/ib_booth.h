/* Booth data for the HTTP API (the verbs themselves are in the table). */
#ifndef IB_BOOTH_H
#define IB_BOOTH_H

#include <stddef.h>
#include <jansson.h>

#include "ib_room.h"

/* Whether a user with these claims may read booth's leads: its staff
 * (exhibitor with that booth claim) or an admin. */
bool ib_booth_may_export(ib_role_t role, const char *claim_booth, const char *booth);

/* {"booth":..,"leads":[{id,name,headline,email,company,title,url,at,
 * meeting_s}],"stats":{..}} for booth in ev (ev may be NULL: no leads). */
json_t *ib_booth_leads_json(ib_event_t *ev, const char *booth);

/* {visits, meetings, in_meeting, queued, median_wait_s, leads}. */
json_t *ib_booth_stats_json(ib_event_t *ev, const char *booth);

/* The leads as CSV with the header line
 * id,name,headline,email,company,title,url,at,meeting_s. malloc'ed. */
char *ib_booth_leads_csv(ib_event_t *ev, const char *booth, size_t *len);

/* The leads CSV of a leads JSON ({"leads":[...]}, as above). malloc'ed. */
char *ib_booth_csv(json_t *all, size_t *len);

/* With several nodes the leads and stats live in the shared store: read
 * them there. cb gets the leads JSON (leads true) or the stats JSON, as
 * above, borrowed; NULL when the store is unavailable. Returns 0 when cb
 * is (or will be) called exactly once, nonzero when there is no shared
 * store (use the functions above). */
typedef struct ib_server ib_server_t;
typedef void (*ib_booth_api_cb)(void *arg, json_t *v);
int ib_booth_api_async(ib_server_t *srv, const char *event, const char *booth, bool leads,
                       ib_booth_api_cb cb, void *arg);

#endif
