/*
 * test_mime.c - the MIME parser's part tree and IMAP views on the sample
 * messages in tests/data/mime/: exact ENVELOPE, BODY and BODYSTRUCTURE
 * strings (RFC 3501 7.4.2), BODY[section] ranges and HEADER.FIELDS
 * output (6.4.5), CRLF sizes of bare-LF mail, and the hostile samples
 * (missing or bogus boundaries, prefix boundaries, NULs, no header end,
 * lines without colon, empty message, 200-level nesting).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <unistd.h>

#include "mime_test_util.h"

#define TEXT_PLAIN_ASCII "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL "

static void test_simple(void **state)
{
	struct mt_msg t;
	uint64_t crlf = 0;
	char *s;

	(void)state;
	mt_load(&t, "simple.eml");
	assert_int_equal(mime_part_count(t.m), 1);
	mt_assert_bs(&t, true, TEXT_PLAIN_ASCII "\"7BIT\" 12 1 NIL NIL NIL NIL)");
	mt_assert_bs(&t, false, TEXT_PLAIN_ASCII "\"7BIT\" 12 1)");
	mt_assert_env(&t, 0, "(\"Wed, 25 Nov 2026 10:00:00 +0100\" \"Hello\" "
		      "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" \"example.com\")) "
		      "((\"Alice\" NIL \"alice\" \"example.com\")) ((NIL NIL \"bob\" \"example.org\")) "
		      "NIL NIL NIL \"<1@example.com>\")");
	mt_assert_section(&t, "1", "Hello Bob.\r\n");
	mt_assert_section(&t, "TEXT", "Hello Bob.\r\n");
	mt_assert_section(&t, "HEADER.FIELDS (SUBJECT from)",
			  "From: Alice <alice@example.com>\r\nSubject: Hello\r\n\r\n");
	mt_assert_section(&t, "header.fields.not (Date Message-ID To)",
			  "From: Alice <alice@example.com>\r\nSubject: Hello\r\n\r\n");
	mt_assert_section(&t, "HEADER.FIELDS (X-None)", "\r\n");
	mt_assert_section(&t, "2", NULL);
	mt_assert_section(&t, "1.1", NULL);
	s = mt_section(&t, "", &crlf);
	assert_int_equal(strlen(s), 152);
	assert_int_equal(crlf, 152);
	free(s);
	s = mt_section(&t, "HEADER", &crlf);
	assert_int_equal(strlen(s), 140);
	assert_string_equal(s + 136, "\r\n\r\n");
	free(s);
	mt_free(&t);
}

static void test_nested(void **state)
{
	struct mt_msg t;
	char *s;

	(void)state;
	mt_load(&t, "nested.eml");
	assert_int_equal(mime_part_count(t.m), 12);
	mt_assert_bs(&t, true, "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 41 2 NIL NIL "
		"NIL NIL)((\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 9 1 NIL NIL NIL NIL"
		")(\"IMAGE\" \"PNG\" NIL \"<img1@x>\" NIL \"BASE64\" 12 NIL NIL NIL NIL) \"RELATED\" (\"B"
		"OUNDARY\" \"rel\") NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"alt\") NIL NIL NIL)(\"AP"
		"PLICATION\" \"PDF\" (\"NAME\" \"report.pdf\") NIL NIL \"BASE64\" 12 NIL (\"ATTACHMENT\" "
		"(\"FILENAME*\" \"utf-8''%E6%8A%A5%E5%91%8A.pdf\")) (\"en\" \"zh\") NIL)(\"MESSAGE\" \"RF"
		"C822\" NIL NIL NIL \"7BIT\" 212 (NIL \"inner\" ((NIL NIL \"inner\" \"example.com\")) ((N"
		"IL NIL \"inner\" \"example.com\")) ((NIL NIL \"inner\" \"example.com\")) NIL NIL NIL NIL"
		" NIL) ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL "
		"NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 29 (NIL \"deepest\" NIL NIL NIL NIL NIL"
		" NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 9 1 NIL NI"
		"L NIL NIL) 3 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"in2\") NIL NIL NIL) 15 NIL NIL N"
		"IL NIL) \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)");
	mt_assert_env(&t, 0, "(\"Tue, 1 Jan 2030 08:00:00 +0800\" \"=?GB2312?B?xOO6ww==?= =?UTF-8?Q?_world?=\" ((\"=?U"
		"TF-8?B?5byg5LiJ?=\" NIL \"zhang\" \"example.cn\")) ((\"=?UTF-8?B?5byg5LiJ?=\" NIL \"zhan"
		"g\" \"example.cn\")) ((\"=?UTF-8?B?5byg5LiJ?=\" NIL \"zhang\" \"example.cn\")) ((\"Li, S"
		"i\" NIL \"lisi\" \"example.cn\")(NIL NIL \"wang\" \"example.cn\")) NIL NIL NIL \"<nested"
		"@example.cn>\")");
	/* the envelope of the message inside part 3 */
	mt_assert_env(&t, 8, "(NIL \"inner\" ((NIL NIL \"inner\" \"example.com\")) "
		      "((NIL NIL \"inner\" \"example.com\")) ((NIL NIL \"inner\" \"example.com\")) "
		      "NIL NIL NIL NIL NIL)");
	mt_assert_section(&t, "1.1", "caf=C3=A9 =E4=BD=A0=E5=A5=BD soft=\r\nbreak");
	mt_assert_section(&t, "1.2.1", "<p>hi</p>");
	mt_assert_section(&t, "1.2.2", "iVBORw0KGgo=");
	mt_assert_section(&t, "1.2.2.MIME",
			  "Content-Type: image/png\r\nContent-ID: <img1@x>\r\n"
			  "Content-Transfer-Encoding: base64\r\n\r\n");
	mt_assert_section(&t, "2", "JVBERi0xLjQK");
	mt_assert_section(&t, "3.HEADER",
			  "From: inner@example.com\r\nSubject: inner\r\n"
			  "Content-Type: multipart/mixed; boundary=in2\r\n\r\n");
	mt_assert_section(&t, "3.1", "inner text");
	mt_assert_section(&t, "3.2", "Subject: deepest\r\n\r\ndeep body");
	mt_assert_section(&t, "3.2.HEADER", "Subject: deepest\r\n\r\n");
	mt_assert_section(&t, "3.2.TEXT", "deep body");
	mt_assert_section(&t, "3.2.1", "deep body");
	mt_assert_section(&t, "3.2.HEADER.FIELDS.NOT (subject)", "\r\n");
	mt_assert_section(&t, "3.2.HEADER.FIELDS (\"SUBJECT\")", "Subject: deepest\r\n\r\n");
	s = mt_section(&t, "3.TEXT", NULL);
	assert_true(str_has_prefix(s, "--in2\r\n"));
	assert_int_equal(strlen(s), 124);
	free(s);
	s = mt_section(&t, "3", NULL);
	assert_int_equal(strlen(s), 212);
	free(s);
	s = mt_section(&t, "1", NULL);
	assert_true(str_has_prefix(s, "--alt\r\n"));
	assert_true(strlen(s) > 7 && strcmp(s + strlen(s) - 7, "--alt--") == 0);
	free(s);
	/* parts that do not exist, and HEADER of a non-message part */
	mt_assert_section(&t, "4", NULL);
	mt_assert_section(&t, "1.3", NULL);
	mt_assert_section(&t, "2.1", NULL);
	mt_assert_section(&t, "2.HEADER", NULL);
	mt_assert_section(&t, "3.2.1.1", NULL);
	mt_free(&t);
}

