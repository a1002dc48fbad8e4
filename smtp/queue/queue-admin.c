/*
 * queue-admin.c - postsuper's operations on queue files
 * (queue-admin.h: queue_admin_apply): delete (-d), hold (-h), release
 * (-H), requeue (-r), on one id or ALL.
 *
 * Called by the queue role when `postern queue ...` asks over its control
 * socket (with skip() naming the messages it has in delivery), and by
 * cli/cmd-queue.c directly when posternd is not running.
 *
 * Postfix's meanings (postsuper(1)): hold and requeue leave incoming/
 * alone (a file there is still being written); release moves hold/ to
 * deferred/ - here with mtime now, so the next deferred scan takes it at
 * once; requeue makes the message go through expansion again (here: a
 * "requeued" record, qmsg.h, then active/). Deleting is unlink() plus an
 * fsync of the directory, so a deleted message stays deleted after a
 * crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtp/queue/qmsg-private.h"
#include "smtp/queue/queue-admin.h"
#include "util.h"

/* applies - whether op touches a message in directory d. */
static bool applies(enum queue_admin_op op, enum qdir d)
{
	switch (op) {
	case QADMIN_DELETE: return true;
	case QADMIN_HOLD: return d == QDIR_ACTIVE || d == QDIR_DEFERRED;
	case QADMIN_RELEASE: return d == QDIR_HOLD;
	case QADMIN_REQUEUE: return d == QDIR_ACTIVE || d == QDIR_DEFERRED || d == QDIR_HOLD;
	}
	return false;
}

