/*
 * message.c - the message writer shared by DATA and BDAT: writes the
 * envelope and the Received: header into the queue file, then the content
 * line by line with CR LF, collecting each header (with its continuation
 * lines) for header_checks and header_size_limit, passing body lines to
 * body_checks, and enforcing message_size_limit. At the end it runs
 * smtpd_end_of_data_restrictions, commits the queue file (fsync of the
 * file and of active/) and only then answers "250 2.0.0 Ok: queued as ID".
 *
 * After a failure (too big, header too big, line too long, content
 * rejected, write error) nothing more is written, the client's data is
 * still read to its end, and the reply comes then (RFC 5321 4.2.5: one
 * reply per DATA). Callers: cmd-data.c, cmd-bdat.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker.h"
#include "conn.h"
#include "log.h"
#include "smtp/smtp-private.h"
#include "store/mime.h"

static void fail(struct smtp_session *s, const char *reply)
{
	if (s->msg.failed && s->msg.fail_reply[0])
		return;    /* the first reason wins */
	s->msg.failed = true;
	str_copy(s->msg.fail_reply, reply, sizeof(s->msg.fail_reply));
}

static void write_bytes(struct smtp_session *s, const char *data, size_t len)
{
	const char *err;

	if (s->msg.failed || s->qf == NULL)
		return;
	if (s->msg.size + len > (size_t)s->l->set.size_limit) {
		s->msg.too_big = true;
		fail(s, "552 5.3.4 Error: message file too big");
		return;
	}
	if (queue_file_write(s->qf, data, len, &err) < 0) {
		log_warn("%s: queue file write error: %s", s->queue_id, err);
		fail(s, "451 4.3.0 Error: queue file write error");
		return;
	}
	s->msg.size += len;
}

static void write_line(struct smtp_session *s, const char *line, size_t len)
{
	write_bytes(s, line, len);
	write_bytes(s, "\r\n", 2);
}

/* apply - what a header/body check said about a line. */
static void apply(struct smtp_session *s, int what, const struct restrict_result *r,
		  const char *text, const char *line, size_t len)
{
	if (r->log[0] && (r->warn_only || r->action != RESTRICT_CONTINUE))
		log_info("%s: %s", s->queue_id, r->log);
	if (r->action != RESTRICT_CONTINUE && s->msg.content.action == RESTRICT_CONTINUE && !r->warn_only)
		s->msg.content = *r;
	switch (what) {
	case CONTENT_LINE_IGNORE:
		return;
	case CONTENT_LINE_REPLACE:
		if (text)
			write_line(s, text, strlen(text));
		return;
	case CONTENT_LINE_PREPEND:
		if (text)
			write_line(s, text, strlen(text));
		write_line(s, line, len);
		return;
	case CONTENT_LINE_TEMPFAIL:
		fail(s, r->reply[0] ? r->reply : "451 4.3.0 Error: temporary lookup failure");
		return;
	default:
		write_line(s, line, len);
	}
}

static void flush_header(struct smtp_session *s)
{
	struct restrict_result r;
	const char *text = NULL;
	int what;

	if (s->msg.header.len == 0)
		return;
	memset(&r, 0, sizeof(r));
	what = content_checks_header(s->l->content, s->msg.header.data, s->msg.header.len, &r, &text);
	apply(s, what, &r, text, s->msg.header.data, s->msg.header.len);
	strbuf_reset(&s->msg.header);
}

static void body_line(struct smtp_session *s, const char *line, size_t len)
{
	struct restrict_result r;
	const char *text = NULL;
	int what;

	memset(&r, 0, sizeof(r));
	what = content_checks_body_line(s->l->content, line, len, &r, &text);
	apply(s, what, &r, text, line, len);
}

void message_line(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_message *m = &s->msg;

	if (m->failed)
		return;
	if (m->headers_done) {
		body_line(s, line, len);
		return;
	}
	m->header_bytes += len + 2;
	if (m->header_bytes > (size_t)s->l->set.header_limit) {
		fail(s, "552 5.3.4 Error: message header size exceeds safety limit");
		return;
	}
	if (len > 0 && (line[0] == ' ' || line[0] == '\t') && m->header.len > 0) {
		if (strbuf_append(&m->header, "\r\n", 2) < 0 || strbuf_append(&m->header, line, len) < 0)
			fail(s, "451 4.3.0 Error: out of memory");
		return;
	}
	flush_header(s);
	if (len == 0 || !mime_header_field_start(line, len)) {
		m->headers_done = true;
		/* A body without a header block (or after a broken one) gets the
		 * empty line that separates it from the headers, at least from
		 * our Received: (RFC 5322 2.1), as Postfix's cleanup does. */
		write_line(s, "", 0);
		if (len > 0)
			body_line(s, line, len);
		return;
	}
	if (strbuf_append(&m->header, line, len) < 0)
		fail(s, "451 4.3.0 Error: out of memory");
}

