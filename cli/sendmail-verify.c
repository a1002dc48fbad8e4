/*
 * sendmail-verify.c - "sendmail -bv ADDRESS...": what would become of
 * each recipient, without sending anything. The addresses go through the
 * queue role's own rewriting, expansion and routing (smtp/resolve/
 * resolve.h: canonical, virtual aliases, aliases, relocated, transport
 * maps, relayhost), with the auth role's userdb socket for user look-ups,
 * and one line per final destination is printed on standard output:
 *
 *   bob@example.net: deliverable: smtp to example.net
 *   root@example.com -> admin@example.net: deliverable: smtp to example.net
 *   alice@example.com: deliverable: mailbox alice
 *   old@example.com: undeliverable: 5.1.6 user has moved to new@example.org
 *
 * Postfix's -bv mails this report to the sender instead; the printed
 * form is Sendmail's (and what an admin at a terminal wants). The exit
 * status is 0 when every address is deliverable, 67 (EX_NOUSER) when one
 * is not, 75 when a table or the userdb did not answer.
 *
 * Called by cli/sendmail.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli/sendmail-private.h"
#include "smtp/resolve/resolve.h"
#include "util.h"

static const struct qstatus *failure_of(const struct resolve_result *res, size_t dest)
{
	for (size_t i = 0; i < res->n_failed; i++)
		if (res->failed[i].dest == dest)
			return &res->failed[i];
	return NULL;
}

/* print_dest - one line; returns false when the dest is undeliverable. */
static bool print_dest(struct resolve *r, const struct resolve_result *res, size_t i, const char *orig,
		       FILE *out, const char *prog)
{
	const struct qdest_new *d = &res->dests[i];
	const struct qstatus *f = failure_of(res, i);
	struct resolve_route route;
	char *err = NULL;

	if (strcmp(orig, d->value) == 0 || d->kind != QDEST_ADDR)
		fprintf(out, "%s: ", orig);
	else
		fprintf(out, "%s -> %s: ", orig, d->value);
	if (f) {
		fprintf(out, "undeliverable: %s %s\n", f->dsn ? f->dsn : "5.0.0", f->text ? f->text : "");
		return false;
	}
	switch (d->kind) {
	case QDEST_PIPE:
		fprintf(out, "deliverable: command \"%s\"%s%s\n", d->value, d->runas ? " as " : "",
			d->runas ? d->runas : "");
		return true;
	case QDEST_FILE:
		fprintf(out, "deliverable: file %s%s%s\n", d->value, d->runas ? " as " : "", d->runas ? d->runas : "");
		return true;
	case QDEST_DISCARD:
		fprintf(out, "discarded\n");
		return true;
	case QDEST_ADDR:
		break;
	}
	if (resolve_route(r, d->value, &route, &err) < 0) {
		fprintf(out, "deferred: %s\n", err);
		fprintf(stderr, "%s: warning: %s: %s\n", prog, d->value, err);
		free(err);
		return true;
	}
	switch (route.kind) {
	case ROUTE_STORE:
		fprintf(out, "deliverable: mailbox %s\n", route.user);
		return true;
	case ROUTE_SMTP:
		fprintf(out, "deliverable: smtp to %s\n", route.nexthop);
		return true;
	case ROUTE_DISCARD:
		fprintf(out, "discarded: %s\n", route.text);
		return true;
	case ROUTE_ERROR:
	default:
		fprintf(out, "undeliverable: %s %s\n", route.dsn, route.text);
		return false;
	}
}

int sendmail_verify(const struct config *cfg, const char *prog, char *const *rcpts, size_t n, FILE *out)
{
	struct resolve *r;
	struct resolve_userdb *udb;
	struct resolve_input in;
	struct resolve_result res;
	struct qrcpt *q;
	char *err = NULL;
	bool all_ok = true;
	int rc;

	r = resolve_new(cfg, &err);
	if (r == NULL) {
		fprintf(stderr, "%s: fatal: %s\n", prog, err);
		free(err);
		return EX_CONFIG;
	}
	udb = resolve_userdb_new(config_str(cfg, "auth_userdb_socket_path"));
	q = must_calloc(n ? n : 1, sizeof(*q));
	for (size_t i = 0; i < n; i++)
		q[i].addr = rcpts[i];
	memset(&in, 0, sizeof(in));
	memset(&res, 0, sizeof(res));
	in.sender = "";
	in.local_submission = true;
	in.rcpts = q;
	in.n_rcpts = n;
	rc = resolve_expand(r, &in, resolve_userdb_lookup, udb, &res, &err);
	if (rc < 0) {
		fprintf(stderr, "%s: fatal: cannot verify the addresses now: %s\n", prog, err);
		free(err);
		rc = EX_TEMPFAIL;
	} else {
		for (size_t i = 0; i < res.n_dests; i++) {
			size_t o = res.dests[i].orig;
			if (!print_dest(r, &res, i, o < n ? rcpts[o] : "?", out, prog))
				all_ok = false;
		}
		resolve_result_free(&res);
		rc = all_ok ? 0 : EX_NOUSER;
	}
	fflush(out);
	free(q);
	resolve_userdb_free(&udb);
	resolve_free(&r);
	return rc;
}
