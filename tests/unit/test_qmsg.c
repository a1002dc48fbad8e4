/*
 * test_qmsg.c - the queue file as the queue manager sees it
 * (smtp/queue/qmsg.h): files written with the real writer
 * (smtp/queue-file.h) read back field by field; every manager record
 * appended and read back; a torn last record (and an expansion cut short)
 * ignored and cut away by the next append; corrupt files each refused
 * with the byte offset in the message; requeue renumbering; the content
 * rewrite; moves that never replace and set the deferred mtime.
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

#include "smtp/queue-file.h"
#include "smtp/queue/qmsg.h"
#include "util.h"

static char *make_queue(void)
{
	char tmpl[] = "/tmp/test-qmsg-XXXXXX";
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

static const struct queue_rcpt rcpts[] = {
	{ "bob@example.net", "rfc822;Bob@example.net", 4u | 8u },      /* FAILURE,DELAY */
	{ "carol@example.org", NULL, 1u },                             /* NEVER */
	{ "dave@example.org", NULL, 2u | 4u | 8u },                    /* SUCCESS,FAILURE,DELAY */
};

static const struct queue_envelope env = {
	.arrival = { 1764082801, 123456000 }, .sender = "alice@example.com", .envid = "QQ314159",
	.ret = "HDRS", .body = "8BITMIME", .smtputf8 = true, .client_name = "mail.example.com",
	.client_addr = "192.0.2.1", .helo = "mail.example.com", .proto = "ESMTPSA",
	.sasl_method = "PLAIN", .sasl_username = "alice", .rcpts = rcpts, .n_rcpts = 3,
};

static const char content[] = "Subject: hello\r\nFrom: alice@example.com\r\n\r\nbody line\r\n";

/* write_msg - a real queue file in active/; the id goes to id. */
static void write_msg(const char *dir, const struct queue_envelope *e, const char *data, char *id)
{
	const char *err = NULL;
	struct queue_file *qf = queue_file_create(dir, id, &err);

	assert_non_null(qf);
	assert_int_equal(queue_file_envelope(qf, e, &err), 0);
	assert_int_equal(queue_file_write(qf, data, strlen(data), &err), 0);
	assert_int_equal(queue_file_commit(&qf, &err), 0);
}

static int open_msg(const char *dir, enum qdir d, const char *id)
{
	char *p = must_asprintf("%s/%s/%s", dir, qdir_name(d), id);
	int fd = open(p, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	free(p);
	return fd;
}

static struct qmsg *read_ok(int fd, const char *id, enum qdir d)
{
	struct qmsg *m = NULL;
	char *err = NULL;
	int rc = qmsg_read(fd, id, d, &m, &err);

	if (rc != 0)
		fail_msg("qmsg_read: %d %s", rc, err);
	assert_non_null(m);
	return m;
}

static off_t file_size(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_size;
}

static void test_read_envelope(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], buf[256];
	int fd;
	struct qmsg *m;

	(void)state;
	write_msg(dir, &env, content, id);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m = read_ok(fd, id, QDIR_ACTIVE);
	assert_string_equal(m->id, id);
	assert_int_equal(m->dir, QDIR_ACTIVE);
	assert_int_equal(m->arrival.tv_sec, 1764082801);
	assert_int_equal(m->arrival.tv_nsec, 123456000);
	assert_string_equal(m->sender, "alice@example.com");
	assert_string_equal(qmsg_sender(m), "alice@example.com");
	assert_string_equal(m->envid, "QQ314159");
	assert_string_equal(m->ret, "HDRS");
	assert_string_equal(m->body, "8BITMIME");
	assert_true(m->smtputf8);
	assert_string_equal(m->client_name, "mail.example.com");
	assert_string_equal(m->client_addr, "192.0.2.1");
	assert_string_equal(m->helo, "mail.example.com");
	assert_string_equal(m->proto, "ESMTPSA");
	assert_string_equal(m->sasl_method, "PLAIN");
	assert_string_equal(m->sasl_username, "alice");
	assert_int_equal(m->n_rcpts, 3);
	assert_string_equal(m->rcpts[0].addr, "bob@example.net");
	assert_string_equal(m->rcpts[0].orcpt, "rfc822;Bob@example.net");
	assert_int_equal(m->rcpts[0].notify, QMSG_NOTIFY_FAILURE | QMSG_NOTIFY_DELAY);
	assert_null(m->rcpts[1].orcpt);
	assert_int_equal(m->rcpts[1].notify, QMSG_NOTIFY_NEVER);
	assert_int_equal(m->rcpts[2].notify, QMSG_NOTIFY_SUCCESS | QMSG_NOTIFY_FAILURE | QMSG_NOTIFY_DELAY);
	assert_int_equal(m->content_size, (off_t)strlen(content));
	assert_int_equal(pread(fd, buf, sizeof(content) - 1, m->content_offset), (ssize_t)sizeof(content) - 1);
	assert_memory_equal(buf, content, sizeof(content) - 1);
	assert_int_equal(m->good_end, file_size(fd));
	assert_false(m->expanded);
	assert_int_equal(m->n_dests, 0);
	assert_false(qmsg_done(m));
	assert_int_equal(m->attempts, 0);
	qmsg_free(&m);
	assert_null(m);
	qmsg_free(&m);
	close(fd);
	remove_tree(dir);
}

