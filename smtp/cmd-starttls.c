/*
 * cmd-starttls.c - STARTTLS (RFC 3207). "220 2.0.0 Ready to start TLS" is
 * queued, then conn_start_tls() sends it in plaintext, throws away any
 * plaintext the client pipelined after the command (the CVE-2011-0411
 * command injection) and runs the handshake; session.c's on_tls_ready
 * then forgets HELO, AUTH and the transaction (RFC 3207 4.2).
 */
#include "conn.h"
#include "smtp/smtp-private.h"

void smtp_cmd_starttls(struct smtp_session *s, char *args, size_t len)
{
	(void)args;
	if (len > 0) {
		session_count(s, SMTP_C_STARTTLS, false);
		session_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->tls) {
		session_count(s, SMTP_C_STARTTLS, false);
		session_reply(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (s->l->ssl_ctx == NULL || s->l->set.tls_level == SMTP_TLS_NONE) {
		session_count(s, SMTP_C_STARTTLS, false);
		session_reply(s, "454 4.7.0 TLS not available");
		return;
	}
	session_count(s, SMTP_C_STARTTLS, true);
	session_reply(s, "220 2.0.0 Ready to start TLS");
	session_set_state(s, SMTP_STATE_TLS);
	if (conn_start_tls(s->conn, s->l->ssl_ctx) < 0)
		session_close(s);
}
