/*
 * test_store_append.c - the store's one append path (store/msg.c
 * store_msg_append_locked) in both formats:
 *
 *  - an index failure after the message file was written (the record
 *    put, or the commit) takes the file back, so the sender's retry
 *    leaves the message there exactly once (fault injection through
 *    store_fault_hook);
 *  - the ENVELOPE/BODYSTRUCTURE cache is filled at delivery and APPEND
 *    with the exact texts mime_envelope()/mime_bodystructure() give for
 *    the bytes served, kept by COPY, and skipped above the size limit;
 *  - renaming INBOX moves its messages (flags, keywords, cache) into the
 *    new mailbox and leaves INBOX there, empty, children not renamed
 *    (store.h, RFC 3501 6.3.5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "store/mbox-private.h"
#include "store/mime.h"
#include "store/store-private.h"
#include "store_test_util.h"

static const char *msg1 =
	"From: Alice <a@example.net>\nTo: bob@example.org\nSubject: =?UTF-8?Q?caf=C3=A9?=\n"
	"Date: Tue, 24 Nov 2026 10:00:00 +0100\nMessage-ID: <1@x>\n"
	"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
	"--b\nContent-Type: text/plain; charset=utf-8\n\nhello\n--b\n"
	"Content-Type: application/octet-stream; name=x.bin\n"
	"Content-Transfer-Encoding: base64\n\nAAAA\n--b--\n";
static const char *msg2 =
	"From: a@example.net\nTo: bob@example.org\nSubject: two\nMessage-ID: <2@x>\n\nbody two\n";

struct env {
	struct st_env st;
	bool mbox;
	char spool[600];
};

static int setup_maildir(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	st_setup(&e->st);
	*state = e;
	return 0;
}

static int setup_mbox(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct mbox_lock_settings ls;
	const char *why;

	st_setup(&e->st);
	mbox_lock_settings_default(&ls);
	if (mbox_lock_methods_parse("fcntl dotlock", &ls.write, &why) < 0)
		abort();
	ls.timeout_secs = 30;
	mbox_backend_set_locks(&ls);
	snprintf(e->st.location, sizeof(e->st.location), "mbox:%s/mail:INBOX=%s/spool/%%u",
		 e->st.dir, e->st.dir);
	snprintf(e->spool, sizeof(e->spool), "%s/spool/bob@example.org", e->st.dir);
	e->mbox = true;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	store_fault_hook = NULL;
	st_teardown(&e->st);
	free(e);
	return 0;
}

static struct store_user *open_bob(struct env *e)
{
	struct store_error err;
	struct store_user *u = store_user_open(&e->st.set, "bob@example.org", NULL, NULL,
					       STORE_USER_CREATE, &err);

	if (u == NULL)
		fail_msg("open: %s", err.text);
	return u;
}

/* ---- fault injection ---- */

static enum store_fault fail_at;
static int fail_count;

static bool fail_once(enum store_fault point)
{
	if (point != fail_at || fail_count == 0)
		return false;
	fail_count--;
	return true;
}

/* Message files of INBOX (Maildir new/ + cur/), or messages in the mbox. */
static int files_in_inbox(struct env *e)
{
	char p[600];
	int n;

	if (e->mbox) {
		char *data;
		size_t len;
		int count = 0;
		struct stat st;

		if (stat(e->spool, &st) < 0)
			return 0;
		data = malloc((size_t)st.st_size + 1);
		{
			FILE *f = fopen(e->spool, "r");

			assert_non_null(f);
			len = fread(data, 1, (size_t)st.st_size, f);
			fclose(f);
		}
		data[len] = '\0';
		for (const char *q = data; (q = strstr(q, "From ")) != NULL; q++)
			if (q == data || q[-1] == '\n')
				count++;
		free(data);
		return count;
	}
	snprintf(p, sizeof(p), "%s/example.org/bob/new", e->st.dir);
	n = st_count(p);
	snprintf(p, sizeof(p), "%s/example.org/bob/cur", e->st.dir);
	return n + st_count(p);
}

static int count_cb(const struct store_msg *m, void *ctx)
{
	(*(int *)ctx)++;
	(void)m;
	return 0;
}

/* Messages the index has for INBOX after a full sync (fresh open). */
static int indexed(struct env *e)
{
	struct store_user *u = open_bob(e);
	struct store_error err;
	struct store_mailbox *box = store_mailbox_open(u, "INBOX", 0, &err);
	int n = 0;

	assert_non_null(box);
	assert_int_equal(store_mailbox_foreach(box, 0, count_cb, &n, &err), 0);
	store_mailbox_close(&box);
	store_user_close(&u);
	return n;
}

