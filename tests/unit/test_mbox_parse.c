/*
 * test_mbox_parse.c - the mbox reader (store/mbox-parse.c, mbox-from.c):
 * From_ line variants and non-From_ lines, splitting only at a From_ line
 * after an empty line, Content-Length that lies, mboxrd unquoting, Status /
 * X-Status / X-Keywords / X-UID / X-IMAPbase, LF and CRLF files, lines
 * longer than the reader's buffer, RFC822.SIZE, and a non-mbox file.
 * Fixtures are written in the format mutt and Postfix local(8) produce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mbox_test_util.h"

static time_t utc(int y, int mon, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };

	return timegm(&tm);
}

static void test_from_variants(void **state)
{
	static const struct {
		const char *line, *sender;
		int y, mon, d, h, mi, s;
	} ok[] = {
		{ "From alice@example.com Wed Nov 25 10:00:00 2026\n", "alice@example.com", 2026, 11, 25, 10, 0, 0 },
		{ "From bob@example.org Thu Nov  5 09:08:07 2026\n", "bob@example.org", 2026, 11, 5, 9, 8, 7 },
		{ "From bob Thu Nov 5 09:08:07 2026", "bob", 2026, 11, 5, 9, 8, 7 },
		{ "From MAILER-DAEMON Wed Nov 25 10:00 2026\n", "MAILER-DAEMON", 2026, 11, 25, 10, 0, 0 },
		{ "From x@y Wed Nov 25 10:00:00 PST 2026\n", "x@y", 2026, 11, 25, 10, 0, 0 },
		{ "From x@y Wed Nov 25 10:00:00 MET DST 2026\n", "x@y", 2026, 11, 25, 10, 0, 0 },
		{ "From x@y Wed Nov 25 10:00:00 2026 +0100\n", "x@y", 2026, 11, 25, 9, 0, 0 },
		{ "From x@y Wed Nov 25 10:00:00 -0230 2026\n", "x@y", 2026, 11, 25, 12, 30, 0 },
		{ "From x@y Wed Nov 25 10:00:00 26\n", "x@y", 2026, 11, 25, 10, 0, 0 },
		{ "From x@y Wed Nov 25 10:00:00 99\n", "x@y", 1999, 11, 25, 10, 0, 0 },
		{ "From x@y Wed, 25 Nov 2026 10:00:00 +0000\n", "x@y", 2026, 11, 25, 10, 0, 0 },
		{ "From  Wed Nov 25 10:00:00 2026\n", "", 2026, 11, 25, 10, 0, 0 },
		{ "From \"john doe\"@example.com Wed Nov 25 10:00:00 2026\n", "\"john doe\"@example.com", 2026, 11, 25, 10, 0, 0 },
		{ "From uucp!host!user Wed Nov 25 10:00:00 2026 remote from gateway\n", "uucp!host!user", 2026, 11, 25, 10, 0, 0 },
		{ "From x Nov 25 10:00:00 2026\n", "x", 2026, 11, 25, 10, 0, 0 },
		{ "From x wed nov 25 10:00:00 2026\r\n", "x", 2026, 11, 25, 10, 0, 0 },
		{ "From x@y Wed Nov 25 10:00:00 UTC 2026\n", "x@y", 2026, 11, 25, 10, 0, 0 },
	};
	static const char *const bad[] = {
		"From here on we talk about it\n",
		"From x Wed Nov 32 10:00:00 2026\n",
		"From x Wed Foo 25 10:00:00 2026\n",
		"From x Wed Nov 25 25:00:00 2026\n",
		"From x Wed Nov 25 10:00:00\n",
		"From x Wed Nov 25 10:00:00 2026x\n",
		"from x Wed Nov 25 10:00:00 2026\n",
		">From x Wed Nov 25 10:00:00 2026\n",
		"From:x Wed Nov 25 10:00:00 2026\n",
		"From ",
		"",
	};
	char sender[MBOX_SENDER_MAX];
	time_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (mbox_from_parse(ok[i].line, strlen(ok[i].line), sender, sizeof(sender), &t) != 0)
			fail_msg("should parse: %s", ok[i].line);
		assert_string_equal(sender, ok[i].sender);
		assert_int_equal(t, utc(ok[i].y, ok[i].mon, ok[i].d, ok[i].h, ok[i].mi, ok[i].s));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mbox_from_parse(bad[i], strlen(bad[i]), sender, sizeof(sender), &t) == 0)
			fail_msg("should not parse: %s", bad[i]);
	/* A long sender is cut, not overflowed. */
	{
		char line[600];
		char small[8];

		memset(line, 'a', sizeof(line));
		memcpy(line, "From ", 5);
		snprintf(line + 400, sizeof(line) - 400, " Wed Nov 25 10:00:00 2026\n");
		assert_int_equal(mbox_from_parse(line, strlen(line), small, sizeof(small), &t), 0);
		assert_string_equal(small, "aaaaaaa");
	}
}

