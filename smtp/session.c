/*
 * session.c - one SMTP session: the state enum and the one function that
 * changes it, reading lines and dispatching them (commands.c), replies
 * with the error counters (smtpd_error_sleep_time, smtpd_soft/hard_error_
 * limit), timeouts, early talkers and pipelining violations, the
 * restriction checks' plumbing, and Postfix-style connect/disconnect logs.
 *
 * Called by smtp-role.c (session_accept) and by every cmd-*.c. RFC 5321
 * 3.1 (greeting), 4.3.2 (sequence), 4.5.3.2 (timeouts); RFC 2920 3.1
 * (commands that end a pipelined group); RFC 3207 4.2 (reset after TLS).
 *
 * Asynchronous work (restrictions, DNS, AUTH) pauses the conn: lines the
 * client pipelined stay buffered and are answered in order afterwards.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/auth-client.h"
#include "config.h"
#include "conn.h"
#include "dns.h"
#include "log.h"
#include "smtp/smtp-private.h"

static const char *const state_names[] = {
	[SMTP_STATE_GREETING] = "GREETING", [SMTP_STATE_INIT] = "INIT",
	[SMTP_STATE_HELO] = "HELO", [SMTP_STATE_MAIL] = "MAIL", [SMTP_STATE_RCPT] = "RCPT",
	[SMTP_STATE_DATA] = "DATA", [SMTP_STATE_BDAT] = "BDAT", [SMTP_STATE_AUTH] = "AUTH",
	[SMTP_STATE_TLS] = "STARTTLS", [SMTP_STATE_QUIT] = "QUIT",
};

static const char *const counter_names[SMTP_C_COUNT] = {
	[SMTP_C_EHLO] = "ehlo", [SMTP_C_HELO] = "helo", [SMTP_C_STARTTLS] = "starttls",
	[SMTP_C_AUTH] = "auth", [SMTP_C_MAIL] = "mail", [SMTP_C_RCPT] = "rcpt",
	[SMTP_C_DATA] = "data", [SMTP_C_BDAT] = "bdat", [SMTP_C_RSET] = "rset",
	[SMTP_C_NOOP] = "noop", [SMTP_C_VRFY] = "vrfy", [SMTP_C_HELP] = "help",
	[SMTP_C_QUIT] = "quit", [SMTP_C_UNKNOWN] = "unknown",
};

const char *session_state_name(enum smtp_state state)
{
	return state_names[state];
}

/* session_set_state - the only place the state changes. Entering DATA
 * switches the conn to the longer content line limit; leaving it
 * switches back to the command line limit. */
void session_set_state(struct smtp_session *s, enum smtp_state state)
{
	enum smtp_state old = s->state;

	if (old == state)
		return;
	s->state = state;
	if (state == SMTP_STATE_DATA)
		conn_set_max_line(s->conn, SMTP_DATA_MAX_LINE);
	else if (state == SMTP_STATE_AUTH)
		conn_set_max_line(s->conn, SMTP_AUTH_LINE_MAX);
	else if (old == SMTP_STATE_DATA || old == SMTP_STATE_AUTH)
		conn_set_max_line(s->conn, (size_t)s->l->set.line_limit);
}

void session_count(struct smtp_session *s, enum smtp_counter c, bool ok)
{
	s->counts[c][1]++;
	if (ok)
		s->counts[c][0]++;
}

const char *session_proto(const struct smtp_session *s, char *buf, size_t size)
{
	snprintf(buf, size, "%sSMTP%s%s", s->esmtp ? "E" : "", s->tls && s->esmtp ? "S" : "",
		 s->sasl_user && s->esmtp ? "A" : "");
	return buf;
}

bool session_tls_required(struct smtp_session *s)
{
	return s->l->set.tls_level == SMTP_TLS_ENCRYPT && !s->tls;
}

static void session_free(struct smtp_session *s);

static void timer_cb(evutil_socket_t fd, short what, void *arg);

