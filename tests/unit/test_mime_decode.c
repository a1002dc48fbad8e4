/*
 * test_mime_decode.c - the decoding helpers of the MIME parser: RFC 2047
 * encoded words (UTF-8, GB2312/GBK, ISO-8859-1, Shift_JIS, ISO-2022-JP,
 * B and Q, adjacent words, characters split across words, bad input,
 * unknown charsets), RFC 2231 parameters, Content-Type syntax, address
 * lists, RFC 5322 dates (with obsolete forms), and SEARCH text decoding
 * of quoted-printable and base64 bodies across chunk borders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mime_test_util.h"

static void assert_decode(const char *in, const char *want)
{
	struct strbuf sb;

	strbuf_init(&sb, 0);
	assert_int_equal(mime_header_decode(in, strlen(in), &sb), 0);
	if (strcmp(sb.data ? sb.data : "", want) != 0)
		fail_msg("decode \"%s\": got \"%s\", want \"%s\"", in, sb.data ? sb.data : "", want);
	strbuf_free(&sb);
}

static void test_rfc2047(void **state)
{
	(void)state;
	assert_decode("=?UTF-8?B?5L2g5aW9?=", "你好");
	assert_decode("=?GB2312?B?xOO6ww==?=", "你好");
	assert_decode("=?gbk?Q?=D6=D0=CE=C4?=", "中文");
	assert_decode("=?iso-8859-1?q?caf=E9_cr=E8me?=", "café crème");
	assert_decode("=?shift_jis?B?k/qWe4zq?=", "日本語");
	assert_decode("=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "日本語");
	/* RFC 2047 6.2: whitespace between adjacent words vanishes */
	assert_decode("=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab");
	assert_decode("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab");
	assert_decode("=?UTF-8?Q?a?= x =?UTF-8?Q?b?=", "a x b");
	assert_decode("Re: =?UTF-8?Q?a?=  tail", "Re: a  tail");
	/* a character split over two words, B and Q */
	assert_decode("=?utf-8?Q?=E4=BD?= =?utf-8?Q?=A0?=", "你");
	assert_decode("=?utf-8?B?5L0=?= =?utf-8?B?oA==?=", "你");
	/* different charsets next to each other */
	assert_decode("=?gbk?Q?=D6=D0?= =?utf-8?Q?=E6=96=87?=", "中文");
	/* bad base64 / Q: best effort */
	assert_decode("=?utf-8?B?5L2g*5aW9?=", "你好");
	assert_decode("=?utf-8?B?YWI?=", "ab");
	assert_decode("=?utf-8?Q?a=ZZb=?=", "a=ZZb=");
	/* unknown charset: bytes kept when UTF-8, else U+FFFD */
	assert_decode("=?x-unknown?Q?abc=FF?=", "abc\xef\xbf\xbd");
	assert_decode("=?utf-8*en?Q?hi?=", "hi");
	/* not encoded words */
	assert_decode("a =? b ?= c", "a =? b ?= c");
	assert_decode("=?utf-8?B?has space?=", "=?utf-8?B?has space?=");
	assert_decode("=?utf-8?X?abc?=", "=?utf-8?X?abc?=");
	assert_decode("", "");
	/* raw 8-bit: UTF-8 kept, clean GBK read as GB18030, else U+FFFD */
	assert_decode("caf\xc3\xa9", "café");
	assert_decode("\xc4\xe3\xba\xc3", "你好");
	assert_decode("caf\xe9 x", "caf\xef\xbf\xbd x");
}

