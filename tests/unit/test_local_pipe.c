/*
 * test_local_pipe.c - |command and /file deliveries of aliases
 * (smtp/queue/local-pipe.c, local-pipe-file.c, local-pipe-content.c):
 * what a command gets on stdin (Return-Path, Delivered-To, LF line ends)
 * and in its environment (local(8)'s variables and nothing else), that it
 * inherits no descriptor, the exit status mapping (0, EX_TEMPFAIL,
 * EX_NOUSER, other codes with the command's output in the text), the time
 * limit killing the whole process group, a command that never reads its
 * input (no SIGPIPE death), and the mbox append of a file delivery
 * (From_ line, >From quoting, blank line, mode 0600, symlinks and
 * relative paths refused, /dev/null, a held lock deferring).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "smtp/queue/local-pipe.h"

static const char junk[] = "POSTERN-QUEUE 1\nsender 13:a@example.com\nmessage 000000000000099\n";
static const char message[] = "Received: from x by y\r\n"
			      "Subject: test\r\n"
			      "\r\n"
			      "From me, with love\r\n"
			      "XFrom is fine\r\n"
			      ">From stays\r\n"
			      "last line without end";

struct fixture {
	char dir[64];
	int fd;
	struct local_pipe_req req;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *path;

	assert_non_null(f);
	str_copy(f->dir, "/tmp/test-local-pipe-XXXXXX", sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	path = must_asprintf("%s/queuefile", f->dir);
	f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	assert_true(f->fd >= 0);
	assert_int_equal(write(f->fd, junk, strlen(junk)), (ssize_t)strlen(junk));
	assert_int_equal(write(f->fd, message, strlen(message)), (ssize_t)strlen(message));
	assert_int_equal(lseek(f->fd, 5, SEEK_SET), 5);
	f->req = (struct local_pipe_req){ .sender = "a@example.com", .recipient = "list+ext@example.com",
					  .fd = f->fd, .offset = (off_t)strlen(junk),
					  .size = (off_t)strlen(message), .time_limit = 30 };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = must_asprintf("rm -rf '%s'", f->dir);

	/* The caller's position in the queue file is never moved. */
	assert_int_equal(lseek(f->fd, 0, SEEK_CUR), 5);
	close(f->fd);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f);
	return 0;
}

static char *slurp(const char *dir, const char *name)
{
	char *path = must_asprintf("%s/%s", dir, name);
	const char *err = NULL;
	size_t len;
	char *data = file_read_all(path, 1 << 20, &len, &err);

	free(path);
	assert_non_null(data);
	return data;
}

/* run - the command template with each @D replaced by the test directory. */
static void run(struct fixture *f, const char *tmpl, struct local_pipe_result *out)
{
	struct strbuf cmd;

	strbuf_init(&cmd, 0);
	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			assert_int_equal(strbuf_puts(&cmd, f->dir), 0);
			p++;
		} else {
			assert_int_equal(strbuf_putc(&cmd, *p), 0);
		}
	}
	memset(out, 0, sizeof(*out));
	local_pipe_command(&f->req, cmd.data, out);
	strbuf_free(&cmd);
}

static void test_command_stdin(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;
	char *got;

	run(f, "cat > @D/out", &r);
	assert_int_equal(r.result, QDEST_SENT);
	assert_string_equal(r.dsn, "2.0.0");
	assert_true(str_has_prefix(r.text, "delivered to command: cat > /tmp/test-local-pipe-"));
	got = slurp(f->dir, "out");
	assert_string_equal(got, "Return-Path: <a@example.com>\n"
				 "Delivered-To: list+ext@example.com\n"
				 "Received: from x by y\n"
				 "Subject: test\n"
				 "\n"
				 "From me, with love\n"
				 "XFrom is fine\n"
				 ">From stays\n"
				 "last line without end");
	free(got);
}

static void test_command_environment_and_fds(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;
	char *got;
	int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: must still not reach the command */
	char fdname[32];

	assert_true(leak >= 3);
	setenv("POSTERN_TEST_SECRET", "x", 1);
	f->req.sender = "";
	run(f, "env | sort > @D/env; ls /proc/self/fd > @D/fds", &r);
	unsetenv("POSTERN_TEST_SECRET");
	assert_int_equal(r.result, QDEST_SENT);
	char *raw = slurp(f->dir, "env");
	got = must_asprintf("\n%s", raw); /* every variable starts a line */
	free(raw);
	assert_non_null(strstr(got, "\nDOMAIN=example.com\n"));
	assert_non_null(strstr(got, "\nEXTENSION=ext\n"));
	assert_non_null(strstr(got, "\nHOME=/\n"));
	assert_non_null(strstr(got, "\nLOCAL=list+ext\n"));
	assert_non_null(strstr(got, "\nLOGNAME=list\n"));
	assert_non_null(strstr(got, "\nPATH=/usr/bin:/bin\n"));
	assert_non_null(strstr(got, "\nRECIPIENT=list+ext@example.com\n"));
	assert_non_null(strstr(got, "\nSENDER=\n"));
	assert_non_null(strstr(got, "\nSHELL=/bin/sh\n"));
	assert_non_null(strstr(got, "\nUSER=list\n"));
	assert_null(strstr(got, "POSTERN_TEST_SECRET"));
	free(got);
	/* ls itself opens one descriptor for the directory (3). */
	got = slurp(f->dir, "fds");
	snprintf(fdname, sizeof(fdname), "\n%d\n", leak);
	if (leak != 3)
		assert_null(strstr(got, fdname));
	assert_string_equal(got, "0\n1\n2\n3\n");
	free(got);
	close(leak);
}

