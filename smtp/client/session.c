/*
 * session.c - one SMTP conversation of the client with one host: TCP
 * connect, greeting, EHLO/HELO, STARTTLS, AUTH, MAIL/RCPT/DATA (pipelined
 * when offered), the content, QUIT.
 *
 * Called by client.c (smtpc_session_start) for each host it tries; tells
 * it how the session ended through smtpc_session_ended, from the loop.
 * Per-recipient results go straight into job->rs.
 *
 * RFC 5321 3.1-3.3 and 4.1.1 (the commands), 4.2 (replies), 4.5.3.2 (a
 * timeout for every wait: smtp_*_timeout), RFC 1869/5321 EHLO with HELO
 * as the fallback, RFC 3207 (STARTTLS; the EHLO features are forgotten
 * and asked again after it), RFC 4954 + RFC 4616 (AUTH PLAIN) and the
 * LOGIN mechanism, RFC 2920 (PIPELINING: MAIL, every RCPT and DATA in one
 * write, replies matched in order), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
 * RFC 3461 (DSN: RET, ENVID, NOTIFY, ORCPT), RFC 6531 (SMTPUTF8).
 *
 * The texts are Postfix smtp(8)'s, so that logs and bounces read as
 * admins know them: "host H[A] said: REPLY (in reply to RCPT TO
 * command)", "host H[A] refused to talk to me: REPLY", "connect to
 * H[A]:P: Connection refused", "conversation with H[A] timed out while
 * receiving the initial server greeting", "lost connection with H[A]
 * while sending RCPT TO", "TLS is required, but was not offered by host
 * H[A]", "message size N exceeds size limit M of server H[A]".
 *
 * The session is the only owner of its conn; every reply text that ends
 * up in a result is escaped (str_escape): it is the remote server's text
 * and lands in queue-file records, logs and bounces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base64.h"
#include "conn.h"
#include "log.h"
#include "smtp/client/client-private.h"

enum sstate {
	S_CONNECT, S_GREETING, S_EHLO, S_HELO, S_STARTTLS, S_TLS, S_AUTH, S_AUTH_USER,
	S_AUTH_PASS, S_TRANS, S_BODY, S_DOT, S_NULLDOT, S_DONE
};

/* Commands of the transaction, in order: MAIL, one RCPT per recipient
 * sent, DATA; replies are matched to them in this order (RFC 2920 3.1). */
struct smtpc_session {
	struct smtpc_job *job;
	struct smtpc *c;
	struct smtpc_host host;
	char namaddr[600];          /* "mx.example.com[192.0.2.7]" */
	char relay[620];            /* namaddr ":25" */
	enum sstate state;
	int fd;                     /* during connect */
	struct event *ev_connect;
	struct event *timer;
	struct event *ev_end;
	enum smtpc_sess_end end;
	struct conn *conn;
	struct smtpc_reply_parser *parser;
	bool greeted, no_tls, tls_on;
	/* EHLO features */
	bool esmtp, pipelining, starttls, f8bitmime, dsn, smtputf8, auth_plain, auth_login;
	bool has_size;
	unsigned long long size_limit;
	/* transaction */
	size_t *sent;               /* indexes into job->rcpts of the RCPTs sent */
	size_t n_sent;
	size_t n_cmds, cmds_written, cmds_answered;
	bool mail_ok, data_ok;
	bool *accepted;
	size_t n_accepted, n_soft;
	struct smtpc_data *data;
	struct strbuf out;
};

static const struct conn_callbacks session_cb;

/* Most commands written ahead of their replies with PIPELINING. */
#define SMTPC_PIPELINE_MAX 100

/* ---- small helpers ---- */

static void arm_timer(struct smtpc_session *s, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(s->timer, &tv);
}

/* stage - what we were doing, in Postfix's words, for timeout and lost
 * connection texts. */
static const char *stage(const struct smtpc_session *s)
{
	switch (s->state) {
	case S_CONNECT:
	case S_GREETING:
		return "receiving the initial server greeting";
	case S_EHLO:
		return "performing the EHLO handshake";
	case S_HELO:
		return "performing the HELO handshake";
	case S_STARTTLS:
	case S_TLS:
		return "sending STARTTLS";
	case S_AUTH:
	case S_AUTH_USER:
	case S_AUTH_PASS:
		return "performing SASL authentication";
	case S_TRANS:
		if (s->cmds_answered == 0)
			return "sending MAIL FROM";
		if (s->cmds_answered <= s->n_sent)
			return "sending RCPT TO";
		return "sending DATA command";
	case S_BODY:
		return "sending message body";
	case S_DOT:
	case S_NULLDOT:
		return "sending end of data -- message may be sent more than once";
	case S_DONE:
		break;
	}
	return "sending QUIT";
}

static const char *reply_escaped(const struct smtpc_reply *r, char *buf, size_t size)
{
	char tmp[8];
	size_t n;

	snprintf(tmp, sizeof(tmp), "%d ", r->code);
	n = str_copy(buf, tmp, size);
	if (n < size)
		str_escape(r->text, strlen(r->text), buf + n, size - n);
	return buf;
}

