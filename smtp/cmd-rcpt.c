/*
 * cmd-rcpt.c - RCPT TO:<forward-path> [NOTIFY= ORCPT=] (RFC 5321 4.1.1.3,
 * RFC 3461 4.1/4.2). Checks: a transaction exists, syntax, parameters,
 * smtpd_recipient_limit (452 4.5.3, RFC 5321 4.5.3.1.8), the address;
 * then the client/helo/sender/relay/recipient restrictions (restrict.h),
 * whose REJECT/DEFER replies come out as Postfix's, with its log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "smtp/smtp-private.h"

static void pending_free(struct smtp_session *s)
{
	smtp_address_free(&s->pending_rcpt.addr);
	x_free(&s->pending_rcpt.text);
	x_free(&s->pending_rcpt.orcpt);
}

/* open_queue_file - at the first accepted recipient, as Postfix opens its
 * cleanup stream: the queue id exists from here on (logged "ID: client="). */
static int open_queue_file(struct smtp_session *s)
{
	char id[QUEUE_ID_SIZE];
	const char *err;

	if (s->l->qdir)
		s->qf = queue_file_create_in(s->l->qdir, id, &err);
	else
		s->qf = queue_file_create(s->l->set.queue_directory, id, &err);
	if (s->qf == NULL) {
		log_warn("%s/incoming: cannot create a queue file: %s; check the directory and its owner",
			 s->l->set.queue_directory, err);
		return -1;
	}
	str_copy(s->queue_id, id, sizeof(s->queue_id));
	if (s->sasl_user)
		log_info("%s: client=%s, sasl_method=%s, sasl_username=%s", s->queue_id, s->client,
			 s->sasl_method, s->sasl_user);
	else
		log_info("%s: client=%s", s->queue_id, s->client);
	return 0;
}

static void rcpt_checked(struct smtp_session *s, const struct restrict_result *r)
{
	if (r->action == RESTRICT_REJECT || r->action == RESTRICT_DEFER) {
		if (r->log[0])
			log_info("%s: %s", s->queue_id[0] ? s->queue_id : "NOQUEUE", r->log);
		else
			session_log_reject(s, "RCPT", r->reply, s->pending_rcpt.text);
		pending_free(s);
		s->rcpt_rejected++;
		session_count(s, SMTP_C_RCPT, false);
		session_reply(s, "%s", r->reply);
		return;
	}
	if (s->n_rcpts == s->cap_rcpts) {
		size_t cap = s->cap_rcpts ? s->cap_rcpts * 2 : 8;
		struct smtp_rcpt *n = realloc(s->rcpts, cap * sizeof(*n));
		if (n == NULL) {
			pending_free(s);
			session_count(s, SMTP_C_RCPT, false);
			session_reply(s, "451 4.3.0 Error: out of memory");
			return;
		}
		s->rcpts = n;
		s->cap_rcpts = cap;
	}
	if (s->qf == NULL && open_queue_file(s) < 0) {
		pending_free(s);
		session_count(s, SMTP_C_RCPT, false);
		session_reply(s, "451 4.3.0 Error: queue file write error");
		return;
	}
	if (r->action == RESTRICT_REDIRECT && r->redirect[0]) {
		char *t = strdup(r->redirect);
		if (t) {
			log_info("%s: redirect: RCPT from %s: <%s> to <%s>", s->queue_id, s->client,
				 s->pending_rcpt.text, t);
			free(s->pending_rcpt.text);
			s->pending_rcpt.text = t;
		}
	} else if (r->action == RESTRICT_HOLD) {
		s->msg.hold = true;
	} else if (r->action == RESTRICT_DISCARD) {
		s->msg.discard = true;
	}
	s->rcpts[s->n_rcpts++] = s->pending_rcpt;
	memset(&s->pending_rcpt, 0, sizeof(s->pending_rcpt));
	session_count(s, SMTP_C_RCPT, true);
	session_set_state(s, SMTP_STATE_RCPT);
	session_reply(s, "250 2.1.5 Ok");
}

void smtp_cmd_rcpt(struct smtp_session *s, char *args, size_t len)
{
	size_t path_off, path_len, params_off;
	const char *reply;
	char buf[SMTP_REPLY_MAX];
	unsigned flags = SMTP_ADDR_RCPT;

	if (s->state != SMTP_STATE_MAIL && s->state != SMTP_STATE_RCPT) {
		session_count(s, SMTP_C_RCPT, false);
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (smtp_path_split(args, len, "TO:", &path_off, &path_len, &params_off) < 0) {
		session_count(s, SMTP_C_RCPT, false);
		session_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (smtp_rcpt_params_parse(args + params_off, len - params_off, &s->pending_rcpt.notify,
				   &s->pending_rcpt.orcpt, buf, sizeof(buf), &reply) < 0) {
		session_count(s, SMTP_C_RCPT, false);
		session_reply(s, "%s", reply);
		return;
	}
	if (s->n_rcpts >= (size_t)s->l->set.rcpt_limit) {
		pending_free(s);
		session_count(s, SMTP_C_RCPT, false);
		session_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (s->mail.smtputf8)
		flags |= SMTP_ADDR_SMTPUTF8;
	if (param_lookup("strict_rfc821_envelopes") && config_bool(s->l->view, "strict_rfc821_envelopes"))
		flags |= SMTP_ADDR_STRICT;
	if (smtp_address_parse(args + path_off, path_len, flags, &s->pending_rcpt.addr, &reply) < 0) {
		pending_free(s);
		session_count(s, SMTP_C_RCPT, false);
		session_reply(s, "%s", reply);
		return;
	}
	s->pending_rcpt.text = smtp_address_text(&s->pending_rcpt.addr);
	if (s->pending_rcpt.text == NULL) {
		pending_free(s);
		session_count(s, SMTP_C_RCPT, false);
		session_reply(s, "451 4.3.0 Error: out of memory");
		return;
	}
	session_check(s, RESTRICT_RCPT, rcpt_checked);
}