static void check_same(const struct qmsg *a, const struct qmsg *b)
{
	assert_int_equal(a->expanded, b->expanded);
	assert_int_equal(a->n_dests, b->n_dests);
	assert_int_equal(a->warned, b->warned);
	assert_int_equal(a->attempts, b->attempts);
	assert_int_equal(a->next_attempt, b->next_attempt);
	assert_int_equal(a->good_end, b->good_end);
	if (a->xsender == NULL)
		assert_null(b->xsender);
	else
		assert_string_equal(a->xsender, b->xsender);
	for (size_t i = 0; i < a->n_dests; i++) {
		const struct qdest *x = &a->dests[i], *y = &b->dests[i];
		assert_int_equal(x->orig, y->orig);
		assert_int_equal(x->kind, y->kind);
		if (x->runas == NULL)
			assert_null(y->runas);
		else
			assert_string_equal(x->runas, y->runas);
		assert_string_equal(x->value, y->value);
		assert_int_equal(x->state, y->state);
		assert_string_equal(x->dsn, y->dsn);
		assert_int_equal(x->when, y->when);
		if (x->relay == NULL)
			assert_null(y->relay);
		else
			assert_string_equal(x->relay, y->relay);
		assert_string_equal(x->diag, y->diag);
		assert_string_equal(x->text, y->text);
		assert_int_equal(x->notified, y->notified);
	}
}

