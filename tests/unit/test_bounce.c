/*
 * test_bounce.c - delivery status notifications (smtp/queue/bounce.c,
 * bounce-dsn.c, bounce-text.c): an original is written with the queue
 * file writer, a struct qmsg is filled in by hand as the queue manager
 * would have read it, bounce_notify() is called, and the notice's queue
 * file is read back byte for byte: its envelope (sender <>, the
 * recipient), the RFC 3464 fields, the MIME structure (and Python's email
 * parser agrees that it is a multipart/report with three parts), RET=HDRS,
 * bounce_size_limit, the double bounce and the double_bounce_sender
 * rule, NOTIFY, the delay and success kinds, postmaster copies, ENVID and
 * ORCPT decoding, 8-bit originals, SMTPUTF8 (RFC 6533 types), and the
 * fd position left alone; every notice is also read with qmsg_read(),
 * as the queue manager will.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"
#include "smtp/queue-file.h"
#include "smtp/queue/bounce.h"
#include "smtp/queue/qmsg.h"

static const char base_conf[] = "myhostname = mail.example.com\n"
				"mydomain = example.com\n"
				"myorigin = $myhostname\n";

static const char original[] = "Received: from client.example.com by mail.example.com\r\n"
			       "From: Alice <a@example.com>\r\n"
			       "To: bob@example.org\r\n"
			       "Subject: hello\r\n"
			       "Message-ID: <1@example.com>\r\n"
			       "\r\n"
			       "Hi Bob,\r\n"
			       "this is the body of the message, well past one hundred bytes in all.\r\n";

struct fixture {
	char *dir;
	struct queue_dir *qd;
	struct config *cfg;
	struct bounce *b;
	struct qmsg m;
	struct qrcpt rcpt[2];
	struct qdest dest[2];
	int fd;
	char orig_id[QUEUE_ID_SIZE];
};

/* A produced notice, read back. */
struct notice {
	char *sender, *rcpt, *content;
	size_t content_len;
};

static void notice_free(struct notice *n)
{
	free(n->sender);
	free(n->rcpt);
	free(n->content);
	memset(n, 0, sizeof(*n));
}