static void test_encoded_words_raw(void **state)
{
	struct mt_msg t;

	(void)state;
	/* ENVELOPE keeps encoded words raw (clients decode); the fold
	 * between two words becomes one space */
	mt_load(&t, "encoded-words.eml");
	mt_assert_env(&t, 0, "(NIL \"=?iso-8859-1?q?caf=E9?= =?ISO-8859-1?Q?_au_lait?= =?shift_jis?B?k/qWe4zq?=\" "
		      "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\")) "
		      "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\")) "
		      "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\")) "
		      "((\"=?unknown-8bit?Q?=FFx?=\" NIL \"u\" \"example.com\")) NIL NIL NIL NIL)");
	mt_assert_bs(&t, true, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"gbk\") NIL NIL \"BASE64\" 34 1 NIL NIL NIL NIL)");
	mt_free(&t);

	mt_load(&t, "no-colon.eml");
	mt_assert_env(&t, 0, "(NIL \"after garbage\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) "
		      "((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)");
	mt_assert_bs(&t, true, TEXT_PLAIN_ASCII "\"7BIT\" 6 1 NIL NIL NIL NIL)");
	mt_free(&t);
}

static void test_section_errors(void **state)
{
	static const char *const bad[] = {
		"0", "1..2", "1.", ".1", "HEADER.FIELDS", "HEADER.FIELDS ()", "HEADER.FIELDS (a",
		"FOO", "1.FOO", "MIME", "1234567890", "HEADER.FIELDS (a) x",
	};
	struct mt_msg t;
	struct mime_section s;
	const char *err;

	(void)state;
	mt_load(&t, "nested.eml");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (mime_section_find(t.m, bad[i], &s, &err) != -1)
			fail_msg("section \"%s\" accepted", bad[i]);
		assert_non_null(err);
	}
	mt_free(&t);
}

