/*
 * test_pickup.c - the pickup socket end to end (smtp/queue/pickup*.c): a
 * pickup server on a real libevent loop and a unix socket in a temporary
 * directory, with a temporary queue; pickup_submit() (sendmail's client)
 * or a raw client runs on a thread while the loop serves it. Each queued
 * file is read back from active/ and its records checked: envelope
 * (sender, recipients, proto local, sasl_username the login name),
 * headers added only when missing, -t extraction with groups, comments,
 * folded lines and Bcc: removal, the lone-dot rule with and without -i,
 * CR LF line ends; refusals carry their exact texts (too big, bad
 * address, garbage requests) and leave nothing in incoming/ or active/,
 * as does a client that goes away early, or one too many at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "smtp/queue-file.h"
#include "smtp/queue/pickup-private.h"
#include "smtp/queue/pickup.h"
#include "util.h"

struct fixture {
	char *dir, *sock_path;
	struct event_base *base;
	struct config *cfg;
	struct queue_dir *qd;
	struct pickup *p;
	int listen_fd;
	int queued;
	char last_queued[QUEUE_ID_SIZE];
	char login[64];
};

static void on_queued(void *ctx, const char *id)
{
	struct fixture *f = ctx;

	f->queued++;
	str_copy(f->last_queued, id, sizeof(f->last_queued));
}

static const char conf_text[] =
	"myhostname = mail.example.com\n"
	"mydomain = example.com\n"
	"myorigin = example.com\n"
	"message_size_limit = 100000\n"
	"smtpd_recipient_limit = 5\n";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/test-pickup-XXXXXX";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *err;
	char *error = NULL;
	struct passwd *pw = getpwuid(getuid());

	assert_non_null(f);
	assert_non_null(pw);
	str_copy(f->login, pw->pw_name, sizeof(f->login));
	assert_non_null(mkdtemp(tmpl));
	f->dir = must_strdup(tmpl);
	for (const char *const *sub = (const char *const[]){ "incoming", "active", "hold", NULL }; *sub; sub++) {
		char *p = must_asprintf("%s/%s", f->dir, *sub);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
	}
	f->qd = queue_dir_open(f->dir, &err);
	assert_non_null(f->qd);
	f->cfg = config_parse("test.conf", conf_text, strlen(conf_text), NULL, NULL);
	assert_non_null(f->cfg);
	f->sock_path = must_asprintf("%s/pickup", f->dir);
	str_copy(sun.sun_path, f->sock_path, sizeof(sun.sun_path));
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->listen_fd >= 0);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(f->listen_fd, 16), 0);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->p = pickup_new(f->base, f->listen_fd, f->qd, f->cfg, on_queued, f, &error);
	if (f->p == NULL)
		fail_msg("pickup_new: %s", error);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = must_asprintf("rm -rf '%s'", f->dir);

	pickup_free(&f->p);
	assert_null(f->p);
	close(f->listen_fd);
	queue_dir_free(&f->qd);
	config_free(&f->cfg);
	event_base_free(f->base);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->sock_path);
	free(f->dir);
	free(f);
	return 0;
}

/* ---- running a client on a thread while the loop serves it ---- */

struct client {
	struct fixture *f;
	int done_pipe[2];
	/* pickup_submit */
	struct pickup_submission sub;
	const char *msg;
	int rc;
	char id[QUEUE_ID_SIZE];
	char *error;
	/* raw */
	const char *raw;
	size_t raw_len;
	bool raw_close_early;   /* close without reading the answer */
	char answer[1024];
};

static void *submit_thread(void *arg)
{
	struct client *c = arg;

	if (c->raw) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		size_t len = 0;
		ssize_t n;

		str_copy(sun.sun_path, c->f->sock_path, sizeof(sun.sun_path));
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			n = send(fd, c->raw, c->raw_len, MSG_NOSIGNAL);
			(void)n;
			if (!c->raw_close_early) {
				shutdown(fd, SHUT_WR);
				while (len + 1 < sizeof(c->answer) &&
				       (n = recv(fd, c->answer + len, sizeof(c->answer) - 1 - len, 0)) > 0)
					len += (size_t)n;
			}
		}
		c->answer[len] = '\0';
		close(fd);
	} else {
		FILE *in = fmemopen((void *)c->msg, strlen(c->msg), "r");
		c->sub.message = in;
		c->rc = pickup_submit(c->f->sock_path, &c->sub, c->id, &c->error);
		fclose(in);
	}
	if (write(c->done_pipe[1], "x", 1) != 1)
		abort();
	return NULL;
}

