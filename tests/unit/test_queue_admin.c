/*
 * test_queue_admin.c - the queue tools' work on a temporary queue
 * (smtp/queue/queue-admin.h): postsuper's delete/hold/release/requeue on
 * one id and on ALL (with a queue name, with messages the queue role
 * keeps for itself), the mailq listing compared with Postfix's exact
 * layout for fixed arrival times, postcat's output, and the control
 * client's "not running" answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smtp/queue-file.h"
#include "smtp/queue/queue-admin.h"
#include "util.h"

static char *make_queue(void)
{
	char tmpl[] = "/tmp/test-qadmin-XXXXXX";
	char *d = mkdtemp(tmpl), *err = NULL;

	assert_non_null(d);
	d = must_strdup(d);
	assert_int_equal(qdir_ensure(d, &err), 0);
	return d;
}

static void remove_tree(char *dir)
{
	char *cmd = must_asprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
}

/* put_msg - a real queue file, renamed to id in queue d (fixed ids make
 * the listing comparable); the writer's id goes to wid when not NULL. */
static void put_msg(const char *dir, enum qdir d, const char *id, time_t arrival, const char *sender,
		    const char *const *rcpts, size_t n, size_t size, char *wid)
{
	struct queue_rcpt r[8];
	struct queue_envelope env = {
		.arrival = { arrival, 0 }, .sender = sender, .client_name = "unknown",
		.client_addr = "192.0.2.1", .proto = "ESMTP", .rcpts = r, .n_rcpts = n,
	};
	const char *err = NULL;
	char tmp[QUEUE_ID_SIZE];
	char *body = must_malloc(size + 1);
	struct queue_file *qf;

	memset(r, 0, sizeof(r));
	for (size_t i = 0; i < n; i++)
		r[i].addr = rcpts[i];
	memset(body, 'x', size);
	if (size >= 16)
		memcpy(body, "Subject: t\r\n\r\nxx", 16);
	body[size] = '\0';
	qf = queue_file_create(dir, tmp, &err);
	assert_non_null(qf);
	assert_int_equal(queue_file_envelope(qf, &env, &err), 0);
	assert_int_equal(queue_file_write(qf, body, size, &err), 0);
	assert_int_equal(queue_file_commit(&qf, &err), 0);
	free(body);
	char *from = must_asprintf("%s/active/%s", dir, tmp);
	char *to = must_asprintf("%s/%s/%s", dir, qdir_name(d), id);
	assert_int_equal(rename(from, to), 0);
	free(from);
	free(to);
	if (wid != NULL)
		memcpy(wid, tmp, QUEUE_ID_SIZE);
}

