/*
 * test_imap_parser.c - imap/imap-parser.c without a network: lines and
 * literal bytes in, the command tree (printed in a canonical form) or the
 * exact error reply out. Table-driven for the syntax; separate cases for
 * literals (synchronizing, LITERAL+, too big, spooled APPEND), depth and
 * argument limits, and the skipping of a refused command's rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "imap/imap-private.h"

/* A tiny command table: APPEND spools, FETCH has a UID form, X-NOUID has
 * none, anything unknown is refused. */
static int flags_fn(const char *name, bool uid, void *ctx)
{
	(void)ctx;
	if (strcmp(name, "APPEND") == 0)
		return uid ? -1 : IMAP_CMD_FLAG_APPEND;
	if (strcmp(name, "FETCH") == 0)
		return IMAP_CMD_FLAG_USES_SEQS;
	if (strcmp(name, "LOGIN") == 0 || strcmp(name, "NOOP") == 0 || strcmp(name, "LIST") == 0 ||
	    strcmp(name, "X") == 0 || strcmp(name, "ID") == 0 || strcmp(name, "SEARCH") == 0)
		return uid ? (strcmp(name, "SEARCH") == 0 ? 0 : -1) : 0;
	return -1;
}

static struct imap_parser *new_parser(uint64_t limit)
{
	struct imap_parser_settings set = {
		.flags_fn = flags_fn, .literal_size_limit = limit, .tmp_dir = "/tmp",
	};
	struct imap_parser *p = imap_parser_new(&set);

	assert_non_null(p);
	return p;
}

static void dump_args(struct strbuf *sb, const struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strbuf_putc(sb, ' ');
		switch (a[i].type) {
		case IMAP_ARG_ATOM:
			strbuf_puts(sb, a[i].data);
			break;
		case IMAP_ARG_STRING:
			strbuf_printf(sb, "\"%s\"", a[i].data);
			break;
		case IMAP_ARG_LITERAL:
			strbuf_printf(sb, "{%zu}", a[i].len);
			strbuf_append(sb, a[i].data, a[i].len);
			break;
		case IMAP_ARG_LITERAL_FD:
			strbuf_printf(sb, "{fd:%zu}", a[i].len);
			break;
		case IMAP_ARG_LIST:
			strbuf_putc(sb, '(');
			dump_args(sb, a[i].list, a[i].list_count);
			strbuf_putc(sb, ')');
			break;
		}
	}
}

/* command_text - "TAG [UID ]NAME args" of the finished command. */
static char *command_text(struct imap_parser *p)
{
	const char *tag, *name;
	bool uid;
	const struct imap_arg *args;
	size_t n;
	struct strbuf sb;

	imap_parser_command(p, &tag, &name, &uid, &args, &n);
	strbuf_init(&sb, 0);
	strbuf_printf(&sb, "%s %s%s", tag, uid ? "UID " : "", name);
	if (n > 0) {
		strbuf_putc(&sb, ' ');
		dump_args(&sb, args, n);
	}
	return strbuf_steal(&sb);
}

/* error_text - the reply the session would send. */
static char *error_text(struct imap_parser *p)
{
	const char *tag, *code, *text;
	bool bad;
	char *r;

	imap_parser_error(p, &tag, &bad, &code, &text);
	if (code)
		r = must_asprintf("%s %s [%s] %s", *tag ? tag : "*", bad ? "BAD" : "NO", code, text);
	else
		r = must_asprintf("%s %s %s", *tag ? tag : "*", bad ? "BAD" : "NO", text);
	return r;
}

struct line_case {
	const char *in;
	const char *out;   /* command text, or the error reply */
};

