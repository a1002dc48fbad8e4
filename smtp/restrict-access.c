/*
 * restrict-access.c - check_client_access, check_reverse_client_hostname_access,
 * check_helo_access, check_sender_access, check_recipient_access,
 * check_sasl_access, the _a/_mx/_ns_access forms (look-ups of the host's
 * addresses, mail exchangers or name servers), and the
 * access(5) actions of their results: OK, all-numeric, REJECT [text],
 * DEFER [text], DEFER_IF_REJECT, DEFER_IF_PERMIT, 4NN/5NN text, DISCARD,
 * HOLD, REDIRECT addr, RELAY, DUNNO, WARN/INFO, and any restriction list
 * (rules and restriction class names) evaluated in place.
 *
 * Look-up keys follow access(5) "EMAIL ADDRESS PATTERNS", "HOST NAME/ADDRESS
 * PATTERNS" with parent_domain_matches_subdomains containing
 * smtpd_access_maps (Postfix's default).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "restrict-private.h"
#include "util.h"

static bool is_pattern_table(const struct map *m)
{
	const char *t = map_type(m);

	return strcmp(t, "regexp") == 0 || strcmp(t, "pcre") == 0 || strcmp(t, "cidr") == 0;
}

/* Optional "X.Y.Z " DSN at the start of text (access(5)). */
static const char *take_dsn(const char *text, char *dsn, size_t size, const char *def)
{
	const char *p = text;

	if (p[0] >= '2' && p[0] <= '5' && p[1] == '.' && isdigit((unsigned char)p[2])) {
		size_t n = strspn(p, "0123456789.");

		if (n < size && (p[n] == ' ' || p[n] == '\0')) {
			memcpy(dsn, p, n);
			dsn[n] = '\0';
			p += n;
			while (*p == ' ')
				p++;
			return p;
		}
	}
	str_copy(dsn, def, size);
	return text;
}

/* Apply one access(5) result; what is the looked-up thing (for replies),
 * source the table or policy service that gave it (for logs). */
enum rule_status restrict_access_action(struct restrict_req *q, const char *source,
					enum restrict_list kind, const char *what,
					const char *value)
{
	const char *cls = restrict_list_class(kind);
	char word[32], dsn[16];
	const char *text;
	size_t n;

	text = restrict_action_split(value, word, sizeof(word), &n);

	if (n == 3 && (word[0] == '4' || word[0] == '5') && isdigit((unsigned char)word[1]) &&
	    isdigit((unsigned char)word[2])) {
		int code = atoi(word);

		text = take_dsn(text, dsn, sizeof(dsn), code >= 500 ? "5.7.1" : "4.7.1");
		return restrict_reply(q, code, dsn, "<%s>: %s rejected: %s", what, cls,
				      *text ? text : "Access denied");
	}
	if (n > 0 && strspn(word, "0123456789") == n)
		return RULE_OK; /* access(5): an all-numeric result means OK */
	if (strcasecmp(word, "OK") == 0 || strcasecmp(word, "RELAY") == 0)
		return RULE_OK;
	if (strcasecmp(word, "DUNNO") == 0)
		return RULE_DUNNO;
	if (strcasecmp(word, "REJECT") == 0) {
		text = take_dsn(text, dsn, sizeof(dsn), "5.7.1");
		return restrict_reply(q, q->r->access_reject_code, dsn, "<%s>: %s rejected: %s",
				      what, cls, *text ? text : "Access denied");
	}
	if (strcasecmp(word, "DEFER") == 0) {
		text = take_dsn(text, dsn, sizeof(dsn), "4.7.1");
		return restrict_reply(q, q->r->access_defer_code, dsn, "<%s>: %s rejected: %s",
				      what, cls, *text ? text : "Access denied");
	}
	if (strcasecmp(word, "DEFER_IF_PERMIT") == 0) {
		text = take_dsn(text, dsn, sizeof(dsn), "4.7.1");
		return restrict_defer_if_permit(q, q->r->access_defer_code, dsn, "<%s>: %s rejected: %s", what, cls,
						*text ? text : "Service unavailable");
	}
	if (strcasecmp(word, "DEFER_IF_REJECT") == 0) {
		text = take_dsn(text, dsn, sizeof(dsn), "4.7.1");
		return restrict_defer_if_reject(q, q->r->access_defer_code, dsn, "<%s>: %s rejected: %s",
						what, cls, *text ? text : "Service unavailable");
	}
	if (strcasecmp(word, "DISCARD") == 0) {
		q->discard = true;
		restrict_fmt(q->hold_log, sizeof(q->hold_log), "discard: %s: %s", what,
			     *text ? text : "triggers DISCARD action");
		log_info("restrictions: %s", q->hold_log);
		return RULE_OK;
	}
	if (strcasecmp(word, "HOLD") == 0) {
		q->hold = true;
		restrict_fmt(q->hold_log, sizeof(q->hold_log), "hold: %s: %s", what,
			     *text ? text : "triggers HOLD action");
		log_info("restrictions: %s", q->hold_log);
		return RULE_DUNNO;
	}
	if (strcasecmp(word, "REDIRECT") == 0) {
		if (strchr(text, '@') == NULL || strlen(text) >= sizeof(q->redirect) ||
		    strpbrk(text, " \t")) {
			log_warn("restrictions: %s: entry \"%s\": REDIRECT needs a user@domain target; "
				 "ignored", source, value);
			return RULE_DUNNO;
		}
		restrict_clean_text(q->redirect, sizeof(q->redirect), text);
		return RULE_DUNNO;
	}
	if (strcasecmp(word, "WARN") == 0 || strcasecmp(word, "INFO") == 0) {
		log_info("restrictions: %s: %s: %s", strcasecmp(word, "WARN") == 0 ? "warning" : "info",
			 what, text);
		return RULE_DUNNO;
	}
	if (strcasecmp(word, "PREPEND") == 0 || strcasecmp(word, "FILTER") == 0 ||
	    strcasecmp(word, "BCC") == 0) {
		log_warn("restrictions: %s: action %s is not supported in access tables; ignored",
			 source, word);
		return RULE_DUNNO;
	}
	/* Tables inside access tables would be opened for every look-up from
	 * a value anyone who can write the table chooses: Postfix refuses
	 * them too ("define a restriction class and specify its name"). */
	if (strchr(value, ':') != NULL) {
		log_warn("restrictions: access table %s has an entry with a lookup table: %s; "
			 "define a restriction class and use its name instead",
			 source, value);
		return restrict_reply(q, 451, "4.3.5", "Server configuration error");
	}
	if (*value == '\0')
		return RULE_OK; /* the dark ages: an empty value meant OK */
	/* Anything else must be a restriction list (rules, class names). */
	{
		struct rule_list *l = must_calloc(1, sizeof(*l));
		char *err = NULL;

		if (restrict_parse_list(q->r, source, value, l, &err) < 0) {
			log_warn("restrictions: %s: result \"%s\" for %s: %s", source,
				 value, what, err);
			free(err);
			free(l);
			return restrict_reply(q, 451, "4.3.5", "Server configuration error");
		}
		return restrict_push(q, l, l, kind);
	}
}