static void retry_after(struct env *e, enum store_fault point)
{
	struct store_error err;
	uint32_t uid = 0;
	off_t before = 0;
	struct stat st;

	/* one message first, so the mbox case must cut back to a non-zero
	 * size (the separator the failed append added goes too) */
	assert_int_equal(st_deliver(&e->st, "bob@example.org", msg2, NULL, &uid, &err), 0);
	assert_int_equal(uid, 1);
	if (e->mbox) {
		assert_int_equal(stat(e->spool, &st), 0);
		before = st.st_size;
	}
	fail_at = point;
	fail_count = 1;
	store_fault_hook = fail_once;
	assert_int_equal(st_deliver(&e->st, "bob@example.org", msg1, NULL, &uid, &err), -1);
	assert_int_equal(err.cls, STORE_ERR_TEMP);
	assert_true(store_error_is_temp(&e->st.set, &err));
	assert_int_equal(fail_count, 0);
	/* taken back: the mailbox is as before the failed delivery */
	assert_int_equal(files_in_inbox(e), 1);
	if (e->mbox) {
		assert_int_equal(stat(e->spool, &st), 0);
		assert_int_equal(st.st_size, before);
	}
	assert_int_equal(indexed(e), 1);
	/* the MTA's retry */
	assert_int_equal(st_deliver(&e->st, "bob@example.org", msg1, NULL, &uid, &err), 0);
	assert_int_equal(uid, 2);
	assert_int_equal(files_in_inbox(e), 2);
	assert_int_equal(indexed(e), 2);

	/* the same through APPEND */
	{
		struct store_user *u = open_bob(e);
		struct store_mailbox *box = store_mailbox_open(u, "INBOX", 0, &err);
		int fd = st_msg_fd(msg2);

		assert_non_null(box);
		fail_count = 1;
		assert_int_equal(store_mailbox_append(box, fd, STORE_FLAG_SEEN, NULL, 0, &uid, &err),
				 -1);
		assert_int_equal(err.cls, STORE_ERR_TEMP);
		lseek(fd, 0, SEEK_SET);
		assert_int_equal(store_mailbox_append(box, fd, STORE_FLAG_SEEN, NULL, 0, &uid, &err),
				 0);
		assert_int_equal(uid, 3);
		close(fd);
		store_mailbox_close(&box);
		store_user_close(&u);
	}
	assert_int_equal(files_in_inbox(e), 3);
	assert_int_equal(indexed(e), 3);
}

static void test_record_failure_takes_file_back(void **state)
{
	retry_after(*state, STORE_FAULT_APPEND_RECORD);
}

static void test_commit_failure_takes_file_back(void **state)
{
	retry_after(*state, STORE_FAULT_APPEND_COMMIT);
}

/* A writer that ignores our locks appended after our message: cutting
 * back would destroy its bytes, so the undo must refuse (and log), and
 * the message stays (a possible duplicate beats a lost message). */
static const char *intruder_path;

static bool intrude_then_fail(enum store_fault point)
{
	FILE *f;

	if (point != STORE_FAULT_APPEND_RECORD)
		return false;
	f = fopen(intruder_path, "a");
	assert_non_null(f);
	fputs("From intruder@example.net Tue Nov 24 10:00:00 2026\nSubject: foreign\n\nx\n\n", f);
	fclose(f);
	return true;
}

static void test_mbox_undo_refuses_when_grown(void **state)
{
	struct env *e = *state;
	struct store_error err;
	uint32_t uid;
	char *data;
	size_t len;
	struct stat st;
	FILE *f;

	assert_int_equal(st_deliver(&e->st, "bob@example.org", msg2, NULL, &uid, &err), 0);
	intruder_path = e->spool;
	store_fault_hook = intrude_then_fail;
	assert_int_equal(st_deliver(&e->st, "bob@example.org", msg1, NULL, &uid, &err), -1);
	store_fault_hook = NULL;
	assert_int_equal(err.cls, STORE_ERR_TEMP);
	assert_int_equal(stat(e->spool, &st), 0);
	data = malloc((size_t)st.st_size + 1);
	f = fopen(e->spool, "r");
	len = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	data[len] = '\0';
	assert_non_null(strstr(data, "Subject: two"));
	assert_non_null(strstr(data, "Message-ID: <1@x>"));
	assert_non_null(strstr(data, "Subject: foreign"));
	free(data);
	/* the next sync indexes what is there */
	assert_int_equal(indexed(e), 3);
}