static const struct line_case ok_cases[] = {
	{ "a1 NOOP", "a1 NOOP" },
	{ "a1 noop", "a1 NOOP" },
	{ "A01 LOGIN alice secret", "A01 LOGIN alice secret" },
	{ "A01 LOGIN \"alice\" \"se\\\"c\\\\ret\"", "A01 LOGIN \"alice\" \"se\"c\\ret\"" },
	{ "t UID FETCH 1:* (FLAGS)", "t UID FETCH 1:* (FLAGS)" },
	{ "t FETCH 1 (BODY[HEADER.FIELDS (FROM TO)]<0.100> UID)",
	  "t FETCH 1 (BODY[HEADER.FIELDS (FROM TO)]<0.100> UID)" },
	{ "t FETCH 2 BODY.PEEK[]", "t FETCH 2 BODY.PEEK[]" },
	{ "t LIST \"\" *", "t LIST \"\" *" },
	{ "t LIST \"\" %", "t LIST \"\" %" },
	{ "t X NIL () (())", "t X NIL () (())" },
	{ "t X (\\Seen \\Flagged $Junk)", "t X (\\Seen \\Flagged $Junk)" },
	{ "t X \"\"", "t X \"\"" },
	{ "t ID (\"name\" \"Thunderbird\" \"version\" NIL)", "t ID (\"name\" \"Thunderbird\" \"version\" NIL)" },
	{ "a]b NOOP", "a]b NOOP" },                       /* ']' is an ASTRING-CHAR */
	{ "t X caf\xc3\xa9", "t X caf\xc3\xa9" },          /* 8-bit atoms are kept */
	{ "t SEARCH UNDELETED", "t SEARCH UNDELETED" },
	{ "t UID SEARCH 1:3", "t UID SEARCH 1:3" },
};

static const struct line_case bad_cases[] = {
	{ "+tag NOOP", "* BAD Invalid tag" },
	{ "a+ NOOP", "* BAD Invalid tag" },
	{ "* NOOP", "* BAD Invalid tag" },
	{ "a{ NOOP", "* BAD Invalid tag" },
	{ " NOOP", "* BAD Invalid tag" },
	{ "a\"b NOOP", "* BAD Invalid tag" },
	{ "tag", "tag BAD Missing command name" },
	{ "tag ", "tag BAD Missing command name" },
	{ "tag FROB", "tag BAD Unknown command" },
	{ "tag UID NOOP", "tag BAD Unknown command" },
	{ "tag UID", "tag BAD Missing command name after UID" },
	{ "tag X (a b", "tag BAD [CLIENTBUG] Missing ')'" },
	{ "tag X a)", "tag BAD [CLIENTBUG] Unexpected ')'" },
	{ "tag X \"abc", "tag BAD Missing '\"'" },
	{ "tag X \"a\\bc\"", "tag BAD Invalid escape in a quoted string (only \\\\ and \\\" are allowed)" },
	{ "tag X BODY[HEADER", "tag BAD Missing ']'" },
	{ "tag X {5}x", "tag BAD Invalid literal" },
	{ "tag X {abc}", "tag BAD Invalid literal" },
	{ "tag X {99999999999999999999999}", "tag BAD [TOOBIG] Literal size is not a number we accept" },
	{ "tag X {300000}", "tag NO [TOOBIG] Literal too big (at most 262144 bytes per command here)" },
};

static void test_lines_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		struct imap_parser *p = new_parser(0);
		struct imap_parse_out out;
		enum imap_parse_result r = imap_parser_line(p, ok_cases[i].in, strlen(ok_cases[i].in), &out);

		if (r != IMAP_PARSE_DONE) {
			char *e = error_text(p);
			fail_msg("%s: expected a command, got %d: %s", ok_cases[i].in, r, e);
		}
		char *t = command_text(p);
		assert_string_equal(t, ok_cases[i].out);
		free(t);
		imap_parser_free(&p);
		assert_null(p);
	}
}