static void arm_timer(struct smtp_session *s, long long seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	if (s->ev_timer == NULL)
		s->ev_timer = evtimer_new(s->l->role->base, timer_cb, s);
	if (s->ev_timer == NULL || evtimer_add(s->ev_timer, &tv) < 0) {
		/* No timer: skip the pause rather than hang the session. */
		timer_cb(-1, 0, s);
	}
}

void session_close(struct smtp_session *s)
{
	session_set_state(s, SMTP_STATE_QUIT);
	conn_close_after_flush(s->conn);
}

static void write_line(struct smtp_session *s, const char *line)
{
	if (s->greet_waiting || s->delayed.len > 0) {
		if (strbuf_puts(&s->delayed, line) < 0 || strbuf_puts(&s->delayed, "\r\n") < 0)
			conn_close(s->conn);
		return;
	}
	conn_printf(s->conn, "%s\r\n", line);
}

void session_reply_raw(struct smtp_session *s, const char *text)
{
	if (s->delayed.len > 0) {
		if (strbuf_puts(&s->delayed, text) < 0)
			conn_close(s->conn);
		return;
	}
	conn_write(s->conn, text, strlen(text));
}

void session_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[SMTP_REPLY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if ((line[0] != '4' && line[0] != '5') || strncmp(line, "421", 3) == 0) {
		write_line(s, line);
		return;
	}
	s->errors++;
	if (s->errors >= (unsigned)s->l->set.hard_errors) {
		write_line(s, line);
		log_info("too many errors after %s from %s", s->last_cmd, s->client);
		char bye[SMTP_REPLY_MAX];
		snprintf(bye, sizeof(bye), "421 4.7.0 %s Error: too many errors", s->l->set.hostname);
		write_line(s, bye);
		if (s->delayed.len == 0)
			session_close(s);
		else
			s->delayed_close = true;
		return;
	}
	if (s->errors >= (unsigned)s->l->set.soft_errors && s->l->set.error_sleep > 0 &&
	    s->delayed.len == 0 && !s->greet_waiting) {
		/* Hold the reply back: a client that keeps making errors gets
		 * slower answers (Postfix smtpd_error_sleep_time). */
		if (strbuf_puts(&s->delayed, line) < 0 || strbuf_puts(&s->delayed, "\r\n") < 0) {
			conn_close(s->conn);
			return;
		}
		conn_pause(s->conn);
		arm_timer(s, s->l->set.error_sleep);
		return;
	}
	write_line(s, line);
}

void session_resume(struct smtp_session *s)
{
	/* During the greet pause input is read (to see early talkers) until
	 * the first line arrives. */
	if (s->delayed.len > 0 || (s->greet_waiting && s->early_line) || s->state == SMTP_STATE_QUIT)
		return;
	if (s->req || s->sasl.id || s->dns_req || s->commit_job)
		return;
	conn_resume(s->conn);
}

static void send_greeting(struct smtp_session *s)
{
	s->greet_waiting = false;
	session_set_state(s, SMTP_STATE_INIT);
	conn_printf(s->conn, "220 %s\r\n", s->l->set.banner);
	if (s->delayed.len > 0) {
		/* early talker: answers to what it sent are already queued */
		conn_write(s->conn, s->delayed.data, s->delayed.len);
		strbuf_reset(&s->delayed);
	}
}

static void session_line(struct smtp_session *s, char *line, size_t len);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)fd;
	(void)what;
	if (s->greet_waiting) {
		send_greeting(s);
		if (s->early_line) {
			char *line = s->early_line;
			size_t len = s->early_len;
			s->early_line = NULL;
			session_line(s, line, len);
			free(line);
		}
		session_resume(s);
		return;
	}
	if (s->delayed.len > 0) {
		conn_write(s->conn, s->delayed.data, s->delayed.len);
		strbuf_reset(&s->delayed);
		if (s->delayed_close) {
			session_close(s);
			return;
		}
	}
	session_resume(s);
}

