/*
 * test_mbox_lock.c - mbox locking (store/mbox-lock.c) between real
 * processes: the second writer waits and then gets the lock, a timeout is
 * a temporary failure with the documented text, each method (fcntl,
 * flock, dotlock) excludes on its own, read locks share, a stale dotlock
 * is broken with a warning while a fresh one is respected, dotlock_try
 * skips an unwritable directory, and the mbox_* parameters are read and
 * checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "config.h"
#include "mbox_test_util.h"

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_methods_parse(void **state)
{
	struct mbox_lock_methods m;
	const char *err = NULL;

	(void)state;
	assert_int_equal(mbox_lock_methods_parse("fcntl dotlock", &m, &err), 0);
	assert_int_equal(m.count, 2);
	assert_int_equal(m.method[0], MBOX_LOCK_FCNTL);
	assert_int_equal(m.method[1], MBOX_LOCK_DOTLOCK);
	assert_int_equal(mbox_lock_methods_parse(" dotlock_try,flock , fcntl ", &m, &err), 0);
	assert_int_equal(m.count, 3);
	assert_int_equal(m.method[0], MBOX_LOCK_DOTLOCK_TRY);
	assert_int_equal(m.method[1], MBOX_LOCK_FLOCK);
	assert_int_equal(mbox_lock_methods_parse("", &m, &err), 0);
	assert_int_equal(m.count, 0);
	assert_int_equal(mbox_lock_methods_parse("fcntl lockf", &m, &err), -1);
	assert_string_equal(err, "unknown lock method; use fcntl, flock, dotlock or dotlock_try");
	assert_int_equal(mbox_lock_methods_parse("fcntl fcntl", &m, &err), -1);
	assert_string_equal(err, "lock method listed twice");
}

static void test_settings_from_config(void **state)
{
	static const char good[] = "mbox_write_locks = dotlock, fcntl\nmbox_lock_timeout = 2m\n"
				   "mbox_dotlock_change_timeout = 10m\n";
	static const char bad[] = "# mbox\nmbox_read_locks = fcntl posix\n";
	struct mbox_lock_settings set;
	struct config *cfg;
	char *err = NULL;

	(void)state;
	cfg = config_parse("main.cf", good, sizeof(good) - 1, NULL, NULL);
	assert_non_null(cfg);
	assert_int_equal(mbox_lock_settings_from_config(cfg, &set, &err), 0);
	assert_int_equal(set.write.count, 2);
	assert_int_equal(set.write.method[0], MBOX_LOCK_DOTLOCK);
	assert_int_equal(set.write.method[1], MBOX_LOCK_FCNTL);
	assert_int_equal(set.read.count, 1);
	assert_int_equal(set.read.method[0], MBOX_LOCK_FCNTL);
	assert_int_equal(set.timeout_secs, 120);
	assert_int_equal(set.dotlock_stale_secs, 600);
	config_free(&cfg);

	cfg = config_parse("main.cf", bad, sizeof(bad) - 1, NULL, NULL);
	assert_non_null(cfg);
	assert_int_equal(mbox_lock_settings_from_config(cfg, &set, &err), -2);
	assert_string_equal(err, "main.cf:2: mbox_read_locks: unknown lock method; use fcntl, flock, "
				 "dotlock or dotlock_try; fix the value in the configuration");
	free(err);
	config_free(&cfg);

	/* The defaults are the registry's. */
	cfg = config_parse("main.cf", "", 0, NULL, NULL);
	assert_int_equal(mbox_lock_settings_from_config(cfg, &set, &err), 0);
	assert_int_equal(set.write.count, 2);
	assert_int_equal(set.write.method[0], MBOX_LOCK_FCNTL);
	assert_int_equal(set.write.method[1], MBOX_LOCK_DOTLOCK);
	assert_int_equal(set.timeout_secs, 300);
	assert_int_equal(set.dotlock_stale_secs, 300);
	config_free(&cfg);
}

/*
 * The holder: a child that takes the lock with methods, tells the parent
 * through a pipe, holds it hold_ms, releases and exits. Returns its pid.
 */
static pid_t hold_lock(const char *path, const char *methods, enum mbox_lock_mode mode, int hold_ms)
{
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mbox_lock_settings set;
		struct mbox_lock *lock = NULL;
		char *err = NULL;
		int fd = open(path, O_RDWR | O_CREAT, 0600);

		mbt_settings(&set, methods, 5);
		set.read = set.write;
		if (fd < 0 || mbox_lock_acquire(fd, path, mode, &set, &lock, &err) != 0)
			_exit(1);
		if (write(p[1], "L", 1) != 1)
			_exit(2);
		usleep((useconds_t)hold_ms * 1000);
		mbox_lock_release(&lock);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* While a child holds methods for hold_ms, we wait and then get it. */
static void wait_then_get(const char *methods)
{
	const char *path = mbt_path("inbox");
	struct mbox_lock_settings set;
	struct mbox_lock *lock = NULL;
	char *err = NULL;
	long long t0, waited;
	pid_t pid;
	int fd;

	mbt_write(path, "", 0);
	pid = hold_lock(path, methods, MBOX_LOCK_WRITE, 400);
	fd = open(path, O_RDWR);
	mbt_settings(&set, methods, 10);
	t0 = ms_now();
	if (mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err) != 0)
		fail_msg("%s: %s", methods, err);
	waited = ms_now() - t0;
	if (waited < 250)
		fail_msg("%s: got the lock after %lld ms while another process held it", methods, waited);
	mbox_lock_release(&lock);
	close(fd);
	reap(pid);
}