static void test_group_addresses(void **state)
{
	struct mt_msg t;

	(void)state;
	mt_load(&t, "group.eml");
	/* Sender is empty, so it is From (RFC 3501 7.4.2); the route-addr
	 * keeps its adl; the groups open with (NIL NIL name NIL) and close
	 * with (NIL NIL NIL NIL); a comment names a bare address. */
	mt_assert_env(&t, 0, "(\"Thu, 13 Feb 69 23:32 -0330 (Newfoundland Time)\" \"groups\" ((\"Joe Q. Public\" NIL \""
		"john.q.public\" \"example.com\")) ((\"Joe Q. Public\" NIL \"john.q.public\" \"example.co"
		"m\")) ((NIL NIL \"postmaster\" \"MISSING_DOMAIN\")) ((\"Mary Smith\" \"@machine.tld,@rel"
		"ay.tld\" \"mary\" \"example.net\")(\"John Doe\" NIL \"jdoe\" \"one.test\")) ((NIL NIL \""
		"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" "
		"NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\""
		")(NIL NIL NIL NIL)) \"<1234@local.machine.example>\" \"<5678.21-Nov-1997@example.com>\")");
	mt_free(&t);
}

static void test_bare_lf(void **state)
{
	struct mt_msg t;
	uint64_t crlf = 0;
	char *s;

	(void)state;
	mt_load(&t, "bare-lf.eml");
	/* 14 stored bytes, 2 bare LFs: IMAP counts 16 */
	mt_assert_bs(&t, true, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"iso-8859-1\") NIL NIL \"8BIT\" 16 2 NIL NIL NIL NIL)");
	s = mt_section(&t, "1", &crlf);
	assert_string_equal(s, "line one\ncaf\xe9\n");
	assert_int_equal(crlf, 16);
	free(s);
	s = mt_section(&t, "HEADER", &crlf);
	assert_int_equal(strlen(s), 115);
	assert_int_equal(crlf, 120);
	free(s);
	assert_int_equal(mime_message_size(t.m, false), 129);
	assert_int_equal(mime_message_size(t.m, true), 136);
	mt_assert_section(&t, "HEADER.FIELDS (subject)", "Subject: bare LF\r\n\r\n");
	s = mt_text(&t, MIME_TEXT_BODY);
	assert_string_equal(s, "line one\ncaf\xc3\xa9\n\n");
	free(s);
	mt_free(&t);
}

/* reading a range as sent: bare LF -> CRLF, <partial> origin in the
 * converted stream, a CRLF split between two reads */
