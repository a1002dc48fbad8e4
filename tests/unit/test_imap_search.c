/*
 * test_imap_search.c - the SEARCH program parser and evaluator
 * (imap/imap-search.c, imap/imap-search-eval.c): every RFC 3501 6.4.4
 * key in its canonical form, malformed programs with their BAD texts,
 * the depth limit against NOT/OR chains and nested groups, CHARSET
 * (UTF-8, US-ASCII, BADCHARSET), dates, sequence and UID sets with '*',
 * and evaluation on messages in memory: flags, keywords, sizes,
 * INTERNALDATE and Date-header dates in their zones, encoded-word
 * headers, quoted-printable and base64 bodies, and that the index pass
 * decides without opening the message when it can.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "store/mime.h"
#include "tests/fuzz/imap_args_build.h"

/* parse text; returns the parse result, the dump in *dump_r (caller frees). */
static int parse_text(const char *text, char **dump_r, const char **code_r, const char **error_r)
{
	size_t n = 0;
	struct imap_arg *args = args_build(text, strlen(text), &n);
	struct imap_search *s = NULL;
	int r;

	assert_non_null(args);
	r = imap_search_parse(args, n, &s, code_r, error_r);
	*dump_r = NULL;
	if (r == 0) {
		struct strbuf sb;

		strbuf_init(&sb, 0);
		assert_int_equal(imap_search_dump(s, &sb), 0);
		*dump_r = strbuf_steal(&sb);
		imap_search_free(&s);
		assert_null(s);
	} else {
		assert_null(s);
	}
	args_free(args, n);
	return r;
}

static void assert_parse(const char *text, const char *want)
{
	const char *code, *error = NULL;
	char *dump;
	int r = parse_text(text, &dump, &code, &error);

	if (r != 0)
		fail_msg("parse \"%s\": %d %s", text, r, error);
	if (strcmp(dump, want) != 0)
		fail_msg("parse \"%s\":\n got  %s\n want %s", text, dump, want);
	free(dump);
}

static void assert_bad(const char *text, const char *want_error)
{
	const char *code, *error = NULL;
	char *dump;
	int r = parse_text(text, &dump, &code, &error);

	if (r != IMAP_SEARCH_ERR_BAD)
		fail_msg("parse \"%s\": want BAD, got %d", text, r);
	assert_null(code);
	if (strcmp(error, want_error) != 0)
		fail_msg("parse \"%s\":\n got  %s\n want %s", text, error, want_error);
}

