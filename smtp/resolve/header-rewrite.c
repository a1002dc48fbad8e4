/*
 * header-rewrite.c - resolve_rewrite_header: canonical mapping and
 * masquerading of the addresses in message headers (cleanup(8),
 * canonical(5) canonical_classes, postconf(5) masquerade_classes).
 *
 * Headers and their class (Postfix's header_opts):
 *   header_sender:    From, Sender, Resent-From, Resent-Sender,
 *                     Return-Receipt-To, Errors-To
 *   header_recipient: To, Cc, Bcc, Reply-To, Resent-To, Resent-Cc,
 *                     Resent-Bcc, Resent-Reply-To
 * Only the address bytes change: display names, comments, groups,
 * folding and everything else stay as they were (RFC 5322 3.4 address
 * syntax: "Name <addr>", "addr (comment)", "group: a, b;"). An address
 * the scanner cannot take apart safely (unbalanced quotes or brackets,
 * a source route, blanks inside) is left alone.
 *
 * Postfix rewrites headers only of mail from local clients
 * (local_header_rewrite_clients); the caller decides when to call this.
 * Called by the queue role once per message, before the first delivery.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp/resolve/resolve-private.h"

#define HDR_COMMENT_DEPTH_MAX 32

static unsigned header_class(const char *name, size_t n)
{
	static const char *const senders[] = { "From", "Sender", "Resent-From", "Resent-Sender",
					       "Return-Receipt-To", "Errors-To", NULL };
	static const char *const recipients[] = { "To", "Cc", "Bcc", "Reply-To", "Resent-To", "Resent-Cc",
						  "Resent-Bcc", "Resent-Reply-To", NULL };

	for (size_t i = 0; senders[i]; i++)
		if (strlen(senders[i]) == n && strncasecmp(name, senders[i], n) == 0)
			return RW_HDR_SENDER;
	for (size_t i = 0; recipients[i]; i++)
		if (strlen(recipients[i]) == n && strncasecmp(name, recipients[i], n) == 0)
			return RW_HDR_RECIPIENT;
	return 0;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* skip_comment - v[i] is '('; index after the matching ')', or n when
 * unbalanced or nested too deep (the caller then leaves the field alone). */
static size_t skip_comment(const char *v, size_t i, size_t n, bool *bad)
{
	unsigned depth = 0;

	for (; i < n; i++) {
		if (v[i] == '\\' && i + 1 < n)
			i++;
		else if (v[i] == '(') {
			if (++depth > HDR_COMMENT_DEPTH_MAX)
				break;
		} else if (v[i] == ')' && --depth == 0)
			return i + 1;
	}
	*bad = true;
	return n;
}

static size_t skip_quoted(const char *v, size_t i, size_t n, bool *bad)
{
	for (i++; i < n; i++) {
		if (v[i] == '\\' && i + 1 < n)
			i++;
		else if (v[i] == '"')
			return i + 1;
	}
	*bad = true;
	return n;
}

/* A span that may be rewritten: no blanks, controls or ':' outside
 * quotes, not empty, not too long. */
static bool plain_address(const char *s, size_t n)
{
	bool q = false;

	if (n == 0 || n > RESOLVE_ADDR_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
		if (q) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				q = false;
			continue;
		}
		if (c == '"')
			q = true;
		else if (c == ' ' || c == ':' || c == '<' || c == '>' || c == '(' || c == ',' || c == ';')
			return false;
	}
	return !q;
}

