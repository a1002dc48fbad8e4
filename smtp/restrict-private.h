/*
 * restrict-private.h - what the smtp/restrict-*.c files share. The public
 * contract is restrict.h; nothing outside smtp/restrict*.c includes this,
 * except smtp/resolve/ for struct domain_list and restrict_domain_*
 * (so the queue classifies domains exactly as smtpd does).
 *
 *   restrict.c         restrictions_new/free: parameters, lists, classes
 *   restrict-parse.c   restriction list syntax and the rule table
 *   restrict-eval.c    restrict_check: the evaluation state machine
 *   restrict-rules.c   the rules that need no tables
 *   restrict-access.c  check_*_access, check_*_{a,mx,ns}_access,
 *                      check_sasl_access and access(5) actions
 *   restrict-dnsbl.c   reject_rbl_client, reject_rhsbl_*, unknown_* (DNS)
 *   restrict-addr.c    address classes, relay decision, unlisted users,
 *                      sender ownership, mynetworks
 *   restrict-reply.c   reply and log texts
 *   restrict-template.c default_rbl_reply / rbl_reply_maps templates
 *   restrict-policy.c  check_policy_service (policy delegation protocol)
 *   restrict-userdb.c  the default user look-up through auth-client
 */
#ifndef POSTERN_SMTP_RESTRICT_PRIVATE_H
#define POSTERN_SMTP_RESTRICT_PRIVATE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "dns.h"
#include "maps.h"
#include "restrict.h"

/* Bounds that hostile tables or configurations cannot push past. */
#define RESTRICT_MAX_RULES 1000      /* per list */
#define RESTRICT_MAX_CLASSES 100
#define RESTRICT_MAX_DEPTH 16        /* nested classes / access results */
#define RESTRICT_MAX_LOOKUPS 64      /* DNS + userdb look-ups per check */
#define RESTRICT_CACHE 32            /* cached answers per check */
#define RESTRICT_CACHE_RRS 16
#define RESTRICT_MAX_STEPS 10000     /* rule evaluations per check */
#define RESTRICT_DNS_CACHE 256       /* answers kept across checks */
#define RESTRICT_DNS_CACHE_SECS 60

/* Which list a rule sits in: decides the reply's "<name>: Class rejected". */
enum restrict_list {
	RLIST_CLIENT, RLIST_HELO, RLIST_SENDER, RLIST_RECIPIENT, RLIST_DATA, RLIST_EOD,
	RLIST_SASL,   /* check_sasl_access results: "<login>: SASL login name rejected" */
};

struct rule_list;
struct restrict_req;
struct userdb_call;

/* Outcome of one rule. */
enum rule_status {
	RULE_DUNNO,    /* go on with the next rule */
	RULE_OK,       /* permit: end this top-level list */
	RULE_FINAL,    /* req->result is a reject/defer: stop everything */
	RULE_PENDING,  /* a look-up was started; re-run the rule on its answer */
	RULE_PUSHED,   /* a nested list was pushed; run it next */
};

struct rule;
typedef enum rule_status rule_fn(struct restrict_req *q, const struct rule *rule);

enum rule_arg { ARG_NONE, ARG_TABLE, ARG_DOMAIN, ARG_SERVICE };

struct rule_def {
	const char *name;
	enum rule_arg arg;
	rule_fn *fn;
	/* permit, reject, defer, ...: counts as relay protection (Postfix's
	 * "specify at least one working instance of" check). */
	bool relay_guard;
};

struct rule {
	const struct rule_def *def;   /* NULL: a restriction class */
	const struct rule_list *cls;
	char *arg;                    /* ARG_DOMAIN: "zen.example=127.0.0.2" */
	struct map *map;              /* ARG_TABLE */
	bool warn_if_reject;          /* preceded by warn_if_reject */
};

struct rule_list {
	char *name;                   /* parameter or class name */
	struct rule *rules;
	size_t n;
};

struct domain_list {
	char **names;                 /* lower case; ".example.com" = subdomains */
	size_t n;
	struct map **maps;
	size_t nmaps;
	bool parent_matches;          /* "example.com" also matches subdomains */
};

struct netmask {
	int family;
	unsigned char addr[16];
	unsigned bits;
};

/* A DNS answer kept across checks, as Postfix's smtpd keeps RBL results:
 * every RCPT re-runs the client/HELO/sender lists (smtpd_delay_reject). */
