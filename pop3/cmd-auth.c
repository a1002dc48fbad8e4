/*
 * cmd-auth.c - the AUTHORIZATION commands that log in: USER and PASS
 * (RFC 1939 7; the pair goes to the auth role as SASL PLAIN, so one
 * password check, penalty and failure delay serve every protocol), AUTH
 * (RFC 5034: initial response, "+ " continuations, "*" cancels; AUTH
 * without a mechanism lists them, as Dovecot and Outlook expect) and APOP
 * (not offered: see pop3-role.c).
 *
 * Plaintext rule: before TLS, from a non-loopback client, USER, PASS and
 * the PLAIN and LOGIN mechanisms are refused unless
 * pop3_allow_plaintext_auth = yes (RFC 2595 2.2); CAPA hides them then.
 * The SASL request itself is auth/auth-link.h's (login.c starts it).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth-link.h"
#include "base64.h"
#include "conn.h"
#include "pop3/pop3-private.h"
#include "util.h"

static const char plaintext_refused[] =
	"[AUTH] Plaintext authentication is not allowed without TLS; use STLS first (or port 995).";

bool pop3_mech_offered(const struct pop3_session *s, const char *mech)
{
	if (auth_link_mech_plaintext(mech) && !pop3_session_plaintext_ok(s))
		return false;
	return auth_link_mech_listed(s->l->set.mechs, mech);
}

void pop3_cmd_user(struct pop3_session *s, const char *args, size_t len)
{
	char *u;

	if (!pop3_session_plaintext_ok(s)) {
		pop3_session_err(s, "%s", plaintext_refused);
		return;
	}
	if (len == 0) {
		pop3_session_err(s, "USER needs a user name: USER name");
		return;
	}
	if (memchr(args, '\0', len) || !pop3_mech_offered(s, "PLAIN")) {
		pop3_session_err(s, memchr(args, '\0', len) ? "Invalid user name." :
			    "USER/PASS is disabled here (PLAIN is not in auth_mechanisms).");
		return;
	}
	u = strndup(args, len);
	if (u == NULL) {
		pop3_session_err(s, "[SYS/TEMP] Out of memory.");
		return;
	}
	free(s->user_arg);
	s->user_arg = u;
	pop3_session_ok(s, "Send your password with PASS.");
}

void pop3_cmd_pass(struct pop3_session *s, const char *args, size_t len)
{
	char *plain, *b64;
	size_t ul;

	if (s->user_arg == NULL) {
		pop3_session_err(s, "No user name given; send USER first.");
		return;
	}
	if (!pop3_session_plaintext_ok(s)) {
		pop3_session_err(s, "%s", plaintext_refused);
		return;
	}
	if (len == 0 || memchr(args, '\0', len)) {
		pop3_session_err(s, "PASS needs a password: PASS secret");
		return;
	}
	/* RFC 4616: authzid NUL authcid NUL passwd, authzid empty */
	ul = strlen(s->user_arg);
	plain = malloc(ul + len + 2);
	if (plain == NULL) {
		pop3_session_err(s, "[SYS/TEMP] Out of memory.");
		return;
	}
	plain[0] = '\0';
	memcpy(plain + 1, s->user_arg, ul);
	plain[1 + ul] = '\0';
	memcpy(plain + 2 + ul, args, len);
	b64 = base64_encode(plain, ul + len + 2);
	explicit_bzero(plain, ul + len + 2);
	free(plain);
	if (b64 == NULL) {
		pop3_session_err(s, "[SYS/TEMP] Out of memory.");
		return;
	}
	s->via_pass = true;
	pop3_login_start_sasl(s, "PLAIN", b64, s->user_arg);
	explicit_bzero(b64, strlen(b64));
	free(b64);
	/* RFC 1939: a failed PASS starts over at USER */
	if (s->sasl.id == 0)
		x_free(&s->user_arg);
}

void pop3_cmd_apop(struct pop3_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	pop3_session_err(s, "APOP is not supported; use USER/PASS or AUTH over TLS.");
}

static void list_mechs(struct pop3_session *s)
{
	const char *p = s->l->set.mechs;

	pop3_session_ok(s, "Supported mechanisms follow.");
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		char m[64];
		if (l < sizeof(m)) {
			memcpy(m, p, l);
			m[l] = '\0';
			if (pop3_mech_offered(s, m)) {
				pop3_session_raw(s, m);
				pop3_session_raw(s, "\r\n");
			}
		}
		p += l;
		while (*p == ' ')
			p++;
	}
	pop3_session_raw(s, ".\r\n");
}

void pop3_cmd_auth(struct pop3_session *s, const char *args, size_t len)
{
	char mech[32], *initial = NULL;
	size_t i = 0;

	if (len == 0) {
		list_mechs(s);
		return;
	}
	while (i < len && args[i] != ' ')
		i++;
	if (i >= sizeof(mech)) {
		pop3_session_err(s, "Unsupported authentication mechanism.");
		return;
	}
	memcpy(mech, args, i);
	mech[i] = '\0';
	for (char *p = mech; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (auth_link_mech_plaintext(mech) && !pop3_session_plaintext_ok(s)) {
		pop3_session_err(s, "%s", plaintext_refused);
		return;
	}
	if (!pop3_mech_offered(s, mech)) {
		pop3_session_err(s, "Unsupported authentication mechanism.");
		return;
	}
	if (i < len) {
		size_t il = len - i - 1;
		const char *ir = args + i + 1;
		if (il == 0 || (!(il == 1 && ir[0] == '=') && !auth_link_base64_ok(ir, il))) {
			pop3_session_err(s, "Invalid base64 data in the initial response.");
			return;
		}
		/* RFC 5034 4: "=" is an empty initial response */
		initial = il == 1 && ir[0] == '=' ? strdup("") : strndup(ir, il);
		if (initial == NULL) {
			pop3_session_err(s, "[SYS/TEMP] Out of memory.");
			return;
		}
	}
	s->via_pass = false;
	pop3_login_start_sasl(s, mech, initial, NULL);
	free(initial);
}

void pop3_auth_cancel(struct pop3_session *s)
{
	auth_link_cancel(&s->sasl);
	pop3_session_set_state(s, POP3_STATE_AUTHORIZATION);
}

void pop3_auth_response(struct pop3_session *s, const char *line, size_t len)
{
	switch (auth_link_answer(&s->l->role->auth, &s->sasl, line, len)) {
	case AUTH_LINK_SENT:
		pop3_session_set_state(s, POP3_STATE_AUTHORIZATION);
		conn_pause(s->conn);
		return;
	case AUTH_LINK_ABORTED:
		pop3_auth_cancel(s);
		pop3_session_err(s, "Authentication aborted by client.");
		return;
	case AUTH_LINK_BAD_BASE64:
		pop3_auth_cancel(s);
		pop3_session_err(s, "Invalid base64 data in the response.");
		return;
	case AUTH_LINK_UNAVAILABLE:
		pop3_auth_cancel(s);
		pop3_login_failed(s, "auth role unreachable", true);
		return;
	}
}
