/*
 * cli-private.h - helpers shared by the `postern` subcommands in cli/,
 * not part of cli.h's public command table.
 */
#ifndef POSTERN_CLI_PRIVATE_H
#define POSTERN_CLI_PRIVATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "util.h"

/* cli_load_config - config_load(conf) with problems printed as
 * "postern: error: FILE:LINE: ..."; a missing file gets a line that says
 * how to create one. NULL on error (already printed). */
struct config *cli_load_config(const char *conf);

/*
 * cli_control - send one command line to the master's control socket in
 * run_dir and collect the answer (without the final "." line) into out.
 * Returns 0, or -1 with *error_r (new memory) when the socket cannot be
 * reached or the answer is cut short.
 */
int cli_control(const char *run_dir, const char *command, struct strbuf *out, char **error_r);

/* cli_master_pid - pid of the running posternd of cfg (> 0), 0 when it
 * is not running. */
pid_t cli_master_pid(const struct config *cfg);

/* cli_self_dir_program - path of program next to the running postern
 * binary when that exists and is executable, else program itself (to be
 * found in PATH). New memory. */
char *cli_self_dir_program(const char *program);

/* cli_userdb_open - open (creating if missing) the user database named
 * by auth_user_database in cfg. 0, or -1 (error printed). Call
 * cli_userdb_close() after writing: it closes and, when running as root,
 * gives the files to mail_owner (mode 0600) so the auth role can use them. */
struct userdb;
int cli_userdb_open(const struct config *cfg, struct userdb **db_r);
int cli_userdb_close(const struct config *cfg, struct userdb **db);

/* cli_read_password - a password from stdin's first line (from_stdin) or
 * from /dev/tty without echo, asked twice when confirm. New memory
 * (caller wipes and frees), or NULL (error printed). */
char *cli_read_password(const char *prompt, bool confirm, bool from_stdin);

/* The Postfix wording for "no master". */
#define CLI_NOT_RUNNING "the mail system is not running"

#endif
