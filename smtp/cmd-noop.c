/*
 * cmd-noop.c - NOOP (RFC 5321 4.1.1.9): arguments are allowed and ignored.
 */
#include "smtp/smtp-private.h"

void smtp_cmd_noop(struct smtp_session *s, char *args, size_t len)
{
	(void)args;
	(void)len;
	session_count(s, SMTP_C_NOOP, true);
	session_reply(s, "250 2.0.0 Ok");
}
