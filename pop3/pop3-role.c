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
 * nothing: RFC 1939 6). The loop then ends (sequence: lib/service.h;
 * the auth clients: auth/auth-link.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/auth-link.h"
#include "config.h"
#include "conn.h"
#include "evloop.h"
#include "log.h"
#include "pop3/pop3-private.h"
#include "pop3/pop3-role.h"
#include "server.h"
#include "service.h"
#include "tls.h"
#include "util.h"

static void on_accept(struct server *server, struct conn *conn, void *ctx)
{
	struct pop3_listener *l = ctx;

	(void)server;
	if (l->role->svc.stopping) {
		conn_free(conn);
		return;
	}
	pop3_session_accept(l, conn);
}

static void on_busy(struct server *server, struct conn *conn, enum server_busy why, void *ctx)
{
	struct pop3_listener *l = ctx;

	(void)server;
	service_log_busy(l->cl, conn, why);
	conn_printf(conn, "-ERR [SYS/TEMP] Too many connections from %s, try again later\r\n",
		    conn_peer_addr(conn));
}

static const struct server_callbacks server_cb = { .on_accept = on_accept, .on_busy = on_busy };

void pop3_role_session_gone(struct pop3_role *role)
{
	service_session_gone(&role->svc, role->n_sessions);
}

/* stop - SIGTERM (lib/service.h): stop accepting; sessions still in
 * AUTHORIZATION are told, the others end after the reply in progress. */
static size_t stop(void *ctx)
{
	struct pop3_role *role = ctx;

	for (size_t i = 0; i < role->n_listeners; i++)
		server_free(&role->listeners[i].server);
	for (struct pop3_session *s = role->sessions; s; s = s->next) {
		if (s->state == POP3_STATE_QUIT)
			continue;
		if (!s->stream.active)
			conn_printf(s->conn, "-ERR [SYS/TEMP] Server shutting down\r\n");
		pop3_session_close(s);
	}
	return role->n_sessions;
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

/* The values the registry cannot check: 0, or -1 with *error_r (new
 * memory) naming the file and line. Shared by the role's start and by
 * pop3_role_check_config, so posternd refuses them before starting. */
static int settings_check(const struct config *v, char **error_r)
{
	const char *uidl = config_str(v, "pop3_uidl_format");
	const char *expire = config_str(v, "pop3_expire");
	const char *err;
	char at[512];

	if (pop3_uidl_check(uidl, &err) < 0) {
		where(v, "pop3_uidl_format", at, sizeof(at));
		*error_r = must_asprintf("%s: pop3_uidl_format: %s", at, err);
		return -1;
	}
	if (strcmp(expire, "NEVER") != 0) {
		uint32_t days;
		if (pop3_msgnum_parse(expire, strlen(expire), &days) < 0 || days > 36500) {
			where(v, "pop3_expire", at, sizeof(at));
			*error_r = must_asprintf("%s: pop3_expire: \"%s\" is neither NEVER nor a number of days; write pop3_expire = NEVER or e.g. 30",
						 at, expire);
			return -1;
		}
	}
	if (config_bool(v, "pop3_enable_apop")) {
		/* APOP needs the password in the clear on the server (RFC 1939
		 * 7: MD5 of timestamp + secret); the auth role keeps argon2id
		 * hashes only, so it cannot be checked. Refuse loudly rather
		 * than announce something that always fails. */
		where(v, "pop3_enable_apop", at, sizeof(at));
		*error_r = must_asprintf("%s: pop3_enable_apop: APOP needs plaintext-equivalent passwords and Postern stores argon2id hashes; set pop3_enable_apop = no (clients use USER/PASS or AUTH over TLS)",
					 at);
		return -1;
	}
	return 0;
}

int pop3_role_check_config(const struct config *cfg, char **error_r)
{
	for (size_t i = 0; i < config_listener_count(cfg); i++) {
		const struct config_listener *l = config_listener_at(cfg, i);

		if (strcmp(l->protocol, "pop3") == 0 && settings_check(l->view, error_r) < 0)
			return -1;
	}
	return 0;
}

static int settings_load(struct pop3_listener *l)
{
	const struct config *v = l->view;
	struct pop3_settings *set = &l->set;
	char at[512];
	char *serr = NULL;

	if (settings_check(v, &serr) < 0) {
		log_error("%s", serr);
		free(serr);
		return -1;
	}
	set->hostname = config_str(v, "myhostname");
	set->timeout = (int)config_time(v, "pop3_client_idle_timeout");
	set->allow_plaintext = config_bool(v, "pop3_allow_plaintext_auth");
	set->lock_session = config_bool(v, "pop3_lock_session");
	set->login_delay = config_time(v, "pop3_login_delay");
	set->expire = config_str(v, "pop3_expire");
	set->uidl_format = config_str(v, "pop3_uidl_format");
	set->auth_socket = config_str(v, "auth_socket_path");
	set->userdb_socket = config_str(v, "auth_userdb_socket_path");
	set->uidl_names = pop3_uidl_uses_name(set->uidl_format);
	if (set->allow_plaintext && config_bool(v, "disable_plaintext_auth")) {
		/* The auth role checks the same thing by local port and would
		 * still refuse PLAIN/LOGIN: say so now, not at the first login. */
		where(v, "pop3_allow_plaintext_auth", at, sizeof(at));
		log_warn("%s: pop3_allow_plaintext_auth = yes, but disable_plaintext_auth = yes makes the auth role refuse plaintext logins on %s anyway; also set %s/disable_plaintext_auth = no",
			 at, l->cl->name, l->cl->name);
	}
	auth_link_mechs(v, set->mechs, sizeof(set->mechs));
	if (store_settings_from_config(&l->store_set, v, &serr) < 0) {
		log_error("%s: %s", l->cl->name, serr);
		free(serr);
		return -1;
	}
	return 0;
}

static int listener_start(struct pop3_role *role, struct pop3_listener *l, const struct role_listener *rl)
{
	l->role = role;
	l->cl = rl->listener;
	l->view = rl->listener->view;
	l->implicit_tls = l->cl->tls == TLS_MODE_IMPLICIT;
	if (settings_load(l) < 0)
		return -1;
	if (service_listener_tls(l->cl, &l->ssl_ctx) < 0)
		return -1;
	l->server = service_server_start(role->base, rl, l->implicit_tls ? l->ssl_ctx : NULL, &server_cb, l);
	return l->server ? 0 : -1;
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
	const char *err;
	int status = 1;

	memset(&role, 0, sizeof(role));
	role.cfg = env->cfg;
	role.base = evloop_new(&err);
	if (role.base == NULL) {
		log_error("pop3: %s", err);
		return 1;
	}
	auth_link_init(&role.auth, role.base, "pop3");
	role.listeners = must_calloc(env->n_listeners ? env->n_listeners : 1, sizeof(*role.listeners));
	role.n_listeners = env->n_listeners;
	for (size_t i = 0; i < env->n_listeners; i++)
		if (listener_start(&role, &role.listeners[i], &env->listeners[i]) < 0)
			goto out;
	if (service_init(&role.svc, role.base, "pop3", stop, &role) < 0)
		goto out;
	log_info("pop3: ready: %zu listener%s", env->n_listeners, env->n_listeners == 1 ? "" : "s");
	event_base_dispatch(role.base);
	status = 0;
out:
	pop3_session_free_all(&role);
	for (size_t i = 0; i < role.n_listeners; i++)
		listener_free(&role.listeners[i]);
	free(role.listeners);
	auth_link_free(&role.auth);
	service_free(&role.svc);
	event_base_free(role.base);
	return status;
}
