/*
 * test_store.c - the store API over Maildir: mail_location expansion,
 * delivery (INBOX creation, Return-Path/Delivered-To, UIDs in names,
 * +extension folders, duplicates, loops, quota), index sync against other
 * writers (new, vanished, renamed files), the warm path that reads no
 * directory, takeover of a foreign Maildir, rebuild with the same UIDs,
 * flags and modseqs, expunge/copy/move, the mailbox tree, and inotify
 * change notification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <event2/event.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "store_test_util.h"

static const char *msg1 =
	"From: a@example.net\nTo: bob@example.org\nSubject: one\nMessage-ID: <1@x>\n\nbody one\n";
static const char *msg2 =
	"From: a@example.net\nTo: bob@example.org\nSubject: two\nMessage-ID: <2@x>\n\nbody two\n";

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

static void path(struct st_env *e, char *out, size_t size, const char *rel)
{
	snprintf(out, size, "%s/example.org/bob/%s", e->dir, rel);
}

static struct store_user *open_bob(struct st_env *e)
{
	struct store_error err;
	struct store_user *u = store_user_open(&e->set, "bob@example.org", NULL, NULL,
					       STORE_USER_CREATE, &err);

	if (u == NULL)
		print_error("open: %s\n", err.text);
	assert_non_null(u);
	return u;
}

static void deliver_ok(struct st_env *e, const char *user, const char *text, uint32_t want_uid)
{
	struct store_error err;
	uint32_t uid = 0;

	if (st_deliver(e, user, text, NULL, &uid, &err) != 0)
		print_error("deliver: %s %s\n", store_error_class_name(err.cls), err.text);
	assert_int_equal(err.cls, STORE_OK);
	if (want_uid)
		assert_int_equal(uid, want_uid);
}

static int collect_uids(const struct store_msg *m, void *ctx)
{
	uint32_t *v = ctx;

	v[++v[0]] = m->uid;
	return 0;
}

/* Push both Maildir directory mtimes 10 s into the past, so the next scan
 * records a clean stamp (outside the 2 s dirty window). */
static void age_dirs(struct st_env *e, const char *folder, time_t when)
{
	char p[512];
	struct timespec ts[2] = { { .tv_sec = when }, { .tv_sec = when } };
	const char *subs[] = { "new", "cur" };

	for (int i = 0; i < 2; i++) {
		char rel[128];

		snprintf(rel, sizeof(rel), "%s%s", folder, subs[i]);
		path(e, p, sizeof(p), rel);
		assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	}
}

static void test_location(void **state)
{
	struct st_env *e = *state;
	struct store_location loc;
	struct store_error err;

	assert_int_equal(store_location_expand(&e->set, "maildir:/m/%d/%n/%u/%%", "bob@ex.org",
					       NULL, &loc, &err), 0);
	assert_string_equal(loc.root, "/m/ex.org/bob/bob@ex.org/%");
	assert_string_equal(loc.index_dir, "/m/ex.org/bob/bob@ex.org/%/postern-index");
	store_location_free(&loc);
	assert_int_equal(store_location_expand(&e->set, "maildir:~/Maildir/", "bob", "/home/bob",
					       &loc, &err), 0);
	assert_string_equal(loc.root, "/home/bob/Maildir");
	store_location_free(&loc);
	assert_int_equal(store_location_expand(&e->set, "mbox:%h/mail:INBOX=/var/mail/%u",
					       "bob", "/home/bob", &loc, &err), 0);
	assert_int_equal(loc.format, STORE_FORMAT_MBOX);
	assert_string_equal(loc.inbox, "/var/mail/bob");
	assert_string_equal(loc.root, "/home/bob/mail");
	{
		char want[512];

		snprintf(want, sizeof(want), "%s/index/_local/bob", e->dir);
		assert_string_equal(loc.index_dir, want);
	}
	store_location_free(&loc);
	assert_int_equal(store_location_expand(&e->set, "maildir:/m/%x", "bob", NULL, &loc, &err), -1);
	assert_string_equal(err.text, "mail_location: unknown variable %x; use %u %n %d %h");
	assert_int_equal(store_location_expand(&e->set, "maildir:~/M", "bob", NULL, &loc, &err), -1);
	assert_int_equal(store_location_expand(&e->set, "maildir:/m/%u", "../etc", NULL, &loc, &err), -1);
	assert_string_equal(err.text, "Invalid user name");
	assert_int_equal(store_location_expand(&e->set, "maildir:/m/%u", "a/b", NULL, &loc, &err), -1);
	assert_int_equal(store_location_expand(&e->set, "imap:/m", "bob", NULL, &loc, &err), -1);
	assert_int_equal(store_location_expand(&e->set, "maildir:rel/%u", "bob", NULL, &loc, &err), -1);
	assert_int_equal(store_location_expand(&e->set, "maildir:/m:FOO=1", "bob", NULL, &loc, &err), -1);
}

