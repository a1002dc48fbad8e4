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
 * Stop: on SIGTERM the servers stop accepting, idle sessions get
 * "421 4.3.2 Service shutting down", sessions inside DATA/BDAT may
 * finish; the loop ends when the last session is gone (the master kills
 * the role after master_stop_timeout otherwise).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/auth-client.h"
#include "worker.h"
#include "config.h"
#include "conn.h"
#include "evloop.h"
#include "log.h"
#include "server.h"
#include "smtp/smtp-private.h"
#include "smtp/smtp-role.h"
#include "tls.h"

static void on_accept(struct server *server, struct conn *conn, void *ctx)
{
	struct smtp_listener *l = ctx;

	(void)server;
	if (l->role->stopping) {
		conn_free(conn);
		return;
	}
	session_accept(l, conn);
}

static void on_busy(struct server *server, struct conn *conn, enum server_busy why, void *ctx)
{
	struct smtp_listener *l = ctx;

	(void)server;
	log_warn("%s: too many %s from %s; refusing", l->cl->name,
		 why == SERVER_BUSY_CLIENT ? "connections" : "connections in total", conn_peer_addr(conn));
	conn_printf(conn, "421 4.7.0 %s Error: too many connections from %s\r\n", l->set.hostname,
		    conn_peer_addr(conn));
}

static const struct server_callbacks server_cb = { .on_accept = on_accept, .on_busy = on_busy };

struct auth_client *smtp_role_auth(struct smtp_role *role, const char *path)
{
	char *err = NULL;

	if (role->auth)
		return role->auth;
	role->auth = auth_client_new(role->base, path, AUTH_CLIENT_SASL, &err);
	if (role->auth == NULL) {
		log_warn("cannot connect to the auth role at %s: %s; is it running?", path,
			 err ? err : "unknown error");
		free(err);
	}
	return role->auth;
}

/* A broken auth client is only forgotten here; it is freed with the role
 * (its callbacks may be on the stack right now). Its pending requests all
 * got FAIL temp from the client itself. */
static struct auth_client **broken;
static size_t n_broken;

void smtp_role_auth_broken(struct smtp_role *role)
{
	struct auth_client **b;

	if (role->auth == NULL)
		return;
	b = realloc(broken, (n_broken + 1) * sizeof(*b));
	if (b == NULL)
		return;    /* keep using it; the next failure tries again */
	broken = b;
	broken[n_broken++] = role->auth;
	role->auth = NULL;
}

static void stop_check(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_role *role = arg;

	(void)fd;
	(void)what;
	if (role->n_sessions == 0)
		event_base_loopexit(role->base, NULL);
}

void smtp_role_session_gone(struct smtp_role *role)
{
	if (role->stopping && role->n_sessions == 0 && role->ev_stop)
		event_active(role->ev_stop, 0, 0);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct smtp_role *role = arg;

	(void)what;
	if (role->stopping)
		return;
	log_info("smtp: signal %d, stopping", (int)sig);
	role->stopping = true;
	for (size_t i = 0; i < role->n_listeners; i++)
		server_free(&role->listeners[i].server);
	for (struct smtp_session *s = role->sessions, *next; s; s = next) {
		next = s->next;
		if (s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT || s->state == SMTP_STATE_QUIT)
			continue;
		conn_printf(s->conn, "421 4.3.2 %s Service shutting down\r\n", s->l->set.hostname);
		session_close(s);
	}
	event_active(role->ev_stop, 0, 0);
}

static int settings_load(struct smtp_listener *l)
{
	const struct config *v = l->view;
	struct smtp_settings *set = &l->set;
	const char *level = config_str(v, "smtpd_tls_security_level");
	size_t n;
	const char *const *mechs = config_list(v, "auth_mechanisms", &n);

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
	set->mechs[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t off = strlen(set->mechs);
		snprintf(set->mechs + off, sizeof(set->mechs) - off, "%s%s", off ? " " : "", mechs[i]);
	}
	for (char *p = set->mechs; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
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
	struct server_limits limits;

	l->role = role;
	l->cl = rl->listener;
	l->view = rl->listener->view;
	l->implicit_tls = l->cl->tls == TLS_MODE_IMPLICIT;
	settings_load(l);
	if (*config_str(l->view, "tls_cert_file") && l->cl->tls != TLS_MODE_NONE) {
		l->ssl_ctx = tls_server_ctx_from_config(l->view, &err);
		if (l->ssl_ctx == NULL) {
			log_error("%s: %s", l->cl->name, err);
			free(err);
			return -1;
		}
	}
	if (l->implicit_tls && l->ssl_ctx == NULL) {
		log_error("%s:%d: %s/listen: tls=implicit needs a certificate; set tls_cert_file and tls_key_file",
			  l->cl->file, l->cl->line, l->cl->name);
		return -1;
	}
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
	server_limits_from_config(l->view, &limits);
	l->server = server_new(role->base, rl->fd, &limits, l->implicit_tls ? l->ssl_ctx : NULL,
			       &server_cb, l, &err);
	if (l->server == NULL) {
		log_error("%s: %s", l->cl->name, err);
		free(err);
		return -1;
	}
	return 0;
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
	struct event *ev_term = NULL;
	const char *err;
	int status = 1;

	memset(&role, 0, sizeof(role));
	role.cfg = env->cfg;
	role.base = evloop_new(&err);
	if (role.base == NULL) {
		log_error("smtp: %s", err);
		return 1;
	}
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
	role.ev_stop = event_new(role.base, -1, 0, stop_check, &role);
	ev_term = evsignal_new(role.base, SIGTERM, on_signal, &role);
	if (role.ev_stop == NULL || ev_term == NULL || event_add(ev_term, NULL) < 0) {
		log_error("smtp: cannot set up signal handling");
		goto out;
	}
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
	auth_client_free(&role.auth);
	for (size_t i = 0; i < n_broken; i++)
		auth_client_free(&broken[i]);
	free(broken);
	broken = NULL;
	n_broken = 0;
	if (ev_term)
		event_free(ev_term);
	if (role.ev_stop)
		event_free(role.ev_stop);
	event_base_free(role.base);
	return status;
}
