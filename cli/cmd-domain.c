/*
 * cmd-domain.c - `postern domain add|del|list [DOMAIN]`: the virtual
 * mailbox domains of the user database (auth/userdb.h). A user can only
 * be added to a domain listed here; a domain with users cannot be
 * deleted. Takes effect without reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/userdb.h"
#include "cli/cli-private.h"
#include "cli/cli.h"
#include "log.h"

static int print_domain(const char *d, void *ctx)
{
	(void)ctx;
	printf("%s\n", d);
	return 0;
}

int cmd_domain(int argc, char **argv, const char *conf)
{
	const char *cmd = argc >= 2 ? argv[1] : "";
	struct config *cfg;
	struct userdb *db = NULL;
	char *err = NULL, *domain = NULL;
	int rc = 1, r;

	if (strcmp(cmd, "list") == 0 ? argc != 2
	    : (strcmp(cmd, "add") != 0 && strcmp(cmd, "del") != 0) || argc != 3)
		return cli_usage_error(argv[0]);
	cfg = cli_load_config(conf);
	if (cfg == NULL)
		return 1;
	if (cli_userdb_open(cfg, &db) < 0)
		goto out;
	if (argc == 3)
		domain = str_lower(must_strdup(argv[2]));
	if (strcmp(cmd, "list") == 0) {
		r = userdb_domain_list(db, print_domain, NULL, &err);
		rc = r < 0 ? 1 : 0;
	} else if (strcmp(cmd, "add") == 0) {
		r = userdb_domain_add(db, domain, &err);
		if (r == 1)
			printf("domain %s added\n", domain);
		else if (r == 0)
			printf("domain %s already exists\n", domain);
		rc = r < 0 ? 1 : 0;
	} else {
		r = userdb_domain_del(db, domain, &err);
		if (r == 1)
			printf("domain %s deleted\n", domain);
		else if (r == 0)
			log_error("domain %s does not exist; see \"postern domain list\"", domain);
		rc = r == 1 ? 0 : 1;
	}
	if (err)
		log_error("%s", err);
	if (cli_userdb_close(cfg, &db) < 0)
		rc = 1;
out:
	free(domain);
	free(err);
	config_free(&cfg);
	return rc;
}