struct restrict_dns_cached {
	char *key;                    /* "TYPE name" */
	int status;                   /* FOUND or NOTFOUND; failures are not kept */
	char *rr[RESTRICT_CACHE_RRS];
	size_t n;
	long long expires;            /* monotonic seconds */
};

struct restrictions {
	struct event_base *base;
	struct dns *dns;
	struct restrict_dns_cached dns_cache[RESTRICT_DNS_CACHE];
	size_t dns_cache_next;
	char *myorigin;
	char *run_directory;          /* for relative unix: policy sockets */
	struct rule_list lists[7];    /* client, helo, sender, relay, recipient, data, eod */
	struct rule_list *classes;
	size_t nclasses;
	bool delay_reject, reject_unlisted_recipient, reject_unlisted_sender;
	bool percent_hack, bangpath, untrusted_routing, dequote;
	struct domain_list mydestination, relay_domains, virtual_alias_domains,
		virtual_mailbox_domains;
	struct map_list *virtual_alias_maps, *alias_maps, *sender_login_maps;
	struct map_list *local_maps;  /* local_recipient_maps without auth:userdb */
	bool local_userdb, local_check, luser_relay;
	char recipient_delimiter[16];   /* user+ext: characters that start an extension */
	struct netmask *mynetworks;
	size_t nmynetworks;
	struct map_list *mynetworks_maps;
	int reject_code, defer_code, relay_code, access_reject_code, access_defer_code,
		invalid_hostname_code, non_fqdn_code, unknown_address_code, unknown_client_code,
		unknown_hostname_code, rbl_code, unknown_local_code, unknown_alias_code,
		unknown_mailbox_code, multi_bounce_code, plaintext_code, unknown_relay_code;
	struct map_list *relay_recipient_maps; /* NULL: relay_recipient_maps is empty */
	struct map_list *rbl_reply_maps;       /* NULL: rbl_reply_maps is empty */
	char *default_rbl_reply;
	/* check_policy_service */
	int policy_timeout;                    /* seconds */
	int policy_try_limit, policy_retry_delay;
	char *policy_default_action, *policy_context;
	/* user database */
	restrict_userdb_lookup_fn *userdb_lookup;
	restrict_userdb_cancel_fn *userdb_cancel;
	void *userdb_ctx;
	char *userdb_path;
	struct auth_client *auth;
	bool auth_stale;
	unsigned auth_pending;
	struct userdb_call *auth_calls; /* pending, for cancel and free */
};

/* One cached answer of a DNS or userdb look-up within a check. */
struct restrict_cached {
	bool used, userdb;
	char *key;                    /* "TYPE name" / "WHAT user" */
	int status;                   /* enum dns_status / restrict_userdb_status */
	char *rr[RESTRICT_CACHE_RRS];
	size_t n;
};

struct restrict_frame {
	const struct rule_list *list;
	size_t i;
	struct rule_list *owned;      /* parsed from an access table result */
	enum restrict_list kind;
};

struct restrict_req {
	struct restrictions *r;
	enum restrict_stage stage;
	const struct restrict_facts *f;
	restrict_done_fn *done;
	void *ctx;
	/* the top-level lists of this stage */
	const struct rule_list *seq[8];
	enum restrict_list seq_kind[8];
	size_t nseq, seq_i;
	int implicit;                 /* next implicit check after the lists */
	struct restrict_frame frames[RESTRICT_MAX_DEPTH];
	size_t depth;
	unsigned steps, lookups;
	/* pending look-up */
	struct dns_query *dns_q;
	struct policy_call *policy;   /* pending check_policy_service request */
	unsigned userdb_id;
	char *pending_key;            /* cache key of the userdb look-up */
	struct restrict_req **alive;  /* restrict_check's frame: cleared on free */
	bool running;                 /* inside run(): answers are queued */
	bool answered;
	struct restrict_cached cache[RESTRICT_CACHE];
	size_t cache_next;
	/* Postfix's deferred decisions */
	bool defer_if_reject;
	char defer_if_reject_reply[512]; /* replaces a later 5xx (Postfix) */
	bool have_defer_if_permit;
	char defer_if_permit[512];
	bool hold, discard;
	char redirect[256];
	char hold_log[256];
	bool warn_next;               /* the current rule is warn_if_reject */
	struct restrict_result result;
};