/* Every record type appended, m updated, and a fresh read agrees. */
static void test_append_every_record(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *err = NULL;
	int fd;
	struct qmsg *m, *m2;
	const struct qdest_new nd[] = {
		{ 0, QDEST_ADDR, NULL, "bob@example.net" },
		{ 1, QDEST_PIPE, "carol", "|/usr/bin/procmail -a\tx" },
		{ 2, QDEST_DISCARD, NULL, "dave@example.org" },
		{ 2, QDEST_FILE, "nobody", "/var/mail/archive" },
	};
	const struct qstatus exp_st[] = {
		{ 3, QDEST_BOUNCED, "5.2.0", "local", "", "cannot write /var/mail/archive" },
	};
	const struct qstatus st[] = {
		{ 0, QDEST_DEFERRED, "4.2.0", "mx.example.net[192.0.2.7]:25",
		  "smtp; 450 4.2.0 try later", "host mx.example.net[192.0.2.7] said: 450 4.2.0 try later" },
		{ 1, QDEST_SENT, "2.0.0", "local", "", "delivered to command: procmail" },
	};
	const size_t notified[] = { 3 };

	(void)state;
	write_msg(dir, &env, content, id);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(qmsg_append_expansion(fd, m, "alice@mail.example.com", nd, 4, exp_st, 1, &err), 0);
	assert_true(m->expanded);
	assert_int_equal(m->n_dests, 4);
	assert_string_equal(qmsg_sender(m), "alice@mail.example.com");
	assert_string_equal(m->dests[1].runas, "carol");
	assert_string_equal(m->dests[1].value, "|/usr/bin/procmail -a\tx");
	assert_null(m->dests[0].runas);
	assert_int_equal(m->dests[3].state, QDEST_BOUNCED);
	assert_string_equal(m->dests[3].dsn, "5.2.0");
	assert_false(qmsg_dest_final(m, 3));      /* the sender must be told first */
	assert_true(qmsg_dest_final(m, 2));       /* discard */
	assert_int_equal(qmsg_append_status(fd, m, st, 2, &err), 0);
	assert_int_equal(m->dests[0].state, QDEST_DEFERRED);
	assert_string_equal(m->dests[0].relay, "mx.example.net[192.0.2.7]:25");
	assert_string_equal(m->dests[0].diag, "smtp; 450 4.2.0 try later");
	assert_true(qmsg_dest_final(m, 1));
	assert_int_equal(qmsg_append_notified(fd, m, notified, 1, &err), 0);
	assert_true(qmsg_dest_final(m, 3));
	assert_int_equal(qmsg_append_warned(fd, m, &err), 0);
	assert_int_equal(qmsg_append_deferred(fd, m, 1764083000, 1764083300, &err), 0);
	assert_int_equal(qmsg_append_deferred(fd, m, 1764083300, 1764083900, &err), 0);
	assert_int_equal(m->attempts, 2);
	assert_int_equal(m->next_attempt, 1764083900);
	assert_int_equal(m->good_end, file_size(fd));
	assert_false(qmsg_done(m));

	m2 = read_ok(fd, id, QDIR_ACTIVE);
	check_same(m, m2);
	qmsg_free(&m2);

	/* The last one delivered: done. */
	const struct qstatus last = { 0, QDEST_SENT, "2.0.0", "mx.example.net[192.0.2.7]:25", "",
				      "250 2.0.0 Ok: queued as X" };
	assert_int_equal(qmsg_append_status(fd, m, &last, 1, &err), 0);
	assert_true(qmsg_done(m));
	m2 = read_ok(fd, id, QDIR_ACTIVE);
	check_same(m, m2);
	assert_true(qmsg_done(m2));
	qmsg_free(&m2);

	/* Bad arguments: refused, nothing written. */
	off_t before = file_size(fd);
	const struct qstatus badst = { 9, QDEST_SENT, "2.0.0", "local", "", "" };
	assert_int_equal(qmsg_append_status(fd, m, &badst, 1, &err), -1);
	assert_non_null(err);
	x_free(&err);
	const size_t badn[] = { 4 };
	assert_int_equal(qmsg_append_notified(fd, m, badn, 1, &err), -1);
	assert_non_null(strstr(err, "notified: dest 4 out of range (4 dests)"));
	x_free(&err);
	assert_int_equal(file_size(fd), before);
	qmsg_free(&m);
	close(fd);
	remove_tree(dir);
}

/* Who is told about a bounce decides whether it is final. */
static void test_dest_final_rules(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *err = NULL;
	struct queue_envelope e = env;
	int fd;
	struct qmsg *m;
	const struct qdest_new nd[] = {
		{ 0, QDEST_ADDR, NULL, "bob@example.net" },    /* FAILURE,DELAY */
		{ 1, QDEST_ADDR, NULL, "carol@example.org" },  /* NEVER */
		{ 2, QDEST_ADDR, NULL, "dave@example.org" },   /* SUCCESS,FAILURE,DELAY */
	};
	const struct qstatus st[] = {
		{ 0, QDEST_BOUNCED, "5.1.1", "none", "", "unknown" },
		{ 1, QDEST_BOUNCED, "5.1.1", "none", "", "unknown" },
		{ 2, QDEST_BOUNCED, "5.1.1", "none", "", "unknown" },
	};
	struct queue_rcpt r2[3];

	(void)state;
	write_msg(dir, &e, content, id);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(qmsg_append_expansion(fd, m, NULL, nd, 3, st, 3, &err), 0);
	assert_false(qmsg_dest_final(m, 0));
	assert_true(qmsg_dest_final(m, 1));
	assert_false(qmsg_dest_final(m, 2));
	assert_false(qmsg_dest_final(m, 3));   /* out of range */
	qmsg_free(&m);
	close(fd);

	/* A null sender: nobody is ever told. NOTIFY=SUCCESS alone: not about failures. */
	memcpy(r2, rcpts, sizeof(r2));
	r2[0].notify = 2u;
	r2[2].notify = 0;
	e.sender = "";
	e.rcpts = r2;
	write_msg(dir, &e, content, id);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m = read_ok(fd, id, QDIR_ACTIVE);
	assert_string_equal(m->sender, "");
	assert_int_equal(qmsg_append_expansion(fd, m, NULL, nd, 3, st, 3, &err), 0);
	assert_true(qmsg_done(m));
	qmsg_free(&m);
	close(fd);

	e.sender = "alice@example.com";
	write_msg(dir, &e, content, id);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(qmsg_append_expansion(fd, m, NULL, nd, 3, st, 3, &err), 0);
	assert_true(qmsg_dest_final(m, 0));    /* SUCCESS only */
	assert_true(qmsg_dest_final(m, 1));    /* NEVER */
	assert_false(qmsg_dest_final(m, 2));   /* not given: failures are reported */
	qmsg_free(&m);
	close(fd);
	remove_tree(dir);
}

