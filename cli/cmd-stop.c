/*
 * cmd-stop.c - `postern stop`: stop posternd gracefully (Postfix:
 * `postfix stop`), and wait until it is gone.
 *
 * Asks over the control socket (STOP); if that cannot be reached, sends
 * SIGTERM to the pid in the pid file. Not running is exit 1 with
 * Postfix's wording, so scripts can tell.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli-private.h"
#include "cli/cli.h"
#include "log.h"

int cmd_stop(int argc, char **argv, const char *conf)
{
	struct config *cfg;
	struct strbuf out;
	char *err = NULL;
	pid_t pid;
	long long wait_s;
	time_t deadline;

	if (argc != 1)
		return cli_usage_error(argv[0]);
	cfg = cli_load_config(conf);
	if (cfg == NULL)
		return 1;
	pid = cli_master_pid(cfg);
	if (pid <= 0) {
		log_error(CLI_NOT_RUNNING);
		config_free(&cfg);
		return 1;
	}
	fprintf(stderr, "postern: stopping the Postern mail system\n");
	strbuf_init(&out, 64 * 1024);
	if (cli_control(config_str(cfg, "run_directory"), "STOP", &out, &err) < 0) {
		log_warn("%s; sending SIGTERM to pid %ld instead", err, (long)pid);
		free(err);
		if (kill(pid, SIGTERM) < 0 && errno != ESRCH) {
			log_error("cannot signal posternd pid %ld: %s", (long)pid, strerror(errno));
			strbuf_free(&out);
			config_free(&cfg);
			return 1;
		}
	}
	strbuf_free(&out);
	/* The master waits master_stop_timeout for its roles, then kills them. */
	wait_s = config_time(cfg, "master_stop_timeout") + 10;
	deadline = time(NULL) + (time_t)wait_s;
	while (cli_master_pid(cfg) > 0) {
		if (time(NULL) > deadline) {
			log_error("posternd pid %ld is still running after %llds; look at the log, or kill -KILL %ld",
				  (long)pid, wait_s, (long)pid);
			config_free(&cfg);
			return 1;
		}
		usleep(50 * 1000);
	}
	config_free(&cfg);
	return 0;
}
