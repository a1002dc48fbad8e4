/*
 * restrict-reply.c - reply and log texts of the restrictions, worded as
 * Postfix's smtpd words them ("554 5.7.1 <x@y>: Relay access denied",
 * "<name>: Recipient address rejected: ..."), so that admins and their
 * search engines recognise them. RFC 3463 enhanced status codes: the
 * first digit always matches the reply code's class.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "restrict-private.h"
#include "util.h"

const char *restrict_list_class(enum restrict_list k)
{
	switch (k) {
	case RLIST_CLIENT: return "Client host";
	case RLIST_HELO: return "Helo command";
	case RLIST_SENDER: return "Sender address";
	case RLIST_RECIPIENT: return "Recipient address";
	case RLIST_DATA: return "Data command";
	case RLIST_EOD: return "End-of-data";
	case RLIST_SASL: return "SASL login name";
	}
	return "Request";
}

const char *restrict_list_name(const struct restrict_req *q, enum restrict_list k,
			       char *buf, size_t size)
{
	const struct restrict_facts *f = q->f;

	switch (k) {
	case RLIST_CLIENT:
		snprintf(buf, size, "%s[%s]", f->client_name ? f->client_name : "unknown",
			 f->client_addr ? f->client_addr : "unknown");
		break;
	case RLIST_HELO:
		snprintf(buf, size, "%s", f->helo ? f->helo : "");
		break;
	case RLIST_SENDER:
		snprintf(buf, size, "%s", f->sender ? f->sender : "");
		break;
	case RLIST_RECIPIENT:
		snprintf(buf, size, "%s", f->recipient ? f->recipient : "");
		break;
	case RLIST_DATA:
		snprintf(buf, size, "DATA");
		break;
	case RLIST_EOD:
		snprintf(buf, size, "END-OF-MESSAGE");
		break;
	case RLIST_SASL:
		restrict_clean_text(buf, size, f->sasl_username ? f->sasl_username : "");
		break;
	}
	return buf;
}

void restrict_clean_text(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	if (size == 0)
		return;
	for (; src && *src && n + 1 < size; src++)
		dst[n++] = ((unsigned char)*src < 32 || *src == 127) ? ' ' : *src;
	dst[n] = '\0';
}

static const char *stage_name(const struct restrict_req *q)
{
	switch (q->stage) {
	case RESTRICT_CONNECT: return "CONNECT";
	case RESTRICT_HELO: return q->f->esmtp ? "EHLO" : "HELO";
	case RESTRICT_MAIL: return "MAIL";
	case RESTRICT_RCPT: return "RCPT";
	case RESTRICT_DATA: return "DATA";
	case RESTRICT_END_OF_DATA: return "END-OF-MESSAGE";
	}
	return "?";
}

/* Postfix's "reject: RCPT from name[addr]: REPLY; from=<s> to=<r>
 * proto=ESMTP helo=<h>" (the session puts the queue id or NOQUEUE first). */
void restrict_log_line(struct restrict_req *q, const char *what, const char *detail)
{
	const struct restrict_facts *f = q->f;
	char line[sizeof(q->result.log)];
	struct strbuf sb;

	strbuf_init(&sb, sizeof(line) - 1);
	(void)strbuf_printf(&sb, "%s: %s from %s[%s]: %s;", what, stage_name(q),
			    f->client_name ? f->client_name : "unknown",
			    f->client_addr ? f->client_addr : "unknown", detail);
	if (f->sender)
		(void)strbuf_printf(&sb, " from=<%s>", f->sender);
	if (f->recipient && q->stage == RESTRICT_RCPT)
		(void)strbuf_printf(&sb, " to=<%s>", f->recipient);
	(void)strbuf_printf(&sb, " proto=%s", f->esmtp ? "ESMTP" : "SMTP");
	if (f->helo)
		(void)strbuf_printf(&sb, " helo=<%s>", f->helo);
	restrict_clean_text(q->result.log, sizeof(q->result.log), sb.data ? sb.data : detail);
	strbuf_free(&sb);
}

/* Truncating formatter: replies are bounded on purpose (RFC 5321 4.5.3.1.5). */
void restrict_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* "CODE DSN text" into buf; a 4xx code gets a 4.x.x DSN and vice versa. */
static void format_reply(char *buf, size_t size, int code, const char *dsn, const char *text)
{
	char d[16];
	char clean[512];

	str_copy(d, dsn, sizeof(d));
	d[0] = (char)('0' + code / 100);
	restrict_clean_text(clean, sizeof(clean), text);
	restrict_fmt(buf, size, "%d %s %s", code, d, clean);
}

enum rule_status restrict_reply(struct restrict_req *q, int code, const char *dsn,
				const char *fmt, ...)
{
	char text[512], reply[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	format_reply(reply, sizeof(reply), code, dsn, text);
	/* defer_if_reject: a later reject is answered with the earlier
	 * temporary reason instead (postconf(5), Postfix smtpd_check). */
	if (code >= 500 && q->defer_if_reject && !q->warn_next)
		str_copy(reply, q->defer_if_reject_reply, sizeof(reply));
	if (q->warn_next) {
		/* Postfix: "reject_warning: RCPT from ...: 554 ...; from=<...> ..." */
		restrict_log_line(q, "reject_warning", reply);
		log_info("%s", q->result.log);
		q->result.warn_only = true;
		q->result.log[0] = '\0';
		return RULE_DUNNO;
	}
	str_copy(q->result.reply, reply, sizeof(q->result.reply));
	q->result.action = reply[0] == '5' ? RESTRICT_REJECT : RESTRICT_DEFER;
	restrict_log_line(q, "reject", reply);
	return RULE_FINAL;
}

enum rule_status restrict_defer_if_permit(struct restrict_req *q, int code, const char *dsn,
					  const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (q->have_defer_if_permit)
		return RULE_DUNNO;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (code >= 500)
		code = 450;
	format_reply(q->defer_if_permit, sizeof(q->defer_if_permit), code, dsn, text);
	q->have_defer_if_permit = true;
	return RULE_DUNNO;
}

enum rule_status restrict_defer_if_reject(struct restrict_req *q, int code, const char *dsn,
					  const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (q->defer_if_reject)
		return RULE_DUNNO;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (code >= 500)
		code = 450;
	format_reply(q->defer_if_reject_reply, sizeof(q->defer_if_reject_reply), code, dsn, text);
	q->defer_if_reject = true;
	return RULE_DUNNO;
}

const char *restrict_action_split(const char *value, char *word, size_t size, size_t *len_r)
{
	size_t n;

	while (*value == ' ' || *value == '\t')
		value++;
	n = strcspn(value, " \t");
	if (n >= size)
		n = size - 1;
	memcpy(word, value, n);
	word[n] = '\0';
	value += n;
	while (*value == ' ' || *value == '\t')
		value++;
	*len_r = n;
	return value;
}
