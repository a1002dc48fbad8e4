/*
 * cmd-capa.c - CAPA (RFC 2449 5): what this server offers in the current
 * state. Before login: USER and SASL only where plaintext logins are
 * allowed (TLS, loopback, or pop3_allow_plaintext_auth) - PLAIN and LOGIN
 * are left out of SASL otherwise, as RFC 2595 2.2 asks - and STLS while
 * TLS is possible and not on yet; LOGIN-DELAY only when pop3_login_delay
 * is set. After login the login capabilities are
 * gone (RFC 2449 5 allows the list to change with the state).
 */
#include <string.h>

#include "pop3/pop3-private.h"

void pop3_cmd_capa(struct pop3_session *s, const char *args, size_t len)
{
	const struct pop3_settings *set = &s->l->set;
	bool auth = s->state != POP3_STATE_TRANSACTION;
	char line[POP3_REPLY_MAX];

	(void)args;
	if (len > 0) {
		pop3_session_err(s, "CAPA takes no arguments.");
		return;
	}
	pop3_session_ok(s, "Capability list follows");
	pop3_session_raw(s, "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (auth && pop3_session_plaintext_ok(s) && pop3_mech_offered(s, "PLAIN"))
		pop3_session_raw(s, "USER\r\n");
	if (auth) {
		const char *p = set->mechs;
		size_t off = (size_t)snprintf(line, sizeof(line), "SASL");
		bool any = false;

		while (*p) {
			const char *e = strchr(p, ' ');
			size_t l = e ? (size_t)(e - p) : strlen(p);
			char m[64];
			if (l < sizeof(m) && off + l + 4 < sizeof(line)) {
				memcpy(m, p, l);
				m[l] = '\0';
				if (pop3_mech_offered(s, m)) {
					off += (size_t)snprintf(line + off, sizeof(line) - off, " %s", m);
					any = true;
				}
			}
			p += l;
			while (*p == ' ')
				p++;
		}
		if (any) {
			pop3_session_raw(s, line);
			pop3_session_raw(s, "\r\n");
		}
		if (!s->tls && s->l->ssl_ctx)
			pop3_session_raw(s, "STLS\r\n");
	}
	snprintf(line, sizeof(line), "EXPIRE %s\r\n", set->expire);
	pop3_session_raw(s, line);
	if (set->login_delay > 0) {
		/* RFC 2449 6 (LOGIN-DELAY): announced only when there is a delay */
		snprintf(line, sizeof(line), "LOGIN-DELAY %lld\r\n", set->login_delay);
		pop3_session_raw(s, line);
	}
	pop3_session_raw(s, "IMPLEMENTATION Postern\r\n.\r\n");
}