void session_fill_facts(struct smtp_session *s, struct restrict_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->client_addr = s->addr;
	f->client_name = s->name;
	f->reverse_client_name = s->reverse_name;
	f->client_name_tempfail = s->name_tempfail;
	f->reverse_client_name_tempfail = s->reverse_name_tempfail;
	f->helo = s->helo;
	f->sender = s->sender_text;
	f->sender_addr = s->sender_text ? &s->sender : NULL;
	f->sasl_username = s->sasl_user;
	f->sasl_method = s->sasl_method;
	f->tls = s->tls;
	f->esmtp = s->esmtp;
	f->rcpt_count = (unsigned)s->n_rcpts;
	f->pipelining_violation = s->pipelining_violation;
	f->queue_id = s->queue_id[0] ? s->queue_id : NULL;
	f->message_size = s->msg.size;
}

void session_log_reject(struct smtp_session *s, const char *cmd, const char *reply, const char *rcpt)
{
	char proto[16], helo[300];

	str_escape(s->helo ? s->helo : "", s->helo ? strlen(s->helo) : 0, helo, sizeof(helo));
	if (rcpt)
		log_info("%s: reject: %s from %s: %s; from=<%s> to=<%s> proto=%s helo=<%s>",
			 s->queue_id[0] ? s->queue_id : "NOQUEUE", cmd, s->client, reply,
			 s->sender_text ? s->sender_text : "", rcpt, session_proto(s, proto, sizeof(proto)) ,
			 helo);
	else
		log_info("%s: reject: %s from %s: %s; from=<%s> proto=%s helo=<%s>",
			 s->queue_id[0] ? s->queue_id : "NOQUEUE", cmd, s->client, reply,
			 s->sender_text ? s->sender_text : "", session_proto(s, proto, sizeof(proto)), helo);
}

/* --- restriction checks -------------------------------------------------- */

static void check_cb(void *ctx, const struct restrict_result *r)
{
	struct smtp_session *s = ctx;
	void (*done)(struct smtp_session *, const struct restrict_result *) = s->check_done;
	bool was_async = s->req != NULL;

	s->check_pending = false;
	s->check_done = NULL;
	s->req = NULL;
	if (r->warn_only && r->log[0])
		log_warn("%s: %s", s->queue_id[0] ? s->queue_id : "NOQUEUE", r->log);
	done(s, r);
	if (was_async)
		session_resume(s);
}

bool session_check(struct smtp_session *s, enum restrict_stage stage,
		   void (*done)(struct smtp_session *s, const struct restrict_result *r))
{
	struct restrict_req *req;

	s->check_done = done;
	s->check_pending = true;
	s->req_stage = stage;
	session_fill_facts(s, &s->facts);
	if (stage == RESTRICT_RCPT) {
		s->facts.recipient = s->pending_rcpt.text;
		s->facts.recipient_addr = &s->pending_rcpt.addr;
	} else if (stage == RESTRICT_MAIL) {
		s->facts.sender = s->pending_sender_text;
		s->facts.sender_addr = &s->pending_sender;
	}
	req = restrict_check(s->l->restrictions, stage, &s->facts, check_cb, s);
	if (!s->check_pending)
		return true;     /* done already ran; req is not valid */
	if (req == NULL) {
		s->check_pending = false;
		s->check_done = NULL;
		session_reply(s, "451 4.3.0 Error: out of memory");
		return false;
	}
	s->req = req;
	conn_pause(s->conn);
	return true;
}

/* --- lines --------------------------------------------------------------- */

static void dispatch(struct smtp_session *s, char *line, size_t len)
{
	size_t args_off, vlen;
	const struct smtp_command *cmd;

	if (memchr(line, '\0', len) != NULL || len == 0) {
		s->last_cmd = "UNKNOWN";
		session_count(s, SMTP_C_UNKNOWN, false);
		session_reply(s, "500 5.5.2 Error: bad syntax");
		return;
	}
	vlen = smtp_command_split(line, len, &args_off);
	cmd = vlen ? smtp_command_find(line, vlen) : NULL;
	if (cmd == NULL) {
		char esc[80];
		s->last_cmd = "UNKNOWN";
		session_count(s, SMTP_C_UNKNOWN, false);
		str_escape(line, len < 60 ? len : 60, esc, sizeof(esc));
		log_info("%s: unknown command from %s: %s", "NOQUEUE", s->client, esc);
		session_reply(s, "502 5.5.2 Error: command not recognized");
		return;
	}
	s->last_cmd = cmd->name;
	if (conn_input_pending(s->conn) > 0 && (!s->esmtp || cmd->last_in_group) &&
	    !s->pipelining_violation && cmd->counter != SMTP_C_QUIT) {
		s->pipelining_violation = true;
		log_info("improper command pipelining after %s from %s", cmd->name, s->client);
	}
	cmd->fn(s, line + args_off, len - args_off);
}