/* ---- restrict-parse.c ---- */
const struct rule_def *restrict_rule_find(const char *name);
const char *restrict_rule_nearest(const char *name);
/* Parse text (a restriction list) into *out; classes may be referenced.
 * param names the parameter for messages. -1 with *error_r (new memory). */
int restrict_parse_list(struct restrictions *r, const char *param, const char *text,
			struct rule_list *out, char **error_r);
void restrict_list_free(struct rule_list *l);
/* Split a list value into tokens (commas/blanks, braces kept together).
 * Returns a NULL-terminated array (free with restrict_tokens_free), or
 * NULL when there are more than max tokens. */
char **restrict_tokens(const char *text, size_t max, size_t *n_r);
void restrict_tokens_free(char **t);

/* ---- restrict-eval.c ---- */
/* Look-ups through the request's cache. FOUND/NOTFOUND/TEMPFAIL as
 * usual; -1 (RULE_PENDING for the caller) when a look-up was started. */
int restrict_dns(struct restrict_req *q, const char *name, enum dns_type type,
		 const struct restrict_cached **c_r);
int restrict_userdb(struct restrict_req *q, const char *what, const char *user,
		    const struct restrict_cached **c_r);
enum restrict_list restrict_cur_kind(const struct restrict_req *q);
/* The check's cached answer for key, or NULL (look-ups other than DNS and
 * userdb, e.g. the policy service, store theirs with restrict_answer and
 * continue the check with restrict_resume, which may free q). */
const struct restrict_cached *restrict_cache_get(struct restrict_req *q, const char *key);
void restrict_answer(struct restrict_req *q, const char *key, int status, const char *value);
void restrict_resume(struct restrict_req *q);
/* restrict_dns_cache_free - forget the answers kept across checks. */
void restrict_dns_cache_free(struct restrictions *r);
/* Push a nested list (class or access result; owned is freed on pop). */
enum rule_status restrict_push(struct restrict_req *q, const struct rule_list *l,
			       struct rule_list *owned, enum restrict_list kind);

/* ---- restrict-reply.c ---- */
/* Decide q with "CODE DSN TEXT" (text already formatted); 4xx -> DEFER,
 * 5xx -> REJECT, defer_if_reject and warn_if_reject applied. Returns
 * RULE_FINAL, or RULE_DUNNO when only warned. */
