/*
 * test_smtp_client_reply.c - the SMTP client's reply parser
 * (smtp/client/reply.c): RFC 5321 4.2 multiline replies, the enhanced
 * status code (RFC 3463), garbage, codes that differ between lines,
 * over-long lines and replies, and a 10 MB greeting cut at the limit
 * with bounded memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/client/smtp-client.h"

static void feed(struct smtpc_reply_parser *p, const char *s)
{
	smtpc_reply_feed(p, s, strlen(s));
}

static void test_single_line(void **state)
{
	struct smtpc_reply_parser *p = smtpc_reply_parser_new(16384);
	struct smtpc_reply r;
	const char *error = NULL;

	(void)state;
	assert_non_null(p);
	feed(p, "250 2.1.0 Ok\r\n");
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.dsn, "2.1.0");
	assert_string_equal(r.text, "2.1.0 Ok");
	assert_int_equal(r.n_lines, 1);
	assert_string_equal(r.lines[0], "250 2.1.0 Ok");
	assert_int_equal(smtpc_reply_next(p, &r, &error), 0);
	smtpc_reply_parser_free(&p);
	assert_null(p);
}

static void test_multiline_in_pieces(void **state)
{
	static const char text[] = "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"
				   "550 5.1.1 <bob@example.com>: Recipient address rejected\r\n";
	struct smtpc_reply_parser *p = smtpc_reply_parser_new(16384);
	struct smtpc_reply r;
	const char *error = NULL;
	size_t i;

	(void)state;
	/* one byte at a time: nothing complete until the last line */
	for (i = 0; i < sizeof(text) - 1; i++) {
		smtpc_reply_feed(p, text + i, 1);
		if (i + 1 < strlen("250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"))
			assert_int_equal(smtpc_reply_next(p, &r, &error), 0);
		else
			break;
	}
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_int_equal(r.code, 250);
	assert_int_equal(r.n_lines, 4);
	assert_string_equal(r.lines[2], "250-SIZE 1000");
	assert_string_equal(r.text, "mx.example.com PIPELINING SIZE 1000 8BITMIME");
	assert_string_equal(r.dsn, "");
	feed(p, text + i + 1);
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.dsn, "5.1.1");
	assert_string_equal(r.text, "5.1.1 <bob@example.com>: Recipient address rejected");
	smtpc_reply_parser_free(&p);
}

static void test_pipelined_replies_and_bare_code(void **state)
{
	struct smtpc_reply_parser *p = smtpc_reply_parser_new(16384);
	struct smtpc_reply r;
	const char *error = NULL;

	(void)state;
	feed(p, "250 Ok\r\n250\r\n354 go ahead\n");
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_int_equal(r.code, 250);
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.text, "");
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_int_equal(r.code, 354);
	assert_int_equal(smtpc_reply_next(p, &r, &error), 0);
	smtpc_reply_parser_free(&p);
}

static void test_enhanced_code_class_must_match(void **state)
{
	struct smtpc_reply_parser *p = smtpc_reply_parser_new(16384);
	struct smtpc_reply r;
	const char *error = NULL;

	(void)state;
	feed(p, "450 5.1.1 mismatched class\r\n550 5.7.1234 too many digits\r\n452 4.5.3 Too many\r\n");
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_string_equal(r.dsn, "");
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_string_equal(r.dsn, "");
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_string_equal(r.dsn, "4.5.3");
	smtpc_reply_parser_free(&p);
}

static void expect_error(const char *input, const char *want)
{
	struct smtpc_reply_parser *p = smtpc_reply_parser_new(16384);
	struct smtpc_reply r;
	const char *error = NULL;

	assert_int_equal(smtpc_reply_feed(p, input, strlen(input)), -1);
	assert_int_equal(smtpc_reply_next(p, &r, &error), -1);
	assert_string_equal(error, want);
	/* the error sticks */
	feed(p, "250 ok\r\n");
	assert_int_equal(smtpc_reply_next(p, &r, &error), -1);
	smtpc_reply_parser_free(&p);
}

