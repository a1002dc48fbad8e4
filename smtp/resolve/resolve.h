/*
 * resolve.h - what happens to addresses between the queue and delivery,
 * in Postfix's order (cleanup(8), trivial-rewrite(8), local(8),
 * postconf(5) "ADDRESS_REWRITING_README"):
 *
 *   1. rewriting of the sender and each recipient: append_at_myorigin /
 *      append_dot_mydomain, canonical_maps (sender_/recipient_ first),
 *      masquerade_domains (with masquerade_exceptions and _classes);
 *   2. expansion of each recipient: virtual_alias_maps (recursively, with
 *      `@domain` catch-alls and one-to-many results, bounded by
 *      virtual_alias_expansion_limit / _recursion_limit), then for local
 *      domains (mydestination) alias_maps (/etc/aliases syntax, with
 *      :include:, |command and /file), ~/.forward of system users,
 *      relocated_maps (5.1.6 with the new address), unknown users (5.1.1)
 *      or luser_relay; recipient_delimiter extensions are tried with and
 *      without the extension, as Postfix; loops (a Delivered-To: naming
 *      the recipient, more Received: headers than hopcount_limit) fail
 *      with 5.4.6;
 *   3. routing of each final address at each attempt: transport_maps,
 *      local and virtual mailbox domains to the store, relayhost, else
 *      the recipient's domain by MX.
 *
 * Called by the queue role (smtp/queue/), on its worker threads: every
 * function here may block (table look-ups, the userdb socket, reading
 * alias and forward files) and none keeps global state; one struct
 * resolve may be used by several threads at once (look-ups only).
 * `postern check` and the queue role's check_config call
 * resolve_check_config(); `postern aliases` and newaliases call
 * resolve_aliases_build().
 */
#ifndef POSTERN_SMTP_RESOLVE_H
#define POSTERN_SMTP_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "smtp/queue/qmsg.h"

struct resolve;

/*
 * resolve_new - settings and tables of cfg, opened. NULL with *error_r
 * (new memory, "FILE:LINE: NAME: problem; fix") when a table or an alias
 * file cannot be used.
 */
struct resolve *resolve_new(const struct config *cfg, char **error_r);
void resolve_free(struct resolve **r);

/* resolve_check_config - what resolve_new checks, for posternd's start,
 * reload and `postern check` (alias source files are parsed: a syntax
 * error is reported as "/etc/aliases:12: ..."). 0, or -1 with *error_r. */
int resolve_check_config(const struct config *cfg, char **error_r);

/* ---- users (the auth role's userdb socket, or a test double) ---- */

enum resolve_lookup { RESOLVE_FOUND, RESOLVE_NOTFOUND, RESOLVE_TEMPFAIL };

struct resolve_user {
	char name[256];       /* as the userdb knows it ("alice" or "alice@example.org") */
	bool system;          /* a system (PAM) account: uid, gid, home are set */
	uid_t uid;
	gid_t gid;
	char home[512];
	char mail[512];       /* userdb mail= (mail_location override), "" if none */
	uint64_t quota_bytes; /* userdb quota_bytes=, 0 if none */
};

/* Blocking, thread-safe: the answer for name (an address of a local or
 * virtual mailbox domain, or a bare local part). */
typedef enum resolve_lookup resolve_user_fn(void *ctx, const char *name, struct resolve_user *out);

/*
 * The auth role's userdb socket as a resolve_user_fn: one connection per
 * thread that uses it, made on first use and again after an error.
 * resolve_userdb_new returns NULL only when out of memory.
 */
struct resolve_userdb;
struct resolve_userdb *resolve_userdb_new(const char *socket_path);
void resolve_userdb_free(struct resolve_userdb **u);
resolve_user_fn resolve_userdb_lookup;   /* ctx: struct resolve_userdb * */

/* ---- expansion: once per message, before its first delivery ---- */

struct resolve_input {
	const char *sender;              /* envelope sender as queued ("" = <>) */
	bool local_submission;           /* from sendmail (pickup): bare names get @myorigin */
	const struct qrcpt *rcpts;
	size_t n_rcpts;
	const char *header;              /* the message's header section (loops: Received:, Delivered-To:) */
	size_t header_len;
};

struct resolve_result {
	char *xsender;                   /* rewritten sender, NULL: unchanged */
	struct qdest_new *dests;         /* strings owned by the result */
	size_t n_dests;
	struct qstatus *failed;          /* immediate failures; .dest indexes dests */
	size_t n_failed;
};

/*
 * resolve_expand - rewrite and expand every recipient of in into final
 * destinations (a recipient that fails, e.g. an unknown local user, gets
 * a dest of kind addr and a BOUNCED status in failed). Returns 0 with
 * *out filled (free with resolve_result_free), or -1 with *error_r (new
 * memory) on a temporary failure (a table or the userdb did not answer):
 * the caller defers the whole message and tries again later.
 */
int resolve_expand(struct resolve *r, const struct resolve_input *in, resolve_user_fn *user, void *uctx,
		   struct resolve_result *out, char **error_r);
void resolve_result_free(struct resolve_result *res);

/*
 * resolve_rewrite_header - canonical_maps and masquerading applied to the
 * address headers (From, Sender, Reply-To, To, Cc, Bcc, Resent-*) as
 * canonical_classes / masquerade_classes say. Returns 1 with *out (new
 * memory, *out_len bytes; the whole header section) when something
 * changed, 0 when nothing did (*out NULL), -1 with *error_r on a
 * temporary table failure.
 */
int resolve_rewrite_header(struct resolve *r, const char *hdr, size_t len, char **out, size_t *out_len,
			   char **error_r);

/* ---- routing: at each attempt, for each dest of kind addr ---- */

enum resolve_route_kind {
	ROUTE_STORE,     /* local delivery into the store: user */
	ROUTE_SMTP,      /* SMTP client: nexthop */
	ROUTE_ERROR,     /* transport_maps error:TEXT: bounce with dsn/text */
	ROUTE_DISCARD,   /* transport_maps discard: */
};

struct resolve_route {
	enum resolve_route_kind kind;
	char user[320];      /* STORE: name for store_deliver (with +ext, as the store splits it) */
	char nexthop[300];   /* SMTP: "example.com" (MX), "[192.0.2.1]:2525" / "[mx.example.com]" (no MX), "host:587" */
	char dsn[12];        /* ERROR */
	char text[512];      /* ERROR: reason; DISCARD: "discarded" */
};

/* resolve_route - route addr. 0, or -1 with *error_r (new memory) on a
 * temporary table failure (defer this dest). */
int resolve_route(struct resolve *r, const char *addr, struct resolve_route *out, char **error_r);

/* ---- the alias database (newaliases, `postern aliases`) ---- */

/*
 * resolve_aliases_build - compile every lmdb: alias table of cfg's
 * alias_database from its source file (aliases(5) syntax: "name: a, b",
 * continuation lines, # comments, :include:/file, "|command", /file).
 * out (may be NULL) gets one line per table: "/etc/aliases: 12 aliases".
 * 0, or -1 with *error_r ("/etc/aliases:7: missing ':' after the alias
 * name; write NAME: ADDRESS, ...").
 */
int resolve_aliases_build(const struct config *cfg, FILE *out, char **error_r);

#endif
