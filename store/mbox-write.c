/*
 * mbox-write.c - changing an mbox: appending one message (local delivery,
 * IMAP APPEND) and expunging messages, both under the write locks of
 * mbox-lock.c.
 *
 * Append (what Postfix local(8) does, mailbox delivery): remember the size,
 * write "From SENDER DATE", the message with mboxrd quoting, the empty
 * separator line, fsync; on any error cut the file back to the size it
 * had, so a reader never sees half a message and the next delivery does
 * not start inside a broken one.
 *
 * Expunge, in place rather than temp file + rename: mutt, mail(1) and
 * Postfix open the mbox and only then wait for its lock; had we renamed a
 * new file over it, they would get the lock on the old, unlinked inode and
 * a delivery would vanish. mutt and Dovecot rewrite in place for the same
 * reason. To survive a crash in the middle, the kept bytes after the first
 * removed message go to a journal file first (fsync'd), then over the old
 * bytes, then the file is truncated; mbox_recover() replays a journal left
 * behind, keeping whatever others appended since.
 *
 * Whether the truncate happened before a crash is told by a few NUL bytes
 * written just past the kept bytes before truncating (see journal_header):
 * by size alone it could not be, once others have appended.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbox-private.h"
#include "util.h"

#define MBOX_WRITE_BUFFER (64 * 1024)
#define JOURNAL_MAGIC "POSTERN-MBOX-EXPUNGE 1"
#define JOURNAL_HEADER MBOX_JOURNAL_HEADER

/* ------------------------------------------------------------------ I/O */

static int write_full(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *data, size_t len, uint64_t off)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pread_full(int fd, void *data, size_t len, uint64_t off)
{
	char *p = data;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file shrank under us: the lock was not respected */
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Copy len bytes from (in_fd, in_off) to (out_fd, out_off); out_off <
 * in_off is allowed within one file (forward copy). */
static int copy_range(int in_fd, uint64_t in_off, int out_fd, uint64_t out_off, uint64_t len)
{
	char *buf = malloc(MBOX_WRITE_BUFFER);

	if (buf == NULL)
		return -1;
	while (len > 0) {
		size_t n = len < MBOX_WRITE_BUFFER ? (size_t)len : MBOX_WRITE_BUFFER;

		if (pread_full(in_fd, buf, n, in_off) < 0 || pwrite_full(out_fd, buf, n, out_off) < 0) {
			int saved = errno;

			free(buf);
			errno = saved;
			return -1;
		}
		in_off += n;
		out_off += n;
		len -= n;
	}
	free(buf);
	return 0;
}

/* --------------------------------------------------------------- append */

struct out {
	int fd;
	size_t len;
	char last, before_last; /* the two last bytes of the message written */
	uint64_t message_bytes;
	char buf[MBOX_WRITE_BUFFER];
};

static int out_flush(struct out *o)
{
	if (o->len > 0 && write_full(o->fd, o->buf, o->len) < 0)
		return -1;
	o->len = 0;
	return 0;
}

static int out_put(struct out *o, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		size_t room = sizeof(o->buf) - o->len;
		size_t k = n < room ? n : room;

		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
		if (o->len == sizeof(o->buf) && out_flush(o) < 0)
			return -1;
	}
	return 0;
}

static int out_repeat(struct out *o, char c, uint64_t count)
{
	while (count-- > 0)
		if (out_put(o, &c, 1) < 0)
			return -1;
	return 0;
}

/* Message bytes (not the From_ line or separator): tracked for the final LF. */
static int out_msg(struct out *o, const void *data, size_t n)
{
	const char *p = data;

	if (n == 0)
		return 0;
	o->before_last = n >= 2 ? p[n - 2] : o->last;
	o->last = p[n - 1];
	o->message_bytes += n;
	return out_put(o, data, n);
}

struct quoter {
	bool line_start;
	bool undecided;
	struct mbox_quote q;
};