static void test_section_reader(void **state)
{
	struct mt_msg t;
	struct mime_section sec;
	struct mime_section_reader r;
	const char *err;
	char buf[64];
	ssize_t n;

	(void)state;
	mt_load(&t, "bare-lf.eml");
	assert_int_equal(mime_section_find(t.m, "1", &sec, &err), 0);
	assert_int_equal(mime_section_reader_init(&r, t.m, &sec, 0, &err), 0);
	n = mime_section_reader_read(&r, buf, sizeof(buf), &err);
	assert_int_equal(n, 16);
	assert_memory_equal(buf, "line one\r\ncaf\xe9\r\n", 16);
	assert_int_equal(mime_section_reader_read(&r, buf, sizeof(buf), &err), 0);
	/* skip 9: starts between the added CR and the LF */
	assert_int_equal(mime_section_reader_init(&r, t.m, &sec, 9, &err), 0);
	n = mime_section_reader_read(&r, buf, sizeof(buf), &err);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "\ncaf\xe9\r\n", 7);
	/* one byte at a time gives the same 16 bytes */
	assert_int_equal(mime_section_reader_init(&r, t.m, &sec, 0, &err), 0);
	size_t total = 0;
	while ((n = mime_section_reader_read(&r, buf + total, 1, &err)) > 0)
		total += (size_t)n;
	assert_int_equal(total, 16);
	assert_memory_equal(buf, "line one\r\ncaf\xe9\r\n", 16);
	mime_section_free(&sec);
	/* the whole message: as many bytes as the CRLF size says */
	{
		struct mt_msg c;

		/* a CRLF message skips straight to the offset */
		mt_load(&c, "simple.eml");
		assert_int_equal(mime_section_find(c.m, "TEXT", &sec, &err), 0);
		assert_int_equal(mime_section_reader_init(&r, c.m, &sec, 6, &err), 0);
		n = mime_section_reader_read(&r, buf, sizeof(buf), &err);
		assert_int_equal(n, 6);
		assert_memory_equal(buf, "Bob.\r\n", 6);
		assert_int_equal(mime_section_reader_init(&r, c.m, &sec, 100, &err), 0);
		assert_int_equal(mime_section_reader_read(&r, buf, sizeof(buf), &err), 0);
		mime_section_free(&sec);
		mt_free(&c);
	}
	assert_int_equal(mime_section_find(t.m, "", &sec, &err), 0);
	assert_int_equal(mime_section_reader_init(&r, t.m, &sec, 0, &err), 0);
	total = 0;
	while ((n = mime_section_reader_read(&r, buf, sizeof(buf), &err)) > 0)
		total += (size_t)n;
	assert_int_equal(total, sec.crlf_length);
	assert_int_equal(total, 136);
	mime_section_free(&sec);
	mt_free(&t);
}

static void test_missing_final_boundary(void **state)
{
	struct mt_msg t;

	(void)state;
	mt_load(&t, "missing-final-boundary.eml");
	mt_assert_bs(&t, false, "(" TEXT_PLAIN_ASCII "\"7BIT\" 5 1)" TEXT_PLAIN_ASCII "\"7BIT\" 22 1) \"MIXED\")");
	mt_assert_section(&t, "2", "second, never closed\r\n");
	mt_free(&t);
}

static void test_bogus_boundary(void **state)
{
	struct mt_msg t;

	(void)state;
	/* no boundary line at all: the multipart is one opaque text part */
	mt_load(&t, "bogus-boundary.eml");
	assert_int_equal(mime_part_count(t.m), 1);
	assert_true(mime_part_get(t.m, 0)->flags & MIME_PART_OPAQUE);
	mt_assert_bs(&t, true, TEXT_PLAIN_ASCII "\"7BIT\" 54 5 NIL NIL NIL NIL)");
	mt_assert_section(&t, "1", "--other\r\nContent-Type: text/plain\r\n\r\ntext\r\n--other--\r\n");
	mt_free(&t);
}

static void test_prefix_boundary(void **state)
{
	struct mt_msg t;

	(void)state;
	/* "--abcd" is the inner boundary, not "--abc" + "d" */
	mt_load(&t, "prefix-boundary.eml");
	mt_assert_bs(&t, false, "((" TEXT_PLAIN_ASCII "\"7BIT\" 3 1)" TEXT_PLAIN_ASCII "\"7BIT\" 3 1) \"ALTERNATIVE\")"
		     TEXT_PLAIN_ASCII "\"7BIT\" 5 1) \"MIXED\")");
	mt_assert_section(&t, "1.1", "one");
	mt_assert_section(&t, "1.2", "two");
	mt_assert_section(&t, "2", "three");
	mt_free(&t);
}