/* ---- the cache ---- */

struct cached {
	char env[4096], bs[4096];
	bool has_env, has_bs;
};

static int cache_cb(const struct store_msg *m, void *ctx)
{
	struct cached *c = ctx;

	c->has_env = m->envelope != NULL;
	c->has_bs = m->bodystructure != NULL;
	str_copy(c->env, m->envelope ? m->envelope : "", sizeof(c->env));
	str_copy(c->bs, m->bodystructure ? m->bodystructure : "", sizeof(c->bs));
	return 0;
}

/* What the IMAP role would build from the bytes served for uid. */
static void expected_cache(struct store_mailbox *box, uint32_t uid, struct strbuf *env,
			   struct strbuf *bs)
{
	struct store_error err;
	struct mime_message *m;
	off_t off;
	uint64_t size;
	int fd;

	assert_int_equal(store_msg_open(box, uid, &fd, &off, &size, &err), 0);
	m = mime_parse_fd_at(fd, (uint64_t)off, size, NULL, NULL);
	assert_non_null(m);
	strbuf_init(env, 1 << 20);
	strbuf_init(bs, 1 << 20);
	assert_int_equal(mime_envelope(m, 0, env, NULL), 0);
	assert_int_equal(mime_bodystructure(m, 0, true, bs, NULL), 0);
	mime_message_free(&m);
	close(fd);
}

static void assert_cache_exact(struct store_mailbox *box, uint32_t uid)
{
	struct store_error err;
	struct cached c;
	struct strbuf env, bs;

	assert_int_equal(store_msg_get(box, uid, cache_cb, &c, &err), 1);
	assert_true(c.has_env);
	assert_true(c.has_bs);
	expected_cache(box, uid, &env, &bs);
	assert_string_equal(c.env, env.data);
	assert_string_equal(c.bs, bs.data);
	strbuf_free(&env);
	strbuf_free(&bs);
}

static void test_cache_filled(void **state)
{
	struct env *e = *state;
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box, *sent;
	struct cached c;
	uint32_t uid;
	int fd;

	assert_int_equal(st_deliver(&e->st, "bob@example.org", msg1, NULL, &uid, &err), 0);
	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_cache_exact(box, 1);
	/* spot-check the texts themselves: the decoded subject, the parts */
	assert_int_equal(store_msg_get(box, 1, cache_cb, &c, &err), 1);
	assert_non_null(strstr(c.env, "\"Tue, 24 Nov 2026 10:00:00 +0100\""));
	assert_non_null(strstr(c.env, "((\"Alice\" NIL \"a\" \"example.net\"))"));
	assert_non_null(strstr(c.bs, "\"MIXED\" (\"BOUNDARY\" \"b\")"));
	assert_non_null(strstr(c.bs, "(\"NAME\" \"x.bin\")"));

	/* APPEND */
	fd = st_msg_fd(msg2);
	assert_int_equal(store_mailbox_append(box, fd, 0, NULL, 0, &uid, &err), 0);
	close(fd);
	assert_int_equal(uid, 2);
	assert_cache_exact(box, 2);

	/* COPY keeps the source's texts (a marker proves they were not
	 * parsed again) */
	assert_int_equal(store_mailbox_create(u, "Sent", 0, &err), 0);
	sent = store_mailbox_open(u, "Sent", 0, &err);
	assert_non_null(sent);
	assert_int_equal(store_msg_set_cache(box, 2, "(\"marker-env\")", "(\"marker-bs\")", &err), 0);
	assert_int_equal(store_msg_copy(box, 2, sent, &uid, &err), 0);
	assert_int_equal(store_msg_get(sent, uid, cache_cb, &c, &err), 1);
	assert_string_equal(c.env, "(\"marker-env\")");
	assert_string_equal(c.bs, "(\"marker-bs\")");
	/* without a source cache, the copy is parsed */
	assert_int_equal(store_msg_copy(box, 1, sent, &uid, &err), 0);
	assert_cache_exact(sent, uid);
	store_mailbox_close(&sent);
	store_mailbox_close(&box);
	store_user_close(&u);
}