static void append_raw(int fd, const char *bytes)
{
	off_t end = file_size(fd);
	assert_int_equal(pwrite(fd, bytes, strlen(bytes), end), (ssize_t)strlen(bytes));
}

/* A crash in the middle of an append: ignored when read, cut away by the
 * next append. */
static void test_torn_tail(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *err = NULL;
	int fd;
	struct qmsg *m, *m2;
	const struct qdest_new nd[] = { { 0, QDEST_ADDR, NULL, "bob@example.net" } };
	static const char *const torn[] = {
		"st", "status", "status 4", "status 40:0\tsent", "status 4:0\tse", "status 4:0\tse", "warned 0:",
	};

	(void)state;
	write_msg(dir, &env, content, id);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(qmsg_append_expansion(fd, m, NULL, nd, 1, NULL, 0, &err), 0);
	off_t good = m->good_end;
	for (size_t i = 0; i < sizeof(torn) / sizeof(torn[0]); i++) {
		append_raw(fd, torn[i]);
		m2 = read_ok(fd, id, QDIR_ACTIVE);
		assert_int_equal(m2->good_end, good);
		assert_false(m2->warned);
		qmsg_free(&m2);
		assert_int_equal(ftruncate(fd, good), 0);
	}
	/* A crashed extending write shown as NUL bytes: torn too. */
	static const char zeros[64];
	static const char *const nul_tails[] = { "", "status 4:0\tse", "status 40:0\tsent", "warned 0:" };
	for (size_t i = 0; i < sizeof(nul_tails) / sizeof(nul_tails[0]); i++) {
		append_raw(fd, nul_tails[i]);
		assert_int_equal(pwrite(fd, zeros, sizeof(zeros), file_size(fd)), (ssize_t)sizeof(zeros));
		m2 = read_ok(fd, id, QDIR_ACTIVE);
		assert_int_equal(m2->good_end, good);
		qmsg_free(&m2);
		assert_int_equal(ftruncate(fd, good), 0);
	}
	/* Newlines in values are written as spaces: the rule above holds. */
	const struct qstatus nl = { 0, QDEST_DEFERRED, "4.0.0", "a\nb", "x\ty", "line 1\nline 2\tend" };
	assert_int_equal(qmsg_append_status(fd, m, &nl, 1, &err), 0);
	assert_string_equal(m->dests[0].relay, "a b");
	assert_string_equal(m->dests[0].diag, "x y");
	assert_string_equal(m->dests[0].text, "line 1 line 2\tend");
	m2 = read_ok(fd, id, QDIR_ACTIVE);
	check_same(m, m2);
	qmsg_free(&m2);
	good = m->good_end;
	append_raw(fd, "status 40:0\tsent");
	m2 = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(qmsg_append_warned(fd, m2, &err), 0);
	assert_int_equal(file_size(fd), good + (off_t)strlen("warned 0:\n"));
	qmsg_free(&m2);
	m2 = read_ok(fd, id, QDIR_ACTIVE);
	assert_true(m2->warned);
	assert_int_equal(m2->good_end, file_size(fd));
	qmsg_free(&m2);

	/* An expansion cut short: its dest records are ignored and the next
	 * append (a new expansion after a requeue) replaces them. */
	good = file_size(fd);
	append_raw(fd, "dest 22:0\taddr\t-\tx@example.com\n");
	m2 = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(m2->n_dests, 1);
	assert_int_equal(m2->good_end, good);
	assert_int_equal(qmsg_append_requeued(fd, m2, 1764083000, &err), 0);
	assert_int_equal(m2->n_dests, 0);
	assert_false(m2->expanded);
	const struct qdest_new nd2[] = { { 0, QDEST_ADDR, NULL, "robert@example.net" } };
	assert_int_equal(qmsg_append_expansion(fd, m2, NULL, nd2, 1, NULL, 0, &err), 0);
	qmsg_free(&m2);
	m2 = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(m2->n_dests, 1);
	assert_string_equal(m2->dests[0].value, "robert@example.net");
	assert_true(m2->expanded);
	qmsg_free(&m2);
	qmsg_free(&m);
	close(fd);
	remove_tree(dir);
}