/* reply_dsn - the reply's enhanced code, or one made from its class as
 * Postfix does ("4.0.0", "5.0.0"); a code of the wrong class is ignored. */
static void reply_dsn(const struct smtpc_reply *r, char dsn[12])
{
	if (r->dsn[0] != '\0')
		str_copy(dsn, r->dsn, 12);
	else
		/* the parser guarantees 200..599 */
		str_copy(dsn, r->code >= 500 ? "5.0.0" : r->code >= 400 ? "4.0.0" : "2.0.0", 12);
}

/* set_rcpt - one recipient's result from a reply. */
static void set_rcpt(struct smtpc_session *s, size_t i, const struct smtpc_reply *r,
		     const char *command)
{
	struct smtpc_rstate *rs = &s->job->rs[i];
	char text[4096], dsn[12];
	enum qdest_state st;

	reply_escaped(r, text, sizeof(text));
	reply_dsn(r, dsn);
	st = r->code < 400 ? QDEST_SENT : r->code < 500 ? QDEST_DEFERRED : QDEST_BOUNCED;
	if (st == QDEST_SENT)
		smtpc_why_set(&rs->why, st, dsn, s->relay, "", "%s", text);
	else
		smtpc_why_set(&rs->why, st, dsn, s->relay, "", "host %s said: %s (in reply to %s command)",
			      s->namaddr, text, command);
	free(rs->why.diag);
	rs->why.diag = must_asprintf("smtp; %s", text);
	rs->have = true;
	rs->final = st != QDEST_DEFERRED;
}

/* set_open - every recipient not final gets w (a host-level reason). */
static void set_open(struct smtpc_session *s, const struct smtpc_why *w)
{
	size_t i;

	for (i = 0; i < s->job->n_rcpts; i++) {
		struct smtpc_rstate *rs = &s->job->rs[i];

		if (rs->final)
			continue;
		smtpc_why_set(&rs->why, w->state, w->dsn, w->relay, w->diag, "%s", w->text);
		rs->have = true;
		rs->final = w->state != QDEST_DEFERRED;
	}
}

static void end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_session *s = arg;

	(void)fd;
	(void)what;
	smtpc_session_ended(s->job, s->end, s->greeted);
}

/* finish - the session is over; QUIT goes out if the conversation is in
 * a state to take it. client.c hears of it from the loop. */
static void finish(struct smtpc_session *s, enum smtpc_sess_end end, bool quit)
{
	if (s->state == S_DONE)
		return;
	s->state = S_DONE;
	s->end = end;
	evtimer_del(s->timer);
	if (s->conn != NULL) {
		if (quit)
			conn_printf(s->conn, "QUIT\r\n");
		conn_close_after_flush(s->conn);
	}
	event_active(s->ev_end, 0, 0);
}

/* host_fail - a failure of the host rather than of a recipient: it is the
 * job's latest reason; every open recipient is told at the end. */
static void host_fail(struct smtpc_session *s, enum smtpc_sess_end end, bool quit,
		      enum qdest_state st, const char *dsn, const char *diag, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static void host_fail(struct smtpc_session *s, enum smtpc_sess_end end, bool quit,
		      enum qdest_state st, const char *dsn, const char *diag, const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	smtpc_why_set(&s->job->last, st, dsn, s->relay, diag, "%s", text);
	if (end == SMTPC_END_FINAL || end == SMTPC_END_DONE)
		set_open(s, &s->job->last);
	finish(s, end, quit);
}

/* reply_fail - host_fail with a reply: "host H[A] said: ... (in reply to
 * X command)"; 5xx ends the job (bounce), 4xx tries the next host. */
static void reply_fail(struct smtpc_session *s, const struct smtpc_reply *r, const char *command)
{
	char text[4096], dsn[12], diag[4200];

	reply_escaped(r, text, sizeof(text));
	reply_dsn(r, dsn);
	snprintf(diag, sizeof(diag), "smtp; %s", text);
	host_fail(s, r->code >= 500 ? SMTPC_END_FINAL : SMTPC_END_NEXT, true,
		  r->code >= 500 ? QDEST_BOUNCED : QDEST_DEFERRED, dsn, diag,
		  "host %s said: %s (in reply to %s command)", s->namaddr, text, command);
}

static void send_line(struct smtpc_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void send_line(struct smtpc_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)conn_vprintf(s->conn, fmt, ap);
	va_end(ap);
}

/* ---- EHLO features ---- */

static void parse_features(struct smtpc_session *s, const struct smtpc_reply *r)
{
	size_t i;

	s->pipelining = s->starttls = s->f8bitmime = s->dsn = s->smtputf8 = false;
	s->auth_plain = s->auth_login = s->has_size = false;
	s->size_limit = 0;
	for (i = 1; i < r->n_lines; i++) {
		const char *kw = r->lines[i] + 4;

		if (strlen(r->lines[i]) < 4)
			continue;
		if (strcasecmp(kw, "PIPELINING") == 0)
			s->pipelining = true;
		else if (strcasecmp(kw, "STARTTLS") == 0)
			s->starttls = true;
		else if (strcasecmp(kw, "8BITMIME") == 0)
			s->f8bitmime = true;
		else if (strcasecmp(kw, "DSN") == 0)
			s->dsn = true;
		else if (strcasecmp(kw, "SMTPUTF8") == 0)
			s->smtputf8 = true;
		else if (strncasecmp(kw, "SIZE", 4) == 0 && (kw[4] == '\0' || kw[4] == ' ')) {
			s->has_size = true;
			if (kw[4] == ' ')
				s->size_limit = strtoull(kw + 5, NULL, 10);
		} else if (strncasecmp(kw, "AUTH", 4) == 0 && (kw[4] == ' ' || kw[4] == '=')) {
			char mechs[SMTPC_REPLY_LINE_MAX + 1], *save = NULL, *tok;

			str_copy(mechs, kw + 5, sizeof(mechs));
			for (tok = strtok_r(mechs, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
				if (strcasecmp(tok, "PLAIN") == 0)
					s->auth_plain = true;
				else if (strcasecmp(tok, "LOGIN") == 0)
					s->auth_login = true;
			}
		}
	}
}

/* ---- the transaction ---- */

/* esmtp_value_ok - a value we pass on verbatim must be printable ASCII
 * without spaces (it came from the queue file: do not trust it). */
static bool esmtp_value_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v <= ' ' || (unsigned char)*v >= 0x7f || *v == '=')
			return false;
	return true;
}