/* rewrite_value - one field value into out. 0, -1 temp (error_r). */
static int rewrite_value(struct resolve *r, unsigned bit, const char *v, size_t n, struct strbuf *out,
			 bool *changed, bool *overflow, char **error_r)
{
	size_t i = 0, copied = 0;
	bool bad = false;

	while (i < n && !bad) {
		size_t item = i, j = i, as = 0, ae = 0, s, e;
		bool angle = false;

		for (; j < n && !bad; j++) {
			char c = v[j];

			if (c == '"') {
				j = skip_quoted(v, j, n, &bad) - 1;
			} else if (c == '(') {
				j = skip_comment(v, j, n, &bad) - 1;
			} else if (c == '<' && !angle) {
				size_t k = j + 1;

				while (k < n && v[k] != '>') {
					if (v[k] == '"')
						k = skip_quoted(v, k, n, &bad);
					else
						k++;
				}
				if (k >= n) {
					bad = true;
					break;
				}
				angle = true;
				as = j + 1;
				ae = k;
				j = k;
			} else if (c == ',' || c == ';') {
				break;
			} else if (c == ':' && !angle) {
				item = j + 1;   /* "group:" - the addresses follow */
			}
		}
		if (bad)
			break;
		if (angle) {
			s = as;
			e = ae;
		} else {
			/* addr-spec: from the first non-blank, non-comment byte to
			 * the next blank or comment; only blanks and comments may
			 * follow it. */
			s = item;
			while (s < j && (is_ws(v[s]) || v[s] == '(')) {
				if (v[s] == '(')
					s = skip_comment(v, s, j, &bad);
				else
					s++;
			}
			e = s;
			while (e < j && !is_ws(v[e]) && v[e] != '(') {
				if (v[e] == '"')
					e = skip_quoted(v, e, j, &bad);
				else
					e++;
			}
			for (size_t k = e; k < j && !bad;) {
				if (v[k] == '(')
					k = skip_comment(v, k, j, &bad);
				else if (is_ws(v[k]))
					k++;
				else
					e = s;   /* "word word": not one address */
				if (e == s)
					break;
			}
		}
		if (!bad && e > s && plain_address(v + s, e - s)) {
			char *a = must_strndup(v + s, e - s), *na = NULL;

			if (resolve_rewrite_addr(r, a, bit, &na, error_r) < 0) {
				free(a);
				return -1;
			}
			if (strcmp(a, na) != 0) {
				if (strbuf_append(out, v + copied, s - copied) < 0 || strbuf_puts(out, na) < 0)
					*overflow = true;
				copied = e;
				*changed = true;
			}
			free(a);
			free(na);
		}
		i = j + 1;
	}
	if (strbuf_append(out, v + copied, n - copied) < 0)
		*overflow = true;
	return 0;
}

int resolve_rewrite_header(struct resolve *r, const char *hdr, size_t len, char **out, size_t *out_len,
			   char **error_r)
{
	struct strbuf sb;
	size_t pos = 0;
	bool changed = false, overflow = false;
	unsigned active = r->canonical_classes | r->masquerade_classes;

	*out = NULL;
	*out_len = 0;
	if (!(active & (RW_HDR_SENDER | RW_HDR_RECIPIENT)))
		return 0;
	strbuf_init(&sb, len + 1024 * 1024);
	while (pos < len) {
		size_t start = pos, end = pos, colon;
		unsigned bit;

		/* The empty line ends the header section: the rest is copied. */
		if (hdr[pos] == '\n' || (hdr[pos] == '\r' && pos + 1 < len && hdr[pos + 1] == '\n')) {
			if (strbuf_append(&sb, hdr + pos, len - pos) < 0)
				overflow = true;
			break;
		}
		/* One field: its first line and every continuation line. */
		for (;;) {
			const char *nl = memchr(hdr + end, '\n', len - end);

			end = nl ? (size_t)(nl - hdr) + 1 : len;
			if (end >= len || (hdr[end] != ' ' && hdr[end] != '\t'))
				break;
		}
		pos = end;
		for (colon = start; colon < end && hdr[colon] != ':' && hdr[colon] != '\n'; colon++)
			;
		bit = colon < end && hdr[colon] == ':' ? header_class(hdr + start, colon - start) : 0;
		if (bit == 0 || !(active & bit)) {
			if (strbuf_append(&sb, hdr + start, end - start) < 0)
				overflow = true;
			continue;
		}
		if (strbuf_append(&sb, hdr + start, colon + 1 - start) < 0)
			overflow = true;
		if (rewrite_value(r, bit, hdr + colon + 1, end - colon - 1, &sb, &changed, &overflow,
				  error_r) < 0) {
			strbuf_free(&sb);
			return -1;
		}
	}
	if (overflow)
		log_warn("resolve: rewritten header section would exceed %zu bytes; left as it was",
			 sb.max);
	if (!changed || overflow || sb.data == NULL) {
		strbuf_free(&sb);
		return 0;
	}
	*out_len = sb.len;
	*out = strbuf_steal(&sb);
	return 1;
}