/* requeue keeps final dests and renumbers the rest the same way on both
 * sides (the appender's m and a fresh read). */
static void test_requeue_numbering(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *err = NULL;
	int fd;
	struct qmsg *m, *m2;
	const struct qdest_new nd[] = {
		{ 0, QDEST_ADDR, NULL, "bob@example.net" },
		{ 1, QDEST_ADDR, NULL, "carol@example.org" },
		{ 2, QDEST_ADDR, NULL, "dave@example.org" },
	};
	const struct qstatus st[] = {
		{ 0, QDEST_DEFERRED, "4.4.1", "none", "", "connection refused" },
		{ 1, QDEST_SENT, "2.0.0", "local", "", "delivered" },
	};

	(void)state;
	write_msg(dir, &env, content, id);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(qmsg_append_expansion(fd, m, NULL, nd, 3, st, 2, &err), 0);
	assert_int_equal(qmsg_append_requeued(fd, m, 1764083000, &err), 0);
	assert_int_equal(m->n_dests, 1);
	assert_string_equal(m->dests[0].value, "carol@example.org");
	assert_false(m->expanded);
	assert_false(qmsg_done(m));
	const struct qdest_new again[] = {
		{ 0, QDEST_ADDR, NULL, "bob@example.net" },
		{ 2, QDEST_ADDR, NULL, "dave@example.org" },
	};
	const struct qstatus st2[] = { { 1, QDEST_SENT, "2.0.0", "local", "", "delivered" } };
	assert_int_equal(qmsg_append_expansion(fd, m, NULL, again, 2, st2, 1, &err), 0);
	assert_int_equal(m->n_dests, 3);
	assert_int_equal(m->dests[2].state, QDEST_SENT);
	const struct qstatus st3[] = { { 1, QDEST_SENT, "2.0.0", "local", "", "delivered" } };
	assert_int_equal(qmsg_append_status(fd, m, st3, 1, &err), 0);
	assert_true(qmsg_done(m));
	m2 = read_ok(fd, id, QDIR_ACTIVE);
	check_same(m, m2);
	assert_true(qmsg_done(m2));
	qmsg_free(&m2);
	qmsg_free(&m);
	close(fd);
	remove_tree(dir);
}

/* A hand-made file: MAGIC + sender@16 + rcpt@29 + message@40, content
 * at 64 ("hello"), ending at 69; tail goes after the content. */
#define HEAD "POSTERN-QUEUE 1\nsender 3:a@b\nrcpt 3:c@d\nmessage 000000000000005\nhello"

static int read_bytes(const char *bytes, size_t len, char **err)
{
	char path[] = "/tmp/test-qmsg-file-XXXXXX";
	int fd = mkstemp(path);
	struct qmsg *m = NULL;
	int rc;

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	rc = qmsg_read(fd, "0123456789AB", QDIR_ACTIVE, &m, err);
	if (rc == 0)
		assert_non_null(m);
	else
		assert_null(m);
	qmsg_free(&m);
	close(fd);
	return rc;
}

