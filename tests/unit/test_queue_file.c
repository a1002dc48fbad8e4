/*
 * test_queue_file.c - the queue-file writer's shared directories
 * (smtp/queue-file.c: queue_dir_open, queue_file_create_in, the group
 * commit of active/): many threads committing at once all end up in
 * active/ complete and nothing stays in incoming/; HOLD goes to hold/;
 * a queue without hold/ still takes normal mail and refuses HOLD with the
 * reason; an aborted file leaves nothing; a message bigger than the
 * buffer is whole; a commit never replaces a file with the same id. The
 * byte format is checked in test_smtp_params.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtp/queue-file.h"
#include "util.h"

#define THREADS 8
#define PER_THREAD 25

static char *make_queue_dir(bool with_hold)
{
	char tmpl[] = "/tmp/test-queue-file-XXXXXX";
	char *d = mkdtemp(tmpl), *p;

	assert_non_null(d);
	d = must_strdup(d);
	for (const char *const *sub = (const char *const[]){ "incoming", "active", "hold", NULL }; *sub; sub++) {
		if (strcmp(*sub, "hold") == 0 && !with_hold)
			continue;
		p = must_asprintf("%s/%s", d, *sub);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
	}
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

static const struct queue_rcpt rcpt = { "b@example.org", NULL, 0 };
static const struct queue_envelope env = {
	.arrival = { 1700000000, 0 }, .sender = "a@example.com", .proto = "ESMTP",
	.client_name = "unknown", .client_addr = "192.0.2.1", .rcpts = &rcpt, .n_rcpts = 1,
};

static const char big_line[] =
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678\r\n";

/* one_message - create, write, commit; the id goes to id_r. 0 or -1. */
static int one_message(struct queue_dir *qd, bool hold, char *id_r, const char **err)
{
	struct queue_file *qf = queue_file_create_in(qd, id_r, err);

	if (qf == NULL)
		return -1;
	if (queue_file_envelope(qf, &env, err) < 0 || queue_file_write(qf, "Subject: t\r\n\r\nbody\r\n", 21, err) < 0) {
		queue_file_abort(&qf);
		return -1;
	}
	if (hold)
		queue_file_hold(qf);
	return queue_file_commit(&qf, err);
}

struct worker_arg {
	struct queue_dir *qd;
	int failures;
	char ids[PER_THREAD][QUEUE_ID_SIZE];
};

static void *committer(void *p)
{
	struct worker_arg *a = p;
	const char *err;

	for (int i = 0; i < PER_THREAD; i++)
		if (one_message(a->qd, false, a->ids[i], &err) < 0)
			a->failures++;
	return NULL;
}

/* The group commit under real concurrency: every commit that returned 0
 * is in active/, whole (the size field matches the bytes after it). */
