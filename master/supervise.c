/*
 * supervise.c - what happens when a role process exits, and stopping them.
 *
 * Called from the master's SIGCHLD handler (master_reap) and from stop and
 * reload. An exit is logged the way Postfix's master does ("warning:
 * process posternd/smtp pid 123 exit status 1" / "killed by signal 9"),
 * then the role is started again after a delay that doubles while it keeps
 * dying quickly (master_restart_delay .. master_restart_max_delay) and
 * starts over once it ran for MASTER_RESTART_STABLE_SECONDS: a role that
 * crashes at start-up must not spin, and one that crashed once after days
 * must come back at once.
 *
 * Stopping is SIGTERM, then SIGKILL after master_stop_timeout.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "log.h"
#include "master/master.h"
#include "util.h"

long long master_restart_delay(long long prev, long long ran, long long base, long long max)
{
	long long next;

	if (prev < 0 || ran >= MASTER_RESTART_STABLE_SECONDS)
		next = base;
	else if (prev == 0)
		next = 1;
	else
		next = prev > max / 2 ? max : prev * 2;
	if (next > max)
		next = max;
	if (next < 0)
		next = 0;
	return next;
}

const char *master_exit_text(int status, char *buf, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else
		snprintf(buf, size, "wait status 0x%x", (unsigned)status);
	return buf;
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master_proc *p = arg;

	(void)fd;
	(void)what;
	if (p->master->stopping || p->old || p->state != PROC_WAITING)
		return;
	p->restarts++;
	if (master_proc_spawn(p) < 0) {
		/* fork failed: try again after the next delay. */
		struct timeval tv = { 0, 0 };

		p->delay = master_restart_delay(p->delay, 0,
						config_time(p->master->cfg, "master_restart_delay"),
						config_time(p->master->cfg, "master_restart_max_delay"));
		tv.tv_sec = (time_t)p->delay;
		p->state = PROC_WAITING;
		evtimer_add(p->timer, &tv);
	}
}

static void kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master_proc *p = arg;

	(void)fd;
	(void)what;
	if (p->pid > 0 && p->state == PROC_STOPPING) {
		log_warn("process posternd/%s pid %ld did not stop within master_stop_timeout; killing it",
			 p->def->name, (long)p->pid);
		kill(p->pid, SIGKILL);
	}
}

static struct master_proc *find_pid(struct master *m, pid_t pid)
{
	for (size_t i = 0; i < m->n_procs; i++)
		if (m->procs[i]->pid == pid)
			return m->procs[i];
	return NULL;
}

static void schedule_restart(struct master_proc *p, long long ran)
{
	struct master *m = p->master;
	struct timeval tv = { 0, 0 };

	p->delay = master_restart_delay(p->delay, ran, config_time(m->cfg, "master_restart_delay"),
					config_time(m->cfg, "master_restart_max_delay"));
	tv.tv_sec = (time_t)p->delay;
	p->state = PROC_WAITING;
	if (p->timer)
		event_free(p->timer);
	p->timer = evtimer_new(m->base, restart_cb, p);
	if (p->timer == NULL)
		log_fatal("out of memory");
	evtimer_add(p->timer, &tv);
	if (p->delay > 0)
		log_warn("posternd/%s: restarting in %llds", p->def->name, p->delay);
}

/* An exclusive role replaced by a reload: its new process starts only now
 * that the old one is gone. */
static void start_successor(struct master *m, const struct role_def *def)
{
	for (size_t i = 0; i < m->n_procs; i++) {
		struct master_proc *q = m->procs[i];

		if (q->old || q->def != def || !q->after_old)
			continue;
		for (size_t j = 0; j < m->n_procs; j++)
			if (m->procs[j]->old && m->procs[j]->def == def &&
			    m->procs[j]->state != PROC_EXITED)
				return;
		q->after_old = false;
		if (master_proc_spawn(q) < 0)
			schedule_restart(q, 0);
	}
}

void master_reap(struct master *m)
{
	int status;
	pid_t pid;
	char why[64];

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct master_proc *p = find_pid(m, pid);
		long long ran;

		if (p == NULL)
			continue;
		ran = (long long)(time(NULL) - p->started);
		master_exit_text(status, why, sizeof(why));
		p->pid = -1;
		if (p->timer)
			evtimer_del(p->timer);
		if (p->state == PROC_STOPPING || m->stopping || p->old) {
			/* Exit 0, or SIGTERM itself when it came before the role
			 * installed its handler, is the stop we asked for. */
			if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
			    (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
				log_info("process posternd/%s pid %ld stopped", p->def->name, (long)pid);
			else
				log_warn("process posternd/%s pid %ld %s", p->def->name, (long)pid, why);
			p->state = PROC_EXITED;
			if (p->old && !m->stopping)
				start_successor(m, p->def);
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_info("process posternd/%s pid %ld exited", p->def->name, (long)pid);
		else
			log_warn("process posternd/%s pid %ld %s", p->def->name, (long)pid, why);
		schedule_restart(p, ran);
	}
}

void master_proc_terminate(struct master_proc *p)
{
	struct master *m = p->master;
	struct timeval tv = { 0, 0 };

	if (p->state == PROC_WAITING) {
		if (p->timer)
			evtimer_del(p->timer);
		p->state = PROC_EXITED;
		return;
	}
	if (p->state != PROC_RUNNING || p->pid <= 0)
		return;
	p->state = PROC_STOPPING;
	kill(p->pid, SIGTERM);
	tv.tv_sec = (time_t)config_time(m->cfg, "master_stop_timeout");
	if (p->timer)
		event_free(p->timer);
	p->timer = evtimer_new(m->base, kill_cb, p);
	if (p->timer == NULL)
		log_fatal("out of memory");
	evtimer_add(p->timer, &tv);
}

void master_stop_all(struct master *m, bool include_current)
{
	for (size_t i = 0; i < m->n_procs; i++)
		if (include_current || m->procs[i]->old)
			master_proc_terminate(m->procs[i]);
}

bool master_all_exited(const struct master *m)
{
	for (size_t i = 0; i < m->n_procs; i++)
		if (m->procs[i]->state != PROC_EXITED)
			return false;
	return true;
}

void master_prune(struct master *m)
{
	size_t k = 0;

	for (size_t i = 0; i < m->n_procs; i++) {
		if (m->procs[i]->old && m->procs[i]->state == PROC_EXITED)
			master_proc_free(&m->procs[i]);
		else
			m->procs[k++] = m->procs[i];
	}
	m->n_procs = k;
}