/* Three messages as mutt leaves them: flags in Status/X-Status, a
 * Content-Length that lies both ways, quoted and unquoted From lines in
 * bodies. */
static const char fixture[] =
	"From alice@example.com Wed Nov 25 10:00:00 2026\n"
	"Return-Path: <alice@example.com>\n"
	"Subject: one\n"
	"Content-Length: 5\n"
	"Status: RO\n"
	"X-Status: AF\n"
	"X-Keywords: $Label1 work\n"
	"\n"
	"Hello,\n"
	">From the archive: quoted once\n"
	">>From twice\n"
	"From here, not after an empty line\n"
	"\n"
	"From here on, after an empty line but not a From_ line\n"
	"\n"
	"From bob@example.org Wed Nov 25 11:00:00 2026\n"
	"Subject: two\n"
	"Content-Length: 100000\n"
	"Status: O\n"
	"X-Status: DT\n"
	"\n"
	"short\n"
	"\n"
	"From MAILER-DAEMON Wed Nov 25 12:00:00 2026\n"
	"Subject: three, no body\n"
	"\n";

static void test_split_mutt_fixture(void **state)
{
	const char *path = mbt_path("inbox");
	struct mbox_msg *m;
	char *body;
	size_t len;
	const char *msg1, *msg2, *msg3;

	(void)state;
	mbt_write(path, fixture, sizeof(fixture) - 1);
	assert_int_equal(mbt_scan(path, &m), 3);

	msg1 = strstr(fixture, "Return-Path");
	msg2 = strstr(fixture, "Subject: two");
	msg3 = strstr(fixture, "Subject: three");
	assert_int_equal(m[0].from_offset, 0);
	assert_int_equal(m[0].header_offset, msg1 - fixture);
	assert_int_equal(m[0].body_offset, strstr(fixture, "Hello,") - fixture);
	assert_int_equal(m[0].end_offset, strstr(fixture, "\nFrom bob") - fixture);
	assert_int_equal(m[0].next_offset, strstr(fixture, "From bob") - fixture);
	assert_true(m[0].from_valid);
	assert_string_equal(m[0].sender, "alice@example.com");
	assert_int_equal(m[0].internal_date, utc(2026, 11, 25, 10, 0, 0));
	assert_int_equal(m[0].flags, MBOX_FLAG_SEEN | MBOX_FLAG_OLD | MBOX_FLAG_ANSWERED | MBOX_FLAG_FLAGGED);
	assert_string_equal(m[0].keywords, "$Label1 work");
	/* Recorded, not used for splitting. */
	assert_int_equal(m[0].content_length, 5);
	assert_int_equal(m[1].content_length, 100000);
	assert_int_equal(m[2].content_length, -1);

	assert_int_equal(m[1].header_offset, msg2 - fixture);
	assert_int_equal(m[1].flags, MBOX_FLAG_OLD | MBOX_FLAG_DELETED | MBOX_FLAG_DRAFT);
	assert_string_equal(m[1].sender, "bob@example.org");
	assert_int_equal(m[2].header_offset, msg3 - fixture);
	assert_string_equal(m[2].sender, "MAILER-DAEMON");
	assert_int_equal(m[2].flags, 0);
	/* The last message ends before the final separator line. */
	assert_int_equal(m[2].end_offset, sizeof(fixture) - 2);
	assert_int_equal(m[2].next_offset, sizeof(fixture) - 1);
	/* Header without body: body offset is its end. */
	assert_int_equal(m[2].body_offset, m[2].end_offset);

	body = mbt_export(path, &m[0], false, &len);
	assert_string_equal(body,
		"Return-Path: <alice@example.com>\n"
		"Subject: one\n"
		"Content-Length: 5\n"
		"Status: RO\n"
		"X-Status: AF\n"
		"X-Keywords: $Label1 work\n"
		"\n"
		"Hello,\n"
		"From the archive: quoted once\n"
		">From twice\n"
		"From here, not after an empty line\n"
		"\n"
		"From here on, after an empty line but not a From_ line\n");
	assert_int_equal(len, m[0].size_unquoted);
	assert_int_equal(m[0].lines, 13);
	free(body);
	body = mbt_export(path, &m[0], true, &len);
	assert_int_equal(len, m[0].rfc822_size);
	assert_int_equal(m[0].rfc822_size, m[0].size_unquoted + m[0].lines);
	assert_non_null(strstr(body, "Hello,\r\nFrom the archive"));
	free(body);
	body = mbt_export(path, &m[2], false, &len);
	assert_string_equal(body, "Subject: three, no body\n");
	free(body);
	free(m);
}

