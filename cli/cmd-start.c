/*
 * cmd-start.c - `postern start`: start posternd in the background
 * (Postfix: `postfix start`).
 *
 * Runs the posternd next to this postern binary (else the one in PATH)
 * with -c CONF and waits for it: posternd itself returns only when its
 * daemon is ready (exit 0) or failed during start-up (exit 1, with its
 * reasons already printed on our stderr), so errors pass straight
 * through.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli-private.h"
#include "cli/cli.h"
#include "log.h"

int cmd_start(int argc, char **argv, const char *conf)
{
	struct config *cfg;
	char *prog;
	pid_t pid;
	int status;

	if (argc != 1)
		return cli_usage_error(argv[0]);
	cfg = cli_load_config(conf);
	if (cfg == NULL)
		return 1;
	pid = cli_master_pid(cfg);
	config_free(&cfg);
	if (pid > 0) {
		log_error("the mail system is already running (pid %ld)", (long)pid);
		return 1;
	}
	prog = cli_self_dir_program("posternd");
	fprintf(stderr, "postern: starting the Postern mail system\n");
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		free(prog);
		return 1;
	}
	if (pid == 0) {
		execlp(prog, "posternd", "-c", conf, (char *)NULL);
		log_error("cannot execute %s: %s", prog, strerror(errno));
		_exit(127);
	}
	free(prog);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	log_error("posternd did not start; see the messages above");
	return 1;
}