static void test_nul_and_8bit(void **state)
{
	struct mt_msg t;

	(void)state;
	mt_load(&t, "nul.eml");
	/* NUL dropped; a string with a control character becomes a literal */
	mt_assert_env(&t, 0, "(NIL {7}\r\nnulbyte ((NIL NIL \"x\" \"example.com\")) ((NIL NIL \"x\" \"example.com\")) "
		      "((NIL NIL \"x\" \"example.com\")) NIL NIL NIL NIL NIL)");
	mt_assert_bs(&t, false, TEXT_PLAIN_ASCII "\"7BIT\" 15 1)");
	mt_assert_section(&t, "1", "body");  /* up to the NUL, as a C string */
	mt_free(&t);

	mt_load(&t, "8bit-header.eml");
	mt_assert_env(&t, 0, "(NIL {12}\r\ncaf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd (({4}\r\n\xc4\xe3\xba\xc3 NIL \"gbk\" \"example.cn\")) "
		      "(({4}\r\n\xc4\xe3\xba\xc3 NIL \"gbk\" \"example.cn\")) (({4}\r\n\xc4\xe3\xba\xc3 NIL \"gbk\" \"example.cn\")) "
		      "NIL NIL NIL NIL NIL)");
	char *s = mt_text(&t, MIME_TEXT_HEADERS);
	assert_string_equal(s, "Subject: caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd\nFrom: \xe4\xbd\xa0\xe5\xa5\xbd <gbk@example.cn>\n");
	free(s);
	mt_free(&t);
}

static void test_header_shapes(void **state)
{
	struct mt_msg t;
	struct strbuf sb;
	const char *err;

	(void)state;
	/* header never ends: all header, empty body */
	mt_load(&t, "no-separator.eml");
	assert_true(mime_part_get(t.m, 0)->flags & MIME_PART_NO_HEADER_END);
	mt_assert_bs(&t, false, TEXT_PLAIN_ASCII "\"7BIT\" 0 0)");
	mt_assert_section(&t, "TEXT", "");
	strbuf_init(&sb, 0);
	assert_int_equal(mime_header_get(t.m, 0, "x-last", &sb, &err), 1);
	assert_string_equal(sb.data, "no blank line follows");
	mt_free(&t);

	/* a line without colon is skipped; the fields after it still count */
	mt_load(&t, "no-colon.eml");
	strbuf_reset(&sb);
	assert_int_equal(mime_header_get(t.m, 0, "Subject", &sb, &err), 1);
	assert_string_equal(sb.data, "after garbage");
	mt_assert_section(&t, "TEXT", "body\r\n");
	mt_free(&t);

	/* the first line is not a field: no header at all */
	mt_load(&t, "no-header.eml");
	assert_int_equal(mime_part_get(t.m, 0)->body_off, 0);
	mt_assert_section(&t, "HEADER", "");
	mt_assert_env(&t, 0, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	mt_assert_bs(&t, false, TEXT_PLAIN_ASCII "\"7BIT\" 49 4)");
	mt_free(&t);

	/* a part header cut short by the next boundary: empty body, and
	 * its Content-Type does not turn it into a multipart */
	static const char cut[] =
		"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=c\n"
		"--b\nContent-Type: text/plain; charset=utf-8; format=flowed\n\nx\n--b--\n";
	mt_mem(&t, cut, sizeof(cut) - 1);
	assert_true(mime_part_get(t.m, 1)->flags & MIME_PART_NO_HEADER_END);
	mt_assert_bs(&t, false, "(" TEXT_PLAIN_ASCII "\"7BIT\" 0 0)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\" "
		     "\"FORMAT\" \"flowed\") NIL NIL \"7BIT\" 1 1) \"MIXED\")");
	mt_assert_section(&t, "1.MIME", "Content-Type: multipart/mixed; boundary=c");
	mt_free(&t);

	mt_load(&t, "empty.eml");
	mt_assert_bs(&t, true, TEXT_PLAIN_ASCII "\"7BIT\" 0 0 NIL NIL NIL NIL)");
	mt_assert_env(&t, 0, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	mt_assert_section(&t, "", "");
	mt_assert_section(&t, "1", "");
	mt_free(&t);
	strbuf_free(&sb);
}

static void test_unfolding(void **state)
{
	static const char msg[] =
		"Subject: one\r\n two\r\n\tthree  \r\n"
		"X-A: 1\r\nx-a: 2\r\n"
		"Content-Type: text/plain;\r\n charset=\"utf-8\"\r\n"
		"\r\nbody";
	struct mt_msg t;
	struct strbuf sb;
	const char *err;

	(void)state;
	mt_mem(&t, msg, sizeof(msg) - 1);
	strbuf_init(&sb, 0);
	assert_int_equal(mime_header_get(t.m, 0, "subject", &sb, &err), 1);
	assert_string_equal(sb.data, "one two\tthree");
	strbuf_reset(&sb);
	assert_int_equal(mime_header_get_all(t.m, 0, "X-A", ", ", &sb, &err), 1);
	assert_string_equal(sb.data, "1, 2");
	strbuf_reset(&sb);
	assert_int_equal(mime_header_get(t.m, 0, "X-B", &sb, &err), 0);
	mt_assert_section(&t, "HEADER.FIELDS (Subject)", "Subject: one\r\n two\r\n\tthree  \r\n\r\n");
	mt_assert_bs(&t, false, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 4 1)");
	strbuf_free(&sb);
	mt_free(&t);
}

static void test_deep_nesting(void **state)
{
	struct mt_msg t;
	const struct mime_part *p;
	char *s;

	(void)state;
	mt_load(&t, "deep-200.eml");
	/* depth 0..63 are split, the part at depth 64 stays whole */
	assert_int_equal(mime_part_count(t.m), 65);
	p = mime_part_get(t.m, 64);
	assert_int_equal(p->depth, 64);
	assert_true(p->flags & MIME_PART_OPAQUE);
	s = mt_bodystructure(&t, 0, true);
	for (int i = 0; i < 64; i++)
		assert_int_equal(s[i], '(');
	assert_true(str_has_prefix(s + 64, "(\"TEXT\" \"PLAIN\""));
	free(s);
	s = mt_section(&t, "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1."
			   "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1", NULL);
	assert_true(str_has_prefix(s, "--b64\n"));
	free(s);
	const char *err;
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "CORE", &err), 1);
	mt_free(&t);
}

