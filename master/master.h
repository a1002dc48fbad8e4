/*
 * master.h - posternd's master process, private to master/ (and to the
 * unit tests, which link libmaster.a).
 *
 * Files and their one concern each:
 *   main.c             argument parsing only
 *   master.c           start-up order, the event loop, stop
 *   master-start.c     pre-flight: run directory, pid file lock, mail_owner, daemonize
 *   master-listeners.c binding every listener atomically; reuse on reload
 *   master-unix.c      the unix sockets roles declare: create, keep, unlink
 *   master-roles.c     which role processes to run; fork + exec + privilege drop
 *   supervise.c        child exits, restart backoff, graceful stop/replace
 *   master-control.c   the control socket (STATUS, RELOAD, STOP)
 *   master-reload.c    SIGHUP: validate, rebind, replace roles
 *   fdpass.c           POSTERN_LISTEN_FDS encoding/parsing, fd shuffling
 *   role-process.c     `posternd --role NAME`: the role side of the contract
 *   roles.c            the table of built roles (role.h)
 *   role-selftest.c    a test-only role that serves no protocol
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "role.h"

struct event_base;
struct event;
struct master_identity;

/* Names under run_directory. */
#define MASTER_PID_FILE "master.pid"
#define MASTER_CONTROL_SOCKET "master.sock"
/* A role that ran at least this long before dying restarts after the
 * base delay again rather than the doubled one. */
#define MASTER_RESTART_STABLE_SECONDS 30
/* Longest line on the control socket, in either direction's request. */
#define MASTER_CONTROL_MAX_LINE 256

struct master_options {
	const char *conf;      /* configuration file (absolute after main) */
	bool foreground;       /* -f */
	const char *role;      /* --role NAME, or NULL for the master */
	const char *self_exe;  /* this binary, for re-exec of roles */
};

/* --- main entry points ------------------------------------------------ */

/* master_main - run the master until stopped. Returns the exit status. */
int master_main(const struct master_options *opts);

/* role_process_main - run one role (posternd --role NAME). Exit status. */
int role_process_main(const struct master_options *opts);

/* --- logging (master-log.c) ------------------------------------------- */

/* master_log_setup - switch logging to "SYSLOG_NAME/WHAT" on syslog, the
 * maillog_file of cfg, and stderr with timestamps when foreground.
 * A maillog_file that cannot be opened is warned about once. */
void master_log_setup(const struct config *cfg, const char *what, bool foreground);

/* --- listeners (master-listeners.c) ----------------------------------- */

struct master_listener {
	const struct config_listener *cl; /* owned by the config it was bound for */
	int fd;                           /* listening socket, CLOEXEC */
};

struct master_listeners {
	struct master_listener *items;    /* one per config listener, in config order */
	size_t n;
};

/*
 * master_listeners_bind - bind every listener of cfg, all or nothing.
 * A listener whose address and port are already open in keep (the running
 * set, may be NULL) reuses that socket: its fd moves to *out and the entry
 * in keep gets fd -1, but only when everything succeeded. On failure every
 * socket bound by this call is closed, keep is untouched, and *error_r is
 * one line "FILE:LINE: NAME/listen: problem; fix" in new memory (caller
 * frees). Returns 0 or -1. *out must be released with
 * master_listeners_close().
 */
int master_listeners_bind(const struct config *cfg, struct master_listeners *keep,
			  struct master_listeners *out, char **error_r);

/* master_listeners_close - close every fd still >= 0 and free the array. */
void master_listeners_close(struct master_listeners *ls);

/* --- unix sockets of roles (master-unix.c) ---------------------------- */

struct master_unix_socket {
	const struct role_def *def;  /* the role it is passed to */
	char name[48];               /* passed as "unix:" + name */
	char *path;
	char *tmp_path;              /* bound here until commit (reload replacing a live one) */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int fd;                      /* listening, CLOEXEC; -1 once handed over or closed */
	dev_t dev;                   /* the file we created, so that only it is unlinked */
	ino_t ino;
	bool kept;                   /* fd borrowed from the running set until commit */
};

struct master_unix_sockets {
	struct master_unix_socket *items;
	size_t n;
};

