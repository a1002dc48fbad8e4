/*
 * auth-link.h - a network role's side of the auth role: the two clients
 * (SASL on auth_socket_path, userdb on auth_userdb_socket_path), connected
 * on first use and again after a failure, and one session's SASL exchange
 * on top of auth-client.h.
 *
 * Callers: smtp/ (AUTH, RFC 4954), pop3/ (USER/PASS and AUTH, RFC 5034)
 * and imap/ (LOGIN and AUTHENTICATE, RFC 3501 6.2). They share the
 * bookkeeping here and keep their own replies ("334"/"+ ", 235/+OK/OK,
 * 535/-ERR [AUTH]/NO [AUTHENTICATIONFAILED]) and session state.
 *
 * The exchange, as every role runs it:
 *   auth_link_start()      AUTH mech [initial] -> the auth role; the role
 *                          pauses its conn
 *   callback CONTINUE      auth_link_reply(); the role sends the challenge
 *                          and reads the client's next line
 *   auth_link_answer()     that line: "*" cancels, anything not base64 is
 *                          refused, otherwise it goes to the auth role
 *   callback OK/FAIL       auth_link_reply(); the role answers the client
 *                          (FAIL temp: the auth role could not decide)
 *   auth_link_cancel()     the session ends or gives up first
 * Penalties and failure delays are the auth role's (auth/penalty.c): the
 * roles only pass rip/lip/lport/secured in struct auth_client_params.
 *
 * A client whose connection broke is forgotten (the next request connects
 * again) but freed only by auth_link_free(): its callbacks may be on the
 * stack when it breaks, and requests still hold its pointer.
 */
#ifndef POSTERN_AUTH_LINK_H
#define POSTERN_AUTH_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth-client.h"

struct config;
struct event_base;

/* One process's clients (an smtp/pop3 role process, one imap worker). */
struct auth_link {
	struct event_base *base;
	const char *name;              /* "smtp": prefix of the log lines */
	struct auth_client *sasl;      /* NULL until first use or after a failure */
	struct auth_client *userdb;
	struct auth_client **broken;   /* forgotten, freed by auth_link_free */
	size_t n_broken;
};

/* One session's SASL request. Zero-initialised: no request. */
struct auth_link_req {
	struct auth_client *client;    /* the client the request runs on */
	unsigned id;                   /* waiting for the auth role; 0: not */
	unsigned waiting;              /* waiting for the user's answer to CONTINUE; 0: not */
};

/* auth_link_init - an empty link on base; name is static. */
void auth_link_init(struct auth_link *link, struct event_base *base, const char *name);

/* auth_link_sasl / auth_link_userdb - the client, connecting to path now
 * if needed. NULL after logging "NAME: cannot connect to the auth role at
 * PATH: ERROR; is it running?". The link owns the client. */
struct auth_client *auth_link_sasl(struct auth_link *link, const char *path);
struct auth_client *auth_link_userdb(struct auth_link *link, const char *path);

/* auth_link_broken - c failed (a request could not be sent, or the auth
 * role answered FAIL temp): forget it so the next request reconnects. A
 * client that is not the link's current one is left alone. Out of memory:
 * c is kept and the next failure tries again. */
void auth_link_broken(struct auth_link *link, struct auth_client *c);

/* auth_link_free - free every client, current and broken (no callbacks). */
void auth_link_free(struct auth_link *link);

/*
 * auth_link_start - start req (which must be idle) on the SASL client at
 * path: mech as upper-case name, initial_b64 the base64 initial response
 * ("" for an empty one, NULL for none), cb(ctx, reply) for the answers.
 * Returns the request id, or 0 when the auth role cannot be reached now
 * (logged or marked broken; req stays idle, cb is not called).
 */
unsigned auth_link_start(struct auth_link *link, struct auth_link_req *req, const char *path,
			 const char *mech, const struct auth_client_params *p,
			 const char *initial_b64, auth_client_cb *cb, void *ctx);

/* auth_link_reply - call first in the callback: CONTINUE makes req wait
 * for the user's answer, OK and FAIL end it. */
void auth_link_reply(struct auth_link_req *req, const struct auth_client_reply *rep);

enum auth_link_answer {
	AUTH_LINK_SENT,        /* passed on: wait for the callback again */
	AUTH_LINK_ABORTED,     /* the line was "*" (RFC 4422 3.5): req cancelled */
	AUTH_LINK_BAD_BASE64,  /* not base64: req cancelled */
	AUTH_LINK_UNAVAILABLE, /* could not be sent: req cancelled, client marked broken */
};

/* auth_link_answer - the user's line (without CRLF) answering a CONTINUE.
 * The base64 is passed through undecoded (auth-client.h). */
enum auth_link_answer auth_link_answer(struct auth_link *link, struct auth_link_req *req,
				       const char *line, size_t len);

/* auth_link_cancel - forget whatever req waits for (its callback will
 * not run); req is idle afterwards. Safe on an idle req. */
void auth_link_cancel(struct auth_link_req *req);

/* auth_link_mechs - auth_mechanisms of view, upper-cased and separated by
 * one space, into buf (cut at size - 1). */
void auth_link_mechs(const struct config *view, char *buf, size_t size);

/* auth_link_mech_listed - mech (any case) is a word of mechs. */
bool auth_link_mech_listed(const char *mechs, const char *mech);

/* auth_link_mech_plaintext - PLAIN and LOGIN: refused before TLS unless
 * the role's plaintext rule allows them. mech upper-case. */
bool auth_link_mech_plaintext(const char *mech);

/* auth_link_base64_ok - only base64 characters (not a full decode: the
 * auth role decodes; this keeps CR/LF and tabs off its socket). */
bool auth_link_base64_ok(const char *s, size_t len);

#endif
