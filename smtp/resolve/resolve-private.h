/*
 * resolve-private.h - what the files of smtp/resolve/ share. The public
 * contract is resolve.h; nothing outside smtp/resolve/ includes this.
 *
 *   resolve.c        resolve_new/free/check_config: settings and tables
 *   rewrite.c        myorigin/mydomain, canonical, masquerading
 *   virtual.c        virtual_alias_maps expansion
 *   alias.c          alias_maps, :include:, ~/.forward (local(8))
 *   alias-file.c     aliases(5) parser and resolve_aliases_build
 *   expand.c         resolve_expand: the per-recipient pipeline
 *   route.c          resolve_route: transport_maps, store, relayhost, MX
 *   header-rewrite.c resolve_rewrite_header
 *   userdb-sync.c    the blocking userdb socket client
 *
 * Domain classes come from the SMTP restrictions' own lists
 * (smtp/restrict-private.h: struct domain_list), so the queue decides
 * "local", "virtual mailbox" and "relay" exactly as smtpd accepted them.
 */
#ifndef POSTERN_SMTP_RESOLVE_PRIVATE_H
#define POSTERN_SMTP_RESOLVE_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "maps.h"
#include "smtp/resolve/resolve.h"
#include "smtp/restrict-private.h"
#include "util.h"

/* Longest address handled; longer ones (hostile tables) are refused. */
#define RESOLVE_ADDR_MAX 1000
/* Nesting of alias / :include: / .forward / luser_relay re-expansion. */
#define RESOLVE_LOCAL_DEPTH_MAX 20
/* Most final destinations one message may expand to. */
#define RESOLVE_DESTS_MAX 10000
/* Most addresses looked at for one message (aliases of aliases of
 * :include: files...): a bound on hostile alias files. */
#define RESOLVE_WORK_MAX 100000
/* Most items of one alias, include or forward file. */
#define RESOLVE_ALIAS_ITEMS_MAX 10000
/* :include: and .forward files larger than this are refused. */
#define RESOLVE_INCLUDE_FILE_MAX (1024 * 1024)

/* canonical_classes / masquerade_classes bits */
enum {
	RW_ENV_SENDER = 1 << 0,
	RW_ENV_RECIPIENT = 1 << 1,
	RW_HDR_SENDER = 1 << 2,
	RW_HDR_RECIPIENT = 1 << 3,
};

/* propagate_unmatched_extensions bits */
enum {
	PROP_CANONICAL = 1 << 0,
	PROP_VIRTUAL = 1 << 1,
	PROP_ALIAS = 1 << 2,
	PROP_FORWARD = 1 << 3,
	PROP_INCLUDE = 1 << 4,
};

/* allow_mail_to_commands / allow_mail_to_files bits */
enum {
	ALLOW_ALIAS = 1 << 0,
	ALLOW_INCLUDE = 1 << 1,
	ALLOW_FORWARD = 1 << 2,
};

enum resolve_class { RCLASS_LOCAL, RCLASS_VIRTUAL_ALIAS, RCLASS_VIRTUAL_MAILBOX, RCLASS_RELAY,
		     RCLASS_DEFAULT };

struct resolve {
	char *myorigin, *mydomain, *myhostname;
	char *delim;                     /* recipient_delimiter characters; "" none */
	bool append_at_myorigin, append_dot_mydomain;
	struct map_list *canonical, *sender_canonical, *recipient_canonical;
	unsigned canonical_classes, masquerade_classes;
	char **masq_domains, **masq_exceptions;   /* NULL-terminated */
	unsigned propagate;
	struct map_list *virtual_alias, *alias, *relocated, *transport;
	char *luser_relay;               /* "" none */
	struct domain_list mydestination, virtual_alias_domains, virtual_mailbox_domains,
		relay_domains;
	char *relayhost;
	long long valias_expansion_limit, valias_recursion_limit, hopcount_limit;
	unsigned allow_commands, allow_files;
	char *forward_path;              /* unexpanded ($home, $user...) */
	char *mail_owner;
	/* map_lookup values live in the table until its next lookup, and
	 * LMDB tables reopen themselves when rebuilt: every look-up holds
	 * this lock and copies the value before letting go. */
	pthread_mutex_t lock;
};

/* ---- resolve.c ---- */

/* resolve_lookup - map_list_lookup_address (address true) or
 * map_list_lookup under r->lock. MAP_FOUND: *value_r new memory. */
enum map_status resolve_lookup(struct resolve *r, struct map_list *ml, const char *key, bool address,
			       unsigned flags, char **value_r, char **error_r);
/* resolve_class - the domain's class; -1 on a temporary table failure. */
int resolve_class(struct resolve *r, const char *domain, enum resolve_class *cls_r);
/* resolve_is_local_domain - myorigin or mydestination (canonical(5) and
 * virtual(5) "user" lookups); -1 temporary failure. */
int resolve_is_local_domain(struct resolve *r, const char *domain);

/* ---- rewrite.c ---- */

/* Split addr at the last '@' (outside a leading quoted string): *at_r
 * points to it or is NULL. */
const char *resolve_addr_at(const char *addr);
/* resolve_split_ext - "user+ext@d" -> base "user@d" and ext "ext" (first
 * delimiter character found in the local part); false when there is no
 * extension (base = addr, ext = ""). */
bool resolve_split_ext(const struct resolve *r, const char *addr, char *base, size_t bsize, char *ext,
		       size_t esize);
/* resolve_add_ext - "user@d" + "ext" -> "user+ext@d" (new memory), using
 * the delimiter character of orig (the address the extension came from). */
