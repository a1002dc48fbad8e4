/*
 * restrict-dnsbl.c - the restrictions that ask the DNS (postconf(5)):
 * reject_rbl_client, reject_rhsbl_{client,sender,helo,recipient},
 * reject_unknown_{helo_hostname,sender_domain,recipient_domain} and
 * reject_unknown_{,reverse_}client_hostname (their DNS work happened at
 * connect time, see dns_client_name()).
 *
 * A temporary DNS failure never rejects (Postfix: unknown_*_tempfail_action
 * = defer_if_permit; DNSBL look-ups that fail count as "not listed").
 * RFC 5782 describes DNSBL queries; RFC 7505 null MX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "restrict-private.h"
#include "util.h"

/* Does IPv4 answer a match filter (Postfix "d.n.s.bl=127.0.0.[2..11]",
 * each octet a number, [a..b] or [a;b;c])? */
static bool filter_octet(const char *pat, size_t plen, unsigned v)
{
	char buf[64];
	char *p, *end;

	if (plen == 0 || plen >= sizeof(buf))
		return false;
	memcpy(buf, pat, plen);
	buf[plen] = '\0';
	if (buf[0] != '[')
		return strtoul(buf, &end, 10) == v && *end == '\0';
	if (buf[plen - 1] != ']')
		return false;
	buf[plen - 1] = '\0';
	p = buf + 1;
	for (char *tok = strtok_r(p, ";", &end); tok; tok = strtok_r(NULL, ";", &end)) {
		char *dots = strstr(tok, "..");

		if (dots) {
			*dots = '\0';
			if (v >= strtoul(tok, NULL, 10) && v <= strtoul(dots + 2, NULL, 10))
				return true;
		} else if (strtoul(tok, NULL, 10) == v) {
			return true;
		}
	}
	return false;
}

static bool filter_match(const char *filter, const char *addr)
{
	unsigned o[4];
	const char *p = filter;

	if (sscanf(addr, "%u.%u.%u.%u", &o[0], &o[1], &o[2], &o[3]) != 4)
		return false;
	for (int i = 0; i < 4; i++) {
		const char *dot = p;

		/* a dot inside brackets (a..b) does not end the octet */
		while (*dot && *dot != '.')
			dot = *dot == '[' ? (strchr(dot, ']') ? strchr(dot, ']') + 1 : dot + strlen(dot))
					 : dot + 1;
		if (!filter_octet(p, (size_t)(dot - p), o[i]))
			return false;
		if (i < 3) {
			if (*dot != '.')
				return false;
			p = dot + 1;
		} else if (*dot != '\0') {
			return false;
		}
	}
	return true;
}

/* Is name listed in zone (arg "zone[=filter]")? DNS_FOUND (listed),
 * DNS_NOTFOUND, DNS_TEMPFAIL or -1 (pending). zone/qname get the names. */
static int dnsxl_listed(struct restrict_req *q, const struct rule *rule, const char *name,
			char *zone, size_t zsize, char *qname, size_t qsize)
{
	const char *eq = strchr(rule->arg, '='), *filter = eq ? eq + 1 : NULL;
	const struct restrict_cached *a;
	int st;

	str_copy(zone, rule->arg, zsize);
	if (eq && (size_t)(eq - rule->arg) < zsize)
		zone[eq - rule->arg] = '\0';
	restrict_fmt(qname, qsize, "%s.%s", name, zone);
	st = restrict_dns(q, qname, DNS_A, &a);
	if (st != DNS_FOUND)
		return st;
	for (size_t i = 0; i < a->n; i++)
		if (filter == NULL || filter_match(filter, a->rr[i]))
			return DNS_FOUND;
	return DNS_NOTFOUND;
}

/* The attributes of default_rbl_reply / rbl_reply_maps templates. */
struct rbl_vars {
	const struct restrict_req *q;
	const char *rbl_class, *what, *zone, *reason;
	char code[8], client[600], buf[600];
};

static const char *addr_part(const char *addr, bool local, char *buf, size_t size)
{
	const char *at;

	if (addr == NULL)
		return local ? "" : "";
	if (addr[0] == '\0')
		return local ? "<>" : "";
	at = strrchr(addr, '@');
	if (!local)
		return at ? at + 1 : "";
	str_copy(buf, addr, size);
	if (at && (size_t)(at - addr) < size)
		buf[at - addr] = '\0';
	return buf;
}

