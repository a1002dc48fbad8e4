/*
 * pop3-role.c - the POP3 server role process: reads each listener's
 * settings from its view (NAME/param overrides work as master.cf's -o),
 * checks the POP3 parameters (a value it cannot honour stops the role at
 * start with FILE:LINE: NAME: problem; fix), builds the TLS context,
 * starts a lib/server.h server per passed socket and runs the libevent
 * loop until SIGTERM.
 *
 * The master has already dropped privileges to mail_owner, who owns the
 * store. Peers: the auth role's SASL socket (auth_socket_path) and userdb
 * socket (auth_userdb_socket_path), both connected lazily and again after
 * a failure; the store (store/store.h) in this process.
 *
 * Stop: on SIGTERM the servers stop accepting; sessions in the
 * AUTHORIZATION state get "-ERR [SYS/TEMP] Server shutting down", the
 * others are closed after the reply in progress (a dropped session deletes
 * nothing: RFC 1939 6). The loop then ends.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/auth-client.h"
#include "config.h"
#include "conn.h"
#include "evloop.h"
#include "log.h"
#include "pop3/pop3-private.h"
#include "pop3/pop3-role.h"
#include "server.h"
#include "tls.h"
#include "util.h"

static void on_accept(struct server *server, struct conn *conn, void *ctx)
{
	struct pop3_listener *l = ctx;

	(void)server;
	if (l->role->stopping) {
		conn_free(conn);
		return;
	}
	pop3_session_accept(l, conn);
}

static void on_busy(struct server *server, struct conn *conn, enum server_busy why, void *ctx)
{
	struct pop3_listener *l = ctx;

	(void)server;
	log_warn("%s: too many %s from %s; refusing", l->cl->name,
		 why == SERVER_BUSY_CLIENT ? "connections" : "connections in total", conn_peer_addr(conn));
	conn_printf(conn, "-ERR [SYS/TEMP] Too many connections from %s, try again later\r\n",
		    conn_peer_addr(conn));
}

static const struct server_callbacks server_cb = { .on_accept = on_accept, .on_busy = on_busy };

/* Broken clients are only forgotten when they break (their callbacks may
 * be on the stack); they are freed with the role. */
static struct auth_client **broken;
static size_t n_broken;

static struct auth_client *client_get(struct pop3_role *role, struct auth_client **slot,
				      const char *path, enum auth_client_kind kind)
{
	char *err = NULL;

	if (*slot)
		return *slot;
	*slot = auth_client_new(role->base, path, kind, &err);
	if (*slot == NULL) {
		log_warn("pop3: cannot connect to the auth role at %s: %s; is it running?", path,
			 err ? err : "unknown error");
		free(err);
	}
	return *slot;
}

struct auth_client *pop3_role_auth(struct pop3_role *role, const char *path)
{
	return client_get(role, &role->auth, path, AUTH_CLIENT_SASL);
}

struct auth_client *pop3_role_userdb(struct pop3_role *role, const char *path)
{
	return client_get(role, &role->userdb, path, AUTH_CLIENT_USERDB);
}

void pop3_role_auth_broken(struct pop3_role *role, struct auth_client **c)
{
	struct auth_client **b;

	(void)role;
	if (*c == NULL)
		return;
	b = realloc(broken, (n_broken + 1) * sizeof(*b));
	if (b == NULL)
		return;     /* keep it; the next failure tries again */
	broken = b;
	broken[n_broken++] = *c;
	*c = NULL;
}

static void stop_check(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_role *role = arg;

	(void)fd;
	(void)what;
	if (role->n_sessions == 0)
		event_base_loopexit(role->base, NULL);
}

void pop3_role_session_gone(struct pop3_role *role)
{
	if (role->stopping && role->n_sessions == 0 && role->ev_stop)
		event_active(role->ev_stop, 0, 0);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct pop3_role *role = arg;

	(void)what;
	if (role->stopping)
		return;
	log_info("pop3: signal %d, stopping", (int)sig);
	role->stopping = true;
	for (size_t i = 0; i < role->n_listeners; i++)
		server_free(&role->listeners[i].server);
	for (struct pop3_session *s = role->sessions; s; s = s->next) {
		if (s->state == POP3_STATE_QUIT)
			continue;
		if (!s->stream.active)
			conn_printf(s->conn, "-ERR [SYS/TEMP] Server shutting down\r\n");
		pop3_session_close(s);
	}
	event_active(role->ev_stop, 0, 0);
}

/* where - "FILE:LINE" of a parameter's assignment for messages. */
static void where(const struct config *v, const char *name, char *buf, size_t size)
{
	const char *file = NULL;
	int line = config_where(v, name, &file);

	if (line > 0 && file)
		snprintf(buf, size, "%s:%d", file, line);
	else
		snprintf(buf, size, "%s", config_path(v) ? config_path(v) : "postern.conf");
}

