/*
 * master-roles.c - which role processes run, and starting one.
 *
 * master_roles_plan() turns the configuration into one master_proc per
 * role: every role that serves at least one listener (by the protocol
 * table, params.h) plus every role marked always (auth). A role gets only
 * its own listeners' sockets and the unix sockets it declared
 * (master-unix.c created them).
 *
 * master_proc_spawn() is fork + exec of posternd itself with --role NAME:
 * a fresh process image means no state of the master (config, event base,
 * other sockets) leaks into a role, and a role sees exactly what is
 * passed: the listening sockets at fd 3.. named in POSTERN_LISTEN_FDS, and
 * the user it was dropped to. The drop happens here, before exec, so the
 * role's own code never runs as root unless role_def.keeps_root says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "master/master.h"
#include "util.h"

static struct master_proc *proc_new(struct master *m, const struct role_def *def)
{
	struct master_proc *p = must_calloc(1, sizeof(*p));

	p->master = m;
	p->def = def;
	p->pid = -1;
	p->state = PROC_EXITED;
	p->delay = -1;
	p->listener_idx = must_calloc(m->listeners.n ? m->listeners.n : 1, sizeof(size_t));
	p->unix_idx = must_calloc(m->unix_socks.n ? m->unix_socks.n : 1, sizeof(size_t));
	m->procs = must_realloc(m->procs, (m->n_procs + 1) * sizeof(*m->procs));
	m->procs[m->n_procs++] = p;
	return p;
}

void master_roles_plan(struct master *m, bool old_gen_exists)
{
	(void)old_gen_exists;
	for (size_t r = 0; r < role_count(); r++) {
		const struct role_def *def = role_at(r);
		struct master_proc *p = NULL;

		if (def->always)
			p = proc_new(m, def);
		for (size_t i = 0; i < m->unix_socks.n; i++) {
			if (m->unix_socks.items[i].def != def)
				continue;
			if (p == NULL)
				p = proc_new(m, def);
			p->unix_idx[p->n_unix++] = i;
		}
		for (size_t i = 0; i < m->listeners.n; i++) {
			if (role_for_protocol(m->listeners.items[i].cl->protocol) != def)
				continue;
			if (p == NULL)
				p = proc_new(m, def);
			p->listener_idx[p->n_listeners++] = i;
		}
	}
}

void master_proc_free(struct master_proc **pp)
{
	struct master_proc *p = *pp;

	if (p == NULL)
		return;
	if (p->timer)
		event_free(p->timer);
	free(p->listener_idx);
	free(p->unix_idx);
	free(p);
	*pp = NULL;
}

/* In the child: the role must run the configuration the master validated
 * and runs, not whatever the file holds now (an admin may be half-way
 * through an edit when a role is restarted, or a reload may have been
 * refused): hand it the text in a memfd named by ROLE_CONFIG_FD_ENV. If
 * that fails the role reads the file, as before. */
static void pass_config_text(struct master_proc *p)
{
	size_t len, off = 0;
	const char *text = config_text(p->master->cfg, &len);
	char num[16];
	int fd = memfd_create("postern.conf", 0);

	if (fd < 0) {
		log_warn("%s: cannot pass the configuration in memory (%s); the role reads the file",
			 p->def->name, strerror(errno));
		return;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			log_warn("%s: cannot pass the configuration in memory; the role reads the file",
				 p->def->name);
			return;
		}
		off += (size_t)w;
	}
	snprintf(num, sizeof(num), "%d", fd);
	if (setenv(ROLE_CONFIG_FD_ENV, num, 1) < 0)
		close(fd);
}

/* In the child: everything here either works or the child exits 127 after
 * one log line; the master then sees the exit and applies backoff. */
static void child_setup(struct master_proc *p, const char *fds_env)
{
	struct master *m = p->master;
	int fds[256];
	sigset_t all;
	char *argv[8];
	int argc = 0;
	size_t n = 0;

	/* The master's handlers and mask must not leak into the role. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Ctrl-C under -f reaches the whole foreground process group; the
	 * master alone acts on it and stops roles with SIGTERM, so a role
	 * finishes its sessions instead of dying mid-reply. */
	signal(SIGINT, SIG_IGN);

	/* Same order as the names master_proc_spawn() put in fds_env. */
	for (size_t i = 0; i < p->n_listeners && n < 256; i++)
		fds[n++] = m->listeners.items[p->listener_idx[i]].fd;
	for (size_t i = 0; i < p->n_unix && n < 256; i++)
		fds[n++] = m->unix_socks.items[p->unix_idx[i]].fd;
	if (fdpass_install(fds, n) < 0) {
		log_error("%s: cannot pass listening sockets: %s", p->def->name, strerror(errno));
		_exit(127);
	}
	if (setenv(ROLE_LISTEN_FDS_ENV, fds_env, 1) < 0)
		_exit(127);
	pass_config_text(p);
	/* Roles are spawned before the daemonized master lets go of the
	 * invoker's stdio (master_daemon_ready); a role must not keep
	 * `postern start`'s pipes open, or its caller never sees EOF. */
	if (!m->opts.foreground) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
	}
	if (!(p->def->keeps_root && p->def->keeps_root(m->cfg)) &&
	    master_drop_privileges(&m->id) < 0) {
		log_error("%s: cannot drop privileges to %s: %s", p->def->name, m->id.user,
			  strerror(errno));
		_exit(127);
	}
	/* A role outlives its master by no more than a signal. Set after the
	 * uid change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	argv[argc++] = (char *)"posternd";
	argv[argc++] = (char *)"--role";
	argv[argc++] = (char *)p->def->name;
	argv[argc++] = (char *)"-c";
	argv[argc++] = (char *)m->opts.conf;
	if (m->opts.foreground)
		argv[argc++] = (char *)"-f";
	argv[argc] = NULL;
	execv(m->opts.self_exe, argv);
	log_error("%s: cannot execute %s: %s", p->def->name, m->opts.self_exe, strerror(errno));
	_exit(127);
}

int master_proc_spawn(struct master_proc *p)
{
	struct master *m = p->master;
	size_t total = p->n_listeners + p->n_unix;
	struct fdpass_entry *e = must_calloc(total ? total : 1, sizeof(*e));
	char *env;
	pid_t pid;

	for (size_t i = 0; i < p->n_listeners; i++)
		str_copy(e[i].name, m->listeners.items[p->listener_idx[i]].cl->name, sizeof(e[i].name));
	for (size_t i = 0; i < p->n_unix; i++)
		snprintf(e[p->n_listeners + i].name, sizeof(e[0].name), "%s%s", ROLE_UNIX_PREFIX,
			 m->unix_socks.items[p->unix_idx[i]].name);
	for (size_t i = 0; i < total; i++)
		e[i].fd = ROLE_FIRST_LISTEN_FD + (int)i;
	env = fdpass_format(e, total);
	free(e);
	pid = fork();
	if (pid < 0) {
		log_error("cannot start role %s: fork: %s", p->def->name, strerror(errno));
		free(env);
		return -1;
	}
	if (pid == 0)
		child_setup(p, env);
	free(env);
	p->pid = pid;
	p->state = PROC_RUNNING;
	p->started = time(NULL);
	log_info("started role %s pid %ld as %s", p->def->name, (long)pid,
		 m->id.drop && p->def->keeps_root && p->def->keeps_root(m->cfg) ? "root" : m->id.user);
	return 0;
}