static void test_concurrent_commits_all_land(void **state)
{
	char *dir = make_queue_dir(true);
	const char *err;
	struct queue_dir *qd = queue_dir_open(dir, &err);
	pthread_t t[THREADS];
	struct worker_arg args[THREADS];

	(void)state;
	assert_non_null(qd);
	assert_string_equal(queue_dir_path(qd), dir);
	memset(args, 0, sizeof(args));
	for (int i = 0; i < THREADS; i++) {
		args[i].qd = qd;
		assert_int_equal(pthread_create(&t[i], NULL, committer, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	assert_int_equal(count_entries(dir, "incoming"), 0);
	assert_int_equal(count_entries(dir, "active"), THREADS * PER_THREAD);
	for (int i = 0; i < THREADS; i++) {
		for (int j = 0; j < PER_THREAD; j++) {
			char *path = must_asprintf("%s/active/%s", dir, args[i].ids[j]);
			size_t len;
			char *data = file_read_all(path, 1 << 16, &len, &err);
			assert_non_null(data);
			const char *m = strstr(data, "message 000000000000021\n");
			assert_non_null(m);
			assert_int_equal(len - (size_t)(m - data) - strlen("message 000000000000021\n"), 21);
			free(data);
			free(path);
		}
	}
	queue_dir_free(&qd);
	assert_null(qd);
	remove_tree(dir);
	free(dir);
}

static void test_hold_goes_to_hold(void **state)
{
	char *dir = make_queue_dir(true), id[QUEUE_ID_SIZE];
	const char *err;
	struct queue_dir *qd = queue_dir_open(dir, &err);

	(void)state;
	assert_non_null(qd);
	assert_int_equal(one_message(qd, true, id, &err), 0);
	assert_int_equal(one_message(qd, false, id, &err), 0);
	assert_int_equal(count_entries(dir, "hold"), 1);
	assert_int_equal(count_entries(dir, "active"), 1);
	assert_int_equal(count_entries(dir, "incoming"), 0);
	queue_dir_free(&qd);
	remove_tree(dir);
	free(dir);
}

/* A queue made before hold/ existed: mail flows, HOLD fails with the
 * reason and leaves nothing behind. */
static void test_no_hold_dir(void **state)
{
	char *dir = make_queue_dir(false), id[QUEUE_ID_SIZE];
	const char *err = NULL;
	struct queue_dir *qd = queue_dir_open(dir, &err);

	(void)state;
	assert_non_null(qd);
	assert_int_equal(one_message(qd, false, id, &err), 0);
	assert_int_equal(one_message(qd, true, id, &err), -1);
	assert_string_equal(err, "No such file or directory");
	assert_int_equal(count_entries(dir, "active"), 1);
	assert_int_equal(count_entries(dir, "incoming"), 0);
	queue_dir_free(&qd);
	remove_tree(dir);
	free(dir);
}

static void test_abort_in_dir(void **state)
{
	char *dir = make_queue_dir(true), id[QUEUE_ID_SIZE];
	const char *err;
	struct queue_dir *qd = queue_dir_open(dir, &err);
	struct queue_file *qf;

	(void)state;
	assert_non_null(qd);
	qf = queue_file_create_in(qd, id, &err);
	assert_non_null(qf);
	/* Nothing on disk until the buffer fills (or the commit). */
	assert_int_equal(count_entries(dir, "incoming"), 0);
	queue_file_abort(&qf);
	assert_null(qf);
	qf = queue_file_create_in(qd, id, &err);
	assert_non_null(qf);
	assert_int_equal(queue_file_envelope(qf, &env, &err), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(queue_file_write(qf, big_line, sizeof(big_line) - 1, &err), 0);
	assert_int_equal(count_entries(dir, "incoming"), 1);
	queue_file_abort(&qf);
	assert_null(qf);
	queue_file_abort(&qf);   /* NULL is fine */
	assert_int_equal(count_entries(dir, "incoming"), 0);
	queue_dir_free(&qd);
	queue_dir_free(&qd);     /* NULL is fine */
	remove_tree(dir);
	free(dir);
}

/* Larger than the buffer: created on the first flush, the size digits
 * filled in with pwrite at commit. */
static void test_big_message(void **state)
{
	char *dir = make_queue_dir(true), id[QUEUE_ID_SIZE];
	const char *err;
	struct queue_dir *qd = queue_dir_open(dir, &err);
	struct queue_file *qf;

	(void)state;
	assert_non_null(qd);
	qf = queue_file_create_in(qd, id, &err);
	assert_non_null(qf);
	assert_int_equal(queue_file_envelope(qf, &env, &err), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(queue_file_write(qf, big_line, sizeof(big_line) - 1, &err), 0);
	assert_int_equal(queue_file_commit(&qf, &err), 0);

	char *path = must_asprintf("%s/active/%s", dir, id);
	size_t len;
	char *data = file_read_all(path, 1 << 20, &len, &err);
	char *size = must_asprintf("message %015zu\n", 200 * (sizeof(big_line) - 1));
	assert_non_null(data);
	const char *m = strstr(data, size);
	assert_non_null(m);
	assert_int_equal(len - (size_t)(m - data) - strlen(size), 200 * (sizeof(big_line) - 1));
	free(size);
	free(data);
	free(path);
	queue_dir_free(&qd);
	remove_tree(dir);
	free(dir);
}

/* A file already in active/ under the id is never replaced: the commit
 * fails (a 451 for the client) and leaves both the old file alone and
 * nothing in incoming/. */
static void test_commit_never_replaces(void **state)
{
	char *dir = make_queue_dir(true), id[QUEUE_ID_SIZE];
	const char *err;
	struct queue_dir *qd = queue_dir_open(dir, &err);
	struct queue_file *qf;

	(void)state;
	assert_non_null(qd);
	qf = queue_file_create_in(qd, id, &err);
	assert_non_null(qf);
	char *path = must_asprintf("%s/active/%s", dir, id);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("older message", f);
	fclose(f);
	assert_int_equal(queue_file_envelope(qf, &env, &err), 0);
	assert_int_equal(queue_file_commit(&qf, &err), -1);
	assert_null(qf);
	assert_string_equal(err, "File exists");
	size_t len;
	char *data = file_read_all(path, 1 << 16, &len, &err);
	assert_non_null(data);
	assert_string_equal(data, "older message");
	assert_int_equal(count_entries(dir, "incoming"), 0);
	free(data);
	free(path);
	queue_dir_free(&qd);
	remove_tree(dir);
	free(dir);
}

/* The queue removed and made again while the role holds the old
 * directories open: the commit refuses (451) instead of a 250 for a file
 * in a directory nobody reads. */
static void test_removed_queue_refused(void **state)
{
	char *dir = make_queue_dir(true), id[QUEUE_ID_SIZE];
	const char *err;
	struct queue_dir *qd = queue_dir_open(dir, &err);
	struct queue_file *qf;

	(void)state;
	assert_non_null(qd);
	qf = queue_file_create_in(qd, id, &err);
	assert_non_null(qf);
	assert_int_equal(queue_file_envelope(qf, &env, &err), 0);
	remove_tree(dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (const char *const *sub = (const char *const[]){ "incoming", "active", NULL }; *sub; sub++) {
		char *p = must_asprintf("%s/%s", dir, *sub);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
	}
	assert_int_equal(queue_file_commit(&qf, &err), -1);
	assert_string_equal(err, "the queue directory was removed after posternd started; restart it");
	queue_dir_free(&qd);
	remove_tree(dir);
	free(dir);
}

static void test_open_fails_with_reason(void **state)
{
	const char *err = NULL;

	(void)state;
	assert_null(queue_dir_open("/nonexistent-postern-queue", &err));
	assert_string_equal(err, "No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_commits_all_land),
		cmocka_unit_test(test_hold_goes_to_hold),
		cmocka_unit_test(test_no_hold_dir),
		cmocka_unit_test(test_abort_in_dir),
		cmocka_unit_test(test_big_message),
		cmocka_unit_test(test_commit_never_replaces),
		cmocka_unit_test(test_removed_queue_refused),
		cmocka_unit_test(test_open_fails_with_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