static void test_charset(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	assert_int_equal(mime_charset_to_utf8("GB2312", "\xc4\xe3", 2, &sb), 0);
	assert_string_equal(sb.data, "你");
	strbuf_reset(&sb);
	/* invalid sequence in the middle: replaced, the rest kept */
	assert_int_equal(mime_charset_to_utf8("utf-8", "a\xff" "b\xe4\xbd", 5, &sb), 0);
	assert_string_equal(sb.data, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	strbuf_reset(&sb);
	assert_int_equal(mime_charset_to_utf8("no-such-charset", "ok", 2, &sb), 1);
	assert_string_equal(sb.data, "ok");
	strbuf_reset(&sb);
	/* names iconv would read as options or paths are unknown charsets */
	assert_int_equal(mime_charset_to_utf8("latin1//TRANSLIT", "ok", 2, &sb), 1);
	assert_int_equal(mime_charset_to_utf8("../../x", "ok", 2, &sb), 1);
	strbuf_reset(&sb);
	assert_int_equal(mime_charset_to_utf8("windows-1252", "\x80", 1, &sb), 0);
	assert_string_equal(sb.data, "€");
	strbuf_free(&sb);
}

static void test_content_type(void **state)
{
	struct mime_content c;
	const char *v;

	(void)state;
	v = "Multipart/Mixed (comment) ; Boundary = \"----=_Part_1\" ; x=y";
	assert_int_equal(mime_content_parse(v, strlen(v), false, &c), 0);
	assert_string_equal(c.type, "multipart");
	assert_string_equal(c.subtype, "mixed");
	assert_string_equal(mime_content_param_raw(&c, "boundary"), "----=_Part_1");
	assert_string_equal(mime_content_param(&c, "X"), "y");
	assert_int_equal(c.nparams, 2);
	mime_content_free(&c);

	v = "multipart/alternative; boundary=----=_NextPart_000_0001";
	assert_int_equal(mime_content_parse(v, strlen(v), false, &c), 0);
	assert_string_equal(mime_content_param_raw(&c, "boundary"), "----=_NextPart_000_0001");
	mime_content_free(&c);

	assert_int_equal(mime_content_parse("text", 4, false, &c), 1);
	assert_int_equal(mime_content_parse("", 0, false, &c), 1);
	assert_int_equal(mime_content_parse("/plain", 6, false, &c), 1);
	assert_int_equal(mime_content_parse("text/", 5, false, &c), 1);
}

static void test_rfc2231(void **state)
{
	struct mime_content c;
	const char *v;

	(void)state;
	v = "attachment; filename*0*=utf-8''%E6%8A%A5%E5%91%8A; filename*1=\".pdf\"";
	assert_int_equal(mime_content_parse(v, strlen(v), true, &c), 0);
	assert_string_equal(c.type, "attachment");
	assert_null(c.subtype);
	assert_int_equal(c.nparams, 1);
	assert_string_equal(c.params[0].name, "filename");
	assert_true(c.params[0].extended);
	assert_string_equal(c.params[0].value, "报告.pdf");
	assert_string_equal(c.params[0].raw, "utf-8''%E6%8A%A5%E5%91%8A.pdf");
	mime_content_free(&c);

	v = "application/x; name*=iso-8859-1'fr'caf%E9.txt; name=\"fallback\"";
	assert_int_equal(mime_content_parse(v, strlen(v), false, &c), 0);
	assert_int_equal(c.nparams, 1);
	assert_string_equal(mime_content_param(&c, "name"), "café.txt");
	mime_content_free(&c);

	/* plain continuations, out of order */
	v = "inline; name*1=\"name.txt\"; name*0=\"long \"";
	assert_int_equal(mime_content_parse(v, strlen(v), true, &c), 0);
	assert_string_equal(mime_content_param(&c, "name"), "long name.txt");
	assert_string_equal(mime_content_param_raw(&c, "name"), "long name.txt");
	assert_false(c.params[0].extended);
	mime_content_free(&c);

	/* Outlook: RFC 2047 inside a quoted parameter */
	v = "application/octet-stream; name=\"=?utf-8?B?5L2g5aW9?=.txt\"";
	assert_int_equal(mime_content_parse(v, strlen(v), false, &c), 0);
	assert_string_equal(mime_content_param(&c, "name"), "你好.txt");
	assert_string_equal(mime_content_param_raw(&c, "name"), "=?utf-8?B?5L2g5aW9?=.txt");
	mime_content_free(&c);

	/* GBK file name in RFC 2231 form */
	v = "attachment; filename*=gbk''%D6%D0%CE%C4.doc";
	assert_int_equal(mime_content_parse(v, strlen(v), true, &c), 0);
	assert_string_equal(mime_content_param(&c, "filename"), "中文.doc");
	mime_content_free(&c);
}

static void test_addresses(void **state)
{
	struct mime_address *a;
	size_t n;
	const char *v;

	(void)state;
	v = "\"Doe, John\" <john@example.com>, jane@example.org (Jane), <@r1,@r2:x@y>, \"q u\"@example.net, nodomain";
	assert_int_equal(mime_address_parse(v, strlen(v), &a, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(a[0].name, "Doe, John");
	assert_string_equal(a[0].mailbox, "john");
	assert_string_equal(a[0].host, "example.com");
	assert_string_equal(a[1].name, "Jane");
	assert_string_equal(a[1].host, "example.org");
	assert_null(a[2].name);
	assert_string_equal(a[2].adl, "@r1,@r2");
	assert_string_equal(a[2].mailbox, "x");
	assert_string_equal(a[3].mailbox, "q u");
	assert_string_equal(a[4].mailbox, "nodomain");
	assert_string_equal(a[4].host, "MISSING_DOMAIN");
	mime_address_free(&a, n);

	v = "";
	assert_int_equal(mime_address_parse(v, 0, &a, &n), 0);
	assert_int_equal(n, 0);
	mime_address_free(&a, n);

	/* 100,000 nested comments: counted, not recursed into */
	{
		struct strbuf deep;
		struct mime_content c;

		strbuf_init(&deep, 0);
		strbuf_puts(&deep, "a@b.c ");
		for (int i = 0; i < 100000; i++)
			strbuf_putc(&deep, '(');
		strbuf_puts(&deep, "x");
		for (int i = 0; i < 100000; i++)
			strbuf_putc(&deep, ')');
		strbuf_puts(&deep, ", d@e.f");
		assert_int_equal(mime_address_parse(deep.data, deep.len, &a, &n), 0);
		assert_int_equal(n, 2);
		assert_string_equal(a[1].mailbox, "d");
		mime_address_free(&a, n);
		strbuf_reset(&deep);
		strbuf_puts(&deep, "text/plain; ");
		for (int i = 0; i < 100000; i++)
			strbuf_putc(&deep, '(');
		assert_int_equal(mime_content_parse(deep.data, deep.len, false, &c), 0);
		mime_content_free(&c);
		strbuf_free(&deep);
	}

	/* garbage never loops or crashes */
	v = "<<<>>>,;;:@@@(((\"\\";
	assert_int_equal(mime_address_parse(v, strlen(v), &a, &n), 0);
	mime_address_free(&a, n);
}

static void assert_date(const char *s, long long t, int tz)
{
	time_t got = 0;
	int gtz = 99999;

	if (mime_date_parse(s, strlen(s), &got, &gtz) != 0)
		fail_msg("date \"%s\" not parsed", s);
	if ((long long)got != t || gtz != tz)
		fail_msg("date \"%s\": got %lld %d, want %lld %d", s, (long long)got, gtz, t, tz);
}

static void test_dates(void **state)
{
	time_t t;
	int tz;

	(void)state;
	assert_date("Wed, 25 Nov 2026 10:00:00 +0100", 1795597200LL, 60);
	assert_date("25 Nov 2026 10:00 +0100", 1795597200LL, 60);
	assert_date("Thu, 13 Feb 69 23:32 -0330 (Newfoundland Time)", -27723480LL, -210);
	assert_date("Fri, 1 Jan 99 00:00:00 EST", 915166800LL, -300);
	assert_date("1 Jan 103 00:00 GMT", 1041379200LL, 0);
	assert_date("Fri, 21 Nov 1997 09:55:06 -0600", 880127706LL, -360);
	assert_date("  Fri ,  21  Nov  1997  09 : 55 : 06  -0600  ", 880127706LL, -360);
	assert_date("Fri, 21 Nov 1997 15:55:06 Z", 880127706LL, 0);
	assert_date("Fri, 21 Nov 1997 15:55:06", 880127706LL, 0);
	static const char *const bad[] = {
		"", "yesterday", "32 Jan 2020 00:00 +0000", "1 Foo 2020 00:00 +0000",
		"1 Jan 2020 25:00 +0000", "1 Jan 2020 10:61 +0000", "1 Jan 2020 10:00 +01", "1 Jan 2020",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mime_date_parse(bad[i], strlen(bad[i]), &t, &tz) != -1)
			fail_msg("bad date \"%s\" accepted", bad[i]);
}

static void test_imap_strings(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	mime_imap_nstring(&sb, "plain text", 10);
	sb.len += 0;
	assert_string_equal(sb.data, "\"plain text\"");
	strbuf_reset(&sb);
	mime_imap_nstring(&sb, "a\"b", 3);
	assert_string_equal(sb.data, "{3}\r\na\"b");
	strbuf_reset(&sb);
	mime_imap_nstring(&sb, "a\\b", 3);
	assert_string_equal(sb.data, "{3}\r\na\\b");
	strbuf_reset(&sb);
	mime_imap_nstring(&sb, "line\r\nnext", 10);
	assert_string_equal(sb.data, "{10}\r\nline\r\nnext");
	strbuf_reset(&sb);
	mime_imap_nstring(&sb, "caf\xc3\xa9", 5);
	assert_string_equal(sb.data, "{5}\r\ncaf\xc3\xa9");
	strbuf_reset(&sb);
	mime_imap_nstring(&sb, NULL, 0);
	assert_string_equal(sb.data, "NIL");
	strbuf_reset(&sb);
	mime_imap_nstring(&sb, "", 0);
	assert_string_equal(sb.data, "\"\"");
	strbuf_free(&sb);
}

static void test_search_text(void **state)
{
	struct mt_msg t;
	const char *err;
	char *s;

	(void)state;
	mt_load(&t, "encoded-words.eml");
	s = mt_text(&t, MIME_TEXT_HEADERS);
	assert_non_null(strstr(s, "Subject: café au lait日本語\n"));
	assert_non_null(strstr(s, "From: Jörg <joerg@example.de>\n"));
	free(s);
	s = mt_text(&t, MIME_TEXT_BODY);
	assert_string_equal(s, "中文内容 searchable GBK\n");
	free(s);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "SEARCHABLE gbk", &err), 1);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "中文内容", &err), 1);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "lait", &err), 0);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_HEADERS, "CAFÉ AU", &err), 1);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_HEADERS, "jÖRG", &err), 1);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_HEADERS, "café au laitX", &err), 0);
	mt_free(&t);

	mt_load(&t, "nested.eml");
	s = mt_text(&t, MIME_TEXT_BODY);
	/* QP (soft break joined), html, attached messages with their
	 * headers; not the png or the pdf */
	assert_string_equal(s, "café 你好 softbreak\n<p>hi</p>\nFrom: inner@example.com\nSubject: inner\n"
			    "Content-Type: multipart/mixed; boundary=in2\ninner text\nSubject: deepest\ndeep body\n");
	free(s);
	mt_free(&t);
}