static void session_line(struct smtp_session *s, char *line, size_t len)
{
	switch (s->state) {
	case SMTP_STATE_GREETING:
		/* Early talker: the client spoke before the greeting. */
		s->pipelining_violation = true;
		if (s->early_line == NULL) {
			char esc[80];
			str_escape(line, len < 60 ? len : 60, esc, sizeof(esc));
			log_info("improper command pipelining after CONNECT from %s: %s", s->client, esc);
			s->early_line = malloc(len + 1);
			if (s->early_line == NULL) {
				conn_close(s->conn);
				return;
			}
			memcpy(s->early_line, line, len + 1);
			s->early_len = len;
		}
		conn_pause(s->conn);
		return;
	case SMTP_STATE_AUTH:
		smtp_cmd_auth_response(s, line, len);
		return;
	case SMTP_STATE_DATA:
		smtp_cmd_data_line(s, line, len);
		return;
	case SMTP_STATE_TLS:
	case SMTP_STATE_QUIT:
		return;
	default:
		dispatch(s, line, len);
	}
}

static void on_line(struct conn *conn, char *line, size_t len, void *ctx)
{
	(void)conn;
	session_line(ctx, line, len);
}

static void on_line_too_long(struct conn *conn, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)conn;
	if (s->state == SMTP_STATE_DATA) {
		/* the rest of the line is dropped: the message is damaged */
		s->msg.line_too_long = true;
		s->msg.failed = true;
		return;
	}
	if (s->state == SMTP_STATE_AUTH)
		smtp_cmd_auth_cancel(s);
	log_info("warning: %s: command line too long", s->client);
	session_reply(s, "500 5.5.0 Error: line too long");
}

static void on_timeout(struct conn *conn, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)conn;
	log_info("timeout after %s from %s", s->last_cmd, s->client);
	conn_printf(s->conn, "421 4.4.2 %s Error: timeout exceeded\r\n", s->l->set.hostname);
	s->last_cmd = NULL;   /* logged already: no "lost connection" */
	session_set_state(s, SMTP_STATE_QUIT);
}

static void on_tls_ready(struct conn *conn, void *ctx)
{
	struct smtp_session *s = ctx;

	s->tls = true;
	conn_tls_describe(conn, s->tls_info, sizeof(s->tls_info));
	log_info("Anonymous TLS connection established from %s: %s", s->client, s->tls_info);
	if (s->state == SMTP_STATE_TLS) {
		/* RFC 3207 4.2: forget everything the client said before. */
		session_reset_transaction(s);
		x_free(&s->helo);
		x_free(&s->sasl_user);
		x_free(&s->sasl_method);
		s->esmtp = false;
		session_set_state(s, SMTP_STATE_INIT);
	}
}

static void log_disconnect(struct smtp_session *s)
{
	char buf[512];
	size_t off = 0;
	unsigned ok = 0, total = 0;

	for (int i = 0; i < SMTP_C_COUNT; i++) {
		unsigned o = s->counts[i][0], t = s->counts[i][1];
		if (t == 0)
			continue;
		ok += o;
		total += t;
		if (o == t)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, " %s=%u", counter_names[i], t);
		else
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, " %s=%u/%u", counter_names[i], o, t);
		if (off >= sizeof(buf))
			off = sizeof(buf) - 1;
	}
	if (ok == total)
		snprintf(buf + off, sizeof(buf) - off, " commands=%u", total);
	else
		snprintf(buf + off, sizeof(buf) - off, " commands=%u/%u", ok, total);
	log_info("disconnect from %s%s", s->client, buf);
}

