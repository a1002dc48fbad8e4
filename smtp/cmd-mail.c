/*
 * cmd-mail.c - MAIL FROM:<reverse-path> [params] (RFC 5321 4.1.1.2 and
 * the extensions in smtp-params.h). Checks (reply, change nothing): TLS
 * required, HELO required, nested MAIL, syntax, parameters, the address
 * (smtp/address.h). Then smtpd_sender_restrictions (restrict.h; with
 * smtpd_delay_reject they run at RCPT). The queue file and its id come
 * with the first accepted recipient (cmd-rcpt.c), as in Postfix, so that
 * rejections before it are logged as NOQUEUE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "smtp/smtp-private.h"

static void mail_checked(struct smtp_session *s, const struct restrict_result *r)
{
	if (r->action == RESTRICT_REJECT || r->action == RESTRICT_DEFER) {
		if (r->log[0])
			log_info("NOQUEUE: %s", r->log);
		else
			session_log_reject(s, "MAIL", r->reply, NULL);
		session_count(s, SMTP_C_MAIL, false);
		smtp_address_free(&s->pending_sender);
		x_free(&s->pending_sender_text);
		smtp_mail_params_free(&s->pending_mail);
		session_reply(s, "%s", r->reply);
		return;
	}
	s->sender = s->pending_sender;
	memset(&s->pending_sender, 0, sizeof(s->pending_sender));
	s->sender_text = s->pending_sender_text;
	s->pending_sender_text = NULL;
	s->mail = s->pending_mail;
	memset(&s->pending_mail, 0, sizeof(s->pending_mail));
	if (r->action == RESTRICT_HOLD)
		s->msg.hold = true;
	else if (r->action == RESTRICT_DISCARD)
		s->msg.discard = true;
	session_count(s, SMTP_C_MAIL, true);
	session_set_state(s, SMTP_STATE_MAIL);
	session_reply(s, "250 2.1.0 Ok");
}

static bool strict_envelopes(const struct config *view)
{
	/* strict_rfc821_envelopes belongs to the restrictions' parameters;
	 * honour it when that table is built in. */
	return param_lookup("strict_rfc821_envelopes") && config_bool(view, "strict_rfc821_envelopes");
}

void smtp_cmd_mail(struct smtp_session *s, char *args, size_t len)
{
	size_t path_off, path_len, params_off;
	const char *reply;
	char buf[SMTP_REPLY_MAX];
	unsigned flags = SMTP_ADDR_ALLOW_NULL;

	if (session_tls_required(s)) {
		session_count(s, SMTP_C_MAIL, false);
		session_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->l->set.helo_required && s->helo == NULL) {
		session_count(s, SMTP_C_MAIL, false);
		session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->state != SMTP_STATE_INIT && s->state != SMTP_STATE_HELO) {
		session_count(s, SMTP_C_MAIL, false);
		session_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (smtp_path_split(args, len, "FROM:", &path_off, &path_len, &params_off) < 0) {
		session_count(s, SMTP_C_MAIL, false);
		session_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (smtp_mail_params_parse(args + params_off, len - params_off,
				   (unsigned long long)s->l->set.size_limit, &s->pending_mail,
				   buf, sizeof(buf), &reply) < 0) {
		session_count(s, SMTP_C_MAIL, false);
		session_reply(s, "%s", reply);
		return;
	}
	if (s->pending_mail.smtputf8)
		flags |= SMTP_ADDR_SMTPUTF8;
	if (strict_envelopes(s->l->view))
		flags |= SMTP_ADDR_STRICT;
	if (smtp_address_parse(args + path_off, path_len, flags, &s->pending_sender, &reply) < 0) {
		smtp_mail_params_free(&s->pending_mail);
		session_count(s, SMTP_C_MAIL, false);
		session_reply(s, "%s", reply);
		return;
	}
	s->pending_sender_text = smtp_address_text(&s->pending_sender);
	if (s->pending_sender_text == NULL) {
		smtp_address_free(&s->pending_sender);
		smtp_mail_params_free(&s->pending_mail);
		session_count(s, SMTP_C_MAIL, false);
		session_reply(s, "451 4.3.0 Error: out of memory");
		return;
	}
	session_check(s, RESTRICT_MAIL, mail_checked);
}