/* base64 and QP bodies much larger than one decode chunk: multi-byte
 * characters and QP escapes fall on every possible chunk border */
static void test_search_fold(void **state)
{
	static const char msg[] =
		"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
		"\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1 \xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0 "
		"\xc3\x89t\xc3\xa9 \xe5\x8c\x97\xe4\xba\xac\r\n";
	struct mt_msg t;
	const char *err;

	(void)state;
	mt_mem(&t, msg, sizeof(msg) - 1);
	/* Αθήνα Москва Été 北京 */
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "\xce\xb1\xce\x98\xce\x97\xce\x9d\xce\x91", &err), 0);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "\xce\xb1\xce\x98\xce\xae\xce\x9d\xce\x91", &err), 1);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90", &err), 1);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "\xc3\xa9T\xc3\x89", &err), 1);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "\xe5\x8c\x97\xe4\xba\xac", &err), 1);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "\xe5\x8c\x97\xe4\xba\xad", &err), 0);
	mt_free(&t);
}

static void test_search_chunks(void **state)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct strbuf msg, want, enc;
	struct mt_msg t;
	char *s;

	(void)state;
	strbuf_init(&want, 0);
	for (int i = 0; i < 30000; i++)
		strbuf_printf(&want, "%d你好", i);
	/* base64, 76 characters a line */
	strbuf_init(&enc, 0);
	for (size_t i = 0; i < want.len; i += 3) {
		unsigned v = 0;
		size_t n = want.len - i < 3 ? want.len - i : 3;
		for (size_t k = 0; k < 3; k++)
			v = (v << 8) | (k < n ? (unsigned char)want.data[i + k] : 0);
		char q[4] = { b64[(v >> 18) & 63], b64[(v >> 12) & 63], n > 1 ? b64[(v >> 6) & 63] : '=',
			      n > 2 ? b64[v & 63] : '=' };
		strbuf_append(&enc, q, 4);
		if ((i / 3 + 1) % 19 == 0)
			strbuf_puts(&enc, "\r\n");
	}
	strbuf_init(&msg, 0);
	strbuf_printf(&msg, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		      "%s\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n\r\n", enc.data);
	/* QP: every byte of the text escaped, soft line breaks every 72 */
	size_t col = 0;
	for (size_t i = 0; i < want.len; i++) {
		strbuf_printf(&msg, "=%02X", (unsigned char)want.data[i]);
		if ((col += 3) >= 72) {
			strbuf_puts(&msg, "=\r\n");
			col = 0;
		}
	}
	strbuf_puts(&msg, "\r\n--b--\r\n");
	mt_mem(&t, msg.data, msg.len);
	s = mt_text(&t, MIME_TEXT_BODY);
	assert_int_equal(strlen(s), 2 * want.len + 2);
	assert_memory_equal(s, want.data, want.len);
	assert_int_equal(s[want.len], '\n');
	assert_memory_equal(s + want.len + 1, want.data, want.len);
	free(s);
	const char *err;
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "29999你好", &err), 1);
	assert_int_equal(mime_text_contains(t.m, MIME_TEXT_BODY, "30000你好", &err), 0);
	mt_free(&t);
	strbuf_free(&msg);
	strbuf_free(&want);
	strbuf_free(&enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_imap_strings),
		cmocka_unit_test(test_search_text),
		cmocka_unit_test(test_search_fold),
		cmocka_unit_test(test_search_chunks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