static void test_crlf_file(void **state)
{
	static const char crlf[] =
		"From a@b Wed Nov 25 10:00:00 2026\r\n"
		"Subject: x\r\n"
		"\r\n"
		"body\r\n"
		">From quoted\r\n"
		"\r\n"
		"From c@d Wed Nov 25 10:01:00 2026\r\n"
		"Subject: y\r\n"
		"\r\n"
		"last\r\n";
	const char *path = mbt_path("crlf");
	struct mbox_msg *m;
	char *b;
	size_t len;

	(void)state;
	mbt_write(path, crlf, sizeof(crlf) - 1);
	assert_int_equal(mbt_scan(path, &m), 2);
	b = mbt_export(path, &m[0], false, &len);
	assert_string_equal(b, "Subject: x\r\n\r\nbody\r\nFrom quoted\r\n");
	assert_int_equal(m[0].rfc822_size, len); /* already CRLF: nothing added */
	assert_int_equal(m[0].body_offset, strstr(crlf, "body") - crlf);
	free(b);
	b = mbt_export(path, &m[1], true, &len);
	assert_string_equal(b, "Subject: y\r\n\r\nlast\r\n");
	assert_int_equal(m[1].rfc822_size, len);
	free(b);
	free(m);
}

static void test_bare_lf_and_sizes(void **state)
{
	static const char lf[] =
		"From a@b Wed Nov 25 10:00:00 2026\n"
		"Subject: a\n"
		"\n"
		"body\n"
		"no final newline";
	const char *path = mbt_path("lf");
	struct mbox_msg *m;
	char *b;
	size_t len;

	(void)state;
	mbt_write(path, lf, sizeof(lf) - 1);
	assert_int_equal(mbt_scan(path, &m), 1);
	assert_int_equal(m[0].end_offset, sizeof(lf) - 1);
	b = mbt_export(path, &m[0], true, &len);
	assert_string_equal(b, "Subject: a\r\n\r\nbody\r\nno final newline");
	assert_int_equal(len, m[0].rfc822_size);
	free(b);
	free(m);
	assert_int_equal(mbox_rfc822_size("a\nb\r\nc", 6), 7);
	assert_int_equal(mbox_rfc822_size("\n\n", 2), 4);
	assert_int_equal(mbox_rfc822_size("", 0), 0);
	assert_int_equal(mbox_rfc822_size("\r\r\n", 3), 3);
}