static void test_deliver_and_open(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	struct store_status st;
	char p[512], name[300], buf[512];
	int fd;
	ssize_t n;
	off_t off;
	uint64_t size;

	deliver_ok(e, "bob@example.org", msg1, 1);
	deliver_ok(e, "bob@example.org", msg2, 2);
	path(e, p, sizeof(p), "new");
	assert_int_equal(st_count(p), 2);
	path(e, p, sizeof(p), "tmp");
	assert_int_equal(st_count(p), 0);

	u = open_bob(e);
	box = store_mailbox_open(u, "inbox", 0, &err);
	assert_non_null(box);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.recent, 2);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(st.uidnext, 3);
	assert_int_equal(st.first_unseen_uid, 1);
	/* picked up: moved to cur/ with their UIDs */
	path(e, p, sizeof(p), "new");
	assert_int_equal(st_count(p), 0);
	path(e, p, sizeof(p), "cur");
	assert_int_equal(st_count(p), 2);
	st_first(p, name, sizeof(name));
	assert_true(strstr(name, ",U=1:2,") != NULL || strstr(name, ",U=2:2,") != NULL);

	assert_int_equal(store_msg_open(box, 1, &fd, &off, &size, &err), 0);
	assert_int_equal(off, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal((uint64_t)n, size);
	assert_true(strncmp(buf, "Return-Path: <sender@example.net>\nDelivered-To: bob@example.org\nFrom:",
			    strlen("Return-Path: <sender@example.net>\nDelivered-To: bob@example.org\nFrom:")) == 0);
	assert_non_null(strstr(buf, "body one\n"));
	store_mailbox_close(&box);

	/* \Recent was taken by the first read-write open */
	box = store_mailbox_open(u, "INBOX", 0, &err);
	store_mailbox_status(box, &st);
	assert_int_equal(st.recent, 0);
	store_mailbox_close(&box);
	store_user_close(&u);
	assert_null(u);
}

static int size_cb(const struct store_msg *m, void *ctx)
{
	uint64_t *v = ctx;

	v[0] = m->size;
	v[1] = m->physical_size;
	v[2] = m->flags;
	v[3] = m->modseq;
	return 0;
}

static void test_flags_modseq(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	uint64_t v[4], modseq = 0, m1;
	char p[512], name[300];

	deliver_ok(e, "bob@example.org", msg1, 1);
	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_int_equal(store_msg_get(box, 1, size_cb, v, &err), 1);
	assert_int_equal(v[0], v[1] + 8); /* 8 LF lines: 2 added headers + 4 + blank + body */
	m1 = v[3];
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
					     "$Label1 Work", 0, &modseq, &err), 1);
	assert_true(modseq > m1);
	path(e, p, sizeof(p), "cur");
	st_first(p, name, sizeof(name));
	assert_non_null(strstr(name, ",U=1:2,FS"));
	/* UNCHANGEDSINCE older than the message: refused, nothing changes */
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, NULL, m1,
					     NULL, &err), 0);
	assert_int_equal(store_msg_get(box, 1, size_cb, v, &err), 1);
	assert_int_equal(v[2], STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_REMOVE, STORE_FLAG_FLAGGED, "work",
					     0, NULL, &err), 1);
	st_first(p, name, sizeof(name));
	assert_non_null(strstr(name, ",U=1:2,S"));
	assert_null(strstr(name, "F"));
	store_mailbox_close(&box);
	/* read-only open refuses changes */
	box = store_mailbox_open(u, "INBOX", STORE_OPEN_READONLY, &err);
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, STORE_FLAG_DRAFT, NULL, 0, NULL,
					     &err), -1);
	assert_int_equal(err.cls, STORE_ERR_PERM);
	store_mailbox_close(&box);
	store_user_close(&u);
}

static int kw_cb(const struct store_msg *m, void *ctx)
{
	snprintf(ctx, 64, "%s", m->keywords);
	return 0;
}

static void test_keywords(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	char kw[64];

	deliver_ok(e, "bob@example.org", msg1, 1);
	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, 0, "$Label1 Work", 0, NULL, &err), 1);
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, 0, "work Home", 0, NULL, &err), 1);
	store_msg_get(box, 1, kw_cb, kw, &err);
	assert_string_equal(kw, "$Label1 Work Home");
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_REMOVE, 0, "WORK", 0, NULL, &err), 1);
	store_msg_get(box, 1, kw_cb, kw, &err);
	assert_string_equal(kw, "$Label1 Home");
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_REPLACE, 0, "Only", 0, NULL, &err), 1);
	store_msg_get(box, 1, kw_cb, kw, &err);
	assert_string_equal(kw, "Only");
	store_mailbox_close(&box);
	store_user_close(&u);
}