static void test_keys(void **state)
{
	(void)state;
	assert_parse("ALL", "(AND (ALL))");
	assert_parse("all", "(AND (ALL))");
	assert_parse("ANSWERED", "(AND (FLAG \\Answered))");
	assert_parse("DELETED", "(AND (FLAG \\Deleted))");
	assert_parse("DRAFT", "(AND (FLAG \\Draft))");
	assert_parse("FLAGGED", "(AND (FLAG \\Flagged))");
	assert_parse("SEEN", "(AND (FLAG \\Seen))");
	assert_parse("UNANSWERED", "(AND (NOT (FLAG \\Answered)))");
	assert_parse("UNDELETED", "(AND (NOT (FLAG \\Deleted)))");
	assert_parse("UNDRAFT", "(AND (NOT (FLAG \\Draft)))");
	assert_parse("UNFLAGGED", "(AND (NOT (FLAG \\Flagged)))");
	assert_parse("UNSEEN", "(AND (NOT (FLAG \\Seen)))");
	assert_parse("RECENT", "(AND (RECENT))");
	assert_parse("OLD", "(AND (NOT (RECENT)))");
	assert_parse("NEW", "(AND (AND (RECENT) (NOT (FLAG \\Seen))))");
	assert_parse("KEYWORD $Junk", "(AND (KEYWORD \"$Junk\"))");
	assert_parse("UNKEYWORD work", "(AND (NOT (KEYWORD \"work\")))");
	assert_parse("LARGER 1000", "(AND (LARGER 1000))");
	assert_parse("SMALLER 0", "(AND (SMALLER 0))");
	assert_parse("BEFORE 1-Feb-2026", "(AND (BEFORE 20260201))");
	assert_parse("ON \"29-feb-2024\"", "(AND (ON 20240229))");
	assert_parse("SINCE 31-Dec-1999", "(AND (SINCE 19991231))");
	assert_parse("SENTBEFORE 01-Jan-2026", "(AND (SENTBEFORE 20260101))");
	assert_parse("SENTON 5-May-2025", "(AND (SENTON 20250505))");
	assert_parse("SENTSINCE 5-MAY-2025", "(AND (SENTSINCE 20250505))");
	assert_parse("FROM alice", "(AND (HEADER From \"alice\"))");
	assert_parse("TO \"bob smith\"", "(AND (HEADER To \"bob smith\"))");
	assert_parse("CC {carol}", "(AND (HEADER Cc \"carol\"))");
	assert_parse("BCC dave", "(AND (HEADER Bcc \"dave\"))");
	assert_parse("SUBJECT \"\"", "(AND (HEADER Subject \"\"))");
	assert_parse("HEADER X-Spam yes", "(AND (HEADER X-Spam \"yes\"))");
	assert_parse("BODY hello", "(AND (BODY \"hello\"))");
	assert_parse("TEXT \"M\xc3\xbcller\"", "(AND (TEXT \"M\xc3\xbcller\"))");
	assert_parse("UID 1:5,9", "(AND (UIDSET 1:5,9))");
	assert_parse("UID *", "(AND (UIDSET *))");
	assert_parse("1:*", "(AND (SEQSET 1:*))");
	assert_parse("2,4:6", "(AND (SEQSET 2,4:6))");
	assert_parse("NOT SEEN", "(AND (NOT (FLAG \\Seen)))");
	assert_parse("OR SEEN FLAGGED", "(AND (OR (FLAG \\Seen) (FLAG \\Flagged)))");
	assert_parse("(SEEN FLAGGED) DELETED",
		     "(AND (AND (FLAG \\Seen) (FLAG \\Flagged)) (FLAG \\Deleted))");
	assert_parse("OR (FROM a TO b) NOT (SUBJECT c)",
		     "(AND (OR (AND (HEADER From \"a\") (HEADER To \"b\")) "
		     "(NOT (AND (HEADER Subject \"c\")))))");
	assert_parse("OR OR FROM x TO x CC x",
		     "(AND (OR (OR (HEADER From \"x\") (HEADER To \"x\")) (HEADER Cc \"x\")))");
}

static void test_bad(void **state)
{
	(void)state;
	assert_bad("", "Empty search program");
	assert_bad("FOO", "Unknown search key: FOO");
	assert_bad("SEEN \"quoted\"", "Search key must be an atom or a list");
	assert_bad("FROM", "Missing argument for search key: FROM");
	assert_bad("HEADER X-A", "Missing argument for search key: HEADER");
	assert_bad("HEADER \"a:b\" x", "Invalid header field name in HEADER");
	assert_bad("HEADER \"\" x", "Invalid header field name in HEADER");
	assert_bad("FROM (a)", "Search key needs a string argument: FROM");
	assert_bad("LARGER x", "Invalid number for: LARGER");
	assert_bad("LARGER -1", "Invalid number for: LARGER");
	assert_bad("SMALLER 99999999999999999999", "Invalid number for: SMALLER");
	assert_bad("LARGER \"5\"", "Search key needs an atom argument: LARGER");
	assert_bad("BEFORE 2026-02-01",
		   "Invalid date (want d-Mon-yyyy, e.g. 1-Feb-2026) for: BEFORE");
	assert_bad("ON 30-Feb-2026", "Invalid date (want d-Mon-yyyy, e.g. 1-Feb-2026) for: ON");
	assert_bad("SINCE 1-Foo-2026", "Invalid date (want d-Mon-yyyy, e.g. 1-Feb-2026) for: SINCE");
	assert_bad("SENTON 1-Feb-26", "Invalid date (want d-Mon-yyyy, e.g. 1-Feb-2026) for: SENTON");
	assert_bad("SENTON 123-Feb-2026",
		   "Invalid date (want d-Mon-yyyy, e.g. 1-Feb-2026) for: SENTON");
	assert_bad("UID abc", "Invalid sequence set in search: abc");
	assert_bad("UID 1::2", "Invalid sequence set in search: 1::2");
	assert_bad("1,,2", "Invalid sequence set in search: 1,,2");
	assert_bad("0:3", "Invalid sequence set in search: 0:3");
	assert_bad("NOT", "Missing search key");
	assert_bad("OR SEEN", "Missing search key");
	assert_bad("()", "Empty search program");
	assert_bad("(SEEN (FOO))", "Unknown search key: FOO");
	assert_bad("KEYWORD", "Missing argument for search key: KEYWORD");
	assert_bad("KEYWORD \"a b\"", "Search key needs an atom argument: KEYWORD");
	/* client bytes are escaped in the error text */
	assert_bad("F\x01OO", "Unknown search key: F\\x01OO");
}

