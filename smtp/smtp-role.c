/*
 * smtp-role.c - the SMTP server role process: reads each listener's
 * settings from its view (so NAME/param overrides work as master.cf's
 * -o), builds the TLS context, the restrictions and the content checks
 * per listener (an error there stops the role at start: nothing runs on
 * a half-understood policy), starts a lib/server.h server per passed
 * socket, and runs the libevent loop until SIGTERM.
 *
 * The master has already dropped privileges to mail_owner; the queue
 * directory belongs to that user. Peers: the auth role's SASL socket
 * (auth_socket_path, connected lazily and again after a failure) and,
 * through the restrictions, its userdb socket and DNS.
 *
 * Stop (the sequence is lib/service.h's): on SIGTERM the servers stop
 * accepting, idle sessions get "421 4.3.2 Service shutting down",
 * sessions inside DATA/BDAT may finish; the loop ends when the last
 * session is gone (the master kills the role after master_stop_timeout
 * otherwise). The auth client is auth/auth-link.h's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/auth-link.h"
#include "worker.h"
#include "config.h"
#include "conn.h"
#include "evloop.h"
#include "log.h"
#include "server.h"
#include "service.h"
#include "smtp/smtp-private.h"
#include "smtp/smtp-role.h"
#include "tls.h"

static void on_accept(struct server *server, struct conn *conn, void *ctx)
{
	struct smtp_listener *l = ctx;

	(void)server;
	if (l->role->svc.stopping) {
		conn_free(conn);
		return;
	}
	session_accept(l, conn);
}

static void on_busy(struct server *server, struct conn *conn, enum server_busy why, void *ctx)
{
	struct smtp_listener *l = ctx;

	(void)server;
	service_log_busy(l->cl, conn, why);
	conn_printf(conn, "421 4.7.0 %s Error: too many connections from %s\r\n", l->set.hostname,
		    conn_peer_addr(conn));
}

static const struct server_callbacks server_cb = { .on_accept = on_accept, .on_busy = on_busy };

void smtp_role_session_gone(struct smtp_role *role)
{
	service_session_gone(&role->svc, role->n_sessions);
}

/* stop - SIGTERM (lib/service.h): stop accepting; sessions inside
 * DATA/BDAT may finish their message, the others get 421. */
static size_t stop(void *ctx)
{
	struct smtp_role *role = ctx;

	for (size_t i = 0; i < role->n_listeners; i++)
		server_free(&role->listeners[i].server);
	for (struct smtp_session *s = role->sessions, *next; s; s = next) {
		next = s->next;
		if (s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT || s->state == SMTP_STATE_QUIT)
			continue;
		conn_printf(s->conn, "421 4.3.2 %s Service shutting down\r\n", s->l->set.hostname);
		session_close(s);
	}
	return role->n_sessions;
}

static int settings_load(struct smtp_listener *l)
{
	const struct config *v = l->view;
	struct smtp_settings *set = &l->set;
	const char *level = config_str(v, "smtpd_tls_security_level");

	set->banner = must_strdup(config_str(v, "smtpd_banner"));
	set->hostname = config_str(v, "myhostname");
	set->mail_name = config_str(v, "mail_name");
	set->timeout = (int)config_time(v, "smtpd_timeout");
	set->greet_pause = config_time(v, "smtpd_greet_pause");
	set->size_limit = config_size(v, "message_size_limit");
	set->header_limit = config_size(v, "header_size_limit");
	set->rcpt_limit = config_int(v, "smtpd_recipient_limit");
	set->line_limit = config_int(v, "line_length_limit");
	set->error_sleep = config_time(v, "smtpd_error_sleep_time");
	set->soft_errors = config_int(v, "smtpd_soft_error_limit");
	set->hard_errors = config_int(v, "smtpd_hard_error_limit");
	set->rate_limit = config_int(v, "smtpd_client_connection_rate_limit");
	set->helo_required = config_bool(v, "smtpd_helo_required");
	set->peername_lookup = config_bool(v, "smtpd_peername_lookup");
	set->vrfy_disabled = config_bool(v, "disable_vrfy_command");
	set->sasl_enabled = config_bool(v, "smtpd_sasl_auth_enable");
	set->tls_auth_only = config_bool(v, "smtpd_tls_auth_only");
	set->tls_received = config_bool(v, "smtpd_tls_received_header");
	set->tls_level = strcmp(level, "none") == 0 ? SMTP_TLS_NONE :
			 strcmp(level, "encrypt") == 0 ? SMTP_TLS_ENCRYPT : SMTP_TLS_MAY;
	set->mydestination = config_list(v, "mydestination", NULL);
	set->queue_directory = config_str(v, "queue_directory");
	set->run_directory = config_str(v, "run_directory");
	set->auth_socket = config_str(v, "auth_socket_path");
	auth_link_mechs(v, set->mechs, sizeof(set->mechs));
	if (strncmp(set->banner, set->hostname, strlen(set->hostname)) != 0)
		log_warn("%s: smtpd_banner \"%s\" does not start with $myhostname; RFC 5321 4.3.1 wants the host name first",
			 l->cl->name, set->banner);
	return 0;
}

/* queue_dir_share - open the listener's queue directories once, or share
 * those of an earlier listener with the same queue_directory, so that all
 * their commits take part in one group commit (queue-file.c). When they
 * cannot be opened now, each message opens its paths and the failure shows
 * per message, as before. */
