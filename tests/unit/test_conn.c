/*
 * test_conn.c - struct conn, server limits and listen_bind over real
 * sockets on 127.0.0.1 (see conn_harness.h for the echo protocol the
 * server side speaks and the threaded client).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/wait.h>

#include "conn_harness.h"

static int setup(void **state)
{
	struct harness *h = must_calloc(1, sizeof(*h));

	alarm(30);
	h_init(h);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;

	h_cleanup(h);
	free(h);
	alarm(0);
	return 0;
}

/* --- lines ----------------------------------------------------------------- */

static void client_lines(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	cl_puts(&cc, "HELLO\r\nBARE LF\n\r\nSPL");
	usleep(50000);
	cl_puts(&cc, "IT\r\nQUIT\r\n");
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_lines_crlf_and_lf(void **state)
{
	struct harness *h = *state;

	assert_int_equal(h_start(h), 0);
	h_run(h, client_lines, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h_received(h), "> HELLO\r\n> BARE LF\r\n> \r\n> SPLIT\r\n221 bye\r\n");
	assert_string_equal(h_events(h),
			    "ACCEPT:127.0.0.1|L:HELLO|L:BARE LF|L:|L:SPLIT|L:QUIT|CLOSE:closed|");
}

/* --- line too long, then recovery ------------------------------------------ */

static void client_too_long(struct harness *h)
{
	struct client_conn cc;
	char *big;

	if (cl_connect(h, &cc) < 0)
		return;
	/* exactly 16 is fine; 17 is too long; 17 with CR is too long */
	cl_puts(&cc, "0123456789abcdef\r\n0123456789abcdefg\r\n0123456789abcdefg\nOK1\r\n");
	/* 100 KB without LF: far beyond the input bound; must be dropped as
	 * it streams in and reported once */
	big = malloc(100 * 1024);
	memset(big, 'x', 100 * 1024);
	cl_send(&cc, big, 100 * 1024);
	free(big);
	cl_puts(&cc, "tail of the long line\r\nOK2\r\nQUIT\r\n");
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_line_too_long_recovers(void **state)
{
	struct harness *h = *state;

	h->max_line = 16;
	assert_int_equal(h_start(h), 0);
	h_run(h, client_too_long, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h_received(h),
			    "> 0123456789abcdef\r\n500 too long\r\n500 too long\r\n> OK1\r\n"
			    "500 too long\r\n> OK2\r\n221 bye\r\n");
	assert_string_equal(h_events(h),
			    "ACCEPT:127.0.0.1|L:0123456789abcdef|TOOLONG|TOOLONG|L:OK1|TOOLONG|L:OK2|L:QUIT|CLOSE:closed|");
}

/* --- pipelining with pause/resume ------------------------------------------ */

static void client_pipeline(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	cl_puts(&cc, "PAUSE\r\nA\r\nB\r\nPAUSE\r\nC\r\nQUIT\r\n");
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_pipelined_pause_resume(void **state)
{
	struct harness *h = *state;

	assert_int_equal(h_start(h), 0);
	h_run(h, client_pipeline, 10);
	assert_false(h->watchdog_fired);
	assert_false(h->violation);
	assert_string_equal(h_events(h),
			    "ACCEPT:127.0.0.1|L:PAUSE|RESUME|L:A|L:B|L:PAUSE|RESUME|L:C|L:QUIT|CLOSE:closed|");
	assert_string_equal(h_received(h), "> A\r\n> B\r\n> C\r\n221 bye\r\n");
}

/* --- direct output (conn_set_direct_output): same bytes, same order -------------- */

static void test_direct_output_lines(void **state)
{
	struct harness *h = *state;

	h->direct_output = true;
	test_lines_crlf_and_lf(state);
}

static void test_direct_output_pipelined(void **state)
{
	struct harness *h = *state;

	h->direct_output = true;
	test_pipelined_pause_resume(state);
}

/* --- raw byte mode ------------------------------------------------------------ */

static void client_raw(struct harness *h)
{
	struct client_conn cc;
	size_t i, n = 100000;
	char *data;

	if (cl_connect(h, &cc) < 0)
		return;
	data = malloc(n);
	for (i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	/* the command, the data and the next command in one stream: the
	 * bytes after the count must go back to line mode */
	cl_puts(&cc, "DATA 100000\r\n");
	cl_send(&cc, data, n);
	cl_puts(&cc, "AFTER\r\nDATA 0\r\nDATA 3\r\nabcQUIT\r\n");
	free(data);
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_raw_bytes(void **state)
{
	struct harness *h = *state;
	char expect[200];
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < 100000; i++)
		sum += (unsigned long)('a' + i % 26);
	snprintf(expect, sizeof(expect), "OK 100000 %lu\r\n> AFTER\r\nOK 0 0\r\nOK 3 294\r\n221 bye\r\n", sum);
	assert_int_equal(h_start(h), 0);
	h_run(h, client_raw, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h_received(h), expect);
	assert_string_equal(h_events(h),
			    "ACCEPT:127.0.0.1|L:DATA 100000|RAW:100000:ok|L:AFTER|L:DATA 0|RAW:0:ok|"
			    "L:DATA 3|RAW:3:ok|L:QUIT|CLOSE:closed|");
}

/* --- timeout ------------------------------------------------------------------ */

static void client_idle(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	cl_puts(&cc, "X\r\n");
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_idle_timeout(void **state)
{
	struct harness *h = *state;

	h->timeout = 1;
	assert_int_equal(h_start(h), 0);
	h_run(h, client_idle, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h_received(h), "> X\r\n421 timeout\r\n");
	assert_string_equal(h_events(h), "ACCEPT:127.0.0.1|L:X|TIMEOUT|CLOSE:timeout|");
}

/* --- close after flush: commands after QUIT are not run, reply arrives --------- */

static void client_quit_extra(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	/* a big reply before QUIT must be flushed entirely before the close */
	cl_puts(&cc, "FLOOD 200\r\nQUIT\r\nEXTRA\r\n");
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_close_after_flush(void **state)
{
	struct harness *h = *state;
	const char *r;

	assert_int_equal(h_start(h), 0);
	h_run(h, client_quit_extra, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h_events(h), "ACCEPT:127.0.0.1|L:FLOOD 200|L:QUIT|CLOSE:closed|");
	r = h_received(h);
	assert_int_equal(strlen(r), 200 * 1024 + strlen("221 bye\r\n"));
	assert_string_equal(r + 200 * 1024, "221 bye\r\n");
}

/* 200 KiB queued at once with direct output: the socket takes part at
 * once, the rest follows through the buffer, then "221 bye", in order. */
static void test_direct_output_close_after_flush(void **state)
{
	struct harness *h = *state;

	h->direct_output = true;
	test_close_after_flush(state);
}

/* --- EOF after pipelined lines: the lines are still handled --------------------- */

static void client_eof(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	cl_puts(&cc, "PAUSE\r\nA\r\nB\r\npartial");
	shutdown(cc.fd, SHUT_WR);
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_eof_after_pipeline(void **state)
{
	struct harness *h = *state;

	assert_int_equal(h_start(h), 0);
	h_run(h, client_eof, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h_events(h), "ACCEPT:127.0.0.1|L:PAUSE|RESUME|L:A|L:B|CLOSE:eof|");
	assert_string_equal(h_received(h), "> A\r\n> B\r\n");
}

/* --- output limit: a client that does not read is disconnected ----------------- */

static void client_flood(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	cl_puts(&cc, "FLOOD 1024\r\n");
	/* read nothing until the server gave up, then drain */
	usleep(200000);
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_output_limit(void **state)
{
	struct harness *h = *state;

	h->output_limit = 64 * 1024;
	assert_int_equal(h_start(h), 0);
	h_run(h, client_flood, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h_events(h), "ACCEPT:127.0.0.1|L:FLOOD 1024|WRITE-FAILED:64|CLOSE:output limit|");
}

/* --- streaming with on_drained under a small output limit --------------------- */

static void client_stream(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	cl_puts(&cc, "STREAM 2048\r\n");
	h->client_flags = cl_wait_for(&cc, "\r\nEND\r\n");
	snprintf(h->client_note, sizeof(h->client_note), "%zu", cc.in.len);
	cl_puts(&cc, "QUIT\r\n");
	cl_read_eof(&cc);
	strbuf_reset(&cc.in);
	cl_finish(h, &cc);
}

static void test_stream_on_drained(void **state)
{
	struct harness *h = *state;

	h->output_limit = 64 * 1024;
	assert_int_equal(h_start(h), 0);
	h_run(h, client_stream, 10);
	assert_false(h->watchdog_fired);
	assert_false(h->violation);
	assert_true(h->client_flags);
	/* 2 MiB through a 64 KiB output buffer */
	assert_string_equal(h->client_note, "2097159");
	assert_string_equal(h_events(h), "ACCEPT:127.0.0.1|L:STREAM 2048|STREAMED|L:QUIT|CLOSE:closed|");
}

/* --- freeing the conn inside on_line: no further callbacks ---------------------- */

static void client_kill(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	cl_puts(&cc, "A\r\nKILL\r\nB\r\nC\r\n");
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_free_inside_callback(void **state)
{
	struct harness *h = *state;

	assert_int_equal(h_start(h), 0);
	h_run(h, client_kill, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h_events(h), "ACCEPT:127.0.0.1|L:A|L:KILL|");
	assert_int_equal(server_conn_count(h->server), 0);
}

/* --- connection limits ------------------------------------------------------------ */

static void client_limit_total(struct harness *h)
{
	struct client_conn a, b, c, d;
	bool ok;

	if (cl_connect(h, &a) < 0 || !cl_wait_for(&a, "220 hi\r\n"))
		return;
	if (cl_connect(h, &b) < 0 || !cl_wait_for(&b, "220 hi\r\n"))
		return;
	/* third: over connection_limit = 2 */
	if (cl_connect(h, &c) < 0)
		return;
	ok = cl_read_eof(&c);
	snprintf(h->client_note, sizeof(h->client_note), "third:%s:%s", ok ? "eof" : "noeof",
		 c.in.data != NULL ? c.in.data : "");
	cl_finish(h, &c);
	/* after one leaves, a new one is welcome again */
	cl_puts(&a, "QUIT\r\n");
	cl_read_eof(&a);
	cl_finish(h, &a);
	usleep(100000);
	if (cl_connect(h, &d) < 0)
		return;
	h->client_flags = cl_wait_for(&d, "220 hi\r\n");
	cl_puts(&d, "QUIT\r\n");
	cl_read_eof(&d);
	cl_finish(h, &d);
	cl_puts(&b, "QUIT\r\n");
	cl_read_eof(&b);
	cl_finish(h, &b);
}

static void test_connection_limit(void **state)
{
	struct harness *h = *state;

	h->limits.max_conns = 2;
	h->greeting = true;
	assert_int_equal(h_start(h), 0);
	h_run(h, client_limit_total, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h->client_note, "third:eof:421 4.3.2 Service busy\r\n");
	assert_true(h->client_flags);
	assert_non_null(strstr(h_events(h), "BUSY:total"));
	assert_int_equal(server_conn_count(h->server), 0);
	assert_int_equal(server_client_count(h->server, "127.0.0.1"), 0);
}

static void client_limit_per_ip(struct harness *h)
{
	struct client_conn a, b, c, d;
	bool ok;

	if (cl_connect(h, &a) < 0 || !cl_wait_for(&a, "220 hi\r\n"))
		return;
	if (cl_connect(h, &b) < 0 || !cl_wait_for(&b, "220 hi\r\n"))
		return;
	if (cl_connect(h, &c) < 0)
		return;
	ok = cl_read_eof(&c);
	snprintf(h->client_note, sizeof(h->client_note), "third:%s:%s", ok ? "eof" : "noeof",
		 c.in.data != NULL ? c.in.data : "");
	cl_finish(h, &c);
	/* another address is not affected (all of 127/8 is loopback) */
	if (cl_connect_from(h, &d, "127.0.0.2") < 0)
		return;
	h->client_flags = cl_wait_for(&d, "220 hi\r\n");
	cl_puts(&d, "QUIT\r\n");
	cl_read_eof(&d);
	cl_finish(h, &d);
	cl_puts(&a, "QUIT\r\n");
	cl_read_eof(&a);
	cl_finish(h, &a);
	cl_puts(&b, "QUIT\r\n");
	cl_read_eof(&b);
	cl_finish(h, &b);
}

static void test_client_connection_limit(void **state)
{
	struct harness *h = *state;

	h->limits.max_conns = 10;
	h->limits.max_per_ip = 2;
	h->greeting = true;
	assert_int_equal(h_start(h), 0);
	h_run(h, client_limit_per_ip, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h->client_note,
			    "third:eof:421 4.7.0 Error: too many connections from 127.0.0.1\r\n");
	assert_true(h->client_flags);
	assert_non_null(strstr(h_events(h), "BUSY:client"));
	assert_non_null(strstr(h_events(h), "ACCEPT:127.0.0.2"));
	assert_int_equal(server_conn_count(h->server), 0);
}

/* --- listen_bind ------------------------------------------------------------------ */

static void test_listen_bind_in_use(void **state)
{
	char *error = NULL, expect[300];
	int fd1, fd2, port;

	(void)state;
	assert_int_equal(listen_bind("127.0.0.1", 0, &fd1, &error), 0);
	port = listen_local_port(fd1);
	assert_true(port > 0);
	assert_int_equal(listen_bind("127.0.0.1", port, &fd2, &error), -1);
	snprintf(expect, sizeof(expect),
		 "cannot listen on 127.0.0.1:%d: Address already in use; another program (maybe Postfix, "
		 "exim or an earlier posternd) is using the port: stop it or change the port", port);
	assert_string_equal(error, expect);
	assert_int_equal(fd2, -1);
	free(error);
	close(fd1);
}

static void test_listen_bind_wildcard_and_bad_address(void **state)
{
	char *error = NULL;
	int fd;

	(void)state;
	assert_int_equal(listen_bind("*", 0, &fd, &error), 0);
	assert_true(listen_local_port(fd) > 0);
	close(fd);
	assert_int_equal(listen_bind("mail.example.com", 25, &fd, &error), -1);
	assert_string_equal(error, "cannot listen on mail.example.com:25: \"mail.example.com\" is not an "
			    "IP address; use *, an IPv4 address or an IPv6 address");
	free(error);
}

/* As root the bind would succeed, so try it from a child that dropped to
 * nobody; the child sends the error text back through a pipe. */
static void test_listen_bind_privileged_port(void **state)
{
	char buf[400] = "", *error = NULL;
	int pfd[2], fd, status;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		if (listen_bind("127.0.0.1", 1, &fd, &error) == 0)
			_exit(3); /* CAP_NET_BIND_SERVICE or ip_unprivileged_port_start <= 1 */
		if (write(pfd[1], error, strlen(error)) < 0)
			_exit(4);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
		return; /* this host lets anyone bind low ports: nothing to test */
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "cannot listen on 127.0.0.1:1: Permission denied; ports below 1024 need "
			    "root: start posternd as root or use postern init --port-base");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_crlf_and_lf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_too_long_recovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_pause_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_after_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_output_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_output_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_output_close_after_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_after_pipeline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_on_drained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_inside_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_connection_limit, setup, teardown),
		cmocka_unit_test(test_listen_bind_in_use),
		cmocka_unit_test(test_listen_bind_wildcard_and_bad_address),
		cmocka_unit_test(test_listen_bind_privileged_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
