/*
 * restrict-rules.c - the restriction rules that need neither tables nor
 * DNS (postconf(5) "Generic restrictions", "Client hostname/address
 * restrictions", "Optional HELO restrictions", "Sender/recipient address
 * restrictions"): permit, reject, defer, defer_if_*, permit_mynetworks,
 * permit_sasl_authenticated, HELO syntax, non-FQDN addresses, unauth
 * pipelining, multi-recipient bounces. Called through the rule table in
 * restrict-parse.c by restrict-eval.c.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "restrict-private.h"

enum rule_status rule_permit(struct restrict_req *q, const struct rule *rule)
{
	(void)q;
	(void)rule;
	return RULE_OK;
}

enum rule_status rule_reject(struct restrict_req *q, const struct rule *rule)
{
	enum restrict_list k = restrict_cur_kind(q);
	char name[300];

	(void)rule;
	return restrict_reply(q, q->r->reject_code, "5.7.1", "<%s>: %s rejected: Access denied",
			      restrict_list_name(q, k, name, sizeof(name)), restrict_list_class(k));
}

enum rule_status rule_defer(struct restrict_req *q, const struct rule *rule)
{
	enum restrict_list k = restrict_cur_kind(q);
	char name[300];

	(void)rule;
	return restrict_reply(q, q->r->defer_code, "4.3.2", "<%s>: %s rejected: Try again later",
			      restrict_list_name(q, k, name, sizeof(name)), restrict_list_class(k));
}

enum rule_status rule_defer_if_permit(struct restrict_req *q, const struct rule *rule)
{
	enum restrict_list k = restrict_cur_kind(q);
	char name[300];

	(void)rule;
	return restrict_defer_if_permit(q, 450, "4.7.0", "<%s>: %s rejected: defer_if_permit requested",
					restrict_list_name(q, k, name, sizeof(name)),
					restrict_list_class(k));
}

enum rule_status rule_defer_if_reject(struct restrict_req *q, const struct rule *rule)
{
	enum restrict_list k = restrict_cur_kind(q);
	char name[300];

	(void)rule;
	return restrict_defer_if_reject(q, 450, "4.7.0", "<%s>: %s rejected: defer_if_reject requested",
					restrict_list_name(q, k, name, sizeof(name)),
					restrict_list_class(k));
}

enum rule_status rule_permit_mynetworks(struct restrict_req *q, const struct rule *rule)
{
	bool temp = false;

	(void)rule;
	if (q->f->client_addr == NULL)
		return RULE_DUNNO;
	if (restrict_addr_in_mynetworks(q->r, q->f->client_addr, &temp))
		return RULE_OK;
	if (temp)
		return restrict_reply(q, 451, "4.3.0", "<%s>: Temporary lookup failure",
				      q->f->client_addr);
	return RULE_DUNNO;
}

enum rule_status rule_permit_sasl(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return q->f->sasl_username && q->f->sasl_username[0] ? RULE_OK : RULE_DUNNO;
}

enum rule_status rule_plaintext_session(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	if (q->f->tls)
		return RULE_DUNNO;
	return restrict_reply(q, q->r->plaintext_code, "4.7.1", "Session encryption is required");
}

enum rule_status rule_reject_unauth_pipelining(struct restrict_req *q, const struct rule *rule)
{
	enum restrict_list k = restrict_cur_kind(q);
	char name[300];

	(void)rule;
	if (!q->f->pipelining_violation)
		return RULE_DUNNO;
	return restrict_reply(q, 503, "5.5.0",
			      "<%s>: %s rejected: Improper use of SMTP command pipelining",
			      restrict_list_name(q, k, name, sizeof(name)), restrict_list_class(k));
}

/* An address in brackets or a bare IP address (Postfix accepts both as a
 * HELO "name"). */
