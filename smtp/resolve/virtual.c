/*
 * virtual.c - virtual_alias_maps expansion (virtual(5), cleanup(8)):
 * each address is looked up as user@domain, user (local domains only)
 * and @domain (the catch-all); a result is a list of addresses (comma or
 * whitespace separated) each expanded again, until no table has it or
 * an address maps to itself. recipient_delimiter extensions are tried
 * with and then without the extension; a match without it passes the
 * extension on to the results (propagate_unmatched_extensions = virtual).
 *
 * Bounds: virtual_alias_recursion_limit (nesting) and
 * virtual_alias_expansion_limit (addresses produced for one envelope
 * recipient). Postfix defers a message that passes them; here the
 * recipient bounces with 5.4.6 (a hostile or looping table would only
 * defer for maximal_queue_lifetime otherwise).
 *
 * Called by expand.c for every address it expands.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/resolve/resolve-private.h"

static int walk(struct expand_state *st, const char *addr, long long level, unsigned depth,
		valias_done_fn *done)
{
	struct resolve *r = st->r;
	const char *at = resolve_addr_at(addr);
	unsigned flags = MAP_ADDR_VIRTUAL;
	char *v = NULL, *base, *ext;
	bool unmatched = false;
	enum map_status ms;
	int rc = 0;

	if (at) {
		int local = resolve_is_local_domain(r, at + 1);

		if (local < 0) {
			st->error = must_asprintf("domain look-up of \"%s\" failed", at + 1);
			return -1;
		}
		if (local)
			flags |= MAP_ADDR_LOCAL_DOMAIN;
	}
	ms = resolve_lookup(r, r->virtual_alias, addr, true, flags, &v, &st->error);
	base = must_malloc(strlen(addr) + 1);
	ext = must_malloc(strlen(addr) + 1);
	if (ms == MAP_NOTFOUND && resolve_split_ext(r, addr, base, strlen(addr) + 1, ext, strlen(addr) + 1)) {
		ms = resolve_lookup(r, r->virtual_alias, base, true, flags, &v, &st->error);
		unmatched = true;
	}
	if (ms == MAP_TEMPFAIL) {
		rc = -1;
		goto out;
	}
	if (ms == MAP_NOTFOUND) {
		rc = done(st, addr, depth);
		goto out;
	}
	if (level >= r->valias_recursion_limit) {
		expand_fail(st, st->rcpt_addr, "5.4.6", "unreasonable virtual_alias_maps map nesting for %s",
			    st->rcpt_addr);
		goto out;
	}
	{
		char *save = NULL;

		for (char *tok = strtok_r(v, ", \t\r\n", &save); tok && rc >= 0;
		     tok = strtok_r(NULL, ", \t\r\n", &save)) {
			char *q;

			/* "@domain" as a result keeps the local part (virtual(5)). */
			if (tok[0] == '@' && at) {
				const char *src = unmatched ? base : addr, *sat = resolve_addr_at(src);

				q = must_asprintf("%.*s%s", (int)(sat ? sat - src : 0), src, tok);
			} else {
				q = resolve_qualify(r, tok);
			}

			if (unmatched && (r->propagate & PROP_VIRTUAL)) {
				char *e = resolve_add_ext(r, q, addr, ext);

				free(q);
				q = e;
			}
			if (st->valias_over || ++st->valias_count > (size_t)r->valias_expansion_limit) {
				if (!st->valias_over)
					expand_fail(st, st->rcpt_addr, "5.4.6",
						    "unreasonable virtual_alias_maps map expansion size for %s",
						    st->rcpt_addr);
				st->valias_over = true;
				free(q);
				rc = 1;
				break;
			}
			if (strlen(q) > RESOLVE_ADDR_MAX)
				expand_fail(st, addr, "5.1.3", "virtual alias result for %s is too long", addr);
			else if (strcasecmp(q, addr) == 0)
				/* Maps to itself: deliver it, expand no further. */
				rc = done(st, q, depth);
			else
				rc = walk(st, q, level + 1, depth, done);
			free(q);
		}
	}
out:
	free(v);
	free(base);
	free(ext);
	return rc < 0 ? -1 : rc;
}

int valias_expand(struct expand_state *st, const char *addr, unsigned depth, valias_done_fn *done)
{
	return walk(st, addr, 0, depth, done);
}
