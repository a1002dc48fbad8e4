/*
 * expand.c - resolve_expand: every envelope recipient of a message into
 * its final destinations, once, before the first delivery. Per recipient,
 * in order (Postfix: cleanup(8), then qmgr(8)/trivial-rewrite(8), then
 * local(8)):
 *
 *   1. rewrite (rewrite.c): myorigin / mydomain, canonical, masquerade;
 *   2. virtual_alias_maps (virtual.c);
 *   3. relocated_maps for every address left: 5.1.6 "user has moved to NEW";
 *   4. by domain class:
 *      mydestination -> Delivered-To loop check, alias_maps (alias.c),
 *        the user must exist in the userdb (else luser_relay, else 5.1.1
 *        `unknown user: "name"`), ~/.forward of system users, mailbox;
 *      virtual_alias_domains (no alias matched) -> 5.1.1 "User unknown in
 *        virtual alias table";
 *      virtual_mailbox_domains -> the userdb must know user@domain;
 *      anything else -> the address as it is (routed by route.c).
 *   recipient_delimiter extensions: tables are tried with the extension
 *   and then without; the final address keeps it (the store files
 *   user+ext into a folder).
 *
 * A message with more Received: headers than hopcount_limit fails for
 * every recipient with 5.4.6 "too many hops". Final destinations that
 * repeat (same kind and value) are kept once, the first one.
 *
 * Called by the queue role on a worker thread, once per message.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/resolve/resolve-private.h"

static char *xstrdup_lower(const char *s)
{
	return str_lower(must_strdup(s));
}

int expand_add_dest(struct expand_state *st, enum qdest_kind kind, const char *runas, const char *value)
{
	struct resolve_result *res = st->res;
	struct qdest_new *d;

	for (size_t i = 0; i < res->n_dests; i++) {
		bool failed = false;

		if (res->dests[i].kind != kind ||
		    (kind == QDEST_ADDR ? strcasecmp(res->dests[i].value, value) != 0
					: strcmp(res->dests[i].value, value) != 0))
			continue;
		for (size_t k = 0; k < res->n_failed && !failed; k++)
			failed = res->failed[k].dest == i;
		if (!failed)
			return 0;
	}
	if (res->n_dests >= RESOLVE_DESTS_MAX) {
		if (!st->dests_over)
			expand_fail(st, st->rcpt_addr, "5.3.4", "too many destinations (more than %d)",
				    RESOLVE_DESTS_MAX);
		st->dests_over = true;
		return 0;
	}
	if (res->n_dests == st->cap_dests) {
		st->cap_dests = st->cap_dests ? st->cap_dests * 2 : 8;
		res->dests = must_realloc(res->dests, st->cap_dests * sizeof(*res->dests));
	}
	d = &res->dests[res->n_dests++];
	d->orig = st->orig;
	d->kind = kind;
	d->runas = runas ? must_strdup(runas) : NULL;
	d->value = must_strdup(value);
	return 0;
}

void expand_fail(struct expand_state *st, const char *addr, const char *dsn, const char *fmt, ...)
{
	struct resolve_result *res = st->res;
	struct qdest_new *d;
	struct qstatus *s;
	va_list ap;
	char *text;
	struct strbuf sb;

	if (res->n_failed >= RESOLVE_DESTS_MAX)
		return;   /* enough to tell the sender; the rest is the same story */
	strbuf_init(&sb, 2048);
	va_start(ap, fmt);
	/* Too long for the limit: the text is what fitted, never nothing. */
	if (strbuf_vprintf(&sb, fmt, ap) < 0)
		strbuf_puts(&sb, "address expansion failed");
	va_end(ap);
	text = strbuf_steal(&sb);
	if (text == NULL)
		text = must_strdup("");
	if (res->n_dests == st->cap_dests) {
		st->cap_dests = st->cap_dests ? st->cap_dests * 2 : 8;
		res->dests = must_realloc(res->dests, st->cap_dests * sizeof(*res->dests));
	}
	d = &res->dests[res->n_dests];
	d->orig = st->orig;
	d->kind = QDEST_ADDR;
	d->runas = NULL;
	d->value = must_strdup(addr);
	if (res->n_failed == st->cap_failed) {
		st->cap_failed = st->cap_failed ? st->cap_failed * 2 : 4;
		res->failed = must_realloc(res->failed, st->cap_failed * sizeof(*res->failed));
	}
	s = &res->failed[res->n_failed++];
	s->dest = res->n_dests++;
	s->result = QDEST_BOUNCED;
	s->dsn = must_strdup(dsn);
	s->relay = must_strdup("none");
	s->diag = must_strdup("");
	s->text = text;
}