static void test_lines_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct imap_parser *p = new_parser(0);
		struct imap_parse_out out;
		enum imap_parse_result r = imap_parser_line(p, bad_cases[i].in, strlen(bad_cases[i].in), &out);

		if (r != IMAP_PARSE_ERROR)
			fail_msg("%s: expected an error, got %d", bad_cases[i].in, r);
		char *e = error_text(p);
		assert_string_equal(e, bad_cases[i].out);
		free(e);
		/* the parser is ready for the next command */
		assert_int_equal(imap_parser_line(p, "n NOOP", 6, &out), IMAP_PARSE_DONE);
		imap_parser_free(&p);
	}
}

static void test_empty_line_ignored(void **state)
{
	struct imap_parser *p = new_parser(0);
	struct imap_parse_out out;

	(void)state;
	assert_int_equal(imap_parser_line(p, "", 0, &out), IMAP_PARSE_IGNORE);
	assert_int_equal(out.discard, 0);
	imap_parser_free(&p);
}

static void test_nul_in_line(void **state)
{
	struct imap_parser *p = new_parser(0);
	struct imap_parse_out out;
	char *e;

	(void)state;
	assert_int_equal(imap_parser_line(p, "t X a\0b", 7, &out), IMAP_PARSE_ERROR);
	e = error_text(p);
	assert_string_equal(e, "t BAD NUL byte in the command");
	free(e);
	imap_parser_free(&p);
}

static void test_literals(void **state)
{
	struct imap_parser *p = new_parser(0);
	struct imap_parse_out out;
	char *t;

	(void)state;
	/* synchronizing: the session sends "+ OK", then the bytes */
	assert_int_equal(imap_parser_line(p, "a LOGIN {5}", 11, &out), IMAP_PARSE_LITERAL);
	assert_int_equal(out.literal_size, 5);
	assert_true(out.literal_sync);
	assert_int_equal(imap_parser_literal(p, "al", 2), 0);
	assert_int_equal(imap_parser_literal(p, "ice", 3), 0);
	/* LITERAL+ */
	assert_int_equal(imap_parser_line(p, " {3+}", 5, &out), IMAP_PARSE_LITERAL);
	assert_int_equal(out.literal_size, 3);
	assert_false(out.literal_sync);
	assert_int_equal(imap_parser_literal(p, "p\0w", 3), 0);
	assert_int_equal(imap_parser_line(p, "", 0, &out), IMAP_PARSE_DONE);
	t = command_text(p);
	assert_memory_equal(t, "a LOGIN {5}alice {3}p\0w", 23);
	free(t);
	/* a literal with a NUL is not an astring */
	const struct imap_arg *args;
	const char *tag, *name;
	bool uid;
	size_t n;
	imap_parser_command(p, &tag, &name, &uid, &args, &n);
	assert_int_equal(n, 2);
	assert_string_equal(imap_arg_astring(&args[0]), "alice");
	assert_null(imap_arg_astring(&args[1]));
	/* an empty literal and a literal inside a list */
	assert_int_equal(imap_parser_line(p, "b X ({0}", 8, &out), IMAP_PARSE_LITERAL);
	assert_int_equal(out.literal_size, 0);
	assert_int_equal(imap_parser_line(p, " x)", 3, &out), IMAP_PARSE_DONE);
	t = command_text(p);
	assert_string_equal(t, "b X ({0} x)");
	free(t);
	/* literal8 */
	assert_int_equal(imap_parser_line(p, "c X ~{2}", 8, &out), IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p, "ab", 2), 0);
	assert_int_equal(imap_parser_line(p, "", 0, &out), IMAP_PARSE_DONE);
	imap_parser_command(p, &tag, &name, &uid, &args, &n);
	assert_true(args[0].literal8);
	/* more bytes than announced are refused */
	assert_int_equal(imap_parser_line(p, "d X {1}", 7, &out), IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p, "ab", 2), -1);
	imap_parser_free(&p);
}

