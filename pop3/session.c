/*
 * session.c - one POP3 session: the state enum and the one function that
 * changes it, reading lines and dispatching them through the command
 * table (commands.c), +OK/-ERR replies with the bad-command limit,
 * timeouts, STLS's state reset and Dovecot-style log lines.
 *
 * Called by pop3-role.c (pop3_session_accept) and by every cmd-*.c. RFC 1939
 * 3 (commands, replies), 4-6 (AUTHORIZATION, TRANSACTION, UPDATE), RFC
 * 2449 4 (line length), RFC 2595 4 (STLS resets the session's knowledge).
 *
 * Asynchronous work (the auth role, the userdb) and RETR/TOP streaming
 * pause the conn: pipelined commands (RFC 2449 6, PIPELINING) stay buffered and are
 * answered in order afterwards.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/auth-client.h"
#include "conn.h"
#include "log.h"
#include "pop3/pop3-private.h"
#include "util.h"

static unsigned next_session_id;

/* pop3_session_set_state - the only place the state changes. The SASL
 * exchange allows long base64 lines; commands are held to RFC 2449's 255
 * octets by the dispatcher (so an overlong command gets a reply rather
 * than a silent cut). */
void pop3_session_set_state(struct pop3_session *s, enum pop3_state state)
{
	s->state = state;
}

bool pop3_session_plaintext_ok(const struct pop3_session *s)
{
	return s->tls || s->loopback || s->l->set.allow_plaintext;
}

const char *pop3_session_log_user(const struct pop3_session *s)
{
	return s->user ? s->user : "?";
}

void pop3_session_close(struct pop3_session *s)
{
	pop3_session_set_state(s, POP3_STATE_QUIT);
	conn_close_after_flush(s->conn);
}

static void reply(struct pop3_session *s, const char *status, const char *fmt, va_list ap)
{
	char line[POP3_REPLY_MAX];
	int n = snprintf(line, sizeof(line), "%s ", status);

	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (line[n] == '\0')
		line[n - 1] = '\0';   /* "+OK" alone, no trailing space */
	/* a reply never carries CR/LF from what it quotes */
	for (char *p = line; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	conn_printf(s->conn, "%s\r\n", line);
}

void pop3_session_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	s->bad_commands = 0;
	va_start(ap, fmt);
	reply(s, "+OK", fmt, ap);
	va_end(ap);
}

void pop3_session_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply(s, "-ERR", fmt, ap);
	va_end(ap);
	if (++s->bad_commands >= POP3_MAX_BAD_COMMANDS && s->state != POP3_STATE_QUIT) {
		log_info("pop3%s%s%s: Disconnected: Too many bad commands: rip=%s",
			 s->user ? "(" : "-login", s->user ? s->user : "", s->user ? ")" : "", s->addr);
		conn_printf(s->conn, "-ERR Too many bad commands, closing the connection.\r\n");
		pop3_session_close(s);
	}
}

void pop3_session_raw(struct pop3_session *s, const char *text)
{
	conn_write(s->conn, text, strlen(text));
}

void pop3_session_resume(struct pop3_session *s)
{
	if (s->state == POP3_STATE_QUIT || s->state == POP3_STATE_TLS)
		return;
	if (s->sasl.id || s->userdb_id || s->stream.active)
		return;
	conn_resume(s->conn);
}

/* --- lines --------------------------------------------------------------- */

static void dispatch(struct pop3_session *s, char *line, size_t len)
{
	char verb[POP3_VERB_MAX + 1];
	size_t args_off;
	const struct pop3_command *cmd;
	unsigned where = s->state == POP3_STATE_TRANSACTION ? POP3_IN_TRANS : POP3_IN_AUTH;

	if (pop3_command_split(line, len, verb, &args_off) < 0 ||
	    (cmd = pop3_command_find(verb)) == NULL) {
		char esc[80];
		str_escape(line, len < 40 ? len : 40, esc, sizeof(esc));
		log_info("pop3%s%s%s: unknown command from %s: %s", s->user ? "(" : "-login",
			 s->user ? s->user : "", s->user ? ")" : "", s->addr, esc);
		pop3_session_err(s, "Unknown command.");
		return;
	}
	if (len > POP3_LINE_MAX && strcmp(cmd->name, "AUTH") != 0) {
		pop3_session_err(s, "Command line too long (%d octets at most).", POP3_LINE_MAX + 2);
		return;
	}
	if (!(cmd->states & where)) {
		if (where == POP3_IN_AUTH)
			pop3_session_err(s, "%s is only valid after logging in.", cmd->name);
		else
			pop3_session_err(s, "%s is only valid before logging in.", cmd->name);
		return;
	}
	cmd->fn(s, line + args_off, len - args_off);
}

static void on_line(struct conn *conn, char *line, size_t len, void *ctx)
{
	struct pop3_session *s = ctx;

	(void)conn;
	switch (s->state) {
	case POP3_STATE_SASL:
		pop3_auth_response(s, line, len);
		return;
	case POP3_STATE_TLS:
	case POP3_STATE_QUIT:
		return;
	default:
		dispatch(s, line, len);
	}
}

static void on_line_too_long(struct conn *conn, void *ctx)
{
	struct pop3_session *s = ctx;

	(void)conn;
	if (s->state == POP3_STATE_SASL)
		pop3_auth_cancel(s);
	log_info("pop3%s%s%s: line too long from %s", s->user ? "(" : "-login",
		 s->user ? s->user : "", s->user ? ")" : "", s->addr);
	pop3_session_err(s, "Line too long.");
}