char *resolve_add_ext(const struct resolve *r, const char *addr, const char *orig, const char *ext);
/* resolve_qualify - append_at_myorigin and append_dot_mydomain. New memory. */
char *resolve_qualify(const struct resolve *r, const char *addr);
/* resolve_rewrite_addr - qualify, canonical (sender_ or recipient_ maps
 * first, for the class bit given) and masquerading. New memory in *out;
 * 0, or -1 with *error_r on a temporary table failure. */
int resolve_rewrite_addr(struct resolve *r, const char *addr, unsigned class_bit, char **out,
			 char **error_r);

/* ---- the expansion's output (expand.c) ---- */

struct expand_state {
	struct resolve *r;
	const struct resolve_input *in;
	resolve_user_fn *user;
	void *uctx;
	struct resolve_result *res;
	size_t cap_dests, cap_failed;
	size_t orig;                   /* the envelope recipient being expanded */
	const char *rcpt_addr;         /* its address (rewritten) */
	char **delivered_to;           /* Delivered-To: values of the message, lower case */
	size_t n_delivered_to;
	size_t valias_count;           /* addresses virtual_alias_maps produced for orig */
	bool valias_over;              /* virtual_alias_expansion_limit hit for orig */
	size_t work;                   /* expand_address calls for the message */
	bool dests_over;               /* RESOLVE_DESTS_MAX hit (recorded once) */
	bool in_luser;                 /* expanding luser_relay: no second relay */
	char *error;                   /* temporary failure: why */
};

/* expand_add_dest - add a final destination unless one with the same
 * kind and value exists. 0, or -1 (too many; a failure is recorded). */
int expand_add_dest(struct expand_state *st, enum qdest_kind kind, const char *runas, const char *value);
/* expand_fail - record a permanent failure of addr (dsn, printf text). */
void expand_fail(struct expand_state *st, const char *addr, const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* expand_address - the whole pipeline for addr (virtual, then local).
 * depth counts alias-level re-expansions. 0, or -1 on a temporary failure
 * (st->error set). */
int expand_address(struct expand_state *st, const char *addr, unsigned depth);
/* expand_local - the local(8) part for addr of a mydestination domain;
 * no_alias skips alias_maps ("\\user", an alias naming itself). */
int expand_local(struct expand_state *st, const char *addr, unsigned depth, bool no_alias);

/* ---- virtual.c ---- */

/* valias_expand - virtual_alias_maps for addr; each final address is
 * passed to done(). 0, 1 (a permanent failure was recorded), -1 temp. */
typedef int valias_done_fn(struct expand_state *st, const char *addr, unsigned depth);
int valias_expand(struct expand_state *st, const char *addr, unsigned depth, valias_done_fn *done);

/* ---- alias.c ---- */

/* alias_items_expand - deliver to each item of an alias / include /
 * forward value (the list syntax of aliases(5)); origin ALLOW_* says
 * where it came from (commands and files are checked against it).
 * name is the alias or user (self references, texts), addr the address
 * that was expanded (failures are recorded for it), ext the extension to
 * propagate or NULL. */
int alias_items_expand(struct expand_state *st, const char *name, const char *addr, const char *value,
		       unsigned origin, const char *ext, unsigned depth);
/* alias_lookup_local - alias_maps for the local part lp (with extension
 * first). 1 found (*value_r new memory, *unmatched_ext_r true when found
 * only without the extension), 0 not, -1 temp. */
int alias_lookup_local(struct expand_state *st, const char *lp, char **value_r, bool *unmatched_ext_r);
/* alias_forward - ~/.forward of a system user. 1 the forward file took
 * the mail, 0 none (deliver to the mailbox), -1 temp. */
int alias_forward(struct expand_state *st, const struct resolve_user *u, const char *addr,
		  const char *ext, unsigned depth);

/* The $name values of forward_path and luser_relay (local(8)). */
struct resolve_vars {
	const char *user, *home, *extension, *delimiter, *local, *domain, *recipient;
};
/* resolve_template - expand $name, ${name}, ${name?text}, ${name:text} and
 * $$ in tmpl (unknown names are empty). New memory, NULL when too long. */
char *resolve_template(const char *tmpl, const struct resolve_vars *v);

/* ---- alias-file.c ---- */

struct alias_entry {
	char *name;
	char *value;
	unsigned line;
};

/* alias_file_parse - aliases(5) text into entries (new memory, free with
 * alias_entries_free). 0, or -1 with *error_r (new memory,
 * "NAME:LINE: problem; fix"). */
int alias_file_parse(const char *name, const char *text, size_t len, struct alias_entry **e_r,
		     size_t *n_r, char **error_r);
void alias_entries_free(struct alias_entry *e, size_t n);

/*
 * alias_database_foreach - for each table of alias_database (split as
 * Postfix splits a table list: commas and blanks, but never inside
 * inline:{...} braces), fn(ctx, spec, source) where source is the
 * aliases(5) file of an lmdb: table (or of a bare /path, lmdb being the
 * default type) and NULL for every other type. Stops at fn's non-zero
 * return and returns it; 0 when all were visited.
 */
int alias_database_foreach(const struct config *cfg, int (*fn)(void *ctx, const char *spec, const char *source),
			   void *ctx);
/* alias_list_split - split an alias value into its items (commas outside
 * quotes; quotes around an item removed). NULL-terminated new array; NULL
 * when there are more than max items or on a syntax error. */
char **alias_list_split(const char *value, size_t max);
void alias_list_free(char **items);

/* ---- header-rewrite.c ---- */

#endif