static void remove_tree(const char *dir)
{
	char *cmd = must_asprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void load_config(struct fixture *f, const char *extra)
{
	char *text = must_asprintf("%s%s", base_conf, extra != NULL ? extra : "");
	char *err = NULL;

	config_free(&f->cfg);
	bounce_free(&f->b);
	f->cfg = config_parse("t.cf", text, strlen(text), NULL, NULL);
	free(text);
	assert_non_null(f->cfg);
	f->b = bounce_new(f->cfg, &err);
	assert_null(err);
	assert_non_null(f->b);
}

/* write_original - queue content with the writer, open it and fill in
 * f->m as qmsg_read() would. */
static void write_original(struct fixture *f, const char *sender, const char *content, size_t len)
{
	const char *err = NULL;
	struct queue_rcpt r = { "bob@example.org", "rfc822;bob@example.org", 0 };
	struct queue_envelope env = { .arrival = { 1700000000, 0 }, .sender = sender, .proto = "ESMTP",
				      .client_name = "unknown", .client_addr = "192.0.2.1", .rcpts = &r,
				      .n_rcpts = 1 };
	struct queue_file *qf = queue_file_create_in(f->qd, f->orig_id, &err);
	char *path, buf[65536];
	ssize_t got;

	assert_non_null(qf);
	assert_int_equal(queue_file_envelope(qf, &env, &err), 0);
	assert_int_equal(queue_file_write(qf, content, len, &err), 0);
	assert_int_equal(queue_file_commit(&qf, &err), 0);
	path = must_asprintf("%s/active/%s", f->dir, f->orig_id);
	f->fd = open(path, O_RDWR);
	free(path);
	assert_true(f->fd >= 0);
	got = pread(f->fd, buf, sizeof(buf) - 1, 0);
	assert_true(got > 0);
	buf[got] = '\0';
	char *msg = strstr(buf, "\nmessage ");
	assert_non_null(msg);
	char *nl = strchr(msg + 1, '\n');
	assert_non_null(nl);

	memset(&f->m, 0, sizeof(f->m));
	str_copy(f->m.id, f->orig_id, sizeof(f->m.id));
	f->m.dir = QDIR_ACTIVE;
	f->m.arrival.tv_sec = 1700000000;
	f->m.sender = (char *)sender;
	f->m.rcpts = f->rcpt;
	f->m.n_rcpts = 1;
	f->m.content_offset = nl + 1 - buf;
	struct qmsg *qm = NULL;
	char *rerr = NULL;
	assert_int_equal(qmsg_read(f->fd, f->orig_id, QDIR_ACTIVE, &qm, &rerr), 0);
	assert_int_equal(qm->content_offset, f->m.content_offset);
	assert_int_equal(qm->content_size, (off_t)len);
	qmsg_free(&qm);
	f->m.content_size = (off_t)len;
	f->m.expanded = true;
	f->m.dests = f->dest;
	f->m.n_dests = 1;
	f->rcpt[0] = (struct qrcpt){ "bob@example.org", "rfc822;bob@example.org", 0 };
	f->dest[0] = (struct qdest){ .orig = 0, .kind = QDEST_ADDR, .value = "bob@example.org",
				     .state = QDEST_BOUNCED, .dsn = "5.1.1", .when = 1700000100,
				     .relay = "mx.example.org[192.0.2.1]:25",
				     .diag = "smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
				     .text = "host mx.example.org[192.0.2.1] said: 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)" };
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/test-bounce-XXXXXX";
	const char *err = NULL;

	assert_non_null(f);
	assert_non_null(mkdtemp(tmpl));
	f->dir = must_strdup(tmpl);
	for (const char *const *sub = (const char *const[]){ "incoming", "active", "hold", NULL }; *sub; sub++) {
		char *p = must_asprintf("%s/%s", f->dir, *sub);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
	}
	f->qd = queue_dir_open(f->dir, &err);
	assert_non_null(f->qd);
	load_config(f, NULL);
	write_original(f, "a@example.com", original, strlen(original));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd);
	bounce_free(&f->b);
	config_free(&f->cfg);
	queue_dir_free(&f->qd);
	remove_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* read_notice - parse active/ID: records up to "message", then content. */
static void read_notice(struct fixture *f, const char *id, struct notice *n)
{
	char *path = must_asprintf("%s/active/%s", f->dir, id);
	const char *err = NULL;
	size_t len;
	char *data = file_read_all(path, 64 << 20, &len, &err);
	const char *p, *end;

	free(path);
	assert_non_null(data);
	memset(n, 0, sizeof(*n));
	assert_true(str_has_prefix(data, QUEUE_FILE_MAGIC));
	p = data + strlen(QUEUE_FILE_MAGIC);
	end = data + len;
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		assert_non_null(sp);
		char *colon;
		if ((size_t)(sp - p) == 7 && memcmp(p, "message", 7) == 0) {
			/* "message " + 15 digits + "\n": the size is not LEN:VALUE. */
			const char *content = sp + 1 + 15 + 1;
			n->content_len = (size_t)(end - content);
			assert_int_equal(strtoul(sp + 1, NULL, 10), n->content_len);
			n->content = must_strndup(content, n->content_len);
			break;
		}
		unsigned long vlen = strtoul(sp + 1, &colon, 10);
		assert_int_equal(*colon, ':');
		char *value = must_strndup(colon + 1, vlen);
		if ((size_t)(sp - p) == 6 && memcmp(p, "sender", 6) == 0)
			n->sender = value;
		else if ((size_t)(sp - p) == 4 && memcmp(p, "rcpt", 4) == 0 && n->rcpt == NULL)
			n->rcpt = value;
		else
			free(value);
		p = colon + 1 + vlen;
		assert_int_equal(*p, '\n');
		p++;
	}
	free(data);
	assert_non_null(n->content);

	/* The queue manager's reader takes the notice as it takes any mail. */
	struct qmsg *qm = NULL;
	char *err2 = NULL;
	path = must_asprintf("%s/active/%s", f->dir, id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	assert_true(fd >= 0);
	if (qmsg_read(fd, id, QDIR_ACTIVE, &qm, &err2) != 0)
		fail_msg("qmsg_read: %s", err2);
	assert_string_equal(qm->sender, n->sender);
	assert_int_equal(qm->n_rcpts, 1);
	assert_string_equal(qm->rcpts[0].addr, n->rcpt);
	assert_int_equal(qm->content_size, (off_t)n->content_len);
	assert_false(qm->expanded);
	qmsg_free(&qm);
	close(fd);
}

static void remove_notice(struct fixture *f, const char *id)
{
	char *path = must_asprintf("%s/active/%s", f->dir, id);
	assert_int_equal(unlink(path), 0);
	free(path);
}

/* notices - ids in active/ other than the original, sorted; returns count. */
static size_t notices(struct fixture *f, char ids[][QUEUE_ID_SIZE], size_t max)
{
	char *p = must_asprintf("%s/active", f->dir);
	DIR *d = opendir(p);
	struct dirent *e;
	size_t n = 0;

	free(p);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, f->orig_id) == 0)
			continue;
		assert_true(n < max);
		str_copy(ids[n++], e->d_name, QUEUE_ID_SIZE);
	}
	closedir(d);
	return n;
}