static void client_done(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void run_client(struct fixture *f, struct client *c)
{
	pthread_t t;
	struct event *ev;
	struct timeval settle = { 0, 100000 };

	c->f = f;
	assert_int_equal(pipe(c->done_pipe), 0);
	ev = event_new(f->base, c->done_pipe[0], EV_READ, client_done, f->base);
	event_add(ev, NULL);
	assert_int_equal(pthread_create(&t, NULL, submit_thread, c), 0);
	event_base_dispatch(f->base);
	pthread_join(t, NULL);
	/* Let the server see the close and clean up after it. */
	event_base_loopexit(f->base, &settle);
	event_base_dispatch(f->base);
	event_free(ev);
	close(c->done_pipe[0]);
	close(c->done_pipe[1]);
}

static int submit(struct fixture *f, struct client *c, const char *msg)
{
	c->msg = msg;
	run_client(f, c);
	return c->rc;
}

/* ---- reading a queue file back ---- */

struct qfile {
	char *text;
	size_t len;
	char *names[64], *values[64];
	int n;
	const char *content;
	size_t content_len;
};

static int count_dir(struct fixture *f, const char *sub)
{
	char *p = must_asprintf("%s/%s", f->dir, sub);
	DIR *d = opendir(p);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	free(p);
	return n;
}

static void read_queued(struct fixture *f, const char *id, struct qfile *q)
{
	char *path = must_asprintf("%s/active/%s", f->dir, id);
	const char *err, *p, *end;

	memset(q, 0, sizeof(*q));
	q->text = file_read_all(path, 1 << 20, &q->len, &err);
	if (q->text == NULL)
		fail_msg("%s: %s", path, err);
	free(path);
	assert_memory_equal(q->text, QUEUE_FILE_MAGIC, strlen(QUEUE_FILE_MAGIC));
	p = q->text + strlen(QUEUE_FILE_MAGIC);
	end = q->text + q->len;
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		char *colon;
		unsigned long vlen;

		assert_non_null(sp);
		if ((size_t)(sp - p) == 7 && memcmp(p, "message", 7) == 0) {
			unsigned long size = strtoul(sp + 1, NULL, 10);
			q->content = sp + 1 + 15 + 1;
			q->content_len = (size_t)(end - q->content);
			assert_int_equal(size, q->content_len);
			return;
		}
		vlen = strtoul(sp + 1, &colon, 10);
		assert_int_equal(*colon, ':');
		assert_true(q->n < 64);
		q->names[q->n] = must_strndup(p, (size_t)(sp - p));
		q->values[q->n] = must_strndup(colon + 1, vlen);
		q->n++;
		p = colon + 1 + vlen;
		assert_int_equal(*p, '\n');
		p++;
	}
	fail_msg("no message record");
}

static const char *rec(const struct qfile *q, const char *name, int nth)
{
	for (int i = 0; i < q->n; i++)
		if (strcmp(q->names[i], name) == 0 && nth-- == 0)
			return q->values[i];
	return NULL;
}

static void qfile_free(struct qfile *q)
{
	for (int i = 0; i < q->n; i++) {
		free(q->names[i]);
		free(q->values[i]);
	}
	free(q->text);
}

/* The content as a string (it has no NUL). */
static char *content(const struct qfile *q)
{
	return must_strndup(q->content, q->content_len);
}

/* ---- tests ---- */