static void write_command(struct smtpc_session *s, size_t k)
{
	struct smtpc_job *job = s->job;

	if (k == 0) {
		struct strbuf sb;

		strbuf_init(&sb, 2048);
		strbuf_printf(&sb, "MAIL FROM:<%s>", job->sender);
		if (s->has_size)
			strbuf_printf(&sb, " SIZE=%lld", (long long)job->size);
		if (job->body_8bit && s->f8bitmime)
			strbuf_puts(&sb, " BODY=8BITMIME");
		if (job->smtputf8 && s->smtputf8)
			strbuf_puts(&sb, " SMTPUTF8");
		if (s->dsn && job->ret != NULL && esmtp_value_ok(job->ret))
			strbuf_printf(&sb, " RET=%s", job->ret);
		if (s->dsn && job->envid != NULL && esmtp_value_ok(job->envid))
			strbuf_printf(&sb, " ENVID=%s", job->envid);
		send_line(s, "%s\r\n", sb.data != NULL ? sb.data : "MAIL FROM:<>");
		strbuf_free(&sb);
	} else if (k <= s->n_sent) {
		const struct smtpc_rcpt *r = &job->rcpts[s->sent[k - 1]];
		char notify[64] = "";

		if (s->dsn && r->notify != 0) {
			struct strbuf nb;

			/* RFC 3461 4.1: NEVER alone, or a list */
			strbuf_init(&nb, sizeof(notify) - 1);
			if (r->notify & QMSG_NOTIFY_NEVER)
				strbuf_puts(&nb, ",NEVER");
			else {
				if (r->notify & QMSG_NOTIFY_SUCCESS)
					strbuf_puts(&nb, ",SUCCESS");
				if (r->notify & QMSG_NOTIFY_FAILURE)
					strbuf_puts(&nb, ",FAILURE");
				if (r->notify & QMSG_NOTIFY_DELAY)
					strbuf_puts(&nb, ",DELAY");
			}
			if (nb.len > 0)
				snprintf(notify, sizeof(notify), " NOTIFY=%s", nb.data + 1);
			strbuf_free(&nb);
		}
		send_line(s, "RCPT TO:<%s>%s%s%s\r\n", r->addr, notify,
			  s->dsn && r->orcpt != NULL && strchr(r->orcpt, ';') != NULL &&
			  esmtp_value_ok(r->orcpt) ? " ORCPT=" : "",
			  s->dsn && r->orcpt != NULL && strchr(r->orcpt, ';') != NULL &&
			  esmtp_value_ok(r->orcpt) ? r->orcpt : "");
	} else {
		send_line(s, "DATA\r\n");
	}
	s->cmds_written++;
}

static int trans_timeout(const struct smtpc_session *s)
{
	if (s->cmds_answered == 0)
		return s->c->set.mail_timeout;
	if (s->cmds_answered <= s->n_sent)
		return s->c->set.rcpt_timeout;
	return s->c->set.data_init_timeout;
}

static void send_more(struct smtpc_session *s);

