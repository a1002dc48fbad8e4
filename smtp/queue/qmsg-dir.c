/*
 * qmsg-dir.c - queue files between the queue's directories (qmsg.h):
 * qdir_ensure, qmsg_move, qmsg_find, and qmsg_rewrite_content (a new copy
 * of a file renamed over the old one).
 *
 * Called by the queue role (moves after each attempt, header rewriting
 * before the first delivery) and by queue-admin.c (postsuper's moves).
 *
 * Durability: a rename is followed by fsync() of the target directory
 * before the caller acts on the new place; on Linux's journaling file
 * systems the removal of the old name commits in the same transaction.
 * Renames never replace: RENAME_NOREPLACE, or link()+unlink() where the
 * file system lacks it - two files with one id would lose one message.
 * deferred/ files carry their next attempt time as mtime, Postfix's
 * scheme: the deferred scan needs a stat, not a read, per file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtp/queue/qmsg-private.h"
#include "smtp/queue/qmsg.h"
#include "util.h"

int qmsg_dir_path(char *buf, size_t size, const char *queue_dir, enum qdir d, const char *id)
{
	int n = id != NULL ? snprintf(buf, size, "%s/%s/%s", queue_dir, qdir_name(d), id)
			   : snprintf(buf, size, "%s/%s", queue_dir, qdir_name(d));

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int qdir_ensure(const char *queue_dir, char **error_r)
{
	char path[4096];

	if (mkdir(queue_dir, 0700) < 0 && errno != EEXIST) {
		qmsg_error(error_r, "%s: mkdir: %s", queue_dir, strerror(errno));
		return -1;
	}
	for (int d = 0; d < QDIR_COUNT; d++) {
		struct stat st;
		if (qmsg_dir_path(path, sizeof(path), queue_dir, (enum qdir)d, NULL) < 0) {
			qmsg_error(error_r, "%s: path too long", queue_dir);
			return -1;
		}
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			qmsg_error(error_r, "%s: mkdir: %s", path, strerror(errno));
			return -1;
		}
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			qmsg_error(error_r, "%s: not a directory; remove it and start again", path);
			return -1;
		}
	}
	return 0;
}

/* sync_dir - fsync queue_dir/DIR. 0, or -1 with errno. */
static int sync_dir(const char *queue_dir, enum qdir d)
{
	char path[4096];

	if (qmsg_dir_path(path, sizeof(path), queue_dir, d, NULL) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return fsync_directory(path);
}

/* rename_no_replace - 0, or -1 with errno (EEXIST when to exists). */
static int rename_no_replace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(from, to) < 0)
		return -1;
	unlink(from);
	return 0;
}

int qmsg_move(const char *queue_dir, const char *id, enum qdir from, enum qdir to, time_t next_attempt,
	      char **error_r)
{
	char src[4096], dst[4096];

	if (!qmsg_id_valid(id)) {
		qmsg_error(error_r, "%s: not a queue id (12 upper-case hex digits)", id ? id : "(null)");
		return -1;
	}
	if (qmsg_dir_path(src, sizeof(src), queue_dir, from, id) < 0 ||
	    qmsg_dir_path(dst, sizeof(dst), queue_dir, to, id) < 0) {
		qmsg_error(error_r, "%s: path too long", queue_dir);
		return -1;
	}
	if (to == QDIR_DEFERRED && next_attempt > 0) {
		struct timespec ts[2] = { { .tv_sec = 0, .tv_nsec = UTIME_OMIT },
					  { .tv_sec = next_attempt, .tv_nsec = 0 } };
		if (utimensat(AT_FDCWD, src, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			qmsg_error(error_r, "%s: setting the next attempt time: %s", src, strerror(errno));
			return -1;
		}
	}
	if (rename_no_replace(src, dst) < 0) {
		if (errno == EEXIST)
			qmsg_error(error_r, "%s: exists already; not replaced (%s kept)", dst, src);
		else
			qmsg_error(error_r, "%s -> %s: %s", src, dst, strerror(errno));
		return -1;
	}
	if (sync_dir(queue_dir, to) < 0) {
		qmsg_error(error_r, "%s/%s: fsync: %s", queue_dir, qdir_name(to), strerror(errno));
		return -1;
	}
	return 0;
}

int qmsg_find(const char *queue_dir, const char *id, enum qdir *dir_r)
{
	static const enum qdir order[] = { QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD, QDIR_CORRUPT };
	char path[4096];
	struct stat st;

	if (!qmsg_id_valid(id))
		return -1;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (qmsg_dir_path(path, sizeof(path), queue_dir, order[i], id) < 0)
			return -1;
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			*dir_r = order[i];
			return 0;
		}
	}
	return -1;
}

/* envelope - the envelope records of m, as smtp/queue-file.c writes
 * them, and the "message" record for content_size bytes. */