static void test_basic_submit(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@example.net" };
	struct client c = { .sub = { .sender = "alice@example.org", .rcpts = rcpts, .n_rcpts = 1 } };
	struct qfile q;
	char *text, *expect;

	assert_int_equal(submit(f, &c, "Subject: hi\nFrom: Alice <alice@example.org>\n\nhello\n"), 0);
	assert_null(c.error);
	assert_int_equal(strlen(c.id), 12);
	assert_int_equal(f->queued, 1);
	assert_string_equal(f->last_queued, c.id);
	assert_int_equal(count_dir(f, "active"), 1);
	assert_int_equal(count_dir(f, "incoming"), 0);
	read_queued(f, c.id, &q);
	assert_string_equal(rec(&q, "id", 0), c.id);
	assert_string_equal(rec(&q, "sender", 0), "alice@example.org");
	assert_string_equal(rec(&q, "rcpt", 0), "bob@example.net");
	assert_null(rec(&q, "rcpt", 1));
	assert_string_equal(rec(&q, "proto", 0), "local");
	assert_string_equal(rec(&q, "client_name", 0), "localhost");
	assert_string_equal(rec(&q, "client_addr", 0), "127.0.0.1");
	assert_string_equal(rec(&q, "sasl_username", 0), f->login);
	text = content(&q);
	expect = must_asprintf("Received: by mail.example.com (Postern, from userid %lu)\r\n\tid %s; ",
			       (unsigned long)getuid(), c.id);
	assert_true(str_has_prefix(text, expect));
	/* Present headers stay, missing Date and Message-ID are added after them. */
	assert_non_null(strstr(text, "\r\nSubject: hi\r\nFrom: Alice <alice@example.org>\r\nDate: "));
	free(expect);
	expect = must_asprintf("\r\nMessage-ID: <%s.", c.id);
	assert_non_null(strstr(text, expect));
	assert_non_null(strstr(text, "@mail.example.com>\r\n\r\nhello\r\n"));
	assert_true(str_has_prefix(strstr(text, "hello"), "hello\r\n") && strlen(strstr(text, "hello")) == 7);
	free(expect);
	free(text);
	qfile_free(&q);
}

static void test_default_sender_and_headers(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "root" };
	struct client c = { .sub = { .full_name = "Jörg \"J\" Müller", .rcpts = rcpts, .n_rcpts = 1 } };
	struct qfile q;
	char *text, *sender = must_asprintf("%s@example.com", f->login), *from;

	assert_int_equal(submit(f, &c, "no header here\r\n"), 0);
	read_queued(f, c.id, &q);
	assert_string_equal(rec(&q, "sender", 0), sender);
	assert_string_equal(rec(&q, "rcpt", 0), "root@example.com");
	text = content(&q);
	/* 8-bit full name: RFC 2047 encoded word. */
	from = must_asprintf("\r\nFrom: =?UTF-8?B?SsO2cmcgIkoiIE3DvGxsZXI=?= <%s>\r\nDate: ", sender);
	assert_non_null(strstr(text, from));
	assert_non_null(strstr(text, "\r\nMessage-ID: <"));
	/* The body had no header block: an empty line separates it. */
	assert_non_null(strstr(text, ">\r\n\r\nno header here\r\n"));
	free(from);
	free(text);
	qfile_free(&q);
	free(sender);
}

static void test_headers_present_not_added(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@example.net" };
	struct client c = { .sub = { .sender = "", .full_name = "Ann Other", .rcpts = rcpts, .n_rcpts = 1 } };
	struct qfile q;
	char *text;

	assert_int_equal(submit(f, &c, "from: x@y.z\nDATE: Wed, 25 Nov 2026 10:00:00 +0000\n"
				"Message-Id: <abc@y.z>\nSubject: s\n\nbody"), 0);
	read_queued(f, c.id, &q);
	assert_string_equal(rec(&q, "sender", 0), "");
	text = content(&q);
	assert_null(strstr(text, "Ann Other"));
	assert_null(strstr(text, "Message-ID:"));
	assert_null(strstr(text, "Date:"));
	/* A last line without LF gets CR LF. */
	assert_non_null(strstr(text, "Subject: s\r\n\r\nbody\r\n"));
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_string_equal(text + strlen(text) - 6, "body\r\n");
	free(text);
	qfile_free(&q);
}