/* Write a chunk of the message, adding one '>' to every ^>*From_ line. */
static int quote_chunk(struct out *o, struct quoter *qt, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (qt->line_start) {
			mbox_quote_init(&qt->q);
			qt->line_start = false;
			qt->undecided = true;
		}
		if (qt->undecided) {
			size_t used = mbox_quote_feed(&qt->q, p + i, n - i);

			i += used;
			if (qt->q.state == MBOX_QUOTE_UNDECIDED)
				continue;
			qt->undecided = false;
			if (qt->q.state == MBOX_QUOTE_YES) {
				if (out_put(o, ">", 1) < 0 || out_repeat(o, '>', qt->q.run) < 0 ||
				    out_msg(o, "From ", 5) < 0)
					return -1;
				continue;
			}
			/* Not quoted: give back what was held, then the deciding byte. */
			if (out_repeat(o, '>', qt->q.run) < 0 || out_msg(o, "From ", qt->q.matched) < 0 ||
			    out_msg(o, p + i - 1, 1) < 0)
				return -1;
			if (qt->q.run > 0)
				o->message_bytes += qt->q.run;
			if (p[i - 1] == '\n')
				qt->line_start = true;
			continue;
		}
		{
			const char *nl = memchr(p + i, '\n', n - i);
			size_t k = nl ? (size_t)(nl - (p + i)) + 1 : n - i;

			if (out_msg(o, p + i, k) < 0)
				return -1;
			i += k;
			if (nl)
				qt->line_start = true;
		}
	}
	return 0;
}

/* End of input in the middle of an undecided line start: it was no From_. */
static int quote_finish(struct out *o, struct quoter *qt)
{
	if (!qt->undecided)
		return 0;
	qt->undecided = false;
	if (out_repeat(o, '>', qt->q.run) < 0)
		return -1;
	o->message_bytes += qt->q.run;
	if (qt->q.run > 0) {
		o->before_last = qt->q.run >= 2 ? '>' : o->last;
		o->last = '>';
	}
	return out_msg(o, "From ", qt->q.matched);
}

/* What has to come before the new From_ line so that the previous message
 * ends with an empty line: "" / "\n" / "\n\n". */
static const char *separator_needed(int fd, uint64_t size, int *err_r)
{
	char t[3];
	size_t n = size < 3 ? (size_t)size : 3;

	*err_r = 0;
	if (size == 0)
		return "";
	if (pread_full(fd, t, n, size - n) < 0) {
		*err_r = errno;
		return NULL;
	}
	if (t[n - 1] != '\n')
		return "\n\n";
	if (n >= 2 && t[n - 2] == '\n')
		return "";
	if (n >= 3 && t[n - 2] == '\r' && t[n - 3] == '\n')
		return "";
	return "\n";
}

