/*
 * cmd-auth.c - AUTH mechanism [initial-response] (RFC 4954) through the
 * auth role (auth/auth-client.h, service=smtp, with the client and local
 * addresses and whether the connection is secured). The base64 exchange
 * is passed through unchanged: "334 challenge" lines out, the client's
 * lines back; "*" cancels (501 5.7.0 Authentication aborted, Postfix's
 * text). Success: "235 2.7.0 Authentication successful"; failure: "535
 * 5.7.8 Error: authentication failed: REASON"; auth role unreachable or
 * temporary failure: "454 4.7.0 Temporary authentication failure".
 *
 * Where AUTH is refused: not enabled (503), before EHLO (503), already
 * authenticated (503), inside a transaction (503), without TLS when
 * smtpd_tls_security_level = encrypt (530 5.7.0) or smtpd_tls_auth_only
 * = yes (538 5.7.11, RFC 4954 6).
 *
 * The request bookkeeping (client, ids, "*", base64 check) is
 * auth/auth-link.h's, shared with pop3/ and imap/.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth-link.h"
#include "conn.h"
#include "log.h"
#include "smtp/smtp-private.h"

static void auth_end(struct smtp_session *s)
{
	session_set_state(s, s->helo ? SMTP_STATE_HELO : SMTP_STATE_INIT);
}

static void auth_cb(void *ctx, const struct auth_client_reply *rep)
{
	struct smtp_session *s = ctx;
	char reason[200];

	auth_link_reply(&s->sasl, rep);
	switch (rep->status) {
	case AUTH_CLIENT_CONTINUE:
		session_set_state(s, SMTP_STATE_AUTH);
		session_reply_raw(s, "334 ");
		session_reply_raw(s, rep->data ? rep->data : "");
		session_reply_raw(s, "\r\n");
		break;
	case AUTH_CLIENT_OK: {
		char *user = strdup(rep->user ? rep->user : "");
		char *mech = strdup(s->auth_mech);
		if (user == NULL || mech == NULL) {
			free(user);
			free(mech);
			auth_end(s);
			session_count(s, SMTP_C_AUTH, false);
			session_reply(s, "454 4.7.0 Temporary authentication failure");
			break;
		}
		free(s->sasl_user);
		free(s->sasl_method);
		s->sasl_user = user;
		s->sasl_method = mech;
		auth_end(s);
		session_count(s, SMTP_C_AUTH, true);
		session_reply(s, "235 2.7.0 Authentication successful");
		break;
	}
	default:
		auth_end(s);
		session_count(s, SMTP_C_AUTH, false);
		if (rep->temp) {
			log_warn("%s: SASL %s authentication failed: %s", s->client, s->auth_mech,
				 rep->reason ? rep->reason : "temporary failure");
			session_reply(s, "454 4.7.0 Temporary authentication failure");
		} else {
			const char *r = rep->reason && *rep->reason ? rep->reason : "authentication failure";
			str_escape(r, strlen(r), reason, sizeof(reason));
			log_warn("%s: SASL %s authentication failed: %s", s->client, s->auth_mech, reason);
			session_reply(s, "535 5.7.8 Error: authentication failed: %s", reason);
		}
		break;
	}
	session_resume(s);
}

static void refuse(struct smtp_session *s, const char *reply)
{
	session_count(s, SMTP_C_AUTH, false);
	session_reply(s, "%s", reply);
}

void smtp_cmd_auth(struct smtp_session *s, char *args, size_t len)
{
	const struct smtp_settings *set = &s->l->set;
	char mech[32], *initial = NULL;
	size_t i = 0;

	if (!set->sasl_enabled)
		{ refuse(s, "503 5.5.1 Error: authentication not enabled"); return; }
	if (s->helo == NULL || !s->esmtp)
		{ refuse(s, "503 5.5.1 Error: send HELO/EHLO first"); return; }
	if (s->sasl_user)
		{ refuse(s, "503 5.5.1 Error: already authenticated"); return; }
	if (s->state != SMTP_STATE_HELO)
		{ refuse(s, "503 5.5.1 Error: MAIL transaction in progress"); return; }
	if (session_tls_required(s))
		{ refuse(s, "530 5.7.0 Must issue a STARTTLS command first"); return; }
	if (set->tls_auth_only && !s->tls)
		{ refuse(s, "538 5.7.11 Encryption required for requested authentication mechanism"); return; }
	while (i < len && args[i] != ' ')
		i++;
	if (i == 0 || i >= sizeof(mech))
		{ refuse(s, "501 5.5.4 Syntax: AUTH mechanism"); return; }
	memcpy(mech, args, i);
	mech[i] = '\0';
	for (char *p = mech; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (!auth_link_mech_listed(set->mechs, mech))
		{ refuse(s, "504 5.5.4 Unsupported authentication mechanism"); return; }
	while (i < len && args[i] == ' ')
		i++;
	if (i < len) {
		size_t il = len - i;
		if (!(il == 1 && args[i] == '=') && !auth_link_base64_ok(args + i, il))
			{ refuse(s, "501 5.5.2 Cannot decode response"); return; }
		initial = il == 1 && args[i] == '=' ? strdup("") : strndup(args + i, il);
		if (initial == NULL)
			{ refuse(s, "454 4.7.0 Temporary authentication failure"); return; }
	}
	struct auth_client_params p = {
		.service = "smtp", .rip = s->addr, .lip = conn_local_addr(s->conn),
		.lport = conn_local_port(s->conn), .secured = s->tls,
	};
	str_copy(s->auth_mech, mech, sizeof(s->auth_mech));
	unsigned id = auth_link_start(&s->l->role->auth, &s->sasl, set->auth_socket, mech, &p, initial,
				      auth_cb, s);
	free(initial);
	if (id == 0)
		{ refuse(s, "454 4.7.0 Temporary authentication failure"); return; }
	session_set_state(s, SMTP_STATE_AUTH);
	conn_pause(s->conn);
}

void smtp_cmd_auth_cancel(struct smtp_session *s)
{
	auth_link_cancel(&s->sasl);
	auth_end(s);
	session_count(s, SMTP_C_AUTH, false);
}

void smtp_cmd_auth_response(struct smtp_session *s, char *line, size_t len)
{
	switch (auth_link_answer(&s->l->role->auth, &s->sasl, line, len)) {
	case AUTH_LINK_SENT:
		conn_pause(s->conn);
		return;
	case AUTH_LINK_ABORTED:
		smtp_cmd_auth_cancel(s);
		session_reply(s, "501 5.7.0 Authentication aborted");
		return;
	case AUTH_LINK_BAD_BASE64:
		smtp_cmd_auth_cancel(s);
		session_reply(s, "501 5.5.2 Cannot decode response");
		return;
	case AUTH_LINK_UNAVAILABLE:
		smtp_cmd_auth_cancel(s);
		session_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
}
