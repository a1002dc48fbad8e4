/*
 * address.h - RFC 5321 path parsing for MAIL FROM:<...> and RCPT TO:<...>
 * (RFC 5321 4.1.2 Reverse-path, Forward-path, Mailbox; 4.1.1.3 source
 * routes; 4.5.3.1 size limits; RFC 6531 SMTPUTF8).
 *
 * Callers: the SMTP session (smtp/cmd-mail.c, smtp/cmd-rcpt.c) and the
 * restrictions (smtp/restrict*.c). Implementation: smtp/address.c.
 *
 * What the parser accepts and how it hands the address over:
 *   - "<path>" always; a bare "path" without brackets only without
 *     SMTP_ADDR_STRICT (Postfix's strict_rfc821_envelopes = no, the
 *     default, is lenient in the same way).
 *   - Source routes "@a,@b:user@c" are stripped: the address is "user@c"
 *     (RFC 5321 4.1.1.3 says a server SHOULD ignore them; Postfix does).
 *   - '%', '!' and quoted local parts that contain '@' stay part of the
 *     literal local part; nothing here ever routes on them. The
 *     restrictions decide relaying from the domain after the LAST '@'
 *     outside quotes, exactly as the parse below splits it.
 *   - Quoted local parts are dequoted in out->local only when the result
 *     is an ordinary dot-atom; otherwise out->local keeps the quotes
 *     (quoted_local = true), so "a@b"@c never looks like a@b.
 *   - Domains: dot-separated labels of letters, digits and hyphens, or an
 *     address literal "[1.2.3.4]" / "[IPv6:...]". A trailing dot is
 *     accepted and removed (Postfix does the same for "user@domain.").
 *     Domains are lower-cased in out->domain; the local part keeps case.
 *   - 8-bit bytes (UTF-8) are accepted only with SMTP_ADDR_SMTPUTF8 and
 *     must be valid UTF-8; out->utf8 says whether any were seen.
 *   - Limits: local part 64 octets, domain 255, whole path 256 (RFC 5321
 *     4.5.3.1.1-3). Control characters, NUL, spaces outside quotes: error.
 */
#ifndef POSTERN_SMTP_ADDRESS_H
#define POSTERN_SMTP_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_ADDR_LOCAL_MAX 64
#define SMTP_ADDR_DOMAIN_MAX 255
#define SMTP_ADDR_PATH_MAX 256

/* smtp_address_parse flags */
enum {
	SMTP_ADDR_ALLOW_NULL = 1 << 0, /* "<>" is valid (MAIL FROM) */
	SMTP_ADDR_SMTPUTF8 = 1 << 1,   /* MAIL FROM had SMTPUTF8: UTF-8 allowed */
	SMTP_ADDR_STRICT = 1 << 2,     /* strict_rfc821_envelopes: <> required */
	SMTP_ADDR_RCPT = 1 << 3,       /* a Forward-path: error texts say "recipient" */
};

struct smtp_address {
	char *raw;          /* the path as given, without the brackets */
	char *local;        /* local part ("" for <>); may keep quotes, see above */
	char *domain;       /* lower case, no trailing dot; "" if none or <> */
	bool null;          /* "<>" */
	bool utf8;          /* 8-bit bytes seen */
	bool quoted_local;  /* local still carries quotes (it needs them) */
	bool had_route;     /* a source route was stripped */
	bool ip_literal;    /* domain is "[...]" */
};

/*
 * smtp_address_parse - parse the argument after "MAIL FROM:" / "RCPT TO:"
 * (up to, not including, any ESMTP parameters: text/len is exactly the
 * path, e.g. "<user@example.com>"). Leading/trailing blanks are ignored.
 * Returns 0 and fills *out (free with smtp_address_free), or -1 with
 * *reply_r set to a static complete SMTP reply without CRLF, e.g.
 * "501 5.1.7 Bad sender address syntax", "501 5.1.3 Bad recipient address
 * syntax", "553 5.1.7 Sender address too long" / "... Recipient address
 * too long" (the session sends it as is). *out is zeroed on error.
 */
int smtp_address_parse(const char *text, size_t len, unsigned flags,
		       struct smtp_address *out, const char **reply_r);

/*
 * smtp_address_text - the address as the restrictions and logs use it:
 * "local@domain", "local" when there is no domain, "" for <>. Returns
 * new memory (caller frees) or NULL on out of memory.
 */
char *smtp_address_text(const struct smtp_address *a);

/* smtp_address_free - free the strings and zero *a; safe on a zeroed struct. */
void smtp_address_free(struct smtp_address *a);

#endif
