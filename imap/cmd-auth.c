/*
 * cmd-auth.c - STARTTLS (RFC 3501 6.2.1), AUTHENTICATE (6.2.2, with
 * SASL-IR, RFC 4959) and LOGIN (6.2.3), through the auth role
 * (auth/auth-client.h, service=imap, with the client's and the local
 * address and whether the connection is secured).
 *
 * Base64 is passed through unchanged ("+ challenge" out, the client's
 * lines back); a line "*" cancels (RFC 3501 6.2.2: tagged BAD). LOGIN
 * becomes a PLAIN exchange with the auth role.
 *
 * Plaintext (LOGIN, AUTHENTICATE PLAIN/LOGIN) is refused before TLS from a
 * non-loopback client unless imap_allow_plaintext_auth = yes (RFC 3501
 * 6.2.3, 11.1: LOGINDISABLED is advertised then): "NO [PRIVACYREQUIRED]".
 * When IMAP allows it, the auth role is told the connection is secured so
 * that its own disable_plaintext_auth does not refuse it a second time.
 *
 * Replies: failure "NO [AUTHENTICATIONFAILED] Authentication failed.";
 * the auth role unreachable or a temporary failure "NO [UNAVAILABLE]
 * Temporary authentication failure."; success after the userdb lookup
 * and the store open (imap_session_login): "OK [CAPABILITY ...] Logged in".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth-link.h"
#include "base64.h"
#include "conn.h"
#include "log.h"
#include "imap/imap-private.h"

enum imap_cmd_result imap_cmd_starttls(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	SSL_CTX *ctx = imap_session_tls_ctx(s);

	if (cmd->nargs != 0)
		return imap_cmd_bad(cmd, NULL, "STARTTLS takes no arguments");
	if (s->tls)
		return imap_cmd_bad(cmd, NULL, "TLS is already active");
	if (ctx == NULL)
		return imap_cmd_no(cmd, "UNAVAILABLE", "TLS is not configured on this listener (tls_cert_file)");
	imap_cmd_ok(cmd, NULL, "Begin TLS negotiation now.");
	if (conn_start_tls(s->conn, ctx) < 0)
		imap_session_close(s);
	/* RFC 3501 6.2.1: from now on the client must ask CAPABILITY again;
	 * the set changes once s->tls is set by on_tls_ready */
	return IMAP_CMD_DONE;
}

/* ---- the SASL exchange ---- */

struct auth_ctx {
	struct auth_client *client;
	unsigned id;           /* waiting for the auth role */
	unsigned waiting;      /* waiting for the client's answer to CONTINUE */
	char mech[32];
	char user[128];        /* LOGIN: for the log; after success: the user */
	bool final_sent;       /* success data sent as "+ ...": waiting for the empty answer */
};

static void auth_ctx_free(struct imap_cmd *cmd)
{
	struct auth_ctx *a = cmd->ctx;

	if (a == NULL)
		return;
	if (a->client && (a->id || a->waiting))
		auth_client_cancel(a->client, a->id ? a->id : a->waiting);
	free(a);
	cmd->ctx = NULL;
}

static void auth_cancel(struct imap_cmd *cmd)
{
	auth_ctx_free(cmd);
}

/* finish - the tagged reply was sent: end the command. */
static void finish(struct imap_cmd *cmd)
{
	auth_ctx_free(cmd);
	cmd->cancel = NULL;
	cmd->input_line = NULL;
	imap_cmd_async_done(cmd);
}

static enum imap_cmd_result client_line(struct imap_cmd *cmd, const char *line, size_t len);

