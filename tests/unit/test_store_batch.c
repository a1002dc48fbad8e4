/*
 * test_store_batch.c - the store's batched writes: store_msgs_set_flags
 * (STORE over many UIDs in one index transaction: per-message results,
 * modseqs, the callback's view, vanished UIDs, UNCHANGEDSINCE, read-only
 * opens, the file names) and store_msgs_set_cache (several cache fills in
 * one transaction, expunged UIDs skipped), plus the single-message calls
 * that now run on the same code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store_test_util.h"

static int setup(void **state)
{
	struct st_env *e = calloc(1, sizeof(*e));

	st_setup(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	st_teardown(*state);
	free(*state);
	return 0;
}

static struct store_mailbox *open_inbox(struct st_env *e, struct store_user **u, unsigned flags)
{
	struct store_error err;
	struct store_mailbox *box;

	*u = store_user_open(&e->set, "bob@example.org", NULL, NULL, STORE_USER_CREATE, &err);
	assert_non_null(*u);
	box = store_mailbox_open(*u, "INBOX", flags, &err);
	if (box == NULL)
		print_error("open: %s\n", err.text);
	assert_non_null(box);
	return box;
}

static void deliver3(struct st_env *e)
{
	struct store_error err;
	char text[256];

	for (int i = 1; i <= 3; i++) {
		uint32_t uid = 0;

		snprintf(text, sizeof(text),
			 "From: a@example.net\nTo: bob@example.org\nSubject: m%d\n"
			 "Message-ID: <%d@x>\n\nbody %d\n", i, i, i);
		assert_int_equal(st_deliver(e, "bob@example.org", text, NULL, &uid, &err), 0);
		assert_int_equal(uid, (uint32_t)i);
	}
}

struct seen {
	uint32_t uid[8];
	unsigned flags[8];
	size_t n;
};

static int seen_cb(const struct store_msg *m, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		s->uid[s->n] = m->uid;
		s->flags[s->n] = m->flags;
		s->n++;
	}
	return 0;
}

static int flags_cb(const struct store_msg *m, void *ctx)
{
	*(unsigned *)ctx = m->flags;
	return 0;
}

static void test_set_flags_batch(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	struct store_status st0, st1;
	const uint32_t uids[4] = { 1, 2, 99, 3 };
	int res[4];
	uint64_t ms[4], ms2[4];
	struct seen seen = { 0 };
	unsigned fl = 0;
	char cur[600], name[300];

	deliver3(e);
	box = open_inbox(e, &u, 0);
	store_mailbox_status(box, &st0);
	assert_int_equal(store_msgs_set_flags(box, uids, 4, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					      res, ms, seen_cb, &seen, &err), 3);
	assert_int_equal(res[0], 1);
	assert_int_equal(res[1], 1);
	assert_int_equal(res[2], -1); /* no such UID: reported as gone */
	assert_int_equal(res[3], 1);
	/* every change gets its own modseq, above the old HIGHESTMODSEQ */
	assert_true(ms[0] > st0.highestmodseq);
	assert_true(ms[1] > ms[0]);
	assert_true(ms[3] > ms[1]);
	store_mailbox_status(box, &st1);
	assert_int_equal(st1.highestmodseq, ms[3]);
	assert_int_equal(st1.unseen, 0);
	/* the callback saw the records after the change */
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.uid[2], 3);
	assert_int_equal(seen.flags[0], STORE_FLAG_SEEN);
	/* and the files carry the flag (the names are the truth) */
	snprintf(cur, sizeof(cur), "%s/example.org/bob/cur", e->dir);
	assert_int_equal(st_count(cur), 3);
	st_first(cur, name, sizeof(name));
	assert_non_null(strstr(name, ":2,S"));
	/* again: already so, nothing changes, same modseqs */
	assert_int_equal(store_msgs_set_flags(box, uids, 4, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					      res, ms2, NULL, NULL, &err), 0);
	assert_int_equal(res[0], 1);
	assert_int_equal(ms2[0], ms[0]);
	assert_int_equal(ms2[3], ms[3]);
	/* UNCHANGEDSINCE below message 3's modseq: 1 and 2 change, 3 refused */
	assert_int_equal(store_msgs_set_flags(box, uids, 4, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL,
					      ms[1], res, ms2, NULL, NULL, &err), 2);
	assert_int_equal(res[0], 1);
	assert_int_equal(res[1], 1);
	assert_int_equal(res[3], 0);
	assert_int_equal(ms2[3], ms[3]);
	assert_int_equal(store_msg_get(box, 3, flags_cb, &fl, &err), 1);
	assert_int_equal(fl, STORE_FLAG_SEEN);
	assert_int_equal(store_msg_get(box, 2, flags_cb, &fl, &err), 1);
	assert_int_equal(fl, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	/* the one-message call shares the code: a vanished UID is EXPUNGED */
	assert_int_equal(store_msg_set_flags(box, 99, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL,
					     &err), -1);
	assert_int_equal(err.cls, STORE_ERR_EXPUNGED);
	store_mailbox_close(&box);
	/* read-only: nothing */
	box = store_mailbox_open(u, "INBOX", STORE_OPEN_READONLY, &err);
	assert_non_null(box);
	assert_int_equal(store_msgs_set_flags(box, uids, 2, STORE_FLAGS_REPLACE, 0, NULL, 0, res, NULL,
					      NULL, NULL, &err), -1);
	assert_int_equal(err.cls, STORE_ERR_PERM);
	store_mailbox_close(&box);
	store_user_close(&u);
}

static int env_cb(const struct store_msg *m, void *ctx)
{
	snprintf(ctx, 4096, "%s|%s", m->envelope ? m->envelope : "NULL",
		 m->bodystructure ? m->bodystructure : "NULL");
	return 0;
}

static void test_set_cache_batch(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	struct store_cache_fill f[3] = {
		{ .uid = 1, .envelope = "(NIL \"one\")" },
		{ .uid = 99, .envelope = "(NIL \"gone\")" },
		{ .uid = 2, .bodystructure = "(\"TEXT\" \"PLAIN\")" },
	};
	char buf[4096], before[4096];

	deliver3(e);
	box = open_inbox(e, &u, STORE_OPEN_READONLY); /* a cache fill is allowed read-only */
	assert_int_equal(store_msg_get(box, 2, env_cb, before, &err), 1);
	assert_int_equal(store_msgs_set_cache(box, f, 3, &err), 2);
	assert_int_equal(store_msg_get(box, 1, env_cb, buf, &err), 1);
	assert_string_equal(strtok(buf, "|"), "(NIL \"one\")");
	/* message 2 kept its envelope (NULL: keep) and got the new structure */
	assert_int_equal(store_msg_get(box, 2, env_cb, buf, &err), 1);
	assert_string_equal(strchr(buf, '|') + 1, "(\"TEXT\" \"PLAIN\")");
	*strchr(before, '|') = '\0';
	*strchr(buf, '|') = '\0';
	assert_string_equal(buf, before);
	/* nothing to write: 0 */
	assert_int_equal(store_msgs_set_cache(box, &f[1], 1, &err), 0);
	/* the one-message call still reports a vanished UID */
	assert_int_equal(store_msg_set_cache(box, 99, "(NIL)", NULL, &err), -1);
	assert_int_equal(err.cls, STORE_ERR_EXPUNGED);
	assert_int_equal(store_msg_set_cache(box, 3, "(NIL \"three\")", NULL, &err), 0);
	store_mailbox_close(&box);
	store_user_close(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_flags_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_cache_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