static void test_extract_recipients(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "argv@example.net" };
	struct client c = { .sub = { .sender = "a@example.org", .rcpts = rcpts, .n_rcpts = 1, .extract = true,
				     .dot_ok = true } };
	struct qfile q;
	char *text;

	assert_int_equal(submit(f, &c,
				"To: Bob <bob@example.net>, carol@example.net (Carol),\n"
				"\tfriends: dave@example.net, \"Eve E.\" <eve@example.net>;\n"
				"Cc: argv@example.net\n"
				"Subject: -t\n"
				"\n"
				"To: not-a-header@example.net\n"), 0);
	read_queued(f, c.id, &q);
	assert_string_equal(rec(&q, "rcpt", 0), "argv@example.net");
	assert_string_equal(rec(&q, "rcpt", 1), "bob@example.net");
	assert_string_equal(rec(&q, "rcpt", 2), "carol@example.net");
	assert_string_equal(rec(&q, "rcpt", 3), "dave@example.net");
	assert_string_equal(rec(&q, "rcpt", 4), "eve@example.net");
	assert_null(rec(&q, "rcpt", 5));   /* argv@ only once */
	text = content(&q);
	/* Headers stay as they were (folded lines too), now with CR LF. */
	assert_non_null(strstr(text, "\r\nTo: Bob <bob@example.net>, carol@example.net (Carol),\r\n"
			       "\tfriends: dave@example.net, \"Eve E.\" <eve@example.net>;\r\nCc: argv@example.net\r\n"));
	assert_non_null(strstr(text, "\r\n\r\nTo: not-a-header@example.net\r\n"));
	free(text);
	qfile_free(&q);
}

static void test_extract_bcc_removed(void **state)
{
	struct fixture *f = *state;
	struct client c = { .sub = { .extract = true } };
	struct qfile q;
	char *text;

	assert_int_equal(submit(f, &c, "To: undisclosed-recipients:;\nBcc: hidden@example.net,\n root\n"
				"Subject: s\n\nbody\n"), 0);
	read_queued(f, c.id, &q);
	assert_string_equal(rec(&q, "rcpt", 0), "hidden@example.net");
	assert_string_equal(rec(&q, "rcpt", 1), "root@example.com");
	assert_null(rec(&q, "rcpt", 2));
	text = content(&q);
	assert_null(strstr(text, "Bcc"));
	assert_null(strstr(text, "hidden"));
	assert_non_null(strstr(text, "\r\nTo: undisclosed-recipients:;\r\nSubject: s\r\n"));
	free(text);
	qfile_free(&q);
}

static void test_extract_none_found(void **state)
{
	struct fixture *f = *state;
	struct client c = { .sub = { .extract = true } };

	assert_int_equal(submit(f, &c, "Subject: nobody\n\nbody\n"), EX_DATAERR);
	assert_string_equal(c.error, "no recipient addresses found in the message header (To:, Cc:, Bcc:); "
			    "sendmail -t needs at least one, or give recipients as arguments");
	free(c.error);
	assert_int_equal(count_dir(f, "active"), 0);
	assert_int_equal(count_dir(f, "incoming"), 0);
	assert_int_equal(f->queued, 0);
}

static void test_extract_too_many(void **state)
{
	struct fixture *f = *state;
	struct client c = { .sub = { .extract = true } };

	assert_int_equal(submit(f, &c, "To: a@x.y, b@x.y, c@x.y, d@x.y, e@x.y, f@x.y\n\nbody\n"), EX_DATAERR);
	assert_string_equal(c.error, "too many recipients (smtpd_recipient_limit is 5)");
	free(c.error);
	assert_int_equal(count_dir(f, "active"), 0);
}

static void test_lone_dot(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@example.net" };
	struct client c = { .sub = { .sender = "a@example.org", .rcpts = rcpts, .n_rcpts = 1 } };
	struct client c2 = { .sub = { .sender = "a@example.org", .rcpts = rcpts, .n_rcpts = 1, .dot_ok = true } };
	const char *msg = "Subject: dots\n\n..two\n.x\n.\r\nafter\n";
	struct qfile q;
	char *text;

	assert_int_equal(submit(f, &c, msg), 0);
	read_queued(f, c.id, &q);
	text = content(&q);
	/* No dot-stuffing in sendmail's input: "..two" stays as is; the lone
	 * "." ends the message. */
	assert_string_equal(strstr(text, "\r\n\r\n"), "\r\n\r\n..two\r\n.x\r\n");
	free(text);
	qfile_free(&q);

	assert_int_equal(submit(f, &c2, msg), 0);
	read_queued(f, c2.id, &q);
	text = content(&q);
	assert_string_equal(strstr(text, "\r\n\r\n"), "\r\n\r\n..two\r\n.x\r\n.\r\nafter\r\n");
	free(text);
	qfile_free(&q);
}