/* A Delivered-To: of the message names addr: a forwarding loop. */
static bool looped(const struct expand_state *st, const char *addr)
{
	for (size_t i = 0; i < st->n_delivered_to; i++)
		if (strcasecmp(st->delivered_to[i], addr) == 0)
			return true;
	return false;
}

/* user_lookup - ask the userdb for a, then (local domains) its local part. */
static enum resolve_lookup user_lookup(struct expand_state *st, const char *full, const char *localpart,
				       struct resolve_user *u)
{
	enum resolve_lookup lr;

	memset(u, 0, sizeof(*u));
	lr = st->user(st->uctx, full, u);
	if (lr == RESOLVE_NOTFOUND && localpart) {
		memset(u, 0, sizeof(*u));
		lr = st->user(st->uctx, localpart, u);
	}
	if (lr == RESOLVE_TEMPFAIL && st->error == NULL)
		st->error = must_asprintf("user look-up of \"%s\" failed", full);
	return lr;
}

int expand_local(struct expand_state *st, const char *addr0, unsigned depth, bool no_alias)
{
	struct resolve *r = st->r;
	char *addr = xstrdup_lower(addr0);
	const char *at = resolve_addr_at(addr);
	char *lp = must_strndup(addr, at ? (size_t)(at - addr) : strlen(addr));
	char *base = must_malloc(strlen(addr) + 1), *ext = must_malloc(strlen(addr) + 1);
	char *user_full = NULL, *user_lp = NULL, *value = NULL;
	struct resolve_user u;
	enum resolve_lookup lr;
	bool unmatched;
	int rc = 0;

	if (looped(st, addr)) {
		expand_fail(st, addr, "5.4.6", "mail forwarding loop for %s", addr);
		goto out;
	}
	if (!no_alias) {
		rc = alias_lookup_local(st, lp, &value, &unmatched);
		if (rc < 0)
			goto out;
		if (rc > 0) {
			const char *name = lp;

			/* Found as "team" for team+x: the alias is "team", and
			 * x goes onto its results only when asked to. */
			if (unmatched) {
				resolve_split_ext(r, lp, base, strlen(addr) + 1, ext, strlen(addr) + 1);
				name = base;
			}
			rc = alias_items_expand(st, name, addr, value, ALLOW_ALIAS,
						unmatched && (r->propagate & PROP_ALIAS) ? ext : NULL, depth);
			goto out;
		}
	}
	resolve_split_ext(r, addr, base, strlen(addr) + 1, ext, strlen(addr) + 1);
	user_full = must_strdup(base);
	{
		const char *bat = resolve_addr_at(user_full);

		user_lp = must_strndup(user_full, bat ? (size_t)(bat - user_full) : strlen(user_full));
	}
	lr = user_lookup(st, user_full, user_lp, &u);
	if (lr == RESOLVE_TEMPFAIL) {
		rc = -1;
		goto out;
	}
	if (lr == RESOLVE_NOTFOUND) {
		if (r->luser_relay[0] != '\0' && !st->in_luser) {
			char delim[2] = { r->delim[0], '\0' };
			struct resolve_vars v = { .user = user_lp, .home = "", .extension = ext,
						  .delimiter = ext[0] ? delim : "", .local = lp,
						  .domain = at ? at + 1 : "", .recipient = addr };
			char *relay = resolve_template(r->luser_relay, &v), *q;

			if (relay == NULL || str_trim(relay)[0] == '\0') {
				free(relay);
				expand_fail(st, addr, "5.3.5", "luser_relay expands to nothing for %s", addr);
				goto out;
			}
			q = resolve_qualify(r, str_trim(relay));
			free(relay);
			st->in_luser = true;
			rc = expand_address(st, q, depth + 1);
			st->in_luser = false;
			free(q);
			goto out;
		}
		expand_fail(st, addr, "5.1.1", "unknown user: \"%s\"", user_lp);
		goto out;
	}
	/* "\\user" and an alias naming itself skip ~/.forward too (aliases(5)). */
	if (u.system && !no_alias) {
		rc = alias_forward(st, &u, addr, ext[0] ? ext : NULL, depth);
		if (rc != 0)
			goto out;
	}
	rc = expand_add_dest(st, QDEST_ADDR, NULL, addr);
out:
	free(addr);
	free(lp);
	free(base);
	free(ext);
	free(user_full);
	free(user_lp);
	free(value);
	return rc == -1 ? -1 : 0;
}