static void test_second_waits(void **state)
{
	(void)state;
	wait_then_get("fcntl");
	wait_then_get("flock");
	wait_then_get("dotlock");
	wait_then_get("fcntl dotlock");
	assert_int_equal(access(mbt_path("inbox.lock"), F_OK), -1);
}

static void test_timeout_is_temporary(void **state)
{
	const char *path = mbt_path("inbox");
	struct mbox_lock_settings set;
	struct mbox_lock *lock = NULL;
	char *err = NULL;
	long long t0;
	pid_t pid;
	int fd;

	(void)state;
	mbt_write(path, "", 0);
	pid = hold_lock(path, "fcntl dotlock", MBOX_LOCK_WRITE, 3000);
	fd = open(path, O_RDWR);
	mbt_settings(&set, "fcntl dotlock", 1);
	t0 = ms_now();
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), -1);
	assert_true(ms_now() - t0 >= 900);
	assert_null(lock);
	assert_non_null(strstr(err, ": timed out after 1 s waiting for the fcntl lock held by another "
				    "program; delivery will be retried (raise mbox_lock_timeout if it "
				    "holds it that long on purpose)"));
	free(err);
	err = NULL;
	/* mbox_deliver turns it into the same temporary failure. */
	t0 = ms_now();
	{
		int r = mbox_deliver(path, &set, "a", 0, "x\n", 2, &err);

		if (r != -1)
			fail_msg("deliver returned %d after %lld ms: %s", r, ms_now() - t0, r ? err : "");
	}
	assert_non_null(strstr(err, "timed out"));
	free(err);
	close(fd);
	reap(pid);
	/* Our failed attempts left no dotlock behind, the holder's is gone. */
	assert_int_equal(access(mbt_path("inbox.lock"), F_OK), -1);
}

static void test_read_locks_share(void **state)
{
	const char *path = mbt_path("inbox");
	struct mbox_lock_settings set;
	struct mbox_lock *lock = NULL;
	char *err = NULL;
	pid_t pid;
	int fd;

	(void)state;
	mbt_write(path, "", 0);
	pid = hold_lock(path, "fcntl", MBOX_LOCK_READ, 1500);
	fd = open(path, O_RDWR);
	mbt_settings(&set, "fcntl", 1);
	set.read = set.write;
	/* Another reader gets in at once... */
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_READ, &set, &lock, &err), 0);
	mbox_lock_release(&lock);
	/* ...a writer does not. */
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), -1);
	free(err);
	close(fd);
	reap(pid);
}

/* Postfix and mutt lock with classic F_SETLK; our OFD lock must exclude
 * them and be excluded by them. */
static void test_fcntl_interop(void **state)
{
	const char *path = mbt_path("inbox");
	struct mbox_lock_settings set;
	struct mbox_lock *lock = NULL;
	char *err = NULL;
	int p[2], fd, status;
	pid_t pid;
	char c;

	(void)state;
	mbt_write(path, "", 0);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int cfd = open(path, O_RDWR);

		if (fcntl(cfd, F_SETLK, &fl) < 0)
			_exit(1);
		if (write(p[1], "L", 1) != 1)
			_exit(2);
		usleep(1500 * 1000);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	fd = open(path, O_RDWR);
	mbt_settings(&set, "fcntl", 1);
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), -1);
	free(err);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), 0);
	pid = fork();
	if (pid == 0) {
		struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
		int cfd = open(path, O_RDWR);

		_exit(fcntl(cfd, F_SETLK, &fl) < 0 && (errno == EAGAIN || errno == EACCES) ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	mbox_lock_release(&lock);
	close(fd);
}

static void test_stale_dotlock(void **state)
{
	const char *path = mbt_path("inbox");
	const char *lockp = mbt_path("inbox.lock");
	struct mbox_lock_settings set;
	struct mbox_lock *lock = NULL;
	struct timespec old[2];
	struct stat st;
	char *err = NULL;
	int fd;

	(void)state;
	mbt_write(path, "", 0);
	fd = open(path, O_RDWR);
	mbt_settings(&set, "dotlock", 1);

	/* A fresh dotlock of somebody else is respected. */
	mbt_write(lockp, "12345\n", 6);
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), -1);
	assert_non_null(strstr(err, "waiting for the dotlock lock"));
	free(err);
	assert_int_equal(access(lockp, F_OK), 0);

	/* Ten minutes old: stale, removed with a warning, ours replaces it. */
	clock_gettime(CLOCK_REALTIME, &old[0]);
	old[0].tv_sec -= 600;
	old[1] = old[0];
	assert_int_equal(utimensat(AT_FDCWD, lockp, old, 0), 0);
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), 0);
	assert_non_null(strstr(mbt_warnings, "removed stale dotlock"));
	assert_non_null(strstr(mbt_warnings, "(mbox_dotlock_change_timeout = 300s); its owner probably crashed"));
	assert_int_equal(stat(lockp, &st), 0);
	assert_true(st.st_mtime > old[0].tv_sec + 500);
	/* Touching keeps it fresh. */
	assert_int_equal(utimensat(AT_FDCWD, lockp, old, 0), 0);
	assert_int_equal(mbox_lock_touch(lock), 0);
	assert_int_equal(stat(lockp, &st), 0);
	assert_true(st.st_mtime > old[0].tv_sec + 500);
	mbox_lock_release(&lock);
	assert_int_equal(access(lockp, F_OK), -1);
	close(fd);
}

