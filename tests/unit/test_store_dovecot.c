/*
 * test_store_dovecot.c - taking over a Maildir Dovecot used
 * (store/maildir-dovecot.c, store/maildir.c): dovecot-uidlist gives the
 * UIDVALIDITY, UIDNEXT and each file's UID, dovecot-keywords names the
 * keyword letters of the file names; both survive an index rebuild.
 * Inputs: a Maildir written here by hand from Dovecot's documented
 * format, and tests/data/dovecot-maildir/, made by Dovecot 2.3.19 itself
 * (doveadm save / flags add / expunge; see tests/data/README.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "store/maildir-dovecot.h"
#include "store/maildir-name.h"
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

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void root_of(struct st_env *e, char *out, size_t size)
{
	snprintf(out, size, "%s/example.org/bob", e->dir);
}

static void mkdirs(const char *root, const char *folder)
{
	char p[700];
	const char *subs[] = { "", "/new", "/cur", "/tmp" };

	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s%s", root, folder, subs[i]);
		(void)mkdir(p, 0700);
	}
}

struct seen {
	uint32_t uid[16];
	unsigned flags[16];
	char kw[16][128];
	size_t n;
};

static int seen_cb(const struct store_msg *m, void *ctx)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	s->uid[s->n] = m->uid;
	s->flags[s->n] = m->flags & STORE_FLAGS_STORED;
	str_copy(s->kw[s->n], m->keywords, sizeof(s->kw[0]));
	s->n++;
	return 0;
}

static void list_box(struct store_user *u, const char *name, struct store_status *st,
		     struct seen *s)
{
	struct store_error err;
	struct store_mailbox *box = store_mailbox_open(u, name, 0, &err);

	if (box == NULL)
		fail_msg("open %s: %s", name, err.text);
	store_mailbox_status(box, st);
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_mailbox_foreach(box, 0, seen_cb, s, &err), 0);
	store_mailbox_close(&box);
}

static struct store_user *open_bob(struct st_env *e)
{
	struct store_error err;
	struct store_user *u = store_user_open(&e->set, "bob@example.org", NULL, NULL, 0, &err);

	if (u == NULL)
		fail_msg("open: %s", err.text);
	return u;
}

/* ---- parsers ---- */

static void test_uidlist_parse(void **state)
{
	struct maildir_uidlist ul;
	const char *why = NULL;
	const char *v3 =
		"3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n"
		"25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n"
		"25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n"
		"x garbage line\n"
		"0 :zero.uid\n"
		"30000 :dup.name\n"
		"30001 :dup.name:2,S\n"
		"25020 :../escape\n"
		"25021 :last.no.lf";

	(void)state;
	assert_int_equal(maildir_uidlist_parse(v3, strlen(v3), &ul, &why), 0);
	assert_int_equal(ul.version, 3);
	assert_int_equal(ul.uidvalidity, 1275660208);
	/* N is lazily updated by Dovecot: the listed UIDs raise it */
	assert_int_equal(ul.nextuid, 30002);
	assert_int_equal(ul.n, 3);
	assert_int_equal(maildir_uidlist_lookup(&ul, "1276528487.M364837P9451.kurkku,S=1355,W=1394",
						strlen("1276528487.M364837P9451.kurkku,S=1355,W=1394")),
			 25006);
	assert_int_equal(maildir_uidlist_lookup(&ul, "1276533073.M242911P3632.kurkku", 30), 25017);
	assert_int_equal(maildir_uidlist_lookup(&ul, "1276533073.M242911P3632.kurk", 28), 0);
	assert_int_equal(maildir_uidlist_lookup(&ul, "last.no.lf", 10), 25021);
	assert_int_equal(maildir_uidlist_lookup(&ul, "dup.name", 8), 0);
	assert_int_equal(maildir_uidlist_lookup(&ul, "zero.uid", 8), 0);
	maildir_uidlist_free(&ul);

	/* Courier / Dovecot 1.0 layout */
	assert_int_equal(maildir_uidlist_parse("1 4711 9\n3 a.b.c:2,S\n8 d.e.f\n", 29, &ul, &why), 0);
	assert_int_equal(ul.version, 1);
	assert_int_equal(ul.uidvalidity, 4711);
	assert_int_equal(ul.nextuid, 9);
	assert_int_equal(maildir_uidlist_lookup(&ul, "a.b.c", 5), 3);
	assert_int_equal(maildir_uidlist_lookup(&ul, "d.e.f", 5), 8);
	maildir_uidlist_free(&ul);

	assert_int_equal(maildir_uidlist_parse("2 V1 N2\n", 8, &ul, &why), -1);
	assert_string_equal(why, "not a dovecot-uidlist (version 1 or 3 header with a UIDVALIDITY)");
	assert_int_equal(maildir_uidlist_parse("3 N5 G00\n", 9, &ul, &why), -1);
	assert_int_equal(maildir_uidlist_parse("", 0, &ul, &why), -1);
	assert_int_equal(maildir_uidlist_parse("3 V99999999999 N1\n", 18, &ul, &why), -1);
}