static int settings_load(struct pop3_listener *l)
{
	const struct config *v = l->view;
	struct pop3_settings *set = &l->set;
	size_t n;
	const char *const *mechs = config_list(v, "auth_mechanisms", &n);
	const char *err;
	char at[512];
	char *serr = NULL;

	set->hostname = config_str(v, "myhostname");
	set->timeout = (int)config_time(v, "pop3_client_idle_timeout");
	set->allow_plaintext = config_bool(v, "pop3_allow_plaintext_auth");
	set->lock_session = config_bool(v, "pop3_lock_session");
	set->login_delay = config_time(v, "pop3_login_delay");
	set->expire = config_str(v, "pop3_expire");
	set->uidl_format = config_str(v, "pop3_uidl_format");
	set->auth_socket = config_str(v, "auth_socket_path");
	set->userdb_socket = config_str(v, "auth_userdb_socket_path");
	if (pop3_uidl_check(set->uidl_format, &err) < 0) {
		where(v, "pop3_uidl_format", at, sizeof(at));
		log_error("%s: pop3_uidl_format: %s", at, err);
		return -1;
	}
	set->uidl_names = pop3_uidl_uses_name(set->uidl_format);
	if (set->allow_plaintext && config_bool(v, "disable_plaintext_auth")) {
		/* The auth role checks the same thing by local port and would
		 * still refuse PLAIN/LOGIN: say so now, not at the first login. */
		where(v, "pop3_allow_plaintext_auth", at, sizeof(at));
		log_warn("%s: pop3_allow_plaintext_auth = yes, but disable_plaintext_auth = yes makes the auth role refuse plaintext logins on %s anyway; also set %s/disable_plaintext_auth = no",
			 at, l->cl->name, l->cl->name);
	}
	if (strcmp(set->expire, "NEVER") != 0) {
		uint32_t days;
		if (pop3_msgnum_parse(set->expire, strlen(set->expire), &days) < 0 || days > 36500) {
			where(v, "pop3_expire", at, sizeof(at));
			log_error("%s: pop3_expire: \"%s\" is neither NEVER nor a number of days; write pop3_expire = NEVER or e.g. 30",
				  at, set->expire);
			return -1;
		}
	}
	if (config_bool(v, "pop3_enable_apop")) {
		/* APOP needs the password in the clear on the server (RFC 1939
		 * 7: MD5 of timestamp + secret); the auth role keeps argon2id
		 * hashes only, so it cannot be checked. Refuse loudly rather
		 * than announce something that always fails. */
		where(v, "pop3_enable_apop", at, sizeof(at));
		log_error("%s: pop3_enable_apop: APOP needs plaintext-equivalent passwords and Postern stores argon2id hashes; set pop3_enable_apop = no (clients use USER/PASS or AUTH over TLS)",
			  at);
		return -1;
	}
	set->mechs[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t off = strlen(set->mechs);
		snprintf(set->mechs + off, sizeof(set->mechs) - off, "%s%s", off ? " " : "", mechs[i]);
	}
	for (char *p = set->mechs; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (store_settings_from_config(&l->store_set, v, &serr) < 0) {
		log_error("%s: %s", l->cl->name, serr);
		free(serr);
		return -1;
	}
	return 0;
}

static int listener_start(struct pop3_role *role, struct pop3_listener *l, const struct role_listener *rl)
{
	char *err = NULL;
	struct server_limits limits;

	l->role = role;
	l->cl = rl->listener;
	l->view = rl->listener->view;
	l->implicit_tls = l->cl->tls == TLS_MODE_IMPLICIT;
	if (settings_load(l) < 0)
		return -1;
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

static void listener_free(struct pop3_listener *l)
{
	server_free(&l->server);
	if (l->ssl_ctx)
		SSL_CTX_free(l->ssl_ctx);
	l->ssl_ctx = NULL;
}

int pop3_role_main(const struct role_env *env)
{
	struct pop3_role role;
	struct event *ev_term = NULL;
	const char *err;
	int status = 1;

	memset(&role, 0, sizeof(role));
	role.cfg = env->cfg;
	role.base = evloop_new(&err);
	if (role.base == NULL) {
		log_error("pop3: %s", err);
		return 1;
	}
	role.listeners = must_calloc(env->n_listeners ? env->n_listeners : 1, sizeof(*role.listeners));
	role.n_listeners = env->n_listeners;
	for (size_t i = 0; i < env->n_listeners; i++)
		if (listener_start(&role, &role.listeners[i], &env->listeners[i]) < 0)
			goto out;
	role.ev_stop = event_new(role.base, -1, 0, stop_check, &role);
	ev_term = evsignal_new(role.base, SIGTERM, on_signal, &role);
	if (role.ev_stop == NULL || ev_term == NULL || event_add(ev_term, NULL) < 0) {
		log_error("pop3: cannot set up signal handling");
		goto out;
	}
	log_info("pop3: ready: %zu listener%s", env->n_listeners, env->n_listeners == 1 ? "" : "s");
	event_base_dispatch(role.base);
	status = 0;
out:
	pop3_session_free_all(&role);
	for (size_t i = 0; i < role.n_listeners; i++)
		listener_free(&role.listeners[i]);
	free(role.listeners);
	auth_client_free(&role.auth);
	auth_client_free(&role.userdb);
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
