/*
 * contract-fallback.c - stand-ins for the restrictions branch's code
 * (smtp/address.h, smtp/restrict.h, smtp/content-checks.h, lib/dns.h)
 * while that branch has only committed its headers. Each block compiles
 * only when the real implementation file is absent (__has_include), so
 * merging the restrictions branch replaces it without any edit here;
 * once everything is merged this file compiles to nothing and can go.
 *
 * What the stand-ins do: a small RFC 5321 path parser; Postfix's default
 * relay policy only (permit_mynetworks for loopback,
 * permit_sasl_authenticated, mydestination as the local domains,
 * defer_unauth_destination: "454 4.7.1 <rcpt>: Relay access denied");
 * no header/body checks; no DNS (client names stay "unknown").
 */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "smtp/address.h"
#include "smtp/content-checks.h"
#include "smtp/restrict.h"
#include "dns.h"
#include "util.h"

/* Nothing here if every real file exists; ISO C wants at least one declaration. */
typedef int contract_fallback_unused;

#if !__has_include("address.c")
int smtp_address_parse(const char *text, size_t len, unsigned flags,
		       struct smtp_address *out, const char **reply_r)
{
	const char *bad = (flags & SMTP_ADDR_RCPT) ? "501 5.1.3 Bad recipient address syntax"
						    : "501 5.1.7 Bad sender address syntax";
	memset(out, 0, sizeof(*out));
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len >= 2 && text[0] == '<' && text[len - 1] == '>') {
		text++;
		len -= 2;
	} else if (flags & SMTP_ADDR_STRICT) {
		*reply_r = bad;
		return -1;
	}
	if (len > SMTP_ADDR_PATH_MAX) {
		*reply_r = (flags & SMTP_ADDR_RCPT) ? "553 5.1.3 Recipient address too long"
						    : "553 5.1.7 Sender address too long";
		return -1;
	}
	/* source route: drop "@a,@b:" */
	if (len > 0 && text[0] == '@') {
		const char *colon = memchr(text, ':', len);
		if (colon == NULL) {
			*reply_r = bad;
			return -1;
		}
		len -= (size_t)(colon + 1 - text);
		text = colon + 1;
		out->had_route = true;
	}
	if (len == 0) {
		if (!(flags & SMTP_ADDR_ALLOW_NULL)) {
			*reply_r = bad;
			return -1;
		}
		out->null = true;
	}
	const char *at = NULL;
	bool quoted = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 33 && !(quoted && c == ' ')) {
			*reply_r = bad;
			return -1;
		}
		if (c == 127 || (c >= 128 && !(flags & SMTP_ADDR_SMTPUTF8))) {
			*reply_r = bad;
			return -1;
		}
		if (c >= 128)
			out->utf8 = true;
		if (c == '"')
			quoted = !quoted;
		else if (c == '@' && !quoted)
			at = text + i;
	}
	out->raw = strndup(text, len);
	out->local = strndup(text, at ? (size_t)(at - text) : len);
	out->domain = at ? strndup(at + 1, len - (size_t)(at + 1 - text)) : strdup("");
	if (!out->raw || !out->local || !out->domain) {
		smtp_address_free(out);
		*reply_r = "451 4.3.0 Error: out of memory";
		return -1;
	}
	str_lower(out->domain);
	size_t dl = strlen(out->domain);
	if (dl > 0 && out->domain[dl - 1] == '.')
		out->domain[dl - 1] = '\0';
	if (at && (out->domain[0] == '\0' || out->local[0] == '\0')) {
		smtp_address_free(out);
		*reply_r = bad;
		return -1;
	}
	return 0;
}

char *smtp_address_text(const struct smtp_address *a)
{
	char *s = NULL;

	if (a->null)
		return strdup("");
	if (a->domain && *a->domain) {
		if (asprintf(&s, "%s@%s", a->local, a->domain) < 0)
			return NULL;
		return s;
	}
	return strdup(a->local ? a->local : "");
}

void smtp_address_free(struct smtp_address *a)
{
	free(a->raw);
	free(a->local);
	free(a->domain);
	memset(a, 0, sizeof(*a));
}
#endif

#if !__has_include("restrict.c")
struct restrictions {
	const char *const *mydestination;
};

struct restrictions *restrictions_new(const struct config *view, struct event_base *base, char **error_r)
{
	struct restrictions *r = calloc(1, sizeof(*r));

	(void)base;
	if (r == NULL) {
		*error_r = strdup("out of memory");
		return NULL;
	}
	r->mydestination = config_list(view, "mydestination", NULL);
	return r;
}

static bool local_domain(const struct restrictions *r, const char *domain)
{
	for (const char *const *d = r->mydestination; d && *d; d++)
		if (strcasecmp(*d, domain) == 0)
			return true;
	return false;
}

struct restrict_req *restrict_check(struct restrictions *r, enum restrict_stage stage,
				    const struct restrict_facts *f, restrict_done_fn *done, void *ctx)
{
	struct restrict_result res;

	memset(&res, 0, sizeof(res));
	res.action = RESTRICT_CONTINUE;
	if (stage == RESTRICT_RCPT && f->recipient_addr) {
		bool mynet = f->client_addr && (strncmp(f->client_addr, "127.", 4) == 0 ||
						strcmp(f->client_addr, "::1") == 0);
		if (!mynet && !f->sasl_username && !local_domain(r, f->recipient_addr->domain)) {
			res.action = RESTRICT_DEFER;
			snprintf(res.reply, sizeof(res.reply), "454 4.7.1 <%s>: Relay access denied",
				 f->recipient ? f->recipient : "");
		}
	}
	done(ctx, &res);
	return NULL;
}

void restrict_cancel(struct restrict_req **req)
{
	*req = NULL;
}

void restrictions_free(struct restrictions **r)
{
	x_free(r);
}

struct dns *restrictions_dns(struct restrictions *r)
{
	(void)r;
	return NULL;
}

void restrictions_set_userdb(struct restrictions *r, restrict_userdb_lookup_fn *lookup,
			     restrict_userdb_cancel_fn *cancel, void *ctx)
{
	(void)r;
	(void)lookup;
	(void)cancel;
	(void)ctx;
}
#endif

#if !__has_include("content-checks.c")
struct content_checks {
	int unused;
};

struct content_checks *content_checks_new(const struct config *view, char **error_r)
{
	struct content_checks *cc = calloc(1, sizeof(*cc));

	(void)view;
	if (cc == NULL)
		*error_r = strdup("out of memory");
	return cc;
}

void content_checks_free(struct content_checks **cc)
{
	x_free(cc);
}

int content_checks_header(struct content_checks *cc, const char *line, size_t len,
			  struct restrict_result *out, const char **text_r)
{
	(void)cc;
	(void)line;
	(void)len;
	(void)out;
	*text_r = NULL;
	return CONTENT_LINE_KEEP;
}

int content_checks_body_line(struct content_checks *cc, const char *line, size_t len,
			     struct restrict_result *out, const char **text_r)
{
	return content_checks_header(cc, line, len, out, text_r);
}
#endif

#if !__has_include("dns-client-name.c")
struct dns_client_name_req *dns_client_name(struct dns *d, const char *addr,
					    dns_client_name_cb *cb, void *ctx)
{
	(void)d;
	(void)addr;
	(void)cb;
	(void)ctx;
	return NULL;
}

void dns_client_name_cancel(struct dns_client_name_req **req)
{
	*req = NULL;
}
#endif