static void test_keywords_parse(void **state)
{
	struct maildir_keywords kw;
	struct strbuf sb;
	const char *text = "0 Junk\n1 $Forwarded\n2 bad keyword\n26 TooFar\n3 (paren\n"
			   "x y\n5 NonJunk\r\n1 Again\n";

	(void)state;
	assert_int_equal(maildir_keywords_parse(text, strlen(text), &kw), 0);
	assert_string_equal(kw.name[0], "Junk");
	assert_string_equal(kw.name[1], "$Forwarded");
	assert_null(kw.name[2]);
	assert_null(kw.name[3]);
	assert_string_equal(kw.name[5], "NonJunk");
	strbuf_init(&sb, 1024);
	assert_int_equal(maildir_keywords_from_letters(&kw, "PSbacfz", &sb), 0);
	assert_string_equal(sb.data, "$Forwarded Junk NonJunk");
	strbuf_reset(&sb);
	assert_int_equal(maildir_keywords_format(&kw, &sb), 0);
	assert_string_equal(sb.data, "0 Junk\n1 $Forwarded\n5 NonJunk\n");
	strbuf_free(&sb);
	maildir_keywords_free(&kw);
}

/* ---- a Maildir written by hand ---- */

static void test_takeover_by_hand(void **state)
{
	struct st_env *e = *state;
	char root[512], p[900];
	struct store_user *u;
	struct store_status st;
	struct seen s;
	struct store_error err;
	uint64_t n = 0;

	root_of(e, root, sizeof(root));
	snprintf(p, sizeof(p), "%s/example.org", e->dir);
	mkdir(p, 0700);
	mkdirs(root, "");
	snprintf(p, sizeof(p), "%s/dovecot-uidlist", root);
	put(p, "3 V1234567 N10 G0123456789abcdef0123456789abcdef\n"
	       "3 :1700000000.M1P1.host,S=20,W=21:2,S\n"
	       "7 W31 :1700000001.M2P2.host\n");
	snprintf(p, sizeof(p), "%s/dovecot-keywords", root);
	put(p, "0 Junk\n1 $Label1\n");
	snprintf(p, sizeof(p), "%s/cur/1700000000.M1P1.host,S=20,W=21:2,RSa", root);
	put(p, "Subject: one\n\nbody1\n");
	snprintf(p, sizeof(p), "%s/new/1700000001.M2P2.host", root);
	put(p, "Subject: two\n\nbody two, longer\n");
	snprintf(p, sizeof(p), "%s/cur/1700000002.M3P3.host:2,b", root);
	put(p, "Subject: three\n\nnot in the uidlist\n");

	u = open_bob(e);
	list_box(u, "INBOX", &st, &s);
	assert_int_equal(st.uidvalidity, 1234567);
	assert_int_equal(st.messages, 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.uid[0], 3);
	assert_int_equal(s.flags[0], STORE_FLAG_SEEN | STORE_FLAG_ANSWERED);
	assert_string_equal(s.kw[0], "Junk");
	assert_int_equal(s.uid[1], 7);
	assert_int_equal(s.flags[1], 0);
	assert_string_equal(s.kw[1], "");
	/* a file Dovecot never listed gets a UID above Dovecot's UIDNEXT */
	assert_int_equal(s.uid[2], 10);
	assert_string_equal(s.kw[2], "$Label1");
	assert_int_equal(st.uidnext, 11);
	/* our own record of it, so a rebuild keeps it without the uidlist */
	snprintf(p, sizeof(p), "%s/postern-uidvalidity", root);
	assert_int_equal(access(p, F_OK), 0);
	/* the files now carry their UIDs and still their keyword letters */
	snprintf(p, sizeof(p), "%s/cur/1700000000.M1P1.host,S=20,W=21,U=3:2,RSa", root);
	assert_int_equal(access(p, F_OK), 0);

	/* the rebuilt index says the same, keywords included - from the
	 * file names alone: Dovecot's uidlist is no longer needed */
	snprintf(p, sizeof(p), "%s/dovecot-uidlist", root);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(store_index_rebuild(u, &n, &err), 0);
	assert_int_equal(n, 3);
	list_box(u, "INBOX", &st, &s);
	assert_int_equal(st.uidvalidity, 1234567);
	assert_int_equal(s.uid[0], 3);
	assert_string_equal(s.kw[0], "Junk");
	assert_int_equal(s.uid[1], 7);
	assert_int_equal(s.uid[2], 10);
	assert_string_equal(s.kw[2], "$Label1");
	assert_int_equal(st.uidnext, 11);
	store_user_close(&u);

	/* the next delivery continues after them */
	{
		uint32_t uid = 0;

		assert_int_equal(st_deliver(e, "bob@example.org", "Subject: four\n\nx\n", NULL, &uid,
					    &err),
				 0);
		assert_int_equal(uid, 11);
	}
}

