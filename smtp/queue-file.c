/*
 * queue-file.c - the queue file writer (queue-file.h). Format in
 * docs/ARCHITECTURE.md "Queue file": a magic line, then records
 * "NAME LEN:VALUE\n" (LEN decimal bytes, so a value may hold any byte),
 * then "message SIZE\n" with SIZE as 15 fixed-width digits filled in at
 * commit, then exactly SIZE message bytes to the end of the file.
 *
 * Durability order: fsync(file), rename incoming/ID -> active/ID,
 * fsync(active/). Only after that may the SMTP server answer 250: the data
 * is on disk and so is the name that makes it a queued message. incoming/
 * is not fsynced: whether the old name's removal reached the disk does not
 * matter (after a crash a stale incoming/ name of a file that is also in
 * active/ is removed like any other incoming/ leftover; it only drops a
 * link). The directory fsync is a group commit (dir_sync_after): one
 * fsync(active/) that starts after a rename covers it, so concurrent
 * commits share one directory fsync instead of one each, as a database
 * shares its log flush among the transactions committed before it.
 *
 * Descriptors: a struct queue_dir holds incoming/, active/ and hold/ open
 * for the role's life, so a message costs openat/renameat relative to them
 * rather than path walks and per-message directory opens.
 *
 * The file itself is created when its 64 KiB buffer first fills, or at
 * commit: a message that fits is created, written, fsynced and renamed in
 * one go by queue_file_commit(), which the SMTP role runs on a worker
 * thread. Creating a file is the costly part of a small message (inode
 * allocation; on ext4 without a journal it skips every inode freed in the
 * last minute, one inode-table look-up each), and on the event loop it
 * stalled every session. The id is still fixed at queue_file_create();
 * O_EXCL and a rename that never replaces keep it unique on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "smtp/queue-file.h"
#include "smtp/smtp-params.h"
#include "util.h"

#define QF_BUFSIZE (64 * 1024)
#define QF_SIZE_DIGITS 15

/* One directory's group commit: renames into it are numbered as they
 * finish; "synced" says up to which number a finished fsync covers them. */
struct dir_sync {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd;
	unsigned long long entered;   /* renames finished so far */
	unsigned long long synced;    /* renames <= this are covered by an fsync */
	unsigned long long failed;    /* renames <= this may be in a failed one */
	int error;                    /* errno of the last failed fsync */
	bool running;                 /* an fsync is under way */
};

struct queue_dir {
	char *path;
	int incoming_fd;
	struct dir_sync active, hold;
	int hold_errno;       /* hold/ could not be opened: HOLD commits fail */
};

struct queue_file {
	int fd;               /* -1 until the file is created */
	struct queue_dir *dir;
	bool own_dir;         /* made by queue_file_create(): freed with the file */
	bool hold;            /* commit into hold/ instead of active/ */
	char id[QUEUE_ID_SIZE];
	bool created;         /* incoming/ID exists (ours) */
	off_t size_offset;    /* where the 15 size digits are */
	off_t flushed;        /* bytes already written to the file */
	size_t written;       /* message bytes */
	size_t buf_len;
	char buf[QF_BUFSIZE];
};

static unsigned queue_counter;

static void make_id(char *id)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	queue_counter++;
	/* 5 digits of microseconds, then 7 of (seconds, pid, counter) mixed:
	 * short and unique in practice (within a second of one process the
	 * counter alone tells ids apart: 40503 is odd). On disk O_EXCL and
	 * the no-replace rename make a clash fail that message (451), never
	 * overwrite another. Called on the event loop only (the counter). */
	unsigned mix = ((unsigned)tv.tv_sec * 2654435761u) ^ ((unsigned)getpid() << 12) ^
		       (queue_counter * 40503u);
	snprintf(id, QUEUE_ID_SIZE, "%05X%07X", (unsigned)tv.tv_usec & 0xFFFFF, mix & 0xFFFFFFF);
}

static int dir_sync_init(struct dir_sync *ds, const char *queue_dir, const char *name)
{
	char path[4096];

	memset(ds, 0, sizeof(*ds));
	ds->fd = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", queue_dir, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	ds->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ds->fd < 0)
		return -1;
	pthread_mutex_init(&ds->lock, NULL);
	pthread_cond_init(&ds->cond, NULL);
	return 0;
}