/* Checks of test_dotlock_unwritable_dir; 0 when all hold. */
static int unwritable_checks(const char *path)
{
	struct mbox_lock_settings set;
	struct mbox_lock *lock = NULL;
	char *err = NULL;
	int fd = open(path, O_RDWR);

	if (fd < 0)
		return 1;
	mbt_settings(&set, "fcntl dotlock", 1);
	if (mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err) != -2)
		return 2;
	if (strstr(err, "cannot create dotlock") == NULL ||
	    strstr(err, "Permission denied; the directory must be writable by this process "
			"(Debian's /var/mail is root:mail mode 2775: run as a member of group "
			"mail), or use dotlock_try in mbox_write_locks") == NULL)
		return 3;
	free(err);
	mbt_settings(&set, "fcntl dotlock_try", 1);
	if (mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err) != 0)
		return 4;
	mbox_lock_release(&lock);
	close(fd);
	return 0;
}

/* /var/mail without group mail: dotlock is a permanent failure with the
 * fix in the text, dotlock_try goes on without it. As root the check runs
 * in a child that became nobody (root writes anywhere). */
/* A dotlock Postern wrote ("PID HOST") whose process is gone is broken at
 * once; one whose process lives is respected. */
static void test_dead_owner_dotlock(void **state)
{
	const char *path = mbt_path("inbox");
	const char *lockp = mbt_path("inbox.lock");
	struct mbox_lock_settings set;
	struct mbox_lock *lock = NULL;
	char host[64], text[160], *err = NULL;
	int fd, status;
	pid_t gone;

	(void)state;
	if (gethostname(host, sizeof(host)) < 0)
		str_copy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (char *h = host; *h; h++)
		if (*h == '/' || *h == '.')
			*h = '_';
	gone = fork();
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, &status, 0), gone);
	mbt_write(path, "", 0);
	fd = open(path, O_RDWR);
	mbt_settings(&set, "dotlock", 1);

	snprintf(text, sizeof(text), "%ld %s\n", (long)getpid(), host);
	mbt_write(lockp, text, strlen(text));
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), -1);
	free(err);

	snprintf(text, sizeof(text), "%ld %s\n", (long)gone, host);
	mbt_write(lockp, text, strlen(text));
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), 0);
	snprintf(text, sizeof(text), "of process %ld, which no longer exists", (long)gone);
	assert_non_null(strstr(mbt_warnings, text));
	mbox_lock_release(&lock);

	/* Another host's lock, or a bare pid (liblockfile), only ages. */
	snprintf(text, sizeof(text), "%ld otherhost\n", (long)gone);
	mbt_write(lockp, text, strlen(text));
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), -1);
	free(err);
	snprintf(text, sizeof(text), "%ld\n", (long)gone);
	mbt_write(lockp, text, strlen(text));
	assert_int_equal(mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, &set, &lock, &err), -1);
	free(err);
	close(fd);
}

static void test_dotlock_unwritable_dir(void **state)
{
	const char *dir = mbt_path("spool");
	char path[600];
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/user", dir);
	mbt_write(path, "", 0);
	assert_int_equal(chmod(dir, 0500), 0);
	if (geteuid() != 0) {
		assert_int_equal(unwritable_checks(path), 0);
		chmod(dir, 0700);
		return;
	}
	assert_int_equal(chmod(mbt_dir, 0711), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_int_equal(chown(path, 65534, 65534), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(9);
		_exit(unwritable_checks(path));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	chmod(dir, 0700);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_methods_parse),
		cmocka_unit_test(test_settings_from_config),
		cmocka_unit_test_setup_teardown(test_second_waits, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_is_temporary, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_read_locks_share, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_fcntl_interop, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_stale_dotlock, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_dead_owner_dotlock, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_dotlock_unwritable_dir, mbt_setup, mbt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