static int envelope(struct strbuf *sb, const struct qmsg *m, off_t content_size)
{
	char arrival[64];
	const struct { const char *name; const char *value; } recs[] = {
		{ "id", m->id },
		{ "arrival", arrival },
		{ "sender", m->sender },
		{ "envid", m->envid },
		{ "ret", m->ret },
		{ "body", m->body },
		{ "smtputf8", m->smtputf8 ? "yes" : NULL },
		{ "client_name", m->client_name },
		{ "client_addr", m->client_addr },
		{ "helo", m->helo },
		{ "proto", m->proto },
		{ "sasl_method", m->sasl_method },
		{ "sasl_username", m->sasl_username },
		{ "hold", m->dir == QDIR_HOLD ? "yes" : NULL },
	};

	snprintf(arrival, sizeof(arrival), "%lld.%06ld", (long long)m->arrival.tv_sec, m->arrival.tv_nsec / 1000);
	if (strbuf_puts(sb, QUEUE_FILE_MAGIC) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
		if (recs[i].value != NULL && qmsg_put_record(sb, recs[i].name, recs[i].value, strlen(recs[i].value)) < 0)
			return -1;
	for (size_t i = 0; i < m->n_rcpts; i++) {
		char notify[64];
		qmsg_notify_text(m->rcpts[i].notify, notify, sizeof(notify));
		if (qmsg_put_record(sb, "rcpt", m->rcpts[i].addr, strlen(m->rcpts[i].addr)) < 0 ||
		    (m->rcpts[i].orcpt != NULL &&
		     qmsg_put_record(sb, "orcpt", m->rcpts[i].orcpt, strlen(m->rcpts[i].orcpt)) < 0) ||
		    (*notify && qmsg_put_record(sb, "notify", notify, strlen(notify)) < 0))
			return -1;
	}
	return strbuf_printf(sb, "message %0*lld\n", QMSG_SIZE_DIGITS, (long long)content_size);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* copy_range - bytes [off, end) of in appended to out. */
static int copy_range(int in, off_t off, off_t end, int out)
{
	char buf[65536];

	while (off < end) {
		size_t want = end - off < (off_t)sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		ssize_t r = pread(in, buf, want, off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		if (write_all(out, buf, (size_t)r) < 0)
			return -1;
		off += r;
	}
	return 0;
}

int qmsg_rewrite_content(const char *queue_dir, int *fd, struct qmsg *m, const char *hdr, size_t hdr_len,
			 off_t body_offset, char **error_r)
{
	char tmp[4096], dst[4096];
	off_t content_end = m->content_offset + m->content_size;
	off_t new_size, env_len;
	struct strbuf sb;
	int nfd = -1;

	if (m->dir == QDIR_INCOMING || m->dir >= QDIR_COUNT) {
		/* incoming/ID is where the new copy is written. */
		qmsg_error(error_r, "%s: cannot rewrite a file in %s/", m->id, qdir_name(m->dir));
		return -1;
	}
	if (body_offset < m->content_offset || body_offset > content_end) {
		qmsg_error(error_r, "%s: body offset %lld outside the content [%lld, %lld)", m->id,
			   (long long)body_offset, (long long)m->content_offset, (long long)content_end);
		return -1;
	}
	if (qmsg_dir_path(tmp, sizeof(tmp), queue_dir, QDIR_INCOMING, m->id) < 0 ||
	    qmsg_dir_path(dst, sizeof(dst), queue_dir, m->dir, m->id) < 0) {
		qmsg_error(error_r, "%s: path too long", queue_dir);
		return -1;
	}
	new_size = (off_t)hdr_len + (content_end - body_offset);
	strbuf_init(&sb, 0);
	if (envelope(&sb, m, new_size) < 0) {
		strbuf_free(&sb);
		qmsg_error(error_r, "%s: rebuilding the envelope: a value over %d bytes, or out of memory", m->id,
			   QMSG_VALUE_MAX);
		return -1;
	}
	env_len = (off_t)sb.len;
	/* A leftover of a rewrite cut by a crash: the manager owns the queue
	 * and the file in m->dir is still the real one. */
	unlink(tmp);
	nfd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (nfd < 0) {
		qmsg_error(error_r, "%s: create: %s", tmp, strerror(errno));
		strbuf_free(&sb);
		return -1;
	}
	if (write_all(nfd, sb.data, sb.len) < 0 || write_all(nfd, hdr, hdr_len) < 0 ||
	    copy_range(*fd, body_offset, content_end, nfd) < 0 || fsync(nfd) < 0) {
		qmsg_error(error_r, "%s: writing the rewritten copy: %s", tmp, strerror(errno));
		goto fail;
	}
	/* Replacing on purpose: the same message, new headers; atomic. */
	if (rename(tmp, dst) < 0) {
		qmsg_error(error_r, "%s -> %s: %s", tmp, dst, strerror(errno));
		goto fail;
	}
	strbuf_free(&sb);
	int rc = 0;
	if (sync_dir(queue_dir, m->dir) < 0) {
		/* The rename happened: the new file is the message now, so
		 * *fd and m describe it even though the call failed. */
		qmsg_error(error_r, "%s/%s: fsync: %s", queue_dir, qdir_name(m->dir), strerror(errno));
		rc = -1;
	}
	close(*fd);
	*fd = nfd;
	m->content_offset = env_len;
	m->content_size = new_size;
	m->good_end = m->content_offset + new_size;
	/* The manager section stayed behind: m says what the file says. */
	for (size_t i = 0; i < m->n_dests; i++)
		qmsg_dest_clear(&m->dests[i]);
	m->n_dests = 0;
	m->expanded = false;
	x_free(&m->xsender);
	m->warned = false;
	m->attempts = 0;
	m->next_attempt = 0;
	return rc;
fail:
	close(nfd);
	unlink(tmp);
	strbuf_free(&sb);
	return -1;
}
