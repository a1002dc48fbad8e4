/*
 * test_store_unseen.c - the index's unseen set (store/index.c "unseen",
 * index version 2): the UIDs store_mailbox_foreach_unseen and
 * store_mailbox_unseen_uids report, the unseen counter and the first
 * unseen UID stay equal to "the records without \Seen" across delivery,
 * APPEND with and without \Seen, flag changes (single, batched, replace),
 * a rename by another program found by a sync, expunge, COPY, mailbox
 * delete, an index rebuild; the "cache" database (version 3: the cached
 * ENVELOPE/BODYSTRUCTURE apart from the records); the in-place upgrade
 * of version 1 (no unseen set) and 2 (texts inside the records) indexes
 * that keeps flags, keywords, UIDs and the cache; an unknown version;
 * the cached raw header block (bounded, filled at append/COPY/fill).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <lmdb.h>

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

static struct store_mailbox *open_box(struct st_env *e, struct store_user **u, const char *name)
{
	struct store_error err;
	struct store_mailbox *box;

	*u = store_user_open(&e->set, "bob@example.org", NULL, NULL, STORE_USER_CREATE, &err);
	if (*u == NULL)
		print_error("user: %s\n", err.text);
	assert_non_null(*u);
	box = store_mailbox_open(*u, name, 0, &err);
	if (box == NULL)
		print_error("open: %s\n", err.text);
	assert_non_null(box);
	return box;
}

static void deliver_n(struct st_env *e, int n)
{
	struct store_error err;
	char text[256];

	for (int i = 1; i <= n; i++) {
		uint32_t uid = 0;

		snprintf(text, sizeof(text),
			 "From: a@example.net\nTo: bob@example.org\nSubject: m%d\n"
			 "Message-ID: <%d@x>\n\nbody %d\n", i, i, i);
		assert_int_equal(st_deliver(e, "bob@example.org", text, NULL, &uid, &err), 0);
	}
}

struct uids {
	char text[256];
	size_t len;
};

static int collect_cb(const struct store_msg *m, void *ctx)
{
	struct uids *u = ctx;
	int w = snprintf(u->text + u->len, sizeof(u->text) - u->len, "%s%u",
			 u->len ? " " : "", m->uid);

	if (w > 0 && (size_t)w < sizeof(u->text) - u->len)
		u->len += (size_t)w;
	return 0;
}

static int kw_cb(const struct store_msg *m, void *ctx)
{
	struct uids *u = ctx;

	snprintf(u->text, sizeof(u->text), "%u %s %s", m->uid, m->keywords,
		 (m->flags & STORE_FLAG_SEEN) ? "seen" : "unseen");
	return 0;
}

static int uid_cb(uint32_t uid, void *ctx)
{
	struct store_msg m = { .uid = uid };

	return collect_cb(&m, ctx);
}

static int walk_cb(const struct store_msg *m, void *ctx)
{
	if (!(m->flags & STORE_FLAG_SEEN))
		collect_cb(m, ctx);
	return 0;
}

/* The unseen set as "1 3 5", checked against a walk over every record
 * and against the status' counter (its first unseen UID is as of the
 * open or the last sync that changed something: checked by
 * assert_first after opens). */
static void assert_unseen(struct store_mailbox *box, const char *want)
{
	struct store_error err;
	struct uids set = { .len = 0 }, walk = { .len = 0 }, uids = { .len = 0 };
	struct store_status st;
	unsigned n = 0;

	assert_int_equal(store_mailbox_sync(box, &err) >= 0, 1);
	assert_int_equal(store_mailbox_foreach_unseen(box, collect_cb, &set, &err), 0);
	assert_int_equal(store_mailbox_foreach(box, 0, walk_cb, &walk, &err), 0);
	assert_int_equal(store_mailbox_unseen_uids(box, uid_cb, &uids, &err), 0);
	assert_string_equal(set.text, want);
	assert_string_equal(uids.text, want);
	assert_string_equal(walk.text, want);
	store_mailbox_status(box, &st);
	if (want[0] != '\0') {
		n = 1;
		for (const char *p = want; *p; p++)
			n += *p == ' ';
	}
	assert_int_equal(st.unseen, n);
}

static void assert_first(struct store_mailbox *box, uint32_t want)
{
	struct store_status st;

	store_mailbox_status(box, &st);
	assert_int_equal(st.first_unseen_uid, want);
}

