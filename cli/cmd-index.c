/*
 * cmd-index.c - `postern index rebuild USER`: delete the user's LMDB
 * index and build it again from the mailbox files. UIDs and UIDVALIDITY
 * are kept where the files carry them (Maildir ",U=" names and
 * postern-uidvalidity), so IMAP clients keep their caches. Run it while
 * the user has no IMAP session open; it is safe but sessions would see a
 * mailbox reset. Exit 0 ok, 1 failure, 2 usage.
 * Called from cli/postern.c; the work is store_index_rebuild().
 */
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli-private.h"
#include "cli/cli-store.h"
#include "cli/cli.h"
#include "log.h"

int cmd_index(int argc, char **argv, const char *conf)
{
	struct store_settings set;
	char *serr = NULL;
	struct cli_store_user cu;
	struct store_user *u;
	struct store_error err;
	struct config *cfg;
	uint64_t n = 0;
	int rc = 1;

	if (argc != 3 || strcmp(argv[1], "rebuild") != 0)
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
	u = cli_store_open(cfg, &set, argv[2], 0, &cu);
	if (u != NULL) {
		if (store_index_rebuild(u, &n, &err) < 0) {
			log_error("%s: index rebuild: %s", cu.user, err.text);
		} else {
			printf("%s: %" PRIu64 " messages indexed\n", cu.user, n);
			rc = 0;
		}
	}
	store_user_close(&u);
	cli_store_user_clear(&cu);
	config_free(&cfg);
	return rc;
}
