/*
 * auth-role.c - the auth role process: builds the backend chain from
 * auth_backends, accepts on the SASL socket (Dovecot auth client protocol,
 * auth-server.c) and the userdb socket (auth-userdb.c), and runs the
 * libevent loop. Lines are read with a hard bound (AUTH_LINE_MAX): a
 * longer line closes the connection. Started by the master (roles.c).
 * The master creates both sockets (path, mode, owner, group from
 * auth_role_unix_sockets) while it is root and passes the fds, so this
 * role never needs the privilege to chgrp them (auth_socket_group =
 * postfix). It keeps root only with PAM (auth_role_keeps_root), and then
 * creates the user database owned by mail_owner.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "auth/auth-cache.h"
#include "auth/auth-role.h"
#include "auth/auth-server.h"
#include "auth/auth-userdb.h"
#include "auth/passdb.h"
#include "auth/password.h"
#include "auth/penalty.h"
#include "auth/userdb.h"
#include "worker.h"
#include "config.h"
#include "log.h"
#include "util.h"

#define AUTH_MAX_CLIENTS 1024
#define AUTH_OUTPUT_MAX (1024 * 1024)   /* a client that never reads is dropped */

enum client_kind { CLIENT_AUTH, CLIENT_USERDB };

struct auth_role {
	struct event_base *base;
	struct auth_server *server;
	struct auth_settings set;
	struct auth_userdb_settings uset;
	struct auth_lport_setting *lports;
	size_t n_clients;
	struct auth_client *clients;   /* all connected clients, freed at exit */
	struct evconnlistener *listeners[2];
	struct event *drain_timer;     /* set once stopping: see role_stop() */
};

struct auth_client {
	struct auth_role *role;
	enum client_kind kind;
	struct bufferevent *bev;
	struct auth_server_conn *conn;
	struct auth_userdb_conn *uconn;
	bool closing;
	struct timeval last_input;     /* for draining on stop */
	struct auth_client *prev, *next;
};

bool auth_role_keeps_root(const struct config *cfg)
{
	size_t n;
	const char *const *b = config_list(cfg, "auth_backends", &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(b[i], "pam") == 0)
			return true;
	return false;
}

static void client_free(struct auth_client *c)
{
	auth_server_conn_free(&c->conn);
	auth_userdb_conn_free(&c->uconn);
	bufferevent_free(c->bev);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->role->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->role->n_clients--;
	free(c);
}

static void client_write(void *ctx, const char *data, size_t len)
{
	struct auth_client *c = ctx;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->closing)
		return;
	if (evbuffer_get_length(out) + len > AUTH_OUTPUT_MAX) {
		log_warn("auth: client does not read its replies; disconnecting");
		c->closing = true;
		return;
	}
	bufferevent_write(c->bev, data, len);
}

static void client_close_soon(struct auth_client *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_free(c);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct auth_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[AUTH_LINE_MAX + 2];

	event_base_gettimeofday_cached(c->role->base, &c->last_input);
	while (!c->closing) {
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > AUTH_LINE_MAX + 1) {
				log_warn("auth: client line longer than %d bytes; disconnecting", AUTH_LINE_MAX);
				client_close_soon(c);
			}
			return;
		}
		if ((size_t)eol.pos > AUTH_LINE_MAX + 1) {
			log_warn("auth: client line longer than %d bytes; disconnecting", AUTH_LINE_MAX);
			client_close_soon(c);
			return;
		}
		size_t len = (size_t)eol.pos;
		evbuffer_remove(in, line, len + 1);
		int r = c->kind == CLIENT_AUTH ? auth_server_conn_line(c->conn, line, len)
					       : auth_userdb_conn_line(c->uconn, line, len);
		if (r < 0 || c->closing) {
			client_close_soon(c);
			return;
		}
	}
}

