/*
 * cmd-quota.c - `postern quota USER`: usage and limits as doveadm quota
 * get prints them (RFC 9208 resources: STORAGE in KiB, MESSAGE):
 *
 *   Type     Value  Limit  %
 *   STORAGE  1234   10240  12
 *   MESSAGE  56     -      0
 *
 * "-" means unlimited. Exit 0 ok, 1 failure, 2 usage.
 * Called from cli/postern.c; the numbers come from store_quota_get().
 */
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli-private.h"
#include "cli/cli-store.h"
#include "cli/cli.h"
#include "log.h"

static void row(const char *type, uint64_t used, uint64_t limit)
{
	char lim[32] = "-";
	unsigned pct = 0;

	if (limit) {
		snprintf(lim, sizeof(lim), "%" PRIu64, limit);
		pct = (unsigned)(used * 100 / limit);
	}
	printf("%-8s %-10" PRIu64 " %-10s %u\n", type, used, lim, pct);
}

int cmd_quota(int argc, char **argv, const char *conf)
{
	struct store_settings set;
	char *serr = NULL;
	struct cli_store_user cu;
	struct store_user *u;
	struct store_error err;
	struct store_quota q;
	struct config *cfg;
	int rc = 1;

	if (argc != 2)
		return cli_usage_error(argv[0]);
	if ((cfg = cli_load_config(conf)) == NULL)
		return 1;
	if (store_settings_from_config(&set, cfg, &serr) < 0) {
		log_error("%s", serr);
		free(serr);
		config_free(&cfg);
		return 1;
	}
	if (cli_store_drop_privileges(cfg) < 0) {
		config_free(&cfg);
		return 1;
	}
	u = cli_store_open(cfg, &set, argv[1], 0, &cu);
	if (u != NULL) {
		if (store_quota_get(u, &q, &err) < 0) {
			log_error("%s: quota: %s", cu.user, err.text);
		} else {
			printf("%-8s %-10s %-10s %s\n", "Type", "Value", "Limit", "%");
			row("STORAGE", (q.bytes_used + 1023) / 1024, q.bytes_limit / 1024);
			row("MESSAGE", q.messages_used, q.messages_limit);
			rc = 0;
		}
	}
	store_user_close(&u);
	cli_store_user_clear(&cu);
	config_free(&cfg);
	if (fflush(stdout) != 0)
		return 1;
	return rc;
}