/* A broken uidlist costs the UIDs, nothing else. */
static void test_broken_uidlist(void **state)
{
	struct st_env *e = *state;
	char root[512], p[900];
	struct store_user *u;
	struct store_status st;
	struct seen s;

	root_of(e, root, sizeof(root));
	snprintf(p, sizeof(p), "%s/example.org", e->dir);
	mkdir(p, 0700);
	mkdirs(root, "");
	snprintf(p, sizeof(p), "%s/dovecot-uidlist", root);
	put(p, "garbage\n5 :1700000000.M1P1.host\n");
	snprintf(p, sizeof(p), "%s/cur/1700000000.M1P1.host:2,S", root);
	put(p, "Subject: one\n\nbody1\n");
	u = open_bob(e);
	list_box(u, "INBOX", &st, &s);
	assert_int_equal(st.messages, 1);
	assert_int_equal(s.uid[0], 1);
	assert_int_not_equal(st.uidvalidity, 0);
	store_user_close(&u);
}

/* ---- a Maildir Dovecot made ---- */

static void test_takeover_real_dovecot(void **state)
{
	struct st_env *e = *state;
	char root[512], cmd[1400];
	struct store_user *u;
	struct store_status st;
	struct seen s;
	struct store_error err;
	uint64_t n = 0;

	root_of(e, root, sizeof(root));
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/example.org' && cp -r tests/data/dovecot-maildir '%s'",
		 e->dir, root);
	assert_int_equal(system(cmd), 0);
	/* git keeps no empty directories */
	mkdirs(root, "");
	mkdirs(root, "/.Lists.work");

	u = open_bob(e);
	list_box(u, "INBOX", &st, &s);
	/* doveadm fetch 'uid flags' said: 1 Junk $Forwarded; 2 \Seen NonJunk; 4 */
	assert_int_equal(st.uidvalidity, 1795609898);
	assert_int_equal(st.uidnext, 5);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.uid[0], 1);
	assert_int_equal(s.flags[0], 0);
	assert_string_equal(s.kw[0], "Junk $Forwarded");
	assert_int_equal(s.uid[1], 2);
	assert_int_equal(s.flags[1], STORE_FLAG_SEEN);
	assert_string_equal(s.kw[1], "NonJunk");
	assert_int_equal(s.uid[2], 4);
	assert_string_equal(s.kw[2], "");

	/* Dovecot's folder "Lists.work" ('.' separator) is our Lists/work;
	 * its uidlist header still says N1 although UID 1 was given */
	list_box(u, "Lists/work", &st, &s);
	assert_int_equal(st.uidvalidity, 1795609899);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.uid[0], 1);
	assert_string_equal(s.kw[0], "Junk");
	assert_int_equal(st.uidnext, 2);

	assert_int_equal(store_index_rebuild(u, &n, &err), 0);
	assert_int_equal(n, 4);
	list_box(u, "INBOX", &st, &s);
	assert_int_equal(st.uidvalidity, 1795609898);
	assert_int_equal(s.uid[2], 4);
	assert_string_equal(s.kw[0], "Junk $Forwarded");
	assert_int_equal(s.flags[1], STORE_FLAG_SEEN);
	store_user_close(&u);
}

/* The usual migration order: the MTA delivers before the user's first
 * IMAP login. The delivery (no sync) must take the UID after Dovecot's,
 * and the first sync must still keep Dovecot's UIDs. */
static void test_takeover_after_delivery(void **state)
{
	struct st_env *e = *state;
	char root[512], cmd[1400];
	struct store_user *u;
	struct store_status st;
	struct seen s;
	struct store_error err;
	uint32_t uid = 0;

	root_of(e, root, sizeof(root));
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/example.org' && cp -r tests/data/dovecot-maildir '%s'",
		 e->dir, root);
	assert_int_equal(system(cmd), 0);
	mkdirs(root, "");
	mkdirs(root, "/.Lists.work");
	assert_int_equal(st_deliver(e, "bob@example.org", "Subject: new\n\nx\n", NULL, &uid, &err),
			 0);
	assert_int_equal(uid, 5);
	u = open_bob(e);
	list_box(u, "INBOX", &st, &s);
	assert_int_equal(st.uidvalidity, 1795609898);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.uid[0], 1);
	assert_string_equal(s.kw[0], "Junk $Forwarded");
	assert_int_equal(s.uid[1], 2);
	assert_int_equal(s.uid[2], 4);
	assert_int_equal(s.uid[3], 5);
	assert_int_equal(st.uidnext, 6);
	store_user_close(&u);
}

