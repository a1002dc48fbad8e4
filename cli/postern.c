/*
 * postern.c - entry point of the `postern` admin tool: global options and
 * dispatch to the subcommands of cli.h.
 *
 *   postern [-c CONF] COMMAND [ARGS...]
 *
 * The configuration file is -c CONF, else $POSTERN_CONF, else
 * /etc/postern/postern.conf, as postconf -c / $MAIL_CONFIG do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "log.h"

const struct cli_command cli_commands[] = {
	{ "init", cmd_init, "DIR [--hostname H] [--domain D] [--port-base N] [--listen ADDR]",
	  "create a self-contained instance in DIR" },
	{ "config", cmd_config, "[-n | -d | -x] [--markdown] [NAME...] | -e NAME=VALUE...",
	  "show or edit the configuration (like postconf)" },
	{ "map", cmd_map, "[-q KEY] [-N] FILE | lmdb:FILE",
	  "compile a lookup table into FILE.lmdb, or query one (like postmap)" },
	{ "aliases", cmd_aliases, "", "rebuild the alias database from its source files (like newaliases)" },
	{ "start", cmd_start, "", "start posternd in the background" },
	{ "stop", cmd_stop, "", "stop posternd gracefully" },
	{ "reload", cmd_reload, "", "re-read the configuration without closing listeners" },
	{ "status", cmd_status, "", "show the master, its roles and listeners" },
	{ "check", cmd_check, "", "validate configuration, tables, certificates and permissions" },
	{ "user", cmd_user, "add|passwd|del|show|enable|disable ADDRESS [--password-stdin] [--password-hash HASH] [--quota SIZE] [--mail LOCATION] [--alias ADDRESS]... | list [DOMAIN]",
	  "manage virtual users (takes effect at once)" },
	{ "domain", cmd_domain, "add|del DOMAIN | list", "manage virtual mailbox domains" },
	{ "auth", cmd_auth, "test [--password-stdin] ADDRESS [PASSWORD]",
	  "try a login through the running auth service (like doveadm auth test)" },
	{ "mailbox", cmd_mailbox, "list USER | create|delete|status USER NAME | rename USER OLD NEW",
	  "list and change a user's mail folders" },
	{ "index", cmd_index, "rebuild USER", "rebuild a user's mail index from the mailbox files" },
	{ "quota", cmd_quota, "USER", "show a user's storage and message quota" },
	{ "deliver", cmd_deliver, "[-f SENDER] [-a RECIPIENT] [-m MAILBOX] USER < MESSAGE",
	  "deliver a message into a user's mailbox (local delivery agent)" },
	{ "queue", cmd_queue,
	  "list | cat ID | flush [ID] | delete|hold|requeue ID|ALL|- [QUEUE] | release ID|ALL|-",
	  "list and manage the mail queue (like mailq, postqueue, postsuper, postcat)" },
	{ NULL, NULL, NULL, NULL }
};

static void usage(void)
{
	fprintf(stderr, "usage: postern [-c CONF] COMMAND [ARGS...]\n\ncommands:\n");
	for (const struct cli_command *c = cli_commands; c->name; c++)
		fprintf(stderr, "  %-8s %s\n", c->name, c->summary);
	fprintf(stderr, "\nCONF defaults to $POSTERN_CONF, else %s\n", POSTERN_DEFAULT_CONF);
}

int cli_usage_error(const char *name)
{
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		if (strcmp(c->name, name) == 0) {
			fprintf(stderr, "usage: postern %s %s\n", c->name, c->usage);
			return 2;
		}
	}
	usage();
	return 2;
}

int main(int argc, char **argv)
{
	const char *conf = getenv("POSTERN_CONF");
	int i = 1;

	log_init("postern", LOG_DEST_STDERR_TOOL);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			conf = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2]) {
			conf = argv[i] + 2;
			i++;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage();
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (conf == NULL || *conf == '\0')
		conf = POSTERN_DEFAULT_CONF;
	if (i >= argc) {
		usage();
		return 2;
	}
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (strcmp(c->name, argv[i]) == 0)
			return c->fn(argc - i, argv + i, conf);
	log_error("unknown command \"%s\"; run \"postern --help\" for the list", argv[i]);
	return 2;
}
