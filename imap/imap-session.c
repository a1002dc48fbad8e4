/*
 * imap-session.c - one IMAP session: greeting, reading lines and literals
 * into the parser, dispatching complete commands through the table
 * (imap-commands.c) with the state check, the one output path (so that
 * COMPRESS can wrap it later), the tagged replies with their untagged
 * updates, the one function that changes the state, timeouts, shutdown and
 * the Dovecot-style login/logout log lines.
 *
 * Called by imap-role.c (imap_session_accept, shutdown, free_all) and by
 * every cmd-*.c (output and reply helpers).
 *
 * RFC 3501 7.1.1 (greeting with CAPABILITY code), 5.4 (autologout timer:
 * at least 30 minutes after login), 6.1.1 (CAPABILITY), 7.1.5 (BYE),
 * RFC 7888 (LITERAL+), RFC 5530 (response codes).
 *
 * Wrong state answers (one form for all, RFC 3501 6: BAD is "command
 * unknown or arguments invalid", which includes a command that is not
 * valid in the current state):
 *   before login:            TAG BAD Command not valid in this state: log in first
 *   no mailbox selected:     TAG BAD Command not valid in this state: no mailbox selected
 *   after login (LOGIN ...): TAG BAD Command not valid in this state: already logged in
 *
 * Output and memory: output goes through session_output() only. The conn's
 * output limit (IMAP_OUTPUT_LIMIT) is far above what a streaming handler
 * keeps queued (IMAP_OUTPUT_HIGH), so only a client that sends commands
 * but never reads its answers reaches it: it is cut off (CONN_CLOSE_OUTPUT)
 * instead of growing the process.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/auth-client.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "imap/imap-private.h"

/* Output a client may leave unread before it is disconnected. */
#define IMAP_OUTPUT_LIMIT (8 * 1024 * 1024)

struct imap_session_priv {
	struct imap_listener *l;
	struct imap_session *next, *prev;
	struct imap_parser *parser;
	struct imap_cmd *cmd;          /* the command in progress, NULL between commands */
	struct event *ev_login;        /* login deadline, until login */
	struct event *ev_wake;         /* imap_cmd_wake */
	char rip[64], lip[64];
	char method[32];
	char login_user[128];          /* for the failure log line */
	time_t started;
	unsigned auth_attempts;
	unsigned userdb_id;            /* pending userdb lookup */
	struct auth_client *userdb;
	struct imap_cmd *login_cmd;    /* waiting for the userdb lookup */
	const char *end_reason;        /* for the disconnect line */
	uint64_t modseq_at_start;      /* selected mailbox's HIGHESTMODSEQ when the command began */
	uint32_t count_at_start;
	bool closing;
	bool freed;
};

static unsigned long session_counter;

static void session_free(struct imap_session *s);

/* ---- output ---- */

static void session_output(struct imap_session *s, const void *data, size_t len)
{
	if (conn_write(s->conn, data, len) == 0)
		s->bytes_out += len;
}

void imap_write(struct imap_session *s, const void *data, size_t len)
{
	session_output(s, data, len);
}

size_t imap_output_pending(const struct imap_session *s)
{
	return conn_output_pending(s->conn);
}

/* vline - prefix + formatted text + CRLF through the one output path. */
static void vline(struct imap_session *s, const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	va_list ap2;
	size_t pl = strlen(prefix);
	int n;

	if (pl >= sizeof(buf) / 2)
		return;
	memcpy(buf, prefix, pl);
	va_copy(ap2, ap);
	n = vsnprintf(buf + pl, sizeof(buf) - pl, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n + pl + 2 < sizeof(buf)) {
		memcpy(buf + pl + n, "\r\n", 2);
		session_output(s, buf, pl + (size_t)n + 2);
		return;
	}
	char *big = malloc(pl + (size_t)n + 3);
	if (big == NULL) {
		conn_close(s->conn);
		return;
	}
	memcpy(big, prefix, pl);
	vsnprintf(big + pl, (size_t)n + 1, fmt, ap);
	memcpy(big + pl + n, "\r\n", 2);
	session_output(s, big, pl + (size_t)n + 2);
	free(big);
}