static void test_other_writer(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	struct store_status st;
	char p[512], from[1024], to[1024], name[300];
	uint32_t uids[16] = { 0 };
	uint64_t v[4];
	FILE *f;

	deliver_ok(e, "bob@example.org", msg1, 1);
	deliver_ok(e, "bob@example.org", msg2, 2);
	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);

	/* mutt marks message 1 seen+replied, deletes message 2, and
	 * Postfix's local delivers a third message into new/ */
	path(e, p, sizeof(p), "cur");
	{
		DIR *d = opendir(p);
		struct dirent *de;

		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(from, sizeof(from), "%s/%s", p, de->d_name);
			if (strstr(de->d_name, ",U=1:")) {
				snprintf(to, sizeof(to), "%s/%.*s:2,RS", p,
					 (int)(strchr(de->d_name, ':') - de->d_name), de->d_name);
				assert_int_equal(rename(from, to), 0);
			} else {
				assert_int_equal(unlink(from), 0);
			}
		}
		closedir(d);
	}
	path(e, p, sizeof(p), "new/1700000000.99999_1.otherhost");
	f = fopen(p, "w");
	fputs("From: x@y\n\nthird\n", f);
	fclose(f);

	assert_int_equal(store_mailbox_sync(box, &err), 1);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 2);
	assert_int_equal(store_mailbox_foreach(box, 0, collect_uids, uids, &err), 0);
	assert_int_equal(uids[0], 2);
	assert_int_equal(uids[1], 1);
	assert_int_equal(uids[2], 3);
	assert_int_equal(store_msg_get(box, 1, size_cb, v, &err), 1);
	assert_int_equal(v[2], STORE_FLAG_SEEN | STORE_FLAG_ANSWERED);
	assert_int_equal(store_msg_get(box, 2, size_cb, v, &err), 0);
	assert_int_equal(store_msg_get(box, 3, size_cb, v, &err), 1);
	assert_int_equal(v[1], 17);
	assert_int_equal(v[0], 20);
	/* the foreign file now carries its UID */
	path(e, p, sizeof(p), "cur");
	assert_int_equal(st_count(p), 2);
	snprintf(from, sizeof(from), "%s/1700000000.99999_1.otherhost,U=3:2,", p);
	assert_int_equal(access(from, F_OK), 0);

	/* Warm path: with a clean stamp, a change that leaves the directory
	 * mtimes alone is not seen - proof that no directory was read. */
	{
		time_t when = time(NULL) - 10;

	age_dirs(e, "", when);
	assert_int_equal(store_mailbox_sync(box, &err), 0); /* rescan, records a clean stamp */
	snprintf(to, sizeof(to), "%s/1700000000.99999_1.otherhost,U=3:2,F", p);
	assert_int_equal(rename(from, to), 0);
	age_dirs(e, "", when);
	}
	assert_int_equal(store_mailbox_sync(box, &err), 0);
	assert_int_equal(store_msg_get(box, 3, size_cb, v, &err), 1);
	assert_int_equal(v[2], 0);
	/* ...and a real mtime change is. */
	assert_int_equal(rename(to, from), 0);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(store_mailbox_sync(box, &err), 1);
	assert_int_equal(store_msg_get(box, 3, size_cb, v, &err), 1);
	assert_int_equal(v[2], STORE_FLAG_FLAGGED);
	(void)name;
	store_mailbox_close(&box);
	store_user_close(&u);
}

static int date_cb(const struct store_msg *m, void *ctx)
{
	uint64_t *v = ctx;

	v[0] = (uint64_t)m->internaldate;
	v[1] = m->flags;
	return 0;
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_takeover_and_rebuild(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	struct store_status st, st2;
	char p[512], q[1024];
	uint32_t uids[16] = { 0 }, uids2[16] = { 0 };
	uint64_t n = 0, v[4];

	/* A Maildir left by mutt/Dovecot: cur/ with flags, new/, a folder. */
	snprintf(p, sizeof(p), "%s/example.org/bob", e->dir);
	{
		char cmd[4096];

		snprintf(cmd, sizeof(cmd), "mkdir -p %.200s && cd %.200s && mkdir -p cur new tmp .Sent/cur .Sent/new .Sent/tmp", p, p);
		assert_int_equal(system("true"), 0);
		assert_int_equal(system(cmd), 0);
	}
	path(e, q, sizeof(q), "cur/1600000000.1_1.old:2,PS");
	write_file(q, "Subject: old passed\n\nx\n");
	path(e, q, sizeof(q), "cur/1600000001.1_2.old:2,");
	write_file(q, "Subject: old unread\n\ny\n");
	path(e, q, sizeof(q), "new/1600000002.1_3.old");
	write_file(q, "Subject: new\n\nz\n");
	path(e, q, sizeof(q), ".Sent/cur/1600000003.1_4.old:2,S");
	write_file(q, "Subject: sent\n\ns\n");

	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(store_mailbox_foreach(box, 0, collect_uids, uids, &err), 0);
	assert_int_equal(uids[0], 3);
	/* UIDs in name order (= delivery time); the P letter survives */
	path(e, q, sizeof(q), "cur/1600000000.1_1.old,U=1:2,PS");
	assert_int_equal(access(q, F_OK), 0);
	path(e, q, sizeof(q), "cur/1600000001.1_2.old,U=2:2,");
	assert_int_equal(access(q, F_OK), 0);
	path(e, q, sizeof(q), "cur/1600000002.1_3.old,U=3:2,");
	assert_int_equal(access(q, F_OK), 0);
	/* a flag change keeps P too */
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, 0,
					     NULL, &err), 1);
	path(e, q, sizeof(q), "cur/1600000000.1_1.old,U=1:2,FPS");
	assert_int_equal(access(q, F_OK), 0);
	/* expunge the highest UID: a rebuild must not hand out 3 again */
	assert_int_equal(store_msg_expunge(box, 3, &err), 1);
	store_mailbox_close(&box);
	deliver_ok(e, "bob@example.org", msg1, 4);

	/* APPEND with an INTERNALDATE: kept across a rebuild */
	box = store_mailbox_open(u, "Sent", 0, &err);
	assert_non_null(box);
	{
		int afd = st_msg_fd("Subject: appended\n\nx\n");
		uint32_t auid = 0;

		assert_int_equal(store_mailbox_append(box, afd, STORE_FLAG_SEEN, "Draft1", 1000000000,
						      &auid, &err), 0);
		close(afd);
		assert_int_equal(auid, 2);
	}
	store_mailbox_close(&box);

	assert_int_equal(store_index_rebuild(u, &n, &err), 0);
	assert_int_equal(n, 5); /* INBOX 3 + Sent 2 */
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	store_mailbox_status(box, &st2);
	assert_int_equal(st2.uidvalidity, st.uidvalidity);
	assert_int_equal(st2.messages, 3);
	assert_int_equal(store_mailbox_foreach(box, 0, collect_uids, uids2, &err), 0);
	assert_int_equal(uids2[1], 1);
	assert_int_equal(uids2[2], 2);
	assert_int_equal(uids2[3], 4);
	assert_int_equal(store_msg_get(box, 1, size_cb, v, &err), 1);
	assert_int_equal(v[2], STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_true(st2.uidnext >= 5);
	store_mailbox_close(&box);
	/* Sent came along, the appended message with its date and flags */
	assert_int_equal(store_mailbox_status_get(u, "Sent", &st, &err), 0);
	assert_int_equal(st.messages, 2);
	box = store_mailbox_open(u, "Sent", 0, &err);
	assert_int_equal(store_msg_get(box, 2, date_cb, v, &err), 1);
	assert_int_equal(v[0], 1000000000);
	assert_int_equal(v[1], STORE_FLAG_SEEN);
	store_mailbox_close(&box);
	store_user_close(&u);
}