static void test_unseen_flags_expunge_append(void **state)
{
	struct st_env *e = *state;
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box;
	uint64_t modseq;
	uint32_t uid = 0;
	int fd;

	deliver_n(e, 4);
	box = open_box(e, &u, "INBOX");
	assert_unseen(box, "1 2 3 4");
	assert_first(box, 1);
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					     &modseq, &err), 1);
	assert_unseen(box, "2 3 4");
	/* another flag does not touch the set */
	assert_int_equal(store_msg_set_flags(box, 2, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, 0,
					     &modseq, &err), 1);
	assert_unseen(box, "2 3 4");
	/* batched */
	{
		uint32_t uids[] = { 2, 3, 4 };

		assert_int_equal(store_msgs_set_flags(box, uids, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						      NULL, 0, NULL, NULL, NULL, NULL, &err), 3);
	}
	assert_unseen(box, "");
	assert_int_equal(store_msg_set_flags(box, 3, STORE_FLAGS_REPLACE, STORE_FLAG_DELETED, NULL,
					     0, &modseq, &err), 1);
	assert_unseen(box, "3");
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, NULL, 0,
					     &modseq, &err), 1);
	assert_unseen(box, "1 3");
	/* expunge of a \Deleted unseen message, then of an unseen one by UID */
	assert_int_equal(store_mailbox_expunge(box, NULL, 0, NULL, NULL, &err), 0);
	assert_unseen(box, "1");
	assert_int_equal(store_msg_expunge(box, 1, &err), 1);
	assert_unseen(box, "");
	/* APPEND with and without \Seen */
	fd = st_msg_fd("Subject: seen\n\nx\n");
	assert_int_equal(store_mailbox_append(box, fd, STORE_FLAG_SEEN, NULL, 0, &uid, &err), 0);
	close(fd);
	assert_int_equal(uid, 5);
	fd = st_msg_fd("Subject: new\n\ny\n");
	assert_int_equal(store_mailbox_append(box, fd, 0, NULL, 0, &uid, &err), 0);
	close(fd);
	assert_int_equal(uid, 6);
	assert_unseen(box, "6");
	store_mailbox_close(&box);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_first(box, 6);
	store_mailbox_close(&box);
	store_user_close(&u);
}

/* Another program marks a message read by renaming its file: the sync
 * updates the record and the set with it. */
static void test_unseen_foreign_rename_and_rebuild(void **state)
{
	struct st_env *e = *state;
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box, *other;
	char cur[600], name[512], from[1200], to[1200];
	uint32_t new_uid = 0;
	uint64_t n = 0, modseq;

	deliver_n(e, 3);
	box = open_box(e, &u, "INBOX");
	assert_unseen(box, "1 2 3");
	store_mailbox_close(&box);
	snprintf(cur, sizeof(cur), "%s/example.org/bob/cur", e->dir);
	/* the file of UID 2 */
	{
		DIR *d = opendir(cur);
		struct dirent *de;

		assert_non_null(d);
		name[0] = '\0';
		while ((de = readdir(d)) != NULL) {
			if (strstr(de->d_name, ",U=2:") != NULL)
				snprintf(name, sizeof(name), "%s", de->d_name);
		}
		closedir(d);
	}
	assert_true(name[0] != '\0');
	snprintf(from, sizeof(from), "%s/%s", cur, name);
	snprintf(to, sizeof(to), "%s/%sS", cur, name);
	assert_int_equal(rename(from, to), 0);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_unseen(box, "1 3");
	assert_first(box, 1);
	/* COPY keeps \Seen; the copy of an unseen one is in the target's set */
	assert_int_equal(store_mailbox_create(u, "Archive", 0, &err), 0);
	other = store_mailbox_open(u, "Archive", 0, &err);
	assert_non_null(other);
	assert_int_equal(store_msg_copy(box, 2, other, &new_uid, &err), 0);
	assert_int_equal(store_msg_copy(box, 3, other, &new_uid, &err), 0);
	assert_unseen(other, "2");
	assert_int_equal(store_msg_set_flags(box, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					     &modseq, &err), 1);
	store_mailbox_close(&other);
	store_mailbox_close(&box);
	/* a rebuild gives the same set (flags come from the file names) */
	assert_int_equal(store_index_rebuild(u, &n, &err), 0);
	assert_int_equal(n, 5);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_unseen(box, "1");
	store_mailbox_close(&box);
	other = store_mailbox_open(u, "Archive", 0, &err);
	assert_non_null(other);
	assert_unseen(other, "2");
	store_mailbox_close(&other);
	/* a deleted and re-created mailbox starts with an empty set */
	assert_int_equal(store_mailbox_delete(u, "Archive", &err), 0);
	assert_int_equal(store_mailbox_create(u, "Archive", 0, &err), 0);
	other = store_mailbox_open(u, "Archive", 0, &err);
	assert_non_null(other);
	assert_unseen(other, "");
	assert_first(other, 0);
	store_mailbox_close(&other);
	store_user_close(&u);
}