void message_bytes(struct smtp_session *s, const char *data, size_t len)
{
	struct smtp_message *m = &s->msg;

	while (len > 0) {
		const char *lf = memchr(data, '\n', len);
		size_t take = lf ? (size_t)(lf - data) : len;

		if (m->partial.len + take > SMTP_DATA_MAX_LINE) {
			m->line_too_long = true;
			fail(s, "500 5.5.0 Error: line too long");
		}
		if (!m->failed && strbuf_append(&m->partial, data, take) < 0)
			fail(s, "451 4.3.0 Error: out of memory");
		if (lf == NULL)
			return;
		size_t l = m->partial.len;
		if (l > 0 && m->partial.data[l - 1] == '\r')
			l--;
		if (!m->failed)
			message_line(s, m->partial.data, l);
		strbuf_reset(&m->partial);
		data += take + 1;
		len -= take + 1;
	}
}

int message_begin(struct smtp_session *s)
{
	struct queue_rcpt *rcpts = calloc(s->n_rcpts ? s->n_rcpts : 1, sizeof(*rcpts));
	struct queue_envelope env;
	char proto[16];
	const char *err;
	char *received;
	int rc;

	memset(&env, 0, sizeof(env));
	if (rcpts == NULL) {
		session_reply(s, "451 4.3.0 Error: out of memory");
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &env.arrival);
	for (size_t i = 0; i < s->n_rcpts; i++) {
		rcpts[i].addr = s->rcpts[i].text;
		rcpts[i].orcpt = s->rcpts[i].orcpt;
		rcpts[i].notify = s->rcpts[i].notify;
	}
	env.sender = s->sender_text;
	env.envid = s->mail.envid;
	env.ret = s->mail.ret == SMTP_RET_FULL ? "FULL" : s->mail.ret == SMTP_RET_HDRS ? "HDRS" : NULL;
	env.body = s->mail.body == SMTP_BODY_7BIT ? "7BIT" : s->mail.body == SMTP_BODY_8BITMIME ? "8BITMIME" : NULL;
	env.smtputf8 = s->mail.smtputf8;
	env.client_name = s->name;
	env.client_addr = s->addr;
	env.helo = s->helo;
	env.proto = session_proto(s, proto, sizeof(proto));
	env.sasl_method = s->sasl_method;
	env.sasl_username = s->sasl_user;
	env.rcpts = rcpts;
	env.n_rcpts = s->n_rcpts;
	rc = queue_file_envelope(s->qf, &env, &err);
	free(rcpts);
	if (rc < 0) {
		log_warn("%s: queue file write error: %s", s->queue_id, err);
		session_reply(s, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	received = received_header(s, env.arrival.tv_sec);
	if (received == NULL) {
		session_reply(s, "451 4.3.0 Error: out of memory");
		return -1;
	}
	memset(&s->msg.content, 0, sizeof(s->msg.content));
	write_bytes(s, received, strlen(received));
	free(received);
	if (s->msg.failed) {
		session_reply(s, "%s", s->msg.fail_reply);
		s->msg.failed = false;
		return -1;
	}
	return 0;
}

static void finish_reply(struct smtp_session *s, bool ok, const char *reply)
{
	session_count(s, s->bdat_seen ? SMTP_C_BDAT : SMTP_C_DATA, ok);
	session_reset_transaction(s);
	session_set_state(s, SMTP_STATE_HELO);
	session_reply(s, "%s", reply);
}

/* A commit (creating the file for a message that fit the buffer, write,
 * fsync, rename, the shared fsync of active/) runs on a worker thread: a
 * single-threaded loop would otherwise serialise every session's inode
 * allocation and fsyncs, while concurrent ones share the directory fsync
 * and the file system's journal commits (as Postfix's 20 cleanups do). */
struct commit_job {
	struct worker_job job;
	struct queue_file *qf;
	struct smtp_session *s;   /* NULL once the session is gone */
	int rc;
	const char *err;
	char id[QUEUE_ID_SIZE];
	char *sender;
	size_t size, nrcpt;
	bool hold;
	const char *run_dir;
};

static void commit_run(struct worker_job *job)
{
	struct commit_job *c = (struct commit_job *)job;

	c->rc = queue_file_commit(&c->qf, &c->err);
}

static void commit_report(struct commit_job *c)
{
	if (c->rc < 0) {
		log_warn("%s: cannot queue the message: %s", c->id, c->err);
		return;
	}
	/* The queue role logs "from=<...>, size=..., nrcpt=... (queue active)"
	 * when it picks the file up, as Postfix's qmgr does; a held message is
	 * never picked up, so its line is logged here. */
	if (c->hold)
		log_info("%s: from=<%s>, size=%zu, nrcpt=%zu (queue hold)", c->id,
			 c->sender ? c->sender : "", c->size, c->nrcpt);
	else
		queue_file_wake(c->run_dir);
}

static void commit_done(struct worker_job *job)
{
	struct commit_job *c = (struct commit_job *)job;
	struct smtp_session *s = c->s;
	char reply[SMTP_REPLY_MAX];

	if (c->qf)   /* never ran (the role is stopping): nothing is queued */
		queue_file_abort(&c->qf);
	commit_report(c);
	if (s) {
		s->commit_job = NULL;
		if (c->rc < 0) {
			finish_reply(s, false, "451 4.3.0 Error: queue file write error");
		} else {
			snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %s", c->id);
			finish_reply(s, true, reply);
		}
		session_resume(s);
	}
	free(c->sender);
	free(c);
}

void message_commit_detach(struct smtp_session *s)
{
	if (s->commit_job) {
		((struct commit_job *)s->commit_job)->s = NULL;
		s->commit_job = NULL;
	}
}

static void eod_checked(struct smtp_session *s, const struct restrict_result *r)
{
	char reply[SMTP_REPLY_MAX];
	char id[QUEUE_ID_SIZE];
	struct commit_job *c;

	if (r->action == RESTRICT_REJECT || r->action == RESTRICT_DEFER) {
		session_log_reject(s, "END-OF-MESSAGE", r->reply, NULL);
		finish_reply(s, false, r->reply);
		return;
	}
	if (r->action == RESTRICT_HOLD)
		s->msg.hold = true;
	if (r->action == RESTRICT_DISCARD)
		s->msg.discard = true;
	str_copy(id, s->queue_id, sizeof(id));
	if (s->msg.discard) {
		log_info("%s: discard: END-OF-MESSAGE from %s: message discarded", id, s->client);
		queue_file_abort(&s->qf);
		snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %s", id);
		finish_reply(s, true, reply);
		return;
	}
	if (s->msg.hold && queue_file_hold(s->qf) < 0) {
		finish_reply(s, false, "451 4.3.0 Error: out of memory");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		finish_reply(s, false, "451 4.3.0 Error: out of memory");
		return;
	}
	c->rc = -1;
	c->err = "not committed: the role is stopping";
	c->job.run = commit_run;
	c->job.done = commit_done;
	c->qf = s->qf;
	s->qf = NULL;
	c->s = s;
	str_copy(c->id, id, sizeof(c->id));
	c->sender = s->sender_text ? strdup(s->sender_text) : NULL;
	c->size = s->msg.size;
	c->nrcpt = s->n_rcpts;
	c->hold = s->msg.hold;
	c->run_dir = s->l->set.run_directory;
	if (s->l->role->workers == NULL || worker_pool_submit(s->l->role->workers, &c->job) < 0) {
		/* No pool or its queue is full: commit here, synchronously. */
		commit_run(&c->job);
		commit_done(&c->job);
		return;
	}
	s->commit_job = c;
	conn_pause(s->conn);
}

void message_finish(struct smtp_session *s)
{
	struct smtp_message *m = &s->msg;

	if (!m->failed && m->partial.len > 0) {
		/* BDAT: a last line without its line end */
		message_line(s, m->partial.data, m->partial.len);
		strbuf_reset(&m->partial);
	}
	if (!m->failed && !m->headers_done)
		flush_header(s);
	if (m->failed) {
		char reply[SMTP_REPLY_MAX];
		str_copy(reply, m->fail_reply, sizeof(reply));
		if (m->too_big)
			log_info("%s: reject: %s from %s: %s; from=<%s> proto=ESMTP helo=<%s>", s->queue_id,
				 s->bdat_seen ? "BDAT" : "DATA", s->client, reply, s->sender_text,
				 s->helo ? s->helo : "");
		finish_reply(s, false, reply);
		return;
	}
	if (m->content.action == RESTRICT_REJECT || m->content.action == RESTRICT_DEFER) {
		char reply[SMTP_REPLY_MAX];
		str_copy(reply, m->content.reply[0] ? m->content.reply : "550 5.7.1 Message content rejected",
			 sizeof(reply));
		finish_reply(s, false, reply);
		return;
	}
	if (m->content.action == RESTRICT_HOLD)
		m->hold = true;
	if (m->content.action == RESTRICT_DISCARD)
		m->discard = true;
	session_set_state(s, SMTP_STATE_HELO);
	session_check(s, RESTRICT_END_OF_DATA, eod_checked);
}

void message_free(struct smtp_message *m)
{
	struct strbuf header = m->header, partial = m->partial;

	strbuf_reset(&header);
	strbuf_reset(&partial);
	memset(m, 0, sizeof(*m));
	m->header = header;
	m->partial = partial;
}