void imap_send_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(s, "* ", fmt, ap);
	va_end(ap);
}

static void send_line(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_line(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(s, "", fmt, ap);
	va_end(ap);
}

/* tagged - "TAG RESULT [CODE] text". */
static void tagged(struct imap_session *s, const char *tag, const char *result, const char *code,
		   const char *fmt, va_list ap)
{
	char text[600];

	vsnprintf(text, sizeof(text), fmt, ap);
	if (code && *code)
		send_line(s, "%s %s [%s] %s", tag, result, code, text);
	else
		send_line(s, "%s %s %s", tag, result, text);
}

static void tagged_f(struct imap_session *s, const char *tag, const char *result, const char *code,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void tagged_f(struct imap_session *s, const char *tag, const char *result, const char *code,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tagged(s, tag, result, code, fmt, ap);
	va_end(ap);
}

static void sync_before_reply(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	bool allow_expunge = !((cmd->flags & IMAP_CMD_FLAG_USES_SEQS) && !cmd->uid);

	if (s->state == IMAP_STATE_SELECTED && s->sel)
		imap_sync_report(s, allow_expunge);
}

enum imap_cmd_result imap_cmd_ok(struct imap_cmd *cmd, const char *code, const char *fmt, ...)
{
	va_list ap;

	sync_before_reply(cmd);
	va_start(ap, fmt);
	tagged(cmd->sess, cmd->tag, "OK", code, fmt, ap);
	va_end(ap);
	return IMAP_CMD_DONE;
}

enum imap_cmd_result imap_cmd_no(struct imap_cmd *cmd, const char *code, const char *fmt, ...)
{
	va_list ap;

	sync_before_reply(cmd);
	va_start(ap, fmt);
	tagged(cmd->sess, cmd->tag, "NO", code, fmt, ap);
	va_end(ap);
	return IMAP_CMD_DONE;
}

enum imap_cmd_result imap_cmd_bad(struct imap_cmd *cmd, const char *code, const char *fmt, ...)
{
	va_list ap;

	sync_before_reply(cmd);
	va_start(ap, fmt);
	tagged(cmd->sess, cmd->tag, "BAD", code, fmt, ap);
	va_end(ap);
	return IMAP_CMD_DONE;
}

enum imap_cmd_result imap_cmd_store_error(struct imap_cmd *cmd, const struct store_error *err)
{
	const char *code;

	switch (err->cls) {
	case STORE_ERR_TEMP: code = "UNAVAILABLE"; break;
	case STORE_ERR_NOTFOUND: code = "NONEXISTENT"; break;
	case STORE_ERR_EXISTS: code = "ALREADYEXISTS"; break;
	case STORE_ERR_QUOTA: code = "OVERQUOTA"; break;
	case STORE_ERR_EXPUNGED: code = "EXPUNGEISSUED"; break;
	case STORE_ERR_NOUSER:
	case STORE_ERR_PERM: code = "CANNOT"; break;
	default: code = "SERVERBUG"; break;
	}
	return imap_cmd_no(cmd, code, "%s", err->text[0] ? err->text : "Internal error; see the server log");
}

/* ---- state ---- */

void imap_session_set_state(struct imap_session *s, enum imap_state state)
{
	if (s->state == state)
		return;
	if (s->state == IMAP_STATE_NOT_AUTH && state != IMAP_STATE_LOGOUT) {
		/* logged in: the login deadline ends, the idle timeout starts */
		if (s->priv->ev_login) {
			event_free(s->priv->ev_login);
			s->priv->ev_login = NULL;
		}
		conn_set_timeout(s->conn, (int)s->priv->l->set.idle_timeout);
	}
	/* Logged like Dovecot: the login line (imap_session_login) and the
	 * disconnect line (log_end) carry the state changes that matter;
	 * SELECT/CLOSE are too frequent for a line each. */
	s->state = state;
}

struct event_base *imap_session_base(const struct imap_session *s)
{
	return s->role->base;
}

const struct imap_listener *imap_session_listener(const struct imap_session *s)
{
	return s->priv->l;
}

SSL_CTX *imap_session_tls_ctx(const struct imap_session *s)
{
	return s->priv->l->ssl_ctx;
}

bool imap_session_plaintext_ok(const struct imap_session *s)
{
	return s->tls || s->loopback || s->priv->l->set.allow_plaintext_auth;
}

/* ---- capabilities ---- */

void imap_capability_string(const struct imap_session *s, struct strbuf *out)
{
	const struct imap_settings *set = &s->priv->l->set;

	/* Only what works: each name has its handler (cmd-*.c) and a test in
	 * tests/integration/test_imap_*.py. CONDSTORE/QRESYNC/UTF8=ACCEPT
	 * are not here until ENABLE can turn them on (cmd-misc.c). */
	strbuf_puts(out, "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT CHILDREN "
		    "SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED UIDPLUS MOVE STATUS=SIZE");
	if (s->state != IMAP_STATE_NOT_AUTH)
		return;
	if (!s->tls && s->priv->l->ssl_ctx)
		strbuf_puts(out, " STARTTLS");
	bool plain_ok = imap_session_plaintext_ok(s);
	if (!plain_ok)
		strbuf_puts(out, " LOGINDISABLED");
	const char *p = set->mechs;
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		bool plaintext = (n == 5 && strncasecmp(p, "PLAIN", 5) == 0) ||
				 (n == 5 && strncasecmp(p, "LOGIN", 5) == 0);
		if (n > 0 && (plain_ok || !plaintext)) {
			strbuf_puts(out, " AUTH=");
			strbuf_append(out, p, n);
		}
		p += n;
		while (*p == ' ')
			p++;
	}
}

/* ---- logging ---- */

static void log_end(struct imap_session *s)
{
	struct imap_session_priv *pv = s->priv;
	const char *why = pv->end_reason ? pv->end_reason : "Connection closed";

	if (s->user) {
		log_info("imap(%s): session=<%s>: Disconnected: %s in=%llu out=%llu", s->user, s->id, why,
			 (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out);
		return;
	}
	long secs = (long)(time(NULL) - pv->started);
	char user[300];

	str_escape(pv->login_user, strlen(pv->login_user), user, sizeof(user));
	if (pv->auth_attempts == 0)
		log_info("imap-login: Disconnected: %s (no auth attempts in %ld secs): user=<>, rip=%s, lip=%s%s, session=<%s>",
			 why, secs, pv->rip, pv->lip, s->tls ? ", TLS" : "", s->id);
	else
		log_info("imap-login: Disconnected: %s (auth failed, %u attempts in %ld secs): user=<%s>, method=%s, rip=%s, lip=%s%s, session=<%s>",
			 why, pv->auth_attempts, secs, user, pv->method, pv->rip, pv->lip,
			 s->tls ? ", TLS" : "", s->id);
}

/* ---- the command in progress ---- */

static void cmd_free(struct imap_session *s, bool cancel)
{
	struct imap_cmd *cmd = s->priv->cmd;

	if (cmd == NULL)
		return;
	if (cancel && cmd->cancel)
		cmd->cancel(cmd);
	s->priv->cmd = NULL;
	free(cmd);
	if (s->priv->parser)
		imap_parser_reset(s->priv->parser);
}

/* cmd_done - the command in progress sent its tagged reply. */
static void cmd_done(struct imap_session *s)
{
	cmd_free(s, false);
	if (s->sel && (s->sel->highestmodseq != s->priv->modseq_at_start ||
		       s->sel->count != s->priv->count_at_start))
		imap_sync_poke_others(s);
	if (s->state == IMAP_STATE_LOGOUT) {
		imap_session_close(s);
		return;
	}
	if (conn_is_paused(s->conn))
		conn_resume(s->conn);
}

void imap_cmd_async_done(struct imap_cmd *cmd)
{
	cmd_done(cmd->sess);
}

static void run_resume(struct imap_session *s)
{
	struct imap_cmd *cmd = s->priv->cmd;

	if (cmd == NULL || cmd->resume == NULL || cmd->input_line || s->priv->closing)
		return;
	if (cmd->resume(cmd) == IMAP_CMD_DONE)
		cmd_done(s);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_resume(arg);
}

void imap_cmd_wake(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;

	if (s->priv->ev_wake == NULL)
		s->priv->ev_wake = event_new(s->role->base, -1, 0, wake_cb, s);
	if (s->priv->ev_wake)
		event_active(s->priv->ev_wake, 0, 0);
}

/* ---- dispatch ---- */

static int parser_flags(const char *name, bool uid, void *ctx)
{
	const struct imap_command_def *def = imap_command_lookup(name);

	(void)ctx;
	if (def == NULL || (uid && !def->uid_ok))
		return -1;
	return (int)def->flags;
}

static const char *state_refusal(const struct imap_session *s, unsigned allowed)
{
	if (s->state == IMAP_STATE_NOT_AUTH)
		return "Command not valid in this state: log in first";
	if ((allowed & IMAP_STATE_NOT_AUTH) && !(allowed & IMAP_STATE_AUTH))
		return "Command not valid in this state: already logged in";
	if (s->state == IMAP_STATE_AUTH && (allowed & IMAP_STATE_SELECTED))
		return "Command not valid in this state: no mailbox selected";
	return "Command not valid in this state";
}

static void dispatch(struct imap_session *s)
{
	const char *tag, *name;
	bool uid;
	const struct imap_arg *args;
	size_t nargs;
	const struct imap_command_def *def;
	struct imap_cmd *cmd;

	imap_parser_command(s->priv->parser, &tag, &name, &uid, &args, &nargs);
	def = imap_command_lookup(name);
	if (def == NULL || (uid && !def->uid_ok)) {
		tagged_f(s, tag, "BAD", NULL, "Unknown command");
		imap_parser_reset(s->priv->parser);
		return;
	}
	if (!(def->states & s->state)) {
		tagged_f(s, tag, "BAD", NULL, "%s", state_refusal(s, def->states));
		imap_parser_reset(s->priv->parser);
		return;
	}
	cmd = calloc(1, sizeof(*cmd));
	if (cmd == NULL) {
		tagged_f(s, tag, "NO", "UNAVAILABLE", "Out of memory; try again");
		imap_parser_reset(s->priv->parser);
		return;
	}
	cmd->sess = s;
	str_copy(cmd->tag, tag, sizeof(cmd->tag));
	str_copy(cmd->name, def->name, sizeof(cmd->name));
	cmd->uid = uid;
	cmd->args = args;
	cmd->nargs = nargs;
	cmd->flags = def->flags;
	s->priv->cmd = cmd;
	s->priv->modseq_at_start = s->sel ? s->sel->highestmodseq : 0;
	s->priv->count_at_start = s->sel ? s->sel->count : 0;
	if (def->fn(cmd) == IMAP_CMD_DONE) {
		cmd_done(s);
		return;
	}
	/* PENDING: no further command is parsed until it is done, except
	 * the lines a command reads itself */
	if (s->priv->cmd == cmd && cmd->input_line == NULL) {
		conn_pause(s->conn);
		if (cmd->resume && imap_output_pending(s) <= CONN_DRAIN_MARK)
			imap_cmd_wake(cmd);
	}
}

static void discard_cb(struct conn *conn, const void *data, size_t len, bool done, void *ctx)
{
	struct imap_session *s = ctx;

	(void)conn;
	(void)data;
	(void)done;
	s->bytes_in += len;
}

static void literal_cb(struct conn *conn, const void *data, size_t len, bool done, void *ctx)
{
	struct imap_session *s = ctx;

	s->bytes_in += len;
	if (len > 0)
		(void)imap_parser_literal(s->priv->parser, data, len);
	/* the command's line goes on after the literal: ACK now, or a
	 * client whose Nagle holds that rest waits 40 ms for our delayed ACK */
	if (done)
		(void)conn_quickack(conn);
}

static bool ensure_parser(struct imap_session *s)
{
	struct imap_parser_settings ps = {
		.flags_fn = parser_flags, .flags_ctx = s,
		.literal_size_limit = s->priv->l->set.literal_size_limit,
		.tmp_dir = s->role->tmp_dir,
	};

	if (s->priv->parser == NULL)
		s->priv->parser = imap_parser_new(&ps);
	return s->priv->parser != NULL;
}

static void on_line(struct conn *conn, char *line, size_t len, void *ctx)
{
	struct imap_session *s = ctx;
	struct imap_cmd *cmd = s->priv->cmd;
	struct imap_parse_out out;
	const char *tag, *code, *text;
	bool bad;

	(void)conn;
	s->bytes_in += len + 2;
	if (s->priv->closing)
		return;
	if (cmd) {
		if (cmd->input_line && cmd->input_line(cmd, line, len) == IMAP_CMD_DONE)
			cmd_done(s);
		return;
	}
	if (!ensure_parser(s)) {
		imap_send_untagged(s, "BYE [UNAVAILABLE] Out of memory");
		imap_session_close(s);
		return;
	}
	switch (imap_parser_line(s->priv->parser, line, len, &out)) {
	case IMAP_PARSE_DONE:
		dispatch(s);
		break;
	case IMAP_PARSE_LITERAL:
		if (out.literal_sync)
			send_line(s, "+ OK");
		conn_read_bytes(s->conn, (size_t)out.literal_size, literal_cb);
		break;
	case IMAP_PARSE_ERROR:
		imap_parser_error(s->priv->parser, &tag, &bad, &code, &text);
		tagged_f(s, *tag ? tag : "*", bad ? "BAD" : "NO", code, "%s", text);
		if (out.discard > 0)
			conn_read_bytes(s->conn, (size_t)out.discard, discard_cb);
		break;
	case IMAP_PARSE_IGNORE:
		if (out.discard > 0)
			conn_read_bytes(s->conn, (size_t)out.discard, discard_cb);
		break;
	}
}

static void on_line_too_long(struct conn *conn, void *ctx)
{
	struct imap_session *s = ctx;

	(void)conn;
	if (s->priv->parser)
		imap_parser_reset(s->priv->parser);
	imap_send_untagged(s, "BAD [TOOBIG] Command line too long");
}

static void on_timeout(struct conn *conn, void *ctx)
{
	struct imap_session *s = ctx;

	(void)conn;
	s->priv->end_reason = "Disconnected for inactivity";
	imap_send_untagged(s, "BYE Disconnected for inactivity.");
}

static void on_drained(struct conn *conn, void *ctx)
{
	(void)conn;
	run_resume(ctx);
}

static void on_tls_ready(struct conn *conn, void *ctx)
{
	struct imap_session *s = ctx;

	(void)conn;
	s->tls = true;
}

static void on_close(struct conn *conn, enum conn_close_reason reason, const char *detail, void *ctx)
{
	struct imap_session *s = ctx;

	(void)conn;
	if (s->priv->end_reason == NULL) {
		switch (reason) {
		case CONN_CLOSE_EOF: s->priv->end_reason = "Connection closed"; break;
		case CONN_CLOSE_TIMEOUT: s->priv->end_reason = "Disconnected for inactivity"; break;
		case CONN_CLOSE_OUTPUT: s->priv->end_reason = "Client does not read its output (output limit reached)"; break;
		case CONN_CLOSE_TLS: s->priv->end_reason = "TLS failure"; break;
		case CONN_CLOSE_NOMEM: s->priv->end_reason = "Out of memory"; break;
		default: s->priv->end_reason = "Connection closed"; break;
		}
	}
	if (reason == CONN_CLOSE_ERROR || reason == CONN_CLOSE_TLS) {
		char d[200];
		str_escape(detail, strlen(detail), d, sizeof(d));
		log_info("imap: session=<%s>: %s: %s", s->id, conn_close_reason_name(reason), d);
	}
	session_free(s);
}

static const struct conn_callbacks session_cb = {
	.on_line = on_line,
	.on_line_too_long = on_line_too_long,
	.on_timeout = on_timeout,
	.on_drained = on_drained,
	.on_tls_ready = on_tls_ready,
	.on_close = on_close,
};

static void login_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;

	(void)fd;
	(void)what;
	s->priv->end_reason = "Disconnected for inactivity (no login in time)";
	imap_send_untagged(s, "BYE Disconnected for inactivity.");
	imap_session_close(s);
}

static bool addr_is_loopback(const char *a)
{
	return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0;
}

void imap_session_accept(struct imap_listener *l, struct conn *conn)
{
	struct imap_role *role = l->role;
	struct imap_session *s = calloc(1, sizeof(*s));
	struct imap_session_priv *pv = calloc(1, sizeof(*pv));
	struct strbuf caps;

	if (s == NULL || pv == NULL) {
		free(s);
		free(pv);
		conn_free(conn);
		return;
	}
	s->priv = pv;
	pv->l = l;
	s->role = role;
	s->conn = conn;
	(void)conn_set_nodelay(conn); /* replies are buffered; no 40 ms stalls after a literal */
	s->cfg = l->view;
	s->state = IMAP_STATE_NOT_AUTH;
	s->tls = l->implicit_tls;
	s->hierarchy_sep = l->set.hierarchy_sep;
	snprintf(s->id, sizeof(s->id), "%04x%06lx", (unsigned)getpid() & 0xffff,
		 ++session_counter & 0xffffff);
	str_copy(pv->rip, conn_peer_addr(conn), sizeof(pv->rip));
	str_copy(pv->lip, conn_local_addr(conn), sizeof(pv->lip));
	s->loopback = addr_is_loopback(pv->rip);
	pv->started = time(NULL);
	pv->next = role->sessions;
	if (role->sessions)
		role->sessions->priv->prev = s;
	role->sessions = s;
	role->n_sessions++;

	char name[128];
	snprintf(name, sizeof(name), "imap[%s]", pv->rip);
	conn_set_name(conn, name);
	conn_set_max_line(conn, (size_t)l->set.max_line);
	conn_set_output_limit(conn, IMAP_OUTPUT_LIMIT);
	conn_set_timeout(conn, (int)l->set.login_timeout);
	pv->ev_login = evtimer_new(role->base, login_deadline, s);
	if (pv->ev_login) {
		struct timeval tv = { .tv_sec = l->set.login_timeout, .tv_usec = 0 };
		evtimer_add(pv->ev_login, &tv);
	}
	conn_set_callbacks(conn, &session_cb, s);
	strbuf_init(&caps, 1024);
	imap_capability_string(s, &caps);
	send_line(s, "* OK [CAPABILITY %s] Postern ready.", caps.data ? caps.data : "IMAP4rev1");
	strbuf_free(&caps);
}

/* ---- ending ---- */

void imap_session_close(struct imap_session *s)
{
	if (s->priv->closing)
		return;
	s->priv->closing = true;
	conn_close_after_flush(s->conn);
}

void imap_session_shutdown(struct imap_session *s)
{
	if (s->priv->closing)
		return;
	s->priv->end_reason = "Server shutting down";
	imap_send_untagged(s, "BYE Server shutting down.");
	imap_session_close(s);
}

static void session_free(struct imap_session *s)
{
	struct imap_session_priv *pv = s->priv;
	struct imap_role *role = s->role;

	log_end(s);
	cmd_free(s, true);
	if (pv->userdb_id && pv->userdb)
		auth_client_cancel(pv->userdb, pv->userdb_id);
	imap_select_close(s); /* the selection and a parked mailbox */
	store_user_close(&s->store);
	imap_parser_free(&pv->parser);
	if (pv->ev_login)
		event_free(pv->ev_login);
	if (pv->ev_wake)
		event_free(pv->ev_wake);
	if (pv->prev)
		pv->prev->priv->next = pv->next;
	else
		role->sessions = pv->next;
	if (pv->next)
		pv->next->priv->prev = pv->prev;
	role->n_sessions--;
	conn_free(s->conn);
	free(s->user);
	free(pv);
	free(s);
	imap_role_session_gone(role);
}

struct imap_session *imap_session_first(struct imap_role *role)
{
	return role->sessions;
}

struct imap_session *imap_session_next(struct imap_session *s)
{
	return s->priv->next;
}

void imap_session_shutdown_all(struct imap_role *role)
{
	/* shutdown only queues output and asks for a close: nothing is freed
	 * before the loop runs again */
	for (struct imap_session *s = role->sessions; s; s = s->priv->next)
		imap_session_shutdown(s);
}

void imap_session_free_all(struct imap_role *role)
{
	while (role->sessions)
		session_free(role->sessions);
}

/* ---- login (after the auth role said yes) ---- */

struct login_fields {
	const char *mail, *home;
	unsigned long long quota_bytes;
	bool disabled;
};

static void login_fail(struct imap_cmd *cmd, const char *code, const char *text)
{
	struct imap_session *s = cmd->sess;

	s->priv->login_cmd = NULL;
	s->priv->auth_attempts++;
	imap_cmd_no(cmd, code, "%s", text);
	imap_cmd_async_done(cmd);
}

static unsigned userip_count(struct imap_session *self, const char *user)
{
	unsigned n = 0;

	for (struct imap_session *s = self->role->sessions; s; s = s->priv->next)
		if (s != self && s->user && strcmp(s->user, user) == 0 &&
		    strcmp(s->priv->rip, self->priv->rip) == 0)
			n++;
	return n;
}

/* Share of the quota from which a login gets "* OK [ALERT]" (percent). */
#define QUOTA_ALERT_PERCENT 90

/* quota_alert - RFC 3501 7.1: ALERT text the user must see; Thunderbird
 * shows it in a dialog. Only when a limit exists, so users without one pay
 * nothing for it. */
static void quota_alert(struct imap_session *s, uint64_t bytes_limit)
{
	struct store_quota q;
	struct store_error err;
	unsigned pct = 0;

	if (bytes_limit == 0 && s->role->store_set.quota_bytes == 0 &&
	    s->role->store_set.quota_messages == 0)
		return;
	if (store_quota_get(s->store, &q, &err) < 0)
		return;
	if (q.bytes_limit > 0)
		pct = (unsigned)(q.bytes_used * 100 / q.bytes_limit);
	if (q.messages_limit > 0 && q.messages_used * 100 / q.messages_limit > pct)
		pct = (unsigned)(q.messages_used * 100 / q.messages_limit);
	if (pct >= QUOTA_ALERT_PERCENT)
		imap_send_untagged(s, "OK [ALERT] Your mailbox is %u%% full; delete or archive some mail.", pct);
}

static void login_finish(struct imap_cmd *cmd, const char *user, const struct login_fields *f)
{
	struct imap_session *s = cmd->sess;
	struct imap_session_priv *pv = s->priv;
	const struct imap_settings *set = &pv->l->set;
	struct store_error err;
	struct strbuf caps;

	if (f->disabled) {
		log_warn("imap-login: user %s is disabled in the user database; refusing", user);
		login_fail(cmd, "AUTHENTICATIONFAILED", "Authentication failed.");
		return;
	}
	if (set->max_userip > 0 && userip_count(s, user) >= (unsigned long long)set->max_userip) {
		log_warn("imap-login: Maximum number of connections from user+IP exceeded (mail_max_userip_connections=%lld): user=<%s>, rip=%s, session=<%s>",
			 set->max_userip, user, pv->rip, s->id);
		pv->login_cmd = NULL;
		imap_cmd_no(cmd, "LIMIT", "Maximum number of connections from user+IP exceeded (mail_max_userip_connections=%lld)",
			    set->max_userip);
		imap_cmd_async_done(cmd);
		return;
	}
	s->store = store_user_open(&s->role->store_set, user, f->mail, f->home, STORE_USER_CREATE, &err);
	if (s->store == NULL) {
		log_error("imap(%s): cannot open the mail store: %s (%s)", user, err.text,
			  store_error_class_name(err.cls));
		login_fail(cmd, "UNAVAILABLE", "Mail store not available now; try again later.");
		return;
	}
	if (f->quota_bytes)
		store_user_set_quota(s->store, f->quota_bytes, 0);
	s->user = strdup(user);
	if (s->user == NULL) {
		store_user_close(&s->store);
		login_fail(cmd, "UNAVAILABLE", "Out of memory; try again later.");
		return;
	}
	pv->login_cmd = NULL;
	log_info("imap-login: Login: user=<%s>, method=%s, rip=%s, lip=%s%s, session=<%s>", user,
		 pv->method, pv->rip, pv->lip, s->tls ? ", TLS" : (s->loopback ? ", secured" : ""), s->id);
	imap_session_set_state(s, IMAP_STATE_AUTH);
	if (set->autocreate_special_use)
		imap_special_use_autocreate(s);
	quota_alert(s, f->quota_bytes);
	strbuf_init(&caps, 1024);
	strbuf_puts(&caps, "CAPABILITY ");
	imap_capability_string(s, &caps);
	imap_cmd_ok(cmd, caps.data ? caps.data : "CAPABILITY IMAP4rev1", "Logged in");
	strbuf_free(&caps);
	imap_cmd_async_done(cmd);
}

static void userdb_cb(void *ctx, const struct auth_client_reply *rep)
{
	struct imap_session *s = ctx;
	struct imap_session_priv *pv = s->priv;
	struct imap_cmd *cmd = pv->login_cmd;
	struct login_fields f = { 0 };

	pv->userdb_id = 0;
	if (cmd == NULL)
		return;
	switch (rep->status) {
	case AUTH_CLIENT_OK:
		for (size_t i = 1; i < rep->n_fields; i++) {
			const char *fl = rep->fields[i];
			if (strncmp(fl, "mail=", 5) == 0)
				f.mail = fl + 5;
			else if (strncmp(fl, "home=", 5) == 0)
				f.home = fl + 5;
			else if (strncmp(fl, "quota_bytes=", 12) == 0)
				f.quota_bytes = strtoull(fl + 12, NULL, 10);
			else if (strcmp(fl, "enabled=0") == 0)
				f.disabled = true;
		}
		login_finish(cmd, rep->user && *rep->user ? rep->user : pv->login_user, &f);
		return;
	case AUTH_CLIENT_NOTFOUND:
		log_warn("imap-login: user %s authenticated but unknown to the user database", pv->login_user);
		login_fail(cmd, "AUTHENTICATIONFAILED", "Authentication failed.");
		return;
	default:
		log_warn("imap-login: user database lookup of %s failed: %s", pv->login_user,
			 rep->reason ? rep->reason : "temporary failure");
		if (rep->temp)
			imap_role_auth_broken(s->role, pv->userdb);
		login_fail(cmd, "UNAVAILABLE", "User database not available now; try again later.");
		return;
	}
}

void imap_session_login(struct imap_cmd *cmd, const char *user, const char *method)
{
	struct imap_session *s = cmd->sess;
	struct imap_session_priv *pv = s->priv;
	struct auth_client *udb;

	str_copy(pv->login_user, user, sizeof(pv->login_user));
	str_copy(pv->method, method, sizeof(pv->method));
	udb = imap_role_userdb(s->role, pv->l->set.userdb_socket);
	pv->login_cmd = cmd;
	if (udb == NULL) {
		login_fail(cmd, "UNAVAILABLE", "User database not available now; try again later.");
		return;
	}
	pv->userdb = udb;
	pv->userdb_id = auth_client_lookup(udb, "USER", user, "imap", userdb_cb, s);
	if (pv->userdb_id == 0) {
		imap_role_auth_broken(s->role, udb);
		login_fail(cmd, "UNAVAILABLE", "User database not available now; try again later.");
	}
}

/* ---- counters for cmd-auth.c ---- */

/* imap_session_auth_failed - one failed attempt (for the log line). */
void imap_session_auth_failed(struct imap_session *s, const char *user, const char *method)
{
	s->priv->auth_attempts++;
	if (user)
		str_copy(s->priv->login_user, user, sizeof(s->priv->login_user));
	str_copy(s->priv->method, method, sizeof(s->priv->method));
}

/* imap_session_logout - LOGOUT: the end reason for the log. */
void imap_session_logout(struct imap_session *s)
{
	s->priv->end_reason = "Logged out";
}

/* imap_session_rip - the client's address. */
const char *imap_session_rip(const struct imap_session *s)
{
	return s->priv->rip;
}
