/*
 * imap-role.c - the IMAP server role process: reads each listener's
 * settings from its view (NAME/param overrides work as master.cf's -o),
 * builds the TLS contexts (an error stops the role at start), then forks
 * imap_processes workers that share the listening sockets, and supervises
 * them.
 *
 * Processes. The role process itself serves no connection: it forks N
 * workers (imap_processes) after the set-up, each with its own libevent
 * loop, one lib/server.h server per listening fd (the kernel spreads the
 * accepts between them), one auth client for SASL and one for userdb
 * lookups (connected on first use), and its own store settings. The
 * supervisor waits for signals only:
 *   SIGTERM  -> forwarded to every worker; the supervisor returns 0 when
 *               all have exited (each sends "* BYE Server shutting down."
 *               and closes its sessions at once, well within
 *               master_stop_timeout).
 *   SIGCHLD  -> a worker that dies while not stopping is restarted; more
 *               than WORKER_MAX_RESTARTS within WORKER_RESTART_WINDOW
 *               seconds make the role exit 1, so that the master restarts
 *               it with its backoff and logs it.
 * Workers die with the supervisor (PR_SET_PDEATHSIG, SIGKILL: a worker
 * that hangs must not survive it), so a supervisor killed by the master
 * after master_stop_timeout, or one that crashed, leaves no orphans.
 *
 * The listeners' TLS contexts, server start and each worker's stop sequence
 * are lib/service.h's; the worker's auth clients auth/auth-link.h's.
 *
 * Per-worker limits: mail_max_userip_connections is counted per worker
 * process (documented in docs/ARCHITECTURE.md).
 *
 * APPEND literals above 64 KiB spool into $data_directory/tmp (created
 * here, mode 0700), as unlinked files.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/auth-link.h"
#include "config.h"
#include "conn.h"
#include "evloop.h"
#include "imap/imap-private.h"
#include "imap/imap-role.h"
#include "imap/imap-timeslice.h"
#include "log.h"
#include "server.h"
#include "service.h"
#include "tls.h"

#define WORKER_MAX_RESTARTS 5
#define WORKER_RESTART_WINDOW 60

/* ---- auth clients ---- */

/* The worker's clients live in role->auth (auth/auth-link.h); these
 * names are what the session and command files call. */
struct auth_client *imap_role_auth(struct imap_role *role, const char *path)
{
	return auth_link_sasl(&role->auth, path);
}

struct auth_client *imap_role_userdb(struct imap_role *role, const char *path)
{
	return auth_link_userdb(&role->auth, path);
}

void imap_role_auth_broken(struct imap_role *role, struct auth_client *c)
{
	auth_link_broken(&role->auth, c);
}

/* ---- one worker ---- */

static void on_accept(struct server *server, struct conn *conn, void *ctx)
{
	struct imap_listener *l = ctx;

	(void)server;
	if (l->role->svc.stopping) {
		conn_free(conn);
		return;
	}
	imap_session_accept(l, conn);
}

static void on_busy(struct server *server, struct conn *conn, enum server_busy why, void *ctx)
{
	struct imap_listener *l = ctx;

	(void)server;
	service_log_busy(l->cl, conn, why);
	conn_printf(conn, "* BYE [UNAVAILABLE] Too many connections; try again later.\r\n");
}

static const struct server_callbacks server_cb = { .on_accept = on_accept, .on_busy = on_busy };

void imap_role_session_gone(struct imap_role *role)
{
	service_session_gone(&role->svc, role->n_sessions);
}

/* stop - SIGTERM forwarded by the supervisor (lib/service.h): stop
 * accepting, "* BYE Server shutting down." to every session. */
static size_t stop(void *ctx)
{
	struct imap_role *role = ctx;

	for (size_t i = 0; i < role->n_listeners; i++)
		server_free(&role->listeners[i].server);
	imap_session_shutdown_all(role);
	return role->n_sessions;
}