static void test_literal_budget(void **state)
{
	struct imap_parser *p = new_parser(0);
	struct imap_parse_out out;
	char *e;

	(void)state;
	/* the budget is per command, over all its literals */
	assert_int_equal(imap_parser_line(p, "a X {200000+}", 13, &out), IMAP_PARSE_LITERAL);
	char *big = calloc(1, 200000);
	assert_non_null(big);
	assert_int_equal(imap_parser_literal(p, big, 200000), 0);
	free(big);
	/* the second one would exceed it: refused, and being LITERAL+ it
	 * must still be read and dropped */
	assert_int_equal(imap_parser_line(p, " {100000+}", 10, &out), IMAP_PARSE_ERROR);
	assert_int_equal(out.discard, 100000);
	e = error_text(p);
	assert_string_equal(e, "a NO [TOOBIG] Literal too big (at most 262144 bytes per command here)");
	free(e);
	/* the rest of the command is skipped, including a further LITERAL+ */
	assert_int_equal(imap_parser_line(p, " more {7+}", 10, &out), IMAP_PARSE_IGNORE);
	assert_int_equal(out.discard, 7);
	assert_int_equal(imap_parser_line(p, " end", 4, &out), IMAP_PARSE_IGNORE);
	assert_int_equal(out.discard, 0);
	/* and the next command parses */
	assert_int_equal(imap_parser_line(p, "b NOOP", 6, &out), IMAP_PARSE_DONE);
	/* a synchronizing one that is too big: nothing to discard */
	assert_int_equal(imap_parser_line(p, "c X {300000}", 12, &out), IMAP_PARSE_ERROR);
	assert_int_equal(out.discard, 0);
	assert_int_equal(imap_parser_line(p, "d NOOP", 6, &out), IMAP_PARSE_DONE);
	assert_true(imap_parser_memory(p) < 300000);
	imap_parser_free(&p);
}

static void test_append_spool(void **state)
{
	struct imap_parser *p = new_parser(1000000);
	struct imap_parse_out out;
	const struct imap_arg *args;
	const char *tag, *name;
	bool uid;
	size_t n, size = 100000;
	char *msg = malloc(size), buf[16];

	(void)state;
	assert_non_null(msg);
	for (size_t i = 0; i < size; i++)
		msg[i] = (char)('a' + i % 26);
	assert_int_equal(imap_parser_line(p, "a APPEND INBOX (\\Seen) {100000}", 31, &out), IMAP_PARSE_LITERAL);
	assert_true(out.literal_sync);
	for (size_t off = 0; off < size; off += 16384)
		assert_int_equal(imap_parser_literal(p, msg + off, size - off < 16384 ? size - off : 16384), 0);
	/* the message never was in memory */
	assert_true(imap_parser_memory(p) < 20000);
	assert_int_equal(imap_parser_line(p, "", 0, &out), IMAP_PARSE_DONE);
	imap_parser_command(p, &tag, &name, &uid, &args, &n);
	assert_int_equal(n, 3);
	assert_int_equal(args[2].type, IMAP_ARG_LITERAL_FD);
	assert_int_equal(args[2].len, size);
	assert_true(args[2].fd >= 0);
	assert_int_equal(lseek(args[2].fd, 0, SEEK_CUR), 0);
	assert_int_equal(read(args[2].fd, buf, 16), 16);
	assert_memory_equal(buf, msg, 16);
	/* a small APPEND stays in memory */
	assert_int_equal(imap_parser_line(p, "b APPEND INBOX {3}", 18, &out), IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p, "abc", 3), 0);
	assert_int_equal(imap_parser_line(p, "", 0, &out), IMAP_PARSE_DONE);
	imap_parser_command(p, &tag, &name, &uid, &args, &n);
	assert_int_equal(args[1].type, IMAP_ARG_LITERAL);
	/* over imap_literal_size_limit: refused before a byte is read */
	assert_int_equal(imap_parser_line(p, "c APPEND INBOX {2000000}", 24, &out), IMAP_PARSE_ERROR);
	assert_int_equal(out.discard, 0);
	char *e = error_text(p);
	assert_string_equal(e, "c NO [TOOBIG] Message too big (the limit is 1000000 bytes)");
	free(e);
	assert_int_equal(imap_parser_line(p, "d APPEND INBOX {2000000+}", 25, &out), IMAP_PARSE_ERROR);
	assert_int_equal(out.discard, 2000000);
	assert_int_equal(imap_parser_line(p, "", 0, &out), IMAP_PARSE_IGNORE);
	assert_int_equal(imap_parser_line(p, "e NOOP", 6, &out), IMAP_PARSE_DONE);
	free(msg);
	imap_parser_free(&p);
}