/* notify_one - bounce_notify about dest 0; expects `expect` files. */
static size_t notify(struct fixture *f, enum bounce_kind kind, unsigned expect, char ids[][QUEUE_ID_SIZE])
{
	size_t dests[] = { 0, 1 };
	unsigned queued = 99;
	char *err = NULL;
	off_t pos = lseek(f->fd, 123, SEEK_SET);

	assert_int_equal(bounce_notify(f->b, f->qd, &f->m, f->fd, kind, dests, f->m.n_dests, &queued, &err), 0);
	assert_null(err);
	assert_int_equal(queued, expect);
	assert_int_equal(lseek(f->fd, 0, SEEK_CUR), pos);
	return notices(f, ids, 4);
}

static void assert_contains(const struct notice *n, const char *text)
{
	if (strstr(n->content, text) == NULL) {
		fprintf(stderr, "notice:\n%s\n", n->content);
		fail_msg("notice lacks \"%s\"", text);
	}
}

static void assert_lacks(const struct notice *n, const char *text)
{
	if (strstr(n->content, text) != NULL) {
		fprintf(stderr, "notice:\n%s\n", n->content);
		fail_msg("notice has \"%s\"", text);
	}
}

/* python_check - Python's email parser sees multipart/report with the
 * three parts of the given types; skipped without /usr/bin/python3. */
static void python_check_types(const struct notice *n, const char *report_type, const char *second_type,
			       const char *third_type)
{
	char path[] = "/tmp/test-bounce-msg-XXXXXX";
	int fd = mkstemp(path);
	char *cmd;
	int rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, n->content, n->content_len), (ssize_t)n->content_len);
	close(fd);
	if (access("/usr/bin/python3", X_OK) != 0) {
		unlink(path);
		return;
	}
	cmd = must_asprintf(
		"/usr/bin/python3 -c '\n"
		"import email, sys\n"
		"from email import policy\n"
		"m = email.message_from_binary_file(open(sys.argv[1], \"rb\"), policy=policy.default)\n"
		"assert m.get_content_type() == \"multipart/report\", m.get_content_type()\n"
		"assert m.get_param(\"report-type\") == sys.argv[2], m.get_param(\"report-type\")\n"
		"parts = m.get_payload()\n"
		"types = [p.get_content_type() for p in parts]\n"
		"assert types == [\"text/plain\", sys.argv[3], sys.argv[4]], types\n"
		"if sys.argv[3] == \"message/delivery-status\":\n"
		"    ds = parts[1].get_payload()\n"
		"    assert len(ds) >= 2, len(ds)\n"
		"    assert ds[0][\"Reporting-MTA\"] == \"dns; mail.example.com\", ds[0][\"Reporting-MTA\"]\n"
		"    assert ds[1][\"Action\"] in (\"failed\", \"delayed\", \"delivered\", \"relayed\")\n"
		"assert not m.defects, m.defects\n"
		"' %s %s %s %s",
		path, report_type, second_type, third_type);
	rc = system(cmd);
	free(cmd);
	unlink(path);
	assert_int_equal(rc, 0);
}