static void test_oversize_refused(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@example.net" };
	struct client c = { .sub = { .rcpts = rcpts, .n_rcpts = 1 } };
	char *big = must_malloc(150001);

	memset(big, 'a', 150000);
	big[150000] = '\0';
	for (size_t i = 70; i < 150000; i += 71)
		big[i] = '\n';
	assert_int_equal(submit(f, &c, big), EX_DATAERR);
	assert_string_equal(c.error, "message file too big: 150000 bytes; message_size_limit is 100000 bytes");
	free(c.error);
	free(big);
	assert_int_equal(count_dir(f, "active"), 0);
	assert_int_equal(count_dir(f, "incoming"), 0);
}

static void test_bad_addresses(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@@example.net" };
	const char *ok[] = { "bob@example.net" };
	struct client c = { .sub = { .rcpts = rcpts, .n_rcpts = 1 } };
	struct client c2 = { .sub = { .sender = "a b@c", .rcpts = ok, .n_rcpts = 1 } };
	struct client c3 = { .sub = { .extract = true } };

	assert_int_equal(submit(f, &c, "x\n"), EX_NOUSER);
	assert_string_equal(c.error, "bad recipient address \"bob@@example.net\": bad address syntax; "
			    "write it as user@example.com");
	free(c.error);
	assert_int_equal(submit(f, &c2, "x\n"), EX_NOUSER);
	assert_string_equal(c2.error, "bad sender address \"a b@c\" (-f): bad address syntax; "
			    "write it as user@example.com");
	free(c2.error);
	assert_int_equal(submit(f, &c3, "To: <x@[300.1.1.1]>\n\nx\n"), EX_NOUSER);
	assert_string_equal(c3.error, "bad recipient address \"x@[300.1.1.1]\" in the To: header: "
			    "bad address syntax; write it as user@example.com");
	free(c3.error);
	assert_int_equal(count_dir(f, "active"), 0);
	assert_int_equal(count_dir(f, "incoming"), 0);
}

static void raw(struct fixture *f, struct client *c, const char *bytes, size_t len)
{
	c->raw = bytes;
	c->raw_len = len;
	run_client(f, c);
}

static void test_garbage_requests(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *in;
		size_t len;
		const char *answer;
	} cases[] = {
		{ "HELLO\n", 6, "ERR 5.5.2 unknown request \"HELLO\"; is this sendmail from the same Postern version?\n" },
		{ "RCPT a@b.c\nDATA\n", 16, "ERR 5.5.2 DATA needs the message size in bytes\n" },
		{ "RCPT a@b.c\nDATA -1\n", 19, "ERR 5.5.2 DATA needs the message size in bytes\n" },
		{ "DATA 10\n", 8, "ERR 5.5.2 no recipients specified; give them as arguments or use -t\n" },
		{ "RCPT a@b.c\0x\n", 13, "ERR 5.5.2 control character (CR, LF, NUL, ...) in a request; each field must be one line of text\n" },
		{ "RCPT a@b\rc\n", 11, "ERR 5.5.2 control character (CR, LF, NUL, ...) in a request; each field must be one line of text\n" },
		{ "SENDER a@b.c\nSENDER d@e.f\n", 26, "ERR 5.5.2 SENDER (-f) given twice\n" },
		{ "NOTIFY never,success\n", 21, "ERR 5.5.4 bad -N value; use never, or a list of success, failure, delay\n" },
		{ "RET some\n", 9, "ERR 5.5.4 bad -R value; use full or hdrs\n" },
		{ "ENVID a=b\n", 10, "ERR 5.5.4 bad -V value; at most 100 printable characters (RFC 3461 4.4)\n" },
		{ "RCPT a@b.c\nDATA 999999999\n", 26, "ERR 5.3.4 message file too big: 999999999 bytes; message_size_limit is 100000 bytes\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct client c = { 0 };

		raw(f, &c, cases[i].in, cases[i].len);
		assert_string_equal(c.answer, cases[i].answer);
	}
	{
		/* An endless line: refused once it passes the limit. */
		char *line = must_malloc(10000);
		struct client c = { 0 };

		memset(line, 'R', 10000);
		raw(f, &c, line, 10000);
		assert_string_equal(c.answer, "ERR 5.5.2 request line too long (the limit is 4096 bytes)\n");
		free(line);
	}
	assert_int_equal(count_dir(f, "active"), 0);
	assert_int_equal(count_dir(f, "incoming"), 0);
	assert_int_equal(f->queued, 0);
}

