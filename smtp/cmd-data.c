/*
 * cmd-data.c - DATA (RFC 5321 4.1.1.4): checks, smtpd_data_restrictions,
 * "354 End data with <CR><LF>.<CR><LF>", then every content line until the
 * end-of-data line, with dot-unstuffing (RFC 5321 4.5.2).
 *
 * Bare LF (decided as Postfix's smtpd_forbid_bare_newline = normalize):
 * a line ended by a bare LF is accepted and stored with CR LF, but the
 * end of data is only "." on a line of its own with CR LF before and
 * after it (<CR><LF>.<CR><LF>). "<LF>.<LF>" or "<LF>.<CR><LF>" is content,
 * so a message smuggled behind a non-standard end-of-data (the 2023 "SMTP
 * smuggling" attacks) stays inside the first message instead of becoming
 * a second one. NUL bytes in content are kept as they are.
 */
#include <string.h>

#include "conn.h"
#include "smtp/smtp-private.h"

static void data_checked(struct smtp_session *s, const struct restrict_result *r)
{
	if (r->action == RESTRICT_REJECT || r->action == RESTRICT_DEFER) {
		session_log_reject(s, "DATA", r->reply, NULL);
		session_count(s, SMTP_C_DATA, false);
		session_reply(s, "%s", r->reply);
		return;
	}
	if (r->action == RESTRICT_HOLD)
		s->msg.hold = true;
	else if (r->action == RESTRICT_DISCARD)
		s->msg.discard = true;
	if (message_begin(s) < 0) {
		session_count(s, SMTP_C_DATA, false);
		return;
	}
	s->msg.prev_crlf = true;
	session_set_state(s, SMTP_STATE_DATA);
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

void smtp_cmd_data(struct smtp_session *s, char *args, size_t len)
{
	(void)args;
	if (len > 0) {
		session_count(s, SMTP_C_DATA, false);
		session_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (session_tls_required(s)) {
		session_count(s, SMTP_C_DATA, false);
		session_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->state == SMTP_STATE_BDAT) {
		session_count(s, SMTP_C_DATA, false);
		session_reply(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if (s->state != SMTP_STATE_RCPT) {
		session_count(s, SMTP_C_DATA, false);
		if (s->state == SMTP_STATE_MAIL && s->rcpt_rejected > 0)
			session_reply(s, "554 5.5.1 Error: no valid recipients");
		else
			session_reply(s, "503 5.5.1 Error: need RCPT command");
		return;
	}
	session_check(s, RESTRICT_DATA, data_checked);
}

void smtp_cmd_data_line(struct smtp_session *s, const char *line, size_t len)
{
	bool crlf = conn_line_had_crlf(s->conn);

	if (len == 1 && line[0] == '.' && crlf && s->msg.prev_crlf) {
		message_finish(s);
		return;
	}
	s->msg.prev_crlf = crlf;
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	message_line(s, line, len);
}
