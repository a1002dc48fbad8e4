/*
 * main.c - posternd's command line; everything else is in master.c
 * (the master) and role-process.c (a role).
 *
 *   posternd [-f] [-c CONF]             the master; -f stays in the foreground
 *   posternd --role NAME -c CONF [-f]   a role process (started by the master)
 *
 * CONF defaults to $POSTERN_CONF, else /etc/postern/postern.conf. It is
 * made absolute, because the daemon changes to / and roles re-read it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "util.h"

static int usage(void)
{
	fprintf(stderr, "usage: posternd [-f] [-c CONF]\n"
		"  -f       stay in the foreground and log to stderr too\n"
		"  -c CONF  configuration file (default: $POSTERN_CONF, else /etc/postern/postern.conf)\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct master_options opts = { 0 };
	char conf_abs[PATH_MAX], exe[PATH_MAX];
	ssize_t n;
	int status;

	opts.conf = getenv("POSTERN_CONF");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0)
			opts.foreground = true;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			opts.conf = argv[++i];
		else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			opts.role = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return usage() & 0;
		else
			return usage();
	}
	if (opts.conf == NULL || *opts.conf == '\0')
		opts.conf = "/etc/postern/postern.conf";
	if (opts.conf[0] != '/' && getcwd(conf_abs, sizeof(conf_abs)) &&
	    strlen(conf_abs) + strlen(opts.conf) + 2 < sizeof(conf_abs)) {
		size_t l = strlen(conf_abs);

		snprintf(conf_abs + l, sizeof(conf_abs) - l, "/%s", opts.conf);
		opts.conf = conf_abs;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "posternd: fatal: cannot find my own executable (/proc/self/exe); is /proc mounted?\n");
		return 1;
	}
	exe[n] = '\0';
	opts.self_exe = exe;
	if (opts.role)
		status = role_process_main(&opts);
	else
		status = master_main(&opts);
	return status;
}