static void start_transaction(struct smtpc_session *s)
{
	struct smtpc_job *job = s->job;
	size_t i;

	if (s->has_size && s->size_limit > 0 && (unsigned long long)job->size > s->size_limit) {
		host_fail(s, SMTPC_END_FINAL, true, QDEST_BOUNCED, "5.3.4", "",
			  "message size %lld exceeds size limit %llu of server %s",
			  (long long)job->size, s->size_limit, s->namaddr);
		return;
	}
	if (job->smtputf8 && !s->smtputf8) {
		host_fail(s, SMTPC_END_FINAL, true, QDEST_BOUNCED, "5.6.7", "",
			  "SMTPUTF8 is required, but was not offered by host %s", s->namaddr);
		return;
	}
	s->sent = calloc(job->n_rcpts, sizeof(*s->sent));
	s->accepted = calloc(job->n_rcpts + 1, sizeof(*s->accepted));
	if (s->sent == NULL || s->accepted == NULL) {
		host_fail(s, SMTPC_END_NEXT, true, QDEST_DEFERRED, "4.3.0", "", "out of memory");
		return;
	}
	for (i = 0; i < job->n_rcpts; i++)
		if (!job->rs[i].final)
			s->sent[s->n_sent++] = i;
	s->n_cmds = s->n_sent + 2;
	s->state = S_TRANS;
	send_more(s);
	arm_timer(s, trans_timeout(s));
}

static void start_body(struct smtpc_session *s)
{
	struct smtpc_job *job = s->job;

	s->data = smtpc_data_new(job->fd, job->offset, job->size, s->c->set.line_length_limit,
				 job->body_8bit && !s->f8bitmime);
	if (s->data == NULL) {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.3.0", "", "out of memory");
		return;
	}
	s->state = S_BODY;
	strbuf_init(&s->out, 0);
}

/* pump - write content while the output buffer is low. */
static void pump(struct smtpc_session *s)
{
	const char *error = NULL;
	bool bounce = false;
	int ret = 1;

	while (s->state == S_BODY && conn_output_pending(s->conn) <= CONN_DRAIN_MARK) {
		strbuf_reset(&s->out);
		ret = smtpc_data_next(s->data, &s->out, 64 * 1024, &bounce, &error);
		if (ret < 0) {
			/* the dot is not sent: the server must not deliver a
			 * half message; closing without it aborts the DATA */
			if (bounce)
				host_fail(s, SMTPC_END_FINAL, false, QDEST_BOUNCED, "5.6.3", "",
					  "%s", error);
			else
				host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.3.0", "",
					  "%s", error);
			return;
		}
		if (s->out.len > 0 && conn_write(s->conn, s->out.data, s->out.len) < 0)
			return;   /* on_close follows */
		if (ret == 0) {
			s->state = S_DOT;
			arm_timer(s, s->c->set.data_done_timeout);
			return;
		}
	}
	arm_timer(s, s->c->set.data_xfer_timeout);
}

/* trans_done - every reply of the transaction is in and there is no
 * content to send: decide how the session ends. */
static void trans_done(struct smtpc_session *s)
{
	if (!s->mail_ok) {
		/* MAIL refused: 5xx was final for everyone, 4xx tries on */
		finish(s, s->job->last.state == QDEST_BOUNCED ? SMTPC_END_DONE : SMTPC_END_NEXT, true);
		return;
	}
	if (s->n_accepted == 0 && s->n_soft > 0 && s->n_soft == s->n_sent) {
		/* every recipient got a 4xx: another host may do better */
		size_t last = s->sent[s->n_sent - 1];
		struct smtpc_why *w = &s->job->rs[last].why;

		smtpc_why_set(&s->job->last, w->state, w->dsn, w->relay, w->diag, "%s", w->text);
		finish(s, SMTPC_END_NEXT, true);
		return;
	}
	finish(s, SMTPC_END_DONE, true);
}

/* send_more - the next commands: with PIPELINING up to
 * SMTPC_PIPELINE_MAX unanswered (RFC 2920 3.1 lets MAIL, RCPT and DATA
 * go in one group; the bound keeps the output buffer small with many
 * recipients), otherwise one at a time, and DATA only when a recipient
 * was accepted. */
static void send_more(struct smtpc_session *s)
{
	if (s->pipelining) {
		while (s->cmds_written < s->n_cmds &&
		       s->cmds_written - s->cmds_answered < SMTPC_PIPELINE_MAX)
			write_command(s, s->cmds_written);
		return;
	}
	if (s->cmds_written > s->cmds_answered || s->cmds_written >= s->n_cmds)
		return;
	if (s->cmds_written == s->n_cmds - 1 && s->n_accepted == 0) {
		trans_done(s);
		return;
	}
	write_command(s, s->cmds_written);
}