static int worker_run(struct imap_role *role, const struct role_env *env)
{
	const char *err;
	char *errm = NULL;
	int status = 1;

	role->base = evloop_new(&err);
	if (role->base == NULL) {
		log_error("imap: %s", err);
		return 1;
	}
	/* Three priorities, everything at the middle one by default; the
	 * resumes of long commands' slices run at the lowest, so a session's
	 * cheap command is served before the other sessions' next slices of
	 * SEARCH BODY or FETCH 1:* (imap-timeslice.h). Without it, a
	 * SEARCH UNSEEN queued behind three other sessions' 5 ms slices. */
	if (event_base_priority_init(role->base, IMAP_EVENT_PRIORITIES) < 0)
		log_warn("imap: no event priorities; long commands' slices are not deferred");
	auth_link_init(&role->auth, role->base, "imap");
	if (store_settings_from_config(&role->store_set, role->cfg, &errm) < 0) {
		log_error("imap: %s", errm);
		free(errm);
		goto out;
	}
	for (size_t i = 0; i < role->n_listeners; i++) {
		struct imap_listener *l = &role->listeners[i];

		l->server = service_server_start(role->base, &env->listeners[i],
						 l->implicit_tls ? l->ssl_ctx : NULL, &server_cb, l);
		if (l->server == NULL)
			goto out;
	}
	/* no log line: the supervisor logged the stop for all workers */
	if (service_init(&role->svc, role->base, NULL, stop, role) < 0)
		goto out;
	event_base_dispatch(role->base);
	status = 0;
out:
	imap_session_free_all(role);
	for (size_t i = 0; i < role->n_listeners; i++)
		server_free(&role->listeners[i].server);
	auth_link_free(&role->auth);
	service_free(&role->svc);
	event_base_free(role->base);
	role->base = NULL;
	return status;
}

/* ---- set-up shared by all workers ---- */

static void settings_load(struct imap_listener *l)
{
	const struct config *v = l->view;
	struct imap_settings *set = &l->set;

	set->max_line = (uint64_t)config_size(v, "imap_max_line_length");
	set->literal_size_limit = (uint64_t)config_size(v, "imap_literal_size_limit");
	set->login_timeout = config_time(v, "imap_login_timeout");
	set->idle_timeout = config_time(v, "imap_client_idle_timeout");
	set->idle_notify_interval = config_time(v, "imap_idle_notify_interval");
	set->max_userip = config_int(v, "mail_max_userip_connections");
	set->allow_plaintext_auth = config_bool(v, "imap_allow_plaintext_auth");
	set->autocreate_special_use = config_bool(v, "imap_autocreate_special_use");
	set->hierarchy_sep = config_str(v, "imap_hierarchy_separator")[0] == '.' ? '.' : '/';
	set->auth_socket = config_str(v, "auth_socket_path");
	set->userdb_socket = config_str(v, "auth_userdb_socket_path");
	auth_link_mechs(v, set->mechs, sizeof(set->mechs));
}

static int listener_setup(struct imap_role *role, struct imap_listener *l, const struct role_listener *rl)
{
	l->role = role;
	l->cl = rl->listener;
	l->view = rl->listener->view;
	l->implicit_tls = l->cl->tls == TLS_MODE_IMPLICIT;
	settings_load(l);
	return service_listener_tls(l->cl, &l->ssl_ctx);
}

static char *tmp_dir_setup(const struct config *cfg)
{
	char *dir = must_asprintf("%s/tmp", config_str(cfg, "data_directory"));
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("imap: cannot create %s: %s; APPEND spools big messages to /tmp instead (create the directory, owned by mail_owner, mode 0700)",
			 dir, strerror(errno));
	else if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK) == 0)
		return dir;
	else
		log_warn("imap: %s is not a writable directory; APPEND spools big messages to /tmp instead",
			 dir);
	free(dir);
	return must_strdup("/tmp");
}

/* ---- the supervisor ---- */

struct worker {
	pid_t pid;
	time_t started;
};

static pid_t worker_start(struct imap_role *role, const struct role_env *env, unsigned no,
			  const sigset_t *oldmask, int *child_status)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* the worker: die with the supervisor, signals back to normal */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	role->worker = no;
	*child_status = worker_run(role, env);
	return 0;
}

static void role_free(struct imap_role *role)
{
	for (size_t i = 0; i < role->n_listeners; i++)
		if (role->listeners[i].ssl_ctx)
			SSL_CTX_free(role->listeners[i].ssl_ctx);
	free(role->listeners);
	free(role->tmp_dir);
}