static void test_short_data_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	/* 70000 of 90000 bytes: more than the writer's 64 KiB buffer, so the
	 * incoming file exists when the client goes away. */
	size_t body = 70000;
	char *msg = must_malloc(body + 64);
	int hdr = snprintf(msg, 64, "RCPT a@b.c\nDATA 90000\n");
	struct client c = { 0 }, c2 = { 0 };

	memset(msg + hdr, 'x', body);
	for (size_t i = (size_t)hdr + 60; i < (size_t)hdr + body; i += 61)
		msg[i] = '\n';
	raw(f, &c, msg, (size_t)hdr + body);
	assert_string_equal(c.answer, "");   /* SIZE not reached: no answer */
	c2.raw_close_early = true;
	raw(f, &c2, msg, (size_t)hdr + body);
	free(msg);
	assert_int_equal(count_dir(f, "active"), 0);
	assert_int_equal(count_dir(f, "incoming"), 0);
	assert_int_equal(f->queued, 0);
}

static void test_raw_protocol_ok(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "SENDER <>\nRCPT <b@example.net>\nNOTIFY success,failure\nRET hdrs\n"
				 "ENVID abc+2B\nDATA 13\nSubject: x\n\nyz";
	struct client c = { 0 };
	struct qfile q;

	raw(f, &c, in, sizeof(in) - 1 - 1);   /* 13 bytes = "Subject: x\n\n" + 'y' */
	assert_true(str_has_prefix(c.answer, "OK "));
	assert_int_equal(strlen(c.answer), 3 + 12 + 1);
	c.answer[15] = '\0';
	read_queued(f, c.answer + 3, &q);
	assert_string_equal(rec(&q, "sender", 0), "");
	assert_string_equal(rec(&q, "rcpt", 0), "b@example.net");
	assert_string_equal(rec(&q, "notify", 0), "SUCCESS,FAILURE");
	assert_string_equal(rec(&q, "ret", 0), "HDRS");
	assert_string_equal(rec(&q, "envid", 0), "abc+2B");
	qfile_free(&q);
}

static void test_no_server(void **state)
{
	const char *rcpts[] = { "b@example.net" };
	struct pickup_submission s = { .rcpts = rcpts, .n_rcpts = 1 };
	char id[QUEUE_ID_SIZE], *error = NULL;

	s.message = fmemopen((void *)"x\n", 2, "r");
	assert_int_equal(pickup_submit("/nonexistent/pickup", &s, id, &error), EX_TEMPFAIL);
	assert_string_equal(error, "cannot submit mail: cannot connect to the queue role at /nonexistent/pickup: "
			    "No such file or directory; is posternd running? (postern start)");
	free(error);
	fclose(s.message);
}


/* pickup_free() with a message half sent: the incoming file goes. */
struct holder {
	struct fixture *f;
	int fd;
	int done_pipe[2];
};

static void *hold_thread(void *arg)
{
	struct holder *h = arg;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t body = 70000;
	char *msg = must_malloc(body + 64), buf[64];
	int hdr = snprintf(msg, 64, "RCPT a@b.c\nDATA 90000\n");

	memset(msg + hdr, 'y', body);
	for (size_t i = (size_t)hdr + 70; i < (size_t)hdr + body; i += 71)
		msg[i] = '\n';
	str_copy(sun.sun_path, h->f->sock_path, sizeof(sun.sun_path));
	h->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(h->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    send(h->fd, msg, (size_t)hdr + body, MSG_NOSIGNAL) != (ssize_t)((size_t)hdr + body))
		abort();
	free(msg);
	if (write(h->done_pipe[1], "x", 1) != 1)
		abort();
	/* Stay connected until the server goes away. */
	while (recv(h->fd, buf, sizeof(buf), 0) > 0)
		;
	close(h->fd);
	return NULL;
}