static void test_command_tempfail(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;

	run(f, "echo 'mailbox busy, try later'; exit 75", &r);
	assert_int_equal(r.result, QDEST_DEFERRED);
	assert_string_equal(r.dsn, "4.3.0");
	assert_string_equal(r.text, "temporary failure. Command output: mailbox busy, try later");
}

static void test_command_sysexits_bounce(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;

	run(f, "exit 67", &r);
	assert_int_equal(r.result, QDEST_BOUNCED);
	assert_string_equal(r.dsn, "5.1.1");
	assert_string_equal(r.text, "user unknown");
	run(f, "exit 74", &r); /* Postfix: EX_IOERR is permanent */
	assert_int_equal(r.result, QDEST_BOUNCED);
	assert_string_equal(r.dsn, "5.3.0");
	run(f, "exit 71", &r);
	assert_int_equal(r.result, QDEST_DEFERRED);
	assert_string_equal(r.dsn, "4.3.0");
	assert_string_equal(r.text, "system resource problem");
}

static void test_command_died(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;

	memset(&r, 0, sizeof(r));
	local_pipe_command(&f->req, "cat >/dev/null; echo 'no such list' >&2; echo second line; exit 1", &r);
	assert_int_equal(r.result, QDEST_BOUNCED);
	assert_string_equal(r.dsn, "5.3.0");
	assert_string_equal(r.text, "Command died with status 1: \"cat >/dev/null; echo 'no such list' >&2; "
				    "echo second line; exit 1\". Command output: no such list");
	/* Killed by a signal: try again. */
	local_pipe_command(&f->req, "kill -TERM $$", &r);
	assert_int_equal(r.result, QDEST_DEFERRED);
	assert_string_equal(r.text, "Command died with signal 15: \"kill -TERM $$\"");
}

