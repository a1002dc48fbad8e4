/*
 * received.c - the Received: header the SMTP server prepends (RFC 5321
 * 4.4 trace information, RFC 3848 protocol names ESMTP/ESMTPS/ESMTPA/
 * ESMTPSA), laid out as Postfix's smtpd does:
 *
 *   Received: from HELO (NAME [ADDR])
 *           (using TLSv1.3 with cipher ... (256/256 bits))
 *           by MYHOSTNAME (Postern) with ESMTPSA id QUEUEID
 *           for <RCPT>; Wed, 25 Nov 2026 10:00:00 +0000 (UTC)
 *
 * The TLS line only with smtpd_tls_received_header = yes; "for" only with
 * a single recipient (as Postfix: naming many would leak Bcc). Client
 * text (HELO) is escaped so that no CR/LF/8-bit byte enters the header.
 * Called by message.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp/smtp-private.h"

char *received_header(const struct smtp_session *s, time_t now)
{
	struct strbuf b;
	char helo[300], proto[16], date[64], rcpt[600];
	struct tm tm;

	strbuf_init(&b, 8192);
	if (s->helo)
		str_escape(s->helo, strlen(s->helo), helo, sizeof(helo));
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
	/* Without HELO Postfix writes "from (NAME [ADDR])", as in the seeds. */
	if (strbuf_printf(&b, "Received: from %s%s(%s [%s])\r\n", s->helo ? helo : "", s->helo ? " " : "",
			  s->name, s->addr) < 0)
		goto fail;
	if (s->tls && s->tls_info[0] && s->l->set.tls_received &&
	    strbuf_printf(&b, "\t(using %s)\r\n", s->tls_info) < 0)
		goto fail;
	if (strbuf_printf(&b, "\tby %s (%s) with %s id %s", s->l->set.hostname, s->l->set.mail_name,
			  session_proto(s, proto, sizeof(proto)), s->queue_id) < 0)
		goto fail;
	if (s->n_rcpts == 1) {
		str_escape(s->rcpts[0].text, strlen(s->rcpts[0].text), rcpt, sizeof(rcpt));
		if (strbuf_printf(&b, "\r\n\tfor <%s>; %s\r\n", rcpt, date) < 0)
			goto fail;
	} else if (strbuf_printf(&b, ";\r\n\t%s\r\n", date) < 0) {
		goto fail;
	}
	return strbuf_steal(&b);
fail:
	strbuf_free(&b);
	return NULL;
}
