/*
 * master-unix.c - the unix sockets roles declare (role_def.unix_sockets),
 * created by the master and passed like TCP listeners.
 *
 * Why the master: the auth socket must be group postfix (or another group
 * mail_owner is not in) so that Postfix's smtpd can connect with
 * smtpd_sasl_type = dovecot; only root can give a file such a group, and a
 * role runs as mail_owner. Dovecot solves it the same way (its master
 * creates unix_listener sockets with user/group/mode). So the master
 * creates every declared socket while it is still root, and the role only
 * accepts on the fd it is given.
 *
 * Called by master.c at start (prepare + commit), master-reload.c on reload
 * (prepare, then commit or abort together with the listeners), and at stop
 * (master_unix_close with unlink). Safety rules:
 *   - only a socket is ever removed from a socket path, and at start only
 *     one nobody accepts on (a running program's socket is refused);
 *   - a missing parent directory is created 0755 owned by the master's
 *     user (root): roles cannot replace sockets in it, clients can reach it;
 *   - the mode comes from the umask at bind, the owner from fchownat on an
 *     O_NOFOLLOW handle: nothing is chmod'ed or chown'ed by path;
 *   - a socket is unlinked only when the file at its path still is the one
 *     we created (device + inode), so a path taken over by someone else is
 *     left alone;
 *   - on reload, a socket whose path, mode, owner and group are unchanged
 *     is kept (same inode, same fd: no connection refused); a changed one
 *     is bound under a temporary name and renamed over the old one at
 *     commit, so the old role keeps serving until then.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "master/master.h"
#include "util.h"

#define UNIX_BACKLOG 128

static void fill_sun(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	str_copy(sun->sun_path, path, sizeof(sun->sun_path));
}

/* True when a process accepts connections on the socket at path. */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	fill_sun(&sun, path);
	alive = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return alive;
}

/* The parent of path exists and is a directory, or is created (one level). */
static int ensure_parent(const char *what, const char *path, char **error_r)
{
	char *dir = must_strdup(path);
	char *slash = strrchr(dir, '/');
	struct stat st;
	int ret = 0;

	if (slash == NULL || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			*error_r = must_asprintf("%s: %s is not a directory; remove it or choose another path for %s",
						 what, dir, path);
			ret = -1;
		}
	} else if (errno != ENOENT || mkdir(dir, 0755) < 0) {
		*error_r = must_asprintf("%s: cannot create directory %s: %s; create it (mkdir -m 0755 %s) or choose another path",
					 what, dir, strerror(errno), dir);
		ret = -1;
	} else {
		/* mkdir honours the umask; the mode must not depend on it. */
		(void)chmod(dir, 0755);
	}
	free(dir);
	return ret;
}

/* Bind + listen at bind_path (which may be a temporary name for path),
 * then owner, group and mode. */
static int create_at(const char *what, const char *bind_path, mode_t mode, uid_t uid, gid_t gid,
		     int *fd_r, struct stat *st_r, char **error_r)
{
	struct sockaddr_un sun;
	mode_t old_mask;
	int fd, r, pfd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = must_asprintf("%s: cannot create a socket: %s", what, strerror(errno));
		return -1;
	}
	fill_sun(&sun, bind_path);
	/* Linux creates a socket file with 0777 & ~umask, so this umask gives
	 * exactly mode, with no moment where the socket is more open and no
	 * chmod by path afterwards. */
	old_mask = umask(0777 & ~mode);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (r < 0) {
		*error_r = must_asprintf("%s: cannot bind %s: %s; check that its directory is writable by posternd's user",
					 what, bind_path, strerror(errno));
		close(fd);
		return -1;
	}
	/* The directory may be writable by mail_owner (run_directory): chown
	 * through an O_PATH|O_NOFOLLOW handle checked to be a socket, so that
	 * a symlink swapped in meanwhile cannot make root chown another file. */
	pfd = open(bind_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd >= 0 && fstat(pfd, st_r) == 0 && !S_ISSOCK(st_r->st_mode)) {
		close(pfd);
		pfd = -1;
		errno = EEXIST;   /* replaced by something else meanwhile */
	}
	if (pfd < 0 || listen(fd, UNIX_BACKLOG) < 0 ||
	    fchownat(pfd, "", uid, gid, AT_EMPTY_PATH) < 0 || fstat(pfd, st_r) < 0) {
		*error_r = must_asprintf("%s: cannot give %s owner %ld and group %ld: %s", what, bind_path,
					 (long)uid, (long)gid, strerror(errno));
		if (pfd >= 0)
			close(pfd);
		unlink(bind_path);
		close(fd);
		return -1;
	}
	close(pfd);
	*fd_r = fd;
	return 0;
}