static void trans_reply(struct smtpc_session *s, const struct smtpc_reply *r)
{
	size_t k = s->cmds_answered;
	size_t i;

	if (k >= s->cmds_written) {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.5.0", "",
			  "conversation with %s failed while %s: reply to a command not sent",
			  s->namaddr, stage(s));
		return;
	}
	s->cmds_answered++;
	if (k == 0) {
		if (r->code >= 200 && r->code < 300) {
			s->mail_ok = true;
		} else {
			/* MAIL refused: every recipient shares the fate; the
			 * replies to what was pipelined are still read */
			char text[4096], dsn[12], diag[4200];

			reply_escaped(r, text, sizeof(text));
			reply_dsn(r, dsn);
			snprintf(diag, sizeof(diag), "smtp; %s", text);
			smtpc_why_set(&s->job->last, r->code >= 500 ? QDEST_BOUNCED : QDEST_DEFERRED,
				      dsn, s->relay, diag, "host %s said: %s (in reply to MAIL FROM command)",
				      s->namaddr, text);
			if (r->code >= 500)
				set_open(s, &s->job->last);
		}
	} else if (k <= s->n_sent) {
		i = s->sent[k - 1];
		if (s->mail_ok) {
			if (r->code >= 200 && r->code < 300) {
				s->accepted[k - 1] = true;
				s->n_accepted++;
			} else {
				set_rcpt(s, i, r, "RCPT TO");
				if (r->code < 500)
					s->n_soft++;
			}
		}
	} else {
		/* the DATA reply */
		if (r->code == 354 && (!s->mail_ok || s->n_accepted == 0)) {
			/* RFC 2920 3.1: nothing to deliver, but the server
			 * wants content: an empty message ends the DATA */
			s->state = S_NULLDOT;
			send_line(s, ".\r\n");
			arm_timer(s, s->c->set.data_done_timeout);
			return;
		}
		if (r->code == 354) {
			start_body(s);
			if (s->state == S_BODY)
				pump(s);
			return;
		}
		if (s->mail_ok && s->n_accepted > 0) {
			for (i = 0; i < s->n_sent; i++)
				if (s->accepted[i])
					set_rcpt(s, s->sent[i], r, "DATA");
		}
		trans_done(s);
		return;
	}
	if (!s->mail_ok || s->cmds_answered == s->n_cmds) {
		/* after a refused MAIL nothing more is sent */
		if (s->mail_ok || s->cmds_answered >= s->cmds_written) {
			trans_done(s);
			return;
		}
	} else {
		send_more(s);
	}
	if (s->state == S_TRANS)
		arm_timer(s, trans_timeout(s));
}

static void dot_reply(struct smtpc_session *s, const struct smtpc_reply *r)
{
	size_t i;

	for (i = 0; i < s->n_sent; i++)
		if (s->accepted[i])
			set_rcpt(s, s->sent[i], r, "end of DATA");
	finish(s, SMTPC_END_DONE, true);
}

/* ---- greeting, EHLO, STARTTLS, AUTH ---- */

static void after_ehlo(struct smtpc_session *s);

static void send_ehlo(struct smtpc_session *s)
{
	s->state = S_EHLO;
	send_line(s, "EHLO %s\r\n", s->c->set.helo_name);
	arm_timer(s, s->c->set.helo_timeout);
}

static void start_auth(struct smtpc_session *s)
{
	struct smtpc_job *job = s->job;
	bool plaintext_ok = s->tls_on ? !s->c->set.sasl_tls_noplaintext : !s->c->set.sasl_noplaintext;

	if (!plaintext_ok || (!s->auth_plain && !s->auth_login)) {
		host_fail(s, SMTPC_END_NEXT, true, QDEST_DEFERRED, "4.7.0", "",
			  "SASL authentication failed; cannot authenticate to server %s: "
			  "no mechanism available", s->namaddr);
		return;
	}
	if (s->auth_plain) {
		size_t ul = strlen(job->sasl_user), pl = strlen(job->sasl_pass);
		char *raw = malloc(ul + pl + 2), *b64;

		if (raw == NULL) {
			host_fail(s, SMTPC_END_NEXT, true, QDEST_DEFERRED, "4.3.0", "", "out of memory");
			return;
		}
		/* RFC 4616: [authzid] NUL authcid NUL passwd */
		raw[0] = '\0';
		memcpy(raw + 1, job->sasl_user, ul);
		raw[ul + 1] = '\0';
		memcpy(raw + ul + 2, job->sasl_pass, pl);
		b64 = base64_encode(raw, ul + pl + 2);
		explicit_bzero(raw, ul + pl + 2);
		free(raw);
		if (b64 == NULL) {
			host_fail(s, SMTPC_END_NEXT, true, QDEST_DEFERRED, "4.3.0", "", "out of memory");
			return;
		}
		send_line(s, "AUTH PLAIN %s\r\n", b64);
		explicit_bzero(b64, strlen(b64));
		free(b64);
		s->state = S_AUTH;
	} else {
		send_line(s, "AUTH LOGIN\r\n");
		s->state = S_AUTH_USER;
	}
	arm_timer(s, s->c->set.helo_timeout);
}

static void after_ehlo(struct smtpc_session *s)
{
	enum smtpc_tls_level level = s->c->set.tls_level;

	if (!s->tls_on && !s->no_tls && level != SMTPC_TLS_NONE) {
		if (s->starttls && s->c->tls_ctx != NULL) {
			send_line(s, "STARTTLS\r\n");
			s->state = S_STARTTLS;
			arm_timer(s, s->c->set.starttls_timeout);
			return;
		}
		if (level >= SMTPC_TLS_ENCRYPT) {
			host_fail(s, SMTPC_END_NEXT, true, QDEST_DEFERRED, "4.7.4", "",
				  "TLS is required, but was not offered by host %s", s->namaddr);
			return;
		}
	}
	if (s->job->sasl_user != NULL && (s->auth_plain || s->auth_login || !s->esmtp)) {
		if (s->esmtp) {
			start_auth(s);
			return;
		}
	}
	start_transaction(s);
}