static void on_timeout(struct conn *conn, void *ctx)
{
	struct pop3_session *s = ctx;

	(void)conn;
	conn_printf(s->conn, "-ERR Disconnected for inactivity.\r\n");
	if (s->user)
		log_info("pop3(%s): Disconnected for inactivity top=%u/%llu, retr=%u/%llu, del=0/%u, size=%llu",
			 s->user, s->top_count, (unsigned long long)s->top_bytes, s->retr_count,
			 (unsigned long long)s->retr_bytes, s->drop.n_msgs, (unsigned long long)s->drop.size);
	else
		log_info("pop3-login: Disconnected: Inactivity (no auth attempts): rip=%s, lip=%s",
			 s->addr, s->local_addr);
	s->quit_seen = true;    /* logged already */
	pop3_session_set_state(s, POP3_STATE_QUIT);
}

static void on_drained(struct conn *conn, void *ctx)
{
	struct pop3_session *s = ctx;

	(void)conn;
	if (s->stream.active)
		pop3_retr_drained(s);
}

static void on_tls_ready(struct conn *conn, void *ctx)
{
	struct pop3_session *s = ctx;

	(void)conn;
	s->tls = true;
	if (s->state == POP3_STATE_TLS) {
		/* RFC 2595 4: forget what the client said before TLS. */
		x_free(&s->user_arg);
		pop3_session_set_state(s, POP3_STATE_AUTHORIZATION);
	}
}

static void session_free(struct pop3_session *s);

static void on_close(struct conn *conn, enum conn_close_reason reason, const char *detail, void *ctx)
{
	struct pop3_session *s = ctx;

	(void)conn;
	if (reason == CONN_CLOSE_TLS) {
		log_info("pop3-login: Disconnected: TLS handshake failed: %s: rip=%s, lip=%s",
			 *detail ? detail : "lost connection", s->addr, s->local_addr);
	} else if (!s->quit_seen) {
		const char *why = reason == CONN_CLOSE_EOF || reason == CONN_CLOSE_ERROR ? "Connection closed" :
				  reason == CONN_CLOSE_OUTPUT ? "Client does not read" :
				  conn_close_reason_name(reason);
		char extra[200];

		snprintf(extra, sizeof(extra), "%s%s%s", s->stream.active && !s->stream.listing ? " during RETR" : "",
			 *detail ? ": " : "", detail);
		if (s->user)
			log_info("pop3(%s): Disconnected: %s%s top=%u/%llu, retr=%u/%llu, del=0/%u, size=%llu",
				 s->user, why, extra, s->top_count,
				 (unsigned long long)s->top_bytes, s->retr_count,
				 (unsigned long long)s->retr_bytes, s->drop.n_msgs,
				 (unsigned long long)s->drop.size);
		else
			log_info("pop3-login: Disconnected: %s%s: rip=%s, lip=%s%s", why, extra, s->addr,
				 s->local_addr, s->tls ? ", TLS" : "");
	}
	session_free(s);
}

static const struct conn_callbacks session_callbacks = {
	.on_line = on_line,
	.on_line_too_long = on_line_too_long,
	.on_timeout = on_timeout,
	.on_drained = on_drained,
	.on_tls_ready = on_tls_ready,
	.on_close = on_close,
};

/* --- start and end -------------------------------------------------------- */

static bool addr_is_loopback(const char *a)
{
	return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0;
}

void pop3_session_accept(struct pop3_listener *l, struct conn *conn)
{
	struct pop3_role *role = l->role;
	struct pop3_session *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		conn_free(conn);
		return;
	}
	s->l = l;
	s->conn = conn;
	s->id = ++next_session_id;
	s->state = POP3_STATE_AUTHORIZATION;
	s->drop.lock_fd = -1;
	s->stream.fd = -1;
	str_copy(s->addr, conn_peer_addr(conn), sizeof(s->addr));
	str_copy(s->local_addr, conn_local_addr(conn), sizeof(s->local_addr));
	s->loopback = addr_is_loopback(s->addr);
	s->next = role->sessions;
	if (role->sessions)
		role->sessions->prev = s;
	role->sessions = s;
	role->n_sessions++;
	conn_set_callbacks(conn, &session_callbacks, s);
	conn_set_max_line(conn, POP3_AUTH_LINE_MAX);
	conn_set_timeout(conn, l->set.timeout);
	if (l->implicit_tls)
		s->tls = true;   /* the handshake runs first */
	/* RFC 1939 4: the greeting. No APOP timestamp: APOP is not offered. */
	conn_printf(conn, "+OK %s POP3 server ready.\r\n", l->set.hostname);
}

static void session_free(struct pop3_session *s)
{
	struct pop3_role *role = s->l->role;

	pop3_retr_abort(s);
	auth_link_cancel(&s->sasl);
	if (s->userdb_id && role->auth.userdb)
		auth_client_cancel(role->auth.userdb, s->userdb_id);
	if (s->ev_timer)
		event_free(s->ev_timer);
	/* A session that did not reach UPDATE deletes nothing (RFC 1939 6). */
	pop3_maildrop_close(&s->drop);
	free(s->user_arg);
	free(s->login_try);
	free(s->user);
	if (s->prev)
		s->prev->next = s->next;
	else
		role->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	role->n_sessions--;
	conn_free(s->conn);
	free(s);
	pop3_role_session_gone(role);
}

void pop3_session_free_all(struct pop3_role *role)
{
	while (role->sessions)
		session_free(role->sessions);
}