/* The message record's header as store/index.c writes it (versions 1-3). */
struct old_hdr {
	uint64_t modseq;
	int64_t internaldate;
	uint64_t vsize;
	uint64_t physical;
	uint32_t uid;
	uint32_t flags;
	uint32_t loc_len, kw_len, env_len, bs_len;
};

static MDB_env *raw_open(const char *dir)
{
	MDB_env *env;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_set_mapsize(env, (size_t)4 << 30), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	return env;
}

/* Turn a version 3 index back into version 1 or 2: the cached texts back
 * inside the records, no "cache" database, and for 1 no "unseen". */
static void make_old(const char *dir, char version)
{
	MDB_env *env = raw_open(dir);
	MDB_txn *txn;
	MDB_dbi meta, msgs, unseen, cache;
	MDB_cursor *cur;
	MDB_val k = { .mv_size = 7, .mv_data = "version" }, v = { .mv_size = 1, .mv_data = &version };
	MDB_val mk, mv, cv;
	int n_inline = 0;

	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_dbi_open(txn, "msgs", 0, &msgs), 0);
	assert_int_equal(mdb_dbi_open(txn, "unseen", 0, &unseen), 0);
	assert_int_equal(mdb_dbi_open(txn, "cache", 0, &cache), 0);
	assert_int_equal(mdb_cursor_open(txn, msgs, &cur), 0);
	for (int rc = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT)) {
		struct old_hdr h;
		uint32_t l[3]; /* envelope, bodystructure, header block (not in old layouts) */
		char *buf;
		size_t head, texts = 0;
		MDB_val nv;

		if (mdb_get(txn, cache, &mk, &cv) != 0)
			continue;
		memcpy(&h, mv.mv_data, sizeof(h));
		assert_int_equal(h.env_len, UINT32_MAX);
		memcpy(l, cv.mv_data, sizeof(l));
		head = sizeof(h) + h.loc_len + 1 + h.kw_len + 1;
		assert_int_equal(mv.mv_size, head);
		h.env_len = l[0];
		h.bs_len = l[1];
		for (int i = 0; i < 2; i++)
			texts += l[i] == UINT32_MAX ? 0 : (size_t)l[i] + 1;
		nv.mv_size = head + texts;
		buf = malloc(nv.mv_size);
		assert_non_null(buf);
		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), (char *)mv.mv_data + sizeof(h), head - sizeof(h));
		memcpy(buf + head, (char *)cv.mv_data + sizeof(l), texts);
		nv.mv_data = buf;
		{
			uint8_t key[8];
			MDB_val kk = { .mv_size = 8, .mv_data = key };

			memcpy(key, mk.mv_data, 8);
			assert_int_equal(mdb_put(txn, msgs, &kk, &nv, 0), 0);
			assert_int_equal(mdb_cursor_get(cur, &kk, &mv, MDB_SET), 0);
			mk = kk;
		}
		free(buf);
		n_inline++;
	}
	mdb_cursor_close(cur);
	assert_true(n_inline > 0);
	assert_int_equal(mdb_drop(txn, cache, 1), 0);
	if (version == '1')
		assert_int_equal(mdb_drop(txn, unseen, 1), 0);
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static int env_cb(const struct store_msg *m, void *ctx)
{
	struct uids *u = ctx;

	snprintf(u->text, sizeof(u->text), "%s", m->envelope ? m->envelope : "(none)");
	return 0;
}

/* An index of version 1 or 2 is upgraded in place at open: the unseen
 * set filled, the cached texts moved out of the records, and UIDs,
 * flags, keywords and the cache kept (mbox keeps flags only there). */