static void on_close(struct conn *conn, enum conn_close_reason reason, const char *detail, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)conn;
	if (reason == CONN_CLOSE_TLS)
		log_info("SSL_accept error from %s: %s", s->client, *detail ? detail : "lost connection");
	else if (s->state != SMTP_STATE_QUIT && s->last_cmd &&
		 (reason == CONN_CLOSE_EOF || reason == CONN_CLOSE_ERROR))
		log_info("lost connection after %s from %s", s->last_cmd, s->client);
	else if (reason == CONN_CLOSE_OUTPUT || reason == CONN_CLOSE_NOMEM)
		log_info("%s after %s from %s", conn_close_reason_name(reason),
			 s->last_cmd ? s->last_cmd : "CONNECT", s->client);
	log_disconnect(s);
	session_free(s);
}

static const struct conn_callbacks session_callbacks = {
	.on_line = on_line,
	.on_line_too_long = on_line_too_long,
	.on_timeout = on_timeout,
	.on_tls_ready = on_tls_ready,
	.on_close = on_close,
};

/* --- start and end -------------------------------------------------------- */

static void connect_checked(struct smtp_session *s, const struct restrict_result *r)
{
	if (r->action == RESTRICT_REJECT || r->action == RESTRICT_DEFER) {
		/* RFC 5321 3.1: a 554 greeting instead of 220; then only QUIT. */
		session_log_reject(s, "CONNECT", r->reply, NULL);
		conn_printf(s->conn, "%s\r\n", r->reply);
		session_close(s);
		return;
	}
	if (s->l->set.greet_pause > 0) {
		s->greet_waiting = true;
		session_set_state(s, SMTP_STATE_GREETING);
		arm_timer(s, s->l->set.greet_pause);
		return;
	}
	send_greeting(s);
}

static void set_client(struct smtp_session *s)
{
	snprintf(s->client, sizeof(s->client), "%s[%s]", s->name, s->addr);
	conn_set_name(s->conn, s->client);
}

static void start(struct smtp_session *s)
{
	log_info("connect from %s", s->client);
	s->last_cmd = "CONNECT";
	if (!session_check(s, RESTRICT_CONNECT, connect_checked))
		session_close(s);
}

static void name_done(void *ctx, const struct dns_client_name *r)
{
	struct smtp_session *s = ctx;

	s->dns_req = NULL;
	str_copy(s->name, r->name ? r->name : "unknown", sizeof(s->name));
	str_copy(s->reverse_name, r->reverse_name ? r->reverse_name : "unknown", sizeof(s->reverse_name));
	s->name_tempfail = r->name_tempfail;
	s->reverse_name_tempfail = r->reverse_name_tempfail;
	set_client(s);
	start(s);
	session_resume(s);
}

/* rate_exceeded - smtpd_client_connection_rate_limit per listener, one
 * counter per address per minute in a small table (a full table forgets
 * its oldest slot, so memory stays fixed under a flood). */
static bool rate_exceeded(struct smtp_listener *l, const char *addr, long *count_r)
{
	long minute = (long)(time(NULL) / 60);
	struct smtp_rate_slot *slot = NULL, *oldest = NULL;

	if (l->rate == NULL)
		return false;
	for (size_t i = 0; i < SMTP_RATE_SLOTS; i++) {
		struct smtp_rate_slot *r = &l->rate[i];
		if (strcmp(r->addr, addr) == 0) {
			slot = r;
			break;
		}
		if (oldest == NULL || r->window < oldest->window)
			oldest = r;
	}
	if (slot == NULL) {
		slot = oldest;
		str_copy(slot->addr, addr, sizeof(slot->addr));
		slot->window = minute;
		slot->count = 0;
	}
	if (slot->window != minute) {
		slot->window = minute;
		slot->count = 0;
	}
	*count_r = ++slot->count;
	return slot->count > l->set.rate_limit;
}