static void test_command_time_limit(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;
	struct timespec t0, t1;
	char *pidtext;
	pid_t pgid;

	f->req.time_limit = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run(f, "echo $$ > @D/pid; sleep 100 & sleep 100", &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(r.result, QDEST_DEFERRED);
	assert_string_equal(r.dsn, "4.3.0");
	assert_true(str_has_prefix(r.text, "Command time limit exceeded: \"echo $$ > "));
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	/* The background sleep died with its group. */
	pidtext = slurp(f->dir, "pid");
	pgid = (pid_t)atoi(pidtext);
	free(pidtext);
	assert_true(pgid > 1);
	for (int i = 0; i < 50 && kill(-pgid, 0) == 0; i++)
		usleep(100 * 1000);
	assert_int_equal(kill(-pgid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void test_command_ignores_input(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;
	char *big = must_malloc(2 << 20);
	char *path = must_asprintf("%s/big", f->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	free(path);
	assert_true(fd >= 0);
	memset(big, 'x', 2 << 20);
	for (size_t i = 76; i < (2u << 20); i += 78)
		big[i] = '\r', big[i + 1] = '\n';
	assert_int_equal(write(fd, big, 2 << 20), 2 << 20);
	free(big);
	f->req.fd = fd;
	f->req.offset = 0;
	f->req.size = 2 << 20;
	/* Exits at once without reading: our writes get EPIPE, not SIGPIPE. */
	run(f, "exit 0", &r);
	assert_int_equal(r.result, QDEST_SENT);
	run(f, "head -c 10 >/dev/null; exit 0", &r);
	assert_int_equal(r.result, QDEST_SENT);
	close(fd);
	f->req.fd = f->fd;
}

static void test_file_mbox(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;
	char *path = must_asprintf("%s/mbox", f->dir), *got, *second;
	struct stat st;

	local_pipe_file(&f->req, path, &r);
	assert_int_equal(r.result, QDEST_SENT);
	assert_string_equal(r.dsn, "2.0.0");
	f->req.sender = "";
	local_pipe_file(&f->req, path, &r);
	assert_int_equal(r.result, QDEST_SENT);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	got = slurp(f->dir, "mbox");
	assert_true(str_has_prefix(got, "From a@example.com "));
	const char *rest = strchr(got, '\n');
	assert_non_null(rest);
	assert_true(str_has_prefix(rest, "\nReturn-Path: <a@example.com>\n"
					 "Delivered-To: list+ext@example.com\n"
					 "Received: from x by y\n"
					 "Subject: test\n"
					 "\n"
					 ">From me, with love\n"
					 "XFrom is fine\n"
					 ">From stays\n"
					 "last line without end\n"
					 "\n"
					 "From MAILER-DAEMON "));
	second = strstr(got, "\nFrom MAILER-DAEMON ");
	assert_non_null(second);
	assert_non_null(strstr(second, "\nReturn-Path: <>\n"));
	assert_true(str_has_prefix(got + strlen(got) - strlen("last line without end\n\n"),
				   "last line without end\n\n"));
	free(got);
	free(path);
}

static void test_file_refusals(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;
	char *target = must_asprintf("%s/target", f->dir), *lnk = must_asprintf("%s/link", f->dir);
	char *hard = must_asprintf("%s/hard", f->dir);

	assert_int_equal(symlink(target, lnk), 0);
	local_pipe_file(&f->req, lnk, &r);
	assert_int_equal(r.result, QDEST_BOUNCED);
	assert_true(strstr(r.text, "it is a symbolic link") != NULL);
	assert_int_equal(access(target, F_OK), -1);

	local_pipe_file(&f->req, "relative/file", &r);
	assert_int_equal(r.result, QDEST_BOUNCED);
	assert_string_equal(r.text, "cannot append to file relative/file: not an absolute path");

	local_pipe_file(&f->req, f->dir, &r);
	assert_int_equal(r.result, QDEST_BOUNCED);

	assert_int_equal(close(open(target, O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(link(target, hard), 0);
	local_pipe_file(&f->req, hard, &r);
	assert_int_equal(r.result, QDEST_BOUNCED);
	assert_true(strstr(r.text, "more than one hard link") != NULL);

	local_pipe_file(&f->req, "/dev/null", &r);
	assert_int_equal(r.result, QDEST_SENT);
	free(target);
	free(lnk);
	free(hard);
}

static void test_file_lock(void **state)
{
	struct fixture *f = *state;
	struct local_pipe_result r;
	char *path = must_asprintf("%s/locked", f->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct timespec t0, t1;
	struct stat st;

	/* A mail reader's lock (another open file description). */
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	f->req.time_limit = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	local_pipe_file(&f->req, path, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(r.result, QDEST_DEFERRED);
	assert_string_equal(r.dsn, "4.2.0");
	assert_true(strstr(r.text, "timed out waiting for the lock") != NULL);
	assert_true(t1.tv_sec - t0.tv_sec >= 1 && t1.tv_sec - t0.tv_sec < 4);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* Released: the next attempt goes through. */
	close(fd);
	local_pipe_file(&f->req, path, &r);
	assert_int_equal(r.result, QDEST_SENT);
	free(path);
}

#define THREADS 4
#define PER_THREAD 5

struct worker {
	struct fixture *f;
	char *mbox;
	int n;
	int sent;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct local_pipe_result r;
	char *cmd = must_asprintf("cat > %s/out-%d", w->f->dir, w->n);

	for (int i = 0; i < PER_THREAD; i++) {
		local_pipe_file(&w->f->req, w->mbox, &r);
		w->sent += r.result == QDEST_SENT;
		local_pipe_command(&w->f->req, cmd, &r);
		w->sent += r.result == QDEST_SENT;
	}
	free(cmd);
	return NULL;
}

/* Threads of one process appending to one mbox and running commands
 * side by side: every delivery succeeds and every message is whole and
 * separate. (The messages are small enough for one write each, so this
 * does not prove the lock; test_file_lock does that.) */
static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	char *got, *line, *expect;
	int froms = 0;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .f = f, .mbox = must_asprintf("%s/shared", f->dir), .n = i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].sent, 2 * PER_THREAD);
		free(w[i].mbox);
	}
	got = slurp(f->dir, "shared");
	expect = must_asprintf("\nReturn-Path: <a@example.com>\nDelivered-To: list+ext@example.com\n"
			       "Received: from x by y\nSubject: test\n\n>From me, with love\nXFrom is fine\n"
			       ">From stays\nlast line without end\n\n");
	for (line = got; (line = strstr(line, "From a@example.com ")) != NULL; line++) {
		assert_true(line == got || line[-1] == '\n');
		assert_true(str_has_prefix(strchr(line, '\n'), expect));
		froms++;
	}
	assert_int_equal(froms, THREADS * PER_THREAD);
	free(expect);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_command_stdin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_environment_and_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_tempfail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_sysexits_bounce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_died, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_time_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_ignores_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_mbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
