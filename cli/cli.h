/*
 * cli.h - the subcommands of the `postern` tool.
 *
 * Each subcommand lives in its own cli/cmd-<name>.c and has the signature
 * below: argv[0] is the subcommand name, conf is the configuration file
 * chosen with -c, $POSTERN_CONF, or the default. Return value is the exit
 * status (0 ok, 1 failure, 2 usage error). Messages go through log_*()
 * with the "postern" ident, so errors read "postern: fatal: ...".
 */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

#define POSTERN_DEFAULT_CONF "/etc/postern/postern.conf"

typedef int cli_command_fn(int argc, char **argv, const char *conf);

struct cli_command {
	const char *name;
	cli_command_fn *fn;
	const char *usage;   /* arguments after the name */
	const char *summary; /* one line */
};

/* The command table, in cli/postern.c. */
extern const struct cli_command cli_commands[];

/* cli_usage_error - print "usage: postern NAME USAGE" for argv[0]; returns 2. */
int cli_usage_error(const char *name);

int cmd_config(int argc, char **argv, const char *conf);
int cmd_map(int argc, char **argv, const char *conf);
int cmd_init(int argc, char **argv, const char *conf);
int cmd_start(int argc, char **argv, const char *conf);
int cmd_stop(int argc, char **argv, const char *conf);
int cmd_reload(int argc, char **argv, const char *conf);
int cmd_status(int argc, char **argv, const char *conf);
int cmd_check(int argc, char **argv, const char *conf);
int cmd_user(int argc, char **argv, const char *conf);
int cmd_domain(int argc, char **argv, const char *conf);
int cmd_auth(int argc, char **argv, const char *conf);
int cmd_mailbox(int argc, char **argv, const char *conf);
int cmd_index(int argc, char **argv, const char *conf);
int cmd_quota(int argc, char **argv, const char *conf);
int cmd_deliver(int argc, char **argv, const char *conf);
int cmd_aliases(int argc, char **argv, const char *conf);
int cmd_queue(int argc, char **argv, const char *conf);

#endif