/*
 * master_unix_create - a listening unix stream socket at path (absolute),
 * owner uid, group gid, permission bits mode. A stale socket at path
 * (nobody accepts on it) is removed first; a file that is not a socket or
 * a socket in use is refused. A missing parent directory is created 0755
 * (one level, owned by the caller). what prefixes every message, e.g.
 * "FILE:LINE: auth_socket_path". Returns 0 with *fd_r (non-blocking,
 * CLOEXEC) and *st_r (may be NULL: the socket file's lstat), or -1 with
 * *error_r set to one line in new memory (caller frees): "WHAT: problem;
 * fix".
 */
int master_unix_create(const char *what, const char *path, mode_t mode, uid_t uid, gid_t gid,
		       int *fd_r, struct stat *st_r, char **error_r);

/*
 * master_unix_prepare - create every unix socket the built roles declare
 * under cfg (owner: id's user, or the invoking user without root). A
 * socket of keep (the running set, may be NULL) with the same path, mode,
 * owner and group whose file is still ours is reused (fd borrowed, keep
 * untouched); one whose mode or group changed is built as PATH.new. Then
 * either master_unix_commit() or master_unix_abort() must follow. Returns
 * 0, or -1 with *error_r (new memory, "FILE:LINE: NAME: problem; fix") and
 * nothing created. Errors include an unknown group and, without root, a
 * group the invoking user is not in.
 */
int master_unix_prepare(const struct config *cfg, const struct master_identity *id,
			struct master_unix_sockets *keep, struct master_unix_sockets *out,
			char **error_r);

/* master_unix_commit - hand borrowed fds over to fresh, rename replaced
 * sockets into place, then close and unlink whatever of keep (may be
 * NULL) is left and free it. */
void master_unix_commit(struct master_unix_sockets *keep, struct master_unix_sockets *fresh);

/* master_unix_abort - undo master_unix_prepare: close and unlink what it
 * created, leave borrowed ones, free fresh. */
void master_unix_abort(struct master_unix_sockets *fresh);

/* master_unix_close - close every socket of set, unlinking its file when
 * unlink_files and the file still is ours; free set. */
void master_unix_close(struct master_unix_sockets *set, bool unlink_files);

/* --- fd passing (fdpass.c) -------------------------------------------- */

struct fdpass_entry {
	char name[64];
	int fd;
};

/*
 * fdpass_format - "name:fd,name:fd" for n entries into new memory.
 * fdpass_parse - the reverse (format: lib/role.h; the fd follows the last
 * ':' of an entry, so "unix:auth:5" is name "unix:auth"); rejects empty names,
 * fds below ROLE_FIRST_LISTEN_FD or above 65535, duplicates and more than
 * max entries. Returns the count (>= 0) with *entries_r (caller frees), or
 * -1 with *error_r (static text).
 */
char *fdpass_format(const struct fdpass_entry *entries, size_t n);
int fdpass_parse(const char *text, size_t max, struct fdpass_entry **entries_r,
		 const char **error_r);

/*
 * fdpass_install - in a child before exec: make fds[i] appear at
 * ROLE_FIRST_LISTEN_FD + i (without CLOEXEC) even when the numbers
 * overlap, then close every other fd >= ROLE_FIRST_LISTEN_FD. 0 or -1.
 */
int fdpass_install(const int *fds, size_t n);

/* --- role processes (master-roles.c, supervise.c) --------------------- */

enum master_proc_state {
	PROC_RUNNING,
	PROC_WAITING,   /* died, restart timer pending */
	PROC_STOPPING,  /* SIGTERM sent, waiting for exit */
	PROC_EXITED,    /* gone and will not be restarted */
};

struct master;

struct master_proc {
	struct master *master;
	const struct role_def *def;
	pid_t pid;
	enum master_proc_state state;
	unsigned restarts;
	time_t started;
	long long delay;          /* last restart delay used, seconds */
	bool old;                 /* replaced by a reload; never restarted */
	bool after_old;           /* exclusive role: start once the old one exited */
	struct event *timer;      /* restart delay, or SIGKILL deadline */
	size_t *listener_idx;     /* indexes into master->listeners */
	size_t n_listeners;
	size_t *unix_idx;         /* indexes into master->unix_socks */
	size_t n_unix;
};

/* The identity roles drop to. */
struct master_identity {
	bool drop;        /* true when the master runs as root */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int n_groups;
	char *user;
};

struct master {
	struct master_options opts;
	struct event_base *base;
	struct config *cfg;
	struct master_listeners listeners;
	struct master_unix_sockets unix_socks;
	struct master_identity id;
	struct master_proc **procs;   /* current and draining role processes */
	size_t n_procs;
	time_t started;
	bool stopping;
	bool reload_pending;          /* an exclusive role is being stopped for a reload */
	struct event *stop_timer;
	struct event *sig_events[4];
	int pid_fd;
	char *pid_path;
	int control_fd;
	char *control_path;
	struct event *control_ev;
	int ready_fd;                 /* daemonize readiness pipe, or -1 */
	unsigned reloads;
};

