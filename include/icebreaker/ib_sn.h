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

/* With several nodes, a session driven by another node: its report is
 * asked of that node. cb gets the report (borrowed) or NULL (no answer
 * within 5 s, or no such session); returns 0 when cb is (or will be)
 * called exactly once, nonzero when this node has no such stub (use
 * ib_sn_report_json). */
typedef void (*ib_sn_report_cb)(void *arg, json_t *report);
int ib_sn_report_async(ib_server_t *srv, const char *event, const char *id, ib_sn_report_cb cb,
                       void *arg);

#endif