int master_unix_create(const char *what, const char *path, mode_t mode, uid_t uid, gid_t gid,
		       int *fd_r, struct stat *st_r, char **error_r)
{
	struct sockaddr_un sun;
	struct stat st;

	*fd_r = -1;
	if (path == NULL || path[0] != '/') {
		*error_r = must_asprintf("%s: \"%s\" is not an absolute path; give the full path of the socket",
					 what, path ? path : "");
		return -1;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*error_r = must_asprintf("%s: %s is longer than %zu bytes, the limit for a unix socket; choose a shorter path",
					 what, path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	if (ensure_parent(what, path, error_r) < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*error_r = must_asprintf("%s: %s exists and is not a socket; remove it or choose another path",
						 what, path);
			return -1;
		}
		if (socket_alive(path)) {
			*error_r = must_asprintf("%s: %s is in use by another program (maybe another posternd or Dovecot); stop it or choose another path",
						 what, path);
			return -1;
		}
		/* Left behind by a posternd that was killed: nobody listens. */
		if (unlink(path) < 0 && errno != ENOENT) {
			*error_r = must_asprintf("%s: cannot remove the stale socket %s: %s", what, path,
						 strerror(errno));
			return -1;
		}
	}
	return create_at(what, path, mode, uid, gid, fd_r, st_r ? st_r : &st, error_r);
}

/* "FILE:LINE: NAME" of the assignment, or "CONF: NAME" for a default. */
static char *where(const struct config *cfg, const char *param)
{
	const char *file = NULL;
	int line = config_where(cfg, param, &file);

	if (line > 0)
		return must_asprintf("%s:%d: %s", file, line, param);
	return must_asprintf("%s: %s", config_path(cfg), param);
}

static bool member_of(gid_t gid)
{
	gid_t groups[256];
	int n;

	if (getegid() == gid)
		return true;
	n = getgroups(256, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* The gid for spec's group; -1 with the error. */
static int resolve_group(const struct config *cfg, const struct master_identity *id,
			 const struct role_unix_socket *spec, gid_t *gid_r, char **error_r)
{
	const char *param = spec->group_param ? spec->group_param : spec->path_param;
	struct group *gr;
	char *w;

	if (spec->group == NULL || spec->group[0] == '\0') {
		*gid_r = id->drop ? id->gid : getegid();
		return 0;
	}
	gr = getgrnam(spec->group);
	if (gr == NULL) {
		w = where(cfg, param);
		*error_r = must_asprintf("%s: no group \"%s\"; create it or fix the name", w, spec->group);
		free(w);
		return -1;
	}
	if (!id->drop && geteuid() != 0 && !member_of(gr->gr_gid)) {
		w = where(cfg, param);
		*error_r = must_asprintf("%s: posternd runs as %s without root, and %s is not in group \"%s\", so %s cannot be given that group; start posternd as root, add the user to the group (usermod -aG %s %s), or leave %s empty",
					 w, id->user, id->user, spec->group, spec->path_param,
					 spec->group, id->user, param);
		free(w);
		return -1;
	}
	*gid_r = gr->gr_gid;
	return 0;
}

static struct master_unix_socket *find_kept(struct master_unix_sockets *keep, const char *path)
{
	for (size_t i = 0; keep && i < keep->n; i++)
		if (keep->items[i].fd >= 0 && strcmp(keep->items[i].path, path) == 0)
			return &keep->items[i];
	return NULL;
}

/* The file at path still is the socket we created. */
static bool still_ours(const struct master_unix_socket *s)
{
	struct stat st;

	return lstat(s->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s->dev &&
	       st.st_ino == s->ino;
}

static int prepare_one(const struct config *cfg, const struct master_identity *id,
		       const struct role_def *def, const struct role_unix_socket *spec,
		       struct master_unix_sockets *keep, struct master_unix_socket *s,
		       char **error_r)
{
	struct master_unix_socket *k;
	struct stat st;
	char *w;
	int r;

	s->def = def;
	s->fd = -1;
	if (str_copy(s->name, spec->name, sizeof(s->name)) >= sizeof(s->name)) {
		*error_r = must_asprintf("role %s: unix socket name %s is too long", def->name, spec->name);
		return -1;
	}
	s->path = must_strdup(spec->path ? spec->path : "");
	s->mode = (mode_t)(spec->mode & 0777);
	s->uid = id->drop ? id->uid : geteuid();
	if (resolve_group(cfg, id, spec, &s->gid, error_r) < 0)
		return -1;
	k = find_kept(keep, s->path);
	if (k && k->mode == s->mode && k->uid == s->uid && k->gid == s->gid && still_ours(k)) {
		s->fd = k->fd;
		s->dev = k->dev;
		s->ino = k->ino;
		s->kept = true;
		return 0;
	}
	w = where(cfg, spec->path_param);
	if (k && still_ours(k)) {
		/* Changed mode or group of a socket the running role serves:
		 * build the new one aside, swap at commit. */
		s->tmp_path = must_asprintf("%s.new", s->path);
		if (strlen(s->tmp_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*error_r = must_asprintf("%s: %s is too long to be replaced on reload; choose a shorter path, or stop and start posternd",
						 w, s->path);
			x_free(&s->tmp_path);
			free(w);
			return -1;
		}
		/* Left by a reload that died half-way; only ever a socket. */
		if (lstat(s->tmp_path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				*error_r = must_asprintf("%s: %s exists and is not a socket; remove it",
							 w, s->tmp_path);
				x_free(&s->tmp_path);
				free(w);
				return -1;
			}
			(void)unlink(s->tmp_path);
		}
		r = create_at(w, s->tmp_path, s->mode, s->uid, s->gid, &s->fd, &st, error_r);
	} else {
		r = master_unix_create(w, s->path, s->mode, s->uid, s->gid, &s->fd, &st, error_r);
	}
	free(w);
	if (r < 0)
		return -1;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

static void free_items(struct master_unix_sockets *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->items[i].path);
		free(set->items[i].tmp_path);
	}
	x_free(&set->items);
	set->n = 0;
}

void master_unix_abort(struct master_unix_sockets *fresh)
{
	for (size_t i = 0; i < fresh->n; i++) {
		struct master_unix_socket *s = &fresh->items[i];

		if (s->kept || s->fd < 0)
			continue;
		close(s->fd);
		if (s->tmp_path)
			(void)unlink(s->tmp_path);
		else if (still_ours(s))
			(void)unlink(s->path);
	}
	free_items(fresh);
}

int master_unix_prepare(const struct config *cfg, const struct master_identity *id,
			struct master_unix_sockets *keep, struct master_unix_sockets *out,
			char **error_r)
{
	out->items = NULL;
	out->n = 0;
	for (size_t r = 0; r < role_count(); r++) {
		const struct role_def *def = role_at(r);
		struct role_unix_socket specs[ROLE_MAX_UNIX_SOCKETS];
		int n;

		if (def->unix_sockets == NULL)
			continue;
		memset(specs, 0, sizeof(specs));
		n = def->unix_sockets(cfg, specs, ROLE_MAX_UNIX_SOCKETS, error_r);
		if (n < 0) {
			master_unix_abort(out);
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct master_unix_socket *s;

			for (size_t j = 0; j < out->n; j++) {
				if (strcmp(out->items[j].path, specs[i].path) == 0) {
					char *w = where(cfg, specs[i].path_param);

					*error_r = must_asprintf("%s: %s is also the path of another socket; give each socket its own path",
								 w, specs[i].path);
					free(w);
					master_unix_abort(out);
					return -1;
				}
			}
			out->items = must_realloc(out->items, (out->n + 1) * sizeof(*out->items));
			s = &out->items[out->n++];
			memset(s, 0, sizeof(*s));
			if (prepare_one(cfg, id, def, &specs[i], keep, s, error_r) < 0) {
				master_unix_abort(out);
				return -1;
			}
		}
	}
	return 0;
}

void master_unix_commit(struct master_unix_sockets *keep, struct master_unix_sockets *fresh)
{
	for (size_t i = 0; i < fresh->n; i++) {
		struct master_unix_socket *s = &fresh->items[i];
		struct master_unix_socket *k = find_kept(keep, s->path);

		if (s->kept) {
			k->fd = -1;     /* handed over */
			continue;
		}
		if (s->tmp_path) {
			if (rename(s->tmp_path, s->path) < 0)
				log_warn("cannot rename %s to %s: %s; the role serves the old socket until the next reload",
					 s->tmp_path, s->path, strerror(errno));
			x_free(&s->tmp_path);
			if (k) {
				close(k->fd);   /* its file was just replaced */
				k->fd = -1;
			}
		}
	}
	/* What is left in keep is gone from the configuration. */
	if (keep)
		master_unix_close(keep, true);
}

void master_unix_close(struct master_unix_sockets *set, bool unlink_files)
{
	for (size_t i = 0; i < set->n; i++) {
		struct master_unix_socket *s = &set->items[i];

		if (s->fd < 0)
			continue;
		if (unlink_files && still_ours(s))
			(void)unlink(s->path);
		close(s->fd);
		s->fd = -1;
	}
	free_items(set);
}
