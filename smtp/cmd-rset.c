/*
 * cmd-rset.c - RSET (RFC 5321 4.1.1.5): abort the transaction (the
 * incoming queue file is removed), keep HELO, TLS and AUTH.
 */
#include "smtp/smtp-private.h"

void smtp_cmd_rset(struct smtp_session *s, char *args, size_t len)
{
	(void)args;
	if (len > 0) {
		session_count(s, SMTP_C_RSET, false);
		session_reply(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	session_reset_transaction(s);
	session_count(s, SMTP_C_RSET, true);
	session_reply(s, "250 2.0.0 Ok");
}