static void dir_sync_free(struct dir_sync *ds)
{
	if (ds->fd < 0)
		return;
	close(ds->fd);
	ds->fd = -1;
	pthread_mutex_destroy(&ds->lock);
	pthread_cond_destroy(&ds->cond);
}

/*
 * dir_sync_after - call after a rename into ds's directory has returned;
 * returns once an fsync of the directory that started after that rename
 * has finished: 0, or -1 with errno when that fsync failed. Whoever finds
 * no fsync under way runs one for every rename finished so far; the others
 * wait for it (or for the next one, if theirs came after it started).
 * After a failure every rename up to that fsync's start is reported as
 * failed, even one an earlier successful fsync covered but whose thread
 * had not looked yet: a false 451 costs a retry, a false 250 a message.
 */
static int dir_sync_after(struct dir_sync *ds)
{
	unsigned long long mine;
	int rc = 0, error = 0;

	pthread_mutex_lock(&ds->lock);
	mine = ++ds->entered;
	while (ds->synced < mine) {
		if (ds->running) {
			pthread_cond_wait(&ds->cond, &ds->lock);
			continue;
		}
		unsigned long long target = ds->entered;
		ds->running = true;
		pthread_mutex_unlock(&ds->lock);
		int r = fsync(ds->fd);
		int e = errno;
		pthread_mutex_lock(&ds->lock);
		ds->running = false;
		if (r < 0) {
			ds->failed = target;
			ds->error = e;
		}
		ds->synced = target;
		pthread_cond_broadcast(&ds->cond);
	}
	if (mine <= ds->failed) {
		rc = -1;
		error = ds->error;
	}
	pthread_mutex_unlock(&ds->lock);
	if (rc < 0)
		errno = error;
	return rc;
}

struct queue_dir *queue_dir_open(const char *queue_dir, const char **error_r)
{
	struct queue_dir *qd = calloc(1, sizeof(*qd));
	char path[4096];

	if (qd == NULL || (qd->path = strdup(queue_dir)) == NULL) {
		free(qd);
		*error_r = "out of memory";
		return NULL;
	}
	qd->active.fd = qd->hold.fd = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/incoming", queue_dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		qd->incoming_fd = -1;
	} else {
		qd->incoming_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (qd->incoming_fd < 0 || dir_sync_init(&qd->active, queue_dir, "active") < 0) {
		*error_r = strerror(errno);
		queue_dir_free(&qd);
		return NULL;
	}
	/* Only messages on HOLD need hold/: without it the others still go. */
	if (dir_sync_init(&qd->hold, queue_dir, "hold") < 0)
		qd->hold_errno = errno;
	return qd;
}

void queue_dir_free(struct queue_dir **qdp)
{
	struct queue_dir *qd = *qdp;

	if (qd == NULL)
		return;
	if (qd->incoming_fd >= 0)
		close(qd->incoming_fd);
	dir_sync_free(&qd->active);
	dir_sync_free(&qd->hold);
	free(qd->path);
	free(qd);
	*qdp = NULL;
}

const char *queue_dir_path(const struct queue_dir *qd)
{
	return qd->path;
}

struct queue_file *queue_file_create_in(struct queue_dir *qd, char *id_r, const char **error_r)
{
	/* malloc, not calloc: zeroing the 64 KiB buffer for every message
	 * was 3% of the SMTP role's event loop; only the fields are set. */
	struct queue_file *qf = malloc(sizeof(*qf));

	if (qf == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	memset(qf, 0, offsetof(struct queue_file, buf));
	qf->dir = qd;
	qf->fd = -1;
	make_id(qf->id);
	memcpy(id_r, qf->id, QUEUE_ID_SIZE);
	return qf;
}

struct queue_file *queue_file_create(const char *queue_dir, char *id_r, const char **error_r)
{
	struct queue_dir *qd = queue_dir_open(queue_dir, error_r);
	struct queue_file *qf;

