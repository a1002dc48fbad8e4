/*
 * cmd-bdat.c - BDAT count [LAST] (RFC 3030 CHUNKING): the chunk is read
 * as raw bytes (conn_read_bytes) and handed to the message writer, which
 * splits it into lines for the header/body checks (bare LF stored as
 * CR LF, a final line without line end gets one). Each chunk is answered
 * "250 2.0.0 Ok: N bytes"; the LAST one with "queued as". A BDAT that is
 * refused still has its bytes read and dropped (RFC 3030 2: the server
 * must consume the chunk), unless the count is absurd, then the session
 * ends after the reply. smtpd_data_restrictions run before the first
 * chunk is read (Postfix applies them at the first BDAT); a refusal
 * swallows that chunk and answers with the restriction's reply.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "log.h"
#include "smtp/smtp-private.h"

/* Errors for a refused chunk are sent after its bytes were consumed. */
static void skip_bytes(struct conn *conn, const void *data, size_t len, bool done, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)conn;
	(void)data;
	(void)len;
	if (!done)
		return;
	if (s->msg.fail_reply[0])
		session_reply(s, "%s", s->msg.fail_reply);
	s->msg.fail_reply[0] = '\0';
}

static void chunk_bytes(struct conn *conn, const void *data, size_t len, bool done, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)conn;
	if (len > 0)
		message_bytes(s, data, len);
	if (!done)
		return;
	if (s->bdat_last) {
		message_finish(s);
		return;
	}
	if (s->msg.failed) {
		/* Refuse now; the transaction is over (RFC 3030 2). */
		char reply[SMTP_REPLY_MAX];
		str_copy(reply, s->msg.fail_reply, sizeof(reply));
		session_count(s, SMTP_C_BDAT, false);
		session_reset_transaction(s);
		session_reply(s, "%s", reply);
		return;
	}
	session_count(s, SMTP_C_BDAT, true);
	session_reply(s, "250 2.0.0 Ok: %zu bytes", s->bdat_left);
}

void smtp_cmd_bdat_cancel(struct smtp_session *s)
{
	s->bdat_left = 0;
}

/* refuse - reply after swallowing count bytes (or close if too many). */
static void refuse(struct smtp_session *s, unsigned long long count, const char *reply)
{
	session_count(s, SMTP_C_BDAT, false);
	if (count > (unsigned long long)s->l->set.size_limit + 1024 * 1024) {
		session_reply(s, "%s", reply);
		session_close(s);
		return;
	}
	str_copy(s->msg.fail_reply, reply, sizeof(s->msg.fail_reply));
	conn_read_bytes(s->conn, (size_t)count, skip_bytes);
}

static void first_chunk_checked(struct smtp_session *s, const struct restrict_result *r);
static void chunk_begin(struct smtp_session *s, unsigned long long count, bool last);

void smtp_cmd_bdat(struct smtp_session *s, char *args, size_t len)
{
	unsigned long long count = 0;
	size_t i = 0, digits = 0;
	bool last = false;

	while (i < len && isdigit((unsigned char)args[i]) && digits < 20) {
		count = count * 10 + (unsigned)(args[i] - '0');
		i++;
		digits++;
	}
	while (i < len && args[i] == ' ')
		i++;
	if (i < len && len - i == 4 && strncasecmp(args + i, "LAST", 4) == 0) {
		last = true;
		i = len;
	}
	if (digits == 0 || digits >= 20 || i != len) {
		session_count(s, SMTP_C_BDAT, false);
		session_reply(s, "501 5.5.4 Syntax: BDAT count [LAST]");
		return;
	}
	if (session_tls_required(s)) {
		refuse(s, count, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->state != SMTP_STATE_RCPT && s->state != SMTP_STATE_BDAT) {
		refuse(s, count, s->state == SMTP_STATE_MAIL ? "503 5.5.1 Error: need RCPT command"
							     : "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->state == SMTP_STATE_RCPT) {
		/* smtpd_data_restrictions run at the first chunk, as Postfix
		 * does; the count waits in bdat_left meanwhile. */
		s->bdat_left = (size_t)count;
		s->bdat_last = last;
		if (!session_check(s, RESTRICT_DATA, first_chunk_checked))
			session_close(s);
		return;
	}
	chunk_begin(s, count, last);
}

/* The first chunk passed smtpd_data_restrictions (or they refused it). */
static void first_chunk_checked(struct smtp_session *s, const struct restrict_result *r)
{
	unsigned long long count = s->bdat_left;

	s->bdat_left = 0;
	if (r->action == RESTRICT_REJECT || r->action == RESTRICT_DEFER) {
		session_log_reject(s, "BDAT", r->reply, NULL);
		refuse(s, count, r->reply);
		return;
	}
	if (r->action == RESTRICT_HOLD)
		s->msg.hold = true;
	else if (r->action == RESTRICT_DISCARD)
		s->msg.discard = true;
	chunk_begin(s, count, s->bdat_last);
}

static void chunk_begin(struct smtp_session *s, unsigned long long count, bool last)
{
	if (s->state == SMTP_STATE_RCPT) {
		if (message_begin(s) < 0) {
			/* message_begin replied; swallow the chunk quietly */
			session_count(s, SMTP_C_BDAT, false);
			s->msg.fail_reply[0] = '\0';
			if (count > (unsigned long long)s->l->set.size_limit)
				session_close(s);
			else
				conn_read_bytes(s->conn, (size_t)count, skip_bytes);
			return;
		}
		s->bdat_seen = true;
		session_set_state(s, SMTP_STATE_BDAT);
	}
	if (count > (unsigned long long)s->l->set.size_limit + 1024 * 1024) {
		session_count(s, SMTP_C_BDAT, false);
		session_reset_transaction(s);
		session_reply(s, "552 5.3.4 Error: message file too big");
		session_close(s);
		return;
	}
	s->bdat_left = (size_t)count;
	s->bdat_last = last;
	conn_read_bytes(s->conn, (size_t)count, chunk_bytes);
}
