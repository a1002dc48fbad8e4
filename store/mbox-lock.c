/*
 * mbox-lock.c - locking an mbox file the way the other programs that touch
 * /var/mail do, so that mutt, mail(1), Postfix local(8), procmail and
 * Dovecot never see a half-written message:
 *
 *   fcntl    a whole-file record lock (F_RDLCK to read, F_WRLCK to write).
 *            We use Linux open-file-description locks (F_OFD_SETLK): they
 *            conflict with the classic F_SETLK locks mutt and Postfix take,
 *            but belong to our descriptor, not the process, so one IMAP
 *            process serving two sessions of a user does not lose its lock
 *            when the other session closes the same file. Kernels without
 *            them (EINVAL) get classic F_SETLK.
 *   flock    flock(2), for sites whose MDA uses it.
 *   dotlock  FILE.lock, created next to the mbox: a unique temporary file is
 *            created and link()ed to FILE.lock (the NFS-safe way: link is
 *            atomic on NFS where O_EXCL was not before v3, and a lost reply
 *            is detected by the link count). The directory must be
 *            writable: /var/mail on Debian is root:mail 2775, so the process
 *            must be in group mail (useradd -g mail, as the seeds do) or use
 *            dotlock_try. A dotlock whose mtime is older than
 *            mbox_dotlock_change_timeout is stale (crashed owner) and is
 *            removed with a warning; a long holder keeps it fresh with
 *            mbox_lock_touch(). Our own dotlocks say "PID HOST": one whose
 *            process is gone from this host is stale at once.
 *
 * Methods are taken in the configured order (Dovecot's mbox_read_locks /
 * mbox_write_locks); every program must use the same order. Waiting is
 * bounded by mbox_lock_timeout (Postfix: deliver_lock_attempts x
 * deliver_lock_delay); a timeout is a temporary failure. Called by
 * mbox-write.c (mbox_deliver) and mbox-backend.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mbox-private.h"
#include "util.h"

/* Poll interval bounds while waiting: short at first (most locks are held
 * for milliseconds), then backing off so a long wait costs little. */
#define MBOX_LOCK_POLL_MIN_MS 5
#define MBOX_LOCK_POLL_MAX_MS 200
/* How long one method may block while earlier ones are held, before all
 * are released and the sequence is retried (deadlock avoidance). */
#define MBOX_LOCK_HOLD_SLICE_MS 1000

struct mbox_lock {
	int fd;
	char *path;
	char *dotlock_path;      /* set while we own FILE.lock */
	bool fcntl_held, fcntl_ofd, flock_held;
};

static const struct {
	const char *name;
	enum mbox_lock_method method;
} lock_names[] = {
	{ "fcntl", MBOX_LOCK_FCNTL },
	{ "flock", MBOX_LOCK_FLOCK },
	{ "dotlock", MBOX_LOCK_DOTLOCK },
	{ "dotlock_try", MBOX_LOCK_DOTLOCK_TRY },
};

int mbox_lock_methods_parse(const char *text, struct mbox_lock_methods *methods_r,
			    const char **error_r)
{
	const char *p = text;

	methods_r->count = 0;
	while (*p) {
		size_t n, i;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, " \t,");
		for (i = 0; i < sizeof(lock_names) / sizeof(lock_names[0]); i++)
			if (strlen(lock_names[i].name) == n && strncmp(p, lock_names[i].name, n) == 0)
				break;
		if (i == sizeof(lock_names) / sizeof(lock_names[0])) {
			*error_r = "unknown lock method; use fcntl, flock, dotlock or dotlock_try";
			return -1;
		}
		for (unsigned k = 0; k < methods_r->count; k++)
			if (methods_r->method[k] == lock_names[i].method) {
				*error_r = "lock method listed twice";
				return -1;
			}
		if (methods_r->count == MBOX_LOCK_MAX_METHODS) {
			*error_r = "too many lock methods";
			return -1;
		}
		methods_r->method[methods_r->count++] = lock_names[i].method;
		p += n;
	}
	return 0;
}

void mbox_lock_settings_default(struct mbox_lock_settings *set_r)
{
	const char *err;

	memset(set_r, 0, sizeof(*set_r));
	(void)mbox_lock_methods_parse("fcntl", &set_r->read, &err);
	(void)mbox_lock_methods_parse("fcntl dotlock", &set_r->write, &err);
	set_r->timeout_secs = 300;
	set_r->dotlock_stale_secs = 300;
}