static void upgrade_from(void **state, char version)
{
	struct st_env *e = *state;
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box;
	char dir[600];
	uint64_t modseq;
	struct uids kw = { .len = 0 }, env = { .len = 0 };

	deliver_n(e, 3);
	box = open_box(e, &u, "INBOX");
	assert_int_equal(store_msg_set_flags(box, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN, "$Work", 0,
					     &modseq, &err), 1);
	assert_int_equal(store_mailbox_subscribe(u, "INBOX", true, &err), 0);
	store_mailbox_close(&box);
	store_user_close(&u);
	snprintf(dir, sizeof(dir), "%s/example.org/bob/postern-index", e->dir);
	make_old(dir, version);
	box = open_box(e, &u, "INBOX");
	assert_unseen(box, "1 3");
	assert_first(box, 1);
	assert_int_equal(store_msg_get(box, 2, kw_cb, &kw, &err), 1);
	assert_string_equal(kw.text, "2 $Work seen");
	assert_int_equal(store_msg_get(box, 2, env_cb, &env, &err), 1);
	assert_non_null(strstr(env.text, "\"m2\""));
	{
		struct store_status st;

		store_mailbox_status(box, &st);
		assert_int_equal(st.messages, 3);
		assert_int_equal(st.uidnext, 4);
	}
	store_mailbox_close(&box);
	store_user_close(&u);
	/* version 3 now: small records, the texts in "cache" */
	{
		MDB_env *menv = raw_open(dir);
		MDB_txn *txn;
		MDB_dbi meta, msgs, cache;
		MDB_val k = { .mv_size = 7, .mv_data = "version" }, v;
		MDB_stat ms;

		assert_int_equal(mdb_txn_begin(menv, NULL, MDB_RDONLY, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
		assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
		assert_int_equal(v.mv_size, 1);
		assert_memory_equal(v.mv_data, "3", 1);
		assert_int_equal(mdb_dbi_open(txn, "cache", 0, &cache), 0);
		assert_int_equal(mdb_stat(txn, cache, &ms), 0);
		assert_int_equal(ms.ms_entries, 3);
		assert_int_equal(mdb_dbi_open(txn, "msgs", 0, &msgs), 0);
		{
			MDB_cursor *cur;
			MDB_val mk, mv;

			assert_int_equal(mdb_cursor_open(txn, msgs, &cur), 0);
			for (int rc = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST); rc == 0;
			     rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT))
				assert_true(mv.mv_size < 200);
			mdb_cursor_close(cur);
		}
		mdb_txn_abort(txn);
		mdb_env_close(menv);
	}
}

static void test_upgrade_from_v1(void **state)
{
	upgrade_from(state, '1');
}

static void test_upgrade_from_v2(void **state)
{
	upgrade_from(state, '2');
}

/* The cache lives apart from the records: a flag change keeps it, a
 * cache fill does not change the record's modseq, an expunge drops it. */
static void test_cache_db(void **state)
{
	struct st_env *e = *state;
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box;
	struct uids env = { .len = 0 };
	uint64_t modseq = 0, modseq2 = 0;
	struct store_cache_fill f = { .uid = 1, .envelope = "(\"x\")", .bodystructure = NULL };

	deliver_n(e, 2);
	box = open_box(e, &u, "INBOX");
	assert_int_equal(store_msg_get(box, 1, env_cb, &env, &err), 1);
	assert_non_null(strstr(env.text, "\"m1\""));
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, 0,
					     &modseq, &err), 1);
	assert_int_equal(store_msg_get(box, 1, env_cb, &env, &err), 1);
	assert_non_null(strstr(env.text, "\"m1\""));
	/* a fill replaces the envelope, keeps the bodystructure and modseq */
	assert_int_equal(store_msgs_set_cache(box, &f, 1, &err), 1);
	assert_int_equal(store_msg_get(box, 1, env_cb, &env, &err), 1);
	assert_string_equal(env.text, "(\"x\")");
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, 0,
					     &modseq2, &err), 1);
	assert_int_equal(modseq2, modseq);
	/* the walk joins the same texts */
	{
		struct uids all = { .len = 0 };

		assert_int_equal(store_mailbox_foreach(box, 0, env_cb, &all, &err), 0);
		assert_non_null(strstr(all.text, "\"m2\"")); /* the last one seen */
	}
	assert_int_equal(store_msg_expunge(box, 1, &err), 1);
	assert_int_equal(store_msg_get(box, 1, env_cb, &env, &err), 0);
	store_mailbox_close(&box);
	store_user_close(&u);
	{
		char dir[600];
		MDB_env *menv;
		MDB_txn *txn;
		MDB_dbi cache;
		MDB_stat ms;

		snprintf(dir, sizeof(dir), "%s/example.org/bob/postern-index", e->dir);
		menv = raw_open(dir);
		assert_int_equal(mdb_txn_begin(menv, NULL, MDB_RDONLY, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, "cache", 0, &cache), 0);
		assert_int_equal(mdb_stat(txn, cache, &ms), 0);
		assert_int_equal(ms.ms_entries, 1);
		mdb_txn_abort(txn);
		mdb_env_close(menv);
	}
}