	if (qd == NULL)
		return NULL;
	qf = queue_file_create_in(qd, id_r, error_r);
	if (qf == NULL) {
		queue_dir_free(&qd);
		return NULL;
	}
	qf->own_dir = true;
	return qf;
}

/* create - make incoming/ID; EEXIST (another file took the id: the
 * mixing in make_id() makes that all but impossible) fails the message
 * with a temporary error rather than overwrite anything. */
static int create(struct queue_file *qf, const char **error_r)
{
	qf->fd = openat(qf->dir->incoming_fd, qf->id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (qf->fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	qf->created = true;
	return 0;
}

static int flush(struct queue_file *qf, const char **error_r)
{
	size_t off = 0;

	if (!qf->created && create(qf, error_r) < 0)
		return -1;
	while (off < qf->buf_len) {
		ssize_t n = write(qf->fd, qf->buf + off, qf->buf_len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*error_r = strerror(errno);
			return -1;
		}
		off += (size_t)n;
	}
	qf->flushed += (off_t)qf->buf_len;
	qf->buf_len = 0;
	return 0;
}

static int put(struct queue_file *qf, const void *data, size_t len, const char **error_r)
{
	const char *p = data;

	while (len > 0) {
		size_t room = QF_BUFSIZE - qf->buf_len;
		size_t n = len < room ? len : room;
		memcpy(qf->buf + qf->buf_len, p, n);
		qf->buf_len += n;
		p += n;
		len -= n;
		if (qf->buf_len == QF_BUFSIZE && flush(qf, error_r) < 0)
			return -1;
	}
	return 0;
}

/* record - "name LEN:value\n"; a NULL value writes nothing. */
static int record(struct queue_file *qf, const char *name, const char *value, const char **error_r)
{
	char head[64];
	size_t len;

	if (value == NULL)
		return 0;
	len = strlen(value);
	snprintf(head, sizeof(head), "%s %zu:", name, len);
	if (put(qf, head, strlen(head), error_r) < 0 || put(qf, value, len, error_r) < 0 ||
	    put(qf, "\n", 1, error_r) < 0)
		return -1;
	return 0;
}

static void notify_text(unsigned notify, char *buf, size_t size)
{
	buf[0] = '\0';
	if (notify & SMTP_NOTIFY_NEVER)
		str_copy(buf, "NEVER", size);
	if (notify & SMTP_NOTIFY_SUCCESS)
		snprintf(buf + strlen(buf), size - strlen(buf), "%sSUCCESS", *buf ? "," : "");
	if (notify & SMTP_NOTIFY_FAILURE)
		snprintf(buf + strlen(buf), size - strlen(buf), "%sFAILURE", *buf ? "," : "");
	if (notify & SMTP_NOTIFY_DELAY)
		snprintf(buf + strlen(buf), size - strlen(buf), "%sDELAY", *buf ? "," : "");
}

int queue_file_envelope(struct queue_file *qf, const struct queue_envelope *env, const char **error_r)
{
	char arrival[64], sizefield[64];

	snprintf(arrival, sizeof(arrival), "%lld.%06ld", (long long)env->arrival.tv_sec,
		 env->arrival.tv_nsec / 1000);
	if (put(qf, QUEUE_FILE_MAGIC, strlen(QUEUE_FILE_MAGIC), error_r) < 0 ||
	    record(qf, "id", qf->id, error_r) < 0 ||
	    record(qf, "arrival", arrival, error_r) < 0 ||
	    record(qf, "sender", env->sender, error_r) < 0 ||
	    record(qf, "envid", env->envid, error_r) < 0 ||
	    record(qf, "ret", env->ret, error_r) < 0 ||
	    record(qf, "body", env->body, error_r) < 0 ||
	    record(qf, "smtputf8", env->smtputf8 ? "yes" : NULL, error_r) < 0 ||
	    record(qf, "client_name", env->client_name, error_r) < 0 ||
	    record(qf, "client_addr", env->client_addr, error_r) < 0 ||
	    record(qf, "helo", env->helo, error_r) < 0 ||
	    record(qf, "proto", env->proto, error_r) < 0 ||
	    record(qf, "sasl_method", env->sasl_method, error_r) < 0 ||
	    record(qf, "sasl_username", env->sasl_username, error_r) < 0 ||
	    record(qf, "hold", env->hold ? "yes" : NULL, error_r) < 0)
		return -1;
	for (size_t i = 0; i < env->n_rcpts; i++) {
		char notify[64];
		notify_text(env->rcpts[i].notify, notify, sizeof(notify));
		if (record(qf, "rcpt", env->rcpts[i].addr, error_r) < 0 ||
		    record(qf, "orcpt", env->rcpts[i].orcpt, error_r) < 0 ||
		    record(qf, "notify", *notify ? notify : NULL, error_r) < 0)
			return -1;
	}
	qf->size_offset = qf->flushed + (off_t)qf->buf_len + (off_t)strlen("message ");
	snprintf(sizefield, sizeof(sizefield), "message %0*d\n", QF_SIZE_DIGITS, 0);
	return put(qf, sizefield, strlen(sizefield), error_r);
}

int queue_file_write(struct queue_file *qf, const void *data, size_t len, const char **error_r)
{
	if (put(qf, data, len, error_r) < 0)
		return -1;
	qf->written += len;
	return 0;
}

size_t queue_file_size(const struct queue_file *qf)
{
	return qf->written;
}

static void queue_file_free(struct queue_file **qfp)
{
	struct queue_file *qf = *qfp;

	if (qf->own_dir)
		queue_dir_free(&qf->dir);
	free(qf);
	*qfp = NULL;
}

/* move_no_replace - rename incoming/ID to DIR/ID unless DIR/ID exists
 * (EEXIST then): a queue file is never replaced by another with the same
 * id. File systems without RENAME_NOREPLACE get link + unlink, which
 * cannot replace either. 0, or -1 with errno. */
static int move_no_replace(int from_dir, int to_dir, const char *id)
{
	if (renameat2(from_dir, id, to_dir, id, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(from_dir, id, to_dir, id, 0) < 0)
		return -1;
	unlinkat(from_dir, id, 0);
	return 0;
}

int queue_file_commit(struct queue_file **qfp, const char **error_r)
{
	struct queue_file *qf = *qfp;
	struct dir_sync *to = qf->hold ? &qf->dir->hold : &qf->dir->active;
	char digits[QF_SIZE_DIGITS + 1];
	struct stat st;

	snprintf(digits, sizeof(digits), "%0*zu", QF_SIZE_DIGITS, qf->written);
	if (to->fd < 0) {
		*error_r = strerror(qf->dir->hold_errno);
		goto fail;
	}
	/* The directories are held open: if someone removed the queue (and
	 * made a new one) since the role started, a 250 would queue the
	 * message where nothing ever looks. Refuse it instead. */
	if (fstat(to->fd, &st) == 0 && st.st_nlink == 0) {
		*error_r = "the queue directory was removed after posternd started; restart it";
		goto fail;
	}
	if (qf->size_offset >= qf->flushed) {
		/* Still in the buffer (always, for a message under 64 KiB): the
		 * whole file goes out in one write. */
		memcpy(qf->buf + (qf->size_offset - qf->flushed), digits, QF_SIZE_DIGITS);
		if (flush(qf, error_r) < 0)
			goto fail;
	} else if (flush(qf, error_r) < 0) {
		goto fail;
	} else if (pwrite(qf->fd, digits, QF_SIZE_DIGITS, qf->size_offset) != QF_SIZE_DIGITS) {
		*error_r = strerror(errno ? errno : EIO);
		goto fail;
	}
	if (fsync(qf->fd) < 0) {
		*error_r = strerror(errno);
		goto fail;
	}
	if (close(qf->fd) < 0) {
		qf->fd = -1;
		*error_r = strerror(errno);
		goto fail;
	}
	qf->fd = -1;
	if (move_no_replace(qf->dir->incoming_fd, to->fd, qf->id) < 0) {
		*error_r = strerror(errno);
		goto fail;
	}
	if (dir_sync_after(to) < 0) {
		*error_r = strerror(errno);
		/* The rename may not be durable: take it back (best effort). */
		unlinkat(to->fd, qf->id, 0);
		goto fail;
	}
	queue_file_free(qfp);
	return 0;
fail:
	queue_file_abort(qfp);
	return -1;
}

int queue_file_hold(struct queue_file *qf)
{
	qf->hold = true;
	return 0;
}

void queue_file_abort(struct queue_file **qfp)
{
	struct queue_file *qf = *qfp;

	if (qf == NULL)
		return;
	if (qf->fd >= 0)
		close(qf->fd);
	if (qf->created)
		unlinkat(qf->dir->incoming_fd, qf->id, 0);
	queue_file_free(qfp);
}

void queue_file_wake(const char *run_dir)
{
	char path[4096];
	struct stat st;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/queue.wake", run_dir) >= sizeof(path))
		return;
	if (lstat(path, &st) < 0 || !S_ISFIFO(st.st_mode))
		return;
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;   /* ENXIO: nobody reads it */
	if (write(fd, "w", 1) < 0) {
		/* full or gone: the manager scans anyway */
	}
	close(fd);
}
