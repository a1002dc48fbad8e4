/*
 * cmd-aliases.c - `postern aliases`, Postfix's newaliases / postalias:
 * compile every lmdb: table of alias_database from its aliases(5) source
 * file (/etc/aliases -> /etc/aliases.lmdb) and print one line per table
 * ("/etc/aliases: 12 aliases"). A syntax error names the file and line
 * ("/etc/aliases:7: missing ':' after the alias name; ...") and leaves the
 * old table in place. Running posternd needs no reload: lmdb: tables are
 * reopened when rebuilt.
 *
 * Called from cli/postern.c; the work is resolve_aliases_build()
 * (smtp/resolve/alias-file.c). sendmail -bi / newaliases call the same.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli-private.h"
#include "cli/cli.h"
#include "log.h"
#include "smtp/resolve/resolve.h"

int cmd_aliases(int argc, char **argv, const char *conf)
{
	struct config *cfg;
	char *err = NULL;
	int rc = 0;

	if (argc != 1)
		return cli_usage_error(argv[0]);
	cfg = cli_load_config(conf);
	if (cfg == NULL)
		return 1;
	if (resolve_aliases_build(cfg, stdout, &err) < 0) {
		log_error("%s", err);
		free(err);
		rc = 1;
	}
	config_free(&cfg);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