static void expect_corrupt(const char *bytes, const char *message)
{
	char *err = NULL;

	assert_int_equal(read_bytes(bytes, strlen(bytes), &err), -1);
	assert_non_null(err);
	assert_string_equal(err, message);
	free(err);
}

static void test_corrupt_files(void **state)
{
	char *err = NULL;

	(void)state;
	assert_int_equal(read_bytes(HEAD, strlen(HEAD), &err), 0);
	expect_corrupt("XOSTERN-QUEUE 1\nsender 3:a@b\n",
		       "byte 0: bad magic line (not a \"POSTERN-QUEUE 1\" queue file)");
	expect_corrupt("POST", "byte 0: file too short for the magic line (4 bytes)");
	expect_corrupt("POSTERN-QUEUE 1\nsender 3x:a@b\nrcpt 3:c@d\nmessage 000000000000005\nhello",
		       "record at byte 16: bad length");
	expect_corrupt("POSTERN-QUEUE 1\nsender 999999999:a@b\n", "record at byte 16: bad length");
	expect_corrupt("POSTERN-QUEUE 1\nsender 2000000:a@b\n",
		       "record at byte 16: length 2000000 over the limit of 1048576");
	expect_corrupt("POSTERN-QUEUE 1\nsender 3:a@b\nrcpt 99:c@d\nmessage 000000000000005\nhello",
		       "record at byte 29: length 99 runs past the end of the file");
	expect_corrupt("POSTERN-QUEUE 1\nSender 3:a@b\n", "record at byte 16: bad record name");
	expect_corrupt("POSTERN-QUEUE 1\nsender 3:a@b\nrcpt 3:c@d\n",
		       "record at byte 40: the file ends before the message size record");
	expect_corrupt("POSTERN-QUEUE 1\nsender 3:a@b\nrcpt 3:c@d\nmessage 000000000000009\nhello",
		       "record at byte 40: message size 9 runs past the end of the file (5 bytes follow)");
	expect_corrupt("POSTERN-QUEUE 1\nsender 3:a@b\nrcpt 3:c@d\nmessage 0000000000000x5\nhello",
		       "record at byte 40: bad message size record");
	expect_corrupt("POSTERN-QUEUE 1\nrcpt 3:c@d\nmessage 000000000000005\nhello",
		       "record at byte 27: no sender record before the message");
	expect_corrupt("POSTERN-QUEUE 1\nsender 3:a@b\norcpt 3:c@d\nmessage 000000000000005\nhello",
		       "record at byte 29: orcpt: before any rcpt record");
	expect_corrupt("POSTERN-QUEUE 1\nsender 3:a@b\nrcpt 3:c@d\nnotify 6:ALWAYS\nmessage 000000000000005\nhello",
		       "record at byte 40: notify: not NEVER or a list of SUCCESS, FAILURE, DELAY");
	/* A record after the content cut short in the middle of the file:
	 * its value is not followed by the newline. */
	expect_corrupt(HEAD "warned 3:\nxxxx\n", "record at byte 69: no newline after its 3-byte value");
	/* Dest and status numbers out of range. */
	expect_corrupt(HEAD "dest 12:5\taddr\t-\tx@y\nexpanded 0:\n",
		       "record at byte 69: dest: recipient 5 out of range (1 recipients)");
	expect_corrupt(HEAD "status 24:0\tsent\t2.0.0\t1\tlocal\t\tok\n",
		       "record at byte 69: status: dest 0 out of range (0 dests)");
	expect_corrupt(HEAD "dest 12:0\taddr\t-\tx@y\nexpanded 0:\nnotified 3:0,1\n",
		       "record at byte 102: notified: dest 1 out of range (1 dests)");
	expect_corrupt(HEAD "dest 12:0\tmail\t-\tx@y\n",
		       "record at byte 69: dest: unknown kind (addr, pipe, file or discard)");
	expect_corrupt(HEAD "dest 12:0\taddr\t-\tx@y\nexpanded 0:\nstatus 24:0\tlost\t2.0.0\t1\tlocal\t\tok\n",
		       "record at byte 102: status: result not sent, bounced or deferred");
	expect_corrupt(HEAD "deferred 3:abc\n", "record at byte 69: deferred: not TIME<tab>NEXT");
	/* Unknown records are skipped (a later version's). */
	assert_int_equal(read_bytes(HEAD "future 3:abc\n", strlen(HEAD "future 3:abc\n"), &err), 0);
	/* A NUL byte inside a string value. */
	assert_int_equal(read_bytes("POSTERN-QUEUE 1\nsender 3:a\0b\nrcpt 3:c@d\nmessage 000000000000005\nhello", 69,
				    &err), -1);
	assert_string_equal(err, "record at byte 16: NUL byte in the sender value");
	free(err);
}

