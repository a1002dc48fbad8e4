/*
 * auth.c - which user name and password the SMTP client authenticates
 * with: smtp_sasl_password_maps, looked up as Postfix's smtp(8) does
 * (postconf(5) smtp_sasl_password_maps, SASL_README "Enabling SASL
 * authentication in the Postfix SMTP client"): first the nexthop as
 * written ("[relay.example.com]:587"), then the remote host's name, then
 * the nexthop's domain without brackets or port. A value is
 * "user:password" (the password may contain ':').
 *
 * Called by client.c before each session when smtp_sasl_auth_enable = yes.
 */
#include <stdlib.h>
#include <string.h>

#include "maps.h"
#include "smtp/client/client-private.h"

int smtpc_sasl_lookup(struct smtpc *c, const char *nexthop, const char *host, int port,
		      char **user_r, char **pass_r, const char **error_r)
{
	struct smtpc_nexthop nh;
	const char *keys[3];
	const char *value = NULL, *colon, *perr = NULL;
	size_t i, k, n_keys = 0;

	(void)port;
	*user_r = *pass_r = NULL;
	if (c->sasl_maps == NULL)
		return 0;
	keys[n_keys++] = nexthop;
	keys[n_keys++] = host;
	if (smtpc_nexthop_parse(nexthop, &nh, &perr) == 0)
		;
	else
		nh.host = NULL;
	if (nh.host != NULL)
		keys[n_keys++] = nh.host;
	for (k = 0; k < n_keys && value == NULL; k++) {
		for (i = 0; c->sasl_maps[i] != NULL; i++) {
			const char *v = NULL;
			enum map_status st = map_lookup(c->sasl_maps[i], keys[k], &v, error_r);

			if (st == MAP_TEMPFAIL) {
				free(nh.host);
				return -1;
			}
			if (st == MAP_FOUND) {
				value = v;
				break;
			}
		}
	}
	if (value == NULL) {
		free(nh.host);
		return 0;
	}
	colon = strchr(value, ':');
	*user_r = colon != NULL ? strndup(value, (size_t)(colon - value)) : strdup(value);
	*pass_r = strdup(colon != NULL ? colon + 1 : "");
	free(nh.host);
	if (*user_r == NULL || *pass_r == NULL) {
		free(*user_r);
		free(*pass_r);
		*user_r = *pass_r = NULL;
		*error_r = "out of memory";
		return -1;
	}
	return 1;
}