static void test_garbage(void **state)
{
	(void)state;
	expect_error("HTTP/1.1 400 Bad Request\r\n", "reply line is not CODE SP/- text");
	expect_error("25\r\n", "reply line is not CODE SP/- text");
	expect_error("250x ok\r\n", "reply line is not CODE SP/- text");
	expect_error("150 too small\r\n", "reply line is not CODE SP/- text");
	expect_error("650 too big\r\n", "reply line is not CODE SP/- text");
	expect_error("250-one\r\n251 two\r\n", "reply codes differ between lines");
}

static void test_nul_in_line(void **state)
{
	struct smtpc_reply_parser *p = smtpc_reply_parser_new(16384);
	struct smtpc_reply r;
	const char *error = NULL;

	(void)state;
	smtpc_reply_feed(p, "250 a\0b\r\n", 9);
	assert_int_equal(smtpc_reply_next(p, &r, &error), -1);
	assert_string_equal(error, "reply line is not CODE SP/- text");
	smtpc_reply_parser_free(&p);
}

static void test_long_line(void **state)
{
	struct smtpc_reply_parser *p = smtpc_reply_parser_new(1024 * 1024);
	struct smtpc_reply r;
	const char *error = NULL;
	char *line = malloc(5000);

	(void)state;
	memset(line, 'x', 5000);
	memcpy(line, "250 ", 4);
	/* 4096 bytes are fine */
	smtpc_reply_feed(p, line, 4096);
	feed(p, "\r\n");
	assert_int_equal(smtpc_reply_next(p, &r, &error), 1);
	assert_int_equal(strlen(r.lines[0]), 4096);
	smtpc_reply_feed(p, line, 4097);
	assert_int_equal(smtpc_reply_next(p, &r, &error), -1);
	assert_string_equal(error, "reply line longer than 4096 bytes");
	free(line);
	smtpc_reply_parser_free(&p);
}

static void test_reply_limit(void **state)
{
	struct smtpc_reply_parser *p = smtpc_reply_parser_new(1000);
	struct smtpc_reply r;
	const char *error = NULL;
	int i;

	(void)state;
	for (i = 0; i < 40; i++)
		feed(p, "220-this is a long greeting line\r\n");
	assert_int_equal(smtpc_reply_next(p, &r, &error), -1);
	assert_string_equal(error, "reply longer than smtp_reply_limit");
	smtpc_reply_parser_free(&p);
}

static void test_ten_megabyte_greeting(void **state)
{
	struct smtpc_reply_parser *p = smtpc_reply_parser_new(16384);
	struct smtpc_reply r;
	const char *error = NULL;
	char chunk[4096];
	size_t sent = 0;
	int ret = 0;

	(void)state;
	/* "220-xxxx...\r\n" lines, 10 MB in 4 KB writes */
	memset(chunk, 'x', sizeof(chunk));
	memcpy(chunk, "220-", 4);
	memcpy(chunk + sizeof(chunk) - 2, "\r\n", 2);
	while (sent < 10 * 1024 * 1024 && ret == 0) {
		ret = smtpc_reply_feed(p, chunk, sizeof(chunk));
		sent += sizeof(chunk);
	}
	assert_int_equal(ret, -1);
	assert_true(sent <= 16384 + sizeof(chunk));
	assert_int_equal(smtpc_reply_next(p, &r, &error), -1);
	assert_string_equal(error, "reply longer than smtp_reply_limit");
	smtpc_reply_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_line),
		cmocka_unit_test(test_multiline_in_pieces),
		cmocka_unit_test(test_pipelined_replies_and_bare_code),
		cmocka_unit_test(test_enhanced_code_class_must_match),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_nul_in_line),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_reply_limit),
		cmocka_unit_test(test_ten_megabyte_greeting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