static void test_rewrite_content(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *err = NULL, buf[256];
	const char *hdr = "Subject: rewritten\r\nFrom: alice@mail.example.com\r\nX-Extra: 1\r\n\r\n";
	int fd;
	struct qmsg *m, *m2;
	const char *body = strstr(content, "\r\n\r\n") + 4;

	(void)state;
	write_msg(dir, &env, content, id);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(qmsg_append_warned(fd, m, &err), 0);
	off_t body_off = m->content_offset + (body - content);
	assert_int_equal(qmsg_rewrite_content(dir, &fd, m, hdr, strlen(hdr), body_off, &err), 0);
	assert_int_equal(m->content_size, (off_t)(strlen(hdr) + strlen(body)));
	assert_false(m->warned);   /* the manager section stayed behind */
	m2 = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(m2->content_offset, m->content_offset);
	assert_int_equal(m2->content_size, m->content_size);
	assert_int_equal(m2->good_end, m->good_end);
	assert_string_equal(m2->sender, "alice@example.com");
	assert_string_equal(m2->envid, "QQ314159");
	assert_int_equal(m2->arrival.tv_nsec, 123456000);
	assert_int_equal(m2->n_rcpts, 3);
	assert_string_equal(m2->rcpts[0].orcpt, "rfc822;Bob@example.net");
	assert_int_equal(m2->rcpts[2].notify, QMSG_NOTIFY_SUCCESS | QMSG_NOTIFY_FAILURE | QMSG_NOTIFY_DELAY);
	assert_false(m2->warned);
	assert_int_equal(pread(fd, buf, (size_t)m2->content_size, m2->content_offset), m2->content_size);
	assert_memory_equal(buf, hdr, strlen(hdr));
	assert_memory_equal(buf + strlen(hdr), body, strlen(body));
	qmsg_free(&m2);
	/* The new fd is the file in active/ (appends land there). */
	assert_int_equal(qmsg_append_warned(fd, m, &err), 0);
	close(fd);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m2 = read_ok(fd, id, QDIR_ACTIVE);
	assert_true(m2->warned);
	qmsg_free(&m2);
	/* Nothing left in incoming/. */
	char *inc = must_asprintf("%s/incoming/%s", dir, id);
	assert_int_equal(access(inc, F_OK), -1);
	free(inc);
	/* A body offset outside the content is refused. */
	assert_int_equal(qmsg_rewrite_content(dir, &fd, m, hdr, strlen(hdr), 3, &err), -1);
	assert_non_null(strstr(err, "outside the content"));
	free(err);
	/* incoming/ID is the scratch name: a file there cannot be rewritten. */
	m->dir = QDIR_INCOMING;
	assert_int_equal(qmsg_rewrite_content(dir, &fd, m, hdr, strlen(hdr), m->content_offset, &err), -1);
	assert_non_null(strstr(err, "cannot rewrite a file in incoming/"));
	free(err);
	qmsg_free(&m);
	close(fd);
	remove_tree(dir);
}

