/*
 * cmd-reload.c - `postern reload`: re-read the configuration without
 * closing listeners (Postfix: `postfix reload`).
 *
 * The file is validated here first, and a file with errors is refused
 * with those errors, so a typo never reaches the running master (which
 * would keep its old configuration anyway, but only say so in the log).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-private.h"
#include "cli/cli.h"
#include "log.h"
#include "master/master.h"

int cmd_reload(int argc, char **argv, const char *conf)
{
	struct config *cfg;
	struct strbuf out;
	char *err = NULL;
	pid_t pid;
	int rc = 0;

	if (argc != 1)
		return cli_usage_error(argv[0]);
	cfg = cli_load_config(conf);
	if (cfg == NULL) {
		log_error("not reloading: fix the errors above first; the running configuration stays");
		return 1;
	}
	if (master_check_config(cfg, &err) < 0) {
		log_error("%s", err);
		log_error("not reloading: fix the error above first; the running configuration stays");
		free(err);
		config_free(&cfg);
		return 1;
	}
	pid = cli_master_pid(cfg);
	if (pid <= 0) {
		log_error(CLI_NOT_RUNNING);
		config_free(&cfg);
		return 1;
	}
	fprintf(stderr, "postern: refreshing the Postern mail system\n");
	strbuf_init(&out, 1024 * 1024);
	if (cli_control(config_str(cfg, "run_directory"), "RELOAD", &out, &err) < 0) {
		log_warn("%s; sending SIGHUP to pid %ld instead (see the log for the result)", err,
			 (long)pid);
		free(err);
		if (kill(pid, SIGHUP) < 0)
			rc = 1;
	} else {
		/* Lines "ERR text" / "WARN text" / "OK text". */
		for (char *line = out.data, *nl; line && *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (nl == NULL)
				break;
			*nl = '\0';
			if (str_has_prefix(line, "ERR ")) {
				log_error("%s", line + 4);
				rc = 1;
			} else if (str_has_prefix(line, "WARN ")) {
				log_warn("%s", line + 5);
			}
		}
	}
	strbuf_free(&out);
	config_free(&cfg);
	return rc;
}