static char *repeat(const char *head, unsigned n, const char *tail)
{
	struct strbuf sb;

	strbuf_init(&sb, 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(strbuf_puts(&sb, head), 0);
	assert_int_equal(strbuf_puts(&sb, tail), 0);
	return strbuf_steal(&sb);
}

static void test_depth(void **state)
{
	const char *code, *error;
	char *text, *dump;

	(void)state;
	/* 64 NOTs are fine, 65 are refused */
	text = repeat("NOT ", 64, "SEEN");
	assert_int_equal(parse_text(text, &dump, &code, &error), 0);
	free(dump);
	free(text);
	text = repeat("NOT ", 65, "SEEN");
	assert_bad(text, "Search program nested too deeply (limit 64)");
	free(text);
	/* a hostile NOT chain far beyond the limit */
	text = repeat("NOT ", 9000, "SEEN");
	assert_bad(text, "Search program nested too deeply (limit 64)");
	free(text);
	/* OR chains nest on the first key */
	text = repeat("OR ", 65, "SEEN");
	assert_bad(text, "Search program nested too deeply (limit 64)");
	free(text);
	text = repeat("OR SEEN ", 5000, "SEEN");
	assert_bad(text, "Search program nested too deeply (limit 64)");
	free(text);
	/* groups inside NOTs count too */
	text = repeat("NOT NOT (", 22, "SEEN");
	assert_bad(text, "Search program nested too deeply (limit 64)");
	free(text);
	text = repeat("NOT (", 20, "SEEN");
	assert_int_equal(parse_text(text, &dump, &code, &error), 0);
	free(dump);
	free(text);
	/* a long flat program is not deep */
	text = repeat("SEEN ", 5000, "ALL");
	assert_int_equal(parse_text(text, &dump, &code, &error), 0);
	free(dump);
	free(text);
}

static void test_charset(void **state)
{
	const char *code, *error;
	char *dump;

	(void)state;
	assert_parse("CHARSET UTF-8 SUBJECT \"M\xc3\xbcller\"",
		     "(AND (HEADER Subject \"M\xc3\xbcller\"))");
	assert_parse("CHARSET utf-8 ALL", "(AND (ALL))");
	assert_parse("CHARSET \"US-ASCII\" ALL", "(AND (ALL))");
	assert_parse("CHARSET {UTF-8} BODY {M\xc3\xbcller}", "(AND (BODY \"M\xc3\xbcller\"))");
	assert_int_equal(parse_text("CHARSET ISO-8859-1 ALL", &dump, &code, &error),
			 IMAP_SEARCH_ERR_NO);
	assert_string_equal(code, "BADCHARSET (UTF-8 US-ASCII)");
	assert_string_equal(error, "Unsupported charset; use UTF-8 or US-ASCII");
	assert_int_equal(parse_text("CHARSET KOI8-R", &dump, &code, &error), IMAP_SEARCH_ERR_NO);
	assert_string_equal(code, "BADCHARSET (UTF-8 US-ASCII)");
	assert_bad("CHARSET", "CHARSET needs a charset name");
	assert_bad("CHARSET UTF-8", "Empty search program");
	assert_bad("CHARSET (UTF-8) ALL", "CHARSET needs a charset name");
	/* CHARSET is only valid first */
	assert_bad("ALL CHARSET UTF-8", "Unknown search key: CHARSET");
}

/* needs_message / needs_body for program text */
static void assert_needs(const char *text, bool message, bool body)
{
	size_t n = 0;
	struct imap_arg *args = args_build(text, strlen(text), &n);
	struct imap_search *s = NULL;
	const char *code, *error;

	assert_int_equal(imap_search_parse(args, n, &s, &code, &error), 0);
	if (s->needs_message != message || s->needs_body != body)
		fail_msg("\"%s\": needs_message %d needs_body %d", text, s->needs_message,
			 s->needs_body);
	imap_search_free(&s);
	args_free(args, n);
}

static void test_needs(void **state)
{
	(void)state;
	assert_needs("SEEN UID 1:* LARGER 5 SINCE 1-Jan-2020 KEYWORD a", false, false);
	assert_needs("SUBJECT x", true, false);
	assert_needs("NOT (OR SEEN SENTON 1-Jan-2020)", true, false);
	assert_needs("OR SUBJECT x (SEEN BODY y)", true, true);
	assert_needs("NOT NOT TEXT y", true, true);
}

static void test_dates(void **state)
{
	(void)state;
	assert_int_equal(imap_search_parse_date("1-Jan-2026"), 20260101);
	assert_int_equal(imap_search_parse_date("01-jan-2026"), 20260101);
	assert_int_equal(imap_search_parse_date("31-DEC-1999"), 19991231);
	assert_int_equal(imap_search_parse_date("29-Feb-2000"), 20000229);
	assert_int_equal(imap_search_parse_date("29-Feb-1900"), -1);
	assert_int_equal(imap_search_parse_date("31-Apr-2026"), -1);
	assert_int_equal(imap_search_parse_date("0-Jan-2026"), -1);
	assert_int_equal(imap_search_parse_date("1-Jan-2026 "), -1);
	assert_int_equal(imap_search_parse_date("1-Janu-2026"), -1);
	assert_int_equal(imap_search_parse_date("-Jan-2026"), -1);
	assert_int_equal(imap_search_parse_date(""), -1);
	assert_int_equal(imap_search_parse_date("1-Jan-0000"), -1);
}

/* ---- evaluation ---- */

struct test_msg {
	const char *text;
	struct mime_message *mime;
	unsigned opens;
};

static struct mime_message *test_open(void *ctx, const char **error_r)
{
	struct test_msg *t = ctx;

	t->opens++;
	if (t->mime == NULL)
		t->mime = mime_parse_mem(t->text, strlen(t->text), NULL, error_r);
	return t->mime;
}

static const char sample[] =
	"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>\r\n"
	"To: Bob <bob@example.net>, carol@example.com\r\n"
	"Cc: dave@example.com\r\n"
	"Subject: =?UTF-8?B?w5xiZXIgZGllIEdyw7bDn2U=?= of things\r\n"
	"Date: Sun, 1 Feb 2026 23:30:00 -0500\r\n"
	"X-Priority: 1\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Gr=C3=BC=C3=9Fe aus K=C3=B6ln, soft=\r\n"
	"break here\r\n"
	"--b1\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"PHA+zpPOtc65zrEgz4POsc+CPC9wPg==\r\n"
	"--b1--\r\n";

static int eval(const char *program, const struct store_msg *msg, uint32_t seq, bool recent,
		struct test_msg *t)
{
	size_t n = 0;
	struct imap_arg *args = args_build(program, strlen(program), &n);
	struct imap_search *s = NULL;
	const char *code, *error = NULL;
	struct imap_search_msg m = {
		.msg = msg, .seq = seq, .recent = recent, .max_seq = 10, .max_uid = 500,
		.open = test_open, .open_ctx = t,
	};
	int r;

	assert_non_null(args);
	if (imap_search_parse(args, n, &s, &code, &error) != 0)
		fail_msg("parse \"%s\": %s", program, error);
	r = imap_search_match(s, &m, &error);
	if (r < 0)
		fail_msg("eval \"%s\": %s", program, error);
	imap_search_free(&s);
	args_free(args, n);
	return r;
}

static void test_eval_index(void **state)
{
	struct test_msg t = { .text = sample };
	struct store_msg msg = {
		.uid = 42, .flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, .keywords = "$Junk work",
		.size = 1234, .internaldate = 1769990400, /* 2026-02-02 00:00:00 UTC */
	};

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(eval("ALL", &msg, 3, false, &t), 1);
	assert_int_equal(eval("SEEN", &msg, 3, false, &t), 1);
	assert_int_equal(eval("UNSEEN", &msg, 3, false, &t), 0);
	assert_int_equal(eval("FLAGGED SEEN", &msg, 3, false, &t), 1);
	assert_int_equal(eval("ANSWERED", &msg, 3, false, &t), 0);
	assert_int_equal(eval("UNANSWERED UNDELETED UNDRAFT", &msg, 3, false, &t), 1);
	assert_int_equal(eval("KEYWORD work", &msg, 3, false, &t), 1);
	assert_int_equal(eval("KEYWORD WORK", &msg, 3, false, &t), 1);
	assert_int_equal(eval("KEYWORD wor", &msg, 3, false, &t), 0);
	assert_int_equal(eval("UNKEYWORD $Junk", &msg, 3, false, &t), 0);
	assert_int_equal(eval("KEYWORD \\Seen", &msg, 3, false, &t), 1);
	assert_int_equal(eval("RECENT", &msg, 3, true, &t), 1);
	assert_int_equal(eval("NEW", &msg, 3, true, &t), 0);
	assert_int_equal(eval("OLD", &msg, 3, false, &t), 1);
	assert_int_equal(eval("LARGER 1233", &msg, 3, false, &t), 1);
	assert_int_equal(eval("LARGER 1234", &msg, 3, false, &t), 0);
	assert_int_equal(eval("SMALLER 1235", &msg, 3, false, &t), 1);
	assert_int_equal(eval("SMALLER 1234", &msg, 3, false, &t), 0);
	assert_int_equal(eval("ON 2-Feb-2026", &msg, 3, false, &t), 1);
	assert_int_equal(eval("BEFORE 2-Feb-2026", &msg, 3, false, &t), 0);
	assert_int_equal(eval("BEFORE 3-Feb-2026", &msg, 3, false, &t), 1);
	assert_int_equal(eval("SINCE 2-Feb-2026", &msg, 3, false, &t), 1);
	assert_int_equal(eval("SINCE 3-Feb-2026", &msg, 3, false, &t), 0);
	assert_int_equal(eval("3", &msg, 3, false, &t), 1);
	assert_int_equal(eval("1:2,4:*", &msg, 3, false, &t), 0);
	assert_int_equal(eval("5:2", &msg, 3, false, &t), 1);
	assert_int_equal(eval("*", &msg, 3, false, &t), 0);
	assert_int_equal(eval("*", &msg, 10, false, &t), 1);
	/* 20:* with 10 messages names the last one */
	assert_int_equal(eval("20:*", &msg, 10, false, &t), 1);
	assert_int_equal(eval("20:*", &msg, 9, false, &t), 0);
	assert_int_equal(eval("UID 42", &msg, 3, false, &t), 1);
	assert_int_equal(eval("UID 1:41,43:*", &msg, 3, false, &t), 0);
	assert_int_equal(eval("UID 600:*", &msg, 3, false, &t), 0);
	assert_int_equal(eval("OR ANSWERED KEYWORD work", &msg, 3, false, &t), 1);
	assert_int_equal(eval("NOT (SEEN FLAGGED)", &msg, 3, false, &t), 0);
	/* none of these needed the file */
	assert_int_equal(t.opens, 0);
	/* decided by the index although a body key is present */
	assert_int_equal(eval("UNSEEN BODY koeln", &msg, 3, false, &t), 0);
	assert_int_equal(eval("OR SEEN BODY koeln", &msg, 3, false, &t), 1);
	assert_int_equal(t.opens, 0);
	mime_message_free(&t.mime);
}

static void test_eval_message(void **state)
{
	struct test_msg t = { .text = sample };
	struct store_msg msg = { .uid = 7, .keywords = "", .size = 900, .internaldate = 0 };

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	/* encoded words are decoded and folded */
	assert_int_equal(eval("FROM \"j\xc3\xbcrgen m\xc3\xbcller\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("FROM \"M\xc3\x9cLLER\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("FROM jm@example.org", &msg, 1, false, &t), 1);
	assert_int_equal(eval("FROM Mueller", &msg, 1, false, &t), 0);
	assert_int_equal(eval("TO carol", &msg, 1, false, &t), 1);
	assert_int_equal(eval("TO dave", &msg, 1, false, &t), 0);
	assert_int_equal(eval("CC DAVE", &msg, 1, false, &t), 1);
	assert_int_equal(eval("BCC dave", &msg, 1, false, &t), 0);
	assert_int_equal(eval("SUBJECT \"\xc3\xbc" "ber die gr\xc3\xb6\xc3\x9f" "e\"", &msg, 1, false, &t),
			 1);
	assert_int_equal(eval("SUBJECT things", &msg, 1, false, &t), 1);
	assert_int_equal(eval("SUBJECT \"\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("HEADER X-Priority \"\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("HEADER x-priority 1", &msg, 1, false, &t), 1);
	assert_int_equal(eval("HEADER X-Missing \"\"", &msg, 1, false, &t), 0);
	/* bodies: quoted-printable with a soft break, base64 Greek */
	assert_int_equal(eval("BODY \"gr\xc3\xbc\xc3\x9f" "e aus k\xc3\xb6ln\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("BODY \"softbreak\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("BODY \"\xce\x93\xce\x95\xce\x99\xce\x91\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("BODY \"j\xc3\xbcrgen\"", &msg, 1, false, &t), 0);
	assert_int_equal(eval("TEXT \"j\xc3\xbcrgen\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("TEXT \"k\xc3\xb6ln\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("TEXT nowhere", &msg, 1, false, &t), 0);
	/* the Date header's own zone: 1 Feb 23:30 -0500 is 2 Feb in UTC */
	assert_int_equal(eval("SENTON 1-Feb-2026", &msg, 1, false, &t), 1);
	assert_int_equal(eval("SENTON 2-Feb-2026", &msg, 1, false, &t), 0);
	assert_int_equal(eval("SENTBEFORE 2-Feb-2026", &msg, 1, false, &t), 1);
	assert_int_equal(eval("SENTBEFORE 1-Feb-2026", &msg, 1, false, &t), 0);
	assert_int_equal(eval("SENTSINCE 1-Feb-2026", &msg, 1, false, &t), 1);
	assert_int_equal(eval("SENTSINCE 2-Feb-2026", &msg, 1, false, &t), 0);
	assert_int_equal(eval("OR SUBJECT nope (NOT FROM nope BODY k\xc3\xb6ln)", &msg, 1, false,
			      &t), 1);
	mime_message_free(&t.mime);

	/* no Date header: SENT* match nothing */
	struct test_msg t2 = { .text = "Subject: x\r\n\r\nbody\r\n" };
	assert_int_equal(eval("SENTBEFORE 1-Jan-2100", &msg, 1, false, &t2), 0);
	assert_int_equal(eval("NOT SENTBEFORE 1-Jan-2100", &msg, 1, false, &t2), 1);
	mime_message_free(&t2.mime);
}

static void test_eval_envelope(void **state)
{
	struct test_msg t = { .text = sample };
	struct store_msg msg = { .uid = 9, .keywords = "", .size = 900 };
	struct strbuf env;
	const char *error;
	struct mime_message *parsed;

	(void)state;
	/* the ENVELOPE exactly as the index caches it (mime_envelope) */
	parsed = mime_parse_mem(sample, strlen(sample), NULL, &error);
	assert_non_null(parsed);
	strbuf_init(&env, 0);
	assert_int_equal(mime_envelope(parsed, 0, &env, &error), 0);
	mime_message_free(&parsed);
	msg.envelope = env.data;
	assert_int_equal(eval("SUBJECT \"gr\xc3\xb6\xc3\x9f" "e\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("SUBJECT nothing", &msg, 1, false, &t), 0);
	assert_int_equal(eval("HEADER SUBJECT \"\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("SENTON 1-Feb-2026", &msg, 1, false, &t), 1);
	assert_int_equal(eval("SENTSINCE 2-Feb-2026", &msg, 1, false, &t), 0);
	assert_int_equal(eval("OR SENTBEFORE 1-Jan-2000 NOT SUBJECT things", &msg, 1, false, &t), 0);
	/* answered from the index: the file was never opened */
	assert_int_equal(t.opens, 0);
	/* other header keys still read the file */
	assert_int_equal(eval("FROM jm@example.org", &msg, 1, false, &t), 1);
	assert_int_equal(t.opens, 1);
	/* literal form, escapes, NIL */
	t.opens = 0;
	msg.envelope = "({9}\r\nnot a day {7}\r\nab\"cdef NIL NIL NIL NIL NIL NIL NIL NIL)";
	assert_int_equal(eval("SUBJECT \"b\\\"c\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("SENTON 1-Feb-2026", &msg, 1, false, &t), 0);
	msg.envelope = "(NIL \"a \\\"quoted\\\" one\" NIL NIL NIL NIL NIL NIL NIL NIL)";
	assert_int_equal(eval("SUBJECT \"\\\"quoted\\\"\"", &msg, 1, false, &t), 1);
	assert_int_equal(eval("SENTBEFORE 1-Jan-2100", &msg, 1, false, &t), 0);
	assert_int_equal(t.opens, 0);
	/* an envelope that does not parse: the file decides */
	msg.envelope = "(\"unterminated";
	assert_int_equal(eval("SUBJECT things", &msg, 1, false, &t), 1);
	assert_int_equal(t.opens, 1);
	mime_message_free(&t.mime);
	strbuf_free(&env);
}

static struct mime_message *failing_open(void *ctx, const char **error_r)
{
	(void)ctx;
	*error_r = "Message was expunged";
	return NULL;
}

static void test_eval_open_fails(void **state)
{
	size_t n = 0;
	struct imap_arg *args = args_build("BODY x", 6, &n);
	struct imap_search *s = NULL;
	const char *code, *error = NULL;
	struct store_msg msg = { .uid = 1, .keywords = "" };
	struct imap_search_msg m = { .msg = &msg, .seq = 1, .max_seq = 1, .max_uid = 1,
				     .open = failing_open };

	(void)state;
	assert_int_equal(imap_search_parse(args, n, &s, &code, &error), 0);
	assert_true(s->needs_message);
	assert_int_equal(imap_search_match_index(s, &m), IMAP_SEARCH_UNKNOWN);
	assert_int_equal(imap_search_match(s, &m, &error), -1);
	assert_string_equal(error, "Message was expunged");
	m.open = NULL;
	assert_int_equal(imap_search_match(s, &m, &error), -1);
	imap_search_free(&s);
	args_free(args, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_needs),
		cmocka_unit_test(test_eval_index),
		cmocka_unit_test(test_eval_message),
		cmocka_unit_test(test_eval_envelope),
		cmocka_unit_test(test_eval_open_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