static void test_move_find(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *err = NULL, *p;
	enum qdir d;
	struct stat st;

	(void)state;
	write_msg(dir, &env, content, id);
	assert_int_equal(qmsg_find(dir, id, &d), 0);
	assert_int_equal(d, QDIR_ACTIVE);
	assert_int_equal(qmsg_move(dir, id, QDIR_ACTIVE, QDIR_DEFERRED, 1764090000, &err), 0);
	assert_int_equal(qmsg_find(dir, id, &d), 0);
	assert_int_equal(d, QDIR_DEFERRED);
	p = must_asprintf("%s/deferred/%s", dir, id);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mtime, 1764090000);
	/* A file with the same id in hold/: never replaced. */
	char *h = must_asprintf("%s/hold/%s", dir, id);
	FILE *f = fopen(h, "w");
	assert_non_null(f);
	fputs("other", f);
	fclose(f);
	assert_int_equal(qmsg_move(dir, id, QDIR_DEFERRED, QDIR_HOLD, 0, &err), -1);
	assert_non_null(strstr(err, "exists already; not replaced"));
	x_free(&err);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(stat(h, &st), 0);
	assert_int_equal(st.st_size, 5);
	unlink(h);
	assert_int_equal(qmsg_move(dir, id, QDIR_DEFERRED, QDIR_HOLD, 0, &err), 0);
	assert_int_equal(qmsg_find(dir, id, &d), 0);
	assert_int_equal(d, QDIR_HOLD);
	assert_int_equal(qmsg_move(dir, id, QDIR_DEFERRED, QDIR_ACTIVE, 0, &err), -1);
	x_free(&err);
	assert_int_equal(qmsg_move(dir, "../../etc/x", QDIR_HOLD, QDIR_ACTIVE, 0, &err), -1);
	x_free(&err);
	assert_int_equal(qmsg_find(dir, "0123456789AB", &d), -1);
	assert_int_equal(qmsg_find(dir, "../hold", &d), -1);
	free(h);
	free(p);
	remove_tree(dir);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(qmsg_id_valid("3F2A9C01B7E4"));
	assert_false(qmsg_id_valid("3f2a9c01b7e4"));
	assert_false(qmsg_id_valid("3F2A9C01B7E"));
	assert_false(qmsg_id_valid("3F2A9C01B7E45"));
	assert_false(qmsg_id_valid("3F2A9C01B7EG"));
	assert_false(qmsg_id_valid(""));
	assert_false(qmsg_id_valid(NULL));
	assert_string_equal(qdir_name(QDIR_INCOMING), "incoming");
	assert_string_equal(qdir_name(QDIR_ACTIVE), "active");
	assert_string_equal(qdir_name(QDIR_DEFERRED), "deferred");
	assert_string_equal(qdir_name(QDIR_HOLD), "hold");
	assert_string_equal(qdir_name(QDIR_CORRUPT), "corrupt");
	assert_string_equal(qmsg_state_name(QDEST_PENDING), "pending");
	assert_string_equal(qmsg_state_name(QDEST_SENT), "sent");
	assert_string_equal(qmsg_state_name(QDEST_BOUNCED), "bounced");
	assert_string_equal(qmsg_state_name(QDEST_DEFERRED), "deferred");
}

/* A big file is read in windows: many recipients, a large content. */
static void test_many_records(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE];
	struct queue_rcpt *many = must_calloc(3000, sizeof(*many));
	char (*names)[48] = must_calloc(3000, 48);
	struct queue_envelope e = env;
	struct qmsg *m;
	char *big = must_malloc(300001);
	int fd;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		snprintf(names[i], 48, "user%04d@example.net", i);
		many[i].addr = names[i];
	}
	e.rcpts = many;
	e.n_rcpts = 3000;
	memset(big, 'x', 300000);
	big[300000] = '\0';
	write_msg(dir, &e, big, id);
	fd = open_msg(dir, QDIR_ACTIVE, id);
	m = read_ok(fd, id, QDIR_ACTIVE);
	assert_int_equal(m->n_rcpts, 3000);
	assert_string_equal(m->rcpts[2999].addr, "user2999@example.net");
	assert_int_equal(m->content_size, 300000);
	qmsg_free(&m);
	close(fd);
	free(big);
	free(names);
	free(many);
	remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_envelope),
		cmocka_unit_test(test_append_every_record),
		cmocka_unit_test(test_dest_final_rules),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_requeue_numbering),
		cmocka_unit_test(test_corrupt_files),
		cmocka_unit_test(test_rewrite_content),
		cmocka_unit_test(test_move_find),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_many_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
