/*
 * rewrite.c - address rewriting before expansion, in Postfix's order
 * (ADDRESS_REWRITING_README, cleanup(8), trivial-rewrite(8)):
 *
 *   1. append_at_myorigin: "user" -> "user@$myorigin";
 *      append_dot_mydomain: "user@host" -> "user@host.$mydomain";
 *   2. canonical(5): sender_canonical_maps or recipient_canonical_maps
 *      first, then canonical_maps, each looked up as virtual(5) says
 *      (user@domain, user for local domains, @domain), with the extension
 *      first and then without it; an unmatched extension is carried over
 *      to the result when propagate_unmatched_extensions has canonical;
 *   3. masquerade_domains: "user@host.example.com" -> "user@example.com"
 *      for a listed example.com (the first listed match wins, "!domain"
 *      excludes it), unless the local part is in masquerade_exceptions.
 *
 * Called by expand.c (envelope) and header-rewrite.c (headers).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/resolve/resolve-private.h"

const char *resolve_addr_at(const char *addr)
{
	const char *at = strrchr(addr, '@');

	/* "a@b"@c: the '@' inside the quotes is part of the local part. */
	if (addr[0] == '"') {
		const char *q = strrchr(addr, '"');

		if (q && at && at < q)
			return NULL;
	}
	return at;
}

bool resolve_split_ext(const struct resolve *r, const char *addr, char *base, size_t bsize, char *ext,
		       size_t esize)
{
	const char *at = resolve_addr_at(addr);
	size_t llen = at ? (size_t)(at - addr) : strlen(addr);
	size_t pos = llen;

	str_copy(base, addr, bsize);
	if (esize)
		ext[0] = '\0';
	if (r->delim[0] == '\0' || addr[0] == '"')
		return false;
	for (size_t i = 0; i < llen; i++)
		if (strchr(r->delim, addr[i])) {
			pos = i;
			break;
		}
	/* Postfix: no split when the delimiter starts the local part
	 * ("+foo" is a name), nor of the mailing list conventions
	 * owner-list and list-request (split_addr()). */
	if (pos == llen || pos == 0)
		return false;
	if ((llen > 6 && strncasecmp(addr, "owner-", 6) == 0 && pos == 5) ||
	    (llen > 8 && strncasecmp(addr + llen - 8, "-request", 8) == 0 && pos == llen - 8))
		return false;
	snprintf(base, bsize, "%.*s%s", (int)pos, addr, at ? at : "");
	snprintf(ext, esize, "%.*s", (int)(llen - pos - 1), addr + pos + 1);
	return true;
}

char *resolve_add_ext(const struct resolve *r, const char *addr, const char *orig, const char *ext)
{
	const char *at = resolve_addr_at(addr);
	char d = r->delim[0] ? r->delim[0] : '+';

	for (const char *p = orig; p && *p && *p != '@'; p++)
		if (r->delim[0] && strchr(r->delim, *p)) {
			d = *p;
			break;
		}
	if (ext == NULL || ext[0] == '\0')
		return must_strdup(addr);
	if (at == NULL)
		return must_asprintf("%s%c%s", addr, d, ext);
	return must_asprintf("%.*s%c%s%s", (int)(at - addr), addr, d, ext, at);
}

char *resolve_qualify(const struct resolve *r, const char *addr)
{
	const char *at = resolve_addr_at(addr);

	if (at == NULL) {
		if (!r->append_at_myorigin || addr[0] == '\0')
			return must_strdup(addr);
		return must_asprintf("%s@%s", addr, r->myorigin);
	}
	/* "user@host." is user@host (Postfix strips the root's dot). */
	if (at[1] != '\0' && at[1] != '.' && addr[strlen(addr) - 1] == '.') {
		size_t n = strlen(addr);
		char *t, *q;

		while (addr[n - 1] == '.')
			n--;   /* stops at the '@' side: at[1] is not a dot */
		t = must_strndup(addr, n);
		q = resolve_qualify(r, t);
		free(t);
		return q;
	}
	if (r->append_dot_mydomain && at[1] != '\0' && at[1] != '[' && strchr(at + 1, '.') == NULL &&
	    r->mydomain[0] != '\0')
		return must_asprintf("%s.%s", addr, r->mydomain);
	return must_strdup(addr);
}

