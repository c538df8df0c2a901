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

#endif
