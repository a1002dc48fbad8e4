/*
 * auth-client.h - the public header of auth/ for the other roles (smtp,
 * imap, pop3, web) and `postern auth test`: an asynchronous libevent
 * client of the auth role's two sockets.
 *
 *   auth socket (auth_socket_path): SASL through the Dovecot auth client
 *     protocol. auth_client_start() sends AUTH with the mechanism and the
 *     client's initial response; the callback gets CONTINUE (pass the
 *     base64 challenge to the user's client, then auth_client_continue()
 *     with its answer), OK (user = authenticated name, data = final server
 *     data or NULL) or FAIL (reason safe to show, temp = try later).
 *   userdb socket (auth_userdb_socket_path): auth_client_lookup() for USER
 *     (mail location, quota) and SENDERS (addresses the user owns, for
 *     reject_sender_login_mismatch).
 *
 * Base64 is passed through unchanged: SMTP/IMAP/POP3 carry SASL data in
 * base64 already, so the roles never decode it.
 *
 * If the connection fails or breaks, every pending request's callback gets
 * FAIL with temp = true. Callbacks run on the event loop; a callback may
 * start new requests but must not free the client (do that later).
 */
#ifndef POSTERN_AUTH_CLIENT_H
#define POSTERN_AUTH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct auth_client;

enum auth_client_kind { AUTH_CLIENT_SASL, AUTH_CLIENT_USERDB };

enum auth_client_status {
	AUTH_CLIENT_OK,        /* OK (SASL), USER or SENDERS (userdb) */
	AUTH_CLIENT_CONTINUE,  /* CONT: data is the base64 challenge */
	AUTH_CLIENT_FAIL,      /* FAIL: reason, temp */
	AUTH_CLIENT_NOTFOUND,  /* userdb NOTFOUND */
};

struct auth_client_reply {
	enum auth_client_status status;
	unsigned id;
	bool temp;
	const char *user;      /* OK: authenticated user; USER/SENDERS: canonical name */
	const char *reason;    /* FAIL: text for the log and the user, or NULL */
	const char *data;      /* CONTINUE: base64 challenge; OK: final base64 data or NULL */
	/* Every field after the id (USER: name, key=value...; SENDERS: addresses). */
	const char *const *fields;
	size_t n_fields;
};

/* Valid only during the call; copy what you keep. */
typedef void auth_client_cb(void *ctx, const struct auth_client_reply *reply);

struct auth_client_params {
	const char *service;   /* "smtp", "imap", ... (required) */
	const char *rip;       /* client address, NULL: local */
	const char *lip;
	int lport;             /* 0: not sent */
	bool secured;          /* TLS (or otherwise protected) connection */
};

/* auth_client_new - connect to the socket at path and send the handshake.
 * NULL with *error_r (new memory, caller frees) when it cannot connect. */
struct auth_client *auth_client_new(struct event_base *base, const char *path,
				    enum auth_client_kind kind, char **error_r);

/* auth_client_start - AUTH with mech; initial_b64 is the base64 initial
 * response ("" for an empty one, NULL for none). Returns the request id
 * (> 0), or 0 when the client is broken or out of memory (cb not called). */
unsigned auth_client_start(struct auth_client *c, const char *mech,
			   const struct auth_client_params *p, const char *initial_b64,
			   auth_client_cb *cb, void *ctx);

/* auth_client_continue - answer a CONTINUE of request id. 0, or -1 when
 * the request is unknown or the client broken. */
int auth_client_continue(struct auth_client *c, unsigned id, const char *resp_b64);

/* auth_client_lookup - on a USERDB client: what is "USER" or "SENDERS".
 * Request id, or 0 on error (cb not called). */
unsigned auth_client_lookup(struct auth_client *c, const char *what, const char *user,
			    const char *service, auth_client_cb *cb, void *ctx);

/* auth_client_cancel - forget request id (its callback will not run). */
void auth_client_cancel(struct auth_client *c, unsigned id);

/* auth_client_free - close, without calling pending callbacks. *c = NULL. */
void auth_client_free(struct auth_client **c);

#endif