static int virtual_mailbox(struct expand_state *st, const char *addr0)
{
	char *addr = xstrdup_lower(addr0);
	char *base = must_malloc(strlen(addr) + 1), *ext = must_malloc(strlen(addr) + 1);
	struct resolve_user u;
	enum resolve_lookup lr;
	int rc = 0;

	if (looped(st, addr)) {
		expand_fail(st, addr, "5.4.6", "mail forwarding loop for %s", addr);
		goto out;
	}
	resolve_split_ext(st->r, addr, base, strlen(addr) + 1, ext, strlen(addr) + 1);
	lr = user_lookup(st, base, NULL, &u);
	if (lr == RESOLVE_TEMPFAIL)
		rc = -1;
	else if (lr == RESOLVE_NOTFOUND)
		expand_fail(st, addr, "5.1.1", "unknown user: \"%s\"", base);
	else
		rc = expand_add_dest(st, QDEST_ADDR, NULL, addr);
out:
	free(addr);
	free(base);
	free(ext);
	return rc == -1 ? -1 : 0;
}

/* relocated - 1 the address moved (failure recorded), 0 no, -1 temp. */
static int relocated(struct expand_state *st, const char *addr, bool local)
{
	struct resolve *r = st->r;
	unsigned flags = MAP_ADDR_VIRTUAL | (local ? MAP_ADDR_LOCAL_DOMAIN : 0);
	char *base = must_malloc(strlen(addr) + 1), *ext = must_malloc(strlen(addr) + 1), *v = NULL;
	enum map_status ms;

	ms = resolve_lookup(r, r->relocated, addr, true, flags, &v, &st->error);
	if (ms == MAP_NOTFOUND && resolve_split_ext(r, addr, base, strlen(addr) + 1, ext, strlen(addr) + 1))
		ms = resolve_lookup(r, r->relocated, base, true, flags, &v, &st->error);
	free(base);
	free(ext);
	if (ms == MAP_FOUND) {
		/* relocated(5): "user has moved to new_location". */
		expand_fail(st, addr, "5.1.6", "user has moved to %s", str_trim(v));
		free(v);
		return 1;
	}
	return ms == MAP_TEMPFAIL ? -1 : 0;
}

/* after_virtual - what happens to an address no virtual alias changed. */
static int after_virtual(struct expand_state *st, const char *addr, unsigned depth)
{
	const char *at = resolve_addr_at(addr);
	enum resolve_class cls = RCLASS_LOCAL;
	int m;

	if (at && resolve_class(st->r, at + 1, &cls) < 0) {
		st->error = must_asprintf("domain look-up of \"%s\" failed", at + 1);
		return -1;
	}
	m = relocated(st, addr, cls == RCLASS_LOCAL || (at && strcasecmp(at + 1, st->r->myorigin) == 0));
	if (m != 0)
		return m < 0 ? -1 : 0;
	switch (cls) {
	case RCLASS_LOCAL:
		return expand_local(st, addr, depth, false);
	case RCLASS_VIRTUAL_ALIAS:
		expand_fail(st, addr, "5.1.1", "User unknown in virtual alias table");
		return 0;
	case RCLASS_VIRTUAL_MAILBOX:
		return virtual_mailbox(st, addr);
	default:
		return expand_add_dest(st, QDEST_ADDR, NULL, addr) == -1 ? -1 : 0;
	}
}

