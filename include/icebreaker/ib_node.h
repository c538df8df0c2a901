/* Running a node: what `icebreaker serve` does once its options are parsed. */
#ifndef IB_NODE_H
#define IB_NODE_H

#include "ib_config.h"

/* Serve until SIGTERM/SIGINT; returns the process exit code. */
int ib_node_run(ib_config_t *cfg, const char *node_id);

#endif