static void test_quota(void **state)
{
	struct st_env *e = *state;
	struct store_error err;
	struct store_user *u;
	struct store_quota q;

	e->set.quota_messages = 2;
	deliver_ok(e, "bob@example.org", msg1, 1);
	deliver_ok(e, "bob@example.org", msg2, 2);
	assert_int_equal(st_deliver(e, "bob@example.org", msg1, NULL, NULL, &err), -1);
	assert_int_equal(err.cls, STORE_ERR_QUOTA);
	assert_false(store_error_is_temp(&e->set, &err));
	e->set.quota_full_tempfail = true;
	assert_true(store_error_is_temp(&e->set, &err));
	u = open_bob(e);
	assert_int_equal(store_quota_get(u, &q, &err), 0);
	assert_int_equal(q.messages_used, 2);
	assert_int_equal(q.messages_limit, 2);
	assert_true(q.bytes_used > 100);
	assert_int_equal(q.bytes_limit, 0);
	/* byte limit from the user (userdb quota=) */
	store_user_set_quota(u, 10, 0);
	assert_int_equal(store_quota_get(u, &q, &err), 0);
	assert_int_equal(q.bytes_limit, 10);
	store_user_close(&u);
	/* nothing half-visible after the refusal */
	{
		char p[512];

		path(e, p, sizeof(p), "new");
		assert_int_equal(st_count(p), 2);
		path(e, p, sizeof(p), "tmp");
		assert_int_equal(st_count(p), 0);
	}
}

static int list_cb(const struct store_mailbox_info *info, void *ctx)
{
	struct strbuf_like { char s[512]; } *out = ctx;
	size_t l = strlen(out->s);

	snprintf(out->s + l, sizeof(out->s) - l, "%s%s%s%s;", info->name,
		 info->subscribed ? "+s" : "", info->exists ? "" : "(none)",
		 info->has_children ? "+c" : "");
	return 0;
}

