/*
 * restrict-addr.c - where an address goes, as Postfix's trivial-rewrite
 * decides it for smtpd (ADDRESS_CLASS_README): the local class
 * (mydestination), virtual alias, virtual mailbox, relay (relay_domains)
 * and default classes; the relay rules permit_auth_destination /
 * reject_unauth_destination / defer_unauth_destination; the "unlisted"
 * recipient and sender checks; sender ownership
 * (reject_*sender_login_mismatch); mynetworks / mynetworks_style.
 *
 * Open relay defence. The domain is always the part after the LAST '@'
 * (outside quotes, see smtp/address.c). While that domain is one of ours,
 * the local part is looked into, as Postfix does with
 * resolve_dequoted_address, allow_percent_hack and swap_bangpath:
 * "user%other"@ours, other!user@ours and "user@other"@ours resolve to
 * user@other, flagged as routed. Only the final domain decides, and a
 * routed address never relays to relay_domains unless
 * allow_untrusted_routing = yes.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "restrict-private.h"
#include "util.h"

/* ---- domain lists ---- */

int restrict_domain_list_init(struct domain_list *dl, const char *param, const char *text,
			      bool parent_matches, char **error_r)
{
	size_t n = 0;
	char **tok = restrict_tokens(text, 10000, &n);

	memset(dl, 0, sizeof(*dl));
	dl->parent_matches = parent_matches;
	if (tok == NULL) {
		*error_r = must_asprintf("%s: more than 10000 items; put the domains into a "
					 "table (type:name)", param);
		return -1;
	}
	dl->names = must_calloc(n + 1, sizeof(*dl->names));
	dl->maps = must_calloc(n + 1, sizeof(*dl->maps));
	for (size_t i = 0; i < n; i++) {
		const char *err;

		if (tok[i][0] == '/') {
			*error_r = must_asprintf("%s: \"%s\": file names are not supported here; "
						 "write texthash:%s", param, tok[i], tok[i]);
			restrict_tokens_free(tok);
			restrict_domain_list_free(dl);
			return -1;
		}
		if (strchr(tok[i], ':') && tok[i][0] != '[') {
			struct map *m = map_open(tok[i], 0, &err);

			if (m == NULL) {
				*error_r = must_asprintf("%s: %s", param, err);
				restrict_tokens_free(tok);
				restrict_domain_list_free(dl);
				return -1;
			}
			dl->maps[dl->nmaps++] = m;
			continue;
		}
		dl->names[dl->n++] = str_lower(must_strdup(tok[i]));
	}
	restrict_tokens_free(tok);
	return 0;
}

int restrict_domain_classes_init(struct domain_list *mydestination, struct domain_list *relay_domains,
				 struct domain_list *virtual_alias_domains,
				 struct domain_list *virtual_mailbox_domains, const struct config *cfg,
				 const char **param_r, char **error_r)
{
	struct { struct domain_list *dl; const char *param; bool parent; } d[] = {
		{ relay_domains, "relay_domains", true },
		{ virtual_alias_domains, "virtual_alias_domains", false },
		{ virtual_mailbox_domains, "virtual_mailbox_domains", false },
	};
	const char *const *dest = config_list(cfg, "mydestination", NULL);
	struct strbuf sb;
	int ret;

	/* mydestination is a list parameter: joined again for the table parser. */
	strbuf_init(&sb, 0);
	for (size_t i = 0; dest && dest[i]; i++) {
		strbuf_puts(&sb, dest[i]);
		strbuf_putc(&sb, ' ');
	}
	ret = restrict_domain_list_init(mydestination, "mydestination", sb.data ? sb.data : "", false,
					error_r);
	strbuf_free(&sb);
	if (ret < 0) {
		*param_r = "mydestination";
		return -1;
	}
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (restrict_domain_list_init(d[i].dl, d[i].param, config_str(cfg, d[i].param),
					      d[i].parent, error_r) < 0) {
			*param_r = d[i].param;
			return -1;
		}
	return 0;
}

void restrict_domain_list_free(struct domain_list *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		free(dl->names[i]);
	for (size_t i = 0; i < dl->nmaps; i++)
		map_close(&dl->maps[i]);
	free(dl->names);
	free(dl->maps);
	memset(dl, 0, sizeof(*dl));
}

