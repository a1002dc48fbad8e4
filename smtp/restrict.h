/*
 * restrict.h - Postfix's SMTP restriction language (postconf(5)
 * smtpd_*_restrictions, access(5)) for the SMTP session.
 *
 * Callers: the SMTP session (smtp/session*.c, smtp/cmd-*.c) and
 * `postern check` (cli/cmd-check.c). Implementation: smtp/restrict*.c.
 *
 * Lifecycle. restrictions_new() reads one listener view and parses every
 * restriction list, restriction class and table NOW: an unknown rule, a
 * missing argument or a table that cannot be opened is an error naming
 * the parameter and the rule, so the role refuses to start (and `postern
 * check` reports it). One struct restrictions per listener view; it owns
 * its resolver (lib/dns.h) and a userdb client of the auth role.
 *
 * Evaluation (restrict_check) is asynchronous: DNS look-ups (rbl, rhsbl,
 * unknown_*_domain, unknown_helo_hostname, check_*_{a,mx,ns}_access),
 * userdb look-ups (unlisted recipients, sender ownership) and
 * check_policy_service requests run on the event loop and never stall
 * other sessions. It follows Postfix:
 *   - each list is evaluated first match: permit/OK ends this list and the
 *     next list is tried; reject/defer ends everything; DUNNO goes on;
 *   - smtpd_delay_reject = yes (default): client, helo and sender lists are
 *     evaluated at RCPT (CONNECT/HELO/MAIL checks then return CONTINUE);
 *   - at RCPT: client, helo, sender, relay, recipient lists, then the
 *     implicit smtpd_reject_unlisted_recipient check;
 *   - a DNS or table temporary failure never gives 5xx: it becomes a
 *     4xx, either at once or as Postfix's "defer_if_permit" (a 450 given
 *     only if the rest of the evaluation would have accepted).
 * smtpd_helo_required and strict_rfc821_envelopes are enforced by the
 * session (503 / address parsing), not here.
 */
#ifndef POSTERN_SMTP_RESTRICT_H
#define POSTERN_SMTP_RESTRICT_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "content-checks.h"

struct config;
struct event_base;
struct dns;

enum restrict_stage {
	RESTRICT_CONNECT,
	RESTRICT_HELO,
	RESTRICT_MAIL,
	RESTRICT_RCPT,
	RESTRICT_DATA,
	RESTRICT_END_OF_DATA,
};

/* Filled by the session; strings may be NULL when unknown. */
struct restrict_facts {
	const char *client_addr;          /* "192.0.2.1", "2001:db8::1" (no brackets) */
	const char *client_name;          /* forward-confirmed name, "unknown" if none */
	const char *reverse_client_name;  /* PTR name, "unknown" if none */
	const char *helo;                 /* HELO/EHLO argument */
	const char *sender;               /* "" for <> */
	const char *recipient;
	const struct smtp_address *sender_addr;
	const struct smtp_address *recipient_addr;
	const char *sasl_username;
	const char *sasl_method;
	bool tls;
	bool esmtp;
	unsigned rcpt_count;              /* accepted recipients so far */
	bool pipelining_violation;        /* client sent ahead without PIPELINING */
	const char *queue_id;
	size_t message_size;
	/* Additions: the name look-ups failed temporarily (DNS SERVFAIL or
	 * timeout). Then "unknown" above means "could not tell" and the
	 * unknown_* rules answer 4xx. See dns_client_name() in lib/dns.h. */
	bool client_name_tempfail;
	bool reverse_client_name_tempfail;
};

enum restrict_action {
	RESTRICT_CONTINUE,   /* nothing decided: accept */
	RESTRICT_OK,         /* explicitly permitted */
	RESTRICT_REJECT,     /* reply holds a 5xx line */
	RESTRICT_DEFER,      /* reply holds a 4xx line */
	RESTRICT_DISCARD,    /* accept, then throw the message away */
	RESTRICT_HOLD,       /* accept into the hold queue */
	RESTRICT_REDIRECT,   /* accept, deliver only to redirect */
};