/*
 * master_restart_delay - the delay before restarting a role that died.
 * prev: the delay used last time (-1 when it never died before); ran:
 * seconds it ran this time. A role that ran at least
 * MASTER_RESTART_STABLE_SECONDS starts over at base; otherwise the delay
 * doubles (at least 1s once base was used), never above max.
 */
long long master_restart_delay(long long prev, long long ran, long long base, long long max);

/* master_exit_text - "exit status 3" / "killed by signal 9" for a
 * waitpid() status, into buf; returns buf. */
const char *master_exit_text(int status, char *buf, size_t size);

/* master_roles_plan - create master->procs for every role cfg needs:
 * each role serving a listener, plus every role marked always. */
void master_roles_plan(struct master *m, bool old_gen_exists);

/* master_proc_spawn - fork + exec one role process. 0, or -1 (logged). */
int master_proc_spawn(struct master_proc *p);

/* master_proc_free - free a proc no longer in the array. */
void master_proc_free(struct master_proc **p);

/* supervise: */
void master_reap(struct master *m);
void master_stop_all(struct master *m, bool include_current);
void master_proc_terminate(struct master_proc *p);
bool master_all_exited(const struct master *m);
void master_prune(struct master *m);

/* master_identity_resolve - fill id from cfg's mail_owner when running as
 * root, or check it matches the invoking user otherwise (warns). 0 or -1
 * with *error_r (new memory). */
int master_identity_resolve(const struct config *cfg, struct master_identity *id, char **error_r);
void master_identity_free(struct master_identity *id);

/* master_drop_privileges - in a child: become id's user for good. 0 or -1. */
int master_drop_privileges(const struct master_identity *id);

/* --- start-up helpers (master-start.c) -------------------------------- */

/* master_pidfile_lock - open + flock path; on conflict *error_r says
 * "posternd is already running with pid N (FILE); stop it with postern
 * stop". Returns the fd or -1 with *error_r (new memory). */
int master_pidfile_lock(const char *path, char **error_r);
/* master_pidfile_write - write our pid into the locked file. 0 or -1. */
int master_pidfile_write(int fd);
/* master_pidfile_read - pid of a running posternd holding path's lock:
 * > 0 running, 0 not running (no file or lock free), -1 error (errno). */
pid_t master_pidfile_read(const char *path);

/* master_run_directory - create run_directory when missing (0750, owned
 * by mail_owner when root). 0 or -1 with *error_r (new memory). */
int master_run_directory(const char *dir, const struct master_identity *id, char **error_r);

/* master_daemonize - double fork; the original process waits for the
 * daemon's master_daemon_ready() and exits 0, or exits 1 when the daemon
 * dies first. Returns in the daemon with *ready_fd_r set. */
void master_daemonize(int *ready_fd_r);
/* master_daemon_ready - tell the waiting parent we are up; detach stdio. */
void master_daemon_ready(int *ready_fd);

/* --- control socket (master-control.c) -------------------------------- */

/* master_control_open - bind run_directory/master.sock (0600). 0 or -1
 * with *error_r (new memory). */
int master_control_open(struct master *m, char **error_r);
/* master_control_start - accept connections on the event loop. */
void master_control_start(struct master *m);
void master_control_close(struct master *m);
/* master_status_text - the STATUS response body (without the "." line),
 * appended to sb. */
struct strbuf;
void master_status_text(const struct master *m, struct strbuf *sb);

/* --- reload (master-reload.c) ----------------------------------------- */

/* master_reload - re-read and validate the configuration; on success
 * rebind and replace roles, else keep running. Returns 0 or -1; problems
 * are logged and, if out is not NULL, appended to it one per line. */
int master_reload(struct master *m, struct strbuf *out);

/* master_check_config - what start and reload both validate beyond
 * config_load(): built roles for every listener. 0 or -1 with *error_r. */
int master_check_config(const struct config *cfg, char **error_r);

/* master_begin_stop - start a graceful stop (SIGTERM/SIGINT/STOP). */
void master_begin_stop(struct master *m);

/* --- test-only role (role-selftest.c) --------------------------------- */
int role_selftest_main(const struct role_env *env);

#endif
