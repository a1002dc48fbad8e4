/*
 * test_master.c - unit tests for the master's pure logic: restart backoff,
 * exit-status wording, POSTERN_LISTEN_FDS encoding/parsing, fd shuffling
 * into 3.., atomic listener binding (a port in use gives one line naming
 * FILE:LINE and keeps nothing bound), the built-role check, the pid file
 * lock. The process-level behaviour is tests/integration/test_master.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "master/master.h"
#include "role.h"
#include "util.h"

/* --- backoff ---------------------------------------------------------- */

static void test_restart_delay(void **state)
{
	(void)state;
	/* First death: the base delay. */
	assert_int_equal(master_restart_delay(-1, 0, 1, 60), 1);
	/* Quick deaths double it ... */
	assert_int_equal(master_restart_delay(1, 0, 1, 60), 2);
	assert_int_equal(master_restart_delay(2, 3, 1, 60), 4);
	assert_int_equal(master_restart_delay(32, 1, 1, 60), 60);
	/* ... never beyond the maximum ... */
	assert_int_equal(master_restart_delay(60, 1, 1, 60), 60);
	assert_int_equal(master_restart_delay(LLONG_MAX / 2 + 1, 1, 1, LLONG_MAX), LLONG_MAX);
	/* ... and a role that ran long enough starts over at the base. */
	assert_int_equal(master_restart_delay(60, MASTER_RESTART_STABLE_SECONDS, 1, 60), 1);
	/* A zero base restarts at once the first time, then backs off. */
	assert_int_equal(master_restart_delay(-1, 0, 0, 60), 0);
	assert_int_equal(master_restart_delay(0, 0, 0, 60), 1);
	/* A base above the maximum is capped. */
	assert_int_equal(master_restart_delay(-1, 0, 90, 60), 60);
}

static void test_exit_text(void **state)
{
	char buf[64];
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	if (pid == 0)
		_exit(3);
	waitpid(pid, &status, 0);
	assert_string_equal(master_exit_text(status, buf, sizeof(buf)), "exit status 3");
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_string_equal(master_exit_text(status, buf, sizeof(buf)), "killed by signal 9");
}

/* --- fd passing ------------------------------------------------------- */

static void test_fdpass_roundtrip(void **state)
{
	struct fdpass_entry in[2] = { { "mx", 3 }, { "submission", 4 } };
	struct fdpass_entry *out = NULL;
	const char *err = NULL;
	char *text;

	(void)state;
	text = fdpass_format(in, 2);
	assert_string_equal(text, "mx:3,submission:4");
	assert_int_equal(fdpass_parse(text, 8, &out, &err), 2);
	assert_string_equal(out[0].name, "mx");
	assert_int_equal(out[0].fd, 3);
	assert_string_equal(out[1].name, "submission");
	assert_int_equal(out[1].fd, 4);
	free(out);
	free(text);
	assert_int_equal(fdpass_parse("", 8, &out, &err), 0);
	assert_null(out);
	/* Unix sockets of roles: the fd follows the last ':'. */
	assert_int_equal(fdpass_parse("mx:3,unix:auth:4,unix:auth-userdb:5", 8, &out, &err), 3);
	assert_string_equal(out[1].name, "unix:auth");
	assert_int_equal(out[1].fd, 4);
	assert_string_equal(out[2].name, "unix:auth-userdb");
	assert_int_equal(out[2].fd, 5);
	free(out);
	assert_int_equal(fdpass_parse("unix:3", 8, &out, &err), 1);
	assert_string_equal(out[0].name, "unix");
	free(out);
}

static void test_fdpass_rejects(void **state)
{
	static const struct {
		const char *text;
		const char *error;
	} cases[] = {
		{ "mx", "entry without \":fd\"" },
		{ ":3", "empty or overlong listener name" },
		{ "mx:", "missing fd number" },
		{ "mx:2", "fd is not a number in range" },
		{ "mx:-3", "fd is not a number in range" },
		{ "mx:3x", "fd is not a number in range" },
		{ "mx:99999999999", "fd is not a number in range" },
		{ "mx:3,mx:4", "duplicate listener name or fd" },
		{ "mx:3,sub:3", "duplicate listener name or fd" },
		{ "mx:3,", "entry without \":fd\"" },
		{ "a:3,b:4,c:5", "too many listeners" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:3",
		  "empty or overlong listener name" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fdpass_entry *out = (void *)1;
		const char *err = NULL;

		assert_int_equal(fdpass_parse(cases[i].text, 2, &out, &err), -1);
		assert_null(out);
		assert_string_equal(err, cases[i].error);
	}
}

/* fdpass_install in a child: fds given in an order that overlaps the
 * target range must still land at 3, 4, ... each on the right socket. */
static void test_fdpass_install_shuffles(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int a[2], b[2], fds[2];
		struct stat sa, sb, s3, s4;

		/* Make fd 3 and 4 pipes, then pass them swapped. */
		for (int fd = 3; fd < 64; fd++)
			close(fd);
		if (pipe(a) < 0 || pipe(b) < 0)
			_exit(10);
		/* a = {3,4}, b = {5,6}; pass write ends 6 and 4: 6 -> 3, 4 -> 4. */
		fds[0] = b[1];
		fds[1] = a[1];
		if (fstat(a[1], &sa) < 0 || fstat(b[1], &sb) < 0)
			_exit(10);
		if (fdpass_install(fds, 2) < 0)
			_exit(11);
		/* 3 is now b's pipe, 4 a's; 5 and 6 are closed. */
		if (fstat(3, &s3) < 0 || fstat(4, &s4) < 0 || s3.st_ino != sb.st_ino ||
		    s4.st_ino != sa.st_ino)
			_exit(12);
		if (fcntl(5, F_GETFD) >= 0 || fcntl(6, F_GETFD) >= 0)
			_exit(13);
		if (fcntl(3, F_GETFD) & FD_CLOEXEC)
			_exit(14);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status))
		print_error("child status 0x%x\n", (unsigned)status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- listeners -------------------------------------------------------- */

static int busy_port(int *fd_r)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*fd_r = fd;
	return ntohs(sin.sin_port);
}