static int match_one(const struct domain_list *dl, const char *d)
{
	for (size_t i = 0; i < dl->n; i++)
		if (strcasecmp(dl->names[i], d) == 0)
			return 1;
	for (size_t i = 0; i < dl->nmaps; i++) {
		const char *v, *err;
		enum map_status st = map_lookup(dl->maps[i], d, &v, &err);

		if (st == MAP_FOUND)
			return 1;
		if (st == MAP_TEMPFAIL)
			return -1;
	}
	return 0;
}

int restrict_domain_match(const struct domain_list *dl, const char *domain)
{
	int m = match_one(dl, domain);

	if (m != 0)
		return m;
	/* Parent domains: ".example.com" always matches sub.example.com;
	 * "example.com" too when the parameter is in
	 * parent_domain_matches_subdomains (relay_domains is). */
	for (const char *p = strchr(domain, '.'); p && p[1]; p = strchr(p + 1, '.')) {
		for (size_t i = 0; i < dl->n; i++)
			if (strcasecmp(dl->names[i], p) == 0 ||
			    (dl->parent_matches && strcasecmp(dl->names[i], p + 1) == 0))
				return 1;
		if (dl->parent_matches && (m = match_one(dl, p + 1)) != 0)
			return m;
	}
	return 0;
}

/* ---- resolving ---- */

static int domain_class(struct restrictions *r, const char *domain, enum addr_class *cls_r)
{
	struct { const struct domain_list *dl; enum addr_class cls; } order[] = {
		{ &r->mydestination, ADDR_LOCAL },
		{ &r->virtual_alias_domains, ADDR_VIRTUAL_ALIAS },
		{ &r->virtual_mailbox_domains, ADDR_VIRTUAL_MAILBOX },
		{ &r->relay_domains, ADDR_RELAY },
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int m = restrict_domain_match(order[i].dl, domain);

		if (m < 0)
			return -1;
		if (m > 0) {
			*cls_r = order[i].cls;
			return 0;
		}
	}
	*cls_r = ADDR_DEFAULT;
	return 0;
}

/* Remove the quotes of a quoted local part ("a b"@x -> a b). */
static void dequote(char *s)
{
	size_t n = strlen(s), o = 0;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return;
	for (size_t i = 1; i + 1 < n; i++) {
		if (s[i] == '\\' && i + 2 < n)
			i++;
		s[o++] = s[i];
	}
	s[o] = '\0';
}

int restrict_resolve(struct restrictions *r, const char *address, struct addr_resolved *out)
{
	const char *at = strrchr(address, '@');
	/* Quoted local parts may hold '@': split at the last '@' after the
	 * closing quote. */
	const char *q = address[0] == '"' ? strrchr(address, '"') : NULL;

	memset(out, 0, sizeof(*out));
	if (q && at && at < q)
		at = NULL;
	if (at) {
		size_t ln = (size_t)(at - address);

		if (ln >= sizeof(out->local))
			ln = sizeof(out->local) - 1;
		memcpy(out->local, address, ln);
		out->local[ln] = '\0';
		str_copy(out->domain, at + 1, sizeof(out->domain));
	} else {
		str_copy(out->local, address, sizeof(out->local));
		/* Postfix appends @$myorigin to an address without domain. */
		str_copy(out->domain, r->myorigin, sizeof(out->domain));
	}
	str_lower(out->domain);
	{
		size_t dl = strlen(out->domain);

		if (dl > 0 && out->domain[dl - 1] == '.')
			out->domain[dl - 1] = '\0';
	}
	/* Bounded: each round shortens the local part. */
	for (int round = 0; round < 16; round++) {
		char *sep;

		if (domain_class(r, out->domain, &out->cls) < 0)
			return -1;
		if (out->cls != ADDR_LOCAL && out->cls != ADDR_VIRTUAL_ALIAS &&
		    out->cls != ADDR_VIRTUAL_MAILBOX) {
			/* Routing operators in a relay/default address: note them;
			 * the address itself is not ours to take apart. */
			if (strpbrk(out->local, "@%!") && out->cls == ADDR_RELAY)
				out->routed = true;
			return 0;
		}
		if (out->local[0] == '"' && r->dequote)
			dequote(out->local);
		if ((sep = strrchr(out->local, '@')) != NULL ||
		    (r->percent_hack && (sep = strrchr(out->local, '%')) != NULL)) {
			str_copy(out->domain, sep + 1, sizeof(out->domain));
			*sep = '\0';
		} else if (r->bangpath && (sep = strchr(out->local, '!')) != NULL) {
			char rest[sizeof(out->local)];

			*sep = '\0';
			str_copy(out->domain, out->local, sizeof(out->domain));
			str_copy(rest, sep + 1, sizeof(rest));
			str_copy(out->local, rest, sizeof(out->local));
		} else {
			return 0;
		}
		str_lower(out->domain);
		out->routed = true;
		if (out->domain[0] == '\0' || out->local[0] == '\0') {
			/* "@x"@ours, user%@ours: nothing sensible; treat as foreign. */
			out->cls = ADDR_DEFAULT;
			return 0;
		}
	}
	out->cls = ADDR_DEFAULT;
	return 0;
}

