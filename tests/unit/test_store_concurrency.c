/*
 * test_store_concurrency.c - several processes deliver to one user while
 * another keeps syncing, setting flags and expunging the messages marked
 * "X-Expunge: yes". At the end every message that must stay is present
 * exactly once, no UID appears twice, nothing is left in tmp/, and the
 * index agrees with the files (same count, every record opens, every
 * file is indexed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "store/maildir-name.h"
#include "store_test_util.h"

#define WRITERS 4
#define PER_WRITER 40

static int writer(struct st_env *e, int w)
{
	int failures = 0;

	for (int i = 0; i < PER_WRITER; i++) {
		char text[256];
		struct store_error err;

		snprintf(text, sizeof(text),
			 "Message-ID: <w%d-%d@test>\nX-Expunge: %s\nSubject: %d/%d\n\nbody\n", w, i,
			 w == 0 ? "yes" : "no", w, i);
		if (st_deliver(e, "bob@example.org", text, NULL, NULL, &err) != 0) {
			fprintf(stderr, "writer %d: %s\n", w, err.text);
			failures++;
		}
	}
	return failures;
}

/* Read the first bytes of message uid into buf. */
static int read_head(struct store_mailbox *box, uint32_t uid, char *buf, size_t size)
{
	struct store_error err;
	off_t off;
	uint64_t len;
	ssize_t n;
	int fd;

	if (store_msg_open(box, uid, &fd, &off, &len, &err) < 0)
		return -1;
	n = pread(fd, buf, size - 1, off);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

struct uids {
	uint32_t v[WRITERS * PER_WRITER + 16];
	size_t n;
};

static int uid_cb(const struct store_msg *m, void *ctx)
{
	struct uids *u = ctx;

	if (u->n < sizeof(u->v) / sizeof(u->v[0]))
		u->v[u->n++] = m->uid;
	return 0;
}

static int churner(struct st_env *e)
{
	struct store_error err;
	int rounds = 0;

	for (int pass = 0; pass < 200; pass++) {
		struct store_user *u = store_user_open(&e->set, "bob@example.org", NULL, NULL,
						       STORE_USER_CREATE, &err);
		struct store_mailbox *box;
		struct uids ids = { .n = 0 };

		if (u == NULL)
			return 1;
		box = store_mailbox_open(u, "INBOX", 0, &err);
		if (box == NULL) {
			store_user_close(&u);
			return 1;
		}
		store_mailbox_foreach(box, 0, uid_cb, &ids, &err);
		for (size_t i = 0; i < ids.n; i++) {
			char head[256];

			if (read_head(box, ids.v[i], head, sizeof(head)) < 0)
				continue;
			store_msg_set_flags(box, ids.v[i], STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					    NULL, &err);
			if (strstr(head, "X-Expunge: yes"))
				store_msg_set_flags(box, ids.v[i], STORE_FLAGS_ADD, STORE_FLAG_DELETED,
						    NULL, 0, NULL, &err);
		}
		if (store_mailbox_expunge(box, NULL, 0, NULL, NULL, &err) < 0) {
			fprintf(stderr, "churner: expunge: %s\n", err.text);
			store_mailbox_close(&box);
			store_user_close(&u);
			return 1;
		}
		store_mailbox_close(&box);
		store_user_close(&u);
		rounds++;
		usleep(2000);
	}
	return rounds > 0 ? 0 : 1;
}

static void test_concurrent(void **state)
{
	struct st_env e;
	pid_t pids[WRITERS + 1];
	int status, seen[WRITERS][PER_WRITER];
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box;
	struct uids ids = { .n = 0 };
	char p[512];

	(void)state;
	st_setup(&e);
	/* create the user first so every process finds the root */
	u = store_user_open(&e.set, "bob@example.org", NULL, NULL, STORE_USER_CREATE, &err);
	assert_non_null(u);
	store_user_close(&u);
	for (int w = 0; w <= WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0)
			_exit(w < WRITERS ? writer(&e, w) : churner(&e));
	}
	for (int w = 0; w <= WRITERS; w++) {
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}

	memset(seen, 0, sizeof(seen));
	u = store_user_open(&e.set, "bob@example.org", NULL, NULL, 0, &err);
	assert_non_null(u);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_int_equal(store_mailbox_foreach(box, 0, uid_cb, &ids, &err), 0);
	for (size_t i = 0; i < ids.n; i++) {
		char head[256];
		int w, n;

		if (i > 0)
			assert_true(ids.v[i] > ids.v[i - 1]);
		assert_int_equal(read_head(box, ids.v[i], head, sizeof(head)), 0);
		assert_int_equal(sscanf(head, "Return-Path: <sender@example.net>\nDelivered-To: "
					"bob@example.org\nMessage-ID: <w%d-%d@test>", &w, &n), 2);
		assert_true(w >= 0 && w < WRITERS && n >= 0 && n < PER_WRITER);
		seen[w][n]++;
	}
	for (int w = 1; w < WRITERS; w++)
		for (int n = 0; n < PER_WRITER; n++)
			assert_int_equal(seen[w][n], 1);
	for (int n = 0; n < PER_WRITER; n++)
		assert_true(seen[0][n] <= 1);
	/* the files agree with the index */
	{
		int files = 0;

		snprintf(p, sizeof(p), "%s/example.org/bob/cur", e.dir);
		files += st_count(p);
		snprintf(p, sizeof(p), "%s/example.org/bob/new", e.dir);
		files += st_count(p);
		assert_int_equal((size_t)files, ids.n);
		/* every file carries the UID of exactly one index record */
		for (int d = 0; d < 2; d++) {
			DIR *dir;
			struct dirent *de;

			snprintf(p, sizeof(p), "%s/example.org/bob/%s", e.dir, d ? "new" : "cur");
			dir = opendir(p);
			assert_non_null(dir);
			while ((de = readdir(dir)) != NULL) {
				struct maildir_name mn;
				bool found = false;

				if (de->d_name[0] == '.')
					continue;
				assert_int_equal(maildir_name_parse(de->d_name, strlen(de->d_name), &mn), 0);
				for (size_t i = 0; i < ids.n; i++)
					if (ids.v[i] == mn.uid) {
						found = true;
						ids.v[i] = 0; /* a second file with this UID fails */
					}
				assert_true(found);
			}
			closedir(dir);
		}
		snprintf(p, sizeof(p), "%s/example.org/bob/tmp", e.dir);
		assert_int_equal(st_count(p), 0);
	}
	store_mailbox_close(&box);
	store_user_close(&u);
	st_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
