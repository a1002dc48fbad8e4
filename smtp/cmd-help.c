/*
 * cmd-help.c - HELP (RFC 5321 4.1.1.8): the list of commands, for people
 * typing in telnet.
 */
#include "smtp/smtp-private.h"

void smtp_cmd_help(struct smtp_session *s, char *args, size_t len)
{
	(void)args;
	(void)len;
	session_count(s, SMTP_C_HELP, true);
	session_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY AUTH STARTTLS HELP");
}
