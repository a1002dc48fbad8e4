/*
 * cmd-vrfy.c - VRFY (RFC 5321 4.1.1.6, 3.5.3). Off by default
 * (disable_vrfy_command = yes): it only helps address harvesters. When
 * enabled the answer is 252 (cannot verify, will accept and try), which
 * RFC 5321 3.5.3 allows and which reveals nothing.
 */
#include <string.h>

#include "smtp/smtp-private.h"

void smtp_cmd_vrfy(struct smtp_session *s, char *args, size_t len)
{
	char esc[300];

	if (s->l->set.vrfy_disabled) {
		session_count(s, SMTP_C_VRFY, false);
		session_reply(s, "502 5.5.1 VRFY command is disabled");
		return;
	}
	if (len == 0) {
		session_count(s, SMTP_C_VRFY, false);
		session_reply(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	str_escape(args, len, esc, sizeof(esc));
	session_count(s, SMTP_C_VRFY, true);
	session_reply(s, "252 2.0.0 %s", esc);
}