static const char *rbl_var(void *ctx, const char *name)
{
	struct rbl_vars *v = ctx;
	const struct restrict_facts *f = v->q->f;
	const char *s;

	if (strcmp(name, "rbl_code") == 0)
		return v->code;
	if (strcmp(name, "rbl_class") == 0)
		return v->rbl_class;
	if (strcmp(name, "rbl_what") == 0)
		return v->what;
	if (strcmp(name, "rbl_domain") == 0)
		return v->zone;
	if (strcmp(name, "rbl_reason") == 0)
		return v->reason;
	if (strcmp(name, "client") == 0)
		return v->client;
	if (strcmp(name, "client_address") == 0)
		return f->client_addr ? f->client_addr : "";
	if (strcmp(name, "client_name") == 0)
		return f->client_name ? f->client_name : "unknown";
	if (strcmp(name, "reverse_client_name") == 0)
		return f->reverse_client_name ? f->reverse_client_name : "unknown";
	if (strcmp(name, "helo_name") == 0)
		return f->helo ? f->helo : "";
	if (strcmp(name, "sender") == 0 || strcmp(name, "recipient") == 0) {
		s = name[0] == 's' ? f->sender : f->recipient;
		return s == NULL ? "" : s[0] ? s : "<>";
	}
	if (strcmp(name, "sender_domain") == 0)
		return addr_part(f->sender, false, NULL, 0);
	if (strcmp(name, "recipient_domain") == 0)
		return addr_part(f->recipient, false, NULL, 0);
	if (strcmp(name, "sender_name") == 0)
		return addr_part(f->sender, true, v->buf, sizeof(v->buf));
	if (strcmp(name, "recipient_name") == 0)
		return addr_part(f->recipient, true, v->buf, sizeof(v->buf));
	return NULL;
}

/* The reply for a listing: the template of rbl_reply_maps for zone, or
 * default_rbl_reply, expanded (postconf(5) default_rbl_reply). */
static enum rule_status rbl_reply(struct restrict_req *q, const char *rbl_class,
				  const char *what, const char *zone, const char *reason)
{
	struct rbl_vars v = { .q = q, .rbl_class = rbl_class, .what = what, .zone = zone,
			      .reason = reason };
	const char *tmpl = q->r->default_rbl_reply, *value = NULL, *err = NULL, *text;
	char out[512], dsn[16];
	int code;

	snprintf(v.code, sizeof(v.code), "%d", q->r->rbl_code);
	snprintf(v.client, sizeof(v.client), "%s[%s]",
		 q->f->client_name ? q->f->client_name : "unknown",
		 q->f->client_addr ? q->f->client_addr : "");
	if (q->r->rbl_reply_maps) {
		enum map_status ms = map_list_lookup(q->r->rbl_reply_maps, zone, &value, &err);

		if (ms == MAP_FOUND) {
			tmpl = value;
		} else if (ms == MAP_TEMPFAIL) {
			log_warn("restrictions: rbl_reply_maps: lookup of %s failed: %s", zone,
				 err ? err : "temporary failure");
			return restrict_reply(q, 451, "4.3.5", "Server configuration error");
		}
	}
	restrict_template_expand(tmpl, rbl_var, &v, out, sizeof(out));
	if (restrict_reply_split(out, &code, dsn, sizeof(dsn), &text) < 0) {
		/* Postfix: a template must start with a 4xx/5xx code; else a
		 * generic temporary reply, so nothing is lost to a typo. */
		log_warn("restrictions: reply template for %s does not start with a 4xx or 5xx "
			 "code and a space: \"%s\"; fix rbl_reply_maps or default_rbl_reply",
			 zone, out);
		return restrict_reply(q, 450, "4.7.1", "Service unavailable");
	}
	if (dsn[0] == '\0')
		str_copy(dsn, code >= 500 ? "5.7.1" : "4.7.1", sizeof(dsn));
	return restrict_reply(q, code, dsn, "%s", *text ? text : "Service unavailable");
}

/* Look name up in zone (arg "zone[=filter]"); on a listing reply with the
 * template (rbl_reply). A failed look-up counts as not listed (Postfix:
 * "give the requestor the benefit of the doubt"). */
static enum rule_status dnsbl(struct restrict_req *q, const struct rule *rule, const char *name,
			      const char *rbl_class, const char *what)
{
	char zone[256], qname[600], reason[501] = "";
	const struct restrict_cached *t;
	int st = dnsxl_listed(q, rule, name, zone, sizeof(zone), qname, sizeof(qname));

	if (st < 0)
		return RULE_PENDING;
	if (st != DNS_FOUND)
		return RULE_DUNNO;
	st = restrict_dns(q, qname, DNS_TXT, &t);
	if (st < 0)
		return RULE_PENDING;
	if (st == DNS_FOUND && t->n > 0) {
		char joined[501];
		struct strbuf sb;

		/* Postfix joins the TXT records with " / ", up to 500 bytes. */
		strbuf_init(&sb, sizeof(joined) - 1);
		for (size_t i = 0; i < t->n; i++) {
			if (i > 0 && strbuf_puts(&sb, " / ") < 0)
				break;
			if (strbuf_puts(&sb, t->rr[i]) < 0)
				break;
		}
		str_copy(joined, sb.data ? sb.data : "", sizeof(joined));
		strbuf_free(&sb);
		restrict_clean_text(reason, sizeof(reason), joined);
	}
	return rbl_reply(q, rbl_class, what, zone, reason);
}

