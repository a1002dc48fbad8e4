/*
 * master.c - posternd's master: start-up order, the event loop, stop.
 *
 * Called by main.c. The order matters and is the point of this file:
 *   1. read and validate the configuration (errors go to the terminal as
 *      "posternd: error: FILE:LINE: ..." and the exit status is 1);
 *   2. check that every listener's role is built, resolve mail_owner;
 *   3. run directory, pid file lock (a second master stops here, before
 *      it could disturb the first one's sockets);
 *   4. create the roles' unix sockets (master-unix.c), bind every
 *      listener, all or nothing; open the control socket;
 *   5. only now become a daemon (without -f), so everything that can fail
 *      at start-up has already failed in front of the user;
 *   6. start the roles, tell the waiting parent we are ready, loop.
 * SIGHUP reloads (master-reload.c); SIGTERM/SIGINT or STOP on the control
 * socket stop: roles get SIGTERM, master_stop_timeout later SIGKILL, then
 * the pid file, control socket and the roles' unix sockets are removed
 * and the master exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "master/master.h"
#include "util.h"

static void check_stopped(struct master *m)
{
	if (m->stopping && master_all_exited(m))
		event_base_loopexit(m->base, NULL);
}

static void stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < m->n_procs; i++) {
		struct master_proc *p = m->procs[i];

		if (p->pid > 0 && p->state != PROC_EXITED) {
			log_warn("process posternd/%s pid %ld did not stop within master_stop_timeout; killing it",
				 p->def->name, (long)p->pid);
			kill(p->pid, SIGKILL);
		}
	}
}

void master_begin_stop(struct master *m)
{
	struct timeval tv = { 0, 0 };

	if (m->stopping)
		return;
	m->stopping = true;
	log_info("terminating on request");
	master_stop_all(m, true);
	/* A process still alive after the stop timeout (plus a second for the
	 * per-process kill timers to act) is killed here. */
	tv.tv_sec = (time_t)config_time(m->cfg, "master_stop_timeout") + 1;
	m->stop_timer = evtimer_new(m->base, stop_timeout_cb, m);
	if (m->stop_timer)
		evtimer_add(m->stop_timer, &tv);
	check_stopped(m);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct master *m = arg;

	(void)what;
	switch (sig) {
	case SIGCHLD:
		master_reap(m);
		if (!m->stopping)
			master_prune(m);
		check_stopped(m);
		break;
	case SIGHUP:
		if (m->stopping)
			break;
		log_info("reload -- configuration %s", m->opts.conf);
		(void)master_reload(m, NULL);
		break;
	case SIGTERM:
	case SIGINT:
		master_begin_stop(m);
		break;
	}
}

/* Roles log to maillog_file as mail_owner: give them a file they can
 * append to. A file we create is theirs; an existing one we do not take
 * over, we only say what to do. */
static void prepare_maillog(const struct master *m)
{
	const char *file = config_str(m->cfg, "maillog_file");
	struct stat st;
	int fd;

	if (!m->id.drop || file == NULL || *file == '\0')
		return;
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd >= 0) {
		if (fchown(fd, m->id.uid, m->id.gid) < 0)
			log_warn("cannot chown maillog_file %s to %s: %s", file, m->id.user, strerror(errno));
		close(fd);
		return;
	}
	if (stat(file, &st) == 0 && st.st_uid != m->id.uid &&
	    !((st.st_mode & S_IWGRP) && st.st_gid == m->id.gid) && !(st.st_mode & S_IWOTH))
		log_warn("maillog_file %s is not writable by mail_owner %s, so roles log to syslog only; fix: chown %s %s",
			 file, m->id.user, m->id.user, file);
}

static void report_fatal(const char *text)
{
	log_error("%s", text);
}