static void python_check(const struct notice *n, const char *third_type)
{
	python_check_types(n, "delivery-status", "message/delivery-status", third_type);
}

static void test_failed_to_sender(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE], *line;
	struct notice n;

	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_string_equal(n.sender, "");
	assert_string_equal(n.rcpt, "a@example.com");
	assert_contains(&n, "\r\nFrom: MAILER-DAEMON@mail.example.com (Mail Delivery System)\r\n");
	assert_contains(&n, "\r\nSubject: Undelivered Mail Returned to Sender\r\n");
	assert_contains(&n, "\r\nTo: a@example.com\r\n");
	assert_contains(&n, "\r\nAuto-Submitted: auto-replied\r\n");
	assert_contains(&n, "\r\nMIME-Version: 1.0\r\n");
	assert_contains(&n, "\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"");
	line = must_asprintf("\r\nMessage-Id: <");
	assert_contains(&n, line);
	free(line);
	line = must_asprintf("@mail.example.com>\r\n");
	assert_contains(&n, line);
	free(line);
	assert_true(str_has_prefix(n.content, "Received: by mail.example.com (Postern) id "));
	assert_contains(&n, "This is the mail system at host mail.example.com.\r\n\r\n"
			    "I'm sorry to have to inform you that your message could not\r\n"
			    "be delivered to one or more recipients. It's attached below.\r\n");
	/* The reason, folded as Postfix does (4 spaces). */
	assert_contains(&n, "<bob@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1\r\n"
			    "    <bob@example.org>: Recipient address rejected: User unknown in virtual\r\n"
			    "    mailbox table (in reply to RCPT TO command)\r\n");
	assert_contains(&n, "Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
			    "Reporting-MTA: dns; mail.example.com\r\n");
	line = must_asprintf("X-Postern-Queue-ID: %s\r\nX-Postern-Sender: rfc822; a@example.com\r\nArrival-Date: ",
			     f->orig_id);
	assert_contains(&n, line);
	free(line);
	assert_contains(&n, "\r\n\r\nFinal-Recipient: rfc822; bob@example.org\r\n"
			    "Original-Recipient: rfc822;bob@example.org\r\n"
			    "Action: failed\r\n"
			    "Status: 5.1.1\r\n"
			    "Remote-MTA: dns; mx.example.org\r\n"
			    "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: Recipient address\r\n"
			    "    rejected: User unknown in virtual mailbox table\r\n");
	assert_lacks(&n, "Will-Retry-Until");
	assert_contains(&n, "Content-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n\r\n");
	assert_contains(&n, original);
	assert_lacks(&n, "Content-Transfer-Encoding");
	/* Ends with the closing boundary. */
	const char *bstart = strstr(n.content, "boundary=\"") + strlen("boundary=\"");
	char *boundary = must_strndup(bstart, strcspn(bstart, "\""));
	char *closing = must_asprintf("\r\n--%s--\r\n", boundary);
	assert_true(n.content_len > strlen(closing));
	assert_string_equal(n.content + n.content_len - strlen(closing), closing);
	assert_true(str_has_prefix(boundary, ids[0]));
	free(closing);
	free(boundary);
	python_check(&n, "message/rfc822");
	notice_free(&n);
}

static void test_ret_hdrs(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice n;

	f->m.ret = "HDRS";
	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_contains(&n, "Content-Description: Undelivered Message Headers\r\n"
			    "Content-Type: text/rfc822-headers\r\n\r\n"
			    "Received: from client.example.com by mail.example.com\r\n");
	assert_contains(&n, "Message-ID: <1@example.com>\r\n\r\n--");
	assert_lacks(&n, "Hi Bob");
	python_check(&n, "text/rfc822-headers");
	notice_free(&n);
}

static void test_size_limit(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice n;

	/* Larger than the limit: headers only. */
	load_config(f, "bounce_size_limit = 200\n");
	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_contains(&n, "Content-Type: text/rfc822-headers\r\n");
	assert_contains(&n, "Subject: hello\r\n");
	assert_lacks(&n, "Hi Bob");
	notice_free(&n);
}