static int sync_dir(const char *queue_dir, enum qdir d)
{
	char path[4096];
	int fd, rc;

	if (qmsg_dir_path(path, sizeof(path), queue_dir, d, NULL) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int requeue(const char *queue_dir, const char *id, enum qdir d, char **error_r)
{
	char path[4096];
	struct qmsg *m = NULL;
	char *err = NULL;
	int fd, rc;

	if (qmsg_dir_path(path, sizeof(path), queue_dir, d, id) < 0) {
		qmsg_error(error_r, "%s: path too long", queue_dir);
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		qmsg_error(error_r, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = qmsg_read(fd, id, d, &m, &err);
	if (rc < 0) {
		qmsg_error(error_r, "%s: %s", path, err);
		free(err);
		close(fd);
		return -1;
	}
	rc = qmsg_append_requeued(fd, m, time(NULL), error_r);
	qmsg_free(&m);
	close(fd);
	if (rc < 0)
		return -1;
	if (d != QDIR_ACTIVE && qmsg_move(queue_dir, id, d, QDIR_ACTIVE, 0, error_r) < 0)
		return -1;
	return 0;
}

/* apply_one - op on id in d. 1 done, 0 nothing to do, -1 error. The
 * directory fsync after an unlink is left to the caller (one per
 * directory for ALL). */
static int apply_one(const char *queue_dir, enum queue_admin_op op, const char *id, enum qdir d,
		     char **error_r)
{
	char path[4096];

	if (!applies(op, d))
		return 0;
	switch (op) {
	case QADMIN_DELETE:
		if (qmsg_dir_path(path, sizeof(path), queue_dir, d, id) < 0) {
			qmsg_error(error_r, "%s: path too long", queue_dir);
			return -1;
		}
		if (unlink(path) < 0) {
			if (errno == ENOENT)
				return 0;   /* gone meanwhile (delivered) */
			qmsg_error(error_r, "%s: %s", path, strerror(errno));
			return -1;
		}
		return 1;
	case QADMIN_HOLD:
		return qmsg_move(queue_dir, id, d, QDIR_HOLD, 0, error_r) < 0 ? -1 : 1;
	case QADMIN_RELEASE:
		return qmsg_move(queue_dir, id, d, QDIR_DEFERRED, time(NULL), error_r) < 0 ? -1 : 1;
	case QADMIN_REQUEUE:
		return requeue(queue_dir, id, d, error_r) < 0 ? -1 : 1;
	}
	return 0;
}

/* list_ids - the queue ids in queue_dir/d (new array of new strings,
 * count in *n_r); taken before acting, as acting changes the directory.
 * NULL with *error_r when the directory cannot be read or memory ran out. */
static char **list_ids(const char *queue_dir, enum qdir d, size_t *n_r, char **error_r)
{
	char path[4096];
	DIR *dir;
	struct dirent *e;
	char **ids = calloc(1, sizeof(char *));
	size_t n = 0, cap = 1;

	*n_r = 0;
	if (ids == NULL) {
		qmsg_error(error_r, "out of memory");
		return NULL;
	}
	if (qmsg_dir_path(path, sizeof(path), queue_dir, d, NULL) < 0) {
		qmsg_error(error_r, "%s: path too long", queue_dir);
		free(ids);
		return NULL;
	}
	if ((dir = opendir(path)) == NULL) {
		if (errno == ENOENT)
			return ids;
		qmsg_error(error_r, "%s: %s", path, strerror(errno));
		free(ids);
		return NULL;
	}
	while ((e = readdir(dir)) != NULL) {
		if (!qmsg_id_valid(e->d_name))
			continue;
		if (n == cap) {
			char **nids = realloc(ids, cap * 2 * sizeof(*ids));
			if (nids == NULL)
				break;
			ids = nids;
			cap *= 2;
		}
		if ((ids[n] = strdup(e->d_name)) == NULL)
			break;
		n++;
	}
	if (e != NULL) {
		closedir(dir);
		for (size_t i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
		qmsg_error(error_r, "%s: out of memory listing the queue", path);
		return NULL;
	}
	closedir(dir);
	*n_r = n;
	return ids;
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int queue_admin_apply(const char *queue_dir, enum queue_admin_op op, const char *id, enum qdir only,
		      bool (*skip)(void *ctx, const char *id), void *ctx, char **error_r)
{
	int count = 0;

	if (id != NULL && strcmp(id, "ALL") == 0) {
		for (int d = 0; d < QDIR_COUNT; d++) {
			bool removed = false;
			size_t n;
			char **ids;
			if (only == QDIR_COUNT ? (d == QDIR_INCOMING || d == QDIR_CORRUPT) : d != (int)only)
				continue;
			if (!applies(op, (enum qdir)d))
				continue;
			if ((ids = list_ids(queue_dir, (enum qdir)d, &n, error_r)) == NULL)
				return -1;
			for (size_t i = 0; i < n; i++) {
				if (skip != NULL && skip(ctx, ids[i]))
					continue;
				int r = apply_one(queue_dir, op, ids[i], (enum qdir)d, error_r);
				if (r < 0) {
					free_ids(ids, n);
					return -1;
				}
				count += r;
				removed |= r > 0 && op == QADMIN_DELETE;
			}
			free_ids(ids, n);
			if (removed && sync_dir(queue_dir, (enum qdir)d) < 0) {
				qmsg_error(error_r, "%s/%s: fsync: %s", queue_dir, qdir_name((enum qdir)d),
					   strerror(errno));
				return -1;
			}
		}
		return count;
	}
	enum qdir d;
	if (!qmsg_id_valid(id)) {
		qmsg_error(error_r, "%s: not a queue id (12 upper-case hex digits, or ALL)", id ? id : "(null)");
		return -1;
	}
	if (only != QDIR_COUNT) {
		char path[4096];
		if (qmsg_dir_path(path, sizeof(path), queue_dir, only, id) < 0 || access(path, F_OK) < 0) {
			qmsg_error(error_r, "%s: no such message in the %s queue", id, qdir_name(only));
			return -1;
		}
		d = only;
	} else if (qmsg_find(queue_dir, id, &d) < 0) {
		qmsg_error(error_r, "%s: no such message in the queue", id);
		return -1;
	}
	if (skip != NULL && skip(ctx, id))
		return 0;
	count = apply_one(queue_dir, op, id, d, error_r);
	if (count > 0 && op == QADMIN_DELETE && sync_dir(queue_dir, d) < 0) {
		qmsg_error(error_r, "%s/%s: fsync: %s", queue_dir, qdir_name(d), strerror(errno));
		return -1;
	}
	return count;
}