static void test_extension_and_dup(void **state)
{
	struct st_env *e = *state;
	struct store_error err;
	struct store_dedup *dd = store_dedup_new();
	struct store_user *u;
	struct { char s[512]; } out = { "" };
	char p[512];

	/* extension into INBOX by default */
	deliver_ok(e, "bob+lists@example.org", msg1, 1);
	e->set.save_to_detail_mailbox = true;
	deliver_ok(e, "bob+lists@example.org", msg2, 1);
	path(e, p, sizeof(p), ".lists/new");
	assert_int_equal(st_count(p), 1);
	path(e, p, sizeof(p), ".lists/maildirfolder");
	assert_int_equal(access(p, F_OK), 0);
	/* no autocreate: INBOX */
	e->set.mailbox_autocreate = false;
	deliver_ok(e, "bob+other@example.org", msg2, 2);
	u = open_bob(e);
	assert_int_equal(store_mailbox_list(u, list_cb, &out, &err), 0);
	assert_string_equal(out.s, "INBOX;lists+s;");
	store_user_close(&u);

	/* duplicates within one dedup set: delivered once */
	assert_int_equal(st_deliver(e, "bob@example.org", msg1, dd, NULL, &err), 0);
	assert_int_equal(st_deliver(e, "bob@example.org", msg1, dd, NULL, &err), 1);
	assert_int_equal(st_deliver(e, "carol@example.org", msg1, dd, NULL, &err), 0);
	path(e, p, sizeof(p), "new");
	assert_int_equal(st_count(p), 3);
	store_dedup_free(&dd);
	assert_null(dd);

	/* our own Delivered-To already there: a loop, refused for good */
	assert_int_equal(st_deliver(e, "bob@example.org",
				    "Delivered-To: bob@example.org\nSubject: loop\n\nx\n", NULL, NULL,
				    &err), -1);
	assert_int_equal(err.cls, STORE_ERR_PERM);
	assert_string_equal(err.text, "mail forwarding loop for bob@example.org");
}

static void test_expunge_copy_move(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box, *sent;
	struct store_error err;
	struct store_status st;
	uint32_t nu = 0, uids[16] = { 0 };
	uint64_t v[4];
	char p[512];

	deliver_ok(e, "bob@example.org", msg1, 1);
	deliver_ok(e, "bob@example.org", msg2, 2);
	u = open_bob(e);
	assert_int_equal(store_mailbox_create(u, "Sent", STORE_SPECIAL_SENT, &err), 0);
	assert_int_equal(store_mailbox_create(u, "Sent", 0, &err), -1);
	assert_int_equal(err.cls, STORE_ERR_EXISTS);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	sent = store_mailbox_open(u, "Sent", 0, &err);
	assert_non_null(box);
	assert_non_null(sent);
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, "Work", 0, NULL,
					     &err), 1);
	assert_int_equal(store_msg_copy(box, 1, sent, &nu, &err), 0);
	assert_int_equal(nu, 1);
	assert_int_equal(store_msg_get(sent, 1, size_cb, v, &err), 1);
	assert_int_equal(v[2], STORE_FLAG_SEEN);
	assert_int_equal(store_msg_move(box, 2, sent, &nu, &err), 0);
	assert_int_equal(nu, 2);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 1);
	store_mailbox_status(sent, &st);
	assert_int_equal(st.messages, 2);
	/* \Deleted + EXPUNGE */
	assert_int_equal(store_msg_set_flags(sent, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED, NULL, 0, NULL,
					     &err), 1);
	assert_int_equal(store_mailbox_expunge(sent, NULL, 0, NULL, NULL, &err), 0);
	assert_int_equal(store_mailbox_foreach(sent, 0, collect_uids, uids, &err), 0);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 2);
	path(e, p, sizeof(p), ".Sent/cur");
	assert_int_equal(st_count(p), 1);
	/* a vanished message */
	assert_int_equal(store_msg_open(box, 2, (int[1]){ 0 }, (off_t[1]){ 0 }, (uint64_t[1]){ 0 },
					&err), -1);
	assert_int_equal(err.cls, STORE_ERR_EXPUNGED);
	store_mailbox_close(&sent);
	store_mailbox_close(&box);
	store_user_close(&u);
}

/* Hostile bytes are stored exactly as received: NULs, bare CR and LF, a
 * 1 MB line, a header line without a colon, no body separator. */
static void test_raw_bytes(void **state)
{
	struct st_env *e = *state;
	struct store_deliver_req req = { .user = "bob@example.org", .sender = "" };
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	size_t big = 1024 * 1024 + 17, len = 0;
	char *msg = malloc(big + 64), *back = malloc(big + 256), tmpl[] = "/tmp/pst-raw.XXXXXX";
	const char *prefix = "Return-Path: <>\nDelivered-To: bob@example.org\n";
	off_t off;
	uint64_t size;
	ssize_t n;
	int fd;

	len += (size_t)snprintf(msg, 64, "no colon here\nX: a\rb\r\n");
	msg[len++] = '\0';
	msg[len++] = 'z';
	memset(msg + len, 'L', big - len - 1);
	msg[big - 1] = '\r';
	len = big;
	fd = mkstemp(tmpl);
	unlink(tmpl);
	assert_int_equal(write(fd, msg, len), (ssize_t)len);
	lseek(fd, 0, SEEK_SET);
	req.fd = fd;
	assert_int_equal(store_deliver(&e->set, &req, NULL, &err), 0);
	close(fd);
	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_int_equal(store_msg_open(box, 1, &fd, &off, &size, &err), 0);
	assert_int_equal(size, strlen(prefix) + len);
	n = pread(fd, back, size, off);
	close(fd);
	assert_int_equal((size_t)n, size);
	assert_memory_equal(back, prefix, strlen(prefix));
	assert_memory_equal(back + strlen(prefix), msg, len);
	/* a CRLF message gets CRLF headers; read through a pipe as well */
	{
		const char *crlf = "Subject: x\r\n\r\nbody\r\n";
		int pfd[2];
		char got[256];

		assert_int_equal(pipe(pfd), 0);
		assert_int_equal(write(pfd[1], crlf, strlen(crlf)), (ssize_t)strlen(crlf));
		close(pfd[1]);
		req.fd = pfd[0];
		assert_int_equal(store_deliver(&e->set, &req, NULL, &err), 0);
		close(pfd[0]);
		assert_int_equal(store_mailbox_sync(box, &err), 1);
		assert_int_equal(store_msg_open(box, 2, &fd, &off, &size, &err), 0);
		n = pread(fd, got, sizeof(got) - 1, off);
		close(fd);
		assert_true(n > 0);
		got[n] = '\0';
		assert_string_equal(got, "Return-Path: <>\r\nDelivered-To: bob@example.org\r\n"
					 "Subject: x\r\n\r\nbody\r\n");
	}
	store_mailbox_close(&box);
	store_user_close(&u);
	free(msg);
	free(back);
}

