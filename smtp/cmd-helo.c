/*
 * cmd-helo.c - HELO (RFC 5321 4.1.1.1) and the part EHLO shares with it:
 * checking the argument, resetting a transaction, smtpd_helo_restrictions.
 * Called through the command table (commands.c) and by cmd-ehlo.c.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "smtp/smtp-private.h"

static void helo_reply(struct smtp_session *s)
{
	if (!s->esmtp) {
		session_reply(s, "250 %s", s->l->set.hostname);
		return;
	}
	const struct smtp_settings *set = &s->l->set;
	struct strbuf b;
	strbuf_init(&b, 4096);
	strbuf_printf(&b, "250-%s\r\n250-PIPELINING\r\n250-SIZE %lld\r\n", set->hostname, set->size_limit);
	if (!set->vrfy_disabled)
		strbuf_puts(&b, "250-VRFY\r\n");
	if (!s->tls && s->l->ssl_ctx && set->tls_level != SMTP_TLS_NONE)
		strbuf_puts(&b, "250-STARTTLS\r\n");
	if (set->sasl_enabled && set->mechs[0] && (s->tls || !set->tls_auth_only) &&
	    !session_tls_required(s))
		strbuf_printf(&b, "250-AUTH %s\r\n", set->mechs);
	strbuf_puts(&b, "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
			"250-SMTPUTF8\r\n250 CHUNKING\r\n");
	if (b.data)
		session_reply_raw(s, b.data);
	strbuf_free(&b);
}

static void helo_checked(struct smtp_session *s, const struct restrict_result *r)
{
	if (r->action == RESTRICT_REJECT || r->action == RESTRICT_DEFER) {
		session_log_reject(s, s->esmtp ? "EHLO" : "HELO", r->reply, NULL);
		session_count(s, s->esmtp ? SMTP_C_EHLO : SMTP_C_HELO, false);
		x_free(&s->helo);
		s->esmtp = false;
		session_reply(s, "%s", r->reply);
		return;
	}
	session_count(s, s->esmtp ? SMTP_C_EHLO : SMTP_C_HELO, true);
	if (s->state == SMTP_STATE_INIT)
		session_set_state(s, SMTP_STATE_HELO);
	helo_reply(s);
}

/* helo_common - HELO and EHLO after their verb. */
void smtp_cmd_helo_common(struct smtp_session *s, char *args, size_t len, bool esmtp)
{
	char *arg;

	while (len > 0 && (args[len - 1] == ' ' || args[len - 1] == '\t'))
		len--;
	if (len == 0) {
		session_count(s, esmtp ? SMTP_C_EHLO : SMTP_C_HELO, false);
		session_reply(s, "501 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	if (len > SMTP_HELO_MAX)
		len = SMTP_HELO_MAX;
	arg = strndup(args, len);
	if (arg == NULL) {
		session_reply(s, "451 4.3.0 Error: out of memory");
		return;
	}
	/* RFC 5321 4.1.4: a new HELO/EHLO resets any transaction. */
	session_reset_transaction(s);
	free(s->helo);
	s->helo = arg;
	s->esmtp = esmtp;
	session_check(s, RESTRICT_HELO, helo_checked);
}

void smtp_cmd_helo(struct smtp_session *s, char *args, size_t len)
{
	smtp_cmd_helo_common(s, args, len, false);
}