static void queue_dir_share(struct smtp_role *role, struct smtp_listener *l)
{
	const char *err;

	for (struct smtp_listener *o = role->listeners; o < l; o++) {
		if (o->qdir && strcmp(queue_dir_path(o->qdir), l->set.queue_directory) == 0) {
			l->qdir = o->qdir;
			return;
		}
	}
	l->qdir = queue_dir_open(l->set.queue_directory, &err);
	if (l->qdir == NULL)
		log_warn("%s: cannot open %s/incoming, active and hold: %s; check the directories and their owner",
			 l->cl->name, l->set.queue_directory, err);
	l->owns_qdir = l->qdir != NULL;
}

static int listener_start(struct smtp_role *role, struct smtp_listener *l, const struct role_listener *rl)
{
	char *err = NULL;

	l->role = role;
	l->cl = rl->listener;
	l->view = rl->listener->view;
	l->implicit_tls = l->cl->tls == TLS_MODE_IMPLICIT;
	settings_load(l);
	if (service_listener_tls(l->cl, &l->ssl_ctx) < 0)
		return -1;
	if (l->set.tls_level == SMTP_TLS_ENCRYPT && l->ssl_ctx == NULL) {
		log_error("%s: smtpd_tls_security_level = encrypt needs a certificate; set tls_cert_file and tls_key_file",
			  l->cl->name);
		return -1;
	}
	l->restrictions = restrictions_new(l->view, role->base, &err);
	if (l->restrictions == NULL) {
		log_error("%s", err);
		free(err);
		return -1;
	}
	l->content = content_checks_new(l->view, &err);
	if (l->content == NULL) {
		log_error("%s", err);
		free(err);
		return -1;
	}
	if (l->set.rate_limit > 0)
		l->rate = must_calloc(SMTP_RATE_SLOTS, sizeof(*l->rate));
	queue_dir_share(role, l);
	l->server = service_server_start(role->base, rl, l->implicit_tls ? l->ssl_ctx : NULL, &server_cb, l);
	return l->server ? 0 : -1;
}

static void listener_free(struct smtp_listener *l)
{
	server_free(&l->server);
	restrictions_free(&l->restrictions);
	content_checks_free(&l->content);
	if (l->ssl_ctx)
		SSL_CTX_free(l->ssl_ctx);
	free(l->rate);
	free(l->set.banner);
	if (l->owns_qdir)
		queue_dir_free(&l->qdir);
}

int smtp_role_main(const struct role_env *env)
{
	struct smtp_role role;
	const char *err;
	int status = 1;

	memset(&role, 0, sizeof(role));
	role.cfg = env->cfg;
	role.base = evloop_new(&err);
	if (role.base == NULL) {
		log_error("smtp: %s", err);
		return 1;
	}
	auth_link_init(&role.auth, role.base, "smtp");
	/* Threads for queue-file commits (see message.c); without them the
	 * role still works, committing on the loop. */
	role.workers = worker_pool_new(role.base, SMTP_COMMIT_THREADS, &err);
	if (role.workers == NULL)
		log_warn("smtp: no commit threads (%s); committing on the event loop", err);
	role.listeners = must_calloc(env->n_listeners ? env->n_listeners : 1, sizeof(*role.listeners));
	role.n_listeners = env->n_listeners;
	for (size_t i = 0; i < env->n_listeners; i++)
		if (listener_start(&role, &role.listeners[i], &env->listeners[i]) < 0)
			goto out;
	if (service_init(&role.svc, role.base, "smtp", stop, &role) < 0)
		goto out;
	log_info("smtp: ready: %zu listener%s", env->n_listeners, env->n_listeners == 1 ? "" : "s");
	event_base_dispatch(role.base);
	status = 0;
out:
	/* Sessions still open (stop timeout not reached yet, or a start-up
	 * failure): end them so that every resource is freed. */
	session_free_all(&role);
	worker_pool_free(&role.workers);
	for (size_t i = 0; i < role.n_listeners; i++)
		listener_free(&role.listeners[i]);
	free(role.listeners);
	auth_link_free(&role.auth);
	service_free(&role.svc);
	event_base_free(role.base);
	return status;
}

/* One view (a listener's, or the global one when no smtp listener is
 * configured): the restriction lists and the content checks. */
static int check_view(const struct config *view, const char *listener, char **error_r)
{
	struct restrictions *r;
	struct content_checks *cc;
	char *err = NULL;

	r = restrictions_new(view, NULL, &err);
	if (r == NULL)
		goto fail;
	restrictions_free(&r);
	cc = content_checks_new(view, &err);
	if (cc == NULL)
		goto fail;
	content_checks_free(&cc);
	return 0;
fail:
	*error_r = listener ? must_asprintf("listener %s: %s", listener, err) : must_asprintf("%s", err);
	free(err);
	return -1;
}

int smtp_role_check_config(const struct config *cfg, char **error_r)
{
	for (size_t i = 0; i < config_listener_count(cfg); i++) {
		const struct config_listener *l = config_listener_at(cfg, i);

		if (strcmp(l->protocol, "smtp") == 0 && check_view(l->view, l->name, error_r) < 0)
			return -1;
	}
	return 0;
}