static void test_digest_and_message(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/digest; boundary=d\n\n"
		"--d\n\nSubject: one\n\nfirst\n"
		"--d\nContent-Type: text/plain\n\nnot a message\n"
		"--d--\n";
	struct mt_msg t;

	(void)state;
	mt_mem(&t, msg, sizeof(msg) - 1);
	/* RFC 2046 5.1.5: digest parts default to message/rfc822 */
	mt_assert_bs(&t, false, "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 21 (NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL) "
		     TEXT_PLAIN_ASCII "\"7BIT\" 5 1) 3)" TEXT_PLAIN_ASCII "\"7BIT\" 13 1) \"DIGEST\")");
	mt_assert_section(&t, "1.HEADER", "Subject: one\n\n");
	mt_assert_section(&t, "1.1", "first");
	mt_free(&t);
}

static void test_fd_small_window(void **state)
{
	char path[] = "/tmp/test_mime_XXXXXX";
	struct mt_msg t;
	struct mime_limits lim;
	struct mime_message *m;
	struct strbuf a;
	const char *err = NULL;
	int fd;

	(void)state;
	mt_load(&t, "nested.eml");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, t.data, t.len), (ssize_t)t.len);
	mime_limits_default(&lim);
	lim.window = 16;  /* raised to the minimum: many refills */
	m = mime_parse_fd(fd, t.len, &lim, &err);
	assert_non_null(m);
	strbuf_init(&a, 0);
	assert_int_equal(mime_bodystructure(m, 0, true, &a, &err), 0);
	char *want = mt_bodystructure(&t, 0, true);
	assert_string_equal(a.data, want);
	free(want);
	strbuf_reset(&a);
	assert_int_equal(mime_envelope(m, 0, &a, &err), 0);
	want = mt_envelope(&t, 0);
	assert_string_equal(a.data, want);
	free(want);
	strbuf_free(&a);
	mime_message_free(&m);
	/* a file shorter than the size given is a read error, not a crash */
	m = mime_parse_fd(fd, t.len + 10, NULL, &err);
	assert_null(m);
	assert_string_equal(err, "read error on the message file");
	close(fd);
	mt_free(&t);
}

/* a header much larger than the window, through an fd with the smallest
 * window, gives the same views as from memory */