static int open_msg(const char *dir, enum qdir d, const char *id)
{
	char *p = must_asprintf("%s/%s/%s", dir, qdir_name(d), id);
	int fd = open(p, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	free(p);
	return fd;
}

static struct qmsg *read_msg(const char *dir, enum qdir d, const char *id, int *fd_r)
{
	struct qmsg *m = NULL;
	char *err = NULL;
	int fd = open_msg(dir, d, id);

	assert_int_equal(qmsg_read(fd, id, d, &m, &err), 0);
	if (fd_r != NULL)
		*fd_r = fd;
	else
		close(fd);
	return m;
}

static bool in(const char *dir, enum qdir d, const char *id)
{
	char *p = must_asprintf("%s/%s/%s", dir, qdir_name(d), id);
	bool r = access(p, F_OK) == 0;

	free(p);
	return r;
}

static char *listing(const char *dir, int *n_r)
{
	char *buf = NULL, *err = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*n_r = queue_admin_list(dir, f, &err);
	fclose(f);
	return buf;
}

static const char *const one[] = { "bob@example.net" };
static const char *const two[] = { "carol@example.org", "dave@example.org" };
static const char *const three[] = { "erin@example.com", "frank@example.com", "grace@example.com" };

static void setup_three(const char *dir)
{
	int fd;
	char *err = NULL;
	struct qmsg *m;

	/* Active, expanded, deferred once with a long reason. */
	put_msg(dir, QDIR_ACTIVE, "3F2A9C01B7E4", 1764082801, "alice@example.org", one, 1, 1234, NULL);
	m = read_msg(dir, QDIR_ACTIVE, "3F2A9C01B7E4", &fd);
	const struct qdest_new d1[] = { { 0, QDEST_ADDR, NULL, "bob@example.net" } };
	const struct qstatus s1[] = { { 0, QDEST_DEFERRED, "4.2.0", "mx.example.net[192.0.2.7]:25",
					"smtp; 450 4.2.0 try later",
					"host mx.example.net[192.0.2.7] said: 450 4.2.0 try later (in reply to RCPT TO command)" } };
	assert_int_equal(qmsg_append_expansion(fd, m, NULL, d1, 1, s1, 1, &err), 0);
	qmsg_free(&m);
	close(fd);
	/* Held, never expanded, from the null sender; the oldest. */
	put_msg(dir, QDIR_HOLD, "0000000000B1", 1764000000, "", two, 2, 100, NULL);
	/* Deferred: one sent (not listed), two with different reasons. */
	put_msg(dir, QDIR_DEFERRED, "ABCDEF012345", 1764090000, "henry@example.net", three, 3, 3000, NULL);
	m = read_msg(dir, QDIR_DEFERRED, "ABCDEF012345", &fd);
	const struct qdest_new d3[] = {
		{ 0, QDEST_ADDR, NULL, "erin@example.com" },
		{ 1, QDEST_ADDR, NULL, "frank@example.com" },
		{ 2, QDEST_ADDR, NULL, "grace@example.com" },
	};
	const struct qstatus s3[] = {
		{ 0, QDEST_SENT, "2.0.0", "local", "", "delivered" },
		{ 1, QDEST_DEFERRED, "4.4.1", "none", "", "connection refused" },
		{ 2, QDEST_DEFERRED, "4.4.1", "none", "", "connection refused" },
	};
	assert_int_equal(qmsg_append_expansion(fd, m, NULL, d3, 3, s3, 3, &err), 0);
	assert_int_equal(qmsg_append_deferred(fd, m, 1764090100, 1764090400, &err), 0);
	qmsg_free(&m);
	close(fd);
}

static void test_list_layout(void **state)
{
	char *dir = make_queue(), *out;
	int n;

	(void)state;
	out = listing(dir, &n);
	assert_int_equal(n, 0);
	assert_string_equal(out, "Mail queue is empty\n");
	free(out);
	setup_three(dir);
	out = listing(dir, &n);
	assert_int_equal(n, 3);
	assert_string_equal(out,
		"-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
		"0000000000B1!     100 Mon Nov 24 16:00:00  MAILER-DAEMON\n"
		"                                         carol@example.org\n"
		"                                         dave@example.org\n"
		"\n"
		"3F2A9C01B7E4*    1234 Tue Nov 25 15:00:01  alice@example.org\n"
		"(host mx.example.net[192.0.2.7] said: 450 4.2.0 try later (in reply to RCPT TO command))\n"
		"                                         bob@example.net\n"
		"\n"
		"ABCDEF012345     3000 Tue Nov 25 17:00:00  henry@example.net\n"
		"                                                          (connection refused)\n"
		"                                         frank@example.com\n"
		"                                         grace@example.com\n"
		"\n"
		"-- 4 Kbytes in 3 Requests.\n");
	free(out);

	/* One corrupt file: skipped (a line on stderr), the rest listed. */
	FILE *f;
	char *p = must_asprintf("%s/deferred/0123456789AB", dir);
	assert_non_null(f = fopen(p, "w"));
	fputs("garbage\n", f);
	fclose(f);
	free(p);
	out = listing(dir, &n);
	assert_int_equal(n, 3);
	free(out);
	remove_tree(dir);
}

static void test_list_one_request(void **state)
{
	char *dir = make_queue(), *out;
	int n;

	(void)state;
	put_msg(dir, QDIR_DEFERRED, "3F2A9C01B7E4", 1764082801, "alice@example.org", one, 1, 500, NULL);
	out = listing(dir, &n);
	assert_int_equal(n, 1);
	assert_string_equal(out,
		"-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
		"3F2A9C01B7E4      500 Tue Nov 25 15:00:01  alice@example.org\n"
		"                                         bob@example.net\n"
		"\n"
		"-- 0 Kbytes in 1 Request.\n");
	free(out);
	remove_tree(dir);
}

static bool skip_b1(void *ctx, const char *id)
{
	(*(int *)ctx)++;
	return strcmp(id, "0000000000B1") == 0;
}

static void test_apply(void **state)
{
	char *dir = make_queue(), *err = NULL;
	struct stat st;
	int calls = 0;
	struct qmsg *m;

	(void)state;
	setup_three(dir);
	/* Bad ids and missing messages. */
	assert_int_equal(queue_admin_apply(dir, QADMIN_DELETE, "nope", QDIR_COUNT, NULL, NULL, &err), -1);
	assert_string_equal(err, "nope: not a queue id (12 upper-case hex digits, or ALL)");
	x_free(&err);
	assert_int_equal(queue_admin_apply(dir, QADMIN_DELETE, "0123456789AB", QDIR_COUNT, NULL, NULL, &err), -1);
	assert_string_equal(err, "0123456789AB: no such message in the queue");
	x_free(&err);
	assert_int_equal(queue_admin_apply(dir, QADMIN_DELETE, "3F2A9C01B7E4", QDIR_HOLD, NULL, NULL, &err), -1);
	assert_string_equal(err, "3F2A9C01B7E4: no such message in the hold queue");
	x_free(&err);
	/* Release of a message that is not on hold: nothing to do. */
	assert_int_equal(queue_admin_apply(dir, QADMIN_RELEASE, "3F2A9C01B7E4", QDIR_COUNT, NULL, NULL, &err), 0);
	assert_true(in(dir, QDIR_ACTIVE, "3F2A9C01B7E4"));

	/* hold ALL: active and deferred go to hold/. */
	assert_int_equal(queue_admin_apply(dir, QADMIN_HOLD, "ALL", QDIR_COUNT, NULL, NULL, &err), 2);
	assert_true(in(dir, QDIR_HOLD, "3F2A9C01B7E4"));
	assert_true(in(dir, QDIR_HOLD, "ABCDEF012345"));
	assert_true(in(dir, QDIR_HOLD, "0000000000B1"));
	/* release ALL, with one message kept by the "queue role". */
	time_t before = time(NULL);
	assert_int_equal(queue_admin_apply(dir, QADMIN_RELEASE, "ALL", QDIR_COUNT, skip_b1, &calls, &err), 2);
	assert_int_equal(calls, 3);
	assert_true(in(dir, QDIR_HOLD, "0000000000B1"));
	assert_true(in(dir, QDIR_DEFERRED, "3F2A9C01B7E4"));
	char *p = must_asprintf("%s/deferred/ABCDEF012345", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_mtime >= before && st.st_mtime <= time(NULL));   /* due now */
	free(p);
	/* release one */
	assert_int_equal(queue_admin_apply(dir, QADMIN_RELEASE, "0000000000B1", QDIR_COUNT, NULL, NULL, &err), 1);
	assert_true(in(dir, QDIR_DEFERRED, "0000000000B1"));
	/* hold one */
	assert_int_equal(queue_admin_apply(dir, QADMIN_HOLD, "0000000000B1", QDIR_COUNT, NULL, NULL, &err), 1);
	assert_true(in(dir, QDIR_HOLD, "0000000000B1"));

	/* requeue one: back in active/, not final dests dropped, expanded again later. */
	assert_int_equal(queue_admin_apply(dir, QADMIN_REQUEUE, "ABCDEF012345", QDIR_COUNT, NULL, NULL, &err), 1);
	assert_true(in(dir, QDIR_ACTIVE, "ABCDEF012345"));
	m = read_msg(dir, QDIR_ACTIVE, "ABCDEF012345", NULL);
	assert_false(m->expanded);
	assert_int_equal(m->n_dests, 1);
	assert_string_equal(m->dests[0].value, "erin@example.com");
	qmsg_free(&m);
	/* requeue ALL deferred only */
	assert_int_equal(queue_admin_apply(dir, QADMIN_REQUEUE, "ALL", QDIR_DEFERRED, NULL, NULL, &err), 1);
	assert_true(in(dir, QDIR_ACTIVE, "3F2A9C01B7E4"));
	assert_true(in(dir, QDIR_HOLD, "0000000000B1"));

	/* delete one, then ALL of hold, then ALL. */
	assert_int_equal(queue_admin_apply(dir, QADMIN_DELETE, "3F2A9C01B7E4", QDIR_COUNT, NULL, NULL, &err), 1);
	assert_false(in(dir, QDIR_ACTIVE, "3F2A9C01B7E4"));
	assert_int_equal(queue_admin_apply(dir, QADMIN_DELETE, "ALL", QDIR_HOLD, NULL, NULL, &err), 1);
	assert_false(in(dir, QDIR_HOLD, "0000000000B1"));
	assert_int_equal(queue_admin_apply(dir, QADMIN_DELETE, "ALL", QDIR_COUNT, NULL, NULL, &err), 1);
	assert_int_equal(queue_admin_apply(dir, QADMIN_DELETE, "ALL", QDIR_COUNT, NULL, NULL, &err), 0);
	int n;
	char *out = listing(dir, &n);
	assert_string_equal(out, "Mail queue is empty\n");
	free(out);
	remove_tree(dir);
}

static void test_cat(void **state)
{
	char *dir = make_queue(), *err = NULL, *buf = NULL, wid[QUEUE_ID_SIZE], *expect;
	size_t len = 0;
	FILE *f;
	int fd;
	struct qmsg *m;

	(void)state;
	put_msg(dir, QDIR_DEFERRED, "3F2A9C01B7E4", 1764082801, "alice@example.org", one, 1, 20, wid);
	m = read_msg(dir, QDIR_DEFERRED, "3F2A9C01B7E4", &fd);
	assert_int_equal(qmsg_append_warned(fd, m, &err), 0);
	qmsg_free(&m);
	close(fd);
	assert_non_null(f = open_memstream(&buf, &len));
	assert_int_equal(queue_admin_cat(dir, "3F2A9C01B7E4", f, &err), 0);
	fclose(f);
	expect = must_asprintf("*** ENVELOPE RECORDS deferred/3F2A9C01B7E4 ***\n"
			       "message_size: 20\n"
			       "id: %s\n"
			       "message_arrival_time: Tue Nov 25 15:00:01 2025\n"
			       "arrival: 1764082801.000000\n"
			       "sender: alice@example.org\n"
			       "client_name: unknown\n"
			       "client_addr: 192.0.2.1\n"
			       "proto: ESMTP\n"
			       "rcpt: bob@example.net\n"
			       "*** MESSAGE CONTENTS deferred/3F2A9C01B7E4 ***\n"
			       "Subject: t\n"
			       "\n"
			       "xxxxxx\n"
			       "*** HEADER EXTRACTED deferred/3F2A9C01B7E4 ***\n"
			       "warned: \n"
			       "*** MESSAGE FILE END deferred/3F2A9C01B7E4 ***\n",
			       wid);
	assert_string_equal(buf, expect);
	free(expect);
	free(buf);
	assert_int_equal(queue_admin_cat(dir, "0123456789AB", stdout, &err), -1);
	assert_string_equal(err, "0123456789AB: no such message in the queue");
	free(err);
	remove_tree(dir);
}

static void test_control_not_running(void **state)
{
	char reply[64], *err = NULL;
	char *dir = make_queue();
	char *sock = must_asprintf("%s/queue.sock", dir);

	(void)state;
	assert_int_equal(queue_control_request(sock, "FLUSH", reply, sizeof(reply), &err), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	x_free(&err);
	/* A socket nobody listens on: refused, also "not running". */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	str_copy(sun.sun_path, sock, sizeof(sun.sun_path));
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(queue_control_request(sock, "FLUSH", reply, sizeof(reply), &err), -1);
	assert_non_null(strstr(err, "Connection refused"));
	x_free(&err);
	free(sock);
	remove_tree(dir);
}

/* A listening socket answered by a child: the reply comes back whole. */
static void test_control_reply(void **state)
{
	char reply[64], *err = NULL;
	char *dir = make_queue();
	char *sock = must_asprintf("%s/queue.sock", dir);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	pid_t pid;

	(void)state;
	str_copy(sun.sun_path, sock, sizeof(sun.sun_path));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char line[64];
		int c = accept(lfd, NULL, NULL);
		ssize_t n = read(c, line, sizeof(line) - 1);
		int ok = n == 13 && memcmp(line, "DELETE ALL x\n", 13) == 0;
		if (write(c, ok ? "OK 3\n" : "ERR bad\n", ok ? 5 : 8) < 0)
			_exit(1);
		close(c);
		_exit(0);
	}
	close(lfd);
	assert_int_equal(queue_control_request(sock, "DELETE ALL x", reply, sizeof(reply), &err), 0);
	assert_string_equal(reply, "OK 3");
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	free(sock);
	remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_layout),
		cmocka_unit_test(test_list_one_request),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_cat),
		cmocka_unit_test(test_control_not_running),
		cmocka_unit_test(test_control_reply),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