static void test_depth(void **state)
{
	struct imap_parser *p = new_parser(0);
	struct imap_parse_out out;
	char line[20100];
	char *e, *t;
	size_t n;

	(void)state;
	/* exactly the limit is fine */
	n = (size_t)snprintf(line, sizeof(line), "a X ");
	for (int i = 0; i < IMAP_MAX_DEPTH; i++)
		line[n++] = '(';
	for (int i = 0; i < IMAP_MAX_DEPTH; i++)
		line[n++] = ')';
	assert_int_equal(imap_parser_line(p, line, n, &out), IMAP_PARSE_DONE);
	t = command_text(p);
	assert_int_equal(strlen(t), 4 + 2 * IMAP_MAX_DEPTH);
	free(t);
	/* 10,000 levels: refused at the limit, no recursion */
	n = (size_t)snprintf(line, sizeof(line), "b X ");
	for (int i = 0; i < 10000; i++)
		line[n++] = '(';
	for (int i = 0; i < 10000; i++)
		line[n++] = ')';
	assert_int_equal(imap_parser_line(p, line, n, &out), IMAP_PARSE_ERROR);
	e = error_text(p);
	assert_string_equal(e, "b BAD [CLIENTBUG] Too deep nesting");
	free(e);
	assert_int_equal(imap_parser_line(p, "c NOOP", 6, &out), IMAP_PARSE_DONE);
	imap_parser_free(&p);
}

static void test_too_many_args(void **state)
{
	struct imap_parser *p = new_parser(0);
	struct imap_parse_out out;
	size_t cap = 2 * (IMAP_MAX_ARGS + 10) + 10, n;
	char *line = malloc(cap), *e;

	(void)state;
	assert_non_null(line);
	n = (size_t)snprintf(line, cap, "a X");
	for (int i = 0; i < IMAP_MAX_ARGS + 5; i++) {
		line[n++] = ' ';
		line[n++] = 'x';
	}
	assert_int_equal(imap_parser_line(p, line, n, &out), IMAP_PARSE_ERROR);
	e = error_text(p);
	assert_string_equal(e, "a BAD [LIMIT] Too many arguments");
	free(e);
	free(line);
	imap_parser_free(&p);
}

static void test_arg_helpers(void **state)
{
	struct imap_parser *p = new_parser(0);
	struct imap_parse_out out;
	const struct imap_arg *args;
	const char *tag, *name;
	bool uid;
	size_t n;

	(void)state;
	assert_int_equal(imap_parser_line(p, "a X nil \"NIL\" atom (l)", 22, &out), IMAP_PARSE_DONE);
	imap_parser_command(p, &tag, &name, &uid, &args, &n);
	assert_int_equal(n, 4);
	assert_true(imap_arg_is_nil(&args[0]));
	assert_false(imap_arg_is_nil(&args[1]));     /* a string is never NIL */
	assert_true(imap_arg_is_atom(&args[2], "ATOM"));
	assert_null(imap_arg_astring(&args[3]));
	assert_string_equal(imap_arg_astring(&args[1]), "NIL");
	imap_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_ok),
		cmocka_unit_test(test_lines_bad),
		cmocka_unit_test(test_empty_line_ignored),
		cmocka_unit_test(test_nul_in_line),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_literal_budget),
		cmocka_unit_test(test_append_spool),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_too_many_args),
		cmocka_unit_test(test_arg_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
