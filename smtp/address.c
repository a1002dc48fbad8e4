/*
 * address.c - RFC 5321 path parser (4.1.2 Reverse-path / Forward-path /
 * Mailbox, 4.1.1.3 source routes, 4.5.3.1 limits, RFC 6531 SMTPUTF8).
 *
 * Called by the SMTP session for MAIL FROM / RCPT TO and by the
 * restrictions. See address.h for what is accepted. The parser is a single
 * left-to-right pass over bounded input with no recursion, so hostile
 * input costs at most linear time.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "util.h"

/* RFC 5322 3.2.3 atext: the characters of an unquoted local part. */
static bool is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid.
 * Overlong forms and surrogates are refused (RFC 3629 4). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

struct parse {
	const unsigned char *s;
	size_t len, pos;
	unsigned flags;
	bool utf8;
	const char *err; /* the reply when it fails */
};

static const char *reply_syntax(unsigned flags)
{
	return (flags & SMTP_ADDR_RCPT) ? "501 5.1.3 Bad recipient address syntax"
					: "501 5.1.7 Bad sender address syntax";
}

/* Accept a UTF-8 sequence at the cursor if allowed; returns its length or 0. */
static size_t take_utf8(struct parse *p)
{
	size_t n = utf8_seq(p->s + p->pos, p->len - p->pos);

	if (n <= 1)
		return 0;
	if (!(p->flags & SMTP_ADDR_SMTPUTF8)) {
		p->err = "553 5.6.7 Must declare SMTPUTF8 to send unicode address";
		return 0;
	}
	p->utf8 = true;
	return n;
}

/* Domain (RFC 5321 4.1.2 Domain / address-literal) at the cursor, ending
 * at end or at one of the stop characters. Returns a lower-cased copy
 * without trailing dot, or NULL with p->err set. */
static char *parse_domain(struct parse *p, const char *stops, bool *literal_r)
{
	size_t start = p->pos, label = 0, end;
	char *d;

	*literal_r = false;
	if (p->pos < p->len && p->s[p->pos] == '[') {
		char lit[SMTP_ADDR_DOMAIN_MAX + 1];
		unsigned char buf[16];
		size_t close;

		for (close = p->pos + 1; close < p->len && p->s[close] != ']'; close++)
			;
		if (close >= p->len || close - p->pos - 1 >= sizeof(lit) - 1)
			return NULL;
		memcpy(lit, p->s + p->pos + 1, close - p->pos - 1);
		lit[close - p->pos - 1] = '\0';
		/* RFC 5321 4.1.3: IPv4-address-literal or "IPv6:" IPv6-addr;
		 * General-address-literal tags are not defined anywhere: refuse. */
		if (strncasecmp(lit, "IPv6:", 5) == 0) {
			if (inet_pton(AF_INET6, lit + 5, buf) != 1)
				return NULL;
		} else if (inet_pton(AF_INET, lit, buf) != 1) {
			return NULL;
		}
		p->pos = close + 1;
		*literal_r = true;
		d = must_strndup((const char *)p->s + start, p->pos - start);
		return str_lower(d);
	}
	while (p->pos < p->len && !strchr(stops, p->s[p->pos])) {
		unsigned char c = p->s[p->pos];

		if (c == '.') {
			if (label == 0)
				return NULL;
			label = 0;
			p->pos++;
			continue;
		}
		if (c >= 0x80) {
			size_t n = take_utf8(p);

			if (n == 0)
				return NULL;
			p->pos += n;
			label += n;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_') {
			/* '_' is not in RFC 5321 but real hostnames carry it and
			 * Postfix accepts it; it cannot be used to route. */
			p->pos++;
			label++;
		} else {
			return NULL;
		}
		if (label > 63)
			return NULL;
	}
	end = p->pos;
	if (end == start)
		return NULL;
	if (p->s[end - 1] == '.')
		end--; /* "user@example.com." - the root label; Postfix strips it */
	if (end == start || end - start > SMTP_ADDR_DOMAIN_MAX)
		return NULL;
	d = must_strndup((const char *)p->s + start, end - start);
	return str_lower(d);
}

/* A quoted-string local part at the cursor ('"' already seen). Returns the
 * dequoted content (new memory) and leaves the cursor after the closing
 * quote, or NULL when it is unterminated or holds forbidden bytes. */
static char *parse_quoted(struct parse *p)
{
	struct strbuf sb;

	strbuf_init(&sb, SMTP_ADDR_PATH_MAX);
	p->pos++;
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];

		if (c == '"') {
			p->pos++;
			return strbuf_steal(&sb);
		}
		if (c == '\\') {
			p->pos++;
			if (p->pos >= p->len)
				break;
			c = p->s[p->pos];
			/* RFC 5321 quoted-pairSMTP: %d92 %d32-126 */
			if (c < 32 || c > 126)
				break;
		} else if (c >= 0x80) {
			size_t n = take_utf8(p);

			if (n == 0)
				break;
			if (strbuf_append(&sb, p->s + p->pos, n) < 0)
				break;
			p->pos += n;
			continue;
		} else if (c < 32 || c == 127) {
			break;
		}
		if (strbuf_putc(&sb, (char)c) < 0)
			break;
		p->pos++;
	}
	strbuf_free(&sb);
	return NULL;
}

/* Is s a dot-string (RFC 5321 4.1.2): atoms of atext (or UTF-8) separated
 * by single dots? */