enum rule_status rule_rbl_client(struct restrict_req *q, const struct rule *rule)
{
	char rev[80];
	char *suffix;

	if (q->f->client_addr == NULL || dns_reverse_name(q->f->client_addr, rev, sizeof(rev)) < 0)
		return RULE_DUNNO;
	suffix = strstr(rev, ".in-addr.arpa");
	if (suffix == NULL)
		suffix = strstr(rev, ".ip6.arpa");
	if (suffix)
		*suffix = '\0';
	return dnsbl(q, rule, rev, "Client host", q->f->client_addr);
}

/* permit_dnswl_client / permit_rhswl_client: an allow list, but never for
 * a recipient this server may not relay to (Postfix's safety rule); a
 * failed look-up turns a later reject into 450 (defer_if_reject). */
static enum rule_status dnswl(struct restrict_req *q, const struct rule *rule, const char *name)
{
	char zone[256], qname[600];
	struct addr_resolved res;
	int st;

	if (q->stage == RESTRICT_RCPT && q->f->recipient &&
	    (restrict_resolve(q->r, q->f->recipient, &res) < 0 ||
	     res.cls == ADDR_DEFAULT || (res.cls == ADDR_RELAY && res.routed)))
		return RULE_DUNNO;
	st = dnsxl_listed(q, rule, name, zone, sizeof(zone), qname, sizeof(qname));
	if (st < 0)
		return RULE_PENDING;
	if (st == DNS_FOUND)
		return RULE_OK;
	if (st == DNS_TEMPFAIL)
		return restrict_defer_if_reject(q, 450, "4.7.1", "<%s>: %s rejected: Service unavailable",
						name, restrict_list_class(RLIST_CLIENT));
	return RULE_DUNNO;
}

enum rule_status rule_dnswl_client(struct restrict_req *q, const struct rule *rule)
{
	char rev[80];
	char *suffix;

	if (q->f->client_addr == NULL || dns_reverse_name(q->f->client_addr, rev, sizeof(rev)) < 0)
		return RULE_DUNNO;
	suffix = strstr(rev, ".in-addr.arpa");
	if (suffix == NULL)
		suffix = strstr(rev, ".ip6.arpa");
	if (suffix)
		*suffix = '\0';
	return dnswl(q, rule, rev);
}

enum rule_status rule_rhswl_client(struct restrict_req *q, const struct rule *rule)
{
	const char *n = q->f->client_name;

	if (n == NULL || strcmp(n, "unknown") == 0)
		return RULE_DUNNO;
	return dnswl(q, rule, n);
}

enum rule_status rule_rhsbl_client(struct restrict_req *q, const struct rule *rule)
{
	const char *n = q->f->client_name;

	if (strcmp(rule->def->name, "reject_rhsbl_reverse_client") == 0)
		n = q->f->reverse_client_name;
	if (n == NULL || strcmp(n, "unknown") == 0)
		return RULE_DUNNO;
	return dnsbl(q, rule, n, "Client host", n);
}

enum rule_status rule_rhsbl_helo(struct restrict_req *q, const struct rule *rule)
{
	const char *h = q->f->helo;

	if (h == NULL || !restrict_valid_hostname(h))
		return RULE_DUNNO;
	return dnsbl(q, rule, h, "Helo command", h);
}

enum rule_status rule_rhsbl_sender(struct restrict_req *q, const struct rule *rule)
{
	const char *d;

	if (q->f->sender == NULL || q->f->sender[0] == '\0')
		return RULE_DUNNO;
	d = restrict_addr_domain(q->f->sender);
	if (!restrict_valid_hostname(d))
		return RULE_DUNNO;
	return dnsbl(q, rule, d, "Sender address", d);
}

enum rule_status rule_rhsbl_recipient(struct restrict_req *q, const struct rule *rule)
{
	const char *d;

	if (q->f->recipient == NULL)
		return RULE_DUNNO;
	d = restrict_addr_domain(q->f->recipient);
	if (!restrict_valid_hostname(d))
		return RULE_DUNNO;
	return dnsbl(q, rule, d, "Recipient address", d);
}

/* Does name have an A, AAAA or MX record? FOUND / NOTFOUND / TEMPFAIL or
 * -1 (pending). mx_first: MX, then A and AAAA (mail domains). *null_mx_r:
 * the only MX is "." (RFC 7505). */