static void auth_reply(struct smtpc_session *s, const struct smtpc_reply *r)
{
	const char *secret = NULL;
	char *b64;

	if (s->state != S_AUTH && r->code == 334) {
		secret = s->state == S_AUTH_USER ? s->job->sasl_user : s->job->sasl_pass;
		b64 = base64_encode(secret, strlen(secret));
		if (b64 == NULL) {
			host_fail(s, SMTPC_END_NEXT, true, QDEST_DEFERRED, "4.3.0", "", "out of memory");
			return;
		}
		send_line(s, "%s\r\n", b64);
		explicit_bzero(b64, strlen(b64));
		free(b64);
		s->state = s->state == S_AUTH_USER ? S_AUTH_PASS : S_AUTH;
		arm_timer(s, s->c->set.helo_timeout);
		return;
	}
	if (r->code >= 200 && r->code < 300) {
		start_transaction(s);
		return;
	}
	{
		/* Postfix's smtp_sasl_auth_soft_bounce (default yes): an
		 * authentication failure defers, it does not bounce */
		char text[4096], dsn[12];

		reply_escaped(r, text, sizeof(text));
		reply_dsn(r, dsn);
		dsn[0] = '4';
		host_fail(s, SMTPC_END_NEXT, true, QDEST_DEFERRED, dsn, "",
			  "SASL authentication failed; server %s said: %s", s->namaddr, text);
	}
}

static void on_reply(struct smtpc_session *s, const struct smtpc_reply *r)
{
	char text[4096], dsn[12], diag[4200];

	evtimer_del(s->timer);
	switch (s->state) {
	case S_GREETING:
		if (r->code >= 200 && r->code < 300) {
			s->greeted = true;
			send_ehlo(s);
			return;
		}
		s->greeted = true;
		reply_escaped(r, text, sizeof(text));
		reply_dsn(r, dsn);
		snprintf(diag, sizeof(diag), "smtp; %s", text);
		if (r->code >= 500 && !s->c->set.skip_5xx_greeting) {
			host_fail(s, SMTPC_END_FINAL, true, QDEST_BOUNCED, dsn, diag,
				  "host %s refused to talk to me: %s", s->namaddr, text);
		} else {
			dsn[0] = '4';
			host_fail(s, SMTPC_END_NEXT, true, QDEST_DEFERRED, dsn, diag,
				  "host %s refused to talk to me: %s", s->namaddr, text);
		}
		return;
	case S_EHLO:
		if (r->code >= 200 && r->code < 300) {
			s->esmtp = true;
			parse_features(s, r);
			after_ehlo(s);
			return;
		}
		/* RFC 5321 3.2: a server that refuses EHLO may know HELO */
		s->state = S_HELO;
		send_line(s, "HELO %s\r\n", s->c->set.helo_name);
		arm_timer(s, s->c->set.helo_timeout);
		return;
	case S_HELO:
		if (r->code >= 200 && r->code < 300) {
			s->esmtp = false;
			parse_features(s, r);   /* HELO has none: clears them all */
			after_ehlo(s);
			return;
		}
		reply_fail(s, r, "HELO");
		return;
	case S_STARTTLS:
		if (r->code == 220) {
			SSL_CTX *ctx = s->c->set.tls_level >= SMTPC_TLS_VERIFY && s->c->tls_verify_ctx != NULL
				       ? s->c->tls_verify_ctx : s->c->tls_ctx;

			s->state = S_TLS;
			if (conn_start_tls_client(s->conn, ctx, s->host.name,
						  s->c->set.tls_level >= SMTPC_TLS_VERIFY) < 0)
				host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.7.5", "",
					  "Cannot start TLS: handshake failure");
			else
				arm_timer(s, s->c->set.starttls_timeout);
			return;
		}
		if (s->c->set.tls_level >= SMTPC_TLS_ENCRYPT) {
			reply_escaped(r, text, sizeof(text));
			host_fail(s, SMTPC_END_NEXT, true, QDEST_DEFERRED, "4.7.5", "",
				  "TLS is required, but host %s refused to start TLS: %s",
				  s->namaddr, text);
			return;
		}
		/* "may": go on in plain text on the same connection */
		s->starttls = false;
		s->no_tls = true;
		after_ehlo(s);
		return;
	case S_AUTH:
	case S_AUTH_USER:
	case S_AUTH_PASS:
		auth_reply(s, r);
		return;
	case S_TRANS:
		trans_reply(s, r);
		return;
	case S_DOT:
		dot_reply(s, r);
		return;
	case S_NULLDOT:
		trans_done(s);
		return;
	case S_BODY:
		/* a reply while we send the content: the server gave up on
		 * it; that is the answer for the accepted recipients only.
		 * No QUIT: it would land in the middle of our content */
		for (size_t i = 0; i < s->n_sent; i++)
			if (s->accepted[i])
				set_rcpt(s, s->sent[i], r, "end of DATA");
		finish(s, SMTPC_END_DONE, false);
		return;
	default:
		return;
	}
}

