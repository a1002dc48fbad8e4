/*
 * cmd-ehlo.c - EHLO (RFC 5321 4.1.1.1, RFC 1869): like HELO, but the reply
 * lists the extensions (built in cmd-helo.c's helo_reply, since both
 * share the restriction step): PIPELINING (RFC 2920), SIZE (RFC 1870),
 * VRFY when enabled, STARTTLS before TLS when a certificate is set (RFC
 * 3207), AUTH where allowed (RFC 4954), ENHANCEDSTATUSCODES (RFC 2034),
 * 8BITMIME (RFC 6152), DSN (RFC 3461), SMTPUTF8 (RFC 6531), CHUNKING
 * (RFC 3030).
 */
#include "smtp/smtp-private.h"

void smtp_cmd_ehlo(struct smtp_session *s, char *args, size_t len)
{
	smtp_cmd_helo_common(s, args, len, true);
}
