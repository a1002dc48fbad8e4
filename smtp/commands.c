/*
 * commands.c - the SMTP command table: each verb, its handler (one file
 * per command, cmd-<verb>.c), its counter for the disconnect log and
 * whether RFC 2920 3.1 says it must end a pipelined group. Called by
 * session.c's dispatcher. Sequence rules live in each handler's checks,
 * which reply and change nothing when the command is out of place.
 */
#include <string.h>
#include <strings.h>

#include "smtp/smtp-private.h"

static const struct smtp_command commands[] = {
	{ "EHLO", smtp_cmd_ehlo, SMTP_C_EHLO, true },
	{ "HELO", smtp_cmd_helo, SMTP_C_HELO, true },
	{ "MAIL", smtp_cmd_mail, SMTP_C_MAIL, false },
	{ "RCPT", smtp_cmd_rcpt, SMTP_C_RCPT, false },
	{ "DATA", smtp_cmd_data, SMTP_C_DATA, true },
	{ "BDAT", smtp_cmd_bdat, SMTP_C_BDAT, false },
	{ "RSET", smtp_cmd_rset, SMTP_C_RSET, false },
	{ "NOOP", smtp_cmd_noop, SMTP_C_NOOP, true },
	{ "QUIT", smtp_cmd_quit, SMTP_C_QUIT, true },
	{ "VRFY", smtp_cmd_vrfy, SMTP_C_VRFY, true },
	{ "HELP", smtp_cmd_help, SMTP_C_HELP, true },
	{ "AUTH", smtp_cmd_auth, SMTP_C_AUTH, true },
	{ "STARTTLS", smtp_cmd_starttls, SMTP_C_STARTTLS, true },
};

const struct smtp_command *smtp_command_find(const char *verb, size_t len)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strlen(commands[i].name) == len && strncasecmp(commands[i].name, verb, len) == 0)
			return &commands[i];
	return NULL;
}