static void test_fd_big_header(void **state)
{
	char path[] = "/tmp/test_mime_XXXXXX";
	struct strbuf msg, a, b;
	struct mime_limits lim;
	struct mime_message *mf, *mm;
	struct mime_section sf, sm;
	const char *err = NULL;
	int fd;

	(void)state;
	strbuf_init(&msg, 0);
	strbuf_puts(&msg, "From: a@example.com\r\nSubject: big header\r\n");
	for (int i = 0; i < 300; i++)
		strbuf_printf(&msg, "X-Field-%d: value %d with some padding text\r\n", i, i);
	strbuf_puts(&msg, "X-Long: ");
	for (int i = 0; i < 5000; i++)
		strbuf_putc(&msg, (char)('a' + i % 26));
	strbuf_puts(&msg, "\r\n continued\r\nTo: b@example.com\r\n\r\nbody\r\n");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, msg.data, msg.len), (ssize_t)msg.len);
	mime_limits_default(&lim);
	lim.window = 1;
	mf = mime_parse_fd(fd, msg.len, &lim, &err);
	mm = mime_parse_mem(msg.data, msg.len, NULL, &err);
	assert_non_null(mf);
	assert_non_null(mm);
	assert_int_equal(mime_part_get(mf, 0)->body_off, mime_part_get(mm, 0)->body_off);
	strbuf_init(&a, 0);
	strbuf_init(&b, 0);
	assert_int_equal(mime_envelope(mf, 0, &a, &err), 0);
	assert_int_equal(mime_envelope(mm, 0, &b, &err), 0);
	assert_string_equal(a.data, b.data);
	assert_non_null(strstr(a.data, "((NIL NIL \"b\" \"example.com\"))"));
	assert_int_equal(mime_section_find(mf, "HEADER.FIELDS.NOT (X-Field-7)", &sf, &err), 0);
	assert_int_equal(mime_section_find(mm, "HEADER.FIELDS.NOT (X-Field-7)", &sm, &err), 0);
	assert_int_equal(sf.data.len, sm.data.len);
	assert_memory_equal(sf.data.data, sm.data.data, sf.data.len);
	/* everything but one field of 43 bytes */
	assert_int_equal(sf.data.len, mime_part_get(mm, 0)->body_off - 43);
	mime_section_free(&sf);
	mime_section_free(&sm);
	strbuf_free(&a);
	strbuf_free(&b);
	mime_message_free(&mf);
	mime_message_free(&mm);
	close(fd);
	strbuf_free(&msg);
}

static void test_part_limit(void **state)
{
	struct strbuf sb;
	struct mime_limits lim;
	struct mime_message *m;
	const char *err;
	char *s;

	(void)state;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "Content-Type: multipart/mixed; boundary=x\n\n");
	for (int i = 0; i < 20; i++)
		strbuf_printf(&sb, "--x\n\npart %d\n", i);
	strbuf_puts(&sb, "--x--\n");
	mime_limits_default(&lim);
	lim.max_parts = 5;
	m = mime_parse_mem(sb.data, sb.len, &lim, &err);
	assert_non_null(m);
	assert_int_equal(mime_part_count(m), 5);
	struct strbuf bs;
	strbuf_init(&bs, 0);
	assert_int_equal(mime_bodystructure(m, 0, false, &bs, &err), 0);
	/* four children; the last holds the rest of the message */
	s = bs.data;
	assert_true(str_has_prefix(s, "((\"TEXT\""));
	assert_non_null(strstr(s, "\"7BIT\" 6 1)(\"TEXT\""));
	assert_non_null(strstr(s, ") \"MIXED\")"));
	strbuf_free(&bs);
	mime_message_free(&m);
	strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_encoded_words_raw),
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_group_addresses),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_section_reader),
		cmocka_unit_test(test_missing_final_boundary),
		cmocka_unit_test(test_bogus_boundary),
		cmocka_unit_test(test_prefix_boundary),
		cmocka_unit_test(test_nul_and_8bit),
		cmocka_unit_test(test_header_shapes),
		cmocka_unit_test(test_unfolding),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_digest_and_message),
		cmocka_unit_test(test_fd_small_window),
		cmocka_unit_test(test_fd_big_header),
		cmocka_unit_test(test_part_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
