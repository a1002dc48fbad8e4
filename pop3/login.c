/*
 * login.c - from a SASL exchange to an open maildrop: the auth role
 * (auth/auth-client.h, service=pop3, with the client and local addresses
 * and whether TLS is on) checks the credentials and applies its penalty
 * and failure delay; then the userdb socket gives the mail location and
 * quota; then maildrop.c opens the store, takes the lock and the
 * snapshot, and the session enters TRANSACTION.
 *
 * Called by cmd-auth.c (USER/PASS as SASL PLAIN, AUTH). RFC 1939 4,
 * RFC 5034 4 (AUTH replies), RFC 2449 8 and RFC 3206 (response codes:
 * [AUTH] for bad credentials, [SYS/TEMP] when we cannot check them now,
 * [SYS/PERM], [IN-USE], [LOGIN-DELAY]).
 *
 * Log lines as Dovecot's, which admins grep for:
 *   pop3-login: Login: user=<u>, method=PLAIN, rip=A, lip=B[, TLS]
 *   pop3-login: Aborted login (auth failed): user=<u>, method=PLAIN, rip=A, lip=B
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth-link.h"
#include "conn.h"
#include "log.h"
#include "pop3/pop3-private.h"
#include "util.h"

static void log_attempt(struct pop3_session *s, const char *what)
{
	char user[300];
	const char *u = s->login_try ? s->login_try : "";

	str_escape(u, strlen(u), user, sizeof(user));
	log_info("pop3-login: %s: user=<%s>, method=%s, rip=%s, lip=%s%s", what, user, s->mech,
		 s->addr, s->local_addr, s->tls ? ", TLS" : "");
}

void pop3_login_failed(struct pop3_session *s, const char *reason, bool temp)
{
	char what[300];

	pop3_session_set_state(s, POP3_STATE_AUTHORIZATION);
	snprintf(what, sizeof(what), "Aborted login (%s%s%s)", temp ? "temporary failure" : "auth failed",
		 reason && *reason ? ": " : "", reason && *reason ? reason : "");
	for (char *p = what; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
	log_attempt(s, what);
	/* Not counted as a bad command: the auth role's penalty and failure
	 * delay are what slow down password guessing. */
	if (temp)
		conn_printf(s->conn, "-ERR [SYS/TEMP] Temporary authentication failure, try again later.\r\n");
	else
		conn_printf(s->conn, "-ERR [AUTH] Authentication failed.\r\n");
	x_free(&s->login_try);
	if (s->via_pass)
		x_free(&s->user_arg);   /* RFC 1939 7: start over with USER */
}

static void logged_in(struct pop3_session *s, const char *user)
{
	s->user = strdup(user);
	if (s->user == NULL) {
		pop3_maildrop_close(&s->drop);
		pop3_login_failed(s, "out of memory", true);
		return;
	}
	pop3_session_set_state(s, POP3_STATE_TRANSACTION);
	log_attempt(s, "Login");
	x_free(&s->login_try);
	x_free(&s->user_arg);
	pop3_session_ok(s, "Logged in.");
}

static void userdb_cb(void *ctx, const struct auth_client_reply *rep)
{
	struct pop3_session *s = ctx;
	const char *location = NULL, *user = rep->user;
	unsigned long long quota = 0;
	struct store_error err;
	const char *code, *text;

	s->userdb_id = 0;
	if (rep->status == AUTH_CLIENT_NOTFOUND) {
		log_warn("pop3-login: %s authenticated but the userdb does not know it", s->login_try);
		pop3_login_failed(s, "no such user in the userdb", false);
		pop3_session_resume(s);
		return;
	}
	if (rep->status != AUTH_CLIENT_OK || user == NULL || *user == '\0') {
		pop3_login_failed(s, rep->reason ? rep->reason : "userdb lookup failed", true);
		pop3_session_resume(s);
		return;
	}
	for (size_t i = 0; i < rep->n_fields; i++) {
		const char *f = rep->fields[i];
		if (strncmp(f, "mail=", 5) == 0)
			location = f + 5;
		else if (strncmp(f, "quota_bytes=", 12) == 0)
			quota = strtoull(f + 12, NULL, 10);
		else if (strcmp(f, "enabled=0") == 0) {
			pop3_login_failed(s, "user disabled", false);
			pop3_session_resume(s);
			return;
		}
	}
	if (pop3_maildrop_open(s, user, location, quota, &err, &code, &text) < 0) {
		char what[300];
		snprintf(what, sizeof(what), "Aborted login (%s)", text);
		log_attempt(s, what);
		pop3_session_set_state(s, POP3_STATE_AUTHORIZATION);
		conn_printf(s->conn, "-ERR [%s] %s.\r\n", code, text);
		x_free(&s->login_try);
		pop3_session_resume(s);
		return;
	}
	logged_in(s, user);
	pop3_session_resume(s);
}

static void sasl_ok(struct pop3_session *s, const char *user)
{
	struct auth_client *ud = auth_link_userdb(&s->l->role->auth, s->l->set.userdb_socket);

	free(s->login_try);
	s->login_try = strdup(user);
	if (ud == NULL) {
		pop3_login_failed(s, "userdb unreachable", true);
		pop3_session_resume(s);
		return;
	}
	s->userdb_id = auth_client_lookup(ud, "USER", user, "pop3", userdb_cb, s);
	if (s->userdb_id == 0) {
		auth_link_broken(&s->l->role->auth, ud);
		pop3_login_failed(s, "userdb unreachable", true);
		pop3_session_resume(s);
	}
}

static void sasl_cb(void *ctx, const struct auth_client_reply *rep)
{
	struct pop3_session *s = ctx;

	auth_link_reply(&s->sasl, rep);
	switch (rep->status) {
	case AUTH_CLIENT_CONTINUE:
		if (s->via_pass) {
			/* PASS sent a complete PLAIN response: a challenge
			 * means the auth role did not accept it. */
			auth_link_cancel(&s->sasl);
			pop3_login_failed(s, "unexpected challenge", false);
			break;
		}
		pop3_session_set_state(s, POP3_STATE_SASL);
		pop3_session_raw(s, "+ ");
		pop3_session_raw(s, rep->data ? rep->data : "");
		pop3_session_raw(s, "\r\n");
		break;
	case AUTH_CLIENT_OK:
		pop3_session_set_state(s, POP3_STATE_AUTHORIZATION);
		sasl_ok(s, rep->user ? rep->user : "");
		return;     /* sasl_ok resumes when the lookup is done */
	default:
		pop3_login_failed(s, rep->reason, rep->temp);
		break;
	}
	pop3_session_resume(s);
}

void pop3_login_start_sasl(struct pop3_session *s, const char *mech, const char *initial_b64,
		      const char *user_for_log)
{
	struct auth_client_params p = {
		.service = "pop3", .rip = s->addr, .lip = s->local_addr,
		.lport = conn_local_port(s->conn), .secured = s->tls,
	};

	str_copy(s->mech, mech, sizeof(s->mech));
	free(s->login_try);
	s->login_try = user_for_log ? strdup(user_for_log) : NULL;
	if (auth_link_start(&s->l->role->auth, &s->sasl, s->l->set.auth_socket, mech, &p, initial_b64,
			    sasl_cb, s) == 0) {
		pop3_login_failed(s, "auth role unreachable", true);
		return;
	}
	conn_pause(s->conn);
}