int expand_address(struct expand_state *st, const char *addr, unsigned depth)
{
	if (depth >= RESOLVE_LOCAL_DEPTH_MAX) {
		expand_fail(st, addr, "5.4.6", "mail forwarding loop for %s", addr);
		return 0;
	}
	if (++st->work > RESOLVE_WORK_MAX) {
		if (st->work == RESOLVE_WORK_MAX + 1)
			expand_fail(st, st->rcpt_addr, "5.3.4", "alias expansion too large (more than %d "
				    "addresses)", RESOLVE_WORK_MAX);
		return 0;
	}
	return valias_expand(st, addr, depth, after_virtual) < 0 ? -1 : 0;
}

/* scan_header - count Received: and collect Delivered-To: values. */
static size_t scan_header(struct expand_state *st, const char *h, size_t len)
{
	size_t received = 0, pos = 0, cap = 0;

	while (pos < len) {
		const char *s = h + pos, *e = memchr(s, '\n', len - pos);
		size_t n = e ? (size_t)(e - s) : len - pos;

		pos += n + (e ? 1 : 0);
		if (n == 0 || (n == 1 && s[0] == '\r'))
			break;   /* end of the header section */
		if (s[0] == ' ' || s[0] == '\t')
			continue;
		if (n >= 9 && strncasecmp(s, "Received:", 9) == 0)
			received++;
		else if (n >= 13 && strncasecmp(s, "Delivered-To:", 13) == 0 && st->n_delivered_to < 1000) {
			char *v = must_strndup(s + 13, n - 13), *t = str_trim(v);

			if (st->n_delivered_to == cap) {
				cap = cap ? cap * 2 : 4;
				st->delivered_to = must_realloc(st->delivered_to, cap * sizeof(char *));
			}
			st->delivered_to[st->n_delivered_to++] = must_strdup(t);
			free(v);
		}
	}
	return received;
}

int resolve_expand(struct resolve *r, const struct resolve_input *in, resolve_user_fn *user, void *uctx,
		   struct resolve_result *out, char **error_r)
{
	struct expand_state st = { .r = r, .in = in, .user = user, .uctx = uctx, .res = out };
	size_t received;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	received = in->header ? scan_header(&st, in->header, in->header_len) : 0;
	if (in->sender && in->sender[0] != '\0') {
		char *xs = NULL;

		if (resolve_rewrite_addr(r, in->sender, RW_ENV_SENDER, &xs, &st.error) < 0) {
			rc = -1;
			goto out;
		}
		if (strcmp(xs, in->sender) == 0)
			free(xs);
		else
			out->xsender = xs;
	}
	for (size_t i = 0; i < in->n_rcpts && rc == 0; i++) {
		char *a = NULL;

		st.orig = i;
		st.valias_count = 0;
		st.valias_over = false;
		st.rcpt_addr = in->rcpts[i].addr;
		if (received > (size_t)r->hopcount_limit) {
			expand_fail(&st, in->rcpts[i].addr, "5.4.6", "too many hops");
			continue;
		}
		if (resolve_rewrite_addr(r, in->rcpts[i].addr, RW_ENV_RECIPIENT, &a, &st.error) < 0) {
			rc = -1;
			break;
		}
		st.rcpt_addr = a;
		if (strlen(a) > RESOLVE_ADDR_MAX || a[0] == '\0')
			expand_fail(&st, in->rcpts[i].addr, "5.1.3", "bad address syntax");
		else
			rc = expand_address(&st, a, 0);
		free(a);
	}
out:
	for (size_t i = 0; i < st.n_delivered_to; i++)
		free(st.delivered_to[i]);
	free(st.delivered_to);
	if (rc < 0) {
		*error_r = st.error ? st.error : must_strdup("temporary failure");
		resolve_result_free(out);
		return -1;
	}
	free(st.error);
	return 0;
}

void resolve_result_free(struct resolve_result *res)
{
	if (res == NULL)
		return;
	free(res->xsender);
	for (size_t i = 0; i < res->n_dests; i++) {
		free((char *)res->dests[i].runas);
		free((char *)res->dests[i].value);
	}
	free(res->dests);
	for (size_t i = 0; i < res->n_failed; i++) {
		free((char *)res->failed[i].dsn);
		free((char *)res->failed[i].relay);
		free((char *)res->failed[i].diag);
		free((char *)res->failed[i].text);
	}
	free(res->failed);
	memset(res, 0, sizeof(*res));
}