static int methods_from_list(const struct config *cfg, const char *name,
			     struct mbox_lock_methods *m, char **error_r)
{
	const char *const *items = config_list(cfg, name, NULL);
	struct strbuf sb;
	const char *err = NULL;
	const char *file = NULL;
	int line;

	strbuf_init(&sb, 4096);
	for (size_t i = 0; items && items[i]; i++)
		if ((i && strbuf_putc(&sb, ' ') < 0) || strbuf_puts(&sb, items[i]) < 0)
			break;
	if (mbox_lock_methods_parse(sb.data ? sb.data : "", m, &err) < 0) {
		line = config_where(cfg, name, &file);
		*error_r = must_asprintf("%s:%d: %s: %s; fix the value in the configuration",
					 file ? file : config_path(cfg), line, name, err);
		strbuf_free(&sb);
		return -2;
	}
	strbuf_free(&sb);
	return 0;
}

int mbox_lock_settings_from_config(const struct config *cfg, struct mbox_lock_settings *set_r,
				   char **error_r)
{
	mbox_lock_settings_default(set_r);
	if (methods_from_list(cfg, "mbox_read_locks", &set_r->read, error_r) < 0 ||
	    methods_from_list(cfg, "mbox_write_locks", &set_r->write, error_r) < 0)
		return -2;
	set_r->timeout_secs = (unsigned)config_time(cfg, "mbox_lock_timeout");
	set_r->dotlock_stale_secs = (unsigned)config_time(cfg, "mbox_dotlock_change_timeout");
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One attempt of each kind: 1 = got it, 0 = busy (retry), -1 temp error,
 * -2 permanent (with *error_r). */
static int try_fcntl(struct mbox_lock *lk, enum mbox_lock_mode mode, char **error_r)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = mode == MBOX_LOCK_WRITE ? F_WRLCK : F_RDLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;
#ifdef F_OFD_SETLK
	if (fcntl(lk->fd, F_OFD_SETLK, &fl) == 0) {
		lk->fcntl_held = lk->fcntl_ofd = true;
		return 1;
	}
	if (errno != EINVAL)
		goto failed;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = mode == MBOX_LOCK_WRITE ? F_WRLCK : F_RDLCK;
	fl.l_whence = SEEK_SET;
#endif
	if (fcntl(lk->fd, F_SETLK, &fl) == 0) {
		lk->fcntl_held = true;
		lk->fcntl_ofd = false;
		return 1;
	}
#ifdef F_OFD_SETLK
failed:
#endif
	if (errno == EAGAIN || errno == EACCES || errno == EINTR)
		return 0;
	*error_r = must_asprintf("%s: fcntl lock: %s; check the file system supports locking "
				 "(NFS needs lockd) or remove fcntl from mbox_%s_locks",
				 lk->path, strerror(errno), mode == MBOX_LOCK_WRITE ? "write" : "read");
	return errno == EBADF ? -2 : -1;
}

static void drop_fcntl(struct mbox_lock *lk)
{
	struct flock fl;

	if (!lk->fcntl_held)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
	if (lk->fcntl_ofd)
		(void)fcntl(lk->fd, F_OFD_SETLK, &fl);
	else
#endif
		(void)fcntl(lk->fd, F_SETLK, &fl);
	lk->fcntl_held = false;
}