/* ---- relay rules ---- */

/* 1 the recipient may be accepted without relay permission, 0 not, -1 temp */
static int auth_destination(struct restrict_req *q)
{
	struct addr_resolved res;

	if (restrict_resolve(q->r, q->f->recipient, &res) < 0)
		return -1;
	switch (res.cls) {
	case ADDR_LOCAL:
	case ADDR_VIRTUAL_ALIAS:
	case ADDR_VIRTUAL_MAILBOX:
		return 1;
	case ADDR_RELAY:
		return !res.routed || q->r->untrusted_routing;
	case ADDR_DEFAULT:
		return 0;
	}
	return 0;
}

enum rule_status rule_permit_auth_destination(struct restrict_req *q, const struct rule *rule)
{
	int a;

	(void)rule;
	if (q->f->recipient == NULL)
		return RULE_DUNNO;
	a = auth_destination(q);
	if (a < 0)
		return restrict_reply(q, 451, "4.3.0", "<%s>: Temporary lookup failure",
				      q->f->recipient);
	return a ? RULE_OK : RULE_DUNNO;
}

static enum rule_status unauth_destination(struct restrict_req *q, int code)
{
	int a;

	if (q->f->recipient == NULL)
		return RULE_DUNNO;
	a = auth_destination(q);
	if (a < 0)
		return restrict_reply(q, 451, "4.3.0", "<%s>: Temporary lookup failure",
				      q->f->recipient);
	if (a)
		return RULE_DUNNO;
	return restrict_reply(q, code, "5.7.1", "<%s>: Relay access denied", q->f->recipient);
}

enum rule_status rule_reject_unauth_destination(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return unauth_destination(q, q->r->relay_code);
}

enum rule_status rule_defer_unauth_destination(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return unauth_destination(q, q->r->defer_code);
}

/* ---- unlisted users ---- */

/* Is the text of one table result present? 1 yes, 0 no, -1 temp */
static int in_maps(struct map_list *ml, const char *key, bool address, unsigned flags)
{
	const char *v, *err;
	enum map_status st = address ? map_list_lookup_address(ml, key, flags, &v, &err)
				     : map_list_lookup(ml, key, &v, &err);

	return st == MAP_FOUND ? 1 : st == MAP_NOTFOUND ? 0 : -1;
}

/* strip_extension - "bob+x@d" -> "bob@d" at the first recipient_delimiter
 * character of the local part; false when there is none (addr unchanged).
 * Postfix's owner-/-request names keep their delimiter as a name part. */
static bool strip_extension(const struct restrictions *r, char *addr)
{
	char *at = strrchr(addr, '@');
	size_t n;

	if (r->recipient_delimiter[0] == '\0' || at == NULL)
		return false;
	n = strcspn(addr, r->recipient_delimiter);
	if (n == 0 || addr + n >= at)
		return false;
	memmove(addr + n, at, strlen(at) + 1);
	return true;
}

/* unlisted_userdb - is key a user of the auth role's userdb? *unknown_r
 * false: the rule's answer is the return value (DUNNO: known, PENDING:
 * the answer is on its way and the rule runs again, FINAL: 4xx on a
 * temporary failure); true: not known, go on. */
static enum rule_status unlisted_userdb(struct restrict_req *q, const char *key, const char *address,
					bool *unknown_r)
{
	const struct restrict_cached *c;
	int st = restrict_userdb(q, "USER", key, &c);

	*unknown_r = false;
	if (st < 0)
		return RULE_PENDING;
	if (st == RESTRICT_USERDB_FOUND)
		return RULE_DUNNO;
	if (st == RESTRICT_USERDB_TEMPFAIL)
		return restrict_reply(q, 451, "4.3.0", "<%s>: Temporary lookup failure", address);
	*unknown_r = true;
	return RULE_DUNNO;
}