static bool is_dot_string(const char *s)
{
	bool atom = false;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (!atom)
				return false;
			atom = false;
		} else if (is_atext((unsigned char)*s) || (unsigned char)*s >= 0x80) {
			atom = true;
		} else {
			return false;
		}
	}
	return atom;
}

/* Local part at the cursor, up to '@' or the end. */
static char *parse_local(struct parse *p, bool *quoted_r)
{
	size_t start = p->pos;
	bool strict = p->flags & SMTP_ADDR_STRICT;

	*quoted_r = false;
	if (p->pos < p->len && p->s[p->pos] == '"') {
		char *content = parse_quoted(p);
		char *raw;

		if (content == NULL)
			return NULL;
		if (is_dot_string(content))
			return content; /* "john.doe"@x is john.doe@x */
		free(content);
		/* Keep the quotes: "a@b"@c must never become a@b@c. */
		*quoted_r = true;
		raw = must_strndup((const char *)p->s + start, p->pos - start);
		return raw;
	}
	while (p->pos < p->len && p->s[p->pos] != '@') {
		unsigned char c = p->s[p->pos];

		if (c >= 0x80) {
			size_t n = take_utf8(p);

			if (n == 0)
				return NULL;
			p->pos += n;
		} else if (is_atext(c) || c == '.') {
			p->pos++;
		} else {
			return NULL;
		}
	}
	if (p->pos == start)
		return NULL;
	{
		char *local = must_strndup((const char *)p->s + start, p->pos - start);

		/* Lenient mode lets "john..doe" and "user." through, as Postfix
		 * does; they cannot be used to route. */
		if (strict && !is_dot_string(local)) {
			free(local);
			return NULL;
		}
		return local;
	}
}

/* Source route "@a,@b:" at the cursor: check each domain and skip it. */
static int skip_route(struct parse *p)
{
	bool lit;

	while (p->pos < p->len && p->s[p->pos] == '@') {
		char *d;

		p->pos++;
		d = parse_domain(p, ",:", &lit);
		if (d == NULL)
			return -1;
		free(d);
		if (p->pos >= p->len)
			return -1;
		if (p->s[p->pos] == ':') {
			p->pos++;
			return 0;
		}
		p->pos++; /* ',' */
	}
	return -1;
}

int smtp_address_parse(const char *text, size_t len, unsigned flags,
		       struct smtp_address *out, const char **reply_r)
{
	struct parse p = { .flags = flags };
	size_t b = 0, e = len;
	char *local = NULL, *domain = NULL;
	bool quoted = false, literal = false, route = false;

	memset(out, 0, sizeof(*out));
	p.err = reply_syntax(flags);
	while (b < e && (text[b] == ' ' || text[b] == '\t'))
		b++;
	while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t'))
		e--;
	if (e > b && text[b] == '<') {
		if (e - b < 2 || text[e - 1] != '>') {
			*reply_r = p.err;
			return -1;
		}
		b++;
		e--;
	} else if (flags & SMTP_ADDR_STRICT) {
		*reply_r = p.err;
		return -1;
	}
	if (e - b > SMTP_ADDR_PATH_MAX) {
		*reply_r = (flags & SMTP_ADDR_RCPT) ? "553 5.1.3 Recipient address too long"
						    : "553 5.1.7 Sender address too long";
		return -1;
	}
	p.s = (const unsigned char *)text + b;
	p.len = e - b;
	if (p.len == 0) {
		if (!(flags & SMTP_ADDR_ALLOW_NULL)) {
			*reply_r = p.err;
			return -1;
		}
		out->raw = must_strdup("");
		out->local = must_strdup("");
		out->domain = must_strdup("");
		out->null = true;
		return 0;
	}
	if (p.s[0] == '@') {
		if (skip_route(&p) < 0)
			goto fail;
		route = true;
	}
	local = parse_local(&p, &quoted);
	if (local == NULL)
		goto fail;
	if (strlen(local) > SMTP_ADDR_LOCAL_MAX) {
		p.err = (flags & SMTP_ADDR_RCPT) ? "553 5.1.3 Recipient address too long"
						 : "553 5.1.7 Sender address too long";
		goto fail;
	}
	if (p.pos < p.len) {
		p.pos++; /* '@' */
		domain = parse_domain(&p, "", &literal);
		if (domain == NULL || p.pos != p.len)
			goto fail;
	} else {
		domain = must_strdup("");
	}
	out->raw = must_strndup((const char *)p.s, p.len);
	out->local = local;
	out->domain = domain;
	out->utf8 = p.utf8;
	out->quoted_local = quoted;
	out->had_route = route;
	out->ip_literal = literal;
	return 0;
fail:
	free(local);
	free(domain);
	*reply_r = p.err;
	return -1;
}

char *smtp_address_text(const struct smtp_address *a)
{
	if (a->null)
		return strdup("");
	if (a->domain == NULL || a->domain[0] == '\0')
		return strdup(a->local ? a->local : "");
	{
		size_t n = strlen(a->local) + strlen(a->domain) + 2;
		char *s = malloc(n);

		if (s != NULL)
			snprintf(s, n, "%s@%s", a->local, a->domain);
		return s;
	}
}

void smtp_address_free(struct smtp_address *a)
{
	if (a == NULL)
		return;
	free(a->raw);
	free(a->local);
	free(a->domain);
	memset(a, 0, sizeof(*a));
}