static void auth_cb(void *ctx, const struct auth_client_reply *rep)
{
	struct imap_cmd *cmd = ctx;
	struct imap_session *s = cmd->sess;
	struct auth_ctx *a = cmd->ctx;
	char reason[200];

	switch (rep->status) {
	case AUTH_CLIENT_CONTINUE:
		a->waiting = a->id;
		a->id = 0;
		imap_write(s, "+ ", 2);
		if (rep->data)
			imap_write(s, rep->data, strlen(rep->data));
		imap_write(s, "\r\n", 2);
		cmd->input_line = client_line;
		conn_resume(s->conn);
		return;
	case AUTH_CLIENT_OK: {
		char user[256], mech[32];
		if (rep->data && *rep->data) {
			/* RFC 3501 6.2.2 has no success data: the server's final
			 * message (SCRAM's v=) goes out as one more challenge, and
			 * the client answers it with an empty line (RFC 4422 5) */
			a->id = 0;
			a->final_sent = true;
			if (rep->user)
				str_copy(a->user, rep->user, sizeof(a->user));
			imap_write(s, "+ ", 2);
			imap_write(s, rep->data, strlen(rep->data));
			imap_write(s, "\r\n", 2);
			cmd->input_line = client_line;
			conn_resume(s->conn);
			return;
		}
		str_copy(user, rep->user ? rep->user : a->user, sizeof(user));
		str_copy(mech, a->mech, sizeof(mech));
		a->id = 0;
		auth_ctx_free(cmd);
		cmd->cancel = NULL;
		cmd->input_line = NULL;
		conn_pause(s->conn);
		imap_session_login(cmd, user, mech);
		return;
	}
	default: {
		const char *r = rep->reason && *rep->reason ? rep->reason : "authentication failure";
		a->id = 0;
		str_escape(r, strlen(r), reason, sizeof(reason));
		imap_session_auth_failed(s, a->user[0] ? a->user : NULL, a->mech);
		if (rep->temp) {
			log_warn("imap-login: %s authentication failed: %s: rip=%s, session=<%s>", a->mech, reason,
				 imap_session_rip(s), s->id);
			imap_role_auth_broken(s->role, a->client);
			imap_cmd_no(cmd, "UNAVAILABLE", "Temporary authentication failure.");
		} else {
			log_info("imap-login: %s authentication failed: %s: user=<%s>, rip=%s, session=<%s>", a->mech,
				 reason, a->user, imap_session_rip(s), s->id);
			imap_cmd_no(cmd, "AUTHENTICATIONFAILED", "Authentication failed.");
		}
		finish(cmd);
		return;
	}
	}
}

/* client_line - the client's answer to "+ challenge". */
static enum imap_cmd_result client_line(struct imap_cmd *cmd, const char *line, size_t len)
{
	struct imap_session *s = cmd->sess;
	struct auth_ctx *a = cmd->ctx;
	char *resp;

	if (len == 1 && line[0] == '*') {
		imap_session_auth_failed(s, NULL, a->mech);
		auth_ctx_free(cmd);
		cmd->cancel = NULL;
		cmd->input_line = NULL;
		return imap_cmd_bad(cmd, NULL, "Authentication aborted by client.");
	}
	if (a->final_sent) {
		char user[256], mech[32];

		if (len != 0) {
			imap_session_auth_failed(s, a->user, a->mech);
			auth_ctx_free(cmd);
			cmd->cancel = NULL;
			cmd->input_line = NULL;
			return imap_cmd_bad(cmd, NULL, "Expected an empty response after the server's final data.");
		}
		str_copy(user, a->user, sizeof(user));
		str_copy(mech, a->mech, sizeof(mech));
		auth_ctx_free(cmd);
		cmd->cancel = NULL;
		cmd->input_line = NULL;
		conn_pause(s->conn);
		imap_session_login(cmd, user, mech);
		return IMAP_CMD_PENDING;
	}
	if (!auth_link_base64_ok(line, len) || (resp = strndup(line, len)) == NULL) {
		imap_session_auth_failed(s, NULL, a->mech);
		auth_ctx_free(cmd);
		cmd->cancel = NULL;
		cmd->input_line = NULL;
		return imap_cmd_bad(cmd, NULL, "Invalid base64 data in the response.");
	}
	unsigned id = a->waiting;
	int r = auth_client_continue(a->client, id, resp);
	free(resp);
	if (r < 0) {
		imap_role_auth_broken(s->role, a->client);
		a->waiting = 0;
		a->client = NULL;
		auth_ctx_free(cmd);
		cmd->cancel = NULL;
		cmd->input_line = NULL;
		return imap_cmd_no(cmd, "UNAVAILABLE", "Temporary authentication failure.");
	}
	a->waiting = 0;
	a->id = id;
	cmd->input_line = NULL;
	conn_pause(s->conn);
	return IMAP_CMD_PENDING;
}

