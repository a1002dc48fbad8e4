/*
 * service.c - listeners and the stop sequence shared by the network roles
 * (smtp, pop3, imap): see service.h for who calls it and the sequence.
 *
 * The loop is ended with event_base_loopexit(), which lets the callbacks
 * already active in this turn run first: a session freed from its own
 * on_close may report itself gone while the conn layer is still on the
 * stack.
 */
#include <signal.h>
#include <stdlib.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "role.h"
#include "server.h"
#include "service.h"
#include "tls.h"

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct service *svc = arg;

	(void)what;
	if (svc->stopping)
		return;
	if (svc->name)
		log_info("%s: signal %d, stopping", svc->name, (int)sig);
	svc->stopping = true;
	if (svc->stop_fn(svc->stop_ctx) == 0)
		event_base_loopexit(svc->base, NULL);
}

int service_init(struct service *svc, struct event_base *base, const char *name,
		 service_stop_fn *stop_fn, void *ctx)
{
	svc->base = base;
	svc->name = name;
	svc->stopping = false;
	svc->stop_fn = stop_fn;
	svc->stop_ctx = ctx;
	svc->ev_term = evsignal_new(base, SIGTERM, on_term, svc);
	if (svc->ev_term == NULL || event_add(svc->ev_term, NULL) < 0) {
		log_error("%s: cannot set up signal handling", name ? name : "service");
		return -1;
	}
	return 0;
}

void service_session_gone(struct service *svc, size_t n_left)
{
	if (svc->stopping && n_left == 0)
		event_base_loopexit(svc->base, NULL);
}

void service_free(struct service *svc)
{
	if (svc->ev_term)
		event_free(svc->ev_term);
	svc->ev_term = NULL;
}

int service_listener_tls(const struct config_listener *cl, SSL_CTX **ctx_r)
{
	char *err = NULL;

	*ctx_r = NULL;
	if (*config_str(cl->view, "tls_cert_file") && cl->tls != TLS_MODE_NONE) {
		*ctx_r = tls_server_ctx_from_config(cl->view, &err);
		if (*ctx_r == NULL) {
			log_error("%s: %s", cl->name, err);
			free(err);
			return -1;
		}
	}
	if (cl->tls == TLS_MODE_IMPLICIT && *ctx_r == NULL) {
		log_error("%s:%d: %s/listen: tls=implicit needs a certificate; set tls_cert_file and tls_key_file",
			  cl->file, cl->line, cl->name);
		return -1;
	}
	return 0;
}

struct server *service_server_start(struct event_base *base, const struct role_listener *rl,
				    SSL_CTX *implicit_ctx, const struct server_callbacks *cb, void *ctx)
{
	struct server_limits limits;
	struct server *server;
	char *err = NULL;

	server_limits_from_config(rl->listener->view, &limits);
	server = server_new(base, rl->fd, &limits, implicit_ctx, cb, ctx, &err);
	if (server == NULL) {
		log_error("%s: %s", rl->listener->name, err);
		free(err);
	}
	return server;
}

void service_log_busy(const struct config_listener *cl, struct conn *conn, enum server_busy why)
{
	log_warn("%s: too many %s from %s; refusing", cl->name,
		 why == SERVER_BUSY_CLIENT ? "connections" : "connections in total", conn_peer_addr(conn));
}