/* An index of a version this code does not know is refused, not rewritten. */
static void test_unknown_version_refused(void **state)
{
	struct st_env *e = *state;
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box;
	char dir[600];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val k = { .mv_size = 7, .mv_data = "version" }, v = { .mv_size = 1, .mv_data = "9" };

	deliver_n(e, 1);
	box = open_box(e, &u, "INBOX");
	store_mailbox_close(&box);
	store_user_close(&u);
	snprintf(dir, sizeof(dir), "%s/example.org/bob/postern-index", e->dir);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	u = store_user_open(&e->set, "bob@example.org", NULL, NULL, STORE_USER_CREATE, &err);
	assert_null(u);
	assert_string_equal(err.text, "Mail index needs a rebuild, see server log");
}

static int hdr_cb(const struct store_msg *m, void *ctx)
{
	struct uids *u = ctx;

	snprintf(u->text, sizeof(u->text), "%s", m->header ? m->header : "(none)");
	return 0;
}

/* The raw header block in the cache: filled at delivery, APPEND and
 * COPY, bounded (STORE_HEADER_CACHE_MAX), filled later by
 * store_msgs_set_cache, dropped with the message. */
static void test_header_cache(void **state)
{
	struct st_env *e = *state;
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box, *other;
	struct uids h = { .len = 0 };
	uint32_t uid = 0;
	char *big;
	size_t n = STORE_HEADER_CACHE_MAX + 100;
	int fd;

	deliver_n(e, 1);
	box = open_box(e, &u, "INBOX");
	assert_int_equal(store_msg_get(box, 1, hdr_cb, &h, &err), 1);
	assert_non_null(strstr(h.text, "Subject: m1\n"));
	assert_non_null(strstr(h.text, "Message-ID: <1@x>\n\n"));
	assert_null(strstr(h.text, "body 1"));
	/* APPEND with CRLF lines: the block ends at the empty line */
	fd = st_msg_fd("From: a@example.net\r\nSubject: crlf\r\n\r\nbody\r\n");
	assert_int_equal(store_mailbox_append(box, fd, 0, NULL, 0, &uid, &err), 0);
	close(fd);
	assert_int_equal(store_msg_get(box, uid, hdr_cb, &h, &err), 1);
	assert_string_equal(h.text, "From: a@example.net\r\nSubject: crlf\r\n\r\n");
	/* COPY keeps it */
	assert_int_equal(store_mailbox_create(u, "Copy", 0, &err), 0);
	other = store_mailbox_open(u, "Copy", 0, &err);
	assert_non_null(other);
	assert_int_equal(store_msg_copy(box, uid, other, &uid, &err), 0);
	assert_int_equal(store_msg_get(other, uid, hdr_cb, &h, &err), 1);
	assert_string_equal(h.text, "From: a@example.net\r\nSubject: crlf\r\n\r\n");
	store_mailbox_close(&other);
	/* a header longer than the bound is not cached */
	big = malloc(n + 64);
	assert_non_null(big);
	memcpy(big, "X-Long: ", 8);
	memset(big + 8, 'a', n - 8);
	snprintf(big + n, 64, "\n\nbody\n");
	fd = st_msg_fd(big);
	free(big);
	assert_int_equal(store_mailbox_append(box, fd, 0, NULL, 0, &uid, &err), 0);
	close(fd);
	assert_int_equal(store_msg_get(box, uid, hdr_cb, &h, &err), 1);
	assert_string_equal(h.text, "(none)");
	/* a fill sets it; its envelope stays */
	{
		struct store_cache_fill f = { .uid = uid, .header = "X-Long: short\n\n" };
		struct uids env = { .len = 0 };

		assert_int_equal(store_msg_get(box, uid, env_cb, &env, &err), 1);
		assert_int_equal(store_msgs_set_cache(box, &f, 1, &err), 1);
		assert_int_equal(store_msg_get(box, uid, hdr_cb, &h, &err), 1);
		assert_string_equal(h.text, "X-Long: short\n\n");
		{
			struct uids env2 = { .len = 0 };

			assert_int_equal(store_msg_get(box, uid, env_cb, &env2, &err), 1);
			assert_string_equal(env2.text, env.text);
		}
	}
	store_mailbox_close(&box);
	store_user_close(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unseen_flags_expunge_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unseen_foreign_rename_and_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_version_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