static bool helo_is_address(const char *h)
{
	unsigned char b[16];
	char tmp[64];
	size_t n = strlen(h);

	if (n >= 2 && h[0] == '[' && h[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, h + 1, n - 2);
		tmp[n - 2] = '\0';
		if (strncasecmp(tmp, "IPv6:", 5) == 0)
			return inet_pton(AF_INET6, tmp + 5, b) == 1;
		return inet_pton(AF_INET, tmp, b) == 1 || inet_pton(AF_INET6, tmp, b) == 1;
	}
	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

/* Postfix valid_hostname(): letters, digits, '-', '_' in labels of at most
 * 63, no empty label, not all numeric, at most 255 octets. */
bool restrict_valid_hostname(const char *h)
{
	size_t len = strlen(h), label = 0;
	bool alpha = false;

	if (len > 0 && h[len - 1] == '.')
		len--;
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
			alpha = true;
		else if (c == '-') {
			if (label == 0)
				return false;
		} else if (!(c >= '0' && c <= '9'))
			return false;
		if (++label > 63)
			return false;
	}
	return alpha;
}

enum rule_status rule_invalid_helo(struct restrict_req *q, const struct rule *rule)
{
	const char *h = q->f->helo;

	(void)rule;
	if (h == NULL || helo_is_address(h) || restrict_valid_hostname(h))
		return RULE_DUNNO;
	return restrict_reply(q, q->r->invalid_hostname_code, "5.5.2",
			      "<%s>: Helo command rejected: Invalid name", h);
}

enum rule_status rule_non_fqdn_helo(struct restrict_req *q, const struct rule *rule)
{
	const char *h = q->f->helo;
	const char *dot;

	(void)rule;
	if (h == NULL || helo_is_address(h))
		return RULE_DUNNO;
	dot = strchr(h, '.');
	if (restrict_valid_hostname(h) && dot && dot[1] != '\0')
		return RULE_DUNNO;
	return restrict_reply(q, q->r->non_fqdn_code, "5.5.2",
			      "<%s>: Helo command rejected: need fully-qualified hostname", h);
}

/* The domain of address after the last '@' ("" if none). */
const char *restrict_addr_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at ? at + 1 : "";
}

static bool fqdn_address(const char *address)
{
	const char *d = restrict_addr_domain(address);
	const char *dot = strchr(d, '.');

	if (d[0] == '[')
		return true;
	return restrict_valid_hostname(d) && dot && dot[1] != '\0';
}

enum rule_status rule_non_fqdn_sender(struct restrict_req *q, const struct rule *rule)
{
	const char *s = q->f->sender;

	(void)rule;
	if (s == NULL || s[0] == '\0' || fqdn_address(s))
		return RULE_DUNNO;
	return restrict_reply(q, q->r->non_fqdn_code, "5.5.2",
			      "<%s>: Sender address rejected: need fully-qualified address", s);
}

enum rule_status rule_non_fqdn_recipient(struct restrict_req *q, const struct rule *rule)
{
	const char *s = q->f->recipient;

	(void)rule;
	if (s == NULL || s[0] == '\0' || fqdn_address(s))
		return RULE_DUNNO;
	return restrict_reply(q, q->r->non_fqdn_code, "5.5.2",
			      "<%s>: Recipient address rejected: need fully-qualified address", s);
}

enum rule_status rule_multi_recipient_bounce(struct restrict_req *q, const struct rule *rule)
{
	const struct restrict_facts *f = q->f;

	(void)rule;
	if (f->sender == NULL || f->sender[0] != '\0')
		return RULE_DUNNO;
	/* At RCPT, rcpt_count recipients were accepted before this one. */
	if (q->stage == RESTRICT_RCPT && f->rcpt_count >= 1)
		return restrict_reply(q, q->r->multi_bounce_code, "5.5.3",
				      "<%s>: Recipient address rejected: Multi-recipient bounce",
				      f->recipient ? f->recipient : "");
	if ((q->stage == RESTRICT_DATA || q->stage == RESTRICT_END_OF_DATA) && f->rcpt_count > 1)
		return restrict_reply(q, q->r->multi_bounce_code, "5.5.3",
				      "<DATA>: Data command rejected: Multi-recipient bounce");
	return RULE_DUNNO;
}
