/*
 * route.c - resolve_route: where one final address goes at this attempt
 * (trivial-rewrite(8) "resolve", transport(5)).
 *
 *   1. transport_maps, keys in transport(5)'s order: user+ext@domain,
 *      user@domain, domain, then each parent as ".parent.domain", then
 *      "*" - each key tried in every table before the next key; pattern
 *      tables (regexp:, pcre:, cidr:) see the full address only.
 *      Values "transport:nexthop": smtp / relay (nexthop "[host]:port",
 *      "host:port", "host", "domain"; empty = the default below), local
 *      and virtual (the store), error:[D.D.D ]text, discard:[text],
 *      retry:[text] (defer); an empty transport ":[host]" keeps the
 *      default transport with that nexthop.
 *   2. mydestination: the store, user = the local part (with +ext);
 *      virtual_mailbox_domains: the store, user = the full address (the
 *      userdb knows virtual users as user@domain, see expand.c);
 *      virtual_alias_domains: 5.1.1 (an unmatched virtual alias);
 *   3. relayhost when set, else the domain itself (MX look-up by the
 *      SMTP client).
 *
 * Called by the queue role before each delivery attempt of a dest.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/resolve/resolve-private.h"

static bool is_pattern_table(const struct map *m)
{
	const char *t = map_type(m);

	return strcmp(t, "regexp") == 0 || strcmp(t, "pcre") == 0 || strcmp(t, "cidr") == 0;
}

/* transport_lookup - 1 found (*value_r new memory), 0 not, -1 temp. */
static int transport_lookup(struct resolve *r, const char *addr, const char *domain, char **value_r,
			    char **error_r)
{
	size_t n = map_list_count(r->transport), nkeys = 0;
	const char *keys[64];
	char *owned[64];
	size_t nowned = 0;
	char base[RESOLVE_ADDR_MAX + 1], ext[RESOLVE_ADDR_MAX + 1];
	int rc = 0;

	*value_r = NULL;
	if (n == 0)
		return 0;
	keys[nkeys++] = addr;
	if (resolve_split_ext(r, addr, base, sizeof(base), ext, sizeof(ext)))
		keys[nkeys++] = base;
	keys[nkeys++] = domain;
	for (const char *p = strchr(domain, '.'); p && p[1] && nkeys < 60; p = strchr(p + 1, '.'))
		keys[nkeys++] = owned[nowned++] = must_strdup(p);
	keys[nkeys++] = "*";
	pthread_mutex_lock(&r->lock);
	for (size_t k = 0; k < nkeys && rc == 0; k++)
		for (size_t i = 0; i < n && rc == 0; i++) {
			struct map *m = map_list_at(r->transport, i);
			const char *v, *err;
			enum map_status st;

			if (k > 0 && is_pattern_table(m))
				continue;
			st = map_lookup(m, keys[k], &v, &err);
			if (st == MAP_FOUND) {
				*value_r = must_strdup(v);
				rc = 1;
			} else if (st == MAP_TEMPFAIL) {
				*error_r = must_asprintf("transport_maps: look-up of \"%s\" in %s failed: %s",
							 keys[k], map_spec(m), err ? err : "unknown error");
				rc = -1;
			}
		}
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	return rc;
}

/* The store user for addr: local part (local) or the whole address. */
static int set_store(struct resolve_route *out, const char *addr, bool local_part)
{
	const char *at = resolve_addr_at(addr);
	size_t n = local_part && at ? (size_t)(at - addr) : strlen(addr);

	out->kind = ROUTE_STORE;
	if (n >= sizeof(out->user))
		return -1;
	memcpy(out->user, addr, n);
	out->user[n] = '\0';
	str_lower(out->user);
	return 0;
}

static int set_smtp(struct resolve_route *out, const char *nexthop)
{
	out->kind = ROUTE_SMTP;
	return str_copy(out->nexthop, nexthop, sizeof(out->nexthop)) < sizeof(out->nexthop) ? 0 : -1;
}

static void set_error(struct resolve_route *out, const char *dsn, const char *text)
{
	out->kind = ROUTE_ERROR;
	str_copy(out->dsn, dsn, sizeof(out->dsn));
	str_copy(out->text, text, sizeof(out->text));
}

/* Default routing by class. */
static int route_default(struct resolve *r, const char *addr, const char *domain, enum resolve_class cls,
			 struct resolve_route *out)
{
	int rc = 0;