enum rule_status restrict_unlisted(struct restrict_req *q, const char *address, bool sender)
{
	struct restrictions *r = q->r;
	const char *cls = sender ? "Sender address" : "Recipient address";
	const char *dsn = sender ? "5.1.0" : "5.1.1";
	struct addr_resolved res;
	char full[800];
	enum rule_status rs;
	bool unknown;
	int m;

	if (address == NULL || address[0] == '\0')
		return RULE_DUNNO;
	if (restrict_resolve(r, address, &res) < 0)
		goto temp;
	if (res.cls == ADDR_DEFAULT || (res.cls == ADDR_RELAY && r->relay_recipient_maps == NULL))
		return RULE_DUNNO; /* not ours to know */
	restrict_fmt(full, sizeof(full), "%s@%s", res.local, res.domain);
	m = in_maps(r->virtual_alias_maps, full, true,
		    MAP_ADDR_VIRTUAL | (res.cls == ADDR_LOCAL ? MAP_ADDR_LOCAL_DOMAIN : 0));
	if (m < 0)
		goto temp;
	if (m > 0)
		return RULE_DUNNO;
	switch (res.cls) {
	case ADDR_LOCAL:
		if (!r->local_check || r->luser_relay)
			return RULE_DUNNO;
		m = in_maps(r->local_maps, res.local, false, 0);
		if (m < 0)
			goto temp;
		if (m > 0)
			return RULE_DUNNO;
		if (r->local_userdb) {
			char user[sizeof(res.local)];

			/* The auth role knows virtual users as user@domain and
			 * system users by name (auth/auth-userdb.c): ask for the
			 * address first, then the local part. Local user names are
			 * case-insensitive, as Postfix's local(8) folds them. */
			str_lower(full);
			rs = unlisted_userdb(q, full, address, &unknown);
			if (!unknown)
				return rs;
			str_copy(user, res.local, sizeof(user));
			str_lower(user);
			rs = unlisted_userdb(q, user, address, &unknown);
			if (!unknown)
				return rs;
		}
		return restrict_reply(q, r->unknown_local_code, dsn,
				      "<%s>: %s rejected: User unknown in local recipient table",
				      address, cls);
	case ADDR_RELAY:
		/* postconf(5) relay_recipient_maps: user@domain, then @domain. */
		m = in_maps(r->relay_recipient_maps, full, true, MAP_ADDR_VIRTUAL);
		if (m < 0)
			goto temp;
		if (m > 0)
			return RULE_DUNNO;
		return restrict_reply(q, r->unknown_relay_code, dsn,
				      "<%s>: %s rejected: User unknown in relay recipient table",
				      address, cls);
	case ADDR_VIRTUAL_ALIAS:
		return restrict_reply(q, r->unknown_alias_code, dsn,
				      "<%s>: %s rejected: User unknown in virtual alias table",
				      address, cls);
	case ADDR_VIRTUAL_MAILBOX:
		str_lower(full);
		rs = unlisted_userdb(q, full, address, &unknown);
		if (!unknown)
			return rs;
		/* virtual(5): with recipient_delimiter set, user+ext@domain is
		 * looked up again as user@domain (the extension picks a folder
		 * at delivery). */
		if (strip_extension(r, full)) {
			rs = unlisted_userdb(q, full, address, &unknown);
			if (!unknown)
				return rs;
		}
		return restrict_reply(q, r->unknown_mailbox_code, dsn,
				      "<%s>: %s rejected: User unknown in virtual mailbox table",
				      address, cls);
	default:
		return RULE_DUNNO;
	}
temp:
	return restrict_reply(q, 451, "4.3.0", "<%s>: Temporary lookup failure", address);
}

enum rule_status rule_unlisted_recipient(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return restrict_unlisted(q, q->f->recipient, false);
}

enum rule_status rule_unlisted_sender(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return restrict_unlisted(q, q->f->sender, true);
}

/* ---- sender ownership ---- */

/* Is login among the comma/blank separated owners? */
static bool owners_contain(const char *owners, const char *login)
{
	size_t n = 0;
	char **tok = restrict_tokens(owners, 1000, &n);
	bool found = false;

	for (size_t i = 0; tok && i < n && !found; i++)
		found = strcasecmp(tok[i], login) == 0;
	restrict_tokens_free(tok);
	return found;
}

static enum rule_status login_mismatch(struct restrict_req *q, bool check_auth, bool check_unauth)
{
	const struct restrict_facts *f = q->f;
	const char *s = f->sender, *user = f->sasl_username;
	const char *owners = NULL, *err;
	char *owners_copy = NULL;
	enum map_status ms;

