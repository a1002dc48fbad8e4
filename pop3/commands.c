/*
 * commands.c - the POP3 command table: each keyword, its handler (one
 * file per command group, cmd-*.c) and the states it is allowed in
 * (RFC 1939 4 and 5, RFC 2449 5, RFC 2595 4, RFC 5034 4). Called by
 * session.c's dispatcher, which answers a command out of its state
 * before the handler runs; handlers check their arguments, reply and
 * change nothing when they are wrong.
 */
#include <string.h>

#include "pop3/pop3-private.h"

static const struct pop3_command commands[] = {
	{ "CAPA", pop3_cmd_capa, POP3_IN_AUTH | POP3_IN_TRANS },
	{ "STLS", pop3_cmd_stls, POP3_IN_AUTH },
	{ "USER", pop3_cmd_user, POP3_IN_AUTH },
	{ "PASS", pop3_cmd_pass, POP3_IN_AUTH },
	{ "APOP", pop3_cmd_apop, POP3_IN_AUTH },
	{ "AUTH", pop3_cmd_auth, POP3_IN_AUTH },
	{ "STAT", pop3_cmd_stat, POP3_IN_TRANS },
	{ "LIST", pop3_cmd_list, POP3_IN_TRANS },
	{ "UIDL", pop3_cmd_uidl, POP3_IN_TRANS },
	{ "RETR", pop3_cmd_retr, POP3_IN_TRANS },
	{ "TOP", pop3_cmd_top, POP3_IN_TRANS },
	{ "DELE", pop3_cmd_dele, POP3_IN_TRANS },
	{ "RSET", pop3_cmd_rset, POP3_IN_TRANS },
	{ "NOOP", pop3_cmd_noop, POP3_IN_TRANS },
	{ "QUIT", pop3_cmd_quit, POP3_IN_AUTH | POP3_IN_TRANS },
};

const struct pop3_command *pop3_command_find(const char *verb)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, verb) == 0)
			return &commands[i];
	return NULL;
}