static void test_size_limit_cuts_headers(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice n;

	load_config(f, "bounce_size_limit = 100\n");
	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_contains(&n, "Content-Type: text/rfc822-headers\r\n\r\n"
			    "Received: from client.example.com by mail.example.com\r\n"
			    "From: Alice <a@example.com>\r\n\r\n--");
	assert_lacks(&n, "To: bob@example.org");
	notice_free(&n);
}

static void test_null_sender_double_bounce(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice n;

	f->m.sender = "";
	/* Postfix's default notify_classes: the double bounce is dropped. */
	assert_int_equal(notify(f, BOUNCE_FAILED, 0, ids), 0);
	/* delay alone does not send double bounces. */
	load_config(f, "notify_classes = delay\n");
	assert_int_equal(notify(f, BOUNCE_FAILED, 0, ids), 0);
	load_config(f, "notify_classes = resource, software, 2bounce\n");
	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_string_equal(n.sender, "double-bounce@mail.example.com");
	assert_string_equal(n.rcpt, "postmaster@mail.example.com");
	assert_contains(&n, "\r\nSubject: Postmaster Copy: Undelivered Mail\r\n");
	assert_contains(&n, "\r\nTo: postmaster@mail.example.com\r\n");
	assert_contains(&n, "Enclosed is the mail delivery report that you requested.\r\n");
	assert_contains(&n, "X-Postern-Sender: rfc822; \r\n");
	assert_contains(&n, "Content-Type: message/rfc822\r\n");
	assert_contains(&n, "Hi Bob");
	python_check(&n, "message/rfc822");
	notice_free(&n);
}

/* As Postfix: "bounce" in notify_classes also sends double bounces, and
 * a null sender's delayed mail goes to delay_notice_recipient with
 * "delay" only. */
