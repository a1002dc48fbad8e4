/*
 * test_smtp_params.c - table-driven tests of the SMTP command-line parser
 * (smtp/smtp-params.c) and of the queue-file writer (smtp/queue-file.c):
 * exact replies for bad parameters, the path split, and a queue file's
 * bytes after commit / nothing left after abort.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtp/queue-file.h"
#include "smtp/smtp-params.h"
#include "util.h"

static void test_command_split(void **state)
{
	size_t args;

	(void)state;
	assert_int_equal(smtp_command_split("MAIL FROM:<a@b>", 15, &args), 4);
	assert_int_equal(args, 5);
	assert_int_equal(smtp_command_split("QUIT", 4, &args), 4);
	assert_int_equal(args, 4);
	assert_int_equal(smtp_command_split(" QUIT", 5, &args), 0);
	assert_int_equal(smtp_command_split("MA1L x", 6, &args), 0);
	assert_int_equal(smtp_command_split("", 0, &args), 0);
}

static void test_path_split(void **state)
{
	static const struct {
		const char *args, *key;
		int rc;
		const char *path, *params;
	} cases[] = {
		{ "FROM:<a@b>", "FROM:", 0, "<a@b>", "" },
		{ "from: <a@b>  SIZE=1", "FROM:", 0, "<a@b>", "SIZE=1" },
		{ "FROM:<\"x>y\"@b> BODY=7BIT", "FROM:", 0, "<\"x>y\"@b>", "BODY=7BIT" },
		{ "FROM:a@b SIZE=2", "FROM:", 0, "a@b", "SIZE=2" },
		{ "FROM:<>", "FROM:", 0, "<>", "" },
		{ "FROM:<a@b", "FROM:", -1, NULL, NULL },
		{ "FROM:<a@b>x", "FROM:", -1, NULL, NULL },
		{ "FROM:", "FROM:", -1, NULL, NULL },
		{ "TO:<a@b>", "FROM:", -1, NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t po, pl, pa, len = strlen(cases[i].args);
		int rc = smtp_path_split(cases[i].args, len, cases[i].key, &po, &pl, &pa);
		assert_int_equal(rc, cases[i].rc);
		if (rc < 0)
			continue;
		assert_int_equal(pl, strlen(cases[i].path));
		assert_memory_equal(cases[i].args + po, cases[i].path, pl);
		assert_string_equal(cases[i].args + pa, cases[i].params);
	}
}

static void test_mail_params(void **state)
{
	static const struct {
		const char *text;
		const char *reply;   /* NULL: accepted */
	} cases[] = {
		{ "", NULL },
		{ "SIZE=100 BODY=8BITMIME RET=FULL ENVID=abc+2B SMTPUTF8 AUTH=<>", NULL },
		{ "size=100 body=7bit", NULL },
		{ "SIZE=20000", "552 5.3.4 Message size exceeds fixed limit" },
		{ "SIZE=99999999999999999999999", "555 5.5.4 Unsupported option: SIZE=99999999999999999999999" },
		{ "SIZE=1x", "555 5.5.4 Unsupported option: SIZE=1x" },
		{ "SIZE=1 SIZE=2", "555 5.5.4 Unsupported option: SIZE=2" },
		{ "BODY=BINARYMIME", "555 5.5.4 Unsupported option: BODY=BINARYMIME" },
		{ "RET=ALL", "555 5.5.4 Unsupported option: RET=ALL" },
		{ "ENVID=a=b", "555 5.5.4 Unsupported option: ENVID=a=b" },
		{ "ENVID=+4", "555 5.5.4 Unsupported option: ENVID=+4" },
		{ "SMTPUTF8=yes", "555 5.5.4 Unsupported option: SMTPUTF8=yes" },
		{ "XFOO", "555 5.5.4 Unsupported option: XFOO" },
		{ "A B C D E F G H I J K L M N O P Q", "555 5.5.4 Error: too many parameters" },
	};
	char buf[512];
	const char *reply;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_mail_params p;
		int rc = smtp_mail_params_parse(cases[i].text, strlen(cases[i].text), 10000, &p,
						buf, sizeof(buf), &reply);
		if (cases[i].reply == NULL) {
			assert_int_equal(rc, 0);
			smtp_mail_params_free(&p);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(reply, cases[i].reply);
			assert_null(p.envid);
		}
	}
	struct smtp_mail_params p;
	assert_int_equal(smtp_mail_params_parse("SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x SMTPUTF8", 48,
						10000, &p, buf, sizeof(buf), &reply), 0);
	assert_true(p.has_size);
	assert_int_equal(p.size, 100);
	assert_int_equal(p.body, SMTP_BODY_8BITMIME);
	assert_int_equal(p.ret, SMTP_RET_HDRS);
	assert_string_equal(p.envid, "x");
	assert_true(p.smtputf8);
	smtp_mail_params_free(&p);
}