/* ---- connection events ---- */

/* lost - the connection broke (timed_out: our timer fired). */
static void lost(struct smtpc_session *s, bool timed_out)
{
	if (s->state == S_DONE)
		return;
	if (timed_out)
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.4.2", "",
			  "conversation with %s timed out while %s", s->namaddr, stage(s));
	else
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.4.2", "",
			  "lost connection with %s while %s", s->namaddr, stage(s));
}

static void on_line(struct conn *conn, char *line, size_t len, void *ctx)
{
	struct smtpc_session *s = ctx;
	struct smtpc_reply r;
	const char *error = NULL;
	int ret;

	(void)conn;
	if (s->state == S_DONE)
		return;
	smtpc_reply_feed(s->parser, line, len);
	smtpc_reply_feed(s->parser, "\n", 1);
	while (s->state != S_DONE && (ret = smtpc_reply_next(s->parser, &r, &error)) != 0) {
		if (ret < 0) {
			char esc[200];

			str_escape(line, len < 100 ? len : 100, esc, sizeof(esc));
			host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.5.0", "",
				  "conversation with %s failed while %s: %s (\"%s\")", s->namaddr,
				  stage(s), error, esc);
			return;
		}
		if (s->state == S_CONNECT || s->state == S_TLS) {
			/* nothing may arrive during the handshake */
			continue;
		}
		on_reply(s, &r);
	}
}

static void on_line_too_long(struct conn *conn, void *ctx)
{
	struct smtpc_session *s = ctx;

	(void)conn;
	host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.5.0", "",
		  "conversation with %s failed while %s: reply line longer than 4096 bytes",
		  s->namaddr, stage(s));
}

static void on_drained(struct conn *conn, void *ctx)
{
	struct smtpc_session *s = ctx;

	(void)conn;
	if (s->state == S_BODY)
		pump(s);
}

static void on_tls_ready(struct conn *conn, void *ctx)
{
	struct smtpc_session *s = ctx;
	char desc[200];

	if (s->state != S_TLS)
		return;
	s->tls_on = true;
	if (s->c->set.tls_loglevel > 0)
		log_info("%s TLS connection established to %s: %s",
			 s->c->set.tls_level >= SMTPC_TLS_VERIFY ? "Verified" : "Anonymous",
			 s->relay, conn_tls_describe(conn, desc, sizeof(desc)));
	/* RFC 3207 4.2: forget the features, ask again */
	send_ehlo(s);
}

static void on_close(struct conn *conn, enum conn_close_reason reason, const char *detail,
		     void *ctx)
{
	struct smtpc_session *s = ctx;

	(void)conn;
	s->conn = NULL;
	conn_free(conn);
	if (s->state == S_DONE)
		return;
	if (s->state == S_TLS || reason == CONN_CLOSE_TLS) {
		if (s->state == S_TLS && s->c->set.tls_level == SMTPC_TLS_MAY) {
			/* Postfix: a failed handshake at "may" is retried in
			 * plain text, on a new connection to the same host */
			smtpc_why_set(&s->job->last, QDEST_DEFERRED, "4.7.5", s->relay, "",
				      "Cannot start TLS: handshake failure");
			log_info("%s: Cannot start TLS: handshake failure (%s); trying without TLS",
				 s->relay, detail);
			finish(s, SMTPC_END_NEXT_PLAIN, false);
			return;
		}
		if (s->state == S_TLS) {
			log_info("%s: Cannot start TLS: handshake failure (%s)", s->relay, detail);
			/* Postfix's words when verify/secure finds a bad certificate */
			if (strstr(detail, "certificate verify failed") != NULL)
				host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.7.5", "",
					  "Server certificate not verified");
			else
				host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.7.5", "",
					  "Cannot start TLS: handshake failure");
			return;
		}
	}
	lost(s, false);
}

static const struct conn_callbacks session_cb = {
	.on_line = on_line,
	.on_line_too_long = on_line_too_long,
	.on_drained = on_drained,
	.on_tls_ready = on_tls_ready,
	.on_close = on_close,
};

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_session *s = arg;

	(void)fd;
	(void)what;
	if (s->state == S_DONE)
		return;
	if (s->state == S_CONNECT) {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.4.1", "",
			  "connect to %s: Connection timed out", s->relay);
		return;
	}
	if (s->state == S_TLS && s->c->set.tls_level == SMTPC_TLS_MAY) {
		smtpc_why_set(&s->job->last, QDEST_DEFERRED, "4.7.5", s->relay, "",
			      "Cannot start TLS: handshake failure");
		finish(s, SMTPC_END_NEXT_PLAIN, false);
		return;
	}
	lost(s, true);
}