static void test_free_with_message_in_progress(void **state)
{
	struct fixture *f = *state;
	struct holder h = { .f = f };
	struct timeval settle = { 0, 300000 };
	struct event *ev;
	pthread_t t;

	assert_int_equal(pipe(h.done_pipe), 0);
	ev = event_new(f->base, h.done_pipe[0], EV_READ, client_done, f->base);
	event_add(ev, NULL);
	assert_int_equal(pthread_create(&t, NULL, hold_thread, &h), 0);
	event_base_dispatch(f->base);
	event_base_loopexit(f->base, &settle);
	event_base_dispatch(f->base);
	/* More than the writer's 64 KiB buffer arrived: the file exists. */
	assert_int_equal(count_dir(f, "incoming"), 1);
	pickup_free(&f->p);
	assert_int_equal(count_dir(f, "incoming"), 0);
	assert_int_equal(count_dir(f, "active"), 0);
	/* libevent closes a freed bufferevent's socket from the loop. */
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	pthread_join(t, NULL);
	event_free(ev);
	close(h.done_pipe[0]);
	close(h.done_pipe[1]);
	assert_int_equal(f->queued, 0);
}

/* A uid without a password file entry (needs root to become one). */
static void test_unknown_uid(void **state)
{
	struct fixture *f = *state;
	static const char *const reqs[] = { "RCPT a@b.c\nDATA 2\nx\n", "SENDER s@b.c\nRCPT a@b.c\nDATA 2\nx\n" };
	char answer[512];

	if (getuid() != 0) {
		skip();
		return;
	}
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chmod(f->sock_path, 0666), 0);
	for (int i = 0; i < 2; i++) {
		int p[2];
		pid_t pid;
		ssize_t n;
		size_t len = 0;
		struct event *ev;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct sockaddr_un sun = { .sun_family = AF_UNIX };
			int fd;
			char buf[512];
			ssize_t got, total = 0;

			if (setgid(54321) != 0 || setuid(54321) != 0)
				_exit(2);
			str_copy(sun.sun_path, f->sock_path, sizeof(sun.sun_path));
			fd = socket(AF_UNIX, SOCK_STREAM, 0);
			if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
				_exit(3);
			if (send(fd, reqs[i], strlen(reqs[i]), MSG_NOSIGNAL) < 0)
				_exit(4);
			shutdown(fd, SHUT_WR);
			while ((got = recv(fd, buf + total, sizeof(buf) - 1 - (size_t)total, 0)) > 0)
				total += got;
			if (write(p[1], buf, (size_t)total) != total)
				_exit(5);
			_exit(0);
		}
		close(p[1]);
		ev = event_new(f->base, p[0], EV_READ, client_done, f->base);
		event_add(ev, NULL);
		event_base_dispatch(f->base);
		event_free(ev);
		while ((n = read(p[0], answer + len, sizeof(answer) - 1 - len)) > 0)
			len += (size_t)n;
		answer[len] = '\0';
		close(p[0]);
		waitpid(pid, NULL, 0);
		if (i == 0) {
			assert_string_equal(answer, "ERR 5.7.1 no login name for user id 54321 in the password file; "
					    "give the sender with -f\n");
		} else {
			struct qfile q;

			assert_true(str_has_prefix(answer, "OK "));
			answer[15] = '\0';
			read_queued(f, answer + 3, &q);
			assert_string_equal(rec(&q, "sasl_username", 0), "uid 54321");
			assert_non_null(strstr(q.content, "(Postern, from userid 54321)"));
			qfile_free(&q);
		}
	}
}

/* PICKUP_CONN_MAX connections at once; the next one is told to retry. */
struct crowd {
	struct fixture *f;
	int done_pipe[2];
	char answer[256];
};

static void *crowd_thread(void *arg)
{
	struct crowd *c = arg;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fds[PICKUP_CONN_MAX + 1];
	size_t len = 0;
	ssize_t n;

	str_copy(sun.sun_path, c->f->sock_path, sizeof(sun.sun_path));
	for (int i = 0; i <= PICKUP_CONN_MAX; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fds[i], (struct sockaddr *)&sun, sizeof(sun)) != 0)
			abort();
		if (i < PICKUP_CONN_MAX && send(fds[i], "RCPT a@b.c\n", 11, MSG_NOSIGNAL) != 11)
			abort();
	}
	/* Connections are accepted in the order they were made, and none of
	 * the first ones ends before we close it: the last is one too many. */
	while ((n = recv(fds[PICKUP_CONN_MAX], c->answer + len, sizeof(c->answer) - 1 - len, 0)) > 0)
		len += (size_t)n;
	c->answer[len] = '\0';
	for (int i = 0; i <= PICKUP_CONN_MAX; i++)
		close(fds[i]);
	if (write(c->done_pipe[1], "x", 1) != 1)
		abort();
	return NULL;
}