static void client_written(struct bufferevent *bev, void *arg)
{
	struct auth_client *c = arg;

	if (c->closing)
		client_free(c);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg, enum client_kind kind)
{
	struct auth_role *role = arg;
	struct auth_client *c;

	(void)l;
	(void)sa;
	(void)socklen;
	if (role->n_clients >= AUTH_MAX_CLIENTS) {
		log_warn("auth: %d clients connected; refusing another", AUTH_MAX_CLIENTS);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->role = role;
	c->kind = kind;
	c->bev = bufferevent_socket_new(role->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	role->n_clients++;
	event_base_gettimeofday_cached(role->base, &c->last_input);
	c->next = role->clients;
	if (role->clients)
		role->clients->prev = c;
	role->clients = c;
	bufferevent_setcb(c->bev, client_read, client_written, client_event, c);
	if (kind == CLIENT_AUTH)
		c->conn = auth_server_conn_new(role->server, client_write, c);
	else
		c->uconn = auth_userdb_conn_new(&role->uset, client_write, c);
	if (c->conn == NULL && c->uconn == NULL) {
		client_free(c);
		return;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void accept_auth(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			int socklen, void *arg)
{
	accept_cb(l, fd, sa, socklen, arg, CLIENT_AUTH);
}

static void accept_userdb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int socklen, void *arg)
{
	accept_cb(l, fd, sa, socklen, arg, CLIENT_USERDB);
}

int auth_role_unix_sockets(const struct config *cfg, struct role_unix_socket *out, size_t max,
			   char **error_r)
{
	const char *mode_text = config_str(cfg, "auth_socket_mode");
	char *end = NULL;
	long mode;

	if (max < 2) {
		*error_r = must_asprintf("auth: room for %zu unix sockets, 2 needed", max);
		return -1;
	}
	errno = 0;
	mode = strtol(mode_text, &end, 8);
	if (*mode_text == '\0' || *end || errno || mode < 0 || mode > 0777) {
		const char *file = NULL;
		int line = config_where(cfg, "auth_socket_mode", &file);

		*error_r = must_asprintf("%s:%d: auth_socket_mode: \"%s\" is not an octal mode; write e.g. 0660",
					 file ? file : config_path(cfg), line, mode_text);
		return -1;
	}
	out[0] = (struct role_unix_socket){
		.name = AUTH_UNIX_AUTH, .path = config_str(cfg, "auth_socket_path"),
		.path_param = "auth_socket_path", .mode = (unsigned)mode,
		.group = config_str(cfg, "auth_socket_group"), .group_param = "auth_socket_group",
	};
	/* Only Postern's roles (mail_owner) ask the userdb socket. */
	out[1] = (struct role_unix_socket){
		.name = AUTH_UNIX_USERDB, .path = config_str(cfg, "auth_userdb_socket_path"),
		.path_param = "auth_userdb_socket_path", .mode = 0600, .group = "",
	};
	return 2;
}

/* A listener on the socket the master passed as name; NULL (logged) when
 * it was not passed. The fd stays the role process's to close. */
static struct evconnlistener *listen_passed(struct auth_role *role, const struct role_env *env,
					    const char *name, const char *param,
					    evconnlistener_cb cb)
{
	int fd = role_unix_fd(env, name);
	struct evconnlistener *l;

	if (fd < 0) {
		log_error("auth: the master passed no socket for %s; start the auth role through posternd",
			  param);
		return NULL;
	}
	l = evconnlistener_new(role->base, cb, role, LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l == NULL)
		log_error("auth: cannot accept on %s: %s", param, strerror(errno));
	return l;
}

/* A client may be closed while stopping once nothing of its is in flight
 * and it has been quiet for a second: a client accepted just before the
 * stop has sent its request by then. */
#define AUTH_DRAIN_QUIET_MS 1000

static bool client_drained(const struct auth_client *c, const struct timeval *now)
{
	long quiet_ms = (now->tv_sec - c->last_input.tv_sec) * 1000 +
			(now->tv_usec - c->last_input.tv_usec) / 1000;

	if (c->kind == CLIENT_AUTH && c->conn && auth_server_conn_pending(c->conn) > 0)
		return false;
	return quiet_ms >= AUTH_DRAIN_QUIET_MS;
}

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct auth_role *role = arg;
	struct timeval now;
	struct auth_client *c, *next;

	(void)fd;
	(void)what;
	event_base_gettimeofday_cached(role->base, &now);
	for (c = role->clients; c; c = next) {
		next = c->next;
		if (client_drained(c, &now))
			client_free(c);
	}
	if (role->clients == NULL)
		event_base_loopexit(role->base, NULL);
}

/*
 * role_stop - SIGTERM/SIGINT. On a reload the master starts the new auth
 * process before it stops this one, and both accept on the same sockets,
 * so a client may have just been accepted here. Stop accepting, answer
 * what is in flight, close each client once it is quiet, then exit; the
 * master kills us after master_stop_timeout in any case. Clients
 * reconnect to the new process.
 */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct auth_role *role = arg;
	struct timeval tick = { 0, 100 * 1000 };

	(void)what;
	if (role->drain_timer) {
		event_base_loopexit(role->base, NULL);  /* second signal: now */
		return;
	}
	log_info("auth: signal %d, stopping after the requests in flight", (int)sig);
	for (size_t i = 0; i < 2; i++)
		if (role->listeners[i])
			evconnlistener_disable(role->listeners[i]);
	role->drain_timer = event_new(role->base, -1, EV_PERSIST, drain_check, role);
	if (role->drain_timer == NULL || event_add(role->drain_timer, &tick) < 0)
		event_base_loopexit(role->base, NULL);
	else
		drain_check(-1, 0, role);
}

/* Mechanisms from auth_mechanisms; -1 on an unknown name (logged). */
static int settings_mechs(const struct config *cfg, struct auth_settings *set)
{
	size_t n;
	const char *const *m = config_list(cfg, "auth_mechanisms", &n);
	const char *file = NULL;
	int line = config_where(cfg, "auth_mechanisms", &file);

	for (size_t i = 0; i < n; i++) {
		const struct mech_def *d = mech_find(m[i]);
		if (d == NULL) {
			log_error("%s:%d: auth_mechanisms: unknown mechanism \"%s\"; use plain, login, scram-sha-256",
				  file ? file : config_path(cfg), line, m[i]);
			return -1;
		}
		if (set->n_mechs < sizeof(set->mechs) / sizeof(set->mechs[0]))
			set->mechs[set->n_mechs++] = d;
	}
	return 0;
}

int auth_role_main(const struct role_env *env)
{
	const struct config *cfg = env->cfg;
	struct auth_role role;
	struct passdb *passdbs[2];
	size_t n_passdbs = 0;
	struct userdb *db = NULL;
	struct passdb *pv = NULL, *pp = NULL;
	struct worker_pool *pool = NULL;
	struct penalty *penalty = NULL;
	struct auth_cache *cache = NULL;
	struct evconnlistener *l_auth = NULL, *l_userdb = NULL;
	struct event *ev_term = NULL, *ev_int = NULL;
	const char *err;
	char *aerr = NULL;
	int status = 1;
	bool root = geteuid() == 0;
	uid_t uid = getuid();
	gid_t gid = getgid();

	memset(&role, 0, sizeof(role));
	signal(SIGPIPE, SIG_IGN);
	if (password_init(&err) < 0) {
		log_error("auth: %s", err);
		return 1;
	}
	if (root) {
		const char *owner = config_str(cfg, "mail_owner");
		struct passwd *pw = getpwnam(owner);
		if (pw == NULL) {
			log_error("mail_owner: no such user \"%s\"; create it or set mail_owner", owner);
			return 1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}

	role.set.disable_plaintext_auth = config_bool(cfg, "disable_plaintext_auth");
	role.set.failure_delay_ms = config_time(cfg, "auth_failure_delay") * 1000;
	role.set.username_lowercase = strcmp(config_str(cfg, "auth_username_format"), "lowercase") == 0;
	role.set.default_realm = config_str(cfg, "auth_default_realm");
	if (settings_mechs(cfg, &role.set) < 0)
		return 1;
	size_t nl = config_listener_count(cfg);
	role.lports = must_calloc(nl + 1, sizeof(*role.lports));
	for (size_t i = 0; i < nl; i++) {
		const struct config_listener *l = config_listener_at(cfg, i);
		role.lports[i].port = l->port;
		role.lports[i].disable_plaintext_auth = config_bool(l->view, "disable_plaintext_auth");
	}
	role.set.lports = role.lports;
	role.set.n_lports = nl;

	role.base = event_base_new();
	if (role.base == NULL) {
		log_error("auth: cannot create the event loop");
		goto out;
	}
	pool = worker_pool_new(role.base, (int)config_int(cfg, "auth_workers"), &err);
	if (pool == NULL) {
		log_error("auth: %s", err);
		goto out;
	}
	size_t nb;
	const char *const *backends = config_list(cfg, "auth_backends", &nb);
	for (size_t i = 0; i < nb; i++) {
		if (strcmp(backends[i], "virtual") == 0 && pv == NULL) {
			const char *dir = config_str(cfg, "auth_user_database");
			if (userdb_open(dir, USERDB_CREATE, &db, &aerr) < 0) {
				log_error("auth_user_database: %s", aerr);
				goto out;
			}
			if (root && userdb_chown(dir, uid, gid, &aerr) < 0) {
				log_error("auth_user_database: %s", aerr);
				goto out;
			}
			pv = passdb_virtual_new(db, pool);
			passdbs[n_passdbs++] = pv;
		} else if (strcmp(backends[i], "pam") == 0 && pp == NULL) {
			pp = passdb_pam_new(config_str(cfg, "auth_pam_service"),
					    strcmp(config_str(cfg, "auth_pam_username"), "localpart") == 0,
					    config_list(cfg, "mydestination", NULL), pool);
			passdbs[n_passdbs++] = pp;
		} else {
			const char *file = NULL;
			int line = config_where(cfg, "auth_backends", &file);
			log_error("%s:%d: auth_backends: unknown or repeated backend \"%s\"; use virtual and/or pam",
				  file ? file : config_path(cfg), line, backends[i]);
			goto out;
		}
	}
	if (pp && !root)
		log_warn("auth_backends includes pam but the auth role is not root: pam_unix can "
			 "only check the password of the user posternd runs as");
	if (config_size(cfg, "auth_cache_size") > 0) {
		struct auth_cache_settings cset = {
			.max_bytes = (size_t)config_size(cfg, "auth_cache_size"),
			.ttl = (long)config_time(cfg, "auth_cache_ttl"),
			.negative_ttl = (long)config_time(cfg, "auth_cache_negative_ttl"),
		};
		cache = auth_cache_new(&cset, &err);
		if (cache == NULL) {
			const char *file = NULL;
			int line = config_where(cfg, "auth_cache_size", &file);
			log_error("%s:%d: auth_cache_size: %s; use 0 (no cache) or at least %zu bytes",
				  file ? file : config_path(cfg), line, err, auth_cache_entry_size());
			goto out;
		}
		for (size_t i = 0; i < n_passdbs; i++)
			passdbs[i]->cache = cache;
		struct auth_cache_stats cs;
		auth_cache_get_stats(cache, &cs);
		log_info("auth: cache of %zu entries, ttl %lds, negative ttl %lds", cs.max_entries,
			 cset.ttl, cset.negative_ttl);
	}
	const char *const *exc = config_list(cfg, "auth_penalty_exceptions", NULL);
	penalty = penalty_new((unsigned)config_int(cfg, "auth_penalty_limit"),
			      (long)config_time(cfg, "auth_penalty_time"), exc, &aerr);
	if (penalty == NULL) {
		log_error("%s", aerr);
		goto out;
	}
	role.server = auth_server_new(&role.set, passdbs, n_passdbs, penalty, role.base);
	role.uset.db = db;
	role.uset.pam = pp != NULL;
	role.uset.pam_localpart = strcmp(config_str(cfg, "auth_pam_username"), "localpart") == 0;
	role.uset.auth = &role.set;

	l_auth = listen_passed(&role, env, AUTH_UNIX_AUTH, "auth_socket_path", accept_auth);
	l_userdb = listen_passed(&role, env, AUTH_UNIX_USERDB, "auth_userdb_socket_path",
				 accept_userdb);
	if (l_auth == NULL || l_userdb == NULL)
		goto out;
	role.listeners[0] = l_auth;
	role.listeners[1] = l_userdb;
	ev_term = evsignal_new(role.base, SIGTERM, on_signal, &role);
	ev_int = evsignal_new(role.base, SIGINT, on_signal, &role);
	if (ev_term == NULL || ev_int == NULL || event_add(ev_term, NULL) < 0 || event_add(ev_int, NULL) < 0)
		goto out;
	log_info("auth: ready: backends=%s%s%s socket=%s uid=%ld", pv ? "virtual" : "",
		 pv && pp ? "," : "", pp ? "pam" : "", config_str(cfg, "auth_socket_path"), (long)geteuid());
	event_base_dispatch(role.base);
	status = 0;
out:
	/* The sockets belong to the master, which keeps them across reloads
	 * and unlinks them at stop. */
	while (role.clients)
		client_free(role.clients);
	if (l_auth)
		evconnlistener_free(l_auth);
	if (l_userdb)
		evconnlistener_free(l_userdb);
	if (role.drain_timer)
		event_free(role.drain_timer);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	worker_pool_free(&pool);
	auth_server_free(&role.server);
	penalty_free(&penalty);
	if (cache) {
		/* Dovecot logs these on SIGUSR2; here at every stop or reload,
		 * for sizing auth_cache_size and auth_cache_ttl. */
		struct auth_cache_stats cs;
		auth_cache_get_stats(cache, &cs);
		log_info("auth: cache hits=%lu misses=%lu evictions=%lu entries=%zu/%zu", cs.hits,
			 cs.misses, cs.evictions, cs.entries, cs.max_entries);
	}
	auth_cache_free(&cache);
	passdb_virtual_free(&pv);
	passdb_pam_free(&pp);
	userdb_close(&db);
	free(aerr);
	free(role.lports);
	if (role.base)
		event_base_free(role.base);
	return status;
}
