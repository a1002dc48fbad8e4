/*
 * master-start.c - what posternd checks and prepares before it serves:
 * the pid file lock, the run directory, the user roles drop to, and
 * turning into a daemon only once everything that can fail has been done,
 * so start-up errors reach the terminal.
 *
 * Pid file: $run_directory/master.pid, held with flock(LOCK_EX) for the
 * master's lifetime. The lock, not the number in the file, says whether a
 * master is running, so a stale file after a crash never blocks a start
 * and a recycled pid is never mistaken for posternd.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "master/master.h"
#include "util.h"

static pid_t pid_from_fd(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long v;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (v <= 0 || v > 4194304)
		return 0;
	return (pid_t)v;
}

int master_pidfile_lock(const char *path, char **error_r)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0) {
		*error_r = must_asprintf("cannot open pid file %s: %s; check run_directory", path,
					 strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		pid_t pid = pid_from_fd(fd);

		close(fd);
		if (e == EWOULDBLOCK)
			*error_r = must_asprintf("posternd is already running with pid %ld (%s); stop it with postern stop",
						 (long)pid, path);
		else
			*error_r = must_asprintf("cannot lock pid file %s: %s", path, strerror(e));
		return -1;
	}
	return fd;
}

int master_pidfile_write(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -1;
	return 0;
}

pid_t master_pidfile_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	pid_t pid;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	pid = pid_from_fd(fd);
	close(fd);
	/* Locked but no number yet: the master is between lock and write. */
	return pid > 0 ? pid : 1;
}

int master_run_directory(const char *dir, const struct master_identity *id, char **error_r)
{
	struct stat st;

	if (dir == NULL || *dir != '/') {
		*error_r = must_asprintf("run_directory must be an absolute path; set it in the configuration");
		return -1;
	}
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			*error_r = must_asprintf("run_directory %s is not a directory; remove it or set run_directory", dir);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT || mkdir(dir, 0750) < 0) {
		*error_r = must_asprintf("cannot create run_directory %s: %s; create it or set run_directory",
					 dir, strerror(errno));
		return -1;
	}
	if (id->drop && chown(dir, id->uid, id->gid) < 0) {
		*error_r = must_asprintf("cannot chown run_directory %s to %s: %s", dir, id->user,
					 strerror(errno));
		return -1;
	}
	return 0;
}

int master_identity_resolve(const struct config *cfg, struct master_identity *id, char **error_r)
{
	const char *owner = config_str(cfg, "mail_owner");
	struct passwd *pw;
	const char *file = NULL;
	int line = config_where(cfg, "mail_owner", &file);
	char where[512];
	int ng = 64;

	memset(id, 0, sizeof(*id));
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d: ", file, line);
	else
		snprintf(where, sizeof(where), "%s: ", config_path(cfg));
	if (geteuid() != 0) {
		pw = getpwuid(geteuid());
		id->drop = false;
		id->uid = geteuid();
		id->gid = getegid();
		id->user = must_strdup(pw ? pw->pw_name : "?");
		if (config_raw(cfg, "mail_owner") && (pw == NULL || strcmp(pw->pw_name, owner) != 0))
			log_warn("%smail_owner: is %s but posternd runs as %s without root, so every role runs as %s; set mail_owner = %s or start posternd as root",
				 where, owner, id->user, id->user, id->user);
		return 0;
	}
	pw = getpwnam(owner);
	if (pw == NULL) {
		*error_r = must_asprintf("%smail_owner: no such user \"%s\"; create it (useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin %s) or set mail_owner",
					 where, owner, owner);
		return -1;
	}
	if (pw->pw_uid == 0) {
		*error_r = must_asprintf("%smail_owner: \"%s\" is root; roles must not run as root, use an unprivileged user such as postern",
					 where, owner);
		return -1;
	}
	id->drop = true;
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	id->user = must_strdup(pw->pw_name);
	id->groups = must_calloc((size_t)ng, sizeof(gid_t));
	if (getgrouplist(id->user, id->gid, id->groups, &ng) < 0) {
		id->groups = must_realloc(id->groups, (size_t)ng * sizeof(gid_t));
		if (getgrouplist(id->user, id->gid, id->groups, &ng) < 0)
			ng = 0;
	}
	id->n_groups = ng;
	return 0;
}

void master_identity_free(struct master_identity *id)
{
	x_free(&id->groups);
	x_free(&id->user);
}

int master_drop_privileges(const struct master_identity *id)
{
	if (!id->drop)
		return 0;
	if (setgroups((size_t)id->n_groups, id->groups) < 0 || setgid(id->gid) < 0 ||
	    setuid(id->uid) < 0)
		return -1;
	/* Verify the change is permanent: a saved set-user-ID of 0 would let
	 * a compromised role become root again. */
	if (setuid(0) == 0 || seteuid(0) == 0 || getuid() == 0 || geteuid() == 0 ||
	    (getgid() == 0 && id->gid != 0))
		return -1;
	return 0;
}

void master_daemonize(int *ready_fd_r)
{
	int pfd[2];
	pid_t pid;
	char c;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		log_fatal("cannot create a pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		log_fatal("cannot fork: %s", strerror(errno));
	if (pid > 0) {
		int status;

		close(pfd[1]);
		do
			n = read(pfd[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		/* The daemon died before it was ready; it said why on stderr. */
		waitpid(pid, &status, 0);
		_exit(1);
	}
	close(pfd[0]);
	if (setsid() < 0)
		log_fatal("setsid: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		log_fatal("cannot fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		log_fatal("chdir /: %s", strerror(errno));
	*ready_fd_r = pfd[1];
}

void master_daemon_ready(int *ready_fd)
{
	int null;

	if (*ready_fd < 0)
		return;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (write(*ready_fd, "R", 1) < 0)
		log_warn("cannot signal readiness: %s", strerror(errno));
	close(*ready_fd);
	*ready_fd = -1;
}