int imap_role_main(const struct role_env *env)
{
	struct imap_role role;
	struct worker *workers;
	unsigned nw;
	sigset_t mask, oldmask;
	bool stopping = false;
	time_t window_start = time(NULL);
	unsigned restarts = 0;
	int status = 0, child_status = 0;

	memset(&role, 0, sizeof(role));
	role.cfg = env->cfg;
	role.listeners = must_calloc(env->n_listeners ? env->n_listeners : 1, sizeof(*role.listeners));
	role.n_listeners = env->n_listeners;
	for (size_t i = 0; i < env->n_listeners; i++) {
		if (listener_setup(&role, &role.listeners[i], &env->listeners[i]) < 0) {
			role_free(&role);
			return 1;
		}
	}
	role.tmp_dir = tmp_dir_setup(env->cfg);
	nw = (unsigned)config_int(env->cfg, "imap_processes");
	if (nw < 1)
		nw = 1;
	workers = must_calloc(nw, sizeof(*workers));

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);

	for (unsigned i = 0; i < nw; i++) {
		pid_t pid = worker_start(&role, env, i + 1, &oldmask, &child_status);
		if (pid == 0) {
			free(workers);
			role_free(&role);
			return child_status;
		}
		if (pid < 0) {
			log_error("imap: cannot fork a worker: %s", strerror(errno));
			stopping = true;
			status = 1;
			break;
		}
		workers[i].pid = pid;
		workers[i].started = time(NULL);
	}
	if (!stopping)
		log_info("imap: ready: %zu listener%s, %u process%s", env->n_listeners,
			 env->n_listeners == 1 ? "" : "s", nw, nw == 1 ? "" : "es");
	else
		for (unsigned i = 0; i < nw; i++)
			if (workers[i].pid > 0)
				kill(workers[i].pid, SIGTERM);

	for (;;) {
		unsigned alive = 0;

		for (unsigned i = 0; i < nw; i++)
			if (workers[i].pid > 0)
				alive++;
		if (stopping && alive == 0)
			break;
		siginfo_t si;
		int sig = sigwaitinfo(&mask, &si);
		if (sig < 0)
			continue;
		if (sig == SIGTERM) {
			if (!stopping)
				log_info("imap: signal %d, stopping %u worker%s", sig, alive, alive == 1 ? "" : "s");
			stopping = true;
			for (unsigned i = 0; i < nw; i++)
				if (workers[i].pid > 0)
					kill(workers[i].pid, SIGTERM);
			continue;
		}
		/* SIGCHLD: reap every dead worker */
		for (;;) {
			int ws;
			pid_t pid = waitpid(-1, &ws, WNOHANG);
			if (pid <= 0)
				break;
			for (unsigned i = 0; i < nw; i++) {
				if (workers[i].pid != pid)
					continue;
				workers[i].pid = 0;
				if (stopping)
					break;
				if (WIFSIGNALED(ws))
					log_warn("imap: worker %u pid %d killed by signal %d; restarting it", i + 1,
						 (int)pid, WTERMSIG(ws));
				else
					log_warn("imap: worker %u pid %d exit status %d; restarting it", i + 1,
						 (int)pid, WEXITSTATUS(ws));
				time_t now = time(NULL);
				if (now - window_start > WORKER_RESTART_WINDOW) {
					window_start = now;
					restarts = 0;
				}
				if (++restarts > WORKER_MAX_RESTARTS) {
					log_error("imap: workers keep dying (%u restarts in %d seconds); stopping the role so that the master restarts it",
						  restarts - 1, WORKER_RESTART_WINDOW);
					stopping = true;
					status = 1;
					for (unsigned k = 0; k < nw; k++)
						if (workers[k].pid > 0)
							kill(workers[k].pid, SIGTERM);
					break;
				}
				pid_t np = worker_start(&role, env, i + 1, &oldmask, &child_status);
				if (np == 0) {
					free(workers);
					role_free(&role);
					return child_status;
				}
				if (np < 0) {
					log_error("imap: cannot fork a worker: %s", strerror(errno));
					stopping = true;
					status = 1;
					for (unsigned k = 0; k < nw; k++)
						if (workers[k].pid > 0)
							kill(workers[k].pid, SIGTERM);
					break;
				}
				workers[i].pid = np;
				workers[i].started = now;
			}
		}
	}
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	free(workers);
	role_free(&role);
	return status;
}