/* Look key up; FOUND runs the action. *hit_r tells whether it was found. */
static enum rule_status try_key(struct restrict_req *q, const struct rule *rule,
				enum restrict_list kind, const char *what, const char *key,
				bool address, bool *hit_r)
{
	const char *value = NULL, *err = NULL;
	enum map_status st;
	char *copy;
	enum rule_status rs;

	*hit_r = false;
	if (address)
		st = map_lookup_address(rule->map, key,
					MAP_ADDR_ACCESS | MAP_ADDR_PARENT_MATCHES_SUBDOMAINS,
					&value, &err);
	else
		st = map_lookup(rule->map, key, &value, &err);
	if (st == MAP_NOTFOUND)
		return RULE_DUNNO;
	*hit_r = true;
	if (st == MAP_TEMPFAIL) {
		log_warn("restrictions: %s: lookup of %s failed: %s", map_spec(rule->map), key,
			 err ? err : "temporary failure");
		return restrict_reply(q, 451, "4.3.5", "<%s>: %s rejected: Server configuration error",
				      what, restrict_list_class(kind));
	}
	copy = must_strdup(value);
	rs = restrict_access_action(q, map_spec(rule->map), kind, what, copy);
	free(copy);
	return rs;
}

/* Host name: the name, then its parent domains (indexed tables only). */
static enum rule_status check_hostname(struct restrict_req *q, const struct rule *rule,
				       enum restrict_list kind, const char *what,
				       const char *name, bool *hit_r)
{
	enum rule_status st = try_key(q, rule, kind, what, name, false, hit_r);
	const char *p = name;

	if (*hit_r || is_pattern_table(rule->map))
		return st;
	while ((p = strchr(p, '.')) != NULL && p[1]) {
		p++;
		st = try_key(q, rule, kind, what, p, false, hit_r);
		if (*hit_r)
			return st;
	}
	return RULE_DUNNO;
}