enum rule_status restrict_reply(struct restrict_req *q, int code, const char *dsn,
				const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* defer_if_reject: remember the first reason; a later 5xx is answered
 * with it instead. Returns RULE_DUNNO. */
enum rule_status restrict_defer_if_reject(struct restrict_req *q, int code, const char *dsn,
					  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* defer_if_permit: remember the first such reply; returns RULE_DUNNO. */
enum rule_status restrict_defer_if_permit(struct restrict_req *q, int code, const char *dsn,
					  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Class and name of list kind for "<%s>: %s rejected: ..." */
const char *restrict_list_class(enum restrict_list k);
const char *restrict_list_name(const struct restrict_req *q, enum restrict_list k,
			       char *buf, size_t size);
void restrict_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copy text into a reply, control characters replaced, bounded. */
void restrict_clean_text(char *dst, size_t size, const char *src);
void restrict_log_line(struct restrict_req *q, const char *what, const char *detail);

/* ---- restrict-template.c ---- */
/* A template attribute's value, or NULL when the name is unknown (it
 * expands to nothing). */
typedef const char *restrict_template_fn(void *ctx, const char *name);
/* restrict_template_expand - expand tmpl (default_rbl_reply syntax) into
 * out, cut to size - 1 bytes; values are inserted literally. */
void restrict_template_expand(const char *tmpl, restrict_template_fn *get, void *ctx,
			      char *out, size_t size);
/* restrict_reply_split - "CODE [D.D.D] text": 0 with *code_r, dsn ("" when
 * none; its class set to the code's) and *text_r (inside reply), or -1
 * when reply does not start with a 4xx/5xx code. */
int restrict_reply_split(const char *reply, int *code_r, char *dsn, size_t dsn_size,
			 const char **text_r);

/* ---- restrict-policy.c ---- */
struct policy_call;
/* restrict_policy_cancel - forget a pending policy request (no answer). */
void restrict_policy_cancel(struct policy_call **c);
/* restrict_policy_spec_check - is spec inet:host:port or unix:/path? 0,
 * or -1 with *error_r (new memory). */
int restrict_policy_spec_check(const char *spec, char **error_r);

/* ---- restrict-access.c ---- */
/* restrict_access_action - apply one access(5) result value found by
 * source (a table or "policy service NAME", for logs) for what (the
 * reply's name) in list kind; map may be NULL. */
enum rule_status restrict_access_action(struct restrict_req *q, const char *source,
					enum restrict_list kind, const char *what,
					const char *value);

/* ---- rules (restrict-rules.c, restrict-access.c, restrict-dnsbl.c, restrict-addr.c) ---- */
rule_fn rule_permit, rule_reject, rule_defer, rule_defer_if_permit, rule_defer_if_reject,
	rule_permit_mynetworks, rule_permit_sasl, rule_permit_auth_destination,
	rule_reject_unauth_destination, rule_defer_unauth_destination,
	rule_reject_unauth_pipelining, rule_invalid_helo, rule_non_fqdn_helo,
	rule_unknown_helo, rule_non_fqdn_sender, rule_non_fqdn_recipient,
	rule_unknown_sender_domain, rule_unknown_recipient_domain,
	rule_unknown_client, rule_unknown_reverse_client, rule_rbl_client,
	rule_rhsbl_client, rule_rhsbl_sender, rule_rhsbl_helo, rule_rhsbl_recipient,
	rule_unlisted_recipient, rule_unlisted_sender, rule_multi_recipient_bounce,
	rule_sender_login_mismatch, rule_auth_sender_login_mismatch,
	rule_unauth_sender_login_mismatch, rule_client_access, rule_reverse_client_access,
	rule_helo_access, rule_sender_access, rule_recipient_access, rule_dnswl_client,
	rule_rhswl_client, rule_plaintext_session, rule_policy_service, rule_server_access,
	rule_sasl_access, rule_known_sender_login_mismatch;

/* restrict-rules.c */
bool restrict_valid_hostname(const char *h);
const char *restrict_addr_domain(const char *address);

/* restrict-addr.c */
enum addr_class { ADDR_LOCAL, ADDR_VIRTUAL_ALIAS, ADDR_VIRTUAL_MAILBOX, ADDR_RELAY, ADDR_DEFAULT };
struct addr_resolved {
	char local[512];
	char domain[256];
	enum addr_class cls;
	bool routed;       /* %, !, @ inside the local part or a source route */
};
/* Resolve an address as Postfix's trivial-rewrite would for the relay
 * decision. 0, or -1 when a domain table failed temporarily. */
int restrict_resolve(struct restrictions *r, const char *address, struct addr_resolved *out);
/* domain_list_match: 1 match, 0 no, -1 temporary failure */
int restrict_domain_match(const struct domain_list *dl, const char *domain);
int restrict_domain_list_init(struct domain_list *dl, const char *param, const char *text,
			      bool parent_matches, char **error_r);
void restrict_domain_list_free(struct domain_list *dl);
/* restrict_domain_classes_init - the four domain classes from cfg
 * (mydestination, relay_domains with parent matches, virtual_alias_domains,
 * virtual_mailbox_domains), shared by the restrictions and smtp/resolve/
 * so both classify a domain alike. 0, or -1 with *param_r (static: the
 * parameter that failed) and *error_r (new memory). */
int restrict_domain_classes_init(struct domain_list *mydestination, struct domain_list *relay_domains,
				 struct domain_list *virtual_alias_domains,
				 struct domain_list *virtual_mailbox_domains, const struct config *cfg,
				 const char **param_r, char **error_r);
int restrict_mynetworks_init(struct restrictions *r, const struct config *view, char **error_r);
bool restrict_addr_in_mynetworks(struct restrictions *r, const char *addr, bool *tempfail_r);
/* Postfix's check_rcpt_maps: DUNNO when known or not ours, FINAL with
 * the 550/451 reply, PENDING while a look-up runs. */
enum rule_status restrict_unlisted(struct restrict_req *q, const char *address, bool sender);

/* restrict-userdb.c */
unsigned restrict_userdb_default_lookup(void *ctx, const char *what, const char *user,
					restrict_userdb_done_fn *done, void *req_ctx);
void restrict_userdb_default_cancel(void *ctx, unsigned id);
void restrict_userdb_default_free(struct restrictions *r);

#endif