	if (s == NULL || s[0] == '\0')
		return RULE_DUNNO;
	ms = map_list_lookup_address(q->r->sender_login_maps, s, MAP_ADDR_VIRTUAL, &owners, &err);
	if (ms == MAP_TEMPFAIL)
		return restrict_reply(q, 451, "4.3.0", "<%s>: Temporary lookup failure", s);
	if (ms == MAP_FOUND)
		owners_copy = must_strdup(owners);
	if (user && user[0]) {
		const struct restrict_cached *c;
		const char *d = restrict_addr_domain(s);
		int st;

		if (!check_auth || (owners_copy && owners_contain(owners_copy, user))) {
			free(owners_copy);
			return RULE_DUNNO;
		}
		free(owners_copy);
		st = restrict_userdb(q, "SENDERS", user, &c);
		if (st < 0)
			return RULE_PENDING;
		if (st == RESTRICT_USERDB_FOUND)
			for (size_t i = 0; i < c->n; i++)
				if (strcasecmp(c->rr[i], s) == 0 ||
				    (c->rr[i][0] == '@' && strcasecmp(c->rr[i] + 1, d) == 0))
					return RULE_DUNNO;
		if (st == RESTRICT_USERDB_TEMPFAIL)
			return restrict_reply(q, 451, "4.3.0", "<%s>: Temporary lookup failure", s);
		return restrict_reply(q, 553, "5.7.1",
				      "<%s>: Sender address rejected: not owned by user %s", s, user);
	}
	free(owners_copy);
	if (check_unauth && ms == MAP_FOUND)
		return restrict_reply(q, 553, "5.7.1", "<%s>: Sender address rejected: not logged in", s);
	return RULE_DUNNO;
}

enum rule_status rule_sender_login_mismatch(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return login_mismatch(q, true, true);
}

enum rule_status rule_auth_sender_login_mismatch(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return login_mismatch(q, true, false);
}

enum rule_status rule_unauth_sender_login_mismatch(struct restrict_req *q, const struct rule *rule)
{
	(void)rule;
	return login_mismatch(q, false, true);
}

/* reject_known_sender_login_mismatch: only senders that have owners in
 * smtpd_sender_login_maps are checked (postconf(5)); addresses nobody
 * claims there pass, whoever is logged in. */
enum rule_status rule_known_sender_login_mismatch(struct restrict_req *q, const struct rule *rule)
{
	const char *s = q->f->sender, *owners = NULL, *err = NULL;
	enum map_status ms;

	(void)rule;
	if (s == NULL || s[0] == '\0')
		return RULE_DUNNO;
	ms = map_list_lookup_address(q->r->sender_login_maps, s, MAP_ADDR_VIRTUAL, &owners, &err);
	if (ms == MAP_TEMPFAIL)
		return restrict_reply(q, 451, "4.3.0", "<%s>: Temporary lookup failure", s);
	if (ms != MAP_FOUND)
		return RULE_DUNNO;
	return login_mismatch(q, true, true);
}

/* ---- mynetworks ---- */

static int parse_net(const char *item, struct netmask *nm)
{
	char buf[128];
	char *slash;
	size_t n = strlen(item);
	long bits = -1;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, item, n + 1);
	slash = strchr(buf, '/');
	if (slash) {
		char *end;

		*slash = '\0';
		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0' || slash[1] == '\0')
			return -1;
	}
	{
		char *a = buf;
		size_t al = strlen(a);

		if (a[0] == '[') {
			if (al < 2 || a[al - 1] != ']')
				return -1;
			a[al - 1] = '\0';
			a++;
		}
		if (inet_pton(AF_INET, a, nm->addr) == 1) {
			nm->family = AF_INET;
			if (bits < 0)
				bits = 32;
			if (bits > 32)
				return -1;
		} else if (inet_pton(AF_INET6, a, nm->addr) == 1) {
			nm->family = AF_INET6;
			if (bits < 0)
				bits = 128;
			if (bits > 128)
				return -1;
		} else {
			return -1;
		}
	}
	nm->bits = (unsigned)bits;
	return 0;
}