static int name_exists(struct restrict_req *q, const char *name, bool mx_first, bool *null_mx_r)
{
	static const enum dns_type host_order[] = { DNS_A, DNS_AAAA, DNS_MX };
	static const enum dns_type mail_order[] = { DNS_MX, DNS_A, DNS_AAAA };
	const enum dns_type *order = mx_first ? mail_order : host_order;
	bool temp = false;

	*null_mx_r = false;
	for (int i = 0; i < 3; i++) {
		const struct restrict_cached *c;
		int st = restrict_dns(q, name, order[i], &c);

		if (st < 0)
			return -1;
		if (st == DNS_FOUND) {
			if (order[i] == DNS_MX && c->n == 1 && c->rr[0][0] == '\0')
				*null_mx_r = true;
			return DNS_FOUND;
		}
		if (st == DNS_TEMPFAIL)
			temp = true;
	}
	return temp ? DNS_TEMPFAIL : DNS_NOTFOUND;
}

enum rule_status rule_unknown_helo(struct restrict_req *q, const struct rule *rule)
{
	const char *h = q->f->helo;
	bool null_mx;
	int st;

	(void)rule;
	if (h == NULL || h[0] == '[' || !restrict_valid_hostname(h))
		return RULE_DUNNO; /* reject_invalid_helo_hostname's business */
	st = name_exists(q, h, false, &null_mx);
	if (st < 0)
		return RULE_PENDING;
	if (st == DNS_FOUND)
		return RULE_DUNNO;
	if (st == DNS_TEMPFAIL)
		return restrict_defer_if_permit(q, 450, "4.7.1",
						"<%s>: Helo command rejected: Host not found", h);
	return restrict_reply(q, q->r->unknown_hostname_code, "4.7.1",
			      "<%s>: Helo command rejected: Host not found", h);
}

static enum rule_status unknown_domain(struct restrict_req *q, const char *address, bool sender)
{
	const char *cls = sender ? "Sender address" : "Recipient address";
	const char *dsn = sender ? "4.1.8" : "4.1.2";
	struct addr_resolved res;
	const char *d;
	bool null_mx;
	int st;

	if (address == NULL || address[0] == '\0')
		return RULE_DUNNO;
	d = restrict_addr_domain(address);
	if (d[0] == '\0' || d[0] == '[')
		return RULE_DUNNO;
	/* Our own domains need no DNS. */
	if (restrict_resolve(q->r, address, &res) == 0 && res.cls != ADDR_DEFAULT &&
	    res.cls != ADDR_RELAY)
		return RULE_DUNNO;
	st = name_exists(q, d, true, &null_mx);
	if (st < 0)
		return RULE_PENDING;
	if (st == DNS_FOUND && !null_mx)
		return RULE_DUNNO;
	/* RFC 7505 3.3 / RFC 7372: 550 5.7.27 for senders, 556 5.1.10 for
	 * recipients (Postfix's wording). */
	if (null_mx)
		return restrict_reply(q, sender ? 550 : 556, sender ? "5.7.27" : "5.1.10",
				      "<%s>: %s rejected: Domain %s does not accept mail (nullMX)",
				      address, cls, d);
	if (st == DNS_TEMPFAIL)
		return restrict_defer_if_permit(q, 450, dsn, "<%s>: %s rejected: Domain not found",
						address, cls);
	return restrict_reply(q, q->r->unknown_address_code, dsn,
			      "<%s>: %s rejected: Domain not found", address, cls);
}

enum rule_status rule_unknown_sender_domain(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return unknown_domain(q, q->f->sender, true);
}

enum rule_status rule_unknown_recipient_domain(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return unknown_domain(q, q->f->recipient, false);
}

enum rule_status rule_unknown_client(struct restrict_req *q, const struct rule *rule)
{
	const struct restrict_facts *f = q->f;

	(void)rule;
	if (f->client_addr == NULL || f->client_name == NULL ||
	    strcmp(f->client_name, "unknown") != 0)
		return RULE_DUNNO;
	/* A temporary failure answers 450 at once (Postfix does the same).
	 * 4.7.25: RFC 7372 "Reverse DNS validation failed", as Postfix 3.x. */
	return restrict_reply(q, f->client_name_tempfail ? 450 : q->r->unknown_client_code, "4.7.25",
			      "Client host rejected: cannot find your hostname, [%s]",
			      f->client_addr);
}

enum rule_status rule_unknown_reverse_client(struct restrict_req *q, const struct rule *rule)
{
	const struct restrict_facts *f = q->f;

	(void)rule;
	if (f->client_addr == NULL || f->reverse_client_name == NULL ||
	    strcmp(f->reverse_client_name, "unknown") != 0)
		return RULE_DUNNO;
	return restrict_reply(q, f->reverse_client_name_tempfail ? 450 : q->r->unknown_client_code,
			      "4.7.1",
			      "Client host rejected: cannot find your reverse hostname, [%s]",
			      f->client_addr);
}
