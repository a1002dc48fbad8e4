/*
 * cmd-stls.c - STLS (RFC 2595 4). "+OK Begin TLS negotiation now." is
 * queued, then conn_start_tls() sends it in plaintext, throws away any
 * plaintext the client pipelined after it (command injection, as
 * CVE-2011-0411 for SMTP) and runs the handshake; session.c's
 * on_tls_ready forgets a USER given before (RFC 2595 4).
 */
#include "conn.h"
#include "pop3/pop3-private.h"

void pop3_cmd_stls(struct pop3_session *s, const char *args, size_t len)
{
	(void)args;
	if (len > 0) {
		pop3_session_err(s, "STLS takes no arguments.");
		return;
	}
	if (s->tls) {
		pop3_session_err(s, "TLS is already active.");
		return;
	}
	if (s->l->ssl_ctx == NULL) {
		pop3_session_err(s, "TLS is not available (no certificate configured).");
		return;
	}
	pop3_session_ok(s, "Begin TLS negotiation now.");
	pop3_session_set_state(s, POP3_STATE_TLS);
	if (conn_start_tls(s->conn, s->l->ssl_ctx) < 0)
		pop3_session_close(s);
}
