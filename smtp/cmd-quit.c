/*
 * cmd-quit.c - QUIT (RFC 5321 4.1.1.10): "221 2.0.0 Bye", then close after
 * the reply is sent. An unfinished transaction is dropped.
 */
#include "smtp/smtp-private.h"

void smtp_cmd_quit(struct smtp_session *s, char *args, size_t len)
{
	(void)args;
	(void)len;
	session_count(s, SMTP_C_QUIT, true);
	session_reset_transaction(s);
	session_reply(s, "221 2.0.0 Bye");
	session_close(s);
}