static int try_flock(struct mbox_lock *lk, enum mbox_lock_mode mode, char **error_r)
{
	if (flock(lk->fd, (mode == MBOX_LOCK_WRITE ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) {
		lk->flock_held = true;
		return 1;
	}
	if (errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	*error_r = must_asprintf("%s: flock: %s; remove flock from mbox_%s_locks",
				 lk->path, strerror(errno), mode == MBOX_LOCK_WRITE ? "write" : "read");
	return -1;
}

static void drop_flock(struct mbox_lock *lk)
{
	if (lk->flock_held)
		(void)flock(lk->fd, LOCK_UN);
	lk->flock_held = false;
}

/* The dotlock is stale when its mtime is older than the limit. Removing
 * it races with another breaker only if both saw the same stale file; we
 * re-check the inode just before unlink() to keep that window tiny. */
/* Our own dotlocks hold "PID HOST\n". Such a lock whose process no longer
 * exists on this host is stale at once: a delivery killed with SIGKILL
 * must not block the mailbox for mbox_dotlock_change_timeout. Locks of
 * other programs (mutt: empty, liblockfile: a bare pid that might live on
 * another NFS client) only go stale by age. */
static bool owner_dead(const char *lock_path, const char *host, long *pid_r)
{
	char buf[160], h[96];
	long pid;
	ssize_t n;
	int fd = open(lock_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %95s", &pid, h) != 2 || pid <= 1 || strcmp(h, host) != 0)
		return false;
	*pid_r = pid;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* The dotlock is stale when its mtime is older than the limit, or when it
 * is ours and its process is gone. Removing it races with another breaker
 * only if both saw the same stale file; we re-check the inode just before
 * unlink() to keep that window tiny. */
static void break_stale_dotlock(struct mbox_lock *lk, const char *lock_path, unsigned stale_secs,
				const char *host)
{
	struct stat st, st2;
	time_t now = time(NULL);
	long pid = 0;
	bool dead;

	if (stat(lock_path, &st) < 0)
		return;
	dead = owner_dead(lock_path, host, &pid);
	if (!dead && now - st.st_mtime < (time_t)stale_secs)
		return;
	if (stat(lock_path, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_mtime != st.st_mtime)
		return;
	if (unlink(lock_path) != 0)
		return;
	if (dead)
		log_warn("%s: removed stale dotlock %s of process %ld, which no longer exists",
			 lk->path, lock_path, pid);
	else
		log_warn("%s: removed stale dotlock %s, unchanged for %lld seconds "
			 "(mbox_dotlock_change_timeout = %us); its owner probably crashed",
			 lk->path, lock_path, (long long)(now - st.st_mtime), stale_secs);
}

static bool dir_not_writable(int err)
{
	return err == EACCES || err == EPERM || err == EROFS;
}

static int try_dotlock(struct mbox_lock *lk, const struct mbox_lock_settings *set, bool try_only,
		       char **error_r)
{
	char lock_path[PATH_MAX], tmp_path[PATH_MAX], host[64];
	struct stat st;
	int fd, n, got = 0, err = 0;

	if (gethostname(host, sizeof(host)) < 0)
		str_copy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (char *h = host; *h; h++)
		if (*h == '/' || *h == '.')
			*h = '_';
	n = snprintf(lock_path, sizeof(lock_path), "%s.lock", lk->path);
	if (n < 0 || (size_t)n >= sizeof(lock_path))
		goto toolong;
	n = snprintf(tmp_path, sizeof(tmp_path), "%s.lock.%s.%ld.%ld", lk->path, host,
		     (long)getpid(), (long)(now_ms() % 1000000));
	if (n < 0 || (size_t)n >= sizeof(tmp_path))
		goto toolong;

	fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		err = errno;
		if (dir_not_writable(err) && try_only)
			return 2; /* skipped: dotlock_try */
		if (err == EEXIST)
			return 0;
		*error_r = must_asprintf(
			"%s: cannot create dotlock %s: %s; the directory must be writable by this "
			"process (Debian's /var/mail is root:mail mode 2775: run as a member of group "
			"mail), or use dotlock_try in mbox_write_locks",
			lk->path, lock_path, strerror(err));
		return dir_not_writable(err) ? -2 : -1;
	}
	{
		char pid[160];
		int pn = snprintf(pid, sizeof(pid), "%ld %s\n", (long)getpid(), host);

		if (pn > 0 && write(fd, pid, (size_t)pn) < 0)
			(void)0; /* the content is informational only */
	}
	close(fd);
	/* link() may report failure although it worked (lost NFS reply): the
	 * link count of our temporary file is the truth. */
	if (link(tmp_path, lock_path) < 0)
		err = errno; /* maybe a lost reply: the link count decides */
	if (stat(tmp_path, &st) == 0 && st.st_nlink == 2)
		got = 1;
	(void)unlink(tmp_path);
	if (got) {
		lk->dotlock_path = must_strdup(lock_path);
		return 1;
	}
	if (err != EEXIST && err != 0) {
		if (dir_not_writable(err) && try_only)
			return 2;
		*error_r = must_asprintf("%s: cannot link dotlock %s: %s; check the mail directory",
					 lk->path, lock_path, strerror(err));
		return -1;
	}
	break_stale_dotlock(lk, lock_path, set->dotlock_stale_secs, host);
	return 0;

toolong:
	*error_r = must_asprintf("%s: path too long for a dotlock; use a shorter mail_location",
				 lk->path);
	return -2;
}

static void drop_dotlock(struct mbox_lock *lk)
{
	if (lk->dotlock_path == NULL)
		return;
	if (unlink(lk->dotlock_path) < 0 && errno != ENOENT)
		log_warn("%s: cannot remove dotlock: %s", lk->dotlock_path, strerror(errno));
	x_free(&lk->dotlock_path);
}

static void drop_all(struct mbox_lock *lk)
{
	/* Reverse of acquisition does not matter for correctness, but dropping
	 * the dotlock last mirrors Postfix and keeps the protocol simple. */
	drop_flock(lk);
	drop_fcntl(lk);
	drop_dotlock(lk);
}

static const char *method_name(enum mbox_lock_method m)
{
	for (size_t i = 0; i < sizeof(lock_names) / sizeof(lock_names[0]); i++)
		if (lock_names[i].method == m)
			return lock_names[i].name;
	return "?";
}

int mbox_lock_acquire(int fd, const char *path, enum mbox_lock_mode mode,
		      const struct mbox_lock_settings *set, struct mbox_lock **lock_r,
		      char **error_r)
{
	const struct mbox_lock_methods *m = mode == MBOX_LOCK_WRITE ? &set->write : &set->read;
	long long deadline = now_ms() + (long long)set->timeout_secs * 1000;
	long long poll = MBOX_LOCK_POLL_MIN_MS;
	struct mbox_lock *lk;
	unsigned i = 0;
	enum mbox_lock_method busy = MBOX_LOCK_FCNTL;
	long long slice_start = now_ms();

	*lock_r = NULL;
	lk = calloc(1, sizeof(*lk));
	if (lk == NULL || (lk->path = strdup(path)) == NULL) {
		free(lk);
		*error_r = must_asprintf("%s: out of memory while locking", path);
		return -1;
	}
	lk->fd = fd;

	while (i < m->count) {
		int r;

		switch (m->method[i]) {
		case MBOX_LOCK_FCNTL:
			r = try_fcntl(lk, mode, error_r);
			break;
		case MBOX_LOCK_FLOCK:
			r = try_flock(lk, mode, error_r);
			break;
		case MBOX_LOCK_DOTLOCK:
		case MBOX_LOCK_DOTLOCK_TRY:
			r = try_dotlock(lk, set, m->method[i] == MBOX_LOCK_DOTLOCK_TRY, error_r);
			break;
		default:
			r = -2;
			*error_r = must_asprintf("%s: bad lock method", path);
		}
		if (r < 0) {
			drop_all(lk);
			free(lk->path);
			free(lk);
			return r;
		}
		if (r >= 1) { /* got it (or dotlock_try skipped it) */
			i++;
			slice_start = now_ms();
			continue;
		}
		busy = m->method[i];
		if (now_ms() >= deadline) {
			drop_all(lk);
			*error_r = must_asprintf("%s: timed out after %u s waiting for the %s lock held by "
						 "another program; delivery will be retried (raise "
						 "mbox_lock_timeout if it holds it that long on purpose)",
						 path, set->timeout_secs, method_name(busy));
			free(lk->path);
			free(lk);
			return -1;
		}
		/* Holding earlier locks while waiting on a later one for long
		 * could deadlock a program using the opposite order: let go and
		 * start the sequence again. */
		if (i > 0 && now_ms() - slice_start > MBOX_LOCK_HOLD_SLICE_MS) {
			drop_all(lk);
			i = 0;
			slice_start = now_ms();
		}
		/* Never sleep past the deadline: one last attempt happens there. */
		sleep_ms(poll < deadline - now_ms() ? poll : (deadline - now_ms() > 0 ? deadline - now_ms() : 0));
		if (poll < MBOX_LOCK_POLL_MAX_MS)
			poll *= 2;
	}
	*lock_r = lk;
	return 0;
}

int mbox_lock_touch(struct mbox_lock *lock)
{
	if (lock == NULL || lock->dotlock_path == NULL)
		return 0;
	return utimensat(AT_FDCWD, lock->dotlock_path, NULL, 0);
}

void mbox_lock_release(struct mbox_lock **lock)
{
	if (*lock == NULL)
		return;
	drop_all(*lock);
	free((*lock)->path);
	x_free(lock);
}