/* One canonical table: 1 rewritten (*out), 0 not, -1 temp. */
static int canonical_one(struct resolve *r, struct map_list *ml, const char *addr, char **out,
			 char **error_r)
{
	const char *at = resolve_addr_at(addr);
	unsigned flags = MAP_ADDR_VIRTUAL;
	char base[RESOLVE_ADDR_MAX + 1], ext[RESOLVE_ADDR_MAX + 1], *v = NULL;
	enum map_status st;
	bool unmatched = false;
	int local;

	if (ml == NULL || map_list_count(ml) == 0)
		return 0;
	if (at) {
		if ((local = resolve_is_local_domain(r, at + 1)) < 0) {
			*error_r = must_asprintf("domain look-up of \"%s\" failed", at + 1);
			return -1;
		}
		if (local)
			flags |= MAP_ADDR_LOCAL_DOMAIN;
	}
	st = resolve_lookup(r, ml, addr, true, flags, &v, error_r);
	if (st == MAP_NOTFOUND && resolve_split_ext(r, addr, base, sizeof(base), ext, sizeof(ext))) {
		st = resolve_lookup(r, ml, base, true, flags, &v, error_r);
		unmatched = true;
	}
	if (st == MAP_TEMPFAIL)
		return -1;
	if (st == MAP_NOTFOUND)
		return 0;
	{
		const char *src = unmatched ? base : addr, *sat = resolve_addr_at(src);
		char *t = str_trim(v), *res;

		/* "@domain" results rewrite the domain only (canonical(5)). */
		if (t[0] == '@' && sat)
			res = must_asprintf("%.*s%s", (int)(sat - src), src, t);
		else
			res = must_strdup(t);
		if (unmatched && (r->propagate & PROP_CANONICAL)) {
			/* canonical(5): the extension goes onto the result. */
			*out = resolve_add_ext(r, res, addr, ext);
			free(res);
		} else {
			*out = res;
		}
	}
	free(v);
	return 1;
}

/* masquerade - new memory or NULL when unchanged. */
static char *masquerade(const struct resolve *r, const char *addr)
{
	const char *at = resolve_addr_at(addr);
	size_t dlen;

	if (at == NULL || r->masq_domains[0] == NULL)
		return NULL;
	for (size_t i = 0; r->masq_exceptions[i]; i++)
		if (strncasecmp(addr, r->masq_exceptions[i], (size_t)(at - addr)) == 0 &&
		    r->masq_exceptions[i][at - addr] == '\0')
			return NULL;
	dlen = strlen(at + 1);
	for (size_t i = 0; r->masq_domains[i]; i++) {
		const char *m = r->masq_domains[i];
		bool neg = m[0] == '!';
		size_t mlen;

		if (neg)
			m++;
		mlen = strlen(m);
		if (strcasecmp(at + 1, m) == 0)
			return NULL;   /* already the masquerade domain */
		if (dlen > mlen + 1 && at[dlen - mlen] == '.' && strcasecmp(at + 1 + dlen - mlen, m) == 0) {
			if (neg)
				return NULL;
			return must_asprintf("%.*s@%s", (int)(at - addr), addr, m);
		}
	}
	return NULL;
}

int resolve_rewrite_addr(struct resolve *r, const char *addr, unsigned class_bit, char **out,
			 char **error_r)
{
	char *cur = resolve_qualify(r, addr), *next = NULL;
	int rc;

	*out = NULL;
	if (cur[0] == '\0' || strlen(cur) > RESOLVE_ADDR_MAX) {
		*out = cur;
		return 0;
	}
	if (r->canonical_classes & class_bit) {
		struct map_list *first = (class_bit & (RW_ENV_SENDER | RW_HDR_SENDER)) ? r->sender_canonical
										       : r->recipient_canonical;

		rc = canonical_one(r, first, cur, &next, error_r);
		if (rc == 0)
			rc = canonical_one(r, r->canonical, cur, &next, error_r);
		if (rc < 0) {
			free(cur);
			return -1;
		}
		if (rc > 0) {
			free(cur);
			/* A result without a domain is qualified like any address. */
			cur = resolve_qualify(r, next);
			free(next);
		}
	}
	if (r->masquerade_classes & class_bit) {
		next = masquerade(r, cur);
		if (next) {
			free(cur);
			cur = next;
		}
	}
	*out = cur;
	return 0;
}