static bool net_contains(const struct netmask *nm, int family, const unsigned char *a)
{
	unsigned full = nm->bits / 8, rest = nm->bits % 8;

	if (nm->family != family)
		return false;
	if (memcmp(nm->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((nm->addr[full] ^ a[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

static void add_net(struct restrictions *r, const struct netmask *nm)
{
	r->mynetworks = must_realloc(r->mynetworks, (r->nmynetworks + 1) * sizeof(*nm));
	r->mynetworks[r->nmynetworks++] = *nm;
}

/* mynetworks_style when mynetworks is not set (postconf(5)). */
static void style_networks(struct restrictions *r, const char *style)
{
	struct ifaddrs *ifa = NULL;
	struct netmask lo4 = { .family = AF_INET, .addr = { 127 }, .bits = 8 };
	struct netmask lo6 = { .family = AF_INET6, .addr = { [15] = 1 }, .bits = 128 };

	add_net(r, &lo4);
	add_net(r, &lo6);
	if (getifaddrs(&ifa) < 0)
		return;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		struct netmask nm = { 0 };
		unsigned prefix = 0;
		const unsigned char *mask = NULL;
		size_t mlen = 0;

		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			nm.family = AF_INET;
			memcpy(nm.addr, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
			nm.bits = 32;
			if (i->ifa_netmask) {
				mask = (const unsigned char *)&((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr;
				mlen = 4;
			}
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			nm.family = AF_INET6;
			memcpy(nm.addr, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, 16);
			nm.bits = 128;
			if (i->ifa_netmask) {
				mask = (const unsigned char *)&((struct sockaddr_in6 *)(void *)i->ifa_netmask)->sin6_addr;
				mlen = 16;
			}
		} else {
			continue;
		}
		for (size_t b = 0; mask && b < mlen; b++)
			for (int bit = 7; bit >= 0 && (mask[b] >> bit) & 1; bit--)
				prefix++;
		if (strcmp(style, "subnet") == 0 && mask)
			nm.bits = prefix;
		else if (strcmp(style, "class") == 0 && nm.family == AF_INET)
			nm.bits = nm.addr[0] < 128 ? 8 : nm.addr[0] < 192 ? 16 : 24;
		add_net(r, &nm);
	}
	freeifaddrs(ifa);
}

int restrict_mynetworks_init(struct restrictions *r, const struct config *view, char **error_r)
{
	size_t n = 0;
	const char *const *items;
	struct strbuf maps;
	const char *err;

	if (config_raw(view, "mynetworks") == NULL) {
		style_networks(r, config_str(view, "mynetworks_style"));
		r->mynetworks_maps = map_list_open("", 0, &err);
		return 0;
	}
	items = config_list(view, "mynetworks", &n);
	strbuf_init(&maps, 0);
	for (size_t i = 0; i < n; i++) {
		struct netmask nm;

		const char *colon = strchr(items[i], ':');

		/* "cidr:/etc/x" is a table, "2001:db8::/32" a network: a table
		 * type always has a letter that is not a hex digit. */
		if (items[i][0] != '[' && colon &&
		    strspn(items[i], "0123456789abcdefABCDEF") < (size_t)(colon - items[i])) {
			strbuf_puts(&maps, items[i]);
			strbuf_putc(&maps, ' ');
			continue;
		}
		if (parse_net(items[i], &nm) < 0) {
			*error_r = must_asprintf("mynetworks: \"%s\" is not an address, network "
						 "(192.0.2.0/24, [2001:db8::]/32) or type:table; "
						 "host names are not supported", items[i]);
			strbuf_free(&maps);
			return -1;
		}
		add_net(r, &nm);
	}
	r->mynetworks_maps = map_list_open(maps.data ? maps.data : "", 0, &err);
	strbuf_free(&maps);
	if (r->mynetworks_maps == NULL) {
		*error_r = must_asprintf("mynetworks: %s", err);
		return -1;
	}
	return 0;
}

bool restrict_addr_in_mynetworks(struct restrictions *r, const char *addr, bool *tempfail_r)
{
	unsigned char b[16];
	int family;
	const char *v, *err;
	enum map_status st;

	*tempfail_r = false;
	if (inet_pton(AF_INET, addr, b) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, b) == 1)
		family = AF_INET6;
	else
		return false;
	for (size_t i = 0; i < r->nmynetworks; i++)
		if (net_contains(&r->mynetworks[i], family, b))
			return true;
	if (r->mynetworks_maps == NULL)
		return false;
	st = map_list_lookup(r->mynetworks_maps, addr, &v, &err);
	if (st == MAP_TEMPFAIL)
		*tempfail_r = true;
	return st == MAP_FOUND;
}