static void test_cache_skipped_when_big(void **state)
{
	struct env *e = *state;
	size_t n = STORE_CACHE_PARSE_MAX + 100;
	char *big = malloc(n + 1);
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box;
	struct cached c;
	uint32_t uid;

	assert_non_null(big);
	memset(big, 'a', n);
	for (size_t i = 76; i < n; i += 77)
		big[i] = '\n';
	memcpy(big, "Subject: big\n\n", 14);
	big[n] = '\0';
	assert_int_equal(st_deliver(&e->st, "bob@example.org", big, NULL, &uid, &err), 0);
	free(big);
	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_int_equal(store_msg_get(box, uid, cache_cb, &c, &err), 1);
	assert_false(c.has_env);
	assert_false(c.has_bs);
	/* the IMAP role fills it lazily */
	assert_int_equal(store_msg_set_cache(box, uid, "E", "B", &err), 0);
	assert_int_equal(store_msg_get(box, uid, cache_cb, &c, &err), 1);
	assert_string_equal(c.env, "E");
	assert_string_equal(c.bs, "B");
	store_mailbox_close(&box);
	store_user_close(&u);
}

/* ---- INBOX rename (store.h, RFC 3501 6.3.5) ---- */

static int flags_cb(const struct store_msg *m, void *ctx)
{
	struct cached *c = ctx;

	snprintf(c->env, sizeof(c->env), "%u %u %s", m->uid, m->flags & STORE_FLAGS_STORED,
		 m->keywords);
	c->has_env = m->envelope != NULL;
	return 0;
}

static void test_rename_inbox(void **state)
{
	struct env *e = *state;
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_status st;
	struct cached c;
	uint32_t uid;

	assert_int_equal(st_deliver(&e->st, "bob@example.org", msg1, NULL, &uid, &err), 0);
	assert_int_equal(st_deliver(&e->st, "bob@example.org", msg2, NULL, &uid, &err), 0);
	u = open_bob(e);
	assert_int_equal(store_mailbox_create(u, "INBOX/child", 0, &err), 0);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_int_equal(store_msg_set_flags(box, 2, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, "Work",
					     0, NULL, &err),
			 1);
	store_mailbox_close(&box);

	assert_int_equal(store_mailbox_rename(u, "INBOX", "Old", &err), 0);
	/* INBOX stays, empty; its UIDs go on where they were */
	assert_int_equal(store_mailbox_status_get(u, "INBOX", &st, &err), 0);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.uidnext, 3);
	/* the messages are in Old with flags, keywords and cache */
	box = store_mailbox_open(u, "Old", 0, &err);
	assert_non_null(box);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 2);
	assert_int_equal(store_msg_get(box, 1, flags_cb, &c, &err), 1);
	assert_string_equal(c.env, "1 0 ");
	assert_true(c.has_env);
	assert_int_equal(store_msg_get(box, 2, flags_cb, &c, &err), 1);
	assert_string_equal(c.env, "2 4 Work");
	store_mailbox_close(&box);
	/* children of INBOX are not renamed */
	assert_int_equal(store_mailbox_status_get(u, "INBOX/child", &st, &err), 0);
	assert_int_equal(store_mailbox_status_get(u, "Old/child", &st, &err), -1);
	/* an existing target is refused, nothing moves */
	assert_int_equal(st_deliver(&e->st, "bob@example.org", msg2, NULL, &uid, &err), 0);
	assert_int_equal(uid, 3);
	assert_int_equal(store_mailbox_rename(u, "INBOX", "Old", &err), -1);
	assert_int_equal(err.cls, STORE_ERR_EXISTS);
	assert_int_equal(store_mailbox_status_get(u, "INBOX", &st, &err), 0);
	assert_int_equal(st.messages, 1);
	store_user_close(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_failure_takes_file_back, setup_maildir,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit_failure_takes_file_back, setup_maildir,
						teardown),
		cmocka_unit_test_setup_teardown(test_record_failure_takes_file_back, setup_mbox,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit_failure_takes_file_back, setup_mbox,
						teardown),
		cmocka_unit_test_setup_teardown(test_mbox_undo_refuses_when_grown, setup_mbox,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache_filled, setup_maildir, teardown),
		cmocka_unit_test_setup_teardown(test_cache_filled, setup_mbox, teardown),
		cmocka_unit_test_setup_teardown(test_cache_skipped_when_big, setup_maildir,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache_skipped_when_big, setup_mbox, teardown),
		cmocka_unit_test_setup_teardown(test_rename_inbox, setup_maildir, teardown),
		cmocka_unit_test_setup_teardown(test_rename_inbox, setup_mbox, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