/* Client address: "1.2.3.4", then "1.2.3", "1.2", "1" (IPv6 by ':'). */
static enum rule_status check_hostaddr(struct restrict_req *q, const struct rule *rule,
				       enum restrict_list kind, const char *what,
				       const char *addr, bool *hit_r)
{
	char buf[INET6_ADDRSTRLEN + 8];
	enum rule_status st = try_key(q, rule, kind, what, addr, false, hit_r);
	char sep = strchr(addr, ':') ? ':' : '.';

	if (*hit_r || is_pattern_table(rule->map))
		return st;
	str_copy(buf, addr, sizeof(buf));
	for (char *cut = strrchr(buf, sep); cut; cut = strrchr(buf, sep)) {
		*cut = '\0';
		if (buf[0] == '\0')
			break;
		st = try_key(q, rule, kind, what, buf, false, hit_r);
		if (*hit_r)
			return st;
	}
	return RULE_DUNNO;
}

static enum rule_status client_access(struct restrict_req *q, const struct rule *rule,
				      const char *name)
{
	const struct restrict_facts *f = q->f;
	char what[300];
	bool hit = false;
	enum rule_status st;

	restrict_list_name(q, RLIST_CLIENT, what, sizeof(what));
	if (name && strcmp(name, "unknown") != 0) {
		st = check_hostname(q, rule, RLIST_CLIENT, what, name, &hit);
		if (hit)
			return st;
	}
	if (f->client_addr)
		return check_hostaddr(q, rule, RLIST_CLIENT, what, f->client_addr, &hit);
	return RULE_DUNNO;
}

enum rule_status rule_client_access(struct restrict_req *q, const struct rule *rule)
{
	return client_access(q, rule, q->f->client_name);
}

enum rule_status rule_reverse_client_access(struct restrict_req *q, const struct rule *rule)
{
	const char *n = q->f->reverse_client_name;
	char what[300];
	bool hit;

	if (n == NULL || strcmp(n, "unknown") == 0)
		return RULE_DUNNO;
	restrict_list_name(q, RLIST_CLIENT, what, sizeof(what));
	return check_hostname(q, rule, RLIST_CLIENT, what, n, &hit);
}

enum rule_status rule_helo_access(struct restrict_req *q, const struct rule *rule)
{
	bool hit;

	if (q->f->helo == NULL)
		return RULE_DUNNO;
	return check_hostname(q, rule, RLIST_HELO, q->f->helo, q->f->helo, &hit);
}

enum rule_status rule_sender_access(struct restrict_req *q, const struct rule *rule)
{
	const char *s = q->f->sender;
	bool hit;

	if (s == NULL)
		return RULE_DUNNO;
	/* smtpd_null_access_lookup_key: the null sender is looked up as "<>". */
	return try_key(q, rule, RLIST_SENDER, s, s[0] ? s : "<>", true, &hit);
}

enum rule_status rule_recipient_access(struct restrict_req *q, const struct rule *rule)
{
	const char *r = q->f->recipient;
	bool hit;

	struct addr_resolved res;
	enum rule_status st;

	if (r == NULL)
		return RULE_DUNNO;
	st = try_key(q, rule, RLIST_RECIPIENT, r, r, true, &hit);
	/* An OK/RELAY for a source-routed recipient (user%other@ours) would
	 * open a relay: Postfix's check_mail_access turns it into DUNNO. */
	if (st == RULE_OK && !q->r->untrusted_routing &&
	    (restrict_resolve(q->r, r, &res) < 0 || res.routed))
		return RULE_DUNNO;
	return st;
}

/* check_sasl_access: the SASL login name as the key (postconf(5));
 * nothing to look up for a client that did not authenticate. */
enum rule_status rule_sasl_access(struct restrict_req *q, const struct rule *rule)
{
	const char *u = q->f->sasl_username;
	char what[300];
	bool hit;

	if (u == NULL || u[0] == '\0')
		return RULE_DUNNO;
	restrict_list_name(q, RLIST_SASL, what, sizeof(what));
	return try_key(q, rule, RLIST_SASL, what, u, false, &hit);
}

/* ---- check_*_{a,mx,ns}_access (postconf(5)) ---- */

#define SERVER_MAX_HOSTS 10

/* The addresses (A, AAAA) of host against the table. PENDING while a
 * look-up runs; *hit_r when an entry matched. */
static enum rule_status server_addrs(struct restrict_req *q, const struct rule *rule,
				     enum restrict_list kind, const char *what,
				     const char *host, bool *hit_r)
{
	static const enum dns_type types[] = { DNS_A, DNS_AAAA };

	*hit_r = false;
	for (size_t t = 0; t < 2; t++) {
		const struct restrict_cached *c;
		int st = restrict_dns(q, host, types[t], &c);

		if (st < 0)
			return RULE_PENDING;
		for (size_t i = 0; st == DNS_FOUND && i < c->n; i++) {
			enum rule_status rs = check_hostaddr(q, rule, kind, what, c->rr[i], hit_r);

			if (*hit_r)
				return rs;
		}
	}
	return RULE_DUNNO;
}