/* A write that fails halfway (a full disk, here RLIMIT_FSIZE): a
 * temporary failure, nothing left in tmp/ or visible in new/. */
static void test_write_failure(void **state)
{
	struct st_env *e = *state;
	char *big = malloc(300000), p[512];
	pid_t pid;
	int status;

	memset(big, 'a', 299999);
	big[299999] = '\0';
	memcpy(big, "Subject: big\n\n", 14);
	deliver_ok(e, "bob@example.org", msg1, 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { .rlim_cur = 100000, .rlim_max = 100000 };
		struct store_error err;
		int rc;

		struct store_deliver_req req = { .user = "bob@example.org", .sender = "" };

		req.fd = st_msg_fd(big); /* written before the limit applies */
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		rc = store_deliver(&e->set, &req, NULL, &err);
		if (!(rc == -1 && store_error_is_temp(&e->set, &err)))
			fprintf(stderr, "rc=%d %s %s\n", rc, store_error_class_name(err.cls), err.text);
		_exit(rc == -1 && store_error_is_temp(&e->set, &err) ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	path(e, p, sizeof(p), "tmp");
	assert_int_equal(st_count(p), 0);
	path(e, p, sizeof(p), "new");
	assert_int_equal(st_count(p), 1);
	free(big);
}

static int subject_cb(const struct store_msg *m, void *ctx)
{
	(void)m;
	(void)ctx;
	return 0;
}

/* A delivery SIGKILLed after link() into new/ and before its index commit
 * leaves new/NAME,U=2 that the index never heard of; the next delivery is
 * handed UID 2 again. A sync must index both files under distinct UIDs,
 * keep UID 2 for the delivery that reported success, and a rebuild must
 * give the same answer (the orphan was renamed to its new UID). */
static void test_killed_after_link(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	struct store_status st;
	uint32_t uids[16] = { 0 };
	uint64_t n = 0;
	char p[512], q[1024];
	int fd;
	char buf[256];
	ssize_t len;

	deliver_ok(e, "bob@example.org", msg1, 1);
	path(e, q, sizeof(q), "new/1790000000.M1P99999Q1.mx.example.org,S=21,W=22,U=2");
	write_file(q, "Subject: orphan\n\nzzz\n");
	deliver_ok(e, "bob@example.org", msg2, 2);

	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.uidnext, 4);
	assert_int_equal(store_mailbox_foreach(box, 0, collect_uids, uids, &err), 0);
	assert_int_equal(uids[0], 3);
	assert_int_equal(uids[1], 1);
	assert_int_equal(uids[2], 2);
	assert_int_equal(uids[3], 3);
	path(e, p, sizeof(p), "new");
	assert_int_equal(st_count(p), 0);
	path(e, p, sizeof(p), "cur");
	assert_int_equal(st_count(p), 3);
	/* the orphan carries its new UID, the delivery keeps 2 */
	path(e, q, sizeof(q), "cur/1790000000.M1P99999Q1.mx.example.org,S=21,W=22,U=3:2,");
	assert_int_equal(access(q, F_OK), 0);
	{
		off_t off;
		uint64_t size;

		assert_int_equal(store_msg_open(box, 2, &fd, &off, &size, &err), 0);
		len = pread(fd, buf, sizeof(buf) - 1, off);
		close(fd);
		assert_true(len > 0);
		buf[len] = '\0';
		assert_non_null(strstr(buf, "Subject: two"));
	}
	assert_int_equal(store_msg_get(box, 3, subject_cb, NULL, &err), 1);
	store_mailbox_close(&box);

	assert_int_equal(store_index_rebuild(u, &n, &err), 0);
	assert_int_equal(n, 3);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	memset(uids, 0, sizeof(uids));
	assert_int_equal(store_mailbox_foreach(box, 0, collect_uids, uids, &err), 0);
	assert_int_equal(uids[0], 3);
	assert_int_equal(uids[1], 1);
	assert_int_equal(uids[2], 2);
	assert_int_equal(uids[3], 3);
	store_mailbox_close(&box);
	store_user_close(&u);
}

static void test_tree(void **state)
{
	struct st_env *e = *state;
	struct store_user *u = open_bob(e);
	struct store_error err;
	struct { char s[512]; } out = { "" };
	char p[512];

	assert_int_equal(store_mailbox_create(u, "Lists", 0, &err), 0);
	assert_int_equal(store_mailbox_create(u, "Lists/postern", 0, &err), 0);
	assert_int_equal(store_mailbox_create(u, "a.b", 0, &err), 0);
	assert_int_equal(store_mailbox_create(u, "bad//name", 0, &err), -1);
	assert_int_equal(err.cls, STORE_ERR_PERM);
	assert_int_equal(store_mailbox_create(u, "../x", 0, &err), -1);
	path(e, p, sizeof(p), ".Lists.postern/cur");
	assert_int_equal(access(p, F_OK), 0);
	path(e, p, sizeof(p), ".a\\2eb/cur");
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(store_mailbox_subscribe(u, "Ghost", true, &err), 0);
	assert_int_equal(store_mailbox_list(u, list_cb, &out, &err), 0);
	assert_string_equal(out.s, "INBOX;Ghost+s(none);Lists+c;Lists/postern;a.b;");
	assert_int_equal(store_mailbox_rename(u, "Lists", "Old", &err), 0);
	path(e, p, sizeof(p), ".Old.postern/cur");
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(store_mailbox_rename(u, "Old", "a.b", &err), -1);
	assert_int_equal(err.cls, STORE_ERR_EXISTS);
	assert_int_equal(store_mailbox_delete(u, "Old", &err), 0);
	assert_int_equal(store_mailbox_delete(u, "INBOX", &err), -1);
	assert_string_equal(err.text, "INBOX cannot be deleted");
	assert_int_equal(store_mailbox_delete(u, "Nope", &err), -1);
	assert_int_equal(err.cls, STORE_ERR_NOTFOUND);
	out.s[0] = '\0';
	assert_int_equal(store_mailbox_list(u, list_cb, &out, &err), 0);
	assert_string_equal(out.s, "INBOX;Ghost+s(none);a.b;");
	/* two opens of one user in a process share the LMDB environment;
	 * a rebuild waits until the other one is closed */
	{
		struct store_user *u2 = open_bob(e);
		uint64_t n = 0;

		assert_int_equal(store_index_rebuild(u, &n, &err), -1);
		assert_int_equal(err.cls, STORE_ERR_TEMP);
		store_user_close(&u2);
		assert_int_equal(store_index_rebuild(u, &n, &err), 0);
		out.s[0] = '\0';
		assert_int_equal(store_mailbox_list(u, list_cb, &out, &err), 0);
		assert_string_equal(out.s, "INBOX;Ghost+s(none);a.b;"); /* subscriptions kept */
	}
	store_user_close(&u);
}

/* RFC 3501 6.3.5: renaming INBOX moves its messages, INBOX stays (empty)
 * and so do its children. */
static void test_rename_inbox(void **state)
{
	struct st_env *e = *state;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_status st;
	struct store_error err;
	uint32_t uids[8] = { 0 };

	deliver_ok(e, "bob@example.org", "Subject: one\r\n\r\nbody\r\n", 1);
	deliver_ok(e, "bob@example.org", "Subject: two\r\n\r\nbody\r\n", 2);
	u = open_bob(e);
	assert_int_equal(store_mailbox_create(u, "INBOX/kept", 0, &err), 0);
	assert_int_equal(store_mailbox_create(u, "Taken", 0, &err), 0);
	assert_int_equal(store_mailbox_rename(u, "inbox", "Taken", &err), -1);
	assert_int_equal(err.cls, STORE_ERR_EXISTS);
	assert_int_equal(store_mailbox_rename(u, "INBOX", "Old mail", &err), 0);
	assert_int_equal(store_mailbox_status_get(u, "INBOX", &st, &err), 0);
	assert_int_equal(st.messages, 0);
	assert_int_equal(store_mailbox_status_get(u, "Old mail", &st, &err), 0);
	assert_int_equal(st.messages, 2);
	box = store_mailbox_open(u, "Old mail", 0, &err);
	assert_non_null(box);
	assert_int_equal(store_mailbox_foreach(box, 0, collect_uids, uids, &err), 0);
	assert_int_equal(uids[0], 2);
	store_mailbox_close(&box);
	assert_int_equal(store_mailbox_status_get(u, "INBOX/kept", &st, &err), 0);
	/* IMAP DELETE keeps the children (RFC 3501 6.3.4) */
	{
		struct { char s[512]; } out = { "" };

		assert_int_equal(store_mailbox_create(u, "P", 0, &err), 0);
		assert_int_equal(store_mailbox_create(u, "P/c", 0, &err), 0);
		assert_int_equal(store_mailbox_delete_keep_children(u, "P", &err), 0);
		assert_int_equal(store_mailbox_delete_keep_children(u, "P", &err), -1);
		assert_int_equal(err.cls, STORE_ERR_NOTFOUND);
		assert_int_equal(store_mailbox_list(u, list_cb, &out, &err), 0);
		assert_string_equal(out.s, "INBOX+c;INBOX/kept;Old mail;P/c;Taken;");
	}
	store_user_close(&u);
}

static int notified;

static void on_change(struct store_mailbox *box, void *ctx)
{
	(void)box;
	(void)ctx;
	notified++;
}

static void test_notify(void **state)
{
	struct st_env *e = *state;
	struct event_base *base = event_base_new();
	struct store_user *u;
	struct store_mailbox *box, *box2;
	struct store_error err;

	deliver_ok(e, "bob@example.org", msg1, 1);
	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	box2 = store_mailbox_open(u, "INBOX", STORE_OPEN_READONLY, &err);
	assert_int_equal(store_mailbox_notify(box, base, on_change, NULL, &err), 0);
	assert_int_equal(store_mailbox_notify(box2, base, on_change, NULL, &err), 0);
	notified = 0;
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(notified, 0);
	deliver_ok(e, "bob@example.org", msg2, 2);
	usleep(20000);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(notified, 2); /* each mailbox once, however many events */
	assert_int_equal(store_mailbox_sync(box, &err), 1);
	store_mailbox_notify_stop(box2);
	notified = 0;
	usleep(20000);
	event_base_loop(base, EVLOOP_NONBLOCK); /* drain the sync's own renames */
	notified = 0;
	deliver_ok(e, "bob@example.org", msg1, 3);
	usleep(20000);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(notified, 1);
	store_mailbox_close(&box2);
	store_mailbox_close(&box); /* stops its watch; the instance goes away */
	store_user_close(&u);
	event_base_free(base);
}

/* With change notification on, a sync trusts the index after changes
 * it can match to records (this process's or another Postern's) and
 * scans after any other: a foreign rename, a new file, an unlink are all
 * seen at once - even when cur/'s mtime says nothing happened. */
static void test_notify_dirty(void **state)
{
	struct st_env *e = *state;
	struct event_base *base = event_base_new();
	struct store_user *u;
	struct store_mailbox *box;
	struct store_error err;
	struct store_status st;
	char cur[512], name[300], from[1024], to[1024];
	uint64_t modseq;
	time_t old = time(NULL) - 100;
	struct timespec ts[2] = { { .tv_sec = old }, { .tv_sec = old } };
	uint32_t uids[8] = { 0 };

	deliver_ok(e, "bob@example.org", msg1, 1);
	deliver_ok(e, "bob@example.org", msg2, 2);
	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_int_equal(store_mailbox_notify(box, base, on_change, NULL, &err), 0);
	age_dirs(e, "", old);
	assert_int_equal(store_mailbox_sync(box, &err), 0);
	assert_int_equal(store_mailbox_sync(box, &err), 0);

	/* our own change: matched, nothing to scan, flags as stored */
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, 0,
					     &modseq, &err), 1);
	assert_int_equal(store_mailbox_sync(box, &err), 0);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 2);

	/* another program sets \Seen on message 2 and puts cur/'s mtime
	 * back: the stamps cannot see it, the watch does */
	path(e, cur, sizeof(cur), "cur");
	st_first(cur, name, sizeof(name));
	assert_true(name[0] != '\0');
	{
		DIR *d = opendir(cur);
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			if (strstr(de->d_name, ",U=2:") != NULL)
				snprintf(name, sizeof(name), "%s", de->d_name);
		closedir(d);
	}
	assert_non_null(strstr(name, ",U=2:2,"));
	snprintf(from, sizeof(from), "%s/%s", cur, name);
	snprintf(to, sizeof(to), "%s/%sS", cur, name);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(utimensat(AT_FDCWD, cur, ts, 0), 0);
	assert_int_equal(store_mailbox_sync(box, &err), 1);
	store_mailbox_status(box, &st);
	assert_int_equal(st.unseen, 1);

	/* a file removed by another program, mtime put back again */
	age_dirs(e, "", old);
	assert_int_equal(store_mailbox_sync(box, &err), 0);
	assert_int_equal(unlink(to), 0);
	assert_int_equal(utimensat(AT_FDCWD, cur, ts, 0), 0);
	assert_int_equal(store_mailbox_sync(box, &err), 1);
	assert_int_equal(store_mailbox_foreach(box, 0, collect_uids, uids, &err), 0);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 1);

	/* a file another program put into cur/ (no U=) */
	age_dirs(e, "", old);
	assert_int_equal(store_mailbox_sync(box, &err), 0);
	snprintf(to, sizeof(to), "%s/1700000000.M1P1.other:2,S", cur);
	write_file(to, msg2);
	assert_int_equal(utimensat(AT_FDCWD, cur, ts, 0), 0);
	assert_int_equal(store_mailbox_sync(box, &err), 1);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 2);

	/* a delivery (new/) is picked up by a partial scan */
	deliver_ok(e, "bob@example.org", msg1, 4);
	assert_int_equal(store_mailbox_sync(box, &err), 1);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 3);
	path(e, cur, sizeof(cur), "new");
	assert_int_equal(st_count(cur), 0);

	store_mailbox_close(&box);
	store_user_close(&u);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_location, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_and_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_modseq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keywords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover_and_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extension_and_dup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_copy_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_inbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_dirty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_after_link, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
