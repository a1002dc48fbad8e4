/*
 * master-reload.c - SIGHUP (or RELOAD on the control socket): re-read the
 * configuration and apply it without closing the listening sockets.
 *
 * The new file is validated completely first (config_load, built roles,
 * the roles' unix sockets, binding of new listeners). Anything wrong: the errors are logged, the
 * running configuration stays, nothing changed ("warning: reload failed,
 * keeping the running configuration"). Otherwise:
 *   - listeners with the same address and port keep their socket (same
 *     fd), new ones are bound, removed ones are closed; unix sockets of
 *     roles likewise when path, mode and group are unchanged (same inode),
 *     and are re-created when they changed (master-unix.c);
 *   - every role process is replaced: new processes are started first and
 *     the old ones get SIGTERM after, so a listener is never without a
 *     process accepting on it and sessions in progress finish in the old
 *     process (up to master_stop_timeout). Stop-then-start would refuse
 *     connections for the length of a role's start-up on every reload.
 *     The exception is a role marked exclusive (the queue manager, which
 *     must never have two processes working the same queue files): it is
 *     stopped first and its successor starts when it has exited.
 * Parameters flagged PARAM_F_RESTART (mail_owner, directories) are
 * reported when they changed: the master keeps its pid file, control
 * socket and user until a stop and start.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "master/master.h"
#include "util.h"

struct reload_report {
	struct strbuf *out;
	bool errors;
};

static void reload_report_cb(enum config_level level, const char *msg, void *ctx)
{
	struct reload_report *r = ctx;

	if (level == CONFIG_ERROR) {
		r->errors = true;
		log_error("%s", msg);
	} else {
		log_warn("%s", msg);
	}
	if (r->out)
		strbuf_printf(r->out, "%s %s\n", level == CONFIG_ERROR ? "ERR" : "WARN", msg);
}

int master_check_config(const struct config *cfg, char **error_r)
{
	if (role_check_listeners(cfg, error_r) < 0)
		return -1;
	return role_check_configs(cfg, error_r);
}

static void warn_restart_params(const struct config *old_cfg, const struct config *new_cfg)
{
	for (size_t i = 0; i < param_count(); i++) {
		const struct param_def *d = param_at(i);
		const char *a, *b;

		if (!(d->flags & PARAM_F_RESTART) || (d->type != PARAM_STRING && d->type != PARAM_PATH))
			continue;
		a = config_str(old_cfg, d->name);
		b = config_str(new_cfg, d->name);
		if (strcmp(a ? a : "", b ? b : "") != 0)
			log_warn("%s changed from \"%s\" to \"%s\": it takes effect only after \"postern stop\" and \"postern start\"",
				 d->name, a ? a : "", b ? b : "");
	}
}

static void reload_fail(struct reload_report *r, char *err)
{
	if (err) {
		log_error("%s", err);
		if (r->out)
			strbuf_printf(r->out, "ERR %s\n", err);
		free(err);
	}
	log_warn("reload failed, keeping the running configuration");
}

int master_reload(struct master *m, struct strbuf *out)
{
	struct reload_report r = { out, false };
	struct master_listeners fresh;
	struct master_unix_sockets fresh_unix;
	struct config *cfg;
	char *err = NULL;
	size_t first_new, started;

	cfg = config_load(m->opts.conf, reload_report_cb, &r);
	if (cfg == NULL) {
		reload_fail(&r, NULL);
		return -1;
	}
	if (master_check_config(cfg, &err) < 0 ||
	    master_unix_prepare(cfg, &m->id, &m->unix_socks, &fresh_unix, &err) < 0) {
		config_free(&cfg);
		reload_fail(&r, err);
		return -1;
	}
	if (master_listeners_bind(cfg, &m->listeners, &fresh, &err) < 0) {
		master_unix_abort(&fresh_unix);
		config_free(&cfg);
		reload_fail(&r, err);
		return -1;
	}
	warn_restart_params(m->cfg, cfg);

	/* Point of no return: switch listeners and configuration. */
	for (size_t i = 0; i < m->n_procs; i++) {
		struct master_proc *p = m->procs[i];

		p->old = true;
		p->n_listeners = 0;
		p->n_unix = 0;
		if (p->state == PROC_WAITING)
			master_proc_terminate(p);
	}
	master_listeners_close(&m->listeners);
	m->listeners = fresh;
	master_unix_commit(&m->unix_socks, &fresh_unix);
	m->unix_socks = fresh_unix;
	config_free(&m->cfg);
	m->cfg = cfg;
	master_log_setup(m->cfg, "master", m->opts.foreground);

	first_new = m->n_procs;
	master_roles_plan(m, true);
	for (size_t i = first_new; i < m->n_procs; i++) {
		struct master_proc *p = m->procs[i];
		bool old_alive = false;

		for (size_t j = 0; j < first_new; j++)
			if (m->procs[j]->def == p->def && m->procs[j]->state != PROC_EXITED)
				old_alive = true;
		if (p->def->exclusive && old_alive) {
			p->after_old = true;
			p->state = PROC_WAITING;
			continue;
		}
		if (master_proc_spawn(p) < 0)
			log_error("cannot start role %s after reload; will retry on the next reload",
				  p->def->name);
	}
	for (size_t j = 0; j < first_new; j++)
		master_proc_terminate(m->procs[j]);
	started = m->n_procs - first_new;
	master_prune(m);
	m->reloads++;
	log_info("configuration reloaded: %zu listener(s), %zu role process(es)", m->listeners.n,
		 started);
	return 0;
}