static void test_rcpt_params(void **state)
{
	unsigned notify;
	char *orcpt, buf[512];
	const char *reply;

	(void)state;
	assert_int_equal(smtp_rcpt_params_parse("NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+40b", 39, &notify,
						&orcpt, buf, sizeof(buf), &reply), 0);
	assert_int_equal(notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY);
	assert_string_equal(orcpt, "rfc822;a+40b");
	free(orcpt);
	assert_int_equal(smtp_rcpt_params_parse("NOTIFY=NEVER", 12, &notify, &orcpt, buf, sizeof(buf), &reply), 0);
	assert_int_equal(notify, SMTP_NOTIFY_NEVER);
	assert_int_equal(smtp_rcpt_params_parse("NOTIFY=NEVER,DELAY", 18, &notify, &orcpt, buf, sizeof(buf), &reply), -1);
	assert_string_equal(reply, "555 5.5.4 Unsupported option: NOTIFY=NEVER,DELAY");
	assert_int_equal(smtp_rcpt_params_parse("NOTIFY=", 7, &notify, &orcpt, buf, sizeof(buf), &reply), -1);
	assert_int_equal(smtp_rcpt_params_parse("ORCPT=;x", 8, &notify, &orcpt, buf, sizeof(buf), &reply), -1);
	assert_int_equal(smtp_rcpt_params_parse("ORCPT=rfc822;", 13, &notify, &orcpt, buf, sizeof(buf), &reply), -1);
	assert_int_equal(smtp_rcpt_params_parse("ORCPT=rfc822;a ORCPT=rfc822;b", 29, &notify, &orcpt, buf,
						sizeof(buf), &reply), -1);
	assert_null(orcpt);
	assert_string_equal(reply, "555 5.5.4 Unsupported option: ORCPT=rfc822;b");
}

static char *make_queue_dir(void)
{
	char tmpl[] = "/tmp/test-queue-XXXXXX";
	char *d = mkdtemp(tmpl), *p;

	assert_non_null(d);
	d = must_strdup(d);
	p = must_asprintf("%s/incoming", d);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = must_asprintf("%s/active", d);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	return d;
}

static int count_entries(const char *dir, const char *sub)
{
	char *p = must_asprintf("%s/%s", dir, sub);
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

static void remove_tree(const char *dir)
{
	char *cmd = must_asprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_queue_file_commit_and_abort(void **state)
{
	char *dir = make_queue_dir(), id[QUEUE_ID_SIZE], id2[QUEUE_ID_SIZE];
	const char *err;
	struct queue_rcpt rcpts[] = { { "b@example.org", "rfc822;b@example.org", 2 | 4 } };
	struct queue_envelope env = {
		.arrival = { 1700000000, 5000 }, .sender = "a\nb@example.com", .proto = "ESMTP",
		.client_name = "unknown", .client_addr = "192.0.2.1", .rcpts = rcpts, .n_rcpts = 1,
	};
	struct queue_file *qf = queue_file_create(dir, id, &err);

	(void)state;
	assert_non_null(qf);
	assert_int_equal(strlen(id), 12);
	/* A message that fits the 64 KiB buffer is created at commit. */
	assert_int_equal(count_entries(dir, "incoming"), 0);
	assert_int_equal(queue_file_envelope(qf, &env, &err), 0);
	assert_int_equal(queue_file_write(qf, "Subject: x\r\n\r\nhi\r\n", 18, &err), 0);
	assert_int_equal(queue_file_size(qf), 18);
	assert_int_equal(queue_file_commit(&qf, &err), 0);
	assert_null(qf);
	assert_int_equal(count_entries(dir, "incoming"), 0);
	assert_int_equal(count_entries(dir, "active"), 1);

	char *path = must_asprintf("%s/active/%s", dir, id);
	size_t len;
	char *data = file_read_all(path, 1 << 20, &len, &err);
	assert_non_null(data);
	char *expect = must_asprintf("POSTERN-QUEUE 1\nid 12:%s\narrival 17:1700000000.000005\n"
				     "sender 15:a\nb@example.com\nclient_name 7:unknown\n"
				     "client_addr 9:192.0.2.1\nproto 5:ESMTP\nrcpt 13:b@example.org\n"
				     "orcpt 20:rfc822;b@example.org\nnotify 15:SUCCESS,FAILURE\n"
				     "message 000000000000018\nSubject: x\r\n\r\nhi\r\n", id);
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(data, expect, len);
	free(expect);
	free(data);
	free(path);

	qf = queue_file_create(dir, id2, &err);
	assert_non_null(qf);
	assert_string_not_equal(id, id2);
	assert_int_equal(queue_file_envelope(qf, &env, &err), 0);
	queue_file_abort(&qf);
	assert_null(qf);
	assert_int_equal(count_entries(dir, "incoming"), 0);
	assert_int_equal(count_entries(dir, "active"), 1);
	remove_tree(dir);
	free(dir);
}

static void test_queue_file_create_fails_cleanly(void **state)
{
	char id[QUEUE_ID_SIZE];
	const char *err = NULL;

	(void)state;
	assert_null(queue_file_create("/nonexistent-postern-queue", id, &err));
	assert_non_null(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_split),
		cmocka_unit_test(test_path_split),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_rcpt_params),
		cmocka_unit_test(test_queue_file_commit_and_abort),
		cmocka_unit_test(test_queue_file_create_fails_cleanly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