static void test_uids_and_garbage_start(void **state)
{
	static const char dovecot[] =
		"From x Wed Nov 25 10:00:00 2026\n"
		"X-IMAPbase: 1700000000 0000000042 $Junk\n"
		"X-UID: 40\n"
		"Subject: a\n"
		"\n"
		"a\n"
		"\n"
		"From y Wed Nov 25 10:00:00 2026\n"
		"X-IMAPbase: 1 2\n"
		"X-UID: 41\n"
		"\n"
		"b\n";
	static const char odd_start[] = "From somebody without a date\nSubject: x\n\nbody\n";
	const char *path = mbt_path("uids");
	struct mbox_msg *m;

	(void)state;
	mbt_write(path, dovecot, sizeof(dovecot) - 1);
	assert_int_equal(mbt_scan(path, &m), 2);
	assert_int_equal(m[0].uidvalidity, 1700000000u);
	assert_int_equal(m[0].uidnext, 42);
	assert_int_equal(m[0].uid, 40);
	assert_int_equal(m[1].uid, 41);
	assert_int_equal(m[1].uidvalidity, 0); /* only the first message's counts */
	free(m);

	/* At the very start any "From " line opens the first message. */
	mbt_write(path, odd_start, sizeof(odd_start) - 1);
	assert_int_equal(mbt_scan(path, &m), 1);
	assert_false(m[0].from_valid);
	assert_int_equal(m[0].internal_date, 0);
	free(m);
}

static void test_not_mbox_and_empty(void **state)
{
	const char *path = mbt_path("notmbox");
	struct mbox_reader *r;
	struct mbox_msg msg;
	char *err = NULL;
	int fd;

	(void)state;
	mbt_write(path, "Subject: a maildir file\n\nhi\n", 28);
	fd = open(path, O_RDONLY);
	r = mbox_reader_open(fd);
	assert_int_equal(mbox_reader_next(r, &msg, &err), -2);
	assert_string_equal(err, "the file does not start with a \"From \" line; it is not an mbox "
				 "(a Maildir needs mail_location = maildir:...)");
	free(err);
	mbox_reader_free(&r);
	close(fd);

	mbt_write(path, "", 0);
	fd = open(path, O_RDONLY);
	r = mbox_reader_open(fd);
	assert_int_equal(mbox_reader_next(r, &msg, &err), 0);
	assert_int_equal(mbox_reader_next(r, &msg, &err), 0);
	mbox_reader_free(&r);
	close(fd);
}

/* A 300 KB line (longer than the 64 KB buffer) that starts with a quoted
 * From, and one very long '>' run: both still unquote exactly. */
static void test_long_lines(void **state)
{
	const char *path = mbt_path("long");
	struct strbuf sb, want;
	struct mbox_msg *m;
	char *b;
	size_t len;

	(void)state;
	strbuf_init(&sb, 0);
	strbuf_init(&want, 0);
	strbuf_puts(&sb, "From a@b Wed Nov 25 10:00:00 2026\nSubject: long\n\n>>From ");
	strbuf_puts(&want, "Subject: long\n\n>From ");
	for (int i = 0; i < 300000; i++) {
		strbuf_putc(&sb, (char)('a' + i % 26));
		strbuf_putc(&want, (char)('a' + i % 26));
	}
	strbuf_puts(&sb, "\r\n");
	strbuf_puts(&want, "\r\n");
	for (int i = 0; i < 70000; i++) {
		strbuf_putc(&sb, '>');
		if (i)
			strbuf_putc(&want, '>');
	}
	strbuf_puts(&sb, "From deep\nend\n\nFrom c@d Wed Nov 25 10:00:01 2026\n\nx\n");
	strbuf_puts(&want, "From deep\nend\n");
	mbt_write(path, sb.data, sb.len);
	assert_int_equal(mbt_scan(path, &m), 2);
	b = mbt_export(path, &m[0], false, &len);
	assert_int_equal(len, want.len);
	assert_memory_equal(b, want.data, len);
	assert_int_equal(m[0].size_unquoted, want.len);
	assert_int_equal(m[0].rfc822_size, want.len + 4); /* 4 bare LFs, one CRLF */
	free(b);
	b = mbt_export(path, &m[1], true, &len);
	assert_string_equal(b, "\r\nx\r\n");
	free(b);
	free(m);
	strbuf_free(&sb);
	strbuf_free(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_variants),
		cmocka_unit_test_setup_teardown(test_split_mutt_fixture, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_crlf_file, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_bare_lf_and_sizes, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_uids_and_garbage_start, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_not_mbox_and_empty, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, mbt_setup, mbt_teardown),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
