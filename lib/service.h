/*
 * service.h - what the network roles (smtp/, pop3/, imap/) do alike with
 * their listeners and when they are told to stop, so that each role file
 * keeps only its own replies, settings and session handling.
 *
 * Called by smtp/smtp-role.c, pop3/pop3-role.c and imap/imap-role.c (in
 * each imap worker). Before this module each of them carried its own copy
 * of the TLS context rules, the server start with the listener's limits,
 * the busy log line and the SIGTERM sequence.
 *
 * The stop sequence (lib/role.h: SIGTERM means stop, within
 * master_stop_timeout):
 *   SIGTERM -> svc->stopping = true, "NAME: signal N, stopping" logged ->
 *   the role's stop function: free its servers (stop accepting), say
 *   goodbye to its sessions, return how many are still open -> the loop
 *   ends when that is 0, or later when service_session_gone() reports the
 *   last one gone. The master kills a role that is still running after
 *   master_stop_timeout, so a session that never ends cannot hold it up.
 *
 * Generic layer: nothing here knows a protocol or includes a role header.
 */
#ifndef POSTERN_SERVICE_H
#define POSTERN_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "server.h"

struct config_listener;
struct conn;
struct event;
struct event_base;
struct role_listener;

/*
 * service_stop_fn - the role's part of stopping: stop accepting (free the
 * servers) and send each session the protocol's goodbye. Returns the
 * number of sessions still open (0 ends the loop now).
 */
typedef size_t service_stop_fn(void *ctx);

/* One role process's (or imap worker's) stop state. Fields are read-only
 * outside service.c except through the functions below. */
struct service {
	struct event_base *base;
	const char *name;            /* "smtp": for the stop log line; NULL: no line */
	bool stopping;               /* SIGTERM seen: refuse new connections */
	service_stop_fn *stop_fn;
	void *stop_ctx;
	struct event *ev_term;
};

/*
 * service_init - watch SIGTERM on base (the handler runs stop_fn(ctx) as
 * described above). name is static or outlives svc. Returns 0, or -1
 * after logging "NAME: cannot set up signal handling" (svc is then safe
 * to pass to service_free()).
 */
int service_init(struct service *svc, struct event_base *base, const char *name,
		 service_stop_fn *stop_fn, void *ctx);

/* service_session_gone - a session ended; n_left are still open. Ends the
 * loop when the role is stopping and none is left. */
void service_session_gone(struct service *svc, size_t n_left);

/* service_free - release the signal event (svc may be zeroed or half
 * initialised). */
void service_free(struct service *svc);

/*
 * service_listener_tls - the TLS context of listener cl: built from its
 * view when tls_cert_file is set and the listener does not say tls=none
 * (STARTTLS/STLS or implicit TLS); NULL otherwise. Returns 0 with *ctx_r
 * (the caller owns it: SSL_CTX_free), or -1 after logging why (a
 * certificate that cannot be loaded, or tls=implicit without one; the role
 * must not start then).
 */
int service_listener_tls(const struct config_listener *cl, SSL_CTX **ctx_r);

/*
 * service_server_start - server_new() on the passed socket rl->fd with the
 * limits of its listener's view (connection_limit, client_connection_limit).
 * implicit_ctx: the TLS context for a tls=implicit listener, else NULL.
 * Returns the server (caller frees with server_free), or NULL after
 * logging "NAME: problem".
 */
struct server *service_server_start(struct event_base *base, const struct role_listener *rl,
				    SSL_CTX *implicit_ctx, const struct server_callbacks *cb, void *ctx);

/* service_log_busy - the warning for an on_busy connection ("NAME: too
 * many connections from ADDR; refusing"); the role then queues its own
 * protocol's reply. */
void service_log_busy(const struct config_listener *cl, struct conn *conn, enum server_busy why);

#endif