/* Postfix's check_server_access: the A records of name, or its MX hosts,
 * or its name servers (walking up to the parent domain while there are
 * none), each host by name and then by address. A failed look-up skips
 * the rule, with a warning (Postfix). */
static enum rule_status server_access(struct restrict_req *q, const struct rule *rule,
				      enum restrict_list kind, const char *what,
				      const char *name, enum dns_type type)
{
	const struct restrict_cached *c = NULL;
	const char *hosts[SERVER_MAX_HOSTS];
	size_t nhosts = 0;
	enum rule_status rs = RULE_DUNNO;
	bool hit = false;
	int st;

	if (name == NULL || name[0] == '\0' || strcmp(name, "unknown") == 0)
		return RULE_DUNNO;
	/* An address ([192.0.2.1] domain literal, bare address HELO) is its
	 * own server: only the address is looked up. */
	{
		char lit[INET6_ADDRSTRLEN + 8];
		unsigned char bin[16];
		size_t n = strlen(name);
		const char *a = name;

		if (name[0] == '[' && n >= 2 && name[n - 1] == ']' && n - 2 < sizeof(lit)) {
			memcpy(lit, name + 1, n - 2);
			lit[n - 2] = '\0';
			a = strncasecmp(lit, "IPv6:", 5) == 0 ? lit + 5 : lit;
		}
		if (inet_pton(AF_INET, a, bin) == 1 || inet_pton(AF_INET6, a, bin) == 1) {
			rs = check_hostaddr(q, rule, kind, what, a, &hit);
			return hit ? rs : RULE_DUNNO;
		}
	}
	if (!restrict_valid_hostname(name))
		return RULE_DUNNO;
	if (type == DNS_A) {
		hosts[nhosts++] = name;
	} else {
		const char *zone = name;

		for (;;) {
			st = restrict_dns(q, zone, type, &c);
			if (st < 0)
				return RULE_PENDING;
			if (st == DNS_TEMPFAIL) {
				/* Postfix logs and skips the table (no 4xx). */
				log_warn("restrictions: unable to look up %s host for %s: temporary "
					 "DNS failure", dns_type_name(type), zone);
				return RULE_DUNNO;
			}
			if (st == DNS_FOUND)
				break;
			/* no MX: the domain is its own mail host (RFC 5321 5.1);
			 * no NS: the zone is a parent's (Postfix walks up). */
			if (type == DNS_MX) {
				hosts[nhosts++] = name;
				c = NULL;
				break;
			}
			zone = strchr(zone, '.');
			if (zone == NULL || strchr(++zone, '.') == NULL)
				return RULE_DUNNO;
		}
		for (size_t i = 0; c && i < c->n && nhosts < SERVER_MAX_HOSTS; i++)
			if (c->rr[i][0] != '\0') /* a null MX names no host */
				hosts[nhosts++] = c->rr[i];
	}
	for (size_t i = 0; i < nhosts; i++) {
		if (type != DNS_A) {
			rs = check_hostname(q, rule, kind, what, hosts[i], &hit);
			if (hit)
				break;
		}
		rs = server_addrs(q, rule, kind, what, hosts[i], &hit);
		if (rs == RULE_PENDING || hit)
			break;
	}
	if (rs == RULE_OK && type != DNS_A) {
		log_warn("restrictions: %s: OK is not allowed for %s host look-ups (a spammer "
			 "picks its own MX and NS hosts); use DUNNO", map_spec(rule->map),
			 dns_type_name(type));
		return RULE_DUNNO;
	}
	return hit || rs == RULE_PENDING ? rs : RULE_DUNNO;
}

enum rule_status rule_server_access(struct restrict_req *q, const struct rule *rule)
{
	const char *n = rule->def->name, *name;
	const struct restrict_facts *f = q->f;
	enum restrict_list kind;
	enum dns_type type = strstr(n, "_mx_access") ? DNS_MX :
		strstr(n, "_ns_access") ? DNS_NS : DNS_A;
	char what[300];

	if (strncmp(n, "check_client_", 13) == 0) {
		kind = RLIST_CLIENT;
		name = f->client_name;
	} else if (strncmp(n, "check_reverse_client_hostname_", 30) == 0) {
		kind = RLIST_CLIENT;
		name = f->reverse_client_name;
	} else if (strncmp(n, "check_helo_", 11) == 0) {
		kind = RLIST_HELO;
		name = f->helo;
	} else if (strncmp(n, "check_sender_", 13) == 0) {
		kind = RLIST_SENDER;
		name = f->sender && f->sender[0] ? restrict_addr_domain(f->sender) : NULL;
	} else {
		kind = RLIST_RECIPIENT;
		name = f->recipient ? restrict_addr_domain(f->recipient) : NULL;
	}
	restrict_list_name(q, kind, what, sizeof(what));
	return server_access(q, rule, kind, what, name, type);
}