struct restrict_result {
	enum restrict_action action;
	/* Full reply line without CRLF, Postfix's wording, e.g. "554 5.7.1
	 * <x@y>: Relay access denied". Set for REJECT and DEFER; empty
	 * otherwise (the session sends its usual 250). */
	char reply[512];
	/* Postfix's log detail, e.g. "reject: RCPT from unknown[192.0.2.1]:
	 * 554 5.7.1 <x@y>: Relay access denied; from=<a@b> to=<x@y>
	 * proto=ESMTP helo=<h>"; for DISCARD/HOLD/REDIRECT/WARN the reason. */
	char log[512];
	char redirect[256];  /* REDIRECT: the new recipient */
	bool warn_only;      /* a warn_if_reject rule matched: logged, not acted on */
};

struct restrictions;
struct restrict_req;

/*
 * restrictions_new - parse every restriction parameter of listener_view
 * (a global config or a listener's view). base may be NULL to only check
 * the configuration (`postern check`); such an object cannot evaluate.
 * Returns the object, or NULL with *error_r set to new memory (caller
 * frees), e.g. "FILE:LINE: smtpd_recipient_restrictions: unknown rule
 * \"reject_unath_destination\"; did you mean reject_unauth_destination?".
 */
struct restrictions *restrictions_new(const struct config *listener_view,
				      struct event_base *base, char **error_r);

/* done is called exactly once with a result valid only during the call. */
typedef void restrict_done_fn(void *ctx, const struct restrict_result *r);

/*
 * restrict_check - evaluate the lists of stage for the facts f (which,
 * with every string they point to, must stay valid until done runs or
 * the request is cancelled). done is called exactly once, possibly before
 * restrict_check returns (nothing asynchronous was needed); then the
 * returned pointer is a marker that restrict_cancel() accepts and ignores.
 * Returns NULL only when out of memory (done not called: answer 451 4.3.0).
 */
struct restrict_req *restrict_check(struct restrictions *r, enum restrict_stage stage,
				    const struct restrict_facts *f,
				    restrict_done_fn *done, void *ctx);

/* restrict_cancel - the session ended: done will not be called. *req = NULL;
 * NULL is ignored. Must not be called after done ran. */
void restrict_cancel(struct restrict_req **req);

/* restrictions_free - free everything (pending requests must have been
 * cancelled or completed); *r = NULL; NULL is ignored. */
void restrictions_free(struct restrictions **r);

/* restrictions_dns - the resolver the restrictions use (owned by r), for the
 * session's client name look-up (dns_client_name()). NULL if base was NULL. */
struct dns *restrictions_dns(struct restrictions *r);

/* restrictions_set_dns - use d instead of the resolver restrictions_new()
 * made (tests: dns_new_fake()); r owns d afterwards. */
void restrictions_set_dns(struct restrictions *r, struct dns *d);

/*
 * User database look-ups. By default the restrictions connect (lazily, and
 * again after a failure) to the auth role's userdb socket
 * (auth_userdb_socket_path) and use auth_client_lookup(). Tests and other
 * embedders may replace that with restrictions_set_userdb().
 */
enum restrict_userdb_status {
	RESTRICT_USERDB_FOUND,
	RESTRICT_USERDB_NOTFOUND,
	RESTRICT_USERDB_TEMPFAIL,
};
/* Answer of one look-up; fields as in struct auth_client_reply (SENDERS:
 * the owned addresses). Valid only during the call. */
typedef void restrict_userdb_done_fn(void *req_ctx, enum restrict_userdb_status st,
				     const char *const *fields, size_t n_fields);
/* Start a look-up of what ("USER" or "SENDERS") for user; return an id > 0
 * and call done later (never before returning), or 0 when it could not
 * start (treated as a temporary failure). */
typedef unsigned restrict_userdb_lookup_fn(void *ctx, const char *what, const char *user,
					   restrict_userdb_done_fn *done, void *req_ctx);
typedef void restrict_userdb_cancel_fn(void *ctx, unsigned id);
void restrictions_set_userdb(struct restrictions *r, restrict_userdb_lookup_fn *lookup,
			     restrict_userdb_cancel_fn *cancel, void *ctx);

/* restrict_action_split - split a table result "ACTION optional text"
 * (access(5), header_checks(5)) into ACTION, copied into word (cut to
 * size - 1 bytes; *len_r gets the copied length), and the text after it.
 * Blanks around both are skipped. Returns the text (inside value). */
const char *restrict_action_split(const char *value, char *word, size_t size, size_t *len_r);

#endif
