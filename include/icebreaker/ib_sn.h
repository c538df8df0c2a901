/* Speed-networking data for the HTTP API (the verbs are in the table). */
#ifndef IB_SN_H
#define IB_SN_H

#include <stdint.h>
#include <jansson.h>

#include "ib_room.h"

/* The report of session `id` of event ev: {session, lounge, host, phase,
 * rounds, rounds_run, round_s, strategy, group_size, ended_at, history:
 * [{round, started, groups:[[ids]], byes:[ids]}], participants:[{id,name,
 * headline}], ratings:{count, mean, histogram}, connections:[{a,b,round}],
 * server_time}. NULL when there is no such session. */
json_t *ib_sn_report_json(ib_event_t *ev, const char *id, int64_t now);

#endif