static void test_null_sender_classes(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice n;

	f->m.sender = "";
	load_config(f, "notify_classes = bounce\n2bounce_notice_recipient = admin@example.net\n");
	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_string_equal(n.rcpt, "admin@example.net");
	notice_free(&n);
	remove_notice(f, ids[0]);

	f->dest[0].state = QDEST_DEFERRED;
	str_copy(f->dest[0].dsn, "4.4.1", sizeof(f->dest[0].dsn));
	assert_int_equal(notify(f, BOUNCE_DELAYED, 0, ids), 0);
	load_config(f, "notify_classes = delay\ndelay_notice_recipient = delays\n");
	assert_int_equal(notify(f, BOUNCE_DELAYED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_string_equal(n.sender, "double-bounce@mail.example.com");
	assert_string_equal(n.rcpt, "delays@mail.example.com");
	assert_contains(&n, "\r\nSubject: Postmaster Warning: Delayed Mail\r\n");
	assert_contains(&n, "Action: delayed\r\n");
	assert_contains(&n, "Content-Type: text/rfc822-headers\r\n");
	notice_free(&n);
}

static void test_double_bounce_sender_nothing(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];

	load_config(f, "notify_classes = bounce, 2bounce, delay\n");
	f->m.sender = "double-bounce@mail.example.com";
	assert_int_equal(notify(f, BOUNCE_FAILED, 0, ids), 0);
	f->m.sender = "Double-Bounce";
	assert_int_equal(notify(f, BOUNCE_DELAYED, 0, ids), 0);
	/* Not ours: an ordinary sender. */
	f->m.sender = "double-bounce@elsewhere.example";
	assert_int_equal(notify(f, BOUNCE_FAILED, 2, ids), 2);
}

static void test_notify_never_and_success(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice n;

	f->rcpt[0].notify = QMSG_NOTIFY_NEVER;
	assert_int_equal(notify(f, BOUNCE_FAILED, 0, ids), 0);
	f->rcpt[0].notify = QMSG_NOTIFY_SUCCESS;
	assert_int_equal(notify(f, BOUNCE_FAILED, 0, ids), 0);
	assert_int_equal(notify(f, BOUNCE_DELAYED, 0, ids), 0);
	/* Without NOTIFY nobody asked for success. */
	f->rcpt[0].notify = 0;
	assert_int_equal(notify(f, BOUNCE_SUCCESS, 0, ids), 0);

	f->rcpt[0].notify = QMSG_NOTIFY_SUCCESS | QMSG_NOTIFY_FAILURE;
	f->dest[0].state = QDEST_SENT;
	str_copy(f->dest[0].dsn, "2.0.0", sizeof(f->dest[0].dsn));
	f->dest[0].diag = "smtp; 250 2.0.0 Ok: queued as 4XYZ";
	f->dest[0].text = "delivered via mx.example.org[192.0.2.1]:25: 250 2.0.0 Ok: queued as 4XYZ";
	assert_int_equal(notify(f, BOUNCE_SUCCESS, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_contains(&n, "\r\nSubject: Successful Mail Delivery Report\r\n");
	assert_contains(&n, "Your message was successfully delivered to the destination(s)\r\n");
	assert_contains(&n, "Action: relayed\r\nStatus: 2.0.0\r\nRemote-MTA: dns; mx.example.org\r\n");
	assert_contains(&n, "Content-Description: Delivered Message Headers\r\n");
	python_check(&n, "text/rfc822-headers");
	notice_free(&n);
}

static void test_delay(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE], date[80];
	struct notice n;

	f->dest[0].state = QDEST_DEFERRED;
	str_copy(f->dest[0].dsn, "4.4.1", sizeof(f->dest[0].dsn));
	f->dest[0].relay = "none";
	f->dest[0].diag = "";
	f->dest[0].text = "connect to mx.example.org[192.0.2.1]:25: Connection refused";
	assert_int_equal(notify(f, BOUNCE_DELAYED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_contains(&n, "\r\nSubject: Delayed Mail (still being retried)\r\n");
	assert_contains(&n, "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n");
	assert_contains(&n, "It will be retried until it is 5.0 day(s) old.\r\n");
	assert_contains(&n, "Action: delayed\r\nStatus: 4.4.1\r\n"
			    "Diagnostic-Code: X-Postern; connect to mx.example.org[192.0.2.1]:25:\r\n"
			    "    Connection refused\r\nWill-Retry-Until: ");
	assert_lacks(&n, "Remote-MTA");
	assert_contains(&n, "Content-Description: Delayed Message Headers\r\nContent-Type: text/rfc822-headers\r\n");
	/* 1700000000 + 5 days, in the local zone as the notice writes it. */
	struct tm tm;
	time_t until = 1700000000 + 5 * 86400;
	localtime_r(&until, &tm);
	snprintf(date, sizeof(date), " %04d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	char *want = strstr(n.content, "Will-Retry-Until: ");
	assert_non_null(strstr(want, date));
	python_check(&n, "text/rfc822-headers");
	notice_free(&n);
}

static void test_postmaster_copy(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice a, b;
	int pm;

	load_config(f, "notify_classes = bounce\nbounce_notice_recipient = admin@example.net\n");
	f->rcpt[0].notify = QMSG_NOTIFY_NEVER;
	/* The sender asked for nothing; postmaster still gets the copy. */
	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &a);
	assert_string_equal(a.rcpt, "admin@example.net");
	assert_string_equal(a.sender, "double-bounce@mail.example.com");
	assert_contains(&a, "Subject: Postmaster Copy: Undelivered Mail\r\n");
	assert_contains(&a, "Content-Type: text/rfc822-headers\r\n");
	assert_lacks(&a, "Hi Bob");
	remove_notice(f, ids[0]);
	notice_free(&a);

	f->rcpt[0].notify = 0;
	assert_int_equal(notify(f, BOUNCE_FAILED, 2, ids), 2);
	read_notice(f, ids[0], &a);
	read_notice(f, ids[1], &b);
	pm = strcmp(a.rcpt, "admin@example.net") == 0;
	assert_string_equal(pm ? b.rcpt : a.rcpt, "a@example.com");
	assert_string_equal(pm ? a.rcpt : b.rcpt, "admin@example.net");
	notice_free(&a);
	notice_free(&b);
}

static void test_envid_orcpt_expanded(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice n;

	f->m.envid = "QQ+2B314";
	f->rcpt[0] = (struct qrcpt){ "list@example.com", "rfc822;list+2Bx@example.com", 0 };
	f->dest[0].value = "bob@example.org";
	f->dest[0].text = "host mx said: 550 no\r\nInjected: header";
	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_contains(&n, "Reporting-MTA: dns; mail.example.com\r\nOriginal-Envelope-Id: QQ+314\r\n");
	assert_contains(&n, "Final-Recipient: rfc822; bob@example.org\r\nOriginal-Recipient: rfc822;list+x@example.com\r\n");
	assert_contains(&n, "<bob@example.org> (expanded from <list@example.com>): host mx said: 550 no\r\n"
			    "    Injected: header\r\n");
	assert_lacks(&n, "\nInjected");
	notice_free(&n);
}

static void test_pipe_dest_and_8bit(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice n;
	static const char eight[] = "Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n";

	close(f->fd);
	remove_notice(f, f->orig_id);
	write_original(f, "a@example.com", eight, strlen(eight));
	f->m.body = "8BITMIME";
	f->dest[0] = (struct qdest){ .orig = 0, .kind = QDEST_PIPE, .runas = "postern", .value = "/usr/bin/list",
				     .state = QDEST_BOUNCED, .dsn = "5.3.0", .relay = "local", .diag = "",
				     .text = "Command died with status 1: \"/usr/bin/list\". Command output: no such list" };
	f->rcpt[0].orcpt = NULL;
	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_contains(&n, "Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.3.0\r\n"
			    "Diagnostic-Code: X-Postern; Command died with status 1: \"/usr/bin/list\".\r\n");
	assert_contains(&n, "\r\nContent-Transfer-Encoding: 8bit\r\nMessage-Id: ");
	assert_contains(&n, "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
	assert_contains(&n, eight);
	python_check(&n, "message/rfc822");
	notice_free(&n);
}

/* RFC 6533: an SMTPUTF8 original gets the global types, and UTF-8
 * addresses stay readable; broken UTF-8 from a remote server does not. */
static void test_smtputf8(void **state)
{
	struct fixture *f = *state;
	char ids[4][QUEUE_ID_SIZE];
	struct notice n;

	f->m.sender = "j\xc3\xb6rg@ex\xc3\xa4mple.de";
	f->m.smtputf8 = true;
	f->dest[0].diag = "smtp; 550 5.1.1 bad \xff\xc3 byte";
	assert_int_equal(notify(f, BOUNCE_FAILED, 1, ids), 1);
	read_notice(f, ids[0], &n);
	assert_string_equal(n.rcpt, "j\xc3\xb6rg@ex\xc3\xa4mple.de");
	assert_contains(&n, "\r\nTo: j\xc3\xb6rg@ex\xc3\xa4mple.de\r\n");
	assert_contains(&n, "report-type=global-delivery-status;");
	assert_contains(&n, "Content-Type: text/plain; charset=utf-8\r\n");
	assert_contains(&n, "Content-Type: message/global-delivery-status\r\n");
	assert_contains(&n, "X-Postern-Sender: utf-8; j\xc3\xb6rg@ex\xc3\xa4mple.de\r\n");
	assert_contains(&n, "Final-Recipient: rfc822; bob@example.org\r\n");
	assert_contains(&n, "Diagnostic-Code: smtp; 550 5.1.1 bad ?? byte\r\n");
	assert_contains(&n, "Content-Type: message/global\r\n");
	python_check_types(&n, "global-delivery-status", "message/global-delivery-status", "message/global");
	notice_free(&n);
}

static void test_bad_dest_index(void **state)
{
	struct fixture *f = *state;
	size_t bad = 5;
	char *err = NULL;
	unsigned queued = 7;

	assert_int_equal(bounce_notify(f->b, f->qd, &f->m, f->fd, BOUNCE_FAILED, &bad, 1, &queued, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "dest 5 of 1 does not exist"));
	assert_int_equal(queued, 0);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_failed_to_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ret_hdrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_limit_cuts_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_sender_double_bounce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_sender_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_double_bounce_sender_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_never_and_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_postmaster_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envid_orcpt_expanded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_dest_and_8bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smtputf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dest_index, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