static enum imap_cmd_result start(struct imap_cmd *cmd, const char *mech, const char *initial,
				  const char *user)
{
	struct imap_session *s = cmd->sess;
	const struct imap_listener *l = imap_session_listener(s);
	struct auth_client *ac = imap_role_auth(s->role, l->set.auth_socket);
	struct auth_ctx *a;

	if (ac == NULL) {
		imap_session_auth_failed(s, user, mech);
		return imap_cmd_no(cmd, "UNAVAILABLE", "Temporary authentication failure.");
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return imap_cmd_no(cmd, "UNAVAILABLE", "Temporary authentication failure.");
	a->client = ac;
	str_copy(a->mech, mech, sizeof(a->mech));
	if (user)
		str_copy(a->user, user, sizeof(a->user));
	cmd->ctx = a;
	cmd->cancel = auth_cancel;
	struct auth_client_params p = {
		.service = "imap", .rip = imap_session_rip(s), .lip = conn_local_addr(s->conn),
		.lport = conn_local_port(s->conn),
		/* IMAP already decided plaintext is fine here (see the top) */
		.secured = s->tls || imap_session_plaintext_ok(s),
	};
	a->id = auth_client_start(ac, mech, &p, initial, auth_cb, cmd);
	if (a->id == 0) {
		imap_role_auth_broken(s->role, ac);
		a->client = NULL;
		auth_ctx_free(cmd);
		cmd->cancel = NULL;
		imap_session_auth_failed(s, user, mech);
		return imap_cmd_no(cmd, "UNAVAILABLE", "Temporary authentication failure.");
	}
	return IMAP_CMD_PENDING;
}

enum imap_cmd_result imap_cmd_authenticate(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	const struct imap_settings *set = &imap_session_listener(s)->set;
	char mech[32];
	const char *initial = NULL;

	if (cmd->nargs < 1 || cmd->nargs > 2 || cmd->args[0].type != IMAP_ARG_ATOM)
		return imap_cmd_bad(cmd, NULL, "Usage: AUTHENTICATE mechanism [initial-response]");
	if (str_copy(mech, cmd->args[0].data, sizeof(mech)) >= sizeof(mech))
		return imap_cmd_no(cmd, "CANNOT", "Unsupported authentication mechanism.");
	for (char *p = mech; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (!auth_link_mech_listed(set->mechs, mech))
		return imap_cmd_no(cmd, "CANNOT", "Unsupported authentication mechanism.");
	if (auth_link_mech_plaintext(mech) && !imap_session_plaintext_ok(s)) {
		imap_session_auth_failed(s, NULL, mech);
		return imap_cmd_no(cmd, "PRIVACYREQUIRED", "Plaintext authentication disallowed on non-secure connections; use STARTTLS first.");
	}
	if (cmd->nargs == 2) {
		const struct imap_arg *ir = &cmd->args[1];
		if (ir->type != IMAP_ARG_ATOM || !auth_link_base64_ok(ir->data, ir->len))
			return imap_cmd_bad(cmd, NULL, "Invalid base64 data in the initial response.");
		/* RFC 4959 3: "=" is an empty initial response */
		initial = strcmp(ir->data, "=") == 0 ? "" : ir->data;
	}
	return start(cmd, mech, initial, NULL);
}

enum imap_cmd_result imap_cmd_login(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	const char *user, *pass;
	char *blob, *b64;
	size_t ul, pl;

	if (cmd->nargs != 2 || (user = imap_arg_astring(&cmd->args[0])) == NULL ||
	    (pass = imap_arg_astring(&cmd->args[1])) == NULL)
		return imap_cmd_bad(cmd, NULL, "Usage: LOGIN user password");
	if (!imap_session_plaintext_ok(s)) {
		imap_session_auth_failed(s, user, "PLAIN");
		return imap_cmd_no(cmd, "PRIVACYREQUIRED", "Plaintext authentication disallowed on non-secure connections; use STARTTLS first.");
	}
	ul = strlen(user);
	pl = strlen(pass);
	if (ul == 0 || ul > 255 || pl > 1024) {
		imap_session_auth_failed(s, user, "PLAIN");
		return imap_cmd_no(cmd, "AUTHENTICATIONFAILED", "Authentication failed.");
	}
	blob = malloc(ul + pl + 2);
	if (blob == NULL)
		return imap_cmd_no(cmd, "UNAVAILABLE", "Temporary authentication failure.");
	blob[0] = '\0';
	memcpy(blob + 1, user, ul);
	blob[ul + 1] = '\0';
	memcpy(blob + ul + 2, pass, pl);
	b64 = base64_encode(blob, ul + pl + 2);
	memset(blob, 0, ul + pl + 2);
	free(blob);
	if (b64 == NULL)
		return imap_cmd_no(cmd, "UNAVAILABLE", "Temporary authentication failure.");
	enum imap_cmd_result r = start(cmd, "PLAIN", b64, user);
	memset(b64, 0, strlen(b64));
	free(b64);
	return r;
}