static void from_line(char *buf, size_t size, const char *sender, time_t date)
{
	char who[MBOX_SENDER_MAX], when[64];
	struct tm tm;
	size_t k = 0;

	for (const char *s = sender ? sender : ""; *s && k + 1 < sizeof(who); s++)
		who[k++] = ((unsigned char)*s <= ' ' || *s == 0x7f) ? '_' : *s;
	who[k] = '\0';
	if (k == 0)
		str_copy(who, "MAILER-DAEMON", sizeof(who));
	/* Local time, as asctime() in Postfix and mutt: readers take a date
	 * without zone as local time. */
	if (localtime_r(&date, &tm) == NULL || strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		str_copy(when, "Thu Jan  1 00:00:00 1970", sizeof(when));
	snprintf(buf, size, "From %s %s\n", who, when);
}

int mbox_append(int fd, const char *path, const char *sender, time_t date, mbox_in_fn *in,
		void *in_ctx, uint64_t *offset_r, char **error_r)
{
	struct out *o;
	struct quoter qt = { .line_start = true };
	struct stat st;
	char line[MBOX_SENDER_MAX + 96];
	char *chunk = NULL;
	const char *sep;
	uint64_t start;
	int err = 0;
	ssize_t n;

	if (fstat(fd, &st) < 0) {
		*error_r = must_asprintf("%s: fstat: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_r = must_asprintf("%s: not a regular file; an mbox must be a plain file", path);
		return -2;
	}
	start = (uint64_t)st.st_size;
	sep = separator_needed(fd, start, &err);
	if (sep == NULL) {
		*error_r = must_asprintf("%s: read: %s", path, strerror(err));
		return -1;
	}
	o = malloc(sizeof(*o));
	chunk = malloc(MBOX_WRITE_BUFFER);
	if (o == NULL || chunk == NULL) {
		free(o);
		free(chunk);
		*error_r = must_asprintf("%s: out of memory while appending", path);
		return -1;
	}
	o->fd = fd;
	o->len = 0;
	o->last = o->before_last = '\n';
	o->message_bytes = 0;
	if (lseek(fd, (off_t)start, SEEK_SET) < 0)
		goto io_error;
	from_line(line, sizeof(line), sender, date);
	if (out_put(o, sep, strlen(sep)) < 0 || out_put(o, line, strlen(line)) < 0)
		goto io_error;
	if (offset_r)
		*offset_r = start + strlen(sep);
	for (;;) {
		n = in(in_ctx, chunk, MBOX_WRITE_BUFFER);
		if (n < 0) {
			err = errno ? errno : EIO;
			*error_r = must_asprintf("%s: reading the message failed: %s; nothing was stored",
						 path, strerror(err));
			goto undo;
		}
		if (n == 0)
			break;
		if (quote_chunk(o, &qt, chunk, (size_t)n) < 0)
			goto io_error;
	}
	if (quote_finish(o, &qt) < 0)
		goto io_error;
	/* Every message ends with a LF (added when missing: the one byte an
	 * mbox cannot round-trip), then the empty separator line. */
	if (o->message_bytes > 0 && o->last != '\n' && out_put(o, "\n", 1) < 0)
		goto io_error;
	if (out_put(o, "\n", 1) < 0 || out_flush(o) < 0 || fsync(fd) < 0)
		goto io_error;
	free(o);
	free(chunk);
	return 0;

io_error:
	err = errno;
	*error_r = must_asprintf("%s: cannot append: %s; the message was not stored (disk full, "
				 "quota or file size limit?), the mailbox is unchanged",
				 path, strerror(err));
undo:
	if (ftruncate(fd, (off_t)start) < 0 || fsync(fd) < 0)
		log_error("%s: cannot cut the mailbox back to %" PRIu64 " bytes after a failed "
			  "append: %s; a partial message may be visible", path, start, strerror(errno));
	free(o);
	free(chunk);
	return -1;
}

struct mem_in {
	const char *p;
	size_t left;
};

static ssize_t mem_read(void *ctx, void *buf, size_t size)
{
	struct mem_in *m = ctx;
	size_t n = m->left < size ? m->left : size;

	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

int mbox_append_mem(int fd, const char *path, const char *sender, time_t date,
		    const void *data, size_t len, uint64_t *offset_r, char **error_r)
{
	struct mem_in m = { data, len };

	return mbox_append(fd, path, sender, date, mem_read, &m, offset_r, error_r);
}

int mbox_deliver(const char *path, const struct mbox_lock_settings *set, const char *sender,
		 time_t date, const void *data, size_t len, char **error_r)
{
	struct mbox_lock *lock = NULL;
	struct stat st;
	bool created = false;
	int fd, r;

	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		created = fd >= 0;
		if (fd < 0 && errno == EEXIST)
			fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		int err = errno;

		*error_r = must_asprintf("%s: cannot open the mailbox: %s%s", path, strerror(err),
					 err == ELOOP ? "; it is a symbolic link, which mail delivery refuses" : "");
		return err == ELOOP ? -2 : -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = must_asprintf("%s: not a regular file; an mbox must be a plain file", path);
		close(fd);
		return -2;
	}
	if (created && fsync_parent_dir(path) < 0)
		log_warn("%s: fsync of its directory: %s", path, strerror(errno));
	r = mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, set, &lock, error_r);
	if (r < 0) {
		close(fd);
		return r;
	}
	r = mbox_recover(fd, path, error_r);
	if (r >= 0)
		r = mbox_append_mem(fd, path, sender, date, data, len, NULL, error_r);
	if (r > 0)
		r = 0;
	mbox_lock_release(&lock);
	close(fd);
	return r;
}

/* -------------------------------------------------------------- expunge */

int mbox_journal_path(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (slash)
		n = snprintf(buf, size, "%.*s/.%s.postern-expunge", (int)(slash - path), path, slash + 1);
	else
		n = snprintf(buf, size, ".%s.postern-expunge", path);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

struct span {
	uint64_t from, next;
	bool keep;
};

/* The journal header: X, S and the phase: 'C' while the kept bytes are
 * being copied back (the mbox is not truncated yet, so its size is >= S
 * and bytes from S on were appended by others after a crash), 'T' once
 * the copy is complete and a marker of NUL bytes sits at X + tail (the
 * truncation may or may not have happened: the marker tells). */
static int journal_header(int jfd, uint64_t x, uint64_t s, char phase)
{
	char hdr[JOURNAL_HEADER + 1];

	memset(hdr, ' ', sizeof(hdr));
	snprintf(hdr, sizeof(hdr), "%s %020" PRIu64 " %020" PRIu64 " %c", JOURNAL_MAGIC, x, s, phase);
	hdr[strlen(hdr)] = ' ';
	hdr[JOURNAL_HEADER - 1] = '\n';
	if (pwrite_full(jfd, hdr, JOURNAL_HEADER, 0) < 0 || fsync(jfd) < 0)
		return -1;
	return 0;
}

#define STALE_MARKER_MAX 8

static size_t marker_len(uint64_t x, uint64_t s, uint64_t tail)
{
	uint64_t stale = s - x - tail;

	return stale < STALE_MARKER_MAX ? (size_t)stale : STALE_MARKER_MAX;
}

/* Is the NUL marker at x + tail (so the truncate did not happen)? A foreign
 * delivery never starts with NUL bytes. */
static bool marker_present(int fd, uint64_t x, uint64_t s, uint64_t tail)
{
	char buf[STALE_MARKER_MAX];
	size_t n = marker_len(x, s, tail);

	if (n == 0 || pread_full(fd, buf, n, x + tail) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (buf[i] != '\0')
			return false;
	return true;
}

/* Write the journal's tail over the mbox at x, mark the stale rest, switch
 * the journal to phase T, truncate, fsync. s is the size the journal
 * records (everything beyond it was moved into the journal before). */
static int replay(int fd, int jfd, uint64_t x, uint64_t s, uint64_t tail_len)
{
	static const char zeros[STALE_MARKER_MAX];

	if (copy_range(jfd, JOURNAL_HEADER, fd, x, tail_len) < 0 ||
	    pwrite_full(fd, zeros, marker_len(x, s, tail_len), x + tail_len) < 0 || fsync(fd) < 0 ||
	    journal_header(jfd, x, s, 'T') < 0 ||
	    ftruncate(fd, (off_t)(x + tail_len)) < 0 || fsync(fd) < 0)
		return -1;
	return 0;
}

int mbox_expunge(int fd, const char *path, mbox_keep_fn *keep, void *keep_ctx,
		 unsigned *removed_r, char **error_r)
{
	struct mbox_reader *reader;
	struct mbox_msg msg;
	struct span *spans = NULL;
	size_t count = 0, cap = 0, first = SIZE_MAX;
	char jpath[PATH_MAX];
	uint64_t x, tail = 0;
	struct stat st;
	int r, jfd = -1;
	unsigned removed = 0;

	*removed_r = 0;
	if (mbox_journal_path(path, jpath, sizeof(jpath)) < 0) {
		*error_r = must_asprintf("%s: path too long", path);
		return -2;
	}
	reader = mbox_reader_open(fd);
	if (reader == NULL) {
		*error_r = must_asprintf("%s: out of memory", path);
		return -1;
	}
	while ((r = mbox_reader_next(reader, &msg, error_r)) > 0) {
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct span *ns = realloc(spans, ncap * sizeof(*ns));

			if (ns == NULL) {
				r = -1;
				*error_r = must_asprintf("%s: out of memory", path);
				break;
			}
			spans = ns;
			cap = ncap;
		}
		spans[count].from = msg.from_offset;
		spans[count].next = msg.next_offset;
		spans[count].keep = keep(keep_ctx, &msg);
		if (!spans[count].keep) {
			removed++;
			if (first == SIZE_MAX)
				first = count;
		}
		count++;
	}
	mbox_reader_free(&reader);
	if (r < 0) {
		if (r == -2 || r == -1) {
			char *inner = *error_r;

			*error_r = must_asprintf("%s: %s", path, inner);
			free(inner);
		}
		free(spans);
		return r;
	}
	if (first == SIZE_MAX) {
		free(spans);
		return 0;
	}
	if (fstat(fd, &st) < 0)
		goto io_error;
	x = spans[first].from;

	jfd = open(jpath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (jfd < 0)
		goto io_error;
	if (journal_header(jfd, x, (uint64_t)st.st_size, 'C') < 0)
		goto io_error;
	for (size_t i = first; i < count; i++) {
		if (!spans[i].keep)
			continue;
		if (copy_range(fd, spans[i].from, jfd, JOURNAL_HEADER + tail, spans[i].next - spans[i].from) < 0)
			goto io_error;
		tail += spans[i].next - spans[i].from;
	}
	if (fsync(jfd) < 0 || fsync_parent_dir(jpath) < 0)
		goto io_error;
	if (replay(fd, jfd, x, (uint64_t)st.st_size, tail) < 0)
		goto io_error_journal_kept;
	close(jfd);
	if (unlink(jpath) < 0 || fsync_parent_dir(jpath) < 0)
		log_warn("%s: cannot remove the expunge journal: %s", jpath, strerror(errno));
	free(spans);
	*removed_r = removed;
	return 0;

io_error:
	*error_r = must_asprintf("%s: expunge failed before changing the mailbox: %s; it is "
				 "unchanged (disk full?)", path, strerror(errno));
	if (jfd >= 0) {
		close(jfd);
		(void)unlink(jpath);
	}
	free(spans);
	return -1;

io_error_journal_kept:
	*error_r = must_asprintf("%s: expunge interrupted while rewriting: %s; the journal %s "
				 "will complete it on the next open", path, strerror(errno), jpath);
	close(jfd);
	free(spans);
	return -1;
}

int mbox_recover(int fd, const char *path, char **error_r)
{
	char jpath[PATH_MAX], hdr[JOURNAL_HEADER + 1], phase;
	uint64_t x, s, tail, extra;
	unsigned long long xv, sv;
	struct stat st, jst;
	int jfd;

	if (mbox_journal_path(path, jpath, sizeof(jpath)) < 0)
		return 0;
	jfd = open(jpath, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (jfd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = must_asprintf("%s: cannot open %s: %s; fix its permissions", path, jpath,
					 strerror(errno));
		return -1;
	}
	if (fstat(jfd, &jst) < 0 || fstat(fd, &st) < 0 || jst.st_size < JOURNAL_HEADER ||
	    pread_full(jfd, hdr, JOURNAL_HEADER, 0) < 0)
		goto bad;
	hdr[JOURNAL_HEADER] = '\0';
	if (strncmp(hdr, JOURNAL_MAGIC " ", strlen(JOURNAL_MAGIC) + 1) != 0 ||
	    sscanf(hdr + strlen(JOURNAL_MAGIC), " %llu %llu %c", &xv, &sv, &phase) != 3 ||
	    (phase != 'C' && phase != 'T'))
		goto bad;
	x = xv;
	s = sv;
	tail = (uint64_t)jst.st_size - JOURNAL_HEADER;
	if (x > s || tail >= s - x)
		goto bad;
	if (phase == 'T' && !marker_present(fd, x, s, tail)) {
		/* Truncated already: only the unlink was missing. */
		log_warn("%s: removing the journal of a completed expunge (%s)", path, jpath);
		goto done;
	}
	if ((uint64_t)st.st_size < s)
		goto bad; /* not truncated, yet shorter than before: someone else cut it */
	extra = (uint64_t)st.st_size - s;
	log_warn("%s: completing an expunge interrupted by a crash (%s); %" PRIu64
		 " bytes appended since are kept", path, jpath, extra);
	/* What was appended after the crash goes into the journal first and
	 * is recorded, so a second crash here loses nothing either. */
	if (extra > 0) {
		if (copy_range(fd, s, jfd, JOURNAL_HEADER + tail, extra) < 0 || fsync(jfd) < 0 ||
		    journal_header(jfd, x, s + extra, 'C') < 0)
			goto io_error;
		tail += extra;
		s += extra;
	}
	if (replay(fd, jfd, x, s, tail) < 0)
		goto io_error;
done:
	close(jfd);
	if (unlink(jpath) < 0 || fsync_parent_dir(jpath) < 0)
		log_warn("%s: cannot remove %s: %s", path, jpath, strerror(errno));
	return 1;

bad:
	*error_r = must_asprintf("%s: the expunge journal %s is damaged or does not match the "
				 "mailbox; compare the two by hand, then remove the journal", path, jpath);
	close(jfd);
	return -1;
io_error:
	*error_r = must_asprintf("%s: completing the interrupted expunge failed: %s; it will be "
				 "retried", path, strerror(errno));
	close(jfd);
	return -1;
}
