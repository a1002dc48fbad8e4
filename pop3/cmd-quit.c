/*
 * cmd-quit.c - QUIT (RFC 1939 4 and 6). In AUTHORIZATION it just says
 * goodbye. In TRANSACTION the session enters UPDATE: retrieved messages
 * get \Seen, deleted ones are expunged from the store (pop3_maildrop_update,
 * fsynced before the reply), then "+OK" and the logout line Dovecot
 * admins know: top=N/bytes, retr=N/bytes, del=N/messages, size=bytes.
 */
#include "log.h"
#include "pop3/pop3-private.h"

void pop3_cmd_quit(struct pop3_session *s, const char *args, size_t len)
{
	unsigned failed;

	(void)args;
	(void)len;
	s->quit_seen = true;
	if (s->state != POP3_STATE_TRANSACTION) {
		pop3_session_ok(s, "Logging out.");
		log_info("pop3-login: Disconnected: Logged out (no auth attempts or not logged in): rip=%s, lip=%s%s",
			 s->addr, s->local_addr, s->tls ? ", TLS" : "");
		pop3_session_close(s);
		return;
	}
	failed = pop3_maildrop_update(s);
	if (failed)
		pop3_session_err(s, "[SYS/TEMP] %u deleted messages could not be removed; try again later.",
			    failed);
	else if (s->expunged)
		pop3_session_ok(s, "Logging out, messages deleted.");
	else
		pop3_session_ok(s, "Logging out.");
	log_info("pop3(%s): Disconnected: Logged out top=%u/%llu, retr=%u/%llu, del=%u/%u, size=%llu",
		 s->user, s->top_count, (unsigned long long)s->top_bytes, s->retr_count,
		 (unsigned long long)s->retr_bytes, s->expunged, s->drop.n_msgs,
		 (unsigned long long)s->drop.size);
	/* Release the lock now, not when the socket is finally closed (the
	 * conn lingers to drain input): the client may reconnect at once. */
	pop3_maildrop_close(&s->drop);
	pop3_session_close(s);
}
