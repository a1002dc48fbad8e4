/*
 * local-pipe-file.c - deliver a message to a /file/name named by an alias
 * (Postfix local(8) "EXTERNAL FILE DELIVERY"): appended in mbox format
 * (From_ line, Return-Path:, Delivered-To:, ">From " quoting, an empty
 * line after it) under an fcntl lock, then fsynced.
 *
 * Called by the queue role on a worker thread. The lock is an
 * open-file-description lock (F_OFD_SETLK): it conflicts with the
 * classic fcntl locks of mail readers (mutt, Dovecot, procmail) like a
 * POSIX lock, but unlike one it also keeps two threads of this process
 * apart. It is waited for, retrying every 100 ms, at most
 * min(time_limit, LOCAL_PIPE_LOCK_WAIT) seconds; then the delivery is
 * deferred. No dotlock: the queue role may not create files next to an
 * arbitrary target.
 *
 * Safety: O_NOFOLLOW (a symlink planted at the name is refused),
 * O_APPEND, mode 0600 when created; the target must be a regular file
 * with one link (a hard link to someone else's file is refused), except
 * /dev/null, which takes the message and drops it (common in aliases).
 * A failed write is undone with ftruncate to the size before it, so the
 * mbox never keeps half a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "smtp/queue/local-pipe-private.h"

#define LOCAL_PIPE_LOCK_WAIT 20u

/* lock_wait - the OFD write lock on the whole file, retried until
 * seconds have passed. 0, or -1 with errno (EAGAIN: timed out). */
static int lock_wait(int fd, unsigned seconds)
{
	struct flock fl;
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	unsigned tries = seconds * 10;

	for (unsigned i = 0;; i++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -1;
		if (i >= tries) {
			errno = EAGAIN;
			return -1;
		}
		nanosleep(&pause, NULL);
	}
}

static void file_error(struct local_pipe_result *out, const char *what, const char *path, int e)
{
	char p[300];

	str_escape(path, strlen(path), p, sizeof(p));
	local_pipe_set(out, local_pipe_soft_errno(e) ? QDEST_DEFERRED : QDEST_BOUNCED,
		       local_pipe_soft_errno(e) ? "4.3.0" : "5.2.0", "cannot %s file %s: %s", what, p, strerror(e));
}

/* write_all - the whole message; 0 or -1 with errno. */
static int write_all(int fd, const struct local_pipe_req *req)
{
	struct local_pipe_content c;
	char *buf = malloc(LOCAL_PIPE_CHUNK);
	int rc = -1;

	if (buf == NULL || local_pipe_content_init(&c, req, true, time(NULL)) < 0) {
		free(buf);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		ssize_t n = local_pipe_content_read(&c, buf, LOCAL_PIPE_CHUNK);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto out;
			off += w;
		}
	}
	rc = 0;
out:
	local_pipe_content_free(&c);
	free(buf);
	return rc;
}

void local_pipe_file(const struct local_pipe_req *req, const char *path, struct local_pipe_result *out)
{
	struct stat st;
	char p[300];
	int fd, e;

	str_escape(path, strlen(path), p, sizeof(p));
	if (path[0] != '/') {
		local_pipe_set(out, QDEST_BOUNCED, "5.3.5", "cannot append to file %s: not an absolute path", p);
		return;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0) {
		e = errno;
		if (e == ELOOP)
			local_pipe_set(out, QDEST_BOUNCED, "5.2.0", "cannot open file %s: it is a symbolic link", p);
		else
			file_error(out, "open", path, e);
		return;
	}
	if (fstat(fd, &st) < 0) {
		file_error(out, "stat", path, errno);
		close(fd);
		return;
	}
	if (S_ISCHR(st.st_mode) && strcmp(path, "/dev/null") == 0) {
		close(fd);
		local_pipe_set(out, QDEST_SENT, "2.0.0", "delivered to file: /dev/null");
		return;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		local_pipe_set(out, QDEST_BOUNCED, "5.2.0", "cannot append to file %s: %s", p,
			       S_ISREG(st.st_mode) ? "it has more than one hard link" : "not a regular file");
		return;
	}
	/* Blocking writes from here on (O_NONBLOCK was for a FIFO at open). */
	fcntl(fd, F_SETFL, O_APPEND);
	if (lock_wait(fd, req->time_limit < LOCAL_PIPE_LOCK_WAIT ? req->time_limit : LOCAL_PIPE_LOCK_WAIT) < 0) {
		e = errno;
		if (e == EAGAIN)
			local_pipe_set(out, QDEST_DEFERRED, "4.2.0", "cannot lock file %s: timed out waiting for the lock", p);
		else
			file_error(out, "lock", path, e);
		close(fd);
		return;
	}
	/* The size under the lock: what to cut back to if the write fails. */
	if (fstat(fd, &st) < 0) {
		file_error(out, "stat", path, errno);
		close(fd);
		return;
	}
	if (write_all(fd, req) < 0 || fsync(fd) < 0) {
		e = errno;
		if (ftruncate(fd, st.st_size) < 0) {
			/* Nothing more to try; the write's error is the one to report. */
		}
		file_error(out, "append message to", path, e);
		close(fd);
		return;
	}
	close(fd); /* drops the OFD lock */
	local_pipe_set(out, QDEST_SENT, "2.0.0", "delivered to file: %s", p);
}