/* Steps 1-4; on failure everything opened is closed and 1 returned. */
static int master_prepare(struct master *m)
{
	char *err = NULL;
	const char *dir;

	if (access(m->opts.conf, R_OK) < 0) {
		log_error("cannot read configuration file %s: %s; create an instance with \"postern init DIR\" or pass -c FILE",
			  m->opts.conf, strerror(errno));
		return -1;
	}
	m->cfg = config_load(m->opts.conf, NULL, NULL);
	if (m->cfg == NULL)
		return -1;
	if (master_check_config(m->cfg, &err) < 0 ||
	    master_identity_resolve(m->cfg, &m->id, &err) < 0)
		goto fail;
	dir = config_str(m->cfg, "run_directory");
	if (master_run_directory(dir, &m->id, &err) < 0)
		goto fail;
	m->pid_path = must_asprintf("%s/%s", dir, MASTER_PID_FILE);
	m->pid_fd = master_pidfile_lock(m->pid_path, &err);
	if (m->pid_fd < 0) {
		x_free(&m->pid_path);
		goto fail;
	}
	prepare_maillog(m);
	/* Unix sockets of roles (the auth socket) are created here, as root,
	 * so their group can be one mail_owner is not in (postfix). */
	if (master_unix_prepare(m->cfg, &m->id, NULL, &m->unix_socks, &err) < 0)
		goto fail;
	master_unix_commit(NULL, &m->unix_socks);
	if (master_listeners_bind(m->cfg, NULL, &m->listeners, &err) < 0 ||
	    master_control_open(m, &err) < 0)
		goto fail;
	return 0;
fail:
	report_fatal(err);
	free(err);
	return -1;
}

static void master_cleanup(struct master *m)
{
	for (size_t i = 0; i < m->n_procs; i++)
		master_proc_free(&m->procs[i]);
	x_free(&m->procs);
	m->n_procs = 0;
	for (size_t i = 0; i < sizeof(m->sig_events) / sizeof(m->sig_events[0]); i++)
		if (m->sig_events[i])
			event_free(m->sig_events[i]);
	if (m->stop_timer)
		event_free(m->stop_timer);
	if (m->control_path)
		master_control_close(m);
	master_listeners_close(&m->listeners);
	/* Before the pid file goes: a new master may create them again. */
	master_unix_close(&m->unix_socks, true);
	if (m->pid_fd >= 0) {
		/* Unlink while still holding the lock, so that a new master never
		 * locks a file we are about to remove. */
		(void)unlink(m->pid_path);
		close(m->pid_fd);
	}
	x_free(&m->pid_path);
	if (m->base)
		event_base_free(m->base);
	master_identity_free(&m->id);
	config_free(&m->cfg);
}

int master_main(const struct master_options *opts)
{
	struct master m;
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };

	memset(&m, 0, sizeof(m));
	m.opts = *opts;
	m.pid_fd = -1;
	m.control_fd = -1;
	m.ready_fd = -1;
	log_init("posternd", LOG_DEST_STDERR_TOOL);
	if (master_prepare(&m) < 0) {
		master_cleanup(&m);
		return 1;
	}
	if (!opts->foreground)
		master_daemonize(&m.ready_fd);
	if (master_pidfile_write(m.pid_fd) < 0)
		log_warn("cannot write pid file %s: %s", m.pid_path, strerror(errno));
	master_log_setup(m.cfg, "master", opts->foreground);
	/* Roles die of SIGPIPE on their own terms; the master never should. */
	signal(SIGPIPE, SIG_IGN);
	m.base = event_base_new();
	if (m.base == NULL)
		log_fatal("cannot create the event loop");
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		m.sig_events[i] = evsignal_new(m.base, sigs[i], signal_cb, &m);
		if (m.sig_events[i] == NULL || event_add(m.sig_events[i], NULL) < 0)
			log_fatal("cannot watch signal %d", sigs[i]);
	}
	master_control_start(&m);
	m.started = time(NULL);
	log_info("daemon started -- configuration %s", opts->conf);
	master_roles_plan(&m, false);
	for (size_t i = 0; i < m.n_procs; i++)
		if (master_proc_spawn(m.procs[i]) < 0)
			log_fatal("cannot start role %s", m.procs[i]->def->name);
	master_daemon_ready(&m.ready_fd);
	event_base_dispatch(m.base);
	log_info("stopped");
	master_cleanup(&m);
	return 0;
}