static void connected(struct smtpc_session *s)
{
	const char *error = NULL;
	int fd = s->fd;

	s->fd = -1;
	s->conn = conn_new(s->c->base, fd, NULL, &error);
	if (s->conn == NULL) {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.3.0", "", "%s", error);
		return;
	}
	if (conn_set_max_line(s->conn, SMTPC_REPLY_LINE_MAX) < 0) {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.3.0", "", "out of memory");
		return;
	}
	conn_set_name(s->conn, s->namaddr);
	conn_set_output_limit(s->conn, 4 * 1024 * 1024);
	s->state = S_GREETING;
	conn_set_callbacks(s->conn, &session_cb, s);
	arm_timer(s, s->c->set.helo_timeout);
}

static void connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_session *s = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	event_free(s->ev_connect);
	s->ev_connect = NULL;
	if (what & EV_TIMEOUT) {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.4.1", "",
			  "connect to %s: Connection timed out", s->relay);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.4.1", "",
			  "connect to %s: %s", s->relay, strerror(err));
		return;
	}
	connected(s);
}

/* start_connect - a non-blocking connect, watched with
 * smtp_connect_timeout; errors are reported from the loop. */
static void start_connect(struct smtpc_session *s)
{
	struct sockaddr_storage ss, bs;
	socklen_t sl = 0, bl = 0;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	const char *bind_addr = NULL;
	struct timeval tv = { s->c->set.connect_timeout, 0 };
	int fd;

	memset(&ss, 0, sizeof(ss));
	memset(&bs, 0, sizeof(bs));
	if (inet_pton(AF_INET, s->host.addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)s->host.port);
		sl = sizeof(*sin);
		bind_addr = s->c->set.bind4;
		if (bind_addr[0] != '\0') {
			struct sockaddr_in *b = (struct sockaddr_in *)&bs;

			b->sin_family = AF_INET;
			bl = inet_pton(AF_INET, bind_addr, &b->sin_addr) == 1 ? sizeof(*b) : 0;
		}
	} else if (inet_pton(AF_INET6, s->host.addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)s->host.port);
		sl = sizeof(*sin6);
		bind_addr = s->c->set.bind6;
		if (bind_addr[0] != '\0') {
			struct sockaddr_in6 *b = (struct sockaddr_in6 *)&bs;

			b->sin6_family = AF_INET6;
			bl = inet_pton(AF_INET6, bind_addr, &b->sin6_addr) == 1 ? sizeof(*b) : 0;
		}
	} else {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.4.1", "",
			  "connect to %s: not a numeric address", s->relay);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.4.1", "",
			  "connect to %s: %s", s->relay, strerror(errno));
		return;
	}
	if (bl > 0 && bind(fd, (struct sockaddr *)&bs, bl) < 0) {
		int e = errno;

		close(fd);
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.4.1", "",
			  "connect to %s: cannot bind to %s: %s", s->relay, bind_addr, strerror(e));
		return;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.4.1", "",
			  "connect to %s: %s", s->relay, strerror(e));
		return;
	}
	s->fd = fd;
	s->ev_connect = event_new(s->c->base, fd, EV_WRITE, connect_cb, s);
	if (s->ev_connect == NULL || event_add(s->ev_connect, &tv) < 0) {
		host_fail(s, SMTPC_END_NEXT, false, QDEST_DEFERRED, "4.3.0", "", "out of memory");
		return;
	}
}

struct smtpc_session *smtpc_session_start(struct smtpc_job *job, const struct smtpc_host *h,
					  bool no_tls)
{
	struct smtpc_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->job = job;
	s->c = job->c;
	s->fd = -1;
	s->no_tls = no_tls;
	s->host.name = strdup(h->name);
	s->host.addr = strdup(h->addr);
	s->host.port = h->port;
	s->parser = smtpc_reply_parser_new(s->c->set.reply_limit);
	s->timer = evtimer_new(s->c->base, timer_cb, s);
	s->ev_end = event_new(s->c->base, -1, 0, end_cb, s);
	if (s->host.name == NULL || s->host.addr == NULL || s->parser == NULL || s->timer == NULL ||
	    s->ev_end == NULL) {
		smtpc_session_free(&s);
		return NULL;
	}
	snprintf(s->namaddr, sizeof(s->namaddr), "%s[%s]", h->name, h->addr);
	smtpc_relay_name(h, s->relay, sizeof(s->relay));
	s->state = S_CONNECT;
	start_connect(s);
	return s;
}

void smtpc_session_abort(struct smtpc_session *s)
{
	if (s->conn != NULL) {
		conn_free(s->conn);
		s->conn = NULL;
	}
}

void smtpc_session_free(struct smtpc_session **sp)
{
	struct smtpc_session *s = *sp;

	if (s == NULL)
		return;
	if (s->ev_connect != NULL)
		event_free(s->ev_connect);
	if (s->fd >= 0)
		close(s->fd);
	if (s->conn != NULL)
		smtpc_conn_retire(s->c, &s->conn);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->ev_end != NULL)
		event_free(s->ev_end);
	smtpc_reply_parser_free(&s->parser);
	smtpc_data_free(&s->data);
	strbuf_free(&s->out);
	free(s->sent);
	free(s->accepted);
	free(s->host.name);
	free(s->host.addr);
	free(s);
	*sp = NULL;
}