static void test_connection_limit(void **state)
{
	struct fixture *f = *state;
	struct crowd c = { .f = f };
	struct timeval settle = { 0, 200000 };
	struct event *ev;
	pthread_t t;

	assert_int_equal(pipe(c.done_pipe), 0);
	ev = event_new(f->base, c.done_pipe[0], EV_READ, client_done, f->base);
	event_add(ev, NULL);
	assert_int_equal(pthread_create(&t, NULL, crowd_thread, &c), 0);
	event_base_dispatch(f->base);
	pthread_join(t, NULL);
	event_base_loopexit(f->base, &settle);
	event_base_dispatch(f->base);
	event_free(ev);
	close(c.done_pipe[0]);
	close(c.done_pipe[1]);
	assert_string_equal(c.answer, "ERR 4.3.2 too many local submissions at once; try again later\n");
	assert_int_equal(count_dir(f, "incoming"), 0);
}

/* The socket-free parser: header-only message, mbox From_ line. */
static int null_begin(void *ctx, const char **error_r)
{
	return 0;
}

static int buf_write(void *ctx, const void *data, size_t len, const char **error_r)
{
	return strbuf_append(ctx, data, len);
}

static void test_message_parser(void **state)
{
	struct pickup_limits lim = { .size_limit = 1000, .rcpt_limit = 10, .header_limit = 1024,
				     .myhostname = "h.example", .myorigin = "example", .mail_name = "Postern" };
	struct pickup_request req = { .has_sender = true };
	struct pickup_peer peer = { .uid = 5, .known = true, .login = "u" };
	struct strbuf out;
	struct pickup_sink sink = { null_begin, buf_write, &out };
	struct pickup_message m;
	const char *hdr, *part1 = "From u Thu Jan  1 00:00:00 1970\nSub",
		   *part2 = "ject: a\n  folded\nDate: d\nFrom: f@g\nMessage-ID: <x@y>";
	char reply[PICKUP_REPLY_MAX];

	req.sender = must_strdup("s@example");
	strbuf_init(&out, 0);
	assert_int_equal(pickup_request_add_rcpt(&req, &lim, must_strdup("r@example"), reply, sizeof(reply)), 0);
	pickup_message_init(&m, &lim, &req, &peer, "ABC", 0, &sink);
	assert_int_equal(pickup_message_feed(&m, part1, strlen(part1)), 0);
	assert_int_equal(pickup_message_feed(&m, part2, strlen(part2)), 0);
	assert_int_equal(pickup_message_end(&m), 0);
	hdr = strstr(out.data, "\r\n\tid ABC; ");
	assert_non_null(hdr);
	assert_string_equal(strstr(hdr, "\r\nSubject"), "\r\nSubject: a\r\n  folded\r\nDate: d\r\nFrom: f@g\r\nMessage-ID: <x@y>\r\n");
	assert_null(strstr(out.data, "From u"));
	pickup_message_free(&m);
	strbuf_free(&out);

	/* Header block over header_size_limit. */
	strbuf_init(&out, 0);
	pickup_message_init(&m, &lim, &req, &peer, "ABC", 0, &sink);
	for (int i = 0; i < 100; i++)
		if (pickup_message_feed(&m, "X-Long: 0123456789012345678901234567890\n", 40) < 0)
			break;
	assert_string_equal(m.reply, "ERR 5.6.0 message header too big: header_size_limit is 1024 bytes");
	assert_int_equal(out.len, 0);
	pickup_message_free(&m);
	strbuf_free(&out);
	pickup_request_free(&req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic_submit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_sender_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headers_present_not_added, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_recipients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_bcc_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_none_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_too_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lone_dot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_data_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_protocol_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_message_in_progress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_message_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