	switch (cls) {
	case RCLASS_LOCAL:
		rc = set_store(out, addr, true);
		break;
	case RCLASS_VIRTUAL_MAILBOX:
		rc = set_store(out, addr, false);
		break;
	case RCLASS_VIRTUAL_ALIAS:
		set_error(out, "5.1.1", "User unknown in virtual alias table");
		break;
	default:
		rc = set_smtp(out, r->relayhost[0] ? r->relayhost : domain);
		break;
	}
	if (rc < 0)
		set_error(out, "5.1.3", "address too long to route");
	return 0;
}

/* An "N.N.N " prefix of an error: text. */
static size_t dsn_prefix(const char *t)
{
	const char *p = t;

	if ((p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	p += 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;

		while (p[d] >= '0' && p[d] <= '9' && d < 3)
			d++;
		if (d == 0)
			return 0;
		p += d;
		if (part == 0) {
			if (*p != '.')
				return 0;
			p++;
		}
	}
	if (*p != ' ' && *p != '\0')
		return 0;
	return (size_t)(p - t);
}

static int route_transport(struct resolve *r, const char *addr, const char *domain, enum resolve_class cls,
			   char *value, struct resolve_route *out, char **error_r)
{
	char *v = str_trim(value), *colon = strchr(v, ':'), *nexthop = colon ? colon + 1 : (char *)"";
	const char *t = v;

	if (colon)
		*colon = '\0';
	nexthop = str_trim(nexthop);
	if (t[0] == '\0')
		t = (cls == RCLASS_LOCAL || cls == RCLASS_VIRTUAL_MAILBOX) ? "" : "smtp";
	if (t[0] == '\0') {
		/* ":[host]" for a local address: the default transport, here the
		 * store; a nexthop would mean nothing to it. */
		return route_default(r, addr, domain, cls, out);
	}
	if (strcasecmp(t, "smtp") == 0 || strcasecmp(t, "relay") == 0) {
		const char *hop = nexthop[0] ? nexthop : r->relayhost[0] ? r->relayhost : domain;

		if (set_smtp(out, hop) < 0)
			set_error(out, "5.3.5", "transport_maps nexthop too long");
		return 0;
	}
	if (strcasecmp(t, "local") == 0 || strcasecmp(t, "virtual") == 0) {
		if (set_store(out, addr, strcasecmp(t, "local") == 0) < 0)
			set_error(out, "5.1.3", "address too long to route");
		return 0;
	}
	if (strcasecmp(t, "error") == 0) {
		size_t d = dsn_prefix(nexthop);
		char dsn[12] = "5.0.0";

		if (d > 0 && d < sizeof(dsn))
			snprintf(dsn, sizeof(dsn), "%.*s", (int)d, nexthop);
		if (dsn[0] == '4') {
			/* A 4.x.x error: is a temporary failure: defer. */
			*error_r = must_strdup(nexthop[d] ? str_trim(nexthop + d) : "deferred by transport_maps");
			return -1;
		}
		set_error(out, dsn, nexthop[d] ? str_trim(nexthop + d) : "mail for this address is not accepted");
		return 0;
	}
	if (strcasecmp(t, "discard") == 0) {
		out->kind = ROUTE_DISCARD;
		str_copy(out->text, nexthop[0] ? nexthop : "discarded", sizeof(out->text));
		return 0;
	}
	if (strcasecmp(t, "retry") == 0) {
		*error_r = must_strdup(nexthop[0] ? nexthop : "deferred by transport_maps");
		return -1;
	}
	*error_r = must_asprintf("transport_maps: unknown transport \"%s\" for <%s>; use smtp, relay, "
				 "local, virtual, error, discard or retry", t, addr);
	return -1;
}

int resolve_route(struct resolve *r, const char *addr0, struct resolve_route *out, char **error_r)
{
	char *addr = must_strdup(addr0), *domain, *value = NULL;
	const char *at;
	enum resolve_class cls;
	int rc;

	memset(out, 0, sizeof(*out));
	at = resolve_addr_at(addr);
	domain = str_lower(must_strdup(at ? at + 1 : r->myorigin));
	{
		size_t dl = strlen(domain);

		if (dl > 1 && domain[dl - 1] == '.')
			domain[dl - 1] = '\0';
	}
	if (resolve_class(r, domain, &cls) < 0) {
		*error_r = must_asprintf("domain look-up of \"%s\" failed", domain);
		rc = -1;
		goto out;
	}
	rc = transport_lookup(r, addr, domain, &value, error_r);
	if (rc > 0)
		rc = route_transport(r, addr, domain, cls, value, out, error_r);
	else if (rc == 0)
		rc = route_default(r, addr, domain, cls, out);
out:
	free(value);
	free(addr);
	free(domain);
	return rc < 0 ? -1 : 0;
}