void session_accept(struct smtp_listener *l, struct conn *conn)
{
	struct smtp_role *role = l->role;
	struct smtp_session *s = calloc(1, sizeof(*s));
	long count;

	if (s == NULL) {
		conn_free(conn);
		return;
	}
	s->l = l;
	s->conn = conn;
	s->state = SMTP_STATE_INIT;
	strbuf_init(&s->delayed, 64 * 1024);
	strbuf_init(&s->msg.header, 0);
	strbuf_init(&s->msg.partial, 0);
	str_copy(s->addr, conn_peer_addr(conn), sizeof(s->addr));
	str_copy(s->name, "unknown", sizeof(s->name));
	str_copy(s->reverse_name, "unknown", sizeof(s->reverse_name));
	set_client(s);
	s->next = role->sessions;
	if (role->sessions)
		role->sessions->prev = s;
	role->sessions = s;
	role->n_sessions++;
	conn_set_callbacks(conn, &session_callbacks, s);
	conn_set_max_line(conn, (size_t)l->set.line_limit);
	conn_set_timeout(conn, l->set.timeout);
	/* Replies are short and nothing here waits for on_drained: send each
	 * at once when nothing is queued (plain text only; conn.h). Saves two
	 * epoll_ctl and a loop turn per reply, seven replies per message. */
	conn_set_direct_output(conn, true);
	if (l->implicit_tls)
		s->tls = true;   /* the handshake runs first; on_tls_ready fills tls_info */

	if (rate_exceeded(l, s->addr, &count)) {
		log_warn("Connection rate limit exceeded: %ld from %s for service %s",
			 count, s->client, l->cl->name);
		conn_printf(conn, "421 4.7.0 %s Error: too many connections from %s\r\n",
			    l->set.hostname, s->addr);
		s->last_cmd = NULL;
		session_close(s);
		return;
	}
	struct dns *dns = l->set.peername_lookup ? restrictions_dns(l->restrictions) : NULL;
	if (dns) {
		s->dns_req = dns_client_name(dns, s->addr, name_done, s);
		if (s->dns_req) {
			conn_pause(conn);
			return;
		}
	}
	start(s);
}

void session_reset_transaction(struct smtp_session *s)
{
	queue_file_abort(&s->qf);
	smtp_address_free(&s->sender);
	x_free(&s->sender_text);
	smtp_mail_params_free(&s->mail);
	for (size_t i = 0; i < s->n_rcpts; i++) {
		smtp_address_free(&s->rcpts[i].addr);
		free(s->rcpts[i].text);
		free(s->rcpts[i].orcpt);
	}
	x_free(&s->rcpts);
	s->n_rcpts = s->cap_rcpts = 0;
	s->rcpt_rejected = 0;
	message_free(&s->msg);
	s->queue_id[0] = '\0';
	s->bdat_seen = false;
	s->bdat_left = 0;
	s->bdat_last = false;
	if (s->state == SMTP_STATE_MAIL || s->state == SMTP_STATE_RCPT ||
	    s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT)
		session_set_state(s, SMTP_STATE_HELO);
}

static void session_free(struct smtp_session *s)
{
	struct smtp_role *role = s->l->role;

	restrict_cancel(&s->req);
	dns_client_name_cancel(&s->dns_req);
	message_commit_detach(s);
	auth_link_cancel(&s->sasl);
	if (s->ev_timer)
		event_free(s->ev_timer);
	session_reset_transaction(s);
	smtp_address_free(&s->pending_sender);
	x_free(&s->pending_sender_text);
	smtp_mail_params_free(&s->pending_mail);
	smtp_address_free(&s->pending_rcpt.addr);
	x_free(&s->pending_rcpt.text);
	x_free(&s->pending_rcpt.orcpt);
	strbuf_free(&s->delayed);
	strbuf_free(&s->msg.header);
	strbuf_free(&s->msg.partial);
	free(s->early_line);
	free(s->helo);
	free(s->sasl_user);
	free(s->sasl_method);
	if (s->prev)
		s->prev->next = s->next;
	else
		role->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	role->n_sessions--;
	conn_free(s->conn);
	free(s);
	smtp_role_session_gone(role);
}

void session_free_all(struct smtp_role *role)
{
	while (role->sessions)
		session_free(role->sessions);
}