static int free_port(void)
{
	int fd, port = busy_port(&fd);

	close(fd);
	return port;
}

static struct config *parse(const char *text)
{
	struct config *cfg = config_parse("test.conf", text, strlen(text), NULL, NULL);

	assert_non_null(cfg);
	return cfg;
}

static void test_bind_port_in_use(void **state)
{
	int busy_fd, busy = busy_port(&busy_fd), ok = free_port();
	char *text = must_asprintf("a/listen = smtp 127.0.0.1:%d\nb/listen = smtp 127.0.0.1:%d\n",
				   ok, busy);
	struct config *cfg = parse(text);
	struct master_listeners out = { (void *)1, 7 };
	char *err = NULL;
	char *prefix = must_asprintf("test.conf:2: b/listen: ");
	int fd;

	(void)state;
	assert_int_equal(master_listeners_bind(cfg, NULL, &out, &err), -1);
	assert_non_null(err);
	assert_true(str_has_prefix(err, prefix));
	assert_null(strchr(err, '\n'));
	assert_null(out.items);
	assert_int_equal(out.n, 0);
	/* All or nothing: the first listener's port was released again. */
	{
		struct sockaddr_in sin;

		fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)ok);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
		close(fd);
	}
	free(prefix);
	free(err);
	free(text);
	close(busy_fd);
	config_free(&cfg);
}

static void test_bind_keeps_unchanged_sockets(void **state)
{
	int p1 = free_port(), p2 = free_port();
	char *t1 = must_asprintf("a/listen = smtp 127.0.0.1:%d\n", p1);
	char *t2 = must_asprintf("x/listen = imap 127.0.0.1:%d\nb/listen = smtp 127.0.0.1:%d\n", p1, p2);
	struct config *c1 = parse(t1), *c2 = parse(t2);
	struct master_listeners run, next;
	char *err = NULL;
	int fd_a;

	(void)state;
	assert_int_equal(master_listeners_bind(c1, NULL, &run, &err), 0);
	assert_int_equal(run.n, 1);
	fd_a = run.items[0].fd;
	assert_true(fd_a >= 0);
	/* Reload: same address and port keeps the very same socket. */
	assert_int_equal(master_listeners_bind(c2, &run, &next, &err), 0);
	assert_int_equal(next.n, 2);
	assert_int_equal(next.items[0].fd, fd_a);
	assert_string_equal(next.items[0].cl->name, "x");
	assert_int_equal(run.items[0].fd, -1);
	assert_true(next.items[1].fd >= 0);
	master_listeners_close(&run);
	master_listeners_close(&next);
	assert_null(next.items);
	free(t1);
	free(t2);
	config_free(&c1);
	config_free(&c2);
}

/* --- roles ------------------------------------------------------------ */

static void test_unbuilt_protocol(void **state)
{
	struct config *cfg = parse("# comment\nmx/listen = smtp *:25 tls=starttls\n");
	char *err = NULL;

	(void)state;
	unsetenv("POSTERN_SELFTEST_ROLE");
	if (role_for_protocol("smtp") == NULL) {
		assert_int_equal(role_check_listeners(cfg, &err), -1);
		assert_string_equal(err, "test.conf:2: mx/listen: protocol smtp is not built into this posternd yet; comment the line out");
		free(err);
	}
	assert_null(role_lookup("selftest"));
	setenv("POSTERN_SELFTEST_ROLE", "1", 1);
	assert_non_null(role_lookup("selftest"));
	assert_true(role_lookup("selftest")->always);
	unsetenv("POSTERN_SELFTEST_ROLE");
	config_free(&cfg);
}

/* --- pid file --------------------------------------------------------- */

static void test_pidfile_lock(void **state)
{
	char dir[] = "/tmp/postern-test-XXXXXX";
	char *path, *err = NULL;
	int fd, status;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = must_asprintf("%s/master.pid", dir);
	assert_int_equal(master_pidfile_read(path), 0);
	fd = master_pidfile_lock(path, &err);
	assert_true(fd >= 0);
	assert_int_equal(master_pidfile_write(fd), 0);
	/* Another process sees the lock and the pid (flock is per open file,
	 * so the check must come from a separate open, as a second posternd's
	 * would). */
	pid = fork();
	if (pid == 0) {
		char *e = NULL;
		int fd2 = master_pidfile_lock(path, &e);

		_exit(fd2 < 0 && e && strstr(e, "posternd is already running with pid") ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(master_pidfile_read(path), getpid());
	close(fd);
	/* Lock released: not running any more, even though the file is there. */
	assert_int_equal(master_pidfile_read(path), 0);
	unlink(path);
	rmdir(dir);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_delay),
		cmocka_unit_test(test_exit_text),
		cmocka_unit_test(test_fdpass_roundtrip),
		cmocka_unit_test(test_fdpass_rejects),
		cmocka_unit_test(test_fdpass_install_shuffles),
		cmocka_unit_test(test_bind_port_in_use),
		cmocka_unit_test(test_bind_keeps_unchanged_sockets),
		cmocka_unit_test(test_unbuilt_protocol),
		cmocka_unit_test(test_pidfile_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
