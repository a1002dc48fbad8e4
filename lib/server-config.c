/*
 * server-config.c - fill struct server_limits from a listener's view of
 * the configuration (connection_limit, client_connection_limit).
 *
 * Separate from server.c so that server.c, and the tests that use it,
 * do not depend on config.c.
 */
#include <limits.h>

#include "config.h"
#include "server.h"

static int clamp_int(long long v)
{
	if (v < 0)
		return 0;
	if (v > INT_MAX)
		return INT_MAX;
	return (int)v;
}

void server_limits_from_config(const struct config *cfg, struct server_limits *limits_r)
{
	limits_r->max_conns = clamp_int(config_int(cfg, "connection_limit"));
	limits_r->max_per_ip = clamp_int(config_int(cfg, "client_connection_limit"));
}