/* ---- keywords written into the file names (Dovecot's letters) ---- */

static void only_file(const char *dir, char *out, size_t size)
{
	assert_int_equal(st_count(dir), 1);
	st_first(dir, out, size);
}

static void test_keywords_in_names(void **state)
{
	struct st_env *e = *state;
	char root[512], p[900], name[512];
	struct store_user *u;
	struct store_mailbox *box;
	struct store_status st;
	struct store_error err;
	struct seen s;
	uint32_t uid = 0;
	uint64_t n = 0;
	int fd;
	struct strbuf many;

	assert_int_equal(st_deliver(e, "bob@example.org", "Subject: one\n\nx\n", NULL, &uid, &err),
			 0);
	root_of(e, root, sizeof(root));
	u = open_bob(e);
	box = store_mailbox_open(u, "INBOX", 0, &err);
	assert_non_null(box);
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, 0, "Work $Label1", 0, NULL,
					     &err),
			 1);
	snprintf(p, sizeof(p), "%s/cur", root);
	only_file(p, name, sizeof(name));
	assert_non_null(strstr(name, ",U=1:2,ab"));
	snprintf(p, sizeof(p), "%s/dovecot-keywords", root);
	{
		FILE *f = fopen(p, "r");
		char buf[128] = "";

		assert_non_null(f);
		assert_int_equal(fread(buf, 1, sizeof(buf) - 1, f) > 0, 1);
		fclose(f);
		assert_string_equal(buf, "0 Work\n1 $Label1\n");
	}
	/* removing one drops its letter; a flag change keeps the others */
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_REMOVE, 0, "work", 0, NULL, &err),
			 1);
	assert_int_equal(store_msg_set_flags(box, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL,
					     &err),
			 1);
	snprintf(p, sizeof(p), "%s/cur", root);
	only_file(p, name, sizeof(name));
	assert_non_null(strstr(name, ",U=1:2,Sb"));
	/* the message is still found for reading */
	{
		off_t off;
		uint64_t size;

		assert_int_equal(store_msg_open(box, 1, &fd, &off, &size, &err), 0);
		close(fd);
	}
	/* APPEND with a keyword writes its letter at once */
	fd = st_msg_fd("Subject: two\n\ny\n");
	assert_int_equal(store_mailbox_append(box, fd, STORE_FLAG_FLAGGED, "Other Work", 0, &uid,
					      &err),
			 0);
	close(fd);
	assert_int_equal(uid, 2);
	/* more keywords than letters: all in the index, 26 in the name */
	strbuf_init(&many, 4096);
	for (int i = 0; i < 30; i++)
		strbuf_printf(&many, "%sk%d", i ? " " : "", i);
	assert_int_equal(store_msg_set_flags(box, 2, STORE_FLAGS_ADD, 0, many.data, 0, NULL, &err),
			 1);
	assert_int_equal(store_msg_get(box, 2, seen_cb, memset(&s, 0, sizeof(s)), &err), 1);
	assert_int_equal(strlen(s.kw[0]) > 0, 1);
	store_mailbox_close(&box);
	list_box(u, "INBOX", &st, &s);
	assert_string_equal(s.kw[0], "$Label1");
	assert_int_equal(strncmp(s.kw[1], "Other Work k0 k1", 16), 0);

	/* the index is gone: the names bring the keywords back */
	assert_int_equal(store_index_rebuild(u, &n, &err), 0);
	assert_int_equal(n, 2);
	list_box(u, "INBOX", &st, &s);
	assert_int_equal(s.uid[0], 1);
	assert_int_equal(s.flags[0], STORE_FLAG_SEEN);
	assert_string_equal(s.kw[0], "$Label1");
	assert_int_equal(s.flags[1], STORE_FLAG_FLAGGED);
	/* Work, Other and the first 23 of k0..k29 got letters (26 in all) */
	assert_non_null(strstr(s.kw[1], "Work"));
	assert_non_null(strstr(s.kw[1], "Other"));
	assert_non_null(strstr(s.kw[1], "k22"));
	assert_null(strstr(s.kw[1], "k23"));
	strbuf_free(&many);
	store_user_close(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uidlist_parse),
		cmocka_unit_test(test_keywords_parse),
		cmocka_unit_test_setup_teardown(test_takeover_by_hand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_uidlist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover_real_dovecot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover_after_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keywords_in_names, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
